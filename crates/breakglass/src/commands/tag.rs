//! `tag`: tag definitions, and tags on workspaces and projects.

use breakglass_api::TagDefinition;
use clap::Subcommand;

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, opt, yes_no, Table};

/// `tag` verbs.
#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Define a tag, replacing any definition with the same key (admin area).
    #[command(after_help = "Example: breakglass tag define cost-center --target workspace \
                            --pattern '[0-9]{4}' --mandatory --default 0000")]
    Define {
        /// The key (e.g. cost-center).
        key: String,
        /// What carries the tag.
        #[arg(long, value_name = "KIND", value_parser = ["workspace", "project"])]
        target: String,
        /// Only the admin area sets it.
        #[arg(long)]
        restricted: bool,
        /// An allowed value (repeatable; default: any value).
        #[arg(long = "value", value_name = "V")]
        values: Vec<String>,
        /// A regular expression the whole value must match.
        #[arg(long, value_name = "RE", conflicts_with = "values")]
        pattern: Option<String>,
        /// Every workspace or project must carry it.
        #[arg(long)]
        mandatory: bool,
        /// The value used when none is given.
        #[arg(long, value_name = "V")]
        default: Option<String>,
    },
    /// List tag definitions.
    List,
    /// Remove a tag definition.
    Remove {
        /// The key.
        key: String,
    },
    /// Set a tag on a workspace or, with --project, on a project.
    Set {
        /// Workspace identifier.
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove a tag from a workspace or, with --project, from a project (not a mandatory one).
    Unset {
        /// Workspace identifier.
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The key.
        key: String,
    },
}

/// Runs a `tag` command.
pub async fn run(ctx: &Ctx, cmd: TagCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TagCommand::Define { key, target, restricted, values, pattern, mandatory, default } => {
            let body = TagDefinition { key, target, restricted, values, pattern, mandatory, default };
            Ok(ctx.show(&c.define_tag(&body).await?, tag_definition))
        }
        TagCommand::List => Ok(ctx.show_all(c.all_tag_definitions().await?, tag_definitions)),
        TagCommand::Remove { key } => {
            c.remove_tag_definition(&key).await?;
            Ok(ctx.done(format!("Removed the definition of tag {key}.")))
        }
        TagCommand::Set { workspace, project: Some(p), key, value } => {
            Ok(ctx.show(&c.set_project_tag(&workspace, &p, &key, &value).await?, super::project::project))
        }
        TagCommand::Set { workspace, project: None, key, value } => {
            Ok(ctx.show(&c.set_workspace_tag(&workspace, &key, &value).await?, super::workspace::workspace))
        }
        TagCommand::Unset { workspace, project: Some(p), key } => {
            Ok(ctx.show(&c.remove_project_tag(&workspace, &p, &key).await?, super::project::project))
        }
        TagCommand::Unset { workspace, project: None, key } => {
            Ok(ctx.show(&c.remove_workspace_tag(&workspace, &key).await?, super::workspace::workspace))
        }
    }
}

/// What values a tag takes: the allowed list, the pattern, or any.
fn tag_values(d: &TagDefinition) -> String {
    match (&d.pattern, d.values.is_empty()) {
        (Some(p), _) => format!("matching {p}"),
        (None, false) => d.values.join(" | "),
        (None, true) => "any".into(),
    }
}

/// A tag definition as a record.
pub fn tag_definition(d: &TagDefinition) -> String {
    fields(&[
        ("tag", d.key.clone()),
        ("target", d.target.clone()),
        ("values", tag_values(d)),
        ("mandatory", yes_no(d.mandatory)),
        ("default", opt(&d.default)),
        ("restricted", if d.restricted { "yes (admin area only)" } else { "no" }.into()),
    ])
}

/// Tag definitions as a table.
pub fn tag_definitions(list: &[TagDefinition]) -> String {
    let mut t = Table::new(&["KEY", "TARGET", "VALUES", "MANDATORY", "DEFAULT", "RESTRICTED"]);
    for d in list {
        t.row(vec![
            d.key.clone(),
            d.target.clone(),
            tag_values(d),
            yes_no(d.mandatory),
            opt(&d.default),
            yes_no(d.restricted),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_definitions_show_their_values() {
        let mut d = TagDefinition {
            key: "env".into(),
            target: "project".into(),
            restricted: false,
            values: vec!["dev".into(), "prod".into()],
            pattern: None,
            mandatory: true,
            default: Some("dev".into()),
        };
        let table = tag_definitions(std::slice::from_ref(&d));
        assert_eq!(table.lines().nth(1), Some("env  project  dev | prod  yes        dev      no"), "{table}");
        (d.values, d.pattern) = (vec![], Some("[a-z]+".into()));
        assert!(tag_definition(&d).contains("values:      matching [a-z]+\n"), "{}", tag_definition(&d));
    }
}
