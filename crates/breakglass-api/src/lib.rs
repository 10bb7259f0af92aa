//! Wire types of the Breakglass HTTP API (`/api/v1`), shared by the server and the client.
//!
//! Values arrive as plain strings (e-mails, identifiers, roles, times) and are parsed into the
//! core's types by the server, so that a bad value gets a precise error with a stable code
//! rather than a generic deserialisation failure. Request bodies refuse unknown fields.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Response header of every successful write: the audit sequence number it committed at.
/// (Header names are case-insensitive; it is usually written `Breakglass-Seq`.)
pub const SEQ_HEADER: &str = "breakglass-seq";

/// An error in `application/problem+json` form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` unless more is known).
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable machine-readable code, e.g. `workspace.quota_exceeded`.
    pub code: String,
}

fn about_blank() -> String {
    "about:blank".into()
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Paging parameters of every list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Maximum items per page (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Liveness and the audit sequence this server reflects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when the server answers.
    pub status: String,
    /// Sequence number of the last audit event applied to this server's index.
    pub seq: i64,
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Stable id.
    pub id: String,
    /// E-mail (lowercase).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Admin-area role: `none`, `admin`, `employee` or `auditor`.
    pub admin_role: String,
    /// `active` or `disabled`.
    pub status: String,
    /// When created (RFC 3339).
    pub created_at: String,
}

/// Body of `POST /api/v1/users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// E-mail, unique regardless of case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Admin-area role (default `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_role: Option<String>,
    /// Initial password (at least 12 characters); without one the user cannot sign in with a
    /// password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// The caller, as `GET /api/v1/me` shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The signed-in user.
    pub user: User,
    /// Workspaces where the caller holds a role, with their highest workspace role (if any).
    pub workspaces: Vec<MyWorkspace>,
}

/// A workspace the caller belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MyWorkspace {
    /// Workspace identifier.
    pub workspace: String,
    /// Highest workspace role held now, absent when the caller only holds project roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Body of `POST /api/v1/auth/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Bearer token for `Authorization: Bearer ...`; shown only here.
    pub token: String,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
    /// Who signed in.
    pub user: User,
}

/// Body of `POST /api/v1/tokens`. Give at most one of `expires_at` and `expires_in`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Your label for the token.
    pub name: String,
    /// When it stops working (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long it works from now (`90m`, `2h`, `30d`, `PT2H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// A token as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Token {
    /// Token id (not the secret).
    pub id: String,
    /// Label.
    pub name: String,
    /// `api` or `session`.
    pub kind: String,
    /// When created.
    pub created_at: String,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token's listing.
    #[serde(flatten)]
    pub token: Token,
    /// The bearer secret. Store it now; it cannot be shown again.
    pub secret: String,
}

/// Body of `POST /api/v1/workspaces`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Immutable identifier (`^[a-z0-9][a-z0-9-]{1,62}$`).
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// E-mails of the initial owners (default: the caller).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Maximum number of projects (default: the installation's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_quota: Option<u32>,
}

/// A workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Workspace {
    /// Immutable identifier.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// `active`, `disabled` or `pending_approval`.
    pub status: String,
    /// Maximum number of projects.
    pub project_quota: u32,
    /// Number of projects.
    pub project_count: u32,
    /// When created.
    pub created_at: String,
}

/// Body of `POST /api/v1/workspaces/{ws}/projects`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Immutable identifier, unique in the workspace.
    pub identifier: String,
    /// Display name.
    pub name: String,
}

/// A project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Owning workspace.
    pub workspace: String,
    /// Immutable identifier.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// When created.
    pub created_at: String,
}

/// Body of `PUT .../members/{email}`: the user's membership role. Give at most one of
/// `expires_at` and `expires_in`; neither for standing access.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMember {
    /// Workspace role (`member`, `manager`, `owner`) or project role (`reader`, `user`, `admin`).
    pub role: String,
    /// When the membership ends (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long the membership lasts from now (`90m`, `2h`, `1d`, `PT2H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// One binding: a user holding a role on a workspace or project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    /// Binding id.
    pub id: String,
    /// The holder's e-mail.
    pub user: String,
    /// Workspace.
    pub workspace: String,
    /// Project, for a project binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Role.
    pub role: String,
    /// `direct` (membership) or `grant` (temporary, on top of membership).
    pub source: String,
    /// From when it counts.
    pub starts_at: String,
    /// Until when it counts (exclusive), if it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Recorded reason (grants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `POST /api/v1/grants`: a temporary role on top of any membership.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    /// The holder's e-mail.
    pub user: String,
    /// Workspace.
    pub workspace: String,
    /// Project, for a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Role.
    pub role: String,
    /// When the grant ends (RFC 3339). One of `expires_at` / `expires_in` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long the grant lasts from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// Why, recorded in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `POST /api/v1/check`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The user's e-mail.
    pub user: String,
    /// Workspace identifier.
    pub workspace: String,
    /// Project identifier; absent to check a workspace role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The role asked for; any higher role of the same kind also answers yes.
    pub role: String,
}

/// A binding that makes a check succeed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Via {
    /// Binding id.
    pub binding_id: String,
    /// The role it grants.
    pub role: String,
    /// `direct` or `grant`.
    pub source: String,
    /// Until when it counts, if it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The answer to a check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    /// Whether the user holds the role right now.
    pub allowed: bool,
    /// When allowed: until when (absent when some binding never ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When allowed: the bindings that grant it, latest-ending first.
    #[serde(default)]
    pub via: Vec<Via>,
    /// When denied: `no_binding`, `unknown_target`, `workspace_not_active` or `user_disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `POST /api/v1/check/batch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCheckRequest {
    /// Up to 10,000 checks, answered in order.
    pub checks: Vec<CheckRequest>,
}

/// Answers of a batch, in the order asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchCheckResponse {
    /// One answer per check.
    pub results: Vec<CheckResponse>,
}

/// Filters of `GET /api/v1/audit` (history endpoints fix `workspace` and `project`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events of this workspace (including its projects').
    pub workspace: Option<String>,
    /// Only events of this project (needs `workspace`).
    pub project: Option<String>,
    /// Only events of these types, comma-separated (e.g. `USER_ASSIGNED,USER_REMOVED`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only events after this sequence number.
    pub after: Option<i64>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    pub until: Option<String>,
    /// Maximum events per page (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    /// Position in the log.
    pub seq: i64,
    /// When it happened.
    pub time: String,
    /// Event type, e.g. `USER_ASSIGNED`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Who acted (e-mail or `system`).
    pub actor: String,
    /// On whose behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// Workspace concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Project concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Object acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What changed.
    pub details: Value,
    /// Chain hash of the previous event (hex).
    pub prev_hash: String,
    /// This event's chain hash (hex).
    pub hash: String,
}

/// Result of recomputing the audit hash chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VerifyReport {
    /// True when every link holds.
    pub ok: bool,
    /// Number of events checked.
    pub events: i64,
    /// Hash of the last good event (hex).
    pub head_hash: String,
    /// The first broken link, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<BrokenLink>,
}

/// Where the chain breaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BrokenLink {
    /// Sequence number of the first bad event.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}
