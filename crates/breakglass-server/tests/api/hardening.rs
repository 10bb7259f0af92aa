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

#[tokio::test]
async fn a_credential_made_on_one_replica_works_on_another_at_once() {
    let a = TestApp::start().await;
    a.user("bob@example.com").await;
    // B never looks at the database on its own during this test: only the unknown credential
    // makes it catch up.
    let b = a.second_server_following_every(std::time::Duration::from_secs(3600)).await;
    for n in 0..20 {
        let session = a
            .anonymous()
            .login(&breakglass_client::api::Login {
                email: "bob@example.com".into(),
                password: password_for("bob@example.com"),
            })
            .await
            .unwrap();
        let me = b.client(&session.token).me().await.unwrap_or_else(|e| panic!("try {n}: {e}"));
        assert_eq!(me.user.email, "bob@example.com");
        a.client(&session.token).logout().await.unwrap();
    }
    let token =
        a.admin().create_token(&CreateToken { name: "ci".into(), ..Default::default() }).await.unwrap();
    b.client(&token.secret).me().await.unwrap();
    // A secret nobody issued is still refused, after the look.
    let nobody = b.client("bgt_0000000000000000000000000000000000000000000000000000000000000000");
    expect_problem(nobody.me().await, 401, "auth.invalid_token");
    b.stop().await;
    a.stop().await;
}

/// Polls `f` every 20 ms until it is true; returns how long that took, or `None` after `limit`.
async fn time_until(
    limit: std::time::Duration,
    mut f: impl AsyncFnMut() -> bool,
) -> Option<std::time::Duration> {
    let started = std::time::Instant::now();
    loop {
        if f().await {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Cuts (or freezes) the database under a replica; its writes and `/healthz` must say so within
/// 2 s, and it recovers when the database is back.
async fn lose_the_database(freeze: bool) {
    let a = TestApp::start().await;
    let Some(server) = pg_server_url() else {
        eprintln!("skipped: needs BREAKGLASS_TEST_DATABASE_URL (a replica losing PostgreSQL)");
        return a.stop().await;
    };
    a.user("bob@example.com").await;
    a.workspace("alpha", &[]).await;
    let link = CuttableLink::open(host_port(&server)).await;
    let b = a.replica_via(via_port(&a.db.as_ref().unwrap().url, link.port)).await.unwrap();
    let admin_b = b.admin();
    let member = SetMember { role: "member".into(), ..Default::default() };
    admin_b.set_workspace_member("alpha", "bob@example.com", &member).await.unwrap();
    assert!(!admin_b.health().await.unwrap().stale);

    if freeze {
        link.freeze();
    } else {
        link.cut();
    }
    let lost = std::time::Instant::now();
    let refused = admin_b.remove_workspace_member("alpha", "bob@example.com").await;
    let took = lost.elapsed();
    expect_problem(refused, 503, "store.unavailable");
    assert!(took < std::time::Duration::from_secs(2), "a write took {took:?} to fail");
    let stale =
        time_until(std::time::Duration::from_secs(5), async || admin_b.health().await.is_ok_and(|h| h.stale))
            .await;
    let since_lost = lost.elapsed();
    assert!(
        stale.is_some() && since_lost < std::time::Duration::from_secs(3),
        "healthz said stale after {since_lost:?}"
    );
    // Checks still answer from the index.
    let check = breakglass_client::api::CheckRequest {
        user: "bob@example.com".into(),
        workspace: "alpha".into(),
        project: None,
        role: "member".into(),
        min_seq: None,
    };
    assert!(admin_b.check(&check).await.unwrap().allowed);

    link.restore();
    let back = time_until(std::time::Duration::from_secs(15), async || {
        admin_b.health().await.is_ok_and(|h| !h.stale)
    })
    .await;
    assert!(back.is_some(), "B is back once the database is");
    // A write answered 503 because its outcome was not known in time may still have committed
    // (the commit goes on): the removal has happened once bob is no longer a member.
    let again = time_until(std::time::Duration::from_secs(15), async || {
        admin_b.remove_workspace_member("alpha", "bob@example.com").await.is_ok()
            || admin_b
                .all_workspace_members("alpha")
                .await
                .is_ok_and(|list| list.iter().all(|b| b.user != "bob@example.com"))
    })
    .await;
    assert!(again.is_some(), "B writes again");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_lost_database_fails_writes_and_shows_in_healthz_within_two_seconds() {
    lose_the_database(false).await;
}

#[tokio::test]
async fn a_database_that_stops_answering_fails_writes_and_shows_in_healthz_within_two_seconds() {
    lose_the_database(true).await;
}

/// A TCP connection from `from` (a loopback address) to the server, sending nothing.
async fn idle_socket(t: &TestApp, from: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(t.app_addr()).await.unwrap()
}

/// An HTTP client whose connections come from `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(from.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
}

/// Reads until the server closes the connection; true when it did within `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn two_thousand_idle_connections_neither_stop_the_server_nor_stay_open() {
    let idle = std::time::Duration::from_secs(2);
    let t = TestApp::start_configured(|c| {
        c.connections.idle_timeout = idle;
        c.connections.max_connections = 3000;
        c.connections.max_connections_per_address = 0;
    })
    .await;
    let mut sockets = Vec::with_capacity(2000);
    for _ in 0..2000 {
        sockets.push(idle_socket(&t, "127.0.0.1").await);
    }
    let opened = std::time::Instant::now();
    // While they are held: health and a check answer at once.
    let health = tokio::time::timeout(std::time::Duration::from_secs(2), t.anonymous().health()).await;
    assert!(health.is_ok_and(|h| h.is_ok()), "/healthz answers with 2,000 idle connections open");
    let check = breakglass_client::api::CheckRequest {
        user: ADMIN_EMAIL.into(),
        workspace: "nowhere".into(),
        project: None,
        role: "member".into(),
        min_seq: None,
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(2), t.admin().check(&check)).await;
    assert!(answer.is_ok_and(|a| a.is_ok_and(|d| !d.allowed)), "a check answers");
    // After the idle timeout the server closes every one of them.
    let mut closed = 0;
    for s in &mut sockets {
        let left = (idle + std::time::Duration::from_secs(5)).saturating_sub(opened.elapsed());
        if closed_within(s, left.max(std::time::Duration::from_millis(10))).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 2000, "every idle connection is closed after the timeout");
    assert!(opened.elapsed() >= idle, "not before the timeout");
}

#[tokio::test]
async fn connections_beyond_the_caps_are_refused_plainly_and_others_still_served() {
    let t = TestApp::start_configured(|c| {
        c.connections.max_connections = 12;
        c.connections.max_connections_per_address = 8;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(idle_socket(&t, "127.0.0.1").await);
    }
    // The ninth from the same address is refused with a problem, and closed.
    let refused = reqwest::Client::new().get(format!("{}/healthz", t.url)).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "http.too_many_connections");
    assert!(problem["detail"].as_str().unwrap().contains("your address"), "{problem}");
    // Another address is served.
    let other = client_from("127.0.0.2");
    assert_eq!(other.get(format!("{}/healthz", t.url)).send().await.unwrap().status(), 200);
    // When the whole server is full, everyone hears so.
    for _ in 0..4 {
        held.push(idle_socket(&t, "127.0.0.3").await);
    }
    let full = client_from("127.0.0.4").get(format!("{}/healthz", t.url)).send().await.unwrap();
    assert_eq!(full.status(), 503);
    let problem: serde_json::Value = full.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("as many connections open as it allows"),
        "{problem}"
    );
    // Closing some makes room again.
    held.clear();
    let again = time_until(std::time::Duration::from_secs(5), async || {
        reqwest::Client::new().get(format!("{}/healthz", t.url)).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(again.is_some(), "served again once connections close");
}

/// Signs in with a password; the raw answer.
async fn sign_in(t: &TestApp, email: &str, password: &str) -> reqwest::Response {
    sign_in_from(t, "127.0.0.1", email, password).await
}

/// Signs in with a password from the loopback address `from`; the raw answer.
async fn sign_in_from(t: &TestApp, from: &str, email: &str, password: &str) -> reqwest::Response {
    client_from(from)
        .post(format!("{}/api/v1/auth/login", t.url))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guessing_a_password_locks_the_account_out_for_a_while_and_is_audited_once() {
    use breakglass_server::throttle::Budget;
    let t = TestApp::start_configured(|c| {
        c.sign_in.per_account = Budget { attempts: 3, period: std::time::Duration::from_secs(3) };
    })
    .await;
    t.user("bob@example.com").await; // bob signs in from 127.0.0.1
    let right = password_for("bob@example.com");
    // Someone guesses from 127.0.0.2.
    for _ in 0..3 {
        assert_eq!(sign_in_from(&t, "127.0.0.2", "bob@example.com", "wrong password!").await.status(), 401);
    }
    // The next failure locks the account out; from then on even the right password waits.
    let locked = sign_in_from(&t, "127.0.0.2", "bob@example.com", "wrong password!").await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry), "Retry-After {retry}");
    let problem: serde_json::Value = locked.json().await.unwrap();
    assert_eq!(problem["code"], "auth.throttled");
    for _ in 0..50 {
        assert_eq!(sign_in_from(&t, "127.0.0.2", "bob@example.com", "wrong password!").await.status(), 429);
    }
    assert_eq!(sign_in_from(&t, "127.0.0.3", "bob@example.com", &right).await.status(), 429);
    // But the guesses do not lock bob out where he signed in from before.
    assert_eq!(sign_in(&t, "bob@example.com", &right).await.status(), 201);
    // Another account from the same address is not concerned.
    t.user("ann@example.com").await;
    assert_eq!(sign_in(&t, "ann@example.com", &password_for("ann@example.com")).await.status(), 201);
    let throttled = t.events_of("SIGN_IN_THROTTLED").await;
    assert_eq!(throttled.len(), 1, "one event per lock-out, not per guess: {throttled:?}");
    assert_eq!(throttled[0].subject.as_deref(), Some("bob@example.com"));
    assert_eq!(throttled[0].actor, "system");
    assert_eq!(throttled[0].details["kind"], "account");
    // Once it is over, the sweeper records the end and the right password works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(breakglass_server::sweeper::end_lockouts(&t.app).await, 1);
    assert_eq!(t.events_of("SIGN_IN_THROTTLE_LIFTED").await.len(), 1);
    assert_eq!(sign_in_from(&t, "127.0.0.3", "bob@example.com", &right).await.status(), 201);
    // The audit chain holds.
    assert!(t.admin().verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn an_address_guessing_many_accounts_is_locked_out_and_the_web_sign_in_too() {
    use breakglass_server::throttle::Budget;
    let t = TestApp::start_configured(|c| {
        c.sign_in.per_address = Budget { attempts: 5, period: std::time::Duration::from_secs(60) };
    })
    .await;
    t.user("bob@example.com").await;
    for n in 0..5 {
        assert_eq!(sign_in(&t, &format!("user{n}@example.com"), "guess guess guess").await.status(), 401);
    }
    assert_eq!(sign_in(&t, "user9@example.com", "guess guess guess").await.status(), 429);
    let refused = sign_in(&t, "bob@example.com", &password_for("bob@example.com")).await;
    assert_eq!(refused.status(), 429);
    // The web form says the same.
    let form = reqwest::Client::new()
        .post(format!("{}/login", t.url))
        .header("accept", "text/html")
        .header("cookie", "bg_csrf=abc")
        .form(&[("csrf", "abc"), ("email", "bob@example.com"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 429);
    assert!(form.headers().contains_key("retry-after"));
    // Other addresses sign in.
    let elsewhere = client_from("127.0.0.2")
        .post(format!("{}/api/v1/auth/login", t.url))
        .json(&serde_json::json!({"email": "bob@example.com", "password": password_for("bob@example.com")}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 201);
    let throttled = t.events_of("SIGN_IN_THROTTLED").await;
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].subject.as_deref(), Some("127.0.0.1"));
    assert_eq!(throttled[0].details["kind"], "address");
}

/// A workspace, bob, and a grant to him: the newest event is the grant. Returns the head.
async fn granted(t: &TestApp) -> i64 {
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    t.admin()
        .create_grant(&breakglass_client::api::CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            role: "manager".into(),
            expires_in: Some("1h".into()),
            reason: Some("INC-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let head = t.seq().await;
    assert_eq!(t.last_event().await.event_type, "GRANTED");
    head
}

/// Checks what a server that found its audit log truncated does: it says so in /healthz,
/// refuses writes with `audit.integrity`, still answers checks, and verify names the truncation.
async fn refuses_writes_for(t: &TestApp, anchor: &str) {
    let health = t.anonymous().health().await.unwrap();
    assert_eq!(health.status, breakglass_api::HealthStatus::Degraded);
    let why = health.integrity.expect("/healthz says why");
    assert!(why.contains("truncated") && why.contains(anchor), "{why}");
    let admin = t.admin();
    let new =
        CreateUser { email: "new@example.com".into(), name: "New".into(), admin_role: None, password: None };
    let p = expect_problem(admin.create_user(&new).await, 503, "audit.integrity");
    assert!(p.detail.contains("truncated"), "{}", p.detail);
    let report = admin.verify_audit().await.unwrap();
    assert!(!report.ok, "{report:?}");
    let broken = report.broken.expect("the broken link");
    assert!(broken.reason.contains("truncated") && broken.reason.contains(anchor), "{}", broken.reason);
    // Checks go on answering from the model as loaded.
    let check = breakglass_client::api::CheckRequest {
        user: "bob@example.com".into(),
        workspace: "alpha".into(),
        project: None,
        role: "member".into(),
        min_seq: None,
    };
    admin.check(&check).await.unwrap();
}

#[tokio::test]
async fn deleting_the_newest_events_is_named_a_truncation_after_a_restart() {
    let t = TestApp::start().await;
    let head = granted(&t).await;
    let halted = t.halt().await;
    halted
        .edit(
            &[
                "DROP TRIGGER audit_events_no_delete",
                &format!("DELETE FROM audit_events WHERE seq >= {}", head - 1),
            ],
            &[
                "DROP TRIGGER audit_events_no_delete ON audit_events",
                &format!("DELETE FROM audit_events WHERE seq >= {}", head - 1),
            ],
        )
        .await;
    let t = halted.start().await;
    refuses_writes_for(&t, "change log").await;
    t.stop().await;
}

#[tokio::test]
async fn deleting_the_events_and_their_change_log_is_caught_by_the_signed_checkpoint() {
    let t = TestApp::start().await;
    let head = granted(&t).await;
    let written = t.app.checkpoint().expect("a checkpoint of the head");
    assert_eq!(written.seq, head);
    written.verify().unwrap();
    let file = t.dir.join(breakglass_server::integrity::CHECKPOINTS_FILE);
    let halted = t.halt().await;
    let lines = std::fs::read_to_string(&file).unwrap();
    let last: breakglass_client::api::Checkpoint =
        serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert_eq!(last, written, "stopping writes no new checkpoint when the head did not move");
    let cut = format!("DELETE FROM audit_events WHERE seq >= {}", head - 1);
    let cut_log = format!("DELETE FROM change_log WHERE seq >= {}", head - 1);
    halted
        .edit(
            &["DROP TRIGGER audit_events_no_delete", &cut, &cut_log],
            &["DROP TRIGGER audit_events_no_delete ON audit_events", &cut, &cut_log],
        )
        .await;
    let t = halted.start().await;
    refuses_writes_for(&t, "signed checkpoint").await;
    t.stop().await;
}

#[tokio::test]
async fn a_replaced_checkpoint_key_refuses_writes_instead_of_trusting_a_new_anchor() {
    let t = TestApp::start().await;
    granted(&t).await;
    t.app.checkpoint().expect("a checkpoint");
    let halted = t.halt().await;
    let key = halted.dir.join(breakglass_server::integrity::KEY_FILE);
    std::fs::remove_file(&key).unwrap();
    let t = halted.start().await;
    let health = t.anonymous().health().await.unwrap();
    let why = health.integrity.expect("/healthz says why");
    assert!(why.contains("another key"), "{why}");
    expect_problem(
        t.admin().create_token(&CreateToken { name: "x".into(), ..Default::default() }).await,
        503,
        "audit.integrity",
    );
    t.stop().await;
}

#[tokio::test]
async fn a_sound_log_restarts_cleanly_and_its_checkpoints_verify() {
    let t = TestApp::start().await;
    let head = granted(&t).await;
    let t = t.restart().await;
    let health = t.anonymous().health().await.unwrap();
    assert_eq!((health.status.as_str(), health.integrity), ("ok", None));
    assert!(t.admin().verify_audit().await.unwrap().ok);
    let file = t.dir.join(breakglass_server::integrity::CHECKPOINTS_FILE);
    let text = std::fs::read_to_string(&file).unwrap();
    let last: breakglass_client::api::Checkpoint =
        serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last.verify().unwrap();
    assert_eq!(last.seq, head, "stopping wrote a checkpoint of the head");
    assert_eq!(last.hash, t.last_event().await.hash);
    t.admin().create_token(&CreateToken { name: "x".into(), ..Default::default() }).await.unwrap();
    t.stop().await;
}

/// Fails sign-ins for `email` as a client behind a proxy that added `forwarded`, until the
/// throttle answers 429; returns the subject of the lock-out event it recorded.
async fn locked_out_as(t: &TestApp, email: &str, forwarded: &str) -> String {
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let r = http
            .post(format!("{}/api/v1/auth/login", t.url))
            .header("x-forwarded-for", forwarded)
            .json(&serde_json::json!({"email": email, "password": "a wrong password"}))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            break;
        }
    }
    let events = t.events_of("SIGN_IN_THROTTLED").await;
    events
        .iter()
        .find(|e| e.details["kind"] == "address")
        .and_then(|e| e.subject.clone())
        .expect("an address lock-out")
}

#[tokio::test]
async fn only_a_trusted_proxy_names_the_client_and_only_its_own_entry_counts() {
    use breakglass_server::throttle::Budget;
    let budget = Budget { attempts: 1, period: std::time::Duration::from_secs(600) };
    // Not behind a trusted proxy: the header is the client's own words and ignored.
    let t = TestApp::start_configured(|c| c.sign_in.per_address = budget).await;
    assert_eq!(locked_out_as(&t, "x@example.com", "198.51.100.7").await, "127.0.0.1");
    // Behind one: the rightmost entry its proxy wrote (with a port, as some proxies write it),
    // never the one the client put further left.
    let t = TestApp::start_configured(|c| {
        c.sign_in.per_address = budget;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(locked_out_as(&t, "x@example.com", "198.51.100.7, 203.0.113.5:4711").await, "203.0.113.5");
}

#[tokio::test]
async fn a_replica_starting_and_verifying_while_another_writes_finds_nothing_wrong() {
    let a = TestApp::start().await;
    let admin = a.admin();
    let writing = tokio::spawn(async move {
        for n in 0..60 {
            let user = CreateUser {
                email: format!("w{n}@example.com"),
                name: "W".into(),
                admin_role: None,
                password: None,
            };
            admin.create_user(&user).await.unwrap();
        }
    });
    let b = a.second_server().await;
    let report = a.admin().verify_audit().await.unwrap();
    writing.await.unwrap();
    assert!(report.ok, "verify while writes go on: {report:?}");
    assert_eq!(b.anonymous().health().await.unwrap().integrity, None, "a replica started during writes");
    assert_eq!(a.anonymous().health().await.unwrap().integrity, None);
    b.stop().await;
    a.stop().await;
}
