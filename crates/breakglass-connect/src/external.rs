//! The external connector: a program any team writes, in any language, spoken to over its
//! standard input and output with one JSON message per line (protocol 1, specified with its
//! JSON Schemas in `connectors/PROTOCOL.md` and `connectors/schema/`). Only programs inside the
//! operator's connectors directory run (`serve --connectors-dir`); a platform's `command`
//! setting names one of them. One process serves one platform, one request at a time; a late,
//! malformed or missing answer kills it, and the next request starts it again, so a hung
//! program never holds up another platform.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::{
    AccountSpec, ActualAccount, Capabilities, ConnectError, Connector, Env, Kind, Membership, SettingSpec,
    TenantSpec,
};

/// The protocol version this side speaks.
pub const PROTOCOL: u32 = 1;
/// The longest line accepted from a program.
const MAX_LINE: usize = 16 << 20;
/// How much of a program's standard error is kept to explain a failure.
const STDERR_TAIL: usize = 4096;

/// The `external` kind.
pub struct ExternalKind;

const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "command",
        secret: false,
        required: true,
        help: "a program in the server's connectors directory, with arguments (no shell)",
    },
    SettingSpec {
        key: "timeout",
        secret: false,
        required: false,
        help: "seconds each request may take (default 30)",
    },
];

impl Kind for ExternalKind {
    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn open_ended(&self) -> bool {
        true
    }

    fn default_mapping(&self, role: &str) -> &'static str {
        // The program knows its system's defaults: it is told the role's name.
        match role {
            "reader" => "reader",
            "user" => "user",
            _ => "admin",
        }
    }

    fn check_mapping(&self, mapping: &str) -> Result<(), String> {
        // The program judges a mapping when it sets up a tenant (an `invalid` error there).
        if mapping.trim().is_empty() || mapping.chars().any(char::is_control) {
            return Err("a mapping is text without control characters".into());
        }
        Ok(())
    }

    fn verifier(&self, _password: &str) -> Option<String> {
        // Only the program knows what its system stores: `issue_credential`.
        None
    }

    fn connect_line(&self, _: &BTreeMap<String, String>, _: &str, _: &str) -> Option<String> {
        None
    }

    fn connect_in(
        &self,
        platform: &str,
        settings: &BTreeMap<String, String>,
        env: &Env,
    ) -> Result<Box<dyn Connector>, ConnectError> {
        let dir = env.connectors_dir.as_deref().ok_or_else(|| {
            ConnectError::Invalid(
                "external connectors are off: the server runs none (serve --connectors-dir)".into(),
            )
        })?;
        let command = settings
            .get("command")
            .ok_or_else(|| ConnectError::Invalid("setting 'command' is missing".into()))?;
        let program = program_in(dir, command)?;
        let timeout = match settings.get("timeout") {
            None => Duration::from_secs(30),
            Some(t) => {
                t.parse::<u64>().ok().filter(|s| (1..=600).contains(s)).map(Duration::from_secs).ok_or_else(
                    || ConnectError::Invalid("setting 'timeout' is a number of seconds, 1 to 600".into()),
                )?
            }
        };
        let handed = settings.iter().filter(|(k, _)| !matches!(k.as_str(), "command" | "timeout"));
        Ok(Box::new(ExternalConnector::new(
            program,
            dir.to_owned(),
            platform,
            handed.map(|(k, v)| (k.clone(), v.clone())).collect(),
            timeout,
        )))
    }
}

/// The program and arguments `command` names, when the program is a file in `dir`.
fn program_in(dir: &Path, command: &str) -> Result<(PathBuf, Vec<String>), ConnectError> {
    let mut words = command.split_whitespace();
    let name = words.next().ok_or_else(|| ConnectError::Invalid("setting 'command' is empty".into()))?;
    if name.contains('/') || name.starts_with('.') {
        return Err(ConnectError::Invalid(format!(
            "setting 'command': '{name}' must name a program in the connectors directory, without a path"
        )));
    }
    let path = dir.join(name);
    if !path.is_file() {
        return Err(ConnectError::Invalid(format!(
            "there is no program '{name}' in the connectors directory"
        )));
    }
    Ok((path, words.map(str::to_owned).collect()))
}

/// A tenant as the protocol writes it.
#[derive(Serialize)]
struct WireTenant<'a> {
    external_id: &'a str,
    groups: BTreeMap<&'a str, WireGroup<'a>>,
}

#[derive(Serialize)]
struct WireGroup<'a> {
    name: &'a str,
    mapping: &'a str,
}

fn wire(t: &TenantSpec) -> WireTenant<'_> {
    WireTenant {
        external_id: &t.external_id,
        groups: t
            .groups
            .iter()
            .map(|(r, g)| (r.as_str(), WireGroup { name: &g.name, mapping: &g.mapping }))
            .collect(),
    }
}

/// `capabilities`' result.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireCapabilities {
    /// The protocol version the program speaks.
    pub protocol: u32,
    /// It makes logins.
    pub credentials: bool,
    /// Its system ends a login at its instant.
    pub enforces_expiry: bool,
    /// It ends sessions.
    pub ends_sessions: bool,
    /// It lists members.
    pub lists_members: bool,
}

/// `list`'s result.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireList {
    /// Members of the tenants' groups.
    pub members: Vec<WireMember>,
    /// The platform's accounts.
    pub accounts: Vec<WireAccount>,
}

/// A member in `list`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireMember {
    /// The group.
    pub group: String,
    /// The member.
    pub member: String,
}

/// An account in `list`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireAccount {
    /// Its name.
    pub name: String,
    /// Whether it may log in.
    pub can_login: bool,
}

/// An empty result.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `issue_credential`'s result.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireVerifier {
    /// What the system stores for the password.
    pub verifier: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    v: u32,
    id: u64,
    ok: bool,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireError {
    kind: String,
    message: String,
}

/// A running program.
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

/// A connection to one external program, started on first use.
pub struct ExternalConnector {
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    platform: String,
    settings: BTreeMap<String, String>,
    timeout: Duration,
    process: tokio::sync::Mutex<Option<Process>>,
    /// The end of the program's standard error, shared with the task that reads it.
    stderr: Arc<Mutex<VecDeque<u8>>>,
    capabilities: Mutex<Option<WireCapabilities>>,
}

impl ExternalConnector {
    /// A connector for `program` (with its arguments), run in `dir`, that configures it with
    /// `settings` for `platform`.
    pub fn new(
        (program, args): (PathBuf, Vec<String>),
        dir: PathBuf,
        platform: &str,
        settings: BTreeMap<String, String>,
        timeout: Duration,
    ) -> Self {
        Self {
            program,
            args,
            dir,
            platform: platform.to_owned(),
            settings,
            timeout,
            process: tokio::sync::Mutex::new(None),
            stderr: Arc::new(Mutex::new(VecDeque::new())),
            capabilities: Mutex::new(None),
        }
    }

    /// What the program said it can do (after its first request).
    pub fn wire_capabilities(&self) -> Option<WireCapabilities> {
        *self.capabilities.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let (a, b) = tail.as_slices();
        let text = String::from_utf8_lossy(&[a, b].concat()).trim().to_owned();
        if text.is_empty() {
            String::new()
        } else {
            format!("; its standard error ends: {text}")
        }
    }

    fn spawn(&self) -> Result<Process, ConnectError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .env_clear()
            .env("BREAKGLASS_PROTOCOL", PROTOCOL.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in ["PATH", "HOME", "LANG"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            ConnectError::Unreachable(format!("cannot start {}: {e}", self.program.display()))
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut stderr = child.stderr.take().expect("piped");
        let tail = self.stderr.clone();
        tail.lock().unwrap_or_else(|p| p.into_inner()).clear();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                t.extend(&buf[..n]);
                while t.len() > STDERR_TAIL {
                    t.pop_front();
                }
            }
        });
        Ok(Process { child, stdin, stdout, next: 1 })
    }

    /// Sends one request on `process` and reads its answer.
    async fn exchange(&self, process: &mut Process, op: &str, fields: Value) -> Result<Value, ConnectError> {
        let id = process.next;
        process.next += 1;
        let mut request = json!({"v": PROTOCOL, "id": id, "op": op});
        if let (Value::Object(r), Value::Object(f)) = (&mut request, fields) {
            r.extend(f);
        }
        let mut line = serde_json::to_vec(&request).expect("a request serialises");
        line.push(b'\n');
        let talk = async {
            process.stdin.write_all(&line).await?;
            process.stdin.flush().await?;
            let mut answer = Vec::new();
            let read = (&mut process.stdout).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut answer).await?;
            Ok::<_, std::io::Error>((read, answer))
        };
        let broken = |why: String| {
            ConnectError::Unreachable(format!("connector program '{op}': {why}{}", self.tail()))
        };
        let outcome = tokio::time::timeout(self.timeout, talk).await;
        if matches!(outcome, Ok(Err(_)) | Ok(Ok((0, _)))) {
            // It went away: let it finish, so that its last words reach the tail.
            if let Ok(Ok(status)) =
                tokio::time::timeout(Duration::from_millis(500), process.child.wait()).await
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
                return Err(broken(format!("it exited ({status})")));
            }
        }
        let (read, answer) = match outcome {
            Err(_) => return Err(broken(format!("no answer within {} s", self.timeout.as_secs()))),
            Ok(Err(e)) => return Err(broken(format!("cannot talk to it ({e})"))),
            Ok(Ok(r)) => r,
        };
        if read == 0 {
            return Err(broken("it closed its output".into()));
        }
        if answer.len() > MAX_LINE {
            return Err(broken("its answer is longer than 16 MiB".into()));
        }
        let answer: Answer = serde_json::from_slice(&answer)
            .map_err(|e| broken(format!("its answer is not a protocol message ({e})")))?;
        if answer.v != PROTOCOL || answer.id != id {
            return Err(broken(format!(
                "it answered id {} (v{}) to request {id} (v{PROTOCOL})",
                answer.id, answer.v
            )));
        }
        match (answer.ok, answer.result, answer.error) {
            (true, Some(result), None) => Ok(result),
            (false, None, Some(e)) => {
                let message: String = e.message.chars().take(4096).collect();
                Err(match e.kind.as_str() {
                    "unreachable" => ConnectError::Unreachable(message),
                    "refused" => ConnectError::Refused(message),
                    "invalid" => ConnectError::Invalid(message),
                    other => return Err(broken(format!("it answered an unknown error kind '{other}'"))),
                })
            }
            _ => Err(broken("its answer has neither a result nor an error".into())),
        }
    }

    /// Runs one request, starting (and configuring) the program first when it is not running;
    /// a broken exchange stops it.
    pub async fn call<T: DeserializeOwned>(&self, op: &str, fields: Value) -> Result<T, ConnectError> {
        let mut slot = self.process.lock().await;
        if slot.is_none() {
            let mut p = self.spawn()?;
            let configure = json!({"platform": self.platform, "settings": self.settings});
            self.exchange(&mut p, "configure", configure).await?;
            let caps = self.exchange(&mut p, "capabilities", json!({})).await?;
            let caps: WireCapabilities = serde_json::from_value(caps)
                .map_err(|e| ConnectError::Unreachable(format!("connector program capabilities: {e}")))?;
            if caps.protocol != PROTOCOL {
                return Err(ConnectError::Invalid(format!(
                    "the connector program speaks protocol {}, this server {PROTOCOL}",
                    caps.protocol
                )));
            }
            *self.capabilities.lock().unwrap_or_else(|p| p.into_inner()) = Some(caps);
            *slot = Some(p);
        }
        let process = slot.as_mut().expect("started above");
        let result = match self.exchange(process, op, fields).await {
            Ok(v) => serde_json::from_value::<T>(v).map_err(|e| {
                ConnectError::Unreachable(format!("connector program '{op}': its result does not fit ({e})"))
            }),
            Err(e) => Err(e),
        };
        if matches!(result, Err(ConnectError::Unreachable(_))) {
            // The exchange broke (or the program is away): start afresh next time.
            if let Some(mut p) = slot.take() {
                let _ = p.child.start_kill();
            }
        }
        result
    }
}

fn rfc3339(micros: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

#[async_trait::async_trait]
impl Connector for ExternalConnector {
    fn capabilities(&self) -> Capabilities {
        let c = self.wire_capabilities();
        Capabilities {
            credentials: c.is_none_or(|c| c.credentials),
            enforces_expiry: c.is_some_and(|c| c.enforces_expiry),
            ends_sessions: c.is_none_or(|c| c.ends_sessions),
            lists_members: c.is_none_or(|c| c.lists_members),
        }
    }

    async fn health(&self) -> Result<(), ConnectError> {
        self.call::<Empty>("health", json!({})).await.map(drop)
    }

    async fn ensure_tenant(&self, tenant: &TenantSpec) -> Result<(), ConnectError> {
        self.call::<Empty>("ensure_tenant", json!({"tenant": wire(tenant)})).await.map(drop)
    }

    async fn list_members(&self, tenant: &TenantSpec) -> Result<Vec<Membership>, ConnectError> {
        let list: WireList = self.call("list", json!({"tenants": [wire(tenant)]})).await?;
        Ok(list.members.into_iter().map(|m| Membership { group: m.group, member: m.member }).collect())
    }

    async fn list_accounts(&self) -> Result<Vec<ActualAccount>, ConnectError> {
        let list: WireList = self.call("list", json!({"tenants": []})).await?;
        Ok(list
            .accounts
            .into_iter()
            .map(|a| ActualAccount { name: a.name, can_login: a.can_login })
            .collect())
    }

    async fn ensure_account(&self, account: &AccountSpec) -> Result<(), ConnectError> {
        let login = account
            .login
            .as_ref()
            .map(|(verifier, until)| json!({"verifier": verifier, "until": until.and_then(rfc3339)}));
        self.call::<Empty>("ensure_account", json!({"account": {"name": account.name, "login": login}}))
            .await
            .map(drop)
    }

    async fn delete_account(&self, name: &str) -> Result<(), ConnectError> {
        self.call::<Empty>("delete_account", json!({"name": name})).await.map(drop)
    }

    async fn grant(&self, group: &str, member: &str) -> Result<(), ConnectError> {
        self.call::<Empty>("grant", json!({"group": group, "member": member})).await.map(drop)
    }

    async fn revoke(&self, group: &str, member: &str) -> Result<(), ConnectError> {
        self.call::<Empty>("revoke", json!({"group": group, "member": member})).await.map(drop)
    }

    async fn end_sessions(&self, account: &str) -> Result<(), ConnectError> {
        self.call::<Empty>("end_sessions", json!({"name": account})).await.map(drop)
    }

    async fn verifier(&self, password: &str) -> Result<String, ConnectError> {
        let v: WireVerifier = self.call("issue_credential", json!({"password": password})).await?;
        if v.verifier.is_empty() || v.verifier == password {
            return Err(ConnectError::Refused(
                "the connector program answered no verifier of the password".into(),
            ));
        }
        Ok(v.verifier)
    }
}
