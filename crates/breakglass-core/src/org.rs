//! The admin area's records: installation settings, invitations, tag definitions and messages
//! to a workspace's users.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ident::{Email, InvitationId, MessageId, Slug, UserId};
use crate::model::SecretHash;
use crate::role::WorkspaceRole;
use crate::time::{Span, Timestamp};

/// Who may register a workspace in self-service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Any signed-in user; the workspace is active at once.
    Open,
    /// Any signed-in user; the workspace waits for the admin area's approval.
    Approval,
    /// Nobody; the admin area creates workspaces.
    Closed,
}

/// Who may sign up with e-mail and password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signup {
    /// Anyone.
    Open,
    /// Only addresses with a pending invitation or shared access.
    InvitedOnly,
    /// Nobody; admins create users.
    Closed,
}

/// Installation-wide settings, changed by admins only.
// `default` lets settings stored by an older version load after a field is added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Self-service workspace registration.
    pub workspace_registration: Registration,
    /// Self-service sign-up.
    pub signup: Signup,
    /// How long an invitation stays valid.
    pub invitation_ttl: Span,
    /// Project quota of new workspaces.
    pub default_project_quota: u32,
    /// "Add myself" assigns `member` instead of `manager`.
    pub restrict_admin_role_assignment: bool,
    /// Expiry of "add myself" when none is asked for.
    pub add_myself_default_expiry: Span,
    /// Longest "add myself" expiry.
    pub add_myself_max_expiry: Span,
    /// The furthest any expiry may lie from the moment it is set (memberships, grants,
    /// invitations' memberships, tokens, accesses, request durations): "temporary" stays
    /// temporary. Standing access (no expiry) is a choice of its own, not a far-away expiry.
    pub max_expiry: Span,
    /// Most live API tokens one user may hold.
    pub max_api_tokens_per_user: u32,
    /// Most live sessions one user may hold.
    pub max_sessions_per_user: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            workspace_registration: Registration::Approval,
            signup: Signup::InvitedOnly,
            invitation_ttl: Span::days(7),
            default_project_quota: 20,
            restrict_admin_role_assignment: false,
            add_myself_default_expiry: Span::hours(8),
            add_myself_max_expiry: Span::days(7),
            max_expiry: Span::days(366),
            max_api_tokens_per_user: 100,
            max_sessions_per_user: 50,
        }
    }
}

/// Lifecycle of an invitation. An invitation past its expiry is shown as `expired` but is not
/// rewritten: expiry is a comparison, like a binding's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    /// Waiting for the invitee.
    Pending,
    /// Accepted: the membership exists.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Withdrawn by a manager.
    Cancelled,
}

impl InvitationState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored state.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            "declined" => Self::Declined,
            "cancelled" => Self::Cancelled,
            _ => {
                return Err(DomainError::invalid(
                    "input.invalid_state",
                    format!("unknown invitation state '{s}'"),
                ))
            }
        })
    }
}

/// An invitation of an e-mail address (which may belong to nobody yet) into a workspace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Invitation {
    /// Identity.
    pub id: InvitationId,
    /// Into which workspace.
    pub workspace: Slug,
    /// Whom.
    pub email: Email,
    /// The role accepting grants (never more).
    pub role: WorkspaceRole,
    /// Expiry of the resulting membership, if any.
    pub membership_expires_at: Option<Timestamp>,
    /// Who invited.
    pub invited_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// Until when it can be accepted (exclusive).
    pub expires_at: Timestamp,
    /// Lifecycle state.
    pub state: InvitationState,
    /// When it left `pending`.
    pub decided_at: Option<Timestamp>,
    /// Digest of the secret the invitee must present to accept (and to sign up by invitation).
    pub token_hash: SecretHash,
}

impl Invitation {
    /// True when it can still be accepted at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.state == InvitationState::Pending && now < self.expires_at
    }

    /// True when it is still pending but can no longer be accepted: it shows as expired.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.state == InvitationState::Pending && now >= self.expires_at
    }
}

/// What a tag applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagTarget {
    /// Workspaces.
    Workspace,
    /// Projects.
    Project,
}

impl TagTarget {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::Project => "project",
        }
    }

    /// Parses `workspace` or `project`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "workspace" => Ok(Self::Workspace),
            "project" => Ok(Self::Project),
            _ => Err(DomainError::invalid(
                "tag.invalid",
                format!("unknown tag target '{s}': use workspace or project"),
            )),
        }
    }
}

/// Which values a tag accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "rule")]
pub enum TagRule {
    /// Any value up to 256 characters.
    Any,
    /// One of these values.
    Values(Vec<String>),
    /// A value matching this regular expression entirely.
    Pattern(String),
}

/// A tag key's definition (admins only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagDefinition {
    /// The key, e.g. `cost-center`.
    pub key: TagKey,
    /// Workspaces or projects.
    pub target: TagTarget,
    /// Only the admin area sets it.
    pub restricted: bool,
    /// Accepted values.
    pub rule: TagRule,
    /// Every workspace/project must carry it (its default counts).
    pub mandatory: bool,
    /// Value used when none is given.
    pub default: Option<String>,
    /// When defined.
    pub created_at: Timestamp,
}

impl TagDefinition {
    /// Checks a value against the rule.
    pub fn validate(&self, value: &str) -> Result<(), DomainError> {
        let bad = |why: String| {
            DomainError::invalid(
                "tag.invalid_value",
                format!("'{value}' is not a valid value of tag '{}': {why}", self.key),
            )
        };
        if value.is_empty() || value.chars().count() > 256 || value.chars().any(char::is_control) {
            return Err(bad("use 1 to 256 characters without control characters".into()));
        }
        match &self.rule {
            TagRule::Any => Ok(()),
            TagRule::Values(values) if values.iter().any(|v| v == value) => Ok(()),
            TagRule::Values(values) => Err(bad(format!("allowed values are {}", values.join(", ")))),
            TagRule::Pattern(p) => match anchored(p) {
                Ok(re) if re.is_match(value) => Ok(()),
                Ok(_) => Err(bad(format!("it must match {p}"))),
                Err(e) => Err(bad(format!("the tag's pattern does not compile: {e}"))),
            },
        }
    }
}

/// Compiles a tag pattern so that it must match the whole value.
pub fn anchored(pattern: &str) -> Result<regex_lite::Regex, regex_lite::Error> {
    regex_lite::Regex::new(&format!("^(?:{pattern})$"))
}

/// A tag key: 1 to 63 lowercase letters, digits, `-`, `_` or `.`, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TagKey(String);

impl TagKey {
    /// Parses a tag key.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let b = s.as_bytes();
        let ok = (1..=63).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "tag.invalid_key",
                format!("'{s}' is not a tag key: use 1 to 63 lowercase letters, digits, '-', '_' or '.'"),
            ))
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tags a workspace or project carries.
pub type Tags = BTreeMap<TagKey, String>;

/// How a message is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageMode {
    /// Every user sees it until they acknowledge it.
    AllMustRead,
    /// It disappears for everyone once one user acknowledges it.
    SingleRead,
}

impl MessageMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllMustRead => "all_must_read",
            Self::SingleRead => "single_read",
        }
    }

    /// Parses `all_must_read` or `single_read`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "all_must_read" => Ok(Self::AllMustRead),
            "single_read" => Ok(Self::SingleRead),
            _ => Err(DomainError::invalid(
                "message.invalid_mode",
                format!("unknown mode '{s}': use all_must_read or single_read"),
            )),
        }
    }
}

/// A notice from the admin area to a workspace's users.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// Identity.
    pub id: MessageId,
    /// To whose users.
    pub workspace: Slug,
    /// The text.
    pub text: String,
    /// How it is read.
    pub mode: MessageMode,
    /// Who sent it.
    pub sender: UserId,
    /// When.
    pub created_at: Timestamp,
    /// Who acknowledged it, when.
    pub acks: Vec<(UserId, Timestamp)>,
}

impl Message {
    /// True when `user` still has to read it.
    pub fn unread_by(&self, user: UserId) -> bool {
        match self.mode {
            MessageMode::AllMustRead => !self.acks.iter().any(|(u, _)| *u == user),
            MessageMode::SingleRead => self.acks.is_empty(),
        }
    }
}
