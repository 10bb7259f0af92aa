//! Instants and spans. The core never reads a clock: every `Timestamp` comes in from outside.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::DomainError;

/// An instant in UTC with microsecond precision, stored as microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 instant with any offset and normalises it to UTC.
    pub fn parse_rfc3339(s: &str) -> Result<Self, DomainError> {
        let dt = OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| {
            DomainError::invalid(
                "input.invalid_time",
                format!("'{s}' is not an RFC 3339 time such as 2026-01-31T12:00:00Z"),
            )
        })?;
        let micros = dt.unix_timestamp_nanos() / 1_000;
        i64::try_from(micros)
            .map(Self)
            .map_err(|_| DomainError::invalid("input.invalid_time", format!("'{s}' is out of range")))
    }

    /// Formats as RFC 3339 in UTC (`2026-01-31T12:00:00.123456Z`; fractions only when non-zero).
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }

    /// RFC 3339 through the `time` crate: the reference the `Display` impl is tested against,
    /// and what it falls back to outside years 0000-9999.
    fn rfc3339_by_time(self) -> String {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        dt.format(&Rfc3339).unwrap_or_else(|_| self.0.to_string())
    }

    /// This instant moved forward by `span`, saturating at the far future.
    pub fn plus(self, span: Span) -> Self {
        Self(self.0.saturating_add(span.as_micros()))
    }

    /// This instant moved back by `span`.
    pub fn minus(self, span: Span) -> Self {
        Self(self.0.saturating_sub(span.as_micros()))
    }
}

/// Year, month and day of a day count since 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// RFC 3339 in UTC (`2026-01-01T00:00:00.5Z`: the fraction only when not zero, without trailing
/// zeros), written without allocating: answers carry many of these.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let mut fraction = self.0.rem_euclid(1_000_000);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        if !(0..=9999).contains(&year) {
            return f.write_str(&self.rfc3339_by_time());
        }
        let second = secs.rem_euclid(86_400);
        let mut out = [0u8; 27];
        let mut put = |at: usize, value: i64, width: usize| {
            let mut v = value;
            for i in (at..at + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, second / 3600, 2);
        put(14, second / 60 % 60, 2);
        put(17, second % 60, 2);
        let mut len = 19;
        if fraction != 0 {
            let mut digits = 6;
            while fraction % 10 == 0 {
                fraction /= 10;
                digits -= 1;
            }
            put(20, fraction, digits);
            out[19] = b'.';
            len = 20 + digits;
        }
        for (at, sep) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
            out[at] = sep;
        }
        out[len] = b'Z';
        f.write_str(std::str::from_utf8(&out[..=len]).map_err(|_| fmt::Error)?)
    }
}

/// A non-negative length of time, parsed from `"90m"`, `"2h"`, `"1d"`, `"30s"` or ISO 8601 `"PT2H"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Span(i64);

impl Span {
    /// The longest span accepted from input: 100 years (36,525 days).
    pub const MAX: Span = Span::days(36_525);

    /// A span of whole seconds.
    pub const fn seconds(s: i64) -> Self {
        Self(s.saturating_mul(1_000_000))
    }

    /// A span of whole minutes.
    pub const fn minutes(m: i64) -> Self {
        Self::seconds(m.saturating_mul(60))
    }

    /// A span of whole hours.
    pub const fn hours(h: i64) -> Self {
        Self::minutes(h.saturating_mul(60))
    }

    /// A span of whole days.
    pub const fn days(d: i64) -> Self {
        Self::hours(d.saturating_mul(24))
    }

    /// A span of `micros` microseconds.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Length in microseconds.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses the short form (`90m`, `2h`, `1d`, `45s`, combinations like `1h30m`) or ISO 8601
    /// (`PT2H`, `P1D`, `P1DT2H30M`). Zero and negative spans are refused.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || {
            DomainError::invalid(
                "input.invalid_duration",
                format!("'{s}' is not a duration such as 90m, 2h, 1d or PT2H"),
            )
        };
        let t = s.trim();
        let micros = if let Some(iso) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
            parse_iso(iso).ok_or_else(bad)?
        } else {
            parse_units(t, false).ok_or_else(bad)?
        };
        if micros <= 0 {
            return Err(bad());
        }
        if micros > Self::MAX.0 {
            return Err(DomainError::invalid(
                "input.invalid_duration",
                format!("'{s}' is longer than the longest duration allowed, 100 years"),
            ));
        }
        Ok(Self(micros))
    }
}

impl fmt::Display for Span {
    /// The largest whole unit that divides the span: `4h`, `30d`, `90m`, `45s`, else microseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const S: i64 = 1_000_000;
        for (unit, micros) in [("d", 86_400 * S), ("h", 3_600 * S), ("m", 60 * S), ("s", S)] {
            if self.0 != 0 && self.0 % micros == 0 {
                return write!(f, "{}{unit}", self.0 / micros);
            }
        }
        write!(f, "{}us", self.0)
    }
}

fn unit_micros(unit: char, in_time_part: bool) -> Option<i64> {
    Some(match (unit.to_ascii_lowercase(), in_time_part) {
        ('s', _) => 1_000_000,
        ('m', _) => 60 * 1_000_000,
        ('h', _) => 3_600 * 1_000_000,
        ('d', false) => 86_400 * 1_000_000,
        ('w', false) => 7 * 86_400 * 1_000_000,
        _ => return None,
    })
}

/// Sums `<digits><unit>` groups; with `iso_time` the units are those allowed after ISO's `T`.
fn parse_units(s: &str, iso_time: bool) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            let n: i64 = digits.parse().ok()?;
            let per = if iso_time {
                match c.to_ascii_uppercase() {
                    'H' | 'M' | 'S' => unit_micros(c, true)?,
                    _ => return None,
                }
            } else {
                unit_micros(c, false)?
            };
            total = total.checked_add(n.checked_mul(per)?)?;
            digits.clear();
        }
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total)
}

fn parse_iso(s: &str) -> Option<i64> {
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut total = 0i64;
    if !date.is_empty() {
        // Only days and weeks: months and years have no fixed length.
        total += parse_units(date, false)?;
        if date.chars().any(|c| matches!(c.to_ascii_uppercase(), 'H' | 'M' | 'S')) {
            return None;
        }
    }
    if let Some(t) = time {
        total = total.checked_add(parse_units(t, true)?)?;
    } else if date.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocation-free writer gives exactly what the `time` crate gives, over instants
    /// spread across the supported years, on and off whole seconds, and at the edges.
    #[test]
    fn rfc3339_matches_the_time_crate() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut instants = vec![
            0,
            1,
            -1,
            999_999,
            1_000_000,
            -62_167_219_200_000_000, // 0000-01-01T00:00:00Z
            -62_167_219_200_000_001, // just before: year -1, through `time`
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999Z
            253_402_300_800_000_000, // 10000-01-01: through `time`
            951_782_400_000_000,     // 2000-02-29
            4_107_542_400_000_000,   // 2100-03-01, after a century year without 29 February
            i64::MAX,
            i64::MIN,
        ];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = 320_000_000_000_000_000u64; // about ±5,000 years around 1970
            let mut t = (x % span) as i64 - (span / 2) as i64;
            match x >> 60 {
                0..=3 => t -= t.rem_euclid(1_000_000),
                4..=5 => t -= t.rem_euclid(1_000),
                _ => {}
            }
            instants.push(t);
        }
        for t in instants {
            let t = Timestamp::from_micros(t);
            assert_eq!(t.to_string(), t.rfc3339_by_time(), "{t:?}");
        }
    }

    #[test]
    fn spans_parse_in_both_forms() {
        for (s, secs) in [
            ("90m", 5400),
            ("2h", 7200),
            ("1d", 86400),
            ("45s", 45),
            ("1h30m", 5400),
            ("PT2H", 7200),
            ("P1D", 86400),
            ("P1DT2H", 93600),
            ("PT1H30M", 5400),
            ("pt15m", 900),
        ] {
            assert_eq!(Span::parse(s).unwrap(), Span::seconds(secs), "{s}");
        }
        assert_eq!(Span::parse("36525d").unwrap(), Span::MAX);
        for s in [
            "",
            "0m",
            "2",
            "h",
            "2x",
            "P",
            "PT",
            "P1M",
            "-5m",
            "1.5h",
            "P2H",
            "36526d",
            "99999999d",
            "P99999999D",
        ] {
            assert!(Span::parse(s).is_err(), "{s} should be refused");
        }
    }

    #[test]
    fn spans_display_in_their_largest_whole_unit() {
        assert_eq!(Span::hours(4).to_string(), "4h");
        assert_eq!(Span::days(30).to_string(), "30d");
        assert_eq!(Span::minutes(90).to_string(), "90m");
        assert_eq!(Span::seconds(45).to_string(), "45s");
    }

    #[test]
    fn timestamps_round_trip_in_utc() {
        let t = Timestamp::parse_rfc3339("2026-03-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T08:00:00Z");
        let t2 = Timestamp::parse_rfc3339("2026-03-01T08:00:00.250Z").unwrap();
        assert_eq!(t2.as_micros() - t.as_micros(), 250_000);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }
}
