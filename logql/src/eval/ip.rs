//! `ip("…")` matchers for line filters (`|= ip("10.0.0.0/8")`) and label filters
//! (`| addr = ip("192.168.0.1-192.168.0.255")`).
//!
//! # Semantics notes (verified against Loki v3 `pkg/logql/log/ip.go`)
//!
//! - A pattern is tried as a single address, then a CIDR prefix, then a range `a-b`
//!   (no spaces; both ends of the same family; `a <= b`). IPv4 and IPv6 never match each
//!   other (an IPv4-mapped IPv6 address is IPv6). Invalid patterns give
//!   `ip: invalid pattern: "<pattern>"`.
//! - Line scanning is Loki's: at each byte, an IPv4 hint (a digit followed by `.` within
//!   the next three bytes, with at least four bytes left) or an IPv6 hint (`::x`, or one
//!   to four hex digits followed by `:`, with at least five bytes left) starts a token made
//!   of `[0-9.]` resp. `[0-9a-fA-F:.]`; if it parses and is in range the line matches,
//!   otherwise scanning resumes after the token. So `ip()` finds addresses anywhere,
//!   including inside words (`host10.0.0.1` contains `10.0.0.1`).
//! - The label filter applies the same scan to the label value. (In Loki the label
//!   filter also passes every entry that already has `__error__`, and fails when the
//!   label is missing; that is the evaluator's business.)
//! - *Difference*: IPv6 zones (`fe80::1%eth0`) are not supported (Rust's `std::net`).

use std::net::IpAddr;

use super::StageError;

/// A compiled `ip("…")` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMatcher {
    /// A single address.
    Addr(IpAddr),
    /// An inclusive range of one family.
    Range(IpAddr, IpAddr),
    /// A CIDR prefix: network address and prefix length.
    Prefix(IpAddr, u8),
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn parse_bits(s: &str, max: u8) -> Option<u8> {
    if s.is_empty()
        || s.len() > 3
        || !s.bytes().all(|c| c.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    let n: u8 = s.parse().ok()?;
    (n <= max).then_some(n)
}

impl IpMatcher {
    /// Parses `addr`, `addr/bits` or `from-to`.
    ///
    /// ```
    /// use logjar_logql::eval::ip::IpMatcher;
    /// let m = IpMatcher::new("192.168.0.0/16").unwrap();
    /// assert!(m.contains("192.168.4.2".parse().unwrap()));
    /// assert!(IpMatcher::new("192.168.0.9-192.168.0.1").is_err());
    /// ```
    pub fn new(pattern: &str) -> Result<Self, StageError> {
        let invalid = || StageError::new(format!("ip: invalid pattern: {pattern:?}"));
        if let Ok(a) = pattern.parse::<IpAddr>() {
            return Ok(IpMatcher::Addr(a));
        }
        if let Some((addr, bits)) = pattern.split_once('/') {
            let a: IpAddr = addr.parse().map_err(|_| invalid())?;
            let max = if a.is_ipv4() { 32 } else { 128 };
            let bits = parse_bits(bits, max).ok_or_else(invalid)?;
            return Ok(IpMatcher::Prefix(a, bits));
        }
        if let Some((from, to)) = pattern.split_once('-') {
            let f: IpAddr = from.parse().map_err(|_| invalid())?;
            let t: IpAddr = to.parse().map_err(|_| invalid())?;
            if f.is_ipv4() != t.is_ipv4() || to_u128(t) < to_u128(f) {
                return Err(invalid());
            }
            return Ok(IpMatcher::Range(f, t));
        }
        Err(invalid())
    }

    /// True if `ip` is matched.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match *self {
            IpMatcher::Addr(a) => a == ip,
            IpMatcher::Range(f, t) => {
                f.is_ipv4() == ip.is_ipv4() && (to_u128(f)..=to_u128(t)).contains(&to_u128(ip))
            }
            IpMatcher::Prefix(net, bits) => {
                if net.is_ipv4() != ip.is_ipv4() {
                    return false;
                }
                let width = if net.is_ipv4() { 32 } else { 128 };
                let shift = width - u32::from(bits);
                if shift >= 128 {
                    return true;
                }
                (to_u128(net) >> shift) == (to_u128(ip) >> shift)
            }
        }
    }

    /// True if an address found anywhere in `text` is matched (Loki's scan).
    pub fn matches_in(&self, text: &[u8]) -> bool {
        let n = text.len();
        let mut i = 0;
        // Every hint needs a '.' or ':' within the next four bytes, so positions far from
        // the next separator are skipped without changing which tokens are examined.
        let mut next_sep = 0usize;
        while i < n {
            if next_sep < i {
                match memchr::memchr2(b'.', b':', &text[i..]) {
                    Some(o) => next_sep = i + o,
                    None => return false,
                }
            }
            if next_sep > i + 4 {
                i = next_sep - 4;
            }
            if i + 3 < n && ipv4_hint(&text[i..i + 4]) {
                let (ok, len) = self.try_token(text, i, is_v4_char);
                if ok {
                    return true;
                }
                i += len + 1;
                continue;
            }
            if i + 4 < n && ipv6_hint(&text[i..i + 5]) {
                let (ok, len) = self.try_token(text, i, is_v6_char);
                if ok {
                    return true;
                }
                i += len + 1;
                continue;
            }
            i += 1;
        }
        false
    }

    fn try_token(&self, text: &[u8], start: usize, class: fn(u8) -> bool) -> (bool, usize) {
        let len = text[start..].iter().take_while(|&&c| class(c)).count();
        let tok = &text[start..start + len];
        // The token is ASCII by construction.
        let parsed = std::str::from_utf8(tok)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok());
        match parsed {
            Some(ip) if self.contains(ip) => (true, 0),
            _ => (false, len),
        }
    }
}

fn is_v4_char(c: u8) -> bool {
    c.is_ascii_digit() || c == b'.'
}

fn is_v6_char(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

fn ipv4_hint(p: &[u8]) -> bool {
    p[0].is_ascii_digit() && (p[1] == b'.' || p[2] == b'.' || p[3] == b'.')
}

fn ipv6_hint(p: &[u8]) -> bool {
    let h = |c: u8| c.is_ascii_hexdigit();
    (p[0] == b':' && p[1] == b':' && h(p[2]))
        || (h(p[0]) && p[1] == b':')
        || (h(p[0]) && h(p[1]) && p[2] == b':')
        || (h(p[0]) && h(p[1]) && h(p[2]) && p[3] == b':')
        || (h(p[0]) && h(p[1]) && h(p[2]) && h(p[3]) && p[4] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches!(IpMatcher::new("10.0.0.1"), Ok(IpMatcher::Addr(_))));
        assert!(matches!(
            IpMatcher::new("10.0.0.1/8"),
            Ok(IpMatcher::Prefix(_, 8))
        ));
        assert!(matches!(
            IpMatcher::new("::1-::5"),
            Ok(IpMatcher::Range(_, _))
        ));
        for bad in [
            "",
            "10.0.0",
            "10.0.0.1/33",
            "10.0.0.1/08",
            "10.0.0.1 - 10.0.0.2",
            "::1-10.0.0.1",
            "010.0.0.1",
            "x",
        ] {
            assert_eq!(
                IpMatcher::new(bad).unwrap_err().0,
                format!("ip: invalid pattern: {bad:?}"),
                "{bad}"
            );
        }
    }

    #[test]
    fn contains() {
        let p = IpMatcher::new("192.168.0.0/16").unwrap();
        assert!(p.contains("192.168.255.255".parse().unwrap()));
        assert!(!p.contains("192.169.0.0".parse().unwrap()));
        assert!(!p.contains("::ffff:192.168.0.1".parse().unwrap()));
        let all = IpMatcher::new("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let r = IpMatcher::new("192.168.0.1-192.168.0.23").unwrap();
        assert!(r.contains("192.168.0.23".parse().unwrap()));
        assert!(!r.contains("192.168.0.24".parse().unwrap()));
        let v6 = IpMatcher::new("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
    }

    #[test]
    fn line_scanning() {
        let m = IpMatcher::new("192.168.0.1").unwrap();
        assert!(m.matches_in(b"client 192.168.0.1 connected"));
        assert!(m.matches_in(b"host192.168.0.1"));
        assert!(m.matches_in(b"192.168.0.1"));
        assert!(!m.matches_in(b"192.168.0.10"));
        assert!(!m.matches_in(b"192.168.0.1.5"));
        assert!(m.matches_in(b"a 192.168.0.10 then 192.168.0.1"));
        assert!(!m.matches_in(b""));
        assert!(!m.matches_in(b"\xff\xfe no ip"));
        let v6 = IpMatcher::new("::1").unwrap();
        assert!(v6.matches_in(b"from [::1]:80"));
        let c = IpMatcher::new("2001:db8::/32").unwrap();
        assert!(c.matches_in(b"peer=2001:db8::7 ok"));
        assert!(!c.matches_in(b"peer=2001:db9::7 ok"));
        let m = IpMatcher::new("1.2.3.4").unwrap();
        // too short for the IPv4 hint window only when fewer than 4 bytes remain
        assert!(!m.matches_in(b"1.2"));
    }

    /// Loki's scan without the separator skip, as the reference.
    fn naive(m: &IpMatcher, text: &[u8]) -> bool {
        let n = text.len();
        let mut i = 0;
        while i < n {
            if i + 3 < n && ipv4_hint(&text[i..i + 4]) {
                let (ok, len) = m.try_token(text, i, is_v4_char);
                if ok {
                    return true;
                }
                i += len + 1;
                continue;
            }
            if i + 4 < n && ipv6_hint(&text[i..i + 5]) {
                let (ok, len) = m.try_token(text, i, is_v6_char);
                if ok {
                    return true;
                }
                i += len + 1;
                continue;
            }
            i += 1;
        }
        false
    }

    proptest::proptest! {
        #[test]
        fn skipping_scan_equals_naive_scan(
            text in "[a-fx 0-9]{0,8}([0-9]{1,4}[.]){0,4}[0-9]{0,3}( [0-9a-f.: x]{0,30})?",
        ) {
            for pat in [
                "1.2.3.4", "0.0.0.0/0", "::/0", "a::1", "100.0.0.0-199.255.255.255",
                "12.0.0.0/8", "::1-::ffff",
            ] {
                let m = IpMatcher::new(pat).unwrap();
                proptest::prop_assert_eq!(m.matches_in(text.as_bytes()), naive(&m, text.as_bytes()), "{} {}", pat, text);
            }
        }
    }
}
