//! SSH certificates a platform's authority issued, and which of them are revoked. A certificate
//! carries the principals of the project roles its holder had on a tenant when it was signed and
//! ends when the first of those accesses ends, so sshd refuses it afterwards by itself. It is
//! revoked when one of those roles ends earlier than planned (a binding revoked, a user disabled,
//! a workspace suspended): then hosts refuse it through the key revocation list. A revocation is
//! for good: the server records it (`cmd::ssh::record_revocations`), so access given back later
//! does not revive the certificate (its key may be why access was taken).

use serde::{Deserialize, Serialize};

use crate::ident::{Slug, UserId};
use crate::provision::grants_of;
use crate::role::ProjectRole;
use crate::state::State;
use crate::time::{Span, Timestamp};

/// How far hosts' clocks may be off: a certificate is valid from this long before its signing,
/// and a revoked one stays in the revocation list this long after its end.
pub const CLOCK_SKEW: Span = Span::seconds(60);

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
    /// When it was revoked, for good (`None`: not recorded as revoked).
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// Largest serial: serials stay below 2^63 so every store keeps them as a signed integer.
pub const MAX_SERIAL: u64 = (1 << 63) - 1;

/// The certificates of `platform` that hosts may still accept at `now` but that are revoked:
/// recorded so (listed until [`CLOCK_SKEW`] after their end, for hosts whose clocks run
/// behind), or still valid while their holder no longer holds every role they were issued for
/// (not yet recorded). A certificate that simply ended is not listed. In serial order: what the
/// platform's revocation list must name.
pub fn revoked<'a>(state: &'a State, platform: &'a Slug, now: Timestamp) -> Vec<&'a SshCertificate> {
    state
        .ssh_certificates_on(platform)
        .filter(|c| match c.revoked_at {
            Some(_) => now < c.valid_before.plus(CLOCK_SKEW),
            None => now < c.valid_before && !still_held(state, c, now),
        })
        .collect()
}

/// The certificates, on every platform, still valid at `now` whose holder lost a role they
/// carry and whose revocation is not yet recorded.
pub fn unrecorded_revocations(state: &State, now: Timestamp) -> Vec<&SshCertificate> {
    state
        .ssh_certificates()
        .filter(|c| c.revoked_at.is_none() && now < c.valid_before && !still_held(state, c, now))
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
