//! Scenario tests of the admin area and the workspace lifecycle in the core: settings,
//! self-service registration and its approval, disabling and enabling, quotas, creation with
//! initial users, renaming, "add myself" and leaving, invitations and sign-up, tags and messages.
//! Commands run against a `State` with a manual clock (the shared `World` of `common`); the tests
//! assert on error kinds and codes, workspace records, bindings, check decisions and the audit
//! events, and every test ends by verifying the audit chain it produced.

mod common;
use common::*;

use breakglass_core::audit::{AuditEvent, ChainVerifier};
use breakglass_core::check::{Decision, DenyReason};
use breakglass_core::cmd::admin::{self, Registering};
use breakglass_core::cmd::invitations;
use breakglass_core::cmd::messages;
use breakglass_core::cmd::requests::{self, NewRequest};
use breakglass_core::cmd::tags;
use breakglass_core::cmd::workspaces::{self, NewProject, NewWorkspace};
use breakglass_core::ident::{BindingId, InvitationId, MessageId, RequestId, UserId};
use breakglass_core::model::{BindingSource, PasswordHash, Project, Target, Workspace, WorkspaceStatus};
use breakglass_core::org::{
    InvitationState, MessageMode, Registration, Settings, Signup, TagDefinition, TagKey, TagRule, TagTarget,
    Tags,
};
use breakglass_core::role::{Role, WorkspaceRole};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Change, DomainError};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Harness: admin-area commands on top of the shared World
// ---------------------------------------------------------------------------------------------

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

const FORBIDDEN: Want = Want::Forbidden("authz.forbidden");
const INVISIBLE: Want = Want::NotFound("workspace.not_found");
const PENDING: Want = Want::Rule("workspace.pending_approval");
const DISABLED: Want = Want::Rule("workspace.disabled");
const REJECTED: Want = Want::Rule("workspace.rejected");

const ADMIN: &str = "admin@corp.io";
const EMP: &str = "emp@corp.io";
const AUD: &str = "aud@corp.io";
const OWNER: &str = "olivia@corp.io";
const MANAGER: &str = "mia@corp.io";
const MEMBER: &str = "max@corp.io";
const STRANGER: &str = "otto@corp.io";

/// A password hash as the server would store it; it must never show up in an event.
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$U2lnblVwU2VjcmV0SGFzaA";

fn wr(s: &str) -> WorkspaceRole {
    match wrole(s) {
        Role::Workspace(r) => r,
        Role::Project(_) => unreachable!("wrole parses workspace roles"),
    }
}

fn key(s: &str) -> TagKey {
    TagKey::parse(s).unwrap()
}

fn tags_of(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| (key(k), (*v).to_owned())).collect()
}

/// A tag definition: not restricted, not mandatory, no default (tests vary it with `..`).
fn tag_def(k: &str, target: TagTarget, rule: TagRule) -> TagDefinition {
    TagDefinition {
        key: key(k),
        target,
        restricted: false,
        rule,
        mandatory: false,
        default: None,
        created_at: at(START),
    }
}

fn values(v: &[&str]) -> TagRule {
    TagRule::Values(v.iter().map(|s| (*s).to_owned()).collect())
}

fn new_ws(id: &str, owners: &[&str], members: &[(&str, &str)]) -> NewWorkspace {
    NewWorkspace {
        id: slug(id),
        name: name(id),
        owners: owners.iter().map(|o| email(o)).collect(),
        members: members.iter().map(|(e, r)| (email(e), wr(r))).collect(),
        project_quota: 5,
        tags: Tags::new(),
    }
}

/// A (user, role, expiry) triple as `holders` reports them.
fn held(who: &str, role: &str, until: Option<Timestamp>) -> (String, String, Option<Timestamp>) {
    (who.to_owned(), role.to_owned(), until)
}

fn denied_as_not_active(d: &Decision) -> bool {
    !d.allowed && d.reason == Some(DenyReason::WorkspaceNotActive) && d.via.is_empty()
}

impl World {
    /// Changes the installation settings as the admin.
    fn configure(&mut self, change: impl FnOnce(&mut Settings)) {
        let mut s = self.state.settings().clone();
        change(&mut s);
        ok(self.as_user(ADMIN, move |st, c| admin::update_settings(st, c, s)));
    }

    fn settings_as(&mut self, by: &str, s: Settings) -> Res<()> {
        self.as_user(by, move |st, c| admin::update_settings(st, c, s))
    }

    fn register(&mut self, by: &str, id: &str) -> Res<()> {
        self.register_tagged(by, id, Tags::new())
    }

    fn register_tagged(&mut self, by: &str, id: &str, tags: Tags) -> Res<()> {
        let reg = Registering { id: slug(id), name: name(id), tags };
        self.as_user(by, move |s, c| admin::register_workspace(s, c, reg))
    }

    fn decide_on(&mut self, by: &str, id: &str, approve: bool) -> Res<()> {
        let id = slug(id);
        self.as_user(by, move |s, c| {
            admin::decide_registration(s, c, &id, approve, Some("checked the cost centre".into()))
        })
    }

    fn set_enabled(&mut self, by: &str, id: &str, enabled: bool) -> Res<()> {
        let id = slug(id);
        self.as_user(by, move |s, c| admin::set_workspace_enabled(s, c, &id, enabled, Some("billing".into())))
    }

    fn set_quota(&mut self, by: &str, id: &str, quota: u32) -> Res<()> {
        let id = slug(id);
        self.as_user(by, move |s, c| admin::set_quota(s, c, &id, quota))
    }

    fn rename(&mut self, by: &str, id: &str, to: &str) -> Res<()> {
        let (id, to) = (slug(id), name(to));
        self.as_user(by, move |s, c| admin::rename_workspace(s, c, &id, to))
    }

    fn add_myself(&mut self, by: &str, id: &str, until: Option<Timestamp>) -> Res<()> {
        let id = slug(id);
        self.as_user(by, move |s, c| admin::add_myself(s, c, &id, until))
    }

    fn leave(&mut self, by: &str, id: &str) -> Res<()> {
        let id = slug(id);
        self.as_user(by, move |s, c| admin::leave_workspace(s, c, &id))
    }

    fn new_workspace(&mut self, by: &str, new: NewWorkspace) -> Res<()> {
        self.as_user(by, move |s, c| workspaces::create_workspace(s, c, new))
    }

    fn new_project(&mut self, by: &str, id: &str, p: &str, tags: Tags) -> Res<()> {
        let new = NewProject { workspace: slug(id), id: slug(p), name: name(p), tags };
        self.as_user(by, move |s, c| workspaces::create_project(s, c, new))
    }

    fn request_access(&mut self, who: &str, target: &Target, role: Role) -> Res<RequestId> {
        let new = NewRequest {
            target: target.clone(),
            role,
            duration: Span::hours(2),
            justification: Some("INC-7: the on-call needs it".into()),
            emergency: false,
        };
        self.as_user(who, move |s, c| requests::create_request(s, c, new))
    }

    fn invite(
        &mut self,
        by: &str,
        id: &str,
        who: &str,
        role: &str,
        membership_until: Option<Timestamp>,
    ) -> Res<InvitationId> {
        let (id, who, role) = (slug(id), email(who), wr(role));
        // A fresh secret per invitation, as the server draws one; only its digest is stored.
        let secret = format!("bgi_secret-{}", self.invitation_secrets.len() + 1);
        let digest = secret_hash(&secret);
        let r =
            self.as_user(by, move |s, c| invitations::invite(s, c, &id, who, role, membership_until, digest));
        if let Ok(d) = &r {
            self.invitation_secrets.insert(d.value, secret);
        }
        r
    }

    /// The secret handed out with invitation `id` (what the inviter passes on).
    fn secret(&self, id: InvitationId) -> String {
        self.invitation_secrets.get(&id).cloned().expect("an invitation issued through `invite`")
    }

    /// Accepts with the invitation's own secret.
    fn accept(&mut self, by: &str, id: InvitationId) -> Res<()> {
        let secret = self.secret(id);
        self.accept_with(by, id, &secret)
    }

    fn accept_with(&mut self, by: &str, id: InvitationId, secret: &str) -> Res<()> {
        let digest = secret_hash(secret);
        self.as_user(by, move |s, c| invitations::accept(s, c, id, digest))
    }

    fn decline(&mut self, by: &str, id: InvitationId) -> Res<()> {
        self.as_user(by, move |s, c| invitations::decline(s, c, id))
    }

    fn cancel_invitation(&mut self, by: &str, id: InvitationId) -> Res<()> {
        self.as_user(by, move |s, c| invitations::cancel(s, c, id))
    }

    /// The open invitations addressed to `who`, oldest first.
    fn pending(&self, who: &str) -> Vec<InvitationId> {
        invitations::pending_for(&self.state, &email(who), self.now).into_iter().map(|i| i.id).collect()
    }

    fn invitation_state(&self, id: InvitationId) -> InvitationState {
        self.state.invitation(id).expect("the invitation exists").state
    }

    /// Signs `who` up with a password and, if given, an invitation's secret; nobody is signed in
    /// yet, so the system carries it.
    fn sign_up(&mut self, who: &str, invitation_secret: Option<&str>) -> Res<UserId> {
        let (e, n) = (email(who), name(who));
        let token = invitation_secret.map(secret_hash);
        self.system(move |s, c| {
            invitations::sign_up(s, c, e, n, PasswordHash(PASSWORD_HASH.to_owned()), token)
        })
    }

    fn define(&mut self, by: &str, def: TagDefinition) -> Res<()> {
        self.as_user(by, move |s, c| tags::define_tag(s, c, def))
    }

    fn tag(&mut self, by: &str, target: &Target, k: &str, value: Option<&str>) -> Res<()> {
        let (target, k, value) = (target.clone(), key(k), value.map(str::to_owned));
        self.as_user(by, move |s, c| tags::set_tag(s, c, &target, &k, value))
    }

    fn send(&mut self, by: &str, id: &str, text: &str, mode: MessageMode) -> Res<MessageId> {
        let (id, text) = (slug(id), text.to_owned());
        self.as_user(by, move |s, c| messages::send(s, c, &id, text, mode))
    }

    fn ack(&mut self, by: &str, id: MessageId) -> Res<()> {
        self.as_user(by, move |s, c| messages::acknowledge(s, c, id))
    }

    fn unread(&self, who: &str) -> Vec<MessageId> {
        let ctx = self.read_ctx(who, self.bounds.clone());
        messages::unread(&self.state, &ctx).into_iter().map(|m| m.id).collect()
    }

    fn workspace(&self, id: &str) -> &Workspace {
        self.state.workspace(&slug(id)).unwrap_or_else(|| panic!("no workspace {id}"))
    }

    fn status(&self, id: &str) -> WorkspaceStatus {
        self.workspace(id).status
    }

    fn projects(&self, id: &str) -> Vec<Project> {
        let id = slug(id);
        self.state.projects_of(&id).cloned().collect()
    }

    /// The effective direct memberships on a workspace: (e-mail, role, expiry), sorted.
    fn holders(&self, id: &str) -> Vec<(String, String, Option<Timestamp>)> {
        let mut v: Vec<_> = self
            .state
            .bindings_on(&ws(id))
            .filter(|b| b.source == BindingSource::Direct && b.is_effective(self.now))
            .map(|b| {
                (self.state.user(b.user).unwrap().email.to_string(), b.role.as_str().to_owned(), b.expires_at)
            })
            .collect();
        v.sort();
        v
    }

    /// The id of `who`'s effective direct membership on the workspace.
    fn membership(&self, who: &str, id: &str) -> BindingId {
        let user = self.id(who);
        self.state
            .bindings_on(&ws(id))
            .find(|b| b.user == user && b.source == BindingSource::Direct && b.is_effective(self.now))
            .unwrap_or_else(|| panic!("{who} holds no membership on {id}"))
            .id
    }

    fn count(&self, event_type: &str) -> usize {
        self.log.iter().filter(|e| e.event_type == event_type).count()
    }

    /// Puts a workspace into a status directly, bypassing the commands: used only to build a
    /// registration that waits for approval while already having managers and members, which
    /// no command can produce but which the authorization of the decision must still handle.
    fn put_status(&mut self, id: &str, status: WorkspaceStatus) {
        let w = Workspace { status, ..self.workspace(id).clone() };
        self.state.apply(&Change::UpdateWorkspace(w));
    }

    /// Recomputes the whole audit chain and checks it ends at the state's head.
    #[track_caller]
    fn verify_chain(&self) {
        let mut v = ChainVerifier::new();
        for e in &self.log {
            v.push(e).unwrap_or_else(|b| panic!("chain broken at {}: {}", b.seq, b.reason));
        }
        assert_eq!(v.finish(self.log.len() as i64).unwrap(), self.state.head());
    }
}

fn one(d: &Done<impl Sized>) -> &AuditEvent {
    assert_eq!(d.events.len(), 1, "exactly one event: {:?}", d.types());
    &d.events[0]
}

// ---------------------------------------------------------------------------------------------
// Registration and approval
// ---------------------------------------------------------------------------------------------

#[test]
fn self_service_registration_follows_the_registration_setting() {
    let rows = [
        (Registration::Open, Want::Ok, Some(WorkspaceStatus::Active)),
        (Registration::Approval, Want::Ok, Some(WorkspaceStatus::PendingApproval)),
        (Registration::Closed, Want::Forbidden("workspace.registration_closed"), None),
    ];
    for (setting, expected, status) in rows {
        let mut w = World::team();
        w.configure(|s| {
            s.workspace_registration = setting;
            s.default_project_quota = 3;
        });
        let before = w.log.len();
        let r = w.register(STRANGER, "otto-lab");
        assert_eq!(want(&r), expected, "{setting:?}");
        let Some(status) = status else {
            assert!(w.state.workspace(&slug("otto-lab")).is_none(), "{setting:?}: nothing created");
            assert_eq!(w.log.len(), before, "{setting:?}: nothing recorded");
            continue;
        };
        let d = r.unwrap();
        assert_eq!(d.types(), ["WORKSPACE_REGISTERED", "USER_ASSIGNED"], "{setting:?}");
        let ev = &d.events[0];
        assert_eq!(ev.actor, STRANGER);
        assert_eq!(ev.subject.as_deref(), Some(STRANGER));
        assert_eq!(ev.workspace.as_deref(), Some("otto-lab"));
        assert_eq!(ev.details["status"], status.as_str());
        assert_eq!(ev.details["project_quota"], 3, "registration takes the installation default quota");
        assert_eq!(d.events[1].details["role"], "owner");
        let lab = w.workspace("otto-lab");
        assert_eq!((lab.status, lab.project_quota), (status, 3), "{setting:?}");
        assert_eq!(w.holders("otto-lab"), [held(STRANGER, "owner", None)], "the registrant owns it");
        let usable = w.check(STRANGER, &ws("otto-lab"), wrole("owner"));
        assert_eq!(usable.allowed, status == WorkspaceStatus::Active, "{setting:?}");
        // The identifier is taken, whatever the status.
        assert_eq!(want(&w.register("alice@corp.io", "otto-lab")), Want::Conflict("workspace.exists"));
        w.verify_chain();
    }
    // Registering an identifier the admin area already used is refused in every mode.
    let mut w = World::team();
    w.configure(|s| s.workspace_registration = Registration::Open);
    assert_eq!(want(&w.register(STRANGER, "team-a")), Want::Conflict("workspace.exists"));
}

#[test]
fn a_registration_waiting_for_approval_is_usable_by_nobody_until_approved() {
    let mut w = World::team();
    assert_eq!(w.state.settings().workspace_registration, Registration::Approval, "the default");
    ok(w.register(STRANGER, "otto-lab"));
    let lab = ws("otto-lab");
    assert_eq!(w.status("otto-lab"), WorkspaceStatus::PendingApproval);
    assert!(denied_as_not_active(&w.check(STRANGER, &lab, wrole("owner"))));
    assert!(denied_as_not_active(&w.check(STRANGER, &lab, wrole("member"))));

    let before = w.log.len();
    let in_an_hour = w.now.plus(Span::hours(1));
    let attempts = [
        ("owner creates a project", want(&w.create_project(STRANGER, "otto-lab", "p1")), PENDING),
        ("employee creates a project", want(&w.create_project(EMP, "otto-lab", "p1")), PENDING),
        (
            "owner sets a member",
            want(&w.set(STRANGER, &lab, "alice@corp.io", wrole("member"), None)),
            PENDING,
        ),
        (
            "employee sets a manager",
            want(&w.set(EMP, &lab, "alice@corp.io", wrole("manager"), None)),
            PENDING,
        ),
        (
            "employee grants",
            want(&w.grant(EMP, &lab, "alice@corp.io", wrole("manager"), in_an_hour)),
            PENDING,
        ),
        ("owner requests", want(&w.request_access(STRANGER, &lab, wrole("manager"))), PENDING),
        ("employee requests", want(&w.request_access(EMP, &lab, wrole("member"))), PENDING),
        ("owner invites", want(&w.invite(STRANGER, "otto-lab", "alice@corp.io", "member", None)), PENDING),
        (
            "employee adds themselves",
            want(&w.add_myself(EMP, "otto-lab", None)),
            Want::Rule("workspace.not_approved"),
        ),
        (
            "employee disables",
            want(&w.set_enabled(EMP, "otto-lab", false)),
            Want::Conflict("workspace.not_approved"),
        ),
        (
            "employee enables",
            want(&w.set_enabled(EMP, "otto-lab", true)),
            Want::Conflict("workspace.not_approved"),
        ),
    ];
    for (label, got, expected) in attempts {
        assert_eq!(got, expected, "{label}");
    }
    assert_eq!(w.log.len(), before, "nothing was recorded");
    assert!(w.projects("otto-lab").is_empty());
    assert_eq!(w.holders("otto-lab"), [held(STRANGER, "owner", None)]);
    assert_eq!(w.status("otto-lab"), WorkspaceStatus::PendingApproval);

    // A reason the audit log should not carry is refused, as for a grant.
    let id = slug("otto-lab");
    for bad in ["line\u{0}break".to_owned(), "x".repeat(1001)] {
        let (i, b) = (id.clone(), bad.clone());
        let r = w.as_user(EMP, move |s, c| admin::decide_registration(s, c, &i, true, Some(b)));
        assert_eq!(want(&r), Want::Invalid("input.invalid_reason"));
        let (i, b) = (slug("team-a"), bad);
        let r = w.as_user(EMP, move |s, c| admin::set_workspace_enabled(s, c, &i, false, Some(b)));
        assert_eq!(want(&r), Want::Invalid("input.invalid_reason"));
    }
    assert_eq!(w.log.len(), before, "nothing was recorded");

    // The employee approves: the workspace becomes usable with the default quota.
    let d = ok(w.decide_on(EMP, "otto-lab", true));
    let ev = one(&d);
    assert_eq!(ev.event_type, "WORKSPACE_APPROVED");
    assert_eq!((ev.actor.as_str(), ev.workspace.as_deref()), (EMP, Some("otto-lab")));
    assert_eq!(ev.details, json!({"reason": "checked the cost centre"}));
    assert_eq!(w.status("otto-lab"), WorkspaceStatus::Active);
    assert!(w.check(STRANGER, &lab, wrole("owner")).allowed);
    assert_eq!(w.workspace("otto-lab").project_quota, 20);
    ok(w.create_project(STRANGER, "otto-lab", "p1"));
    ok(w.set(STRANGER, &lab, "alice@corp.io", wrole("member"), None));
    assert!(w.check("alice@corp.io", &lab, wrole("member")).allowed);

    // Deciding again is a conflict, whichever way.
    for approve in [true, false] {
        assert_eq!(want(&w.decide_on(ADMIN, "otto-lab", approve)), Want::Conflict("workspace.not_pending"));
    }
    assert_eq!(want(&w.decide_on(ADMIN, "team-a", true)), Want::Conflict("workspace.not_pending"));
    w.verify_chain();
}

#[test]
fn a_rejected_registration_stays_unusable_and_keeps_its_identifier() {
    let mut w = World::team();
    ok(w.register(STRANGER, "otto-lab"));
    let d = ok(w.decide_on(ADMIN, "otto-lab", false));
    let ev = one(&d);
    assert_eq!(ev.event_type, "WORKSPACE_REJECTED");
    assert_eq!((ev.actor.as_str(), ev.workspace.as_deref()), (ADMIN, Some("otto-lab")));
    assert_eq!(ev.details["reason"], "checked the cost centre");
    assert_eq!(w.status("otto-lab"), WorkspaceStatus::Rejected);

    let lab = ws("otto-lab");
    assert!(denied_as_not_active(&w.check(STRANGER, &lab, wrole("owner"))));
    let before = w.log.len();
    let attempts = [
        ("owner creates a project", want(&w.create_project(STRANGER, "otto-lab", "p1")), REJECTED),
        ("admin sets a member", want(&w.set(ADMIN, &lab, "alice@corp.io", wrole("member"), None)), REJECTED),
        ("owner invites", want(&w.invite(STRANGER, "otto-lab", "alice@corp.io", "member", None)), REJECTED),
        ("owner requests", want(&w.request_access(STRANGER, &lab, wrole("manager"))), REJECTED),
        (
            "admin approves after all",
            want(&w.decide_on(ADMIN, "otto-lab", true)),
            Want::Conflict("workspace.not_pending"),
        ),
        (
            "admin enables",
            want(&w.set_enabled(ADMIN, "otto-lab", true)),
            Want::Conflict("workspace.not_approved"),
        ),
        (
            "admin adds themselves",
            want(&w.add_myself(ADMIN, "otto-lab", None)),
            Want::Rule("workspace.not_approved"),
        ),
        (
            "someone registers the identifier",
            want(&w.register("alice@corp.io", "otto-lab")),
            Want::Conflict("workspace.exists"),
        ),
        (
            "the admin area creates it",
            want(&w.new_workspace(EMP, new_ws("otto-lab", &[OWNER], &[]))),
            Want::Conflict("workspace.exists"),
        ),
    ];
    for (label, got, expected) in attempts {
        assert_eq!(got, expected, "{label}");
    }
    assert_eq!(w.log.len(), before, "nothing was recorded");
    assert_eq!(w.status("otto-lab"), WorkspaceStatus::Rejected);
    assert_eq!(w.holders("otto-lab"), [held(STRANGER, "owner", None)], "its data stays");
    w.verify_chain();
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Approve,
    Reject,
    Disable,
    Enable,
    Quota,
}

#[test]
fn only_admins_and_employees_decide_disable_enable_and_set_quotas() {
    let actors = [
        ("admin", ADMIN, Want::Ok),
        ("employee", EMP, Want::Ok),
        ("auditor", AUD, FORBIDDEN),
        ("owner", OWNER, FORBIDDEN),
        ("manager", MANAGER, FORBIDDEN),
        ("member", MEMBER, FORBIDDEN),
        ("outsider", STRANGER, INVISIBLE),
    ];
    for op in [Op::Approve, Op::Reject, Op::Disable, Op::Enable, Op::Quota] {
        for (label, who, expected) in actors {
            let mut w = World::team();
            // `lab` has an owner, a manager and a member; put it into the state the operation
            // starts from.
            ok(w.new_workspace(EMP, new_ws("lab", &[OWNER], &[(MANAGER, "manager"), (MEMBER, "member")])));
            match op {
                Op::Approve | Op::Reject => w.put_status("lab", WorkspaceStatus::PendingApproval),
                Op::Enable => {
                    ok(w.set_enabled(EMP, "lab", false));
                }
                Op::Disable | Op::Quota => {}
            }
            let before = (w.workspace("lab").clone(), w.log.len());
            let (r, ty, after) = match op {
                Op::Approve => (w.decide_on(who, "lab", true), "WORKSPACE_APPROVED", WorkspaceStatus::Active),
                Op::Reject => {
                    (w.decide_on(who, "lab", false), "WORKSPACE_REJECTED", WorkspaceStatus::Rejected)
                }
                Op::Disable => {
                    (w.set_enabled(who, "lab", false), "WORKSPACE_STATUS_CHANGED", WorkspaceStatus::Disabled)
                }
                Op::Enable => {
                    (w.set_enabled(who, "lab", true), "WORKSPACE_STATUS_CHANGED", WorkspaceStatus::Active)
                }
                Op::Quota => (w.set_quota(who, "lab", 9), "WORKSPACE_QUOTA_EDITED", WorkspaceStatus::Active),
            };
            assert_eq!(want(&r), expected, "{op:?} by {label}");
            match r {
                Ok(d) => {
                    let ev = one(&d);
                    assert_eq!((ev.event_type.as_str(), ev.actor.as_str()), (ty, who), "{op:?} by {label}");
                    assert_eq!(ev.workspace.as_deref(), Some("lab"));
                    assert_eq!(w.status("lab"), after, "{op:?} by {label}");
                    let quota = if matches!(op, Op::Quota) { 9 } else { 5 };
                    assert_eq!(w.workspace("lab").project_quota, quota, "{op:?} by {label}");
                }
                Err(_) => {
                    assert_eq!(*w.workspace("lab"), before.0, "{op:?} by {label}: unchanged");
                    assert_eq!(w.log.len(), before.1, "{op:?} by {label}: nothing recorded");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Disabling and enabling
// ---------------------------------------------------------------------------------------------

#[test]
fn a_disabled_workspace_denies_every_check_refuses_new_access_and_enabling_restores_it() {
    let mut w = World::team();
    let (a, web, api) = (ws("team-a"), proj("team-a", "web"), proj("team-a", "api"));
    let until = w.now.plus(Span::hours(2));
    ok(w.set(MANAGER, &web, MEMBER, prole("reader"), None));
    ok(w.set(MANAGER, &api, "mo@corp.io", prole("user"), Some(w.now.plus(Span::days(3)))));
    ok(w.grant(MANAGER, &web, MEMBER, prole("admin"), until));
    ok(w.grant(OWNER, &a, "mo@corp.io", wrole("manager"), until));
    ok(w.define(ADMIN, tag_def("tier", TagTarget::Workspace, TagRule::Any)));
    ok(w.tag(EMP, &a, "tier", Some("gold")));
    let invitation = ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", None)).value;

    let probes: Vec<(&str, Target, Role)> = vec![
        (OWNER, a.clone(), wrole("owner")),
        (MANAGER, a.clone(), wrole("manager")),
        (MEMBER, a.clone(), wrole("member")),
        ("mo@corp.io", a.clone(), wrole("manager")),
        (MEMBER, web.clone(), prole("reader")),
        (MEMBER, web.clone(), prole("admin")),
        ("mo@corp.io", api.clone(), prole("user")),
    ];
    let before: Vec<Decision> = probes.iter().map(|(u, t, r)| w.check(u, t, *r)).collect();
    assert!(before.iter().all(|d| d.allowed), "{before:?}");
    assert_eq!(before[3].via[0].source, BindingSource::Grant, "a workspace grant is among the probes");
    assert_eq!(before[5].via[0].source, BindingSource::Grant, "a project grant is among the probes");
    let elsewhere = w.check("bella@corp.io", &ws("team-b"), wrole("owner"));
    assert!(elsewhere.allowed);
    let kept = (w.workspace("team-a").clone(), w.projects("team-a"), w.state.binding_count());

    let d = ok(w.set_enabled(EMP, "team-a", false));
    let ev = one(&d);
    assert_eq!(ev.event_type, "WORKSPACE_STATUS_CHANGED");
    assert_eq!(ev.actor, EMP);
    assert_eq!(ev.details, json!({"from": "active", "to": "disabled", "reason": "billing"}));
    assert_eq!(w.status("team-a"), WorkspaceStatus::Disabled);
    for ((u, t, r), d) in probes.iter().zip(&before) {
        let now = w.check(u, t, *r);
        assert!(denied_as_not_active(&now), "{u} {t} {r}: {now:?} (was {d:?})");
    }
    assert_eq!(
        w.check("bella@corp.io", &ws("team-b"), wrole("owner")),
        elsewhere,
        "other workspaces unaffected"
    );

    let log = w.log.len();
    let attempts = [
        ("owner sets a member", want(&w.set(OWNER, &a, STRANGER, wrole("member"), None))),
        ("employee sets a member", want(&w.set(EMP, &a, STRANGER, wrole("member"), None))),
        ("manager sets a project role", want(&w.set(MANAGER, &web, "mo@corp.io", prole("user"), None))),
        ("manager grants", want(&w.grant(MANAGER, &api, MEMBER, prole("admin"), until))),
        ("admin grants", want(&w.grant(ADMIN, &a, STRANGER, wrole("member"), until))),
        ("member requests", want(&w.request_access(MEMBER, &api, prole("admin")))),
        ("owner creates a project", want(&w.create_project(OWNER, "team-a", "new"))),
        ("employee creates a project", want(&w.create_project(EMP, "team-a", "new"))),
        ("manager invites", want(&w.invite(MANAGER, "team-a", "new@corp.io", "member", None))),
        ("invitee accepts an earlier invitation", want(&w.accept("alice@corp.io", invitation))),
    ];
    for (label, got) in attempts {
        assert_eq!(got, DISABLED, "{label}");
    }
    assert_eq!(w.log.len(), log, "nothing was recorded");
    // Disabling again changes nothing.
    let again = ok(w.set_enabled(ADMIN, "team-a", false));
    assert!(again.events.is_empty() && again.changes.is_empty());

    // The data stays: the workspace (but for its status), projects, bindings and invitations.
    assert_eq!(Workspace { status: WorkspaceStatus::Active, ..w.workspace("team-a").clone() }, kept.0);
    assert_eq!(w.projects("team-a"), kept.1);
    assert_eq!(w.state.binding_count(), kept.2);
    assert_eq!(w.invitation_state(invitation), InvitationState::Pending);

    let d = ok(w.set_enabled(ADMIN, "team-a", true));
    assert_eq!(one(&d).details, json!({"from": "disabled", "to": "active", "reason": "billing"}));
    let after: Vec<Decision> = probes.iter().map(|(u, t, r)| w.check(u, t, *r)).collect();
    assert_eq!(after, before, "enabling restores exactly the same decisions");
    ok(w.accept("alice@corp.io", invitation));
    ok(w.create_project(OWNER, "team-a", "new"));
    assert_eq!(w.count("WORKSPACE_STATUS_CHANGED"), 2);
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------------

#[test]
fn quota_edits_are_recorded_and_a_lower_quota_only_stops_new_projects() {
    let mut w = World::team();
    assert_eq!((w.workspace("team-a").project_quota, w.projects("team-a").len()), (5, 2));
    let d = ok(w.set_quota(EMP, "team-a", 1));
    let ev = one(&d);
    assert_eq!(ev.event_type, "WORKSPACE_QUOTA_EDITED");
    assert_eq!((ev.actor.as_str(), ev.workspace.as_deref()), (EMP, Some("team-a")));
    assert_eq!(ev.details, json!({"from": 5, "to": 1, "projects": 2}));
    assert_eq!(w.workspace("team-a").project_quota, 1);
    // Existing projects stay, and so does access to them.
    assert_eq!(w.projects("team-a").len(), 2);
    ok(w.set(MANAGER, &proj("team-a", "web"), MEMBER, prole("user"), None));
    assert!(w.check(MEMBER, &proj("team-a", "web"), prole("user")).allowed);
    for by in [OWNER, EMP, ADMIN] {
        assert_eq!(want(&w.create_project(by, "team-a", "third")), Want::Rule("workspace.quota_exceeded"));
    }

    let d = ok(w.set_quota(ADMIN, "team-a", 3));
    assert_eq!(one(&d).details, json!({"from": 1, "to": 3, "projects": 2}));
    ok(w.create_project(MANAGER, "team-a", "third"));
    assert_eq!(want(&w.create_project(MANAGER, "team-a", "fourth")), Want::Rule("workspace.quota_exceeded"));
    // The same quota again changes nothing; an absurd one is refused.
    let same = ok(w.set_quota(ADMIN, "team-a", 3));
    assert!(same.events.is_empty() && same.changes.is_empty());
    assert_eq!(
        want(&w.set_quota(ADMIN, "team-a", admin::MAX_QUOTA + 1)),
        Want::Invalid("input.invalid_quota")
    );
    assert_eq!(w.workspace("team-a").project_quota, 3);
    // A quota of zero stops every new project; other workspaces keep theirs.
    ok(w.set_quota(EMP, "team-b", 0));
    assert_eq!(
        want(&w.create_project("bella@corp.io", "team-b", "more")),
        Want::Rule("workspace.quota_exceeded")
    );
    assert_eq!(w.projects("team-b").len(), 1);
    assert_eq!(w.count("WORKSPACE_QUOTA_EDITED"), 3);
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// Creating workspaces with initial users, renaming
// ---------------------------------------------------------------------------------------------

#[test]
fn the_admin_area_creates_workspaces_with_initial_users() {
    type Holders = &'static [(&'static str, &'static str)];
    struct Case {
        label: &'static str,
        by: &'static str,
        owners: &'static [&'static str],
        members: &'static [(&'static str, &'static str)],
        want: Want,
        holders: Holders,
    }
    let cases = [
        Case {
            label: "owners and members",
            by: EMP,
            owners: &[OWNER],
            members: &[(MANAGER, "manager"), (MEMBER, "member")],
            want: Want::Ok,
            holders: &[(MANAGER, "manager"), (MEMBER, "member"), (OWNER, "owner")],
        },
        Case {
            label: "no owner given: the creator owns it",
            by: EMP,
            owners: &[],
            members: &[(MANAGER, "manager")],
            want: Want::Ok,
            holders: &[(EMP, "owner"), (MANAGER, "manager")],
        },
        Case {
            label: "an owner among the members: the creator stays out",
            by: ADMIN,
            owners: &[],
            members: &[(OWNER, "owner"), (MEMBER, "member")],
            want: Want::Ok,
            holders: &[(MEMBER, "member"), (OWNER, "owner")],
        },
        Case {
            label: "nobody given",
            by: ADMIN,
            owners: &[],
            members: &[],
            want: Want::Ok,
            holders: &[(ADMIN, "owner")],
        },
        Case {
            label: "duplicates keep the highest role, once",
            by: EMP,
            owners: &[OWNER],
            members: &[(OWNER, "member"), (MANAGER, "member"), (MANAGER, "manager"), (MANAGER, "member")],
            want: Want::Ok,
            holders: &[(MANAGER, "manager"), (OWNER, "owner")],
        },
        Case {
            label: "the creator listed as member without an owner becomes the owner",
            by: EMP,
            owners: &[],
            members: &[(EMP, "member"), (MEMBER, "member")],
            want: Want::Ok,
            holders: &[(EMP, "owner"), (MEMBER, "member")],
        },
        Case {
            label: "an unknown e-mail",
            by: EMP,
            owners: &[OWNER],
            members: &[("nobody@corp.io", "member")],
            want: Want::NotFound("user.not_found"),
            holders: &[],
        },
        Case { label: "an auditor", by: AUD, owners: &[OWNER], members: &[], want: FORBIDDEN, holders: &[] },
        Case {
            label: "a workspace owner without an admin role",
            by: OWNER,
            owners: &[OWNER],
            members: &[],
            want: FORBIDDEN,
            holders: &[],
        },
    ];
    for c in cases {
        let mut w = World::team();
        let log = w.log.len();
        let r = w.new_workspace(c.by, new_ws("lab", c.owners, c.members));
        assert_eq!(want(&r), c.want, "{}", c.label);
        let Ok(d) = r else {
            assert!(w.state.workspace(&slug("lab")).is_none(), "{}: nothing created", c.label);
            assert_eq!(w.log.len(), log, "{}: nothing recorded", c.label);
            continue;
        };
        let mut expected: Vec<_> = c.holders.iter().map(|(u, r)| held(u, r, None)).collect();
        expected.sort();
        assert_eq!(w.holders("lab"), expected, "{}", c.label);
        let lab = w.workspace("lab");
        assert_eq!((lab.status, lab.project_quota), (WorkspaceStatus::Active, 5), "{}", c.label);

        let mut types = vec!["WORKSPACE_CREATED"];
        types.extend(std::iter::repeat_n("USER_ASSIGNED", c.holders.len()));
        assert_eq!(d.types(), types, "{}", c.label);
        let created = &d.events[0];
        assert_eq!((created.actor.as_str(), created.workspace.as_deref()), (c.by, Some("lab")));
        let owners: Vec<&str> = c.holders.iter().filter(|(_, r)| *r == "owner").map(|(u, _)| *u).collect();
        assert_eq!(created.details["owners"], json!(owners), "{}", c.label);
        let mut members: Vec<(String, String)> = created.details["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["user"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
            .collect();
        members.sort();
        let mut others: Vec<(String, String)> = c
            .holders
            .iter()
            .filter(|(_, r)| *r != "owner")
            .map(|(u, r)| ((*u).to_owned(), (*r).to_owned()))
            .collect();
        others.sort();
        assert_eq!(members, others, "{}", c.label);
        let mut assigned: Vec<(String, String)> = d.events[1..]
            .iter()
            .map(|e| (e.subject.clone().unwrap(), e.details["role"].as_str().unwrap().to_owned()))
            .collect();
        assigned.sort();
        let mut all: Vec<(String, String)> =
            c.holders.iter().map(|(u, r)| ((*u).to_owned(), (*r).to_owned())).collect();
        all.sort();
        assert_eq!(assigned, all, "{}", c.label);
        w.verify_chain();
    }
    // An existing identifier is a conflict; a quota is bounded as when it is edited.
    let mut w = World::team();
    assert_eq!(
        want(&w.new_workspace(ADMIN, new_ws("team-a", &[OWNER], &[]))),
        Want::Conflict("workspace.exists")
    );
    let huge = NewWorkspace { project_quota: admin::MAX_QUOTA + 1, ..new_ws("lab", &[OWNER], &[]) };
    assert_eq!(want(&w.new_workspace(ADMIN, huge)), Want::Invalid("input.invalid_quota"));
    assert!(w.state.workspace(&slug("lab")).is_none());
    ok(w.new_workspace(
        ADMIN,
        NewWorkspace { project_quota: admin::MAX_QUOTA, ..new_ws("lab", &[OWNER], &[]) },
    ));
}

#[test]
fn managers_rename_a_workspace_and_its_identifier_never_changes() {
    let mut w = World::team();
    let rows = [
        ("owner", OWNER, Want::Ok),
        ("manager", MANAGER, Want::Ok),
        ("employee", EMP, Want::Ok),
        ("admin", ADMIN, Want::Ok),
        ("member", MEMBER, FORBIDDEN),
        ("auditor", AUD, FORBIDDEN),
        ("other workspace's owner", "bella@corp.io", INVISIBLE),
    ];
    let projects = w.projects("team-a");
    for (label, who, expected) in rows {
        let from = w.workspace("team-a").name.as_str().to_owned();
        let to = format!("Team A, named by the {label}");
        let r = w.rename(who, "team-a", &to);
        assert_eq!(want(&r), expected, "{label}");
        let current = w.workspace("team-a");
        assert_eq!(current.id.as_str(), "team-a", "{label}: the identifier stays");
        if let Ok(d) = r {
            let ev = one(&d);
            assert_eq!(ev.event_type, "WORKSPACE_UPDATED");
            assert_eq!((ev.actor.as_str(), ev.workspace.as_deref()), (who, Some("team-a")));
            assert_eq!(ev.details, json!({"from_name": from, "name": to}), "{label}");
            assert_eq!(current.name.as_str(), to);
        } else {
            assert_eq!(current.name.as_str(), from, "{label}: unchanged");
        }
    }
    // Renaming to the current name records nothing; nothing else about the workspace moved.
    let name_now = w.workspace("team-a").name.as_str().to_owned();
    let same = ok(w.rename(OWNER, "team-a", &name_now));
    assert!(same.events.is_empty() && same.changes.is_empty());
    assert_eq!(w.projects("team-a"), projects);
    assert_eq!(w.state.workspaces().count(), 2, "no workspace appeared under another identifier");
    assert!(w.check(OWNER, &ws("team-a"), wrole("owner")).allowed);
    assert_eq!(w.count("WORKSPACE_UPDATED"), 4);
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// Add myself, leave
// ---------------------------------------------------------------------------------------------

#[test]
fn only_admins_and_employees_add_themselves() {
    let mut w = World::team();
    let rows = [
        ("admin", ADMIN, Want::Ok),
        ("employee", EMP, Want::Ok),
        ("auditor", AUD, FORBIDDEN),
        ("owner", OWNER, FORBIDDEN),
        ("manager", MANAGER, FORBIDDEN),
        ("member", MEMBER, FORBIDDEN),
        ("outsider", STRANGER, FORBIDDEN),
    ];
    for (label, who, expected) in rows {
        let before = w.holders("team-a");
        let r = w.add_myself(who, "team-a", None);
        assert_eq!(want(&r), expected, "{label}");
        if r.is_err() {
            assert_eq!(w.holders("team-a"), before, "{label}: nothing changed");
        }
    }
    let default_expiry = Some(w.now.plus(Span::hours(8)));
    for who in [ADMIN, EMP] {
        assert!(w.holders("team-a").contains(&held(who, "manager", default_expiry)), "{who}");
    }
    assert_eq!(w.count("USER_ASSIGNED_HIMSELF"), 2);
    w.verify_chain();
}

#[test]
fn add_myself_assigns_a_bounded_manager_role_and_replaces_a_direct_membership() {
    let mut w = World::team();
    let b = ws("team-b");
    let t0 = w.now;

    // Without an expiry: manager until the default expiry (8 hours).
    let d = ok(w.add_myself(EMP, "team-b", None));
    let ev = one(&d);
    assert_eq!(ev.event_type, "USER_ASSIGNED_HIMSELF");
    assert_eq!(
        (ev.actor.as_str(), ev.subject.as_deref(), ev.workspace.as_deref()),
        (EMP, Some(EMP), Some("team-b"))
    );
    let first = w.membership(EMP, "team-b");
    let default_until = t0.plus(Span::hours(8));
    assert_eq!(
        ev.details,
        json!({
            "role": "manager",
            "expires_at": default_until.to_rfc3339(),
            "binding_id": first.to_string(),
            "replaces_binding_id": null,
        })
    );
    let d = w.check(EMP, &b, wrole("manager"));
    assert!(d.allowed);
    assert_eq!(d.expires_at, Some(default_until));

    // The maximum (7 days) is allowed, a microsecond more is not, the past never.
    let max = t0.plus(Span::days(7));
    assert_eq!(
        want(&w.add_myself(ADMIN, "team-b", Some(Timestamp::from_micros(max.as_micros() + 1)))),
        Want::Rule("add_myself.expiry_too_long")
    );
    assert_eq!(want(&w.add_myself(ADMIN, "team-b", Some(t0))), Want::Invalid("input.expiry_in_past"));
    ok(w.add_myself(ADMIN, "team-b", Some(max)));
    assert!(w.holders("team-b").contains(&held(ADMIN, "manager", Some(max))));

    // Adding oneself again replaces the earlier membership.
    let d = ok(w.add_myself(EMP, "team-b", Some(t0.plus(Span::hours(1)))));
    assert_eq!(one(&d).details["replaces_binding_id"], first.to_string());
    assert!(w.state.binding(first).is_none(), "the earlier membership ended");
    let emp_rows: Vec<_> = w.holders("team-b").into_iter().filter(|h| h.0 == EMP).collect();
    assert_eq!(emp_rows, [held(EMP, "manager", Some(t0.plus(Span::hours(1))))]);

    // A standing direct membership set by an owner is replaced as well.
    ok(w.set(OWNER, &ws("team-a"), EMP, wrole("member"), None));
    let standing = w.membership(EMP, "team-a");
    let d = ok(w.add_myself(EMP, "team-a", None));
    assert_eq!(one(&d).details["replaces_binding_id"], standing.to_string());
    let emp_rows: Vec<_> = w.holders("team-a").into_iter().filter(|h| h.0 == EMP).collect();
    assert_eq!(emp_rows, [held(EMP, "manager", Some(default_until))]);

    // An owner has nothing to add.
    ok(w.new_workspace(EMP, new_ws("lab", &[], &[])));
    assert_eq!(want(&w.add_myself(EMP, "lab", None)), Want::Conflict("add_myself.already_owner"));
    assert_eq!(w.holders("lab"), [held(EMP, "owner", None)]);

    // It ends at its expiry, like any binding.
    w.advance(Span::hours(1));
    assert!(!w.check(EMP, &b, wrole("manager")).allowed);
    assert!(w.check(EMP, &ws("team-a"), wrole("manager")).allowed);
    w.advance(Span::hours(7));
    assert!(!w.check(EMP, &ws("team-a"), wrole("member")).allowed);
    assert!(w.check(ADMIN, &b, wrole("manager")).allowed, "the 7-day one still counts");
    w.sweep(10);
    assert_eq!(w.count("USER_ASSIGNED_HIMSELF"), 4);
    w.verify_chain();
}

#[test]
fn add_myself_honours_the_restriction_setting_and_works_on_disabled_workspaces() {
    let mut w = World::team();
    w.configure(|s| {
        s.restrict_admin_role_assignment = true;
        s.add_myself_default_expiry = Span::hours(2);
        s.add_myself_max_expiry = Span::days(1);
    });
    let a = ws("team-a");
    let d = ok(w.add_myself(ADMIN, "team-a", None));
    assert_eq!(one(&d).details["role"], "member");
    let until = w.now.plus(Span::hours(2));
    assert!(w.holders("team-a").contains(&held(ADMIN, "member", Some(until))));
    assert!(w.check(ADMIN, &a, wrole("member")).allowed);
    assert!(!w.check(ADMIN, &a, wrole("manager")).allowed, "restricted to member");
    let too_long = w.now.plus(Span::days(1)).plus(Span::seconds(1));
    assert_eq!(want(&w.add_myself(EMP, "team-a", Some(too_long))), Want::Rule("add_myself.expiry_too_long"));

    // Disabled: adding oneself still works (to clean up), yet every check stays denied until the
    // workspace is enabled again.
    w.configure(|s| s.restrict_admin_role_assignment = false);
    ok(w.set_enabled(EMP, "team-b", false));
    let d = ok(w.add_myself(EMP, "team-b", None));
    assert_eq!(one(&d).details["role"], "manager");
    assert!(denied_as_not_active(&w.check(EMP, &ws("team-b"), wrole("manager"))));
    // ... and removing someone's access is part of cleaning up.
    ok(w.remove(EMP, &ws("team-b"), "ben@corp.io"));
    ok(w.set_enabled(EMP, "team-b", true));
    assert!(w.check(EMP, &ws("team-b"), wrole("manager")).allowed);
    assert!(!w.check("ben@corp.io", &ws("team-b"), wrole("member")).allowed);
    w.verify_chain();
}

#[test]
fn users_leave_a_workspace_with_all_their_access_except_the_last_owner() {
    let mut w = World::team();
    let (a, web, api) = (ws("team-a"), proj("team-a", "web"), proj("team-a", "api"));

    // An employee removes themselves again.
    ok(w.add_myself(EMP, "team-a", None));
    let mine = w.membership(EMP, "team-a");
    let d = ok(w.leave(EMP, "team-a"));
    let ev = one(&d);
    assert_eq!(ev.event_type, "USER_REMOVED");
    assert_eq!(
        (ev.actor.as_str(), ev.subject.as_deref(), ev.workspace.as_deref()),
        (EMP, Some(EMP), Some("team-a"))
    );
    assert_eq!(
        ev.details,
        json!({
            "left_themselves": true,
            "ended": [{"binding_id": mine.to_string(), "project": null, "role": "manager", "source": "direct"}],
        })
    );
    assert!(!w.check(EMP, &a, wrole("member")).allowed);
    assert_eq!(want(&w.leave(EMP, "team-a")), Want::NotFound("member.not_found"));

    // A member leaves with their project roles and grants; their other workspace is untouched.
    ok(w.set(MANAGER, &web, MEMBER, prole("reader"), None));
    ok(w.grant(MANAGER, &api, MEMBER, prole("admin"), w.now.plus(Span::hours(1))));
    ok(w.set("bella@corp.io", &ws("team-b"), MEMBER, wrole("member"), None));
    let d = ok(w.leave(MEMBER, "team-a"));
    let ended = one(&d).details["ended"].as_array().unwrap().clone();
    let mut what: Vec<(Value, String, String)> = ended
        .iter()
        .map(|e| {
            (
                e["project"].clone(),
                e["role"].as_str().unwrap().to_owned(),
                e["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    what.sort_by_key(|(p, r, _)| (p.to_string(), r.clone()));
    assert_eq!(
        what,
        [
            (json!("api"), "admin".to_owned(), "grant".to_owned()),
            (json!("web"), "reader".to_owned(), "direct".to_owned()),
            (Value::Null, "member".to_owned(), "direct".to_owned()),
        ]
    );
    for (t, r) in [(&a, wrole("member")), (&web, prole("reader")), (&api, prole("admin"))] {
        assert!(!w.check(MEMBER, t, r).allowed, "{t} {r}");
    }
    assert!(w.check(MEMBER, &ws("team-b"), wrole("member")).allowed);

    // The last standing owner cannot leave; once another owner stands, they can.
    assert_eq!(want(&w.leave(OWNER, "team-a")), Want::Rule("workspace.last_owner"));
    assert!(w.check(OWNER, &a, wrole("owner")).allowed);
    ok(w.set(OWNER, &a, MANAGER, wrole("owner"), None));
    ok(w.leave(OWNER, "team-a"));
    assert!(!w.check(OWNER, &a, wrole("member")).allowed);
    assert_eq!(want(&w.leave(MANAGER, "team-a")), Want::Rule("workspace.last_owner"));

    // Someone without a role there cannot even see it.
    assert_eq!(want(&w.leave(STRANGER, "team-a")), INVISIBLE);
    assert_eq!(w.count("USER_REMOVED"), 3);
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// Invitations and sign-up
// ---------------------------------------------------------------------------------------------

#[test]
fn who_may_invite_with_which_role() {
    let mut w = World::team();
    let rows = [
        ("manager, member", MANAGER, "member", Want::Ok),
        ("manager, manager", MANAGER, "manager", FORBIDDEN),
        ("manager, owner", MANAGER, "owner", FORBIDDEN),
        ("owner, manager", OWNER, "manager", Want::Ok),
        ("owner, owner", OWNER, "owner", Want::Ok),
        ("member, member", MEMBER, "member", FORBIDDEN),
        ("employee, manager", EMP, "manager", Want::Ok),
        ("admin, owner", ADMIN, "owner", Want::Ok),
        ("auditor, member", AUD, "member", FORBIDDEN),
        ("other workspace's owner", "bella@corp.io", "member", INVISIBLE),
        ("outsider", STRANGER, "member", INVISIBLE),
    ];
    for (i, (label, by, role, expected)) in rows.into_iter().enumerate() {
        let guest = format!("guest{i}@example.org");
        let r = w.invite(by, "team-a", &guest, role, None);
        assert_eq!(want(&r), expected, "{label}");
        match r {
            Ok(d) => {
                let inv = w.state.invitation(d.value).unwrap();
                assert_eq!(
                    (inv.role, inv.state, inv.invited_by),
                    (wr(role), InvitationState::Pending, w.id(by))
                );
                assert_eq!(w.pending(&guest), [d.value], "{label}");
            }
            Err(_) => assert!(w.pending(&guest).is_empty(), "{label}"),
        }
    }
    assert_eq!(w.count("USER_INVITED"), 5);
    w.verify_chain();
}

#[test]
fn an_invitation_of_an_unknown_address_is_accepted_after_sign_up_with_exactly_its_role() {
    let mut w = World::team();
    let a = ws("team-a");
    let guest = "Grace@Example.org";
    let membership_until = w.now.plus(Span::days(30));
    let d = ok(w.invite(MANAGER, "team-a", guest, "member", Some(membership_until)));
    let id = d.value;
    let ev = one(&d);
    assert_eq!(ev.event_type, "USER_INVITED");
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (MANAGER, Some("grace@example.org")));
    assert_eq!(ev.workspace.as_deref(), Some("team-a"));
    assert_eq!(
        ev.details,
        json!({
            "invitation_id": id.to_string(),
            "role": "member",
            "membership_expires_at": membership_until.to_rfc3339(),
            "expires_at": w.now.plus(Span::days(7)).to_rfc3339(),
            "registered": false,
        })
    );
    // One pending invitation per address and workspace (whatever the spelling).
    assert_eq!(
        want(&w.invite(OWNER, "team-a", "grace@example.ORG", "manager", None)),
        Want::Conflict("invitation.duplicate")
    );
    // The same address may be invited into another workspace meanwhile.
    w.advance(Span::minutes(1));
    let other = ok(w.invite("bella@corp.io", "team-b", guest, "member", None)).value;
    assert_ne!(w.secret(id), w.secret(other), "every invitation has its own secret");

    // Sign-up is invited-only by default: the address alone (nobody verified it) is not enough.
    let closed = Want::Forbidden("auth.signup_closed");
    assert_eq!(want(&w.sign_up(guest, None)), closed, "no secret");
    assert_eq!(want(&w.sign_up(guest, Some("bgi_guessed"))), closed, "a wrong secret");
    let log = w.log.len();
    ok(w.sign_up(guest, Some(&w.secret(id))));
    assert_eq!(w.log.len(), log + 1, "only the successful sign-up is recorded");
    assert_eq!(w.pending(guest), [id, other], "the new user sees their pending invitations");
    // Only the addressee may accept, secret or not; to anyone else the invitation does not exist.
    for by in [MANAGER, OWNER, ADMIN, EMP, STRANGER] {
        assert_eq!(want(&w.accept(by, id)), Want::NotFound("invitation.not_found"), "{by}");
        assert_eq!(want(&w.decline(by, id)), Want::NotFound("invitation.not_found"), "{by}");
    }
    // The addressee needs the invitation's own secret: not a wrong one, nor another invitation's.
    let log = w.log.len();
    let invalid = Want::Forbidden("invitation.invalid_token");
    assert_eq!(want(&w.accept_with(guest, id, "bgi_guessed")), invalid);
    assert_eq!(want(&w.accept_with(guest, id, "")), invalid);
    assert_eq!(want(&w.accept_with(guest, id, &w.secret(other))), invalid);
    assert_eq!(w.log.len(), log, "a refused accept records nothing");
    assert_eq!(w.invitation_state(id), InvitationState::Pending);
    assert!(!w.check(guest, &a, wrole("member")).allowed);
    w.advance(Span::hours(1));
    let d = ok(w.accept(guest, id));
    let ev = one(&d);
    assert_eq!(ev.event_type, "USER_ACCEPTED_INVITATION");
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), ("grace@example.org", Some("grace@example.org")));
    let binding = w.membership(guest, "team-a");
    assert_eq!(
        ev.details,
        json!({
            "invitation_id": id.to_string(),
            "role": "member",
            "membership_expires_at": membership_until.to_rfc3339(),
            "binding_id": binding.to_string(),
            "replaces_binding_id": null,
            "from_role": null,
        })
    );
    let b = w.state.binding(binding).unwrap();
    assert_eq!(
        (b.role, b.expires_at, b.created_by),
        (wrole("member"), Some(membership_until), Some(w.id(MANAGER)))
    );
    assert!(w.check(guest, &a, wrole("member")).allowed);
    assert!(!w.check(guest, &a, wrole("manager")).allowed, "never more than the invitation said");
    let inv = w.state.invitation(id).unwrap();
    assert_eq!((inv.state, inv.decided_at), (InvitationState::Accepted, Some(w.now)));
    assert_eq!(w.pending(guest), [other]);
    assert_eq!(want(&w.accept(guest, id)), Want::Conflict("invitation.not_pending"));
    assert_eq!(want(&w.decline(guest, id)), Want::Conflict("invitation.not_pending"));
    // Now a member, the address cannot be invited into team-a again.
    assert_eq!(
        want(&w.invite(OWNER, "team-a", guest, "manager", None)),
        Want::Conflict("invitation.already_member")
    );

    // The membership ends when the invitation said.
    w.set_time(membership_until);
    assert!(!w.check(guest, &a, wrole("member")).allowed);
    w.verify_chain();
}

#[test]
fn invitations_refuse_members_past_expiries_and_unregistered_accepts() {
    let mut w = World::team();
    assert_eq!(
        want(&w.invite(MANAGER, "team-a", MEMBER, "member", None)),
        Want::Conflict("invitation.already_member")
    );
    assert_eq!(
        want(&w.invite(OWNER, "team-a", MANAGER, "owner", None)),
        Want::Conflict("invitation.already_member")
    );
    let now = w.now;
    assert_eq!(
        want(&w.invite(MANAGER, "team-a", "alice@corp.io", "member", Some(now))),
        Want::Invalid("input.expiry_in_past")
    );
    // A registered user who belongs elsewhere is invited as such.
    let d = ok(w.invite(MANAGER, "team-a", "ben@corp.io", "member", None));
    assert_eq!(one(&d).details["registered"], true);
    assert_eq!(one(&d).details["membership_expires_at"], Value::Null);
    // The membership it offers can end before anyone accepts.
    let short =
        ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", Some(now.plus(Span::hours(1))))).value;
    w.advance(Span::hours(2));
    assert_eq!(want(&w.accept("alice@corp.io", short)), Want::Rule("invitation.expired"));
    assert_eq!(w.invitation_state(short), InvitationState::Pending);
    assert!(w.holders("team-a").iter().all(|h| h.0 != "alice@corp.io"));
    w.verify_chain();
}

#[test]
fn managers_cancel_the_invitations_they_could_issue() {
    let mut w = World::team();
    let for_member = ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", None)).value;
    let for_manager = ok(w.invite(OWNER, "team-a", "oscar@corp.io", "manager", None)).value;

    let rows = [
        ("outsider", STRANGER, for_member, Want::NotFound("invitation.not_found")),
        ("other workspace's owner", "bella@corp.io", for_member, Want::NotFound("invitation.not_found")),
        ("member", MEMBER, for_member, FORBIDDEN),
        ("auditor", AUD, for_member, FORBIDDEN),
        ("the invitee", "alice@corp.io", for_member, Want::NotFound("invitation.not_found")),
        ("manager, a manager's invitation", MANAGER, for_manager, FORBIDDEN),
    ];
    for (label, by, id, expected) in rows {
        assert_eq!(want(&w.cancel_invitation(by, id)), expected, "{label}");
        assert_eq!(w.invitation_state(id), InvitationState::Pending, "{label}");
    }

    let d = ok(w.cancel_invitation("mike@corp.io", for_member));
    let ev = one(&d);
    assert_eq!(ev.event_type, "USER_INVITATION_CANCELLED");
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), ("mike@corp.io", Some("alice@corp.io")));
    assert_eq!(ev.details, json!({"invitation_id": for_member.to_string(), "role": "member"}));
    assert_eq!(w.invitation_state(for_member), InvitationState::Cancelled);
    assert!(w.pending("alice@corp.io").is_empty());
    assert_eq!(want(&w.cancel_invitation(MANAGER, for_member)), Want::Conflict("invitation.not_pending"));
    assert_eq!(want(&w.accept("alice@corp.io", for_member)), Want::Conflict("invitation.not_pending"));
    assert!(!w.check("alice@corp.io", &ws("team-a"), wrole("member")).allowed);

    let d = ok(w.cancel_invitation(EMP, for_manager));
    assert_eq!(one(&d).details["role"], "manager");
    // After a cancellation the address may be invited again.
    ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", None));
    assert_eq!(w.count("USER_INVITATION_CANCELLED"), 2);
    w.verify_chain();
}

#[test]
fn invitations_expire_after_the_configured_time() {
    let mut w = World::team();
    w.configure(|s| s.invitation_ttl = Span::days(2));
    let t0 = w.now;
    let late = ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", None)).value;
    let just_in_time = ok(w.invite(MANAGER, "team-a", "oscar@corp.io", "member", None)).value;
    assert_eq!(w.state.invitation(late).unwrap().expires_at, t0.plus(Span::days(2)));

    w.set_time(micros_before(t0.plus(Span::days(2)), 1));
    ok(w.accept("oscar@corp.io", just_in_time));
    w.set_time(t0.plus(Span::days(2)));
    assert!(w.pending("alice@corp.io").is_empty(), "an expired invitation is no longer pending");
    let expired = Want::Conflict("invitation.expired");
    assert_eq!(want(&w.accept("alice@corp.io", late)), expired);
    assert_eq!(want(&w.decline("alice@corp.io", late)), expired);
    assert_eq!(want(&w.cancel_invitation(MANAGER, late)), expired);
    assert!(!w.check("alice@corp.io", &ws("team-a"), wrole("member")).allowed);
    assert!(w.check("oscar@corp.io", &ws("team-a"), wrole("member")).allowed);
    // Nobody rewrote it; a new invitation may be issued.
    assert_eq!(w.invitation_state(late), InvitationState::Pending);
    let again = ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", None)).value;
    ok(w.accept("alice@corp.io", again));
    assert!(w.check("alice@corp.io", &ws("team-a"), wrole("member")).allowed);
    w.verify_chain();
}

#[test]
fn accepting_never_lowers_a_higher_standing_role_and_declining_grants_nothing() {
    let mut w = World::team();
    let a = ws("team-a");
    // Invited as member, then made manager directly: accepting keeps the manager role.
    let id =
        ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", Some(w.now.plus(Span::days(1))))).value;
    ok(w.set(OWNER, &a, "alice@corp.io", wrole("manager"), None));
    let standing = w.membership("alice@corp.io", "team-a");
    let d = ok(w.accept("alice@corp.io", id));
    assert_eq!(one(&d).details["binding_id"], standing.to_string(), "the standing membership is kept");
    assert!(
        !d.changes.changes.iter().any(|c| matches!(c, Change::CreateBinding(_) | Change::EndBinding { .. })),
        "no binding created or ended: {:?}",
        d.changes.changes
    );
    assert_eq!(
        w.holders("team-a").into_iter().filter(|h| h.0 == "alice@corp.io").collect::<Vec<_>>(),
        [held("alice@corp.io", "manager", None)]
    );
    assert_eq!(w.invitation_state(id), InvitationState::Accepted);

    // Invited as manager for a while, holding a standing lower membership: the invited role and
    // expiry come on top as a grant, and the standing membership is still there afterwards.
    let until = w.now.plus(Span::days(3));
    let id = ok(w.invite(OWNER, "team-a", "oscar@corp.io", "manager", Some(until))).value;
    ok(w.set(MANAGER, &a, "oscar@corp.io", wrole("member"), None));
    let lower = w.membership("oscar@corp.io", "team-a");
    ok(w.accept("oscar@corp.io", id));
    assert!(w.state.binding(lower).is_some(), "the standing membership is kept");
    assert_eq!(
        w.holders("team-a").into_iter().filter(|h| h.0 == "oscar@corp.io").collect::<Vec<_>>(),
        [held("oscar@corp.io", "member", None)]
    );
    let oscar = w.id("oscar@corp.io");
    let grants: Vec<_> = w
        .state
        .bindings_on(&a)
        .filter(|b| b.user == oscar && b.source == BindingSource::Grant)
        .map(|b| (b.role, b.expires_at))
        .collect();
    assert_eq!(grants, [(wrole("manager"), Some(until))], "the invited role as a grant on top");
    assert!(w.check("oscar@corp.io", &a, wrole("manager")).allowed);
    assert!(!w.check("oscar@corp.io", &a, wrole("owner")).allowed);
    w.set_time(until);
    assert!(!w.check("oscar@corp.io", &a, wrole("manager")).allowed, "the invited role ends at its expiry");
    assert!(w.check("oscar@corp.io", &a, wrole("member")).allowed, "the standing membership remains");

    // Declining: recorded, nothing granted, and it cannot be accepted afterwards.
    let id = ok(w.invite(MANAGER, "team-a", "ben@corp.io", "member", None)).value;
    let d = ok(w.decline("ben@corp.io", id));
    let ev = one(&d);
    assert_eq!(ev.event_type, "USER_DECLINED_INVITATION");
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), ("ben@corp.io", Some("ben@corp.io")));
    assert_eq!(ev.details, json!({"invitation_id": id.to_string(), "role": "member"}));
    assert_eq!(w.invitation_state(id), InvitationState::Declined);
    assert_eq!(want(&w.accept("ben@corp.io", id)), Want::Conflict("invitation.not_pending"));
    assert!(!w.check("ben@corp.io", &a, wrole("member")).allowed);
    w.verify_chain();
}

#[test]
fn sign_up_follows_the_signup_setting_and_records_no_secret() {
    // (label, setting, invitation to issue first: None / pending / expired, address, expected)
    #[derive(Clone, Copy, PartialEq)]
    enum Inv {
        None,
        Pending,
        Expired,
    }
    // The invitation secret presented: none, the invitation's own, a made-up one, or the secret of
    // an invitation for another address.
    #[derive(Clone, Copy, PartialEq)]
    enum Key {
        Absent,
        Right,
        Wrong,
        Others,
    }
    let closed = Want::Forbidden("auth.signup_closed");
    let (open, invited_only) = (Signup::Open, Signup::InvitedOnly);
    let sam = "sam@example.org";
    let rows = [
        ("open, uninvited", open, Inv::None, Key::Absent, sam, Want::Ok),
        ("open, a wrong secret does not matter", open, Inv::None, Key::Wrong, sam, Want::Ok),
        ("open, existing user", open, Inv::None, Key::Absent, "Max@Corp.io", Want::Conflict("user.exists")),
        ("invited only, uninvited", invited_only, Inv::None, Key::Absent, sam, closed),
        ("invited only, uninvited with a secret", invited_only, Inv::None, Key::Others, sam, closed),
        ("invited only, invited", invited_only, Inv::Pending, Key::Right, sam, Want::Ok),
        ("invited only, invited, no secret", invited_only, Inv::Pending, Key::Absent, sam, closed),
        ("invited only, invited, wrong secret", invited_only, Inv::Pending, Key::Wrong, sam, closed),
        ("invited only, invited, another's secret", invited_only, Inv::Pending, Key::Others, sam, closed),
        ("invited only, invitation expired", invited_only, Inv::Expired, Key::Right, sam, closed),
        ("closed, invited", Signup::Closed, Inv::Pending, Key::Right, sam, closed),
    ];
    for (label, setting, inv, secret, who, expected) in rows {
        let mut w = World::team();
        w.configure(|s| s.signup = setting);
        let mine = (inv != Inv::None).then(|| ok(w.invite(MANAGER, "team-a", who, "member", None)).value);
        let theirs = ok(w.invite("bella@corp.io", "team-b", "tom@example.org", "member", None)).value;
        if inv == Inv::Expired {
            w.advance(Span::days(7));
        }
        let secret = match secret {
            Key::Absent => None,
            Key::Right => Some(w.secret(mine.unwrap_or_else(|| panic!("{label}: no invitation")))),
            Key::Wrong => Some("bgi_guessed".to_owned()),
            Key::Others => Some(w.secret(theirs)),
        };
        let users = w.state.user_count();
        let r = w.sign_up(who, secret.as_deref());
        assert_eq!(want(&r), expected, "{label}");
        let Ok(d) = r else {
            assert_eq!(w.state.user_count(), users, "{label}: nobody created");
            continue;
        };
        let user = w.state.user(d.value).unwrap().clone();
        let address = who.to_lowercase();
        assert_eq!(user.email.as_str(), address);
        assert_eq!(user.admin_role.as_str(), "none", "{label}: sign-up never grants an admin role");
        let ev = one(&d);
        assert_eq!(ev.event_type, "USER_SIGNED_UP");
        assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (address.as_str(), Some(address.as_str())));
        assert_eq!(ev.workspace, None);
        assert_eq!(
            ev.details,
            json!({
                "user_id": d.value.to_string(),
                "name": address,
                "pending_invitations": usize::from(inv == Inv::Pending),
            })
        );
        assert!(!format!("{ev:?}").contains(PASSWORD_HASH), "{label}: no secret in the event");
        assert!(!format!("{ev:?}").contains("argon2"), "{label}: no secret in the event");
        // The hash travels to the store with the user record only.
        assert!(d.changes.changes.iter().any(|c| matches!(
            c,
            Change::CreateUser { password_hash: Some(PasswordHash(h)), .. } if h == PASSWORD_HASH
        )));
        // Signing up does not accept anything.
        assert!(!w.check(&address, &ws("team-a"), wrole("member")).allowed);
        assert!(!format!("{ev:?}").contains("bgi_"), "{label}: no invitation secret in the event");
        assert_eq!(want(&w.sign_up(who, secret.as_deref())), Want::Conflict("user.exists"), "{label}: once");
        w.verify_chain();
    }
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

#[test]
fn tag_definitions_are_admin_only_and_validated() {
    let mut w = World::team();
    let cc = tag_def("cost-center", TagTarget::Workspace, TagRule::Pattern("CC-[0-9]{4}".into()));
    for by in [EMP, AUD, OWNER] {
        assert_eq!(want(&w.define(by, cc.clone())), FORBIDDEN, "{by}");
    }
    let rows: Vec<(&str, TagDefinition, Want)> = vec![
        ("pattern", cc.clone(), Want::Ok),
        (
            "pattern that does not compile",
            tag_def("a", TagTarget::Workspace, TagRule::Pattern("[a-".into())),
            Want::Invalid("tag.invalid"),
        ),
        ("empty list of values", tag_def("b", TagTarget::Project, values(&[])), Want::Invalid("tag.invalid")),
        (
            "an invalid value in the list",
            tag_def("c", TagTarget::Project, values(&["ok", ""])),
            Want::Invalid("tag.invalid_value"),
        ),
        ("values", tag_def("env", TagTarget::Project, values(&["dev", "prod"])), Want::Ok),
        (
            "default outside the values",
            TagDefinition {
                default: Some("qa".into()),
                ..tag_def("d", TagTarget::Project, values(&["dev"]))
            },
            Want::Invalid("tag.invalid_value"),
        ),
        (
            "default matching only partly",
            TagDefinition { default: Some("CC-12345".into()), ..cc.clone() },
            Want::Invalid("tag.invalid_value"),
        ),
        ("default that fits", TagDefinition { default: Some("CC-0001".into()), ..cc.clone() }, Want::Ok),
        ("any value", tag_def("note", TagTarget::Workspace, TagRule::Any), Want::Ok),
    ];
    for (label, def, expected) in rows {
        let log = w.log.len();
        let k = def.key.clone();
        let existed = w.state.tag_definition(&k).is_some();
        let r = w.define(ADMIN, def.clone());
        assert_eq!(want(&r), expected, "{label}");
        match r {
            Ok(d) => {
                let ev = one(&d);
                assert_eq!((ev.event_type.as_str(), ev.actor.as_str()), ("TAG_DEFINED", ADMIN));
                assert_eq!(ev.subject.as_deref(), Some(k.as_str()));
                assert_eq!(ev.details["replaced"], existed, "{label}");
                let stored = w.state.tag_definition(&k).unwrap();
                assert_eq!(TagDefinition { created_at: def.created_at, ..stored.clone() }, def, "{label}");
            }
            Err(_) => {
                assert_eq!(w.log.len(), log, "{label}: nothing recorded");
                assert_eq!(w.state.tag_definition(&k).is_some(), existed, "{label}");
            }
        }
    }
    assert_eq!(w.state.tag_definition(&key("cost-center")).unwrap().default.as_deref(), Some("CC-0001"));
    // Defining the same thing again records nothing.
    let same = ok(w.define(ADMIN, TagDefinition { default: Some("CC-0001".into()), ..cc.clone() }));
    assert!(same.events.is_empty() && same.changes.is_empty());

    // Removing a definition: admins only; unknown keys are 404; values already set stay.
    ok(w.tag(OWNER, &ws("team-a"), "note", Some("hello")));
    assert_eq!(want(&w.as_user(EMP, |s, c| tags::remove_tag_definition(s, c, &key("note")))), FORBIDDEN);
    assert_eq!(
        want(&w.as_user(ADMIN, |s, c| tags::remove_tag_definition(s, c, &key("nope")))),
        Want::NotFound("tag.not_found")
    );
    let d = ok(w.as_user(ADMIN, |s, c| tags::remove_tag_definition(s, c, &key("note"))));
    assert_eq!(one(&d).event_type, "TAG_DEFINITION_REMOVED");
    assert!(w.state.tag_definition(&key("note")).is_none());
    assert_eq!(w.workspace("team-a").tags, tags_of(&[("note", "hello")]), "the value stays");
    assert_eq!(want(&w.tag(OWNER, &ws("team-a"), "note", Some("again"))), Want::Invalid("tag.unknown"));
    w.verify_chain();
}

#[test]
fn mandatory_tags_are_required_on_creation_unless_they_have_a_default() {
    let mut w = World::team();
    w.configure(|s| s.workspace_registration = Registration::Open);
    let cc = TagDefinition {
        mandatory: true,
        ..tag_def("cost-center", TagTarget::Workspace, TagRule::Pattern("CC-[0-9]{4}".into()))
    };
    ok(w.define(ADMIN, cc));
    let env = TagDefinition {
        mandatory: true,
        default: Some("dev".into()),
        ..tag_def("env", TagTarget::Project, values(&["dev", "prod"]))
    };
    ok(w.define(ADMIN, env));
    // Defining them leaves existing workspaces and projects as they were.
    assert!(w.workspace("team-a").tags.is_empty());
    assert!(w.projects("team-a").iter().all(|p| p.tags.is_empty()));

    let missing = Want::Invalid("tag.mandatory_missing");
    let log = w.log.len();
    assert_eq!(want(&w.new_workspace(EMP, new_ws("lab", &[OWNER], &[]))), missing);
    assert_eq!(want(&w.register(STRANGER, "otto-lab")), missing);
    let with = |pairs: &[(&str, &str)]| NewWorkspace { tags: tags_of(pairs), ..new_ws("lab", &[OWNER], &[]) };
    assert_eq!(
        want(&w.new_workspace(EMP, with(&[("cost-center", "CC-12")]))),
        Want::Invalid("tag.invalid_value")
    );
    assert_eq!(want(&w.new_workspace(EMP, with(&[("env", "dev")]))), Want::Invalid("tag.unknown"));
    assert_eq!(w.log.len(), log, "nothing recorded");
    assert!(w.state.workspace(&slug("lab")).is_none() && w.state.workspace(&slug("otto-lab")).is_none());

    let d = ok(w.new_workspace(EMP, with(&[("cost-center", "CC-1234")])));
    assert_eq!(d.events[0].details["tags"], json!({"cost-center": "CC-1234"}));
    assert_eq!(w.workspace("lab").tags, tags_of(&[("cost-center", "CC-1234")]));
    ok(w.register_tagged(STRANGER, "otto-lab", tags_of(&[("cost-center", "CC-9999")])));

    // A mandatory tag with a default is filled in; a given value must be allowed.
    let d = ok(w.new_project(OWNER, "lab", "p1", Tags::new()));
    assert_eq!(d.events[0].details["tags"], json!({"env": "dev"}));
    assert_eq!(w.projects("lab")[0].tags, tags_of(&[("env", "dev")]));
    ok(w.new_project(OWNER, "lab", "p2", tags_of(&[("env", "prod")])));
    assert_eq!(w.projects("lab")[1].tags, tags_of(&[("env", "prod")]));
    assert_eq!(
        want(&w.new_project(OWNER, "lab", "p3", tags_of(&[("env", "qa")]))),
        Want::Invalid("tag.invalid_value")
    );
    assert_eq!(
        want(&w.new_project(OWNER, "lab", "p3", tags_of(&[("cost-center", "CC-1234")]))),
        Want::Invalid("tag.unknown")
    );

    // Mandatory tags cannot be removed, but can be changed to another valid value.
    let mandatory = Want::Rule("tag.mandatory");
    assert_eq!(want(&w.tag(OWNER, &ws("lab"), "cost-center", None)), mandatory);
    assert_eq!(want(&w.tag(OWNER, &proj("lab", "p1"), "env", None)), mandatory);
    ok(w.tag(OWNER, &ws("lab"), "cost-center", Some("CC-4321")));
    assert_eq!(w.workspace("lab").tags, tags_of(&[("cost-center", "CC-4321")]));
    w.verify_chain();
}

#[test]
fn setting_tags_is_validated_restricted_tags_need_the_admin_area() {
    let mut w = World::team();
    let a = ws("team-a");
    let web = proj("team-a", "web");
    ok(w.define(ADMIN, tag_def("tier", TagTarget::Workspace, values(&["gold", "silver"]))));
    ok(w.define(
        ADMIN,
        TagDefinition { restricted: true, ..tag_def("billing", TagTarget::Workspace, TagRule::Any) },
    ));
    ok(w.define(ADMIN, tag_def("repo", TagTarget::Project, TagRule::Pattern("[a-z]+/[a-z-]+".into()))));
    ok(w.define(
        ADMIN,
        TagDefinition { restricted: true, ..tag_def("budget", TagTarget::Project, TagRule::Any) },
    ));

    // (label, actor, target, key, value to set or None to remove, expected)
    type Row = (&'static str, &'static str, Target, &'static str, Option<&'static str>, Want);
    let rows: Vec<Row> = vec![
        ("manager sets a value", MANAGER, a.clone(), "tier", Some("gold"), Want::Ok),
        (
            "a value outside the list",
            MANAGER,
            a.clone(),
            "tier",
            Some("bronze"),
            Want::Invalid("tag.invalid_value"),
        ),
        ("the same value again", OWNER, a.clone(), "tier", Some("gold"), Want::Ok),
        ("member", MEMBER, a.clone(), "tier", Some("silver"), FORBIDDEN),
        ("auditor", AUD, a.clone(), "tier", Some("silver"), FORBIDDEN),
        ("outsider", STRANGER, a.clone(), "tier", Some("silver"), INVISIBLE),
        ("unknown key", MANAGER, a.clone(), "nope", Some("x"), Want::Invalid("tag.unknown")),
        (
            "project key on a workspace",
            MANAGER,
            a.clone(),
            "repo",
            Some("corp/web"),
            Want::Invalid("tag.unknown"),
        ),
        (
            "manager, restricted",
            MANAGER,
            a.clone(),
            "billing",
            Some("4711"),
            Want::Forbidden("tag.restricted"),
        ),
        ("owner, restricted", OWNER, a.clone(), "billing", Some("4711"), Want::Forbidden("tag.restricted")),
        ("employee, restricted", EMP, a.clone(), "billing", Some("4711"), Want::Ok),
        ("admin changes a restricted", ADMIN, a.clone(), "billing", Some("4712"), Want::Ok),
        (
            "manager removes a restricted",
            MANAGER,
            a.clone(),
            "billing",
            None,
            Want::Forbidden("tag.restricted"),
        ),
        ("manager, project pattern", MANAGER, web.clone(), "repo", Some("corp/web-app"), Want::Ok),
        (
            "pattern matching partly",
            MANAGER,
            web.clone(),
            "repo",
            Some("corp/web app"),
            Want::Invalid("tag.invalid_value"),
        ),
        (
            "pattern not matching",
            MANAGER,
            web.clone(),
            "repo",
            Some("Corp/Web"),
            Want::Invalid("tag.invalid_value"),
        ),
        (
            "unknown project",
            MANAGER,
            proj("team-a", "nope"),
            "repo",
            Some("corp/x"),
            Want::NotFound("project.not_found"),
        ),
        ("manager removes a tag", MANAGER, a.clone(), "tier", None, Want::Ok),
        (
            "manager, restricted on a project",
            MANAGER,
            web.clone(),
            "budget",
            Some("10k"),
            Want::Forbidden("tag.restricted"),
        ),
        ("employee, restricted on a project", EMP, web.clone(), "budget", Some("10k"), Want::Ok),
    ];
    for (label, by, target, k, value, expected) in rows {
        let log = w.log.len();
        let current = |w: &World| match &target {
            Target::Workspace(_) => w.state.workspace(target.workspace()).unwrap().tags.clone(),
            Target::Project(ws_id, p) => {
                w.state.project(ws_id, p).map(|p| p.tags.clone()).unwrap_or_default()
            }
        };
        let before = current(&w);
        let r = w.tag(by, &target, k, value);
        assert_eq!(want(&r), expected, "{label}");
        let after = current(&w);
        let from = before.get(&key(k)).cloned();
        assert_eq!(
            after.get(&key(k)).map(String::as_str),
            if r.is_ok() { value } else { from.as_deref() },
            "{label}"
        );
        match r {
            Ok(d) if from.as_deref() == value => {
                assert!(d.events.is_empty(), "{label}: a no-op records nothing")
            }
            Ok(d) => {
                let ev = one(&d);
                let ty = if value.is_some() { "TAG_SET" } else { "TAG_REMOVED" };
                assert_eq!((ev.event_type.as_str(), ev.actor.as_str()), (ty, by), "{label}");
                assert_eq!(ev.subject.as_deref(), Some(k));
                assert_eq!(ev.workspace.as_deref(), Some("team-a"));
                assert_eq!(ev.project.as_deref(), target.project().map(|p| p.as_str()));
                assert_eq!(ev.details, json!({"key": k, "from": from, "value": value}), "{label}");
            }
            Err(_) => assert_eq!(w.log.len(), log, "{label}: nothing recorded"),
        }
    }
    assert_eq!(w.workspace("team-a").tags, tags_of(&[("billing", "4712")]));
    assert_eq!(
        w.state.project(&slug("team-a"), &slug("web")).unwrap().tags,
        tags_of(&[("budget", "10k"), ("repo", "corp/web-app")])
    );

    // On creation too: a restricted tag needs the admin area.
    let budget = tags_of(&[("budget", "5k")]);
    assert_eq!(
        want(&w.new_project(MANAGER, "team-a", "ops", budget.clone())),
        Want::Forbidden("tag.restricted")
    );
    ok(w.new_project(EMP, "team-a", "ops", budget.clone()));
    assert_eq!(w.projects("team-a").iter().find(|p| p.id.as_str() == "ops").unwrap().tags, budget);
    assert_eq!((w.count("TAG_SET"), w.count("TAG_REMOVED")), (5, 1));
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

const TEAM_A: [&str; 5] = [OWNER, MANAGER, "mike@corp.io", MEMBER, "mo@corp.io"];

#[test]
fn only_admins_and_employees_send_messages() {
    let mut w = World::team();
    let rows = [
        ("admin", ADMIN, "Maintenance tonight", Want::Ok),
        ("employee", EMP, "Please tag your projects", Want::Ok),
        ("auditor", AUD, "hello", FORBIDDEN),
        ("owner", OWNER, "hello", FORBIDDEN),
        ("manager", MANAGER, "hello", FORBIDDEN),
        ("member", MEMBER, "hello", FORBIDDEN),
        ("outsider", "bella@corp.io", "hello", INVISIBLE),
        ("blank text", ADMIN, "   \n ", Want::Invalid("message.invalid_text")),
        ("control characters", ADMIN, "bell\u{7}", Want::Invalid("message.invalid_text")),
    ];
    for (label, by, text, expected) in rows {
        let r = w.send(by, "team-a", text, MessageMode::AllMustRead);
        assert_eq!(want(&r), expected, "{label}");
        if let Ok(d) = r {
            let ev = one(&d);
            assert_eq!((ev.event_type.as_str(), ev.actor.as_str()), ("MESSAGE_SENT", by));
            assert_eq!(ev.workspace.as_deref(), Some("team-a"));
            assert_eq!(
                ev.details,
                json!({"message_id": d.value.to_string(), "mode": "all_must_read", "text": text})
            );
            let m = w.state.message(d.value).unwrap();
            assert_eq!((m.sender, m.text.as_str(), m.acks.is_empty()), (w.id(by), text, true));
        }
    }
    let long = "x".repeat(messages::MAX_TEXT + 1);
    assert_eq!(
        want(&w.send(ADMIN, "team-a", &long, MessageMode::SingleRead)),
        Want::Invalid("message.invalid_text")
    );
    assert_eq!(w.state.messages().count(), 2);
    w.verify_chain();
}

#[test]
fn an_all_must_read_message_stays_for_each_user_until_they_acknowledge_it() {
    let mut w = World::team();
    let id = ok(w.send(EMP, "team-a", "Maintenance tonight", MessageMode::AllMustRead)).value;
    let elsewhere = ok(w.send(EMP, "team-b", "Budget review", MessageMode::AllMustRead)).value;
    for who in TEAM_A {
        assert_eq!(w.unread(who), [id], "{who}");
    }
    assert_eq!(w.unread("bella@corp.io"), [elsewhere]);
    for who in [EMP, ADMIN, STRANGER] {
        assert!(w.unread(who).is_empty(), "{who} is no recipient");
    }

    w.advance(Span::minutes(5));
    let t1 = w.now;
    let d = ok(w.ack(MEMBER, id));
    let ev = one(&d);
    assert_eq!(ev.event_type, "MESSAGE_ACKNOWLEDGED");
    assert_eq!(
        (ev.actor.as_str(), ev.subject.as_deref(), ev.workspace.as_deref()),
        (MEMBER, Some(MEMBER), Some("team-a"))
    );
    assert_eq!(ev.details, json!({"message_id": id.to_string(), "mode": "all_must_read"}));
    assert!(w.unread(MEMBER).is_empty());
    for who in [OWNER, MANAGER, "mike@corp.io", "mo@corp.io"] {
        assert_eq!(w.unread(who), [id], "{who} still has to read it");
    }
    assert_eq!(want(&w.ack(MEMBER, id)), Want::Conflict("message.already_acknowledged"));
    let not_found = Want::NotFound("message.not_found");
    for who in ["bella@corp.io", STRANGER, EMP, ADMIN] {
        assert_eq!(want(&w.ack(who, id)), not_found, "{who} is no recipient");
    }

    // A user who joins later is a recipient too.
    ok(w.set(MANAGER, &ws("team-a"), STRANGER, wrole("member"), None));
    assert_eq!(w.unread(STRANGER), [id]);

    w.advance(Span::minutes(5));
    let t2 = w.now;
    ok(w.ack("mo@corp.io", id));
    // The sender sees who acknowledged, and when.
    let acks = w.state.message(id).unwrap().acks.clone();
    assert_eq!(acks, [(w.id(MEMBER), t1), (w.id("mo@corp.io"), t2)]);
    for who in [OWNER, MANAGER, "mike@corp.io", STRANGER] {
        ok(w.ack(who, id));
    }
    for who in TEAM_A {
        assert!(w.unread(who).is_empty(), "{who}");
    }
    assert_eq!(w.state.message(id).unwrap().acks.len(), 6);
    assert_eq!(w.unread("bella@corp.io"), [elsewhere], "another workspace's message is unaffected");
    w.verify_chain();
}

#[test]
fn a_single_read_message_disappears_for_everyone_after_one_acknowledgement() {
    let mut w = World::team();
    let older = ok(w.send(ADMIN, "team-a", "Read me each", MessageMode::AllMustRead)).value;
    w.advance(Span::minutes(1));
    let id = ok(w.send(ADMIN, "team-a", "Rotate the deploy key", MessageMode::SingleRead)).value;
    for who in TEAM_A {
        assert_eq!(w.unread(who), [id, older], "{who}: newest first");
    }
    w.advance(Span::minutes(1));
    let d = ok(w.ack(MANAGER, id));
    assert_eq!(one(&d).details["mode"], "single_read");
    for who in TEAM_A {
        assert_eq!(w.unread(who), [older], "{who}");
    }
    assert_eq!(want(&w.ack(MEMBER, id)), Want::Conflict("message.already_acknowledged"));
    assert_eq!(want(&w.ack(MANAGER, id)), Want::Conflict("message.already_acknowledged"));
    assert_eq!(want(&w.ack("bella@corp.io", id)), Want::NotFound("message.not_found"));
    assert_eq!(w.state.message(id).unwrap().acks, [(w.id(MANAGER), w.now)]);
    assert_eq!(w.count("MESSAGE_ACKNOWLEDGED"), 1);
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

#[test]
fn only_admins_change_settings() {
    let mut w = World::team();
    let open = Settings { signup: Signup::Open, ..w.state.settings().clone() };
    for by in [EMP, AUD, OWNER, STRANGER] {
        assert_eq!(want(&w.settings_as(by, open.clone())), FORBIDDEN, "{by}");
    }
    assert_eq!(*w.state.settings(), Settings::default());
    let d = ok(w.settings_as(ADMIN, open.clone()));
    assert_eq!((one(&d).event_type.as_str(), one(&d).actor.as_str()), ("SETTINGS_CHANGED", ADMIN));
    assert_eq!(*w.state.settings(), open);
    w.verify_chain();
}

#[test]
fn settings_are_validated_and_a_refused_change_changes_nothing() {
    let base = Settings::default();
    let rows: Vec<(&str, Settings, Want)> = vec![
        (
            "ttl below an hour",
            Settings { invitation_ttl: Span::minutes(59), ..base.clone() },
            Want::Invalid("settings.invalid"),
        ),
        ("ttl of an hour", Settings { invitation_ttl: Span::hours(1), ..base.clone() }, Want::Ok),
        (
            "ttl above a year",
            Settings { invitation_ttl: Span::days(366), ..base.clone() },
            Want::Invalid("settings.invalid"),
        ),
        (
            "quota too large",
            Settings { default_project_quota: admin::MAX_QUOTA + 1, ..base.clone() },
            Want::Invalid("settings.invalid"),
        ),
        (
            "quota at the maximum",
            Settings { default_project_quota: admin::MAX_QUOTA, ..base.clone() },
            Want::Ok,
        ),
        (
            "zero maximum expiry",
            Settings {
                add_myself_max_expiry: Span::from_micros(0),
                add_myself_default_expiry: Span::from_micros(0),
                ..base.clone()
            },
            Want::Invalid("settings.invalid"),
        ),
        (
            "maximum expiry above a year",
            Settings { add_myself_max_expiry: Span::days(366), ..base.clone() },
            Want::Invalid("settings.invalid"),
        ),
        (
            "default above the maximum",
            Settings { add_myself_default_expiry: Span::days(8), ..base.clone() },
            Want::Invalid("settings.invalid"),
        ),
        (
            "default below a minute",
            Settings { add_myself_default_expiry: Span::seconds(30), ..base.clone() },
            Want::Invalid("settings.invalid"),
        ),
        (
            "default equal to the maximum",
            Settings { add_myself_default_expiry: Span::days(7), ..base.clone() },
            Want::Ok,
        ),
    ];
    for (label, s, expected) in rows {
        let mut w = World::team();
        let log = w.log.len();
        let r = w.settings_as(ADMIN, s.clone());
        assert_eq!(want(&r), expected, "{label}");
        if r.is_ok() {
            assert_eq!(*w.state.settings(), s, "{label}");
            assert_eq!(w.log.len(), log + 1, "{label}");
        } else {
            assert_eq!(*w.state.settings(), base, "{label}: unchanged");
            assert_eq!(w.log.len(), log, "{label}: nothing recorded");
        }
    }
}

#[test]
fn settings_changes_record_only_the_changed_keys_and_a_no_op_records_nothing() {
    let mut w = World::team();
    let next =
        Settings { signup: Signup::Open, restrict_admin_role_assignment: true, ..w.state.settings().clone() };
    let d = ok(w.settings_as(ADMIN, next.clone()));
    let ev = one(&d);
    assert_eq!((ev.event_type.as_str(), ev.workspace.as_deref()), ("SETTINGS_CHANGED", None));
    assert_eq!(
        ev.details,
        json!({"changed": {
            "signup": {"from": "invited_only", "to": "open"},
            "restrict_admin_role_assignment": {"from": false, "to": true},
        }})
    );
    // The same settings again: nothing changes, nothing is recorded.
    let log = w.log.len();
    let same = ok(w.settings_as(ADMIN, next.clone()));
    assert!(same.events.is_empty() && same.changes.is_empty());
    assert_eq!(w.log.len(), log);

    let d = ok(w.settings_as(
        ADMIN,
        Settings { invitation_ttl: Span::days(2), workspace_registration: Registration::Closed, ..next },
    ));
    assert_eq!(
        one(&d).details,
        json!({"changed": {
            "invitation_ttl": {"from": Span::days(7).as_micros(), "to": Span::days(2).as_micros()},
            "workspace_registration": {"from": "approval", "to": "closed"},
        }})
    );
    // The new values take effect.
    let inv = ok(w.invite(MANAGER, "team-a", "alice@corp.io", "member", None)).value;
    assert_eq!(w.state.invitation(inv).unwrap().expires_at, w.now.plus(Span::days(2)));
    assert_eq!(want(&w.register(STRANGER, "otto-lab")), Want::Forbidden("workspace.registration_closed"));
    assert_eq!(w.count("SETTINGS_CHANGED"), 2);
    w.verify_chain();
}

// ---------------------------------------------------------------------------------------------
// The whole admin area in one audit chain
// ---------------------------------------------------------------------------------------------

#[test]
fn every_admin_area_event_names_its_actor_and_details_and_the_chain_verifies() {
    let mut w = World::team();
    w.configure(|s| s.signup = Signup::Open);
    ok(w.define(ADMIN, tag_def("tier", TagTarget::Workspace, values(&["gold", "silver"]))));
    ok(w.register(STRANGER, "otto-lab"));
    ok(w.decide_on(EMP, "otto-lab", true));
    ok(w.register("alice@corp.io", "alice-lab"));
    ok(w.decide_on(ADMIN, "alice-lab", false));
    ok(w.new_workspace(EMP, new_ws("lab", &[OWNER], &[(MANAGER, "manager")])));
    ok(w.rename(MANAGER, "lab", "The Lab"));
    ok(w.set_quota(EMP, "lab", 1));
    ok(w.set_enabled(EMP, "lab", false));
    ok(w.set_enabled(ADMIN, "lab", true));
    ok(w.tag(MANAGER, &ws("lab"), "tier", Some("gold")));
    ok(w.tag(MANAGER, &ws("lab"), "tier", None));
    let i1 = ok(w.invite(MANAGER, "lab", "sam@example.org", "member", None)).value;
    ok(w.sign_up("sam@example.org", None));
    ok(w.accept("sam@example.org", i1));
    let i2 = ok(w.invite(MANAGER, "lab", MEMBER, "member", None)).value;
    ok(w.cancel_invitation(MANAGER, i2));
    let i3 = ok(w.invite(OWNER, "lab", "mo@corp.io", "manager", None)).value;
    ok(w.decline("mo@corp.io", i3));
    ok(w.set(OWNER, &ws("lab"), "sam@example.org", wrole("manager"), None));
    ok(w.add_myself(EMP, "lab", None));
    ok(w.leave(EMP, "lab"));
    ok(w.remove(OWNER, &ws("lab"), "sam@example.org"));
    let m = ok(w.send(ADMIN, "lab", "Welcome", MessageMode::SingleRead)).value;
    ok(w.ack(MANAGER, m));

    let required = [
        "WORKSPACE_REGISTERED",
        "WORKSPACE_CREATED",
        "WORKSPACE_APPROVED",
        "WORKSPACE_REJECTED",
        "WORKSPACE_STATUS_CHANGED",
        "WORKSPACE_QUOTA_EDITED",
        "WORKSPACE_UPDATED",
        "USER_INVITED",
        "USER_ACCEPTED_INVITATION",
        "USER_DECLINED_INVITATION",
        "USER_INVITATION_CANCELLED",
        "USER_REMOVED",
        "USER_ROLE_CHANGED",
        "USER_ASSIGNED_HIMSELF",
        "USER_SIGNED_UP",
        "SETTINGS_CHANGED",
        "TAG_DEFINED",
        "TAG_SET",
        "TAG_REMOVED",
        "MESSAGE_SENT",
        "MESSAGE_ACKNOWLEDGED",
    ];
    for t in required {
        assert!(w.count(t) > 0, "the scenario recorded no {t}");
    }
    let installation_wide = ["SETTINGS_CHANGED", "TAG_DEFINED", "USER_SIGNED_UP", "USER_CREATED"];
    for e in &w.log {
        assert!(!e.actor.is_empty(), "{} {} names who acted", e.seq, e.event_type);
        assert!(e.details.is_object(), "{} {} has a details object", e.seq, e.event_type);
        if !installation_wide.contains(&e.event_type.as_str()) {
            assert!(e.workspace.is_some(), "{} {} belongs to a workspace", e.seq, e.event_type);
        }
        assert!(!format!("{e:?}").contains("argon2"), "{} {} holds no secret", e.seq, e.event_type);
    }
    // The workspace's history is the filtered log: its lifecycle in order.
    let lab: Vec<&str> = w
        .log
        .iter()
        .filter(|e| e.workspace.as_deref() == Some("lab"))
        .map(|e| e.event_type.as_str())
        .filter(|t| t.starts_with("WORKSPACE_"))
        .collect();
    assert_eq!(
        lab,
        [
            "WORKSPACE_CREATED",
            "WORKSPACE_UPDATED",
            "WORKSPACE_QUOTA_EDITED",
            "WORKSPACE_STATUS_CHANGED",
            "WORKSPACE_STATUS_CHANGED"
        ]
    );
    w.verify_chain();
}

#[test]
fn a_request_opened_before_the_workspace_was_disabled_cannot_be_granted_while_it_is() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let new = NewRequest {
        target: web.clone(),
        role: prole("admin"),
        duration: Span::hours(1),
        justification: Some("before the freeze".into()),
        emergency: false,
    };
    let id: RequestId = ok(w.as_user("max@corp.io", move |s, c| requests::create_request(s, c, new))).value;
    ok(w.set_enabled("emp@corp.io", "team-a", false));
    let approve = |w: &mut World| w.as_user("mia@corp.io", move |s, c| requests::approve(s, c, id, false));
    assert_eq!(want(&approve(&mut w)), Want::Rule("workspace.disabled"));
    assert!(w.state.request(id).is_some_and(|r| r.approvals.is_empty()), "the refusal recorded nothing");
    ok(w.set_enabled("emp@corp.io", "team-a", true));
    ok(approve(&mut w));
    assert!(w.check("max@corp.io", &web, prole("admin")).allowed);
}
