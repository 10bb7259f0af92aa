//! Regression scenarios for holes found in review: each reproduces an attack and shows it fails.

mod common;

use common::*;

use breakglass_core::access::{ApproverSet, Step};
use breakglass_core::cmd::admin::{self, Registering};
use breakglass_core::cmd::invitations;
use breakglass_core::cmd::members;
use breakglass_core::cmd::policies::{self, PolicyInput, SetEntitlement};
use breakglass_core::cmd::requests::{self, NewRequest};
use breakglass_core::ident::{PolicyId, RequestId};
use breakglass_core::model::BindingSource;
use breakglass_core::role::{Role, WorkspaceRole};
use breakglass_core::time::Span;

const WHY: &str = "INC-9: checking";

fn code<T>(r: &Res<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn request(
    w: &mut World,
    who: &str,
    target: &breakglass_core::model::Target,
    role: Role,
    emergency: bool,
) -> Res<RequestId> {
    let new = NewRequest {
        target: target.clone(),
        role,
        duration: Span::hours(1),
        justification: Some(WHY.into()),
        emergency,
    };
    w.as_user(who, move |s, c| requests::create_request(s, c, new))
}

fn approve(w: &mut World, who: &str, id: RequestId) -> Res<()> {
    w.as_user(who, move |s, c| requests::approve(s, c, id, false))
}

fn policy(w: &mut World, by: &str, steps: Vec<Step>, max: Option<Span>) -> PolicyId {
    let input = PolicyInput {
        name: name("p"),
        workspace: Some(slug("team-a")),
        steps,
        max_duration: max,
        justification_required: true,
        pending_ttl: Span::days(1),
    };
    ok(w.as_user(by, move |s, c| policies::create_policy(s, c, input))).value
}

fn entitle(
    w: &mut World,
    target: &breakglass_core::model::Target,
    role: Role,
    normal: Option<PolicyId>,
    emergency: Option<PolicyId>,
) {
    let cmd = SetEntitlement {
        target: target.clone(),
        role,
        request_policy: normal,
        emergency_enabled: emergency.is_some(),
        emergency_policy: emergency,
    };
    ok(w.as_user("olivia@corp.io", move |s, c| Ok((policies::set_entitlement(s, c, cmd)?, ()))));
}

#[test]
fn managers_cannot_approve_their_way_to_manager_or_owner() {
    let mut w = World::team();
    let a = ws("team-a");
    // Under the default policy a manager approves member-level access, but not the roles only
    // owners may assign.
    let id = ok(request(&mut w, "max@corp.io", &a, wrole("owner"), false)).value;
    assert_eq!(code(&approve(&mut w, "mike@corp.io", id)), "request.not_an_approver");
    let id2 = ok(request(&mut w, "mia@corp.io", &a, wrole("owner"), false)).value;
    assert_eq!(code(&approve(&mut w, "mike@corp.io", id2)), "request.not_an_approver");
    assert!(!w.check("mia@corp.io", &a, wrole("owner")).allowed);
    ok(approve(&mut w, "olivia@corp.io", id2));
    assert!(w.check("mia@corp.io", &a, wrole("owner")).allowed, "the owner may grant it");
}

#[test]
fn temporary_access_never_becomes_a_standing_self_assignment() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let four_eyes = policy(
        &mut w,
        "olivia@corp.io",
        vec![Step { approvers: ApproverSet::WorkspaceManagers, count: 2 }],
        None,
    );
    let immediate = policy(&mut w, "olivia@corp.io", Vec::new(), Some(Span::hours(1)));
    entitle(&mut w, &web, prole("admin"), Some(four_eyes), Some(immediate));
    ok(request(&mut w, "mia@corp.io", &web, prole("admin"), true));
    assert!(w.check("mia@corp.io", &web, prole("admin")).allowed, "emergency access for an hour");
    let standing = w.set("mia@corp.io", &web, "mia@corp.io", prole("admin"), None);
    assert_eq!(code(&standing), "request.self_assignment");
    w.advance(Span::hours(1));
    assert!(!w.check("mia@corp.io", &web, prole("admin")).allowed, "nothing standing was created");
}

#[test]
fn the_admin_area_joins_a_workspace_only_through_add_myself() {
    let mut w = World::team();
    let b = ws("team-b");
    assert_eq!(code(&w.set("emp@corp.io", &b, "emp@corp.io", wrole("owner"), None)), "member.use_add_myself");
    let until = w.now.plus(Span::hours(1));
    assert_eq!(
        code(&w.grant("emp@corp.io", &b, "emp@corp.io", wrole("owner"), until)),
        "member.use_add_myself"
    );
    let invite_self = w.as_user("emp@corp.io", |s, c| {
        let digest = secret_hash("bgi_self");
        invitations::invite(s, c, &slug("team-b"), email("emp@corp.io"), WorkspaceRole::Owner, None, digest)
    });
    assert_eq!(code(&invite_self), "invitation.self");
    ok(w.as_user("emp@corp.io", |s, c| Ok((admin::add_myself(s, c, &slug("team-b"), None)?, ()))));
    assert!(w.check("emp@corp.io", &b, wrole("manager")).allowed);
    assert!(!w.check("emp@corp.io", &b, wrole("owner")).allowed);
}

#[test]
fn invitations_carry_no_more_than_the_inviter_could_grant() {
    let mut w = World::team();
    let a = ws("team-a");
    let two_owners = policy(
        &mut w,
        "olivia@corp.io",
        vec![Step { approvers: ApproverSet::WorkspaceOwners, count: 2 }],
        None,
    );
    entitle(&mut w, &a, wrole("manager"), Some(two_owners), None);
    let r = w.as_user("olivia@corp.io", |s, c| {
        let digest = secret_hash("bgi_oscar");
        invitations::invite(
            s,
            c,
            &slug("team-a"),
            email("oscar@corp.io"),
            WorkspaceRole::Manager,
            None,
            digest,
        )
    });
    assert_eq!(code(&r), "invitation.needs_approval");
    // An invitation whose inviter lost the right to grant it can no longer be accepted.
    let id = ok(w.as_user("mia@corp.io", |s, c| {
        let digest = secret_hash("bgi_alice");
        invitations::invite(
            s,
            c,
            &slug("team-a"),
            email("alice@corp.io"),
            WorkspaceRole::Member,
            None,
            digest,
        )
    }))
    .value;
    ok(w.remove("olivia@corp.io", &a, "mia@corp.io"));
    let accept = w.as_user("alice@corp.io", move |s, c| {
        Ok((invitations::accept(s, c, id, secret_hash("bgi_alice"))?, ()))
    });
    assert_eq!(code(&accept), "invitation.inviter_lost_rights");
}

#[test]
fn auditors_read_but_neither_request_access_nor_register_workspaces() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let immediate = policy(&mut w, "olivia@corp.io", Vec::new(), Some(Span::hours(1)));
    entitle(&mut w, &web, prole("admin"), None, Some(immediate));
    assert_eq!(code(&request(&mut w, "aud@corp.io", &web, prole("admin"), true)), "authz.forbidden");
    let reg = Registering { id: slug("audit-side"), name: name("x"), tags: Default::default() };
    let r = w.as_user("aud@corp.io", move |s, c| Ok((admin::register_workspace(s, c, reg)?, ())));
    assert_eq!(code(&r), "authz.forbidden");
    assert!(!w.check("aud@corp.io", &web, prole("admin")).allowed);
}

#[test]
fn revoking_a_request_granted_owner_role_keeps_a_standing_owner() {
    let mut w = World::team();
    let b = ws("team-b");
    // Ben becomes a standing owner through a request (an admin overrides), bella leaves.
    let id = {
        let new = NewRequest {
            target: b.clone(),
            role: wrole("owner"),
            duration: Span::hours(1),
            justification: Some(WHY.into()),
            emergency: false,
        };
        ok(w.as_user("ben@corp.io", move |s, c| requests::create_request(s, c, new))).value
    };
    ok(w.as_user("admin@corp.io", move |s, c| requests::approve(s, c, id, true)));
    let binding = w.state.request(id).and_then(|r| r.binding).expect("granted");
    assert!(matches!(w.state.binding(binding).map(|b| b.source), Some(BindingSource::Request(_))));
    // Bella is the only standing owner; ben's owner role ends in an hour, so she cannot leave.
    let leave = w.as_user("bella@corp.io", |s, c| Ok((admin::leave_workspace(s, c, &slug("team-b"))?, ())));
    assert_eq!(code(&leave), "workspace.last_owner");
    // Revoking ben's temporary owner role is fine: bella still stands.
    ok(w.revoke("ben@corp.io", binding));
}

#[test]
fn emergency_access_always_ends() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let four_eyes = policy(
        &mut w,
        "olivia@corp.io",
        vec![Step { approvers: ApproverSet::WorkspaceManagers, count: 2 }],
        None,
    );
    let unbounded = policy(&mut w, "olivia@corp.io", Vec::new(), None);
    entitle(&mut w, &web, prole("admin"), Some(four_eyes), Some(unbounded));
    // A manager's assignment without expiry became a request without duration.
    let cmd = members::SetMember {
        target: web.clone(),
        email: email("max@corp.io"),
        role: prole("admin"),
        expires_at: None,
        justification: Some(WHY.into()),
    };
    let assigned = ok(w.as_user("mia@corp.io", move |s, c| Ok((members::set_member(s, c, cmd)?, ()))));
    let id = members::opened_request(&assigned.changes).expect("a request");
    let escalate = w.as_user("max@corp.io", move |s, c| Ok((requests::escalate(s, c, id)?, ())));
    assert_eq!(code(&escalate), "request.duration_required");
    assert!(!w.check("max@corp.io", &web, prole("admin")).allowed);
}

#[test]
fn an_approved_request_does_not_ride_on_someone_elses_grant() {
    let mut w = World::team();
    let web = proj("team-a", "web");
    let until = w.now.plus(Span::hours(2));
    let grant = ok(w.grant("mia@corp.io", &web, "max@corp.io", prole("admin"), until)).value;
    let id = ok(request(&mut w, "max@corp.io", &web, prole("admin"), false)).value;
    ok(approve(&mut w, "mike@corp.io", id));
    let granted = w.state.request(id).and_then(|r| r.binding).expect("granted");
    assert_ne!(granted, grant, "the approval has its own binding");
    ok(w.revoke("mia@corp.io", grant));
    assert!(
        w.check("max@corp.io", &web, prole("admin")).allowed,
        "revoking mia's grant leaves the approved access"
    );
}

#[test]
fn a_user_holds_a_bounded_number_of_api_tokens() {
    use breakglass_core::cmd::tokens::{self, MAX_API_TOKENS};
    use breakglass_core::model::SecretHash;
    let mut w = World::team();
    let mint = |w: &mut World, n: usize| {
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&(n as u64).to_le_bytes());
        w.as_user("max@corp.io", move |s, c| {
            tokens::create_token(
                s,
                c,
                tokens::NewToken {
                    name: name("ci"),
                    secret_hash: SecretHash(digest),
                    expires_at: None,
                    scope: None,
                    read_only: false,
                },
            )
            .map(|(ch, t)| (ch, t.id))
        })
    };
    let mut last = None;
    for n in 0..MAX_API_TOKENS {
        last = Some(ok(mint(&mut w, n)).value);
    }
    assert_eq!(code(&mint(&mut w, MAX_API_TOKENS)), "token.limit_reached");
    let id = last.expect("tokens were minted");
    ok(w.as_user("max@corp.io", move |s, c| Ok((tokens::revoke_token(s, c, id)?, ()))));
    ok(mint(&mut w, MAX_API_TOKENS + 1));
}
