//! The authorization check: does a user hold a role (or a higher one) on a target right now?
//! Expiry is compared here, at the instant of the check; no background job is involved.

use std::fmt;
use std::ops::Deref;

use crate::authz::{self, WorkspaceAccess};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{BindingId, Email, Slug, UserId};
use crate::model::User;
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

/// The bindings behind a decision, read as a slice (`&[Via]`). The usual single binding is
/// held inline, so an allowed check allocates nothing; several go to the heap.
#[derive(Clone, Default)]
pub struct ViaList(Vias);

#[derive(Clone, Default)]
enum Vias {
    #[default]
    None,
    One(Via),
    Many(Vec<Via>),
}

impl ViaList {
    /// No binding (a denied check).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a binding.
    pub fn push(&mut self, via: Via) {
        self.0 = match std::mem::take(&mut self.0) {
            Vias::None => Vias::One(via),
            Vias::One(first) => Vias::Many(vec![first, via]),
            Vias::Many(mut v) => {
                v.push(via);
                Vias::Many(v)
            }
        };
    }

    /// Sorts in place (see `slice::sort_by`).
    pub fn sort_by(&mut self, compare: impl FnMut(&Via, &Via) -> std::cmp::Ordering) {
        if let Vias::Many(v) = &mut self.0 {
            v.sort_by(compare);
        }
    }
}

impl Deref for ViaList {
    type Target = [Via];
    fn deref(&self) -> &[Via] {
        match &self.0 {
            Vias::None => &[],
            Vias::One(via) => std::slice::from_ref(via),
            Vias::Many(v) => v,
        }
    }
}

impl<'a> IntoIterator for &'a ViaList {
    type Item = &'a Via;
    type IntoIter = std::slice::Iter<'a, Via>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<Vec<Via>> for ViaList {
    fn from(v: Vec<Via>) -> Self {
        Self(Vias::Many(v))
    }
}

/// Equal when they list the same bindings in the same order, however they are stored.
impl PartialEq for ViaList {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ViaList {}

impl fmt::Debug for ViaList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
    pub via: ViaList,
    /// When denied: why.
    pub reason: Option<DenyReason>,
}

/// Decides whether `user` holds `role` (or a higher one of the same kind) on `target` at `now`.
/// Answered from the compact index (`index::CheckIndex`), which `State::apply` keeps in step.
pub fn check(state: &State, user: UserId, target: &Target, role: Role, now: Timestamp) -> Decision {
    let (ws, project) = match target {
        Target::Workspace(ws) => (ws.as_str(), None),
        Target::Project(ws, p) => (ws.as_str(), Some(p.as_str())),
    };
    check_slugs(state, user, ws, project, role, now)
}

/// `check` with the target given by its slug texts (a workspace and, for a project, the
/// project), so a caller holding borrowed text needs no owned `Target`. Text that is no valid
/// slug names no target.
pub fn check_slugs(
    state: &State,
    user: UserId,
    workspace: &str,
    project: Option<&str>,
    role: Role,
    now: Timestamp,
) -> Decision {
    state.check_index().check(user, workspace, project, role, now)
}

// -- checks asked by a caller -------------------------------------------------------------------

/// Answers checks for one caller. What depends only on the caller (who they are, their admin-area
/// role, their rights in a workspace) is decided once and remembered, so a batch of 1,000 checks
/// costs one authorization per workspace rather than per check.
pub struct Checker<'a> {
    state: &'a State,
    ctx: &'a Ctx,
    caller: &'a User,
    reads_everything: bool,
    /// Workspace rights already decided in this batch, and whether the workspace exists (a
    /// batch names few workspaces).
    access: Vec<(String, WorkspaceAccess, bool)>,
}

impl<'a> Checker<'a> {
    /// A checker for the actor of `ctx`.
    pub fn new(state: &'a State, ctx: &'a Ctx) -> Result<Self, DomainError> {
        Ok(Self {
            state,
            ctx,
            caller: authz::acting_user(state, ctx)?,
            reads_everything: authz::actor_admin_role(state, ctx)?.reads_everything(),
            access: Vec::new(),
        })
    }

    /// The caller's rights in a workspace (a valid slug), and whether it exists.
    fn access(&mut self, ws: &str) -> Result<(WorkspaceAccess, bool), DomainError> {
        if let Some((_, a, exists)) = self.access.iter().find(|(w, _, _)| w == ws) {
            return Ok((*a, *exists));
        }
        let a = authz::actor_access(self.state, self.ctx, &Slug::parse(ws)?)?;
        let exists = self.state.workspace(ws).is_some();
        if self.access.len() < 64 {
            self.access.push((ws.to_owned(), a, exists));
        }
        Ok((a, exists))
    }

    /// Answers one check. Anyone may check themselves; checking someone else needs sight of the
    /// workspace (else 404, as if it did not exist). A self-check on a workspace the caller
    /// cannot see answers "no binding" whether or not it exists, so nothing leaks.
    /// Nothing is copied on the way: text is checked where it lies and looked up by reference.
    pub fn decide(
        &mut self,
        user: &str,
        workspace: &str,
        project: Option<&str>,
        role: &str,
    ) -> Result<Decision, DomainError> {
        let email = Email::normalize(user)?;
        let ws = Slug::check(workspace)?;
        let project = project.map(Slug::check).transpose()?;
        let role = Role::parse_for(role, project.is_some())?;
        let (access, exists) = self.access(ws)?;
        let deny =
            |reason| Decision { allowed: false, expires_at: None, via: ViaList::new(), reason: Some(reason) };
        if *email == *self.caller.email.as_str() {
            if !access.see {
                return Ok(deny(DenyReason::NoBinding));
            }
        } else if !access.see || !exists {
            return Err(authz::workspace_not_found(&Slug::parse(ws)?));
        }
        let Some(user) = self.state.user_by_email(&*email) else {
            // Only the admin area learns that an address belongs to nobody; for anyone else an
            // unknown user looks like a user without the role.
            let reason =
                if self.reads_everything { DenyReason::UnknownTarget } else { DenyReason::NoBinding };
            return Ok(deny(reason));
        };
        Ok(check_slugs(self.state, user.id, ws, project, role, self.ctx.now))
    }
}
