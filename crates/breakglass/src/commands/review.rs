//! `review`: the emergency reviews.

use breakglass_api::{CompleteReview, Review, ReviewQuery};
use clap::Subcommand;

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, opt, target, Table, EMERGENCY};

/// `review` verbs.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List emergency reviews.
    List {
        /// Which reviews.
        #[arg(long, value_name = "STATE", default_value = "open",
              value_parser = ["open", "completed", "all"])]
        state: String,
        /// Only reviews of this workspace.
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
    },
    /// Record the outcome of an emergency review (not for the access holder).
    Complete {
        /// Review id.
        id: String,
        /// Whether the emergency access was justified.
        #[arg(long, value_name = "OUTCOME", value_parser = ["justified", "not_justified"])]
        outcome: String,
        /// Notes.
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
    },
}

/// Runs a `review` command.
pub async fn run(ctx: &Ctx, cmd: ReviewCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        ReviewCommand::List { state, workspace } => {
            let query = ReviewQuery { state: Some(state), workspace, ..Default::default() };
            Ok(ctx.show_all(c.all_reviews(&query).await?, reviews))
        }
        ReviewCommand::Complete { id, outcome, notes } => {
            let body = CompleteReview { outcome, notes };
            Ok(ctx.show(&c.complete_review(&id, &body).await?, review))
        }
    }
}

/// An emergency review as a record.
pub fn review(v: &Review) -> String {
    let mut pairs = vec![
        ("review", v.id.clone()),
        ("state", v.state.to_string()),
        ("holder", v.holder.clone()),
        ("target", target(&v.workspace, v.project.as_deref())),
        ("role", v.role.to_string()),
        ("request", format!("{} {EMERGENCY}", v.request_id)),
        ("binding", v.binding_id.clone()),
        ("opened", v.opened_at.clone()),
    ];
    if let Some(o) = &v.outcome {
        pairs.push(("outcome", o.to_string()));
    }
    if let Some(n) = &v.notes {
        pairs.push(("notes", n.clone()));
    }
    if let Some(t) = &v.completed_at {
        let by = v.completed_by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        pairs.push(("completed", format!("{t}{by}")));
    }
    fields(&pairs)
}

/// Emergency reviews as a table.
pub fn reviews(list: &[Review]) -> String {
    let mut t = Table::new(&[
        "ID",
        "HOLDER",
        "TARGET",
        "ROLE",
        "OPENED",
        "STATE",
        "OUTCOME",
        "COMPLETED BY",
        "REQUEST",
    ]);
    for v in list {
        t.row(vec![
            v.id.clone(),
            v.holder.clone(),
            target(&v.workspace, v.project.as_deref()),
            v.role.to_string(),
            v.opened_at.clone(),
            v.state.to_string(),
            opt(&v.outcome),
            opt(&v.completed_by),
            v.request_id.clone(),
        ]);
    }
    t.render()
}
