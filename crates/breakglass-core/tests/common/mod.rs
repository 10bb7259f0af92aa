//! The harness shared by the core's scenario tests: a `State` driven by commands with a manual
//! clock, each command's changes applied and its events sealed into an in-memory audit chain.
//! Each test file uses a different subset of it.
#![allow(dead_code)]

use breakglass_core::audit::{self, AuditEvent, ChainHead};
use breakglass_core::check::{self, Decision};
use breakglass_core::cmd::members::{self, NewGrant, SetMember};
use breakglass_core::cmd::sweep;
use breakglass_core::cmd::users::{self, NewUser};
use breakglass_core::cmd::workspaces::{self, NewProject, NewWorkspace};
use std::collections::HashMap;

use breakglass_core::ident::{BindingId, Email, InvitationId, Name, Slug, UserId};
use breakglass_core::model::{SecretHash, Target};
use breakglass_core::role::{AdminRole, Role};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Actor, Bounds, Changes, Ctx, DomainError, State};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const START: &str = "2026-01-01T00:00:00Z";

/// A State, a manual clock, an id-seed counter, the sealed audit log and the secrets handed out
/// with invitations (what an inviter passes on to the invitee; the state keeps only digests).
pub struct World {
    pub state: State,
    pub now: Timestamp,
    pub seeds: u128,
    pub log: Vec<AuditEvent>,
    pub invitation_secrets: HashMap<InvitationId, String>,
    /// The credential limits the next commands run under (default: none).
    pub bounds: Bounds,
}

/// What a successful command left behind.
pub struct Done<T> {
    pub value: T,
    pub changes: Changes,
    pub events: Vec<AuditEvent>,
}

impl<T> Done<T> {
    pub fn types(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.event_type.as_str()).collect()
    }
}

pub type Res<T> = Result<Done<T>, DomainError>;

/// The shapes commands return: `Changes`, or `Changes` with a value.
pub trait Outcome {
    type Value;
    fn into_parts(self) -> (Changes, Self::Value);
}

impl Outcome for Changes {
    type Value = ();
    fn into_parts(self) -> (Changes, ()) {
        (self, ())
    }
}

impl<T> Outcome for (Changes, T) {
    type Value = T;
    fn into_parts(self) -> (Changes, T) {
        self
    }
}

impl World {
    pub fn new() -> Self {
        Self {
            state: State::new(),
            now: at(START),
            seeds: 0,
            log: Vec::new(),
            invitation_secrets: HashMap::new(),
            bounds: Bounds::default(),
        }
    }

    /// Runs a command as `actor` at the current instant; on success applies its changes and
    /// seals its events after the chain head.
    pub fn run<O: Outcome>(
        &mut self,
        actor: Actor,
        cmd: impl FnOnce(&State, &Ctx) -> Result<O, DomainError>,
    ) -> Res<O::Value> {
        let (changes, value) = self.decide(actor, cmd)?;
        Ok(self.commit(changes, value))
    }

    /// Decides a command as `actor` at the current instant on the current state, without
    /// applying anything: what a server does before it commits.
    pub fn decide<O: Outcome>(
        &mut self,
        actor: Actor,
        cmd: impl FnOnce(&State, &Ctx) -> Result<O, DomainError>,
    ) -> Result<(Changes, O::Value), DomainError> {
        self.seeds += 1;
        let ctx = Ctx::new(self.now, actor, Uuid::from_u128(self.seeds)).with_bounds(self.bounds.clone());
        let (changes, value) = cmd(&self.state, &ctx)?.into_parts();
        assert_eq!(
            changes.changes.is_empty(),
            changes.events.is_empty(),
            "no state change without an event, and no event without a change: {changes:?}"
        );
        Ok((changes, value))
    }

    /// Commits a decided outcome: seals its events after the chain head and applies its changes.
    pub fn commit<T>(&mut self, changes: Changes, value: T) -> Done<T> {
        // Every change survives the change feed's JSON (a password hash is never carried).
        for c in &changes.changes {
            let json = serde_json::to_string(c).expect("a change serialises");
            let back: breakglass_core::Change = serde_json::from_str(&json).expect("and reads back");
            let want = match c.clone() {
                breakglass_core::Change::CreateUser { user, .. } => {
                    breakglass_core::Change::CreateUser { user, password_hash: None }
                }
                other => other,
            };
            assert_eq!(back, want, "change feed round trip: {json}");
        }
        let mut head = self.state.head();
        let mut events = Vec::new();
        for ev in &changes.events {
            assert_eq!(ev.time, self.now, "events carry the context's instant");
            let sealed = audit::seal(head, ev);
            head = ChainHead { seq: sealed.seq, hash: sealed.hash };
            events.push(sealed);
        }
        // Every outcome can be applied speculatively and undone exactly (how the server decides
        // a group of commands before committing it), and applying it that way is applying it.
        let before = self.state.clone();
        let undos: Vec<_> = changes.changes.iter().map(|c| self.state.apply_undoable(c)).collect();
        let mut speculative = self.state.clone();
        for u in undos.into_iter().rev() {
            self.state.undo(u);
        }
        assert!(self.state == before, "undoing {changes:?} did not restore the model");
        self.state.apply_all(&changes, head);
        speculative.set_head(head);
        assert!(self.state == speculative, "a speculative apply of {changes:?} differs from the apply");
        self.log.extend(events.iter().cloned());
        Done { value, changes, events }
    }

    pub fn as_user<O: Outcome>(
        &mut self,
        who: &str,
        cmd: impl FnOnce(&State, &Ctx) -> Result<O, DomainError>,
    ) -> Res<O::Value> {
        let id = self.id(who);
        self.run(Actor::User(id), cmd)
    }

    /// Runs a command as `owner` under `bounds` (a scoped token, a delegation, ...).
    pub fn bounded<O: Outcome>(
        &mut self,
        owner: &str,
        bounds: Bounds,
        cmd: impl FnOnce(&State, &Ctx) -> Result<O, DomainError>,
    ) -> Res<O::Value> {
        let id = self.id(owner);
        let saved = std::mem::replace(&mut self.bounds, bounds);
        let out = self.run(Actor::User(id), cmd);
        self.bounds = saved;
        out
    }

    /// A context for reads as `who` under `bounds`.
    pub fn read_ctx(&self, who: &str, bounds: Bounds) -> Ctx {
        Ctx::new(self.now, Actor::User(self.id(who)), Uuid::nil()).with_bounds(bounds)
    }

    pub fn system<O: Outcome>(
        &mut self,
        cmd: impl FnOnce(&State, &Ctx) -> Result<O, DomainError>,
    ) -> Res<O::Value> {
        self.run(Actor::System, cmd)
    }

    pub fn advance(&mut self, span: Span) {
        self.now = self.now.plus(span);
    }

    /// Moves the clock forward to `t` (never back).
    pub fn set_time(&mut self, t: Timestamp) {
        assert!(t >= self.now, "the manual clock only moves forward");
        self.now = t;
    }

    pub fn id(&self, who: &str) -> UserId {
        self.state.user_by_email(&email(who)).unwrap_or_else(|| panic!("no user {who}")).id
    }

    // -- shorthands for the commands the scenarios use ------------------------------------------

    pub fn add_user(&mut self, who: &str, admin_role: AdminRole) -> UserId {
        let new = NewUser { email: email(who), name: name(who), admin_role, password_hash: None };
        ok(self.system(move |s, c| users::create_user(s, c, new))).value
    }

    pub fn create_workspace(&mut self, by: &str, id: &str, owners: &[&str], quota: u32) -> Res<()> {
        let new = NewWorkspace {
            id: slug(id),
            name: name(id),
            owners: owners.iter().map(|o| email(o)).collect(),
            members: Vec::new(),
            project_quota: quota,
            tags: Default::default(),
        };
        self.as_user(by, move |s, c| workspaces::create_workspace(s, c, new))
    }

    pub fn create_project(&mut self, by: &str, ws: &str, id: &str) -> Res<()> {
        let new = NewProject { workspace: slug(ws), id: slug(id), name: name(id), tags: Default::default() };
        self.as_user(by, move |s, c| workspaces::create_project(s, c, new))
    }

    pub fn set(
        &mut self,
        by: &str,
        target: &Target,
        who: &str,
        role: Role,
        expires_at: Option<Timestamp>,
    ) -> Res<()> {
        let cmd =
            SetMember { target: target.clone(), email: email(who), role, expires_at, justification: None };
        self.as_user(by, move |s, c| members::set_member(s, c, cmd))
    }

    pub fn remove(&mut self, by: &str, target: &Target, who: &str) -> Res<()> {
        let (target, who) = (target.clone(), email(who));
        self.as_user(by, move |s, c| members::remove_member(s, c, &target, &who))
    }

    pub fn grant(
        &mut self,
        by: &str,
        target: &Target,
        who: &str,
        role: Role,
        until: Timestamp,
    ) -> Res<BindingId> {
        let cmd =
            NewGrant { target: target.clone(), email: email(who), role, expires_at: until, reason: None };
        self.as_user(by, move |s, c| members::grant(s, c, cmd).map(|(ch, a)| (ch, direct_binding(a))))
    }

    pub fn revoke(&mut self, by: &str, id: BindingId) -> Res<()> {
        self.as_user(by, move |s, c| members::revoke_grant(s, c, id))
    }

    pub fn sweep(&mut self, max: usize) -> Done<()> {
        ok(self.system(move |s, c| Ok(sweep::record_expiries(s, c, max))))
    }

    pub fn check(&self, who: &str, target: &Target, role: Role) -> Decision {
        check::check(&self.state, self.id(who), target, role, self.now)
    }

    /// A standard installation: admin-area users, workspace `team-a` (owner olivia, managers
    /// mia and mike, members max and mo, projects web and api) and workspace `team-b` (owner
    /// bella, member ben, project db). otto, oscar and alice belong nowhere.
    pub fn team() -> Self {
        let mut w = Self::new();
        w.add_user("admin@corp.io", AdminRole::Admin);
        w.add_user("emp@corp.io", AdminRole::Employee);
        w.add_user("aud@corp.io", AdminRole::Auditor);
        for u in ["olivia", "oscar", "mia", "mike", "max", "mo", "otto", "alice", "bella", "ben"] {
            w.add_user(&format!("{u}@corp.io"), AdminRole::None);
        }
        ok(w.create_workspace("emp@corp.io", "team-a", &["olivia@corp.io"], 5));
        ok(w.create_project("olivia@corp.io", "team-a", "web"));
        ok(w.create_project("olivia@corp.io", "team-a", "api"));
        let a = ws("team-a");
        for (who, role) in [("mia", "manager"), ("mike", "manager"), ("max", "member"), ("mo", "member")] {
            ok(w.set("olivia@corp.io", &a, &format!("{who}@corp.io"), wrole(role), None));
        }
        ok(w.create_workspace("emp@corp.io", "team-b", &["bella@corp.io"], 5));
        ok(w.create_project("bella@corp.io", "team-b", "db"));
        ok(w.set("bella@corp.io", &ws("team-b"), "ben@corp.io", wrole("member"), None));
        w
    }
}

#[track_caller]
pub fn ok<T>(r: Res<T>) -> Done<T> {
    match r {
        Ok(d) => d,
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

/// The digest kept of a bearer secret (an invitation's): SHA-256, as the server computes it.
pub fn secret_hash(secret: &str) -> SecretHash {
    SecretHash(Sha256::digest(secret.as_bytes()).into())
}

pub fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn micros_before(t: Timestamp, n: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() - n)
}

pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

pub fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

pub fn ws(s: &str) -> Target {
    Target::Workspace(slug(s))
}

pub fn proj(w: &str, p: &str) -> Target {
    Target::Project(slug(w), slug(p))
}

pub fn wrole(s: &str) -> Role {
    Role::parse_workspace(s).unwrap()
}

pub fn prole(s: &str) -> Role {
    Role::parse_project(s).unwrap()
}

/// The binding a direct grant created; a grant under these tests' default policy (one approval)
/// never becomes a request.
pub fn direct_binding(a: members::Assigned) -> BindingId {
    a.binding().expect("a grant under a one-approval policy creates its binding at once")
}
