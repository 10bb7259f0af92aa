//! A workspace's project quota holds, one request at a time and under concurrent creation.

use breakglass_client::api::{CreateProject, CreateWorkspace, SetMember};
use breakglass_client::Client;

use crate::common::*;

fn new_project(id: &str) -> CreateProject {
    CreateProject { identifier: id.into(), name: format!("Project {id}"), tags: Default::default() }
}

#[tokio::test]
async fn the_project_quota_is_enforced() {
    let t = TestApp::start_with_quota(2).await;
    let admin = t.admin();
    let ws = t.workspace("alpha", &[]).await;
    assert_eq!((ws.project_quota, ws.project_count), (2, 0), "new workspaces get the installation's quota");
    admin.create_project("alpha", &new_project("one")).await.unwrap();
    admin.create_project("alpha", &new_project("two")).await.unwrap();
    let before = t.snapshot().await;
    let p = expect_problem(
        admin.create_project("alpha", &new_project("three")).await,
        422,
        "workspace.quota_exceeded",
    );
    assert!(p.detail.contains("alpha"), "{p:?}");
    t.assert_unchanged(&before, "a project over the quota").await;
    let ws = admin.workspace("alpha").await.unwrap();
    assert_eq!((ws.project_quota, ws.project_count), (2, 2));

    // An explicit quota wins over the default; zero allows none.
    for (id, quota) in [("beta", 3), ("zero", 0)] {
        let ws = admin
            .create_workspace(&CreateWorkspace {
                identifier: id.into(),
                name: id.into(),
                owners: vec![],
                project_quota: Some(quota),
                members: Vec::new(),
                tags: Default::default(),
            })
            .await
            .unwrap();
        assert_eq!(ws.project_quota, quota);
        for i in 0..quota {
            admin.create_project(id, &new_project(&format!("p{i}"))).await.unwrap();
        }
        let before = t.snapshot().await;
        expect_problem(
            admin.create_project(id, &new_project("extra")).await,
            422,
            "workspace.quota_exceeded",
        );
        t.assert_unchanged(&before, "a project over the quota").await;
    }

    // A full workspace refuses a manager as it refuses the admin.
    let mike = t.user("mike@example.com").await;
    admin
        .set_workspace_member(
            "alpha",
            "mike@example.com",
            &SetMember { role: "manager".into(), ..Default::default() },
        )
        .await
        .unwrap();
    expect_problem(mike.create_project("alpha", &new_project("mine")).await, 422, "workspace.quota_exceeded");
    t.stop().await;
}

async fn race(clients: &[Client], ws: &str, prefix: &str, attempts: usize) -> (usize, Vec<String>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..attempts {
        let c = clients[i % clients.len()].clone();
        let ws = ws.to_owned();
        let id = format!("{prefix}{i:02}");
        tasks.spawn(async move { c.create_project(&ws, &new_project(&id)).await });
    }
    let mut ok = 0;
    let mut refused = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r.expect("the task completes") {
            Ok(p) => {
                assert_eq!(p.workspace, ws);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.status(), Some(422), "{e}");
                refused.push(e.code().unwrap_or_default().to_owned());
            }
        }
    }
    (ok, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_project_quota_holds_under_concurrent_creation() {
    const QUOTA: u32 = 5;
    const ATTEMPTS: usize = 24;
    let t = TestApp::start_with_quota(QUOTA).await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.workspace("beta", &[]).await;
    let mike = t.user("mike@example.com").await;
    for ws in ["alpha", "beta"] {
        admin
            .set_workspace_member(
                ws,
                "mike@example.com",
                &SetMember { role: "manager".into(), ..Default::default() },
            )
            .await
            .unwrap();
    }
    let clients = [admin.clone(), mike.clone(), t.client(ADMIN_TOKEN)];

    // Two workspaces raced at once: each gets exactly its quota.
    let (a, b) = tokio::join!(race(&clients, "alpha", "p", ATTEMPTS), race(&clients, "beta", "p", ATTEMPTS));
    for (ws, (ok, refused)) in [("alpha", a), ("beta", b)] {
        assert_eq!(ok, QUOTA as usize, "{ws}: exactly the quota succeeds; refusals: {refused:?}");
        assert_eq!(refused.len(), ATTEMPTS - QUOTA as usize);
        assert!(refused.iter().all(|c| c == "workspace.quota_exceeded"), "{ws}: {refused:?}");
        let projects = admin.all_projects(ws).await.unwrap();
        assert_eq!(projects.len(), QUOTA as usize, "{ws}: {projects:?}");
        assert_eq!(admin.workspace(ws).await.unwrap().project_count, QUOTA);
        let created = t
            .events_of("PROJECT_CREATED")
            .await
            .into_iter()
            .filter(|e| e.workspace.as_deref() == Some(ws))
            .count();
        assert_eq!(created, QUOTA as usize, "{ws}: one PROJECT_CREATED per project");
    }
    let report = admin.verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");

    // A second wave against full workspaces: all refused.
    let (ok, refused) = race(&clients, "alpha", "late", 8).await;
    assert_eq!((ok, refused.len()), (0, 8));
    assert_eq!(admin.all_projects("alpha").await.unwrap().len(), QUOTA as usize);

    // The quota survives a restart.
    let t = t.restart().await;
    let (ok, _) = race(&[t.admin()], "beta", "after-restart", 3).await;
    assert_eq!(ok, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_project_quota_holds_across_two_servers_on_one_database() {
    const QUOTA: u32 = 4;
    const ATTEMPTS: usize = 12;
    let a = TestApp::start_with_quota(QUOTA).await;
    a.workspace("alpha", &[]).await;
    let b = a.second_server().await;
    assert_ne!(a.url, b.url);
    // B loaded the workspace from the database.
    assert_eq!(b.admin().workspace("alpha").await.unwrap().project_quota, QUOTA);

    let (ca, cb) = ([a.admin()], [b.admin()]);
    let (ra, rb) = tokio::join!(race(&ca, "alpha", "a", ATTEMPTS), race(&cb, "alpha", "b", ATTEMPTS));
    let ok = ra.0 + rb.0;
    let mut refused = ra.1;
    refused.extend(rb.1);
    assert_eq!(ok, QUOTA as usize, "exactly the quota succeeds across both servers; refusals: {refused:?}");
    assert!(refused.iter().all(|c| c == "workspace.quota_exceeded"), "{refused:?}");

    // Both servers now agree with the database.
    for t in [&a, &b] {
        let report = t.admin().verify_audit().await.unwrap();
        assert!(report.ok, "{report:?}");
    }
    let created = a.events_of("PROJECT_CREATED").await.len();
    assert_eq!(created, QUOTA as usize);
    b.stop().await;
    let a = a.restart().await;
    assert_eq!(a.admin().all_projects("alpha").await.unwrap().len(), QUOTA as usize);
    a.stop().await;
}
