//! `token`: your API tokens.

use breakglass_api::{CreateToken, Token};
use clap::Subcommand;

use crate::args::Expiry;
use crate::commands::{Ctx, Done, Result};
use crate::render::{limits, opt, until, yes_no, Table};

/// `token` verbs.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; its secret is printed once.
    Create {
        /// Your label for the token.
        name: String,
        /// When it stops working (default: never).
        #[command(flatten)]
        expiry: Expiry,
        /// Confine it to one workspace (default: wherever you may act).
        #[arg(long, value_name = "WS")]
        scope: Option<String>,
        /// It may only read: every write with it is refused (`token.read_only`).
        #[arg(long)]
        read_only: bool,
    },
    /// List your tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// Token id (from `token list`).
        id: String,
    },
}

/// Runs a `token` command.
pub async fn run(ctx: &Ctx, cmd: TokenCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        TokenCommand::Create { name, expiry, scope, read_only } => {
            let body = CreateToken {
                name,
                expires_in: expiry.expires_in,
                expires_at: expiry.expires_at,
                scope,
                read_only: read_only.then_some(true),
            };
            let created = c.create_token(&body).await?;
            Ok(ctx.show(&created, |t| {
                format!(
                    "Created token {} (id {}, {}, expires {}).\n\
                     Its secret is shown only this once; store it now:\n\n    {}\n",
                    t.token.name,
                    t.token.id,
                    limits(t.token.scope.as_deref(), t.token.read_only),
                    until(&t.token.expires_at),
                    t.secret
                )
            }))
        }
        TokenCommand::List => Ok(ctx.show_all(c.all_tokens().await?, tokens)),
        TokenCommand::Revoke { id } => {
            c.revoke_token(&id).await?;
            Ok(ctx.done(format!("Revoked token {id}.")))
        }
    }
}

/// Tokens as a table.
pub fn tokens(list: &[Token]) -> String {
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "KIND",
        "SCOPE",
        "READ-ONLY",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "ACCESS",
    ]);
    for k in list {
        t.row(vec![
            k.id.clone(),
            k.name.clone(),
            k.kind.to_string(),
            k.scope.clone().unwrap_or_else(|| "global".into()),
            yes_no(k.read_only),
            k.created_at.clone(),
            until(&k.expires_at),
            k.last_used_at.clone().unwrap_or_else(|| "never".into()),
            opt(&k.access_id),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_show_scope_limits_and_use() {
        let token: Token = serde_json::from_value(serde_json::json!({
            "id": "t1", "name": "ci", "kind": "api", "created_at": "2026-01-01T00:00:00Z",
            "scope": "acme", "read_only": true, "last_used_at": "2026-01-02T00:00:00Z"
        }))
        .unwrap();
        let table = tokens(&[token]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].contains(" SCOPE ")
                && lines[0].contains(" READ-ONLY ")
                && lines[0].contains(" LAST USED ")
        );
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            ["t1", "ci", "api", "acme", "yes", "2026-01-01T00:00:00Z", "never", "2026-01-02T00:00:00Z", "-"]
        );
    }
}
