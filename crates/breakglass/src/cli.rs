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
    /// Manage approval policies: who must approve a request, and its limits.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show and set how each role of a workspace or project may be requested.
    #[command(subcommand)]
    Entitlement(EntitlementCommand),
    /// Ask for access, normally or in an emergency, and follow your requests.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Requests waiting for your approval: approve, deny, escalate.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Emergency reviews: the look-back after every emergency grant.
    #[command(subcommand)]
    Review(ReviewCommand),
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
        /// Why; needed when the role's policy turns the assignment into a request that requires
        /// a justification.
        #[arg(long, value_name = "TEXT")]
        justification: Option<String>,
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

/// Definition flags shared by `policy create` and `policy update`.
#[derive(Debug, Args)]
pub struct PolicyFlags {
    /// An approval step, in order (repeatable): `COUNT:SET`, where SET is workspace_managers,
    /// workspace_owners, admin_area or users=EMAIL,EMAIL...; e.g. `2:workspace_managers`,
    /// `1:users=alice@x.com,bob@x.com`. No steps: requests are granted at once.
    #[arg(long = "step", value_name = "SPEC", value_parser = parse_step)]
    pub steps: Vec<breakglass_api::PolicyStep>,
    /// Longest access a request may ask for (`4h`, `30d`).
    #[arg(long, value_name = "DURATION")]
    pub max_duration: Option<String>,
    /// Requests need no justification.
    #[arg(long)]
    pub no_justification: bool,
    /// How long a request may wait for approvals (default 7d).
    #[arg(long, value_name = "DURATION")]
    pub pending_ttl: Option<String>,
}

/// `policy` verbs.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create a policy.
    #[command(after_help = "Example: breakglass policy create four-eyes --workspace acme \
                            --step 2:workspace_managers --max-duration 8h")]
    Create {
        /// Display name.
        name: String,
        /// Owning workspace (default: installation-wide, admins only).
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
        /// The definition.
        #[command(flatten)]
        flags: PolicyFlags,
    },
    /// List policies.
    List {
        /// Only this workspace's policies (and installation-wide ones).
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
    },
    /// Show one policy.
    Show {
        /// Policy id.
        id: String,
    },
    /// Change a policy: the given flags replace those parts of its current definition.
    /// Requests already open keep the version they were opened with.
    Update {
        /// Policy id.
        id: String,
        /// New display name.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The flags to change; given --step flags replace all steps.
        #[command(flatten)]
        flags: PolicyFlags,
        /// Remove every step (requests are granted at once).
        #[arg(long, conflicts_with = "steps")]
        no_steps: bool,
        /// Remove the maximum duration.
        #[arg(long, conflicts_with = "max_duration")]
        no_max_duration: bool,
        /// Requests must give a justification.
        #[arg(long, conflicts_with = "no_justification")]
        require_justification: bool,
    },
}

/// `entitlement` verbs.
#[derive(Debug, Subcommand)]
pub enum EntitlementCommand {
    /// List the effective settings of every role of a workspace and its projects.
    List {
        /// Workspace identifier.
        workspace: String,
    },
    /// Change how a role may be requested; flags not given keep their current values.
    #[command(after_help = "Example: breakglass entitlement set acme owner --emergency \
                            --emergency-policy <ID>")]
    Set {
        /// Workspace identifier.
        workspace: String,
        /// The role: a workspace role or, with --project, a project role.
        role: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Policy for normal requests, or `default` for the installation's.
        #[arg(long, value_name = "ID|default")]
        policy: Option<String>,
        /// Policy for emergency requests.
        #[arg(long, value_name = "ID")]
        emergency_policy: Option<String>,
        /// Allow emergency requests.
        #[arg(long, conflicts_with = "no_emergency")]
        emergency: bool,
        /// Refuse emergency requests.
        #[arg(long)]
        no_emergency: bool,
    },
}

/// `request` verbs.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask for a role for a while; with --emergency, under the emergency policy.
    Create {
        /// Workspace identifier.
        #[arg(long, value_name = "WS")]
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The role.
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// How long the access lasts once granted (`90m`, `2h`, `1d`, `PT2H`).
        #[arg(long, value_name = "DURATION")]
        duration: String,
        /// Why.
        #[arg(long, value_name = "TEXT")]
        justification: Option<String>,
        /// Emergency access: the role's emergency policy applies and the grant is reviewed.
        #[arg(long)]
        emergency: bool,
    },
    /// List your requests (with --all, every request you can see).
    List {
        /// Every request you can see, not just yours.
        #[arg(long)]
        all: bool,
        /// Only requests in this state.
        #[arg(long, value_name = "STATE",
              value_parser = ["pending", "granted", "denied", "cancelled", "lapsed"])]
        state: Option<String>,
        /// Only requests of this workspace.
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
    },
    /// Show one request.
    Show {
        /// Request id.
        id: String,
    },
    /// Withdraw your pending request.
    Cancel {
        /// Request id.
        id: String,
    },
    /// Turn your pending request into an emergency one.
    Escalate {
        /// Request id.
        id: String,
    },
}

/// `task` verbs.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List the pending requests you may act on, emergency ones first.
    List,
    /// Approve a request's current step.
    Approve {
        /// Request id.
        id: String,
        /// As an admin-area admin or employee: grant it at once, recorded as an override.
        #[arg(long = "override")]
        is_override: bool,
    },
    /// Deny a request.
    Deny {
        /// Request id.
        id: String,
        /// Why, shown to the requester.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Escalate your own pending request to emergency (as `request escalate`).
    Escalate {
        /// Request id.
        id: String,
    },
}

/// `review` verbs.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List emergency reviews.
    List {
        /// Which reviews.
        #[arg(long, value_name = "STATE", default_value = "open",
              value_parser = ["open", "completed", "all"])]
        state: String,
        /// Only reviews of this workspace.
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
    },
    /// Record the outcome of an emergency review (not for the access holder).
    Complete {
        /// Review id.
        id: String,
        /// Whether the emergency access was justified.
        #[arg(long, value_name = "OUTCOME", value_parser = ["justified", "not_justified"])]
        outcome: String,
        /// Notes.
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
    },
}

/// Parses a policy step `COUNT:SET` (`2:workspace_managers`, `1:users=a@x.io,b@x.io`).
pub fn parse_step(spec: &str) -> Result<breakglass_api::PolicyStep, String> {
    let usage = "expected COUNT:SET, e.g. 2:workspace_managers or 1:users=alice@x.com,bob@x.com";
    let (count, set) = spec.split_once(':').ok_or_else(|| format!("{spec:?}: {usage}"))?;
    let count: u32 = match count.trim().parse() {
        Ok(n) if n > 0 => n,
        _ => return Err(format!("{spec:?}: the count must be a positive number; {usage}")),
    };
    let set = set.trim();
    let (approvers, users) = match set.split_once('=') {
        Some((name, list)) => {
            let users: Vec<String> =
                list.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
            if name.trim() != "users" || users.is_empty() {
                return Err(format!("{spec:?}: only `users=` takes a list, of at least one e-mail"));
            }
            ("users".to_owned(), users)
        }
        None if set == "users" => return Err(format!("{spec:?}: name the users, as users=EMAIL,EMAIL")),
        None if set.is_empty() => return Err(format!("{spec:?}: {usage}")),
        None => (set.to_owned(), Vec::new()),
    };
    Ok(breakglass_api::PolicyStep { approvers, users, count })
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

    #[test]
    fn policy_steps_parse() {
        let step = |approvers: &str, users: &[&str], count| breakglass_api::PolicyStep {
            approvers: approvers.into(),
            users: users.iter().map(|u| u.to_string()).collect(),
            count,
        };
        assert_eq!(parse_step("2:workspace_managers"), Ok(step("workspace_managers", &[], 2)));
        assert_eq!(parse_step("1:admin_area"), Ok(step("admin_area", &[], 1)));
        assert_eq!(
            parse_step("1:users=alice@x.com, bob@x.com"),
            Ok(step("users", &["alice@x.com", "bob@x.com"], 1))
        );
        for bad in [
            "",
            "2",
            "x:admin_area",
            "0:admin_area",
            "-1:admin_area",
            "1:",
            "1:users",
            "1:users=",
            "1:owners=a@x.io",
        ] {
            assert!(parse_step(bad).is_err(), "{bad:?}");
        }
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("breakglass").chain(args.iter().copied()))
    }

    #[test]
    fn access_request_commands_parse() {
        let cli = parse(&[
            "policy",
            "create",
            "p",
            "--step",
            "2:workspace_managers",
            "--step",
            "1:admin_area",
            "--no-justification",
            "--max-duration",
            "1h",
        ])
        .unwrap();
        let Command::Policy(PolicyCommand::Create { name, workspace, flags }) = cli.command else { panic!() };
        assert_eq!((name.as_str(), workspace, flags.steps.len()), ("p", None, 2));
        assert!(flags.no_justification);

        let cli = parse(&["policy", "update", "p1", "--max-duration", "2h"]).unwrap();
        let Command::Policy(PolicyCommand::Update { flags, no_steps, .. }) = cli.command else { panic!() };
        assert!(flags.steps.is_empty() && !no_steps && flags.max_duration.as_deref() == Some("2h"));

        let cli = parse(&["task", "approve", "r1", "--override"]).unwrap();
        assert!(matches!(cli.command, Command::Task(TaskCommand::Approve { is_override: true, .. })));
        let cli = parse(&["request", "list", "--all", "--state", "pending"]).unwrap();
        assert!(matches!(cli.command, Command::Request(RequestCommand::List { all: true, .. })));
        let cli = parse(&["review", "list"]).unwrap();
        assert!(
            matches!(cli.command, Command::Review(ReviewCommand::List { ref state, .. }) if state == "open")
        );

        for bad in [
            &["policy", "create", "p", "--step", "two:admin_area"][..],
            &["policy", "update", "p1", "--step", "1:admin_area", "--no-steps"][..],
            &["policy", "update", "p1", "--no-justification", "--require-justification"][..],
            &["entitlement", "set", "acme", "owner", "--emergency", "--no-emergency"][..],
            &["request", "create", "--workspace", "acme", "--role", "owner"][..],
            &["request", "list", "--state", "open"][..],
            &["task", "deny", "r1"][..],
            &["review", "complete", "v1", "--outcome", "fine"][..],
            &["review", "list", "--state", "closed"][..],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }
}
