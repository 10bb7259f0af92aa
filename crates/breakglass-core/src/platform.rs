//! Where projects run and the credentials that reach them: platforms (registered by admins),
//! tenants (a project's footprint on one platform, at most one per project and platform) and
//! service users (non-human credentials for one tenant, whose secret only the server ever sees
//! and which is kept as a SHA-256 digest).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;
use crate::ident::{Name, Slug, UserId};
use crate::model::SecretHash;
use crate::role::ProjectRole;
use crate::time::{Span, Timestamp};

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
    /// How its connector reaches it and what it creates there (empty for a kind without one).
    #[serde(default)]
    pub config: PlatformConfig,
}

/// What the engine does with access on a managed role that Breakglass did not grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMode {
    /// Remove it, and record that it was removed.
    #[default]
    Enforce,
    /// Leave it, and record that it is there.
    Report,
}

impl DriftMode {
    /// Parses `enforce` or `report`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "enforce" => Ok(Self::Enforce),
            "report" => Ok(Self::Report),
            _ => Err(DomainError::invalid(
                "platform.invalid_mode",
                format!(
                    "'{}' is not a drift mode: use enforce or report",
                    s.chars().take(40).collect::<String>()
                ),
            )),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Report => "report",
        }
    }
}

/// A platform's connection and provisioning settings. Secret settings are kept sealed: the
/// server encrypts them with a key outside the database before they reach the model, and only
/// the connector that uses them opens them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformConfig {
    /// Settings that are not secret, by key (`host`, `database`, ...).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Secret settings, by key, each sealed (ciphertext the model never opens).
    #[serde(default)]
    pub sealed: BTreeMap<String, String>,
    /// What to do about access granted by hand on a managed role.
    #[serde(default)]
    pub mode: DriftMode,
    /// What each project role means on the platform, in the connector's terms (for PostgreSQL:
    /// the privileges of the role's group role). A role without an entry uses the connector's
    /// default.
    #[serde(default)]
    pub mapping: BTreeMap<ProjectRole, String>,
    /// How a user's account is named: a template over `{email}`, `{local}` (the part before
    /// `@`) and `{id}` (the first 12 hex digits of the user id).
    #[serde(default = "default_account_template")]
    pub account_template: String,
    /// The longest a credential issued for the platform stays valid.
    #[serde(default = "default_credential_lifetime")]
    pub credential_lifetime: Span,
}

/// The default account template: `bg_` and the user's e-mail.
pub fn default_account_template() -> String {
    "bg_{email}".to_owned()
}

/// The default longest credential lifetime: 8 hours.
pub fn default_credential_lifetime() -> Span {
    Span::hours(8)
}

/// Longest account name: PostgreSQL's identifiers have 63 bytes.
pub const MAX_ACCOUNT_NAME: usize = 63;

impl Default for PlatformConfig {
    fn default() -> Self {
        Self::new(BTreeMap::new(), BTreeMap::new())
    }
}

impl PlatformConfig {
    /// A configuration with these settings and everything else at its default.
    pub fn new(settings: BTreeMap<String, String>, sealed: BTreeMap<String, String>) -> Self {
        Self {
            settings,
            sealed,
            mode: DriftMode::default(),
            mapping: BTreeMap::new(),
            account_template: default_account_template(),
            credential_lifetime: default_credential_lifetime(),
        }
    }

    /// Checks the parts the model understands: setting keys, the template, the lifetime.
    pub fn validate(&self) -> Result<(), DomainError> {
        for key in self.settings.keys().chain(self.sealed.keys()) {
            let ok = (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
            if !ok {
                return Err(DomainError::invalid(
                    "platform.invalid_setting",
                    format!(
                        "'{}' is not a setting name: use 1 to 64 lowercase letters, digits, '_' or '-'",
                        key.chars().take(64).collect::<String>()
                    ),
                ));
            }
        }
        if let Some(key) = self.settings.keys().find(|k| self.sealed.contains_key(*k)) {
            return Err(DomainError::invalid(
                "platform.invalid_setting",
                format!("setting '{key}' is given twice, as a secret and not"),
            ));
        }
        if let Some((key, _)) =
            self.settings.iter().find(|(_, v)| v.len() > 4096 || v.chars().any(char::is_control))
        {
            return Err(DomainError::invalid(
                "platform.invalid_setting",
                format!("setting '{key}' has more than 4096 bytes or a control character"),
            ));
        }
        let t = &self.account_template;
        if !(t.contains("{email}") || t.contains("{id}")) || t.len() > 64 || t.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "platform.invalid_account_template",
                "an account template names each user uniquely: it holds {email} or {id}, in at most 64 bytes",
            ));
        }
        if self.credential_lifetime < Span::minutes(1) || self.credential_lifetime > Span::days(366) {
            return Err(DomainError::invalid(
                "platform.invalid_credential_lifetime",
                "a credential lifetime lies between 1 minute and 366 days",
            ));
        }
        Ok(())
    }

    /// The account name of a user on the platform: the template filled in, cut to
    /// [`MAX_ACCOUNT_NAME`] bytes with a digest of the whole so two long names stay apart.
    pub fn account_name(&self, user: UserId, email: &str) -> String {
        let local = email.split('@').next().unwrap_or(email);
        let id = user.0.simple().to_string();
        let name = self
            .account_template
            .replace("{email}", email)
            .replace("{local}", local)
            .replace("{id}", &id[..12]);
        shorten(&name)
    }
}

/// `name` if it fits [`MAX_ACCOUNT_NAME`] bytes, else its first bytes (on a character boundary),
/// `~` and 8 hex digits of a digest of the whole.
pub fn shorten(name: &str) -> String {
    if name.len() <= MAX_ACCOUNT_NAME {
        return name.to_owned();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let tail = format!("~{:02x}{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2], digest[3]);
    let mut cut = MAX_ACCOUNT_NAME - tail.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tail}", &name[..cut])
}

/// A password credential a user holds on a platform: the connector's verifier of the password
/// (never the password, which only its holder saw) and when it stops working.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The platform.
    pub platform: Slug,
    /// Whose.
    pub user: UserId,
    /// The connector's verifier of the password (for PostgreSQL a SCRAM-SHA-256 secret).
    pub verifier: String,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When the platform stops accepting it.
    pub valid_until: Timestamp,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("platform", &self.platform)
            .field("user", &self.user)
            .field("issued_at", &self.issued_at)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
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
    /// The project role it holds on the tenant.
    #[serde(default = "service_user_role")]
    pub role: ProjectRole,
    /// The platform login's password verifier, for a platform whose connector makes logins.
    #[serde(default)]
    pub verifier: Option<String>,
}

fn service_user_role() -> ProjectRole {
    ProjectRole::User
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
