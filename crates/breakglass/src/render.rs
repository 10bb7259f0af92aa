//! Text rendering shared by every command: aligned tables, `key: value` records, pretty JSON and
//! the marks and words values are shown with. Each noun renders its own records in its module.

use std::collections::BTreeMap;

use breakglass_api::BindingSource;
use serde::Serialize;

/// Placeholder for an absent value in tables and records.
pub const NONE: &str = "-";

/// The mark of emergency access, requests and tasks.
pub const EMERGENCY: &str = "⚡ EMERGENCY";

/// The mark of a pending request that can no longer collect enough approvals.
pub const UNREACHABLE: &str = "UNREACHABLE";

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

    /// The table as text, one line per row, without trailing spaces: no borders, columns
    /// padded to their widest cell (wide characters counting two) and two spaces apart.
    pub fn render(&self) -> String {
        use comfy_table::{CellAlignment, ContentArrangement, Table as Grid};
        let cell = |s: &str| s.replace(['\n', '\r', '\t'], " ");
        let mut grid = Grid::new();
        grid.load_preset(comfy_table::presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(self.headers.iter().map(|h| h.to_string()));
        for row in &self.rows {
            grid.add_row(row.iter().map(|c| cell(c)));
        }
        let last = self.headers.len().saturating_sub(1);
        for (i, column) in grid.column_iter_mut().enumerate() {
            column.set_padding((0, if i == last { 0 } else { 2 }));
            column.set_cell_alignment(CellAlignment::Left);
        }
        let mut out = String::new();
        for line in grid.lines() {
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
pub fn opt(value: &Option<impl std::fmt::Display>) -> String {
    value.as_ref().map_or_else(|| NONE.into(), ToString::to_string)
}

/// An end time, or `never`.
pub fn until(expires_at: &Option<String>) -> String {
    expires_at.clone().unwrap_or_else(|| "never".into())
}

/// Where a credential or access reaches: one workspace, or `global`.
pub fn scope(scope: Option<&str>) -> String {
    match scope {
        Some(ws) => format!("workspace {ws}"),
        None => "global".into(),
    }
}

/// A credential's limits in words: its scope and whether it only reads.
pub fn limits(scope_of: Option<&str>, read_only: bool) -> String {
    let reach = scope(scope_of);
    if read_only {
        format!("{reach}, read-only")
    } else {
        reach
    }
}

/// Tags as `key=value` pairs in key order, comma-separated, or [`NONE`].
pub fn tags(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return NONE.into();
    }
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// `ws` or `ws/project`.
pub fn target(workspace: &str, project: Option<&str>) -> String {
    match project {
        Some(p) => format!("{workspace}/{p}"),
        None => workspace.to_owned(),
    }
}

/// A binding's source, marked when it is emergency access.
pub fn source(source: &BindingSource, emergency: bool) -> String {
    match (emergency, source) {
        (false, _) => source.to_string(),
        (true, BindingSource::Emergency) => EMERGENCY.to_owned(),
        (true, _) => format!("{source} {EMERGENCY}"),
    }
}

/// `s` as one shell word.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/=+@%,~".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
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
    fn wide_marks_keep_columns_aligned() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec![EMERGENCY.into(), "x".into()]);
        t.row(vec!["-".into(), "y".into()]);
        // ⚡ takes two columns on a terminal.
        assert_eq!(t.render(), "A             B\n⚡ EMERGENCY  x\n-             y\n");
    }

    #[test]
    fn sources_and_limits_read_as_words() {
        assert_eq!(source(&BindingSource::Emergency, true), EMERGENCY);
        assert_eq!(source(&BindingSource::Request, false), "request");
        assert_eq!(source(&BindingSource::Grant, true), format!("grant {EMERGENCY}"));
        assert_eq!(limits(Some("acme"), true), "workspace acme, read-only");
        assert_eq!(limits(None, false), "global");
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(fields(&[("id", "1".into()), ("status", "ok".into())]), "id:      1\nstatus:  ok\n");
    }

    #[test]
    fn shell_quoting_keeps_tokens_one_word() {
        assert_eq!(shell_quote("bg_abc-123"), "bg_abc-123");
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
        assert_eq!(shell_quote(""), "''");
    }
}
