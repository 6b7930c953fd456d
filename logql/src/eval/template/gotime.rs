//! Go `time.Time` values with fixed-offset zones, and Go layout formatting/parsing
//! (`2006-01-02T15:04:05Z07:00`).
//!
//! Supported layout elements: `2006 06 01 1 Jan January 02 2 _2 002 __2 15 03 3 04 4 05 5
//! PM pm Mon Monday MST Z07:00 Z0700 Z07 Z07:00:00 Z070000 -07:00 -0700 -07 -07:00:00
//! -070000` and fractional seconds `.000`/`.999` (or with `,`). Zones are fixed offsets:
//! there is no time zone database.

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Seconds from 0001-01-01 to 1970-01-01 (Go's zero time).
const ZERO_UNIX: i64 = -62_135_596_800;

/// A point in time with a fixed zone, like Go's `time.Time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Zone offset east of UTC, seconds.
    pub offset: i32,
    /// Zone abbreviation (`UTC`); empty for an unnamed fixed offset.
    pub zone: String,
}

impl GoTime {
    /// From Unix nanoseconds, in UTC.
    pub fn from_unix_nanos(ns: i64) -> Self {
        GoTime {
            secs: ns.div_euclid(1_000_000_000),
            nanos: ns.rem_euclid(1_000_000_000) as u32,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    /// From Unix seconds and nanoseconds, in UTC.
    pub fn from_unix(secs: i64, nanos: i64) -> Self {
        let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        GoTime {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
    pub fn zero() -> Self {
        GoTime {
            secs: ZERO_UNIX,
            nanos: 0,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    /// Unix time in nanoseconds (saturating).
    pub fn unix_nanos(&self) -> i64 {
        let v = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos);
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Unix time in milliseconds.
    pub fn unix_millis(&self) -> i64 {
        self.secs
            .saturating_mul(1000)
            .saturating_add(i64::from(self.nanos / 1_000_000))
    }

    /// The same instant shown in another zone.
    pub fn in_zone(&self, offset: i32, zone: &str) -> Self {
        GoTime {
            offset,
            zone: zone.to_string(),
            ..self.clone()
        }
    }

    /// Go's `Time.String()`.
    pub fn to_go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    fn civil(&self) -> Civil {
        let local = self.secs.saturating_add(i64::from(self.offset));
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let yday = days - days_from_civil(y, 1, 1) + 1;
        Civil {
            year: y,
            month: m,
            day: d,
            yday,
            hour: (sod / 3600) as u32,
            min: ((sod % 3600) / 60) as u32,
            sec: (sod % 60) as u32,
            wday: (days + 4).rem_euclid(7) as usize,
        }
    }

    /// Formats with a Go layout.
    ///
    /// ```
    /// use logjar_logql::eval::template::GoTime;
    /// let t = GoTime::from_unix(1_673_798_889, 902_000_000);
    /// assert_eq!(t.format("2006-01-02T15:04:05.000Z07:00"), "2023-01-15T16:08:09.902Z");
    /// assert_eq!(t.format("Mon Jan _2 3:04PM"), "Sun Jan 15 4:08PM");
    /// ```
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, tok, suffix) = next_chunk(rest);
            out.push_str(prefix);
            rest = suffix;
            let Some(tok) = tok else { break };
            match tok {
                Std::Year => push_year(&mut out, c.year),
                Std::Year2 => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
                Std::LongMonth => out.push_str(MONTHS[(c.month - 1) as usize]),
                Std::Month => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
                Std::NumMonth => out.push_str(&c.month.to_string()),
                Std::ZeroMonth => out.push_str(&format!("{:02}", c.month)),
                Std::LongWeekDay => out.push_str(DAYS[c.wday]),
                Std::WeekDay => out.push_str(&DAYS[c.wday][..3]),
                Std::Day => out.push_str(&c.day.to_string()),
                Std::UnderDay => out.push_str(&format!("{:>2}", c.day)),
                Std::ZeroDay => out.push_str(&format!("{:02}", c.day)),
                Std::UnderYearDay => out.push_str(&format!("{:>3}", c.yday)),
                Std::ZeroYearDay => out.push_str(&format!("{:03}", c.yday)),
                Std::Hour => out.push_str(&format!("{:02}", c.hour)),
                Std::Hour12 => out.push_str(&hour12(c.hour).to_string()),
                Std::ZeroHour12 => out.push_str(&format!("{:02}", hour12(c.hour))),
                Std::Minute => out.push_str(&c.min.to_string()),
                Std::ZeroMinute => out.push_str(&format!("{:02}", c.min)),
                Std::Second => out.push_str(&c.sec.to_string()),
                Std::ZeroSecond => out.push_str(&format!("{:02}", c.sec)),
                Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Std::Tz => {
                    if self.zone.is_empty() {
                        push_offset(&mut out, self.offset, false, false, true, false);
                    } else {
                        out.push_str(&self.zone);
                    }
                }
                Std::Offset {
                    z,
                    colon,
                    secs,
                    hours_only,
                } => {
                    if z && self.offset == 0 {
                        out.push('Z');
                    } else {
                        push_offset(&mut out, self.offset, colon, secs, !hours_only, true);
                    }
                }
                Std::Frac { sep, digits, trim } => {
                    let s = format!("{:09}", self.nanos);
                    let mut frac = &s[..digits.min(9)];
                    if trim {
                        frac = frac.trim_end_matches('0');
                        if frac.is_empty() {
                            continue;
                        }
                    }
                    out.push(sep);
                    out.push_str(frac);
                }
            }
        }
        out
    }

    /// Go's `time.ParseInLocation(layout, value, loc)` where `loc` is a fixed zone.
    /// Returns `None` where Go returns an error.
    pub fn parse_in(layout: &str, value: &str, offset: i32, zone: &str) -> Option<GoTime> {
        let mut year = 1i64;
        let mut month = 1u32;
        let mut day = 1u32;
        let mut yday: Option<i64> = None;
        let (mut hour, mut min, mut sec, mut nanos) = (0u32, 0u32, 0u32, 0u32);
        let mut pm: Option<bool> = None;
        let mut zone_off: Option<(i32, String)> = None;
        let mut rest = layout;
        let mut v = value;
        while !rest.is_empty() {
            let (prefix, tok, suffix) = next_chunk(rest);
            v = v.strip_prefix(prefix)?;
            rest = suffix;
            let Some(tok) = tok else { break };
            match tok {
                Std::Year => {
                    let (n, r) = take_digits(v, 4, 4)?;
                    year = n;
                    v = r;
                }
                Std::Year2 => {
                    let (n, r) = take_digits(v, 2, 2)?;
                    year = if n >= 69 { 1900 + n } else { 2000 + n };
                    v = r;
                }
                Std::LongMonth | Std::Month => {
                    let idx = MONTHS.iter().position(|m| {
                        let m = if tok == Std::Month { &m[..3] } else { m };
                        v.len() >= m.len()
                            && v.as_bytes()[..m.len()].eq_ignore_ascii_case(m.as_bytes())
                    })?;
                    let len = if tok == Std::Month {
                        3
                    } else {
                        MONTHS[idx].len()
                    };
                    month = idx as u32 + 1;
                    v = &v[len..];
                }
                Std::LongWeekDay | Std::WeekDay => {
                    let idx = DAYS.iter().position(|d| {
                        let d = if tok == Std::WeekDay { &d[..3] } else { d };
                        v.len() >= d.len()
                            && v.as_bytes()[..d.len()].eq_ignore_ascii_case(d.as_bytes())
                    })?;
                    let len = if tok == Std::WeekDay {
                        3
                    } else {
                        DAYS[idx].len()
                    };
                    v = &v[len..];
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let (n, r) = take_digits(v, if tok == Std::ZeroMonth { 2 } else { 1 }, 2)?;
                    month = u32::try_from(n).ok().filter(|m| (1..=12).contains(m))?;
                    v = r;
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if tok == Std::UnderDay {
                        v = v.strip_prefix(' ').unwrap_or(v);
                    }
                    let (n, r) = take_digits(v, if tok == Std::ZeroDay { 2 } else { 1 }, 2)?;
                    day = u32::try_from(n).ok()?;
                    v = r;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    let t = v.trim_start_matches(' ');
                    let (n, r) = take_digits(t, 1, 3)?;
                    yday = Some(n);
                    v = r;
                }
                Std::Hour => {
                    let (n, r) = take_digits(v, 2, 2)?;
                    hour = u32::try_from(n).ok().filter(|h| *h < 24)?;
                    v = r;
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let (n, r) = take_digits(v, if tok == Std::ZeroHour12 { 2 } else { 1 }, 2)?;
                    hour = u32::try_from(n).ok().filter(|h| *h <= 12)?;
                    v = r;
                }
                Std::Minute | Std::ZeroMinute => {
                    let (n, r) = take_digits(v, if tok == Std::ZeroMinute { 2 } else { 1 }, 2)?;
                    min = u32::try_from(n).ok().filter(|m| *m < 60)?;
                    v = r;
                }
                Std::Second | Std::ZeroSecond => {
                    let (n, r) = take_digits(v, if tok == Std::ZeroSecond { 2 } else { 1 }, 2)?;
                    sec = u32::try_from(n).ok().filter(|s| *s < 60)?;
                    v = r;
                    // Go accepts a fractional second after the seconds field even when the
                    // layout has none.
                    if let Some(after) = v.strip_prefix(['.', ',']) {
                        if !matches!(next_chunk(rest).1, Some(Std::Frac { .. })) {
                            let n = after.bytes().take_while(u8::is_ascii_digit).count();
                            if n > 0 {
                                nanos = frac_nanos(&after[..n]);
                                v = &after[n..];
                            }
                        }
                    }
                }
                Std::PM | Std::Pm => {
                    let p = v.get(..2)?;
                    pm = Some(match p.to_ascii_uppercase().as_str() {
                        "PM" => true,
                        "AM" => false,
                        _ => return None,
                    });
                    v = &v[2..];
                }
                Std::Tz => {
                    if let Some(r) = v.strip_prefix("UTC") {
                        zone_off = Some((0, "UTC".into()));
                        v = r;
                    } else {
                        let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                        if n < 3 {
                            return None;
                        }
                        let name = v[..n].to_string();
                        let off = if name == zone { offset } else { 0 };
                        zone_off = Some((off, name));
                        v = &v[n..];
                    }
                }
                Std::Offset {
                    z,
                    colon,
                    secs,
                    hours_only,
                } => {
                    if z {
                        if let Some(r) = v.strip_prefix('Z') {
                            zone_off = Some((0, "UTC".into()));
                            v = r;
                            continue;
                        }
                    }
                    let sign = match v.as_bytes().first()? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    v = &v[1..];
                    let (h, r) = take_digits(v, 2, 2)?;
                    v = r;
                    let mut off = h * 3600;
                    if !hours_only {
                        if colon {
                            v = v.strip_prefix(':')?;
                        }
                        let (m, r) = take_digits(v, 2, 2)?;
                        v = r;
                        off += m * 60;
                        if secs {
                            if colon {
                                v = v.strip_prefix(':')?;
                            }
                            let (s, r) = take_digits(v, 2, 2)?;
                            v = r;
                            off += s;
                        }
                    }
                    zone_off = Some((sign * off as i32, String::new()));
                }
                Std::Frac {
                    sep: _,
                    digits,
                    trim,
                } => {
                    let Some(after) = v.strip_prefix(['.', ',']) else {
                        if trim {
                            continue;
                        }
                        return None;
                    };
                    let n = after.bytes().take_while(u8::is_ascii_digit).count();
                    if !trim && n != digits {
                        return None;
                    }
                    nanos = frac_nanos(&after[..n]);
                    v = &after[n..];
                }
            }
        }
        if !v.is_empty() {
            return None;
        }
        if let Some(p) = pm {
            if p && hour < 12 {
                hour += 12;
            } else if !p && hour == 12 {
                hour = 0;
            }
        }
        let days = match yday {
            Some(yd) => days_from_civil(year, 1, 1) + yd - 1,
            None => {
                if day < 1 || day > days_in_month(year, month) {
                    return None;
                }
                days_from_civil(year, month, day)
            }
        };
        let local = days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec);
        let (off, name) = match zone_off {
            Some((o, n)) => {
                let n = if n.is_empty() && o == offset {
                    zone.to_string()
                } else {
                    n
                };
                (o, n)
            }
            None => (offset, zone.to_string()),
        };
        Some(GoTime {
            secs: local - i64::from(off),
            nanos,
            offset: off,
            zone: name,
        })
    }
}

fn frac_nanos(d: &str) -> u32 {
    let mut s: String = d.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

fn take_digits(v: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let n = v.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((v[..n].parse().ok()?, &v[n..]))
}

fn hour12(h: u32) -> u32 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

fn push_year(out: &mut String, y: i64) {
    if y < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:04}", y.abs()));
}

fn push_offset(out: &mut String, off: i32, colon: bool, secs: bool, minutes: bool, _iso: bool) {
    out.push(if off < 0 { '-' } else { '+' });
    let a = off.unsigned_abs();
    out.push_str(&format!("{:02}", a / 3600));
    if minutes {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", (a % 3600) / 60));
    }
    if secs {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", a % 60));
    }
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    yday: i64,
    hour: u32,
    min: u32,
    sec: u32,
    wday: usize,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    Year,
    Year2,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PM,
    Pm,
    Tz,
    Offset {
        z: bool,
        colon: bool,
        secs: bool,
        hours_only: bool,
    },
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

/// Go's `nextStdChunk`: the text before the first layout element, the element, the rest.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    for i in 0..b.len() {
        let rest = &layout[i..];
        let hit = |len: usize, s: Std| Some((len, s));
        let found: Option<(usize, Std)> = match b[i] {
            b'J' if rest.starts_with("January") => hit(7, Std::LongMonth),
            b'J' if rest.starts_with("Jan") => hit(3, Std::Month),
            b'M' if rest.starts_with("Monday") => hit(6, Std::LongWeekDay),
            b'M' if rest.starts_with("Mon") => hit(3, Std::WeekDay),
            b'M' if rest.starts_with("MST") => hit(3, Std::Tz),
            b'0' if rest.len() >= 2 && (b'1'..=b'6').contains(&b[i + 1]) => hit(
                2,
                match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year2,
                },
            ),
            b'0' if rest.starts_with("002") => hit(3, Std::ZeroYearDay),
            b'1' if rest.starts_with("15") => hit(2, Std::Hour),
            b'1' => hit(1, Std::NumMonth),
            b'2' if rest.starts_with("2006") => hit(4, Std::Year),
            b'2' => hit(1, Std::Day),
            b'_' if rest.starts_with("_2006") => {
                // "_2006" is a literal "_" followed by the year
                return (&layout[..i + 1], Some(Std::Year), &layout[i + 5..]);
            }
            b'_' if rest.starts_with("__2") => hit(3, Std::UnderYearDay),
            b'_' if rest.starts_with("_2") => hit(2, Std::UnderDay),
            b'3' => hit(1, Std::Hour12),
            b'4' => hit(1, Std::Minute),
            b'5' => hit(1, Std::Second),
            b'P' if rest.starts_with("PM") => hit(2, Std::PM),
            b'p' if rest.starts_with("pm") => hit(2, Std::Pm),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                let r = &rest[1..];
                if r.starts_with("07:00:00") {
                    hit(
                        9,
                        Std::Offset {
                            z,
                            colon: true,
                            secs: true,
                            hours_only: false,
                        },
                    )
                } else if r.starts_with("070000") {
                    hit(
                        7,
                        Std::Offset {
                            z,
                            colon: false,
                            secs: true,
                            hours_only: false,
                        },
                    )
                } else if r.starts_with("07:00") {
                    hit(
                        6,
                        Std::Offset {
                            z,
                            colon: true,
                            secs: false,
                            hours_only: false,
                        },
                    )
                } else if r.starts_with("0700") {
                    hit(
                        5,
                        Std::Offset {
                            z,
                            colon: false,
                            secs: false,
                            hours_only: false,
                        },
                    )
                } else if r.starts_with("07") {
                    hit(
                        3,
                        Std::Offset {
                            z,
                            colon: false,
                            secs: false,
                            hours_only: true,
                        },
                    )
                } else {
                    None
                }
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let c = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == c {
                    j += 1;
                }
                // only a fraction if not followed by a digit
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    hit(
                        j - i,
                        Std::Frac {
                            sep: b[i] as char,
                            digits: j - i - 1,
                            trim: c == b'9',
                        },
                    )
                }
            }
            _ => None,
        };
        if let Some((len, std)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Resolves a zone name for `toDateInZone`: `(offset seconds, abbreviation)`.
/// Unknown names fall back to UTC, as Loki does when `LoadLocation` fails.
pub fn zone_by_name(name: &str) -> (i32, String) {
    match name {
        "" | "UTC" | "Local" | "Etc/UTC" | "Etc/Universal" | "Universal" | "Zulu" | "Etc/Zulu" => {
            (0, "UTC".into())
        }
        "GMT" | "Etc/GMT" | "Etc/GMT0" | "Etc/GMT+0" | "Etc/GMT-0" | "Greenwich" => {
            (0, "GMT".into())
        }
        _ => {
            if let Some(n) = name.strip_prefix("Etc/GMT") {
                if let Ok(h) = n.parse::<i32>() {
                    if (-14..=12).contains(&h) {
                        // POSIX style: Etc/GMT+5 is five hours *behind* UTC.
                        let abbr = if h > 0 {
                            format!("-{h:02}")
                        } else {
                            format!("+{:02}", -h)
                        };
                        return (-h * 3600, abbr);
                    }
                }
            }
            if let Some(off) = parse_fixed_offset(name) {
                return (off, String::new());
            }
            (0, "UTC".into())
        }
    }
}

fn parse_fixed_offset(s: &str) -> Option<i32> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_162, -1, 0, 1, 59, 365, 10_957, 19_373, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            GoTime::zero().to_go_string(),
            "0001-01-01 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn formats() {
        let t = GoTime::from_unix(1_136_239_445, 123_456_789); // 2006-01-02T22:04:05Z
        assert_eq!(
            t.format("2006-01-02T15:04:05Z07:00"),
            "2006-01-02T22:04:05Z"
        );
        assert_eq!(
            t.format("02/01/06 03:04:05 pm .000 .999999"),
            "02/01/06 10:04:05 pm .123 .123456"
        );
        assert_eq!(
            t.format("Monday January 2 002 __2"),
            "Monday January 2 002   2"
        );
        assert_eq!(t.to_go_string(), "2006-01-02 22:04:05.123456789 +0000 UTC");
        let p = t.in_zone(-7 * 3600, "");
        assert_eq!(
            p.format("15:04 -07:00 -0700 -07 Z07:00 MST"),
            "15:04 -07:00 -0700 -07 -07:00 -0700"
        );
        assert_eq!(GoTime::from_unix(5, 0).format("05.999"), "05");
    }

    #[test]
    fn parses() {
        let t = GoTime::parse_in(
            "2006-01-02T15:04:05Z07:00",
            "2023-01-15T16:08:09+01:00",
            0,
            "UTC",
        )
        .unwrap();
        assert_eq!(t.secs, 1_673_795_289);
        assert_eq!(t.offset, 3600);
        let t = GoTime::parse_in("2006-01-02 15:04:05", "2023-01-15 16:08:09.5", 0, "UTC").unwrap();
        assert_eq!((t.secs, t.nanos), (1_673_798_889, 500_000_000));
        let t = GoTime::parse_in("Jan _2 3:04PM", "Feb  3 1:05AM", 0, "UTC").unwrap();
        assert_eq!(t.format("2006-01-02 15:04"), "0001-02-03 01:05");
        assert!(GoTime::parse_in("2006-01-02", "2023-02-30", 0, "UTC").is_none());
        assert!(GoTime::parse_in("2006-01-02", "2023-01-02x", 0, "UTC").is_none());
        let t = GoTime::parse_in("2006-01-02", "2023-01-02", 3600, "CET").unwrap();
        assert_eq!(t.to_go_string(), "2023-01-02 00:00:00 +0100 CET");
    }

    #[test]
    fn zones() {
        assert_eq!(zone_by_name("Etc/GMT+5"), (-5 * 3600, "-05".into()));
        assert_eq!(zone_by_name("+05:30"), (19_800, String::new()));
        assert_eq!(zone_by_name("Mars/Olympus"), (0, "UTC".into()));
    }
}
