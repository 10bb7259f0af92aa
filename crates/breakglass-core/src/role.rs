//! Roles. Within a kind they are ranked, and a role implies every lower-ranked one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Installation-wide role of a user in the admin area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// An ordinary user.
    #[default]
    None,
    /// Everything, including settings and admin users.
    Admin,
    /// Manages workspaces and reads all history; no settings, no admin users.
    Employee,
    /// Reads everything, changes nothing.
    Auditor,
}

impl AdminRole {
    /// Parses `none`, `admin`, `employee` or `auditor`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "none" | "" => Self::None,
            "admin" => Self::Admin,
            "employee" => Self::Employee,
            "auditor" => Self::Auditor,
            _ => {
                return Err(DomainError::invalid(
                    "input.unknown_role",
                    format!("unknown admin role '{s}': use none, admin, employee or auditor"),
                ))
            }
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Admin => "admin",
            Self::Employee => "employee",
            Self::Auditor => "auditor",
        }
    }

    /// May manage workspaces across the installation (admin or employee).
    pub fn manages_workspaces(self) -> bool {
        matches!(self, Self::Admin | Self::Employee)
    }

    /// May read every workspace, project and history (admin, employee or auditor).
    pub fn reads_everything(self) -> bool {
        !matches!(self, Self::None)
    }
}

/// Role on a workspace, ranked `member < manager < owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceRole {
    /// Sees the workspace.
    Member,
    /// Manages the workspace's members, projects and project bindings.
    Manager,
    /// Also manages managers and owners.
    Owner,
}

impl WorkspaceRole {
    /// Parses `member`, `manager` or `owner`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "member" => Ok(Self::Member),
            "manager" => Ok(Self::Manager),
            "owner" => Ok(Self::Owner),
            _ => Err(DomainError::invalid(
                "input.unknown_role",
                format!("unknown workspace role '{s}': use member, manager or owner"),
            )),
        }
    }
}

/// Role on a project, ranked `reader < user < admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    /// Reads the project's resources.
    Reader,
    /// Works with the project's resources.
    User,
    /// Administers the project's resources.
    Admin,
}

impl ProjectRole {
    /// Parses a project role name (`reader`, `user`, `admin`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "reader" => Ok(Self::Reader),
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(DomainError::invalid(
                "input.unknown_role",
                format!("unknown project role '{s}': use reader, user or admin"),
            )),
        }
    }

    /// The wire name (`reader`, `user`, `admin`).
    pub fn as_str(self) -> &'static str {
        Role::Project(self).as_str()
    }
}

/// A role of either kind; its kind must match the kind of target it is held on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A workspace role.
    Workspace(WorkspaceRole),
    /// A project role.
    Project(ProjectRole),
}

impl Role {
    /// Parses a workspace role name.
    pub fn parse_workspace(s: &str) -> Result<Self, DomainError> {
        WorkspaceRole::parse(s).map(Self::Workspace)
    }

    /// Parses a project role name.
    pub fn parse_project(s: &str) -> Result<Self, DomainError> {
        ProjectRole::parse(s).map(Self::Project)
    }

    /// Parses a role name for a project target when `project` is true, else for a workspace.
    pub fn parse_for(s: &str, project: bool) -> Result<Self, DomainError> {
        if project {
            Self::parse_project(s)
        } else {
            Self::parse_workspace(s)
        }
    }

    /// The wire name (`member`, `manager`, `owner`, `reader`, `user`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace(WorkspaceRole::Member) => "member",
            Self::Workspace(WorkspaceRole::Manager) => "manager",
            Self::Workspace(WorkspaceRole::Owner) => "owner",
            Self::Project(ProjectRole::Reader) => "reader",
            Self::Project(ProjectRole::User) => "user",
            Self::Project(ProjectRole::Admin) => "admin",
        }
    }

    /// Parses a stored role name of either kind.
    pub fn parse_any(s: &str) -> Result<Self, DomainError> {
        Self::parse_workspace(s).or_else(|_| Self::parse_project(s))
    }

    /// True when holding `self` implies holding `wanted` (same kind, rank at least as high).
    pub fn implies(self, wanted: Role) -> bool {
        match (self, wanted) {
            (Self::Workspace(a), Self::Workspace(b)) => a >= b,
            (Self::Project(a), Self::Project(b)) => a >= b,
            _ => false,
        }
    }

    /// Rank within its kind, 0 for the lowest.
    pub fn rank(self) -> u8 {
        match self {
            Self::Workspace(r) => r as u8,
            Self::Project(r) => r as u8,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_roles_imply_lower_ones_of_the_same_kind_only() {
        let owner = Role::Workspace(WorkspaceRole::Owner);
        let member = Role::Workspace(WorkspaceRole::Member);
        let admin = Role::Project(ProjectRole::Admin);
        assert!(owner.implies(member));
        assert!(!member.implies(owner));
        assert!(!owner.implies(Role::Project(ProjectRole::Reader)));
        assert!(admin.implies(Role::Project(ProjectRole::Reader)));
        assert_eq!(Role::parse_for("admin", true).unwrap(), admin);
        assert_eq!(Role::parse_for("admin", false).unwrap_err().code(), "input.unknown_role");
    }
}
