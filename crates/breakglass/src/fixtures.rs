//! Values for the tests of this crate.

use breakglass_api::{
    Access, AccessRecipient, Acknowledgement, Approval, Invitation, Message, Policy, PolicyStep, Request,
    Workspace,
};

/// A live delegate access of `olga@x.io` to `acme`, shared with `dave@x.io` (accepted) and
/// `carl@x.io` (pending).
pub fn access() -> Access {
    let recipient = |email: &str, status: &str, decided: Option<&str>| AccessRecipient {
        email: email.into(),
        status: status.parse().unwrap(),
        added_at: "2026-01-01T00:00:00Z".into(),
        decided_at: decided.map(Into::into),
    };
    Access {
        id: "a1".into(),
        owner: "olga@x.io".into(),
        kind: "delegate".parse().unwrap(),
        name: Some("holiday".into()),
        scope: Some("acme".into()),
        status: "active".parse().unwrap(),
        created_at: "2026-01-01T00:00:00Z".into(),
        expires_at: Some("2026-01-15T00:00:00Z".into()),
        revoked_at: None,
        recipients: vec![
            recipient("dave@x.io", "accepted", Some("2026-01-02T00:00:00Z")),
            recipient("carl@x.io", "pending", None),
        ],
        token_id: None,
        read_only: false,
    }
}

/// An active workspace `acme` with one tag.
pub fn workspace() -> Workspace {
    Workspace {
        identifier: "acme".into(),
        name: "Acme".into(),
        status: "active".parse().unwrap(),
        project_quota: 5,
        project_count: 1,
        open_reviews: 0,
        tags: [("cost-center".to_owned(), "42".to_owned())].into(),
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// A pending invitation of `new@x.io` to `acme` as manager.
pub fn invitation() -> Invitation {
    Invitation {
        id: "i1".into(),
        workspace: "acme".into(),
        email: "new@x.io".into(),
        role: "manager".parse().unwrap(),
        membership_expires_at: None,
        invited_by: "mia@x.io".into(),
        state: "pending".parse().unwrap(),
        created_at: "2026-01-01T00:00:00Z".into(),
        expires_at: "2026-01-08T00:00:00Z".into(),
        token: None,
    }
}

/// A single-read message to `acme`, acknowledged by `bob@x.io`.
pub fn message() -> Message {
    Message {
        id: "m1".into(),
        workspace: "acme".into(),
        text: "patch day".into(),
        mode: "single_read".parse().unwrap(),
        sender: "admin@localhost".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        acknowledgements: vec![Acknowledgement {
            user: "bob@x.io".into(),
            at: "2026-01-01T01:00:00Z".into(),
        }],
    }
}

/// A policy with these steps (`count`, approver set).
pub fn policy(steps: &[(u32, &str)]) -> Policy {
    Policy {
        id: "p1".into(),
        name: "four eyes".into(),
        workspace: Some("acme".into()),
        steps: steps
            .iter()
            .map(|(count, set)| PolicyStep { approvers: (*set).into(), users: vec![], count: *count })
            .collect(),
        max_duration: Some("8h".into()),
        justification_required: true,
        pending_ttl: "7d".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// A pending request for `bob@x.io` under a two-step policy (2 managers, then 1 admin),
/// with one approval for step 1.
pub fn request(id: &str) -> Request {
    Request {
        id: id.into(),
        user: "bob@x.io".into(),
        created_by: "bob@x.io".into(),
        requested_via: None,
        workspace: "acme".into(),
        project: Some("web".into()),
        role: "admin".parse().unwrap(),
        duration: Some("2h".into()),
        justification: Some("deploy".into()),
        emergency: false,
        state: "pending".parse().unwrap(),
        policy: policy(&[(2, "workspace_managers"), (1, "admin_area")]),
        approvals: vec![Approval {
            by: "mia@x.io".into(),
            step: 1,
            at: "2026-01-01T00:01:00Z".into(),
            is_override: false,
            via: None,
        }],
        current_step: Some(1),
        quorum_unreachable: false,
        created_at: "2026-01-01T00:00:00Z".into(),
        lapses_at: "2026-01-08T00:00:00Z".into(),
        escalated_at: None,
        decided_at: None,
        decided_by: None,
        deny_reason: None,
        binding_id: None,
    }
}
