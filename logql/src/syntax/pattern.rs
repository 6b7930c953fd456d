//! Patterns of the `| pattern "…"` parser and the `|>` / `!>` line filters.
//!
//! A pattern is literal text with captures: `<name>` captures text into the label
//! `name`, `<_>` matches text without keeping it. Anything else, including a `<` that
//! does not start a well-formed capture, is literal.
//!
//! ```
//! use logjar_logql::syntax::pattern::{parse_pattern, PatternPart};
//! let parts = parse_pattern("<ip> - <_> [<ts>]");
//! assert_eq!(parts[0], PatternPart::Capture(Some("ip".into())));
//! assert_eq!(parts[1], PatternPart::Literal(" - ".into()));
//! assert_eq!(parts[2], PatternPart::Capture(None));
//! ```

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatternPart {
    /// Text that must appear as written.
    Literal(String),
    /// `<name>` (`Some`) or `<_>` (`None`).
    Capture(Option<String>),
}

/// Splits a pattern into literals and captures. Never fails: malformed captures are
/// literal text.
pub fn parse_pattern(pattern: &str) -> Vec<PatternPart> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = pattern;
    while let Some(lt) = rest.find('<') {
        literal.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let name_len = capture_name_len(after);
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'>') {
            if !literal.is_empty() {
                parts.push(PatternPart::Literal(std::mem::take(&mut literal)));
            }
            let name = &after[..name_len];
            parts.push(PatternPart::Capture(if name == "_" {
                None
            } else {
                Some(name.to_string())
            }));
            rest = &after[name_len + 1..];
        } else {
            literal.push('<');
            rest = after;
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(PatternPart::Literal(literal));
    }
    parts
}

/// Length of a capture name (`[A-Za-z_][A-Za-z0-9_]*`) at the start of `s`, or 0.
fn capture_name_len(s: &str) -> usize {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return 0,
    }
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count()
}

fn no_adjacent_captures(parts: &[PatternPart]) -> Result<(), String> {
    for w in parts.windows(2) {
        if let [PatternPart::Capture(a), PatternPart::Capture(b)] = w {
            let show = |c: &Option<String>| format!("<{}>", c.as_deref().unwrap_or("_"));
            return Err(format!(
                "two captures may not touch: {}{} (put literal text between them)",
                show(a),
                show(b)
            ));
        }
    }
    Ok(())
}

/// Checks a `| pattern` parser: at least one named capture, no two captures side by
/// side, no name used twice.
pub fn validate_parser_pattern(pattern: &str) -> Result<Vec<PatternPart>, String> {
    let parts = parse_pattern(pattern);
    no_adjacent_captures(&parts)?;
    let mut names: Vec<&str> = Vec::new();
    for p in &parts {
        if let PatternPart::Capture(Some(n)) = p {
            if names.contains(&n.as_str()) {
                return Err(format!("pattern captures <{n}> twice"));
            }
            names.push(n);
        }
    }
    if names.is_empty() {
        return Err("pattern needs at least one named capture such as <name>".into());
    }
    Ok(parts)
}

/// Checks a `|>` / `!>` line-filter pattern: only `<_>` captures, never side by side.
pub fn validate_filter_pattern(pattern: &str) -> Result<Vec<PatternPart>, String> {
    let parts = parse_pattern(pattern);
    no_adjacent_captures(&parts)?;
    if let Some(PatternPart::Capture(Some(n))) = parts
        .iter()
        .find(|p| matches!(p, PatternPart::Capture(Some(_))))
    {
        return Err(format!(
            "named capture <{n}> is not allowed in a pattern line filter; use <_>"
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_angle_brackets() {
        assert_eq!(
            parse_pattern("a < b <1x> <"),
            vec![PatternPart::Literal("a < b <1x> <".into())]
        );
        assert_eq!(parse_pattern(""), vec![]);
    }

    #[test]
    fn validation() {
        assert!(validate_parser_pattern("<a> <b>").is_ok());
        assert!(validate_parser_pattern("<_> x").is_err());
        assert!(validate_parser_pattern("<a><b>").is_err());
        assert!(validate_parser_pattern("<a> <a>").is_err());
        assert!(validate_filter_pattern("<_> error <_>").is_ok());
        assert!(validate_filter_pattern("").is_ok());
        assert!(validate_filter_pattern("<a> error").is_err());
        assert!(validate_filter_pattern("<_><_>").is_err());
    }
}
