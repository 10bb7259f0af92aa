//! `platform`: where projects run.

use breakglass_api::{Platform, RegisterPlatform};
use clap::Subcommand;

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, Table};

/// `platform` verbs.
#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Register a platform (admins).
    Register {
        /// Immutable identifier (lowercase letters, digits, dashes).
        id: String,
        /// What kind of place it is, e.g. aws, kubernetes, postgres.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// List the registered platforms.
    List,
}

/// Runs a `platform` command.
pub async fn run(ctx: &Ctx, cmd: PlatformCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        PlatformCommand::Register { id, kind, name } => {
            let body = RegisterPlatform { identifier: id, kind, name };
            Ok(ctx.show(&c.register_platform(&body).await?, platform))
        }
        PlatformCommand::List => Ok(ctx.show_all(c.all_platforms().await?, platforms)),
    }
}

/// A platform as a record.
pub fn platform(p: &Platform) -> String {
    fields(&[
        ("platform", p.identifier.clone()),
        ("kind", p.kind.to_string()),
        ("name", p.name.clone()),
        ("created", p.created_at.clone()),
    ])
}

/// Platforms as a table.
pub fn platforms(list: &[Platform]) -> String {
    let mut t = Table::new(&["PLATFORM", "KIND", "NAME", "CREATED"]);
    for p in list {
        t.row(vec![p.identifier.clone(), p.kind.to_string(), p.name.clone(), p.created_at.clone()]);
    }
    t.render()
}
