//! The canonical encoding the chain hashes: a JSON object with a fixed key order whose
//! `details` have their keys sorted at every level, written byte for byte as `serde_json`
//! writes it; and the proof that a stored text already is canonical, so it hashes as it is.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::events::*;

/// `SHA-256(prev || canonical(event))`, ignoring the event's own `prev_hash` and `hash` fields.
pub fn chain_hash(prev: &[u8; 32], e: &AuditEvent) -> [u8; 32] {
    digest(prev, &canonical_bytes(e))
}

pub(super) fn digest(prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// The canonical serialisation that the chain hashes.
pub fn canonical_bytes(e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push_fields(&mut out, &Fields::of(e));
    canonical_json(&e.details, &mut out);
    out.push(b'}');
    out
}

/// The fields hashed before `details`, borrowed from either form of an event.
pub(super) struct Fields<'a> {
    seq: i64,
    time: i64,
    event_type: &'a str,
    actor: &'a str,
    on_behalf_of: Option<&'a str>,
    workspace: Option<&'a str>,
    project: Option<&'a str>,
    subject: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn of(e: &'a AuditEvent) -> Self {
        Self {
            seq: e.seq,
            time: e.time.as_micros(),
            event_type: &e.event_type,
            actor: &e.actor,
            on_behalf_of: e.on_behalf_of.as_deref(),
            workspace: e.workspace.as_deref(),
            project: e.project.as_deref(),
            subject: e.subject.as_deref(),
        }
    }

    fn of_stored(e: &StoredRef<'a>) -> Self {
        Self {
            seq: e.seq,
            time: e.time,
            event_type: e.event_type,
            actor: e.actor,
            on_behalf_of: e.on_behalf_of,
            workspace: e.workspace,
            project: e.project,
            subject: e.subject,
        }
    }
}

/// Writes the canonical object up to and including the `details` key; the caller writes the
/// details and the closing brace. The keys are fixed ASCII, so they are written as they print.
pub(super) fn push_fields(out: &mut Vec<u8>, f: &Fields<'_>) {
    out.extend_from_slice(b"{\"seq\":");
    push_int(out, f.seq);
    out.extend_from_slice(b",\"time\":");
    push_int(out, f.time);
    out.extend_from_slice(b",\"type\":");
    push_str(out, f.event_type);
    out.extend_from_slice(b",\"actor\":");
    push_str(out, f.actor);
    for (key, v) in [
        (&b",\"on_behalf_of\":"[..], f.on_behalf_of),
        (b",\"workspace\":", f.workspace),
        (b",\"project\":", f.project),
        (b",\"subject\":", f.subject),
    ] {
        out.extend_from_slice(key);
        match v {
            Some(s) => push_str(out, s),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"details\":");
}

pub(super) fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// Writes `s` as a JSON string exactly as `serde_json` does: `"` and `\` escaped, the control
/// characters with a short escape where JSON has one and `\u00xx` otherwise, all else as is.
pub(super) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == 0 {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes `v` as JSON with object keys sorted at every level.
pub fn canonical_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(out, k);
                out.push(b':');
                canonical_json(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => push_str(out, s),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

/// Appends the canonical bytes of a stored event to `out`: the same bytes [`canonical_bytes`]
/// gives for the event it decodes to. The `details` text is copied as it is when it already
/// is canonical, which is how the store writes it (the JSON map keeps its keys sorted);
/// otherwise it is parsed and re-encoded, which fails when it is not JSON.
pub fn stored_canonical_bytes(e: &StoredEvent, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    borrowed_canonical_bytes(&e.borrowed(), out)
}

pub(super) fn borrowed_canonical_bytes(
    e: &StoredRef<'_>,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    push_fields(out, &Fields::of_stored(e));
    if is_canonical(e.details) {
        out.extend_from_slice(e.details.as_bytes());
    } else {
        canonical_json(&serde_json::from_str(e.details)?, out);
    }
    out.push(b'}');
    Ok(())
}

/// Whether `text` is exactly what [`canonical_json`] writes for the value it parses to, so that
/// it can be hashed as it is. Cautious: it may say no to a canonical text it does not bother
/// to prove canonical (a float, a `\u` escape, an escaped key, a big integer, deep nesting),
/// which then takes the slow way; it never says yes to one that is not.
pub(super) fn is_canonical(text: &str) -> bool {
    let mut s = Scan { b: text.as_bytes(), at: 0 };
    s.value(0) && s.at == s.b.len()
}

/// Nesting beyond this is left to the parser, whose own limit (128) then applies as before.
pub(super) const MAX_FAST_DEPTH: u32 = 64;
/// Integers of at most this many digits fit both `u64` and `i64`, so they print back as read.
pub(super) const MAX_FAST_DIGITS: usize = 18;

/// A cursor over a text being proved canonical; every method consumes what it accepts.
pub(super) struct Scan<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self, depth: u32) -> bool {
        match self.peek() {
            Some(b'{') if depth < MAX_FAST_DEPTH => self.object(depth + 1),
            Some(b'[') if depth < MAX_FAST_DEPTH => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.b[self.at..].starts_with(word);
        self.at += if found { word.len() } else { 0 };
        found
    }

    /// Keys must be strictly ascending (the parser would keep only the last of duplicates) and
    /// free of escapes, so that comparing their text compares the keys.
    fn object(&mut self, depth: u32) -> bool {
        self.at += 1;
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let Some(key) = self.string() else { return false };
            if key.contains(&b'\\') || previous.is_some_and(|p| p >= key) {
                return false;
            }
            previous = Some(key);
            if !self.eat(b':') || !self.value(depth) {
                return false;
            }
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn array(&mut self, depth: u32) -> bool {
        self.at += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    /// A string whose escapes are the ones the encoder writes for `"`, `\` and the control
    /// characters with a short form; returns its text between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        let b = self.b;
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        loop {
            match *b.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(&b[start..self.at - 1]);
                }
                b'\\' => match b.get(self.at + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    /// An integer the parser reads as `u64` or `i64` and prints back unchanged: no `-0`, no
    /// leading zero, no fraction or exponent, at most [`MAX_FAST_DIGITS`] digits.
    fn integer(&mut self) -> bool {
        let negative = self.eat(b'-');
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = &self.b[start..self.at];
        let plain = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= MAX_FAST_DIGITS,
        };
        plain && !matches!(self.peek(), Some(b'.' | b'e' | b'E'))
    }
}
