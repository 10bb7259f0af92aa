//! The running application: the store, the in-memory model kept in step with it, the clock, and
//! the single write path every use case goes through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use breakglass_core::audit::ChainHead;
use breakglass_core::ident::TokenId;
use breakglass_core::time::Timestamp;
use breakglass_core::{Changes, Ctx, DomainError, State};
use breakglass_store::{Store, StoreError};
use uuid::Uuid;

pub use crate::auth::Principal;
use crate::error::ApiError;

/// Where the server gets the time from. Tests use a manual clock to reach an instant exactly.
#[derive(Clone)]
pub enum Clock {
    /// The system clock.
    System,
    /// A clock that only moves when told to.
    Manual(Arc<Mutex<Timestamp>>),
}

impl Clock {
    /// A manual clock starting at `at`.
    pub fn manual(at: Timestamp) -> Self {
        Self::Manual(Arc::new(Mutex::new(at)))
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            Self::System => {
                let micros = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
                Timestamp::from_micros(micros)
            }
            Self::Manual(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sets a manual clock; does nothing to the system clock.
    pub fn set(&self, at: Timestamp) {
        if let Self::Manual(t) = self {
            *t.lock().unwrap_or_else(|p| p.into_inner()) = at;
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("Clock::System"),
            Self::Manual(_) => write!(f, "Clock::Manual({})", self.now()),
        }
    }
}

/// Shared application state.
pub struct App {
    /// The source of truth.
    pub store: Arc<dyn Store>,
    state: Arc<RwLock<State>>,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The clock.
    pub clock: Clock,
    /// Token uses not yet written to the store (see [`App::flush_token_use`]).
    token_use: Mutex<HashMap<TokenId, Timestamp>>,
    /// The last attempt to compare with the database failed (see [`App::is_stale`]).
    stale: AtomicBool,
    /// Full reloads since start-up (see [`App::full_reloads`]).
    reloads: AtomicU64,
}

/// The outcome of a committed command.
#[derive(Debug)]
pub struct Committed<T> {
    /// What the command returned.
    pub value: T,
    /// The audit sequence the change committed at (or the current one for a no-op).
    pub seq: i64,
}

/// Commits applied per change-log read while catching up.
const CATCH_UP_BATCH: u32 = 1000;

/// How often a command is retried when another writer got there first.
const MAX_ATTEMPTS: usize = 5;

impl App {
    /// Loads the model from `store` and wraps it.
    pub async fn load(store: Arc<dyn Store>, clock: Clock) -> Result<Self, StoreError> {
        let state = store.load_state(clock.now()).await?;
        Ok(Self {
            store,
            state: Arc::new(RwLock::new(state)),
            writer: Arc::new(tokio::sync::Mutex::new(())),
            clock,
            token_use: Mutex::new(HashMap::new()),
            stale: AtomicBool::new(false),
            reloads: AtomicU64::new(0),
        })
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Read access to the live model. Never hold the guard across an `.await`.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The chain head the model reflects.
    pub fn head(&self) -> ChainHead {
        self.state().head()
    }

    /// Runs a command and commits its outcome: decide on the current model, commit changes and
    /// events in one store transaction, then apply the same changes to the model.
    ///
    /// Writes are serialised in-process; if the store's head has moved anyway (another process
    /// on the same database), the model is reloaded and the command decided again.
    ///
    /// Commit and apply run in a task of their own that holds the writer lock: if the caller's
    /// future is dropped (the client hung up), a commit that reached the database is still
    /// applied to the model, so checks never answer from a state older than the database.
    ///
    /// A read-only credential is refused here, before anything is decided: this is the only
    /// write path, so no command can slip past it.
    pub async fn execute<T>(
        &self,
        principal: impl Into<Principal>,
        decide: impl Fn(&State, &Ctx) -> Result<(Changes, T), DomainError>,
    ) -> Result<Committed<T>, ApiError> {
        let Principal { actor, bounds } = principal.into();
        if bounds.read_only {
            return Err(DomainError::Forbidden {
                code: "token.read_only",
                message: "this token is read-only; it cannot change anything".into(),
            }
            .into());
        }
        let mut writer = self.writer.clone().lock_owned().await;
        for _ in 0..MAX_ATTEMPTS {
            let ctx = Ctx::new(self.now(), actor, Uuid::new_v4()).with_bounds(bounds.clone());
            let (decided, base) = {
                let state = self.state();
                (decide(&state, &ctx), state.head().seq)
            };
            let (changes, value) = match decided {
                Ok(outcome) => outcome,
                Err(refusal) => {
                    // A refusal decided on a model another process has moved past may be wrong
                    // (a quota raised, a request approved elsewhere): check, and decide again.
                    // If the store cannot be asked, the refusal stands as decided.
                    match self.store.head().await {
                        Ok(head) if head.seq != base => {
                            self.catch_up().await?;
                            continue;
                        }
                        _ => return Err(refusal.into()),
                    }
                }
            };
            if changes.is_empty() {
                return Ok(Committed { value, seq: base });
            }
            if changes.events.is_empty() {
                tracing::error!("a command produced changes without audit events; refusing to commit");
                return Err(ApiError::internal());
            }
            let (store, state) = (self.store.clone(), self.state.clone());
            let task = tokio::spawn(async move {
                let result = store.commit(base, &changes).await;
                if let Ok(head) = &result {
                    state.write().unwrap_or_else(|p| p.into_inner()).apply_all(&changes, *head);
                }
                (result, writer)
            });
            let (result, held) = task.await.map_err(|e| {
                tracing::error!(error = %e, "commit task failed");
                ApiError::internal()
            })?;
            writer = held;
            match result {
                Ok(head) => return Ok(Committed { value, seq: head.seq }),
                Err(StoreError::HeadMoved { expected, actual }) => {
                    tracing::info!(expected, actual, "audit head moved under us; reloading the model");
                    self.catch_up().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::HeadMoved { expected: -1, actual: -1 }.into())
    }

    /// Catches the model up with changes other processes committed to the same database: a
    /// cheap head comparison, and a reload when it moved. Holds the writer so that no commit of
    /// this process is applied in between.
    pub async fn sync(&self) -> Result<bool, StoreError> {
        let _writer = self.writer.lock().await;
        let head = match self.store.head().await {
            Ok(head) => head,
            Err(e) => {
                self.stale.store(true, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.stale.store(false, Ordering::Relaxed);
        if head == self.head() {
            return Ok(false);
        }
        self.catch_up().await?;
        Ok(true)
    }

    /// True when the last attempt to reach the database failed: checks still answer from the
    /// index, writes fail with 503 until it is back.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// Waits until the model includes audit sequence `seq`, catching up with the database, for at
    /// most `patience`. Returns the head reached when it is still behind.
    pub async fn wait_for_seq(&self, seq: i64, patience: std::time::Duration) -> Result<(), i64> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if self.head().seq >= seq {
                return Ok(());
            }
            // Another process may have committed it: look (a failure leaves us behind).
            let _ = self.sync().await;
            if self.head().seq >= seq {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.head().seq);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Rebuilds the model from the store.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let fresh = self.store.load_state(self.now()).await?;
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many times the model was rebuilt from scratch since start-up (following other
    /// replicas normally applies their changes instead).
    pub fn full_reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Brings the model up to the store's head by applying the change log's commits after its
    /// own head, in order; reloads everything when the log cannot show an unbroken sequence
    /// from there (commits from before the log existed, or a log this binary cannot read).
    /// Callers hold the writer lock, so no commit of this process interleaves.
    async fn catch_up(&self) -> Result<(), StoreError> {
        loop {
            let mine = self.head();
            let batch = match self.store.changes_after(mine.seq, CATCH_UP_BATCH).await {
                Ok(batch) => batch,
                Err(StoreError::Corrupt(why)) => {
                    tracing::warn!(%why, "cannot follow the change log; reloading the model");
                    return self.reload().await;
                }
                Err(e) => return Err(e),
            };
            let Some(first) = batch.first() else { return Ok(()) };
            let unbroken =
                first.base_seq == mine.seq && batch.windows(2).all(|w| w[1].base_seq == w[0].head.seq);
            if !unbroken {
                tracing::info!(from = mine.seq, "the change log has a gap; reloading the model");
                return self.reload().await;
            }
            let full = batch.len() == CATCH_UP_BATCH as usize;
            {
                let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                for c in batch {
                    state.apply_all(&Changes { changes: c.changes, events: Vec::new() }, c.head);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Notes that a token authenticated a request at `at` (kept in memory until the next flush,
    /// so that authentication never waits for the database).
    pub fn note_token_use(&self, token: TokenId, at: Timestamp) {
        self.token_use.lock().unwrap_or_else(|p| p.into_inner()).insert(token, at);
    }

    /// When each of `tokens` was last used: the unflushed uses of this process, else the store's.
    pub async fn token_last_used(
        &self,
        tokens: &[TokenId],
    ) -> Result<HashMap<TokenId, Timestamp>, StoreError> {
        let mut out: HashMap<TokenId, Timestamp> =
            self.store.token_last_used(tokens).await?.into_iter().collect();
        let pending = self.token_use.lock().unwrap_or_else(|p| p.into_inner());
        for t in tokens {
            if let Some(at) = pending.get(t) {
                let e = out.entry(*t).or_insert(*at);
                *e = (*e).max(*at);
            }
        }
        Ok(out)
    }

    /// Writes the noted token uses to the store. Last-use times are bookkeeping, not audited
    /// state: a crash loses at most one flush interval of them.
    pub async fn flush_token_use(&self) -> Result<(), StoreError> {
        let uses: Vec<(TokenId, Timestamp)> =
            std::mem::take(&mut *self.token_use.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if let Err(e) = self.store.record_token_use(&uses).await {
            // Keep them for the next attempt, unless newer uses arrived meanwhile.
            let mut pending = self.token_use.lock().unwrap_or_else(|p| p.into_inner());
            for (t, at) in uses {
                pending.entry(t).or_insert(at);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Forgets tokens that expired; they already fail authentication, this only frees memory.
    pub fn prune_tokens(&self) {
        let now = self.now();
        self.state.write().unwrap_or_else(|p| p.into_inner()).prune_tokens(now);
    }
}
