//! The one write path of both stores: each `Change` as the SQL that applies it, written once
//! with `$N` placeholders (which PostgreSQL takes, and the SQLite driver binds by number), and
//! run on either backend's connection inside the commit's transaction.

use breakglass_core::access::{AccessRequest, Review, ReviewOutcome};
use breakglass_core::ident::Slug;
use breakglass_core::role::Role;
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::Change;

use crate::codec::{self, missing, tags_json, unencodable, uuid_text};
use crate::StoreError;

/// Takes or renews the lease `name` for `holder` until `until`, unless another holder's lasts
/// beyond `now` (see `Store::take_lease`). True when `holder` holds it.
pub(crate) async fn take_lease<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<bool, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: Bind<'q, DB>,
    for<'q> i64: Bind<'q, DB>,
    DB::QueryResult: RowsAffected,
{
    let mut conn = pool.acquire().await?;
    let done = sqlx::query::<DB>(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected_by() == 1)
}

/// Gives up the lease `name` if `holder` holds it.
pub(crate) async fn release_lease<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    name: &str,
    holder: &str,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: Bind<'q, DB>,
{
    let mut conn = pool.acquire().await?;
    sqlx::query::<DB>("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A value a statement of this backend can bind.
pub(crate) trait Bind<'q, DB: sqlx::Database>:
    'q + sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send
{
}

impl<'q, DB: sqlx::Database, T: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send> Bind<'q, DB> for T {}

/// What differs between the two databases on the write path: how a unique key violation
/// names its column, and how many rows a statement touched.
pub(crate) trait Backend: sqlx::Database {
    /// A unique key violated, as a `Duplicate` naming what (`describe` gets the column, or ""
    /// for a primary key); any other error as it is.
    fn duplicate(e: sqlx::Error, describe: impl FnOnce(&str) -> String) -> StoreError;
}

/// How many rows a statement touched, on either backend.
pub(crate) trait RowsAffected {
    /// The count.
    fn rows_affected_by(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected_by(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected_by(&self) -> u64 {
        self.rows_affected()
    }
}

pub(crate) async fn apply<DB: Backend>(
    conn: &mut DB::Connection,
    change: &Change,
    now: i64,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: Bind<'q, DB>,
    for<'q> Option<&'q str>: Bind<'q, DB>,
    for<'q> String: Bind<'q, DB>,
    for<'q> &'q String: Bind<'q, DB>,
    for<'q> Option<String>: Bind<'q, DB>,
    for<'q> &'q [u8]: Bind<'q, DB>,
    for<'q> i64: Bind<'q, DB>,
    for<'q> Option<i64>: Bind<'q, DB>,
    for<'q> bool: Bind<'q, DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    DB::QueryResult: RowsAffected,
{
    match change {
        Change::CreateUser { user, password_hash } => {
            let id = uuid_text(user.id.0);
            sqlx::query::<DB>(
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
                DB::duplicate(e, |column| match column {
                    "email" => format!("user e-mail '{}'", user.email),
                    _ => format!("user id {id}"),
                })
            })?;
            if let Some(hash) = password_hash {
                sqlx::query::<DB>("INSERT INTO passwords (user_id, hash) VALUES ($1, $2)")
                    .bind(&id)
                    .bind(&hash.0)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Change::CreateToken(t) => {
            sqlx::query::<DB>(
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
                DB::duplicate(e, |column| match column {
                    "secret_hash" => "token secret".to_owned(),
                    _ => format!("token id {}", t.id),
                })
            })?;
        }
        Change::RevokeToken { id, at } => {
            let done =
                sqlx::query::<DB>("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(at.as_micros())
                    .bind(uuid_text(id.0))
                    .execute(&mut *conn)
                    .await?;
            if done.rows_affected_by() == 0 {
                tracing::warn!(token = %id, "revoked a token that was missing or already revoked");
            }
        }
        Change::CreateWorkspace(ws) => {
            sqlx::query::<DB>(
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
            .map_err(|e| DB::duplicate(e, |_| format!("workspace '{}'", ws.id)))?;
        }
        Change::UpdateWorkspace(ws) => {
            let done = sqlx::query::<DB>(
                "UPDATE workspaces SET name = $1, status = $2, project_quota = $3, tags = $4 WHERE id = $5",
            )
            .bind(ws.name.as_str())
            .bind(ws.status.as_str())
            .bind(i64::from(ws.project_quota))
            .bind(tags_json(&ws.tags, "workspaces", &ws.id)?)
            .bind(ws.id.as_str())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected_by() == 0 {
                return Err(missing("workspaces", &ws.id, "update", "workspace with this identifier"));
            }
        }
        Change::CreateProject { project, quota } => {
            // Counted inside the transaction, under the write lock: two creations decided on
            // the same state cannot both pass.
            let count: i64 =
                sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM projects WHERE workspace_id = $1")
                    .bind(project.workspace.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
            if count >= i64::from(*quota) {
                return Err(StoreError::QuotaExceeded { workspace: project.workspace.to_string() });
            }
            let key = format!("{}/{}", project.workspace, project.id);
            sqlx::query::<DB>(
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
                DB::duplicate(e, |_| format!("project '{}' in workspace '{}'", project.id, project.workspace))
            })?;
        }
        Change::UpdateProject(project) => {
            let key = format!("{}/{}", project.workspace, project.id);
            let done = sqlx::query::<DB>(
                "UPDATE projects SET name = $1, tags = $2 WHERE workspace_id = $3 AND id = $4",
            )
            .bind(project.name.as_str())
            .bind(tags_json(&project.tags, "projects", &key)?)
            .bind(project.workspace.as_str())
            .bind(project.id.as_str())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected_by() == 0 {
                return Err(missing("projects", &key, "update", "project with this identifier"));
            }
        }
        Change::CreateBinding(b) => {
            sqlx::query::<DB>(
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
            .map_err(|e| DB::duplicate(e, |_| format!("binding id {}", b.id)))?;
        }
        Change::EndBinding { id, at, reason, by } => {
            let done = sqlx::query::<DB>(
                "UPDATE bindings SET ended_at = $1, end_reason = $2, ended_by = $3 \
                 WHERE id = $4 AND ended_at IS NULL",
            )
            .bind(at.as_micros())
            .bind(reason.as_str())
            .bind(by.map(|u| uuid_text(u.0)))
            .bind(uuid_text(id.0))
            .execute(&mut *conn)
            .await?;
            if done.rows_affected_by() == 0 {
                tracing::warn!(binding = %id, "ended a binding that was missing or already ended");
            }
        }
        Change::ExtendBinding { id, expires_at } => {
            let done =
                sqlx::query::<DB>("UPDATE bindings SET expires_at = $1 WHERE id = $2 AND ended_at IS NULL")
                    .bind(expires_at.map(Timestamp::as_micros))
                    .bind(uuid_text(id.0))
                    .execute(&mut *conn)
                    .await?;
            if done.rows_affected_by() == 0 {
                return Err(missing("bindings", id, "extend", "live binding with this id"));
            }
        }
        Change::PutPolicy(p) => {
            sqlx::query::<DB>(
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
            sqlx::query::<DB>(
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
            let sql = format!("{REQUEST_INSERT}{}{REQUEST_UPDATE}", numbered(20));
            bind_request(sqlx::query::<DB>(&sql), r)?.execute(&mut *conn).await?;
        }
        Change::PutAccess(a) => {
            sqlx::query::<DB>(
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
            let sql = format!("{REVIEW_INSERT}{}{REVIEW_UPDATE}", numbered(12));
            bind_review(sqlx::query::<DB>(&sql), r).execute(&mut *conn).await?;
        }
        Change::PutSettings(settings) => {
            sqlx::query::<DB>(
                "INSERT INTO settings (id, body, updated_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(serde_json::to_string(settings).map_err(|e| unencodable("settings", 1, e))?)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Change::PutInvitation(i) => {
            sqlx::query::<DB>(
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
            sqlx::query::<DB>(
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
            let done = sqlx::query::<DB>("DELETE FROM tag_definitions WHERE key = $1")
                .bind(key.as_str())
                .execute(&mut *conn)
                .await?;
            if done.rows_affected_by() == 0 {
                return Err(missing("tag_definitions", key, "delete", "tag definition with this key"));
            }
        }
        Change::PutMessage(m) => {
            sqlx::query::<DB>(
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
            sqlx::query::<DB>(
                "INSERT INTO platforms (id, kind, name, created_by, created_at, config) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(p.id.as_str())
            .bind(p.kind.as_str())
            .bind(p.name.as_str())
            .bind(p.created_by.map(|u| uuid_text(u.0)))
            .bind(p.created_at.as_micros())
            .bind(serde_json::to_string(&p.config).map_err(|e| unencodable("platforms", &p.id, e))?)
            .execute(&mut *conn)
            .await
            .map_err(|e| DB::duplicate(e, |_| format!("platform '{}'", p.id)))?;
        }
        Change::UpdatePlatform(p) => {
            sqlx::query::<DB>("UPDATE platforms SET name = $1, config = $2 WHERE id = $3")
                .bind(p.name.as_str())
                .bind(serde_json::to_string(&p.config).map_err(|e| unencodable("platforms", &p.id, e))?)
                .bind(p.id.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Change::PutCredential(c) => {
            sqlx::query::<DB>(
                "INSERT INTO credentials (platform_id, user_id, verifier, issued_at, valid_until) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform_id, user_id) DO UPDATE SET \
                 verifier = excluded.verifier, issued_at = excluded.issued_at, valid_until = excluded.valid_until",
            )
            .bind(c.platform.as_str())
            .bind(uuid_text(c.user.0))
            .bind(&c.verifier)
            .bind(c.issued_at.as_micros())
            .bind(c.valid_until.as_micros())
            .execute(&mut *conn)
            .await?;
        }
        Change::DeleteCredential { platform, user } => {
            sqlx::query::<DB>("DELETE FROM credentials WHERE platform_id = $1 AND user_id = $2")
                .bind(platform.as_str())
                .bind(uuid_text(user.0))
                .execute(&mut *conn)
                .await?;
        }
        Change::PutSshCertificate(c) => {
            let record =
                serde_json::to_string(c).map_err(|e| unencodable("ssh_certificates", c.serial, e))?;
            sqlx::query::<DB>(
                "INSERT INTO ssh_certificates (platform_id, serial, user_id, workspace_id, project_id, \
                 issued_at, valid_before, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(c.platform.as_str())
            .bind(i64::try_from(c.serial).map_err(|_| {
                StoreError::Corrupt(format!("SSH certificate serial {} is above 2^63", c.serial))
            })?)
            .bind(uuid_text(c.user.0))
            .bind(c.workspace.as_str())
            .bind(c.project.as_str())
            .bind(c.issued_at.as_micros())
            .bind(c.valid_before.as_micros())
            .bind(record)
            .execute(&mut *conn)
            .await
            .map_err(|e| DB::duplicate(e, |_| format!("SSH certificate {} of '{}'", c.serial, c.platform)))?;
        }
        Change::RevokeSshCertificate { platform, serial, at } => {
            sqlx::query::<DB>(
                "UPDATE ssh_certificates SET revoked_at = $1 \
                 WHERE platform_id = $2 AND serial = $3 AND revoked_at IS NULL",
            )
            .bind(at.as_micros())
            .bind(platform.as_str())
            .bind(i64::try_from(*serial).unwrap_or(-1))
            .execute(&mut *conn)
            .await?;
        }
        Change::PutProvision(p) => {
            let k = &p.key;
            sqlx::query::<DB>(
                "INSERT INTO provisions (platform_id, workspace_id, project_id, subject, role, place, state) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (platform_id, workspace_id, project_id, subject, role) DO UPDATE SET \
                 place = excluded.place, state = excluded.state",
            )
            .bind(k.platform.as_str())
            .bind(k.workspace.as_str())
            .bind(k.project.as_str())
            .bind(k.subject.to_string())
            .bind(k.role.as_str())
            .bind(serde_json::to_string(&p.place).map_err(|e| unencodable("provisions", k.subject, e))?)
            .bind(serde_json::to_string(&p.state).map_err(|e| unencodable("provisions", k.subject, e))?)
            .execute(&mut *conn)
            .await?;
        }
        Change::DeleteProvision(k) => {
            sqlx::query::<DB>(
                "DELETE FROM provisions WHERE platform_id = $1 AND workspace_id = $2 AND project_id = $3 \
                 AND subject = $4 AND role = $5",
            )
            .bind(k.platform.as_str())
            .bind(k.workspace.as_str())
            .bind(k.project.as_str())
            .bind(k.subject.to_string())
            .bind(k.role.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Change::CreateTenant(t) => {
            sqlx::query::<DB>(
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
                DB::duplicate(e, |column| match column {
                    "external_id" => format!("external id '{}' on platform '{}'", t.external_id, t.platform),
                    _ => format!("tenant of '{}/{}' on platform '{}'", t.workspace, t.project, t.platform),
                })
            })?;
        }
        Change::CreateServiceUser(u) => {
            sqlx::query::<DB>(
                "INSERT INTO service_users (id, workspace_id, project_id, platform_id, name, client_id, \
                 secret_hash, created_by, created_at, deleted_at, deleted_by, role, verifier) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
            .bind(u.role.as_str())
            .bind(u.verifier.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                DB::duplicate(e, |column| match column {
                    "client_id" => format!("service user client id '{}'", u.client_id),
                    "secret_hash" => "service user secret".to_owned(),
                    _ => format!("service user id {}", u.id),
                })
            })?;
        }
        Change::DeleteServiceUser { id, at, by } => {
            let done = sqlx::query::<DB>(
                "UPDATE service_users SET deleted_at = $1, deleted_by = $2 WHERE id = $3 AND deleted_at IS NULL",
            )
            .bind(at.as_micros())
            .bind(by.map(|u| uuid_text(u.0)))
            .bind(uuid_text(id.0))
            .execute(&mut *conn)
            .await?;
            if done.rows_affected_by() == 0 {
                tracing::warn!(service_user = %id, "deleted a service user that was missing or already deleted");
            }
        }
    }
    Ok(())
}

/// One row's numbered placeholders: `($1, $2, ..., $n)`.
fn numbered(n: usize) -> String {
    let all: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!("({})", all.join(", "))
}

/// A statement of `DB` with its arguments.
pub(crate) type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>;

/// A multi-row upsert of whole requests: this, the rows' placeholders, then [`REQUEST_UPDATE`].
pub(crate) const REQUEST_INSERT: &str =
    "INSERT INTO requests (id, user_id, created_by, workspace_id, project_id, role, duration, \
             justification, emergency, policy, state, approvals, created_at, lapses_at, escalated_at, \
             decided_at, decided_by, deny_reason, binding_id, requested_via) VALUES ";
pub(crate) const REQUEST_UPDATE: &str = " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
             created_by = excluded.created_by, workspace_id = excluded.workspace_id, \
             project_id = excluded.project_id, role = excluded.role, duration = excluded.duration, \
             justification = excluded.justification, emergency = excluded.emergency, \
             policy = excluded.policy, state = excluded.state, approvals = excluded.approvals, \
             created_at = excluded.created_at, lapses_at = excluded.lapses_at, \
             escalated_at = excluded.escalated_at, decided_at = excluded.decided_at, \
             decided_by = excluded.decided_by, deny_reason = excluded.deny_reason, \
             binding_id = excluded.binding_id, requested_via = excluded.requested_via;\n";

/// A multi-row upsert of whole reviews: this, the rows' placeholders, then [`REVIEW_UPDATE`].
pub(crate) const REVIEW_INSERT: &str =
    "INSERT INTO reviews (id, request_id, binding_id, holder, workspace_id, project_id, \
             role, opened_at, outcome, notes, completed_by, completed_at) VALUES ";
pub(crate) const REVIEW_UPDATE: &str = " ON CONFLICT (id) DO UPDATE SET request_id = excluded.request_id, \
             binding_id = excluded.binding_id, holder = excluded.holder, \
             workspace_id = excluded.workspace_id, project_id = excluded.project_id, \
             role = excluded.role, opened_at = excluded.opened_at, outcome = excluded.outcome, \
             notes = excluded.notes, completed_by = excluded.completed_by, \
             completed_at = excluded.completed_at;\n";
/// Binds a request's columns, in the order of [`REQUEST_INSERT`].
pub(crate) fn bind_request<'q, DB: sqlx::Database>(
    q: Query<'q, DB>,
    r: &'q AccessRequest,
) -> Result<Query<'q, DB>, StoreError>
where
    for<'a> &'a str: Bind<'a, DB>,
    for<'a> Option<&'a str>: Bind<'a, DB>,
    String: for<'a> Bind<'a, DB>,
    Option<String>: for<'a> Bind<'a, DB>,
    i64: for<'a> Bind<'a, DB>,
    Option<i64>: for<'a> Bind<'a, DB>,
    bool: for<'a> Bind<'a, DB>,
{
    Ok(q.bind(uuid_text(r.id.0))
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
        .bind(r.requested_via.map(|u| uuid_text(u.0))))
}

/// Binds a review's columns, in the order of [`REVIEW_INSERT`].
pub(crate) fn bind_review<'q, DB: sqlx::Database>(q: Query<'q, DB>, r: &'q Review) -> Query<'q, DB>
where
    for<'a> &'a str: Bind<'a, DB>,
    for<'a> Option<&'a str>: Bind<'a, DB>,
    String: for<'a> Bind<'a, DB>,
    Option<String>: for<'a> Bind<'a, DB>,
    i64: for<'a> Bind<'a, DB>,
    Option<i64>: for<'a> Bind<'a, DB>,
{
    q.bind(uuid_text(r.id.0))
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
}
