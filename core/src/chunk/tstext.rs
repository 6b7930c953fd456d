//! An entry's own timestamp written out in its line, left out of the stored lines.
//!
//! Applications commonly log their timestamp inside the line (`"ts":"2026-01-01T00:00:00.003617124Z"`,
//! `ts=2026-01-01T00:00:00.003Z`), and shippers set the entry's timestamp from that same
//! text (Promtail's `timestamp` stage). Its fraction digits are random, so zstd stores
//! them nearly verbatim and they break the matches around them: on the gen_logs data
//! half the lines carry it and it costs about 2 points of the disk ratio. A version 3
//! block therefore leaves out of its lines section every RFC 3339 UTC text
//! (`YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`) that spells the entry's own timestamp (its
//! fraction truncated to the digits written), and records where it was and how many
//! fraction digits it had; decoding writes it back from the timestamp column.

use memchr::memmem;

/// `YYYY-MM-DDTHH:MM:SS`
const PREFIX_LEN: usize = 19;
/// Texts starting further into a line are left in place (keeps a mark in 3 bytes).
pub(crate) const MAX_POS: usize = u16::MAX as usize;
/// A block whose first this-many entries hold no such text is not searched further.
const GIVE_UP_AFTER: u32 = 32;
const NS_PER_SEC: i64 = 1_000_000_000;

/// Bytes of the text with `digits` fraction digits (`Z` included).
pub(crate) fn text_len(digits: u32) -> usize {
    PREFIX_LEN + 1 + if digits > 0 { digits as usize + 1 } else { 0 }
}

/// A mark: 0 for "no text", else `1 + pos * 10 + digits`.
pub(crate) fn mark(pos: usize, digits: u32) -> u32 {
    debug_assert!(pos <= MAX_POS && digits <= 9);
    1 + pos as u32 * 10 + digits
}

/// `(pos, digits)` of a non-zero mark.
pub(crate) fn unmark(m: u32) -> (usize, u32) {
    (((m - 1) / 10) as usize, (m - 1) % 10)
}

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DD` of a day count since the epoch; `None` outside years 0..=9999 (which
/// nanosecond timestamps never reach: they span 1677 to 2262).
fn civil_date(days: i64) -> Option<[u8; 10]> {
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut p = *b"0000-00-00";
    let y = y as u32;
    two(&mut p[0..2], y / 100);
    two(&mut p[2..4], y % 100);
    two(&mut p[5..7], m);
    two(&mut p[8..10], d);
    Some(p)
}

/// The date-time prefix of the last second asked for, and the date of its day:
/// consecutive entries of a stream are mostly in another second but the same day.
struct PrefixCache {
    sec: i64,
    day: i64,
    prefix: Option<[u8; PREFIX_LEN]>,
}

impl PrefixCache {
    fn new() -> Self {
        PrefixCache {
            sec: i64::MIN,
            day: i64::MIN,
            prefix: None,
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS` of second `sec` since the epoch.
    fn get(&mut self, sec: i64) -> Option<&[u8; PREFIX_LEN]> {
        if sec != self.sec {
            self.sec = sec;
            let (day, sod) = (sec.div_euclid(86_400), sec.rem_euclid(86_400) as u32);
            if day != self.day || self.prefix.is_none() {
                self.day = day;
                self.prefix = civil_date(day).map(|date| {
                    let mut p = *b"0000-00-00T00:00:00";
                    p[..10].copy_from_slice(&date);
                    p
                });
            }
            if let Some(p) = self.prefix.as_mut() {
                two(&mut p[11..13], sod / 3600);
                two(&mut p[14..16], sod / 60 % 60);
                two(&mut p[17..19], sod % 60);
            }
        }
        self.prefix.as_ref()
    }
}

/// Fraction digits of `rest` (what follows the seconds) if it is `Z` or `.d…dZ` with
/// 1 to 9 digits spelling `frac` (nanoseconds) truncated.
fn match_suffix(rest: &[u8], frac: u32) -> Option<u32> {
    match rest.first()? {
        b'Z' => Some(0),
        b'.' => {
            let digits = rest[1..]
                .iter()
                .take(10)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits == 0 || digits > 9 || rest.get(1 + digits) != Some(&b'Z') {
                return None;
            }
            let v = rest[1..=digits]
                .iter()
                .fold(0u32, |v, &b| v * 10 + u32::from(b - b'0'));
            (v == frac / 10u32.pow(9 - digits as u32)).then_some(digits as u32)
        }
        _ => None,
    }
}

/// Finds the entries' timestamp texts in one block's lines, in entry order.
pub(crate) struct Finder {
    prefixes: PrefixCache,
    /// Where the last text was found: streams write it at the same place in most lines.
    hint: Option<usize>,
    searched: u32,
    found: bool,
}

impl Finder {
    pub(crate) fn new() -> Self {
        Finder {
            prefixes: PrefixCache::new(),
            hint: None,
            searched: 0,
            found: false,
        }
    }

    /// `(position, fraction digits)` of the text of `ts` in `line`, if there.
    pub(crate) fn find(&mut self, ts: i64, line: &[u8]) -> Option<(usize, u32)> {
        if line.len() < PREFIX_LEN + 1 || (!self.found && self.searched >= GIVE_UP_AFTER) {
            return None;
        }
        self.searched += 1;
        let frac = ts.rem_euclid(NS_PER_SEC) as u32;
        let prefix = self.prefixes.get(ts.div_euclid(NS_PER_SEC))?;
        let at_hint = self
            .hint
            .filter(|&h| line.get(h..h + PREFIX_LEN) == Some(&prefix[..]));
        let pos = match at_hint {
            Some(h) => h,
            None => memmem::find(&line[..line.len().min(MAX_POS + PREFIX_LEN)], prefix)?,
        };
        if pos > MAX_POS {
            return None;
        }
        let digits = match_suffix(&line[pos + PREFIX_LEN..], frac)?;
        self.hint = Some(pos);
        self.found = true;
        Some((pos, digits))
    }
}

/// Writes timestamp texts back (caches the date-time of the last second written).
pub(crate) struct Writer {
    prefixes: PrefixCache,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer {
            prefixes: PrefixCache::new(),
        }
    }

    /// Appends the text of `ts` with `digits` (0..=9) fraction digits; `false` (nothing
    /// written) when `ts` lies outside years 0..=9999, which no encoder marks.
    #[inline]
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, ts: i64, digits: u32) -> bool {
        let frac = ts.rem_euclid(NS_PER_SEC) as u32;
        let Some(prefix) = self.prefixes.get(ts.div_euclid(NS_PER_SEC)) else {
            return false;
        };
        // The whole text in one buffer, then one copy: `.` and nine digits, two at a
        // time, the unwanted low ones cut off.
        let mut buf = [0u8; PREFIX_LEN + 11];
        buf[..PREFIX_LEN].copy_from_slice(prefix);
        let mut end = PREFIX_LEN;
        if digits > 0 {
            let f = &mut buf[PREFIX_LEN..PREFIX_LEN + 10];
            f[0] = b'.';
            let (hi, lo) = (frac / 100_000, frac % 100_000);
            f[1] = b'0' + (hi / 1000) as u8;
            two(&mut f[2..4], hi / 10 % 100);
            f[4] = b'0' + (hi % 10) as u8;
            two(&mut f[5..7], lo / 1000);
            two(&mut f[7..9], lo / 10 % 100);
            f[9] = b'0' + (lo % 10) as u8;
            end += 1 + digits as usize;
        }
        buf[end] = b'Z';
        out.extend_from_slice(&buf[..=end]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rfc3339(ts: i64, digits: u32) -> String {
        let t = chrono::DateTime::from_timestamp(ts.div_euclid(NS_PER_SEC), 0).unwrap();
        let frac = ts.rem_euclid(NS_PER_SEC) as u32;
        let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        if digits > 0 {
            let f = format!("{frac:09}");
            s.push('.');
            s.push_str(&f[..digits as usize]);
        }
        s.push('Z');
        s
    }

    fn written(ts: i64, digits: u32) -> String {
        let mut out = Vec::new();
        assert!(Writer::new().write(&mut out, ts, digits));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn texts_match_chrono() {
        assert_eq!(
            written(1_767_225_600_003_617_124, 9),
            "2026-01-01T00:00:00.003617124Z"
        );
        assert_eq!(
            written(1_767_225_600_003_617_124, 3),
            "2026-01-01T00:00:00.003Z"
        );
        assert_eq!(written(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(written(-1, 1), "1969-12-31T23:59:59.9Z");
        assert_eq!(written(951_782_400 * NS_PER_SEC, 0), "2000-02-29T00:00:00Z");
        assert_eq!(written(i64::MAX, 9), "2262-04-11T23:47:16.854775807Z");
        assert_eq!(written(i64::MIN, 9), "1677-09-21T00:12:43.145224192Z");
    }

    #[test]
    fn finds_the_own_timestamp_only() {
        let ts = 1_767_225_600_290_152_335;
        let mut f = Finder::new();
        let line = br#"{"level":"info","ts":"2026-01-01T00:00:00.290152335Z","msg":"x"}"#;
        assert_eq!(f.find(ts, line), Some((22, 9)));
        let line = b"ts=2026-01-01T00:00:00.290Z level=info";
        assert_eq!(f.find(ts, line), Some((3, 3)));
        // Rounded, not truncated; another second; no zone; ten digits: left alone.
        assert_eq!(f.find(ts, b"2026-01-01T00:00:00.2902Z"), None);
        assert_eq!(f.find(ts, b"2026-01-01T00:00:01.290Z"), None);
        assert_eq!(f.find(ts, b"2026-01-01T00:00:00.290 x"), None);
        assert_eq!(f.find(ts, b"2026-01-01T00:00:00.2901523350Z"), None);
        assert_eq!(f.find(ts, b"at 2026-01-01T00:00:00Z"), Some((3, 0)));
    }

    #[test]
    fn gives_up_on_blocks_without_texts() {
        let ts = 1_767_225_600_000_000_000;
        let mut f = Finder::new();
        for _ in 0..GIVE_UP_AFTER {
            assert_eq!(f.find(ts, b"GET /index.html 200 0.003"), None);
        }
        assert_eq!(
            f.find(ts, b"2026-01-01T00:00:00Z"),
            None,
            "not searched any more"
        );
        let mut f = Finder::new();
        assert!(f.find(ts, b"2026-01-01T00:00:00Z").is_some());
        for _ in 0..2 * GIVE_UP_AFTER {
            assert_eq!(f.find(ts, b"GET /index.html 200 0.003"), None);
        }
        assert!(
            f.find(ts, b"2026-01-01T00:00:00Z").is_some(),
            "found once: keeps searching"
        );
    }

    proptest! {
        #[test]
        fn written_texts_are_found_and_rfc3339(
            ts in any::<i64>(),
            digits in 0u32..10,
            before in "[a-z \"=:]{0,30}",
            after in "[a-z \"=:]{0,30}",
        ) {
            let text = written(ts, digits);
            prop_assert_eq!(&text, &rfc3339(ts, digits));
            let line = format!("{before}{text}{after}");
            let found = Finder::new().find(ts, line.as_bytes());
            prop_assert_eq!(found, Some((before.len(), digits)));
        }
    }
}
