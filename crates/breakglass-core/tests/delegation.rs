//! Delegation and scoped tokens: each safety rule written as an attempt that must fail, next to
//! the happy paths. Delegations are resolved with `delegation::resolve`, exactly as the server
//! does for `X-Breakglass-Act-As`.

mod common;

use common::*;

use breakglass_core::access::{ApproverSet, Step};
use breakglass_core::cmd::accesses::{self, NewAccess};
use breakglass_core::cmd::admin;
use breakglass_core::cmd::invitations;
use breakglass_core::cmd::policies::{self, PolicyInput, SetEntitlement};
use breakglass_core::cmd::requests::{self, NewRequest};
use breakglass_core::cmd::tokens::{self, NewToken};
use breakglass_core::delegation::{self, AccessKind, RecipientStatus};
use breakglass_core::ident::{AccessId, RequestId};
use breakglass_core::model::{PasswordHash, Target};
use breakglass_core::org::Signup;
use breakglass_core::role::Role;
use breakglass_core::time::Span;
use breakglass_core::{Bounds, DomainError};

fn code<T>(r: &Res<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// `owner` shares a delegate access (optionally scoped) with `to`; returns it and the codes.
fn share(w: &mut World, owner: &str, to: &[&str], scope: Option<&str>) -> AccessId {
    let new = NewAccess {
        name: name("on-call cover"),
        kind: AccessKind::Delegate,
        scope: scope.map(slug),
        expires_at: None,
        read_only: false,
        recipients: to.iter().map(|e| (email(e), secret_hash(&format!("code-{e}")))).collect(),
        token_hash: None,
    };
    ok(w.as_user(owner, move |s, c| accesses::create(s, c, new).map(|(ch, a, _)| (ch, a.id)))).value
}

fn accept(w: &mut World, who: &str, id: AccessId) -> Res<()> {
    let code = secret_hash(&format!("code-{who}"));
    w.as_user(who, move |s, c| accesses::accept(s, c, id, code))
}

/// The bounds the server would use for `holder` acting as `owner` right now.
fn act_as(w: &World, holder: &str, owner: &str) -> Result<Bounds, DomainError> {
    let d = delegation::resolve(&w.state, w.id(holder), &email(owner), w.now)?;
    Ok(Bounds { delegate: Some(w.id(holder)), scope: d.scope, read_only: false })
}

/// Runs a command as `holder` acting as `owner` (the delegation must resolve).
fn delegated<O: Outcome>(
    w: &mut World,
    holder: &str,
    owner: &str,
    cmd: impl FnOnce(&breakglass_core::State, &breakglass_core::Ctx) -> Result<O, DomainError>,
) -> Res<O::Value> {
    let bounds = act_as(w, holder, owner)?;
    w.bounded(owner, bounds, cmd)
}

fn add_member(
    target: Target,
    who: &str,
) -> impl FnOnce(&breakglass_core::State, &breakglass_core::Ctx) -> Result<breakglass_core::Changes, DomainError>
{
    let cmd = breakglass_core::cmd::members::SetMember {
        target,
        email: email(who),
        role: wrole("member"),
        expires_at: None,
        justification: None,
    };
    move |s, c| breakglass_core::cmd::members::set_member(s, c, cmd)
}

fn request(w: &mut World, who: &str, target: &Target, role: Role) -> Res<RequestId> {
    let new = NewRequest {
        target: target.clone(),
        role,
        duration: Span::hours(1),
        justification: Some("INC-1".into()),
        emergency: false,
    };
    w.as_user(who, move |s, c| requests::create_request(s, c, new))
}

fn new_request(target: &Target, role: Role) -> NewRequest {
    NewRequest {
        target: target.clone(),
        role,
        duration: Span::hours(1),
        justification: Some("INC-1".into()),
        emergency: false,
    }
}

fn two_managers_policy(w: &mut World) {
    let input = PolicyInput {
        name: name("four eyes"),
        workspace: Some(slug("team-a")),
        steps: vec![Step { approvers: ApproverSet::WorkspaceManagers, count: 2 }],
        max_duration: None,
        justification_required: false,
        pending_ttl: Span::days(1),
    };
    let p = ok(w.as_user("olivia@corp.io", move |s, c| policies::create_policy(s, c, input))).value;
    let cmd = SetEntitlement {
        target: proj("team-a", "web"),
        role: prole("admin"),
        request_policy: Some(p),
        emergency_enabled: false,
        emergency_policy: None,
    };
    ok(w.as_user("olivia@corp.io", move |s, c| Ok((policies::set_entitlement(s, c, cmd)?, ()))));
}

#[test]
fn an_accepted_delegate_acts_with_the_owners_rights_and_the_audit_names_both() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["otto@corp.io"], None);
    // Pending: shared but not accepted, so not yet usable.
    assert_eq!(act_as(&w, "otto@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.not_granted");
    ok(accept(&mut w, "otto@corp.io", id));
    let done =
        ok(delegated(&mut w, "otto@corp.io", "mia@corp.io", add_member(ws("team-a"), "alice@corp.io")));
    assert!(w.check("alice@corp.io", &ws("team-a"), wrole("member")).allowed);
    let ev = &done.events[0];
    assert_eq!(ev.actor, "otto@corp.io", "the person who acted");
    assert_eq!(ev.on_behalf_of.as_deref(), Some("mia@corp.io"), "whose rights they used");
    // Acting as themselves, otto still has no rights in team-a.
    assert_eq!(
        code(&w.as_user("otto@corp.io", add_member(ws("team-a"), "oscar@corp.io"))),
        "workspace.not_found"
    );
}

#[test]
fn a_delegation_never_exceeds_the_owners_current_rights() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["otto@corp.io"], None);
    ok(accept(&mut w, "otto@corp.io", id));
    // Mia (a manager) may not assign owners; neither may her delegate.
    let cmd = breakglass_core::cmd::members::SetMember {
        target: ws("team-a"),
        email: email("otto@corp.io"),
        role: wrole("owner"),
        expires_at: None,
        justification: None,
    };
    let r = delegated(&mut w, "otto@corp.io", "mia@corp.io", move |s, c| {
        breakglass_core::cmd::members::set_member(s, c, cmd)
    });
    assert_eq!(code(&r), "authz.forbidden");
    // The moment mia loses her role, her delegate loses it too.
    ok(w.remove("olivia@corp.io", &ws("team-a"), "mia@corp.io"));
    let r = delegated(&mut w, "otto@corp.io", "mia@corp.io", add_member(ws("team-a"), "alice@corp.io"));
    assert_eq!(code(&r), "workspace.not_found");
}

#[test]
fn a_scoped_delegation_reaches_only_its_workspace_and_no_admin_area_power() {
    let mut w = World::team();
    // The admin area reaches every workspace; a scoped delegation carries workspace roles only.
    let id = share(&mut w, "admin@corp.io", &["otto@corp.io"], Some("team-b"));
    ok(accept(&mut w, "otto@corp.io", id));
    let r = delegated(&mut w, "otto@corp.io", "admin@corp.io", add_member(ws("team-b"), "alice@corp.io"));
    assert_eq!(code(&r), "workspace.not_found", "the admin holds no role in team-b");
    let owner_scoped = share(&mut w, "bella@corp.io", &["otto@corp.io"], Some("team-b"));
    ok(accept(&mut w, "otto@corp.io", owner_scoped));
    ok(delegated(&mut w, "otto@corp.io", "bella@corp.io", add_member(ws("team-b"), "alice@corp.io")));
    let r = delegated(&mut w, "otto@corp.io", "admin@corp.io", add_member(ws("team-a"), "alice@corp.io"));
    assert_eq!(code(&r), "workspace.not_found", "outside the scope it is as if it did not exist");
    // Installation-wide powers are outside every workspace scope.
    let open = breakglass_core::org::Settings { signup: Signup::Open, ..w.state.settings().clone() };
    let r =
        delegated(&mut w, "otto@corp.io", "admin@corp.io", move |s, c| admin::update_settings(s, c, open));
    assert_eq!(code(&r), "authz.forbidden");
    let ctx = w.read_ctx("admin@corp.io", act_as(&w, "otto@corp.io", "admin@corp.io").unwrap());
    assert!(!breakglass_core::authz::can_read_audit(&w.state, &ctx));
    assert!(!breakglass_core::authz::can_list_users(&w.state, &ctx));
    // A global delegation from the same owner widens it.
    let id2 = share(&mut w, "admin@corp.io", &["otto@corp.io"], None);
    ok(accept(&mut w, "otto@corp.io", id2));
    ok(delegated(&mut w, "otto@corp.io", "admin@corp.io", add_member(ws("team-a"), "alice@corp.io")));
}

#[test]
fn a_delegate_cannot_approve_the_owners_request_nor_their_own() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["mike@corp.io"], None);
    ok(accept(&mut w, "mike@corp.io", id));
    let web = proj("team-a", "web");
    // Mia's own request: her delegate (a manager himself) may not approve it as her...
    let mias = ok(request(&mut w, "mia@corp.io", &web, prole("admin"))).value;
    let r =
        delegated(&mut w, "mike@corp.io", "mia@corp.io", move |s, c| requests::approve(s, c, mias, false));
    assert_eq!(code(&r), "request.self_approval");
    // ...nor may mike approve his own request by acting as mia.
    let mikes = ok(request(&mut w, "mike@corp.io", &web, prole("admin"))).value;
    let r =
        delegated(&mut w, "mike@corp.io", "mia@corp.io", move |s, c| requests::approve(s, c, mikes, false));
    assert_eq!(code(&r), "request.self_approval");
    // A request mike opened as mia is his too: he cannot approve it as himself.
    w.advance(Span::minutes(1));
    let new = new_request(&proj("team-a", "api"), prole("admin"));
    let opened =
        ok(delegated(&mut w, "mike@corp.io", "mia@corp.io", move |s, c| requests::create_request(s, c, new)))
            .value;
    assert_eq!(w.state.request(opened).unwrap().requested_via, Some(w.id("mike@corp.io")));
    assert_eq!(
        code(&w.as_user("mike@corp.io", move |s, c| requests::approve(s, c, opened, false))),
        "request.self_approval"
    );
    // Someone else approves it normally.
    ok(w.as_user("olivia@corp.io", move |s, c| requests::approve(s, c, opened, false)));
    assert!(w.check("mia@corp.io", &proj("team-a", "api"), prole("admin")).allowed);
}

#[test]
fn one_person_counts_once_whether_as_themselves_or_as_a_delegate() {
    let mut w = World::team();
    two_managers_policy(&mut w);
    let id = share(&mut w, "mia@corp.io", &["mike@corp.io"], None);
    ok(accept(&mut w, "mike@corp.io", id));
    let req = ok(request(&mut w, "max@corp.io", &proj("team-a", "web"), prole("admin"))).value;
    ok(w.as_user("mike@corp.io", move |s, c| requests::approve(s, c, req, false)));
    // Mike now tries to give the second approval as mia: same person, refused.
    let r = delegated(&mut w, "mike@corp.io", "mia@corp.io", move |s, c| requests::approve(s, c, req, false));
    assert_eq!(code(&r), "request.already_approved");
    assert!(!w.check("max@corp.io", &proj("team-a", "web"), prole("admin")).allowed);
    // And the other way round: an approval given as mia blocks mike himself and mia herself.
    let req2 = ok(request(&mut w, "mo@corp.io", &proj("team-a", "web"), prole("admin"))).value;
    let done = ok(delegated(&mut w, "mike@corp.io", "mia@corp.io", move |s, c| {
        requests::approve(s, c, req2, false)
    }));
    assert_eq!(done.events[0].actor, "mike@corp.io");
    assert_eq!(w.state.request(req2).unwrap().approvals[0].via, Some(w.id("mike@corp.io")));
    assert_eq!(
        code(&w.as_user("mike@corp.io", move |s, c| requests::approve(s, c, req2, false))),
        "request.already_approved"
    );
    assert_eq!(
        code(&w.as_user("mia@corp.io", move |s, c| requests::approve(s, c, req2, false))),
        "request.already_approved"
    );
    ok(w.as_user("olivia@corp.io", move |s, c| requests::approve(s, c, req2, false)));
    assert!(w.check("mo@corp.io", &proj("team-a", "web"), prole("admin")).allowed);
}

#[test]
fn a_delegate_cannot_touch_the_owners_tokens_or_accesses() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["otto@corp.io"], None);
    ok(accept(&mut w, "otto@corp.io", id));
    let t = ok(w.as_user("mia@corp.io", |s, c| {
        tokens::create_token(s, c, NewToken::new(name("ci"), secret_hash("t1"), None))
    }))
    .value;
    let attempts: Vec<(&str, Res<()>)> = vec![
        (
            "create token",
            delegated(&mut w, "otto@corp.io", "mia@corp.io", |s, c| {
                tokens::create_token(s, c, NewToken::new(name("mine"), secret_hash("t2"), None))
                    .map(|(ch, _)| (ch, ()))
            }),
        ),
        (
            "revoke token",
            delegated(&mut w, "otto@corp.io", "mia@corp.io", move |s, c| tokens::revoke_token(s, c, t.id)),
        ),
        ("create access", {
            let new = NewAccess {
                name: name("x"),
                kind: AccessKind::Delegate,
                scope: None,
                expires_at: None,
                read_only: false,
                recipients: vec![(email("alice@corp.io"), secret_hash("c"))],
                token_hash: None,
            };
            delegated(&mut w, "otto@corp.io", "mia@corp.io", move |s, c| {
                accesses::create(s, c, new).map(|(ch, _, _)| (ch, ()))
            })
        }),
        (
            "share",
            delegated(&mut w, "otto@corp.io", "mia@corp.io", move |s, c| {
                accesses::add_recipient(s, c, id, email("alice@corp.io"), secret_hash("c"))
            }),
        ),
        (
            "unshare",
            delegated(&mut w, "otto@corp.io", "mia@corp.io", move |s, c| {
                accesses::remove_recipient(s, c, id, &email("otto@corp.io"))
            }),
        ),
        (
            "revoke access",
            delegated(&mut w, "otto@corp.io", "mia@corp.io", move |s, c| accesses::revoke(s, c, id)),
        ),
    ];
    for (what, r) in attempts {
        assert_eq!(code(&r), "delegation.not_allowed", "{what}");
    }
    assert!(w.state.token(t.id).is_some());
    assert!(w.state.access(id).unwrap().is_live(w.now));
}

#[test]
fn no_chains_a_delegate_of_a_delegate_is_nobody() {
    let mut w = World::team();
    let ab = share(&mut w, "mia@corp.io", &["otto@corp.io"], None);
    ok(accept(&mut w, "otto@corp.io", ab));
    let bc = share(&mut w, "otto@corp.io", &["oscar@corp.io"], None);
    ok(accept(&mut w, "oscar@corp.io", bc));
    assert_eq!(act_as(&w, "oscar@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.not_granted");
    // Acting as otto gives otto's own rights, never what otto may do as mia.
    let r = delegated(&mut w, "oscar@corp.io", "otto@corp.io", add_member(ws("team-a"), "alice@corp.io"));
    assert_eq!(code(&r), "workspace.not_found");
    assert_eq!(act_as(&w, "mia@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.self");
}

#[test]
fn revoked_expired_removed_and_declined_accesses_stop_at_once() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["otto@corp.io", "oscar@corp.io", "alice@corp.io"], None);
    for who in ["otto@corp.io", "oscar@corp.io", "alice@corp.io"] {
        ok(accept(&mut w, who, id));
        act_as(&w, who, "mia@corp.io").unwrap();
    }
    ok(w.as_user("mia@corp.io", move |s, c| accesses::remove_recipient(s, c, id, &email("oscar@corp.io"))));
    assert_eq!(act_as(&w, "oscar@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.not_granted");
    ok(w.as_user("alice@corp.io", move |s, c| accesses::decline(s, c, id)));
    assert_eq!(
        w.state.access(id).unwrap().recipient(&email("alice@corp.io")).unwrap().status,
        RecipientStatus::Declined
    );
    assert_eq!(act_as(&w, "alice@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.not_granted");
    ok(w.as_user("mia@corp.io", move |s, c| accesses::revoke(s, c, id)));
    assert_eq!(act_as(&w, "otto@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.not_granted");

    let expiring = NewAccess {
        name: name("one hour"),
        kind: AccessKind::Delegate,
        scope: None,
        expires_at: Some(w.now.plus(Span::hours(1))),
        read_only: false,
        recipients: vec![(email("otto@corp.io"), secret_hash("code-otto@corp.io"))],
        token_hash: None,
    };
    let id2 =
        ok(w.as_user("mia@corp.io", move |s, c| {
            accesses::create(s, c, expiring).map(|(ch, a, _)| (ch, a.id))
        }))
        .value;
    ok(accept(&mut w, "otto@corp.io", id2));
    act_as(&w, "otto@corp.io", "mia@corp.io").unwrap();
    w.advance(Span::hours(1));
    assert_eq!(act_as(&w, "otto@corp.io", "mia@corp.io").unwrap_err().code(), "delegation.not_granted");
    assert_eq!(
        w.state.access(id2).unwrap().status(w.now),
        breakglass_core::delegation::AccessStatus::Expired
    );
}

#[test]
fn accepting_needs_the_code_and_the_address() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["otto@corp.io"], None);
    let wrong = secret_hash("guess");
    assert_eq!(
        code(&w.as_user("otto@corp.io", move |s, c| accesses::accept(s, c, id, wrong))),
        "access.invalid_code"
    );
    // Someone else holding the right code still is not the recipient.
    let right = secret_hash("code-otto@corp.io");
    assert_eq!(
        code(&w.as_user("oscar@corp.io", move |s, c| accesses::accept(s, c, id, right))),
        "access.not_found"
    );
    ok(accept(&mut w, "otto@corp.io", id));
    assert_eq!(code(&accept(&mut w, "otto@corp.io", id)), "access.already_decided");
    // Nobody shares with themselves, nor twice with one address.
    let new = NewAccess {
        name: name("me"),
        kind: AccessKind::Delegate,
        scope: None,
        expires_at: None,
        read_only: false,
        recipients: vec![(email("mia@corp.io"), secret_hash("x"))],
        token_hash: None,
    };
    assert_eq!(
        code(&w.as_user("mia@corp.io", move |s, c| accesses::create(s, c, new).map(|(ch, _, _)| (ch, ())))),
        "access.self"
    );
    let r = w.as_user("mia@corp.io", move |s, c| {
        accesses::add_recipient(s, c, id, email("otto@corp.io"), secret_hash("y"))
    });
    assert_eq!(code(&r), "access.recipient_exists");
}

#[test]
fn an_unregistered_recipient_signs_up_with_the_code_and_accepts() {
    let mut w = World::team();
    assert_eq!(w.state.settings().signup, Signup::InvitedOnly);
    let id = share(&mut w, "mia@corp.io", &["newbie@corp.io"], Some("team-a"));
    let sign_up = |hash| {
        move |s: &breakglass_core::State, c: &breakglass_core::Ctx| {
            invitations::sign_up(
                s,
                c,
                email("newbie@corp.io"),
                name("Newbie"),
                PasswordHash("$argon2id$x".into()),
                Some(hash),
            )
        }
    };
    assert_eq!(code(&w.system(sign_up(secret_hash("guess")))), "auth.signup_closed");
    ok(w.system(sign_up(secret_hash("code-newbie@corp.io"))));
    ok(accept(&mut w, "newbie@corp.io", id));
    ok(delegated(&mut w, "newbie@corp.io", "mia@corp.io", add_member(ws("team-a"), "alice@corp.io")));
}

#[test]
fn scoped_and_read_only_tokens_cannot_mint_broader_ones() {
    let mut w = World::team();
    // A scope must be a workspace the owner can see.
    let hidden =
        NewToken { scope: Some(slug("team-b")), ..NewToken::new(name("b"), secret_hash("tb"), None) };
    assert_eq!(
        code(&w.as_user("mia@corp.io", move |s, c| tokens::create_token(s, c, hidden))),
        "workspace.not_found"
    );
    let scoped = Bounds { scope: Some(vec![slug("team-a")]), ..Bounds::default() };
    let r = w.bounded("mia@corp.io", scoped.clone(), |s, c| {
        tokens::create_token(s, c, NewToken::new(name("global"), secret_hash("tg"), None))
            .map(|(ch, _)| (ch, ()))
    });
    assert_eq!(code(&r), "token.insufficient_scope");
    // Within its scope the token carries the owner's rights; outside, nothing.
    ok(w.bounded("mia@corp.io", scoped.clone(), add_member(ws("team-a"), "alice@corp.io")));
    // An admin's scoped token carries no admin-area power.
    let r = w.bounded(
        "admin@corp.io",
        Bounds { scope: Some(vec![slug("team-a")]), ..Bounds::default() },
        add_member(ws("team-b"), "alice@corp.io"),
    );
    assert_eq!(code(&r), "workspace.not_found");
    let api = NewAccess {
        name: name("deploy bot"),
        kind: AccessKind::ApiToken,
        scope: Some(slug("team-a")),
        expires_at: None,
        read_only: true,
        recipients: vec![],
        token_hash: Some(secret_hash("bot")),
    };
    let (access, token) =
        ok(w.as_user("mia@corp.io", move |s, c| accesses::create(s, c, api).map(|(ch, a, t)| (ch, (a, t)))))
            .value;
    let token = token.unwrap();
    assert_eq!(
        (token.scope.as_ref().map(|s| s.as_str()), token.read_only, token.access),
        (Some("team-a"), true, Some(access.id))
    );
    // Revoking the access revokes its token in the same change.
    ok(w.as_user("mia@corp.io", move |s, c| accesses::revoke(s, c, access.id)));
    assert!(w.state.token(token.id).is_none());
}

#[test]
fn an_auditor_stays_read_only_under_a_scope() {
    let mut w = World::team();
    // Even holding a manager role, an auditor manages nothing; a scope must not change that.
    ok(w.set("olivia@corp.io", &ws("team-a"), "aud@corp.io", wrole("manager"), None));
    assert_eq!(code(&w.as_user("aud@corp.io", add_member(ws("team-a"), "alice@corp.io"))), "authz.forbidden");
    let scoped = Bounds { scope: Some(vec![slug("team-a")]), ..Bounds::default() };
    let r = w.bounded("aud@corp.io", scoped.clone(), add_member(ws("team-a"), "alice@corp.io"));
    assert_eq!(code(&r), "authz.forbidden");
    let ctx = w.read_ctx("aud@corp.io", scoped);
    assert!(breakglass_core::authz::actor_access(&w.state, &ctx, &slug("team-a")).unwrap().read_history);
    assert!(!breakglass_core::authz::actor_access(&w.state, &ctx, &slug("team-b")).unwrap().see);
    assert!(!breakglass_core::authz::can_read_audit(&w.state, &ctx), "the whole log is outside any scope");
}

#[test]
fn who_sees_an_access_in_full_and_whose_accesses_each_caller_lists() {
    let mut w = World::team();
    let id = share(&mut w, "mia@corp.io", &["otto@corp.io"], None);
    let scoped = Bounds { scope: Some(vec![slug("team-a")]), ..Bounds::default() };
    // (caller, bounds, sees mia's access in full)
    let full: &[(&str, Bounds, Result<bool, &str>)] = &[
        ("mia@corp.io", Bounds::default(), Ok(true)),
        ("otto@corp.io", Bounds::default(), Ok(false)),
        ("admin@corp.io", Bounds::default(), Ok(true)),
        ("emp@corp.io", Bounds::default(), Ok(true)),
        ("aud@corp.io", Bounds::default(), Ok(true)),
        // A credential confined to a workspace carries no admin-area power.
        ("aud@corp.io", scoped.clone(), Ok(false)),
    ];
    for (who, bounds, expected) in full {
        let ctx = w.read_ctx(who, bounds.clone());
        let a = w.state.access(id).unwrap();
        let got = accesses::seen_in_full(&w.state, &ctx, a).map_err(|e| e.code());
        assert_eq!(&got, expected, "{who} under {bounds:?}");
    }
    // (caller, bounds, whose accesses they ask for, whose they get or the refusal)
    let mia = Some(email("mia@corp.io"));
    let nobody = Some(email("nobody@corp.io"));
    let otto_as_mia = Bounds { delegate: Some(w.id("otto@corp.io")), ..Bounds::default() };
    let listed: &[(&str, Bounds, &Option<_>, Result<&str, &str>)] = &[
        ("mia@corp.io", Bounds::default(), &None, Ok("mia@corp.io")),
        ("mia@corp.io", Bounds::default(), &mia, Ok("mia@corp.io")),
        ("otto@corp.io", Bounds::default(), &None, Ok("otto@corp.io")),
        ("otto@corp.io", Bounds::default(), &mia, Err("authz.forbidden")),
        ("aud@corp.io", Bounds::default(), &mia, Ok("mia@corp.io")),
        ("aud@corp.io", scoped, &mia, Err("authz.forbidden")),
        ("admin@corp.io", Bounds::default(), &nobody, Err("user.not_found")),
        ("mia@corp.io", otto_as_mia, &None, Err("delegation.not_allowed")),
    ];
    for (who, bounds, asked, expected) in listed {
        let ctx = w.read_ctx(who, bounds.clone());
        let got = accesses::listed_owner(&w.state, &ctx, asked.as_ref())
            .map(|u| u.email.as_str())
            .map_err(|e| e.code());
        assert_eq!(&got, expected, "{who} under {bounds:?} asking for {asked:?}");
    }
}
