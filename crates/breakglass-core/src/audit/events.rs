//! The audit log's vocabulary: event types, an event as a command produces it, as the chain
//! holds it and as the store keeps it, and the chain's head.

use std::fmt;

use serde_json::Value;

use crate::error::DomainError;
use crate::time::Timestamp;

use super::canonical::*;

macro_rules! event_types {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// The kind of an audit event. Stored and shown by its upper-case name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventType { $(#[doc = $doc] $variant,)* }

        impl EventType {
            /// Every event type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The stored name, e.g. `WORKSPACE_CREATED`.
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                match s {
                    $($name => Ok(EventType::$variant),)*
                    _ => Err(DomainError::invalid("input.unknown_event_type", format!("unknown event type '{s}'"))),
                }
            }
        }
    };
}

event_types! {
    UserCreated => "USER_CREATED": "A user account was created.",
    UserSignedIn => "USER_SIGNED_IN": "A user signed in with a password and got a session.",
    SignInThrottled => "SIGN_IN_THROTTLED": "Too many failed sign-ins for one account or from one address: sign-ins there are refused for a while (one event per lock-out, not per guess).",
    SignInThrottleLifted => "SIGN_IN_THROTTLE_LIFTED": "A sign-in lock-out ended.",
    UserSignedOut => "USER_SIGNED_OUT": "A user ended a session.",
    TokenCreated => "TOKEN_CREATED": "A user created an API token.",
    TokenRevoked => "TOKEN_REVOKED": "An API token was revoked.",
    AccessCreated => "ACCESS_CREATED": "A user created an access: an API token or a delegate access to their account.",
    AccessRevoked => "ACCESS_REVOKED": "The owner (or an admin) revoked an access; it stopped working at once.",
    AccessRecipientAdded => "ACCESS_RECIPIENT_ADDED": "The owner of a delegate access shared it with another e-mail address.",
    AccessRecipientRemoved => "ACCESS_RECIPIENT_REMOVED": "The owner of a delegate access removed a recipient; their delegation ended at once.",
    AccessAccepted => "ACCESS_ACCEPTED": "A recipient accepted a delegate access and may now act as its owner.",
    AccessDeclined => "ACCESS_DECLINED": "A recipient declined a delegate access.",
    WorkspaceCreated => "WORKSPACE_CREATED": "A workspace was created by the admin area.",
    ProjectCreated => "PROJECT_CREATED": "A project was created in a workspace.",
    UserAssigned => "USER_ASSIGNED": "A user was given a role on a workspace.",
    UserRoleChanged => "USER_ROLE_CHANGED": "A user's workspace role or its expiry changed.",
    UserRemoved => "USER_REMOVED": "A user was removed from a workspace (and its projects).",
    ProjectUserAssigned => "PROJECT_USER_ASSIGNED": "A user was given a role on a project.",
    ProjectUserRoleChanged => "PROJECT_USER_ROLE_CHANGED": "A user's project role or its expiry changed.",
    ProjectUserRemoved => "PROJECT_USER_REMOVED": "A user was removed from a project.",
    Granted => "GRANTED": "A temporary grant was created on top of any membership.",
    GrantRevoked => "GRANT_REVOKED": "A temporary grant was revoked before it expired.",
    BindingExpired => "BINDING_EXPIRED": "A binding reached its expiry (recorded by the sweeper).",
    PolicyCreated => "POLICY_CREATED": "An approval policy was created.",
    PolicyUpdated => "POLICY_UPDATED": "An approval policy changed (open requests keep their copy).",
    EntitlementUpdated => "ENTITLEMENT_UPDATED": "An entitlement's request policy or emergency settings changed.",
    AccessRequested => "ACCESS_REQUESTED": "A user requested an entitlement (or a manager's assignment became a request).",
    RequestApproved => "REQUEST_APPROVED": "An approver approved a step of a request, or an admin overrode it.",
    RequestDenied => "REQUEST_DENIED": "An approver denied a request.",
    RequestEscalated => "REQUEST_ESCALATED": "The requester escalated a request to emergency.",
    RequestCancelled => "REQUEST_CANCELLED": "The requester cancelled a request.",
    RequestLapsed => "REQUEST_LAPSED": "A request was not approved within its pending time.",
    AccessGranted => "ACCESS_GRANTED": "An approved request granted (or extended) access.",
    ReviewOpened => "EMERGENCY_REVIEW_OPENED": "An emergency grant opened its mandatory review.",
    ReviewCompleted => "EMERGENCY_REVIEW_COMPLETED": "A reviewer completed an emergency review.",
    WorkspaceRegistered => "WORKSPACE_REGISTERED": "A user registered a workspace in self-service.",
    WorkspaceApproved => "WORKSPACE_APPROVED": "The admin area approved a registered workspace.",
    WorkspaceRejected => "WORKSPACE_REJECTED": "The admin area rejected a registered workspace.",
    WorkspaceStatusChanged => "WORKSPACE_STATUS_CHANGED": "The admin area disabled or enabled a workspace.",
    WorkspaceQuotaEdited => "WORKSPACE_QUOTA_EDITED": "The admin area changed a workspace's project quota.",
    WorkspaceUpdated => "WORKSPACE_UPDATED": "A workspace's name changed.",
    UserInvited => "USER_INVITED": "A manager invited an e-mail address into a workspace.",
    UserAcceptedInvitation => "USER_ACCEPTED_INVITATION": "An invitee accepted an invitation.",
    UserDeclinedInvitation => "USER_DECLINED_INVITATION": "An invitee declined an invitation.",
    UserInvitationCancelled => "USER_INVITATION_CANCELLED": "A manager cancelled an invitation.",
    UserAssignedHimself => "USER_ASSIGNED_HIMSELF": "An admin-area admin or employee added themselves to a workspace.",
    UserSignedUp => "USER_SIGNED_UP": "A person signed up with e-mail and password.",
    SettingsChanged => "SETTINGS_CHANGED": "An admin changed installation settings.",
    TagDefined => "TAG_DEFINED": "An admin created or changed a tag definition.",
    TagDefinitionRemoved => "TAG_DEFINITION_REMOVED": "An admin removed a tag definition.",
    TagSet => "TAG_SET": "A tag value was set on a workspace or project.",
    TagRemoved => "TAG_REMOVED": "A tag was removed from a workspace or project.",
    MessageSent => "MESSAGE_SENT": "The admin area sent a message to a workspace's users.",
    MessageAcknowledged => "MESSAGE_ACKNOWLEDGED": "A user acknowledged a message.",
    PlatformRegistered => "PLATFORM_REGISTERED": "An admin registered a platform.",
    TenantCreated => "TENANT_CREATED": "A project got a tenant on a platform.",
    ServiceUserCreated => "SERVICE_USER_CREATED": "A user created a service user for a project's tenant.",
    ServiceUserDeleted => "SERVICE_USER_DELETED": "A service user was deleted.",
    PlatformConfigured => "PLATFORM_CONFIGURED": "An admin changed a platform's settings, role mapping or drift mode.",
    CredentialIssued => "CREDENTIAL_ISSUED": "A user was issued a password credential for a project's tenant.",
    SshCertificateIssued => "SSH_CERTIFICATE_ISSUED": "A platform's authority signed a user's SSH public key for a project's tenant.",
    SshCertificateRevoked => "SSH_CERTIFICATE_REVOKED": "An SSH certificate's holder lost a role it carries before its end: hosts refuse it from the revocation list.",
    AccessProvisioned => "ACCESS_PROVISIONED": "A platform now holds a grant (an account's membership of a role's group).",
    AccessDeprovisioned => "ACCESS_DEPROVISIONED": "A grant was removed from a platform.",
    ProvisioningFailed => "PROVISIONING_FAILED": "Placing or removing a grant on a platform failed; it is retried.",
    DriftCorrected => "DRIFT_CORRECTED": "Access on a managed role that Breakglass did not grant was removed.",
    DriftReported => "DRIFT_REPORTED": "Access on a managed role that Breakglass did not grant was found and left.",
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event produced by a command, before the store gives it a place in the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// When it happened.
    pub time: Timestamp,
    /// What happened.
    pub event_type: EventType,
    /// Who acted: an e-mail, or `system`.
    pub actor: String,
    /// On whose behalf the actor acted (delegation), if anyone's.
    pub on_behalf_of: Option<String>,
    /// Workspace concerned.
    pub workspace: Option<String>,
    /// Project concerned (with `workspace`).
    pub project: Option<String>,
    /// The object acted on: usually a user's e-mail, or an id.
    pub subject: Option<String>,
    /// What changed. Never contains a secret.
    pub details: Value,
}

/// An event with its place in the chain, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// Position in the log, from 1 with no gaps.
    pub seq: i64,
    /// When it happened.
    pub time: Timestamp,
    /// The stored type name (kept as text so that verification never depends on parsing).
    pub event_type: String,
    /// Who acted.
    pub actor: String,
    /// On whose behalf.
    pub on_behalf_of: Option<String>,
    /// Workspace concerned.
    pub workspace: Option<String>,
    /// Project concerned.
    pub project: Option<String>,
    /// Object acted on.
    pub subject: Option<String>,
    /// What changed.
    pub details: Value,
    /// Hash of the previous event (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This event's chain hash.
    pub hash: [u8; 32],
}

/// The end of the chain: the last sequence number and its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// Last sequence number (0 for an empty log).
    pub seq: i64,
    /// Hash of the last event (zeros for an empty log).
    pub hash: [u8; 32],
}

/// Gives `event` the next place after `head` and computes its hash.
pub fn seal(head: ChainHead, event: &NewEvent) -> AuditEvent {
    let mut sealed = AuditEvent {
        seq: head.seq + 1,
        time: event.time,
        event_type: event.event_type.as_str().to_owned(),
        actor: event.actor.clone(),
        on_behalf_of: event.on_behalf_of.clone(),
        workspace: event.workspace.clone(),
        project: event.project.clone(),
        subject: event.subject.clone(),
        details: event.details.clone(),
        prev_hash: head.hash,
        hash: [0; 32],
    };
    sealed.hash = chain_hash(&sealed.prev_hash, &sealed);
    sealed
}

/// An event as the store keeps it, `details` still the stored JSON text: what verification
/// reads, so that it hashes the stored bytes instead of decoding and re-encoding them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the log.
    pub seq: i64,
    /// When it happened.
    pub time: Timestamp,
    /// The stored type name.
    pub event_type: String,
    /// Who acted.
    pub actor: String,
    /// On whose behalf.
    pub on_behalf_of: Option<String>,
    /// Workspace concerned.
    pub workspace: Option<String>,
    /// Project concerned.
    pub project: Option<String>,
    /// Object acted on.
    pub subject: Option<String>,
    /// What changed, as the stored JSON text.
    pub details: String,
    /// Hash of the previous event, as stored.
    pub prev_hash: [u8; 32],
    /// This event's hash, as stored.
    pub hash: [u8; 32],
}

impl StoredEvent {
    /// The event with its fields borrowed.
    pub fn borrowed(&self) -> StoredRef<'_> {
        StoredRef {
            seq: self.seq,
            time: self.time.as_micros(),
            event_type: &self.event_type,
            actor: &self.actor,
            on_behalf_of: self.on_behalf_of.as_deref(),
            workspace: self.workspace.as_deref(),
            project: self.project.as_deref(),
            subject: self.subject.as_deref(),
            details: &self.details,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// A [`StoredEvent`] whose texts are borrowed from wherever they were read (a database row
/// being stepped over), so that checking it allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct StoredRef<'a> {
    /// Position in the log.
    pub seq: i64,
    /// When it happened, in microseconds.
    pub time: i64,
    /// The stored type name.
    pub event_type: &'a str,
    /// Who acted.
    pub actor: &'a str,
    /// On whose behalf.
    pub on_behalf_of: Option<&'a str>,
    /// Workspace concerned.
    pub workspace: Option<&'a str>,
    /// Project concerned.
    pub project: Option<&'a str>,
    /// Object acted on.
    pub subject: Option<&'a str>,
    /// What changed, as the stored JSON text.
    pub details: &'a str,
    /// Hash of the previous event, as stored.
    pub prev_hash: [u8; 32],
    /// This event's hash, as stored.
    pub hash: [u8; 32],
}
