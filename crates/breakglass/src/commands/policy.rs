//! `policy`: approval policies.

use breakglass_api::{Policy, PolicyBody, PolicyQuery, PolicyStep};
use clap::{Args, Subcommand};

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, opt, Table};

/// Definition flags shared by `policy create` and `policy update`.
#[derive(Debug, Args)]
pub struct PolicyFlags {
    /// An approval step, in order (repeatable): `COUNT:SET`, where SET is workspace_managers,
    /// workspace_owners, admin_area or users=EMAIL,EMAIL...; e.g. `2:workspace_managers`,
    /// `1:users=alice@x.com,bob@x.com`. No steps: requests are granted at once.
    #[arg(long = "step", value_name = "SPEC", value_parser = parse_step)]
    pub steps: Vec<breakglass_api::PolicyStep>,
    /// Longest access a request may ask for (`4h`, `30d`).
    #[arg(long, value_name = "DURATION")]
    pub max_duration: Option<String>,
    /// Requests need no justification.
    #[arg(long)]
    pub no_justification: bool,
    /// How long a request may wait for approvals (default 7d).
    #[arg(long, value_name = "DURATION")]
    pub pending_ttl: Option<String>,
}

/// `policy` verbs.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create a policy.
    #[command(after_help = "Example: breakglass policy create four-eyes --workspace acme \
                            --step 2:workspace_managers --max-duration 8h")]
    Create {
        /// Display name.
        name: String,
        /// Owning workspace (default: installation-wide, admins only).
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
        /// The definition.
        #[command(flatten)]
        flags: PolicyFlags,
    },
    /// List policies.
    List {
        /// Only this workspace's policies (and installation-wide ones).
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
    },
    /// Show one policy.
    Show {
        /// Policy id.
        id: String,
    },
    /// Change a policy: the given flags replace those parts of its current definition.
    /// Requests already open keep the version they were opened with.
    Update {
        /// Policy id.
        id: String,
        /// New display name.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The flags to change; given --step flags replace all steps.
        #[command(flatten)]
        flags: PolicyFlags,
        /// Remove every step (requests are granted at once).
        #[arg(long, conflicts_with = "steps")]
        no_steps: bool,
        /// Remove the maximum duration.
        #[arg(long, conflicts_with = "max_duration")]
        no_max_duration: bool,
        /// Requests must give a justification.
        #[arg(long, conflicts_with = "no_justification")]
        require_justification: bool,
    },
}

/// Parses a policy step `COUNT:SET` (`2:workspace_managers`, `1:users=a@x.io,b@x.io`).
pub fn parse_step(spec: &str) -> Result<breakglass_api::PolicyStep, String> {
    let usage = "expected COUNT:SET, e.g. 2:workspace_managers or 1:users=alice@x.com,bob@x.com";
    let (count, set) = spec.split_once(':').ok_or_else(|| format!("{spec:?}: {usage}"))?;
    let count: u32 = match count.trim().parse() {
        Ok(n) if n > 0 => n,
        _ => return Err(format!("{spec:?}: the count must be a positive number; {usage}")),
    };
    let set = set.trim();
    let (approvers, users) = match set.split_once('=') {
        Some((name, list)) => {
            let users: Vec<String> =
                list.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
            if name.trim() != "users" || users.is_empty() {
                return Err(format!("{spec:?}: only `users=` takes a list, of at least one e-mail"));
            }
            ("users".to_owned(), users)
        }
        None if set == "users" => return Err(format!("{spec:?}: name the users, as users=EMAIL,EMAIL")),
        None if set.is_empty() => return Err(format!("{spec:?}: {usage}")),
        None => (set.to_owned(), Vec::new()),
    };
    Ok(breakglass_api::PolicyStep { approvers, users, count })
}

/// Runs a `policy` command.
pub async fn run(ctx: &Ctx, cmd: PolicyCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        PolicyCommand::Create { name, workspace, flags } => {
            let body = PolicyBody {
                name,
                workspace,
                steps: flags.steps,
                max_duration: flags.max_duration,
                justification_required: flags.no_justification.then_some(false),
                pending_ttl: flags.pending_ttl,
            };
            Ok(ctx.show(&c.create_policy(&body).await?, policy))
        }
        PolicyCommand::List { workspace } => {
            let query = PolicyQuery { workspace, ..Default::default() };
            Ok(ctx.show_all(c.all_policies(&query).await?, policies))
        }
        PolicyCommand::Show { id } => Ok(ctx.show(&c.policy(&id).await?, policy)),
        PolicyCommand::Update { id, name, flags, no_steps, no_max_duration, require_justification } => {
            let current = c.policy(&id).await?;
            let change = PolicyChange { name, flags, no_steps, no_max_duration, require_justification };
            let body = updated_policy(current, change);
            Ok(ctx.show(&c.update_policy(&id, &body).await?, policy))
        }
    }
}

/// What `policy update` changes.
struct PolicyChange {
    name: Option<String>,
    flags: PolicyFlags,
    no_steps: bool,
    no_max_duration: bool,
    require_justification: bool,
}

/// The full definition to `PUT`: the current policy with the given changes on top.
fn updated_policy(current: Policy, change: PolicyChange) -> PolicyBody {
    let PolicyChange { name, flags, no_steps, no_max_duration, require_justification } = change;
    let steps = if no_steps {
        Vec::new()
    } else if flags.steps.is_empty() {
        current.steps
    } else {
        flags.steps
    };
    let justification_required =
        if flags.no_justification { false } else { require_justification || current.justification_required };
    PolicyBody {
        name: name.unwrap_or(current.name),
        workspace: current.workspace,
        steps,
        max_duration: if no_max_duration { None } else { flags.max_duration.or(current.max_duration) },
        justification_required: Some(justification_required),
        pending_ttl: Some(flags.pending_ttl.unwrap_or(current.pending_ttl)),
    }
}

/// A step as the command line writes it: `2:workspace_managers`, `1:users=a@x.io,b@x.io`.
pub fn step(s: &PolicyStep) -> String {
    if s.users.is_empty() {
        format!("{}:{}", s.count, s.approvers)
    } else {
        format!("{}:{}={}", s.count, s.approvers, s.users.join(","))
    }
}

/// A policy's steps in order, or that it needs none.
pub fn steps(list: &[PolicyStep]) -> String {
    if list.is_empty() {
        "none (granted at once)".into()
    } else {
        list.iter().map(step).collect::<Vec<_>>().join(" then ")
    }
}

/// A policy as a record.
pub fn policy(p: &Policy) -> String {
    fields(&[
        ("policy", p.id.clone()),
        ("name", p.name.clone()),
        ("workspace", p.workspace.clone().unwrap_or_else(|| "(installation-wide)".into())),
        ("steps", steps(&p.steps)),
        ("max duration", p.max_duration.clone().unwrap_or_else(|| "none".into())),
        ("justification", if p.justification_required { "required" } else { "optional" }.into()),
        ("pending ttl", p.pending_ttl.clone()),
        ("created", p.created_at.clone()),
        ("updated", p.updated_at.clone()),
    ])
}

/// Policies as a table.
pub fn policies(list: &[Policy]) -> String {
    let mut t =
        Table::new(&["ID", "NAME", "WORKSPACE", "STEPS", "MAX DURATION", "JUSTIFICATION", "PENDING TTL"]);
    for p in list {
        t.row(vec![
            p.id.clone(),
            p.name.clone(),
            opt(&p.workspace),
            steps(&p.steps),
            opt(&p.max_duration),
            if p.justification_required { "required" } else { "optional" }.into(),
            p.pending_ttl.clone(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn policy_steps_parse() {
        let step = |approvers: &str, users: &[&str], count| breakglass_api::PolicyStep {
            approvers: approvers.into(),
            users: users.iter().map(|u| u.to_string()).collect(),
            count,
        };
        assert_eq!(parse_step("2:workspace_managers"), Ok(step("workspace_managers", &[], 2)));
        assert_eq!(parse_step("1:admin_area"), Ok(step("admin_area", &[], 1)));
        assert_eq!(
            parse_step("1:users=alice@x.com, bob@x.com"),
            Ok(step("users", &["alice@x.com", "bob@x.com"], 1))
        );
        for bad in [
            "",
            "2",
            "x:admin_area",
            "0:admin_area",
            "-1:admin_area",
            "1:",
            "1:users",
            "1:users=",
            "1:owners=a@x.io",
        ] {
            assert!(parse_step(bad).is_err(), "{bad:?}");
        }
    }

    fn no_flags() -> PolicyFlags {
        PolicyFlags { steps: vec![], max_duration: None, no_justification: false, pending_ttl: None }
    }

    fn change(flags: PolicyFlags) -> PolicyChange {
        PolicyChange {
            name: None,
            flags,
            no_steps: false,
            no_max_duration: false,
            require_justification: false,
        }
    }

    #[test]
    fn policy_updates_apply_flags_on_the_current_definition() {
        let current = fixtures::policy(&[(2, "workspace_managers")]);
        let body = updated_policy(
            current.clone(),
            change(PolicyFlags { max_duration: Some("2h".into()), ..no_flags() }),
        );
        assert_eq!(body.name, "four eyes");
        assert_eq!(body.workspace.as_deref(), Some("acme"));
        assert_eq!(body.steps, current.steps);
        assert_eq!(body.max_duration.as_deref(), Some("2h"));
        assert_eq!((body.justification_required, body.pending_ttl.as_deref()), (Some(true), Some("7d")));

        let step = PolicyStep { approvers: "admin_area".into(), users: vec![], count: 1 };
        let body = updated_policy(
            current.clone(),
            PolicyChange {
                name: Some("renamed".into()),
                no_max_duration: true,
                ..change(PolicyFlags { steps: vec![step.clone()], no_justification: true, ..no_flags() })
            },
        );
        assert_eq!((body.name.as_str(), body.steps, body.max_duration), ("renamed", vec![step], None));
        assert_eq!(body.justification_required, Some(false));

        let mut optional = current;
        optional.justification_required = false;
        let body = updated_policy(
            optional.clone(),
            PolicyChange { no_steps: true, require_justification: true, ..change(no_flags()) },
        );
        assert!(body.steps.is_empty());
        assert_eq!(body.justification_required, Some(true));
        assert_eq!(updated_policy(optional, change(no_flags())).justification_required, Some(false));
    }

    #[test]
    fn steps_read_as_the_command_line_writes_them() {
        use crate::fixtures::policy;
        let mut p = policy(&[(2, "workspace_managers")]);
        p.steps.push(PolicyStep {
            approvers: "users".into(),
            users: vec!["a@x.io".into(), "b@x.io".into()],
            count: 1,
        });
        assert_eq!(steps(&p.steps), "2:workspace_managers then 1:users=a@x.io,b@x.io");
        assert_eq!(steps(&[]), "none (granted at once)");
    }
}
