//! `workspace`: creating, registering, listing and running workspaces.

use breakglass_api::{
    CreateWorkspace, ListQuery, RegisterWorkspace, UpdateWorkspace, Workspace, WorkspaceStatus,
};
use clap::Subcommand;

use crate::args::{parse_tag, parse_tag_filter, tag_map};
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, tags, Table};

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

/// Parses an initial member `EMAIL=ROLE`.
pub fn parse_member(spec: &str) -> Result<breakglass_api::InitialMember, String> {
    match spec.rsplit_once('=') {
        Some((email, role)) if !email.trim().is_empty() && !role.trim().is_empty() => {
            Ok(breakglass_api::InitialMember { email: email.trim().to_owned(), role: role.trim().to_owned() })
        }
        _ => Err(format!("{spec:?}: expected EMAIL=ROLE, e.g. alice@example.com=manager")),
    }
}

/// Runs a `workspace` command.
pub async fn run(ctx: &Ctx, cmd: WorkspaceCommand) -> Result<Done> {
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
            Ok(ctx.show(&c.create_workspace(&body).await?, workspace))
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
            Ok(ctx.show_all(items, workspaces))
        }
        WorkspaceCommand::Pending => {
            let items = c.all_workspaces_filtered(&list(Some(PENDING_APPROVAL), None)).await?;
            Ok(ctx.show_all(items, workspaces))
        }
        WorkspaceCommand::Show { id } => Ok(ctx.show(&c.workspace(&id).await?, workspace)),
        WorkspaceCommand::Rename { id, name } => {
            let body = UpdateWorkspace { name: Some(name), identifier: None };
            Ok(ctx.show(&c.update_workspace(&id, &body).await?, workspace))
        }
        WorkspaceCommand::Approve { id, reason } => {
            Ok(ctx.show(&c.approve_workspace(&id, reason.as_deref()).await?, workspace))
        }
        WorkspaceCommand::Reject { id, reason } => {
            Ok(ctx.show(&c.reject_workspace(&id, reason.as_deref()).await?, workspace))
        }
        WorkspaceCommand::Disable { id, reason } => {
            Ok(ctx.show(&c.disable_workspace(&id, reason.as_deref()).await?, workspace))
        }
        WorkspaceCommand::Enable { id, reason } => {
            Ok(ctx.show(&c.enable_workspace(&id, reason.as_deref()).await?, workspace))
        }
        WorkspaceCommand::Quota { id, quota } => Ok(ctx.show(&c.set_quota(&id, quota).await?, workspace)),
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
    format!("{headline}\n\n{}", workspace(w))
}

/// A workspace as a record.
pub fn workspace(w: &Workspace) -> String {
    fields(&[
        ("workspace", w.identifier.clone()),
        ("name", w.name.clone()),
        ("status", w.status.to_string()),
        ("projects", format!("{} of {}", w.project_count, w.project_quota)),
        ("open reviews", open_reviews(w.open_reviews)),
        ("tags", tags(&w.tags)),
        ("created", w.created_at.clone()),
    ])
}

/// A count of open emergency reviews, marked when there are any.
fn open_reviews(n: u32) -> String {
    if n == 0 {
        "0".into()
    } else {
        format!("{n} ⚡")
    }
}

/// Workspaces as a table.
pub fn workspaces(list: &[Workspace]) -> String {
    let mut t = Table::new(&["WORKSPACE", "NAME", "STATUS", "PROJECTS", "OPEN REVIEWS", "TAGS", "CREATED"]);
    for w in list {
        t.row(vec![
            w.identifier.clone(),
            w.name.clone(),
            w.status.to_string(),
            format!("{}/{}", w.project_count, w.project_quota),
            open_reviews(w.open_reviews),
            tags(&w.tags),
            w.created_at.clone(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn a_registration_says_whether_it_waits_or_is_ready() {
        let mut w = fixtures::workspace();
        w.status = WorkspaceStatus::PendingApproval;
        assert!(
            registered_text(&w).starts_with("Registered acme: it waits for approval by the admin area.\n\n")
        );
        w.status = "active".parse().unwrap();
        assert!(registered_text(&w).starts_with("Registered acme: it is active and you own it.\n\n"));
    }

    #[test]
    fn workspaces_show_status_tags_and_projects() {
        let mut w = fixtures::workspace();
        w.tags.insert("env".into(), "prod".into());
        let table = workspaces(std::slice::from_ref(&w));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains(" STATUS ") && lines[0].contains(" TAGS "), "{table}");
        assert!(lines[1].contains(" active ") && lines[1].contains(" cost-center=42, env=prod "), "{table}");
        assert!(workspace(&w).contains("tags:          cost-center=42, env=prod\n"), "{}", workspace(&w));
        w.tags.clear();
        assert!(workspace(&w).contains("tags:          -\n"));
    }

    #[test]
    fn initial_members_parse_as_email_and_role() {
        let member = parse_member("a=b@x.io=manager").unwrap();
        assert_eq!((member.email.as_str(), member.role.as_str()), ("a=b@x.io", "manager"));
        for bad in ["bob@x.io", "bob@x.io=", "=owner"] {
            assert!(parse_member(bad).is_err(), "{bad:?}");
        }
    }
}
