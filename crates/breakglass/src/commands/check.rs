//! `check`: whether a user holds a role now.

use breakglass_api::{CheckRequest, CheckResponse};
use clap::Args;

use crate::commands::{Ctx, Done, Result, Status};
use crate::render::{source, target};

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The user's e-mail.
    #[arg(long, value_name = "EMAIL")]
    pub user: String,
    /// Workspace identifier.
    #[arg(long, value_name = "WS")]
    pub workspace: String,
    /// Project identifier (absent: a workspace role).
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// The role asked for; any higher role of the same kind also counts.
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// Answer only from a state including this audit sequence (a write's Breakglass-Seq).
    #[arg(long, value_name = "SEQ")]
    pub min_seq: Option<i64>,
}

/// Runs `check`.
pub async fn run(ctx: &Ctx, args: CheckArgs) -> Result<Done> {
    let request = CheckRequest {
        user: args.user,
        workspace: args.workspace,
        project: args.project,
        role: args.role,
        min_seq: args.min_seq,
    };
    let answer = ctx.client.check(&request).await?;
    let mut done = ctx.show(&answer, |a| check_text(&request, a));
    if !answer.allowed {
        done.status = Status::Denied;
    }
    Ok(done)
}

/// `allowed: ...` with the bindings that grant it, or `denied: ...` with the reason.
fn check_text(request: &CheckRequest, answer: &CheckResponse) -> String {
    let on = target(&request.workspace, request.project.as_deref());
    if !answer.allowed {
        let reason = answer.reason.map_or_else(|| "no reason given".to_owned(), |r| r.to_string());
        return format!("denied: {} does not hold {} on {on} ({reason})\n", request.user, request.role);
    }
    let mut out = format!(
        "allowed: {} holds {} on {on} {}\n",
        request.user,
        request.role,
        match &answer.expires_at {
            Some(t) => format!("until {t}"),
            None => "with no end".into(),
        }
    );
    for via in &answer.via {
        out.push_str(&format!(
            "  via {} {}: {}, {}{}\n",
            source(&via.source, via.emergency),
            via.binding_id,
            via.role,
            match &via.expires_at {
                Some(t) => format!("until {t}"),
                None => "no end".into(),
            },
            via.request_id.as_deref().map(|r| format!(" (request {r})")).unwrap_or_default(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_api::Via;

    #[test]
    fn check_answers_read_as_sentences() {
        let request = CheckRequest {
            user: "al@x.io".into(),
            workspace: "acme".into(),
            project: Some("web".into()),
            role: "user".into(),
            min_seq: None,
        };
        let allowed = CheckResponse {
            allowed: true,
            expires_at: Some("2026-01-01T10:00:00Z".into()),
            via: vec![
                Via {
                    binding_id: "b1".into(),
                    role: breakglass_api::Role::Admin,
                    source: breakglass_api::BindingSource::Grant,
                    request_id: None,
                    emergency: false,
                    expires_at: Some("2026-01-01T10:00:00Z".into()),
                },
                Via {
                    binding_id: "b2".into(),
                    role: breakglass_api::Role::User,
                    source: breakglass_api::BindingSource::Emergency,
                    request_id: Some("r1".into()),
                    emergency: true,
                    expires_at: Some("2026-01-01T09:00:00Z".into()),
                },
            ],
            reason: None,
        };
        assert_eq!(
            check_text(&request, &allowed),
            "allowed: al@x.io holds user on acme/web until 2026-01-01T10:00:00Z\n  \
             via grant b1: admin, until 2026-01-01T10:00:00Z\n  \
             via ⚡ EMERGENCY b2: user, until 2026-01-01T09:00:00Z (request r1)\n"
        );
        let denied = CheckResponse {
            allowed: false,
            expires_at: None,
            via: vec![],
            reason: Some(breakglass_api::DenyReason::NoBinding),
        };
        assert_eq!(
            check_text(&request, &denied),
            "denied: al@x.io does not hold user on acme/web (no_binding)\n"
        );
    }
}
