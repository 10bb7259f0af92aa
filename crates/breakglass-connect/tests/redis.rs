//! The Redis connector against a real server (a throwaway `redis-server` per test): ACL users
//! that sign in with a credential's password and may do what their groups' rules allow on
//! their tenant's keys only, grants and revocations that take effect on open connections,
//! sessions ended, rules altered by hand found and restored, a user Breakglass did not make
//! left alone but for Breakglass's selector, and accounts removed.

mod support;

use std::collections::BTreeMap;

use breakglass_connect::{kind, AccountSpec, GroupSpec, Membership, TenantSpec};
use support::redis_server::RedisServer;

fn tenant(prefix: &str, project: &str) -> TenantSpec {
    let redis = kind("redis").unwrap();
    let groups: BTreeMap<String, GroupSpec> = ["reader", "user", "admin"]
        .into_iter()
        .map(|r| {
            let name = format!("bg_acme_{project}_{r}");
            (r.to_owned(), GroupSpec { name, mapping: redis.default_mapping(r).into() })
        })
        .collect();
    TenantSpec { external_id: prefix.to_owned(), groups }
}

fn settings(server: &RedisServer) -> BTreeMap<String, String> {
    [("url".to_owned(), server.url()), ("password".to_owned(), server.password.clone())].into()
}

async fn login(
    server: &RedisServer,
    user: &str,
    password: &str,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(server.url_as(user, password))?.get_multiplexed_async_connection().await
}

async fn admin(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    login(server, "default", &server.password).await.expect("the admin signs in")
}

async fn get(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> redis::RedisResult<Option<String>> {
    redis::cmd("GET").arg(key).query_async(conn).await
}

async fn set(conn: &mut redis::aio::MultiplexedConnection, key: &str, v: &str) -> redis::RedisResult<()> {
    redis::cmd("SET").arg(key).arg(v).query_async(conn).await
}

fn no_permission(r: redis::RedisResult<impl std::fmt::Debug>) -> bool {
    matches!(&r, Err(e) if e.to_string().contains("NOPERM"))
}

#[tokio::test]
async fn users_sign_in_with_their_credential_and_reach_only_their_tenants_keys_as_their_groups_allow() {
    let Some(server) = RedisServer::start() else { return };
    let mut root = admin(&server).await;
    set(&mut root, "ledger:a", "1").await.unwrap();
    set(&mut root, "ops:a", "2").await.unwrap();

    let redis = kind("redis").unwrap();
    let connector = redis.connect("cache", &settings(&server)).unwrap();
    connector.health().await.unwrap();
    let (ledger, ops) = (tenant("ledger", "ledger"), tenant("ops", "ops"));
    connector.ensure_tenant(&ledger).await.unwrap();
    connector.ensure_tenant(&ops).await.unwrap();

    let (name, password) = ("bg_al@x.io", "correct horse battery staple 0123");
    let account = AccountSpec { name: name.into(), login: Some((redis.verifier(password).unwrap(), None)) };
    connector.ensure_account(&account).await.unwrap();
    connector.ensure_account(&account).await.unwrap(); // idempotent
    assert!(login(&server, name, "wrong").await.is_err(), "a wrong password is refused");
    let mut conn = login(&server, name, password).await.expect("the credential signs in");
    assert!(no_permission(get(&mut conn, "ledger:a").await), "no grant, no key");

    connector.grant("bg_acme_ledger_reader", name).await.unwrap();
    connector.grant("bg_acme_ledger_reader", name).await.unwrap(); // idempotent
    assert_eq!(get(&mut conn, "ledger:a").await.unwrap().as_deref(), Some("1"), "a reader reads at once");
    assert!(no_permission(set(&mut conn, "ledger:a", "x").await), "a reader does not write");
    assert!(no_permission(get(&mut conn, "ops:a").await), "another tenant's keys are out of reach");
    for keyless in
        ["SCAN 0", "KEYS *", "RANDOMKEY", "FLUSHALL", "FUNCTION FLUSH", "PUBSUB CHANNELS", "SCRIPT FLUSH"]
    {
        let mut parts = keyless.split(' ');
        let mut cmd = redis::cmd(parts.next().unwrap());
        cmd.arg(parts.collect::<Vec<_>>());
        assert!(
            no_permission(cmd.query_async::<redis::Value>(&mut conn).await),
            "{keyless} reaches every tenant"
        );
    }

    // Prefixes never nest: `ledger` holds ledger:*, not the keys of a tenant `ledgerx`.
    set(&mut root, "ledgerx:a", "3").await.unwrap();
    assert!(no_permission(get(&mut conn, "ledgerx:a").await), "a longer prefix is another tenant");

    connector.grant("bg_acme_ledger_user", name).await.unwrap();
    connector.grant("bg_acme_ops_reader", name).await.unwrap();
    let eval = redis::cmd("EVAL").arg("return 1").arg(0).query_async::<redis::Value>(&mut conn).await;
    assert!(no_permission(eval), "scripts are shared by every tenant");
    set(&mut conn, "ledger:b", "by al").await.expect("a user writes");
    assert_eq!(get(&mut conn, "ops:a").await.unwrap().as_deref(), Some("2"));
    assert!(
        no_permission(redis::cmd("FLUSHALL").query_async::<()>(&mut conn).await),
        "a user flushes nothing"
    );

    let members = |t| {
        let c = &connector;
        async move { c.list_members(t).await.unwrap() }
    };
    let m = |g: &str| Membership { group: g.into(), member: name.into() };
    assert_eq!(members(&ledger).await, [m("bg_acme_ledger_reader"), m("bg_acme_ledger_user")]);
    assert_eq!(members(&ops).await, [m("bg_acme_ops_reader")]);
    let accounts = connector.list_accounts().await.unwrap();
    assert_eq!(accounts.len(), 1, "only the users Breakglass made: {accounts:?}");
    assert!(accounts[0].can_login);

    // Revocation takes effect on the open connection; ending sessions closes it.
    connector.revoke("bg_acme_ledger_user", name).await.unwrap();
    connector.revoke("bg_acme_ledger_user", name).await.unwrap(); // idempotent
    assert!(no_permission(set(&mut conn, "ledger:c", "x").await), "write gone at once");
    assert_eq!(get(&mut conn, "ledger:a").await.unwrap().as_deref(), Some("1"), "read stays");
    connector.end_sessions(name).await.unwrap();
    assert!(get(&mut conn, "ledger:a").await.is_err(), "the session was ended");

    // The credential's end: no login, and open sessions end.
    let mut conn = login(&server, name, password).await.unwrap();
    connector.ensure_account(&AccountSpec { name: name.into(), login: None }).await.unwrap();
    assert!(get(&mut conn, "ledger:a").await.is_err(), "the session ended with the login");
    assert!(login(&server, name, password).await.is_err(), "no login without a credential");
    assert_eq!(members(&ledger).await, [m("bg_acme_ledger_reader")], "grants outlive the login");

    connector.delete_account(name).await.unwrap();
    connector.delete_account(name).await.unwrap(); // idempotent
    assert!(connector.list_accounts().await.unwrap().is_empty());
}

#[tokio::test]
async fn rules_altered_by_hand_are_found_and_restored_and_other_users_keep_all_but_the_grant() {
    let Some(server) = RedisServer::start() else { return };
    let mut root = admin(&server).await;
    let redis = kind("redis").unwrap();
    let connector = redis.connect("cache", &settings(&server)).unwrap();
    let ledger = tenant("ledger", "ledger");
    connector.ensure_tenant(&ledger).await.unwrap();
    let (name, password) = ("bg_mo@x.io", "another long password 4567");
    let account = AccountSpec { name: name.into(), login: Some((redis.verifier(password).unwrap(), None)) };
    connector.ensure_account(&account).await.unwrap();
    connector.grant("bg_acme_ledger_reader", name).await.unwrap();

    // By hand: the reader selector widened to every key, and all commands at the root.
    let widened = "(~* resetchannels &breakglass:group:bg_acme_ledger_reader +@all)";
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(name)
        .arg("clearselectors")
        .arg(widened)
        .arg("+@all")
        .arg("~*")
        .query_async::<()>(&mut root)
        .await
        .unwrap();
    let mut conn = login(&server, name, password).await.unwrap();
    set(&mut conn, "other:x", "1").await.expect("the hand-made rules let it write anywhere");
    let listed = connector.list_members(&ledger).await.unwrap();
    let altered = format!("{name} (altered by hand)");
    assert_eq!(listed, [Membership { group: "bg_acme_ledger_reader".into(), member: altered.clone() }]);

    // So is a selector added by hand next to an intact one, and a second password shows as no
    // login (so the engine sets the login again).
    connector.revoke("bg_acme_ledger_reader", &altered).await.unwrap();
    connector.grant("bg_acme_ledger_reader", name).await.unwrap();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(name)
        .arg("(~* +@all)")
        .arg(">second-password-890")
        .query_async::<()>(&mut root)
        .await
        .unwrap();
    let listed = connector.list_members(&ledger).await.unwrap();
    assert!(
        listed.contains(&Membership { group: "bg_acme_ledger_reader".into(), member: altered.clone() }),
        "{listed:?}"
    );
    assert!(
        !connector.list_accounts().await.unwrap()[0].can_login,
        "two passwords are not Breakglass's login"
    );
    connector.ensure_account(&account).await.unwrap();
    assert!(login(&server, name, "second-password-890").await.is_err(), "the hand-made password is gone");

    // Removing the altered member restores the user as Breakglass made it; granting places the
    // reader selector again.
    connector.revoke("bg_acme_ledger_reader", &altered).await.unwrap();
    connector.grant("bg_acme_ledger_reader", name).await.unwrap();
    assert!(no_permission(set(&mut conn, "other:x", "2").await), "the widened rules are gone");
    assert_eq!(
        connector.list_members(&ledger).await.unwrap(),
        [Membership { group: "bg_acme_ledger_reader".into(), member: name.into() }]
    );

    // A user made by hand that holds a Breakglass group's selector: listed in its own name;
    // revoking removes that selector only, its password and other rules stay.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("ops-bot")
        .arg("on")
        .arg(">bot-password-123")
        .arg("~bot:*")
        .arg("+@all")
        .arg("(~ledger:* resetchannels &breakglass:group:bg_acme_ledger_admin +@all)")
        .query_async::<()>(&mut root)
        .await
        .unwrap();
    let listed = connector.list_members(&ledger).await.unwrap();
    assert!(listed.contains(&Membership { group: "bg_acme_ledger_admin".into(), member: "ops-bot".into() }));
    assert!(connector.list_accounts().await.unwrap().iter().all(|a| a.name != "ops-bot"), "not ours");
    let refused = connector.ensure_account(&AccountSpec { name: "ops-bot".into(), login: None }).await;
    assert!(refused.is_err(), "a user Breakglass did not make is not taken over");
    let mut open_bot = login(&server, "ops-bot", "bot-password-123").await.unwrap();
    connector.revoke("bg_acme_ledger_admin", "ops-bot").await.unwrap();
    connector.end_sessions("ops-bot").await.unwrap();
    set(&mut open_bot, "bot:y", "1").await.expect("its open connections are not Breakglass's to end");
    let mut bot = login(&server, "ops-bot", "bot-password-123").await.expect("its password stays");
    set(&mut bot, "bot:x", "1").await.expect("its own rules stay");
    assert!(no_permission(set(&mut bot, "ledger:x", "1").await), "the grant is gone");
    connector.delete_account("ops-bot").await.unwrap();
    assert!(login(&server, "ops-bot", "bot-password-123").await.is_ok(), "delete leaves others' users");
}

#[tokio::test]
async fn bad_settings_mappings_and_prefixes_are_refused_and_a_stopped_server_is_unreachable() {
    let Some(mut server) = RedisServer::start() else { return };
    let redis = kind("redis").unwrap();
    assert!(redis.check_mapping("+@read ~*").is_err());
    let with_password = [("url".to_owned(), server.url_as("default", "pw"))].into();
    assert!(redis.connect("cache", &with_password).is_err(), "a password in the URL is refused");
    let connector = redis.connect("cache", &settings(&server)).unwrap();
    for bad in ["led ger", "ledger*", "ledger:"] {
        let bad = tenant(bad, "ledger");
        assert!(matches!(
            connector.ensure_tenant(&bad).await,
            Err(breakglass_connect::ConnectError::Invalid(_))
        ));
    }
    let bad = tenant("a:b", "ledger");
    assert!(matches!(connector.ensure_tenant(&bad).await, Err(breakglass_connect::ConnectError::Invalid(_))));
    let wrong = redis
        .connect(
            "cache",
            &[("url".to_owned(), server.url()), ("password".to_owned(), "wrong".to_owned())].into(),
        )
        .unwrap();
    assert!(wrong.health().await.is_err(), "a wrong admin password is an error");
    server.stop();
    assert!(matches!(connector.health().await, Err(breakglass_connect::ConnectError::Unreachable(_))));
}
