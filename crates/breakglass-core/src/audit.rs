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
    digest(prev, &canonical_bytes(e))
}

fn digest(prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// The canonical serialisation that the chain hashes.
pub fn canonical_bytes(e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push_fields(&mut out, &Fields::of(e));
    canonical_json(&e.details, &mut out);
    out.push(b'}');
    out
}

/// The fields hashed before `details`, borrowed from either form of an event.
struct Fields<'a> {
    seq: i64,
    time: i64,
    event_type: &'a str,
    actor: &'a str,
    on_behalf_of: Option<&'a str>,
    workspace: Option<&'a str>,
    project: Option<&'a str>,
    subject: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn of(e: &'a AuditEvent) -> Self {
        Self {
            seq: e.seq,
            time: e.time.as_micros(),
            event_type: &e.event_type,
            actor: &e.actor,
            on_behalf_of: e.on_behalf_of.as_deref(),
            workspace: e.workspace.as_deref(),
            project: e.project.as_deref(),
            subject: e.subject.as_deref(),
        }
    }

    fn of_stored(e: &StoredRef<'a>) -> Self {
        Self {
            seq: e.seq,
            time: e.time,
            event_type: e.event_type,
            actor: e.actor,
            on_behalf_of: e.on_behalf_of,
            workspace: e.workspace,
            project: e.project,
            subject: e.subject,
        }
    }
}

/// Writes the canonical object up to and including the `details` key; the caller writes the
/// details and the closing brace. The keys are fixed ASCII, so they are written as they print.
fn push_fields(out: &mut Vec<u8>, f: &Fields<'_>) {
    out.extend_from_slice(b"{\"seq\":");
    push_int(out, f.seq);
    out.extend_from_slice(b",\"time\":");
    push_int(out, f.time);
    out.extend_from_slice(b",\"type\":");
    push_str(out, f.event_type);
    out.extend_from_slice(b",\"actor\":");
    push_str(out, f.actor);
    for (key, v) in [
        (&b",\"on_behalf_of\":"[..], f.on_behalf_of),
        (b",\"workspace\":", f.workspace),
        (b",\"project\":", f.project),
        (b",\"subject\":", f.subject),
    ] {
        out.extend_from_slice(key);
        match v {
            Some(s) => push_str(out, s),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"details\":");
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// Writes `s` as a JSON string exactly as `serde_json` does: `"` and `\` escaped, the control
/// characters with a short escape where JSON has one and `\u00xx` otherwise, all else as is.
fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == 0 {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes `v` as JSON with object keys sorted at every level.
pub fn canonical_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(out, k);
                out.push(b':');
                canonical_json(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => push_str(out, s),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
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

/// One stored event with its content checked, waiting to be linked to the one before it by
/// [`ChainVerifier::push_checked`]. Checking contents needs nothing but the event itself, so it
/// can be done anywhere (on any thread, in any order); linking is done in sequence order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedEvent {
    /// Position in the log, as stored.
    pub seq: i64,
    /// Hash of the previous event, as stored.
    pub prev_hash: [u8; 32],
    /// This event's hash, as stored.
    pub hash: [u8; 32],
    /// Whether the stored hash matches the event's content and its own `prev_hash`: the
    /// reason it does not, otherwise.
    pub content: Result<(), String>,
}

impl CheckedEvent {
    /// Checks `e`'s content: its stored hash against `SHA-256(prev_hash || canonical bytes)`.
    /// `buf` is scratch space, reused between calls.
    pub fn check(e: &StoredRef<'_>, buf: &mut Vec<u8>) -> Self {
        buf.clear();
        let content = match borrowed_canonical_bytes(e, buf) {
            Err(err) => Err(format!("details are not valid JSON: {err}")),
            Ok(()) if digest(&e.prev_hash, buf) == e.hash => Ok(()),
            Ok(()) => Err(CONTENT_MISMATCH.to_owned()),
        };
        Self { seq: e.seq, prev_hash: e.prev_hash, hash: e.hash, content }
    }
}

/// Checked events in sequence order, linked among themselves where they can be: the longest
/// prefix in which every event's content holds and each one follows the one before it (next
/// seq, `prev_hash` its hash) is kept as its first event and its end, the rest as it is. So a
/// run of a sound chain costs nothing to keep, and [`ChainVerifier::push_run`] links it to what
/// came before exactly as [`ChainVerifier::push_checked`] would link every event in it.
#[derive(Debug, Default)]
pub struct CheckedRun {
    /// The first event of the sound prefix, and the head at its end.
    sound: Option<(CheckedEvent, ChainHead)>,
    /// Every event from the first that does not follow the sound prefix.
    rest: Vec<CheckedEvent>,
}

impl CheckedRun {
    /// An empty run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next event, in sequence order.
    pub fn push(&mut self, e: CheckedEvent) {
        if self.rest.is_empty() && e.content.is_ok() {
            let end = ChainHead { seq: e.seq, hash: e.hash };
            match &mut self.sound {
                None => {
                    self.sound = Some((e, end));
                    return;
                }
                Some((_, head)) if head.seq.checked_add(1) == Some(e.seq) && e.prev_hash == head.hash => {
                    *head = end;
                    return;
                }
                Some(_) => {}
            }
        }
        self.rest.push(e);
    }
}

/// Appends the canonical bytes of a stored event to `out`: the same bytes [`canonical_bytes`]
/// gives for the event it decodes to. The `details` text is copied as it is when it already
/// is canonical, which is how the store writes it (the JSON map keeps its keys sorted);
/// otherwise it is parsed and re-encoded, which fails when it is not JSON.
pub fn stored_canonical_bytes(e: &StoredEvent, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    borrowed_canonical_bytes(&e.borrowed(), out)
}

fn borrowed_canonical_bytes(e: &StoredRef<'_>, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    push_fields(out, &Fields::of_stored(e));
    if is_canonical(e.details) {
        out.extend_from_slice(e.details.as_bytes());
    } else {
        canonical_json(&serde_json::from_str(e.details)?, out);
    }
    out.push(b'}');
    Ok(())
}

/// Whether `text` is exactly what [`canonical_json`] writes for the value it parses to, so that
/// it can be hashed as it is. Cautious: it may say no to a canonical text it does not bother
/// to prove canonical (a float, a `\u` escape, an escaped key, a big integer, deep nesting),
/// which then takes the slow way; it never says yes to one that is not.
fn is_canonical(text: &str) -> bool {
    let mut s = Scan { b: text.as_bytes(), at: 0 };
    s.value(0) && s.at == s.b.len()
}

/// Nesting beyond this is left to the parser, whose own limit (128) then applies as before.
const MAX_FAST_DEPTH: u32 = 64;
/// Integers of at most this many digits fit both `u64` and `i64`, so they print back as read.
const MAX_FAST_DIGITS: usize = 18;

/// A cursor over a text being proved canonical; every method consumes what it accepts.
struct Scan<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self, depth: u32) -> bool {
        match self.peek() {
            Some(b'{') if depth < MAX_FAST_DEPTH => self.object(depth + 1),
            Some(b'[') if depth < MAX_FAST_DEPTH => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.b[self.at..].starts_with(word);
        self.at += if found { word.len() } else { 0 };
        found
    }

    /// Keys must be strictly ascending (the parser would keep only the last of duplicates) and
    /// free of escapes, so that comparing their text compares the keys.
    fn object(&mut self, depth: u32) -> bool {
        self.at += 1;
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let Some(key) = self.string() else { return false };
            if key.contains(&b'\\') || previous.is_some_and(|p| p >= key) {
                return false;
            }
            previous = Some(key);
            if !self.eat(b':') || !self.value(depth) {
                return false;
            }
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn array(&mut self, depth: u32) -> bool {
        self.at += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    /// A string whose escapes are the ones the encoder writes for `"`, `\` and the control
    /// characters with a short form; returns its text between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        let b = self.b;
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        loop {
            match *b.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(&b[start..self.at - 1]);
                }
                b'\\' => match b.get(self.at + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    /// An integer the parser reads as `u64` or `i64` and prints back unchanged: no `-0`, no
    /// leading zero, no fraction or exponent, at most [`MAX_FAST_DIGITS`] digits.
    fn integer(&mut self) -> bool {
        let negative = self.eat(b'-');
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = &self.b[start..self.at];
        let plain = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= MAX_FAST_DIGITS,
        };
        plain && !matches!(self.peek(), Some(b'.' | b'e' | b'E'))
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

const CONTENT_MISMATCH: &str = "stored hash does not match the event's content";

/// Below this many events per thread, starting a thread costs more than it saves.
const MIN_EVENTS_PER_THREAD: usize = 512;

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
        self.link(e.seq, &e.prev_hash, &e.hash, || {
            if chain_hash(&e.prev_hash, e) == e.hash {
                Ok(())
            } else {
                Err(CONTENT_MISMATCH.into())
            }
        })
    }

    /// Checks the next stored events, in order, exactly as [`push`](Self::push) would check the
    /// events they decode to, and names the same first broken link. Each event carries its own
    /// `prev_hash`, so its hash is recomputed on up to `threads` threads at once; only the
    /// linking of each event to the one before is walked in order. A `details` text that is
    /// not JSON breaks the chain at its event.
    pub fn push_stored(&mut self, events: &[StoredEvent], threads: usize) -> Result<(), BrokenLink> {
        self.push_checked(check_contents(events, threads))
    }

    /// Links the next events, whose contents are already checked, in order: the same first
    /// broken link as [`push`](Self::push) names for the events they were checked from.
    pub fn push_checked(&mut self, events: impl IntoIterator<Item = CheckedEvent>) -> Result<(), BrokenLink> {
        for e in events {
            self.link(e.seq, &e.prev_hash, &e.hash, || e.content)?;
        }
        Ok(())
    }

    /// Links a run of events, whose contents are already checked, in order: the same first
    /// broken link as [`push_checked`](Self::push_checked) names for the run's events.
    pub fn push_run(&mut self, run: CheckedRun) -> Result<(), BrokenLink> {
        if let Some((first, end)) = run.sound {
            self.push_checked([first])?;
            // Every later event of the sound prefix follows the one before it and holds.
            self.head = end;
        }
        self.push_checked(run.rest)
    }

    /// Checks the position and linkage of the next event, then its content (`content` says
    /// whether its stored hash matches what it holds).
    fn link(
        &mut self,
        seq: i64,
        prev_hash: &[u8; 32],
        hash: &[u8; 32],
        content: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), BrokenLink> {
        let expected = self.head.seq + 1;
        if seq != expected {
            return Err(BrokenLink {
                seq: expected,
                reason: format!("event {expected} is missing (next event found is {seq})"),
            });
        }
        if *prev_hash != self.head.hash {
            return Err(BrokenLink {
                seq,
                reason: "prev_hash does not match the hash of the event before it".into(),
            });
        }
        content().map_err(|reason| BrokenLink { seq, reason })?;
        self.head = ChainHead { seq, hash: *hash };
        Ok(())
    }

    /// Checks that the log ends where the store says it ends.
    pub fn finish(&self, expected_last_seq: i64) -> Result<ChainHead, BrokenLink> {
        if self.head.seq != expected_last_seq {
            return Err(BrokenLink {
                seq: self.head.seq + 1,
                reason: if self.head.seq < expected_last_seq {
                    format!(
                        "the audit log was truncated: it ends at seq {} but {} events were expected",
                        self.head.seq, expected_last_seq
                    )
                } else {
                    format!(
                        "the log ends at seq {} but {} events were expected",
                        self.head.seq, expected_last_seq
                    )
                },
            });
        }
        Ok(self.head)
    }

    /// The last event verified so far.
    pub fn head(&self) -> ChainHead {
        self.head
    }
}

/// Whether each event's stored hash matches its content and its own `prev_hash`, split over
/// up to `threads` scoped threads in contiguous chunks, results in event order.
fn check_contents(events: &[StoredEvent], threads: usize) -> Vec<CheckedEvent> {
    let threads = threads.min(events.len() / MIN_EVENTS_PER_THREAD).max(1);
    if threads == 1 {
        return check_chunk(events);
    }
    let chunk = events.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = events.chunks(chunk).map(|c| scope.spawn(move || check_chunk(c))).collect();
        let mut all = Vec::with_capacity(events.len());
        for worker in workers {
            all.extend(worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        all
    })
}

fn check_chunk(events: &[StoredEvent]) -> Vec<CheckedEvent> {
    let mut buf = Vec::with_capacity(512);
    events.iter().map(|e| CheckedEvent::check(&e.borrowed(), &mut buf)).collect()
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
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        canonical_json(&a, &mut sa);
        canonical_json(&b, &mut sb);
        assert_eq!(sa, sb);
        assert_eq!(sa, br#"{"a":{"x":3,"y":2},"b":1}"#);
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

    /// The encoder every chain so far was sealed with, kept verbatim: the bytes hashed must
    /// never change, or existing chains would stop verifying.
    fn first_encoder(e: &AuditEvent) -> Vec<u8> {
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
        fn canonical_json(v: &Value, out: &mut String) {
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

    /// A small deterministic generator, so that the varied values below are the same each run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % below
        }

        fn string(&mut self) -> String {
            const PIECES: &[&str] = &[
                "a", "Z", "é", "zoë", "\"", "\\", "/", "\n", "\t", "\r", "\u{8}", "\u{c}", "\u{1}", "\u{1f}",
                "\u{7f}", "€", "😀", " ", "b_1",
            ];
            (0..self.next(5)).map(|_| PIECES[self.next(PIECES.len() as u64) as usize]).collect()
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.next(if depth > 3 { 7 } else { 9 }) {
                0 => Value::Null,
                1 => Value::Bool(self.next(2) == 0),
                2 => Value::from(self.next(2_000) as i64 - 1_000),
                3 => [
                    Value::from(u64::MAX),
                    Value::from(i64::MIN),
                    Value::from(999_999_999_999_999_999_i64),
                    Value::from(-0.0),
                    Value::from(2.5),
                    Value::from(1e300),
                    Value::from(0),
                ][self.next(7) as usize]
                    .clone(),
                4..=6 => Value::String(self.string()),
                7 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
                _ => {
                    Value::Object((0..self.next(5)).map(|_| (self.string(), self.value(depth + 1))).collect())
                }
            }
        }
    }

    fn varied_events(n: usize) -> Vec<AuditEvent> {
        let mut r = Lcg(7);
        let mut head = ChainHead::default();
        (0..n)
            .map(|i| {
                let opt = |r: &mut Lcg| (r.next(2) == 0).then(|| r.string());
                let new = NewEvent {
                    time: Timestamp::from_micros(r.next(1 << 40) as i64 - (1 << 39)),
                    event_type: EventType::ALL[i % EventType::ALL.len()],
                    actor: r.string(),
                    on_behalf_of: opt(&mut r),
                    workspace: opt(&mut r),
                    project: opt(&mut r),
                    subject: opt(&mut r),
                    details: r.value(0),
                };
                let e = seal(head, &new);
                head = ChainHead { seq: e.seq, hash: e.hash };
                e
            })
            .collect()
    }

    /// As the store writes an event: `details` as `serde_json` prints it.
    fn stored(e: &AuditEvent) -> StoredEvent {
        StoredEvent {
            seq: e.seq,
            time: e.time,
            event_type: e.event_type.clone(),
            actor: e.actor.clone(),
            on_behalf_of: e.on_behalf_of.clone(),
            workspace: e.workspace.clone(),
            project: e.project.clone(),
            subject: e.subject.clone(),
            details: e.details.to_string(),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }

    #[test]
    fn the_encoding_is_byte_for_byte_the_one_chains_were_sealed_with() {
        let events = varied_events(2_000);
        for e in &events {
            assert_eq!(canonical_bytes(e), first_encoder(e), "event {e:?}");
            let mut out = Vec::new();
            stored_canonical_bytes(&stored(e), &mut out).unwrap();
            assert_eq!(out, first_encoder(e), "stored form of {e:?}");
        }
        // Every control character, and the extremes of the integers written directly.
        for c in 0..=0x7f_u8 {
            let s = char::from(c).to_string();
            let mut out = Vec::new();
            push_str(&mut out, &s);
            assert_eq!(out, Value::String(s.clone()).to_string().into_bytes(), "character {c:#x}");
        }
        for n in [0, 1, -1, 9, 10, -10, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn stored_details_are_hashed_as_they_are_only_when_that_is_what_encoding_gives() {
        // What the store writes takes the fast way in the common case.
        for v in [
            json!({}),
            json!({"binding_id": "b-1", "role": "member"}),
            json!([1, -2, "x\n", null, true]),
            json!(null),
        ] {
            assert!(is_canonical(&v.to_string()), "{v}");
        }
        // Texts that decode to the same value but are not what encoding gives, or that the
        // check does not prove: each must be re-encoded (or refused), never hashed as it is.
        for text in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{ "a":1}"#,
            "[1 ]",
            " 1",
            "1 ",
            "1.0",
            "2.5",
            "1e2",
            "-0",
            "007",
            "18446744073709551615",
            "-9223372036854775808",
            r#""\u0041""#,
            r#""\u0001""#,
            r#""\/""#,
            r#"{"\n":1}"#,
            "tru",
            "nul",
            "{",
            "[1,]",
            r#"{"a":1,}"#,
            "\"\u{1}\"",
            "",
        ] {
            assert!(!is_canonical(text), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(!is_canonical(&deep));

        // Whatever the text, the bytes hashed are those of the value it decodes to.
        let mut r = Lcg(11);
        let mut texts: Vec<String> = (0..3_000).map(|_| r.value(0).to_string()).collect();
        texts.extend((0..500).map(|_| serde_json::to_string_pretty(&r.value(0)).unwrap()));
        texts.push(deep);
        let mut fast = 0;
        for text in &texts {
            let decoded: Value = serde_json::from_str(text).unwrap();
            let mut expected = Vec::new();
            canonical_json(&decoded, &mut expected);
            if is_canonical(text) {
                fast += 1;
                assert_eq!(text.as_bytes(), &expected[..], "hashed as it is, yet not canonical");
            }
            let e = StoredEvent { details: text.clone(), ..stored(&chain(1)[0]) };
            let mut out = Vec::new();
            stored_canonical_bytes(&e, &mut out).unwrap();
            assert!(out.ends_with(&[&expected[..], b"}"].concat()), "{text}");
        }
        assert!(fast > texts.len() / 2, "most texts take the fast way ({fast} of {})", texts.len());
    }

    /// What `push` says about the events the stored rows decode to; a row that does not decode
    /// fails where its content would be checked.
    fn by_push(rows: &[StoredEvent], end: i64) -> Result<ChainHead, BrokenLink> {
        let mut v = ChainVerifier::new();
        for row in rows {
            match serde_json::from_str(&row.details) {
                Ok(details) => v.push(&AuditEvent {
                    seq: row.seq,
                    time: row.time,
                    event_type: row.event_type.clone(),
                    actor: row.actor.clone(),
                    on_behalf_of: row.on_behalf_of.clone(),
                    workspace: row.workspace.clone(),
                    project: row.project.clone(),
                    subject: row.subject.clone(),
                    details,
                    prev_hash: row.prev_hash,
                    hash: row.hash,
                })?,
                Err(_) => v.link(row.seq, &row.prev_hash, &row.hash, || Err("not JSON".into()))?,
            }
        }
        v.finish(end)
    }

    fn by_push_stored(
        rows: &[StoredEvent],
        end: i64,
        threads: usize,
        page: usize,
    ) -> Result<ChainHead, BrokenLink> {
        let mut v = ChainVerifier::new();
        for chunk in rows.chunks(page) {
            v.push_stored(chunk, threads)?;
        }
        v.finish(end)
    }

    /// As a store reading ranges of `run` events apart would verify them: each range linked
    /// within itself ([`CheckedRun`]), then the ranges in order.
    fn by_runs(rows: &[StoredEvent], end: i64, run: usize) -> Result<ChainHead, BrokenLink> {
        let mut v = ChainVerifier::new();
        let mut buf = Vec::new();
        for chunk in rows.chunks(run) {
            let mut r = CheckedRun::new();
            for row in chunk {
                r.push(CheckedEvent::check(&row.borrowed(), &mut buf));
            }
            v.push_run(r)?;
        }
        v.finish(end)
    }

    /// Changes the last byte of a canonical text: the value changes or the text stops being JSON.
    fn flip_last_byte(text: &mut String) {
        let last = text.pop().unwrap();
        text.push(match last.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap(),
            None => 'x',
        });
    }

    #[test]
    fn stored_rows_verify_in_parallel_exactly_as_events_do_one_by_one() {
        let events = varied_events(3_000);
        let rows: Vec<StoredEvent> = events.iter().map(stored).collect();
        let n = rows.len() as i64;
        let head = ChainHead { seq: n, hash: events[events.len() - 1].hash };
        for run in [1, 7, 3_000] {
            assert_eq!(by_runs(&rows, n, run), Ok(head));
        }
        for threads in [1, 2, 3, 8] {
            assert_eq!(by_push_stored(&rows, n, threads, 3_000), Ok(head));
            assert_eq!(by_push_stored(&rows, n, threads, 1_024), Ok(head));
        }

        // Each tamper, and where it must be caught relative to the tampered event's seq
        // (`None`: the chain still holds, as it did before there was a stored-row path).
        type Tamper = fn(&mut Vec<StoredEvent>, usize);
        let tampers: &[(&str, Tamper, Option<i64>)] = &[
            ("a details byte", |r, i| flip_last_byte(&mut r[i].details), Some(0)),
            ("details wrapped", |r, i| r[i].details = format!("[{}]", r[i].details), Some(0)),
            ("details not JSON", |r, i| r[i].details.push('{'), Some(0)),
            ("details spaced out", |r, i| r[i].details = format!(" {} ", r[i].details), None),
            ("actor", |r, i| r[i].actor.push('x'), Some(0)),
            ("time", |r, i| r[i].time = r[i].time.plus(crate::time::Span::seconds(1)), Some(0)),
            ("type", |r, i| r[i].event_type.push('x'), Some(0)),
            ("subject", |r, i| r[i].subject = Some(format!("{:?}", r[i].subject)), Some(0)),
            ("prev_hash", |r, i| r[i].prev_hash[31] ^= 1, Some(0)),
            ("hash", |r, i| r[i].hash[0] ^= 1, Some(0)),
            ("missing", |r, i| drop(r.remove(i)), Some(0)),
            ("duplicated", |r, i| r.insert(i, r[i].clone()), Some(1)),
            ("reordered", |r, i| r.swap(i, i + 1), Some(0)),
            ("seq renumbered", |r, i| r[i].seq += 10, Some(0)),
            ("truncated", |r, i| r.truncate(i), Some(0)),
        ];
        for at in [0, 511, 1_500, 2_048, 2_998] {
            for (label, tamper, caught) in tampers {
                let mut log = rows.clone();
                tamper(&mut log, at);
                let expected = by_push(&log, n);
                let want = caught.map(|k| at as i64 + 1 + k);
                assert_eq!(expected.as_ref().err().map(|b| b.seq), want, "{label} at {at} by push");
                for threads in [1, 2, 4] {
                    for page in [3_000, 700] {
                        let got = by_push_stored(&log, n, threads, page);
                        assert_eq!(
                            got.as_ref().map_err(|b| b.seq),
                            expected.as_ref().map_err(|b| b.seq),
                            "{label} at {at}, {threads} threads, pages of {page}"
                        );
                    }
                }
                let stored = by_push_stored(&log, n, 1, 3_000);
                for run in [1, 2, 7, 512, 3_000] {
                    assert_eq!(by_runs(&log, n, run), stored, "{label} at {at}, runs of {run}");
                }
            }
        }
    }

    #[test]
    fn a_details_text_that_decodes_to_another_value_breaks_the_chain() {
        let events = chain(1_200);
        let rows: Vec<StoredEvent> = events.iter().map(stored).collect();
        assert_eq!(rows[700].details, r#"{"b":[1,{"a":2,"z":1}],"n":700}"#);
        for (text, holds) in [
            // The same value written differently hashes the same, as it always has.
            (r#"{"n":700,"b":[1,{"z":1,"a":2}]}"#, true),
            (r#"{"b":[1,{"a":2,"z":1}],"n":700,"n":700}"#, true),
            (r#"{"b":[1,{"a":2,"z":1}],"n":7e2}"#, false),
            (r#"{"b":[1,{"a":2,"z":1}],"n":700.0}"#, false),
            (r#"{"b":[1,{"a":2,"z":1}],"n":"700"}"#, false),
            (r#"{"b":[1,{"a":2,"z":1}],"n":701}"#, false),
            (r#"{"b":[1,{"a":2,"z":1}],"n":700,"n":701}"#, false),
            (r#"{"b":[1,{"a":2,"z":1,"z":1}]}"#, false),
            (r#"{"b":[1,{"a":2,"z":1}],"n":700"#, false),
        ] {
            let mut log = rows.clone();
            log[700].details = text.into();
            for threads in [1, 2] {
                let got = by_push_stored(&log, 1_200, threads, 1_000);
                assert_eq!(got.is_ok(), holds, "{text}: {got:?}");
                if !holds {
                    assert_eq!(got.unwrap_err().seq, 701, "{text}");
                }
            }
        }
    }
}
