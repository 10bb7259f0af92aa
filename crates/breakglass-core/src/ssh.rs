//! SSH certificates a platform's authority issued, and which of them are revoked. A certificate
//! carries the principals of the project roles its holder had on a tenant when it was signed and
//! ends when the first of those accesses ends, so sshd refuses it afterwards by itself. It is
//! revoked when one of those roles ends earlier than planned (a binding revoked, a user disabled,
//! a workspace suspended): then hosts refuse it through the key revocation list.

use serde::{Deserialize, Serialize};

use crate::ident::{Slug, UserId};
use crate::provision::grants_of;
use crate::role::ProjectRole;
use crate::state::State;
use crate::time::Timestamp;

/// One issued SSH user certificate (the certificate itself went to its holder only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshCertificate {
    /// The platform whose authority signed it.
    pub platform: Slug,
    /// Its serial, unique per platform (the revocation list names it).
    pub serial: u64,
    /// Whose.
    pub user: UserId,
    /// The tenant's workspace.
    pub workspace: Slug,
    /// The tenant's project.
    pub project: Slug,
    /// The project roles it was issued for.
    pub roles: Vec<ProjectRole>,
    /// The principals it carries (the roles' mapping on the tenant).
    pub principals: Vec<String>,
    /// Its key id, which sshd logs.
    pub key_id: String,
    /// The signed public key's SHA-256 fingerprint.
    pub fingerprint: String,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// The first instant it is valid.
    pub valid_after: Timestamp,
    /// The instant it stops being valid.
    pub valid_before: Timestamp,
}

/// Largest serial: serials stay below 2^63 so every store keeps them as a signed integer.
pub const MAX_SERIAL: u64 = (1 << 63) - 1;

/// The certificates of `platform` that are still valid at `now` but whose holder no longer
/// holds every role they were issued for, in serial order: what the platform's revocation list
/// must name.
pub fn revoked<'a>(state: &'a State, platform: &'a Slug, now: Timestamp) -> Vec<&'a SshCertificate> {
    state
        .ssh_certificates_on(platform)
        .filter(|c| now < c.valid_before && !still_held(state, c, now))
        .collect()
}

/// Whether the holder of `c` holds, at `now`, every role it was issued for on its tenant.
pub fn still_held(state: &State, c: &SshCertificate, now: Timestamp) -> bool {
    let Some(tenant) = state.tenant(&c.workspace, &c.project, &c.platform) else {
        return false;
    };
    let held = grants_of(state, tenant, c.user, now);
    c.roles.iter().all(|r| held.iter().any(|g| g.key.role == *r))
}
