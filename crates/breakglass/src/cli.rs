//! The command line: global flags, nouns and verbs (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Breakglass: workspaces, projects and time-bound access, with an audit trail.
#[derive(Debug, Parser)]
#[command(name = "breakglass", version, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success, 1 the server refused or failed, 2 usage error, \
                        3 `check` denied.")]
pub struct Cli {
    /// Server base URL.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BREAKGLASS_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,

    /// Bearer token (an API token or a session from `login`).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BREAKGLASS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Output format.
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        value_enum,
        default_value_t = Output::Table
    )]
    pub output: Output,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns and `key: value` records.
    Table,
    /// The API's JSON, pretty-printed.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(StoreArgs),
    /// Show whether the server answers and the audit sequence it reflects.
    Health,
    /// Sign in with e-mail and password; prints a session token.
    Login(LoginArgs),
    /// End the session whose token is in use.
    Logout,
    /// Show who you are and your workspaces.
    Me,
    /// Manage user accounts (admins).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage your API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage projects of a workspace.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage memberships of a workspace or project.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Give or revoke temporary roles on top of memberships.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Check whether a user holds a role now (exit 0 allowed, 3 denied).
    Check(CheckArgs),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Show the audit history of a workspace or project.
    History(HistoryArgs),
}

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
}

/// Arguments of `login`.
#[derive(Debug, Args)]
#[command(after_help = "Without --password-stdin the password is read from BREAKGLASS_PASSWORD. \
                        `eval \"$(breakglass login ...)\"` sets BREAKGLASS_TOKEN.")]
pub struct LoginArgs {
    /// Your e-mail.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,

    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `user` verbs.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// E-mail, unique regardless of case.
        email: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Admin-area role: none, admin, employee or auditor.
        #[arg(long, value_name = "ROLE")]
        admin_role: Option<String>,
        /// Read an initial password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

/// When something ends: at most one of the two.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct Expiry {
    /// How long from now (`90m`, `2h`, `1d`, `PT2H`).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// When (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
}

/// When a grant ends: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RequiredExpiry {
    /// How long from now (`90m`, `2h`, `1d`, `PT2H`).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// When (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
}

/// `token` verbs.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; its secret is printed once.
    Create {
        /// Your label for the token.
        name: String,
        /// When it stops working (default: never).
        #[command(flatten)]
        expiry: Expiry,
    },
    /// List your tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// Token id (from `token list`).
        id: String,
    },
}

/// `workspace` verbs.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        /// Immutable identifier (lowercase letters, digits, dashes).
        id: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Initial owner (repeatable; default: you).
        #[arg(long = "owner", value_name = "EMAIL")]
        owners: Vec<String>,
        /// Maximum number of projects (default: the server's).
        #[arg(long, value_name = "N")]
        quota: Option<u32>,
    },
    /// List the workspaces you can see.
    List,
    /// Show one workspace.
    Show {
        /// Workspace identifier.
        id: String,
    },
}

/// `project` verbs.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project in a workspace.
    Create {
        /// Workspace identifier.
        workspace: String,
        /// Immutable project identifier, unique in the workspace.
        id: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// List the projects of a workspace.
    List {
        /// Workspace identifier.
        workspace: String,
    },
    /// Show one project.
    Show {
        /// Workspace identifier.
        workspace: String,
        /// Project identifier.
        id: String,
    },
}

/// `member` verbs.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// List the bindings of a workspace or project.
    List {
        /// Workspace identifier.
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
    },
    /// Add a member or change their role.
    #[command(visible_alias = "set")]
    Add {
        /// Workspace identifier.
        workspace: String,
        /// The member's e-mail.
        email: String,
        /// Workspace role (member, manager, owner) or, with --project, project role (reader,
        /// user, admin).
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// When the membership ends (default: standing).
        #[command(flatten)]
        expiry: Expiry,
    },
    /// Remove a member.
    Remove {
        /// Workspace identifier.
        workspace: String,
        /// The member's e-mail.
        email: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
    },
}

/// `grant` verbs.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Give a user a temporary role.
    Create {
        /// The user's e-mail.
        email: String,
        /// Workspace identifier.
        #[arg(long, value_name = "WS")]
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The role.
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// When the grant ends.
        #[command(flatten)]
        expiry: RequiredExpiry,
        /// Why, recorded in the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Revoke a grant before it ends.
    Revoke {
        /// Binding id of the grant.
        id: String,
    },
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The user's e-mail.
    #[arg(long, value_name = "EMAIL")]
    pub user: String,
    /// Workspace identifier.
    #[arg(long, value_name = "WS")]
    pub workspace: String,
    /// Project identifier (absent: a workspace role).
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// The role asked for; any higher role of the same kind also counts.
    #[arg(long, value_name = "ROLE")]
    pub role: String,
}

/// Filters and paging shared by `audit list` and `history`.
#[derive(Debug, Args)]
pub struct EventFilter {
    /// Only events of these types, comma-separated (e.g. USER_ASSIGNED,USER_REMOVED).
    #[arg(long = "type", value_name = "TYPES")]
    pub event_type: Option<String>,
    /// Only events after this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub after: Option<i64>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Events per page (1 to 1000).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Continue from the `next_cursor` of an earlier page.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Follow cursors to the last page.
    #[arg(long)]
    pub all: bool,
}

/// `audit` verbs.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events.
    List {
        /// Only events of this workspace (its projects' included).
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
        /// Only events of this project (needs --workspace).
        #[arg(long, value_name = "PROJECT", requires = "workspace")]
        project: Option<String>,
        /// Filters and paging.
        #[command(flatten)]
        filter: EventFilter,
    },
    /// Recompute the audit hash chain (exit 1 when it is broken).
    Verify,
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Workspace identifier.
    pub workspace: String,
    /// A project of the workspace.
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Filters and paging.
    #[command(flatten)]
    pub filter: EventFilter,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
