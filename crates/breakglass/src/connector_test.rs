//! `breakglass connector test -- COMMAND [ARGS...]`: runs an external connector program
//! through every request of the protocol (connectors/PROTOCOL.md) and checks the rules a program
//! can break on its own: well-formed answers to the right request, an `invalid` error for a
//! mapping it cannot use, a verifier that is not the password, and idempotent operations as
//! its own listing shows them. With `--tenant`, it works on the system the settings reach: it
//! makes a throwaway account there and removes it again.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakglass_connect::external::{Empty, ExternalConnector};
use breakglass_connect::{AccountSpec, ConnectError, Connector, GroupSpec, Membership, TenantSpec};
use serde_json::json;

/// Arguments of `connector test`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  breakglass connector test --setting host=127.0.0.1 --setting user=admin \\\n    \
                        --setting-file password=./pw --tenant ledger_db -- ./mariadb.py"
)]
pub struct TestArgs {
    /// A setting handed to the program in `configure`, as KEY=VALUE (repeatable).
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// A setting read from a file, as KEY=PATH (repeatable): for secrets.
    #[arg(long = "setting-file", value_name = "KEY=PATH")]
    pub setting_files: Vec<String>,
    /// A tenant (external id) on the system to work on: without it only the requests that
    /// change nothing are tried.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Seconds each request may take.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The `connector` noun.
#[derive(Debug, clap::Subcommand)]
pub enum ConnectorCommand {
    /// Check an external connector program against the protocol.
    Test(TestArgs),
}

/// Runs the checks; the text to print and whether all passed, or a usage error.
pub async fn run(cmd: ConnectorCommand) -> Result<(String, bool), String> {
    let ConnectorCommand::Test(args) = cmd;
    let mut settings = BTreeMap::new();
    for s in &args.settings {
        let (k, v) = s.split_once('=').ok_or_else(|| format!("--setting {s}: expected KEY=VALUE"))?;
        settings.insert(k.to_owned(), v.to_owned());
    }
    for s in &args.setting_files {
        let (k, path) = s.split_once('=').ok_or_else(|| format!("--setting-file {s}: expected KEY=PATH"))?;
        let v = std::fs::read_to_string(path).map_err(|e| format!("--setting-file {k}: {path}: {e}"))?;
        settings.insert(k.to_owned(), v.trim_end_matches(['\n', '\r']).to_owned());
    }
    let program = std::path::PathBuf::from(&args.command[0]);
    let dir = std::env::current_dir().map_err(|e| format!("the current directory: {e}"))?;
    let c = ExternalConnector::new(
        (program, args.command[1..].to_vec()),
        dir,
        "conformance",
        settings,
        Duration::from_secs(args.timeout.max(1)),
    );
    let mut report = Report::default();
    report.check("configure, capabilities and health", c.health().await.map_err(|e| e.to_string()));
    if let Some(caps) = c.wire_capabilities() {
        report.note(format!(
            "capabilities: credentials {}, enforces_expiry {}, ends_sessions {}, lists_members {}",
            caps.credentials, caps.enforces_expiry, caps.ends_sessions, caps.lists_members
        ));
    }
    let role_name = c.call::<Empty>("check_mapping", json!({"mapping": "reader"})).await;
    report.check("a role's name is a mapping", role_name.map(drop).map_err(|e| e.to_string()));
    let bogus =
        c.call::<Empty>("check_mapping", json!({"mapping": "breakglass-conformance: not a mapping"})).await;
    report.check(
        "a mapping it cannot use is an `invalid` error",
        match bogus {
            Err(ConnectError::Invalid(_)) => Ok(()),
            Ok(_) => Err("it was accepted".into()),
            Err(e) => Err(format!("the error is not `invalid`: {e}")),
        },
    );
    let password = format!("conformance-{}", nonce());
    let verifier = c.verifier(&password).await;
    report.check(
        "issue_credential answers a verifier that is not the password",
        verifier.as_ref().map(drop).map_err(ToString::to_string),
    );
    if let Some(external_id) = &args.tenant {
        system_checks(&c, external_id, verifier.ok(), &mut report).await;
    } else {
        report.note("no --tenant: the requests that change the system were not tried".into());
    }
    let ok = report.failed == 0;
    report.note(format!("{} passed, {} failed", report.passed, report.failed));
    Ok((report.out, ok))
}

async fn system_checks(
    c: &ExternalConnector,
    external_id: &str,
    verifier: Option<String>,
    report: &mut Report,
) {
    let run = format!("bgconf{}", nonce() % 1_000_000);
    let groups: BTreeMap<String, GroupSpec> = ["reader", "user", "admin"]
        .into_iter()
        .map(|r| (r.to_owned(), GroupSpec { name: format!("{run}_{r}"), mapping: r.to_owned() }))
        .collect();
    let tenant = TenantSpec { external_id: external_id.to_owned(), groups };
    let twice =
        |a: Result<(), ConnectError>, b: Result<(), ConnectError>| a.and(b).map_err(|e| e.to_string());
    report
        .check("ensure_tenant, twice", twice(c.ensure_tenant(&tenant).await, c.ensure_tenant(&tenant).await));
    let name = format!("{run}_account");
    let until =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64 + 3_600_000_000).ok();
    let account = AccountSpec { name: name.clone(), login: verifier.map(|v| (v, until)) };
    report.check(
        "ensure_account, twice",
        twice(c.ensure_account(&account).await, c.ensure_account(&account).await),
    );
    let login_shown = |accounts: Result<Vec<breakglass_connect::ActualAccount>, ConnectError>,
                       want: Option<bool>| {
        let accounts = accounts.map_err(|e| e.to_string())?;
        let found = accounts.iter().find(|a| a.name == name).map(|a| a.can_login);
        if found == want {
            Ok(())
        } else {
            Err(format!("list shows {found:?} for the account, expected {want:?}"))
        }
    };
    report.check(
        "list shows the account (and its login)",
        login_shown(c.list_accounts().await, Some(account.login.is_some())),
    );
    let group = tenant.groups["reader"].name.clone();
    let membership = Membership { group: group.clone(), member: name.clone() };
    report.check("grant, twice", twice(c.grant(&group, &name).await, c.grant(&group, &name).await));
    let member_shown = |listed: Result<Vec<Membership>, ConnectError>, want: bool| {
        let listed = listed.map_err(|e| e.to_string())?;
        if listed.contains(&membership) == want {
            Ok(())
        } else {
            Err(format!("list {} the grant", if want { "lacks" } else { "still shows" }))
        }
    };
    report.check("list shows the grant", member_shown(c.list_members(&tenant).await, true));
    report.check("revoke, twice", twice(c.revoke(&group, &name).await, c.revoke(&group, &name).await));
    report.check("list no longer shows the grant", member_shown(c.list_members(&tenant).await, false));
    let closed = AccountSpec { name: name.clone(), login: None };
    report
        .check("ensure_account without a login", c.ensure_account(&closed).await.map_err(|e| e.to_string()));
    report.check("list shows no login", login_shown(c.list_accounts().await, Some(false)));
    report.check("end_sessions", c.end_sessions(&name).await.map_err(|e| e.to_string()));
    report
        .check("delete_account, twice", twice(c.delete_account(&name).await, c.delete_account(&name).await));
    report.check("list no longer shows the account", login_shown(c.list_accounts().await, None));
}

fn nonce() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

#[derive(Default)]
struct Report {
    out: String,
    passed: usize,
    failed: usize,
}

impl Report {
    fn check(&mut self, what: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                self.out.push_str(&format!("ok    {what}\n"));
            }
            Err(why) => {
                self.failed += 1;
                self.out.push_str(&format!("FAIL  {what}: {why}\n"));
            }
        }
    }

    fn note(&mut self, line: String) {
        self.out.push_str(&format!("      {line}\n"));
    }
}
