//! What the provisioning engine reports back (grants placed, removed or failing, drift found)
//! and the credentials users ask for. The engine talks to platforms outside the model; these
//! commands record what it did, each with its audit event, so status survives a restart and
//! every replica shows it.

use std::collections::HashMap;

use serde_json::json;

use crate::audit::{EventType, NewEvent};
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::cmd::platforms::{platform_not_found, visible_tenant};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{BindingId, Slug};
use crate::model::Target;
use crate::platform::Credential;
use crate::provision::{desired, grants_of, GrantKey, Place, Provision, ProvisionState, Subject};
use crate::state::State;
use crate::time::Timestamp;

/// One thing the engine did or found on a platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The platform now holds the grant.
    Granted(GrantKey, Place),
    /// The grant was removed from the platform (it is no longer desired).
    Revoked(GrantKey, Place),
    /// Placing or removing the grant failed; the engine retries at `next_retry`.
    Failed {
        /// Which grant.
        key: GrantKey,
        /// Where it lands.
        place: Place,
        /// Why (never a secret).
        error: String,
        /// When the engine tries again.
        next_retry: Timestamp,
    },
    /// Access on a managed role that Breakglass did not grant: removed when `corrected`, else
    /// only reported.
    Drift {
        /// The platform.
        platform: Slug,
        /// The managed role (group) it was found on.
        role: String,
        /// The member the platform lists there.
        member: String,
        /// Whether the engine removed it.
        corrected: bool,
    },
}

/// Records the engine's outcomes (the system's command). A grant already recorded as placed
/// is not recorded again, so a reconcile that changes nothing writes nothing.
///
/// `served` names the bindings each grant serves, for the events (the engine has them from the
/// desired set it worked from; [`bindings_served`] works them out): asked for rather than worked
/// out here, because this runs while the writer is held.
pub fn record(
    state: &State,
    ctx: &Ctx,
    outcomes: &[Outcome],
    served: &HashMap<GrantKey, Vec<BindingId>>,
) -> Result<Changes, DomainError> {
    let mut out = Changes::default();
    let grant_event = |ty, key: &GrantKey, extra| grant_event(state, ctx, ty, key, served.get(key), extra);
    // A grant's record follows its place: when its account was renamed, one pass places it
    // at the new place and removes it from the old one, and only the new place's outcome may
    // write the record.
    let mut placed_now: HashMap<&GrantKey, &Place> = HashMap::new();
    for outcome in outcomes {
        if let Outcome::Granted(key, place) = outcome {
            placed_now.insert(key, place);
        }
    }
    let recorded_here = |key: &GrantKey, place: &Place| {
        let elsewhere_now = placed_now.get(key).is_some_and(|p| *p != place);
        let recorded = state.provision(key).is_none_or(|p| p.place == *place);
        recorded && !elsewhere_now
    };
    for outcome in outcomes {
        match outcome {
            Outcome::Granted(key, place) => {
                let placed = |p: &Provision| {
                    matches!(p.state, ProvisionState::Provisioned { .. }) && p.place == *place
                };
                if state.provision(key).is_some_and(placed) {
                    continue;
                }
                let record = Provision {
                    key: key.clone(),
                    place: place.clone(),
                    state: ProvisionState::Provisioned { at: ctx.now },
                };
                out.changes.push(Change::PutProvision(record));
                out.events.push(grant_event(EventType::AccessProvisioned, key, json!({})));
            }
            Outcome::Revoked(key, place) => {
                if state.provision(key).is_some() && recorded_here(key, place) {
                    out.changes.push(Change::DeleteProvision(key.clone()));
                }
                out.events.push(grant_event(EventType::AccessDeprovisioned, key, json!({})));
            }
            Outcome::Failed { key, place, error, next_retry } => {
                if !recorded_here(key, place) {
                    // The old place of a renamed account, which holds no record: the engine's
                    // next full pass finds the membership there again and removes it.
                    continue;
                }
                let (attempts, since) = match state.provision(key).map(|p| &p.state) {
                    Some(ProvisionState::Failed { attempts, since, .. }) => (attempts + 1, *since),
                    _ => (1, ctx.now),
                };
                let failed =
                    ProvisionState::Failed { error: error.clone(), attempts, next_retry: *next_retry, since };
                out.changes.push(Change::PutProvision(Provision {
                    key: key.clone(),
                    place: place.clone(),
                    state: failed,
                }));
                let details =
                    json!({"error": error, "attempts": attempts, "next_retry": next_retry.to_rfc3339()});
                out.events.push(grant_event(EventType::ProvisioningFailed, key, details));
            }
            Outcome::Drift { platform, role, member, corrected } => {
                let ty = if *corrected { EventType::DriftCorrected } else { EventType::DriftReported };
                out.events.push(event(
                    state,
                    ctx,
                    ty,
                    None,
                    Some(member.clone()),
                    json!({"platform": platform.as_str(), "role": role, "member": member}),
                ));
            }
        }
    }
    Ok(out)
}

/// Who a grant is for, as the audit log names them: a user's e-mail, a service user's client id.
pub fn subject_name(state: &State, subject: Subject) -> String {
    match subject {
        Subject::User(u) => state.user(u).map_or_else(|| u.to_string(), |u| u.email.to_string()),
        Subject::Service(s) => state.service_user(s).map_or_else(|| s.to_string(), |u| u.client_id.clone()),
    }
}

/// The bindings each desired grant of the outcomes' platforms serves now, for their audit
/// events: worked out once per platform, not once per outcome.
pub fn bindings_served(
    state: &State,
    outcomes: &[Outcome],
    now: Timestamp,
) -> HashMap<GrantKey, Vec<BindingId>> {
    let mut platforms: Vec<&Slug> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Granted(k, _) | Outcome::Revoked(k, _) | Outcome::Failed { key: k, .. } => {
                Some(&k.platform)
            }
            Outcome::Drift { .. } => None,
        })
        .collect();
    platforms.sort();
    platforms.dedup();
    platforms
        .into_iter()
        .filter_map(|p| state.platform(p))
        .flat_map(|p| desired(state, p, now).grants)
        .map(|g| (g.key, g.bindings))
        .collect()
}

fn grant_event(
    state: &State,
    ctx: &Ctx,
    ty: EventType,
    key: &GrantKey,
    bindings: Option<&Vec<BindingId>>,
    extra: serde_json::Value,
) -> NewEvent {
    let target = Target::Project(key.workspace.clone(), key.project.clone());
    let mut details = json!({
        "platform": key.platform.as_str(),
        "role": key.role.as_str(),
        "bindings": bindings.into_iter().flatten().map(ToString::to_string).collect::<Vec<_>>(),
    });
    if let (Some(d), Some(e)) = (details.as_object_mut(), extra.as_object()) {
        d.extend(e.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    event(state, ctx, ty, Some(&target), Some(subject_name(state, key.subject)), details)
}

/// Issues the acting user a password credential on a project's tenant: valid until their access
/// there ends, at most the platform's credential lifetime. `verifier` is the connector's
/// verifier of a password the server drew; the password itself never reaches the model.
pub fn issue_credential(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    project: &Slug,
    platform: &Slug,
    verifier: String,
) -> Result<(Changes, Credential, String), DomainError> {
    let (tenant, _) = visible_tenant(state, ctx, ws, project, platform)?;
    let me = ctx.user().ok_or_else(|| DomainError::forbidden("only a user holds a credential"))?;
    let p = state.platform(platform).ok_or_else(|| platform_not_found(platform))?;
    let grants = grants_of(state, tenant, me, ctx.now);
    if grants.is_empty() {
        return Err(DomainError::forbidden(format!(
            "you hold no access on '{ws}/{project}' now, so no credential for platform '{platform}'"
        )));
    }
    let cap = ctx.now.plus(p.config.credential_lifetime);
    // Standing access ends never, so only the lifetime bounds the credential.
    let end = if grants.iter().any(|g| g.until.is_none()) {
        None
    } else {
        grants.iter().filter_map(|g| g.until).max()
    };
    let valid_until = end.map_or(cap, |e| e.min(cap));
    let user = state.user(me).ok_or_else(|| DomainError::forbidden("unknown user"))?;
    let login = p.config.account_name(me, user.email.as_str());
    let credential =
        Credential { platform: platform.clone(), user: me, verifier, issued_at: ctx.now, valid_until };
    let target = Target::Project(ws.clone(), project.clone());
    let ev = event(
        state,
        ctx,
        EventType::CredentialIssued,
        Some(&target),
        Some(user.email.to_string()),
        json!({"platform": platform.as_str(), "login": login, "expires_at": valid_until.to_rfc3339()}),
    );
    Ok((
        Changes { changes: vec![Change::PutCredential(credential.clone())], events: vec![ev] },
        credential,
        login,
    ))
}
