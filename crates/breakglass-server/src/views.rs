//! Conversions from the core's records to the API's wire types.

use breakglass_api as api;
use breakglass_core::access::{
    current_step, quorum_unreachable, AccessRequest, ApproverSet, Policy, RequestState, Review, ReviewOutcome,
};
use breakglass_core::audit::AuditEvent;
use breakglass_core::check::{Decision, DenyReason, Via};
use breakglass_core::delegation::{Access, AccessKind, AccessStatus, RecipientStatus};
use breakglass_core::ident::{Email, UserId};
use breakglass_core::model::{
    Binding, BindingSource, Project, Token, TokenKind, User, UserStatus, Workspace, WorkspaceStatus,
};
use breakglass_core::org::{
    Invitation, InvitationState, Message, MessageMode, Settings, TagDefinition, TagRule, Tags,
};
use breakglass_core::role::{AdminRole, ProjectRole, Role, WorkspaceRole};
use breakglass_core::time::Timestamp;
use breakglass_core::State;

/// An admin-area role on the wire.
pub fn admin_role(r: AdminRole) -> api::AdminRole {
    match r {
        AdminRole::None => api::AdminRole::None,
        AdminRole::Admin => api::AdminRole::Admin,
        AdminRole::Employee => api::AdminRole::Employee,
        AdminRole::Auditor => api::AdminRole::Auditor,
    }
}

/// A workspace status on the wire.
pub fn workspace_status(s: WorkspaceStatus) -> api::WorkspaceStatus {
    match s {
        WorkspaceStatus::Active => api::WorkspaceStatus::Active,
        WorkspaceStatus::Disabled => api::WorkspaceStatus::Disabled,
        WorkspaceStatus::PendingApproval => api::WorkspaceStatus::PendingApproval,
        WorkspaceStatus::Rejected => api::WorkspaceStatus::Rejected,
    }
}

/// A workspace role on the wire.
pub fn workspace_role(r: WorkspaceRole) -> api::WorkspaceRole {
    match r {
        WorkspaceRole::Member => api::WorkspaceRole::Member,
        WorkspaceRole::Manager => api::WorkspaceRole::Manager,
        WorkspaceRole::Owner => api::WorkspaceRole::Owner,
    }
}

/// A role of either kind on the wire.
pub fn role(r: Role) -> api::Role {
    match r {
        Role::Workspace(WorkspaceRole::Member) => api::Role::Member,
        Role::Workspace(WorkspaceRole::Manager) => api::Role::Manager,
        Role::Workspace(WorkspaceRole::Owner) => api::Role::Owner,
        Role::Project(ProjectRole::Reader) => api::Role::Reader,
        Role::Project(ProjectRole::User) => api::Role::User,
        Role::Project(ProjectRole::Admin) => api::Role::Admin,
    }
}

/// How a binding came to be, on the wire (the request it came from is a field of its own).
pub fn source(s: BindingSource) -> api::BindingSource {
    match s {
        BindingSource::Direct => api::BindingSource::Direct,
        BindingSource::Grant => api::BindingSource::Grant,
        BindingSource::Request(_) => api::BindingSource::Request,
        BindingSource::Emergency(_) => api::BindingSource::Emergency,
    }
}

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// A user on the wire.
pub fn user(u: &User) -> api::User {
    api::User {
        id: u.id.to_string(),
        email: u.email.to_string(),
        name: u.name.to_string(),
        admin_role: admin_role(u.admin_role),
        status: match u.status {
            UserStatus::Active => api::UserStatus::Active,
            UserStatus::Disabled => api::UserStatus::Disabled,
        },
        created_at: u.created_at.to_rfc3339(),
    }
}

/// A workspace on the wire.
pub fn workspace(state: &State, w: &Workspace) -> api::Workspace {
    api::Workspace {
        identifier: w.id.to_string(),
        name: w.name.to_string(),
        status: workspace_status(w.status),
        project_quota: w.project_quota,
        project_count: u32::try_from(state.projects_of(&w.id).count()).unwrap_or(u32::MAX),
        open_reviews: u32::try_from(
            state.reviews().filter(|r| r.is_open() && r.target.workspace() == &w.id).count(),
        )
        .unwrap_or(u32::MAX),
        tags: tags(&w.tags),
        created_at: w.created_at.to_rfc3339(),
    }
}

/// A project on the wire.
pub fn project(p: &Project) -> api::Project {
    api::Project {
        workspace: p.workspace.to_string(),
        identifier: p.id.to_string(),
        name: p.name.to_string(),
        tags: tags(&p.tags),
        created_at: p.created_at.to_rfc3339(),
    }
}

fn tags(t: &Tags) -> std::collections::BTreeMap<String, String> {
    t.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// A binding on the wire.
pub fn binding(state: &State, b: &Binding) -> api::Binding {
    api::Binding {
        id: b.id.to_string(),
        user: state.user(b.user).map_or_else(|| b.user.to_string(), |u| u.email.to_string()),
        workspace: b.target.workspace().to_string(),
        project: b.target.project().map(ToString::to_string),
        role: role(b.role),
        source: source(b.source),
        request_id: b.source.request().map(|r| r.to_string()),
        emergency: b.source.is_emergency(),
        starts_at: b.starts_at.to_rfc3339(),
        expires_at: time(b.expires_at),
        reason: b.reason.clone(),
        provisioning: provisioning(state, b),
    }
}

/// Where a project binding's access stands on each of the project's tenants whose platform
/// provisions it.
fn provisioning(state: &State, b: &Binding) -> Vec<api::Provisioning> {
    use breakglass_core::provision::{GrantKey, ProvisionState, Subject};
    let (Some(project), Role::Project(role)) = (b.target.project(), b.role) else { return vec![] };
    let ws = b.target.workspace();
    let live =
        state.workspace(ws).is_some_and(|w| w.status == breakglass_core::model::WorkspaceStatus::Active);
    state
        .tenants_of(ws, project)
        .filter_map(|t| {
            let platform = state
                .platform(&t.platform)
                .filter(|p| crate::provision::kind_of(p).is_some_and(|k| k.provisions()))?;
            let key = GrantKey {
                platform: t.platform.clone(),
                workspace: ws.clone(),
                project: project.clone(),
                subject: Subject::User(b.user),
                role,
            };
            let record = state.provision(&key);
            let account = record
                .map(|r| r.place.account.clone())
                .or_else(|| state.user(b.user).map(|u| platform.config.account_name(u.id, u.email.as_str())));
            let mut view = api::Provisioning {
                platform: t.platform.to_string(),
                state: api::ProvisioningState::Pending,
                account,
                error: None,
                attempts: None,
                next_retry: None,
                since: None,
            };
            match record.map(|r| &r.state) {
                Some(ProvisionState::Provisioned { at }) => {
                    view.state = api::ProvisioningState::Provisioned;
                    view.since = Some(at.to_rfc3339());
                }
                Some(ProvisionState::Failed { error, attempts, next_retry, since }) => {
                    view.state = api::ProvisioningState::Failed;
                    view.error = Some(error.clone());
                    view.attempts = Some(*attempts);
                    view.next_retry = Some(next_retry.to_rfc3339());
                    view.since = Some(since.to_rfc3339());
                }
                None if !live => view.state = api::ProvisioningState::Revoked,
                None => {}
            }
            Some(view)
        })
        .collect()
}

/// A token listing on the wire (never the secret).
pub fn token(t: &Token, last_used_at: Option<Timestamp>) -> api::Token {
    api::Token {
        id: t.id.to_string(),
        name: t.name.to_string(),
        kind: match t.kind {
            TokenKind::Api => api::TokenKind::Api,
            TokenKind::Session => api::TokenKind::Session,
        },
        created_at: t.created_at.to_rfc3339(),
        expires_at: time(t.expires_at),
        scope: t.scope.as_ref().map(ToString::to_string),
        read_only: t.read_only,
        last_used_at: time(last_used_at),
        access_id: t.access.map(|a| a.to_string()),
    }
}

/// An access on the wire. `full`: for its owner and the admin area (name and every recipient);
/// otherwise for a recipient `viewer` (no name, only their own entry).
pub fn access(state: &State, a: &Access, now: Timestamp, full: bool, viewer: &Email) -> api::Access {
    api::Access {
        id: a.id.to_string(),
        owner: email(state, a.owner),
        kind: match a.kind {
            AccessKind::ApiToken => api::AccessKind::ApiToken,
            AccessKind::Delegate => api::AccessKind::Delegate,
        },
        name: full.then(|| a.name.to_string()),
        scope: a.scope.as_ref().map(ToString::to_string),
        status: match a.status(now) {
            AccessStatus::Active => api::AccessStatus::Active,
            AccessStatus::Revoked => api::AccessStatus::Revoked,
            AccessStatus::Expired => api::AccessStatus::Expired,
        },
        created_at: a.created_at.to_rfc3339(),
        expires_at: time(a.expires_at),
        revoked_at: time(a.revoked_at),
        recipients: a
            .recipients
            .iter()
            .filter(|r| full || &r.email == viewer)
            .map(|r| api::AccessRecipient {
                email: r.email.to_string(),
                status: match r.status {
                    RecipientStatus::Pending => api::RecipientStatus::Pending,
                    RecipientStatus::Accepted => api::RecipientStatus::Accepted,
                    RecipientStatus::Declined => api::RecipientStatus::Declined,
                },
                added_at: r.added_at.to_rfc3339(),
                decided_at: time(r.decided_at),
            })
            .collect(),
        token_id: a.token.map(|t| t.to_string()),
        read_only: a.read_only,
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
                role: role(v.role),
                source: source(v.source),
                request_id: v.source.request().map(|r| r.to_string()),
                emergency: v.source.is_emergency(),
                expires_at: time(v.expires_at),
            })
            .collect(),
        reason: d.reason.map(|r| match r {
            DenyReason::NoBinding => api::DenyReason::NoBinding,
            DenyReason::UnknownTarget => api::DenyReason::UnknownTarget,
            DenyReason::WorkspaceNotActive => api::DenyReason::WorkspaceNotActive,
            DenyReason::UserDisabled => api::DenyReason::UserDisabled,
        }),
    }
}

/// A decision written straight to JSON from the core value: the same bytes as
/// `serde_json` gives for [`decision`]'s `api::CheckResponse` (a test holds them equal), without
/// building its strings first. Batches of checks are answered with it.
pub struct DecisionJson<'a>(pub &'a Decision);

/// A value written with its `Display` impl, as a JSON string.
struct Text<T>(T);

impl<T: std::fmt::Display> serde::Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

struct ViaJson<'a>(&'a Via);

impl serde::Serialize for ViaJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let v = self.0;
        let request = v.source.request();
        let fields = 4 + usize::from(request.is_some()) + usize::from(v.expires_at.is_some());
        let mut m = s.serialize_struct("Via", fields)?;
        m.serialize_field("binding_id", &Text(v.binding))?;
        m.serialize_field("role", v.role.as_str())?;
        m.serialize_field("source", v.source.as_str())?;
        if let Some(r) = request {
            m.serialize_field("request_id", &Text(r))?;
        }
        m.serialize_field("emergency", &v.source.is_emergency())?;
        if let Some(t) = v.expires_at {
            m.serialize_field("expires_at", &Text(t))?;
        }
        m.end()
    }
}

impl serde::Serialize for DecisionJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let d = self.0;
        let fields = 2 + usize::from(d.expires_at.is_some()) + usize::from(d.reason.is_some());
        let mut m = s.serialize_struct("CheckResponse", fields)?;
        m.serialize_field("allowed", &d.allowed)?;
        if let Some(t) = d.expires_at {
            m.serialize_field("expires_at", &Text(t))?;
        }
        m.serialize_field("via", &ViasJson(d))?;
        if let Some(r) = d.reason {
            m.serialize_field("reason", r.as_str())?;
        }
        m.end()
    }
}

struct ViasJson<'a>(&'a Decision);

impl serde::Serialize for ViasJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.via.iter().map(ViaJson))
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

fn email(state: &State, id: UserId) -> String {
    state.user(id).map_or_else(|| id.to_string(), |u| u.email.to_string())
}

/// A policy on the wire (approvers by e-mail).
pub fn policy(state: &State, p: &Policy) -> api::Policy {
    api::Policy {
        id: p.id.to_string(),
        name: p.name.to_string(),
        workspace: p.workspace.as_ref().map(ToString::to_string),
        steps: p
            .steps
            .iter()
            .map(|s| api::PolicyStep {
                approvers: s.approvers.kind().into(),
                users: match &s.approvers {
                    ApproverSet::Users(users) => users.iter().map(|u| email(state, *u)).collect(),
                    _ => Vec::new(),
                },
                count: s.count,
            })
            .collect(),
        max_duration: p.max_duration.map(|d| d.to_string()),
        justification_required: p.justification_required,
        pending_ttl: p.pending_ttl.to_string(),
        created_at: p.created_at.to_rfc3339(),
        updated_at: p.updated_at.to_rfc3339(),
    }
}

/// A request on the wire, with its current step and whether its quorum is reachable at `now`.
pub fn request(state: &State, r: &AccessRequest, now: Timestamp) -> api::Request {
    let pending = r.state == breakglass_core::access::RequestState::Pending;
    api::Request {
        id: r.id.to_string(),
        user: email(state, r.user),
        created_by: email(state, r.created_by),
        requested_via: r.requested_via.map(|u| email(state, u)),
        workspace: r.target.workspace().to_string(),
        project: r.target.project().map(ToString::to_string),
        role: role(r.role),
        duration: r.duration.map(|d| d.to_string()),
        justification: r.justification.clone(),
        emergency: r.emergency,
        state: match r.state {
            RequestState::Pending => api::RequestState::Pending,
            RequestState::Granted => api::RequestState::Granted,
            RequestState::Denied => api::RequestState::Denied,
            RequestState::Cancelled => api::RequestState::Cancelled,
            RequestState::Lapsed => api::RequestState::Lapsed,
        },
        policy: policy(state, &r.policy),
        approvals: r
            .approvals
            .iter()
            .map(|a| api::Approval {
                by: email(state, a.by),
                step: a.step + 1,
                at: a.at.to_rfc3339(),
                is_override: a.is_override,
                via: a.via.map(|u| email(state, u)),
            })
            .collect(),
        current_step: if pending { current_step(r).and_then(|s| u32::try_from(s + 1).ok()) } else { None },
        quorum_unreachable: quorum_unreachable(state, r, now),
        created_at: r.created_at.to_rfc3339(),
        lapses_at: r.lapses_at.to_rfc3339(),
        escalated_at: time(r.escalated_at),
        decided_at: time(r.decided_at),
        decided_by: r.decided_by.map(|u| email(state, u)),
        deny_reason: r.deny_reason.clone(),
        binding_id: r.binding.map(|b| b.to_string()),
    }
}

/// An emergency review on the wire.
pub fn review(state: &State, r: &Review) -> api::Review {
    api::Review {
        id: r.id.to_string(),
        request_id: r.request.to_string(),
        binding_id: r.binding.to_string(),
        holder: email(state, r.holder),
        workspace: r.target.workspace().to_string(),
        project: r.target.project().map(ToString::to_string),
        role: role(r.role),
        opened_at: r.opened_at.to_rfc3339(),
        state: if r.is_open() { api::ReviewState::Open } else { api::ReviewState::Completed },
        outcome: r.outcome.map(|o| match o {
            ReviewOutcome::Justified => api::ReviewOutcome::Justified,
            ReviewOutcome::NotJustified => api::ReviewOutcome::NotJustified,
        }),
        notes: r.notes.clone(),
        completed_by: r.completed_by.map(|u| email(state, u)),
        completed_at: time(r.completed_at),
    }
}

/// An invitation on the wire; a pending one past its expiry shows as `expired`.
pub fn invitation(state: &State, i: &Invitation, now: Timestamp) -> api::Invitation {
    let st = match i.state {
        _ if i.is_expired(now) => api::InvitationState::Expired,
        InvitationState::Pending => api::InvitationState::Pending,
        InvitationState::Accepted => api::InvitationState::Accepted,
        InvitationState::Declined => api::InvitationState::Declined,
        InvitationState::Cancelled => api::InvitationState::Cancelled,
    };
    api::Invitation {
        id: i.id.to_string(),
        workspace: i.workspace.to_string(),
        email: i.email.to_string(),
        role: workspace_role(i.role),
        membership_expires_at: time(i.membership_expires_at),
        invited_by: email(state, i.invited_by),
        state: st,
        created_at: i.created_at.to_rfc3339(),
        expires_at: i.expires_at.to_rfc3339(),
        token: None,
    }
}

/// A message on the wire; acknowledgements only for those who may see them.
pub fn message(state: &State, m: &Message, with_acks: bool) -> api::Message {
    api::Message {
        id: m.id.to_string(),
        workspace: m.workspace.to_string(),
        text: m.text.clone(),
        mode: match m.mode {
            MessageMode::AllMustRead => api::MessageMode::AllMustRead,
            MessageMode::SingleRead => api::MessageMode::SingleRead,
        },
        sender: email(state, m.sender),
        created_at: m.created_at.to_rfc3339(),
        acknowledgements: if with_acks {
            m.acks
                .iter()
                .map(|(u, at)| api::Acknowledgement { user: email(state, *u), at: at.to_rfc3339() })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A tag definition on the wire.
pub fn tag_definition(d: &TagDefinition) -> api::TagDefinition {
    let (values, pattern) = match &d.rule {
        TagRule::Any => (Vec::new(), None),
        TagRule::Values(v) => (v.clone(), None),
        TagRule::Pattern(p) => (Vec::new(), Some(p.clone())),
    };
    api::TagDefinition {
        key: d.key.to_string(),
        target: d.target.as_str().into(),
        restricted: d.restricted,
        values,
        pattern,
        mandatory: d.mandatory,
        default: d.default.clone(),
    }
}

/// The settings on the wire, every field present.
pub fn settings(s: &Settings) -> api::Settings {
    let text = |v: serde_json::Value| v.as_str().map(str::to_owned);
    api::Settings {
        workspace_registration: text(serde_json::to_value(s.workspace_registration).unwrap_or_default()),
        signup: text(serde_json::to_value(s.signup).unwrap_or_default()),
        invitation_ttl_days: u32::try_from(
            s.invitation_ttl.as_micros() / breakglass_core::time::Span::days(1).as_micros(),
        )
        .ok(),
        default_project_quota: Some(s.default_project_quota),
        restrict_admin_role_assignment: Some(s.restrict_admin_role_assignment),
        add_myself_default_expiry: Some(s.add_myself_default_expiry.to_string()),
        add_myself_max_expiry: Some(s.add_myself_max_expiry.to_string()),
        max_expiry: Some(s.max_expiry.to_string()),
        max_api_tokens_per_user: Some(s.max_api_tokens_per_user),
        max_sessions_per_user: Some(s.max_sessions_per_user),
    }
}

#[cfg(test)]
mod tests {
    use breakglass_core::check::{DenyReason, ViaList};
    use breakglass_core::ident::{BindingId, RequestId};
    use breakglass_core::model::BindingSource;
    use breakglass_core::role::{ProjectRole, Role, WorkspaceRole};
    use uuid::Uuid;

    use super::*;

    /// Every shape of decision: denied for each reason, allowed through one or several bindings
    /// of each source, ending or not, at whole and fractional seconds.
    #[test]
    fn decision_json_is_the_wire_type_byte_for_byte() {
        let via = |k: u64, source: BindingSource, expires: Option<i64>| Via {
            binding: BindingId(Uuid::from_u64_pair(0xB1, k)),
            role: if k.is_multiple_of(2) {
                Role::Project(ProjectRole::Admin)
            } else {
                Role::Workspace(WorkspaceRole::Owner)
            },
            source,
            expires_at: expires.map(Timestamp::from_micros),
        };
        let request = RequestId(Uuid::from_u64_pair(0xEE, 7));
        let sources = [
            BindingSource::Direct,
            BindingSource::Grant,
            BindingSource::Request(request),
            BindingSource::Emergency(request),
        ];
        let mut decisions: Vec<Decision> = [
            DenyReason::NoBinding,
            DenyReason::UnknownTarget,
            DenyReason::WorkspaceNotActive,
            DenyReason::UserDisabled,
        ]
        .into_iter()
        .map(|r| Decision { allowed: false, expires_at: None, via: ViaList::new(), reason: Some(r) })
        .collect();
        for (k, source) in sources.iter().enumerate() {
            for expires in [None, Some(1_767_225_600_000_000), Some(1_767_225_600_123_450)] {
                let mut list = ViaList::new();
                list.push(via(k as u64, *source, expires));
                decisions.push(Decision {
                    allowed: true,
                    expires_at: expires.map(Timestamp::from_micros),
                    via: list,
                    reason: None,
                });
            }
        }
        let many: Vec<Via> =
            sources.iter().enumerate().map(|(k, s)| via(k as u64, *s, Some(1_800_000_000_000_001))).collect();
        decisions.push(Decision {
            allowed: true,
            expires_at: many[0].expires_at,
            via: many.into(),
            reason: None,
        });
        for d in &decisions {
            let expected = serde_json::to_string(&decision(d)).unwrap();
            assert_eq!(serde_json::to_string(&DecisionJson(d)).unwrap(), expected);
        }
    }
}
