//! Connectors: how Breakglass places and removes access on a platform.
//!
//! One trait, [`Connector`], says what a platform must be able to do: make a tenant's groups
//! exist with the privileges its role mapping gives them, list who is a member of them, make
//! and delete accounts, grant and revoke a group to an account, end an account's sessions, and
//! turn a password into the verifier the platform stores. Every operation is idempotent, so the
//! engine may repeat any of them after a crash or a retry. The engine decides *what* must hold;
//! a connector only does it, outside any lock of the server.

use std::collections::BTreeMap;
use std::fmt;

pub mod external;
pub mod postgres;
pub mod redis;
pub mod ssh;

/// A tenant as a connector sees it: where it is on the platform and its managed groups.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantSpec {
    /// How the platform names the tenant (for PostgreSQL: a database).
    pub external_id: String,
    /// The managed groups, by project role name (`reader`, `user`, `admin`).
    pub groups: BTreeMap<String, GroupSpec>,
}

/// One managed group of a tenant: its name on the platform and what it may do there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupSpec {
    /// The group's name on the platform.
    pub name: String,
    /// What it may do, in the connector's terms (see [`Connector::check_mapping`]).
    pub mapping: String,
}

/// An account the platform must hold.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// Its name on the platform.
    pub name: String,
    /// While it may log in: the password verifier and the instant logins stop being accepted
    /// (Unix microseconds; `None`: no end). `None`: no login.
    pub login: Option<(String, Option<i64>)>,
}

impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("name", &self.name)
            .field("login_until", &self.login.as_ref().map(|(_, until)| until))
            .finish()
    }
}

/// An account Breakglass manages that the platform holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActualAccount {
    /// Its name.
    pub name: String,
    /// Whether it may log in.
    pub can_login: bool,
}

/// A member of a managed group, as the platform lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Membership {
    /// The group.
    pub group: String,
    /// The member (an account of Breakglass's, or anything else granted by hand).
    pub member: String,
}

/// What a connector can do beyond placing and removing grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// It makes login accounts with passwords (credentials can be issued).
    pub credentials: bool,
    /// The platform itself refuses a credential after its end (`VALID UNTIL`).
    pub enforces_expiry: bool,
    /// It ends an account's open sessions.
    pub ends_sessions: bool,
    /// It lists group members, so drift can be found.
    pub lists_members: bool,
}

/// Why an operation on a platform failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The platform cannot be reached (retried).
    #[error("cannot reach the platform: {0}")]
    Unreachable(String),
    /// The platform refused the operation (retried; likely needs an operator).
    #[error("the platform refused: {0}")]
    Refused(String),
    /// The platform's settings or mapping are not usable (not retried until they change).
    #[error("{0}")]
    Invalid(String),
}

/// A setting a kind of platform takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingSpec {
    /// Its key.
    pub key: &'static str,
    /// Whether it is a secret: sealed at rest, never shown again.
    pub secret: bool,
    /// Whether it must be given.
    pub required: bool,
    /// What it is.
    pub help: &'static str,
}

/// What every connector does. All operations are idempotent.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// Whether the platform answers.
    async fn health(&self) -> Result<(), ConnectError>;
    /// Makes the tenant's groups exist with their privileges.
    async fn ensure_tenant(&self, tenant: &TenantSpec) -> Result<(), ConnectError>;
    /// The members of the tenant's managed groups.
    async fn list_members(&self, tenant: &TenantSpec) -> Result<Vec<Membership>, ConnectError>;
    /// The accounts Breakglass manages on the platform.
    async fn list_accounts(&self) -> Result<Vec<ActualAccount>, ConnectError>;
    /// Makes the account exist as given (its login and the end of it).
    async fn ensure_account(&self, account: &AccountSpec) -> Result<(), ConnectError>;
    /// Removes an account (ending its sessions first); a missing one is no error.
    async fn delete_account(&self, name: &str) -> Result<(), ConnectError>;
    /// Makes `member` a member of `group`.
    async fn grant(&self, group: &str, member: &str) -> Result<(), ConnectError>;
    /// Makes the accounts exist as given, all at once where the platform can; an error says
    /// nothing of which failed (the engine then goes one by one).
    async fn ensure_accounts(&self, accounts: &[AccountSpec]) -> Result<(), ConnectError> {
        for a in accounts {
            self.ensure_account(a).await?;
        }
        Ok(())
    }
    /// Places several memberships `(group, member)` at once where the platform can; an error
    /// says nothing of which failed (the engine then goes one by one).
    async fn grant_many(&self, grants: &[(String, String)]) -> Result<(), ConnectError> {
        for (group, member) in grants {
            self.grant(group, member).await?;
        }
        Ok(())
    }
    /// Makes `member` no member of `group`; a membership that is not there is no error.
    async fn revoke(&self, group: &str, member: &str) -> Result<(), ConnectError>;
    /// Ends the open sessions of `account`.
    async fn end_sessions(&self, account: &str) -> Result<(), ConnectError>;
    /// The verifier of `password` the platform stores, for kinds whose [`Kind::verifier`]
    /// cannot tell (the program of an external connector knows its system's).
    async fn verifier(&self, _password: &str) -> Result<String, ConnectError> {
        Err(ConnectError::Invalid("this connector makes no logins".into()))
    }
}

/// What the server lets connectors use, beyond a platform's settings.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// Where the programs of external connectors are; `None`: external connectors are off.
    pub connectors_dir: Option<std::path::PathBuf>,
}

/// A kind of platform with a built-in connector.
pub trait Kind {
    /// The settings it takes.
    fn settings(&self) -> &'static [SettingSpec];
    /// The default mapping of a project role (`reader`, `user`, `admin`).
    fn default_mapping(&self, role: &str) -> &'static str;
    /// Checks a role mapping; the error says what is wrong.
    fn check_mapping(&self, mapping: &str) -> Result<(), String>;
    /// The verifier of `password` the platform stores (never the password); `None` when only
    /// a connector can tell ([`Connector::verifier`]).
    fn verifier(&self, password: &str) -> Option<String>;
    /// Whether settings beyond [`Kind::settings`] are taken (handed on to the connector).
    fn open_ended(&self) -> bool {
        false
    }
    /// Whether the engine reconciles platforms of this kind. A kind whose access the platform
    /// checks by itself (SSH certificates) has nothing to place.
    fn provisions(&self) -> bool {
        true
    }
    /// Checks one setting's value; the error says what is wrong.
    fn check_setting(&self, _key: &str, _value: &str) -> Result<(), String> {
        Ok(())
    }
    /// The settings the kind makes itself when they are not given at registration (an SSH
    /// platform's certificate authority).
    fn generated_settings(&self) -> Result<Vec<(&'static str, String)>, String> {
        Ok(Vec::new())
    }
    /// A ready command line that connects `login` to a tenant, where the kind has one.
    fn connect_line(
        &self,
        settings: &BTreeMap<String, String>,
        external_id: &str,
        login: &str,
    ) -> Option<String>;
    /// A connector for the platform `platform` with these settings (secret ones already
    /// opened). What it makes carries the platform's name, so two platforms on one system never
    /// take each other's accounts for their own.
    fn connect(
        &self,
        platform: &str,
        settings: &BTreeMap<String, String>,
    ) -> Result<Box<dyn Connector>, ConnectError> {
        self.connect_in(platform, settings, &Env::default())
    }
    /// [`Kind::connect`], with what the server lets connectors use.
    fn connect_in(
        &self,
        platform: &str,
        settings: &BTreeMap<String, String>,
        env: &Env,
    ) -> Result<Box<dyn Connector>, ConnectError>;
}

/// The built-in kind named `kind`, if there is one.
pub fn kind(kind: &str) -> Option<&'static dyn Kind> {
    match kind {
        "postgres" | "postgresql" => Some(&postgres::PostgresKind),
        "redis" => Some(&redis::RedisKind),
        "external" => Some(&external::ExternalKind),
        "ssh" => Some(&ssh::SshKind),
        _ => None,
    }
}

/// Checks settings against a kind's specification: every required one given, none unknown.
pub fn check_settings(kind: &dyn Kind, given: &[&str]) -> Result<(), String> {
    let specs = kind.settings();
    let unknown = given.iter().find(|k| !specs.iter().any(|s| s.key == **k));
    if let Some(unknown) = unknown.filter(|_| !kind.open_ended()) {
        let known: Vec<&str> = specs.iter().map(|s| s.key).collect();
        return Err(format!("unknown setting '{unknown}': this kind takes {}", known.join(", ")));
    }
    if let Some(missing) = specs.iter().find(|s| s.required && !given.contains(&s.key)) {
        return Err(format!("setting '{}' is required: {}", missing.key, missing.help));
    }
    Ok(())
}
