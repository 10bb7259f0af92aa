//! `credentials`: a password for your access on a project's tenant, valid until that access
//! ends; the platform itself refuses it afterwards.

use breakglass_api::IssuedCredential;
use clap::Subcommand;

use crate::commands::tenant::TenantRef;
use crate::commands::{Ctx, Done, Result};
use crate::render::fields;

/// `credentials` verbs.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Issue yourself a login and a fresh password on a project's tenant, valid until your
    /// access there ends (at most the platform's credential lifetime); printed once.
    #[command(
        after_help = "Example: breakglass credentials issue --workspace acme --project web --platform pg-prod"
    )]
    Issue {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
    },
}

/// Runs a `credentials` command.
pub async fn run(ctx: &Ctx, cmd: CredentialsCommand) -> Result<Done> {
    match cmd {
        CredentialsCommand::Issue { tenant: t } => {
            let (ws, p) = (&t.project.workspace, &t.project.project);
            Ok(ctx.show(&ctx.client.issue_credential(ws, p, &t.platform).await?, issued_text))
        }
    }
}

/// A new credential: the record, the password shown only this once, and how to connect.
fn issued_text(c: &IssuedCredential) -> String {
    let mut out = fields(&[
        ("platform", c.platform.clone()),
        ("tenant", format!("{}/{}", c.workspace, c.project)),
        ("login", c.login.clone()),
        ("expires", c.expires_at.clone()),
        (
            "ready",
            if c.ready { "yes".into() } else { "not yet: the platform accepts it within seconds".into() },
        ),
    ]);
    out.push_str(&format!(
        "\nThe password is shown only this once and cannot be shown again; the platform refuses it \
         after {}:\n\n    {}\n",
        c.expires_at, c.password
    ));
    if let Some(line) = &c.connect {
        out.push_str(&format!("\nConnect with (it asks for the password):\n\n    {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_shows_its_password_once_with_its_end_and_how_to_connect() {
        let c = IssuedCredential {
            platform: "pg".into(),
            workspace: "acme".into(),
            project: "web".into(),
            login: "bg_al@x.io".into(),
            password: "pw-s3cret".into(),
            expires_at: "2026-01-01T10:00:00Z".into(),
            ready: true,
            connect: Some("psql \"host='h' port=5432 dbname='web' user='bg_al@x.io'\"".into()),
        };
        let text = issued_text(&c);
        assert_eq!(text.matches("pw-s3cret").count(), 1, "{text}");
        assert!(text.contains("login:     bg_al@x.io\n"), "{text}");
        assert!(text.contains("shown only this once"), "{text}");
        assert!(text.ends_with("user='bg_al@x.io'\"\n"), "{text}");
    }
}
