//! The running application: the store, the in-memory model kept in step with it, the clock, and
//! the single write path every use case goes through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use breakglass_core::audit::ChainHead;
use breakglass_core::ident::TokenId;
use breakglass_core::state::Undo;
use breakglass_core::time::Timestamp;
use breakglass_core::{Changes, Ctx, DomainError, State};
use breakglass_store::{Store, StoreError};
use tokio::sync::watch;
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
    /// Held to decide a command, to commit a group, and to catch up with the database.
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// The clock.
    pub clock: Clock,
    /// Token uses not yet written to the store (see [`App::flush_token_use`]).
    token_use: Mutex<HashMap<TokenId, Timestamp>>,
    /// The last attempt to compare with the database failed (see [`App::is_stale`]).
    stale: Arc<AtomicBool>,
    /// Since when a call to the store made under the writer lock has been waiting (see
    /// [`App::is_stale`]).
    busy: Arc<Busy>,
    /// When the last head read under the writer lock began (see [`App::catch_up_since`]).
    last_head_read: AtomicU64,
    /// How long a write waits for the database before it answers 503, in milliseconds.
    patience_ms: AtomicU64,
    /// Failed sign-ins counted per account and per client address.
    pub throttle: crate::throttle::SignInThrottle,
    /// Peers whose `X-Forwarded-For` names the client (see [`crate::auth::ClientAddr`]).
    trusted_proxies: RwLock<Vec<std::net::IpAddr>>,
    /// Why writes are refused: the audit log failed an integrity check (see [`App::integrity`]).
    integrity: RwLock<Option<String>>,
    /// Where signed checkpoints of the chain's head go (see [`crate::integrity`]).
    checkpoints: std::sync::OnceLock<Arc<crate::integrity::Checkpoints>>,
    /// Full reloads since start-up (see [`App::full_reloads`]).
    reloads: Arc<AtomicU64>,
    /// How many commits carried how many commands (see [`App::group_sizes`]).
    group_sizes: Arc<GroupSizes>,
    /// The most commands a group takes (see [`App::limit_groups`]).
    max_group: AtomicUsize,
    /// The head of the live model, announced whenever it moves (see [`App::watch_head`]).
    head_tx: Arc<watch::Sender<i64>>,
    /// Seals and opens secret platform settings (see [`crate::seal`]).
    sealer: std::sync::OnceLock<Arc<crate::seal::Sealer>>,
    /// What the provisioning engine of this process is doing (see [`crate::provision`]).
    pub provisioning: crate::provision::Registry,
}

/// What the writer lock guards besides the right to write: the group being formed.
#[derive(Default)]
struct Writer {
    open: Option<OpenGroup>,
}

/// Commands decided and waiting to be committed together.
struct OpenGroup {
    /// The head of the live model they were decided on.
    base: i64,
    /// Their outcomes in the order decided, each decided on the model including the ones before.
    members: Vec<Changes>,
    /// Where the group's outcome is announced to its members.
    done: watch::Sender<Option<Arc<GroupOutcome>>>,
}

/// How a group's commit ended.
enum GroupOutcome {
    /// Committed and applied to the model: the head each member reached.
    Committed(Vec<ChainHead>),
    /// Another process committed first, or the model moved since the group was decided; the
    /// model has caught up: decide again.
    HeadMoved,
    /// The store refused the group for one member's sake (a quota, a duplicate) and wrote
    /// nothing: decide again and commit alone, so that the refusal reaches only that member.
    Separately,
    /// The store failed; nothing of the group is in the database or the model. The first
    /// member to look takes the error, the others answer that the database is unavailable.
    Failed(Mutex<Option<StoreError>>),
}

/// Why [`App::wait_for_seq`] gave up; each holds the head this server reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behind {
    /// The database's own head is before the sequence asked for.
    Unreached(i64),
    /// The database could not be read in time.
    Unreachable(i64),
}

/// Commits per number of commands they carried.
struct GroupSizes([AtomicU64; MAX_GROUP + 1]);

/// Since when the store has been working on a call made under the writer lock: one at a time,
/// since the lock serialises them. A call that has taken longer than [`STALE_AFTER`] means the
/// database is not answering, whatever the call is.
struct Busy {
    /// Nanoseconds from `epoch` at which the call began; 0: none under way.
    since: AtomicU64,
    epoch: std::time::Instant,
}

impl Busy {
    fn new() -> Self {
        Self { since: AtomicU64::new(0), epoch: std::time::Instant::now() }
    }

    /// Nanoseconds since `epoch` (at least 1, so that 0 can mean "none").
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1)
    }

    /// Marks a call under way until the guard is dropped.
    fn start(&self) -> BusyGuard<'_> {
        self.since.store(self.now(), Ordering::Relaxed);
        BusyGuard(self)
    }

    /// How long the call under way has been waiting.
    fn waiting(&self) -> std::time::Duration {
        match self.since.load(Ordering::Relaxed) {
            0 => std::time::Duration::ZERO,
            since => std::time::Duration::from_nanos(self.now().saturating_sub(since)),
        }
    }
}

struct BusyGuard<'a>(&'a Busy);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.since.store(0, Ordering::Relaxed);
    }
}

/// How long a call to the store may take before `/healthz` says the model may be stale.
/// Healthy calls take milliseconds; the replica follows every 50 ms.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a write waits for the database by default before answering 503
/// `store.unavailable` ([`App::set_patience`]).
pub const WRITE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(1500);

/// The least a write waits for its commit's outcome once decided, however late in its
/// [`WRITE_PATIENCE`] that is.
const LAST_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

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

/// The most commands one group commit carries. Deciding a command re-applies (and undoes) the
/// changes of the commands decided before it in its group, so the work of deciding a group
/// grows with the square of its size; past this, commands wait for the next group.
const MAX_GROUP: usize = 64;

/// How often a group's committer lets other tasks run before it queues for the writer lock.
const COMMIT_YIELDS: usize = 4;

impl App {
    /// Loads the model from `store` and wraps it.
    pub async fn load(store: Arc<dyn Store>, clock: Clock) -> Result<Self, StoreError> {
        let state = store.load_state(clock.now()).await?;
        Ok(Self {
            store,
            state: Arc::new(RwLock::new(state)),
            writer: Arc::new(tokio::sync::Mutex::new(Writer::default())),
            clock,
            token_use: Mutex::new(HashMap::new()),
            stale: Arc::new(AtomicBool::new(false)),
            busy: Arc::new(Busy::new()),
            last_head_read: AtomicU64::new(0),
            patience_ms: AtomicU64::new(u64::try_from(WRITE_PATIENCE.as_millis()).unwrap_or(u64::MAX)),
            throttle: crate::throttle::SignInThrottle::default(),
            trusted_proxies: RwLock::new(Vec::new()),
            integrity: RwLock::new(None),
            checkpoints: std::sync::OnceLock::new(),
            reloads: Arc::new(AtomicU64::new(0)),
            group_sizes: Arc::new(GroupSizes(std::array::from_fn(|_| AtomicU64::new(0)))),
            max_group: AtomicUsize::new(MAX_GROUP),
            head_tx: Arc::new(watch::channel(0).0),
            sealer: std::sync::OnceLock::new(),
            provisioning: crate::provision::Registry::default(),
        })
    }

    /// A receiver that sees the live model's head each time it moves (a commit of this
    /// process, or another's followed).
    pub fn watch_head(&self) -> watch::Receiver<i64> {
        self.head_tx.subscribe()
    }

    /// Announces the live model's head to [`App::watch_head`]'s receivers.
    fn announce(&self) {
        announce(&self.state, &self.head_tx);
    }

    /// Sets the sealer of secret platform settings (once, at start-up).
    pub fn set_sealer(&self, sealer: Arc<crate::seal::Sealer>) {
        let _ = self.sealer.set(sealer);
    }

    /// The sealer of secret platform settings.
    pub fn sealer(&self) -> Option<&Arc<crate::seal::Sealer>> {
        self.sealer.get()
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
    /// Group commit: commands that arrive while a commit is under way are decided one after
    /// another, each on the model including the changes of those decided before it in the same
    /// group, then committed together in one transaction (one durable write) and applied at
    /// once. Those earlier changes are applied to the live model only for the instant of the
    /// decision, under its write lock, and undone before the lock is released: checks never see
    /// a change before its commit. Nobody is answered before the transaction holding their
    /// change has committed, and a refusal or no-op decided on such changes waits for them too.
    /// When the group fails nothing of it is applied; when the store refuses it for one member
    /// (a quota, a duplicate), each member is decided again and committed alone.
    ///
    /// Writes are serialised in-process; if the store's head has moved anyway (another process
    /// on the same database), the model catches up and the command is decided again.
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
        if let Some(why) = self.integrity() {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "audit.integrity",
                format!("writes are refused until an operator has looked into it: {why}"),
            ));
        }
        if bounds.read_only {
            return Err(DomainError::Forbidden {
                code: "token.read_only",
                message: "this token is read-only; it cannot change anything".into(),
            }
            .into());
        }
        // One deadline for the whole write: time spent waiting for the writer (held by a look
        // at a database that stopped answering) is not waited again for the commit. A wait that
        // starts late still gets a moment, so a commit under way can answer.
        let deadline = tokio::time::Instant::now() + self.patience();
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now()).max(LAST_WAIT);
        let mut alone = false;
        let mut attempts = 0;
        while attempts < MAX_ATTEMPTS {
            let mut writer = self.lock_writer_until(deadline).await?;
            let max_group = self.max_group.load(Ordering::Relaxed);
            if let Some(full) = writer.open.as_ref().filter(|g| !alone && g.members.len() >= max_group) {
                let done = full.done.subscribe();
                drop(writer);
                wait(done, left()).await?;
                continue;
            }
            attempts += 1;
            let ctx = Ctx::new(self.now(), actor, Uuid::new_v4()).with_bounds(bounds.clone());
            let pending = match &writer.open {
                Some(group) if !alone => group.members.as_slice(),
                _ => &[],
            };
            let speculative = !pending.is_empty();
            let (decided, base) = self.decide_on(pending, &decide, &ctx);
            let (changes, value) = match decided {
                Ok(outcome) => outcome,
                Err(refusal) => {
                    // A refusal decided on a model another process has moved past may be wrong
                    // (a quota raised, a request approved elsewhere): check, and decide again.
                    // If the store cannot be asked, the refusal stands as decided.
                    match self.within(self.store.head()).await {
                        Ok(Ok(head)) if head.seq != base => {
                            self.within(self.catch_up()).await.map_err(|_| ApiError::unavailable())??;
                            continue;
                        }
                        _ if speculative => match observe(writer, left()).await? {
                            Some(_) => return Err(refusal.into()),
                            None => continue,
                        },
                        _ => return Err(refusal.into()),
                    }
                }
            };
            if changes.is_empty() {
                if !speculative {
                    return Ok(Committed { value, seq: base });
                }
                match observe(writer, left()).await? {
                    Some(seq) => return Ok(Committed { value, seq }),
                    None => continue,
                }
            }
            if changes.events.is_empty() {
                tracing::error!("a command produced changes without audit events; refusing to commit");
                return Err(ApiError::internal());
            }
            if alone {
                match self.commit_alone(writer, base, changes, left()).await? {
                    Ok(head) => return Ok(Committed { value, seq: head.seq }),
                    Err(StoreError::HeadMoved { expected, actual }) => {
                        tracing::info!(expected, actual, "audit head moved under us; catching up");
                        self.within(self.catch_up()).await.map_err(|_| unknown_outcome())??;
                        continue;
                    }
                    Err(e) => return Err(self.failed(e)),
                }
            }
            let (member, done) = match &mut writer.open {
                Some(group) => {
                    group.members.push(changes);
                    (group.members.len() - 1, group.done.subscribe())
                }
                None => {
                    let (tx, rx) = watch::channel(None);
                    writer.open = Some(OpenGroup { base, members: vec![changes], done: tx });
                    self.spawn_committer();
                    (0, rx)
                }
            };
            drop(writer);
            match &*wait(done, left()).await? {
                GroupOutcome::Committed(heads) => {
                    let head = heads.get(member).ok_or_else(|| {
                        tracing::error!(member, heads = heads.len(), "a group commit lost a member");
                        ApiError::internal()
                    })?;
                    return Ok(Committed { value, seq: head.seq });
                }
                GroupOutcome::HeadMoved => {}
                GroupOutcome::Separately => alone = true,
                GroupOutcome::Failed(error) => {
                    let error = error.lock().unwrap_or_else(|p| p.into_inner()).take();
                    self.stale.store(true, Ordering::Relaxed);
                    return Err(error.map_or_else(ApiError::unavailable, ApiError::from));
                }
            }
        }
        Err(StoreError::HeadMoved { expected: -1, actual: -1 }.into())
    }

    /// Decides a command on the live model with `pending` (the changes of the commands decided
    /// before it in the open group) applied for the instant of the decision. Returns the
    /// decision and the head of the live model.
    fn decide_on<T>(
        &self,
        pending: &[Changes],
        decide: &impl Fn(&State, &Ctx) -> Result<(Changes, T), DomainError>,
        ctx: &Ctx,
    ) -> (Result<(Changes, T), DomainError>, i64) {
        if pending.is_empty() {
            // Nothing to apply: readers go on meanwhile.
            let state = self.state();
            return (decide(&state, ctx), state.head().seq);
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let base = state.head().seq;
        let speculation = Speculation::new(&mut state, pending);
        let decided = decide(&*speculation.state, ctx);
        drop(speculation);
        (decided, base)
    }

    /// Commits one command by itself, holding the writer lock, in a task of its own (see
    /// [`App::execute`]).
    async fn commit_alone(
        &self,
        writer: tokio::sync::OwnedMutexGuard<Writer>,
        base: i64,
        changes: Changes,
        patience: std::time::Duration,
    ) -> Result<Result<ChainHead, StoreError>, ApiError> {
        let (store, state, sizes) = (self.store.clone(), self.state.clone(), self.group_sizes.clone());
        let (busy, head_tx) = (self.busy.clone(), self.head_tx.clone());
        let task = tokio::spawn(async move {
            let result = {
                let _busy = busy.start();
                store.commit(base, &changes).await
            };
            if let Ok(head) = &result {
                state.write().unwrap_or_else(|p| p.into_inner()).apply_all(&changes, *head);
                sizes.record(1);
                announce(&state, &head_tx);
            }
            drop(writer);
            result
        });
        // The commit goes on when this gives up waiting: its outcome lands in the model either way.
        match tokio::time::timeout(patience, task).await {
            Ok(joined) => joined.map_err(|e| {
                tracing::error!(error = %e, "commit task failed");
                ApiError::internal()
            }),
            Err(_) => Err(unknown_outcome()),
        }
    }

    /// Takes the writer lock, waiting at most [`App::patience`]: a writer that holds it longer is
    /// waiting for a database that does not answer, and nothing was decided for this caller yet.
    async fn lock_writer(&self) -> Result<tokio::sync::OwnedMutexGuard<Writer>, ApiError> {
        self.lock_writer_until(tokio::time::Instant::now() + self.patience()).await
    }

    /// [`App::lock_writer`], giving up at `deadline`.
    async fn lock_writer_until(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<tokio::sync::OwnedMutexGuard<Writer>, ApiError> {
        tokio::time::timeout_at(deadline, self.writer.clone().lock_owned()).await.map_err(|_| {
            tracing::warn!("a write waited for the database too long; answering 503");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "store.unavailable",
                "the database is not answering; nothing was changed, try again",
            )
        })
    }

    /// Runs a store call under the writer lock, marking it under way and waiting for it at most
    /// [`App::patience`].
    async fn within<T>(
        &self,
        call: impl std::future::Future<Output = T>,
    ) -> Result<T, tokio::time::error::Elapsed> {
        let _busy = self.busy.start();
        tokio::time::timeout(self.patience(), call).await
    }

    /// A store failure as an answer; a database error also marks the model stale until the next
    /// successful look at the database.
    fn failed(&self, e: StoreError) -> ApiError {
        if matches!(e, StoreError::Database(_)) {
            self.stale.store(true, Ordering::Relaxed);
        }
        e.into()
    }

    /// How long a write waits for the database before answering 503 `store.unavailable`.
    pub fn patience(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.patience_ms.load(Ordering::Relaxed))
    }

    /// Why writes are refused, when the audit log failed an integrity check: its head is behind
    /// the change log or a signed checkpoint, or went back while this server ran.
    pub fn integrity(&self) -> Option<String> {
        self.integrity.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Refuses every write from now on, for `why` (logged once).
    pub fn set_integrity(&self, why: String) {
        let mut slot = self.integrity.write().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            tracing::error!(%why, "the audit log failed an integrity check; refusing writes");
            *slot = Some(why);
        }
    }

    /// The signed checkpoints, once configured.
    pub fn checkpoints(&self) -> Option<&Arc<crate::integrity::Checkpoints>> {
        self.checkpoints.get()
    }

    /// Sets where checkpoints go (once).
    pub fn set_checkpoints(&self, checkpoints: Arc<crate::integrity::Checkpoints>) {
        let _ = self.checkpoints.set(checkpoints);
    }

    /// Writes a checkpoint of the head when it moved since the last one (and the log is sound).
    pub fn checkpoint(&self) -> Option<breakglass_api::Checkpoint> {
        let cp = self.checkpoints()?;
        if self.integrity().is_some() {
            return None;
        }
        let head = self.head();
        if head.seq == 0 || cp.last().is_some_and(|l| l.seq == head.seq) {
            return None;
        }
        match cp.write(head, self.now()) {
            Ok(written) => Some(written),
            Err(e) => {
                tracing::error!(error = %e, file = %cp.file().display(), "cannot write an audit checkpoint");
                None
            }
        }
    }

    /// The proxies trusted to name the client in `X-Forwarded-For`.
    pub fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        self.trusted_proxies.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets [`App::trusted_proxies`].
    pub fn set_trusted_proxies(&self, proxies: Vec<std::net::IpAddr>) {
        *self.trusted_proxies.write().unwrap_or_else(|p| p.into_inner()) = proxies;
    }

    /// Records sign-in lock-outs that began or ended in the audit log, as the system. A lock-out
    /// holds whether or not its event could be written (it lives in memory): a failure is logged.
    pub async fn record_lockouts(&self, lockouts: Vec<crate::throttle::Lockout>) {
        use crate::throttle::Lockout;
        use breakglass_core::cmd::tokens::record_sign_in_throttle;
        for lockout in lockouts {
            let result = self
                .execute(breakglass_core::Actor::System, |state, ctx| {
                    let changes = match &lockout {
                        Lockout::Began { key, for_, limit } => {
                            let micros = i64::try_from(for_.as_micros()).unwrap_or(i64::MAX);
                            let until = ctx.now.plus(breakglass_core::time::Span::from_micros(micros));
                            record_sign_in_throttle(state, ctx, key, Some(until), limit)?
                        }
                        Lockout::Ended(key) => record_sign_in_throttle(state, ctx, key, None, "")?,
                    };
                    Ok((changes, ()))
                })
                .await;
            match (&lockout, result) {
                (Lockout::Began { key, .. }, Ok(_)) => {
                    tracing::warn!(kind = key.kind(), "sign-ins locked out after too many failures")
                }
                (_, Ok(_)) => {}
                (_, Err(e)) => {
                    tracing::error!(code = e.code, detail = %e.detail, "cannot record a sign-in lock-out")
                }
            }
        }
    }

    /// Sets [`App::patience`] (default [`WRITE_PATIENCE`]).
    pub fn set_patience(&self, patience: std::time::Duration) {
        self.patience_ms
            .store(u64::try_from(patience.as_millis()).unwrap_or(u64::MAX).max(1), Ordering::Relaxed);
    }

    /// Starts the task that commits the group just opened. It queues for the writer lock,
    /// which is fair: the commands already waiting for it are decided (and join the group)
    /// first, the ones arriving later form the next group.
    fn spawn_committer(&self) {
        let (writer, store, state) = (self.writer.clone(), self.store.clone(), self.state.clone());
        let (reloads, sizes, clock) = (self.reloads.clone(), self.group_sizes.clone(), self.clock.clone());
        let (busy, head_tx) = (self.busy.clone(), self.head_tx.clone());
        tokio::spawn(async move {
            // Requests already under way (parsed, authenticated, about to ask for the lock) get
            // a moment to join: without it, the first command after a commit would often go
            // alone and hold everybody else behind a durable write of its own.
            for _ in 0..COMMIT_YIELDS {
                tokio::task::yield_now().await;
            }
            let mut writer = writer.lock_owned().await;
            // Only committers take the open group, one per group: this is the one it was
            // started for.
            let Some(group) = writer.open.take() else { return };
            let outcome = {
                let _busy = busy.start();
                commit_group(&store, &state, (&reloads, &clock), group.base, &group.members).await
            };
            if matches!(outcome, GroupOutcome::Committed(_)) {
                sizes.record(group.members.len());
            }
            announce(&state, &head_tx);
            // Nobody listening (every member hung up) changes nothing: the model already has it.
            let _ = group.done.send(Some(Arc::new(outcome)));
            drop(writer);
        });
    }

    /// Limits groups to `max` commands (at least 1, at most 64, the default); 1 commits every
    /// command by itself, as before group commit: for measurements, and a way out should
    /// grouping ever misbehave.
    pub fn limit_groups(&self, max: usize) {
        self.max_group.store(max.clamp(1, MAX_GROUP), Ordering::Relaxed);
    }

    /// How many commits carried how many commands since start-up, as (commands, commits),
    /// smallest first.
    pub fn group_sizes(&self) -> Vec<(usize, u64)> {
        self.group_sizes
            .0
            .iter()
            .enumerate()
            .map(|(size, n)| (size, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Catches the model up with changes other processes committed to the same database: a
    /// cheap head comparison, and a reload when it moved. Holds the writer so that no commit of
    /// this process is applied in between.
    pub async fn sync(&self) -> Result<bool, StoreError> {
        let _writer = self.writer.lock().await;
        self.sync_locked().await
    }

    /// [`App::sync`] for a caller holding the writer lock.
    async fn sync_locked(&self) -> Result<bool, StoreError> {
        let started = self.busy.now();
        let _busy = self.busy.start();
        let head = match self.store.head().await {
            Ok(head) => head,
            Err(e) => {
                self.stale.store(true, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.stale.store(false, Ordering::Relaxed);
        let mine = self.head();
        if head.seq < mine.seq {
            // Nothing this process does makes the head go back: events were deleted under it.
            self.set_integrity(format!(
                "the audit log was truncated while this server ran: its head went back from seq {} to {}",
                mine.seq, head.seq
            ));
            // Looked, even if the answer is bad: callers waiting for a look need not look again.
            self.last_head_read.fetch_max(started, Ordering::Relaxed);
            return Ok(false);
        }
        let moved = head != mine;
        if moved {
            self.catch_up().await?;
        }
        self.last_head_read.fetch_max(started, Ordering::Relaxed);
        Ok(moved)
    }

    /// An instant on the clock [`App::catch_up_since`] compares with: take it when a request
    /// arrives.
    pub fn instant(&self) -> u64 {
        self.busy.now()
    }

    /// Makes sure the model includes everything committed before `asked` (an [`App::instant`]),
    /// by any process: nothing to do when a look at the database that began after `asked` has
    /// already been applied, else one look now. Concurrent callers share looks, so a flood of
    /// them costs one head query at a time. How a replica answers a credential made on another
    /// one a moment ago instead of refusing it.
    pub async fn catch_up_since(&self, asked: u64) -> Result<(), ApiError> {
        // Set only once the look it records has been applied: no lock needed to trust it.
        if self.last_head_read.load(Ordering::Relaxed) >= asked {
            return Ok(());
        }
        let _writer = self.lock_writer().await?;
        if self.last_head_read.load(Ordering::Relaxed) >= asked {
            return Ok(());
        }
        match tokio::time::timeout(self.patience(), self.sync_locked()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(ApiError::unavailable()),
        }
    }

    /// True when the model may be behind the database: the last look at it failed, or a call to
    /// it has gone unanswered for [`STALE_AFTER`]. Checks still answer from the index; writes
    /// fail with 503 until it is back.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed) || self.busy.waiting() > STALE_AFTER
    }

    /// Waits until the model includes audit sequence `seq`, catching up with the database, for at
    /// most `patience`. Fails at once when the database itself has not reached `seq` (no write
    /// ever answered it: the client's number is wrong), else with the head reached when the
    /// database could not be read in time.
    pub async fn wait_for_seq(&self, seq: i64, patience: std::time::Duration) -> Result<(), Behind> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if self.head().seq >= seq {
                return Ok(());
            }
            // Another process may have committed it: look. A look that succeeded leaves the model
            // at the database's head, so a seq beyond it was never reached by anyone. The look
            // waits no longer than the patience left.
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let looked = matches!(tokio::time::timeout(left, self.sync()).await, Ok(Ok(_)));
            let head = self.head().seq;
            if head >= seq {
                return Ok(());
            }
            if looked {
                return Err(Behind::Unreached(head));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Behind::Unreachable(self.head().seq));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Rebuilds the model from the store.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let done = reload(&self.store, &self.state, &self.reloads, &self.clock).await;
        self.announce();
        done
    }

    /// See [`catch_up`]. Callers hold the writer lock.
    async fn catch_up(&self) -> Result<(), StoreError> {
        let done = catch_up(&self.store, &self.state, &self.reloads, &self.clock).await;
        self.announce();
        done
    }

    /// How many times the model was rebuilt from scratch since start-up (following other
    /// replicas normally applies their changes instead).
    pub fn full_reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
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

/// Tells the receivers of the head where the live model stands, if that moved.
fn announce(state: &RwLock<State>, tx: &watch::Sender<i64>) {
    let seq = state.read().unwrap_or_else(|p| p.into_inner()).head().seq;
    tx.send_if_modified(|h| std::mem::replace(h, seq) != seq);
}

/// Rebuilds the model from the store.
async fn reload(
    store: &Arc<dyn Store>,
    state: &RwLock<State>,
    reloads: &AtomicU64,
    clock: &Clock,
) -> Result<(), StoreError> {
    let fresh = store.load_state(clock.now()).await?;
    *state.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    reloads.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Brings the model up to the store's head by applying the change log's commits after its own
/// head, in order; reloads everything when the log cannot show an unbroken sequence from there
/// (commits from before the log existed, or a log this binary cannot read). Callers hold the
/// writer lock, so no commit of this process interleaves.
async fn catch_up(
    store: &Arc<dyn Store>,
    state: &RwLock<State>,
    reloads: &AtomicU64,
    clock: &Clock,
) -> Result<(), StoreError> {
    loop {
        let mine = state.read().unwrap_or_else(|p| p.into_inner()).head();
        let batch = match store.changes_after(mine.seq, CATCH_UP_BATCH).await {
            Ok(batch) => batch,
            Err(StoreError::Corrupt(why)) => {
                tracing::warn!(%why, "cannot follow the change log; reloading the model");
                return reload(store, state, reloads, clock).await;
            }
            Err(e) => return Err(e),
        };
        let Some(first) = batch.first() else { return Ok(()) };
        let unbroken = first.base_seq == mine.seq && batch.windows(2).all(|w| w[1].base_seq == w[0].head.seq);
        if !unbroken {
            tracing::info!(from = mine.seq, "the change log has a gap; reloading the model");
            return reload(store, state, reloads, clock).await;
        }
        let full = batch.len() == CATCH_UP_BATCH as usize;
        {
            let mut state = state.write().unwrap_or_else(|p| p.into_inner());
            for c in batch {
                state.apply_all(&Changes { changes: c.changes, events: Vec::new() }, c.head);
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Commits a group in one store transaction and applies it to the model at once; the caller
/// holds the writer lock.
async fn commit_group(
    store: &Arc<dyn Store>,
    state: &RwLock<State>,
    (reloads, clock): (&AtomicU64, &Clock),
    base: i64,
    members: &[Changes],
) -> GroupOutcome {
    if state.read().unwrap_or_else(|p| p.into_inner()).head().seq != base {
        // The model caught up with another process after the group was decided: its decisions
        // rest on a model that is gone.
        return GroupOutcome::HeadMoved;
    }
    match store.commit_group(base, members).await {
        Ok(heads) => {
            let mut state = state.write().unwrap_or_else(|p| p.into_inner());
            for (changes, head) in members.iter().zip(&heads) {
                state.apply_all(changes, *head);
            }
            GroupOutcome::Committed(heads)
        }
        Err(StoreError::HeadMoved { expected, actual }) => {
            tracing::info!(expected, actual, "audit head moved under us; catching up");
            match catch_up(store, state, reloads, clock).await {
                Ok(()) => GroupOutcome::HeadMoved,
                Err(e) => GroupOutcome::Failed(Mutex::new(Some(e))),
            }
        }
        // Refusals of one member's change, found before anything was written.
        Err(StoreError::QuotaExceeded { .. } | StoreError::Duplicate(_) | StoreError::Corrupt(_))
            if members.len() > 1 =>
        {
            GroupOutcome::Separately
        }
        Err(e) => GroupOutcome::Failed(Mutex::new(Some(e))),
    }
}

/// Waits for a group's outcome, at most `patience`: past it the database is not answering, and
/// the caller hears so, with the outcome unknown (the commit goes on, and its outcome lands in
/// the model either way).
async fn wait(
    mut done: watch::Receiver<Option<Arc<GroupOutcome>>>,
    patience: std::time::Duration,
) -> Result<Arc<GroupOutcome>, ApiError> {
    let outcome = tokio::time::timeout(patience, done.wait_for(Option::is_some))
        .await
        .map_err(|_| unknown_outcome())?
        .map_err(|_| {
            tracing::error!("a group commit ended without an outcome");
            ApiError::internal()
        })?;
    outcome.clone().ok_or_else(ApiError::internal)
}

/// The answer when the database did not answer in time while a change was being committed.
fn unknown_outcome() -> ApiError {
    tracing::warn!("the database did not answer a commit in time; answering 503");
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "store.unavailable",
        "the database is not answering; the change may or may not have been committed: look before trying again",
    )
}

/// Waits for the open group a refusal or a no-op was decided on: it stands only if the group
/// commits. Returns the head the group reached, or `None` to decide again.
async fn observe(
    writer: tokio::sync::OwnedMutexGuard<Writer>,
    patience: std::time::Duration,
) -> Result<Option<i64>, ApiError> {
    let Some(group) = &writer.open else { return Ok(None) };
    let done = group.done.subscribe();
    drop(writer);
    Ok(match &*wait(done, patience).await? {
        GroupOutcome::Committed(heads) => heads.last().map(|h| h.seq),
        _ => None,
    })
}

/// The live model with the changes of a group applied for the instant of one decision. Dropping
/// it puts the model back, also when the decision panics: the applied changes are not committed.
struct Speculation<'a> {
    state: &'a mut State,
    undo: Vec<Undo>,
}

impl<'a> Speculation<'a> {
    fn new(state: &'a mut State, pending: &[Changes]) -> Self {
        let undo = Vec::with_capacity(pending.iter().map(|c| c.changes.len()).sum());
        let mut speculation = Self { state, undo };
        for change in pending.iter().flat_map(|c| &c.changes) {
            let undo = speculation.state.apply_undoable(change);
            speculation.undo.push(undo);
        }
        speculation
    }
}

impl Drop for Speculation<'_> {
    fn drop(&mut self) {
        while let Some(u) = self.undo.pop() {
            self.state.undo(u);
        }
    }
}

impl GroupSizes {
    fn record(&self, size: usize) {
        self.0[size.min(MAX_GROUP)].fetch_add(1, Ordering::Relaxed);
    }
}
