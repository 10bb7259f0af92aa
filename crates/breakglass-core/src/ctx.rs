//! The inputs every command gets from outside the core: the instant, the actor, and a seed for
//! new ids. Tests pass fixed values; nothing in the core reads a clock or a random source.

use std::cell::Cell;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ident::UserId;
use crate::time::Timestamp;

/// Who is acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user (through a session or an API token).
    User(UserId),
    /// Breakglass itself: start-up, demo seeding, the expiry sweeper.
    System,
}

/// The context of one command.
#[derive(Debug)]
pub struct Ctx {
    /// The instant the command happens at.
    pub now: Timestamp,
    /// Who acts.
    pub actor: Actor,
    seed: [u8; 16],
    issued: Cell<u64>,
}

impl Ctx {
    /// A context; `seed` must be fresh randomness (or a fixed value in tests).
    pub fn new(now: Timestamp, actor: Actor, seed: Uuid) -> Self {
        Self { now, actor, seed: *seed.as_bytes(), issued: Cell::new(0) }
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
