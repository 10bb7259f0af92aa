//! Accesses: API tokens and delegate accesses shared by their owner, the recipients' side
//! (received, accept, decline), and the admin area's oversight of everyone's accesses.

use breakglass_api as api;
use breakglass_core::cmd::accesses::{self, NewAccess};
use breakglass_core::delegation::{Access, AccessKind};
use breakglass_core::ident::{AccessId, Email, Name, Slug};
use breakglass_core::time::Timestamp;
use breakglass_core::DomainError;

use super::{page, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::views;

/// What a new access is to be, parsed at the edge.
#[derive(Clone, Debug)]
pub struct Create {
    /// The owner's private label.
    pub name: Name,
    /// API token or delegate access.
    pub kind: AccessKind,
    /// The one workspace it is confined to.
    pub scope: Option<Slug>,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// For an API token: it may only read.
    pub read_only: bool,
    /// For a delegate access: who it is shared with.
    pub recipients: Vec<Email>,
}

/// Parses an access id from a path; a malformed one is as unknown as a missing one.
pub fn access_id(id: &str) -> Result<AccessId, ApiError> {
    AccessId::parse(id)
        .map_err(|_| DomainError::not_found("access.not_found", format!("access {id} not found")).into())
}

/// A cursor key that sorts newest first.
fn newest_first(a: &Access) -> String {
    format!("{:020}-{}", i64::MAX - a.created_at.as_micros(), a.id)
}

/// The access as `caller` may see it (in full for its owner and the admin area's readers).
fn view(app: &App, caller: &Caller, id: AccessId) -> OpResult<api::Access> {
    let now = app.now();
    let ctx = caller.ctx(now);
    let state = app.state();
    let a = accesses::visible(&state, &ctx, id)?;
    let full = accesses::seen_in_full(&state, &ctx, a)?;
    let me = breakglass_core::authz::acting_user(&state, &ctx)?;
    Ok(views::access(&state, a, now, full, &me.email))
}

/// Creates an API token access (its secret in the answer) or a delegate access (each
/// recipient's acceptance code in the answer). Neither is ever shown again.
pub async fn create(app: &App, caller: &Caller, new: Create) -> OpResult<Written<api::CreatedAccess>> {
    let mut codes = Vec::new();
    let mut recipients = Vec::new();
    for email in new.recipients {
        let code = auth::new_secret(auth::ACCESS_CODE_PREFIX);
        recipients.push((email.clone(), auth::secret_hash(&code)));
        codes.push(api::RecipientCode { email: email.to_string(), code });
    }
    let secret = (new.kind == AccessKind::ApiToken).then(|| auth::new_secret(auth::API_TOKEN_PREFIX));
    let new = NewAccess {
        name: new.name,
        kind: new.kind,
        scope: new.scope,
        expires_at: new.expires_at,
        read_only: new.read_only,
        recipients,
        token_hash: secret.as_deref().map(auth::secret_hash),
    };
    let done = app
        .execute(caller.actor(), |state, ctx| {
            accesses::create(state, ctx, new.clone()).map(|(c, a, _)| (c, a.id))
        })
        .await?;
    let access = view(app, caller, done.value)?;
    Ok(Written { seq: done.seq, value: api::CreatedAccess { access, secret, codes } })
}

/// The accesses of `owner` (the caller's own when `None`), revoked and expired ones too, newest
/// first; another user's for the admin area's readers only.
pub fn list(
    app: &App,
    caller: &Caller,
    owner: Option<&Email>,
    ask: &PageAsk,
) -> OpResult<api::Page<api::Access>> {
    let now = app.now();
    let ctx = caller.ctx(now);
    let state = app.state();
    let owner = accesses::listed_owner(&state, &ctx, owner)?;
    Ok(page(
        state.accesses_of(owner.id),
        |a| newest_first(a),
        ask,
        |a| views::access(&state, a, now, true, &owner.email),
    )?)
}

/// The delegate accesses shared with the caller, newest first (pending ones need an answer).
pub fn received(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::Access>> {
    let now = app.now();
    breakglass_core::authz::refuse_delegate(&caller.ctx(now))?;
    let state = app.state();
    let me = state.user(caller.holder).ok_or_else(ApiError::internal)?;
    Ok(page(
        state.accesses_shared_with(&me.email),
        |a| newest_first(a),
        ask,
        |a| views::access(&state, a, now, false, &me.email),
    )?)
}

/// Every live delegate access shared with the caller that they have not answered yet, newest
/// first: what the dashboard asks them to accept or decline (never a delegate's to answer).
pub fn awaiting_answer(app: &App, caller: &Caller) -> OpResult<Vec<api::Access>> {
    let now = app.now();
    breakglass_core::authz::refuse_delegate(&caller.ctx(now))?;
    let state = app.state();
    let me = state.user(caller.holder).ok_or_else(ApiError::internal)?;
    Ok(accesses::awaiting_answer(&state, &me.email, now)
        .into_iter()
        .map(|a| views::access(&state, a, now, false, &me.email))
        .collect())
}

/// One access: for its owner, its recipients and the admin area's readers.
pub fn get(app: &App, caller: &Caller, id: AccessId) -> OpResult<api::Access> {
    breakglass_core::authz::refuse_delegate(&caller.ctx(app.now()))?;
    view(app, caller, id)
}

/// Revokes an access at once: its token stops working, its recipients stop acting as the owner.
pub async fn revoke(app: &App, caller: &Caller, id: AccessId) -> OpResult<Written<()>> {
    let done = app.execute(caller.actor(), |s, c| Ok((accesses::revoke(s, c, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}

/// Shares a delegate access with one more address; the answer holds their acceptance code.
pub async fn add_recipient(
    app: &App,
    caller: &Caller,
    id: AccessId,
    email: Email,
) -> OpResult<Written<api::RecipientCode>> {
    let code = auth::new_secret(auth::ACCESS_CODE_PREFIX);
    let hash = auth::secret_hash(&code);
    let done = app
        .execute(caller.actor(), |s, c| Ok((accesses::add_recipient(s, c, id, email.clone(), hash)?, ())))
        .await?;
    Ok(Written { seq: done.seq, value: api::RecipientCode { email: email.to_string(), code } })
}

/// Removes a recipient; a delegate acting through this access is refused from the next call.
pub async fn remove_recipient(
    app: &App,
    caller: &Caller,
    id: AccessId,
    email: &Email,
) -> OpResult<Written<()>> {
    let done =
        app.execute(caller.actor(), |s, c| Ok((accesses::remove_recipient(s, c, id, email)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}

/// Accepts a delegate access shared with the caller, with the code its owner passed on.
pub async fn accept(app: &App, caller: &Caller, id: AccessId, code: &str) -> OpResult<Written<api::Access>> {
    let code = auth::secret_hash(code.trim());
    let done = app.execute(caller.actor(), |s, c| Ok((accesses::accept(s, c, id, code)?, ()))).await?;
    Ok(Written { seq: done.seq, value: view(app, caller, id)? })
}

/// Declines a delegate access shared with the caller (or gives up one they accepted).
pub async fn decline(app: &App, caller: &Caller, id: AccessId) -> OpResult<Written<api::Access>> {
    let done = app.execute(caller.actor(), |s, c| Ok((accesses::decline(s, c, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: view(app, caller, id)? })
}
