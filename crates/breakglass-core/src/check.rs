//! The authorization check: does a user hold a role (or a higher one) on a target right now?
//! Expiry is compared here, at the instant of the check; no background job is involved.

use crate::ident::{BindingId, UserId};
use crate::model::{BindingSource, Target};
use crate::role::Role;
use crate::state::State;
use crate::time::Timestamp;

/// One binding that makes a check succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// The binding.
    pub binding: BindingId,
    /// The role it grants (equal to or above the one asked for).
    pub role: Role,
    /// Where it came from.
    pub source: BindingSource,
    /// Until when it counts.
    pub expires_at: Option<Timestamp>,
}

/// Why a check said no.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// The user holds no binding that implies the role.
    NoBinding,
    /// The user, workspace or project does not exist.
    UnknownTarget,
    /// The workspace is disabled or still pending approval.
    WorkspaceNotActive,
    /// The user is disabled.
    UserDisabled,
}

impl DenyReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoBinding => "no_binding",
            Self::UnknownTarget => "unknown_target",
            Self::WorkspaceNotActive => "workspace_not_active",
            Self::UserDisabled => "user_disabled",
        }
    }
}

/// The answer to a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the role is held now.
    pub allowed: bool,
    /// When allowed: the last instant any matching binding ends (`None` when one never ends).
    pub expires_at: Option<Timestamp>,
    /// When allowed: every matching binding, latest-ending first.
    pub via: Vec<Via>,
    /// When denied: why.
    pub reason: Option<DenyReason>,
}

/// Decides whether `user` holds `role` (or a higher one of the same kind) on `target` at `now`.
/// Answered from the compact index (`index::CheckIndex`), which `State::apply` keeps in step.
pub fn check(state: &State, user: UserId, target: &Target, role: Role, now: Timestamp) -> Decision {
    state.check_index().check(user, target, role, now)
}
