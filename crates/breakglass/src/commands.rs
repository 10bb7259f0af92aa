//! The client commands: each turns its arguments into one or a few API calls and renders the
//! answer as a table or as the API's JSON. Nothing here prints; the caller writes [`Done`].

use std::io::BufRead;

use std::collections::BTreeMap;

use breakglass_api::{
    Access, AddMyself, AuditQuery, CheckRequest, CheckResponse, CompleteReview, CreateAccess, CreateGrant,
    CreateInvitation, CreateProject, CreateRequest, CreateToken, CreateUser, CreateWorkspace, CreatedAccess,
    Entitlement, EntitlementBody, Invitation, ListQuery, Login, Page, Policy, PolicyBody, PolicyQuery,
    RecipientCode, RegisterWorkspace, Request, RequestQuery, ReviewQuery, SendMessage, Session, SetMember,
    Settings, Signup, TagDefinition, UpdateWorkspace, VerifyReport, Workspace,
};
use breakglass_api::{AccessStatus, RecipientStatus, WorkspaceStatus};
use breakglass_api::{BrokenLink, Checkpoint, CreateTenant, CreatedServiceUser, RegisterPlatform};
use breakglass_client::{Assignment, Client, ClientError};

use crate::cli::{
    AccessCommand, AuditCommand, CheckArgs, Command, EntitlementCommand, EventFilter, Expiry, GrantCommand,
    HistoryArgs, InvitationCommand, LoginArgs, MemberCommand, MessageCommand, PolicyCommand, PolicyFlags,
    ProjectCommand, RequestCommand, ReviewCommand, SettingsChange, SettingsCommand, SignupArgs, TagCommand,
    TaskCommand, TokenCommand, UserCommand, WorkspaceCommand, API_TOKEN, DELEGATE,
};
use crate::cli::{PlatformCommand, ServiceUserCommand, TenantCommand};
use crate::output::{self, fields, json, target, until};

/// What a command produced: text for standard output and how it ended.
pub struct Done {
    /// Text for standard output.
    pub out: String,
    /// How the command ended.
    pub status: Status,
}

/// How a command that talked to the server ended.
pub enum Status {
    /// Exit 0.
    Success,
    /// `check` said no: exit 3.
    Denied,
    /// The server answered but the outcome is a failure (a broken audit chain): exit 1 with
    /// this line on standard error.
    Failed(String),
}

/// Why a command could not complete.
#[derive(Debug)]
pub enum Fail {
    /// The command line does not make sense (exit 2).
    Usage(String),
    /// The call failed (exit 1, or 2 for a bad URL or token).
    Client(ClientError),
}

impl From<ClientError> for Fail {
    fn from(err: ClientError) -> Self {
        Fail::Client(err)
    }
}

type Result<T, E = Fail> = std::result::Result<T, E>;

/// Client and output format of one invocation.
pub struct Ctx {
    /// The client, with the token if one was given.
    pub client: Client,
    /// `-o json`.
    pub json: bool,
}

impl Ctx {
    /// The API JSON of `value`, or `table(value)`.
    fn show<T: serde::Serialize>(&self, value: &T, table: impl FnOnce(&T) -> String) -> Done {
        let out = if self.json { json(value) } else { table(value) };
        Done { out, status: Status::Success }
    }

    /// A list as `{"items": [...]}`, or `table(items)`.
    fn show_all<T: serde::Serialize>(&self, items: Vec<T>, table: fn(&[T]) -> String) -> Done {
        let page = Page { items, next_cursor: None };
        self.show(&page, |p| table(&p.items))
    }

    /// The confirmation of a write with no body: a line in table mode, nothing in JSON mode.
    fn done(&self, message: String) -> Done {
        Done { out: if self.json { String::new() } else { message + "\n" }, status: Status::Success }
    }
}

/// Runs a client command (anything but `serve` and `migrate`); `--as` is already in the client.
pub async fn run(ctx: &Ctx, command: Command) -> Result<Done> {
    let c = &ctx.client;
    match command {
        Command::Serve(_) | Command::Migrate(_) => unreachable!("server roles run elsewhere"),
        Command::Health => {
            let health = c.health().await?;
            Ok(ctx.show(&health, |h| fields(&[("status", h.status.to_string()), ("seq", h.seq.to_string())])))
        }
        Command::Login(args) => login(ctx, args).await,
        Command::Signup(args) => signup(ctx, args).await,
        Command::Logout => {
            // Ends your own session, whoever you act as.
            c.as_self().logout().await?;
            Ok(ctx.done("Signed out.".into()))
        }
        Command::Me => Ok(ctx.show(&c.me().await?, output::me)),
        Command::User(cmd) => user(ctx, cmd).await,
        Command::Token(cmd) => token(ctx, cmd).await,
        Command::Access(cmd) => access(ctx, cmd).await,
        Command::Workspace(cmd) => workspace(ctx, cmd).await,
        Command::Project(cmd) => project(ctx, cmd).await,
        Command::Member(cmd) => member(ctx, cmd).await,
        Command::Invitation(cmd) => invitation(ctx, cmd).await,
        Command::Tag(cmd) => tag(ctx, cmd).await,
        Command::Message(cmd) => message(ctx, cmd).await,
        Command::Settings(cmd) => settings(ctx, cmd).await,
        Command::Grant(cmd) => grant(ctx, cmd).await,
        Command::Policy(cmd) => policy(ctx, cmd).await,
        Command::Entitlement(cmd) => entitlement(ctx, cmd).await,
        Command::Request(cmd) => request(ctx, cmd).await,
        Command::Task(cmd) => task(ctx, cmd).await,
        Command::Review(cmd) => review(ctx, cmd).await,
        Command::Check(args) => check(ctx, args).await,
        Command::Audit(AuditCommand::List { workspace, project, filter }) => {
            let all = filter.all;
            let query = AuditQuery { workspace, project, ..audit_query(filter) };
            if all {
                Ok(ctx.show_all(c.all_audit(&query).await?, output::events))
            } else {
                Ok(event_page(ctx, c.audit(&query).await?))
            }
        }
        Command::Audit(AuditCommand::Verify { checkpoints, key }) => verify(ctx, checkpoints, key).await,
        Command::History(args) => history(ctx, args).await,
        Command::Platform(cmd) => platform(ctx, cmd).await,
        Command::Tenant(cmd) => tenant(ctx, cmd).await,
        Command::ServiceUser(cmd) => service_user(ctx, cmd).await,
    }
}

async fn login(ctx: &Ctx, args: LoginArgs) -> Result<Done> {
    let password = password(args.password_stdin)?;
    let session = ctx.client.anonymous().login(&Login { email: args.email, password }).await?;
    let waiting = if ctx.json { Waiting::default() } else { waiting(ctx, &session).await };
    Ok(ctx.show(&session, |s| session_text("Signed in", s, &waiting)))
}

async fn signup(ctx: &Ctx, args: SignupArgs) -> Result<Done> {
    let password = password(args.password_stdin)?;
    let body =
        Signup { email: args.email, name: args.name, password, invitation_token: args.invitation_token };
    let session = ctx.client.anonymous().signup(&body).await?;
    let waiting = if ctx.json { Waiting::default() } else { waiting(ctx, &session).await };
    Ok(ctx.show(&session, |s| session_text("Signed up and signed in", s, &waiting)))
}

/// The password of `login` and `signup`: from standard input or `BREAKGLASS_PASSWORD`.
fn password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        return read_stdin_line();
    }
    match std::env::var("BREAKGLASS_PASSWORD") {
        Ok(p) if !p.is_empty() => Ok(p),
        _ => Err(Fail::Usage(
            "no password: pass --password-stdin and write it to standard input, \
             or set BREAKGLASS_PASSWORD"
                .into(),
        )),
    }
}

/// What waits for a user who just signed in: unread messages, pending invitations and
/// delegate accesses shared with them that wait for an answer.
#[derive(Default)]
struct Waiting {
    messages: usize,
    invitations: usize,
    accesses: usize,
}

/// Counts what waits for the session's user. Only a hint: a failure counts as nothing.
async fn waiting(ctx: &Ctx, session: &Session) -> Waiting {
    let me = ctx.client.with_token(session.token.clone());
    let (messages, invitations, accesses) =
        tokio::join!(me.all_my_messages(), me.all_my_invitations(), me.all_received_accesses());
    let pending = |a: &Access| {
        a.status == AccessStatus::Active && a.recipients.iter().any(|r| r.status == RecipientStatus::Pending)
    };
    Waiting {
        messages: messages.map(|m| m.len()).unwrap_or(0),
        invitations: invitations.map(|i| i.len()).unwrap_or(0),
        accesses: accesses.map(|a| a.iter().filter(|a| pending(a)).count()).unwrap_or(0),
    }
}

/// A new session as shell lines: comments (who, until when, what waits) and the export.
fn session_text(what: &str, s: &Session, waiting: &Waiting) -> String {
    let mut out = format!("# {what} as {} until {}.\n", s.user.email, s.expires_at);
    if waiting.messages > 0 {
        out.push_str(&format!(
            "# {} unread message{}: breakglass message inbox\n",
            waiting.messages,
            if waiting.messages == 1 { "" } else { "s" }
        ));
    }
    if waiting.invitations > 0 {
        out.push_str(&format!(
            "# {} invitation{} waiting for you: breakglass invitation mine\n",
            waiting.invitations,
            if waiting.invitations == 1 { "" } else { "s" }
        ));
    }
    if waiting.accesses > 0 {
        out.push_str(&format!(
            "# {} delegate access{} shared with you wait{} for an answer: breakglass access received\n",
            waiting.accesses,
            if waiting.accesses == 1 { "" } else { "es" },
            if waiting.accesses == 1 { "s" } else { "" }
        ));
    }
    out.push_str(&format!("# Use the session with:\nexport BREAKGLASS_TOKEN={}\n", shell_quote(&s.token)));
    out
}

async fn user(ctx: &Ctx, cmd: UserCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        UserCommand::Create { email, name, admin_role, password_stdin } => {
            let password = if password_stdin { Some(read_stdin_line()?) } else { None };
            let body = CreateUser { email, name, admin_role, password };
            Ok(ctx.show(&c.create_user(&body).await?, output::user))
        }
        UserCommand::List => Ok(ctx.show_all(c.all_users().await?, output::users)),
    }
}

async fn token(ctx: &Ctx, cmd: TokenCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TokenCommand::Create { name, expiry, scope, read_only } => {
            let body = CreateToken {
                name,
                expires_in: expiry.expires_in,
                expires_at: expiry.expires_at,
                scope,
                read_only: read_only.then_some(true),
            };
            let created = c.create_token(&body).await?;
            Ok(ctx.show(&created, |t| {
                format!(
                    "Created token {} (id {}, {}, expires {}).\n\
                     Its secret is shown only this once; store it now:\n\n    {}\n",
                    t.token.name,
                    t.token.id,
                    output::limits(t.token.scope.as_deref(), t.token.read_only),
                    until(&t.token.expires_at),
                    t.secret
                )
            }))
        }
        TokenCommand::List => Ok(ctx.show_all(c.all_tokens().await?, output::tokens)),
        TokenCommand::Revoke { id } => {
            c.revoke_token(&id).await?;
            Ok(ctx.done(format!("Revoked token {id}.")))
        }
    }
}

async fn access(ctx: &Ctx, cmd: AccessCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        AccessCommand::Create { name, kind, scope, expiry, read_only, recipients } => {
            let body = access_body(name, kind, scope, expiry, read_only, recipients)?;
            let created = c.create_access(&body).await?;
            Ok(ctx.show(&created, |created| created_access_text(created, read_only)))
        }
        AccessCommand::List { owner } => {
            Ok(ctx.show_all(c.all_accesses(owner.as_deref()).await?, output::accesses))
        }
        AccessCommand::Received => {
            Ok(ctx.show_all(c.all_received_accesses().await?, output::received_accesses))
        }
        AccessCommand::Show { id } => Ok(ctx.show(&c.get_access(&id).await?, output::access)),
        AccessCommand::Revoke { id } => {
            c.revoke_access(&id).await?;
            Ok(ctx.done(format!("Revoked access {id}: its token and its recipients no longer act as you.")))
        }
        AccessCommand::Share { id, email } => {
            let code = c.add_access_recipient(&id, &email).await?;
            Ok(ctx.show(&code, |code| shared_text(&id, code)))
        }
        AccessCommand::Unshare { id, email } => {
            c.remove_access_recipient(&id, &email).await?;
            Ok(ctx.done(format!("Stopped sharing access {id} with {email}.")))
        }
        AccessCommand::Accept { id, code } => {
            Ok(ctx.show(&c.accept_access(&id, &code).await?, accepted_access_text))
        }
        AccessCommand::Decline { id } => {
            let a = c.decline_access(&id).await?;
            Ok(ctx.show(&a, |a| format!("Declined access {} of {}.\n\n{}", a.id, a.owner, output::access(a))))
        }
    }
}

/// The body of `access create`; flags that do not fit the kind are usage errors, caught before
/// any call.
fn access_body(
    name: String,
    kind: String,
    scope: Option<String>,
    expiry: Expiry,
    read_only: bool,
    recipients: Vec<String>,
) -> Result<CreateAccess> {
    if kind == DELEGATE && read_only {
        return Err(Fail::Usage(
            "--read-only applies to --kind api_token; a delegate acts with your rights in the scope".into(),
        ));
    }
    if kind == DELEGATE && recipients.is_empty() {
        return Err(Fail::Usage("--kind delegate needs at least one --recipient EMAIL".into()));
    }
    if kind == API_TOKEN && !recipients.is_empty() {
        return Err(Fail::Usage(
            "--recipient applies to --kind delegate; an API token is a secret you hand out yourself".into(),
        ));
    }
    Ok(CreateAccess {
        name,
        kind,
        scope,
        expires_at: expiry.expires_at,
        expires_in: expiry.expires_in,
        read_only: read_only.then_some(true),
        recipients,
    })
}

/// A new access: the record, then its secret or each recipient's code, shown only this once,
/// and how they are used. `read_only`: the token was asked for as read-only.
fn created_access_text(created: &CreatedAccess, read_only: bool) -> String {
    let a = &created.access;
    let mut out = output::access(a);
    if let Some(secret) = &created.secret {
        out.push_str(&format!(
            "\nThe token's secret is shown only this once and cannot be shown again; store it now:\n\n    \
             {secret}\n\n\
             Whoever holds it acts as {owner} ({limits}) until you revoke it: \
             breakglass access revoke {id}\n",
            owner = a.owner,
            limits = output::limits(a.scope.as_deref(), read_only),
            id = a.id,
        ));
    }
    if !created.codes.is_empty() {
        let mut t = output::Table::new(&["RECIPIENT", "CODE"]);
        for c in &created.codes {
            t.row(vec![c.email.clone(), c.code.clone()]);
        }
        out.push_str(
            "\nEach recipient's acceptance code is shown only this once and cannot be shown again. \
             Pass it on to them yourself: they need it to accept.\n\n",
        );
        out.push_str(&t.render());
        out.push_str(&how_to_accept(&a.id, &a.owner));
    }
    out
}

/// How a recipient uses their code: accept (after signing up, without an account), then act.
fn how_to_accept(id: &str, owner: &str) -> String {
    format!(
        "\nThey accept with: breakglass access accept {id} --code CODE\n\
         Without an account they first sign up with: \
         breakglass signup --email EMAIL --name NAME --invitation-token CODE\n\
         Then they act as you with: breakglass --as {owner} ...\n"
    )
}

/// A delegate access shared with one more person: their code, shown only this once.
fn shared_text(id: &str, code: &RecipientCode) -> String {
    format!(
        "Shared access {id} with {email}. The acceptance code is shown only this once and cannot be \
         shown again; pass it on to {email} yourself, they need it to accept:\n\n    {code}\n{how}",
        email = code.email,
        code = code.code,
        how = how_to_accept(id, "<your e-mail>"),
    )
}

/// An accepted delegate access: a headline saying how to act as its owner, then the record.
fn accepted_access_text(a: &Access) -> String {
    let ends = a.expires_at.as_deref().map(|t| format!(" until {t}")).unwrap_or_default();
    format!(
        "Accepted: you may act as {owner} ({scope}){ends} with: breakglass --as {owner} ...\n\n{record}",
        owner = a.owner,
        scope = output::scope(a.scope.as_deref()),
        record = output::access(a),
    )
}

async fn workspace(ctx: &Ctx, cmd: WorkspaceCommand) -> Result<Done> {
    let c = &ctx.client;
    let list = |status: Option<&str>, tag| ListQuery {
        status: status.map(str::to_owned),
        tag,
        ..Default::default()
    };
    match cmd {
        WorkspaceCommand::Create { id, name, owners, members, quota, tags } => {
            let body = CreateWorkspace {
                identifier: id,
                name,
                owners,
                project_quota: quota,
                members,
                tags: tag_map(tags)?,
            };
            Ok(ctx.show(&c.create_workspace(&body).await?, output::workspace))
        }
        WorkspaceCommand::Register { id, name, tags } => {
            let body = RegisterWorkspace { identifier: id, name, tags: tag_map(tags)? };
            Ok(ctx.show(&c.register_workspace(&body).await?, registered_text))
        }
        WorkspaceCommand::List { status, tag } => {
            let items = if status.is_none() && tag.is_none() {
                c.all_workspaces().await?
            } else {
                c.all_workspaces_filtered(&list(status.as_deref(), tag)).await?
            };
            Ok(ctx.show_all(items, output::workspaces))
        }
        WorkspaceCommand::Pending => {
            let items = c.all_workspaces_filtered(&list(Some(PENDING_APPROVAL), None)).await?;
            Ok(ctx.show_all(items, output::workspaces))
        }
        WorkspaceCommand::Show { id } => Ok(ctx.show(&c.workspace(&id).await?, output::workspace)),
        WorkspaceCommand::Rename { id, name } => {
            let body = UpdateWorkspace { name: Some(name), identifier: None };
            Ok(ctx.show(&c.update_workspace(&id, &body).await?, output::workspace))
        }
        WorkspaceCommand::Approve { id, reason } => {
            Ok(ctx.show(&c.approve_workspace(&id, reason.as_deref()).await?, output::workspace))
        }
        WorkspaceCommand::Reject { id, reason } => {
            Ok(ctx.show(&c.reject_workspace(&id, reason.as_deref()).await?, output::workspace))
        }
        WorkspaceCommand::Disable { id, reason } => {
            Ok(ctx.show(&c.disable_workspace(&id, reason.as_deref()).await?, output::workspace))
        }
        WorkspaceCommand::Enable { id, reason } => {
            Ok(ctx.show(&c.enable_workspace(&id, reason.as_deref()).await?, output::workspace))
        }
        WorkspaceCommand::Quota { id, quota } => {
            Ok(ctx.show(&c.set_quota(&id, quota).await?, output::workspace))
        }
    }
}

/// The status of a registration waiting for the admin area.
const PENDING_APPROVAL: &str = "pending_approval";

/// A registered workspace: a headline saying whether it is ready, then the record.
fn registered_text(w: &Workspace) -> String {
    let headline = if w.status == WorkspaceStatus::PendingApproval {
        format!("Registered {}: it waits for approval by the admin area.", w.identifier)
    } else {
        format!("Registered {}: it is {} and you own it.", w.identifier, w.status)
    };
    format!("{headline}\n\n{}", output::workspace(w))
}

/// Tags from `--tag KEY=VALUE` flags; a key given twice is a usage error.
fn tag_map(pairs: Vec<(String, String)>) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (key, value) in pairs {
        if map.contains_key(&key) {
            return Err(Fail::Usage(format!("--tag {key}: given more than once")));
        }
        map.insert(key, value);
    }
    Ok(map)
}

async fn project(ctx: &Ctx, cmd: ProjectCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        ProjectCommand::Create { workspace, id, name, tags } => {
            let body = CreateProject { identifier: id, name, tags: tag_map(tags)? };
            Ok(ctx.show(&c.create_project(&workspace, &body).await?, output::project))
        }
        ProjectCommand::List { workspace, tag: None } => {
            Ok(ctx.show_all(c.all_projects(&workspace).await?, output::projects))
        }
        ProjectCommand::List { workspace, tag } => {
            let query = ListQuery { tag, ..Default::default() };
            Ok(ctx.show_all(c.all_projects_filtered(&workspace, &query).await?, output::projects))
        }
        ProjectCommand::Show { workspace, id } => {
            Ok(ctx.show(&c.project(&workspace, &id).await?, output::project))
        }
    }
}

async fn member(ctx: &Ctx, cmd: MemberCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        MemberCommand::List { workspace, project } => {
            let items = match &project {
                Some(p) => c.all_project_members(&workspace, p).await?,
                None => c.all_workspace_members(&workspace).await?,
            };
            Ok(ctx.show_all(items, output::bindings))
        }
        MemberCommand::Add { workspace, email, role, project, expiry, justification } => {
            let body = SetMember {
                role,
                expires_in: expiry.expires_in,
                expires_at: expiry.expires_at,
                justification,
            };
            let assignment = match &project {
                Some(p) => c.set_project_member(&workspace, p, &email, &body).await?,
                None => c.set_workspace_member(&workspace, &email, &body).await?,
            };
            Ok(ctx.show(&assignment, assignment_text))
        }
        MemberCommand::Remove { workspace, email, project } => {
            match &project {
                Some(p) => c.remove_project_member(&workspace, p, &email).await?,
                None => c.remove_workspace_member(&workspace, &email).await?,
            }
            Ok(ctx.done(format!("Removed {email} from {}.", target(&workspace, project.as_deref()))))
        }
        MemberCommand::AddMyself { workspace, expiry } => {
            let body = AddMyself { expires_at: expiry.expires_at, expires_in: expiry.expires_in };
            Ok(ctx.show(&c.add_myself(&workspace, &body).await?, output::binding))
        }
        MemberCommand::Leave { workspace } => {
            c.leave_workspace(&workspace).await?;
            Ok(ctx.done(format!("You left {workspace}.")))
        }
    }
}

async fn invitation(ctx: &Ctx, cmd: InvitationCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        InvitationCommand::Create { workspace, email, role, expiry } => {
            let body = CreateInvitation {
                email,
                role,
                expires_at: expiry.expires_at,
                expires_in: expiry.expires_in,
            };
            Ok(ctx.show(&c.invite(&workspace, &body).await?, created_text))
        }
        InvitationCommand::List { workspace } => {
            Ok(ctx.show_all(c.all_workspace_invitations(&workspace).await?, output::invitations))
        }
        InvitationCommand::Cancel { id } => {
            c.cancel_invitation(&id).await?;
            Ok(ctx.done(format!("Cancelled invitation {id}.")))
        }
        InvitationCommand::Mine => Ok(ctx.show_all(c.all_my_invitations().await?, output::invitations)),
        InvitationCommand::Accept { id, invitation_token } => {
            Ok(ctx.show(&c.accept_invitation(&id, &invitation_token).await?, accepted_text))
        }
        InvitationCommand::Decline { id } => {
            Ok(ctx.show(&c.decline_invitation(&id).await?, output::invitation))
        }
    }
}

/// A new invitation: the record, then its secret (shown only this once) and how the invitee
/// uses it.
fn created_text(i: &Invitation) -> String {
    let mut out = output::invitation(i);
    if let Some(secret) = &i.token {
        out.push_str(&format!(
            "\nThe invitation's secret is shown only this once. Pass it on to {email} yourself:\n\n    \
             {secret}\n\n\
             They accept with: breakglass invitation accept {id} --invitation-token SECRET\n\
             Without an account they first sign up with: \
             breakglass signup --email {email} --name NAME --invitation-token SECRET\n",
            email = i.email,
            id = i.id,
        ));
    }
    out
}

/// An accepted invitation: a headline naming the new membership, then the record.
fn accepted_text(i: &Invitation) -> String {
    let ends = i.membership_expires_at.as_deref().map(|t| format!(" until {t}")).unwrap_or_default();
    format!("Accepted: you are {} of {}{ends}.\n\n{}", i.role, i.workspace, output::invitation(i))
}

async fn tag(ctx: &Ctx, cmd: TagCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TagCommand::Define { key, target, restricted, values, pattern, mandatory, default } => {
            let body = TagDefinition { key, target, restricted, values, pattern, mandatory, default };
            Ok(ctx.show(&c.define_tag(&body).await?, output::tag_definition))
        }
        TagCommand::List => Ok(ctx.show_all(c.all_tag_definitions().await?, output::tag_definitions)),
        TagCommand::Remove { key } => {
            c.remove_tag_definition(&key).await?;
            Ok(ctx.done(format!("Removed the definition of tag {key}.")))
        }
        TagCommand::Set { workspace, project: Some(p), key, value } => {
            Ok(ctx.show(&c.set_project_tag(&workspace, &p, &key, &value).await?, output::project))
        }
        TagCommand::Set { workspace, project: None, key, value } => {
            Ok(ctx.show(&c.set_workspace_tag(&workspace, &key, &value).await?, output::workspace))
        }
        TagCommand::Unset { workspace, project: Some(p), key } => {
            Ok(ctx.show(&c.remove_project_tag(&workspace, &p, &key).await?, output::project))
        }
        TagCommand::Unset { workspace, project: None, key } => {
            Ok(ctx.show(&c.remove_workspace_tag(&workspace, &key).await?, output::workspace))
        }
    }
}

async fn message(ctx: &Ctx, cmd: MessageCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        MessageCommand::Send { workspace, mode, text } => {
            let body = SendMessage { text, mode };
            Ok(ctx.show(&c.send_message(&workspace, &body).await?, output::message))
        }
        MessageCommand::List { workspace } => {
            Ok(ctx.show_all(c.all_workspace_messages(&workspace).await?, output::messages))
        }
        MessageCommand::Inbox => Ok(ctx.show_all(c.all_my_messages().await?, output::messages)),
        MessageCommand::Ack { id } => {
            c.ack_message(&id).await?;
            Ok(ctx.done(format!("Acknowledged message {id}.")))
        }
    }
}

async fn settings(ctx: &Ctx, cmd: SettingsCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        SettingsCommand::Show => Ok(ctx.show(&c.settings().await?, output::settings)),
        SettingsCommand::Set(change) => {
            Ok(ctx.show(&c.update_settings(&settings_change(change)).await?, output::settings))
        }
    }
}

/// The `PATCH` body: only the settings given.
fn settings_change(s: SettingsChange) -> Settings {
    Settings {
        workspace_registration: s.workspace_registration,
        signup: s.signup,
        invitation_ttl_days: s.invitation_ttl_days,
        default_project_quota: s.default_project_quota,
        restrict_admin_role_assignment: s.restrict_admin_role_assignment,
        add_myself_default_expiry: s.add_myself_default_expiry,
        add_myself_max_expiry: s.add_myself_max_expiry,
        max_expiry: s.max_expiry,
        max_api_tokens_per_user: s.max_api_tokens_per_user,
        max_sessions_per_user: s.max_sessions_per_user,
    }
}

async fn grant(ctx: &Ctx, cmd: GrantCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        GrantCommand::Create { email, workspace, project, role, expiry, reason } => {
            let body = CreateGrant {
                user: email,
                workspace,
                project,
                role,
                expires_at: expiry.expires_at,
                expires_in: expiry.expires_in,
                reason,
            };
            Ok(ctx.show(&c.create_grant(&body).await?, assignment_text))
        }
        GrantCommand::Revoke { id } => {
            c.revoke_grant(&id).await?;
            Ok(ctx.done(format!("Revoked grant {id}.")))
        }
    }
}

async fn check(ctx: &Ctx, args: CheckArgs) -> Result<Done> {
    let request = CheckRequest {
        user: args.user,
        workspace: args.workspace,
        project: args.project,
        role: args.role,
        min_seq: args.min_seq,
    };
    let answer = ctx.client.check(&request).await?;
    let mut done = ctx.show(&answer, |a| check_text(&request, a));
    if !answer.allowed {
        done.status = Status::Denied;
    }
    Ok(done)
}

/// `allowed: ...` with the bindings that grant it, or `denied: ...` with the reason.
fn check_text(request: &CheckRequest, answer: &CheckResponse) -> String {
    let on = target(&request.workspace, request.project.as_deref());
    if !answer.allowed {
        let reason = answer.reason.map_or_else(|| "no reason given".to_owned(), |r| r.to_string());
        return format!("denied: {} does not hold {} on {on} ({reason})\n", request.user, request.role);
    }
    let mut out = format!(
        "allowed: {} holds {} on {on} {}\n",
        request.user,
        request.role,
        match &answer.expires_at {
            Some(t) => format!("until {t}"),
            None => "with no end".into(),
        }
    );
    for via in &answer.via {
        out.push_str(&format!(
            "  via {} {}: {}, {}{}\n",
            output::source(&via.source, via.emergency),
            via.binding_id,
            via.role,
            match &via.expires_at {
                Some(t) => format!("until {t}"),
                None => "no end".into(),
            },
            via.request_id.as_deref().map(|r| format!(" (request {r})")).unwrap_or_default(),
        ));
    }
    out
}

async fn verify(ctx: &Ctx, checkpoints: Option<std::path::PathBuf>, key: Option<String>) -> Result<Done> {
    let mut report = ctx.client.verify_audit().await?;
    if let Some(file) = checkpoints {
        let last = read_checkpoints(&file, key.as_deref())?;
        if let Some(b) = hold_against(ctx, &last).await? {
            report.ok = false;
            // The earlier of the two findings is the first broken link.
            if report.broken.as_ref().is_none_or(|r| b.seq < r.seq) {
                report.broken = Some(b);
            }
        }
    }
    let mut done = ctx.show(&report, verify_text);
    if let Some(broken) = &report.broken {
        done.status = Status::Failed(format!("audit chain broken at seq {}: {}", broken.seq, broken.reason));
    } else if !report.ok {
        done.status = Status::Failed("audit chain broken".into());
    }
    Ok(done)
}

/// Reads a checkpoints file: every line must verify, all with one key (`key` when given).
/// Returns the last checkpoint.
fn read_checkpoints(file: &std::path::Path, key: Option<&str>) -> Result<Checkpoint> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Fail::Usage(format!("--checkpoints: cannot read {}: {e}", file.display())))?;
    let mut last: Option<Checkpoint> = None;
    // A partial last line (a crash while appending) is not a checkpoint yet.
    for (n, line) in text.lines().enumerate().filter(|(_, l)| l.ends_with('}')) {
        let bad =
            |why: String| Fail::Usage(format!("--checkpoints: line {} of {}: {why}", n + 1, file.display()));
        let cp: Checkpoint = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        cp.verify().map_err(bad)?;
        let trusted = key.or(last.as_ref().map(|l| l.key.as_str()));
        if trusted.is_some_and(|k| !k.eq_ignore_ascii_case(&cp.key)) {
            return Err(bad(format!("signed by {}, not by {}", cp.key, trusted.unwrap_or_default())));
        }
        if last.as_ref().is_some_and(|l| cp.seq < l.seq) {
            return Err(bad(format!("seq {} goes back from {}", cp.seq, last.as_ref().map_or(0, |l| l.seq))));
        }
        last = Some(cp);
    }
    last.ok_or_else(|| Fail::Usage(format!("--checkpoints: {} holds no checkpoint", file.display())))
}

/// Whether the server's log still holds the checkpoint's event with its hash.
async fn hold_against(ctx: &Ctx, cp: &Checkpoint) -> Result<Option<BrokenLink>> {
    let page = ctx
        .client
        .audit(&AuditQuery { after: Some(cp.seq - 1), limit: Some(1), ..Default::default() })
        .await?;
    Ok(match page.items.first().filter(|e| e.seq == cp.seq) {
        None => {
            let head = ctx.client.health().await?.seq;
            Some(BrokenLink {
                seq: head + 1,
                reason: format!(
                    "the audit log was truncated: it ends at seq {head} but the signed checkpoint of {} records seq {}",
                    cp.at, cp.seq
                ),
            })
        }
        Some(e) if e.hash != cp.hash => Some(BrokenLink {
            seq: cp.seq,
            reason: format!(
                "the audit log was rewritten: event {} differs from the one the signed checkpoint of {} records",
                cp.seq, cp.at
            ),
        }),
        Some(_) => None,
    })
}

fn verify_text(r: &VerifyReport) -> String {
    match (&r.broken, r.ok) {
        (None, true) => format!("ok: {} events, head hash {}\n", r.events, r.head_hash),
        (Some(b), _) => format!(
            "broken at seq {}: {} ({} events checked, last good hash {})\n",
            b.seq, b.reason, r.events, r.head_hash
        ),
        (None, false) => format!("broken ({} events checked, last good hash {})\n", r.events, r.head_hash),
    }
}

async fn history(ctx: &Ctx, args: HistoryArgs) -> Result<Done> {
    let c = &ctx.client;
    let all = args.filter.all;
    let query = audit_query(args.filter);
    let ws = &args.workspace;
    if all {
        let items = c.all_history(ws, args.project.as_deref(), &query).await?;
        return Ok(ctx.show_all(items, output::events));
    }
    let page = match &args.project {
        Some(p) => c.project_history(ws, p, &query).await?,
        None => c.workspace_history(ws, &query).await?,
    };
    Ok(event_page(ctx, page))
}

fn audit_query(f: EventFilter) -> AuditQuery {
    AuditQuery {
        workspace: None,
        project: None,
        event_type: f.event_type,
        after: f.after,
        since: f.since,
        until: f.until,
        limit: f.limit,
        cursor: f.cursor,
    }
}

/// One page of events; in table mode a last line says how to get the next page.
fn event_page(ctx: &Ctx, page: Page<breakglass_api::AuditEvent>) -> Done {
    ctx.show(&page, |p| {
        let mut out = output::events(&p.items);
        if let Some(cursor) = &p.next_cursor {
            out.push_str(&format!("# more: --cursor {} (or --all)\n", shell_quote(cursor)));
        }
        out
    })
}

/// A binding as a record, or for an assignment that became a request, a line saying what it
/// waits for and the request.
fn assignment_text(a: &Assignment) -> String {
    match a {
        Assignment::Binding(b) => output::binding(b),
        Assignment::Request(r) => {
            let mut out = format!(
                "Not assigned yet: the policy needs more approvals. Request {} is waiting for {}.\n\n",
                r.id,
                output::more_approvals(output::remaining_approvals(r))
            );
            out.push_str(&output::request(r));
            out
        }
    }
}

async fn policy(ctx: &Ctx, cmd: PolicyCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        PolicyCommand::Create { name, workspace, flags } => {
            let body = PolicyBody {
                name,
                workspace,
                steps: flags.steps,
                max_duration: flags.max_duration,
                justification_required: flags.no_justification.then_some(false),
                pending_ttl: flags.pending_ttl,
            };
            Ok(ctx.show(&c.create_policy(&body).await?, output::policy))
        }
        PolicyCommand::List { workspace } => {
            let query = PolicyQuery { workspace, ..Default::default() };
            Ok(ctx.show_all(c.all_policies(&query).await?, output::policies))
        }
        PolicyCommand::Show { id } => Ok(ctx.show(&c.policy(&id).await?, output::policy)),
        PolicyCommand::Update { id, name, flags, no_steps, no_max_duration, require_justification } => {
            let current = c.policy(&id).await?;
            let change = PolicyChange { name, flags, no_steps, no_max_duration, require_justification };
            let body = updated_policy(current, change);
            Ok(ctx.show(&c.update_policy(&id, &body).await?, output::policy))
        }
    }
}

/// What `policy update` changes.
struct PolicyChange {
    name: Option<String>,
    flags: PolicyFlags,
    no_steps: bool,
    no_max_duration: bool,
    require_justification: bool,
}

/// The full definition to `PUT`: the current policy with the given changes on top.
fn updated_policy(current: Policy, change: PolicyChange) -> PolicyBody {
    let PolicyChange { name, flags, no_steps, no_max_duration, require_justification } = change;
    let steps = if no_steps {
        Vec::new()
    } else if flags.steps.is_empty() {
        current.steps
    } else {
        flags.steps
    };
    let justification_required =
        if flags.no_justification { false } else { require_justification || current.justification_required };
    PolicyBody {
        name: name.unwrap_or(current.name),
        workspace: current.workspace,
        steps,
        max_duration: if no_max_duration { None } else { flags.max_duration.or(current.max_duration) },
        justification_required: Some(justification_required),
        pending_ttl: Some(flags.pending_ttl.unwrap_or(current.pending_ttl)),
    }
}

async fn entitlement(ctx: &Ctx, cmd: EntitlementCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        EntitlementCommand::List { workspace } => {
            Ok(ctx.show_all(c.all_entitlements(&workspace).await?, output::entitlements))
        }
        EntitlementCommand::Set {
            workspace,
            role,
            project,
            policy,
            emergency_policy,
            emergency,
            no_emergency,
        } => {
            let all = c.all_entitlements(&workspace).await?;
            let current = all.iter().find(|e| e.role.as_str() == role && e.project == project);
            let change = EntitlementChange {
                policy,
                emergency_policy,
                emergency: match (emergency, no_emergency) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let body = updated_entitlement(current, change);
            let set = match &project {
                Some(p) => c.set_project_entitlement(&workspace, p, &role, &body).await?,
                None => c.set_workspace_entitlement(&workspace, &role, &body).await?,
            };
            Ok(ctx.show(&set, output::entitlement))
        }
    }
}

/// What `entitlement set` changes.
struct EntitlementChange {
    /// A policy id, or `default`.
    policy: Option<String>,
    emergency_policy: Option<String>,
    emergency: Option<bool>,
}

/// Id of the installation's default policy, as the server names it.
const DEFAULT_POLICY_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The settings to `PUT`: the current effective ones (none set when the role is not listed)
/// with the given changes on top.
fn updated_entitlement(current: Option<&Entitlement>, change: EntitlementChange) -> EntitlementBody {
    // A listed request policy counts as set unless the installation default applies.
    let current_policy = current
        .filter(|e| !e.default && e.request_policy.id != DEFAULT_POLICY_ID)
        .map(|e| e.request_policy.id.clone());
    let request_policy = match change.policy {
        Some(p) if p.eq_ignore_ascii_case("default") => None,
        Some(p) => Some(p),
        None => current_policy,
    };
    EntitlementBody {
        request_policy,
        emergency_enabled: change.emergency.unwrap_or(current.is_some_and(|e| e.emergency_enabled)),
        emergency_policy: change
            .emergency_policy
            .or_else(|| current.and_then(|e| e.emergency_policy.as_ref()).map(|p| p.id.clone())),
    }
}

async fn request(ctx: &Ctx, cmd: RequestCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        RequestCommand::Create { workspace, project, role, duration, justification, emergency } => {
            let body = CreateRequest { workspace, project, role, duration, justification, emergency };
            Ok(ctx.show(&c.create_request(&body).await?, request_text))
        }
        RequestCommand::List { all, state, workspace } => {
            let scope = Some(if all { "visible" } else { "mine" }.to_owned());
            let query = RequestQuery { scope, state, workspace, ..Default::default() };
            Ok(ctx.show_all(c.all_requests(&query).await?, output::requests))
        }
        RequestCommand::Show { id } => Ok(ctx.show(&c.request(&id).await?, output::request)),
        RequestCommand::Cancel { id } => Ok(ctx.show(&c.cancel_request(&id).await?, request_text)),
        RequestCommand::Escalate { id } => Ok(ctx.show(&c.escalate_request(&id).await?, request_text)),
    }
}

/// A request after a change: a headline saying where it stands, then the record.
fn request_text(r: &Request) -> String {
    let mark = if r.emergency { format!(" {}", output::EMERGENCY) } else { String::new() };
    let on = target(&r.workspace, r.project.as_deref());
    let headline = match r.state.as_str() {
        "granted" => format!(
            "Granted{mark}: {} holds {} on {on}{}.",
            r.user,
            r.role,
            r.duration.as_deref().map(|d| format!(" for {d}")).unwrap_or_default()
        ),
        "pending" => {
            let mut line = format!(
                "Pending{mark}: request {} is waiting for {}.",
                r.id,
                output::more_approvals(output::remaining_approvals(r))
            );
            if r.quorum_unreachable {
                line.push_str(" Too few eligible approvers remain: an admin-area override is needed.");
            }
            line
        }
        state => format!("Request {} is {state}.", r.id),
    };
    format!("{headline}\n\n{}", output::request(r))
}

async fn task(ctx: &Ctx, cmd: TaskCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TaskCommand::List => {
            let mut tasks = c.all_tasks().await?;
            tasks.sort_by_key(|t| !t.request.emergency);
            Ok(ctx.show_all(tasks, output::tasks))
        }
        TaskCommand::Approve { id, is_override } => {
            Ok(ctx.show(&c.approve_request(&id, is_override).await?, request_text))
        }
        TaskCommand::Deny { id, reason } => Ok(ctx.show(&c.deny_request(&id, &reason).await?, request_text)),
        TaskCommand::Escalate { id } => Ok(ctx.show(&c.escalate_request(&id).await?, request_text)),
    }
}

async fn review(ctx: &Ctx, cmd: ReviewCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        ReviewCommand::List { state, workspace } => {
            let query = ReviewQuery { state: Some(state), workspace, ..Default::default() };
            Ok(ctx.show_all(c.all_reviews(&query).await?, output::reviews))
        }
        ReviewCommand::Complete { id, outcome, notes } => {
            let body = CompleteReview { outcome, notes };
            Ok(ctx.show(&c.complete_review(&id, &body).await?, output::review))
        }
    }
}

/// The first line of standard input, without its line ending.
fn read_stdin_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail::Usage(format!("cannot read the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Fail::Usage("standard input held no password (--password-stdin)".into()));
    }
    Ok(password)
}

/// `s` as one shell word.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/=+@%,~".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

async fn platform(ctx: &Ctx, cmd: PlatformCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        PlatformCommand::Register { id, kind, name } => {
            let body = RegisterPlatform { identifier: id, kind, name };
            Ok(ctx.show(&c.register_platform(&body).await?, output::platform))
        }
        PlatformCommand::List => Ok(ctx.show_all(c.all_platforms().await?, output::platforms)),
    }
}

async fn tenant(ctx: &Ctx, cmd: TenantCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TenantCommand::Create { tenant: t, external_id } => {
            let body = CreateTenant { platform: t.platform, external_id };
            let created = c.create_tenant(&t.project.workspace, &t.project.project, &body).await?;
            Ok(ctx.show(&created, output::tenant))
        }
        TenantCommand::List { project: p } => {
            Ok(ctx.show_all(c.all_tenants(&p.workspace, &p.project).await?, output::tenants))
        }
    }
}

async fn service_user(ctx: &Ctx, cmd: ServiceUserCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        ServiceUserCommand::Create { tenant: t, name } => {
            let (ws, p) = (&t.project.workspace, &t.project.project);
            let created = c.create_service_user(ws, p, &t.platform, &name).await?;
            Ok(ctx.show(&created, created_service_user_text))
        }
        ServiceUserCommand::List { tenant: t } => {
            let (ws, p) = (&t.project.workspace, &t.project.project);
            Ok(ctx.show_all(c.all_service_users(ws, p, &t.platform).await?, output::service_users))
        }
        ServiceUserCommand::Delete { tenant: t, id } => {
            c.delete_service_user(&t.project.workspace, &t.project.project, &t.platform, &id).await?;
            Ok(ctx.done(format!("Deleted service user {id}.")))
        }
    }
}

/// A new service user: the record, then its secret, which is shown only this once.
fn created_service_user_text(u: &CreatedServiceUser) -> String {
    format!(
        "{}\nIts secret is shown only this once and cannot be shown again; store it now:\n\n    {}\n",
        output::service_user(&u.service_user),
        u.secret
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_api::Via;

    use crate::output::fixtures;
    use breakglass_api::{PolicyRef, PolicyStep};

    fn no_flags() -> PolicyFlags {
        PolicyFlags { steps: vec![], max_duration: None, no_justification: false, pending_ttl: None }
    }

    fn change(flags: PolicyFlags) -> PolicyChange {
        PolicyChange {
            name: None,
            flags,
            no_steps: false,
            no_max_duration: false,
            require_justification: false,
        }
    }

    #[test]
    fn policy_updates_apply_flags_on_the_current_definition() {
        let current = fixtures::policy(&[(2, "workspace_managers")]);
        let body = updated_policy(
            current.clone(),
            change(PolicyFlags { max_duration: Some("2h".into()), ..no_flags() }),
        );
        assert_eq!(body.name, "four eyes");
        assert_eq!(body.workspace.as_deref(), Some("acme"));
        assert_eq!(body.steps, current.steps);
        assert_eq!(body.max_duration.as_deref(), Some("2h"));
        assert_eq!((body.justification_required, body.pending_ttl.as_deref()), (Some(true), Some("7d")));

        let step = PolicyStep { approvers: "admin_area".into(), users: vec![], count: 1 };
        let body = updated_policy(
            current.clone(),
            PolicyChange {
                name: Some("renamed".into()),
                no_max_duration: true,
                ..change(PolicyFlags { steps: vec![step.clone()], no_justification: true, ..no_flags() })
            },
        );
        assert_eq!((body.name.as_str(), body.steps, body.max_duration), ("renamed", vec![step], None));
        assert_eq!(body.justification_required, Some(false));

        let mut optional = current;
        optional.justification_required = false;
        let body = updated_policy(
            optional.clone(),
            PolicyChange { no_steps: true, require_justification: true, ..change(no_flags()) },
        );
        assert!(body.steps.is_empty());
        assert_eq!(body.justification_required, Some(true));
        assert_eq!(updated_policy(optional, change(no_flags())).justification_required, Some(false));
    }

    #[test]
    fn entitlement_settings_apply_flags_on_the_effective_ones() {
        let pref = |id: &str| PolicyRef { id: id.into(), name: id.into() };
        let default = Entitlement {
            workspace: "acme".into(),
            project: None,
            role: breakglass_api::Role::Owner,
            request_policy: pref(DEFAULT_POLICY_ID),
            emergency_enabled: false,
            emergency_policy: None,
            default: true,
        };
        let keep = || EntitlementChange { policy: None, emergency_policy: None, emergency: None };
        assert_eq!(updated_entitlement(Some(&default), keep()), EntitlementBody::default());
        assert_eq!(updated_entitlement(None, keep()), EntitlementBody::default());

        let body = updated_entitlement(
            Some(&default),
            EntitlementChange { emergency_policy: Some("e1".into()), emergency: Some(true), ..keep() },
        );
        assert_eq!(
            body,
            EntitlementBody {
                request_policy: None,
                emergency_enabled: true,
                emergency_policy: Some("e1".into())
            }
        );

        let set = Entitlement {
            request_policy: pref("p1"),
            emergency_enabled: true,
            emergency_policy: Some(pref("e1")),
            default: false,
            ..default.clone()
        };
        let same = EntitlementBody {
            request_policy: Some("p1".into()),
            emergency_enabled: true,
            emergency_policy: Some("e1".into()),
        };
        assert_eq!(updated_entitlement(Some(&set), keep()), same);
        let body = updated_entitlement(
            Some(&set),
            EntitlementChange { policy: Some("default".into()), emergency: Some(false), ..keep() },
        );
        assert_eq!(body, EntitlementBody { request_policy: None, emergency_enabled: false, ..same.clone() });
        let only_emergency_set = Entitlement { request_policy: pref(DEFAULT_POLICY_ID), ..set };
        assert_eq!(updated_entitlement(Some(&only_emergency_set), keep()).request_policy, None);
    }

    #[test]
    fn an_assignment_waiting_for_approvals_says_so() {
        let mut r = fixtures::request("r7");
        r.created_by = "mia@x.io".into();
        let text = assignment_text(&Assignment::Request(r.clone()));
        assert!(
            text.starts_with("Not assigned yet: the policy needs more approvals. Request r7 is waiting for 2 more approvals.\n"),
            "{text}"
        );
        assert!(text.contains("opened by:      mia@x.io"), "{text}");
        r.emergency = true;
        r.quorum_unreachable = true;
        let text = request_text(&r);
        assert!(
            text.starts_with("Pending ⚡ EMERGENCY: request r7 is waiting for 2 more approvals. Too few"),
            "{text}"
        );
        r.state = breakglass_api::RequestState::Granted;
        assert!(
            request_text(&r).starts_with("Granted ⚡ EMERGENCY: bob@x.io holds admin on acme/web for 2h.\n")
        );
    }

    #[test]
    fn shell_quoting_keeps_tokens_one_word() {
        assert_eq!(shell_quote("bg_abc-123"), "bg_abc-123");
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn check_answers_read_as_sentences() {
        let request = CheckRequest {
            user: "al@x.io".into(),
            workspace: "acme".into(),
            project: Some("web".into()),
            role: "user".into(),
            min_seq: None,
        };
        let allowed = CheckResponse {
            allowed: true,
            expires_at: Some("2026-01-01T10:00:00Z".into()),
            via: vec![
                Via {
                    binding_id: "b1".into(),
                    role: breakglass_api::Role::Admin,
                    source: breakglass_api::BindingSource::Grant,
                    request_id: None,
                    emergency: false,
                    expires_at: Some("2026-01-01T10:00:00Z".into()),
                },
                Via {
                    binding_id: "b2".into(),
                    role: breakglass_api::Role::User,
                    source: breakglass_api::BindingSource::Emergency,
                    request_id: Some("r1".into()),
                    emergency: true,
                    expires_at: Some("2026-01-01T09:00:00Z".into()),
                },
            ],
            reason: None,
        };
        assert_eq!(
            check_text(&request, &allowed),
            "allowed: al@x.io holds user on acme/web until 2026-01-01T10:00:00Z\n  \
             via grant b1: admin, until 2026-01-01T10:00:00Z\n  \
             via ⚡ EMERGENCY b2: user, until 2026-01-01T09:00:00Z (request r1)\n"
        );
        let denied = CheckResponse {
            allowed: false,
            expires_at: None,
            via: vec![],
            reason: Some(breakglass_api::DenyReason::NoBinding),
        };
        assert_eq!(
            check_text(&request, &denied),
            "denied: al@x.io does not hold user on acme/web (no_binding)\n"
        );
    }
    #[test]
    fn tag_flags_become_a_map_and_repeated_keys_are_refused() {
        let pairs = vec![("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())];
        let map = tag_map(pairs).unwrap();
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [("a".into(), "1".into()), ("b".into(), "2".into())]);
        let twice = vec![("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())];
        assert!(matches!(tag_map(twice), Err(Fail::Usage(m)) if m == "--tag a: given more than once"));
    }

    #[test]
    fn settings_set_sends_only_the_given_settings() {
        let change = SettingsChange {
            workspace_registration: Some("approval".into()),
            signup: None,
            invitation_ttl_days: Some(3),
            default_project_quota: None,
            restrict_admin_role_assignment: Some(false),
            add_myself_default_expiry: None,
            add_myself_max_expiry: None,
            max_expiry: Some("90d".into()),
            max_api_tokens_per_user: None,
            max_sessions_per_user: None,
        };
        let body = serde_json::to_value(settings_change(change)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "workspace_registration": "approval",
                "invitation_ttl_days": 3,
                "restrict_admin_role_assignment": false,
                "max_expiry": "90d"
            })
        );
    }

    #[test]
    fn registrations_invitations_and_sessions_read_as_sentences() {
        let mut w = fixtures::workspace();
        w.status = WorkspaceStatus::PendingApproval;
        assert!(
            registered_text(&w).starts_with("Registered acme: it waits for approval by the admin area.\n\n")
        );
        w.status = "active".parse().unwrap();
        assert!(registered_text(&w).starts_with("Registered acme: it is active and you own it.\n\n"));

        let mut i = fixtures::invitation();
        i.state = "accepted".parse().unwrap();
        assert!(
            accepted_text(&i).starts_with("Accepted: you are manager of acme.\n\n"),
            "{}",
            accepted_text(&i)
        );
        i.membership_expires_at = Some("2026-02-01T00:00:00Z".into());
        assert!(
            accepted_text(&i).starts_with("Accepted: you are manager of acme until 2026-02-01T00:00:00Z.\n")
        );

        // A new invitation shows its secret once, with how to pass it on and use it.
        let mut i = fixtures::invitation();
        assert_eq!(created_text(&i), output::invitation(&i), "no secret, nothing to pass on");
        i.token = Some("bgi_s3cret".into());
        let text = created_text(&i);
        assert!(text.starts_with(&output::invitation(&i)), "{text}");
        assert_eq!(text.matches("bgi_s3cret").count(), 1, "{text}");
        assert!(text.contains("Pass it on to new@x.io yourself:\n\n    bgi_s3cret\n"), "{text}");
        assert!(text.contains("breakglass invitation accept i1 --invitation-token SECRET\n"), "{text}");
        assert!(text.contains("--email new@x.io --name NAME --invitation-token SECRET\n"), "{text}");

        let session: Session = serde_json::from_value(serde_json::json!({
            "token": "bg s1",
            "expires_at": "2026-01-02T00:00:00Z",
            "user": {"id": "u1", "email": "new@x.io", "name": "New", "admin_role": "none",
                     "status": "active", "created_at": "2026-01-01T00:00:00Z"}
        }))
        .unwrap();
        assert_eq!(
            session_text("Signed in", &session, &Waiting::default()),
            "# Signed in as new@x.io until 2026-01-02T00:00:00Z.\n\
             # Use the session with:\nexport BREAKGLASS_TOKEN='bg s1'\n"
        );
        let text = session_text(
            "Signed up and signed in",
            &session,
            &Waiting { messages: 1, invitations: 2, accesses: 1 },
        );
        assert!(text.contains("\n# 1 unread message: breakglass message inbox\n"), "{text}");
        assert!(
            text.contains(
                "\n# 1 delegate access shared with you waits for an answer: breakglass access received\n"
            ),
            "{text}"
        );
        assert!(text.contains("\n# 2 invitations waiting for you: breakglass invitation mine\n"), "{text}");
        assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("export ")), "eval-safe: {text}");
    }

    #[test]
    fn access_flags_that_do_not_fit_the_kind_are_usage_errors() {
        let never = || Expiry { expires_in: None, expires_at: None };
        let body = |kind: &str, read_only: bool, recipients: &[&str]| {
            access_body(
                "n".into(),
                kind.into(),
                Some("acme".into()),
                never(),
                read_only,
                recipients.iter().map(|r| r.to_string()).collect(),
            )
        };
        for (kind, read_only, recipients, want) in [
            (DELEGATE, true, &["a@x.io"][..], "--read-only applies to --kind api_token"),
            (DELEGATE, false, &[][..], "--kind delegate needs at least one --recipient EMAIL"),
            (API_TOKEN, false, &["a@x.io"][..], "--recipient applies to --kind delegate"),
        ] {
            match body(kind, read_only, recipients) {
                Err(Fail::Usage(m)) => assert!(m.starts_with(want), "{m}"),
                other => panic!("{kind} {read_only} {recipients:?}: {:?}", other.map(|b| b.name)),
            }
        }
        let token = body(API_TOKEN, true, &[]).unwrap();
        assert_eq!(
            serde_json::to_value(&token).unwrap(),
            serde_json::json!({"name": "n", "kind": "api_token", "scope": "acme", "read_only": true})
        );
        let delegate = body(DELEGATE, false, &["a@x.io"]).unwrap();
        assert_eq!((delegate.read_only, delegate.recipients.len()), (None, 1));
    }

    #[test]
    fn new_access_secrets_are_shown_once_with_a_warning() {
        let a = fixtures::access();
        let created = CreatedAccess {
            access: a.clone(),
            secret: None,
            codes: vec![
                RecipientCode { email: "dave@x.io".into(), code: "bga_d4ve".into() },
                RecipientCode { email: "carl@x.io".into(), code: "bga_c4rl".into() },
            ],
        };
        let text = created_access_text(&created, false);
        assert!(text.starts_with(&output::access(&a)), "{text}");
        assert_eq!(text.matches("bga_d4ve").count(), 1, "{text}");
        assert!(text.contains("shown only this once and cannot be shown again"), "{text}");
        assert!(text.contains("they need it to accept"), "{text}");
        assert!(text.contains("\ndave@x.io  bga_d4ve\ncarl@x.io  bga_c4rl\n"), "{text}");
        assert!(text.contains("breakglass access accept a1 --code CODE\n"), "{text}");
        assert!(text.contains("--invitation-token CODE\n"), "{text}");
        assert!(text.contains("breakglass --as olga@x.io ...\n"), "{text}");

        let mut token = a.clone();
        (token.kind, token.recipients, token.token_id) =
            ("api_token".parse().unwrap(), vec![], Some("t1".into()));
        let created = CreatedAccess { access: token, secret: Some("bgt_s3cret".into()), codes: vec![] };
        let text = created_access_text(&created, true);
        assert_eq!(text.matches("bgt_s3cret").count(), 1, "{text}");
        assert!(text
            .contains("shown only this once and cannot be shown again; store it now:\n\n    bgt_s3cret\n"));
        assert!(text.contains("acts as olga@x.io (workspace acme, read-only) until you revoke it"), "{text}");
        assert!(!text.contains("recipients:"), "{text}");

        let code = RecipientCode { email: "erin@x.io".into(), code: "bga_3rin".into() };
        let text = shared_text("a1", &code);
        assert!(
            text.starts_with("Shared access a1 with erin@x.io. The acceptance code is shown only this once")
        );
        assert!(text.contains(":\n\n    bga_3rin\n"), "{text}");
        assert!(text.contains("breakglass access accept a1 --code CODE\n"), "{text}");

        let text = accepted_access_text(&a);
        assert!(
            text.starts_with(
                "Accepted: you may act as olga@x.io (workspace acme) until 2026-01-15T00:00:00Z with: \
                 breakglass --as olga@x.io ...\n\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_new_service_user_shows_its_secret_once_with_a_warning() {
        let created = CreatedServiceUser {
            service_user: breakglass_api::ServiceUser {
                id: "s1".into(),
                workspace: "acme".into(),
                project: "web".into(),
                platform: "aws".into(),
                name: "ci".into(),
                client_id: "svc-0123".into(),
                created_by: "dev@x.io".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            secret: "bgu_s3cret".into(),
        };
        let text = created_service_user_text(&created);
        assert!(text.starts_with(&output::service_user(&created.service_user)), "{text}");
        assert_eq!(text.matches("bgu_s3cret").count(), 1, "{text}");
        assert!(text.contains("shown only this once and cannot be shown again"), "{text}");
        assert!(text.ends_with("\n\n    bgu_s3cret\n"), "{text}");
        assert!(output::service_user(&created.service_user).contains("svc-0123"));
    }
}
