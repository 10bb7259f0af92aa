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
use breakglass_core::access::ReviewOutcome;
use breakglass_core::audit::{self, AuditEvent, ChainHead, StoredEvent};
use breakglass_core::ident::{Slug, TokenId, UserId};
use breakglass_core::model::PasswordHash;
use breakglass_core::role::Role;
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Change, Changes, State};
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres, QueryBuilder};
use uuid::Uuid;

mod load;

use crate::codec::{self, missing, tags_json, unencodable, uuid_text};
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
        apply(conn, change, now).await?;
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

/// Applies one change at the commit time `now` (microseconds). Users, tokens and bindings are
/// inserted, then only their end/revocation columns set (and a live binding's expiry);
/// workspaces and projects are inserted, then their mutable columns updated (never their
/// identifiers); policies, entitlements, requests, reviews, the settings, invitations, tag
/// definitions and messages are upserted whole. Only tag definitions are ever deleted.
/// Platforms and tenants are inserted only; service users are inserted, then only their
/// deletion columns set (the row stays).
///
/// A change to a row that must exist and does not (an update, an extension, a deletion) fails
/// the commit with `Corrupt`: the model and the database disagree.
async fn apply(conn: &mut PgConnection, change: &Change, now: i64) -> Result<(), StoreError> {
    match change {
        Change::CreateUser { user, password_hash } => {
            let id = uuid_text(user.id.0);
            sqlx::query(
                "INSERT INTO users (id, email, name, admin_role, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(user.email.as_str())
            .bind(user.name.as_str())
            .bind(user.admin_role.as_str())
            .bind(user.status.as_str())
            .bind(user.created_at.as_micros())
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                duplicate(e, |column| match column {
                    "email" => format!("user e-mail '{}'", user.email),
                    _ => format!("user id {id}"),
                })
            })?;
            if let Some(hash) = password_hash {
                sqlx::query("INSERT INTO passwords (user_id, hash) VALUES ($1, $2)")
                    .bind(&id)
                    .bind(&hash.0)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Change::CreateToken(t) => {
            sqlx::query(
                "INSERT INTO tokens (id, user_id, kind, name, secret_hash, created_at, expires_at, \
                 scope, read_only, access_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(uuid_text(t.id.0))
            .bind(uuid_text(t.user.0))
            .bind(t.kind.as_str())
            .bind(t.name.as_str())
            .bind(&t.secret_hash.0[..])
            .bind(t.created_at.as_micros())
            .bind(t.expires_at.map(Timestamp::as_micros))
            .bind(t.scope.as_ref().map(Slug::as_str))
            .bind(t.read_only)
            .bind(t.access.map(|a| uuid_text(a.0)))
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                duplicate(e, |column| match column {
                    "secret_hash" => "token secret".to_owned(),
                    _ => format!("token id {}", t.id),
                })
            })?;
        }
        Change::RevokeToken { id, at } => {
            let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at.as_micros())
                .bind(uuid_text(id.0))
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                tracing::warn!(token = %id, "revoked a token that was missing or already revoked");
            }
        }
        Change::CreateWorkspace(ws) => {
            sqlx::query(
                "INSERT INTO workspaces (id, name, status, project_quota, tags, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ws.id.as_str())
            .bind(ws.name.as_str())
            .bind(ws.status.as_str())
            .bind(i64::from(ws.project_quota))
            .bind(tags_json(&ws.tags, "workspaces", &ws.id)?)
            .bind(ws.created_at.as_micros())
            .execute(&mut *conn)
            .await
            .map_err(|e| duplicate(e, |_| format!("workspace '{}'", ws.id)))?;
        }
        Change::UpdateWorkspace(ws) => {
            let done = sqlx::query(
                "UPDATE workspaces SET name = $1, status = $2, project_quota = $3, tags = $4 WHERE id = $5",
            )
            .bind(ws.name.as_str())
            .bind(ws.status.as_str())
            .bind(i64::from(ws.project_quota))
            .bind(tags_json(&ws.tags, "workspaces", &ws.id)?)
            .bind(ws.id.as_str())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(missing("workspaces", &ws.id, "update", "workspace with this identifier"));
            }
        }
        Change::CreateProject { project, quota } => {
            // Counted inside the transaction, under the write lock: two creations decided on
            // the same state cannot both pass.
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE workspace_id = $1")
                .bind(project.workspace.as_str())
                .fetch_one(&mut *conn)
                .await?;
            if count >= i64::from(*quota) {
                return Err(StoreError::QuotaExceeded { workspace: project.workspace.to_string() });
            }
            let key = format!("{}/{}", project.workspace, project.id);
            sqlx::query(
                "INSERT INTO projects (workspace_id, id, name, tags, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(project.workspace.as_str())
            .bind(project.id.as_str())
            .bind(project.name.as_str())
            .bind(tags_json(&project.tags, "projects", &key)?)
            .bind(project.created_at.as_micros())
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                duplicate(e, |_| format!("project '{}' in workspace '{}'", project.id, project.workspace))
            })?;
        }
        Change::UpdateProject(project) => {
            let key = format!("{}/{}", project.workspace, project.id);
            let done =
                sqlx::query("UPDATE projects SET name = $1, tags = $2 WHERE workspace_id = $3 AND id = $4")
                    .bind(project.name.as_str())
                    .bind(tags_json(&project.tags, "projects", &key)?)
                    .bind(project.workspace.as_str())
                    .bind(project.id.as_str())
                    .execute(&mut *conn)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(missing("projects", &key, "update", "project with this identifier"));
            }
        }
        Change::CreateBinding(b) => {
            sqlx::query(
                "INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at, \
                 expires_at, source, created_by, reason, source_request_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(uuid_text(b.id.0))
            .bind(uuid_text(b.user.0))
            .bind(b.target.workspace().as_str())
            .bind(b.target.project().map(Slug::as_str))
            .bind(b.role.as_str())
            .bind(b.starts_at.as_micros())
            .bind(b.expires_at.map(Timestamp::as_micros))
            .bind(b.source.as_str())
            .bind(b.created_by.map(|u| uuid_text(u.0)))
            .bind(b.reason.as_deref())
            .bind(b.source.request().map(|r| uuid_text(r.0)))
            .execute(&mut *conn)
            .await
            .map_err(|e| duplicate(e, |_| format!("binding id {}", b.id)))?;
        }
        Change::EndBinding { id, at, reason, by } => {
            let done = sqlx::query(
                "UPDATE bindings SET ended_at = $1, end_reason = $2, ended_by = $3 \
                 WHERE id = $4 AND ended_at IS NULL",
            )
            .bind(at.as_micros())
            .bind(reason.as_str())
            .bind(by.map(|u| uuid_text(u.0)))
            .bind(uuid_text(id.0))
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                tracing::warn!(binding = %id, "ended a binding that was missing or already ended");
            }
        }
        Change::ExtendBinding { id, expires_at } => {
            let done = sqlx::query("UPDATE bindings SET expires_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(expires_at.map(Timestamp::as_micros))
                .bind(uuid_text(id.0))
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(missing("bindings", id, "extend", "live binding with this id"));
            }
        }
        Change::PutPolicy(p) => {
            sqlx::query(
                "INSERT INTO policies (id, workspace_id, name, body, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, \
                 name = excluded.name, body = excluded.body, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at",
            )
            .bind(uuid_text(p.id.0))
            .bind(p.workspace.as_ref().map(Slug::as_str))
            .bind(p.name.as_str())
            .bind(serde_json::to_string(p).map_err(|e| unencodable("policies", p.id, e))?)
            .bind(p.created_at.as_micros())
            .bind(p.updated_at.as_micros())
            .execute(&mut *conn)
            .await?;
        }
        Change::PutEntitlement(e) => {
            sqlx::query(
                "INSERT INTO entitlements (workspace_id, project_id, role, request_policy_id, \
                 emergency_enabled, emergency_policy_id, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (workspace_id, (COALESCE(project_id, '')), role) DO UPDATE SET \
                 request_policy_id = excluded.request_policy_id, \
                 emergency_enabled = excluded.emergency_enabled, \
                 emergency_policy_id = excluded.emergency_policy_id, updated_at = excluded.updated_at",
            )
            .bind(e.target.workspace().as_str())
            .bind(e.target.project().map(Slug::as_str))
            .bind(e.role.as_str())
            .bind(e.request_policy.map(|p| uuid_text(p.0)))
            .bind(e.emergency_enabled)
            .bind(e.emergency_policy.map(|p| uuid_text(p.0)))
            .bind(e.updated_at.as_micros())
            .execute(&mut *conn)
            .await?;
        }
        Change::PutRequest(r) => {
            sqlx::query(
                "INSERT INTO requests (id, user_id, created_by, workspace_id, project_id, role, \
                 duration, justification, emergency, policy, state, approvals, created_at, lapses_at, \
                 escalated_at, decided_at, decided_by, deny_reason, binding_id, requested_via) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20) \
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
                 created_by = excluded.created_by, workspace_id = excluded.workspace_id, \
                 project_id = excluded.project_id, role = excluded.role, duration = excluded.duration, \
                 justification = excluded.justification, emergency = excluded.emergency, \
                 policy = excluded.policy, state = excluded.state, approvals = excluded.approvals, \
                 created_at = excluded.created_at, lapses_at = excluded.lapses_at, \
                 escalated_at = excluded.escalated_at, decided_at = excluded.decided_at, \
                 decided_by = excluded.decided_by, deny_reason = excluded.deny_reason, \
                 binding_id = excluded.binding_id, requested_via = excluded.requested_via",
            )
            .bind(uuid_text(r.id.0))
            .bind(uuid_text(r.user.0))
            .bind(uuid_text(r.created_by.0))
            .bind(r.target.workspace().as_str())
            .bind(r.target.project().map(Slug::as_str))
            .bind(r.role.as_str())
            .bind(r.duration.map(Span::as_micros))
            .bind(r.justification.as_deref())
            .bind(r.emergency)
            .bind(serde_json::to_string(&r.policy).map_err(|e| unencodable("requests", r.id, e))?)
            .bind(r.state.as_str())
            .bind(serde_json::to_string(&r.approvals).map_err(|e| unencodable("requests", r.id, e))?)
            .bind(r.created_at.as_micros())
            .bind(r.lapses_at.as_micros())
            .bind(r.escalated_at.map(Timestamp::as_micros))
            .bind(r.decided_at.map(Timestamp::as_micros))
            .bind(r.decided_by.map(|u| uuid_text(u.0)))
            .bind(r.deny_reason.as_deref())
            .bind(r.binding.map(|b| uuid_text(b.0)))
            .bind(r.requested_via.map(|u| uuid_text(u.0)))
            .execute(&mut *conn)
            .await?;
        }
        Change::PutAccess(a) => {
            sqlx::query(
                "INSERT INTO accesses (id, owner_id, name, kind, scope, created_at, expires_at, \
                 revoked_at, revoked_by, recipients, token_id, read_only) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, name = excluded.name, \
                 kind = excluded.kind, scope = excluded.scope, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, \
                 revoked_by = excluded.revoked_by, recipients = excluded.recipients, \
                 token_id = excluded.token_id, read_only = excluded.read_only",
            )
            .bind(uuid_text(a.id.0))
            .bind(uuid_text(a.owner.0))
            .bind(a.name.as_str())
            .bind(a.kind.as_str())
            .bind(a.scope.as_ref().map(Slug::as_str))
            .bind(a.created_at.as_micros())
            .bind(a.expires_at.map(Timestamp::as_micros))
            .bind(a.revoked_at.map(Timestamp::as_micros))
            .bind(a.revoked_by.map(|u| uuid_text(u.0)))
            .bind(codec::encode_recipients(&a.recipients).map_err(|e| unencodable("accesses", a.id, e))?)
            .bind(a.token.map(|t| uuid_text(t.0)))
            .bind(a.read_only)
            .execute(&mut *conn)
            .await?;
        }
        Change::PutReview(r) => {
            sqlx::query(
                "INSERT INTO reviews (id, request_id, binding_id, holder, workspace_id, project_id, \
                 role, opened_at, outcome, notes, completed_by, completed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (id) DO UPDATE SET request_id = excluded.request_id, \
                 binding_id = excluded.binding_id, holder = excluded.holder, \
                 workspace_id = excluded.workspace_id, project_id = excluded.project_id, \
                 role = excluded.role, opened_at = excluded.opened_at, outcome = excluded.outcome, \
                 notes = excluded.notes, completed_by = excluded.completed_by, \
                 completed_at = excluded.completed_at",
            )
            .bind(uuid_text(r.id.0))
            .bind(uuid_text(r.request.0))
            .bind(uuid_text(r.binding.0))
            .bind(uuid_text(r.holder.0))
            .bind(r.target.workspace().as_str())
            .bind(r.target.project().map(Slug::as_str))
            .bind(r.role.as_str())
            .bind(r.opened_at.as_micros())
            .bind(r.outcome.map(ReviewOutcome::as_str))
            .bind(r.notes.as_deref())
            .bind(r.completed_by.map(|u| uuid_text(u.0)))
            .bind(r.completed_at.map(Timestamp::as_micros))
            .execute(&mut *conn)
            .await?;
        }
        Change::PutSettings(settings) => {
            sqlx::query(
                "INSERT INTO settings (id, body, updated_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(serde_json::to_string(settings).map_err(|e| unencodable("settings", 1, e))?)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Change::PutInvitation(i) => {
            sqlx::query(
                "INSERT INTO invitations (id, workspace_id, email, role, membership_expires_at, \
                 invited_by, created_at, expires_at, state, decided_at, token_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, \
                 email = excluded.email, role = excluded.role, \
                 membership_expires_at = excluded.membership_expires_at, \
                 invited_by = excluded.invited_by, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at, state = excluded.state, \
                 decided_at = excluded.decided_at, token_hash = excluded.token_hash",
            )
            .bind(uuid_text(i.id.0))
            .bind(i.workspace.as_str())
            .bind(i.email.as_str())
            .bind(Role::Workspace(i.role).as_str())
            .bind(i.membership_expires_at.map(Timestamp::as_micros))
            .bind(uuid_text(i.invited_by.0))
            .bind(i.created_at.as_micros())
            .bind(i.expires_at.as_micros())
            .bind(i.state.as_str())
            .bind(i.decided_at.map(Timestamp::as_micros))
            .bind(&i.token_hash.0[..])
            .execute(&mut *conn)
            .await?;
        }
        Change::PutTagDefinition(t) => {
            sqlx::query(
                "INSERT INTO tag_definitions (key, body, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET body = excluded.body, created_at = excluded.created_at",
            )
            .bind(t.key.as_str())
            .bind(serde_json::to_string(t).map_err(|e| unencodable("tag_definitions", &t.key, e))?)
            .bind(t.created_at.as_micros())
            .execute(&mut *conn)
            .await?;
        }
        Change::DeleteTagDefinition(key) => {
            let done = sqlx::query("DELETE FROM tag_definitions WHERE key = $1")
                .bind(key.as_str())
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(missing("tag_definitions", key, "delete", "tag definition with this key"));
            }
        }
        Change::PutMessage(m) => {
            sqlx::query(
                "INSERT INTO messages (id, workspace_id, text, mode, sender, created_at, acks) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, \
                 text = excluded.text, mode = excluded.mode, sender = excluded.sender, \
                 created_at = excluded.created_at, acks = excluded.acks",
            )
            .bind(uuid_text(m.id.0))
            .bind(m.workspace.as_str())
            .bind(&m.text)
            .bind(m.mode.as_str())
            .bind(uuid_text(m.sender.0))
            .bind(m.created_at.as_micros())
            .bind(serde_json::to_string(&m.acks).map_err(|e| unencodable("messages", m.id, e))?)
            .execute(&mut *conn)
            .await?;
        }
        Change::CreatePlatform(p) => {
            sqlx::query(
                "INSERT INTO platforms (id, kind, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(p.id.as_str())
            .bind(p.kind.as_str())
            .bind(p.name.as_str())
            .bind(p.created_by.map(|u| uuid_text(u.0)))
            .bind(p.created_at.as_micros())
            .execute(&mut *conn)
            .await
            .map_err(|e| duplicate(e, |_| format!("platform '{}'", p.id)))?;
        }
        Change::CreateTenant(t) => {
            sqlx::query(
                "INSERT INTO tenants (workspace_id, project_id, platform_id, external_id, created_by, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(t.workspace.as_str())
            .bind(t.project.as_str())
            .bind(t.platform.as_str())
            .bind(t.external_id.as_str())
            .bind(t.created_by.map(|u| uuid_text(u.0)))
            .bind(t.created_at.as_micros())
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                duplicate(e, |column| match column {
                    "external_id" => format!("external id '{}' on platform '{}'", t.external_id, t.platform),
                    _ => format!("tenant of '{}/{}' on platform '{}'", t.workspace, t.project, t.platform),
                })
            })?;
        }
        Change::CreateServiceUser(u) => {
            sqlx::query(
                "INSERT INTO service_users (id, workspace_id, project_id, platform_id, name, client_id, \
                 secret_hash, created_by, created_at, deleted_at, deleted_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(uuid_text(u.id.0))
            .bind(u.workspace.as_str())
            .bind(u.project.as_str())
            .bind(u.platform.as_str())
            .bind(u.name.as_str())
            .bind(&u.client_id)
            .bind(&u.secret_hash.0[..])
            .bind(uuid_text(u.created_by.0))
            .bind(u.created_at.as_micros())
            .bind(u.deleted_at.map(Timestamp::as_micros))
            .bind(u.deleted_by.map(|b| uuid_text(b.0)))
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                duplicate(e, |column| match column {
                    "client_id" => format!("service user client id '{}'", u.client_id),
                    "secret_hash" => "service user secret".to_owned(),
                    _ => format!("service user id {}", u.id),
                })
            })?;
        }
        Change::DeleteServiceUser { id, at, by } => {
            let done = sqlx::query(
                "UPDATE service_users SET deleted_at = $1, deleted_by = $2 WHERE id = $3 AND deleted_at IS NULL",
            )
            .bind(at.as_micros())
            .bind(by.map(|u| uuid_text(u.0)))
            .bind(uuid_text(id.0))
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                tracing::warn!(service_user = %id, "deleted a service user that was missing or already deleted");
            }
        }
    }
    Ok(())
}

/// Turns a unique-key violation into `Duplicate` naming the key that exists, as `describe`
/// words it from the column that collided: the last column of the violated constraint's key,
/// as SQLite names it. The constraints have PostgreSQL's default names (`<table>_<columns>_key`,
/// `<table>_pkey`), which do not depend on the server's language as its messages do. The
/// message may quote the values, so it is never passed on.
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
