//! The command-line client against a live `breakglass serve` in a fresh data directory: output
//! formats, exit codes and one-line errors as a user sees them.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const ADMIN_TOKEN: &str = "bg-test-admin-token-0123456789";

/// A `breakglass serve` child process, stopped and cleaned up on drop.
struct Server {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("breakglass-cli-{}-{nanos}", std::process::id()));
        let child = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&dir)
            .env("BREAKGLASS_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("BREAKGLASS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn breakglass serve");
        let server = Server { child, url: format!("http://127.0.0.1:{port}"), dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.run(&["health"]).status.code() != Some(0) {
            assert!(Instant::now() < deadline, "the server did not come up at {}", server.url);
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `breakglass --server URL --token ADMIN_TOKEN args...`
    fn run(&self, args: &[&str]) -> Output {
        self.run_as(ADMIN_TOKEN, args)
    }

    fn run_as(&self, token: &str, args: &[&str]) -> Output {
        clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
            .args(["--server", &self.url, "--token", token])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run breakglass")
    }

    /// Runs `args` with `-o json`, expecting success, and parses the output.
    fn json(&self, args: &[&str]) -> Value {
        self.json_as(ADMIN_TOKEN, args)
    }

    fn json_as(&self, token: &str, args: &[&str]) -> Value {
        let out = self.run_as(token, &[&["-o", "json"], args].concat());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }

    /// Runs `args`, expecting success, and returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_as(ADMIN_TOKEN, args)
    }

    fn ok_as(&self, token: &str, args: &[&str]) -> String {
        let out = self.run_as(token, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Creates a user with a password (as the admin) and signs them in; returns their session.
    fn user(&self, email: &str) -> String {
        self.user_with(email, &[])
    }

    /// Like [`Server::user`], with further `user create` flags (e.g. `--admin-role`).
    fn user_with(&self, email: &str, flags: &[&str]) -> String {
        use std::io::Write;
        let password = format!("correct horse battery {email}");
        let mut child = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
            .args(["--server", &self.url, "--token", ADMIN_TOKEN, "user", "create", email])
            .args(["--name", email, "--password-stdin"])
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("run breakglass");
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "user create {email}");
        let login = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
            .args(["--server", &self.url, "-o", "json", "login", "--email", email])
            .env("BREAKGLASS_PASSWORD", &password)
            .output()
            .unwrap();
        assert_eq!(login.status.code(), Some(0), "login {email}: {}", text(&login.stderr));
        let session: Value = serde_json::from_slice(&login.stdout).unwrap();
        session["token"].as_str().unwrap().to_owned()
    }

    /// `breakglass signup` (table output) with the password in the environment and, if given,
    /// an invitation's secret.
    fn signup(&self, email: &str, password: &str, invitation_token: Option<&str>) -> Output {
        clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
            .args(["--server", &self.url, "signup", "--email", email, "--name", email])
            .args(invitation_token.map(|t| ["--invitation-token", t]).into_iter().flatten())
            .env("BREAKGLASS_PASSWORD", password)
            .output()
            .expect("run breakglass")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The command without any `BREAKGLASS_*` setting inherited from the environment.
fn clean(mut cmd: Command) -> Command {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BREAKGLASS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code and the single line on standard error.
fn failure(out: &Output) -> (i32, String) {
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "expected one line on stderr, got:\n{err}");
    (out.status.code().unwrap(), err.trim_end().to_owned())
}

#[test]
fn a_workspace_lifecycle_through_the_cli() {
    let s = Server::start();

    s.ok(&["user", "create", "alice@example.com", "--name", "Alice"]);
    s.ok(&["user", "create", "bob@example.com", "--name", "Bob"]);
    assert!(s.ok(&["user", "list"]).lines().any(|l| l.starts_with("alice@example.com ")));

    let ws = s.json(&["workspace", "create", "acme", "--name", "Acme", "--quota", "1"]);
    assert_eq!((ws["identifier"].as_str(), ws["project_quota"].as_u64()), (Some("acme"), Some(1)));
    s.ok(&["project", "create", "acme", "web", "--name", "Web"]);
    let (code, line) = failure(&s.run(&["project", "create", "acme", "api", "--name", "API"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: workspace.quota_exceeded: "), "{line}");

    let (code, line) = failure(&s.run(&["workspace", "show", "nope"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: workspace.not_found: "), "{line}");

    s.ok(&["member", "add", "acme", "alice@example.com", "--role", "member"]);
    let b = s.json(&[
        "member",
        "set",
        "acme",
        "alice@example.com",
        "--project",
        "web",
        "--role",
        "admin",
        "--expires-in",
        "2h",
    ]);
    assert_eq!((b["project"].as_str(), b["role"].as_str()), (Some("web"), Some("admin")));
    let members = s.json(&["member", "list", "acme", "--project", "web"]);
    assert_eq!(members["items"].as_array().unwrap().len(), 1);

    let check = |user: &str, role: &str| {
        s.run(&["check", "--user", user, "--workspace", "acme", "--project", "web", "--role", role])
    };
    let allowed = check("alice@example.com", "user");
    assert_eq!(allowed.status.code(), Some(0));
    assert!(text(&allowed.stdout).starts_with("allowed: alice@example.com holds user on acme/web until "));
    let denied = check("bob@example.com", "user");
    assert_eq!(denied.status.code(), Some(3));
    assert!(text(&denied.stdout).starts_with("denied: "));

    let grant = s.json(&[
        "grant",
        "create",
        "bob@example.com",
        "--workspace",
        "acme",
        "--project",
        "web",
        "--role",
        "reader",
        "--expires-in",
        "90m",
        "--reason",
        "incident 42",
    ]);
    assert_eq!(grant["source"].as_str(), Some("grant"));
    assert_eq!(check("bob@example.com", "reader").status.code(), Some(0));
    s.ok(&["grant", "revoke", grant["id"].as_str().unwrap()]);
    assert_eq!(check("bob@example.com", "reader").status.code(), Some(3));

    s.ok(&["member", "remove", "acme", "alice@example.com", "--project", "web"]);
    assert_eq!(check("alice@example.com", "user").status.code(), Some(3));

    let history = s.json(&["history", "acme", "--project", "web", "--all"]);
    assert!(history["items"].as_array().unwrap().len() >= 4, "{history}");
    let page = s.json(&["audit", "list", "--limit", "2"]);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_string());
    let rest = s.json(&["audit", "list", "--limit", "2", "--cursor", page["next_cursor"].as_str().unwrap()]);
    assert!(rest["items"][0]["seq"].as_i64() > page["items"][1]["seq"].as_i64());
    assert!(s.ok(&["audit", "verify"]).starts_with("ok: "));
}

#[test]
fn tokens_and_sessions_through_the_cli() {
    let s = Server::start();

    let created = s.json(&["token", "create", "ci", "--expires-in", "1d"]);
    let secret = created["secret"].as_str().unwrap().to_owned();
    let me = s.run_as(&secret, &["-o", "json", "me"]);
    assert_eq!(me.status.code(), Some(0), "{}", text(&me.stderr));
    assert!(!s.ok(&["token", "list"]).contains(&secret), "token list must not show secrets");
    s.ok(&["token", "revoke", created["id"].as_str().unwrap()]);
    let (code, line) = failure(&s.run_as(&secret, &["me"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: auth."), "{line}");

    let mut create = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")));
    let created = create
        .args(["--server", &s.url, "--token", ADMIN_TOKEN, "user", "create", "carol@example.com"])
        .args(["--name", "Carol", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"correct horse battery staple\n")?;
            child.wait()
        })
        .unwrap();
    assert!(created.success());

    let login = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
        .args(["--server", &s.url, "login", "--email", "carol@example.com"])
        .env("BREAKGLASS_PASSWORD", "correct horse battery staple")
        .output()
        .unwrap();
    assert_eq!(login.status.code(), Some(0), "{}", text(&login.stderr));
    let out = text(&login.stdout);
    let session = out
        .lines()
        .find_map(|l| l.strip_prefix("export BREAKGLASS_TOKEN="))
        .expect("an export line")
        .to_owned();
    assert!(s.run_as(&session, &["me"]).status.success());
    assert!(s.run_as(&session, &["logout"]).status.success());
    assert_eq!(s.run_as(&session, &["me"]).status.code(), Some(1));

    let wrong = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
        .args(["--server", &s.url, "login", "--email", "carol@example.com"])
        .env("BREAKGLASS_PASSWORD", "not the password")
        .output()
        .unwrap();
    let (code, line) = failure(&wrong);
    assert_eq!(code, 1);
    assert!(!line.contains("breakglass login"), "{line}");
}

/// The `id` of a JSON answer.
fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

/// The `items` of a JSON list.
fn items(value: &Value) -> &Vec<Value> {
    value["items"].as_array().unwrap_or_else(|| panic!("no items in {value}"))
}

#[test]
fn emergency_access_through_the_cli() {
    let s = Server::start();
    let mia = s.user("mia@example.com");
    let bob = s.user("bob@example.com");
    s.user("carl@example.com");
    s.ok(&["workspace", "create", "acme", "--name", "Acme"]); // the admin owns it
    s.ok(&["project", "create", "acme", "web", "--name", "Web"]);
    s.ok(&["member", "add", "acme", "mia@example.com", "--role", "manager"]);
    s.ok(&["member", "add", "acme", "bob@example.com", "--role", "member"]);
    let check = |role: &str, project: Option<&str>| {
        let mut args = vec!["check", "--user", "bob@example.com", "--workspace", "acme", "--role", role];
        if let Some(p) = project {
            args.extend(["--project", p]);
        }
        s.run(&args)
    };

    // An installation-wide emergency policy: no approvals, at most an hour.
    let policy = s.json(&["policy", "create", "break glass", "--max-duration", "1h"]);
    assert_eq!((policy["steps"].as_array().unwrap().len(), policy["max_duration"].as_str()), (0, Some("1h")));
    assert!(policy.get("workspace").is_none(), "{policy}");
    let emergency = id(&policy);
    assert!(s.ok(&["policy", "list"]).lines().any(|l| l.starts_with(&emergency)));
    let e =
        s.json(&["entitlement", "set", "acme", "manager", "--emergency", "--emergency-policy", &emergency]);
    assert_eq!(e["emergency_enabled"], true);
    assert_eq!(e["emergency_policy"]["id"].as_str(), Some(emergency.as_str()));
    assert!(s.ok(&["entitlement", "list", "acme"]).contains("⚡ allowed"));

    // The emergency path: granted at once, flagged, reviewed.
    assert_eq!(check("manager", None).status.code(), Some(3));
    let out = s.ok_as(
        &bob,
        &[
            "request",
            "create",
            "--workspace",
            "acme",
            "--role",
            "manager",
            "--duration",
            "30m",
            "--justification",
            "prod is down",
            "--emergency",
        ],
    );
    assert!(out.contains("Granted ⚡ EMERGENCY: bob@example.com holds manager on acme for 30m."), "{out}");
    let allowed = check("manager", None);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    assert!(text(&allowed.stdout).contains("via ⚡ EMERGENCY "), "{}", text(&allowed.stdout));
    let mine = s.ok_as(&bob, &["request", "list"]);
    assert!(mine.lines().any(|l| l.contains(" granted ") && l.contains("⚡ EMERGENCY")), "{mine}");
    assert!(s.ok(&["member", "list", "acme"]).contains("⚡ EMERGENCY"));

    let open = s.json_as(&mia, &["review", "list"]);
    assert_eq!(items(&open).len(), 1, "{open}");
    let review = id(&items(&open)[0]);
    assert_eq!(items(&open)[0]["holder"], "bob@example.com");
    assert!(s
        .ok_as(&mia, &["review", "list"])
        .lines()
        .any(|l| l.starts_with(&review) && l.contains(" open ")));
    assert_eq!(s.json(&["workspace", "show", "acme"])["open_reviews"], 1);
    let (code, _) = failure(&s.run_as(&bob, &["review", "complete", &review, "--outcome", "justified"]));
    assert_eq!(code, 1, "the holder does not review their own emergency access");
    let done = s.json_as(
        &mia,
        &["review", "complete", &review, "--outcome", "justified", "--notes", "matches incident 7"],
    );
    assert_eq!((done["state"].as_str(), done["outcome"].as_str()), (Some("completed"), Some("justified")));
    assert!(items(&s.json_as(&mia, &["review", "list"])).is_empty());
    assert_eq!(items(&s.json_as(&mia, &["review", "list", "--state", "all"])).len(), 1);

    // The normal path needs a manager's approval, never the requester's own.
    let normal = [
        "request",
        "create",
        "--workspace",
        "acme",
        "--project",
        "web",
        "--role",
        "admin",
        "--duration",
        "1h",
        "--justification",
        "deploy",
    ];
    let pending = s.json_as(&bob, &normal);
    assert_eq!((pending["state"].as_str(), pending["emergency"].as_bool()), (Some("pending"), Some(false)));
    let request = id(&pending);
    let (code, line) = failure(&s.run_as(&bob, &["task", "approve", &request]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: request.self_approval: "), "{line}");
    let tasks = s.ok_as(&mia, &["task", "list"]);
    assert!(tasks.lines().any(|l| l.starts_with(&request) && l.contains(" approve ")), "{tasks}");
    let approved = s.ok_as(&mia, &["task", "approve", &request]);
    assert!(approved.starts_with("Granted: bob@example.com holds admin on acme/web for 1h."), "{approved}");
    assert_eq!(check("admin", Some("web")).status.code(), Some(0));

    // Escalation: the requester turns a pending request into an emergency one; the emergency
    // policy's maximum duration applies.
    s.ok(&["entitlement", "set", "acme", "owner", "--emergency", "--emergency-policy", &emergency]);
    let slow = s.json_as(
        &bob,
        &[
            "request",
            "create",
            "--workspace",
            "acme",
            "--role",
            "owner",
            "--duration",
            "3h",
            "--justification",
            "on call",
        ],
    );
    let slow = id(&slow);
    // Owner requests wait for the owners (here the admin), not for a manager such as mia.
    let tasks = s.ok_as(&mia, &["task", "list"]);
    assert!(!tasks.lines().any(|l| l.starts_with(&slow)), "{tasks}");
    let tasks = s.ok(&["task", "list"]);
    let line = tasks.lines().find(|l| l.starts_with(&slow)).unwrap_or_else(|| panic!("{tasks}"));
    assert!(!line.contains("EMERGENCY"), "{tasks}");
    let (code, _) = failure(&s.run_as(&mia, &["task", "escalate", &slow]));
    assert_eq!(code, 1, "only the requester escalates");
    let escalated = s.json_as(&bob, &["task", "escalate", &slow]);
    assert_eq!(
        (escalated["state"].as_str(), escalated["emergency"].as_bool()),
        (Some("granted"), Some(true))
    );
    assert_eq!(escalated["duration"].as_str(), Some("1h"), "{escalated}");
    assert!(escalated["escalated_at"].is_string());
    assert_eq!(check("owner", None).status.code(), Some(0));
    assert_eq!(items(&s.json_as(&mia, &["review", "list"])).len(), 1);

    // Under a four-eyes policy a manager's assignment becomes a request carrying their approval.
    let four_eyes =
        s.json(&["policy", "create", "four eyes", "--workspace", "acme", "--step", "2:workspace_managers"]);
    let four_eyes = id(&four_eyes);
    let updated = s.json(&["policy", "update", &four_eyes, "--max-duration", "8h"]);
    assert_eq!(
        (updated["max_duration"].as_str(), updated["steps"][0]["count"].as_u64()),
        (Some("8h"), Some(2))
    );
    s.ok(&["entitlement", "set", "acme", "member", "--policy", &four_eyes]);
    let out = s.ok_as(
        &mia,
        &[
            "member",
            "add",
            "acme",
            "carl@example.com",
            "--role",
            "member",
            "--expires-in",
            "4h",
            "--justification",
            "new hire",
        ],
    );
    assert!(out.starts_with("Not assigned yet: "), "{out}");
    assert!(out.contains("is waiting for 1 more approval."), "{out}");
    let waiting = s.json_as(&mia, &["request", "list", "--all", "--state", "pending", "--workspace", "acme"]);
    let waiting = items(&waiting)
        .iter()
        .find(|r| r["user"] == "carl@example.com")
        .unwrap_or_else(|| panic!("{waiting}"))
        .clone();
    assert!(out.contains(&id(&waiting)), "{out}");
    assert_eq!(waiting["approvals"][0]["by"], "mia@example.com");
    let member = |user: &str| s.run(&["check", "--user", user, "--workspace", "acme", "--role", "member"]);
    assert_eq!(member("carl@example.com").status.code(), Some(3));
    s.ok(&["task", "approve", &id(&waiting)]);
    assert_eq!(member("carl@example.com").status.code(), Some(0));

    assert!(s.ok(&["audit", "verify"]).starts_with("ok: "));
}

/// The identifiers of a JSON list of workspaces.
fn identifiers(value: &Value) -> Vec<&str> {
    items(value).iter().map(|w| w["identifier"].as_str().unwrap()).collect()
}

/// The first line of a table that starts with `first` (its first cell), or a panic showing the
/// table.
fn row<'a>(table: &'a str, first: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in:\n{table}"))
}

#[test]
fn settings_registration_and_the_workspace_lifecycle_through_the_cli() {
    let s = Server::start();
    let rita = s.user("rita@example.com");

    // Settings: every field shown; a change keeps the others; only admins change them.
    let before = s.json(&["settings", "show"]);
    assert!(before.as_object().unwrap().values().all(|v| !v.is_null()), "{before}");
    let after =
        s.json(&["settings", "set", "--workspace-registration", "approval", "--invitation-ttl-days", "3"]);
    assert_eq!(
        (after["workspace_registration"].as_str(), after["invitation_ttl_days"].as_u64()),
        (Some("approval"), Some(3))
    );
    assert_eq!(after["default_project_quota"], before["default_project_quota"]);
    assert!(s
        .ok(&["settings", "show"])
        .lines()
        .any(|l| l.starts_with("workspace registration:") && l.ends_with(" approval")));
    let (code, line) = failure(&s.run_as(&rita, &["settings", "set", "--signup", "open"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: authz."), "{line}");

    // A registration waits for the admin area, which approves it.
    let out = s.ok_as(&rita, &["workspace", "register", "rita-lab", "--name", "Rita's lab"]);
    assert!(out.starts_with("Registered rita-lab: it waits for approval by the admin area.\n"), "{out}");
    assert_eq!(identifiers(&s.json(&["workspace", "pending"])), ["rita-lab"]);
    assert!(row(&s.ok(&["workspace", "pending"]), "rita-lab").contains(" pending_approval "));
    let approved = s.json(&["workspace", "approve", "rita-lab", "--reason", "known team"]);
    assert_eq!(approved["status"], "active");
    assert!(items(&s.json(&["workspace", "pending"])).is_empty());
    assert_eq!(identifiers(&s.json(&["workspace", "list", "--status", "active"])), ["rita-lab"]);
    let (code, line) = failure(&s.run(&["workspace", "approve", "rita-lab"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: workspace.not_pending: "), "{line}");

    // The owner renames it; the admin area sets its quota, disables and enables it.
    let renamed = s.json_as(&rita, &["workspace", "rename", "rita-lab", "Rita's Lab"]);
    assert_eq!(
        (renamed["identifier"].as_str(), renamed["name"].as_str()),
        (Some("rita-lab"), Some("Rita's Lab"))
    );
    assert_eq!(s.json(&["workspace", "quota", "rita-lab", "1"])["project_quota"], 1);
    s.ok_as(&rita, &["project", "create", "rita-lab", "web", "--name", "Web"]);
    let (_, line) = failure(&s.run_as(&rita, &["project", "create", "rita-lab", "api", "--name", "API"]));
    assert!(line.starts_with("error: workspace.quota_exceeded: "), "{line}");
    let (code, _) = failure(&s.run_as(&rita, &["workspace", "quota", "rita-lab", "5"]));
    assert_eq!(code, 1, "only the admin area sets quotas");

    let owner =
        || s.run(&["check", "--user", "rita@example.com", "--workspace", "rita-lab", "--role", "owner"]);
    assert_eq!(owner().status.code(), Some(0));
    let disabled = s.ok(&["workspace", "disable", "rita-lab", "--reason", "unpaid"]);
    assert!(disabled.lines().any(|l| l.starts_with("status:") && l.ends_with(" disabled")), "{disabled}");
    assert_eq!(owner().status.code(), Some(3), "a disabled workspace denies every check");
    assert_eq!(identifiers(&s.json(&["workspace", "list", "--status", "disabled"])), ["rita-lab"]);
    assert_eq!(s.json(&["workspace", "enable", "rita-lab"])["status"], "active");
    assert_eq!(owner().status.code(), Some(0));

    // Rejected registrations; closed registration.
    s.ok_as(&rita, &["workspace", "register", "rita-spam", "--name", "Spam"]);
    assert_eq!(s.json(&["workspace", "reject", "rita-spam", "--reason", "duplicate"])["status"], "rejected");
    assert_eq!(identifiers(&s.json(&["workspace", "list", "--status", "rejected"])), ["rita-spam"]);
    s.ok(&["settings", "set", "--workspace-registration", "closed"]);
    let (code, line) = failure(&s.run_as(&rita, &["workspace", "register", "rita-two", "--name", "Two"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: workspace.registration_closed: "), "{line}");
    s.ok(&["settings", "set", "--workspace-registration", "open"]);
    let out = s.ok_as(&rita, &["workspace", "register", "rita-two", "--name", "Two"]);
    assert!(out.starts_with("Registered rita-two: it is active and you own it.\n"), "{out}");

    let history = s.json(&["history", "rita-lab", "--all"]);
    let types: Vec<&str> = items(&history).iter().map(|e| e["type"].as_str().unwrap()).collect();
    for ty in [
        "WORKSPACE_REGISTERED",
        "WORKSPACE_APPROVED",
        "WORKSPACE_UPDATED",
        "WORKSPACE_QUOTA_EDITED",
        "WORKSPACE_STATUS_CHANGED",
    ] {
        assert!(types.contains(&ty), "{ty} missing from {types:?}");
    }
    assert!(s.ok(&["audit", "verify"]).starts_with("ok: "));
}

#[test]
fn invitations_add_myself_and_messages_through_the_cli() {
    let s = Server::start();
    let rita = s.user("rita@example.com");
    s.ok(&["workspace", "create", "acme", "--name", "Acme"]); // the admin owns it
    s.ok(&["settings", "set", "--signup", "invited_only"]);

    // Invite an e-mail without an account; they sign up with it and accept.
    let inv = s.json(&[
        "invitation",
        "create",
        "acme",
        "newbie@example.com",
        "--role",
        "member",
        "--expires-in",
        "30d",
    ]);
    assert_eq!((inv["state"].as_str(), inv["role"].as_str()), (Some("pending"), Some("member")));
    assert!(inv["membership_expires_at"].is_string(), "{inv}");
    let invitation = id(&inv);
    // The secret comes once, with the answer that created the invitation; lists never show it.
    let secret = inv["token"].as_str().unwrap_or_else(|| panic!("no token in {inv}")).to_owned();
    assert!(secret.len() > 20, "{secret}");
    let list = s.ok(&["invitation", "list", "acme"]);
    assert!(row(&list, &invitation).contains(" newbie@example.com "));
    assert!(!list.contains(&secret), "{list}");
    let listed = s.json(&["invitation", "list", "acme"]);
    assert!(items(&listed).iter().all(|i| i.get("token").is_none()), "{listed}");

    // Sign-up is invited-only: it needs the invitation's secret, not just the invited address.
    let password = "correct horse battery staple";
    for (who, token) in [
        ("stranger@example.com", None),
        ("stranger@example.com", Some(secret.as_str())),
        ("newbie@example.com", None),
        ("newbie@example.com", Some("bgi_guessed")),
    ] {
        let (code, line) = failure(&s.signup(who, password, token));
        assert_eq!(code, 1, "{who} {token:?}");
        assert!(line.starts_with("error: auth.signup_closed: "), "{who} {token:?}: {line}");
    }
    let out = s.signup("newbie@example.com", password, Some(&secret));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = text(&out.stdout);
    assert!(out.starts_with("# Signed up and signed in as newbie@example.com until "), "{out}");
    assert!(out.contains("\n# 1 invitation waiting for you: breakglass invitation mine\n"), "{out}");
    let newbie = out
        .lines()
        .find_map(|l| l.strip_prefix("export BREAKGLASS_TOKEN="))
        .expect("an export line")
        .to_owned();

    let mine = s.json_as(&newbie, &["invitation", "mine"]);
    assert_eq!(items(&mine).iter().map(id).collect::<Vec<_>>(), std::slice::from_ref(&invitation));
    // Accepting needs the secret too: without it is a usage error, a wrong one is refused.
    let out = s.run_as(&newbie, &["invitation", "accept", &invitation]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let (code, line) =
        failure(&s.run_as(&newbie, &["invitation", "accept", &invitation, "--invitation-token", "bgi_x"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: invitation.invalid_token: "), "{line}");
    assert_eq!(items(&s.json_as(&newbie, &["invitation", "mine"])).len(), 1, "still pending");
    let accepted = s.ok_as(&newbie, &["invitation", "accept", &invitation, "--invitation-token", &secret]);
    assert!(accepted.starts_with("Accepted: you are member of acme until "), "{accepted}");
    assert!(!accepted.contains(&secret), "{accepted}");
    assert!(items(&s.json_as(&newbie, &["invitation", "mine"])).is_empty());
    assert!(row(&s.ok(&["member", "list", "acme"]), "newbie@example.com").contains(" member "));

    // In table output a new invitation shows its secret once, with how to pass it on.
    let created = s.ok(&["invitation", "create", "acme", "later@example.com", "--role", "manager"]);
    assert!(created.contains("Pass it on to later@example.com yourself:\n\n    bgi_"), "{created}");
    assert!(created.contains(" --invitation-token SECRET\n"), "{created}");
    let later = created
        .lines()
        .find_map(|l| l.strip_prefix("invitation:"))
        .unwrap_or_else(|| panic!("no id in {created}"))
        .trim()
        .to_owned();

    // Cancel one invitation; the invitee declines another.
    assert_eq!(s.ok(&["invitation", "cancel", &later]), format!("Cancelled invitation {later}.\n"));
    let declined = id(&s.json(&["invitation", "create", "acme", "rita@example.com", "--role", "member"]));
    assert_eq!(s.json_as(&rita, &["invitation", "decline", &declined])["state"], "declined");
    let list = s.ok(&["invitation", "list", "acme"]);
    assert!(row(&list, &later).contains(" cancelled "), "{list}");
    assert!(row(&list, &declined).contains(" declined "), "{list}");

    // An admin-area employee adds themselves for a while, then leaves.
    let emma = s.user_with("emma@example.com", &["--admin-role", "employee"]);
    let (code, line) = failure(&s.run_as(&emma, &["member", "add-myself", "acme", "--expires-in", "30d"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: add_myself.expiry_too_long: "), "{line}");
    let (code, _) = failure(&s.run_as(&rita, &["member", "add-myself", "acme"]));
    assert_eq!(code, 1, "only the admin area adds itself");
    let b = s.json_as(&emma, &["member", "add-myself", "acme", "--expires-in", "2h"]);
    assert_eq!((b["user"].as_str(), b["role"].as_str()), (Some("emma@example.com"), Some("manager")));
    assert!(b["expires_at"].is_string(), "{b}");
    let manager =
        || s.run(&["check", "--user", "emma@example.com", "--workspace", "acme", "--role", "manager"]);
    assert_eq!(manager().status.code(), Some(0));
    assert!(!row(&s.ok(&["member", "list", "acme"]), "emma@example.com").contains(" never "));
    assert_eq!(s.ok_as(&emma, &["member", "leave", "acme"]), "You left acme.\n");
    assert_eq!(manager().status.code(), Some(3));

    // A single-read message: gone for everyone once one recipient acknowledges it.
    s.ok(&["member", "add", "acme", "rita@example.com", "--role", "member"]);
    let m = s.json(&["message", "send", "acme", "--mode", "single_read", "Rotate the deploy keys"]);
    let message = id(&m);
    assert!(row(&s.ok_as(&rita, &["message", "inbox"]), &message).ends_with("Rotate the deploy keys"));
    assert_eq!(items(&s.json_as(&newbie, &["message", "inbox"])).len(), 1);
    assert_eq!(s.ok_as(&rita, &["message", "ack", &message]), format!("Acknowledged message {message}.\n"));
    assert!(items(&s.json_as(&rita, &["message", "inbox"])).is_empty());
    assert!(
        items(&s.json_as(&newbie, &["message", "inbox"])).is_empty(),
        "single_read: read by one, gone for all"
    );
    let sent = s.json(&["message", "list", "acme"]);
    assert_eq!(items(&sent)[0]["acknowledgements"][0]["user"], "rita@example.com");
    assert!(row(&s.ok(&["message", "list", "acme"]), &message).contains(" rita@example.com "));

    assert!(s.ok(&["audit", "verify"]).starts_with("ok: "));
}

#[test]
fn tags_through_the_cli() {
    let s = Server::start();
    s.ok(&["workspace", "create", "acme", "--name", "Acme"]);

    // A mandatory workspace tag with a default: new workspaces get it.
    let def = s.json(&[
        "tag",
        "define",
        "cost-center",
        "--target",
        "workspace",
        "--pattern",
        "[0-9]{4}",
        "--mandatory",
        "--default",
        "0000",
    ]);
    assert_eq!((def["mandatory"].as_bool(), def["default"].as_str()), (Some(true), Some("0000")));
    s.ok(&["tag", "define", "env", "--target", "project", "--value", "dev", "--value", "prod"]);
    let list = s.ok(&["tag", "list"]);
    assert!(row(&list, "cost-center").contains("matching [0-9]{4}"), "{list}");
    assert!(row(&list, "env").contains("dev | prod"), "{list}");

    let beta = s.json(&["workspace", "create", "beta", "--name", "Beta"]);
    assert_eq!(beta["tags"]["cost-center"], "0000");
    let gamma = s.json(&["workspace", "create", "gamma", "--name", "Gamma", "--tag", "cost-center=4711"]);
    assert_eq!(gamma["tags"]["cost-center"], "4711");
    assert!(row(&s.ok(&["workspace", "list"]), "beta").contains(" cost-center=0000 "));

    assert_eq!(s.json(&["tag", "set", "beta", "cost-center", "1234"])["tags"]["cost-center"], "1234");
    let (code, line) = failure(&s.run(&["tag", "set", "beta", "cost-center", "abc"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: tag."), "{line}");
    let (code, line) = failure(&s.run(&["tag", "unset", "beta", "cost-center"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: tag.mandatory: "), "{line}");

    assert_eq!(identifiers(&s.json(&["workspace", "list", "--tag", "cost-center:4711"])), ["gamma"]);
    assert_eq!(identifiers(&s.json(&["workspace", "list", "--tag", "cost-center=1234"])), ["beta"]);
    let tagged = s.json(&["workspace", "list", "--tag", "cost-center"]);
    assert!(identifiers(&tagged).contains(&"beta") && identifiers(&tagged).contains(&"gamma"), "{tagged}");

    // Project tags.
    let web = s.json(&["project", "create", "beta", "web", "--name", "Web", "--tag", "env=prod"]);
    assert_eq!(web["tags"]["env"], "prod");
    s.ok(&["project", "create", "beta", "api", "--name", "API"]);
    let prod = s.json(&["project", "list", "beta", "--tag", "env:prod"]);
    assert_eq!(items(&prod).iter().map(|p| p["identifier"].as_str().unwrap()).collect::<Vec<_>>(), ["web"]);
    assert!(row(&s.ok(&["project", "list", "beta"]), "web").contains(" env=prod "));
    assert_eq!(s.json(&["tag", "set", "beta", "--project", "api", "env", "dev"])["tags"]["env"], "dev");
    let (code, _) = failure(&s.run(&["tag", "set", "beta", "--project", "api", "env", "staging"]));
    assert_eq!(code, 1, "not an allowed value");
    let unset = s.json(&["tag", "unset", "beta", "--project", "web", "env"]);
    assert!(unset["tags"].as_object().unwrap().is_empty(), "{unset}");
    assert_eq!(s.ok(&["tag", "remove", "env"]), "Removed the definition of tag env.\n");
    assert!(!s.ok(&["tag", "list"]).contains("env "));

    assert!(s.ok(&["audit", "verify"]).starts_with("ok: "));
}

#[test]
fn platforms_tenants_and_service_users_through_the_cli() {
    let s = Server::start();
    let dev = s.user("dev@example.com");
    let mia = s.user("mia@example.com");
    s.ok(&["workspace", "create", "acme", "--name", "Acme"]);
    s.ok(&["project", "create", "acme", "web", "--name", "Web"]);
    s.ok(&["member", "add", "acme", "mia@example.com", "--role", "manager"]);
    s.ok(&["member", "add", "acme", "dev@example.com", "--project", "web", "--role", "user"]);

    // The admin registers a platform; everyone sees it; nobody else registers one.
    let p = s.json(&["platform", "register", "aws-prod", "--kind", "aws", "--name", "AWS production"]);
    assert_eq!((p["identifier"].as_str(), p["kind"].as_str()), (Some("aws-prod"), Some("aws")));
    assert!(row(&s.ok_as(&dev, &["platform", "list"]), "aws-prod").contains(" aws "));
    let (code, line) =
        failure(&s.run_as(&dev, &["platform", "register", "gcp", "--kind", "gcp", "--name", "G"]));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: authz.forbidden: "), "{line}");

    // A manager gives the project a tenant; the developer sees it.
    let tenant = ["--workspace", "acme", "--project", "web", "--platform", "aws-prod"];
    let created =
        s.ok_as(&mia, &[&["tenant", "create"][..], &tenant, &["--external-id", "123456789012"]].concat());
    assert!(created.contains("123456789012") && created.contains("aws-prod (aws)"), "{created}");
    let listed = s.ok_as(&dev, &["tenant", "list", "--workspace", "acme", "--project", "web"]);
    assert!(row(&listed, "aws-prod").contains(" 123456789012 "), "{listed}");

    // The developer, assigned to the project, creates service users: the secret comes once,
    // with a warning in table output and as `secret` in JSON.
    let out = s.ok_as(&dev, &[&["service-user", "create"][..], &tenant, &["deploy bot"]].concat());
    assert!(out.contains("cannot be shown again"), "{out}");
    let secret = out.lines().map(str::trim).find(|l| l.starts_with("bgu_")).expect("the secret").to_owned();
    assert_eq!(out.matches(secret.as_str()).count(), 1, "{out}");
    assert!(out.contains("client id:") && out.contains("svc-"), "{out}");
    let backup = s.json_as(&dev, &[&["service-user", "create"][..], &tenant, &["backup"]].concat());
    let backup_secret = backup["secret"].as_str().expect("a secret").to_owned();
    assert!(backup_secret.starts_with("bgu_"));
    let backup_id = id(&backup);

    let list = s.ok_as(&mia, &[&["service-user", "list"][..], &tenant].concat());
    assert!(row(&list, &backup_id).contains(" backup "), "{list}");
    assert!(!list.contains(&secret) && !list.contains(&backup_secret), "{list}");
    let listed = s.json_as(&dev, &[&["service-user", "list"][..], &tenant].concat());
    assert_eq!(items(&listed).len(), 2);
    assert!(items(&listed).iter().all(|u| u.get("secret").is_none()), "{listed}");

    // Deleting once works; a second time, it is gone.
    let deleted = s.ok_as(&dev, &[&["service-user", "delete"][..], &tenant, &[backup_id.as_str()]].concat());
    assert_eq!(deleted, format!("Deleted service user {backup_id}.\n"));
    let (code, line) =
        failure(&s.run_as(&dev, &[&["service-user", "delete"][..], &tenant, &[backup_id.as_str()]].concat()));
    assert_eq!(code, 1);
    assert!(line.starts_with("error: service_user.not_found: "), "{line}");
    assert_eq!(items(&s.json_as(&dev, &[&["service-user", "list"][..], &tenant].concat())).len(), 1);

    // The project's history tells the story, without a secret.
    let history = s.json(&["history", "acme", "--project", "web", "--all"]);
    let types: Vec<&str> = items(&history).iter().map(|e| e["type"].as_str().unwrap()).collect();
    for ty in ["TENANT_CREATED", "SERVICE_USER_CREATED", "SERVICE_USER_DELETED"] {
        assert!(types.contains(&ty), "no {ty} in {types:?}");
    }
    let text = history.to_string();
    assert!(!text.contains(&secret) && !text.contains(&backup_secret));
    assert!(s.ok(&["audit", "verify"]).starts_with("ok: "));
}

#[test]
fn audit_verify_holds_the_log_against_a_shipped_copy_of_its_checkpoints() {
    let s = Server::start();
    s.ok(&["user", "create", "zed@example.com", "--name", "Zed"]);
    s.ok(&["user", "create", "amy@example.com", "--name", "Amy"]);
    let head = s.json(&["health"])["seq"].as_i64().unwrap();
    // The server writes a checkpoint within a second of its head moving.
    let file = s.dir.join("audit-checkpoints.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    let last = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let last: Option<Value> = text.lines().last().and_then(|l| serde_json::from_str(l).ok());
        if let Some(last) = last.filter(|l| l["seq"].as_i64() == Some(head)) {
            break last;
        }
        assert!(Instant::now() < deadline, "no checkpoint of seq {head} in {}", file.display());
        std::thread::sleep(Duration::from_millis(100));
    };
    let key = last["key"].as_str().unwrap().to_owned();
    // An operator ships the file off the machine...
    let shipped = std::env::temp_dir().join(format!("shipped-{}-{head}.jsonl", std::process::id()));
    std::fs::copy(&file, &shipped).unwrap();
    let shipped_arg = shipped.to_str().unwrap();
    let ok = s.ok(&["audit", "verify", "--checkpoints", shipped_arg, "--key", &key]);
    assert!(ok.starts_with("ok: "), "{ok}");
    let (code, line) =
        failure(&s.run(&["audit", "verify", "--checkpoints", shipped_arg, "--key", &"ab".repeat(32)]));
    assert_eq!(code, 2);
    assert!(line.contains("signed by"), "{line}");
    // ...and someone with the database file deletes the newest event.
    let db = rusqlite::Connection::open(s.dir.join("breakglass.db")).unwrap();
    db.execute_batch(&format!(
        "DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq = {head};"
    ))
    .unwrap();
    drop(db);
    let (code, line) = failure(&s.run(&["audit", "verify", "--checkpoints", shipped_arg, "--key", &key]));
    assert_eq!(code, 1);
    assert!(line.contains("truncated"), "{line}");
    let _ = std::fs::remove_file(&shipped);
}
