//! The records Breakglass keeps. Plain data: rules live in `cmd`, lookups in `state`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ident::{BindingId, Email, Name, RequestId, Slug, TokenId, UserId};
use crate::org::Tags;
use crate::role::{AdminRole, Role};
use crate::time::Timestamp;

/// Whether a user may sign in and act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May sign in and act.
    Active,
    /// Refused everywhere; data kept.
    Disabled,
}

impl UserStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
    /// Parses a stored status.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            _ => Err(DomainError::invalid("input.invalid_status", format!("unknown user status '{s}'"))),
        }
    }
}

/// A person.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Stable identity.
    pub id: UserId,
    /// Unique, case-insensitive.
    pub email: Email,
    /// Display name.
    pub name: Name,
    /// Installation-wide role.
    pub admin_role: AdminRole,
    /// Active or disabled.
    pub status: UserStatus,
    /// When the user was created.
    pub created_at: Timestamp,
}

/// Lifecycle state of a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceStatus {
    /// Registered, waiting for the admin area; usable by nobody.
    PendingApproval,
    /// In use.
    Active,
    /// Every check for it is denied; data kept.
    Disabled,
    /// Its registration was refused; usable by nobody, identifier kept.
    Rejected,
}

impl WorkspaceStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "pending_approval",
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Rejected => "rejected",
        }
    }
    /// Parses a stored status.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "pending_approval" => Ok(Self::PendingApproval),
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            "rejected" => Ok(Self::Rejected),
            _ => Err(DomainError::invalid("input.invalid_status", format!("unknown workspace status '{s}'"))),
        }
    }
}

/// A team's container of projects.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Workspace {
    /// Immutable identifier.
    pub id: Slug,
    /// Display name.
    pub name: Name,
    /// Lifecycle state.
    pub status: WorkspaceStatus,
    /// Maximum number of projects.
    pub project_quota: u32,
    /// Tags (validated against their definitions when set).
    pub tags: Tags,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A unit of cloud work inside one workspace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Project {
    /// Owning workspace.
    pub workspace: Slug,
    /// Immutable identifier, unique within the workspace.
    pub id: Slug,
    /// Display name.
    pub name: Name,
    /// Tags (validated against their definitions when set).
    pub tags: Tags,
    /// When it was created.
    pub created_at: Timestamp,
}

/// What a binding grants a role on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// A whole workspace.
    Workspace(Slug),
    /// One project of a workspace.
    Project(Slug, Slug),
}

impl Target {
    /// The workspace the target belongs to.
    pub fn workspace(&self) -> &Slug {
        match self {
            Self::Workspace(ws) | Self::Project(ws, _) => ws,
        }
    }
    /// The project, when the target is one.
    pub fn project(&self) -> Option<&Slug> {
        match self {
            Self::Workspace(_) => None,
            Self::Project(_, p) => Some(p),
        }
    }
    /// True for a project target.
    pub fn is_project(&self) -> bool {
        matches!(self, Self::Project(..))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Workspace(ws) => write!(f, "{ws}"),
            Self::Project(ws, p) => write!(f, "{ws}/{p}"),
        }
    }
}

/// Where a binding came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BindingSource {
    /// The standing membership set by a manager (`PUT .../members/{email}`); at most one per
    /// user and target.
    Direct,
    /// An additional time-bound grant on top of any membership (`POST /grants`).
    Grant,
    /// Granted by an approved access request.
    Request(RequestId),
    /// Granted by an approved emergency request; flagged everywhere and reviewed afterwards.
    Emergency(RequestId),
}

impl BindingSource {
    /// The wire name: `direct`, `grant`, `request` or `emergency`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Grant => "grant",
            Self::Request(_) => "request",
            Self::Emergency(_) => "emergency",
        }
    }

    /// The request behind the binding, if any.
    pub fn request(self) -> Option<RequestId> {
        match self {
            Self::Request(id) | Self::Emergency(id) => Some(id),
            Self::Direct | Self::Grant => None,
        }
    }

    /// True for a binding from an emergency request.
    pub fn is_emergency(self) -> bool {
        matches!(self, Self::Emergency(_))
    }

    /// Parses a stored source and, for `request`/`emergency`, its request id.
    pub fn parse(s: &str, request: Option<&str>) -> Result<Self, DomainError> {
        let id = || {
            request.map(RequestId::parse).transpose()?.ok_or_else(|| {
                DomainError::invalid(
                    "input.invalid_source",
                    format!("binding source '{s}' needs a request id"),
                )
            })
        };
        match s {
            "direct" => Ok(Self::Direct),
            "grant" => Ok(Self::Grant),
            "request" => Ok(Self::Request(id()?)),
            "emergency" => Ok(Self::Emergency(id()?)),
            _ => Err(DomainError::invalid("input.invalid_source", format!("unknown binding source '{s}'"))),
        }
    }
}

/// A user holding a role on a target, possibly until an instant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Binding {
    /// Identity.
    pub id: BindingId,
    /// Who holds the role.
    pub user: UserId,
    /// Where.
    pub target: Target,
    /// What.
    pub role: Role,
    /// From when it counts.
    pub starts_at: Timestamp,
    /// Until when it counts (exclusive); `None` for standing access.
    pub expires_at: Option<Timestamp>,
    /// Where it came from.
    pub source: BindingSource,
    /// Who created it (`None` for the system).
    pub created_by: Option<UserId>,
    /// Optional reason recorded with a grant.
    pub reason: Option<String>,
}

impl Binding {
    /// True when the binding counts at `now`: `starts_at <= now < expires_at`.
    pub fn is_effective(&self, now: Timestamp) -> bool {
        self.starts_at <= now && self.expires_at.is_none_or(|e| now < e)
    }
}

/// Why a binding stopped counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EndReason {
    /// Its `expires_at` passed (recorded by the sweeper).
    Expired,
    /// A manager removed the user.
    Removed,
    /// A grant was revoked early.
    Revoked,
    /// A newer direct binding replaced it (role or expiry change).
    Replaced,
}

impl EndReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Removed => "removed",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
        }
    }
    /// Parses a stored reason.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "expired" => Ok(Self::Expired),
            "removed" => Ok(Self::Removed),
            "revoked" => Ok(Self::Revoked),
            "replaced" => Ok(Self::Replaced),
            _ => Err(DomainError::invalid("input.invalid_reason", format!("unknown end reason '{s}'"))),
        }
    }
}

/// What a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TokenKind {
    /// Issued by `POST /auth/login`; short-lived.
    Session,
    /// Created by the user for automation.
    Api,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Api => "api",
        }
    }
    /// Parses a stored kind.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "session" => Ok(Self::Session),
            "api" => Ok(Self::Api),
            _ => Err(DomainError::invalid("input.invalid_kind", format!("unknown token kind '{s}'"))),
        }
    }
}

/// The SHA-256 digest of a bearer secret. The secret itself is never stored or kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// A bearer credential: a session or an API token.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Token {
    /// Identity (safe to show).
    pub id: TokenId,
    /// Whose rights it carries.
    pub user: UserId,
    /// Session or API token.
    pub kind: TokenKind,
    /// The owner's label for it.
    pub name: Name,
    /// Digest of the secret.
    pub secret_hash: SecretHash,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working (exclusive).
    pub expires_at: Option<Timestamp>,
    /// The one workspace it is confined to; `None`: wherever its owner may act.
    pub scope: Option<Slug>,
    /// It may only read.
    pub read_only: bool,
    /// The access it was created as (kind `api_token`); revoking the access revokes it.
    pub access: Option<crate::ident::AccessId>,
}

impl Token {
    /// True when the token authenticates at `now`.
    pub fn is_valid(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

/// An argon2 PHC string. Opaque to the core; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}
