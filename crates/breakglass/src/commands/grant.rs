//! `grant`: temporary roles on top of memberships.

use breakglass_api::CreateGrant;
use clap::Subcommand;

use crate::args::RequiredExpiry;
use crate::commands::{Ctx, Done, Result};

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

/// Runs a `grant` command.
pub async fn run(ctx: &Ctx, cmd: GrantCommand) -> Result<Done> {
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
            Ok(ctx.show(&c.create_grant(&body).await?, super::member::assignment_text))
        }
        GrantCommand::Revoke { id } => {
            c.revoke_grant(&id).await?;
            Ok(ctx.done(format!("Revoked grant {id}.")))
        }
    }
}
