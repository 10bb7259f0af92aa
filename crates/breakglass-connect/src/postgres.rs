//! The PostgreSQL connector. A tenant is a database; each project role is a `NOLOGIN` group
//! role (cluster-wide, as roles are) holding `CONNECT` on the database, `USAGE` on its schemas
//! and the table privileges its mapping names, for tables there now and created later. A user's
//! account is a role that is a member of the groups of their roles; it may log in only while a
//! credential is live, with `VALID UNTIL` at the credential's end, so PostgreSQL itself refuses
//! it afterwards. Roles Breakglass made carry a comment (`breakglass:group`,
//! `breakglass:account`, each followed by `:` and the platform's name) by which they are listed
//! again. Names are always quoted, never spliced.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Executor as _};

use crate::{
    AccountSpec, ActualAccount, Capabilities, ConnectError, Connector, Kind, Membership, SettingSpec,
    TenantSpec,
};

/// The comment on a group role Breakglass manages, before the platform's name.
const GROUP_MARK: &str = "breakglass:group:";
/// The comment on an account role Breakglass manages, before the platform's name.
const ACCOUNT_MARK: &str = "breakglass:account:";
/// Table privileges a mapping may name (`CREATE` is the schema's).
const PRIVILEGES: [&str; 9] =
    ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "ALL", "CREATE"];
/// PBKDF2 rounds of a SCRAM-SHA-256 verifier, as PostgreSQL's own default.
const SCRAM_ITERATIONS: u32 = 4096;

/// The `postgres` kind.
pub struct PostgresKind;

const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "url",
        secret: true,
        required: true,
        help: "postgres://ROLE:PASSWORD@HOST:PORT/DB of a role with CREATEROLE that may grant on the tenants' databases",
    },
    SettingSpec {
        key: "schemas",
        secret: false,
        required: false,
        help: "the schemas of each tenant's database the mapping applies to, comma-separated (default public)",
    },
];

impl Kind for PostgresKind {
    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn default_mapping(&self, role: &str) -> &'static str {
        match role {
            "reader" => "SELECT",
            "user" => "SELECT, INSERT, UPDATE, DELETE",
            _ => "ALL, CREATE",
        }
    }

    fn check_mapping(&self, mapping: &str) -> Result<(), String> {
        parse_mapping(mapping).map(drop)
    }

    fn verifier(&self, password: &str) -> Option<String> {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).expect("the operating system gives randomness");
        Some(scram_verifier(password, &salt, SCRAM_ITERATIONS))
    }

    fn connect_line(
        &self,
        settings: &BTreeMap<String, String>,
        external_id: &str,
        login: &str,
    ) -> Option<String> {
        let url = PgConnectOptions::from_str(settings.get("url")?).ok()?;
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        Some(format!(
            "psql \"host={} port={} dbname={} user={}\"",
            quote(url.get_host()),
            url.get_port(),
            quote(external_id),
            quote(login)
        ))
    }

    fn connect_in(
        &self,
        platform: &str,
        settings: &BTreeMap<String, String>,
        _env: &crate::Env,
    ) -> Result<Box<dyn Connector>, ConnectError> {
        let url =
            settings.get("url").ok_or_else(|| ConnectError::Invalid("setting 'url' is missing".into()))?;
        // The URL holds a password: its parse error must not repeat it.
        let admin = PgConnectOptions::from_str(url)
            .map_err(|_| ConnectError::Invalid("setting 'url' is not a postgres:// URL".into()))?;
        let schemas: Vec<String> = settings
            .get("schemas")
            .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_else(|| vec!["public".to_owned()]);
        Ok(Box::new(PostgresConnector {
            group_mark: format!("{GROUP_MARK}{platform}"),
            account_mark: format!("{ACCOUNT_MARK}{platform}"),
            pool: pool(admin.clone()),
            base: admin,
            schemas,
            tenants: Mutex::new(HashMap::new()),
        }))
    }
}

fn pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(60))
        .connect_lazy_with(options)
}

/// A connection to one PostgreSQL server (cluster).
pub struct PostgresConnector {
    /// The administrative connection, to the URL's database.
    pool: PgPool,
    /// The URL's options, for connections to the tenants' databases.
    base: PgConnectOptions,
    /// The schemas the mapping covers in each tenant's database.
    schemas: Vec<String>,
    /// Pools to the tenants' databases, by name.
    tenants: Mutex<HashMap<String, PgPool>>,
    /// The comment on the group roles of this platform.
    group_mark: String,
    /// The comment on the accounts of this platform.
    account_mark: String,
}

impl PostgresConnector {
    fn tenant_pool(&self, database: &str) -> PgPool {
        let mut pools = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        pools.entry(database.to_owned()).or_insert_with(|| pool(self.base.clone().database(database))).clone()
    }

    /// Creates a role unless it exists, and marks it as Breakglass's.
    async fn ensure_role(&self, name: &str, mark: &str) -> Result<(), ConnectError> {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(error)?;
        if exists.is_none() {
            match self.pool.execute(format!("CREATE ROLE {} NOLOGIN", ident(name)).as_str()).await {
                Ok(_) => {}
                // Another reconciler made it meanwhile.
                Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42710" | "23505")) => {}
                Err(e) => return Err(error(e)),
            }
        }
        self.pool
            .execute(format!("COMMENT ON ROLE {} IS {}", ident(name), literal(mark)).as_str())
            .await
            .map_err(error)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Connector for PostgresConnector {
    fn capabilities(&self) -> Capabilities {
        Capabilities { credentials: true, enforces_expiry: true, ends_sessions: true, lists_members: true }
    }

    async fn health(&self) -> Result<(), ConnectError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(error)?;
        Ok(())
    }

    async fn ensure_tenant(&self, tenant: &TenantSpec) -> Result<(), ConnectError> {
        let db = ident(&tenant.external_id);
        for group in tenant.groups.values() {
            parse_mapping(&group.mapping).map_err(ConnectError::Invalid)?;
            self.ensure_role(&group.name, &self.group_mark).await?;
            let g = ident(&group.name);
            self.pool
                .execute(format!("GRANT CONNECT ON DATABASE {db} TO {g}").as_str())
                .await
                .map_err(error)?;
        }
        // The privileges inside the tenant's database, all at once: a group never holds half.
        let pool = self.tenant_pool(&tenant.external_id);
        let mut conn = pool.acquire().await.map_err(error)?;
        let mut tx = conn.begin().await.map_err(error)?;
        for group in tenant.groups.values() {
            let (tables, create) = parse_mapping(&group.mapping).map_err(ConnectError::Invalid)?;
            let g = ident(&group.name);
            for schema in &self.schemas {
                let s = ident(schema);
                let sequences = if tables.iter().any(|p| p == "ALL" || p == "INSERT") {
                    "USAGE, SELECT"
                } else {
                    "SELECT"
                };
                let create = if create { "GRANT" } else { "REVOKE" };
                let from_to = if create == "GRANT" { "TO" } else { "FROM" };
                let list = tables.join(", ");
                for sql in [
                    format!("GRANT USAGE ON SCHEMA {s} TO {g}"),
                    format!("{create} CREATE ON SCHEMA {s} {from_to} {g}"),
                    format!("REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {g}"),
                    format!("GRANT {list} ON ALL TABLES IN SCHEMA {s} TO {g}"),
                    format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {g}"),
                    format!("GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {s} TO {g}"),
                    format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TABLES FROM {g}"),
                    format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {list} ON TABLES TO {g}"),
                    format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {sequences} ON SEQUENCES TO {g}"),
                ] {
                    tx.execute(sql.as_str()).await.map_err(error)?;
                }
            }
        }
        tx.commit().await.map_err(error)?;
        Ok(())
    }

    async fn list_members(&self, tenant: &TenantSpec) -> Result<Vec<Membership>, ConnectError> {
        let groups: Vec<&str> = tenant.groups.values().map(|g| g.name.as_str()).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT g.rolname::text, m.rolname::text FROM pg_auth_members a \
             JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
             WHERE g.rolname = ANY($1) ORDER BY 1, 2",
        )
        .bind(&groups)
        .fetch_all(&self.pool)
        .await
        .map_err(error)?;
        Ok(rows.into_iter().map(|(group, member)| Membership { group, member }).collect())
    }

    async fn list_accounts(&self) -> Result<Vec<ActualAccount>, ConnectError> {
        let rows: Vec<(String, bool)> = sqlx::query_as(
            "SELECT r.rolname::text, r.rolcanlogin FROM pg_roles r JOIN pg_shdescription d \
             ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass WHERE d.description = $1 ORDER BY 1",
        )
        .bind(&self.account_mark)
        .fetch_all(&self.pool)
        .await
        .map_err(error)?;
        Ok(rows.into_iter().map(|(name, can_login)| ActualAccount { name, can_login }).collect())
    }

    async fn ensure_account(&self, account: &AccountSpec) -> Result<(), ConnectError> {
        self.ensure_role(&account.name, &self.account_mark).await?;
        let sql = account_sql(account);
        self.pool.execute(sql.as_str()).await.map_err(error)?;
        Ok(())
    }

    async fn delete_account(&self, name: &str) -> Result<(), ConnectError> {
        let a = ident(name);
        // Closed first, so no new session starts while it goes.
        match self.pool.execute(format!("ALTER ROLE {a} NOLOGIN").as_str()).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42704") => return Ok(()),
            Err(e) => return Err(error(e)),
        }
        self.end_sessions(name).await?;
        match self.pool.execute(format!("DROP ROLE IF EXISTS {a}").as_str()).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("2BP01") => {
                Err(ConnectError::Refused(format!(
                    "account {name} owns objects, so it stays without login: {}",
                    e.message()
                )))
            }
            Err(e) => Err(error(e)),
        }
    }

    async fn ensure_accounts(&self, accounts: &[AccountSpec]) -> Result<(), ConnectError> {
        // One round trip for the lot: a name that could end the quoted block goes one by one.
        if accounts.iter().any(|a| a.name.contains("$bg$")) {
            for a in accounts {
                self.ensure_account(a).await?;
            }
            return Ok(());
        }
        let mut sql = String::new();
        for a in accounts {
            let name = ident(&a.name);
            sql.push_str(&format!(
                "DO $bg$ BEGIN CREATE ROLE {name} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $bg$;\n\
                 COMMENT ON ROLE {name} IS {};\n{};\n",
                literal(&self.account_mark),
                account_sql(a)
            ));
        }
        self.pool.execute(sql.as_str()).await.map_err(error)?;
        Ok(())
    }

    async fn grant_many(&self, grants: &[(String, String)]) -> Result<(), ConnectError> {
        // One GRANT per group with all its new members, all in one round trip.
        let mut by_group: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (group, member) in grants {
            by_group.entry(group).or_default().push(ident(member));
        }
        let sql: String = by_group
            .iter()
            .map(|(g, members)| format!("GRANT {} TO {};\n", ident(g), members.join(", ")))
            .collect();
        self.pool.execute(sql.as_str()).await.map_err(error)?;
        Ok(())
    }

    async fn grant(&self, group: &str, member: &str) -> Result<(), ConnectError> {
        self.pool
            .execute(format!("GRANT {} TO {}", ident(group), ident(member)).as_str())
            .await
            .map_err(error)?;
        Ok(())
    }

    async fn revoke(&self, group: &str, member: &str) -> Result<(), ConnectError> {
        match self.pool.execute(format!("REVOKE {} FROM {}", ident(group), ident(member)).as_str()).await {
            Ok(_) => Ok(()),
            // A role gone is a membership gone.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42704") => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    async fn end_sessions(&self, account: &str) -> Result<(), ConnectError> {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()")
            .bind(account)
            .execute(&self.pool)
            .await
            .map_err(error)?;
        Ok(())
    }
}

/// The `ALTER ROLE` that gives an account its login (or none) and the login's end.
fn account_sql(account: &AccountSpec) -> String {
    let a = ident(&account.name);
    match &account.login {
        Some((verifier, until)) => {
            let until = match until {
                Some(micros) => timestamp_literal(*micros),
                None => "'infinity'".to_owned(),
            };
            // A SCRAM verifier, never a password: the server's log cannot leak one.
            format!("ALTER ROLE {a} LOGIN PASSWORD {} VALID UNTIL {until}", literal(verifier))
        }
        None => format!("ALTER ROLE {a} NOLOGIN PASSWORD NULL"),
    }
}

/// A mapping's table privileges (upper case, in order) and whether it grants `CREATE` on the
/// schemas.
fn parse_mapping(mapping: &str) -> Result<(Vec<String>, bool), String> {
    let words: Vec<String> = mapping
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    if let Some(bad) = words.iter().find(|w| !PRIVILEGES.contains(&w.as_str())) {
        return Err(format!("'{bad}' is no privilege here: use {}", PRIVILEGES.join(", ")));
    }
    let create = words.iter().any(|w| w == "CREATE");
    let tables: Vec<String> = words.into_iter().filter(|w| w != "CREATE").collect();
    if tables.is_empty() {
        return Err("a mapping names at least one table privilege, e.g. SELECT".into());
    }
    Ok((tables, create))
}

/// A quoted identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted string literal (`standard_conforming_strings` is on since PostgreSQL 9.1).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A timestamp string literal of Unix microseconds, in UTC (`VALID UNTIL` takes a constant).
fn timestamp_literal(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let text = t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    literal(&text)
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 and 7677), for an
/// ASCII password as the server draws them.
pub fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    type HmacSha256 = Hmac<Sha256>;
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes()
    };
    // PBKDF2 with one block: its output is exactly SHA-256's.
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password.as_bytes(), &block);
    let mut salted = u;
    for _ in 1..iterations {
        u = hmac(password.as_bytes(), &u);
        salted.iter_mut().zip(u.iter()).for_each(|(s, x)| *s ^= x);
    }
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac(&salted, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key),
        b64.encode(server_key)
    )
}

/// A failed call as a connector error; never the connection URL.
fn error(e: sqlx::Error) -> ConnectError {
    match e {
        sqlx::Error::Database(db) => ConnectError::Refused(db.message().to_owned()),
        sqlx::Error::Io(io) => ConnectError::Unreachable(io.to_string()),
        sqlx::Error::PoolTimedOut => ConnectError::Unreachable("no connection within 3 s".into()),
        sqlx::Error::Tls(t) => ConnectError::Unreachable(format!("TLS: {t}")),
        other => ConnectError::Unreachable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_have_postgres_form_and_depend_on_password_and_salt() {
        // That PostgreSQL accepts them is proven by logging in (tests/postgres.rs).
        let b64 = base64::engine::general_purpose::STANDARD;
        let salt = b64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = scram_verifier("pencil", &salt, 4096);
        let rest = v.strip_prefix("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$").unwrap();
        let (stored, server) = rest.split_once(':').unwrap();
        assert_eq!((b64.decode(stored).unwrap().len(), b64.decode(server).unwrap().len()), (32, 32));
        assert_eq!(v, scram_verifier("pencil", &salt, 4096));
        assert_ne!(v, scram_verifier("pencil2", &salt, 4096));
        assert_ne!(
            PostgresKind.verifier("pencil").unwrap(),
            PostgresKind.verifier("pencil").unwrap(),
            "a fresh salt each time"
        );
    }

    #[test]
    fn mappings_name_known_privileges_only() {
        assert_eq!(parse_mapping("select").unwrap(), (vec!["SELECT".to_owned()], false));
        assert_eq!(parse_mapping("ALL, CREATE").unwrap(), (vec!["ALL".to_owned()], true));
        for bad in ["", "CREATE", "SELECT; DROP TABLE x", "SUPERUSER"] {
            assert!(parse_mapping(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_texts_are_quoted() {
        assert_eq!(ident("bg_a\"b@x.io"), "\"bg_a\"\"b@x.io\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(timestamp_literal(1_500_000), "'1970-01-01T00:00:01.5Z'");
    }
}
