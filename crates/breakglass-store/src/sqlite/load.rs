//! Loading the live model from SQLite at start-up, fast enough for millions of bindings.
//!
//! Each table is read in keyset pages of [`PAGE`] rows, and SQLite folds each page into one
//! JSON document (`json_group_array`). The reason is sqlx's SQLite driver: it copies every value
//! of every row into its own allocation and hands rows across a thread one by one, which costs
//! microseconds per row and dominated start-up; one value per page removes that cost, and
//! parsing the page borrows the identifiers straight from the text. While the model absorbs
//! one page, SQLite already builds the next on its connection thread (see [`overlap`]).
//! Measured on a loaded 2-core VM with a million bindings: 8.4 s row by row, under 2 s this way.
//!
//! Policies, entitlements, requests, reviews, invitations, tag definitions and messages are
//! read row by row ([`rows`]), still in keyset pages: they are far fewer, have more columns than
//! a tuple can take, and carry JSON columns of their own. The settings are one row, if any.
//! Platforms, tenants and service users are read row by row too. Either way, rows become
//! records through [`codec`], which the PostgreSQL loader shares.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use breakglass_core::ssh::CLOCK_SKEW;
use breakglass_core::time::Timestamp;
use breakglass_core::{Change, State};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use crate::{codec, StoreError};

/// Rows per page: large enough that per-query costs vanish, small enough that a page (a few
/// megabytes of JSON) weighs little next to the model itself.
pub(super) const PAGE: i64 = 20_000;

/// Adds every live record to `state`: all users, workspaces, projects, policies, entitlements,
/// requests (terminal ones too), reviews, invitations (decided ones too), tag definitions and
/// messages, the settings if they were ever put, bindings not ended (including those past
/// their expiry that the sweeper has not recorded yet), tokens neither revoked nor expired
/// at `now`, platforms, tenants, and service users not deleted. `conn` must be inside a read transaction, so that all tables come from one snapshot.
/// Pages hold `page` rows ([`PAGE`] outside tests).
pub(super) async fn live_records(
    conn: &mut SqliteConnection,
    state: &mut State,
    now: Timestamp,
    page: i64,
) -> Result<(), StoreError> {
    let sql = page_sql("users", "", "id, email, name, admin_role, status, created_at");
    scan(conn, &sql, page, None, |text| {
        for row in
            serde_json::from_str::<Vec<codec::UserRow<'_>>>(text).map_err(|e| page_error("users", text, e))?
        {
            state.apply(&Change::CreateUser { user: codec::user(row)?, password_hash: None });
        }
        Ok(())
    })
    .await?;

    let sql = page_sql("workspaces", "", "id, name, status, project_quota, created_at, tags");
    scan(conn, &sql, page, None, |text| {
        for row in serde_json::from_str::<Vec<codec::WorkspaceRow<'_>>>(text)
            .map_err(|e| page_error("workspaces", text, e))?
        {
            state.apply(&Change::CreateWorkspace(codec::workspace(row)?));
        }
        Ok(())
    })
    .await?;

    let sql = page_sql("projects", "", "workspace_id, id, name, created_at, tags");
    scan(conn, &sql, page, None, |text| {
        for row in serde_json::from_str::<Vec<codec::ProjectRow<'_>>>(text)
            .map_err(|e| page_error("projects", text, e))?
        {
            // The quota only matters when the store commits a new project.
            state.apply(&Change::CreateProject { project: codec::project(row)?, quota: 0 });
        }
        Ok(())
    })
    .await?;

    // Requests and what governs them are far fewer than bindings: plain rows suffice.
    rows(conn, "policies", "id, workspace_id, name, body", page, |row| {
        state.apply(&Change::PutPolicy(codec::policy(row)?));
        Ok(())
    })
    .await?;
    rows(
        conn,
        "entitlements",
        "workspace_id, project_id, role, request_policy_id, emergency_enabled, emergency_policy_id, \
         updated_at",
        page,
        |row| {
            state.apply(&Change::PutEntitlement(codec::entitlement(row)?));
            Ok(())
        },
    )
    .await?;
    rows(
        conn,
        "requests",
        "id, user_id, created_by, workspace_id, project_id, role, duration, justification, emergency, \
         policy, state, approvals, created_at, lapses_at, escalated_at, decided_at, decided_by, \
         deny_reason, binding_id, requested_via",
        page,
        |row| {
            state.apply(&Change::PutRequest(codec::request(row)?));
            Ok(())
        },
    )
    .await?;
    rows(
        conn,
        "reviews",
        "id, request_id, binding_id, holder, workspace_id, project_id, role, opened_at, outcome, notes, \
         completed_by, completed_at",
        page,
        |row| {
            state.apply(&Change::PutReview(codec::review(row)?));
            Ok(())
        },
    )
    .await?;

    // The admin area's records. No settings row: the core's defaults stay in force.
    let body: Option<String> =
        sqlx::query_scalar("SELECT body FROM settings WHERE id = 1").fetch_optional(&mut *conn).await?;
    if let Some(body) = body {
        state.apply(&Change::PutSettings(codec::settings(&body)?));
    }
    rows(conn, "tag_definitions", "key, body, created_at", page, |row| {
        state.apply(&Change::PutTagDefinition(codec::tag_definition(row)?));
        Ok(())
    })
    .await?;
    rows(
        conn,
        "invitations",
        "id, workspace_id, email, role, membership_expires_at, invited_by, created_at, expires_at, \
         state, decided_at, token_hash",
        page,
        |row| {
            state.apply(&Change::PutInvitation(codec::invitation(row)?));
            Ok(())
        },
    )
    .await?;
    rows(conn, "messages", "id, workspace_id, text, mode, sender, created_at, acks", page, |row| {
        state.apply(&Change::PutMessage(codec::message(row)?));
        Ok(())
    })
    .await?;
    rows(
        conn,
        "accesses",
        "id, owner_id, name, kind, scope, created_at, expires_at, revoked_at, revoked_by, recipients, \
         token_id, read_only",
        page,
        |row| {
            state.apply(&Change::PutAccess(codec::access(row)?));
            Ok(())
        },
    )
    .await?;

    // Platforms, tenants, and the service users not deleted.
    rows(conn, "platforms", "id, kind, name, created_by, created_at, config", page, |row| {
        state.apply(&Change::CreatePlatform(codec::platform(row)?));
        Ok(())
    })
    .await?;
    rows(
        conn,
        "tenants",
        "workspace_id, project_id, platform_id, external_id, created_by, created_at",
        page,
        |row| {
            state.apply(&Change::CreateTenant(codec::tenant(row)?));
            Ok(())
        },
    )
    .await?;
    rows(
        conn,
        "service_users",
        "id, workspace_id, project_id, platform_id, name, client_id, secret_hash, created_by, created_at, \
         deleted_at, deleted_by, role, verifier",
        page,
        |row| {
            let u = codec::service_user(row)?;
            if u.deleted_at.is_none() {
                state.apply(&Change::CreateServiceUser(u));
            }
            Ok(())
        },
    )
    .await?;
    rows(conn, "credentials", "platform_id, user_id, verifier, issued_at, valid_until", page, |row| {
        state.apply(&Change::PutCredential(codec::credential(row)?));
        Ok(())
    })
    .await?;
    // Only those still valid: an expired certificate is refused by every host anyway.
    rows(conn, "ssh_certificates", "platform_id, serial, record, revoked_at", page, |row| {
        let cert = codec::ssh_certificate(row)?;
        if cert.valid_before > now.minus(CLOCK_SKEW) {
            state.apply(&Change::PutSshCertificate(cert));
        }
        Ok(())
    })
    .await?;
    rows(
        conn,
        "provisions",
        "platform_id, workspace_id, project_id, subject, role, place, state",
        page,
        |row| {
            state.apply(&Change::PutProvision(codec::provision(row)?));
            Ok(())
        },
    )
    .await?;

    let sql = page_sql(
        "bindings",
        "AND ended_at IS NULL",
        "id, user_id, workspace_id, project_id, role, starts_at, expires_at, source, created_by, reason, \
         source_request_id",
    );
    scan(conn, &sql, page, None, |text| {
        for row in serde_json::from_str::<Vec<codec::BindingRow<'_>>>(text)
            .map_err(|e| page_error("bindings", text, e))?
        {
            state.apply(&Change::CreateBinding(codec::binding(row)?));
        }
        Ok(())
    })
    .await?;

    // JSON cannot hold a BLOB, so the digest travels as hex.
    let sql = page_sql(
        "tokens",
        "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)",
        "id, user_id, kind, name, hex(secret_hash), created_at, expires_at, scope, read_only, access_id",
    );
    scan(conn, &sql, page, Some(now.as_micros()), |text| {
        for row in serde_json::from_str::<Vec<codec::TokenRow<'_>>>(text)
            .map_err(|e| page_error("tokens", text, e))?
        {
            state.apply(&Change::CreateToken(codec::token(row)?));
        }
        Ok(())
    })
    .await
}

/// The query for one page of `table`: the number of rows, the last rowid, and the rows as a
/// JSON array of arrays of `columns`. `?1` is the rowid to resume after, `?2` the page size.
fn page_sql(table: &str, filter: &str, columns: &str) -> String {
    format!(
        "SELECT count(*), max(r), json_group_array(json_array({columns})) \
         FROM (SELECT rowid AS r, * FROM {table} WHERE rowid > ?1 {filter} ORDER BY rowid LIMIT ?2)"
    )
}

/// Feeds every row of `table` (its `rowid`, then `columns`) to `each`, in keyset pages of
/// `size` rows.
async fn rows(
    conn: &mut SqliteConnection,
    table: &str,
    columns: &str,
    size: i64,
    mut each: impl FnMut(&SqliteRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = format!("SELECT rowid, {columns} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2");
    let mut after = i64::MIN;
    loop {
        let page = sqlx::query(&sql).bind(after).bind(size).fetch_all(&mut *conn).await?;
        for row in &page {
            each(row)?;
        }
        match page.last() {
            Some(last) if i64::try_from(page.len()).is_ok_and(|n| n >= size) => after = last.try_get(0)?,
            _ => return Ok(()),
        }
    }
}

/// One page: how many rows, the rowid to resume after, the rows as JSON.
struct Page {
    count: i64,
    last: Option<i64>,
    rows: String,
}

async fn fetch_page(
    conn: &mut SqliteConnection,
    sql: &str,
    after: i64,
    size: i64,
    extra: Option<i64>,
) -> Result<Page, StoreError> {
    let mut query = sqlx::query_as::<_, (i64, Option<i64>, String)>(sql).bind(after).bind(size);
    if let Some(v) = extra {
        query = query.bind(v);
    }
    let (count, last, rows) = query.fetch_one(conn).await?;
    Ok(Page { count, last, rows })
}

/// Feeds each page of `sql` (built by [`page_sql`]; `?3` is bound to `extra` when given) to
/// `each`, fetching the next page while `each` works on the current one.
async fn scan(
    conn: &mut SqliteConnection,
    sql: &str,
    size: i64,
    extra: Option<i64>,
    mut each: impl FnMut(&str) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut page = fetch_page(conn, sql, i64::MIN, size, extra).await?;
    loop {
        let last = match page.last {
            Some(last) if page.count >= size => last,
            _ => return each(&page.rows),
        };
        let (next, done) = overlap(fetch_page(conn, sql, last, size, extra), || each(&page.rows)).await;
        done?;
        page = next?;
    }
}

/// Runs `work` on this thread while `fut` proceeds elsewhere, then finishes `fut`.
///
/// A query's first poll hands it to the connection's own thread, so polling once before
/// `work` lets SQLite build the next page while the model absorbs this one. No runtime `join`
/// is needed (the store does not depend on tokio), since `work` never waits.
async fn overlap<F: Future, R>(fut: F, work: impl FnOnce() -> R) -> (F::Output, R) {
    let mut fut = pin!(fut);
    let mut early = None;
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            early = Some(out);
        }
        Poll::Ready(())
    })
    .await;
    let done = work();
    let out = match early {
        Some(out) => out,
        None => fut.await,
    };
    (out, done)
}

/// The error for a page that does not parse. Identifiers are borrowed from the page's text; a
/// value that SQLite had to escape cannot be, and in those columns means the row is corrupt.
/// The error quotes the start of that row, which begins with its key.
fn page_error(table: &str, text: &str, e: serde_json::Error) -> StoreError {
    let at = text.char_indices().nth(e.column().saturating_sub(1)).map_or(text.len(), |(i, _)| i);
    let start = text[..at].rfind("],[").map_or(1, |i| i + 2);
    let row: String = text[start..].chars().take(80).collect();
    StoreError::Corrupt(format!("{table}: cannot read the row {row}...: {e}"))
}

#[cfg(test)]
mod tests {
    use breakglass_core::access::{AccessRequest, Policy, RequestState};
    use breakglass_core::ident::{PolicyId, RequestId, Slug, UserId};
    use breakglass_core::model::{Binding, Target, Token};
    use breakglass_core::role::Role;
    use uuid::Uuid;

    use super::*;
    use crate::{SqliteStore, Store};

    /// Every page size gives the same model, so page boundaries (and the overlap of one page's
    /// processing with the next page's query) lose and duplicate nothing.
    #[tokio::test]
    async fn pages_of_any_size_load_the_same_model() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        store
            .execute_raw(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2)
                 INSERT INTO users (id, email, name, admin_role, status, created_at)
                 SELECT printf('00000000-0000-4000-8000-%012x', i), printf('u%d@example.com', i),
                        'U', 'none', 'active', 0 FROM n;
                 INSERT INTO workspaces (id, name, status, project_quota, created_at)
                 VALUES ('ws-a', 'A', 'active', 10, 0);
                 INSERT INTO projects (workspace_id, id, name, created_at) VALUES ('ws-a', 'web', 'Web', 0);
                 WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 24)
                 INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at,
                                       expires_at, source, reason, ended_at, end_reason)
                 SELECT printf('00000000-0000-4000-9000-%012x', i),
                        printf('00000000-0000-4000-8000-%012x', i % 3), 'ws-a',
                        CASE WHEN i % 2 = 0 THEN 'web' END, CASE WHEN i % 2 = 0 THEN 'reader' ELSE 'member' END,
                        0, NULL, 'direct', 'reason \"' || i || '\" ✓',
                        CASE WHEN i % 5 = 0 THEN 1 END, CASE WHEN i % 5 = 0 THEN 'removed' END FROM n;
                 WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9)
                 INSERT INTO tokens (id, user_id, kind, name, secret_hash, created_at, expires_at, revoked_at)
                 SELECT printf('00000000-0000-4000-a000-%012x', i), printf('00000000-0000-4000-8000-%012x', i % 3),
                        'api', 't', randomblob(32), 0,
                        CASE WHEN i % 4 = 0 THEN 5 END, CASE WHEN i % 3 = 0 THEN 1 END FROM n;",
            )
            .await
            .unwrap();
        // Requests and policies go through `commit`: their JSON is the core's to write.
        let user = |i: u128| UserId(Uuid::from_u128(0x4000_8000_0000_0000_0000 | i));
        let mut changes = Vec::new();
        for i in 0..5u128 {
            let policy = Policy { id: PolicyId(Uuid::from_u128(i + 1)), ..Policy::installation_default() };
            changes.push(Change::PutRequest(AccessRequest {
                id: RequestId(Uuid::from_u128(100 + i)),
                user: user(i % 3),
                created_by: user(i % 3),
                requested_via: None,
                target: Target::Workspace(Slug::parse("ws-a").unwrap()),
                role: Role::parse_workspace("member").unwrap(),
                duration: None,
                justification: None,
                emergency: i % 2 == 0,
                policy: policy.clone(),
                state: RequestState::Pending,
                approvals: vec![],
                created_at: Timestamp::from_micros(0),
                lapses_at: Timestamp::from_micros(10),
                escalated_at: None,
                decided_at: None,
                decided_by: None,
                deny_reason: None,
                binding: None,
            }));
            changes.push(Change::PutPolicy(policy));
        }
        store.commit(0, &breakglass_core::Changes { changes, events: vec![] }).await.unwrap();

        let mut conn = store.reader.acquire().await.unwrap();
        let mut models = Vec::new();
        for page in [1, 2, 7, 1000] {
            let mut state = State::new();
            live_records(&mut conn, &mut state, Timestamp::from_micros(5), page).await.unwrap();
            let mut bindings: Vec<Binding> =
                state.users().iter().flat_map(|u| state.bindings_of_user(u.id)).cloned().collect();
            bindings.sort_by_key(|b| b.id);
            let mut tokens: Vec<Token> =
                state.users().iter().flat_map(|u| state.tokens_of(u.id)).cloned().collect();
            tokens.sort_by_key(|t| t.id);
            let mut requests: Vec<AccessRequest> = state.requests().cloned().collect();
            requests.sort_by_key(|r| r.id);
            let policies: Vec<Policy> = state.policies().into_iter().cloned().collect();
            models.push((state.user_count(), bindings, tokens, requests, policies));
        }
        let (users, bindings, tokens, requests, policies) = &models[0];
        assert_eq!(*users, 3);
        assert_eq!(bindings.len(), 20, "25 bindings, 5 ended");
        assert_eq!(tokens.len(), 4, "10 tokens, 4 revoked, 3 expired, 1 both");
        assert_eq!(bindings[0].reason.as_deref(), Some("reason \"1\" ✓"), "binding 0 is ended");
        assert_eq!((requests.len(), policies.len()), (5, 5));
        assert!(models.iter().all(|m| m == &models[0]));
    }

    #[test]
    fn an_unreadable_row_is_quoted_by_its_key() {
        let text = r#"[["a","b"],["bad\"id","c"]]"#;
        let err = serde_json::from_str::<Vec<(&str, &str)>>(text)
            .map_err(|e| page_error("tokens", text, e))
            .unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt(m) if m.contains(r#"["bad\"id""#)), "{err:?}");
    }
}
