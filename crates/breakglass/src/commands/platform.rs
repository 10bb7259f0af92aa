//! `platform`: where projects run, how Breakglass reaches them, and what it placed there.

use std::collections::BTreeMap;

use breakglass_api::{Drift, Membership, Platform, RegisterPlatform, SyncReport, UpdatePlatform};
use clap::{Args, Subcommand};

use crate::args::parse_tag;
use crate::commands::{Ctx, Done, Fail, Result};
use crate::render::{fields, opt, Table};

/// Settings, mapping and mode, as `platform register` and `platform update` take them.
#[derive(Debug, Args)]
pub struct ConfigFlags {
    /// A setting `KEY=VALUE` (repeatable). For postgres: `url=postgres://ROLE:PASSWORD@HOST:PORT/DB`
    /// (secret: sealed, never shown again) and `schemas=public,app`; for redis: `url`, `username`,
    /// `password`; for external: `command=PROGRAM` and its own; for ssh: `ca_key` (made when not
    /// given); `mode=enforce|report` too.
    #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub settings: Vec<(String, String)>,
    /// A setting read from a file, `KEY=PATH` (repeatable): for secrets kept out of the shell's
    /// history. A final newline is dropped.
    #[arg(long = "setting-file", value_name = "KEY=PATH", value_parser = parse_tag)]
    pub setting_files: Vec<(String, String)>,
    /// What a project role means there, `ROLE=MAPPING` (repeatable), e.g.
    /// `reader=SELECT` or `admin=ALL,CREATE` for postgres, `reader='{tenant}-read ops'` (the
    /// principals) for ssh.
    #[arg(long = "mapping", value_name = "ROLE=MAPPING", value_parser = parse_tag)]
    pub mapping: Vec<(String, String)>,
    /// What happens to access granted by hand on a managed role: enforce (removed) or report.
    #[arg(long, value_name = "MODE", value_parser = ["enforce", "report"])]
    pub mode: Option<String>,
    /// How users' accounts are named, over {email}, {local} and {id} (default bg_{email}).
    #[arg(long, value_name = "TEMPLATE")]
    pub account_template: Option<String>,
    /// The longest a credential stays valid (default 8h).
    #[arg(long, value_name = "DURATION")]
    pub credential_lifetime: Option<String>,
}

/// `platform` verbs.
#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Register a platform (admins).
    #[command(
        after_help = "Example: breakglass platform register pg-prod --kind postgres --name 'Postgres prod' \
                            --setting-file url=/run/secrets/pg-admin-url --mapping reader=SELECT"
    )]
    Register {
        /// Immutable identifier (lowercase letters, digits, dashes).
        id: String,
        /// What kind of place it is, e.g. aws, kubernetes; postgres, redis and external provision
        /// access, ssh signs certificates.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Settings, mapping and mode.
        #[command(flatten)]
        config: ConfigFlags,
    },
    /// List the registered platforms.
    List,
    /// Show a platform: its settings (secret ones by name), role mapping, mode and how the
    /// provisioning engine finds it (the admin area).
    Show {
        /// Platform identifier.
        id: String,
    },
    /// Change a platform's settings, mapping or mode (admins); what is not given stays.
    Update {
        /// Platform identifier.
        id: String,
        /// Settings, mapping and mode to set.
        #[command(flatten)]
        config: ConfigFlags,
        /// Remove a setting (repeatable).
        #[arg(long = "unset-setting", value_name = "KEY")]
        unset: Vec<String>,
        /// Put a role's mapping back to the connector's default (repeatable).
        #[arg(long = "default-mapping", value_name = "ROLE")]
        default_mapping: Vec<String>,
    },
    /// Compare what the platform holds with what it must hold, changing nothing.
    Drift {
        /// Platform identifier.
        id: String,
    },
    /// Reconcile the platform now, listing it in full (admins).
    Sync {
        /// Platform identifier.
        id: String,
    },
}

/// Runs a `platform` command.
pub async fn run(ctx: &Ctx, cmd: PlatformCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        PlatformCommand::Register { id, kind, name, config } => {
            let change = update_body(config, vec![], vec![])?;
            let body = RegisterPlatform {
                identifier: id,
                kind,
                name,
                settings: change.settings.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect(),
                mapping: change.mapping.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect(),
                mode: change.mode,
                account_template: change.account_template,
                credential_lifetime: change.credential_lifetime,
            };
            Ok(ctx.show(&c.register_platform(&body).await?, platform))
        }
        PlatformCommand::List => Ok(ctx.show_all(c.all_platforms().await?, platforms)),
        PlatformCommand::Show { id } => Ok(ctx.show(&c.platform(&id).await?, platform)),
        PlatformCommand::Update { id, config, unset, default_mapping } => {
            let body = update_body(config, unset, default_mapping)?;
            Ok(ctx.show(&c.update_platform(&id, &body).await?, platform))
        }
        PlatformCommand::Drift { id } => Ok(ctx.show(&c.platform_drift(&id).await?, drift)),
        PlatformCommand::Sync { id } => Ok(ctx.show(&c.sync_platform(&id).await?, |r| sync_text(&id, r))),
    }
}

/// The `PATCH` body of the flags; a key given twice is a usage error, a file is read now.
fn update_body(
    config: ConfigFlags,
    unset: Vec<String>,
    default_mapping: Vec<String>,
) -> Result<UpdatePlatform> {
    let mut settings: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut put = |key: String, value: Option<String>| {
        if settings.insert(key.clone(), value).is_some() {
            return Err(Fail::Usage(format!("setting {key}: given more than once")));
        }
        Ok(())
    };
    for (key, value) in config.settings {
        put(key, Some(value))?;
    }
    for (key, path) in config.setting_files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Fail::Usage(format!("--setting-file {key}: cannot read {path}: {e}")))?;
        put(key, Some(text.strip_suffix('\n').unwrap_or(&text).trim_end_matches('\r').to_owned()))?;
    }
    for key in unset {
        put(key, None)?;
    }
    let mut mapping: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (role, m) in config.mapping {
        if mapping.insert(role.clone(), Some(m)).is_some() {
            return Err(Fail::Usage(format!("--mapping {role}: given more than once")));
        }
    }
    for role in default_mapping {
        if mapping.insert(role.clone(), None).is_some() {
            return Err(Fail::Usage(format!("mapping of {role}: given more than once")));
        }
    }
    Ok(UpdatePlatform {
        settings,
        mapping,
        mode: config.mode,
        account_template: config.account_template,
        credential_lifetime: config.credential_lifetime,
    })
}

/// A platform as a record.
pub fn platform(p: &Platform) -> String {
    let mut pairs = vec![
        ("platform", p.identifier.clone()),
        ("kind", p.kind.to_string()),
        ("name", p.name.clone()),
        ("created", p.created_at.clone()),
        (
            "provisioned",
            if p.provisioned { "yes (its connector places access)" } else { "no (recorded only)" }.into(),
        ),
    ];
    let mut settings: Vec<String> = p.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    settings.extend(p.secret_settings.iter().map(|k| format!("{k}=(secret)")));
    if !settings.is_empty() {
        pairs.push(("settings", settings.join(", ")));
    }
    if !p.mapping.is_empty() {
        pairs.push((
            "mapping",
            p.mapping.iter().map(|(r, m)| format!("{r}: {m}")).collect::<Vec<_>>().join("; "),
        ));
    }
    if let Some(mode) = &p.mode {
        pairs.push(("mode", mode.clone()));
    }
    if let Some(t) = &p.account_template {
        pairs.push(("accounts", t.clone()));
    }
    if let Some(l) = &p.credential_lifetime {
        pairs.push(("credentials last", format!("at most {l}")));
    }
    if let Some(s) = &p.status {
        let health = match (s.healthy, &s.error) {
            (Some(true), _) => "healthy".to_owned(),
            (_, Some(e)) => format!("FAILING since {}: {e}", opt(&s.failing_since)),
            _ => "unknown (this server does not reconcile it)".to_owned(),
        };
        pairs.push(("health", health));
        pairs.push(("reconciled here", if s.reconciler { "yes" } else { "no" }.into()));
        pairs.push(("last pass", opt(&s.last_pass)));
        pairs.push(("grants", format!("{} provisioned, {} failed", s.provisioned, s.failed)));
    }
    if let Some(s) = &p.ssh {
        pairs.push((
            "certificates",
            format!("{} valid, {} of them revoked early", s.certificates_valid, s.certificates_revoked),
        ));
        pairs.push(("revocation list", s.krl_path.clone()));
    }
    let mut out = fields(&pairs);
    if let Some(s) = &p.ssh {
        out.push_str(&format!(
            "\nHosts trust its certificates with this CA key (TrustedUserCAKeys):\n\n    {}\n\n\
             and these sshd_config lines:\n\n{}",
            s.ca_public_key,
            s.sshd_config.lines().map(|l| format!("    {l}\n")).collect::<String>()
        ));
    }
    out
}

/// Platforms as a table.
pub fn platforms(list: &[Platform]) -> String {
    let mut t = Table::new(&["PLATFORM", "KIND", "NAME", "PROVISIONED", "CREATED"]);
    for p in list {
        t.row(vec![
            p.identifier.clone(),
            p.kind.to_string(),
            p.name.clone(),
            if p.provisioned { "yes" } else { "no" }.into(),
            p.created_at.clone(),
        ]);
    }
    t.render()
}

fn membership_rows(t: &mut Table, what: &str, list: &[Membership]) {
    for m in list {
        t.row(vec![what.to_owned(), m.role.clone(), m.member.clone()]);
    }
}

/// A drift report as a table, or a line saying there is none.
pub fn drift(d: &Drift) -> String {
    if d.missing.is_empty() && d.extra.is_empty() && d.foreign.is_empty() {
        return "No drift: the platform holds exactly what Breakglass grants.\n".into();
    }
    let mut t = Table::new(&["FOUND", "ROLE", "MEMBER"]);
    membership_rows(&mut t, "missing", &d.missing);
    membership_rows(&mut t, "extra", &d.extra);
    membership_rows(&mut t, "by hand", &d.foreign);
    t.render()
}

/// What a sync did, in a line, then the drift it met.
fn sync_text(id: &str, r: &SyncReport) -> String {
    let mut out = format!(
        "Reconciled {id}: {} granted, {} revoked, {} failed, {} accounts changed, {} removed.\n",
        r.granted, r.revoked, r.failed, r.accounts_changed, r.accounts_removed
    );
    if !r.drift.is_empty() {
        let mut t = Table::new(&["DRIFT", "ROLE", "MEMBER"]);
        membership_rows(&mut t, "by hand", &r.drift);
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> ConfigFlags {
        ConfigFlags {
            settings: vec![],
            setting_files: vec![],
            mapping: vec![],
            mode: None,
            account_template: None,
            credential_lifetime: None,
        }
    }

    #[test]
    fn setting_files_are_read_and_keys_given_twice_are_refused() {
        let file = std::env::temp_dir().join(format!("bg-setting-{}", std::process::id()));
        std::fs::write(&file, "postgres://a:s3cret@h/db\n").unwrap();
        let mut f = flags();
        f.setting_files = vec![("url".into(), file.display().to_string())];
        f.settings = vec![("schemas".into(), "public".into())];
        let body = update_body(f, vec!["old".into()], vec!["admin".into()]).unwrap();
        assert_eq!(body.settings["url"].as_deref(), Some("postgres://a:s3cret@h/db"), "the newline goes");
        assert_eq!(body.settings["old"], None);
        assert_eq!(body.mapping["admin"], None);
        let mut f = flags();
        f.settings = vec![("url".into(), "x".into())];
        f.setting_files = vec![("url".into(), file.display().to_string())];
        assert!(
            matches!(update_body(f, vec![], vec![]), Err(Fail::Usage(m)) if m.contains("more than once"))
        );
        let mut f = flags();
        f.setting_files = vec![("url".into(), "/nonexistent/file".into())];
        assert!(matches!(update_body(f, vec![], vec![]), Err(Fail::Usage(m)) if m.contains("cannot read")));
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn a_platform_shows_secret_settings_by_name_only() {
        let p = Platform {
            identifier: "pg".into(),
            kind: "postgres".into(),
            name: "PG".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            provisioned: true,
            settings: [("schemas".to_owned(), "public".to_owned())].into(),
            secret_settings: vec!["url".into()],
            mapping: [("reader".to_owned(), "SELECT".to_owned())].into(),
            mode: Some("enforce".into()),
            account_template: Some("bg_{email}".into()),
            credential_lifetime: Some("8h".into()),
            status: None,
            ssh: None,
        };
        let text = platform(&p);
        assert!(text.contains("settings:          schemas=public, url=(secret)\n"), "{text}");
        assert!(text.contains("mapping:           reader: SELECT\n"), "{text}");
    }
}
