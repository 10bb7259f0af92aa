//! Messages to a workspace's users: sending them (admin area), the list of those sent, the
//! caller's unread ones, and acknowledging one.

use breakglass_api as api;
use breakglass_core::cmd::messages;
use breakglass_core::ident::MessageId;
use breakglass_core::org::{Message, MessageMode};
use breakglass_core::DomainError;

use super::{page, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

/// Parses a message id from a path; a malformed one is as unknown as a missing one.
pub fn message_id(id: &str) -> Result<MessageId, ApiError> {
    MessageId::parse(id)
        .map_err(|_| DomainError::not_found("message.not_found", format!("message {id} not found")).into())
}

/// A cursor key that sorts newest first and never shifts when messages are added.
fn newest_first(m: &Message) -> String {
    format!("{:020}-{}", i64::MAX - m.created_at.as_micros(), m.id)
}

/// Sends a message to a workspace's users (admin area); the workspace and mode as given.
pub async fn send(
    app: &App,
    caller: &Caller,
    ws: &str,
    text: String,
    mode: &str,
) -> OpResult<Written<api::Message>> {
    let ws = super::ws_slug(ws)?;
    let mode = MessageMode::parse(mode)?;
    let done = app.execute(caller.actor(), |s, c| messages::send(s, c, &ws, text.clone(), mode)).await?;
    let state = app.state();
    let m = state.message(done.value).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::message(&state, m, true) })
}

/// The messages sent to a workspace, newest first, with who acknowledged them (admin area).
pub fn sent(app: &App, caller: &Caller, ws: &str, ask: &PageAsk) -> OpResult<api::Page<api::Message>> {
    let ws = super::ws_slug(ws)?;
    let state = app.state();
    let found = messages::sent_to(&state, &caller.ctx(app.now()), &ws)?;
    Ok(page(found, |m| newest_first(m), ask, |m| views::message(&state, m, true))?)
}

/// The caller's unread messages, newest first.
pub fn unread(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::Message>> {
    let state = app.state();
    let found = messages::unread(&state, &caller.ctx(app.now()));
    Ok(page(found, |m| newest_first(m), ask, |m| views::message(&state, m, false))?)
}

/// Acknowledges a message addressed to the caller.
pub async fn acknowledge(app: &App, caller: &Caller, id: MessageId) -> OpResult<Written<()>> {
    let done = app.execute(caller.actor(), |s, c| Ok((messages::acknowledge(s, c, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}
