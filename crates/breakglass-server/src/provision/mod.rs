//! The provisioning engine: makes each platform hold what the model says it must.
//!
//! Desired access is the core's pure function of the model and the time
//! ([`breakglass_core::provision::desired`]). For each platform whose kind has a connector, one
//! loop per process compares it with what the platform holds and applies the difference through
//! the connector, outside every lock of the model: edge-triggered after each commit (from what
//! it last saw, without listing, and only for what the commit touched: see [`desire`]), at the
//! next instant a binding or credential starts or ends,
//! at a failed grant's retry, and level-triggered by a full listing every `every` (default
//! 60 s) and on `platform sync`. What it did is recorded by an audited system command
//! ([`breakglass_core::cmd::provision::record`]), so status survives a restart and every
//! replica shows it. Only the holder of the platform's lease (in the database) reconciles it;
//! another replica takes over within a lease's lifetime when the holder dies. Every connector
//! operation is idempotent, so a crash anywhere converges on the next pass.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakglass_connect::{AccountSpec, ConnectError, Connector, Kind, Membership, TenantSpec};
use breakglass_core::cmd::provision::{self as record, Outcome};
use breakglass_core::ident::Slug;
use breakglass_core::platform::Platform;
use breakglass_core::provision::{GrantKey, Place, Provision, ProvisionState};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::Actor;
use tokio::sync::watch;

use crate::app::App;
use desire::Desire;

mod desire;

/// How long a reconciler's lease lasts without renewal: another replica takes over within it.
const LEASE: Duration = Duration::from_secs(10);
/// The longest wait before a failed grant is tried again.
const MAX_BACKOFF: Span = Span::minutes(5);
/// Most accounts or grants sent to a platform in one round trip.
const BATCH: usize = 500;

/// What the engine of this process knows and does, per platform.
pub struct Registry {
    /// This process's name as a lease holder.
    holder: String,
    /// What connectors may use beyond their settings (set at start-up).
    env: std::sync::OnceLock<breakglass_connect::Env>,
    platforms: Mutex<HashMap<Slug, Arc<Handle>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            holder: uuid::Uuid::new_v4().to_string(),
            env: Default::default(),
            platforms: Mutex::default(),
        }
    }
}

/// One platform's loop, as the rest of the server sees it.
#[derive(Default)]
pub struct Handle {
    /// The model head the last pass of this process applied.
    applied: watch::Sender<i64>,
    /// Serialises passes of this process (the loop's and an operator's `sync`).
    pass: tokio::sync::Mutex<Known>,
    /// How the platform looked last.
    health: Mutex<Health>,
}

/// How a platform looked to the engine last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Whether this process holds the platform's lease (reconciles it).
    pub leader: bool,
    /// Why the last pass could not reach or use the platform; `None` when it could.
    pub error: Option<String>,
    /// Since when it has failed.
    pub failing_since: Option<Timestamp>,
    /// When the last pass ended.
    pub last_pass: Option<Timestamp>,
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Grants placed.
    pub granted: usize,
    /// Grants removed.
    pub revoked: usize,
    /// Grants that failed (retried).
    pub failed: usize,
    /// Accounts made or changed.
    pub accounts_changed: usize,
    /// Accounts removed.
    pub accounts_removed: usize,
    /// Members of managed groups that Breakglass did not grant: (group, member, removed).
    pub drift: Vec<(String, String, bool)>,
}

/// What the platform held when last seen, so an edge-triggered pass needs no listing.
#[derive(Default)]
pub struct Known {
    /// Whether the rest is trustworthy (after a full listing by the lease holder).
    valid: bool,
    /// The platform's configuration the connector was made for.
    config: Option<breakglass_core::platform::PlatformConfig>,
    connector: Option<Arc<dyn Connector>>,
    /// Tenant specifications applied, by external id.
    tenants: HashMap<String, TenantSpec>,
    /// Members of the managed groups.
    members: BTreeSet<Membership>,
    /// Accounts Breakglass manages there, with the specification last applied (`None`: seen
    /// in a listing, not applied by this process).
    accounts: HashMap<String, Option<AccountSpec>>,
    /// Drift already reported (report mode reports each once).
    reported: BTreeSet<Membership>,
    /// What the platform must hold, as of the last pass.
    desire: Option<Desire>,
    /// The earliest retry of a grant that failed.
    retry_at: Option<Timestamp>,
}

impl Registry {
    /// Sets what connectors may use beyond their settings (once, at start-up).
    pub fn set_env(&self, env: breakglass_connect::Env) {
        let _ = self.env.set(env);
    }

    /// The handle of a platform's loop (made on first use).
    pub fn handle(&self, platform: &Slug) -> Arc<Handle> {
        let mut map = self.platforms.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(platform.clone()).or_default().clone()
    }

    /// How a platform looked last to this process.
    pub fn health(&self, platform: &Slug) -> Health {
        self.handle(platform).health.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The platforms this process failed to reach on its last pass, with why.
    pub fn unhealthy(&self) -> Vec<(Slug, String)> {
        let map = self.platforms.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(Slug, String)> = map
            .iter()
            .filter_map(|(id, h)| {
                let health = h.health.lock().unwrap_or_else(|p| p.into_inner());
                health.error.clone().filter(|_| health.leader).map(|e| (id.clone(), e))
            })
            .collect();
        out.sort();
        out
    }

    fn lease_name(platform: &Slug) -> String {
        format!("platform:{platform}")
    }
}

/// Why the engine cannot work on a platform at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Its kind has no built-in connector.
    #[error("platform kind '{0}' has no connector: its access is recorded, not provisioned")]
    NoConnector(String),
    /// Its settings do not open or do not fit its connector.
    #[error("{0}")]
    Settings(String),
    /// Another replica reconciles it now.
    #[error("another replica reconciles platform '{0}' now; it will within seconds")]
    Elsewhere(Slug),
    /// The platform is not registered.
    #[error("platform '{0}' is not registered")]
    Unknown(Slug),
}

/// The connector kind of a platform, if it has one.
pub fn kind_of(platform: &Platform) -> Option<&'static dyn Kind> {
    breakglass_connect::kind(platform.kind.as_str())
}

/// What `role` means on `platform`, in its kind's terms: its mapping, or the kind's default.
pub fn mapping_of(platform: &Platform, kind: &dyn Kind, role: breakglass_core::role::ProjectRole) -> String {
    platform
        .config
        .mapping
        .get(&role)
        .cloned()
        .unwrap_or_else(|| kind.default_mapping(role.as_str()).to_owned())
}

/// The connector kind of a platform the engine reconciles: one with a connector that places
/// access (not SSH, whose hosts check certificates themselves).
fn reconciled(platform: &Platform) -> Result<&'static dyn Kind, EngineError> {
    kind_of(platform)
        .filter(|k| k.provisions())
        .ok_or_else(|| EngineError::NoConnector(platform.kind.to_string()))
}

/// A platform's settings with its secret ones opened.
pub fn open_settings(app: &App, platform: &Platform) -> Result<BTreeMap<String, String>, EngineError> {
    let sealer = app.sealer().ok_or_else(|| EngineError::Settings("no platform key is loaded".into()))?;
    let mut settings = platform.config.settings.clone();
    for (key, sealed) in &platform.config.sealed {
        let open = sealer
            .open(platform.id.as_str(), key, sealed)
            .map_err(|e| EngineError::Settings(e.to_string()))?;
        settings.insert(key.clone(), open);
    }
    Ok(settings)
}

/// A connector for `platform`, its secret settings opened.
pub fn connect(app: &App, platform: &Platform) -> Result<Box<dyn Connector>, EngineError> {
    let kind = reconciled(platform)?;
    let settings = open_settings(app, platform)?;
    let env = app.provisioning.env.get().cloned().unwrap_or_default();
    kind.connect_in(platform.id.as_str(), &settings, &env).map_err(|e| EngineError::Settings(e.to_string()))
}

/// The verifier of `password` that `platform` stores, or `None` when its kind makes no logins;
/// asked of the connector when only it can tell (an external program).
pub async fn verifier(app: &App, platform: &Platform, password: &str) -> Result<Option<String>, EngineError> {
    let Some(kind) = kind_of(platform) else { return Ok(None) };
    if let Some(v) = kind.verifier(password) {
        return Ok(Some(v));
    }
    let connector = connect(app, platform)?;
    match connector.verifier(password).await {
        Ok(v) => Ok(Some(v)),
        Err(ConnectError::Invalid(_)) => Ok(None),
        Err(e) => Err(EngineError::Settings(e.to_string())),
    }
}

/// A ready command line that connects `login` to the tenant `external_id` of `platform`.
pub fn connect_line(app: &App, platform: &Platform, external_id: &str, login: &str) -> Option<String> {
    let settings = open_settings(app, platform).ok()?;
    kind_of(platform)?.connect_line(&settings, external_id, login)
}

/// Runs the engine: one loop per platform whose kind has a connector, started as platforms
/// appear, forever.
pub async fn run(app: Arc<App>, every: Duration) {
    let mut started: BTreeSet<Slug> = BTreeSet::new();
    let mut head = app.watch_head();
    // Dropped with this task (when the server stops), which stops every platform's loop.
    let mut loops = tokio::task::JoinSet::new();
    loop {
        let platforms: Vec<Slug> =
            app.state().platforms().filter(|p| reconciled(p).is_ok()).map(|p| p.id.clone()).collect();
        for id in platforms {
            if started.insert(id.clone()) {
                loops.spawn(platform_loop(app.clone(), id, every));
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), head.changed()).await;
    }
}

/// The loop of one platform.
async fn platform_loop(app: Arc<App>, id: Slug, every: Duration) {
    let handle = app.provisioning.handle(&id);
    let mut head = app.watch_head();
    let mut last_full: Option<tokio::time::Instant> = None;
    loop {
        let now = app.now();
        let lease = Registry::lease_name(&id);
        let until = now.plus(Span::from_micros(LEASE.as_micros() as i64));
        let leader = match app.store.take_lease(&lease, &app.provisioning.holder, now, until).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(platform = %id, error = %e, "cannot take the reconciler's lease");
                false
            }
        };
        let mut wake = tokio::time::Instant::now() + LEASE / 3;
        if leader {
            let full = last_full.is_none_or(|t| t.elapsed() >= every);
            let mut known = handle.pass.lock().await;
            if !known.valid {
                last_full = None;
            }
            let full = full || last_full.is_none();
            match pass(&app, &id, &mut known, full, false).await {
                Ok((_, next)) => {
                    if full {
                        last_full = Some(tokio::time::Instant::now());
                    }
                    if let Some(next) = next {
                        let micros = next.as_micros() - app.now().as_micros();
                        let at = tokio::time::Instant::now() + Duration::from_micros(micros.max(0) as u64);
                        wake = wake.min(at);
                    }
                }
                Err(EngineError::Elsewhere(_)) => {
                    // The lease lapsed during a long pass and another replica took it over.
                    known.valid = false;
                    handle.health.lock().unwrap_or_else(|p| p.into_inner()).leader = false;
                }
                Err(e) => {
                    known.valid = false;
                    set_health(&handle, &app, true, Some(e.to_string()));
                }
            }
            drop(known);
            if let Some(t) = last_full {
                wake = wake.min(t + every);
            }
        } else {
            let mut known = handle.pass.lock().await;
            // Another replica reconciles: what this one knew may go stale meanwhile.
            known.valid = false;
            drop(known);
            handle.health.lock().unwrap_or_else(|p| p.into_inner()).leader = false;
        }
        tokio::select! {
            _ = head.changed(), if leader => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

fn set_health(handle: &Handle, app: &App, leader: bool, error: Option<String>) {
    let mut h = handle.health.lock().unwrap_or_else(|p| p.into_inner());
    let now = app.now();
    h.failing_since = match (&error, h.failing_since) {
        (Some(_), Some(since)) => Some(since),
        (Some(_), None) => Some(now),
        (None, _) => None,
    };
    if let Some(e) = &error {
        if h.error.as_ref() != Some(e) {
            tracing::warn!(error = %e, "provisioning cannot reach a platform; retrying");
        }
    }
    h.error = error;
    h.leader = leader;
    h.last_pass = Some(now);
}

/// Runs a full pass now for an operator (`platform sync`), if this process may: it takes the
/// lease when it is free.
pub async fn sync_now(app: &App, id: &Slug) -> Result<Report, EngineError> {
    if app.state().platform(id).is_none() {
        return Err(EngineError::Unknown(id.clone()));
    }
    let now = app.now();
    let until = now.plus(Span::from_micros(LEASE.as_micros() as i64));
    let held = app
        .store
        .take_lease(&Registry::lease_name(id), &app.provisioning.holder, now, until)
        .await
        .map_err(|e| EngineError::Settings(format!("cannot take the reconciler's lease: {e}")))?;
    if !held {
        return Err(EngineError::Elsewhere(id.clone()));
    }
    let handle = app.provisioning.handle(id);
    let mut known = handle.pass.lock().await;
    let result = pass(app, id, &mut known, true, true).await.map(|(report, _)| report);
    if let Err(e) = &result {
        known.valid = false;
        set_health(&handle, app, true, Some(e.to_string()));
    }
    drop(known);
    result
}

/// Waits until this process's reconciler of `platform` has applied the model at `seq` or
/// later, at most `patience`. False when it did not (another replica reconciles it, or the
/// platform is down): the engine still gets there, the caller just does not wait for it.
pub async fn wait_applied(app: &App, platform: &Slug, seq: i64, patience: Duration) -> bool {
    let handle = app.provisioning.handle(platform);
    // The commit at `seq` moved the head, which starts the reconciler's next pass.
    let mut rx = handle.applied.subscribe();
    tokio::time::timeout(patience, rx.wait_for(|applied| *applied >= seq)).await.is_ok_and(|r| r.is_ok())
}

/// What drift and difference a platform shows now, without changing anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Grants the platform lacks: (group, account).
    pub missing: Vec<(String, String)>,
    /// Grants of Breakglass's the platform holds but should not: (group, account).
    pub extra: Vec<(String, String)>,
    /// Members of managed groups Breakglass did not grant: (group, member).
    pub foreign: Vec<(String, String)>,
}

/// Lists what `platform` holds and compares it with what it must hold; changes nothing.
pub async fn inspect(app: &App, id: &Slug) -> Result<Inspection, EngineError> {
    let platform = app.state().platform(id).cloned().ok_or_else(|| EngineError::Unknown(id.clone()))?;
    let kind = reconciled(&platform)?;
    let connector = connect(app, &platform)?;
    let plan = {
        let state = app.state();
        Desire::build(&state, &platform, kind, app.now())
    };
    let mut members = BTreeSet::new();
    for tenant in plan.tenants.values() {
        let listed =
            connector.list_members(tenant).await.map_err(|e| EngineError::Settings(e.to_string()))?;
        members.extend(listed);
    }
    let managed: BTreeSet<String> = connector
        .list_accounts()
        .await
        .map_err(|e| EngineError::Settings(e.to_string()))?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let ours = |m: &str| managed.contains(m) || plan.accounts.contains_key(m);
    let mut out = Inspection::default();
    for place in plan.grants.keys() {
        let m = Membership { group: place.group.clone(), member: place.account.clone() };
        if !members.contains(&m) {
            out.missing.push((m.group, m.member));
        }
    }
    for m in &members {
        let place = Place { account: m.member.clone(), group: m.group.clone() };
        if plan.grants.contains_key(&place) {
            continue;
        }
        if ours(&m.member) {
            out.extra.push((m.group.clone(), m.member.clone()));
        } else {
            out.foreign.push((m.group.clone(), m.member.clone()));
        }
    }
    Ok(out)
}

/// One pass over a platform: brings it to what the model says, records what was done, and
/// returns when the next pass is due by time alone (an access or credential starting or
/// ending, a retry).
async fn pass(
    app: &App,
    id: &Slug,
    known: &mut Known,
    full: bool,
    rebuild: bool,
) -> Result<(Report, Option<Timestamp>), EngineError> {
    let handle = app.provisioning.handle(id);
    let platform = app.state().platform(id).cloned().ok_or_else(|| EngineError::Unknown(id.clone()))?;
    let kind = reconciled(&platform)?;
    if known.config.as_ref() != Some(&platform.config) || known.connector.is_none() {
        *known = Known {
            connector: Some(Arc::from(connect(app, &platform)?)),
            config: Some(platform.config.clone()),
            ..Known::default()
        };
    }
    let connector = known.connector.clone().expect("made above");
    let started = std::time::Instant::now();
    let now = app.now();
    // What the platform must hold is brought up to date from what the commits since touched;
    // it is planned whole only when that is not known, after an error, and when an operator
    // asks. Whether the platform holds it is another matter: a full pass lists the platform.
    let rebuild = rebuild || !known.valid;
    let full = full || !known.valid;
    // An edge-triggered pass looks only at what changed, unless a failed grant's retry is due:
    // then, as in a full pass, at every grant.
    let sweep = full || known.retry_at.is_some_and(|at| at <= now);
    let (scope, records) = {
        let state = app.state();
        let scope = match known.desire.as_mut() {
            Some(d) if !rebuild => d.update(&state, &platform, now),
            _ => None,
        };
        if scope.is_none() {
            known.desire = Some(Desire::build(&state, &platform, kind, now));
        }
        let scope = if sweep { None } else { scope };
        let desire = known.desire.as_ref().expect("set above");
        let records: BTreeMap<Place, Provision> = match &scope {
            None => state.provisions_on(id).map(|p| (p.place.clone(), p.clone())).collect(),
            // The grant a place held before, then the one it holds now (which wins).
            Some(dirty) => dirty
                .places
                .iter()
                .flat_map(|(place, old)| old.iter().chain(desire.grants.get(place)).map(move |k| (place, k)))
                .filter_map(|(place, k)| state.provision(k).filter(|r| r.place == *place))
                .map(|r| (r.place.clone(), r.clone()))
                .collect(),
        };
        (scope, records)
    };
    let plan = known.desire.as_ref().expect("set above");
    let planned_in = started.elapsed();
    // Taken (or renewed) by the caller just before the pass.
    let mut renewed = std::time::Instant::now();
    let mut outcomes = Vec::new();
    let mut report = Report::default();
    let mut unreachable: Option<String> = None;
    let backoff = |key: &GrantKey| {
        let attempts = match app.state().provision(key).map(|p| p.state.clone()) {
            Some(ProvisionState::Failed { attempts, .. }) => attempts,
            _ => 0,
        };
        let wait = Span::seconds(1i64 << attempts.min(9)).min(MAX_BACKOFF);
        now.plus(wait)
    };
    let mut failed_tenants: HashMap<String, String> = HashMap::new();

    if full {
        // Level-triggered: what the platform holds, listed.
        let mut members = BTreeSet::new();
        for tenant in plan.tenants.values() {
            match connector.list_members(tenant).await {
                Ok(listed) => members.extend(listed),
                Err(e) => {
                    note(&mut unreachable, &e);
                    failed_tenants.insert(tenant.external_id.clone(), e.to_string());
                }
            }
        }
        let accounts = match connector.list_accounts().await {
            Ok(a) => a,
            Err(e) => {
                // Nothing can be placed: every grant not placed yet shows why, and is retried;
                // one already waiting for its retry is not recorded again before it.
                let error = e.to_string();
                for (place, key) in &plan.grants {
                    let settled = records.get(place).is_some_and(|r| match &r.state {
                        ProvisionState::Provisioned { .. } => true,
                        ProvisionState::Failed { next_retry, .. } => *next_retry > now,
                    });
                    if !settled {
                        outcomes.push(Outcome::Failed {
                            key: key.clone(),
                            place: place.clone(),
                            error: error.clone(),
                            next_retry: backoff(key),
                        });
                    }
                }
                if !outcomes.is_empty() {
                    let _ = app
                        .execute(Actor::System, |state, ctx| {
                            Ok((record::record(state, ctx, &outcomes, &plan.served)?, ()))
                        })
                        .await;
                }
                set_health(&handle, app, true, Some(error.clone()));
                return Err(EngineError::Settings(error));
            }
        };
        known.members = members;
        // What the listing shows needs no change: an account without login is one, and a login
        // this process set keeps its specification (a listing cannot show a password).
        known.accounts = accounts
            .into_iter()
            .map(|a| {
                let applied = if a.can_login {
                    known.accounts.get(&a.name).cloned().flatten().filter(|spec| spec.login.is_some())
                } else {
                    Some(AccountSpec { name: a.name.clone(), login: None })
                };
                (a.name, applied)
            })
            .collect();
        known.tenants.clear();
        known.valid = true;
    }

    // Tenants: their groups and privileges.
    for (external_id, spec) in &plan.tenants {
        if failed_tenants.contains_key(external_id) || known.tenants.get(external_id) == Some(spec) {
            continue;
        }
        match connector.ensure_tenant(spec).await {
            Ok(()) => {
                known.tenants.insert(external_id.clone(), spec.clone());
            }
            Err(e) => {
                note(&mut unreachable, &e);
                failed_tenants.insert(external_id.clone(), e.to_string());
            }
        }
    }

    // Accounts, before their grants: in batches, one by one only when a batch fails.
    let mut failed_accounts: HashMap<String, String> = HashMap::new();
    let wanted: Vec<&AccountSpec> = match &scope {
        None => plan.accounts.values().collect(),
        Some(dirty) => dirty.accounts.iter().filter_map(|name| plan.accounts.get(name)).collect(),
    };
    let due: Vec<&AccountSpec> = wanted
        .into_iter()
        .filter(|spec| !known.accounts.get(&spec.name).is_some_and(|applied| applied.as_ref() == Some(*spec)))
        .collect();
    for batch in due.chunks(BATCH) {
        keep_lease(app, id, &mut renewed).await?;
        let specs: Vec<AccountSpec> = batch.iter().map(|s| (*s).clone()).collect();
        let results: Vec<Result<(), String>> = match connector.ensure_accounts(&specs).await {
            Ok(()) => specs.iter().map(|_| Ok(())).collect(),
            // Unreachable: one by one would only wait for each in turn.
            Err(e @ ConnectError::Unreachable(_)) => {
                note(&mut unreachable, &e);
                specs.iter().map(|_| Err(e.to_string())).collect()
            }
            Err(_) => {
                let mut one_by_one = Vec::with_capacity(specs.len());
                for spec in &specs {
                    one_by_one.push(connector.ensure_account(spec).await.map_err(|e| {
                        note(&mut unreachable, &e);
                        e.to_string()
                    }));
                }
                one_by_one
            }
        };
        for (spec, result) in specs.into_iter().zip(results) {
            match result {
                Ok(()) => {
                    report.accounts_changed += 1;
                    known.accounts.insert(spec.name.clone(), Some(spec));
                }
                Err(e) => {
                    failed_accounts.insert(spec.name, e);
                }
            }
        }
    }

    // Grants to place: in batches, one by one only when a batch fails.
    let mut next_retry: Option<Timestamp> = None;
    let mut to_place: Vec<(&Place, &GrantKey)> = Vec::new();
    let wanted: Vec<(&Place, &GrantKey)> = match &scope {
        None => plan.grants.iter().collect(),
        Some(dirty) => {
            let mut v: Vec<_> = dirty.places.keys().filter_map(|p| plan.grants.get_key_value(p)).collect();
            v.sort();
            v
        }
    };
    for (place, key) in wanted {
        let m = Membership { group: place.group.clone(), member: place.account.clone() };
        let record = records.get(place);
        if known.members.contains(&m) {
            let placed = record
                .is_some_and(|r| r.key == *key && matches!(r.state, ProvisionState::Provisioned { .. }));
            if !placed {
                outcomes.push(Outcome::Granted(key.clone(), place.clone()));
                report.granted += 1;
            }
            continue;
        }
        if let Some(ProvisionState::Failed { next_retry: at, .. }) = record.map(|r| &r.state) {
            if !full && *at > now {
                next_retry = Some(next_retry.map_or(*at, |n: Timestamp| n.min(*at)));
                continue;
            }
        }
        let tenant = plan.group_tenant.get(&place.group).cloned().unwrap_or_default();
        match failed_tenants.get(&tenant).or_else(|| failed_accounts.get(&place.account)) {
            Some(why) => {
                let at = backoff(key);
                next_retry = Some(next_retry.map_or(at, |n| n.min(at)));
                outcomes.push(Outcome::Failed {
                    key: key.clone(),
                    place: place.clone(),
                    error: why.clone(),
                    next_retry: at,
                });
                report.failed += 1;
            }
            None => to_place.push((place, key)),
        }
    }
    for batch in to_place.chunks(BATCH) {
        keep_lease(app, id, &mut renewed).await?;
        let pairs: Vec<(String, String)> =
            batch.iter().map(|(p, _)| (p.group.clone(), p.account.clone())).collect();
        let results: Vec<Result<(), String>> = match connector.grant_many(&pairs).await {
            Ok(()) => pairs.iter().map(|_| Ok(())).collect(),
            Err(e @ ConnectError::Unreachable(_)) => {
                note(&mut unreachable, &e);
                pairs.iter().map(|_| Err(e.to_string())).collect()
            }
            Err(_) => {
                let mut one_by_one = Vec::with_capacity(pairs.len());
                for (group, account) in &pairs {
                    one_by_one.push(connector.grant(group, account).await.map_err(|e| {
                        note(&mut unreachable, &e);
                        e.to_string()
                    }));
                }
                one_by_one
            }
        };
        for ((place, key), result) in batch.iter().zip(results) {
            match result {
                Ok(()) => {
                    known
                        .members
                        .insert(Membership { group: place.group.clone(), member: place.account.clone() });
                    outcomes.push(Outcome::Granted((*key).clone(), (*place).clone()));
                    report.granted += 1;
                }
                Err(error) => {
                    let at = backoff(key);
                    next_retry = Some(next_retry.map_or(at, |n| n.min(at)));
                    outcomes.push(Outcome::Failed {
                        key: (*key).clone(),
                        place: (*place).clone(),
                        error,
                        next_retry: at,
                    });
                    report.failed += 1;
                }
            }
        }
    }

    // Grants to remove: Breakglass's that are no longer desired, and drift.
    let present: Vec<Membership> = match &scope {
        None => {
            let managed_groups: BTreeSet<&str> = plan.group_tenant.keys().map(String::as_str).collect();
            known.members.iter().filter(|m| managed_groups.contains(m.group.as_str())).cloned().collect()
        }
        Some(dirty) => {
            let mut v: Vec<Membership> = dirty
                .places
                .keys()
                .filter(|p| !plan.grants.contains_key(*p))
                .map(|p| Membership { group: p.group.clone(), member: p.account.clone() })
                .filter(|m| known.members.contains(m))
                .collect();
            v.sort();
            v
        }
    };
    let mut sessions_to_end: BTreeSet<String> = BTreeSet::new();
    for m in present {
        keep_lease(app, id, &mut renewed).await?;
        let place = Place { account: m.member.clone(), group: m.group.clone() };
        if plan.grants.contains_key(&place) {
            continue;
        }
        let record = records.get(&place);
        let ours = record.is_some()
            || known.accounts.contains_key(&m.member)
            || plan.accounts.contains_key(&m.member);
        if !ours && platform.config.mode != breakglass_core::platform::DriftMode::Enforce {
            if known.reported.insert(m.clone()) {
                outcomes.push(Outcome::Drift {
                    platform: id.clone(),
                    role: m.group.clone(),
                    member: m.member.clone(),
                    corrected: false,
                });
                report.drift.push((m.group.clone(), m.member.clone(), false));
            }
            continue;
        }
        match connector.revoke(&m.group, &m.member).await {
            Ok(()) => {
                known.members.remove(&m);
                sessions_to_end.insert(m.member.clone());
                if !ours {
                    outcomes.push(Outcome::Drift {
                        platform: id.clone(),
                        role: m.group.clone(),
                        member: m.member.clone(),
                        corrected: true,
                    });
                    report.drift.push((m.group.clone(), m.member.clone(), true));
                } else if let Some(r) = record {
                    outcomes.push(Outcome::Revoked(r.key.clone(), place.clone()));
                    report.revoked += 1;
                } else {
                    tracing::info!(group = %m.group, member = %m.member, "removed a grant of Breakglass's that had no record");
                    report.revoked += 1;
                }
            }
            Err(e) => {
                note(&mut unreachable, &e);
                if let Some(r) = record {
                    let at = backoff(&r.key);
                    next_retry = Some(next_retry.map_or(at, |n| n.min(at)));
                    outcomes.push(Outcome::Failed {
                        key: r.key.clone(),
                        place: place.clone(),
                        error: e.to_string(),
                        next_retry: at,
                    });
                    report.failed += 1;
                }
            }
        }
    }
    // Records of grants the platform no longer holds and the model no longer wants (removed by
    // hand, or their tenant gone): nothing to do there but forget them.
    let revoked: HashSet<GrantKey> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Revoked(k, _) => Some(k.clone()),
            _ => None,
        })
        .collect();
    for (place, r) in &records {
        let m = Membership { group: place.group.clone(), member: place.account.clone() };
        if !plan.grants.contains_key(place) && !known.members.contains(&m) && known.valid {
            let tenant_ok =
                plan.group_tenant.get(&place.group).is_none_or(|t| !failed_tenants.contains_key(t));
            if tenant_ok && !revoked.contains(&r.key) {
                outcomes.push(Outcome::Revoked(r.key.clone(), place.clone()));
                report.revoked += 1;
            }
        }
    }

    // Accounts no longer needed go, with their sessions; revoked ones lose their sessions.
    let gone: Vec<String> = match &scope {
        None => known.accounts.keys().filter(|n| !plan.accounts.contains_key(*n)).cloned().collect(),
        Some(dirty) => dirty
            .accounts
            .iter()
            .filter(|n| known.accounts.contains_key(*n) && !plan.accounts.contains_key(*n))
            .cloned()
            .collect(),
    };
    for name in gone {
        match connector.delete_account(&name).await {
            Ok(()) => {
                known.accounts.remove(&name);
                sessions_to_end.remove(&name);
                report.accounts_removed += 1;
            }
            Err(e) => {
                note(&mut unreachable, &e);
                tracing::warn!(account = %name, error = %e, "cannot remove an account");
            }
        }
    }
    for account in sessions_to_end {
        if let Err(e) = connector.end_sessions(&account).await {
            note(&mut unreachable, &e);
            tracing::warn!(%account, error = %e, "cannot end an account's sessions");
        }
    }

    if !outcomes.is_empty() {
        let committed = app
            .execute(Actor::System, |state, ctx| {
                Ok((record::record(state, ctx, &outcomes, &plan.served)?, ()))
            })
            .await;
        if let Err(e) = committed {
            // Nothing is lost: the next pass finds the same difference and records it.
            tracing::warn!(code = e.code, detail = %e.detail, "cannot record provisioning outcomes");
            known.valid = false;
        }
    }
    if unreachable.is_some() {
        known.valid = false;
    }
    known.retry_at = match (sweep, known.retry_at) {
        (false, Some(at)) => Some(next_retry.map_or(at, |n| n.min(at))),
        _ => next_retry,
    };
    tracing::debug!(
        platform = %id, full, sweep, rebuild, grants = plan.grants.len(), outcomes = outcomes.len(),
        plan_us = planned_in.as_micros() as u64, pass_us = started.elapsed().as_micros() as u64,
        "provisioning pass"
    );
    set_health(&handle, app, true, unreachable);
    handle.applied.send_if_modified(|a| std::mem::replace(a, plan.head) != plan.head);
    let next = match (plan.next(), known.retry_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok((report, next))
}

/// Renews this process's lease of the platform while a long pass goes on, so that no other
/// replica takes over in the middle of it; an error when the lease went elsewhere.
async fn keep_lease(app: &App, id: &Slug, renewed: &mut std::time::Instant) -> Result<(), EngineError> {
    if renewed.elapsed() < LEASE / 3 {
        return Ok(());
    }
    let now = app.now();
    let until = now.plus(Span::from_micros(LEASE.as_micros() as i64));
    match app.store.take_lease(&Registry::lease_name(id), &app.provisioning.holder, now, until).await {
        Ok(true) => {
            *renewed = std::time::Instant::now();
            Ok(())
        }
        Ok(false) => Err(EngineError::Elsewhere(id.clone())),
        // The database is away: the lease runs out by itself; stop before it does.
        Err(_) if renewed.elapsed() < LEASE / 2 => Ok(()),
        Err(e) => Err(EngineError::Settings(format!("cannot renew the reconciler's lease: {e}"))),
    }
}

fn note(first: &mut Option<String>, e: &breakglass_connect::ConnectError) {
    if first.is_none() {
        *first = Some(e.to_string());
    }
}
