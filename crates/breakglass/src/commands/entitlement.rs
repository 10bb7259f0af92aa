//! `entitlement`: how each role of a workspace or project may be requested.

use breakglass_api::{Entitlement, EntitlementBody, PolicyRef};
use clap::Subcommand;

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, target, Table, NONE};

/// `entitlement` verbs.
#[derive(Debug, Subcommand)]
pub enum EntitlementCommand {
    /// List the effective settings of every role of a workspace and its projects.
    List {
        /// Workspace identifier.
        workspace: String,
    },
    /// Change how a role may be requested; flags not given keep their current values.
    #[command(after_help = "Example: breakglass entitlement set acme owner --emergency \
                            --emergency-policy <ID>")]
    Set {
        /// Workspace identifier.
        workspace: String,
        /// The role: a workspace role or, with --project, a project role.
        role: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Policy for normal requests, or `default` for the installation's.
        #[arg(long, value_name = "ID|default")]
        policy: Option<String>,
        /// Policy for emergency requests.
        #[arg(long, value_name = "ID")]
        emergency_policy: Option<String>,
        /// Allow emergency requests.
        #[arg(long, conflicts_with = "no_emergency")]
        emergency: bool,
        /// Refuse emergency requests.
        #[arg(long)]
        no_emergency: bool,
    },
}

/// Runs a `entitlement` command.
pub async fn run(ctx: &Ctx, cmd: EntitlementCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        EntitlementCommand::List { workspace } => {
            Ok(ctx.show_all(c.all_entitlements(&workspace).await?, entitlements))
        }
        EntitlementCommand::Set {
            workspace,
            role,
            project,
            policy,
            emergency_policy,
            emergency,
            no_emergency,
        } => {
            let all = c.all_entitlements(&workspace).await?;
            let current = all.iter().find(|e| e.role.as_str() == role && e.project == project);
            let change = EntitlementChange {
                policy,
                emergency_policy,
                emergency: match (emergency, no_emergency) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let body = updated_entitlement(current, change);
            let set = match &project {
                Some(p) => c.set_project_entitlement(&workspace, p, &role, &body).await?,
                None => c.set_workspace_entitlement(&workspace, &role, &body).await?,
            };
            Ok(ctx.show(&set, entitlement))
        }
    }
}

/// What `entitlement set` changes.
struct EntitlementChange {
    /// A policy id, or `default`.
    policy: Option<String>,
    emergency_policy: Option<String>,
    emergency: Option<bool>,
}

/// Id of the installation's default policy, as the server names it.
const DEFAULT_POLICY_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The settings to `PUT`: the current effective ones (none set when the role is not listed)
/// with the given changes on top.
fn updated_entitlement(current: Option<&Entitlement>, change: EntitlementChange) -> EntitlementBody {
    // A listed request policy counts as set unless the installation default applies.
    let current_policy = current
        .filter(|e| !e.default && e.request_policy.id != DEFAULT_POLICY_ID)
        .map(|e| e.request_policy.id.clone());
    let request_policy = match change.policy {
        Some(p) if p.eq_ignore_ascii_case("default") => None,
        Some(p) => Some(p),
        None => current_policy,
    };
    EntitlementBody {
        request_policy,
        emergency_enabled: change.emergency.unwrap_or(current.is_some_and(|e| e.emergency_enabled)),
        emergency_policy: change
            .emergency_policy
            .or_else(|| current.and_then(|e| e.emergency_policy.as_ref()).map(|p| p.id.clone())),
    }
}

/// `name (id)`.
fn policy_ref(p: &PolicyRef) -> String {
    format!("{} ({})", p.name, p.id)
}

/// Whether emergency requests are allowed, marked when they are.
fn emergency_allowed(e: &Entitlement) -> String {
    if e.emergency_enabled {
        "⚡ allowed".into()
    } else {
        "no".into()
    }
}

/// An entitlement as a record.
pub fn entitlement(e: &Entitlement) -> String {
    fields(&[
        ("target", target(&e.workspace, e.project.as_deref())),
        ("role", e.role.to_string()),
        ("request policy", policy_ref(&e.request_policy)),
        ("emergency", emergency_allowed(e)),
        ("emergency policy", e.emergency_policy.as_ref().map(policy_ref).unwrap_or_else(|| NONE.into())),
        ("settings", if e.default { "installation default" } else { "set" }.into()),
    ])
}

/// Entitlements as a table.
pub fn entitlements(list: &[Entitlement]) -> String {
    let mut t =
        Table::new(&["TARGET", "ROLE", "REQUEST POLICY", "EMERGENCY", "EMERGENCY POLICY", "SETTINGS"]);
    for e in list {
        t.row(vec![
            target(&e.workspace, e.project.as_deref()),
            e.role.to_string(),
            policy_ref(&e.request_policy),
            emergency_allowed(e),
            e.emergency_policy.as_ref().map(policy_ref).unwrap_or_else(|| NONE.into()),
            if e.default { "default" } else { "set" }.into(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlement_settings_apply_flags_on_the_effective_ones() {
        let pref = |id: &str| PolicyRef { id: id.into(), name: id.into() };
        let default = Entitlement {
            workspace: "acme".into(),
            project: None,
            role: breakglass_api::Role::Owner,
            request_policy: pref(DEFAULT_POLICY_ID),
            emergency_enabled: false,
            emergency_policy: None,
            default: true,
        };
        let keep = || EntitlementChange { policy: None, emergency_policy: None, emergency: None };
        assert_eq!(updated_entitlement(Some(&default), keep()), EntitlementBody::default());
        assert_eq!(updated_entitlement(None, keep()), EntitlementBody::default());

        let body = updated_entitlement(
            Some(&default),
            EntitlementChange { emergency_policy: Some("e1".into()), emergency: Some(true), ..keep() },
        );
        assert_eq!(
            body,
            EntitlementBody {
                request_policy: None,
                emergency_enabled: true,
                emergency_policy: Some("e1".into())
            }
        );

        let set = Entitlement {
            request_policy: pref("p1"),
            emergency_enabled: true,
            emergency_policy: Some(pref("e1")),
            default: false,
            ..default.clone()
        };
        let same = EntitlementBody {
            request_policy: Some("p1".into()),
            emergency_enabled: true,
            emergency_policy: Some("e1".into()),
        };
        assert_eq!(updated_entitlement(Some(&set), keep()), same);
        let body = updated_entitlement(
            Some(&set),
            EntitlementChange { policy: Some("default".into()), emergency: Some(false), ..keep() },
        );
        assert_eq!(body, EntitlementBody { request_policy: None, emergency_enabled: false, ..same.clone() });
        let only_emergency_set = Entitlement { request_policy: pref(DEFAULT_POLICY_ID), ..set };
        assert_eq!(updated_entitlement(Some(&only_emergency_set), keep()).request_policy, None);
    }
}
