//! Text rendering of the command-line client: aligned tables, `key: value` records and pretty
//! JSON. Times and other values are printed as the server gave them.

use breakglass_api::{AuditEvent, Binding, Project, Token, User, Workspace};
use serde::Serialize;

/// Placeholder for an absent value in tables and records.
pub const NONE: &str = "-";

/// Rows under a header, columns padded to their widest cell and separated by two spaces.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    /// Appends a row; it must have one cell per header.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, without trailing spaces.
    pub fn render(&self) -> String {
        let cell = |s: &str| s.replace(['\n', '\r', '\t'], " ");
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell(c).chars().count());
            }
        }
        let headers = self.headers.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let c = cell(c);
                let pad = w - c.chars().count();
                line.push_str(&c);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs.iter().map(|(k, v)| format!("{:<w$}  {v}\n", format!("{k}:"), w = width + 1)).collect()
}

/// Pretty JSON and a newline.
pub fn json<T: Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("API types serialise");
    out.push('\n');
    out
}

/// The value, or [`NONE`].
pub fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| NONE.into())
}

/// An end time, or `never`.
pub fn until(expires_at: &Option<String>) -> String {
    expires_at.clone().unwrap_or_else(|| "never".into())
}

/// A user as a record.
pub fn user(u: &User) -> String {
    fields(&[
        ("email", u.email.clone()),
        ("name", u.name.clone()),
        ("id", u.id.clone()),
        ("admin role", u.admin_role.clone()),
        ("status", u.status.clone()),
        ("created", u.created_at.clone()),
    ])
}

/// Users as a table.
pub fn users(list: &[User]) -> String {
    let mut t = Table::new(&["EMAIL", "NAME", "ADMIN ROLE", "STATUS", "CREATED", "ID"]);
    for u in list {
        t.row(vec![
            u.email.clone(),
            u.name.clone(),
            u.admin_role.clone(),
            u.status.clone(),
            u.created_at.clone(),
            u.id.clone(),
        ]);
    }
    t.render()
}

/// Tokens as a table.
pub fn tokens(list: &[Token]) -> String {
    let mut t = Table::new(&["ID", "NAME", "KIND", "CREATED", "EXPIRES"]);
    for k in list {
        t.row(vec![k.id.clone(), k.name.clone(), k.kind.clone(), k.created_at.clone(), until(&k.expires_at)]);
    }
    t.render()
}

/// A workspace as a record.
pub fn workspace(w: &Workspace) -> String {
    fields(&[
        ("workspace", w.identifier.clone()),
        ("name", w.name.clone()),
        ("status", w.status.clone()),
        ("projects", format!("{} of {}", w.project_count, w.project_quota)),
        ("created", w.created_at.clone()),
    ])
}

/// Workspaces as a table.
pub fn workspaces(list: &[Workspace]) -> String {
    let mut t = Table::new(&["WORKSPACE", "NAME", "STATUS", "PROJECTS", "CREATED"]);
    for w in list {
        t.row(vec![
            w.identifier.clone(),
            w.name.clone(),
            w.status.clone(),
            format!("{}/{}", w.project_count, w.project_quota),
            w.created_at.clone(),
        ]);
    }
    t.render()
}

/// A project as a record.
pub fn project(p: &Project) -> String {
    fields(&[
        ("workspace", p.workspace.clone()),
        ("project", p.identifier.clone()),
        ("name", p.name.clone()),
        ("created", p.created_at.clone()),
    ])
}

/// Projects as a table.
pub fn projects(list: &[Project]) -> String {
    let mut t = Table::new(&["PROJECT", "NAME", "CREATED"]);
    for p in list {
        t.row(vec![p.identifier.clone(), p.name.clone(), p.created_at.clone()]);
    }
    t.render()
}

/// A binding as a record.
pub fn binding(b: &Binding) -> String {
    let mut pairs = vec![("user", b.user.clone()), ("workspace", b.workspace.clone())];
    if let Some(p) = &b.project {
        pairs.push(("project", p.clone()));
    }
    pairs.extend([
        ("role", b.role.clone()),
        ("source", b.source.clone()),
        ("starts", b.starts_at.clone()),
        ("expires", until(&b.expires_at)),
    ]);
    if let Some(r) = &b.reason {
        pairs.push(("reason", r.clone()));
    }
    pairs.push(("id", b.id.clone()));
    fields(&pairs)
}

/// Bindings as a table.
pub fn bindings(list: &[Binding]) -> String {
    let mut t = Table::new(&["USER", "ROLE", "PROJECT", "SOURCE", "STARTS", "EXPIRES", "ID", "REASON"]);
    for b in list {
        t.row(vec![
            b.user.clone(),
            b.role.clone(),
            opt(&b.project),
            b.source.clone(),
            b.starts_at.clone(),
            until(&b.expires_at),
            b.id.clone(),
            opt(&b.reason),
        ]);
    }
    t.render()
}

/// Audit events as a table, details as compact JSON in the last column.
pub fn events(list: &[AuditEvent]) -> String {
    let mut t = Table::new(&["SEQ", "TIME", "TYPE", "ACTOR", "WORKSPACE", "PROJECT", "SUBJECT", "DETAILS"]);
    for e in list {
        let actor = match &e.on_behalf_of {
            Some(who) => format!("{} for {who}", e.actor),
            None => e.actor.clone(),
        };
        t.row(vec![
            e.seq.to_string(),
            e.time.clone(),
            e.event_type.clone(),
            actor,
            opt(&e.workspace),
            opt(&e.project),
            opt(&e.subject),
            e.details.to_string(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_trim_line_ends() {
        let mut t = Table::new(&["A", "LONGER", "C"]);
        t.row(vec!["wide cell".into(), "x".into(), String::new()]);
        t.row(vec!["é".into(), "two\nlines".into(), "end".into()]);
        assert_eq!(
            t.render(),
            "A          LONGER     C\n\
             wide cell  x\n\
             é          two lines  end\n"
        );
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(fields(&[("id", "1".into()), ("status", "ok".into())]), "id:      1\nstatus:  ok\n");
    }
}
