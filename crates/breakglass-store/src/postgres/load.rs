//! Loading the live model from PostgreSQL at start-up.
//!
//! Each table is one query whose rows stream in as the model absorbs them: PostgreSQL sends
//! rows as it produces them and sqlx decodes each straight from the receive buffer, so the
//! whole table never sits in memory and the server works on the next rows while the model takes
//! these. The tables with many rows (users, workspaces, projects, bindings, tokens) are decoded
//! as tuples borrowing their text from the row; the others by column name. Either way rows
//! become records through [`codec`], exactly as SQLite's do. The caller's REPEATABLE READ
//! transaction makes every table come from one snapshot.

use breakglass_core::ssh::CLOCK_SKEW;
use breakglass_core::time::Timestamp;
use breakglass_core::{Change, State};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::FromRow;

use crate::{codec, StoreError};

/// Adds every live record to `state`, exactly what SQLite's loader adds: all users,
/// workspaces, projects, policies, entitlements, requests (terminal ones too), reviews,
/// invitations (decided ones too), tag definitions, messages and accesses, the settings if
/// they were ever put, platforms, tenants and service users not deleted, bindings not ended
/// (including those past their expiry that the sweeper has not recorded yet), and tokens
/// neither revoked nor expired at `now`.
pub(super) async fn live_records(
    conn: &mut PgConnection,
    state: &mut State,
    now: Timestamp,
) -> Result<(), StoreError> {
    each(conn, "SELECT id, email, name, admin_role, status, created_at FROM users", None, |row| {
        let user = codec::user(tuple(row, "users")?)?;
        state.apply(&Change::CreateUser { user, password_hash: None });
        Ok(())
    })
    .await?;
    each(conn, "SELECT id, name, status, project_quota, created_at, tags FROM workspaces", None, |row| {
        state.apply(&Change::CreateWorkspace(codec::workspace(tuple(row, "workspaces")?)?));
        Ok(())
    })
    .await?;
    each(conn, "SELECT workspace_id, id, name, created_at, tags FROM projects", None, |row| {
        // The quota only matters when the store commits a new project.
        state.apply(&Change::CreateProject { project: codec::project(tuple(row, "projects")?)?, quota: 0 });
        Ok(())
    })
    .await?;

    each(conn, "SELECT id, workspace_id, name, body FROM policies", None, |row| {
        state.apply(&Change::PutPolicy(codec::policy(row)?));
        Ok(())
    })
    .await?;
    each(
        conn,
        "SELECT workspace_id, project_id, role, request_policy_id, emergency_enabled, emergency_policy_id, \
         updated_at FROM entitlements",
        None,
        |row| {
            state.apply(&Change::PutEntitlement(codec::entitlement(row)?));
            Ok(())
        },
    )
    .await?;
    each(
        conn,
        "SELECT id, user_id, created_by, workspace_id, project_id, role, duration, justification, emergency, \
         policy, state, approvals, created_at, lapses_at, escalated_at, decided_at, decided_by, \
         deny_reason, binding_id, requested_via FROM requests",
        None,
        |row| {
            state.apply(&Change::PutRequest(codec::request(row)?));
            Ok(())
        },
    )
    .await?;
    each(
        conn,
        "SELECT id, request_id, binding_id, holder, workspace_id, project_id, role, opened_at, outcome, \
         notes, completed_by, completed_at FROM reviews",
        None,
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
    each(conn, "SELECT key, body, created_at FROM tag_definitions", None, |row| {
        state.apply(&Change::PutTagDefinition(codec::tag_definition(row)?));
        Ok(())
    })
    .await?;
    each(
        conn,
        "SELECT id, workspace_id, email, role, membership_expires_at, invited_by, created_at, expires_at, \
         state, decided_at, token_hash FROM invitations",
        None,
        |row| {
            state.apply(&Change::PutInvitation(codec::invitation(row)?));
            Ok(())
        },
    )
    .await?;
    each(conn, "SELECT id, workspace_id, text, mode, sender, created_at, acks FROM messages", None, |row| {
        state.apply(&Change::PutMessage(codec::message(row)?));
        Ok(())
    })
    .await?;
    each(
        conn,
        "SELECT id, owner_id, name, kind, scope, created_at, expires_at, revoked_at, revoked_by, recipients, \
         token_id, read_only FROM accesses",
        None,
        |row| {
            state.apply(&Change::PutAccess(codec::access(row)?));
            Ok(())
        },
    )
    .await?;

    // Platforms, tenants, and the service users not deleted.
    each(conn, "SELECT id, kind, name, created_by, created_at, config FROM platforms", None, |row| {
        state.apply(&Change::CreatePlatform(codec::platform(row)?));
        Ok(())
    })
    .await?;
    each(
        conn,
        "SELECT workspace_id, project_id, platform_id, external_id, created_by, created_at FROM tenants",
        None,
        |row| {
            state.apply(&Change::CreateTenant(codec::tenant(row)?));
            Ok(())
        },
    )
    .await?;
    each(
        conn,
        "SELECT id, workspace_id, project_id, platform_id, name, client_id, secret_hash, created_by, \
         created_at, deleted_at, deleted_by, role, verifier FROM service_users WHERE deleted_at IS NULL",
        None,
        |row| {
            state.apply(&Change::CreateServiceUser(codec::service_user(row)?));
            Ok(())
        },
    )
    .await?;
    each(
        conn,
        "SELECT platform_id, user_id, verifier, issued_at, valid_until FROM credentials",
        None,
        |row| {
            state.apply(&Change::PutCredential(codec::credential(row)?));
            Ok(())
        },
    )
    .await?;
    // Only those still valid: an expired certificate is refused by every host anyway.
    each(
        conn,
        "SELECT platform_id, serial, record, revoked_at FROM ssh_certificates WHERE valid_before > $1 \
         ORDER BY platform_id, serial",
        Some(now.minus(CLOCK_SKEW).as_micros()),
        |row| {
            state.apply(&Change::PutSshCertificate(codec::ssh_certificate(row)?));
            Ok(())
        },
    )
    .await?;
    each(
        conn,
        "SELECT platform_id, workspace_id, project_id, subject, role, place, state FROM provisions",
        None,
        |row| {
            state.apply(&Change::PutProvision(codec::provision(row)?));
            Ok(())
        },
    )
    .await?;

    each(
        conn,
        "SELECT id, user_id, workspace_id, project_id, role, starts_at, expires_at, source, created_by, \
         reason, source_request_id FROM bindings WHERE ended_at IS NULL",
        None,
        |row| {
            state.apply(&Change::CreateBinding(codec::binding(tuple(row, "bindings")?)?));
            Ok(())
        },
    )
    .await?;
    // The tuple SQLite's loader fills from JSON: the digest as hex, the flag as 0 or 1.
    each(
        conn,
        "SELECT id, user_id, kind, name, encode(secret_hash, 'hex'), created_at, expires_at, scope, \
         read_only::int::bigint, access_id FROM tokens \
         WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
        Some(now.as_micros()),
        |row| {
            state.apply(&Change::CreateToken(codec::token(tuple(row, "tokens")?)?));
            Ok(())
        },
    )
    .await
}

/// Feeds each row of `sql` (with `$1` bound to `arg` when given) to `f` as it arrives.
async fn each(
    conn: &mut PgConnection,
    sql: &str,
    arg: Option<i64>,
    mut f: impl FnMut(&PgRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut query = sqlx::query(sql);
    if let Some(arg) = arg {
        query = query.bind(arg);
    }
    let mut rows = query.fetch(conn);
    while let Some(row) = rows.try_next().await? {
        f(&row)?;
    }
    Ok(())
}

/// A row as the tuple of its columns, borrowing their text. The columns' types make a failure
/// here near impossible (a NULL where the schema forbids one).
fn tuple<'r, T: FromRow<'r, PgRow>>(row: &'r PgRow, table: &str) -> Result<T, StoreError> {
    T::from_row(row).map_err(|e| StoreError::Corrupt(format!("{table}: cannot read a row: {e}")))
}
