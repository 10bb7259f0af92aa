//! Argument pieces and input shared by several nouns: expiries, tags, a line of standard input.

use std::collections::BTreeMap;
use std::io::BufRead;

use clap::Args;

use crate::commands::{Fail, Result};

/// When something ends: at most one of the two.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct Expiry {
    /// How long from now (`90m`, `2h`, `1d`, `PT2H`).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// When (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
}

/// When a grant ends: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RequiredExpiry {
    /// How long from now (`90m`, `2h`, `1d`, `PT2H`).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// When (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
}

/// Parses a tag `KEY=VALUE` (the value may be empty or hold `=`).
pub fn parse_tag(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("{spec:?}: expected KEY=VALUE, e.g. cost-center=4711")),
    }
}

/// Parses a tag filter `KEY` or `KEY:VALUE`; `KEY=VALUE` is read as `KEY:VALUE`.
pub fn parse_tag_filter(spec: &str) -> Result<String, String> {
    let spec = spec.trim();
    let key_end = spec.find([':', '=']).unwrap_or(spec.len());
    if key_end == 0 {
        return Err(format!("{spec:?}: expected KEY or KEY:VALUE, e.g. cost-center:4711"));
    }
    let (key, rest) = spec.split_at(key_end);
    Ok(match rest.strip_prefix(['=', ':']) {
        Some(value) => format!("{key}:{value}"),
        None => key.to_owned(),
    })
}

/// Tags from `--tag KEY=VALUE` flags; a key given twice is a usage error.
pub fn tag_map(pairs: Vec<(String, String)>) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (key, value) in pairs {
        if map.contains_key(&key) {
            return Err(Fail::Usage(format!("--tag {key}: given more than once")));
        }
        map.insert(key, value);
    }
    Ok(map)
}

/// The first line of standard input, without its line ending.
pub fn read_stdin_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail::Usage(format!("cannot read the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Fail::Usage("standard input held no password (--password-stdin)".into()));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_tag_filters_parse() {
        let pair = |k: &str, v: &str| Ok((k.to_owned(), v.to_owned()));
        assert_eq!(parse_tag("cost-center=4711"), pair("cost-center", "4711"));
        assert_eq!(parse_tag("note=a=b"), pair("note", "a=b"));
        assert_eq!(parse_tag("empty="), pair("empty", ""));
        for bad in ["", "=x", "novalue", " =x"] {
            assert!(parse_tag(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_tag_filter("env"), Ok("env".into()));
        assert_eq!(parse_tag_filter("env:prod"), Ok("env:prod".into()));
        assert_eq!(parse_tag_filter("env=prod"), Ok("env:prod".into()));
        assert_eq!(parse_tag_filter("url:http://x"), Ok("url:http://x".into()));
        for bad in ["", ":prod", "=prod"] {
            assert!(parse_tag_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tag_flags_become_a_map_and_repeated_keys_are_refused() {
        let pairs = vec![("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())];
        let map = tag_map(pairs).unwrap();
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [("a".into(), "1".into()), ("b".into(), "2".into())]);
        let twice = vec![("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())];
        assert!(matches!(tag_map(twice), Err(Fail::Usage(m)) if m == "--tag a: given more than once"));
    }
}
