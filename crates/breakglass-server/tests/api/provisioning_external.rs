//! Grants reaching MariaDB through the external connector protocol and the example connector
//! program (Python, PyMySQL) from the operator's connectors directory, through the whole
//! server: a project role becomes a MariaDB role's privileges, a credential (whose verifier the
//! program makes) logs in, removal takes the privileges, and no secret shows. Without
//! `--connectors-dir` the kind is refused at once.

use std::time::Duration;

use breakglass_client::api::{CreateTenant, RegisterPlatform};

use crate::common::*;
use crate::mariadb::MariaDb;
use crate::provisioning::{member, system_clock};

#[tokio::test]
async fn a_project_role_becomes_mariadb_privileges_through_an_external_program() {
    let Some(db) = MariaDb::start() else { return };
    let dir = db.connectors.clone();
    let t = TestApp::start_configured(move |c| {
        system_clock(c);
        c.connectors_dir = Some(dir);
    })
    .await;
    let admin = t.admin();
    let dev = t.user("dev@example.com").await;
    // Roles are server-wide: the workspace's name carries the test's tag, so the group roles
    // (bg_<workspace>_web_<role>) are this test's alone, and dropped with the rest.
    let ws = format!("w{}", db.tag);
    let ws = ws.as_str();
    t.workspace(ws, &[]).await;
    t.project(ws, "web").await;
    let platform = db.platform();
    let body = RegisterPlatform {
        identifier: platform.clone(),
        kind: "external".into(),
        name: "MariaDB".into(),
        settings: db.settings().into_iter().collect(),
        mode: Some("enforce".into()),
        ..Default::default()
    };
    let registered = admin.register_platform(&body).await.unwrap();
    let shown = serde_json::to_string(&registered).unwrap();
    assert!(!shown.contains(&db.password), "the admin password is sealed: {shown}");
    admin
        .create_tenant(
            ws,
            "web",
            &CreateTenant { platform: platform.clone(), external_id: db.database.clone() },
        )
        .await
        .unwrap();
    admin.set_project_member(ws, "web", "dev@example.com", &member("user")).await.unwrap().expect_binding();
    let cred = dev.issue_credential(ws, "web", &platform).await.unwrap();
    assert!(cred.ready, "the login works when the answer comes");
    assert_eq!(db.as_user(&cred.login, &cred.password, "SELECT v FROM items").unwrap(), "a");
    db.as_user(&cred.login, &cred.password, "INSERT INTO items VALUES ('by dev')").expect("user writes");
    assert!(db.as_user(&cred.login, &cred.password, "DROP TABLE items").is_err(), "user does not drop");

    admin.remove_project_member(ws, "web", "dev@example.com").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while db.as_user(&cred.login, &cred.password, "SELECT 1").is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the login outlived the access");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The pass records what it did after the platform did it: the login may stop working a
    // moment before the event is committed.
    crate::provisioning::eventually("the removal is audited", || async {
        !t.events_of("ACCESS_DEPROVISIONED").await.is_empty()
    })
    .await;
    let events = serde_json::to_string(&t.events().await).unwrap();
    assert!(!events.contains(&db.password) && !events.contains(&cred.password), "a secret in the audit log");
}

#[tokio::test]
async fn without_a_connectors_directory_an_external_platform_cannot_run() {
    let t = TestApp::start().await;
    let admin = t.admin();
    t.workspace("acme", &[]).await;
    t.project("acme", "web").await;
    let body = RegisterPlatform {
        identifier: "ext".into(),
        kind: "external".into(),
        name: "External".into(),
        settings: [("command".to_owned(), "anything".to_owned())].into(),
        ..Default::default()
    };
    admin.register_platform(&body).await.unwrap();
    let drift = admin.platform_drift("ext").await.unwrap_err().to_string();
    assert!(drift.contains("--connectors-dir"), "{drift}");
}
