//! A throwaway OpenSSH server for a test: Debian's `sshd` on a free loopback port, in a
//! temporary directory with its own host key, trusting a certificate authority the test gives,
//! mapping principals per login with `AuthorizedPrincipalsFile` and refusing what a key
//! revocation list names; stopped and removed when dropped, also when the test fails. Also the
//! client side: a user key pair and `ssh` that logs in with a certificate only.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running throwaway sshd.
pub struct Sshd {
    child: Child,
    /// Its directory (configuration, keys, principals, revocation list, log).
    pub dir: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// The account certificates log in as (the user running the test).
    pub login: String,
}

fn sshd_binary() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?}: {text}");
    text
}

impl Sshd {
    /// Starts sshd trusting the certificate authority `ca_public_key`, or `None` when this
    /// machine cannot (no `sshd`, or not root, which sshd needs to switch to the login): then
    /// the test says so and passes, except under `CI=true`, where it fails.
    pub fn start(tag: &str, ca_public_key: &str) -> Option<Sshd> {
        let login = run(Command::new("id").arg("-un")).trim().to_owned();
        let Some(binary) = sshd_binary().filter(|_| login == "root") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI needs sshd (openssh-server) and runs as root"
            );
            eprintln!("skipped: no sshd on this machine, or not root");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("bg-sshd-{tag}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("principals")).unwrap();
        // sshd's privilege separation directory; Debian's package makes it at boot only.
        std::fs::create_dir_all("/run/sshd").unwrap();
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(dir.join("host")));
        std::fs::write(dir.join("ca.pub"), format!("{}\n", ca_public_key.trim())).unwrap();
        // An empty revocation list until the test fetches one (sshd refuses every key without).
        run(Command::new("ssh-keygen").args(["-q", "-k", "-f"]).arg(dir.join("krl")));
        let d = dir.display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nPidFile {d}/pid\nUsePAM no\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nAuthorizedKeysFile none\nPermitRootLogin prohibit-password\n\
             LogLevel VERBOSE\nTrustedUserCAKeys {d}/ca.pub\nAuthorizedPrincipalsFile {d}/principals/%u\n\
             RevokedKeys {d}/krl\n"
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let child = Command::new(binary)
            .arg("-D")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let sshd = Sshd { child, dir, port, login };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}: {}", sshd.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(sshd)
    }

    /// Lets the principals `names` log in as the test's login.
    pub fn allow(&self, names: &[&str]) {
        let mut text = names.join("\n");
        text.push('\n');
        std::fs::write(self.dir.join("principals").join(&self.login), text).unwrap();
    }

    /// Installs a key revocation list (sshd reads it at every login).
    pub fn set_krl(&self, krl: &[u8]) {
        let tmp = self.dir.join("krl.new");
        std::fs::write(&tmp, krl).unwrap();
        std::fs::rename(tmp, self.dir.join("krl")).unwrap();
    }

    /// A new user key pair in the directory: its private key's path and its public line.
    pub fn user_key(&self, name: &str) -> (PathBuf, String) {
        let path = self.dir.join(name);
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"]).arg(&path));
        let public = std::fs::read_to_string(self.dir.join(format!("{name}.pub"))).unwrap();
        (path, public)
    }

    /// Whether `ssh` logs in as the test's login with the private key `key` and the
    /// certificate `certificate` alone (no agent, no password, no other key).
    pub fn logs_in(&self, key: &Path, certificate: &str) -> bool {
        let cert = key.with_extension("cert");
        std::fs::write(&cert, certificate).unwrap();
        let out = Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(key)
            .arg("-o")
            .arg(format!("CertificateFile={}", cert.display()))
            .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-p", &self.port.to_string()])
            .arg(format!("{}@127.0.0.1", self.login))
            .arg("echo in")
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs");
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "in"
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
