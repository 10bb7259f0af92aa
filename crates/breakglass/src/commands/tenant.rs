//! `tenant`: a project's footprint on a platform.

use breakglass_api::{CreateTenant, Tenant};
use clap::{Args, Subcommand};

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, target, Table};

/// The project a tenant or service user command is about.
#[derive(Debug, Args)]
pub struct ProjectRef {
    /// Workspace identifier.
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: String,
    /// Project identifier.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
}

/// The tenant a service user command is about: a project and a platform.
#[derive(Debug, Args)]
pub struct TenantRef {
    /// The project.
    #[command(flatten)]
    pub project: ProjectRef,
    /// Platform identifier.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: String,
}

/// `tenant` verbs.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Give a project a tenant on a platform (workspace managers and the admin area).
    Create {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
        /// How the platform names the tenant: an account id, a namespace, a database.
        #[arg(long, value_name = "ID")]
        external_id: String,
    },
    /// List a project's tenants.
    List {
        /// The project.
        #[command(flatten)]
        project: ProjectRef,
    },
}

/// Runs a `tenant` command.
pub async fn run(ctx: &Ctx, cmd: TenantCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TenantCommand::Create { tenant: t, external_id } => {
            let body = CreateTenant { platform: t.platform, external_id };
            let created = c.create_tenant(&t.project.workspace, &t.project.project, &body).await?;
            Ok(ctx.show(&created, tenant))
        }
        TenantCommand::List { project: p } => {
            Ok(ctx.show_all(c.all_tenants(&p.workspace, &p.project).await?, tenants))
        }
    }
}

/// A tenant as a record.
pub fn tenant(t: &Tenant) -> String {
    fields(&[
        ("project", target(&t.workspace, Some(&t.project))),
        ("platform", format!("{} ({})", t.platform, t.platform_kind)),
        ("external id", t.external_id.clone()),
        ("created by", t.created_by.clone()),
        ("created", t.created_at.clone()),
    ])
}

/// Tenants as a table.
pub fn tenants(list: &[Tenant]) -> String {
    let mut t = Table::new(&["PLATFORM", "KIND", "EXTERNAL ID", "PROJECT", "CREATED BY", "CREATED"]);
    for x in list {
        t.row(vec![
            x.platform.clone(),
            x.platform_kind.clone(),
            x.external_id.clone(),
            target(&x.workspace, Some(&x.project)),
            x.created_by.clone(),
            x.created_at.clone(),
        ]);
    }
    t.render()
}
