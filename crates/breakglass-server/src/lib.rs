//! The Breakglass server: use cases over the core and the store, the HTTP API, authentication
//! and background jobs.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory for the SQLite database and the admin token file.
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Seed a demo organisation into an empty database.
    pub demo: bool,
    /// A PostgreSQL URL instead of the SQLite file (not supported yet).
    pub database_url: Option<String>,
    /// Bearer token for the first admin (`BREAKGLASS_ADMIN_TOKEN`), used only when no admin exists.
    pub admin_token: Option<String>,
    /// Project quota of new workspaces.
    pub default_project_quota: u32,
}

impl Config {
    /// Defaults: `./data`, `127.0.0.1:8080`, no demo, SQLite, quota 20.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: false,
            database_url: None,
            admin_token: None,
            default_project_quota: 20,
        }
    }
}

/// Migrates the database, prepares the first admin, and serves HTTP until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let _ = config;
    anyhow::bail!("not yet implemented")
}

/// Applies pending migrations and exits.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let _ = config;
    anyhow::bail!("not yet implemented")
}
