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

/// Mints API tokens for max as needed by the token-limit tests.
fn mint(w: &mut World, n: usize) -> Res<breakglass_core::ident::TokenId> {
    use breakglass_core::cmd::tokens;
    use breakglass_core::model::SecretHash;
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
}

/// Sets installation settings as the admin.
fn settings(w: &mut World, change: impl Fn(&mut breakglass_core::org::Settings)) -> Res<()> {
    let mut new = w.state.settings().clone();
    change(&mut new);
    w.as_user("admin@corp.io", move |s, c| Ok((admin::update_settings(s, c, new.clone())?, ())))
}

#[test]
fn a_user_holds_a_bounded_number_of_api_tokens() {
    use breakglass_core::cmd::tokens;
    let mut w = World::team();
    let limit = w.state.settings().max_api_tokens_per_user as usize;
    assert_eq!(limit, 100, "the default");
    let mut last = None;
    for n in 0..limit {
        last = Some(ok(mint(&mut w, n)).value);
    }
    assert_eq!(code(&mint(&mut w, limit)), "token.limit_reached");
    let id = last.expect("tokens were minted");
    ok(w.as_user("max@corp.io", move |s, c| Ok((tokens::revoke_token(s, c, id)?, ()))));
    ok(mint(&mut w, limit + 1));
}

#[test]
fn the_token_and_session_limits_are_settings() {
    use breakglass_core::cmd::tokens;
    let mut w = World::team();
    ok(settings(&mut w, |s| {
        s.max_api_tokens_per_user = 2;
        s.max_sessions_per_user = 1;
    }));
    ok(mint(&mut w, 1));
    ok(mint(&mut w, 2));
    let Err(refused) = mint(&mut w, 3) else { panic!("a third token was minted") };
    assert_eq!(refused.code(), "token.limit_reached");
    assert!(refused.to_string().contains("2 live API tokens"), "{refused}");
    let until = w.now.plus(Span::hours(12));
    let sign_in = |w: &mut World, n: u8| {
        w.as_user("max@corp.io", move |s, c| {
            tokens::sign_in(s, c, breakglass_core::model::SecretHash([n; 32]), until)
                .map(|(ch, t)| (ch, t.id))
        })
    };
    ok(sign_in(&mut w, 1));
    assert_eq!(code(&sign_in(&mut w, 2)), "session.limit_reached");
    // Another user's sessions are theirs.
    ok(w.as_user("mo@corp.io", move |s, c| {
        tokens::sign_in(s, c, breakglass_core::model::SecretHash([3; 32]), until).map(|(ch, t)| (ch, t.id))
    }));
    assert_eq!(code(&settings(&mut w, |s| s.max_sessions_per_user = 0)), "settings.invalid");
}

#[test]
fn no_expiry_lies_further_than_the_installation_allows() {
    let mut w = World::team();
    let a = ws("team-a");
    let far = at("9999-12-31T00:00:00Z");
    let max = w.state.settings().max_expiry;
    assert_eq!(max, Span::days(366), "the default");
    let limit = w.now.plus(max);
    // Memberships and grants.
    assert_eq!(
        code(&w.set("olivia@corp.io", &a, "otto@corp.io", wrole("member"), Some(far))),
        "input.expiry_too_far"
    );
    assert_eq!(
        code(&w.grant("olivia@corp.io", &a, "otto@corp.io", wrole("member"), limit.plus(Span::seconds(1)))),
        "input.expiry_too_far"
    );
    ok(w.grant("olivia@corp.io", &a, "otto@corp.io", wrole("member"), limit));
    // Standing access stays a deliberate choice.
    ok(w.set("olivia@corp.io", &a, "oscar@corp.io", wrole("member"), None));
    // Invitations' memberships.
    assert_eq!(
        code(&w.as_user("olivia@corp.io", move |s, c| {
            invitations::invite(
                s,
                c,
                &slug("team-a"),
                email("new@corp.io"),
                WorkspaceRole::Member,
                Some(far),
                secret_hash("bgi_x"),
            )
        })),
        "input.expiry_too_far"
    );
    // Tokens.
    let token = breakglass_core::cmd::tokens::NewToken::new(name("ci"), secret_hash("bgt_x"), Some(far));
    assert_eq!(
        code(&w.as_user("max@corp.io", move |s, c| {
            breakglass_core::cmd::tokens::create_token(s, c, token.clone()).map(|(ch, t)| (ch, t.id))
        })),
        "input.expiry_too_far"
    );
    // Request durations, even under a policy without a maximum.
    let open_ended = policy(&mut w, "olivia@corp.io", vec![], None);
    entitle(&mut w, &a, wrole("manager"), Some(open_ended), None);
    let mut r = request(&mut w, "max@corp.io", &a, wrole("manager"), false);
    assert_eq!(code(&r), "ok", "an hour is fine");
    let new = NewRequest {
        target: a.clone(),
        role: wrole("manager"),
        duration: Span::days(3650),
        justification: Some(WHY.into()),
        emergency: false,
    };
    r = w.as_user("mo@corp.io", move |s, c| requests::create_request(s, c, new.clone()));
    assert_eq!(code(&r), "input.expiry_too_far");
    // The limit is a setting.
    ok(settings(&mut w, |s| s.max_expiry = Span::days(3660)));
    ok(w.set("olivia@corp.io", &a, "otto@corp.io", wrole("member"), Some(w.now.plus(Span::days(3000)))));
    assert_eq!(code(&settings(&mut w, |s| s.max_expiry = Span::days(5000))), "settings.invalid");
}

#[test]
fn addresses_are_normalised_so_one_mailbox_is_one_account() {
    use breakglass_core::ident::Email;
    let parse = |s: &str| Email::parse(s).unwrap().as_str().to_owned();
    // Fullwidth letters and case are folded (NFKC, lowercase).
    assert_eq!(parse("ＡＬＩＣＥ@Corp.IO"), "alice@corp.io");
    // The two spellings of í (precomposed U+00ED; i with U+0301) are one address.
    assert_eq!(parse("mar\u{ed}a@corp.io"), parse("mari\u{301}a@corp.io"));
    // Dotted capital I lowercases into a composed form again.
    assert_eq!(parse("\u{130}nci@corp.io"), parse("i\u{307}nci@corp.io"));
    let mut w = World::team();
    let new = |e: &str| breakglass_core::cmd::users::NewUser {
        email: Email::parse(e).unwrap(),
        name: name("twin"),
        admin_role: breakglass_core::role::AdminRole::None,
        password_hash: None,
    };
    let create = |w: &mut World, e: &str| {
        let n = new(e);
        w.as_user("admin@corp.io", move |s, c| breakglass_core::cmd::users::create_user(s, c, n.clone()))
    };
    assert_eq!(code(&create(&mut w, "ＡＬＩＣＥ@corp.io")), "user.exists", "fullwidth is alice herself");
    ok(create(&mut w, "mar\u{ed}a@corp.io"));
    assert_eq!(code(&create(&mut w, "mari\u{301}a@corp.io")), "user.exists");
}

#[test]
fn an_address_that_imitates_another_is_refused() {
    use breakglass_core::ident::Email;
    let mut w = World::team();
    let create = |w: &mut World, e: &str| {
        let n = breakglass_core::cmd::users::NewUser {
            email: Email::parse(e).unwrap(),
            name: name("twin"),
            admin_role: breakglass_core::role::AdminRole::None,
            password_hash: None,
        };
        w.as_user("admin@corp.io", move |s, c| breakglass_core::cmd::users::create_user(s, c, n.clone()))
    };
    // Cyrillic а (U+0430) in place of Latin a; Greek ο (U+03BF) in place of o.
    let cyrillic = "\u{430}lice@corp.io";
    assert_eq!(code(&create(&mut w, cyrillic)), "user.email_confusable");
    assert_eq!(code(&create(&mut w, "\u{3bf}tto@corp.io")), "user.email_confusable");
    // In the other order too: a spoofed address first, then the plain one.
    ok(create(&mut w, "p\u{430}ul@corp.io"));
    assert_eq!(code(&create(&mut w, "paul@corp.io")), "user.email_confusable");
    // Two non-ASCII twins of each other.
    assert_eq!(
        code(&create(&mut w, "p\u{430}\u{443}l@corp.io")),
        "ok",
        "у (U+0443) is not u: a different name"
    );
    assert_eq!(code(&create(&mut w, "\u{440}\u{430}ul@corp.io")), "user.email_confusable", "р imitates p");
    // Plain ASCII addresses that merely resemble each other are different mailboxes.
    ok(create(&mut w, "rnax@corp.io"));
    ok(create(&mut w, "0tto@corp.io"));
    // Invitations and shared accesses refuse the twin before anyone signs up with it.
    let refused = w.as_user("olivia@corp.io", move |s, c| {
        invitations::invite(
            s,
            c,
            &slug("team-a"),
            Email::parse(cyrillic).unwrap(),
            WorkspaceRole::Member,
            None,
            secret_hash("bgi_x"),
        )
    });
    assert_eq!(code(&refused), "user.email_confusable");
    // Sign-up with it too (sign-up is open here, so only the look-alike rule stands in the way).
    ok(settings(&mut w, |s| s.signup = breakglass_core::org::Signup::Open));
    let signup = w.system(move |s, c| {
        invitations::sign_up(
            s,
            c,
            Email::parse(cyrillic).unwrap(),
            name("Mallory"),
            breakglass_core::model::PasswordHash("x".into()),
            None,
        )
    });
    assert_eq!(code(&signup), "user.email_confusable");
}

#[test]
fn a_token_confined_to_one_workspace_neither_reads_nor_acknowledges_another_workspaces_messages() {
    use breakglass_core::cmd::messages;
    use breakglass_core::org::MessageMode;
    use breakglass_core::Bounds;
    let mut w = World::team();
    // ben belongs to both workspaces.
    ok(w.set("olivia@corp.io", &ws("team-a"), "ben@corp.io", wrole("member"), None));
    let send = |w: &mut World, id: &str, text: &str| {
        let (id, text) = (slug(id), text.to_owned());
        ok(w.as_user("admin@corp.io", move |s, c| {
            messages::send(s, c, &id, text.clone(), MessageMode::SingleRead)
        }))
        .value
    };
    let to_a = send(&mut w, "team-a", "rotate the keys of team-a");
    let to_b = send(&mut w, "team-b", "rotate the keys of team-b");
    let confined = Bounds { scope: Some(vec![slug("team-b")]), ..Bounds::default() };
    let ctx = w.read_ctx("ben@corp.io", confined.clone());
    let seen: Vec<_> = messages::unread(&w.state, &ctx).into_iter().map(|m| m.id).collect();
    assert_eq!(seen, vec![to_b], "only team-b's message reaches a token confined to team-b");
    let ack = w.bounded("ben@corp.io", confined.clone(), move |s, c| messages::acknowledge(s, c, to_a));
    assert_eq!(code(&ack), "message.not_found");
    ok(w.bounded("ben@corp.io", confined, move |s, c| messages::acknowledge(s, c, to_b)));
    // Unconfined, ben still has team-a's message to read.
    let ctx = w.read_ctx("ben@corp.io", Bounds::default());
    let seen: Vec<_> = messages::unread(&w.state, &ctx).into_iter().map(|m| m.id).collect();
    assert_eq!(seen, vec![to_a]);
}
