//! A MariaDB database and admin user of a test's own on the machine's MariaDB server (reached
//! as `root` over its socket), and the example connector program in a connectors directory of
//! the test's own; all of it, and every user and role the test made (their names carry the
//! test's tag), removed when dropped, also when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use sha2::{Digest, Sha256};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A test's corner of the MariaDB server.
pub struct MariaDb {
    /// What the test's names carry.
    pub tag: String,
    /// The admin user the connector signs in as, and its password.
    pub admin: String,
    pub password: String,
    /// The test's database (a tenant's external id).
    pub database: String,
    /// The connectors directory holding `mariadb` (the example connector).
    pub connectors: PathBuf,
}

fn root(sql: &str) -> Result<String, String> {
    let out =
        Command::new("mysql").args(["-uroot", "-N", "-B", "-e", sql]).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A Python that has PyMySQL: `BREAKGLASS_PYTHON`, the CI's virtual environment, or `python3`.
fn python() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("BREAKGLASS_PYTHON").map(PathBuf::from),
        Some(repo.join(".ci/.venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| Command::new(p).args(["-c", "import pymysql"]).output().is_ok_and(|o| o.status.success()))
}

/// The first 8 hex digits of SHA-256, as the example names a platform's bundle roles.
fn digest8(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl MariaDb {
    /// Sets up, or `None` when this machine has no MariaDB or no PyMySQL (then the test says
    /// so and passes, except under `CI=true`, where it fails).
    pub fn start() -> Option<MariaDb> {
        let python = python();
        let server = root("SELECT 1");
        if python.is_none() || server.is_err() {
            let why = if python.is_none() {
                "no Python with PyMySQL".to_owned()
            } else {
                format!("no MariaDB: {server:?}")
            };
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs MariaDB and PyMySQL: {why}");
            eprintln!("skipped: {why}");
            return None;
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("t{}x{n}", std::process::id());
        let admin = format!("bgadm_{tag}");
        let password = format!("pw-{tag}-admin");
        let database = format!("bgdb_{tag}");
        root(&format!(
            "CREATE DATABASE `{database}`; CREATE TABLE `{database}`.items (v text); INSERT INTO `{database}`.items VALUES ('a'); \
             CREATE USER '{admin}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'127.0.0.1' WITH GRANT OPTION;"
        ))
        .expect("the test's database and admin are made");
        let connectors = std::env::temp_dir().join(format!("bg-connectors-{tag}"));
        std::fs::create_dir_all(&connectors).unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../connectors/examples/mariadb.py");
        let script =
            format!("#!/bin/sh\nexec '{}' '{}' \"$@\"\n", python.unwrap().display(), example.display());
        let program = connectors.join("mariadb");
        std::fs::write(&program, script).unwrap();
        std::process::Command::new("chmod").arg("+x").arg(&program).status().unwrap();
        Some(MariaDb { tag, admin, password, database, connectors })
    }

    /// The connector settings: host, user, password.
    pub fn settings(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("command", "mariadb".to_owned()),
            ("host", "127.0.0.1".to_owned()),
            ("user", self.admin.clone()),
            ("password", self.password.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Runs `sql` as `user` with `password` in the test's database with the `mysql` client;
    /// its output, or why it failed.
    pub fn as_user(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("mysql")
            .args([
                "-h127.0.0.1",
                "-N",
                "-B",
                &format!("-u{user}"),
                &format!("-p{password}"),
                &self.database,
                "-e",
                sql,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs `sql` as root.
    pub fn root(&self, sql: &str) -> Result<String, String> {
        root(sql)
    }

    /// The bundle role of `account` on `platform`, as the example names it.
    pub fn bundle(platform: &str, account: &str) -> String {
        let d16: String =
            Sha256::digest(account.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("bgb_{}_{d16}", digest8(platform))
    }

    /// The platform name tests use (its accounts' bundle roles are removed with the rest).
    pub fn platform(&self) -> String {
        format!("maria-{}", self.tag)
    }

    /// Removes the users and roles the test made: its platform's bundles, and those whose names
    /// carry the tag.
    pub fn forget(&self, platform: &str) {
        let bundles = format!("bgb\\_{}\\_%", digest8(platform));
        let listed = root(&format!(
            "SELECT User, Host, is_role FROM mysql.user WHERE User LIKE '%{}%' OR User LIKE '{bundles}'",
            self.tag
        ))
        .unwrap_or_default();
        for line in listed.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if let [user, host, is_role] = f[..] {
                let sql = if is_role == "Y" {
                    format!("DROP ROLE IF EXISTS `{user}`")
                } else {
                    format!("DROP USER IF EXISTS '{user}'@'{host}'")
                };
                let _ = root(&sql);
            }
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = root(&format!("DROP DATABASE IF EXISTS `{}`", self.database));
        self.forget(&self.platform());
        let _ = std::fs::remove_dir_all(&self.connectors);
    }
}
