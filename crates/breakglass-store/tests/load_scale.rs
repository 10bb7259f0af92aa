//! Start-up at scale: loading the model from a SQLite file holding a million live bindings.
//!
//! Ignored by default (it builds a large database); run it in release mode to see the figure:
//! `cargo test -p breakglass-store --release --test load_scale -- --ignored --nocapture`.
//! It prints timings rather than asserting them: timings belong in benchmarks, not tests.

use std::time::Instant;

use breakglass_core::time::Timestamp;
use breakglass_store::{SqliteStore, Store};

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
