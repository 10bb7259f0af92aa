//! Access requests and what governs them: approval policies, entitlement settings, requests
//! with their approvals, and the emergency reviews that follow emergency grants.
//!
//! The evaluation functions here (`current_step`, `eligible_approvers`, ...) are pure reads of
//! `State`; the commands that change requests live in `cmd::requests`.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ident::{BindingId, Name, PolicyId, RequestId, ReviewId, Slug, UserId};
use crate::model::{Target, UserStatus};
use crate::role::{AdminRole, Role, WorkspaceRole};
use crate::state::State;
use crate::time::{Span, Timestamp};

/// Who may give the approvals of one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "users")]
pub enum ApproverSet {
    /// Users holding `manager` or `owner` on the request's workspace.
    WorkspaceManagers,
    /// Users holding `owner` on the request's workspace.
    WorkspaceOwners,
    /// Admin-area admins and employees.
    AdminArea,
    /// These users.
    Users(Vec<UserId>),
}

impl ApproverSet {
    /// The wire name of the set's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WorkspaceManagers => "workspace_managers",
            Self::WorkspaceOwners => "workspace_owners",
            Self::AdminArea => "admin_area",
            Self::Users(_) => "users",
        }
    }
}

/// One step of a policy: `count` distinct approvals from `approvers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Who may approve.
    pub approvers: ApproverSet,
    /// How many distinct approvals the step needs (at least 1).
    pub count: u32,
}

/// Who must approve a request for an entitlement, and its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Identity; the installation default has the nil id.
    pub id: PolicyId,
    /// Display name.
    pub name: Name,
    /// The workspace it belongs to; `None` for an installation-wide policy.
    pub workspace: Option<Slug>,
    /// Ordered steps; none means requests are granted at once.
    pub steps: Vec<Step>,
    /// Longest access a request may ask for; `None` for no limit.
    pub max_duration: Option<Span>,
    /// Whether a request must say why.
    pub justification_required: bool,
    /// How long a request may wait for its approvals before it lapses.
    pub pending_ttl: Span,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Policy {
    /// The id of the installation default policy.
    pub const DEFAULT_ID: PolicyId = PolicyId(uuid::Uuid::nil());

    /// The installation default: one approval from the workspace's managers, at most 30 days,
    /// a justification, and a week to find an approver.
    pub fn installation_default() -> Self {
        Self {
            id: Self::DEFAULT_ID,
            name: Name::parse("installation default").unwrap_or_else(|_| unreachable!("valid name")),
            workspace: None,
            steps: vec![Step { approvers: ApproverSet::WorkspaceManagers, count: 1 }],
            max_duration: Some(Span::days(30)),
            justification_required: true,
            pending_ttl: Span::days(7),
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        }
    }

    /// Total approvals the policy needs across its steps.
    pub fn required_approvals(&self) -> u32 {
        self.steps.iter().map(|s| s.count).sum()
    }
}

/// The settings of one entitlement: a role on a workspace or project that can be requested.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entitlement {
    /// Where.
    pub target: Target,
    /// Which role.
    pub role: Role,
    /// Policy for normal requests; `None` for the installation default.
    pub request_policy: Option<PolicyId>,
    /// Whether emergency requests are allowed.
    pub emergency_enabled: bool,
    /// Policy for emergency requests (required when they are enabled).
    pub emergency_policy: Option<PolicyId>,
    /// When the settings last changed.
    pub updated_at: Timestamp,
}

/// The lifecycle of a request. Every state but `Pending` is terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved; the access exists.
    Granted,
    /// Refused by an approver.
    Denied,
    /// Withdrawn by the requester.
    Cancelled,
    /// Nobody approved it within the policy's pending TTL.
    Lapsed,
}

impl RequestState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Cancelled => "cancelled",
            Self::Lapsed => "lapsed",
        }
    }

    /// Parses a stored state.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "pending" => Self::Pending,
            "granted" => Self::Granted,
            "denied" => Self::Denied,
            "cancelled" => Self::Cancelled,
            "lapsed" => Self::Lapsed,
            _ => {
                return Err(DomainError::invalid(
                    "input.invalid_state",
                    format!("unknown request state '{s}'"),
                ))
            }
        })
    }
}

/// One approval given to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved.
    pub by: UserId,
    /// The step it counted for (0-based); for an override, the step it was given at.
    pub step: u32,
    /// When.
    pub at: Timestamp,
    /// An admin-area override that granted the request regardless of the steps.
    pub is_override: bool,
    /// The delegate who gave it on `by`'s behalf. One person counts once per request, whether
    /// they approved as themselves or for someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<UserId>,
}

impl Approval {
    /// True when `person` gave this approval, as themselves or as a delegate.
    pub fn involves(&self, person: UserId) -> bool {
        self.by == person || self.via == Some(person)
    }
}

/// A user asking for an entitlement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessRequest {
    /// Identity.
    pub id: RequestId,
    /// Who gets the access (the requester; never an approver of this request).
    pub user: UserId,
    /// Who opened it: the user, or a manager whose direct assignment became this request.
    pub created_by: UserId,
    /// The delegate who opened it on `created_by`'s behalf: they count as its requester too.
    pub requested_via: Option<UserId>,
    /// Where.
    pub target: Target,
    /// Which role.
    pub role: Role,
    /// How long the access lasts once granted; `None` only for an assignment without expiry.
    pub duration: Option<Span>,
    /// Why.
    pub justification: Option<String>,
    /// Uses the entitlement's emergency policy.
    pub emergency: bool,
    /// The policy in force, copied when the request opened (or was escalated).
    pub policy: Policy,
    /// Lifecycle state.
    pub state: RequestState,
    /// Approvals so far, in order.
    pub approvals: Vec<Approval>,
    /// When it opened.
    pub created_at: Timestamp,
    /// When it lapses if still pending.
    pub lapses_at: Timestamp,
    /// When it was escalated to emergency.
    pub escalated_at: Option<Timestamp>,
    /// When it reached a terminal state.
    pub decided_at: Option<Timestamp>,
    /// Who decided it (last approver, denier, canceller); `None` for a lapse.
    pub decided_by: Option<UserId>,
    /// Why it was denied.
    pub deny_reason: Option<String>,
    /// The binding it granted or extended.
    pub binding: Option<BindingId>,
}

impl AccessRequest {
    /// True while waiting for approvals at `now` (pending and not past its lapse time).
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.state == RequestState::Pending && now < self.lapses_at
    }
}

/// Verdict of an emergency review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The emergency access was warranted.
    Justified,
    /// It was not; follow-up needed.
    NotJustified,
}

impl ReviewOutcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Justified => "justified",
            Self::NotJustified => "not_justified",
        }
    }

    /// Parses `justified` or `not_justified`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "justified" => Ok(Self::Justified),
            "not_justified" => Ok(Self::NotJustified),
            _ => Err(DomainError::invalid(
                "input.invalid_outcome",
                format!("unknown outcome '{s}': use justified or not_justified"),
            )),
        }
    }
}

/// The look-back after an emergency grant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Review {
    /// Identity.
    pub id: ReviewId,
    /// The emergency request.
    pub request: RequestId,
    /// The binding it granted.
    pub binding: BindingId,
    /// Who held the emergency access (may not review it).
    pub holder: UserId,
    /// Where.
    pub target: Target,
    /// Which role.
    pub role: Role,
    /// When it opened (the grant).
    pub opened_at: Timestamp,
    /// The verdict, once completed.
    pub outcome: Option<ReviewOutcome>,
    /// The reviewer's notes.
    pub notes: Option<String>,
    /// Who completed it.
    pub completed_by: Option<UserId>,
    /// When.
    pub completed_at: Option<Timestamp>,
}

impl Review {
    /// True until completed.
    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }
}

/// True when `user` belongs to `set` for a request of `role` on `target` at `now` (ignoring who
/// it is for). Nobody approves what they could not assign: for the workspace roles `manager` and
/// `owner`, the set "workspace managers" means the workspace's owners.
pub fn in_approver_set(
    state: &State,
    set: &ApproverSet,
    target: &Target,
    role: Role,
    user: UserId,
    now: Timestamp,
) -> bool {
    let Some(u) = state.user(user) else { return false };
    if u.status != UserStatus::Active {
        return false;
    }
    let managing_managers = role.implies(Role::Workspace(WorkspaceRole::Manager));
    let ws_role = || state.workspace_role(user, target.workspace(), now);
    match set {
        ApproverSet::WorkspaceManagers if managing_managers => ws_role() == Some(WorkspaceRole::Owner),
        ApproverSet::WorkspaceManagers => ws_role().is_some_and(|r| r >= WorkspaceRole::Manager),
        ApproverSet::WorkspaceOwners => ws_role() == Some(WorkspaceRole::Owner),
        ApproverSet::AdminArea => matches!(u.admin_role, AdminRole::Admin | AdminRole::Employee),
        ApproverSet::Users(users) => users.contains(&user),
    }
}

/// The index of the first step not yet satisfied, or `None` when every step is.
pub fn current_step(request: &AccessRequest) -> Option<usize> {
    request.policy.steps.iter().enumerate().find_map(|(i, step)| {
        let given = request.approvals.iter().filter(|a| !a.is_override && a.step as usize == i).count();
        (given < step.count as usize).then_some(i)
    })
}

/// The people who could still give an approval for `step`: in its set, active, not the user the
/// request is for, and not already counted for this request (one person counts once).
pub fn eligible_approvers(
    state: &State,
    request: &AccessRequest,
    step: usize,
    now: Timestamp,
) -> Vec<UserId> {
    let Some(s) = request.policy.steps.get(step) else { return Vec::new() };
    let counted = |u: UserId| request.approvals.iter().any(|a| a.involves(u));
    let candidates: Vec<UserId> = match &s.approvers {
        ApproverSet::Users(users) => users.clone(),
        ApproverSet::AdminArea => state
            .users()
            .into_iter()
            .filter(|u| matches!(u.admin_role, AdminRole::Admin | AdminRole::Employee))
            .map(|u| u.id)
            .collect(),
        ApproverSet::WorkspaceManagers | ApproverSet::WorkspaceOwners => {
            let mut v: Vec<UserId> = state
                .bindings_on(&Target::Workspace(request.target.workspace().clone()))
                .map(|b| b.user)
                .collect();
            v.sort();
            v.dedup();
            v
        }
    };
    candidates
        .into_iter()
        .filter(|u| *u != request.user && Some(*u) != request.requested_via && !counted(*u))
        .filter(|u| in_approver_set(state, &s.approvers, &request.target, request.role, *u, now))
        .collect()
}

/// True when a pending request can never complete its steps with the people there are now.
/// One person counts once per request, so the remaining approvals of all remaining steps must
/// be given by distinct eligible people: a matching of open approval slots to people. The way
/// out is an admin-area override; the request never approves itself.
pub fn quorum_unreachable(state: &State, request: &AccessRequest, now: Timestamp) -> bool {
    if request.state != RequestState::Pending {
        return false;
    }
    let Some(first) = current_step(request) else { return false };
    // One entry per approval still needed, listing who could give it.
    let mut slots: Vec<Vec<UserId>> = Vec::new();
    for (i, step) in request.policy.steps.iter().enumerate().skip(first) {
        let given = request.approvals.iter().filter(|a| !a.is_override && a.step as usize == i).count();
        let needed = (step.count as usize).saturating_sub(given);
        let eligible = eligible_approvers(state, request, i, now);
        if eligible.len() < needed {
            return true;
        }
        slots.extend(std::iter::repeat_n(eligible, needed));
    }
    !all_slots_filled(&slots)
}

/// Bipartite matching (augmenting paths): can every slot get a distinct person from its list?
fn all_slots_filled(slots: &[Vec<UserId>]) -> bool {
    fn augment(
        slot: usize,
        slots: &[Vec<UserId>],
        seen: &mut Vec<UserId>,
        taken: &mut std::collections::HashMap<UserId, usize>,
    ) -> bool {
        for &person in &slots[slot] {
            if seen.contains(&person) {
                continue;
            }
            seen.push(person);
            let free = match taken.get(&person) {
                None => true,
                Some(&other) => augment(other, slots, seen, taken),
            };
            if free {
                taken.insert(person, slot);
                return true;
            }
        }
        false
    }
    let mut taken = std::collections::HashMap::new();
    (0..slots.len()).all(|slot| augment(slot, slots, &mut Vec::new(), &mut taken))
}
