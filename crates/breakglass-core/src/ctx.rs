//! The inputs every command gets from outside the core: the instant, the actor, and a seed for
//! new ids. Tests pass fixed values; nothing in the core reads a clock or a random source.

use std::cell::Cell;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ident::{Slug, UserId};
use crate::time::Timestamp;

/// Who is acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user (through a session or an API token).
    User(UserId),
    /// Breakglass itself: start-up, demo seeding, the expiry sweeper.
    System,
}

/// Limits on what a credential may do with its owner's rights. The default (a session or a
/// global API token of the actor themselves) limits nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// The person acting for the actor through a delegate access. The actor's rights are in
    /// use; the audit names this person as the one who acted.
    pub delegate: Option<UserId>,
    /// The workspaces the credential is confined to; `None`: not confined. A confined
    /// credential carries no admin-area power outside workspaces (settings, users, platforms).
    pub scope: Option<Vec<Slug>>,
    /// The credential may only read.
    pub read_only: bool,
}

impl Bounds {
    /// True when the credential may act in workspace `ws` at all.
    pub fn covers(&self, ws: &Slug) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(ws))
    }

    /// True for the actor's own unconfined, writable credential: the only kind that may manage
    /// tokens and accesses, so that no token or delegation can mint a broader one.
    pub fn is_unbounded(&self) -> bool {
        self.delegate.is_none() && self.scope.is_none() && !self.read_only
    }
}

/// The context of one command.
#[derive(Debug)]
pub struct Ctx {
    /// The instant the command happens at.
    pub now: Timestamp,
    /// Whose rights are in use.
    pub actor: Actor,
    /// What the credential in use limits those rights to.
    pub bounds: Bounds,
    seed: [u8; 16],
    issued: Cell<u64>,
}

impl Ctx {
    /// A context; `seed` must be fresh randomness (or a fixed value in tests).
    pub fn new(now: Timestamp, actor: Actor, seed: Uuid) -> Self {
        Self { now, actor, bounds: Bounds::default(), seed: *seed.as_bytes(), issued: Cell::new(0) }
    }

    /// The same context with the credential's limits.
    pub fn with_bounds(mut self, bounds: Bounds) -> Self {
        self.bounds = bounds;
        self
    }

    /// The next new id: distinct for every call within this context, derived from the seed.
    pub fn next_id(&self) -> Uuid {
        let n = self.issued.get();
        self.issued.set(n + 1);
        let digest = Sha256::new().chain_update(self.seed).chain_update(n.to_le_bytes()).finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// The acting user, unless the system acts.
    pub fn user(&self) -> Option<UserId> {
        match self.actor {
            Actor::User(u) => Some(u),
            Actor::System => None,
        }
    }
}
