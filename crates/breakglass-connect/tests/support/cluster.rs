//! A throwaway PostgreSQL cluster for a test: `initdb` in a temporary directory with
//! `scram-sha-256` for every login (the machine's own server trusts loopback logins, so it
//! cannot show that a password works or that an expired one fails), on a free loopback port,
//! stopped and removed when dropped, also when the test fails. Run as root, the server's tools
//! run as the `postgres` user, as they refuse root.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running throwaway cluster.
pub struct Cluster {
    dir: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// The superuser's name.
    pub admin: String,
    /// The superuser's password.
    pub password: String,
    bin: PathBuf,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("BREAKGLASS_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

fn run(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let path = bin.join(tool);
    let out = if root() {
        Command::new("runuser").args(["-u", "postgres", "--"]).arg(&path).args(args).output()
    } else {
        Command::new(&path).args(args).output()
    };
    out.unwrap_or_else(|e| panic!("run {}: {e}", path.display()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// Starts a cluster, or `None` when this machine has no PostgreSQL server binaries (then
    /// the test says so and passes, except under `CI=true`, where it fails).
    pub fn start() -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI needs PostgreSQL's initdb (postgresql package)"
            );
            eprintln!("skipped: no PostgreSQL server binaries (initdb) on this machine");
            return None;
        };
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bg-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let password = format!("pw-{}-{n}-{}", std::process::id(), free_port());
        std::fs::write(dir.join("pwfile"), &password).unwrap();
        if root() {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().unwrap();
            assert!(status.success());
        }
        let data = dir.join("data");
        let out = run(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "admin",
                "--auth=scram-sha-256",
                "--pwfile",
                dir.join("pwfile").to_str().unwrap(),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        // A port can be taken between finding it and binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
                 -c max_connections=200 -c shared_buffers=16MB",
                dir.display()
            );
            let out = run(
                &bin,
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-l",
                    dir.join("log").to_str().unwrap(),
                    "-o",
                    &opts,
                    "-w",
                    "start",
                ],
            );
            if out.status.success() {
                return Some(Cluster { dir, port, admin: "admin".into(), password, bin });
            }
        }
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        panic!("the throwaway cluster did not start:\n{log}");
    }

    /// A URL for `user` with `password` to `database`.
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        format!("postgres://{}:{}@127.0.0.1:{}/{}", enc(user), enc(password), self.port, enc(database))
    }

    /// The superuser's URL to `database`.
    pub fn url(&self, database: &str) -> String {
        self.url_as(&self.admin, &self.password, database)
    }

    /// Stops the server at once (as a crash would); [`Cluster::restart`] brings it back.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        let out = run(&self.bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts a stopped server again on the same port.
    pub fn restart(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let out = run(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                self.dir.join("log").to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = run(&self.bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
