//! The audit log: filtered listing (admin area), workspace and project history (their
//! managers), and verification of the whole chain against its anchors.

use breakglass_api as api;
use breakglass_core::audit::{BrokenLink, EventType};
use breakglass_core::authz;
use breakglass_core::ident::Slug;
use breakglass_core::time::Timestamp;
use breakglass_core::DomainError;
use breakglass_store::{AuditFilter, ChainCheck};

use super::{page_limit, OpResult};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

fn filter(
    q: &api::AuditQuery,
    workspace: Option<String>,
    project: Option<String>,
) -> Result<(AuditFilter, usize), DomainError> {
    let limit = page_limit(q.limit)?;
    for s in [&workspace, &project].into_iter().flatten() {
        Slug::check(s)?;
    }
    if let Some(a) = q.after.filter(|a| *a < 0) {
        return Err(DomainError::invalid("input.invalid_after", format!("after {a} is negative")));
    }
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                DomainError::invalid("input.invalid_cursor", format!("'{c}' is not a cursor from this list"))
            })
        })
        .transpose()?;
    let types = match &q.event_type {
        None => Vec::new(),
        Some(t) => t
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| EventType::parse(s).map(|t| t.as_str().to_owned()))
            .collect::<Result<_, _>>()?,
    };
    let f = AuditFilter {
        workspace,
        project,
        types,
        after_seq: match (q.after, cursor) {
            (Some(a), Some(c)) => Some(a.max(c)),
            (a, c) => a.or(c),
        },
        since: q.since.as_deref().map(Timestamp::parse_rfc3339).transpose()?,
        until: q.until.as_deref().map(Timestamp::parse_rfc3339).transpose()?,
        limit: u32::try_from(limit + 1).unwrap_or(u32::MAX),
    };
    Ok((f, limit))
}

async fn page(app: &App, f: AuditFilter, limit: usize) -> OpResult<api::Page<api::AuditEvent>> {
    let mut events = app.store.audit(&f).await?;
    let more = events.len() > limit;
    events.truncate(limit);
    let next_cursor = if more { events.last().map(|e| e.seq.to_string()) } else { None };
    Ok(api::Page { items: events.iter().map(views::audit_event).collect(), next_cursor })
}

fn require_audit_reader(app: &App, caller: &Caller) -> Result<(), ApiError> {
    let state = app.state();
    if authz::can_read_audit(&state, &caller.ctx(app.now())) {
        Ok(())
    } else {
        Err(DomainError::forbidden("only the admin area may read the whole audit log").into())
    }
}

fn history_access(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    q: &api::AuditQuery,
) -> Result<(), ApiError> {
    if q.workspace.is_some() || q.project.is_some() {
        return Err(ApiError::bad_request(
            "input.invalid_query",
            "workspace and project come from the path here",
        ));
    }
    let ws = super::ws_slug(ws)?;
    let ctx = caller.ctx(app.now());
    let state = app.state();
    let (_, access) = authz::visible_workspace(&state, &ctx, &ws)?;
    if let Some(p) = project {
        let found = Slug::parse(p).ok().and_then(|p| state.project(&ws, &p)).is_some();
        if !found {
            return Err(DomainError::not_found(
                "project.not_found",
                format!("project '{p}' not found in workspace '{ws}'"),
            )
            .into());
        }
    }
    if !access.read_history {
        return Err(DomainError::forbidden(format!("only managers of '{ws}' may read its history")).into());
    }
    Ok(())
}

/// The audit log, filtered (admin area only; workspace managers use the history views).
pub async fn list(app: &App, caller: &Caller, q: &api::AuditQuery) -> OpResult<api::Page<api::AuditEvent>> {
    require_audit_reader(app, caller)?;
    let (f, limit) = filter(q, q.workspace.clone(), q.project.clone())?;
    page(app, f, limit).await
}

/// A workspace's history (`ws` a raw path segment): its events and those of its projects.
pub async fn workspace_history(
    app: &App,
    caller: &Caller,
    ws: &str,
    q: &api::AuditQuery,
) -> OpResult<api::Page<api::AuditEvent>> {
    history_access(app, caller, ws, None, q)?;
    let (f, limit) = filter(q, Some(ws.to_owned()), None)?;
    page(app, f, limit).await
}

/// A project's history.
pub async fn project_history(
    app: &App,
    caller: &Caller,
    ws: &str,
    p: &str,
    q: &api::AuditQuery,
) -> OpResult<api::Page<api::AuditEvent>> {
    history_access(app, caller, ws, Some(p), q)?;
    let (f, limit) = filter(q, Some(ws.to_owned()), Some(p.to_owned()))?;
    page(app, f, limit).await
}

/// Recomputes the whole hash chain and names the first broken link (admin area).
pub async fn verify(app: &App, caller: &Caller) -> OpResult<api::VerifyReport> {
    require_audit_reader(app, caller)?;
    verify_chain(app).await
}

/// Walks the chain up to the head. The head is the later of the store's and the one this server
/// committed itself, so events deleted from the end of the log while this server runs are
/// reported as missing; and the stored head is compared with its anchors outside the events
/// table (the change log, the last signed checkpoint), so a truncation is named as such even
/// after a restart. Events committed during the walk are not checked.
///
/// The store reads the events as stored (details as text, hashed as they are) and hashes them
/// on every core (`Store::verify_chain`).
pub async fn verify_chain(app: &App) -> Result<api::VerifyReport, ApiError> {
    // The anchors before the head the walk ends at (see `integrity::check`).
    let checkpoint = app.checkpoints().and_then(|c| c.last());
    let anchored = crate::integrity::check(app.store.as_ref(), checkpoint.as_ref()).await?;
    let stored = app.store.head().await?;
    let known = app.head();
    let end = stored.seq.max(known.seq);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let ChainCheck { head, broken } = app.store.verify_chain(end, threads).await?;
    // The first broken link, whether the walk or an anchor found it.
    let anchored = anchored.map(|f| BrokenLink { seq: f.seq, reason: f.reason });
    let broken = match (broken, anchored) {
        (Some(b), Some(a)) => Some(if b.seq < a.seq { b } else { a }),
        (b, a) => b.or(a),
    };
    let broken = broken.or_else(|| {
        // The chain holds, but the event this server committed last must be the one stored.
        (known.seq > 0 && head.seq == known.seq && head.hash != known.hash).then(|| BrokenLink {
            seq: known.seq,
            reason: "the stored event differs from the one this server committed".into(),
        })
    });
    Ok(api::VerifyReport {
        ok: broken.is_none(),
        events: head.seq,
        head_hash: hex::encode(head.hash),
        broken: broken.map(|b| api::BrokenLink { seq: b.seq, reason: b.reason }),
    })
}
