//! Shared helpers of the HTTP integration suite: a server on port 0 with its own data directory
//! and a manual clock, typed clients for the admin and for users, raw requests for what the
//! typed client cannot send, and snapshots to show that a refused request changed nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use breakglass_client::api::{
    AuditEvent, AuditQuery, Binding, CreateProject, CreateUser, CreateWorkspace, Login, Problem, Project,
    User, Workspace,
};
use breakglass_client::{Client, ClientError};
use breakglass_core::time::{Span, Timestamp};
use breakglass_server::{App, Clock, Config, Running};
use serde_json::Value;

/// The bearer token of the first admin (`admin@localhost`).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// E-mail of the first admin.
pub const ADMIN_EMAIL: &str = "admin@localhost";
/// Where every test's clock starts.
pub const T0: &str = "2030-01-01T00:00:00Z";

/// Parses an RFC 3339 instant.
pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|e| panic!("bad test time {s:?}: {e}"))
}

/// The RFC 3339 form of an instant.
pub fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// `t` plus `micros` microseconds (negative to go back).
pub fn plus_micros(t: Timestamp, micros: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + micros)
}

/// The password every test user gets: distinct per user, so that the secret scans can look for
/// each one.
pub fn password_for(email: &str) -> String {
    format!("pw:{email}:Tr0ub4dor&3-horse")
}

/// Asserts that a call failed with a problem of `status` and `code`, and returns the problem.
#[track_caller]
pub fn expect_problem<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    status: u16,
    code: &str,
) -> Problem {
    match result {
        Ok(v) => panic!("expected {status} {code}, got success: {v:?}"),
        Err(ClientError::Api { status: got, problem }) => {
            assert_eq!(
                (got, problem.code.as_str()),
                (status, code),
                "expected {status} {code}, got {got} {} ({})",
                problem.code,
                problem.detail
            );
            assert_eq!(problem.status, status, "problem.status must repeat the HTTP status: {problem:?}");
            assert!(!problem.title.is_empty(), "problem without a title: {problem:?}");
            assert!(!problem.detail.is_empty(), "problem without a detail: {problem:?}");
            problem
        }
        Err(e) => panic!("expected {status} {code}, got a non-API error: {e}"),
    }
}

/// An answer to a raw request.
#[derive(Debug)]
pub struct Raw {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Breakglass-Seq`, if any.
    pub seq: Option<i64>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Raw {
    /// Asserts a problem+json answer with `status` and `code`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json"),
            "an error must be application/problem+json; body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "unexpected code; body: {}", self.text);
        assert_eq!(self.body["status"], status, "problem.status must repeat the HTTP status: {}", self.text);
        assert!(self.body["title"].as_str().is_some_and(|s| !s.is_empty()), "no title: {}", self.text);
        assert!(self.body["detail"].as_str().is_some_and(|s| !s.is_empty()), "no detail: {}", self.text);
        assert!(self.seq.is_none(), "a refused request must not carry Breakglass-Seq: {self:?}");
    }
}

/// A body for a raw request.
pub enum Body<'a> {
    /// No body.
    None,
    /// A JSON value, sent as `application/json`.
    Json(&'a Value),
    /// Text sent as `application/json` as is (for malformed JSON).
    JsonText(&'a str),
    /// Text with no content type at all.
    Untyped(&'a str),
}

/// A workspace as the admin sees it: itself, its members, and its projects with their members.
pub type WorkspaceView = (Workspace, Vec<Binding>, Vec<(Project, Vec<Binding>)>);

/// What the API shows; two snapshots are equal when nothing observable changed.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// Audit head sequence.
    pub seq: i64,
    /// Audit head hash.
    pub head_hash: String,
    /// Number of audit events.
    pub events: usize,
    /// Every user.
    pub users: Vec<User>,
    /// Every workspace, with its members, and its projects with their members.
    pub workspaces: Vec<WorkspaceView>,
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A server for one test.
pub struct TestApp {
    running: Option<Running>,
    /// The application, to look inside.
    pub app: Arc<App>,
    /// The base URL.
    pub url: String,
    /// The data directory (removed when the test app is dropped).
    pub dir: PathBuf,
    admin: Client,
    http: reqwest::Client,
    quota: u32,
    /// Whether dropping this app removes the data directory (not for a second server on it).
    owns_dir: bool,
    /// The PostgreSQL database of this test, when the suite runs against PostgreSQL.
    pub db: Option<Arc<TestDb>>,
}

/// The PostgreSQL server the suite runs against (`BREAKGLASS_TEST_DATABASE_URL`); unset: SQLite.
pub fn pg_server_url() -> Option<String> {
    std::env::var("BREAKGLASS_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A database of its own for one test on the PostgreSQL server, dropped (with any connection
/// still open) when the last server using it is gone.
pub struct TestDb {
    server_url: String,
    name: String,
    /// Its URL.
    pub url: String,
    /// Whether dropping this handle drops the database (not for a second route to it).
    owns: bool,
}

impl TestDb {
    async fn create(server_url: String) -> Arc<TestDb> {
        use sqlx::Connection;
        let name = format!("bg_it_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        let mut conn = sqlx::PgConnection::connect(&server_url).await.unwrap_or_else(|e| {
            panic!("BREAKGLASS_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let url = with_database(&server_url, &name);
        Arc::new(TestDb { server_url, name, url, owns: true })
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut u = reqwest::Url::parse(url).expect("BREAKGLASS_TEST_DATABASE_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owns {
            return;
        }
        let (url, name) = (self.server_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestApp {
    /// A server with the default project quota (20).
    pub async fn start() -> Self {
        Self::start_with_quota(20).await
    }

    /// A server with its configuration changed by `tweak` (limits, timeouts).
    pub async fn start_configured(tweak: impl FnOnce(&mut Config)) -> Self {
        let (dir, db) = Self::fresh().await;
        Self::start_with(dir, 20, ts(T0), db, tweak).await
    }

    /// A new data directory and, on PostgreSQL, a new database.
    async fn fresh() -> (PathBuf, Option<Arc<TestDb>>) {
        let n = NEXT_DIR.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("breakglass-it-{}-{n}-{nanos}", std::process::id()));
        let db = match pg_server_url() {
            Some(url) => Some(TestDb::create(url).await),
            None => None,
        };
        (dir, db)
    }

    /// A server whose new workspaces get `quota` projects by default.
    pub async fn start_with_quota(quota: u32) -> Self {
        let (dir, db) = Self::fresh().await;
        Self::start_in(dir, quota, ts(T0), db).await
    }

    async fn start_in(dir: PathBuf, quota: u32, now: Timestamp, db: Option<Arc<TestDb>>) -> Self {
        Self::start_with(dir, quota, now, db, |_| {}).await
    }

    async fn start_with(
        dir: PathBuf,
        quota: u32,
        now: Timestamp,
        db: Option<Arc<TestDb>>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut c = Config::new(dir.clone());
        c.database_url = db.as_ref().map(|d| d.url.clone());
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.clock = Clock::manual(now);
        c.sweep_every = Duration::from_secs(3600);
        c.default_project_quota = quota;
        tweak(&mut c);
        let running = breakglass_server::start(c).await.expect("the server starts");
        let url = running.url();
        let admin = Client::new(&url, Some(ADMIN_TOKEN.into())).unwrap();
        let http = reqwest::Client::new();
        // Let the background tasks take their first step (the sweeper sweeps once at start-up)
        // before the test moves the clock.
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
        Self {
            app: running.app.clone(),
            running: Some(running),
            url,
            dir,
            admin,
            http,
            quota,
            owns_dir: true,
            db,
        }
    }

    /// A second server on the same database (as a replica would be), at this one's instant. It
    /// leaves the data directory to this one.
    pub async fn second_server(&self) -> TestApp {
        let mut other = Self::start_in(self.dir.clone(), self.quota, self.now(), self.db.clone()).await;
        other.owns_dir = false;
        other
    }

    /// A second server on the same database that follows the others only every `every` (so that
    /// a test sees what it does between two looks), at this one's instant.
    pub async fn second_server_following_every(&self, every: Duration) -> TestApp {
        let mut other = Self::start_with(self.dir.clone(), self.quota, self.now(), self.db.clone(), |c| {
            c.sync_every = every
        })
        .await;
        other.owns_dir = false;
        other
    }

    /// Everything the database holds, as bytes to scan for secrets: the SQLite files (with the
    /// write-ahead log), or every row of every table in PostgreSQL as text.
    pub async fn database_bytes(&self) -> Vec<u8> {
        if let Some(db) = &self.db {
            use sqlx::{Connection, Row};
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let mut out = Vec::new();
            for t in tables {
                let rows = sqlx::query(&format!("SELECT t::text FROM \"{t}\" t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for r in rows {
                    out.extend_from_slice(r.get::<String, _>(0).as_bytes());
                    out.push(b'\n');
                }
            }
            return out;
        }
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(breakglass_server::DATABASE_FILE) {
                out.extend(std::fs::read(&path).unwrap());
            }
        }
        out
    }

    /// A second server on this one's PostgreSQL database reached through `url` (e.g. a
    /// [`CuttableLink`]); `None` on SQLite.
    pub async fn replica_via(&self, url: String) -> Option<TestApp> {
        let db = self.db.as_ref()?;
        let proxied = TestDb { server_url: db.server_url.clone(), name: db.name.clone(), url, owns: false };
        let mut other =
            Self::start_in(self.dir.clone(), self.quota, self.now(), Some(Arc::new(proxied))).await;
        other.owns_dir = false;
        Some(other)
    }

    /// A second server on the same database and data directory, configured by `tweak`.
    pub async fn second_server_configured(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut other =
            Self::start_with(self.dir.clone(), self.quota, self.now(), self.db.clone(), tweak).await;
        other.owns_dir = false;
        other
    }

    /// Stops the server and starts a new one on the same data directory, configured by `tweak`.
    pub async fn restart_configured(mut self, tweak: impl FnOnce(&mut Config)) -> Self {
        let now = self.now();
        if let Some(r) = self.running.take() {
            r.stop().await.expect("the server stops cleanly");
        }
        let dir = std::mem::take(&mut self.dir);
        let quota = self.quota;
        let db = self.db.take();
        drop(self);
        Self::start_with(dir, quota, now, db, tweak).await
    }

    /// Lets `role` on `ws`/`project` be requested in an emergency under a new "break glass"
    /// policy that grants at once (at most 1 h; a justification when `justification`).
    // Used by the measurement binaries, not by every test binary that shares this module.
    #[allow(dead_code)]
    pub async fn allow_emergency(&self, ws: &str, project: &str, role: &str, justification: bool) {
        let glass = self
            .admin
            .create_policy(&breakglass_client::api::PolicyBody {
                name: "break glass".into(),
                workspace: None,
                steps: Vec::new(),
                max_duration: Some("1h".into()),
                justification_required: Some(justification),
                pending_ttl: None,
            })
            .await
            .unwrap();
        let entitlement = breakglass_client::api::EntitlementBody {
            request_policy: None,
            emergency_enabled: true,
            emergency_policy: Some(glass.id),
        };
        self.admin.set_project_entitlement(ws, project, role, &entitlement).await.unwrap();
    }

    /// Stops the server and starts a new one on the same data directory, at the same instant.
    pub async fn restart(self) -> Self {
        self.restart_configured(|_| {}).await
    }

    /// Stops the server and keeps its data directory and database, for a test to edit them as
    /// someone with access to the machine would before the next start.
    pub async fn halt(mut self) -> Halted {
        let now = self.now();
        if let Some(r) = self.running.take() {
            r.stop().await.expect("the server stops cleanly");
        }
        let dir = std::mem::take(&mut self.dir);
        let db = self.db.take();
        let quota = self.quota;
        drop(self);
        Halted { dir, quota, now, db }
    }

    /// Stops the server and removes its data directory.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(30), r.stop())
                .await
                .expect("the server stops within 30 s")
                .expect("the server stops cleanly");
        }
    }

    /// The address the server listens on.
    pub fn app_addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().expect("the server runs").addr
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join(breakglass_server::DATABASE_FILE)
    }

    /// A client acting as the first admin.
    pub fn admin(&self) -> Client {
        self.admin.clone()
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        self.admin.anonymous()
    }

    /// A client acting with `token`.
    pub fn client(&self, token: &str) -> Client {
        // A fresh client, so that its `last_seq` is its own.
        Client::new(&self.url, Some(token.into())).unwrap()
    }

    /// Creates a plain user with a password (see [`password_for`]), signs them in, and returns
    /// a client acting with their session.
    pub async fn user(&self, email: &str) -> Client {
        self.user_with_role(email, None).await
    }

    /// Like [`TestApp::user`] with an admin-area role (`admin`, `employee`, `auditor`).
    pub async fn user_with_role(&self, email: &str, admin_role: Option<&str>) -> Client {
        self.admin
            .create_user(&CreateUser {
                email: email.into(),
                name: format!("Test {email}"),
                admin_role: admin_role.map(Into::into),
                password: Some(password_for(email)),
            })
            .await
            .unwrap_or_else(|e| panic!("create user {email}: {e}"));
        self.login(email).await
    }

    /// Signs an existing user in with their test password.
    pub async fn login(&self, email: &str) -> Client {
        let session = self
            .anonymous()
            .login(&Login { email: email.into(), password: password_for(email) })
            .await
            .unwrap_or_else(|e| panic!("log in {email}: {e}"));
        self.client(&session.token)
    }

    /// Creates a workspace owned by `owners` (by the admin when empty).
    pub async fn workspace(&self, id: &str, owners: &[&str]) -> Workspace {
        self.admin
            .create_workspace(&CreateWorkspace {
                identifier: id.into(),
                name: format!("Workspace {id}"),
                owners: owners.iter().map(|s| (*s).to_owned()).collect(),
                project_quota: None,
                members: Vec::new(),
                tags: Default::default(),
            })
            .await
            .unwrap_or_else(|e| panic!("create workspace {id}: {e}"))
    }

    /// Creates a project as the admin.
    pub async fn project(&self, ws: &str, id: &str) -> Project {
        self.admin
            .create_project(
                ws,
                &CreateProject {
                    identifier: id.into(),
                    name: format!("Project {id}"),
                    tags: Default::default(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create project {ws}/{id}: {e}"))
    }

    /// The server's current instant.
    pub fn now(&self) -> Timestamp {
        self.app.clock.now()
    }

    /// Sets the server's clock.
    pub fn set_time(&self, t: Timestamp) {
        self.app.clock.set(t);
    }

    /// Moves the server's clock forward by `span`.
    pub fn advance(&self, span: Span) -> Timestamp {
        let t = self.now().plus(span);
        self.set_time(t);
        t
    }

    /// Records due expiries now; returns how many.
    pub async fn sweep(&self) -> usize {
        breakglass_server::sweeper::sweep_once(&self.app).await.expect("the sweep succeeds")
    }

    /// The audit head sequence, as `/healthz` reports it.
    pub async fn seq(&self) -> i64 {
        self.anonymous().health().await.expect("healthz").seq
    }

    /// Every audit event, in order.
    pub async fn events(&self) -> Vec<AuditEvent> {
        self.admin.all_audit(&AuditQuery::default()).await.expect("read the audit log")
    }

    /// The last audit event.
    pub async fn last_event(&self) -> AuditEvent {
        self.events().await.pop().expect("the audit log is not empty")
    }

    /// Events of one type, in order.
    pub async fn events_of(&self, ty: &str) -> Vec<AuditEvent> {
        self.admin
            .all_audit(&AuditQuery { event_type: Some(ty.into()), ..Default::default() })
            .await
            .expect("read the audit log")
    }

    /// Everything the API shows, as the admin sees it.
    pub async fn snapshot(&self) -> Snapshot {
        let admin = &self.admin;
        let report = admin.verify_audit().await.expect("verify");
        assert!(report.ok, "the audit chain must verify: {report:?}");
        let mut workspaces = Vec::new();
        for ws in admin.all_workspaces().await.expect("workspaces") {
            let members = admin.all_workspace_members(&ws.identifier).await.expect("members");
            let mut projects = Vec::new();
            for p in admin.all_projects(&ws.identifier).await.expect("projects") {
                let pm =
                    admin.all_project_members(&ws.identifier, &p.identifier).await.expect("project members");
                projects.push((p, pm));
            }
            workspaces.push((ws, members, projects));
        }
        Snapshot {
            seq: self.seq().await,
            head_hash: report.head_hash,
            events: self.events().await.len(),
            users: admin.all_users().await.expect("users"),
            workspaces,
        }
    }

    /// Asserts that nothing observable changed since `before`.
    pub async fn assert_unchanged(&self, before: &Snapshot, what: &str) {
        let after = self.snapshot().await;
        assert!(after == *before, "{what} changed something:\nbefore: {before:#?}\nafter: {after:#?}");
    }

    /// A request the typed client cannot send: `method` on `path` (from the base URL), with an
    /// optional bearer token and body.
    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Body<'_>) -> Raw {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.header("content-type", "application/json").body(v.to_string()),
            Body::JsonText(s) => req.header("content-type", "application/json").body(s.to_owned()),
            Body::Untyped(s) => req.body(s.to_owned()),
        };
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header("content-type");
        let seq = header("breakglass-seq").map(|s| s.parse().expect("Breakglass-Seq is a number"));
        let text = resp.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Raw { status, content_type, seq, body, text }
    }
}

/// A stopped server's data directory and database (see [`TestApp::halt`]).
pub struct Halted {
    /// The data directory.
    pub dir: PathBuf,
    quota: u32,
    now: Timestamp,
    /// The PostgreSQL database, when the suite runs against PostgreSQL.
    pub db: Option<Arc<TestDb>>,
}

impl Halted {
    /// Runs SQL statements on the database as its owner would (the SQLite file, or the
    /// PostgreSQL database); `sqlite` and `postgres` are the same edit in each dialect.
    pub async fn edit(&self, sqlite: &[&str], postgres: &[&str]) {
        use sqlx::Connection;
        if let Some(db) = &self.db {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            for s in postgres {
                sqlx::query(s).execute(&mut conn).await.unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        } else {
            let path = self.dir.join(breakglass_server::DATABASE_FILE);
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            for s in sqlite {
                sqlx::query(s).execute(&mut conn).await.unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    }

    /// Starts a server on it again.
    pub async fn start(mut self) -> TestApp {
        let dir = std::mem::take(&mut self.dir);
        TestApp::start_in(dir, self.quota, self.now, self.db.take()).await
    }
}

impl Drop for Halted {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            remove_dir(&self.dir);
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.owns_dir && !self.dir.as_os_str().is_empty() {
            remove_dir(&self.dir);
        }
    }
}

fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// A TCP forwarder to the PostgreSQL server that a test can cut and restore: a replica behind it
/// loses its database and finds it again.
pub struct CuttableLink {
    /// The port to connect to instead of the server's.
    pub port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    frozen: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableLink {
    /// Forwards a local port to `upstream` (`host:port`).
    pub async fn open(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let frozen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (c, f, l) = (cut.clone(), frozen.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused as soon as it is made
                }
                let (upstream, f) = (upstream.clone(), f.clone());
                let task = tokio::spawn(async move {
                    if let Ok(outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let (ri, wi) = inbound.into_split();
                        let (ro, wo) = outbound.into_split();
                        tokio::join!(forward(ri, wo, f.clone()), forward(ro, wi, f));
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { port, cut, frozen, links, accept }
    }

    /// Keeps every connection open but lets nothing through, as a network that drops packets
    /// silently would: calls neither fail nor answer.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Breaks every open connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.frozen.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes one way, holding them while `frozen`.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for CuttableLink {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `url` pointing at `127.0.0.1:port` instead of its host and port.
pub fn via_port(url: &str, port: u16) -> String {
    let mut u = reqwest::Url::parse(url).expect("a database URL");
    u.set_host(Some("127.0.0.1")).expect("a URL with a host");
    u.set_port(Some(port)).expect("a URL with a host");
    u.to_string()
}

/// The `host:port` of a PostgreSQL URL.
pub fn host_port(url: &str) -> String {
    let u = reqwest::Url::parse(url).expect("a database URL");
    format!("{}:{}", u.host_str().unwrap_or("127.0.0.1"), u.port().unwrap_or(5432))
}
