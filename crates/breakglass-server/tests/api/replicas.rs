//! Several servers on one database: a write on one is visible on another, and a check with
//! `min_seq` never answers from a state older than a write the client already saw committed.

use breakglass_client::api::{BatchCheckRequest, CheckRequest, SetMember};

use crate::common::*;

const BOB: &str = "bob@example.com";

fn check(user: &str, ws: &str, min_seq: Option<i64>) -> CheckRequest {
    CheckRequest { user: user.into(), workspace: ws.into(), project: None, role: "member".into(), min_seq }
}

#[tokio::test]
async fn a_revocation_on_one_server_is_seen_by_another_when_the_check_demands_its_seq() {
    let a = TestApp::start().await;
    a.user(BOB).await;
    a.workspace("alpha", &[]).await;
    let admin_a = a.admin();
    admin_a
        .set_workspace_member("alpha", BOB, &SetMember { role: "member".into(), ..Default::default() })
        .await
        .unwrap();
    let b = a.second_server().await;
    let admin_b = b.admin();
    assert!(admin_b.check(&check(BOB, "alpha", admin_a.last_seq())).await.unwrap().allowed);

    // Revoke on A; B, asked with A's answer's sequence number, must already deny. No sleeping:
    // the background sync runs only every 500 ms, so an answer here proves `min_seq` caught up.
    for round in 0..5 {
        admin_a.remove_workspace_member("alpha", BOB).await.unwrap();
        let seq = admin_a.last_seq().expect("a write answers with Breakglass-Seq");
        let r = admin_b.check(&check(BOB, "alpha", Some(seq))).await.unwrap();
        assert!(!r.allowed, "round {round}: B answered from before seq {seq}: {r:?}");
        admin_a
            .set_workspace_member("alpha", BOB, &SetMember { role: "member".into(), ..Default::default() })
            .await
            .unwrap();
        let seq = admin_a.last_seq().unwrap();
        let batch = BatchCheckRequest { checks: vec![check(BOB, "alpha", None)], min_seq: Some(seq) };
        assert!(admin_b.check_batch(&batch).await.unwrap().results[0].allowed, "round {round}");
    }
    let health = b.admin().health().await.unwrap();
    assert!(health.seq >= admin_a.last_seq().unwrap());
    assert!(!health.stale);
    assert_eq!(b.app.full_reloads(), 0, "B followed A through the change log, without reloading");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_check_demanding_a_future_seq_fails_clearly_instead_of_answering_from_the_past() {
    let t = TestApp::start().await;
    t.user(BOB).await;
    t.workspace("alpha", &[]).await;
    let head = t.seq().await;
    let started = std::time::Instant::now();
    // A seq no write ever reached is a wrong number: refused at once, without waiting.
    expect_problem(
        t.admin().check(&check(BOB, "alpha", Some(head + 1000))).await,
        422,
        "consistency.unknown_seq",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "it does not wait");
    // A seq already reached answers at once.
    assert!(!t.admin().check(&check(BOB, "alpha", Some(head))).await.unwrap().allowed);
    t.stop().await;
}

/// Polls `f` every 50 ms for up to `secs` seconds of real time until it is true.
async fn eventually(secs: u64, mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if f().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_replica_that_loses_the_database_answers_checks_refuses_writes_and_catches_up() {
    let a = TestApp::start().await;
    let Some(server) = pg_server_url() else {
        eprintln!("skipped: needs BREAKGLASS_TEST_DATABASE_URL (a replica losing PostgreSQL)");
        return a.stop().await;
    };
    a.user(BOB).await;
    a.workspace("alpha", &[]).await;
    let member = SetMember { role: "member".into(), ..Default::default() };
    a.admin().set_workspace_member("alpha", BOB, &member).await.unwrap();
    let link = CuttableLink::open(host_port(&server)).await;
    let url = via_port(&a.db.as_ref().unwrap().url, link.port);
    let b = a.replica_via(url).await.unwrap();
    let admin_b = b.admin();
    assert!(admin_b.check(&check(BOB, "alpha", a.admin().last_seq())).await.unwrap().allowed);

    link.cut();
    assert!(eventually(10, async || admin_b.health().await.is_ok_and(|h| h.stale)).await, "B reports stale");
    // Checks still answer from B's index; writes are refused plainly.
    assert!(admin_b.check(&check(BOB, "alpha", None)).await.unwrap().allowed);
    expect_problem(admin_b.remove_workspace_member("alpha", BOB).await, 503, "store.unavailable");
    // Meanwhile A, still connected, revokes.
    a.admin().remove_workspace_member("alpha", BOB).await.unwrap();
    let seq = a.admin().last_seq().unwrap();

    link.restore();
    assert!(
        eventually(15, async || admin_b.health().await.is_ok_and(|h| !h.stale && h.seq >= seq)).await,
        "B catches up once the database is back"
    );
    assert!(!admin_b.check(&check(BOB, "alpha", Some(seq))).await.unwrap().allowed);
    admin_b.set_workspace_member("alpha", BOB, &member).await.unwrap();
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn the_sweeper_runs_on_every_replica_without_recording_an_expiry_twice() {
    let a = TestApp::start().await;
    a.workspace("alpha", &[]).await;
    let admin = a.admin();
    let n = 12;
    for i in 0..n {
        let email = format!("temp{i}@example.com");
        a.user(&email).await;
        admin
            .create_grant(&breakglass_client::api::CreateGrant {
                user: email,
                workspace: "alpha".into(),
                role: "member".into(),
                expires_in: Some("1h".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let b = a.second_server().await;
    let later = a.advance(breakglass_core::time::Span::hours(2));
    b.set_time(later);
    // Both replicas sweep at the same moment, twice over.
    let (x, y) = tokio::join!(a.sweep(), b.sweep());
    let (x2, y2) = tokio::join!(a.sweep(), b.sweep());
    assert_eq!(x + y + x2 + y2, n, "each expiry recorded by exactly one replica");
    assert_eq!(a.events_of("BINDING_EXPIRED").await.len(), n);
    b.stop().await;
    a.stop().await;
}
