//! The whole live model in memory: the read side of every command and the index behind every
//! check and every authentication. It changes only through [`State::apply`], with the same
//! changes the store committed, so it never drifts from the database.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::access::{AccessRequest, Entitlement, Policy, RequestState, Review};
use crate::audit::ChainHead;
use crate::change::{Change, Changes};
use crate::delegation::Access;
use crate::ident::{
    AccessId, BindingId, Email, InvitationId, MessageId, PolicyId, RequestId, ReviewId, Slug, TokenId, UserId,
};
use crate::index::{CheckIndex, TargetMark};
use crate::model::{Binding, Project, SecretHash, Target, Token, User, Workspace};
use crate::org::{Invitation, Message, Settings, TagDefinition, TagKey};
use crate::platform::{Credential, Platform, ServiceUser, ServiceUserId, Tenant};
use crate::provision::{GrantKey, Provision, Touch};
use crate::role::{Role, WorkspaceRole};
use crate::ssh::SshCertificate;
use crate::time::Timestamp;

/// The live model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    users: HashMap<UserId, User>,
    user_by_email: HashMap<Email, UserId>,
    /// Users whose address is not ASCII, by [`Email::lookalike_key`] (few, so a small map).
    lookalikes: HashMap<String, UserId>,
    /// Accounts whose stored addresses became one address under normalisation (created before it
    /// existed): (address, the older account that keeps it, the account no longer found by it).
    email_collisions: Vec<(Email, UserId, UserId)>,
    workspaces: BTreeMap<Slug, Workspace>,
    projects: BTreeMap<(Slug, Slug), Project>,
    /// Live bindings, dense (an ended one's slot is filled by the last), found through
    /// `binding_slot`. A sparse map of 168-byte records would leave half its buckets empty.
    bindings: Vec<Binding>,
    binding_slot: FxHashMap<BindingId, u32>,
    /// The bindings of each user are listed by the check index (`CheckIndex::binding_ids_of`).
    by_target: HashMap<Target, Vec<BindingId>>,
    /// Live bindings that carry an expiry, in expiry order, so the sweeper finds due ones
    /// without scanning everything.
    expiries: BTreeSet<(Timestamp, BindingId)>,
    tokens: HashMap<TokenId, Token>,
    token_by_hash: HashMap<SecretHash, TokenId>,
    policies: HashMap<PolicyId, Policy>,
    entitlements: HashMap<(Target, Role), Entitlement>,
    requests: HashMap<RequestId, AccessRequest>,
    /// The requests in state `Pending`: opening a request looks for a duplicate among them, which
    /// must not scan every request ever made.
    pending: FxHashSet<RequestId>,
    reviews: HashMap<ReviewId, Review>,
    settings: Settings,
    invitations: HashMap<InvitationId, Invitation>,
    tag_definitions: BTreeMap<TagKey, TagDefinition>,
    messages: HashMap<MessageId, Message>,
    accesses: HashMap<AccessId, Access>,
    /// Delegate accesses by recipient address: resolving `act as` must not scan them all.
    accesses_by_recipient: HashMap<Email, Vec<AccessId>>,
    index: CheckIndex,
    head: ChainHead,
    platforms: BTreeMap<Slug, Platform>,
    /// By (workspace, project, platform).
    tenants: BTreeMap<(Slug, Slug, Slug), Tenant>,
    /// Only those not deleted.
    service_users: HashMap<ServiceUserId, ServiceUser>,
    /// Users' credentials, by (platform, user).
    credentials: BTreeMap<(Slug, UserId), Credential>,
    /// SSH certificates issued, by (platform, serial).
    ssh_certificates: BTreeMap<(Slug, u64), SshCertificate>,
    /// Provisioning records, by grant.
    provisions: BTreeMap<GrantKey, Provision>,
    /// What recent commits touched, for the provisioning engine (see [`State::touched_since`]).
    journal: Journal,
}

/// The most touches the journal keeps: a reader further behind replans everything.
const JOURNAL: usize = 65_536;

/// What recent commits touched, oldest first, each with the head it reached. Not part of the
/// model: two models are equal whatever each of them saw (a reloaded model saw nothing).
#[derive(Clone, Debug, Default)]
struct Journal {
    /// Complete for readers at this head or later (`None`: nothing committed since load).
    from: Option<i64>,
    entries: std::collections::VecDeque<(i64, Touch)>,
}

impl PartialEq for Journal {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl State {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a committed outcome and moves the chain head.
    pub fn apply_all(&mut self, changes: &Changes, head: ChainHead) {
        self.journal.from.get_or_insert(self.head.seq);
        for c in &changes.changes {
            if let Some(t) = crate::provision::touch_of(self, c) {
                self.journal.entries.push_back((head.seq, t));
            }
            self.apply(c);
        }
        while self.journal.entries.len() > JOURNAL {
            if let Some((seq, _)) = self.journal.entries.pop_front() {
                self.journal.from = Some(seq);
            }
        }
        self.head = head;
    }

    /// What the commits after head `seq` touched, or `None` when that is no longer known (the
    /// model was reloaded since, or `seq` is older than the journal).
    pub fn touched_since(&self, seq: i64) -> Option<impl Iterator<Item = &Touch>> {
        let known = seq == self.head.seq || self.journal.from.is_some_and(|from| seq >= from);
        known.then(|| {
            let first = self.journal.entries.partition_point(|(s, _)| *s <= seq);
            self.journal.entries.range(first..).map(|(_, t)| t)
        })
    }

    /// Applies one change. Also used to load the model from the store at start-up.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::CreateUser { user, .. } => {
                self.index.set_user(user.id, user.status == crate::model::UserStatus::Active);
                let other = self.user_by_email.get(&user.email).and_then(|id| self.users.get(id));
                match other {
                    Some(o) if o.id != user.id => {
                        // Two stored accounts, one address once normalised: the older keeps it,
                        // so that nobody is found as someone else.
                        let (keep, lose) = if (o.created_at, o.id) <= (user.created_at, user.id) {
                            (o.id, user.id)
                        } else {
                            (user.id, o.id)
                        };
                        self.email_collisions.push((user.email.clone(), keep, lose));
                        self.user_by_email.insert(user.email.clone(), keep);
                    }
                    _ => {
                        self.user_by_email.insert(user.email.clone(), user.id);
                    }
                }
                if !user.email.as_str().is_ascii() {
                    self.lookalikes.insert(user.email.lookalike_key().into_owned(), user.id);
                }
                self.users.insert(user.id, user.clone());
            }
            Change::CreateToken(t) => {
                self.token_by_hash.insert(t.secret_hash, t.id);
                self.tokens.insert(t.id, t.clone());
            }
            Change::RevokeToken { id, .. } => {
                if let Some(t) = self.tokens.remove(id) {
                    self.token_by_hash.remove(&t.secret_hash);
                }
            }
            Change::CreateWorkspace(ws) | Change::UpdateWorkspace(ws) => {
                let active = ws.status == crate::model::WorkspaceStatus::Active;
                self.index.set_workspace(&ws.id, active);
                self.workspaces.insert(ws.id.clone(), ws.clone());
            }
            Change::CreateProject { project, .. } => {
                self.index.add_project(&project.workspace, &project.id);
                self.projects.insert((project.workspace.clone(), project.id.clone()), project.clone());
            }
            Change::CreateBinding(b) => {
                if self.binding_slot.contains_key(&b.id) {
                    // Already applied (a replayed change): the indexes must not list it twice.
                    return;
                }
                self.index.add_binding(b);
                self.by_target.entry(b.target.clone()).or_default().push(b.id);
                if let Some(e) = b.expires_at {
                    self.expiries.insert((e, b.id));
                }
                self.binding_slot.insert(b.id, u32::try_from(self.bindings.len()).unwrap_or(u32::MAX));
                self.bindings.push(b.clone());
            }
            Change::ExtendBinding { id, expires_at } => {
                if let Some(b) = self.binding_slot.get(id).and_then(|s| self.bindings.get_mut(*s as usize)) {
                    self.index.set_expiry(b.user, *id, *expires_at);
                    if let Some(old) = b.expires_at {
                        self.expiries.remove(&(old, *id));
                    }
                    if let Some(new) = expires_at {
                        self.expiries.insert((*new, *id));
                    }
                    b.expires_at = *expires_at;
                }
            }
            Change::PutPolicy(p) => {
                self.policies.insert(p.id, p.clone());
            }
            Change::PutEntitlement(e) => {
                self.entitlements.insert((e.target.clone(), e.role), e.clone());
            }
            Change::PutRequest(r) => {
                self.note_pending(r);
                self.requests.insert(r.id, r.clone());
            }
            Change::PutReview(r) => {
                self.reviews.insert(r.id, r.clone());
            }
            Change::UpdateProject(p) => {
                self.projects.insert((p.workspace.clone(), p.id.clone()), p.clone());
            }
            Change::PutSettings(settings) => self.settings = settings.clone(),
            Change::PutInvitation(i) => {
                self.invitations.insert(i.id, i.clone());
            }
            Change::PutTagDefinition(t) => {
                self.tag_definitions.insert(t.key.clone(), t.clone());
            }
            Change::DeleteTagDefinition(key) => {
                self.tag_definitions.remove(key);
            }
            Change::PutMessage(m) => {
                self.messages.insert(m.id, m.clone());
            }
            Change::PutAccess(a) => {
                if let Some(old) = self.accesses.get(&a.id) {
                    for r in &old.recipients {
                        if let Some(v) = self.accesses_by_recipient.get_mut(&r.email) {
                            v.retain(|x| *x != a.id);
                            if v.is_empty() {
                                self.accesses_by_recipient.remove(&r.email);
                            }
                        }
                    }
                }
                for r in &a.recipients {
                    self.accesses_by_recipient.entry(r.email.clone()).or_default().push(a.id);
                }
                self.accesses.insert(a.id, a.clone());
            }
            Change::EndBinding { id, .. } => {
                if let Some(slot) = self.binding_slot.remove(id) {
                    let b = self.bindings.swap_remove(slot as usize);
                    if let Some(moved) = self.bindings.get(slot as usize) {
                        self.binding_slot.insert(moved.id, slot);
                    }
                    self.index.remove_binding(b.user, *id);
                    remove_id(&mut self.by_target, &b.target, *id);
                    if let Some(e) = b.expires_at {
                        self.expiries.remove(&(e, *id));
                    }
                }
            }
            Change::CreatePlatform(p) => {
                self.platforms.insert(p.id.clone(), p.clone());
            }
            Change::CreateTenant(t) => {
                let key = (t.workspace.clone(), t.project.clone(), t.platform.clone());
                self.tenants.insert(key, t.clone());
            }
            Change::CreateServiceUser(u) => {
                if u.deleted_at.is_none() {
                    self.service_users.insert(u.id, u.clone());
                }
            }
            Change::DeleteServiceUser { id, .. } => {
                self.service_users.remove(id);
            }
            Change::UpdatePlatform(p) => {
                self.platforms.insert(p.id.clone(), p.clone());
            }
            Change::PutCredential(c) => {
                self.credentials.insert((c.platform.clone(), c.user), c.clone());
            }
            Change::DeleteCredential { platform, user } => {
                self.credentials.remove(&(platform.clone(), *user));
            }
            Change::PutProvision(p) => {
                self.provisions.insert(p.key.clone(), p.clone());
            }
            Change::PutSshCertificate(c) => {
                self.ssh_certificates.insert((c.platform.clone(), c.serial), c.clone());
            }
            Change::RevokeSshCertificate { platform, serial, at } => {
                if let Some(c) = self.ssh_certificates.get_mut(&(platform.clone(), *serial)) {
                    c.revoked_at.get_or_insert(*at);
                }
            }
            Change::DeleteProvision(key) => {
                self.provisions.remove(key);
            }
        }
    }

    /// Applies one change and returns what it overwrote, so that [`State::undo`] can put the
    /// model back exactly as it was: how the server decides a command on a model that includes
    /// the not yet committed changes of the commands decided before it in the same group.
    pub fn apply_undoable(&mut self, change: &Change) -> Undo {
        let restore = match change {
            Change::CreateUser { user, .. } => Restore::User {
                before: self.users.get(&user.id).cloned(),
                email_before: self.user_by_email.get(&user.email).copied(),
                lookalike_before: (!user.email.as_str().is_ascii())
                    .then(|| self.lookalikes.get(user.email.lookalike_key().as_ref()).copied()),
                index: self.index.user_active(user.id),
                user: user.clone(),
            },
            Change::CreateToken(t) => Restore::Token {
                id: t.id,
                before: self.tokens.get(&t.id).cloned(),
                hash: Some((t.secret_hash, self.token_by_hash.get(&t.secret_hash).copied())),
            },
            Change::RevokeToken { id, .. } => {
                let before = self.tokens.get(id).cloned();
                let hash =
                    before.as_ref().map(|t| (t.secret_hash, self.token_by_hash.get(&t.secret_hash).copied()));
                Restore::Token { id: *id, before, hash }
            }
            Change::CreateWorkspace(ws) | Change::UpdateWorkspace(ws) => {
                let target = Target::Workspace(ws.id.clone());
                let mark = self.index.mark_target(&target);
                Restore::Workspace { before: self.workspaces.get(&ws.id).cloned(), id: ws.id.clone(), mark }
            }
            Change::CreateProject { project, .. } => {
                let target = Target::Project(project.workspace.clone(), project.id.clone());
                let mark = self.index.mark_target(&target);
                let key = (project.workspace.clone(), project.id.clone());
                Restore::Project { before: self.projects.get(&key).cloned(), key, mark: Some(mark) }
            }
            Change::UpdateProject(p) => {
                let key = (p.workspace.clone(), p.id.clone());
                Restore::Project { before: self.projects.get(&key).cloned(), key, mark: None }
            }
            // Applying it again changes nothing (see `State::apply`).
            Change::CreateBinding(b) if self.binding_slot.contains_key(&b.id) => Restore::Nothing,
            Change::CreateBinding(b) => Restore::BindingCreated {
                expiry_new: b.expires_at.is_some_and(|e| !self.expiries.contains(&(e, b.id))),
                user_indexed: self.index.user_active(b.user),
                mark: self.index.mark_target(&b.target),
                binding: b.clone(),
            },
            Change::EndBinding { id, .. } => match self.binding_slot.get(id) {
                Some(&slot) => {
                    let b = &self.bindings[slot as usize];
                    Restore::BindingEnded {
                        slot,
                        by_user: self.index.position_of(b.user, *id),
                        by_target: position(&self.by_target, &b.target, *id),
                        binding: b.clone(),
                    }
                }
                None => Restore::Nothing,
            },
            Change::ExtendBinding { id, .. } => match self.binding(*id) {
                Some(b) => Restore::BindingExtended { id: *id, before: b.expires_at },
                None => Restore::Nothing,
            },
            Change::PutPolicy(p) => Restore::Policy(p.id, self.policies.get(&p.id).cloned()),
            Change::PutEntitlement(e) => {
                let key = (e.target.clone(), e.role);
                Restore::Entitlement(self.entitlements.get(&key).cloned(), key)
            }
            Change::PutRequest(r) => Restore::Request(r.id, self.requests.get(&r.id).cloned()),
            Change::PutReview(r) => Restore::Review(r.id, self.reviews.get(&r.id).cloned()),
            Change::PutSettings(_) => Restore::Settings(self.settings.clone()),
            Change::PutInvitation(i) => Restore::Invitation(i.id, self.invitations.get(&i.id).cloned()),
            Change::PutTagDefinition(TagDefinition { key, .. }) | Change::DeleteTagDefinition(key) => {
                Restore::TagDefinition(self.tag_definitions.get(key).cloned(), key.clone())
            }
            Change::PutMessage(m) => Restore::Message(m.id, self.messages.get(&m.id).cloned()),
            Change::PutAccess(a) => {
                let before = self.accesses.get(&a.id).cloned();
                let mut emails: Vec<&Email> = a.recipients.iter().map(|r| &r.email).collect();
                emails.extend(before.iter().flat_map(|b| b.recipients.iter().map(|r| &r.email)));
                emails.sort();
                emails.dedup();
                let recipients = emails
                    .into_iter()
                    .map(|e| (e.clone(), self.accesses_by_recipient.get(e).cloned()))
                    .collect();
                Restore::Access { id: a.id, before, recipients }
            }
            Change::CreatePlatform(p) | Change::UpdatePlatform(p) => {
                Restore::Platform(self.platforms.get(&p.id).cloned(), p.id.clone())
            }
            Change::PutCredential(Credential { platform, user, .. })
            | Change::DeleteCredential { platform, user } => {
                let key = (platform.clone(), *user);
                Restore::Credential(self.credentials.get(&key).cloned(), key)
            }
            Change::PutSshCertificate(SshCertificate { platform, serial, .. })
            | Change::RevokeSshCertificate { platform, serial, .. } => {
                let key = (platform.clone(), *serial);
                Restore::SshCertificate(self.ssh_certificates.get(&key).cloned(), key)
            }
            Change::PutProvision(Provision { key, .. }) | Change::DeleteProvision(key) => {
                Restore::Provision(self.provisions.get(key).cloned(), key.clone())
            }
            Change::CreateTenant(t) => {
                let key = (t.workspace.clone(), t.project.clone(), t.platform.clone());
                Restore::Tenant(self.tenants.get(&key).cloned(), key)
            }
            Change::CreateServiceUser(u) => {
                Restore::ServiceUser(u.id, self.service_users.get(&u.id).cloned())
            }
            Change::DeleteServiceUser { id, .. } => {
                Restore::ServiceUser(*id, self.service_users.get(id).cloned())
            }
        };
        self.apply(change);
        Undo(restore)
    }

    /// Puts back what [`State::apply_undoable`] overwrote. Undo in the reverse order of applying:
    /// each record describes the model just before its own change.
    pub fn undo(&mut self, undo: Undo) {
        match undo.0 {
            Restore::Nothing => {}
            Restore::User { user, before, email_before, lookalike_before, index } => {
                if let Some(owner) = lookalike_before {
                    put_back(&mut self.lookalikes, user.email.lookalike_key().into_owned(), owner);
                }
                put_back(&mut self.users, user.id, before);
                put_back(&mut self.user_by_email, user.email, email_before);
                self.index.restore_user(user.id, index);
            }
            Restore::Token { id, before, hash } => {
                put_back(&mut self.tokens, id, before);
                if let Some((hash, owner)) = hash {
                    put_back(&mut self.token_by_hash, hash, owner);
                }
            }
            Restore::Workspace { before, id, mark } => {
                self.index.restore_target(mark);
                put_back_ordered(&mut self.workspaces, id, before);
            }
            Restore::Project { key, before, mark } => {
                if let Some(mark) = mark {
                    self.index.restore_target(mark);
                }
                put_back_ordered(&mut self.projects, key, before);
            }
            Restore::BindingCreated { binding: b, expiry_new, user_indexed, mark } => {
                // The creation pushed the binding last everywhere.
                self.bindings.pop();
                self.binding_slot.remove(&b.id);
                pop_id(&mut self.by_target, &b.target);
                if let (true, Some(e)) = (expiry_new, b.expires_at) {
                    self.expiries.remove(&(e, b.id));
                }
                self.index.remove_binding(b.user, b.id);
                if user_indexed.is_none() {
                    self.index.restore_user(b.user, None);
                }
                self.index.restore_target(mark);
            }
            Restore::BindingEnded { binding: b, slot, by_user, by_target } => {
                insert_id(&mut self.by_target, b.target.clone(), by_target, b.id);
                if let Some(e) = b.expires_at {
                    self.expiries.insert((e, b.id));
                }
                if let Some(at) = by_user {
                    self.index.insert_binding_at(&b, at);
                }
                // The ending moved the last binding into the slot: move it back to the end.
                let last = u32::try_from(self.bindings.len()).unwrap_or(u32::MAX);
                self.binding_slot.insert(b.id, slot);
                match self.bindings.get_mut(slot as usize) {
                    Some(taken) => {
                        let moved = std::mem::replace(taken, b);
                        self.binding_slot.insert(moved.id, last);
                        self.bindings.push(moved);
                    }
                    None => self.bindings.push(b),
                }
            }
            Restore::BindingExtended { id, before } => {
                self.apply(&Change::ExtendBinding { id, expires_at: before });
            }
            Restore::Policy(id, before) => put_back(&mut self.policies, id, before),
            Restore::Entitlement(before, key) => put_back(&mut self.entitlements, key, before),
            Restore::Request(id, before) => {
                match &before {
                    Some(r) => self.note_pending(r),
                    None => {
                        self.pending.remove(&id);
                    }
                }
                put_back(&mut self.requests, id, before);
            }
            Restore::Review(id, before) => put_back(&mut self.reviews, id, before),
            Restore::Settings(before) => self.settings = before,
            Restore::Invitation(id, before) => put_back(&mut self.invitations, id, before),
            Restore::TagDefinition(before, key) => put_back_ordered(&mut self.tag_definitions, key, before),
            Restore::Message(id, before) => put_back(&mut self.messages, id, before),
            Restore::Access { id, before, recipients } => {
                for (email, ids) in recipients {
                    put_back(&mut self.accesses_by_recipient, email, ids);
                }
                put_back(&mut self.accesses, id, before);
            }
            Restore::Platform(before, id) => put_back_ordered(&mut self.platforms, id, before),
            Restore::Tenant(before, key) => put_back_ordered(&mut self.tenants, key, before),
            Restore::ServiceUser(id, before) => put_back(&mut self.service_users, id, before),
            Restore::Credential(before, key) => put_back_ordered(&mut self.credentials, key, before),
            Restore::Provision(before, key) => put_back_ordered(&mut self.provisions, key, before),
            Restore::SshCertificate(before, key) => put_back_ordered(&mut self.ssh_certificates, key, before),
        }
    }

    /// The compact index behind the authorization check.
    pub fn check_index(&self) -> &CheckIndex {
        &self.index
    }

    /// The chain head this model reflects.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// Sets the chain head (after loading from the store).
    pub fn set_head(&mut self, head: ChainHead) {
        self.head = head;
    }

    /// A user by id.
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.get(&id)
    }

    /// A user by e-mail.
    pub fn user_by_email<Q>(&self, email: &Q) -> Option<&User>
    where
        Email: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.user_by_email.get(email).and_then(|id| self.users.get(id))
    }

    /// Another user whose address looks like `email` without being it (see
    /// [`Email::lookalike_key`]): Cyrillic `аlice@corp.io` for `alice@corp.io`, or the reverse.
    pub fn lookalike_of(&self, email: &Email) -> Option<&User> {
        let key = email.lookalike_key();
        let by_key = self.lookalikes.get(key.as_ref()).and_then(|id| self.users.get(id));
        let ascii_twin = (!email.as_str().is_ascii()).then(|| self.user_by_email(key.as_ref())).flatten();
        [by_key, ascii_twin].into_iter().flatten().find(|u| u.email != *email)
    }

    /// Accounts whose stored addresses became one under normalisation: (address, the account
    /// found by it, the one no longer found).
    pub fn email_collisions(&self) -> &[(Email, UserId, UserId)] {
        &self.email_collisions
    }

    /// All users, in e-mail order.
    pub fn users(&self) -> Vec<&User> {
        let mut v: Vec<&User> = self.users.values().collect();
        v.sort_by(|a, b| a.email.cmp(&b.email));
        v
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// A workspace by identifier.
    pub fn workspace<Q>(&self, id: &Q) -> Option<&Workspace>
    where
        Slug: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.workspaces.get(id)
    }

    /// All workspaces, in identifier order.
    pub fn workspaces(&self) -> impl Iterator<Item = &Workspace> {
        self.workspaces.values()
    }

    /// A project by workspace and identifier.
    pub fn project(&self, ws: &Slug, id: &Slug) -> Option<&Project> {
        self.projects.get(&(ws.clone(), id.clone()))
    }

    /// The projects of a workspace, in identifier order.
    pub fn projects_of<'a>(&'a self, ws: &'a Slug) -> impl Iterator<Item = &'a Project> + 'a {
        self.projects
            .range((ws.clone(), Slug::below_all())..)
            .take_while(move |((w, _), _)| w == ws)
            .map(|(_, p)| p)
    }

    /// A live (not ended) binding by id; it may already be past its expiry.
    pub fn binding(&self, id: BindingId) -> Option<&Binding> {
        self.binding_slot.get(&id).and_then(|s| self.bindings.get(*s as usize))
    }

    /// Live bindings of a user (including those past expiry but not yet swept).
    pub fn bindings_of_user(&self, user: UserId) -> impl Iterator<Item = &Binding> {
        self.index.binding_ids_of(user).filter_map(|id| self.binding(id))
    }

    /// Live bindings on exactly this target.
    pub fn bindings_on(&self, target: &Target) -> impl Iterator<Item = &Binding> {
        self.by_target.get(target).into_iter().flatten().filter_map(|id| self.binding(*id))
    }

    /// Number of live bindings.
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// Bindings whose expiry has passed at `now` but that the store still holds as live, in
    /// expiry order.
    pub fn expired_unrecorded(&self, now: Timestamp) -> Vec<&Binding> {
        self.expiries
            .range(..=(now, BindingId(uuid::Uuid::max())))
            .filter_map(|(_, id)| self.binding(*id))
            .collect()
    }

    /// True when some binding's expiry has passed at `now` and is not yet recorded.
    pub fn has_expired_unrecorded(&self, now: Timestamp) -> bool {
        self.expiries.first().is_some_and(|(e, _)| *e <= now)
    }

    /// The highest workspace role `user` holds on `ws` at `now`, through any binding.
    pub fn workspace_role(&self, user: UserId, ws: &Slug, now: Timestamp) -> Option<WorkspaceRole> {
        self.bindings_of_user(user)
            .filter(|b| b.is_effective(now) && b.target == Target::Workspace(ws.clone()))
            .filter_map(|b| match b.role {
                Role::Workspace(r) => Some(r),
                Role::Project(_) => None,
            })
            .max()
    }

    /// True when `user` holds any effective binding in `ws` or one of its projects.
    pub fn has_any_binding_in(&self, user: UserId, ws: &Slug, now: Timestamp) -> bool {
        self.bindings_of_user(user).any(|b| b.is_effective(now) && b.target.workspace() == ws)
    }

    /// A token by the digest of its secret.
    pub fn token_by_hash(&self, hash: &SecretHash) -> Option<&Token> {
        self.token_by_hash.get(hash).and_then(|id| self.tokens.get(id))
    }

    /// A live token by id.
    pub fn token(&self, id: TokenId) -> Option<&Token> {
        self.tokens.get(&id)
    }

    /// An access by id.
    pub fn access(&self, id: AccessId) -> Option<&Access> {
        self.accesses.get(&id)
    }

    /// The accesses a user created (revoked and expired ones too), newest first.
    pub fn accesses_of(&self, owner: UserId) -> Vec<&Access> {
        let mut v: Vec<&Access> = self.accesses.values().filter(|a| a.owner == owner).collect();
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// The delegate accesses shared with an address (in any state), newest first.
    pub fn accesses_shared_with(&self, email: &Email) -> Vec<&Access> {
        let mut v: Vec<&Access> = self
            .accesses_by_recipient
            .get(email)
            .into_iter()
            .flatten()
            .filter_map(|id| self.accesses.get(id))
            .collect();
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// A user's live tokens, newest first.
    pub fn tokens_of(&self, user: UserId) -> Vec<&Token> {
        let mut v: Vec<&Token> = self.tokens.values().filter(|t| t.user == user).collect();
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// A policy by id; the installation default is not stored here (see `Policy::installation_default`).
    pub fn policy(&self, id: PolicyId) -> Option<&Policy> {
        self.policies.get(&id)
    }

    /// All stored policies, by name then id.
    pub fn policies(&self) -> Vec<&Policy> {
        let mut v: Vec<&Policy> = self.policies.values().collect();
        v.sort_by(|a, b| (a.name.as_str(), a.id).cmp(&(b.name.as_str(), b.id)));
        v
    }

    /// The settings of an entitlement, if any were made.
    pub fn entitlement(&self, target: &Target, role: Role) -> Option<&Entitlement> {
        self.entitlements.get(&(target.clone(), role))
    }

    /// Every entitlement with settings in a workspace (including its projects').
    pub fn entitlements_in<'a>(&'a self, ws: &'a Slug) -> impl Iterator<Item = &'a Entitlement> + 'a {
        self.entitlements.values().filter(move |e| e.target.workspace() == ws)
    }

    /// A request by id.
    pub fn request(&self, id: RequestId) -> Option<&AccessRequest> {
        self.requests.get(&id)
    }

    /// Every request, in no particular order.
    pub fn requests(&self) -> impl Iterator<Item = &AccessRequest> {
        self.requests.values()
    }

    /// Requests still in state `Pending` (some may be past their lapse time, not yet recorded).
    pub fn pending_requests(&self) -> impl Iterator<Item = &AccessRequest> {
        self.pending.iter().filter_map(|id| self.requests.get(id))
    }

    /// Keeps the set of pending requests in step with a request's new state.
    fn note_pending(&mut self, r: &AccessRequest) {
        if r.state == RequestState::Pending {
            self.pending.insert(r.id);
        } else {
            self.pending.remove(&r.id);
        }
    }

    /// A review by id.
    pub fn review(&self, id: ReviewId) -> Option<&Review> {
        self.reviews.get(&id)
    }

    /// Every review, in no particular order.
    pub fn reviews(&self) -> impl Iterator<Item = &Review> {
        self.reviews.values()
    }

    /// The installation settings (the defaults until an admin changes them).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// An invitation by id.
    pub fn invitation(&self, id: InvitationId) -> Option<&Invitation> {
        self.invitations.get(&id)
    }

    /// Every invitation, in no particular order.
    pub fn invitations(&self) -> impl Iterator<Item = &Invitation> {
        self.invitations.values()
    }

    /// A tag definition by key.
    pub fn tag_definition(&self, key: &TagKey) -> Option<&TagDefinition> {
        self.tag_definitions.get(key)
    }

    /// Every tag definition, by key.
    pub fn tag_definitions(&self) -> impl Iterator<Item = &TagDefinition> {
        self.tag_definitions.values()
    }

    /// A message by id.
    pub fn message(&self, id: MessageId) -> Option<&Message> {
        self.messages.get(&id)
    }

    /// Every message, in no particular order.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.values()
    }

    /// A platform by identifier.
    pub fn platform(&self, id: &Slug) -> Option<&Platform> {
        self.platforms.get(id)
    }

    /// Every platform, in identifier order.
    pub fn platforms(&self) -> impl Iterator<Item = &Platform> {
        self.platforms.values()
    }

    /// The tenant of a project on a platform.
    pub fn tenant(&self, ws: &Slug, project: &Slug, platform: &Slug) -> Option<&Tenant> {
        self.tenants.get(&(ws.clone(), project.clone(), platform.clone()))
    }

    /// The tenants of a project, in platform order.
    pub fn tenants_of<'a>(
        &'a self,
        ws: &'a Slug,
        project: &'a Slug,
    ) -> impl Iterator<Item = &'a Tenant> + 'a {
        self.tenants
            .range((ws.clone(), project.clone(), Slug::below_all())..)
            .take_while(move |((w, p, _), _)| w == ws && p == project)
            .map(|(_, t)| t)
    }

    /// Every tenant, by workspace, project and platform.
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.values()
    }

    /// A service user not deleted, by id.
    pub fn service_user(&self, id: ServiceUserId) -> Option<&ServiceUser> {
        self.service_users.get(&id)
    }

    /// The service users of one tenant not deleted, oldest first.
    pub fn service_users_of(&self, ws: &Slug, project: &Slug, platform: &Slug) -> Vec<&ServiceUser> {
        let mut v: Vec<&ServiceUser> = self
            .service_users
            .values()
            .filter(|u| &u.workspace == ws && &u.project == project && &u.platform == platform)
            .collect();
        v.sort_by_key(|u| (u.created_at, u.id));
        v
    }

    /// Every service user not deleted, in no particular order.
    pub fn service_users(&self) -> impl Iterator<Item = &ServiceUser> {
        self.service_users.values()
    }

    /// A user's credential on a platform.
    pub fn credential(&self, platform: &Slug, user: UserId) -> Option<&Credential> {
        self.credentials.get(&(platform.clone(), user))
    }

    /// An SSH certificate a platform's authority issued.
    pub fn ssh_certificate(&self, platform: &Slug, serial: u64) -> Option<&SshCertificate> {
        self.ssh_certificates.get(&(platform.clone(), serial))
    }

    /// The SSH certificates issued on a platform (since the model was loaded, those then still
    /// valid), by serial.
    pub fn ssh_certificates_on<'a>(
        &'a self,
        platform: &'a Slug,
    ) -> impl Iterator<Item = &'a SshCertificate> + 'a {
        self.ssh_certificates.range((platform.clone(), 0)..=(platform.clone(), u64::MAX)).map(|(_, c)| c)
    }

    /// Every SSH certificate issued (since the model was loaded, those then still valid).
    pub fn ssh_certificates(&self) -> impl Iterator<Item = &SshCertificate> {
        self.ssh_certificates.values()
    }

    /// The credentials issued on a platform, by user.
    pub fn credentials_on<'a>(&'a self, platform: &'a Slug) -> impl Iterator<Item = &'a Credential> + 'a {
        self.credentials.values().filter(move |c| &c.platform == platform)
    }

    /// A grant's provisioning record.
    pub fn provision(&self, key: &GrantKey) -> Option<&Provision> {
        self.provisions.get(key)
    }

    /// The provisioning records of a platform, by grant.
    pub fn provisions_on<'a>(&'a self, platform: &'a Slug) -> impl Iterator<Item = &'a Provision> + 'a {
        self.provisions.values().filter(move |p| &p.key.platform == platform)
    }

    /// Forgets tokens that can no longer authenticate; nothing to record, they simply lapsed.
    pub fn prune_tokens(&mut self, now: Timestamp) {
        let dead: Vec<TokenId> = self.tokens.values().filter(|t| !t.is_valid(now)).map(|t| t.id).collect();
        for id in dead {
            self.apply(&Change::RevokeToken { id, at: now });
        }
    }
}

fn remove_id<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<BindingId>>, key: &K, id: BindingId) {
    if let Some(v) = map.get_mut(key) {
        v.retain(|x| *x != id);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

/// What one [`State::apply_undoable`] overwrote.
#[derive(Debug)]
pub struct Undo(Restore);

/// The parts of the model one change touches, as they were before it. An ended binding keeps
/// its slot and its positions in its user's list (in the index) and in the per-target list, so
/// that undoing the ending puts it back where it was, not at the end.
// Like `Change`: built, used once, dropped within one decision.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Restore {
    Nothing,
    User {
        user: User,
        before: Option<User>,
        email_before: Option<UserId>,
        /// For a non-ASCII address: who held its look-alike key before.
        lookalike_before: Option<Option<UserId>>,
        /// Whether the index knew the user, and as active.
        index: Option<bool>,
    },
    Token {
        id: TokenId,
        before: Option<Token>,
        hash: Option<(SecretHash, Option<TokenId>)>,
    },
    Workspace {
        before: Option<Workspace>,
        id: Slug,
        mark: TargetMark,
    },
    Project {
        key: (Slug, Slug),
        before: Option<Project>,
        mark: Option<TargetMark>,
    },
    BindingCreated {
        binding: Binding,
        /// The expiry entry was added by the change (it was not there already).
        expiry_new: bool,
        /// Whether the index knew the user (the binding's creation indexes it if not).
        user_indexed: Option<bool>,
        mark: TargetMark,
    },
    BindingEnded {
        binding: Binding,
        /// Its slot in `State::bindings`, which the ending gave to the last binding.
        slot: u32,
        /// Its position in its user's list in the index.
        by_user: Option<usize>,
        by_target: Option<usize>,
    },
    BindingExtended {
        id: BindingId,
        before: Option<Timestamp>,
    },
    Policy(PolicyId, Option<Policy>),
    Entitlement(Option<Entitlement>, (Target, Role)),
    Request(RequestId, Option<AccessRequest>),
    Review(ReviewId, Option<Review>),
    Settings(Settings),
    Invitation(InvitationId, Option<Invitation>),
    TagDefinition(Option<TagDefinition>, TagKey),
    Message(MessageId, Option<Message>),
    Access {
        id: AccessId,
        before: Option<Access>,
        recipients: Vec<(Email, Option<Vec<AccessId>>)>,
    },
    Platform(Option<Platform>, Slug),
    Tenant(Option<Tenant>, (Slug, Slug, Slug)),
    ServiceUser(ServiceUserId, Option<ServiceUser>),
    Credential(Option<Credential>, (Slug, UserId)),
    Provision(Option<Provision>, GrantKey),
    SshCertificate(Option<SshCertificate>, (Slug, u64)),
}

fn put_back<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, before: Option<V>) {
    match before {
        Some(v) => map.insert(key, v),
        None => map.remove(&key),
    };
}

fn put_back_ordered<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, before: Option<V>) {
    match before {
        Some(v) => map.insert(key, v),
        None => map.remove(&key),
    };
}

fn position<K: std::hash::Hash + Eq>(
    map: &HashMap<K, Vec<BindingId>>,
    key: &K,
    id: BindingId,
) -> Option<usize> {
    map.get(key).and_then(|v| v.iter().position(|x| *x == id))
}

/// Takes off the id a creation pushed last.
fn pop_id<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<BindingId>>, key: &K) {
    if let Some(v) = map.get_mut(key) {
        v.pop();
        if v.is_empty() {
            map.remove(key);
        }
    }
}

/// Puts an id back at the position an ending took it from (nowhere when it was not listed).
fn insert_id<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Vec<BindingId>>,
    key: K,
    at: Option<usize>,
    id: BindingId,
) {
    if let Some(at) = at {
        let v = map.entry(key).or_default();
        v.insert(at.min(v.len()), id);
    }
}
