//! The pure domain of Breakglass: the model, the rules, the check and the audit chain.
//!
//! Nothing here performs IO, reads a clock or draws randomness: time, the actor and id seeds
//! are inputs (`ctx::Ctx`). `clippy.toml` in this crate forbids the usual ways around that, and
//! `tests/purity.rs` keeps the dependency list free of IO crates.

pub mod access;
pub mod audit;
pub mod authz;
pub mod change;
pub mod check;
pub mod cmd;
pub mod ctx;
pub mod delegation;
pub mod error;
pub mod ident;
pub mod index;
pub mod model;
pub mod org;
pub mod platform;
pub mod provision;
pub mod role;
pub mod ssh;
pub mod state;
pub mod time;

pub use change::{Change, Changes};
pub use ctx::{Actor, Bounds, Ctx};
pub use error::DomainError;
pub use state::State;
