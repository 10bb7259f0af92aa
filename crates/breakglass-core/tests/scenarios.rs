//! Scenario tests of the core with a manual clock: commands run against a `State`, their
//! changes are applied and their events sealed into an in-memory audit chain, and the tests
//! assert on the events, the errors (kind and stable code) and the check decisions.

use breakglass_core::audit::{self, AuditEvent, ChainVerifier};
use breakglass_core::check::{self, Decision, DenyReason};
use breakglass_core::cmd::members::{self, NewGrant};
use breakglass_core::cmd::tokens;
use breakglass_core::cmd::users::{self, NewUser};
use breakglass_core::cmd::workspaces::{self, NewWorkspace};
use breakglass_core::ident::{BindingId, TokenId, UserId};
use breakglass_core::model::{
    Binding, BindingSource, EndReason, PasswordHash, Project, SecretHash, Target, Token, User, UserStatus,
    Workspace, WorkspaceStatus,
};
use breakglass_core::role::{AdminRole, Role, WorkspaceRole};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Actor, Change, DomainError, State};
use serde_json::Value;
use uuid::Uuid;

mod common;
use common::*;

// ---------------------------------------------------------------------------------------------
// Harness: table rows (the shared World lives in `common`)
// ---------------------------------------------------------------------------------------------

impl World {
    /// Runs one table row's action as `by` and reduces the outcome to a `Want`.
    fn act(&mut self, by: &str, a: &Act) -> Want {
        let r = match a {
            Act::Set(t, who, role, exp) => self.set(by, t, who, *role, *exp),
            Act::Remove(t, who) => self.remove(by, t, who),
            Act::Grant(t, who, role, until) => self.grant(by, t, who, *role, *until).map(|d| Done {
                value: (),
                changes: d.changes,
                events: d.events,
            }),
            Act::Revoke(id) => self.revoke(by, *id),
            Act::CreateProject(ws, p) => self.create_project(by, ws, p),
        };
        want(&r)
    }
}

/// A table row's action.
#[derive(Debug)]
enum Act {
    Set(Target, &'static str, Role, Option<Timestamp>),
    Remove(Target, &'static str),
    Grant(Target, &'static str, Role, Timestamp),
    Revoke(BindingId),
    CreateProject(&'static str, &'static str),
}

/// An expected outcome: success, or the error's kind (which decides the HTTP status) and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Ok,
    Invalid(&'static str),
    NotFound(&'static str),
    Forbidden,
    Conflict(&'static str),
    Rule(&'static str),
}

fn want<T>(r: &Res<T>) -> Want {
    match r {
        Ok(_) => Want::Ok,
        Err(DomainError::Invalid { code, .. }) => Want::Invalid(code),
        Err(DomainError::NotFound { code, .. }) => Want::NotFound(code),
        Err(DomainError::Forbidden { code, .. }) => {
            assert_eq!(*code, "authz.forbidden");
            Want::Forbidden
        }
        Err(DomainError::Conflict { code, .. }) => Want::Conflict(code),
        Err(DomainError::Rule { code, .. }) => Want::Rule(code),
    }
}

fn sources(d: &Decision) -> Vec<BindingSource> {
    d.via.iter().map(|v| v.source).collect()
}

fn direct_bindings<'a>(state: &'a State, user: UserId, target: &Target) -> Vec<&'a Binding> {
    state
        .bindings_of_user(user)
        .filter(|b| &b.target == target && b.source == BindingSource::Direct)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

#[test]
fn users_are_created_only_by_admins_and_the_system() {
    let mut w = World::team();
    let stranger = Actor::User(UserId(Uuid::from_u128(0xdead)));
    let rows: &[(&str, Option<&str>, Want)] = &[
        ("system", None, Want::Ok),
        ("admin", Some("admin@corp.io"), Want::Ok),
        ("employee", Some("emp@corp.io"), Want::Forbidden),
        ("auditor", Some("aud@corp.io"), Want::Forbidden),
        ("plain user", Some("olivia@corp.io"), Want::Forbidden),
        ("workspace owner", Some("bella@corp.io"), Want::Forbidden),
        ("unknown actor", Some("-"), Want::Forbidden),
    ];
    for (i, (label, actor, expected)) in rows.iter().enumerate() {
        let new = NewUser {
            email: email(&format!("new{i}@corp.io")),
            name: name("New"),
            admin_role: AdminRole::None,
            password_hash: None,
        };
        let before = w.state.user_count();
        let actor = match actor {
            None => Actor::System,
            Some("-") => stranger,
            Some(e) => Actor::User(w.id(e)),
        };
        let r = w.run(actor, move |s, c| users::create_user(s, c, new));
        assert_eq!(want(&r), *expected, "{label}");
        if let Ok(done) = r {
            assert_eq!(done.types(), ["USER_CREATED"], "{label}");
            let created = w.state.user(done.value).expect("created user is in the state");
            assert_eq!(created.email.as_str(), format!("new{i}@corp.io"));
            assert_eq!(created.status, UserStatus::Active);
            assert_eq!(done.events[0].subject.as_deref(), Some(created.email.as_str()));
            assert_eq!(w.state.user_count(), before + 1, "{label}");
        } else {
            assert_eq!(w.state.user_count(), before, "{label}: a refused command changes nothing");
        }
    }
    // The event names the actor.
    let actors: Vec<&str> = w.log.iter().rev().take(2).map(|e| e.actor.as_str()).collect();
    assert_eq!(actors, ["admin@corp.io", "system"]);
}

#[test]
fn user_emails_are_unique_case_insensitively() {
    let mut w = World::new();
    w.add_user("Bob.Smith@Example.com", AdminRole::None);
    assert_eq!(
        w.state.user_by_email(&email("bob.smith@example.com")).unwrap().email.as_str(),
        "bob.smith@example.com"
    );
    for variant in [
        "bob.smith@example.com",
        "BOB.SMITH@EXAMPLE.COM",
        "  Bob.Smith@example.COM ",
        "bOb.sMiTh@eXaMpLe.cOm",
    ] {
        let new = NewUser {
            email: email(variant),
            name: name("Bob"),
            admin_role: AdminRole::Admin,
            password_hash: None,
        };
        let r = w.system(move |s, c| users::create_user(s, c, new));
        assert_eq!(want(&r), Want::Conflict("user.exists"), "{variant}");
    }
    assert_eq!(w.state.user_count(), 1);
    assert_eq!(w.log.len(), 1, "only the first creation is recorded");
}

#[test]
fn no_event_and_no_debug_output_contains_a_secret() {
    let password = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$S3VwZXJTZWNyZXRIYXNoVmFsdWU";
    let hashes = [SecretHash([0x5a; 32]), SecretHash([0xc3; 32]), SecretHash([0x17; 32])];
    let mut w = World::new();
    let mut all_changes = Vec::new();

    let boot =
        ok(w.system(move |s, c| users::bootstrap_admin(s, c, email("admin@localhost"), Some(hashes[0]))));
    all_changes.push(boot.changes);
    let new = NewUser {
        email: email("carol@corp.io"),
        name: name("Carol"),
        admin_role: AdminRole::None,
        password_hash: Some(PasswordHash(password.to_owned())),
    };
    let created = ok(w.as_user("admin@localhost", move |s, c| users::create_user(s, c, new)));
    assert_eq!(created.events[0].details["password_set"], Value::Bool(true));
    all_changes.push(created.changes);
    let until = w.now.plus(Span::hours(8));
    let session = ok(w.as_user("carol@corp.io", move |s, c| tokens::sign_in(s, c, hashes[1], until)));
    let session_id = session.value.id;
    all_changes.push(session.changes);
    let api = ok(w.as_user("carol@corp.io", move |s, c| {
        tokens::create_token(s, c, tokens::NewToken::new(name("ci"), hashes[2], None))
    }));
    let api_id = api.value.id;
    all_changes.push(api.changes);
    all_changes
        .push(ok(w.as_user("carol@corp.io", move |s, c| tokens::revoke_token(s, c, session_id))).changes);
    all_changes
        .push(ok(w.as_user("admin@localhost", move |s, c| tokens::revoke_token(s, c, api_id))).changes);

    assert_eq!(
        w.log.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        [
            "USER_CREATED",
            "TOKEN_CREATED",
            "USER_CREATED",
            "USER_SIGNED_IN",
            "TOKEN_CREATED",
            "USER_SIGNED_OUT",
            "TOKEN_REVOKED"
        ]
    );
    let mut secrets = vec![password.to_owned(), "S3VwZXJTZWNyZXRIYXNoVmFsdWU".to_owned()];
    for h in &hashes {
        secrets.push(hex::encode(h.0));
        secrets.push(hex::encode_upper(h.0));
        secrets.push(serde_json::to_string(&h.0.to_vec()).unwrap());
        secrets.push(format!("{:?}", h.0));
    }
    for e in &w.log {
        let text = String::from_utf8(audit::canonical_bytes(e)).unwrap();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "event {} ({}) leaks a secret: {text}", e.seq, e.event_type);
        }
    }
    // Logs print `Debug` of changes and tokens: the secrets stay out of those too.
    for c in &all_changes {
        let text = format!("{c:?}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "Debug of changes leaks a secret: {text}");
        }
    }
}

#[test]
fn bootstrap_admin_only_acts_when_no_admin_exists() {
    let hash = SecretHash([7; 32]);
    // Empty installation: the first admin and its token appear.
    let mut w = World::new();
    let first = ok(w.system(move |s, c| users::bootstrap_admin(s, c, email("admin@localhost"), Some(hash))));
    assert_eq!(first.types(), ["USER_CREATED", "TOKEN_CREATED"]);
    let admin = w.state.user_by_email(&email("admin@localhost")).unwrap();
    assert_eq!(admin.admin_role, AdminRole::Admin);
    assert_eq!(w.state.token_by_hash(&hash).unwrap().user, admin.id);
    // A second start with another token: nothing at all.
    let again =
        ok(w.system(|s, c| {
            users::bootstrap_admin(s, c, email("admin@localhost"), Some(SecretHash([8; 32])))
        }));
    assert!(again.changes.is_empty() && again.events.is_empty());
    assert!(w.state.token_by_hash(&SecretHash([8; 32])).is_none());

    // An admin created otherwise also makes it a no-op, whatever the e-mail.
    let mut w = World::new();
    w.add_user("root@corp.io", AdminRole::Admin);
    let noop = ok(w.system(|s, c| users::bootstrap_admin(s, c, email("admin@localhost"), None)));
    assert!(noop.changes.is_empty());
    assert!(w.state.user_by_email(&email("admin@localhost")).is_none());

    // Non-admin users do not count as an admin.
    let mut w = World::new();
    w.add_user("emp@corp.io", AdminRole::Employee);
    let made = ok(w.system(|s, c| users::bootstrap_admin(s, c, email("admin@localhost"), None)));
    assert_eq!(made.types(), ["USER_CREATED"], "no token requested, none created");
    assert_eq!(w.state.user_count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Workspaces and projects
// ---------------------------------------------------------------------------------------------

#[test]
fn workspaces_are_created_by_admins_and_employees_only() {
    let mut w = World::team();
    let rows = [
        ("admin@corp.io", "ws-admin", Want::Ok),
        ("emp@corp.io", "ws-emp", Want::Ok),
        ("aud@corp.io", "ws-aud", Want::Forbidden),
        ("otto@corp.io", "ws-otto", Want::Forbidden),
        ("olivia@corp.io", "ws-owner", Want::Forbidden),
        ("emp@corp.io", "team-a", Want::Conflict("workspace.exists")),
        ("admin@corp.io", "ws-admin", Want::Conflict("workspace.exists")),
    ];
    for (by, id, expected) in rows {
        let r = w.create_workspace(by, id, &[], 3);
        assert_eq!(want(&r), expected, "{by} creates {id}");
        if expected == Want::Ok {
            let created = w.state.workspace(&slug(id)).unwrap();
            assert_eq!(created.status, WorkspaceStatus::Active);
            assert_eq!(created.project_quota, 3);
        } else if !matches!(expected, Want::Conflict(_)) {
            assert!(w.state.workspace(&slug(id)).is_none(), "{id} must not exist");
        }
    }
    // The original team-a is untouched by the refused duplicate.
    assert_eq!(w.state.workspace(&slug("team-a")).unwrap().project_quota, 5);
}

#[test]
fn workspace_owners_become_owner_bindings() {
    let mut w = World::team();
    // Named owners (listed twice, in any case): one binding each, one USER_ASSIGNED each.
    let d =
        ok(w.create_workspace("emp@corp.io", "ops", &["oscar@corp.io", "alice@corp.io", "OSCAR@corp.io"], 2));
    assert_eq!(d.types(), ["WORKSPACE_CREATED", "USER_ASSIGNED", "USER_ASSIGNED"]);
    assert_eq!(d.events[0].details["owners"], serde_json::json!(["oscar@corp.io", "alice@corp.io"]));
    let subjects: Vec<_> = d.events[1..].iter().map(|e| e.subject.clone().unwrap()).collect();
    assert_eq!(subjects, ["oscar@corp.io", "alice@corp.io"]);
    for e in &d.events[1..] {
        assert_eq!(e.details["role"], "owner");
        assert_eq!(e.workspace.as_deref(), Some("ops"));
        assert_eq!(e.actor, "emp@corp.io");
    }
    let ops = ws("ops");
    assert!(w.check("oscar@corp.io", &ops, wrole("owner")).allowed);
    assert!(w.check("alice@corp.io", &ops, wrole("member")).allowed, "owner implies member");
    assert!(!w.check("emp@corp.io", &ops, wrole("member")).allowed, "named owners replace the creator");

    // No owners named: the creating user becomes the owner.
    let d = ok(w.create_workspace("admin@corp.io", "infra", &[], 2));
    assert_eq!(d.types(), ["WORKSPACE_CREATED", "USER_ASSIGNED"]);
    assert_eq!(d.events[1].subject.as_deref(), Some("admin@corp.io"));
    let dec = w.check("admin@corp.io", &ws("infra"), wrole("owner"));
    assert!(dec.allowed && dec.expires_at.is_none());

    // The system creating without owners leaves it ownerless (admins manage it).
    let new = NewWorkspace {
        id: slug("seeded"),
        name: name("Seeded"),
        owners: vec![],
        members: vec![],
        project_quota: 1,
        tags: Default::default(),
    };
    let d = ok(w.system(move |s, c| workspaces::create_workspace(s, c, new)));
    assert_eq!(d.types(), ["WORKSPACE_CREATED"]);
    assert_eq!(d.events[0].actor, "system");

    // An unknown owner refuses the whole workspace.
    let r = w.create_workspace("emp@corp.io", "ghosts", &["oscar@corp.io", "ghost@corp.io"], 2);
    assert_eq!(want(&r), Want::NotFound("user.not_found"));
    assert!(w.state.workspace(&slug("ghosts")).is_none());
    assert!(!w.state.has_any_binding_in(w.id("oscar@corp.io"), &slug("ghosts"), w.now));
}

#[test]
fn project_creation_rights_and_invisibility() {
    let mut w = World::team();
    let rows = [
        ("olivia@corp.io", "team-a", "p-owner", Want::Ok),
        ("mia@corp.io", "team-a", "p-manager", Want::Ok),
        ("admin@corp.io", "team-a", "p-admin", Want::Ok),
        ("emp@corp.io", "team-b", "p-emp", Want::Ok),
        ("max@corp.io", "team-a", "p-member", Want::Forbidden),
        ("aud@corp.io", "team-a", "p-auditor", Want::Forbidden),
        // Outsiders cannot tell an existing workspace from a missing one.
        ("otto@corp.io", "team-a", "p-outsider", Want::NotFound("workspace.not_found")),
        ("otto@corp.io", "no-such-ws", "p-outsider", Want::NotFound("workspace.not_found")),
        ("mia@corp.io", "team-b", "p-foreign", Want::NotFound("workspace.not_found")),
        ("admin@corp.io", "no-such-ws", "p-x", Want::NotFound("workspace.not_found")),
    ];
    for (by, wsid, p, expected) in rows {
        let before = w.log.len();
        let r = w.create_project(by, wsid, p);
        assert_eq!(want(&r), expected, "{by} creates {wsid}/{p}");
        match r {
            Ok(d) => {
                assert_eq!(d.types(), ["PROJECT_CREATED"]);
                assert_eq!(d.events[0].workspace.as_deref(), Some(wsid));
                assert_eq!(d.events[0].project.as_deref(), Some(p));
                assert_eq!(d.events[0].actor, by);
                let created: &Project = w.state.project(&slug(wsid), &slug(p)).unwrap();
                assert_eq!(created.created_at, w.now);
            }
            Err(_) => {
                assert_eq!(w.log.len(), before);
                assert!(w
                    .state
                    .workspace(&slug(wsid))
                    .is_none_or(|_| w.state.project(&slug(wsid), &slug(p)).is_none()));
            }
        }
    }
}

#[test]
fn project_quota_and_duplicates() {
    let mut w = World::team();
    ok(w.create_workspace("emp@corp.io", "small", &["olivia@corp.io"], 2));
    let rows = [
        ("one", Want::Ok),
        ("one", Want::Conflict("project.exists")),
        ("two", Want::Ok),
        ("three", Want::Rule("workspace.quota_exceeded")),
    ];
    for (p, expected) in rows {
        assert_eq!(want(&w.create_project("olivia@corp.io", "small", p)), expected, "{p}");
    }
    // Admins are bound by the quota too.
    assert_eq!(
        want(&w.create_project("admin@corp.io", "small", "four")),
        Want::Rule("workspace.quota_exceeded")
    );
    assert_eq!(w.state.projects_of(&slug("small")).count(), 2);
    // Same identifier in another workspace is fine: identifiers are unique per workspace.
    ok(w.create_project("olivia@corp.io", "team-a", "one"));
    // The change carries the quota the decision was made under, for the store to re-check.
    let d = ok(w.create_project("olivia@corp.io", "team-a", "two"));
    assert!(matches!(d.changes.changes[..], [Change::CreateProject { quota: 5, .. }]));
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

#[test]
fn set_member_creates_changes_and_repeats_as_no_op() {
    let mut w = World::team();
    let a = ws("team-a");
    let otto = w.id("otto@corp.io");
    let in30 = w.now.plus(Span::days(30));
    let in60 = w.now.plus(Span::days(60));
    let steps: &[(&str, Option<Timestamp>, &[&str])] = &[
        ("member", None, &["USER_ASSIGNED"]),
        ("member", None, &[]),
        ("member", Some(in30), &["USER_ROLE_CHANGED"]),
        ("member", Some(in30), &[]),
        ("member", Some(in60), &["USER_ROLE_CHANGED"]),
        ("manager", Some(in60), &["USER_ROLE_CHANGED"]),
        ("manager", None, &["USER_ROLE_CHANGED"]),
        ("manager", None, &[]),
    ];
    let mut prev: Option<BindingId> = None;
    for (i, (role, exp, types)) in steps.iter().enumerate() {
        w.advance(Span::minutes(1));
        let d = ok(w.set("olivia@corp.io", &a, "otto@corp.io", wrole(role), *exp));
        assert_eq!(d.types(), *types, "step {i}");
        let bs = direct_bindings(&w.state, otto, &a);
        assert_eq!(bs.len(), 1, "step {i}: one direct membership per user and target");
        assert_eq!((bs[0].role, bs[0].expires_at), (wrole(role), *exp), "step {i}");
        if types.is_empty() {
            assert!(d.changes.is_empty(), "step {i}: a repeat changes nothing");
            assert_eq!(Some(bs[0].id), prev, "step {i}: the binding is kept");
        } else if let Some(old) = prev {
            let e = &d.events[0];
            assert_eq!(e.details["replaces_binding_id"], old.to_string());
            assert_eq!(e.details["binding_id"], bs[0].id.to_string());
            assert_eq!(e.details["role"], *role);
            assert!(d.changes.changes.iter().any(|c| matches!(c,
                Change::EndBinding { id, reason: EndReason::Replaced, .. } if *id == old)));
        }
        assert_eq!(
            w.state.workspace_role(otto, &slug("team-a"), w.now),
            Some(match *role {
                "member" => WorkspaceRole::Member,
                _ => WorkspaceRole::Manager,
            })
        );
        prev = Some(bs[0].id);
    }
    let changed = w.log.iter().rev().find(|e| e.event_type == "USER_ROLE_CHANGED").unwrap();
    assert_eq!(changed.details["from_role"], "manager");
    assert_eq!(changed.details["from_expires_at"], in60.to_rfc3339());
    assert_eq!(changed.details["expires_at"], Value::Null);

    // Project memberships have their own event types.
    let web = proj("team-a", "web");
    let d = ok(w.set("mia@corp.io", &web, "otto@corp.io", prole("reader"), None));
    assert_eq!(d.types(), ["PROJECT_USER_ASSIGNED"]);
    assert_eq!(d.events[0].project.as_deref(), Some("web"));
    let d = ok(w.set("mia@corp.io", &web, "otto@corp.io", prole("admin"), None));
    assert_eq!(d.types(), ["PROJECT_USER_ROLE_CHANGED"]);
    assert_eq!(
        (d.events[0].details["from_role"].as_str(), d.events[0].details["role"].as_str()),
        (Some("reader"), Some("admin"))
    );
    assert!(ok(w.set("mia@corp.io", &web, "otto@corp.io", prole("admin"), None)).changes.is_empty());
}

#[test]
fn managers_manage_members_and_projects_but_not_managers_or_owners() {
    let mut w = World::team();
    let (a, web) = (ws("team-a"), proj("team-a", "web"));
    let later = w.now.plus(Span::days(3));
    let rows: Vec<(&str, Act, Want)> = vec![
        ("member may assign", Act::Set(a.clone(), "otto@corp.io", wrole("member"), None), Want::Ok),
        ("project admin", Act::Set(web.clone(), "otto@corp.io", prole("admin"), None), Want::Ok),
        ("project grant", Act::Grant(web.clone(), "max@corp.io", prole("admin"), later), Want::Ok),
        ("member grant", Act::Grant(a.clone(), "alice@corp.io", wrole("member"), later), Want::Ok),
        ("new manager", Act::Set(a.clone(), "alice@corp.io", wrole("manager"), None), Want::Forbidden),
        ("new owner", Act::Set(a.clone(), "oscar@corp.io", wrole("owner"), None), Want::Forbidden),
        ("promote member", Act::Set(a.clone(), "max@corp.io", wrole("manager"), None), Want::Forbidden),
        ("demote manager", Act::Set(a.clone(), "mike@corp.io", wrole("member"), None), Want::Forbidden),
        (
            "manager expiry",
            Act::Set(a.clone(), "mike@corp.io", wrole("manager"), Some(later)),
            Want::Forbidden,
        ),
        ("demote self", Act::Set(a.clone(), "mia@corp.io", wrole("member"), None), Want::Forbidden),
        ("demote owner", Act::Set(a.clone(), "olivia@corp.io", wrole("member"), None), Want::Forbidden),
        ("remove manager", Act::Remove(a.clone(), "mike@corp.io"), Want::Forbidden),
        ("remove owner", Act::Remove(a.clone(), "olivia@corp.io"), Want::Forbidden),
        ("manager grant", Act::Grant(a.clone(), "max@corp.io", wrole("manager"), later), Want::Forbidden),
        ("owner grant", Act::Grant(a.clone(), "max@corp.io", wrole("owner"), later), Want::Forbidden),
        ("remove member", Act::Remove(a.clone(), "otto@corp.io"), Want::Ok),
        ("create project", Act::CreateProject("team-a", "by-mia"), Want::Ok),
    ];
    for (label, act, expected) in &rows {
        let before = (w.log.len(), w.state.binding_count());
        let got = w.act("mia@corp.io", act);
        assert_eq!(got, *expected, "manager: {label}: {act:?}");
        if got != Want::Ok {
            assert_eq!((w.log.len(), w.state.binding_count()), before, "{label}: refused means unchanged");
        }
    }
    // Members, auditors and outsiders may not manage at all; outsiders do not even see it.
    for (by, expected) in [
        ("max@corp.io", Want::Forbidden),
        ("aud@corp.io", Want::Forbidden),
        ("otto@corp.io", Want::NotFound("workspace.not_found")),
    ] {
        let got = w.act(by, &Act::Set(web.clone(), "alice@corp.io", prole("reader"), None));
        assert_eq!(got, expected, "{by}");
    }
    // Owners (and the admin area) may do what managers may not.
    let rows: Vec<(&str, Act)> = vec![
        ("olivia@corp.io", Act::Set(a.clone(), "alice@corp.io", wrole("manager"), None)),
        ("olivia@corp.io", Act::Set(a.clone(), "mike@corp.io", wrole("member"), None)),
        ("olivia@corp.io", Act::Remove(a.clone(), "alice@corp.io")),
        ("olivia@corp.io", Act::Grant(a.clone(), "max@corp.io", wrole("manager"), later)),
        ("emp@corp.io", Act::Set(a.clone(), "oscar@corp.io", wrole("owner"), None)),
        ("admin@corp.io", Act::Remove(a.clone(), "mia@corp.io")),
    ];
    for (by, act) in &rows {
        assert_eq!(w.act(by, act), Want::Ok, "{by}: {act:?}");
    }
    assert!(w.check("oscar@corp.io", &a, wrole("owner")).allowed);
    assert!(!w.check("mia@corp.io", &a, wrole("member")).allowed);
    assert!(w.check("max@corp.io", &a, wrole("manager")).allowed, "via the owner's grant");
    assert_eq!(w.check("mike@corp.io", &a, wrole("manager")).reason, Some(DenyReason::NoBinding));
}

#[test]
fn the_last_owner_cannot_be_demoted_or_removed() {
    let mut w = World::team();
    let a = ws("team-a");
    let last = Want::Rule("workspace.last_owner");
    let steps: Vec<(&str, &str, Act, Want)> = vec![
        (
            "demote self",
            "olivia@corp.io",
            Act::Set(a.clone(), "olivia@corp.io", wrole("manager"), None),
            last,
        ),
        (
            "admin demotes",
            "admin@corp.io",
            Act::Set(a.clone(), "olivia@corp.io", wrole("member"), None),
            last,
        ),
        ("admin removes", "admin@corp.io", Act::Remove(a.clone(), "olivia@corp.io"), last),
        ("self removes", "olivia@corp.io", Act::Remove(a.clone(), "olivia@corp.io"), last),
        // An expiry on the last standing owner would leave the workspace ownerless later.
        (
            "owner with expiry",
            "olivia@corp.io",
            Act::Set(a.clone(), "olivia@corp.io", wrole("owner"), Some(at("2027-01-01T00:00:00Z"))),
            last,
        ),
        (
            "second owner",
            "olivia@corp.io",
            Act::Set(a.clone(), "oscar@corp.io", wrole("owner"), None),
            Want::Ok,
        ),
        (
            "now demotable",
            "olivia@corp.io",
            Act::Set(a.clone(), "olivia@corp.io", wrole("manager"), None),
            Want::Ok,
        ),
        ("manager removes owner", "olivia@corp.io", Act::Remove(a.clone(), "oscar@corp.io"), Want::Forbidden),
        ("oscar is last", "admin@corp.io", Act::Remove(a.clone(), "oscar@corp.io"), last),
        ("oscar demoted", "oscar@corp.io", Act::Set(a.clone(), "oscar@corp.io", wrole("member"), None), last),
        ("manager removable", "oscar@corp.io", Act::Remove(a.clone(), "olivia@corp.io"), Want::Ok),
    ];
    for (label, by, act, expected) in &steps {
        assert_eq!(w.act(by, act), *expected, "{label}");
    }
    assert!(w.check("oscar@corp.io", &a, wrole("owner")).allowed);
    assert!(!w.check("olivia@corp.io", &a, wrole("member")).allowed);
    let owners = w.state.bindings_on(&a).filter(|b| b.role == wrole("owner")).count();
    assert_eq!(owners, 1);
}

#[test]
fn the_sole_owners_project_roles_are_not_a_last_owner_matter() {
    // Regression: changing a project role of the workspace's only owner used to be refused
    // with `workspace.last_owner`, although the workspace keeps its owner.
    let mut w = World::team();
    let web = proj("team-a", "web");
    // The admin assigns: the owner assigning herself would be a request (see tests/requests.rs).
    ok(w.set("admin@corp.io", &web, "olivia@corp.io", prole("reader"), None));
    let d = ok(w.set("admin@corp.io", &web, "olivia@corp.io", prole("admin"), None));
    assert_eq!(d.types(), ["PROJECT_USER_ROLE_CHANGED"]);
    let d = ok(w.set("mia@corp.io", &web, "olivia@corp.io", prole("user"), None));
    assert_eq!(d.types(), ["PROJECT_USER_ROLE_CHANGED"]);
    assert!(w.check("olivia@corp.io", &web, prole("user")).allowed);
    assert!(w.check("olivia@corp.io", &ws("team-a"), wrole("owner")).allowed);
    ok(w.remove("mia@corp.io", &web, "olivia@corp.io"));
    assert!(!w.check("olivia@corp.io", &web, prole("reader")).allowed);
}

#[test]
fn bad_member_input_is_refused_and_changes_nothing() {
    let mut w = World::team();
    let (a, web) = (ws("team-a"), proj("team-a", "web"));
    let now = w.now;
    let rows: Vec<(&str, Act, Want)> = vec![
        (
            "expiry now",
            Act::Set(a.clone(), "otto@corp.io", wrole("member"), Some(now)),
            Want::Invalid("input.expiry_in_past"),
        ),
        (
            "expiry past",
            Act::Set(a.clone(), "otto@corp.io", wrole("member"), Some(now.minus(Span::seconds(1)))),
            Want::Invalid("input.expiry_in_past"),
        ),
        (
            "project expiry now",
            Act::Set(web.clone(), "max@corp.io", prole("user"), Some(now)),
            Want::Invalid("input.expiry_in_past"),
        ),
        (
            "grant until now",
            Act::Grant(web.clone(), "max@corp.io", prole("user"), now),
            Want::Invalid("input.expiry_in_past"),
        ),
        (
            "grant in past",
            Act::Grant(a.clone(), "max@corp.io", wrole("member"), micros_before(now, 1)),
            Want::Invalid("input.expiry_in_past"),
        ),
        (
            "workspace role on project",
            Act::Set(web.clone(), "max@corp.io", wrole("member"), None),
            Want::Invalid("input.unknown_role"),
        ),
        (
            "owner on project",
            Act::Set(web.clone(), "max@corp.io", wrole("owner"), None),
            Want::Invalid("input.unknown_role"),
        ),
        (
            "project role on workspace",
            Act::Set(a.clone(), "max@corp.io", prole("admin"), None),
            Want::Invalid("input.unknown_role"),
        ),
        (
            "grant wrong kind",
            Act::Grant(web.clone(), "max@corp.io", wrole("manager"), now.plus(Span::hours(1))),
            Want::Invalid("input.unknown_role"),
        ),
        (
            "unknown user",
            Act::Set(a.clone(), "ghost@corp.io", wrole("member"), None),
            Want::NotFound("user.not_found"),
        ),
        (
            "unknown user grant",
            Act::Grant(web.clone(), "ghost@corp.io", prole("user"), now.plus(Span::hours(1))),
            Want::NotFound("user.not_found"),
        ),
        (
            "unknown project",
            Act::Set(proj("team-a", "nope"), "max@corp.io", prole("user"), None),
            Want::NotFound("project.not_found"),
        ),
        ("remove non-member", Act::Remove(a.clone(), "otto@corp.io"), Want::NotFound("member.not_found")),
        ("remove unknown user", Act::Remove(a.clone(), "ghost@corp.io"), Want::NotFound("member.not_found")),
        (
            "remove from project without role",
            Act::Remove(web.clone(), "max@corp.io"),
            Want::NotFound("member.not_found"),
        ),
        (
            "remove other workspace's member",
            Act::Remove(a.clone(), "ben@corp.io"),
            Want::NotFound("member.not_found"),
        ),
    ];
    let before = (w.log.len(), w.state.binding_count());
    for (label, act, expected) in &rows {
        assert_eq!(w.act("olivia@corp.io", act), *expected, "{label}");
    }
    assert_eq!((w.log.len(), w.state.binding_count()), before);
    // A grant's reason is bounded and free of control characters (newlines allowed).
    let until = now.plus(Span::hours(1));
    for (reason, expected) in [
        ("x".repeat(1001), Want::Invalid("input.invalid_reason")),
        ("bad\u{7}bell".to_owned(), Want::Invalid("input.invalid_reason")),
        ("line one\nline two".to_owned(), Want::Ok),
        ("x".repeat(1000), Want::Ok),
    ] {
        let cmd = NewGrant {
            target: web.clone(),
            email: email("max@corp.io"),
            role: prole("user"),
            expires_at: until,
            reason: Some(reason),
        };
        let r = w.as_user("olivia@corp.io", move |s, c| members::grant(s, c, cmd));
        assert_eq!(want(&r), expected);
    }
}

#[test]
fn removal_from_a_workspace_ends_every_binding_in_it() {
    let mut w = World::team();
    let (a, web, api) = (ws("team-a"), proj("team-a", "web"), proj("team-a", "api"));
    let until = w.now.plus(Span::hours(4));
    ok(w.set("mia@corp.io", &web, "max@corp.io", prole("user"), None));
    ok(w.set("mia@corp.io", &api, "max@corp.io", prole("reader"), Some(until)));
    let g = ok(w.grant("mia@corp.io", &web, "max@corp.io", prole("admin"), until)).value;
    // max also holds a role in team-b, which must survive.
    ok(w.set("bella@corp.io", &proj("team-b", "db"), "max@corp.io", prole("reader"), None));
    let max = w.id("max@corp.io");

    // Removing from one project ends that project's bindings only (membership and grant).
    let d = ok(w.remove("mia@corp.io", &web, "max@corp.io"));
    assert_eq!(d.types(), ["PROJECT_USER_REMOVED"]);
    assert_eq!(d.events[0].details["ended"].as_array().unwrap().len(), 2);
    assert!(w.state.binding(g).is_none());
    assert_eq!(w.check("max@corp.io", &web, prole("reader")).reason, Some(DenyReason::NoBinding));
    assert!(w.check("max@corp.io", &api, prole("reader")).allowed);
    assert!(w.check("max@corp.io", &a, wrole("member")).allowed);

    // Put web back, then remove from the whole workspace.
    ok(w.set("mia@corp.io", &web, "max@corp.io", prole("user"), None));
    let d = ok(w.remove("mia@corp.io", &a, "max@corp.io"));
    assert_eq!(d.types(), ["USER_REMOVED"]);
    let ended = d.events[0].details["ended"].as_array().unwrap();
    let mut projects: Vec<Option<&str>> = ended.iter().map(|e| e["project"].as_str()).collect();
    projects.sort();
    assert_eq!(projects, [None, Some("api"), Some("web")]);
    assert_eq!(d.changes.changes.len(), 3);
    assert!(d
        .changes
        .changes
        .iter()
        .all(|c| matches!(c, Change::EndBinding { reason: EndReason::Removed, .. })));
    for (t, r) in [(&a, wrole("member")), (&web, prole("reader")), (&api, prole("reader"))] {
        assert_eq!(w.check("max@corp.io", t, r).reason, Some(DenyReason::NoBinding), "{t}");
    }
    assert!(!w.state.has_any_binding_in(max, &slug("team-a"), w.now));
    assert!(
        w.check("max@corp.io", &proj("team-b", "db"), prole("reader")).allowed,
        "other workspaces untouched"
    );
    // Removed, max no longer sees the workspace at all.
    assert_eq!(
        w.act("max@corp.io", &Act::CreateProject("team-a", "x1")),
        Want::NotFound("workspace.not_found")
    );
    // A second removal finds nothing.
    assert_eq!(want(&w.remove("mia@corp.io", &a, "max@corp.io")), Want::NotFound("member.not_found"));
}

#[test]
fn workspaces_are_isolated_from_each_other() {
    let mut w = World::team();
    let b_grant = ok(w.grant(
        "bella@corp.io",
        &proj("team-b", "db"),
        "ben@corp.io",
        prole("admin"),
        w.now.plus(Span::hours(1)),
    ))
    .value;
    let later = w.now.plus(Span::hours(2));
    let nf = Want::NotFound("workspace.not_found");
    let rows: Vec<(&str, Act, Want)> = vec![
        ("mia@corp.io", Act::Set(ws("team-b"), "ben@corp.io", wrole("member"), None), nf),
        ("mia@corp.io", Act::Set(ws("team-b"), "mia@corp.io", wrole("member"), None), nf),
        ("mia@corp.io", Act::Set(proj("team-b", "db"), "ben@corp.io", prole("reader"), None), nf),
        ("mia@corp.io", Act::Set(proj("team-b", "no-such"), "ben@corp.io", prole("reader"), None), nf),
        ("mia@corp.io", Act::Remove(ws("team-b"), "ben@corp.io"), nf),
        ("mia@corp.io", Act::Remove(proj("team-b", "db"), "ben@corp.io"), nf),
        ("mia@corp.io", Act::Grant(proj("team-b", "db"), "mia@corp.io", prole("admin"), later), nf),
        ("mia@corp.io", Act::CreateProject("team-b", "sneaky"), nf),
        ("mia@corp.io", Act::Revoke(b_grant), Want::NotFound("grant.not_found")),
        // Same answers as for a workspace that does not exist.
        ("mia@corp.io", Act::Set(ws("team-zz"), "ben@corp.io", wrole("member"), None), nf),
        ("mia@corp.io", Act::Remove(ws("team-zz"), "ben@corp.io"), nf),
        ("mia@corp.io", Act::Revoke(BindingId(Uuid::from_u128(42))), Want::NotFound("grant.not_found")),
        // And the other way round, for owners too.
        ("bella@corp.io", Act::Set(ws("team-a"), "ben@corp.io", wrole("member"), None), nf),
        ("bella@corp.io", Act::Remove(ws("team-a"), "max@corp.io"), nf),
        ("olivia@corp.io", Act::Revoke(b_grant), Want::NotFound("grant.not_found")),
    ];
    let before = (w.log.len(), w.state.binding_count());
    for (by, act, expected) in &rows {
        assert_eq!(w.act(by, act), *expected, "{by}: {act:?}");
    }
    assert_eq!((w.log.len(), w.state.binding_count()), before);
    assert!(w.check("ben@corp.io", &proj("team-b", "db"), prole("admin")).allowed);
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

#[test]
fn expiry_counts_at_the_exact_instant_without_any_sweeper() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let t = w.now.plus(Span::hours(1));
    ok(w.set("mia@corp.io", &web, "max@corp.io", prole("user"), Some(t)));
    let bindings = w.state.binding_count();
    let rows = [
        ("start", w.now, true),
        ("T - 1s", t.minus(Span::seconds(1)), true),
        ("T - 1µs", micros_before(t, 1), true),
        ("T", t, false),
        ("T + 1µs", Timestamp::from_micros(t.as_micros() + 1), false),
        ("T + 1d", t.plus(Span::days(1)), false),
    ];
    for (label, instant, allowed) in rows {
        w.set_time(instant);
        for role in [prole("user"), prole("reader")] {
            let d = w.check("max@corp.io", &web, role);
            assert_eq!(d.allowed, allowed, "{label} {role}");
            if allowed {
                assert_eq!(d.expires_at, Some(t), "{label}");
                assert_eq!(sources(&d), [BindingSource::Direct]);
            } else {
                assert_eq!(d.reason, Some(DenyReason::NoBinding), "{label}");
                assert!(d.via.is_empty() && d.expires_at.is_none());
            }
        }
        assert!(!w.check("max@corp.io", &web, prole("admin")).allowed, "{label}: never more than user");
    }
    assert_eq!(w.state.binding_count(), bindings, "no sweeper ran: the binding is still stored");
    assert_eq!(w.state.expired_unrecorded(w.now).len(), 1);
}

#[test]
fn the_sweeper_records_each_expiry_once() {
    let mut w = World::team();
    let (web, api) = (proj("team-a", "web"), proj("team-a", "api"));
    let t1 = w.now.plus(Span::hours(1));
    let t2 = w.now.plus(Span::hours(2));
    ok(w.set("mia@corp.io", &web, "max@corp.io", prole("user"), Some(t1)));
    let web_binding = direct_bindings(&w.state, w.id("max@corp.io"), &web)[0].id;
    ok(w.set("mia@corp.io", &api, "max@corp.io", prole("reader"), Some(t2)));
    // A minute later than t2, so that the sweeper's order (by expiry) is known.
    let g = ok(w.grant("mia@corp.io", &api, "mo@corp.io", prole("admin"), t2.plus(Span::minutes(1)))).value;

    let timeline: &[(&str, Timestamp, usize, &[&str])] = &[
        ("start", w.now, usize::MAX, &[]),
        ("T1 - 1µs", micros_before(t1, 1), usize::MAX, &[]),
        ("T1", t1, usize::MAX, &["max@corp.io"]),
        ("T1 again", t1, usize::MAX, &[]),
        ("T2 + 1h, batch 1", t2.plus(Span::hours(1)), 1, &["max@corp.io"]),
        ("batch 1 again", t2.plus(Span::hours(1)), 1, &["mo@corp.io"]),
        ("nothing left", t2.plus(Span::hours(1)), 1, &[]),
        ("much later", t2.plus(Span::days(400)), usize::MAX, &[]),
    ];
    for (label, instant, max, subjects) in timeline {
        w.set_time(*instant);
        let d = w.sweep(*max);
        let got: Vec<&str> = d.events.iter().map(|e| e.subject.as_deref().unwrap()).collect();
        assert_eq!(got, *subjects, "{label}");
        for e in &d.events {
            assert_eq!(e.event_type, "BINDING_EXPIRED");
            assert_eq!(e.actor, "system");
            assert_eq!(e.workspace.as_deref(), Some("team-a"));
        }
    }
    let expired: Vec<&AuditEvent> = w.log.iter().filter(|e| e.event_type == "BINDING_EXPIRED").collect();
    assert_eq!(expired.len(), 3);
    assert_eq!(expired[0].details["binding_id"], web_binding.to_string());
    assert_eq!(expired[0].details["expires_at"], t1.to_rfc3339());
    assert_eq!(expired[0].details["source"], "direct");
    assert_eq!(expired[0].project.as_deref(), Some("web"));
    assert_eq!(expired[0].time, t1, "recorded when the sweeper ran");
    assert_eq!(expired[2].details["binding_id"], g.to_string());
    assert_eq!(expired[2].details["source"], "grant");
    assert!(w.state.binding(web_binding).is_none() && w.state.binding(g).is_none());
    // Standing bindings never expire.
    assert!(w.check("max@corp.io", &ws("team-a"), wrole("member")).allowed);
}

#[test]
fn an_expired_manager_loses_management_rights_at_once() {
    let mut w = World::team();
    let a = ws("team-a");
    let t = w.now.plus(Span::days(1));
    ok(w.set("olivia@corp.io", &a, "oscar@corp.io", wrole("manager"), Some(t)));
    w.set_time(micros_before(t, 1));
    assert_eq!(w.act("oscar@corp.io", &Act::CreateProject("team-a", "before")), Want::Ok);
    w.set_time(t);
    assert_eq!(
        w.act("oscar@corp.io", &Act::CreateProject("team-a", "after")),
        Want::NotFound("workspace.not_found")
    );
    assert_eq!(
        w.act("oscar@corp.io", &Act::Set(a.clone(), "otto@corp.io", wrole("member"), None)),
        Want::NotFound("workspace.not_found")
    );
    // An expired but unswept membership is not a membership: setting it again assigns afresh.
    let d = ok(w.set("olivia@corp.io", &a, "oscar@corp.io", wrole("member"), None));
    assert_eq!(d.types(), ["USER_ASSIGNED"]);
    assert_eq!(w.sweep(usize::MAX).types(), ["BINDING_EXPIRED"]);
    assert!(w.check("oscar@corp.io", &a, wrole("member")).allowed);
}

// ---------------------------------------------------------------------------------------------
// Overlapping bindings and grants
// ---------------------------------------------------------------------------------------------

#[test]
fn a_grant_on_top_of_a_membership() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let t = w.now.plus(Span::hours(2));
    ok(w.set("mia@corp.io", &web, "max@corp.io", prole("user"), None));
    let membership = direct_bindings(&w.state, w.id("max@corp.io"), &web)[0].id;
    let cmd = NewGrant {
        target: web.clone(),
        email: email("max@corp.io"),
        role: prole("admin"),
        expires_at: t,
        reason: Some("incident 4711".into()),
    };
    let d = ok(w.as_user("mia@corp.io", move |s, c| members::grant(s, c, cmd)));
    let g = direct_binding(d.value);
    assert_eq!(d.types(), ["GRANTED"]);
    let e = &d.events[0];
    assert_eq!((e.subject.as_deref(), e.project.as_deref()), (Some("max@corp.io"), Some("web")));
    assert_eq!(e.details["binding_id"], g.to_string());
    assert_eq!(e.details["reason"], "incident 4711");
    assert_eq!(e.details["expires_at"], t.to_rfc3339());

    let before_t = micros_before(t, 1);
    // (instant, role, allowed, via bindings in order, expires_at)
    type Row<'a> = (Timestamp, &'a str, bool, Vec<BindingId>, Option<Timestamp>);
    let rows: Vec<Row> = vec![
        (w.now, "admin", true, vec![g], Some(t)),
        (w.now, "user", true, vec![membership, g], None),
        (w.now, "reader", true, vec![membership, g], None),
        (before_t, "admin", true, vec![g], Some(t)),
        (before_t, "user", true, vec![membership, g], None),
        (t, "admin", false, vec![], None),
        (t, "user", true, vec![membership], None),
        (t, "reader", true, vec![membership], None),
    ];
    for (instant, role, allowed, via, expires_at) in rows {
        w.set_time(instant);
        let d = w.check("max@corp.io", &web, prole(role));
        assert_eq!(d.allowed, allowed, "{instant} {role}");
        assert_eq!(d.via.iter().map(|v| v.binding).collect::<Vec<_>>(), via, "{instant} {role}");
        assert_eq!(d.expires_at, expires_at, "{instant} {role}");
        for v in &d.via {
            assert!(v.role.implies(prole(role)));
        }
    }
}

#[test]
fn overlapping_grants_and_revocation() {
    let mut w = World::team();
    let api = proj("team-a", "api");
    let (t1, t3) = (w.now.plus(Span::hours(1)), w.now.plus(Span::hours(3)));
    let g1 = ok(w.grant("mia@corp.io", &api, "max@corp.io", prole("admin"), t1)).value;
    let g3 = ok(w.grant("olivia@corp.io", &api, "max@corp.io", prole("admin"), t3)).value;
    let short =
        ok(w.grant("mia@corp.io", &api, "mo@corp.io", prole("reader"), w.now.plus(Span::minutes(5)))).value;

    let d = w.check("max@corp.io", &api, prole("admin"));
    assert!(d.allowed);
    assert_eq!(d.expires_at, Some(t3), "the later grant decides");
    assert_eq!(d.via.iter().map(|v| v.binding).collect::<Vec<_>>(), [g3, g1]);
    assert_eq!(sources(&d), [BindingSource::Grant, BindingSource::Grant]);
    assert_eq!(w.check("max@corp.io", &api, prole("user")).expires_at, Some(t3));

    let membership = direct_bindings(&w.state, w.id("max@corp.io"), &ws("team-a"))[0].id;
    let rows: Vec<(&str, &str, BindingId, Want)> = vec![
        ("outsider", "otto@corp.io", g1, Want::NotFound("grant.not_found")),
        ("other workspace", "ben@corp.io", g1, Want::NotFound("grant.not_found")),
        ("other workspace owner", "bella@corp.io", g1, Want::NotFound("grant.not_found")),
        ("fellow member", "mo@corp.io", g1, Want::Forbidden),
        ("auditor", "aud@corp.io", g1, Want::Forbidden),
        ("not a grant", "olivia@corp.io", membership, Want::NotFound("grant.not_found")),
        ("no such id", "olivia@corp.io", BindingId(Uuid::from_u128(7)), Want::NotFound("grant.not_found")),
        ("manager revokes the later one", "mia@corp.io", g3, Want::Ok),
        ("already revoked", "olivia@corp.io", g3, Want::NotFound("grant.not_found")),
    ];
    for (label, by, id, expected) in rows {
        assert_eq!(w.act(by, &Act::Revoke(id)), expected, "{label}");
    }
    let revoked = w.log.last().unwrap();
    assert_eq!(revoked.event_type, "GRANT_REVOKED");
    assert_eq!(revoked.details["binding_id"], g3.to_string());
    assert_eq!((revoked.actor.as_str(), revoked.subject.as_deref()), ("mia@corp.io", Some("max@corp.io")));

    // The other grant still holds.
    let d = w.check("max@corp.io", &api, prole("admin"));
    assert!(d.allowed);
    assert_eq!((d.expires_at, d.via.len()), (Some(t1), 1));

    // The holder may give up their own grant, even as a plain member.
    let d = ok(w.revoke("max@corp.io", g1));
    assert_eq!(d.types(), ["GRANT_REVOKED"]);
    assert_eq!(d.events[0].actor, "max@corp.io");
    assert!(matches!(d.changes.changes[..], [Change::EndBinding { reason: EndReason::Revoked, .. }]));
    assert_eq!(w.check("max@corp.io", &api, prole("reader")).reason, Some(DenyReason::NoBinding));

    // A disabled holder is refused like every other action of a disabled user.
    let g = ok(w.grant("mia@corp.io", &api, "mo@corp.io", prole("user"), w.now.plus(Span::hours(1)))).value;
    let mut mo = w.state.user(w.id("mo@corp.io")).unwrap().clone();
    mo.status = UserStatus::Disabled;
    w.state.apply(&Change::CreateUser { user: mo, password_hash: None });
    assert_eq!(w.act("mo@corp.io", &Act::Revoke(g)), Want::Forbidden);
    assert!(w.state.binding(g).is_some());
    assert_eq!(w.act("mia@corp.io", &Act::Revoke(g)), Want::Ok);

    // An expired grant, even unswept, can no longer be revoked.
    w.advance(Span::minutes(5));
    assert_eq!(w.act("olivia@corp.io", &Act::Revoke(short)), Want::NotFound("grant.not_found"));
    assert_eq!(w.sweep(usize::MAX).types(), ["BINDING_EXPIRED"]);
}

// ---------------------------------------------------------------------------------------------
// Check
// ---------------------------------------------------------------------------------------------

/// Adds a workspace in `status` with project `p1` and a member and project admin binding for
/// `who`, straight into the state (no command creates such a workspace yet).
fn put_workspace(w: &mut World, id: &str, status: WorkspaceStatus, who: &str, ids: u128) {
    let user = w.id(who);
    let binding = |n: u128, target: Target, role: Role| {
        Change::CreateBinding(Binding {
            id: BindingId(Uuid::from_u128(n)),
            user,
            target,
            role,
            starts_at: w.now,
            expires_at: None,
            source: BindingSource::Direct,
            created_by: None,
            reason: None,
        })
    };
    let changes = [
        Change::CreateWorkspace(Workspace {
            id: slug(id),
            name: name(id),
            status,
            project_quota: 3,
            tags: Default::default(),
            created_at: w.now,
        }),
        Change::CreateProject {
            project: Project {
                workspace: slug(id),
                id: slug("p1"),
                name: name("p1"),
                tags: Default::default(),
                created_at: w.now,
            },
            quota: 3,
        },
        binding(ids, ws(id), wrole("owner")),
        binding(ids + 1, proj(id, "p1"), prole("admin")),
    ];
    for c in &changes {
        w.state.apply(c);
    }
}

#[test]
fn check_says_why_it_denies() {
    let mut w = World::team();
    put_workspace(&mut w, "frozen", WorkspaceStatus::Disabled, "max@corp.io", 0xf00);
    put_workspace(&mut w, "waiting", WorkspaceStatus::PendingApproval, "max@corp.io", 0xa00);
    let gone = User {
        id: UserId(Uuid::from_u128(0x90e)),
        email: email("gone@corp.io"),
        name: name("Gone"),
        admin_role: AdminRole::None,
        status: UserStatus::Disabled,
        created_at: w.now,
    };
    w.state.apply(&Change::CreateUser { user: gone, password_hash: None });
    w.state.apply(&Change::CreateBinding(Binding {
        id: BindingId(Uuid::from_u128(0x90e1)),
        user: w.id("gone@corp.io"),
        target: proj("team-a", "web"),
        role: prole("admin"),
        starts_at: w.now,
        expires_at: None,
        source: BindingSource::Direct,
        created_by: None,
        reason: None,
    }));
    let stranger = UserId(Uuid::from_u128(0x5757));

    // (user, target, role, expected decision); `None` is a user id nobody has.
    type Row<'a> = (Option<&'a str>, Target, Role, Result<(), DenyReason>);
    let rows: Vec<Row> = vec![
        (Some("max@corp.io"), ws("frozen"), wrole("owner"), Err(DenyReason::WorkspaceNotActive)),
        (Some("max@corp.io"), proj("frozen", "p1"), prole("admin"), Err(DenyReason::WorkspaceNotActive)),
        (Some("max@corp.io"), ws("waiting"), wrole("member"), Err(DenyReason::WorkspaceNotActive)),
        (Some("max@corp.io"), proj("waiting", "p1"), prole("reader"), Err(DenyReason::WorkspaceNotActive)),
        (Some("gone@corp.io"), proj("team-a", "web"), prole("admin"), Err(DenyReason::UserDisabled)),
        (None, ws("team-a"), wrole("member"), Err(DenyReason::UnknownTarget)),
        (Some("max@corp.io"), ws("team-zz"), wrole("member"), Err(DenyReason::UnknownTarget)),
        (Some("max@corp.io"), proj("team-a", "nope"), prole("reader"), Err(DenyReason::UnknownTarget)),
        (Some("max@corp.io"), proj("frozen", "nope"), prole("reader"), Err(DenyReason::UnknownTarget)),
        (Some("otto@corp.io"), ws("team-a"), wrole("member"), Err(DenyReason::NoBinding)),
        (Some("max@corp.io"), ws("team-a"), wrole("manager"), Err(DenyReason::NoBinding)),
        (Some("ben@corp.io"), ws("team-a"), wrole("member"), Err(DenyReason::NoBinding)),
        // A workspace role does not imply project roles (roles imply within one target).
        (Some("olivia@corp.io"), proj("team-a", "web"), prole("reader"), Err(DenyReason::NoBinding)),
        // Admin-area roles are not bindings either.
        (Some("admin@corp.io"), ws("team-a"), wrole("member"), Err(DenyReason::NoBinding)),
        (Some("olivia@corp.io"), ws("team-a"), wrole("member"), Ok(())),
        (Some("mia@corp.io"), ws("team-a"), wrole("manager"), Ok(())),
    ];
    for (who, target, role, expected) in rows {
        let user = who.map_or(stranger, |e| w.id(e));
        let d = check::check(&w.state, user, &target, role, w.now);
        let got = if d.allowed { Ok(()) } else { Err(d.reason.expect("a denial says why")) };
        assert_eq!(got, expected, "{who:?} {role} on {target}");
        assert_eq!(d.allowed, d.reason.is_none());
        if !d.allowed {
            assert!(d.via.is_empty() && d.expires_at.is_none());
        }
    }
    assert_eq!(DenyReason::WorkspaceNotActive.as_str(), "workspace_not_active");
    // By slug text: the same answers, and an empty project names no target (it is not read as
    // "no project", which would check the workspace).
    let olivia = w.id("olivia@corp.io");
    let by_text = check::check_slugs(&w.state, olivia, "team-a", None, wrole("member"), w.now);
    assert!(by_text.allowed, "{by_text:?}");
    let empty = check::check_slugs(&w.state, olivia, "team-a", Some(""), wrole("member"), w.now);
    assert_eq!((empty.allowed, empty.reason), (false, Some(DenyReason::UnknownTarget)));

    // Commands refuse to change inactive workspaces, even for admins.
    let later = w.now.plus(Span::hours(1));
    let rows: Vec<(Act, Want)> = vec![
        (Act::Set(ws("frozen"), "otto@corp.io", wrole("member"), None), Want::Rule("workspace.disabled")),
        (
            Act::Grant(proj("frozen", "p1"), "otto@corp.io", prole("user"), later),
            Want::Rule("workspace.disabled"),
        ),
        (Act::CreateProject("frozen", "p2"), Want::Rule("workspace.disabled")),
        (
            Act::Set(ws("waiting"), "otto@corp.io", wrole("member"), None),
            Want::Rule("workspace.pending_approval"),
        ),
        (Act::CreateProject("waiting", "p2"), Want::Rule("workspace.pending_approval")),
    ];
    for (act, expected) in &rows {
        assert_eq!(w.act("admin@corp.io", act), *expected, "{act:?}");
    }
    // A disabled user cannot act at all.
    let r = w.as_user("gone@corp.io", |s, c| {
        tokens::create_token(s, c, tokens::NewToken::new(name("x"), SecretHash([1; 32]), None))
    });
    assert_eq!(want(&r), Want::Forbidden);
    assert_eq!(
        w.act("gone@corp.io", &Act::Set(proj("team-a", "web"), "otto@corp.io", prole("reader"), None)),
        Want::Forbidden
    );
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn new_token(
    w: &mut World,
    who: &str,
    label: &str,
    hash: SecretHash,
    expires_at: Option<Timestamp>,
) -> Res<Token> {
    let label = name(label);
    w.as_user(who, move |s, c| tokens::create_token(s, c, tokens::NewToken::new(label, hash, expires_at)))
}

fn revoke_token(w: &mut World, by: &str, id: TokenId) -> Res<()> {
    w.as_user(by, move |s, c| tokens::revoke_token(s, c, id))
}

#[test]
fn tokens_belong_to_their_owner() {
    let mut w = World::team();
    let (ha, hb) = (SecretHash([0xa1; 32]), SecretHash([0xb2; 32]));
    let d = ok(new_token(&mut w, "alice@corp.io", "ci", ha, None));
    assert_eq!(d.types(), ["TOKEN_CREATED"]);
    assert_eq!(d.events[0].subject.as_deref(), Some("alice@corp.io"));
    assert_eq!(d.events[0].details["token_id"], d.value.id.to_string());
    let alice_token = d.value.id;
    assert_eq!(w.state.token_by_hash(&ha).map(|t| t.user), Some(w.id("alice@corp.io")));
    let otto_token = ok(new_token(&mut w, "otto@corp.io", "deploy", hb, None)).value.id;

    let rows = [
        ("alice@corp.io", Want::NotFound("token.not_found")),
        ("emp@corp.io", Want::NotFound("token.not_found")),
        ("aud@corp.io", Want::NotFound("token.not_found")),
        ("olivia@corp.io", Want::NotFound("token.not_found")),
        ("admin@corp.io", Want::Ok),
        ("otto@corp.io", Want::NotFound("token.not_found")),
    ];
    for (by, expected) in rows {
        assert_eq!(want(&revoke_token(&mut w, by, otto_token)), expected, "{by} revokes otto's token");
    }
    let revoked = w.log.last().unwrap();
    assert_eq!(revoked.event_type, "TOKEN_REVOKED");
    assert_eq!((revoked.actor.as_str(), revoked.subject.as_deref()), ("admin@corp.io", Some("otto@corp.io")));
    assert!(w.state.token_by_hash(&hb).is_none());

    // Revoking one's own token; then it is gone.
    assert_eq!(ok(revoke_token(&mut w, "alice@corp.io", alice_token)).types(), ["TOKEN_REVOKED"]);
    assert!(w.state.token(alice_token).is_none() && w.state.token_by_hash(&ha).is_none());
    assert_eq!(want(&revoke_token(&mut w, "alice@corp.io", alice_token)), Want::NotFound("token.not_found"));
    assert_eq!(
        want(&revoke_token(&mut w, "admin@corp.io", TokenId(Uuid::from_u128(3)))),
        Want::NotFound("token.not_found")
    );
    assert!(w.state.tokens_of(w.id("alice@corp.io")).is_empty());

    // Sessions sign in and out with their own events.
    let until = w.now.plus(Span::hours(12));
    let s = ok(w.as_user("alice@corp.io", move |s, c| tokens::sign_in(s, c, SecretHash([0xcc; 32]), until)));
    assert_eq!(s.types(), ["USER_SIGNED_IN"]);
    assert_eq!(ok(revoke_token(&mut w, "alice@corp.io", s.value.id)).types(), ["USER_SIGNED_OUT"]);
}

#[test]
fn expired_tokens_do_not_authenticate() {
    let mut w = World::team();
    let t = w.now.plus(Span::days(30));
    let hash = SecretHash([0x42; 32]);
    let token = ok(new_token(&mut w, "alice@corp.io", "short", hash, Some(t))).value;
    let forever = ok(new_token(&mut w, "alice@corp.io", "forever", SecretHash([0x43; 32]), None)).value;
    for (instant, valid) in
        [(w.now, true), (micros_before(t, 1), true), (t, false), (t.plus(Span::days(1)), false)]
    {
        assert_eq!(token.is_valid(instant), valid, "{instant}");
        assert!(forever.is_valid(instant));
    }
    // Expiry must lie in the future.
    for exp in [w.now, w.now.minus(Span::hours(1))] {
        let r = new_token(&mut w, "alice@corp.io", "bad", SecretHash([0x44; 32]), Some(exp));
        assert_eq!(want(&r), Want::Invalid("input.expiry_in_past"));
    }
    // A lapsed token is simply forgotten: no event.
    let events = w.log.len();
    w.set_time(t);
    w.state.prune_tokens(w.now);
    assert!(w.state.token_by_hash(&hash).is_none());
    assert_eq!(w.state.tokens_of(w.id("alice@corp.io")).len(), 1);
    assert_eq!(w.log.len(), events);
}

// ---------------------------------------------------------------------------------------------
// Audit chain
// ---------------------------------------------------------------------------------------------

/// A day in the life: every kind of command, with time passing.
fn busy_world() -> World {
    let mut w = World::team();
    let (web, api) = (proj("team-a", "web"), proj("team-a", "api"));
    w.advance(Span::minutes(10));
    ok(w.set("mia@corp.io", &web, "max@corp.io", prole("user"), Some(w.now.plus(Span::hours(1)))));
    let g = ok(w.grant("mia@corp.io", &api, "mo@corp.io", prole("admin"), w.now.plus(Span::hours(8)))).value;
    ok(new_token(&mut w, "alice@corp.io", "ci", SecretHash([9; 32]), None));
    w.advance(Span::hours(2));
    w.sweep(usize::MAX);
    ok(w.revoke("mo@corp.io", g));
    ok(w.remove("olivia@corp.io", &ws("team-a"), "mo@corp.io"));
    ok(w.create_project("mike@corp.io", "team-a", "batch"));
    w
}

#[test]
fn the_audit_chain_verifies_and_names_the_first_tampered_event() {
    let w = busy_world();
    let n = w.log.len();
    assert!(n > 30, "the scenario produced {n} events");
    assert_eq!(w.log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=n as i64).collect::<Vec<_>>());
    assert!(w.log.windows(2).all(|p| p[0].time <= p[1].time), "events are in time order");
    let types: std::collections::BTreeSet<&str> = w.log.iter().map(|e| e.event_type.as_str()).collect();
    for t in [
        "USER_CREATED",
        "WORKSPACE_CREATED",
        "PROJECT_CREATED",
        "USER_ASSIGNED",
        "PROJECT_USER_ASSIGNED",
        "GRANTED",
        "BINDING_EXPIRED",
        "GRANT_REVOKED",
        "USER_REMOVED",
        "TOKEN_CREATED",
    ] {
        assert!(types.contains(t), "scenario lacks {t}");
    }

    let mut v = ChainVerifier::new();
    for e in &w.log {
        v.push(e).unwrap_or_else(|b| panic!("intact chain broken at {}: {}", b.seq, b.reason));
    }
    let head = v.finish(n as i64).unwrap();
    assert_eq!(head, w.state.head(), "the state reflects the end of the chain");

    type Tamper = fn(&mut AuditEvent);
    let tampers: &[(&str, Tamper)] = &[
        ("details value", |e| e.details["injected"] = Value::from("x")),
        ("details replaced", |e| e.details = Value::Null),
        ("actor", |e| e.actor = "mallory@evil.io".into()),
        ("time", |e| e.time = e.time.plus(Span::seconds(1))),
        ("subject", |e| e.subject = Some("someone@else.io".into())),
    ];
    for at_index in [0, n / 2, n - 1] {
        for (label, tamper) in tampers {
            let mut log = w.log.clone();
            tamper(&mut log[at_index]);
            let mut v = ChainVerifier::new();
            let broken = log.iter().try_for_each(|e| v.push(e)).unwrap_err();
            assert_eq!(broken.seq, log[at_index].seq, "{label} at index {at_index}");
        }
    }
    // A changed detail deep inside a nested value is caught too.
    let idx = w.log.iter().position(|e| e.event_type == "USER_REMOVED").unwrap();
    let mut log = w.log.clone();
    log[idx].details["ended"][0]["role"] = Value::from("owner");
    let mut v = ChainVerifier::new();
    assert_eq!(log.iter().try_for_each(|e| v.push(e)).unwrap_err().seq, log[idx].seq);

    // Dropping an event is caught where it went missing; a truncated tail at `finish`.
    let mut log = w.log.clone();
    log.remove(5);
    let mut v = ChainVerifier::new();
    assert_eq!(log.iter().try_for_each(|e| v.push(e)).unwrap_err().seq, 6);
    let mut v = ChainVerifier::new();
    w.log[..n - 1].iter().for_each(|e| v.push(e).unwrap());
    assert_eq!(v.finish(n as i64).unwrap_err().seq, n as i64);
}

#[test]
fn a_temporary_owner_does_not_stand_in_for_the_last_standing_owner() {
    // A grant of `owner` ends; if it were the only owner left, the workspace would silently
    // become ownerless at that instant.
    let mut w = World::team();
    let a = ws("team-a");
    let later = w.now.plus(Span::hours(2));
    let last = Want::Rule("workspace.last_owner");
    let steps = [
        (
            "temporary owner",
            "admin@corp.io",
            Act::Grant(a.clone(), "oscar@corp.io", wrole("owner"), later),
            Want::Ok,
        ),
        ("remove the standing owner", "admin@corp.io", Act::Remove(a.clone(), "olivia@corp.io"), last),
        (
            "demote the standing owner",
            "admin@corp.io",
            Act::Set(a.clone(), "olivia@corp.io", wrole("manager"), None),
            last,
        ),
        (
            "standing second owner",
            "admin@corp.io",
            Act::Set(a.clone(), "mia@corp.io", wrole("owner"), None),
            Want::Ok,
        ),
        ("now removable", "admin@corp.io", Act::Remove(a.clone(), "olivia@corp.io"), Want::Ok),
    ];
    for (label, by, act, expected) in &steps {
        assert_eq!(w.act(by, act), *expected, "{label}");
    }
}
