//! The binary's contract without a server: usage errors, exit codes, one-line errors, help.

use std::process::{Command, Output};

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
