//! `service-user`: credentials for a project's tenant.

use breakglass_api::{CreatedServiceUser, ServiceUser};
use clap::Subcommand;

use crate::commands::tenant::TenantRef;
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, target, Table};

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
        /// The project role it holds on the tenant: reader, user (default) or admin.
        #[arg(long, value_name = "ROLE", value_parser = ["reader", "user", "admin"])]
        role: Option<String>,
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

/// Runs a `service-user` command.
pub async fn run(ctx: &Ctx, cmd: ServiceUserCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        ServiceUserCommand::Create { tenant: t, name, role } => {
            let (ws, p) = (&t.project.workspace, &t.project.project);
            let body = breakglass_api::CreateServiceUser { name, role };
            let created = c.create_service_user(ws, p, &t.platform, &body).await?;
            Ok(ctx.show(&created, created_service_user_text))
        }
        ServiceUserCommand::List { tenant: t } => {
            let (ws, p) = (&t.project.workspace, &t.project.project);
            Ok(ctx.show_all(c.all_service_users(ws, p, &t.platform).await?, service_users))
        }
        ServiceUserCommand::Delete { tenant: t, id } => {
            c.delete_service_user(&t.project.workspace, &t.project.project, &t.platform, &id).await?;
            Ok(ctx.done(format!("Deleted service user {id}.")))
        }
    }
}

/// A new service user: the record, then its secret, which is shown only this once (and is the
/// password of its platform login, where it has one).
fn created_service_user_text(u: &CreatedServiceUser) -> String {
    let login = match &u.service_user.login {
        Some(login) => format!(" (it is also the password of the platform login {login})"),
        None => String::new(),
    };
    format!(
        "{}\nIts secret is shown only this once and cannot be shown again; store it now{login}:\n\n    {}\n",
        service_user(&u.service_user),
        u.secret
    )
}

/// A service user as a record (never with a secret).
pub fn service_user(u: &ServiceUser) -> String {
    let mut pairs = vec![
        ("service user", u.id.clone()),
        ("name", u.name.clone()),
        ("client id", u.client_id.clone()),
        ("role", u.role.clone()),
    ];
    if let Some(login) = &u.login {
        pairs.push(("platform login", login.clone()));
    }
    pairs.extend([
        ("tenant", format!("{} on {}", target(&u.workspace, Some(&u.project)), u.platform)),
        ("created by", u.created_by.clone()),
        ("created", u.created_at.clone()),
    ]);
    fields(&pairs)
}

/// Service users as a table.
pub fn service_users(list: &[ServiceUser]) -> String {
    let mut t = Table::new(&["ID", "NAME", "CLIENT ID", "PLATFORM", "CREATED BY", "CREATED"]);
    for u in list {
        t.row(vec![
            u.id.clone(),
            u.name.clone(),
            u.client_id.clone(),
            u.platform.clone(),
            u.created_by.clone(),
            u.created_at.clone(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

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
                role: "user".into(),
                login: None,
                created_by: "dev@x.io".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            secret: "bgu_s3cret".into(),
        };
        let text = created_service_user_text(&created);
        assert!(text.starts_with(&service_user(&created.service_user)), "{text}");
        assert_eq!(text.matches("bgu_s3cret").count(), 1, "{text}");
        assert!(text.contains("shown only this once and cannot be shown again"), "{text}");
        assert!(text.ends_with("\n\n    bgu_s3cret\n"), "{text}");
        assert!(service_user(&created.service_user).contains("svc-0123"));
    }
}
