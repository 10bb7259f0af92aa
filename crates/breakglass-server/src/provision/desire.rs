//! What a platform must hold, in the connector's terms, kept between passes.
//!
//! Built whole from the model on a full pass, then brought up to date from what each commit
//! touched ([`State::touched_since`]) and from the instants at which access starts or ends by
//! time alone, so that an edge-triggered pass costs what changed rather than what the platform
//! holds. Both ways use the core's [`unit`] and [`account`], so they cannot disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use breakglass_connect::{AccountSpec, GroupSpec, Kind, TenantSpec};
use breakglass_core::ident::{BindingId, Slug};
use breakglass_core::model::Target;
use breakglass_core::platform::{Platform, Tenant};
use breakglass_core::provision::{account, group_name, subjects_on, unit, GrantKey, Place, Subject, Touch};
use breakglass_core::role::{ProjectRole, Role};
use breakglass_core::time::Timestamp;
use breakglass_core::State;

/// The project roles, each with a managed group on every tenant.
pub(super) const ROLES: [ProjectRole; 3] = [ProjectRole::Reader, ProjectRole::User, ProjectRole::Admin];

/// One subject's access on one project: the unit replanned alone.
type UnitKey = (Slug, Slug, Subject);

/// What a platform must hold at the model's head `head`.
pub(super) struct Desire {
    /// The model head it reflects.
    pub head: i64,
    /// The tenants' specifications, by external id.
    pub tenants: BTreeMap<String, TenantSpec>,
    /// The tenant each managed group belongs to (its external id).
    pub group_tenant: HashMap<String, String>,
    /// The grants, by place.
    pub grants: BTreeMap<Place, GrantKey>,
    /// The bindings each grant serves.
    pub served: HashMap<GrantKey, Vec<BindingId>>,
    /// The accounts, by name.
    pub accounts: BTreeMap<String, AccountSpec>,
    /// The platform's tenant of each project, with its groups' names in [`ROLES`]' order.
    tenant_of: HashMap<(Slug, Slug), (Tenant, [String; 3])>,
    /// The places of each unit.
    units: HashMap<UnitKey, Vec<Place>>,
    /// Each subject's account (its name, to find it by) and how many grants need it.
    subjects: HashMap<Subject, (String, usize)>,
    /// The projects where each subject has grants.
    projects_of: HashMap<Subject, BTreeSet<(Slug, Slug)>>,
    /// When a unit or an account changes by time alone. A replan leaves its old instant here:
    /// when it comes, replanning again changes nothing.
    timers: BTreeSet<(Timestamp, Touch)>,
    /// The role mapping, as the connector names it.
    mapping: BTreeMap<ProjectRole, String>,
}

/// What an update changed: only these need a look on the platform.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    /// Places gained or lost, with the grant each held before (for its record).
    pub places: HashMap<Place, Option<GrantKey>>,
    /// Accounts gained, lost or changed, by name.
    pub accounts: HashSet<String>,
    /// Whether places are recorded (not when building whole: everything is new then).
    record: bool,
}

impl Desire {
    /// Everything `platform` must hold at `now`, from the model.
    pub fn build(state: &State, platform: &Platform, kind: &dyn Kind, now: Timestamp) -> Self {
        let mapping = ROLES.iter().map(|r| (*r, super::mapping_of(platform, kind, *r))).collect();
        let mut d = Desire {
            head: state.head().seq,
            tenants: BTreeMap::new(),
            group_tenant: HashMap::new(),
            grants: BTreeMap::new(),
            served: HashMap::new(),
            accounts: BTreeMap::new(),
            tenant_of: HashMap::new(),
            units: HashMap::new(),
            subjects: HashMap::new(),
            projects_of: HashMap::new(),
            timers: BTreeSet::new(),
            mapping,
        };
        let tenants: Vec<&Tenant> = state.tenants().filter(|t| t.platform == platform.id).collect();
        for tenant in &tenants {
            d.add_tenant(tenant);
        }
        let mut dirty = Dirty::default();
        let mut all = BTreeSet::new();
        for tenant in tenants {
            for subject in subjects_on(state, tenant) {
                if all.insert(subject) {
                    d.replan_account(state, platform, subject, now, &mut dirty);
                }
                d.replan_unit(
                    state,
                    (tenant.workspace.clone(), tenant.project.clone(), subject),
                    now,
                    &mut dirty,
                );
            }
        }
        d.settle_accounts(&all, &mut dirty);
        d
    }

    /// Brings it up to the model's head and to `now`, replanning only what the commits since
    /// touched and what time changed; `None` when that is not known (the journal does not reach
    /// back far enough) or a change was too wide: build it again.
    pub fn update(&mut self, state: &State, platform: &Platform, now: Timestamp) -> Option<Dirty> {
        let mut touched: BTreeSet<Touch> = state.touched_since(self.head)?.cloned().collect();
        while let Some((at, _)) = self.timers.first() {
            if *at > now {
                break;
            }
            let (_, t) = self.timers.pop_first().expect("seen");
            touched.insert(t);
        }
        if touched.contains(&Touch::Everything) {
            return None;
        }
        let mut units: BTreeSet<UnitKey> = BTreeSet::new();
        let mut subjects: BTreeSet<Subject> = BTreeSet::new();
        for t in touched {
            match t {
                Touch::Grant { workspace, project, subject } => {
                    if self.tenant_of.contains_key(&(workspace.clone(), project.clone())) {
                        subjects.insert(subject);
                        units.insert((workspace, project, subject));
                    }
                }
                Touch::Subject(subject) => {
                    // Its account may be renamed: every place of it moves.
                    for (w, p) in self.projects_now(state, subject) {
                        units.insert((w, p, subject));
                    }
                    for (w, p) in self.projects_of.get(&subject).into_iter().flatten() {
                        units.insert((w.clone(), p.clone(), subject));
                    }
                    subjects.insert(subject);
                }
                Touch::Everything => unreachable!("returned above"),
            }
        }
        let mut dirty = Dirty { record: true, ..Dirty::default() };
        for s in &subjects {
            self.replan_account(state, platform, *s, now, &mut dirty);
        }
        for u in units {
            self.replan_unit(state, u, now, &mut dirty);
        }
        self.settle_accounts(&subjects, &mut dirty);
        self.head = state.head().seq;
        Some(dirty)
    }

    /// The next instant at which what it holds changes by time alone.
    pub fn next(&self) -> Option<Timestamp> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The projects with a tenant here where `subject` may hold access in the model now.
    fn projects_now(&self, state: &State, subject: Subject) -> BTreeSet<(Slug, Slug)> {
        let mut out = BTreeSet::new();
        match subject {
            Subject::User(id) => {
                for b in state.bindings_of_user(id) {
                    if let (Target::Project(w, p), Role::Project(_)) = (&b.target, b.role) {
                        out.insert((w.clone(), p.clone()));
                    }
                }
            }
            Subject::Service(id) => {
                if let Some(su) = state.service_user(id) {
                    out.insert((su.workspace.clone(), su.project.clone()));
                }
            }
        }
        out.retain(|k| self.tenant_of.contains_key(k));
        out
    }

    fn add_tenant(&mut self, tenant: &Tenant) {
        let groups: BTreeMap<String, GroupSpec> = ROLES
            .iter()
            .map(|r| {
                let name = group_name(&tenant.workspace, &tenant.project, *r);
                self.group_tenant.insert(name.clone(), tenant.external_id.to_string());
                (r.as_str().to_owned(), GroupSpec { name, mapping: self.mapping[r].clone() })
            })
            .collect();
        let external_id = tenant.external_id.to_string();
        self.tenants.insert(external_id.clone(), TenantSpec { external_id, groups });
        let names = ROLES.map(|r| group_name(&tenant.workspace, &tenant.project, r));
        self.tenant_of.insert((tenant.workspace.clone(), tenant.project.clone()), (tenant.clone(), names));
    }

    /// Sets a subject's account as the model has it (its grants are counted by the units).
    fn replan_account(
        &mut self,
        state: &State,
        platform: &Platform,
        s: Subject,
        now: Timestamp,
        dirty: &mut Dirty,
    ) {
        let old = self.subjects.get(&s).map(|(name, _)| name.clone());
        let planned = account(state, platform, s, now);
        if let Some(next) = planned.as_ref().and_then(|a| a.next) {
            self.timers.insert((next, Touch::Subject(s)));
        }
        let spec = planned.map(|a| AccountSpec {
            name: a.account.name,
            login: a.account.login.map(|(v, until)| (v, until.map(Timestamp::as_micros))),
        });
        let count = self.subjects.get(&s).map_or(0, |(_, n)| *n);
        if let Some(old) = &old {
            if spec.as_ref().is_none_or(|n| n.name != *old) || self.accounts.get(old) != spec.as_ref() {
                dirty.accounts.insert(old.clone());
                self.accounts.remove(old);
            }
        }
        match spec {
            Some(spec) => {
                if self.accounts.get(&spec.name) != Some(&spec) {
                    dirty.accounts.insert(spec.name.clone());
                }
                self.subjects.insert(s, (spec.name.clone(), count));
                self.accounts.insert(spec.name.clone(), spec);
            }
            None => {
                self.subjects.remove(&s);
            }
        }
    }

    /// Replaces a unit's grants with what the model says now. Its subject's account must have
    /// been replanned first.
    fn replan_unit(&mut self, state: &State, key: UnitKey, now: Timestamp, dirty: &mut Dirty) {
        let (w, p, s) = &key;
        for place in self.units.remove(&key).unwrap_or_default() {
            if let Some(old) = self.grants.remove(&place) {
                self.served.remove(&old);
                if dirty.record {
                    dirty.places.entry(place).or_insert(Some(old));
                }
                if let Some((_, n)) = self.subjects.get_mut(s) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        let tenant = self.tenant_of.get(&(w.clone(), p.clone()));
        let planned = tenant.map(|(t, _)| unit(state, t, *s, now)).unwrap_or_default();
        if let Some(next) = planned.next {
            self.timers
                .insert((next, Touch::Grant { workspace: w.clone(), project: p.clone(), subject: *s }));
        }
        let mut places = Vec::with_capacity(planned.grants.len());
        if let Some((account, count)) = self.subjects.get_mut(s) {
            for g in planned.grants {
                let names = &tenant.expect("a unit with grants has a tenant").1;
                let group = names[ROLES.iter().position(|r| *r == g.key.role).expect("every role")].clone();
                let place = Place { account: account.clone(), group };
                *count += 1;
                if dirty.record {
                    dirty.places.entry(place.clone()).or_insert(None);
                }
                self.served.insert(g.key.clone(), g.bindings);
                self.grants.insert(place.clone(), g.key);
                places.push(place);
            }
        }
        let project = (w.clone(), p.clone());
        if places.is_empty() {
            if let Some(projects) = self.projects_of.get_mut(s) {
                projects.remove(&project);
                if projects.is_empty() {
                    self.projects_of.remove(s);
                }
            }
        } else {
            self.projects_of.entry(*s).or_default().insert(project);
            self.units.insert(key, places);
        }
    }

    /// Drops the accounts of `subjects` that no grant needs any more.
    fn settle_accounts(&mut self, subjects: &BTreeSet<Subject>, dirty: &mut Dirty) {
        for s in subjects {
            if let Some((name, 0)) = self.subjects.get(s) {
                let name = name.clone();
                self.subjects.remove(s);
                if self.accounts.remove(&name).is_some() {
                    dirty.accounts.insert(name);
                }
            }
        }
    }
}
