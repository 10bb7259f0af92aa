//! What a command decides: record changes plus the audit events that explain them. The store
//! commits both in one transaction; the server then applies the same changes to its `State`.

use crate::access::{AccessRequest, Entitlement, Policy, Review};
use crate::audit::NewEvent;
use crate::ident::{BindingId, Slug, TokenId, UserId};
use crate::model::{Binding, EndReason, PasswordHash, Token, User, Workspace};
use crate::org::{Invitation, Message, Settings, TagDefinition, TagKey};
use crate::platform::{Credential, Platform, ServiceUser, ServiceUserId, Tenant};
use crate::provision::{GrantKey, Provision};
use crate::ssh::SshCertificate;
use crate::time::Timestamp;

/// One record-level change.
// A change lives for one command: built, committed, applied, dropped. Boxing the large request
// variant would buy nothing but an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// A new user, with a password hash when they may sign in with one.
    CreateUser {
        /// The user.
        user: User,
        /// Argon2 hash of the initial password. Never serialised: the model does not keep it,
        /// and a change feed has no reason to carry it.
        #[serde(skip)]
        password_hash: Option<PasswordHash>,
    },
    /// A new session or API token.
    CreateToken(Token),
    /// A token stops working.
    RevokeToken {
        /// Which.
        id: TokenId,
        /// When.
        at: Timestamp,
    },
    /// An access is created or replaced (recipients added, removed, decided; revoked).
    PutAccess(crate::delegation::Access),
    /// A new workspace.
    CreateWorkspace(Workspace),
    /// A new project. The store re-checks `quota` inside its transaction, so concurrent
    /// creations cannot overshoot it.
    CreateProject {
        /// The project.
        project: crate::model::Project,
        /// The workspace's project quota the decision was made under.
        quota: u32,
    },
    /// A new binding.
    CreateBinding(Binding),
    /// A binding stops counting (it stays in the store's history).
    EndBinding {
        /// Which.
        id: BindingId,
        /// When it was ended (for an expiry, when that was recorded).
        at: Timestamp,
        /// Why.
        reason: EndReason,
        /// Who ended it (`None` for the system).
        by: Option<UserId>,
    },
    /// A live binding's expiry moves (a request for the same entitlement extended it).
    ExtendBinding {
        /// Which.
        id: BindingId,
        /// The new expiry (`None`: no longer ends).
        expires_at: Option<Timestamp>,
    },
    /// A policy is created or replaced.
    PutPolicy(Policy),
    /// An entitlement's settings are created or replaced.
    PutEntitlement(Entitlement),
    /// A request is created or replaced (its new state, approvals, ...).
    PutRequest(AccessRequest),
    /// An emergency review is created or replaced (completed).
    PutReview(Review),
    /// A workspace's mutable fields change (name, status, quota, tags); its identifier never.
    UpdateWorkspace(Workspace),
    /// A project's mutable fields change (name, tags).
    UpdateProject(crate::model::Project),
    /// The installation settings are replaced.
    PutSettings(Settings),
    /// An invitation is created or replaced (accepted, declined, cancelled).
    PutInvitation(Invitation),
    /// A tag definition is created or replaced.
    PutTagDefinition(TagDefinition),
    /// A tag definition is removed (values already set stay as they are).
    DeleteTagDefinition(TagKey),
    /// A message is created or replaced (acknowledged).
    PutMessage(Message),
    /// A new platform.
    CreatePlatform(Platform),
    /// A platform's configuration changes (its identifier, kind and creation never).
    UpdatePlatform(Platform),
    /// A user's credential on a platform is issued, replacing any earlier one.
    PutCredential(Credential),
    /// A user's credential on a platform is withdrawn.
    DeleteCredential {
        /// The platform.
        platform: Slug,
        /// Whose.
        user: UserId,
    },
    /// An SSH certificate was issued.
    PutSshCertificate(SshCertificate),
    /// An SSH certificate is revoked, for good.
    RevokeSshCertificate {
        /// Its platform.
        platform: Slug,
        /// Its serial.
        serial: u64,
        /// When.
        at: Timestamp,
    },
    /// A grant's provisioning record is created or replaced.
    PutProvision(Provision),
    /// A grant's provisioning record goes (the grant was removed from its platform).
    DeleteProvision(GrantKey),
    /// A new tenant of a project on a platform.
    CreateTenant(Tenant),
    /// A new service user.
    CreateServiceUser(ServiceUser),
    /// A service user stops working; its record stays in the store.
    DeleteServiceUser {
        /// Which.
        id: ServiceUserId,
        /// When.
        at: Timestamp,
        /// Who deleted it (`None` for the system).
        by: Option<UserId>,
    },
}

/// A command's outcome: changes and the events explaining them, committed together or not at all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Record changes, applied in order.
    pub changes: Vec<Change>,
    /// Audit events, appended to the chain in order.
    pub events: Vec<NewEvent>,
}

impl Changes {
    /// True when the command changed nothing (an idempotent repeat).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.events.is_empty()
    }

    /// Appends another outcome after this one.
    pub fn extend(&mut self, other: Changes) {
        self.changes.extend(other.changes);
        self.events.extend(other.events);
    }
}
