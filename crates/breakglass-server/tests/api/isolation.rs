//! Cross-workspace isolation: a workspace's data is invisible to users outside it. Everything in
//! it answers 404, exactly as for a workspace that does not exist, and changes nothing.

use breakglass_client::api::{
    BatchCheckRequest, CheckRequest, CreateGrant, CreateProject, PageQuery, Problem, SetMember,
};
use breakglass_client::{Client, ClientError};

use crate::common::*;

fn member(role: &str) -> SetMember {
    SetMember { role: role.into(), ..Default::default() }
}

fn check(user: &str, ws: &str, project: Option<&str>, role: &str) -> CheckRequest {
    CheckRequest {
        user: user.into(),
        workspace: ws.into(),
        project: project.map(Into::into),
        role: role.into(),
        min_seq: None,
    }
}

/// Every call a user could make about workspace `ws` (project `p`, subject `subject`), with a
/// label; each answers `()` or an error.
async fn probe_all(
    c: &Client,
    ws: &str,
    p: &str,
    subject: &str,
) -> Vec<(&'static str, Result<(), ClientError>)> {
    fn done<T>(r: Result<T, ClientError>) -> Result<(), ClientError> {
        r.map(drop)
    }
    let page = PageQuery::default();
    let q = Default::default();
    vec![
        ("GET workspace", done(c.workspace(ws).await)),
        ("GET members", done(c.workspace_members(ws, &page).await)),
        ("GET projects", done(c.list_projects(ws, &page).await)),
        ("GET project", done(c.project(ws, p).await)),
        ("GET project members", done(c.project_members(ws, p, &page).await)),
        ("GET history", done(c.workspace_history(ws, &q).await)),
        ("GET project history", done(c.project_history(ws, p, &q).await)),
        ("PUT member", done(c.set_workspace_member(ws, subject, &member("member")).await)),
        ("PUT member (self)", done(c.set_workspace_member(ws, "eve@example.com", &member("owner")).await)),
        ("DELETE member", done(c.remove_workspace_member(ws, subject).await)),
        ("PUT project member", done(c.set_project_member(ws, p, subject, &member("admin")).await)),
        ("DELETE project member", done(c.remove_project_member(ws, p, subject).await)),
        (
            "POST project",
            done(
                c.create_project(
                    ws,
                    &CreateProject {
                        identifier: "sneaky".into(),
                        name: "Sneaky".into(),
                        tags: Default::default(),
                    },
                )
                .await,
            ),
        ),
        (
            "POST project (bad identifier)",
            done(
                c.create_project(
                    ws,
                    &CreateProject {
                        identifier: "Not A Slug".into(),
                        name: "x".into(),
                        tags: Default::default(),
                    },
                )
                .await,
            ),
        ),
        (
            "POST grant",
            done(
                c.create_grant(&CreateGrant {
                    user: subject.into(),
                    workspace: ws.into(),
                    role: "owner".into(),
                    expires_in: Some("1h".into()),
                    ..Default::default()
                })
                .await,
            ),
        ),
        (
            "POST grant (project)",
            done(
                c.create_grant(&CreateGrant {
                    user: "eve@example.com".into(),
                    workspace: ws.into(),
                    project: Some(p.into()),
                    role: "admin".into(),
                    expires_in: Some("1h".into()),
                    ..Default::default()
                })
                .await,
            ),
        ),
        ("POST check (another user)", done(c.check(&check(subject, ws, None, "member")).await)),
        ("POST check (another user, project)", done(c.check(&check(subject, ws, Some(p), "reader")).await)),
        (
            "POST check/batch (another user)",
            done(
                c.check_batch(&BatchCheckRequest {
                    checks: vec![check(subject, ws, None, "member")],
                    min_seq: None,
                })
                .await,
            ),
        ),
    ]
}

fn problem(label: &str, r: Result<(), ClientError>) -> Problem {
    match r {
        Err(ClientError::Api { problem, .. }) => problem,
        other => panic!("{label}: expected a problem, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_outside_a_workspace_gets_404_for_everything_in_it() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let alice = t.user("alice@example.com").await;
    t.user("bob@example.com").await;
    let eve = t.user("eve@example.com").await;
    t.workspace("alpha", &["alice@example.com"]).await;
    t.workspace("beta", &["eve@example.com"]).await;
    t.project("alpha", "web").await;
    t.project("beta", "web").await;
    alice.set_workspace_member("alpha", "bob@example.com", &member("member")).await.unwrap();
    alice.set_project_member("alpha", "web", "bob@example.com", &member("user")).await.unwrap();
    let g = alice
        .create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "admin".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .expect_binding();
    let before = t.snapshot().await;

    // Eve owns beta but is outside alpha. Every call about alpha is a 404 that names no more
    // than a call about a workspace that does not exist.
    let real = probe_all(&eve, "alpha", "web", "bob@example.com").await;
    let ghost = probe_all(&eve, "no-such-ws", "web", "bob@example.com").await;
    for ((label, r), (_, g)) in real.into_iter().zip(ghost) {
        let p = problem(label, r);
        assert_eq!((p.status, p.code.as_str()), (404, "workspace.not_found"), "{label}: {p:?}");
        let q = problem(label, g);
        assert_eq!((q.status, q.code.as_str()), (404, "workspace.not_found"), "{label} (nonexistent): {q:?}");
        assert_eq!(
            p.detail.replace("alpha", "X"),
            q.detail.replace("no-such-ws", "X"),
            "{label}: the answers differ"
        );
        assert_eq!(p.title, q.title, "{label}");
    }
    // A project that does not exist in an invisible workspace: still the workspace's 404.
    expect_problem(eve.project("alpha", "nope").await, 404, "workspace.not_found");
    // Revoking a grant in alpha: as if it did not exist.
    expect_problem(eve.revoke_grant(&g.id).await, 404, "grant.not_found");
    // Raw requests say the same with problem+json.
    for (method, path) in [
        ("GET", "/api/v1/workspaces/alpha"),
        ("GET", "/api/v1/workspaces/alpha/projects/web/members"),
        ("DELETE", "/api/v1/workspaces/alpha/members/bob@example.com"),
    ] {
        t.raw(method, path, eve.token(), Body::None).await.assert_problem(404, "workspace.not_found");
    }

    // Checking herself answers "no" the same way whether alpha exists or not.
    let mine = eve.check(&check("eve@example.com", "alpha", None, "member")).await.unwrap();
    let none = eve.check(&check("eve@example.com", "no-such-ws", None, "member")).await.unwrap();
    assert!(!mine.allowed && mine.reason.map(|r| r.as_str()) == Some("no_binding"), "{mine:?}");
    assert_eq!(mine, none);

    // Lists only show her own workspace.
    let listed: Vec<String> = eve.all_workspaces().await.unwrap().into_iter().map(|w| w.identifier).collect();
    assert_eq!(listed, ["beta"]);
    let me = eve.me().await.unwrap();
    assert_eq!(
        me.workspaces.iter().map(|w| (w.workspace.as_str(), w.role.map(|r| r.as_str()))).collect::<Vec<_>>(),
        [("beta", Some("owner"))]
    );

    t.assert_unchanged(&before, "an outsider's requests").await;
    // Nothing she tried left a trace in alpha either.
    assert!(admin.all_projects("alpha").await.unwrap().iter().all(|p| p.identifier != "sneaky"));

    // The other way round: alice, owner of alpha, sees nothing of beta.
    for (label, r) in probe_all(&alice, "beta", "web", "eve@example.com").await {
        let p = problem(label, r);
        assert_eq!(
            (p.status, p.code.as_str()),
            (404, "workspace.not_found"),
            "alice on beta, {label}: {p:?}"
        );
    }
    t.assert_unchanged(&before, "alice's requests on beta").await;

    // Bob, a member of alpha only, sees alpha and not beta.
    let bob = t.login("bob@example.com").await;
    assert_eq!(bob.workspace("alpha").await.unwrap().identifier, "alpha");
    expect_problem(bob.workspace("beta").await, 404, "workspace.not_found");
    t.stop().await;
}

#[tokio::test]
async fn a_project_binding_alone_makes_the_workspace_visible_but_nothing_more() {
    let t = TestApp::start().await;
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    t.project("alpha", "api").await;
    let pat = t.user("pat@example.com").await;
    t.user("bob@example.com").await;
    t.admin().set_project_member("alpha", "web", "pat@example.com", &member("reader")).await.unwrap();
    t.admin().set_workspace_member("alpha", "bob@example.com", &member("member")).await.unwrap();
    let before = t.snapshot().await;

    assert_eq!(pat.workspace("alpha").await.unwrap().identifier, "alpha");
    assert_eq!(pat.all_projects("alpha").await.unwrap().len(), 2);
    let me = pat.me().await.unwrap();
    assert_eq!(me.workspaces.len(), 1);
    assert_eq!(
        (me.workspaces[0].workspace.as_str(), me.workspaces[0].role.map(|r| r.as_str())),
        ("alpha", None)
    );
    // Visible, so checks of others are answered, but no managing.
    assert!(pat.check(&check("bob@example.com", "alpha", None, "member")).await.unwrap().allowed);
    expect_problem(
        pat.set_project_member("alpha", "web", "pat@example.com", &member("admin")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(pat.workspace_history("alpha", &Default::default()).await, 403, "authz.forbidden");
    t.assert_unchanged(&before, "a project reader's requests").await;
    t.stop().await;
}
