//! Measurements kept in the repo, ignored by default (timings are never asserted): run them by
//! name with `--ignored --nocapture`. Each prints one JSON line; BENCHMARKS.md records the
//! figures and the exact commands. With `BREAKGLASS_TEST_DATABASE_URL` set they run on
//! PostgreSQL, otherwise on SQLite.

#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use breakglass_client::api::{CheckRequest, CreateRequest, EntitlementBody, PolicyBody, SetMember};
use common::*;

fn count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn backend() -> &'static str {
    if pg_server_url().is_some() {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Revoke on replica A, then ask replica B (over HTTP, without `min_seq`) until it denies: the
/// time until B's own state reflects A's write. `MEASURE_N` revocations (default 1,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn propagation_lag_between_replicas() {
    let n = count("MEASURE_N", 1000);
    let a = TestApp::start().await;
    a.user("bob@example.com").await;
    a.workspace("alpha", &[]).await;
    let member = SetMember { role: "member".into(), ..Default::default() };
    let admin_a = a.admin();
    admin_a.set_workspace_member("alpha", "bob@example.com", &member).await.unwrap();
    let b = a.second_server().await;
    let admin_b = b.admin();
    let check = CheckRequest {
        user: "bob@example.com".into(),
        workspace: "alpha".into(),
        project: None,
        role: "member".into(),
        min_seq: None,
    };
    let wait_until = async |allowed: bool| {
        let started = Instant::now();
        while admin_b.check(&check).await.unwrap().allowed != allowed {
            assert!(started.elapsed() < Duration::from_secs(10), "B never caught up");
        }
        started.elapsed()
    };
    wait_until(true).await;
    let mut lags = Vec::with_capacity(n);
    for _ in 0..n {
        // From the moment A answered the revocation (it is committed then) to B denying.
        admin_a.remove_workspace_member("alpha", "bob@example.com").await.unwrap();
        lags.push(wait_until(false).await);
        admin_a.set_workspace_member("alpha", "bob@example.com", &member).await.unwrap();
        wait_until(true).await;
    }
    lags.sort();
    println!(
        "{{\"measure\":\"propagation_lag\",\"backend\":\"{}\",\"n\":{n},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2},\"full_reloads_on_b\":{}}}",
        backend(),
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        percentile(&lags, 1.0),
        b.app.full_reloads()
    );
    b.stop().await;
    a.stop().await;
}

/// Emergency request → grant under an auto-approving emergency policy, from `MEASURE_CLIENTS`
/// concurrent clients (default 8) for `MEASURE_SECS` seconds (default 10), with the audit chain
/// on and every grant committed durably before it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn emergency_grants_per_second() {
    let clients = count("MEASURE_CLIENTS", 8);
    let secs = count("MEASURE_SECS", 10) as u64;
    let t = TestApp::start().await;
    // MEASURE_MAX_GROUP=1 measures without group commit, for a comparison on the same machine.
    t.app.limit_groups(count("MEASURE_MAX_GROUP", 64));
    let admin = t.admin();
    t.workspace("ops", &[]).await;
    t.project("ops", "db").await;
    let glass = admin
        .create_policy(&PolicyBody {
            name: "break glass".into(),
            workspace: None,
            steps: Vec::new(),
            max_duration: Some("1h".into()),
            justification_required: Some(true),
            pending_ttl: None,
        })
        .await
        .unwrap();
    admin
        .set_project_entitlement(
            "ops",
            "db",
            "admin",
            &EntitlementBody {
                request_policy: None,
                emergency_enabled: true,
                emergency_policy: Some(glass.id.clone()),
            },
        )
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..clients {
        let email = format!("oncall{i}@example.com");
        let c = t.user(&email).await;
        admin
            .set_workspace_member("ops", &email, &SetMember { role: "member".into(), ..Default::default() })
            .await
            .unwrap();
        users.push(c);
    }
    let ask = CreateRequest {
        workspace: "ops".into(),
        project: Some("db".into()),
        role: "admin".into(),
        duration: "30m".into(),
        justification: Some("INC-1: measuring".into()),
        emergency: true,
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in users {
        let ask = ask.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let r = c.create_request(&ask).await.unwrap();
                assert_eq!(r.state, "granted", "{r:?}");
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let grants = t.events_of("ACCESS_GRANTED").await.len();
    assert_eq!(grants, lat.len(), "every answer is a recorded grant");
    // How many commits carried how many commands (group commit), set-up included.
    let groups: Vec<String> = t.app.group_sizes().iter().map(|(size, n)| format!("\"{size}\":{n}")).collect();
    println!(
        "{{\"measure\":\"emergency_grants\",\"backend\":\"{}\",\"clients\":{clients},\"grants\":{},\"grants_per_s\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"group_sizes\":{{{}}}}}",
        backend(),
        lat.len(),
        lat.len() as f64 / elapsed,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        groups.join(",")
    );
    t.stop().await;
}
