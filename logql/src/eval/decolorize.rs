//! `| decolorize`: strips ANSI colour/escape sequences.
//!
//! # Semantics notes (verified against Loki v3 `fmt.go`, `Decolorizer`)
//!
//! Loki removes every match of the regex from `acarl005/stripansi`:
//! `[\x1b\x{9b}][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x07)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))`
//! where `\x{9b}` is the UTF-8 encoded rune U+009B and `\d` is ASCII-only (Go). We use the
//! same expression with explicit ASCII classes. Lines without ESC or U+009B are returned
//! borrowed, without copying.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::bytes::Regex;

const ANSI: &str = r"[\x{1b}\x{9b}][\[\]()#;?]*(?:(?:(?:[a-zA-Z0-9]*(?:;[a-zA-Z0-9]*)*)?\x{07})|(?:(?:[0-9]{1,4}(?:;[0-9]{0,4})*)?[0-9A-PRZcf-ntqry=><~]))";

fn ansi() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(ANSI).expect("the ANSI expression is a valid constant"))
}

/// Removes ANSI escape sequences from `line`.
///
/// ```
/// use logjar_logql::eval::decolorize::decolorize;
/// assert_eq!(&*decolorize(b"\x1b[31mERROR\x1b[0m done"), b"ERROR done");
/// assert!(matches!(decolorize(b"plain"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn decolorize(line: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(0x1b, line).is_none() && memchr::memmem::find(line, b"\xc2\x9b").is_none() {
        return Cow::Borrowed(line);
    }
    ansi().replace_all(line, &b""[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_sequences() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"\x1b[1;31mbold red\x1b[0m", b"bold red"),
            (b"\x1b[38;5;196mx\x1b[m", b"x"),
            (b"\x1b]0;title\x07after", b"after"),
            (b"a\x1b[2Kb", b"ab"),
            ("\u{9b}31mred".as_bytes(), b"red"),
            (b"\x1b", b"\x1b"),
            (b"keep [31m brackets", b"keep [31m brackets"),
            (b"bad \xff \x1b[0m utf8", b"bad \xff  utf8"),
            (b"", b""),
        ];
        for (input, want) in cases {
            assert_eq!(&*decolorize(input), *want, "{input:?}");
        }
    }
}
