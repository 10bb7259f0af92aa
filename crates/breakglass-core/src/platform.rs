//! Where projects run and the credentials that reach them: platforms (registered by admins),
//! tenants (a project's footprint on one platform, at most one per project and platform) and
//! service users (non-human credentials for one tenant, whose secret only the server ever sees
//! and which is kept as a SHA-256 digest).

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;
use crate::ident::{Name, Slug, UserId};
use crate::model::SecretHash;
use crate::time::Timestamp;

/// What kind of place a platform is: a short slug such as `aws`, `kubernetes` or `postgres`.
/// 2 to 32 lowercase letters, digits or `-`, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlatformKind(String);

impl PlatformKind {
    /// Parses a platform kind.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let b = s.as_bytes();
        let ok = (2..=32).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "platform.invalid_kind",
                format!(
                    "'{}' is not a platform kind: use 2 to 32 lowercase letters, digits or '-', starting \
                     with a letter (e.g. aws, kubernetes, postgres)",
                    s.chars().take(40).collect::<String>()
                ),
            ))
        }
    }

    /// The kind text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a platform names a tenant: an account id, a namespace, a database name. 1 to 256
/// characters without control characters or surrounding spaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Longest external id, in characters.
    pub const MAX: usize = 256;

    /// Parses an external id; surrounding spaces are refused rather than trimmed, since the
    /// platform would not trim them.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let ok = !s.is_empty()
            && s.chars().count() <= Self::MAX
            && s.trim() == s
            && !s.chars().any(char::is_control);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "tenant.invalid_external_id",
                format!(
                    "an external id has 1 to {} characters, without control characters or surrounding \
                     spaces",
                    Self::MAX
                ),
            ))
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identity of a service user (not its client id, not its secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceUserId(pub Uuid);

impl ServiceUserId {
    /// Parses the textual UUID form.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Uuid::parse_str(s.trim()).map(Self).map_err(|_| {
            DomainError::invalid(
                "input.invalid_id",
                format!("'{}' is not a valid service user id", s.chars().take(80).collect::<String>()),
            )
        })
    }
}

impl fmt::Display for ServiceUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A place where projects run: a cloud, a cluster, a database server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    /// Immutable identifier, unique in the installation.
    pub id: Slug,
    /// What kind of place it is.
    pub kind: PlatformKind,
    /// Display name.
    pub name: Name,
    /// Who registered it (`None` for the system).
    pub created_by: Option<UserId>,
    /// When.
    pub created_at: Timestamp,
}

/// A project's footprint on one platform. At most one per project and platform, and an external
/// id belongs to at most one project on a platform.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    /// The project's workspace.
    pub workspace: Slug,
    /// The project.
    pub project: Slug,
    /// The platform.
    pub platform: Slug,
    /// How the platform names it.
    pub external_id: ExternalId,
    /// Who created it (`None` for the system).
    pub created_by: Option<UserId>,
    /// When.
    pub created_at: Timestamp,
}

/// A non-human credential for one tenant. Deleting it keeps the record (with `deleted_at`) in
/// the store; the live model holds only those not deleted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceUser {
    /// Identity.
    pub id: ServiceUserId,
    /// The tenant's workspace.
    pub workspace: Slug,
    /// The tenant's project.
    pub project: Slug,
    /// The tenant's platform.
    pub platform: Slug,
    /// Label given by its creator, unique among the tenant's live service users.
    pub name: Name,
    /// The public half of the credential, unique in the installation.
    pub client_id: String,
    /// Digest of the secret, which was shown once to its creator. `Debug` prints nothing of it.
    pub secret_hash: SecretHash,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// When it was deleted, if it was.
    pub deleted_at: Option<Timestamp>,
    /// Who deleted it.
    pub deleted_by: Option<UserId>,
}

/// The client id of a service user, from an id the command drew from its context:
/// `svc-` and 32 hexadecimal digits.
pub fn client_id(drawn: Uuid) -> String {
    format!("svc-{}", drawn.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for ok in ["aws", "kubernetes", "postgres", "gcp-2", "k8"] {
            assert!(PlatformKind::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "AWS", "2aws", "-x", "a_b", "a b", &"a".repeat(33)] {
            assert_eq!(PlatformKind::parse(bad).unwrap_err().code(), "platform.invalid_kind", "{bad}");
        }
    }

    #[test]
    fn external_ids() {
        for ok in ["123456789012", "ns/prod", "db name ✓", &"x".repeat(256)] {
            assert!(ExternalId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", " x", "x ", "a\nb", "a\u{0}b", &"x".repeat(257)] {
            assert_eq!(ExternalId::parse(bad).unwrap_err().code(), "tenant.invalid_external_id", "{bad:?}");
        }
    }

    #[test]
    fn client_ids_are_prefixed_hex() {
        let id = client_id(Uuid::from_u128(0xab));
        assert_eq!(id, format!("svc-{:032x}", 0xab));
    }
}
