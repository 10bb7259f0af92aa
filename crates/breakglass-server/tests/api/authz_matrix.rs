//! The authorization matrix: every operation of the OpenAPI document, called as every kind of
//! caller, on an object of the caller's workspace (`own`), of a workspace the callers have no
//! part in (`other`) and on one that does not exist (`missing`), compared with one table of
//! expected outcomes, `authz_matrix.txt`. An operation without a request here or without rows
//! in the table fails the test.
//!
//! Each outcome is the status; for a successful read it is followed by which of the two
//! workspaces the answer mentions (`:a` own, `:b` other, `:ab` both, `:-` neither), so that a
//! list that leaks the other workspace shows even though it answers 200.
//!
//! The world is built once through the API and saved as a SQLite file; every write is made on a
//! fresh copy of it, so that no call sees another's effects. Requests go through the real
//! router (`routes::router`), as a client's would, without a socket.
//!
//! `BREAKGLASS_AUTHZ_MATRIX_PRINT=1` prints the table as observed, for review.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use breakglass_server::{App, Clock, Config};
use serde_json::{json, Value};

use crate::common::{password_for, ts, ADMIN_TOKEN, T0};

/// Workspace of the callers.
const A: &str = "wsa-own";
/// Workspace none of the callers (but the admin area and the scoped token) has a part in.
const B: &str = "wsb-other";

/// The callers, in the table's column order.
const CALLERS: [&str; 14] = [
    "admin",
    "employee",
    "auditor",
    "owner",
    "manager",
    "member",
    "p-admin",
    "p-user",
    "p-reader",
    "outsider",
    "delegate",
    "read-only",
    "scoped-b",
    "anonymous",
];

/// One operation's request. Placeholders in `{}` are fixture values; `object` names the one
/// that is the object under test (a missing object replaces just it), `None` for operations on
/// no workspace's object (one row, `-`).
struct Op {
    id: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    object: Option<&'static str>,
}

const fn op(
    id: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    object: Option<&'static str>,
) -> Op {
    Op { id, method, path, body, object }
}

const WS: Option<&str> = Some("ws");

#[rustfmt::skip]
const OPS: &[Op] = &[
    op("healthz", "GET", "/healthz", None, None),
    op("login", "POST", "/api/v1/auth/login", Some(r#"{"email":"mem@m.test","password":"{mem_password}"}"#), None),
    op("logout", "POST", "/api/v1/auth/logout", None, None),
    op("signup", "POST", "/api/v1/auth/signup", Some(r#"{"email":"brand.new@m.test","name":"New","password":"a long enough passphrase"}"#), None),
    op("me", "GET", "/api/v1/me", None, None),
    op("my_invitations", "GET", "/api/v1/me/invitations", None, None),
    op("my_messages", "GET", "/api/v1/me/messages", None, None),
    op("create_user", "POST", "/api/v1/users", Some(r#"{"email":"new.user@m.test","name":"New"}"#), None),
    op("list_users", "GET", "/api/v1/users", None, None),
    op("create_token", "POST", "/api/v1/tokens", Some(r#"{"name":"another"}"#), None),
    op("list_tokens", "GET", "/api/v1/tokens", None, None),
    op("revoke_token", "DELETE", "/api/v1/tokens/{token}", None, Some("token")),
    op("create_access", "POST", "/api/v1/accesses", Some(r#"{"name":"reporting","kind":"api_token","scope":"{ws}"}"#), WS),
    op("list_accesses", "GET", "/api/v1/accesses", None, None),
    op("received_accesses", "GET", "/api/v1/accesses/received", None, None),
    op("get_access", "GET", "/api/v1/accesses/{access}", None, Some("access")),
    op("revoke_access", "DELETE", "/api/v1/accesses/{access}", None, Some("access")),
    op("add_recipient", "POST", "/api/v1/accesses/{access}/recipients", Some(r#"{"email":"target@m.test"}"#), Some("access")),
    op("remove_recipient", "DELETE", "/api/v1/accesses/{access}/recipients/{access_recipient}", None, Some("access")),
    op("accept_access", "POST", "/api/v1/accesses/{access}/accept", Some(r#"{"code":"{access_code}"}"#), Some("access")),
    op("decline_access", "POST", "/api/v1/accesses/{access}/decline", None, Some("access")),
    op("create_workspace", "POST", "/api/v1/workspaces", Some(r#"{"identifier":"wsc-new","name":"New"}"#), None),
    op("list_workspaces", "GET", "/api/v1/workspaces", None, None),
    op("register_workspace", "POST", "/api/v1/workspaces/register", Some(r#"{"identifier":"wsd-new","name":"Registered"}"#), None),
    op("get_workspace", "GET", "/api/v1/workspaces/{ws}", None, WS),
    op("update_workspace", "PATCH", "/api/v1/workspaces/{ws}", Some(r#"{"name":"Renamed"}"#), WS),
    op("approve_workspace", "POST", "/api/v1/workspaces/{ws}/approve", None, WS),
    op("reject_workspace", "POST", "/api/v1/workspaces/{ws}/reject", None, WS),
    op("disable_workspace", "POST", "/api/v1/workspaces/{ws}/disable", Some(r#"{"reason":"unpaid"}"#), WS),
    op("enable_workspace", "POST", "/api/v1/workspaces/{ws}/enable", None, WS),
    op("set_quota", "PUT", "/api/v1/workspaces/{ws}/quota", Some(r#"{"project_quota":9}"#), WS),
    op("list_workspace_members", "GET", "/api/v1/workspaces/{ws}/members", None, WS),
    op("set_workspace_member", "PUT", "/api/v1/workspaces/{ws}/members/target@m.test", Some(r#"{"role":"member"}"#), WS),
    op("remove_workspace_member", "DELETE", "/api/v1/workspaces/{ws}/members/{ws_member}", None, WS),
    op("add_myself", "POST", "/api/v1/workspaces/{ws}/members/me", Some(r#"{"expires_in":"1h"}"#), WS),
    op("leave_workspace", "DELETE", "/api/v1/workspaces/{ws}/members/me", None, WS),
    op("create_project", "POST", "/api/v1/workspaces/{ws}/projects", Some(r#"{"identifier":"api","name":"API"}"#), WS),
    op("list_projects", "GET", "/api/v1/workspaces/{ws}/projects", None, WS),
    op("get_project", "GET", "/api/v1/workspaces/{ws}/projects/web", None, WS),
    op("list_project_members", "GET", "/api/v1/workspaces/{ws}/projects/web/members", None, WS),
    op("set_project_member", "PUT", "/api/v1/workspaces/{ws}/projects/web/members/{ws_member}", Some(r#"{"role":"reader"}"#), WS),
    op("remove_project_member", "DELETE", "/api/v1/workspaces/{ws}/projects/web/members/{p_reader}", None, WS),
    op("create_grant", "POST", "/api/v1/grants", Some(r#"{"user":"{ws_member}","workspace":"{ws}","role":"manager","expires_in":"1h","reason":"INC-1"}"#), WS),
    op("revoke_grant", "DELETE", "/api/v1/grants/{grant}", None, Some("grant")),
    op("check", "POST", "/api/v1/check", Some(r#"{"user":"{ws_member}","workspace":"{ws}","role":"member"}"#), WS),
    op("check_batch", "POST", "/api/v1/check/batch", Some(r#"{"checks":[{"user":"{ws_member}","workspace":"{ws}","role":"member"}]}"#), WS),
    op("list_audit", "GET", "/api/v1/audit", None, None),
    op("workspace_history", "GET", "/api/v1/workspaces/{ws}/history", None, WS),
    op("project_history", "GET", "/api/v1/workspaces/{ws}/projects/web/history", None, WS),
    op("verify", "GET", "/api/v1/audit/verify", None, None),
    op("create_policy", "POST", "/api/v1/policies", Some(r#"{"name":"another","workspace":"{ws}","steps":[]}"#), WS),
    op("list_policies", "GET", "/api/v1/policies", None, None),
    op("get_policy", "GET", "/api/v1/policies/{policy}", None, Some("policy")),
    op("update_policy", "PUT", "/api/v1/policies/{policy}", Some(r#"{"name":"renamed","workspace":"{ws}","steps":[{"approvers":"workspace_managers","count":1}]}"#), Some("policy")),
    op("list_entitlements", "GET", "/api/v1/workspaces/{ws}/entitlements", None, WS),
    op("set_workspace_entitlement", "PUT", "/api/v1/workspaces/{ws}/entitlements/manager", Some(r#"{"emergency_enabled":false}"#), WS),
    op("set_project_entitlement", "PUT", "/api/v1/workspaces/{ws}/projects/web/entitlements/user", Some(r#"{"emergency_enabled":false}"#), WS),
    op("create_request", "POST", "/api/v1/requests", Some(r#"{"workspace":"{ws}","project":"web","role":"admin","duration":"1h","justification":"INC-2"}"#), WS),
    op("list_requests", "GET", "/api/v1/requests", None, None),
    op("get_request", "GET", "/api/v1/requests/{req}", None, Some("req")),
    op("approve_request", "POST", "/api/v1/requests/{req}/approve", None, Some("req")),
    op("deny_request", "POST", "/api/v1/requests/{req}/deny", Some(r#"{"reason":"not now"}"#), Some("req")),
    op("cancel_request", "POST", "/api/v1/requests/{req}/cancel", None, Some("req")),
    op("escalate_request", "POST", "/api/v1/requests/{req}/escalate", None, Some("req")),
    op("list_tasks", "GET", "/api/v1/tasks", None, None),
    op("list_reviews", "GET", "/api/v1/reviews", None, None),
    op("complete_review", "POST", "/api/v1/reviews/{review}/complete", Some(r#"{"outcome":"justified","notes":"checked"}"#), Some("review")),
    op("invite", "POST", "/api/v1/workspaces/{ws}/invitations", Some(r#"{"email":"fresh@m.test","role":"member"}"#), WS),
    op("workspace_invitations", "GET", "/api/v1/workspaces/{ws}/invitations", None, WS),
    op("cancel_invitation", "DELETE", "/api/v1/invitations/{inv}", None, Some("inv")),
    op("accept_invitation", "POST", "/api/v1/invitations/{inv}/accept", Some(r#"{"token":"{inv_secret}"}"#), Some("inv")),
    op("decline_invitation", "POST", "/api/v1/invitations/{inv}/decline", None, Some("inv")),
    op("list_tags", "GET", "/api/v1/tags", None, None),
    op("define_tag", "POST", "/api/v1/tags", Some(r#"{"key":"region","target":"workspace"}"#), None),
    op("remove_tag_definition", "DELETE", "/api/v1/tags/owner", None, None),
    op("set_workspace_tag", "PUT", "/api/v1/workspaces/{ws}/tags/env", Some(r#"{"value":"prod"}"#), WS),
    op("remove_workspace_tag", "DELETE", "/api/v1/workspaces/{ws}/tags/env", None, WS),
    op("set_project_tag", "PUT", "/api/v1/workspaces/{ws}/projects/web/tags/tier", Some(r#"{"value":"gold"}"#), WS),
    op("remove_project_tag", "DELETE", "/api/v1/workspaces/{ws}/projects/web/tags/tier", None, WS),
    op("send_message", "POST", "/api/v1/workspaces/{ws}/messages", Some(r#"{"text":"hello","mode":"single_read"}"#), WS),
    op("workspace_messages", "GET", "/api/v1/workspaces/{ws}/messages", None, WS),
    op("ack_message", "POST", "/api/v1/messages/{msg}/ack", None, Some("msg")),
    op("get_settings", "GET", "/api/v1/settings", None, None),
    op("update_settings", "PATCH", "/api/v1/settings", Some(r#"{"signup":"open"}"#), None),
    op("register_platform", "POST", "/api/v1/platforms", Some(r#"{"identifier":"gcp-new","kind":"gcp","name":"GCP"}"#), None),
    op("list_platforms", "GET", "/api/v1/platforms", None, None),
    op("show_platform", "GET", "/api/v1/platforms/aws-one", None, None),
    op("update_platform", "PATCH", "/api/v1/platforms/aws-one", Some(r#"{"settings":{"region":"eu-west-1"}}"#), None),
    op("platform_drift", "GET", "/api/v1/platforms/aws-one/drift", None, None),
    op("sync_platform", "POST", "/api/v1/platforms/aws-one/sync", None, None),
    op("issue_credential", "POST", "/api/v1/workspaces/{ws}/projects/web/tenants/aws-one/credentials", None, WS),
    op("sign_ssh_key", "POST", "/api/v1/workspaces/{ws}/projects/web/tenants/ssh-one/ssh-certificates", Some(r#"{"public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsbPWTl1xyAl4x7YHXFWTgO2Xx6iNoT7MbH8J4UHo2C m"}"#), WS),
    op("ssh_krl", "GET", "/api/v1/platforms/ssh-one/ssh/krl", None, None),
    op("create_tenant", "POST", "/api/v1/workspaces/{ws}/projects/web/tenants", Some(r#"{"platform":"aws-two","external_id":"222222222222"}"#), WS),
    op("list_tenants", "GET", "/api/v1/workspaces/{ws}/projects/web/tenants", None, WS),
    op("create_service_user", "POST", "/api/v1/workspaces/{ws}/projects/web/tenants/aws-one/service-users", Some(r#"{"name":"deploy bot 2"}"#), WS),
    op("list_service_users", "GET", "/api/v1/workspaces/{ws}/projects/web/tenants/aws-one/service-users", None, WS),
    op("delete_service_user", "DELETE", "/api/v1/workspaces/{ws}/projects/web/tenants/aws-one/service-users/{su}", None, Some("su")),
];

/// The value of a placeholder for a missing object.
fn missing(name: &str) -> &'static str {
    match name {
        "ws" => "ws-missing",
        _ => "00000000-0000-4000-8000-00000000dead",
    }
}

/// A caller's credential.
#[derive(Clone, Default)]
struct Credential {
    token: Option<String>,
    act_as: Option<String>,
}

/// The saved world: a SQLite file, the callers' credentials, and fixture values (own, other).
struct World {
    template: PathBuf,
    creds: Vec<Credential>,
    values: HashMap<&'static str, [String; 2]>,
    dir: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running server to build the world through.
struct Builder {
    router: axum::Router,
}

impl Builder {
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, bytes) =
            send(&self.router, Some(token), None, method, path, body.map(|b| b.to_string())).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A call that must succeed; its answer.
    async fn ok(&self, token: &str, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.call(token, method, path, Some(body)).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    async fn user(&self, email: &str, admin_role: Option<&str>) -> String {
        let body =
            json!({"email": email, "name": email, "admin_role": admin_role, "password": password_for(email)});
        self.ok(ADMIN_TOKEN, "POST", "/api/v1/users", body).await;
        let session = self
            .ok("", "POST", "/api/v1/auth/login", json!({"email": email, "password": password_for(email)}))
            .await;
        session["token"].as_str().unwrap().to_owned()
    }

    async fn member(&self, ws: &str, email: &str, role: &str) {
        self.ok(
            ADMIN_TOKEN,
            "PUT",
            &format!("/api/v1/workspaces/{ws}/members/{email}"),
            json!({"role": role}),
        )
        .await;
    }

    async fn project_member(&self, ws: &str, email: &str, role: &str) {
        let path = format!("/api/v1/workspaces/{ws}/projects/web/members/{email}");
        self.ok(ADMIN_TOKEN, "PUT", &path, json!({"role": role})).await;
    }
}

/// Sends one request through the router; the status and the body.
async fn send(
    router: &axum::Router,
    token: Option<&str>,
    act_as: Option<&str>,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (u16, Vec<u8>) {
    let mut req = axum::http::Request::builder().method(method).uri(path);
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(owner) = act_as {
        req = req.header("x-breakglass-act-as", owner);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b)
        }
        None => axum::body::Body::empty(),
    };
    let response =
        tower_service::Service::call(&mut router.clone(), req.body(body).unwrap()).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024).await.unwrap();
    (status, bytes.to_vec())
}

async fn build_world() -> World {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("breakglass-matrix-{}-{nanos}", std::process::id()));
    let mut config = Config::new(dir.join("build"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_token = Some(ADMIN_TOKEN.into());
    config.clock = Clock::manual(ts(T0));
    config.sweep_every = Duration::from_secs(3600);
    config.sign_in.enabled = false;
    // The key every fresh copy seals and opens with (see `fresh`).
    config.platform_key = Some("09".repeat(32));
    let running = breakglass_server::start(config).await.expect("the server starts");
    let b = Builder { router: breakglass_server::routes::router(running.app.clone()) };
    let admin = ADMIN_TOKEN;

    for p in ["aws-one", "aws-two"] {
        b.ok(admin, "POST", "/api/v1/platforms", json!({"identifier": p, "kind": "aws", "name": p})).await;
    }
    b.ok(
        admin,
        "POST",
        "/api/v1/platforms",
        json!({"identifier": "ssh-one", "kind": "ssh", "name": "Hosts"}),
    )
    .await;
    b.ok(admin, "POST", "/api/v1/tags", json!({"key": "env", "target": "workspace"})).await;
    b.ok(admin, "POST", "/api/v1/tags", json!({"key": "tier", "target": "project"})).await;
    b.ok(admin, "POST", "/api/v1/tags", json!({"key": "owner", "target": "workspace"})).await;

    let mut tokens: HashMap<&str, String> = HashMap::new();
    for (caller, email, role) in [
        ("employee", "emp@m.test", Some("employee")),
        ("auditor", "aud@m.test", Some("auditor")),
        ("owner", "own@m.test", None),
        ("manager", "mgr@m.test", None),
        ("member", "mem@m.test", None),
        ("p-admin", "pad@m.test", None),
        ("p-user", "pus@m.test", None),
        ("p-reader", "prd@m.test", None),
        ("outsider", "out@m.test", None),
        ("delegate", "dlg@m.test", None),
        ("scoped", "sco@m.test", None),
        ("b-owner", "bown@b.test", None),
        ("b-member", "bmem@b.test", None),
        ("b-reader", "bprd@b.test", None),
        ("target", "target@m.test", None),
    ] {
        tokens.insert(caller, b.user(email, role).await);
    }
    for (ws, owner) in [(A, "own@m.test"), (B, "bown@b.test")] {
        let body = json!({"identifier": ws, "name": ws, "owners": [owner], "tags": {"env": "dev"}});
        b.ok(admin, "POST", "/api/v1/workspaces", body).await;
        let project = json!({"identifier": "web", "name": "Web", "tags": {"tier": "bronze"}});
        b.ok(admin, "POST", &format!("/api/v1/workspaces/{ws}/projects"), project).await;
        let external = if ws == A { "111111111111" } else { "333333333333" };
        let tenant = json!({"platform": "aws-one", "external_id": external});
        b.ok(admin, "POST", &format!("/api/v1/workspaces/{ws}/projects/web/tenants"), tenant).await;
        let hosts = json!({"platform": "ssh-one", "external_id": format!("hosts-{ws}")});
        b.ok(admin, "POST", &format!("/api/v1/workspaces/{ws}/projects/web/tenants"), hosts).await;
    }
    for (email, role) in [
        ("mgr@m.test", "manager"),
        ("mem@m.test", "member"),
        ("pad@m.test", "member"),
        ("pus@m.test", "member"),
        ("prd@m.test", "member"),
        ("sco@m.test", "manager"),
    ] {
        b.member(A, email, role).await;
    }
    for (email, role) in [("pad@m.test", "admin"), ("pus@m.test", "user"), ("prd@m.test", "reader")] {
        b.project_member(A, email, role).await;
    }
    for (email, role) in [("bmem@b.test", "member"), ("bprd@b.test", "member"), ("sco@m.test", "member")] {
        b.member(B, email, role).await;
    }
    b.project_member(B, "bprd@b.test", "reader").await;

    let mut values: HashMap<&'static str, [String; 2]> = HashMap::new();
    let mut put = |k: &'static str, own: String, other: String| {
        values.insert(k, [own, other]);
    };
    put("ws", A.into(), B.into());
    put("ws_member", "mem@m.test".into(), "bmem@b.test".into());
    put("p_reader", "prd@m.test".into(), "bprd@b.test".into());
    put("mem_password", password_for("mem@m.test"), password_for("mem@m.test"));

    // Policies: one needing a manager's approval, one granting at once (emergencies).
    let mut ids: HashMap<String, String> = HashMap::new();
    for (ws, owner) in [(A, "owner"), (B, "b-owner")] {
        let t = tokens[owner].clone();
        let normal = json!({"name": format!("four eyes {ws}"), "workspace": ws,
            "steps": [{"approvers": "workspace_managers", "count": 1}], "max_duration": "8h"});
        let normal = b.ok(&t, "POST", "/api/v1/policies", normal).await["id"].as_str().unwrap().to_owned();
        let emergency =
            json!({"name": format!("break glass {ws}"), "workspace": ws, "steps": [], "max_duration": "1h"});
        let emergency =
            b.ok(&t, "POST", "/api/v1/policies", emergency).await["id"].as_str().unwrap().to_owned();
        let ent = json!({"request_policy": normal, "emergency_enabled": true, "emergency_policy": emergency});
        b.ok(&t, "PUT", &format!("/api/v1/workspaces/{ws}/projects/web/entitlements/admin"), ent).await;
        ids.insert(format!("policy {ws}"), normal);
    }
    put("policy", ids[&format!("policy {A}")].clone(), ids[&format!("policy {B}")].clone());

    // A pending request (p-user / b-member) and an emergency grant with its open review
    // (p-reader / b-reader).
    let mut req = [String::new(), String::new()];
    let mut review = [String::new(), String::new()];
    for (i, (ws, requester, breaker)) in
        [(A, "p-user", "p-reader"), (B, "b-member", "b-reader")].into_iter().enumerate()
    {
        let body = json!({"workspace": ws, "project": "web", "role": "admin", "duration": "2h", "justification": "INC-1"});
        req[i] = b.ok(&tokens[requester], "POST", "/api/v1/requests", body).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = json!({"workspace": ws, "project": "web", "role": "admin", "duration": "30m",
            "justification": "INC-2", "emergency": true});
        let granted = b.ok(&tokens[breaker], "POST", "/api/v1/requests", body).await;
        assert_eq!(granted["state"], "granted", "{granted}");
        let (_, reviews) = b.call(admin, "GET", &format!("/api/v1/reviews?workspace={ws}"), None).await;
        review[i] = reviews["items"][0]["id"].as_str().unwrap().to_owned();
    }
    put("req", req[0].clone(), req[1].clone());
    put("review", review[0].clone(), review[1].clone());

    // A grant, an invitation, a message, a service user in each workspace.
    let mut grant = [String::new(), String::new()];
    let mut inv = [String::new(), String::new()];
    let mut inv_secret = [String::new(), String::new()];
    let mut msg = [String::new(), String::new()];
    let mut su = [String::new(), String::new()];
    for (i, (ws, invitee, maker)) in
        [(A, "out@m.test", "p-admin"), (B, "newbie@b.test", "b-reader")].into_iter().enumerate()
    {
        let who = if i == 0 { "target@m.test" } else { "bmem@b.test" };
        let body =
            json!({"user": who, "workspace": ws, "role": "manager", "expires_in": "1h", "reason": "INC-3"});
        let g = b.ok(admin, "POST", "/api/v1/grants", body).await;
        grant[i] =
            g["id"].as_str().or(g["binding"]["id"].as_str()).unwrap_or_else(|| panic!("{g}")).to_owned();
        let i_body = json!({"email": invitee, "role": "member"});
        let invitation = b.ok(admin, "POST", &format!("/api/v1/workspaces/{ws}/invitations"), i_body).await;
        inv[i] = invitation["id"].as_str().unwrap().to_owned();
        inv_secret[i] = invitation["token"].as_str().unwrap().to_owned();
        let m = json!({"text": format!("news for {ws}"), "mode": "all_must_read"});
        msg[i] = b.ok(admin, "POST", &format!("/api/v1/workspaces/{ws}/messages"), m).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/api/v1/workspaces/{ws}/projects/web/tenants/aws-one/service-users");
        su[i] = b.ok(&tokens[maker], "POST", &path, json!({"name": "deploy bot"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    put("grant", grant[0].clone(), grant[1].clone());
    put("inv", inv[0].clone(), inv[1].clone());
    put("inv_secret", inv_secret[0].clone(), inv_secret[1].clone());
    put("msg", msg[0].clone(), msg[1].clone());
    put("su", su[0].clone(), su[1].clone());

    // Delegate accesses: the owner's (scope A) accepted by the delegate and pending for the
    // member; B's owner's (scope B) pending for B's member.
    let mut access = [String::new(), String::new()];
    let mut code = [String::new(), String::new()];
    for (i, (ws, owner, recipients)) in
        [(A, "owner", vec!["dlg@m.test", "mem@m.test"]), (B, "b-owner", vec!["bmem@b.test"])]
            .into_iter()
            .enumerate()
    {
        let body = json!({"name": "holiday", "kind": "delegate", "scope": ws, "expires_in": "7d", "recipients": recipients});
        let created = b.ok(&tokens[owner], "POST", "/api/v1/accesses", body).await;
        access[i] = created["id"].as_str().unwrap().to_owned();
        let code_of = |email: &str| {
            created["codes"].as_array().unwrap().iter().find(|c| c["email"] == email).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        if i == 0 {
            let accept = json!({"code": code_of("dlg@m.test")});
            b.ok(&tokens["delegate"], "POST", &format!("/api/v1/accesses/{}/accept", access[0]), accept)
                .await;
            code[0] = code_of("mem@m.test");
        } else {
            code[1] = code_of("bmem@b.test");
        }
    }
    put("access", access[0].clone(), access[1].clone());
    put("access_code", code[0].clone(), code[1].clone());
    put("access_recipient", "mem@m.test".into(), "bmem@b.test".into());

    // Tokens: the owner's read-only one, a spare one of each owner's (the object of
    // revoke_token), and the scoped caller's token confined to B.
    let ro = b.ok(&tokens["owner"], "POST", "/api/v1/tokens", json!({"name": "ro", "read_only": true})).await;
    let spare_a = b.ok(&tokens["owner"], "POST", "/api/v1/tokens", json!({"name": "spare"})).await;
    let spare_b = b.ok(&tokens["b-owner"], "POST", "/api/v1/tokens", json!({"name": "spare"})).await;
    let scoped =
        b.ok(&tokens["scoped"], "POST", "/api/v1/tokens", json!({"name": "b only", "scope": B})).await;
    put("token", spare_a["id"].as_str().unwrap().into(), spare_b["id"].as_str().unwrap().into());

    let cred = |t: &str| Credential { token: Some(t.to_owned()), act_as: None };
    let creds = CALLERS
        .iter()
        .map(|c| match *c {
            "admin" => cred(ADMIN_TOKEN),
            "delegate" => {
                Credential { token: Some(tokens["delegate"].clone()), act_as: Some("own@m.test".into()) }
            }
            "read-only" => cred(ro["secret"].as_str().unwrap()),
            "scoped-b" => cred(scoped["secret"].as_str().unwrap()),
            "anonymous" => Credential::default(),
            other => cred(&tokens[other]),
        })
        .collect();

    // Save the world: a consistent copy of the database in one file.
    let template = dir.join("template.db");
    {
        use sqlx::Connection;
        let source = dir.join("build").join(breakglass_server::DATABASE_FILE);
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", source.display())).await.unwrap();
        sqlx::query(&format!("VACUUM INTO '{}'", template.display())).execute(&mut conn).await.unwrap();
    }
    drop(b);
    running.stop().await.unwrap();
    World { template, creds, values, dir }
}

/// A fresh application on a copy of the world.
async fn fresh(world: &World, n: usize) -> axum::Router {
    let dir = world.dir.join(format!("case-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(breakglass_server::DATABASE_FILE);
    std::fs::copy(&world.template, &path).unwrap();
    let store = breakglass_store::SqliteStore::open(&path).await.unwrap();
    let app = App::load(Arc::new(store), Clock::manual(ts(T0))).await.unwrap();
    app.throttle.configure(breakglass_server::throttle::Limits { enabled: false, ..Default::default() });
    app.set_sealer(Arc::new(breakglass_server::seal::Sealer::new([9; 32])));
    breakglass_server::routes::router(Arc::new(app))
}

/// `template` with every `{name}` replaced for `variant` (0 own, 1 other, 2 missing).
fn resolve(world: &World, template: &str, object: Option<&str>, variant: usize) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.bytes().take_while(|b| b.is_ascii_lowercase() || *b == b'_').count();
        let name = &after[..name_len];
        match world.values.get(name).filter(|_| after[name_len..].starts_with('}')) {
            Some(_) if variant == 2 && Some(name) == object => out.push_str(missing(name)),
            Some(v) => out.push_str(&v[variant.min(1)]),
            None => {
                // A JSON brace, not a placeholder.
                out.push('{');
                rest = after;
                continue;
            }
        }
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    out
}

/// The outcome of one call, as the table writes it.
fn outcome(method: &str, status: u16, body: &[u8]) -> String {
    if method != "GET" || !(200..300).contains(&status) {
        return status.to_string();
    }
    let text = String::from_utf8_lossy(body);
    let marks = match (text.contains(A), text.contains(B)) {
        (false, false) => "-",
        (true, false) => "a",
        (false, true) => "b",
        (true, true) => "ab",
    };
    format!("{status}:{marks}")
}

const VARIANTS: [&str; 3] = ["own", "other", "missing"];

/// Every (operation, object) row the matrix calls, in order.
fn rows() -> Vec<(&'static Op, Option<usize>)> {
    let mut out = Vec::new();
    for op in OPS {
        match op.object {
            None => out.push((op, None)),
            Some(_) => out.extend((0..3).map(|v| (op, Some(v)))),
        }
    }
    out
}

fn row_key(op: &Op, variant: Option<usize>) -> (String, String) {
    (op.id.to_owned(), variant.map_or("-", |v| VARIANTS[v]).to_owned())
}

/// The expected table, keyed by (operation, object).
fn expected() -> BTreeMap<(String, String), Vec<String>> {
    let text = include_str!("authz_matrix.txt");
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), 2 + CALLERS.len(), "authz_matrix.txt line {}: {line}", n + 1);
        let key = (cells[0].to_owned(), cells[1].to_owned());
        let values = cells[2..].iter().map(|s| (*s).to_owned()).collect();
        assert!(out.insert(key.clone(), values).is_none(), "authz_matrix.txt: {key:?} twice");
    }
    out
}

fn format_row(key: &(String, String), cells: &[String]) -> String {
    let mut line = format!("{:<26}{:<8}", key.0, key.1);
    for c in cells {
        line.push_str(&format!("{c:<10}"));
    }
    line.trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_as_every_caller_on_own_other_and_missing_objects() {
    if crate::common::pg_server_url().is_some() {
        // The rules are the core's, the same on every store: the SQLite run covers them.
        eprintln!("skipped on the PostgreSQL run: the matrix runs on SQLite");
        return;
    }
    // Every operation of the document has a request here.
    let doc = breakglass_server::http::openapi();
    let mut documented = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if let Some(op) = op {
                documented.push((op.operation_id.clone().unwrap_or_default(), method, path.clone()));
            }
        }
    }
    for (id, method, path) in &documented {
        let spec = OPS.iter().find(|o| o.id == id);
        let spec = spec
            .unwrap_or_else(|| panic!("{method} {path} ({id}) has no request in the authorization matrix"));
        let segments = |p: &str| p.split('/').map(str::to_owned).collect::<Vec<_>>();
        let (doc, ours) = (segments(path), segments(spec.path));
        let same =
            doc.len() == ours.len() && doc.iter().zip(&ours).all(|(d, o)| d == o || d.starts_with('{'));
        assert!(
            spec.method == *method && same,
            "{id}: the matrix calls {} {}, the document has {method} {path}",
            spec.method,
            spec.path
        );
    }
    assert_eq!(OPS.len(), documented.len(), "the matrix calls an operation the document does not have");

    let world = build_world().await;
    let reads = fresh(&world, 0).await;
    let mut observed: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut writes = Vec::new();
    let mut n = 0;
    for (op, variant) in rows() {
        for (c, cred) in world.creds.iter().enumerate() {
            let path = resolve(&world, op.path, op.object, variant.unwrap_or(0));
            let body = op.body.map(|b| resolve(&world, b, op.object, variant.unwrap_or(0)));
            if op.method == "GET" {
                let (status, bytes) =
                    send(&reads, cred.token.as_deref(), cred.act_as.as_deref(), op.method, &path, body).await;
                observed.entry(row_key(op, variant)).or_insert_with(|| vec![String::new(); CALLERS.len()])
                    [c] = outcome(op.method, status, &bytes);
            } else {
                n += 1;
                writes.push((n, op, variant, c, cred.clone(), path, body));
            }
        }
    }
    // Writes, each on a fresh copy of the world, a few at a time.
    let world = Arc::new(world);
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for (n, op, variant, c, cred, path, body) in writes {
        let (world, limit) = (world.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let router = fresh(&world, n).await;
            let (status, bytes) =
                send(&router, cred.token.as_deref(), cred.act_as.as_deref(), op.method, &path, body).await;
            if status == 422 && std::env::var_os("BREAKGLASS_AUTHZ_MATRIX_PRINT").is_some() && c == 0 {
                eprintln!(
                    "422 {} {:?} as {}: {}",
                    op.id,
                    variant,
                    CALLERS[c],
                    String::from_utf8_lossy(&bytes)
                );
            }
            drop(router);
            let _ = std::fs::remove_dir_all(world.dir.join(format!("case-{n}")));
            (row_key(op, variant), c, outcome(op.method, status, &bytes))
        }));
    }
    for t in tasks {
        let (key, c, got) = t.await.unwrap();
        observed.entry(key).or_insert_with(|| vec![String::new(); CALLERS.len()])[c] = got;
    }

    let header = format_row(&("# operation".into(), "object".into()), &CALLERS.map(String::from));
    if std::env::var_os("BREAKGLASS_AUTHZ_MATRIX_PRINT").is_some() {
        println!("{header}");
        for (key, cells) in &observed {
            println!("{}", format_row(key, cells));
        }
    }
    let expected = expected();
    let mut problems = Vec::new();
    for (key, cells) in &observed {
        match expected.get(key) {
            None => problems.push(format!("no row in authz_matrix.txt:\n  {}", format_row(key, cells))),
            Some(want) if want != cells => {
                let diff: Vec<String> = CALLERS
                    .iter()
                    .zip(want.iter().zip(cells))
                    .filter(|(_, (w, g))| w != g)
                    .map(|(c, (w, g))| format!("{c}: expected {w}, got {g}"))
                    .collect();
                problems.push(format!("{} {}: {}", key.0, key.1, diff.join("; ")));
            }
            Some(_) => {}
        }
    }
    for key in expected.keys().filter(|k| !observed.contains_key(*k)) {
        problems.push(format!("authz_matrix.txt has a row for an operation not called: {} {}", key.0, key.1));
    }
    let calls = observed.len() * CALLERS.len();
    assert!(
        problems.is_empty(),
        "{} of {calls} outcomes differ from authz_matrix.txt:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("authorization matrix: {calls} calls, every outcome as expected");
}
