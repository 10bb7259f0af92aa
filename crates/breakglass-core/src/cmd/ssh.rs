//! SSH certificates: a user asks a platform's authority to sign their public key for a project's
//! tenant. The core decides which principals it carries and until when; the server signs what
//! was decided, so a refused request signs nothing.

use std::collections::BTreeMap;

use serde_json::json;

use crate::audit::EventType;
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::cmd::platforms::{platform_not_found, visible_tenant};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{Slug, UserId};
use crate::model::Target;
use crate::provision::{grants_of, Grant};
use crate::role::ProjectRole;
use crate::ssh::{unrecorded_revocations, SshCertificate, CLOCK_SKEW, MAX_SERIAL};
use crate::state::State;

/// Decides the acting user's certificate on a project's tenant: the principals of every project
/// role they hold there now (`principals` says a role's principals on this tenant), valid until
/// the first of those accesses ends and at most the platform's credential lifetime.
/// `fingerprint` is the public key's, for the record and the audit log.
pub fn issue_certificate(
    state: &State,
    ctx: &Ctx,
    (ws, project, platform): (&Slug, &Slug, &Slug),
    fingerprint: &str,
    principals: &BTreeMap<ProjectRole, Vec<String>>,
) -> Result<(Changes, SshCertificate), DomainError> {
    let (me, grants) = may_sign(state, ctx, (ws, project, platform))?;
    let p = state.platform(platform).ok_or_else(|| platform_not_found(platform))?;
    let roles: Vec<ProjectRole> = grants.iter().map(|g| g.key.role).collect();
    let mut names: Vec<String> =
        roles.iter().flat_map(|r| principals.get(r).into_iter().flatten().cloned()).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(DomainError::rule(
            "ssh.no_principals",
            format!("your roles on '{ws}/{project}' map to no principals on platform '{platform}'"),
        ));
    }
    // Ends with the first access it carries, so no principal outlives its role; sign again
    // after a shorter access ends to keep the longer one.
    let cap = ctx.now.plus(p.config.credential_lifetime);
    let valid_before = grants.iter().filter_map(|g| g.until).fold(cap, |end, until| end.min(until));
    let user = state.user(me).ok_or_else(|| DomainError::forbidden("unknown user"))?;
    let serial = serial(state, ctx, platform);
    let key_id = format!("{}:{}/{}:{serial}", user.email, ws, project);
    let cert = SshCertificate {
        platform: platform.clone(),
        serial,
        user: me,
        workspace: ws.clone(),
        project: project.clone(),
        roles,
        principals: names,
        key_id,
        fingerprint: fingerprint.to_owned(),
        issued_at: ctx.now,
        valid_after: ctx.now.minus(CLOCK_SKEW),
        valid_before,
        revoked_at: None,
    };
    let target = Target::Project(ws.clone(), project.clone());
    let ev = event(
        state,
        ctx,
        EventType::SshCertificateIssued,
        Some(&target),
        Some(user.email.to_string()),
        json!({
            "platform": platform.as_str(),
            "serial": serial.to_string(),
            "principals": cert.principals,
            "roles": cert.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "fingerprint": fingerprint,
            "expires_at": valid_before.to_rfc3339(),
        }),
    );
    Ok((Changes { changes: vec![Change::PutSshCertificate(cert.clone())], events: vec![ev] }, cert))
}

/// Whether the acting user may have a certificate signed on a project's tenant: who they are
/// and the grants they hold there now (never none). Asked again when the certificate is decided.
pub fn may_sign(
    state: &State,
    ctx: &Ctx,
    (ws, project, platform): (&Slug, &Slug, &Slug),
) -> Result<(UserId, Vec<Grant>), DomainError> {
    let (tenant, _) = visible_tenant(state, ctx, ws, project, platform)?;
    let me = ctx.user().ok_or_else(|| DomainError::forbidden("only a user holds a certificate"))?;
    if ctx.bounds.read_only {
        return Err(DomainError::forbidden("a read-only credential cannot have a certificate signed"));
    }
    // A certificate would outlive the delegation and carry the owner's name in sshd's log.
    if ctx.bounds.delegate.is_some() {
        return Err(DomainError::forbidden(
            "a delegate cannot have a certificate signed with the owner's access: ask for your own",
        ));
    }
    let grants = grants_of(state, tenant, me, ctx.now);
    if grants.is_empty() {
        return Err(DomainError::forbidden(format!(
            "you hold no access on '{ws}/{project}' now, so no certificate for platform '{platform}'"
        )));
    }
    Ok((me, grants))
}

/// Records, for good, the revocation of every certificate still valid whose holder lost a role it
/// carries (the system's command, run after commits), each with `SSH_CERTIFICATE_REVOKED`.
pub fn record_revocations(state: &State, ctx: &Ctx) -> Changes {
    let mut out = Changes::default();
    for cert in unrecorded_revocations(state, ctx.now) {
        out.changes.push(Change::RevokeSshCertificate {
            platform: cert.platform.clone(),
            serial: cert.serial,
            at: ctx.now,
        });
        let target = Target::Project(cert.workspace.clone(), cert.project.clone());
        let holder = state.user(cert.user).map_or_else(|| cert.user.to_string(), |u| u.email.to_string());
        out.events.push(event(
            state,
            ctx,
            EventType::SshCertificateRevoked,
            Some(&target),
            Some(holder),
            json!({
                "platform": cert.platform.as_str(),
                "serial": cert.serial.to_string(),
                "principals": cert.principals,
                "expires_at": cert.valid_before.to_rfc3339(),
            }),
        ));
    }
    out
}

/// A serial not yet used on `platform`, drawn from the context.
fn serial(state: &State, ctx: &Ctx, platform: &Slug) -> u64 {
    loop {
        let id = ctx.next_id().as_u128();
        let serial = (id as u64) & MAX_SERIAL;
        if serial != 0 && state.ssh_certificate(platform, serial).is_none() {
            return serial;
        }
    }
}
