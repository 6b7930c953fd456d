//! Splits a template into text and action tokens (Go `text/template/parse` lexer).

use super::TemplateError;

/// A token inside `{{ … }}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A function name or keyword.
    Ident(String),
    /// `.a.b` (empty vec for a bare `.`).
    Field(Vec<String>),
    /// `$x` or `$` followed by optional `.fields`.
    Var(String, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

/// A lexed piece of the template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Text(String),
    /// An action's tokens, with the byte offset of each token.
    Action(Vec<(Tok, usize)>, usize),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Line number (1-based) of a byte offset, for error messages.
pub(crate) fn line_of(src: &str, pos: usize) -> usize {
    1 + src.as_bytes()[..pos.min(src.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
}

pub(crate) fn lex(name: &str, src: &str) -> Result<Vec<Item>, TemplateError> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    let err = |pos: usize, msg: &str| {
        TemplateError::Parse(format!("template: {name}:{}: {msg}", line_of(src, pos)))
    };
    while i < b.len() {
        let Some(off) = memchr::memmem::find(&b[i..], b"{{") else {
            items.push(Item::Text(src[i..].to_string()));
            break;
        };
        let open = i + off;
        let mut text_end = open;
        let mut j = open + 2;
        // left trim marker "{{- "
        if j + 1 < b.len() && b[j] == b'-' && is_space(b[j + 1]) {
            while text_end > i && is_space(b[text_end - 1]) {
                text_end -= 1;
            }
            j += 2;
        }
        if text_end > i {
            items.push(Item::Text(src[i..text_end].to_string()));
        }
        // comment
        let mut k = j;
        while k < b.len() && is_space(b[k]) {
            k += 1;
        }
        if b[k.min(b.len())..].starts_with(b"/*") {
            let Some(c_end) = memchr::memmem::find(&b[k + 2..], b"*/") else {
                return Err(err(open, "unclosed comment"));
            };
            let mut after = k + 2 + c_end + 2;
            let mut trim_right = false;
            if b[after..].starts_with(b" -}}") {
                trim_right = true;
                after += 4;
            } else if b[after..].starts_with(b"}}") {
                after += 2;
            } else {
                return Err(err(open, "comment ends before closing delimiter"));
            }
            i = after;
            if trim_right {
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
            }
            continue;
        }
        let (toks, end, trim_right) = lex_action(b, src, j).map_err(|m| err(open, &m))?;
        items.push(Item::Action(toks, open));
        i = end;
        if trim_right {
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
        }
    }
    Ok(items)
}

/// Lexes the inside of an action starting at `i`; returns tokens, the index after
/// `}}` and whether a right trim marker was present.
/// An action's tokens with offsets, the index after `}}`, and the right-trim flag.
type LexedAction = (Vec<(Tok, usize)>, usize, bool);

fn lex_action(b: &[u8], src: &str, mut i: usize) -> Result<LexedAction, String> {
    let mut toks = Vec::new();
    loop {
        while i < b.len() && is_space(b[i]) {
            // " -}}" right trim
            if b[i..].starts_with(b" -}}")
                || b[i..].starts_with(b"\n-}}")
                || b[i..].starts_with(b"\t-}}")
            {
                return Ok((toks, i + 4, true));
            }
            i += 1;
        }
        if i >= b.len() {
            return Err("unclosed action".into());
        }
        if b[i..].starts_with(b"}}") {
            return Ok((toks, i + 2, false));
        }
        let start = i;
        let c = b[i];
        let tok = match c {
            b'|' => {
                i += 1;
                Tok::Pipe
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Declare
            }
            b'=' => {
                i += 1;
                Tok::Assign
            }
            b'"' => {
                let (s, next) = lex_quote(src, i)?;
                i = next;
                Tok::Str(s)
            }
            b'`' => {
                let Some(end) = memchr::memchr(b'`', &b[i + 1..]) else {
                    return Err("unterminated raw quoted string".into());
                };
                let s = src[i + 1..i + 1 + end].to_string();
                i += end + 2;
                Tok::Str(s)
            }
            b'\'' => {
                let rest = &src[i + 1..];
                let mut chars = rest.chars();
                let ch = match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('\\') => '\\',
                        Some('\'') => '\'',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        _ => return Err("unsupported character escape".into()),
                    },
                    Some(c) => c,
                    None => return Err("unterminated character constant".into()),
                };
                let consumed = rest.len() - chars.as_str().len();
                if !chars.as_str().starts_with('\'') {
                    return Err("unterminated character constant".into());
                }
                i += 1 + consumed + 1;
                Tok::Int(ch as i64)
            }
            b'.' if b.get(i + 1).is_none_or(|c| !c.is_ascii_digit()) => {
                let (fields, next) = lex_fields(b, src, i);
                i = next;
                Tok::Field(fields)
            }
            b'$' => {
                let s = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                let name = src[s..i].to_string();
                let (fields, next) = if b.get(i) == Some(&b'.') {
                    lex_fields(b, src, i)
                } else {
                    (Vec::new(), i)
                };
                i = next;
                Tok::Var(name, fields)
            }
            c if c.is_ascii_digit()
                || ((c == b'-' || c == b'+' || c == b'.')
                    && b.get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == b'.')) =>
            {
                let s = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || matches!(b[i], b'.' | b'_')
                        || ((b[i] == b'+' || b[i] == b'-')
                            && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P')))
                {
                    i += 1;
                }
                parse_number(&src[s..i])
                    .ok_or_else(|| format!("bad number syntax: {:?}", &src[s..i]))?
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                match &src[s..i] {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    w => Tok::Ident(w.to_string()),
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected {ch:?} in command"));
            }
        };
        toks.push((tok, start));
    }
}

fn lex_fields(b: &[u8], src: &str, mut i: usize) -> (Vec<String>, usize) {
    let mut fields = Vec::new();
    while i < b.len() && b[i] == b'.' {
        let s = i + 1;
        let mut j = s;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
            j += 1;
        }
        if j == s {
            // a bare "." (dot)
            i = j;
            break;
        }
        fields.push(src[s..j].to_string());
        i = j;
    }
    (fields, i)
}

fn lex_quote(src: &str, start: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\n' => return Err("unterminated quoted string".into()),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err("unterminated quoted string".into());
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v = 0u32;
                        for _ in 0..n {
                            let d = chars
                                .next()
                                .and_then(|(_, h)| h.to_digit(16))
                                .ok_or("invalid syntax")?;
                            v = v * 16 + d;
                        }
                        out.push(char::from_u32(v).ok_or("invalid syntax")?);
                    }
                    _ => return Err("invalid syntax".into()),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

/// Go number literal: ints (decimal, 0x, 0o, 0b, underscores) or floats.
pub(crate) fn parse_number(s: &str) -> Option<Tok> {
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bn) = lower.strip_prefix("0b") {
        i64::from_str_radix(bn, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(v) = int {
        return Some(Tok::Int(if neg { -v } else { v }));
    }
    if lower.starts_with("0x") || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    let f = if neg { -f } else { f };
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        // Go marks integral float constants as ints too; keep the float form.
        return Some(Tok::Float(f));
    }
    f.is_finite().then_some(Tok::Float(f))
}
