//! Measurements kept in the repo, ignored by default (timings are never asserted): run them by
//! name with `--ignored --nocapture`. Each prints one JSON line; BENCHMARKS.md records the
//! figures and the exact commands. With `BREAKGLASS_TEST_DATABASE_URL` set they run on
//! PostgreSQL, otherwise on SQLite.

#[allow(dead_code)]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use breakglass_client::api::{CheckRequest, CreateRequest, SetMember};
use breakglass_client::Client;
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

/// Emergency request → grant under an auto-approving emergency policy, with the audit chain on
/// and every grant committed durably before it is answered, for `MEASURE_SECS` seconds (default
/// 10). Two modes:
///
/// - closed loop (default): `MEASURE_CLIENTS` clients (default 8), each sending its next request
///   when the previous one is answered; this finds the most grants per second, but its latency
///   is tied to the throughput (Little's law: p50 ≈ clients / rate).
/// - open loop (`MEASURE_RATE` requests per second): requests are issued on a fixed schedule
///   whatever the answers, by `MEASURE_CLIENTS` users in turn (default 64 in this mode), at most
///   `MEASURE_INFLIGHT` (default 512) at once; each latency is measured from the request's
///   scheduled send time, so a request held back by a slow server counts its wait (no
///   coordinated omission).
///
/// Either way every answer must be `granted` and the audit chain must hold one `ACCESS_GRANTED`
/// event per answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn emergency_grants_per_second() {
    let rate = count("MEASURE_RATE", 0);
    let clients = count("MEASURE_CLIENTS", if rate > 0 { 64 } else { 8 });
    let secs = count("MEASURE_SECS", 10) as u64;
    let t = TestApp::start().await;
    // MEASURE_MAX_GROUP=1 measures without group commit, for a comparison on the same machine.
    t.app.limit_groups(count("MEASURE_MAX_GROUP", 64));
    let admin = t.admin();
    t.workspace("ops", &[]).await;
    t.project("ops", "db").await;
    t.allow_emergency("ops", "db", "admin", true).await;
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
    let setup_groups = t.app.group_sizes();
    let duration = Duration::from_secs(secs);
    let (mut lat, errors, elapsed) = if rate > 0 {
        open_loop(users, ask, rate, count("MEASURE_INFLIGHT", 512), duration).await
    } else {
        closed_loop(users, ask, duration).await
    };
    lat.sort();
    let grants = t.events_of("ACCESS_GRANTED").await.len();
    // How many commits carried how many commands (group commit), set-up excluded.
    let groups: Vec<String> = t
        .app
        .group_sizes()
        .iter()
        .map(|&(size, n)| {
            let before = setup_groups.iter().find(|(s, _)| *s == size).map_or(0, |(_, n)| *n);
            (size, n - before)
        })
        .filter(|(_, n)| *n > 0)
        .map(|(size, n)| format!("\"{size}\":{n}"))
        .collect();
    let mode = if rate > 0 { format!("\"open\",\"offered_per_s\":{rate}") } else { "\"closed\"".into() };
    println!(
        "{{\"measure\":\"emergency_grants\",\"backend\":\"{}\",\"mode\":{mode},\"clients\":{clients},\"grants\":{},\"errors\":{},\"grants_per_s\":{:.0},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2},\"group_sizes\":{{{}}}}}",
        backend(),
        lat.len(),
        errors.len(),
        lat.len() as f64 / elapsed,
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        groups.join(",")
    );
    assert!(errors.is_empty(), "every answer is a grant; {} were not, first: {}", errors.len(), errors[0]);
    assert_eq!(grants, lat.len(), "every answer is a recorded grant");
    t.stop().await;
}

/// Latencies of the granted answers, the failures, and the seconds the run took.
type Run = (Vec<Duration>, Vec<String>, f64);

/// Each client sends its next request when the previous one is answered, until `duration` is up.
async fn closed_loop(users: Vec<Client>, ask: CreateRequest, duration: Duration) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for c in users {
        let ask = ask.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), Vec::new());
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match c.create_request(&ask).await {
                    Ok(r) if r.state == breakglass_api::RequestState::Granted => lat.push(t0.elapsed()),
                    Ok(r) => errors.push(format!("{r:?}")),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), Vec::new());
    for task in tasks {
        let (l, e) = task.await.unwrap();
        lat.extend(l);
        errors.extend(e);
    }
    (lat, errors, started.elapsed().as_secs_f64())
}

/// Request `i` is due at `start + i / rate`, sent by user `i mod users`, whatever became of the
/// earlier ones; at most `inflight` are under way (a request finding none free waits, and its
/// wait counts). Latency runs from the due time. The achieved rate counts until the last answer.
async fn open_loop(
    users: Vec<Client>,
    ask: CreateRequest,
    rate: usize,
    inflight: usize,
    duration: Duration,
) -> Run {
    let total = (rate as u64 * duration.as_secs()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let permits = Arc::new(tokio::sync::Semaphore::new(inflight));
    let ask = Arc::new(ask);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (c, ask) = (users[i % users.len()].clone(), ask.clone());
        tasks.spawn(async move {
            let r = c.create_request(&ask).await;
            let took = due.elapsed();
            drop(permit);
            match r {
                Ok(r) if r.state == breakglass_api::RequestState::Granted => Ok(took),
                Ok(r) => Err(format!("{r:?}")),
                Err(e) => Err(e.to_string()),
            }
        });
    }
    let (mut lat, mut errors) = (Vec::with_capacity(total), Vec::new());
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(took) => lat.push(took),
            Err(e) => errors.push(e),
        }
    }
    (lat, errors, started.elapsed().as_secs_f64())
}
