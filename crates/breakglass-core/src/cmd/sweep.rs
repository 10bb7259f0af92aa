//! Recording expiries. Checks already ignore a binding from its `expires_at` on; this only
//! writes down, after the fact, that it happened.

use serde_json::json;

use crate::audit::EventType;
use crate::change::{Change, Changes};
use crate::cmd::{event, time_json};
use crate::ctx::Ctx;
use crate::model::EndReason;
use crate::state::State;

/// Ends up to `max` bindings whose expiry has passed and records a `BINDING_EXPIRED` event each.
pub fn record_expiries(state: &State, ctx: &Ctx, max: usize) -> Changes {
    let mut out = Changes::default();
    for b in state.expired_unrecorded(ctx.now).into_iter().take(max) {
        let subject = state.user(b.user).map(|u| u.email.to_string());
        out.events.push(event(
            state,
            ctx,
            EventType::BindingExpired,
            Some(&b.target),
            subject,
            json!({
                "binding_id": b.id.to_string(),
                "role": b.role.as_str(),
                "source": b.source.as_str(),
                "expires_at": time_json(b.expires_at),
            }),
        ));
        out.changes.push(Change::EndBinding { id: b.id, at: ctx.now, reason: EndReason::Expired, by: None });
    }
    out
}
