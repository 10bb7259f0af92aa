//! Failed sign-ins do not inflate memory: sixteen clients guessing passwords at once, with the
//! sign-in throttle off so that every guess is hashed, keep `breakglass serve` under 150 MB
//! resident at its peak. Before password hashing ran on a fixed pool, every guess in flight
//! held its own 19 MiB and the allocator kept it: the same attack took the server past 850 MB.

#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ADMIN_TOKEN: &str = "bg-memory-admin-token-0123456789";
const CLIENTS: usize = 16;
const GUESSES_PER_CLIENT: usize = 8;
const LIMIT_KIB: u64 = 150 * 1000;

/// A `breakglass serve` child process, stopped and its directory removed on drop.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A line of `/proc/PID/status` in KiB: `VmHWM` is the peak resident set since start.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let line = status.lines().find(|l| l.starts_with(field)).expect("field in /proc status");
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().expect("a number of kB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_guessing_passwords_keep_the_server_under_150_mb() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("breakglass-memory-{}-{nanos}", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_breakglass"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BREAKGLASS_") {
            cmd.env_remove(key);
        }
    }
    let child = cmd
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--sign-in-throttle",
            "false",
            "--data-dir",
        ])
        .arg(&dir)
        .env("BREAKGLASS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("BREAKGLASS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn breakglass serve");
    let server = Server { child, dir };
    let pid = server.child.id();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{url}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Every victim is created at once too: setting a password is hashed on the same pool.
    let victims: Vec<String> = (0..CLIENTS).map(|n| format!("victim{n}@example.com")).collect();
    let created = futures_join(victims.iter().map(|email| {
        let (http, url) = (http.clone(), url.clone());
        let body = serde_json::json!({"email": email, "name": email, "password": "the right passphrase"});
        async move {
            let resp =
                http.post(format!("{url}/api/v1/users")).bearer_auth(ADMIN_TOKEN).json(&body).send().await;
            resp.expect("create a user").status().as_u16()
        }
    }))
    .await;
    assert!(created.iter().all(|s| *s == 201), "users created: {created:?}");

    let answers = futures_join(victims.iter().map(|email| {
        let (http, url, email) = (http.clone(), url.clone(), email.clone());
        async move {
            let mut statuses = Vec::new();
            for n in 0..GUESSES_PER_CLIENT {
                let body = serde_json::json!({"email": email, "password": format!("wrong guess {n}")});
                let resp = http.post(format!("{url}/api/v1/auth/login")).json(&body).send().await;
                statuses.push(resp.expect("a sign-in answer").status().as_u16());
            }
            statuses
        }
    }))
    .await;
    let answers: Vec<u16> = answers.into_iter().flatten().collect();
    // Every guess was hashed and refused; none was turned away by the throttle.
    assert_eq!(answers.len(), CLIENTS * GUESSES_PER_CLIENT);
    assert!(answers.iter().all(|s| *s == 401), "sign-in answers: {answers:?}");

    let peak = status_kib(pid, "VmHWM:");
    let now = status_kib(pid, "VmRSS:");
    eprintln!("resident: peak {} MB, after the attack {} MB", peak / 1000, now / 1000);
    assert!(peak < LIMIT_KIB, "peak resident {} MB, over the 150 MB bound", peak / 1000);
}

/// Runs the futures concurrently, each on a task of its own, and returns their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("a task"));
    }
    out
}
