//! The audit log's events and its SHA-256 hash chain.
//!
//! `hash = SHA-256(prev_hash || canonical bytes of the event)`. The canonical bytes are a JSON
//! object with a fixed key order whose `details` have their keys sorted at every level, so the
//! hash does not depend on how a map happened to be ordered in memory or in the database.

mod canonical;
mod events;
#[cfg(test)]
mod tests;
mod verify;

pub use canonical::{canonical_bytes, canonical_json, chain_hash, stored_canonical_bytes};
pub use events::*;
pub use verify::*;
