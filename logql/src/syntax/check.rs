//! Semantic checks of literal arguments: regexes, IP filters, label names.

/// Whether `s` is a valid label name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Checks that `re` is a valid RE2-style regex, without compiling it to an automaton.
///
/// Three tiers, cheapest first, each exact for what it accepts:
/// 1. a literal alternation (`timeout|refused`, optionally after `(?i)`) has no
///    metacharacter that could be malformed, so it is valid;
/// 2. otherwise the regex is parsed to an AST, which catches every syntax error;
/// 3. only a regex that can fail later, in translation (Unicode classes `\p`/`\P`, or
///    flags that turn Unicode off), is also translated with Unicode tables.
pub(crate) fn check_regex(re: &str) -> Result<(), String> {
    let body = re.strip_prefix("(?i)").unwrap_or(re);
    if !body.contains(|c| "\\.+*?()[]{}^$".contains(c)) {
        return Ok(());
    }
    if let Err(e) = regex_syntax::ast::parse::Parser::new().parse(re) {
        return Err(format!("invalid regex {re:?}: {}", e.kind()));
    }
    let may_fail_translation =
        re.contains("\\p") || re.contains("\\P") || (re.contains("(?") && re.contains('-'));
    if !may_fail_translation {
        return Ok(());
    }
    match regex_syntax::Parser::new().parse(re) {
        Ok(_) => Ok(()),
        Err(regex_syntax::Error::Parse(e)) => Err(format!("invalid regex {re:?}: {}", e.kind())),
        Err(regex_syntax::Error::Translate(e)) => {
            Err(format!("invalid regex {re:?}: {}", e.kind()))
        }
        Err(e) => Err(format!("invalid regex {re:?}: {e}")),
    }
}

/// Checks the regex of a `| regexp` parser: it compiles and has at least one named
/// group, every name a valid label name.
pub(crate) fn check_regexp_parser(re: &str) -> Result<(), String> {
    check_regex(re)?;
    let compiled = regex::Regex::new(re).map_err(|e| format!("invalid regex {re:?}: {e}"))?;
    let mut named = 0;
    for name in compiled.capture_names().flatten() {
        if !is_label_name(name) {
            return Err(format!(
                "regexp group name {name:?} is not a valid label name"
            ));
        }
        named += 1;
    }
    if named == 0 {
        return Err(format!(
            "regexp {re:?} needs at least one named group such as (?P<name>…)"
        ));
    }
    Ok(())
}

/// Checks an `ip("…")` argument: one address, a `start-end` range of one family with
/// start <= end, or a CIDR block `address/prefix`; IPv4 or IPv6.
pub(crate) fn check_ip(pattern: &str) -> Result<(), String> {
    use std::net::IpAddr;
    let bad = |why: &str| Err(format!("invalid ip(\"{pattern}\"): {why}"));
    if let Some((addr, prefix)) = pattern.split_once('/') {
        let Ok(addr) = addr.parse::<IpAddr>() else {
            return bad("the CIDR block does not start with an IP address");
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        match prefix.parse::<u8>() {
            Ok(p) if p <= max && !prefix.starts_with('+') => Ok(()),
            _ => bad(&format!("the prefix length must be 0 to {max}")),
        }
    } else if let Some((start, end)) = pattern.split_once('-') {
        match (start.parse::<IpAddr>(), end.parse::<IpAddr>()) {
            (Ok(s), Ok(e)) if s.is_ipv4() == e.is_ipv4() => {
                if s <= e {
                    Ok(())
                } else {
                    bad("the range starts after it ends")
                }
            }
            (Ok(_), Ok(_)) => bad("the range mixes IPv4 and IPv6"),
            _ => bad("a range is two IP addresses separated by '-'"),
        }
    } else if pattern.parse::<IpAddr>().is_ok() {
        Ok(())
    } else {
        bad("expected an address, a range a-b, or a CIDR block a/n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips() {
        for ok in [
            "192.168.0.1",
            "10.0.0.0/8",
            "192.168.0.1-192.168.0.9",
            "::1",
            "2001:db8::/32",
            "::1-::ff",
        ] {
            assert!(check_ip(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.9-10.0.0.1",
            "::1-10.0.0.1",
            "x",
            "1.2.3",
            "10.0.0.0/+8",
        ] {
            assert!(check_ip(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regexes() {
        assert!(check_regex("(?i)timeout|refused").is_ok());
        assert!(check_regex("a||b").is_ok());
        assert!(check_regex("").is_ok());
        for bad in [
            "(",
            "a{2,1}",
            "[z-a]",
            "\\q",
            "\\1",
            "(?=x)",
            "\\p{NoSuchClass}",
            "(?-u:\\xFF)",
            "(?i-u)\\pL",
            "*",
        ] {
            assert!(check_regex(bad).is_err(), "{bad}");
        }
        for good in [
            "\\pL+",
            "(?i)é",
            "(?-i)x",
            "[\\p{Han}a-z]",
            "\\d{3}",
            "(?P<x>a)",
        ] {
            assert!(check_regex(good).is_ok(), "{good}");
        }
        assert!(check_regex("(").unwrap_err().contains("invalid regex"));
        assert!(check_regexp_parser("(?P<a>x)").is_ok());
        assert!(check_regexp_parser("(x)").is_err());
        assert!(check_regexp_parser("(?P<a>x)(?P<a>y)").is_err());
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("__error__"));
        assert!(is_label_name("a1"));
        assert!(!is_label_name("1a"));
        assert!(!is_label_name(""));
        assert!(!is_label_name("a-b"));
    }
}
