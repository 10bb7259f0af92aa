//! The audit log's events and its SHA-256 hash chain.
//!
//! `hash = SHA-256(prev_hash || canonical bytes of the event)`. The canonical bytes are a JSON
//! object with a fixed key order whose `details` have their keys sorted at every level, so the
//! hash does not depend on how a map happened to be ordered in memory or in the database.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::DomainError;
use crate::time::Timestamp;

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

/// `SHA-256(prev || canonical(event))`, ignoring the event's own `prev_hash` and `hash` fields.
pub fn chain_hash(prev: &[u8; 32], e: &AuditEvent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical_bytes(e));
    h.finalize().into()
}

/// The canonical serialisation that the chain hashes.
pub fn canonical_bytes(e: &AuditEvent) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push('{');
    push_key(&mut out, "seq", true);
    out.push_str(&e.seq.to_string());
    push_key(&mut out, "time", false);
    out.push_str(&e.time.as_micros().to_string());
    push_key(&mut out, "type", false);
    push_str(&mut out, &e.event_type);
    for (k, v) in [
        ("actor", Some(&e.actor)),
        ("on_behalf_of", e.on_behalf_of.as_ref()),
        ("workspace", e.workspace.as_ref()),
        ("project", e.project.as_ref()),
        ("subject", e.subject.as_ref()),
    ] {
        push_key(&mut out, k, false);
        match v {
            Some(s) => push_str(&mut out, s),
            None => out.push_str("null"),
        }
    }
    push_key(&mut out, "details", false);
    canonical_json(&e.details, &mut out);
    out.push('}');
    out.into_bytes()
}

fn push_key(out: &mut String, k: &str, first: bool) {
    if !first {
        out.push(',');
    }
    push_str(out, k);
    out.push(':');
}

fn push_str(out: &mut String, s: &str) {
    out.push_str(&Value::String(s.to_owned()).to_string());
}

/// Writes `v` as JSON with object keys sorted at every level.
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                push_key(out, k, i == 0);
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The first place where the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    /// Sequence number of the first event that fails.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks a log event by event, in sequence order, without holding it in memory.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    head: ChainHead,
}

impl ChainVerifier {
    /// A verifier expecting the log to start at sequence 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next event; the first error names the first broken link.
    pub fn push(&mut self, e: &AuditEvent) -> Result<(), BrokenLink> {
        let expected = self.head.seq + 1;
        if e.seq != expected {
            return Err(BrokenLink {
                seq: expected,
                reason: format!("event {expected} is missing (next event found is {})", e.seq),
            });
        }
        if e.prev_hash != self.head.hash {
            return Err(BrokenLink {
                seq: e.seq,
                reason: "prev_hash does not match the hash of the event before it".into(),
            });
        }
        if chain_hash(&e.prev_hash, e) != e.hash {
            return Err(BrokenLink {
                seq: e.seq,
                reason: "stored hash does not match the event's content".into(),
            });
        }
        self.head = ChainHead { seq: e.seq, hash: e.hash };
        Ok(())
    }

    /// Checks that the log ends where the store says it ends.
    pub fn finish(&self, expected_last_seq: i64) -> Result<ChainHead, BrokenLink> {
        if self.head.seq != expected_last_seq {
            return Err(BrokenLink {
                seq: self.head.seq + 1,
                reason: format!(
                    "log ends at {} but {} events were expected",
                    self.head.seq, expected_last_seq
                ),
            });
        }
        Ok(self.head)
    }

    /// The last event verified so far.
    pub fn head(&self) -> ChainHead {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(i: i64, details: Value) -> NewEvent {
        NewEvent {
            time: Timestamp::from_micros(i),
            event_type: EventType::WorkspaceCreated,
            actor: "a@b.c".into(),
            on_behalf_of: None,
            workspace: Some("ws".into()),
            project: None,
            subject: None,
            details,
        }
    }

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut head = ChainHead::default();
        (0..n)
            .map(|i| {
                let e = seal(head, &ev(i, json!({"n": i, "b": [1, {"z": 1, "a": 2}]})));
                head = ChainHead { seq: e.seq, hash: e.hash };
                e
            })
            .collect()
    }

    #[test]
    fn hash_ignores_key_order_in_details() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":3,"y":2},"b":1}"#).unwrap();
        let (mut sa, mut sb) = (String::new(), String::new());
        canonical_json(&a, &mut sa);
        canonical_json(&b, &mut sb);
        assert_eq!(sa, sb);
        assert_eq!(sa, r#"{"a":{"x":3,"y":2},"b":1}"#);
    }

    #[test]
    fn verifier_accepts_an_intact_chain_and_names_the_first_broken_link() {
        let events = chain(5);
        let mut v = ChainVerifier::new();
        for e in &events {
            v.push(e).unwrap();
        }
        assert_eq!(v.finish(5).unwrap().seq, 5);

        let mut tampered = events.clone();
        tampered[2].actor = "mallory@evil".into();
        let mut v = ChainVerifier::new();
        let err = tampered.iter().try_for_each(|e| v.push(e)).unwrap_err();
        assert_eq!(err.seq, 3);

        let mut gap = events.clone();
        gap.remove(1);
        let mut v = ChainVerifier::new();
        assert_eq!(gap.iter().try_for_each(|e| v.push(e)).unwrap_err().seq, 2);

        let mut v = ChainVerifier::new();
        events[..4].iter().for_each(|e| v.push(e).unwrap());
        assert_eq!(v.finish(5).unwrap_err().seq, 5);
    }
}
