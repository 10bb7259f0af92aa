//! The store contract: what every `Store` backend must do, written once as plain async
//! functions over a [`Harness`] and run against every backend by `backends!` at the bottom.
//!
//! Each case gets a fresh, migrated database of its own, so cases run in parallel. A new
//! backend adds one harness factory and one line to `backends!`. PostgreSQL's cases run when
//! `BREAKGLASS_TEST_DATABASE_URL` names a server (e.g. `postgres://postgres@127.0.0.1/test`):
//! each creates a database of its own there and drops it afterwards. Unset, they are skipped
//! with a note, except under CI (`CI=true`), where unset or unreachable fails them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use breakglass_core::access::{
    AccessRequest, Approval, ApproverSet, Entitlement, Policy, RequestState, Review, ReviewOutcome, Step,
};
use breakglass_core::audit::{
    self, AuditEvent, BrokenLink, ChainHead, ChainVerifier, EventType, NewEvent, StoredEvent,
};
use breakglass_core::cmd::accesses::{self, NewAccess};
use breakglass_core::cmd::members::{self, NewGrant, SetMember};
use breakglass_core::cmd::{sweep, tokens, users, workspaces};
use breakglass_core::delegation::{AccessKind, RecipientStatus};
use breakglass_core::ident::{
    BindingId, Email, InvitationId, MessageId, Name, PolicyId, RequestId, ReviewId, Slug, TokenId, UserId,
};
use breakglass_core::model::{
    Binding, BindingSource, EndReason, PasswordHash, SecretHash, Target, User, UserStatus, Workspace,
    WorkspaceStatus,
};
use breakglass_core::org::{
    Invitation, InvitationState, Message, MessageMode, Registration, Settings, Signup, TagDefinition, TagKey,
    TagRule, TagTarget, Tags,
};
use breakglass_core::platform::{ExternalId, Platform, PlatformKind, ServiceUser, ServiceUserId, Tenant};
use breakglass_core::role::{AdminRole, ProjectRole, Role, WorkspaceRole};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Actor, Change, Changes, Ctx, State};
use breakglass_store::migrate::POSTGRES_MIGRATIONS;
use breakglass_store::{AuditFilter, ChainCheck, PgStore, SqliteStore, Store, StoreError};
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harnesses: one per backend

/// A fresh database behind a store, plus what a few cases need beyond the `Store` trait.
#[async_trait]
trait Harness: Send + Sync {
    /// The store under test (migrated).
    fn store(&self) -> Arc<dyn Store>;
    /// Runs SQL on the database directly, bypassing the store.
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError>;
    /// Closes the store and opens the same database again, as a restarted server would;
    /// `None` when the data would not survive (in-memory).
    async fn reopen(&self) -> Option<Box<dyn Harness>>;
    /// Another store on the same database, as a second process would open it; `None` when the
    /// backend cannot share its database.
    async fn second(&self) -> Option<Arc<dyn Store>>;
    /// The SQL `execute_raw` takes.
    fn dialect(&self) -> Dialect;
}

/// The SQL a harness's database speaks, for the few cases that edit it directly: the same
/// edit in each backend's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `sql` run with references unchecked, so that a row can be made to point nowhere.
    fn unchecked(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => format!("PRAGMA foreign_keys = OFF; {sql}; PRAGMA foreign_keys = ON;"),
            // The reference checks are triggers, which the replica role skips (the audit log's
            // triggers fire always, so this opens no way around them).
            Dialect::Postgres => {
                format!("BEGIN; SET LOCAL session_replication_role = replica; {sql}; COMMIT;")
            }
        }
    }

    /// The JSON text in `column` with the top-level `key` set to the JSON value `value`.
    fn json_set(self, column: &str, key: &str, value: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_set({column}, '$.{key}', json('{value}'))"),
            Dialect::Postgres => format!("jsonb_set({column}::jsonb, '{{{key}}}', '{value}')::text"),
        }
    }

    /// A byte string of `n` zero bytes.
    fn zero_bytes(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("zeroblob({n})"),
            Dialect::Postgres => format!("decode(repeat('00', {n}), 'hex')"),
        }
    }

    /// Where [`spoil`] keeps the values it replaced. A pooled PostgreSQL store runs each call
    /// on any of its connections, so a temporary table (one connection's) will not do.
    fn saved(self) -> &'static str {
        match self {
            Dialect::Sqlite => "temp.saved",
            Dialect::Postgres => "saved",
        }
    }
}

struct SqliteMemory(SqliteStore);

#[async_trait]
impl Harness for SqliteMemory {
    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.0.clone())
    }
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        self.0.execute_raw(sql).await
    }
    async fn reopen(&self) -> Option<Box<dyn Harness>> {
        None
    }
    async fn second(&self) -> Option<Arc<dyn Store>> {
        None
    }
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

async fn sqlite_memory() -> Option<Box<dyn Harness>> {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store.migrate().await.unwrap();
    Some(Box::new(SqliteMemory(store)))
}

/// A directory removed when the last harness using it is dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct SqliteFile {
    store: SqliteStore,
    dir: Arc<TempDir>,
}

impl SqliteFile {
    async fn open(dir: Arc<TempDir>) -> Self {
        // A nested path also checks that `open` creates missing directories.
        let store = SqliteStore::open(&dir.0.join("data").join("breakglass.db")).await.unwrap();
        store.migrate().await.unwrap();
        Self { store, dir }
    }
}

#[async_trait]
impl Harness for SqliteFile {
    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        self.store.execute_raw(sql).await
    }
    async fn reopen(&self) -> Option<Box<dyn Harness>> {
        self.store.close().await;
        Some(Box::new(SqliteFile::open(self.dir.clone()).await))
    }
    async fn second(&self) -> Option<Arc<dyn Store>> {
        Some(SqliteFile::open(self.dir.clone()).await.store())
    }
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

async fn sqlite_file() -> Option<Box<dyn Harness>> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "breakglass-store-contract-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Some(Box::new(SqliteFile::open(Arc::new(TempDir(dir))).await))
}

/// A database of one case's own on the PostgreSQL server, dropped (closing any connection still
/// open to it) when the last harness using it is dropped, even after a failure.
struct TestDatabase {
    /// The server's URL as given, for creating and dropping.
    server: String,
    name: String,
    /// The URL of this database.
    url: String,
}

impl TestDatabase {
    async fn create(server: String) -> Self {
        use sqlx::Connection;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!("bg_contract_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!("BREAKGLASS_TEST_DATABASE_URL is set, but PostgreSQL cannot be reached there: {e}")
        });
        // A leftover of an earlier run whose process had the same id.
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let url = with_database(&server, &name);
        Self { server, name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the case's runtime, which cannot block on a future: a thread with a
        // runtime of its own does the dropping, and is waited for.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}: {dropped:?}", self.name);
        }
    }
}

/// `url` with its database replaced by `name` (and its parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..].find('/').map_or(base, |i| &base[..authority + i]);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

struct Postgres {
    store: PgStore,
    db: Arc<TestDatabase>,
}

impl Postgres {
    async fn open(db: Arc<TestDatabase>) -> Self {
        let store = PgStore::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        Self { store, db }
    }
}

#[async_trait]
impl Harness for Postgres {
    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        self.store.execute_raw(sql).await
    }
    async fn reopen(&self) -> Option<Box<dyn Harness>> {
        self.store.close().await;
        Some(Box::new(Postgres::open(self.db.clone()).await))
    }
    async fn second(&self) -> Option<Arc<dyn Store>> {
        Some(Postgres::open(self.db.clone()).await.store())
    }
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// A fresh database on the server `BREAKGLASS_TEST_DATABASE_URL` names; `None` (the case is
/// skipped) when it names none, except under CI, which must run every case.
async fn postgres() -> Option<Box<dyn Harness>> {
    let db = Arc::new(TestDatabase::create(postgres_server()?).await);
    Some(Box::new(Postgres::open(db).await))
}

/// The server `BREAKGLASS_TEST_DATABASE_URL` names; `None` when it names none, which fails
/// under CI.
fn postgres_server() -> Option<String> {
    let server = std::env::var("BREAKGLASS_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
    if server.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "CI=true: the PostgreSQL cases must run, but BREAKGLASS_TEST_DATABASE_URL is not set"
        );
        eprintln!("note: BREAKGLASS_TEST_DATABASE_URL is not set, so this PostgreSQL case is skipped");
    }
    server
}

#[test]
fn a_database_url_takes_another_database() {
    assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(with_database("postgres://h?application_name=a", "x"), "postgres://h/x?application_name=a");
}

// ---------------------------------------------------------------------------------------------
// Helpers

const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

/// `s` seconds after the start of the test world.
fn at(s: i64) -> Timestamp {
    Timestamp::from_micros(T0 + s * 1_000_000)
}

fn system(s: i64, seed: u128) -> Ctx {
    Ctx::new(at(s), Actor::System, Uuid::from_u128(seed))
}

fn as_user(s: i64, user: UserId, seed: u128) -> Ctx {
    Ctx::new(at(s), Actor::User(user), Uuid::from_u128(seed))
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn ws_target(ws: &str) -> Target {
    Target::Workspace(slug(ws))
}

fn project_target(ws: &str, p: &str) -> Target {
    Target::Project(slug(ws), slug(p))
}

/// The model kept in memory next to a store, moved forward exactly as the server does it:
/// decide on `state`, commit on its head, apply what was committed.
struct World {
    store: Arc<dyn Store>,
    state: State,
}

impl World {
    async fn new(h: &dyn Harness) -> Self {
        let store = h.store();
        let state = store.load_state(at(0)).await.unwrap();
        Self { store, state }
    }

    async fn commit(&mut self, changes: Changes) -> ChainHead {
        let head = self.store.commit(self.state.head().seq, &changes).await.unwrap();
        self.state.apply_all(&changes, head);
        head
    }

    async fn user(
        &mut self,
        addr: &str,
        admin_role: AdminRole,
        password: Option<&str>,
        seed: u128,
    ) -> UserId {
        let new = users::NewUser {
            email: email(addr),
            name: name(addr.split('@').next().unwrap()),
            admin_role,
            password_hash: password.map(|p| PasswordHash(p.to_owned())),
        };
        let (changes, id) = users::create_user(&self.state, &system(0, seed), new).unwrap();
        self.commit(changes).await;
        id
    }

    async fn workspace(&mut self, id: &str, owners: &[&str], quota: u32, seed: u128) {
        let new = workspaces::NewWorkspace {
            id: slug(id),
            name: name(&format!("Workspace {id}")),
            owners: owners.iter().map(|o| email(o)).collect(),
            members: vec![],
            project_quota: quota,
            tags: Tags::new(),
        };
        let changes = workspaces::create_workspace(&self.state, &system(1, seed), new).unwrap();
        self.commit(changes).await;
    }

    async fn project(&mut self, ws: &str, id: &str, seed: u128) {
        let changes = self.project_changes(ws, id, seed);
        self.commit(changes).await;
    }

    fn project_changes(&self, ws: &str, id: &str, seed: u128) -> Changes {
        let new =
            workspaces::NewProject { workspace: slug(ws), id: slug(id), name: name(id), tags: Tags::new() };
        workspaces::create_project(&self.state, &system(2, seed), new).unwrap()
    }
}

/// A user change built by hand, for cases that need one without going through a command.
fn new_user(addr: &str, seed: u128) -> User {
    User {
        id: UserId(Uuid::from_u128(seed)),
        email: email(addr),
        name: name("Someone"),
        admin_role: AdminRole::None,
        status: UserStatus::Active,
        created_at: at(0),
    }
}

fn workspace_record(id: &str, quota: u32) -> Workspace {
    Workspace {
        id: slug(id),
        name: name(id),
        status: WorkspaceStatus::Active,
        project_quota: quota,
        tags: Tags::new(),
        created_at: at(0),
    }
}

fn event(s: i64, ty: EventType, ws: Option<&str>, project: Option<&str>) -> NewEvent {
    NewEvent {
        time: at(s),
        event_type: ty,
        actor: "system".into(),
        on_behalf_of: None,
        workspace: ws.map(str::to_owned),
        project: project.map(str::to_owned),
        subject: None,
        details: json!({"n": s}),
    }
}

/// Asserts that two models hold the same records, through the model's public accessors.
fn assert_same_state(got: &State, want: &State) {
    assert_eq!(got.head(), want.head(), "head");
    assert_eq!(got.users(), want.users(), "users");
    assert_eq!(got.workspaces().collect::<Vec<_>>(), want.workspaces().collect::<Vec<_>>(), "workspaces");
    for ws in want.workspaces() {
        assert_eq!(
            got.projects_of(&ws.id).collect::<Vec<_>>(),
            want.projects_of(&ws.id).collect::<Vec<_>>(),
            "projects of {}",
            ws.id
        );
    }
    assert_eq!(got.binding_count(), want.binding_count(), "binding count");
    for u in want.users() {
        let sorted = |s: &State| {
            let mut v: Vec<_> = s.bindings_of_user(u.id).cloned().collect();
            v.sort_by_key(|b| b.id);
            v
        };
        assert_eq!(sorted(got), sorted(want), "bindings of {}", u.email);
        assert_eq!(got.tokens_of(u.id), want.tokens_of(u.id), "tokens of {}", u.email);
        for t in want.tokens_of(u.id) {
            assert_eq!(got.token_by_hash(&t.secret_hash), Some(t), "token by hash");
        }
    }
    assert_eq!(got.policies(), want.policies(), "policies");
    for ws in want.workspaces() {
        let sorted = |s: &State| {
            let mut v: Vec<Entitlement> = s.entitlements_in(&ws.id).cloned().collect();
            v.sort_by(|a, b| (&a.target, a.role.as_str()).cmp(&(&b.target, b.role.as_str())));
            v
        };
        assert_eq!(sorted(got), sorted(want), "entitlements in {}", ws.id);
    }
    let requests = |s: &State| {
        let mut v: Vec<AccessRequest> = s.requests().cloned().collect();
        v.sort_by_key(|r| r.id);
        v
    };
    assert_eq!(requests(got), requests(want), "requests");
    let reviews = |s: &State| {
        let mut v: Vec<Review> = s.reviews().cloned().collect();
        v.sort_by_key(|r| r.id);
        v
    };
    assert_eq!(reviews(got), reviews(want), "reviews");
    assert_eq!(got.settings(), want.settings(), "settings");
    let invitations = |s: &State| {
        let mut v: Vec<Invitation> = s.invitations().cloned().collect();
        v.sort_by_key(|i| i.id);
        v
    };
    assert_eq!(invitations(got), invitations(want), "invitations");
    assert_eq!(
        got.tag_definitions().collect::<Vec<_>>(),
        want.tag_definitions().collect::<Vec<_>>(),
        "tag definitions"
    );
    let messages = |s: &State| {
        let mut v: Vec<Message> = s.messages().cloned().collect();
        v.sort_by_key(|m| m.id);
        v
    };
    assert_eq!(messages(got), messages(want), "messages");
    for u in want.users() {
        assert_eq!(got.accesses_of(u.id), want.accesses_of(u.id), "accesses of {}", u.email);
        assert_eq!(
            got.accesses_shared_with(&u.email),
            want.accesses_shared_with(&u.email),
            "accesses shared with {}",
            u.email
        );
    }
    assert_eq!(got.platforms().collect::<Vec<_>>(), want.platforms().collect::<Vec<_>>(), "platforms");
    assert_eq!(got.tenants().collect::<Vec<_>>(), want.tenants().collect::<Vec<_>>(), "tenants");
    let service_users = |s: &State| {
        let mut v: Vec<ServiceUser> = s.service_users().cloned().collect();
        v.sort_by_key(|u| u.id);
        v
    };
    assert_eq!(service_users(got), service_users(want), "service users");
    for p in want.platforms() {
        let certs = |s: &State| s.ssh_certificates_on(&p.id).cloned().collect::<Vec<_>>();
        assert_eq!(certs(got), certs(want), "SSH certificates of {}", p.id);
    }
}

/// Everything a store can show, to prove a failed commit changed nothing.
struct Snapshot {
    head: ChainHead,
    events: Vec<AuditEvent>,
    state: State,
}

async fn snapshot(store: &dyn Store) -> Snapshot {
    Snapshot {
        head: store.head().await.unwrap(),
        events: store.audit_after(0, u32::MAX).await.unwrap(),
        state: store.load_state(at(0)).await.unwrap(),
    }
}

fn assert_unchanged(before: &Snapshot, after: &Snapshot) {
    assert_eq!(after.head, before.head, "head moved");
    assert_eq!(after.events, before.events, "audit log changed");
    assert_same_state(&after.state, &before.state);
}

/// Walks the whole chain in small pages, both decoded (`audit_after`) and as stored
/// (`stored_events_after`, hashed on two threads), and verifies every link both ways.
async fn verify_chain(store: &dyn Store) -> ChainHead {
    let head = store.head().await.unwrap();
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store.audit_after(after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            verifier.push(e).unwrap();
        }
    }
    let decoded = verifier.finish(head.seq).unwrap();
    assert_eq!(verify_stored(store, head.seq).await, Ok(decoded), "the stored rows verify alike");
    decoded
}

/// Verifies the chain through `stored_events_after` up to `end`, and through
/// `Store::verify_chain`, as `audit verify` does, which must find the same.
async fn verify_stored(store: &dyn Store, end: i64) -> Result<ChainHead, BrokenLink> {
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    let got = loop {
        let page = store.stored_events_after(after, 3).await.unwrap();
        let Some(last) = page.last() else { break verifier.finish(end) };
        after = last.seq;
        if let Err(b) = verifier.push_stored(&page, 2) {
            break Err(b);
        }
    };
    // The store's own walk (direct cursors on a SQLite file, these pages elsewhere) names the
    // same first broken link, for the same reason, on any number of threads.
    for threads in [1, 3] {
        let check = store.verify_chain(end, threads).await.unwrap();
        let walked = check.broken.map_or(Ok(check.head), Err);
        assert_eq!(walked, got, "verify_chain on {threads} threads");
    }
    got
}

/// A world with users, workspaces, projects, memberships replaced and expired, grants and
/// tokens live, revoked and lapsed. Returns it with the ids the cases look at.
struct Scenario {
    world: World,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    replaced: BindingId,
    expired: BindingId,
    overdue: BindingId,
    revoked_token: breakglass_core::ident::TokenId,
    lapsed_token: breakglass_core::ident::TokenId,
}

async fn scenario(h: &dyn Harness) -> Scenario {
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, Some("$argon2id$v=19$alice"), 1).await;
    let bob = w.user("Bob@Example.com", AdminRole::None, None, 2).await;
    let carol = w.user("carol@example.com", AdminRole::Auditor, Some("$argon2id$v=19$carol"), 3).await;
    w.workspace("team-a", &["alice@example.com"], 3, 10).await;
    w.workspace("team-b", &["bob@example.com", "alice@example.com"], 1, 11).await;
    w.project("team-a", "web", 20).await;
    w.project("team-a", "api", 21).await;
    w.project("team-b", "web", 22).await;

    let set = |target: Target, who: &str, role: Role, expires: Option<i64>| SetMember {
        target,
        email: email(who),
        role,
        expires_at: expires.map(at),
        justification: None,
    };
    let member = Role::Workspace(WorkspaceRole::Member);
    let c = members::set_member(
        &w.state,
        &as_user(10, alice, 30),
        set(ws_target("team-a"), "bob@example.com", member, None),
    )
    .unwrap();
    w.commit(c).await;
    let replaced = w.state.bindings_of_user(bob).find(|b| b.target == ws_target("team-a")).unwrap().id;
    let manager = Role::Workspace(WorkspaceRole::Manager);
    let c = members::set_member(
        &w.state,
        &as_user(11, alice, 31),
        set(ws_target("team-a"), "bob@example.com", manager, None),
    )
    .unwrap();
    assert!(c.changes.iter().any(|c| matches!(c, Change::EndBinding { reason: EndReason::Replaced, .. })));
    w.commit(c).await;

    let reader = Role::Project(ProjectRole::Reader);
    let c = members::set_member(
        &w.state,
        &as_user(12, alice, 32),
        set(project_target("team-a", "web"), "carol@example.com", reader, Some(100)),
    )
    .unwrap();
    w.commit(c).await;
    let expired = w.state.bindings_of_user(carol).next().unwrap().id;

    let (c, _) = members::grant(
        &w.state,
        &as_user(13, bob, 33),
        NewGrant {
            target: project_target("team-a", "api"),
            email: email("carol@example.com"),
            role: Role::Project(ProjectRole::Admin),
            expires_at: at(10_000),
            reason: Some("incident 42: database on fire".into()),
        },
    )
    .unwrap();
    w.commit(c).await;

    let c = members::set_member(
        &w.state,
        &as_user(150, alice, 34),
        set(ws_target("team-b"), "carol@example.com", member, Some(300)),
    )
    .unwrap();
    w.commit(c).await;
    let overdue = w.state.bindings_of_user(carol).find(|b| b.target == ws_target("team-b")).unwrap().id;

    let token = |w: &World, user, label: &str, secret: u8, expires: Option<i64>, seed| {
        tokens::create_token(
            &w.state,
            &as_user(20, user, seed),
            tokens::NewToken {
                // Confined, read-only tokens round-trip with their limits.
                scope: (label == "deploy").then(|| Slug::parse("team-a").unwrap()),
                read_only: label == "deploy",
                ..tokens::NewToken::new(name(label), SecretHash([secret; 32]), expires.map(at))
            },
        )
        .unwrap()
    };
    let (c, revoked) = token(&w, bob, "ci", 1, None, 40);
    w.commit(c).await;
    let (c, lapsed) = token(&w, bob, "short", 2, Some(50), 41);
    w.commit(c).await;
    let (c, _) = token(&w, bob, "deploy", 3, None, 42);
    w.commit(c).await;
    let (c, _) =
        tokens::sign_in(&w.state, &as_user(20, carol, 43), SecretHash([4; 32]), at(100_000)).unwrap();
    w.commit(c).await;
    let c = tokens::revoke_token(&w.state, &as_user(30, bob, 44), revoked.id).unwrap();
    w.commit(c).await;

    // At 200 the reader binding (expires at 100) is swept; carol's team-b membership (expires
    // at 300) is not yet, and stays live in the store even once it is overdue.
    let c = sweep::record_expiries(&w.state, &system(200, 50), 100);
    assert_eq!(c.changes.len(), 1);
    w.commit(c).await;

    Scenario {
        world: w,
        alice,
        bob,
        carol,
        replaced,
        expired,
        overdue,
        revoked_token: revoked.id,
        lapsed_token: lapsed.id,
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn migrate_is_idempotent(h: &dyn Harness) {
    let store = h.store();
    let mut w = World::new(h).await;
    w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let state = store.load_state(at(0)).await.unwrap();
    assert_same_state(&state, &w.state);
}

async fn migrate_refuses_a_schema_from_a_newer_binary(h: &dyn Harness) {
    h.execute_raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)")
        .await
        .unwrap();
    let err = h.store().migrate().await.unwrap_err();
    assert!(err.to_string().contains("9999"), "{err}");
}

async fn an_empty_store_has_an_empty_model(h: &dyn Harness) {
    let store = h.store();
    assert_eq!(store.head().await.unwrap(), ChainHead::default());
    let state = store.load_state(at(0)).await.unwrap();
    assert_eq!(state.user_count(), 0);
    assert_eq!(state.head(), ChainHead::default());
    assert!(store.audit_after(0, 100).await.unwrap().is_empty());
}

async fn load_state_round_trips_every_change(h: &dyn Harness) {
    let s = scenario(h).await;
    let now = at(400);
    let loaded = s.world.store.load_state(now).await.unwrap();
    let mut want = s.world.state.clone();
    want.prune_tokens(now);
    assert_same_state(&loaded, &want);
    assert_eq!(loaded.user_count(), 3);
    assert_eq!(loaded.workspaces().count(), 2);
    assert_eq!(loaded.projects_of(&slug("team-a")).count(), 2);

    let grant =
        loaded.bindings_of_user(s.carol).find(|b| b.target == project_target("team-a", "api")).unwrap();
    assert_eq!(grant.reason.as_deref(), Some("incident 42: database on fire"));
    assert_eq!(grant.created_by, Some(s.bob));
    assert_eq!(loaded.user(s.bob).unwrap().email.as_str(), "bob@example.com");
    assert_eq!(loaded.user(s.carol).unwrap().admin_role, AdminRole::Auditor);
}

async fn ended_bindings_and_dead_tokens_are_not_loaded(h: &dyn Harness) {
    let s = scenario(h).await;
    let loaded = s.world.store.load_state(at(400)).await.unwrap();
    assert!(loaded.binding(s.replaced).is_none(), "a replaced binding was loaded");
    assert!(loaded.binding(s.expired).is_none(), "a swept binding was loaded");
    let overdue = loaded.binding(s.overdue).expect("an overdue, unswept binding must stay live");
    assert!(!overdue.is_effective(at(400)));
    assert_eq!(loaded.expired_unrecorded(at(400)).len(), 1);
    assert!(loaded.token(s.revoked_token).is_none(), "a revoked token was loaded");
    assert!(loaded.token(s.lapsed_token).is_none(), "an expired token was loaded");
    assert!(loaded.token_by_hash(&SecretHash([3; 32])).is_some());
    // Before its expiry the short-lived token is live.
    let early = s.world.store.load_state(at(49)).await.unwrap();
    assert!(early.token(s.lapsed_token).is_some());
    // Exactly at its expiry it no longer is (expiry is exclusive).
    let exact = s.world.store.load_state(at(50)).await.unwrap();
    assert!(exact.token(s.lapsed_token).is_none());
}

async fn password_hashes_are_kept_apart(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = &s.world.store;
    assert_eq!(
        store.password_hash(s.alice).await.unwrap(),
        Some(PasswordHash("$argon2id$v=19$alice".into()))
    );
    assert_eq!(store.password_hash(s.bob).await.unwrap(), None);
    assert_eq!(store.password_hash(UserId(Uuid::from_u128(999))).await.unwrap(), None);
}

async fn the_chain_verifies_and_events_round_trip(h: &dyn Harness) {
    let s = scenario(h).await;
    let head = verify_chain(s.world.store.as_ref()).await;
    assert_eq!(head, s.world.state.head());

    // What comes back is exactly what sealing the events gives, details included.
    let store = h.store();
    let odd = NewEvent {
        on_behalf_of: Some("alice@example.com".into()),
        subject: Some("zoë@example.com".into()),
        details: json!({"z": [1, 2.5, null, {"b": true, "a": "é\"\n"}], "a": {}, "big": u64::MAX, "neg": -7}),
        ..event(500, EventType::Granted, Some("team-a"), Some("web"))
    };
    let new_head =
        store.commit(head.seq, &Changes { changes: vec![], events: vec![odd.clone()] }).await.unwrap();
    let sealed = audit::seal(head, &odd);
    assert_eq!(new_head, ChainHead { seq: sealed.seq, hash: sealed.hash });
    assert_eq!(store.audit_after(head.seq, 10).await.unwrap(), vec![sealed.clone()]);
    // As stored, the details are the text the encoder gives (keys sorted), the rest the same.
    let stored = store.stored_events_after(head.seq, 10).await.unwrap();
    assert_eq!(
        stored,
        vec![StoredEvent {
            seq: sealed.seq,
            time: sealed.time,
            event_type: sealed.event_type.clone(),
            actor: sealed.actor.clone(),
            on_behalf_of: sealed.on_behalf_of.clone(),
            workspace: sealed.workspace.clone(),
            project: sealed.project.clone(),
            subject: sealed.subject.clone(),
            details: sealed.details.to_string(),
            prev_hash: sealed.prev_hash,
            hash: sealed.hash,
        }]
    );
    let mut canonical = Vec::new();
    audit::stored_canonical_bytes(&stored[0], &mut canonical).unwrap();
    assert_eq!(canonical, audit::canonical_bytes(&sealed));
    verify_chain(store.as_ref()).await;
}

/// The verification read path (`stored_events_after`, details hashed as stored) names the same
/// first broken link as decoding every event would, after edits made behind the store's back
/// (its triggers dropped first, as an attacker with the database would).
async fn verify_names_the_first_edited_row_of_the_stored_chain(h: &dyn Harness) {
    let mut w = World::new(h).await;
    let events: Vec<NewEvent> = (1..=9)
        .map(|i| NewEvent {
            // No float: the edited row's text is one the verifier proves canonical and hashes
            // as it is (the round-trip case above covers floats, which it re-encodes).
            details: json!({"role": "member", "n": i, "nested": {"z": [1, -2, null], "a": "é\"\n"}}),
            ..event(i, EventType::UserAssigned, Some("team-a"), None)
        })
        .collect();
    w.commit(Changes { changes: vec![], events: events[..4].to_vec() }).await;
    w.commit(Changes { changes: vec![], events: events[4..].to_vec() }).await;
    let head = verify_chain(w.store.as_ref()).await;
    assert_eq!(head.seq, 9);
    let d = h.dialect();
    let on = if d == Dialect::Postgres { " ON audit_events" } else { "" };
    h.execute_raw(&format!("DROP TRIGGER audit_events_no_update{on}")).await.unwrap();

    let target = 5;
    let stored = w.store.stored_events_after(target - 1, 1).await.unwrap().remove(0);
    let original = stored.details.replace('\'', "''");
    // Each edit of the details text, and whether the chain still holds after it: a text that
    // decodes to the same value hashes the same, as it always has.
    let edits = [
        (stored.details.replacen("member", "owner", 1), false),
        (stored.details.replacen("\"n\":5", "\"n\":6", 1), false),
        (stored.details.replacen("\"n\":5", "\"n\":5.0", 1), false),
        (stored.details.replacen("\"n\":5", "\"n\":\"5\"", 1), false),
        (stored.details.replacen(',', ", ", 1), true),
        (format!("{} ", stored.details), true),
        (stored.details.replacen('}', "", 1), false),
        (String::from("null"), false),
    ];
    for (text, holds) in edits {
        assert_ne!(text, stored.details);
        let sql_text = text.replace('\'', "''");
        h.execute_raw(&format!("UPDATE audit_events SET details = '{sql_text}' WHERE seq = {target}"))
            .await
            .unwrap();
        let got = verify_stored(w.store.as_ref(), head.seq).await;
        assert_eq!(got.as_ref().map_err(|b| b.seq), if holds { Ok(&head) } else { Err(target) }, "{text}");
        // Where the text still decodes, decoding every event finds the same.
        if let Ok(events) = w.store.audit_after(0, 100).await {
            let mut v = ChainVerifier::new();
            let decoded = events.iter().try_for_each(|e| v.push(e)).and_then(|()| v.finish(head.seq));
            assert_eq!(decoded.map_err(|b| b.seq), got.map_err(|b| b.seq), "{text}");
        }
    }
    h.execute_raw(&format!("UPDATE audit_events SET details = '{original}' WHERE seq = {target}"))
        .await
        .unwrap();
    assert_eq!(verify_stored(w.store.as_ref(), head.seq).await, Ok(head));

    // Other columns: each edit is found at the edited row, and undone.
    let x = |hex: &str| match d {
        Dialect::Sqlite => format!("X'{hex}'"),
        Dialect::Postgres => format!("decode('{hex}', 'hex')"),
    };
    let mut edits = vec![
        ("actor", "'mallory@example.com'".to_owned(), target),
        ("time", "time + 1".to_owned(), target),
        ("workspace", "NULL".to_owned(), target),
        ("prev_hash", x(&"00".repeat(32)), target),
        ("hash", x(&"11".repeat(32)), target),
        ("hash", x(&"11".repeat(32)), head.seq),
    ];
    if d == Dialect::Sqlite {
        // SQLite text may hold a NUL (PostgreSQL's may not): what follows it counts too.
        edits.push(("actor", "actor || char(0) || 'x'".to_owned(), target));
        edits.push(("details", "details || char(0)".to_owned(), target));
    }
    for (column, value, seq) in edits {
        spoil(h, "audit_events", column, &format!("seq = {seq}"), &value).await;
        let got = verify_stored(w.store.as_ref(), head.seq).await;
        assert_eq!(got.map_err(|b| b.seq), Err(seq), "{column} of {seq}");
        restore(h, "audit_events", column, &format!("seq = {seq}")).await;
    }
    assert_eq!(verify_stored(w.store.as_ref(), head.seq).await, Ok(head));

    // A missing row is named where it went missing.
    h.execute_raw(&format!("DROP TRIGGER audit_events_no_delete{on}")).await.unwrap();
    h.execute_raw(&format!("DELETE FROM audit_events WHERE seq = {target}")).await.unwrap();
    let got = verify_stored(w.store.as_ref(), head.seq).await.unwrap_err();
    assert_eq!(got.seq, target);
    assert!(got.reason.contains("missing"), "{got:?}");
}

async fn a_stale_base_is_refused_and_writes_nothing(h: &dyn Harness) {
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let stale = w.state.clone();
    w.workspace("team-a", &[], 1, 10).await;
    let before = snapshot(w.store.as_ref()).await;

    let changes = workspaces::create_workspace(
        &stale,
        &as_user(5, alice, 11),
        workspaces::NewWorkspace {
            id: slug("team-b"),
            name: name("B"),
            owners: vec![],
            members: vec![],
            project_quota: 1,
            tags: Tags::new(),
        },
    )
    .unwrap();
    let err = w.store.commit(stale.head().seq, &changes).await.unwrap_err();
    assert!(
        matches!(err, StoreError::HeadMoved { expected, actual } if expected == stale.head().seq && actual == before.head.seq),
        "{err:?}"
    );
    // A base ahead of the head is just as wrong.
    let err = w.store.commit(before.head.seq + 1, &changes).await.unwrap_err();
    assert!(matches!(err, StoreError::HeadMoved { .. }), "{err:?}");
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
}

async fn an_empty_commit_writes_nothing_but_checks_the_base(h: &dyn Harness) {
    let mut w = World::new(h).await;
    let head = w
        .commit(Changes { changes: vec![], events: vec![event(1, EventType::UserCreated, None, None)] })
        .await;
    assert_eq!(w.store.commit(head.seq, &Changes::default()).await.unwrap(), head);
    let err = w.store.commit(0, &Changes::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::HeadMoved { expected: 0, actual: 1 }), "{err:?}");
}

async fn the_project_quota_holds_against_a_concurrent_decision(h: &dyn Harness) {
    let mut w = World::new(h).await;
    w.workspace("team-a", &[], 1, 10).await;
    // Both decided on the same state, each within quota on its own.
    let first = w.project_changes("team-a", "one", 20);
    let second = w.project_changes("team-a", "two", 21);
    w.commit(first).await;
    let before = snapshot(w.store.as_ref()).await;
    // Rebased on the new head (as a server retrying after HeadMoved without re-deciding
    // would), the store's own count still refuses it.
    let err = w.store.commit(w.state.head().seq, &second).await.unwrap_err();
    assert!(matches!(&err, StoreError::QuotaExceeded { workspace } if workspace == "team-a"), "{err:?}");
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
    assert!(w
        .store
        .audit(&AuditFilter { project: Some("two".into()), limit: 10, ..Default::default() })
        .await
        .unwrap()
        .is_empty());

    // At once, from two processes where the backend has them: eight creations decided on the
    // same state, each retried on whatever the head is until it is taken or refused. The
    // store's own count lets exactly as many through as the quota allows.
    w.workspace("team-b", &[], 2, 11).await;
    let mut stores = vec![h.store()];
    if let Some(other) = h.second().await {
        stores.push(other);
    }
    let tasks: Vec<_> = (0..8u128)
        .map(|i| {
            let store = stores[i as usize % stores.len()].clone();
            let changes = w.project_changes("team-b", &format!("p{i}"), 30 + i);
            tokio::spawn(async move {
                loop {
                    let head = store.head().await.unwrap();
                    match store.commit(head.seq, &changes).await {
                        Ok(_) => return true,
                        Err(StoreError::HeadMoved { .. }) => continue,
                        Err(StoreError::QuotaExceeded { workspace }) => {
                            assert_eq!(workspace, "team-b");
                            return false;
                        }
                        Err(e) => panic!("unexpected error: {e:?}"),
                    }
                }
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    assert_eq!(created, 2);
    let state = w.store.load_state(at(0)).await.unwrap();
    assert_eq!(state.projects_of(&slug("team-b")).count(), 2);
    assert_eq!(verify_chain(w.store.as_ref()).await, state.head());
}

async fn a_quota_of_zero_refuses_the_first_project(h: &dyn Harness) {
    let w = World::new(h).await;
    let ws = workspace_record("empty", 0);
    let project = breakglass_core::model::Project {
        workspace: ws.id.clone(),
        id: slug("p1"),
        name: name("p1"),
        tags: Tags::new(),
        created_at: at(0),
    };
    let changes = Changes {
        changes: vec![Change::CreateWorkspace(ws), Change::CreateProject { project, quota: 0 }],
        events: vec![event(1, EventType::WorkspaceCreated, Some("empty"), None)],
    };
    let before = snapshot(w.store.as_ref()).await;
    let err = w.store.commit(0, &changes).await.unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err:?}");
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
}

async fn a_failing_commit_leaves_everything_unchanged(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = s.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    let head = before.head.seq;
    let newcomer = new_user("dave@example.com", 77);
    // Valid changes first, then a duplicate: the earlier ones must be undone too.
    let changes = Changes {
        changes: vec![
            Change::CreateUser { user: newcomer.clone(), password_hash: Some(PasswordHash("$x".into())) },
            Change::EndBinding { id: s.overdue, at: at(400), reason: EndReason::Removed, by: Some(s.alice) },
            Change::RevokeToken {
                id: s.world.state.token_by_hash(&SecretHash([3; 32])).unwrap().id,
                at: at(400),
            },
            Change::CreateWorkspace(workspace_record("team-a", 5)),
        ],
        events: vec![event(400, EventType::UserCreated, None, None)],
    };
    let err = store.commit(head, &changes).await.unwrap_err();
    assert!(matches!(&err, StoreError::Duplicate(m) if m.contains("team-a")), "{err:?}");
    assert_unchanged(&before, &snapshot(store.as_ref()).await);
    assert_eq!(store.password_hash(newcomer.id).await.unwrap(), None);
    // The store is still usable at the same head.
    store
        .commit(
            head,
            &Changes { changes: vec![], events: vec![event(401, EventType::UserCreated, None, None)] },
        )
        .await
        .unwrap();
}

async fn a_group_commits_as_its_members_would_one_by_one(h: &dyn Harness) {
    let mut w = World::new(h).await;
    w.workspace("team-a", &[], 3, 10).await;
    let base = w.state.head();
    // Decided one after another, each on the model including the ones before it, as the server
    // decides a group.
    let mut model = w.state.clone();
    let mut group = Vec::new();
    for (i, p) in ["one", "two"].into_iter().enumerate() {
        let new = workspaces::NewProject {
            workspace: slug("team-a"),
            id: slug(p),
            name: name(p),
            tags: Tags::new(),
        };
        let changes = workspaces::create_project(&model, &system(2, 40 + i as u128), new).unwrap();
        let head = model.head();
        model.apply_all(&changes, head);
        group.push(changes);
    }
    let heads = w.store.commit_group(base.seq, &group).await.unwrap();
    assert_eq!(heads.len(), 2);
    let mut seq = base.seq;
    for (changes, head) in group.iter().zip(&heads) {
        seq += changes.events.len() as i64;
        assert_eq!(head.seq, seq, "each member's events follow the previous member's");
    }
    assert_eq!(verify_chain(w.store.as_ref()).await, heads[1]);
    // The change log shows two commits, the second based on the first.
    let log = w.store.changes_after(base.seq, 10).await.unwrap();
    let links: Vec<(i64, ChainHead)> = log.iter().map(|c| (c.base_seq, c.head)).collect();
    assert_eq!(links, vec![(base.seq, heads[0]), (heads[0].seq, heads[1])]);
    assert_eq!(log[1].changes, group[1].changes);
    for (changes, head) in group.iter().zip(&heads) {
        w.state.apply_all(changes, *head);
    }
    assert_same_state(&w.store.load_state(at(0)).await.unwrap(), &w.state);

    // The quota count inside the transaction sees the group's earlier members: two creations
    // decided on the same state, one slot left, refuse the whole group.
    w.workspace("team-b", &[], 1, 11).await;
    let first = w.project_changes("team-b", "xx", 50);
    let second = w.project_changes("team-b", "yy", 51);
    let before = snapshot(w.store.as_ref()).await;
    let err = w.store.commit_group(w.state.head().seq, &[first, second]).await.unwrap_err();
    assert!(matches!(&err, StoreError::QuotaExceeded { workspace } if workspace == "team-b"), "{err:?}");
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
    // A stale base refuses the group before anything is written.
    let third = w.project_changes("team-a", "three", 52);
    let err = w.store.commit_group(base.seq, &[third]).await.unwrap_err();
    assert!(matches!(err, StoreError::HeadMoved { .. }), "{err:?}");
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
}

async fn a_failing_group_commits_none_of_its_members(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = s.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    let newcomer = new_user("dave@example.com", 78);
    // A valid member first, then one that fails: the first must not stay behind.
    let group = [
        Changes {
            changes: vec![Change::CreateUser {
                user: newcomer.clone(),
                password_hash: Some(PasswordHash("$x".into())),
            }],
            events: vec![event(400, EventType::UserCreated, None, None)],
        },
        Changes {
            changes: vec![Change::CreateWorkspace(workspace_record("team-a", 5))],
            events: vec![event(400, EventType::WorkspaceCreated, Some("team-a"), None)],
        },
    ];
    let err = store.commit_group(before.head.seq, &group).await.unwrap_err();
    assert!(matches!(&err, StoreError::Duplicate(m) if m.contains("team-a")), "{err:?}");
    assert_unchanged(&before, &snapshot(store.as_ref()).await);
    assert_eq!(store.password_hash(newcomer.id).await.unwrap(), None);
    assert!(store.changes_after(before.head.seq, 10).await.unwrap().is_empty());
}

async fn duplicates_of_every_unique_key_are_refused(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = s.world.store.clone();
    let head = s.world.state.head().seq;
    let existing_token = s.world.state.token_by_hash(&SecretHash([3; 32])).unwrap().clone();
    let mut same_secret = existing_token.clone();
    same_secret.id = breakglass_core::ident::TokenId(Uuid::from_u128(5555));
    let mut same_email = new_user("alice@example.com", 88);
    same_email.name = name("Another Alice");
    let project = s.world.state.project(&slug("team-a"), &slug("web")).unwrap().clone();
    let binding = s.world.state.binding(s.overdue).unwrap().clone();
    let cases: Vec<(Change, &str)> = vec![
        (Change::CreateWorkspace(workspace_record("team-b", 1)), "team-b"),
        (Change::CreateUser { user: same_email, password_hash: None }, "alice@example.com"),
        (Change::CreateUser { user: s.world.state.user(s.bob).unwrap().clone(), password_hash: None }, ""),
        (Change::CreateToken(existing_token), ""),
        (Change::CreateToken(same_secret), "secret"),
        (Change::CreateProject { project, quota: 100 }, "web"),
        (Change::CreateBinding(binding), ""),
    ];
    let before = snapshot(store.as_ref()).await;
    for (change, mentions) in cases {
        let changes = Changes {
            changes: vec![change.clone()],
            events: vec![event(500, EventType::UserCreated, None, None)],
        };
        let err = store.commit(head, &changes).await.unwrap_err();
        assert!(matches!(&err, StoreError::Duplicate(m) if m.contains(mentions)), "{change:?}: {err:?}");
    }
    assert_unchanged(&before, &snapshot(store.as_ref()).await);
}

async fn a_change_referring_to_a_missing_record_is_refused(h: &dyn Harness) {
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    w.workspace("team-a", &[], 1, 10).await;
    let before = snapshot(w.store.as_ref()).await;
    let binding = |user, target| Binding {
        id: BindingId(Uuid::from_u128(5)),
        user,
        target,
        role: Role::Workspace(WorkspaceRole::Member),
        starts_at: at(0),
        expires_at: None,
        source: BindingSource::Direct,
        created_by: None,
        reason: None,
    };
    let nobody = UserId(Uuid::from_u128(404));
    let project = |ws: &str| breakglass_core::model::Project {
        workspace: slug(ws),
        id: slug("web"),
        name: name("web"),
        tags: Tags::new(),
        created_at: at(0),
    };
    for change in [
        Change::CreateBinding(binding(nobody, ws_target("team-a"))),
        Change::CreateBinding(binding(alice, ws_target("team-z"))),
        Change::CreateBinding(binding(alice, project_target("team-a", "nope"))),
        Change::CreateProject { project: project("team-z"), quota: 5 },
    ] {
        let changes =
            Changes { changes: vec![change.clone()], events: vec![event(1, EventType::Granted, None, None)] };
        let err = w.store.commit(w.state.head().seq, &changes).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{change:?}: {err:?}");
    }
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
}

async fn audit_filters(h: &dyn Harness) {
    let mut w = World::new(h).await;
    use EventType::*;
    let events = [
        event(1, WorkspaceCreated, Some("team-a"), None),
        event(2, ProjectCreated, Some("team-a"), Some("web")),
        event(3, UserAssigned, Some("team-a"), None),
        event(4, ProjectUserAssigned, Some("team-a"), Some("api")),
        event(5, WorkspaceCreated, Some("team-b"), None),
        event(6, ProjectCreated, Some("team-b"), Some("web")),
        event(7, UserCreated, None, None),
        event(8, ProjectUserAssigned, Some("team-a"), Some("web")),
    ];
    w.commit(Changes { changes: vec![], events: events[..5].to_vec() }).await;
    w.commit(Changes { changes: vec![], events: events[5..].to_vec() }).await;

    let all = AuditFilter { limit: 100, ..Default::default() };
    let s = |v: &str| Some(v.to_owned());
    let cases: Vec<(AuditFilter, Vec<i64>)> = vec![
        (all.clone(), (1..=8).collect()),
        (AuditFilter { workspace: s("team-a"), ..all.clone() }, vec![1, 2, 3, 4, 8]),
        (AuditFilter { workspace: s("team-a"), project: s("web"), ..all.clone() }, vec![2, 8]),
        (AuditFilter { workspace: s("team-b"), project: s("web"), ..all.clone() }, vec![6]),
        (AuditFilter { workspace: s("team-c"), ..all.clone() }, vec![]),
        (
            AuditFilter { types: vec!["PROJECT_CREATED".into(), "USER_CREATED".into()], ..all.clone() },
            vec![2, 6, 7],
        ),
        (AuditFilter { types: vec!["NO_SUCH_TYPE".into()], ..all.clone() }, vec![]),
        (AuditFilter { after_seq: Some(5), ..all.clone() }, vec![6, 7, 8]),
        (AuditFilter { since: Some(at(3)), ..all.clone() }, vec![3, 4, 5, 6, 7, 8]),
        (AuditFilter { until: Some(at(3)), ..all.clone() }, vec![1, 2]),
        (AuditFilter { since: Some(at(3)), until: Some(at(6)), ..all.clone() }, vec![3, 4, 5]),
        (AuditFilter { limit: 2, ..all.clone() }, vec![1, 2]),
        (AuditFilter { limit: 0, ..all.clone() }, vec![]),
        (AuditFilter { workspace: s("team-a"), after_seq: Some(2), limit: 2, ..all.clone() }, vec![3, 4]),
        (
            AuditFilter {
                workspace: s("team-a"),
                types: vec!["PROJECT_USER_ASSIGNED".into()],
                since: Some(at(4)),
                ..all.clone()
            },
            vec![4, 8],
        ),
    ];
    for (filter, want) in cases {
        let got: Vec<i64> = w.store.audit(&filter).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(got, want, "{filter:?}");
    }
    let after: Vec<i64> = w.store.audit_after(3, 2).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(after, [4, 5]);
    assert!(w.store.audit_after(8, 10).await.unwrap().is_empty());
    assert_eq!(w.store.audit(&all).await.unwrap(), w.store.audit_after(0, 100).await.unwrap());
}

async fn the_database_refuses_to_rewrite_the_audit_log(h: &dyn Harness) {
    let s = scenario(h).await;
    let before = snapshot(s.world.store.as_ref()).await;
    let mut attempts = vec![
        "UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)",
        "DELETE FROM audit_events",
    ];
    if h.dialect() == Dialect::Postgres {
        // SQLite has no TRUNCATE; PostgreSQL's skips row triggers, and bypassing the reference
        // checks (as `spoil` does) skips ordinary ones.
        attempts.extend([
            "TRUNCATE audit_events",
            "BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM audit_events; COMMIT",
        ]);
    }
    for sql in attempts {
        let err = h.execute_raw(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_unchanged(&before, &snapshot(s.world.store.as_ref()).await);
    verify_chain(s.world.store.as_ref()).await;
}

async fn unreadable_rows_are_reported_as_corrupt(h: &dyn Harness) {
    let id = Uuid::from_u128(42).hyphenated().to_string();
    h.execute_raw(&format!(
        "INSERT INTO users (id, email, name, admin_role, status, created_at) \
         VALUES ('{id}', 'not-an-email', 'X', 'none', 'active', 0)"
    ))
    .await
    .unwrap();
    let err = h.store().load_state(at(0)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt(m) if m.contains("users") && m.contains(&id)), "{err:?}");
}

async fn data_survives_reopening(h: &dyn Harness) {
    let s = scenario(h).await;
    let Some(reopened) = h.reopen().await else { return };
    let store = reopened.store();
    let now = at(400);
    let mut want = s.world.state.clone();
    want.prune_tokens(now);
    assert_same_state(&store.load_state(now).await.unwrap(), &want);
    assert_eq!(
        store.password_hash(s.carol).await.unwrap(),
        Some(PasswordHash("$argon2id$v=19$carol".into()))
    );
    // The chain goes on where it stopped.
    let head = want.head();
    store
        .commit(
            head.seq,
            &Changes { changes: vec![], events: vec![event(500, EventType::UserCreated, None, None)] },
        )
        .await
        .unwrap();
    assert_eq!(verify_chain(store.as_ref()).await.seq, head.seq + 1);
}

/// Many writers decide on the same head; exactly one wins, the others learn the head moved.
async fn concurrent_commits_on_one_base_let_exactly_one_through(h: &dyn Harness) {
    let mut w = World::new(h).await;
    w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let base = w.state.head().seq;
    let mut stores = vec![h.store()];
    if let Some(other) = h.second().await {
        stores.push(other);
    }
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let id = format!("ws-{i}");
            tokio::spawn(async move {
                let changes = Changes {
                    events: vec![event(1, EventType::WorkspaceCreated, Some(&id), None)],
                    changes: vec![Change::CreateWorkspace(workspace_record(&id, 1))],
                };
                store.commit(base, &changes).await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(head) => {
                won += 1;
                assert_eq!(head.seq, base + 1);
            }
            Err(StoreError::HeadMoved { expected, actual }) => {
                assert_eq!((expected, actual), (base, base + 1));
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(won, 1);
    let state = w.store.load_state(at(0)).await.unwrap();
    assert_eq!(state.workspaces().count(), 1);
    assert_eq!(verify_chain(w.store.as_ref()).await.seq, base + 1);
}

/// Two approvers of one request, each on their own process, approve at the same moment: both
/// decided on the same state, one commit wins and the other is refused, and the loser, deciding
/// again on what it reloads, finds nothing left to approve. One grant.
async fn simultaneous_approvals_on_two_processes_grant_once(h: &dyn Harness) {
    use breakglass_core::cmd::requests;
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::None, None, 1).await;
    let bob = w.user("bob@example.com", AdminRole::None, None, 2).await;
    let carol = w.user("carol@example.com", AdminRole::None, None, 3).await;
    w.workspace("team-a", &["alice@example.com", "bob@example.com"], 3, 10).await;
    w.project("team-a", "web", 20).await;
    // Carol needs to see the workspace to ask for more in it.
    let reader = SetMember {
        target: project_target("team-a", "web"),
        email: email("carol@example.com"),
        role: Role::Project(ProjectRole::Reader),
        expires_at: None,
        justification: None,
    };
    let c = members::set_member(&w.state, &as_user(20, alice, 99), reader).unwrap();
    w.commit(c).await;
    // Under the installation default: one approval from an owner or manager.
    let (c, request) = requests::create_request(
        &w.state,
        &as_user(30, carol, 100),
        requests::NewRequest {
            target: ws_target("team-a"),
            role: Role::Workspace(WorkspaceRole::Member),
            duration: Span::hours(2),
            justification: Some("deploy".into()),
            emergency: false,
        },
    )
    .unwrap();
    w.commit(c).await;

    let other = h.second().await.unwrap_or_else(|| h.store());
    let replicas = [(w.store.clone(), alice, 101), (other, bob, 102)];
    let tasks: Vec<_> = replicas
        .into_iter()
        .map(|(store, approver, seed)| {
            let state = w.state.clone();
            tokio::spawn(async move {
                let c = requests::approve(&state, &as_user(31, approver, seed), request, false).unwrap();
                let outcome = store.commit(state.head().seq, &c).await;
                (store, approver, seed, outcome)
            })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        let (store, approver, seed, outcome) = t.await.unwrap();
        match outcome {
            Ok(_) => granted += 1,
            Err(StoreError::HeadMoved { .. }) => {
                let fresh = store.load_state(at(32)).await.unwrap();
                let again = requests::approve(&fresh, &as_user(32, approver, seed + 10), request, false);
                assert!(again.is_err(), "a granted request was approved again: {again:?}");
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(granted, 1);
    let state = w.store.load_state(at(33)).await.unwrap();
    assert_eq!(state.request(request).unwrap().state, RequestState::Granted);
    let grants: Vec<&Binding> =
        state.bindings_of_user(carol).filter(|b| b.target == ws_target("team-a")).collect();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].source, BindingSource::Request(request));
    let granted_events = AuditFilter {
        types: vec![EventType::AccessGranted.as_str().into()],
        limit: 10,
        ..Default::default()
    };
    assert_eq!(w.store.audit(&granted_events).await.unwrap().len(), 1);
    verify_chain(w.store.as_ref()).await;
}

// ---------------------------------------------------------------------------------------------
// Access requests: policies, entitlements, requests, reviews

fn policy_record(seed: u128, label: &str, ws: Option<&str>, steps: Vec<Step>) -> Policy {
    Policy {
        id: PolicyId(Uuid::from_u128(seed)),
        name: name(label),
        workspace: ws.map(slug),
        steps,
        max_duration: Some(Span::hours(8)),
        justification_required: true,
        pending_ttl: Span::days(2),
        created_at: at(5),
        updated_at: at(5),
    }
}

fn request_record(seed: u128, user: UserId, target: Target, role: Role, policy: Policy) -> AccessRequest {
    AccessRequest {
        id: RequestId(Uuid::from_u128(seed)),
        user,
        created_by: user,
        requested_via: None,
        target,
        role,
        duration: Some(Span::hours(4)),
        justification: Some("ticket \"OPS-7\" — on call ✓".into()),
        emergency: false,
        lapses_at: at(10).plus(policy.pending_ttl),
        policy,
        state: RequestState::Pending,
        approvals: vec![],
        created_at: at(10),
        escalated_at: None,
        decided_at: None,
        decided_by: None,
        deny_reason: None,
        binding: None,
    }
}

fn request_binding(seed: u128, r: &AccessRequest, source: BindingSource, starts: i64) -> Binding {
    Binding {
        id: BindingId(Uuid::from_u128(seed)),
        user: r.user,
        target: r.target.clone(),
        role: r.role,
        starts_at: at(starts),
        expires_at: r.duration.map(|d| at(starts).plus(d)),
        source,
        created_by: r.decided_by,
        reason: r.justification.clone(),
    }
}

/// A world with three users, a workspace with a project, two policies, two entitlements, and
/// requests in every shape: pending with an approval, granted with its binding, emergency
/// granted with its review completed, denied; one binding extended, one made open-ended.
struct Requests {
    world: World,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    workspace_policy: PolicyId,
    global_policy: PolicyId,
    pending: RequestId,
    granted: RequestId,
    emergency: RequestId,
    denied: RequestId,
    granted_binding: BindingId,
    emergency_binding: BindingId,
    review: ReviewId,
}

async fn requests_world(h: &dyn Harness) -> Requests {
    requests_world_committed(h, false).await
}

/// [`requests_world`], its three request commits made one by one or as one group.
async fn requests_world_committed(h: &dyn Harness, grouped: bool) -> Requests {
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let bob = w.user("bob@example.com", AdminRole::None, None, 2).await;
    let carol = w.user("carol@example.com", AdminRole::None, None, 3).await;
    w.workspace("team-a", &["alice@example.com"], 3, 10).await;
    w.project("team-a", "web", 20).await;

    let workspace_policy = policy_record(
        100,
        "Two of us, then an owner — «prod»",
        Some("team-a"),
        vec![
            Step { approvers: ApproverSet::Users(vec![alice, bob]), count: 2 },
            Step { approvers: ApproverSet::WorkspaceOwners, count: 1 },
        ],
    );
    let global_policy = Policy {
        max_duration: None,
        justification_required: false,
        ..policy_record(
            101,
            "break glass",
            None,
            vec![
                Step { approvers: ApproverSet::AdminArea, count: 1 },
                Step { approvers: ApproverSet::WorkspaceManagers, count: 1 },
            ],
        )
    };
    let admin = Role::Project(ProjectRole::Admin);
    let web = project_target("team-a", "web");
    let member = Role::Workspace(WorkspaceRole::Member);
    let settings = vec![
        Change::PutEntitlement(Entitlement {
            target: web.clone(),
            role: admin,
            request_policy: Some(workspace_policy.id),
            emergency_enabled: true,
            emergency_policy: Some(global_policy.id),
            updated_at: at(6),
        }),
        Change::PutEntitlement(Entitlement {
            target: ws_target("team-a"),
            role: member,
            request_policy: None,
            emergency_enabled: false,
            emergency_policy: None,
            updated_at: at(6),
        }),
        // Entitlements first: references are checked at commit, not change by change.
        Change::PutPolicy(workspace_policy.clone()),
        Change::PutPolicy(global_policy.clone()),
    ];
    w.commit(Changes {
        changes: settings,
        events: vec![event(6, EventType::PolicyCreated, Some("team-a"), None)],
    })
    .await;

    let mut pending = request_record(200, carol, web.clone(), admin, workspace_policy.clone());
    pending.approvals = vec![Approval { by: bob, step: 0, at: at(11), is_override: false, via: None }];
    let mut granted = request_record(201, carol, ws_target("team-a"), member, Policy::installation_default());
    let mut emergency = request_record(202, bob, web.clone(), admin, global_policy.clone());
    emergency.emergency = true;
    emergency.duration = Some(Span::minutes(90));
    emergency.escalated_at = Some(at(12));
    let mut denied = request_record(203, bob, ws_target("team-a"), member, Policy::installation_default());
    denied.justification = None;
    denied.duration = None;
    let mut commits = Vec::new();
    commits.push(Changes {
        changes: [&pending, &granted, &emergency, &denied].map(|r| Change::PutRequest(r.clone())).to_vec(),
        events: vec![event(10, EventType::AccessRequested, Some("team-a"), None)],
    });

    // Decisions: in one commit the request names its binding before the binding exists and
    // the review comes before both.
    granted.state = RequestState::Granted;
    granted.approvals = vec![Approval { by: alice, step: 0, at: at(20), is_override: true, via: None }];
    granted.decided_at = Some(at(20));
    granted.decided_by = Some(alice);
    let granted_binding = request_binding(300, &granted, BindingSource::Request(granted.id), 20);
    granted.binding = Some(granted_binding.id);
    emergency.state = RequestState::Granted;
    emergency.approvals = vec![
        Approval { by: alice, step: 0, at: at(21), is_override: false, via: None },
        Approval { by: carol, step: 1, at: at(22), is_override: false, via: None },
    ];
    emergency.decided_at = Some(at(22));
    emergency.decided_by = Some(carol);
    let emergency_binding = request_binding(301, &emergency, BindingSource::Emergency(emergency.id), 22);
    emergency.binding = Some(emergency_binding.id);
    let review = Review {
        id: ReviewId(Uuid::from_u128(400)),
        request: emergency.id,
        binding: emergency_binding.id,
        holder: bob,
        target: web.clone(),
        role: admin,
        opened_at: at(22),
        outcome: None,
        notes: None,
        completed_by: None,
        completed_at: None,
    };
    denied.state = RequestState::Denied;
    denied.decided_at = Some(at(23));
    denied.decided_by = Some(alice);
    denied.deny_reason = Some("not during the freeze".into());
    commits.push(Changes {
        changes: vec![
            Change::PutReview(review.clone()),
            Change::PutRequest(granted.clone()),
            Change::PutRequest(emergency.clone()),
            Change::CreateBinding(granted_binding.clone()),
            Change::CreateBinding(emergency_binding.clone()),
            Change::PutRequest(denied.clone()),
        ],
        events: vec![event(20, EventType::AccessGranted, Some("team-a"), None)],
    });

    // Later: the review is completed, the granted binding extended, the emergency one made
    // open-ended, a policy changed (the open request keeps its copy).
    let completed = Review {
        outcome: Some(ReviewOutcome::NotJustified),
        notes: Some("no incident open at the time".into()),
        completed_by: Some(alice),
        completed_at: Some(at(30)),
        ..review.clone()
    };
    let renamed = Policy { name: name("Two of us"), updated_at: at(31), ..workspace_policy.clone() };
    commits.push(Changes {
        changes: vec![
            Change::PutReview(completed),
            Change::ExtendBinding { id: granted_binding.id, expires_at: Some(at(90_000)) },
            Change::ExtendBinding { id: emergency_binding.id, expires_at: None },
            Change::PutPolicy(renamed),
        ],
        events: vec![event(30, EventType::ReviewCompleted, Some("team-a"), Some("web"))],
    });

    if grouped {
        let heads = w.store.commit_group(w.state.head().seq, &commits).await.unwrap();
        for (changes, head) in commits.iter().zip(heads) {
            w.state.apply_all(changes, head);
        }
    } else {
        for changes in commits {
            w.commit(changes).await;
        }
    }

    Requests {
        world: w,
        alice,
        bob,
        carol,
        workspace_policy: workspace_policy.id,
        global_policy: global_policy.id,
        pending: pending.id,
        granted: granted.id,
        emergency: emergency.id,
        denied: denied.id,
        granted_binding: granted_binding.id,
        emergency_binding: emergency_binding.id,
        review: review.id,
    }
}

/// How many rows `table` holds, counted through a no-op update (the harness returns only
/// changed-row counts).
async fn rows_in(h: &dyn Harness, table: &str, column: &str) -> u64 {
    h.execute_raw(&format!("UPDATE {table} SET {column} = {column}")).await.unwrap()
}

/// Sets `column` to the SQL expression `bad` in the one row of `table` that `filter` (a
/// condition) selects, directly in the database and with references unchecked, keeping the
/// value it replaces for [`restore`].
async fn spoil(h: &dyn Harness, table: &str, column: &str, filter: &str, bad: &str) {
    let d = h.dialect();
    let create = match d {
        Dialect::Sqlite => "CREATE TEMP TABLE saved",
        Dialect::Postgres => "CREATE TABLE saved",
    };
    h.execute_raw(&d.unchecked(&format!(
        "{create} AS SELECT {column} AS v FROM {table} WHERE {filter};
         UPDATE {table} SET {column} = {bad} WHERE {filter}"
    )))
    .await
    .unwrap();
}

/// Puts back the value [`spoil`] replaced.
async fn restore(h: &dyn Harness, table: &str, column: &str, filter: &str) {
    let d = h.dialect();
    let saved = d.saved();
    h.execute_raw(&d.unchecked(&format!(
        "UPDATE {table} SET {column} = (SELECT v FROM {saved}) WHERE {filter};
         DROP TABLE {saved}"
    )))
    .await
    .unwrap();
}

/// A group holding a request's opening and its grant, and a review's opening and its
/// completion, leaves the rows one commit per member would (the store writes only the last
/// upsert of each request and review, after the group's other changes).
async fn requests_committed_in_one_group_round_trip(h: &dyn Harness) {
    let r = requests_world_committed(h, true).await;
    let loaded = r.world.store.load_state(at(40)).await.unwrap();
    assert_same_state(&loaded, &r.world.state);
    assert_eq!(loaded.pending_requests().count(), 1);
    assert_eq!(loaded.review(r.review).unwrap().outcome, Some(ReviewOutcome::NotJustified));
    assert_eq!(loaded.binding(r.granted_binding).unwrap().expires_at, Some(at(90_000)));
    assert_eq!(verify_chain(r.world.store.as_ref()).await, r.world.state.head());
    // The change log keeps each member's changes whole, the upserts not written included.
    let head = r.world.state.head().seq;
    let log = r.world.store.changes_after(head - 3, 10).await.unwrap();
    assert_eq!(
        log.iter().map(|c| (c.base_seq, c.head.seq)).collect::<Vec<_>>(),
        [(head - 3, head - 2), (head - 2, head - 1), (head - 1, head)]
    );
    assert_eq!(log[0].changes.len(), 4);
    assert!(log[0]
        .changes
        .iter()
        .all(|c| matches!(c, Change::PutRequest(r) if r.state == RequestState::Pending)));
}

async fn requests_and_their_settings_round_trip(h: &dyn Harness) {
    let r = requests_world(h).await;
    let want = &r.world.state;
    let loaded = r.world.store.load_state(at(40)).await.unwrap();
    assert_same_state(&loaded, want);

    // Spot checks through the accessors, so the comparison above cannot pass vacuously.
    let policy = loaded.policy(r.workspace_policy).unwrap();
    assert_eq!(policy.name.as_str(), "Two of us");
    assert_eq!(policy.updated_at, at(31));
    assert_eq!(policy.steps[0].approvers, ApproverSet::Users(vec![r.alice, r.bob]));
    let global = loaded.policy(r.global_policy).unwrap();
    assert_eq!((global.workspace.as_ref(), global.max_duration), (None, None));
    let settings =
        loaded.entitlement(&project_target("team-a", "web"), Role::Project(ProjectRole::Admin)).unwrap();
    assert_eq!(
        (settings.request_policy, settings.emergency_enabled, settings.emergency_policy),
        (Some(r.workspace_policy), true, Some(r.global_policy))
    );
    let member = loaded.entitlement(&ws_target("team-a"), Role::Workspace(WorkspaceRole::Member)).unwrap();
    assert_eq!((member.request_policy, member.emergency_enabled), (None, false));

    let pending = loaded.request(r.pending).unwrap();
    assert_eq!(pending.state, RequestState::Pending);
    assert_eq!(pending.policy.name.as_str(), "Two of us, then an owner — «prod»", "the copy stays");
    assert_eq!(pending.approvals.len(), 1);
    assert_eq!(pending.duration, Some(Span::hours(4)));
    assert_eq!(loaded.pending_requests().count(), 1);
    let granted = loaded.request(r.granted).unwrap();
    assert_eq!((granted.state, granted.binding), (RequestState::Granted, Some(r.granted_binding)));
    assert_eq!(granted.policy, Policy::installation_default());
    assert!(granted.approvals[0].is_override);
    let emergency = loaded.request(r.emergency).unwrap();
    assert!(emergency.emergency);
    assert_eq!(emergency.escalated_at, Some(at(12)));
    assert_eq!(emergency.decided_by, Some(r.carol));
    let denied = loaded.request(r.denied).unwrap();
    assert_eq!(denied.deny_reason.as_deref(), Some("not during the freeze"));
    assert_eq!((denied.duration, denied.justification.as_deref()), (None, None));

    let review = loaded.review(r.review).unwrap();
    assert_eq!(review.outcome, Some(ReviewOutcome::NotJustified));
    assert_eq!(review.completed_by, Some(r.alice));
    assert!(!review.is_open());

    let b = loaded.binding(r.granted_binding).unwrap();
    assert_eq!(b.source, BindingSource::Request(r.granted));
    assert_eq!(b.expires_at, Some(at(90_000)), "extended");
    let e = loaded.binding(r.emergency_binding).unwrap();
    assert_eq!(e.source, BindingSource::Emergency(r.emergency));
    assert_eq!(e.expires_at, None, "made open-ended");
    // The expiry index follows the extensions: nothing is due before the new expiry.
    assert!(loaded.expired_unrecorded(at(89_999)).is_empty());
    assert_eq!(loaded.expired_unrecorded(at(90_000)).len(), 1);

    // And all of it survives a restart.
    if let Some(reopened) = h.reopen().await {
        assert_same_state(&reopened.store().load_state(at(40)).await.unwrap(), want);
    }
}

async fn extending_an_ended_or_unknown_binding_fails_and_writes_nothing(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = s.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    for id in [s.replaced, s.expired, BindingId(Uuid::from_u128(404))] {
        // A valid change first: it must be undone too.
        let changes = Changes {
            changes: vec![
                Change::PutPolicy(policy_record(100, "p", None, vec![])),
                Change::ExtendBinding { id, expires_at: Some(at(1_000_000)) },
            ],
            events: vec![event(500, EventType::AccessGranted, None, None)],
        };
        let err = store.commit(before.head.seq, &changes).await.unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt(m) if m.contains(&id.to_string())), "{err:?}");
    }
    assert_unchanged(&before, &snapshot(store.as_ref()).await);
    assert!(store.load_state(at(0)).await.unwrap().policies().is_empty());
    // A live one, even overdue, can be extended.
    let changes = Changes {
        changes: vec![Change::ExtendBinding { id: s.overdue, expires_at: Some(at(1_000_000)) }],
        events: vec![event(500, EventType::AccessGranted, None, None)],
    };
    store.commit(before.head.seq, &changes).await.unwrap();
    let loaded = store.load_state(at(400)).await.unwrap();
    assert_eq!(loaded.binding(s.overdue).unwrap().expires_at, Some(at(1_000_000)));
    assert!(loaded.expired_unrecorded(at(400)).is_empty());
}

async fn an_entitlement_put_twice_keeps_one_row(h: &dyn Harness) {
    let mut w = World::new(h).await;
    w.workspace("team-a", &[], 3, 10).await;
    w.project("team-a", "web", 20).await;
    let policy = policy_record(100, "p", Some("team-a"), vec![]);
    let member = Role::Workspace(WorkspaceRole::Member);
    let reader = Role::Project(ProjectRole::Reader);
    let put = |target: Target, role: Role, enabled: bool, s: i64| {
        Change::PutEntitlement(Entitlement {
            target,
            role,
            request_policy: enabled.then_some(policy.id),
            emergency_enabled: enabled,
            emergency_policy: enabled.then_some(policy.id),
            updated_at: at(s),
        })
    };
    let ev = || vec![event(6, EventType::EntitlementUpdated, Some("team-a"), None)];
    w.commit(Changes {
        changes: vec![
            Change::PutPolicy(policy.clone()),
            put(ws_target("team-a"), member, false, 6),
            put(project_target("team-a", "web"), reader, false, 6),
        ],
        events: ev(),
    })
    .await;
    // Again, in two commits and twice within one: the workspace target has no project, and
    // must still be one key.
    w.commit(Changes { changes: vec![put(ws_target("team-a"), member, true, 7)], events: ev() }).await;
    w.commit(Changes {
        changes: vec![
            put(project_target("team-a", "web"), reader, false, 8),
            put(project_target("team-a", "web"), reader, true, 9),
        ],
        events: ev(),
    })
    .await;
    assert_eq!(rows_in(h, "entitlements", "role").await, 2);
    let loaded = w.store.load_state(at(10)).await.unwrap();
    assert_same_state(&loaded, &w.state);
    for target in [ws_target("team-a"), project_target("team-a", "web")] {
        let role = if target.is_project() { reader } else { member };
        let e = loaded.entitlement(&target, role).unwrap();
        assert!(e.emergency_enabled, "{target}");
        assert_eq!(e.request_policy, Some(policy.id));
    }
    assert_eq!(loaded.entitlement(&project_target("team-a", "web"), reader).unwrap().updated_at, at(9));
}

async fn a_request_put_twice_loads_as_the_latest(h: &dyn Harness) {
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let bob = w.user("bob@example.com", AdminRole::None, None, 2).await;
    w.workspace("team-a", &[], 3, 10).await;
    let member = Role::Workspace(WorkspaceRole::Member);
    let mut request = request_record(200, bob, ws_target("team-a"), member, Policy::installation_default());
    let ev = || vec![event(10, EventType::AccessRequested, Some("team-a"), None)];
    w.commit(Changes { changes: vec![Change::PutRequest(request.clone())], events: ev() }).await;
    assert_eq!(
        w.store.load_state(at(10)).await.unwrap().request(request.id).unwrap().state,
        RequestState::Pending
    );

    request.state = RequestState::Granted;
    request.approvals.push(Approval { by: alice, step: 0, at: at(20), is_override: false, via: None });
    request.decided_at = Some(at(20));
    request.decided_by = Some(alice);
    let binding = request_binding(300, &request, BindingSource::Request(request.id), 20);
    request.binding = Some(binding.id);
    w.commit(Changes {
        changes: vec![Change::CreateBinding(binding.clone()), Change::PutRequest(request.clone())],
        events: ev(),
    })
    .await;
    assert_eq!(rows_in(h, "requests", "state").await, 1);
    let loaded = w.store.load_state(at(20)).await.unwrap();
    assert_eq!(loaded.request(request.id), Some(&request));
    assert_eq!(loaded.binding(binding.id), Some(&binding));
    assert_eq!(loaded.pending_requests().count(), 0);
    assert_same_state(&loaded, &w.state);
}

/// References among the new records are checked when the transaction commits; a violation
/// then must still roll everything back and leave the store usable.
async fn a_request_referring_to_a_missing_record_is_refused_at_commit(h: &dyn Harness) {
    let r = requests_world(h).await;
    let store = r.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    let head = before.head.seq;
    let existing = before.state.request(r.pending).unwrap().clone();
    let nobody = UserId(Uuid::from_u128(404));
    let missing_request = RequestId(Uuid::from_u128(405));
    let web = project_target("team-a", "web");
    let review = before.state.review(r.review).unwrap().clone();
    let cases: Vec<Change> = vec![
        Change::PutRequest(AccessRequest { id: missing_request, user: nobody, ..existing.clone() }),
        Change::PutRequest(AccessRequest {
            binding: Some(BindingId(Uuid::from_u128(406))),
            ..existing.clone()
        }),
        Change::PutRequest(AccessRequest { target: project_target("team-a", "nope"), ..existing.clone() }),
        Change::PutReview(Review { id: ReviewId(Uuid::from_u128(407)), request: missing_request, ..review }),
        Change::PutEntitlement(Entitlement {
            target: web.clone(),
            role: Role::Project(ProjectRole::User),
            request_policy: Some(PolicyId(Uuid::from_u128(408))),
            emergency_enabled: false,
            emergency_policy: None,
            updated_at: at(50),
        }),
        Change::PutPolicy(policy_record(409, "elsewhere", Some("team-z"), vec![])),
        Change::CreateBinding(Binding {
            id: BindingId(Uuid::from_u128(410)),
            ..request_binding(0, &existing, BindingSource::Request(missing_request), 50)
        }),
    ];
    for change in cases {
        // A valid change alongside, which must be undone with it.
        let changes = Changes {
            changes: vec![
                Change::PutRequest(AccessRequest { state: RequestState::Cancelled, ..existing.clone() }),
                change.clone(),
            ],
            events: vec![event(50, EventType::RequestCancelled, Some("team-a"), None)],
        };
        let err = store.commit(head, &changes).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{change:?}: {err:?}");
        assert_unchanged(&before, &snapshot(store.as_ref()).await);
    }
    // The connection came back out of the failed transaction and commits again.
    let cancelled = AccessRequest { state: RequestState::Cancelled, ..existing };
    let changes = Changes {
        changes: vec![Change::PutRequest(cancelled.clone())],
        events: vec![event(50, EventType::RequestCancelled, Some("team-a"), None)],
    };
    store.commit(head, &changes).await.unwrap();
    assert_eq!(store.load_state(at(50)).await.unwrap().request(cancelled.id), Some(&cancelled));
}

async fn unreadable_request_rows_are_reported_as_corrupt(h: &dyn Harness) {
    let r = requests_world(h).await;
    let store = r.world.store.clone();
    let pending = r.pending.to_string();
    let policy = r.workspace_policy.to_string();
    let review = r.review.to_string();
    let ent = "team-a/web".to_owned();
    let d = h.dialect();
    let (padded, not_a_slug, negative) = (
        d.json_set("body", "name", r#"" padded ""#),
        d.json_set("body", "workspace", r#""Not A Slug""#),
        d.json_set("body", "pending_ttl", "-1"),
    );
    // (table, key column, key, column, bad value, column the error names). Each edit is made
    // directly in the database and undone before the next.
    let cases = [
        ("requests", "id", &pending, "state", "'maybe'", "state"),
        ("requests", "id", &pending, "policy", r#"'{"id": 1}'"#, "policy"),
        ("requests", "id", &pending, "approvals", r#"'[{"by": "x"}]'"#, "approvals"),
        ("requests", "id", &pending, "role", "'member'", "role"),
        ("requests", "id", &pending, "decided_by", "'not-a-uuid'", "decided_by"),
        ("policies", "id", &policy, "body", &padded, "body"),
        ("policies", "id", &policy, "body", &not_a_slug, "body"),
        ("policies", "id", &policy, "body", &negative, "body"),
        ("policies", "id", &policy, "name", "'other'", "body"),
        ("reviews", "id", &review, "outcome", "'meh'", "outcome"),
        ("entitlements", "project_id", &"web".to_owned(), "request_policy_id", "'x'", "request_policy_id"),
        ("entitlements", "project_id", &"web".to_owned(), "role", "'member'", "role"),
    ];
    for (table, key_column, key, column, bad, named) in cases {
        let shown = if table == "entitlements" { &ent } else { key };
        let filter = format!("{key_column} = '{key}'");
        spoil(h, table, column, &filter, bad).await;
        let err = store.load_state(at(40)).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m)
                if m.contains(table) && m.contains(shown.as_str()) && m.contains(&format!("column {named}"))),
            "{table}.{column} = {bad}: {err:?}"
        );
        restore(h, table, column, &filter).await;
        assert_same_state(&store.load_state(at(40)).await.unwrap(), &r.world.state);
    }
}

/// The core's own commands, whose outcomes put a request more than once and reference records
/// created in the same commit: after each one the store loads what the model holds.
async fn requests_decided_by_the_core_round_trip(h: &dyn Harness) {
    use breakglass_core::cmd::{policies, requests};
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let carol = w.user("carol@example.com", AdminRole::None, None, 3).await;
    w.workspace("team-a", &["alice@example.com"], 3, 10).await;
    w.project("team-a", "web", 20).await;
    // Carol needs to see the workspace to ask for more in it.
    let reader = SetMember {
        target: project_target("team-a", "web"),
        email: email("carol@example.com"),
        role: Role::Project(ProjectRole::Reader),
        expires_at: None,
        justification: None,
    };
    let c = members::set_member(&w.state, &as_user(20, alice, 99), reader).unwrap();
    w.commit(c).await;
    async fn step(w: &mut World, changes: Changes, now: i64) {
        w.commit(changes).await;
        assert_same_state(&w.store.load_state(at(now)).await.unwrap(), &w.state);
    }

    let member = Role::Workspace(WorkspaceRole::Member);
    let ask = |target: Target, role: Role, hours: i64, emergency: bool| requests::NewRequest {
        target,
        role,
        duration: Span::hours(hours),
        justification: Some("deploy".into()),
        emergency,
    };
    // Under the installation default: one approval from an owner or manager.
    let (c, first) = requests::create_request(
        &w.state,
        &as_user(30, carol, 100),
        ask(ws_target("team-a"), member, 2, false),
    )
    .unwrap();
    step(&mut w, c, 30).await;
    let c = requests::approve(&w.state, &as_user(31, alice, 101), first, false).unwrap();
    step(&mut w, c, 31).await;
    let granted = w.state.request(first).unwrap().clone();
    assert_eq!(granted.state, RequestState::Granted);
    let binding = granted.binding.unwrap();
    assert_eq!(w.state.binding(binding).unwrap().source, BindingSource::Request(first));

    // A second request for the same entitlement extends that binding.
    let (c, second) = requests::create_request(
        &w.state,
        &as_user(40, carol, 102),
        ask(ws_target("team-a"), member, 8, false),
    )
    .unwrap();
    step(&mut w, c, 40).await;
    let c = requests::approve(&w.state, &as_user(41, alice, 103), second, false).unwrap();
    assert!(c.changes.iter().any(|c| matches!(c, Change::ExtendBinding { .. })), "{c:?}");
    step(&mut w, c, 41).await;
    assert_eq!(w.state.request(second).unwrap().binding, Some(binding));
    assert_eq!(w.state.binding(binding).unwrap().expires_at, Some(at(41).plus(Span::hours(8))));

    // Emergency access under a policy of its own, then its review.
    let input = policies::PolicyInput {
        name: name("break glass"),
        workspace: Some(slug("team-a")),
        steps: vec![Step { approvers: ApproverSet::WorkspaceOwners, count: 1 }],
        max_duration: Some(Span::hours(4)),
        justification_required: true,
        pending_ttl: Span::hours(1),
    };
    let (c, policy) = policies::create_policy(&w.state, &as_user(50, alice, 104), input).unwrap();
    step(&mut w, c, 50).await;
    let admin = Role::Project(ProjectRole::Admin);
    let web = project_target("team-a", "web");
    let c = policies::set_entitlement(
        &w.state,
        &as_user(51, alice, 105),
        policies::SetEntitlement {
            target: web.clone(),
            role: admin,
            request_policy: None,
            emergency_enabled: true,
            emergency_policy: Some(policy),
        },
    )
    .unwrap();
    step(&mut w, c, 51).await;
    let (c, urgent) =
        requests::create_request(&w.state, &as_user(60, carol, 106), ask(web.clone(), admin, 1, true))
            .unwrap();
    step(&mut w, c, 60).await;
    let c = requests::approve(&w.state, &as_user(61, alice, 107), urgent, false).unwrap();
    step(&mut w, c, 61).await;
    let review = w.state.reviews().find(|r| r.request == urgent).unwrap().id;
    let urgent_binding = w.state.request(urgent).unwrap().binding.unwrap();
    assert_eq!(w.state.binding(urgent_binding).unwrap().source, BindingSource::Emergency(urgent));
    let c = requests::complete_review(
        &w.state,
        &as_user(70, alice, 108),
        review,
        ReviewOutcome::Justified,
        Some("incident 7".into()),
    )
    .unwrap();
    step(&mut w, c, 70).await;
    assert_eq!(
        w.store.load_state(at(70)).await.unwrap().review(review).unwrap().outcome,
        Some(ReviewOutcome::Justified)
    );
}

// ---------------------------------------------------------------------------------------------
// The admin area: tags, settings, invitations, tag definitions, messages

/// Accesses (a delegate access shared, accepted, re-shared; an API token access revoked with its
/// token), a scoped read-only token, and a request opened and approved through a delegation.
async fn delegation_records_round_trip(h: &dyn Harness) {
    let s = scenario(h).await;
    let mut w = s.world;
    let code = |n: u8| SecretHash([n; 32]);
    let new = NewAccess {
        name: name("holiday cover"),
        kind: AccessKind::Delegate,
        scope: Some(slug("team-a")),
        expires_at: Some(at(10_000)),
        read_only: false,
        recipients: vec![(email("bob@example.com"), code(7)), (email("nobody.yet@example.org"), code(8))],
        token_hash: None,
    };
    let (c, shared, _) = accesses::create(&w.state, &as_user(40, s.alice, 400), new).unwrap();
    w.commit(c).await;
    let c = accesses::accept(&w.state, &as_user(41, s.bob, 401), shared.id, code(7)).unwrap();
    w.commit(c).await;
    let c = accesses::remove_recipient(
        &w.state,
        &as_user(42, s.alice, 402),
        shared.id,
        &email("nobody.yet@example.org"),
    )
    .unwrap();
    w.commit(c).await;
    let c = accesses::add_recipient(
        &w.state,
        &as_user(43, s.alice, 403),
        shared.id,
        email("carol@example.com"),
        code(9),
    )
    .unwrap();
    w.commit(c).await;
    let bot = NewAccess {
        name: name("deploy bot"),
        kind: AccessKind::ApiToken,
        scope: None,
        expires_at: None,
        read_only: true,
        recipients: vec![],
        token_hash: Some(code(10)),
    };
    let (c, bot, token) = accesses::create(&w.state, &as_user(44, s.alice, 404), bot).unwrap();
    w.commit(c).await;
    assert!(w.state.token(token.unwrap().id).is_some());
    let c = accesses::revoke(&w.state, &as_user(45, s.alice, 405), bot.id).unwrap();
    w.commit(c).await;

    let loaded = w.store.load_state(at(46)).await.unwrap();
    assert_same_state(&loaded, &w.state);
    let a = loaded.access(shared.id).unwrap();
    assert_eq!(
        (a.name.as_str(), a.kind, a.scope.as_ref().map(Slug::as_str)),
        ("holiday cover", AccessKind::Delegate, Some("team-a"))
    );
    assert_eq!(a.expires_at, Some(at(10_000)));
    let who: Vec<(&str, RecipientStatus, SecretHash)> =
        a.recipients.iter().map(|r| (r.email.as_str(), r.status, r.code_hash)).collect();
    assert_eq!(
        who,
        vec![
            ("bob@example.com", RecipientStatus::Accepted, code(7)),
            ("carol@example.com", RecipientStatus::Pending, code(9))
        ]
    );
    assert_eq!(loaded.accesses_shared_with(&email("bob@example.com")).len(), 1);
    assert!(loaded.accesses_shared_with(&email("nobody.yet@example.org")).is_empty());
    let b = loaded.access(bot.id).unwrap();
    assert_eq!((b.revoked_at, b.revoked_by, b.kind), (Some(at(45)), Some(s.alice), AccessKind::ApiToken));
    assert!(b.token.is_some_and(|t| loaded.token(t).is_none()), "the revoked access's token is not loaded");
    assert_eq!(loaded.accesses_of(s.alice).len(), 2);
}

/// Applying the change log from an empty model rebuilds what loading gives: how replicas follow
/// each other without reloading.
async fn the_change_log_replays_every_commit(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = s.world.store.clone();
    let log = store.changes_after(0, 10_000).await.unwrap();
    assert!(log.len() > 5);
    assert_eq!(log[0].base_seq, 0, "the first commit was decided on the empty log");
    let mut replayed = State::new();
    for c in &log {
        assert_eq!(c.base_seq, replayed.head().seq, "an unbroken sequence of commits");
        replayed.apply_all(&Changes { changes: c.changes.clone(), events: Vec::new() }, c.head);
    }
    assert_eq!(replayed.head(), store.head().await.unwrap());
    let now = at(60);
    replayed.prune_tokens(now);
    let loaded = store.load_state(now).await.unwrap();
    assert_same_state(&replayed, &loaded);
    // Paging: `limit` and `after_seq` pick out exactly the later commits.
    let tail = store.changes_after(log[1].head.seq, 2).await.unwrap();
    assert_eq!(tail, log[2..4].to_vec());
    assert!(store.changes_after(store.head().await.unwrap().seq, 10).await.unwrap().is_empty());
    // A new user's password hash never reaches the log.
    let text = format!("{log:?}");
    assert!(!text.contains("$argon2id$v=19$alice"));
}

async fn token_use_is_kept_outside_the_chain(h: &dyn Harness) {
    let s = scenario(h).await;
    let store = s.world.store.clone();
    let tokens: Vec<TokenId> =
        s.world.state.users().iter().flat_map(|u| s.world.state.tokens_of(u.id)).map(|t| t.id).collect();
    assert!(!tokens.is_empty());
    assert!(store.token_last_used(&tokens).await.unwrap().is_empty(), "never used");
    let head = store.head().await.unwrap();
    store.record_token_use(&[(tokens[0], at(50))]).await.unwrap();
    // An older use never moves the time back.
    store.record_token_use(&[(tokens[0], at(40))]).await.unwrap();
    assert_eq!(store.token_last_used(&tokens).await.unwrap(), vec![(tokens[0], at(50))]);
    assert_eq!(store.head().await.unwrap(), head, "bookkeeping, not an audited change");
    store.record_token_use(&[]).await.unwrap();
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| (TagKey::parse(k).unwrap(), (*v).to_owned())).collect()
}

/// A digest of an invitation's secret, different for every seed (and with every byte value).
fn invitation_token(seed: u128) -> SecretHash {
    SecretHash(std::array::from_fn(|i| (seed as u8).wrapping_mul(37).wrapping_add(8 * i as u8)))
}

fn invitation_record(seed: u128, ws: &str, addr: &str, by: UserId) -> Invitation {
    Invitation {
        id: InvitationId(Uuid::from_u128(seed)),
        workspace: slug(ws),
        email: email(addr),
        role: WorkspaceRole::Member,
        membership_expires_at: None,
        invited_by: by,
        created_at: at(10),
        expires_at: at(10 + 7 * 86_400),
        state: InvitationState::Pending,
        decided_at: None,
        token_hash: invitation_token(seed),
    }
}

/// An invitation of an address that belongs to nobody yet, with a membership expiry.
fn pending_invitation(seed: u128, by: UserId) -> Invitation {
    Invitation {
        role: WorkspaceRole::Manager,
        membership_expires_at: Some(at(90 * 86_400)),
        ..invitation_record(seed, "team-a", "New.Person@Example.org", by)
    }
}

fn tag_definition_record(key: &str, target: TagTarget, rule: TagRule) -> TagDefinition {
    TagDefinition {
        key: TagKey::parse(key).unwrap(),
        target,
        restricted: false,
        rule,
        mandatory: false,
        default: None,
        created_at: at(5),
    }
}

fn message_record(seed: u128, ws: &str, sender: UserId, mode: MessageMode) -> Message {
    Message {
        id: MessageId(Uuid::from_u128(seed)),
        workspace: slug(ws),
        text: "Maintenance on Friday, 18:00 — «prod» is read-only.\nPlease plan ahead.".into(),
        mode,
        sender,
        created_at: at(20),
        acks: vec![],
    }
}

/// A world where every admin-area change kind was committed, several of them twice.
struct AdminArea {
    world: World,
    alice: UserId,
    bob: UserId,
    accepted: InvitationId,
    pending: InvitationId,
    acknowledged: MessageId,
    unread: MessageId,
}

async fn admin_world(h: &dyn Harness) -> AdminArea {
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let bob = w.user("bob@example.com", AdminRole::None, None, 2).await;
    w.workspace("team-a", &["alice@example.com"], 3, 10).await;
    w.project("team-a", "web", 20).await;
    let commit = |changes: Vec<Change>, ty: EventType| Changes {
        changes,
        events: vec![event(30, ty, Some("team-a"), None)],
    };

    // Tags written at creation, and a workspace updated in every mutable field.
    let tagged = Workspace {
        status: WorkspaceStatus::PendingApproval,
        tags: tags(&[("cost-center", "4711"), ("owner.team", "Platform \"Core\" ✓")]),
        ..workspace_record("team-t", 2)
    };
    let tagged_project = breakglass_core::model::Project {
        workspace: slug("team-t"),
        id: slug("db"),
        name: name("Database"),
        tags: tags(&[("tier", "gold")]),
        created_at: at(3),
    };
    w.commit(commit(
        vec![
            Change::CreateWorkspace(tagged.clone()),
            Change::CreateProject { project: tagged_project, quota: 2 },
        ],
        EventType::WorkspaceRegistered,
    ))
    .await;
    let mut ws = w.state.workspace(&slug("team-a")).unwrap().clone();
    ws.name = name("Team A, renamed");
    ws.status = WorkspaceStatus::Disabled;
    ws.project_quota = 7;
    ws.tags = tags(&[("cost-center", "42")]);
    let rejected = Workspace { status: WorkspaceStatus::Rejected, tags: Tags::new(), ..tagged };
    let mut web = w.state.project(&slug("team-a"), &slug("web")).unwrap().clone();
    web.name = name("Web shop");
    web.tags = tags(&[("tier", "silver"), ("x_1.y-z", "a")]);
    w.commit(commit(
        vec![Change::UpdateWorkspace(ws), Change::UpdateWorkspace(rejected), Change::UpdateProject(web)],
        EventType::WorkspaceUpdated,
    ))
    .await;

    // Settings, replaced once.
    let settings = Settings {
        workspace_registration: Registration::Open,
        signup: Signup::Closed,
        invitation_ttl: Span::days(3),
        default_project_quota: 5,
        restrict_admin_role_assignment: true,
        add_myself_default_expiry: Span::hours(2),
        add_myself_max_expiry: Span::days(1),
        max_expiry: Span::days(30),
        max_api_tokens_per_user: 7,
        max_sessions_per_user: 3,
    };
    w.commit(commit(vec![Change::PutSettings(Settings::default())], EventType::SettingsChanged)).await;
    w.commit(commit(vec![Change::PutSettings(settings)], EventType::SettingsChanged)).await;

    // Invitations: one accepted (put twice), one pending to an address nobody has yet.
    let invited = invitation_record(100, "team-a", "bob@example.com", alice);
    let pending = pending_invitation(101, alice);
    w.commit(commit(
        vec![Change::PutInvitation(invited.clone()), Change::PutInvitation(pending.clone())],
        EventType::UserInvited,
    ))
    .await;
    let accepted = Invitation { state: InvitationState::Accepted, decided_at: Some(at(40)), ..invited };
    w.commit(commit(vec![Change::PutInvitation(accepted.clone())], EventType::UserAcceptedInvitation)).await;

    // Tag definitions of every rule, one replaced and one removed.
    let any = tag_definition_record("owner.team", TagTarget::Workspace, TagRule::Any);
    let values = tag_definition_record(
        "tier",
        TagTarget::Project,
        TagRule::Values(vec!["gold".into(), "silver".into()]),
    );
    let pattern = TagDefinition {
        restricted: true,
        mandatory: true,
        default: Some("0000".into()),
        ..tag_definition_record("cost-center", TagTarget::Workspace, TagRule::Pattern(r"\d{2,4}".into()))
    };
    let doomed = tag_definition_record("legacy", TagTarget::Project, TagRule::Any);
    w.commit(commit(
        vec![
            Change::PutTagDefinition(any.clone()),
            Change::PutTagDefinition(values),
            Change::PutTagDefinition(pattern),
            Change::PutTagDefinition(doomed.clone()),
        ],
        EventType::TagDefined,
    ))
    .await;
    let any = TagDefinition { restricted: true, default: Some("nobody".into()), ..any };
    w.commit(commit(vec![Change::PutTagDefinition(any)], EventType::TagDefined)).await;
    w.commit(commit(vec![Change::DeleteTagDefinition(doomed.key)], EventType::TagDefinitionRemoved)).await;

    // Messages: one acknowledged by two users (put three times), one nobody read yet.
    let mut read = message_record(200, "team-a", alice, MessageMode::AllMustRead);
    let unread = message_record(201, "team-a", alice, MessageMode::SingleRead);
    w.commit(commit(
        vec![Change::PutMessage(read.clone()), Change::PutMessage(unread.clone())],
        EventType::MessageSent,
    ))
    .await;
    read.acks.push((bob, at(50)));
    w.commit(commit(vec![Change::PutMessage(read.clone())], EventType::MessageAcknowledged)).await;
    read.acks.push((alice, at(51)));
    w.commit(commit(vec![Change::PutMessage(read.clone())], EventType::MessageAcknowledged)).await;

    AdminArea {
        world: w,
        alice,
        bob,
        accepted: accepted.id,
        pending: pending.id,
        acknowledged: read.id,
        unread: unread.id,
    }
}

async fn admin_area_records_round_trip(h: &dyn Harness) {
    let a = admin_world(h).await;
    let want = &a.world.state;
    let loaded = a.world.store.load_state(at(60)).await.unwrap();
    assert_same_state(&loaded, want);

    // Spot checks through the accessors, so the comparison above cannot pass vacuously.
    let ws = loaded.workspace(&slug("team-a")).unwrap();
    assert_eq!(
        (ws.name.as_str(), ws.status, ws.project_quota),
        ("Team A, renamed", WorkspaceStatus::Disabled, 7)
    );
    assert_eq!(ws.tags, tags(&[("cost-center", "42")]));
    let rejected = loaded.workspace(&slug("team-t")).unwrap();
    assert_eq!((rejected.status, rejected.tags.len()), (WorkspaceStatus::Rejected, 0));
    assert_eq!((rejected.name.as_str(), rejected.created_at), ("team-t", at(0)));
    let web = loaded.project(&slug("team-a"), &slug("web")).unwrap();
    assert_eq!((web.name.as_str(), &web.tags), ("Web shop", &tags(&[("tier", "silver"), ("x_1.y-z", "a")])));
    let db = loaded.project(&slug("team-t"), &slug("db")).unwrap();
    assert_eq!(db.tags, tags(&[("tier", "gold")]));

    let settings = loaded.settings();
    assert_ne!(settings, &Settings::default());
    assert_eq!((settings.workspace_registration, settings.signup), (Registration::Open, Signup::Closed));
    assert_eq!((settings.invitation_ttl, settings.default_project_quota), (Span::days(3), 5));
    assert!(settings.restrict_admin_role_assignment);

    let accepted = loaded.invitation(a.accepted).unwrap();
    assert_eq!((accepted.state, accepted.decided_at), (InvitationState::Accepted, Some(at(40))));
    assert_eq!((accepted.invited_by, accepted.email.as_str()), (a.alice, "bob@example.com"));
    assert_eq!(accepted.token_hash, invitation_token(100), "the secret's digest survives a re-put");
    let pending = loaded.invitation(a.pending).unwrap();
    assert_eq!(pending.email.as_str(), "new.person@example.org");
    assert_eq!(pending.token_hash, invitation_token(101));
    assert_ne!(pending.token_hash, accepted.token_hash);
    assert_eq!(
        (pending.role, pending.membership_expires_at),
        (WorkspaceRole::Manager, Some(at(90 * 86_400)))
    );
    assert!(pending.is_open(at(60)));
    assert_eq!(loaded.invitations().count(), 2);

    let key = |k: &str| TagKey::parse(k).unwrap();
    let any = loaded.tag_definition(&key("owner.team")).unwrap();
    assert_eq!(
        (any.rule.clone(), any.restricted, any.default.as_deref()),
        (TagRule::Any, true, Some("nobody"))
    );
    assert_eq!(
        loaded.tag_definition(&key("tier")).unwrap().rule,
        TagRule::Values(vec!["gold".into(), "silver".into()])
    );
    let pattern = loaded.tag_definition(&key("cost-center")).unwrap();
    assert_eq!(pattern.rule, TagRule::Pattern(r"\d{2,4}".into()));
    assert!(pattern.validate("42").is_ok() && pattern.validate("42a").is_err());
    assert!(loaded.tag_definition(&key("legacy")).is_none(), "deleted");
    assert_eq!(loaded.tag_definitions().count(), 3);

    let read = loaded.message(a.acknowledged).unwrap();
    assert_eq!(read.acks, vec![(a.bob, at(50)), (a.alice, at(51))], "in order");
    assert!(!read.unread_by(a.bob));
    assert_eq!(read.text, message_record(0, "team-a", a.alice, MessageMode::SingleRead).text);
    let unread = loaded.message(a.unread).unwrap();
    assert_eq!((unread.mode, unread.acks.len()), (MessageMode::SingleRead, 0));
    assert!(unread.unread_by(a.bob));

    // One row each, however often it was put.
    assert_eq!(rows_in(h, "settings", "body").await, 1);
    assert_eq!(rows_in(h, "invitations", "state").await, 2);
    assert_eq!(rows_in(h, "messages", "acks").await, 2);
    assert_eq!(rows_in(h, "tag_definitions", "body").await, 3);

    // And all of it survives a restart.
    if let Some(reopened) = h.reopen().await {
        assert_same_state(&reopened.store().load_state(at(60)).await.unwrap(), want);
    }
}

/// Records of the admin area created in one commit together with what they refer to load like
/// the others, whatever the order of the changes (the references are checked at COMMIT).
async fn admin_area_records_may_precede_what_they_refer_to(h: &dyn Harness) {
    let mut w = World::new(h).await;
    let alice = new_user("alice@example.com", 1);
    let invitation = invitation_record(100, "team-n", "bob@example.com", alice.id);
    let message = message_record(200, "team-n", alice.id, MessageMode::AllMustRead);
    w.commit(Changes {
        changes: vec![
            Change::PutMessage(message.clone()),
            Change::PutInvitation(invitation.clone()),
            Change::CreateWorkspace(workspace_record("team-n", 1)),
            Change::CreateUser { user: alice, password_hash: None },
        ],
        events: vec![event(1, EventType::WorkspaceRegistered, Some("team-n"), None)],
    })
    .await;
    let loaded = w.store.load_state(at(1)).await.unwrap();
    assert_same_state(&loaded, &w.state);
    assert_eq!(loaded.invitation(invitation.id), Some(&invitation));
    assert_eq!(loaded.invitation(invitation.id).unwrap().token_hash, invitation_token(100));
    assert_eq!(loaded.message(message.id), Some(&message));
    assert_eq!(loaded.settings(), &Settings::default(), "no settings row: the defaults");
}

async fn updating_an_unknown_workspace_or_project_fails_and_writes_nothing(h: &dyn Harness) {
    let a = admin_world(h).await;
    let store = a.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    let web = before.state.project(&slug("team-a"), &slug("web")).unwrap().clone();
    let cases: Vec<(Change, &str)> = vec![
        (Change::UpdateWorkspace(workspace_record("team-z", 1)), "'team-z'"),
        (
            Change::UpdateProject(breakglass_core::model::Project { id: slug("nope"), ..web.clone() }),
            "'team-a/nope'",
        ),
        (
            Change::UpdateProject(breakglass_core::model::Project { workspace: slug("team-z"), ..web }),
            "'team-z/web'",
        ),
    ];
    for (change, mentions) in cases {
        // Valid changes first: they must be undone too.
        let changes = Changes {
            changes: vec![
                Change::PutSettings(Settings { default_project_quota: 99, ..Settings::default() }),
                Change::UpdateWorkspace(Workspace {
                    project_quota: 99,
                    ..before.state.workspace(&slug("team-a")).unwrap().clone()
                }),
                change.clone(),
            ],
            events: vec![event(500, EventType::WorkspaceUpdated, None, None)],
        };
        let err = store.commit(before.head.seq, &changes).await.unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt(m) if m.contains(mentions)), "{change:?}: {err:?}");
        assert_unchanged(&before, &snapshot(store.as_ref()).await);
    }
    assert_eq!(rows_in(h, "workspaces", "name").await, 2, "no workspace was created by an update");
    assert_eq!(store.load_state(at(0)).await.unwrap().settings().default_project_quota, 5);
}

async fn deleting_an_unknown_tag_definition_fails_and_writes_nothing(h: &dyn Harness) {
    let a = admin_world(h).await;
    let store = a.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    // "legacy" existed and was deleted; "never" never existed.
    for key in ["legacy", "never"] {
        let changes = Changes {
            changes: vec![
                Change::PutTagDefinition(tag_definition_record("fresh", TagTarget::Project, TagRule::Any)),
                Change::DeleteTagDefinition(TagKey::parse(key).unwrap()),
            ],
            events: vec![event(500, EventType::TagDefinitionRemoved, None, None)],
        };
        let err = store.commit(before.head.seq, &changes).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("tag_definitions") && m.contains(key)),
            "{err:?}"
        );
        assert_unchanged(&before, &snapshot(store.as_ref()).await);
    }
    // An existing one goes, and its values stay on the workspaces that carry them.
    let changes = Changes {
        changes: vec![Change::DeleteTagDefinition(TagKey::parse("cost-center").unwrap())],
        events: vec![event(500, EventType::TagDefinitionRemoved, None, None)],
    };
    store.commit(before.head.seq, &changes).await.unwrap();
    let loaded = store.load_state(at(0)).await.unwrap();
    assert!(loaded.tag_definition(&TagKey::parse("cost-center").unwrap()).is_none());
    assert_eq!(loaded.workspace(&slug("team-a")).unwrap().tags, tags(&[("cost-center", "42")]));
}

async fn admin_area_records_referring_to_missing_records_are_refused_at_commit(h: &dyn Harness) {
    let a = admin_world(h).await;
    let store = a.world.store.clone();
    let before = snapshot(store.as_ref()).await;
    let nobody = UserId(Uuid::from_u128(404));
    let cases: Vec<Change> = vec![
        Change::PutInvitation(invitation_record(300, "team-z", "x@example.com", a.alice)),
        Change::PutInvitation(invitation_record(301, "team-a", "x@example.com", nobody)),
        Change::PutMessage(message_record(302, "team-z", a.alice, MessageMode::SingleRead)),
        Change::PutMessage(message_record(303, "team-a", nobody, MessageMode::SingleRead)),
    ];
    for change in cases {
        let changes = Changes {
            changes: vec![Change::PutSettings(Settings::default()), change.clone()],
            events: vec![event(500, EventType::UserInvited, Some("team-a"), None)],
        };
        let err = store.commit(before.head.seq, &changes).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{change:?}: {err:?}");
        assert_unchanged(&before, &snapshot(store.as_ref()).await);
    }
}

/// An invitation from before invitations had secrets (schema version 4) has no digest: it loads
/// with one no secret hashes to, and it keeps the digest of a later put.
async fn an_invitation_without_a_secret_loads_with_a_digest_nothing_matches(h: &dyn Harness) {
    let a = admin_world(h).await;
    let store = a.world.store.clone();
    h.execute_raw(&format!("UPDATE invitations SET token_hash = NULL WHERE id = '{}'", a.pending))
        .await
        .unwrap();
    let loaded = store.load_state(at(60)).await.unwrap();
    let pending = loaded.invitation(a.pending).unwrap();
    assert_eq!(pending.token_hash, SecretHash([0; 32]));
    let want = a.world.state.invitation(a.pending).unwrap();
    assert_eq!(Invitation { token_hash: want.token_hash, ..pending.clone() }, *want, "the rest is unchanged");
    assert_eq!(
        loaded.invitation(a.accepted).unwrap().token_hash,
        invitation_token(100),
        "others keep theirs"
    );
}

async fn unreadable_admin_area_rows_are_reported_as_corrupt(h: &dyn Harness) {
    let a = admin_world(h).await;
    let store = a.world.store.clone();
    let accepted = a.accepted.to_string();
    let message = a.acknowledged.to_string();
    let (ws, web) = ("team-a".to_owned(), "web".to_owned());
    let (cost, one) = ("cost-center".to_owned(), "1".to_owned());
    let d = h.dialect();
    let (negative, sometimes, upper, other) = (
        d.json_set("body", "invitation_ttl", "-1"),
        d.json_set("body", "signup", r#""sometimes""#),
        d.json_set("body", "key", r#""Cost""#),
        d.json_set("body", "key", r#""tier""#),
    );
    // (table, key column, key, column, bad value, the key the error shows, column it names).
    // Each edit is made directly in the database and undone before the next.
    let cases = [
        ("workspaces", "id", &ws, "tags", r#"'{"Cost Center": "x"}'"#, "team-a", "tags"),
        ("workspaces", "id", &ws, "tags", r#"'{"cost-center": 42}'"#, "team-a", "tags"),
        ("projects", "id", &web, "tags", r#"'{"": "x"}'"#, "team-a/web", "tags"),
        ("settings", "id", &one, "body", &negative, "1", "body"),
        ("settings", "id", &one, "body", &sometimes, "1", "body"),
        ("invitations", "id", &accepted, "email", "'not-an-email'", accepted.as_str(), "email"),
        ("invitations", "id", &accepted, "invited_by", "'x'", accepted.as_str(), "invited_by"),
        ("tag_definitions", "key", &cost, "body", &upper, "cost-center", "body"),
        ("tag_definitions", "key", &cost, "body", &other, "cost-center", "body"),
        ("tag_definitions", "key", &cost, "created_at", "created_at + 1", "cost-center", "body"),
        ("messages", "id", &message, "acks", r#"'[["not-a-uuid", 1]]'"#, message.as_str(), "acks"),
        ("messages", "id", &message, "sender", "'x'", message.as_str(), "sender"),
    ];
    for (table, key_column, key, column, bad, shown, named) in cases {
        let filter = format!("{key_column} = '{key}'");
        spoil(h, table, column, &filter, bad).await;
        let err = store.load_state(at(60)).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains(table)
                && m.contains(&format!("'{shown}'"))
                && m.contains(&format!("column {named}"))),
            "{table}.{column} = {bad}: {err:?}"
        );
        restore(h, table, column, &filter).await;
        assert_same_state(&store.load_state(at(60)).await.unwrap(), &a.world.state);
    }
    // What the schema itself refuses never gets that far.
    for sql in [
        "UPDATE workspaces SET tags = '[]' WHERE id = 'team-a'".to_owned(),
        "UPDATE projects SET tags = 'not json' WHERE id = 'web'".to_owned(),
        "UPDATE invitations SET state = 'expired'".to_owned(),
        "UPDATE invitations SET role = 'reader'".to_owned(),
        format!("UPDATE invitations SET token_hash = {}", d.zero_bytes(1)),
        format!("UPDATE invitations SET token_hash = {}", d.zero_bytes(33)),
        "UPDATE messages SET mode = 'loud'".to_owned(),
        "UPDATE messages SET acks = '{}'".to_owned(),
        "INSERT INTO settings (id, body, updated_at) VALUES (2, '{}', 0)".to_owned(),
    ] {
        h.execute_raw(&sql).await.expect_err(&sql);
    }
}

// ---------------------------------------------------------------------------------------------
// Platforms, tenants, service users

/// A digest of a service user's secret, different for every seed.
fn service_user_secret(seed: u128) -> SecretHash {
    SecretHash(std::array::from_fn(|i| (seed as u8).wrapping_mul(53).wrapping_add(3 * i as u8)))
}

/// A world with two platforms, tenants of two projects, and service users: two live, one
/// deleted. Built by the core's own commands.
struct Platforms {
    world: World,
    live: ServiceUserId,
    deleted: ServiceUserId,
}

async fn platforms_world(h: &dyn Harness) -> Platforms {
    use breakglass_core::cmd::platforms::{self, NewPlatform, NewServiceUser, NewTenant};
    let mut w = World::new(h).await;
    let alice = w.user("alice@example.com", AdminRole::Admin, None, 1).await;
    let bob = w.user("bob@example.com", AdminRole::None, None, 2).await;
    w.workspace("team-a", &["alice@example.com"], 3, 10).await;
    w.project("team-a", "web", 20).await;
    w.project("team-a", "api", 21).await;
    w.project("team-a", "db", 22).await;
    let c = members::set_member(
        &w.state,
        &as_user(3, alice, 30),
        SetMember {
            target: project_target("team-a", "web"),
            email: email("bob@example.com"),
            role: Role::Project(ProjectRole::User),
            expires_at: None,
            justification: None,
        },
    )
    .unwrap();
    w.commit(c).await;

    for (id, kind, seed) in [("aws", "aws", 40), ("k8s", "kubernetes", 41)] {
        let new = NewPlatform {
            id: slug(id),
            kind: PlatformKind::parse(kind).unwrap(),
            name: name(&format!("Platform “{id}”")),
            config: breakglass_core::platform::PlatformConfig::new(
                [("host".to_owned(), format!("{id}.example.com"))].into(),
                [("password".to_owned(), "sealed:v1:AAAA".to_owned())].into(),
            ),
        };
        let c = platforms::register_platform(&w.state, &as_user(4, alice, seed), new).unwrap();
        w.commit(c).await;
    }
    for (p, platform, external, seed) in [
        ("web", "aws", "123456789012", 50),
        ("web", "k8s", "ns/web ✓", 51),
        ("api", "aws", "210987654321", 52),
    ] {
        let new = NewTenant {
            workspace: slug("team-a"),
            project: slug(p),
            platform: slug(platform),
            external_id: ExternalId::parse(external).unwrap(),
        };
        let c = platforms::create_tenant(&w.state, &as_user(5, alice, seed), new).unwrap();
        w.commit(c).await;
    }
    let mut ids = Vec::new();
    for (by, label, seed) in [(bob, "deploy", 60u128), (alice, "backup \"nightly\"", 61), (bob, "old", 62)] {
        let new = NewServiceUser {
            workspace: slug("team-a"),
            project: slug("web"),
            platform: slug("aws"),
            name: name(label),
            secret_hash: service_user_secret(seed),
            role: if seed == 61 { ProjectRole::Reader } else { ProjectRole::User },
            verifier: (seed == 60).then(|| format!("SCRAM-SHA-256$4096:c2FsdA==${seed}:key")),
        };
        let (c, id) = platforms::create_service_user(&w.state, &as_user(6, by, seed), new).unwrap();
        w.commit(c).await;
        ids.push(id);
    }
    let c = platforms::delete_service_user(
        &w.state,
        &as_user(7, bob, 70),
        &slug("team-a"),
        &slug("web"),
        &slug("aws"),
        ids[2],
    )
    .unwrap();
    w.commit(c).await;
    Platforms { world: w, live: ids[0], deleted: ids[2] }
}

async fn platforms_tenants_and_service_users_round_trip(h: &dyn Harness) {
    let p = platforms_world(h).await;
    let want = &p.world.state;
    let loaded = p.world.store.load_state(at(10)).await.unwrap();
    assert_same_state(&loaded, want);

    // Spot checks, so that the comparison above cannot pass vacuously.
    let aws = loaded.platform(&slug("aws")).unwrap();
    assert_eq!((aws.kind.as_str(), aws.name.as_str(), aws.created_at), ("aws", "Platform “aws”", at(4)));
    assert!(aws.created_by.is_some());
    assert_eq!(loaded.platforms().count(), 2);
    let k8s = loaded.tenant(&slug("team-a"), &slug("web"), &slug("k8s")).unwrap();
    assert_eq!((k8s.external_id.as_str(), k8s.created_at), ("ns/web ✓", at(5)));
    assert_eq!(loaded.tenants().count(), 3);
    let live = loaded.service_user(p.live).unwrap();
    assert_eq!((live.name.as_str(), live.created_at, live.deleted_at), ("deploy", at(6), None));
    assert_eq!(live.secret_hash, service_user_secret(60), "the digest survives");
    assert!(live.client_id.starts_with("svc-"));
    assert!(loaded.service_user(p.deleted).is_none(), "a deleted service user is not loaded");
    assert_eq!(loaded.service_users_of(&slug("team-a"), &slug("web"), &slug("aws")).len(), 2);

    // The deleted one stays as a record, with when and by whom.
    assert_eq!(rows_in(h, "service_users", "name").await, 3);
    let kept = h
        .execute_raw(&format!(
            "UPDATE service_users SET name = name WHERE id = '{}' AND deleted_at = {} AND deleted_by IS NOT NULL",
            p.deleted,
            at(7).as_micros()
        ))
        .await
        .unwrap();
    assert_eq!(kept, 1);

    if let Some(reopened) = h.reopen().await {
        assert_same_state(&reopened.store().load_state(at(10)).await.unwrap(), want);
    }
}

/// A lease goes to one holder at a time: renewed by its holder, taken over by another only
/// once it lapsed, free again once released.
async fn one_holder_at_a_time_takes_a_lease(h: &dyn Harness) {
    let w = World::new(h).await;
    let s = w.store.as_ref();
    assert!(s.take_lease("platform:pg", "a", at(0), at(10)).await.unwrap());
    assert!(!s.take_lease("platform:pg", "b", at(5), at(15)).await.unwrap(), "a holds it until 10");
    assert!(s.take_lease("platform:pg", "a", at(5), at(15)).await.unwrap(), "a renews");
    assert!(s.take_lease("platform:other", "b", at(5), at(15)).await.unwrap(), "leases are by name");
    assert!(!s.take_lease("platform:pg", "b", at(14), at(20)).await.unwrap());
    assert!(s.take_lease("platform:pg", "b", at(15), at(25)).await.unwrap(), "lapsed: b takes over");
    assert!(!s.take_lease("platform:pg", "a", at(16), at(26)).await.unwrap());
    s.release_lease("platform:pg", "a").await.unwrap(); // not a's: nothing happens
    assert!(!s.take_lease("platform:pg", "a", at(16), at(26)).await.unwrap());
    s.release_lease("platform:pg", "b").await.unwrap();
    assert!(s.take_lease("platform:pg", "a", at(16), at(26)).await.unwrap(), "released: free");
}

/// A platform's new configuration, a credential issued and replaced, and provisioning records
/// placed, failed, replaced and removed load back as the model holds them.
async fn provisioning_records_round_trip(h: &dyn Harness) {
    use breakglass_core::cmd::platforms;
    use breakglass_core::cmd::provision::{self, Outcome};
    use breakglass_core::platform::DriftMode;
    use breakglass_core::provision::{GrantKey, Place, ProvisionState, Subject};
    let mut p = platforms_world(h).await;
    let w = &mut p.world;
    let alice = w.state.user_by_email("alice@example.com").unwrap().id;
    let bob = w.state.user_by_email("bob@example.com").unwrap().id;
    let mut config = w.state.platform(&slug("aws")).unwrap().config.clone();
    config.mode = DriftMode::Report;
    config.mapping.insert(ProjectRole::Reader, "SELECT".into());
    config.settings.remove("host");
    let (c, _) =
        platforms::configure_platform(&w.state, &as_user(8, alice, 80), &slug("aws"), config).unwrap();
    w.commit(c).await;
    for (verifier, s, seed) in [("v1", 9, 90), ("v2", 10, 91)] {
        let (c, credential, login) = provision::issue_credential(
            &w.state,
            &as_user(s, bob, seed),
            &slug("team-a"),
            &slug("web"),
            &slug("aws"),
            verifier.into(),
        )
        .unwrap();
        assert_eq!((credential.verifier.as_str(), login.as_str()), (verifier, "bg_bob@example.com"));
        w.commit(c).await;
    }
    let key = |subject, role| GrantKey {
        platform: slug("aws"),
        workspace: slug("team-a"),
        project: slug("web"),
        subject,
        role,
    };
    let placed = key(Subject::User(bob), ProjectRole::User);
    let failing = key(Subject::Service(p.live), ProjectRole::User);
    let gone = key(Subject::User(alice), ProjectRole::Admin);
    let place = |account: &str, group: &str| Place { account: account.into(), group: group.into() };
    let (p1, p2, p3) = (
        place("bg_bob@example.com", "bg_team-a_web_user"),
        place("svc-1", "bg_team-a_web_user"),
        place("bg_alice@example.com", "bg_team-a_web_admin"),
    );
    let outcomes = [
        Outcome::Granted(placed.clone(), p1.clone()),
        Outcome::Granted(gone.clone(), p3.clone()),
        Outcome::Failed {
            key: failing.clone(),
            place: p2.clone(),
            error: "connection refused".into(),
            next_retry: at(12),
        },
    ];
    let c = provision::record(
        &w.state,
        &system(11, 100),
        &outcomes,
        &provision::bindings_served(&w.state, &outcomes, at(11)),
    )
    .unwrap();
    w.commit(c).await;
    let outcomes = [
        Outcome::Failed {
            key: failing.clone(),
            place: p2,
            error: "connection refused".into(),
            next_retry: at(14),
        },
        Outcome::Revoked(gone.clone(), p3),
        Outcome::Granted(placed.clone(), p1.clone()),
    ];
    let c = provision::record(
        &w.state,
        &system(12, 101),
        &outcomes,
        &provision::bindings_served(&w.state, &outcomes, at(12)),
    )
    .unwrap();
    assert_eq!(c.events.len(), 2, "a grant already placed is not recorded again");
    w.commit(c).await;

    let loaded = w.store.load_state(at(20)).await.unwrap();
    assert_same_state(&loaded, &w.state);
    let aws = loaded.platform(&slug("aws")).unwrap();
    assert_eq!((aws.config.mode, aws.config.settings.len()), (DriftMode::Report, 0));
    assert_eq!(aws.config.sealed["password"], "sealed:v1:AAAA", "a secret not given again keeps its value");
    assert_eq!(loaded.credential(&slug("aws"), bob).unwrap().verifier, "v2");
    assert!(
        matches!(loaded.provision(&placed).unwrap().state, ProvisionState::Provisioned { at: t } if t == at(11))
    );
    assert!(
        matches!(loaded.provision(&failing).unwrap().state, ProvisionState::Failed { attempts: 2, since, .. } if since == at(11))
    );
    assert!(loaded.provision(&gone).is_none());
    assert_eq!(loaded.provision(&placed).unwrap().place, p1);
    let live = loaded.service_user(p.live).unwrap();
    assert_eq!(
        (live.role, live.verifier.as_deref().map(|v| v.ends_with("60:key"))),
        (ProjectRole::User, Some(true))
    );
    if let Some(reopened) = h.reopen().await {
        assert_same_state(&reopened.store().load_state(at(20)).await.unwrap(), &w.state);
    }
}

/// SSH certificates load back while valid; an expired one is not loaded; a serial is unique per
/// platform.
async fn ssh_certificates_round_trip(h: &dyn Harness) {
    use breakglass_core::cmd::ssh;
    use std::collections::BTreeMap;
    let p = platforms_world(h).await;
    let mut w = p.world;
    let bob = w.state.user_by_email("bob@example.com").unwrap().id;
    let principals: BTreeMap<ProjectRole, Vec<String>> =
        [(ProjectRole::User, vec!["web-user".to_owned()])].into_iter().collect();
    let mut issued = Vec::new();
    for (s, seed) in [(9, 90), (10, 91)] {
        let (c, cert) = ssh::issue_certificate(
            &w.state,
            &as_user(s, bob, seed),
            (&slug("team-a"), &slug("web"), &slug("aws")),
            "SHA256:abc",
            &principals,
        )
        .unwrap();
        assert_eq!(cert.principals, ["web-user"]);
        w.commit(c.clone()).await;
        issued.push((c, cert));
    }
    let (first, second) = (&issued[0].1, &issued[1].1);
    let revoke = Changes {
        changes: vec![Change::RevokeSshCertificate {
            platform: slug("aws"),
            serial: first.serial,
            at: at(11),
        }],
        events: vec![event(11, EventType::SshCertificateRevoked, Some("team-a"), Some("web"))],
    };
    w.commit(revoke).await;
    assert_eq!(w.state.ssh_certificate(&slug("aws"), first.serial).unwrap().revoked_at, Some(at(11)));
    let first = &w.state.ssh_certificate(&slug("aws"), first.serial).unwrap().clone();
    let loaded = w.store.load_state(at(20)).await.unwrap();
    assert_eq!(loaded.ssh_certificates_on(&slug("aws")).count(), 2);
    assert_eq!(loaded.ssh_certificate(&slug("aws"), first.serial), Some(first));
    // After the first ends (and hosts' clocks cannot be behind by that much), only the second
    // is loaded.
    let after_first = first.valid_before.plus(breakglass_core::ssh::CLOCK_SKEW);
    let later = w.store.load_state(after_first).await.unwrap();
    let serials: Vec<u64> = later.ssh_certificates_on(&slug("aws")).map(|c| c.serial).collect();
    assert_eq!(serials, [second.serial], "an expired certificate is not loaded");
    let before = snapshot(w.store.as_ref()).await;
    let replay = &issued[0].0;
    assert!(
        w.store.commit(w.state.head().seq, replay).await.is_err(),
        "a serial is issued once per platform"
    );
    assert_unchanged(&before, &snapshot(w.store.as_ref()).await);
}

async fn platform_records_keep_their_unique_keys_and_references(h: &dyn Harness) {
    let p = platforms_world(h).await;
    let store = p.world.store.clone();
    let state = &p.world.state;
    let before = snapshot(store.as_ref()).await;
    let live = state.service_user(p.live).unwrap().clone();
    let tenant = state.tenant(&slug("team-a"), &slug("web"), &slug("aws")).unwrap().clone();
    let platform = state.platform(&slug("aws")).unwrap().clone();

    let duplicates: Vec<(Change, &str)> = vec![
        (Change::CreatePlatform(Platform { name: name("Again"), ..platform.clone() }), "platform 'aws'"),
        (
            Change::CreateTenant(Tenant {
                external_id: ExternalId::parse("other").unwrap(),
                ..tenant.clone()
            }),
            "tenant of 'team-a/web' on platform 'aws'",
        ),
        (
            Change::CreateTenant(Tenant { project: slug("db"), ..tenant.clone() }),
            "external id '123456789012'",
        ),
        (
            Change::CreateServiceUser(ServiceUser {
                id: ServiceUserId(Uuid::from_u128(900)),
                secret_hash: service_user_secret(900),
                ..live.clone()
            }),
            "client id",
        ),
        (
            Change::CreateServiceUser(ServiceUser {
                id: ServiceUserId(Uuid::from_u128(901)),
                client_id: "svc-0000".into(),
                ..live.clone()
            }),
            "secret",
        ),
    ];
    for (change, mentions) in duplicates {
        let changes = Changes {
            changes: vec![change.clone()],
            events: vec![event(500, EventType::TenantCreated, None, None)],
        };
        let err = store.commit(before.head.seq, &changes).await.unwrap_err();
        assert!(matches!(&err, StoreError::Duplicate(m) if m.contains(mentions)), "{change:?}: {err:?}");
        assert_unchanged(&before, &snapshot(store.as_ref()).await);
    }

    // References are checked when the transaction commits.
    let nobody = UserId(Uuid::from_u128(404));
    let fresh = |n: u128| ServiceUser {
        id: ServiceUserId(Uuid::from_u128(n)),
        client_id: format!("svc-{n}"),
        secret_hash: service_user_secret(n),
        ..live.clone()
    };
    let dangling: Vec<Change> = vec![
        Change::CreateTenant(Tenant {
            project: slug("nope"),
            external_id: ExternalId::parse("n").unwrap(),
            ..tenant.clone()
        }),
        Change::CreateTenant(Tenant {
            platform: slug("gcp"),
            external_id: ExternalId::parse("x").unwrap(),
            ..tenant.clone()
        }),
        Change::CreatePlatform(Platform { id: slug("gcp"), created_by: Some(nobody), ..platform.clone() }),
        Change::CreateServiceUser(ServiceUser { project: slug("api"), platform: slug("k8s"), ..fresh(910) }),
        Change::CreateServiceUser(ServiceUser { created_by: nobody, ..fresh(911) }),
    ];
    for change in dangling {
        let changes = Changes {
            changes: vec![change.clone()],
            events: vec![event(500, EventType::TenantCreated, None, None)],
        };
        let err = store.commit(before.head.seq, &changes).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{change:?}: {err:?}");
        assert_unchanged(&before, &snapshot(store.as_ref()).await);
    }

    // A new tenant, its platform and a service user for it may come in one commit, in any order.
    let gcp = Platform { id: slug("gcp"), ..platform.clone() };
    let gcp_tenant =
        Tenant { platform: slug("gcp"), external_id: ExternalId::parse("g-1").unwrap(), ..tenant };
    let gcp_user = ServiceUser { platform: slug("gcp"), ..fresh(920) };
    let changes = Changes {
        changes: vec![
            Change::CreateServiceUser(gcp_user.clone()),
            Change::CreateTenant(gcp_tenant.clone()),
            Change::CreatePlatform(gcp),
        ],
        events: vec![event(500, EventType::TenantCreated, Some("team-a"), Some("web"))],
    };
    store.commit(before.head.seq, &changes).await.unwrap();
    let loaded = store.load_state(at(10)).await.unwrap();
    assert_eq!(loaded.service_user(gcp_user.id), Some(&gcp_user));
    assert_eq!(loaded.tenant(&slug("team-a"), &slug("web"), &slug("gcp")), Some(&gcp_tenant));

    // Deleting twice is harmless; the first deletion's record stands.
    let head = loaded.head().seq;
    let again = Changes {
        changes: vec![Change::DeleteServiceUser { id: p.deleted, at: at(99), by: None }],
        events: vec![event(501, EventType::ServiceUserDeleted, Some("team-a"), Some("web"))],
    };
    store.commit(head, &again).await.unwrap();
    let still = h
        .execute_raw(&format!(
            "UPDATE service_users SET name = name WHERE id = '{}' AND deleted_at = {}",
            p.deleted,
            at(7).as_micros()
        ))
        .await
        .unwrap();
    assert_eq!(still, 1);
}

async fn unreadable_platform_rows_are_reported_as_corrupt(h: &dyn Harness) {
    let p = platforms_world(h).await;
    let store = p.world.store.clone();
    let live = p.live.to_string();
    let aws = "aws".to_owned();
    let web = "web".to_owned();
    // (table, key column, key, column, bad value, the key the error shows, column it names).
    let cases = [
        ("platforms", "id", &aws, "kind", "'AWS'", "aws", "kind"),
        ("platforms", "id", &aws, "name", "''", "aws", "name"),
        ("tenants", "project_id", &web, "external_id", "' padded'", "team-a/web on aws", "external_id"),
        ("service_users", "id", &live, "client_id", "'bgu_oops'", live.as_str(), "client_id"),
        ("service_users", "id", &live, "created_by", "'x'", live.as_str(), "created_by"),
    ];
    for (table, key_column, key, column, bad, shown, named) in cases {
        let only_one = if table == "tenants" { " AND platform_id = 'aws'" } else { "" };
        let filter = format!("{key_column} = '{key}'{only_one}");
        spoil(h, table, column, &filter, bad).await;
        let err = store.load_state(at(10)).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains(table)
                && m.contains(&format!("'{shown}'"))
                && m.contains(&format!("column {named}"))),
            "{table}.{column} = {bad}: {err:?}"
        );
        restore(h, table, column, &filter).await;
        assert_same_state(&store.load_state(at(10)).await.unwrap(), &p.world.state);
    }
    // What the schema itself refuses never gets that far.
    let d = h.dialect();
    for sql in [
        format!("UPDATE service_users SET secret_hash = {}", d.zero_bytes(1)),
        format!("UPDATE service_users SET secret_hash = {}", d.zero_bytes(33)),
        "UPDATE service_users SET deleted_by = created_by, deleted_at = NULL".to_owned(),
        "UPDATE platforms SET created_at = 'yesterday'".to_owned(),
    ] {
        h.execute_raw(&sql).await.expect_err(&sql);
    }
}

// ---------------------------------------------------------------------------------------------
// Every case against every backend

macro_rules! backends {
    (@one $backend:ident { $($case:ident),* $(,)? }) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(h) = super::$backend().await else { return };
                    super::$case(&*h).await;
                }
            )*
        }
    };
    ($($backend:ident),* ; $cases:tt) => {
        $( backends!(@one $backend $cases); )*
    };
}

backends!(sqlite_memory, sqlite_file, postgres; {
    migrate_is_idempotent,
    migrate_refuses_a_schema_from_a_newer_binary,
    an_empty_store_has_an_empty_model,
    load_state_round_trips_every_change,
    ended_bindings_and_dead_tokens_are_not_loaded,
    password_hashes_are_kept_apart,
    the_chain_verifies_and_events_round_trip,
    verify_names_the_first_edited_row_of_the_stored_chain,
    a_stale_base_is_refused_and_writes_nothing,
    an_empty_commit_writes_nothing_but_checks_the_base,
    the_project_quota_holds_against_a_concurrent_decision,
    a_quota_of_zero_refuses_the_first_project,
    a_failing_commit_leaves_everything_unchanged,
    a_group_commits_as_its_members_would_one_by_one,
    a_failing_group_commits_none_of_its_members,
    duplicates_of_every_unique_key_are_refused,
    a_change_referring_to_a_missing_record_is_refused,
    audit_filters,
    the_database_refuses_to_rewrite_the_audit_log,
    unreadable_rows_are_reported_as_corrupt,
    data_survives_reopening,
    concurrent_commits_on_one_base_let_exactly_one_through,
    simultaneous_approvals_on_two_processes_grant_once,
    requests_and_their_settings_round_trip,
    requests_committed_in_one_group_round_trip,
    extending_an_ended_or_unknown_binding_fails_and_writes_nothing,
    an_entitlement_put_twice_keeps_one_row,
    a_request_put_twice_loads_as_the_latest,
    a_request_referring_to_a_missing_record_is_refused_at_commit,
    unreadable_request_rows_are_reported_as_corrupt,
    requests_decided_by_the_core_round_trip,
    admin_area_records_round_trip,
    admin_area_records_may_precede_what_they_refer_to,
    updating_an_unknown_workspace_or_project_fails_and_writes_nothing,
    deleting_an_unknown_tag_definition_fails_and_writes_nothing,
    admin_area_records_referring_to_missing_records_are_refused_at_commit,
    unreadable_admin_area_rows_are_reported_as_corrupt,
    an_invitation_without_a_secret_loads_with_a_digest_nothing_matches,
    delegation_records_round_trip,
    the_change_log_replays_every_commit,
    token_use_is_kept_outside_the_chain,
    platforms_tenants_and_service_users_round_trip,
    platform_records_keep_their_unique_keys_and_references,
    unreadable_platform_rows_are_reported_as_corrupt,
    provisioning_records_round_trip,
    ssh_certificates_round_trip,
    one_holder_at_a_time_takes_a_lease,
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL only: what SQLite's unit tests check for its own runner

/// Replicas starting together on a blank database: each version is applied once, every one of
/// them finds the schema complete, and none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_migrating_a_blank_database_at_once_apply_each_version_once() {
    let Some(server) = postgres_server() else { return };
    let db = TestDatabase::create(server).await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(PgStore::connect(&db.url).await.unwrap());
    }
    let tasks: Vec<_> =
        stores.iter().cloned().map(|s| tokio::spawn(async move { s.migrate().await })).collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let versions: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM schema_migrations ORDER BY version")
            .fetch_all(&mut <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.unwrap())
            .await
            .unwrap();
    let want: Vec<(i64, String)> =
        POSTGRES_MIGRATIONS.iter().map(|m| (m.version, m.name.to_owned())).collect();
    assert_eq!(versions, want);
    for s in &stores {
        assert_eq!(s.load_state(at(0)).await.unwrap().user_count(), 0);
        s.close().await;
    }
}

/// A database written by version 1, with rows in the tables later versions alter, takes every
/// later version and loads the same records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_version_1_database_upgrades_with_its_rows() {
    let Some(server) = postgres_server() else { return };
    let db = TestDatabase::create(server).await;
    let store = PgStore::connect(&db.url).await.unwrap();
    let v1 = &POSTGRES_MIGRATIONS[0];
    assert_eq!(v1.version, 1);
    store
        .execute_raw(&format!(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                                             applied_at BIGINT NOT NULL);
             {}
             INSERT INTO schema_migrations VALUES (1, 'init', 0);
             INSERT INTO users (id, email, name, admin_role, status, created_at)
             VALUES ('00000000-0000-4000-8000-000000000001', 'a@example.com', 'A', 'none', 'active', 0);
             INSERT INTO workspaces VALUES ('ws-a', 'A', 'active', 10, 0);
             INSERT INTO projects VALUES ('ws-a', 'web', 'Web', 0);
             INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at, source)
             VALUES ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-000000000001',
                     'ws-a', 'web', 'reader', 0, 'grant');
             INSERT INTO tokens (id, user_id, kind, name, secret_hash, created_at)
             VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-8000-000000000001',
                     'api', 'ci', decode(repeat('07', 32), 'hex'), 0);",
            v1.sql
        ))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let state = store.load_state(at(0)).await.unwrap();
    assert_eq!(state.binding_count(), 1);
    let b = state.bindings_on(&project_target("ws-a", "web")).next().unwrap();
    assert_eq!(b.source, BindingSource::Grant);
    let ws = state.workspace(&slug("ws-a")).unwrap();
    assert!(ws.tags.is_empty());
    let token = state.token_by_hash(&SecretHash([7; 32])).unwrap();
    assert!(!token.read_only && token.scope.is_none());
    assert_eq!(state.settings(), &Settings::default());
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// SQLite files only: the direct read of `verify_chain`

/// `verify_chain` on a SQLite file reads seq ranges on several connections at once. Over a
/// chain of many ranges, edited behind the store's back (triggers dropped), it names the same
/// first broken link as the page-by-page walk, for the same reason, whatever the number of
/// threads and wherever the edit falls: inside a range, on either side of a boundary, at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_verify_chain_over_many_ranges_names_the_first_broken_link() {
    let Some(h) = sqlite_file().await else { return };
    let store = h.store();
    let n = 3_000;
    let mut head = ChainHead::default();
    let mut rows = Vec::new();
    for i in 1..=n {
        let e = audit::seal(
            head,
            &NewEvent {
                subject: Some(format!("user{i}@example.com")),
                details: json!({"role": "member", "n": i, "tags": {"b": [i, null], "a": "x\ny"}}),
                ..event(i, EventType::UserAssigned, Some("team-a"), (i % 3 == 0).then_some("web"))
            },
        );
        head = ChainHead { seq: e.seq, hash: e.hash };
        let text = |v: &Option<String>| v.as_ref().map_or("NULL".to_owned(), |s| format!("'{s}'"));
        rows.push(format!(
            "({}, {}, '{}', '{}', NULL, {}, {}, {}, '{}', X'{}', X'{}')",
            e.seq,
            e.time.as_micros(),
            e.event_type,
            e.actor,
            text(&e.workspace),
            text(&e.project),
            text(&e.subject),
            e.details,
            hex::encode(e.prev_hash),
            hex::encode(e.hash)
        ));
    }
    h.execute_raw(&format!(
        "INSERT INTO audit_events (seq, time, type, actor, on_behalf_of, workspace, project, subject, \
         details, prev_hash, hash) VALUES {}",
        rows.join(",")
    ))
    .await
    .unwrap();
    h.execute_raw("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete").await.unwrap();

    async fn compare(store: &dyn Store, end: i64, what: &str) -> ChainCheck {
        let pages = breakglass_store::verify_in_pages(store, end, 2).await.unwrap();
        for threads in [1, 2, 3, 5, 8] {
            let direct = store.verify_chain(end, threads).await.unwrap();
            assert_eq!(direct, pages, "{what}, {threads} threads");
        }
        pages
    }
    let intact = compare(store.as_ref(), n, "intact").await;
    assert_eq!(intact, ChainCheck { head, broken: None });
    // Shorter walks stop where asked; a longer one misses what is not there.
    assert_eq!(compare(store.as_ref(), 1_000, "to 1000").await.head.seq, 1_000);
    let beyond = compare(store.as_ref(), n + 2, "beyond the end").await.broken.unwrap();
    assert_eq!(beyond.seq, n + 1);
    assert_eq!(
        compare(store.as_ref(), 0, "nothing").await,
        ChainCheck { head: ChainHead::default(), broken: None }
    );

    // With 2 threads the ranges are 375 events long, with 3 threads 250, with 8 threads 93.
    let other = format!("X'{}'", "11".repeat(32));
    let edits: &[(&str, &str, i64)] = &[
        ("details", "replace(details, 'member', 'owner')", 1_234),
        ("details", "'{\"n\":1}'", 2),
        ("details", "'not json'", 1_500),
        ("actor", "actor || char(0)", 750),
        ("time", "time + 1", 751),
        ("hash", &other, 375),
        ("hash", &other, n),
        ("prev_hash", &other, 376),
        ("prev_hash", &other, 1),
        ("subject", "NULL", 250),
        ("project", "'web'", 251),
    ];
    for &(column, value, seq) in edits {
        h.execute_raw(&format!(
            "CREATE TEMP TABLE saved AS SELECT {column} AS v FROM audit_events WHERE seq = {seq};
             UPDATE audit_events SET {column} = {value} WHERE seq = {seq}"
        ))
        .await
        .unwrap();
        let what = format!("{column} of {seq}");
        let broken = compare(store.as_ref(), n, &what).await.broken.expect(&what);
        assert_eq!(broken.seq, seq, "{what}: {broken:?}");
        h.execute_raw(&format!(
            "UPDATE audit_events SET {column} = (SELECT v FROM saved) WHERE seq = {seq}; DROP TABLE saved"
        ))
        .await
        .unwrap();
    }
    assert_eq!(compare(store.as_ref(), n, "restored").await, intact);

    // Rows moved away or gone, at range boundaries and inside ranges; the last one gone too.
    for (sql, first) in [
        ("UPDATE audit_events SET seq = seq + 100000 WHERE seq = 375", 375),
        ("UPDATE audit_events SET seq = seq + 100000 WHERE seq = 376", 376),
        ("UPDATE audit_events SET seq = seq + 100000 WHERE seq IN (1, 2, 3)", 1),
        ("UPDATE audit_events SET seq = seq + 100000 WHERE seq BETWEEN 700 AND 1300", 700),
        ("UPDATE audit_events SET seq = seq + 100000 WHERE seq = 3000", 3000),
    ] {
        h.execute_raw(sql).await.unwrap();
        let broken = compare(store.as_ref(), n, sql).await.broken.expect(sql);
        assert_eq!(broken.seq, first, "{sql}: {broken:?}");
        assert!(broken.reason.contains("missing") || broken.reason.contains("ends"), "{broken:?}");
        h.execute_raw("UPDATE audit_events SET seq = seq - 100000 WHERE seq > 100000").await.unwrap();
    }
    // A row moved onto another place in the chain.
    h.execute_raw(
        "UPDATE audit_events SET seq = seq + 200000 WHERE seq IN (10, 11);
         UPDATE audit_events SET seq = 10 WHERE seq = 200011;
         UPDATE audit_events SET seq = 11 WHERE seq = 200010",
    )
    .await
    .unwrap();
    assert_eq!(compare(store.as_ref(), n, "swapped").await.broken.unwrap().seq, 10);
}
