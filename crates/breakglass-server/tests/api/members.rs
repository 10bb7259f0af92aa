//! Memberships: one direct membership per user and target (a second PUT replaces it), removal
//! from a workspace ends the user's project bindings there, and who may manage whom.

use breakglass_client::api::{CheckRequest, CreateGrant, CreateProject, SetMember};
use breakglass_client::Client;
use breakglass_core::time::Span;

use crate::common::*;

fn role(r: &str) -> SetMember {
    SetMember { role: r.into(), ..Default::default() }
}

async fn allowed(c: &Client, user: &str, ws: &str, project: Option<&str>, role: &str) -> bool {
    c.check(&CheckRequest {
        user: user.into(),
        workspace: ws.into(),
        project: project.map(Into::into),
        role: role.into(),
        min_seq: None,
    })
    .await
    .unwrap()
    .allowed
}

#[tokio::test]
async fn a_second_put_replaces_the_membership() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;

    let first = admin
        .set_workspace_member("alpha", "bob@example.com", &role("member"))
        .await
        .unwrap()
        .expect_binding();
    let ev = t.last_event().await;
    assert_eq!((ev.event_type.as_str(), ev.subject.as_deref()), ("USER_ASSIGNED", Some("bob@example.com")));
    assert_eq!(ev.details["role"], "member");
    assert_eq!(ev.details["binding_id"], first.id.as_str());

    let second = admin
        .set_workspace_member("alpha", "Bob@Example.com", &role("manager"))
        .await
        .unwrap()
        .expect_binding();
    assert_ne!(second.id, first.id);
    assert_eq!((second.user.as_str(), second.role.as_str()), ("bob@example.com", "manager"));
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "USER_ROLE_CHANGED");
    assert_eq!(ev.details["from_role"], "member");
    assert_eq!(ev.details["role"], "manager");
    assert_eq!(ev.details["replaces_binding_id"], first.id.as_str());
    assert_eq!(ev.details["binding_id"], second.id.as_str());
    let bobs: Vec<_> = admin
        .all_workspace_members("alpha")
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.user == "bob@example.com")
        .collect();
    assert_eq!(bobs.len(), 1, "one direct membership per user: {bobs:?}");
    assert_eq!(bobs[0].id, second.id);
    let r = admin
        .check(&CheckRequest {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: None,
            role: "member".into(),
            min_seq: None,
        })
        .await
        .unwrap();
    assert_eq!(r.via.len(), 1);
    assert_eq!(r.via[0].binding_id, second.id);

    // The same membership again changes nothing and answers the live binding.
    let seq = t.seq().await;
    let again = admin
        .set_workspace_member("alpha", "bob@example.com", &role("manager"))
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(again.id, second.id);
    assert_eq!(t.seq().await, seq);

    // Changing only the expiry is a role change too; a grant on top survives a PUT.
    let end = t.now().plus(Span::days(7));
    let g = admin
        .create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            role: "owner".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .expect_binding();
    let third = admin
        .set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember { role: "manager".into(), expires_at: Some(rfc(end)), ..Default::default() },
        )
        .await
        .unwrap()
        .expect_binding();
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "USER_ROLE_CHANGED");
    assert_eq!(
        (ev.details["from_role"].as_str(), ev.details["role"].as_str()),
        (Some("manager"), Some("manager"))
    );
    assert_eq!(ev.details["from_expires_at"], serde_json::Value::Null);
    assert_eq!(ev.details["expires_at"].as_str().map(ts), Some(end));
    let mut ids: Vec<String> = admin
        .all_workspace_members("alpha")
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.user == "bob@example.com")
        .map(|b| b.id)
        .collect();
    ids.sort();
    let mut expected = vec![third.id.clone(), g.id.clone()];
    expected.sort();
    assert_eq!(ids, expected, "PUT replaces the membership only, not the grant");

    // The same on a project.
    t.project("alpha", "web").await;
    let p1 = admin
        .set_project_member("alpha", "web", "bob@example.com", &role("reader"))
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(t.last_event().await.event_type, "PROJECT_USER_ASSIGNED");
    let p2 = admin
        .set_project_member("alpha", "web", "bob@example.com", &role("admin"))
        .await
        .unwrap()
        .expect_binding();
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "PROJECT_USER_ROLE_CHANGED");
    assert_eq!((ev.workspace.as_deref(), ev.project.as_deref()), (Some("alpha"), Some("web")));
    assert_eq!(ev.details["replaces_binding_id"], p1.id.as_str());
    let listed = admin.all_project_members("alpha", "web").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].role.as_str()), (p2.id.as_str(), "admin"));
    t.stop().await;
}

#[tokio::test]
async fn removing_a_user_from_a_workspace_ends_their_project_bindings_there() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.workspace("beta", &[]).await;
    t.project("alpha", "web").await;
    t.project("alpha", "api").await;
    t.project("beta", "web").await;
    let bob = t.user("bob@example.com").await;
    t.user("carol@example.com").await;

    admin.set_workspace_member("alpha", "bob@example.com", &role("member")).await.unwrap();
    admin.set_project_member("alpha", "web", "bob@example.com", &role("user")).await.unwrap();
    admin.set_project_member("alpha", "api", "bob@example.com", &role("reader")).await.unwrap();
    admin
        .create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "admin".into(),
            expires_in: Some("4h".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    admin.set_project_member("beta", "web", "bob@example.com", &role("user")).await.unwrap();
    admin.set_workspace_member("alpha", "carol@example.com", &role("member")).await.unwrap();
    admin.set_project_member("alpha", "web", "carol@example.com", &role("reader")).await.unwrap();

    admin.remove_workspace_member("alpha", "bob@example.com").await.unwrap();
    let ev = t.last_event().await;
    assert_eq!((ev.event_type.as_str(), ev.subject.as_deref()), ("USER_REMOVED", Some("bob@example.com")));
    let ended = ev.details["ended"].as_array().expect("details.ended lists the bindings");
    assert_eq!(ended.len(), 4, "membership, two project roles and the grant: {ended:?}");
    assert_eq!(ended.iter().filter(|e| e["project"] == "web").count(), 2);
    assert_eq!(ended.iter().filter(|e| e["source"] == "grant").count(), 1);

    for (p, r) in [(None, "member"), (Some("web"), "reader"), (Some("api"), "reader")] {
        assert!(
            !allowed(&admin, "bob@example.com", "alpha", p, r).await,
            "bob still holds {r} on alpha/{p:?}"
        );
    }
    for p in [None, Some("web"), Some("api")] {
        let members = match p {
            None => admin.all_workspace_members("alpha").await.unwrap(),
            Some(p) => admin.all_project_members("alpha", p).await.unwrap(),
        };
        assert!(members.iter().all(|b| b.user != "bob@example.com"), "bob still listed on alpha/{p:?}");
    }
    expect_problem(bob.workspace("alpha").await, 404, "workspace.not_found");
    // Other workspaces and other users are untouched.
    assert!(allowed(&admin, "bob@example.com", "beta", Some("web"), "user").await);
    assert!(allowed(&admin, "carol@example.com", "alpha", Some("web"), "reader").await);
    assert_eq!(
        bob.all_workspaces().await.unwrap().iter().map(|w| w.identifier.as_str()).collect::<Vec<_>>(),
        ["beta"]
    );

    // Removing again: nothing to remove.
    let before = t.snapshot().await;
    expect_problem(admin.remove_workspace_member("alpha", "bob@example.com").await, 404, "member.not_found");
    expect_problem(
        admin.remove_workspace_member("alpha", "ghost@example.com").await,
        404,
        "member.not_found",
    );
    expect_problem(
        admin.remove_project_member("alpha", "api", "carol@example.com").await,
        404,
        "member.not_found",
    );
    t.assert_unchanged(&before, "removing members who hold nothing").await;

    // Removing from a project leaves the workspace membership.
    admin.remove_project_member("alpha", "web", "carol@example.com").await.unwrap();
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "PROJECT_USER_REMOVED");
    assert_eq!(ev.project.as_deref(), Some("web"));
    assert!(!allowed(&admin, "carol@example.com", "alpha", Some("web"), "reader").await);
    assert!(allowed(&admin, "carol@example.com", "alpha", None, "member").await);
    t.stop().await;
}

#[tokio::test]
async fn managers_manage_members_and_projects_but_only_owners_manage_managers() {
    let t = TestApp::start().await;
    let olivia = t.user("olivia@example.com").await;
    t.workspace("alpha", &["olivia@example.com"]).await;
    t.project("alpha", "web").await;
    let mike = t.user("mike@example.com").await;
    let bob = t.user("bob@example.com").await;
    t.user("carol@example.com").await;
    olivia.set_workspace_member("alpha", "mike@example.com", &role("manager")).await.unwrap();
    olivia.set_workspace_member("alpha", "bob@example.com", &role("member")).await.unwrap();

    // What a manager may do.
    mike.set_workspace_member("alpha", "carol@example.com", &role("member")).await.unwrap();
    assert_eq!(t.last_event().await.actor, "mike@example.com");
    mike.set_project_member("alpha", "web", "carol@example.com", &role("admin")).await.unwrap();
    mike.create_project(
        "alpha",
        &CreateProject { identifier: "api".into(), name: "API".into(), tags: Default::default() },
    )
    .await
    .unwrap();
    let g = mike
        .create_grant(&CreateGrant {
            user: "carol@example.com".into(),
            workspace: "alpha".into(),
            project: Some("api".into()),
            role: "admin".into(),
            expires_in: Some("2h".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .expect_binding();
    mike.revoke_grant(&g.id).await.unwrap();
    mike.remove_project_member("alpha", "web", "carol@example.com").await.unwrap();
    assert!(!mike.all_history("alpha", None, &Default::default()).await.unwrap().is_empty());

    // What a manager may not: anything touching managers or owners.
    let before = t.snapshot().await;
    expect_problem(
        mike.set_workspace_member("alpha", "carol@example.com", &role("manager")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        mike.set_workspace_member("alpha", "carol@example.com", &role("owner")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        mike.set_workspace_member("alpha", "olivia@example.com", &role("member")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(mike.remove_workspace_member("alpha", "olivia@example.com").await, 403, "authz.forbidden");
    expect_problem(
        mike.create_grant(&CreateGrant {
            user: "carol@example.com".into(),
            workspace: "alpha".into(),
            role: "manager".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        })
        .await,
        403,
        "authz.forbidden",
    );
    // Not even himself: a manager cannot make himself owner.
    expect_problem(
        mike.set_workspace_member("alpha", "mike@example.com", &role("owner")).await,
        403,
        "authz.forbidden",
    );
    t.assert_unchanged(&before, "a manager touching managers and owners").await;

    // What a member may not do at all; a member still sees the workspace.
    let before = t.snapshot().await;
    assert_eq!(bob.workspace("alpha").await.unwrap().identifier, "alpha");
    assert!(!bob.all_workspace_members("alpha").await.unwrap().is_empty());
    assert_eq!(bob.all_projects("alpha").await.unwrap().len(), 2);
    expect_problem(
        bob.set_workspace_member("alpha", "carol@example.com", &role("member")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        bob.set_project_member("alpha", "web", "bob@example.com", &role("admin")).await,
        403,
        "authz.forbidden",
    );
    expect_problem(bob.remove_workspace_member("alpha", "carol@example.com").await, 403, "authz.forbidden");
    expect_problem(
        bob.create_project(
            "alpha",
            &CreateProject { identifier: "mine".into(), name: "Mine".into(), tags: Default::default() },
        )
        .await,
        403,
        "authz.forbidden",
    );
    expect_problem(
        bob.create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "admin".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        })
        .await,
        403,
        "authz.forbidden",
    );
    expect_problem(bob.workspace_history("alpha", &Default::default()).await, 403, "authz.forbidden");
    expect_problem(bob.project_history("alpha", "web", &Default::default()).await, 403, "authz.forbidden");
    t.assert_unchanged(&before, "a member managing the workspace").await;

    // An owner may do all of it.
    olivia.set_workspace_member("alpha", "carol@example.com", &role("manager")).await.unwrap();
    olivia.set_workspace_member("alpha", "mike@example.com", &role("owner")).await.unwrap();
    // Now an owner, mike may demote and remove managers.
    mike.remove_workspace_member("alpha", "carol@example.com").await.unwrap();
    assert!(!allowed(&olivia, "carol@example.com", "alpha", None, "member").await);
    // A grant holder may give their own grant up.
    let g = olivia
        .create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "user".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .expect_binding();
    bob.revoke_grant(&g.id).await.unwrap();
    let ev = t.last_event().await;
    assert_eq!((ev.event_type.as_str(), ev.actor.as_str()), ("GRANT_REVOKED", "bob@example.com"));
    t.stop().await;
}

#[tokio::test]
async fn lists_page_with_a_cursor() {
    use breakglass_client::api::{CreateToken, PageQuery};
    let t = TestApp::start().await;
    let admin = t.admin();
    for ws in ["delta", "alpha", "charlie", "bravo"] {
        t.workspace(ws, &[]).await;
    }
    for p in ["web", "api", "db", "ml", "ops"] {
        t.project("alpha", p).await;
    }
    let mut emails = Vec::new();
    for u in ["erin", "bob", "dave", "carol"] {
        let email = format!("{u}@example.com");
        t.user(&email).await;
        admin.set_workspace_member("alpha", &email, &role("member")).await.unwrap();
        admin.set_project_member("alpha", "web", &email, &role("reader")).await.unwrap();
        emails.push(email);
    }
    for name in ["one", "two", "three"] {
        admin.create_token(&CreateToken { name: name.into(), ..Default::default() }).await.unwrap();
    }

    // Every list, paged by 1, 2 and 3, gives what one page of 100 gives, each item once.
    macro_rules! pages {
        ($name:literal, $list:expr, $key:expr) => {{
            let full = {
                let f = $list;
                f(PageQuery::default()).await.unwrap()
            };
            assert!(full.next_cursor.is_none(), "{}: everything fits one page of 100", $name);
            let mut keys: Vec<String> = full.items.iter().map($key).collect();
            let sorted = {
                let mut s = keys.clone();
                s.sort();
                s
            };
            assert_eq!(keys, sorted, "{}: listed in order", $name);
            keys.dedup();
            assert_eq!(keys.len(), full.items.len(), "{}: no duplicates", $name);
            for limit in [1u32, 2, 3] {
                let mut got = Vec::new();
                let mut cursor = None;
                loop {
                    let f = $list;
                    let page = f(PageQuery { limit: Some(limit), cursor: cursor.clone() }).await.unwrap();
                    assert!(page.items.len() <= limit as usize);
                    got.extend(page.items);
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                assert_eq!(got, full.items, "{} paged by {limit}", $name);
            }
            full.items
        }};
    }
    let users = pages!(
        "users",
        |q| {
            let a = admin.clone();
            async move { a.list_users(&q).await }
        },
        |u| u.email.clone()
    );
    assert_eq!(users.len(), 5);
    let workspaces = pages!(
        "workspaces",
        |q| {
            let a = admin.clone();
            async move { a.list_workspaces(&q).await }
        },
        |w| w.identifier.clone()
    );
    assert_eq!(
        workspaces.iter().map(|w| w.identifier.as_str()).collect::<Vec<_>>(),
        ["alpha", "bravo", "charlie", "delta"]
    );
    let projects = pages!(
        "projects",
        |q| {
            let a = admin.clone();
            async move { a.list_projects("alpha", &q).await }
        },
        |p| p.identifier.clone()
    );
    assert_eq!(projects.len(), 5);
    let members = pages!(
        "members",
        |q| {
            let a = admin.clone();
            async move { a.workspace_members("alpha", &q).await }
        },
        |b| format!("{} {}", b.user, b.id)
    );
    assert_eq!(members.len(), 5);
    let project_members = pages!(
        "project members",
        |q| {
            let a = admin.clone();
            async move { a.project_members("alpha", "web", &q).await }
        },
        |b| format!("{} {}", b.user, b.id)
    );
    assert_eq!(
        project_members.iter().map(|b| b.user.as_str()).collect::<Vec<_>>(),
        ["bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"]
    );
    let tokens = pages!(
        "tokens",
        |q| {
            let a = admin.clone();
            async move { a.list_tokens(&q).await }
        },
        |k| k.id.clone()
    );
    assert_eq!(tokens.len(), 4, "the bootstrap token and three more");

    for limit in [0, 1001] {
        expect_problem(
            admin.list_users(&PageQuery { limit: Some(limit), cursor: None }).await,
            400,
            "input.invalid_limit",
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_leave_exactly_one_membership() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let c = admin.clone();
        let r = ["member", "manager", "owner"][i % 3];
        tasks.spawn(async move { c.set_workspace_member("alpha", "bob@example.com", &role(r)).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().expect("every PUT succeeds, one after the other");
    }
    let bobs: Vec<_> = admin
        .all_workspace_members("alpha")
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.user == "bob@example.com")
        .collect();
    assert_eq!(bobs.len(), 1, "one direct membership: {bobs:?}");
    let assigned = t
        .events_of("USER_ASSIGNED")
        .await
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some("bob@example.com"))
        .count();
    assert_eq!(assigned, 1, "assigned once, then changed");
    let last_change =
        t.events().await.into_iter().rev().find(|e| e.subject.as_deref() == Some("bob@example.com")).unwrap();
    assert_eq!(
        last_change.details["role"],
        bobs[0].role.as_str(),
        "the last event describes the membership that stands"
    );
    assert!(admin.verify_audit().await.unwrap().ok);
    t.stop().await;
}
