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
        let out = self.run(&[&["-o", "json"], args].concat());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }

    /// Runs `args`, expecting success, and returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
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
