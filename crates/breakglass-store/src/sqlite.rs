//! SQLite implementation of [`Store`]: one database file in WAL mode, written through a single
//! connection and read through a small pool.
//!
//! SQLite admits one writer at a time whatever the pool size, so a writer pool of exactly one
//! connection turns contention between tasks into a queue in the pool instead of `SQLITE_BUSY`
//! retries. Every commit opens with `BEGIN IMMEDIATE`, which takes the write lock before the head
//! is read, so the head check, the quota check and the writes are one atomic step even against
//! another process holding the same file (that one waits up to the busy timeout). Readers never
//! block the writer in WAL mode, and each read transaction sees one consistent snapshot.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use breakglass_core::access::{AccessRequest, Review};
use breakglass_core::audit::{self, AuditEvent, ChainHead, StoredEvent};
use breakglass_core::ident::{TokenId, UserId};
use breakglass_core::model::PasswordHash;
use breakglass_core::time::Timestamp;
use breakglass_core::{Change, Changes, State};
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Executor, QueryBuilder, Sqlite};
use uuid::Uuid;

mod load;
mod verify;

use crate::codec::{self, uuid_text};
use crate::migrate::{self, SQLITE_MIGRATIONS};
use crate::{check_base, wall_clock_micros, AuditFilter, ChainCheck, CommittedChanges, Store, StoreError};

/// How long a connection waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read connections of a file-backed store. Reads are short (the hot path is in memory), so a
/// few suffice; start-up takes one for the whole load.
const READERS: u32 = 4;

const AUDIT_COLUMNS: &str = "SELECT seq, time, type, actor, on_behalf_of, workspace, project, \
                             subject, details, prev_hash, hash FROM audit_events";

/// A page of the chain as one value: a JSON array holding each event's columns as an array
/// (the digests in hex, since JSON holds no bytes). The driver copies every column of every
/// row between two threads, which costs several times what SQLite spends reading it, so the
/// verification read fetches a page in one row; JSON keeps each text exactly, NULs included.
const STORED_PAGE: &str =
    "SELECT json_group_array(json_array(seq, time, type, actor, on_behalf_of, workspace, \
                           project, subject, details, hex(prev_hash), hex(hash)) ORDER BY seq) \
                           FROM (SELECT * FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2)";

/// A SQLite database in WAL mode: the embedded default store.
///
/// Cloning is cheap and shares the connections. `open` does not migrate: call
/// [`Store::migrate`] before anything else.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it.
    writer: SqlitePool,
    /// Read-only (`query_only`) connections; the same pool as `writer` for an in-memory store.
    reader: SqlitePool,
    /// The database file (none in memory), which `verify_chain` reads through connections of
    /// its own.
    path: Option<Arc<Path>>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directories) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let base = SqliteConnectOptions::new().filename(path).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        // WAL lets readers proceed during a write; FULL syncs the WAL on every commit, so an
        // acknowledged commit survives a power loss, not only a process crash.
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        // Connected first, so the file exists and is in WAL mode before any reader opens it.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .connect_with(writer_options)
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(base.pragma("query_only", "ON"))
            .await?;
        Ok(Self { writer, reader, path: Some(path.into()) })
    }

    /// A private in-memory database, for tests: every call gets its own.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        // `sqlite::memory:` names a fresh database per options value. It lives as long as a
        // connection to it is open, so the pool keeps its single connection forever; one
        // connection also sidesteps shared-cache table locks between a reader and the writer.
        let options =
            SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Ok(Self { writer: pool.clone(), reader: pool, path: None })
    }

    /// Closes every connection, checkpointing the WAL into the database file. Call it on
    /// shutdown; the store is unusable afterwards.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Runs arbitrary SQL on the writer connection and returns the number of rows changed.
    ///
    /// Only for tests, which must show that the database itself (not this code) refuses to
    /// rewrite the audit log; nothing else may bypass [`Store::commit`].
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(self.writer.execute(sql).await?.rows_affected())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.writer
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    INTEGER PRIMARY KEY,
                     name       TEXT NOT NULL,
                     applied_at INTEGER NOT NULL
                 )",
            )
            .await?;
        loop {
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            // Re-planned under the write lock each time: another process may be migrating the
            // same file, and each version must be applied exactly once.
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
                    .fetch_all(&mut *tx)
                    .await?;
            let pending = migrate::plan(SQLITE_MIGRATIONS, &applied).map_err(migrate_error)?;
            let Some(m) = pending.first() else {
                tx.commit().await?;
                return Ok(());
            };
            // A plain string runs as several statements in SQLite; `sqlx::raw_sql` would too, but
            // its future is not provably `Send` inside `async_trait`.
            tx.execute(m.sql)
                .await
                .map_err(|e| migrate_error(sqlx::migrate::MigrateError::ExecuteMigration(e, m.version)))?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)")
                .bind(m.version)
                .bind(m.name)
                .bind(wall_clock_micros())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "applied SQLite migration");
        }
    }

    async fn load_state(&self, now: Timestamp) -> Result<State, StoreError> {
        let mut state = State::new();
        // One read transaction: every table and the head come from the same snapshot, so the
        // model matches its head exactly even while commits go on.
        let mut tx = self.reader.begin().await?;
        load::live_records(&mut tx, &mut state, now, load::PAGE).await?;
        let head = read_head(&mut tx).await?;
        tx.commit().await?;
        state.set_head(head);
        Ok(state)
    }

    async fn commit(&self, base_seq: i64, changes: &Changes) -> Result<ChainHead, StoreError> {
        if changes.is_empty() {
            let head = self.head().await?;
            check_base(base_seq, head)?;
            return Ok(head);
        }
        let heads = self.commit_group(base_seq, std::slice::from_ref(changes)).await?;
        heads.last().copied().ok_or_else(|| StoreError::Corrupt("a commit reached no head".into()))
    }

    async fn commit_group(&self, base_seq: i64, group: &[Changes]) -> Result<Vec<ChainHead>, StoreError> {
        // Dropping `tx` (an error below, or the caller dropping this future) rolls back. A
        // future dropped while COMMIT is under way may still have committed, so callers must
        // not cancel a commit whose outcome they apply to their model.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let heads = write_group(&mut tx, base_seq, group).await?;
        // COMMIT itself checks the deferred foreign keys (schema version 2 on). When it refuses,
        // SQLite keeps the transaction open; `tx`, still open, rolls it back as it drops.
        tx.commit().await?;
        Ok(heads)
    }

    async fn head(&self) -> Result<ChainHead, StoreError> {
        let mut conn = self.reader.acquire().await?;
        read_head(&mut conn).await
    }

    async fn password_hash(&self, user: UserId) -> Result<Option<PasswordHash>, StoreError> {
        let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM passwords WHERE user_id = ?1")
            .bind(uuid_text(user.0))
            .fetch_optional(&self.reader)
            .await?;
        Ok(hash.map(PasswordHash))
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        crate::apply::take_lease(&self.writer, name, holder, now.as_micros(), until.as_micros()).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        crate::apply::release_lease(&self.writer, name, holder).await
    }

    async fn record_token_use(&self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for (id, at) in uses {
            sqlx::query("UPDATE tokens SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2")
                .bind(at.as_micros())
                .bind(uuid_text(id.0))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn changes_after(&self, after_seq: i64, limit: u32) -> Result<Vec<CommittedChanges>, StoreError> {
        let rows: Vec<(i64, i64, Vec<u8>, String)> = sqlx::query_as(
            "SELECT c.seq, c.base_seq, a.hash, c.changes FROM change_log c \
             JOIN audit_events a ON a.seq = c.seq WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(seq, base, hash, changes)| crate::committed_changes(seq, base, &hash, &changes))
            .collect()
    }

    async fn change_log_head(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM change_log").fetch_one(&self.reader).await?;
        Ok(seq.unwrap_or(0))
    }

    async fn token_last_used(&self, tokens: &[TokenId]) -> Result<Vec<(TokenId, Timestamp)>, StoreError> {
        let mut out = Vec::new();
        for chunk in tokens.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT id, last_used_at FROM tokens WHERE last_used_at IS NOT NULL AND id IN (",
            );
            let mut list = q.separated(", ");
            for t in chunk {
                list.push_bind(uuid_text(t.0));
            }
            q.push(")");
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&self.reader).await?;
            for (id, at) in rows {
                let id = Uuid::from_str(&id)
                    .map_err(|e| StoreError::Corrupt(format!("tokens '{id}': bad id: {e}")))?;
                out.push((TokenId(id), Timestamp::from_micros(at)));
            }
        }
        Ok(out)
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(AUDIT_COLUMNS);
        q.push(" WHERE 1 = 1");
        if let Some(ws) = &filter.workspace {
            q.push(" AND workspace = ").push_bind(ws);
        }
        if let Some(p) = &filter.project {
            q.push(" AND project = ").push_bind(p);
        }
        if !filter.types.is_empty() {
            q.push(" AND type IN (");
            let mut list = q.separated(", ");
            for t in &filter.types {
                list.push_bind(t);
            }
            q.push(")");
        }
        if let Some(after) = filter.after_seq {
            q.push(" AND seq > ").push_bind(after);
        }
        if let Some(since) = filter.since {
            q.push(" AND time >= ").push_bind(since.as_micros());
        }
        if let Some(until) = filter.until {
            q.push(" AND time < ").push_bind(until.as_micros());
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(i64::from(filter.limit));
        let rows = q.build().fetch_all(&self.reader).await?;
        rows.iter().map(|r| codec::event(r)).collect()
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(&format!("{AUDIT_COLUMNS} WHERE seq > ?1 ORDER BY seq LIMIT ?2"))
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| codec::event(r)).collect()
    }

    async fn stored_events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let page =
            sqlx::query(STORED_PAGE).bind(after_seq).bind(i64::from(limit)).fetch_one(&self.reader).await?;
        let text: &str = sqlx::Row::try_get(&page, 0).map_err(|e| {
            StoreError::Corrupt(format!("audit_events after {after_seq}: unreadable page: {e}"))
        })?;
        codec::stored_events_json(after_seq, text)
    }

    /// On a file, through direct cursors on every thread (`sqlite/verify.rs`); in memory,
    /// where no other connection can open the database, through `stored_events_after`.
    async fn verify_chain(&self, end_seq: i64, threads: usize) -> Result<ChainCheck, StoreError> {
        let Some(path) = self.path.clone() else {
            return crate::verify_in_pages(self, end_seq, threads).await;
        };
        match tokio::task::spawn_blocking(move || verify::verify(&path, end_seq, threads)).await {
            Ok(checked) => checked,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(StoreError::Database(sqlx::Error::WorkerCrashed)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The body of a group commit, inside the caller's `BEGIN IMMEDIATE` transaction: each outcome
/// after the previous one's head.
///
/// The record changes are written in order, member after member, except the whole-row upserts of
/// requests and reviews: those are written after the others, only the last one of each record,
/// several records per `INSERT`, and so are the group's audit events and change-log entries.
/// Each statement is a round trip to the connection's thread, and a grant would otherwise pay
/// eight of them. The rows that result are the same: the references to and from requests and
/// reviews are checked at `COMMIT` (except `requested_via`, a user: users are written before and
/// never deleted), no other statement reads those tables, and only the primary key is unique.
async fn write_group(
    conn: &mut SqliteConnection,
    base_seq: i64,
    group: &[Changes],
) -> Result<Vec<ChainHead>, StoreError> {
    let mut head = read_head(conn).await?;
    check_base(base_seq, head)?;
    let (mut requests, mut reviews) = (LastPut::default(), LastPut::default());
    let mut heads = Vec::with_capacity(group.len());
    let mut events = Vec::with_capacity(group.iter().map(|c| c.events.len()).sum());
    let mut log = Vec::with_capacity(group.len());
    for changes in group {
        if !changes.is_empty() {
            let base_seq = head.seq;
            // When the commit happened, for the rows that record it but whose record carries no
            // time of its own (the settings): its first event's time, which the core took from
            // its clock.
            let now = changes.events.first().map_or_else(wall_clock_micros, |e| e.time.as_micros());
            for change in &changes.changes {
                match change {
                    Change::PutRequest(r) => requests.put(r.id, r),
                    Change::PutReview(r) => reviews.put(r.id, r),
                    other => crate::apply::apply::<Sqlite>(conn, other, now).await?,
                }
            }
            for event in &changes.events {
                let e = audit::seal(head, event);
                head = ChainHead { seq: e.seq, hash: e.hash };
                events.push(e);
            }
            let logged = serde_json::to_string(&changes.changes).map_err(|e| {
                StoreError::Corrupt(format!("change log: cannot encode a change as JSON: {e}"))
            })?;
            log.push((head.seq, base_seq, logged));
        }
        heads.push(head);
    }
    write_rows(conn, Rows { requests: &requests.rows, reviews: &reviews.rows, events: &events, log: &log })
        .await?;
    Ok(heads)
}

/// The last whole-row upsert of each record of one kind in a group, in the order the records
/// first appear; earlier upserts of the same record need not be written.
struct LastPut<'a, K, V> {
    at: HashMap<K, usize>,
    rows: Vec<&'a V>,
}

impl<K, V> Default for LastPut<'_, K, V> {
    fn default() -> Self {
        Self { at: HashMap::new(), rows: Vec::new() }
    }
}

impl<'a, K: std::hash::Hash + Eq, V> LastPut<'a, K, V> {
    fn put(&mut self, key: K, row: &'a V) {
        match self.at.get(&key) {
            Some(&i) => self.rows[i] = row,
            None => {
                self.at.insert(key, self.rows.len());
                self.rows.push(row);
            }
        }
    }
}

/// Rows the group writes after its other changes, several per statement, all in one
/// multi-statement query: one round trip to the connection's thread.
#[derive(Clone, Copy)]
struct Rows<'a> {
    /// Whole requests to upsert, each at most once.
    requests: &'a [&'a AccessRequest],
    /// Whole reviews to upsert, each at most once.
    reviews: &'a [&'a Review],
    /// Sealed audit events, in chain order.
    events: &'a [AuditEvent],
    /// Change-log entries: (sequence reached, sequence decided on, the changes as JSON).
    log: &'a [(i64, i64, String)],
}

async fn write_rows(conn: &mut SqliteConnection, rows: Rows<'_>) -> Result<(), StoreError> {
    let mut sql = String::new();
    for run in chunks(rows.requests) {
        sql.push_str(crate::apply::REQUEST_INSERT);
        sql.push_str(&placeholders(20, run.len()));
        sql.push_str(crate::apply::REQUEST_UPDATE);
    }
    for run in chunks(rows.reviews) {
        sql.push_str(crate::apply::REVIEW_INSERT);
        sql.push_str(&placeholders(12, run.len()));
        sql.push_str(crate::apply::REVIEW_UPDATE);
    }
    for run in chunks(rows.events) {
        sql.push_str(&format!(
            "INSERT INTO audit_events (seq, time, type, actor, on_behalf_of, workspace, project, \
             subject, details, prev_hash, hash) VALUES {};\n",
            placeholders(11, run.len())
        ));
    }
    for run in chunks(rows.log) {
        sql.push_str(&format!(
            "INSERT INTO change_log (seq, base_seq, changes) VALUES {};\n",
            placeholders(3, run.len())
        ));
    }
    if sql.is_empty() {
        return Ok(());
    }
    // The parameters are anonymous: each statement takes the next ones, in the order above.
    let mut q = sqlx::query(&sql);
    for r in rows.requests {
        q = crate::apply::bind_request(q, r)?;
    }
    for r in rows.reviews {
        q = crate::apply::bind_review(q, r);
    }
    for e in rows.events {
        q = q
            .bind(e.seq)
            .bind(e.time.as_micros())
            .bind(&e.event_type)
            .bind(&e.actor)
            .bind(&e.on_behalf_of)
            .bind(&e.workspace)
            .bind(&e.project)
            .bind(&e.subject)
            .bind(e.details.to_string())
            .bind(&e.prev_hash[..])
            .bind(&e.hash[..]);
    }
    for (seq, base_seq, changes) in rows.log {
        q = q.bind(seq).bind(base_seq).bind(changes);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Most rows one multi-row `INSERT` carries.
const MAX_ROWS: usize = 32;

/// Splits `rows` into runs whose lengths are powers of two (at most [`MAX_ROWS`]), so that a
/// few statement shapes serve every group and stay in the connection's statement cache.
fn chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = 1 << rest.len().min(MAX_ROWS).ilog2();
        let (run, after) = rest.split_at(n);
        rest = after;
        Some(run)
    })
}

/// `(?, ?), (?, ?)` for `rows` rows of `columns` columns.
fn placeholders(columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Turns a unique-key violation into `Duplicate` naming the key that exists, as `describe`
/// words it from the column that collided (the part after the dot in SQLite's "UNIQUE
/// constraint failed: table.column"). The raw message names tables, so it is only logged.
impl crate::apply::Backend for Sqlite {
    fn duplicate(e: sqlx::Error, describe: impl FnOnce(&str) -> String) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
                let message = db.message();
                tracing::debug!(%message, "unique key violated");
                let column = message.rsplit_once('.').map_or("", |(_, c)| c);
                StoreError::Duplicate(describe(column))
            }
            _ => StoreError::Database(e),
        }
    }
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Database(sqlx::Error::Migrate(Box::new(e)))
}

// ---------------------------------------------------------------------------------------------
// Reading

async fn read_head(conn: &mut SqliteConnection) -> Result<ChainHead, StoreError> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(conn)
            .await?;
    match row {
        None => Ok(ChainHead::default()),
        Some((seq, hash)) => {
            let hash = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("audit_events {seq}: column hash: not 32 bytes")))?;
            Ok(ChainHead { seq, hash })
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use breakglass_core::ident::Slug;

    /// The settings durability and integrity depend on are in force on the connections.
    #[tokio::test]
    async fn connections_are_durable_and_readers_cannot_write() {
        let dir = std::env::temp_dir().join(format!("breakglass-store-pragmas-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open(&dir.join("a").join("b.db")).await.unwrap();
        store.migrate().await.unwrap();

        let pragma = |pool: &SqlitePool, name: &str| {
            let pool = pool.clone();
            let sql = format!("PRAGMA {name}");
            async move {
                let row = sqlx::query(&sql).fetch_one(&pool).await.unwrap();
                row.try_get::<String, _>(0).unwrap_or_else(|_| row.get::<i64, _>(0).to_string())
            }
        };
        assert_eq!(pragma(&store.writer, "journal_mode").await, "wal");
        assert_eq!(pragma(&store.writer, "synchronous").await, "2", "FULL");
        assert_eq!(pragma(&store.writer, "foreign_keys").await, "1");
        assert_eq!(pragma(&store.writer, "busy_timeout").await, "5000");
        assert_eq!(pragma(&store.reader, "journal_mode").await, "wal");
        assert_eq!(pragma(&store.reader, "query_only").await, "1");
        assert_eq!(pragma(&store.reader, "foreign_keys").await, "1");
        let write = sqlx::query(
            "INSERT INTO workspaces (id, name, status, project_quota, created_at) \
             VALUES ('ws', 'W', 'active', 1, 0)",
        )
        .execute(&store.reader)
        .await;
        assert!(
            matches!(&write, Err(sqlx::Error::Database(e)) if e.message().contains("readonly")),
            "a reader connection accepted a write: {write:?}"
        );

        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A database written by version 1 takes version 2 with its rows, which read back as before.
    #[tokio::test]
    async fn a_version_1_database_upgrades_with_its_rows() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        let v1 = &SQLITE_MIGRATIONS[0];
        assert_eq!(v1.version, 1);
        store
            .execute_raw(&format!(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                                 applied_at INTEGER NOT NULL);
                 {}
                 INSERT INTO schema_migrations VALUES (1, 'init', 0);
                 INSERT INTO users (id, email, name, admin_role, status, created_at)
                 VALUES ('00000000-0000-4000-8000-000000000001', 'a@example.com', 'A', 'none', 'active', 0);
                 INSERT INTO workspaces VALUES ('ws-a', 'A', 'active', 10, 0);
                 INSERT INTO bindings (id, user_id, workspace_id, role, starts_at, source)
                 VALUES ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-000000000001',
                         'ws-a', 'member', 0, 'grant');",
                v1.sql
            ))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&store.reader)
            .await
            .unwrap();
        assert_eq!(versions, SQLITE_MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
        let state = store.load_state(Timestamp::from_micros(0)).await.unwrap();
        assert_eq!(state.binding_count(), 1);
        let b = state
            .bindings_on(&breakglass_core::model::Target::Workspace(Slug::parse("ws-a").unwrap()))
            .next();
        assert_eq!(b.unwrap().source, breakglass_core::model::BindingSource::Grant);
    }

    /// A database written by version 2, with rows in the tables version 3 alters and in those
    /// it leaves alone, takes version 3 and loads: no tags, the default settings, and nothing
    /// of the admin area yet. Then it takes the new changes. Run on a file too, where the
    /// migration commits to disk.
    #[tokio::test]
    async fn a_version_2_database_upgrades_with_its_rows() {
        use breakglass_core::access::Policy;
        use breakglass_core::model::{Project, Target, Workspace, WorkspaceStatus};
        use breakglass_core::org::{Settings, TagKey};
        use breakglass_core::Changes;

        let dir = std::env::temp_dir().join(format!("breakglass-store-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for store in [
            SqliteStore::open_in_memory().await.unwrap(),
            SqliteStore::open(&dir.join("v2.db")).await.unwrap(),
        ] {
            let policy = Policy::installation_default();
            let body = serde_json::to_string(&policy).unwrap().replace('\'', "''");
            let user = "00000000-0000-4000-8000-000000000001";
            store
                .execute_raw(&format!(
                    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                                     applied_at INTEGER NOT NULL);
                     {}
                     {}
                     INSERT INTO schema_migrations VALUES (1, 'init', 0), (2, 'requests', 0);
                     INSERT INTO users (id, email, name, admin_role, status, created_at)
                     VALUES ('{user}', 'a@example.com', 'A', 'none', 'active', 0);
                     INSERT INTO workspaces VALUES ('ws-a', 'A', 'disabled', 10, 0);
                     INSERT INTO projects VALUES ('ws-a', 'web', 'Web', 0);
                     INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at, source)
                     VALUES ('00000000-0000-4000-9000-000000000001', '{user}', 'ws-a', 'web', 'reader', 0,
                             'direct');
                     INSERT INTO policies VALUES ('{}', NULL, '{}', '{body}', 0, 0);",
                    SQLITE_MIGRATIONS[0].sql, SQLITE_MIGRATIONS[1].sql, policy.id, policy.name,
                ))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            let versions: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
                    .fetch_all(&store.reader)
                    .await
                    .unwrap();
            assert_eq!(versions, SQLITE_MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
            assert!(versions.contains(&3));

            let state = store.load_state(Timestamp::from_micros(0)).await.unwrap();
            let ws = slug("ws-a");
            let workspace = state.workspace(&ws).unwrap().clone();
            assert_eq!((workspace.status, workspace.tags.len()), (WorkspaceStatus::Disabled, 0));
            let project = state.project(&ws, &slug("web")).unwrap().clone();
            assert!(project.tags.is_empty());
            assert_eq!(state.binding_count(), 1);
            assert_eq!(state.policies(), vec![&policy]);
            assert_eq!(state.settings(), &Settings::default());
            assert_eq!(state.invitations().count() + state.messages().count(), 0);
            assert_eq!(state.tag_definitions().count(), 0);

            // The status column (never under a CHECK) takes the new status, the new columns tags.
            let tagged = |tags: &[(&str, &str)]| {
                tags.iter().map(|(k, v)| (TagKey::parse(k).unwrap(), (*v).to_owned())).collect()
            };
            let workspace = Workspace {
                status: WorkspaceStatus::Rejected,
                tags: tagged(&[("cost-center", "42")]),
                ..workspace
            };
            let project = Project { tags: tagged(&[("tier", "gold")]), ..project };
            let changes = Changes {
                changes: vec![
                    Change::UpdateWorkspace(workspace.clone()),
                    Change::UpdateProject(project.clone()),
                ],
                events: vec![],
            };
            store.commit(0, &changes).await.unwrap();
            let state = store.load_state(Timestamp::from_micros(0)).await.unwrap();
            assert_eq!(state.workspace(&ws), Some(&workspace));
            assert_eq!(state.project(&ws, &slug("web")), Some(&project));
            assert_eq!(
                state.bindings_on(&Target::Project(ws.clone(), slug("web"))).count(),
                1,
                "the binding still refers to its project"
            );
            let broken: Vec<(String, Option<i64>, String, i64)> =
                sqlx::query_as("PRAGMA foreign_key_check").fetch_all(&store.reader).await.unwrap();
            assert!(broken.is_empty(), "{broken:?}");
            store.close().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }
}
