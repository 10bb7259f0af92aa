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

use crate::ident::{BindingId, Slug, UserId};
use crate::model::{Target, UserStatus, WorkspaceStatus};
use crate::platform::{Platform, ServiceUserId, Tenant};
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

/// What `platform` must hold at `now`.
pub fn desired(state: &State, platform: &Platform, now: Timestamp) -> Desired {
    let mut tenants = Vec::new();
    let mut grants: BTreeMap<GrantKey, Grant> = BTreeMap::new();
    let mut accounts = BTreeMap::new();
    for tenant in state.tenants().filter(|t| t.platform == platform.id) {
        tenants.push(tenant.clone());
        let live = state.workspace(&tenant.workspace).is_some_and(|w| w.status == WorkspaceStatus::Active);
        if !live {
            continue;
        }
        let target = Target::Project(tenant.workspace.clone(), tenant.project.clone());
        for b in state.bindings_on(&target).filter(|b| b.is_effective(now)) {
            let Role::Project(role) = b.role else { continue };
            let Some(user) = state.user(b.user).filter(|u| u.status == UserStatus::Active) else { continue };
            let key = GrantKey {
                platform: platform.id.clone(),
                workspace: tenant.workspace.clone(),
                project: tenant.project.clone(),
                subject: Subject::User(user.id),
                role,
            };
            let grant =
                grants.entry(key.clone()).or_insert(Grant { key, until: b.expires_at, bindings: vec![] });
            grant.until = match (grant.until, b.expires_at) {
                (Some(a), Some(e)) => Some(a.max(e)),
                _ => None,
            };
            grant.bindings.push(b.id);
            accounts.entry(Subject::User(user.id)).or_insert_with(|| Account {
                subject: Subject::User(user.id),
                name: platform.config.account_name(user.id, user.email.as_str()),
                login: None,
            });
        }
        for su in state.service_users_of(&tenant.workspace, &tenant.project, &tenant.platform) {
            let subject = Subject::Service(su.id);
            let key = GrantKey {
                platform: platform.id.clone(),
                workspace: tenant.workspace.clone(),
                project: tenant.project.clone(),
                subject,
                role: su.role,
            };
            grants.insert(key.clone(), Grant { key, until: None, bindings: vec![] });
            accounts.insert(
                subject,
                Account {
                    subject,
                    name: su.client_id.clone(),
                    login: su.verifier.clone().map(|v| (v, None)),
                },
            );
        }
    }
    for grant in grants.values_mut() {
        grant.bindings.sort();
    }
    // A user's credential opens a login while it is valid and they hold access here.
    for (subject, account) in accounts.iter_mut() {
        if let Subject::User(user) = subject {
            if let Some(c) = state.credential(&platform.id, *user).filter(|c| now < c.valid_until) {
                account.login = Some((c.verifier.clone(), Some(c.valid_until)));
            }
        }
    }
    Desired { tenants, grants: grants.into_values().collect(), accounts }
}

/// The desired grants of one user on one tenant at `now` (what a credential may be issued for).
pub fn grants_of(state: &State, tenant: &Tenant, user: UserId, now: Timestamp) -> Vec<Grant> {
    let Some(platform) = state.platform(&tenant.platform) else { return vec![] };
    desired(state, platform, now)
        .grants
        .into_iter()
        .filter(|g| {
            g.key.subject == Subject::User(user)
                && g.key.workspace == tenant.workspace
                && g.key.project == tenant.project
        })
        .collect()
}

/// The next instant after `now` at which what `platform` must hold changes by time alone: a
/// binding on one of its tenants starts or ends, or a credential ends.
pub fn next_change(state: &State, platform: &Platform, now: Timestamp) -> Option<Timestamp> {
    let mut next: Option<Timestamp> = None;
    let mut consider = |t: Timestamp| {
        if t > now && next.is_none_or(|n| t < n) {
            next = Some(t);
        }
    };
    for tenant in state.tenants().filter(|t| t.platform == platform.id) {
        let target = Target::Project(tenant.workspace.clone(), tenant.project.clone());
        for b in state.bindings_on(&target) {
            consider(b.starts_at);
            if let Some(e) = b.expires_at {
                consider(e);
            }
        }
    }
    for c in state.credentials_on(&platform.id) {
        consider(c.valid_until);
    }
    next
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
