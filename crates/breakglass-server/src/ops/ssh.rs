//! SSH certificates: a platform of kind `ssh` signs a user's public key for a project's tenant
//! with the principals of the roles they hold there, and publishes the key revocation list
//! hosts fetch. The core decides who gets which principals until when
//! (`cmd::ssh::issue_certificate`) and which certificates are revoked (`ssh::revoked`); this
//! layer opens the platform's authority, signs what was decided and renders.

use std::collections::BTreeMap;

use breakglass_api as api;
use breakglass_connect::ssh::{self as certs, Authority, CertificateSpec};
use breakglass_core::cmd::ssh as commands;
use breakglass_core::ident::Slug;
use breakglass_core::platform::Platform;
use breakglass_core::role::ProjectRole;
use breakglass_core::ssh::revoked;
use breakglass_core::time::Timestamp;
use breakglass_core::{DomainError, State as Model};

use super::platforms::{engine_error, platform_slug, tenant_path};
use super::{read_ctx, OpResult, Written};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::provision::{self as engine, EngineError};

/// The kind whose platforms sign certificates.
const KIND: &str = "ssh";

/// Longest public key line taken (an RSA key of 16384 bits is about 2,800 bytes).
const MAX_PUBLIC_KEY: usize = 8192;

/// Where hosts fetch a platform's revocation list.
fn krl_path(platform: &Slug) -> String {
    format!("/api/v1/platforms/{platform}/ssh/krl")
}

/// The platform's certificate authority, opened from its sealed key.
fn authority(app: &App, platform: &Platform) -> Result<Authority, ApiError> {
    let settings = engine::open_settings(app, platform).map_err(engine_error)?;
    let key = settings.get(certs::CA_KEY).ok_or_else(|| {
        engine_error(EngineError::Settings(format!(
            "platform '{}' has no certificate authority",
            platform.id
        )))
    })?;
    Authority::from_openssh(key).map_err(|e| engine_error(EngineError::Settings(e.to_string())))
}

/// The principals each project role maps to on the tenant `external_id` of `platform`.
fn principals_by_role(
    platform: &Platform,
    external_id: &str,
) -> Result<BTreeMap<ProjectRole, Vec<String>>, DomainError> {
    let mut out = BTreeMap::new();
    for role in [ProjectRole::Reader, ProjectRole::User, ProjectRole::Admin] {
        let mapping = engine::mapping_of(platform, &certs::SshKind, role);
        let names = certs::principals(&mapping, external_id).map_err(|e| {
            DomainError::rule(
                "ssh.invalid_principals",
                format!(
                    "the {} mapping of platform '{}' on '{external_id}': {e}",
                    role.as_str(),
                    platform.id
                ),
            )
        })?;
        out.insert(role, names);
    }
    Ok(out)
}

/// Signs the caller's public key for a project's tenant on an SSH platform: the principals of
/// every role they hold there now, valid until the first of those accesses ends (at most the
/// platform's credential lifetime).
pub async fn sign(
    app: &App,
    caller: &Caller,
    (ws, p, platform): (&str, &str, &str),
    public_key: &str,
) -> OpResult<Written<api::SshCertificate>> {
    let (ws, project, platform) = tenant_path(app, caller, ws, p, platform)?;
    let record = app.state().platform(&platform).cloned().ok_or_else(ApiError::internal)?;
    let external = app
        .state()
        .tenant(&ws, &project, &platform)
        .map(|t| t.external_id.to_string())
        .ok_or_else(ApiError::internal)?;
    if public_key.len() > MAX_PUBLIC_KEY {
        return Err(DomainError::invalid(
            "ssh.invalid_public_key",
            format!("a public key line has at most {MAX_PUBLIC_KEY} bytes"),
        )
        .into());
    }
    if public_key.contains("PRIVATE KEY") {
        return Err(DomainError::invalid(
            "ssh.invalid_public_key",
            "this is a private key: give the public one (the .pub file), and keep the private key to yourself",
        )
        .into());
    }
    let fingerprint = certs::fingerprint(public_key)
        .map_err(|e| DomainError::invalid("ssh.invalid_public_key", e.to_string()))?;
    let scope = (&ws, &project, &platform);
    // Who may have a certificate is asked before anything of the platform is looked at, so that
    // a caller who may not learns nothing of it; the write asks again.
    commands::may_sign(&app.state(), &read_ctx(app, caller), scope)?;
    if record.kind.as_str() != KIND {
        return Err(not_ssh(&record).into());
    }
    let principals = principals_by_role(&record, &external)?;
    unshared(&app.state(), &record, (&ws, &project), &principals)?;
    let ca = authority(app, &record)?;
    let done = app
        .execute(caller.actor(), |s, c| {
            let (changes, cert) = commands::issue_certificate(s, c, scope, &fingerprint, &principals)?;
            let text = ca
                .sign(&CertificateSpec {
                    public_key,
                    principals: &cert.principals,
                    valid_after: unix_secs(cert.valid_after),
                    valid_before: unix_secs(cert.valid_before),
                    serial: cert.serial,
                    key_id: &cert.key_id,
                })
                .map_err(|e| DomainError::invalid("ssh.invalid_public_key", e.to_string()))?;
            Ok((changes, (cert, text)))
        })
        .await?;
    let (cert, certificate) = done.value;
    Ok(Written {
        seq: done.seq,
        value: api::SshCertificate {
            platform: platform.to_string(),
            workspace: ws.to_string(),
            project: project.to_string(),
            external_id: external,
            serial: cert.serial.to_string(),
            key_id: cert.key_id,
            principals: cert.principals,
            roles: cert.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            fingerprint: cert.fingerprint,
            valid_after: cert.valid_after.to_rfc3339(),
            expires_at: cert.valid_before.to_rfc3339(),
            certificate,
        },
    })
}

/// Refuses to replace or remove an SSH platform's authority while certificates it signed are
/// valid: the revocation list names the authority, so hosts that still trust the old one would
/// accept its revoked certificates again.
pub fn authority_may_change(
    app: &App,
    platform: &Platform,
    change: &api::UpdatePlatform,
) -> Result<(), ApiError> {
    if platform.kind.as_str() != KIND || !change.settings.contains_key(certs::CA_KEY) {
        return Ok(());
    }
    let now = app.now();
    let state = app.state();
    let live = state.ssh_certificates_on(&platform.id).filter(|c| now < c.valid_before).count();
    if live > 0 {
        return Err(DomainError::rule(
            "ssh.authority_in_use",
            format!(
                "platform '{}' has {live} valid certificates signed by its authority: replace it once they \
                 have ended (at most the credential lifetime), or register a new platform for the new authority",
                platform.id
            ),
        )
        .into());
    }
    Ok(())
}

/// Refuses principals that another tenant of the platform also gets: a certificate for one
/// group of hosts must not open another.
fn unshared(
    state: &Model,
    platform: &Platform,
    (ws, project): (&Slug, &Slug),
    mine: &BTreeMap<ProjectRole, Vec<String>>,
) -> Result<(), DomainError> {
    let names: std::collections::BTreeSet<&String> = mine.values().flatten().collect();
    for other in state
        .tenants()
        .filter(|t| t.platform == platform.id && !(t.workspace == *ws && t.project == *project))
    {
        let theirs = principals_by_role(platform, other.external_id.as_str())?;
        if let Some(shared) = theirs.values().flatten().find(|p| names.contains(p)) {
            return Err(DomainError::rule(
                "ssh.shared_principal",
                format!(
                    "principal '{shared}' of this tenant is also one of tenant '{}' on platform '{}': \
                     change the mapping or an external id so each group of hosts has its own",
                    other.external_id, platform.id
                ),
            ));
        }
    }
    Ok(())
}

/// An instant in whole seconds since the epoch, rounded down, as certificates and lists count.
fn unix_secs(t: Timestamp) -> u64 {
    u64::try_from(t.as_micros().div_euclid(1_000_000)).unwrap_or(0)
}

fn not_ssh(platform: &Platform) -> DomainError {
    DomainError::rule(
        "platform.not_ssh",
        format!(
            "platform '{}' ({}) signs no SSH certificates: only a platform of kind ssh does",
            platform.id, platform.kind
        ),
    )
}

/// The key revocation list of an SSH platform, in OpenSSH's binary format: the certificates
/// still valid whose holder lost a role they carry. Anyone may fetch it, like a certificate
/// revocation list: hosts do, without a credential; it names serials only.
pub fn krl(app: &App, platform: &str) -> OpResult<Vec<u8>> {
    let unknown = || DomainError::not_found("platform.not_found", format!("no SSH platform '{platform}'"));
    let id = platform_slug(platform).map_err(|_| unknown())?;
    let record =
        app.state().platform(&id).filter(|p| p.kind.as_str() == KIND).cloned().ok_or_else(unknown)?;
    let ca = authority(app, &record)?;
    let now = app.now();
    let state = app.state();
    let serials: Vec<u64> = revoked(&state, &id, now).into_iter().map(|c| c.serial).collect();
    // The time it was made, in microseconds, orders lists without telling anyone how busy the
    // server is.
    let version = u64::try_from(now.as_micros()).unwrap_or(0);
    let generated = unix_secs(now);
    ca.krl(&serials, &[], version, generated).map_err(|e| engine_error(EngineError::Settings(e.to_string())))
}

/// How hosts trust an SSH platform, and what it issued: for `platform show`. `None` for
/// another kind, or when its authority does not open.
pub fn host_setup(app: &App, state: &Model, platform: &Platform) -> Option<api::SshHostSetup> {
    if platform.kind.as_str() != KIND {
        return None;
    }
    let ca = authority(app, platform).ok()?;
    let id = &platform.id;
    let now = app.now();
    let valid = state.ssh_certificates_on(id).filter(|c| now < c.valid_before).count();
    let revoked = revoked(state, id, now).len();
    let ca_file = format!("/etc/ssh/breakglass-{id}-ca.pub");
    let krl_file = format!("/etc/ssh/breakglass-{id}.krl");
    let mut config = String::new();
    config.push_str(&format!("# {ca_file}: the ca_public_key line\n"));
    config.push_str(
        "# /etc/ssh/auth_principals/LOGIN: the principals that may log in as LOGIN, one per line\n",
    );
    config.push_str(&format!(
        "# {krl_file}: fetched before sshd starts and every minute (sshd refuses every key while it is missing):\n\
         #   curl -fsS -o {krl_file}.new SERVER{} && mv {krl_file}.new {krl_file}\n",
        krl_path(id)
    ));
    config.push_str(&certs::sshd_config(&ca_file, "/etc/ssh/auth_principals/%u", &krl_file));
    let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    Some(api::SshHostSetup {
        ca_public_key: ca.public_line(&format!("breakglass-ca:{id}")),
        sshd_config: config,
        krl_path: krl_path(id),
        certificates_valid: n(valid),
        certificates_revoked: n(revoked),
    })
}
