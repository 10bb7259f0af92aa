//! The use-case layer: every action and every read as one plain function over the application
//! state and a typed caller, returning typed values (the API's wire types, whose statuses and
//! roles are enums) or an error with a stable code. The HTTP handlers and the web pages are thin
//! edges over these functions: they parse their input, call one, and render what it returns;
//! neither calls the other, and no rule is decided at an edge.

pub mod accesses;
pub mod admin;
pub mod audit;
pub mod check;
pub mod messages;
pub mod platforms;
pub mod requests;
pub mod session;
pub mod ssh;
pub mod users;
pub mod workspaces;

use breakglass_api::{Page, PageQuery};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::DomainError;

use crate::error::ApiError;

/// A context for read-only decisions at the app's current time (no ids are drawn).
pub(crate) fn read_ctx(app: &crate::app::App, caller: &crate::auth::Caller) -> breakglass_core::Ctx {
    caller.ctx(app.now())
}

/// A workspace path segment; a malformed one names no workspace, so it is a 404 like one that
/// does not exist.
pub fn ws_slug(s: &str) -> Result<breakglass_core::ident::Slug, DomainError> {
    breakglass_core::ident::Slug::parse(s)
        .map_err(|_| DomainError::not_found("workspace.not_found", format!("workspace '{s}' not found")))
}

/// What an operation answers.
pub type OpResult<T> = Result<T, ApiError>;

/// A committed write: the audit sequence it committed at, and what it answers.
#[derive(Debug)]
pub struct Written<T> {
    /// The sequence number of its last audit event.
    pub seq: i64,
    /// The answer.
    pub value: T,
}

/// One page of a list, as asked: at most `limit` items (1 to 1000, default 100) after `cursor`.
#[derive(Clone, Debug, Default)]
pub struct PageAsk {
    /// Page size.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<PageQuery> for PageAsk {
    fn from(q: PageQuery) -> Self {
        Self { limit: q.limit, cursor: q.cursor }
    }
}

/// Resolves `expires_at` / `expires_in` into an instant; giving both is refused.
pub fn expiry(
    at: Option<&str>,
    within: Option<&str>,
    now: Timestamp,
) -> Result<Option<Timestamp>, DomainError> {
    match (at, within) {
        (Some(_), Some(_)) => Err(DomainError::invalid(
            "input.conflicting_fields",
            "give either expires_at or expires_in, not both",
        )),
        (Some(at), None) => Timestamp::parse_rfc3339(at).map(Some),
        (None, Some(d)) => Span::parse(d).map(|s| Some(now.plus(s))),
        (None, None) => Ok(None),
    }
}

/// Validates a page size: 1 to 1000, default 100.
pub fn page_limit(limit: Option<u32>) -> Result<usize, DomainError> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n as usize),
        Some(n) => {
            Err(DomainError::invalid("input.invalid_limit", format!("limit {n} is not between 1 and 1000")))
        }
    }
}

/// Pages `items`, already sorted by their unique `key`, without building the whole list: skips
/// those up to the cursor, renders only the page's own items with `view`, and looks one further
/// to know whether there is a next page. The cursor is the last key shown, so items inserted
/// or removed meanwhile never shift a page.
pub fn page<T, V>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> String,
    ask: &PageAsk,
    mut view: impl FnMut(T) -> V,
) -> Result<Page<V>, DomainError> {
    let limit = page_limit(ask.limit)?;
    let cursor = ask.cursor.as_deref();
    let mut rest = items.into_iter().filter(|i| cursor.is_none_or(|c| key(i).as_str() > c)).peekable();
    let mut shown = Vec::with_capacity(limit.min(64));
    let mut last = None;
    while shown.len() < limit {
        let Some(item) = rest.next() else { break };
        last = Some(key(&item));
        shown.push(view(item));
    }
    let next_cursor = if rest.peek().is_some() { last } else { None };
    Ok(Page { items: shown, next_cursor })
}

/// Every item of a paged list, page after page: for a page that must show the whole list (a
/// form's choices, the tasks waiting for the caller), so nothing is cut at a page's size.
pub fn every<T>(mut list: impl FnMut(&PageAsk) -> OpResult<Page<T>>) -> OpResult<Vec<T>> {
    let mut all = Vec::new();
    let mut ask = PageAsk { limit: Some(1000), cursor: None };
    loop {
        let page = list(&ask)?;
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => ask.cursor = Some(c),
            None => return Ok(all),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_and_say_when_there_is_more() {
        let ask =
            |limit, cursor: Option<&str>| PageAsk { limit: Some(limit), cursor: cursor.map(Into::into) };
        let keys = ["a", "b", "c", "d", "e"];
        let first = page(keys, |k| (*k).to_owned(), &ask(2, None), str::to_uppercase).unwrap();
        assert_eq!(
            (first.items, first.next_cursor.as_deref()),
            (vec!["A".to_owned(), "B".to_owned()], Some("b"))
        );
        let last = page(keys, |k| (*k).to_owned(), &ask(3, Some("b")), str::to_owned).unwrap();
        assert_eq!((last.items.len(), last.next_cursor), (3, None));
        // An item inserted before the cursor does not shift the next page.
        let inserted = ["a", "aa", "b", "c", "d", "e"];
        let next = page(inserted, |k| (*k).to_owned(), &ask(2, Some("b")), str::to_owned).unwrap();
        assert_eq!(next.items, vec!["c", "d"]);
        let err = page(keys, |k| (*k).to_owned(), &ask(0, None), str::to_owned).unwrap_err();
        assert_eq!(err.code(), "input.invalid_limit");
    }
}
