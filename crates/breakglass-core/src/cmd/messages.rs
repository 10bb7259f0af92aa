//! Messages from the admin area to a workspace's users.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::ctx::{Actor, Ctx};
use crate::error::DomainError;
use crate::ident::{MessageId, Slug, UserId};
use crate::model::Target;
use crate::org::{Message, MessageMode};
use crate::state::State;
use crate::time::Timestamp;

/// Longest message text.
pub const MAX_TEXT: usize = 4000;

/// Sends a message to the users of a workspace (admins and employees).
pub fn send(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    text: String,
    mode: MessageMode,
) -> Result<(Changes, MessageId), DomainError> {
    let me = authz::acting_user(state, ctx)?;
    authz::visible_workspace(state, ctx, ws)?;
    if !authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        return Err(DomainError::forbidden("only admins and employees send messages to workspaces"));
    }
    let text = text.trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_TEXT || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(DomainError::invalid(
            "message.invalid_text",
            format!("a message has 1 to {MAX_TEXT} characters without control characters"),
        ));
    }
    let m = Message {
        id: MessageId(ctx.next_id()),
        workspace: ws.clone(),
        text,
        mode,
        sender: me.id,
        created_at: ctx.now,
        acks: Vec::new(),
    };
    let id = m.id;
    let target = Target::Workspace(ws.clone());
    let ev = event(
        state,
        ctx,
        EventType::MessageSent,
        Some(&target),
        None,
        json!({"message_id": id.to_string(), "mode": mode.as_str(), "text": m.text}),
    );
    Ok((Changes { changes: vec![Change::PutMessage(m)], events: vec![ev] }, id))
}

/// True when `user` is one of the message's recipients: a user of its workspace now.
pub fn is_recipient(state: &State, m: &Message, user: UserId, now: Timestamp) -> bool {
    state.has_any_binding_in(user, &m.workspace, now)
}

/// Acknowledges a message the acting user still has to read.
pub fn acknowledge(state: &State, ctx: &Ctx, id: MessageId) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let m = state
        .message(id)
        .filter(|m| ctx.bounds.covers(&m.workspace) && is_recipient(state, m, me.id, ctx.now))
        .ok_or_else(|| DomainError::not_found("message.not_found", format!("message {id} not found")))?;
    if !m.unread_by(me.id) {
        return Err(DomainError::conflict(
            "message.already_acknowledged",
            "the message is already acknowledged",
        ));
    }
    let mut acked = m.clone();
    acked.acks.push((me.id, ctx.now));
    let target = Target::Workspace(m.workspace.clone());
    let ev = event(
        state,
        ctx,
        EventType::MessageAcknowledged,
        Some(&target),
        Some(me.email.to_string()),
        json!({"message_id": id.to_string(), "mode": m.mode.as_str()}),
    );
    Ok(Changes { changes: vec![Change::PutMessage(acked)], events: vec![ev] })
}

/// The messages the acting user still has to read, newest first: only those of workspaces their
/// credential reaches (a token confined to one workspace sees no other workspace's messages).
pub fn unread<'s>(state: &'s State, ctx: &Ctx) -> Vec<&'s Message> {
    let Actor::User(user) = ctx.actor else { return Vec::new() };
    let mut v: Vec<&Message> = state
        .messages()
        .filter(|m| {
            ctx.bounds.covers(&m.workspace) && m.unread_by(user) && is_recipient(state, m, user, ctx.now)
        })
        .collect();
    v.sort_by_key(|m| (std::cmp::Reverse(m.created_at), m.id));
    v
}

/// The messages sent to a workspace, newest first, with who acknowledged them: for the admin
/// area only (a member sees a message while it is unread, never the list of who read it).
pub fn sent_to<'s>(state: &'s State, ctx: &Ctx, ws: &Slug) -> Result<Vec<&'s Message>, DomainError> {
    authz::visible_workspace(state, ctx, ws)?;
    if authz::actor_admin_role(state, ctx)? == crate::role::AdminRole::None {
        return Err(DomainError::forbidden("only the admin area sees sent messages"));
    }
    let mut v: Vec<&Message> = state.messages().filter(|m| &m.workspace == ws).collect();
    v.sort_by_key(|m| (std::cmp::Reverse(m.created_at), m.id));
    Ok(v)
}
