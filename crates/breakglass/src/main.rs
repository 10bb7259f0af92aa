//! The `breakglass` binary: server roles (`serve`, `migrate`) and the command-line client.
//!
//! Exit codes: 0 success; 1 the server refused or failed, with exactly one `error: ...` line on
//! standard error; 2 usage error; 3 `check` denied.

mod args;
mod cli;
mod commands;
mod connector_test;
#[cfg(test)]
mod fixtures;
mod huge_pages;
mod render;
mod serve;

use std::io::Write;
use std::process::ExitCode;

use breakglass_client::{root_cause, Client, ClientError};
use clap::Parser;

use crate::cli::{Cli, Command, Output};
use crate::commands::{Ctx, Done, Fail, Status};

/// Exit code when the server refused or failed.
const EXIT_FAILED: u8 = 1;
/// Exit code of a usage error (as clap's own).
const EXIT_USAGE: u8 = 2;
/// Exit code of `check` when access is denied.
const EXIT_DENIED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        // Before any thread exists: this may replace the process.
        huge_pages::use_huge_pages();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(EXIT_FAILED, &format!("cannot start the runtime: {e}")),
    };
    match cli.command {
        Command::Serve(args) => {
            serve::init_tracing();
            server_result(runtime.block_on(breakglass_server::serve(serve::config(args))))
        }
        Command::Migrate(args) => {
            serve::init_tracing();
            server_result(runtime.block_on(breakglass_server::migrate(&serve::store_config(&args))))
        }
        Command::Connector(cmd) => match runtime.block_on(connector_test::run(cmd)) {
            Ok((out, passed)) => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush());
                if passed {
                    ExitCode::SUCCESS
                } else {
                    fail(EXIT_FAILED, "the connector program does not follow the protocol (see above)")
                }
            }
            Err(usage) => fail(EXIT_USAGE, &usage),
        },
        command => {
            let server = cli.server;
            let client = match Client::new(&server, cli.token.filter(|t| !t.is_empty())) {
                Ok(client) => client,
                Err(e) => return fail(EXIT_USAGE, &format!("--server: {e}")),
            };
            // `--as` (or BREAKGLASS_ACT_AS); empty means yourself, like an empty --token.
            let client = match cli.act_as.filter(|o| !o.is_empty()) {
                Some(owner) => match client.acting_as(&owner) {
                    Ok(client) => client,
                    Err(e) => return fail(EXIT_USAGE, &format!("--as: {e}")),
                },
                None => client,
            };
            let ctx = Ctx { client, json: cli.output == Output::Json };
            // After a refused login, pointing at `login` helps nobody.
            let hint = !matches!(command, Command::Login(_)) && ctx.client.token().is_none();
            let result = runtime.block_on(cli::run(&ctx, command));
            finish(&server, hint, result)
        }
    }
}

/// Writes a client command's output and picks the exit code. With `hint`, a 401 says how to
/// sign in.
fn finish(server: &str, hint: bool, result: Result<Done, Fail>) -> ExitCode {
    match result {
        Ok(Done { out, status }) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not worth a second error.
            let _ = stdout.write_all(&out).and_then(|()| stdout.flush());
            match status {
                Status::Success => ExitCode::SUCCESS,
                Status::Denied => ExitCode::from(EXIT_DENIED),
                Status::Failed(line) => fail(EXIT_FAILED, &line),
            }
        }
        Err(Fail::Usage(message)) => fail(EXIT_USAGE, &message),
        Err(Fail::Client(err)) => {
            let code = match err {
                ClientError::InvalidUrl(_) | ClientError::InvalidToken => EXIT_USAGE,
                _ => EXIT_FAILED,
            };
            fail(code, &client_error_line(&err, server, hint))
        }
    }
}

/// The one line that explains a failed call.
fn client_error_line(err: &ClientError, server: &str, hint: bool) -> String {
    match err {
        ClientError::Api { status, problem } => {
            let mut line = format!("{}: {}", problem.code, problem.detail);
            if *status == 401 && hint {
                line.push_str(" (sign in with `breakglass login`, or pass --token / set BREAKGLASS_TOKEN)");
            }
            line
        }
        ClientError::Transport(e) => format!("cannot reach {server}: {}", root_cause(e)),
        ClientError::Decode(detail) => format!("unexpected answer from {server}: {detail}"),
        other => other.to_string(),
    }
}

/// Prints `error: <line>` (on one line) to standard error and returns `code`.
fn fail(code: u8, line: &str) -> ExitCode {
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("error: {line}");
    ExitCode::from(code)
}

fn server_result(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(EXIT_FAILED, &format!("{e:#}")),
    }
}
