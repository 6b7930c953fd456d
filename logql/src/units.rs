//! Durations and byte sizes, in the three spellings LogQL uses.
//!
//! - [`parse_range_duration`]: Prometheus' form used for ranges, `offset` and `step`
//!   (`5m`, `1h30m`, `2d`, `1w`, `1y`; units `ms s m h d w y`; integers only).
//! - [`parse_go_duration`]: Go's `time.ParseDuration`, used for duration literals in label
//!   filters and for `duration()` conversions (`1.5s`, `100ms`, `2h45m`, `-3us`, `µs`).
//!   LogQL also accepts `d`, `w`, `y` in duration literals; [`parse_duration_literal`] adds them.
//! - [`parse_bytes`]: go-humanize's `ParseBytes`, used for byte literals and `bytes()`
//!   (`10KB` = 10 000, `10KiB` = 10 240, `1.5 MB`, `42`).
//!
//! All return `None` on malformed input; callers attach position information.

const NS: f64 = 1.0;
const US: f64 = 1e3;
const MS: f64 = 1e6;
const S: f64 = 1e9;
const M: f64 = 60e9;
const H: f64 = 3600e9;
const D: f64 = 86_400e9;
const W: f64 = 7.0 * 86_400e9;
const Y: f64 = 365.0 * 86_400e9;

/// Parses a Prometheus-style duration (`1h30m`, `5m`, `250ms`) into nanoseconds.
/// Units must appear in decreasing order, each at most once; the value must be > 0
/// unless it is written as `0` followed by a unit.
///
/// ```
/// use logjar_logql::units::parse_range_duration;
/// assert_eq!(parse_range_duration("1h30m"), Some(5_400_000_000_000));
/// assert_eq!(parse_range_duration("5m"), Some(300_000_000_000));
/// assert_eq!(parse_range_duration("1.5m"), None);
/// assert_eq!(parse_range_duration("5"), None);
/// ```
pub fn parse_range_duration(s: &str) -> Option<i64> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000_000_000),
        ("w", 7 * 86_400_000_000_000),
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = usize::MAX; // index into UNITS of the previous unit
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let idx = UNITS.iter().position(|(u, _)| *u == unit)?;
        if last_unit != usize::MAX && idx <= last_unit {
            return None;
        }
        last_unit = idx;
        total = total.checked_add(n.checked_mul(UNITS[idx].1)?)?;
    }
    Some(total)
}

/// Parses a Go `time.ParseDuration` string into nanoseconds (may be negative).
///
/// ```
/// use logjar_logql::units::parse_go_duration;
/// assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
/// assert_eq!(parse_go_duration("2h45m"), Some(9_900_000_000_000));
/// assert_eq!(parse_go_duration("-3us"), Some(-3_000));
/// assert_eq!(parse_go_duration("100µs"), Some(100_000));
/// assert_eq!(parse_go_duration("0"), Some(0));
/// assert_eq!(parse_go_duration("5"), None);
/// assert_eq!(parse_go_duration("1d"), None);
/// ```
pub fn parse_go_duration(s: &str) -> Option<i64> {
    parse_duration_units(s, &GO_UNITS)
}

/// Parses a LogQL duration literal: Go's syntax plus the units `d`, `w` and `y`.
///
/// ```
/// use logjar_logql::units::parse_duration_literal;
/// assert_eq!(parse_duration_literal("1d"), Some(86_400_000_000_000));
/// assert_eq!(parse_duration_literal("100ms"), Some(100_000_000));
/// ```
pub fn parse_duration_literal(s: &str) -> Option<i64> {
    parse_duration_units(s, &LITERAL_UNITS)
}

const GO_UNITS: [(&str, f64); 7] = [
    ("ns", NS),
    ("us", US),
    ("µs", US),
    ("μs", US),
    ("ms", MS),
    ("s", S),
    ("m", M),
];
const LITERAL_UNITS: [(&str, f64); 10] = [
    ("ns", NS),
    ("us", US),
    ("µs", US),
    ("μs", US),
    ("ms", MS),
    ("s", S),
    ("m", M),
    ("h", H),
    ("d", D),
    ("w", W),
];

fn unit_value(unit: &str, units: &[(&str, f64)]) -> Option<f64> {
    if unit == "h" {
        return Some(H);
    }
    if unit == "y" && units.len() == LITERAL_UNITS.len() {
        return Some(Y);
    }
    units.iter().find(|(u, _)| *u == unit).map(|(_, v)| *v)
}

fn parse_duration_units(s: &str, units: &[(&str, f64)]) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body == "0" {
        return Some(0);
    }
    if body.is_empty() {
        return None;
    }
    let mut rest = body;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let v: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        total += v * unit_value(unit, units)?;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > i64::MAX as f64 {
        return None;
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

/// Parses a byte size as go-humanize's `ParseBytes` does: a number, optional space,
/// optional unit (`B`, `kB`/`KB`/`K`, `KiB`, `MB`, `MiB`, … up to `EB`/`EiB`; case-insensitive).
///
/// ```
/// use logjar_logql::units::parse_bytes;
/// assert_eq!(parse_bytes("10KB"), Some(10_000));
/// assert_eq!(parse_bytes("10KiB"), Some(10_240));
/// assert_eq!(parse_bytes("1.5 MB"), Some(1_500_000));
/// assert_eq!(parse_bytes("42"), Some(42));
/// assert_eq!(parse_bytes("12 parsecs"), None);
/// ```
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let num: String = s[..num_len].chars().filter(|&c| c != ',').collect();
    if num.is_empty() {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let unit = s[num_len..].trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024f64.powi(2),
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return None,
    };
    let bytes = v * mult;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return None;
    }
    Some(bytes as u64)
}

/// Formats nanoseconds as the canonical Prometheus duration (`1h30m`, `5m`, `250ms`),
/// the inverse of [`parse_range_duration`] for positive whole-millisecond values.
///
/// ```
/// use logjar_logql::units::format_range_duration;
/// assert_eq!(format_range_duration(5_400_000_000_000), "1h30m");
/// assert_eq!(format_range_duration(86_400_000_000_000 * 8), "1w1d");
/// assert_eq!(format_range_duration(0), "0s");
/// ```
pub fn format_range_duration(ns: i64) -> String {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000_000_000),
        ("w", 7 * 86_400_000_000_000),
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    if ns == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ns;
    for (u, v) in UNITS {
        if rest >= v {
            out.push_str(&(rest / v).to_string());
            out.push_str(u);
            rest %= v;
        }
    }
    if rest != 0 || out.is_empty() {
        // Below a millisecond: not expressible in Prometheus' form; fall back to ns.
        out.push_str(&rest.to_string());
        out.push_str("ns");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_durations_round_trip() {
        for s in [
            "1s",
            "5m",
            "1h30m",
            "2d",
            "1w",
            "1y",
            "1y2w3d4h5m6s7ms",
            "250ms",
        ] {
            let ns = parse_range_duration(s).unwrap();
            assert_eq!(format_range_duration(ns), s);
        }
        assert_eq!(parse_range_duration("30m1h"), None); // out of order
        assert_eq!(parse_range_duration("5x"), None);
        assert_eq!(parse_range_duration(""), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_go_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_go_duration("1.s"), Some(1_000_000_000));
        assert_eq!(parse_go_duration("1..5s"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("-"), None);
        assert_eq!(parse_go_duration("1y"), None);
        assert_eq!(parse_duration_literal("1y"), Some(365 * 86_400_000_000_000));
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("1MiB"), Some(1 << 20));
        assert_eq!(parse_bytes("1kb"), Some(1000));
        assert_eq!(parse_bytes("1 GB"), Some(1_000_000_000));
        assert_eq!(parse_bytes(""), None);
        assert_eq!(parse_bytes("B"), None);
    }
}
