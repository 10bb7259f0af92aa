//! PostgreSQL implementation of [`Store`]: one database shared by several stateless server
//! processes (replicas), each with a pool of connections.
//!
//! Writers serialise on a transaction-scoped advisory lock ([`COMMIT_LOCK`]). Every commit
//! opens a READ COMMITTED transaction, takes the lock, and only then reads the chain head: each
//! statement sees everything committed before it began, so the head, the project count behind
//! the quota and the writes are one atomic step against every other process, and a writer that
//! decided on a stale model is refused with `HeadMoved` (two approvals of one request on two
//! replicas: one grant). The lock is released when the transaction ends, however it ends.
//! Reads need no lock: `load_state` reads every table and the head in one REPEATABLE READ
//! snapshot, and single queries are consistent on their own.
//!
//! Migrations take another advisory lock ([`MIGRATE_LOCK`]), so replicas starting together
//! apply each version once. The advisory locks are per database, so several installations (or
//! test databases) on one server do not contend.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use breakglass_core::audit::{self, AuditEvent, ChainHead, StoredEvent};
use breakglass_core::ident::{TokenId, UserId};
use breakglass_core::model::PasswordHash;
use breakglass_core::time::Timestamp;
use breakglass_core::{Changes, State};
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres, QueryBuilder};
use uuid::Uuid;

mod load;

use crate::codec::{self, uuid_text};
use crate::migrate::{self, POSTGRES_MIGRATIONS};
use crate::{check_base, wall_clock_micros, AuditFilter, CommittedChanges, Store, StoreError};

/// Connections per store. Reads are short (the hot path is in memory) and writes queue on the
/// commit lock anyway, so a few suffice; start-up holds one for the whole load.
const POOL_SIZE: u32 = 8;
/// How long a caller waits for a free connection before the store reports an error. When the
/// database is gone, this is how long every call takes to say so (the pool keeps trying to
/// connect until then): short, so that writes fail and `/healthz` says `stale` within a second.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// The advisory lock every commit holds from before it reads the head until it ends, and
/// every record of token use too (so that it never waits on a token row a commit holds while
/// the commit waits on one it holds). The value is arbitrary ("bgcommit"), fixed forever:
/// processes of every version must agree on it.
const COMMIT_LOCK: i64 = 0x6267_636f_6d6d_6974;
/// The advisory lock a migration step holds ("bgmigrat").
const MIGRATE_LOCK: i64 = 0x6267_6d69_6772_6174;

/// The transaction of a commit. READ COMMITTED whatever the server's default, so that the
/// statements after the lock see what the previous holder committed.
const WRITE_TX: &str = "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE";
/// The transaction of a full load: one snapshot for every table and the head.
const LOAD_TX: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

const AUDIT_COLUMNS: &str = "SELECT seq, time, type, actor, on_behalf_of, workspace, project, \
                             subject, details, prev_hash, hash FROM audit_events";

/// A PostgreSQL database (15 or later): the store for running several replicas.
///
/// Cloning is cheap and shares the pool. `connect` does not migrate: call [`Store::migrate`]
/// before anything else.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Says nothing of the URL, which may carry a password.
impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("connections", &self.pool.size()).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// `postgres:///database?host=/run/postgresql` for a local socket), failing at once when
    /// it cannot be reached. This build speaks no TLS: `sslmode=require` is refused, so reach
    /// the server over a local socket or a network you trust.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    /// Closes every connection. Call it on shutdown; the store is unusable afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs arbitrary SQL (several statements may be separated by `;`) and returns the number
    /// of rows changed.
    ///
    /// Only for tests, which must show that the database itself (not this code) refuses to
    /// rewrite the audit log; nothing else may bypass [`Store::commit`].
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match conn.execute(sql).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(e) => {
                // A statement failing after an explicit BEGIN leaves that transaction open and
                // aborted: end it before the connection goes back to the pool. (Without one,
                // PostgreSQL only warns.)
                let _ = conn.execute("ROLLBACK").await;
                Err(e.into())
            }
        }
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        loop {
            let mut tx = self.pool.begin_with(WRITE_TX).await?;
            // Another replica may be migrating the same database: each step is planned and
            // applied under the lock, so each version is applied exactly once.
            lock(&mut tx, MIGRATE_LOCK).await?;
            let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('schema_migrations')::text")
                .fetch_one(&mut *tx)
                .await?;
            if exists.is_none() {
                tx.execute(
                    "CREATE TABLE schema_migrations (
                         version    BIGINT PRIMARY KEY,
                         name       TEXT NOT NULL,
                         applied_at BIGINT NOT NULL
                     )",
                )
                .await?;
            }
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
                    .fetch_all(&mut *tx)
                    .await?;
            let pending = migrate::plan(POSTGRES_MIGRATIONS, &applied).map_err(migrate_error)?;
            let Some(m) = pending.first() else {
                tx.commit().await?;
                return Ok(());
            };
            // A statement string without arguments goes over the simple query protocol, which
            // runs several statements (and the `$$` bodies of functions) in one go.
            tx.execute(m.sql)
                .await
                .map_err(|e| migrate_error(sqlx::migrate::MigrateError::ExecuteMigration(e, m.version)))?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(wall_clock_micros())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "applied PostgreSQL migration");
        }
    }

    async fn load_state(&self, now: Timestamp) -> Result<State, StoreError> {
        let mut state = State::new();
        // One snapshot: every table and the head agree even while other replicas commit.
        let mut tx = self.pool.begin_with(LOAD_TX).await?;
        load::live_records(&mut tx, &mut state, now).await?;
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
        // As with SQLite: a future dropped while COMMIT is under way may still have committed,
        // so callers must not cancel a commit whose outcome they apply to their model.
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        match write_group(&mut tx, base_seq, group).await {
            // COMMIT checks the deferred references; when it refuses, the transaction is over.
            Ok(heads) => {
                tx.commit().await?;
                Ok(heads)
            }
            Err(e) => {
                // At once rather than when the connection is next used: it frees the lock.
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    async fn head(&self) -> Result<ChainHead, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_head(&mut conn).await
    }

    async fn password_hash(&self, user: UserId) -> Result<Option<PasswordHash>, StoreError> {
        let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM passwords WHERE user_id = $1")
            .bind(uuid_text(user.0))
            .fetch_optional(&self.pool)
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
        crate::apply::take_lease(&self.pool, name, holder, now.as_micros(), until.as_micros()).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        crate::apply::release_lease(&self.pool, name, holder).await
    }

    async fn record_token_use(&self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        // One row per token, the latest use: an UPDATE joining several rows to one token would
        // take any of them.
        let mut latest: BTreeMap<Uuid, i64> = BTreeMap::new();
        for (id, at) in uses {
            let t = latest.entry(id.0).or_insert(at.as_micros());
            *t = (*t).max(at.as_micros());
        }
        let (ids, times): (Vec<String>, Vec<i64>) =
            latest.into_iter().map(|(id, t)| (uuid_text(id), t)).unzip();
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        lock(&mut tx, COMMIT_LOCK).await?;
        sqlx::query(
            "UPDATE tokens AS t SET last_used_at = GREATEST(t.last_used_at, u.at) \
             FROM UNNEST($1::text[], $2::bigint[]) AS u (id, at) WHERE t.id = u.id",
        )
        .bind(ids)
        .bind(times)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn changes_after(&self, after_seq: i64, limit: u32) -> Result<Vec<CommittedChanges>, StoreError> {
        let rows: Vec<(i64, i64, Vec<u8>, String)> = sqlx::query_as(
            "SELECT c.seq, c.base_seq, a.hash, c.changes FROM change_log c \
             JOIN audit_events a ON a.seq = c.seq WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(seq, base, hash, changes)| crate::committed_changes(seq, base, &hash, &changes))
            .collect()
    }

    async fn change_log_head(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM change_log").fetch_one(&self.pool).await?;
        Ok(seq.unwrap_or(0))
    }

    async fn token_last_used(&self, tokens: &[TokenId]) -> Result<Vec<(TokenId, Timestamp)>, StoreError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = tokens.iter().map(|t| uuid_text(t.0)).collect();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, last_used_at FROM tokens WHERE last_used_at IS NOT NULL AND id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, at)| {
                let id = Uuid::parse_str(&id)
                    .map_err(|e| StoreError::Corrupt(format!("tokens '{id}': bad id: {e}")))?;
                Ok((TokenId(id), Timestamp::from_micros(at)))
            })
            .collect()
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(AUDIT_COLUMNS);
        q.push(" WHERE TRUE");
        if let Some(ws) = &filter.workspace {
            q.push(" AND workspace = ").push_bind(ws);
        }
        if let Some(p) = &filter.project {
            q.push(" AND project = ").push_bind(p);
        }
        if !filter.types.is_empty() {
            q.push(" AND type = ANY(").push_bind(&filter.types).push(")");
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
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(|r| codec::event(r)).collect()
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(&format!("{AUDIT_COLUMNS} WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| codec::event(r)).collect()
    }

    async fn stored_events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!("{AUDIT_COLUMNS} WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| codec::stored_event(r)).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Waits for the transaction-scoped advisory lock `key`, held until the transaction ends.
async fn lock(conn: &mut PgConnection, key: i64) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(conn).await?;
    Ok(())
}

/// The body of a group commit, inside the caller's READ COMMITTED transaction: the lock once,
/// then each outcome after the previous one's head.
async fn write_group(
    conn: &mut PgConnection,
    base_seq: i64,
    group: &[Changes],
) -> Result<Vec<ChainHead>, StoreError> {
    lock(conn, COMMIT_LOCK).await?;
    let mut head = read_head(conn).await?;
    check_base(base_seq, head)?;
    let mut heads = Vec::with_capacity(group.len());
    for changes in group {
        if !changes.is_empty() {
            head = write(conn, head, changes).await?;
        }
        heads.push(head);
    }
    Ok(heads)
}

/// One outcome of a commit, after `head` (read under the commit lock).
async fn write(
    conn: &mut PgConnection,
    mut head: ChainHead,
    changes: &Changes,
) -> Result<ChainHead, StoreError> {
    let base_seq = head.seq;
    // When the commit happened, for the rows that record it but whose record carries no time
    // of its own (the settings): its first event's time, which the core took from its clock.
    let now = changes.events.first().map_or_else(wall_clock_micros, |e| e.time.as_micros());
    for change in &changes.changes {
        crate::apply::apply::<Postgres>(conn, change, now).await?;
    }
    for event in &changes.events {
        let e = audit::seal(head, event);
        sqlx::query(
            "INSERT INTO audit_events (seq, time, type, actor, on_behalf_of, workspace, project, \
             subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
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
        .bind(&e.hash[..])
        .execute(&mut *conn)
        .await?;
        head = ChainHead { seq: e.seq, hash: e.hash };
    }
    let logged = serde_json::to_string(&changes.changes)
        .map_err(|e| StoreError::Corrupt(format!("change log: cannot encode a change as JSON: {e}")))?;
    sqlx::query("INSERT INTO change_log (seq, base_seq, changes) VALUES ($1, $2, $3)")
        .bind(head.seq)
        .bind(base_seq)
        .bind(logged)
        .execute(&mut *conn)
        .await?;
    Ok(head)
}

/// Turns a unique-key violation into `Duplicate` naming the key that exists, as `describe`
/// words it from the column that collided: the last column of the violated constraint's key,
/// as SQLite names it. The constraints have PostgreSQL's default names (`<table>_<columns>_key`,
/// `<table>_pkey`), which do not depend on the server's language as its messages do. The
/// message may quote the values, so it is never passed on.
impl crate::apply::Backend for Postgres {
    fn duplicate(e: sqlx::Error, describe: impl FnOnce(&str) -> String) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
                let constraint = db.constraint().unwrap_or("");
                tracing::debug!(constraint, "unique key violated");
                let column = match constraint {
                    "users_email_key" => "email",
                    "tokens_secret_hash_key" | "service_users_secret_hash_key" => "secret_hash",
                    "service_users_client_id_key" => "client_id",
                    "tenants_platform_id_external_id_key" => "external_id",
                    // Primary keys.
                    _ => "",
                };
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

async fn read_head(conn: &mut PgConnection) -> Result<ChainHead, StoreError> {
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
