//! Platforms, tenants and service users over HTTP: mostly attempts that must fail (wrong role,
//! wrong workspace, wrong state, bad input) and change nothing, then the path that works, with
//! its audit trail, and the secret that appears exactly once.

use breakglass_client::api::{
    AuditQuery, CreateTenant, CreatedServiceUser, PageQuery, Platform, RegisterPlatform, ServiceUser,
    SetMember, Tenant,
};
use breakglass_client::Client;
use serde_json::json;

use crate::common::*;

fn platform(id: &str, kind: &str) -> RegisterPlatform {
    RegisterPlatform {
        identifier: id.into(),
        kind: kind.into(),
        name: format!("Platform {id}"),
        ..Default::default()
    }
}

fn tenant(platform: &str, external_id: &str) -> CreateTenant {
    CreateTenant { platform: platform.into(), external_id: external_id.into() }
}

fn role(r: &str) -> SetMember {
    SetMember { role: r.into(), ..Default::default() }
}

/// The people of these tests: workspace `acme` (owner: the admin; manager mia; member max; dev
/// and dev2 with a role on project `web` only) with projects `web` and `api`, workspace `other`
/// (owner olga, project `db`), an employee and an auditor; platform `aws` and a tenant of
/// acme/web on it.
struct Cast {
    t: TestApp,
    admin: Client,
    mia: Client,
    max: Client,
    dev: Client,
    dev2: Client,
    olga: Client,
    emp: Client,
    aud: Client,
}

async fn cast() -> Cast {
    let t = TestApp::start().await;
    let admin = t.admin();
    let mia = t.user("mia@example.com").await;
    let max = t.user("max@example.com").await;
    let dev = t.user("dev@example.com").await;
    let dev2 = t.user("dev2@example.com").await;
    let olga = t.user("olga@example.com").await;
    let emp = t.user_with_role("emp@example.com", Some("employee")).await;
    let aud = t.user_with_role("aud@example.com", Some("auditor")).await;
    t.workspace("acme", &[]).await;
    t.project("acme", "web").await;
    t.project("acme", "api").await;
    t.workspace("other", &["olga@example.com"]).await;
    t.project("other", "db").await;
    admin.set_workspace_member("acme", "mia@example.com", &role("manager")).await.unwrap().expect_binding();
    admin.set_workspace_member("acme", "max@example.com", &role("member")).await.unwrap().expect_binding();
    for (who, r) in [("dev@example.com", "user"), ("dev2@example.com", "reader")] {
        admin.set_project_member("acme", "web", who, &role(r)).await.unwrap().expect_binding();
    }
    admin.register_platform(&platform("aws", "aws")).await.unwrap();
    mia.create_tenant("acme", "web", &tenant("aws", "123456789012")).await.unwrap();
    Cast { t, admin, mia, max, dev, dev2, olga, emp, aud }
}

/// Everything observable, platforms, tenants and service users included.
#[derive(Debug, PartialEq)]
struct View {
    snapshot: Snapshot,
    platforms: Vec<Platform>,
    tenants: Vec<Tenant>,
    service_users: Vec<ServiceUser>,
}

async fn view(c: &Cast) -> View {
    let admin = &c.admin;
    let mut tenants = Vec::new();
    let mut service_users = Vec::new();
    for (ws, p) in [("acme", "web"), ("acme", "api"), ("other", "db")] {
        for t in admin.all_tenants(ws, p).await.unwrap() {
            service_users.extend(admin.all_service_users(ws, p, &t.platform).await.unwrap());
            tenants.push(t);
        }
    }
    View {
        snapshot: c.t.snapshot().await,
        platforms: admin.all_platforms().await.unwrap(),
        tenants,
        service_users,
    }
}

async fn assert_unchanged(c: &Cast, before: &View, what: &str) {
    let after = view(c).await;
    assert!(after == *before, "{what} changed something:\nbefore: {before:#?}\nafter: {after:#?}");
}

#[tokio::test]
async fn only_admins_register_platforms() {
    let c = cast().await;
    let before = view(&c).await;
    for (who, client) in [("employee", &c.emp), ("manager", &c.mia), ("auditor", &c.aud), ("owner", &c.olga)]
    {
        expect_problem(client.register_platform(&platform("gcp", "gcp")).await, 403, "authz.forbidden");
        assert_unchanged(&c, &before, who).await;
    }
    expect_problem(
        c.t.anonymous().register_platform(&platform("gcp", "gcp")).await,
        401,
        "auth.missing_token",
    );
    expect_problem(c.admin.register_platform(&platform("aws", "kubernetes")).await, 409, "platform.exists");
    assert_unchanged(&c, &before, "a duplicate").await;

    let p = c.admin.register_platform(&platform("k8s-prod", "kubernetes")).await.unwrap();
    assert_eq!((p.identifier.as_str(), p.kind.as_str()), ("k8s-prod", "kubernetes"));
    let e = c.t.last_event().await;
    assert_eq!((e.event_type.as_str(), e.subject.as_deref()), ("PLATFORM_REGISTERED", Some("k8s-prod")));
    // Any signed-in user lists them.
    for client in [&c.max, &c.olga, &c.aud, &c.dev] {
        let ids: Vec<String> =
            client.all_platforms().await.unwrap().into_iter().map(|p| p.identifier).collect();
        assert_eq!(ids, ["aws", "k8s-prod"]);
    }
    let page = c.max.list_platforms(&PageQuery { limit: Some(1), cursor: None }).await.unwrap();
    assert_eq!((page.items.len(), page.next_cursor.as_deref()), (1, Some("aws")));
    expect_problem(c.t.anonymous().list_platforms(&PageQuery::default()).await, 401, "auth.missing_token");
}

#[tokio::test]
async fn tenants_need_the_manage_right_and_are_unique() {
    let c = cast().await;
    let before = view(&c).await;
    let api = tenant("aws", "210987654321");
    for (who, client, status, code) in [
        ("member", &c.max, 403, "authz.forbidden"),
        ("project user", &c.dev, 403, "authz.forbidden"),
        ("auditor", &c.aud, 403, "authz.forbidden"),
        ("outsider", &c.olga, 404, "workspace.not_found"),
    ] {
        expect_problem(client.create_tenant("acme", "api", &api).await, status, code);
        assert_unchanged(&c, &before, who).await;
    }
    expect_problem(
        c.olga.list_tenants("acme", "web", &PageQuery::default()).await,
        404,
        "workspace.not_found",
    );
    // An outsider's 404 is the one of a workspace that does not exist.
    let missing = expect_problem(c.olga.create_tenant("nope", "api", &api).await, 404, "workspace.not_found");
    let hidden = expect_problem(c.olga.create_tenant("acme", "api", &api).await, 404, "workspace.not_found");
    assert_eq!(hidden.title, missing.title);

    for (ws, p, body, status, code) in [
        ("acme", "web", tenant("aws", "999"), 409, "tenant.exists"),
        ("acme", "api", tenant("aws", "123456789012"), 409, "tenant.external_id_taken"),
        ("acme", "api", tenant("gcp", "999"), 404, "platform.not_found"),
        ("acme", "nope", tenant("aws", "999"), 404, "project.not_found"),
        ("acme", "api", tenant("Not A Slug", "999"), 400, "input.invalid_identifier"),
        ("acme", "api", tenant("aws", " padded"), 400, "tenant.invalid_external_id"),
        ("acme", "api", tenant("aws", ""), 400, "tenant.invalid_external_id"),
    ] {
        expect_problem(c.mia.create_tenant(ws, p, &body).await, status, code);
        assert_unchanged(&c, &before, code).await;
    }

    // Managers, owners and the admin area (admin and employee) may.
    let t = c.emp.create_tenant("acme", "api", &api).await.unwrap();
    assert_eq!((t.platform_kind.as_str(), t.external_id.as_str()), ("aws", "210987654321"));
    assert_eq!(t.created_by, "emp@example.com");
    let e = c.t.last_event().await;
    assert_eq!(e.event_type, "TENANT_CREATED");
    assert_eq!((e.workspace.as_deref(), e.project.as_deref()), (Some("acme"), Some("api")));
    // Anyone who sees the project lists them.
    for client in [&c.max, &c.dev, &c.aud] {
        let listed = client.all_tenants("acme", "web").await.unwrap();
        assert_eq!(listed.iter().map(|t| t.platform.as_str()).collect::<Vec<_>>(), ["aws"]);
    }
}

#[tokio::test]
async fn service_users_are_for_users_assigned_to_the_project() {
    let c = cast().await;
    let before = view(&c).await;
    for (who, client, ws, p, status, code) in [
        ("unassigned member", &c.max, "acme", "web", 403, "authz.forbidden"),
        ("auditor", &c.aud, "acme", "web", 403, "authz.forbidden"),
        ("other workspace", &c.olga, "acme", "web", 404, "workspace.not_found"),
        ("no tenant", &c.dev, "acme", "api", 404, "tenant.not_found"),
    ] {
        expect_problem(c_create(client, ws, p, "aws", "bot").await, status, code);
        assert_unchanged(&c, &before, who).await;
    }
    expect_problem(
        c.olga.list_service_users("acme", "web", "aws", &PageQuery::default()).await,
        404,
        "workspace.not_found",
    );
    expect_problem(c_create(&c.dev, "acme", "web", "gcp", "bot").await, 404, "tenant.not_found");

    // Once assigned to the project, the member may; a manager may without a project role.
    c.admin.set_project_member("acme", "web", "max@example.com", &role("reader")).await.unwrap();
    c_create(&c.max, "acme", "web", "aws", "max bot").await.unwrap();
    c_create(&c.mia, "acme", "web", "aws", "mia bot").await.unwrap();
    expect_problem(c_create(&c.dev, "acme", "web", "aws", "max bot").await, 409, "service_user.exists");
    // Losing the project role takes the right away.
    c.admin.remove_project_member("acme", "web", "max@example.com").await.unwrap();
    expect_problem(c_create(&c.max, "acme", "web", "aws", "again").await, 403, "authz.forbidden");
}

async fn c_create(
    client: &Client,
    ws: &str,
    p: &str,
    platform: &str,
    name: &str,
) -> Result<CreatedServiceUser, breakglass_client::ClientError> {
    let body = breakglass_client::api::CreateServiceUser { name: name.into(), role: None };
    client.create_service_user(ws, p, platform, &body).await
}

#[tokio::test]
async fn only_the_creator_or_a_manager_deletes_a_service_user() {
    let c = cast().await;
    let created = c_create(&c.dev, "acme", "web", "aws", "deploy").await.unwrap();
    let id = created.service_user.id.clone();
    let before = view(&c).await;
    for (who, client, status, code) in [
        ("another project member", &c.dev2, 403, "authz.forbidden"),
        ("workspace member", &c.max, 403, "authz.forbidden"),
        ("auditor", &c.aud, 403, "authz.forbidden"),
        ("other workspace", &c.olga, 404, "workspace.not_found"),
    ] {
        expect_problem(client.delete_service_user("acme", "web", "aws", &id).await, status, code);
        assert_unchanged(&c, &before, who).await;
    }
    for bad in ["not-a-uuid", "00000000-0000-4000-8000-000000000000"] {
        expect_problem(
            c.dev.delete_service_user("acme", "web", "aws", bad).await,
            404,
            "service_user.not_found",
        );
    }
    expect_problem(c.dev.delete_service_user("acme", "api", "aws", &id).await, 404, "tenant.not_found");
    assert_unchanged(&c, &before, "bad ids").await;

    c.dev.delete_service_user("acme", "web", "aws", &id).await.unwrap();
    expect_problem(c.dev.delete_service_user("acme", "web", "aws", &id).await, 404, "service_user.not_found");
    expect_problem(c.mia.delete_service_user("acme", "web", "aws", &id).await, 404, "service_user.not_found");
    assert!(c.dev.all_service_users("acme", "web", "aws").await.unwrap().is_empty());

    // A manager deletes anyone's.
    let other = c_create(&c.dev2, "acme", "web", "aws", "reader bot").await.unwrap();
    c.mia.delete_service_user("acme", "web", "aws", &other.service_user.id).await.unwrap();
    assert_eq!(c.t.last_event().await.actor, "mia@example.com");
}

#[tokio::test]
async fn a_disabled_workspace_refuses_new_tenants_and_service_users() {
    let c = cast().await;
    let kept = c_create(&c.dev, "acme", "web", "aws", "kept").await.unwrap();
    c.admin.disable_workspace("acme", Some("audit")).await.unwrap();
    let before = view(&c).await;
    expect_problem(
        c.mia.create_tenant("acme", "api", &tenant("aws", "555")).await,
        422,
        "workspace.disabled",
    );
    expect_problem(
        c.admin.create_tenant("acme", "api", &tenant("aws", "555")).await,
        422,
        "workspace.disabled",
    );
    expect_problem(c_create(&c.dev, "acme", "web", "aws", "new").await, 422, "workspace.disabled");
    assert_unchanged(&c, &before, "creation in a disabled workspace").await;
    // Taking a credential away still works.
    c.dev.delete_service_user("acme", "web", "aws", &kept.service_user.id).await.unwrap();
    c.admin.enable_workspace("acme", None).await.unwrap();
    c_create(&c.dev, "acme", "web", "aws", "new").await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_as_problem_json_and_changes_nothing() {
    let c = cast().await;
    let before = view(&c).await;
    let admin = Some(ADMIN_TOKEN);
    let cases: Vec<(&str, &str, serde_json::Value, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/platforms",
            json!({"identifier": "gcp", "kind": "gcp", "name": "G", "x": 1}),
            400,
            "input.unknown_field",
        ),
        (
            "POST",
            "/api/v1/platforms",
            json!({"identifier": "gcp", "kind": "gcp"}),
            400,
            "input.missing_field",
        ),
        (
            "POST",
            "/api/v1/platforms",
            json!({"identifier": "GCP!", "kind": "gcp", "name": "G"}),
            400,
            "input.invalid_identifier",
        ),
        (
            "POST",
            "/api/v1/platforms",
            json!({"identifier": "gcp", "kind": "Google Cloud", "name": "G"}),
            400,
            "platform.invalid_kind",
        ),
        (
            "POST",
            "/api/v1/platforms",
            json!({"identifier": "gcp", "kind": "gcp", "name": ""}),
            400,
            "input.invalid_name",
        ),
        (
            "POST",
            "/api/v1/platforms",
            json!({"identifier": 7, "kind": "gcp", "name": "G"}),
            400,
            "input.invalid_field",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/api/tenants",
            json!({"platform": "aws", "external_id": "1", "owner": "me"}),
            400,
            "input.unknown_field",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/api/tenants",
            json!({"platform": "aws"}),
            400,
            "input.missing_field",
        ),
        (
            "POST",
            "/api/v1/workspaces/ACME/projects/api/tenants",
            json!({"platform": "aws", "external_id": "1"}),
            404,
            "workspace.not_found",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/API/tenants",
            json!({"platform": "aws", "external_id": "1"}),
            404,
            "project.not_found",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/web/tenants/aws/service-users",
            json!({"name": "x", "secret": "mine"}),
            400,
            "input.unknown_field",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/web/tenants/aws/service-users",
            json!({"name": "  "}),
            400,
            "input.invalid_name",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/web/tenants/aws/service-users",
            json!({}),
            400,
            "input.missing_field",
        ),
        (
            "POST",
            "/api/v1/workspaces/acme/projects/web/tenants/AWS/service-users",
            json!({"name": "x"}),
            404,
            "tenant.not_found",
        ),
        (
            "GET",
            "/api/v1/workspaces/acme/projects/web/tenants/aws/service-users?limit=0",
            json!(null),
            400,
            "input.invalid_limit",
        ),
        ("GET", "/api/v1/platforms?colour=blue", json!(null), 400, "input.invalid_query"),
    ];
    for (method, path, body, status, code) in cases {
        let body = if body.is_null() { Body::None } else { Body::Json(&body) };
        c.t.raw(method, path, admin, body).await.assert_problem(status, code);
        assert_unchanged(&c, &before, &format!("{method} {path}")).await;
    }
    let raw = c.t.raw("POST", "/api/v1/platforms", admin, Body::JsonText("{\"identifier\": ")).await;
    raw.assert_problem(400, "input.malformed_json");
    let raw = c.t.raw("POST", "/api/v1/platforms", admin, Body::Untyped("identifier=gcp")).await;
    raw.assert_problem(415, "input.unsupported_media_type");
    // An outsider learns nothing from bad input either: the workspace's 404 comes first.
    let olga = c.olga.token().unwrap().to_owned();
    let raw =
        c.t.raw(
            "POST",
            "/api/v1/workspaces/acme/projects/api/tenants",
            Some(&olga),
            Body::Json(&json!({"platform": "Bad!", "external_id": ""})),
        )
        .await;
    raw.assert_problem(404, "workspace.not_found");
    assert_unchanged(&c, &before, "malformed bodies").await;
}

#[tokio::test]
async fn the_secret_is_shown_once_and_never_recorded() {
    let c = cast().await;
    let created = c_create(&c.dev, "acme", "web", "aws", "deploy").await.unwrap();
    let secret = created.secret.clone();
    assert!(secret.starts_with("bgu_") && secret.len() == 4 + 64, "{secret}");
    let digest = hex::encode(breakglass_server::auth::secret_hash(&secret).0);
    let another = c_create(&c.mia, "acme", "web", "aws", "other").await.unwrap();
    assert_ne!(another.secret, secret);
    assert_ne!(another.service_user.client_id, created.service_user.client_id);
    c.dev.delete_service_user("acme", "web", "aws", &created.service_user.id).await.unwrap();
    let secrets = [secret.clone(), digest.clone(), digest.to_uppercase(), another.secret.clone()];

    let token = Some(ADMIN_TOKEN);
    let mut texts = Vec::new();
    for path in [
        "/api/v1/audit?limit=1000",
        "/api/v1/workspaces/acme/history",
        "/api/v1/workspaces/acme/projects/web/history",
        "/api/v1/workspaces/acme/projects/web/tenants/aws/service-users",
        "/api/v1/workspaces/acme/projects/web/tenants",
        "/api/v1/platforms",
    ] {
        let raw = c.t.raw("GET", path, token, Body::None).await;
        assert_eq!(raw.status, 200, "{path}: {}", raw.text);
        texts.push((path, raw.text));
    }
    let listed = raw_list(&c.dev).await;
    texts.push(("the creator's list", listed));
    for (what, text) in &texts {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{what} contains {s}: {text}");
        }
    }
    let events = c.t.events().await;
    let ours: Vec<_> = events.iter().filter(|e| e.event_type.starts_with("SERVICE_USER_")).collect();
    assert_eq!(ours.len(), 3);
    for e in &ours {
        let text = serde_json::to_string(e).unwrap();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "event {} contains {s}", e.seq);
        }
    }
    // Not in the database either (the digest is stored, never the secret).
    let bytes = c.t.database_bytes().await;
    let scanned = bytes.len();
    for s in [&secret, &another.secret] {
        assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "the database holds a secret");
    }
    assert!(scanned > 0);
}

/// A list of service users as the raw text a client receives.
async fn raw_list(client: &Client) -> String {
    let segments = ["workspaces", "acme", "projects", "web", "tenants", "aws", "service-users"];
    let page: serde_json::Value = client.call(reqwest::Method::GET, &segments, None).await.unwrap();
    page.to_string()
}

#[tokio::test]
async fn a_service_user_from_registration_to_deletion_with_its_history() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let dev = t.user("dev@example.com").await;
    let mia = t.user("mia@example.com").await;
    t.workspace("acme", &[]).await;
    t.project("acme", "web").await;
    admin.set_workspace_member("acme", "mia@example.com", &role("manager")).await.unwrap();
    admin.set_workspace_member("acme", "dev@example.com", &role("member")).await.unwrap();
    admin.set_project_member("acme", "web", "dev@example.com", &role("user")).await.unwrap();

    let p = admin.register_platform(&platform("aws-prod", "aws")).await.unwrap();
    assert_eq!(p.name, "Platform aws-prod");
    let tn = mia.create_tenant("acme", "web", &tenant("aws-prod", "123456789012")).await.unwrap();
    assert_eq!(
        (tn.workspace.as_str(), tn.project.as_str(), tn.platform.as_str(), tn.created_by.as_str()),
        ("acme", "web", "aws-prod", "mia@example.com")
    );

    let body = breakglass_client::api::CreateServiceUser { name: "deploy bot".into(), role: None };
    let created = dev.create_service_user("acme", "web", "aws-prod", &body).await.unwrap();
    let su = &created.service_user;
    assert_eq!(
        (su.name.as_str(), su.platform.as_str(), su.created_by.as_str()),
        ("deploy bot", "aws-prod", "dev@example.com")
    );
    assert!(su.client_id.starts_with("svc-"), "{}", su.client_id);
    assert_eq!(su.created_at, rfc(t.now()));
    let listed = dev.all_service_users("acme", "web", "aws-prod").await.unwrap();
    assert_eq!(listed, vec![su.clone()], "listed as created, without the secret");

    t.advance(breakglass_core::time::Span::minutes(5));
    dev.delete_service_user("acme", "web", "aws-prod", &su.id).await.unwrap();
    assert!(dev.all_service_users("acme", "web", "aws-prod").await.unwrap().is_empty());

    let history = mia.all_history("acme", Some("web"), &AuditQuery::default()).await.unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
    let at = |ty: &str| types.iter().position(|t| *t == ty).unwrap_or_else(|| panic!("no {ty} in {types:?}"));
    assert!(at("TENANT_CREATED") < at("SERVICE_USER_CREATED"));
    assert!(at("SERVICE_USER_CREATED") < at("SERVICE_USER_DELETED"));
    for ty in ["SERVICE_USER_CREATED", "SERVICE_USER_DELETED"] {
        let e = &history[at(ty)];
        assert_eq!(e.actor, "dev@example.com");
        assert_eq!(e.subject.as_deref(), Some(su.client_id.as_str()));
        assert_eq!((e.workspace.as_deref(), e.project.as_deref()), (Some("acme"), Some("web")));
        assert_eq!(e.details["platform"], "aws-prod");
        assert_eq!(e.details["external_id"], "123456789012");
        assert_eq!(e.details["name"], "deploy bot");
        assert_eq!(e.details["created_by"], "dev@example.com");
    }
    let tenant_event = &history[at("TENANT_CREATED")];
    assert_eq!(
        (tenant_event.actor.as_str(), tenant_event.details["kind"].as_str()),
        ("mia@example.com", Some("aws"))
    );
    // PLATFORM_REGISTERED belongs to no workspace: it is in the whole log, not the history.
    assert!(!types.contains(&"PLATFORM_REGISTERED"));
    assert_eq!(t.events_of("PLATFORM_REGISTERED").await.len(), 1);

    // All of it survives a restart.
    let t = t.restart().await;
    let admin = t.admin();
    assert_eq!(admin.all_platforms().await.unwrap(), vec![p]);
    assert_eq!(admin.all_tenants("acme", "web").await.unwrap(), vec![tn]);
    assert!(admin.all_service_users("acme", "web", "aws-prod").await.unwrap().is_empty());
    assert!(admin.verify_audit().await.unwrap().ok);
    t.stop().await;
}
