//! The compact index behind the authorization check, kept in step by `State::apply` like
//! everything else in `State`.
//!
//! Layout, chosen so that a check at a million bindings touches few cache lines, and those
//! independent of each other (see BENCHMARKS.md):
//! - Users sit in one map keyed by their UUID with the Fx hasher (the ids are random and chosen
//!   by the server, so a keyed hasher buys nothing). The map's value is the user's span in one
//!   shared arena, so a check touches the user's bucket and then one contiguous run, with no
//!   per-user heap allocation. The arena is two parallel vectors: the target id of each entry
//!   (4 bytes, so a typical user's targets share one cache line) and the rest of the entry
//!   (40 bytes: times, role, source, binding id), read only for an entry whose target matches.
//!   The rare request id (bindings from access requests) sits in a side map.
//! - Targets are interned to `u32`s, each in one 64-byte record that holds the first 40 bytes
//!   of its slug text and its workspace's flags. They are found through an open-addressed table
//!   of 8-byte slots (a fingerprint and the id) small enough to stay in cache, so finding a
//!   target costs one record read, and the text in the record proves the match: a hash alone is
//!   never trusted.

use std::ops::Range;

use rustc_hash::FxHashMap;

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

/// One binding, as the check reads it once its target matched (40 bytes). Its target id sits
/// in the parallel `Arena::targets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    starts: i64,
    /// `i64::MAX` for a binding that never ends.
    expires: i64,
    binding: BindingId,
    role: Role,
    source: SourceKind,
}

/// Target id of arena slots reserved for a user but not yet used: matches no interned target.
const NO_TARGET: u32 = u32::MAX;

/// Fills arena slots reserved for a user but not yet used; never read as a binding.
const VACANT: Entry = Entry {
    starts: 0,
    expires: 0,
    binding: BindingId(uuid::Uuid::nil()),
    role: Role::Workspace(WorkspaceRole::Member),
    source: SourceKind::Direct,
};

/// Every user's entries, back to back: two vectors of equal length, changed only together.
#[derive(Clone, Debug, Default)]
struct Arena {
    targets: Vec<u32>,
    entries: Vec<Entry>,
}

impl Arena {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn set(&mut self, slot: usize, target: u32, entry: Entry) {
        self.targets[slot] = target;
        self.entries[slot] = entry;
    }

    /// Makes room for `extra` more slots, growing by at least a quarter: at a million entries
    /// a doubling would leave up to 40 MB unused.
    fn reserve(&mut self, extra: usize) {
        if self.len() + extra > self.entries.capacity() {
            let more = extra.max(self.entries.capacity() / 4);
            self.entries.reserve_exact(more);
            self.targets.reserve_exact(more);
        }
    }

    fn extend_from_within(&mut self, range: Range<usize>) {
        self.targets.extend_from_within(range.clone());
        self.entries.extend_from_within(range);
    }

    /// Appends `n` vacant slots.
    fn push_vacant(&mut self, n: usize) {
        self.targets.resize(self.len() + n, NO_TARGET);
        self.entries.resize(self.len() + n, VACANT);
    }

    fn copy_within(&mut self, range: Range<usize>, dest: usize) {
        self.targets.copy_within(range.clone(), dest);
        self.entries.copy_within(range, dest);
    }

    fn heap_bytes(&self) -> usize {
        self.targets.capacity() * std::mem::size_of::<u32>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

/// A user's run of slots in the arena, and whether the user may act.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
    cap: u32,
    active: bool,
}

impl Span {
    fn range(self) -> Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// Bytes of a target's text (workspace slug, then project slug) kept in its record.
const HEAD: usize = 40;

/// An interned workspace or project: one cache line, everything a check reads of it.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct TargetInfo {
    /// The first `HEAD` bytes of the text, zero-padded.
    head: [u8; HEAD],
    /// `text_hash` of the text.
    hash: u64,
    /// Offset of the whole text in `CheckIndex::text`.
    text: u32,
    /// Its workspace's id (itself for a workspace).
    workspace: u32,
    ws_len: u8,
    /// 0 for a workspace (a slug has at least two characters).
    project_len: u8,
    /// Whether the workspace or project exists.
    known: bool,
    /// For a workspace: whether it is active.
    active: bool,
    /// Its workspace's `known` and `active`, copied here (and kept in step by
    /// `CheckIndex::set_flags`) so a check on a project reads one record.
    ws_known: bool,
    ws_active: bool,
}

/// A target's text as a check sees it: its slugs, their hash and the record's head.
struct TextKey<'a> {
    ws: &'a str,
    project: &'a str,
    hash: u64,
    head: [u8; HEAD],
}

impl<'a> TextKey<'a> {
    fn new(ws: &'a str, project: &'a str) -> Self {
        let mut head = [0u8; HEAD];
        let w = ws.len().min(HEAD);
        head[..w].copy_from_slice(&ws.as_bytes()[..w]);
        let p = project.len().min(HEAD - w);
        head[w..w + p].copy_from_slice(&project.as_bytes()[..p]);
        Self { ws, project, hash: text_hash(ws, project), head }
    }

    /// Whether `t` is this text: lengths and head compared in the record, and the rest of a
    /// long text in the arena.
    fn matches(&self, t: &TargetInfo, text: &str) -> bool {
        if t.hash != self.hash
            || usize::from(t.ws_len) != self.ws.len()
            || usize::from(t.project_len) != self.project.len()
            || t.head != self.head
        {
            return false;
        }
        let len = self.ws.len() + self.project.len();
        if len <= HEAD {
            return true;
        }
        let start = t.text as usize;
        let mid = start + self.ws.len();
        text.get(start..mid) == Some(self.ws) && text.get(mid..start + len) == Some(self.project)
    }
}

/// Fx-style hash of a target's slugs, eight bytes at a time, each slug's length mixed in so
/// the split between them counts, then spread so both the low bits (slot) and the high bits
/// (fingerprint) depend on every byte.
fn text_hash(ws: &str, project: &str) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = 0u64;
    for s in [ws, project] {
        h = (h.rotate_left(26) ^ s.len() as u64).wrapping_mul(K);
        for chunk in s.as_bytes().chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = (h.rotate_left(26) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// A slot of the target table: the high half of the hash, then the target id plus one
/// (0: empty).
fn slot_of_target(hash: u64, id: u32) -> u64 {
    (hash & 0xffff_ffff_0000_0000) | (u64::from(id) + 1)
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
    arena: Arena,
    /// Number of live entries; the arena is compacted when it exceeds twice this.
    live: usize,
    /// The request behind each binding from a request or an emergency request.
    requests: FxHashMap<BindingId, RequestId>,
    /// Open-addressed, linearly probed table of `slot_of_target` values, a power of two long
    /// and at most half full.
    slots: Vec<u64>,
    targets: Vec<TargetInfo>,
    /// Each workspace's projects, so its flags reach their records.
    projects: FxHashMap<u32, Vec<u32>>,
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
    /// The id of the target with this text.
    fn find(&self, key: &TextKey<'_>) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = key.hash as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == key.hash >> 32 {
                let id = (slot as u32).wrapping_sub(1);
                if key.matches(&self.targets[id as usize], &self.text) {
                    return Some(id);
                }
            }
            at = (at + 1) & mask;
        }
    }

    fn target_id(&self, ws: &str, project: &str) -> Option<u32> {
        self.find(&TextKey::new(ws, project))
    }

    /// Puts `id` (whose record holds its hash) into the first free slot of its probe run.
    fn place(&mut self, id: u32) {
        let hash = self.targets[id as usize].hash;
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot_of_target(hash, id);
    }

    /// Takes `id` out of the table, shifting later members of its run back so no probe run is
    /// broken (linear probing without tombstones).
    fn unplace(&mut self, id: u32) {
        let mask = self.slots.len() - 1;
        let home = |index: &Self, slot: u64| {
            index.targets[(slot as u32).wrapping_sub(1) as usize].hash as usize & mask
        };
        let mut hole = self.targets[id as usize].hash as usize & mask;
        while self.slots[hole] as u32 != id + 1 {
            hole = (hole + 1) & mask;
        }
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            // The member at `at` may fill the hole when the hole lies on its way from home.
            if at.wrapping_sub(home(self, slot)) & mask >= at.wrapping_sub(hole) & mask {
                self.slots[hole] = slot;
                hole = at;
            }
        }
        self.slots[hole] = 0;
    }

    fn intern(&mut self, target: &Target) -> u32 {
        let (ws, project) = slugs(target);
        let key = TextKey::new(ws, project);
        if let Some(id) = self.find(&key) {
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
        let (ws_known, ws_active) = workspace.map_or((false, false), |w| {
            let w = &self.targets[w as usize];
            (w.known, w.active)
        });
        self.targets.push(TargetInfo {
            head: key.head,
            hash: key.hash,
            text,
            workspace: workspace.unwrap_or(id),
            ws_len: len(ws),
            project_len: len(project),
            known: false,
            active: false,
            ws_known,
            ws_active,
        });
        if let Some(w) = workspace {
            self.projects.entry(w).or_default().push(id);
        }
        if self.targets.len() * 2 > self.slots.len() {
            self.slots = vec![0; (self.slots.len() * 2).max(16)];
            for earlier in 0..id {
                self.place(earlier);
            }
        }
        self.place(id);
        id
    }

    /// Sets a target's flags; a workspace's reach its projects' records.
    fn set_flags(&mut self, id: u32, known: bool, active: bool) {
        let t = &mut self.targets[id as usize];
        t.known = known;
        t.active = active;
        if t.workspace == id {
            t.ws_known = known;
            t.ws_active = active;
            for &p in self.projects.get(&id).map_or(&[][..], Vec::as_slice) {
                let p = &mut self.targets[p as usize];
                p.ws_known = known;
                p.ws_active = active;
            }
        }
    }

    /// A user exists, active or not.
    pub(crate) fn set_user(&mut self, user: UserId, active: bool) {
        self.users.entry(user).or_default().active = active;
    }

    /// A workspace exists with this activity.
    pub(crate) fn set_workspace(&mut self, ws: &Slug, active: bool) {
        let id = self.intern(&Target::Workspace(ws.clone()));
        self.set_flags(id, true, active);
    }

    /// A project exists.
    pub(crate) fn add_project(&mut self, ws: &Slug, project: &Slug) {
        let id = self.intern(&Target::Project(ws.clone(), project.clone()));
        let active = self.targets[id as usize].active;
        self.set_flags(id, true, active);
    }

    /// A binding starts counting (from its `starts_at`).
    pub(crate) fn add_binding(&mut self, b: &Binding) {
        let (target, entry) = self.entry_of(b);
        let mut span = self.users.get(&b.user).copied().unwrap_or_default();
        if span.len == span.cap {
            span = self.grow(b.user, span);
        }
        self.arena.set((span.start + span.len) as usize, target, entry);
        span.len += 1;
        self.live += 1;
        self.users.insert(b.user, span);
    }

    /// The target id and entry of a binding, its target interned and its request id noted.
    fn entry_of(&mut self, b: &Binding) -> (u32, Entry) {
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
        let entry = Entry {
            starts: b.starts_at.as_micros(),
            expires: micros(b.expires_at),
            binding: b.id,
            role: b.role,
            source,
        };
        (target, entry)
    }

    /// Makes room for one more entry in `user`'s span: in place when the span ends the arena,
    /// else by moving it to the end with half as much room again. Moves leave holes behind, so
    /// once the arena is more than twice the live entries it is compacted first; the arena stays
    /// within about twice the live entries and every entry is copied a constant number of times
    /// on average.
    fn grow(&mut self, user: UserId, mut span: Span) -> Span {
        if self.arena.len() > 64 && self.arena.len() > 2 * self.live {
            self.compact();
            span = self.users.get(&user).copied().unwrap_or_default();
            if span.len < span.cap {
                return span;
            }
        }
        let extra = (span.cap / 2).max(2);
        let at_end = (span.start + span.cap) as usize == self.arena.len();
        self.arena.reserve(if at_end { extra } else { span.cap + extra } as usize);
        if !at_end {
            let old = span.start as usize..(span.start + span.cap) as usize;
            span.start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
            self.arena.extend_from_within(old);
        }
        self.arena.push_vacant(extra as usize);
        span.cap += extra;
        span
    }

    /// Rewrites the arena with every span back to back, each with a quarter of its length
    /// to spare, so the next few bindings of a user need no move.
    fn compact(&mut self) {
        let size: usize = self.users.values().map(|s| (s.len + s.len / 4) as usize).sum();
        let mut arena = Arena {
            targets: Vec::with_capacity(size + size / 4),
            entries: Vec::with_capacity(size + size / 4),
        };
        for span in self.users.values_mut() {
            let start = u32::try_from(arena.len()).unwrap_or(u32::MAX);
            let cap = span.len + span.len / 4;
            arena.targets.extend_from_slice(&self.arena.targets[span.range()]);
            arena.entries.extend_from_slice(&self.arena.entries[span.range()]);
            arena.push_vacant((start + cap) as usize - arena.len());
            *span = Span { start, len: span.len, cap, active: span.active };
        }
        self.arena = arena;
    }

    fn slot_of(&self, user: UserId, id: BindingId) -> Option<(Span, usize)> {
        let span = *self.users.get(&user)?;
        let at = self.arena.entries[span.range()].iter().position(|e| e.binding == id)?;
        Some((span, span.start as usize + at))
    }

    /// A binding ended.
    pub(crate) fn remove_binding(&mut self, user: UserId, id: BindingId) {
        self.requests.remove(&id);
        if let Some((mut span, slot)) = self.slot_of(user, id) {
            // Keep the user's bindings in the order they were added (`State::bindings_of_user`).
            let end = (span.start + span.len) as usize;
            self.arena.copy_within(slot + 1..end, slot);
            span.len -= 1;
            self.live -= 1;
            self.users.insert(user, span);
        }
    }

    /// A binding's expiry moved.
    pub(crate) fn set_expiry(&mut self, user: UserId, id: BindingId, expires_at: Option<Timestamp>) {
        if let Some((_, slot)) = self.slot_of(user, id) {
            self.arena.entries[slot].expires = micros(expires_at);
        }
    }

    /// The live bindings of a user, in the order they were added.
    pub(crate) fn binding_ids_of(&self, user: UserId) -> impl Iterator<Item = BindingId> + '_ {
        let entries = self.users.get(&user).map_or(&[][..], |span| &self.arena.entries[span.range()]);
        entries.iter().map(|e| e.binding)
    }

    /// Bytes the index holds on the heap: every vector's and map's capacity times its element
    /// size (maps as hashbrown lays them out). Allocator headers are not counted: the index
    /// makes a handful of large allocations, and one small one per workspace with projects.
    pub fn heap_bytes(&self) -> usize {
        map_bytes(&self.users)
            + self.arena.heap_bytes()
            + map_bytes(&self.requests)
            + self.slots.capacity() * std::mem::size_of::<u64>()
            + self.targets.capacity() * std::mem::size_of::<TargetInfo>()
            + map_bytes(&self.projects)
            + self.projects.values().map(|p| p.capacity() * std::mem::size_of::<u32>()).sum::<usize>()
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
    /// truncated after each new id is taken out of the slot table and its workspace's list).
    pub(crate) fn restore_target(&mut self, mark: TargetMark) {
        if let Some((id, known, active)) = mark.flags {
            self.set_flags(id, known, active);
        }
        // Newest first: a project is the last of its workspace's list when it is forgotten.
        for id in (mark.interned..self.targets.len()).rev() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            self.unplace(id);
            let workspace = self.targets[id as usize].workspace;
            if workspace != id {
                if let Some(list) = self.projects.get_mut(&workspace) {
                    list.pop();
                    if list.is_empty() {
                        self.projects.remove(&workspace);
                    }
                }
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
                    for e in &self.arena.entries[span.range()] {
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
        let (target, entry) = self.entry_of(b);
        let mut span = self.users.get(&b.user).copied().unwrap_or_default();
        if span.len == span.cap {
            span = self.grow(b.user, span);
        }
        let start = span.start as usize;
        let at = start + at.min(span.len as usize);
        let end = start + span.len as usize;
        self.arena.copy_within(at..end, at + 1);
        self.arena.set(at, target, entry);
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

    /// See `check::check`.
    pub(crate) fn check(&self, user: UserId, target: &Target, role: Role, now: Timestamp) -> Decision {
        let deny =
            |reason| Decision { allowed: false, expires_at: None, via: ViaList::new(), reason: Some(reason) };
        // The user and the target are looked up independently, so their reads overlap.
        let span = self.users.get(&user).copied();
        let (ws, project) = slugs(target);
        let tid = self.find(&TextKey::new(ws, project));
        let Some(span) = span else { return deny(DenyReason::UnknownTarget) };
        if !span.active {
            return deny(DenyReason::UserDisabled);
        }
        let Some(tid) = tid else { return deny(DenyReason::UnknownTarget) };
        let t = &self.targets[tid as usize];
        if !t.known || !t.ws_known {
            return deny(DenyReason::UnknownTarget);
        }
        if !t.ws_active {
            return deny(DenyReason::WorkspaceNotActive);
        }
        let now = now.as_micros();
        let counts = |e: &Entry| e.starts <= now && now < e.expires && e.role.implies(role);
        let range = span.range();
        let (targets, entries) = (&self.arena.targets[range.clone()], &self.arena.entries[range]);
        let matching = targets.iter().zip(entries).filter(|(t, e)| **t == tid && counts(e));
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
        for (_, e) in matching {
            via.push(via_of(e));
        }
        if via.is_empty() {
            return deny(DenyReason::NoBinding);
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
/// text), the same request ids, and the same targets (by text, with their own and their
/// workspace's flags). Where spans sit in the arena and how much room they have spare is not
/// compared: it depends on the order of past moves and compactions, which an undo need not
/// retrace.
impl PartialEq for CheckIndex {
    fn eq(&self, other: &Self) -> bool {
        fn text_of_id(index: &CheckIndex, id: u32) -> Option<(&str, &str)> {
            index.targets.get(id as usize).map(|t| index.text_of(t))
        }
        fn slots_of(index: &CheckIndex, span: Span) -> impl Iterator<Item = (&Entry, &u32)> {
            index.arena.entries[span.range()].iter().zip(&index.arena.targets[span.range()])
        }
        let same_slot = |(a, ta): (&Entry, &u32), (b, tb): (&Entry, &u32)| {
            (a.starts, a.expires, a.binding, a.role, a.source)
                == (b.starts, b.expires, b.binding, b.role, b.source)
                && text_of_id(self, *ta) == text_of_id(other, *tb)
        };
        let same_target = |t: &TargetInfo| {
            let (ws, project) = self.text_of(t);
            other.target_id(ws, project).is_some_and(|id| {
                let o = &other.targets[id as usize];
                (o.known, o.active, o.ws_known, o.ws_active) == (t.known, t.active, t.ws_known, t.ws_active)
            })
        };
        // Every target in exactly one slot: a stale slot would make the counts differ.
        let placed = |index: &Self| index.slots.iter().filter(|s| **s != 0).count();
        self.live == other.live
            && self.requests == other.requests
            && self.targets.len() == other.targets.len()
            && placed(self) == self.targets.len()
            && placed(other) == other.targets.len()
            && self.targets.iter().all(same_target)
            && self.users.len() == other.users.len()
            && self.users.iter().all(|(user, span)| {
                other.users.get(user).is_some_and(|o| {
                    o.active == span.active
                        && o.len == span.len
                        && slots_of(self, *span).zip(slots_of(other, *o)).all(|(a, b)| same_slot(a, b))
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
        assert!(index.arena.len() <= 2 * live.len() + 64, "{} slots for {}", index.arena.len(), live.len());
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
                        let d = index.check(user(u), target, role, Timestamp::from_micros(now));
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
            index
                .check(user(1), &unknown, Role::Project(ProjectRole::Reader), Timestamp::from_micros(NOW))
                .reason,
            Some(DenyReason::UnknownTarget)
        );
        assert_eq!(
            index
                .check(
                    user(999),
                    &targets[0],
                    Role::Workspace(WorkspaceRole::Member),
                    Timestamp::from_micros(NOW)
                )
                .reason,
            Some(DenyReason::UnknownTarget)
        );
    }

    /// Two texts that share a whole 64-bit hash must both be found: the probe run is walked
    /// and the text compared, never the hash alone trusted; taking one out keeps the other.
    #[test]
    fn targets_with_the_same_hash_are_told_apart_by_text() {
        let mut index = CheckIndex::default();
        index.set_workspace(&slug("alpha"), true);
        index.set_workspace(&slug("beta"), false);
        let alpha = index.target_id("alpha", "").unwrap();
        let beta = index.target_id("beta", "").unwrap();
        let hash = index.targets[alpha as usize].hash;
        index.targets[beta as usize].hash = hash;
        index.slots.fill(0);
        index.place(alpha);
        index.place(beta);
        let key = |text: &'static str| {
            let mut key = TextKey::new(text, "");
            key.hash = hash;
            key
        };
        assert_eq!(index.find(&key("alpha")), Some(alpha));
        assert_eq!(index.find(&key("beta")), Some(beta));
        assert_eq!(index.find(&key("gamma")), None);
        index.unplace(alpha);
        assert_eq!(index.find(&key("alpha")), None);
        assert_eq!(index.find(&key("beta")), Some(beta));
    }

    /// Thousands of targets, some longer than the record's head and equal to each other
    /// through it, some differing only in where the workspace slug ends: each is found as
    /// itself after the table grows, and after forgetting the newer half (slots shifted back)
    /// the older half still is and the newer is not.
    #[test]
    fn targets_are_found_by_their_whole_text() {
        let long = "w".repeat(45);
        let texts: Vec<(String, String)> = (0..3000)
            .map(|i| match i % 4 {
                0 => (format!("ws-{i}"), String::new()),
                1 => (format!("ws-{}", i - 1), format!("p-{i}")),
                2 => (long.clone(), format!("p{i}x")),
                _ => (format!("{long}-{i}"), "ab".to_string()),
            })
            .collect();
        let target = |(ws, p): &(String, String)| {
            if p.is_empty() {
                Target::Workspace(slug(ws))
            } else {
                Target::Project(slug(ws), slug(p))
            }
        };
        let mut index = CheckIndex::default();
        let mut mark = None;
        for (i, t) in texts.iter().enumerate() {
            if i == 1500 {
                mark = Some(index.mark_target(&target(t)));
            }
            index.intern(&target(t));
        }
        let ids: Vec<u32> = texts.iter().map(|(ws, p)| index.target_id(ws, p).expect("interned")).collect();
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), texts.len());
        for ((ws, p), id) in texts.iter().zip(&ids) {
            assert_eq!(index.text_of(&index.targets[*id as usize]), (ws.as_str(), p.as_str()));
        }
        // "ws-1" + "2x" and "ws-12" + "x" are different targets with the same bytes.
        assert_eq!(index.target_id("ws-", "0"), None);
        let interned = index.targets.len();
        index.restore_target(mark.expect("marked"));
        assert!(index.targets.len() < interned);
        assert_eq!(index.slots.iter().filter(|s| **s != 0).count(), index.targets.len());
        for ((ws, p), id) in texts.iter().zip(&ids) {
            let expected = ((*id as usize) < index.targets.len()).then_some(*id);
            assert_eq!(index.target_id(ws, p), expected, "{ws}/{p}");
        }
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
                index.check(stranger, &ws0, member, Timestamp::from_micros(NOW)).reason,
                Some(DenyReason::UserDisabled)
            );
            index.remove_binding(nb.user, nb.id);
            assert_eq!(was, None);
            index.restore_user(stranger, was);
            index.restore_target(mark);
            assert!(index == before, "round {round}: undoing a new workspace, project and user");
            assert_eq!(index.target_id(ws.as_str(), ""), None);
            assert_eq!(index.slots.iter().filter(|s| **s != 0).count(), index.targets.len());
            assert_eq!(
                index.check(stranger, &ws0, member, Timestamp::from_micros(NOW)).reason,
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
