//! Authentication and deny-by-default: bearer tokens, sign-in and sessions, API tokens, the
//! admin area's rights, and the `Breakglass-Seq` header on writes.

use breakglass_client::api::{
    AuditQuery, CheckRequest, CreateGrant, CreateProject, CreateToken, CreateUser, CreateWorkspace, Login,
    PageQuery, SetMember,
};
use breakglass_core::time::Span;
use serde_json::{json, Value};

use crate::common::*;

/// Every protected endpoint, with a body that would be valid, so that authentication is the
/// only reason to refuse.
fn protected_endpoints() -> Vec<(&'static str, String, Option<Value>)> {
    let ws = "/api/v1/workspaces/alpha";
    let p = "/api/v1/workspaces/alpha/projects/web";
    let id = "00000000-0000-4000-8000-000000000000";
    vec![
        ("GET", "/api/v1/me".into(), None),
        ("POST", "/api/v1/auth/logout".into(), None),
        ("GET", "/api/v1/users".into(), None),
        ("POST", "/api/v1/users".into(), Some(json!({"email": "new@example.com", "name": "New"}))),
        ("GET", "/api/v1/tokens".into(), None),
        ("POST", "/api/v1/tokens".into(), Some(json!({"name": "t"}))),
        ("DELETE", format!("/api/v1/tokens/{id}"), None),
        ("GET", "/api/v1/workspaces".into(), None),
        ("POST", "/api/v1/workspaces".into(), Some(json!({"identifier": "other", "name": "Other"}))),
        ("GET", ws.into(), None),
        ("GET", format!("{ws}/members"), None),
        ("PUT", format!("{ws}/members/bob@example.com"), Some(json!({"role": "member"}))),
        ("DELETE", format!("{ws}/members/bob@example.com"), None),
        ("GET", format!("{ws}/projects"), None),
        ("POST", format!("{ws}/projects"), Some(json!({"identifier": "api", "name": "API"}))),
        ("GET", p.into(), None),
        ("GET", format!("{p}/members"), None),
        ("PUT", format!("{p}/members/bob@example.com"), Some(json!({"role": "user"}))),
        ("DELETE", format!("{p}/members/bob@example.com"), None),
        (
            "POST",
            "/api/v1/grants".into(),
            Some(
                json!({"user": "bob@example.com", "workspace": "alpha", "role": "manager", "expires_in": "1h"}),
            ),
        ),
        ("DELETE", format!("/api/v1/grants/{id}"), None),
        (
            "POST",
            "/api/v1/check".into(),
            Some(json!({"user": "bob@example.com", "workspace": "alpha", "role": "member"})),
        ),
        (
            "POST",
            "/api/v1/check/batch".into(),
            Some(json!({"checks": [{"user": "bob@example.com", "workspace": "alpha", "role": "member"}]})),
        ),
        ("GET", "/api/v1/audit".into(), None),
        ("GET", "/api/v1/audit/verify".into(), None),
        ("GET", format!("{ws}/history"), None),
        ("GET", format!("{p}/history"), None),
    ]
}

async fn send(t: &TestApp, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> Raw {
    match body {
        Some(b) => t.raw(method, path, token, Body::Json(b)).await,
        None => t.raw(method, path, token, Body::None).await,
    }
}

#[tokio::test]
async fn every_endpoint_refuses_a_request_without_a_valid_token() {
    let t = TestApp::start().await;
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    let bob = t.user("bob@example.com").await;
    t.admin()
        .set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember { role: "member".into(), ..Default::default() },
        )
        .await
        .unwrap();
    let before = t.snapshot().await;

    for (method, path, body) in protected_endpoints() {
        let call = |token| send(&t, method, &path, body.as_ref(), token);
        let raw = call(None).await;
        assert_eq!(raw.status, 401, "{method} {path} without a token: {}", raw.text);
        raw.assert_problem(401, "auth.missing_token");

        let raw = call(Some("not-a-real-token-at-all")).await;
        assert_eq!(raw.status, 401, "{method} {path} with a bad token: {}", raw.text);
        raw.assert_problem(401, "auth.invalid_token");

        // A known token's prefix with random hex: still unknown.
        let raw = call(Some("bgt_0000000000000000000000000000000000000000000000000000000000000000")).await;
        raw.assert_problem(401, "auth.invalid_token");
    }

    // Other schemes and an empty bearer are "missing", not "invalid".
    for header in ["Basic YWRtaW46YWRtaW4=", "Bearer ", "Token test-admin-token-0123456789"] {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/me", t.url))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "Authorization: {header}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "auth.missing_token", "Authorization: {header}");
    }

    // The typed client reports the same.
    expect_problem(t.anonymous().me().await, 401, "auth.missing_token");
    expect_problem(t.client("nope-nope-nope").all_workspaces().await, 401, "auth.invalid_token");

    // Health needs no token; the caller with a valid token is served.
    assert_eq!(t.anonymous().health().await.unwrap().status, breakglass_api::HealthStatus::Ok);
    assert_eq!(bob.me().await.unwrap().user.email, "bob@example.com");

    t.assert_unchanged(&before, "unauthenticated requests").await;
    t.stop().await;
}

#[tokio::test]
async fn a_plain_user_cannot_use_the_admin_area() {
    let t = TestApp::start().await;
    t.workspace("alpha", &[]).await;
    let bob = t.user("bob@example.com").await;
    let before = t.snapshot().await;

    let new_user = CreateUser {
        email: "mallory@example.com".into(),
        name: "Mallory".into(),
        admin_role: Some("admin".into()),
        password: Some("a-long-enough-password".into()),
    };
    expect_problem(bob.create_user(&new_user).await, 403, "authz.forbidden");
    let new_ws = CreateWorkspace {
        identifier: "bobs-own".into(),
        name: "Bob's".into(),
        owners: vec![],
        project_quota: None,
        members: Vec::new(),
        tags: Default::default(),
    };
    expect_problem(bob.create_workspace(&new_ws).await, 403, "authz.forbidden");
    expect_problem(bob.list_users(&PageQuery::default()).await, 403, "authz.forbidden");
    expect_problem(bob.audit(&AuditQuery::default()).await, 403, "authz.forbidden");
    expect_problem(bob.verify_audit().await, 403, "authz.forbidden");
    // Workspaces he is not in are not even listed.
    assert!(bob.all_workspaces().await.unwrap().is_empty());
    t.assert_unchanged(&before, "a plain user's admin-area requests").await;

    // An auditor reads everything and changes nothing.
    let audrey = t.user_with_role("audrey@example.com", Some("auditor")).await;
    let before = t.snapshot().await;
    assert!(audrey.verify_audit().await.unwrap().ok);
    assert!(!audrey.all_audit(&AuditQuery::default()).await.unwrap().is_empty());
    assert_eq!(audrey.all_users().await.unwrap().len(), before.users.len());
    assert_eq!(audrey.workspace("alpha").await.unwrap().identifier, "alpha");
    expect_problem(audrey.create_user(&new_user).await, 403, "authz.forbidden");
    expect_problem(audrey.create_workspace(&new_ws).await, 403, "authz.forbidden");
    expect_problem(
        audrey
            .set_workspace_member(
                "alpha",
                "bob@example.com",
                &SetMember { role: "member".into(), ..Default::default() },
            )
            .await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        audrey
            .create_project(
                "alpha",
                &CreateProject { identifier: "web".into(), name: "Web".into(), tags: Default::default() },
            )
            .await,
        403,
        "authz.forbidden",
    );
    t.assert_unchanged(&before, "an auditor's write attempts").await;

    // An employee manages workspaces but not users.
    let emma = t.user_with_role("emma@example.com", Some("employee")).await;
    let before = t.snapshot().await;
    expect_problem(emma.create_user(&new_user).await, 403, "authz.forbidden");
    t.assert_unchanged(&before, "an employee creating a user").await;
    let ws = emma.create_workspace(&new_ws).await.unwrap();
    assert_eq!(ws.identifier, "bobs-own");
    let owners = emma.all_workspace_members("bobs-own").await.unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!((owners[0].user.as_str(), owners[0].role.as_str()), ("emma@example.com", "owner"));
    t.stop().await;
}

#[tokio::test]
async fn sign_in_with_a_password_opens_a_session_that_ends_at_its_expiry() {
    let t = TestApp::start().await;
    let admin = t.admin();
    admin
        .create_user(&CreateUser {
            email: "Alice@Example.com".into(),
            name: "Alice".into(),
            admin_role: None,
            password: Some(password_for("alice@example.com")),
        })
        .await
        .unwrap();
    admin
        .create_user(&CreateUser {
            email: "nopass@example.com".into(),
            name: "No Password".into(),
            admin_role: None,
            password: None,
        })
        .await
        .unwrap();
    let anon = t.anonymous();
    let before = t.snapshot().await;

    // Wrong password, unknown e-mail, malformed e-mail, a user without a password: the same
    // answer every time, so that sign-in does not reveal which accounts exist.
    let mut details = Vec::new();
    for (email, password) in [
        ("alice@example.com", "wrong-password-123"),
        ("nobody@example.com", "wrong-password-123"),
        ("not-an-email", "wrong-password-123"),
        ("nopass@example.com", "wrong-password-123"),
        ("nopass@example.com", ""),
    ] {
        let p = expect_problem(
            anon.login(&Login { email: email.into(), password: password.into() }).await,
            401,
            "auth.invalid_credentials",
        );
        details.push(p.detail);
    }
    details.dedup();
    assert_eq!(details.len(), 1, "every failed sign-in must answer the same: {details:?}");
    t.assert_unchanged(&before, "failed sign-ins").await;

    // E-mails are case-insensitive at sign-in too.
    let t0 = t.now();
    let session = anon
        .login(&Login { email: "ALICE@example.COM".into(), password: password_for("alice@example.com") })
        .await
        .unwrap();
    assert!(session.token.starts_with("bgs_"), "session tokens carry their prefix: {}", session.token);
    assert_eq!(session.user.email, "alice@example.com");
    let expires = ts(&session.expires_at);
    assert_eq!(expires, t0.plus(Span::hours(12)), "a session lasts 12 hours");
    let signed_in = t.last_event().await;
    assert_eq!(signed_in.event_type, "USER_SIGNED_IN");
    assert_eq!(signed_in.actor, "alice@example.com");

    let alice = t.client(&session.token);
    assert_eq!(alice.me().await.unwrap().user.email, "alice@example.com");
    let tokens = alice.all_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].kind, breakglass_api::TokenKind::Session);
    assert_eq!(tokens[0].expires_at.as_deref().map(ts), Some(expires));

    // One microsecond before the end the session works; at the end it does not.
    t.set_time(plus_micros(expires, -1));
    assert_eq!(alice.me().await.unwrap().user.email, "alice@example.com");
    t.set_time(expires);
    expect_problem(alice.me().await, 401, "auth.invalid_token");
    expect_problem(alice.all_workspaces().await, 401, "auth.invalid_token");
    t.set_time(expires.plus(Span::days(1)));
    expect_problem(alice.me().await, 401, "auth.invalid_token");

    // Signing out ends the session at once.
    let alice = t.login("alice@example.com").await;
    alice.logout().await.unwrap();
    assert_eq!(t.last_event().await.event_type, "USER_SIGNED_OUT");
    expect_problem(alice.me().await, 401, "auth.invalid_token");
    expect_problem(alice.logout().await, 401, "auth.invalid_token");

    // An API token cannot "log out"; it is revoked instead.
    let before = t.snapshot().await;
    expect_problem(t.admin().logout().await, 422, "auth.not_a_session");
    t.assert_unchanged(&before, "logout with an API token").await;
    t.stop().await;
}

#[tokio::test]
async fn api_tokens_are_created_listed_and_revoked() {
    let t = TestApp::start().await;
    let bob = t.user("bob@example.com").await;
    let carol = t.user("carol@example.com").await;
    let now = t.now();

    let created = bob
        .create_token(&CreateToken { name: "ci".into(), expires_in: Some("2h".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(created.secret.starts_with("bgt_"), "API tokens carry their prefix");
    assert!(created.secret.len() >= 4 + 64, "the secret carries 256 bits: {}", created.secret);
    assert_eq!(created.token.name, "ci");
    assert_eq!(created.token.kind, breakglass_api::TokenKind::Api);
    assert_eq!(created.token.expires_at.as_deref().map(ts), Some(now.plus(Span::hours(2))));
    let ev = t.last_event().await;
    assert_eq!((ev.event_type.as_str(), ev.actor.as_str()), ("TOKEN_CREATED", "bob@example.com"));
    assert_eq!(ev.details["token_id"], created.token.id.as_str());

    // The token acts as bob.
    let ci = t.client(&created.secret);
    assert_eq!(ci.me().await.unwrap().user.email, "bob@example.com");

    // Listed (with the session), never with a secret.
    let listed = bob.all_tokens().await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed
        .iter()
        .any(|k| k.id == created.token.id && k.kind == breakglass_api::TokenKind::Api && k.name == "ci"));
    assert!(listed.iter().any(|k| k.kind == breakglass_api::TokenKind::Session));
    let raw = t.raw("GET", "/api/v1/tokens", Some(&created.secret), Body::None).await;
    assert_eq!(raw.status, 200);
    assert!(!raw.text.contains(&created.secret), "a token listing shows a secret: {}", raw.text);
    assert!(!raw.text.contains("secret"), "a token listing has a secret field: {}", raw.text);
    // Carol does not see bob's tokens.
    assert!(carol.all_tokens().await.unwrap().iter().all(|k| k.id != created.token.id));

    // Carol cannot revoke bob's token: it does not exist for her.
    let before = t.snapshot().await;
    expect_problem(carol.revoke_token(&created.token.id).await, 404, "token.not_found");
    expect_problem(carol.revoke_token("not-a-uuid").await, 404, "token.not_found");
    t.assert_unchanged(&before, "revoking someone else's token").await;
    assert_eq!(ci.me().await.unwrap().user.email, "bob@example.com");

    // Revoked: the next call with it is refused.
    bob.revoke_token(&created.token.id).await.unwrap();
    let ev = t.last_event().await;
    assert_eq!((ev.event_type.as_str(), ev.subject.as_deref()), ("TOKEN_REVOKED", Some("bob@example.com")));
    expect_problem(ci.me().await, 401, "auth.invalid_token");
    assert!(bob.all_tokens().await.unwrap().iter().all(|k| k.id != created.token.id));
    expect_problem(bob.revoke_token(&created.token.id).await, 404, "token.not_found");

    // A token can revoke itself.
    let second = bob.create_token(&CreateToken { name: "self".into(), ..Default::default() }).await.unwrap();
    assert_eq!(second.token.expires_at, None);
    let self_client = t.client(&second.secret);
    self_client.revoke_token(&second.token.id).await.unwrap();
    expect_problem(self_client.me().await, 401, "auth.invalid_token");

    // An admin may revoke anyone's token, e.g. a leaked one.
    let third =
        carol.create_token(&CreateToken { name: "leaked".into(), ..Default::default() }).await.unwrap();
    t.admin().revoke_token(&third.token.id).await.unwrap();
    let ev = t.last_event().await;
    assert_eq!(
        (ev.event_type.as_str(), ev.actor.as_str(), ev.subject.as_deref()),
        ("TOKEN_REVOKED", ADMIN_EMAIL, Some("carol@example.com"))
    );
    expect_problem(t.client(&third.secret).me().await, 401, "auth.invalid_token");

    // A token with an expiry stops at that instant.
    let timed = bob
        .create_token(&CreateToken {
            name: "timed".into(),
            expires_in: Some("PT30M".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let end = ts(timed.token.expires_at.as_deref().unwrap());
    assert_eq!(end, t.now().plus(Span::minutes(30)));
    let timed_client = t.client(&timed.secret);
    t.set_time(plus_micros(end, -1));
    assert_eq!(timed_client.me().await.unwrap().user.email, "bob@example.com");
    t.set_time(end);
    expect_problem(timed_client.me().await, 401, "auth.invalid_token");
    assert!(
        bob.all_tokens().await.unwrap().iter().all(|k| k.id != timed.token.id),
        "expired tokens are not listed"
    );
    t.stop().await;
}

#[tokio::test]
async fn bad_token_requests_are_refused_and_change_nothing() {
    let t = TestApp::start().await;
    let bob = t.user("bob@example.com").await;
    let before = t.snapshot().await;
    let past = rfc(plus_micros(t.now(), -1_000_000));
    for (req, status, code) in [
        (
            CreateToken { name: "x".into(), expires_at: Some(past.clone()), ..Default::default() },
            422,
            "input.expiry_in_past",
        ),
        (
            CreateToken { name: "x".into(), expires_at: Some(rfc(t.now())), ..Default::default() },
            422,
            "input.expiry_in_past",
        ),
        (CreateToken { name: "".into(), ..Default::default() }, 400, "input.invalid_name"),
        (
            CreateToken { name: "x".into(), expires_in: Some("soon".into()), ..Default::default() },
            400,
            "input.invalid_duration",
        ),
        (
            CreateToken { name: "x".into(), expires_at: Some("tomorrow".into()), ..Default::default() },
            400,
            "input.invalid_time",
        ),
        (
            CreateToken {
                name: "x".into(),
                expires_at: Some(rfc(t.now().plus(Span::hours(1)))),
                expires_in: Some("1h".into()),
                ..Default::default()
            },
            422,
            "input.conflicting_fields",
        ),
    ] {
        expect_problem(bob.create_token(&req).await, status, code);
    }
    t.assert_unchanged(&before, "invalid token requests").await;
    t.stop().await;
}

#[tokio::test]
async fn every_write_reports_its_audit_sequence_in_breakglass_seq() {
    let t = TestApp::start().await;

    // Raw: the header is there on a write, equal to the new head, and absent on reads.
    let raw = t
        .raw(
            "POST",
            "/api/v1/workspaces",
            Some(ADMIN_TOKEN),
            Body::Json(&json!({"identifier": "alpha", "name": "Alpha"})),
        )
        .await;
    assert_eq!(raw.status, 201, "{}", raw.text);
    let seq = raw.seq.expect("a write carries Breakglass-Seq");
    assert_eq!(seq, t.seq().await);
    let last = t.last_event().await;
    assert_eq!(last.seq, seq);
    assert_eq!(last.event_type, "USER_ASSIGNED", "creating a workspace ends with assigning its owner");
    let read = t.raw("GET", "/api/v1/workspaces", Some(ADMIN_TOKEN), Body::None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.seq, None, "a read carries no Breakglass-Seq");

    // Through the client: every kind of write, each with a fresh client so that `last_seq` is
    // that write's.
    let admin = || t.client(ADMIN_TOKEN);
    let mut prev = seq;
    macro_rules! write {
        ($client:expr, $call:ident($($arg:expr),*), $ty:expr) => {{
            let c = $client;
            let out = c.$call($($arg),*).await.unwrap_or_else(|e| panic!("{}: {e}", stringify!($call)));
            let seq = c.last_seq().unwrap_or_else(|| panic!("{} carried no Breakglass-Seq", stringify!($call)));
            assert!(seq > prev, "{}: seq {seq} does not move past {prev}", stringify!($call));
            assert_eq!(seq, t.seq().await, "{}: Breakglass-Seq is not the new head", stringify!($call));
            let last = t.last_event().await;
            assert_eq!((last.seq, last.event_type.as_str()), (seq, $ty), "{}", stringify!($call));
            prev = seq;
            out
        }};
    }
    write!(
        admin(),
        create_user(&CreateUser {
            email: "bob@example.com".into(),
            name: "Bob".into(),
            admin_role: None,
            password: Some(password_for("bob@example.com")),
        }),
        "USER_CREATED"
    );
    let session = write!(
        t.anonymous(),
        login(&Login { email: "bob@example.com".into(), password: password_for("bob@example.com") }),
        "USER_SIGNED_IN"
    );
    let token = write!(
        t.client(&session.token),
        create_token(&CreateToken { name: "ci".into(), ..Default::default() }),
        "TOKEN_CREATED"
    );
    write!(
        admin(),
        create_project(
            "alpha",
            &CreateProject { identifier: "web".into(), name: "Web".into(), tags: Default::default() }
        ),
        "PROJECT_CREATED"
    );
    write!(
        admin(),
        set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember { role: "member".into(), ..Default::default() }
        ),
        "USER_ASSIGNED"
    );
    write!(
        admin(),
        set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember { role: "manager".into(), ..Default::default() }
        ),
        "USER_ROLE_CHANGED"
    );
    write!(
        admin(),
        set_project_member(
            "alpha",
            "web",
            "bob@example.com",
            &SetMember { role: "reader".into(), ..Default::default() }
        ),
        "PROJECT_USER_ASSIGNED"
    );
    let grant = write!(
        admin(),
        create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "admin".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        }),
        "GRANTED"
    )
    .expect_binding();
    write!(admin(), revoke_grant(&grant.id), "GRANT_REVOKED");
    write!(admin(), remove_project_member("alpha", "web", "bob@example.com"), "PROJECT_USER_REMOVED");
    write!(admin(), remove_workspace_member("alpha", "bob@example.com"), "USER_REMOVED");
    write!(t.client(&session.token), revoke_token(&token.token.id), "TOKEN_REVOKED");
    write!(t.client(&session.token), logout(), "USER_SIGNED_OUT");

    // A write that changes nothing (the same membership again) reports the current head.
    let admin = t.client(ADMIN_TOKEN);
    admin
        .set_workspace_member("alpha", ADMIN_EMAIL, &SetMember { role: "owner".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(admin.last_seq(), Some(prev), "a no-op write reports the unchanged head");
    assert_eq!(t.seq().await, prev);

    // A refused write carries no sequence and does not move the head.
    let refused = t
        .raw(
            "PUT",
            "/api/v1/workspaces/alpha/members/bob@example.com",
            Some(ADMIN_TOKEN),
            Body::Json(&json!({"role": "emperor"})),
        )
        .await;
    refused.assert_problem(400, "input.unknown_role");
    assert_eq!(t.seq().await, prev);

    // The check endpoint is a read even though it is a POST.
    let check = t
        .raw(
            "POST",
            "/api/v1/check",
            Some(ADMIN_TOKEN),
            Body::Json(
                &serde_json::to_value(CheckRequest {
                    user: ADMIN_EMAIL.into(),
                    workspace: "alpha".into(),
                    project: None,
                    role: "owner".into(),
                    min_seq: None,
                })
                .unwrap(),
            ),
        )
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    assert_eq!(check.body["allowed"], true);
    assert_eq!(t.seq().await, prev);
    t.stop().await;
}

#[tokio::test]
async fn state_and_audit_chain_survive_a_restart() {
    let t = TestApp::start().await;
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    let bob = t.user("bob@example.com").await;
    let bob_token = bob.token().unwrap().to_owned();
    t.admin()
        .set_project_member(
            "alpha",
            "web",
            "bob@example.com",
            &SetMember { role: "user".into(), expires_in: Some("1h".into()), ..Default::default() },
        )
        .await
        .unwrap();
    let before = t.snapshot().await;

    let t = t.restart().await;
    t.assert_unchanged(&before, "a restart").await;
    // The first admin's token and bob's session still work; the check answers the same.
    let bob = t.client(&bob_token);
    assert_eq!(bob.me().await.unwrap().user.email, "bob@example.com");
    let check = t
        .admin()
        .check(&CheckRequest {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "user".into(),
            min_seq: None,
        })
        .await
        .unwrap();
    assert!(check.allowed);
    assert_eq!(check.expires_at.as_deref().map(ts), Some(t.now().plus(Span::hours(1))));
    // Writes continue the same chain.
    t.project("alpha", "api").await;
    let report = t.admin().verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, before.seq + 1);
    t.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_problem_json() {
    let t = TestApp::start().await;
    t.raw("GET", "/api/v1/nothing-here", Some(ADMIN_TOKEN), Body::None)
        .await
        .assert_problem(404, "http.not_found");
    t.raw("GET", "/api/v2/workspaces", None, Body::None).await.assert_problem(404, "http.not_found");
    t.raw("PATCH", "/api/v1/workspaces", Some(ADMIN_TOKEN), Body::None)
        .await
        .assert_problem(405, "http.method_not_allowed");
    t.raw("DELETE", "/api/v1/users", Some(ADMIN_TOKEN), Body::None)
        .await
        .assert_problem(405, "http.method_not_allowed");
    // The API document is public and is OpenAPI 3.1.
    let doc = t.raw("GET", "/api/v1/openapi.json", None, Body::None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc.text);
    t.stop().await;
}
