//! The audit log: no secret ever in it, history filters and paging, and the hash chain that
//! `audit verify` recomputes, including after an attacker with file access edits a row.

use std::time::Duration;

use breakglass_client::api::{
    AuditEvent, AuditQuery, CreateGrant, CreateToken, CreateUser, Login, SetMember,
};
use breakglass_client::Client;
use breakglass_core::time::{Span, Timestamp};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};

use crate::common::*;

fn member(role: &str) -> SetMember {
    SetMember { role: role.into(), ..Default::default() }
}

#[tokio::test]
async fn secrets_never_appear_in_audit_events_or_the_database() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    let bob = t.user("bob@example.com").await;
    let carol = t.user_with_role("carol@example.com", Some("employee")).await;
    admin.set_workspace_member("alpha", "bob@example.com", &member("manager")).await.unwrap();

    let mut secrets: Vec<String> = vec![
        ADMIN_TOKEN.into(),
        password_for("bob@example.com"),
        password_for("carol@example.com"),
        bob.token().unwrap().into(),
        carol.token().unwrap().into(),
    ];
    // API tokens: one kept, one revoked, one expiring.
    for (c, name, expires_in) in [(&bob, "ci", None), (&bob, "old", None), (&carol, "short", Some("1h"))] {
        let created = c
            .create_token(&CreateToken {
                name: name.into(),
                expires_in: expires_in.map(Into::into),
                ..Default::default()
            })
            .await
            .unwrap();
        secrets.push(created.secret.clone());
        if name == "old" {
            c.revoke_token(&created.token.id).await.unwrap();
        }
    }
    // A second session, ended by signing out.
    let again = t.login("bob@example.com").await;
    secrets.push(again.token().unwrap().into());
    again.logout().await.unwrap();
    // A failed sign-in with a password that must not be recorded either.
    let wrong = "wrong-but-secret-password-42".to_owned();
    expect_problem(
        t.anonymous().login(&Login { email: "bob@example.com".into(), password: wrong.clone() }).await,
        401,
        "auth.invalid_credentials",
    );
    secrets.push(wrong);
    // A user created with a password by the admin.
    let dave_pw = "dave's very own passphrase".to_owned();
    admin
        .create_user(&CreateUser {
            email: "dave@example.com".into(),
            name: "Dave".into(),
            admin_role: None,
            password: Some(dave_pw.clone()),
        })
        .await
        .unwrap();
    secrets.push(dave_pw);
    t.advance(Span::hours(2));
    t.sweep().await;

    let events = t.events().await;
    // The events that concern secrets are there, without them.
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    for ty in ["USER_CREATED", "USER_SIGNED_IN", "USER_SIGNED_OUT", "TOKEN_CREATED", "TOKEN_REVOKED"] {
        assert!(types.contains(&ty), "no {ty} event in {types:?}");
    }
    let created = events
        .iter()
        .find(|e| e.event_type == "USER_CREATED" && e.subject.as_deref() == Some("dave@example.com"))
        .unwrap();
    assert_eq!(created.details["password_set"], true);

    let mut texts: Vec<(String, String)> = events
        .iter()
        .map(|e| (format!("event {} {}", e.seq, e.event_type), serde_json::to_string(e).unwrap()))
        .collect();
    for path in ["/api/v1/audit?limit=1000", "/api/v1/workspaces/alpha/history", "/api/v1/users"] {
        let raw = t.raw("GET", path, Some(ADMIN_TOKEN), Body::None).await;
        assert_eq!(raw.status, 200, "{path}: {}", raw.text);
        texts.push((path.to_owned(), raw.text));
    }
    for (what, text) in &texts {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{what} contains the secret {s:?}: {text}");
        }
        assert!(!text.contains("$argon2"), "{what} contains a password hash: {text}");
    }

    // Stored hashed: no secret in the database (SQLite files with the write-ahead log, or every
    // PostgreSQL row).
    let bytes = t.database_bytes().await;
    let scanned = bytes.len();
    for s in &secrets {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
            "the database holds the secret {s:?} in plain text"
        );
    }
    assert!(scanned > 0, "no database content found");
    t.stop().await;
}

/// Builds a history over several hours: returns (t1, t2, t3, t4), the instants at which the
/// steps happened.
async fn history_fixture(t: &TestApp) -> [Timestamp; 4] {
    let admin = t.admin();
    t.user("bob@example.com").await;
    t.user("carol@example.com").await;
    let t0 = t.now();
    let at = |h| t0.plus(Span::hours(h));

    t.set_time(at(1));
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    t.project("alpha", "api").await;

    t.set_time(at(2));
    t.workspace("beta", &[]).await;
    t.project("beta", "web").await;

    t.set_time(at(3));
    admin.set_workspace_member("alpha", "bob@example.com", &member("member")).await.unwrap();
    admin.set_project_member("alpha", "web", "bob@example.com", &member("reader")).await.unwrap();
    admin.set_project_member("alpha", "api", "carol@example.com", &member("user")).await.unwrap();
    admin.set_workspace_member("beta", "carol@example.com", &member("manager")).await.unwrap();
    admin.set_project_member("beta", "web", "bob@example.com", &member("admin")).await.unwrap();

    t.set_time(at(4));
    admin
        .create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "admin".into(),
            expires_in: Some("1h".into()),
            reason: Some("deploy".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    admin.remove_project_member("alpha", "api", "carol@example.com").await.unwrap();
    [at(1), at(2), at(3), at(4)]
}

/// Follows `next_cursor` by hand with pages of `limit`, checking each page's size.
async fn paged(
    c: &Client,
    q: &AuditQuery,
    limit: u32,
    history: Option<(&str, Option<&str>)>,
) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let q = AuditQuery { limit: Some(limit), cursor: cursor.clone(), ..q.clone() };
        let page = match history {
            None => c.audit(&q).await.unwrap(),
            Some((ws, None)) => c.workspace_history(ws, &q).await.unwrap(),
            Some((ws, Some(p))) => c.project_history(ws, p, &q).await.unwrap(),
        };
        assert!(page.items.len() <= limit as usize, "a page of {} with limit {limit}", page.items.len());
        out.extend(page.items.iter().cloned());
        match page.next_cursor {
            Some(next) => {
                assert_eq!(page.items.len(), limit as usize, "a page before the last is full");
                assert_ne!(Some(&next), cursor.as_ref(), "the cursor moves on");
                cursor = Some(next);
            }
            None => return out,
        }
    }
}

fn seqs(events: &[AuditEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn history_filters_and_paging() {
    let t = TestApp::start().await;
    let admin = t.admin();
    let [t1, t2, t3, t4] = history_fixture(&t).await;
    let all = t.events().await;
    assert_eq!(seqs(&all), (1..=all.len() as i64).collect::<Vec<_>>(), "the log is gap-free and ordered");
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery::default();
        f(&mut q);
        q
    };
    let expect =
        |pred: &dyn Fn(&AuditEvent) -> bool| all.iter().filter(|e| pred(e)).cloned().collect::<Vec<_>>();

    // By workspace: its events and its projects'.
    let alpha = admin.all_audit(&q(|q| q.workspace = Some("alpha".into()))).await.unwrap();
    assert_eq!(alpha, expect(&|e| e.workspace.as_deref() == Some("alpha")));
    assert!(alpha.iter().any(|e| e.project.is_some()) && alpha.iter().any(|e| e.project.is_none()));
    // By project: only that project, not the same identifier in another workspace.
    let web = admin
        .all_audit(&q(|q| (q.workspace, q.project) = (Some("alpha".into()), Some("web".into()))))
        .await
        .unwrap();
    assert_eq!(
        web,
        expect(&|e| e.workspace.as_deref() == Some("alpha") && e.project.as_deref() == Some("web"))
    );
    assert_eq!(
        web.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        ["PROJECT_CREATED", "PROJECT_USER_ASSIGNED", "GRANTED"]
    );
    // By type, one or several.
    let created = admin.all_audit(&q(|q| q.event_type = Some("PROJECT_CREATED".into()))).await.unwrap();
    assert_eq!(created, expect(&|e| e.event_type == "PROJECT_CREATED"));
    assert_eq!(created.len(), 3);
    let several = admin
        .all_audit(&q(|q| q.event_type = Some("USER_ASSIGNED, GRANTED,PROJECT_USER_REMOVED".into())))
        .await
        .unwrap();
    assert_eq!(
        several,
        expect(&|e| ["USER_ASSIGNED", "GRANTED", "PROJECT_USER_REMOVED"].contains(&e.event_type.as_str()))
    );
    // By time: since is inclusive, until exclusive.
    let since = admin.all_audit(&AuditQuery { since: Some(rfc(t2)), ..Default::default() }).await.unwrap();
    assert_eq!(since, expect(&|e| ts(&e.time) >= t2));
    assert_eq!(ts(&since[0].time), t2);
    let until = admin.all_audit(&AuditQuery { until: Some(rfc(t2)), ..Default::default() }).await.unwrap();
    assert_eq!(until, expect(&|e| ts(&e.time) < t2));
    let window = admin
        .all_audit(&AuditQuery { since: Some(rfc(t3)), until: Some(rfc(t4)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(window, expect(&|e| ts(&e.time) >= t3 && ts(&e.time) < t4));
    assert_eq!(window.len(), 5);
    assert!(admin
        .all_audit(&AuditQuery { since: Some(rfc(t4)), until: Some(rfc(t1)), ..Default::default() })
        .await
        .unwrap()
        .is_empty());
    // After a sequence number.
    let after = admin.all_audit(&AuditQuery { after: Some(5), ..Default::default() }).await.unwrap();
    assert_eq!(after, expect(&|e| e.seq > 5));
    // Combined.
    let combined = admin
        .all_audit(&AuditQuery {
            workspace: Some("alpha".into()),
            event_type: Some("PROJECT_USER_ASSIGNED".into()),
            since: Some(rfc(t3)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        combined,
        expect(&|e| e.workspace.as_deref() == Some("alpha")
            && e.event_type == "PROJECT_USER_ASSIGNED"
            && ts(&e.time) >= t3)
    );
    assert_eq!(combined.len(), 2);

    // Paging with a cursor gives the same events, each once, in order, whatever the page size.
    for limit in [1, 2, 3, 7, 1000] {
        assert_eq!(paged(&admin, &AuditQuery::default(), limit, None).await, all, "limit {limit}");
        let ws = AuditQuery { workspace: Some("alpha".into()), ..Default::default() };
        assert_eq!(paged(&admin, &ws, limit, None).await, alpha, "alpha, limit {limit}");
        assert_eq!(
            paged(&admin, &AuditQuery::default(), limit, Some(("alpha", None))).await,
            alpha,
            "history, limit {limit}"
        );
        assert_eq!(
            paged(&admin, &AuditQuery::default(), limit, Some(("alpha", Some("web")))).await,
            web,
            "project history, limit {limit}"
        );
    }
    // The default page is 100 events.
    let first = admin.audit(&AuditQuery::default()).await.unwrap();
    assert_eq!((first.items.len(), first.next_cursor.is_none()), (all.len(), true));

    // The history views are the same filtered log.
    let none = AuditQuery::default();
    assert_eq!(admin.all_history("alpha", None, &none).await.unwrap(), alpha);
    assert_eq!(admin.all_history("alpha", Some("web"), &none).await.unwrap(), web);
    let typed = AuditQuery { event_type: Some("GRANTED".into()), ..Default::default() };
    assert_eq!(
        admin.all_history("alpha", None, &typed).await.unwrap(),
        expect(&|e| e.event_type == "GRANTED")
    );
    let timed = AuditQuery { until: Some(rfc(t3)), ..Default::default() };
    assert_eq!(
        admin.all_history("beta", None, &timed).await.unwrap(),
        expect(&|e| e.workspace.as_deref() == Some("beta") && ts(&e.time) < t3)
    );

    // A manager reads their workspace's history, not the whole log nor another workspace's.
    let carol = t.login("carol@example.com").await;
    let beta = expect(&|e| e.workspace.as_deref() == Some("beta"));
    assert_eq!(carol.all_history("beta", None, &none).await.unwrap(), beta);
    assert_eq!(
        carol.all_history("beta", Some("web"), &none).await.unwrap(),
        expect(&|e| e.workspace.as_deref() == Some("beta") && e.project.is_some())
    );
    expect_problem(carol.audit(&none).await, 403, "authz.forbidden");
    expect_problem(carol.workspace_history("alpha", &none).await, 404, "workspace.not_found");
    // An auditor reads it all.
    let audrey = t.user_with_role("audrey@example.com", Some("auditor")).await;
    let everything = audrey.all_audit(&none).await.unwrap();
    assert_eq!(&everything[..all.len()], &all[..]);
    t.stop().await;
}

#[tokio::test]
async fn bad_history_queries_are_refused() {
    let t = TestApp::start().await;
    let admin = t.admin();
    history_fixture(&t).await;
    let before = t.snapshot().await;
    for (q, code) in [
        (AuditQuery { event_type: Some("NOPE".into()), ..Default::default() }, "input.unknown_event_type"),
        (
            AuditQuery { event_type: Some("project_created".into()), ..Default::default() },
            "input.unknown_event_type",
        ),
        (AuditQuery { limit: Some(0), ..Default::default() }, "input.invalid_limit"),
        (AuditQuery { limit: Some(1001), ..Default::default() }, "input.invalid_limit"),
        (AuditQuery { cursor: Some("abc".into()), ..Default::default() }, "input.invalid_cursor"),
        (AuditQuery { since: Some("yesterday".into()), ..Default::default() }, "input.invalid_time"),
        (
            AuditQuery { until: Some("2030-13-01T00:00:00Z".into()), ..Default::default() },
            "input.invalid_time",
        ),
    ] {
        // Each is a value not of its documented form: 400.
        expect_problem(admin.audit(&q).await, 400, code);
        expect_problem(admin.workspace_history("alpha", &q).await, 400, code);
    }
    // A project alone filters that project identifier in every workspace.
    let by_project =
        admin.audit(&AuditQuery { project: Some("web".into()), ..Default::default() }).await.unwrap();
    assert!(by_project.items.iter().all(|e| e.project.as_deref() == Some("web")), "{by_project:?}");
    for path in [
        "/api/v1/workspaces/alpha/history?workspace=beta",
        "/api/v1/workspaces/alpha/projects/web/history?project=api",
        "/api/v1/audit?after=abc",
        "/api/v1/audit?limit=-1",
        "/api/v1/audit?actor=bob@example.com",
    ] {
        t.raw("GET", path, Some(ADMIN_TOKEN), Body::None).await.assert_problem(400, "input.invalid_query");
    }
    expect_problem(
        admin.project_history("alpha", "nope", &Default::default()).await,
        404,
        "project.not_found",
    );
    expect_problem(admin.workspace_history("nope", &Default::default()).await, 404, "workspace.not_found");
    t.assert_unchanged(&before, "bad history queries").await;
    t.stop().await;
}

/// A connection to the server's database, as someone with access to the file would open it.
/// `None` when the suite runs against PostgreSQL: these tests tamper with the SQLite file (the
/// store's contract suite checks the same protections on PostgreSQL).
async fn open_db(t: &TestApp) -> Option<SqliteConnection> {
    if t.db.is_some() {
        eprintln!("skipped on PostgreSQL: this test edits the SQLite file directly");
        return None;
    }
    let conn = SqliteConnectOptions::new()
        .filename(t.db_path())
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("open the database file");
    Some(conn)
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<u64, sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|r| r.rows_affected())
}

/// A few events, a clean verification, and the sequence number of bob's USER_ASSIGNED event.
async fn chain_fixture(t: &TestApp) -> i64 {
    let admin = t.admin();
    t.workspace("alpha", &[]).await;
    t.project("alpha", "web").await;
    t.user("bob@example.com").await;
    admin.set_workspace_member("alpha", "bob@example.com", &member("member")).await.unwrap();
    let target = admin.last_seq().unwrap();
    admin.set_project_member("alpha", "web", "bob@example.com", &member("reader")).await.unwrap();
    admin
        .create_grant(&CreateGrant {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            role: "owner".into(),
            expires_in: Some("1h".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    let events = t.events().await;
    let report = admin.verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, events.len() as i64);
    assert_eq!(report.head_hash, events.last().unwrap().hash);
    assert!(report.broken.is_none());
    // The chain links each event to the one before it.
    assert_eq!(events[0].prev_hash, "0".repeat(64));
    for w in events.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash, "event {} does not link to {}", w[1].seq, w[0].seq);
    }
    let e = events.iter().find(|e| e.seq == target).unwrap();
    assert_eq!((e.event_type.as_str(), e.subject.as_deref()), ("USER_ASSIGNED", Some("bob@example.com")));
    assert!(target > 1 && target < events.len() as i64, "the tampered row is in the middle of the chain");
    target
}

#[tokio::test]
async fn the_database_refuses_to_rewrite_the_audit_log() {
    let t = TestApp::start().await;
    let target = chain_fixture(&t).await;
    let before = t.snapshot().await;
    let Some(mut db) = open_db(&t).await else { return t.stop().await };
    for sql in [
        format!("UPDATE audit_events SET actor = 'mallory@evil.example' WHERE seq = {target}"),
        format!("UPDATE audit_events SET details = '{{}}' WHERE seq = {target}"),
        "UPDATE audit_events SET time = time + 1".into(),
        format!("DELETE FROM audit_events WHERE seq = {target}"),
        "DELETE FROM audit_events".into(),
    ] {
        let err = exec(&mut db, &sql).await.expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    drop(db);
    t.assert_unchanged(&before, "UPDATE and DELETE on audit_events").await;
    t.stop().await;
}

#[tokio::test]
async fn verify_names_a_row_whose_actor_was_changed() {
    let t = TestApp::start().await;
    let target = chain_fixture(&t).await;
    let Some(mut db) = open_db(&t).await else { return t.stop().await };
    exec(&mut db, "DROP TRIGGER audit_events_no_update").await.unwrap();
    let n = exec(
        &mut db,
        &format!("UPDATE audit_events SET actor = 'mallory@evil.example' WHERE seq = {target}"),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    drop(db);

    // The edit is real: the log now shows the forged actor.
    let forged = t.events().await.into_iter().find(|e| e.seq == target).unwrap();
    assert_eq!(forged.actor, "mallory@evil.example");

    let report = t.admin().verify_audit().await.unwrap();
    assert!(!report.ok, "a forged actor must break the chain: {report:?}");
    let broken = report.broken.expect("the broken link is named");
    assert_eq!(broken.seq, target, "{broken:?}");
    assert!(!broken.reason.is_empty());
    assert_eq!(report.events, target - 1, "the events before the forged one check out");
    // An auditor sees the same.
    let audrey = t.user_with_role("audrey@example.com", Some("auditor")).await;
    let again = audrey.verify_audit().await.unwrap();
    assert_eq!((again.ok, again.broken.map(|b| b.seq)), (false, Some(target)));
    t.stop().await;
}

#[tokio::test]
async fn verify_names_a_row_whose_details_were_changed() {
    let t = TestApp::start().await;
    let target = chain_fixture(&t).await;
    let Some(mut db) = open_db(&t).await else { return t.stop().await };
    exec(&mut db, "DROP TRIGGER audit_events_no_update").await.unwrap();
    // Rewrite history: bob was made owner, not member.
    let n = exec(
        &mut db,
        &format!("UPDATE audit_events SET details = replace(details, '\"member\"', '\"owner\"') WHERE seq = {target}"),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let forged = t.events().await.into_iter().find(|e| e.seq == target).unwrap();
    assert_eq!(forged.details["role"], "owner", "the edit took: {forged:?}");

    let report = t.admin().verify_audit().await.unwrap();
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.broken.map(|b| b.seq), Some(target));
    assert_eq!(report.events, target - 1);
    t.stop().await;
}

#[tokio::test]
async fn verify_names_a_deleted_row() {
    let t = TestApp::start().await;
    let target = chain_fixture(&t).await;
    let Some(mut db) = open_db(&t).await else { return t.stop().await };
    exec(&mut db, "DROP TRIGGER audit_events_no_delete").await.unwrap();
    assert_eq!(exec(&mut db, &format!("DELETE FROM audit_events WHERE seq = {target}")).await.unwrap(), 1);
    drop(db);

    let report = t.admin().verify_audit().await.unwrap();
    assert!(!report.ok, "{report:?}");
    let broken = report.broken.expect("the broken link is named");
    assert_eq!(broken.seq, target, "{broken:?}");
    assert!(broken.reason.contains("missing"), "{broken:?}");
    t.stop().await;
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the server logs at any level while handling secrets, captured on this test's
/// thread (the current-thread runtime runs the server's tasks here too).
#[tokio::test]
async fn no_secret_appears_in_the_server_log() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "breakglass_server=trace,breakglass_store=trace,breakglass_core=trace,sqlx=trace,axum=trace",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = TestApp::start().await;
    let bob = t.user("bob@example.com").await;
    let mut secrets =
        vec![ADMIN_TOKEN.to_owned(), password_for("bob@example.com"), bob.token().unwrap().to_owned()];
    let created = bob.create_token(&CreateToken { name: "ci".into(), ..Default::default() }).await.unwrap();
    secrets.push(created.secret.clone());
    t.client(&created.secret).me().await.unwrap();
    bob.revoke_token(&created.token.id).await.unwrap();
    expect_problem(t.client(&created.secret).me().await, 401, "auth.invalid_token");
    let wrong = "wrong-but-secret-password-42".to_owned();
    expect_problem(
        t.anonymous().login(&Login { email: "bob@example.com".into(), password: wrong.clone() }).await,
        401,
        "auth.invalid_credentials",
    );
    secrets.push(wrong);
    // A login body the server refuses must not be echoed into the log either.
    let odd = "odd-secret-in-a-refused-body-77".to_owned();
    t.raw(
        "POST",
        "/api/v1/auth/login",
        None,
        Body::Json(&serde_json::json!({"email": "bob@example.com", "password": odd, "otp": odd})),
    )
    .await
    .assert_problem(400, "input.unknown_field");
    secrets.push(odd);
    t.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("failed sign-in"), "the log was captured: {text}");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "the log contains the secret {s:?}:\n{text}");
    }
}

#[tokio::test]
async fn verify_notices_that_the_newest_event_was_deleted() {
    let t = TestApp::start().await;
    chain_fixture(&t).await;
    let head = t.seq().await;
    let Some(mut db) = open_db(&t).await else { return t.stop().await };
    exec(&mut db, "DROP TRIGGER audit_events_no_delete").await.unwrap();
    assert_eq!(exec(&mut db, &format!("DELETE FROM audit_events WHERE seq = {head}")).await.unwrap(), 1);
    drop(db);

    // The server itself committed `head` events and still says so; a log that ends before it
    // has lost an acknowledged event, and verify must say so.
    assert_eq!(t.seq().await, head, "/healthz still reports the committed head");
    let report = t.admin().verify_audit().await.unwrap();
    assert!(!report.ok, "the newest event ({head}) was deleted, yet verify reports {report:?}");
    assert_eq!(report.broken.map(|b| b.seq), Some(head));
    t.stop().await;
}
