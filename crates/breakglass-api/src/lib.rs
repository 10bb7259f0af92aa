//! Wire types of the Breakglass HTTP API (`/api/v1`), shared by the server and the client.
//!
//! Values arrive as plain strings (e-mails, identifiers, roles, times) and are parsed into the
//! core's types by the server, so that a bad value gets a precise error with a stable code
//! rather than a generic deserialisation failure. Request bodies refuse unknown fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

mod enums;
pub use enums::*;

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
    /// `ok` when the server answers; `degraded` when it answers checks but refuses writes
    /// because the audit log failed an integrity check (`integrity` says why).
    pub status: HealthStatus,
    /// Sequence number of the last audit event applied to this server's index.
    pub seq: i64,
    /// True when this server could not reach the database at its last attempt: it still answers
    /// checks from its index (as of `seq`), and refuses writes with 503.
    #[serde(default)]
    pub stale: bool,
    /// Why writes are refused: the audit log's head is behind one of its anchors (the change
    /// log, a signed checkpoint) or differs from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
    /// Platforms this server reconciles but could not reach or use at its last pass, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealthy_platforms: Vec<UnhealthyPlatform>,
}

/// A platform the provisioning engine could not reach or use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnhealthyPlatform {
    /// Platform identifier.
    pub platform: String,
    /// Why (never a secret).
    pub error: String,
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
    pub admin_role: AdminRole,
    /// `active` or `disabled`.
    pub status: UserStatus,
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
    /// Whose rights are in use: the signed-in user, or the owner a delegate acts as.
    pub user: User,
    /// When acting through a delegate access: the person acting (the credential's holder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<String>,
    /// The workspaces the credential is confined to; absent: not confined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// The credential may only read.
    #[serde(default)]
    pub read_only: bool,
    /// Delegate accesses shared with the caller and waiting for an answer.
    #[serde(default)]
    pub pending_accesses: u32,
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
    pub role: Option<WorkspaceRole>,
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
    /// The one workspace it is confined to; absent: wherever you may act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// It may only read (every write answers 403 `token.read_only`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A token as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Token {
    /// Token id (not the secret).
    pub id: String,
    /// Label.
    pub name: String,
    /// `api` or `session`.
    pub kind: TokenKind,
    /// When created.
    pub created_at: String,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The one workspace it is confined to; absent: not confined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// It may only read.
    #[serde(default)]
    pub read_only: bool,
    /// When it last authenticated a request (recorded within a few seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// The access it was created as, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_id: Option<String>,
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

/// Body of `POST /api/v1/accesses`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccess {
    /// Your private label (recipients never see it).
    pub name: String,
    /// `api_token` (a bearer token acting as you) or `delegate` (named people act as you).
    pub kind: String,
    /// The one workspace it is confined to; absent: global.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When it stops working (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long it works from now (`90m`, `2h`, `30d`, `PT2H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// For an API token: it may only read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// For a delegate access: the recipients' e-mail addresses (accounts not needed yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
}

/// A recipient of a delegate access.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessRecipient {
    /// Their address.
    pub email: String,
    /// `pending`, `accepted` or `declined`.
    pub status: RecipientStatus,
    /// When they were added.
    pub added_at: String,
    /// When they accepted or declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// An access as listed. Recipients see neither its name nor the other recipients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Access {
    /// Access id.
    pub id: String,
    /// Whose rights it carries (e-mail).
    pub owner: String,
    /// `api_token` or `delegate`.
    pub kind: AccessKind,
    /// The owner's private label: shown to the owner and the admin area only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The one workspace it is confined to; absent: global.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `active`, `revoked` or `expired`.
    pub status: AccessStatus,
    /// When created.
    pub created_at: String,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// For a delegate access: its recipients (for a recipient: only themselves).
    #[serde(default)]
    pub recipients: Vec<AccessRecipient>,
    /// For an API token access: the token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// For an API token access: it may only read.
    #[serde(default)]
    pub read_only: bool,
}

/// The code a recipient needs to accept a delegate access; shown once, to the owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecipientCode {
    /// The recipient's address.
    pub email: String,
    /// The acceptance code (`bga_...`). Pass it on to the recipient; it cannot be shown again.
    pub code: String,
}

/// An access just created: the only time its secrets are shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedAccess {
    /// The access.
    #[serde(flatten)]
    pub access: Access,
    /// For an API token: the bearer secret. Store it now; it cannot be shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// For a delegate access: each recipient's acceptance code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<RecipientCode>,
}

/// Body of `POST /api/v1/accesses/{id}/recipients`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRecipient {
    /// The address to share with.
    pub email: String,
}

/// Body of `POST /api/v1/accesses/{id}/accept`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptAccess {
    /// The acceptance code the owner passed on.
    pub code: String,
}

/// Query of `GET /api/v1/accesses`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// Whose accesses (e-mail); another user's only for the admin area. Default: yours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Body of `POST /api/v1/workspaces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
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
    #[serde(deserialize_with = "whole::opt_u32")]
    pub project_quota: Option<u32>,
    /// Further initial users and their workspace roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<InitialMember>,
    /// Tags (mandatory ones must be given unless they have a default).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// An initial user of a workspace created by the admin area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitialMember {
    /// The user's e-mail.
    pub email: String,
    /// `member`, `manager` or `owner`.
    pub role: String,
}

/// Body of `POST /api/v1/workspaces/register`: self-service registration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWorkspace {
    /// Immutable identifier.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Body of `PATCH /api/v1/workspaces/{ws}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Identifiers never change; giving a different one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

/// Body of the workspace lifecycle actions (approve, reject, disable, enable).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleAction {
    /// Why, recorded in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `PUT /api/v1/workspaces/{ws}/quota`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuota {
    /// Maximum number of projects.
    #[serde(deserialize_with = "whole::u32")]
    pub project_quota: u32,
}

/// Body of `POST /api/v1/workspaces/{ws}/members/me` (optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMyself {
    /// When the membership ends (default: the installation's "add myself" default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long it lasts from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// A workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Workspace {
    /// Immutable identifier.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// `active`, `disabled` or `pending_approval`.
    pub status: WorkspaceStatus,
    /// Maximum number of projects.
    #[serde(deserialize_with = "whole::u32")]
    pub project_quota: u32,
    /// Number of projects.
    pub project_count: u32,
    /// Emergency reviews still open in this workspace.
    #[serde(default)]
    pub open_reviews: u32,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// When created.
    pub created_at: String,
}

/// Body of `POST /api/v1/workspaces/{ws}/projects`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Immutable identifier, unique in the workspace.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Tags (mandatory ones must be given unless they have a default).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
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
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
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
    /// Why; needed when the entitlement's policy turns this assignment into a request that
    /// requires a justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
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
    pub role: Role,
    /// `direct` (membership), `grant` (temporary, on top of membership), `request` or
    /// `emergency` (granted by an approved request).
    pub source: BindingSource,
    /// The request that granted it, for `request` and `emergency` bindings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// True for access granted by an emergency request.
    #[serde(default)]
    pub emergency: bool,
    /// From when it counts.
    pub starts_at: String,
    /// Until when it counts (exclusive), if it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Recorded reason (grants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where this access stands on each of the project's tenants whose platform provisions it
    /// (absent for workspace roles and where nothing is provisioned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioning: Vec<Provisioning>,
}

/// Where a binding's access stands on one platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Provisioning {
    /// Platform identifier.
    pub platform: String,
    /// `pending` (not placed yet), `provisioned`, `failed` (retried) or `revoked` (the access
    /// does not count now, so the platform holds none).
    pub state: ProvisioningState,
    /// The account on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Attempts so far, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// When it is tried again, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<String>,
    /// Since when it is in this state (placed, or first failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
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
    /// Answer only from a state that includes this audit sequence number (the `Breakglass-Seq`
    /// of an earlier write): the server catches up first; a number no write has reached answers
    /// 422 `consistency.unknown_seq`, and a server that cannot reach the database in time 503
    /// `consistency.behind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "whole::opt_i64")]
    pub min_seq: Option<i64>,
}

/// A binding that makes a check succeed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Via {
    /// Binding id.
    pub binding_id: String,
    /// The role it grants.
    pub role: Role,
    /// `direct`, `grant`, `request` or `emergency`.
    pub source: BindingSource,
    /// The request that granted it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// True for emergency access.
    #[serde(default)]
    pub emergency: bool,
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
    pub reason: Option<DenyReason>,
}

/// Body of `POST /api/v1/check/batch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCheckRequest {
    /// Up to 10,000 checks, answered in order.
    pub checks: Vec<CheckRequest>,
    /// Answer only from a state that includes this audit sequence number (see
    /// `CheckRequest::min_seq`; the highest of this and the checks' own applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "whole::opt_i64")]
    pub min_seq: Option<i64>,
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

/// One step of a policy: `count` distinct approvals from an approver set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyStep {
    /// `workspace_managers`, `workspace_owners`, `admin_area` or `users`.
    pub approvers: String,
    /// The approvers' e-mails, for `users`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Distinct approvals needed (1 to 50).
    #[serde(deserialize_with = "whole::u32")]
    pub count: u32,
}

/// Body of `POST /api/v1/policies` and `PUT /api/v1/policies/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// Display name.
    pub name: String,
    /// Owning workspace; absent for an installation-wide policy (admins only). Cannot change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Ordered steps; none means requests are granted at once.
    #[serde(default)]
    pub steps: Vec<PolicyStep>,
    /// Longest access a request may ask for (`4h`, `30d`); absent for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    /// Whether requests must give a justification (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification_required: Option<bool>,
    /// How long a request may wait for approvals (default `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_ttl: Option<String>,
}

/// An approval policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    /// Policy id (the nil UUID for the installation default).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Owning workspace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Ordered steps.
    pub steps: Vec<PolicyStep>,
    /// Longest access a request may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    /// Whether requests must give a justification.
    pub justification_required: bool,
    /// How long a request may wait for approvals.
    pub pending_ttl: String,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
}

/// Body of `PUT .../entitlements/{role}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitlementBody {
    /// Policy id for normal requests; absent for the installation default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_policy: Option<String>,
    /// Whether emergency requests are allowed.
    #[serde(default)]
    pub emergency_enabled: bool,
    /// Policy id for emergency requests (required when they are enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_policy: Option<String>,
}

/// A policy named by an entitlement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyRef {
    /// Policy id.
    pub id: String,
    /// Policy name.
    pub name: String,
}

/// The settings of one entitlement (a role on a workspace or project).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entitlement {
    /// Workspace.
    pub workspace: String,
    /// Project, for a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Role.
    pub role: Role,
    /// Policy for normal requests (the installation default when nothing is set).
    pub request_policy: PolicyRef,
    /// Whether emergency requests are allowed.
    pub emergency_enabled: bool,
    /// Policy for emergency requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_policy: Option<PolicyRef>,
    /// True when nothing was set and the installation default applies.
    pub default: bool,
}

/// Body of `POST /api/v1/requests`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Workspace.
    pub workspace: String,
    /// Project, for a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Role.
    pub role: String,
    /// How long the access lasts once granted (`2h`, `1d`, `PT30M`).
    pub duration: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Use the entitlement's emergency policy.
    #[serde(default)]
    pub emergency: bool,
}

/// One approval of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Approval {
    /// Approver's e-mail.
    pub by: String,
    /// The step it counted for (1-based).
    pub step: u32,
    /// When.
    pub at: String,
    /// An admin-area override.
    #[serde(rename = "override")]
    pub is_override: bool,
    /// The delegate who gave it on the approver's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// An access request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Request {
    /// Request id.
    pub id: String,
    /// Who the access is for.
    pub user: String,
    /// Who opened it (differs when a manager's assignment became a request).
    pub created_by: String,
    /// The delegate who opened it on `created_by`'s behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_via: Option<String>,
    /// Workspace.
    pub workspace: String,
    /// Project, for a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Role.
    pub role: Role,
    /// How long the access lasts once granted; absent for standing access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// An emergency request.
    pub emergency: bool,
    /// `pending`, `granted`, `denied`, `cancelled` or `lapsed`.
    pub state: RequestState,
    /// The policy this request is governed by: a copy taken when it opened (or was escalated);
    /// later policy changes do not affect it.
    pub policy: Policy,
    /// Approvals so far.
    pub approvals: Vec<Approval>,
    /// The step waiting for approvals (1-based), while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<u32>,
    /// True while pending if there are not enough eligible approvers left to complete it; an
    /// admin-area override is then the way out.
    pub quorum_unreachable: bool,
    /// When opened.
    pub created_at: String,
    /// When it lapses if still pending.
    pub lapses_at: String,
    /// When escalated to emergency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<String>,
    /// When decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Who decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Why it was denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<String>,
    /// The binding it granted or extended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_id: Option<String>,
}

/// Body of `POST /api/v1/requests/{id}/approve` (optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// As an admin-area admin or employee outside the step's approvers: grant the request at
    /// once, recorded as an override.
    #[serde(default, rename = "override")]
    pub is_override: bool,
}

/// Body of `POST /api/v1/requests/{id}/deny`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyRequest {
    /// Why (required).
    pub reason: String,
}

/// Filters of `GET /api/v1/requests`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// `mine` (default: requests for or opened by the caller) or `visible` (all the caller may see).
    pub scope: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only this workspace.
    pub workspace: Option<String>,
    /// Maximum items per page (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A pending request the caller may act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    /// The request.
    pub request: Request,
    /// The caller is an approver of its current step.
    pub can_approve: bool,
    /// The caller may only approve it as an admin-area override.
    pub override_only: bool,
}

/// An emergency review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    /// Review id.
    pub id: String,
    /// The emergency request.
    pub request_id: String,
    /// The binding it granted.
    pub binding_id: String,
    /// Who held the emergency access.
    pub holder: String,
    /// Workspace.
    pub workspace: String,
    /// Project, for a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Role.
    pub role: Role,
    /// When it opened.
    pub opened_at: String,
    /// `open` or `completed`.
    pub state: ReviewState,
    /// `justified` or `not_justified`, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReviewOutcome>,
    /// Reviewer's notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Who completed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

/// Body of `POST /api/v1/reviews/{id}/complete`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteReview {
    /// `justified` or `not_justified`.
    pub outcome: String,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Filters of `GET /api/v1/reviews`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// `open` (default), `completed` or `all`.
    pub state: Option<String>,
    /// Only this workspace.
    pub workspace: Option<String>,
    /// Maximum items per page (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filter of `GET /api/v1/policies`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PolicyQuery {
    /// Only this workspace's policies (plus installation-wide ones).
    pub workspace: Option<String>,
    /// Maximum items per page (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of `GET /api/v1/workspaces` and `GET .../projects`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those with this status (`active`, `disabled`, `pending_approval`, `rejected`; workspaces only).
    pub status: Option<String>,
    /// Only those carrying this tag: `key` (any value) or `key:value`.
    pub tag: Option<String>,
    /// Maximum items per page (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Installation settings (`GET`/`PATCH /api/v1/settings`; in a PATCH every field is optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `open`, `approval` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_registration: Option<String>,
    /// `open`, `invited_only` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup: Option<String>,
    /// Days an invitation stays valid (1 to 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "whole::opt_u32")]
    pub invitation_ttl_days: Option<u32>,
    /// Project quota of new workspaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "whole::opt_u32")]
    pub default_project_quota: Option<u32>,
    /// "Add myself" assigns `member` instead of `manager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_admin_role_assignment: Option<bool>,
    /// Default expiry of "add myself" (`8h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_myself_default_expiry: Option<String>,
    /// Longest expiry of "add myself" (`7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_myself_max_expiry: Option<String>,
    /// The furthest any expiry may lie from when it is set (`366d`; 1 hour to 3660 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_expiry: Option<String>,
    /// Most live API tokens one user may hold (1 to 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(deserialize_with = "whole::opt_u32")]
    pub max_api_tokens_per_user: Option<u32>,
    /// Most live sessions one user may hold (1 to 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(deserialize_with = "whole::opt_u32")]
    pub max_sessions_per_user: Option<u32>,
}

/// Body of `POST /api/v1/workspaces/{ws}/invitations`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// The invitee's e-mail (they may have no account yet).
    pub email: String,
    /// `member`, `manager` or `owner`.
    pub role: String,
    /// When the resulting membership ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long the resulting membership lasts, counted from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// An invitation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    /// Invitation id.
    pub id: String,
    /// Workspace.
    pub workspace: String,
    /// Invitee's e-mail.
    pub email: String,
    /// The role accepting grants.
    pub role: WorkspaceRole,
    /// When the resulting membership ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_expires_at: Option<String>,
    /// Who invited.
    pub invited_by: String,
    /// `pending`, `accepted`, `declined`, `cancelled` or `expired`.
    pub state: InvitationState,
    /// When created.
    pub created_at: String,
    /// Until when it can be accepted.
    pub expires_at: String,
    /// The secret the invitee needs to accept (and to sign up by invitation). Present only in the
    /// answer that created the invitation: pass it on out of band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Body of `POST /api/v1/invitations/{id}/accept`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The invitation's secret, from whoever invited you.
    pub token: String,
}

/// Body of `POST /api/v1/auth/signup`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    /// E-mail (an invited address when sign-up is `invited_only`).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Password (at least 12 characters).
    pub password: String,
    /// The secret of a pending invitation for this e-mail (required when sign-up is `invited_only`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_token: Option<String>,
}

/// A tag definition (`POST /api/v1/tags` creates or replaces by key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagDefinition {
    /// Key (`cost-center`).
    pub key: String,
    /// `workspace` or `project`.
    pub target: String,
    /// Only the admin area sets it.
    #[serde(default)]
    pub restricted: bool,
    /// Allowed values (give this or `pattern`, or neither for any value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// A regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Every workspace/project of the target kind must carry it.
    #[serde(default)]
    pub mandatory: bool,
    /// Value used when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Body of `PUT .../tags/{key}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTag {
    /// The value.
    pub value: String,
}

/// Body of `POST /api/v1/workspaces/{ws}/messages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The text.
    pub text: String,
    /// `all_must_read` (each user until they acknowledge) or `single_read` (gone for all once one does).
    pub mode: String,
}

/// One acknowledgement of a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Acknowledgement {
    /// Who.
    pub user: String,
    /// When.
    pub at: String,
}

/// A message to a workspace's users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Message id.
    pub id: String,
    /// Workspace.
    pub workspace: String,
    /// The text.
    pub text: String,
    /// `all_must_read` or `single_read`.
    pub mode: MessageMode,
    /// Who sent it.
    pub sender: String,
    /// When.
    pub created_at: String,
    /// Who acknowledged it (shown to the admin area).
    #[serde(default)]
    pub acknowledgements: Vec<Acknowledgement>,
}

// ---- Platforms, tenants, service users ----

/// Body of `POST /api/v1/platforms`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPlatform {
    /// Immutable identifier (`^[a-z0-9][a-z0-9-]{1,62}$`), unique in the installation.
    pub identifier: String,
    /// What kind of place it is: 2 to 32 lowercase letters, digits or `-` (`aws`, `kubernetes`,
    /// `postgres`). `postgres` has a connector that provisions access.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Connection settings by key (for `postgres`: `url` = `postgres://ROLE:PASSWORD@HOST:PORT/DB`
    /// and optionally `schemas`). Secret ones (`url`, `password`, ...) are sealed at rest and
    /// never shown again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// What each project role (`reader`, `user`, `admin`) means on the platform, in its
    /// connector's terms (for `postgres`: table privileges such as `SELECT, INSERT`, and `CREATE`
    /// for the schemas). Roles left out keep the connector's default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mapping: BTreeMap<String, String>,
    /// `enforce` (default): access on a managed role that Breakglass did not grant is removed;
    /// `report`: it is only recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// How users' accounts are named: a template over `{email}`, `{local}` and `{id}` (default
    /// `bg_{email}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_template: Option<String>,
    /// The longest a credential stays valid (default `8h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_lifetime: Option<String>,
}

/// Body of `PATCH /api/v1/platforms/{platform}`: what to change; the rest stays.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlatform {
    /// Settings to set, by key; `null` removes one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, Option<String>>,
    /// Mappings to set, by project role; `null` goes back to the connector's default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mapping: BTreeMap<String, Option<String>>,
    /// `enforce` or `report`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The account name template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_template: Option<String>,
    /// The longest credential lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_lifetime: Option<String>,
}

/// A place where projects run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Platform {
    /// Identifier.
    pub identifier: String,
    /// Kind (`aws`, `kubernetes`, ...).
    pub kind: String,
    /// Display name.
    pub name: String,
    /// When registered.
    pub created_at: String,
    /// Whether its kind has a connector: grants on its tenants are provisioned there.
    #[serde(default)]
    pub provisioned: bool,
    /// Settings that are not secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// The names of the secret settings (their values are never shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_settings: Vec<String>,
    /// What each project role means there (the connector's default where none is set).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mapping: BTreeMap<String, String>,
    /// `enforce` or `report`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// How users' accounts are named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_template: Option<String>,
    /// The longest a credential stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_lifetime: Option<String>,
    /// How the engine finds it (on `GET /api/v1/platforms/{platform}` of a provisioned one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PlatformStatus>,
    /// How hosts trust an SSH platform's certificates (on `GET /api/v1/platforms/{platform}`
    /// of a platform of kind `ssh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshHostSetup>,
}

/// What a host needs to accept an SSH platform's certificates, and what the platform issued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SshHostSetup {
    /// The certificate authority's public key: the content of the `TrustedUserCAKeys` file.
    pub ca_public_key: String,
    /// The `sshd_config` lines a host needs (its files at their usual places).
    pub sshd_config: String,
    /// Where hosts fetch the key revocation list (no credential needed), relative to the server.
    pub krl_path: String,
    /// Certificates issued (since the server started, those then valid) that are still valid.
    pub certificates_valid: u32,
    /// Of those, the ones revoked early: in the revocation list.
    pub certificates_revoked: u32,
}

/// Body of `POST /api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/ssh-certificates`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignSshKey {
    /// The public key to sign, as one `authorized_keys` line (`ssh-ed25519 AAAA... comment`).
    pub public_key: String,
}

/// An SSH certificate just signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SshCertificate {
    /// Platform identifier.
    pub platform: String,
    /// Workspace.
    pub workspace: String,
    /// Project.
    pub project: String,
    /// The tenant's external id (the group of hosts).
    pub external_id: String,
    /// Its serial (decimal; the revocation list names it).
    pub serial: String,
    /// Its key id (sshd logs it).
    pub key_id: String,
    /// The principals it carries: the login names hosts map to accounts.
    pub principals: Vec<String>,
    /// The project roles it was issued for.
    pub roles: Vec<String>,
    /// The signed key's SHA-256 fingerprint.
    pub fingerprint: String,
    /// The first instant it is valid.
    pub valid_after: String,
    /// When hosts stop accepting it (they refuse it themselves).
    pub expires_at: String,
    /// The certificate, as the `-cert.pub` file beside the key: `ssh` uses it from there.
    pub certificate: String,
}

/// How the provisioning engine finds a platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlatformStatus {
    /// Whether the server answering reconciles it (the others leave it to that one).
    pub reconciler: bool,
    /// `true` when its last pass reached and used it; absent when this server does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Why its last pass failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Since when it has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// When this server's last pass ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pass: Option<String>,
    /// Grants it holds.
    pub provisioned: u32,
    /// Grants that failed and are retried.
    pub failed: u32,
}

/// What `GET /api/v1/platforms/{platform}/drift` found, changing nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Drift {
    /// Grants the platform lacks.
    pub missing: Vec<Membership>,
    /// Grants of Breakglass's the platform still holds but should not.
    pub extra: Vec<Membership>,
    /// Members of managed roles that Breakglass did not grant (by hand).
    pub foreign: Vec<Membership>,
}

/// A member of a managed role on a platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    /// The managed role (group).
    pub role: String,
    /// The member.
    pub member: String,
}

/// What `POST /api/v1/platforms/{platform}/sync` did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncReport {
    /// Grants placed.
    pub granted: u32,
    /// Grants removed.
    pub revoked: u32,
    /// Grants that failed (retried).
    pub failed: u32,
    /// Accounts made or changed.
    pub accounts_changed: u32,
    /// Accounts removed.
    pub accounts_removed: u32,
    /// Members of managed roles Breakglass did not grant, removed (`enforce`) or reported.
    pub drift: Vec<Membership>,
}

/// A credential just issued: the only time its password is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssuedCredential {
    /// Platform identifier.
    pub platform: String,
    /// Workspace.
    pub workspace: String,
    /// Project.
    pub project: String,
    /// The login name on the platform.
    pub login: String,
    /// The password. Store it now; it cannot be shown again.
    pub password: String,
    /// When the platform stops accepting it (it refuses it itself).
    pub expires_at: String,
    /// Whether the platform already accepts it (false: the engine has not placed it yet, or
    /// another server reconciles the platform; it will within seconds).
    pub ready: bool,
    /// A ready command line to connect, where the kind has one (`psql ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
}

/// Body of `POST /api/v1/workspaces/{ws}/projects/{p}/tenants`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Identifier of a registered platform.
    pub platform: String,
    /// How the platform names the tenant (an account id, a namespace, ...): 1 to 256
    /// characters, no control characters or surrounding spaces.
    pub external_id: String,
}

/// A project's footprint on one platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    /// Workspace.
    pub workspace: String,
    /// Project.
    pub project: String,
    /// Platform identifier.
    pub platform: String,
    /// The platform's kind.
    pub platform_kind: String,
    /// How the platform names the tenant.
    pub external_id: String,
    /// Who created it (`system` when nobody did).
    pub created_by: String,
    /// When.
    pub created_at: String,
}

/// Body of `POST /api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/service-users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceUser {
    /// A label, unique among the tenant's service users.
    pub name: String,
    /// The project role it holds on the tenant (`reader`, `user`, `admin`; default `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A service user as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceUser {
    /// Service user id (for deleting it).
    pub id: String,
    /// Workspace.
    pub workspace: String,
    /// Project.
    pub project: String,
    /// Platform identifier.
    pub platform: String,
    /// Label.
    pub name: String,
    /// The public half of the credential; on a provisioned platform also its login name.
    pub client_id: String,
    /// The project role it holds on the tenant.
    #[serde(default = "default_service_role")]
    pub role: String,
    /// Its login on the platform, where the platform's connector makes logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: String,
}

fn default_service_role() -> String {
    "user".to_owned()
}

/// A service user just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedServiceUser {
    /// The service user's listing.
    #[serde(flatten)]
    pub service_user: ServiceUser,
    /// The secret. Store it now; it cannot be shown again.
    pub secret: String,
}

/// A signed checkpoint of the audit chain's head: one JSON line of the checkpoints file a
/// server appends to (by default `<data-dir>/audit-checkpoints.jsonl`), for operators to ship
/// off the machine. A log whose head is behind a checkpoint, or whose event at a checkpoint's
/// `seq` has another hash, was truncated or rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The audit sequence of the head.
    pub seq: i64,
    /// The head event's hash (hex).
    pub hash: String,
    /// When the checkpoint was taken (RFC 3339).
    pub at: String,
    /// The Ed25519 public key that signed it (hex).
    pub key: String,
    /// The Ed25519 signature over [`Checkpoint::message`] (hex).
    pub sig: String,
}

impl Checkpoint {
    /// The bytes signed: the format's name, then `seq`, `hash` and `at`, one per line.
    pub fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
        format!("breakglass-checkpoint-v1\n{seq}\n{hash}\n{at}").into_bytes()
    }

    /// Checks the signature with the key the checkpoint names (compare that key with the one
    /// you trust). Says what is wrong otherwise.
    pub fn verify(&self) -> Result<(), String> {
        use ed25519_dalek::{Signature, VerifyingKey};
        let bytes = |what: &str, hex_text: &str, len: usize| -> Result<Vec<u8>, String> {
            let b = hex::decode(hex_text).map_err(|_| format!("{what} is not hex"))?;
            if b.len() == len {
                Ok(b)
            } else {
                Err(format!("{what} is not {len} bytes"))
            }
        };
        let key: [u8; 32] = bytes("key", &self.key, 32)?.try_into().map_err(|_| "key")?;
        let sig: [u8; 64] = bytes("sig", &self.sig, 64)?.try_into().map_err(|_| "sig")?;
        bytes("hash", &self.hash, 32)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|e| format!("key: {e}"))?;
        // Strict: no weak keys, no malleable signatures.
        key.verify_strict(&Self::message(self.seq, &self.hash, &self.at), &Signature::from_bytes(&sig))
            .map_err(|_| "the signature does not match".to_owned())
    }
}

/// Whole numbers as a JSON Schema `integer` admits them: `3` and `3.0` alike. serde refuses a
/// number with a decimal point for an integer field; clients (and generators working from the
/// document) may send one.
pub mod whole {
    use serde::de::{Error, Unexpected, Visitor};
    use serde::{Deserialize, Deserializer};

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = i128;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<i128, E> {
            // Within i64's range a whole f64 converts exactly.
            if v.fract() == 0.0 && v.abs() <= 9.0e18 {
                #[allow(clippy::cast_possible_truncation)]
                Ok(v as i128)
            } else {
                Err(E::invalid_type(Unexpected::Float(v), &self))
            }
        }
    }

    fn within<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D, what: &'static str) -> Result<T, D::Error> {
        let n = d.deserialize_any(Whole)?;
        T::try_from(n).map_err(|_| D::Error::invalid_value(Unexpected::Other(&n.to_string()), &what))
    }

    /// A `u32`.
    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        within(d, "a whole number from 0 to 4294967295")
    }

    /// An optional `u32` (`null` or absent: `None`).
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "u32")] u32);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    /// An optional `i64` (`null` or absent: `None`).
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "i64")] i64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    /// An `i64`.
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        within(d, "a whole number within 64 bits")
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct T {
            #[serde(deserialize_with = "super::u32")]
            a: u32,
            #[serde(default, deserialize_with = "super::opt_i64")]
            b: Option<i64>,
        }

        #[test]
        fn whole_floats_are_integers_and_the_rest_are_refused() {
            let t: T = serde_json::from_str(r#"{"a": 3.0, "b": -7.0}"#).unwrap();
            assert_eq!(t, T { a: 3, b: Some(-7) });
            let t: T = serde_json::from_str(r#"{"a": 4294967295}"#).unwrap();
            assert_eq!(t, T { a: u32::MAX, b: None });
            let t: T = serde_json::from_str(r#"{"a": 1, "b": null}"#).unwrap();
            assert_eq!(t.b, None);
            for bad in
                [r#"{"a": 3.5}"#, r#"{"a": -1}"#, r#"{"a": 4294967296}"#, r#"{"a": "3"}"#, r#"{"a": 1e300}"#]
            {
                assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
            }
        }
    }
}
