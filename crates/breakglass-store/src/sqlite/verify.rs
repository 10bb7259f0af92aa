//! `audit verify` on a SQLite file, read through direct cursors: `rusqlite` over the same
//! `libsqlite3-sys` that sqlx links, on read-only connections of their own.
//!
//! The sqlx driver copies every value of every row between two threads, which costs several
//! times what SQLite spends reading the row. Here each worker thread steps its rows itself and
//! checks each event's content with its texts borrowed from the row (nothing is allocated per
//! event). Workers take ranges of `seq` in turn (`seq > lo AND seq <= hi`, so no range needs
//! the one before it to know where it starts) and link each range's events among themselves
//! ([`CheckedRun`]: a sound range is sent back as its first event and its end); the caller
//! links the ranges in order with the core's [`ChainVerifier`], which names a missing,
//! renumbered or misplaced row exactly as a walk event by event does.
//!
//! The log is append-only and every event up to the end verified was committed before the
//! walk began, so connections reading different snapshots still read the same rows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex, PoisonError};

use breakglass_core::audit::{ChainVerifier, CheckedEvent, CheckedRun, StoredRef};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row, Statement};

use super::BUSY_TIMEOUT;
use crate::{ChainCheck, StoreError};

/// Most events read per range; small chains use smaller ranges so that every worker gets some.
const MAX_RANGE: i64 = 8_192;
/// How much of the database file a walk's connection maps into memory.
const MMAP_SIZE: i64 = 1 << 31;
/// How many ranges the workers may run ahead of the linking, to bound memory.
const AHEAD_PER_WORKER: usize = 4;

const RANGE: &str = "SELECT seq, time, type, actor, on_behalf_of, workspace, project, subject, \
                     details, prev_hash, hash FROM audit_events WHERE seq > ?1 AND seq <= ?2 \
                     ORDER BY seq";

/// A range's checked events, in order, and the error that stopped reading it, if one did
/// (after the events read before it).
struct Range {
    events: CheckedRun,
    error: Option<StoreError>,
}

/// Verifies every event with `0 < seq <= end_seq` of the database at `path` on up to `threads`
/// threads, as [`crate::Store::verify_chain`] says.
pub(super) fn verify(path: &Path, end_seq: i64, threads: usize) -> Result<ChainCheck, StoreError> {
    let end_seq = end_seq.max(0);
    let threads = i64::try_from(threads.max(1)).unwrap_or(1);
    let span = (end_seq / (threads * AHEAD_PER_WORKER as i64)).clamp(1, MAX_RANGE);
    let ranges = usize::try_from((end_seq + span - 1) / span).unwrap_or(usize::MAX);
    let workers = usize::try_from(threads).unwrap_or(1).min(ranges).max(1);
    let connections = (0..workers).map(|_| open(path)).collect::<Result<Vec<_>, _>>()?;

    let next = AtomicUsize::new(0);
    let window = Window::new(workers * AHEAD_PER_WORKER);
    let (tx, rx) = mpsc::channel::<(usize, Range)>();
    std::thread::scope(|scope| {
        for conn in connections {
            let (tx, next, window) = (tx.clone(), &next, &window);
            scope.spawn(move || {
                // A panic stops the others too, and the scope passes it on.
                let _stop = StopOnDrop(window);
                work(&conn, end_seq, span, ranges, next, window, &tx);
            });
        }
        drop(tx);

        let mut v = ChainVerifier::new();
        let mut arrived = BTreeMap::new();
        let mut wanted = 0;
        let mut outcome = Ok(None);
        while wanted < ranges {
            let Some(range) = arrived.remove(&wanted) else {
                match rx.recv() {
                    Ok((i, range)) => {
                        arrived.insert(i, range);
                        continue;
                    }
                    Err(_) => break, // every worker is gone: one panicked
                }
            };
            if let Err(b) = v.push_run(range.events) {
                outcome = Ok(Some(b));
                break;
            }
            if let Some(e) = range.error {
                outcome = Err(e);
                break;
            }
            wanted += 1;
            window.advance(wanted);
        }
        window.stop();
        let broken = outcome?.or_else(|| v.finish(end_seq).err());
        Ok(ChainCheck { head: v.head(), broken })
    })
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(driver)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(driver)?;
    // Pages are read from a mapping of the file instead of copied out of the kernel by `read`:
    // about a tenth of the CPU the walk spends. (SQLite caps the size at its compile-time
    // maximum, 2 GB; the rest of a larger file, and the WAL, are read as usual.)
    conn.pragma_update(None, "mmap_size", MMAP_SIZE).map_err(driver)?;
    Ok(conn)
}

/// A worker: takes the next range until none is left or the walk stops, reads it and sends it.
fn work(
    conn: &Connection,
    end_seq: i64,
    span: i64,
    ranges: usize,
    next: &AtomicUsize,
    window: &Window,
    tx: &mpsc::Sender<(usize, Range)>,
) {
    let mut stmt = conn.prepare(RANGE);
    let mut buf = Vec::with_capacity(512);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= ranges || !window.admit(i) {
            return;
        }
        let lo = i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(span);
        let hi = lo.saturating_add(span).min(end_seq);
        let range = match &mut stmt {
            Ok(stmt) => read(stmt, lo, hi, &mut buf),
            Err(e) => Range { events: CheckedRun::new(), error: Some(driver(e.to_string())) },
        };
        let failed = range.error.is_some();
        if tx.send((i, range)).is_err() || failed {
            return;
        }
    }
}

/// Reads and checks the events with `lo < seq <= hi`.
fn read(stmt: &mut Statement<'_>, lo: i64, hi: i64, buf: &mut Vec<u8>) -> Range {
    let mut events = CheckedRun::new();
    let mut step = || -> Result<(), StoreError> {
        let mut rows = stmt.query((lo, hi)).map_err(driver)?;
        while let Some(row) = rows.next().map_err(driver)? {
            events.push(CheckedEvent::check(&stored(row)?, buf));
        }
        Ok(())
    };
    let error = step().err();
    Range { events, error }
}

/// The event in `row`, borrowed; a value of the wrong type is corrupt data, as for the other
/// read paths. Digests are taken as bytes from a blob or a text alike (as SQLite's `hex` does).
fn stored<'r>(row: &'r Row<'_>) -> Result<StoredRef<'r>, StoreError> {
    let seq = row
        .get_ref(0)
        .map_err(driver)?
        .as_i64()
        .map_err(|e| StoreError::Corrupt(format!("audit_events: column seq: {e}")))?;
    let corrupt = |column: &str, why: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("audit_events {seq}: column {column}: {why}"))
    };
    let value = move |i: usize| row.get_ref(i).map_err(driver);
    let text = |i: usize, column: &str| value(i)?.as_str().map_err(|e| corrupt(column, &e));
    let optional = |i: usize, column: &str| value(i)?.as_str_or_null().map_err(|e| corrupt(column, &e));
    let digest = |i: usize, column: &str| -> Result<[u8; 32], StoreError> {
        match value(i)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => {
                b.try_into().map_err(|_| corrupt(column, &"not 32 bytes"))
            }
            _ => Err(corrupt(column, &"not 32 bytes")),
        }
    };
    Ok(StoredRef {
        seq,
        time: value(1)?.as_i64().map_err(|e| corrupt("time", &e))?,
        event_type: text(2, "type")?,
        actor: text(3, "actor")?,
        on_behalf_of: optional(4, "on_behalf_of")?,
        workspace: optional(5, "workspace")?,
        project: optional(6, "project")?,
        subject: optional(7, "subject")?,
        details: text(8, "details")?,
        prev_hash: digest(9, "prev_hash")?,
        hash: digest(10, "hash")?,
    })
}

/// A driver error, reported like sqlx's own.
fn driver(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(e)))
}

/// How far the workers may run ahead of the linking, and whether the walk stopped.
struct Window {
    /// Ranges linked so far; a worker may take range `i` once `i < linked + ahead`.
    linked: Mutex<(usize, bool)>,
    moved: Condvar,
    ahead: usize,
    stopped: AtomicBool,
}

impl Window {
    fn new(ahead: usize) -> Self {
        Self { linked: Mutex::new((0, false)), moved: Condvar::new(), ahead, stopped: AtomicBool::new(false) }
    }

    /// Waits until range `i` may be read; false when the walk stopped.
    fn admit(&self, i: usize) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let mut state = self.linked.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.1 && i >= state.0 + self.ahead {
            state = self.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        !state.1
    }

    fn advance(&self, linked: usize) {
        self.linked.lock().unwrap_or_else(PoisonError::into_inner).0 = linked;
        self.moved.notify_all();
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.linked.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.moved.notify_all();
    }
}

/// Stops the walk when a worker ends, normally or not: once every range is taken that changes
/// nothing, and after a panic it keeps the others from waiting for the range that never comes.
struct StopOnDrop<'a>(&'a Window);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}
