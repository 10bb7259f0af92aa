//! `request`: asking for access, normally or in an emergency, and following your requests.

use breakglass_api::{CreateRequest, Request, RequestQuery, RequestState};
use clap::Subcommand;

use crate::commands::policy::{step, steps};
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, opt, target, Table, EMERGENCY, NONE, UNREACHABLE};

/// `request` verbs.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask for a role for a while; with --emergency, under the emergency policy.
    Create {
        /// Workspace identifier.
        #[arg(long, value_name = "WS")]
        workspace: String,
        /// A project of the workspace.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The role.
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// How long the access lasts once granted (`90m`, `2h`, `1d`, `PT2H`).
        #[arg(long, value_name = "DURATION")]
        duration: String,
        /// Why.
        #[arg(long, value_name = "TEXT")]
        justification: Option<String>,
        /// Emergency access: the role's emergency policy applies and the grant is reviewed.
        #[arg(long)]
        emergency: bool,
    },
    /// List your requests (with --all, every request you can see).
    List {
        /// Every request you can see, not just yours.
        #[arg(long)]
        all: bool,
        /// Only requests in this state.
        #[arg(long, value_name = "STATE",
              value_parser = ["pending", "granted", "denied", "cancelled", "lapsed"])]
        state: Option<String>,
        /// Only requests of this workspace.
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
    },
    /// Show one request.
    Show {
        /// Request id.
        id: String,
    },
    /// Withdraw your pending request.
    Cancel {
        /// Request id.
        id: String,
    },
    /// Turn your pending request into an emergency one.
    Escalate {
        /// Request id.
        id: String,
    },
}

/// Runs a `request` command.
pub async fn run(ctx: &Ctx, cmd: RequestCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        RequestCommand::Create { workspace, project, role, duration, justification, emergency } => {
            let body = CreateRequest { workspace, project, role, duration, justification, emergency };
            Ok(ctx.show(&c.create_request(&body).await?, request_text))
        }
        RequestCommand::List { all, state, workspace } => {
            let scope = Some(if all { "visible" } else { "mine" }.to_owned());
            let query = RequestQuery { scope, state, workspace, ..Default::default() };
            Ok(ctx.show_all(c.all_requests(&query).await?, requests))
        }
        RequestCommand::Show { id } => Ok(ctx.show(&c.request(&id).await?, request)),
        RequestCommand::Cancel { id } => Ok(ctx.show(&c.cancel_request(&id).await?, request_text)),
        RequestCommand::Escalate { id } => Ok(ctx.show(&c.escalate_request(&id).await?, request_text)),
    }
}

/// A request after a change: a headline saying where it stands, then the record.
pub fn request_text(r: &Request) -> String {
    let mark = if r.emergency { format!(" {}", EMERGENCY) } else { String::new() };
    let on = target(&r.workspace, r.project.as_deref());
    let headline = match r.state.as_str() {
        "granted" => format!(
            "Granted{mark}: {} holds {} on {on}{}.",
            r.user,
            r.role,
            r.duration.as_deref().map(|d| format!(" for {d}")).unwrap_or_default()
        ),
        "pending" => {
            let mut line = format!(
                "Pending{mark}: request {} is waiting for {}.",
                r.id,
                more_approvals(remaining_approvals(r))
            );
            if r.quorum_unreachable {
                line.push_str(" Too few eligible approvers remain: an admin-area override is needed.");
            }
            line
        }
        state => format!("Request {} is {state}.", r.id),
    };
    format!("{headline}\n\n{}", request(r))
}

/// Approvals a pending request still needs, over its current and later steps.
pub fn remaining_approvals(r: &Request) -> u32 {
    let Some(current) = r.current_step else { return 0 };
    (current..)
        .zip(r.policy.steps.iter().skip(current.saturating_sub(1) as usize))
        .map(|(n, s)| s.count.saturating_sub(given(r, n)))
        .sum()
}

/// Approvals given for step `n`.
fn given(r: &Request, n: u32) -> u32 {
    r.approvals.iter().filter(|a| a.step == n).count() as u32
}

/// `1 more approval`, `3 more approvals`.
pub fn more_approvals(n: u32) -> String {
    format!("{n} more approval{}", if n == 1 { "" } else { "s" })
}

/// The state of a request, and for a pending one what it waits for.
pub fn request_state(r: &Request) -> String {
    match (r.state.as_str(), r.current_step) {
        ("pending", Some(n)) => {
            let total = r.policy.steps.len();
            let at = r.policy.steps.get((n as usize).wrapping_sub(1)).map(step).unwrap_or_default();
            format!(
                "pending: waiting for {} (step {n} of {total}: {at})",
                more_approvals(remaining_approvals(r))
            )
        }
        (state, _) => state.to_owned(),
    }
}

/// An access request as a record.
pub fn request(r: &Request) -> String {
    let mut pairs = vec![("request", r.id.clone())];
    if r.emergency {
        pairs.push(("emergency", EMERGENCY.to_owned()));
    }
    pairs.push(("state", request_state(r)));
    if r.quorum_unreachable {
        pairs.push((
            "quorum",
            format!("{UNREACHABLE}: too few eligible approvers; an admin-area override is the way out"),
        ));
    }
    pairs.push(("user", r.user.clone()));
    if r.created_by != r.user {
        pairs.push(("opened by", r.created_by.clone()));
    }
    pairs.extend([
        ("target", target(&r.workspace, r.project.as_deref())),
        ("role", r.role.to_string()),
        ("duration", r.duration.clone().unwrap_or_else(|| "standing".into())),
        ("justification", opt(&r.justification)),
        ("policy", format!("{} ({}): {}", r.policy.name, r.policy.id, steps(&r.policy.steps))),
    ]);
    let approvals: Vec<String> = r
        .approvals
        .iter()
        .map(|a| {
            let how = if a.is_override { "override".to_owned() } else { format!("step {}", a.step) };
            format!("{} ({how}, {})", a.by, a.at)
        })
        .collect();
    pairs.push(("approvals", if approvals.is_empty() { NONE.into() } else { approvals.join("; ") }));
    pairs.push(("opened", r.created_at.clone()));
    if r.state == RequestState::Pending {
        pairs.push(("lapses", r.lapses_at.clone()));
    }
    if let Some(t) = &r.escalated_at {
        pairs.push(("escalated", t.clone()));
    }
    if let Some(t) = &r.decided_at {
        let by = r.decided_by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        pairs.push(("decided", format!("{t}{by}")));
    }
    if let Some(reason) = &r.deny_reason {
        pairs.push(("deny reason", reason.clone()));
    }
    if let Some(b) = &r.binding_id {
        pairs.push(("binding", b.clone()));
    }
    fields(&pairs)
}

/// The STEP, APPROVALS and QUORUM cells of a request: `current/steps`, `given/needed` for the
/// current step (all approvals once decided), and the unreachable mark.
pub fn progress(r: &Request) -> [String; 3] {
    let quorum = if r.quorum_unreachable { UNREACHABLE.into() } else { NONE.into() };
    match r.current_step.filter(|_| r.state == RequestState::Pending) {
        Some(n) => {
            let need = r.policy.steps.get((n as usize).wrapping_sub(1)).map_or(0, |s| s.count);
            [format!("{n}/{}", r.policy.steps.len()), format!("{}/{need}", given(r, n)), quorum]
        }
        None => [NONE.into(), r.approvals.len().to_string(), quorum],
    }
}

pub fn emergency_cell(emergency: bool) -> String {
    if emergency {
        EMERGENCY.into()
    } else {
        NONE.into()
    }
}

/// Access requests as a table.
pub fn requests(list: &[Request]) -> String {
    let mut t = Table::new(&[
        "ID",
        "USER",
        "TARGET",
        "ROLE",
        "DURATION",
        "STATE",
        "EMERGENCY",
        "STEP",
        "APPROVALS",
        "QUORUM",
    ]);
    for r in list {
        let [step, approvals, quorum] = progress(r);
        t.row(vec![
            r.id.clone(),
            r.user.clone(),
            target(&r.workspace, r.project.as_deref()),
            r.role.to_string(),
            r.duration.clone().unwrap_or_else(|| "standing".into()),
            r.state.to_string(),
            emergency_cell(r.emergency),
            step,
            approvals,
            quorum,
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn requests_show_progress_and_marks() {
        use crate::fixtures::request as fixture;
        let pending = fixture("r1");
        assert_eq!(remaining_approvals(&pending), 2, "one more for step 1, one for step 2");
        assert_eq!(
            request_state(&pending),
            "pending: waiting for 2 more approvals (step 1 of 2: 2:workspace_managers)"
        );
        let mut last = fixture("r2");
        last.current_step = Some(2);
        last.quorum_unreachable = true;
        last.emergency = true;
        assert_eq!(remaining_approvals(&last), 1);
        assert!(request_state(&last).starts_with("pending: waiting for 1 more approval (step 2 of 2: "));
        let mut granted = fixture("r3");
        (granted.state, granted.current_step) = ("granted".parse().unwrap(), None);
        assert_eq!(remaining_approvals(&granted), 0);

        let table = requests(&[pending.clone(), last.clone(), granted]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("EMERGENCY") && lines[0].contains("QUORUM"), "{table}");
        assert!(lines[1].contains(" 1/2 ") && !lines[1].contains(EMERGENCY), "{table}");
        assert!(lines[2].contains(EMERGENCY) && lines[2].ends_with(UNREACHABLE), "{table}");
        assert!(lines[2].contains(" 2/2 ") && lines[2].contains(" 0/1 "), "{table}");
        assert!(lines[3].contains(" granted "), "{table}");

        let record = request(&last);
        assert!(record.contains(&format!("emergency:      {EMERGENCY}")), "{record}");
        assert!(record.contains("quorum:         UNREACHABLE"), "{record}");
        assert!(record.contains("approvals:      mia@x.io (step 1, 2026-01-01T00:01:00Z)"), "{record}");
    }

    #[test]
    fn a_changed_request_says_where_it_stands() {
        let mut r = fixtures::request("r7");
        r.emergency = true;
        r.quorum_unreachable = true;
        let text = request_text(&r);
        assert!(
            text.starts_with("Pending ⚡ EMERGENCY: request r7 is waiting for 2 more approvals. Too few"),
            "{text}"
        );
        r.state = breakglass_api::RequestState::Granted;
        assert!(
            request_text(&r).starts_with("Granted ⚡ EMERGENCY: bob@x.io holds admin on acme/web for 2h.\n")
        );
    }
}
