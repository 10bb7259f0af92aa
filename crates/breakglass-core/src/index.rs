//! The compact index behind the authorization check, kept in step by `State::apply` like
//! everything else in `State`.
//!
//! Layout, chosen for a check at a million bindings (see BENCHMARKS.md):
//! - Users sit in one map keyed by their UUID with the Fx hasher (the ids are random and chosen
//!   by the server, so a keyed hasher buys nothing). The map's value is the user's span in one
//!   shared arena of 40-byte entries, so a check touches the user's bucket and then one
//!   contiguous run of cache lines, with no per-user heap allocation. The entry carries the
//!   binding id, so turning a match into a `Via` needs no further memory access; the rare
//!   request id (bindings from access requests) sits in a side map.
//! - Targets are interned to `u32`s. They are found by one hash of the slug text, and verified
//!   against a single text arena, so a lookup never follows a pointer to a heap string.

use std::hash::{BuildHasher, Hash, Hasher};

use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::check::{Decision, DenyReason, Via, ViaList};
use crate::ident::{BindingId, RequestId, Slug, UserId};
use crate::model::{Binding, BindingSource, Target};
use crate::role::{Role, WorkspaceRole};
use crate::time::Timestamp;

/// Where a binding came from; the request id of the last two lives in `CheckIndex::requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SourceKind {
    Direct,
    Grant,
    Request,
    Emergency,
}

/// One binding, as the check scans it (40 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    starts: i64,
    /// `i64::MAX` for a binding that never ends.
    expires: i64,
    binding: BindingId,
    target: u32,
    role: Role,
    source: SourceKind,
}

/// Fills arena slots reserved for a user but not yet used; never read as a binding.
const VACANT: Entry = Entry {
    starts: 0,
    expires: 0,
    binding: BindingId(uuid::Uuid::nil()),
    target: u32::MAX,
    role: Role::Workspace(WorkspaceRole::Member),
    source: SourceKind::Direct,
};

/// A user's run of slots in the arenas, and whether the user may act.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
    cap: u32,
    active: bool,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// An interned workspace or project.
#[derive(Clone, Copy, Debug)]
struct TargetInfo {
    /// Offset of the workspace slug in `CheckIndex::text`, the project slug right after it.
    text: u32,
    ws_len: u8,
    /// 0 for a workspace (a slug has at least two characters).
    project_len: u8,
    /// Whether the workspace or project exists.
    known: bool,
    /// For a workspace: whether it is active.
    active: bool,
    /// Its workspace's id (itself for a workspace).
    workspace: u32,
    /// The next target whose text hashes to the same key, or `u32::MAX`.
    next: u32,
}

/// How far the target tables reached, and what the index knew of one target: see
/// [`CheckIndex::mark_target`].
#[derive(Clone, Debug)]
pub(crate) struct TargetMark {
    /// Length of `targets`.
    interned: usize,
    /// Length of `text`.
    text: usize,
    /// The target's id, known and active, when it was interned.
    flags: Option<(u32, bool, bool)>,
}

/// Interned targets and per-user binding entries. Equality is logical (see the `PartialEq`
/// impl): the arena layout depends on the order of past moves and compactions.
#[derive(Clone, Debug, Default)]
pub struct CheckIndex {
    users: FxHashMap<UserId, Span>,
    entries: Vec<Entry>,
    /// Number of live entries; the arenas are compacted when they exceed twice this.
    live: usize,
    /// The request behind each binding from a request or an emergency request.
    requests: FxHashMap<BindingId, RequestId>,
    /// Hash of a target's slug text → the first target id with that hash.
    target_ids: FxHashMap<u64, u32>,
    targets: Vec<TargetInfo>,
    /// Slug text of every interned target, back to back.
    text: String,
}

/// A target's slugs, borrowed: the workspace and, for a project, the project.
fn slugs(target: &Target) -> (&str, &str) {
    match target {
        Target::Workspace(ws) => (ws.as_str(), ""),
        Target::Project(ws, p) => (ws.as_str(), p.as_str()),
    }
}

fn text_key(ws: &str, project: &str) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    ws.hash(&mut h);
    project.hash(&mut h);
    h.finish()
}

fn micros(at: Option<Timestamp>) -> i64 {
    at.map_or(i64::MAX, Timestamp::as_micros)
}

/// Heap bytes of a hash map: hashbrown's buckets (a power of two, 7/8 usable) of `(K, V)`, one
/// control byte per bucket plus a trailing group.
fn map_bytes<K, V>(map: &FxHashMap<K, V>) -> usize {
    let cap = map.capacity();
    if cap == 0 {
        return 0;
    }
    let buckets = if cap < 8 { cap + 1 } else { cap / 7 * 8 };
    buckets * (std::mem::size_of::<(K, V)>() + 1) + 16
}

impl CheckIndex {
    fn target_id(&self, ws: &str, project: &str) -> Option<u32> {
        let mut id = *self.target_ids.get(&text_key(ws, project))?;
        while let Some(t) = self.targets.get(id as usize) {
            let start = t.text as usize;
            let mid = start + t.ws_len as usize;
            let end = mid + t.project_len as usize;
            if self.text.get(start..mid) == Some(ws) && self.text.get(mid..end) == Some(project) {
                return Some(id);
            }
            id = t.next;
        }
        None
    }

    fn intern(&mut self, target: &Target) -> u32 {
        let (ws, project) = slugs(target);
        if let Some(id) = self.target_id(ws, project) {
            return id;
        }
        let workspace = match target {
            Target::Workspace(_) => None,
            Target::Project(ws, _) => Some(self.intern(&Target::Workspace(ws.clone()))),
        };
        let id = u32::try_from(self.targets.len()).unwrap_or(u32::MAX);
        let text = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(ws);
        self.text.push_str(project);
        // Slugs are at most 63 bytes (`Slug::parse`).
        let len = |s: &str| u8::try_from(s.len()).unwrap_or(u8::MAX);
        self.targets.push(TargetInfo {
            text,
            ws_len: len(ws),
            project_len: len(project),
            known: false,
            active: false,
            workspace: workspace.unwrap_or(id),
            next: u32::MAX,
        });
        // A different text with the same 64-bit key goes at the end of that key's chain.
        match self.target_ids.get(&text_key(ws, project)).copied() {
            None => {
                self.target_ids.insert(text_key(ws, project), id);
            }
            Some(mut last) => {
                while self.targets[last as usize].next != u32::MAX {
                    last = self.targets[last as usize].next;
                }
                self.targets[last as usize].next = id;
            }
        }
        id
    }

    /// A user exists, active or not.
    pub(crate) fn set_user(&mut self, user: UserId, active: bool) {
        self.users.entry(user).or_default().active = active;
    }

    /// A workspace exists with this activity.
    pub(crate) fn set_workspace(&mut self, ws: &Slug, active: bool) {
        let id = self.intern(&Target::Workspace(ws.clone())) as usize;
        self.targets[id].known = true;
        self.targets[id].active = active;
    }

    /// A project exists.
    pub(crate) fn add_project(&mut self, ws: &Slug, project: &Slug) {
        let id = self.intern(&Target::Project(ws.clone(), project.clone())) as usize;
        self.targets[id].known = true;
    }

    /// A binding starts counting (from its `starts_at`).
    pub(crate) fn add_binding(&mut self, b: &Binding) {
        let entry = self.entry_of(b);
        let mut span = self.users.get(&b.user).copied().unwrap_or_default();
        if span.len == span.cap {
            span = self.grow(b.user, span);
        }
        let slot = (span.start + span.len) as usize;
        self.entries[slot] = entry;
        span.len += 1;
        self.live += 1;
        self.users.insert(b.user, span);
    }

    /// The entry of a binding, its target interned and its request id noted.
    fn entry_of(&mut self, b: &Binding) -> Entry {
        let target = self.intern(&b.target);
        let source = match b.source {
            BindingSource::Direct => SourceKind::Direct,
            BindingSource::Grant => SourceKind::Grant,
            BindingSource::Request(r) => {
                self.requests.insert(b.id, r);
                SourceKind::Request
            }
            BindingSource::Emergency(r) => {
                self.requests.insert(b.id, r);
                SourceKind::Emergency
            }
        };
        Entry {
            starts: b.starts_at.as_micros(),
            expires: micros(b.expires_at),
            binding: b.id,
            target,
            role: b.role,
            source,
        }
    }

    /// Makes room for one more entry in `user`'s span: in place when the span ends the arena,
    /// else by moving it to the end with half as much room again. Moves leave holes behind, so
    /// once the arena is more than twice the live entries it is compacted first; the arena stays
    /// within about twice the live entries and every entry is copied a constant number of times
    /// on average.
    fn grow(&mut self, user: UserId, mut span: Span) -> Span {
        if self.entries.len() > 64 && self.entries.len() > 2 * self.live {
            self.compact();
            span = self.users.get(&user).copied().unwrap_or_default();
            if span.len < span.cap {
                return span;
            }
        }
        let extra = (span.cap / 2).max(2);
        let at_end = (span.start + span.cap) as usize == self.entries.len();
        let needed = if at_end { extra } else { span.cap + extra } as usize;
        // Grow the vectors by a quarter rather than double them: at a million entries a
        // doubling would leave up to 40 MB unused.
        if self.entries.len() + needed > self.entries.capacity() {
            let more = needed.max(self.entries.capacity() / 4);
            self.entries.reserve_exact(more);
        }
        if !at_end {
            let old = span.start as usize..(span.start + span.cap) as usize;
            span.start = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            self.entries.extend_from_within(old);
        }
        self.entries.resize(self.entries.len() + extra as usize, VACANT);
        span.cap += extra;
        span
    }

    /// Rewrites the arena with every span back to back, each with a quarter of its length
    /// to spare, so the next few bindings of a user need no move.
    fn compact(&mut self) {
        let size: usize = self.users.values().map(|s| (s.len + s.len / 4) as usize).sum();
        let mut entries = Vec::with_capacity(size + size / 4);
        for span in self.users.values_mut() {
            let start = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            let cap = span.len + span.len / 4;
            entries.extend_from_slice(&self.entries[span.range()]);
            entries.resize(start as usize + cap as usize, VACANT);
            *span = Span { start, len: span.len, cap, active: span.active };
        }
        self.entries = entries;
    }

    fn slot_of(&self, user: UserId, id: BindingId) -> Option<(Span, usize)> {
        let span = *self.users.get(&user)?;
        let at = self.entries[span.range()].iter().position(|e| e.binding == id)?;
        Some((span, span.start as usize + at))
    }

    /// A binding ended.
    pub(crate) fn remove_binding(&mut self, user: UserId, id: BindingId) {
        self.requests.remove(&id);
        if let Some((mut span, slot)) = self.slot_of(user, id) {
            // Keep the user's bindings in the order they were added (`State::bindings_of_user`).
            let end = (span.start + span.len) as usize;
            self.entries.copy_within(slot + 1..end, slot);
            span.len -= 1;
            self.live -= 1;
            self.users.insert(user, span);
        }
    }

    /// A binding's expiry moved.
    pub(crate) fn set_expiry(&mut self, user: UserId, id: BindingId, expires_at: Option<Timestamp>) {
        if let Some((_, slot)) = self.slot_of(user, id) {
            self.entries[slot].expires = micros(expires_at);
        }
    }

    /// The live bindings of a user, in the order they were added.
    pub(crate) fn binding_ids_of(&self, user: UserId) -> impl Iterator<Item = BindingId> + '_ {
        let entries = self.users.get(&user).map_or(&[][..], |span| &self.entries[span.range()]);
        entries.iter().map(|e| e.binding)
    }

    /// Bytes the index holds on the heap: every vector's and map's capacity times its element
    /// size (maps as hashbrown lays them out). Allocator headers are not counted: the index
    /// makes a handful of large allocations only.
    pub fn heap_bytes(&self) -> usize {
        map_bytes(&self.users)
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + map_bytes(&self.requests)
            + map_bytes(&self.target_ids)
            + self.targets.capacity() * std::mem::size_of::<TargetInfo>()
            + self.text.capacity()
    }

    /// How far the target tables reach now and what the index knows of `target`, so that a
    /// speculative change can be put back by [`CheckIndex::restore_target`].
    pub(crate) fn mark_target(&self, target: &Target) -> TargetMark {
        let (ws, project) = slugs(target);
        let flags = self.target_id(ws, project).map(|id| {
            let t = self.targets[id as usize];
            (id, t.known, t.active)
        });
        TargetMark { interned: self.targets.len(), text: self.text.len(), flags }
    }

    /// Puts the target tables back as `mark` saw them: the marked target's flags restored,
    /// every target interned since forgotten (ids are handed out in order, so the tables are
    /// truncated and the new ids unlinked from their keys' chains).
    pub(crate) fn restore_target(&mut self, mark: TargetMark) {
        if let Some((id, known, active)) = mark.flags {
            let t = &mut self.targets[id as usize];
            t.known = known;
            t.active = active;
        }
        // Newest first: a chain is in id order, so the id being forgotten is its last link.
        for id in (mark.interned..self.targets.len()).rev() {
            let (ws, project) = self.text_of(&self.targets[id]);
            let key = text_key(ws, project);
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            match self.target_ids.get(&key).copied() {
                Some(head) if head == id => {
                    self.target_ids.remove(&key);
                }
                Some(mut at) => {
                    while self.targets[at as usize].next != u32::MAX && self.targets[at as usize].next != id {
                        at = self.targets[at as usize].next;
                    }
                    self.targets[at as usize].next = u32::MAX;
                }
                None => {}
            }
        }
        self.targets.truncate(mark.interned);
        self.text.truncate(mark.text);
    }

    /// Whether a user is indexed, and if so whether active (`None`: not indexed).
    pub(crate) fn user_active(&self, user: UserId) -> Option<bool> {
        self.users.get(&user).map(|s| s.active)
    }

    /// Puts a user back as [`CheckIndex::user_active`] saw it. `None` forgets the user; undone
    /// in reverse order, the user then has no entries left.
    pub(crate) fn restore_user(&mut self, user: UserId, active: Option<bool>) {
        match active {
            Some(active) => {
                if let Some(span) = self.users.get_mut(&user) {
                    span.active = active;
                }
            }
            None => {
                if let Some(span) = self.users.remove(&user) {
                    for e in &self.entries[span.range()] {
                        self.requests.remove(&e.binding);
                    }
                    self.live -= span.len as usize;
                }
            }
        }
    }

    /// Where a binding stands in its user's list (`None`: not listed).
    pub(crate) fn position_of(&self, user: UserId, id: BindingId) -> Option<usize> {
        self.slot_of(user, id).map(|(span, slot)| slot - span.start as usize)
    }

    /// Puts an ended binding back at `at` in its user's list, where
    /// [`CheckIndex::position_of`] saw it.
    pub(crate) fn insert_binding_at(&mut self, b: &Binding, at: usize) {
        let entry = self.entry_of(b);
        let mut span = self.users.get(&b.user).copied().unwrap_or_default();
        if span.len == span.cap {
            span = self.grow(b.user, span);
        }
        let start = span.start as usize;
        let at = start + at.min(span.len as usize);
        let end = start + span.len as usize;
        self.entries.copy_within(at..end, at + 1);
        self.entries[at] = entry;
        span.len += 1;
        self.live += 1;
        self.users.insert(b.user, span);
    }

    /// A target's slugs in the text arena: the workspace and the project (empty for a
    /// workspace).
    fn text_of(&self, t: &TargetInfo) -> (&str, &str) {
        let start = t.text as usize;
        let mid = start + t.ws_len as usize;
        let end = mid + t.project_len as usize;
        (&self.text[start..mid], &self.text[mid..end])
    }

    /// See `check::check_slugs`.
    pub(crate) fn check(
        &self,
        user: UserId,
        ws: &str,
        project: Option<&str>,
        role: Role,
        now: Timestamp,
    ) -> Decision {
        let deny =
            |reason| Decision { allowed: false, expires_at: None, via: ViaList::new(), reason: Some(reason) };
        let Some(&span) = self.users.get(&user) else { return deny(DenyReason::UnknownTarget) };
        if !span.active {
            return deny(DenyReason::UserDisabled);
        }
        // Texts store a workspace with an empty project, so an empty project names no target.
        let text = match project {
            None => Some(""),
            Some("") => None,
            Some(p) => Some(p),
        };
        let Some(tid) = text.and_then(|p| self.target_id(ws, p)) else {
            return deny(DenyReason::UnknownTarget);
        };
        let t = self.targets[tid as usize];
        let w = self.targets[t.workspace as usize];
        if !t.known || !w.known {
            return deny(DenyReason::UnknownTarget);
        }
        if !w.active {
            return deny(DenyReason::WorkspaceNotActive);
        }
        let now = now.as_micros();
        let counts =
            |e: &Entry| e.target == tid && e.starts <= now && now < e.expires && e.role.implies(role);
        let entries = &self.entries[span.range()];
        let Some(first) = entries.iter().position(counts) else { return deny(DenyReason::NoBinding) };
        let via_of = |e: &Entry| {
            let binding = e.binding;
            let request = || self.requests.get(&binding).copied().unwrap_or(RequestId(uuid::Uuid::nil()));
            let source = match e.source {
                SourceKind::Direct => BindingSource::Direct,
                SourceKind::Grant => BindingSource::Grant,
                SourceKind::Request => BindingSource::Request(request()),
                SourceKind::Emergency => BindingSource::Emergency(request()),
            };
            let expires_at = (e.expires != i64::MAX).then(|| Timestamp::from_micros(e.expires));
            Via { binding, role: e.role, source, expires_at }
        };
        let mut via = ViaList::new();
        for e in entries[first..].iter().filter(|e| counts(e)) {
            via.push(via_of(e));
        }
        if via.len() > 1 {
            // Latest-ending first (never-ending first of all), then by binding id.
            via.sort_by(|a, b| {
                let ka = micros(a.expires_at);
                let kb = micros(b.expires_at);
                kb.cmp(&ka).then(a.binding.cmp(&b.binding))
            });
        }
        let expires_at = via[0].expires_at;
        Decision { allowed: true, expires_at, via, reason: None }
    }
}

/// Logical equality: the same users (activity, and their entries in order, targets compared by
/// text), the same request ids, and the same targets (by text, with their flags). Where spans
/// sit in the arena and how much room they have spare is not compared: it depends on the order
/// of past moves and compactions, which an undo need not retrace.
impl PartialEq for CheckIndex {
    fn eq(&self, other: &Self) -> bool {
        let same_entry = |a: &Entry, b: &Entry| {
            (a.starts, a.expires, a.binding, a.role, a.source)
                == (b.starts, b.expires, b.binding, b.role, b.source)
                && self.text_of(&self.targets[a.target as usize])
                    == other.text_of(&other.targets[b.target as usize])
        };
        let same_target = |t: &TargetInfo| {
            let (ws, project) = self.text_of(t);
            other.target_id(ws, project).is_some_and(|id| {
                let o = &other.targets[id as usize];
                (o.known, o.active) == (t.known, t.active)
            })
        };
        self.live == other.live
            && self.requests == other.requests
            && self.targets.len() == other.targets.len()
            // One key per distinct text hash: a stale key would make the counts differ.
            && self.target_ids.len() == other.target_ids.len()
            && self.targets.iter().all(same_target)
            && self.users.len() == other.users.len()
            && self.users.iter().all(|(user, span)| {
                other.users.get(user).is_some_and(|o| {
                    o.active == span.active
                        && o.len == span.len
                        && self.entries[span.range()].iter().zip(&other.entries[o.range()]).all(|(a, b)| same_entry(a, b))
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::ProjectRole;

    const NOW: i64 = 1_000_000;

    fn user(i: u64) -> UserId {
        UserId(uuid::Uuid::from_u64_pair(0xA, i))
    }

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    fn check_at(index: &CheckIndex, who: UserId, target: &Target, role: Role, now: Timestamp) -> Decision {
        index.check(who, target.workspace().as_str(), target.project().map(Slug::as_str), role, now)
    }

    /// The naive answer: scan every live binding, as the index did before it had arenas.
    fn naive(live: &[Binding], who: UserId, target: &Target, role: Role, now: i64) -> Vec<Via> {
        let mut via: Vec<Via> = live
            .iter()
            .filter(|b| b.user == who && &b.target == target && b.role.implies(role))
            .filter(|b| b.is_effective(Timestamp::from_micros(now)))
            .map(|b| Via { binding: b.id, role: b.role, source: b.source, expires_at: b.expires_at })
            .collect();
        via.sort_by(|a, b| micros(b.expires_at).cmp(&micros(a.expires_at)).then(a.binding.cmp(&b.binding)));
        via
    }

    /// Thousands of bindings added to users in interleaved order (spans move and the arena
    /// compacts many times), some ended and some extended along the way: every user's list
    /// and every check must match a plain scan of the live bindings.
    #[test]
    fn arena_moves_and_compactions_keep_every_answer() {
        let mut index = CheckIndex::default();
        let users = 40;
        let targets: Vec<Target> = (0..3)
            .map(|w| Target::Workspace(slug(&format!("ws-{w}"))))
            .chain((0..4).map(|p| Target::Project(slug(&format!("ws-{}", p % 3)), slug(&format!("p-{p}")))))
            .collect();
        for w in 0..3 {
            index.set_workspace(&slug(&format!("ws-{w}")), w != 2);
        }
        for p in 0..4 {
            index.add_project(&slug(&format!("ws-{}", p % 3)), &slug(&format!("p-{p}")));
        }
        for u in 0..users {
            index.set_user(user(u), u != 7);
        }
        let mut live: Vec<Binding> = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for k in 0..6000u64 {
            let r = next();
            if r % 7 == 0 && !live.is_empty() {
                let b = live.remove((r / 7) as usize % live.len());
                index.remove_binding(b.user, b.id);
                continue;
            }
            if r % 11 == 0 && !live.is_empty() {
                let at = (r / 11) as usize % live.len();
                let expires = (r % 3 != 0).then(|| Timestamp::from_micros(NOW - 50 + (r % 100) as i64));
                live[at].expires_at = expires;
                index.set_expiry(live[at].user, live[at].id, expires);
                continue;
            }
            let target = targets[(r >> 8) as usize % targets.len()].clone();
            let rank = (r >> 16) as usize % 3;
            let role = if target.is_project() {
                Role::Project([ProjectRole::Reader, ProjectRole::User, ProjectRole::Admin][rank])
            } else {
                Role::Workspace([WorkspaceRole::Member, WorkspaceRole::Manager, WorkspaceRole::Owner][rank])
            };
            let request = RequestId(uuid::Uuid::from_u64_pair(0xB, k));
            let source = match (r >> 24) % 4 {
                0 => BindingSource::Direct,
                1 => BindingSource::Grant,
                2 => BindingSource::Request(request),
                _ => BindingSource::Emergency(request),
            };
            let b = Binding {
                id: BindingId(uuid::Uuid::from_u64_pair(0xC, k)),
                user: user((r >> 32) % users),
                target,
                role,
                starts_at: Timestamp::from_micros(NOW - 100 + ((r >> 40) % 150) as i64),
                expires_at: ((r >> 48) % 2 == 0)
                    .then(|| Timestamp::from_micros(NOW - 50 + ((r >> 50) % 100) as i64)),
                source,
                created_by: None,
                reason: None,
            };
            index.add_binding(&b);
            live.push(b);
        }
        // The arena stays within about twice the live entries (plus one span's growth).
        assert!(
            index.entries.len() <= 2 * live.len() + 64,
            "{} slots for {}",
            index.entries.len(),
            live.len()
        );
        assert!(live.len() > 2000, "the test must keep enough bindings live: {}", live.len());
        for u in 0..users {
            let expected: Vec<BindingId> = live.iter().filter(|b| b.user == user(u)).map(|b| b.id).collect();
            assert_eq!(index.binding_ids_of(user(u)).collect::<Vec<_>>(), expected, "user {u}");
        }
        let (mut allowed, mut denied) = (0, 0);
        for u in 0..users {
            for target in &targets {
                for role in [
                    Role::Workspace(WorkspaceRole::Member),
                    Role::Workspace(WorkspaceRole::Owner),
                    Role::Project(ProjectRole::Reader),
                    Role::Project(ProjectRole::Admin),
                ] {
                    for now in [NOW - 60, NOW, NOW + 60] {
                        let d = check_at(&index, user(u), target, role, Timestamp::from_micros(now));
                        let via = naive(&live, user(u), target, role, now);
                        if u == 7 {
                            assert_eq!(d.reason, Some(DenyReason::UserDisabled));
                        } else if target.workspace().as_str() == "ws-2" {
                            assert_eq!(d.reason, Some(DenyReason::WorkspaceNotActive));
                        } else if via.is_empty() {
                            assert_eq!((d.allowed, d.reason), (false, Some(DenyReason::NoBinding)));
                            denied += 1;
                        } else {
                            assert_eq!(
                                (d.allowed, d.expires_at, &d.via[..]),
                                (true, via[0].expires_at, &via[..])
                            );
                            allowed += 1;
                        }
                    }
                }
            }
        }
        assert!(allowed > 100 && denied > 100, "both answers must occur: {allowed} allowed, {denied} denied");
        let unknown = Target::Project(slug("ws-0"), slug("p-9"));
        assert_eq!(
            check_at(
                &index,
                user(1),
                &unknown,
                Role::Project(ProjectRole::Reader),
                Timestamp::from_micros(NOW)
            )
            .reason,
            Some(DenyReason::UnknownTarget)
        );
        assert_eq!(
            check_at(
                &index,
                user(999),
                &targets[0],
                Role::Workspace(WorkspaceRole::Member),
                Timestamp::from_micros(NOW)
            )
            .reason,
            Some(DenyReason::UnknownTarget)
        );
    }

    /// Two texts that share a 64-bit key must both be found: the chain is walked and the text
    /// compared, never the key alone trusted.
    #[test]
    fn targets_with_the_same_key_are_told_apart_by_text() {
        let mut index = CheckIndex::default();
        index.set_workspace(&slug("alpha"), true);
        index.set_workspace(&slug("beta"), false);
        // Force a collision: chain "beta" behind "alpha" under alpha's key.
        let alpha = index.target_id("alpha", "").unwrap();
        let beta = index.target_id("beta", "").unwrap();
        index.target_ids.remove(&text_key("beta", ""));
        index.targets[alpha as usize].next = beta;
        index.target_ids.insert(text_key("beta", ""), alpha);
        assert_eq!(index.target_id("alpha", ""), Some(alpha));
        assert_eq!(index.target_id("beta", ""), Some(beta));
        assert_eq!(index.target_id("gamma", ""), None);
    }

    /// Speculative changes undone in reverse leave the index equal to what it was, while the
    /// arena moves and compacts under them: an ended binding returns to its place in its user's
    /// list with its request id, a user indexed by a binding's creation is forgotten, targets
    /// interned meanwhile are forgotten.
    #[test]
    fn undone_changes_leave_the_index_as_it_was() {
        let member = Role::Workspace(WorkspaceRole::Member);
        let binding = |k: u64, u: u64, target: Target| Binding {
            id: BindingId(uuid::Uuid::from_u64_pair(0xC, k)),
            user: user(u),
            role: if target.is_project() { Role::Project(ProjectRole::Reader) } else { member },
            target,
            starts_at: Timestamp::from_micros(NOW - 100),
            expires_at: k.is_multiple_of(3).then(|| Timestamp::from_micros(NOW + k as i64)),
            source: BindingSource::Request(RequestId(uuid::Uuid::from_u64_pair(0xB, k))),
            created_by: None,
            reason: None,
        };
        let ws0 = Target::Workspace(slug("ws-0"));
        let mut index = CheckIndex::default();
        index.set_workspace(&slug("ws-0"), true);
        for u in 0..8 {
            index.set_user(user(u), true);
        }
        let mut live = Vec::new();
        let mut k = 0;
        for round in 0..60u64 {
            // Real changes between the speculative ones, so spans move and the arena compacts.
            for _ in 0..25 {
                let b = binding(k, (k * 7 + round) % 8, ws0.clone());
                k += 1;
                index.add_binding(&b);
                live.push(b);
            }
            for _ in 0..10 {
                let b = live.remove((round as usize * 13) % live.len());
                index.remove_binding(b.user, b.id);
            }
            let before = index.clone();

            let b = live[(round as usize * 31) % live.len()].clone();
            let at = index.position_of(b.user, b.id).unwrap();
            index.remove_binding(b.user, b.id);
            assert!(index != before, "round {round}: ending a binding must show");
            index.insert_binding_at(&b, at);
            assert!(index == before, "round {round}: undoing an ending");

            let ws = slug(&format!("new-{round}"));
            let project = Target::Project(ws.clone(), slug("pr"));
            let stranger = user(100 + round);
            let mark = index.mark_target(&project);
            let was = index.user_active(stranger);
            index.set_workspace(&ws, true);
            index.add_project(&ws, &slug("pr"));
            let nb = binding(1_000_000 + round, 100 + round, project.clone());
            index.add_binding(&nb);
            // Indexed by the binding, not active: a different answer from an unknown user.
            assert_eq!(
                check_at(&index, stranger, &ws0, member, Timestamp::from_micros(NOW)).reason,
                Some(DenyReason::UserDisabled)
            );
            index.remove_binding(nb.user, nb.id);
            assert_eq!(was, None);
            index.restore_user(stranger, was);
            index.restore_target(mark);
            assert!(index == before, "round {round}: undoing a new workspace, project and user");
            assert_eq!(index.target_id(ws.as_str(), ""), None);
            assert_eq!(index.target_ids.len(), index.targets.len());
            assert_eq!(
                check_at(&index, stranger, &ws0, member, Timestamp::from_micros(NOW)).reason,
                Some(DenyReason::UnknownTarget)
            );

            let mark = index.mark_target(&ws0);
            index.set_workspace(&slug("ws-0"), false);
            assert!(index != before, "round {round}: disabling a workspace must show");
            index.restore_target(mark);
            assert!(index == before, "round {round}: undoing a workspace's disabling");
        }
        for u in 0..8 {
            let expected: Vec<BindingId> = live.iter().filter(|b| b.user == user(u)).map(|b| b.id).collect();
            assert_eq!(index.binding_ids_of(user(u)).collect::<Vec<_>>(), expected, "user {u}");
        }
        assert_eq!(index.requests.len(), live.len());
    }
}
