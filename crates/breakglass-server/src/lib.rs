//! The Breakglass server: use cases over the core and the store, the HTTP API, authentication
//! and background jobs.

pub mod app;
pub mod auth;
pub mod demo;
pub mod error;
pub mod http;
pub mod integrity;
pub mod listener;
pub mod ops;
pub mod passwords;
pub mod provision;
pub mod routes;
pub mod seal;
pub mod sweeper;
pub mod throttle;
pub mod views;
pub mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use breakglass_core::cmd::users;
use breakglass_core::ident::Email;
use breakglass_core::role::AdminRole;
use breakglass_core::Actor;
use breakglass_store::{PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use app::{App, Clock};

/// E-mail of the first admin.
pub const ADMIN_EMAIL: &str = "admin@localhost";
/// File in the data directory holding a generated first-admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// SQLite database file in the data directory.
pub const DATABASE_FILE: &str = "breakglass.db";

/// How to run a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory for the SQLite database and the admin token file.
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Seed a demo organisation into an empty database.
    pub demo: bool,
    /// A PostgreSQL URL (`postgres://...`) instead of the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Bearer token for the first admin (`BREAKGLASS_ADMIN_TOKEN`), used only when no admin exists.
    pub admin_token: Option<String>,
    /// Project quota of new workspaces, applied as the initial setting of a new database (later
    /// the `default_project_quota` setting governs).
    pub default_project_quota: u32,
    /// Where time comes from (tests use a manual clock).
    pub clock: Clock,
    /// How often the sweeper records expiries.
    pub sweep_every: Duration,
    /// How often to look for changes other processes committed to the same database.
    pub sync_every: Duration,
    /// Limits of the connections the server accepts.
    pub connections: listener::Limits,
    /// How long a stopping server lets requests in flight finish.
    pub drain: Duration,
    /// How failed sign-ins are throttled.
    pub sign_in: throttle::Limits,
    /// Peers trusted to name the client in `X-Forwarded-For` (a reverse proxy in front).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Threads that hash passwords; each holds one argon2 memory area (19 MiB) for good.
    pub password_hash_threads: usize,
    /// How long a write waits for the database before answering 503.
    pub write_patience: Duration,
    /// How often every platform is listed in full and reconciled (between the passes each
    /// commit and each expiry starts).
    pub reconcile_every: Duration,
    /// The key sealing secret platform settings, as 64 hex digits (else the key file).
    pub platform_key: Option<String>,
    /// The file of that key (default: `<data-dir>/platform-key`, created when missing).
    pub platform_key_file: Option<PathBuf>,
    /// The directory of the programs external connectors may run (`None`: kind `external` is
    /// off). An admin names a program; only the operator decides which exist.
    pub connectors_dir: Option<PathBuf>,
    /// Where the audit chain's signed checkpoints go and their key (default: in `data_dir`).
    pub checkpoints: Option<integrity::Config>,
    /// How often a checkpoint is written when the head moved.
    pub checkpoint_every: Duration,
}

impl Config {
    /// Defaults: `127.0.0.1:8080`, no demo, SQLite in `data_dir`, quota 20, system clock,
    /// sweeping every second.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: false,
            database_url: None,
            admin_token: None,
            default_project_quota: 20,
            clock: Clock::System,
            sweep_every: Duration::from_secs(1),
            sync_every: Duration::from_millis(50),
            connections: listener::Limits::default(),
            drain: Duration::from_secs(10),
            sign_in: throttle::Limits::default(),
            trusted_proxies: Vec::new(),
            password_hash_threads: passwords::DEFAULT_THREADS,
            write_patience: app::WRITE_PATIENCE,
            checkpoints: None,
            checkpoint_every: Duration::from_secs(1),
            reconcile_every: Duration::from_secs(60),
            connectors_dir: None,
            platform_key: None,
            platform_key_file: None,
        }
    }
}

/// A server started in the background (for `serve` and for tests).
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The application, for tests that look inside.
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, finishes the ones in flight, and stops the sweeper.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.background.iter().for_each(JoinHandle::abort);
        (&mut self.server).await??;
        self.app.checkpoint();
        Ok(())
    }

    /// Waits until the server stops (after a signal).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.server.await??;
        self.background.iter().for_each(JoinHandle::abort);
        self.app.checkpoint();
        Ok(())
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &config.database_url {
        // The URL may carry a password: name only where it points, never the whole of it.
        let store = PgStore::connect(url).await.context("cannot connect to PostgreSQL (--database-url)")?;
        store.migrate().await.context("cannot migrate the PostgreSQL database")?;
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let path = config.data_dir.join(DATABASE_FILE);
    let store =
        SqliteStore::open(&path).await.with_context(|| format!("cannot open database {}", path.display()))?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(Arc::new(store))
}

/// Applies pending migrations and exits.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    open_store(config).await?;
    match &config.database_url {
        Some(_) => tracing::info!("PostgreSQL database is up to date"),
        None => tracing::info!(data_dir = %config.data_dir.display(), "database is up to date"),
    }
    Ok(())
}

/// Migrates, loads the model, prepares the first admin (and the demo), and starts serving in
/// the background.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let store = open_store(&config).await?;
    let app = Arc::new(
        App::load(store, config.clock.clone()).await.context("cannot load the model from the database")?,
    );
    app.throttle.configure(config.sign_in.clone());
    app.set_trusted_proxies(config.trusted_proxies.clone());
    app.set_patience(config.write_patience);
    anchor(&app, &config).await?;
    let key_file =
        config.platform_key_file.clone().unwrap_or_else(|| seal::Sealer::key_file(&config.data_dir));
    if config.platform_key.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    }
    let sealer = seal::Sealer::load(config.platform_key.as_deref(), &key_file)
        .context("cannot load the platform key")?;
    app.set_sealer(Arc::new(sealer));
    let threads = passwords::start(config.password_hash_threads);
    if threads != config.password_hash_threads.max(1) {
        tracing::info!(threads, "password hashing already runs in this process; its thread count stays");
    }
    let fresh = app.head().seq == 0 && app.integrity().is_none();
    bootstrap_admin(&app, &config).await?;
    if fresh && config.default_project_quota != app.state().settings().default_project_quota {
        let settings = breakglass_core::org::Settings {
            default_project_quota: config.default_project_quota,
            ..app.state().settings().clone()
        };
        app.execute(Actor::System, |state, ctx| {
            Ok((breakglass_core::cmd::admin::update_settings(state, ctx, settings.clone())?, ()))
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot apply the initial project quota: {}", e.detail))?;
    }
    if config.demo {
        demo::seed(&app, &config).await.context("cannot seed the demo organisation")?;
    }
    let open_files = listener::raise_open_files_limit();
    let max_connections = listener::effective_max_connections(&config.connections, open_files);
    if max_connections < config.connections.max_connections {
        tracing::warn!(
            configured = config.connections.max_connections,
            open_files,
            "the open-files limit leaves room for {max_connections} connections only"
        );
    }
    let tcp = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = tcp.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let router = routes::router(app.clone());
    let (limits, drain, proxies) = (config.connections.clone(), config.drain, config.trusted_proxies.clone());
    let server = tokio::spawn(async move {
        let stop = async move {
            tokio::select! {
                _ = rx => {}
                () = shutdown_signal() => {}
            }
        };
        listener::serve(tcp, router, limits, max_connections, proxies, stop, drain).await
    });
    app.provisioning.set_env(breakglass_connect::Env { connectors_dir: config.connectors_dir.clone() });
    let background = vec![
        tokio::spawn(sweeper::run(app.clone(), config.sweep_every)),
        tokio::spawn(sweeper::follow(app.clone(), config.sync_every)),
        tokio::spawn(sweeper::checkpoints(app.clone(), config.checkpoint_every)),
        tokio::spawn(provision::run(app.clone(), config.reconcile_every)),
        tokio::spawn(sweeper::ssh_revocations(app.clone())),
    ];
    Ok(Running { addr, app, shutdown: Some(tx), server, background })
}

/// Parses a duration as the API does (`30s`, `15m`, `2h`, `1d`, `PT2H`), or in milliseconds
/// (`1500ms`): for the server's flags.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms").filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return ms.parse().map(Duration::from_millis).map_err(|e| format!("'{s}': {e}"));
    }
    let span = breakglass_core::time::Span::parse(s).map_err(|e| e.to_string())?;
    Ok(Duration::from_micros(u64::try_from(span.as_micros()).unwrap_or(0)))
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let running = start(config).await?;
    tracing::info!(url = %running.url(), "Breakglass is listening");
    println!("Breakglass is listening on {}", running.url());
    running.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Opens the signed checkpoints and compares the stored chain with its anchors: a head behind
/// the change log or the last checkpoint (or an event at the checkpoint's sequence with another
/// hash) refuses every write until an operator looks into it.
async fn anchor(app: &App, config: &Config) -> anyhow::Result<()> {
    let cfg = config.checkpoints.clone().unwrap_or_else(|| integrity::Config::in_dir(&config.data_dir));
    let (checkpoints, found) = integrity::Checkpoints::open(&cfg)?;
    if let Some(problem) = found.problem {
        app.set_integrity(problem);
    }
    if found.key_existed && found.file_missing && app.head().seq > 0 {
        app.set_integrity(format!(
            "the audit checkpoints file {} is missing although its key exists: it was removed",
            checkpoints.file().display()
        ));
    }
    for (email, kept, lost) in app.state().email_collisions() {
        tracing::error!(
            %email, kept = %kept, lost = %lost,
            "two accounts share this address once normalised; the older keeps it, the other can no longer sign in by it"
        );
    }
    let finding = integrity::check(app.store.as_ref(), found.last.as_ref())
        .await
        .context("cannot compare the audit log with its anchors")?;
    if let Some(f) = finding {
        app.set_integrity(f.reason);
    }
    tracing::info!(
        file = %checkpoints.file().display(),
        key = %checkpoints.public_key(),
        "audit checkpoints are signed with this key"
    );
    app.set_checkpoints(Arc::new(checkpoints));
    Ok(())
}

/// Creates `admin@localhost` when no admin exists: with `BREAKGLASS_ADMIN_TOKEN` as its token
/// if set, else with a generated token written to `<data-dir>/admin-token` (mode 0600).
async fn bootstrap_admin(app: &App, config: &Config) -> anyhow::Result<()> {
    let has_admin = app.state().users().iter().any(|u| u.admin_role == AdminRole::Admin);
    if has_admin {
        if config.admin_token.is_some() {
            tracing::info!("an admin already exists; BREAKGLASS_ADMIN_TOKEN is ignored");
        }
        return Ok(());
    }
    let email = Email::parse(ADMIN_EMAIL)?;
    let (secret, file) = match &config.admin_token {
        Some(t) => {
            let t = t.trim();
            if t.len() < 16 {
                anyhow::bail!("BREAKGLASS_ADMIN_TOKEN must be at least 16 characters long");
            }
            (t.to_owned(), None)
        }
        None => {
            let secret = auth::new_secret(auth::API_TOKEN_PREFIX);
            let path = config.data_dir.join(ADMIN_TOKEN_FILE);
            write_secret_file(&path, &secret)?;
            (secret, Some(path))
        }
    };
    let digest = auth::secret_hash(&secret);
    let result = app
        .execute(Actor::System, |state, ctx| {
            Ok((users::bootstrap_admin(state, ctx, email.clone(), Some(digest))?, ()))
        })
        .await;
    match (result, file) {
        (Ok(_), Some(path)) => {
            tracing::info!(path = %path.display(), "created {ADMIN_EMAIL}; its API token is in this file (shown once)");
            println!("Created {ADMIN_EMAIL}. Its API token is in {} (mode 0600).", path.display());
        }
        (Ok(_), None) => tracing::info!("created {ADMIN_EMAIL} with the token from BREAKGLASS_ADMIN_TOKEN"),
        (Err(e), file) => {
            if let Some(path) = file {
                let _ = std::fs::remove_file(path);
            }
            anyhow::bail!("cannot create the first admin: {}", e.detail);
        }
    }
    Ok(())
}

/// Writes a secret to a new file readable only by its owner.
pub(crate) fn write_secret_file(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(f, "{secret}")?;
    f.sync_all()?;
    Ok(())
}
