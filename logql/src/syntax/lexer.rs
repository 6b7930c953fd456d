//! The lexer: query text to tokens.
//!
//! Whitespace and `#` comments (to the end of the line) separate tokens. A lexing error
//! becomes a [`Tok::Error`] token followed by `Eof`, so the parser reports it at the point
//! where it would have needed the token.

use super::literal::{parse_byte_size, parse_duration};
use super::span::Span;
use super::token::{Tok, Token};

/// Splits `src` into tokens; the last token is always [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Vec::with_capacity(src.len() / 3 + 2),
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn run(&mut self) {
        loop {
            self.skip_space_and_comments();
            let start = self.pos;
            let Some(&b) = self.bytes.get(start) else {
                self.push(Tok::Eof, start, start);
                return;
            };
            match self.next_token(b) {
                Ok(kind) => self.push(kind, start, self.pos),
                Err((msg, end)) => {
                    self.push(
                        Tok::Error(msg),
                        start,
                        end.max(start + 1).min(self.src.len()),
                    );
                    self.push(Tok::Eof, self.src.len(), self.src.len());
                    return;
                }
            }
        }
    }

    fn push(&mut self, kind: Tok, start: usize, end: usize) {
        self.out.push(Token {
            kind,
            span: Span::new(start, end),
        });
    }

    fn peek_at(&self, off: usize) -> u8 {
        self.bytes.get(self.pos + off).copied().unwrap_or(0)
    }

    fn skip_space_and_comments(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else if b == b'#' {
                while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else if b >= 0x80 {
                match self.src[self.pos..].chars().next() {
                    Some(c) if c.is_whitespace() => self.pos += c.len_utf8(),
                    _ => return,
                }
            } else {
                return;
            }
        }
    }

    /// Reads one token starting with byte `b` at `self.pos`, advancing past it.
    /// On error returns the message and the end of the offending text.
    fn next_token(&mut self, b: u8) -> Result<Tok, (String, usize)> {
        let two = |lx: &mut Self, t: Tok| {
            lx.pos += 2;
            Ok(t)
        };
        let one = |lx: &mut Self, t: Tok| {
            lx.pos += 1;
            Ok(t)
        };
        match (b, self.peek_at(1)) {
            (b'{', _) => one(self, Tok::LBrace),
            (b'}', _) => one(self, Tok::RBrace),
            (b'(', _) => one(self, Tok::LParen),
            (b')', _) => one(self, Tok::RParen),
            (b'[', _) => one(self, Tok::LBracket),
            (b']', _) => one(self, Tok::RBracket),
            (b',', _) => one(self, Tok::Comma),
            (b'+', _) => one(self, Tok::Add),
            (b'*', _) => one(self, Tok::Mul),
            (b'/', _) => one(self, Tok::Div),
            (b'%', _) => one(self, Tok::Mod),
            (b'^', _) => one(self, Tok::Pow),
            (b'=', b'=') => two(self, Tok::EqEq),
            (b'=', b'~') => two(self, Tok::Re),
            (b'=', _) => one(self, Tok::Eq),
            (b'!', b'=') => two(self, Tok::Neq),
            (b'!', b'~') => two(self, Tok::Nre),
            (b'!', b'>') => two(self, Tok::NotPattern),
            (b'|', b'=') => two(self, Tok::PipeExact),
            (b'|', b'~') => two(self, Tok::PipeMatch),
            (b'|', b'>') => two(self, Tok::PipePattern),
            (b'|', _) => one(self, Tok::Pipe),
            (b'>', b'=') => two(self, Tok::Gte),
            (b'>', _) => one(self, Tok::Gt),
            (b'<', b'=') => two(self, Tok::Lte),
            (b'<', _) => one(self, Tok::Lt),
            (b'-', b'-') if self.peek_at(2).is_ascii_alphabetic() => Ok(self.flag()),
            (b'-', _) => one(self, Tok::Sub),
            (b'"', _) => self.go_string(),
            (b'`', _) => self.raw_string(),
            (b'0'..=b'9', _) => self.number(),
            (b'.', b'0'..=b'9') => self.number(),
            (b'a'..=b'z' | b'A'..=b'Z' | b'_', _) => {
                self.pos += 1;
                while matches!(self.peek_at(0), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_') {
                    self.pos += 1;
                }
                Ok(Tok::Ident)
            }
            _ => {
                let c = self.src[self.pos..].chars().next().unwrap_or('\u{FFFD}');
                Err((
                    format!("unexpected character {c:?}"),
                    self.pos + c.len_utf8(),
                ))
            }
        }
    }

    /// `--strict`, `--keep-empty`: two dashes, then letters and dashes.
    fn flag(&mut self) -> Tok {
        self.pos += 2;
        while matches!(self.peek_at(0), b'a'..=b'z' | b'A'..=b'Z' | b'-') {
            self.pos += 1;
        }
        Tok::Flag
    }

    /// A double-quoted string with Go escapes. The decoded bytes must be valid UTF-8.
    fn go_string(&mut self) -> Result<Tok, (String, usize)> {
        self.pos += 1;
        let body_start = self.pos;
        // Fast path: no escapes.
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'"' => {
                    let s = self.src[body_start..self.pos].to_string();
                    self.pos += 1;
                    return Ok(Tok::Str(s));
                }
                b'\\' => break,
                b'\n' => return Err(("newline in string literal".into(), self.pos)),
                _ => self.pos += 1,
            }
        }
        let mut buf: Vec<u8> = self.bytes[body_start..self.pos].to_vec();
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(("unterminated string literal".into(), self.src.len()));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(buf).map(Tok::Str).map_err(|_| {
                        (
                            "string literal escapes do not form valid UTF-8".into(),
                            self.pos,
                        )
                    });
                }
                b'\n' => return Err(("newline in string literal".into(), self.pos)),
                b'\\' => {
                    let esc_start = self.pos;
                    self.escape(&mut buf)
                        .map_err(|m| (m, self.pos.max(esc_start + 1)))?;
                }
                _ => {
                    buf.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// Decodes one escape sequence at `self.pos` (which is at the backslash).
    fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), String> {
        let c = self.peek_at(1);
        self.pos += 2;
        let simple = match c {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(v) = simple {
            buf.push(v);
            return Ok(());
        }
        match c {
            b'x' => {
                let v = self.hex_digits(2)?;
                buf.push(v as u8);
            }
            b'u' | b'U' => {
                let n = if c == b'u' { 4 } else { 8 };
                let v = self.hex_digits(n)?;
                let ch = char::from_u32(v).ok_or_else(|| {
                    format!("escape sequence is not a valid Unicode code point: {v:#x}")
                })?;
                let mut tmp = [0u8; 4];
                buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
            }
            b'0'..=b'7' => {
                self.pos -= 1;
                let mut v: u32 = 0;
                for _ in 0..3 {
                    let d = self.peek_at(0);
                    if !(b'0'..=b'7').contains(&d) {
                        return Err("octal escape needs three digits".into());
                    }
                    v = v * 8 + u32::from(d - b'0');
                    self.pos += 1;
                }
                if v > 255 {
                    return Err(format!("octal escape value {v} > 255"));
                }
                buf.push(v as u8);
            }
            0 if self.pos > self.bytes.len() => {
                self.pos = self.bytes.len();
                return Err("unterminated string literal".into());
            }
            _ => {
                // Step back over a multi-byte character so the error points at it whole.
                self.pos -= 1;
                let ch = self.src[self.pos..].chars().next().unwrap_or('?');
                self.pos += ch.len_utf8();
                return Err(format!("unknown escape sequence \\{ch}"));
            }
        }
        Ok(())
    }

    fn hex_digits(&mut self, n: usize) -> Result<u32, String> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = self.peek_at(0);
            let x = (d as char)
                .to_digit(16)
                .ok_or_else(|| format!("escape sequence needs {n} hex digits"))?;
            v = v * 16 + x;
            self.pos += 1;
        }
        Ok(v)
    }

    /// A raw string in backticks: no escapes, may span lines.
    fn raw_string(&mut self) -> Result<Tok, (String, usize)> {
        let body_start = self.pos + 1;
        match memchr::memchr(b'`', &self.bytes[body_start..]) {
            Some(len) => {
                self.pos = body_start + len + 1;
                Ok(Tok::Str(self.src[body_start..body_start + len].to_string()))
            }
            None => Err(("unterminated raw string literal".into(), self.src.len())),
        }
    }

    /// A number, or a number with a duration or byte-size unit.
    fn number(&mut self) -> Result<Tok, (String, usize)> {
        let start = self.pos;
        let is_hex = self.peek_at(0) == b'0' && matches!(self.peek_at(1), b'x' | b'X');
        let value = if is_hex {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek_at(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            let digits = &self.src[digits_start..self.pos];
            if digits.is_empty() {
                return Err(("hexadecimal number needs digits after 0x".into(), self.pos));
            }
            match u64::from_str_radix(digits, 16) {
                Ok(v) => v as f64,
                Err(_) => return Err(("number out of range".into(), self.pos)),
            }
        } else {
            while self.peek_at(0).is_ascii_digit() {
                self.pos += 1;
            }
            if self.peek_at(0) == b'.' {
                self.pos += 1;
                while self.peek_at(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
            let exp_digit = |o: usize| self.peek_at(o).is_ascii_digit();
            if matches!(self.peek_at(0), b'e' | b'E')
                && (exp_digit(1) || (matches!(self.peek_at(1), b'+' | b'-') && exp_digit(2)))
            {
                self.pos += 2;
                while self.peek_at(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
            // Plain numbers are converted after the unit check below: `5m` needs no float.
            if let Some(tok) = self.unit_suffix(start) {
                return Ok(tok);
            }
            let text = &self.src[start..self.pos];
            if text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) {
                // Exact: at most 15 digits fit an f64 mantissa.
                let v = text
                    .bytes()
                    .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
                return Ok(Tok::Number(v as f64));
            }
            return match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Tok::Number(v)),
                _ => Err((format!("number {text:?} out of range"), self.pos)),
            };
        };
        if let Some(tok) = self.unit_suffix(start) {
            return Ok(tok);
        }
        Ok(Tok::Number(value))
    }

    /// After the number at `start..self.pos`, tries a duration unit and then a byte unit,
    /// as Loki's lexer does; on success advances past the unit.
    fn unit_suffix(&mut self, start: usize) -> Option<Tok> {
        let rest = &self.src[self.pos..];
        let dur_len = suffix_len(rest, |c| {
            matches!(
                c,
                '0'..='9' | '.' | 'n' | 'u' | 'µ' | 'μ' | 'm' | 's' | 'h' | 'd' | 'w' | 'y'
            )
        });
        if dur_len > 0 {
            let text = &self.src[start..self.pos + dur_len];
            if let Some(v) = parse_duration(text) {
                self.pos += dur_len;
                return Some(Tok::Duration(v));
            }
        }
        let bytes_len = suffix_len(rest, |c| {
            matches!(
                c,
                '0'..='9' | '.' | 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P' | 'E'
            )
        });
        if bytes_len > 0 {
            let text = &self.src[start..self.pos + bytes_len];
            if let Some(v) = parse_byte_size(text) {
                self.pos += bytes_len;
                return Some(Tok::Bytes(v));
            }
        }
        None
    }
}

/// Byte length of the longest prefix of `s` whose characters satisfy `f`.
fn suffix_len(s: &str, f: impl Fn(char) -> bool) -> usize {
    s.char_indices()
        .find(|&(_, c)| !f(c))
        .map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators_and_punctuation() {
        use Tok::*;
        assert_eq!(
            kinds("{a=\"x\",b!=`y`} |= != |~ !~ |> !> | == =~ >= <= > < + - * / % ^ ( ) [ ]"),
            vec![
                LBrace,
                Ident,
                Eq,
                Str("x".into()),
                Comma,
                Ident,
                Neq,
                Str("y".into()),
                RBrace,
                PipeExact,
                Neq,
                PipeMatch,
                Nre,
                PipePattern,
                NotPattern,
                Pipe,
                EqEq,
                Re,
                Gte,
                Lte,
                Gt,
                Lt,
                Add,
                Sub,
                Mul,
                Div,
                Mod,
                Pow,
                LParen,
                RParen,
                LBracket,
                RBracket,
                Eof
            ]
        );
    }

    #[test]
    fn numbers_durations_bytes() {
        use Tok::*;
        assert_eq!(
            kinds("1 1.5 .5 1e3 0x1f 5m 1h30m 1.5s 100µs 10KiB 1.5MB 5 m"),
            vec![
                Number(1.0),
                Number(1.5),
                Number(0.5),
                Number(1000.0),
                Number(31.0),
                Duration(300_000_000_000),
                Duration(5_400_000_000_000),
                Duration(1_500_000_000),
                Duration(100_000),
                Bytes(10_240),
                Bytes(1_500_000),
                Number(5.0),
                Ident,
                Eof
            ]
        );
        // `1or` is a number followed by the keyword, as in Loki.
        assert_eq!(kinds("1or"), vec![Number(1.0), Ident, Eof]);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            kinds(r#""a\"b\\c\n\t\x41\u00e9\101" `raw\n`"#),
            vec![
                Tok::Str("a\"b\\c\n\tAéA".into()),
                Tok::Str("raw\\n".into()),
                Tok::Eof
            ]
        );
        assert_eq!(kinds(r#""\xe6\x88\x90""#)[0], Tok::Str("成".into()));
    }

    #[test]
    fn errors_become_error_tokens() {
        for src in [
            "\"abc",
            "\"a\nb\"",
            r#""\q""#,
            r#""\xff""#,
            "`abc",
            "1e999",
            "@",
            "!",
            r#""\u12""#,
            "\"\\",
            "\"\\é\"",
            "0x",
        ] {
            let toks = tokenize(src);
            assert!(
                toks.iter().any(|t| matches!(t.kind, Tok::Error(_))),
                "{src:?}: {toks:?}"
            );
            assert_eq!(toks.last().map(|t| &t.kind), Some(&Tok::Eof));
        }
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            kinds("{a=\"b\"} # comment |= \"x\"\n|= \"y\""),
            vec![
                Tok::LBrace,
                Tok::Ident,
                Tok::Eq,
                Tok::Str("b".into()),
                Tok::RBrace,
                Tok::PipeExact,
                Tok::Str("y".into()),
                Tok::Eof
            ]
        );
    }
}
