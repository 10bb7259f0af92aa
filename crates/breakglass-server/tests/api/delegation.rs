//! Delegation and scoped API tokens over HTTP. Every safety rule of issue 5 appears as an attempt
//! that must fail (with its status and code, changing nothing), next to the happy paths: share
//! with an unregistered address, sign up with the code, accept, act as, revoke, refused.

use breakglass_client::api::{
    CheckRequest, CreateAccess, CreateRequest, CreateToken, PageQuery, SetMember, Signup,
};
use breakglass_client::Client;
use breakglass_core::time::Span;
use serde_json::json;

use crate::common::*;

const OWEN: &str = "owen@example.com";
const NEWBIE: &str = "newbie@example.com";
const MANAGER: &str = "manny@example.com";
const MEMBER: &str = "mel@example.com";
const CHAIN: &str = "chain@example.com";
const AUDITOR: &str = "audra@example.com";

fn delegate(name: &str, to: &[&str], scope: Option<&str>) -> CreateAccess {
    CreateAccess {
        name: name.into(),
        kind: "delegate".into(),
        scope: scope.map(Into::into),
        recipients: to.iter().map(|e| (*e).to_owned()).collect(),
        ..Default::default()
    }
}

fn member(role: &str) -> SetMember {
    SetMember { role: role.into(), ..Default::default() }
}

fn ask(ws: &str, project: &str, role: &str) -> CreateRequest {
    CreateRequest {
        workspace: ws.into(),
        project: Some(project.into()),
        role: role.into(),
        duration: "1h".into(),
        justification: Some("INC-42".into()),
        emergency: false,
    }
}

/// Owen owns workspace `ops` (project `db`) and `lab`; Manny manages `ops`; Mel is a member.
async fn setup(t: &TestApp) -> (Client, Client, Client) {
    let owen = t.user(OWEN).await;
    let manny = t.user(MANAGER).await;
    let mel = t.user(MEMBER).await;
    t.workspace("ops", &[OWEN]).await;
    t.workspace("lab", &[OWEN]).await;
    t.project("ops", "db").await;
    owen.set_workspace_member("ops", MANAGER, &member("manager")).await.unwrap();
    owen.set_workspace_member("ops", MEMBER, &member("member")).await.unwrap();
    (owen, manny, mel)
}

/// Shares a delegate access from `owner` with `to` and has them accept it; returns its id.
async fn shared_and_accepted(owner: &Client, to: &Client, to_email: &str, scope: Option<&str>) -> String {
    let created = owner.create_access(&delegate("cover", &[to_email], scope)).await.unwrap();
    let code = &created.codes.iter().find(|c| c.email == to_email).unwrap().code;
    to.accept_access(&created.access.id, code).await.unwrap();
    created.access.id
}

#[tokio::test]
async fn share_with_an_unregistered_address_sign_up_accept_act_as_revoke() {
    let t = TestApp::start().await;
    let (owen, _, _) = setup(&t).await;
    let created = owen.create_access(&delegate("holiday cover", &[NEWBIE], None)).await.unwrap();
    assert_eq!(created.access.name.as_deref(), Some("holiday cover"));
    assert_eq!(created.access.recipients[0].status, breakglass_api::RecipientStatus::Pending);
    assert_eq!(created.codes.len(), 1);
    let code = created.codes[0].code.clone();
    assert!(code.starts_with("bga_"));

    // Sign-up is invited-only: the code is the proof the address was meant.
    let signup = |token: Option<&str>| Signup {
        email: NEWBIE.into(),
        name: "Newbie".into(),
        password: password_for(NEWBIE),
        invitation_token: token.map(Into::into),
    };
    expect_problem(t.anonymous().signup(&signup(Some("bga_guess"))).await, 403, "auth.signup_closed");
    let session = t.anonymous().signup(&signup(Some(&code))).await.unwrap();
    let newbie = t.client(&session.token);
    assert_eq!(newbie.me().await.unwrap().pending_accesses, 1, "notified in-app");
    let received = newbie.all_received_accesses().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].owner, OWEN);
    assert_eq!(received[0].name, None, "the name is private to the owner");

    // Before accepting, acting as Owen is refused.
    let as_owen = newbie.acting_as(OWEN).unwrap();
    expect_problem(as_owen.me().await, 403, "delegation.not_granted");
    newbie.accept_access(&created.access.id, &code).await.unwrap();
    assert_eq!(
        owen.get_access(&created.access.id).await.unwrap().recipients[0].status,
        breakglass_api::RecipientStatus::Accepted
    );

    let me = as_owen.me().await.unwrap();
    assert_eq!((me.user.email.as_str(), me.delegate.as_deref()), (OWEN, Some(NEWBIE)));
    as_owen.set_workspace_member("ops", CHAIN, &member("member")).await.expect_err("no such user yet");
    t.user(CHAIN).await;
    as_owen.set_workspace_member("ops", CHAIN, &member("member")).await.unwrap();
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "USER_ASSIGNED");
    assert_eq!((ev.actor.as_str(), ev.on_behalf_of.as_deref()), (NEWBIE, Some(OWEN)), "both people recorded");

    owen.revoke_access(&created.access.id).await.unwrap();
    expect_problem(as_owen.me().await, 403, "delegation.not_granted");
    expect_problem(
        as_owen.set_workspace_member("ops", CHAIN, &member("manager")).await,
        403,
        "delegation.not_granted",
    );
    assert_eq!(t.events_of("ACCESS_REVOKED").await.len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn a_delegate_cannot_approve_for_the_owner_nor_for_themselves() {
    let t = TestApp::start().await;
    let (owen, manny, mel) = setup(&t).await;
    // Owen delegates to Manny, who manages ops himself.
    shared_and_accepted(&owen, &manny, MANAGER, None).await;
    let manny_as_owen = manny.acting_as(OWEN).unwrap();

    let owens = owen.create_request(&ask("ops", "db", "admin")).await.unwrap();
    let mannys = manny.create_request(&ask("ops", "db", "admin")).await.unwrap();
    // A request Manny opens as Owen counts as his too.
    let opened = manny_as_owen.create_request(&ask("ops", "db", "reader")).await.unwrap();
    assert_eq!((opened.user.as_str(), opened.requested_via.as_deref()), (OWEN, Some(MANAGER)));
    let before = t.snapshot().await;
    expect_problem(manny_as_owen.approve_request(&owens.id, false).await, 403, "request.self_approval");
    expect_problem(manny_as_owen.approve_request(&mannys.id, false).await, 403, "request.self_approval");
    expect_problem(manny.approve_request(&opened.id, false).await, 403, "request.self_approval");
    expect_problem(manny_as_owen.approve_request(&opened.id, false).await, 403, "request.self_approval");
    t.assert_unchanged(&before, "refused self-approvals").await;
    // Mel, no approver, gets nothing by trying either.
    expect_problem(mel.approve_request(&owens.id, false).await, 404, "request.not_found");
    // Manny approves Owen's request as himself: allowed, he is a manager and not Owen.
    let approved = manny.approve_request(&owens.id, false).await.unwrap();
    assert_eq!(approved.state, breakglass_api::RequestState::Granted);
    t.stop().await;
}

#[tokio::test]
async fn a_delegate_cannot_manage_the_owners_tokens_or_accesses() {
    let t = TestApp::start().await;
    let (owen, manny, _) = setup(&t).await;
    let id = shared_and_accepted(&owen, &manny, MANAGER, None).await;
    let token = owen.create_token(&CreateToken { name: "ci".into(), ..Default::default() }).await.unwrap();
    let as_owen = manny.acting_as(OWEN).unwrap();
    let before = t.snapshot().await;
    expect_problem(
        as_owen.create_token(&CreateToken { name: "mine".into(), ..Default::default() }).await,
        403,
        "delegation.not_allowed",
    );
    expect_problem(as_owen.list_tokens(&PageQuery::default()).await, 403, "delegation.not_allowed");
    expect_problem(as_owen.revoke_token(&token.token.id).await, 403, "delegation.not_allowed");
    expect_problem(
        as_owen.create_access(&delegate("more", &[CHAIN], None)).await,
        403,
        "delegation.not_allowed",
    );
    expect_problem(as_owen.all_accesses(None).await, 403, "delegation.not_allowed");
    expect_problem(as_owen.add_access_recipient(&id, CHAIN).await, 403, "delegation.not_allowed");
    expect_problem(as_owen.remove_access_recipient(&id, MANAGER).await, 403, "delegation.not_allowed");
    expect_problem(as_owen.revoke_access(&id).await, 403, "delegation.not_allowed");
    t.assert_unchanged(&before, "a delegate's attempts on the owner's credentials").await;
    // Ending his own session while acting as Owen ends his session, not Owen's.
    as_owen.logout().await.unwrap();
    expect_problem(manny.me().await, 401, "auth.invalid_token");
    owen.me().await.unwrap();
    t.stop().await;
}

#[tokio::test]
async fn no_chains_and_no_more_than_the_scope_or_the_owners_current_rights() {
    let t = TestApp::start().await;
    let (owen, manny, mel) = setup(&t).await;
    let chain = t.user(CHAIN).await;
    // Owen -> Manny (scoped to lab), Manny -> Chain.
    shared_and_accepted(&owen, &manny, MANAGER, Some("lab")).await;
    shared_and_accepted(&manny, &chain, CHAIN, None).await;
    expect_problem(chain.acting_as(OWEN).unwrap().me().await, 403, "delegation.not_granted");
    // Acting as Manny is Manny's own rights: he is no owner of lab.
    let chain_as_manny = chain.acting_as(MANAGER).unwrap();
    chain_as_manny.workspace("ops").await.unwrap();
    expect_problem(chain_as_manny.workspace("lab").await, 404, "workspace.not_found");

    // Manny as Owen: lab only; ops (where Owen is owner too) is out of scope.
    let as_owen = manny.acting_as(OWEN).unwrap();
    as_owen.set_workspace_member("lab", MEMBER, &member("member")).await.unwrap();
    expect_problem(
        as_owen.set_workspace_member("ops", MEMBER, &member("manager")).await,
        404,
        "workspace.not_found",
    );
    let listed: Vec<String> =
        as_owen.all_workspaces().await.unwrap().into_iter().map(|w| w.identifier).collect();
    assert_eq!(listed, vec!["lab".to_owned()]);
    let check = |ws: &str| CheckRequest {
        user: MEMBER.into(),
        workspace: ws.into(),
        project: None,
        role: "member".into(),
        min_seq: None,
    };
    expect_problem(as_owen.check(&check("ops")).await, 404, "workspace.not_found");

    // Owen loses ownership of lab: his delegate loses it with him, at once.
    let admin = t.admin();
    admin.set_workspace_member("lab", MEMBER, &member("owner")).await.unwrap();
    mel.remove_workspace_member("lab", OWEN).await.unwrap();
    expect_problem(
        as_owen.set_workspace_member("lab", CHAIN, &member("member")).await,
        404,
        "workspace.not_found",
    );

    // Headers that make no sense are refused plainly.
    expect_problem(owen.acting_as("not an email").unwrap().me().await, 400, "delegation.invalid_header");
    expect_problem(owen.acting_as(OWEN).unwrap().me().await, 422, "delegation.self");
    t.stop().await;
}

#[tokio::test]
async fn removed_declined_and_expired_delegations_stop_at_once() {
    let t = TestApp::start().await;
    let (owen, manny, mel) = setup(&t).await;
    let created = owen
        .create_access(&CreateAccess {
            expires_in: Some("2h".into()),
            ..delegate("short", &[MANAGER, MEMBER], None)
        })
        .await
        .unwrap();
    let code_of = |e: &str| created.codes.iter().find(|c| c.email == e).unwrap().code.clone();
    // The wrong code, or the right code from the wrong account, accepts nothing.
    expect_problem(manny.accept_access(&created.access.id, "bga_wrong").await, 403, "access.invalid_code");
    expect_problem(
        mel.accept_access(&created.access.id, &code_of(MANAGER)).await,
        403,
        "access.invalid_code",
    );
    let stranger = t.user(CHAIN).await;
    expect_problem(
        stranger.accept_access(&created.access.id, &code_of(MANAGER)).await,
        404,
        "access.not_found",
    );
    expect_problem(stranger.get_access(&created.access.id).await, 404, "access.not_found");
    manny.accept_access(&created.access.id, &code_of(MANAGER)).await.unwrap();
    mel.accept_access(&created.access.id, &code_of(MEMBER)).await.unwrap();
    manny.acting_as(OWEN).unwrap().me().await.unwrap();
    mel.acting_as(OWEN).unwrap().me().await.unwrap();

    owen.remove_access_recipient(&created.access.id, MEMBER).await.unwrap();
    expect_problem(mel.acting_as(OWEN).unwrap().me().await, 403, "delegation.not_granted");
    let mine = manny.get_access(&created.access.id).await.unwrap();
    assert_eq!((mine.name, mine.recipients.len()), (None, 1), "a recipient sees only their own entry");

    t.advance(Span::hours(2));
    expect_problem(manny.acting_as(OWEN).unwrap().me().await, 403, "delegation.not_granted");
    assert_eq!(
        owen.get_access(&created.access.id).await.unwrap().status,
        breakglass_api::AccessStatus::Expired
    );
    expect_problem(owen.add_access_recipient(&created.access.id, CHAIN).await, 409, "access.not_live");
    t.stop().await;
}

#[tokio::test]
async fn scoped_read_only_and_access_tokens() {
    let t = TestApp::start().await;
    let (owen, _, _) = setup(&t).await;
    let scoped = owen
        .create_token(&CreateToken {
            name: "lab reader".into(),
            scope: Some("lab".into()),
            read_only: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((scoped.token.scope.as_deref(), scoped.token.read_only), (Some("lab"), true));
    let reader = t.client(&scoped.secret);
    reader.workspace("lab").await.unwrap();
    expect_problem(reader.workspace("ops").await, 404, "workspace.not_found");
    let before = t.snapshot().await;
    expect_problem(
        reader.set_workspace_member("lab", MEMBER, &member("member")).await,
        403,
        "token.read_only",
    );
    expect_problem(
        reader.create_token(&CreateToken { name: "x".into(), ..Default::default() }).await,
        403,
        "token.read_only",
    );
    t.assert_unchanged(&before, "writes with a read-only token").await;
    let listed = owen.list_tokens(&PageQuery::default()).await.unwrap();
    let row = listed.items.iter().find(|x| x.id == scoped.token.id).unwrap();
    assert!(row.last_used_at.is_some(), "last use is shown");

    // A writable scoped token may not mint an unscoped one.
    let lab = owen
        .create_token(&CreateToken { name: "lab".into(), scope: Some("lab".into()), ..Default::default() })
        .await
        .unwrap();
    let lab = t.client(&lab.secret);
    lab.set_workspace_member("lab", MEMBER, &member("member")).await.unwrap();
    expect_problem(
        lab.create_token(&CreateToken { name: "x".into(), ..Default::default() }).await,
        403,
        "token.insufficient_scope",
    );
    expect_problem(lab.create_access(&delegate("x", &[CHAIN], None)).await, 403, "token.insufficient_scope");
    // A scope must be a workspace the owner sees.
    let mel = t.user(CHAIN).await;
    expect_problem(
        mel.create_token(&CreateToken { name: "x".into(), scope: Some("ops".into()), ..Default::default() })
            .await,
        404,
        "workspace.not_found",
    );

    // An API token access: its secret works until the access is revoked.
    let access = owen
        .create_access(&CreateAccess {
            name: "deploy bot".into(),
            kind: "api_token".into(),
            scope: Some("ops".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let bot = t.client(access.secret.as_deref().unwrap());
    assert_eq!(bot.me().await.unwrap().scope, Some(vec!["ops".to_owned()]));
    bot.workspace("ops").await.unwrap();
    owen.revoke_access(&access.access.id).await.unwrap();
    expect_problem(bot.me().await, 401, "auth.invalid_token");
    expect_problem(reader.acting_as(OWEN).unwrap().me().await, 422, "delegation.self");
    t.stop().await;
}

#[tokio::test]
async fn oversight_lists_everyones_accesses_and_secrets_never_leak() {
    let t = TestApp::start().await;
    let (owen, manny, mel) = setup(&t).await;
    let auditor = t.user_with_role(AUDITOR, Some("auditor")).await;
    let created = owen.create_access(&delegate("private label", &[MANAGER], None)).await.unwrap();
    let api = owen
        .create_access(&CreateAccess { name: "bot".into(), kind: "api_token".into(), ..Default::default() })
        .await
        .unwrap();
    for overseer in [&t.admin(), &auditor] {
        let seen = overseer.all_accesses(Some(OWEN)).await.unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().any(|a| a.name.as_deref() == Some("private label")));
    }
    expect_problem(manny.all_accesses(Some(OWEN)).await, 403, "authz.forbidden");
    expect_problem(mel.get_access(&created.access.id).await, 404, "access.not_found");
    // Bad input changes nothing.
    let before = t.snapshot().await;
    for bad in [
        CreateAccess { kind: "root".into(), ..delegate("x", &[MANAGER], None) },
        delegate("x", &[], None),
        delegate("x", &[OWEN], None),
        delegate("x", &["not-an-email"], None),
        CreateAccess { read_only: Some(true), ..delegate("x", &[MANAGER], None) },
        CreateAccess { expires_in: Some("-1h".into()), ..delegate("x", &[MANAGER], None) },
        CreateAccess {
            name: "x".into(),
            kind: "api_token".into(),
            recipients: vec![MANAGER.into()],
            ..Default::default()
        },
    ] {
        let r = owen.create_access(&bad).await;
        assert!(
            matches!(r, Err(ref e) if e.status() == Some(422) || e.status() == Some(400)),
            "{bad:?}: {r:?}"
        );
    }
    let raw =
        t.raw("POST", "/api/v1/accesses", None, Body::Json(&json!({"name": "x", "kind": "delegate"}))).await;
    raw.assert_problem(401, "auth.missing_token");
    t.assert_unchanged(&before, "bad access input").await;
    // No secret or code appears in any event.
    let log = serde_json::to_string(&t.events().await).unwrap();
    assert!(!log.contains(&created.codes[0].code));
    assert!(!log.contains(api.secret.as_deref().unwrap()));
    assert!(log.contains("ACCESS_CREATED"));
    t.stop().await;
}
