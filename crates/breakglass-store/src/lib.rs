//! Persistence: the `Store` trait and its implementations.
//!
//! The store is the source of truth. It commits a command's `Changes` and its audit events in
//! one transaction, sealing each event into the hash chain; it loads the live model at start-up;
//! it answers audit queries. It holds no business rules beyond the two guards that must hold
//! even against a concurrent writer: the chain head a decision was based on, and a workspace's
//! project quota. (It also refuses to extend a binding that is not live, to update a workspace
//! or project that does not exist and to delete a tag definition that does not: each would be a
//! bug, the model and the database disagreeing.)
//!
//! Code map: `migrate` holds the embedded, forward-only SQL trees (`migrations/sqlite/` and
//! `migrations/postgres/`, the same versions in each dialect) and decides which versions a
//! database still needs; `sqlite` is the embedded backend (`sqlite/load.rs` loads the model at
//! start-up, `sqlite/verify.rs` reads the chain for `audit verify`); `postgres` is the backend
//! several replicas share (`postgres/load.rs` streams the model in at start-up); `codec` is how both store records in columns and read them back, so
//! a row means the same in either; `tests/contract.rs` is the one suite every backend passes,
//! PostgreSQL's when `BREAKGLASS_TEST_DATABASE_URL` names a server.
//!
//! Backends differ only in how they make a commit atomic against other writers: SQLite takes
//! the database's write lock (`BEGIN IMMEDIATE`), PostgreSQL a transaction-scoped advisory lock
//! before reading the head. Either way the head check, the quota count and the writes happen
//! under that lock.
//!
//! Architecture Invariant: a change and the audit events explaining it are written in one
//! transaction, after checking the chain head under the write lock; the audit table refuses
//! UPDATE and DELETE in the database itself (and TRUNCATE in PostgreSQL).

mod apply;
mod codec;
pub mod migrate;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use breakglass_core::audit::{AuditEvent, BrokenLink, ChainHead, ChainVerifier, StoredEvent};
use breakglass_core::ident::{TokenId, UserId};
use breakglass_core::model::PasswordHash;
use breakglass_core::time::Timestamp;
use breakglass_core::{Changes, State};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The chain head moved since the decision was made (another writer committed first).
    /// Reload what changed and decide again.
    #[error("the audit log moved on to seq {actual} (expected {expected})")]
    HeadMoved {
        /// The head the caller expected.
        expected: i64,
        /// The head found.
        actual: i64,
    },
    /// A project creation would exceed the workspace's quota.
    #[error("workspace '{workspace}' has reached its project quota")]
    QuotaExceeded {
        /// The workspace.
        workspace: String,
    },
    /// A unique key already exists; the text names it, e.g. `workspace 'team-a'` or
    /// `user e-mail 'a@example.com'`.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// A stored row cannot be read back into the model, or a change contradicts what is stored
    /// (an `ExtendBinding` of a binding that is not live, an `UpdateWorkspace` or
    /// `UpdateProject` of a row that does not exist, a `DeleteTagDefinition` of a key that is
    /// not defined): either way a bug, not bad input.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Which audit events to list. Results are in ascending `seq` order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this workspace (and its projects).
    pub workspace: Option<String>,
    /// Only this project. Project identifiers are unique only within a workspace, so set
    /// `workspace` too; alone it matches that project identifier in every workspace.
    pub project: Option<String>,
    /// Only these event types (empty: all).
    pub types: Vec<String>,
    /// Only events with `seq` greater than this.
    pub after_seq: Option<i64>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// At most this many events (0 returns none: there is no "unlimited").
    pub limit: u32,
}

/// The persistence contract every backend fulfils; `tests/contract.rs` checks it.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending forward-only migrations.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Loads the live model: users, workspaces and projects with their tags, policies,
    /// entitlements, every request (terminal ones too) and review, the settings (the core's
    /// defaults when none were ever put), every invitation (decided ones too), tag definitions
    /// and messages, bindings not yet ended, tokens neither revoked nor expired at `now`, and
    /// the chain head. Also platforms, tenants and service users not deleted.
    async fn load_state(&self, now: Timestamp) -> Result<State, StoreError>;

    /// Commits `changes` and seals their events after the current head, all or nothing.
    /// Fails with `HeadMoved` when the head is not `base_seq`, with `QuotaExceeded` when a
    /// project creation would exceed its quota, and with `Corrupt` when an `ExtendBinding`
    /// names no live binding, an `UpdateWorkspace` or `UpdateProject` no existing row, or a
    /// `DeleteTagDefinition` no defined key. Returns the new head.
    async fn commit(&self, base_seq: i64, changes: &Changes) -> Result<ChainHead, StoreError>;

    /// Commits several commands' outcomes in one transaction (one durable write for them all),
    /// as if each were committed in turn: the first after `base_seq`, each next one after the
    /// head the previous one reached, every one with its own change-log entry. All or nothing:
    /// any failure leaves none of them committed. Returns the head each one reached.
    async fn commit_group(&self, base_seq: i64, group: &[Changes]) -> Result<Vec<ChainHead>, StoreError>;

    /// The current chain head.
    async fn head(&self) -> Result<ChainHead, StoreError>;

    /// The password hash of a user, if they have one.
    async fn password_hash(&self, user: UserId) -> Result<Option<PasswordHash>, StoreError>;

    /// Audit events matching `filter`, ascending by `seq`.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError>;

    /// Up to `limit` events with `seq > after_seq`, ascending: the raw chain, for verification
    /// and for following changes made by other replicas.
    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;

    /// The same events as [`audit_after`](Store::audit_after), as stored: `details` is the
    /// stored JSON text, not decoded, so that verification hashes what is stored as it is.
    async fn stored_events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// Verifies the chain from its first event to `end_seq`: every event with
    /// `0 < seq <= end_seq` is checked as stored, in order, by the core's [`ChainVerifier`], on
    /// up to `threads` threads, and the log must end at `end_seq`. Names the first broken link
    /// as checking event by event would. The default reads pages through
    /// [`stored_events_after`](Store::stored_events_after) ([`verify_in_pages`]); a backend may
    /// read its rows faster, never more leniently.
    async fn verify_chain(&self, end_seq: i64, threads: usize) -> Result<ChainCheck, StoreError> {
        verify_in_pages(self, end_seq, threads).await
    }

    /// Records when tokens were last used (bookkeeping outside the audit chain: it changes
    /// nobody's rights). Keeps the later of the stored and the given instant.
    async fn record_token_use(&self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError>;

    /// Up to `limit` commits after audit sequence `after_seq`, oldest first, with their record
    /// changes: how a replica follows the others' writes without reloading everything.
    async fn changes_after(&self, after_seq: i64, limit: u32) -> Result<Vec<CommittedChanges>, StoreError>;

    /// The highest audit sequence the change log records a commit for (0 when it is empty): an
    /// anchor of the chain's head outside the events table, since every commit writes both.
    async fn change_log_head(&self) -> Result<i64, StoreError>;

    /// When each of `tokens` was last used, for those ever used.
    async fn token_last_used(&self, tokens: &[TokenId]) -> Result<Vec<(TokenId, Timestamp)>, StoreError>;

    /// Takes or renews the lease `name` for `holder` until `until`, unless another holder's
    /// lease lasts beyond `now`: how replicas agree that one of them at a time does a job (such
    /// as reconciling a platform). True when `holder` holds it now. Outside the audit chain.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives up the lease `name` if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// What [`Store::verify_chain`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCheck {
    /// The last event that verified (seq 0 when none did).
    pub head: ChainHead,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// Events read per page by [`verify_in_pages`].
const VERIFY_PAGE: u32 = 10_000;

/// [`Store::verify_chain`] through [`Store::stored_events_after`]: each page is hashed on up
/// to `threads` threads (on a blocking thread) while the next page is read.
pub async fn verify_in_pages<S: Store + ?Sized>(
    store: &S,
    end_seq: i64,
    threads: usize,
) -> Result<ChainCheck, StoreError> {
    let mut v = ChainVerifier::new();
    let mut broken = None;
    let mut batch = if end_seq > 0 { store.stored_events_after(0, VERIFY_PAGE).await? } else { Vec::new() };
    while let Some(last) = batch.last().map(|e| e.seq) {
        batch.truncate(batch.partition_point(|e| e.seq <= end_seq));
        let next = async {
            if last < end_seq {
                store.stored_events_after(last, VERIFY_PAGE).await
            } else {
                Ok(Vec::new())
            }
        };
        let check = tokio::task::spawn_blocking(move || {
            let checked = v.push_stored(&batch, threads);
            (v, checked)
        });
        let (next, checked) = tokio::join!(next, check);
        let (verifier, checked) = match checked {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(StoreError::Database(sqlx::Error::WorkerCrashed)),
        };
        v = verifier;
        if let Err(b) = checked {
            broken = Some(b);
            break;
        }
        batch = next?;
    }
    let broken = broken.or_else(|| v.finish(end_seq).err());
    Ok(ChainCheck { head: v.head(), broken })
}

/// Refuses a commit decided on `base_seq` when the head is elsewhere.
pub(crate) fn check_base(base_seq: i64, head: ChainHead) -> Result<(), StoreError> {
    if head.seq == base_seq {
        Ok(())
    } else {
        Err(StoreError::HeadMoved { expected: base_seq, actual: head.seq })
    }
}

/// `applied_at` is bookkeeping for operators, and so is `settings.updated_at` of a commit without
/// events: the only places the store reads the clock itself.
pub(crate) fn wall_clock_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// One commit as the change log keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct CommittedChanges {
    /// The head the commit was decided on.
    pub base_seq: i64,
    /// The head it reached.
    pub head: ChainHead,
    /// Its record changes, in order (a new user's password hash is never logged).
    pub changes: Vec<breakglass_core::Change>,
}

/// Decodes a change-log row.
pub(crate) fn committed_changes(
    seq: i64,
    base_seq: i64,
    hash: &[u8],
    changes: &str,
) -> Result<CommittedChanges, StoreError> {
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("audit event {seq}: hash is not 32 bytes")))?;
    let changes = serde_json::from_str(changes)
        .map_err(|e| StoreError::Corrupt(format!("change log {seq}: unreadable changes: {e}")))?;
    Ok(CommittedChanges { base_seq, head: ChainHead { seq, hash }, changes })
}
