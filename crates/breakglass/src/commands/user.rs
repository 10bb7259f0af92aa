//! `user`: user accounts (admins).

use breakglass_api::{CreateUser, User};
use clap::Subcommand;

use crate::args::read_stdin_line;
use crate::commands::{Ctx, Done, Result};
use crate::render::{fields, Table};

/// `user` verbs.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// E-mail, unique regardless of case.
        email: String,
        /// Display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Admin-area role: none, admin, employee or auditor.
        #[arg(long, value_name = "ROLE")]
        admin_role: Option<String>,
        /// Read an initial password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

/// Runs a `user` command.
pub async fn run(ctx: &Ctx, cmd: UserCommand) -> Result<Done> {
    let c = &ctx.client;
    match cmd {
        UserCommand::Create { email, name, admin_role, password_stdin } => {
            let password = if password_stdin { Some(read_stdin_line()?) } else { None };
            let body = CreateUser { email, name, admin_role, password };
            Ok(ctx.show(&c.create_user(&body).await?, user))
        }
        UserCommand::List => Ok(ctx.show_all(c.all_users().await?, users)),
    }
}

/// A user as a record.
pub fn user(u: &User) -> String {
    fields(&[
        ("email", u.email.clone()),
        ("name", u.name.clone()),
        ("id", u.id.clone()),
        ("admin role", u.admin_role.to_string()),
        ("status", u.status.to_string()),
        ("created", u.created_at.clone()),
    ])
}

/// Users as a table.
pub fn users(list: &[User]) -> String {
    let mut t = Table::new(&["EMAIL", "NAME", "ADMIN ROLE", "STATUS", "CREATED", "ID"]);
    for u in list {
        t.row(vec![
            u.email.clone(),
            u.name.clone(),
            u.admin_role.to_string(),
            u.status.to_string(),
            u.created_at.clone(),
            u.id.clone(),
        ]);
    }
    t.render()
}
