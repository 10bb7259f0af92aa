//! Identifiers and names, parsed once at the edge so the rest of the code can trust them.

use std::borrow::{Borrow, Cow};
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

/// An immutable slug naming a workspace or project: `^[a-z0-9][a-z0-9-]{1,62}$`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug; uppercase, too short, too long or other characters are refused.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::check(s).map(|s| Self(s.to_owned()))
    }

    /// Checks a slug without copying it (for lookups, which need no owned value).
    pub fn check(s: &str) -> Result<&str, DomainError> {
        let b = s.as_bytes();
        let ok = (2..=63).contains(&b.len())
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b[1..].iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(s)
        } else {
            Err(DomainError::invalid(
                "input.invalid_identifier",
                format!(
                    "'{}' is not a valid identifier: use 2 to 63 lowercase letters, digits or '-', \
                     starting with a letter or digit",
                    truncate(s, 80)
                ),
            ))
        }
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value that sorts before every valid slug, for range scans.
    pub(crate) fn below_all() -> Self {
        Self(String::new())
    }
}

/// Maps keyed by slugs can be searched with a `&str` (hash, equality and order are the text's).
impl Borrow<str> for Slug {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, trimmed, in Unicode normal form NFKC and lowercased, so that comparisons
/// ignore case and the different encodings of one text (fullwidth `ａ` is `a`; `í` precomposed
/// or with a combining accent are one address).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an address of the form `local@domain` (no spaces, one `@`, at most 254 bytes).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::normalize(s).map(|t| Self(t.into_owned()))
    }

    /// The normalised form of an address, borrowed when `s` already is (for lookups, which
    /// need no owned value).
    pub fn normalize(s: &str) -> Result<Cow<'_, str>, DomainError> {
        use unicode_normalization::UnicodeNormalization as _;
        let trimmed = s.trim();
        let t = if trimmed.is_ascii() {
            if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(trimmed.to_ascii_lowercase())
            } else {
                Cow::Borrowed(trimmed)
            }
        } else {
            // Lowercasing may undo a composition (`İ` becomes `i` and a combining dot): normalise
            // on both sides of it.
            let folded = trimmed.nfkc().collect::<String>().to_lowercase();
            Cow::Owned(folded.nfkc().collect())
        };
        let valid = t.len() <= 254
            && t.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            })
            && !t.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',');
        if valid {
            Ok(t)
        } else {
            Err(DomainError::invalid(
                "input.invalid_email",
                format!("'{}' is not a valid e-mail address", truncate(s, 80)),
            ))
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text under which look-alike addresses collide: the address with every non-ASCII
    /// character replaced by its UTS #39 confusable prototype (Cyrillic `а` by `a`); an ASCII
    /// address is its own key. ASCII characters are kept as they are: ASCII addresses that
    /// merely resemble each other (`rn` and `m`, `l` and `1`) are different mailboxes people type
    /// every day, while a non-ASCII character that imitates an ASCII one is how an address is
    /// spoofed.
    pub fn lookalike_key(&self) -> Cow<'_, str> {
        if self.0.is_ascii() {
            return Cow::Borrowed(&self.0);
        }
        let mut key = String::with_capacity(self.0.len());
        let mut one = [0u8; 4];
        for c in self.0.chars() {
            if c.is_ascii() {
                key.push(c);
            } else {
                let c: &str = c.encode_utf8(&mut one);
                key.extend(unicode_security::skeleton(c).flat_map(char::to_lowercase));
            }
        }
        Cow::Owned(key)
    }
}

/// Maps keyed by addresses can be searched with a normalised `&str`.
impl Borrow<str> for Email {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A human-readable name for a user, workspace, project or token: 1 to 200 characters, no
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// Parses a display name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "input.invalid_name",
                "a name must be 1 to 200 characters without control characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }

    /// The name text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses the textual UUID form.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| {
                    DomainError::invalid("input.invalid_id", format!("'{}' is not a valid {} id", truncate(s, 80), $what))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// Identity of a user; never changes, even if the e-mail does.
    UserId,
    "user"
);
uuid_id!(
    /// Identity of a binding (one grant of one role on one target).
    BindingId,
    "binding"
);
uuid_id!(
    /// Identity of a session or API token (not its secret).
    TokenId,
    "token"
);
uuid_id!(
    /// Identity of an access (an API token or a delegate access shared by its owner).
    AccessId,
    "access"
);
uuid_id!(
    /// Identity of an approval policy.
    PolicyId,
    "policy"
);
uuid_id!(
    /// Identity of an access request.
    RequestId,
    "request"
);
uuid_id!(
    /// Identity of an emergency review.
    ReviewId,
    "review"
);
uuid_id!(
    /// Identity of an invitation.
    InvitationId,
    "invitation"
);
uuid_id!(
    /// Identity of a message to a workspace's users.
    MessageId,
    "message"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["ab", "team-a", "0x", "a-b-c-9", &"a".repeat(63)] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "Team", "-ab", "a_b", "a b", "ä-b", &"a".repeat(64)] {
            assert_eq!(Slug::parse(bad).unwrap_err().code(), "input.invalid_identifier", "{bad}");
        }
    }

    #[test]
    fn emails_are_case_insensitive_and_checked() {
        assert_eq!(Email::parse(" Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
        assert!(Email::parse("admin@localhost").is_ok());
        for bad in ["", "alice", "@x.org", "a@", "a@@b", "a b@c.d", "a@b..c", "a@.b", "<a@b.c>"] {
            assert_eq!(Email::parse(bad).unwrap_err().code(), "input.invalid_email", "{bad}");
        }
    }
}
