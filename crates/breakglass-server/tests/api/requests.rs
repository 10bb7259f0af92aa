//! Access requests, approval policies and emergency access, end to end through the typed
//! client: the installation default, policy limits, ordered steps and distinct approvers, the
//! requester never approving their own request (by session, API token or override), escalation,
//! unreachable quorums and admin overrides, the duplicate guard, terminal states, lapses, policy
//! snapshots, extensions, early revocation, a manager's four-eyes assignment, tasks, emergency
//! reviews, isolation between workspaces, and many approvers racing for one request (on one
//! server and on two servers sharing a database).

use std::sync::Arc;

use breakglass_client::api::{
    AuditEvent, Binding, CheckRequest, CheckResponse, CompleteReview, CreateGrant, CreateRequest,
    CreateToken, EntitlementBody, PageQuery, Policy, PolicyBody, PolicyQuery, PolicyStep, Request,
    RequestQuery, Review, ReviewQuery, SetMember,
};
use breakglass_client::{Assignment, Client, ClientError};
use breakglass_core::time::{Span, Timestamp};
use serde_json::{json, Value};

use crate::common::*;

const WS: &str = "alpha";
const P: &str = "web";
const OLGA: &str = "olga@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// E-mail of the i-th manager (1-based).
fn m(i: usize) -> String {
    format!("m{i}@example.com")
}

/// Workspace `alpha` owned by olga, with project `web`; bob and carol are plain members; the
/// managers are `m1@...`, `m2@...` and so on. The admin is not a member of `alpha`.
struct World {
    t: TestApp,
    admin: Client,
    olga: Client,
    bob: Client,
    carol: Client,
    managers: Vec<Client>,
}

impl World {
    fn m(&self, i: usize) -> &Client {
        &self.managers[i - 1]
    }
}

async fn world(managers: usize) -> World {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olga = t.user(OLGA).await;
    t.workspace(WS, &[OLGA]).await;
    t.project(WS, P).await;
    let bob = t.user(BOB).await;
    let carol = t.user(CAROL).await;
    set_ws_role(&admin, BOB, "member").await;
    set_ws_role(&admin, CAROL, "member").await;
    let mut ms = Vec::new();
    for i in 1..=managers {
        let c = t.user(&m(i)).await;
        set_ws_role(&admin, &m(i), "manager").await;
        ms.push(c);
    }
    World { t, admin, olga, bob, carol, managers: ms }
}

async fn set_ws_role(admin: &Client, email: &str, role: &str) {
    admin
        .set_workspace_member(WS, email, &SetMember { role: role.into(), ..Default::default() })
        .await
        .unwrap_or_else(|e| panic!("make {email} {role}: {e}"))
        .expect_binding();
}

fn step(approvers: &str, count: u32) -> PolicyStep {
    PolicyStep { approvers: approvers.into(), users: Vec::new(), count }
}

fn users_step(users: &[&str], count: u32) -> PolicyStep {
    PolicyStep { approvers: "users".into(), users: users.iter().map(|u| (*u).to_owned()).collect(), count }
}

fn policy_body(name: &str, steps: Vec<PolicyStep>, max: Option<&str>) -> PolicyBody {
    PolicyBody {
        name: name.into(),
        workspace: None,
        steps,
        max_duration: max.map(Into::into),
        justification_required: None,
        pending_ttl: None,
    }
}

async fn new_policy(admin: &Client, name: &str, steps: Vec<PolicyStep>, max: Option<&str>) -> Policy {
    admin
        .create_policy(&policy_body(name, steps, max))
        .await
        .unwrap_or_else(|e| panic!("create policy {name}: {e}"))
}

/// Sets the entitlement `role` on `alpha/web`: its request policy (default when `None`) and, when
/// given, an enabled emergency policy.
async fn entitle(admin: &Client, role: &str, request: Option<&Policy>, emergency: Option<&Policy>) {
    admin
        .set_project_entitlement(
            WS,
            P,
            role,
            &EntitlementBody {
                request_policy: request.map(|p| p.id.clone()),
                emergency_enabled: emergency.is_some(),
                emergency_policy: emergency.map(|p| p.id.clone()),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("set entitlement {role}: {e}"));
}

/// A normal request for `role` on `alpha/web`, with a justification.
fn ask(role: &str, duration: &str) -> CreateRequest {
    CreateRequest {
        workspace: WS.into(),
        project: Some(P.into()),
        role: role.into(),
        duration: duration.into(),
        justification: Some("incident 4711: the deploy is stuck".into()),
        emergency: false,
    }
}

/// An emergency request for `role` on `alpha/web`, with a justification.
fn ask_emergency(role: &str, duration: &str) -> CreateRequest {
    CreateRequest { emergency: true, ..ask(role, duration) }
}

async fn check(t: &TestApp, user: &str, role: &str) -> CheckResponse {
    t.admin()
        .check(&CheckRequest {
            user: user.into(),
            workspace: WS.into(),
            project: Some(P.into()),
            role: role.into(),
            min_seq: None,
        })
        .await
        .expect("check")
}

/// The live bindings of `user` with `role` on `alpha/web`.
async fn bindings(t: &TestApp, user: &str, role: &str) -> Vec<Binding> {
    t.admin()
        .all_project_members(WS, P)
        .await
        .expect("project members")
        .into_iter()
        .filter(|b| b.user == user && b.role.as_str() == role)
        .collect()
}

/// Every audit event about request `id`, in order.
async fn events_for(t: &TestApp, id: &str) -> Vec<AuditEvent> {
    t.events().await.into_iter().filter(|e| e.details["request_id"] == id).collect()
}

fn types(events: &[AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

/// The one event of type `ty` about request `id`.
async fn event_for(t: &TestApp, id: &str, ty: &str) -> AuditEvent {
    let all: Vec<AuditEvent> = events_for(t, id).await.into_iter().filter(|e| e.event_type == ty).collect();
    assert_eq!(all.len(), 1, "exactly one {ty} for request {id}: {all:#?}");
    all.into_iter().next().unwrap()
}

fn opt_time(s: &Option<String>) -> Option<Timestamp> {
    s.as_deref().map(ts)
}

/// Everything observable, including what the base snapshot does not cover: requests, reviews,
/// policies and entitlements.
#[derive(Debug, PartialEq)]
struct Everything {
    api: Snapshot,
    requests: Vec<Request>,
    reviews: Vec<Review>,
    policies: Vec<Policy>,
    entitlements: Vec<Value>,
}

async fn everything(t: &TestApp) -> Everything {
    let admin = t.admin();
    let api = t.snapshot().await;
    let mut entitlements = Vec::new();
    for (ws, _, _) in &api.workspaces {
        for e in admin.all_entitlements(&ws.identifier).await.expect("entitlements") {
            entitlements.push(serde_json::to_value(e).unwrap());
        }
    }
    Everything {
        requests: admin
            .all_requests(&RequestQuery { scope: Some("visible".into()), ..Default::default() })
            .await
            .expect("requests"),
        reviews: admin
            .all_reviews(&ReviewQuery { state: Some("all".into()), ..Default::default() })
            .await
            .expect("reviews"),
        policies: admin.all_policies(&PolicyQuery::default()).await.expect("policies"),
        entitlements,
        api,
    }
}

async fn assert_same(t: &TestApp, before: &Everything, what: &str) {
    let after = everything(t).await;
    assert!(after == *before, "{what} changed something:\nbefore: {before:#?}\nafter: {after:#?}");
}

async fn assert_chain(t: &TestApp) {
    let report = t.admin().verify_audit().await.expect("verify");
    assert!(report.ok, "the audit chain must verify: {report:?}");
}

#[tokio::test]
async fn the_default_policy_needs_one_manager_approval_and_grants_from_the_approval() {
    let w = world(1).await;
    let t = &w.t;

    // Nothing set: every entitlement shows the installation default, emergency disabled.
    let ents = w.bob.all_entitlements(WS).await.unwrap();
    assert_eq!(ents.len(), 6, "three workspace roles and three roles of the one project: {ents:#?}");
    for e in &ents {
        assert!(e.default, "{e:?}");
        assert_eq!(e.request_policy.id, NIL, "{e:?}");
        assert!(!e.emergency_enabled, "{e:?}");
        assert_eq!(e.emergency_policy, None, "{e:?}");
    }
    let default = w.bob.policy(NIL).await.unwrap();
    assert_eq!(default.steps, vec![step("workspace_managers", 1)]);

    // Bob asks; nothing is granted yet.
    let r = w.bob.create_request(&ask("admin", "2h")).await.unwrap();
    assert_eq!(w.bob.last_seq(), Some(t.seq().await), "a write answers with Breakglass-Seq");
    assert_eq!((r.user.as_str(), r.created_by.as_str()), (BOB, BOB));
    assert_eq!((r.workspace.as_str(), r.project.as_deref(), r.role.as_str()), (WS, Some(P), "admin"));
    assert_eq!((r.state.as_str(), r.emergency, r.duration.as_deref()), ("pending", false, Some("2h")));
    assert_eq!(r.justification.as_deref(), Some("incident 4711: the deploy is stuck"));
    assert_eq!(r.policy.id, NIL);
    assert_eq!(r.policy.steps, vec![step("workspace_managers", 1)]);
    assert_eq!(r.policy.max_duration.as_deref(), Some("30d"));
    assert!(r.approvals.is_empty());
    assert_eq!(r.current_step, Some(1));
    assert!(!r.quorum_unreachable, "olga and m1 can approve: {r:?}");
    assert_eq!(ts(&r.created_at), ts(T0));
    assert_eq!(ts(&r.lapses_at), ts(T0).plus(Span::days(7)));
    assert_eq!((r.binding_id.as_ref(), r.decided_at.as_ref(), r.decided_by.as_ref()), (None, None, None));
    let c = check(t, BOB, "admin").await;
    assert!(!c.allowed, "{c:?}");

    let ev = event_for(t, &r.id, "ACCESS_REQUESTED").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (BOB, Some(BOB)));
    assert_eq!((ev.workspace.as_deref(), ev.project.as_deref()), (Some(WS), Some(P)));
    assert_eq!(ev.details["role"], "admin");
    assert_eq!(ev.details["duration"], "2h");
    assert_eq!(ev.details["emergency"], false);
    assert_eq!(ev.details["justification"], "incident 4711: the deploy is stuck");
    assert_eq!(ev.details["policy"]["policy_id"], NIL);
    assert_eq!(ev.details["assigned_by_manager"], false);

    // The request is bob's own; it is m1's (and olga's) task, not bob's.
    let mine = w.bob.all_requests(&RequestQuery::default()).await.unwrap();
    assert_eq!(mine.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![r.id.as_str()]);
    assert!(w.bob.all_tasks().await.unwrap().is_empty());
    for approver in [w.m(1), &w.olga] {
        let tasks = approver.all_tasks().await.unwrap();
        assert_eq!(tasks.len(), 1, "{tasks:#?}");
        assert_eq!(tasks[0].request.id, r.id);
        assert!(tasks[0].can_approve && !tasks[0].override_only, "{:?}", tasks[0]);
    }

    // The duration counts from the grant, not from the request.
    let granted_at = t.advance(Span::minutes(10));
    let g = w.m(1).approve_request(&r.id, false).await.unwrap();
    assert_eq!(w.m(1).last_seq(), Some(t.seq().await));
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    assert_eq!(g.approvals.len(), 1);
    assert_eq!(
        (g.approvals[0].by.as_str(), g.approvals[0].step, g.approvals[0].is_override),
        (m(1).as_str(), 1, false)
    );
    assert_eq!(ts(&g.approvals[0].at), granted_at);
    assert_eq!(g.decided_by.as_deref(), Some(m(1).as_str()));
    assert_eq!(opt_time(&g.decided_at), Some(granted_at));
    assert_eq!(g.current_step, None);
    let binding_id = g.binding_id.clone().expect("a granted request names its binding");

    let bs = bindings(t, BOB, "admin").await;
    assert_eq!(bs.len(), 1, "{bs:#?}");
    let b = &bs[0];
    assert_eq!(b.id, binding_id);
    assert_eq!(
        (b.source.as_str(), b.request_id.as_deref(), b.emergency),
        ("request", Some(r.id.as_str()), false)
    );
    assert_eq!(ts(&b.starts_at), granted_at);
    assert_eq!(opt_time(&b.expires_at), Some(granted_at.plus(Span::hours(2))));

    let c = check(t, BOB, "admin").await;
    assert!(c.allowed, "{c:?}");
    assert_eq!(c.via.len(), 1, "{c:?}");
    assert_eq!(c.via[0].binding_id, binding_id);
    assert_eq!((c.via[0].source.as_str(), c.via[0].request_id.as_deref()), ("request", Some(r.id.as_str())));
    assert!(!c.via[0].emergency);
    assert_eq!(opt_time(&c.expires_at), Some(granted_at.plus(Span::hours(2))));
    // A project admin is also a user and a reader there.
    assert!(check(t, BOB, "reader").await.allowed);

    let evs = events_for(t, &r.id).await;
    assert_eq!(types(&evs), vec!["ACCESS_REQUESTED", "REQUEST_APPROVED", "ACCESS_GRANTED"]);
    let approved = &evs[1];
    assert_eq!((approved.actor.as_str(), approved.subject.as_deref()), (m(1).as_str(), Some(BOB)));
    assert_eq!(approved.details["approver"], m(1));
    assert_eq!((approved.details["step"].as_u64(), approved.details["steps"].as_u64()), (Some(1), Some(1)));
    assert_eq!(approved.details["override"], false);
    let granted = &evs[2];
    assert_eq!(granted.details["binding_id"], binding_id.as_str());
    assert_eq!(granted.details["emergency"], false);
    assert_eq!(granted.details["extended"], false);
    assert_eq!(granted.details["expires_at"].as_str().map(ts), Some(granted_at.plus(Span::hours(2))));
    assert!(events_for(t, &r.id).await.iter().all(|e| e.event_type != "EMERGENCY_REVIEW_OPENED"));
    assert!(w.m(1).all_tasks().await.unwrap().is_empty(), "a granted request is nobody's task");

    // The access ends at its expiry; the sweeper records it.
    t.set_time(granted_at.plus(Span::hours(2)));
    assert!(!check(t, BOB, "admin").await.allowed);
    assert_eq!(t.sweep().await, 1);
    let expired = t.last_event().await;
    assert_eq!(expired.event_type, "BINDING_EXPIRED");
    assert_eq!(expired.details["binding_id"], binding_id.as_str());
    assert_eq!(expired.details["source"], "request");
    // The request stays granted.
    assert_eq!(w.bob.request(&r.id).await.unwrap().state, breakglass_api::RequestState::Granted);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn durations_above_the_policy_maximum_are_refused_naming_the_maximum() {
    let w = world(1).await;
    let t = &w.t;
    let before = everything(t).await;
    let p =
        expect_problem(w.bob.create_request(&ask("admin", "31d")).await, 422, "request.duration_exceeds_max");
    assert!(p.detail.contains("30d"), "the detail names the default's maximum: {p:?}");
    assert_same(t, &before, "a request above the default's maximum").await;

    let short = new_policy(&w.admin, "short", vec![step("workspace_managers", 1)], Some("4h")).await;
    entitle(&w.admin, "admin", Some(&short), None).await;
    let before = everything(t).await;
    for too_long in ["5h", "4h1m", "PT5H", "1d"] {
        let p = expect_problem(
            w.bob.create_request(&ask("admin", too_long)).await,
            422,
            "request.duration_exceeds_max",
        );
        assert!(p.detail.contains("4h"), "{too_long}: the detail names the maximum: {p:?}");
        assert!(p.detail.contains("short"), "{too_long}: the detail names the policy: {p:?}");
    }
    assert_same(t, &before, "requests above the policy's maximum").await;

    // Zero, negative and unreadable durations are refused as input.
    for bad in ["0h", "-1h", "PT0S", "soon"] {
        expect_problem(w.bob.create_request(&ask("admin", bad)).await, 400, "input.invalid_duration");
    }
    assert_same(t, &before, "requests with unusable durations").await;

    // Exactly the maximum is fine, in either notation.
    let r = w.bob.create_request(&ask("admin", "PT4H")).await.unwrap();
    assert_eq!(r.duration.as_deref(), Some("4h"));
    assert_eq!(r.policy.id, short.id);
    assert_eq!(r.policy.max_duration.as_deref(), Some("4h"));
    w.t.stop().await;
}

#[tokio::test]
async fn a_justification_is_required_unless_the_policy_waives_it() {
    let w = world(1).await;
    let t = &w.t;
    let before = everything(t).await;
    for justification in [None, Some(""), Some("   \n  ")] {
        let body = CreateRequest { justification: justification.map(Into::into), ..ask("admin", "1h") };
        let p = expect_problem(w.bob.create_request(&body).await, 422, "request.justification_required");
        assert!(p.detail.contains("installation default"), "the detail names the policy: {p:?}");
    }
    assert_same(t, &before, "requests without a justification").await;

    let relaxed = w
        .admin
        .create_policy(&PolicyBody {
            justification_required: Some(false),
            ..policy_body("relaxed", vec![step("workspace_managers", 1)], None)
        })
        .await
        .unwrap();
    assert!(!relaxed.justification_required);
    entitle(&w.admin, "reader", Some(&relaxed), None).await;
    let r =
        w.bob.create_request(&CreateRequest { justification: None, ..ask("reader", "1h") }).await.unwrap();
    assert_eq!((r.state.as_str(), r.justification.as_deref()), ("pending", None));
    assert!(!r.policy.justification_required);
    w.t.stop().await;
}

#[tokio::test]
async fn emergency_requests_need_emergency_access_enabled() {
    let w = world(1).await;
    let t = &w.t;
    let before = everything(t).await;
    let p = expect_problem(
        w.bob.create_request(&ask_emergency("admin", "1h")).await,
        422,
        "request.emergency_disabled",
    );
    assert!(p.detail.contains("admin"), "{p:?}");
    assert_same(t, &before, "an emergency request where emergency access is disabled").await;

    // An emergency policy that is set but not enabled does not count either.
    let glass = new_policy(&w.admin, "glass", vec![], Some("4h")).await;
    let ent = w
        .admin
        .set_project_entitlement(
            WS,
            P,
            "admin",
            &EntitlementBody {
                request_policy: None,
                emergency_enabled: false,
                emergency_policy: Some(glass.id.clone()),
            },
        )
        .await
        .unwrap();
    assert!(!ent.emergency_enabled);
    let before = everything(t).await;
    expect_problem(
        w.bob.create_request(&ask_emergency("admin", "1h")).await,
        422,
        "request.emergency_disabled",
    );
    // Enabling emergency access without a policy is refused.
    expect_problem(
        w.admin
            .set_project_entitlement(
                WS,
                P,
                "admin",
                &EntitlementBody { request_policy: None, emergency_enabled: true, emergency_policy: None },
            )
            .await,
        422,
        "entitlement.emergency_policy_required",
    );
    assert_same(t, &before, "refused emergency requests and settings").await;

    // Escalating a normal request where emergency access is disabled is refused too.
    let r = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    let before = everything(t).await;
    expect_problem(w.bob.escalate_request(&r.id).await, 422, "request.emergency_disabled");
    assert_same(t, &before, "an escalation where emergency access is disabled").await;
    w.t.stop().await;
}

#[tokio::test]
async fn emergency_access_is_granted_at_once_flagged_and_reviewed() {
    let w = world(2).await;
    let t = &w.t;
    let glass = new_policy(&w.admin, "break glass", vec![], Some("4h")).await;
    entitle(&w.admin, "admin", None, Some(&glass)).await;
    let ent = w.admin.all_entitlements(WS).await.unwrap();
    let ent = ent
        .iter()
        .find(|e| e.project.as_deref() == Some(P) && e.role == breakglass_api::Role::Admin)
        .unwrap();
    assert!(ent.emergency_enabled && !ent.default, "{ent:?}");
    assert_eq!(ent.emergency_policy.as_ref().map(|p| p.name.as_str()), Some("break glass"));

    // The emergency maximum applies.
    let before = everything(t).await;
    let p = expect_problem(
        w.m(1).create_request(&ask_emergency("admin", "5h")).await,
        422,
        "request.duration_exceeds_max",
    );
    assert!(p.detail.contains("4h"), "{p:?}");
    // So does the emergency policy's justification rule.
    expect_problem(
        w.m(1).create_request(&CreateRequest { justification: None, ..ask_emergency("admin", "1h") }).await,
        422,
        "request.justification_required",
    );
    assert_same(t, &before, "refused emergency requests").await;

    // m1 (a manager) breaks the glass: granted at once, without any approval.
    let now = t.advance(Span::minutes(3));
    let r = w.m(1).create_request(&ask_emergency("admin", "2h")).await.unwrap();
    assert_eq!((r.state.as_str(), r.emergency), ("granted", true));
    assert!(r.approvals.is_empty());
    assert_eq!(r.decided_by, None, "nobody decided a grant without steps: {r:?}");
    assert_eq!(opt_time(&r.decided_at), Some(now));
    assert_eq!(r.policy.id, glass.id);
    let binding_id = r.binding_id.clone().expect("granted");

    let bs = bindings(t, &m(1), "admin").await;
    assert_eq!(bs.len(), 1, "{bs:#?}");
    assert_eq!(bs[0].id, binding_id);
    assert_eq!((bs[0].source.as_str(), bs[0].emergency), ("emergency", true));
    assert_eq!(bs[0].request_id.as_deref(), Some(r.id.as_str()));
    assert_eq!(opt_time(&bs[0].expires_at), Some(now.plus(Span::hours(2))));
    let c = check(t, &m(1), "admin").await;
    assert!(c.allowed, "{c:?}");
    assert_eq!(c.via.len(), 1);
    assert!(c.via[0].emergency, "the check flags emergency access: {c:?}");
    assert_eq!(
        (c.via[0].source.as_str(), c.via[0].request_id.as_deref()),
        ("emergency", Some(r.id.as_str()))
    );

    let evs = events_for(t, &r.id).await;
    assert_eq!(types(&evs), vec!["ACCESS_REQUESTED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED"]);
    assert_eq!(evs[0].details["emergency"], true);
    assert_eq!(evs[1].details["emergency"], true);
    assert_eq!(evs[1].details["binding_id"], binding_id.as_str());
    assert_eq!(evs[1].details["expires_at"].as_str().map(ts), Some(now.plus(Span::hours(2))));
    assert_eq!(evs[2].details["binding_id"], binding_id.as_str());
    assert_eq!(evs[2].subject.as_deref(), Some(m(1).as_str()));

    // One open review, counted on the workspace.
    let reviews = w.admin.all_reviews(&ReviewQuery::default()).await.unwrap();
    assert_eq!(reviews.len(), 1, "{reviews:#?}");
    let review = &reviews[0];
    assert_eq!(evs[2].details["review_id"], review.id.as_str());
    assert_eq!(
        (review.request_id.as_str(), review.binding_id.as_str()),
        (r.id.as_str(), binding_id.as_str())
    );
    assert_eq!(
        (review.holder.as_str(), review.workspace.as_str(), review.project.as_deref()),
        (m(1).as_str(), WS, Some(P))
    );
    assert_eq!((review.role.as_str(), review.state.as_str()), ("admin", "open"));
    assert_eq!(ts(&review.opened_at), now);
    assert_eq!((review.outcome.as_ref(), review.completed_by.as_ref()), (None, None));
    assert_eq!(w.admin.workspace(WS).await.unwrap().open_reviews, 1);
    assert_eq!(w.m(2).workspace(WS).await.unwrap().open_reviews, 1);
    // The holder sees their own review; a manager sees the workspace's.
    for c in [w.m(1), w.m(2), &w.olga] {
        let ids: Vec<String> =
            c.all_reviews(&ReviewQuery::default()).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![review.id.clone()]);
    }

    // The holder may not review their own emergency access, although a manager.
    let done = CompleteReview { outcome: "justified".into(), notes: Some("the deploy was stuck".into()) };
    let before = everything(t).await;
    expect_problem(w.m(1).complete_review(&review.id, &done).await, 403, "review.own_access");
    // A plain member may not review at all; an unknown outcome is refused.
    expect_problem(w.bob.complete_review(&review.id, &done).await, 403, "authz.forbidden");
    expect_problem(
        w.m(2).complete_review(&review.id, &CompleteReview { outcome: "fine".into(), notes: None }).await,
        400,
        "input.invalid_outcome",
    );
    assert_same(t, &before, "refused review completions").await;

    // Another manager completes it.
    let later = t.advance(Span::hours(1));
    let completed = w.m(2).complete_review(&review.id, &done).await.unwrap();
    assert_eq!(w.m(2).last_seq(), Some(t.seq().await));
    assert_eq!(
        (completed.state.as_str(), completed.outcome.map(|o| o.as_str())),
        ("completed", Some("justified"))
    );
    assert_eq!(completed.notes.as_deref(), Some("the deploy was stuck"));
    assert_eq!(completed.completed_by.as_deref(), Some(m(2).as_str()));
    assert_eq!(opt_time(&completed.completed_at), Some(later));
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "EMERGENCY_REVIEW_COMPLETED");
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (m(2).as_str(), Some(m(1).as_str())));
    assert_eq!(ev.details["review_id"], review.id.as_str());
    assert_eq!(ev.details["request_id"], r.id.as_str());
    assert_eq!(ev.details["binding_id"], binding_id.as_str());
    assert_eq!(ev.details["outcome"], "justified");
    assert_eq!(ev.details["notes"], "the deploy was stuck");
    assert_eq!(w.admin.workspace(WS).await.unwrap().open_reviews, 0);
    assert!(w.admin.all_reviews(&ReviewQuery::default()).await.unwrap().is_empty(), "no open review left");
    let completed_list = w
        .admin
        .all_reviews(&ReviewQuery { state: Some("completed".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(completed_list, vec![completed.clone()]);

    // The admin area does not review its own emergency access either.
    entitle(&w.admin, "user", None, Some(&glass)).await;
    let mine = w.admin.create_request(&ask_emergency("user", "1h")).await.unwrap();
    assert_eq!(mine.state, breakglass_api::RequestState::Granted);
    let own = w
        .admin
        .all_reviews(&ReviewQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.request_id == mine.id)
        .expect("the admin's emergency access is reviewed too");
    assert_eq!(own.holder, ADMIN_EMAIL);
    let before = everything(t).await;
    expect_problem(w.admin.complete_review(&own.id, &done).await, 403, "review.own_access");
    assert_same(t, &before, "the admin reviewing their own emergency access").await;
    w.m(2).complete_review(&own.id, &done).await.unwrap();

    // Completed once, for good.
    let before = everything(t).await;
    expect_problem(
        w.olga
            .complete_review(&review.id, &CompleteReview { outcome: "not_justified".into(), notes: None })
            .await,
        409,
        "review.completed",
    );
    assert_same(t, &before, "a second completion").await;
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn nobody_approves_their_own_request_by_session_token_or_override() {
    let w = world(1).await;
    let t = &w.t;
    // m1 is a manager, so in the approver set of their own request.
    let r = w.m(1).create_request(&ask("admin", "1h")).await.unwrap();
    let token = w.m(1).create_token(&CreateToken { name: "ci".into(), ..Default::default() }).await.unwrap();
    let by_token = t.client(&token.secret);
    assert_eq!(by_token.me().await.unwrap().user.email, m(1));
    assert!(w.m(1).all_tasks().await.unwrap().is_empty(), "one's own request is never a task");
    assert!(by_token.all_tasks().await.unwrap().is_empty());

    let before = everything(t).await;
    for c in [w.m(1), &by_token] {
        expect_problem(c.approve_request(&r.id, false).await, 403, "request.self_approval");
        expect_problem(c.approve_request(&r.id, true).await, 403, "request.self_approval");
        expect_problem(c.deny_request(&r.id, "never mind").await, 403, "request.self_approval");
    }
    assert_same(t, &before, "self-approvals by session and by API token").await;

    // The admin area cannot override its way around it either.
    let admin_req = w.admin.create_request(&ask("admin", "1h")).await.unwrap();
    assert_eq!((admin_req.user.as_str(), admin_req.state.as_str()), (ADMIN_EMAIL, "pending"));
    let employee = t.user_with_role("emma@example.com", Some("employee")).await;
    let emp_req = employee.create_request(&ask("user", "1h")).await.unwrap();
    let before = everything(t).await;
    expect_problem(w.admin.approve_request(&admin_req.id, true).await, 403, "request.self_approval");
    expect_problem(w.admin.approve_request(&admin_req.id, false).await, 403, "request.self_approval");
    expect_problem(employee.approve_request(&emp_req.id, true).await, 403, "request.self_approval");
    assert_same(t, &before, "self-overrides by the admin area").await;
    assert!(w.admin.all_tasks().await.unwrap().iter().all(|task| task.request.id != admin_req.id));

    // Someone else may.
    let g = w.olga.approve_request(&r.id, false).await.unwrap();
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    let g = w.admin.approve_request(&emp_req.id, true).await.unwrap();
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    assert!(g.approvals[0].is_override);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn one_person_counts_once_and_non_approvers_cannot_approve() {
    let w = world(2).await;
    let t = &w.t;
    let owners = new_policy(&w.admin, "owners only", vec![step("workspace_owners", 1)], None).await;
    entitle(&w.admin, "admin", Some(&owners), None).await;
    let auditor = t.user_with_role("audrey@example.com", Some("auditor")).await;
    let r = w.bob.create_request(&ask("admin", "1h")).await.unwrap();

    let before = everything(t).await;
    // A manager sees the request but is not an owner.
    let p = expect_problem(w.m(1).approve_request(&r.id, false).await, 403, "request.not_an_approver");
    assert!(p.detail.contains("step 1"), "{p:?}");
    expect_problem(w.m(1).approve_request(&r.id, true).await, 403, "request.not_an_approver");
    expect_problem(w.m(1).deny_request(&r.id, "no").await, 403, "request.not_an_approver");
    // An auditor reads everything and approves nothing.
    expect_problem(auditor.approve_request(&r.id, false).await, 403, "request.not_an_approver");
    expect_problem(auditor.approve_request(&r.id, true).await, 403, "request.not_an_approver");
    // A plain member does not even see someone else's request.
    expect_problem(w.carol.approve_request(&r.id, false).await, 404, "request.not_found");
    expect_problem(w.carol.request(&r.id).await, 404, "request.not_found");
    assert_same(t, &before, "approvals by non-approvers").await;
    assert!(w.m(1).all_tasks().await.unwrap().is_empty(), "not a task for a non-approver");
    assert!(auditor.all_tasks().await.unwrap().is_empty());

    // Two approvals needed: the same person approving twice, by another credential too, counts once.
    let two = new_policy(&w.admin, "two managers", vec![step("workspace_managers", 2)], None).await;
    entitle(&w.admin, "user", Some(&two), None).await;
    let r2 = w.bob.create_request(&ask("user", "1h")).await.unwrap();
    let once = w.m(1).approve_request(&r2.id, false).await.unwrap();
    assert_eq!((once.state.as_str(), once.approvals.len(), once.current_step), ("pending", 1, Some(1)));
    let token =
        w.m(1).create_token(&CreateToken { name: "again".into(), ..Default::default() }).await.unwrap();
    let m1_token = t.client(&token.secret);
    let before = everything(t).await;
    for c in [w.m(1), &m1_token] {
        expect_problem(c.approve_request(&r2.id, false).await, 409, "request.already_approved");
    }
    assert_same(t, &before, "a second approval by the same person").await;
    assert!(w.m(1).all_tasks().await.unwrap().is_empty(), "no task once approved");
    let done = w.m(2).approve_request(&r2.id, false).await.unwrap();
    assert_eq!(done.state, breakglass_api::RequestState::Granted);
    let mut by: Vec<&str> = done.approvals.iter().map(|a| a.by.as_str()).collect();
    by.sort_unstable();
    assert_eq!(by, vec![m(1).as_str(), m(2).as_str()]);
    assert!(done.approvals.iter().all(|a| a.step == 1 && !a.is_override));
    assert_eq!(events_for(t, &r2.id).await.iter().filter(|e| e.event_type == "REQUEST_APPROVED").count(), 2);
    assert_eq!(bindings(t, BOB, "user").await.len(), 1);

    // The owner approves the owners-only request.
    assert_eq!(
        w.olga.approve_request(&r.id, false).await.unwrap().state,
        breakglass_api::RequestState::Granted
    );
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn ordered_steps_are_approved_in_order() {
    let w = world(2).await;
    let t = &w.t;
    // The security officer is not a member of the workspace at all.
    let sec = t.user("sec@example.com").await;
    let two_steps = new_policy(
        &w.admin,
        "manager then security",
        vec![step("workspace_managers", 1), users_step(&["sec@example.com"], 1)],
        Some("1d"),
    )
    .await;
    assert_eq!(two_steps.steps[1].users, vec!["sec@example.com".to_owned()]);
    entitle(&w.admin, "admin", Some(&two_steps), None).await;
    let r = w.bob.create_request(&ask("admin", "8h")).await.unwrap();
    assert_eq!(r.current_step, Some(1));
    assert_eq!(r.policy.steps.len(), 2);

    // The named user sees the request but cannot approve before step 1 is done.
    assert_eq!(sec.request(&r.id).await.unwrap().id, r.id);
    assert!(sec.all_tasks().await.unwrap().is_empty(), "not sec's turn yet");
    let before = everything(t).await;
    let p = expect_problem(sec.approve_request(&r.id, false).await, 403, "request.not_an_approver");
    assert!(p.detail.contains("step 1"), "{p:?}");
    assert_same(t, &before, "an approval of a later step").await;

    let after1 = w.m(1).approve_request(&r.id, false).await.unwrap();
    assert_eq!((after1.state.as_str(), after1.current_step), ("pending", Some(2)));
    assert_eq!(after1.approvals.len(), 1);
    assert_eq!(after1.approvals[0].step, 1);
    assert!(!check(t, BOB, "admin").await.allowed, "nothing granted before the last step");
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "REQUEST_APPROVED");
    assert_eq!((ev.details["step"].as_u64(), ev.details["steps"].as_u64()), (Some(1), Some(2)));

    // Step 2 is sec's: managers cannot approve it, and it is sec's task now.
    let before = everything(t).await;
    expect_problem(w.m(2).approve_request(&r.id, false).await, 403, "request.not_an_approver");
    expect_problem(w.m(1).approve_request(&r.id, false).await, 409, "request.already_approved");
    assert_same(t, &before, "approvals of step 2 by managers").await;
    assert!(w.m(2).all_tasks().await.unwrap().is_empty());
    let tasks = sec.all_tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].can_approve && !tasks[0].override_only);

    let done = sec.approve_request(&r.id, false).await.unwrap();
    assert_eq!(done.state, breakglass_api::RequestState::Granted);
    assert_eq!(
        done.approvals.iter().map(|a| (a.by.as_str(), a.step)).collect::<Vec<_>>(),
        vec![(m(1).as_str(), 1), ("sec@example.com", 2)]
    );
    assert_eq!(done.decided_by.as_deref(), Some("sec@example.com"));
    let evs = events_for(t, &r.id).await;
    assert_eq!(
        types(&evs),
        vec!["ACCESS_REQUESTED", "REQUEST_APPROVED", "REQUEST_APPROVED", "ACCESS_GRANTED"]
    );
    assert_eq!(
        (evs[2].details["step"].as_u64(), evs[2].details["approver"].as_str()),
        (Some(2), Some("sec@example.com"))
    );
    assert!(check(t, BOB, "admin").await.allowed);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn escalation_keeps_approvals_and_shrinks_the_duration() {
    let w = world(3).await;
    let t = &w.t;
    let normal =
        new_policy(&w.admin, "three managers", vec![step("workspace_managers", 3)], Some("8h")).await;
    let emergency =
        new_policy(&w.admin, "two managers fast", vec![step("workspace_managers", 2)], Some("2h")).await;
    entitle(&w.admin, "admin", Some(&normal), Some(&emergency)).await;

    let r = w.bob.create_request(&ask("admin", "6h")).await.unwrap();
    w.m(1).approve_request(&r.id, false).await.unwrap();

    // Only the requester escalates.
    let before = everything(t).await;
    expect_problem(w.m(2).escalate_request(&r.id).await, 403, "authz.forbidden");
    assert_same(t, &before, "an escalation by someone else").await;

    let at = t.advance(Span::minutes(5));
    let e = w.bob.escalate_request(&r.id).await.unwrap();
    assert_eq!(w.bob.last_seq(), Some(t.seq().await));
    assert_eq!((e.state.as_str(), e.emergency), ("pending", true));
    assert_eq!(e.duration.as_deref(), Some("2h"), "the duration shrinks to the emergency maximum");
    assert_eq!(e.policy.id, emergency.id, "the emergency policy applies");
    assert_eq!(e.approvals.len(), 1, "m1's approval still counts: {e:?}");
    assert_eq!((e.approvals[0].by.as_str(), e.approvals[0].step), (m(1).as_str(), 1));
    assert_eq!(e.current_step, Some(1));
    assert_eq!(opt_time(&e.escalated_at), Some(at));
    let ev = event_for(t, &r.id, "REQUEST_ESCALATED").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (BOB, Some(BOB)));
    assert_eq!(ev.details["emergency"], true);
    assert_eq!(ev.details["from_duration"], "6h");
    assert_eq!(ev.details["duration"], "2h");
    assert_eq!(ev.details["approvals_kept"], json!([m(1)]));
    assert_eq!(ev.details["from_policy"]["policy_id"], normal.id.as_str());
    assert_eq!(ev.details["policy"]["policy_id"], emergency.id.as_str());

    // It is flagged as an emergency task; it cannot be escalated twice; m1 still counts once.
    let tasks = w.m(2).all_tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].request.emergency);
    let before = everything(t).await;
    expect_problem(w.bob.escalate_request(&r.id).await, 409, "request.already_emergency");
    expect_problem(w.m(1).approve_request(&r.id, false).await, 409, "request.already_approved");
    assert_same(t, &before, "a second escalation and a second approval").await;

    let granted_at = t.advance(Span::minutes(1));
    let g = w.m(2).approve_request(&r.id, false).await.unwrap();
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    let bs = bindings(t, BOB, "admin").await;
    assert_eq!(bs.len(), 1);
    assert_eq!((bs[0].source.as_str(), bs[0].emergency), ("emergency", true));
    assert_eq!(opt_time(&bs[0].expires_at), Some(granted_at.plus(Span::hours(2))));
    let granted = event_for(t, &r.id, "ACCESS_GRANTED").await;
    assert_eq!(granted.details["emergency"], true);
    event_for(t, &r.id, "EMERGENCY_REVIEW_OPENED").await;
    assert_eq!(w.admin.workspace(WS).await.unwrap().open_reviews, 1);

    // An emergency policy without steps grants on escalation.
    let glass = new_policy(&w.admin, "glass", vec![], Some("1h")).await;
    entitle(&w.admin, "user", Some(&normal), Some(&glass)).await;
    let r2 = w.carol.create_request(&ask("user", "4h")).await.unwrap();
    let e2 = w.carol.escalate_request(&r2.id).await.unwrap();
    assert_eq!((e2.state.as_str(), e2.emergency, e2.duration.as_deref()), ("granted", true, Some("1h")));
    let evs = events_for(t, &r2.id).await;
    assert_eq!(
        types(&evs),
        vec!["ACCESS_REQUESTED", "REQUEST_ESCALATED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED"]
    );
    assert_eq!(w.admin.workspace(WS).await.unwrap().open_reviews, 2);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn an_unreachable_quorum_is_reported_and_an_admin_override_grants() {
    let w = world(1).await;
    let t = &w.t;
    let two = new_policy(&w.admin, "two managers", vec![step("workspace_managers", 2)], None).await;
    entitle(&w.admin, "admin", Some(&two), None).await;
    let employee = t.user_with_role("emma@example.com", Some("employee")).await;

    // m1 asks; besides m1 only olga (the owner) is a manager: two approvals cannot be found.
    let r = w.m(1).create_request(&ask("admin", "1h")).await.unwrap();
    assert_eq!(r.state, breakglass_api::RequestState::Pending, "an unreachable quorum never auto-approves");
    assert!(r.quorum_unreachable, "{r:?}");
    let after = w.olga.approve_request(&r.id, false).await.unwrap();
    assert_eq!((after.state.as_str(), after.quorum_unreachable), ("pending", true));

    // Another manager makes it reachable; removing them makes it unreachable again.
    let _m9 = t.user("m9@example.com").await;
    set_ws_role(&w.admin, "m9@example.com", "manager").await;
    assert!(!w.m(1).request(&r.id).await.unwrap().quorum_unreachable);
    w.admin.remove_workspace_member(WS, "m9@example.com").await.unwrap();
    assert!(w.m(1).request(&r.id).await.unwrap().quorum_unreachable);

    // The admin area sees it as an override-only task; a plain approval is refused.
    for c in [&w.admin, &employee] {
        let tasks = c.all_tasks().await.unwrap();
        let task = tasks.iter().find(|task| task.request.id == r.id).expect("a task for the admin area");
        assert!(task.override_only && !task.can_approve, "{task:?}");
        assert!(task.request.quorum_unreachable);
    }
    let before = everything(t).await;
    let p = expect_problem(employee.approve_request(&r.id, false).await, 403, "request.not_an_approver");
    assert!(p.detail.contains("override"), "the refusal points at the override: {p:?}");
    // Olga already counted, override or not.
    expect_problem(w.olga.approve_request(&r.id, true).await, 409, "request.already_approved");
    assert_same(t, &before, "a plain approval by the admin area").await;

    let at = t.advance(Span::minutes(7));
    let g = w.admin.approve_request(&r.id, true).await.unwrap();
    assert_eq!((g.state.as_str(), g.quorum_unreachable), ("granted", false));
    assert_eq!(g.decided_by.as_deref(), Some(ADMIN_EMAIL));
    let last = g.approvals.last().unwrap();
    assert_eq!((last.by.as_str(), last.is_override, last.step), (ADMIN_EMAIL, true, 1));
    let bs = bindings(t, &m(1), "admin").await;
    assert_eq!(bs.len(), 1);
    assert_eq!((bs[0].source.as_str(), bs[0].request_id.as_deref()), ("request", Some(r.id.as_str())));
    assert_eq!(opt_time(&bs[0].expires_at), Some(at.plus(Span::hours(1))));
    let evs: Vec<AuditEvent> =
        events_for(t, &r.id).await.into_iter().filter(|e| e.event_type == "REQUEST_APPROVED").collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(
        (evs[0].details["approver"].as_str(), evs[0].details["override"].as_bool()),
        (Some(OLGA), Some(false))
    );
    assert_eq!((evs[1].actor.as_str(), evs[1].details["override"].as_bool()), (ADMIN_EMAIL, Some(true)));
    assert_eq!(evs[1].details["approver"], ADMIN_EMAIL);
    event_for(t, &r.id, "ACCESS_GRANTED").await;
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn a_second_open_request_for_the_same_access_is_refused() {
    let w = world(1).await;
    let t = &w.t;
    let first = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    let before = everything(t).await;
    let p = expect_problem(w.bob.create_request(&ask("admin", "2h")).await, 409, "request.duplicate");
    assert!(p.detail.contains(&first.id), "the refusal points at the open request: {p:?}");
    assert_same(t, &before, "a duplicate request").await;
    // An emergency request for the same access is a duplicate too: escalate instead.
    let glass = new_policy(&w.admin, "glass", vec![step("workspace_managers", 1)], Some("1h")).await;
    entitle(&w.admin, "admin", None, Some(&glass)).await;
    let before = everything(t).await;
    let p =
        expect_problem(w.bob.create_request(&ask_emergency("admin", "1h")).await, 409, "request.duplicate");
    assert!(p.detail.contains(&first.id), "{p:?}");
    assert_same(t, &before, "a duplicate emergency request").await;

    // Other roles, other users: no conflict.
    w.bob.create_request(&ask("user", "1h")).await.unwrap();
    w.carol.create_request(&ask("admin", "1h")).await.unwrap();

    // Once the first is cancelled, a new one may open.
    let cancelled = w.bob.cancel_request(&first.id).await.unwrap();
    assert_eq!(cancelled.state, breakglass_api::RequestState::Cancelled);
    let again = w.bob.create_request(&ask("admin", "2h")).await.unwrap();
    assert_ne!(again.id, first.id);
    w.t.stop().await;
}

#[tokio::test]
async fn terminal_requests_never_change_again() {
    let w = world(2).await;
    let t = &w.t;
    let glass = new_policy(&w.admin, "glass", vec![step("workspace_managers", 1)], Some("1h")).await;
    entitle(&w.admin, "admin", None, Some(&glass)).await;
    entitle(&w.admin, "user", None, Some(&glass)).await;
    entitle(&w.admin, "reader", None, Some(&glass)).await;

    let granted = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    assert_eq!(
        w.m(1).approve_request(&granted.id, false).await.unwrap().state,
        breakglass_api::RequestState::Granted
    );

    let denied = w.bob.create_request(&ask("user", "1h")).await.unwrap();
    // A denial needs a reason.
    let before = everything(t).await;
    expect_problem(w.m(1).deny_request(&denied.id, "   ").await, 422, "input.reason_required");
    // Only the requester (or whoever opened it) cancels.
    expect_problem(w.m(1).cancel_request(&denied.id).await, 403, "authz.forbidden");
    assert_same(t, &before, "a denial without a reason and a cancellation by a manager").await;
    let at = t.advance(Span::minutes(1));
    let d = w.m(1).deny_request(&denied.id, "not during the freeze").await.unwrap();
    assert_eq!((d.state.as_str(), d.deny_reason.as_deref()), ("denied", Some("not during the freeze")));
    assert_eq!((d.decided_by.as_deref(), opt_time(&d.decided_at)), (Some(m(1).as_str()), Some(at)));
    assert_eq!(d.binding_id, None);
    let ev = event_for(t, &denied.id, "REQUEST_DENIED").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (m(1).as_str(), Some(BOB)));
    assert_eq!(ev.details["reason"], "not during the freeze");
    assert_eq!(ev.details["step"].as_u64(), Some(1));
    assert!(bindings(t, BOB, "user").await.is_empty());

    let cancelled = w.bob.create_request(&ask("reader", "1h")).await.unwrap();
    let c = w.bob.cancel_request(&cancelled.id).await.unwrap();
    assert_eq!((c.state.as_str(), c.decided_by.as_deref()), ("cancelled", Some(BOB)));
    let ev = event_for(t, &cancelled.id, "REQUEST_CANCELLED").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (BOB, Some(BOB)));

    let before = everything(t).await;
    for (id, state) in [(&granted.id, "granted"), (&denied.id, "denied"), (&cancelled.id, "cancelled")] {
        let p = expect_problem(w.m(2).approve_request(id, false).await, 409, "request.not_pending");
        assert!(p.detail.contains(state), "{p:?}");
        expect_problem(w.admin.approve_request(id, true).await, 409, "request.not_pending");
        expect_problem(w.m(2).deny_request(id, "too late").await, 409, "request.not_pending");
        expect_problem(w.bob.cancel_request(id).await, 409, "request.not_pending");
        expect_problem(w.bob.escalate_request(id).await, 409, "request.not_pending");
        assert_eq!(w.bob.request(id).await.unwrap().state.as_str(), state);
    }
    assert_same(t, &before, "actions on finished requests").await;
    assert_eq!(bindings(t, BOB, "admin").await.len(), 1);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn pending_requests_lapse_after_their_ttl() {
    let w = world(1).await;
    let t = &w.t;
    let quick = w
        .admin
        .create_policy(&PolicyBody {
            pending_ttl: Some("1h".into()),
            ..policy_body("quick", vec![step("workspace_managers", 1)], None)
        })
        .await
        .unwrap();
    assert_eq!(quick.pending_ttl, "1h");
    let glass = new_policy(&w.admin, "glass", vec![step("workspace_managers", 1)], None).await;
    entitle(&w.admin, "admin", Some(&quick), Some(&glass)).await;
    let r = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    let lapses_at = ts(&r.lapses_at);
    assert_eq!(lapses_at, ts(T0).plus(Span::hours(1)));

    // A moment before, it is still open.
    t.set_time(plus_micros(lapses_at, -1));
    assert_eq!(w.m(1).all_tasks().await.unwrap().len(), 1);

    // From lapses_at on, nobody can act on it, whether or not the sweeper ran.
    t.set_time(lapses_at);
    assert!(w.m(1).all_tasks().await.unwrap().is_empty(), "a lapsed request is nobody's task");
    let before = everything(t).await;
    expect_problem(w.m(1).approve_request(&r.id, false).await, 409, "request.lapsed");
    expect_problem(w.admin.approve_request(&r.id, true).await, 409, "request.lapsed");
    expect_problem(w.m(1).deny_request(&r.id, "late").await, 409, "request.lapsed");
    expect_problem(w.bob.cancel_request(&r.id).await, 409, "request.lapsed");
    expect_problem(w.bob.escalate_request(&r.id).await, 409, "request.lapsed");
    assert_same(t, &before, "actions on a lapsed request").await;
    assert!(!check(t, BOB, "admin").await.allowed);

    // The sweeper records the lapse.
    assert_eq!(t.sweep().await, 1);
    let l = w.bob.request(&r.id).await.unwrap();
    assert_eq!((l.state.as_str(), l.current_step, l.binding_id.as_ref()), ("lapsed", None, None));
    assert_eq!(opt_time(&l.decided_at), Some(lapses_at));
    let ev = event_for(t, &r.id, "REQUEST_LAPSED").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), ("system", Some(BOB)));
    assert_eq!(ev.details["lapsed_at"].as_str().map(ts), Some(lapses_at));
    assert_eq!(t.sweep().await, 0, "a lapse is recorded once");
    let before = everything(t).await;
    expect_problem(w.m(1).approve_request(&r.id, false).await, 409, "request.not_pending");
    assert_same(t, &before, "an approval of a recorded lapse").await;

    // A lapsed request no longer blocks a new one.
    let again = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    assert_eq!(
        w.m(1).approve_request(&again.id, false).await.unwrap().state,
        breakglass_api::RequestState::Granted
    );
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn open_requests_keep_the_policy_they_were_opened_with() {
    let w = world(2).await;
    let t = &w.t;
    let p = new_policy(&w.admin, "flexible", vec![step("workspace_managers", 1)], Some("8h")).await;
    entitle(&w.admin, "admin", Some(&p), None).await;
    let r = w.bob.create_request(&ask("admin", "6h")).await.unwrap();

    t.advance(Span::minutes(1));
    let updated = w
        .admin
        .update_policy(
            &p.id,
            &PolicyBody {
                justification_required: Some(false),
                ..policy_body("stricter", vec![step("workspace_managers", 2)], Some("2h"))
            },
        )
        .await
        .unwrap();
    assert_eq!((updated.name.as_str(), updated.steps[0].count), ("stricter", 2));
    assert_eq!(t.last_event().await.event_type, "POLICY_UPDATED");

    // The open request still shows and uses the old copy.
    let seen = w.bob.request(&r.id).await.unwrap();
    assert_eq!(seen.policy, r.policy, "the open request keeps its copy");
    assert_eq!((seen.policy.name.as_str(), seen.policy.steps[0].count), ("flexible", 1));
    assert_eq!(seen.policy.max_duration.as_deref(), Some("8h"));
    let g = w.m(1).approve_request(&r.id, false).await.unwrap();
    assert_eq!(
        g.state,
        breakglass_api::RequestState::Granted,
        "one approval is enough under the copy it opened with"
    );
    assert_eq!(g.duration.as_deref(), Some("6h"));

    // New requests get the new definition.
    let before = everything(t).await;
    let e = expect_problem(
        w.carol.create_request(&ask("admin", "6h")).await,
        422,
        "request.duration_exceeds_max",
    );
    assert!(e.detail.contains("2h"), "{e:?}");
    assert_same(t, &before, "a request above the updated maximum").await;
    let r2 =
        w.carol.create_request(&CreateRequest { justification: None, ..ask("admin", "2h") }).await.unwrap();
    assert_eq!((r2.policy.name.as_str(), r2.policy.steps[0].count), ("stricter", 2));
    assert_eq!(
        w.m(1).approve_request(&r2.id, false).await.unwrap().state,
        breakglass_api::RequestState::Pending
    );

    // Changing the entitlement does not touch the open request either.
    entitle(&w.admin, "admin", None, None).await;
    let still = w.carol.request(&r2.id).await.unwrap();
    assert_eq!(still.policy.id, p.id);
    assert_eq!(still.policy.steps[0].count, 2);
    assert_eq!(
        w.m(2).approve_request(&r2.id, false).await.unwrap().state,
        breakglass_api::RequestState::Granted
    );
    w.t.stop().await;
}

#[tokio::test]
async fn a_holder_requesting_again_extends_the_grant() {
    let w = world(1).await;
    let t = &w.t;
    let r1 = w.bob.create_request(&ask("admin", "2h")).await.unwrap();
    let g1 = w.m(1).approve_request(&r1.id, false).await.unwrap();
    let binding_id = g1.binding_id.clone().unwrap();
    let first_end = ts(T0).plus(Span::hours(2));
    assert_eq!(opt_time(&bindings(t, BOB, "admin").await[0].expires_at), Some(first_end));

    // Half an hour later bob asks for four more hours: the same binding, a later end.
    let now = t.advance(Span::minutes(30));
    let r2 = w.bob.create_request(&ask("admin", "4h")).await.unwrap();
    let g2 = w.m(1).approve_request(&r2.id, false).await.unwrap();
    assert_eq!(g2.state, breakglass_api::RequestState::Granted);
    assert_eq!(g2.binding_id.as_deref(), Some(binding_id.as_str()), "the grant is extended, not doubled");
    let bs = bindings(t, BOB, "admin").await;
    assert_eq!(bs.len(), 1, "{bs:#?}");
    assert_eq!(bs[0].id, binding_id);
    assert_eq!(opt_time(&bs[0].expires_at), Some(now.plus(Span::hours(4))));
    let ev = event_for(t, &r2.id, "ACCESS_GRANTED").await;
    assert_eq!(ev.details["binding_id"], binding_id.as_str());
    assert_eq!(ev.details["extended"], true);
    assert_eq!(ev.details["expires_at"].as_str().map(ts), Some(now.plus(Span::hours(4))));
    let c = check(t, BOB, "admin").await;
    assert_eq!(c.via.len(), 1);
    assert_eq!(opt_time(&c.expires_at), Some(now.plus(Span::hours(4))));

    // A shorter request never shortens it.
    let r3 = w.bob.create_request(&ask("admin", "10m")).await.unwrap();
    let g3 = w.m(1).approve_request(&r3.id, false).await.unwrap();
    assert_eq!(g3.binding_id.as_deref(), Some(binding_id.as_str()));
    assert_eq!(opt_time(&bindings(t, BOB, "admin").await[0].expires_at), Some(now.plus(Span::hours(4))));

    // The old end passes; the extended grant still counts.
    t.set_time(first_end.plus(Span::minutes(1)));
    assert!(check(t, BOB, "admin").await.allowed);
    assert_eq!(t.sweep().await, 0);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn grants_are_revoked_early_by_the_holder_or_a_manager() {
    let w = world(1).await;
    let t = &w.t;
    let eve = t.user("eve@example.com").await;
    t.workspace("beta", &["eve@example.com"]).await;

    let r = w.bob.create_request(&ask("admin", "4h")).await.unwrap();
    let bob_binding = w.m(1).approve_request(&r.id, false).await.unwrap().binding_id.unwrap();
    let rc = w.carol.create_request(&ask("admin", "4h")).await.unwrap();
    let carol_binding = w.m(1).approve_request(&rc.id, false).await.unwrap().binding_id.unwrap();

    // Neither another member nor an outsider may revoke it.
    let before = everything(t).await;
    expect_problem(w.carol.revoke_grant(&bob_binding).await, 403, "authz.forbidden");
    expect_problem(eve.revoke_grant(&bob_binding).await, 404, "grant.not_found");
    assert_same(t, &before, "revocations by others").await;

    // The holder gives it up.
    let at = t.advance(Span::minutes(20));
    w.bob.revoke_grant(&bob_binding).await.unwrap();
    assert_eq!(w.bob.last_seq(), Some(t.seq().await));
    assert!(!check(t, BOB, "admin").await.allowed, "revoked access stops counting at once");
    assert!(bindings(t, BOB, "admin").await.is_empty());
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "GRANT_REVOKED");
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (BOB, Some(BOB)));
    assert_eq!(ts(&ev.time), at);
    assert_eq!(ev.details["binding_id"], bob_binding.as_str());
    assert_eq!(ev.details["source"], "request");
    assert_eq!(ev.details["request_id"], r.id.as_str());
    assert_eq!(ev.details["emergency"], false);
    // The request stays granted; revoking again finds nothing.
    assert_eq!(w.bob.request(&r.id).await.unwrap().state, breakglass_api::RequestState::Granted);
    let before = everything(t).await;
    expect_problem(w.bob.revoke_grant(&bob_binding).await, 404, "grant.not_found");
    expect_problem(w.m(1).revoke_grant(&bob_binding).await, 404, "grant.not_found");
    assert_same(t, &before, "a second revocation").await;

    // A manager revokes carol's.
    w.m(1).revoke_grant(&carol_binding).await.unwrap();
    assert!(!check(t, CAROL, "admin").await.allowed);
    let ev = t.last_event().await;
    assert_eq!(
        (ev.event_type.as_str(), ev.actor.as_str(), ev.subject.as_deref()),
        ("GRANT_REVOKED", m(1).as_str(), Some(CAROL))
    );

    // After a revocation a new request creates a new binding.
    let again = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    let g = w.m(1).approve_request(&again.id, false).await.unwrap();
    assert_ne!(g.binding_id.as_deref(), Some(bob_binding.as_str()));
    assert!(check(t, BOB, "admin").await.allowed);

    // Emergency access is revoked the same way (the review stays open).
    let glass = new_policy(&w.admin, "glass", vec![], Some("1h")).await;
    entitle(&w.admin, "user", None, Some(&glass)).await;
    let e = w.carol.create_request(&ask_emergency("user", "1h")).await.unwrap();
    let eb = e.binding_id.unwrap();
    w.m(1).revoke_grant(&eb).await.unwrap();
    assert!(!check(t, CAROL, "user").await.allowed);
    let ev = t.last_event().await;
    assert_eq!((ev.event_type.as_str(), ev.details["emergency"].as_bool()), ("GRANT_REVOKED", Some(true)));
    assert_eq!(w.admin.workspace(WS).await.unwrap().open_reviews, 1);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn a_manager_assignment_under_four_eyes_becomes_a_request() {
    let w = world(2).await;
    let t = &w.t;
    let four_eyes = new_policy(&w.admin, "four eyes", vec![step("workspace_managers", 2)], None).await;
    entitle(&w.admin, "admin", Some(&four_eyes), None).await;
    let m1_token = w.m(1).token().unwrap().to_owned();
    let path = format!("/api/v1/workspaces/{WS}/projects/{P}/members/{BOB}");

    // The policy wants a justification: the assignment says why or is refused.
    let before = everything(t).await;
    let raw =
        t.raw("PUT", &path, Some(&m1_token), Body::Json(&json!({"role": "admin", "expires_in": "2h"}))).await;
    raw.assert_problem(422, "request.justification_required");
    assert_same(t, &before, "an assignment without a justification").await;

    let raw = t
        .raw(
            "PUT",
            &path,
            Some(&m1_token),
            Body::Json(&json!({"role": "admin", "expires_in": "2h", "justification": "on call this week"})),
        )
        .await;
    assert_eq!(raw.status, 202, "{}", raw.text);
    assert_eq!(raw.seq, Some(t.seq().await), "a 202 is a write and carries Breakglass-Seq");
    let r: Request = serde_json::from_value(raw.body.clone()).expect("a request");
    assert_eq!((r.user.as_str(), r.created_by.as_str(), r.state.as_str()), (BOB, m(1).as_str(), "pending"));
    assert_eq!((r.role.as_str(), r.duration.as_deref()), ("admin", Some("2h")));
    assert_eq!(r.justification.as_deref(), Some("on call this week"));
    assert_eq!(r.approvals.len(), 1, "the manager's own approval comes with it: {r:?}");
    assert_eq!(
        (r.approvals[0].by.as_str(), r.approvals[0].step, r.approvals[0].is_override),
        (m(1).as_str(), 1, false)
    );
    assert_eq!(r.current_step, Some(1));

    // Nothing granted yet.
    assert!(!check(t, BOB, "admin").await.allowed);
    assert!(bindings(t, BOB, "admin").await.is_empty());
    let evs = events_for(t, &r.id).await;
    assert_eq!(types(&evs), vec!["ACCESS_REQUESTED", "REQUEST_APPROVED"]);
    assert_eq!((evs[0].actor.as_str(), evs[0].subject.as_deref()), (m(1).as_str(), Some(BOB)));
    assert_eq!(evs[0].details["assigned_by_manager"], true);
    assert_eq!(evs[1].details["approver"], m(1));
    assert!(t.events_of("PROJECT_USER_ASSIGNED").await.iter().all(|e| e.subject.as_deref() != Some(BOB)));

    // The same manager cannot approve it again; the same access cannot be asked twice.
    let before = everything(t).await;
    expect_problem(w.m(1).approve_request(&r.id, false).await, 409, "request.already_approved");
    let dup = expect_problem(w.bob.create_request(&ask("admin", "1h")).await, 409, "request.duplicate");
    assert!(dup.detail.contains(&r.id), "{dup:?}");
    expect_problem(
        w.m(1)
            .create_grant(&CreateGrant {
                user: BOB.into(),
                workspace: WS.into(),
                project: Some(P.into()),
                role: "admin".into(),
                expires_in: Some("1h".into()),
                reason: Some("again".into()),
                ..Default::default()
            })
            .await,
        409,
        "request.duplicate",
    );
    // Bob is the one it is for: he does not approve it.
    expect_problem(w.bob.approve_request(&r.id, false).await, 403, "request.self_approval");
    assert_same(t, &before, "refused second approvals and duplicates").await;

    // A second manager approves: granted, for two hours from now.
    let at = t.advance(Span::minutes(15));
    let g = w.m(2).approve_request(&r.id, false).await.unwrap();
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    let bs = bindings(t, BOB, "admin").await;
    assert_eq!(bs.len(), 1, "{bs:#?}");
    assert_eq!((bs[0].source.as_str(), bs[0].request_id.as_deref()), ("request", Some(r.id.as_str())));
    assert_eq!(opt_time(&bs[0].expires_at), Some(at.plus(Span::hours(2))));
    assert!(check(t, BOB, "admin").await.allowed);

    // A grant under the same policy becomes a request as well (202 through the client).
    let a = w
        .m(1)
        .create_grant(&CreateGrant {
            user: CAROL.into(),
            workspace: WS.into(),
            project: Some(P.into()),
            role: "admin".into(),
            expires_in: Some("1h".into()),
            reason: Some("pairing with bob".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(a.is_request(), "{a:?}");
    let cr = a.request().unwrap();
    assert_eq!((cr.user.as_str(), cr.created_by.as_str(), cr.approvals.len()), (CAROL, m(1).as_str(), 1));
    assert!(!check(t, CAROL, "admin").await.allowed);
    let cancelled = w.m(1).cancel_request(&cr.id).await.unwrap();
    assert_eq!(cancelled.state, breakglass_api::RequestState::Cancelled);

    // Where the policy needs one approval, the manager's assignment takes effect at once.
    match w
        .m(1)
        .set_project_member(WS, P, CAROL, &SetMember { role: "user".into(), ..Default::default() })
        .await
        .unwrap()
    {
        Assignment::Binding(b) => assert_eq!((b.source.as_str(), b.role.as_str()), ("direct", "user")),
        Assignment::Request(r) => panic!("a one-approval policy needs no request: {r:?}"),
    }
    // The admin area assigns directly even under four eyes.
    let direct = w
        .admin
        .set_project_member(WS, P, CAROL, &SetMember { role: "admin".into(), ..Default::default() })
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(direct.source, breakglass_api::BindingSource::Direct);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn a_manager_assignment_never_approves_for_themselves_nor_outside_their_steps() {
    let w = world(2).await;
    let t = &w.t;
    let capped =
        new_policy(&w.admin, "capped four eyes", vec![step("workspace_managers", 2)], Some("8h")).await;
    entitle(&w.admin, "admin", Some(&capped), None).await;
    let sec = t.user("sec@example.com").await;
    let named = new_policy(&w.admin, "security says", vec![users_step(&["sec@example.com"], 1)], None).await;
    entitle(&w.admin, "reader", Some(&named), None).await;
    let assign = |role: &str, expires_in: Option<&str>| SetMember {
        role: role.into(),
        expires_in: expires_in.map(Into::into),
        justification: Some("needed for the release".into()),
        ..Default::default()
    };

    // Above the policy's maximum, or standing where the policy has one: refused.
    let before = everything(t).await;
    let p = expect_problem(
        w.m(1).set_project_member(WS, P, BOB, &assign("admin", Some("9h"))).await,
        422,
        "request.duration_exceeds_max",
    );
    assert!(p.detail.contains("8h"), "{p:?}");
    expect_problem(
        w.m(1).set_project_member(WS, P, BOB, &assign("admin", None)).await,
        422,
        "request.duration_exceeds_max",
    );
    // Assigning oneself standing access under a policy with steps is refused outright.
    expect_problem(
        w.m(1).set_project_member(WS, P, &m(1), &assign("reader", None)).await,
        422,
        "request.self_assignment",
    );
    assert_same(t, &before, "refused assignments").await;

    // Assigning oneself is requesting: the request carries no approval of one's own.
    let own = w
        .m(1)
        .set_project_member(WS, P, &m(1), &assign("admin", Some("1h")))
        .await
        .unwrap()
        .request()
        .expect("a self-assignment under four eyes becomes a request");
    assert_eq!((own.user.as_str(), own.created_by.as_str()), (m(1).as_str(), m(1).as_str()));
    assert!(own.approvals.is_empty(), "one's own approval never counts: {own:?}");
    assert!(!check(t, &m(1), "admin").await.allowed);
    expect_problem(w.m(1).approve_request(&own.id, false).await, 403, "request.self_approval");

    // A one-approval policy whose step the manager is no approver of is not bypassed either.
    let r = w
        .m(1)
        .set_project_member(WS, P, BOB, &assign("reader", Some("1h")))
        .await
        .unwrap()
        .request()
        .expect("the manager is not sec: a request");
    assert!(r.approvals.is_empty(), "the manager's approval does not count for sec's step: {r:?}");
    assert!(!check(t, BOB, "reader").await.allowed);
    assert_eq!(sec.approve_request(&r.id, false).await.unwrap().state, breakglass_api::RequestState::Granted);
    assert!(check(t, BOB, "reader").await.allowed);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn tasks_list_emergency_first_and_override_only_for_the_admin_area() {
    let w = world(1).await;
    let t = &w.t;
    let dave = t.user("dave@example.com").await;
    set_ws_role(&w.admin, "dave@example.com", "member").await;
    let employee = t.user_with_role("emma@example.com", Some("employee")).await;
    let urgent = new_policy(&w.admin, "urgent", vec![step("workspace_managers", 1)], Some("1h")).await;
    entitle(&w.admin, "admin", None, Some(&urgent)).await;

    let r1 = w.bob.create_request(&ask("user", "1h")).await.unwrap();
    t.advance(Span::minutes(1));
    let r2 = w.carol.create_request(&ask_emergency("admin", "30m")).await.unwrap();
    assert_eq!((r2.state.as_str(), r2.emergency), ("pending", true));
    t.advance(Span::minutes(1));
    let r3 = dave.create_request(&ask("reader", "1h")).await.unwrap();

    let order = vec![r2.id.clone(), r1.id.clone(), r3.id.clone()];
    for c in [w.m(1), &w.olga] {
        let tasks = c.all_tasks().await.unwrap();
        assert_eq!(
            tasks.iter().map(|t| t.request.id.clone()).collect::<Vec<_>>(),
            order,
            "emergency first, then oldest"
        );
        assert!(tasks[0].request.emergency, "the emergency task is flagged");
        assert!(tasks[1..].iter().all(|t| !t.request.emergency));
        assert!(tasks.iter().all(|t| t.can_approve && !t.override_only), "{tasks:#?}");
    }
    for c in [&w.admin, &employee] {
        let tasks = c.all_tasks().await.unwrap();
        assert_eq!(tasks.iter().map(|t| t.request.id.clone()).collect::<Vec<_>>(), order);
        assert!(tasks.iter().all(|t| !t.can_approve && t.override_only), "{tasks:#?}");
    }
    // Paging keeps the order.
    let page = w.m(1).tasks(&PageQuery { limit: Some(1), cursor: None }).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].request.id, r2.id);
    assert!(page.next_cursor.is_some());
    // Requesters and plain members have no tasks.
    for c in [&w.bob, &w.carol, &dave] {
        assert!(c.all_tasks().await.unwrap().is_empty());
    }

    // Approving the emergency request takes it off everyone's list.
    assert_eq!(
        w.m(1).approve_request(&r2.id, false).await.unwrap().state,
        breakglass_api::RequestState::Granted
    );
    let tasks = w.olga.all_tasks().await.unwrap();
    assert_eq!(
        tasks.iter().map(|t| t.request.id.clone()).collect::<Vec<_>>(),
        vec![r1.id.clone(), r3.id.clone()]
    );

    // An employee overrides one; a plain approval is refused.
    expect_problem(employee.approve_request(&r1.id, false).await, 403, "request.not_an_approver");
    let g = employee.approve_request(&r1.id, true).await.unwrap();
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    assert!(g.approvals[0].is_override);
    let ev = event_for(t, &r1.id, "REQUEST_APPROVED").await;
    assert_eq!((ev.actor.as_str(), ev.details["override"].as_bool()), ("emma@example.com", Some(true)));
    let tasks = employee.all_tasks().await.unwrap();
    assert_eq!(tasks.iter().map(|t| t.request.id.clone()).collect::<Vec<_>>(), vec![r3.id.clone()]);
    w.t.stop().await;
}

#[tokio::test]
async fn outsiders_see_nothing_of_other_workspaces_requests() {
    let w = world(1).await;
    let t = &w.t;
    let eve = t.user("eve@example.com").await;
    t.workspace("beta", &["eve@example.com"]).await;
    let glass = new_policy(&w.admin, "glass", vec![], Some("1h")).await;
    let ws_policy = w
        .olga
        .create_policy(&PolicyBody {
            workspace: Some(WS.into()),
            ..policy_body("alpha only", vec![step("workspace_owners", 1)], None)
        })
        .await
        .unwrap();
    entitle(&w.admin, "admin", Some(&ws_policy), Some(&glass)).await;
    let pending = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    let emergency = w.carol.create_request(&ask_emergency("admin", "1h")).await.unwrap();
    let review = w.admin.all_reviews(&ReviewQuery::default()).await.unwrap().remove(0);
    let binding = emergency.binding_id.clone().unwrap();
    let unknown = "7d3c0d2e-1111-4222-8333-944455556666";

    let before = everything(t).await;
    for id in [pending.id.as_str(), emergency.id.as_str(), unknown] {
        expect_problem(eve.request(id).await, 404, "request.not_found");
        expect_problem(eve.approve_request(id, false).await, 404, "request.not_found");
        expect_problem(eve.deny_request(id, "mine now").await, 404, "request.not_found");
        expect_problem(eve.cancel_request(id).await, 404, "request.not_found");
        expect_problem(eve.escalate_request(id).await, 404, "request.not_found");
    }
    for id in [review.id.as_str(), unknown] {
        expect_problem(
            eve.complete_review(id, &CompleteReview { outcome: "justified".into(), notes: None }).await,
            404,
            "review.not_found",
        );
    }
    expect_problem(eve.revoke_grant(&binding).await, 404, "grant.not_found");
    expect_problem(eve.all_entitlements(WS).await, 404, "workspace.not_found");
    expect_problem(eve.all_entitlements("nowhere").await, 404, "workspace.not_found");
    expect_problem(
        eve.set_project_entitlement(WS, P, "admin", &EntitlementBody::default()).await,
        404,
        "workspace.not_found",
    );
    expect_problem(
        eve.set_workspace_entitlement(WS, "member", &EntitlementBody::default()).await,
        404,
        "workspace.not_found",
    );
    expect_problem(eve.policy(&ws_policy.id).await, 404, "policy.not_found");
    expect_problem(eve.create_request(&ask("admin", "1h")).await, 404, "workspace.not_found");
    expect_problem(eve.create_request(&ask_emergency("admin", "1h")).await, 404, "workspace.not_found");
    expect_problem(
        eve.create_policy(&PolicyBody { workspace: Some(WS.into()), ..policy_body("mine", vec![], None) })
            .await,
        404,
        "workspace.not_found",
    );
    assert_same(t, &before, "an outsider's attempts").await;

    // Lists simply leave alpha out.
    let visible = eve
        .all_requests(&RequestQuery { scope: Some("visible".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(visible.is_empty(), "{visible:#?}");
    let filtered = eve
        .all_requests(&RequestQuery {
            scope: Some("visible".into()),
            workspace: Some(WS.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(filtered.is_empty(), "{filtered:#?}");
    assert!(eve.all_tasks().await.unwrap().is_empty());
    for state in ["open", "completed", "all"] {
        let reviews =
            eve.all_reviews(&ReviewQuery { state: Some(state.into()), ..Default::default() }).await.unwrap();
        assert!(reviews.is_empty(), "{state}: {reviews:#?}");
    }
    let policies = eve.all_policies(&PolicyQuery::default()).await.unwrap();
    assert!(policies.iter().all(|p| p.id != ws_policy.id), "{policies:#?}");

    // Members of alpha do see alpha's entitlements and the workspace policy.
    assert_eq!(w.bob.policy(&ws_policy.id).await.unwrap().name, "alpha only");
    assert!(!w.bob.all_entitlements(WS).await.unwrap().is_empty());
    w.t.stop().await;
}

#[tokio::test]
async fn owners_and_admins_set_policies_and_entitlements() {
    let w = world(1).await;
    let t = &w.t;
    // A manager is not an owner: no policies, no entitlement settings.
    let before = everything(t).await;
    expect_problem(
        w.m(1)
            .create_policy(&PolicyBody { workspace: Some(WS.into()), ..policy_body("m1's", vec![], None) })
            .await,
        403,
        "authz.forbidden",
    );
    expect_problem(w.olga.create_policy(&policy_body("global", vec![], None)).await, 403, "authz.forbidden");
    expect_problem(
        w.m(1).set_project_entitlement(WS, P, "admin", &EntitlementBody::default()).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        w.bob.set_workspace_entitlement(WS, "manager", &EntitlementBody::default()).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        w.admin.update_policy(NIL, &policy_body("x", vec![], None)).await,
        422,
        "policy.default_immutable",
    );
    expect_problem(
        w.admin.create_policy(&policy_body("bad", vec![step("workspace_managers", 0)], None)).await,
        422,
        "policy.invalid",
    );
    expect_problem(
        w.admin.create_policy(&policy_body("bad", vec![step("everyone", 1)], None)).await,
        422,
        "policy.invalid",
    );
    expect_problem(
        w.admin.create_policy(&policy_body("bad", vec![users_step(&["nobody@example.com"], 1)], None)).await,
        422,
        "policy.unknown_approver",
    );
    assert_same(t, &before, "refused policy and entitlement changes").await;

    // The owner sets the workspace's own policies.
    let p = w
        .olga
        .create_policy(&PolicyBody {
            workspace: Some(WS.into()),
            ..policy_body("owner's", vec![step("workspace_owners", 1)], Some("1d"))
        })
        .await
        .unwrap();
    assert_eq!(w.olga.last_seq(), Some(t.seq().await));
    assert_eq!(t.last_event().await.event_type, "POLICY_CREATED");
    let e = w
        .olga
        .set_workspace_entitlement(
            WS,
            "manager",
            &EntitlementBody {
                request_policy: Some(p.id.clone()),
                emergency_enabled: false,
                emergency_policy: None,
            },
        )
        .await
        .unwrap();
    assert_eq!((e.request_policy.id.as_str(), e.default, e.project.as_ref()), (p.id.as_str(), false, None));
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "ENTITLEMENT_UPDATED");
    assert_eq!(ev.details["after"]["request_policy"], p.id.as_str());
    // Bob asks to become a manager: the owner's policy applies.
    let r = w.bob.create_request(&CreateRequest { project: None, ..ask("manager", "1d") }).await.unwrap();
    assert_eq!(r.policy.id, p.id);
    expect_problem(w.m(1).approve_request(&r.id, false).await, 403, "request.not_an_approver");
    let g = w.olga.approve_request(&r.id, false).await.unwrap();
    assert_eq!(g.state, breakglass_api::RequestState::Granted);
    let members = w.admin.all_workspace_members(WS).await.unwrap();
    let b = members
        .iter()
        .find(|b| b.user == BOB && b.role == breakglass_api::Role::Manager)
        .expect("bob's manager grant");
    assert_eq!((b.source.as_str(), b.request_id.as_deref()), ("request", Some(r.id.as_str())));
    w.t.stop().await;
}

#[tokio::test]
async fn writes_carry_breakglass_seq_and_refusals_do_not() {
    let w = world(2).await;
    let t = &w.t;
    let glass = new_policy(&w.admin, "glass", vec![], Some("1h")).await;
    entitle(&w.admin, "admin", None, Some(&glass)).await;
    let bob = w.bob.token().unwrap().to_owned();
    let m1 = w.m(1).token().unwrap().to_owned();
    let m2 = w.m(2).token().unwrap().to_owned();

    let body = serde_json::to_value(ask("user", "1h")).unwrap();
    let created = t.raw("POST", "/api/v1/requests", Some(&bob), Body::Json(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.seq, Some(t.seq().await));
    let id = created.body["id"].as_str().unwrap().to_owned();

    // A refusal carries no Breakglass-Seq (assert_problem checks it).
    t.raw("POST", &format!("/api/v1/requests/{id}/approve"), Some(&bob), Body::None)
        .await
        .assert_problem(403, "request.self_approval");
    t.raw("POST", "/api/v1/requests", Some(&bob), Body::Json(&body))
        .await
        .assert_problem(409, "request.duplicate");

    // Approve without a body, and with an explicit `{"override": false}`.
    let approved = t.raw("POST", &format!("/api/v1/requests/{id}/approve"), Some(&m1), Body::None).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.seq, Some(t.seq().await));
    assert_eq!(approved.body["state"], "granted");
    t.raw(
        "POST",
        &format!("/api/v1/requests/{id}/approve"),
        Some(&m2),
        Body::Json(&json!({"override": false})),
    )
    .await
    .assert_problem(409, "request.not_pending");

    let r = w.bob.create_request(&ask("reader", "1h")).await.unwrap();
    let denied = t
        .raw(
            "POST",
            &format!("/api/v1/requests/{}/deny", r.id),
            Some(&m1),
            Body::Json(&json!({"reason": "no"})),
        )
        .await;
    assert_eq!((denied.status, denied.seq), (200, Some(t.seq().await)), "{}", denied.text);

    let r = w.bob.create_request(&ask("reader", "1h")).await.unwrap();
    let cancelled = t.raw("POST", &format!("/api/v1/requests/{}/cancel", r.id), Some(&bob), Body::None).await;
    assert_eq!((cancelled.status, cancelled.seq), (200, Some(t.seq().await)), "{}", cancelled.text);

    let r = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    let escalated =
        t.raw("POST", &format!("/api/v1/requests/{}/escalate", r.id), Some(&bob), Body::None).await;
    assert_eq!((escalated.status, escalated.seq), (200, Some(t.seq().await)), "{}", escalated.text);
    assert_eq!(escalated.body["state"], "granted");
    let review = w.admin.all_reviews(&ReviewQuery::default()).await.unwrap().remove(0);
    let completed = t
        .raw(
            "POST",
            &format!("/api/v1/reviews/{}/complete", review.id),
            Some(&m1),
            Body::Json(&json!({"outcome": "not_justified", "notes": "should have asked"})),
        )
        .await;
    assert_eq!((completed.status, completed.seq), (200, Some(t.seq().await)), "{}", completed.text);
    let binding = escalated.body["binding_id"].as_str().unwrap();
    let revoked = t.raw("DELETE", &format!("/api/v1/grants/{binding}"), Some(&m2), Body::None).await;
    assert_eq!((revoked.status, revoked.seq), (204, Some(t.seq().await)), "{}", revoked.text);

    // Reads carry none.
    let read = t.raw("GET", &format!("/api/v1/requests/{id}"), Some(&bob), Body::None).await;
    assert_eq!((read.status, read.seq), (200, None));
    let tasks = t.raw("GET", "/api/v1/tasks", Some(&m1), Body::None).await;
    assert_eq!((tasks.status, tasks.seq), (200, None));
    w.t.stop().await;
}

#[tokio::test]
async fn the_audit_trail_of_requests_is_complete_and_chained() {
    let w = world(2).await;
    let t = &w.t;
    let glass = new_policy(&w.admin, "glass", vec![step("workspace_managers", 1)], Some("1h")).await;
    entitle(&w.admin, "admin", None, Some(&glass)).await;

    let granted = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    w.bob.escalate_request(&granted.id).await.unwrap();
    w.m(1).approve_request(&granted.id, false).await.unwrap();
    let review = w.admin.all_reviews(&ReviewQuery::default()).await.unwrap().remove(0);
    w.m(2)
        .complete_review(&review.id, &CompleteReview { outcome: "justified".into(), notes: None })
        .await
        .unwrap();
    let denied = w.carol.create_request(&ask("admin", "1h")).await.unwrap();
    w.m(1).deny_request(&denied.id, "one is enough").await.unwrap();
    let cancelled = w.carol.create_request(&ask("user", "1h")).await.unwrap();
    w.carol.cancel_request(&cancelled.id).await.unwrap();
    let lapsing = w.carol.create_request(&ask("reader", "1h")).await.unwrap();
    let revoked = w.bob.create_request(&ask("user", "1h")).await.unwrap();
    let revoked_binding = w.m(2).approve_request(&revoked.id, false).await.unwrap().binding_id.unwrap();
    w.m(1).revoke_grant(&revoked_binding).await.unwrap();
    // (Sessions end sooner than that: from here on the admin reads with its API token.)
    t.advance(Span::days(8));
    assert_eq!(t.sweep().await, 2, "bob's emergency admin expired and carol's reader request lapsed");

    assert_eq!(
        types(&events_for(t, &granted.id).await),
        vec![
            "ACCESS_REQUESTED",
            "REQUEST_ESCALATED",
            "REQUEST_APPROVED",
            "ACCESS_GRANTED",
            "EMERGENCY_REVIEW_OPENED",
            "EMERGENCY_REVIEW_COMPLETED",
        ]
    );
    assert_eq!(types(&events_for(t, &denied.id).await), vec!["ACCESS_REQUESTED", "REQUEST_DENIED"]);
    assert_eq!(types(&events_for(t, &cancelled.id).await), vec!["ACCESS_REQUESTED", "REQUEST_CANCELLED"]);
    assert_eq!(types(&events_for(t, &lapsing.id).await), vec!["ACCESS_REQUESTED", "REQUEST_LAPSED"]);
    assert_eq!(
        types(&events_for(t, &revoked.id).await),
        vec!["ACCESS_REQUESTED", "REQUEST_APPROVED", "ACCESS_GRANTED", "GRANT_REVOKED",]
    );
    let expired = t.events_of("BINDING_EXPIRED").await;
    assert_eq!(expired.len(), 1, "{expired:#?}");
    assert_eq!(expired[0].subject.as_deref(), Some(BOB));
    assert_eq!(expired[0].details["source"], "emergency");
    // Every request event is in the workspace's and the project's history, named and attributed.
    let history = w.admin.all_history(WS, Some(P), &Default::default()).await.unwrap();
    for id in [&granted.id, &denied.id, &cancelled.id, &lapsing.id, &revoked.id] {
        let all = events_for(t, id).await;
        assert!(
            all.iter().all(|e| e.workspace.as_deref() == Some(WS) && e.project.as_deref() == Some(P)),
            "{all:#?}"
        );
        assert!(all.iter().all(|e| e.details["role"].is_string()), "{all:#?}");
        for e in &all {
            assert!(
                history.iter().any(|h| h.seq == e.seq),
                "event {} missing from the project history",
                e.seq
            );
        }
    }
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test]
async fn a_named_approver_who_is_the_requester_does_not_count() {
    let w = world(1).await;
    let t = &w.t;
    let _sec = t.user("sec@example.com").await;
    let named =
        new_policy(&w.admin, "bob and sec", vec![users_step(&[BOB, "sec@example.com"], 2)], None).await;
    entitle(&w.admin, "admin", Some(&named), None).await;
    let r = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    assert!(r.quorum_unreachable, "bob cannot be one of the two: only sec is left: {r:?}");
    let before = everything(t).await;
    expect_problem(w.bob.approve_request(&r.id, false).await, 403, "request.self_approval");
    assert_same(t, &before, "a named approver approving their own request").await;
    assert!(w.bob.all_tasks().await.unwrap().is_empty());
    w.t.stop().await;
}

/// PRODUCT §2.4/§2.5: an admin-area admin may approve any pending request directly; when the
/// quorum is unreachable, the override is the way out. The admin being a workspace manager as
/// well must not take that way out away.
#[tokio::test]
async fn an_admin_who_is_also_a_manager_can_still_override() {
    let w = world(1).await;
    let t = &w.t;
    // The admin adds themselves as a manager of alpha (the admin area's only way in).
    w.admin.add_myself(WS, &breakglass_client::api::AddMyself::default()).await.unwrap();
    let three = new_policy(&w.admin, "three managers", vec![step("workspace_managers", 3)], None).await;
    entitle(&w.admin, "admin", Some(&three), None).await;
    // m1 asks; besides m1 only olga and the admin are managers: three approvals cannot be found.
    let r = w.m(1).create_request(&ask("admin", "1h")).await.unwrap();
    assert!(r.quorum_unreachable, "{r:?}");
    let g = w.admin.approve_request(&r.id, true).await.unwrap();
    assert_eq!(
        g.state,
        breakglass_api::RequestState::Granted,
        "an admin's override grants at once, even when the admin is also in the step's approver set: {g:#?}"
    );
    assert!(g.approvals.iter().any(|a| a.by == ADMIN_EMAIL && a.is_override), "{g:#?}");
    let ev = event_for(t, &r.id, "REQUEST_APPROVED").await;
    assert_eq!(ev.details["override"], true);
    w.t.stop().await;
}

/// One person counts once for the whole request, so a policy of two one-approval steps with a
/// single eligible approver can never complete: the request must say its quorum is unreachable
/// from the start, not only after that approver has used their one approval.
#[tokio::test]
async fn a_quorum_that_needs_one_person_twice_is_unreachable_from_the_start() {
    let w = world(0).await;
    let twice = new_policy(
        &w.admin,
        "manager, then manager again",
        vec![step("workspace_managers", 1), step("workspace_managers", 1)],
        None,
    )
    .await;
    entitle(&w.admin, "admin", Some(&twice), None).await;
    // Only olga (the owner) can approve anything in alpha.
    let carols = w.carol.create_request(&ask("admin", "1h")).await.unwrap();
    let after = w.olga.approve_request(&carols.id, false).await.unwrap();
    assert_eq!((after.state.as_str(), after.current_step), ("pending", Some(2)));
    assert!(after.quorum_unreachable, "nobody is left for step 2: {after:?}");
    expect_problem(w.olga.approve_request(&carols.id, false).await, 409, "request.already_approved");

    let bobs = w.bob.create_request(&ask("admin", "1h")).await.unwrap();
    assert!(
        bobs.quorum_unreachable,
        "two distinct approvals are needed and only olga can give one: the quorum is unreachable already: {bobs:#?}"
    );
    w.t.stop().await;
}

// ---- races ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Approve,
    Deny,
    Cancel,
}

/// Runs every job at once (released together by a barrier) against request `id`.
async fn race(jobs: Vec<(Client, Act)>, id: &str) -> Vec<(Act, Result<Request, ClientError>)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(jobs.len()));
    let mut set = tokio::task::JoinSet::new();
    for (c, act) in jobs {
        let (barrier, id) = (barrier.clone(), id.to_owned());
        set.spawn(async move {
            // Warm the connection first, so that the requests really arrive together.
            c.health().await.expect("healthz");
            barrier.wait().await;
            let r = match act {
                Act::Approve => c.approve_request(&id, false).await,
                Act::Deny => c.deny_request(&id, "racing").await,
                Act::Cancel => c.cancel_request(&id).await,
            };
            (act, r)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("the task completes"));
    }
    out
}

/// Asserts exactly one success, every other answer a 409 of an allowed code; returns the winner.
fn one_winner(results: Vec<(Act, Result<Request, ClientError>)>, allowed: &[&str]) -> (Act, Request) {
    let mut winners = Vec::new();
    let mut refusals = Vec::new();
    for (act, r) in results {
        match r {
            Ok(req) => winners.push((act, req)),
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{act:?}: {e}");
                let code = e.code().unwrap_or_default().to_owned();
                assert!(allowed.contains(&code.as_str()), "{act:?}: unexpected {code}: {e}");
                refusals.push(code);
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one action succeeds; winners {winners:#?}, refusals {refusals:?}");
    winners.remove(0)
}

const LOSERS: &[&str] = &["request.not_pending", "request.already_approved"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_simultaneous_approvals_grant_exactly_once() {
    let w = world(10).await;
    let t = &w.t;
    for round in 0..4 {
        let project = format!("p{round}");
        t.project(WS, &project).await;
        let r = w
            .bob
            .create_request(&CreateRequest { project: Some(project.clone()), ..ask("admin", "1h") })
            .await
            .unwrap();
        // Ten managers and the owner, each with their own client and session.
        let mut jobs: Vec<(Client, Act)> = w.managers.iter().map(|c| (c.clone(), Act::Approve)).collect();
        jobs.push((w.olga.clone(), Act::Approve));
        let (_, winner) = one_winner(race(jobs, &r.id).await, LOSERS);
        assert_eq!(winner.state, breakglass_api::RequestState::Granted);
        assert_eq!(winner.approvals.len(), 1);

        let after = w.bob.request(&r.id).await.unwrap();
        assert_eq!((after.state.as_str(), after.approvals.len()), ("granted", 1), "{after:#?}");
        assert_eq!(after.binding_id, winner.binding_id);
        let evs = events_for(t, &r.id).await;
        assert_eq!(
            types(&evs),
            vec!["ACCESS_REQUESTED", "REQUEST_APPROVED", "ACCESS_GRANTED"],
            "round {round}"
        );
        let members = w.admin.all_project_members(WS, &project).await.unwrap();
        let bob: Vec<&Binding> = members.iter().filter(|b| b.user == BOB).collect();
        assert_eq!(bob.len(), 1, "round {round}: one binding: {bob:#?}");
        assert_eq!(Some(&bob[0].id), after.binding_id.as_ref());
    }
    assert_eq!(t.events_of("ACCESS_GRANTED").await.len(), 4);
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_approve_deny_and_cancel_decide_exactly_once() {
    let w = world(8).await;
    let t = &w.t;
    for round in 0..4 {
        let project = format!("q{round}");
        t.project(WS, &project).await;
        let r = w
            .bob
            .create_request(&CreateRequest { project: Some(project.clone()), ..ask("admin", "1h") })
            .await
            .unwrap();
        let mut jobs: Vec<(Client, Act)> = w
            .managers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), if i % 2 == 0 { Act::Approve } else { Act::Deny }))
            .collect();
        jobs.push((w.bob.clone(), Act::Cancel));
        let (act, winner) = one_winner(race(jobs, &r.id).await, LOSERS);
        let expected = match act {
            Act::Approve => "granted",
            Act::Deny => "denied",
            Act::Cancel => "cancelled",
        };
        assert_eq!(winner.state.as_str(), expected);
        let after = w.bob.request(&r.id).await.unwrap();
        assert_eq!(after.state.as_str(), expected, "round {round}");
        let evs = events_for(t, &r.id).await;
        let decisions: Vec<&str> = types(&evs).into_iter().filter(|ty| *ty != "ACCESS_REQUESTED").collect();
        let want: Vec<&str> = match act {
            Act::Approve => vec!["REQUEST_APPROVED", "ACCESS_GRANTED"],
            Act::Deny => vec!["REQUEST_DENIED"],
            Act::Cancel => vec!["REQUEST_CANCELLED"],
        };
        assert_eq!(decisions, want, "round {round}");
        let held = w
            .admin
            .all_project_members(WS, &project)
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.user == BOB)
            .count();
        assert_eq!(held, usize::from(act == Act::Approve), "round {round}");
    }
    assert_chain(t).await;
    w.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_approvals_on_two_servers_grant_exactly_once() {
    let w = world(10).await;
    let a = &w.t;
    let mut requests = Vec::new();
    for round in 0..3 {
        let project = format!("s{round}");
        a.project(WS, &project).await;
        let r = w
            .bob
            .create_request(&CreateRequest { project: Some(project.clone()), ..ask("admin", "1h") })
            .await
            .unwrap();
        requests.push((project, r));
    }
    // B loads everything (sessions included) from the shared database.
    let b = a.second_server().await;
    assert_ne!(a.url, b.url);
    for (_, r) in &requests {
        let seen = b.client(w.m(1).token().unwrap()).request(&r.id).await.unwrap();
        assert_eq!(seen.state, breakglass_api::RequestState::Pending);
    }

    for (round, (project, r)) in requests.iter().enumerate() {
        let jobs: Vec<(Client, Act)> = w
            .managers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let token = c.token().unwrap();
                (if i % 2 == 0 { a.client(token) } else { b.client(token) }, Act::Approve)
            })
            .collect();
        let (_, winner) = one_winner(race(jobs, &r.id).await, LOSERS);
        assert_eq!(winner.state, breakglass_api::RequestState::Granted);
        let evs = events_for(a, &r.id).await;
        assert_eq!(
            types(&evs),
            vec!["ACCESS_REQUESTED", "REQUEST_APPROVED", "ACCESS_GRANTED"],
            "round {round}"
        );
        for server in [a, &b] {
            let seen = server.admin().request(&r.id).await.unwrap();
            assert_eq!(
                (seen.state.as_str(), seen.approvals.len()),
                ("granted", 1),
                "round {round}: {seen:#?}"
            );
            let held: Vec<Binding> = server
                .admin()
                .all_project_members(WS, project)
                .await
                .unwrap()
                .into_iter()
                .filter(|x| x.user == BOB)
                .collect();
            assert_eq!(held.len(), 1, "round {round}: {held:#?}");
        }
    }
    assert_eq!(a.events_of("ACCESS_GRANTED").await.len(), 3);
    for server in [a, &b] {
        assert_chain(server).await;
    }
    b.stop().await;
    w.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_approvals_of_a_two_approval_step_count_each_once() {
    let w = world(8).await;
    let t = &w.t;
    let two = new_policy(&w.admin, "two managers", vec![step("workspace_managers", 2)], None).await;
    for round in 0..3 {
        let project = format!("d{round}");
        t.project(WS, &project).await;
        w.admin
            .set_project_entitlement(
                WS,
                &project,
                "admin",
                &EntitlementBody { request_policy: Some(two.id.clone()), ..Default::default() },
            )
            .await
            .unwrap();
        let r = w
            .bob
            .create_request(&CreateRequest { project: Some(project.clone()), ..ask("admin", "1h") })
            .await
            .unwrap();
        let jobs: Vec<(Client, Act)> = w.managers.iter().map(|c| (c.clone(), Act::Approve)).collect();
        let results = race(jobs, &r.id).await;
        let mut ok = Vec::new();
        for (act, res) in results {
            match res {
                Ok(req) => ok.push(req),
                Err(e) => {
                    assert_eq!(e.status(), Some(409), "{act:?}: {e}");
                    assert!(LOSERS.contains(&e.code().unwrap_or_default()), "{e}");
                }
            }
        }
        assert_eq!(ok.len(), 2, "round {round}: exactly two approvals are taken: {ok:#?}");
        // An answer shows the request as the model has it after the approval's commit. When
        // the two approvals were committed in one group, that already includes the other one.
        let mut states: Vec<&str> = ok.iter().map(|r| r.state.as_str()).collect();
        states.sort_unstable();
        assert!(
            states == ["granted", "pending"] || states == ["granted", "granted"],
            "round {round}: {states:?}"
        );
        let after = w.bob.request(&r.id).await.unwrap();
        assert_eq!(after.state, breakglass_api::RequestState::Granted);
        let mut by: Vec<&str> = after.approvals.iter().map(|a| a.by.as_str()).collect();
        by.sort_unstable();
        by.dedup();
        assert_eq!(by.len(), 2, "two distinct approvers: {after:#?}");
        let evs = events_for(t, &r.id).await;
        assert_eq!(
            types(&evs),
            vec!["ACCESS_REQUESTED", "REQUEST_APPROVED", "REQUEST_APPROVED", "ACCESS_GRANTED"],
            "round {round}"
        );
        let held = w
            .admin
            .all_project_members(WS, &project)
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.user == BOB)
            .count();
        assert_eq!(held, 1, "round {round}");
    }
    assert_chain(t).await;
    w.t.stop().await;
}

/// Runs `n` identical requests for the same access at once through `clients` (round-robin).
async fn race_requests(
    clients: &[Client],
    body: &CreateRequest,
    n: usize,
) -> Vec<Result<Request, ClientError>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (c, barrier, body) = (clients[i % clients.len()].clone(), barrier.clone(), body.clone());
        set.spawn(async move {
            c.health().await.expect("healthz");
            barrier.wait().await;
            c.create_request(&body).await
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("the task completes"));
    }
    out
}

fn one_opened(results: Vec<Result<Request, ClientError>>) -> Request {
    let mut opened = Vec::new();
    for r in results {
        match r {
            Ok(req) => opened.push(req),
            Err(e) => {
                assert_eq!((e.status(), e.code()), (Some(409), Some("request.duplicate")), "{e}");
            }
        }
    }
    assert_eq!(opened.len(), 1, "exactly one request opens: {opened:#?}");
    opened.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_duplicate_requests_open_exactly_one() {
    let w = world(1).await;
    let t = &w.t;
    // Bob from several sessions and an API token at once.
    let mut clients = vec![w.bob.clone(), t.login(BOB).await, t.login(BOB).await];
    let token =
        w.bob.create_token(&CreateToken { name: "script".into(), ..Default::default() }).await.unwrap();
    clients.push(t.client(&token.secret));
    let opened = one_opened(race_requests(&clients, &ask("admin", "1h"), 10).await);
    let open: Vec<Request> = w
        .admin
        .all_requests(&RequestQuery { scope: Some("visible".into()), ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.user == BOB && r.role == breakglass_api::Role::Admin)
        .collect();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].id, opened.id);
    let requested = t
        .events_of("ACCESS_REQUESTED")
        .await
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some(BOB))
        .count();
    assert_eq!(requested, 1);

    // Across two servers on one database as well.
    let b = t.second_server().await;
    let token = w.bob.token().unwrap();
    let both = [t.client(token), b.client(token)];
    let opened = one_opened(race_requests(&both, &ask("user", "1h"), 10).await);
    assert_eq!(opened.role, breakglass_api::Role::User);
    for server in [t, &b] {
        let mine: Vec<Request> = server
            .client(token)
            .all_requests(&RequestQuery::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.role == breakglass_api::Role::User)
            .collect();
        assert_eq!(mine.len(), 1, "{mine:#?}");
    }
    assert_chain(&b).await;
    b.stop().await;
    w.t.stop().await;
}
