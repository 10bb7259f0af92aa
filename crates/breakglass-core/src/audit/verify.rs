//! Verifying the chain: each stored event's contents checked (on any thread), then linked to
//! the one before it in sequence order, naming the first place where the chain does not hold.

use super::canonical::*;
use super::events::*;

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

/// The first place where the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    /// Sequence number of the first event that fails.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

pub(super) const CONTENT_MISMATCH: &str = "stored hash does not match the event's content";

/// Below this many events per thread, starting a thread costs more than it saves.
pub(super) const MIN_EVENTS_PER_THREAD: usize = 512;

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
    pub(super) fn link(
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
pub(super) fn check_contents(events: &[StoredEvent], threads: usize) -> Vec<CheckedEvent> {
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

pub(super) fn check_chunk(events: &[StoredEvent]) -> Vec<CheckedEvent> {
    let mut buf = Vec::with_capacity(512);
    events.iter().map(|e| CheckedEvent::check(&e.borrowed(), &mut buf)).collect()
}
