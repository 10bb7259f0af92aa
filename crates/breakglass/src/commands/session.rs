//! Signing in and out, signing up, and who you are: `login`, `signup`, `logout`, `me`, `health`.

use breakglass_api::{Access, AccessStatus, Login, Me, RecipientStatus, Session, Signup};
use clap::Args;

use crate::args::read_stdin_line;
use crate::commands::{Ctx, Done, Fail, Result};
use crate::render::{fields, limits, opt, shell_quote, Table};

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

/// `health`: whether the server answers, and the audit sequence it reflects.
pub async fn health(ctx: &Ctx) -> Result<Done> {
    let health = ctx.client.health().await?;
    Ok(ctx.show(&health, |h| fields(&[("status", h.status.to_string()), ("seq", h.seq.to_string())])))
}

/// `login`: signs in and prints the session as shell lines.
pub async fn login(ctx: &Ctx, args: LoginArgs) -> Result<Done> {
    let password = password(args.password_stdin)?;
    let session = ctx.client.anonymous().login(&Login { email: args.email, password }).await?;
    let waiting = if ctx.json { Waiting::default() } else { waiting(ctx, &session).await };
    Ok(ctx.show(&session, |s| session_text("Signed in", s, &waiting)))
}

/// `signup`: creates your own account and signs in.
pub async fn signup(ctx: &Ctx, args: SignupArgs) -> Result<Done> {
    let password = password(args.password_stdin)?;
    let body =
        Signup { email: args.email, name: args.name, password, invitation_token: args.invitation_token };
    let session = ctx.client.anonymous().signup(&body).await?;
    let waiting = if ctx.json { Waiting::default() } else { waiting(ctx, &session).await };
    Ok(ctx.show(&session, |s| session_text("Signed up and signed in", s, &waiting)))
}

/// `logout`: ends the session whose token is in use.
pub async fn logout(ctx: &Ctx) -> Result<Done> {
    // Ends your own session, whoever you act as.
    ctx.client.as_self().logout().await?;
    Ok(ctx.done("Signed out.".into()))
}

/// `me`: who you are, whom you act as, and your workspaces.
pub async fn whoami(ctx: &Ctx) -> Result<Done> {
    Ok(ctx.show(&ctx.client.me().await?, me))
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

/// The caller as `me` shows them: who acts with whose rights and within which limits, what
/// waits for them, the user record and their workspaces.
pub fn me(me: &Me) -> String {
    let mut out = match &me.delegate {
        Some(delegate) => format!("Acting as {} (you are {delegate}).\n", me.user.email),
        None => format!("Signed in as {}.\n", me.user.email),
    };
    if me.scope.is_some() || me.read_only {
        let scope = me.scope.as_ref().map(|s| s.join(", "));
        out.push_str(&format!("Limited to: {}.\n", limits(scope.as_deref(), me.read_only)));
    }
    if me.pending_accesses > 0 {
        out.push_str(&format!(
            "{} delegate access{} shared with you wait{} for an answer: breakglass access received\n",
            me.pending_accesses,
            if me.pending_accesses == 1 { "" } else { "es" },
            if me.pending_accesses == 1 { "s" } else { "" },
        ));
    }
    out.push('\n');
    out.push_str(&super::user::user(&me.user));
    let mut t = Table::new(&["WORKSPACE", "ROLE"]);
    for w in &me.workspaces {
        t.row(vec![w.workspace.clone(), opt(&w.role)]);
    }
    out.push('\n');
    out.push_str(&t.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_api::User;

    #[test]
    fn me_says_whose_rights_are_in_use() {
        let user: User = serde_json::from_value(serde_json::json!({
            "id": "u1", "email": "olga@x.io", "name": "Olga", "admin_role": "none",
            "status": "active", "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let mut m = Me {
            user,
            delegate: Some("dave@x.io".into()),
            scope: Some(vec!["acme".into()]),
            read_only: false,
            pending_accesses: 0,
            workspaces: vec![breakglass_api::MyWorkspace {
                workspace: "acme".into(),
                role: Some("owner".parse().unwrap()),
            }],
        };
        let text = me(&m);
        assert!(
            text.starts_with("Acting as olga@x.io (you are dave@x.io).\nLimited to: workspace acme.\n\n"),
            "{text}"
        );
        assert!(text.contains("email:       olga@x.io\n") && text.ends_with("acme       owner\n"), "{text}");
        (m.delegate, m.scope, m.read_only, m.pending_accesses) = (None, None, true, 2);
        let text = me(&m);
        assert!(text.starts_with("Signed in as olga@x.io.\nLimited to: global, read-only.\n"), "{text}");
        assert!(
            text.contains(
                "\n2 delegate accesses shared with you wait for an answer: breakglass access received\n"
            ),
            "{text}"
        );
        m.read_only = false;
        m.pending_accesses = 1;
        let text = me(&m);
        assert!(!text.contains("Limited"), "{text}");
        assert!(text.contains("\n1 delegate access shared with you waits for an answer"), "{text}");
    }

    #[test]
    fn a_new_session_reads_as_eval_safe_shell_lines() {
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
}
