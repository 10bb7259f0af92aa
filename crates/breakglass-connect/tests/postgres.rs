//! The PostgreSQL connector against a real server that checks passwords (a throwaway
//! `scram-sha-256` cluster): groups with their privileges, accounts that log in with a
//! verifier's password until `VALID UNTIL`, grants that work at once, revocation that ends open
//! sessions, members granted by hand listed for drift, and accounts removed.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakglass_connect::{kind, AccountSpec, GroupSpec, Membership, TenantSpec};
use sqlx::{Connection, Executor, PgConnection};
use support::cluster::Cluster;

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

fn tenant(db: &str) -> TenantSpec {
    let pg = kind("postgres").unwrap();
    let groups: BTreeMap<String, GroupSpec> = ["reader", "user", "admin"]
        .into_iter()
        .map(|r| {
            (
                r.to_owned(),
                GroupSpec { name: format!("bg_acme_web_{r}"), mapping: pg.default_mapping(r).into() },
            )
        })
        .collect();
    TenantSpec { external_id: db.to_owned(), groups }
}

async fn login(cluster: &Cluster, user: &str, password: &str, db: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect(&cluster.url_as(user, password, db)).await
}

#[tokio::test]
async fn accounts_log_in_with_their_credential_and_hold_what_their_groups_grant() {
    let Some(cluster) = Cluster::start() else { return };
    let mut admin = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    admin.execute("CREATE DATABASE web_db").await.unwrap();
    let mut web = PgConnection::connect(&cluster.url("web_db")).await.unwrap();
    web.execute("CREATE TABLE items (id serial PRIMARY KEY, v text); INSERT INTO items (v) VALUES ('a')")
        .await
        .unwrap();

    let pg = kind("postgres").unwrap();
    let connector = pg.connect("pg", &[("url".to_owned(), cluster.url("postgres"))].into()).unwrap();
    connector.health().await.unwrap();
    let t = tenant("web_db");
    connector.ensure_tenant(&t).await.unwrap();
    connector.ensure_tenant(&t).await.unwrap(); // idempotent

    let name = "bg_al@x.io";
    let password = "correct horse battery staple 0123";
    let until = now_micros() + 3_600_000_000;
    let account =
        AccountSpec { name: name.into(), login: Some((pg.verifier(password).unwrap(), Some(until))) };
    connector.ensure_account(&account).await.unwrap();
    connector.grant("bg_acme_web_reader", name).await.unwrap();
    connector.grant("bg_acme_web_reader", name).await.unwrap(); // idempotent

    // The reader reads, and may not write.
    let mut al = login(&cluster, name, password, "web_db").await.expect("the credential logs in");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&mut al).await.unwrap();
    assert_eq!(n, 1);
    let err = al.execute("INSERT INTO items (v) VALUES ('b')").await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert!(login(&cluster, name, "wrong password", "web_db").await.is_err());

    // A table made later is covered too (default privileges).
    web.execute("CREATE TABLE later (x int); INSERT INTO later VALUES (7)").await.unwrap();
    let x: i32 = sqlx::query_scalar("SELECT x FROM later").fetch_one(&mut al).await.unwrap();
    assert_eq!(x, 7);

    // Drift: a membership granted by hand is listed next to Breakglass's.
    admin.execute("CREATE ROLE intruder LOGIN; GRANT bg_acme_web_admin TO intruder").await.unwrap();
    let members = connector.list_members(&t).await.unwrap();
    assert_eq!(
        members,
        [
            Membership { group: "bg_acme_web_admin".into(), member: "intruder".into() },
            Membership { group: "bg_acme_web_reader".into(), member: name.into() },
        ]
    );
    let accounts = connector.list_accounts().await.unwrap();
    assert_eq!(accounts.iter().map(|a| (a.name.as_str(), a.can_login)).collect::<Vec<_>>(), [(name, true)]);

    // Revoking the group and ending sessions cuts the open session off.
    connector.revoke("bg_acme_web_reader", name).await.unwrap();
    connector.revoke("bg_acme_web_reader", name).await.unwrap(); // idempotent
    connector.end_sessions(name).await.unwrap();
    assert!(sqlx::query("SELECT 1").execute(&mut al).await.is_err(), "the session was terminated");
    let mut again = login(&cluster, name, password, "web_db").await.unwrap();
    let err = sqlx::query("SELECT count(*) FROM items").execute(&mut again).await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    drop(again);

    // A credential past its end is refused by PostgreSQL itself.
    let expired = AccountSpec {
        name: name.into(),
        login: Some((pg.verifier(password).unwrap(), Some(now_micros() - 1))),
    };
    connector.ensure_account(&expired).await.unwrap();
    assert!(login(&cluster, name, password, "web_db").await.is_err(), "VALID UNTIL refuses it");
    // No login at all.
    connector.ensure_account(&AccountSpec { name: name.into(), login: None }).await.unwrap();
    assert!(login(&cluster, name, password, "web_db").await.is_err());

    // Another platform on the same server lists none of this one's accounts.
    let other = pg.connect("other", &[("url".to_owned(), cluster.url("postgres"))].into()).unwrap();
    assert!(other.list_accounts().await.unwrap().is_empty(), "accounts are listed by their platform");

    // Deleting removes the role; deleting again is no error.
    connector.delete_account(name).await.unwrap();
    connector.delete_account(name).await.unwrap();
    assert!(connector.list_accounts().await.unwrap().is_empty());
}

#[tokio::test]
async fn accounts_and_grants_go_in_batches_and_a_repeat_changes_nothing() {
    let Some(cluster) = Cluster::start() else { return };
    let mut admin = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    admin.execute("CREATE DATABASE web_db").await.unwrap();
    let pg = kind("postgres").unwrap();
    let connector = pg.connect("pg", &[("url".to_owned(), cluster.url("postgres"))].into()).unwrap();
    let t = tenant("web_db");
    connector.ensure_tenant(&t).await.unwrap();
    let accounts: Vec<AccountSpec> =
        (0..120).map(|i| AccountSpec { name: format!("bg_u{i}@x.io"), login: None }).collect();
    connector.ensure_accounts(&accounts).await.unwrap();
    connector.ensure_accounts(&accounts).await.unwrap();
    let grants: Vec<(String, String)> =
        accounts.iter().map(|a| ("bg_acme_web_reader".to_owned(), a.name.clone())).collect();
    connector.grant_many(&grants).await.unwrap();
    connector.grant_many(&grants).await.unwrap();
    assert_eq!(connector.list_accounts().await.unwrap().len(), 120);
    assert_eq!(connector.list_members(&t).await.unwrap().len(), 120);
    // A name with a quote in it is still one name.
    let odd = AccountSpec { name: "bg_o'\"dd$x@x.io".into(), login: None };
    connector.ensure_accounts(std::slice::from_ref(&odd)).await.unwrap();
    connector.grant_many(&[("bg_acme_web_user".to_owned(), odd.name.clone())]).await.unwrap();
    assert!(connector.list_members(&t).await.unwrap().iter().any(|m| m.member == odd.name));
}

#[tokio::test]
async fn an_unreachable_server_is_an_unreachable_error_and_no_secret_is_in_it() {
    let Some(cluster) = Cluster::start() else { return };
    let pg = kind("postgres").unwrap();
    let url = cluster.url("postgres");
    let connector = pg.connect("pg", &[("url".to_owned(), url)].into()).unwrap();
    connector.health().await.unwrap();
    cluster.stop();
    let err = tokio::time::timeout(Duration::from_secs(20), connector.health()).await.unwrap().unwrap_err();
    assert!(matches!(err, breakglass_connect::ConnectError::Unreachable(_)), "{err}");
    assert!(!err.to_string().contains(&cluster.password), "{err}");
    cluster.restart();
    tokio::time::timeout(Duration::from_secs(20), async {
        while connector.health().await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("healthy again after the restart");

    let bad =
        pg.connect("pg", &[("url".to_owned(), "not a url with s3cret".to_owned())].into()).err().unwrap();
    assert!(!bad.to_string().contains("s3cret"), "{bad}");
}
