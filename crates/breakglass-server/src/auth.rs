//! Credentials: bearer secrets (random, shown once, kept only as SHA-256 digests), passwords
//! (argon2id), and the extractor that turns an `Authorization` header into a `Caller`.

use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use breakglass_core::delegation;
use breakglass_core::ident::{Email, TokenId, UserId};
use breakglass_core::model::{SecretHash, TokenKind, UserStatus};
use breakglass_core::{Actor, Bounds, Ctx, DomainError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::error::ApiError;

/// Prefix of API token secrets, so that leaked tokens are easy to recognise and scan for.
pub const API_TOKEN_PREFIX: &str = "bgt_";
/// Prefix of session secrets.
pub const SESSION_PREFIX: &str = "bgs_";
/// Prefix of invitation secrets.
pub const INVITATION_PREFIX: &str = "bgi_";
/// Prefix of the codes that accept a delegate access.
pub const ACCESS_CODE_PREFIX: &str = "bga_";
/// Prefix of service user secrets.
pub const SERVICE_USER_PREFIX: &str = "bgu_";

/// A new random password for a platform login: 256 bits in 43 URL-safe characters.
pub fn new_password() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new random bearer secret (256 bits) with `prefix`.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The digest under which a bearer secret is kept.
pub fn secret_hash(secret: &str) -> SecretHash {
    SecretHash(Sha256::digest(secret.as_bytes()).into())
}

/// Minimum password length.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Checks a new password's length (the only rule: length beats composition rules).
pub fn validate_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_LEN..=1024).contains(&n) {
        return Err(DomainError::invalid(
            "input.weak_password",
            format!("a password must be {MIN_PASSWORD_LEN} to 1024 characters long"),
        ));
    }
    Ok(())
}

pub use crate::passwords::{hash_password, verify_password};

/// The address a request came from: the connection's peer, or, when the peer is a trusted proxy
/// (`--trusted-proxy`), the last address in `X-Forwarded-For` that is not itself a trusted
/// proxy. A client cannot choose what is counted against it: headers from anyone else are
/// ignored.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl ClientAddr {
    /// Resolves the client address of a request.
    pub fn of(parts: &Parts, app: &App) -> Self {
        let Some(peer) = crate::listener::peer(parts).map(|p| p.ip()) else { return Self(None) };
        let proxies = app.trusted_proxies();
        if !proxies.contains(&peer) {
            return Self(Some(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        // From the right: past our own proxies, the first entry is what the outermost trusted
        // proxy saw. Anything further left was written by the client and proves nothing, and an
        // entry that does not read as an address ends the walk (never skip to the left of it).
        for entry in forwarded.iter().rev() {
            match parse_forwarded(entry) {
                Some(ip) if proxies.contains(&ip) => continue,
                Some(ip) => return Self(Some(ip)),
                None => break,
            }
        }
        Self(Some(peer))
    }
}

/// An address as proxies write it in `X-Forwarded-For`: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`
/// or `[2001:db8::1]:5678`.
fn parse_forwarded(entry: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

impl FromRequestParts<Arc<App>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts, app))
    }
}

/// The request header a delegate sends to act as the owner of a delegate access.
pub const ACT_AS_HEADER: &str = "x-breakglass-act-as";

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Whose rights are in use: the credential's owner, or the owner a delegate acts as.
    pub user: UserId,
    /// Whose credential it is (the delegate, when acting as someone).
    pub holder: UserId,
    /// With which credential.
    pub token: TokenId,
    /// Session or API token.
    pub kind: TokenKind,
    /// What the credential (and the delegation, if any) limits the rights to.
    pub bounds: Bounds,
    /// What the credential alone limits its holder's own rights to (no delegation).
    pub holder_bounds: Bounds,
}

/// Who a command runs as: the actor and the limits of the credential in use.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Whose rights are in use.
    pub actor: Actor,
    /// Their limits.
    pub bounds: Bounds,
}

impl From<Actor> for Principal {
    fn from(actor: Actor) -> Self {
        Self { actor, bounds: Bounds::default() }
    }
}

impl Caller {
    /// The caller as the core's actor, with the credential's limits.
    pub fn actor(&self) -> Principal {
        Principal { actor: Actor::User(self.user), bounds: self.bounds.clone() }
    }

    /// The credential's own holder, unlimited by any delegation: for ending their own session.
    pub fn holder(&self) -> Principal {
        Principal { actor: Actor::User(self.holder), bounds: self.holder_bounds.clone() }
    }

    /// The workspaces where the caller's rights hold a role at `now`, within the credential's
    /// bounds, sorted: what `/me` lists and the web UI's switchers offer.
    pub fn workspaces<'s>(
        &self,
        state: &'s breakglass_core::State,
        now: breakglass_core::time::Timestamp,
    ) -> Vec<&'s breakglass_core::ident::Slug> {
        let mut ws: Vec<_> = state
            .bindings_of_user(self.user)
            .filter(|b| b.is_effective(now) && self.bounds.covers(b.target.workspace()))
            .map(|b| b.target.workspace())
            .collect();
        ws.sort();
        ws.dedup();
        ws
    }

    /// A context for reads at `now` (reads create no ids).
    pub fn ctx(&self, now: breakglass_core::time::Timestamp) -> Ctx {
        Ctx::new(now, Actor::User(self.user), uuid::Uuid::nil()).with_bounds(self.bounds.clone())
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthenticated("auth.missing_token", "send Authorization: Bearer <token>")
        })?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated("auth.missing_token", "send Authorization: Bearer <token>")
            })?;
        let mut act_as = parts.headers.get_all(ACT_AS_HEADER).iter();
        let first = act_as.next();
        if act_as.next().is_some() {
            return Err(ApiError::bad_request(
                "delegation.invalid_header",
                "send X-Breakglass-Act-As at most once",
            ));
        }
        let act_as = first.map(|v| v.to_str().map_err(|_| invalid_act_as())).transpose()?;
        authenticate(app, secret, act_as).await
    }
}

fn invalid_act_as() -> ApiError {
    ApiError::bad_request(
        "delegation.invalid_header",
        "X-Breakglass-Act-As must be the e-mail address of the user to act as",
    )
}

/// Resolves a bearer secret, and the e-mail of an owner to act as if any, into the caller: the
/// one rule for the API's `Authorization` header and the web UI's session cookie.
///
/// A secret this process does not know may have been issued by another replica a moment ago
/// (a sign-in there, then the next call here behind a load balancer): before refusing it, the
/// model catches up with everything committed until the request arrived
/// ([`App::catch_up_since`], shared by concurrent callers), then decides once more.
pub async fn authenticate(app: &App, secret: &str, act_as: Option<&str>) -> Result<Caller, ApiError> {
    let arrived = app.instant();
    let presented = secret_hash(secret);
    match resolve(app, &presented, act_as) {
        Err(Unknown) => {
            if let Err(e) = app.catch_up_since(arrived).await {
                tracing::debug!(code = e.code, "cannot catch up before refusing an unknown token");
            }
            resolve(app, &presented, act_as).unwrap_or_else(|Unknown| Err(invalid_token()))
        }
        Ok(decided) => decided,
    }
}

/// The model does not know the secret.
struct Unknown;

fn invalid_token() -> ApiError {
    ApiError::unauthenticated("auth.invalid_token", "the token is unknown, revoked or expired")
}

/// [`authenticate`] on the model as it is.
fn resolve(
    app: &App,
    presented: &SecretHash,
    act_as: Option<&str>,
) -> Result<Result<Caller, ApiError>, Unknown> {
    let state = app.state();
    let Some(token) = state.token_by_hash(presented) else { return Err(Unknown) };
    Ok(decide(app, &state, token, presented, act_as))
}

fn decide(
    app: &App,
    state: &breakglass_core::State,
    token: &breakglass_core::model::Token,
    presented: &SecretHash,
    act_as: Option<&str>,
) -> Result<Caller, ApiError> {
    let now = app.now();
    let invalid = invalid_token;
    // The map lookup already matched the digest; comparing again in constant time keeps the
    // final decision free of timing differences whatever the map does internally.
    if !bool::from(token.secret_hash.0.ct_eq(&presented.0)) || !token.is_valid(now) {
        return Err(invalid());
    }
    // A token created as an access dies with it, whatever the token record says.
    if token.access.is_some_and(|a| !state.access(a).is_some_and(|a| a.is_live(now))) {
        return Err(invalid());
    }
    let holder = match state.user(token.user) {
        Some(u) if u.status == UserStatus::Active => u.id,
        _ => return Err(invalid()),
    };
    app.note_token_use(token.id, now);
    let own =
        Bounds { delegate: None, scope: token.scope.clone().map(|s| vec![s]), read_only: token.read_only };
    let mut caller = Caller {
        user: holder,
        holder,
        token: token.id,
        kind: token.kind,
        bounds: own.clone(),
        holder_bounds: own,
    };
    if let Some(value) = act_as {
        let email = Email::parse(value.trim()).map_err(|_| invalid_act_as())?;
        let d = delegation::resolve(state, holder, &email, now)?;
        let scope = delegation::intersect(caller.bounds.scope.take(), d.scope);
        if scope.as_ref().is_some_and(Vec::is_empty) {
            return Err(DomainError::Forbidden {
                code: "delegation.out_of_scope",
                message: "this token's workspace is outside the delegation's scope".into(),
            }
            .into());
        }
        caller.bounds.scope = scope;
        caller.bounds.delegate = Some(holder);
        caller.user = d.owner;
    }
    Ok(caller)
}
