//! How records are kept in table columns and read back, the same for every backend.
//!
//! Both backends store the same columns with the same encodings: ids as hyphenated UUID text,
//! slugs and names as text, times and spans as integer microseconds, digests as 32 bytes, and
//! what is read and written only as a whole (tags, policies, approvals, settings, recipients,
//! acknowledgements, event details) as JSON text. So turning a row back into a record is
//! written once, here: a backend says only how to read one column of its rows ([`Columns`]).
//! Every decoding error is `StoreError::Corrupt` naming the table, the row's key and the
//! column: the database holds something the model cannot take, a bug or an edit made behind
//! the store's back.

use std::fmt::Display;

use breakglass_core::access::{
    AccessRequest, Approval, Entitlement, Policy, RequestState, Review, ReviewOutcome,
};
use breakglass_core::audit::{AuditEvent, StoredEvent};
use breakglass_core::delegation::{Access, AccessKind, Recipient, RecipientStatus};
use breakglass_core::ident::{
    AccessId, BindingId, Email, InvitationId, MessageId, Name, PolicyId, RequestId, ReviewId, Slug, TokenId,
    UserId,
};
use breakglass_core::model::{
    Binding, BindingSource, Project, SecretHash, Target, Token, TokenKind, User, UserStatus, Workspace,
    WorkspaceStatus,
};
use breakglass_core::org::{
    Invitation, InvitationState, Message, MessageMode, Settings, TagDefinition, TagKey, Tags,
};
use breakglass_core::platform::{
    Credential, ExternalId, Platform, PlatformKind, ServiceUser, ServiceUserId, Tenant,
};
use breakglass_core::provision::{GrantKey, Provision, Subject};
use breakglass_core::role::{AdminRole, ProjectRole, Role, WorkspaceRole};
use breakglass_core::ssh::SshCertificate;
use breakglass_core::time::{Span, Timestamp};
use sqlx::error::UnexpectedNullError;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use crate::StoreError;

// ---------------------------------------------------------------------------------------------
// Encoding

/// An id as stored: hyphenated lowercase text.
pub(crate) fn uuid_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Tags as their JSON object of key to value.
pub(crate) fn tags_json(tags: &Tags, table: &str, key: impl Display) -> Result<String, StoreError> {
    serde_json::to_string(tags).map_err(|e| unencodable(table, key, e))
}

/// For a value kept whole as JSON that does not encode. The core's types always do; failing
/// here would mean a value that could not be read back either.
pub(crate) fn unencodable(table: &str, key: impl Display, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{table} '{key}': cannot encode as JSON: {e}"))
}

/// A change that needs the row `key` of `table`, which is not there (or, for a binding, no
/// longer live). Unlike ending a binding twice, which is harmless, going on would leave the
/// model believing in what the database does not record.
pub(crate) fn missing(table: &str, key: impl Display, action: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "{table} '{key}': cannot {action}: no {what} (the model and the database disagree)"
    ))
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// One column of a stored row, read by name; `None` for NULL. A value of another type is an
/// error.
pub(crate) trait Columns {
    /// A text column.
    fn text(&self, column: &str) -> Result<Option<&str>, sqlx::Error>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A boolean column (SQLite keeps it as 0 or 1).
    fn flag(&self, column: &str) -> Result<Option<bool>, sqlx::Error>;
    /// A byte-string column.
    fn bytes(&self, column: &str) -> Result<Option<&[u8]>, sqlx::Error>;
}

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> Result<Option<&str>, sqlx::Error> {
        self.try_get(column)
    }
    fn int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
    fn flag(&self, column: &str) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(column)
    }
    fn bytes(&self, column: &str) -> Result<Option<&[u8]>, sqlx::Error> {
        self.try_get(column)
    }
}

impl Columns for PgRow {
    fn text(&self, column: &str) -> Result<Option<&str>, sqlx::Error> {
        self.try_get(column)
    }
    fn int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
    fn flag(&self, column: &str) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(column)
    }
    fn bytes(&self, column: &str) -> Result<Option<&[u8]>, sqlx::Error> {
        self.try_get(column)
    }
}

/// A Rust value one column decodes to.
trait Get<'r>: Sized {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error>;
}

fn not_null<T>(value: Option<T>) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::Decode(Box::new(UnexpectedNullError)))
}

impl<'r> Get<'r> for Option<&'r str> {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        row.text(column)
    }
}

impl<'r> Get<'r> for &'r str {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        not_null(row.text(column)?)
    }
}

impl<'r> Get<'r> for Option<String> {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        Ok(row.text(column)?.map(str::to_owned))
    }
}

impl<'r> Get<'r> for String {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        not_null(row.text(column)?).map(str::to_owned)
    }
}

impl<'r> Get<'r> for Option<i64> {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        row.int(column)
    }
}

impl<'r> Get<'r> for i64 {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        not_null(row.int(column)?)
    }
}

impl<'r> Get<'r> for bool {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        not_null(row.flag(column)?)
    }
}

impl<'r> Get<'r> for Option<&'r [u8]> {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        row.bytes(column)
    }
}

impl<'r> Get<'r> for &'r [u8] {
    fn get(row: &'r dyn Columns, column: &str) -> Result<Self, sqlx::Error> {
        not_null(row.bytes(column)?)
    }
}

/// Decodes an audit event (columns `seq`, `time`, `type`, `actor`, `on_behalf_of`,
/// `workspace`, `project`, `subject`, `details`, `prev_hash`, `hash`), naming its `seq` and
/// the column in any error.
pub(crate) fn event(row: &dyn Columns) -> Result<AuditEvent, StoreError> {
    let e = stored_event(row)?;
    let details = serde_json::from_str(&e.details)
        .map_err(|why| StoreError::Corrupt(format!("audit_events {}: column details: {why}", e.seq)))?;
    Ok(AuditEvent {
        seq: e.seq,
        time: e.time,
        event_type: e.event_type,
        actor: e.actor,
        on_behalf_of: e.on_behalf_of,
        workspace: e.workspace,
        project: e.project,
        subject: e.subject,
        details,
        prev_hash: e.prev_hash,
        hash: e.hash,
    })
}

/// Decodes an audit event as stored, its `details` left as text (same columns as [`event`]).
pub(crate) fn stored_event(row: &dyn Columns) -> Result<StoredEvent, StoreError> {
    let seq: i64 =
        i64::get(row, "seq").map_err(|e| StoreError::Corrupt(format!("audit_events: column seq: {e}")))?;
    let corrupt = |column: &str, why: &dyn Display| {
        StoreError::Corrupt(format!("audit_events {seq}: column {column}: {why}"))
    };
    let get = |column: &str| -> Result<Option<String>, StoreError> {
        Option::<String>::get(row, column).map_err(|e| corrupt(column, &e))
    };
    let digest = |column: &str| -> Result<[u8; 32], StoreError> {
        let bytes = <&[u8]>::get(row, column).map_err(|e| corrupt(column, &e))?;
        bytes.try_into().map_err(|_| corrupt(column, &"not 32 bytes"))
    };
    let required = |column: &str| -> Result<String, StoreError> {
        String::get(row, column).map_err(|e| corrupt(column, &e))
    };
    Ok(StoredEvent {
        seq,
        time: Timestamp::from_micros(i64::get(row, "time").map_err(|e| corrupt("time", &e))?),
        event_type: required("type")?,
        actor: required("actor")?,
        on_behalf_of: get("on_behalf_of")?,
        workspace: get("workspace")?,
        project: get("project")?,
        subject: get("subject")?,
        details: required("details")?,
        prev_hash: digest("prev_hash")?,
        hash: digest("hash")?,
    })
}

/// Decodes a page of stored events sent as one JSON array with an array per event: `seq`,
/// `time`, `type`, `actor`, `on_behalf_of`, `workspace`, `project`, `subject`, `details`, and
/// `prev_hash` and `hash` in hex. `after_seq` names the page in errors.
pub(crate) fn stored_events_json(after_seq: i64, page: &str) -> Result<Vec<StoredEvent>, StoreError> {
    type Row = (
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = serde_json::from_str(page)
        .map_err(|e| StoreError::Corrupt(format!("audit_events after {after_seq}: unreadable page: {e}")))?;
    rows.into_iter()
        .map(
            |(
                seq,
                time,
                event_type,
                actor,
                on_behalf_of,
                workspace,
                project,
                subject,
                details,
                prev_hash,
                hash,
            )| {
                let digest = |column: &str, text: &str| -> Result<[u8; 32], StoreError> {
                    let mut out = [0; 32];
                    hex::decode_to_slice(text, &mut out).map_err(|_| {
                        StoreError::Corrupt(format!("audit_events {seq}: column {column}: not 32 bytes"))
                    })?;
                    Ok(out)
                };
                Ok(StoredEvent {
                    seq,
                    time: Timestamp::from_micros(time),
                    event_type,
                    actor,
                    on_behalf_of,
                    workspace,
                    project,
                    subject,
                    details,
                    prev_hash: digest("prev_hash", &prev_hash)?,
                    hash: digest("hash", &hash)?,
                })
            },
        )
        .collect()
}

/// Names the row being decoded in every error.
struct At<'a> {
    table: &'static str,
    key: &'a str,
}

impl At<'_> {
    fn corrupt(&self, column: &str, why: impl Display) -> StoreError {
        StoreError::Corrupt(format!("{} '{}': column {column}: {why}", self.table, self.key))
    }

    fn parse<'v, T, E: Display>(
        &self,
        column: &str,
        value: &'v str,
        f: impl FnOnce(&'v str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        f(value).map_err(|e| self.corrupt(column, e))
    }

    fn uuid(&self, column: &str, value: &str) -> Result<Uuid, StoreError> {
        self.parse(column, value, Uuid::parse_str)
    }

    /// Tags kept as a JSON object. Deserialising a key checks only that it is text, so each
    /// key is checked as `TagKey::parse` would. Values are not checked against definitions:
    /// a definition may have changed or gone since a value was set, and the value stays.
    fn tags(&self, column: &str, text: &str) -> Result<Tags, StoreError> {
        let tags: Tags = serde_json::from_str(text).map_err(|e| self.corrupt(column, e))?;
        for key in tags.keys() {
            self.parse(column, key.as_str(), TagKey::parse)?;
        }
        Ok(tags)
    }
}

pub(crate) type UserRow<'a> = (&'a str, String, String, &'a str, &'a str, i64);

pub(crate) fn user(
    (id, email, name, admin_role, status, created_at): UserRow<'_>,
) -> Result<User, StoreError> {
    let at = At { table: "users", key: id };
    Ok(User {
        id: UserId(at.uuid("id", id)?),
        email: at.parse("email", &email, Email::parse)?,
        name: at.parse("name", &name, Name::parse)?,
        admin_role: at.parse("admin_role", admin_role, AdminRole::parse)?,
        status: at.parse("status", status, UserStatus::parse)?,
        created_at: Timestamp::from_micros(created_at),
    })
}

/// The last column, `tags`, is its JSON object as text.
pub(crate) type WorkspaceRow<'a> = (&'a str, String, &'a str, i64, i64, String);

pub(crate) fn workspace(
    (id, name, status, quota, created_at, tags): WorkspaceRow<'_>,
) -> Result<Workspace, StoreError> {
    let at = At { table: "workspaces", key: id };
    Ok(Workspace {
        id: at.parse("id", id, Slug::parse)?,
        name: at.parse("name", &name, Name::parse)?,
        status: at.parse("status", status, WorkspaceStatus::parse)?,
        project_quota: u32::try_from(quota).map_err(|e| at.corrupt("project_quota", e))?,
        tags: at.tags("tags", &tags)?,
        created_at: Timestamp::from_micros(created_at),
    })
}

pub(crate) type ProjectRow<'a> = (&'a str, &'a str, String, i64, String);

pub(crate) fn project(
    (workspace, id, name, created_at, tags): ProjectRow<'_>,
) -> Result<Project, StoreError> {
    let key = format!("{workspace}/{id}");
    let at = At { table: "projects", key: &key };
    Ok(Project {
        workspace: at.parse("workspace_id", workspace, Slug::parse)?,
        id: at.parse("id", id, Slug::parse)?,
        name: at.parse("name", &name, Name::parse)?,
        tags: at.tags("tags", &tags)?,
        created_at: Timestamp::from_micros(created_at),
    })
}

pub(crate) type BindingRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    i64,
    Option<i64>,
    &'a str,
    Option<&'a str>,
    Option<String>,
    Option<&'a str>,
);

pub(crate) fn binding(row: BindingRow<'_>) -> Result<Binding, StoreError> {
    let (id, user, workspace, project, role, starts_at, expires_at, source, created_by, reason, request) =
        row;
    let at = At { table: "bindings", key: id };
    let workspace = at.parse("workspace_id", workspace, Slug::parse)?;
    let target = match project {
        Some(p) => Target::Project(workspace, at.parse("project_id", p, Slug::parse)?),
        None => Target::Workspace(workspace),
    };
    Ok(Binding {
        id: BindingId(at.uuid("id", id)?),
        user: UserId(at.uuid("user_id", user)?),
        role: at.parse("role", role, |r| Role::parse_for(r, target.is_project()))?,
        target,
        starts_at: Timestamp::from_micros(starts_at),
        expires_at: expires_at.map(Timestamp::from_micros),
        source: {
            let request = request.map(|r| at.uuid("source_request_id", r).map(|_| r)).transpose()?;
            at.parse("source", source, |s| BindingSource::parse(s, request))?
        },
        created_by: created_by.map(|u| at.uuid("created_by", u).map(UserId)).transpose()?,
        reason,
    })
}

pub(crate) type TokenRow<'a> =
    (&'a str, &'a str, &'a str, String, &'a str, i64, Option<i64>, Option<String>, i64, Option<&'a str>);

pub(crate) fn token(
    (id, user, kind, name, secret_hash, created_at, expires_at, scope, read_only, access): TokenRow<'_>,
) -> Result<Token, StoreError> {
    let at = At { table: "tokens", key: id };
    Ok(Token {
        id: TokenId(at.uuid("id", id)?),
        user: UserId(at.uuid("user_id", user)?),
        kind: at.parse("kind", kind, TokenKind::parse)?,
        name: at.parse("name", &name, Name::parse)?,
        secret_hash: SecretHash(at.parse("secret_hash", secret_hash, digest_from_hex)?),
        created_at: Timestamp::from_micros(created_at),
        expires_at: expires_at.map(Timestamp::from_micros),
        scope: scope.map(|s| at.parse("scope", &s, Slug::parse)).transpose()?,
        read_only: read_only != 0,
        access: access.map(|a| at.uuid("access_id", a)).transpose()?.map(AccessId),
    })
}

/// Reads the columns of one row by name, naming the row and the column in every error.
struct Cols<'r, 'k> {
    row: &'r dyn Columns,
    at: At<'k>,
}

impl<'r> Cols<'r, '_> {
    fn get<T: Get<'r>>(&self, column: &str) -> Result<T, StoreError> {
        T::get(self.row, column).map_err(|e| self.at.corrupt(column, e))
    }

    fn time(&self, column: &str) -> Result<Timestamp, StoreError> {
        self.get(column).map(Timestamp::from_micros)
    }

    fn opt_time(&self, column: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.get::<Option<i64>>(column)?.map(Timestamp::from_micros))
    }

    fn uuid(&self, column: &str) -> Result<Uuid, StoreError> {
        self.at.uuid(column, self.get(column)?)
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, StoreError> {
        self.get::<Option<&str>>(column)?.map(|v| self.at.uuid(column, v)).transpose()
    }

    /// The target in `workspace_id` and `project_id`, and the role in `role` of its kind.
    fn target_and_role(&self) -> Result<(Target, Role), StoreError> {
        let workspace = self.at.parse("workspace_id", self.get("workspace_id")?, Slug::parse)?;
        let target = match self.get::<Option<&str>>("project_id")? {
            Some(p) => Target::Project(workspace, self.at.parse("project_id", p, Slug::parse)?),
            None => Target::Workspace(workspace),
        };
        let role = self.at.parse("role", self.get("role")?, |r| Role::parse_for(r, target.is_project()))?;
        Ok((target, role))
    }

    /// A policy kept whole as JSON.
    fn policy(&self, column: &str) -> Result<Policy, StoreError> {
        let p: Policy = serde_json::from_str(self.get(column)?).map_err(|e| self.at.corrupt(column, e))?;
        check_policy(&p).map_err(|e| self.at.corrupt(column, e))?;
        Ok(p)
    }
}

/// Deserialising checks JSON types only: the name, slug and span rules the parsers enforce are
/// checked here, as every other column is parsed.
fn check_policy(p: &Policy) -> Result<(), String> {
    if Name::parse(p.name.as_str()).map_err(|e| e.to_string())?.as_str() != p.name.as_str() {
        return Err("name: surrounding spaces".to_owned());
    }
    if let Some(ws) = &p.workspace {
        Slug::parse(ws.as_str()).map_err(|e| format!("workspace: {e}"))?;
    }
    if p.pending_ttl.as_micros() < 0 || p.max_duration.is_some_and(|d| d.as_micros() < 0) {
        return Err("negative span".to_owned());
    }
    Ok(())
}

/// A span from its microseconds, which are never negative.
fn span(micros: i64) -> Result<Span, String> {
    if micros < 0 {
        return Err(format!("negative span {micros}"));
    }
    Ok(Span::from_micros(micros))
}

/// A text column naming a row in the errors about it.
fn key<'r>(row: &'r dyn Columns, table: &str, column: &str) -> Result<&'r str, StoreError> {
    <&str>::get(row, column).map_err(|e| StoreError::Corrupt(format!("{table}: column {column}: {e}")))
}

pub(crate) fn policy(row: &dyn Columns) -> Result<Policy, StoreError> {
    let c = Cols { row, at: At { table: "policies", key: key(row, "policies", "id")? } };
    let p = c.policy("body")?;
    let matches = p.id.0 == c.uuid("id")?
        && p.workspace.as_ref().map(Slug::as_str) == c.get::<Option<&str>>("workspace_id")?
        && p.name.as_str() == c.get::<&str>("name")?;
    if !matches {
        return Err(c.at.corrupt("body", "its id, workspace or name differs from the row's"));
    }
    Ok(p)
}

pub(crate) fn entitlement(row: &dyn Columns) -> Result<Entitlement, StoreError> {
    let workspace = key(row, "entitlements", "workspace_id")?;
    let project = row.text("project_id").ok().flatten();
    let role = key(row, "entitlements", "role")?;
    let key =
        format!("{workspace}{}{} {role}", if project.is_some() { "/" } else { "" }, project.unwrap_or(""));
    let c = Cols { row, at: At { table: "entitlements", key: &key } };
    let (target, role) = c.target_and_role()?;
    Ok(Entitlement {
        target,
        role,
        request_policy: c.opt_uuid("request_policy_id")?.map(PolicyId),
        emergency_enabled: c.get("emergency_enabled")?,
        emergency_policy: c.opt_uuid("emergency_policy_id")?.map(PolicyId),
        updated_at: c.time("updated_at")?,
    })
}

pub(crate) fn request(row: &dyn Columns) -> Result<AccessRequest, StoreError> {
    let c = Cols { row, at: At { table: "requests", key: key(row, "requests", "id")? } };
    let (target, role) = c.target_and_role()?;
    let approvals: Vec<Approval> =
        serde_json::from_str(c.get("approvals")?).map_err(|e| c.at.corrupt("approvals", e))?;
    Ok(AccessRequest {
        id: RequestId(c.uuid("id")?),
        user: UserId(c.uuid("user_id")?),
        created_by: UserId(c.uuid("created_by")?),
        target,
        role,
        duration: c
            .get::<Option<i64>>("duration")?
            .map(span)
            .transpose()
            .map_err(|e| c.at.corrupt("duration", e))?,
        justification: c.get("justification")?,
        emergency: c.get("emergency")?,
        policy: c.policy("policy")?,
        state: c.at.parse("state", c.get("state")?, RequestState::parse)?,
        approvals,
        created_at: c.time("created_at")?,
        lapses_at: c.time("lapses_at")?,
        escalated_at: c.opt_time("escalated_at")?,
        decided_at: c.opt_time("decided_at")?,
        decided_by: c.opt_uuid("decided_by")?.map(UserId),
        deny_reason: c.get("deny_reason")?,
        binding: c.opt_uuid("binding_id")?.map(BindingId),
        requested_via: c.opt_uuid("requested_via")?.map(UserId),
    })
}

/// A delegate access's recipient as stored in the `recipients` JSON array.
#[derive(serde::Serialize, serde::Deserialize)]
struct RecipientRow {
    email: String,
    status: String,
    code_hash: String,
    added_at: i64,
    decided_at: Option<i64>,
}

/// The JSON a delegate access's recipients are stored as (digests in hex).
pub(crate) fn encode_recipients(recipients: &[Recipient]) -> Result<String, serde_json::Error> {
    let rows: Vec<RecipientRow> = recipients
        .iter()
        .map(|r| RecipientRow {
            email: r.email.to_string(),
            status: r.status.as_str().to_owned(),
            code_hash: hex::encode(r.code_hash.0),
            added_at: r.added_at.as_micros(),
            decided_at: r.decided_at.map(Timestamp::as_micros),
        })
        .collect();
    serde_json::to_string(&rows)
}

pub(crate) fn access(row: &dyn Columns) -> Result<Access, StoreError> {
    let c = Cols { row, at: At { table: "accesses", key: key(row, "accesses", "id")? } };
    let rows: Vec<RecipientRow> =
        serde_json::from_str(c.get("recipients")?).map_err(|e| c.at.corrupt("recipients", e))?;
    let mut recipients = Vec::with_capacity(rows.len());
    for r in rows {
        recipients.push(Recipient {
            email: c.at.parse("recipients", &r.email, Email::parse)?,
            status: c.at.parse("recipients", &r.status, RecipientStatus::parse)?,
            code_hash: SecretHash(c.at.parse("recipients", &r.code_hash, digest_from_hex)?),
            added_at: Timestamp::from_micros(r.added_at),
            decided_at: r.decided_at.map(Timestamp::from_micros),
        });
    }
    Ok(Access {
        id: AccessId(c.uuid("id")?),
        owner: UserId(c.uuid("owner_id")?),
        name: c.at.parse("name", c.get("name")?, Name::parse)?,
        kind: c.at.parse("kind", c.get("kind")?, AccessKind::parse)?,
        scope: c.get::<Option<&str>>("scope")?.map(|s| c.at.parse("scope", s, Slug::parse)).transpose()?,
        created_at: c.time("created_at")?,
        expires_at: c.opt_time("expires_at")?,
        revoked_at: c.opt_time("revoked_at")?,
        revoked_by: c.opt_uuid("revoked_by")?.map(UserId),
        recipients,
        token: c.opt_uuid("token_id")?.map(TokenId),
        read_only: c.get("read_only")?,
    })
}

pub(crate) fn review(row: &dyn Columns) -> Result<Review, StoreError> {
    let c = Cols { row, at: At { table: "reviews", key: key(row, "reviews", "id")? } };
    let (target, role) = c.target_and_role()?;
    Ok(Review {
        id: ReviewId(c.uuid("id")?),
        request: RequestId(c.uuid("request_id")?),
        binding: BindingId(c.uuid("binding_id")?),
        holder: UserId(c.uuid("holder")?),
        target,
        role,
        opened_at: c.time("opened_at")?,
        outcome: c
            .get::<Option<&str>>("outcome")?
            .map(|o| c.at.parse("outcome", o, ReviewOutcome::parse))
            .transpose()?,
        notes: c.get("notes")?,
        completed_by: c.opt_uuid("completed_by")?.map(UserId),
        completed_at: c.opt_time("completed_at")?,
    })
}

/// The settings kept whole as JSON; their spans are never negative.
pub(crate) fn settings(body: &str) -> Result<Settings, StoreError> {
    let at = At { table: "settings", key: "1" };
    let s: Settings = serde_json::from_str(body).map_err(|e| at.corrupt("body", e))?;
    for (field, value) in [
        ("invitation_ttl", s.invitation_ttl),
        ("add_myself_default_expiry", s.add_myself_default_expiry),
        ("add_myself_max_expiry", s.add_myself_max_expiry),
        ("max_expiry", s.max_expiry),
    ] {
        span(value.as_micros()).map_err(|e| at.corrupt("body", format!("{field}: {e}")))?;
    }
    Ok(s)
}

pub(crate) fn tag_definition(row: &dyn Columns) -> Result<TagDefinition, StoreError> {
    let c = Cols { row, at: At { table: "tag_definitions", key: key(row, "tag_definitions", "key")? } };
    let t: TagDefinition = serde_json::from_str(c.get("body")?).map_err(|e| c.at.corrupt("body", e))?;
    c.at.parse("body", t.key.as_str(), TagKey::parse)?;
    if t.key.as_str() != c.at.key || t.created_at != c.time("created_at")? {
        return Err(c.at.corrupt("body", "its key or creation time differs from the row's"));
    }
    Ok(t)
}

pub(crate) fn invitation(row: &dyn Columns) -> Result<Invitation, StoreError> {
    let c = Cols { row, at: At { table: "invitations", key: key(row, "invitations", "id")? } };
    Ok(Invitation {
        id: InvitationId(c.uuid("id")?),
        workspace: c.at.parse("workspace_id", c.get("workspace_id")?, Slug::parse)?,
        email: c.at.parse("email", c.get("email")?, Email::parse)?,
        role: c.at.parse("role", c.get("role")?, WorkspaceRole::parse)?,
        membership_expires_at: c.opt_time("membership_expires_at")?,
        invited_by: UserId(c.uuid("invited_by")?),
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
        state: c.at.parse("state", c.get("state")?, InvitationState::parse)?,
        decided_at: c.opt_time("decided_at")?,
        // Invitations from before tokens existed get a digest no secret hashes to.
        token_hash: match c.get::<Option<&[u8]>>("token_hash")? {
            None => SecretHash([0; 32]),
            Some(bytes) => {
                SecretHash(bytes.try_into().map_err(|_| c.at.corrupt("token_hash", "not 32 bytes"))?)
            }
        },
    })
}

pub(crate) fn message(row: &dyn Columns) -> Result<Message, StoreError> {
    let c = Cols { row, at: At { table: "messages", key: key(row, "messages", "id")? } };
    let acks: Vec<(UserId, Timestamp)> =
        serde_json::from_str(c.get("acks")?).map_err(|e| c.at.corrupt("acks", e))?;
    Ok(Message {
        id: MessageId(c.uuid("id")?),
        workspace: c.at.parse("workspace_id", c.get("workspace_id")?, Slug::parse)?,
        text: c.get("text")?,
        mode: c.at.parse("mode", c.get("mode")?, MessageMode::parse)?,
        sender: UserId(c.uuid("sender")?),
        created_at: c.time("created_at")?,
        acks,
    })
}

pub(crate) fn platform(row: &dyn Columns) -> Result<Platform, StoreError> {
    let c = Cols { row, at: At { table: "platforms", key: key(row, "platforms", "id")? } };
    Ok(Platform {
        id: c.at.parse("id", c.get("id")?, Slug::parse)?,
        kind: c.at.parse("kind", c.get("kind")?, PlatformKind::parse)?,
        name: c.at.parse("name", c.get("name")?, Name::parse)?,
        created_by: c.opt_uuid("created_by")?.map(UserId),
        created_at: c.time("created_at")?,
        config: serde_json::from_str(c.get("config")?).map_err(|e| c.at.corrupt("config", e))?,
    })
}

pub(crate) fn credential(row: &dyn Columns) -> Result<Credential, StoreError> {
    let key =
        format!("{} of {}", key(row, "credentials", "platform_id")?, key(row, "credentials", "user_id")?);
    let c = Cols { row, at: At { table: "credentials", key: &key } };
    Ok(Credential {
        platform: c.at.parse("platform_id", c.get("platform_id")?, Slug::parse)?,
        user: UserId(c.uuid("user_id")?),
        verifier: c.get("verifier")?,
        issued_at: c.time("issued_at")?,
        valid_until: c.time("valid_until")?,
    })
}

pub(crate) fn ssh_certificate(row: &dyn Columns) -> Result<SshCertificate, StoreError> {
    let c =
        Cols { row, at: At { table: "ssh_certificates", key: key(row, "ssh_certificates", "platform_id")? } };
    let mut cert: SshCertificate =
        serde_json::from_str(c.get("record")?).map_err(|e| c.at.corrupt("record", e))?;
    cert.revoked_at = c.opt_time("revoked_at")?;
    if cert.platform.as_str() != c.get::<&str>("platform_id")?
        || i64::try_from(cert.serial).ok() != Some(c.get("serial")?)
    {
        return Err(c.at.corrupt("record", "its platform or serial differs from the row's"));
    }
    Ok(cert)
}

pub(crate) fn provision(row: &dyn Columns) -> Result<Provision, StoreError> {
    let key = format!(
        "{} on {}/{}/{} as {}",
        key(row, "provisions", "subject")?,
        key(row, "provisions", "platform_id")?,
        key(row, "provisions", "workspace_id")?,
        key(row, "provisions", "project_id")?,
        key(row, "provisions", "role")?
    );
    let c = Cols { row, at: At { table: "provisions", key: &key } };
    let role = c.at.parse("role", c.get("role")?, ProjectRole::parse)?;
    Ok(Provision {
        key: GrantKey {
            platform: c.at.parse("platform_id", c.get("platform_id")?, Slug::parse)?,
            workspace: c.at.parse("workspace_id", c.get("workspace_id")?, Slug::parse)?,
            project: c.at.parse("project_id", c.get("project_id")?, Slug::parse)?,
            subject: c.at.parse("subject", c.get("subject")?, Subject::parse)?,
            role,
        },
        place: serde_json::from_str(c.get("place")?).map_err(|e| c.at.corrupt("place", e))?,
        state: serde_json::from_str(c.get("state")?).map_err(|e| c.at.corrupt("state", e))?,
    })
}

pub(crate) fn tenant(row: &dyn Columns) -> Result<Tenant, StoreError> {
    let key = format!(
        "{}/{} on {}",
        key(row, "tenants", "workspace_id")?,
        key(row, "tenants", "project_id")?,
        key(row, "tenants", "platform_id")?
    );
    let c = Cols { row, at: At { table: "tenants", key: &key } };
    Ok(Tenant {
        workspace: c.at.parse("workspace_id", c.get("workspace_id")?, Slug::parse)?,
        project: c.at.parse("project_id", c.get("project_id")?, Slug::parse)?,
        platform: c.at.parse("platform_id", c.get("platform_id")?, Slug::parse)?,
        external_id: c.at.parse("external_id", c.get("external_id")?, ExternalId::parse)?,
        created_by: c.opt_uuid("created_by")?.map(UserId),
        created_at: c.time("created_at")?,
    })
}

pub(crate) fn service_user(row: &dyn Columns) -> Result<ServiceUser, StoreError> {
    let c = Cols { row, at: At { table: "service_users", key: key(row, "service_users", "id")? } };
    let client_id: String = c.get("client_id")?;
    if !client_id.starts_with("svc-") {
        return Err(c.at.corrupt("client_id", "not a service user client id"));
    }
    let digest: &[u8] = c.get("secret_hash")?;
    Ok(ServiceUser {
        id: ServiceUserId(c.uuid("id")?),
        workspace: c.at.parse("workspace_id", c.get("workspace_id")?, Slug::parse)?,
        project: c.at.parse("project_id", c.get("project_id")?, Slug::parse)?,
        platform: c.at.parse("platform_id", c.get("platform_id")?, Slug::parse)?,
        name: c.at.parse("name", c.get("name")?, Name::parse)?,
        client_id,
        secret_hash: SecretHash(digest.try_into().map_err(|_| c.at.corrupt("secret_hash", "not 32 bytes"))?),
        created_by: UserId(c.uuid("created_by")?),
        created_at: c.time("created_at")?,
        deleted_at: c.opt_time("deleted_at")?,
        deleted_by: c.opt_uuid("deleted_by")?.map(UserId),
        role: c.at.parse("role", c.get("role")?, ProjectRole::parse)?,
        verifier: c.get("verifier")?,
    })
}

pub(crate) fn digest_from_hex(s: &str) -> Result<[u8; 32], &'static str> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| match e {
        hex::FromHexError::InvalidStringLength | hex::FromHexError::OddLength => "not 32 bytes",
        hex::FromHexError::InvalidHexCharacter { .. } => "not hexadecimal",
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_come_back_from_hex() {
        let mut want = [0u8; 32];
        want[0] = 0xAB;
        want[31] = 0x01;
        let hex = format!("AB{}01", "00".repeat(30));
        assert_eq!(digest_from_hex(&hex), Ok(want));
        assert_eq!(digest_from_hex(&hex.to_lowercase()), Ok(want));
        assert!(digest_from_hex("AB").is_err());
        assert!(digest_from_hex(&"ZZ".repeat(32)).is_err());
    }
}
