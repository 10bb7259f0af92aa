//! The chain, its canonical encoding and its verification, held to what they promise.

use super::canonical::*;
use super::events::*;
use super::verify::*;
use crate::time::Timestamp;
use serde_json::json;
use serde_json::Value;

fn ev(i: i64, details: Value) -> NewEvent {
    NewEvent {
        time: Timestamp::from_micros(i),
        event_type: EventType::WorkspaceCreated,
        actor: "a@b.c".into(),
        on_behalf_of: None,
        workspace: Some("ws".into()),
        project: None,
        subject: None,
        details,
    }
}

fn chain(n: i64) -> Vec<AuditEvent> {
    let mut head = ChainHead::default();
    (0..n)
        .map(|i| {
            let e = seal(head, &ev(i, json!({"n": i, "b": [1, {"z": 1, "a": 2}]})));
            head = ChainHead { seq: e.seq, hash: e.hash };
            e
        })
        .collect()
}

#[test]
fn hash_ignores_key_order_in_details() {
    let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":3}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"a":{"x":3,"y":2},"b":1}"#).unwrap();
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    canonical_json(&a, &mut sa);
    canonical_json(&b, &mut sb);
    assert_eq!(sa, sb);
    assert_eq!(sa, br#"{"a":{"x":3,"y":2},"b":1}"#);
}

#[test]
fn verifier_accepts_an_intact_chain_and_names_the_first_broken_link() {
    let events = chain(5);
    let mut v = ChainVerifier::new();
    for e in &events {
        v.push(e).unwrap();
    }
    assert_eq!(v.finish(5).unwrap().seq, 5);

    let mut tampered = events.clone();
    tampered[2].actor = "mallory@evil".into();
    let mut v = ChainVerifier::new();
    let err = tampered.iter().try_for_each(|e| v.push(e)).unwrap_err();
    assert_eq!(err.seq, 3);

    let mut gap = events.clone();
    gap.remove(1);
    let mut v = ChainVerifier::new();
    assert_eq!(gap.iter().try_for_each(|e| v.push(e)).unwrap_err().seq, 2);

    let mut v = ChainVerifier::new();
    events[..4].iter().for_each(|e| v.push(e).unwrap());
    assert_eq!(v.finish(5).unwrap_err().seq, 5);
}

/// The encoder every chain so far was sealed with, kept verbatim: the bytes hashed must
/// never change, or existing chains would stop verifying.
fn first_encoder(e: &AuditEvent) -> Vec<u8> {
    fn push_key(out: &mut String, k: &str, first: bool) {
        if !first {
            out.push(',');
        }
        push_str(out, k);
        out.push(':');
    }
    fn push_str(out: &mut String, s: &str) {
        out.push_str(&Value::String(s.to_owned()).to_string());
    }
    fn canonical_json(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    push_key(out, k, i == 0);
                    canonical_json(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical_json(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::with_capacity(256);
    out.push('{');
    push_key(&mut out, "seq", true);
    out.push_str(&e.seq.to_string());
    push_key(&mut out, "time", false);
    out.push_str(&e.time.as_micros().to_string());
    push_key(&mut out, "type", false);
    push_str(&mut out, &e.event_type);
    for (k, v) in [
        ("actor", Some(&e.actor)),
        ("on_behalf_of", e.on_behalf_of.as_ref()),
        ("workspace", e.workspace.as_ref()),
        ("project", e.project.as_ref()),
        ("subject", e.subject.as_ref()),
    ] {
        push_key(&mut out, k, false);
        match v {
            Some(s) => push_str(&mut out, s),
            None => out.push_str("null"),
        }
    }
    push_key(&mut out, "details", false);
    canonical_json(&e.details, &mut out);
    out.push('}');
    out.into_bytes()
}

/// A small deterministic generator, so that the varied values below are the same each run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "é", "zoë", "\"", "\\", "/", "\n", "\t", "\r", "\u{8}", "\u{c}", "\u{1}", "\u{1f}",
            "\u{7f}", "€", "😀", " ", "b_1",
        ];
        (0..self.next(5)).map(|_| PIECES[self.next(PIECES.len() as u64) as usize]).collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.next(if depth > 3 { 7 } else { 9 }) {
            0 => Value::Null,
            1 => Value::Bool(self.next(2) == 0),
            2 => Value::from(self.next(2_000) as i64 - 1_000),
            3 => [
                Value::from(u64::MAX),
                Value::from(i64::MIN),
                Value::from(999_999_999_999_999_999_i64),
                Value::from(-0.0),
                Value::from(2.5),
                Value::from(1e300),
                Value::from(0),
            ][self.next(7) as usize]
                .clone(),
            4..=6 => Value::String(self.string()),
            7 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object((0..self.next(5)).map(|_| (self.string(), self.value(depth + 1))).collect()),
        }
    }
}

fn varied_events(n: usize) -> Vec<AuditEvent> {
    let mut r = Lcg(7);
    let mut head = ChainHead::default();
    (0..n)
        .map(|i| {
            let opt = |r: &mut Lcg| (r.next(2) == 0).then(|| r.string());
            let new = NewEvent {
                time: Timestamp::from_micros(r.next(1 << 40) as i64 - (1 << 39)),
                event_type: EventType::ALL[i % EventType::ALL.len()],
                actor: r.string(),
                on_behalf_of: opt(&mut r),
                workspace: opt(&mut r),
                project: opt(&mut r),
                subject: opt(&mut r),
                details: r.value(0),
            };
            let e = seal(head, &new);
            head = ChainHead { seq: e.seq, hash: e.hash };
            e
        })
        .collect()
}

/// As the store writes an event: `details` as `serde_json` prints it.
fn stored(e: &AuditEvent) -> StoredEvent {
    StoredEvent {
        seq: e.seq,
        time: e.time,
        event_type: e.event_type.clone(),
        actor: e.actor.clone(),
        on_behalf_of: e.on_behalf_of.clone(),
        workspace: e.workspace.clone(),
        project: e.project.clone(),
        subject: e.subject.clone(),
        details: e.details.to_string(),
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

#[test]
fn the_encoding_is_byte_for_byte_the_one_chains_were_sealed_with() {
    let events = varied_events(2_000);
    for e in &events {
        assert_eq!(canonical_bytes(e), first_encoder(e), "event {e:?}");
        let mut out = Vec::new();
        stored_canonical_bytes(&stored(e), &mut out).unwrap();
        assert_eq!(out, first_encoder(e), "stored form of {e:?}");
    }
    // Every control character, and the extremes of the integers written directly.
    for c in 0..=0x7f_u8 {
        let s = char::from(c).to_string();
        let mut out = Vec::new();
        push_str(&mut out, &s);
        assert_eq!(out, Value::String(s.clone()).to_string().into_bytes(), "character {c:#x}");
    }
    for n in [0, 1, -1, 9, 10, -10, i64::MAX, i64::MIN] {
        let mut out = Vec::new();
        push_int(&mut out, n);
        assert_eq!(out, n.to_string().into_bytes());
    }
}

#[test]
fn stored_details_are_hashed_as_they_are_only_when_that_is_what_encoding_gives() {
    // What the store writes takes the fast way in the common case.
    for v in [
        json!({}),
        json!({"binding_id": "b-1", "role": "member"}),
        json!([1, -2, "x\n", null, true]),
        json!(null),
    ] {
        assert!(is_canonical(&v.to_string()), "{v}");
    }
    // Texts that decode to the same value but are not what encoding gives, or that the
    // check does not prove: each must be re-encoded (or refused), never hashed as it is.
    for text in [
        r#"{"b":1,"a":2}"#,
        r#"{"a":1,"a":2}"#,
        r#"{ "a":1}"#,
        "[1 ]",
        " 1",
        "1 ",
        "1.0",
        "2.5",
        "1e2",
        "-0",
        "007",
        "18446744073709551615",
        "-9223372036854775808",
        r#""\u0041""#,
        r#""\u0001""#,
        r#""\/""#,
        r#"{"\n":1}"#,
        "tru",
        "nul",
        "{",
        "[1,]",
        r#"{"a":1,}"#,
        "\"\u{1}\"",
        "",
    ] {
        assert!(!is_canonical(text), "{text:?}");
    }
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(!is_canonical(&deep));

    // Whatever the text, the bytes hashed are those of the value it decodes to.
    let mut r = Lcg(11);
    let mut texts: Vec<String> = (0..3_000).map(|_| r.value(0).to_string()).collect();
    texts.extend((0..500).map(|_| serde_json::to_string_pretty(&r.value(0)).unwrap()));
    texts.push(deep);
    let mut fast = 0;
    for text in &texts {
        let decoded: Value = serde_json::from_str(text).unwrap();
        let mut expected = Vec::new();
        canonical_json(&decoded, &mut expected);
        if is_canonical(text) {
            fast += 1;
            assert_eq!(text.as_bytes(), &expected[..], "hashed as it is, yet not canonical");
        }
        let e = StoredEvent { details: text.clone(), ..stored(&chain(1)[0]) };
        let mut out = Vec::new();
        stored_canonical_bytes(&e, &mut out).unwrap();
        assert!(out.ends_with(&[&expected[..], b"}"].concat()), "{text}");
    }
    assert!(fast > texts.len() / 2, "most texts take the fast way ({fast} of {})", texts.len());
}

/// What `push` says about the events the stored rows decode to; a row that does not decode
/// fails where its content would be checked.
fn by_push(rows: &[StoredEvent], end: i64) -> Result<ChainHead, BrokenLink> {
    let mut v = ChainVerifier::new();
    for row in rows {
        match serde_json::from_str(&row.details) {
            Ok(details) => v.push(&AuditEvent {
                seq: row.seq,
                time: row.time,
                event_type: row.event_type.clone(),
                actor: row.actor.clone(),
                on_behalf_of: row.on_behalf_of.clone(),
                workspace: row.workspace.clone(),
                project: row.project.clone(),
                subject: row.subject.clone(),
                details,
                prev_hash: row.prev_hash,
                hash: row.hash,
            })?,
            Err(_) => v.link(row.seq, &row.prev_hash, &row.hash, || Err("not JSON".into()))?,
        }
    }
    v.finish(end)
}

fn by_push_stored(
    rows: &[StoredEvent],
    end: i64,
    threads: usize,
    page: usize,
) -> Result<ChainHead, BrokenLink> {
    let mut v = ChainVerifier::new();
    for chunk in rows.chunks(page) {
        v.push_stored(chunk, threads)?;
    }
    v.finish(end)
}

/// As a store reading ranges of `run` events apart would verify them: each range linked
/// within itself ([`CheckedRun`]), then the ranges in order.
fn by_runs(rows: &[StoredEvent], end: i64, run: usize) -> Result<ChainHead, BrokenLink> {
    let mut v = ChainVerifier::new();
    let mut buf = Vec::new();
    for chunk in rows.chunks(run) {
        let mut r = CheckedRun::new();
        for row in chunk {
            r.push(CheckedEvent::check(&row.borrowed(), &mut buf));
        }
        v.push_run(r)?;
    }
    v.finish(end)
}

/// Changes the last byte of a canonical text: the value changes or the text stops being JSON.
fn flip_last_byte(text: &mut String) {
    let last = text.pop().unwrap();
    text.push(match last.to_digit(10) {
        Some(d) => char::from_digit((d + 1) % 10, 10).unwrap(),
        None => 'x',
    });
}

#[test]
fn stored_rows_verify_in_parallel_exactly_as_events_do_one_by_one() {
    let events = varied_events(3_000);
    let rows: Vec<StoredEvent> = events.iter().map(stored).collect();
    let n = rows.len() as i64;
    let head = ChainHead { seq: n, hash: events[events.len() - 1].hash };
    for run in [1, 7, 3_000] {
        assert_eq!(by_runs(&rows, n, run), Ok(head));
    }
    for threads in [1, 2, 3, 8] {
        assert_eq!(by_push_stored(&rows, n, threads, 3_000), Ok(head));
        assert_eq!(by_push_stored(&rows, n, threads, 1_024), Ok(head));
    }

    // Each tamper, and where it must be caught relative to the tampered event's seq
    // (`None`: the chain still holds, as it did before there was a stored-row path).
    type Tamper = fn(&mut Vec<StoredEvent>, usize);
    let tampers: &[(&str, Tamper, Option<i64>)] = &[
        ("a details byte", |r, i| flip_last_byte(&mut r[i].details), Some(0)),
        ("details wrapped", |r, i| r[i].details = format!("[{}]", r[i].details), Some(0)),
        ("details not JSON", |r, i| r[i].details.push('{'), Some(0)),
        ("details spaced out", |r, i| r[i].details = format!(" {} ", r[i].details), None),
        ("actor", |r, i| r[i].actor.push('x'), Some(0)),
        ("time", |r, i| r[i].time = r[i].time.plus(crate::time::Span::seconds(1)), Some(0)),
        ("type", |r, i| r[i].event_type.push('x'), Some(0)),
        ("subject", |r, i| r[i].subject = Some(format!("{:?}", r[i].subject)), Some(0)),
        ("prev_hash", |r, i| r[i].prev_hash[31] ^= 1, Some(0)),
        ("hash", |r, i| r[i].hash[0] ^= 1, Some(0)),
        ("missing", |r, i| drop(r.remove(i)), Some(0)),
        ("duplicated", |r, i| r.insert(i, r[i].clone()), Some(1)),
        ("reordered", |r, i| r.swap(i, i + 1), Some(0)),
        ("seq renumbered", |r, i| r[i].seq += 10, Some(0)),
        ("truncated", |r, i| r.truncate(i), Some(0)),
    ];
    for at in [0, 511, 1_500, 2_048, 2_998] {
        for (label, tamper, caught) in tampers {
            let mut log = rows.clone();
            tamper(&mut log, at);
            let expected = by_push(&log, n);
            let want = caught.map(|k| at as i64 + 1 + k);
            assert_eq!(expected.as_ref().err().map(|b| b.seq), want, "{label} at {at} by push");
            for threads in [1, 2, 4] {
                for page in [3_000, 700] {
                    let got = by_push_stored(&log, n, threads, page);
                    assert_eq!(
                        got.as_ref().map_err(|b| b.seq),
                        expected.as_ref().map_err(|b| b.seq),
                        "{label} at {at}, {threads} threads, pages of {page}"
                    );
                }
            }
            let stored = by_push_stored(&log, n, 1, 3_000);
            for run in [1, 2, 7, 512, 3_000] {
                assert_eq!(by_runs(&log, n, run), stored, "{label} at {at}, runs of {run}");
            }
        }
    }
}

#[test]
fn a_details_text_that_decodes_to_another_value_breaks_the_chain() {
    let events = chain(1_200);
    let rows: Vec<StoredEvent> = events.iter().map(stored).collect();
    assert_eq!(rows[700].details, r#"{"b":[1,{"a":2,"z":1}],"n":700}"#);
    for (text, holds) in [
        // The same value written differently hashes the same, as it always has.
        (r#"{"n":700,"b":[1,{"z":1,"a":2}]}"#, true),
        (r#"{"b":[1,{"a":2,"z":1}],"n":700,"n":700}"#, true),
        (r#"{"b":[1,{"a":2,"z":1}],"n":7e2}"#, false),
        (r#"{"b":[1,{"a":2,"z":1}],"n":700.0}"#, false),
        (r#"{"b":[1,{"a":2,"z":1}],"n":"700"}"#, false),
        (r#"{"b":[1,{"a":2,"z":1}],"n":701}"#, false),
        (r#"{"b":[1,{"a":2,"z":1}],"n":700,"n":701}"#, false),
        (r#"{"b":[1,{"a":2,"z":1,"z":1}]}"#, false),
        (r#"{"b":[1,{"a":2,"z":1}],"n":700"#, false),
    ] {
        let mut log = rows.clone();
        log[700].details = text.into();
        for threads in [1, 2] {
            let got = by_push_stored(&log, 1_200, threads, 1_000);
            assert_eq!(got.is_ok(), holds, "{text}: {got:?}");
            if !holds {
                assert_eq!(got.unwrap_err().seq, 701, "{text}");
            }
        }
    }
}
