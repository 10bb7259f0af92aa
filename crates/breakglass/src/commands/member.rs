//! `member`: memberships of a workspace or project, and bindings as they are shown.

use breakglass_api::{AddMyself, Binding, ProvisioningState, SetMember};
use breakglass_client::Assignment;
use clap::Subcommand;

use crate::args::Expiry;
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, opt, source, target, until, Table, NONE};

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

/// Runs a `member` command.
pub async fn run(ctx: &Ctx, cmd: MemberCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        MemberCommand::List { workspace, project } => {
            let items = match &project {
                Some(p) => c.all_project_members(&workspace, p).await?,
                None => c.all_workspace_members(&workspace).await?,
            };
            Ok(ctx.show_all(items, bindings))
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
            Ok(ctx.show(&c.add_myself(&workspace, &body).await?, binding))
        }
        MemberCommand::Leave { workspace } => {
            c.leave_workspace(&workspace).await?;
            Ok(ctx.done(format!("You left {workspace}.")))
        }
    }
}

/// A binding as a record, or for an assignment that became a request, a line saying what it
/// waits for and the request.
pub fn assignment_text(a: &Assignment) -> String {
    match a {
        Assignment::Binding(b) => binding(b),
        Assignment::Request(r) => {
            let mut out = format!(
                "Not assigned yet: the policy needs more approvals. Request {} is waiting for {}.\n\n",
                r.id,
                super::request::more_approvals(super::request::remaining_approvals(r))
            );
            out.push_str(&super::request::request(r));
            out
        }
    }
}

/// A binding as a record.
pub fn binding(b: &Binding) -> String {
    let mut pairs = vec![("user", b.user.clone()), ("workspace", b.workspace.clone())];
    if let Some(p) = &b.project {
        pairs.push(("project", p.clone()));
    }
    pairs.extend([("role", b.role.to_string()), ("source", source(&b.source, b.emergency))]);
    if let Some(r) = &b.request_id {
        pairs.push(("request", r.clone()));
    }
    pairs.extend([("starts", b.starts_at.clone()), ("expires", until(&b.expires_at))]);
    if let Some(r) = &b.reason {
        pairs.push(("reason", r.clone()));
    }
    pairs.push(("id", b.id.clone()));
    if !b.provisioning.is_empty() {
        pairs.push(("provisioning", provisioning(b)));
    }
    fields(&pairs)
}

/// Bindings as a table.
pub fn bindings(list: &[Binding]) -> String {
    // The column only where some access is provisioned, so lists without platforms stay as they were.
    let provisioned = list.iter().any(|b| !b.provisioning.is_empty());
    let mut headers = vec!["USER", "ROLE", "PROJECT", "SOURCE", "STARTS", "EXPIRES", "ID"];
    if provisioned {
        headers.push("PROVISIONING");
    }
    headers.push("REASON");
    let mut t = Table::new(&headers);
    for b in list {
        let mut row = vec![
            b.user.clone(),
            b.role.to_string(),
            opt(&b.project),
            source(&b.source, b.emergency),
            b.starts_at.clone(),
            until(&b.expires_at),
            b.id.clone(),
        ];
        if provisioned {
            row.push(provisioning(b));
        }
        row.push(opt(&b.reason));
        t.row(row);
    }
    t.render()
}

/// Where a binding's access stands on each platform: `pg: provisioned`, `pg: FAILED (3 attempts)`.
pub fn provisioning(b: &Binding) -> String {
    if b.provisioning.is_empty() {
        return NONE.into();
    }
    b.provisioning
        .iter()
        .map(|p| match (p.state, p.attempts) {
            (ProvisioningState::Failed, Some(n)) => format!("{}: FAILED ({n} attempts)", p.platform),
            (state, _) => format!("{}: {state}", p.platform),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

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
    }
}
