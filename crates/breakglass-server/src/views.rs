//! Conversions from the core's records to the API's wire types.

use breakglass_api as api;
use breakglass_core::audit::AuditEvent;
use breakglass_core::check::Decision;
use breakglass_core::model::{Binding, Project, Token, User, Workspace};
use breakglass_core::time::Timestamp;
use breakglass_core::State;

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// A user on the wire.
pub fn user(u: &User) -> api::User {
    api::User {
        id: u.id.to_string(),
        email: u.email.to_string(),
        name: u.name.to_string(),
        admin_role: u.admin_role.as_str().into(),
        status: u.status.as_str().into(),
        created_at: u.created_at.to_rfc3339(),
    }
}

/// A workspace on the wire.
pub fn workspace(state: &State, w: &Workspace) -> api::Workspace {
    api::Workspace {
        identifier: w.id.to_string(),
        name: w.name.to_string(),
        status: w.status.as_str().into(),
        project_quota: w.project_quota,
        project_count: u32::try_from(state.projects_of(&w.id).count()).unwrap_or(u32::MAX),
        created_at: w.created_at.to_rfc3339(),
    }
}

/// A project on the wire.
pub fn project(p: &Project) -> api::Project {
    api::Project {
        workspace: p.workspace.to_string(),
        identifier: p.id.to_string(),
        name: p.name.to_string(),
        created_at: p.created_at.to_rfc3339(),
    }
}

/// A binding on the wire.
pub fn binding(state: &State, b: &Binding) -> api::Binding {
    api::Binding {
        id: b.id.to_string(),
        user: state.user(b.user).map_or_else(|| b.user.to_string(), |u| u.email.to_string()),
        workspace: b.target.workspace().to_string(),
        project: b.target.project().map(ToString::to_string),
        role: b.role.as_str().into(),
        source: b.source.as_str().into(),
        starts_at: b.starts_at.to_rfc3339(),
        expires_at: time(b.expires_at),
        reason: b.reason.clone(),
    }
}

/// A token listing on the wire (never the secret).
pub fn token(t: &Token) -> api::Token {
    api::Token {
        id: t.id.to_string(),
        name: t.name.to_string(),
        kind: t.kind.as_str().into(),
        created_at: t.created_at.to_rfc3339(),
        expires_at: time(t.expires_at),
    }
}

/// A check decision on the wire.
pub fn decision(d: &Decision) -> api::CheckResponse {
    api::CheckResponse {
        allowed: d.allowed,
        expires_at: time(d.expires_at),
        via: d
            .via
            .iter()
            .map(|v| api::Via {
                binding_id: v.binding.to_string(),
                role: v.role.as_str().into(),
                source: v.source.as_str().into(),
                expires_at: time(v.expires_at),
            })
            .collect(),
        reason: d.reason.map(|r| r.as_str().into()),
    }
}

/// An audit event on the wire.
pub fn audit_event(e: &AuditEvent) -> api::AuditEvent {
    api::AuditEvent {
        seq: e.seq,
        time: e.time.to_rfc3339(),
        event_type: e.event_type.clone(),
        actor: e.actor.clone(),
        on_behalf_of: e.on_behalf_of.clone(),
        workspace: e.workspace.clone(),
        project: e.project.clone(),
        subject: e.subject.clone(),
        details: e.details.clone(),
        prev_hash: hex::encode(e.prev_hash),
        hash: hex::encode(e.hash),
    }
}
