//! What every command gets and gives back, and one module per noun holding its arguments, its
//! dispatch and its rendering. Nothing here prints; `main` writes [`Done`].

use breakglass_api::Page;
use breakglass_client::{Client, ClientError};

use crate::render::json;

pub mod access;
pub mod audit;
pub mod check;
pub mod credentials;
pub mod entitlement;
pub mod grant;
pub mod invitation;
pub mod member;
pub mod message;
pub mod platform;
pub mod policy;
pub mod project;
pub mod request;
pub mod review;
pub mod service_user;
pub mod session;
pub mod settings;
pub mod ssh;
pub mod tag;
pub mod task;
pub mod tenant;
pub mod token;
pub mod user;
pub mod workspace;

/// What a command produced: text for standard output and how it ended.
pub struct Done {
    /// What to write to standard output (text, or bytes such as a revocation list).
    pub out: Vec<u8>,
    /// How the command ended.
    pub status: Status,
}

/// How a command that talked to the server ended.
pub enum Status {
    /// Exit 0.
    Success,
    /// `check` said no: exit 3.
    Denied,
    /// The server answered but the outcome is a failure (a broken audit chain): exit 1 with
    /// this line on standard error.
    Failed(String),
}

/// Why a command could not complete.
#[derive(Debug)]
pub enum Fail {
    /// The command line does not make sense (exit 2).
    Usage(String),
    /// The call failed (exit 1, or 2 for a bad URL or token).
    Client(ClientError),
}

impl From<ClientError> for Fail {
    fn from(err: ClientError) -> Self {
        Fail::Client(err)
    }
}

pub type Result<T, E = Fail> = std::result::Result<T, E>;

/// Client and output format of one invocation.
pub struct Ctx {
    /// The client, with the token if one was given.
    pub client: Client,
    /// `-o json`.
    pub json: bool,
}

impl Ctx {
    /// The API JSON of `value`, or `table(value)`.
    pub fn show<T: serde::Serialize>(&self, value: &T, table: impl FnOnce(&T) -> String) -> Done {
        let out = if self.json { json(value) } else { table(value) };
        Done { out: out.into_bytes(), status: Status::Success }
    }

    /// A list as `{"items": [...]}`, or `table(items)`.
    pub fn show_all<T: serde::Serialize>(&self, items: Vec<T>, table: fn(&[T]) -> String) -> Done {
        let page = Page { items, next_cursor: None };
        self.show(&page, |p| table(&p.items))
    }

    /// The confirmation of a write with no body: a line in table mode, nothing in JSON mode.
    pub fn done(&self, message: String) -> Done {
        let out = if self.json { String::new() } else { message + "\n" };
        Done { out: out.into_bytes(), status: Status::Success }
    }
}
