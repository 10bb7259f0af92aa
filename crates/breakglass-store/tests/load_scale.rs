//! Start-up at scale: loading the model from a SQLite file, or a PostgreSQL database, holding a
//! million live bindings.
//!
//! Ignored by default (they build a large database); run them in release mode to see the
//! figures: `cargo test -p breakglass-store --release --test load_scale -- --ignored --nocapture`
//! (the PostgreSQL one with `BREAKGLASS_TEST_DATABASE_URL` naming a server, where it creates and
//! then drops a database of its own).
//! It prints timings rather than asserting them: timings belong in benchmarks, not tests.

use std::time::{Duration, Instant};

use breakglass_core::time::Timestamp;
use breakglass_store::{PgStore, SqliteStore, Store};

const USERS: i64 = 10_000;
const WORKSPACES: i64 = 1_000;
const PROJECTS_PER_WORKSPACE: i64 = 10;
const BINDINGS: i64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a million-row database; run in release mode with --ignored"]
async fn load_a_million_bindings() {
    let dir = std::env::temp_dir().join(format!("breakglass-store-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteStore::open(&dir.join("scale.db")).await.unwrap();
    store.migrate().await.unwrap();

    // Rows are generated in SQL: going through `commit` would measure the writer instead.
    let started = Instant::now();
    store
        .execute_raw(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {USERS})
             INSERT INTO users (id, email, name, admin_role, status, created_at)
             SELECT printf('00000000-0000-4000-8000-%012x', i), printf('user%d@example.com', i),
                    printf('User %d', i), 'none', 'active', 0 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {WORKSPACES})
             INSERT INTO workspaces (id, name, status, project_quota, created_at)
             SELECT printf('ws-%d', i), printf('Workspace %d', i), 'active', 100, 0 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
                                     WHERE i + 1 < {WORKSPACES} * {PROJECTS_PER_WORKSPACE})
             INSERT INTO projects (workspace_id, id, name, created_at)
             SELECT printf('ws-%d', i / {PROJECTS_PER_WORKSPACE}), printf('p-%d', i % {PROJECTS_PER_WORKSPACE}),
                    printf('Project %d', i), 0 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {BINDINGS})
             INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at, expires_at,
                                   source, created_by, reason)
             SELECT printf('%08x-0000-4000-8000-%012x', i, i),
                    printf('00000000-0000-4000-8000-%012x', i % {USERS}),
                    printf('ws-%d', i % {WORKSPACES}),
                    CASE WHEN i % 2 = 0 THEN NULL ELSE printf('p-%d', i % {PROJECTS_PER_WORKSPACE}) END,
                    CASE WHEN i % 2 = 0 THEN 'member' ELSE 'reader' END,
                    0, CASE WHEN i % 3 = 0 THEN 4102444800000000 ELSE NULL END,
                    'direct', '00000000-0000-4000-8000-000000000000', NULL
             FROM n;"
        ))
        .await
        .unwrap();
    println!("generated {BINDINGS} bindings in {:?}", started.elapsed());

    for _ in 0..3 {
        let started = Instant::now();
        let state = store.load_state(Timestamp::from_micros(0)).await.unwrap();
        println!("load_state: {} bindings in {:?}", state.binding_count(), started.elapsed());
        assert_eq!(state.binding_count(), BINDINGS as usize);
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a million-row database; run in release mode with --ignored"]
async fn load_a_million_bindings_from_postgres() {
    use sqlx::Connection;
    let Some(server) = std::env::var("BREAKGLASS_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        println!("BREAKGLASS_TEST_DATABASE_URL is not set: nothing to measure");
        return;
    };
    let name = format!("bg_scale_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    let (base, query) = server.split_once('?').map_or((server.as_str(), None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..].find('/').map_or(base, |i| &base[..authority + i]);
    let url = format!("{base}/{name}{}", query.map(|q| format!("?{q}")).unwrap_or_default());

    let store = PgStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let started = Instant::now();
    store
        .execute_raw(&format!(
            "INSERT INTO users (id, email, name, admin_role, status, created_at)
             SELECT '00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'), 'user' || i || '@example.com',
                    'User ' || i, 'none', 'active', 0 FROM generate_series(0, {USERS} - 1) AS i;
             INSERT INTO workspaces (id, name, status, project_quota, created_at)
             SELECT 'ws-' || i, 'Workspace ' || i, 'active', 100, 0 FROM generate_series(0, {WORKSPACES} - 1) AS i;
             INSERT INTO projects (workspace_id, id, name, created_at)
             SELECT 'ws-' || i / {PROJECTS_PER_WORKSPACE}, 'p-' || i % {PROJECTS_PER_WORKSPACE}, 'Project ' || i, 0
             FROM generate_series(0, {WORKSPACES} * {PROJECTS_PER_WORKSPACE} - 1) AS i;
             INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at, expires_at,
                                   source, created_by, reason)
             SELECT lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'),
                    '00000000-0000-4000-8000-' || lpad(to_hex(i % {USERS}), 12, '0'),
                    'ws-' || i % {WORKSPACES},
                    CASE WHEN i % 2 = 0 THEN NULL ELSE 'p-' || i % {PROJECTS_PER_WORKSPACE} END,
                    CASE WHEN i % 2 = 0 THEN 'member' ELSE 'reader' END,
                    0, CASE WHEN i % 3 = 0 THEN 4102444800000000 END,
                    'direct', '00000000-0000-4000-8000-000000000000', NULL
             FROM generate_series(0, {BINDINGS} - 1) AS i;"
        ))
        .await
        .unwrap();
    // As a server's database would be after autovacuum: hint bits set, statistics taken.
    store.execute_raw("VACUUM ANALYZE").await.unwrap();
    println!("generated {BINDINGS} bindings in {:?}", started.elapsed());

    for _ in 0..3 {
        let started = Instant::now();
        let state = store.load_state(Timestamp::from_micros(0)).await.unwrap();
        println!("load_state: {} bindings in {:?}", state.binding_count(), started.elapsed());
        assert_eq!(state.binding_count(), BINDINGS as usize);
    }
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
}

/// CPU time this process has used so far, all threads together (the machine is shared, so
/// wall-clock time alone says little about the work done).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields 14 and 15 (user and system time, in clock ticks of 10 ms) follow the command name.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 =
        after_name.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

/// Events read per page while verifying, as the server reads them.
const PAGE: u32 = 10_000;

/// Events in the big chain (`AUDIT_EVENTS` overrides, e.g. 500000 for a quick run).
fn audit_events() -> i64 {
    std::env::var("AUDIT_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000)
}

/// Verification rounds (`VERIFY_ROUNDS` overrides).
fn verify_rounds() -> usize {
    std::env::var("VERIFY_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// Start-up and `audit verify` over a long chain: five million sealed events written straight
/// into a SQLite file, then the model loaded (start-up reads the head, never the log) and the
/// whole chain verified as `GET /api/v1/audit/verify` does (`VERIFY_ROUNDS` times, 3 unless
/// set). Each round also walks it the previous way (JSON pages) for comparison, unless
/// `VERIFY_PAGES=0`; then the walk
/// runs once on one thread, and hashing alone once. CPU time is printed besides wall-clock
/// time, which says little on a shared machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a five-million-event chain; run in release mode with --ignored"]
async fn verify_five_million_events() {
    use breakglass_core::audit::ChainVerifier;

    let n = audit_events();
    // `AUDIT_DIR` keeps the chain there between runs (it is built again unless it holds `n`
    // events already).
    let keep = std::env::var_os("AUDIT_DIR").map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("breakglass-store-audit-scale-{}", std::process::id()))
    });
    let store = SqliteStore::open(&dir.join("audit.db")).await.unwrap();
    store.migrate().await.unwrap();
    let mut head = store.head().await.unwrap();
    store.close().await;
    if head.seq != n {
        let _ = std::fs::remove_dir_all(&dir);
        head = build_chain(&dir, n).await;
    }

    // Start-up: open, migrate (nothing to do) and load the model.
    let started = Instant::now();
    let store = SqliteStore::open(&dir.join("audit.db")).await.unwrap();
    store.migrate().await.unwrap();
    let state = store.load_state(Timestamp::from_micros(1_800_000_000_000_000)).await.unwrap();
    let startup = started.elapsed();
    assert_eq!(state.head(), head);

    // Verify as `GET /api/v1/audit/verify` does (`Store::verify_chain`: on a SQLite file,
    // direct cursors on every core, each reading seq ranges and hashing what it reads), then
    // as it did before, for comparison on the same machine at the same time: pages of stored
    // events sent by SQLite as JSON, each hashed on every core while the next page is read.
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per_s = |d: Duration| n as f64 / d.as_secs_f64();
    let micros_per_event = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    for _ in 0..verify_rounds() {
        let (started, cpu) = (Instant::now(), cpu_time());
        let checked = store.verify_chain(n, threads).await.unwrap();
        let (verify, verify_cpu) = (started.elapsed(), cpu_time() - cpu);
        assert_eq!((checked.head, checked.broken), (head, None));

        if std::env::var("VERIFY_PAGES").is_ok_and(|v| v == "0") {
            println!(
                "{{\"measure\":\"audit_scale\",\"events\":{n},\"threads\":{threads},\"startup_s\":{:.2},\"verify_s\":{:.2},\"verify_events_per_s\":{:.0},\"verify_cpu_s\":{:.2},\"verify_cpu_us_per_event\":{:.2}}}",
                startup.as_secs_f64(),
                verify.as_secs_f64(),
                per_s(verify),
                verify_cpu.as_secs_f64(),
                micros_per_event(verify_cpu),
            );
            continue;
        }
        let (started, cpu) = (Instant::now(), cpu_time());
        let checked = breakglass_store::verify_in_pages(&store, n, threads).await.unwrap();
        let (pages, pages_cpu) = (started.elapsed(), cpu_time() - cpu);
        assert_eq!((checked.head, checked.broken), (head, None));
        println!(
            "{{\"measure\":\"audit_scale\",\"events\":{n},\"threads\":{threads},\"startup_s\":{:.2},\"verify_s\":{:.2},\"verify_events_per_s\":{:.0},\"verify_cpu_s\":{:.2},\"verify_cpu_us_per_event\":{:.2},\"pages_s\":{:.2},\"pages_events_per_s\":{:.0},\"pages_cpu_s\":{:.2},\"pages_cpu_us_per_event\":{:.2}}}",
            startup.as_secs_f64(),
            verify.as_secs_f64(),
            per_s(verify),
            verify_cpu.as_secs_f64(),
            micros_per_event(verify_cpu),
            pages.as_secs_f64(),
            per_s(pages),
            pages_cpu.as_secs_f64(),
            micros_per_event(pages_cpu),
        );
    }

    // Where the time goes on one thread: the new walk alone, and hashing alone (events read
    // beforehand, a page at a time, not timed).
    let (started, cpu) = (Instant::now(), cpu_time());
    let checked = store.verify_chain(n, 1).await.unwrap();
    let (one, one_cpu) = (started.elapsed(), cpu_time() - cpu);
    assert_eq!(checked.head, head);
    let mut hashing = Duration::ZERO;
    let mut v = ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store.stored_events_after(after, PAGE).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        let t = Instant::now();
        v.push_stored(&page, 1).unwrap();
        hashing += t.elapsed();
    }
    assert_eq!(v.finish(n).unwrap(), head);
    println!(
        "{{\"measure\":\"audit_scale_one_thread\",\"events\":{n},\"verify_s\":{:.2},\"verify_events_per_s\":{:.0},\"verify_cpu_us_per_event\":{:.2},\"hashing_s\":{:.2},\"hashing_events_per_s\":{:.0}}}",
        one.as_secs_f64(),
        per_s(one),
        micros_per_event(one_cpu),
        hashing.as_secs_f64(),
        per_s(hashing),
    );
    store.close().await;
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Writes `n` sealed events straight into a new SQLite file in `dir`; returns the head.
async fn build_chain(dir: &std::path::Path, n: i64) -> breakglass_core::audit::ChainHead {
    use breakglass_core::audit::{self, AuditEvent, ChainHead, EventType, NewEvent};

    let store = SqliteStore::open(&dir.join("audit.db")).await.unwrap();
    store.migrate().await.unwrap();
    let started = Instant::now();
    let mut head = ChainHead::default();
    let mut sql = String::new();
    let flush = async |sql: &mut String| {
        if !sql.is_empty() {
            store.execute_raw(&format!("BEGIN; {sql} COMMIT;")).await.unwrap();
            sql.clear();
        }
    };
    let mut rows = Vec::new();
    for i in 0..n {
        let ev = NewEvent {
            time: Timestamp::from_micros(1_700_000_000_000_000 + i),
            event_type: EventType::UserAssigned,
            actor: format!("admin{}@example.com", i % 7),
            on_behalf_of: None,
            workspace: Some(format!("ws-{}", i % 1000)),
            project: None,
            subject: Some(format!("user{}@example.com", i % 10_000)),
            details: serde_json::json!({"role": "member", "binding_id": format!("b-{i}")}),
        };
        let e: AuditEvent = audit::seal(head, &ev);
        head = ChainHead { seq: e.seq, hash: e.hash };
        rows.push(format!(
            "({}, {}, '{}', '{}', NULL, '{}', NULL, '{}', '{}', X'{}', X'{}')",
            e.seq,
            e.time.as_micros(),
            e.event_type,
            e.actor,
            e.workspace.as_deref().unwrap_or_default(),
            e.subject.as_deref().unwrap_or_default(),
            e.details,
            hex::encode(e.prev_hash),
            hex::encode(e.hash)
        ));
        if rows.len() == 5_000 {
            sql.push_str(&format!(
                "INSERT INTO audit_events (seq, time, type, actor, on_behalf_of, workspace, project, \
                 subject, details, prev_hash, hash) VALUES {};",
                rows.join(",")
            ));
            rows.clear();
            if sql.len() > 8_000_000 {
                flush(&mut sql).await;
            }
        }
    }
    if !rows.is_empty() {
        sql.push_str(&format!(
            "INSERT INTO audit_events (seq, time, type, actor, on_behalf_of, workspace, project, \
             subject, details, prev_hash, hash) VALUES {};",
            rows.join(",")
        ));
    }
    flush(&mut sql).await;
    println!("built a chain of {n} events in {:.1?}", started.elapsed());
    store.close().await;

    head
}
