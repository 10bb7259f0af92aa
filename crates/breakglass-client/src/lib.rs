//! Typed async HTTP client for the Breakglass API (`/api/v1`), over the wire types of
//! `breakglass-api`.
//!
//! One method per endpoint; bodies and answers are the `breakglass_api` types. Lists return one
//! [`Page`]; the `all_*` helpers follow `next_cursor` to the end. Every successful write carries
//! the audit sequence it committed at (`Breakglass-Seq`); the client remembers the highest one
//! it has seen, see [`Client::last_seq`].
//!
//! Assigning a role (a membership `PUT` or a grant) may not take effect at once: when the
//! entitlement's policy wants more approvals than the caller's own, the server answers
//! `202 Accepted` with the access request it opened instead. Those methods return an
//! [`Assignment`], decided by the status code.
//!
//! A delegate acts as the owner of a delegate access they accepted through
//! [`Client::acting_as`]: the derived client sends `X-Breakglass-Act-As: <owner>` on every
//! request, and the server answers with the owner's rights, cut to the delegation's scope.
//!
//! ```no_run
//! # async fn demo() -> Result<(), breakglass_client::ClientError> {
//! use breakglass_client::{api, Client};
//!
//! let admin = Client::new("http://127.0.0.1:8080", Some("secret".into()))?;
//! let ws = admin
//!     .create_workspace(&api::CreateWorkspace {
//!         identifier: "acme".into(),
//!         name: "Acme".into(),
//!         owners: vec![],
//!         project_quota: None,
//!         members: vec![],
//!         tags: Default::default(),
//!     })
//!     .await?;
//! let seq = admin.last_seq(); // the audit sequence of that write
//! # let _ = (ws, seq);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use breakglass_api as api;
use breakglass_api::{
    AcceptAccess, AcceptInvitation, Access, AccessQuery, AddMyself, AddRecipient, ApproveRequest, AuditEvent,
    AuditQuery, BatchCheckRequest, BatchCheckResponse, Binding, CheckRequest, CheckResponse, CompleteReview,
    CreateAccess, CreateGrant, CreateInvitation, CreateProject, CreateRequest, CreateToken, CreateUser,
    CreateWorkspace, CreatedAccess, CreatedToken, DenyRequest, Entitlement, EntitlementBody, Health,
    Invitation, LifecycleAction, ListQuery, Login, Me, Message, Page, PageQuery, Policy, PolicyBody,
    PolicyQuery, Problem, Project, RecipientCode, RegisterWorkspace, Request, RequestQuery, Review,
    ReviewQuery, SendMessage, Session, SetMember, SetQuota, SetTag, Settings, Signup, TagDefinition, Task,
    Token, UpdateWorkspace, User, VerifyReport, Workspace,
};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
pub use reqwest::{Method, Url};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use breakglass_api::SEQ_HEADER;

/// Request header naming the user a delegate acts as (see [`Client::acting_as`]). Header names
/// are case-insensitive; it is usually written `X-Breakglass-Act-As`.
pub const ACT_AS_HEADER: &str = "x-breakglass-act-as";

/// `last_seq` value meaning "no write seen yet".
const NO_SEQ: i64 = i64::MIN;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status. `problem` is its `application/problem+json`
    /// body, or one synthesised with code `http.<status>` when the body was not a problem.
    #[error("{}: {}", .problem.code, .problem.detail)]
    Api {
        /// HTTP status code.
        status: u16,
        /// The problem the server reported.
        problem: Problem,
    },
    /// The request could not be sent or its answer not received.
    #[error("{}", transport_message(.0))]
    Transport(#[source] reqwest::Error),
    /// A successful answer whose body was not what the endpoint promises.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// The base URL, or a path segment given to a method, cannot form a valid URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The bearer token contains characters an HTTP header cannot carry.
    #[error("the token contains characters not allowed in an HTTP header")]
    InvalidToken,
    /// The e-mail given to [`Client::acting_as`] is empty or has characters an HTTP header
    /// cannot carry.
    #[error("cannot act as {0:?}: expected the e-mail address of the user to act as")]
    InvalidActAs(String),
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The stable problem code of an [`ClientError::Api`] error, e.g. `workspace.quota_exceeded`.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { problem, .. } => Some(&problem.code),
            _ => None,
        }
    }

    /// The problem of an [`ClientError::Api`] error.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// One line for a transport failure: what was attempted and the innermost cause.
fn transport_message(err: &reqwest::Error) -> String {
    let url = err.url().map(|u| u.as_str().to_owned()).unwrap_or_else(|| "the server".into());
    let what = if err.is_connect() {
        format!("cannot reach {url}")
    } else if err.is_timeout() {
        format!("timed out talking to {url}")
    } else {
        format!("request to {url} failed")
    };
    format!("{what}: {}", root_cause(err))
}

/// The innermost message of an error's source chain, on one line.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = err;
    while let Some(source) = inner.source() {
        inner = source;
    }
    one_line(&inner.to_string())
}

/// Collapses whitespace runs (including newlines) to single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns an error answer into a [`Problem`]: the body itself when it is one, otherwise one
/// with code `http.<status>` whose detail is the body's text (shortened) or the status reason.
pub fn decode_problem(status: u16, body: &[u8]) -> Problem {
    if let Ok(problem) = serde_json::from_slice::<Problem>(body) {
        return problem;
    }
    let reason =
        StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error").to_owned();
    let text = one_line(&String::from_utf8_lossy(body));
    let detail = if text.is_empty() {
        reason.clone()
    } else if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text
    };
    Problem {
        problem_type: "about:blank".into(),
        title: reason,
        status,
        detail,
        code: format!("http.{status}"),
    }
}

/// What assigning a role led to: a membership `PUT` or a grant `POST` either takes effect at
/// once or, when the entitlement's policy needs more approvals than the caller's own, becomes an
/// access request that already carries the caller's approval.
///
/// Serialises as the API's JSON of whichever it holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "a one-off answer, consumed at once; boxing would only make matching clumsier"
)]
pub enum Assignment {
    /// The role was assigned (`200 OK` for a membership, `201 Created` for a grant).
    Binding(Binding),
    /// The assignment waits for approvals (`202 Accepted`): the request it opened.
    Request(Request),
}

impl Assignment {
    /// The binding, when the role was assigned at once.
    pub fn binding(self) -> Option<Binding> {
        match self {
            Assignment::Binding(b) => Some(b),
            Assignment::Request(_) => None,
        }
    }

    /// The request, when the assignment waits for approvals.
    pub fn request(self) -> Option<Request> {
        match self {
            Assignment::Binding(_) => None,
            Assignment::Request(r) => Some(r),
        }
    }

    /// The binding; panics (naming the request) when the assignment became a request. For tests
    /// and callers that know no approval policy applies.
    #[track_caller]
    pub fn expect_binding(self) -> Binding {
        match self {
            Assignment::Binding(b) => b,
            Assignment::Request(r) => {
                panic!("expected a binding, got request {} ({}) waiting for approvals", r.id, r.state)
            }
        }
    }

    /// True when the assignment became a request waiting for approvals.
    pub fn is_request(&self) -> bool {
        matches!(self, Assignment::Request(_))
    }
}

/// A connection to one Breakglass server, optionally acting as one caller (bearer token), and
/// optionally, as a delegate, with the rights of another user ([`Client::acting_as`]).
///
/// Cheap to clone; clones share the connection pool and the [`Client::last_seq`] record.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    /// The owner whose rights a delegate uses: sent as [`ACT_AS_HEADER`].
    act_as: Option<String>,
    last_seq: Arc<AtomicI64>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("act_as", &self.act_as)
            .finish()
    }
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`; a path prefix such
    /// as `https://host/breakglass/` is kept), sending `token` as `Authorization: Bearer`.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("breakglass-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Transport)?;
        Client::with_http(http, base_url, token)
    }

    /// Like [`Client::new`], over a `reqwest::Client` you configured.
    pub fn with_http(
        http: reqwest::Client,
        base_url: &str,
        token: Option<String>,
    ) -> Result<Client, ClientError> {
        Ok(Client {
            http,
            base: parse_base(base_url)?,
            token,
            act_as: None,
            last_seq: Arc::new(AtomicI64::new(NO_SEQ)),
        })
    }

    /// The same server and connection pool, acting as the holder of `token` with their own
    /// rights (any [`Client::acting_as`] is dropped).
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client { token: Some(token.into()), act_as: None, ..self.clone() }
    }

    /// The same server and connection pool, without a bearer token (nor [`Client::acting_as`]).
    pub fn anonymous(&self) -> Client {
        Client { token: None, act_as: None, ..self.clone() }
    }

    /// The same server, token and connection pool, acting as `owner_email`: every request
    /// carries `X-Breakglass-Act-As: <owner_email>`, and the server answers with the owner's
    /// rights, cut to the scope of the delegate access they shared with the token's holder
    /// (`403 delegation.not_granted` when there is no accepted, live one).
    ///
    /// Refuses ([`ClientError::InvalidActAs`]) an empty value or one an HTTP header cannot
    /// carry; whether it is an e-mail of someone who delegates to you is the server's call.
    pub fn acting_as(&self, owner_email: &str) -> Result<Client, ClientError> {
        let owner = owner_email.trim();
        if owner.is_empty() || HeaderValue::from_str(owner).is_err() {
            return Err(ClientError::InvalidActAs(owner_email.to_owned()));
        }
        Ok(Client { act_as: Some(owner.to_owned()), ..self.clone() })
    }

    /// The same server, token and connection pool, with the caller's own rights (no
    /// [`Client::acting_as`]).
    pub fn as_self(&self) -> Client {
        Client { act_as: None, ..self.clone() }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The bearer token this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The owner this client acts as ([`Client::acting_as`]), if any.
    pub fn act_as(&self) -> Option<&str> {
        self.act_as.as_deref()
    }

    /// The highest `Breakglass-Seq` (audit sequence of a committed write) seen on any answer to
    /// this client or to a client derived from it (clones, [`Client::with_token`]); `None`
    /// before the first write.
    pub fn last_seq(&self) -> Option<i64> {
        match self.last_seq.load(Ordering::SeqCst) {
            NO_SEQ => None,
            seq => Some(seq),
        }
    }

    // ---- health and authentication ----

    /// `GET /healthz`: liveness and the audit sequence the server reflects.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get(self.url(&["healthz"])?, &()).await
    }

    /// `POST /api/v1/auth/login`: a new session for e-mail and password.
    pub async fn login(&self, login: &Login) -> Result<Session, ClientError> {
        self.post(self.api(&["auth", "login"])?, login).await
    }

    /// `POST /api/v1/auth/signup`: creates an account for oneself and signs it in (no token
    /// needed). Refused unless the installation's `signup` setting allows the e-mail: when it is
    /// `invited_only`, `invitation_token` must be the secret of a pending invitation for it.
    pub async fn signup(&self, signup: &Signup) -> Result<Session, ClientError> {
        self.post(self.api(&["auth", "signup"])?, signup).await
    }

    /// `POST /api/v1/auth/logout`: ends the session whose token this client sends.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let req = self.build(Method::POST, self.api(&["auth", "logout"])?)?;
        self.send_empty(req).await
    }

    /// `GET /api/v1/me`: whose rights are in use (`user`), and when acting as someone, who acts
    /// (`delegate`); the credential's limits, the pending accesses and the workspaces.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.get(self.api(&["me"])?, &()).await
    }

    // ---- users ----

    /// `POST /api/v1/users`: creates a user (admins only).
    pub async fn create_user(&self, user: &CreateUser) -> Result<User, ClientError> {
        self.post(self.api(&["users"])?, user).await
    }

    /// `GET /api/v1/users`: one page of users.
    pub async fn list_users(&self, page: &PageQuery) -> Result<Page<User>, ClientError> {
        self.get(self.api(&["users"])?, page).await
    }

    /// Every user, following cursors.
    pub async fn all_users(&self) -> Result<Vec<User>, ClientError> {
        self.all(self.api(&["users"])?).await
    }

    // ---- tokens ----

    /// `POST /api/v1/tokens`: creates an API token for the caller, optionally confined to one
    /// workspace (`scope`) or to reading (`read_only`); the answer holds its secret, shown only
    /// this once.
    pub async fn create_token(&self, token: &CreateToken) -> Result<CreatedToken, ClientError> {
        self.post(self.api(&["tokens"])?, token).await
    }

    /// `GET /api/v1/tokens`: one page of the caller's tokens.
    pub async fn list_tokens(&self, page: &PageQuery) -> Result<Page<Token>, ClientError> {
        self.get(self.api(&["tokens"])?, page).await
    }

    /// Every token of the caller, following cursors.
    pub async fn all_tokens(&self) -> Result<Vec<Token>, ClientError> {
        self.all(self.api(&["tokens"])?).await
    }

    /// `DELETE /api/v1/tokens/{id}`: revokes a token.
    pub async fn revoke_token(&self, id: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["tokens", id])?).await
    }

    // ---- accesses (delegation) ----

    /// `POST /api/v1/accesses`: shares the caller's rights, as an API token (`kind`
    /// `api_token`: the answer's `secret`) or with named people (`delegate`: the answer's
    /// `codes`, one per recipient, which they need to accept). Both are shown only this once.
    pub async fn create_access(&self, access: &CreateAccess) -> Result<CreatedAccess, ClientError> {
        self.post(self.api(&["accesses"])?, access).await
    }

    /// `GET /api/v1/accesses?owner=`: one page of the caller's accesses, newest first (revoked
    /// and expired ones too); the admin area lists another user's with `owner`.
    pub async fn list_accesses(
        &self,
        owner: Option<&str>,
        page: &PageQuery,
    ) -> Result<Page<Access>, ClientError> {
        self.get(self.api(&["accesses"])?, &access_query(owner, page.clone())).await
    }

    /// Every access of the caller (or, for the admin area, of `owner`), following cursors.
    pub async fn all_accesses(&self, owner: Option<&str>) -> Result<Vec<Access>, ClientError> {
        let query = access_query(owner, PageQuery::default());
        self.all_from(self.api(&["accesses"])?, query, |q| &mut q.cursor).await
    }

    /// `GET /api/v1/accesses/received`: one page of the delegate accesses shared with the
    /// caller, newest first (pending ones wait for [`Client::accept_access`]).
    pub async fn received_accesses(&self, page: &PageQuery) -> Result<Page<Access>, ClientError> {
        self.get(self.api(&["accesses", "received"])?, page).await
    }

    /// Every delegate access shared with the caller, following cursors.
    pub async fn all_received_accesses(&self) -> Result<Vec<Access>, ClientError> {
        self.all(self.api(&["accesses", "received"])?).await
    }

    /// `GET /api/v1/accesses/{id}`: one access (for its owner, its recipients and the admin
    /// area).
    pub async fn get_access(&self, id: &str) -> Result<Access, ClientError> {
        self.get(self.api(&["accesses", id])?, &()).await
    }

    /// `DELETE /api/v1/accesses/{id}`: revokes an access at once: its token stops working and
    /// its recipients stop acting as the owner.
    pub async fn revoke_access(&self, id: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["accesses", id])?).await
    }

    /// `POST /api/v1/accesses/{id}/recipients`: shares a delegate access with one more address;
    /// the answer holds their acceptance code, shown only this once.
    pub async fn add_access_recipient(&self, id: &str, email: &str) -> Result<RecipientCode, ClientError> {
        let body = AddRecipient { email: email.to_owned() };
        self.post(self.api(&["accesses", id, "recipients"])?, &body).await
    }

    /// `DELETE /api/v1/accesses/{id}/recipients/{email}`: stops sharing a delegate access with
    /// an address.
    pub async fn remove_access_recipient(&self, id: &str, email: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["accesses", id, "recipients", email])?).await
    }

    /// `POST /api/v1/accesses/{id}/accept`: the recipient accepts a delegate access with the
    /// code its owner passed on; from then on [`Client::acting_as`] the owner works.
    pub async fn accept_access(&self, id: &str, code: &str) -> Result<Access, ClientError> {
        let body = AcceptAccess { code: code.to_owned() };
        self.post(self.api(&["accesses", id, "accept"])?, &body).await
    }

    /// `POST /api/v1/accesses/{id}/decline`: the recipient declines a delegate access (or gives
    /// up one they accepted).
    pub async fn decline_access(&self, id: &str) -> Result<Access, ClientError> {
        self.post_empty(self.api(&["accesses", id, "decline"])?).await
    }

    // ---- workspaces ----

    /// `POST /api/v1/workspaces`: creates a workspace.
    pub async fn create_workspace(&self, workspace: &CreateWorkspace) -> Result<Workspace, ClientError> {
        self.post(self.api(&["workspaces"])?, workspace).await
    }

    /// `GET /api/v1/workspaces`: one page of the workspaces visible to the caller.
    pub async fn list_workspaces(&self, page: &PageQuery) -> Result<Page<Workspace>, ClientError> {
        self.get(self.api(&["workspaces"])?, page).await
    }

    /// Every workspace visible to the caller, following cursors.
    pub async fn all_workspaces(&self) -> Result<Vec<Workspace>, ClientError> {
        self.all(self.api(&["workspaces"])?).await
    }

    /// `GET /api/v1/workspaces?status=&tag=`: one page of the visible workspaces matching
    /// `query` (`tag` is `key` or `key:value`).
    pub async fn list_workspaces_filtered(&self, query: &ListQuery) -> Result<Page<Workspace>, ClientError> {
        self.get(self.api(&["workspaces"])?, query).await
    }

    /// Every visible workspace matching `query`, following cursors from `query.cursor`.
    pub async fn all_workspaces_filtered(&self, query: &ListQuery) -> Result<Vec<Workspace>, ClientError> {
        self.all_from(self.api(&["workspaces"])?, query.clone(), |q| &mut q.cursor).await
    }

    /// `POST /api/v1/workspaces/register`: self-service registration; the caller becomes its
    /// owner. The answer's `status` is `active` or, when the installation wants approval,
    /// `pending_approval`.
    pub async fn register_workspace(&self, workspace: &RegisterWorkspace) -> Result<Workspace, ClientError> {
        self.post(self.api(&["workspaces", "register"])?, workspace).await
    }

    /// `GET /api/v1/workspaces/{ws}`: one workspace.
    pub async fn workspace(&self, ws: &str) -> Result<Workspace, ClientError> {
        self.get(self.api(&["workspaces", ws])?, &()).await
    }

    /// `PATCH /api/v1/workspaces/{ws}`: changes the given fields (the name; an identifier
    /// other than the current one is refused with `workspace.identifier_immutable`).
    pub async fn update_workspace(
        &self,
        ws: &str,
        update: &UpdateWorkspace,
    ) -> Result<Workspace, ClientError> {
        let req = self.build(Method::PATCH, self.api(&["workspaces", ws])?)?.json(update);
        self.send_json(req).await
    }

    /// `POST /api/v1/workspaces/{ws}/approve`: the admin area approves a registration waiting
    /// for it; the workspace becomes `active`.
    pub async fn approve_workspace(&self, ws: &str, reason: Option<&str>) -> Result<Workspace, ClientError> {
        self.lifecycle(ws, "approve", reason).await
    }

    /// `POST /api/v1/workspaces/{ws}/reject`: the admin area rejects a registration waiting for
    /// it.
    pub async fn reject_workspace(&self, ws: &str, reason: Option<&str>) -> Result<Workspace, ClientError> {
        self.lifecycle(ws, "reject", reason).await
    }

    /// `POST /api/v1/workspaces/{ws}/disable`: the admin area disables a workspace; every check
    /// on it is denied until it is enabled again.
    pub async fn disable_workspace(&self, ws: &str, reason: Option<&str>) -> Result<Workspace, ClientError> {
        self.lifecycle(ws, "disable", reason).await
    }

    /// `POST /api/v1/workspaces/{ws}/enable`: the admin area enables a disabled workspace.
    pub async fn enable_workspace(&self, ws: &str, reason: Option<&str>) -> Result<Workspace, ClientError> {
        self.lifecycle(ws, "enable", reason).await
    }

    /// A lifecycle action; the body (`{"reason": ...}`) is sent only with a reason.
    async fn lifecycle(
        &self,
        ws: &str,
        action: &str,
        reason: Option<&str>,
    ) -> Result<Workspace, ClientError> {
        let mut req = self.build(Method::POST, self.api(&["workspaces", ws, action])?)?;
        if let Some(reason) = reason {
            req = req.json(&LifecycleAction { reason: Some(reason.to_owned()) });
        }
        self.send_json(req).await
    }

    /// `PUT /api/v1/workspaces/{ws}/quota`: the admin area sets the maximum number of projects
    /// (one below the current count only stops new projects).
    pub async fn set_quota(&self, ws: &str, project_quota: u32) -> Result<Workspace, ClientError> {
        self.put(self.api(&["workspaces", ws, "quota"])?, &SetQuota { project_quota }).await
    }

    /// `GET /api/v1/workspaces/{ws}/members`: one page of the workspace's bindings.
    pub async fn workspace_members(&self, ws: &str, page: &PageQuery) -> Result<Page<Binding>, ClientError> {
        self.get(self.api(&["workspaces", ws, "members"])?, page).await
    }

    /// Every binding of the workspace, following cursors.
    pub async fn all_workspace_members(&self, ws: &str) -> Result<Vec<Binding>, ClientError> {
        self.all(self.api(&["workspaces", ws, "members"])?).await
    }

    /// `PUT /api/v1/workspaces/{ws}/members/{email}`: sets the user's workspace membership, or
    /// (`202`) opens a request for it carrying the caller's approval when the entitlement's policy
    /// needs more.
    pub async fn set_workspace_member(
        &self,
        ws: &str,
        email: &str,
        member: &SetMember,
    ) -> Result<Assignment, ClientError> {
        let req = self.build(Method::PUT, self.api(&["workspaces", ws, "members", email])?)?.json(member);
        self.send_assignment(req).await
    }

    /// `DELETE /api/v1/workspaces/{ws}/members/{email}`: ends the user's workspace membership.
    pub async fn remove_workspace_member(&self, ws: &str, email: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["workspaces", ws, "members", email])?).await
    }

    /// `POST /api/v1/workspaces/{ws}/members/me`: an admin-area admin or employee adds
    /// themselves to the workspace (as manager, or member when the installation restricts it),
    /// always until an expiry: the installation's default when `me` gives none. The body is sent
    /// only when it sets something.
    pub async fn add_myself(&self, ws: &str, me: &AddMyself) -> Result<Binding, ClientError> {
        let mut req = self.build(Method::POST, self.api(&["workspaces", ws, "members", "me"])?)?;
        if *me != AddMyself::default() {
            req = req.json(me);
        }
        self.send_json(req).await
    }

    /// `DELETE /api/v1/workspaces/{ws}/members/me`: the caller leaves the workspace; every role
    /// they hold in it and its projects ends. The last owner cannot leave.
    pub async fn leave_workspace(&self, ws: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["workspaces", ws, "members", "me"])?).await
    }

    // ---- projects ----

    /// `POST /api/v1/workspaces/{ws}/projects`: creates a project.
    pub async fn create_project(&self, ws: &str, project: &CreateProject) -> Result<Project, ClientError> {
        self.post(self.api(&["workspaces", ws, "projects"])?, project).await
    }

    /// `GET /api/v1/workspaces/{ws}/projects`: one page of the workspace's projects.
    pub async fn list_projects(&self, ws: &str, page: &PageQuery) -> Result<Page<Project>, ClientError> {
        self.get(self.api(&["workspaces", ws, "projects"])?, page).await
    }

    /// Every project of the workspace, following cursors.
    pub async fn all_projects(&self, ws: &str) -> Result<Vec<Project>, ClientError> {
        self.all(self.api(&["workspaces", ws, "projects"])?).await
    }

    /// `GET /api/v1/workspaces/{ws}/projects?tag=`: one page of the workspace's projects matching
    /// `query`. `query.status` is ignored (projects have none).
    pub async fn list_projects_filtered(
        &self,
        ws: &str,
        query: &ListQuery,
    ) -> Result<Page<Project>, ClientError> {
        self.get(self.api(&["workspaces", ws, "projects"])?, &project_query(query)).await
    }

    /// Every project of the workspace matching `query`, following cursors from `query.cursor`.
    /// `query.status` is ignored.
    pub async fn all_projects_filtered(
        &self,
        ws: &str,
        query: &ListQuery,
    ) -> Result<Vec<Project>, ClientError> {
        let url = self.api(&["workspaces", ws, "projects"])?;
        self.all_from(url, project_query(query), |q| &mut q.cursor).await
    }

    /// `GET /api/v1/workspaces/{ws}/projects/{p}`: one project.
    pub async fn project(&self, ws: &str, project: &str) -> Result<Project, ClientError> {
        self.get(self.api(&["workspaces", ws, "projects", project])?, &()).await
    }

    /// `GET /api/v1/workspaces/{ws}/projects/{p}/members`: one page of the project's bindings.
    pub async fn project_members(
        &self,
        ws: &str,
        project: &str,
        page: &PageQuery,
    ) -> Result<Page<Binding>, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "members"])?;
        self.get(url, page).await
    }

    /// Every binding of the project, following cursors.
    pub async fn all_project_members(&self, ws: &str, project: &str) -> Result<Vec<Binding>, ClientError> {
        self.all(self.api(&["workspaces", ws, "projects", project, "members"])?).await
    }

    /// `PUT /api/v1/workspaces/{ws}/projects/{p}/members/{email}`: sets the user's project
    /// membership, or (`202`) opens a request for it, as [`Client::set_workspace_member`].
    pub async fn set_project_member(
        &self,
        ws: &str,
        project: &str,
        email: &str,
        member: &SetMember,
    ) -> Result<Assignment, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "members", email])?;
        self.send_assignment(self.build(Method::PUT, url)?.json(member)).await
    }

    /// `DELETE /api/v1/workspaces/{ws}/projects/{p}/members/{email}`: ends the user's project
    /// membership.
    pub async fn remove_project_member(
        &self,
        ws: &str,
        project: &str,
        email: &str,
    ) -> Result<(), ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "members", email])?;
        self.delete(url).await
    }

    // ---- invitations ----

    /// `POST /api/v1/workspaces/{ws}/invitations`: invites an e-mail (with or without an
    /// account) to the workspace with a role; accepting it creates the membership. The answer's
    /// `token` is the invitation's secret, shown only here: pass it on to the invitee.
    pub async fn invite(&self, ws: &str, invitation: &CreateInvitation) -> Result<Invitation, ClientError> {
        self.post(self.api(&["workspaces", ws, "invitations"])?, invitation).await
    }

    /// `GET /api/v1/workspaces/{ws}/invitations`: one page of the workspace's invitations.
    pub async fn workspace_invitations(
        &self,
        ws: &str,
        page: &PageQuery,
    ) -> Result<Page<Invitation>, ClientError> {
        self.get(self.api(&["workspaces", ws, "invitations"])?, page).await
    }

    /// Every invitation of the workspace, following cursors.
    pub async fn all_workspace_invitations(&self, ws: &str) -> Result<Vec<Invitation>, ClientError> {
        self.all(self.api(&["workspaces", ws, "invitations"])?).await
    }

    /// `DELETE /api/v1/invitations/{id}`: withdraws a pending invitation.
    pub async fn cancel_invitation(&self, id: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["invitations", id])?).await
    }

    /// `POST /api/v1/invitations/{id}/accept`: the invitee accepts with the invitation's secret
    /// (`token`, which the inviter passed on); the membership starts.
    pub async fn accept_invitation(&self, id: &str, token: &str) -> Result<Invitation, ClientError> {
        let body = AcceptInvitation { token: token.to_owned() };
        self.post(self.api(&["invitations", id, "accept"])?, &body).await
    }

    /// `POST /api/v1/invitations/{id}/decline`: the invitee declines.
    pub async fn decline_invitation(&self, id: &str) -> Result<Invitation, ClientError> {
        self.post_empty(self.api(&["invitations", id, "decline"])?).await
    }

    /// `GET /api/v1/me/invitations`: one page of the caller's pending invitations.
    pub async fn my_invitations(&self, page: &PageQuery) -> Result<Page<Invitation>, ClientError> {
        self.get(self.api(&["me", "invitations"])?, page).await
    }

    /// Every pending invitation of the caller, following cursors.
    pub async fn all_my_invitations(&self) -> Result<Vec<Invitation>, ClientError> {
        self.all(self.api(&["me", "invitations"])?).await
    }

    // ---- grants ----

    /// `POST /api/v1/grants`: a temporary role on top of any membership, or (`202`) a request
    /// for it carrying the caller's approval when the entitlement's policy needs more.
    pub async fn create_grant(&self, grant: &CreateGrant) -> Result<Assignment, ClientError> {
        let req = self.build(Method::POST, self.api(&["grants"])?)?.json(grant);
        self.send_assignment(req).await
    }

    /// `DELETE /api/v1/grants/{id}`: revokes a grant before it ends.
    pub async fn revoke_grant(&self, id: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["grants", id])?).await
    }

    // ---- policies ----

    /// `POST /api/v1/policies`: creates an approval policy (installation-wide ones: admins only).
    pub async fn create_policy(&self, policy: &PolicyBody) -> Result<Policy, ClientError> {
        self.post(self.api(&["policies"])?, policy).await
    }

    /// `GET /api/v1/policies`: one page of the policies matching `query`.
    pub async fn list_policies(&self, query: &PolicyQuery) -> Result<Page<Policy>, ClientError> {
        self.get(self.api(&["policies"])?, query).await
    }

    /// Every policy matching `query`, following cursors from `query.cursor`.
    pub async fn all_policies(&self, query: &PolicyQuery) -> Result<Vec<Policy>, ClientError> {
        self.all_from(self.api(&["policies"])?, query.clone(), |q| &mut q.cursor).await
    }

    /// `GET /api/v1/policies/{id}`: one policy.
    pub async fn policy(&self, id: &str) -> Result<Policy, ClientError> {
        self.get(self.api(&["policies", id])?, &()).await
    }

    /// `PUT /api/v1/policies/{id}`: replaces a policy's definition (its workspace cannot change).
    /// Requests already open keep the copy they were opened with.
    pub async fn update_policy(&self, id: &str, policy: &PolicyBody) -> Result<Policy, ClientError> {
        self.put(self.api(&["policies", id])?, policy).await
    }

    // ---- entitlements ----

    /// `GET /api/v1/workspaces/{ws}/entitlements`: one page of the effective settings of every
    /// workspace role and every project role of the workspace.
    pub async fn entitlements(&self, ws: &str, page: &PageQuery) -> Result<Page<Entitlement>, ClientError> {
        self.get(self.api(&["workspaces", ws, "entitlements"])?, page).await
    }

    /// Every entitlement of the workspace (its projects' included), following cursors.
    pub async fn all_entitlements(&self, ws: &str) -> Result<Vec<Entitlement>, ClientError> {
        self.all(self.api(&["workspaces", ws, "entitlements"])?).await
    }

    /// `PUT /api/v1/workspaces/{ws}/entitlements/{role}`: sets how a workspace role is requested.
    pub async fn set_workspace_entitlement(
        &self,
        ws: &str,
        role: &str,
        entitlement: &EntitlementBody,
    ) -> Result<Entitlement, ClientError> {
        self.put(self.api(&["workspaces", ws, "entitlements", role])?, entitlement).await
    }

    /// `PUT /api/v1/workspaces/{ws}/projects/{p}/entitlements/{role}`: sets how a project role
    /// is requested.
    pub async fn set_project_entitlement(
        &self,
        ws: &str,
        project: &str,
        role: &str,
        entitlement: &EntitlementBody,
    ) -> Result<Entitlement, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "entitlements", role])?;
        self.put(url, entitlement).await
    }

    // ---- access requests ----

    /// `POST /api/v1/requests`: asks for an entitlement. The answer may already be `granted`
    /// (a policy without steps, e.g. an emergency policy).
    pub async fn create_request(&self, request: &CreateRequest) -> Result<Request, ClientError> {
        self.post(self.api(&["requests"])?, request).await
    }

    /// `GET /api/v1/requests`: one page of the requests matching `query` (default scope: the
    /// caller's own).
    pub async fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>, ClientError> {
        self.get(self.api(&["requests"])?, query).await
    }

    /// Every request matching `query`, following cursors from `query.cursor`.
    pub async fn all_requests(&self, query: &RequestQuery) -> Result<Vec<Request>, ClientError> {
        self.all_from(self.api(&["requests"])?, query.clone(), |q| &mut q.cursor).await
    }

    /// `GET /api/v1/requests/{id}`: one request.
    pub async fn request(&self, id: &str) -> Result<Request, ClientError> {
        self.get(self.api(&["requests", id])?, &()).await
    }

    /// `POST /api/v1/requests/{id}/approve`: approves the request's current step; with
    /// `is_override`, an admin-area admin or employee grants it at once, recorded as an override.
    pub async fn approve_request(&self, id: &str, is_override: bool) -> Result<Request, ClientError> {
        let mut req = self.build(Method::POST, self.api(&["requests", id, "approve"])?)?;
        if is_override {
            req = req.json(&ApproveRequest { is_override });
        }
        self.send_json(req).await
    }

    /// `POST /api/v1/requests/{id}/deny`: denies the request, saying why.
    pub async fn deny_request(&self, id: &str, reason: &str) -> Result<Request, ClientError> {
        let body = DenyRequest { reason: reason.to_owned() };
        self.post(self.api(&["requests", id, "deny"])?, &body).await
    }

    /// `POST /api/v1/requests/{id}/cancel`: the requester withdraws a pending request.
    pub async fn cancel_request(&self, id: &str) -> Result<Request, ClientError> {
        self.post_empty(self.api(&["requests", id, "cancel"])?).await
    }

    /// `POST /api/v1/requests/{id}/escalate`: the requester turns a pending request into an
    /// emergency one; the entitlement's emergency policy then applies.
    pub async fn escalate_request(&self, id: &str) -> Result<Request, ClientError> {
        self.post_empty(self.api(&["requests", id, "escalate"])?).await
    }

    /// `GET /api/v1/tasks`: one page of the pending requests the caller may act on, emergency
    /// ones first.
    pub async fn tasks(&self, page: &PageQuery) -> Result<Page<Task>, ClientError> {
        self.get(self.api(&["tasks"])?, page).await
    }

    /// Every task of the caller, following cursors.
    pub async fn all_tasks(&self) -> Result<Vec<Task>, ClientError> {
        self.all(self.api(&["tasks"])?).await
    }

    // ---- emergency reviews ----

    /// `GET /api/v1/reviews`: one page of the emergency reviews matching `query` (default: open).
    pub async fn reviews(&self, query: &ReviewQuery) -> Result<Page<Review>, ClientError> {
        self.get(self.api(&["reviews"])?, query).await
    }

    /// Every emergency review matching `query`, following cursors from `query.cursor`.
    pub async fn all_reviews(&self, query: &ReviewQuery) -> Result<Vec<Review>, ClientError> {
        self.all_from(self.api(&["reviews"])?, query.clone(), |q| &mut q.cursor).await
    }

    /// `POST /api/v1/reviews/{id}/complete`: records a review's outcome (not by the holder).
    pub async fn complete_review(&self, id: &str, review: &CompleteReview) -> Result<Review, ClientError> {
        self.post(self.api(&["reviews", id, "complete"])?, review).await
    }

    // ---- tags ----

    /// `GET /api/v1/tags`: one page of tag definitions.
    pub async fn tag_definitions(&self, page: &PageQuery) -> Result<Page<TagDefinition>, ClientError> {
        self.get(self.api(&["tags"])?, page).await
    }

    /// Every tag definition, following cursors.
    pub async fn all_tag_definitions(&self) -> Result<Vec<TagDefinition>, ClientError> {
        self.all(self.api(&["tags"])?).await
    }

    /// `POST /api/v1/tags`: defines a tag, replacing any definition with the same key.
    pub async fn define_tag(&self, definition: &TagDefinition) -> Result<TagDefinition, ClientError> {
        self.post(self.api(&["tags"])?, definition).await
    }

    /// `DELETE /api/v1/tags/{key}`: removes a tag definition.
    pub async fn remove_tag_definition(&self, key: &str) -> Result<(), ClientError> {
        self.delete(self.api(&["tags", key])?).await
    }

    /// `PUT /api/v1/workspaces/{ws}/tags/{key}`: sets a workspace's tag value.
    pub async fn set_workspace_tag(
        &self,
        ws: &str,
        key: &str,
        value: &str,
    ) -> Result<Workspace, ClientError> {
        let body = SetTag { value: value.to_owned() };
        self.put(self.api(&["workspaces", ws, "tags", key])?, &body).await
    }

    /// `DELETE /api/v1/workspaces/{ws}/tags/{key}`: removes a workspace's tag (not a mandatory
    /// one); answers the workspace.
    pub async fn remove_workspace_tag(&self, ws: &str, key: &str) -> Result<Workspace, ClientError> {
        let req = self.build(Method::DELETE, self.api(&["workspaces", ws, "tags", key])?)?;
        self.send_json(req).await
    }

    /// `PUT /api/v1/workspaces/{ws}/projects/{p}/tags/{key}`: sets a project's tag value.
    pub async fn set_project_tag(
        &self,
        ws: &str,
        project: &str,
        key: &str,
        value: &str,
    ) -> Result<Project, ClientError> {
        let body = SetTag { value: value.to_owned() };
        self.put(self.api(&["workspaces", ws, "projects", project, "tags", key])?, &body).await
    }

    /// `DELETE /api/v1/workspaces/{ws}/projects/{p}/tags/{key}`: removes a project's tag (not a
    /// mandatory one); answers the project.
    pub async fn remove_project_tag(
        &self,
        ws: &str,
        project: &str,
        key: &str,
    ) -> Result<Project, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "tags", key])?;
        self.send_json(self.build(Method::DELETE, url)?).await
    }

    // ---- messages ----

    /// `POST /api/v1/workspaces/{ws}/messages`: the admin area sends a message to the
    /// workspace's users.
    pub async fn send_message(&self, ws: &str, message: &SendMessage) -> Result<Message, ClientError> {
        self.post(self.api(&["workspaces", ws, "messages"])?, message).await
    }

    /// `GET /api/v1/workspaces/{ws}/messages`: one page of the workspace's messages with their
    /// acknowledgements (admin area).
    pub async fn workspace_messages(&self, ws: &str, page: &PageQuery) -> Result<Page<Message>, ClientError> {
        self.get(self.api(&["workspaces", ws, "messages"])?, page).await
    }

    /// Every message of the workspace, following cursors.
    pub async fn all_workspace_messages(&self, ws: &str) -> Result<Vec<Message>, ClientError> {
        self.all(self.api(&["workspaces", ws, "messages"])?).await
    }

    /// `GET /api/v1/me/messages`: one page of the messages the caller has still to read.
    pub async fn my_messages(&self, page: &PageQuery) -> Result<Page<Message>, ClientError> {
        self.get(self.api(&["me", "messages"])?, page).await
    }

    /// Every message the caller has still to read, following cursors.
    pub async fn all_my_messages(&self) -> Result<Vec<Message>, ClientError> {
        self.all(self.api(&["me", "messages"])?).await
    }

    /// `POST /api/v1/messages/{id}/ack`: the caller acknowledges a message.
    pub async fn ack_message(&self, id: &str) -> Result<(), ClientError> {
        let req = self.build(Method::POST, self.api(&["messages", id, "ack"])?)?;
        self.send_empty(req).await
    }

    // ---- settings ----

    /// `GET /api/v1/settings`: the installation settings, every field present.
    pub async fn settings(&self) -> Result<Settings, ClientError> {
        self.get(self.api(&["settings"])?, &()).await
    }

    /// `PATCH /api/v1/settings`: changes the fields `change` sets, keeps the others (admins
    /// only); answers all settings.
    pub async fn update_settings(&self, change: &Settings) -> Result<Settings, ClientError> {
        let req = self.build(Method::PATCH, self.api(&["settings"])?)?.json(change);
        self.send_json(req).await
    }

    // ---- checks ----

    /// `POST /api/v1/check`: whether a user holds a role right now.
    pub async fn check(&self, check: &CheckRequest) -> Result<CheckResponse, ClientError> {
        self.post(self.api(&["check"])?, check).await
    }

    /// `POST /api/v1/check/batch`: many checks, answered in order.
    pub async fn check_batch(&self, batch: &BatchCheckRequest) -> Result<BatchCheckResponse, ClientError> {
        self.post(self.api(&["check", "batch"])?, batch).await
    }

    // ---- audit ----

    /// `GET /api/v1/audit`: one page of audit events matching `query`.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>, ClientError> {
        self.get(self.api(&["audit"])?, query).await
    }

    /// Every audit event matching `query`, following cursors from `query.cursor`
    /// (`query.limit` sets the page size).
    pub async fn all_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ClientError> {
        self.all_audit_at(self.api(&["audit"])?, query.clone()).await
    }

    /// `GET /api/v1/workspaces/{ws}/history`: one page of the workspace's events (its projects'
    /// included). `query.workspace` and `query.project` are ignored.
    pub async fn workspace_history(
        &self,
        ws: &str,
        query: &AuditQuery,
    ) -> Result<Page<AuditEvent>, ClientError> {
        let url = self.api(&["workspaces", ws, "history"])?;
        self.get(url, &history_query(query)).await
    }

    /// `GET /api/v1/workspaces/{ws}/projects/{p}/history`: one page of the project's events.
    /// `query.workspace` and `query.project` are ignored.
    pub async fn project_history(
        &self,
        ws: &str,
        project: &str,
        query: &AuditQuery,
    ) -> Result<Page<AuditEvent>, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "history"])?;
        self.get(url, &history_query(query)).await
    }

    /// Every event of a workspace's history (or, with `project`, a project's), following
    /// cursors. `query.workspace` and `query.project` are ignored.
    pub async fn all_history(
        &self,
        ws: &str,
        project: Option<&str>,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, ClientError> {
        let url = match project {
            Some(p) => self.api(&["workspaces", ws, "projects", p, "history"])?,
            None => self.api(&["workspaces", ws, "history"])?,
        };
        self.all_audit_at(url, history_query(query)).await
    }

    /// `GET /api/v1/audit/verify`: recomputes the audit hash chain.
    pub async fn verify_audit(&self) -> Result<VerifyReport, ClientError> {
        self.get(self.api(&["audit", "verify"])?, &()).await
    }

    // ---- platforms, tenants, service users ----

    /// `POST /api/v1/platforms`: registers a platform (admins).
    pub async fn register_platform(
        &self,
        platform: &api::RegisterPlatform,
    ) -> Result<api::Platform, ClientError> {
        self.post(self.api(&["platforms"])?, platform).await
    }

    /// `GET /api/v1/platforms`: one page of the registered platforms.
    pub async fn list_platforms(&self, page: &PageQuery) -> Result<Page<api::Platform>, ClientError> {
        self.get(self.api(&["platforms"])?, page).await
    }

    /// Every registered platform, following cursors.
    pub async fn all_platforms(&self) -> Result<Vec<api::Platform>, ClientError> {
        self.all(self.api(&["platforms"])?).await
    }

    /// `POST /api/v1/workspaces/{ws}/projects/{p}/tenants`: gives the project a tenant on a
    /// platform.
    pub async fn create_tenant(
        &self,
        ws: &str,
        project: &str,
        tenant: &api::CreateTenant,
    ) -> Result<api::Tenant, ClientError> {
        self.post(self.api(&["workspaces", ws, "projects", project, "tenants"])?, tenant).await
    }

    /// `GET /api/v1/workspaces/{ws}/projects/{p}/tenants`: one page of the project's tenants.
    pub async fn list_tenants(
        &self,
        ws: &str,
        project: &str,
        page: &PageQuery,
    ) -> Result<Page<api::Tenant>, ClientError> {
        self.get(self.api(&["workspaces", ws, "projects", project, "tenants"])?, page).await
    }

    /// Every tenant of the project, following cursors.
    pub async fn all_tenants(&self, ws: &str, project: &str) -> Result<Vec<api::Tenant>, ClientError> {
        self.all(self.api(&["workspaces", ws, "projects", project, "tenants"])?).await
    }

    /// `POST /api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/service-users`: creates a
    /// service user; the answer is the only place its secret appears.
    pub async fn create_service_user(
        &self,
        ws: &str,
        project: &str,
        platform: &str,
        body: &api::CreateServiceUser,
    ) -> Result<api::CreatedServiceUser, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "tenants", platform, "service-users"])?;
        self.post(url, body).await
    }

    /// `GET /api/v1/platforms/{platform}`: one platform with its configuration and status.
    pub async fn platform(&self, platform: &str) -> Result<api::Platform, ClientError> {
        self.get(self.api(&["platforms", platform])?, &()).await
    }

    /// `PATCH /api/v1/platforms/{platform}`: changes its settings, mapping or mode (admins).
    pub async fn update_platform(
        &self,
        platform: &str,
        change: &api::UpdatePlatform,
    ) -> Result<api::Platform, ClientError> {
        self.patch(self.api(&["platforms", platform])?, change).await
    }

    /// `GET /api/v1/platforms/{platform}/drift`: what it holds against what it must hold.
    pub async fn platform_drift(&self, platform: &str) -> Result<api::Drift, ClientError> {
        self.get(self.api(&["platforms", platform, "drift"])?, &()).await
    }

    /// `POST /api/v1/platforms/{platform}/sync`: reconciles it now (admins).
    pub async fn sync_platform(&self, platform: &str) -> Result<api::SyncReport, ClientError> {
        self.post_empty(self.api(&["platforms", platform, "sync"])?).await
    }

    /// `POST .../tenants/{platform}/credentials`: issues a credential on the project's tenant;
    /// the answer is the only place its password appears.
    pub async fn issue_credential(
        &self,
        ws: &str,
        project: &str,
        platform: &str,
    ) -> Result<api::IssuedCredential, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "tenants", platform, "credentials"])?;
        self.post_empty(url).await
    }

    /// `POST .../tenants/{platform}/ssh-certificates`: has the platform's authority sign an
    /// SSH public key (one `authorized_keys` line) with the principals of the caller's roles.
    pub async fn sign_ssh_key(
        &self,
        ws: &str,
        project: &str,
        platform: &str,
        public_key: &str,
    ) -> Result<api::SshCertificate, ClientError> {
        let url =
            self.api(&["workspaces", ws, "projects", project, "tenants", platform, "ssh-certificates"])?;
        self.post(url, &api::SignSshKey { public_key: public_key.to_owned() }).await
    }

    /// `GET /api/v1/platforms/{platform}/ssh/krl`: an SSH platform's key revocation list, in
    /// OpenSSH's binary format (no credential needed).
    pub async fn ssh_krl(&self, platform: &str) -> Result<Vec<u8>, ClientError> {
        let req = self.build(Method::GET, self.api(&["platforms", platform, "ssh", "krl"])?)?;
        let resp = self.send(req).await?;
        Ok(resp.bytes().await.map_err(ClientError::Transport)?.to_vec())
    }

    /// `GET .../tenants/{platform}/service-users`: one page of the tenant's service users
    /// (never their secrets).
    pub async fn list_service_users(
        &self,
        ws: &str,
        project: &str,
        platform: &str,
        page: &PageQuery,
    ) -> Result<Page<api::ServiceUser>, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "tenants", platform, "service-users"])?;
        self.get(url, page).await
    }

    /// Every service user of the tenant, following cursors.
    pub async fn all_service_users(
        &self,
        ws: &str,
        project: &str,
        platform: &str,
    ) -> Result<Vec<api::ServiceUser>, ClientError> {
        let url = self.api(&["workspaces", ws, "projects", project, "tenants", platform, "service-users"])?;
        self.all(url).await
    }

    /// `DELETE .../tenants/{platform}/service-users/{id}`: deletes a service user.
    pub async fn delete_service_user(
        &self,
        ws: &str,
        project: &str,
        platform: &str,
        id: &str,
    ) -> Result<(), ClientError> {
        let url =
            self.api(&["workspaces", ws, "projects", project, "tenants", platform, "service-users", id])?;
        self.delete(url).await
    }

    // ---- anything else ----

    /// Escape hatch for endpoints without a method of their own: `method` on
    /// `/api/v1/<segments>` (each segment percent-encoded) with an optional JSON body. An empty
    /// answer (204) decodes as JSON `null`, so use `T = ()` for it, or `serde_json::Value` to
    /// look at the raw answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        let mut req = self.build(method, self.api(segments)?)?;
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send_json(req).await
    }

    // ---- plumbing ----

    /// `base` + `/api/v1/` + the percent-encoded segments.
    fn api(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut all = Vec::with_capacity(segments.len() + 2);
        all.extend_from_slice(&["api", "v1"]);
        all.extend_from_slice(segments);
        self.url(&all)
    }

    /// `base` + the percent-encoded segments. Refuses segments that are empty, `.` or `..`,
    /// which would silently address another resource.
    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        if let Some(bad) = segments.iter().find(|s| s.is_empty() || **s == "." || **s == "..") {
            return Err(ClientError::InvalidUrl(format!("{bad:?} is not a valid path segment")));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::InvalidUrl(format!("{} cannot be a base", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn build(&self, method: Method, url: Url) -> Result<RequestBuilder, ClientError> {
        let mut req = self.http.request(method, url).header(ACCEPT, "application/json");
        if let Some(token) = &self.token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ClientError::InvalidToken)?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        if let Some(owner) = &self.act_as {
            let value = HeaderValue::from_str(owner).map_err(|_| ClientError::InvalidActAs(owner.clone()))?;
            req = req.header(HeaderName::from_static(ACT_AS_HEADER), value);
        }
        Ok(req)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, query: &impl Serialize) -> Result<T, ClientError> {
        let req = self.build(Method::GET, url)?.query(query);
        self.send_json(req).await
    }

    async fn post<T: DeserializeOwned>(&self, url: Url, body: &impl Serialize) -> Result<T, ClientError> {
        let req = self.build(Method::POST, url)?.json(body);
        self.send_json(req).await
    }

    /// A POST without a body.
    async fn post_empty<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        let req = self.build(Method::POST, url)?;
        self.send_json(req).await
    }

    async fn patch<T: DeserializeOwned>(&self, url: Url, body: &impl Serialize) -> Result<T, ClientError> {
        let req = self.build(Method::PATCH, url)?.json(body);
        self.send_json(req).await
    }

    async fn put<T: DeserializeOwned>(&self, url: Url, body: &impl Serialize) -> Result<T, ClientError> {
        let req = self.build(Method::PUT, url)?.json(body);
        self.send_json(req).await
    }

    async fn delete(&self, url: Url) -> Result<(), ClientError> {
        let req = self.build(Method::DELETE, url)?;
        self.send_empty(req).await
    }

    /// Sends, checks the status, records the sequence header, returns the answer.
    async fn send(&self, req: RequestBuilder) -> Result<Response, ClientError> {
        let resp = req.send().await.map_err(ClientError::Transport)?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.map_err(ClientError::Transport)?;
            return Err(ClientError::Api {
                status: status.as_u16(),
                problem: decode_problem(status.as_u16(), &body),
            });
        }
        if let Some(seq) = resp
            .headers()
            .get(SEQ_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            self.last_seq.fetch_max(seq, Ordering::SeqCst);
        }
        Ok(resp)
    }

    async fn send_json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let resp = self.send(req).await?;
        decode_body(resp).await
    }

    /// An assignment's answer: `202 Accepted` carries a [`Request`], any other success a
    /// [`Binding`].
    async fn send_assignment(&self, req: RequestBuilder) -> Result<Assignment, ClientError> {
        let resp = self.send(req).await?;
        if resp.status() == StatusCode::ACCEPTED {
            decode_body(resp).await.map(Assignment::Request)
        } else {
            decode_body(resp).await.map(Assignment::Binding)
        }
    }

    async fn send_empty(&self, req: RequestBuilder) -> Result<(), ClientError> {
        self.send(req).await.map(drop)
    }

    /// Follows cursors over a [`PageQuery`] list.
    async fn all<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>, ClientError> {
        collect_pages(|cursor| {
            let url = url.clone();
            async move {
                let query = PageQuery { limit: None, cursor };
                self.get::<Page<T>>(url, &query).await
            }
        })
        .await
    }

    /// Follows cursors over an [`AuditQuery`] list, starting at `query.cursor`.
    async fn all_audit_at(&self, url: Url, query: AuditQuery) -> Result<Vec<AuditEvent>, ClientError> {
        self.all_from(url, query, |q| &mut q.cursor).await
    }

    /// Follows cursors over a list with filters `query`, starting at the cursor `cursor_of`
    /// finds in it.
    async fn all_from<Q, T>(
        &self,
        url: Url,
        mut query: Q,
        cursor_of: fn(&mut Q) -> &mut Option<String>,
    ) -> Result<Vec<T>, ClientError>
    where
        Q: Serialize + Clone,
        T: DeserializeOwned,
    {
        let mut first = Some(cursor_of(&mut query).take());
        collect_pages(|cursor| {
            let url = url.clone();
            let mut query = query.clone();
            *cursor_of(&mut query) = first.take().unwrap_or(cursor);
            async move { self.get::<Page<T>>(url, &query).await }
        })
        .await
    }
}

/// Calls `fetch(cursor)` from no cursor until a page has no `next_cursor`, collecting items.
/// Stops with [`ClientError::Decode`] if the server hands back a cursor it already gave.
pub async fn collect_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ClientError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, ClientError>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = fetch(cursor.clone()).await?;
        items.extend(page.items);
        match page.next_cursor {
            None => return Ok(items),
            Some(next) if Some(&next) == cursor.as_ref() => {
                return Err(ClientError::Decode(format!("the server repeated cursor {next:?}")))
            }
            Some(next) => cursor = Some(next),
        }
    }
}

/// A successful answer's body as `T` (an empty body as JSON `null`).
async fn decode_body<T: DeserializeOwned>(resp: Response) -> Result<T, ClientError> {
    let what = format!("{} {}", resp.status().as_u16(), resp.url().path());
    let body = resp.bytes().await.map_err(ClientError::Transport)?;
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body)
        .map_err(|e| ClientError::Decode(format!("{what}: expected {}: {e}", std::any::type_name::<T>())))
}

/// The history endpoints take the audit filters minus `workspace` and `project`.
fn history_query(query: &AuditQuery) -> AuditQuery {
    AuditQuery { workspace: None, project: None, ..query.clone() }
}

/// The query of the access list: whose, and the paging.
fn access_query(owner: Option<&str>, page: PageQuery) -> AccessQuery {
    AccessQuery { owner: owner.map(str::to_owned), limit: page.limit, cursor: page.cursor }
}

/// The project lists take the workspace filters minus `status`.
fn project_query(query: &ListQuery) -> ListQuery {
    ListQuery { status: None, ..query.clone() }
}

fn parse_base(base_url: &str) -> Result<Url, ClientError> {
    let url =
        Url::parse(base_url.trim()).map_err(|e| ClientError::InvalidUrl(format!("{base_url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::InvalidUrl(format!("{base_url:?}: the scheme must be http or https")));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(ClientError::InvalidUrl(format!("{base_url:?}: not a server address")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::InvalidUrl(format!("{base_url:?}: must not have a query or fragment")));
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
