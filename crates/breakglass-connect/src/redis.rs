//! The Redis connector (Redis 7 or later). A tenant is a key prefix; an account is an ACL user;
//! a grant is one of the user's selectors, `(~PREFIX* &breakglass:group:GROUP RULES)`, where
//! RULES is the role's mapping (command rules only: the key pattern always comes from the
//! tenant, so no mapping can reach another tenant's keys). The channel pattern names the group,
//! so a listing finds every grant again; a user Breakglass made carries
//! `&breakglass:managed:PLATFORM` at its root, where it may do nothing else. Passwords reach
//! Redis as SHA-256 digests only. Redis has no password expiry: the engine removes the password
//! at the credential's end and ends the user's connections.
//!
//! Drift: a selector or root rule of a managed user changed by hand is listed as a member named
//! `USER (altered by hand)` of the group; removing that member rewrites the user as Breakglass
//! made it. A user Breakglass did not make that holds one of its group's selectors is listed as
//! a member in its own name, and removing it removes only that selector.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::Value;
use sha2::{Digest, Sha256};

use crate::{
    AccountSpec, ActualAccount, Capabilities, ConnectError, Connector, Kind, Membership, SettingSpec,
    TenantSpec,
};

/// The root channel pattern of a user Breakglass manages, before the platform's name.
const MANAGED: &str = "&breakglass:managed:";
/// The channel pattern of a grant's selector, before the group's name.
const GROUP: &str = "&breakglass:group:";
/// How a hand-altered managed user is listed as a member.
const ALTERED: &str = " (altered by hand)";
/// The longest any one command may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The `redis` kind.
pub struct RedisKind;

const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "url",
        secret: false,
        required: true,
        help: "redis://HOST:PORT of a Redis 7 server (no password here: give it in 'password')",
    },
    SettingSpec {
        key: "username",
        secret: false,
        required: false,
        help: "an ACL user that may run ACL and CLIENT KILL (default: the default user)",
    },
    SettingSpec { key: "password", secret: true, required: false, help: "that user's password" },
];

impl Kind for RedisKind {
    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn default_mapping(&self, role: &str) -> &'static str {
        // Commands without key arguments pass every key pattern: `-@dangerous` takes FLUSHALL,
        // FLUSHDB, KEYS and the like; SCAN and RANDOMKEY would show other tenants' key names;
        // functions and scripts are one library for the whole server (FUNCTION FLUSH is a
        // write); PUBSUB lists every channel; CLIENT reaches other connections.
        match role {
            "reader" => "+@read +@connection -@dangerous -@scripting -@pubsub -scan -randomkey -client",
            "user" => "+@read +@write +@connection -@dangerous -@scripting -@pubsub -scan -randomkey -client",
            _ => "+@all -@dangerous -@scripting -@pubsub -scan -randomkey -client",
        }
    }

    fn check_mapping(&self, mapping: &str) -> Result<(), String> {
        parse_rules(mapping).map(drop)
    }

    fn verifier(&self, password: &str) -> Option<String> {
        Some(hex(&Sha256::digest(password.as_bytes())))
    }

    fn connect_line(
        &self,
        settings: &BTreeMap<String, String>,
        _external_id: &str,
        login: &str,
    ) -> Option<String> {
        let (host, port) = host_port(settings.get("url")?).ok()?;
        let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
        Some(format!("redis-cli -h {} -p {port} --user {} --askpass", quote(&host), quote(login)))
    }

    fn connect_in(
        &self,
        platform: &str,
        settings: &BTreeMap<String, String>,
        _env: &crate::Env,
    ) -> Result<Box<dyn Connector>, ConnectError> {
        let url =
            settings.get("url").ok_or_else(|| ConnectError::Invalid("setting 'url' is missing".into()))?;
        let (host, port) = host_port(url).map_err(ConnectError::Invalid)?;
        let info = ::redis::ConnectionInfo {
            addr: ::redis::ConnectionAddr::Tcp(host, port),
            redis: ::redis::RedisConnectionInfo {
                db: 0,
                username: settings.get("username").cloned(),
                password: settings.get("password").cloned(),
                ..Default::default()
            },
        };
        let client = ::redis::Client::open(info)
            .map_err(|e| ConnectError::Invalid(format!("setting 'url' is not usable: {e}")))?;
        Ok(Box::new(RedisConnector {
            client,
            conn: tokio::sync::Mutex::new(None),
            platform: platform.to_owned(),
            marker: format!("{MANAGED}{platform}"),
            groups: Mutex::new(HashMap::new()),
        }))
    }
}

/// `redis://HOST:PORT` (a path of `/0` at most); a password in it is refused, so that it is
/// never kept as a plain setting.
fn host_port(url: &str) -> Result<(String, u16), String> {
    let bad = || "setting 'url' is not redis://HOST:PORT".to_owned();
    let rest = url.strip_prefix("redis://").ok_or_else(bad)?;
    let rest = rest.strip_suffix("/0").or_else(|| rest.strip_suffix('/')).unwrap_or(rest);
    if rest.contains('@') {
        return Err("setting 'url' must not hold credentials: give them in 'username' and 'password'".into());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (rest, 6379),
    };
    if host.is_empty() || host.contains('/') {
        return Err(bad());
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_owned(), port))
}

/// A mapping's command rules: `+` or `-` then a command, `@category` or `command|subcommand`.
fn parse_rules(mapping: &str) -> Result<Vec<String>, String> {
    let rules: Vec<String> = mapping.split_whitespace().map(str::to_owned).collect();
    if rules.is_empty() {
        return Err("a Redis mapping names command rules, such as '+@read +@connection -client'".into());
    }
    for r in &rules {
        let body = r.strip_prefix('+').or_else(|| r.strip_prefix('-'));
        let ok = body.is_some_and(|b| {
            !b.is_empty() && b.chars().all(|c| c.is_ascii_alphanumeric() || "@|_-.".contains(c))
        });
        if !ok {
            return Err(format!(
                "'{}' is not a command rule: a Redis mapping holds only +command, -command, +@category \
                 or -@category (key patterns come from the tenant)",
                r.chars().take(40).collect::<String>()
            ));
        }
    }
    Ok(rules)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One selector of an ACL user: its key patterns, channel patterns and command rules, as Redis
/// writes them back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Selector {
    keys: Vec<String>,
    channels: Vec<String>,
    commands: Vec<String>,
}

impl Selector {
    /// The group this selector grants, when it is one of Breakglass's.
    fn group(&self) -> Option<&str> {
        self.channels.iter().find_map(|c| c.strip_prefix(GROUP))
    }

    /// As an argument of `ACL SETUSER`.
    fn arg(&self) -> String {
        let mut parts: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        parts.push("resetchannels");
        parts.extend(self.channels.iter().map(String::as_str));
        parts.extend(self.commands.iter().map(String::as_str));
        format!("({})", parts.join(" "))
    }
}

/// An ACL user as Redis lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct AclUser {
    name: String,
    /// Flags: `on` or `off`, `nopass`, `sanitize-payload`, ...
    flags: Vec<String>,
    /// Password digests (hex).
    passwords: Vec<String>,
    /// The root permissions.
    root: Selector,
    selectors: Vec<Selector>,
}

impl AclUser {
    fn is_on(&self) -> bool {
        self.flags.iter().any(|f| f == "on")
    }

    /// Parses one line of `ACL LIST`: `user NAME TOKEN... (SELECTOR)...`.
    fn from_list_line(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("user ")?;
        let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut user = AclUser { name: name.to_owned(), ..Default::default() };
        let mut chars = rest.char_indices().peekable();
        let mut root_tokens = Vec::new();
        while let Some((i, c)) = chars.next() {
            match c {
                ' ' => {}
                '(' => {
                    let start = i + 1;
                    let mut end = rest.len();
                    for (j, c) in chars.by_ref() {
                        if c == ')' {
                            end = j;
                            break;
                        }
                    }
                    user.selectors.push(Self::selector(rest[start..end].split_whitespace()));
                }
                _ => {
                    let start = i;
                    let mut end = rest.len();
                    while let Some(&(j, c)) = chars.peek() {
                        if c == ' ' {
                            end = j;
                            break;
                        }
                        chars.next();
                    }
                    root_tokens.push(&rest[start..end]);
                }
            }
        }
        let mut root = Vec::new();
        for t in root_tokens {
            if let Some(p) = t.strip_prefix('#') {
                user.passwords.push(p.to_owned());
            } else if matches!(t, "on" | "off" | "nopass" | "sanitize-payload" | "skip-sanitize-payload") {
                user.flags.push(t.to_owned());
            } else {
                root.push(t);
            }
        }
        user.root = Self::selector(root.into_iter());
        Some(user)
    }

    fn selector<'a>(tokens: impl Iterator<Item = &'a str>) -> Selector {
        let mut s = Selector::default();
        for t in tokens {
            if t == "resetchannels" || t == "resetkeys" {
                continue;
            } else if t.starts_with('~') || t.starts_with('%') || t == "allkeys" {
                s.keys.push(t.to_owned());
            } else if t.starts_with('&') || t == "allchannels" {
                s.channels.push(t.to_owned());
            } else {
                s.commands.push(t.to_owned());
            }
        }
        s
    }

    /// The whole user as the arguments of one `ACL SETUSER`, which replaces what it was.
    fn setuser_args(&self) -> Vec<String> {
        let mut args = vec!["SETUSER".to_owned(), self.name.clone(), "reset".to_owned()];
        args.extend(self.flags.iter().cloned());
        args.extend(self.passwords.iter().map(|p| format!("#{p}")));
        args.extend(self.root.keys.iter().cloned());
        args.push("resetchannels".to_owned());
        args.extend(self.root.channels.iter().cloned());
        args.extend(self.root.commands.iter().cloned());
        args.extend(self.selectors.iter().map(Selector::arg));
        args
    }
}

/// What a group's selector must be, and the tenant it belongs to.
#[derive(Clone, Debug)]
struct GroupRule {
    /// The rules as given (`~PREFIX* &breakglass:group:G RULES`).
    given: Selector,
    /// The same as Redis writes it back (found once, with a throwaway user).
    listed: Selector,
}

/// A connection to one Redis server.
pub struct RedisConnector {
    client: ::redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    platform: String,
    /// The root channel pattern of this platform's users.
    marker: String,
    /// The managed groups seen so far, by name.
    groups: Mutex<HashMap<String, GroupRule>>,
}

fn failed(e: &::redis::RedisError) -> ConnectError {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        ConnectError::Unreachable(e.to_string())
    } else {
        ConnectError::Refused(e.to_string())
    }
}

impl RedisConnector {
    /// Runs one command, connecting first when there is no connection.
    async fn run(&self, args: &[String]) -> Result<Value, ConnectError> {
        let mut slot = self.conn.lock().await;
        if slot.is_none() {
            let made = tokio::time::timeout(TIMEOUT, self.client.get_multiplexed_async_connection()).await;
            *slot = Some(match made {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(failed(&e)),
                Err(_) => return Err(ConnectError::Unreachable("no answer within 5 s".into())),
            });
        }
        let conn = slot.as_mut().expect("connected above");
        let mut cmd = ::redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        match tokio::time::timeout(TIMEOUT, cmd.query_async::<Value>(conn)).await {
            Ok(Ok(Value::ServerError(e))) => Err(ConnectError::Refused(format!("{e:?}"))),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let err = failed(&e);
                if matches!(err, ConnectError::Unreachable(_)) {
                    *slot = None;
                }
                Err(err)
            }
            Err(_) => {
                *slot = None;
                Err(ConnectError::Unreachable("no answer within 5 s".into()))
            }
        }
    }

    async fn acl(&self, args: &[&str]) -> Result<Value, ConnectError> {
        let mut all = vec!["ACL".to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        self.run(&all).await
    }

    /// Every ACL user.
    async fn users(&self) -> Result<Vec<AclUser>, ConnectError> {
        let listed = self.acl(&["LIST"]).await?;
        let Value::Array(lines) = listed else {
            return Err(ConnectError::Refused("ACL LIST did not answer a list".into()));
        };
        Ok(lines
            .into_iter()
            .filter_map(|l| match l {
                Value::BulkString(b) => String::from_utf8(b).ok(),
                Value::SimpleString(s) => Some(s),
                _ => None,
            })
            .filter_map(|l| AclUser::from_list_line(&l))
            .collect())
    }

    /// One ACL user, `None` when there is none.
    async fn user(&self, name: &str) -> Result<Option<AclUser>, ConnectError> {
        // `ACL LIST` has no filter, so one user is read with `ACL GETUSER`, whose fields are
        // classified by the same rules as a listing's tokens (`AclUser::selector`).
        let fields = match self.acl(&["GETUSER", name]).await? {
            Value::Nil => return Ok(None),
            Value::Array(fields) => fields,
            // Never take an answer in another shape for "no such user": that would let a
            // user Breakglass did not make be taken over.
            _ => return Err(ConnectError::Refused("ACL GETUSER answered in an unexpected shape".into())),
        };
        let mut user = AclUser { name: name.to_owned(), ..Default::default() };
        let text = |v: &Value| match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            _ => String::new(),
        };
        let words = |v: &Value| -> Vec<String> {
            match v {
                Value::Array(items) => items.iter().map(text).collect(),
                other => text(other).split_whitespace().map(str::to_owned).collect(),
            }
        };
        let selector_of = |fields: &[Value]| {
            let mut tokens = Vec::new();
            for pair in fields.chunks(2) {
                if let [k, v] = pair {
                    if matches!(text(k).as_str(), "commands" | "keys" | "channels") {
                        tokens.extend(words(v));
                    }
                }
            }
            AclUser::selector(tokens.iter().map(String::as_str))
        };
        let mut root = Vec::new();
        for pair in fields.chunks(2) {
            let [k, v] = pair else { continue };
            match text(k).as_str() {
                "flags" => user.flags = words(v),
                "passwords" => user.passwords = words(v),
                "commands" | "keys" | "channels" => root.extend(words(v)),
                "selectors" => {
                    if let Value::Array(list) = v {
                        for s in list {
                            if let Value::Array(f) = s {
                                user.selectors.push(selector_of(f));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        user.flags.retain(|f| {
            matches!(f.as_str(), "on" | "off" | "nopass" | "sanitize-payload" | "skip-sanitize-payload")
        });
        user.root = AclUser::selector(root.iter().map(String::as_str));
        Ok(Some(user))
    }

    async fn set(&self, user: &AclUser) -> Result<(), ConnectError> {
        let mut args = vec!["ACL".to_owned()];
        args.extend(user.setuser_args());
        self.run(&args).await.map(drop)
    }

    /// Whether `user` is one of this platform's.
    fn managed(&self, user: &AclUser) -> bool {
        user.root.channels.contains(&self.marker)
    }

    /// What a managed user's root must be: no key, only the marker, no command.
    fn root(&self) -> Selector {
        Selector { keys: vec![], channels: vec![self.marker.clone()], commands: vec!["-@all".to_owned()] }
    }

    /// The rules of a tenant's groups, learnt once (Redis rewrites rules in its own order).
    async fn learn(&self, tenant: &TenantSpec) -> Result<(), ConnectError> {
        let prefix = &tenant.external_id;
        // The pattern is `~NAME:*`, and a name holds no `:`, so no tenant's keys are inside
        // another's (`pay` and `payments` give `pay:*` and `payments:*`).
        let good = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if !prefix.chars().all(good) {
            return Err(ConnectError::Invalid(format!(
                "tenant '{prefix}': a Redis tenant is a key prefix name of letters, digits, '-', '_' and '.', \
                 and holds the keys NAME:*"
            )));
        }
        for group in tenant.groups.values() {
            let given = Selector {
                keys: vec![format!("~{prefix}:*")],
                channels: vec![format!("{GROUP}{}", group.name)],
                commands: parse_rules(&group.mapping).map_err(ConnectError::Invalid)?,
            };
            let known = self
                .groups
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&group.name)
                .map(|r| r.given.clone());
            if known.as_ref() == Some(&given) {
                continue;
            }
            let probe = format!("breakglass-probe:{}", self.platform);
            let probe_user = AclUser {
                name: probe.clone(),
                flags: vec!["off".into()],
                selectors: vec![given.clone()],
                ..Default::default()
            };
            self.set(&probe_user).await?;
            let listed = self.user(&probe).await?;
            self.acl(&["DELUSER", &probe]).await?;
            let listed = listed.and_then(|u| u.selectors.into_iter().next()).ok_or_else(|| {
                ConnectError::Refused("Redis kept no selector (Redis 7 or later is needed)".into())
            })?;
            self.groups
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(group.name.clone(), GroupRule { given, listed });
        }
        Ok(())
    }

    fn rule(&self, group: &str) -> Option<GroupRule> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner()).get(group).cloned()
    }

    /// A managed user as Breakglass made it: its root and only its groups' selectors as they
    /// must be (a selector altered by hand is dropped; the engine grants it again).
    fn canonical(&self, mut user: AclUser) -> AclUser {
        user.root = self.root();
        user.selectors = user
            .selectors
            .iter()
            .filter_map(|s| s.group().and_then(|g| self.rule(g)).filter(|r| r.listed == *s).map(|r| r.given))
            .collect();
        user
    }
}

#[async_trait::async_trait]
impl Connector for RedisConnector {
    fn capabilities(&self) -> Capabilities {
        Capabilities { credentials: true, enforces_expiry: false, ends_sessions: true, lists_members: true }
    }

    async fn health(&self) -> Result<(), ConnectError> {
        self.run(&["PING".to_owned()]).await.map(drop)
    }

    async fn ensure_tenant(&self, tenant: &TenantSpec) -> Result<(), ConnectError> {
        // Groups are selectors on each user: nothing to make, only their rules to learn.
        self.learn(tenant).await
    }

    async fn list_members(&self, tenant: &TenantSpec) -> Result<Vec<Membership>, ConnectError> {
        self.learn(tenant).await?;
        let groups: Vec<&str> = tenant.groups.values().map(|g| g.name.as_str()).collect();
        let mut out = Vec::new();
        for user in self.users().await? {
            let managed = self.managed(&user);
            // Anything a user Breakglass made holds beyond its root and its groups' selectors
            // (a selector added by hand, rules at the root) is drift on every group it holds.
            let root_ok = user.root == self.root()
                && user
                    .selectors
                    .iter()
                    .all(|s| s.group().and_then(|g| self.rule(g)).is_some_and(|r| r.listed == *s));
            for s in &user.selectors {
                let Some(group) = s.group().filter(|g| groups.contains(g)) else { continue };
                let intact = self.rule(group).is_some_and(|r| r.listed == *s);
                let member = |name: String| Membership { group: group.to_owned(), member: name };
                if !managed {
                    out.push(member(user.name.clone()));
                    continue;
                }
                if intact {
                    out.push(member(user.name.clone()));
                }
                if !intact || !root_ok {
                    out.push(member(format!("{}{ALTERED}", user.name)));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn list_accounts(&self) -> Result<Vec<ActualAccount>, ConnectError> {
        Ok(self
            .users()
            .await?
            .into_iter()
            .filter(|u| self.managed(u))
            // One password and no `nopass`, as Breakglass sets it: anything else shows as no
            // login, so the engine sets the login again.
            .map(|u| ActualAccount {
                can_login: u.is_on() && u.passwords.len() == 1 && !u.flags.iter().any(|f| f == "nopass"),
                name: u.name,
            })
            .collect())
    }

    async fn ensure_account(&self, account: &AccountSpec) -> Result<(), ConnectError> {
        let existing = self.user(&account.name).await?;
        if let Some(u) = &existing {
            if !self.managed(u) {
                return Err(ConnectError::Refused(format!(
                    "an ACL user named '{}' exists that Breakglass did not make; it is left alone",
                    account.name
                )));
            }
        }
        let had_login = existing.as_ref().is_some_and(|u| u.is_on() && !u.passwords.is_empty());
        let mut user = self.canonical(
            existing.unwrap_or_else(|| AclUser { name: account.name.clone(), ..Default::default() }),
        );
        user.flags = vec![if account.login.is_some() { "on" } else { "off" }.to_owned()];
        user.passwords = account.login.iter().map(|(v, _)| v.clone()).collect();
        self.set(&user).await?;
        if had_login && account.login.is_none() {
            self.end_sessions(&account.name).await?;
        }
        Ok(())
    }

    async fn delete_account(&self, name: &str) -> Result<(), ConnectError> {
        let Some(user) = self.user(name).await? else { return Ok(()) };
        if !self.managed(&user) {
            return Ok(());
        }
        self.end_sessions(name).await?;
        self.acl(&["DELUSER", name]).await.map(drop)
    }

    async fn grant(&self, group: &str, member: &str) -> Result<(), ConnectError> {
        let rule = self.rule(group).ok_or_else(|| {
            ConnectError::Refused(format!("group '{group}' is not known yet (its tenant was not set up)"))
        })?;
        let user = self
            .user(member)
            .await?
            .ok_or_else(|| ConnectError::Refused(format!("there is no ACL user '{member}'")))?;
        if !self.managed(&user) {
            return Err(ConnectError::Refused(format!("ACL user '{member}' is not one Breakglass made")));
        }
        let mut user = self.canonical(user);
        user.selectors.retain(|s| s.group() != Some(group));
        user.selectors.push(rule.given);
        self.set(&user).await
    }

    async fn revoke(&self, group: &str, member: &str) -> Result<(), ConnectError> {
        if let Some(name) = member.strip_suffix(ALTERED) {
            // Drift on a managed user: rewrite it as Breakglass made it.
            return match self.user(name).await? {
                Some(u) if self.managed(&u) => self.set(&self.canonical(u)).await,
                _ => Ok(()),
            };
        }
        let Some(mut user) = self.user(member).await? else { return Ok(()) };
        user.selectors.retain(|s| s.group() != Some(group));
        if self.managed(&user) {
            return self.set(&self.canonical(user)).await;
        }
        // A user Breakglass did not make loses that selector and nothing else: its other
        // selectors are set again, its root, flags and passwords are not touched.
        let mut args =
            vec!["ACL".to_owned(), "SETUSER".to_owned(), user.name.clone(), "clearselectors".to_owned()];
        args.extend(user.selectors.iter().map(Selector::arg));
        self.run(&args).await.map(drop)
    }

    async fn end_sessions(&self, account: &str) -> Result<(), ConnectError> {
        // Only a user Breakglass made: drift removed from another's user leaves its connections.
        if !self.user(account).await?.is_some_and(|u| self.managed(&u)) {
            return Ok(());
        }
        match self.run(&["CLIENT".into(), "KILL".into(), "USER".into(), account.to_owned()]).await {
            Ok(_) => Ok(()),
            // No such user, or no connection of it: nothing to end.
            Err(ConnectError::Refused(e)) if e.contains("No such user") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_line_parses_into_root_flags_passwords_and_selectors() {
        let line = "user bg_a off sanitize-payload #2d71 resetchannels &breakglass:managed:pg -@all \
                    (~ledger:* resetchannels &breakglass:group:g1 -@all +@read +@connection) \
                    (~ops:* resetchannels &breakglass:group:g2 +@all -@dangerous)";
        let u = AclUser::from_list_line(line).unwrap();
        assert_eq!(u.name, "bg_a");
        assert_eq!(u.flags, ["off", "sanitize-payload"]);
        assert_eq!(u.passwords, ["2d71"]);
        assert_eq!(u.root.channels, ["&breakglass:managed:pg"]);
        assert_eq!(u.root.commands, ["-@all"]);
        assert_eq!(u.selectors.len(), 2);
        assert_eq!(u.selectors[0].group(), Some("g1"));
        assert_eq!(u.selectors[1].keys, ["~ops:*"]);
        assert_eq!(u.selectors[1].commands, ["+@all", "-@dangerous"]);
    }

    #[test]
    fn mappings_hold_command_rules_only_and_urls_no_credentials() {
        assert!(parse_rules("+@read +@connection -client").is_ok());
        assert!(parse_rules("+get|x").is_ok());
        for bad in ["", "~*", "+@read ~*", "allkeys", "+@read (x)", ">secret", "&*", "on", "+@read\u{0}"] {
            assert!(parse_rules(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(host_port("redis://127.0.0.1:6380").unwrap(), ("127.0.0.1".into(), 6380));
        assert_eq!(host_port("redis://cache/0").unwrap(), ("cache".into(), 6379));
        assert!(host_port("redis://admin:pw@cache:6379").unwrap_err().contains("must not hold credentials"));
        assert!(host_port("http://cache").is_err());
    }
}
