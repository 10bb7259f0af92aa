//! `serve` and `migrate`: the server roles of the binary, their arguments and their configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Where the database is.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory for the SQLite database.
    #[arg(long, env = "BREAKGLASS_DATA_DIR", default_value = "./data", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL, used instead of the SQLite file.
    #[arg(long, env = "BREAKGLASS_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
#[command(after_help = "BREAKGLASS_ADMIN_TOKEN (env) creates the first admin (admin@localhost) \
                        with that token when no admin exists yet. Logs: BREAKGLASS_LOG or \
                        RUST_LOG (default info).")]
pub struct ServeArgs {
    /// Database location.
    #[command(flatten)]
    pub store: StoreArgs,

    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BREAKGLASS_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Seed a demo organisation into an empty database.
    #[arg(long)]
    pub demo: bool,

    /// Project quota of new workspaces.
    #[arg(long, value_name = "N")]
    pub default_project_quota: Option<u32>,

    /// Close a connection that sends no complete request head within this time: a new one, or
    /// a kept-alive one between requests (keep it above a load balancer's idle timeout).
    #[arg(long, env = "BREAKGLASS_IDLE_TIMEOUT", default_value = "30s", value_name = "DURATION",
        value_parser = breakglass_server::parse_duration)]
    pub idle_timeout: std::time::Duration,

    /// Most connections open at once (lowered to what the open-files limit allows); beyond it a
    /// connection is answered 503 and closed.
    #[arg(long, env = "BREAKGLASS_MAX_CONNECTIONS", default_value_t = 4096, value_name = "N")]
    pub max_connections: usize,

    /// Most connections open at once from one client address (0: no such limit, e.g. behind a
    /// proxy that is the only client).
    #[arg(long, env = "BREAKGLASS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 512, value_name = "N")]
    pub max_connections_per_address: usize,

    /// Failed sign-ins allowed per account before it is locked out: N at once, regained over
    /// the duration.
    #[arg(long, env = "BREAKGLASS_SIGN_IN_LIMIT_ACCOUNT", default_value = "10/15m", value_name = "N/DURATION",
        value_parser = breakglass_server::throttle::Budget::parse)]
    pub sign_in_limit_account: breakglass_server::throttle::Budget,

    /// Failed sign-ins allowed per client address before it is locked out.
    #[arg(long, env = "BREAKGLASS_SIGN_IN_LIMIT_ADDRESS", default_value = "50/5m", value_name = "N/DURATION",
        value_parser = breakglass_server::throttle::Budget::parse)]
    pub sign_in_limit_address: breakglass_server::throttle::Budget,

    /// Throttle failed sign-ins (`false` turns it off, for measurements only).
    #[arg(long, env = "BREAKGLASS_SIGN_IN_THROTTLE", default_value_t = true, value_name = "BOOL",
        action = clap::ArgAction::Set)]
    pub sign_in_throttle: bool,

    /// A reverse proxy in front whose X-Forwarded-For names the client (repeat, or separate
    /// with commas); other peers' X-Forwarded-For is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "BREAKGLASS_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "IP"
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Threads that hash passwords; each holds 19 MiB for good, so hashing never holds more
    /// than N × 19 MiB.
    #[arg(long, env = "BREAKGLASS_PASSWORD_HASH_THREADS", default_value_t = 2, value_name = "N")]
    pub password_hash_threads: usize,

    /// Where signed checkpoints of the audit log's head are appended (default:
    /// `<data-dir>/audit-checkpoints.jsonl`); ship this file off the machine.
    #[arg(long, env = "BREAKGLASS_CHECKPOINT_FILE", value_name = "PATH")]
    pub checkpoint_file: Option<std::path::PathBuf>,

    /// The checkpoint signing key's file (default: `<data-dir>/checkpoint-key`, created when
    /// missing). `BREAKGLASS_CHECKPOINT_KEY` (a hex Ed25519 seed) takes its place.
    #[arg(long, env = "BREAKGLASS_CHECKPOINT_KEY_FILE", value_name = "PATH")]
    pub checkpoint_key_file: Option<std::path::PathBuf>,

    /// How often every provisioned platform is listed in full and reconciled (besides the pass
    /// after each change and at each access's start and end).
    #[arg(long, env = "BREAKGLASS_RECONCILE_EVERY", default_value = "60s", value_name = "DURATION",
        value_parser = breakglass_server::parse_duration)]
    pub reconcile_every: std::time::Duration,

    /// The file of the key that seals secret platform settings (default:
    /// `<data-dir>/platform-key`, created when missing). `BREAKGLASS_PLATFORM_KEY` (64 hex
    /// digits) takes its place.
    #[arg(long, env = "BREAKGLASS_PLATFORM_KEY_FILE", value_name = "PATH")]
    pub platform_key_file: Option<std::path::PathBuf>,

    /// The directory of the programs that platforms of kind `external` may run (none by
    /// default: that kind is off). A platform's `command` setting names a program in it.
    #[arg(long, env = "BREAKGLASS_CONNECTORS_DIR", value_name = "DIR")]
    pub connectors_dir: Option<std::path::PathBuf>,

    /// How long a write waits for the database before answering 503.
    #[arg(long, env = "BREAKGLASS_WRITE_TIMEOUT", default_value = "1500ms", value_name = "DURATION",
        value_parser = breakglass_server::parse_duration)]
    pub write_timeout: std::time::Duration,
}
/// The server's configuration: `serve`'s arguments over the environment's secrets.
pub fn config(args: ServeArgs) -> breakglass_server::Config {
    let mut config = store_config(&args.store);
    config.listen = args.listen;
    config.demo = args.demo;
    config.admin_token = std::env::var("BREAKGLASS_ADMIN_TOKEN").ok().filter(|t| !t.is_empty());
    if let Some(quota) = args.default_project_quota {
        config.default_project_quota = quota;
    }
    config.connections = breakglass_server::listener::Limits {
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
        max_connections_per_address: args.max_connections_per_address,
    };
    config.sign_in = breakglass_server::throttle::Limits {
        per_account: args.sign_in_limit_account,
        per_address: args.sign_in_limit_address,
        enabled: args.sign_in_throttle,
    };
    config.trusted_proxies = args.trusted_proxies;
    config.password_hash_threads = args.password_hash_threads;
    config.write_patience = args.write_timeout;
    config.reconcile_every = args.reconcile_every;
    config.platform_key_file = args.platform_key_file;
    config.connectors_dir = args.connectors_dir;
    config.platform_key = std::env::var("BREAKGLASS_PLATFORM_KEY").ok().filter(|k| !k.is_empty());
    let key_hex = std::env::var("BREAKGLASS_CHECKPOINT_KEY").ok().filter(|k| !k.is_empty());
    if args.checkpoint_file.is_some() || args.checkpoint_key_file.is_some() || key_hex.is_some() {
        let defaults = breakglass_server::integrity::Config::in_dir(&config.data_dir);
        config.checkpoints = Some(breakglass_server::integrity::Config {
            file: args.checkpoint_file.unwrap_or(defaults.file),
            key_file: args.checkpoint_key_file.unwrap_or(defaults.key_file),
            key_hex,
        });
    }
    config
}

/// The configuration of `migrate`, and the base of `serve`'s: where the database is.
pub fn store_config(args: &StoreArgs) -> breakglass_server::Config {
    let mut config = breakglass_server::Config::new(args.data_dir.clone());
    config.database_url = args.database_url.clone().filter(|u| !u.is_empty());
    config
}

/// Logs of the server roles go to standard error, filtered by `BREAKGLASS_LOG`, else
/// `RUST_LOG`, else `info`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BREAKGLASS_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
