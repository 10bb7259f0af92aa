//! The core's error type. Each variant carries a stable machine-readable `code`; the HTTP layer
//! alone decides which status a variant becomes.

/// Why the core refused a command or a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value does not parse or is out of range (bad slug, bad e-mail, unknown role, ...).
    #[error("{message}")]
    Invalid {
        /// Stable code, e.g. `input.invalid_identifier`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The thing does not exist, or the caller may not know that it exists.
    #[error("{message}")]
    NotFound {
        /// Stable code, e.g. `workspace.not_found`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The caller is known and may see the thing, but may not do this to it.
    #[error("{message}")]
    Forbidden {
        /// Stable code, e.g. `authz.forbidden`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The request collides with existing state (duplicate identifier, ...).
    #[error("{message}")]
    Conflict {
        /// Stable code, e.g. `workspace.exists`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Well-formed input that breaks a business rule (quota, last owner, ...).
    #[error("{message}")]
    Rule {
        /// Stable code, e.g. `workspace.quota_exceeded`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
}

impl DomainError {
    /// A value that does not parse.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }
    /// A thing that does not exist or is not visible.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }
    /// An action the caller may not take.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden { code: "authz.forbidden", message: message.into() }
    }
    /// A collision with existing state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    /// A broken business rule.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        Self::Rule { code, message: message.into() }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. }
            | Self::NotFound { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Rule { code, .. } => code,
        }
    }
}
