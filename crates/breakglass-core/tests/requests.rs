//! Scenario tests of access requests in the core: policies and entitlements, requests and their
//! approvals, escalation, overrides, lapses, grants, extensions and emergency reviews. Commands
//! run against a `State` with a manual clock (the shared `World` of `common`); the tests assert on
//! error kinds and codes, request states, bindings (source, emergency flag, expiry), check
//! decisions and the audit events.
//!
//! Delegation and API tokens reach the core as the same `Actor::User` as the person behind them,
//! so the rule "nobody approves their own request" tested here for `Actor::User` covers those
//! paths too: the core never sees how the actor authenticated.

mod common;
use common::*;

use breakglass_core::access::{
    self, AccessRequest, ApproverSet, Policy, RequestState, Review, ReviewOutcome, Step,
};
use breakglass_core::audit::ChainVerifier;
use breakglass_core::cmd::members::{self, Assigned, NewGrant, SetMember};
use breakglass_core::cmd::policies::{self, PolicyInput, SetEntitlement};
use breakglass_core::cmd::requests::{self, NewRequest, Task};
use breakglass_core::ident::{PolicyId, RequestId, ReviewId, UserId};
use breakglass_core::model::{Binding, BindingSource, Target, UserStatus};
use breakglass_core::role::Role;
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Actor, Change, DomainError};
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harness: request commands on top of the shared World
// ---------------------------------------------------------------------------------------------

const WHY: &str = "INC-1234: deployments are stuck";

/// An expected outcome: success, or the error's kind (which decides the HTTP status) and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Ok,
    Invalid(&'static str),
    NotFound(&'static str),
    Forbidden(&'static str),
    Conflict(&'static str),
    Rule(&'static str),
}

fn want<T>(r: &Result<T, DomainError>) -> Want {
    match r {
        Ok(_) => Want::Ok,
        Err(DomainError::Invalid { code, .. }) => Want::Invalid(code),
        Err(DomainError::NotFound { code, .. }) => Want::NotFound(code),
        Err(DomainError::Forbidden { code, .. }) => Want::Forbidden(code),
        Err(DomainError::Conflict { code, .. }) => Want::Conflict(code),
        Err(DomainError::Rule { code, .. }) => Want::Rule(code),
    }
}

const NOT_AN_APPROVER: Want = Want::Forbidden("request.not_an_approver");
const SELF_APPROVAL: Want = Want::Forbidden("request.self_approval");
const FORBIDDEN: Want = Want::Forbidden("authz.forbidden");
const NOT_PENDING: Want = Want::Conflict("request.not_pending");
const ALREADY_APPROVED: Want = Want::Conflict("request.already_approved");

#[track_caller]
fn err<T>(r: Res<T>) -> DomainError {
    match r {
        Ok(_) => panic!("expected an error, got success"),
        Err(e) => e,
    }
}

fn step(approvers: ApproverSet, count: u32) -> Step {
    Step { approvers, count }
}

fn managers(count: u32) -> Step {
    step(ApproverSet::WorkspaceManagers, count)
}

/// A policy that requires a justification.
fn policy(
    label: &str,
    workspace: Option<&str>,
    steps: Vec<Step>,
    max: Option<Span>,
    ttl: Span,
) -> PolicyInput {
    PolicyInput {
        name: name(label),
        workspace: workspace.map(slug),
        steps,
        max_duration: max,
        justification_required: true,
        pending_ttl: ttl,
    }
}

fn web() -> Target {
    proj("team-a", "web")
}

fn api() -> Target {
    proj("team-a", "api")
}

fn admin() -> Role {
    prole("admin")
}

impl World {
    fn new_policy(&mut self, by: &str, input: PolicyInput) -> Res<PolicyId> {
        self.as_user(by, move |s, c| policies::create_policy(s, c, input))
    }

    /// Creates a team-a policy as its owner, olivia.
    fn team_policy(&mut self, label: &str, steps: Vec<Step>, max: Option<Span>, ttl: Span) -> PolicyId {
        ok(self.new_policy("olivia@corp.io", policy(label, Some("team-a"), steps, max, ttl))).value
    }

    fn entitle(
        &mut self,
        by: &str,
        target: &Target,
        role: Role,
        request_policy: Option<PolicyId>,
        emergency_policy: Option<PolicyId>,
    ) -> Res<()> {
        let cmd = SetEntitlement {
            target: target.clone(),
            role,
            request_policy,
            emergency_enabled: emergency_policy.is_some(),
            emergency_policy,
        };
        self.as_user(by, move |s, c| policies::set_entitlement(s, c, cmd))
    }

    /// Sets an entitlement of team-a as its owner, olivia.
    fn govern(
        &mut self,
        target: &Target,
        role: Role,
        request: Option<PolicyId>,
        emergency: Option<PolicyId>,
    ) {
        ok(self.entitle("olivia@corp.io", target, role, request, emergency));
    }

    fn request_with(&mut self, who: &str, new: NewRequest) -> Res<RequestId> {
        self.as_user(who, move |s, c| requests::create_request(s, c, new))
    }

    fn request(
        &mut self,
        who: &str,
        target: &Target,
        role: Role,
        duration: Span,
        emergency: bool,
    ) -> Res<RequestId> {
        let new =
            NewRequest { target: target.clone(), role, duration, justification: Some(WHY.into()), emergency };
        self.request_with(who, new)
    }

    /// A normal request that must open.
    fn ask(&mut self, who: &str, target: &Target, role: Role, duration: Span) -> RequestId {
        ok(self.request(who, target, role, duration, false)).value
    }

    fn approve(&mut self, by: &str, id: RequestId) -> Res<()> {
        self.as_user(by, move |s, c| requests::approve(s, c, id, false))
    }

    fn override_approve(&mut self, by: &str, id: RequestId) -> Res<()> {
        self.as_user(by, move |s, c| requests::approve(s, c, id, true))
    }

    fn deny(&mut self, by: &str, id: RequestId, reason: &str) -> Res<()> {
        let reason = reason.to_owned();
        self.as_user(by, move |s, c| requests::deny(s, c, id, reason))
    }

    fn cancel(&mut self, by: &str, id: RequestId) -> Res<()> {
        self.as_user(by, move |s, c| requests::cancel(s, c, id))
    }

    fn escalate(&mut self, by: &str, id: RequestId) -> Res<()> {
        self.as_user(by, move |s, c| requests::escalate(s, c, id))
    }

    fn complete_review(
        &mut self,
        by: &str,
        id: ReviewId,
        outcome: ReviewOutcome,
        notes: Option<&str>,
    ) -> Res<()> {
        let notes = notes.map(str::to_owned);
        self.as_user(by, move |s, c| requests::complete_review(s, c, id, outcome, notes))
    }

    fn record_lapses(&mut self, max: usize) -> Done<()> {
        ok(self.system(move |s, c| Ok(requests::record_lapses(s, c, max))))
    }

    /// A temporary grant by `by`; under a policy that needs more, it becomes a request.
    fn assign_grant(
        &mut self,
        by: &str,
        target: &Target,
        who: &str,
        role: Role,
        until: Timestamp,
    ) -> Res<Assigned> {
        let cmd = NewGrant {
            target: target.clone(),
            email: email(who),
            role,
            expires_at: until,
            reason: Some(WHY.into()),
        };
        self.as_user(by, move |s, c| members::grant(s, c, cmd))
    }

    /// A direct membership set by `by`; returns the request it became, if it became one.
    fn assign_member(
        &mut self,
        by: &str,
        target: &Target,
        who: &str,
        role: Role,
        expires_at: Option<Timestamp>,
        justification: Option<&str>,
    ) -> Res<Option<RequestId>> {
        let cmd = SetMember {
            target: target.clone(),
            email: email(who),
            role,
            expires_at,
            justification: justification.map(str::to_owned),
        };
        self.as_user(by, move |s, c| {
            members::set_member(s, c, cmd).map(|ch| {
                let opened = members::opened_request(&ch);
                (ch, opened)
            })
        })
    }

    fn req(&self, id: RequestId) -> &AccessRequest {
        self.state.request(id).expect("the request exists")
    }

    fn state_of(&self, id: RequestId) -> RequestState {
        self.req(id).state
    }

    /// The binding a granted request created or extended.
    fn binding_of(&self, id: RequestId) -> &Binding {
        let b = self.req(id).binding.expect("a granted request names its binding");
        self.state.binding(b).expect("the binding is live")
    }

    fn review_of(&self, id: RequestId) -> &Review {
        let mut found: Vec<&Review> = self.state.reviews().filter(|r| r.request == id).collect();
        assert_eq!(found.len(), 1, "one review per emergency grant");
        found.pop().unwrap()
    }

    fn tasks(&self, who: &str) -> Vec<Task> {
        requests::tasks(&self.state, &self.read_ctx(who, Default::default())).unwrap()
    }

    fn task_ids(&self, who: &str) -> Vec<RequestId> {
        self.tasks(who).into_iter().map(|t| t.request).collect()
    }

    fn unreachable(&self, id: RequestId) -> bool {
        access::quorum_unreachable(&self.state, self.req(id), self.now)
    }

    fn count(&self, event_type: &str) -> usize {
        self.log.iter().filter(|e| e.event_type == event_type).count()
    }

    /// (approver e-mail, 0-based step, override) of each approval, in order.
    fn approvals(&self, id: RequestId) -> Vec<(String, u32, bool)> {
        self.req(id)
            .approvals
            .iter()
            .map(|a| (self.state.user(a.by).unwrap().email.to_string(), a.step, a.is_override))
            .collect()
    }

    fn bindings(&self, who: &str, target: &Target, role: Role) -> Vec<&Binding> {
        self.state.bindings_of_user(self.id(who)).filter(|b| &b.target == target && b.role == role).collect()
    }

    fn disable(&mut self, who: &str) {
        let mut u = self.state.user(self.id(who)).unwrap().clone();
        u.status = UserStatus::Disabled;
        self.state.apply(&Change::CreateUser { user: u, password_hash: None });
    }
}

fn appr(who: &str, step: u32, is_override: bool) -> (String, u32, bool) {
    (who.to_owned(), step, is_override)
}

// ---------------------------------------------------------------------------------------------
// Policies and entitlements
// ---------------------------------------------------------------------------------------------

#[test]
fn policies_and_entitlements_are_set_by_admins_and_workspace_owners() {
    let mut w = World::team();
    let four =
        |ws: Option<&str>| policy("four eyes", ws, vec![managers(2)], Some(Span::hours(8)), Span::days(1));
    let rows: &[(&str, &str, Option<&str>, Want)] = &[
        ("admin, installation-wide", "admin@corp.io", None, Want::Ok),
        ("employee, installation-wide", "emp@corp.io", None, FORBIDDEN),
        ("owner, installation-wide", "olivia@corp.io", None, FORBIDDEN),
        ("owner, own workspace", "olivia@corp.io", Some("team-a"), Want::Ok),
        ("admin, a workspace", "admin@corp.io", Some("team-a"), Want::Ok),
        ("employee, a workspace", "emp@corp.io", Some("team-a"), FORBIDDEN),
        ("manager", "mia@corp.io", Some("team-a"), FORBIDDEN),
        ("member", "max@corp.io", Some("team-a"), FORBIDDEN),
        ("auditor", "aud@corp.io", Some("team-a"), FORBIDDEN),
        (
            "owner of another workspace",
            "bella@corp.io",
            Some("team-a"),
            Want::NotFound("workspace.not_found"),
        ),
        ("outsider", "otto@corp.io", Some("team-a"), Want::NotFound("workspace.not_found")),
    ];
    let mut created = Vec::new();
    for (label, by, scope, expected) in rows {
        let before = w.log.len();
        let r = w.new_policy(by, four(*scope));
        assert_eq!(want(&r), *expected, "{label}");
        match r {
            Ok(d) => {
                assert_eq!(d.types(), ["POLICY_CREATED"], "{label}");
                let p = w.state.policy(d.value).expect("stored");
                assert_eq!(p.steps, [managers(2)]);
                assert_eq!(p.workspace.as_ref().map(|s| s.as_str()), *scope);
                let details = &d.events[0].details;
                assert_eq!(
                    details["steps"],
                    json!([{"approvers": "workspace_managers", "users": [], "count": 2}])
                );
                assert_eq!(details["max_duration"], "8h");
                assert_eq!(d.events[0].workspace.as_deref(), *scope);
                created.push(d.value);
            }
            Err(_) => assert_eq!(w.log.len(), before, "{label}: a refused command records nothing"),
        }
    }
    assert_eq!(created.len(), 3);

    // Steps are validated.
    let ghost = UserId(Uuid::from_u128(0x9405));
    let bad: Vec<(&str, Vec<Step>, Want)> = vec![
        ("no approvals", vec![managers(0)], Want::Invalid("policy.invalid")),
        ("too many approvals", vec![managers(51)], Want::Invalid("policy.invalid")),
        ("nobody named", vec![step(ApproverSet::Users(vec![]), 1)], Want::Invalid("policy.invalid")),
        (
            "unknown user",
            vec![step(ApproverSet::Users(vec![ghost]), 1)],
            Want::Rule("policy.unknown_approver"),
        ),
        ("too many steps", (0..11).map(|_| managers(1)).collect(), Want::Invalid("policy.invalid")),
        ("ten steps are fine", (0..10).map(|_| managers(1)).collect(), Want::Ok),
    ];
    for (label, steps, expected) in bad {
        let r = w.new_policy("admin@corp.io", policy(label, None, steps, None, Span::days(1)));
        assert_eq!(want(&r), expected, "{label}");
    }

    // Entitlements: the owner (or an admin) picks the policies of each role.
    let team_a = created[1];
    let b_policy = ok(w.new_policy("bella@corp.io", four(Some("team-b")))).value;
    // (label, by, target, role, request policy, emergency enabled, emergency policy, outcome)
    type Row<'a> = (&'a str, &'a str, Target, Role, Option<PolicyId>, bool, Option<PolicyId>, Want);
    let rows: Vec<Row> = vec![
        ("manager", "mia@corp.io", web(), admin(), Some(team_a), false, None, FORBIDDEN),
        ("member", "max@corp.io", web(), admin(), Some(team_a), false, None, FORBIDDEN),
        (
            "emergency without a policy",
            "olivia@corp.io",
            web(),
            admin(),
            Some(team_a),
            true,
            None,
            Want::Invalid("entitlement.emergency_policy_required"),
        ),
        (
            "another workspace's policy",
            "admin@corp.io",
            web(),
            admin(),
            Some(b_policy),
            false,
            None,
            Want::Invalid("policy.wrong_workspace"),
        ),
        (
            "an invisible policy",
            "olivia@corp.io",
            web(),
            admin(),
            Some(b_policy),
            false,
            None,
            Want::NotFound("policy.not_found"),
        ),
        (
            "no such policy",
            "olivia@corp.io",
            web(),
            admin(),
            Some(PolicyId(Uuid::from_u128(5))),
            false,
            None,
            Want::NotFound("policy.not_found"),
        ),
        (
            "a workspace role on a project",
            "olivia@corp.io",
            web(),
            wrole("manager"),
            None,
            false,
            None,
            Want::Invalid("input.unknown_role"),
        ),
        (
            "no such project",
            "olivia@corp.io",
            proj("team-a", "nope"),
            admin(),
            None,
            false,
            None,
            Want::NotFound("project.not_found"),
        ),
        ("owner", "olivia@corp.io", web(), admin(), Some(team_a), true, Some(created[0]), Want::Ok),
        (
            "a workspace role",
            "admin@corp.io",
            ws("team-a"),
            wrole("owner"),
            Some(team_a),
            false,
            None,
            Want::Ok,
        ),
    ];
    for (label, by, target, role, request_policy, emergency_enabled, emergency_policy, expected) in rows {
        let cmd = SetEntitlement { target, role, request_policy, emergency_enabled, emergency_policy };
        let r = w.as_user(by, move |s, c| policies::set_entitlement(s, c, cmd));
        assert_eq!(want(&r), expected, "{label}");
    }
    let e =
        w.log.iter().rev().find(|e| e.event_type == "ENTITLEMENT_UPDATED" && e.project.is_some()).unwrap();
    assert_eq!(e.details["before"]["request_policy"], json!(null));
    assert_eq!(e.details["after"]["request_policy"], team_a.to_string());
    assert_eq!(e.details["after"]["emergency_enabled"], true);
    // Setting the same again changes nothing and records nothing.
    let again = ok(w.entitle("olivia@corp.io", &web(), admin(), Some(team_a), Some(created[0])));
    assert!(again.changes.is_empty() && again.events.is_empty());

    // The effective policies follow the entitlement.
    let normal = policies::effective_policy(&w.state, &web(), admin(), false).unwrap();
    assert_eq!(normal.id, team_a);
    assert_eq!(policies::effective_policy(&w.state, &web(), admin(), true).unwrap().id, created[0]);

    // A policy's workspace never changes; an unchanged update records nothing.
    let r = w.as_user("admin@corp.io", move |s, c| policies::update_policy(s, c, team_a, four(None)));
    assert_eq!(want(&r), Want::Invalid("policy.scope_immutable"));
    let same =
        ok(w.as_user("olivia@corp.io", move |s, c| {
            policies::update_policy(s, c, team_a, four(Some("team-a")))
        }));
    assert!(same.events.is_empty());
    let r = w.as_user("mia@corp.io", move |s, c| policies::update_policy(s, c, team_a, four(Some("team-a"))));
    assert_eq!(want(&r), FORBIDDEN);
}

#[test]
fn the_installation_default_applies_where_nothing_is_set() {
    let mut w = World::team();
    let normal = policies::effective_policy(&w.state, &web(), admin(), false).unwrap();
    assert_eq!(normal, Policy::installation_default());
    assert_eq!(normal.steps, [managers(1)], "one approval from the workspace's managers");
    for (target, role) in [(web(), admin()), (ws("team-a"), wrole("manager"))] {
        let e = policies::effective_policy(&w.state, &target, role, true).unwrap_err();
        assert_eq!(e.code(), "request.emergency_disabled", "emergency is off by default");
        let r = w.request("mo@corp.io", &target, role, Span::hours(1), true);
        assert_eq!(want(&r), Want::Rule("request.emergency_disabled"));
    }
    assert_eq!(w.count("ACCESS_REQUESTED"), 0);

    let d = ok(w.request("mo@corp.io", &web(), admin(), Span::hours(2), false));
    let id = d.value;
    assert_eq!(d.types(), ["ACCESS_REQUESTED"]);
    let e = &d.events[0];
    assert_eq!((e.actor.as_str(), e.subject.as_deref()), ("mo@corp.io", Some("mo@corp.io")));
    assert_eq!((e.workspace.as_deref(), e.project.as_deref()), (Some("team-a"), Some("web")));
    assert_eq!(e.details["request_id"], id.to_string());
    assert_eq!(e.details["duration"], "2h");
    assert_eq!(e.details["emergency"], false);
    assert_eq!(e.details["assigned_by_manager"], false);
    assert_eq!(e.details["policy"]["name"], "installation default");
    assert_eq!(e.details["justification"], WHY);
    assert_eq!(w.state_of(id), RequestState::Pending);
    assert!(!w.check("mo@corp.io", &web(), admin()).allowed, "nothing is granted before the approval");

    w.advance(Span::minutes(30));
    let d = ok(w.approve("mia@corp.io", id));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    assert_eq!(d.events[0].details["step"], 1);
    assert_eq!(d.events[0].details["override"], false);
    assert_eq!(d.events[0].details["approver"], "mia@corp.io");
    let granted = &d.events[1].details;
    assert_eq!(granted["emergency"], false);
    assert_eq!(granted["extended"], false);
    let r = w.req(id);
    assert_eq!(r.state, RequestState::Granted);
    assert_eq!((r.decided_at, r.decided_by), (Some(w.now), Some(w.id("mia@corp.io"))));
    let b = w.binding_of(id);
    assert_eq!(b.source, BindingSource::Request(id));
    assert!(!b.source.is_emergency());
    assert_eq!((b.starts_at, b.expires_at), (w.now, Some(w.now.plus(Span::hours(2)))));
    assert_eq!(b.reason, None, "the justification stays with the request, not on the binding members see");
    assert_eq!(granted["binding_id"], b.id.to_string());
    assert_eq!(granted["expires_at"], w.now.plus(Span::hours(2)).to_rfc3339());
    let c = w.check("mo@corp.io", &web(), prole("user"));
    assert!(c.allowed);
    assert_eq!(c.via[0].source, BindingSource::Request(id));

    // Workspace roles are entitlements too.
    let id = w.ask("max@corp.io", &ws("team-a"), wrole("manager"), Span::hours(1));
    assert_eq!(
        want(&w.approve("mo@corp.io", id)),
        Want::NotFound("request.not_found"),
        "a member sees nothing"
    );
    ok(w.approve("olivia@corp.io", id));
    let c = w.check("max@corp.io", &ws("team-a"), wrole("manager"));
    assert!(c.allowed);
    assert_eq!(c.via[0].source, BindingSource::Request(id));
}

#[test]
fn durations_start_at_the_grant_and_never_exceed_the_maximum() {
    let mut w = World::team();
    let four_hours = w.team_policy("short", vec![managers(1)], Some(Span::hours(4)), Span::days(1));
    w.govern(&web(), admin(), Some(four_hours), None);

    let e = err(w.request("mo@corp.io", &web(), admin(), Span::hours(5), false));
    assert_eq!(want::<()>(&Err(e.clone())), Want::Rule("request.duration_exceeds_max"));
    assert!(e.to_string().contains("4h") && e.to_string().contains("short"), "names the maximum: {e}");

    let new = |justification: Option<&str>| NewRequest {
        target: web(),
        role: admin(),
        duration: Span::hours(4),
        justification: justification.map(str::to_owned),
        emergency: false,
    };
    let rows = [
        ("no justification", None, Want::Invalid("request.justification_required")),
        ("blank justification", Some("  \n "), Want::Invalid("request.justification_required")),
        ("control characters", Some("a\u{7}b"), Want::Invalid("input.invalid_text")),
    ];
    for (label, j, expected) in rows {
        assert_eq!(want(&w.request_with("mo@corp.io", new(j))), expected, "{label}");
    }
    let long = "x".repeat(requests::MAX_TEXT + 1);
    assert_eq!(want(&w.request_with("mo@corp.io", new(Some(&long)))), Want::Invalid("input.invalid_text"));
    assert_eq!(w.count("ACCESS_REQUESTED"), 0, "refused requests are not recorded");

    // Exactly the maximum is fine; the hours start when it is granted, not when asked.
    let asked = w.now;
    let id = ok(w.request_with("mo@corp.io", new(Some("  trimmed  ")))).value;
    assert_eq!(w.req(id).justification.as_deref(), Some("trimmed"));
    w.advance(Span::hours(3));
    ok(w.approve("mia@corp.io", id));
    let end = asked.plus(Span::hours(7));
    assert_eq!(w.binding_of(id).expires_at, Some(end));
    w.set_time(micros_before(end, 1));
    assert!(w.check("mo@corp.io", &web(), admin()).allowed);
    w.set_time(end);
    assert!(!w.check("mo@corp.io", &web(), admin()).allowed);

    // A policy without limits accepts long requests without a reason (up to the installation's
    // max_expiry, 366 days by default).
    let mut open = policy("open", Some("team-a"), vec![managers(1)], None, Span::days(1));
    open.justification_required = false;
    let open = ok(w.new_policy("olivia@corp.io", open)).value;
    w.govern(&api(), admin(), Some(open), None);
    let new = NewRequest {
        target: api(),
        role: admin(),
        duration: Span::days(366),
        justification: None,
        emergency: false,
    };
    let d = ok(w.request_with("mo@corp.io", new));
    assert_eq!(w.req(d.value).justification, None);
}

// ---------------------------------------------------------------------------------------------
// Approvals
// ---------------------------------------------------------------------------------------------

#[test]
fn ordered_steps_need_distinct_approvers_from_their_own_sets() {
    let mut w = World::team();
    let (mia, oscar) = (w.id("mia@corp.io"), w.id("oscar@corp.io"));
    let steps = vec![managers(2), step(ApproverSet::Users(vec![mia, oscar]), 1)];
    let p = w.team_policy("two steps", steps, Some(Span::hours(8)), Span::days(1));
    w.govern(&web(), admin(), Some(p), None);
    let id = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    assert_eq!(access::current_step(w.req(id)), Some(0));

    // (who, outcome, current step afterwards)
    let rows: &[(&str, Want, Option<usize>)] = &[
        ("oscar@corp.io", NOT_AN_APPROVER, Some(0)), // step 2's approver cannot jump ahead
        ("max@corp.io", Want::NotFound("request.not_found"), Some(0)), // a member does not see it
        ("aud@corp.io", NOT_AN_APPROVER, Some(0)),   // an auditor sees but never approves
        ("otto@corp.io", Want::NotFound("request.not_found"), Some(0)),
        ("ben@corp.io", Want::NotFound("request.not_found"), Some(0)),
        ("mia@corp.io", Want::Ok, Some(0)),
        ("mia@corp.io", ALREADY_APPROVED, Some(0)), // one person counts once
        ("mike@corp.io", Want::Ok, Some(1)),
        ("mia@corp.io", ALREADY_APPROVED, Some(1)), // in step 2's set, but already counted
        ("olivia@corp.io", NOT_AN_APPROVER, Some(1)), // a manager, but step 2 names its users
        ("oscar@corp.io", Want::Ok, None),
    ];
    for (i, (who, expected, next)) in rows.iter().enumerate() {
        let before = w.log.len();
        let r = w.approve(who, id);
        assert_eq!(want(&r), *expected, "row {i}: {who}");
        if *expected != Want::Ok {
            assert_eq!(w.log.len(), before, "row {i}: a refused approval records nothing");
        }
        assert_eq!(access::current_step(w.req(id)), *next, "row {i}: {who}");
    }
    assert_eq!(
        w.approvals(id),
        [appr("mia@corp.io", 0, false), appr("mike@corp.io", 0, false), appr("oscar@corp.io", 1, false)]
    );
    let approved: Vec<(i64, i64)> = w
        .log
        .iter()
        .filter(|e| e.event_type == "REQUEST_APPROVED")
        .map(|e| (e.details["step"].as_i64().unwrap(), e.details["steps"].as_i64().unwrap()))
        .collect();
    assert_eq!(approved, [(1, 2), (1, 2), (2, 2)]);
    assert_eq!(w.state_of(id), RequestState::Granted);
    assert_eq!(w.req(id).decided_by, Some(oscar));
    assert_eq!(w.count("ACCESS_GRANTED"), 1);
    assert_eq!(w.binding_of(id).source, BindingSource::Request(id));
}

#[test]
fn nobody_approves_their_own_request_through_any_path() {
    // Delegation and API tokens reach the core as the person themselves (`Actor::User`), so
    // the paths below cover them as well.
    let mut w = World::team();
    let p = w.team_policy("four eyes", vec![managers(2)], Some(Span::hours(8)), Span::days(1));
    for target in [web(), api()] {
        w.govern(&target, admin(), Some(p), None);
    }

    // 1. The requester approves, overrides or denies their own request directly.
    let id = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    assert_eq!(want(&w.approve("mo@corp.io", id)), SELF_APPROVAL);
    assert_eq!(want(&w.override_approve("mo@corp.io", id)), SELF_APPROVAL);
    assert_eq!(want(&w.deny("mo@corp.io", id, "changed my mind")), SELF_APPROVAL);
    assert!(w.req(id).approvals.is_empty());

    // 2. The admin area overrides anything but its own requests.
    for (who, other) in [("admin@corp.io", "emp@corp.io"), ("emp@corp.io", "admin@corp.io")] {
        let id = w.ask(who, &web(), admin(), Span::hours(1));
        assert_eq!(want(&w.override_approve(who, id)), SELF_APPROVAL, "{who}");
        assert_eq!(want(&w.approve(who, id)), SELF_APPROVAL, "{who}");
        assert!(w.tasks(who).iter().all(|t| t.request != id), "{who}: not a task of its requester");
        let d = ok(w.override_approve(other, id));
        assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
        assert_eq!(w.approvals(id), [appr(other, 0, true)]);
    }

    // 3. A requester who is a manager (or the owner) is not an approver of their own request.
    for who in ["mia@corp.io", "olivia@corp.io"] {
        let id = w.ask(who, &web(), admin(), Span::hours(1));
        assert_eq!(want(&w.approve(who, id)), SELF_APPROVAL, "{who}");
        assert!(!w.task_ids(who).contains(&id), "{who}");
        let eligible = access::eligible_approvers(&w.state, w.req(id), 0, w.now);
        assert!(!eligible.contains(&w.id(who)), "{who} is not eligible for their own request");
        assert_eq!(eligible.len(), 2, "the two other managers of team-a");
    }

    // 4. A manager who assigns themselves a role under four eyes opens a request for
    // themselves: it carries no approval of theirs, through a grant or a membership.
    let until = w.now.plus(Span::hours(2));
    let d = ok(w.assign_grant("mike@corp.io", &web(), "mike@corp.io", admin(), until));
    let Assigned::Request(own) = d.value else { panic!("a self-assignment under four eyes is a request") };
    assert_eq!(d.types(), ["ACCESS_REQUESTED"], "no approval comes with it");
    assert_eq!(d.events[0].details["assigned_by_manager"], false);
    assert_eq!((w.req(own).user, w.req(own).created_by), (w.id("mike@corp.io"), w.id("mike@corp.io")));
    assert_eq!(want(&w.approve("mike@corp.io", own)), SELF_APPROVAL);
    ok(w.approve("mia@corp.io", own));
    assert_eq!(w.state_of(own), RequestState::Pending, "still one approval short");
    ok(w.approve("olivia@corp.io", own));
    assert_eq!(w.state_of(own), RequestState::Granted);
    assert_eq!(w.binding_of(own).source, BindingSource::Request(own));

    let r = w.assign_member("mia@corp.io", &api(), "mia@corp.io", admin(), Some(until), Some(WHY));
    let own_member = ok(r).value.expect("a manager's membership for themselves is a request too");
    assert!(w.req(own_member).approvals.is_empty());
    assert_eq!(want(&w.approve("mia@corp.io", own_member)), SELF_APPROVAL);
    ok(w.approve("mike@corp.io", own_member));
    assert_eq!(w.state_of(own_member), RequestState::Pending, "mike's is the first approval");
    ok(w.approve("olivia@corp.io", own_member));
    assert_eq!(w.binding_of(own_member).source, BindingSource::Request(own_member));

    // 5. A request a manager opened for someone else: that someone may not approve it, even
    // as a manager themselves.
    let d = ok(w.assign_grant("mia@corp.io", &api(), "mike@corp.io", admin(), until));
    let Assigned::Request(for_mike) = d.value else { panic!("four eyes: a request") };
    assert_eq!(d.types(), ["ACCESS_REQUESTED", "REQUEST_APPROVED"]);
    assert_eq!(w.approvals(for_mike), [appr("mia@corp.io", 0, false)]);
    assert_eq!(want(&w.approve("mike@corp.io", for_mike)), SELF_APPROVAL);
    assert_eq!(want(&w.approve("mia@corp.io", for_mike)), ALREADY_APPROVED);
    ok(w.approve("olivia@corp.io", for_mike));
    let b = w.binding_of(for_mike);
    assert_eq!((b.source, b.created_by), (BindingSource::Request(for_mike), Some(w.id("mia@corp.io"))));

    // Across everything above, no approval was ever given by the person it was for.
    for e in w.log.iter().filter(|e| e.event_type == "REQUEST_APPROVED") {
        assert_ne!(Some(e.actor.as_str()), e.subject.as_deref(), "event {}", e.seq);
    }
    for r in w.state.requests() {
        assert!(r.approvals.iter().all(|a| a.by != r.user), "request {}", r.id);
    }
}

#[test]
fn a_managers_assignment_under_four_eyes_becomes_a_request_with_their_approval() {
    let mut w = World::team();
    let p = w.team_policy("four eyes", vec![managers(2)], Some(Span::hours(8)), Span::days(1));
    w.govern(&web(), admin(), Some(p), None);
    let bindings = w.state.binding_count();

    // A temporary grant.
    let t0 = w.now;
    let d = ok(w.assign_grant("mia@corp.io", &web(), "max@corp.io", admin(), t0.plus(Span::hours(2))));
    let Assigned::Request(id) = d.value else { panic!("four eyes: a request") };
    assert_eq!(d.types(), ["ACCESS_REQUESTED", "REQUEST_APPROVED"]);
    assert_eq!(
        (d.events[0].actor.as_str(), d.events[0].subject.as_deref()),
        ("mia@corp.io", Some("max@corp.io"))
    );
    assert_eq!(d.events[0].details["assigned_by_manager"], true);
    assert_eq!(d.events[0].details["duration"], "2h");
    assert_eq!(d.events[1].actor, "mia@corp.io");
    assert_eq!(d.events[1].details["step"], 1);
    let r = w.req(id);
    assert_eq!((r.user, r.created_by), (w.id("max@corp.io"), w.id("mia@corp.io")));
    assert_eq!(r.justification.as_deref(), Some(WHY));
    assert_eq!(w.state.binding_count(), bindings, "no access yet");
    assert!(!w.check("max@corp.io", &web(), admin()).allowed);
    assert_eq!(want(&w.approve("mia@corp.io", id)), ALREADY_APPROVED);

    w.advance(Span::hours(1));
    let d = ok(w.approve("mike@corp.io", id));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    let b = w.binding_of(id);
    assert_eq!(b.source, BindingSource::Request(id));
    assert_eq!(b.created_by, Some(w.id("mia@corp.io")));
    assert_eq!(b.expires_at, Some(w.now.plus(Span::hours(2))), "the two hours count from the grant");

    // A membership: same rule, and the policy's requirements apply to it.
    let later = Some(w.now.plus(Span::hours(3)));
    let rows: Vec<(&str, Option<Timestamp>, Option<&str>, Want)> = vec![
        ("no justification", later, None, Want::Invalid("request.justification_required")),
        ("standing", None, Some(WHY), Want::Rule("request.duration_exceeds_max")),
        ("too long", Some(w.now.plus(Span::hours(9))), Some(WHY), Want::Rule("request.duration_exceeds_max")),
        ("ok", later, Some(WHY), Want::Ok),
        ("duplicate", later, Some(WHY), Want::Conflict("request.duplicate")),
    ];
    for (label, exp, j, expected) in rows {
        let r = w.assign_member("mia@corp.io", &web(), "mo@corp.io", admin(), exp, j);
        assert_eq!(want(&r), expected, "{label}");
        if let Ok(d) = r {
            let id = d.value.expect("a request");
            assert_eq!(d.types(), ["ACCESS_REQUESTED", "REQUEST_APPROVED"]);
            assert_eq!(w.approvals(id), [appr("mia@corp.io", 0, false)]);
        }
    }
    assert!(w.bindings("mo@corp.io", &web(), admin()).is_empty());

    // Direct as before: the admin area, lowering access already held, and a policy the
    // assigner's own approval completes (the default: one approval from the managers).
    let d = ok(w.assign_member("emp@corp.io", &web(), "oscar@corp.io", admin(), None, None));
    assert_eq!((d.value, d.types()), (None, vec!["PROJECT_USER_ASSIGNED"]));
    let d = ok(w.assign_member("mia@corp.io", &web(), "max@corp.io", prole("reader"), None, None));
    assert_eq!((d.value, d.types()), (None, vec!["PROJECT_USER_ASSIGNED"]), "max holds admin already");
    let d = ok(w.assign_member("mia@corp.io", &api(), "mo@corp.io", admin(), None, None));
    assert_eq!((d.value, d.types()), (None, vec!["PROJECT_USER_ASSIGNED"]));
    assert_eq!(w.bindings("mo@corp.io", &api(), admin())[0].source, BindingSource::Direct);

    // One approval, but not from the managers: the manager's assignment is not that approval.
    let admins_only = w.team_policy("admin area", vec![step(ApproverSet::AdminArea, 1)], None, Span::days(1));
    let olivia_only = w.team_policy(
        "olivia",
        vec![step(ApproverSet::Users(vec![w.id("olivia@corp.io")]), 1)],
        None,
        Span::days(1),
    );
    w.govern(&api(), prole("user"), Some(admins_only), None);
    w.govern(&api(), prole("reader"), Some(olivia_only), None);
    let until = w.now.plus(Span::hours(1));
    for (role, who, approver) in
        [(prole("user"), "max@corp.io", "emp@corp.io"), (prole("reader"), "oscar@corp.io", "olivia@corp.io")]
    {
        let d = ok(w.assign_grant("mia@corp.io", &api(), who, role, until));
        let Assigned::Request(id) = d.value else { panic!("{role}: mia is no approver of this policy") };
        assert_eq!(d.types(), ["ACCESS_REQUESTED"], "{role}: mia's approval does not count");
        assert!(!w.check(who, &api(), role).allowed);
        assert_eq!(want(&w.approve("mike@corp.io", id)), NOT_AN_APPROVER, "{role}");
        let d = ok(w.approve(approver, id));
        assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"], "{role}");
        assert_eq!(d.events[0].details["override"], false, "{role}: {approver} is in the set");
        assert_eq!(w.binding_of(id).source, BindingSource::Request(id));
    }
}

// ---------------------------------------------------------------------------------------------
// Escalation and emergency access
// ---------------------------------------------------------------------------------------------

#[test]
fn escalation_keeps_approvals_and_the_emergency_maximum_applies() {
    let mut w = World::team();
    let olivia = w.id("olivia@corp.io");
    let normal = w.team_policy(
        "normal",
        vec![managers(2), step(ApproverSet::Users(vec![olivia]), 1)],
        Some(Span::hours(8)),
        Span::days(2),
    );
    let emergency = w.team_policy("emergency", vec![managers(2)], Some(Span::hours(1)), Span::hours(1));
    w.govern(&web(), admin(), Some(normal), Some(emergency));

    let id = w.ask("mo@corp.io", &web(), admin(), Span::hours(6));
    ok(w.approve("mia@corp.io", id));
    w.advance(Span::minutes(10));
    let rows = [
        ("a manager", "mia@corp.io", FORBIDDEN),
        ("a fellow member", "max@corp.io", Want::NotFound("request.not_found")),
        ("the admin area", "emp@corp.io", FORBIDDEN),
        ("an outsider", "otto@corp.io", Want::NotFound("request.not_found")),
    ];
    for (label, who, expected) in rows {
        assert_eq!(want(&w.escalate(who, id)), expected, "{label} may not escalate");
    }
    assert!(!w.req(id).emergency);

    let d = ok(w.escalate("mo@corp.io", id));
    assert_eq!(d.types(), ["REQUEST_ESCALATED"], "still one approval short: pending");
    let details = &d.events[0].details;
    assert_eq!(details["approvals_kept"], json!(["mia@corp.io"]));
    assert_eq!((details["from_duration"].as_str(), details["duration"].as_str()), (Some("6h"), Some("1h")));
    assert_eq!(details["policy"]["name"], "emergency");
    assert_eq!(details["from_policy"]["name"], "normal");
    assert_eq!(details["emergency"], true);
    let r = w.req(id);
    assert!(r.emergency);
    assert_eq!(r.state, RequestState::Pending);
    assert_eq!(r.duration, Some(Span::hours(1)));
    assert_eq!(r.policy.id, emergency);
    assert_eq!((r.escalated_at, r.lapses_at), (Some(w.now), w.now.plus(Span::hours(1))));
    assert_eq!(w.approvals(id), [appr("mia@corp.io", 0, false)], "the approval already given counts");

    assert_eq!(want(&w.escalate("mo@corp.io", id)), Want::Conflict("request.already_emergency"));
    assert_eq!(want(&w.approve("mia@corp.io", id)), ALREADY_APPROVED);
    let d = ok(w.approve("mike@corp.io", id));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED"]);
    assert_eq!(d.events[1].details["emergency"], true);
    let b = w.binding_of(id);
    assert_eq!(b.source, BindingSource::Emergency(id));
    assert!(b.source.is_emergency());
    assert_eq!(b.expires_at, Some(w.now.plus(Span::hours(1))), "the emergency maximum");
    let review = w.review_of(id);
    assert_eq!((review.holder, review.binding, review.opened_at), (w.id("mo@corp.io"), b.id, w.now));
    assert!(review.is_open());
    let c = w.check("mo@corp.io", &web(), admin());
    assert_eq!(c.via[0].source, BindingSource::Emergency(id));

    // Approvals of people outside the emergency policy's sets do not carry over.
    let admins = w.team_policy(
        "admin area",
        vec![step(ApproverSet::AdminArea, 1)],
        Some(Span::hours(1)),
        Span::hours(1),
    );
    let four = w.team_policy("four eyes", vec![managers(2)], Some(Span::hours(8)), Span::days(1));
    w.govern(&api(), admin(), Some(four), Some(admins));
    let id = w.ask("mo@corp.io", &api(), admin(), Span::minutes(30));
    ok(w.approve("mia@corp.io", id));
    let d = ok(w.escalate("mo@corp.io", id));
    assert_eq!(d.events[0].details["approvals_kept"], json!([]));
    assert_eq!(d.events[0].details["duration"], "30m", "shorter than the maximum: unchanged");
    assert!(w.req(id).approvals.is_empty());
    assert_eq!(want(&w.approve("mike@corp.io", id)), NOT_AN_APPROVER);
    let d = ok(w.approve("emp@corp.io", id));
    assert_eq!(d.events[0].details["override"], false, "the admin area is this step's set");
    assert_eq!(w.binding_of(id).source, BindingSource::Emergency(id));

    // An emergency policy without steps grants at the escalation.
    let instant = w.team_policy("instant", vec![], Some(Span::minutes(15)), Span::hours(1));
    w.govern(&api(), prole("user"), None, Some(instant));
    let id = w.ask("max@corp.io", &api(), prole("user"), Span::hours(4));
    let d = ok(w.escalate("max@corp.io", id));
    assert_eq!(d.types(), ["REQUEST_ESCALATED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED"]);
    assert_eq!(w.binding_of(id).expires_at, Some(w.now.plus(Span::minutes(15))));

    // Escalation needs emergency access to be enabled.
    let id = w.ask("max@corp.io", &ws("team-a"), wrole("manager"), Span::hours(1));
    assert_eq!(want(&w.escalate("max@corp.io", id)), Want::Rule("request.emergency_disabled"));
    assert!(!w.req(id).emergency);

    // Only the person the request is for escalates it, not the manager who opened it for them.
    let d = ok(w.assign_grant("mia@corp.io", &web(), "max@corp.io", admin(), w.now.plus(Span::hours(1))));
    let Assigned::Request(id) = d.value else { panic!("four eyes: a request") };
    assert_eq!(want(&w.escalate("mia@corp.io", id)), FORBIDDEN);
    assert_eq!(w.state_of(id), RequestState::Pending);
    let d = ok(w.escalate("max@corp.io", id));
    assert_eq!(d.events[0].details["approvals_kept"], json!(["mia@corp.io"]));
}

#[test]
fn emergency_requests_are_granted_flagged_and_reviewed() {
    let mut w = World::team();
    // An installation-wide policy: no approval, at most an hour, a justification.
    let input = policy("break glass", None, vec![], Some(Span::hours(1)), Span::hours(1));
    let glass = ok(w.new_policy("admin@corp.io", input)).value;
    w.govern(&web(), admin(), None, Some(glass));

    let e = err(w.request("mo@corp.io", &web(), admin(), Span::hours(2), true));
    assert_eq!(e.code(), "request.duration_exceeds_max");
    assert!(e.to_string().contains("1h"), "{e}");
    let no_reason = NewRequest {
        target: web(),
        role: admin(),
        duration: Span::minutes(30),
        justification: None,
        emergency: true,
    };
    assert_eq!(
        want(&w.request_with("mo@corp.io", no_reason)),
        Want::Invalid("request.justification_required")
    );

    let d = ok(w.request("mo@corp.io", &web(), admin(), Span::minutes(30), true));
    let id = d.value;
    assert_eq!(d.types(), ["ACCESS_REQUESTED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED"]);
    assert_eq!(d.events[0].details["emergency"], true);
    assert_eq!(d.events[1].details["emergency"], true);
    let b = w.binding_of(id);
    assert_eq!((b.source, b.expires_at), (BindingSource::Emergency(id), Some(w.now.plus(Span::minutes(30)))));
    let binding = b.id;
    let review = w.review_of(id).clone();
    assert_eq!(d.events[2].details["review_id"], review.id.to_string());
    assert_eq!(d.events[2].details["binding_id"], binding.to_string());
    assert_eq!((review.holder, review.binding, review.role), (w.id("mo@corp.io"), binding, admin()));
    let c = w.check("mo@corp.io", &web(), admin());
    assert!(c.allowed && c.via[0].source.is_emergency());

    // The review: someone other than the holder, with the right to manage the workspace.
    let rid = review.id;
    let rows: &[(&str, &str, Want)] = &[
        ("the holder", "mo@corp.io", Want::Forbidden("review.own_access")),
        ("a member", "max@corp.io", FORBIDDEN),
        ("the auditor", "aud@corp.io", FORBIDDEN),
        ("an outsider", "otto@corp.io", Want::NotFound("review.not_found")),
        ("another workspace", "bella@corp.io", Want::NotFound("review.not_found")),
        ("a manager", "mia@corp.io", Want::Ok),
        ("again", "mike@corp.io", Want::Conflict("review.completed")),
    ];
    for (label, who, expected) in rows {
        let r = w.complete_review(who, rid, ReviewOutcome::NotJustified, Some("no incident on record"));
        assert_eq!(want(&r), *expected, "{label}");
    }
    let done = w.state.review(rid).unwrap();
    assert_eq!(done.outcome, Some(ReviewOutcome::NotJustified));
    assert_eq!(done.notes.as_deref(), Some("no incident on record"));
    assert_eq!((done.completed_by, done.completed_at), (Some(w.id("mia@corp.io")), Some(w.now)));
    let e = w.log.last().unwrap();
    assert_eq!(e.event_type, "EMERGENCY_REVIEW_COMPLETED");
    assert_eq!((e.actor.as_str(), e.subject.as_deref()), ("mia@corp.io", Some("mo@corp.io")));
    assert_eq!(e.details["outcome"], "not_justified");
    assert_eq!(e.details["request_id"], id.to_string());
    assert_eq!(e.details["notes"], "no incident on record");
    let bad = w.complete_review("mia@corp.io", ReviewId(Uuid::from_u128(1)), ReviewOutcome::Justified, None);
    assert_eq!(want(&bad), Want::NotFound("review.not_found"));

    // A manager's own emergency access is reviewed by someone else; so is an employee's.
    for (holder, reviewer) in [("mia@corp.io", "olivia@corp.io"), ("olivia@corp.io", "emp@corp.io")] {
        let id = ok(w.request(holder, &web(), admin(), Span::minutes(10), true)).value;
        let rid = w.review_of(id).id;
        let r = w.complete_review(holder, rid, ReviewOutcome::Justified, None);
        assert_eq!(want(&r), Want::Forbidden("review.own_access"), "{holder}");
        ok(w.complete_review(reviewer, rid, ReviewOutcome::Justified, Some("INC-1234 confirmed")));
        assert_eq!(w.state.review(rid).unwrap().outcome, Some(ReviewOutcome::Justified));
    }
    assert_eq!(ReviewOutcome::parse("maybe").unwrap_err().code(), "input.invalid_outcome");
    assert_eq!(w.count("EMERGENCY_REVIEW_OPENED"), 3);
    assert_eq!(w.count("EMERGENCY_REVIEW_COMPLETED"), 3);
}

// ---------------------------------------------------------------------------------------------
// Quorum and override
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unreachable_quorum_waits_for_an_admin_override() {
    let mut w = World::team();
    let db = proj("team-b", "db");

    // team-b's only manager is its owner, bella: her own request has nobody to approve it.
    let own = w.ask("bella@corp.io", &db, admin(), Span::hours(1));
    assert_eq!(w.state_of(own), RequestState::Pending, "never approves itself");
    assert!(w.unreachable(own));
    let bens = w.ask("ben@corp.io", &db, prole("user"), Span::hours(1));
    assert!(!w.unreachable(bens), "bella can approve ben's");
    assert_eq!(
        w.tasks("bella@corp.io"),
        [Task { request: bens, can_approve: true, override_only: false, quorum_unreachable: false }]
    );
    assert_eq!(
        w.tasks("emp@corp.io"),
        [
            Task { request: own, can_approve: false, override_only: true, quorum_unreachable: true },
            Task { request: bens, can_approve: false, override_only: true, quorum_unreachable: false },
        ]
    );
    assert!(w.tasks("aud@corp.io").is_empty(), "the auditor approves nothing");

    let rows: &[(&str, bool, Want)] = &[
        ("bella@corp.io", false, SELF_APPROVAL),
        ("ben@corp.io", false, Want::NotFound("request.not_found")),
        ("emp@corp.io", false, NOT_AN_APPROVER), // an override must be asked for
        ("aud@corp.io", true, NOT_AN_APPROVER),  // the auditor cannot override
        ("olivia@corp.io", true, Want::NotFound("request.not_found")),
    ];
    for (who, with_override, expected) in rows {
        let r = if *with_override { w.override_approve(who, own) } else { w.approve(who, own) };
        assert_eq!(want(&r), *expected, "{who}");
    }
    let e = err(w.approve("emp@corp.io", own));
    assert!(e.to_string().contains("override"), "the refusal points at the way out: {e}");
    assert_eq!(w.count("REQUEST_APPROVED"), 0);

    let d = ok(w.override_approve("emp@corp.io", own));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    assert_eq!(d.events[0].details["override"], true);
    assert_eq!(d.events[0].details["step"], 1);
    assert_eq!(d.events[0].actor, "emp@corp.io");
    assert_eq!(w.approvals(own), [appr("emp@corp.io", 0, true)]);
    assert_eq!(w.req(own).decided_by, Some(w.id("emp@corp.io")));
    assert_eq!(w.binding_of(own).source, BindingSource::Request(own));
    assert!(!w.unreachable(own), "only pending requests are unreachable");

    // A named-users step that names only the requester.
    let p = w.team_policy(
        "max decides",
        vec![step(ApproverSet::Users(vec![w.id("max@corp.io")]), 1)],
        None,
        Span::days(1),
    );
    w.govern(&web(), prole("user"), Some(p), None);
    let only_max = w.ask("max@corp.io", &web(), prole("user"), Span::hours(1));
    let mos = w.ask("mo@corp.io", &web(), prole("user"), Span::hours(1));
    assert!(w.unreachable(only_max));
    assert!(!w.unreachable(mos));

    // A step needing more approvers than exist besides the requester: team-a has three
    // managers (olivia, mia, mike).
    let p = w.team_policy("three", vec![managers(3)], None, Span::days(1));
    w.govern(&web(), admin(), Some(p), None);
    let mias = w.ask("mia@corp.io", &web(), admin(), Span::hours(1));
    let maxs = w.ask("max@corp.io", &web(), admin(), Span::hours(1));
    assert!(w.unreachable(mias), "two managers left for three approvals");
    assert!(!w.unreachable(maxs));
    ok(w.approve("mia@corp.io", maxs));
    assert!(!w.unreachable(maxs), "two approvals left, two managers left");
    w.disable("mike@corp.io");
    assert!(w.unreachable(maxs), "a disabled manager does not count");
    assert_eq!(w.state_of(maxs), RequestState::Pending);
    let d = ok(w.override_approve("admin@corp.io", maxs));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    assert_eq!(w.approvals(maxs), [appr("mia@corp.io", 0, false), appr("admin@corp.io", 0, true)]);

    // Outside the admin area, asking for an override changes nothing: the owner is no
    // approver of a step that names max alone.
    assert_eq!(want(&w.override_approve("olivia@corp.io", only_max)), NOT_AN_APPROVER);
    assert_eq!(w.state_of(only_max), RequestState::Pending);
    assert_eq!(w.state_of(mias), RequestState::Pending);
}

// ---------------------------------------------------------------------------------------------
// Duplicates, extension, lapses, terminal states
// ---------------------------------------------------------------------------------------------

#[test]
fn a_second_open_request_for_the_same_entitlement_is_refused() {
    let mut w = World::team();
    let p = w.team_policy("four eyes", vec![managers(2)], Some(Span::hours(8)), Span::hours(4));
    let glass = w.team_policy("glass", vec![managers(1)], Some(Span::hours(1)), Span::hours(1));
    w.govern(&web(), admin(), Some(p), Some(glass));

    let first = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    let e = err(w.request("mo@corp.io", &web(), admin(), Span::hours(2), false));
    assert_eq!(want::<()>(&Err(e.clone())), Want::Conflict("request.duplicate"));
    assert!(e.to_string().contains(&first.to_string()), "points at the open request: {e}");
    assert_eq!(
        want(&w.request("mo@corp.io", &web(), admin(), Span::minutes(5), true)),
        Want::Conflict("request.duplicate")
    );
    let by_manager = w.assign_grant("mia@corp.io", &web(), "mo@corp.io", admin(), w.now.plus(Span::hours(1)));
    assert_eq!(want(&by_manager), Want::Conflict("request.duplicate"));
    assert_eq!(w.count("ACCESS_REQUESTED"), 1);

    // Another role, target or person is another entitlement request.
    w.ask("mo@corp.io", &web(), prole("user"), Span::hours(1));
    w.ask("mo@corp.io", &api(), admin(), Span::hours(1));
    w.ask("max@corp.io", &web(), admin(), Span::hours(1));

    // Once the first is no longer open, a new one may open.
    let d = ok(w.cancel("mo@corp.io", first));
    assert_eq!(d.types(), ["REQUEST_CANCELLED"]);
    let second = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    w.advance(Span::hours(4));
    assert_eq!(w.state_of(second), RequestState::Pending, "lapsed, not yet recorded");
    let third = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    assert_ne!(second, third);
}

#[test]
fn a_holder_requesting_again_extends_the_grant() {
    let mut w = World::team();
    let glass = w.team_policy("glass", vec![], Some(Span::hours(1)), Span::hours(1));
    w.govern(&web(), admin(), None, Some(glass));
    let t0 = w.now;
    let first = w.ask("mo@corp.io", &web(), admin(), Span::hours(2));
    ok(w.approve("mia@corp.io", first));
    let b = w.binding_of(first).id;
    assert_eq!(w.binding_of(first).expires_at, Some(t0.plus(Span::hours(2))));

    w.advance(Span::hours(1));
    let second = w.ask("mo@corp.io", &web(), admin(), Span::hours(4));
    let d = ok(w.approve("mike@corp.io", second));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    let new_end = t0.plus(Span::hours(5));
    assert!(d.changes.changes.contains(&Change::ExtendBinding { id: b, expires_at: Some(new_end) }));
    assert!(!d.changes.changes.iter().any(|c| matches!(c, Change::CreateBinding(_))));
    let granted = &d.events[1].details;
    assert_eq!(granted["extended"], true);
    assert_eq!(granted["binding_id"], b.to_string());
    assert_eq!(granted["expires_at"], new_end.to_rfc3339());
    assert_eq!(w.req(second).binding, Some(b));
    assert_eq!(w.bindings("mo@corp.io", &web(), admin()).len(), 1, "one grant, extended");
    assert_eq!(w.state.binding(b).unwrap().expires_at, Some(new_end));
    assert_eq!(w.state.binding(b).unwrap().source, BindingSource::Request(first));
    assert_eq!(w.check("mo@corp.io", &web(), admin()).expires_at, Some(new_end));

    // A shorter request never shortens the grant.
    let third = w.ask("mo@corp.io", &web(), admin(), Span::minutes(30));
    let d = ok(w.approve("mia@corp.io", third));
    assert_eq!(d.events[1].details["extended"], true);
    assert!(!d.changes.changes.iter().any(|c| matches!(c, Change::ExtendBinding { .. })));
    assert_eq!(w.state.binding(b).unwrap().expires_at, Some(new_end));

    // Emergency access is never folded into a normal grant: it stays flagged on its own.
    let e = ok(w.request("mo@corp.io", &web(), admin(), Span::minutes(20), true)).value;
    assert_ne!(w.binding_of(e).id, b);
    assert_eq!(w.binding_of(e).source, BindingSource::Emergency(e));
    assert_eq!(w.bindings("mo@corp.io", &web(), admin()).len(), 2);

    // After the grant ended, a new request creates a new binding.
    w.set_time(new_end);
    let fourth = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    let d = ok(w.approve("mia@corp.io", fourth));
    assert_eq!(d.events[1].details["extended"], false);
    assert_ne!(w.binding_of(fourth).id, b);
    assert_eq!(w.binding_of(fourth).source, BindingSource::Request(fourth));
}

#[test]
fn pending_requests_lapse_after_their_ttl() {
    let mut w = World::team();
    let p = w.team_policy("one hour to decide", vec![managers(1)], Some(Span::hours(8)), Span::hours(1));
    let glass = w.team_policy("glass", vec![managers(1)], Some(Span::hours(1)), Span::hours(1));
    w.govern(&web(), admin(), Some(p), Some(glass));
    let t0 = w.now;
    let on_time = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    let late = w.ask("max@corp.io", &web(), admin(), Span::hours(1));
    assert_eq!(w.req(late).lapses_at, t0.plus(Span::hours(1)));
    w.advance(Span::minutes(10));
    let later = w.ask("mike@corp.io", &web(), admin(), Span::hours(1));

    w.set_time(micros_before(t0.plus(Span::hours(1)), 1));
    ok(w.approve("mia@corp.io", on_time));
    assert_eq!(w.state_of(on_time), RequestState::Granted, "approved in its last instant");

    w.set_time(t0.plus(Span::hours(1)));
    let lapsed = Want::Conflict("request.lapsed");
    assert_eq!(want(&w.approve("mia@corp.io", late)), lapsed);
    assert_eq!(want(&w.override_approve("emp@corp.io", late)), lapsed);
    assert_eq!(want(&w.deny("mia@corp.io", late, "too late")), lapsed);
    assert_eq!(want(&w.cancel("max@corp.io", late)), lapsed);
    assert_eq!(want(&w.escalate("max@corp.io", late)), lapsed);
    assert_eq!(w.task_ids("mia@corp.io"), [later], "a lapsed request is nobody's task");

    let d = w.record_lapses(100);
    assert_eq!(d.types(), ["REQUEST_LAPSED"]);
    let e = &d.events[0];
    assert_eq!((e.actor.as_str(), e.subject.as_deref()), ("system", Some("max@corp.io")));
    assert_eq!(e.details["request_id"], late.to_string());
    assert_eq!(e.details["lapsed_at"], t0.plus(Span::hours(1)).to_rfc3339());
    let r = w.req(late);
    assert_eq!((r.state, r.decided_at, r.decided_by), (RequestState::Lapsed, Some(w.now), None));
    assert!(w.record_lapses(100).events.is_empty(), "each lapse is recorded once");
    assert_eq!(want(&w.approve("mia@corp.io", late)), NOT_PENDING);
    assert!(!w.check("max@corp.io", &web(), admin()).allowed);

    // The person may ask again.
    let again = w.ask("max@corp.io", &web(), admin(), Span::hours(1));

    // The sweep takes the earliest first and at most `max` at a time.
    w.advance(Span::hours(2));
    let d = w.record_lapses(1);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].details["request_id"], later.to_string());
    let d = w.record_lapses(1);
    assert_eq!(d.events[0].details["request_id"], again.to_string());
    assert!(w.record_lapses(1).events.is_empty());
    assert_eq!(w.count("REQUEST_LAPSED"), 3);
    assert_eq!(w.state_of(on_time), RequestState::Granted, "granted requests never lapse");
}

#[test]
fn terminal_states_never_change_again() {
    let mut w = World::team();
    let glass = w.team_policy("glass", vec![], Some(Span::hours(1)), Span::hours(1));
    let entitlements = [(web(), admin()), (web(), prole("user")), (api(), admin()), (api(), prole("user"))];
    for (t, r) in &entitlements {
        w.govern(t, *r, None, Some(glass));
    }
    let ids: Vec<RequestId> =
        entitlements.iter().map(|(t, r)| w.ask("mo@corp.io", t, *r, Span::hours(1))).collect();
    let (granted, denied, cancelled, lapsed) = (ids[0], ids[1], ids[2], ids[3]);

    ok(w.approve("mia@corp.io", granted));

    assert_eq!(want(&w.deny("mia@corp.io", denied, "  ")), Want::Invalid("input.reason_required"));
    assert_eq!(want(&w.deny("max@corp.io", denied, "no")), Want::NotFound("request.not_found"));
    assert_eq!(want(&w.deny("aud@corp.io", denied, "no")), NOT_AN_APPROVER, "the auditor sees it");
    assert_eq!(want(&w.deny("otto@corp.io", denied, "no")), Want::NotFound("request.not_found"));
    let d = ok(w.deny("mike@corp.io", denied, "use the staging project"));
    assert_eq!(d.types(), ["REQUEST_DENIED"]);
    assert_eq!(d.events[0].details["reason"], "use the staging project");
    assert_eq!(d.events[0].details["step"], 1);
    let r = w.req(denied);
    assert_eq!(
        (r.deny_reason.as_deref(), r.decided_by),
        (Some("use the staging project"), Some(w.id("mike@corp.io")))
    );

    assert_eq!(want(&w.cancel("mia@corp.io", cancelled)), FORBIDDEN);
    assert_eq!(want(&w.cancel("emp@corp.io", cancelled)), FORBIDDEN);
    let d = ok(w.cancel("mo@corp.io", cancelled));
    assert_eq!(d.types(), ["REQUEST_CANCELLED"]);
    assert_eq!(w.req(cancelled).decided_by, Some(w.id("mo@corp.io")));

    w.advance(Span::days(7));
    assert_eq!(w.record_lapses(10).types(), ["REQUEST_LAPSED"]);

    let expected = [
        (granted, RequestState::Granted),
        (denied, RequestState::Denied),
        (cancelled, RequestState::Cancelled),
        (lapsed, RequestState::Lapsed),
    ];
    for (id, state) in expected {
        let before = w.req(id).clone();
        let events = w.log.len();
        assert_eq!(before.state, state);
        let attempts: Vec<(&str, Want)> = vec![
            ("approve", want(&w.approve("mike@corp.io", id))),
            ("override", want(&w.override_approve("emp@corp.io", id))),
            ("deny", want(&w.deny("emp@corp.io", id, "late"))),
            ("cancel", want(&w.cancel("mo@corp.io", id))),
            ("escalate", want(&w.escalate("mo@corp.io", id))),
        ];
        for (what, got) in attempts {
            assert_eq!(got, NOT_PENDING, "{what} on a {} request", state.as_str());
        }
        assert!(w.record_lapses(10).events.is_empty());
        assert_eq!(*w.req(id), before, "{} request unchanged", state.as_str());
        assert_eq!(w.log.len(), events);
    }
    assert_eq!(w.count("ACCESS_GRANTED"), 1);
}

// ---------------------------------------------------------------------------------------------
// Concurrency, snapshots, tasks
// ---------------------------------------------------------------------------------------------

#[test]
fn two_approvers_at_the_same_moment_produce_exactly_one_grant() {
    let mut w = World::team();
    let id = w.ask("mo@corp.io", &web(), admin(), Span::hours(1));
    let (mia, mike) = (Actor::User(w.id("mia@corp.io")), Actor::User(w.id("mike@corp.io")));

    // Both decide on the same state; each decision alone would grant.
    let by_mia = w.decide(mia, move |s, c| requests::approve(s, c, id, false)).unwrap().0;
    let by_mike = w.decide(mike, move |s, c| requests::approve(s, c, id, false)).unwrap().0;
    for d in [&by_mia, &by_mike] {
        assert!(d.events.iter().any(|e| e.event_type.as_str() == "ACCESS_GRANTED"));
    }
    // The store commits a decision only on the head it was decided on: mike's, decided on the
    // old head, is refused and decided again on the updated state, where it fails.
    let d = w.commit(by_mia, ());
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    drop(by_mike);
    let again = w.decide(mike, move |s, c| requests::approve(s, c, id, false));
    assert_eq!(want(&again), NOT_PENDING);
    assert_eq!(w.count("ACCESS_GRANTED"), 1);
    assert_eq!(w.bindings("mo@corp.io", &web(), admin()).len(), 1);
    assert_eq!(w.approvals(id), [appr("mia@corp.io", 0, false)]);

    // With two approvals needed, two simultaneous decisions each record one approval on the
    // old state; the second, decided again on the new state, completes the request.
    let p = w.team_policy("four eyes", vec![managers(2)], None, Span::days(1));
    w.govern(&api(), admin(), Some(p), None);
    let id = w.ask("mo@corp.io", &api(), admin(), Span::hours(1));
    let by_mia = w.decide(mia, move |s, c| requests::approve(s, c, id, false)).unwrap().0;
    let by_mike = w.decide(mike, move |s, c| requests::approve(s, c, id, false)).unwrap().0;
    for d in [&by_mia, &by_mike] {
        let types: Vec<&str> = d.events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["REQUEST_APPROVED"], "one approval each, no grant");
    }
    w.commit(by_mia, ());
    drop(by_mike); // stale: committing it would drop mia's approval, hence the head guard
    let (changes, ()) = w.decide(mike, move |s, c| requests::approve(s, c, id, false)).unwrap();
    let d = w.commit(changes, ());
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"]);
    assert_eq!(w.approvals(id), [appr("mia@corp.io", 0, false), appr("mike@corp.io", 0, false)]);
    assert_eq!(w.bindings("mo@corp.io", &api(), admin()).len(), 1);
    assert_eq!(w.count("ACCESS_GRANTED"), 2);
}

#[test]
fn a_policy_change_does_not_alter_open_requests() {
    let mut w = World::team();
    let p = w.team_policy("lenient", vec![managers(1)], Some(Span::hours(8)), Span::days(1));
    w.govern(&web(), admin(), Some(p), None);
    let open = w.ask("mo@corp.io", &web(), admin(), Span::hours(6));
    let snapshot = w.req(open).policy.clone();

    let strict = policy("strict", Some("team-a"), vec![managers(2)], Some(Span::hours(2)), Span::hours(1));
    let d = ok(w.as_user("olivia@corp.io", move |s, c| policies::update_policy(s, c, p, strict)));
    assert_eq!(d.types(), ["POLICY_UPDATED"]);
    assert_eq!(d.events[0].details["before"]["steps"][0]["count"], 1);
    assert_eq!(d.events[0].details["after"]["steps"][0]["count"], 2);
    assert_eq!(d.events[0].details["after"]["max_duration"], "2h");
    assert_eq!(w.req(open).policy, snapshot, "the open request keeps its copy");
    assert_eq!(w.state.policy(p).unwrap().steps, [managers(2)]);

    // New requests follow the new policy.
    let e = err(w.request("max@corp.io", &web(), admin(), Span::hours(6), false));
    assert_eq!(e.code(), "request.duration_exceeds_max");
    assert!(e.to_string().contains("2h"), "{e}");
    let new = w.ask("max@corp.io", &web(), admin(), Span::hours(2));
    assert_eq!(w.req(new).policy.steps, [managers(2)]);
    assert_eq!(w.req(new).lapses_at, w.now.plus(Span::hours(1)));

    // Switching the entitlement to another policy changes no open request either.
    let admins = w.team_policy("admins", vec![step(ApproverSet::AdminArea, 1)], None, Span::days(1));
    w.govern(&web(), admin(), Some(admins), None);

    w.advance(Span::minutes(30));
    let d = ok(w.approve("mia@corp.io", open));
    assert_eq!(d.types(), ["REQUEST_APPROVED", "ACCESS_GRANTED"], "one approval, as when it opened");
    assert_eq!(w.binding_of(open).expires_at, Some(w.now.plus(Span::hours(6))), "the old maximum");
    ok(w.approve("mia@corp.io", new));
    assert_eq!(w.state_of(new), RequestState::Pending, "two approvals, as when it opened");
    assert_eq!(want(&w.approve("emp@corp.io", new)), NOT_AN_APPROVER, "the new policy's set does not apply");
    ok(w.approve("mike@corp.io", new));
    assert_eq!(w.state_of(new), RequestState::Granted);

    // ... and the new one governs what opens now.
    let latest = w.ask("max@corp.io", &web(), prole("admin"), Span::hours(1));
    assert_eq!(w.req(latest).policy.id, admins);
    assert_eq!(want(&w.approve("mia@corp.io", latest)), NOT_AN_APPROVER);
}

#[test]
fn tasks_list_what_each_caller_may_act_on_emergency_first() {
    let mut w = World::team();
    let glass = w.team_policy("glass", vec![managers(1)], Some(Span::hours(1)), Span::hours(1));
    let four = w.team_policy("four eyes", vec![managers(2)], None, Span::days(1));
    w.govern(&web(), admin(), None, Some(glass));
    w.govern(&web(), prole("user"), Some(four), None);

    let a = w.ask("mo@corp.io", &api(), admin(), Span::hours(1));
    w.advance(Span::minutes(1));
    let b = w.ask("max@corp.io", &web(), prole("user"), Span::hours(1));
    w.advance(Span::minutes(1));
    let c = ok(w.request("mo@corp.io", &web(), admin(), Span::minutes(30), true)).value;
    w.advance(Span::minutes(1));
    let d = w.ask("mia@corp.io", &api(), prole("user"), Span::hours(1));
    w.advance(Span::minutes(1));
    let elsewhere = w.ask("ben@corp.io", &proj("team-b", "db"), admin(), Span::hours(1));

    assert_eq!(w.task_ids("mike@corp.io"), [c, a, b, d], "emergency first, then oldest first");
    assert_eq!(w.task_ids("mia@corp.io"), [c, a, b], "never one's own");
    assert_eq!(w.task_ids("olivia@corp.io"), [c, a, b, d]);
    assert_eq!(w.task_ids("bella@corp.io"), [elsewhere]);
    assert!(w.tasks("mike@corp.io").iter().all(|t| t.can_approve && !t.override_only));
    let emp = w.tasks("emp@corp.io");
    assert_eq!(emp.iter().map(|t| t.request).collect::<Vec<_>>(), [c, a, b, d, elsewhere]);
    assert!(emp.iter().all(|t| !t.can_approve && t.override_only));
    for who in ["max@corp.io", "mo@corp.io", "aud@corp.io", "otto@corp.io", "ben@corp.io"] {
        assert!(w.tasks(who).is_empty(), "{who} may act on nothing");
    }

    // Approving takes it off one's list; the request stays on the others' until it is decided.
    ok(w.approve("mike@corp.io", b));
    assert_eq!(w.task_ids("mike@corp.io"), [c, a, d]);
    assert_eq!(w.task_ids("mia@corp.io"), [c, a, b]);
    ok(w.approve("mike@corp.io", a));
    assert_eq!(w.task_ids("mia@corp.io"), [c, b]);
    ok(w.deny("olivia@corp.io", d, "not needed"));
    assert_eq!(w.task_ids("mike@corp.io"), [c]);

    // Visibility follows the same lines.
    let r = w.req(c).clone();
    for (who, sees) in [
        ("mo@corp.io", true),
        ("mia@corp.io", true),
        ("aud@corp.io", true),
        ("emp@corp.io", true),
        ("max@corp.io", false),
        ("otto@corp.io", false),
        ("bella@corp.io", false),
    ] {
        assert_eq!(
            requests::can_see_request(&w.state, &w.read_ctx(who, Default::default()), &r),
            sees,
            "{who}"
        );
    }

    // A lapsed emergency request leaves the lists.
    w.advance(Span::hours(1));
    assert_eq!(w.task_ids("mike@corp.io"), Vec::<RequestId>::new());
    assert_eq!(w.task_ids("mia@corp.io"), [b]);
}

// ---------------------------------------------------------------------------------------------
// Grants after the fact, audit
// ---------------------------------------------------------------------------------------------

#[test]
fn request_grants_are_revoked_early_or_expire_with_an_event() {
    let mut w = World::team();
    let glass = w.team_policy("glass", vec![], Some(Span::hours(1)), Span::hours(1));
    w.govern(&web(), prole("user"), None, Some(glass));
    let normal = w.ask("mo@corp.io", &web(), admin(), Span::hours(2));
    ok(w.approve("mia@corp.io", normal));
    let b = w.binding_of(normal).id;

    let rows: &[(&str, Want)] = &[
        ("otto@corp.io", Want::NotFound("grant.not_found")),
        ("bella@corp.io", Want::NotFound("grant.not_found")),
        ("max@corp.io", FORBIDDEN),
        ("aud@corp.io", FORBIDDEN),
        ("mike@corp.io", Want::Ok),
        ("olivia@corp.io", Want::NotFound("grant.not_found")),
    ];
    for (who, expected) in rows {
        assert_eq!(want(&w.revoke(who, b)), *expected, "{who}");
    }
    let e = w.log.last().unwrap();
    assert_eq!(e.event_type, "GRANT_REVOKED");
    assert_eq!((e.actor.as_str(), e.subject.as_deref()), ("mike@corp.io", Some("mo@corp.io")));
    assert_eq!(e.details["request_id"], normal.to_string());
    assert_eq!(e.details["source"], "request");
    assert_eq!(e.details["emergency"], false);
    assert!(!w.check("mo@corp.io", &web(), admin()).allowed);
    assert_eq!(w.state_of(normal), RequestState::Granted, "the request stays granted: it happened");

    // The holder gives up emergency access; its review stays open.
    let e_id = ok(w.request("mo@corp.io", &web(), prole("user"), Span::minutes(30), true)).value;
    let eb = w.binding_of(e_id).id;
    let d = ok(w.revoke("mo@corp.io", eb));
    assert_eq!(d.types(), ["GRANT_REVOKED"]);
    assert_eq!(d.events[0].details["emergency"], true);
    assert_eq!(d.events[0].details["source"], "emergency");
    assert!(w.review_of(e_id).is_open(), "revoking does not complete the review");

    // An admin revokes; expiry ends the rest at its instant and the sweeper records it.
    let one = w.ask("max@corp.io", &web(), admin(), Span::hours(1));
    let two = w.ask("max@corp.io", &api(), admin(), Span::hours(1));
    ok(w.approve("olivia@corp.io", one));
    ok(w.approve("olivia@corp.io", two));
    let d = ok(w.revoke("admin@corp.io", w.binding_of(one).id));
    assert_eq!(d.events[0].details["request_id"], one.to_string());
    let end = w.binding_of(two).expires_at.unwrap();
    w.set_time(end);
    assert!(!w.check("max@corp.io", &api(), admin()).allowed, "no sweeper needed");
    let d = w.sweep(10);
    assert_eq!(d.types(), ["BINDING_EXPIRED"]);
    assert_eq!(d.events[0].details["source"], "request");
    assert_eq!(d.events[0].subject.as_deref(), Some("max@corp.io"));
}

#[test]
fn every_request_event_is_in_the_verified_audit_chain() {
    let mut w = World::team();
    let glass = w.team_policy("glass", vec![managers(1)], Some(Span::hours(1)), Span::hours(1));
    let p = w.team_policy("two", vec![managers(2)], Some(Span::hours(4)), Span::days(1));
    w.govern(&web(), admin(), Some(p), Some(glass));
    let update = policy("two", Some("team-a"), vec![managers(2)], Some(Span::hours(8)), Span::days(1));
    ok(w.as_user("olivia@corp.io", move |s, c| policies::update_policy(s, c, p, update)));

    let a = w.ask("mo@corp.io", &web(), admin(), Span::hours(2));
    ok(w.approve("mia@corp.io", a));
    let d = ok(w.escalate("mo@corp.io", a));
    assert_eq!(d.types(), ["REQUEST_ESCALATED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED"]);
    let review = w.review_of(a).id;
    ok(w.complete_review("olivia@corp.io", review, ReviewOutcome::Justified, Some("INC-1234")));
    let b = w.ask("max@corp.io", &web(), admin(), Span::hours(1));
    ok(w.deny("mia@corp.io", b, "not today"));
    let c = w.ask("max@corp.io", &web(), admin(), Span::hours(1));
    ok(w.cancel("max@corp.io", c));
    let d = w.ask("max@corp.io", &api(), admin(), Span::hours(1));
    ok(w.approve("mike@corp.io", d));
    ok(w.revoke("max@corp.io", w.binding_of(d).id));
    w.ask("max@corp.io", &web(), admin(), Span::hours(1));
    w.advance(Span::days(1));
    w.record_lapses(10);
    w.sweep(10);

    let mut v = ChainVerifier::new();
    for e in &w.log {
        v.push(e).unwrap_or_else(|b| panic!("chain broken at {}: {}", b.seq, b.reason));
    }
    assert_eq!(v.finish(w.log.len() as i64).unwrap(), w.state.head());
    for t in [
        "POLICY_CREATED",
        "POLICY_UPDATED",
        "ENTITLEMENT_UPDATED",
        "ACCESS_REQUESTED",
        "REQUEST_APPROVED",
        "REQUEST_DENIED",
        "REQUEST_ESCALATED",
        "REQUEST_CANCELLED",
        "REQUEST_LAPSED",
        "ACCESS_GRANTED",
        "GRANT_REVOKED",
        "BINDING_EXPIRED",
        "EMERGENCY_REVIEW_OPENED",
        "EMERGENCY_REVIEW_COMPLETED",
    ] {
        assert!(w.count(t) > 0, "the scenario recorded no {t}");
    }
    // Every request event names the request, its workspace and the person it is for.
    let request_events = [
        "ACCESS_REQUESTED",
        "REQUEST_APPROVED",
        "REQUEST_DENIED",
        "REQUEST_ESCALATED",
        "REQUEST_CANCELLED",
        "REQUEST_LAPSED",
        "ACCESS_GRANTED",
        "EMERGENCY_REVIEW_OPENED",
        "EMERGENCY_REVIEW_COMPLETED",
    ];
    for e in w.log.iter().filter(|e| request_events.contains(&e.event_type.as_str())) {
        assert!(e.details["request_id"].is_string(), "{} {}", e.seq, e.event_type);
        assert_eq!(e.workspace.as_deref(), Some("team-a"), "{} {}", e.seq, e.event_type);
        assert!(e.subject.as_deref().is_some_and(|s| s.ends_with("@corp.io")), "{}", e.seq);
    }
    let granted: Vec<bool> = w
        .log
        .iter()
        .filter(|e| e.event_type == "ACCESS_GRANTED")
        .map(|e| e.details["emergency"].as_bool().unwrap())
        .collect();
    assert_eq!(granted, [true, false]);
}

#[test]
fn assigning_oneself_is_requesting_and_needs_someone_else() {
    // PRODUCT §2.1: one's own approval never counts, "through any path" — a manager's direct
    // assignment of themselves included, even under the one-approval installation default.
    let mut w = World::team();
    let until = w.now.plus(Span::hours(2));
    let standing = w.assign_member("mia@corp.io", &web(), "mia@corp.io", admin(), None, Some(WHY));
    assert_eq!(want(&standing), Want::Rule("request.self_assignment"));
    let opened = ok(w.assign_member("mia@corp.io", &web(), "mia@corp.io", admin(), Some(until), Some(WHY)))
        .value
        .expect("the self-assignment opens a request");
    assert!(w.approvals(opened).is_empty(), "her own approval does not count");
    assert_eq!(w.state_of(opened), RequestState::Pending);
    assert!(!w.check("mia@corp.io", &web(), admin()).allowed);
    assert_eq!(want(&w.approve("mia@corp.io", opened)), SELF_APPROVAL);
    ok(w.approve("mike@corp.io", opened));
    assert_eq!(w.state_of(opened), RequestState::Granted);
    assert!(w.check("mia@corp.io", &web(), admin()).allowed);

    // A policy without steps needs nobody's approval, so assigning oneself is direct there.
    let open = w.team_policy("open", Vec::new(), None, Span::days(1));
    w.govern(&api(), admin(), Some(open), None);
    let direct = ok(w.assign_member("mia@corp.io", &api(), "mia@corp.io", admin(), None, None));
    assert_eq!(direct.value, None);
    assert!(w.check("mia@corp.io", &api(), admin()).allowed);
}

#[test]
fn escalation_needs_the_justification_the_emergency_policy_requires() {
    let mut w = World::team();
    let lenient = ok(w.new_policy(
        "olivia@corp.io",
        PolicyInput {
            justification_required: false,
            ..policy("lenient", Some("team-a"), vec![managers(1)], None, Span::days(1))
        },
    ))
    .value;
    let strict = w.team_policy("strict emergency", Vec::new(), Some(Span::hours(1)), Span::hours(1));
    w.govern(&web(), admin(), Some(lenient), Some(strict));
    let new = NewRequest {
        target: web(),
        role: admin(),
        duration: Span::hours(1),
        justification: None,
        emergency: false,
    };
    let id = ok(w.request_with("mo@corp.io", new)).value;
    assert_eq!(want(&w.escalate("mo@corp.io", id)), Want::Invalid("request.justification_required"));
    assert!(!w.req(id).emergency, "a refused escalation changes nothing");
    assert_eq!(w.state_of(id), RequestState::Pending);
}

#[test]
fn who_lists_an_emergency_review_open_and_completed() {
    let mut w = World::team();
    let input = policy("break glass", None, vec![], Some(Span::hours(1)), Span::hours(1));
    let glass = ok(w.new_policy("admin@corp.io", input)).value;
    w.govern(&web(), admin(), None, Some(glass));
    let id = ok(w.request("mo@corp.io", &web(), admin(), Span::minutes(30), true)).value;
    let rid = w.review_of(id).id;
    let listed = |w: &World, who: &str, open: Option<bool>, ws: Option<&str>| {
        let ctx = w.read_ctx(who, breakglass_core::Bounds::default());
        requests::listed_reviews(&w.state, &ctx, open, ws).unwrap().len()
    };
    // (caller, open only / completed only / all, workspace filter, how many listed)
    let open: &[(&str, Option<bool>, Option<&str>, usize)] = &[
        ("mo@corp.io", Some(true), None, 1),
        ("mia@corp.io", Some(true), None, 1),
        ("olivia@corp.io", Some(true), None, 1),
        ("aud@corp.io", Some(true), None, 1),
        ("max@corp.io", Some(true), None, 0),
        ("ben@corp.io", Some(true), None, 0),
        ("otto@corp.io", None, None, 0),
        ("mia@corp.io", Some(false), None, 0),
        ("mia@corp.io", Some(true), Some("team-b"), 0),
    ];
    for (who, state, ws, expected) in open {
        assert_eq!(listed(&w, who, *state, *ws), *expected, "{who} {state:?} {ws:?} while open");
    }
    ok(w.complete_review("mia@corp.io", rid, ReviewOutcome::Justified, Some("INC-1234")));
    let completed: &[(&str, Option<bool>, Option<&str>, usize)] = &[
        ("mia@corp.io", Some(true), None, 0),
        ("mia@corp.io", Some(false), None, 1),
        ("mia@corp.io", None, Some("team-a"), 1),
        ("mo@corp.io", Some(false), None, 1),
        ("max@corp.io", None, None, 0),
    ];
    for (who, state, ws, expected) in completed {
        assert_eq!(listed(&w, who, *state, *ws), *expected, "{who} {state:?} {ws:?} once completed");
    }
}
