//! Regression tests of the hardening findings: each reproduces an attack that once worked and
//! shows that it no longer does (headers, limits, scope leaks, look-alike addresses, replicas,
//! a lost database, connection floods and sign-in abuse).

use breakglass_client::api::{
    CreateInvitation, CreateToken, CreateUser, PageQuery, SendMessage, SetMember, Settings,
};

use crate::common::*;

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[tokio::test]
async fn every_answer_carries_nosniff_and_api_answers_are_never_stored() {
    let t = TestApp::start().await;
    let _bob = t.user("bob@example.com").await;
    let http = reqwest::Client::new();
    let login = serde_json::json!({"email": "bob@example.com", "password": password_for("bob@example.com")});
    let calls = [
        http.get(format!("{}/healthz", t.url)),
        http.get(format!("{}/api/v1/openapi.json", t.url)),
        http.get(format!("{}/api/v1/me", t.url)).bearer_auth(ADMIN_TOKEN),
        // The answer that carries a new secret, above all.
        http.post(format!("{}/api/v1/auth/login", t.url)).json(&login),
        // Refusals too.
        http.get(format!("{}/api/v1/me", t.url)),
        http.get(format!("{}/api/v1/no-such-path", t.url)),
    ];
    for call in calls {
        let resp = call.send().await.unwrap();
        let what = format!("{} {}", resp.status(), resp.url().path());
        assert_eq!(header(&resp, "x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"), "{what}");
    }
}

#[tokio::test]
async fn no_expiry_may_lie_further_than_the_installation_allows() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("team-a", &[]).await;
    let _bob = t.user("bob@example.com").await;
    let before = t.snapshot().await;
    let far = SetMember {
        role: "member".into(),
        expires_at: Some("9999-12-31T00:00:00Z".into()),
        ..Default::default()
    };
    let refused = expect_problem(
        admin.set_workspace_member("team-a", "bob@example.com", &far).await,
        422,
        "input.expiry_too_far",
    );
    assert!(refused.detail.contains("366d"), "the refusal names the limit: {}", refused.detail);
    let far_token = CreateToken { name: "ci".into(), expires_in: Some("3650d".into()), ..Default::default() };
    expect_problem(admin.create_token(&far_token).await, 422, "input.expiry_too_far");
    t.assert_unchanged(&before, "a refused far-away expiry").await;
    // Within the limit it works, and the limit is a setting.
    let year = SetMember { role: "member".into(), expires_in: Some("366d".into()), ..Default::default() };
    admin.set_workspace_member("team-a", "bob@example.com", &year).await.unwrap();
    admin.update_settings(&Settings { max_expiry: Some("30d".into()), ..Default::default() }).await.unwrap();
    let month = SetMember { role: "member".into(), expires_in: Some("31d".into()), ..Default::default() };
    expect_problem(
        admin.set_workspace_member("team-a", "bob@example.com", &month).await,
        422,
        "input.expiry_too_far",
    );
    assert_eq!(t.last_event().await.event_type, "SETTINGS_CHANGED");
}

#[tokio::test]
async fn the_live_sessions_and_tokens_of_a_user_are_bounded_by_settings() {
    let t = TestApp::start().await;
    let admin = t.admin();
    admin
        .update_settings(&Settings {
            max_sessions_per_user: Some(2),
            max_api_tokens_per_user: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let bob = t.user("bob@example.com").await; // the first session
    let _second = t.login("bob@example.com").await;
    let third = t
        .anonymous()
        .login(&breakglass_client::api::Login {
            email: "bob@example.com".into(),
            password: password_for("bob@example.com"),
        })
        .await;
    let refused = expect_problem(third, 422, "session.limit_reached");
    assert!(refused.detail.contains("2 live sessions"), "{}", refused.detail);
    bob.create_token(&CreateToken { name: "one".into(), ..Default::default() }).await.unwrap();
    expect_problem(
        bob.create_token(&CreateToken { name: "two".into(), ..Default::default() }).await,
        422,
        "token.limit_reached",
    );
}

#[tokio::test]
async fn a_token_confined_to_one_workspace_reads_and_acknowledges_only_that_workspaces_messages() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("team-a", &[]).await;
    t.workspace("team-b", &[]).await;
    let ben = t.user("ben@example.com").await;
    let member = SetMember { role: "member".into(), ..Default::default() };
    for ws in ["team-a", "team-b"] {
        admin.set_workspace_member(ws, "ben@example.com", &member).await.unwrap();
    }
    let send = |ws: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .send_message(ws, &SendMessage { text: format!("news for {ws}"), mode: "single_read".into() })
                .await
                .unwrap()
        }
    };
    let to_a = send("team-a").await;
    let to_b = send("team-b").await;
    let confined = ben
        .create_token(&CreateToken {
            name: "b only".into(),
            scope: Some("team-b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let confined = t.client(&confined.secret);
    let seen = confined.my_messages(&PageQuery::default()).await.unwrap();
    assert_eq!(seen.items.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), vec![to_b.id.as_str()]);
    expect_problem(confined.ack_message(&to_a.id).await, 404, "message.not_found");
    confined.ack_message(&to_b.id).await.unwrap();
    // Ben's own session still sees team-a's message, unread.
    let all = ben.my_messages(&PageQuery::default()).await.unwrap();
    assert_eq!(all.items.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), vec![to_a.id.as_str()]);
}

#[tokio::test]
async fn look_alike_addresses_never_become_a_second_account() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("team-a", &[]).await;
    let _alice = t.user("alice@example.com").await;
    let new = |email: &str| CreateUser {
        email: email.into(),
        name: "Twin".into(),
        admin_role: None,
        password: Some("a long enough passphrase".into()),
    };
    // Fullwidth letters and case are the same address: the account exists.
    expect_problem(admin.create_user(&new("ＡＬＩＣＥ@Example.com")).await, 409, "user.exists");
    // Cyrillic а (U+0430) imitates Latin a: refused, with its own code.
    let cyrillic = "\u{430}lice@example.com";
    let p = expect_problem(admin.create_user(&new(cyrillic)).await, 409, "user.email_confusable");
    assert!(p.detail.contains("looks like"), "{}", p.detail);
    let invite = CreateInvitation { email: cyrillic.into(), role: "member".into(), ..Default::default() };
    expect_problem(admin.invite("team-a", &invite).await, 409, "user.email_confusable");
    // The two spellings of í are one address.
    admin.create_user(&new("mar\u{ed}a@example.com")).await.unwrap();
    expect_problem(admin.create_user(&new("mari\u{301}a@example.com")).await, 409, "user.exists");
    // Signing in with the other spelling reaches the same account.
    let users = admin.all_users().await.unwrap();
    assert_eq!(users.iter().filter(|u| u.email.starts_with("mar")).count(), 1, "{users:?}");
}
