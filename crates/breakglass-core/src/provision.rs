//! Desired access on platforms, as a pure function of the model and the time, and the
//! provisioning status the engine reports back.
//!
//! Every effective project binding of an active user in an active workspace is desired access
//! on each of the project's tenants: the user's account is a member of the group of the role
//! there. Every live service user is desired access of its own account. Two bindings that map
//! to the same access make one grant, which lasts until the last of them ends, so the end of
//! one never removes what another still covers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::change::Change;
use crate::ident::{BindingId, Slug, UserId};
use crate::model::{Target, UserStatus, WorkspaceStatus};
use crate::platform::{Platform, ServiceUser, ServiceUserId, Tenant};
use crate::role::{ProjectRole, Role};
use crate::state::State;
use crate::time::Timestamp;

/// Who holds access on a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Subject {
    /// A person.
    User(UserId),
    /// A service user.
    Service(ServiceUserId),
}

impl Subject {
    /// Parses `user:<uuid>` or `service:<uuid>`, as [`Subject`]'s `Display` writes it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{}' is not a subject (user:<uuid> or service:<uuid>)",
                s.chars().take(80).collect::<String>()
            )
        };
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
        match kind {
            "user" => Ok(Self::User(UserId(id))),
            "service" => Ok(Self::Service(ServiceUserId(id))),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(u) => write!(f, "user:{}", u.0),
            Self::Service(s) => write!(f, "service:{}", s.0),
        }
    }
}

/// Where a grant lands and what it is: a subject's role on a project's tenant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GrantKey {
    /// The platform.
    pub platform: Slug,
    /// The tenant's workspace.
    pub workspace: Slug,
    /// The tenant's project.
    pub project: Slug,
    /// Who.
    pub subject: Subject,
    /// Which role's group.
    pub role: ProjectRole,
}

/// One piece of desired access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Where and what.
    pub key: GrantKey,
    /// Until when (`None`: no end).
    pub until: Option<Timestamp>,
    /// The bindings it serves (none for a service user), in id order.
    pub bindings: Vec<BindingId>,
}

/// An account the platform must hold: a user's or a service user's login role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Whose.
    pub subject: Subject,
    /// The account's name on the platform.
    pub name: String,
    /// The password verifier and its end, while a login is allowed (`None`: no login).
    pub login: Option<(String, Option<Timestamp>)>,
}

/// Everything one platform must hold now: its tenants, the grants on them and the accounts
/// they need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The tenants of the platform's projects, in key order.
    pub tenants: Vec<Tenant>,
    /// The grants, in key order.
    pub grants: Vec<Grant>,
    /// The accounts, by subject.
    pub accounts: BTreeMap<Subject, Account>,
}

/// What `platform` must hold at `now`: every tenant's [`unit`]s, with the accounts they need.
pub fn desired(state: &State, platform: &Platform, now: Timestamp) -> Desired {
    let mut tenants = Vec::new();
    let mut grants = Vec::new();
    let mut accounts = BTreeMap::new();
    for tenant in state.tenants().filter(|t| t.platform == platform.id) {
        tenants.push(tenant.clone());
        for subject in subjects_on(state, tenant) {
            let unit = unit(state, tenant, subject, now);
            if unit.grants.is_empty() {
                continue;
            }
            if let Some(a) = account(state, platform, subject, now) {
                accounts.entry(subject).or_insert(a.account);
                grants.extend(unit.grants);
            }
        }
    }
    grants.sort_by(|a, b| a.key.cmp(&b.key));
    Desired { tenants, grants, accounts }
}

/// Who may hold access on a tenant: the users with a project binding on its project (effective
/// or not) and its service users, in order.
pub fn subjects_on(state: &State, tenant: &Tenant) -> std::collections::BTreeSet<Subject> {
    let target = Target::Project(tenant.workspace.clone(), tenant.project.clone());
    let users = state
        .bindings_on(&target)
        .filter(|b| matches!(b.role, Role::Project(_)))
        .map(|b| Subject::User(b.user));
    let services = state
        .service_users_of(&tenant.workspace, &tenant.project, &tenant.platform)
        .into_iter()
        .map(|su| Subject::Service(su.id));
    users.chain(services).collect()
}

/// What one subject must hold on one tenant: the smallest piece of desired access, replanned
/// alone when a commit touches it (see [`Touch`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unit {
    /// Its grants now, at most one per role, in key order.
    pub grants: Vec<Grant>,
    /// The next instant after `now` at which they change by time alone (a binding starts or
    /// ends).
    pub next: Option<Timestamp>,
}

/// What `subject` must hold on `tenant` at `now`.
pub fn unit(state: &State, tenant: &Tenant, subject: Subject, now: Timestamp) -> Unit {
    let mut out = Unit::default();
    let live = state.workspace(&tenant.workspace).is_some_and(|w| w.status == WorkspaceStatus::Active);
    if !live {
        return out;
    }
    let key = |role| GrantKey {
        platform: tenant.platform.clone(),
        workspace: tenant.workspace.clone(),
        project: tenant.project.clone(),
        subject,
        role,
    };
    match subject {
        Subject::User(id) => {
            if state.user(id).is_none_or(|u| u.status != UserStatus::Active) {
                return out;
            }
            let here = |t: &Target| matches!(t, Target::Project(w, p) if *w == tenant.workspace && *p == tenant.project);
            for b in state.bindings_of_user(id).filter(|b| here(&b.target)) {
                let Role::Project(role) = b.role else { continue };
                for t in [Some(b.starts_at), b.expires_at].into_iter().flatten() {
                    if t > now && out.next.is_none_or(|n| t < n) {
                        out.next = Some(t);
                    }
                }
                if !b.is_effective(now) {
                    continue;
                }
                match out.grants.iter_mut().find(|g| g.key.role == role) {
                    Some(g) => {
                        g.until = match (g.until, b.expires_at) {
                            (Some(a), Some(e)) => Some(a.max(e)),
                            _ => None,
                        };
                        g.bindings.push(b.id);
                    }
                    None => {
                        out.grants.push(Grant { key: key(role), until: b.expires_at, bindings: vec![b.id] })
                    }
                }
            }
            for g in &mut out.grants {
                g.bindings.sort();
            }
            out.grants.sort_by_key(|g| g.key.role);
        }
        Subject::Service(id) => {
            let here = |su: &&ServiceUser| {
                su.workspace == tenant.workspace
                    && su.project == tenant.project
                    && su.platform == tenant.platform
            };
            if let Some(su) = state.service_user(id).filter(here) {
                out.grants.push(Grant { key: key(su.role), until: None, bindings: vec![] });
            }
        }
    }
    out
}

/// A subject's account on a platform as it must be while it holds any grant there, and when
/// its login ends by time alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountPlan {
    /// The account.
    pub account: Account,
    /// When its login ends (a credential's end), if that is after `now`.
    pub next: Option<Timestamp>,
}

/// The account `subject` needs on `platform` at `now`; `None` when the subject is gone.
pub fn account(state: &State, platform: &Platform, subject: Subject, now: Timestamp) -> Option<AccountPlan> {
    match subject {
        Subject::User(id) => {
            let user = state.user(id)?;
            // A user's credential opens a login while it is valid.
            let credential = state.credential(&platform.id, id).filter(|c| now < c.valid_until);
            Some(AccountPlan {
                account: Account {
                    subject,
                    name: platform.config.account_name(id, user.email.as_str()),
                    login: credential.map(|c| (c.verifier.clone(), Some(c.valid_until))),
                },
                next: credential.map(|c| c.valid_until),
            })
        }
        Subject::Service(id) => {
            let su = state.service_user(id)?;
            Some(AccountPlan {
                account: Account {
                    subject,
                    name: su.client_id.clone(),
                    login: su.verifier.clone().map(|v| (v, None)),
                },
                next: None,
            })
        }
    }
}

/// What a committed change may alter in desired access, so that the provisioning engine replans
/// only that (see [`State::touched_since`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Touch {
    /// A subject's access on one project (a binding, a service user).
    Grant {
        /// The project's workspace.
        workspace: Slug,
        /// The project.
        project: Slug,
        /// Whose.
        subject: Subject,
    },
    /// Everything about one subject: its account and its access on every project.
    Subject(Subject),
    /// Anything wider (a workspace's status, a platform, a tenant): replan the whole platform.
    Everything,
}

/// What `change` touches, judged on the model before it is applied.
pub fn touch_of(state: &State, change: &Change) -> Option<Touch> {
    let on_binding = |b: &crate::model::Binding| match (&b.target, b.role) {
        (Target::Project(w, p), Role::Project(_)) => {
            Some(Touch::Grant { workspace: w.clone(), project: p.clone(), subject: Subject::User(b.user) })
        }
        _ => None,
    };
    let on_service = |su: &ServiceUser| Touch::Grant {
        workspace: su.workspace.clone(),
        project: su.project.clone(),
        subject: Subject::Service(su.id),
    };
    match change {
        Change::CreateBinding(b) => on_binding(b),
        Change::EndBinding { id, .. } | Change::ExtendBinding { id, .. } => {
            state.binding(*id).and_then(on_binding)
        }
        Change::CreateUser { user, .. } => Some(Touch::Subject(Subject::User(user.id))),
        Change::PutCredential(c) => Some(Touch::Subject(Subject::User(c.user))),
        Change::DeleteCredential { user, .. } => Some(Touch::Subject(Subject::User(*user))),
        Change::CreateServiceUser(su) => Some(on_service(su)),
        Change::DeleteServiceUser { id, .. } => state.service_user(*id).map(on_service),
        Change::UpdateWorkspace(_)
        | Change::CreatePlatform(_)
        | Change::UpdatePlatform(_)
        | Change::CreateTenant(_) => Some(Touch::Everything),
        // Nothing a platform holds depends on these (a new workspace or project has no binding
        // yet; provisioning records are the engine's own report).
        Change::CreateToken(_)
        | Change::RevokeToken { .. }
        | Change::PutAccess(_)
        | Change::CreateWorkspace(_)
        | Change::CreateProject { .. }
        | Change::UpdateProject(_)
        | Change::PutPolicy(_)
        | Change::PutEntitlement(_)
        | Change::PutRequest(_)
        | Change::PutReview(_)
        | Change::PutSettings(_)
        | Change::PutInvitation(_)
        | Change::PutTagDefinition(_)
        | Change::DeleteTagDefinition(_)
        | Change::PutMessage(_)
        | Change::PutProvision(_)
        | Change::DeleteProvision(_)
        | Change::PutSshCertificate(_)
        | Change::RevokeSshCertificate { .. } => None,
    }
}

/// The desired grants of one user on one tenant at `now` (what a credential may be issued for).
pub fn grants_of(state: &State, tenant: &Tenant, user: UserId, now: Timestamp) -> Vec<Grant> {
    unit(state, tenant, Subject::User(user), now).grants
}

/// Where one grant stands on its platform, as the engine last reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ProvisionState {
    /// The platform holds it.
    Provisioned {
        /// Since when.
        at: Timestamp,
    },
    /// The last attempt failed; the engine retries.
    Failed {
        /// Why, in the connector's words (never a secret).
        error: String,
        /// Attempts so far.
        attempts: u32,
        /// When the engine tries again.
        next_retry: Timestamp,
        /// When it first failed.
        since: Timestamp,
    },
}

/// A grant's provisioning record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provision {
    /// Which grant.
    pub key: GrantKey,
    /// Where it lands on the platform: the account and the group it is a member of. Kept, so
    /// that the grant can be removed after its subject is gone from the model.
    pub place: Place,
    /// Where it stands.
    pub state: ProvisionState,
}

/// A grant's place on its platform.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Place {
    /// The account's name.
    pub account: String,
    /// The group's name.
    pub group: String,
}

/// The name of a tenant's managed group for a project role: `bg_<workspace>_<project>_<role>`,
/// cut to the platform's limit as account names are.
pub fn group_name(workspace: &Slug, project: &Slug, role: ProjectRole) -> String {
    crate::platform::shorten(&format!("bg_{workspace}_{project}_{}", role.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::PlatformConfig;

    #[test]
    fn account_names_fill_the_template_and_stay_within_63_bytes() {
        let mut config = PlatformConfig::default();
        let user = UserId(uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0));
        assert_eq!(config.account_name(user, "al@x.io"), "bg_al@x.io");
        config.account_template = "{local}_{id}".into();
        assert_eq!(config.account_name(user, "al@x.io"), "al_123456789abc");
        config.account_template = "bg_{email}".into();
        let long = format!("{}@example.com", "a".repeat(80));
        let name = config.account_name(user, &long);
        assert_eq!(name.len(), 63, "{name}");
        let other = config.account_name(user, &format!("{}@example.com", "a".repeat(81)));
        assert_ne!(name, other, "two long names stay apart");
    }
}
