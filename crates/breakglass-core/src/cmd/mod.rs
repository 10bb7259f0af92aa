//! Commands: plain functions from (state, context, input) to `Changes` or a `DomainError`.
//! They read the state, decide, and describe every change together with its audit events.

pub mod accesses;
pub mod admin;
pub mod invitations;
pub mod members;
pub mod messages;
pub mod platforms;
pub mod policies;
pub mod provision;
pub mod requests;
pub mod ssh;
pub mod sweep;
pub mod tags;
pub mod tokens;
pub mod users;
pub mod workspaces;

use serde_json::Value;

use crate::audit::{EventType, NewEvent};
use crate::ctx::{Actor, Ctx};
use crate::error::DomainError;
use crate::model::Target;
use crate::state::State;
use crate::time::Timestamp;

/// The name an event records for the actor: their e-mail, or `system`.
pub(crate) fn actor_name(state: &State, ctx: &Ctx) -> String {
    match (ctx.bounds.delegate, ctx.actor) {
        (Some(delegate), _) => user_name(state, delegate),
        (None, Actor::System) => "system".to_owned(),
        (None, Actor::User(id)) => user_name(state, id),
    }
}

/// Whose rights the actor used when acting through a delegation: the event's `on_behalf_of`.
pub(crate) fn on_behalf_of(state: &State, ctx: &Ctx) -> Option<String> {
    match (ctx.bounds.delegate, ctx.actor) {
        (Some(_), Actor::User(owner)) => Some(user_name(state, owner)),
        _ => None,
    }
}

fn user_name(state: &State, id: crate::ident::UserId) -> String {
    state.user(id).map_or_else(|| id.to_string(), |u| u.email.to_string())
}

/// Builds an event stamped with the context's time and actor.
pub(crate) fn event(
    state: &State,
    ctx: &Ctx,
    event_type: EventType,
    target: Option<&Target>,
    subject: Option<String>,
    details: Value,
) -> NewEvent {
    NewEvent {
        time: ctx.now,
        event_type,
        actor: actor_name(state, ctx),
        on_behalf_of: on_behalf_of(state, ctx),
        workspace: target.map(|t| t.workspace().to_string()),
        project: target.and_then(|t| t.project()).map(ToString::to_string),
        subject,
        details,
    }
}

/// Refuses an expiry that is not in the future, or that lies further than the installation's
/// `max_expiry` (a far-away expiry would make temporary access permanent in all but name).
pub(crate) fn require_future(
    state: &State,
    at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let max = state.settings().max_expiry;
    match at {
        Some(t) if t <= now => Err(DomainError::invalid(
            "input.expiry_in_past",
            format!("expires_at {t} is not in the future (now is {now})"),
        )),
        Some(t) if t > now.plus(max) => Err(DomainError::invalid(
            "input.expiry_too_far",
            format!(
                "expires_at {t} is further away than this installation allows ({max} from now, so at \
                 the latest {}); ask an admin to raise max_expiry",
                now.plus(max)
            ),
        )),
        _ => Ok(()),
    }
}

/// The RFC 3339 form of an optional instant, as JSON.
pub(crate) fn time_json(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}
