//! The command line: global flags and the nouns, and the dispatch of a client command to its
//! noun's module.

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::{
    access, audit, check, credentials, entitlement, grant, invitation, member, message, platform, policy,
    project, request, review, service_user, session, settings, ssh, tag, task, tenant, token, user,
    workspace,
};
use crate::commands::{Ctx, Done, Result};
use crate::serve;

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
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(serve::StoreArgs),
    /// Show whether the server answers and the audit sequence it reflects.
    Health,
    /// Sign in with e-mail and password; prints a session token.
    Login(session::LoginArgs),
    /// Create your own account (as the installation's sign-up setting allows) and sign in.
    Signup(session::SignupArgs),
    /// End the session whose token is in use.
    Logout,
    /// Show who you are (and, with --as, whom you act as) and your workspaces.
    #[command(visible_alias = "whoami")]
    Me,
    /// Manage user accounts (admins).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage your API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Share your rights: API token accesses and delegate accesses; accept or decline the
    /// accesses others share with you.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Manage projects of a workspace.
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// Manage memberships of a workspace or project.
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// Invite people to a workspace; accept or decline your invitations.
    #[command(subcommand)]
    Invitation(invitation::InvitationCommand),
    /// Define tags and set them on workspaces and projects.
    #[command(subcommand)]
    Tag(tag::TagCommand),
    /// Messages from the admin area to a workspace's users.
    #[command(subcommand)]
    Message(message::MessageCommand),
    /// Show and change the installation settings (admins).
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Give or revoke temporary roles on top of memberships.
    #[command(subcommand)]
    Grant(grant::GrantCommand),
    /// Manage approval policies: who must approve a request, and its limits.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Show and set how each role of a workspace or project may be requested.
    #[command(subcommand)]
    Entitlement(entitlement::EntitlementCommand),
    /// Ask for access, normally or in an emergency, and follow your requests.
    #[command(subcommand)]
    Request(request::RequestCommand),
    /// Requests waiting for your approval: approve, deny, escalate.
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Emergency reviews: the look-back after every emergency grant.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Check whether a user holds a role now (exit 0 allowed, 3 denied).
    Check(check::CheckArgs),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Show the audit history of a workspace or project.
    History(audit::HistoryArgs),
    /// Register and list platforms: where projects run (registering: admins).
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
    /// Give a project a tenant on a platform, and list a project's tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Check an external connector program against the protocol (runs here, not on the server).
    #[command(subcommand)]
    Connector(crate::connector_test::ConnectorCommand),
    /// Create, list and delete service users: credentials for a project's tenant.
    #[command(subcommand)]
    ServiceUser(service_user::ServiceUserCommand),
    /// Issue yourself a password for your access on a project's tenant.
    #[command(subcommand)]
    Credentials(credentials::CredentialsCommand),
    /// Have your SSH key signed for a project's hosts, and fetch an SSH platform's revocation list.
    #[command(subcommand)]
    Ssh(ssh::SshCommand),
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

/// Runs a client command (anything but `serve` and `migrate`); `--as` is already in the client.
pub async fn run(ctx: &Ctx, command: Command) -> Result<Done> {
    match command {
        Command::Serve(_) | Command::Migrate(_) | Command::Connector(_) => {
            unreachable!("server roles and local tools run elsewhere")
        }
        Command::Health => session::health(ctx).await,
        Command::Login(args) => session::login(ctx, args).await,
        Command::Signup(args) => session::signup(ctx, args).await,
        Command::Logout => session::logout(ctx).await,
        Command::Me => session::whoami(ctx).await,
        Command::User(cmd) => user::run(ctx, cmd).await,
        Command::Token(cmd) => token::run(ctx, cmd).await,
        Command::Access(cmd) => access::run(ctx, cmd).await,
        Command::Workspace(cmd) => workspace::run(ctx, cmd).await,
        Command::Project(cmd) => project::run(ctx, cmd).await,
        Command::Member(cmd) => member::run(ctx, cmd).await,
        Command::Invitation(cmd) => invitation::run(ctx, cmd).await,
        Command::Tag(cmd) => tag::run(ctx, cmd).await,
        Command::Message(cmd) => message::run(ctx, cmd).await,
        Command::Settings(cmd) => settings::run(ctx, cmd).await,
        Command::Grant(cmd) => grant::run(ctx, cmd).await,
        Command::Policy(cmd) => policy::run(ctx, cmd).await,
        Command::Entitlement(cmd) => entitlement::run(ctx, cmd).await,
        Command::Request(cmd) => request::run(ctx, cmd).await,
        Command::Task(cmd) => task::run(ctx, cmd).await,
        Command::Review(cmd) => review::run(ctx, cmd).await,
        Command::Platform(cmd) => platform::run(ctx, cmd).await,
        Command::Tenant(cmd) => tenant::run(ctx, cmd).await,
        Command::ServiceUser(cmd) => service_user::run(ctx, cmd).await,
        Command::Credentials(cmd) => credentials::run(ctx, cmd).await,
        Command::Ssh(cmd) => ssh::run(ctx, cmd).await,
        Command::Check(args) => check::run(ctx, args).await,
        Command::Audit(cmd) => audit::run(ctx, cmd).await,
        Command::History(args) => audit::history(ctx, args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    use crate::commands::access::AccessCommand;
    use crate::commands::invitation::InvitationCommand;
    use crate::commands::member::MemberCommand;
    use crate::commands::message::MessageCommand;
    use crate::commands::platform::PlatformCommand;
    use crate::commands::policy::PolicyCommand;
    use crate::commands::request::RequestCommand;
    use crate::commands::review::ReviewCommand;
    use crate::commands::service_user::ServiceUserCommand;
    use crate::commands::settings::SettingsCommand;
    use crate::commands::tag::TagCommand;
    use crate::commands::task::TaskCommand;
    use crate::commands::tenant::TenantCommand;
    use crate::commands::token::TokenCommand;
    use crate::commands::workspace::WorkspaceCommand;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
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
        let Command::Platform(PlatformCommand::Register { id, kind, name, .. }) = cli.command else {
            panic!()
        };
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
