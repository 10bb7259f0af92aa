//! The admin area and the workspace lifecycle, end to end: self-service registration under the
//! `workspace_registration` setting, approval and rejection, a pending workspace usable by
//! nobody, direct creation with initial users, immutable identifiers, disabling and enabling,
//! project quotas (installation default, edits, a raised quota raced on two servers), "add
//! myself", invitations and sign-up, tags, messages, settings, and the audit trail of all of it.
//! Every refusal is checked for its status and code and shown to change nothing.

use std::collections::BTreeMap;

use breakglass_client::api::{
    AddMyself, AuditEvent, BatchCheckRequest, CheckRequest, CheckResponse, CreateGrant, CreateInvitation,
    CreateProject, CreateRequest, CreateWorkspace, InitialMember, Invitation, ListQuery, Message,
    RegisterWorkspace, SendMessage, SetMember, Settings, Signup, TagDefinition, UpdateWorkspace, Workspace,
};
use breakglass_client::Client;
use breakglass_core::time::{Span, Timestamp};
use serde_json::json;

use crate::common::*;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
const DAVE: &str = "dave@example.com";
const ERIN: &str = "erin@example.com";
const OLIVIA: &str = "olivia@example.com";
const MIKE: &str = "mike@example.com";
const MARY: &str = "mary@example.com";
const OSCAR: &str = "oscar@example.com";
const EMMA: &str = "emma@example.com";
const AUDREY: &str = "audrey@example.com";

// ---- helpers ----

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn register(id: &str) -> RegisterWorkspace {
    RegisterWorkspace { identifier: id.into(), name: format!("Workspace {id}"), tags: BTreeMap::new() }
}

fn new_workspace(id: &str) -> CreateWorkspace {
    CreateWorkspace {
        identifier: id.into(),
        name: format!("Workspace {id}"),
        owners: Vec::new(),
        project_quota: None,
        members: Vec::new(),
        tags: BTreeMap::new(),
    }
}

fn project(id: &str) -> CreateProject {
    CreateProject { identifier: id.into(), name: format!("Project {id}"), tags: BTreeMap::new() }
}

fn role(r: &str) -> SetMember {
    SetMember { role: r.into(), ..Default::default() }
}

fn invitation(email: &str, role: &str) -> CreateInvitation {
    CreateInvitation { email: email.into(), role: role.into(), ..Default::default() }
}

fn signup(email: &str) -> Signup {
    Signup {
        email: email.into(),
        name: format!("Signed up {email}"),
        password: password_for(email),
        invitation_token: None,
    }
}

/// A sign-up presenting an invitation's secret.
fn invited_signup(email: &str, secret: &str) -> Signup {
    Signup { invitation_token: Some(secret.into()), ..signup(email) }
}

/// The secret that came with a new invitation (the answer to creating it, and nothing else,
/// carries it).
#[track_caller]
fn secret(i: &Invitation) -> &str {
    i.token.as_deref().unwrap_or_else(|| panic!("no secret with {i:?}"))
}

/// An invitation as every later answer shows it: without its secret.
fn without_secret(i: &Invitation) -> Invitation {
    Invitation { token: None, ..i.clone() }
}

fn ask(ws: &str, role: &str) -> CreateRequest {
    CreateRequest {
        workspace: ws.into(),
        role: role.into(),
        duration: "2h".into(),
        justification: Some("on call".into()),
        ..Default::default()
    }
}

fn grant(user: &str, ws: &str, role: &str) -> CreateGrant {
    CreateGrant {
        user: user.into(),
        workspace: ws.into(),
        role: role.into(),
        expires_in: Some("2h".into()),
        ..Default::default()
    }
}

fn tag_def(key: &str, target: &str) -> TagDefinition {
    TagDefinition {
        key: key.into(),
        target: target.into(),
        restricted: false,
        values: Vec::new(),
        pattern: None,
        mandatory: false,
        default: None,
    }
}

fn message(text: &str, mode: &str) -> SendMessage {
    SendMessage { text: text.into(), mode: mode.into() }
}

fn identifiers(list: &[Workspace]) -> Vec<&str> {
    list.iter().map(|w| w.identifier.as_str()).collect()
}

fn at(t: Timestamp) -> Option<String> {
    Some(rfc(t))
}

async fn check(c: &Client, user: &str, ws: &str, project: Option<&str>, role: &str) -> CheckResponse {
    c.check(&CheckRequest {
        user: user.into(),
        workspace: ws.into(),
        project: project.map(Into::into),
        role: role.into(),
        min_seq: None,
    })
    .await
    .unwrap_or_else(|e| panic!("check {user} {role} on {ws}/{project:?}: {e}"))
}

/// Asserts that a check says no for `reason`.
async fn denied(c: &Client, user: &str, ws: &str, project: Option<&str>, role: &str, reason: &str) {
    let r = check(c, user, ws, project, role).await;
    assert!(!r.allowed, "{user} must not hold {role} on {ws}/{project:?}: {r:?}");
    assert_eq!(r.reason.map(|r| r.as_str()), Some(reason), "{user} {role} on {ws}/{project:?}: {r:?}");
}

/// Asserts that a check says yes, and returns the answer.
async fn allowed(c: &Client, user: &str, ws: &str, project: Option<&str>, role: &str) -> CheckResponse {
    let r = check(c, user, ws, project, role).await;
    assert!(r.allowed, "{user} must hold {role} on {ws}/{project:?}: {r:?}");
    r
}

async fn set_settings(t: &TestApp, change: Settings) -> Settings {
    t.admin().update_settings(&change).await.unwrap_or_else(|e| panic!("settings {change:?}: {e}"))
}

/// The last event of a type.
async fn last_of(t: &TestApp, ty: &str) -> AuditEvent {
    t.events_of(ty).await.pop().unwrap_or_else(|| panic!("no {ty} event was recorded"))
}

/// Asserts an event's type, actor and workspace, and that its details are a non-empty object.
#[track_caller]
fn assert_event(e: &AuditEvent, ty: &str, actor: &str, ws: Option<&str>) {
    assert_eq!(e.event_type, ty, "{e:?}");
    assert_eq!(e.actor, actor, "who acted: {e:?}");
    assert_eq!(e.workspace.as_deref(), ws, "{e:?}");
    assert!(e.details.as_object().is_some_and(|d| !d.is_empty()), "details must be an object: {e:?}");
    assert!(!e.hash.is_empty() && !e.prev_hash.is_empty(), "{e:?}");
}

/// Everything the admin can see, the admin area's records included: two are equal when a
/// refused request changed nothing.
#[derive(Debug, PartialEq)]
struct Everything {
    base: Snapshot,
    settings: Settings,
    tags: Vec<TagDefinition>,
    invitations: Vec<Invitation>,
    messages: Vec<Message>,
}

async fn everything(t: &TestApp) -> Everything {
    let admin = t.admin();
    let base = t.snapshot().await;
    let mut invitations = Vec::new();
    let mut messages = Vec::new();
    for (ws, _, _) in &base.workspaces {
        invitations.extend(admin.all_workspace_invitations(&ws.identifier).await.expect("invitations"));
        messages.extend(admin.all_workspace_messages(&ws.identifier).await.expect("messages"));
    }
    Everything {
        settings: admin.settings().await.expect("settings"),
        tags: admin.all_tag_definitions().await.expect("tag definitions"),
        invitations,
        messages,
        base,
    }
}

async fn assert_same(t: &TestApp, before: &Everything, what: &str) {
    let after = everything(t).await;
    assert!(after == *before, "{what} changed something:\nbefore: {before:#?}\nafter: {after:#?}");
}

async fn verify(t: &TestApp) {
    let report = t.admin().verify_audit().await.expect("verify");
    assert!(report.ok, "the audit chain must verify: {report:?}");
}

// ---- registration, approval, rejection ----

#[tokio::test]
async fn a_registered_workspace_waits_for_approval_and_is_unusable_meanwhile() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    let bob = t.user(BOB).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;

    // `approval` is the installation default: the registrant owns a workspace nobody can use yet.
    assert_eq!(admin.settings().await.unwrap().workspace_registration.as_deref(), Some("approval"));
    let ws = alice.register_workspace(&register("alpha")).await.unwrap();
    assert_eq!((ws.identifier.as_str(), ws.status.as_str()), ("alpha", "pending_approval"));
    assert_eq!((ws.project_quota, ws.project_count), (20, 0), "the installation's default quota");
    let ev = last_of(&t, "WORKSPACE_REGISTERED").await;
    assert_event(&ev, "WORKSPACE_REGISTERED", ALICE, Some("alpha"));
    assert_eq!(ev.details["status"], "pending_approval");
    assert_eq!(ev.details["name"], "Workspace alpha");
    let members = admin.all_workspace_members("alpha").await.unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!((members[0].user.as_str(), members[0].role.as_str()), (ALICE, "owner"));
    assert_eq!(members[0].expires_at, None);
    assert_eq!(
        alice.workspace("alpha").await.unwrap().status,
        breakglass_api::WorkspaceStatus::PendingApproval
    );

    // Usable by nobody: every check is denied, for its owner too, whoever asks.
    denied(&alice, ALICE, "alpha", None, "owner", "workspace_not_active").await;
    denied(&alice, ALICE, "alpha", None, "member", "workspace_not_active").await;
    denied(&admin, ALICE, "alpha", None, "member", "workspace_not_active").await;

    let before = everything(&t).await;
    for (who, c) in [("owner", &alice), ("admin", &admin)] {
        let p = expect_problem(
            c.create_project("alpha", &project("web")).await,
            422,
            "workspace.pending_approval",
        );
        assert!(p.detail.contains("alpha"), "{who}: {p:?}");
        expect_problem(
            c.set_workspace_member("alpha", BOB, &role("member")).await,
            422,
            "workspace.pending_approval",
        );
        expect_problem(
            c.create_grant(&grant(BOB, "alpha", "member")).await,
            422,
            "workspace.pending_approval",
        );
        expect_problem(
            c.invite("alpha", &invitation(CAROL, "member")).await,
            422,
            "workspace.pending_approval",
        );
    }
    expect_problem(alice.create_request(&ask("alpha", "manager")).await, 422, "workspace.pending_approval");
    // The admin area cannot slip in either, nor disable or enable what is not approved.
    expect_problem(admin.add_myself("alpha", &AddMyself::default()).await, 422, "workspace.not_approved");
    expect_problem(admin.disable_workspace("alpha", None).await, 409, "workspace.not_approved");
    expect_problem(admin.enable_workspace("alpha", None).await, 409, "workspace.not_approved");
    // Only the admin area decides; the owner may not approve their own workspace, an outsider
    // does not even see it, and an auditor only reads.
    expect_problem(alice.approve_workspace("alpha", None).await, 403, "authz.forbidden");
    expect_problem(audrey.approve_workspace("alpha", None).await, 403, "authz.forbidden");
    expect_problem(audrey.reject_workspace("alpha", None).await, 403, "authz.forbidden");
    expect_problem(bob.approve_workspace("alpha", None).await, 404, "workspace.not_found");
    expect_problem(bob.workspace("alpha").await, 404, "workspace.not_found");
    expect_problem(admin.approve_workspace("nope", None).await, 404, "workspace.not_found");
    assert_same(&t, &before, "using a workspace that waits for approval").await;

    // An employee approves: the workspace becomes usable.
    let ws = emma.approve_workspace("alpha", Some("known team")).await.unwrap();
    assert_eq!(ws.status, breakglass_api::WorkspaceStatus::Active);
    let ev = last_of(&t, "WORKSPACE_APPROVED").await;
    assert_event(&ev, "WORKSPACE_APPROVED", EMMA, Some("alpha"));
    assert_eq!(ev.details["reason"], "known team");
    let before = everything(&t).await;
    expect_problem(emma.approve_workspace("alpha", None).await, 409, "workspace.not_pending");
    expect_problem(admin.reject_workspace("alpha", None).await, 409, "workspace.not_pending");
    assert_same(&t, &before, "deciding an approved workspace again").await;
    allowed(&alice, ALICE, "alpha", None, "owner").await;
    alice.create_project("alpha", &project("web")).await.unwrap();
    alice.set_workspace_member("alpha", BOB, &role("member")).await.unwrap().expect_binding();
    allowed(&admin, BOB, "alpha", None, "member").await;

    // A rejected registration stays unusable, and its identifier stays taken.
    assert_eq!(
        alice.register_workspace(&register("beta")).await.unwrap().status,
        breakglass_api::WorkspaceStatus::PendingApproval
    );
    let ws = admin.reject_workspace("beta", Some("duplicate of alpha")).await.unwrap();
    assert_eq!(ws.status, breakglass_api::WorkspaceStatus::Rejected);
    let ev = last_of(&t, "WORKSPACE_REJECTED").await;
    assert_event(&ev, "WORKSPACE_REJECTED", ADMIN_EMAIL, Some("beta"));
    assert_eq!(ev.details["reason"], "duplicate of alpha");
    denied(&alice, ALICE, "beta", None, "owner", "workspace_not_active").await;
    let before = everything(&t).await;
    expect_problem(alice.create_project("beta", &project("web")).await, 422, "workspace.rejected");
    expect_problem(emma.approve_workspace("beta", None).await, 409, "workspace.not_pending");
    expect_problem(emma.reject_workspace("beta", None).await, 409, "workspace.not_pending");
    expect_problem(emma.enable_workspace("beta", None).await, 409, "workspace.not_approved");
    expect_problem(alice.register_workspace(&register("beta")).await, 409, "workspace.exists");
    expect_problem(bob.register_workspace(&register("alpha")).await, 409, "workspace.exists");
    expect_problem(bob.register_workspace(&register("Not A Slug")).await, 400, "input.invalid_identifier");
    assert_same(&t, &before, "using a rejected workspace").await;

    // Lists filter on status, for the admin area and for the registrant alike.
    alice.register_workspace(&register("gamma")).await.unwrap();
    let q = |s: &str| ListQuery { status: Some(s.into()), ..Default::default() };
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&q("pending_approval")).await.unwrap()), ["gamma"]);
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&q("rejected")).await.unwrap()), ["beta"]);
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&q("active")).await.unwrap()), ["alpha"]);
    assert_eq!(identifiers(&alice.all_workspaces_filtered(&q("pending_approval")).await.unwrap()), ["gamma"]);
    assert!(bob.all_workspaces_filtered(&q("pending_approval")).await.unwrap().is_empty());
    expect_problem(admin.list_workspaces_filtered(&q("sleeping")).await, 400, "input.invalid_status");
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn registration_follows_the_setting_and_the_admin_area_creates_directly() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    t.user(BOB).await;
    t.user(CAROL).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;

    // `open`: active at once.
    let s = set_settings(&t, Settings { workspace_registration: Some("open".into()), ..Default::default() })
        .await;
    assert_eq!(s.workspace_registration.as_deref(), Some("open"));
    let ws = alice.register_workspace(&register("alpha")).await.unwrap();
    assert_eq!(ws.status, breakglass_api::WorkspaceStatus::Active);
    let ev = last_of(&t, "WORKSPACE_REGISTERED").await;
    assert_event(&ev, "WORKSPACE_REGISTERED", ALICE, Some("alpha"));
    assert_eq!(ev.details["status"], "active");
    allowed(&alice, ALICE, "alpha", None, "owner").await;
    alice.create_project("alpha", &project("web")).await.unwrap();

    // `closed`: refused, nothing recorded.
    set_settings(&t, Settings { workspace_registration: Some("closed".into()), ..Default::default() }).await;
    let before = everything(&t).await;
    expect_problem(alice.register_workspace(&register("beta")).await, 403, "workspace.registration_closed");
    expect_problem(emma.register_workspace(&register("beta")).await, 403, "workspace.registration_closed");
    assert_same(&t, &before, "registering while registration is closed").await;

    // The admin area still creates workspaces directly, with initial users.
    let ws = emma
        .create_workspace(&CreateWorkspace {
            owners: vec![ALICE.into()],
            members: vec![
                InitialMember { email: BOB.into(), role: "manager".into() },
                InitialMember { email: CAROL.into(), role: "member".into() },
            ],
            project_quota: Some(3),
            ..new_workspace("gamma")
        })
        .await
        .unwrap();
    assert_eq!((ws.status.as_str(), ws.project_quota), ("active", 3));
    let mut members: Vec<(String, String)> = admin
        .all_workspace_members("gamma")
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.user, b.role.to_string()))
        .collect();
    members.sort();
    assert_eq!(
        members,
        [(ALICE.into(), "owner".into()), (BOB.into(), "manager".into()), (CAROL.into(), "member".into())],
        "exactly the initial users; the creating employee is not one of them"
    );
    let ev = last_of(&t, "WORKSPACE_CREATED").await;
    assert_event(&ev, "WORKSPACE_CREATED", EMMA, Some("gamma"));
    assert_eq!(ev.details["owners"], json!([ALICE]));
    assert_eq!(ev.details["project_quota"], 3);
    let listed = ev.details["members"].as_array().expect("members in the details");
    assert!(listed.contains(&json!({"user": BOB, "role": "manager"})), "{ev:?}");
    assert!(listed.contains(&json!({"user": CAROL, "role": "member"})), "{ev:?}");
    allowed(&admin, BOB, "gamma", None, "manager").await;
    allowed(&admin, CAROL, "gamma", None, "member").await;
    denied(&admin, CAROL, "gamma", None, "manager", "no_binding").await;
    denied(&admin, EMMA, "gamma", None, "member", "no_binding").await;

    // Without owners, the creator owns it.
    admin.create_workspace(&new_workspace("delta")).await.unwrap();
    allowed(&admin, ADMIN_EMAIL, "delta", None, "owner").await;

    let before = everything(&t).await;
    expect_problem(alice.create_workspace(&new_workspace("epsilon")).await, 403, "authz.forbidden");
    expect_problem(audrey.create_workspace(&new_workspace("epsilon")).await, 403, "authz.forbidden");
    expect_problem(emma.create_workspace(&new_workspace("gamma")).await, 409, "workspace.exists");
    expect_problem(
        emma.create_workspace(&CreateWorkspace { owners: vec![DAVE.into()], ..new_workspace("epsilon") })
            .await,
        404,
        "user.not_found",
    );
    expect_problem(emma.create_workspace(&new_workspace("-bad")).await, 400, "input.invalid_identifier");
    expect_problem(
        emma.create_workspace(&CreateWorkspace {
            members: vec![InitialMember { email: BOB.into(), role: "admin".into() }],
            ..new_workspace("epsilon")
        })
        .await,
        400,
        "input.unknown_role",
    );
    assert_same(&t, &before, "refused workspace creations").await;
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn a_workspace_identifier_never_changes() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    let bob = t.user(BOB).await;
    let carol = t.user(CAROL).await;
    t.workspace("alpha", &[ALICE]).await;
    admin.set_workspace_member("alpha", BOB, &role("member")).await.unwrap();

    let before = everything(&t).await;
    let change = UpdateWorkspace { identifier: Some("alpha-2".into()), name: Some("Renamed".into()) };
    for c in [&alice, &admin] {
        let p =
            expect_problem(c.update_workspace("alpha", &change).await, 422, "workspace.identifier_immutable");
        assert!(p.detail.contains("alpha"), "{p:?}");
    }
    let only_id = UpdateWorkspace { identifier: Some("beta".into()), name: None };
    expect_problem(admin.update_workspace("alpha", &only_id).await, 422, "workspace.identifier_immutable");
    t.raw("PATCH", "/api/v1/workspaces/alpha", Some(ADMIN_TOKEN), Body::Json(&json!({"identifier": "beta"})))
        .await
        .assert_problem(422, "workspace.identifier_immutable");
    // Someone who does not see the workspace learns nothing, not even that the identifier is fixed.
    expect_problem(carol.update_workspace("alpha", &change).await, 404, "workspace.not_found");
    expect_problem(
        bob.update_workspace("alpha", &UpdateWorkspace { name: Some("Mine".into()), identifier: None }).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        alice
            .update_workspace("alpha", &UpdateWorkspace { name: Some(String::new()), identifier: None })
            .await,
        400,
        "input.invalid_name",
    );
    t.raw("PATCH", "/api/v1/workspaces/alpha", Some(ADMIN_TOKEN), Body::Json(&json!({"slug": "beta"})))
        .await
        .assert_problem(400, "input.unknown_field");
    assert_same(&t, &before, "changing an identifier").await;
    expect_problem(admin.workspace("alpha-2").await, 404, "workspace.not_found");

    // Repeating the identifier is fine; the name changes, the identifier does not.
    let ws = alice
        .update_workspace(
            "alpha",
            &UpdateWorkspace { identifier: Some("alpha".into()), name: Some("Renamed".into()) },
        )
        .await
        .unwrap();
    assert_eq!((ws.identifier.as_str(), ws.name.as_str()), ("alpha", "Renamed"));
    let ev = last_of(&t, "WORKSPACE_UPDATED").await;
    assert_event(&ev, "WORKSPACE_UPDATED", ALICE, Some("alpha"));
    assert_eq!(
        (ev.details["from_name"].as_str(), ev.details["name"].as_str()),
        (Some("Workspace alpha"), Some("Renamed"))
    );
    assert_eq!(admin.workspace("alpha").await.unwrap().name, "Renamed");
    verify(&t).await;
    t.stop().await;
}

// ---- disable / enable ----

#[tokio::test]
async fn a_disabled_workspace_denies_every_check_refuses_new_access_and_keeps_its_data() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    let bob = t.user(BOB).await;
    t.user(CAROL).await;
    t.user(DAVE).await;
    let erin = t.user(ERIN).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;
    t.workspace("alpha", &[ALICE]).await;
    t.project("alpha", "web").await;
    t.workspace("beta", &[]).await;
    admin.set_workspace_member("alpha", BOB, &role("member")).await.unwrap();
    admin.set_workspace_member("beta", BOB, &role("member")).await.unwrap();
    admin.set_project_member("alpha", "web", CAROL, &role("user")).await.unwrap();
    admin.create_grant(&grant(DAVE, "alpha", "manager")).await.unwrap().expect_binding();
    let pending_invitation = alice.invite("alpha", &invitation(ERIN, "member")).await.unwrap();

    let holders: [(&str, Option<&str>, &str); 4] = [
        (ALICE, None, "owner"),
        (BOB, None, "member"),
        (CAROL, Some("web"), "user"),
        (DAVE, None, "manager"),
    ];
    let mut via = Vec::new();
    for (user, p, r) in holders {
        via.push(allowed(&admin, user, "alpha", p, r).await.via);
    }
    let members_before = admin.all_workspace_members("alpha").await.unwrap();
    let project_members_before = admin.all_project_members("alpha", "web").await.unwrap();

    let ws = emma.disable_workspace("alpha", Some("unpaid invoices")).await.unwrap();
    assert_eq!(ws.status, breakglass_api::WorkspaceStatus::Disabled);
    let ev = last_of(&t, "WORKSPACE_STATUS_CHANGED").await;
    assert_event(&ev, "WORKSPACE_STATUS_CHANGED", EMMA, Some("alpha"));
    assert_eq!((ev.details["from"].as_str(), ev.details["to"].as_str()), (Some("active"), Some("disabled")));
    assert_eq!(ev.details["reason"], "unpaid invoices");

    // Every check for it and its projects is denied, whoever asks and however.
    for (user, p, r) in holders {
        denied(&admin, user, "alpha", p, r, "workspace_not_active").await;
    }
    denied(&bob, BOB, "alpha", None, "member", "workspace_not_active").await;
    let batch = admin
        .check_batch(&BatchCheckRequest {
            checks: holders
                .iter()
                .map(|(u, p, r)| CheckRequest {
                    user: (*u).into(),
                    workspace: "alpha".into(),
                    project: p.map(Into::into),
                    role: (*r).into(),
                    min_seq: None,
                })
                .collect(),
            min_seq: None,
        })
        .await
        .unwrap();
    assert!(batch.results.iter().all(|r| !r.allowed), "{batch:?}");
    // Other workspaces are not affected.
    allowed(&admin, BOB, "beta", None, "member").await;
    // Its data stays.
    assert_eq!(admin.all_workspace_members("alpha").await.unwrap(), members_before);
    assert_eq!(admin.all_project_members("alpha", "web").await.unwrap(), project_members_before);
    assert_eq!(admin.all_projects("alpha").await.unwrap().len(), 1);
    assert_eq!(alice.workspace("alpha").await.unwrap().status, breakglass_api::WorkspaceStatus::Disabled);

    // No new requests, no new bindings, no new projects.
    let before = everything(&t).await;
    expect_problem(alice.create_project("alpha", &project("api")).await, 422, "workspace.disabled");
    expect_problem(
        alice.set_workspace_member("alpha", ERIN, &role("member")).await,
        422,
        "workspace.disabled",
    );
    expect_problem(
        alice.set_workspace_member("alpha", BOB, &role("manager")).await,
        422,
        "workspace.disabled",
    );
    expect_problem(
        alice.set_project_member("alpha", "web", BOB, &role("reader")).await,
        422,
        "workspace.disabled",
    );
    expect_problem(alice.create_grant(&grant(BOB, "alpha", "manager")).await, 422, "workspace.disabled");
    expect_problem(bob.create_request(&ask("alpha", "manager")).await, 422, "workspace.disabled");
    expect_problem(alice.invite("alpha", &invitation(ERIN, "manager")).await, 422, "workspace.disabled");
    expect_problem(
        erin.accept_invitation(&pending_invitation.id, secret(&pending_invitation)).await,
        422,
        "workspace.disabled",
    );
    // Only the admin area disables or enables.
    expect_problem(alice.disable_workspace("alpha", None).await, 403, "authz.forbidden");
    expect_problem(alice.enable_workspace("alpha", None).await, 403, "authz.forbidden");
    expect_problem(audrey.enable_workspace("alpha", None).await, 403, "authz.forbidden");
    expect_problem(erin.enable_workspace("alpha", None).await, 404, "workspace.not_found");
    assert_same(&t, &before, "new access in a disabled workspace").await;

    // Disabling again changes nothing.
    let seq = t.seq().await;
    assert_eq!(
        admin.disable_workspace("alpha", None).await.unwrap().status,
        breakglass_api::WorkspaceStatus::Disabled
    );
    assert_eq!(t.seq().await, seq, "a repeated disable records nothing");

    // Time goes on while it is disabled: dave's 2h grant ends meanwhile.
    t.advance(Span::hours(3));
    let ws = admin.enable_workspace("alpha", Some("paid")).await.unwrap();
    assert_eq!(ws.status, breakglass_api::WorkspaceStatus::Active);
    let ev = last_of(&t, "WORKSPACE_STATUS_CHANGED").await;
    assert_event(&ev, "WORKSPACE_STATUS_CHANGED", ADMIN_EMAIL, Some("alpha"));
    assert_eq!((ev.details["from"].as_str(), ev.details["to"].as_str()), (Some("disabled"), Some("active")));
    let seq = t.seq().await;
    admin.enable_workspace("alpha", None).await.unwrap();
    assert_eq!(t.seq().await, seq, "a repeated enable records nothing");

    // Enabling restores the very same bindings; the grant that ended meanwhile stays ended.
    for ((user, p, r), via) in holders.iter().zip(&via).take(3) {
        let now = allowed(&admin, user, "alpha", *p, r).await;
        assert_eq!(&now.via, via, "{user}: the same bindings count again");
    }
    denied(&admin, DAVE, "alpha", None, "manager", "no_binding").await;
    // And the workspace takes new access again.
    let alice = t.login(ALICE).await;
    alice.create_project("alpha", &project("api")).await.unwrap();
    let erin = t.login(ERIN).await;
    erin.accept_invitation(&pending_invitation.id, secret(&pending_invitation)).await.unwrap();
    allowed(&admin, ERIN, "alpha", None, "member").await;
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn approving_an_open_request_in_a_disabled_workspace_is_refused() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    let bob = t.user(BOB).await;
    t.workspace("alpha", &[ALICE]).await;
    admin.set_workspace_member("alpha", BOB, &role("member")).await.unwrap();
    // The installation default policy: one approval by a workspace manager.
    let r = bob.create_request(&ask("alpha", "manager")).await.unwrap();
    assert_eq!(r.state, breakglass_api::RequestState::Pending);

    admin.disable_workspace("alpha", None).await.unwrap();
    let before = everything(&t).await;
    // A disabled workspace refuses new bindings: the approval would create one.
    expect_problem(alice.approve_request(&r.id, false).await, 422, "workspace.disabled");
    expect_problem(admin.approve_request(&r.id, true).await, 422, "workspace.disabled");
    assert_same(&t, &before, "approving a request in a disabled workspace").await;
    assert_eq!(admin.request(&r.id).await.unwrap().state, breakglass_api::RequestState::Pending);

    // Once enabled again, the request can be approved.
    admin.enable_workspace("alpha", None).await.unwrap();
    assert_eq!(
        alice.approve_request(&r.id, false).await.unwrap().state,
        breakglass_api::RequestState::Granted
    );
    allowed(&admin, BOB, "alpha", None, "manager").await;
    t.stop().await;
}

#[tokio::test]
async fn a_workspace_disabled_on_one_server_is_denied_by_another_within_a_bounded_time() {
    let a = TestApp::start().await;
    a.user(BOB).await;
    a.workspace("alpha", &[]).await;
    a.admin().set_workspace_member("alpha", BOB, &role("member")).await.unwrap();
    let b = a.second_server().await;
    allowed(&b.admin(), BOB, "alpha", None, "member").await;

    a.admin().disable_workspace("alpha", None).await.unwrap();
    denied(&a.admin(), BOB, "alpha", None, "member", "workspace_not_active").await;
    // The other replica must stop answering yes within a bounded time (here, 5 s of real time).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let last = loop {
        let r = check(&b.admin(), BOB, "alpha", None, "member").await;
        if !r.allowed || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(!last.allowed, "server B still allows a check on a workspace disabled on server A: {last:?}");
    assert_eq!(last.reason.map(|r| r.as_str()), Some("workspace_not_active"), "{last:?}");
    b.stop().await;
    a.stop().await;
}

// ---- quotas ----

#[tokio::test]
async fn the_project_quota_follows_the_installation_default_and_the_admin_area_edits_it() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    let bob = t.user(BOB).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;
    let old = t.workspace("old", &[]).await;
    assert_eq!(old.project_quota, 20);

    let s = set_settings(
        &t,
        Settings {
            default_project_quota: Some(2),
            workspace_registration: Some("open".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(s.default_project_quota, Some(2));
    let ev = last_of(&t, "SETTINGS_CHANGED").await;
    assert_event(&ev, "SETTINGS_CHANGED", ADMIN_EMAIL, None);
    assert_eq!(ev.details["changed"]["default_project_quota"], json!({"from": 20, "to": 2}));

    // New workspaces, created or registered, get the new default; existing ones keep theirs.
    assert_eq!(t.workspace("alpha", &[ALICE]).await.project_quota, 2);
    assert_eq!(bob.register_workspace(&register("bobs")).await.unwrap().project_quota, 2);
    assert_eq!(admin.workspace("old").await.unwrap().project_quota, 20);

    alice.create_project("alpha", &project("p1")).await.unwrap();
    alice.create_project("alpha", &project("p2")).await.unwrap();
    let before = everything(&t).await;
    expect_problem(alice.create_project("alpha", &project("p3")).await, 422, "workspace.quota_exceeded");
    // Only the admin area changes a quota.
    expect_problem(alice.set_quota("alpha", 5).await, 403, "authz.forbidden");
    expect_problem(audrey.set_quota("alpha", 5).await, 403, "authz.forbidden");
    expect_problem(bob.set_quota("alpha", 5).await, 404, "workspace.not_found");
    expect_problem(emma.set_quota("alpha", 100_001).await, 400, "input.invalid_quota");
    expect_problem(emma.set_quota("nope", 5).await, 404, "workspace.not_found");
    t.raw(
        "PUT",
        "/api/v1/workspaces/alpha/quota",
        Some(ADMIN_TOKEN),
        Body::Json(&json!({"project_quota": -1})),
    )
    .await
    .assert_problem(400, "input.invalid_field");
    assert_same(&t, &before, "refused quota changes").await;

    let ws = emma.set_quota("alpha", 3).await.unwrap();
    assert_eq!((ws.project_quota, ws.project_count), (3, 2));
    let ev = last_of(&t, "WORKSPACE_QUOTA_EDITED").await;
    assert_event(&ev, "WORKSPACE_QUOTA_EDITED", EMMA, Some("alpha"));
    assert_eq!((ev.details["from"].clone(), ev.details["to"].clone()), (json!(2), json!(3)));
    assert_eq!(ev.details["projects"], 2);
    alice.create_project("alpha", &project("p3")).await.unwrap();
    expect_problem(alice.create_project("alpha", &project("p4")).await, 422, "workspace.quota_exceeded");

    // The same quota again records nothing.
    let seq = t.seq().await;
    admin.set_quota("alpha", 3).await.unwrap();
    assert_eq!(t.seq().await, seq);

    // A quota below the number of projects only stops new ones.
    let ws = admin.set_quota("alpha", 1).await.unwrap();
    assert_eq!((ws.project_quota, ws.project_count), (1, 3));
    assert_eq!(admin.all_projects("alpha").await.unwrap().len(), 3);
    expect_problem(alice.create_project("alpha", &project("p4")).await, 422, "workspace.quota_exceeded");
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn a_quota_lowered_on_one_server_is_honoured_by_another() {
    let a = TestApp::start_with_quota(5).await;
    a.workspace("alpha", &[]).await;
    a.project("alpha", "p1").await;
    let b = a.second_server().await;
    assert_eq!(b.admin().workspace("alpha").await.unwrap().project_quota, 5);

    assert_eq!(a.admin().set_quota("alpha", 1).await.unwrap().project_quota, 1);
    // B still believes in 5, but the database has the last word.
    expect_problem(b.admin().create_project("alpha", &project("p2")).await, 422, "workspace.quota_exceeded");
    assert_eq!(a.admin().all_projects("alpha").await.unwrap().len(), 1);
    let ws = b.admin().workspace("alpha").await.unwrap();
    assert_eq!((ws.project_quota, ws.project_count), (1, 1), "B caught up when its write was refused");
    verify(&b).await;
    b.stop().await;
    a.stop().await;
}

async fn race(client: &Client, ws: &str, prefix: &str, attempts: usize) -> (usize, Vec<String>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..attempts {
        let c = client.clone();
        let ws = ws.to_owned();
        let id = format!("{prefix}{i:02}");
        tasks.spawn(async move { c.create_project(&ws, &project(&id)).await });
    }
    let mut ok = 0;
    let mut refused = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r.expect("the task completes") {
            Ok(_) => ok += 1,
            Err(e) => {
                refused.push(format!("{} {}", e.status().unwrap_or_default(), e.code().unwrap_or_default()))
            }
        }
    }
    (ok, refused)
}

#[tokio::test]
async fn a_quota_raised_on_one_server_is_honoured_by_another() {
    let a = TestApp::start_with_quota(2).await;
    a.workspace("alpha", &[]).await;
    a.project("alpha", "p1").await;
    a.project("alpha", "p2").await;
    let b = a.second_server().await;
    assert_eq!(b.admin().workspace("alpha").await.unwrap().project_quota, 2);

    assert_eq!(a.admin().set_quota("alpha", 3).await.unwrap().project_quota, 3);
    // The quota is 3 and there are 2 projects: the other server must create the third.
    let p = b.admin().create_project("alpha", &project("p3")).await;
    assert!(p.is_ok(), "server B refused a project within the raised quota: {p:?}");
    expect_problem(a.admin().create_project("alpha", &project("p4")).await, 422, "workspace.quota_exceeded");
    expect_problem(b.admin().create_project("alpha", &project("p4")).await, 422, "workspace.quota_exceeded");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raised_quota_holds_under_concurrent_creation_on_two_servers() {
    let a = TestApp::start_with_quota(2).await;
    a.workspace("alpha", &[]).await;
    a.project("alpha", "p1").await;
    a.project("alpha", "p2").await;
    let b = a.second_server().await;
    assert_eq!(b.admin().workspace("alpha").await.unwrap().project_quota, 2);

    // Raised on A; B knows the old quota until it hears from the database.
    let ws = a.admin().set_quota("alpha", 6).await.unwrap();
    assert_eq!((ws.project_quota, ws.project_count), (6, 2));

    // Four free places, three attempts on each server: whatever the interleaving, exactly four
    // succeed, and that needs both servers to honour the raised quota.
    let (ca, cb) = (a.admin(), b.admin());
    let (ra, rb) = tokio::join!(race(&ca, "alpha", "a", 3), race(&cb, "alpha", "b", 3));
    let mut refused = ra.1.clone();
    refused.extend(rb.1.clone());
    assert!(
        refused.iter().all(|c| c == "422 workspace.quota_exceeded"),
        "only the quota may refuse: {refused:?}"
    );
    assert_eq!(
        ra.0 + rb.0,
        4,
        "exactly the raised quota is used across both servers (A: {} ok {:?}, B: {} ok {:?})",
        ra.0,
        ra.1,
        rb.0,
        rb.1
    );

    // A second wave on both servers at once: the workspace is full.
    let (ra, rb) = tokio::join!(race(&ca, "alpha", "late-a", 6), race(&cb, "alpha", "late-b", 6));
    assert_eq!(ra.0 + rb.0, 0, "a full workspace takes no more: {ra:?} {rb:?}");
    assert!(ra.1.iter().chain(&rb.1).all(|c| c == "422 workspace.quota_exceeded"), "{ra:?} {rb:?}");

    assert_eq!(a.admin().all_projects("alpha").await.unwrap().len(), 6);
    assert_eq!(a.events_of("PROJECT_CREATED").await.len(), 6);
    for t in [&a, &b] {
        verify(t).await;
    }
    b.stop().await;
    let a = a.restart().await;
    let ws = a.admin().workspace("alpha").await.unwrap();
    assert_eq!((ws.project_quota, ws.project_count), (6, 6));
    a.stop().await;
}

// ---- add myself ----

#[tokio::test]
async fn admins_and_employees_add_themselves_with_a_bounded_expiry_and_leave_again() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    let bob = t.user(BOB).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;
    t.workspace("alpha", &[OLIVIA]).await;
    let t0 = t.now();

    // Without a body: manager until the default expiry (8 hours).
    let b = emma.add_myself("alpha", &AddMyself::default()).await.unwrap();
    assert_eq!((b.user.as_str(), b.role.as_str(), b.source.as_str()), (EMMA, "manager", "direct"));
    assert_eq!(b.expires_at, at(t0.plus(Span::hours(8))));
    let ev = last_of(&t, "USER_ASSIGNED_HIMSELF").await;
    assert_event(&ev, "USER_ASSIGNED_HIMSELF", EMMA, Some("alpha"));
    assert_eq!(ev.subject.as_deref(), Some(EMMA));
    assert_eq!(ev.details["role"], "manager");
    assert_eq!(ev.details["expires_at"].as_str(), at(t0.plus(Span::hours(8))).as_deref());
    assert_eq!(ev.details["binding_id"], b.id.as_str());
    let r = allowed(&admin, EMMA, "alpha", None, "manager").await;
    assert_eq!(r.expires_at, at(t0.plus(Span::hours(8))));
    // Visible to the workspace: its owner sees the membership and the event.
    assert!(olivia.all_workspace_members("alpha").await.unwrap().iter().any(|m| m.id == b.id));
    let history = olivia.all_history("alpha", None, &Default::default()).await.unwrap();
    assert!(
        history.iter().any(|e| e.event_type == "USER_ASSIGNED_HIMSELF" && e.actor == EMMA),
        "{history:?}"
    );

    // Exactly the maximum (7 days) is allowed, a second more is not.
    let a = admin
        .add_myself("alpha", &AddMyself { expires_in: Some("7d".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((a.role.as_str(), a.expires_at.clone()), ("manager", at(t0.plus(Span::days(7)))));
    let before = everything(&t).await;
    let too_long =
        AddMyself { expires_at: at(t0.plus(Span::days(7)).plus(Span::seconds(1))), ..Default::default() };
    expect_problem(emma.add_myself("alpha", &too_long).await, 422, "add_myself.expiry_too_long");
    expect_problem(
        emma.add_myself("alpha", &AddMyself { expires_in: Some("30d".into()), ..Default::default() }).await,
        422,
        "add_myself.expiry_too_long",
    );
    expect_problem(
        emma.add_myself("alpha", &AddMyself { expires_at: at(t0), ..Default::default() }).await,
        422,
        "input.expiry_in_past",
    );
    expect_problem(
        emma.add_myself("alpha", &AddMyself { expires_in: Some("soon".into()), ..Default::default() }).await,
        400,
        "input.invalid_duration",
    );
    expect_problem(
        emma.add_myself(
            "alpha",
            &AddMyself { expires_in: Some("1h".into()), expires_at: at(t0.plus(Span::hours(1))) },
        )
        .await,
        422,
        "input.conflicting_fields",
    );
    // Nobody else may.
    expect_problem(olivia.add_myself("alpha", &AddMyself::default()).await, 403, "authz.forbidden");
    expect_problem(bob.add_myself("alpha", &AddMyself::default()).await, 403, "authz.forbidden");
    expect_problem(audrey.add_myself("alpha", &AddMyself::default()).await, 403, "authz.forbidden");
    expect_problem(emma.add_myself("nope", &AddMyself::default()).await, 404, "workspace.not_found");
    assert_same(&t, &before, "refused add-myself").await;

    // Adding oneself again replaces the earlier membership.
    let again = emma
        .add_myself("alpha", &AddMyself { expires_in: Some("1h".into()), ..Default::default() })
        .await
        .unwrap();
    assert_ne!(again.id, b.id);
    let ev = last_of(&t, "USER_ASSIGNED_HIMSELF").await;
    assert_eq!(ev.details["replaces_binding_id"], b.id.as_str());
    let mine: Vec<_> =
        admin.all_workspace_members("alpha").await.unwrap().into_iter().filter(|m| m.user == EMMA).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    // It ends at its expiry.
    t.advance(Span::hours(1));
    denied(&admin, EMMA, "alpha", None, "manager", "no_binding").await;

    // With `restrict_admin_role_assignment`, as member; new default and maximum.
    set_settings(
        &t,
        Settings {
            restrict_admin_role_assignment: Some(true),
            add_myself_default_expiry: Some("2h".into()),
            add_myself_max_expiry: Some("1d".into()),
            ..Default::default()
        },
    )
    .await;
    let now = t.now();
    let m = emma.add_myself("alpha", &AddMyself::default()).await.unwrap();
    assert_eq!((m.role.as_str(), m.expires_at.clone()), ("member", at(now.plus(Span::hours(2)))));
    assert_eq!(last_of(&t, "USER_ASSIGNED_HIMSELF").await.details["role"], "member");
    allowed(&admin, EMMA, "alpha", None, "member").await;
    denied(&admin, EMMA, "alpha", None, "manager", "no_binding").await;
    let before = everything(&t).await;
    expect_problem(
        emma.add_myself("alpha", &AddMyself { expires_in: Some("25h".into()), ..Default::default() }).await,
        422,
        "add_myself.expiry_too_long",
    );
    assert_same(&t, &before, "add-myself beyond the new maximum").await;
    let m = emma
        .add_myself("alpha", &AddMyself { expires_in: Some("1d".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((m.role.as_str(), m.expires_at.clone()), ("member", at(now.plus(Span::days(1)))));

    // Leaving again.
    emma.leave_workspace("alpha").await.unwrap();
    let ev = last_of(&t, "USER_REMOVED").await;
    assert_event(&ev, "USER_REMOVED", EMMA, Some("alpha"));
    assert_eq!(ev.subject.as_deref(), Some(EMMA));
    assert_eq!(ev.details["left_themselves"], true);
    denied(&admin, EMMA, "alpha", None, "member", "no_binding").await;
    let before = everything(&t).await;
    expect_problem(emma.leave_workspace("alpha").await, 404, "member.not_found");
    // The last owner cannot leave.
    expect_problem(olivia.leave_workspace("alpha").await, 422, "workspace.last_owner");
    assert_same(&t, &before, "refused leaving").await;

    // An owner does not add themselves.
    t.workspace("beta", &[]).await;
    expect_problem(admin.add_myself("beta", &AddMyself::default()).await, 409, "add_myself.already_owner");

    // Adding oneself to a disabled workspace is allowed (to clean up access), but grants nothing
    // until it is enabled.
    admin.disable_workspace("alpha", None).await.unwrap();
    let d = emma.add_myself("alpha", &AddMyself::default()).await.unwrap();
    assert_eq!(d.role, breakglass_api::Role::Member);
    denied(&admin, EMMA, "alpha", None, "member", "workspace_not_active").await;
    admin.enable_workspace("alpha", None).await.unwrap();
    allowed(&admin, EMMA, "alpha", None, "member").await;
    verify(&t).await;
    t.stop().await;
}

// ---- invitations and sign-up ----

#[tokio::test]
async fn an_invited_address_signs_up_and_accepts_exactly_what_was_offered() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    t.workspace("alpha", &[OLIVIA]).await;
    const NEWBIE: &str = "newbie@example.com";
    assert_eq!(admin.settings().await.unwrap().signup.as_deref(), Some("invited_only"));

    // An address that belongs to nobody yet, with a membership expiry.
    let t0 = t.now();
    let until = t0.plus(Span::days(30));
    let inv = olivia
        .invite(
            "alpha",
            &CreateInvitation {
                email: "NewBie@Example.com".into(),
                role: "manager".into(),
                expires_at: at(until),
                expires_in: None,
            },
        )
        .await
        .unwrap();
    assert_eq!((inv.email.as_str(), inv.role.as_str(), inv.state.as_str()), (NEWBIE, "manager", "pending"));
    assert_eq!((inv.workspace.as_str(), inv.invited_by.as_str()), ("alpha", OLIVIA));
    assert_eq!(inv.membership_expires_at, at(until));
    assert_eq!(inv.expires_at, rfc(t0.plus(Span::days(7))), "invitations last 7 days by default");
    let ev = last_of(&t, "USER_INVITED").await;
    assert_event(&ev, "USER_INVITED", OLIVIA, Some("alpha"));
    assert_eq!(ev.subject.as_deref(), Some(NEWBIE));
    assert_eq!(ev.details["invitation_id"], inv.id.as_str());
    assert_eq!(ev.details["role"], "manager");
    assert_eq!(ev.details["registered"], false);
    assert_eq!(ev.details["membership_expires_at"].as_str(), at(until).as_deref());
    // The secret comes with this answer only: the lists never show it.
    let token = secret(&inv).to_owned();
    assert!(token.starts_with("bgi_") && token.len() > 40, "{token}");
    assert_eq!(olivia.all_workspace_invitations("alpha").await.unwrap(), vec![without_secret(&inv)]);
    let listed = t.raw("GET", "/api/v1/workspaces/alpha/invitations", olivia.token(), Body::None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert!(listed.body["items"][0].get("token").is_none(), "{listed:?}");
    assert!(!listed.text.contains(&token), "{listed:?}");
    // Another address's invitation, whose secret opens nothing for the first.
    let other = olivia.invite("alpha", &invitation("other@example.com", "member")).await.unwrap();
    assert_ne!(secret(&other), token, "every invitation has its own secret");

    // Sign-up is `invited_only`: a stranger is refused, and so is the invited address without
    // the invitation's secret (nobody verified that address); with it the invitee is let in.
    let before = everything(&t).await;
    expect_problem(t.anonymous().signup(&signup("stranger@example.com")).await, 403, "auth.signup_closed");
    for (label, attempt) in [
        ("a stranger with a secret", invited_signup("stranger@example.com", &token)),
        ("no secret", signup(NEWBIE)),
        ("a wrong secret", invited_signup(NEWBIE, "bgi_guessed")),
        ("an empty secret", invited_signup(NEWBIE, "")),
        ("another address's secret", invited_signup(NEWBIE, secret(&other))),
    ] {
        let p = expect_problem(t.anonymous().signup(&attempt).await, 403, "auth.signup_closed");
        assert!(!p.detail.contains(&token), "{label}: {p:?}");
    }
    let r = t
        .raw(
            "POST",
            "/api/v1/auth/signup",
            None,
            Body::Json(&json!({"email": NEWBIE, "name": "N", "password": password_for(NEWBIE)})),
        )
        .await;
    r.assert_problem(403, "auth.signup_closed");
    assert_same(&t, &before, "an uninvited sign-up").await;
    let session = t.anonymous().signup(&invited_signup(NEWBIE, &token)).await.unwrap();
    assert_eq!((session.user.email.as_str(), session.user.admin_role.as_str()), (NEWBIE, "none"));
    let ev = last_of(&t, "USER_SIGNED_UP").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (NEWBIE, Some(NEWBIE)));
    assert_eq!(ev.details["pending_invitations"], 1);
    let newbie = t.client(&session.token);
    assert_eq!(newbie.me().await.unwrap().user.email, NEWBIE);
    // Signing up grants nothing by itself.
    expect_problem(newbie.workspace("alpha").await, 404, "workspace.not_found");
    denied(&admin, NEWBIE, "alpha", None, "member", "no_binding").await;

    // The invitee sees the invitation (without its secret)...
    let mine = newbie.all_my_invitations().await.unwrap();
    assert_eq!(mine, vec![without_secret(&inv)]);
    let listed = t.raw("GET", "/api/v1/me/invitations", newbie.token(), Body::None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert!(listed.body["items"][0].get("token").is_none(), "{listed:?}");
    assert!(!listed.text.contains(&token), "{listed:?}");

    // ... and cannot accept it without the secret: the body is required, and a wrong secret
    // (or another invitation's) is refused, changing nothing.
    let before = everything(&t).await;
    let accept = format!("/api/v1/invitations/{}/accept", inv.id);
    t.raw("POST", &accept, newbie.token(), Body::None)
        .await
        .assert_problem(415, "input.unsupported_media_type");
    t.raw("POST", &accept, newbie.token(), Body::Json(&json!({})))
        .await
        .assert_problem(400, "input.missing_field");
    t.raw("POST", &accept, newbie.token(), Body::Json(&json!({"token": null})))
        .await
        .assert_problem(400, "input.invalid_field");
    for wrong in ["bgi_guessed", "", secret(&other)] {
        let p =
            expect_problem(newbie.accept_invitation(&inv.id, wrong).await, 403, "invitation.invalid_token");
        assert!(!p.detail.contains(&token), "{p:?}");
    }
    assert_same(&t, &before, "accepting without the right secret").await;
    denied(&admin, NEWBIE, "alpha", None, "member", "no_binding").await;

    // With it, the invitee accepts exactly what was offered.
    let accepted = newbie.accept_invitation(&inv.id, &token).await.unwrap();
    assert_eq!(accepted.token, None, "the secret is shown once");
    assert_eq!((accepted.id.as_str(), accepted.state.as_str()), (inv.id.as_str(), "accepted"));
    let memberships: Vec<_> = admin
        .all_workspace_members("alpha")
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.user == NEWBIE)
        .collect();
    assert_eq!(memberships.len(), 1, "{memberships:?}");
    let b = &memberships[0];
    assert_eq!((b.role.as_str(), b.source.as_str(), b.expires_at.clone()), ("manager", "direct", at(until)));
    let r = allowed(&admin, NEWBIE, "alpha", None, "manager").await;
    assert_eq!(r.expires_at, at(until));
    denied(&admin, NEWBIE, "alpha", None, "owner", "no_binding").await;
    let ev = last_of(&t, "USER_ACCEPTED_INVITATION").await;
    assert_event(&ev, "USER_ACCEPTED_INVITATION", NEWBIE, Some("alpha"));
    assert_eq!(ev.subject.as_deref(), Some(NEWBIE));
    assert_eq!(ev.details["invitation_id"], inv.id.as_str());
    assert_eq!(ev.details["role"], "manager");
    assert_eq!(ev.details["membership_expires_at"].as_str(), at(until).as_deref());
    assert_eq!(ev.details["binding_id"], b.id.as_str());
    assert!(newbie.all_my_invitations().await.unwrap().is_empty());

    // Accepted once; the address is taken now, and the secret opens nothing any more.
    let before = everything(&t).await;
    expect_problem(newbie.accept_invitation(&inv.id, &token).await, 409, "invitation.not_pending");
    expect_problem(newbie.decline_invitation(&inv.id).await, 409, "invitation.not_pending");
    expect_problem(t.anonymous().signup(&invited_signup(NEWBIE, &token)).await, 403, "auth.signup_closed");
    assert_same(&t, &before, "accepting twice").await;

    // The secret and its digest never reach the audit log.
    let digest: String =
        breakglass_server::auth::secret_hash(&token).0.iter().map(|b| format!("{b:02x}")).collect();
    let log = serde_json::to_string(&t.events().await).unwrap();
    assert!(!log.contains(&token), "the secret is in the audit log");
    assert!(!log.contains(&digest), "the secret's digest is in the audit log");
    assert!(!log.contains(secret(&other)), "a secret is in the audit log");
    for ty in ["USER_INVITED", "USER_SIGNED_UP", "USER_ACCEPTED_INVITATION"] {
        for e in t.events_of(ty).await {
            assert!(e.details.get("token").is_none() && e.details.get("token_hash").is_none(), "{e:?}");
        }
    }
    set_settings(&t, Settings { signup: Some("open".into()), ..Default::default() }).await;
    let before = everything(&t).await;
    expect_problem(t.anonymous().signup(&signup("NEWBIE@example.com")).await, 409, "user.exists");
    assert_same(&t, &before, "signing up with a taken address").await;

    // The membership ends when the invitation said.
    t.set_time(until);
    denied(&admin, NEWBIE, "alpha", None, "member", "no_binding").await;
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn accepting_never_grants_more_than_the_invitation_said() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    let bob = t.user(BOB).await;
    let carol = t.user(CAROL).await;
    t.workspace("alpha", &[OLIVIA]).await;

    // A registered user; whatever the accepting request carries, the invitation decides.
    let inv = olivia.invite("alpha", &invitation(BOB, "member")).await.unwrap();
    assert_eq!(last_of(&t, "USER_INVITED").await.details["registered"], true);
    assert_eq!(bob.all_my_invitations().await.unwrap(), vec![without_secret(&inv)]);
    let r = t
        .raw(
            "POST",
            &format!("/api/v1/invitations/{}/accept", inv.id),
            bob.token(),
            Body::Json(&json!({"token": secret(&inv), "role": "owner", "expires_at": null})),
        )
        .await;
    assert!(r.status == 200 || r.status == 400, "{r:?}");
    if r.status == 200 {
        assert_eq!(r.body["state"], "accepted", "{r:?}");
    } else {
        r.assert_problem(400, "input.unknown_field");
        bob.accept_invitation(&inv.id, secret(&inv)).await.unwrap();
    }
    let bobs: Vec<_> =
        admin.all_workspace_members("alpha").await.unwrap().into_iter().filter(|b| b.user == BOB).collect();
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    assert_eq!((bobs[0].role.as_str(), bobs[0].expires_at.clone()), ("member", None));
    allowed(&admin, BOB, "alpha", None, "member").await;
    denied(&admin, BOB, "alpha", None, "manager", "no_binding").await;

    // Carol was made manager after her member invitation went out: accepting keeps the higher
    // membership and adds nothing.
    let inv = olivia.invite("alpha", &invitation(CAROL, "member")).await.unwrap();
    let manager =
        olivia.set_workspace_member("alpha", CAROL, &role("manager")).await.unwrap().expect_binding();
    assert_eq!(
        carol.accept_invitation(&inv.id, secret(&inv)).await.unwrap().state,
        breakglass_api::InvitationState::Accepted
    );
    let carols: Vec<_> =
        admin.all_workspace_members("alpha").await.unwrap().into_iter().filter(|b| b.user == CAROL).collect();
    assert_eq!(carols, vec![manager.clone()]);
    assert_eq!(last_of(&t, "USER_ACCEPTED_INVITATION").await.details["binding_id"], manager.id.as_str());
    denied(&admin, CAROL, "alpha", None, "owner", "no_binding").await;
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn invitations_are_refused_to_the_wrong_people_and_in_the_wrong_states() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    let mike = t.user(MIKE).await;
    let mary = t.user(MARY).await;
    let oscar = t.user(OSCAR).await;
    let bob = t.user(BOB).await;
    let carol = t.user(CAROL).await;
    t.workspace("alpha", &[OLIVIA]).await;
    admin.set_workspace_member("alpha", MIKE, &role("manager")).await.unwrap();
    admin.set_workspace_member("alpha", MARY, &role("member")).await.unwrap();

    let inv = mike.invite("alpha", &invitation(BOB, "member")).await.unwrap();
    let for_manager = olivia.invite("alpha", &invitation(DAVE, "manager")).await.unwrap();
    let before = everything(&t).await;
    // Someone else's invitation is invisible, its secret in hand or not.
    for c in [&carol, &oscar, &mary] {
        expect_problem(c.accept_invitation(&inv.id, secret(&inv)).await, 404, "invitation.not_found");
        expect_problem(c.accept_invitation(&inv.id, "bgi_guessed").await, 404, "invitation.not_found");
        expect_problem(c.decline_invitation(&inv.id).await, 404, "invitation.not_found");
    }
    assert!(carol.all_my_invitations().await.unwrap().is_empty());
    expect_problem(
        bob.accept_invitation("00000000-0000-0000-0000-000000000000", secret(&inv)).await,
        404,
        "invitation.not_found",
    );
    expect_problem(bob.accept_invitation("not-an-id", secret(&inv)).await, 404, "invitation.not_found");
    // The addressee with a wrong secret, or the secret of another invitation.
    expect_problem(bob.accept_invitation(&inv.id, "bgi_guessed").await, 403, "invitation.invalid_token");
    expect_problem(
        bob.accept_invitation(&inv.id, secret(&for_manager)).await,
        403,
        "invitation.invalid_token",
    );
    // Who may invite: managers (members below manager), owners (any role).
    expect_problem(mary.invite("alpha", &invitation(CAROL, "member")).await, 403, "authz.forbidden");
    expect_problem(mike.invite("alpha", &invitation(CAROL, "manager")).await, 403, "authz.forbidden");
    expect_problem(mike.invite("alpha", &invitation(CAROL, "owner")).await, 403, "authz.forbidden");
    expect_problem(oscar.invite("alpha", &invitation(CAROL, "member")).await, 404, "workspace.not_found");
    // Duplicates and members.
    let p = expect_problem(
        olivia.invite("alpha", &invitation("BOB@example.com", "member")).await,
        409,
        "invitation.duplicate",
    );
    assert!(p.detail.contains(&inv.id), "{p:?}");
    expect_problem(
        olivia.invite("alpha", &invitation(MARY, "manager")).await,
        409,
        "invitation.already_member",
    );
    // Bad values.
    expect_problem(
        olivia.invite("alpha", &invitation("not-an-email", "member")).await,
        400,
        "input.invalid_email",
    );
    expect_problem(olivia.invite("alpha", &invitation(CAROL, "admin")).await, 400, "input.unknown_role");
    expect_problem(
        olivia
            .invite("alpha", &CreateInvitation { expires_at: at(t.now()), ..invitation(CAROL, "member") })
            .await,
        422,
        "input.expiry_in_past",
    );
    expect_problem(
        olivia
            .invite(
                "alpha",
                &CreateInvitation {
                    expires_at: at(t.now().plus(Span::days(1))),
                    expires_in: Some("1d".into()),
                    ..invitation(CAROL, "member")
                },
            )
            .await,
        422,
        "input.conflicting_fields",
    );
    // Who may cancel and see the list: as for inviting.
    expect_problem(mary.cancel_invitation(&inv.id).await, 403, "authz.forbidden");
    expect_problem(mike.cancel_invitation(&for_manager.id).await, 403, "authz.forbidden");
    expect_problem(oscar.cancel_invitation(&inv.id).await, 404, "invitation.not_found");
    expect_problem(bob.cancel_invitation(&inv.id).await, 404, "invitation.not_found");
    expect_problem(mary.workspace_invitations("alpha", &Default::default()).await, 403, "authz.forbidden");
    expect_problem(
        oscar.workspace_invitations("alpha", &Default::default()).await,
        404,
        "workspace.not_found",
    );
    assert_same(&t, &before, "refused invitation actions").await;

    // Cancelled: gone for the invitee, final for everyone.
    mike.cancel_invitation(&inv.id).await.unwrap();
    let ev = last_of(&t, "USER_INVITATION_CANCELLED").await;
    assert_event(&ev, "USER_INVITATION_CANCELLED", MIKE, Some("alpha"));
    assert_eq!(
        (ev.subject.as_deref(), ev.details["invitation_id"].as_str()),
        (Some(BOB), Some(inv.id.as_str()))
    );
    let listed = olivia.all_workspace_invitations("alpha").await.unwrap();
    assert_eq!(listed.iter().find(|i| i.id == inv.id).map(|i| i.state.as_str()), Some("cancelled"));
    assert!(bob.all_my_invitations().await.unwrap().is_empty());
    let before = everything(&t).await;
    expect_problem(bob.accept_invitation(&inv.id, secret(&inv)).await, 409, "invitation.not_pending");
    expect_problem(bob.decline_invitation(&inv.id).await, 409, "invitation.not_pending");
    expect_problem(mike.cancel_invitation(&inv.id).await, 409, "invitation.not_pending");
    assert_same(&t, &before, "acting on a cancelled invitation").await;
    denied(&admin, BOB, "alpha", None, "member", "no_binding").await;

    // Declined: the same.
    let again = mike.invite("alpha", &invitation(BOB, "member")).await.unwrap();
    assert_ne!(again.id, inv.id);
    let declined = bob.decline_invitation(&again.id).await.unwrap();
    assert_eq!(declined.state, breakglass_api::InvitationState::Declined);
    let ev = last_of(&t, "USER_DECLINED_INVITATION").await;
    assert_event(&ev, "USER_DECLINED_INVITATION", BOB, Some("alpha"));
    let before = everything(&t).await;
    expect_problem(bob.accept_invitation(&again.id, secret(&again)).await, 409, "invitation.not_pending");
    expect_problem(mike.cancel_invitation(&again.id).await, 409, "invitation.not_pending");
    assert_same(&t, &before, "acting on a declined invitation").await;
    denied(&admin, BOB, "alpha", None, "member", "no_binding").await;
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn an_invitation_expires_after_the_configured_number_of_days() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    t.user(BOB).await;
    t.user(CAROL).await;
    t.user(ERIN).await;
    t.workspace("alpha", &[OLIVIA]).await;
    let t0 = t.now();
    let ends = t0.plus(Span::days(7));
    let for_bob = olivia.invite("alpha", &invitation(BOB, "member")).await.unwrap();
    let for_carol = olivia.invite("alpha", &invitation(CAROL, "member")).await.unwrap();
    let late = olivia.invite("alpha", &invitation("late@example.com", "member")).await.unwrap();
    assert_eq!(for_bob.expires_at, rfc(ends));

    // At the last instant it still works.
    t.set_time(plus_micros(ends, -1));
    let carol = t.login(CAROL).await;
    assert_eq!(
        carol.accept_invitation(&for_carol.id, secret(&for_carol)).await.unwrap().state,
        breakglass_api::InvitationState::Accepted
    );

    // Seven days after it was sent, it is over.
    t.set_time(ends);
    let bob = t.login(BOB).await;
    let olivia = t.login(OLIVIA).await;
    assert!(bob.all_my_invitations().await.unwrap().is_empty(), "an expired invitation is not offered");
    let listed = olivia.all_workspace_invitations("alpha").await.unwrap();
    assert_eq!(listed.iter().find(|i| i.id == for_bob.id).map(|i| i.state.as_str()), Some("expired"));
    let before = everything(&t).await;
    let p =
        expect_problem(bob.accept_invitation(&for_bob.id, secret(&for_bob)).await, 409, "invitation.expired");
    assert!(p.detail.contains("expired"), "{p:?}");
    expect_problem(bob.decline_invitation(&for_bob.id).await, 409, "invitation.expired");
    expect_problem(olivia.cancel_invitation(&for_bob.id).await, 409, "invitation.expired");
    // An expired invitation no longer opens sign-up, its secret in hand or not.
    expect_problem(
        t.anonymous().signup(&invited_signup("late@example.com", secret(&late))).await,
        403,
        "auth.signup_closed",
    );
    assert_same(&t, &before, "acting on an expired invitation").await;
    denied(&admin, BOB, "alpha", None, "member", "no_binding").await;

    // It can be sent again.
    let renewed = olivia.invite("alpha", &invitation(BOB, "member")).await.unwrap();
    assert_eq!(renewed.expires_at, rfc(ends.plus(Span::days(7))));

    // The number of days is a setting.
    set_settings(&t, Settings { invitation_ttl_days: Some(2), ..Default::default() }).await;
    let now = t.now();
    let short = olivia.invite("alpha", &invitation(DAVE, "member")).await.unwrap();
    assert_eq!(short.expires_at, rfc(now.plus(Span::days(2))));

    // An invitation whose membership would already have ended cannot be accepted either.
    let brief = olivia
        .invite("alpha", &CreateInvitation { expires_in: Some("1h".into()), ..invitation(ERIN, "member") })
        .await
        .unwrap();
    t.advance(Span::hours(2));
    let erin = t.login(ERIN).await;
    let before = everything(&t).await;
    expect_problem(erin.accept_invitation(&brief.id, secret(&brief)).await, 422, "invitation.expired");
    assert_same(&t, &before, "accepting a membership that has already ended").await;
    verify(&t).await;
    t.stop().await;
}

#[tokio::test]
async fn signup_follows_the_setting() {
    let t = TestApp::start().await;
    let olivia = t.user(OLIVIA).await;
    t.workspace("alpha", &[OLIVIA]).await;
    let invited = olivia.invite("alpha", &invitation("invited@example.com", "member")).await.unwrap();
    let later = olivia.invite("alpha", &invitation("later@example.com", "member")).await.unwrap();

    // `closed`: nobody, invited or not.
    set_settings(&t, Settings { signup: Some("closed".into()), ..Default::default() }).await;
    let ev = last_of(&t, "SETTINGS_CHANGED").await;
    assert_eq!(ev.details["changed"]["signup"], json!({"from": "invited_only", "to": "closed"}));
    let before = everything(&t).await;
    expect_problem(
        t.anonymous().signup(&invited_signup("invited@example.com", secret(&invited))).await,
        403,
        "auth.signup_closed",
    );
    expect_problem(t.anonymous().signup(&signup("stranger@example.com")).await, 403, "auth.signup_closed");
    assert_same(&t, &before, "signing up while sign-up is closed").await;

    // `invited_only`: the invited only, with their invitation's secret.
    set_settings(&t, Settings { signup: Some("invited_only".into()), ..Default::default() }).await;
    let before = everything(&t).await;
    expect_problem(t.anonymous().signup(&signup("stranger@example.com")).await, 403, "auth.signup_closed");
    expect_problem(
        t.anonymous().signup(&invited_signup("stranger@example.com", secret(&invited))).await,
        403,
        "auth.signup_closed",
    );
    expect_problem(t.anonymous().signup(&signup("invited@example.com")).await, 403, "auth.signup_closed");
    for wrong in ["bgi_guessed", secret(&later)] {
        expect_problem(
            t.anonymous().signup(&invited_signup("invited@example.com", wrong)).await,
            403,
            "auth.signup_closed",
        );
    }
    assert_same(&t, &before, "an uninvited sign-up").await;
    let s = t
        .anonymous()
        .signup(&Signup {
            email: "Invited@Example.com".into(),
            ..invited_signup("invited@example.com", secret(&invited))
        })
        .await
        .unwrap();
    assert_eq!(s.user.email, "invited@example.com");
    // The password chosen at sign-up works.
    assert_eq!(t.login("invited@example.com").await.me().await.unwrap().user.email, "invited@example.com");

    // `open`: anyone.
    set_settings(&t, Settings { signup: Some("open".into()), ..Default::default() }).await;
    let s = t.anonymous().signup(&signup("stranger@example.com")).await.unwrap();
    assert_eq!(last_of(&t, "USER_SIGNED_UP").await.details["pending_invitations"], 0);
    let stranger = t.client(&s.token);
    assert!(stranger.all_my_invitations().await.unwrap().is_empty());
    assert!(stranger.all_workspaces().await.unwrap().is_empty());
    let s = t.anonymous().signup(&signup("later@example.com")).await.unwrap();
    assert_eq!(t.client(&s.token).all_my_invitations().await.unwrap().len(), 1);

    let before = everything(&t).await;
    expect_problem(t.anonymous().signup(&signup(OLIVIA)).await, 409, "user.exists");
    expect_problem(
        t.anonymous().signup(&Signup { password: "short".into(), ..signup("new@example.com") }).await,
        400,
        "input.weak_password",
    );
    expect_problem(t.anonymous().signup(&signup("not an email")).await, 400, "input.invalid_email");
    expect_problem(
        t.anonymous().signup(&Signup { name: String::new(), ..signup("new@example.com") }).await,
        400,
        "input.invalid_name",
    );
    t.raw(
        "POST",
        "/api/v1/auth/signup",
        None,
        Body::Json(&json!({"email": "new@example.com", "name": "N", "password": password_for("new@example.com"), "admin_role": "admin"})),
    )
    .await
    .assert_problem(400, "input.unknown_field");
    assert_same(&t, &before, "refused sign-ups").await;
    verify(&t).await;
    t.stop().await;
}

// ---- tags ----

#[tokio::test]
async fn tags_are_defined_by_admins_validated_when_set_and_filterable() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    let mary = t.user(MARY).await;
    let oscar = t.user(OSCAR).await;
    let bob = t.user(BOB).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;

    let cost_center = TagDefinition {
        pattern: Some("[0-9]{4}".into()),
        mandatory: true,
        ..tag_def("cost-center", "workspace")
    };
    let tier = TagDefinition {
        restricted: true,
        values: vec!["gold".into(), "silver".into()],
        ..tag_def("tier", "workspace")
    };
    let env = TagDefinition {
        values: vec!["dev".into(), "prod".into()],
        mandatory: true,
        default: Some("dev".into()),
        ..tag_def("env", "project")
    };
    let team = tag_def("team", "project");

    // Definitions: admins only, and valid.
    let before = everything(&t).await;
    expect_problem(emma.define_tag(&team).await, 403, "authz.forbidden");
    expect_problem(olivia.define_tag(&team).await, 403, "authz.forbidden");
    expect_problem(
        admin.define_tag(&TagDefinition { pattern: Some("[a-z]+".into()), ..tier.clone() }).await,
        422,
        "tag.invalid",
    );
    expect_problem(
        admin.define_tag(&TagDefinition { pattern: Some("([0-9".into()), ..cost_center.clone() }).await,
        422,
        "tag.invalid",
    );
    expect_problem(
        admin.define_tag(&TagDefinition { default: Some("staging".into()), ..env.clone() }).await,
        422,
        "tag.invalid_value",
    );
    expect_problem(admin.define_tag(&tag_def("region", "cluster")).await, 422, "tag.invalid");
    expect_problem(admin.define_tag(&tag_def("Cost Center", "workspace")).await, 400, "tag.invalid_key");
    assert_same(&t, &before, "refused tag definitions").await;
    for d in [&cost_center, &tier, &env, &team] {
        assert_eq!(&admin.define_tag(d).await.unwrap(), d);
    }
    let ev = last_of(&t, "TAG_DEFINED").await;
    assert_eq!((ev.actor.as_str(), ev.subject.as_deref()), (ADMIN_EMAIL, Some("team")));
    // Everyone signed in may read the definitions.
    let mut listed = bob.all_tag_definitions().await.unwrap();
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(listed, vec![cost_center.clone(), env.clone(), team.clone(), tier.clone()]);

    // Creating a workspace without a mandatory tag, or with a bad value, fails clearly.
    let ws = |id: &str, t: &[(&str, &str)]| CreateWorkspace {
        owners: vec![OLIVIA.into()],
        tags: tags(t),
        ..new_workspace(id)
    };
    let before = everything(&t).await;
    let p = expect_problem(admin.create_workspace(&ws("alpha", &[])).await, 422, "tag.mandatory_missing");
    assert!(p.detail.contains("cost-center"), "the error names the missing tag: {p:?}");
    let p = expect_problem(
        admin.create_workspace(&ws("alpha", &[("cost-center", "12ab")])).await,
        422,
        "tag.invalid_value",
    );
    assert!(p.detail.contains("12ab") && p.detail.contains("cost-center"), "{p:?}");
    expect_problem(
        admin.create_workspace(&ws("alpha", &[("cost-center", "1234"), ("tier", "bronze")])).await,
        422,
        "tag.invalid_value",
    );
    expect_problem(
        admin.create_workspace(&ws("alpha", &[("cost-center", "1234"), ("color", "red")])).await,
        422,
        "tag.unknown",
    );
    expect_problem(
        admin.create_workspace(&ws("alpha", &[("cost-center", "1234"), ("env", "dev")])).await,
        422,
        "tag.unknown",
    );
    assert_same(&t, &before, "workspaces with bad tags").await;
    let alpha =
        admin.create_workspace(&ws("alpha", &[("cost-center", "1234"), ("tier", "gold")])).await.unwrap();
    assert_eq!(alpha.tags, tags(&[("cost-center", "1234"), ("tier", "gold")]));
    admin.create_workspace(&ws("beta", &[("cost-center", "5678")])).await.unwrap();
    admin.set_workspace_member("beta", MARY, &role("member")).await.unwrap();

    // Self-service registration: restricted tags are the admin area's.
    set_settings(&t, Settings { workspace_registration: Some("open".into()), ..Default::default() }).await;
    let before = everything(&t).await;
    let reg = |t: &[(&str, &str)]| RegisterWorkspace { tags: tags(t), ..register("gamma") };
    expect_problem(bob.register_workspace(&reg(&[])).await, 422, "tag.mandatory_missing");
    expect_problem(
        bob.register_workspace(&reg(&[("cost-center", "9999"), ("tier", "gold")])).await,
        403,
        "tag.restricted",
    );
    assert_same(&t, &before, "registrations with bad tags").await;
    let gamma = bob.register_workspace(&reg(&[("cost-center", "9999")])).await.unwrap();
    assert_eq!(gamma.tags, tags(&[("cost-center", "9999")]));

    // Setting and removing tags on a workspace.
    let before = everything(&t).await;
    expect_problem(olivia.set_workspace_tag("beta", "tier", "silver").await, 403, "tag.restricted");
    expect_problem(olivia.set_workspace_tag("beta", "cost-center", "abcd").await, 422, "tag.invalid_value");
    expect_problem(olivia.set_workspace_tag("beta", "cost-center", "12345").await, 422, "tag.invalid_value");
    expect_problem(olivia.set_workspace_tag("beta", "color", "red").await, 422, "tag.unknown");
    expect_problem(olivia.set_workspace_tag("beta", "env", "dev").await, 422, "tag.unknown");
    expect_problem(olivia.remove_workspace_tag("beta", "cost-center").await, 422, "tag.mandatory");
    expect_problem(mary.set_workspace_tag("beta", "cost-center", "4321").await, 403, "authz.forbidden");
    expect_problem(oscar.set_workspace_tag("beta", "cost-center", "4321").await, 404, "workspace.not_found");
    expect_problem(emma.set_workspace_tag("beta", "tier", "bronze").await, 422, "tag.invalid_value");
    assert_same(&t, &before, "refused workspace tags").await;
    let w = emma.set_workspace_tag("beta", "tier", "silver").await.unwrap();
    assert_eq!(w.tags, tags(&[("cost-center", "5678"), ("tier", "silver")]));
    let w = olivia.set_workspace_tag("beta", "cost-center", "4321").await.unwrap();
    assert_eq!(w.tags["cost-center"], "4321");
    let ev = last_of(&t, "TAG_SET").await;
    assert_event(&ev, "TAG_SET", OLIVIA, Some("beta"));
    assert_eq!(ev.details, json!({"key": "cost-center", "from": "5678", "value": "4321"}));

    // Projects: the default fills in a mandatory tag.
    let p1 = olivia.create_project("alpha", &project("p1")).await.unwrap();
    assert_eq!(p1.tags, tags(&[("env", "dev")]));
    let p2 = olivia
        .create_project(
            "alpha",
            &CreateProject { tags: tags(&[("env", "prod"), ("team", "core")]), ..project("p2") },
        )
        .await
        .unwrap();
    assert_eq!(p2.tags, tags(&[("env", "prod"), ("team", "core")]));
    let before = everything(&t).await;
    expect_problem(
        olivia
            .create_project("alpha", &CreateProject { tags: tags(&[("env", "staging")]), ..project("p3") })
            .await,
        422,
        "tag.invalid_value",
    );
    expect_problem(
        olivia
            .create_project("alpha", &CreateProject { tags: tags(&[("tier", "gold")]), ..project("p3") })
            .await,
        422,
        "tag.unknown",
    );
    expect_problem(olivia.set_project_tag("alpha", "p1", "env", "qa").await, 422, "tag.invalid_value");
    expect_problem(olivia.set_project_tag("alpha", "p1", "cost-center", "1234").await, 422, "tag.unknown");
    expect_problem(olivia.remove_project_tag("alpha", "p1", "env").await, 422, "tag.mandatory");
    expect_problem(olivia.set_project_tag("alpha", "nope", "team", "x").await, 404, "project.not_found");
    assert_same(&t, &before, "refused project tags").await;
    let p1 = olivia.set_project_tag("alpha", "p1", "team", "ops").await.unwrap();
    assert_eq!(p1.tags, tags(&[("env", "dev"), ("team", "ops")]));
    let p1 = olivia.remove_project_tag("alpha", "p1", "team").await.unwrap();
    assert_eq!(p1.tags, tags(&[("env", "dev")]));
    assert_event(&last_of(&t, "TAG_REMOVED").await, "TAG_REMOVED", OLIVIA, Some("alpha"));

    // Filters.
    let q = |tag: &str| ListQuery { tag: Some(tag.into()), ..Default::default() };
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&q("tier")).await.unwrap()), ["alpha", "beta"]);
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&q("tier:gold")).await.unwrap()), ["alpha"]);
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&q("cost-center:9999")).await.unwrap()), ["gamma"]);
    assert_eq!(
        identifiers(&admin.all_workspaces_filtered(&q("cost-center")).await.unwrap()),
        ["alpha", "beta", "gamma"]
    );
    assert!(admin.all_workspaces_filtered(&q("tier:bronze")).await.unwrap().is_empty());
    assert!(admin.all_workspaces_filtered(&q("undefined-key")).await.unwrap().is_empty());
    let both =
        ListQuery { status: Some("active".into()), tag: Some("tier:silver".into()), ..Default::default() };
    assert_eq!(identifiers(&admin.all_workspaces_filtered(&both).await.unwrap()), ["beta"]);
    // A user's list is filtered within what they see.
    assert_eq!(identifiers(&bob.all_workspaces_filtered(&q("cost-center")).await.unwrap()), ["gamma"]);
    assert_eq!(identifiers(&mary.all_workspaces_filtered(&q("tier")).await.unwrap()), ["beta"]);
    let names =
        |v: Vec<breakglass_client::api::Project>| v.into_iter().map(|p| p.identifier).collect::<Vec<_>>();
    assert_eq!(names(admin.all_projects_filtered("alpha", &q("env:prod")).await.unwrap()), ["p2"]);
    assert_eq!(names(admin.all_projects_filtered("alpha", &q("env")).await.unwrap()), ["p1", "p2"]);
    assert_eq!(names(olivia.all_projects_filtered("alpha", &q("team:core")).await.unwrap()), ["p2"]);
    expect_problem(admin.list_workspaces_filtered(&q("Bad Key")).await, 400, "tag.invalid_key");
    // The client leaves `status` out for projects; sent anyway, it is refused.
    t.raw("GET", "/api/v1/workspaces/alpha/projects?status=active", Some(ADMIN_TOKEN), Body::None)
        .await
        .assert_problem(400, "input.invalid_query");

    // Removing a definition: admins only; values already set stay.
    let before = everything(&t).await;
    expect_problem(emma.remove_tag_definition("team").await, 403, "authz.forbidden");
    expect_problem(admin.remove_tag_definition("nothing").await, 404, "tag.not_found");
    assert_same(&t, &before, "refused removals of tag definitions").await;
    admin.remove_tag_definition("team").await.unwrap();
    assert_eq!(admin.all_tag_definitions().await.unwrap().len(), 3);
    assert_eq!(admin.project("alpha", "p2").await.unwrap().tags["team"], "core");
    verify(&t).await;
    t.stop().await;
}

// ---- messages ----

#[tokio::test]
async fn messages_reach_a_workspaces_users_until_acknowledged() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let olivia = t.user(OLIVIA).await;
    let mike = t.user(MIKE).await;
    let mary = t.user(MARY).await;
    let pat = t.user("pat@example.com").await;
    let oscar = t.user(OSCAR).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;
    t.workspace("alpha", &[OLIVIA]).await;
    t.project("alpha", "web").await;
    t.workspace("beta", &[OSCAR]).await;
    admin.set_workspace_member("alpha", MIKE, &role("manager")).await.unwrap();
    admin.set_workspace_member("alpha", MARY, &role("member")).await.unwrap();
    admin.set_project_member("alpha", "web", "pat@example.com", &role("user")).await.unwrap();
    let recipients = [&olivia, &mike, &mary, &pat];

    // all_must_read: each user until they acknowledge.
    let m1 =
        admin.send_message("alpha", &message("Maintenance tonight at 22:00", "all_must_read")).await.unwrap();
    assert_eq!(
        (m1.workspace.as_str(), m1.mode.as_str(), m1.sender.as_str()),
        ("alpha", "all_must_read", ADMIN_EMAIL)
    );
    assert_eq!(m1.text, "Maintenance tonight at 22:00");
    assert!(m1.acknowledgements.is_empty());
    let ev = last_of(&t, "MESSAGE_SENT").await;
    assert_event(&ev, "MESSAGE_SENT", ADMIN_EMAIL, Some("alpha"));
    assert_eq!(
        (ev.details["message_id"].as_str(), ev.details["mode"].as_str()),
        (Some(m1.id.as_str()), Some("all_must_read"))
    );
    for c in recipients {
        let mine = c.all_my_messages().await.unwrap();
        assert_eq!(mine.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [m1.id.as_str()]);
        assert!(mine[0].acknowledgements.is_empty(), "only the admin area sees who acknowledged");
    }
    assert!(oscar.all_my_messages().await.unwrap().is_empty(), "not addressed to other workspaces");

    mary.ack_message(&m1.id).await.unwrap();
    let ev = last_of(&t, "MESSAGE_ACKNOWLEDGED").await;
    assert_event(&ev, "MESSAGE_ACKNOWLEDGED", MARY, Some("alpha"));
    assert!(mary.all_my_messages().await.unwrap().is_empty());
    for c in [&olivia, &mike, &pat] {
        assert_eq!(c.all_my_messages().await.unwrap().len(), 1, "the others still have to read it");
    }

    // single_read: gone for everyone once one user acknowledges it.
    let m2 = emma.send_message("alpha", &message("Please rotate your keys", "single_read")).await.unwrap();
    assert_eq!((m2.mode.as_str(), m2.sender.as_str()), ("single_read", EMMA));
    for c in recipients {
        assert!(c.all_my_messages().await.unwrap().iter().any(|m| m.id == m2.id));
    }
    mike.ack_message(&m2.id).await.unwrap();
    for c in recipients {
        assert!(
            !c.all_my_messages().await.unwrap().iter().any(|m| m.id == m2.id),
            "single_read is read once"
        );
    }

    let before = everything(&t).await;
    expect_problem(mary.ack_message(&m1.id).await, 409, "message.already_acknowledged");
    expect_problem(olivia.ack_message(&m2.id).await, 409, "message.already_acknowledged");
    expect_problem(oscar.ack_message(&m1.id).await, 404, "message.not_found");
    expect_problem(mary.ack_message("00000000-0000-0000-0000-000000000000").await, 404, "message.not_found");
    expect_problem(mary.ack_message("nonsense").await, 404, "message.not_found");
    // Only the admin area sends, and reads what was sent.
    expect_problem(
        olivia.send_message("alpha", &message("hi", "all_must_read")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        audrey.send_message("alpha", &message("hi", "all_must_read")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        oscar.send_message("alpha", &message("hi", "all_must_read")).await,
        404,
        "workspace.not_found",
    );
    expect_problem(
        admin.send_message("alpha", &message("hi", "everyone")).await,
        400,
        "message.invalid_mode",
    );
    expect_problem(
        admin.send_message("alpha", &message("   ", "single_read")).await,
        400,
        "message.invalid_text",
    );
    expect_problem(
        admin.send_message("alpha", &message(&"x".repeat(4001), "single_read")).await,
        400,
        "message.invalid_text",
    );
    expect_problem(
        admin.send_message("nope", &message("hi", "single_read")).await,
        404,
        "workspace.not_found",
    );
    expect_problem(olivia.workspace_messages("alpha", &Default::default()).await, 403, "authz.forbidden");
    assert_same(&t, &before, "refused message actions").await;

    // The sender sees who acknowledged what (and so does the rest of the admin area).
    for c in [&admin, &emma, &audrey] {
        let sent = c.all_workspace_messages("alpha").await.unwrap();
        assert_eq!(sent.len(), 2, "{sent:?}");
        let who = |id: &str| -> Vec<String> {
            sent.iter()
                .find(|m| m.id == id)
                .unwrap()
                .acknowledgements
                .iter()
                .map(|a| a.user.clone())
                .collect()
        };
        assert_eq!(who(&m1.id), [MARY]);
        assert_eq!(who(&m2.id), [MIKE]);
        let ack = &sent.iter().find(|m| m.id == m1.id).unwrap().acknowledgements[0];
        assert_eq!(ack.at, rfc(t.now()));
    }
    verify(&t).await;
    t.stop().await;
}

// ---- settings ----

#[tokio::test]
async fn settings_are_admin_only_validated_and_each_change_is_audited() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let audrey = t.user_with_role(AUDREY, Some("auditor")).await;
    let bob = t.user(BOB).await;
    let defaults = Settings {
        workspace_registration: Some("approval".into()),
        signup: Some("invited_only".into()),
        invitation_ttl_days: Some(7),
        default_project_quota: Some(20),
        restrict_admin_role_assignment: Some(false),
        add_myself_default_expiry: Some("8h".into()),
        add_myself_max_expiry: Some("7d".into()),
        max_expiry: Some("366d".into()),
        max_api_tokens_per_user: Some(100),
        max_sessions_per_user: Some(50),
    };
    assert_eq!(admin.settings().await.unwrap(), defaults);

    let before = everything(&t).await;
    let change = Settings { signup: Some("open".into()), ..Default::default() };
    for c in [&emma, &audrey, &bob] {
        expect_problem(c.settings().await, 403, "authz.forbidden");
        expect_problem(c.update_settings(&change).await, 403, "authz.forbidden");
    }
    expect_problem(t.anonymous().settings().await, 401, "auth.missing_token");
    let invalid = [
        Settings { workspace_registration: Some("maybe".into()), ..Default::default() },
        Settings { signup: Some("sometimes".into()), ..Default::default() },
        Settings { invitation_ttl_days: Some(0), ..Default::default() },
        Settings { invitation_ttl_days: Some(366), ..Default::default() },
        Settings { default_project_quota: Some(100_001), ..Default::default() },
        Settings { add_myself_default_expiry: Some("8d".into()), ..Default::default() },
        Settings { add_myself_default_expiry: Some("30s".into()), ..Default::default() },
        Settings { add_myself_max_expiry: Some("400d".into()), ..Default::default() },
        Settings { add_myself_max_expiry: Some("1h".into()), ..Default::default() },
        // One bad field spoils the whole change.
        Settings { signup: Some("open".into()), invitation_ttl_days: Some(0), ..Default::default() },
    ];
    for s in &invalid {
        let p = expect_problem(admin.update_settings(s).await, 422, "settings.invalid");
        assert!(!p.detail.is_empty(), "{s:?}");
    }
    expect_problem(
        admin
            .update_settings(&Settings {
                add_myself_max_expiry: Some("forever".into()),
                ..Default::default()
            })
            .await,
        400,
        "input.invalid_duration",
    );
    t.raw("PATCH", "/api/v1/settings", Some(ADMIN_TOKEN), Body::Json(&json!({"colour": "blue"})))
        .await
        .assert_problem(400, "input.unknown_field");
    t.raw(
        "PATCH",
        "/api/v1/settings",
        Some(ADMIN_TOKEN),
        Body::Json(&json!({"invitation_ttl_days": "seven"})),
    )
    .await
    .assert_problem(400, "input.invalid_field");
    t.raw("PATCH", "/api/v1/settings", Some(ADMIN_TOKEN), Body::JsonText("{\"signup\": "))
        .await
        .assert_problem(400, "input.malformed_json");
    assert_same(&t, &before, "refused settings changes").await;
    assert!(t.events_of("SETTINGS_CHANGED").await.is_empty());

    // A valid change: only the given fields change, each one recorded.
    let s = admin
        .update_settings(&Settings {
            signup: Some("open".into()),
            invitation_ttl_days: Some(3),
            restrict_admin_role_assignment: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let expected = Settings {
        signup: Some("open".into()),
        invitation_ttl_days: Some(3),
        restrict_admin_role_assignment: Some(true),
        ..defaults.clone()
    };
    assert_eq!(s, expected);
    assert_eq!(admin.settings().await.unwrap(), expected);
    let changes = t.events_of("SETTINGS_CHANGED").await;
    assert_eq!(changes.len(), 1, "one event per PATCH: {changes:?}");
    let ev = &changes[0];
    assert_event(ev, "SETTINGS_CHANGED", ADMIN_EMAIL, None);
    let changed = ev.details["changed"].as_object().expect("details.changed is an object");
    let mut keys: Vec<&str> = changed.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys.len(), 3, "exactly the changed settings: {changed:?}");
    assert_eq!(changed["signup"], json!({"from": "invited_only", "to": "open"}));
    assert_eq!(changed["restrict_admin_role_assignment"], json!({"from": false, "to": true}));
    let ttl =
        keys.iter().find(|k| k.starts_with("invitation_ttl")).expect("the invitation TTL change is recorded");
    assert_ne!(changed[*ttl]["from"], changed[*ttl]["to"], "{changed:?}");

    // Nothing to change, nothing recorded.
    let seq = t.seq().await;
    assert_eq!(admin.update_settings(&Settings::default()).await.unwrap(), expected);
    assert_eq!(
        admin.update_settings(&Settings { signup: Some("open".into()), ..Default::default() }).await.unwrap(),
        expected
    );
    assert_eq!(t.seq().await, seq);

    // The "add myself" expiries.
    let s = admin
        .update_settings(&Settings {
            add_myself_default_expiry: Some("2h".into()),
            add_myself_max_expiry: Some("1d".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (s.add_myself_default_expiry.as_deref(), s.add_myself_max_expiry.as_deref()),
        (Some("2h"), Some("1d"))
    );
    let ev = last_of(&t, "SETTINGS_CHANGED").await;
    let changed = ev.details["changed"].as_object().unwrap();
    assert!(
        changed.contains_key("add_myself_default_expiry") && changed.contains_key("add_myself_max_expiry"),
        "{changed:?}"
    );
    assert_eq!(changed.len(), 2, "{changed:?}");

    // Settings survive a restart.
    let t = t.restart().await;
    let s = t.admin().settings().await.unwrap();
    assert_eq!(
        (s.signup.as_deref(), s.invitation_ttl_days, s.add_myself_max_expiry.as_deref()),
        (Some("open"), Some(3), Some("1d"))
    );
    verify(&t).await;
    t.stop().await;
}

// ---- the audit trail of the whole lifecycle ----

#[tokio::test]
async fn every_lifecycle_event_type_names_its_actor_and_details() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user(ALICE).await;
    let bob = t.user(BOB).await;
    t.user(CAROL).await;
    let emma = t.user_with_role(EMMA, Some("employee")).await;
    let first = t.seq().await;

    alice.register_workspace(&register("alpha")).await.unwrap();
    emma.approve_workspace("alpha", Some("ok")).await.unwrap();
    alice.register_workspace(&register("beta")).await.unwrap();
    admin.reject_workspace("beta", None).await.unwrap();
    emma.create_workspace(&CreateWorkspace { owners: vec![ALICE.into()], ..new_workspace("gamma") })
        .await
        .unwrap();
    emma.disable_workspace("alpha", None).await.unwrap();
    admin.enable_workspace("alpha", None).await.unwrap();
    emma.set_quota("alpha", 5).await.unwrap();
    let inv = alice.invite("alpha", &invitation(BOB, "member")).await.unwrap();
    bob.accept_invitation(&inv.id, secret(&inv)).await.unwrap();
    let inv = alice.invite("alpha", &invitation(CAROL, "member")).await.unwrap();
    alice.cancel_invitation(&inv.id).await.unwrap();
    alice.set_workspace_member("alpha", BOB, &role("manager")).await.unwrap();
    alice.remove_workspace_member("alpha", BOB).await.unwrap();
    emma.add_myself("gamma", &AddMyself::default()).await.unwrap();

    let expected: [(&str, &str, &str); 12] = [
        ("WORKSPACE_REGISTERED", ALICE, "alpha"),
        ("WORKSPACE_APPROVED", EMMA, "alpha"),
        ("WORKSPACE_REJECTED", ADMIN_EMAIL, "beta"),
        ("WORKSPACE_CREATED", EMMA, "gamma"),
        ("WORKSPACE_STATUS_CHANGED", EMMA, "alpha"),
        ("WORKSPACE_QUOTA_EDITED", EMMA, "alpha"),
        ("USER_INVITED", ALICE, "alpha"),
        ("USER_ACCEPTED_INVITATION", BOB, "alpha"),
        ("USER_INVITATION_CANCELLED", ALICE, "alpha"),
        ("USER_ROLE_CHANGED", ALICE, "alpha"),
        ("USER_REMOVED", ALICE, "alpha"),
        ("USER_ASSIGNED_HIMSELF", EMMA, "gamma"),
    ];
    let events = t.events().await;
    let mut last_seq = first;
    for (ty, actor, ws) in expected {
        let e = events.iter().find(|e| e.event_type == ty && e.seq > first).unwrap_or_else(|| {
            panic!("no {ty} event; got {:?}", events.iter().map(|e| &e.event_type).collect::<Vec<_>>())
        });
        assert_event(e, ty, actor, Some(ws));
        assert!(e.seq > last_seq, "{ty} is recorded in order");
        last_seq = e.seq;
        // The same event shows in the workspace's history, for its owner.
        let history = alice.all_history(ws, None, &Default::default()).await;
        let history = history.unwrap_or_else(|e| panic!("history of {ws}: {e}"));
        assert!(history.iter().any(|h| h.seq == e.seq), "{ty} in the history of {ws}");
    }
    // Both directions of the status change were recorded, by who acted.
    let status: Vec<_> = t
        .events_of("WORKSPACE_STATUS_CHANGED")
        .await
        .into_iter()
        .map(|e| (e.actor, e.details["to"].as_str().map(str::to_owned)))
        .collect();
    assert_eq!(
        status,
        [(EMMA.to_owned(), Some("disabled".to_owned())), (ADMIN_EMAIL.to_owned(), Some("active".to_owned()))]
    );
    verify(&t).await;
    t.stop().await;
}
