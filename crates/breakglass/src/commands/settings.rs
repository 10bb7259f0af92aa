//! `settings`: the installation settings.

use breakglass_api::Settings;
use clap::{Args, Subcommand};

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, opt, NONE};

/// `settings` verbs.
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the installation settings.
    Show,
    /// Change the given settings; the others stay (admins).
    Set(SettingsChange),
}

/// The settings `settings set` changes: at least one.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct SettingsChange {
    /// Self-service workspace registration.
    #[arg(long, value_name = "MODE", value_parser = ["open", "approval", "closed"])]
    pub workspace_registration: Option<String>,
    /// Self-service sign-up.
    #[arg(long, value_name = "MODE", value_parser = ["open", "invited_only", "closed"])]
    pub signup: Option<String>,
    /// Days an invitation stays valid (1 to 365).
    #[arg(long, value_name = "N")]
    pub invitation_ttl_days: Option<u32>,
    /// Project quota of new workspaces.
    #[arg(long, value_name = "N")]
    pub default_project_quota: Option<u32>,
    /// "Add myself" assigns member instead of manager.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub restrict_admin_role_assignment: Option<bool>,
    /// Expiry of "add myself" when none is asked for (`8h`).
    #[arg(long, value_name = "DURATION")]
    pub add_myself_default_expiry: Option<String>,
    /// Longest expiry of "add myself" (`7d`).
    #[arg(long, value_name = "DURATION")]
    pub add_myself_max_expiry: Option<String>,
    /// The furthest any expiry may lie from when it is set (`366d`).
    #[arg(long, value_name = "DURATION")]
    pub max_expiry: Option<String>,
    /// Most live API tokens one user may hold.
    #[arg(long, value_name = "N")]
    pub max_api_tokens_per_user: Option<u32>,
    /// Most live sessions one user may hold.
    #[arg(long, value_name = "N")]
    pub max_sessions_per_user: Option<u32>,
}

/// Runs a `settings` command.
pub async fn run(ctx: &Ctx, cmd: SettingsCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        SettingsCommand::Show => Ok(ctx.show(&c.settings().await?, settings)),
        SettingsCommand::Set(change) => {
            Ok(ctx.show(&c.update_settings(&settings_change(change)).await?, settings))
        }
    }
}

/// The `PATCH` body: only the settings given.
fn settings_change(s: SettingsChange) -> Settings {
    Settings {
        workspace_registration: s.workspace_registration,
        signup: s.signup,
        invitation_ttl_days: s.invitation_ttl_days,
        default_project_quota: s.default_project_quota,
        restrict_admin_role_assignment: s.restrict_admin_role_assignment,
        add_myself_default_expiry: s.add_myself_default_expiry,
        add_myself_max_expiry: s.add_myself_max_expiry,
        max_expiry: s.max_expiry,
        max_api_tokens_per_user: s.max_api_tokens_per_user,
        max_sessions_per_user: s.max_sessions_per_user,
    }
}

/// The installation settings as a record.
pub fn settings(s: &Settings) -> String {
    let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_else(|| NONE.into());
    fields(&[
        ("workspace registration", opt(&s.workspace_registration)),
        ("signup", opt(&s.signup)),
        ("invitation ttl days", num(s.invitation_ttl_days)),
        ("default project quota", num(s.default_project_quota)),
        (
            "restrict admin role assignment",
            s.restrict_admin_role_assignment.map(|b| b.to_string()).unwrap_or_else(|| NONE.into()),
        ),
        ("add myself default expiry", opt(&s.add_myself_default_expiry)),
        ("add myself max expiry", opt(&s.add_myself_max_expiry)),
        ("max expiry", opt(&s.max_expiry)),
        ("max api tokens per user", num(s.max_api_tokens_per_user)),
        ("max sessions per user", num(s.max_sessions_per_user)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_set_sends_only_the_given_settings() {
        let change = SettingsChange {
            workspace_registration: Some("approval".into()),
            signup: None,
            invitation_ttl_days: Some(3),
            default_project_quota: None,
            restrict_admin_role_assignment: Some(false),
            add_myself_default_expiry: None,
            add_myself_max_expiry: None,
            max_expiry: Some("90d".into()),
            max_api_tokens_per_user: None,
            max_sessions_per_user: None,
        };
        let body = serde_json::to_value(settings_change(change)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "workspace_registration": "approval",
                "invitation_ttl_days": 3,
                "restrict_admin_role_assignment": false,
                "max_expiry": "90d"
            })
        );
    }

    #[test]
    fn settings_show_every_setting() {
        let s = Settings {
            workspace_registration: Some("approval".into()),
            invitation_ttl_days: Some(7),
            restrict_admin_role_assignment: Some(false),
            ..Default::default()
        };
        let text = settings(&s);
        assert!(text.starts_with("workspace registration:"), "{text}");
        assert!(text.contains(" approval\n") && text.contains(" 7\n") && text.contains(" false\n"), "{text}");
        assert!(text.contains("signup:") && text.lines().count() == 10, "{text}");
    }
}
