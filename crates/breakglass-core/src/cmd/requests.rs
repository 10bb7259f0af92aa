//! Access requests: open, approve (or override), deny, cancel, escalate to emergency, and the
//! grant that follows the last approval. Emergency grants open a review; reviews are completed
//! by someone other than the holder.
//!
//! Rules that hold on every path: the user a request is for never approves it; a person counts
//! once per request; only people in the current step's approver set approve it (or an admin-area
//! override); a request leaves `pending` once and never changes again.

use serde_json::{json, Value};

use crate::access::{
    current_step, in_approver_set, quorum_unreachable, AccessRequest, Approval, ApproverSet, Policy,
    RequestState, Review, ReviewOutcome,
};
use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::policies::{describe, effective_policy};
use crate::cmd::workspaces::require_active;
use crate::cmd::{event, time_json};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{BindingId, RequestId, ReviewId, UserId};
use crate::model::{Binding, BindingSource, Target, User};
use crate::role::{AdminRole, Role};
use crate::state::State;
use crate::time::{Span, Timestamp};

/// Longest justification, deny reason or review note.
pub const MAX_TEXT: usize = 2000;

/// A user's request for an entitlement.
#[derive(Clone, Debug)]
pub struct NewRequest {
    /// Where.
    pub target: Target,
    /// Which role.
    pub role: Role,
    /// How long, counted from the grant.
    pub duration: Span,
    /// Why.
    pub justification: Option<String>,
    /// Use the entitlement's emergency policy.
    pub emergency: bool,
}

/// Opens a request for the acting user. A policy without steps grants it at once.
pub fn create_request(
    state: &State,
    ctx: &Ctx,
    new: NewRequest,
) -> Result<(Changes, RequestId), DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let (ws, _) = authz::visible_workspace(state, ctx, new.target.workspace())?;
    // Seeing a workspace from the admin area (auditors) is no reason to hold access in it:
    // requesters are its users, or admins and employees.
    if !admin_area(state, ctx)? && !state.has_any_binding_in(me.id, &ws.id, ctx.now) {
        return Err(DomainError::forbidden(format!(
            "only users of '{}' (or admins and employees) request access in it",
            ws.id
        )));
    }
    require_target(state, &new.target, new.role)?;
    require_active(ws)?;
    let policy = effective_policy(state, &new.target, new.role, new.emergency)?;
    open(
        state,
        ctx,
        Opening {
            user: me,
            created_by: me.id,
            target: new.target,
            role: new.role,
            duration: Some(new.duration),
            justification: new.justification,
            emergency: new.emergency,
            policy,
            first_approval: false,
        },
    )
}

/// What `open` needs to open a request.
pub(crate) struct Opening<'a> {
    pub(crate) user: &'a User,
    pub(crate) created_by: UserId,
    pub(crate) target: Target,
    pub(crate) role: Role,
    pub(crate) duration: Option<Span>,
    pub(crate) justification: Option<String>,
    pub(crate) emergency: bool,
    pub(crate) policy: Policy,
    /// The creator's approval comes with it (a manager's direct assignment).
    pub(crate) first_approval: bool,
}

/// Opens a request after the caller checked visibility and the target; grants it at once when
/// nothing is left to approve.
pub(crate) fn open(state: &State, ctx: &Ctx, o: Opening<'_>) -> Result<(Changes, RequestId), DomainError> {
    check_duration(&o.policy, o.duration, o.created_by == o.user.id)?;
    let max = state.settings().max_expiry;
    if let Some(d) = o.duration.filter(|d| *d > max) {
        return Err(DomainError::invalid(
            "input.expiry_too_far",
            format!("{d} is longer than this installation allows for any access ({max}); ask an admin to raise max_expiry"),
        ));
    }
    let justification = clean_text(o.justification, "justification")?;
    if o.policy.justification_required && justification.is_none() {
        return Err(DomainError::invalid(
            "request.justification_required",
            format!("policy '{}' requires a justification", o.policy.name),
        ));
    }
    if let Some(open) = state
        .pending_requests()
        .find(|r| r.user == o.user.id && r.target == o.target && r.role == o.role && r.is_open(ctx.now))
    {
        return Err(DomainError::conflict(
            "request.duplicate",
            format!(
                "request {} for {} on '{}' is already open; escalate or cancel it instead",
                open.id, o.role, o.target
            ),
        ));
    }
    let mut req = AccessRequest {
        id: RequestId(ctx.next_id()),
        user: o.user.id,
        created_by: o.created_by,
        requested_via: ctx.bounds.delegate,
        target: o.target,
        role: o.role,
        duration: o.duration,
        justification,
        emergency: o.emergency,
        lapses_at: ctx.now.plus(o.policy.pending_ttl),
        policy: o.policy,
        state: RequestState::Pending,
        approvals: Vec::new(),
        created_at: ctx.now,
        escalated_at: None,
        decided_at: None,
        decided_by: None,
        deny_reason: None,
        binding: None,
    };
    let mut out = Changes::default();
    out.events.push(event(
        state,
        ctx,
        EventType::AccessRequested,
        Some(&req.target),
        Some(o.user.email.to_string()),
        json!({
            "request_id": req.id.to_string(),
            "role": req.role.as_str(),
            "duration": req.duration.map(|d| d.to_string()),
            "emergency": req.emergency,
            "justification": req.justification,
            "policy": describe(state, &req.policy),
            "lapses_at": req.lapses_at.to_rfc3339(),
            "assigned_by_manager": o.created_by != o.user.id,
        }),
    ));
    if o.first_approval && o.created_by != o.user.id {
        if let Some(step) = current_step(&req) {
            if in_approver_set(
                state,
                &req.policy.steps[step].approvers,
                &req.target,
                req.role,
                o.created_by,
                ctx.now,
            ) {
                record_approval(state, ctx, &mut req, o.created_by, step, false, &mut out);
            }
        }
    }
    let id = req.id;
    finish(state, ctx, req, &mut out);
    Ok((out, id))
}

/// Approves the current step of a request. With `allow_override`, an admin-area admin or
/// employee who is not in the step's set approves the whole request at once (recorded as an
/// override).
pub fn approve(
    state: &State,
    ctx: &Ctx,
    id: RequestId,
    allow_override: bool,
) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let req = visible_request(state, ctx, id)?;
    require_open(req, ctx.now)?;
    require_usable_workspace(state, req)?;
    if is_own_request(req, ctx) {
        return Err(self_approval());
    }
    // One person counts once: as themselves, or as a delegate of someone else.
    let people = [Some(me.id), ctx.bounds.delegate];
    if req.approvals.iter().any(|a| people.iter().flatten().any(|p| a.involves(*p))) {
        return Err(DomainError::conflict(
            "request.already_approved",
            "you have already approved this request (yourself or on someone's behalf)",
        ));
    }
    let step = current_step(req)
        .ok_or_else(|| DomainError::conflict("request.not_pending", "nothing left to approve"))?;
    let mut req = req.clone();
    let mut out = Changes::default();
    let admin = admin_area(state, ctx)?;
    // An explicit override wins even when the admin is also in the step's set: it is the way out
    // of an unreachable quorum, which a plain approval would not end.
    if admin && allow_override {
        record_approval(state, ctx, &mut req, me.id, step, true, &mut out);
    } else if approver_in(state, ctx, &req.policy.steps[step].approvers, &req.target, req.role, me.id) {
        record_approval(state, ctx, &mut req, me.id, step, false, &mut out);
    } else if admin {
        return Err(DomainError::Forbidden {
            code: "request.not_an_approver",
            message: format!(
                "you are not an approver of step {} of this request; approve with override to grant it as the admin area",
                step + 1
            ),
        });
    } else {
        return Err(DomainError::Forbidden {
            code: "request.not_an_approver",
            message: format!("you are not an approver of step {} of this request", step + 1),
        });
    }
    finish(state, ctx, req, &mut out);
    Ok(out)
}

/// Denies a request (anyone who could approve its current step, or the admin area).
pub fn deny(state: &State, ctx: &Ctx, id: RequestId, reason: String) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let req = visible_request(state, ctx, id)?;
    require_open(req, ctx.now)?;
    let reason = clean_text(Some(reason), "reason")?
        .ok_or_else(|| DomainError::invalid("input.reason_required", "a denial needs a reason"))?;
    if is_own_request(req, ctx) {
        return Err(DomainError::Forbidden {
            code: "request.self_approval",
            message: "you cannot decide your own request; cancel it instead".into(),
        });
    }
    let step = current_step(req).unwrap_or(0);
    let approver = req
        .policy
        .steps
        .get(step)
        .is_some_and(|s| approver_in(state, ctx, &s.approvers, &req.target, req.role, me.id));
    if !approver && !admin_area(state, ctx)? {
        return Err(DomainError::Forbidden {
            code: "request.not_an_approver",
            message: format!("you are not an approver of step {} of this request", step + 1),
        });
    }
    let mut req = req.clone();
    req.state = RequestState::Denied;
    req.decided_at = Some(ctx.now);
    req.decided_by = Some(me.id);
    req.deny_reason = Some(reason.clone());
    let ev = request_event(
        state,
        ctx,
        EventType::RequestDenied,
        &req,
        json!({"reason": reason, "step": step + 1}),
    );
    Ok(Changes { changes: vec![Change::PutRequest(req)], events: vec![ev] })
}

/// Cancels a request (the user it is for, or whoever opened it).
pub fn cancel(state: &State, ctx: &Ctx, id: RequestId) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let req = visible_request(state, ctx, id)?;
    if req.user != me.id && req.created_by != me.id {
        return Err(DomainError::forbidden("only the requester may cancel a request"));
    }
    require_open(req, ctx.now)?;
    let mut req = req.clone();
    req.state = RequestState::Cancelled;
    req.decided_at = Some(ctx.now);
    req.decided_by = Some(me.id);
    let ev = request_event(state, ctx, EventType::RequestCancelled, &req, json!({}));
    Ok(Changes { changes: vec![Change::PutRequest(req)], events: vec![ev] })
}

/// Escalates an open normal request to emergency: the entitlement's emergency policy applies
/// from now on, approvals already given still count where their givers belong to the new
/// policy's steps, and the duration shrinks to the emergency maximum. Only the user the request
/// is for may escalate it: a manager who opened it for them would otherwise trade the four eyes
/// of their own assignment for the emergency policy.
pub fn escalate(state: &State, ctx: &Ctx, id: RequestId) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let req = visible_request(state, ctx, id)?;
    if req.user != me.id {
        return Err(DomainError::forbidden("only the requester may escalate a request"));
    }
    require_open(req, ctx.now)?;
    if req.emergency {
        return Err(DomainError::conflict(
            "request.already_emergency",
            "the request is already an emergency request",
        ));
    }
    require_usable_workspace(state, req)?;
    let policy = effective_policy(state, &req.target, req.role, true)?;
    if policy.justification_required && req.justification.is_none() {
        return Err(DomainError::invalid(
            "request.justification_required",
            format!(
                "emergency policy '{}' requires a justification; open a new request with one",
                policy.name
            ),
        ));
    }
    let mut new = req.clone();
    let given: Vec<Approval> = req.approvals.iter().filter(|a| !a.is_override).cloned().collect();
    new.approvals.clear();
    new.policy = policy;
    let mut kept = Vec::new();
    for a in given {
        if let Some(step) = current_step(&new) {
            if in_approver_set(state, &new.policy.steps[step].approvers, &new.target, new.role, a.by, ctx.now)
            {
                new.approvals.push(Approval { step: step as u32, ..a.clone() });
                kept.push(a.by);
            }
        }
    }
    let from_duration = new.duration;
    new.duration = match (new.duration, new.policy.max_duration) {
        (Some(d), Some(max)) => Some(d.min(max)),
        (None, Some(max)) => Some(max),
        (Some(d), None) => Some(d),
        (None, None) => {
            // Emergency access always ends.
            return Err(DomainError::invalid(
                "request.duration_required",
                "emergency access needs a duration and the emergency policy sets no maximum: open a new request with one",
            ));
        }
    };
    new.emergency = true;
    new.escalated_at = Some(ctx.now);
    new.lapses_at = ctx.now.plus(new.policy.pending_ttl);
    let emails = |ids: &[UserId]| -> Vec<String> {
        ids.iter().filter_map(|u| state.user(*u)).map(|u| u.email.to_string()).collect()
    };
    let mut out = Changes::default();
    out.events.push(request_event(
        state,
        ctx,
        EventType::RequestEscalated,
        &new,
        json!({
            "from_policy": describe(state, &req.policy),
            "policy": describe(state, &new.policy),
            "approvals_kept": emails(&kept),
            "from_duration": from_duration.map(|d| d.to_string()),
            "duration": new.duration.map(|d| d.to_string()),
        }),
    ));
    finish(state, ctx, new, &mut out);
    Ok(out)
}

/// Completes an emergency review. Workspace managers and the admin area may; the holder of the
/// emergency access may not review it.
pub fn complete_review(
    state: &State,
    ctx: &Ctx,
    id: ReviewId,
    outcome: ReviewOutcome,
    notes: Option<String>,
) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let not_found = || DomainError::not_found("review.not_found", format!("review {id} not found"));
    let review = state.review(id).ok_or_else(not_found)?;
    let access = authz::actor_access(state, ctx, review.target.workspace())?;
    if !access.see {
        return Err(not_found());
    }
    if review.holder == me.id || ctx.bounds.delegate == Some(review.holder) {
        return Err(DomainError::Forbidden {
            code: "review.own_access",
            message: "the holder of emergency access cannot review it".into(),
        });
    }
    if !(access.manage || admin_area(state, ctx)?) {
        return Err(DomainError::forbidden("only workspace managers and the admin area complete reviews"));
    }
    if !review.is_open() {
        return Err(DomainError::conflict("review.completed", "the review is already completed"));
    }
    let notes = clean_text(notes, "notes")?;
    let mut done = review.clone();
    done.outcome = Some(outcome);
    done.notes = notes.clone();
    done.completed_by = Some(me.id);
    done.completed_at = Some(ctx.now);
    let holder = state.user(review.holder).map(|u| u.email.to_string());
    let ev = event(
        state,
        ctx,
        EventType::ReviewCompleted,
        Some(&review.target),
        holder,
        json!({
            "review_id": id.to_string(),
            "request_id": review.request.to_string(),
            "binding_id": review.binding.to_string(),
            "role": review.role.as_str(),
            "outcome": outcome.as_str(),
            "notes": notes,
        }),
    );
    Ok(Changes { changes: vec![Change::PutReview(done)], events: vec![ev] })
}

/// Records lapses: up to `max` pending requests past their pending time become `lapsed`.
pub fn record_lapses(state: &State, ctx: &Ctx, max: usize) -> Changes {
    let mut due: Vec<&AccessRequest> = state.pending_requests().filter(|r| r.lapses_at <= ctx.now).collect();
    due.sort_by_key(|r| (r.lapses_at, r.id));
    let mut out = Changes::default();
    for r in due.into_iter().take(max) {
        let mut r = r.clone();
        r.state = RequestState::Lapsed;
        r.decided_at = Some(ctx.now);
        let ev = request_event(
            state,
            ctx,
            EventType::RequestLapsed,
            &r,
            json!({"lapsed_at": r.lapses_at.to_rfc3339()}),
        );
        out.events.push(ev);
        out.changes.push(Change::PutRequest(r));
    }
    out
}

/// A pending request the caller may act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// The request.
    pub request: RequestId,
    /// The caller is in the current step's approver set.
    pub can_approve: bool,
    /// The caller may only approve it as an admin-area override.
    pub override_only: bool,
    /// No set of eligible approvers can complete it any more.
    pub quorum_unreachable: bool,
}

/// The open requests the actor may approve or override, emergency ones first, then oldest
/// first.
pub fn tasks(state: &State, ctx: &Ctx) -> Result<Vec<Task>, DomainError> {
    let user = authz::acting_user(state, ctx)?;
    let now = ctx.now;
    let admin_area = admin_area(state, ctx)?;
    let people = [Some(user.id), ctx.bounds.delegate];
    let mut found: Vec<(&AccessRequest, Task)> = state
        .pending_requests()
        .filter(|r| {
            r.is_open(now)
                && ctx.bounds.covers(r.target.workspace())
                && !is_own_request(r, ctx)
                && !r.approvals.iter().any(|a| people.iter().flatten().any(|p| a.involves(*p)))
        })
        .filter_map(|r| {
            let step = current_step(r)?;
            let can_approve =
                approver_in(state, ctx, &r.policy.steps[step].approvers, &r.target, r.role, user.id);
            (can_approve || admin_area).then(|| {
                (
                    r,
                    Task {
                        request: r.id,
                        can_approve,
                        override_only: !can_approve,
                        quorum_unreachable: quorum_unreachable(state, r, now),
                    },
                )
            })
        })
        .collect();
    found.sort_by_key(|(r, _)| (!r.emergency, r.created_at, r.id));
    Ok(found.into_iter().map(|(_, t)| t).collect())
}

/// May `user` see this request? The user it is for, whoever opened it, the workspace's managers,
/// the admin area, and anyone in one of its policy's approver sets.
pub fn can_see_request(state: &State, ctx: &Ctx, r: &AccessRequest) -> bool {
    let Ok(user) = authz::acting_user(state, ctx) else { return false };
    if !ctx.bounds.covers(r.target.workspace()) {
        return false;
    }
    if r.user == user.id || r.created_by == user.id {
        return true;
    }
    let Ok(access) = authz::actor_access(state, ctx, r.target.workspace()) else { return false };
    access.read_history
        || r.policy.steps.iter().any(|s| {
            matches!(s.approvers, ApproverSet::Users(_))
                && approver_in(state, ctx, &s.approvers, &r.target, r.role, user.id)
        })
        || (access.see
            && r.policy
                .steps
                .iter()
                .any(|s| approver_in(state, ctx, &s.approvers, &r.target, r.role, user.id)))
}

/// The request if the actor may see it; otherwise the same 404 as for one that does not exist.
pub fn visible_request<'a>(
    state: &'a State,
    ctx: &Ctx,
    id: RequestId,
) -> Result<&'a AccessRequest, DomainError> {
    state
        .request(id)
        .filter(|r| can_see_request(state, ctx, r))
        .ok_or_else(|| DomainError::not_found("request.not_found", format!("request {id} not found")))
}

fn record_approval(
    state: &State,
    ctx: &Ctx,
    req: &mut AccessRequest,
    by: UserId,
    step: usize,
    is_override: bool,
    out: &mut Changes,
) {
    // Only the acting person's own approval can be given through a delegation; a manager's
    // approval carried by an assignment they made is theirs (`by` is the actor either way).
    let via = ctx.bounds.delegate.filter(|_| ctx.user() == Some(by));
    req.approvals.push(Approval { by, step: step as u32, at: ctx.now, is_override, via });
    let approver = state.user(by).map(|u| u.email.to_string());
    let ev = request_event(
        state,
        ctx,
        EventType::RequestApproved,
        req,
        json!({
            "approver": approver,
            "step": step + 1,
            "steps": req.policy.steps.len(),
            "override": is_override,
        }),
    );
    out.events.push(ev);
}

/// Writes the request's new state, granting it first when nothing is left to approve.
fn finish(state: &State, ctx: &Ctx, mut req: AccessRequest, out: &mut Changes) {
    let complete = req.approvals.iter().any(|a| a.is_override) || current_step(&req).is_none();
    if !complete {
        out.changes.push(Change::PutRequest(req));
        return;
    }
    // The request row first, so that the binding and review that refer to it can follow.
    out.changes.push(Change::PutRequest(req.clone()));
    grant(state, ctx, &mut req, out);
}

/// Grants an approved request: extends the user's existing grant of the same entitlement (of the
/// same kind, normal or emergency) or creates a binding; opens a review for emergency access.
fn grant(state: &State, ctx: &Ctx, req: &mut AccessRequest, out: &mut Changes) {
    let expires_at = req.duration.map(|d| ctx.now.plus(d));
    let emergency = req.emergency;
    let existing = state.bindings_on(&req.target).find(|b| {
        b.user == req.user
            && b.role == req.role
            && b.is_effective(ctx.now)
            && b.expires_at.is_some()
            // Only access granted by requests is extended: merging into someone's grant would let
            // revoking that grant take this approval's access with it.
            && matches!(b.source, BindingSource::Request(_) | BindingSource::Emergency(_))
            && b.source.is_emergency() == emergency
    });
    let (binding, extended) = match existing {
        Some(b) => {
            let new_expiry = match (b.expires_at, expires_at) {
                (Some(a), Some(n)) => Some(a.max(n)),
                _ => None,
            };
            if new_expiry != b.expires_at {
                out.changes.push(Change::ExtendBinding { id: b.id, expires_at: new_expiry });
            }
            (b.id, true)
        }
        None => {
            let b = Binding {
                id: BindingId(ctx.next_id()),
                user: req.user,
                target: req.target.clone(),
                role: req.role,
                starts_at: ctx.now,
                expires_at,
                source: if emergency {
                    BindingSource::Emergency(req.id)
                } else {
                    BindingSource::Request(req.id)
                },
                created_by: Some(req.created_by),
                // The justification stays with the request, visible to those who may see it; the
                // binding only points at the request.
                reason: None,
            };
            let id = b.id;
            out.changes.push(Change::CreateBinding(b));
            (id, false)
        }
    };
    req.state = RequestState::Granted;
    req.decided_at = Some(ctx.now);
    // Granted by the last approval; a policy without steps grants with no decider at all.
    req.decided_by = req.approvals.last().map(|a| a.by);
    req.binding = Some(binding);
    let final_expiry = match existing {
        Some(b) => match (b.expires_at, expires_at) {
            (Some(a), Some(n)) => Some(a.max(n)),
            _ => None,
        },
        None => expires_at,
    };
    out.events.push(request_event(
        state,
        ctx,
        EventType::AccessGranted,
        req,
        json!({
            "binding_id": binding.to_string(),
            "expires_at": time_json(final_expiry),
            "emergency": emergency,
            "extended": extended,
        }),
    ));
    out.changes.push(Change::PutRequest(req.clone()));
    if emergency {
        let review = Review {
            id: ReviewId(ctx.next_id()),
            request: req.id,
            binding,
            holder: req.user,
            target: req.target.clone(),
            role: req.role,
            opened_at: ctx.now,
            outcome: None,
            notes: None,
            completed_by: None,
            completed_at: None,
        };
        out.events.push(request_event(
            state,
            ctx,
            EventType::ReviewOpened,
            req,
            json!({"review_id": review.id.to_string(), "binding_id": binding.to_string()}),
        ));
        out.changes.push(Change::PutReview(review));
    }
}

fn request_event(
    state: &State,
    ctx: &Ctx,
    ty: EventType,
    req: &AccessRequest,
    extra: Value,
) -> crate::audit::NewEvent {
    let mut details = json!({
        "request_id": req.id.to_string(),
        "role": req.role.as_str(),
        "emergency": req.emergency,
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut details, extra) {
        d.extend(e);
    }
    let subject = state.user(req.user).map(|u| u.email.to_string());
    event(state, ctx, ty, Some(&req.target), subject, details)
}

fn require_open(req: &AccessRequest, now: Timestamp) -> Result<(), DomainError> {
    if req.state != RequestState::Pending {
        return Err(DomainError::conflict(
            "request.not_pending",
            format!("the request is {} and cannot change any more", req.state.as_str()),
        ));
    }
    if now >= req.lapses_at {
        return Err(DomainError::conflict("request.lapsed", "the request lapsed without enough approvals"));
    }
    Ok(())
}

/// A request can only be granted in an active workspace: approving (or escalating into an
/// immediate grant) in a disabled or pending one would create access it refuses.
fn require_usable_workspace(state: &State, req: &AccessRequest) -> Result<(), DomainError> {
    match state.workspace(req.target.workspace()) {
        Some(ws) => require_active(ws),
        None => Err(DomainError::not_found("request.not_found", format!("request {} not found", req.id))),
    }
}

fn self_approval() -> DomainError {
    DomainError::Forbidden {
        code: "request.self_approval",
        message: "nobody may approve a request for themselves".into(),
    }
}

/// May the actor use the admin area's powers (admins and employees, not through a scoped
/// credential)?
fn admin_area(state: &State, ctx: &Ctx) -> Result<bool, DomainError> {
    Ok(matches!(authz::actor_admin_role(state, ctx)?, AdminRole::Admin | AdminRole::Employee))
}

/// Is `user` (the actor) in an approver set, as far as the credential in use reaches? A scoped
/// credential carries no admin-area membership and nothing outside its workspaces.
pub(crate) fn approver_in(
    state: &State,
    ctx: &Ctx,
    set: &ApproverSet,
    target: &Target,
    role: Role,
    user: UserId,
) -> bool {
    if !ctx.bounds.covers(target.workspace())
        || (ctx.bounds.scope.is_some() && matches!(set, ApproverSet::AdminArea))
    {
        return false;
    }
    in_approver_set(state, set, target, role, user, ctx.now)
}

/// Is the request the acting person's own: for them or opened by them, as themselves or as a
/// delegate? Nobody decides those.
fn is_own_request(r: &AccessRequest, ctx: &Ctx) -> bool {
    let people = [ctx.user(), ctx.bounds.delegate];
    people.iter().flatten().any(|p| r.user == *p || r.requested_via == Some(*p))
}

/// Refuses a target that does not exist or a role of the wrong kind.
pub(crate) fn require_target(state: &State, target: &Target, role: Role) -> Result<(), DomainError> {
    if let Target::Project(w, p) = target {
        if state.project(w, p).is_none() {
            return Err(DomainError::not_found(
                "project.not_found",
                format!("project '{p}' not found in '{w}'"),
            ));
        }
    }
    if target.is_project() != matches!(role, Role::Project(_)) {
        let kind = if target.is_project() { "project" } else { "workspace" };
        return Err(DomainError::invalid("input.unknown_role", format!("'{role}' is not a {kind} role")));
    }
    Ok(())
}

fn check_duration(policy: &Policy, duration: Option<Span>, by_requester: bool) -> Result<(), DomainError> {
    match (duration, policy.max_duration) {
        (None, _) if by_requester => {
            Err(DomainError::invalid("request.duration_required", "a request needs a duration such as 2h"))
        }
        (None, Some(max)) => Err(DomainError::rule(
            "request.duration_exceeds_max",
            format!("standing access is not allowed here: the maximum for this entitlement is {max}"),
        )),
        (Some(d), Some(max)) if d > max => Err(DomainError::rule(
            "request.duration_exceeds_max",
            format!("{d} is longer than the maximum for this entitlement, {max} (policy '{}')", policy.name),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn clean_text(text: Option<String>, what: &str) -> Result<Option<String>, DomainError> {
    let Some(t) = text else { return Ok(None) };
    let t = t.trim().to_owned();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > MAX_TEXT || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid(
            "input.invalid_text",
            format!("the {what} must be at most {MAX_TEXT} characters without control characters"),
        ));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Step;

    #[test]
    fn durations_are_checked_against_the_policy() {
        let mut p = Policy::installation_default();
        p.max_duration = Some(Span::hours(4));
        assert!(check_duration(&p, Some(Span::hours(4)), true).is_ok());
        let e = check_duration(&p, Some(Span::hours(5)), true).unwrap_err();
        assert_eq!(e.code(), "request.duration_exceeds_max");
        assert!(e.to_string().contains("4h"), "{e}");
        assert_eq!(check_duration(&p, None, true).unwrap_err().code(), "request.duration_required");
        assert_eq!(check_duration(&p, None, false).unwrap_err().code(), "request.duration_exceeds_max");
        p.max_duration = None;
        p.steps = vec![Step { approvers: ApproverSet::AdminArea, count: 1 }];
        assert!(check_duration(&p, None, false).is_ok());
    }
}

/// Which requests a listing covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestScope {
    /// Those for the caller or made by them, within their credential's workspaces.
    Mine,
    /// Every request the caller may see.
    Visible,
}

impl RequestScope {
    /// Parses `mine` or `visible`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "mine" => Ok(Self::Mine),
            "visible" => Ok(Self::Visible),
            other => Err(DomainError::invalid(
                "input.invalid_scope",
                format!("unknown scope '{other}': use mine or visible"),
            )),
        }
    }
}

/// The requests a listing shows the actor, newest first: `scope`, then only those in `wanted`
/// state and of `workspace` when given.
pub fn listed_requests<'s>(
    state: &'s State,
    ctx: &Ctx,
    scope: RequestScope,
    wanted: Option<RequestState>,
    workspace: Option<&str>,
) -> Result<Vec<&'s AccessRequest>, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let mut found: Vec<&AccessRequest> = state
        .requests()
        .filter(|r| match scope {
            RequestScope::Visible => can_see_request(state, ctx, r),
            RequestScope::Mine => {
                (r.user == me.id || r.created_by == me.id) && ctx.bounds.covers(r.target.workspace())
            }
        })
        .filter(|r| wanted.is_none_or(|s| r.state == s))
        .filter(|r| workspace.is_none_or(|w| r.target.workspace().as_str() == w))
        .collect();
    found.sort_by_key(|r| (std::cmp::Reverse(r.created_at), r.id));
    Ok(found)
}

/// The emergency reviews a listing shows the actor, newest first: their own (within their
/// credential's workspaces) and those of workspaces whose history they may read; only open or
/// completed ones when `open` says so, and of `workspace` when given.
pub fn listed_reviews<'s>(
    state: &'s State,
    ctx: &Ctx,
    open: Option<bool>,
    workspace: Option<&str>,
) -> Result<Vec<&'s Review>, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let mut found: Vec<&Review> = state
        .reviews()
        .filter(|r| open.is_none_or(|o| r.is_open() == o))
        .filter(|r| workspace.is_none_or(|w| r.target.workspace().as_str() == w))
        .filter(|r| {
            (r.holder == me.id && ctx.bounds.covers(r.target.workspace()))
                || authz::actor_access(state, ctx, r.target.workspace()).is_ok_and(|a| a.read_history)
        })
        .collect();
    found.sort_by_key(|r| (std::cmp::Reverse(r.opened_at), r.id));
    Ok(found)
}
