//! Accesses: what a user shares of their own rights. An `api_token` access is a bearer token
//! acting as its owner; a `delegate` access lets named people act as the owner. Either is cut
//! down to its scope, and neither ever carries more than the owner holds at the moment of use.

use crate::error::DomainError;
use crate::ident::{AccessId, Email, Name, Slug, TokenId, UserId};
use crate::model::{SecretHash, UserStatus};
use crate::state::State;
use crate::time::Timestamp;

/// What an access shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AccessKind {
    /// A bearer token that acts as the owner.
    ApiToken,
    /// Named people may act as the owner with their own credentials.
    Delegate,
}

impl AccessKind {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::Delegate => "delegate",
        }
    }

    /// Parses a wire or stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "api_token" => Ok(Self::ApiToken),
            "delegate" => Ok(Self::Delegate),
            _ => Err(DomainError::invalid(
                "access.invalid_kind",
                format!("unknown access kind '{s}' (api_token or delegate)"),
            )),
        }
    }
}

/// Where an access stands at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessStatus {
    /// It works.
    Active,
    /// Its owner or the admin area revoked it.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl AccessStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl std::fmt::Display for AccessStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RecipientStatus {
    /// Shared, not yet accepted: the recipient cannot act yet.
    Pending,
    /// The recipient may act as the owner.
    Accepted,
    /// The recipient said no (or gave it up).
    Declined,
}

impl RecipientStatus {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "pending" => Ok(Self::Pending),
            "accepted" => Ok(Self::Accepted),
            "declined" => Ok(Self::Declined),
            _ => Err(DomainError::invalid("input.invalid_status", format!("unknown recipient status '{s}'"))),
        }
    }
}

/// One person a delegate access is shared with, by e-mail (they may have no account yet).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipient {
    /// Their address.
    pub email: Email,
    /// Where they stand.
    pub status: RecipientStatus,
    /// Digest of the acceptance code the owner passes on. Nobody verifies e-mail addresses, so
    /// an address alone proves nothing: accepting needs the code.
    pub code_hash: SecretHash,
    /// When they were added.
    pub added_at: Timestamp,
    /// When they accepted or declined.
    pub decided_at: Option<Timestamp>,
}

/// An API token or a delegate access shared by its owner.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    /// Identity.
    pub id: AccessId,
    /// Whose rights it carries.
    pub owner: UserId,
    /// The owner's private label (recipients never see it; the admin area does).
    pub name: Name,
    /// Token or delegation.
    pub kind: AccessKind,
    /// The one workspace it is confined to; `None`: global.
    pub scope: Option<Slug>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working (exclusive).
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it (the owner or an admin).
    pub revoked_by: Option<UserId>,
    /// For a delegate access: who may act as the owner.
    pub recipients: Vec<Recipient>,
    /// For an API token access: the token.
    pub token: Option<TokenId>,
    /// For an API token access: it may only read.
    pub read_only: bool,
}

impl Access {
    /// True when it works at `now`: neither revoked nor expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// Where it stands at `now`: revoked wins over expired.
    pub fn status(&self, now: Timestamp) -> AccessStatus {
        if self.revoked_at.is_some() {
            AccessStatus::Revoked
        } else if self.is_live(now) {
            AccessStatus::Active
        } else {
            AccessStatus::Expired
        }
    }

    /// The recipient entry for `email`.
    pub fn recipient(&self, email: &Email) -> Option<&Recipient> {
        self.recipients.iter().find(|r| &r.email == email)
    }
}

/// Whose rights a delegate uses and where: the result of resolving `X-Breakglass-Act-As`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delegation {
    /// The owner the delegate acts as.
    pub owner: UserId,
    /// The workspaces the delegation reaches; `None`: global.
    pub scope: Option<Vec<Slug>>,
}

/// Resolves "`holder` acts as `owner_email`" at `now`: the owner must have shared a live delegate
/// access with the holder's address, which the holder accepted, and both must be active. Several
/// such accesses add up (a global one reaches everywhere). Every refusal has the same answer,
/// so that nobody learns who delegates to whom by probing.
pub fn resolve(
    state: &State,
    holder: UserId,
    owner_email: &Email,
    now: Timestamp,
) -> Result<Delegation, DomainError> {
    let refused = || DomainError::Forbidden {
        code: "delegation.not_granted",
        message: format!("you hold no accepted, live delegate access of '{owner_email}'"),
    };
    let me = state.user(holder).filter(|u| u.status == UserStatus::Active).ok_or_else(refused)?;
    if &me.email == owner_email {
        return Err(DomainError::invalid(
            "delegation.self",
            "you act as yourself without X-Breakglass-Act-As",
        ));
    }
    let owner =
        state.user_by_email(owner_email).filter(|u| u.status == UserStatus::Active).ok_or_else(refused)?;
    let mut scope: Option<Vec<Slug>> = Some(Vec::new());
    let mut found = false;
    for a in state.accesses_shared_with(&me.email) {
        let accepted = a.recipient(&me.email).is_some_and(|r| r.status == RecipientStatus::Accepted);
        if a.owner != owner.id || a.kind != AccessKind::Delegate || !a.is_live(now) || !accepted {
            continue;
        }
        found = true;
        match (&mut scope, &a.scope) {
            (_, None) => scope = None,
            (Some(list), Some(ws)) if !list.contains(ws) => list.push(ws.clone()),
            _ => {}
        }
    }
    if !found {
        return Err(refused());
    }
    if let Some(list) = &mut scope {
        list.sort();
    }
    Ok(Delegation { owner: owner.id, scope })
}

/// The intersection of two scopes (`None` is everywhere).
pub fn intersect(a: Option<Vec<Slug>>, b: Option<Vec<Slug>>) -> Option<Vec<Slug>> {
    match (a, b) {
        (None, s) | (s, None) => s,
        (Some(a), Some(b)) => Some(a.into_iter().filter(|w| b.contains(w)).collect()),
    }
}
