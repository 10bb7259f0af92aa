//! Provisioning measurements against a real PostgreSQL target (a throwaway cluster), ignored by
//! default (timings are never asserted): run them by name with `--ignored --nocapture`. Each
//! prints one JSON line; BENCHMARKS.md records the figures and the exact commands. The server's
//! own store is SQLite unless `BREAKGLASS_TEST_DATABASE_URL` is set.

#[path = "../../breakglass-connect/tests/support/cluster.rs"]
mod cluster;
#[allow(dead_code)]
mod common;
#[path = "../../breakglass-connect/tests/support/mariadb.rs"]
mod mariadb;
#[path = "../../breakglass-connect/tests/support/redis_server.rs"]
mod redis_server;
#[path = "../../breakglass-connect/tests/support/sshd.rs"]
mod sshd;

use std::time::{Duration, Instant};

use breakglass_client::api::{
    CreateGrant, CreateRequest, CreateTenant, CreateUser, RegisterPlatform, SetMember,
};
use breakglass_client::Client;
use breakglass_server::Clock;
use cluster::Cluster;
use common::*;
use mariadb::MariaDb;
use redis_server::RedisServer;
use sqlx::{Connection, Executor, PgConnection};

fn count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(mut v: Vec<Duration>) -> serde_json::Value {
    v.sort();
    serde_json::json!({
        "n": v.len(),
        "p50_ms": percentile(&v, 0.5),
        "p99_ms": percentile(&v, 0.99),
        "max_ms": percentile(&v, 1.0),
    })
}

/// A server on the system clock, a cluster with database `db`, platform `pg`, workspace `ops`
/// with project `db` (not yet on the platform unless `tenant`).
async fn world(cluster: &Cluster, tenant: bool) -> (TestApp, Client) {
    let mut admin_db = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    admin_db.execute("CREATE DATABASE db").await.unwrap();
    let body = RegisterPlatform {
        identifier: "pg".into(),
        kind: "postgres".into(),
        name: "Postgres".into(),
        settings: [("url".to_owned(), cluster.url("postgres"))].into(),
        ..Default::default()
    };
    world_with(body, "db", tenant).await
}

/// A server on the system clock with workspace `ops`, project `db` and the platform `body`
/// (named `pg`), with a tenant of `external_id` when `tenant`.
async fn world_with(body: RegisterPlatform, external_id: &str, tenant: bool) -> (TestApp, Client) {
    world_tuned(body, external_id, tenant, |_| {}).await
}

/// `world_with`, with `tweak` applied to the server's configuration.
async fn world_tuned(
    body: RegisterPlatform,
    external_id: &str,
    tenant: bool,
    tweak: impl FnOnce(&mut breakglass_server::Config) + Send + 'static,
) -> (TestApp, Client) {
    let t = TestApp::start_configured(move |c| {
        tweak(c);
        c.clock = Clock::System;
        c.sign_in.enabled = false;
        // An open-loop load generator is one client address with many connections.
        c.connections.max_connections_per_address = 0;
    })
    .await;
    let admin = t.admin();
    t.workspace("ops", &[]).await;
    t.project("ops", "db").await;
    admin.register_platform(&body).await.unwrap();
    if tenant {
        admin
            .create_tenant(
                "ops",
                "db",
                &CreateTenant { platform: "pg".into(), external_id: external_id.into() },
            )
            .await
            .unwrap();
    }
    (t, admin)
}

/// Where a grant is looked for: membership of the group role on PostgreSQL, the group's
/// selector on the ACL user on Redis.
enum Probe {
    Pg(PgConnection),
    Redis(redis::aio::MultiplexedConnection),
    /// The example MariaDB connector: the group role granted to the account's bundle role,
    /// asked with the `mysql` client (a process per poll: a few milliseconds of resolution).
    Maria,
}

impl Probe {
    async fn is_member(&mut self, group: &str, account: &str) -> bool {
        match self {
            Probe::Pg(conn) => sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid \
                 JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = $1 AND m.rolname = $2)",
            )
            .bind(group)
            .bind(account)
            .fetch_one(conn)
            .await
            .unwrap(),
            Probe::Redis(conn) => {
                let listed: redis::Value =
                    redis::cmd("ACL").arg("GETUSER").arg(account).query_async(conn).await.unwrap();
                format!("{listed:?}").contains(&format!("&breakglass:group:{group}"))
            }
            Probe::Maria => {
                let bundle = MariaDb::bundle("pg", account);
                let sql =
                    format!("SELECT 1 FROM mysql.roles_mapping WHERE Role = '{group}' AND User = '{bundle}'");
                let out = std::process::Command::new("mysql")
                    .args(["-uroot", "-N", "-B", "-e", &sql])
                    .output()
                    .unwrap();
                !String::from_utf8_lossy(&out.stdout).trim().is_empty()
            }
        }
    }
}

async fn until_member(conn: &mut Probe, group: &str, account: &str, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while conn.is_member(group, account).await != want {
        assert!(Instant::now() < deadline, "{account} in {group} never became {want}");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// Emergency request → granted → the account is a member of the admin group on PostgreSQL;
/// removing a member → the membership is gone; a grant's expiry → gone. `MEASURE_N` samples
/// of each (default 200; 30 expiries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn grant_revoke_and_expiry_reach_postgres() {
    let Some(cluster) = Cluster::start() else { return };
    let (t, admin) = world(&cluster, true).await;
    let conn = Probe::Pg(PgConnection::connect(&cluster.url("postgres")).await.unwrap());
    latency(&t, &admin, conn, "postgres").await;
}

/// The same on Redis: the grant is the ACL user's selector for the admin group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn grant_revoke_and_expiry_reach_redis() {
    let Some(server) = RedisServer::start() else { return };
    let body = RegisterPlatform {
        identifier: "pg".into(),
        kind: "redis".into(),
        name: "Cache".into(),
        settings: [("url".to_owned(), server.url()), ("password".to_owned(), server.password.clone())].into(),
        ..Default::default()
    };
    let (t, admin) = world_with(body, "db", true).await;
    let client = redis::Client::open(server.url_as("default", &server.password)).unwrap();
    let conn = Probe::Redis(client.get_multiplexed_async_connection().await.unwrap());
    latency(&t, &admin, conn, "redis").await;
}

/// The same through the external connector protocol and the example MariaDB connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn grant_revoke_and_expiry_reach_mariadb_through_an_external_program() {
    let Some(db) = MariaDb::start() else { return };
    let body = RegisterPlatform {
        identifier: "pg".into(),
        kind: "external".into(),
        name: "MariaDB".into(),
        settings: db.settings().into_iter().collect(),
        ..Default::default()
    };
    let dir = db.connectors.clone();
    let (t, admin) = world_tuned(body, &db.database, true, move |c| c.connectors_dir = Some(dir)).await;
    latency(&t, &admin, Probe::Maria, "mariadb (external)").await;
    drop(t);
    db.forget("pg");
    let roles =
        db.root("SELECT User FROM mysql.user WHERE is_role = 'Y' AND User LIKE 'bg\\_ops\\_db\\_%'").unwrap();
    for r in roles.lines() {
        let _ = db.root(&format!("DROP ROLE IF EXISTS `{r}`"));
    }
    let users = db.root("SELECT User FROM mysql.user WHERE User LIKE 'bg\\_oncall%'").unwrap();
    for u in users.lines() {
        let _ = db.root(&format!("DROP USER IF EXISTS '{u}'@'%'"));
    }
}

/// SSH certificates on a real sshd: an emergency grant until a certificate signed for it logs
/// in; a removal until the revocation list hosts fetch names it (and sshd then refuses it);
/// a temporary role's end until sshd refuses its certificate, by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn ssh_certificates_sign_revoke_and_expire() {
    let body = RegisterPlatform {
        identifier: "pg".into(),
        kind: "ssh".into(),
        name: "Hosts".into(),
        ..Default::default()
    };
    let (t, admin) = world_with(body, "db", true).await;
    let setup = admin.platform("pg").await.unwrap().ssh.unwrap();
    let Some(sshd) = sshd::Sshd::start("measure", &setup.ca_public_key) else { return };
    sshd.allow(&["db-admin", "db-user"]);
    let (key, public) = sshd.user_key("m");
    let krl = || async {
        reqwest::get(format!("{}/api/v1/platforms/pg/ssh/krl", t.url)).await.unwrap().bytes().await.unwrap()
    };
    sshd.set_krl(&krl().await);
    let n = count("MEASURE_N", 100);
    let ask = emergency_admin_on_ops_db(&t).await;
    let (mut grant, mut sign, mut certs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (email, user) = oncall(&t, &admin, i).await;
        let started = Instant::now();
        user.create_request(&ask).await.unwrap();
        let signing = Instant::now();
        let cert = user.sign_ssh_key("ops", "db", "pg", &public).await.unwrap();
        sign.push(signing.elapsed());
        assert!(sshd.logs_in(&key, &cert.certificate), "{}", sshd.log());
        grant.push(started.elapsed());
        certs.push((email, cert.certificate));
    }
    let (mut listed, mut refused) = (Vec::new(), Vec::new());
    for (email, cert) in &certs {
        let before = krl().await.len();
        let started = Instant::now();
        admin.remove_project_member("ops", "db", email).await.unwrap();
        let list = loop {
            let list = krl().await;
            if list.len() > before {
                break list;
            }
        };
        listed.push(started.elapsed());
        sshd.set_krl(&list);
        assert!(!sshd.logs_in(&key, cert), "revoked and refused");
        refused.push(started.elapsed());
    }
    // One at a time, so that each poll (a login attempt, some 200 ms) starts right after the
    // previous one: the figure is an upper bound by about that much.
    let mut expiry = Vec::new();
    for (email, _) in certs.iter().take(n.min(10)) {
        let body = SetMember { role: "user".into(), expires_in: Some("2s".into()), ..Default::default() };
        admin.set_project_member("ops", "db", email, &body).await.unwrap().expect_binding();
        let user = t.login(email).await;
        let cert = user.sign_ssh_key("ops", "db", "pg", &public).await.unwrap();
        let at =
            time::OffsetDateTime::parse(&cert.expires_at, &time::format_description::well_known::Rfc3339)
                .unwrap();
        while sshd.logs_in(&key, &cert.certificate) {}
        let late = time::OffsetDateTime::now_utc() - at;
        expiry.push(Duration::from_secs_f64(late.as_seconds_f64().max(0.0)));
    }
    println!(
        "{}",
        serde_json::json!({
            "measure": "ssh_certificates",
            "store": if pg_server_url().is_some() { "postgresql" } else { "sqlite" },
            "emergency_grant_to_logged_in": summary(grant),
            "sign_call": summary(sign),
            "remove_to_listed": summary(listed),
            "remove_to_refused_after_fetch": summary(refused),
            "access_end_to_refused_upper_bound": summary(expiry),
        })
    );
}

/// On-call user `i`: a member of workspace `ops`, signed in.
async fn oncall(t: &TestApp, admin: &Client, i: usize) -> (String, Client) {
    let email = format!("oncall{i}@example.com");
    let user = t.user(&email).await;
    admin
        .set_workspace_member("ops", &email, &SetMember { role: "member".into(), ..Default::default() })
        .await
        .unwrap();
    (email, user)
}

/// Lets anyone break the glass for `admin` on `ops/db` with no approval; the request to do so.
async fn emergency_admin_on_ops_db(t: &TestApp) -> CreateRequest {
    t.allow_emergency("ops", "db", "admin", false).await;
    CreateRequest {
        workspace: "ops".into(),
        project: Some("db".into()),
        role: "admin".into(),
        duration: "30m".into(),
        justification: None,
        emergency: true,
    }
}

async fn latency(t: &TestApp, admin: &Client, mut conn: Probe, target: &str) {
    let n = count("MEASURE_N", 200);
    let ask = emergency_admin_on_ops_db(t).await;
    let mut grant = Vec::new();
    for i in 0..n {
        let (email, user) = oncall(t, admin, i).await;
        let started = Instant::now();
        user.create_request(&ask).await.unwrap();
        until_member(&mut conn, "bg_ops_db_admin", &format!("bg_{email}"), true).await;
        grant.push(started.elapsed());
    }
    let mut revoke = Vec::new();
    for i in 0..n {
        let email = format!("oncall{i}@example.com");
        admin
            .set_project_member(
                "ops",
                "db",
                &email,
                &SetMember { role: "reader".into(), ..Default::default() },
            )
            .await
            .unwrap();
        until_member(&mut conn, "bg_ops_db_reader", &format!("bg_{email}"), true).await;
        let started = Instant::now();
        admin.remove_project_member("ops", "db", &email).await.unwrap();
        until_member(&mut conn, "bg_ops_db_reader", &format!("bg_{email}"), false).await;
        revoke.push(started.elapsed());
    }
    let k = n.min(30);
    let mut ends = Vec::new();
    for i in 0..k {
        let email = format!("oncall{i}@example.com");
        let body = CreateGrant {
            user: email.clone(),
            workspace: "ops".into(),
            project: Some("db".into()),
            role: "user".into(),
            expires_in: Some("2s".into()),
            ..Default::default()
        };
        let b = admin.create_grant(&body).await.unwrap().expect_binding();
        let at = time::OffsetDateTime::parse(
            b.expires_at.as_deref().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        ends.push((email, at));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut expiry = Vec::new();
    for (email, at) in ends {
        until_member(&mut conn, "bg_ops_db_user", &format!("bg_{email}"), false).await;
        let late = time::OffsetDateTime::now_utc() - at;
        expiry.push(Duration::from_secs_f64(late.as_seconds_f64().max(0.0)));
    }
    println!(
        "{}",
        serde_json::json!({
            "measure": "provisioning_latency",
            "target": target,
            "store": if pg_server_url().is_some() { "postgresql" } else { "sqlite" },
            "emergency_grant_to_member": summary(grant),
            "remove_to_gone": summary(revoke),
            "expiry_to_gone_upper_bound": summary(expiry),
        })
    );
}

/// `MEASURE_N` (default 10,000) users with a role on project `db`, then its tenant on the
/// platform: the time until PostgreSQL holds every grant, and then a full reconcile that
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn ten_thousand_grants_converge_and_a_quiet_reconcile() {
    let Some(cluster) = Cluster::start() else { return };
    let n = count("MEASURE_N", 10_000);
    // The server runs while `_server` lives.
    let (_server, admin) = world(&cluster, false).await;
    let setup = Instant::now();
    for i in 0..n {
        let email = format!("u{i}@example.com");
        let body =
            CreateUser { email: email.clone(), name: format!("User {i}"), admin_role: None, password: None };
        admin.create_user(&body).await.unwrap();
        admin
            .set_project_member(
                "ops",
                "db",
                &email,
                &SetMember { role: "reader".into(), ..Default::default() },
            )
            .await
            .unwrap();
    }
    let setup = setup.elapsed();
    let mut conn = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    let started = Instant::now();
    admin
        .create_tenant("ops", "db", &CreateTenant { platform: "pg".into(), external_id: "db".into() })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let members: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid WHERE g.rolname = 'bg_ops_db_reader'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0);
        if members as usize >= n {
            break;
        }
        assert!(Instant::now() < deadline, "did not converge: {members} of {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converge = started.elapsed();
    // The outcomes are recorded after the last grant: wait for the records, then reconcile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let quiet = Instant::now();
    let report = admin.sync_platform("pg").await.unwrap();
    let quiet = quiet.elapsed();
    println!(
        "{}",
        serde_json::json!({
            "measure": "provisioning_convergence",
            "store": if pg_server_url().is_some() { "postgresql" } else { "sqlite" },
            "grants": n,
            "setup_s": setup.as_secs_f64(),
            "converge_s": converge.as_secs_f64(),
            "quiet_full_reconcile_s": quiet.as_secs_f64(),
            "quiet_report": {"granted": report.granted, "revoked": report.revoked, "failed": report.failed},
        })
    );
}

/// Grants at `MEASURE_RATE` per second (default 1,000) for `MEASURE_SECS` (default 30), each
/// for a user of its own, open loop: the time from each grant's answer until PostgreSQL lists
/// the account in the admin group (seen by a poller every 20 ms), and how long after the last
/// answer every grant is placed. (Grants by the admin stand in for emergency requests: the
/// same commit, the same provisioning; an emergency request would need a signed-in user each.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn sustained_grants_keep_up() {
    // `RUST_LOG=breakglass_server::provision=debug` shows each pass's planning and total time.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let Some(cluster) = Cluster::start() else { return };
    let rate = count("MEASURE_RATE", 1000);
    let secs = count("MEASURE_SECS", 30);
    let n = rate * secs;
    let (_server, admin) = world(&cluster, true).await;
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("oncall{i}@example.com");
        let body = CreateUser {
            email: email.clone(),
            name: format!("On call {i}"),
            admin_role: None,
            password: None,
        };
        admin.create_user(&body).await.unwrap();
        users.push(email);
    }
    // The poller: when each account first shows in the admin group. It asks only about the
    // accounts whose grant was answered and not yet seen, so that listing 30,000 members every
    // 20 ms does not take the CPU the measured system needs.
    let seen =
        std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, Instant>::new()));
    let pending = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (seen, pending, stop, url) =
            (seen.clone(), pending.clone(), stop.clone(), cluster.url("postgres"));
        tokio::spawn(async move {
            let mut conn = PgConnection::connect(&url).await.unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let asked: Vec<String> = pending.lock().unwrap().iter().cloned().collect();
                if !asked.is_empty() {
                    let rows: Vec<String> = sqlx::query_scalar(
                        "SELECT m.rolname::text FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid \
                         JOIN pg_roles m ON m.oid = a.member \
                         WHERE g.rolname = 'bg_ops_db_admin' AND m.rolname = ANY($1)",
                    )
                    .bind(&asked)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
                    let now = Instant::now();
                    let mut seen = seen.lock().unwrap();
                    let mut pending = pending.lock().unwrap();
                    for r in rows {
                        pending.remove(&r);
                        seen.entry(r).or_insert(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for (i, email) in users.iter().enumerate() {
        let at = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let body = CreateGrant {
            user: email.clone(),
            workspace: "ops".into(),
            project: Some("db".into()),
            role: "admin".into(),
            expires_in: Some("30m".into()),
            reason: Some("INC-1: measuring".into()),
            ..Default::default()
        };
        let (client, email, pending) = (admin.clone(), email.clone(), pending.clone());
        tasks.push(tokio::spawn(async move {
            let result = client.create_grant(&body).await;
            if let Err(e) = &result {
                eprintln!("refused: {e}");
            }
            let answered = Instant::now();
            if result.is_ok() {
                pending.lock().unwrap().insert(format!("bg_{email}"));
            }
            (email, answered, result.is_ok())
        }));
    }
    let sent = started.elapsed();
    let mut answered = Vec::with_capacity(n);
    for task in tasks {
        answered.push(task.await.unwrap());
    }
    let errors = answered.iter().filter(|(_, _, ok)| !ok).count();
    let last_answer = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let placed = seen.lock().unwrap().len();
        if placed >= n - errors || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained_after = last_answer.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.await.unwrap();
    let seen = seen.lock().unwrap();
    let mut lat = Vec::new();
    let mut missing = 0;
    for (email, answered_at, ok) in &answered {
        if !ok {
            continue;
        }
        match seen.get(&format!("bg_{email}")) {
            Some(at) => lat.push(at.saturating_duration_since(*answered_at)),
            None => missing += 1,
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "measure": "provisioning_sustained",
            "store": if pg_server_url().is_some() { "postgresql" } else { "sqlite" },
            "rate": rate,
            "secs": secs,
            "sent_in_s": sent.as_secs_f64(),
            "errors": errors,
            "grant_answer_to_member": summary(lat),
            "not_placed": missing,
            "drained_after_last_answer_s": drained_after.as_secs_f64(),
        })
    );
}
