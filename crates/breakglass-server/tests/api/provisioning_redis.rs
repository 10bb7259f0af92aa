//! Grants reaching a real Redis server (a throwaway `redis-server` per test) through the whole
//! server: a project role becomes an ACL user's rules on the tenant's key prefix, a credential
//! signs in, removal takes the rules and ends the session, rules altered by hand are corrected
//! and audited, and the admin password never shows.

use std::time::Duration;

use breakglass_client::api::RegisterPlatform;

use crate::provisioning::{eventually, member, system_clock, with_platform};
use crate::redis_server::RedisServer;

fn no_permission<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> bool {
    matches!(&r, Err(e) if e.to_string().contains("NOPERM"))
}

#[tokio::test]
async fn a_project_role_becomes_acl_rules_on_the_tenants_keys_until_it_is_removed() {
    let Some(server) = RedisServer::start() else { return };
    let body = RegisterPlatform {
        identifier: "cache".into(),
        kind: "redis".into(),
        name: "Cache".into(),
        settings: [("url".to_owned(), server.url()), ("password".to_owned(), server.password.clone())].into(),
        mode: Some("enforce".into()),
        ..Default::default()
    };
    let (t, admin, dev) = with_platform(&body, "acme", "web", system_clock).await;
    let mut root = redis::Client::open(server.url_as("default", &server.password))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("SET").arg("web:a").arg("1").query_async::<()>(&mut root).await.unwrap();

    admin
        .set_project_member("acme", "web", "dev@example.com", &member("user"))
        .await
        .unwrap()
        .expect_binding();
    let cred = dev.issue_credential("acme", "web", "cache").await.unwrap();
    assert!(cred.ready, "the login works when the answer comes");
    assert!(cred.connect.as_deref().unwrap().starts_with("redis-cli -h '127.0.0.1'"), "{:?}", cred.connect);
    let mut conn = redis::Client::open(server.url_as(&cred.login, &cred.password))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the credential signs in");
    let got: Option<String> = redis::cmd("GET").arg("web:a").query_async(&mut conn).await.unwrap();
    assert_eq!(got.as_deref(), Some("1"));
    redis::cmd("SET").arg("web:b").arg("2").query_async::<()>(&mut conn).await.expect("a user writes");
    assert!(no_permission(redis::cmd("SET").arg("other:b").arg("2").query_async::<()>(&mut conn).await));
    eventually("the grant shows as provisioned", || async {
        let list = admin.all_project_members("acme", "web").await.unwrap();
        list[0].provisioning.iter().any(|p| p.state == breakglass_client::api::ProvisioningState::Provisioned)
    })
    .await;

    // Rules widened by hand: corrected and audited.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&cred.login)
        .arg("+@all")
        .arg("~*")
        .query_async::<()>(&mut root)
        .await
        .unwrap();
    admin.sync_platform("cache").await.unwrap();
    assert!(no_permission(redis::cmd("SET").arg("other:c").arg("1").query_async::<()>(&mut conn).await));
    assert!(!t.events_of("DRIFT_CORRECTED").await.is_empty(), "the correction is audited");

    // Removal: rules gone, session ended, no login.
    admin.remove_project_member("acme", "web", "dev@example.com").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while redis::cmd("GET").arg("web:a").query_async::<Option<String>>(&mut conn).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until the session is ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = redis::Client::open(server.url_as(&cred.login, &cred.password))
        .unwrap()
        .get_multiplexed_async_connection()
        .await;
    assert!(again.is_err(), "no login once access is gone");
    // Recorded after the platform did it: the login may go a moment before the event commits.
    eventually("the removal is audited", || async { !t.events_of("ACCESS_DEPROVISIONED").await.is_empty() })
        .await;
    let shown = serde_json::to_string(&admin.platform("cache").await.unwrap()).unwrap();
    assert!(!shown.contains(&server.password), "{shown}");
    let events = serde_json::to_string(&t.events().await).unwrap();
    assert!(
        !events.contains(&server.password) && !events.contains(&cred.password),
        "a secret in the audit log"
    );
}
