//! The closed vocabularies of answers: statuses, roles, kinds, sources and outcomes. Each is an
//! enum, so a page or a client comparing with a misspelt value does not compile; on the wire each
//! is its snake_case name, and the OpenAPI document lists the names.
//!
//! Request bodies keep such values as strings, parsed by the server into the core's types, so a
//! bad one gets a precise error with a stable code rather than a generic deserialisation failure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a wire enum: its variants with their wire names, `as_str`, `Display` and `FromStr`.
/// Serde and the OpenAPI schema name each variant in snake_case (a `rename` passed through a
/// macro is lost on the schema); a test holds every wire name equal to that.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($wire => Ok($name::$variant),)*
                    _ => Err(UnknownValue { of: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

/// A name that is not one of an enum's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownValue {
    /// The enum.
    pub of: &'static str,
    /// What was given.
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}' is not a value of {}", self.value, self.of)
    }
}

impl std::error::Error for UnknownValue {}

wire_enum! {
    /// Whether the server takes writes.
    HealthStatus {
        /// Answers and takes writes.
        Ok = "ok",
        /// Answers checks but refuses writes: the audit log failed an integrity check.
        Degraded = "degraded",
    }
}

wire_enum! {
    /// Where a binding's access stands on one platform.
    ProvisioningState {
        /// Not placed yet.
        Pending = "pending",
        /// The platform holds it.
        Provisioned = "provisioned",
        /// The last attempt failed; it is retried.
        Failed = "failed",
        /// The access does not count now (it has not started, or its workspace is disabled):
        /// the platform holds none.
        Revoked = "revoked",
    }
}

wire_enum! {
    /// A user's role in the admin area.
    AdminRole {
        /// An ordinary user.
        None = "none",
        /// Everything, including settings and admin users.
        Admin = "admin",
        /// Manages workspaces and reads all history.
        Employee = "employee",
        /// Reads everything, changes nothing.
        Auditor = "auditor",
    }
}

wire_enum! {
    /// Whether a user may sign in and act.
    UserStatus {
        /// May sign in.
        Active = "active",
        /// Signed out everywhere and refused.
        Disabled = "disabled",
    }
}

wire_enum! {
    /// What a credential is.
    TokenKind {
        /// An API token.
        Api = "api",
        /// A session from signing in.
        Session = "session",
    }
}

wire_enum! {
    /// What an access shares.
    AccessKind {
        /// A bearer token acting as the owner.
        ApiToken = "api_token",
        /// Named people act as the owner with their own credentials.
        Delegate = "delegate",
    }
}

wire_enum! {
    /// Where an access stands.
    AccessStatus {
        /// Works.
        Active = "active",
        /// Revoked by its owner or the admin area.
        Revoked = "revoked",
        /// Past its expiry.
        Expired = "expired",
    }
}

wire_enum! {
    /// Where a recipient of a delegate access stands.
    RecipientStatus {
        /// Not yet accepted: cannot act yet.
        Pending = "pending",
        /// May act as the owner.
        Accepted = "accepted",
        /// Said no, or gave it up.
        Declined = "declined",
    }
}

wire_enum! {
    /// Where a workspace stands.
    WorkspaceStatus {
        /// In use.
        Active = "active",
        /// Disabled: its bindings answer no.
        Disabled = "disabled",
        /// Registered, waiting for the admin area.
        PendingApproval = "pending_approval",
        /// Registration refused.
        Rejected = "rejected",
    }
}

wire_enum! {
    /// A role on a workspace.
    WorkspaceRole {
        /// Sees the workspace.
        Member = "member",
        /// Manages members, projects and project bindings.
        Manager = "manager",
        /// Also manages managers and owners.
        Owner = "owner",
    }
}

wire_enum! {
    /// A role held through a binding: a workspace role or a project role.
    Role {
        /// Workspace: sees the workspace.
        Member = "member",
        /// Workspace: manages it.
        Manager = "manager",
        /// Workspace: also manages managers and owners.
        Owner = "owner",
        /// Project: reads its resources.
        Reader = "reader",
        /// Project: works with its resources.
        User = "user",
        /// Project: administers its resources.
        Admin = "admin",
    }
}

wire_enum! {
    /// How a binding came to be.
    BindingSource {
        /// Membership.
        Direct = "direct",
        /// A temporary grant on top of membership.
        Grant = "grant",
        /// An approved request.
        Request = "request",
        /// An emergency request.
        Emergency = "emergency",
    }
}

wire_enum! {
    /// Why a check answered no.
    DenyReason {
        /// No live binding grants the role.
        NoBinding = "no_binding",
        /// The workspace or project does not exist.
        UnknownTarget = "unknown_target",
        /// The workspace is not active.
        WorkspaceNotActive = "workspace_not_active",
        /// The user is disabled.
        UserDisabled = "user_disabled",
    }
}

wire_enum! {
    /// Where an access request stands.
    RequestState {
        /// Waiting for approvals.
        Pending = "pending",
        /// Approved: its binding exists.
        Granted = "granted",
        /// Denied by an approver.
        Denied = "denied",
        /// Withdrawn by the requester.
        Cancelled = "cancelled",
        /// Not decided in time.
        Lapsed = "lapsed",
    }
}

wire_enum! {
    /// Where a review of emergency access stands.
    ReviewState {
        /// Waiting for a reviewer.
        Open = "open",
        /// Done.
        Completed = "completed",
    }
}

wire_enum! {
    /// What a review concluded.
    ReviewOutcome {
        /// The emergency access was justified.
        Justified = "justified",
        /// It was not.
        NotJustified = "not_justified",
    }
}

wire_enum! {
    /// Where an invitation stands.
    InvitationState {
        /// Waiting for the invitee.
        Pending = "pending",
        /// Accepted.
        Accepted = "accepted",
        /// Declined.
        Declined = "declined",
        /// Withdrawn.
        Cancelled = "cancelled",
        /// Past its validity.
        Expired = "expired",
    }
}

wire_enum! {
    /// Who must read a message.
    MessageMode {
        /// Each user until they acknowledge it.
        AllMustRead = "all_must_read",
        /// Gone for everyone once one user does.
        SingleRead = "single_read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + Serialize + std::str::FromStr,
        T: for<'de> Deserialize<'de>,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in all {
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{v}\""), "serde and the wire name of {v:?}");
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn every_wire_name_is_the_serde_name() {
        round_trips(HealthStatus::ALL);
        round_trips(ProvisioningState::ALL);
        round_trips(AdminRole::ALL);
        round_trips(UserStatus::ALL);
        round_trips(TokenKind::ALL);
        round_trips(AccessKind::ALL);
        round_trips(AccessStatus::ALL);
        round_trips(RecipientStatus::ALL);
        round_trips(WorkspaceStatus::ALL);
        round_trips(WorkspaceRole::ALL);
        round_trips(Role::ALL);
        round_trips(BindingSource::ALL);
        round_trips(DenyReason::ALL);
        round_trips(RequestState::ALL);
        round_trips(ReviewState::ALL);
        round_trips(ReviewOutcome::ALL);
        round_trips(InvitationState::ALL);
        round_trips(MessageMode::ALL);
    }

    #[test]
    fn wire_names_round_trip_through_serde_and_from_str() {
        for s in AccessStatus::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<AccessStatus>(&json).unwrap(), *s);
            assert_eq!(s.as_str().parse::<AccessStatus>().unwrap(), *s);
        }
        assert_eq!(
            "live".parse::<AccessStatus>().unwrap_err().to_string(),
            "'live' is not a value of AccessStatus"
        );
        assert_eq!(ReviewOutcome::NotJustified.to_string(), "not_justified");
        assert_eq!(WorkspaceStatus::PendingApproval.as_str(), "pending_approval");
    }
}
