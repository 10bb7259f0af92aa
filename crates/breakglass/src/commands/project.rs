//! `project`: the projects of a workspace.

use breakglass_api::{CreateProject, ListQuery, Project};
use clap::Subcommand;

use crate::args::{parse_tag, parse_tag_filter, tag_map};
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, tags, Table};

/// `project` verbs.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project in a workspace.
    Create {
        /// Workspace identifier.
        workspace: String,
        /// Immutable project identifier, unique in the workspace.
        id: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// A tag (repeatable); mandatory tags with a default may be left out.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// List the projects of a workspace.
    List {
        /// Workspace identifier.
        workspace: String,
        /// Only projects carrying this tag: KEY (any value) or KEY:VALUE.
        #[arg(long, value_name = "KEY[:VALUE]", value_parser = parse_tag_filter)]
        tag: Option<String>,
    },
    /// Show one project.
    Show {
        /// Workspace identifier.
        workspace: String,
        /// Project identifier.
        id: String,
    },
}

/// Runs a `project` command.
pub async fn run(ctx: &Ctx, cmd: ProjectCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        ProjectCommand::Create { workspace, id, name, tags } => {
            let body = CreateProject { identifier: id, name, tags: tag_map(tags)? };
            Ok(ctx.show(&c.create_project(&workspace, &body).await?, project))
        }
        ProjectCommand::List { workspace, tag: None } => {
            Ok(ctx.show_all(c.all_projects(&workspace).await?, projects))
        }
        ProjectCommand::List { workspace, tag } => {
            let query = ListQuery { tag, ..Default::default() };
            Ok(ctx.show_all(c.all_projects_filtered(&workspace, &query).await?, projects))
        }
        ProjectCommand::Show { workspace, id } => Ok(ctx.show(&c.project(&workspace, &id).await?, project)),
    }
}

/// A project as a record.
pub fn project(p: &Project) -> String {
    fields(&[
        ("workspace", p.workspace.clone()),
        ("project", p.identifier.clone()),
        ("name", p.name.clone()),
        ("tags", tags(&p.tags)),
        ("created", p.created_at.clone()),
    ])
}

/// Projects as a table.
pub fn projects(list: &[Project]) -> String {
    let mut t = Table::new(&["PROJECT", "NAME", "TAGS", "CREATED"]);
    for p in list {
        t.row(vec![p.identifier.clone(), p.name.clone(), tags(&p.tags), p.created_at.clone()]);
    }
    t.render()
}
