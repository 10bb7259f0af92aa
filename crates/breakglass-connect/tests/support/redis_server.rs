//! A throwaway Redis server for a test: `redis-server` on a free loopback port with a password
//! on its default user, no persistence, in a temporary directory; stopped and removed when
//! dropped, also when the test fails.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running throwaway Redis server.
pub struct RedisServer {
    child: Child,
    dir: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// The default user's password.
    pub password: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl RedisServer {
    /// Starts a server, or `None` when this machine has no `redis-server` (then the test says
    /// so and passes, except under `CI=true`, where it fails).
    pub fn start() -> Option<RedisServer> {
        let found = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI needs redis-server (redis-server package)"
            );
            eprintln!("skipped: no redis-server on this machine");
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("bg-redis-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let password = format!("pw-{}-{port}", std::process::id());
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--requirepass", &password, "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer { child, dir, port, password };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A URL that signs in as `user` with `password`.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        format!("redis://{}:{}@127.0.0.1:{}", enc(user), enc(password), self.port)
    }

    /// Stops the server (a target that went away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
