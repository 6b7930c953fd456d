//! Tokens produced by the lexer.

use super::span::Span;

/// One token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Span,
}

/// Token kinds. Keywords are not distinguished from identifiers here: LogQL's keywords
/// are contextual (`| json` is a parser, `| json="x"` a label filter), so the parser
/// decides from the surrounding tokens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`; the text is in the source at the token's span.
    Ident,
    /// A string literal, unescaped (`"…"` with Go escapes, or raw `` `…` ``).
    Str(String),
    /// A number: `1`, `-` is separate, `1.5`, `.5`, `1e3`, `0x1f`. Always finite.
    Number(f64),
    /// A number with a duration unit: `5m`, `1h30m`, `1.5s`, `100µs`, `2d` (nanoseconds).
    Duration(i64),
    /// A number with a byte unit: `10KB`, `1.5MiB`, `42B`.
    Bytes(u64),
    /// A flag: `--strict`, `--keep-empty` (text at the span).
    Flag,
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
    /// `|=`
    PipeExact,
    /// `|~`
    PipeMatch,
    /// `|>`
    PipePattern,
    /// `!>`
    NotPattern,
    /// `|`
    Pipe,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    /// The lexer could not read a token here; the message says why. Always the last
    /// token before `Eof`, so the parser reports it when (and only if) it gets there.
    Error(String),
    Eof,
}

impl Tok {
    /// True for the operators that can follow a label name in a label filter.
    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            Tok::Eq
                | Tok::EqEq
                | Tok::Neq
                | Tok::Re
                | Tok::Nre
                | Tok::Gt
                | Tok::Gte
                | Tok::Lt
                | Tok::Lte
        )
    }
}
