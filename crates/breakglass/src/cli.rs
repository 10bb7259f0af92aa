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

    /// Act as this user, through a delegate access they shared with you and you accepted: every
    /// call carries `X-Breakglass-Act-As` and uses their rights, cut to the access's scope.
    #[arg(
        long = "as",
        global = true,
        help_heading = "Global options",
        env = "BREAKGLASS_ACT_AS",
        value_name = "OWNER_EMAIL",
        value_parser = parse_act_as
    )]
    pub act_as: Option<String>,

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
    /// Create your own account (as the installation's sign-up setting allows) and sign in.
    Signup(SignupArgs),
    /// End the session whose token is in use.
    Logout,
    /// Show who you are (and, with --as, whom you act as) and your workspaces.
    #[command(visible_alias = "whoami")]
    Me,
    /// Manage user accounts (admins).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage your API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Share your rights: API token accesses and delegate accesses; accept or decline the
    /// accesses others share with you.
    #[command(subcommand)]
    Access(AccessCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage projects of a workspace.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage memberships of a workspace or project.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Invite people to a workspace; accept or decline your invitations.
    #[command(subcommand)]
    Invitation(InvitationCommand),
    /// Define tags and set them on workspaces and projects.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Messages from the admin area to a workspace's users.
    #[command(subcommand)]
    Message(MessageCommand),
    /// Show and change the installation settings (admins).
    #[command(subcommand)]
    Settings(SettingsCommand),
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
    /// Register and list platforms: where projects run (registering: admins).
    #[command(subcommand)]
    Platform(PlatformCommand),
    /// Give a project a tenant on a platform, and list a project's tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create, list and delete service users: credentials for a project's tenant.
    #[command(subcommand)]
    ServiceUser(ServiceUserCommand),
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

    /// How long a write waits for the database before answering 503.
    #[arg(long, env = "BREAKGLASS_WRITE_TIMEOUT", default_value = "1500ms", value_name = "DURATION",
        value_parser = breakglass_server::parse_duration)]
    pub write_timeout: std::time::Duration,
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

/// Arguments of `signup`.
#[derive(Debug, Args)]
#[command(after_help = "Without --password-stdin the password is read from BREAKGLASS_PASSWORD. \
                        With sign-up `invited_only`, use the e-mail an invitation was sent to and \
                        pass that invitation's secret with --invitation-token.")]
pub struct SignupArgs {
    /// Your e-mail.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,

    /// Your display name.
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// The secret of an invitation for your e-mail, from whoever invited you (needed when
    /// sign-up is `invited_only`).
    #[arg(long, value_name = "SECRET")]
    pub invitation_token: Option<String>,

    /// Read the password (at least 12 characters) from the first line of standard input.
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
        /// Confine it to one workspace (default: wherever you may act).
        #[arg(long, value_name = "WS")]
        scope: Option<String>,
        /// It may only read: every write with it is refused (`token.read_only`).
        #[arg(long)]
        read_only: bool,
    },
    /// List your tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// Token id (from `token list`).
        id: String,
    },
}

/// Kinds of access, as `access create --kind` takes them.
pub const ACCESS_KINDS: [&str; 2] = [API_TOKEN, DELEGATE];
/// An access that is a bearer token acting as you.
pub const API_TOKEN: &str = "api_token";
/// An access through which named people act as you.
pub const DELEGATE: &str = "delegate";

/// `access` verbs.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Share your rights: as an API token (its secret is printed once) or with named people
    /// (each one's acceptance code is printed once; pass it on yourself).
    #[command(after_help = "Examples:\n  \
                            breakglass access create --name holiday --kind delegate --scope acme \
                            --expires-in 14d --recipient deputy@example.com\n  \
                            breakglass access create --name ci --kind api_token --scope acme \
                            --read-only")]
    Create {
        /// Your private label (recipients never see it).
        #[arg(long, value_name = "NAME")]
        name: String,
        /// api_token: a bearer token acting as you; delegate: the recipients act as you.
        #[arg(long, value_name = "KIND", value_parser = ACCESS_KINDS)]
        kind: String,
        /// Confine it to one workspace (default: global).
        #[arg(long, value_name = "WS")]
        scope: Option<String>,
        /// When it stops working (default: never).
        #[command(flatten)]
        expiry: Expiry,
        /// An API token that may only read.
        #[arg(long)]
        read_only: bool,
        /// Who may act as you, for a delegate access (repeatable; accounts not needed yet).
        #[arg(long = "recipient", value_name = "EMAIL")]
        recipients: Vec<String>,
    },
    /// List your accesses (revoked and expired ones too); the admin area lists anyone's.
    List {
        /// Whose accesses (admin area; default: yours).
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
    },
    /// List the delegate accesses shared with you.
    Received,
    /// Show one access.
    Show {
        /// Access id.
        id: String,
    },
    /// Revoke an access at once: its token stops working, its recipients stop acting as you.
    Revoke {
        /// Access id.
        id: String,
    },
    /// Share a delegate access with one more person; their acceptance code is printed once.
    Share {
        /// Access id.
        id: String,
        /// Their e-mail.
        email: String,
    },
    /// Stop sharing a delegate access with someone.
    Unshare {
        /// Access id.
        id: String,
        /// Their e-mail.
        email: String,
    },
    /// Accept a delegate access shared with you, with the code its owner passed on; then act
    /// as them with `breakglass --as OWNER_EMAIL ...`.
    Accept {
        /// Access id (from `access received`).
        id: String,
        /// The acceptance code from the owner.
        #[arg(long, value_name = "CODE")]
        code: String,
    },
    /// Decline a delegate access shared with you (or give up one you accepted).
    Decline {
        /// Access id.
        id: String,
    },
}

/// Workspace statuses, as `--status` takes them.
const WORKSPACE_STATUSES: [&str; 4] = ["active", "disabled", "pending_approval", "rejected"];

/// `workspace` verbs.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace (the admin area; restricted tags too).
    Create {
        /// Immutable identifier (lowercase letters, digits, dashes).
        id: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Initial owner (repeatable; default: you).
        #[arg(long = "owner", value_name = "EMAIL")]
        owners: Vec<String>,
        /// Further initial user with a workspace role: member, manager or owner (repeatable).
        #[arg(long = "member", value_name = "EMAIL=ROLE", value_parser = parse_member)]
        members: Vec<breakglass_api::InitialMember>,
        /// Maximum number of projects (default: the server's).
        #[arg(long, value_name = "N")]
        quota: Option<u32>,
        /// A tag (repeatable); mandatory tags with a default may be left out.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// Register a workspace yourself; you become its owner. Depending on the installation it is
    /// active at once or waits for the admin area's approval.
    Register {
        /// Immutable identifier (lowercase letters, digits, dashes).
        id: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// A tag (repeatable); mandatory tags with a default may be left out.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// List the workspaces you can see.
    List {
        /// Only workspaces with this status.
        #[arg(long, value_name = "STATUS", value_parser = WORKSPACE_STATUSES)]
        status: Option<String>,
        /// Only workspaces carrying this tag: KEY (any value) or KEY:VALUE.
        #[arg(long, value_name = "KEY[:VALUE]", value_parser = parse_tag_filter)]
        tag: Option<String>,
    },
    /// List the registrations waiting for approval (as `list --status pending_approval`).
    Pending,
    /// Show one workspace.
    Show {
        /// Workspace identifier.
        id: String,
    },
    /// Change a workspace's display name (its identifier never changes).
    Rename {
        /// Workspace identifier.
        id: String,
        /// The new display name.
        name: String,
    },
    /// Approve a registration waiting for approval (admin area).
    Approve {
        /// Workspace identifier.
        id: String,
        /// Why, recorded in the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Reject a registration waiting for approval (admin area).
    Reject {
        /// Workspace identifier.
        id: String,
        /// Why, recorded in the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Disable a workspace: every check on it is denied until it is enabled (admin area).
    Disable {
        /// Workspace identifier.
        id: String,
        /// Why, recorded in the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Enable a disabled workspace again (admin area).
    Enable {
        /// Workspace identifier.
        id: String,
        /// Why, recorded in the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Set the maximum number of projects (admin area); a quota below the current count only
    /// stops new projects.
    Quota {
        /// Workspace identifier.
        id: String,
        /// The new quota.
        quota: u32,
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
        /// A tag (repeatable); mandatory tags with a default may be left out.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// List the projects of a workspace.
    List {
        /// Workspace identifier.
        workspace: String,
        /// Only projects carrying this tag: KEY (any value) or KEY:VALUE.
        #[arg(long, value_name = "KEY[:VALUE]", value_parser = parse_tag_filter)]
        tag: Option<String>,
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
    /// Add yourself to a workspace as an admin-area admin or employee: as manager (or member,
    /// as the installation says), always until an expiry.
    AddMyself {
        /// Workspace identifier.
        workspace: String,
        /// When it ends (default: the installation's "add myself" default; never beyond its
        /// maximum).
        #[command(flatten)]
        expiry: Expiry,
    },
    /// Leave a workspace: every role you hold in it and its projects ends.
    Leave {
        /// Workspace identifier.
        workspace: String,
    },
}

/// `invitation` verbs.
#[derive(Debug, Subcommand)]
pub enum InvitationCommand {
    /// Invite someone (with or without an account) to a workspace with a role. Prints the
    /// invitation's secret, once: pass it on to the invitee.
    Create {
        /// Workspace identifier.
        workspace: String,
        /// The invitee's e-mail.
        email: String,
        /// Workspace role: member, manager or owner.
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// When the membership ends once accepted (default: standing).
        #[command(flatten)]
        expiry: Expiry,
    },
    /// List a workspace's invitations.
    List {
        /// Workspace identifier.
        workspace: String,
    },
    /// Withdraw a pending invitation.
    Cancel {
        /// Invitation id.
        id: String,
    },
    /// List the invitations waiting for you.
    Mine,
    /// Accept an invitation with its secret: the membership starts.
    Accept {
        /// Invitation id.
        id: String,
        /// The invitation's secret, from whoever invited you. (`--token` stays the global
        /// bearer token; an argument named `token` here would overwrite it.)
        #[arg(long, value_name = "SECRET")]
        invitation_token: String,
    },
    /// Decline an invitation.
    Decline {
        /// Invitation id.
        id: String,
    },
}

/// `tag` verbs.
#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Define a tag, replacing any definition with the same key (admin area).
    #[command(after_help = "Example: breakglass tag define cost-center --target workspace \
                            --pattern '[0-9]{4}' --mandatory --default 0000")]
    Define {
        /// The key (e.g. cost-center).
        key: String,
        /// What carries the tag.
        #[arg(long, value_name = "KIND", value_parser = ["workspace", "project"])]
        target: String,
        /// Only the admin area sets it.
        #[arg(long)]
        restricted: bool,
        /// An allowed value (repeatable; default: any value).
        #[arg(long = "value", value_name = "V")]
        values: Vec<String>,
        /// A regular expression the whole value must match.
        #[arg(long, value_name = "RE", conflicts_with = "values")]
        pattern: Option<String>,
        /// Every workspace or project must carry it.
        #[arg(long)]
        mandatory: bool,
        /// The value used when none is given.
        #[arg(long, value_name = "V")]
        default: Option<String>,
    },
    /// List tag definitions.
    List,
    /// Remove a tag definition.
    Remove {
        /// The key.
        key: String,
    },
    /// Set a tag on a workspace or, with --project, on a project.
    Set {
        /// Workspace identifier.
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove a tag from a workspace or, with --project, from a project (not a mandatory one).
    Unset {
        /// Workspace identifier.
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The key.
        key: String,
    },
}

/// `message` verbs.
#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Send a message to a workspace's users (admin area).
    Send {
        /// Workspace identifier.
        workspace: String,
        /// all_must_read: each user sees it until they acknowledge it; single_read: gone for
        /// everyone once one user acknowledges it.
        #[arg(long, value_name = "MODE", value_parser = ["all_must_read", "single_read"])]
        mode: String,
        /// The text.
        text: String,
    },
    /// List a workspace's messages with who acknowledged them (admin area).
    List {
        /// Workspace identifier.
        workspace: String,
    },
    /// List the messages you have still to read.
    Inbox,
    /// Acknowledge a message.
    Ack {
        /// Message id.
        id: String,
    },
}

/// `settings` verbs.
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the installation settings.
    Show,
    /// Change the given settings; the others stay (admins).
    Set(SettingsChange),
}

/// The settings `settings set` changes: at least one.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct SettingsChange {
    /// Self-service workspace registration.
    #[arg(long, value_name = "MODE", value_parser = ["open", "approval", "closed"])]
    pub workspace_registration: Option<String>,
    /// Self-service sign-up.
    #[arg(long, value_name = "MODE", value_parser = ["open", "invited_only", "closed"])]
    pub signup: Option<String>,
    /// Days an invitation stays valid (1 to 365).
    #[arg(long, value_name = "N")]
    pub invitation_ttl_days: Option<u32>,
    /// Project quota of new workspaces.
    #[arg(long, value_name = "N")]
    pub default_project_quota: Option<u32>,
    /// "Add myself" assigns member instead of manager.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub restrict_admin_role_assignment: Option<bool>,
    /// Expiry of "add myself" when none is asked for (`8h`).
    #[arg(long, value_name = "DURATION")]
    pub add_myself_default_expiry: Option<String>,
    /// Longest expiry of "add myself" (`7d`).
    #[arg(long, value_name = "DURATION")]
    pub add_myself_max_expiry: Option<String>,
    /// The furthest any expiry may lie from when it is set (`366d`).
    #[arg(long, value_name = "DURATION")]
    pub max_expiry: Option<String>,
    /// Most live API tokens one user may hold.
    #[arg(long, value_name = "N")]
    pub max_api_tokens_per_user: Option<u32>,
    /// Most live sessions one user may hold.
    #[arg(long, value_name = "N")]
    pub max_sessions_per_user: Option<u32>,
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

/// Parses a tag `KEY=VALUE` (the value may be empty or hold `=`).
pub fn parse_tag(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("{spec:?}: expected KEY=VALUE, e.g. cost-center=4711")),
    }
}

/// Checks the `--as` value: an address without characters an HTTP header cannot carry. An empty
/// value (as `BREAKGLASS_ACT_AS=`) means acting as yourself, like an empty `--token` means none.
pub fn parse_act_as(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.chars().any(|c| c.is_control()) {
        return Err(format!("{value:?}: an e-mail address has no control characters"));
    }
    Ok(value.to_owned())
}

/// Parses a tag filter `KEY` or `KEY:VALUE`; `KEY=VALUE` is read as `KEY:VALUE`.
pub fn parse_tag_filter(spec: &str) -> Result<String, String> {
    let spec = spec.trim();
    let key_end = spec.find([':', '=']).unwrap_or(spec.len());
    if key_end == 0 {
        return Err(format!("{spec:?}: expected KEY or KEY:VALUE, e.g. cost-center:4711"));
    }
    let (key, rest) = spec.split_at(key_end);
    Ok(match rest.strip_prefix(['=', ':']) {
        Some(value) => format!("{key}:{value}"),
        None => key.to_owned(),
    })
}

/// Parses an initial member `EMAIL=ROLE`.
pub fn parse_member(spec: &str) -> Result<breakglass_api::InitialMember, String> {
    match spec.rsplit_once('=') {
        Some((email, role)) if !email.trim().is_empty() && !role.trim().is_empty() => {
            Ok(breakglass_api::InitialMember { email: email.trim().to_owned(), role: role.trim().to_owned() })
        }
        _ => Err(format!("{spec:?}: expected EMAIL=ROLE, e.g. alice@example.com=manager")),
    }
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
    /// Answer only from a state including this audit sequence (a write's Breakglass-Seq).
    #[arg(long, value_name = "SEQ")]
    pub min_seq: Option<i64>,
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
    #[command(after_help = "With --checkpoints, a copy of the server's signed checkpoints file \
                            (audit-checkpoints.jsonl, shipped off the machine) is checked too: \
                            every signature, and that the server's log still holds the last \
                            checkpoint's event with the same hash, so a log truncated or rewritten \
                            after it is named as such.\n\nExample: breakglass audit verify \
                            --checkpoints /backup/audit-checkpoints.jsonl --key 3b6a…")]
    Verify {
        /// A copy of the server's checkpoints file to hold its log against.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<std::path::PathBuf>,
        /// The server's checkpoint public key (hex), as it printed at start-up: refuse
        /// checkpoints signed by any other key.
        #[arg(long, value_name = "HEX", requires = "checkpoints")]
        key: Option<String>,
    },
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

/// `platform` verbs.
#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Register a platform (admins).
    Register {
        /// Immutable identifier (lowercase letters, digits, dashes).
        id: String,
        /// What kind of place it is, e.g. aws, kubernetes, postgres.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// List the registered platforms.
    List,
}

/// The project a tenant or service user command is about.
#[derive(Debug, Args)]
pub struct ProjectRef {
    /// Workspace identifier.
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: String,
    /// Project identifier.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
}

/// The tenant a service user command is about: a project and a platform.
#[derive(Debug, Args)]
pub struct TenantRef {
    /// The project.
    #[command(flatten)]
    pub project: ProjectRef,
    /// Platform identifier.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: String,
}

/// `tenant` verbs.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Give a project a tenant on a platform (workspace managers and the admin area).
    Create {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
        /// How the platform names the tenant: an account id, a namespace, a database.
        #[arg(long, value_name = "ID")]
        external_id: String,
    },
    /// List a project's tenants.
    List {
        /// The project.
        #[command(flatten)]
        project: ProjectRef,
    },
}

/// `service-user` verbs.
#[derive(Debug, Subcommand)]
pub enum ServiceUserCommand {
    /// Create a service user for a project's tenant; its secret is printed once.
    Create {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
        /// A label, unique among the tenant's service users.
        name: String,
    },
    /// List a tenant's service users (never their secrets).
    List {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
    },
    /// Delete a service user (its creator or the workspace's managers).
    Delete {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
        /// Service user id (from `service-user list`).
        id: String,
    },
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
    #[test]
    fn delegation_commands_and_the_act_as_flag_parse() {
        let cli = parse(&["--as", " olga@x.io ", "workspace", "list"]).unwrap();
        assert_eq!(cli.act_as.as_deref(), Some("olga@x.io"));
        let cli = parse(&["workspace", "list", "--as", "olga@x.io"]).unwrap();
        assert_eq!(cli.act_as.as_deref(), Some("olga@x.io"), "global: after the verb too");
        assert_eq!(parse(&["whoami"]).unwrap().act_as, None);
        assert_eq!(parse(&["--as", " ", "me"]).unwrap().act_as.as_deref(), Some(""), "empty: yourself");
        assert!(matches!(parse(&["whoami"]).unwrap().command, Command::Me));

        let cli = parse(&["token", "create", "ci", "--scope", "acme", "--read-only"]).unwrap();
        let Command::Token(TokenCommand::Create { scope, read_only, .. }) = cli.command else { panic!() };
        assert_eq!((scope.as_deref(), read_only), (Some("acme"), true));

        let cli = parse(&[
            "access",
            "create",
            "--name",
            "holiday",
            "--kind",
            "delegate",
            "--scope",
            "acme",
            "--expires-in",
            "14d",
            "--recipient",
            "a@x.io",
            "--recipient",
            "b@x.io",
        ])
        .unwrap();
        let Command::Access(AccessCommand::Create { kind, recipients, expiry, read_only, .. }) = cli.command
        else {
            panic!()
        };
        assert_eq!((kind.as_str(), recipients.len(), read_only), ("delegate", 2, false));
        assert_eq!(expiry.expires_in.as_deref(), Some("14d"));
        let cli = parse(&["access", "accept", "a1", "--code", "bga_x"]).unwrap();
        let Command::Access(AccessCommand::Accept { id, code }) = cli.command else { panic!() };
        assert_eq!((id.as_str(), code.as_str()), ("a1", "bga_x"));
        let cli = parse(&["access", "list", "--owner", "olga@x.io"]).unwrap();
        assert!(matches!(cli.command, Command::Access(AccessCommand::List { owner: Some(_) })));

        for bad in [
            &["--as", "a@x.io\nx", "me"][..],
            &["--as"][..],
            &["access", "create", "--name", "n", "--kind", "robot"][..],
            &["access", "create", "--kind", "delegate", "--recipient", "a@x.io"][..],
            &["access", "create", "--name", "n"][..],
            &[
                "access",
                "create",
                "--name",
                "n",
                "--kind",
                "api_token",
                "--expires-in",
                "1h",
                "--expires-at",
                "x",
            ][..],
            &["access", "accept", "a1"][..],
            &["access", "share", "a1"][..],
            &["access", "unshare", "a1"][..],
            &["access", "show"][..],
            &["token", "create", "ci", "--scope"][..],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }

    #[test]
    fn tags_members_and_filters_parse() {
        let pair = |k: &str, v: &str| Ok((k.to_owned(), v.to_owned()));
        assert_eq!(parse_tag("cost-center=4711"), pair("cost-center", "4711"));
        assert_eq!(parse_tag("note=a=b"), pair("note", "a=b"));
        assert_eq!(parse_tag("empty="), pair("empty", ""));
        for bad in ["", "=x", "novalue", " =x"] {
            assert!(parse_tag(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_tag_filter("env"), Ok("env".into()));
        assert_eq!(parse_tag_filter("env:prod"), Ok("env:prod".into()));
        assert_eq!(parse_tag_filter("env=prod"), Ok("env:prod".into()));
        assert_eq!(parse_tag_filter("url:http://x"), Ok("url:http://x".into()));
        for bad in ["", ":prod", "=prod"] {
            assert!(parse_tag_filter(bad).is_err(), "{bad:?}");
        }
        let member = parse_member("a=b@x.io=manager").unwrap();
        assert_eq!((member.email.as_str(), member.role.as_str()), ("a=b@x.io", "manager"));
        for bad in ["bob@x.io", "bob@x.io=", "=owner"] {
            assert!(parse_member(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn admin_area_commands_parse() {
        let cli = parse(&[
            "workspace",
            "create",
            "acme",
            "--name",
            "Acme",
            "--member",
            "bob@x.io=manager",
            "--member",
            "eve@x.io=member",
            "--tag",
            "cost-center=42",
        ])
        .unwrap();
        let Command::Workspace(WorkspaceCommand::Create { members, tags, owners, .. }) = cli.command else {
            panic!()
        };
        assert_eq!((members.len(), members[1].role.as_str(), owners.len()), (2, "member", 0));
        assert_eq!(tags, [("cost-center".to_owned(), "42".to_owned())]);

        let cli = parse(&["workspace", "list", "--status", "pending_approval", "--tag", "env=prod"]).unwrap();
        let Command::Workspace(WorkspaceCommand::List { status, tag }) = cli.command else { panic!() };
        assert_eq!((status.as_deref(), tag.as_deref()), (Some("pending_approval"), Some("env:prod")));

        let cli = parse(&["workspace", "quota", "acme", "7"]).unwrap();
        assert!(matches!(cli.command, Command::Workspace(WorkspaceCommand::Quota { quota: 7, .. })));
        let cli = parse(&["workspace", "disable", "acme", "--reason", "unpaid"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Workspace(WorkspaceCommand::Disable { reason: Some(ref r), .. }) if r == "unpaid"
        ));

        let cli = parse(&["member", "add-myself", "acme", "--expires-in", "2h"]).unwrap();
        let Command::Member(MemberCommand::AddMyself { workspace, expiry }) = cli.command else { panic!() };
        assert_eq!((workspace.as_str(), expiry.expires_in.as_deref()), ("acme", Some("2h")));

        let cli = parse(&["tag", "set", "acme", "--project", "web", "env", "prod"]).unwrap();
        let Command::Tag(TagCommand::Set { project, key, value, .. }) = cli.command else { panic!() };
        assert_eq!((project.as_deref(), key.as_str(), value.as_str()), (Some("web"), "env", "prod"));
        let cli =
            parse(&["tag", "define", "env", "--target", "project", "--value", "dev", "--value", "prod"])
                .unwrap();
        let Command::Tag(TagCommand::Define { values, pattern, mandatory, .. }) = cli.command else {
            panic!()
        };
        assert_eq!((values.len(), pattern, mandatory), (2, None, false));

        let cli = parse(&["settings", "set", "--signup", "open", "--restrict-admin-role-assignment", "true"])
            .unwrap();
        let Command::Settings(SettingsCommand::Set(change)) = cli.command else { panic!() };
        assert_eq!(change.signup.as_deref(), Some("open"));
        assert_eq!(change.restrict_admin_role_assignment, Some(true));
        assert_eq!(change.workspace_registration, None);

        // The invitation's secret has its own flag; the global --token is the bearer token.
        let cli =
            parse(&["--token", "bgs_me", "invitation", "accept", "i1", "--invitation-token", "bgi_s3cret"])
                .unwrap();
        assert_eq!(cli.token.as_deref(), Some("bgs_me"));
        let Command::Invitation(InvitationCommand::Accept { id, invitation_token }) = cli.command else {
            panic!()
        };
        assert_eq!((id.as_str(), invitation_token.as_str()), ("i1", "bgi_s3cret"));
        let signup = ["signup", "--email", "a@x.io", "--name", "Al"];
        let Command::Signup(args) = parse(&signup).unwrap().command else { panic!() };
        assert_eq!(args.invitation_token, None);
        let Command::Signup(args) =
            parse(&[&signup[..], &["--invitation-token", "bgi_s3cret"]].concat()).unwrap().command
        else {
            panic!()
        };
        assert_eq!((args.email.as_str(), args.invitation_token.as_deref()), ("a@x.io", Some("bgi_s3cret")));

        let cli = parse(&["message", "send", "acme", "--mode", "single_read", "patch day"]).unwrap();
        assert!(
            matches!(cli.command, Command::Message(MessageCommand::Send { ref text, .. }) if text == "patch day")
        );

        for bad in [
            &["workspace", "create", "acme", "--name", "A", "--member", "bob@x.io"][..],
            &["workspace", "create", "acme", "--name", "A", "--tag", "novalue"][..],
            &["workspace", "register", "acme"][..],
            &["workspace", "list", "--status", "archived"][..],
            &["workspace", "list", "--tag", ":x"][..],
            &["workspace", "quota", "acme", "many"][..],
            &["workspace", "rename", "acme"][..],
            &["member", "add-myself", "acme", "--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z"][..],
            &["invitation", "create", "acme", "a@x.io"][..],
            &["invitation", "accept", "i1"][..],
            &["invitation", "accept", "i1", "--invitation-token"][..],
            &["tag", "define", "k", "--target", "user"][..],
            &["tag", "define", "k", "--target", "workspace", "--value", "a", "--pattern", "b"][..],
            &["message", "send", "acme", "hello"][..],
            &["message", "send", "acme", "--mode", "sometimes", "hello"][..],
            &["settings", "set"][..],
            &["settings", "set", "--signup", "invited"][..],
            &["settings", "set", "--restrict-admin-role-assignment", "maybe"][..],
            &["signup", "--email", "a@x.io"][..],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }

    #[test]
    fn platform_commands_parse() {
        let cli =
            parse(&["platform", "register", "aws-prod", "--kind", "aws", "--name", "AWS prod"]).unwrap();
        let Command::Platform(PlatformCommand::Register { id, kind, name }) = cli.command else { panic!() };
        assert_eq!((id.as_str(), kind.as_str(), name.as_str()), ("aws-prod", "aws", "AWS prod"));

        let tenant = ["--workspace", "acme", "--project", "web", "--platform", "aws-prod"];
        let cli = parse(&[&["tenant", "create"][..], &tenant, &["--external-id", "1234"]].concat()).unwrap();
        let Command::Tenant(TenantCommand::Create { tenant: t, external_id }) = cli.command else { panic!() };
        assert_eq!((t.project.workspace.as_str(), t.project.project.as_str()), ("acme", "web"));
        assert_eq!((t.platform.as_str(), external_id.as_str()), ("aws-prod", "1234"));

        let cli = parse(&[&["service-user", "create"][..], &tenant, &["ci bot"]].concat()).unwrap();
        let Command::ServiceUser(ServiceUserCommand::Create { name, .. }) = cli.command else { panic!() };
        assert_eq!(name, "ci bot");
        let cli = parse(&[&["service-user", "delete"][..], &tenant, &["s1"]].concat()).unwrap();
        assert!(
            matches!(cli.command, Command::ServiceUser(ServiceUserCommand::Delete { ref id, .. }) if id == "s1")
        );

        for bad in [
            &["platform", "register", "aws"][..],
            &["platform", "register", "aws", "--kind", "aws"][..],
            &["tenant", "create", "--workspace", "acme", "--project", "web", "--platform", "aws"][..],
            &["tenant", "list", "--workspace", "acme"][..],
            &["service-user", "create", "--workspace", "acme", "--project", "web", "bot"][..],
            &["service-user", "list", "--workspace", "acme", "--platform", "aws"][..],
            &["service-user", "delete", "--workspace", "acme", "--project", "web", "--platform", "aws"][..],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }
}
