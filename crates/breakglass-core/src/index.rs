//! The compact index behind the authorization check. Targets are interned to `u32`s, and each
//! user's bindings sit in one contiguous vector of small copyable entries, so a check is two
//! hash lookups and a short linear scan — no walk through the full `Binding` records. It is
//! kept in step by `State::apply`, like everything else in `State`.

use std::collections::HashMap;

use crate::check::{Decision, DenyReason, Via};
use crate::ident::{BindingId, UserId};
use crate::model::{Binding, BindingSource, Target};
use crate::role::Role;
use crate::time::Timestamp;

/// One binding, as the check needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    target: u32,
    role: Role,
    starts: i64,
    /// `i64::MAX` for a binding that never ends.
    expires: i64,
    binding: BindingId,
    source: BindingSource,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct IndexedUser {
    active: bool,
    entries: Vec<Entry>,
}

/// How many targets were interned, and what the index knew of one of them: see
/// [`CheckIndex::mark_target`].
#[derive(Clone, Debug)]
pub(crate) struct TargetMark {
    interned: usize,
    /// Known and active, when the target was interned.
    flags: Option<(bool, bool)>,
}

/// Interned targets and per-user binding entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckIndex {
    users: HashMap<UserId, IndexedUser>,
    targets: HashMap<Target, u32>,
    /// For each target id: the id of its workspace (itself for a workspace).
    workspace_of: Vec<u32>,
    /// For each target id: whether the workspace or project exists.
    known: Vec<bool>,
    /// For each workspace target id: whether the workspace is active.
    active: Vec<bool>,
}

impl CheckIndex {
    fn intern(&mut self, target: &Target) -> u32 {
        if let Some(id) = self.targets.get(target) {
            return *id;
        }
        let id = u32::try_from(self.workspace_of.len()).unwrap_or(u32::MAX);
        self.targets.insert(target.clone(), id);
        self.workspace_of.push(id);
        self.known.push(false);
        self.active.push(false);
        if let Target::Project(ws, _) = target {
            let ws_id = self.intern(&Target::Workspace(ws.clone()));
            self.workspace_of[id as usize] = ws_id;
        }
        id
    }

    /// A user exists, active or not.
    pub(crate) fn set_user(&mut self, user: UserId, active: bool) {
        self.users.entry(user).or_default().active = active;
    }

    /// A workspace exists with this activity.
    pub(crate) fn set_workspace(&mut self, target: &Target, active: bool) {
        let id = self.intern(target) as usize;
        self.known[id] = true;
        self.active[id] = active;
    }

    /// A project exists.
    pub(crate) fn add_project(&mut self, target: &Target) {
        let id = self.intern(target) as usize;
        self.known[id] = true;
    }

    /// A binding starts counting (from its `starts_at`).
    pub(crate) fn add_binding(&mut self, b: &Binding) {
        let target = self.intern(&b.target);
        self.users.entry(b.user).or_default().entries.push(Entry {
            target,
            role: b.role,
            starts: b.starts_at.as_micros(),
            expires: b.expires_at.map_or(i64::MAX, Timestamp::as_micros),
            binding: b.id,
            source: b.source,
        });
    }

    /// A binding ended.
    pub(crate) fn remove_binding(&mut self, user: UserId, id: BindingId) {
        if let Some(u) = self.users.get_mut(&user) {
            u.entries.retain(|e| e.binding != id);
        }
    }

    /// A binding's expiry moved.
    pub(crate) fn set_expiry(&mut self, user: UserId, id: BindingId, expires_at: Option<Timestamp>) {
        if let Some(e) =
            self.users.get_mut(&user).and_then(|u| u.entries.iter_mut().find(|e| e.binding == id))
        {
            e.expires = expires_at.map_or(i64::MAX, Timestamp::as_micros);
        }
    }

    /// What the index knows of `target` now, so that a speculative change to it can be put
    /// back by [`CheckIndex::restore_target`].
    pub(crate) fn mark_target(&self, target: &Target) -> TargetMark {
        let flags = self.targets.get(target).map(|&id| (self.known[id as usize], self.active[id as usize]));
        TargetMark { interned: self.workspace_of.len(), flags }
    }

    /// Puts `target` back as `mark` saw it, forgetting it (and its workspace) when they were
    /// interned since: ids are handed out in order, so that is a truncation.
    pub(crate) fn restore_target(&mut self, target: &Target, mark: TargetMark) {
        if let (Some((known, active)), Some(&id)) = (mark.flags, self.targets.get(target)) {
            self.known[id as usize] = known;
            self.active[id as usize] = active;
        }
        for t in [target.clone(), Target::Workspace(target.workspace().clone())] {
            if self.targets.get(&t).is_some_and(|&id| id as usize >= mark.interned) {
                self.targets.remove(&t);
            }
        }
        self.workspace_of.truncate(mark.interned);
        self.known.truncate(mark.interned);
        self.active.truncate(mark.interned);
    }

    /// A user's entry as it is now (`None`: not indexed).
    pub(crate) fn user_entry(&self, user: UserId) -> Option<IndexedUser> {
        self.users.get(&user).cloned()
    }

    /// Puts a user's entry back as [`CheckIndex::user_entry`] returned it.
    pub(crate) fn restore_user(&mut self, user: UserId, entry: Option<IndexedUser>) {
        match entry {
            Some(e) => self.users.insert(user, e),
            None => self.users.remove(&user),
        };
    }

    /// See `check::check`.
    pub(crate) fn check(&self, user: UserId, target: &Target, role: Role, now: Timestamp) -> Decision {
        let deny =
            |reason| Decision { allowed: false, expires_at: None, via: Vec::new(), reason: Some(reason) };
        let Some(u) = self.users.get(&user) else { return deny(DenyReason::UnknownTarget) };
        if !u.active {
            return deny(DenyReason::UserDisabled);
        }
        let Some(&tid) = self.targets.get(target) else { return deny(DenyReason::UnknownTarget) };
        let ws = self.workspace_of[tid as usize] as usize;
        if !self.known[tid as usize] || !self.known[ws] {
            return deny(DenyReason::UnknownTarget);
        }
        if !self.active[ws] {
            return deny(DenyReason::WorkspaceNotActive);
        }
        let now = now.as_micros();
        let mut via: Vec<Via> = u
            .entries
            .iter()
            .filter(|e| e.target == tid && e.starts <= now && now < e.expires && e.role.implies(role))
            .map(|e| Via {
                binding: e.binding,
                role: e.role,
                source: e.source,
                expires_at: (e.expires != i64::MAX).then(|| Timestamp::from_micros(e.expires)),
            })
            .collect();
        if via.is_empty() {
            return deny(DenyReason::NoBinding);
        }
        if via.len() > 1 {
            // Latest-ending first (never-ending first of all), then by binding id.
            via.sort_by(|a, b| {
                let ka = a.expires_at.map_or(i64::MAX, Timestamp::as_micros);
                let kb = b.expires_at.map_or(i64::MAX, Timestamp::as_micros);
                kb.cmp(&ka).then(a.binding.cmp(&b.binding))
            });
        }
        let expires_at = via[0].expires_at;
        Decision { allowed: true, expires_at, via, reason: None }
    }
}
