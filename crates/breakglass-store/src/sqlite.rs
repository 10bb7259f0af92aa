//! SQLite implementation of `Store` (stub: signatures only, being written).

use std::path::Path;

use async_trait::async_trait;
use breakglass_core::audit::{AuditEvent, ChainHead};
use breakglass_core::ident::UserId;
use breakglass_core::model::PasswordHash;
use breakglass_core::time::Timestamp;
use breakglass_core::{Changes, State};

use crate::{AuditFilter, Store, StoreError};

/// A SQLite database file in WAL mode.
#[derive(Clone, Debug)]
pub struct SqliteStore {}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let _ = path;
        unimplemented!()
    }

    /// A private in-memory database, for tests.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        unimplemented!()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn load_state(&self, _now: Timestamp) -> Result<State, StoreError> {
        unimplemented!()
    }
    async fn commit(&self, _base_seq: i64, _changes: &Changes) -> Result<ChainHead, StoreError> {
        unimplemented!()
    }
    async fn head(&self) -> Result<ChainHead, StoreError> {
        unimplemented!()
    }
    async fn password_hash(&self, _user: UserId) -> Result<Option<PasswordHash>, StoreError> {
        unimplemented!()
    }
    async fn audit(&self, _filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        unimplemented!()
    }
    async fn audit_after(&self, _after_seq: i64, _limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        unimplemented!()
    }
}
