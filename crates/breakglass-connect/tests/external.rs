//! The external connector: the protocol's process handling against programs that hang, lie or
//! die (small shell programs, testing this side of the protocol), the operator's directory as
//! the only place programs run from, and the example MariaDB connector (Python, PyMySQL)
//! against the machine's real MariaDB server: logins with their credential, privileges granted
//! and revoked at once, sessions ended, grants made by hand found and removed.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use breakglass_connect::{
    kind, AccountSpec, ConnectError, Connector, Env, GroupSpec, Membership, TenantSpec,
};
use support::mariadb::MariaDb;

fn program(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&path).status().unwrap();
}

fn connect(dir: &Path, command: &str, timeout: &str) -> Result<Box<dyn Connector>, ConnectError> {
    let settings: BTreeMap<String, String> =
        [("command".to_owned(), command.to_owned()), ("timeout".to_owned(), timeout.to_owned())].into();
    kind("external").unwrap().connect_in("p", &settings, &Env { connectors_dir: Some(dir.to_owned()) })
}

const ANSWER_SETUP: &str = r#"read l; echo '{"v":1,"id":1,"ok":true,"result":{}}'
read l; echo '{"v":1,"id":2,"ok":true,"result":{"protocol":1,"credentials":true,"enforces_expiry":false,"ends_sessions":true,"lists_members":true}}'"#;

#[tokio::test]
async fn a_program_that_hangs_lies_or_dies_is_an_unreachable_error_and_only_the_operators_programs_run() {
    let dir = std::env::temp_dir().join(format!("bg-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    program(&dir, "hangs", &format!("{ANSWER_SETUP}\necho 'thinking about it' >&2\nsleep 60"));
    program(&dir, "garbage", &format!("{ANSWER_SETUP}\nread l; echo 'this is not json'"));
    program(
        &dir,
        "wrong-id",
        &format!("{ANSWER_SETUP}\nread l; echo '{{\"v\":1,\"id\":9,\"ok\":true,\"result\":{{}}}}'"),
    );
    program(&dir, "dies", &format!("{ANSWER_SETUP}\necho 'cannot open the system' >&2\nexit 3"));
    program(&dir, "refuses", &format!("{ANSWER_SETUP}\nread l; echo '{{\"v\":1,\"id\":3,\"ok\":false,\"error\":{{\"kind\":\"refused\",\"message\":\"no such group\"}}}}'"));

    let started = Instant::now();
    let err = connect(&dir, "hangs", "1").unwrap().health().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout holds");
    assert!(
        matches!(&err, ConnectError::Unreachable(m) if m.contains("no answer within 1 s") && m.contains("thinking about it")),
        "{err}"
    );
    let err = connect(&dir, "garbage", "5").unwrap().health().await.unwrap_err();
    assert!(matches!(&err, ConnectError::Unreachable(m) if m.contains("not a protocol message")), "{err}");
    let err = connect(&dir, "wrong-id", "5").unwrap().health().await.unwrap_err();
    assert!(matches!(&err, ConnectError::Unreachable(m) if m.contains("answered id 9")), "{err}");
    let err = connect(&dir, "dies", "5").unwrap().health().await.unwrap_err();
    assert!(
        matches!(&err, ConnectError::Unreachable(m) if m.contains("exited") && m.contains("cannot open the system")),
        "{err}"
    );
    let err = connect(&dir, "refuses", "5").unwrap().grant("g", "m").await.unwrap_err();
    assert!(matches!(&err, ConnectError::Refused(m) if m == "no such group"), "{err}");

    // Only programs in the operator's directory, named without a path; none when it is unset.
    for bad in ["../hangs", "/bin/sh", "missing", ".hidden"] {
        assert!(matches!(connect(&dir, bad, "5"), Err(ConnectError::Invalid(_))), "{bad} ran");
    }
    let off = kind("external").unwrap().connect_in(
        "p",
        &[("command".to_owned(), "hangs".to_owned())].into(),
        &Env::default(),
    );
    assert!(matches!(off, Err(ConnectError::Invalid(m)) if m.contains("--connectors-dir")));
    assert!(matches!(connect(&dir, "hangs", "0"), Err(ConnectError::Invalid(_))), "a zero timeout");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tenant(db: &MariaDb) -> TenantSpec {
    let groups: BTreeMap<String, GroupSpec> = ["reader", "user", "admin"]
        .into_iter()
        .map(|r| (r.to_owned(), GroupSpec { name: format!("bg_{}_{r}", db.tag), mapping: r.into() }))
        .collect();
    TenantSpec { external_id: db.database.clone(), groups }
}

#[tokio::test]
async fn the_mariadb_example_logs_in_with_its_credential_and_holds_what_its_groups_grant() {
    let Some(db) = MariaDb::start() else { return };
    let env = Env { connectors_dir: Some(db.connectors.clone()) };
    let c = kind("external").unwrap().connect_in(&db.platform(), &db.settings(), &env).unwrap();
    c.health().await.unwrap();
    let t = tenant(&db);
    c.ensure_tenant(&t).await.unwrap();
    c.ensure_tenant(&t).await.unwrap(); // idempotent
    let (reader, user) = (t.groups["reader"].name.clone(), t.groups["user"].name.clone());

    let name = format!("bg_{}_al", db.tag);
    let password = "correct horse battery staple 0123";
    let verifier = c.verifier(password).await.unwrap();
    assert!(verifier.starts_with('*') && !verifier.contains(password));
    let account = AccountSpec { name: name.clone(), login: Some((verifier, None)) };
    c.ensure_account(&account).await.unwrap();
    c.ensure_account(&account).await.unwrap(); // idempotent
    assert!(db.as_user(&name, password, "SELECT v FROM items").is_err(), "no grant, no table");
    assert!(db.as_user(&name, "wrong", "SELECT 1").is_err(), "a wrong password is refused");

    c.grant(&reader, &name).await.unwrap();
    c.grant(&reader, &name).await.unwrap(); // idempotent
    assert_eq!(db.as_user(&name, password, "SELECT v FROM items").unwrap(), "a");
    assert!(
        db.as_user(&name, password, "INSERT INTO items VALUES ('x')").is_err(),
        "a reader does not write"
    );
    c.grant(&user, &name).await.unwrap();
    db.as_user(&name, password, "INSERT INTO items VALUES ('by al')").expect("a user writes");
    let listed = c.list_members(&t).await.unwrap();
    let m = |g: &str, who: &str| Membership { group: g.into(), member: who.into() };
    assert!(listed.contains(&m(&reader, &name)) && listed.contains(&m(&user, &name)), "{listed:?}");
    let accounts = c.list_accounts().await.unwrap();
    assert!(accounts.iter().any(|a| a.name == name && a.can_login), "{accounts:?}");

    // An open session is ended; revocation takes the privilege.
    let mut session = std::process::Command::new("mysql")
        .args(["-h127.0.0.1", &format!("-u{name}"), &format!("-p{password}"), "-e", "SELECT SLEEP(30)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let seen = Instant::now();
    while db
        .root(&format!("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{name}'"))
        .unwrap()
        .trim()
        .is_empty()
    {
        assert!(seen.elapsed() < Duration::from_secs(10), "the session never showed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.end_sessions(&name).await.unwrap();
    let ended = Instant::now();
    let status = session.wait().unwrap();
    assert!(!status.success() && ended.elapsed() < Duration::from_secs(10), "the session was ended");
    c.revoke(&user, &name).await.unwrap();
    c.revoke(&user, &name).await.unwrap(); // idempotent
    assert!(db.as_user(&name, password, "INSERT INTO items VALUES ('y')").is_err(), "write gone");

    // Granted by hand: a member of a managed role that is not an account of Breakglass's.
    db.as_user(
        &db.admin,
        &db.password,
        &format!("CREATE USER 'hand_{tag}'@'%'; GRANT `{reader}` TO 'hand_{tag}'@'%'", tag = db.tag),
    )
    .unwrap();
    let hand = format!("hand_{}@%", db.tag);
    assert!(c.list_members(&t).await.unwrap().contains(&m(&reader, &hand)));
    c.revoke(&reader, &hand).await.unwrap();
    assert!(!c.list_members(&t).await.unwrap().contains(&m(&reader, &hand)));
    let refused = c.ensure_account(&AccountSpec { name: format!("hand_{}", db.tag), login: None }).await;
    assert!(refused.is_err(), "a user Breakglass did not make is not taken over");

    // No login: the account is locked; then it goes.
    c.ensure_account(&AccountSpec { name: name.clone(), login: None }).await.unwrap();
    assert!(db.as_user(&name, password, "SELECT 1").is_err(), "a locked account does not log in");
    c.delete_account(&name).await.unwrap();
    c.delete_account(&name).await.unwrap(); // idempotent
    assert!(c.list_accounts().await.unwrap().iter().all(|a| a.name != name));
}

/// The protocol's own cost: `health` round trips to a program that answers at once (Python,
/// one JSON line in, one out), `MEASURE_N` times (default 2,000); and the same request to the
/// MariaDB example, which also runs `SELECT 1`. Prints one JSON line; timings are not asserted.
#[tokio::test]
#[ignore = "a measurement: run by name"]
async fn protocol_overhead_per_request() {
    let Some(db) = MariaDb::start() else { return };
    let n: usize = std::env::var("MEASURE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let python = std::fs::read_to_string(db.connectors.join("mariadb")).unwrap();
    let python = python.split('\'').nth(1).unwrap().to_owned();
    let echo = r#"import json, sys
for line in sys.stdin:
    r = json.loads(line)
    result = {"protocol": 1, "credentials": False, "enforces_expiry": False, "ends_sessions": False, "lists_members": False} if r["op"] == "capabilities" else {}
    sys.stdout.write(json.dumps({"v": 1, "id": r["id"], "ok": True, "result": result}) + "\n")
    sys.stdout.flush()
"#;
    std::fs::write(db.connectors.join("echo.py"), echo).unwrap();
    program(&db.connectors, "echo", &format!("exec '{python}' echo.py"));
    let env = Env { connectors_dir: Some(db.connectors.clone()) };
    let mut figures = serde_json::Map::new();
    for (label, settings) in
        [("echo", [("command".to_owned(), "echo".to_owned())].into()), ("mariadb_select_1", db.settings())]
    {
        let c = kind("external").unwrap().connect_in(&db.platform(), &settings, &env).unwrap();
        c.health().await.unwrap(); // started and configured
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            c.health().await.unwrap();
            lat.push(t.elapsed());
        }
        lat.sort();
        let us = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
        figures.insert(label.into(), serde_json::json!({"n": n, "p50_us": us(0.5), "p99_us": us(0.99)}));
    }
    println!("{}", serde_json::json!({"measure": "external_protocol_overhead", "health": figures}));
}
