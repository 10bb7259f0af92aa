//! Time: a binding counts up to the microsecond before its `expires_at` and not at it, with no
//! background job involved; overlapping bindings hold until the later one ends; the sweeper
//! records each expiry exactly once.

use breakglass_client::api::{BatchCheckRequest, CheckRequest, CheckResponse, CreateGrant, SetMember};
use breakglass_client::Client;
use breakglass_core::time::{Span, Timestamp};

use crate::common::*;

fn check_req(user: &str, ws: &str, project: Option<&str>, role: &str) -> CheckRequest {
    CheckRequest {
        user: user.into(),
        workspace: ws.into(),
        project: project.map(Into::into),
        role: role.into(),
        min_seq: None,
    }
}

async fn check(c: &Client, user: &str, ws: &str, project: Option<&str>, role: &str) -> CheckResponse {
    c.check(&check_req(user, ws, project, role))
        .await
        .unwrap_or_else(|e| panic!("check {user} {ws}/{project:?} {role}: {e}"))
}

fn role_until(role: &str, t: Timestamp) -> SetMember {
    SetMember { role: role.into(), expires_at: Some(rfc(t)), expires_in: None, justification: None }
}

fn grant(user: &str, ws: &str, project: Option<&str>, role: &str, t: Timestamp) -> CreateGrant {
    CreateGrant {
        user: user.into(),
        workspace: ws.into(),
        project: project.map(Into::into),
        role: role.into(),
        expires_at: Some(rfc(t)),
        expires_in: None,
        reason: Some("on-call incident INC-42".into()),
    }
}

fn exp(r: &CheckResponse) -> Option<Timestamp> {
    r.expires_at.as_deref().map(ts)
}

#[tokio::test]
async fn a_binding_counts_until_the_microsecond_before_its_expiry_and_not_at_it() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    let bob = t.user("bob@example.com").await;
    let end = t.now().plus(Span::hours(1));

    let b = admin
        .set_workspace_member("alpha", "bob@example.com", &role_until("member", end))
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(b.expires_at.as_deref().map(ts), Some(end));
    assert_eq!((b.role.as_str(), b.source.as_str()), ("member", "direct"));
    let pb = admin
        .set_project_member("alpha", "web", "bob@example.com", &role_until("user", end))
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(pb.expires_at.as_deref().map(ts), Some(end));

    // The last instant it counts.
    t.set_time(plus_micros(end, -1));
    let r = check(&admin, "bob@example.com", "alpha", None, "member").await;
    assert!(r.allowed, "{r:?}");
    assert_eq!(exp(&r), Some(end));
    assert_eq!(r.via.len(), 1);
    assert_eq!((r.via[0].binding_id.as_str(), r.via[0].source.as_str()), (b.id.as_str(), "direct"));
    let r = check(&admin, "bob@example.com", "alpha", Some("web"), "user").await;
    assert!(r.allowed && exp(&r) == Some(end), "{r:?}");
    // A role implies the lower ones, not the higher ones.
    assert!(check(&admin, "bob@example.com", "alpha", Some("web"), "reader").await.allowed);
    assert!(!check(&admin, "bob@example.com", "alpha", Some("web"), "admin").await.allowed);
    assert!(!check(&admin, "bob@example.com", "alpha", None, "manager").await.allowed);
    // Bob checks himself, sees the workspace and is listed.
    assert!(check(&bob, "bob@example.com", "alpha", None, "member").await.allowed);
    assert_eq!(bob.workspace("alpha").await.unwrap().identifier, "alpha");
    assert!(admin.all_workspace_members("alpha").await.unwrap().iter().any(|m| m.user == "bob@example.com"));
    assert!(admin
        .all_project_members("alpha", "web")
        .await
        .unwrap()
        .iter()
        .any(|m| m.user == "bob@example.com"));

    // At the instant itself: gone everywhere, without any sweep.
    t.set_time(end);
    for (project, role) in [(None, "member"), (Some("web"), "user"), (Some("web"), "reader")] {
        let r = check(&admin, "bob@example.com", "alpha", project, role).await;
        assert!(!r.allowed, "{project:?} {role} still allowed at its expiry: {r:?}");
        assert_eq!(r.reason.map(|r| r.as_str()), Some("no_binding"));
        assert!(r.via.is_empty() && r.expires_at.is_none(), "{r:?}");
    }
    let batch = admin
        .check_batch(&BatchCheckRequest {
            checks: vec![
                check_req("bob@example.com", "alpha", None, "member"),
                check_req(ADMIN_EMAIL, "alpha", None, "owner"),
                check_req("bob@example.com", "alpha", Some("web"), "user"),
            ],
            min_seq: None,
        })
        .await
        .unwrap();
    assert_eq!(batch.results.iter().map(|r| r.allowed).collect::<Vec<_>>(), [false, true, false]);
    assert!(admin.all_workspace_members("alpha").await.unwrap().iter().all(|m| m.user != "bob@example.com"));
    assert!(admin.all_project_members("alpha", "web").await.unwrap().is_empty());
    // Bob lost sight of the workspace with it.
    expect_problem(bob.workspace("alpha").await, 404, "workspace.not_found");
    assert!(bob.all_workspaces().await.unwrap().is_empty());
    assert!(bob.me().await.unwrap().workspaces.is_empty());
    assert!(t.events_of("BINDING_EXPIRED").await.is_empty(), "nothing was swept yet");

    // expires_in counts from now, exactly.
    let now = t.now();
    let b = admin
        .set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember { role: "member".into(), expires_in: Some("90m".into()), ..Default::default() },
        )
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(b.expires_at.as_deref().map(ts), Some(now.plus(Span::minutes(90))));
    t.stop().await;
}

#[tokio::test]
async fn a_grant_expires_at_its_exact_instant_too() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let end = t.now().plus(Span::minutes(15));
    let g = admin
        .create_grant(&grant("bob@example.com", "alpha", None, "manager", end))
        .await
        .unwrap()
        .expect_binding();
    assert_eq!((g.source.as_str(), g.role.as_str()), ("grant", "manager"));
    assert_eq!(g.reason.as_deref(), Some("on-call incident INC-42"));
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "GRANTED");
    assert_eq!(ev.details["reason"], "on-call incident INC-42");
    assert_eq!(ev.details["binding_id"], g.id.as_str());

    t.set_time(plus_micros(end, -1));
    let r = check(&admin, "bob@example.com", "alpha", None, "manager").await;
    assert!(r.allowed, "{r:?}");
    assert_eq!(r.via[0].source, breakglass_api::BindingSource::Grant);
    t.set_time(end);
    assert!(!check(&admin, "bob@example.com", "alpha", None, "member").await.allowed);
    // Once it stopped counting it can no longer be revoked.
    expect_problem(admin.revoke_grant(&g.id).await, 404, "grant.not_found");
    t.stop().await;
}

#[tokio::test]
async fn overlapping_bindings_hold_the_role_until_the_later_one_ends() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    let bob = t.user("bob@example.com").await;
    let t0 = t.now();
    let t1 = t0.plus(Span::hours(1));
    let t2 = t0.plus(Span::hours(2));

    // A membership until t2 and a grant of the same role until t1.
    let direct = admin
        .set_project_member("alpha", "web", "bob@example.com", &role_until("user", t2))
        .await
        .unwrap()
        .expect_binding();
    let g = admin
        .create_grant(&grant("bob@example.com", "alpha", Some("web"), "user", t1))
        .await
        .unwrap()
        .expect_binding();
    let r = check(&admin, "bob@example.com", "alpha", Some("web"), "user").await;
    assert!(r.allowed);
    assert_eq!(exp(&r), Some(t2), "the role lasts until the later binding ends");
    let via: Vec<(&str, &str)> = r.via.iter().map(|v| (v.binding_id.as_str(), v.source.as_str())).collect();
    assert_eq!(via, [(direct.id.as_str(), "direct"), (g.id.as_str(), "grant")], "latest-ending first");
    let listed = admin.all_project_members("alpha", "web").await.unwrap();
    assert_eq!(listed.iter().filter(|b| b.user == "bob@example.com").count(), 2, "{listed:?}");

    // The grant's end leaves the membership.
    t.set_time(t1);
    let r = check(&bob, "bob@example.com", "alpha", Some("web"), "user").await;
    assert!(r.allowed);
    assert_eq!(exp(&r), Some(t2));
    assert_eq!(r.via.len(), 1);
    assert_eq!(r.via[0].binding_id, direct.id);
    assert_eq!(t.sweep().await, 1, "only the grant expired");
    assert!(check(&admin, "bob@example.com", "alpha", Some("web"), "user").await.allowed);
    t.set_time(t2);
    assert!(!check(&admin, "bob@example.com", "alpha", Some("web"), "user").await.allowed);
    t.stop().await;
}

#[tokio::test]
async fn revoking_one_of_two_overlapping_grants_leaves_the_other() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let t0 = t.now();
    let t1 = t0.plus(Span::hours(1));
    let t2 = t0.plus(Span::hours(2));

    let early = admin
        .create_grant(&grant("bob@example.com", "alpha", None, "manager", t1))
        .await
        .unwrap()
        .expect_binding();
    let late = admin
        .create_grant(&grant("bob@example.com", "alpha", None, "manager", t2))
        .await
        .unwrap()
        .expect_binding();
    let r = check(&admin, "bob@example.com", "alpha", None, "manager").await;
    assert!(r.allowed);
    assert_eq!(exp(&r), Some(t2));
    assert_eq!(
        r.via.iter().map(|v| v.binding_id.as_str()).collect::<Vec<_>>(),
        [late.id.as_str(), early.id.as_str()]
    );

    // Revoke the later one: the earlier one still holds, until t1.
    admin.revoke_grant(&late.id).await.unwrap();
    let ev = t.last_event().await;
    assert_eq!(ev.event_type, "GRANT_REVOKED");
    assert_eq!(ev.subject.as_deref(), Some("bob@example.com"));
    assert_eq!(ev.details["binding_id"], late.id.as_str());
    let r = check(&admin, "bob@example.com", "alpha", None, "manager").await;
    assert!(r.allowed, "revoking one grant must leave the other: {r:?}");
    assert_eq!(exp(&r), Some(t1));
    assert_eq!(r.via.len(), 1);
    assert_eq!(r.via[0].binding_id, early.id);

    // Revoking it twice, or a membership through the grant path, is a 404 that changes nothing.
    let before = t.snapshot().await;
    expect_problem(admin.revoke_grant(&late.id).await, 404, "grant.not_found");
    let owner_binding = admin
        .all_workspace_members("alpha")
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.user == ADMIN_EMAIL)
        .unwrap();
    expect_problem(admin.revoke_grant(&owner_binding.id).await, 404, "grant.not_found");
    expect_problem(admin.revoke_grant("not-a-uuid").await, 404, "grant.not_found");
    expect_problem(admin.revoke_grant("00000000-0000-4000-8000-000000000000").await, 404, "grant.not_found");
    t.assert_unchanged(&before, "revoking grants that are not live").await;

    t.set_time(plus_micros(t1, -1));
    assert!(check(&admin, "bob@example.com", "alpha", None, "manager").await.allowed);
    t.set_time(t1);
    assert!(!check(&admin, "bob@example.com", "alpha", None, "manager").await.allowed);
    t.stop().await;
}

#[tokio::test]
async fn a_grant_above_a_standing_membership_ends_without_touching_it() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let end = t.now().plus(Span::minutes(30));
    let member = admin
        .set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember { role: "member".into(), ..Default::default() },
        )
        .await
        .unwrap()
        .expect_binding();
    let g = admin
        .create_grant(&grant("bob@example.com", "alpha", None, "manager", end))
        .await
        .unwrap()
        .expect_binding();

    let r = check(&admin, "bob@example.com", "alpha", None, "member").await;
    assert!(r.allowed);
    assert_eq!(r.expires_at, None, "a standing membership never ends");
    assert_eq!(r.via.len(), 2);
    assert_eq!(r.via[0].binding_id, member.id, "the binding that never ends comes first");
    assert_eq!(r.via[1].binding_id, g.id);
    let r = check(&admin, "bob@example.com", "alpha", None, "manager").await;
    assert!(r.allowed && exp(&r) == Some(end), "{r:?}");

    t.set_time(end);
    assert!(!check(&admin, "bob@example.com", "alpha", None, "manager").await.allowed);
    let r = check(&admin, "bob@example.com", "alpha", None, "member").await;
    assert!(r.allowed && r.expires_at.is_none(), "{r:?}");
    t.stop().await;
}

#[tokio::test]
async fn the_sweeper_records_each_expiry_once() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    for u in ["bob@example.com", "carol@example.com", "dave@example.com"] {
        t.user(u).await;
    }
    let t0 = t.now();
    let t1 = t0.plus(Span::hours(1));
    let t2 = t0.plus(Span::hours(2));
    let bob = admin
        .set_workspace_member("alpha", "bob@example.com", &role_until("member", t1))
        .await
        .unwrap()
        .expect_binding();
    let dave = admin
        .create_grant(&grant("dave@example.com", "alpha", None, "manager", t1))
        .await
        .unwrap()
        .expect_binding();
    let carol = admin
        .set_project_member("alpha", "web", "carol@example.com", &role_until("reader", t2))
        .await
        .unwrap()
        .expect_binding();
    let seq = t.seq().await;

    // Nothing is due yet.
    assert_eq!(t.sweep().await, 0);
    t.set_time(plus_micros(t1, -1));
    assert_eq!(t.sweep().await, 0);
    assert_eq!(t.seq().await, seq, "a sweep with nothing due writes nothing");

    t.set_time(t1);
    assert_eq!(t.sweep().await, 2);
    let expired = t.events_of("BINDING_EXPIRED").await;
    assert_eq!(expired.len(), 2, "{expired:#?}");
    let mut got: Vec<(String, String, String, String)> = expired
        .iter()
        .map(|e| {
            assert_eq!(e.actor, "system");
            assert_eq!(ts(&e.time), t1);
            assert_eq!(e.workspace.as_deref(), Some("alpha"));
            assert_eq!(e.project, None);
            assert_eq!(e.details["expires_at"].as_str().map(ts), Some(t1));
            (
                e.subject.clone().unwrap(),
                e.details["binding_id"].as_str().unwrap().to_owned(),
                e.details["role"].as_str().unwrap().to_owned(),
                e.details["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("bob@example.com".into(), bob.id.clone(), "member".into(), "direct".into()),
            ("dave@example.com".into(), dave.id.clone(), "manager".into(), "grant".into()),
        ]
    );
    // Sweeping again records nothing new.
    let seq = t.seq().await;
    assert_eq!(t.sweep().await, 0);
    assert_eq!(t.seq().await, seq);

    t.set_time(t2.plus(Span::days(3)));
    assert_eq!(t.sweep().await, 1);
    let last = t.last_event().await;
    assert_eq!(last.event_type, "BINDING_EXPIRED");
    assert_eq!((last.workspace.as_deref(), last.project.as_deref()), (Some("alpha"), Some("web")));
    assert_eq!(last.subject.as_deref(), Some("carol@example.com"));
    assert_eq!(last.details["binding_id"], carol.id.as_str());
    assert_eq!(ts(&last.time), t.now(), "the sweep records when it noticed");
    assert_eq!(t.sweep().await, 0);

    // The expiries appear in the workspace's and the project's history.
    let history = admin.all_history("alpha", None, &Default::default()).await.unwrap();
    assert_eq!(history.iter().filter(|e| e.event_type == "BINDING_EXPIRED").count(), 3);
    let project_history = admin.all_history("alpha", Some("web"), &Default::default()).await.unwrap();
    assert_eq!(project_history.iter().filter(|e| e.event_type == "BINDING_EXPIRED").count(), 1);
    assert!(admin.verify_audit().await.unwrap().ok);
    t.stop().await;
}

#[tokio::test]
async fn times_in_any_offset_and_every_duration_form_are_understood() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let now = t.now();

    // An offset is normalised to UTC.
    let b = admin
        .set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember {
                role: "member".into(),
                expires_at: Some("2030-01-01T03:00:00+02:00".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(b.expires_at.as_deref(), Some("2030-01-01T01:00:00Z"));
    // Fractions of a second are kept to the microsecond.
    let b = admin
        .set_workspace_member(
            "alpha",
            "bob@example.com",
            &SetMember {
                role: "member".into(),
                expires_at: Some("2030-01-01T00:00:00.000001Z".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .expect_binding();
    assert_eq!(b.expires_at.as_deref().map(ts), Some(plus_micros(now, 1)));
    assert!(check(&admin, "bob@example.com", "alpha", None, "member").await.allowed);
    t.set_time(plus_micros(now, 1));
    assert!(!check(&admin, "bob@example.com", "alpha", None, "member").await.allowed);
    t.set_time(now);

    for (d, span) in [
        ("90m", Span::minutes(90)),
        ("2h", Span::hours(2)),
        ("1d", Span::days(1)),
        ("1h30m", Span::minutes(90)),
        ("PT2H", Span::hours(2)),
        ("P1D", Span::days(1)),
        ("P1DT2H", Span::hours(26)),
    ] {
        let g = admin
            .create_grant(&CreateGrant {
                user: "bob@example.com".into(),
                workspace: "alpha".into(),
                role: "manager".into(),
                expires_in: Some(d.into()),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}"))
            .expect_binding();
        assert_eq!(g.expires_at.as_deref().map(ts), Some(now.plus(span)), "{d}");
    }
    t.stop().await;
}

#[tokio::test]
async fn expiries_not_yet_recorded_are_recorded_after_a_restart() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let end = t.now().plus(Span::hours(1));
    let b = admin
        .set_workspace_member("alpha", "bob@example.com", &role_until("member", end))
        .await
        .unwrap()
        .expect_binding();
    t.set_time(end.plus(Span::minutes(5)));
    assert!(!check(&admin, "bob@example.com", "alpha", None, "member").await.allowed);

    // The server stops before any sweep ran; the expiry is still due afterwards, and still
    // does not count.
    let t = t.restart().await;
    let admin = t.admin();
    assert!(!check(&admin, "bob@example.com", "alpha", None, "member").await.allowed);
    assert!(admin.all_workspace_members("alpha").await.unwrap().iter().all(|m| m.user != "bob@example.com"));
    // The background sweeper also runs once as the server starts, so either it or this sweep
    // records the expiry; exactly one of them does.
    assert!(t.sweep().await <= 1);
    let expired = t.events_of("BINDING_EXPIRED").await;
    assert_eq!(expired.len(), 1, "{expired:#?}");
    let ev = &expired[0];
    assert_eq!(ev.subject.as_deref(), Some("bob@example.com"));
    assert_eq!(ev.details["binding_id"], b.id.as_str());
    assert_eq!(ev.details["expires_at"].as_str().map(ts), Some(end));
    assert_eq!(t.sweep().await, 0);
    assert!(admin.verify_audit().await.unwrap().ok);
    t.stop().await;
}

#[tokio::test]
async fn checks_explain_denials_and_batches_answer_in_order() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    let bob = t.user("bob@example.com").await;
    admin
        .set_project_member(
            "alpha",
            "web",
            "bob@example.com",
            &SetMember { role: "user".into(), ..Default::default() },
        )
        .await
        .unwrap();

    let r = check(&admin, "ghost@example.com", "alpha", None, "member").await;
    assert_eq!((r.allowed, r.reason.map(|r| r.as_str())), (false, Some("unknown_target")));
    let r = check(&admin, "bob@example.com", "alpha", Some("nope"), "reader").await;
    assert_eq!((r.allowed, r.reason.map(|r| r.as_str())), (false, Some("unknown_target")));
    let r = check(&admin, "bob@example.com", "alpha", None, "member").await;
    assert_eq!(
        (r.allowed, r.reason.map(|r| r.as_str())),
        (false, Some("no_binding")),
        "a project role is not a workspace role"
    );
    let r = check(&admin, "bob@example.com", "alpha", Some("web"), "user").await;
    assert!(r.allowed && r.reason.is_none() && r.expires_at.is_none(), "{r:?}");
    // Bob may check himself and, seeing alpha through his project role, others in it.
    assert!(check(&bob, "bob@example.com", "alpha", Some("web"), "reader").await.allowed);
    assert!(check(&bob, ADMIN_EMAIL, "alpha", None, "owner").await.allowed);

    let checks = vec![
        check_req("bob@example.com", "alpha", Some("web"), "admin"),
        check_req("bob@example.com", "alpha", Some("web"), "reader"),
        check_req(ADMIN_EMAIL, "alpha", None, "manager"),
        check_req("ghost@example.com", "alpha", None, "member"),
    ];
    let batch =
        admin.check_batch(&BatchCheckRequest { checks: checks.clone(), min_seq: None }).await.unwrap();
    let got: Vec<(bool, Option<&str>)> =
        batch.results.iter().map(|r| (r.allowed, r.reason.map(|r| r.as_str()))).collect();
    assert_eq!(
        got,
        [(false, Some("no_binding")), (true, None), (true, None), (false, Some("unknown_target"))]
    );
    for (one, c) in batch.results.iter().zip(&checks) {
        assert_eq!(one, &admin.check(c).await.unwrap(), "a batch answers as single checks do");
    }
    assert!(admin
        .check_batch(&BatchCheckRequest { checks: vec![], min_seq: None })
        .await
        .unwrap()
        .results
        .is_empty());

    // Text with JSON escapes or capitals is read as what it means, not as written.
    let raw = t
        .raw(
            "POST",
            "/api/v1/check/batch",
            Some(ADMIN_TOKEN),
            Body::JsonText(
                r#"{"checks": [{"user": " Bob@Example.COM ", "workspace": "al\u0070ha", "project": "w\u0065b", "role": "user"},
                              {"user": "bob\u0040example.com", "workspace": "alpha", "role": "member"}]}"#,
            ),
        )
        .await;
    assert_eq!(raw.status, 200, "{}", raw.text);
    let escaped: serde_json::Value = serde_json::from_str(&raw.text).unwrap();
    assert_eq!(escaped["results"][0]["allowed"], true, "{escaped}");
    assert_eq!(escaped["results"][1]["reason"], "no_binding", "{escaped}");

    // One bad check refuses the batch and names it.
    let mut bad = checks.clone();
    bad.insert(2, check_req("bob@example.com", "alpha", None, "emperor"));
    let p = expect_problem(
        admin.check_batch(&BatchCheckRequest { checks: bad, min_seq: None }).await,
        400,
        "input.unknown_role",
    );
    assert!(p.detail.contains("checks[2]"), "{p:?}");
    let too_many = vec![check_req("bob@example.com", "alpha", None, "member"); 10_001];
    expect_problem(
        admin.check_batch(&BatchCheckRequest { checks: too_many, min_seq: None }).await,
        422,
        "input.batch_too_large",
    );
    t.stop().await;
}

#[tokio::test]
async fn a_managers_rights_end_at_the_instant_their_role_expires() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    let mike = t.user("mike@example.com").await;
    t.user("bob@example.com").await;
    let end = t.now().plus(Span::hours(1));
    admin.create_grant(&grant("mike@example.com", "alpha", None, "manager", end)).await.unwrap();

    t.set_time(plus_micros(end, -1));
    let member = SetMember { role: "member".into(), ..Default::default() };
    mike.set_workspace_member("alpha", "bob@example.com", &member).await.unwrap();
    assert_eq!(t.last_event().await.actor, "mike@example.com");
    assert!(!mike.all_history("alpha", None, &Default::default()).await.unwrap().is_empty());

    t.set_time(end);
    let before = t.snapshot().await;
    let reader = SetMember { role: "reader".into(), ..Default::default() };
    expect_problem(
        mike.set_project_member("alpha", "web", "bob@example.com", &reader).await,
        404,
        "workspace.not_found",
    );
    expect_problem(
        mike.remove_workspace_member("alpha", "bob@example.com").await,
        404,
        "workspace.not_found",
    );
    expect_problem(mike.workspace_history("alpha", &Default::default()).await, 404, "workspace.not_found");
    expect_problem(mike.workspace("alpha").await, 404, "workspace.not_found");
    t.assert_unchanged(&before, "a manager acting after their role expired").await;
    t.stop().await;
}

/// A duration so long that the instant it reaches cannot be written in RFC 3339 must be refused,
/// not stored and then shown as some other instant.
#[tokio::test]
async fn a_duration_beyond_the_representable_range_is_refused() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.user("bob@example.com").await;
    let mut wrong = Vec::new();
    for d in ["99999999d", "P99999999D", "9999999w"] {
        let set = SetMember { role: "member".into(), expires_in: Some(d.into()), ..Default::default() };
        match admin.set_workspace_member("alpha", "bob@example.com", &set).await {
            Err(e) if matches!(e.status(), Some(400 | 422)) => {}
            Err(e) => wrong.push(format!("PUT member expires_in {d}: {e}")),
            Ok(b) => {
                let b = b.expect_binding();
                let shown = b.expires_at.as_deref().map(ts);
                if shown.is_none_or(|s| s <= t.now()) {
                    wrong.push(format!("PUT member expires_in {d}: 200 with expires_at {:?}", b.expires_at));
                }
                admin.remove_workspace_member("alpha", "bob@example.com").await.unwrap();
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    t.stop().await;
}

#[tokio::test]
async fn bindings_ended_before_their_expiry_are_not_recorded_as_expired() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    for u in ["bob@example.com", "carol@example.com", "dave@example.com"] {
        t.user(u).await;
    }
    let end = t.now().plus(Span::hours(1));
    // Replaced, revoked, removed: each ends before `end`.
    admin.set_workspace_member("alpha", "bob@example.com", &role_until("member", end)).await.unwrap();
    admin
        .set_workspace_member("alpha", "bob@example.com", &role_until("manager", end.plus(Span::hours(1))))
        .await
        .unwrap();
    let g = admin
        .create_grant(&grant("carol@example.com", "alpha", None, "manager", end))
        .await
        .unwrap()
        .expect_binding();
    admin.revoke_grant(&g.id).await.unwrap();
    admin.set_project_member("alpha", "web", "dave@example.com", &role_until("user", end)).await.unwrap();
    admin.remove_project_member("alpha", "web", "dave@example.com").await.unwrap();

    t.set_time(end);
    assert_eq!(t.sweep().await, 0, "nothing that counted until {end} is left to expire");
    assert!(t.events_of("BINDING_EXPIRED").await.is_empty());
    // Bob's replacement still counts, and expires in its turn.
    assert!(check(&admin, "bob@example.com", "alpha", None, "manager").await.allowed);
    t.set_time(end.plus(Span::hours(1)));
    assert_eq!(t.sweep().await, 1);
    let expired = t.events_of("BINDING_EXPIRED").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(
        (expired[0].subject.as_deref(), expired[0].details["role"].as_str()),
        (Some("bob@example.com"), Some("manager"))
    );
    t.stop().await;
}
