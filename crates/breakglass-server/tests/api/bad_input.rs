//! Bad input gets a problem+json answer with a stable code and changes nothing: malformed JSON,
//! unknown fields, bad identifiers, bad e-mails, expiry in the past, unknown roles, duplicate
//! identifiers, and removing the last owner of a workspace.

use breakglass_client::api::{
    CheckRequest, CreateGrant, CreateProject, CreateUser, CreateWorkspace, SetMember,
};
use breakglass_client::Client;
use breakglass_core::time::Span;
use serde_json::json;

use crate::common::*;

fn member(role: &str) -> SetMember {
    SetMember { role: role.into(), ..Default::default() }
}

fn new_ws(id: &str) -> CreateWorkspace {
    CreateWorkspace {
        identifier: id.into(),
        name: format!("Workspace {id}"),
        owners: vec![],
        project_quota: None,
        members: Vec::new(),
        tags: Default::default(),
    }
}

fn new_project(id: &str) -> CreateProject {
    CreateProject { identifier: id.into(), name: format!("Project {id}"), tags: Default::default() }
}

/// A server with workspace `alpha` (owner: the admin), project `alpha/web`, and bob, a member
/// of alpha and reader of web.
async fn seeded() -> (TestApp, Client) {
    let t = TestApp::start().await;
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    t.user("bob@example.com").await;
    let admin = t.admin();
    admin.set_workspace_member("alpha", "bob@example.com", &member("member")).await.unwrap();
    admin.set_project_member("alpha", "web", "bob@example.com", &member("reader")).await.unwrap();
    (t, admin)
}

#[tokio::test]
async fn malformed_json_is_refused_with_400() {
    let (t, _) = seeded().await;
    let before = t.snapshot().await;
    let token = Some(ADMIN_TOKEN);
    for (method, path, body) in [
        ("POST", "/api/v1/workspaces", r#"{"identifier": "gamma", "name": "Gamma""#),
        ("POST", "/api/v1/workspaces", "identifier=gamma&name=Gamma"),
        ("POST", "/api/v1/workspaces", ""),
        ("POST", "/api/v1/users", r#"{"email": "x@example.com", "name": "X",}"#),
        ("POST", "/api/v1/tokens", "{name: 'ci'}"),
        ("PUT", "/api/v1/workspaces/alpha/members/bob@example.com", r#"{"role": "manager"#),
        ("PUT", "/api/v1/workspaces/alpha/projects/web/members/bob@example.com", r#"{"role": "admin"}}"#),
        ("POST", "/api/v1/workspaces/alpha/projects", "\u{0}"),
        ("POST", "/api/v1/grants", "{{}}"),
        ("POST", "/api/v1/check", r#"{"user": "bob@example.com" "workspace": "alpha"}"#),
    ] {
        let raw = t.raw(method, path, token, Body::JsonText(body)).await;
        assert_eq!(raw.status, 400, "{method} {path} {body:?}: {}", raw.text);
        raw.assert_problem(400, "input.malformed_json");
    }
    // Sign-in needs no token and refuses the same way.
    t.raw("POST", "/api/v1/auth/login", None, Body::JsonText("{"))
        .await
        .assert_problem(400, "input.malformed_json");

    // JSON of the wrong shape, and fields missing.
    for (path, body, code) in [
        ("/api/v1/workspaces", json!({"identifier": 7, "name": "Seven"}), "input.invalid_field"),
        (
            "/api/v1/workspaces",
            json!({"identifier": "gamma", "name": "Gamma", "project_quota": -1}),
            "input.invalid_field",
        ),
        ("/api/v1/workspaces", json!({"identifier": "gamma"}), "input.missing_field"),
        ("/api/v1/users", json!({"email": "x@example.com"}), "input.missing_field"),
        ("/api/v1/grants", json!({"user": "bob@example.com", "role": "manager"}), "input.missing_field"),
    ] {
        let raw = t.raw("POST", path, token, Body::Json(&body)).await;
        raw.assert_problem(400, code);
    }

    // A body that does not say it is JSON.
    let raw = t
        .raw("POST", "/api/v1/workspaces", token, Body::Untyped(r#"{"identifier":"gamma","name":"Gamma"}"#))
        .await;
    raw.assert_problem(415, "input.unsupported_media_type");

    t.assert_unchanged(&before, "malformed JSON").await;
    expect_problem(t.admin().workspace("gamma").await, 404, "workspace.not_found");
    t.stop().await;
}

/// A body that is not JSON at all is malformed even when its first bytes already have the wrong
/// shape: the answer must not depend on how far a streaming parser got before giving up.
#[tokio::test]
async fn truncated_json_of_the_wrong_shape_is_malformed_too() {
    let (t, _) = seeded().await;
    let before = t.snapshot().await;
    let mut wrong = Vec::new();
    for (method, path, body) in [
        ("PUT", "/api/v1/workspaces/alpha/projects/web/members/bob@example.com", "[1, 2"),
        ("POST", "/api/v1/workspaces", r#"{"identifier": 7, "name": "#),
        (
            "POST",
            "/api/v1/check",
            r#"{"user": "bob@example.com", "workspace": "alpha", "role": "member", "x": "#,
        ),
    ] {
        let raw = t.raw(method, path, Some(ADMIN_TOKEN), Body::JsonText(body)).await;
        assert_eq!(raw.status, 400, "{method} {path} {body:?}: {}", raw.text);
        if raw.body["code"] != "input.malformed_json" {
            wrong.push(format!("{method} {path} {body:?} -> {}", raw.text));
        }
    }
    assert!(wrong.is_empty(), "bodies that are not JSON must be input.malformed_json:\n{}", wrong.join("\n"));
    t.assert_unchanged(&before, "truncated JSON").await;
    t.stop().await;
}

/// Request bodies are JSON objects. serde's derive also accepts a struct as a positional array,
/// which would silently give fields their meaning by order; the API must refuse it.
#[tokio::test]
async fn a_json_array_is_not_a_request_body() {
    let (t, admin) = seeded().await;
    let before = t.snapshot().await;
    let mut wrong = Vec::new();
    for (method, path, body) in [
        ("POST", "/api/v1/workspaces", json!(["gamma", "Gamma"])),
        ("POST", "/api/v1/workspaces/alpha/projects", json!(["api", "API"])),
        ("PUT", "/api/v1/workspaces/alpha/members/bob@example.com", json!(["manager"])),
        ("POST", "/api/v1/users", json!(["x@example.com", "X"])),
    ] {
        let raw = t.raw(method, path, Some(ADMIN_TOKEN), Body::Json(&body)).await;
        if raw.status != 400 || raw.body["code"] != "input.invalid_field" {
            wrong.push(format!("{method} {path} {body} -> {} {}", raw.status, raw.text));
        }
    }
    assert!(
        wrong.is_empty(),
        "array bodies must be refused with 400 input.invalid_field:\n{}",
        wrong.join("\n")
    );
    t.assert_unchanged(&before, "array bodies").await;
    expect_problem(admin.workspace("gamma").await, 404, "workspace.not_found");
    t.stop().await;
}

#[tokio::test]
async fn unknown_fields_are_refused_with_400() {
    let (t, _) = seeded().await;
    let before = t.snapshot().await;
    let in_an_hour = rfc(t.now().plus(Span::hours(1)));
    for (method, path, body) in [
        ("POST", "/api/v1/workspaces", json!({"identifier": "gamma", "name": "Gamma", "colour": "red"})),
        ("POST", "/api/v1/workspaces", json!({"identifier": "gamma", "name": "Gamma", "status": "active"})),
        ("POST", "/api/v1/users", json!({"email": "x@example.com", "name": "X", "is_admin": true})),
        ("POST", "/api/v1/tokens", json!({"name": "ci", "permissions": "all"})),
        (
            "PUT",
            "/api/v1/workspaces/alpha/members/bob@example.com",
            json!({"role": "owner", "until": in_an_hour}),
        ),
        (
            "PUT",
            "/api/v1/workspaces/alpha/projects/web/members/bob@example.com",
            json!({"role": "admin", "source": "grant"}),
        ),
        (
            "POST",
            "/api/v1/workspaces/alpha/projects",
            json!({"identifier": "api", "name": "API", "quota": 9}),
        ),
        (
            "POST",
            "/api/v1/grants",
            json!({"user": "bob@example.com", "workspace": "alpha", "role": "owner", "expires_in": "1h", "approved": true}),
        ),
        (
            "POST",
            "/api/v1/check",
            json!({"user": "bob@example.com", "workspace": "alpha", "role": "member", "as": "x"}),
        ),
        ("POST", "/api/v1/check/batch", json!({"checks": [], "parallel": true})),
        (
            "POST",
            "/api/v1/check/batch",
            json!({"checks": [{"user": "bob@example.com", "workspace": "alpha", "role": "member", "x": 1}]}),
        ),
    ] {
        let raw = t.raw(method, path, Some(ADMIN_TOKEN), Body::Json(&body)).await;
        assert_eq!(raw.status, 400, "{method} {path} {body}: {}", raw.text);
        raw.assert_problem(400, "input.unknown_field");
    }
    t.raw(
        "POST",
        "/api/v1/auth/login",
        None,
        Body::Json(&json!({"email": "bob@example.com", "password": password_for("bob@example.com"), "remember": true})),
    )
    .await
    .assert_problem(400, "input.unknown_field");
    // Unknown query parameters too.
    t.raw("GET", "/api/v1/workspaces?limit=5&sort=name", Some(ADMIN_TOKEN), Body::None)
        .await
        .assert_problem(400, "input.invalid_query");
    t.assert_unchanged(&before, "unknown fields").await;
    t.stop().await;
}

#[tokio::test]
async fn bad_identifiers_are_refused() {
    let (t, admin) = seeded().await;
    let before = t.snapshot().await;
    let too_long = "a".repeat(64);
    for id in [
        "a",
        "-lead",
        "trail_",
        "team_a",
        "team a",
        "Team",
        "ALPHA",
        "alPha",
        too_long.as_str(),
        "",
        "ünï",
        "a.b",
        "../x",
    ] {
        let p = expect_problem(admin.create_workspace(&new_ws(id)).await, 400, "input.invalid_identifier");
        assert!(p.detail.contains("identifier"), "{p:?}");
        expect_problem(
            admin.create_project("alpha", &new_project(id)).await,
            400,
            "input.invalid_identifier",
        );
    }
    t.assert_unchanged(&before, "bad identifiers").await;

    // The limits themselves are fine: 2 and 63 characters, digits, inner dashes.
    let longest = "a".repeat(63);
    for id in ["ab", "0x", "a-b-9", longest.as_str()] {
        assert_eq!(admin.create_workspace(&new_ws(id)).await.unwrap().identifier, id);
        assert_eq!(admin.create_project("alpha", &new_project(id)).await.unwrap().identifier, id);
    }
    t.stop().await;
}

#[tokio::test]
async fn bad_emails_are_refused() {
    let (t, admin) = seeded().await;
    let before = t.snapshot().await;
    for email in [
        "",
        "alice",
        "@example.com",
        "alice@",
        "a@@example.com",
        "a b@example.com",
        "<a@example.com>",
        "a@example..com",
        "a@.example.com",
        "a,b@example.com",
    ] {
        let user = CreateUser { email: email.into(), name: "X".into(), admin_role: None, password: None };
        expect_problem(admin.create_user(&user).await, 400, "input.invalid_email");
        let ws = CreateWorkspace { owners: vec![email.into()], ..new_ws("gamma") };
        expect_problem(admin.create_workspace(&ws).await, 400, "input.invalid_email");
        let grant = CreateGrant {
            user: email.into(),
            workspace: "alpha".into(),
            role: "member".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        };
        expect_problem(admin.create_grant(&grant).await, 400, "input.invalid_email");
        let check = CheckRequest {
            user: email.into(),
            workspace: "alpha".into(),
            project: None,
            role: "member".into(),
            min_seq: None,
        };
        expect_problem(admin.check(&check).await, 400, "input.invalid_email");
        if !email.is_empty() {
            expect_problem(
                admin.set_workspace_member("alpha", email, &member("member")).await,
                400,
                "input.invalid_email",
            );
            expect_problem(
                admin.set_project_member("alpha", "web", email, &member("reader")).await,
                400,
                "input.invalid_email",
            );
        }
    }
    // A well-formed address of nobody is a 404, and also changes nothing.
    expect_problem(
        admin.set_workspace_member("alpha", "ghost@example.com", &member("member")).await,
        404,
        "user.not_found",
    );
    expect_problem(
        admin
            .create_workspace(&CreateWorkspace {
                owners: vec!["ghost@example.com".into()],
                ..new_ws("gamma")
            })
            .await,
        404,
        "user.not_found",
    );
    t.assert_unchanged(&before, "bad e-mails").await;
    t.stop().await;
}

#[tokio::test]
async fn an_expiry_in_the_past_is_refused() {
    let (t, admin) = seeded().await;
    let before = t.snapshot().await;
    let now = t.now();
    for at in
        [rfc(now), rfc(plus_micros(now, -1)), rfc(now.minus(Span::days(365))), "2029-12-31T23:59:59Z".into()]
    {
        let set = SetMember { role: "manager".into(), expires_at: Some(at.clone()), ..Default::default() };
        expect_problem(
            admin.set_workspace_member("alpha", "bob@example.com", &set).await,
            422,
            "input.expiry_in_past",
        );
        let set = SetMember { role: "admin".into(), expires_at: Some(at.clone()), ..Default::default() };
        expect_problem(
            admin.set_project_member("alpha", "web", "bob@example.com", &set).await,
            422,
            "input.expiry_in_past",
        );
        let grant = CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            role: "owner".into(),
            expires_at: Some(at.clone()),
            ..Default::default()
        };
        expect_problem(admin.create_grant(&grant).await, 422, "input.expiry_in_past");
        let token = breakglass_client::api::CreateToken {
            name: "x".into(),
            expires_at: Some(at),
            ..Default::default()
        };
        expect_problem(admin.create_token(&token).await, 422, "input.expiry_in_past");
    }
    // Neighbouring mistakes about time.
    let cases: [(SetMember, &str); 4] = [
        (
            SetMember { role: "member".into(), expires_at: Some("tomorrow".into()), ..Default::default() },
            "input.invalid_time",
        ),
        (
            SetMember { role: "member".into(), expires_in: Some("0m".into()), ..Default::default() },
            "input.invalid_duration",
        ),
        (
            SetMember { role: "member".into(), expires_in: Some("-5m".into()), ..Default::default() },
            "input.invalid_duration",
        ),
        (
            SetMember {
                role: "member".into(),
                expires_at: Some(rfc(now.plus(Span::hours(1)))),
                expires_in: Some("1h".into()),
                justification: None,
            },
            "input.conflicting_fields",
        ),
    ];
    for (set, code) in cases {
        let status = if breakglass_server::error::MALFORMED.contains(&code) { 400 } else { 422 };
        expect_problem(admin.set_workspace_member("alpha", "bob@example.com", &set).await, status, code);
    }
    let no_end = CreateGrant {
        user: "bob@example.com".into(),
        workspace: "alpha".into(),
        role: "owner".into(),
        ..Default::default()
    };
    expect_problem(admin.create_grant(&no_end).await, 422, "input.missing_expiry");
    t.assert_unchanged(&before, "expiries in the past").await;
    t.stop().await;
}

#[tokio::test]
async fn unknown_roles_are_refused() {
    let (t, admin) = seeded().await;
    let before = t.snapshot().await;
    for r in ["superuser", "Member", "OWNER", "", "admin", "reader"] {
        // The last two are project roles, unknown on a workspace.
        expect_problem(
            admin.set_workspace_member("alpha", "bob@example.com", &member(r)).await,
            400,
            "input.unknown_role",
        );
        let grant = CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            role: r.into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        };
        expect_problem(admin.create_grant(&grant).await, 400, "input.unknown_role");
        let check = CheckRequest {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: None,
            role: r.into(),
            min_seq: None,
        };
        expect_problem(admin.check(&check).await, 400, "input.unknown_role");
    }
    for r in ["root", "owner", "member", "Admin"] {
        // Workspace roles are unknown on a project.
        expect_problem(
            admin.set_project_member("alpha", "web", "bob@example.com", &member(r)).await,
            400,
            "input.unknown_role",
        );
        let grant = CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: r.into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        };
        expect_problem(admin.create_grant(&grant).await, 400, "input.unknown_role");
    }
    for r in ["root", "superadmin", "Admin"] {
        let user = CreateUser {
            email: "x@example.com".into(),
            name: "X".into(),
            admin_role: Some(r.into()),
            password: None,
        };
        expect_problem(admin.create_user(&user).await, 400, "input.unknown_role");
    }
    t.assert_unchanged(&before, "unknown roles").await;
    t.stop().await;
}

#[tokio::test]
async fn duplicate_identifiers_are_refused() {
    let (t, admin) = seeded().await;
    t.workspace("beta", &[]).await;
    let before = t.snapshot().await;
    let p = expect_problem(admin.create_workspace(&new_ws("alpha")).await, 409, "workspace.exists");
    assert!(p.detail.contains("alpha"), "{p:?}");
    expect_problem(
        admin
            .create_workspace(&CreateWorkspace {
                name: "Another name".into(),
                project_quota: Some(1),
                ..new_ws("alpha")
            })
            .await,
        409,
        "workspace.exists",
    );
    expect_problem(admin.create_project("alpha", &new_project("web")).await, 409, "project.exists");
    for email in ["bob@example.com", "BOB@example.com", " Bob@Example.COM "] {
        let user =
            CreateUser { email: email.into(), name: "Bob again".into(), admin_role: None, password: None };
        expect_problem(admin.create_user(&user).await, 409, "user.exists");
    }
    t.assert_unchanged(&before, "duplicate identifiers").await;
    // The same project identifier in another workspace is a different project.
    assert_eq!(admin.create_project("beta", &new_project("web")).await.unwrap().workspace, "beta");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_of_one_identifier_let_exactly_one_through() {
    let (t, admin) = seeded().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let c = admin.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                c.create_workspace(&new_ws("race")).await.map(drop)
            } else {
                c.create_project("alpha", &new_project("race")).await.map(drop)
            }
        });
    }
    let mut ok = 0;
    let mut codes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => codes.push((e.status(), e.code().map(str::to_owned))),
        }
    }
    assert_eq!(ok, 2, "one workspace and one project: {codes:?}");
    codes.sort();
    let expected: Vec<(Option<u16>, Option<String>)> = [
        vec![(Some(409), Some("project.exists".to_owned())); 5],
        vec![(Some(409), Some("workspace.exists".to_owned())); 5],
    ]
    .concat();
    assert_eq!(codes, expected);
    assert_eq!(
        t.events_of("WORKSPACE_CREATED")
            .await
            .iter()
            .filter(|e| e.workspace.as_deref() == Some("race"))
            .count(),
        1
    );

    // The same for users, whatever the case of the e-mail.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let c = admin.clone();
        let email = if i % 2 == 0 { "racer@example.com" } else { "RACER@Example.com" };
        let user =
            CreateUser { email: email.into(), name: format!("Racer {i}"), admin_role: None, password: None };
        tasks.spawn(async move { c.create_user(&user).await.map(drop) });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!((e.status(), e.code()), (Some(409), Some("user.exists")), "{e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(admin.all_users().await.unwrap().iter().filter(|u| u.email == "racer@example.com").count(), 1);
    assert!(admin.verify_audit().await.unwrap().ok);
    t.stop().await;
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    let t = TestApp::start().await;
    let olivia = t.user("olivia@example.com").await;
    t.user("bob@example.com").await;
    t.workspace("alpha", &["olivia@example.com"]).await;
    t.project("alpha", "web").await;
    let admin = t.admin();
    let before = t.snapshot().await;

    for (who, c) in [("olivia herself", &olivia), ("the admin", &admin)] {
        let p = expect_problem(
            c.remove_workspace_member("alpha", "olivia@example.com").await,
            422,
            "workspace.last_owner",
        );
        assert!(p.detail.contains("olivia@example.com"), "{who}: {p:?}");
        for r in ["member", "manager"] {
            expect_problem(
                c.set_workspace_member("alpha", "olivia@example.com", &member(r)).await,
                422,
                "workspace.last_owner",
            );
        }
    }
    t.assert_unchanged(&before, "removing or demoting the last owner").await;

    // With a second owner, the first may go; then the second is the last.
    olivia.set_workspace_member("alpha", "bob@example.com", &member("owner")).await.unwrap();
    olivia.set_workspace_member("alpha", "olivia@example.com", &member("manager")).await.unwrap();
    assert_eq!(t.last_event().await.event_type, "USER_ROLE_CHANGED");
    admin.remove_workspace_member("alpha", "olivia@example.com").await.unwrap();
    let before = t.snapshot().await;
    expect_problem(
        admin.remove_workspace_member("alpha", "bob@example.com").await,
        422,
        "workspace.last_owner",
    );
    expect_problem(
        admin.set_workspace_member("alpha", "bob@example.com", &member("member")).await,
        422,
        "workspace.last_owner",
    );
    t.assert_unchanged(&before, "removing the new last owner").await;
    let owners: Vec<String> = admin
        .all_workspace_members("alpha")
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.role == breakglass_api::Role::Owner)
        .map(|b| b.user)
        .collect();
    assert_eq!(owners, ["bob@example.com"]);
    t.stop().await;
}

#[tokio::test]
async fn bad_names_passwords_and_reasons_are_refused() {
    let (t, admin) = seeded().await;
    let before = t.snapshot().await;
    let long_name = "n".repeat(201);
    for name in ["", "   ", long_name.as_str(), "tab\there", "line\nbreak"] {
        let ws = CreateWorkspace { name: name.into(), ..new_ws("gamma") };
        expect_problem(admin.create_workspace(&ws).await, 400, "input.invalid_name");
        let p = CreateProject { identifier: "api".into(), name: name.into(), tags: Default::default() };
        expect_problem(admin.create_project("alpha", &p).await, 400, "input.invalid_name");
        let u =
            CreateUser { email: "x@example.com".into(), name: name.into(), admin_role: None, password: None };
        expect_problem(admin.create_user(&u).await, 400, "input.invalid_name");
    }
    let long_password = "p".repeat(1025);
    for password in ["", "short", "elevenchars", long_password.as_str()] {
        let u = CreateUser {
            email: "x@example.com".into(),
            name: "X".into(),
            admin_role: None,
            password: Some(password.into()),
        };
        expect_problem(admin.create_user(&u).await, 400, "input.weak_password");
    }
    for reason in ["r".repeat(1001), "bell\u{7}".into()] {
        let g = CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            role: "owner".into(),
            expires_in: Some("1h".into()),
            reason: Some(reason),
            ..Default::default()
        };
        expect_problem(admin.create_grant(&g).await, 400, "input.invalid_reason");
    }
    t.assert_unchanged(&before, "bad names, passwords and reasons").await;
    t.stop().await;
}

/// A body over the size limit is refused for its size, as problem+json, and changes nothing;
/// it is not "malformed JSON".
#[tokio::test]
async fn an_oversized_body_is_refused_for_its_size() {
    let (t, _) = seeded().await;
    let before = t.snapshot().await;
    let name = "n".repeat(5 * 1024 * 1024);
    let body = json!({"identifier": "gamma", "name": name});
    let raw = t.raw("POST", "/api/v1/workspaces", Some(ADMIN_TOKEN), Body::Json(&body)).await;
    assert_eq!(raw.content_type.as_deref(), Some("application/problem+json"), "{} {}", raw.status, raw.text);
    assert_eq!(raw.status, 413, "a 5 MiB body: {}", raw.text);
    assert_ne!(raw.body["code"], "input.malformed_json", "{}", raw.text);
    t.assert_unchanged(&before, "an oversized body").await;
    t.stop().await;
}
