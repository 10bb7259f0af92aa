//! Authorization checks, answered from the in-memory index: who may check whom is the core's
//! `check::Checker`; these operations first make sure the model has caught up with `min_seq`.

use breakglass_api as api;
use breakglass_core::check::{Checker, Decision};
use breakglass_core::DomainError;

use super::OpResult;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

/// Most checks one batch may carry.
pub const MAX_BATCH: usize = 10_000;

/// One check as asked, its text borrowed from wherever it was read.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// Whose rights (an address).
    pub user: &'a str,
    /// On which workspace.
    pub workspace: &'a str,
    /// On which project of it, if any.
    pub project: Option<&'a str>,
    /// Which role (or a higher one).
    pub role: &'a str,
}

/// Does a user hold a role (or a higher one) on a workspace or project right now, and why?
pub async fn one(
    app: &App,
    caller: &Caller,
    ask: Ask<'_>,
    min_seq: Option<i64>,
) -> OpResult<api::CheckResponse> {
    catch_up(app, min_seq).await?;
    let ctx = caller.ctx(app.now());
    let state = app.state();
    let d = Checker::new(&state, &ctx)?.decide(ask.user, ask.workspace, ask.project, ask.role)?;
    Ok(views::decision(&d))
}

/// Many checks, answered in order against one consistent state; a refusal names the check.
pub async fn batch(
    app: &App,
    caller: &Caller,
    asks: &[Ask<'_>],
    min_seq: Option<i64>,
) -> OpResult<Vec<Decision>> {
    if asks.len() > MAX_BATCH {
        return Err(DomainError::invalid(
            "input.batch_too_large",
            format!("a batch holds at most {MAX_BATCH} checks, not {}", asks.len()),
        )
        .into());
    }
    catch_up(app, min_seq).await?;
    let ctx = caller.ctx(app.now());
    let state = app.state();
    let mut checker = Checker::new(&state, &ctx)?;
    asks.iter()
        .enumerate()
        .map(|(i, a)| {
            checker.decide(a.user, a.workspace, a.project, a.role).map_err(|e| {
                let mut err = ApiError::from(e);
                err.detail = format!("checks[{i}]: {}", err.detail);
                err
            })
        })
        .collect()
}

/// How long a check with `min_seq` waits for this server to catch up before giving up.
const CATCH_UP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Makes sure the model includes audit sequence `min_seq` (a write's `Breakglass-Seq`), so a
/// check never answers from a state older than a change the client already saw committed.
async fn catch_up(app: &App, min_seq: Option<i64>) -> Result<(), ApiError> {
    let Some(wanted) = min_seq else { return Ok(()) };
    if wanted < 0 {
        return Err(
            DomainError::invalid("input.invalid_min_seq", format!("min_seq {wanted} is negative")).into()
        );
    }
    app.wait_for_seq(wanted, CATCH_UP_PATIENCE).await.map_err(|behind| match behind {
        crate::app::Behind::Unreached(head) => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "consistency.unknown_seq",
            format!("min_seq {wanted} was never reached: the audit log's head is {head}; pass a write's Breakglass-Seq"),
        ),
        crate::app::Behind::Unreachable(reached) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "consistency.behind",
            format!(
                "this server has applied changes up to seq {reached}, not yet {wanted}, and cannot reach the database; \
                 retry, or ask another replica"
            ),
        ),
    })
}
