//! The binary's contract: usage errors, exit codes, one-line errors and help without a server;
//! delegation (`--as`, `access`) and scoped tokens against a live `breakglass serve`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Runs `breakglass` with `args`, with none of the `BREAKGLASS_*` settings of the environment.
fn breakglass(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_breakglass"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BREAKGLASS_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args).output().expect("run breakglass")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_lists_the_nouns() {
    let out = breakglass(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for noun in [
        "serve",
        "migrate",
        "login",
        "signup",
        "logout",
        "me",
        "user",
        "token",
        "access",
        "workspace",
        "project",
        "member",
        "invitation",
        "tag",
        "message",
        "settings",
        "grant",
        "policy",
        "entitlement",
        "request",
        "task",
        "review",
        "check",
        "audit",
        "history",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(&format!("{noun} "))),
            "{noun} missing from:\n{help}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["workspace"][..],
        &["workspace", "create", "acme"][..],
        &["check", "--user", "a@x.io", "--workspace", "acme"][..],
        &["-o", "yaml", "me"][..],
        &["audit", "list", "--project", "web"][..],
        &["serve", "--listen", "not-an-address"][..],
        &["grant", "create", "a@x.io", "--workspace", "acme", "--role", "user"][..],
        &["policy", "create", "p", "--step", "2:"][..],
        &["policy", "create", "p", "--step", "0:admin_area"][..],
        &["policy", "update", "p1", "--no-steps", "--step", "1:admin_area"][..],
        &["entitlement", "set", "acme", "owner", "--emergency", "--no-emergency"][..],
        &["request", "create", "--workspace", "acme", "--role", "owner"][..],
        &["task", "deny", "r1"][..],
        &["review", "complete", "v1", "--outcome", "maybe"][..],
        &["workspace", "register", "acme"][..],
        &["workspace", "create", "acme", "--name", "A", "--member", "bob@x.io"][..],
        &["workspace", "create", "acme", "--name", "A", "--tag", "cost-center"][..],
        &["workspace", "list", "--status", "archived"][..],
        &["workspace", "quota", "acme"][..],
        &["workspace", "approve"][..],
        &["member", "leave"][..],
        &["invitation", "create", "acme", "a@x.io"][..],
        &["invitation", "accept"][..],
        &["invitation", "accept", "i1"][..],
        &["tag", "define", "env"][..],
        &["tag", "define", "env", "--target", "workspace", "--value", "a", "--pattern", "[a-z]+"][..],
        &["tag", "set", "acme", "env"][..],
        &["message", "send", "acme", "--mode", "twice", "hi"][..],
        &["settings", "set"][..],
        &["settings", "set", "--workspace-registration", "maybe"][..],
        &["settings", "set", "--restrict-admin-role-assignment", "yes"][..],
        &["signup", "--name", "Al"][..],
        &["--as"][..],
        &["--as", "a@x.io\tb", "me"][..],
        &["token", "create", "ci", "--scope"][..],
        &["access"][..],
        &["access", "create", "--name", "n", "--kind", "robot"][..],
        &["access", "create", "--kind", "delegate", "--recipient", "a@x.io"][..],
        &["access", "accept", "a1"][..],
        &["access", "share", "a1"][..],
        &["access", "revoke"][..],
    ] {
        let out = breakglass(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_bad_policy_step_says_how_to_write_one() {
    let out = breakglass(&["policy", "create", "p", "--step", "two:workspace_managers"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("COUNT:SET") && err.contains("2:workspace_managers"), "{err}");
}

#[test]
fn expires_in_and_expires_at_together_exit_2() {
    for args in [
        &["token", "create", "ci", "--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z"][..],
        &[
            "member",
            "add",
            "acme",
            "a@x.io",
            "--role",
            "member",
            "--expires-in",
            "1h",
            "--expires-at",
            "2030-01-01T00:00:00Z",
        ][..],
        &[
            "grant",
            "create",
            "a@x.io",
            "--workspace",
            "acme",
            "--role",
            "owner",
            "--expires-in",
            "1h",
            "--expires-at",
            "2030-01-01T00:00:00Z",
        ][..],
    ] {
        let out = breakglass(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
    }
}

#[test]
fn a_tag_given_twice_is_a_usage_error_before_any_call() {
    for args in [
        &["workspace", "register", "acme", "--name", "A", "--tag", "a=1", "--tag", "a=2"][..],
        &["project", "create", "acme", "web", "--name", "Web", "--tag", "a=1", "--tag", "a=1"][..],
    ] {
        let mut full = vec!["--server", "http://127.0.0.1:1"];
        full.extend_from_slice(args);
        let out = breakglass(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&out), "error: --tag a: given more than once\n");
    }
}

#[test]
fn signup_without_a_password_source_is_a_usage_error() {
    let out = breakglass(&["--server", "http://127.0.0.1:1", "signup", "--email", "a@x.io", "--name", "Al"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--password-stdin") && err.contains("BREAKGLASS_PASSWORD"));
}

#[test]
fn login_without_a_password_source_is_a_usage_error() {
    let out = breakglass(&["--server", "http://127.0.0.1:1", "login", "--email", "a@x.io"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--password-stdin") && err.contains("BREAKGLASS_PASSWORD"));
}

#[test]
fn a_bad_server_url_is_a_usage_error() {
    let out = breakglass(&["--server", "not a url", "me"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn an_unreachable_server_exits_1_with_one_line() {
    for args in [
        &["me"][..],
        &["-o", "json", "workspace", "list"][..],
        &["check", "--user", "a@x.io", "--workspace", "acme", "--role", "member"][..],
        &["audit", "verify"][..],
        &["workspace", "pending"][..],
        &["settings", "show"][..],
        &["message", "inbox"][..],
        &["-o", "json", "invitation", "mine"][..],
        &["--as", "olga@x.io", "workspace", "list"][..],
        &["access", "received"][..],
        &["token", "create", "ci", "--scope", "acme", "--read-only"][..],
    ] {
        let mut full = vec!["--server", "http://127.0.0.1:1", "--token", "sekrit"];
        full.extend_from_slice(args);
        let out = breakglass(&full);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: cannot reach http://127.0.0.1:1: "), "{err}");
        assert!(!err.contains("sekrit"));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn the_token_from_the_environment_is_not_shown_in_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .env("BREAKGLASS_TOKEN", "sekrit")
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!stdout(&out).contains("sekrit"));
}

#[test]
fn access_flags_that_do_not_fit_the_kind_are_usage_errors_before_any_call() {
    for (args, want) in [
        (
            &[
                "access",
                "create",
                "--name",
                "n",
                "--kind",
                "delegate",
                "--recipient",
                "a@x.io",
                "--read-only",
            ][..],
            "error: --read-only applies to --kind api_token",
        ),
        (&["access", "create", "--name", "n", "--kind", "delegate"][..], "error: --kind delegate needs"),
        (
            &["access", "create", "--name", "n", "--kind", "api_token", "--recipient", "a@x.io"][..],
            "error: --recipient applies to --kind delegate",
        ),
    ] {
        let mut full = vec!["--server", "http://127.0.0.1:1", "--token", "t"];
        full.extend_from_slice(args);
        let out = breakglass(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
    }
}

// ---- against a live server ----

const ADMIN_TOKEN: &str = "bg-test-admin-token-0123456789";

/// A `breakglass serve` child process in a fresh data directory, stopped and cleaned up on drop.
struct Server {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("breakglass-cli-as-{}-{nanos}", std::process::id()));
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
        while server.run(ADMIN_TOKEN, &["health"]).status.code() != Some(0) {
            assert!(Instant::now() < deadline, "the server did not come up at {}", server.url);
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `breakglass --server URL --token TOKEN args...`
    fn run(&self, token: &str, args: &[&str]) -> Output {
        self.command(token).args(args).output().expect("run breakglass")
    }

    /// The command with server and token set, nothing on standard input.
    fn command(&self, token: &str) -> Command {
        let mut cmd = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")));
        cmd.args(["--server", &self.url, "--token", token]).stdin(Stdio::null());
        cmd
    }

    /// Runs `args`, expecting success, and returns standard output.
    fn ok(&self, token: &str, args: &[&str]) -> String {
        let out = self.run(token, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Runs `args` with `-o json`, expecting success, and parses the output.
    fn json(&self, token: &str, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(token, &[&["-o", "json"], args].concat())).expect("JSON output")
    }

    /// Runs `args`, expecting exit 1 with one line on standard error, and returns that line.
    fn refused(&self, token: &str, args: &[&str]) -> String {
        let out = self.run(token, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "expected one line on stderr, got:\n{err}");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        err.trim_end().to_owned()
    }

    /// Creates a user with a password (as the admin) and signs them in; returns their session.
    fn user(&self, email: &str) -> String {
        use std::io::Write;
        let password = format!("correct horse battery {email}");
        let mut child = self
            .command(ADMIN_TOKEN)
            .args(["user", "create", email, "--name", email, "--password-stdin"])
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
        assert_eq!(login.status.code(), Some(0), "login {email}: {}", stderr(&login));
        let session: Value = serde_json::from_slice(&login.stdout).unwrap();
        session["token"].as_str().unwrap().to_owned()
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

/// A string field of a JSON answer.
fn field(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_else(|| panic!("no {key} in {value}")).to_owned()
}

/// The workspace identifiers of a `workspace list -o json`.
fn workspaces(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().filter_map(|w| w["identifier"].as_str()).collect()
}

#[test]
fn a_delegate_signs_up_with_the_code_accepts_and_acts_as_the_owner_until_revoked() {
    let s = Server::start();
    let olga = s.user("olga@example.com");
    s.ok(ADMIN_TOKEN, &["workspace", "create", "acme", "--name", "Acme", "--owner", "olga@example.com"]);
    s.ok(ADMIN_TOKEN, &["workspace", "create", "beta", "--name", "Beta", "--owner", "olga@example.com"]);
    s.ok(ADMIN_TOKEN, &["settings", "set", "--signup", "invited_only"]);

    // Olga delegates acme to an address without an account; each code is shown once.
    let created = s.json(
        &olga,
        &[
            "access",
            "create",
            "--name",
            "holiday",
            "--kind",
            "delegate",
            "--scope",
            "acme",
            "--expires-in",
            "14d",
            "--recipient",
            "dave@example.com",
        ],
    );
    let access = field(&created, "id");
    assert_eq!((created["kind"].as_str(), created["scope"].as_str()), (Some("delegate"), Some("acme")));
    assert_eq!(created["codes"][0]["email"], "dave@example.com");
    let code = field(&created["codes"][0], "code");
    let list = s.ok(&olga, &["access", "list"]);
    assert!(list.contains(" holiday ") && list.contains("dave@example.com (pending)"), "{list}");
    assert!(!list.contains(&code), "lists never show codes: {list}");

    // Sharing with one more person prints their code once, with how to use it.
    let shared = s.ok(&olga, &["access", "share", &access, "erin@example.com"]);
    assert!(shared.contains("shown only this once and cannot be shown again"), "{shared}");
    assert!(shared.contains("they need it to accept"), "{shared}");
    assert!(shared.contains("\n    bga_"), "{shared}");
    assert!(shared.contains(&format!("breakglass access accept {access} --code CODE")), "{shared}");
    assert_eq!(
        s.ok(&olga, &["access", "unshare", &access, "erin@example.com"]),
        format!("Stopped sharing access {access} with erin@example.com.\n")
    );

    // Sign-up is invited-only: the access code serves as the invitation token.
    let signup = clean(Command::new(env!("CARGO_BIN_EXE_breakglass")))
        .args(["--server", &s.url, "signup", "--email", "dave@example.com", "--name", "Dave"])
        .args(["--invitation-token", &code])
        .env("BREAKGLASS_PASSWORD", "correct horse battery staple")
        .output()
        .unwrap();
    assert_eq!(signup.status.code(), Some(0), "{}", stderr(&signup));
    let out = stdout(&signup);
    assert!(out.contains("\n# 1 delegate access shared with you waits for an answer: "), "{out}");
    let dave = out
        .lines()
        .find_map(|l| l.strip_prefix("export BREAKGLASS_TOKEN="))
        .unwrap_or_else(|| panic!("no export line in {out}"))
        .to_owned();

    // Before accepting, acting as Olga is refused.
    let line = s.refused(&dave, &["--as", "olga@example.com", "workspace", "list"]);
    assert!(line.starts_with("error: delegation.not_granted: "), "{line}");
    let received = s.ok(&dave, &["access", "received"]);
    assert!(received.lines().nth(1).unwrap_or_default().ends_with(" pending"), "{received}");
    let line = s.refused(&dave, &["access", "accept", &access, "--code", "bga_guessed"]);
    assert!(line.starts_with("error: access.invalid_code: "), "{line}");
    let accepted = s.ok(&dave, &["access", "accept", &access, "--code", &code]);
    assert!(
        accepted.starts_with("Accepted: you may act as olga@example.com (workspace acme) until "),
        "{accepted}"
    );

    // Dave alone sees nothing; as Olga he works in acme (and only there).
    assert!(workspaces(&s.json(&dave, &["workspace", "list"])).is_empty());
    let me = s.ok(&dave, &["--as", "olga@example.com", "whoami"]);
    assert!(
        me.starts_with(
            "Acting as olga@example.com (you are dave@example.com).\nLimited to: workspace acme.\n"
        ),
        "{me}"
    );
    let listed = s.json(&dave, &["--as", "olga@example.com", "workspace", "list"]);
    assert_eq!(workspaces(&listed), ["acme"]);
    s.ok(&dave, &["--as", "olga@example.com", "project", "create", "acme", "web", "--name", "Web"]);
    let line = s.refused(&dave, &["--as", "olga@example.com", "workspace", "show", "beta"]);
    assert!(line.starts_with("error: workspace.not_found: "), "outside the scope: {line}");
    // The environment variable works like the flag.
    let out =
        s.command(&dave).env("BREAKGLASS_ACT_AS", "olga@example.com").args(["-o", "json", "me"]).output();
    let me: Value = serde_json::from_slice(&out.unwrap().stdout).expect("JSON output");
    assert_eq!(
        (me["user"]["email"].as_str(), me["delegate"].as_str()),
        (Some("olga@example.com"), Some("dave@example.com"))
    );
    let out = s.command(&dave).env("BREAKGLASS_ACT_AS", "").arg("me").output().unwrap();
    assert!(
        stdout(&out).starts_with("Signed in as dave@example.com.\n"),
        "empty: yourself: {}",
        stderr(&out)
    );

    // Olga revokes; Dave's next call as her is refused.
    let revoked = s.ok(&olga, &["access", "revoke", &access]);
    assert!(revoked.starts_with(&format!("Revoked access {access}")), "{revoked}");
    assert_eq!(s.json(&olga, &["access", "show", &access])["status"], "revoked");
    let line = s.refused(&dave, &["--as", "olga@example.com", "workspace", "list"]);
    assert!(line.starts_with("error: delegation.not_granted: "), "{line}");
    assert!(s.ok(ADMIN_TOKEN, &["audit", "verify"]).starts_with("ok: "));
}

#[test]
fn a_scoped_read_only_token_reads_its_workspace_and_writes_nothing() {
    let s = Server::start();
    let olga = s.user("olga@example.com");
    s.ok(ADMIN_TOKEN, &["workspace", "create", "acme", "--name", "Acme", "--owner", "olga@example.com"]);
    s.ok(ADMIN_TOKEN, &["workspace", "create", "beta", "--name", "Beta", "--owner", "olga@example.com"]);

    let created =
        s.json(&olga, &["token", "create", "ci", "--scope", "acme", "--read-only", "--expires-in", "1d"]);
    assert_eq!((created["scope"].as_str(), created["read_only"].as_bool()), (Some("acme"), Some(true)));
    let ci = field(&created, "secret");
    let table = s.ok(&olga, &["token", "create", "other", "--scope", "beta"]);
    assert!(table.contains("(id ") && table.contains(", workspace beta, expires never)"), "{table}");

    assert!(s.ok(&ci, &["workspace", "show", "acme"]).contains("workspace:"));
    let me = s.ok(&ci, &["me"]);
    assert!(
        me.starts_with("Signed in as olga@example.com.\nLimited to: workspace acme, read-only.\n"),
        "{me}"
    );
    let line = s.refused(&ci, &["project", "create", "acme", "web", "--name", "Web"]);
    assert!(line.starts_with("error: token.read_only: "), "{line}");
    let line = s.refused(&ci, &["workspace", "show", "beta"]);
    assert!(line.starts_with("error: workspace.not_found: "), "outside the scope: {line}");

    let list = s.ok(&olga, &["token", "list"]);
    let header = list.lines().next().unwrap_or_default();
    assert!(
        header.contains(" SCOPE ") && header.contains(" READ-ONLY ") && header.contains(" LAST USED"),
        "{list}"
    );
    let row = list.lines().find(|l| l.contains(" ci ")).unwrap_or_else(|| panic!("no ci in {list}"));
    assert!(row.contains(" acme ") && row.contains(" yes "), "{row}");

    // An API token access: the secret is printed once, with a warning, and works like a token.
    let created = s.ok(
        &olga,
        &["access", "create", "--name", "bot", "--kind", "api_token", "--scope", "acme", "--read-only"],
    );
    assert!(created.contains("shown only this once and cannot be shown again; store it now:"), "{created}");
    let bot = created
        .lines()
        .find_map(|l| l.trim().strip_prefix("bgt_").map(|rest| format!("bgt_{rest}")))
        .unwrap_or_else(|| panic!("no secret in {created}"));
    assert!(s.ok(&bot, &["workspace", "show", "acme"]).contains("workspace:"));
    let line = s.refused(&bot, &["project", "create", "acme", "web", "--name", "Web"]);
    assert!(line.starts_with("error: token.read_only: "), "{line}");
}

#[test]
fn platforms_tenants_and_service_users_have_their_nouns_and_usage_errors() {
    let help = stdout(&breakglass(&["--help"]));
    for noun in ["platform", "tenant", "service-user"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(&format!("{noun} "))),
            "{noun} missing from:\n{help}"
        );
    }
    for args in [
        &["platform"][..],
        &["platform", "register", "aws", "--name", "AWS"][..],
        &["tenant", "create", "--workspace", "acme", "--project", "web", "--external-id", "1"][..],
        &["tenant", "list", "--project", "web"][..],
        &["service-user", "create", "--workspace", "acme", "--project", "web", "--platform", "aws"][..],
        &["service-user", "list", "--workspace", "acme", "--project", "web"][..],
        &["service-user", "delete", "--workspace", "acme", "--project", "web", "--platform", "aws"][..],
    ] {
        let mut full = vec!["--server", "http://127.0.0.1:1"];
        full.extend_from_slice(args);
        let out = breakglass(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn ssh_sign_writes_the_certificate_beside_the_key_and_krl_writes_the_list() {
    let has_keygen = Command::new("ssh-keygen").arg("-?").output().is_ok();
    if !has_keygen {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs ssh-keygen (openssh-client)");
        return;
    }
    let s = Server::start();
    let dev = s.user("dev@example.com");
    s.ok(ADMIN_TOKEN, &["workspace", "create", "acme", "--name", "Acme"]);
    s.ok(ADMIN_TOKEN, &["project", "create", "acme", "ledger", "--name", "Ledger"]);
    s.ok(ADMIN_TOKEN, &["platform", "register", "hosts", "--kind", "ssh", "--name", "Hosts"]);
    let tenant = ["--workspace", "acme", "--project", "ledger", "--platform", "hosts"];
    s.ok(ADMIN_TOKEN, &[&["tenant", "create"][..], &tenant, &["--external-id", "ledger"]].concat());
    let shown = s.ok(ADMIN_TOKEN, &["platform", "show", "hosts"]);
    for want in ["ssh-ed25519 ", "TrustedUserCAKeys ", "AuthorizedPrincipalsFile ", "RevokedKeys "] {
        assert!(shown.contains(want), "{want} in {shown}");
    }
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    s.ok(
        ADMIN_TOKEN,
        &["member", "add", "acme", "dev@example.com", "--project", "ledger", "--role", "admin"],
    );

    let key = s.dir.join("id_test");
    let made =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
    assert!(made.status.success());
    let public = format!("{}.pub", key.display());
    let text = s.ok(&dev, &[&["ssh", "sign"][..], &tenant, &["--public-key", &public]].concat());
    assert!(text.contains("principals:") && text.contains("ledger-admin"), "{text}");
    let cert = s.dir.join("id_test-cert.pub");
    let listed = Command::new("ssh-keygen").arg("-L").arg("-f").arg(&cert).output().unwrap();
    let listed = stdout(&listed);
    assert!(
        listed.contains("ledger-admin") && listed.contains("Type: ssh-ed25519-cert-v01@openssh.com user"),
        "{listed}"
    );
    let to_stdout =
        s.ok(&dev, &[&["ssh", "sign"][..], &tenant, &["--public-key", &public, "--out", "-"]].concat());
    assert!(to_stdout.starts_with("ssh-ed25519-cert-v01@openssh.com "), "{to_stdout}");

    let krl = Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(["--server", &s.url, "ssh", "krl", "--platform", "hosts"])
        .env_remove("BREAKGLASS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(krl.status.code(), Some(0), "{}", stderr(&krl));
    assert!(krl.stdout.starts_with(b"SSHKRL\n\0"), "no credential needed, OpenSSH's format");
    let missing =
        s.run(&dev, &[&["ssh", "sign"][..], &tenant, &["--public-key", "/nonexistent.pub"]].concat());
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert_eq!(stderr(&missing).lines().count(), 1);
    let line = s.refused(&dev, &["ssh", "krl", "--platform", "nope"]);
    assert!(line.starts_with("error: platform.not_found: "), "{line}");
}
