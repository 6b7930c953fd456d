//! Paths of the `| json label="path"` parser: `a.b`, `items[0]`, `["key with spaces"]`,
//! `servers[0].name`, as Loki reads them.
//!
//! ```
//! use logjar_logql::syntax::json_path::{parse_json_path, JsonPathPart};
//! assert_eq!(
//!     parse_json_path(r#"request.headers["User-Agent"][0]"#).unwrap(),
//!     vec![
//!         JsonPathPart::Field("request".into()),
//!         JsonPathPart::Field("headers".into()),
//!         JsonPathPart::Field("User-Agent".into()),
//!         JsonPathPart::Index(0),
//!     ]
//! );
//! assert!(parse_json_path("a..b").is_err());
//! ```

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonPathPart {
    /// An object member: `name`, `.name` or `["name"]`.
    Field(String),
    /// An array element: `[0]`.
    Index(usize),
}

/// Parses a path: a field, `["key"]` or `[index]`, then any number of `.field`,
/// `["key"]` and `[index]`. Spaces between parts are ignored.
pub fn parse_json_path(path: &str) -> Result<Vec<JsonPathPart>, String> {
    let mut parts = Vec::new();
    let mut rest = path.trim_start_matches([' ', '\t', '\n']);
    if rest.is_empty() {
        return Err("a JSON path cannot be empty".into());
    }
    let mut first = true;
    while !rest.is_empty() {
        let (part, after) = if let Some(after) = rest.strip_prefix('[') {
            bracket(after.trim_start_matches([' ', '\t', '\n']))?
        } else if let Some(after) = rest.strip_prefix('.').filter(|_| !first) {
            field(after.trim_start_matches([' ', '\t', '\n']))?
        } else if first {
            field(rest)?
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            return Err(format!("unexpected {c:?}; expected '.', '[' or the end"));
        };
        parts.push(part);
        rest = after.trim_start_matches([' ', '\t', '\n']);
        first = false;
    }
    Ok(parts)
}

fn field(s: &str) -> Result<(JsonPathPart, &str), String> {
    let b = s.as_bytes();
    let ok_start = matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_');
    if !ok_start {
        return Err(match s.chars().next() {
            Some(c) => format!("unexpected {c:?}; expected a field name"),
            None => "expected a field name at the end".into(),
        });
    }
    let len = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    Ok((JsonPathPart::Field(s[..len].to_string()), &s[len..]))
}

/// After `[`: `"key"]` or `index]`.
fn bracket(s: &str) -> Result<(JsonPathPart, &str), String> {
    let (part, rest) = if let Some(body) = s.strip_prefix('"') {
        // As in Loki, a key ends at the first `"` or `]`.
        let end = body.find(['"', ']']).ok_or("unterminated key in [\"…\"]")?;
        let rest = body[end..].strip_prefix('"').unwrap_or(&body[end..]);
        (JsonPathPart::Field(body[..end].to_string()), rest)
    } else {
        let len = s.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err("expected an index or a quoted key after '['".into());
        }
        let index = s[..len]
            .parse::<usize>()
            .map_err(|_| format!("array index {} is too large", &s[..len]))?;
        (JsonPathPart::Index(index), &s[len..])
    };
    match rest.trim_start_matches([' ', '\t', '\n']).strip_prefix(']') {
        Some(after) => Ok((part, after)),
        None => Err("expected ']'".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JsonPathPart::{Field, Index};

    #[test]
    fn valid_paths() {
        assert_eq!(parse_json_path("a").unwrap(), vec![Field("a".into())]);
        assert_eq!(
            parse_json_path("servers[0].name").unwrap(),
            vec![Field("servers".into()), Index(0), Field("name".into())]
        );
        assert_eq!(parse_json_path("[1][2]").unwrap(), vec![Index(1), Index(2)]);
        assert_eq!(
            parse_json_path(r#"["a b"].c"#).unwrap(),
            vec![Field("a b".into()), Field("c".into())]
        );
        assert_eq!(
            parse_json_path(" a . b ").unwrap(),
            vec![Field("a".into()), Field("b".into())]
        );
    }

    #[test]
    fn invalid_paths() {
        for p in [
            "",
            ".a",
            "a.",
            "a..b",
            "a[",
            "a[]",
            "a[x]",
            "a[1.5]",
            "a b",
            "1a",
            "a[\"x",
            "a]",
            "a[99999999999999999999999]",
        ] {
            assert!(parse_json_path(p).is_err(), "{p:?}");
        }
    }
}
