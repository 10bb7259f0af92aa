//! `task`: requests waiting for your approval.

use breakglass_api::Task;
use clap::Subcommand;

use crate::commands::request::{emergency_cell, progress, request_text};
use crate::commands::{Ctx, Done, Result};
use crate::render::{opt, target, Table, NONE};

/// `task` verbs.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List the pending requests you may act on, emergency ones first.
    List,
    /// Approve a request's current step.
    Approve {
        /// Request id.
        id: String,
        /// As an admin-area admin or employee: grant it at once, recorded as an override.
        #[arg(long = "override")]
        is_override: bool,
    },
    /// Deny a request.
    Deny {
        /// Request id.
        id: String,
        /// Why, shown to the requester.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Escalate your own pending request to emergency (as `request escalate`).
    Escalate {
        /// Request id.
        id: String,
    },
}

/// Runs a `task` command.
pub async fn run(ctx: &Ctx, cmd: TaskCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TaskCommand::List => {
            let mut list = c.all_tasks().await?;
            list.sort_by_key(|t| !t.request.emergency);
            Ok(ctx.show_all(list, tasks))
        }
        TaskCommand::Approve { id, is_override } => {
            Ok(ctx.show(&c.approve_request(&id, is_override).await?, request_text))
        }
        TaskCommand::Deny { id, reason } => Ok(ctx.show(&c.deny_request(&id, &reason).await?, request_text)),
        TaskCommand::Escalate { id } => Ok(ctx.show(&c.escalate_request(&id).await?, request_text)),
    }
}

/// Tasks as a table, emergency ones first (the server's order otherwise).
pub fn tasks(list: &[Task]) -> String {
    let mut sorted: Vec<&Task> = list.iter().collect();
    sorted.sort_by_key(|t| !t.request.emergency);
    let mut t = Table::new(&[
        "ID",
        "USER",
        "TARGET",
        "ROLE",
        "DURATION",
        "EMERGENCY",
        "STEP",
        "APPROVALS",
        "QUORUM",
        "YOU MAY",
        "JUSTIFICATION",
    ]);
    for task in sorted {
        let r = &task.request;
        let [step, approvals, quorum] = progress(r);
        let you = if task.can_approve {
            "approve"
        } else if task.override_only {
            "override"
        } else {
            NONE
        };
        t.row(vec![
            r.id.clone(),
            r.user.clone(),
            target(&r.workspace, r.project.as_deref()),
            r.role.to_string(),
            r.duration.clone().unwrap_or_else(|| "standing".into()),
            emergency_cell(r.emergency),
            step,
            approvals,
            quorum,
            you.into(),
            opt(&r.justification),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_api::Request;

    use crate::fixtures;
    use crate::render::EMERGENCY;

    #[test]
    fn tasks_list_emergency_first_with_what_you_may_do() {
        let pending = fixtures::request("r1");
        let mut last = fixtures::request("r2");
        (last.current_step, last.quorum_unreachable, last.emergency) = (Some(2), true, true);
        let task = |r: Request| Task { request: r, can_approve: false, override_only: true };
        let table = tasks(&[task(pending), task(last)]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].starts_with("r2 ") && lines[1].contains(EMERGENCY), "emergency first:\n{table}");
        assert!(lines[1].contains(" override "), "{table}");
    }
}
