//! The sweeper. Checks never depend on it: a binding stops counting at its `expires_at` by
//! comparison, and a request past its pending time can no longer be approved. The sweeper only
//! records, a moment later, that the expiry or lapse happened.

use std::sync::Arc;
use std::time::Duration;

use breakglass_core::cmd::{requests, sweep};
use breakglass_core::Actor;

use crate::app::App;

/// Most expiries recorded in one transaction, so that a backlog cannot hold the writer long.
const BATCH: usize = 500;

/// Follows changes other processes commit to the same database, every `every`, forever.
pub async fn follow(app: Arc<App>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.sync().await {
            Ok(true) => tracing::debug!(seq = app.head().seq, "caught up with changes from another process"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the database's changes; answering from the index")
            }
        }
    }
}

/// Writes a signed checkpoint of the audit chain's head every `every` when it moved, forever.
pub async fn checkpoints(app: Arc<App>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let app = app.clone();
        // Signing and fsync off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || app.checkpoint()).await;
    }
}

/// Records for good the revocation of SSH certificates whose holder lost a role they carry,
/// after every commit (and every second), so that access given back later does not revive
/// them. The revocation list names them from the commit on either way.
pub async fn ssh_revocations(app: Arc<App>) {
    let mut head = app.watch_head();
    loop {
        let _ = tokio::time::timeout(Duration::from_secs(1), head.changed()).await;
        let pending = !breakglass_core::ssh::unrecorded_revocations(&app.state(), app.now()).is_empty();
        if !pending {
            continue;
        }
        let recorded = app
            .execute(Actor::System, |s, c| Ok((breakglass_core::cmd::ssh::record_revocations(s, c), ())))
            .await;
        if let Err(e) = recorded {
            tracing::warn!(code = e.code, detail = %e.detail, "cannot record SSH certificate revocations");
        }
    }
}

/// Records expiries every `every`, forever.
pub async fn run(app: Arc<App>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep_once(&app).await {
            tracing::warn!(code = e.code, detail = %e.detail, "sweeper could not record expiries");
        }
        app.prune_tokens();
        end_lockouts(&app).await;
        if let Err(e) = app.flush_token_use().await {
            tracing::warn!(error = %e, "cannot record token use");
        }
    }
}

/// Ends the sign-in lock-outs that are over and records each ending; returns how many.
pub async fn end_lockouts(app: &App) -> usize {
    let ended = app.throttle.sweep();
    let n = ended.len();
    app.record_lockouts(ended).await;
    n
}

/// Records every expiry and lapse that is due now, in batches. Returns how many were recorded.
pub async fn sweep_once(app: &App) -> Result<usize, crate::error::ApiError> {
    Ok(record_expiries(app).await? + record_lapses(app).await?)
}

async fn record_lapses(app: &App) -> Result<usize, crate::error::ApiError> {
    let mut total = 0;
    loop {
        let now = app.now();
        if !app.state().pending_requests().any(|r| r.lapses_at <= now) {
            return Ok(total);
        }
        let done = app
            .execute(Actor::System, |state, ctx| {
                let changes = requests::record_lapses(state, ctx, BATCH);
                let n = changes.events.len();
                Ok((changes, n))
            })
            .await?;
        total += done.value;
        if done.value < BATCH {
            return Ok(total);
        }
    }
}

async fn record_expiries(app: &App) -> Result<usize, crate::error::ApiError> {
    let mut total = 0;
    loop {
        if !app.state().has_expired_unrecorded(app.now()) {
            return Ok(total);
        }
        let done = app
            .execute(Actor::System, |state, ctx| {
                let changes = sweep::record_expiries(state, ctx, BATCH);
                let n = changes.events.len();
                Ok((changes, n))
            })
            .await?;
        total += done.value;
        if done.value < BATCH {
            return Ok(total);
        }
    }
}
