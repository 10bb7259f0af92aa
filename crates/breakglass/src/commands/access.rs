//! `access`: sharing your rights as API token accesses and delegate accesses, and answering those
//! shared with you.

use breakglass_api::{Access, AccessKind, CreateAccess, CreatedAccess, RecipientCode};
use clap::Subcommand;

use crate::args::Expiry;
use crate::commands::{Ctx, Done, Fail, Result};
use crate::render::{fields, limits, opt, scope, until, Table, NONE};

/// Kinds of access, as `access create --kind` takes them.
const ACCESS_KINDS: [&str; 2] = [API_TOKEN, DELEGATE];

/// An access that is a bearer token acting as you.
const API_TOKEN: &str = "api_token";

/// An access through which named people act as you.
const DELEGATE: &str = "delegate";

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

/// Runs a `access` command.
pub async fn run(ctx: &Ctx, cmd: AccessCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        AccessCommand::Create { name, kind, scope, expiry, read_only, recipients } => {
            let body = access_body(name, kind, scope, expiry, read_only, recipients)?;
            let created = c.create_access(&body).await?;
            Ok(ctx.show(&created, |created| created_access_text(created, read_only)))
        }
        AccessCommand::List { owner } => Ok(ctx.show_all(c.all_accesses(owner.as_deref()).await?, accesses)),
        AccessCommand::Received => Ok(ctx.show_all(c.all_received_accesses().await?, received_accesses)),
        AccessCommand::Show { id } => Ok(ctx.show(&c.get_access(&id).await?, access)),
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
            Ok(ctx.show(&a, |a| format!("Declined access {} of {}.\n\n{}", a.id, a.owner, access(a))))
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
    let mut out = access(a);
    if let Some(secret) = &created.secret {
        out.push_str(&format!(
            "\nThe token's secret is shown only this once and cannot be shown again; store it now:\n\n    \
             {secret}\n\n\
             Whoever holds it acts as {owner} ({limits}) until you revoke it: \
             breakglass access revoke {id}\n",
            owner = a.owner,
            limits = limits(a.scope.as_deref(), read_only),
            id = a.id,
        ));
    }
    if !created.codes.is_empty() {
        let mut t = Table::new(&["RECIPIENT", "CODE"]);
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
        scope = scope(a.scope.as_deref()),
        record = access(a),
    )
}

/// A delegate access's recipients: `email (status)`, comma-separated, or [`NONE`].
fn recipients(a: &Access) -> String {
    if a.recipients.is_empty() {
        return NONE.into();
    }
    a.recipients.iter().map(|r| format!("{} ({})", r.email, r.status)).collect::<Vec<_>>().join(", ")
}

/// An access as a record; one line per recipient.
pub fn access(a: &Access) -> String {
    let mut pairs = vec![("access", a.id.clone()), ("owner", a.owner.clone()), ("kind", a.kind.to_string())];
    if let Some(name) = &a.name {
        pairs.push(("name", name.clone()));
    }
    pairs.extend([
        ("scope", scope(a.scope.as_deref())),
        ("status", a.status.to_string()),
        ("created", a.created_at.clone()),
        ("expires", until(&a.expires_at)),
    ]);
    if let Some(t) = &a.revoked_at {
        pairs.push(("revoked", t.clone()));
    }
    if let Some(t) = &a.token_id {
        pairs.push(("token", t.clone()));
        pairs.push(("read-only", if a.read_only { "yes" } else { "no" }.into()));
    }
    if a.kind == AccessKind::Delegate || !a.recipients.is_empty() {
        let lines: Vec<String> = a
            .recipients
            .iter()
            .map(|r| {
                let decided = r.decided_at.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
                format!("{} ({}{decided})", r.email, r.status)
            })
            .collect();
        pairs.push(("recipients", if lines.is_empty() { NONE.into() } else { lines.join("; ") }));
    }
    fields(&pairs)
}

/// Your accesses as a table.
pub fn accesses(list: &[Access]) -> String {
    let mut t = Table::new(&["ID", "KIND", "NAME", "SCOPE", "STATUS", "EXPIRES", "RECIPIENTS", "CREATED"]);
    for a in list {
        t.row(vec![
            a.id.clone(),
            a.kind.to_string(),
            opt(&a.name),
            a.scope.clone().unwrap_or_else(|| "global".into()),
            a.status.to_string(),
            until(&a.expires_at),
            recipients(a),
            a.created_at.clone(),
        ]);
    }
    t.render()
}

/// The accesses shared with you as a table: whose, where, and your answer.
pub fn received_accesses(list: &[Access]) -> String {
    let mut t = Table::new(&["ID", "OWNER", "SCOPE", "STATUS", "EXPIRES", "YOUR ANSWER"]);
    for a in list {
        let answer = a.recipients.first().map(|r| r.status.to_string()).unwrap_or_else(|| NONE.into());
        t.row(vec![
            a.id.clone(),
            a.owner.clone(),
            a.scope.clone().unwrap_or_else(|| "global".into()),
            a.status.to_string(),
            until(&a.expires_at),
            answer,
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

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
        assert!(text.starts_with(&access(&a)), "{text}");
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
    fn accesses_show_scope_limits_and_recipients() {
        let a = fixtures::access();
        let table = accesses(std::slice::from_ref(&a));
        assert!(
            table.lines().nth(1).unwrap().contains(" dave@x.io (accepted), carl@x.io (pending) "),
            "{table}"
        );
        let record = access(&a);
        assert!(record.contains("scope:       workspace acme\n"), "{record}");
        assert!(
            record.contains("recipients:  dave@x.io (accepted 2026-01-02T00:00:00Z); carl@x.io (pending)\n"),
            "{record}"
        );
        let mut received = a.clone();
        (received.name, received.scope) = (None, None);
        received.recipients.truncate(1);
        let table = received_accesses(&[received.clone()]);
        assert_eq!(
            table.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(),
            ["a1", "olga@x.io", "global", "active", "2026-01-15T00:00:00Z", "accepted"],
            "{table}"
        );
        assert!(!access(&received).contains("name:"), "{}", access(&received));
    }
}
