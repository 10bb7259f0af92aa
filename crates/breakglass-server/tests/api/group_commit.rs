//! Group commit (see `App::execute`): commands that queue behind a commit are decided one after
//! another, each on the model including the changes of those before it, committed in one
//! transaction and applied at once. Checks never see a change before its commit, and a group
//! whose commit fails leaves the model as the database has it.
//!
//! Each case drives a second `App` on the test server's database, behind a store that can hold
//! a commit at the door: that is what makes a group form deterministically.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use breakglass_core::audit::{AuditEvent, ChainHead, StoredEvent};
use breakglass_core::cmd::workspaces::{self, NewProject};
use breakglass_core::ident::{Email, Name, Slug, TokenId, UserId};
use breakglass_core::model::PasswordHash;
use breakglass_core::time::Timestamp;
use breakglass_core::{Actor, Changes, State};
use breakglass_server::app::Committed;
use breakglass_server::error::ApiError;
use breakglass_server::{App, Clock};
use breakglass_store::{AuditFilter, ChainCheck, CommittedChanges, PgStore, SqliteStore, Store, StoreError};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::common::*;

/// A store that can hold the next commit at the door until told to go on, or fail it, and that
/// records how many commands each commit carried.
struct Gate {
    inner: Arc<dyn Store>,
    hold: AtomicBool,
    entered: Notify,
    go: Semaphore,
    fail: Mutex<Option<StoreError>>,
    sizes: Mutex<Vec<usize>>,
}

impl Gate {
    /// Holds the next commit at the door.
    fn hold_next(&self) {
        self.hold.store(true, Ordering::SeqCst);
    }

    /// Waits until a held commit is at the door.
    async fn reached(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.entered.notified())
            .await
            .expect("a commit reaches the door");
    }

    /// Lets the held commit go on, failing it with `error` when given.
    fn release(&self, error: Option<StoreError>) {
        *self.fail.lock().unwrap() = error;
        self.go.add_permits(1);
    }

    fn sizes(&self) -> Vec<usize> {
        self.sizes.lock().unwrap().clone()
    }
}

#[async_trait]
impl Store for Gate {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }

    async fn load_state(&self, now: Timestamp) -> Result<State, StoreError> {
        self.inner.load_state(now).await
    }

    async fn commit(&self, base_seq: i64, changes: &Changes) -> Result<ChainHead, StoreError> {
        let heads = self.commit_group(base_seq, std::slice::from_ref(changes)).await?;
        Ok(*heads.last().expect("one head per command"))
    }

    async fn commit_group(&self, base_seq: i64, group: &[Changes]) -> Result<Vec<ChainHead>, StoreError> {
        let held = self.hold.swap(false, Ordering::SeqCst);
        if held {
            self.entered.notify_one();
            self.go.acquire().await.expect("the gate stays open").forget();
        }
        self.sizes.lock().unwrap().push(group.len());
        if let Some(e) = held.then(|| self.fail.lock().unwrap().take()).flatten() {
            return Err(e);
        }
        self.inner.commit_group(base_seq, group).await
    }

    async fn head(&self) -> Result<ChainHead, StoreError> {
        self.inner.head().await
    }

    async fn password_hash(&self, user: UserId) -> Result<Option<PasswordHash>, StoreError> {
        self.inner.password_hash(user).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit(filter).await
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit_after(after_seq, limit).await
    }

    async fn stored_events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.stored_events_after(after_seq, limit).await
    }

    async fn verify_chain(&self, end_seq: i64, threads: usize) -> Result<ChainCheck, StoreError> {
        self.inner.verify_chain(end_seq, threads).await
    }

    async fn record_token_use(&self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        self.inner.record_token_use(uses).await
    }

    async fn changes_after(&self, after_seq: i64, limit: u32) -> Result<Vec<CommittedChanges>, StoreError> {
        self.inner.changes_after(after_seq, limit).await
    }

    async fn token_last_used(&self, tokens: &[TokenId]) -> Result<Vec<(TokenId, Timestamp)>, StoreError> {
        self.inner.token_last_used(tokens).await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.take_lease(name, holder, now, until).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.inner.release_lease(name, holder).await
    }

    async fn change_log_head(&self) -> Result<i64, StoreError> {
        self.inner.change_log_head().await
    }
}

/// The test server (for the set-up, through the API: workspaces `ops` with project `p0` and
/// `hold`, each with a quota of `quota`), a second `App` on its database behind a gate, and the
/// first admin's id.
async fn gated(quota: u32) -> (TestApp, Arc<Gate>, Arc<App>, UserId) {
    let t = TestApp::start_with_quota(quota).await;
    t.workspace("ops", &[]).await;
    t.project("ops", "p0").await;
    t.workspace("hold", &[]).await;
    let inner: Arc<dyn Store> = match &t.db {
        Some(db) => Arc::new(PgStore::connect(&db.url).await.unwrap()),
        None => Arc::new(SqliteStore::open(&t.db_path()).await.unwrap()),
    };
    let gate = Arc::new(Gate {
        inner,
        hold: AtomicBool::new(false),
        entered: Notify::new(),
        go: Semaphore::new(0),
        fail: Mutex::new(None),
        sizes: Mutex::new(Vec::new()),
    });
    let app = Arc::new(App::load(gate.clone(), Clock::manual(t.now())).await.unwrap());
    let admin = app.state().user_by_email(&Email::parse(ADMIN_EMAIL).unwrap()).unwrap().id;
    (t, gate, app, admin)
}

/// Creates project `id` in `ws` as `admin`, in a task of its own.
fn create_project(
    app: &Arc<App>,
    admin: UserId,
    ws: &'static str,
    id: &'static str,
) -> JoinHandle<Result<Committed<()>, ApiError>> {
    let app = app.clone();
    tokio::spawn(async move {
        let new = NewProject {
            workspace: Slug::parse(ws).unwrap(),
            id: Slug::parse(id).unwrap(),
            name: Name::parse(id).unwrap(),
            tags: Default::default(),
        };
        app.execute(Actor::User(admin), |s, c| Ok((workspaces::create_project(s, c, new.clone())?, ()))).await
    })
}

/// Holds a commit at the door: project `hold/{id}`, which the commands started next queue behind.
async fn hold_a_commit(
    gate: &Gate,
    app: &Arc<App>,
    admin: UserId,
    id: &'static str,
) -> JoinHandle<Result<Committed<()>, ApiError>> {
    gate.hold_next();
    let held = create_project(app, admin, "hold", id);
    gate.reached().await;
    held
}

/// Gives spawned commands the time to queue for the writer lock behind a held commit.
async fn let_them_queue() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn projects(state: &State, ws: &str) -> Vec<String> {
    state.projects_of(&Slug::parse(ws).unwrap()).map(|p| p.id.to_string()).collect()
}

/// The live model shows what a fresh load of the database shows.
async fn assert_model_is_the_database(app: &App, store: &dyn Store) {
    let fresh = store.load_state(app.now()).await.unwrap();
    let live = app.state();
    assert_eq!(live.head(), fresh.head(), "the model's head is the database's");
    let ids = |s: &State| s.workspaces().map(|w| w.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&live), ids(&fresh));
    for ws in fresh.workspaces() {
        assert_eq!(live.workspace(&ws.id), Some(ws));
        assert_eq!(projects(&live, ws.id.as_str()), projects(&fresh, ws.id.as_str()));
    }
    assert_eq!(live.binding_count(), fresh.binding_count());
    assert_eq!(live.user_count(), fresh.user_count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_queued_behind_a_commit_are_decided_on_each_other_and_committed_together() {
    let (t, gate, app, admin) = gated(3).await;
    let held = hold_a_commit(&gate, &app, admin, "first").await;
    // A commit under way is not in the model yet.
    assert!(projects(&app.state(), "hold").is_empty(), "a check saw a change before its commit");

    // Three creations race for the two slots `ops` has left.
    let racers = [
        create_project(&app, admin, "ops", "b1"),
        create_project(&app, admin, "ops", "b2"),
        create_project(&app, admin, "ops", "b3"),
    ];
    let_them_queue().await;
    gate.hold_next();
    gate.release(None);
    held.await.unwrap().unwrap();
    assert_eq!(projects(&app.state(), "hold"), ["first"]);

    // The group is decided and at the door: the refused racer was decided on the others'
    // changes, so it waits for them to commit; none of them is in the model yet.
    gate.reached().await;
    assert!(racers.iter().all(|r| !r.is_finished()), "a racer was answered before its group committed");
    assert_eq!(projects(&app.state(), "ops"), ["p0"], "a check saw a change before its commit");
    gate.release(None);
    let mut refused = Vec::new();
    for r in racers {
        if let Err(e) = r.await.unwrap() {
            refused.push(e.code);
        }
    }
    assert_eq!(refused, ["workspace.quota_exceeded"], "exactly one racer loses the last slot");
    assert_eq!(gate.sizes(), [1, 2], "the two winners were committed in one transaction");
    assert_eq!(projects(&app.state(), "ops").len(), 3);
    assert_model_is_the_database(&app, gate.inner.as_ref()).await;

    // Another process follows the group as two commits in a row.
    t.app.sync().await.unwrap();
    assert_eq!(t.app.head(), app.head());
    assert_eq!(projects(&t.app.state(), "ops").len(), 3);
    let report = t.admin().verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, app.head().seq);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_group_commit_leaves_the_model_as_the_database_has_it() {
    let (t, gate, app, admin) = gated(10).await;
    let held = hold_a_commit(&gate, &app, admin, "first").await;
    let members = [create_project(&app, admin, "ops", "c1"), create_project(&app, admin, "ops", "c2")];
    let_them_queue().await;
    gate.hold_next();
    gate.release(None);
    held.await.unwrap().unwrap();
    gate.reached().await;
    gate.release(Some(StoreError::Database(sqlx::Error::PoolTimedOut)));
    for m in members {
        let e = m.await.unwrap().expect_err("the group failed");
        assert_eq!(e.status.as_u16(), 503, "{e:?}");
    }
    assert_eq!(gate.sizes(), [1, 2]);
    assert_eq!(projects(&app.state(), "ops"), ["p0"]);
    assert_model_is_the_database(&app, gate.inner.as_ref()).await;
    // And the next command commits on it.
    create_project(&app, admin, "ops", "c3").await.unwrap().unwrap();
    assert_eq!(projects(&app.state(), "ops"), ["c3", "p0"]);
    assert_model_is_the_database(&app, gate.inner.as_ref()).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_refused_for_one_member_is_decided_again_one_by_one() {
    let (t, gate, app, admin) = gated(10).await;
    let held = hold_a_commit(&gate, &app, admin, "first").await;
    let members = [create_project(&app, admin, "ops", "d1"), create_project(&app, admin, "ops", "d2")];
    let_them_queue().await;
    gate.hold_next();
    gate.release(None);
    held.await.unwrap().unwrap();
    gate.reached().await;
    // As if one member's row were a duplicate: the store wrote nothing, and the others must not
    // share that member's refusal.
    gate.release(Some(StoreError::Duplicate("project 'ops/d1'".into())));
    for m in members {
        m.await.unwrap().unwrap();
    }
    assert_eq!(gate.sizes(), [1, 2, 1, 1], "after the refusal each member committed alone");
    assert_eq!(projects(&app.state(), "ops"), ["d1", "d2", "p0"]);
    assert_model_is_the_database(&app, gate.inner.as_ref()).await;
    t.stop().await;
}
