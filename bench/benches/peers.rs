//! Breakglass's in-process check against two peer engines, on the same data, in the same run:
//! `cedar-policy` (entities with tags, six policies) and `casbin` (RBAC with domains).
//!
//! Run from `bench/` with `cargo bench --bench peers` (`PEERS_BINDINGS=100000` for a smaller
//! model; the default is 1,000,000). The data is the core bench's (`crates/breakglass-core/
//! benches/check.rs`, copied here): the same deterministic generator, the same seed, the same
//! 10,000 shuffled queries, exactly half of them held.
//!
//! Correctness first: before anything is timed, every query is answered by all three engines and
//! compared with a ground truth computed from the raw rows; any difference panics and prints the
//! query. Then each engine is timed on the same queries, one check per criterion iteration, and
//! the medians are printed as ratios to Breakglass.
//!
//! How each engine holds the same rules:
//! - Breakglass: `State` built with `Change::Create*`, asked through `check::check`.
//! - Cedar: a `User` entity per user (`active`) whose *tags* hold its bindings, keyed
//!   `"<target>#<rank>"` with the value `{from, until}` (µs; `until` is `i64::MAX` when the binding
//!   never ends). `Workspace` entities carry `active`; `Project` entities a `workspace` reference;
//!   both carry `k0`..`k2`, the tag key of each rank on them (Cedar has no string concatenation).
//!   Role ranks are action groups: a binding of rank r answers any action in `ws_by_r`/`prj_by_r`,
//!   which holds the actions of rank r and below. Expiry is `context.now` compared with the
//!   binding's `from`/`until` in the policy; disabled workspaces are `active == false`. Several
//!   bindings on the same (user, target, rank) become one tag spanning them (asserted to overlap,
//!   so nothing is lost).
//! - Casbin: `g, <user>, <role>, <domain>` per binding, the domain being the workspace or
//!   `workspace/project`; rank implication is `g, owner, manager, D` and `g, manager, member, D`
//!   (and `admin > user > reader`) in every domain; one `p` rule per role names the action it
//!   allows. Casbin has no notion of time or of a disabled workspace, so its model is filtered at
//!   load time: bindings already expired at `NOW`, or in a disabled workspace, are left out. It
//!   is given the advantage of a pre-filtered model.

// Reads /proc/self/statm for the memory figures.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use breakglass_core::change::Change;
use breakglass_core::check::{check, DenyReason};
use breakglass_core::ident::{BindingId, Email, Name, Slug, UserId};
use breakglass_core::model::{
    Binding, BindingSource, Project, Target, User, UserStatus, Workspace, WorkspaceStatus,
};
use breakglass_core::role::{AdminRole, ProjectRole, Role, WorkspaceRole};
use breakglass_core::state::State;
use breakglass_core::time::Timestamp;
use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet,
    Request, RestrictedExpression,
};
use criterion::Criterion;
use uuid::Uuid;

/// The instant every check is made at: 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000_000;
const DAY: i64 = 86_400_000_000;
/// Number of queries: half held, half not.
const QUERIES: usize = 10_000;
/// Every binding starts here (as in the core bench).
const STARTS: i64 = NOW - 90 * DAY;

// ---------------------------------------------------------------------------------------------
// The data: copied from the core bench so both measure the same model.

/// xorshift64* with a constant seed: deterministic, no `rand` crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
}

/// One generated binding. Targets `0..workspaces` are workspaces; the rest are projects.
#[derive(Clone, Copy)]
struct RawBinding {
    user: u32,
    target: u32,
    rank: u8,
    expires: Option<i64>,
}

struct Raw {
    users: usize,
    ws_disabled: Vec<bool>,
    project_ws: Vec<u32>,
    bindings: Vec<RawBinding>,
}

impl Raw {
    fn generate(bindings: usize) -> Self {
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ bindings as u64);
        let users = bindings / 10;
        let workspaces = bindings / 100;
        let projects = bindings / 20;
        let ws_disabled = (0..workspaces).map(|_| rng.chance(1, 20)).collect();
        let project_ws = (0..projects).map(|_| rng.below(workspaces) as u32).collect();
        let bindings = (0..bindings)
            .map(|_| {
                let user = rng.below(users) as u32;
                let target = if rng.chance(1, 2) {
                    rng.below(workspaces) as u32
                } else {
                    (workspaces + rng.below(projects)) as u32
                };
                let rank = rng.below(3) as u8;
                let expires = rng.chance(1, 5).then(|| {
                    if rng.chance(1, 4) {
                        NOW - 1 - rng.below(7 * DAY as usize) as i64
                    } else {
                        NOW + 1 + rng.below(30 * DAY as usize) as i64
                    }
                });
                RawBinding { user, target, rank, expires }
            })
            .collect();
        Self { users, ws_disabled, project_ws, bindings }
    }

    fn workspaces(&self) -> usize {
        self.ws_disabled.len()
    }

    fn targets(&self) -> usize {
        self.workspaces() + self.project_ws.len()
    }

    fn is_project(&self, target: u32) -> bool {
        target as usize >= self.workspaces()
    }

    fn workspace_of(&self, target: u32) -> usize {
        if self.is_project(target) {
            self.project_ws[target as usize - self.workspaces()] as usize
        } else {
            target as usize
        }
    }

    fn user_id(i: usize) -> UserId {
        UserId(Uuid::from_u64_pair(splitmix(i as u64 ^ 0x55), i as u64))
    }

    fn ws_name(i: usize) -> String {
        format!("ws-{i:05}")
    }

    fn project_name(j: usize) -> String {
        format!("prj-{j:06}")
    }

    /// The target as one string: `ws-00001` or `ws-00001/prj-000002` (Cedar id, casbin domain).
    fn target_key(&self, t: u32) -> String {
        if self.is_project(t) {
            let j = t as usize - self.workspaces();
            format!("{}/{}", Self::ws_name(self.project_ws[j] as usize), Self::project_name(j))
        } else {
            Self::ws_name(t as usize)
        }
    }

    fn target(&self, t: u32) -> Target {
        let slug = |s: String| Slug::parse(&s).expect("slug");
        if self.is_project(t) {
            let j = t as usize - self.workspaces();
            Target::Project(slug(Self::ws_name(self.project_ws[j] as usize)), slug(Self::project_name(j)))
        } else {
            Target::Workspace(slug(Self::ws_name(t as usize)))
        }
    }

    fn role(&self, target: u32, rank: u8) -> Role {
        if self.is_project(target) {
            Role::Project([ProjectRole::Reader, ProjectRole::User, ProjectRole::Admin][rank as usize])
        } else {
            Role::Workspace(
                [WorkspaceRole::Member, WorkspaceRole::Manager, WorkspaceRole::Owner][rank as usize],
            )
        }
    }

    // -----------------------------------------------------------------------------------------
    // Breakglass

    fn build_breakglass(&self) -> State {
        let mut state = State::new();
        let created = Timestamp::from_micros(NOW - 365 * DAY);
        for i in 0..self.users {
            state.apply(&Change::CreateUser {
                user: User {
                    id: Self::user_id(i),
                    email: Email::parse(&format!("user{i}@example.com")).expect("email"),
                    name: Name::parse(&format!("User {i}")).expect("name"),
                    admin_role: AdminRole::None,
                    status: UserStatus::Active,
                    created_at: created,
                },
                password_hash: None,
            });
        }
        for (i, disabled) in self.ws_disabled.iter().enumerate() {
            state.apply(&Change::CreateWorkspace(Workspace {
                id: Slug::parse(&Self::ws_name(i)).expect("slug"),
                name: Name::parse(&format!("Workspace {i}")).expect("name"),
                status: if *disabled { WorkspaceStatus::Disabled } else { WorkspaceStatus::Active },
                project_quota: 1000,
                tags: BTreeMap::new(),
                created_at: created,
            }));
        }
        for (j, ws) in self.project_ws.iter().enumerate() {
            state.apply(&Change::CreateProject {
                project: Project {
                    workspace: Slug::parse(&Self::ws_name(*ws as usize)).expect("slug"),
                    id: Slug::parse(&Self::project_name(j)).expect("slug"),
                    name: Name::parse(&format!("Project {j}")).expect("name"),
                    tags: BTreeMap::new(),
                    created_at: created,
                },
                quota: 1000,
            });
        }
        for (k, b) in self.bindings.iter().enumerate() {
            let grant = b.expires.is_some();
            state.apply(&Change::CreateBinding(Binding {
                id: BindingId(Uuid::from_u64_pair(splitmix(k as u64 ^ 0xB1), k as u64)),
                user: Self::user_id(b.user as usize),
                target: self.target(b.target),
                role: self.role(b.target, b.rank),
                starts_at: Timestamp::from_micros(STARTS),
                expires_at: b.expires.map(Timestamp::from_micros),
                source: if grant { BindingSource::Grant } else { BindingSource::Direct },
                created_by: None,
                reason: grant.then(|| format!("ticket OPS-{k}")),
            }));
        }
        state
    }

    // -----------------------------------------------------------------------------------------
    // Cedar

    fn build_cedar(&self) -> Entities {
        let uid = |ty: &str, id: &str| {
            EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).expect("type"), EntityId::new(id))
        };
        let tag_key = |t: u32, rank: u8| format!("{}#{rank}", self.target_key(t));
        // (user, tag key) -> (from, until), merging bindings of the same target and rank.
        let mut tags: Vec<BTreeMap<String, (i64, i64)>> = vec![BTreeMap::new(); self.users];
        for b in &self.bindings {
            let until = b.expires.unwrap_or(i64::MAX);
            tags[b.user as usize]
                .entry(tag_key(b.target, b.rank))
                .and_modify(|(from, end)| {
                    // Merging keeps the answers exact only while the intervals overlap.
                    assert!(STARTS <= *end && *from <= until, "disjoint intervals on one tag");
                    *from = (*from).min(STARTS);
                    *end = (*end).max(until);
                })
                .or_insert((STARTS, until));
        }
        let long = RestrictedExpression::new_long;
        let mut entities = Vec::with_capacity(self.users + self.targets() + 16);
        for (i, user_tags) in tags.into_iter().enumerate() {
            let tags = user_tags.into_iter().map(|(k, (from, until))| {
                let v = RestrictedExpression::new_record([
                    ("from".to_owned(), long(from)),
                    ("until".to_owned(), long(until)),
                ])
                .expect("record");
                (k, v)
            });
            let attrs = [("active".to_owned(), RestrictedExpression::new_bool(true))];
            entities.push(Entity::new_with_tags(uid("User", &format!("u{i}")), attrs, [], tags).expect("user"));
        }
        let keys = |t: u32| {
            (0..3u8).map(move |r| (format!("k{r}"), RestrictedExpression::new_string(tag_key(t, r))))
        };
        for t in 0..self.targets() as u32 {
            let key = self.target_key(t);
            let entity = if self.is_project(t) {
                let ws = uid("Workspace", &Self::ws_name(self.workspace_of(t)));
                let attrs = keys(t)
                    .chain([("workspace".to_owned(), RestrictedExpression::new_entity_uid(ws))]);
                Entity::new_with_tags(uid("Project", &key), attrs, [], []).expect("project")
            } else {
                let active = !self.ws_disabled[t as usize];
                let attrs = keys(t).chain([("active".to_owned(), RestrictedExpression::new_bool(active))]);
                Entity::new_with_tags(uid("Workspace", &key), attrs, [], []).expect("workspace")
            };
            entities.push(entity);
        }
        // Actions and the groups that express the ranks: `ws_by_r` holds the actions of rank <= r.
        for (kind, names) in [("ws", ["member", "manager", "owner"]), ("prj", ["reader", "user", "admin"])] {
            for r in 0..3 {
                entities.push(Entity::new_no_attrs(uid("Action", &format!("{kind}_by_{r}")), Default::default()));
            }
            for (rank, name) in names.iter().enumerate() {
                let groups = (rank..3).map(|r| uid("Action", &format!("{kind}_by_{r}"))).collect();
                entities.push(Entity::new_no_attrs(uid("Action", name), groups));
            }
        }
        Entities::from_entities(entities, None).expect("entities")
    }

    fn cedar_policies() -> PolicySet {
        let mut src = String::new();
        for (kind, ty, active) in [("ws", "Workspace", "resource.active"), ("prj", "Project", "resource.workspace.active")] {
            for r in 0..3 {
                src.push_str(&format!(
                    "permit(principal is User, action in Action::\"{kind}_by_{r}\", resource is {ty}) when {{\n\
                     principal.active && {active} && principal.hasTag(resource.k{r}) &&\n\
                     principal.getTag(resource.k{r}).from <= context.now &&\n\
                     context.now < principal.getTag(resource.k{r}).until\n}};\n"
                ));
            }
        }
        PolicySet::from_str(&src).expect("policies")
    }

    fn cedar_request(&self, q: RawQuery) -> Request {
        let uid = |ty: &str, id: &str| {
            EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).expect("type"), EntityId::new(id))
        };
        let ty = if self.is_project(q.target) { "Project" } else { "Workspace" };
        let action = self.role(q.target, q.rank).as_str();
        let context =
            Context::from_pairs([("now".to_owned(), RestrictedExpression::new_long(NOW))]).expect("context");
        Request::new(
            uid("User", &format!("u{}", q.user)),
            uid("Action", action),
            uid(ty, &self.target_key(q.target)),
            context,
            None,
        )
        .expect("request")
    }

    // -----------------------------------------------------------------------------------------
    // Casbin

    const CASBIN_MODEL: &'static str = "\
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.sub, p.sub, r.dom)
";

    /// The policy text: per-domain rank hierarchy, one `p` rule per role, and one `g` rule per
    /// binding still effective at `NOW` in an active workspace (casbin knows no time or status).
    fn casbin_policy(&self) -> String {
        let mut s = String::with_capacity(self.bindings.len() * 40);
        for role in ["member", "manager", "owner", "reader", "user", "admin"] {
            s.push_str(&format!("p, {role}, {role}\n"));
        }
        for t in 0..self.targets() as u32 {
            let d = self.target_key(t);
            let [low, mid, high] =
                if self.is_project(t) { ["reader", "user", "admin"] } else { ["member", "manager", "owner"] };
            s.push_str(&format!("g, {high}, {mid}, {d}\ng, {mid}, {low}, {d}\n"));
        }
        for b in &self.bindings {
            let live = STARTS <= NOW && b.expires.is_none_or(|e| NOW < e);
            if live && !self.ws_disabled[self.workspace_of(b.target)] {
                let role = self.role(b.target, b.rank).as_str();
                s.push_str(&format!("g, u{}, {role}, {}\n", b.user, self.target_key(b.target)));
            }
        }
        s
    }

    fn build_casbin(&self) -> Enforcer {
        let policy = self.casbin_policy();
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let model = DefaultModel::from_str(Self::CASBIN_MODEL).await.expect("model");
            Enforcer::new(model, StringAdapter::new(policy)).await.expect("enforcer")
        })
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Rank and expiry of each binding a (user, target) pair holds.
type Held = HashMap<(u32, u32), Vec<(u8, Option<i64>)>>;

/// The expected answer, computed from the raw rows without any engine.
struct Truth {
    by_pair: Held,
}

impl Truth {
    fn new(raw: &Raw) -> Self {
        let mut by_pair = Held::new();
        for b in &raw.bindings {
            by_pair.entry((b.user, b.target)).or_default().push((b.rank, b.expires));
        }
        Self { by_pair }
    }

    fn expect(&self, raw: &Raw, q: RawQuery) -> Result<(), DenyReason> {
        if raw.ws_disabled[raw.workspace_of(q.target)] {
            return Err(DenyReason::WorkspaceNotActive);
        }
        let held = self
            .by_pair
            .get(&(q.user, q.target))
            .is_some_and(|v| v.iter().any(|(rank, exp)| *rank >= q.rank && exp.is_none_or(|e| NOW < e)));
        if held {
            Ok(())
        } else {
            Err(DenyReason::NoBinding)
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct RawQuery {
    user: u32,
    target: u32,
    rank: u8,
}

/// `QUERIES` queries, exactly half held, shuffled (the core bench's query set).
fn make_queries(raw: &Raw, truth: &Truth) -> Vec<RawQuery> {
    let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
    let (mut held, mut denied) = (Vec::new(), Vec::new());
    let half = QUERIES / 2;
    while held.len() < half || denied.len() < half {
        let b = raw.bindings[rng.below(raw.bindings.len())];
        let q = match rng.below(5) {
            0 | 1 => RawQuery { user: b.user, target: b.target, rank: rng.below(b.rank as usize + 1) as u8 },
            2 => RawQuery {
                user: rng.below(raw.users) as u32,
                target: rng.below(raw.targets()) as u32,
                rank: rng.below(3) as u8,
            },
            3 if b.expires.is_some_and(|e| e <= NOW) => {
                RawQuery { user: b.user, target: b.target, rank: b.rank }
            }
            _ if b.rank < 2 => RawQuery { user: b.user, target: b.target, rank: b.rank + 1 },
            _ => continue,
        };
        let bucket = if truth.expect(raw, q).is_ok() { &mut held } else { &mut denied };
        if bucket.len() < half {
            bucket.push(q);
        }
    }
    let mut all: Vec<RawQuery> = held.into_iter().chain(denied).collect();
    for i in (1..all.len()).rev() {
        all.swap(i, rng.below(i + 1));
    }
    all
}

/// Resident set size in bytes, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Runs `build`, printing how long it took and how much the resident set grew.
fn measured<T>(name: &str, n: usize, build: impl FnOnce() -> T) -> T {
    let (r0, t0) = (resident_bytes(), Instant::now());
    let value = build();
    let (secs, grown) = (t0.elapsed().as_secs_f64(), resident_bytes().saturating_sub(r0));
    println!(
        "load {name:<10} {secs:>7.1} s, resident +{:>6.0} MiB = {:>5.0} B/binding",
        grown as f64 / 1_048_576.0,
        grown as f64 / n as f64
    );
    value
}

/// Criterion's median for `peers/<name>`, in nanoseconds, read back from its output directory.
fn criterion_median(name: &str) -> Option<f64> {
    let dir = std::env::var("CRITERION_HOME").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("criterion")
    });
    let text = std::fs::read_to_string(dir.join("peers").join(name).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn main() {
    let n: usize = std::env::var("PEERS_BINDINGS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let raw = Raw::generate(n);
    let truth = Truth::new(&raw);
    let raw_queries = make_queries(&raw, &truth);
    println!(
        "peers @ {n} bindings: {} users, {} workspaces, {} projects, {QUERIES} queries",
        raw.users,
        raw.workspaces(),
        raw.project_ws.len()
    );

    let state = measured("breakglass", n, || raw.build_breakglass());
    let (entities, policies) = measured("cedar", n, || (raw.build_cedar(), Raw::cedar_policies()));
    let enforcer = measured("casbin", n, || raw.build_casbin());

    let now = Timestamp::from_micros(NOW);
    let bg_queries: Vec<(UserId, Target, Role)> = raw_queries
        .iter()
        .map(|q| (Raw::user_id(q.user as usize), raw.target(q.target), raw.role(q.target, q.rank)))
        .collect();
    let cedar_queries: Vec<Request> = raw_queries.iter().map(|q| raw.cedar_request(*q)).collect();
    let casbin_queries: Vec<(String, String, &'static str)> = raw_queries
        .iter()
        .map(|q| (format!("u{}", q.user), raw.target_key(q.target), raw.role(q.target, q.rank).as_str()))
        .collect();
    let authorizer = Authorizer::new();

    // Correctness first: the three engines and the ground truth agree on every query.
    let mut held = 0;
    for (i, q) in raw_queries.iter().enumerate() {
        let expected = truth.expect(&raw, *q);
        let (user, target, role) = &bg_queries[i];
        let bg = check(&state, *user, target, *role, now);
        let response = authorizer.is_authorized(&cedar_queries[i], &policies, &entities);
        let cedar = response.decision() == Decision::Allow;
        let errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
        let (s, d, a) = &casbin_queries[i];
        let casbin = enforcer.enforce((s.as_str(), d.as_str(), *a)).expect("casbin enforce");
        let bg_matches = match expected {
            Ok(()) => bg.allowed && !bg.via.is_empty(),
            Err(reason) => !bg.allowed && bg.reason == Some(reason),
        };
        if !bg_matches || cedar != expected.is_ok() || casbin != expected.is_ok() || !errors.is_empty() {
            panic!(
                "query {i} {q:?} ({s} {a} on {d}): expected {expected:?}; breakglass {:?}/{:?}, \
                 cedar {cedar} (errors {errors:?}), casbin {casbin}",
                bg.allowed, bg.reason
            );
        }
        held += usize::from(expected.is_ok());
    }
    assert_eq!(held, QUERIES / 2, "exactly half the queries must be held");
    println!("all three engines agree with the ground truth on {QUERIES} queries ({held} held)");

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("peers");
    group.bench_function("breakglass", |b| {
        let mut i = 0;
        b.iter(|| {
            let (user, target, role) = &bg_queries[i];
            i = if i + 1 == bg_queries.len() { 0 } else { i + 1 };
            black_box(check(black_box(&state), *user, target, *role, now))
        })
    });
    group.bench_function("cedar", |b| {
        let mut i = 0;
        b.iter(|| {
            let request = &cedar_queries[i];
            i = if i + 1 == cedar_queries.len() { 0 } else { i + 1 };
            black_box(authorizer.is_authorized(request, black_box(&policies), black_box(&entities)))
        })
    });
    group.bench_function("casbin", |b| {
        let mut i = 0;
        b.iter(|| {
            let (s, d, a) = &casbin_queries[i];
            i = if i + 1 == casbin_queries.len() { 0 } else { i + 1 };
            black_box(black_box(&enforcer).enforce((s.as_str(), d.as_str(), *a)).expect("enforce"))
        })
    });
    group.finish();
    c.final_summary();

    // Not a peer figure: Cedar's own floor on the same requests and entities, with one
    // unconditional `permit` (every answer "allow"), to tell the engine's fixed cost per request
    // from the cost of the six policies' conditions.
    let floor = PolicySet::from_str("permit(principal, action, resource);").expect("policy");
    let t0 = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        for request in &cedar_queries {
            black_box(authorizer.is_authorized(request, &floor, &entities));
        }
    }
    let floor_ns = t0.elapsed().as_nanos() as f64 / (rounds * cedar_queries.len()) as f64;
    println!("cedar floor (one unconditional permit, mean over {rounds} passes): {floor_ns:.0} ns per request");

    if let Some(bg) = criterion_median("breakglass") {
        println!("medians per check @ {n} bindings (ratio to Breakglass):");
        for name in ["breakglass", "cedar", "casbin"] {
            if let Some(m) = criterion_median(name) {
                println!("  {name:<10} {m:>10.0} ns  {:>8.1}x", m / bg);
            }
        }
    }
}
