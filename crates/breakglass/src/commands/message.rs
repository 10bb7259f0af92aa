//! `message`: the admin area's messages to a workspace's users.

use breakglass_api::{Message, SendMessage};
use clap::Subcommand;

use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, Table, NONE};

/// `message` verbs.
#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Send a message to a workspace's users (admin area).
    Send {
        /// Workspace identifier.
        workspace: String,
        /// all_must_read: each user sees it until they acknowledge it; single_read: gone for
        /// everyone once one user acknowledges it.
        #[arg(long, value_name = "MODE", value_parser = ["all_must_read", "single_read"])]
        mode: String,
        /// The text.
        text: String,
    },
    /// List a workspace's messages with who acknowledged them (admin area).
    List {
        /// Workspace identifier.
        workspace: String,
    },
    /// List the messages you have still to read.
    Inbox,
    /// Acknowledge a message.
    Ack {
        /// Message id.
        id: String,
    },
}

/// Runs a `message` command.
pub async fn run(ctx: &Ctx, cmd: MessageCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        MessageCommand::Send { workspace, mode, text } => {
            let body = SendMessage { text, mode };
            Ok(ctx.show(&c.send_message(&workspace, &body).await?, message))
        }
        MessageCommand::List { workspace } => {
            Ok(ctx.show_all(c.all_workspace_messages(&workspace).await?, messages))
        }
        MessageCommand::Inbox => Ok(ctx.show_all(c.all_my_messages().await?, messages)),
        MessageCommand::Ack { id } => {
            c.ack_message(&id).await?;
            Ok(ctx.done(format!("Acknowledged message {id}.")))
        }
    }
}

/// Who acknowledged a message, or [`NONE`].
fn read_by(m: &Message) -> String {
    if m.acknowledgements.is_empty() {
        return NONE.into();
    }
    m.acknowledgements.iter().map(|a| a.user.as_str()).collect::<Vec<_>>().join(", ")
}

/// A message as a record.
pub fn message(m: &Message) -> String {
    let mut pairs = vec![
        ("message", m.id.clone()),
        ("workspace", m.workspace.clone()),
        ("mode", m.mode.to_string()),
        ("from", m.sender.clone()),
        ("sent", m.created_at.clone()),
    ];
    let acks: Vec<String> = m.acknowledgements.iter().map(|a| format!("{} ({})", a.user, a.at)).collect();
    pairs.push(("read by", if acks.is_empty() { NONE.into() } else { acks.join("; ") }));
    pairs.push(("text", m.text.clone()));
    fields(&pairs)
}

/// Messages as a table, the text last.
pub fn messages(list: &[Message]) -> String {
    let mut t = Table::new(&["ID", "WORKSPACE", "MODE", "FROM", "SENT", "READ BY", "TEXT"]);
    for m in list {
        t.row(vec![
            m.id.clone(),
            m.workspace.clone(),
            m.mode.to_string(),
            m.sender.clone(),
            m.created_at.clone(),
            read_by(m),
            m.text.clone(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn messages_show_who_acknowledged_them() {
        let m = fixtures::message();
        let table = messages(std::slice::from_ref(&m));
        assert!(table.lines().nth(1).unwrap().ends_with("  bob@x.io  patch day"), "{table}");
        assert!(message(&m).contains("read by:    bob@x.io (2026-01-01T01:00:00Z)\n"), "{}", message(&m));
    }
}
