//! `audit` and `history`: reading and verifying the audit log.

use breakglass_api::{AuditEvent, AuditQuery, BrokenLink, Checkpoint, Page, VerifyReport};
use clap::{Args, Subcommand};

use crate::commands::{Ctx, Done, Fail, Result, Status};
use crate::render::{opt, shell_quote, Table};

/// Filters and paging shared by `audit list` and `history`.
#[derive(Debug, Args)]
pub struct EventFilter {
    /// Only events of these types, comma-separated (e.g. USER_ASSIGNED,USER_REMOVED).
    #[arg(long = "type", value_name = "TYPES")]
    pub event_type: Option<String>,
    /// Only events after this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub after: Option<i64>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Events per page (1 to 1000).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Continue from the `next_cursor` of an earlier page.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Follow cursors to the last page.
    #[arg(long)]
    pub all: bool,
}

/// `audit` verbs.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events.
    List {
        /// Only events of this workspace (its projects' included).
        #[arg(long, value_name = "WS")]
        workspace: Option<String>,
        /// Only events of this project (needs --workspace).
        #[arg(long, value_name = "PROJECT", requires = "workspace")]
        project: Option<String>,
        /// Filters and paging.
        #[command(flatten)]
        filter: EventFilter,
    },
    /// Recompute the audit hash chain (exit 1 when it is broken).
    #[command(after_help = "With --checkpoints, a copy of the server's signed checkpoints file \
                            (audit-checkpoints.jsonl, shipped off the machine) is checked too: \
                            every signature, and that the server's log still holds the last \
                            checkpoint's event with the same hash, so a log truncated or rewritten \
                            after it is named as such.\n\nExample: breakglass audit verify \
                            --checkpoints /backup/audit-checkpoints.jsonl --key 3b6a…")]
    Verify {
        /// A copy of the server's checkpoints file to hold its log against.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<std::path::PathBuf>,
        /// The server's checkpoint public key (hex), as it printed at start-up: refuse
        /// checkpoints signed by any other key.
        #[arg(long, value_name = "HEX", requires = "checkpoints")]
        key: Option<String>,
    },
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Workspace identifier.
    pub workspace: String,
    /// A project of the workspace.
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Filters and paging.
    #[command(flatten)]
    pub filter: EventFilter,
}

/// Runs an `audit` command.
pub async fn run(ctx: &Ctx, cmd: AuditCommand) -> Result<Done> {
    match cmd {
        AuditCommand::List { workspace, project, filter } => {
            let all = filter.all;
            let query = AuditQuery { workspace, project, ..audit_query(filter) };
            if all {
                Ok(ctx.show_all(ctx.client.all_audit(&query).await?, events))
            } else {
                Ok(event_page(ctx, ctx.client.audit(&query).await?))
            }
        }
        AuditCommand::Verify { checkpoints, key } => verify(ctx, checkpoints, key).await,
    }
}

async fn verify(ctx: &Ctx, checkpoints: Option<std::path::PathBuf>, key: Option<String>) -> Result<Done> {
    let mut report = ctx.client.verify_audit().await?;
    if let Some(file) = checkpoints {
        let last = read_checkpoints(&file, key.as_deref())?;
        if let Some(b) = hold_against(ctx, &last).await? {
            report.ok = false;
            // The earlier of the two findings is the first broken link.
            if report.broken.as_ref().is_none_or(|r| b.seq < r.seq) {
                report.broken = Some(b);
            }
        }
    }
    let mut done = ctx.show(&report, verify_text);
    if let Some(broken) = &report.broken {
        done.status = Status::Failed(format!("audit chain broken at seq {}: {}", broken.seq, broken.reason));
    } else if !report.ok {
        done.status = Status::Failed("audit chain broken".into());
    }
    Ok(done)
}

/// Reads a checkpoints file: every line must verify, all with one key (`key` when given).
/// Returns the last checkpoint.
fn read_checkpoints(file: &std::path::Path, key: Option<&str>) -> Result<Checkpoint> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Fail::Usage(format!("--checkpoints: cannot read {}: {e}", file.display())))?;
    let mut last: Option<Checkpoint> = None;
    // A partial last line (a crash while appending) is not a checkpoint yet.
    for (n, line) in text.lines().enumerate().filter(|(_, l)| l.ends_with('}')) {
        let bad =
            |why: String| Fail::Usage(format!("--checkpoints: line {} of {}: {why}", n + 1, file.display()));
        let cp: Checkpoint = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        cp.verify().map_err(bad)?;
        let trusted = key.or(last.as_ref().map(|l| l.key.as_str()));
        if trusted.is_some_and(|k| !k.eq_ignore_ascii_case(&cp.key)) {
            return Err(bad(format!("signed by {}, not by {}", cp.key, trusted.unwrap_or_default())));
        }
        if last.as_ref().is_some_and(|l| cp.seq < l.seq) {
            return Err(bad(format!("seq {} goes back from {}", cp.seq, last.as_ref().map_or(0, |l| l.seq))));
        }
        last = Some(cp);
    }
    last.ok_or_else(|| Fail::Usage(format!("--checkpoints: {} holds no checkpoint", file.display())))
}

/// Whether the server's log still holds the checkpoint's event with its hash.
async fn hold_against(ctx: &Ctx, cp: &Checkpoint) -> Result<Option<BrokenLink>> {
    let page = ctx
        .client
        .audit(&AuditQuery { after: Some(cp.seq - 1), limit: Some(1), ..Default::default() })
        .await?;
    Ok(match page.items.first().filter(|e| e.seq == cp.seq) {
        None => {
            let head = ctx.client.health().await?.seq;
            Some(BrokenLink {
                seq: head + 1,
                reason: format!(
                    "the audit log was truncated: it ends at seq {head} but the signed checkpoint of {} records seq {}",
                    cp.at, cp.seq
                ),
            })
        }
        Some(e) if e.hash != cp.hash => Some(BrokenLink {
            seq: cp.seq,
            reason: format!(
                "the audit log was rewritten: event {} differs from the one the signed checkpoint of {} records",
                cp.seq, cp.at
            ),
        }),
        Some(_) => None,
    })
}

fn verify_text(r: &VerifyReport) -> String {
    match (&r.broken, r.ok) {
        (None, true) => format!("ok: {} events, head hash {}\n", r.events, r.head_hash),
        (Some(b), _) => format!(
            "broken at seq {}: {} ({} events checked, last good hash {})\n",
            b.seq, b.reason, r.events, r.head_hash
        ),
        (None, false) => format!("broken ({} events checked, last good hash {})\n", r.events, r.head_hash),
    }
}

/// Runs `history`: the audit events of a workspace or project.
pub async fn history(ctx: &Ctx, args: HistoryArgs) -> Result<Done> {
    let c = &ctx.client;
    let all = args.filter.all;
    let query = audit_query(args.filter);
    let ws = &args.workspace;
    if all {
        let items = c.all_history(ws, args.project.as_deref(), &query).await?;
        return Ok(ctx.show_all(items, events));
    }
    let page = match &args.project {
        Some(p) => c.project_history(ws, p, &query).await?,
        None => c.workspace_history(ws, &query).await?,
    };
    Ok(event_page(ctx, page))
}

fn audit_query(f: EventFilter) -> AuditQuery {
    AuditQuery {
        workspace: None,
        project: None,
        event_type: f.event_type,
        after: f.after,
        since: f.since,
        until: f.until,
        limit: f.limit,
        cursor: f.cursor,
    }
}

/// One page of events; in table mode a last line says how to get the next page.
fn event_page(ctx: &Ctx, page: Page<breakglass_api::AuditEvent>) -> Done {
    ctx.show(&page, |p| {
        let mut out = events(&p.items);
        if let Some(cursor) = &p.next_cursor {
            out.push_str(&format!("# more: --cursor {} (or --all)\n", shell_quote(cursor)));
        }
        out
    })
}

/// Audit events as a table, details as compact JSON in the last column.
pub fn events(list: &[AuditEvent]) -> String {
    let mut t = Table::new(&["SEQ", "TIME", "TYPE", "ACTOR", "WORKSPACE", "PROJECT", "SUBJECT", "DETAILS"]);
    for e in list {
        let actor = match &e.on_behalf_of {
            Some(who) => format!("{} for {who}", e.actor),
            None => e.actor.clone(),
        };
        t.row(vec![
            e.seq.to_string(),
            e.time.clone(),
            e.event_type.clone(),
            actor,
            opt(&e.workspace),
            opt(&e.project),
            opt(&e.subject),
            e.details.to_string(),
        ]);
    }
    t.render()
}
