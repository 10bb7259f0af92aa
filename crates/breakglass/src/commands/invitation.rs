//! `invitation`: inviting people to a workspace, and answering your invitations.

use breakglass_api::{CreateInvitation, Invitation};
use clap::Subcommand;

use crate::args::Expiry;
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, until, Table};

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

/// Runs a `invitation` command.
pub async fn run(ctx: &Ctx, cmd: InvitationCommand) -> Result<Done> {
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
            Ok(ctx.show_all(c.all_workspace_invitations(&workspace).await?, invitations))
        }
        InvitationCommand::Cancel { id } => {
            c.cancel_invitation(&id).await?;
            Ok(ctx.done(format!("Cancelled invitation {id}.")))
        }
        InvitationCommand::Mine => Ok(ctx.show_all(c.all_my_invitations().await?, invitations)),
        InvitationCommand::Accept { id, invitation_token } => {
            Ok(ctx.show(&c.accept_invitation(&id, &invitation_token).await?, accepted_text))
        }
        InvitationCommand::Decline { id } => Ok(ctx.show(&c.decline_invitation(&id).await?, invitation)),
    }
}

/// A new invitation: the record, then its secret (shown only this once) and how the invitee
/// uses it.
fn created_text(i: &Invitation) -> String {
    let mut out = invitation(i);
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
    format!("Accepted: you are {} of {}{ends}.\n\n{}", i.role, i.workspace, invitation(i))
}

/// An invitation as a record.
pub fn invitation(i: &Invitation) -> String {
    fields(&[
        ("invitation", i.id.clone()),
        ("workspace", i.workspace.clone()),
        ("email", i.email.clone()),
        ("role", i.role.to_string()),
        ("state", i.state.to_string()),
        ("membership ends", until(&i.membership_expires_at)),
        ("invited by", i.invited_by.clone()),
        ("created", i.created_at.clone()),
        ("valid until", i.expires_at.clone()),
    ])
}

/// Invitations as a table.
pub fn invitations(list: &[Invitation]) -> String {
    let mut t = Table::new(&[
        "ID",
        "WORKSPACE",
        "EMAIL",
        "ROLE",
        "STATE",
        "MEMBERSHIP ENDS",
        "INVITED BY",
        "VALID UNTIL",
    ]);
    for i in list {
        t.row(vec![
            i.id.clone(),
            i.workspace.clone(),
            i.email.clone(),
            i.role.to_string(),
            i.state.to_string(),
            until(&i.membership_expires_at),
            i.invited_by.clone(),
            i.expires_at.clone(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn a_new_invitation_shows_its_secret_once_and_an_accepted_one_its_membership() {
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
        assert_eq!(created_text(&i), invitation(&i), "no secret, nothing to pass on");
        i.token = Some("bgi_s3cret".into());
        let text = created_text(&i);
        assert!(text.starts_with(&invitation(&i)), "{text}");
        assert_eq!(text.matches("bgi_s3cret").count(), 1, "{text}");
        assert!(text.contains("Pass it on to new@x.io yourself:\n\n    bgi_s3cret\n"), "{text}");
        assert!(text.contains("breakglass invitation accept i1 --invitation-token SECRET\n"), "{text}");
        assert!(text.contains("--email new@x.io --name NAME --invitation-token SECRET\n"), "{text}");
    }

    #[test]
    fn invitations_list_as_a_table() {
        let list = invitations(&[fixtures::invitation()]);
        let cells: Vec<&str> = list.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(cells[..6], ["i1", "acme", "new@x.io", "manager", "pending", "never"], "{list}");
    }
}
