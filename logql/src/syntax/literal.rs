//! Duration, byte-size and number literals: exact parsing and canonical printing.
//!
//! The shared parsers in [`crate::units`] compute with `f64`; these wrappers first try an
//! exact integer reading so that every value the printer writes reads back identically.

use crate::units::{format_range_duration, parse_bytes, parse_duration_literal};

/// Parses an integer-only duration with any of the units `ns us µs ms s m h d w y` in any
/// order (`1h30m`, `30m1h`, `1s500ns`), exactly; `None` if the text has fractions or is
/// malformed or overflows.
fn parse_int_duration(s: &str) -> Option<i64> {
    let mut rest = s;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // Longest match first, so "ms" is not read as "m" followed by "s".
        let (unit_len, mult) = match rest.as_bytes() {
            [b'n', b's', ..] => (2, 1),
            [b'u', b's', ..] => (2, 1_000),
            [b'm', b's', ..] => (2, 1_000_000),
            [b's', ..] => (1, 1_000_000_000),
            [b'm', ..] => (1, 60_000_000_000),
            [b'h', ..] => (1, 3_600_000_000_000),
            [b'd', ..] => (1, 86_400_000_000_000),
            [b'w', ..] => (1, 7 * 86_400_000_000_000),
            [b'y', ..] => (1, 365 * 86_400_000_000_000),
            _ if rest.starts_with("µs") || rest.starts_with("μs") => (3, 1_000),
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

/// Reads a duration literal as the LogQL lexer does: Prometheus/Go forms, fractions
/// allowed (`1.5s`), units `ns us µs ms s m h d w y`. Unsigned (the sign is a token).
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    parse_int_duration(s).or_else(|| parse_duration_literal(s).filter(|v| *v >= 0))
}

/// Prints a duration so that [`parse_duration`] (with an optional leading `-`) reads the
/// same value back: `5m`, `1h30m`, `1s500ns`, `-5m`, `0s`.
pub(crate) fn format_duration(nanos: i64) -> String {
    if nanos < 0 {
        // Values never reach i64::MIN (parsers cap magnitudes at i64::MAX).
        format!("-{}", format_range_duration(nanos.saturating_neg()))
    } else {
        format_range_duration(nanos)
    }
}

/// Reads a byte size (`10KB`, `1.5MiB`, `42B`).
pub(crate) fn parse_byte_size(s: &str) -> Option<u64> {
    parse_bytes(s)
}

/// Prints a byte size exactly, with the largest binary unit that divides it, else the
/// largest decimal unit, else `B`: `10KiB`, `1MB`, `1500B`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const BIN: [(&str, u64); 6] = [
        ("EiB", 1 << 60),
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    const DEC: [(&str, u64); 6] = [
        ("EB", 1_000_000_000_000_000_000),
        ("PB", 1_000_000_000_000_000),
        ("TB", 1_000_000_000_000),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
    ];
    if bytes != 0 {
        for (unit, size) in BIN.iter().chain(DEC.iter()) {
            if bytes.is_multiple_of(*size) {
                return format!("{}{unit}", bytes / size);
            }
        }
    }
    format!("{bytes}B")
}

/// Prints a finite number so that the lexer reads the same `f64` back: integers plainly
/// (`5`, `-3`), others in Rust's shortest round-trip form (`0.99`, `1e300`, `1.5e-7`).
pub(crate) fn format_number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        // Exact: |v| < 2^53, so the i64 conversion is lossless. -0 prints as 0.
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_exact() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("30m1h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("100µs"), Some(100_000));
        assert_eq!(parse_duration("1y1ns"), Some(365 * 86_400_000_000_000 + 1));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5x"), None);
        for v in [
            1,
            999,
            1_000_000,
            5_400_000_000_000,
            i64::MAX,
            -5,
            -i64::MAX,
        ] {
            let s = format_duration(v);
            let back = match s.strip_prefix('-') {
                Some(rest) => parse_duration(rest).map(|x| -x),
                None => parse_duration(&s),
            };
            assert_eq!(back, Some(v), "{s}");
        }
    }

    #[test]
    fn bytes_are_exact() {
        assert_eq!(format_bytes(10 * 1024), "10KiB");
        assert_eq!(format_bytes(1_000_000), "1MB");
        assert_eq!(format_bytes(1_500), "1500B");
        assert_eq!(format_bytes(0), "0B");
        for v in [0, 1, 1024, 1500, 10_000, 1 << 40, 3 << 60, 1 << 63] {
            assert_eq!(parse_byte_size(&format_bytes(v)), Some(v), "{v}");
        }
    }

    #[test]
    fn numbers_print_shortest() {
        assert_eq!(format_number(5.0), "5");
        assert_eq!(format_number(-3.0), "-3");
        assert_eq!(format_number(0.99), "0.99");
        assert_eq!(format_number(1e300), "1e300");
        assert_eq!(format_number(-0.0), "0");
        for v in [
            0.1,
            1e15,
            1e16,
            123456789.125,
            1.5e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(format_number(v).parse::<f64>().unwrap(), v);
        }
    }
}
