//! The recursive-descent parser, split by grammar area:
//! [`selector`] (stream selectors and label lists), [`pipeline`] (log pipeline stages,
//! label filters, `unwrap`) and [`metric`] (aggregations, binary operators, literals).

mod metric;
mod pipeline;
mod selector;

pub(crate) use pipeline::STAGE_KEYWORDS;

use super::ast::{Expr, LogExpr};
use super::error::ParseError;
use super::lexer::tokenize;
use super::span::Span;
use super::token::{Tok, Token};
use crate::matcher::LabelMatcher;

/// Deepest nesting accepted (parentheses, function arguments, binary operator trees).
/// Deeper input is refused with an error rather than risking the stack.
pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) type PResult<T> = Result<T, ParseError>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Parses a whole query.
pub(crate) fn parse_query(src: &str) -> PResult<Expr> {
    let mut p = Parser::new(src);
    let expr = p.parse_expr()?;
    p.expect_eof(&expr)?;
    Ok(expr)
}

/// Parses a query that must be a log query.
pub(crate) fn parse_log_query(src: &str) -> PResult<LogExpr> {
    match parse_query(src)? {
        Expr::Log(l) => Ok(l),
        Expr::Metric(_) => Err(ParseError::new(
            src,
            Span::new(0, src.len()),
            "expected a log query such as {app=\"x\"} |= \"error\", found a metric query",
        )),
    }
}

/// Parses a lone stream selector `{…}`.
pub(crate) fn parse_stream_selector(src: &str) -> PResult<Vec<LabelMatcher>> {
    let mut p = Parser::new(src);
    let matchers = p.parse_selector()?;
    if !p.at(&Tok::Eof) {
        return Err(p.err_expected("end of the selector"));
    }
    Ok(matchers)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            toks: tokenize(src),
            pos: 0,
            depth: 0,
        }
    }

    // ---- token access ----------------------------------------------------------------

    fn peek(&self) -> &Token {
        self.peek_n(0)
    }

    /// The token `n` places ahead; `Eof` past the end.
    fn peek_n(&self, n: usize) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[(self.pos + n).min(last)]
    }

    /// True if the next token is of the same kind as `kind` (payloads are not compared).
    fn at(&self, kind: &Tok) -> bool {
        std::mem::discriminant(&self.peek().kind) == std::mem::discriminant(kind)
    }

    /// Consumes the next token and returns it. Consumed tokens are never looked at again
    /// (only their spans), so the kind is moved out rather than cloned.
    fn bump(&mut self) -> Token {
        if self.pos < self.toks.len() - 1 {
            let t = &mut self.toks[self.pos];
            self.pos += 1;
            Token {
                kind: std::mem::replace(&mut t.kind, Tok::Eof),
                span: t.span,
            }
        } else {
            self.peek().clone()
        }
    }

    fn text(&self, t: &Token) -> &'a str {
        self.src.get(t.span.start..t.span.end).unwrap_or("")
    }

    /// True if the next token is the identifier `kw` (ASCII case-insensitive).
    fn at_kw(&self, kw: &str) -> bool {
        self.kw_at(0, kw)
    }

    fn kw_at(&self, n: usize, kw: &str) -> bool {
        let t = self.peek_n(n);
        t.kind == Tok::Ident && self.text(t).eq_ignore_ascii_case(kw)
    }

    /// Consumes a token of `kind` or fails with "expected `what`".
    fn expect(&mut self, kind: Tok, what: &str) -> PResult<Token> {
        if self.at(&kind) {
            Ok(self.bump())
        } else {
            Err(self.err_expected(what))
        }
    }

    /// Consumes an identifier (any word, keywords included) and returns its text.
    fn expect_ident(&mut self, what: &str) -> PResult<(String, Span)> {
        if self.at(&Tok::Ident) {
            let t = self.bump();
            Ok((self.text(&t).to_string(), t.span))
        } else {
            Err(self.err_expected(what))
        }
    }

    fn expect_string(&mut self, what: &str) -> PResult<(String, Span)> {
        if matches!(self.peek().kind, Tok::Str(_)) {
            if let Token {
                kind: Tok::Str(s),
                span,
            } = self.bump()
            {
                return Ok((s, span));
            }
        }
        Err(self.err_expected(what))
    }

    fn expect_eof(&self, expr: &Expr) -> PResult<()> {
        if self.at(&Tok::Eof) {
            return Ok(());
        }
        let t = self.peek();
        let what = match (&t.kind, expr) {
            (Tok::LBracket, Expr::Log(_)) => {
                return Err(self.error(
                    t.span,
                    "a range such as [5m] is only allowed inside a range aggregation, \
                     e.g. count_over_time({app=\"x\"}[5m])",
                ))
            }
            (_, Expr::Log(_)) => {
                "a pipeline stage such as |= \"text\" or | json, or the end of the query"
            }
            (_, Expr::Metric(_)) => "a binary operator or the end of the query",
        };
        Err(self.err_expected(what))
    }

    // ---- errors ----------------------------------------------------------------------

    fn error(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.src, span, msg)
    }

    /// "expected `what`, found …" at the next token; a lexing error is reported as is.
    fn err_expected(&self, what: &str) -> ParseError {
        let t = self.peek();
        if let Tok::Error(msg) = &t.kind {
            return self.error(t.span, msg.clone());
        }
        self.error(
            t.span,
            format!("expected {what}, found {}", self.describe(t)),
        )
    }

    fn describe(&self, t: &Token) -> String {
        match t.kind {
            Tok::Eof => "end of input".to_string(),
            _ => {
                let text = self.text(t);
                let mut shown: String = text.chars().take(40).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                format!("{shown:?}")
            }
        }
    }

    // ---- nesting ---------------------------------------------------------------------

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                self.peek().span,
                format!("query is nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Span from `start` to the end of the last consumed token.
    fn span_from(&self, start: Span) -> Span {
        let end = if self.pos == 0 {
            start.end
        } else {
            self.toks[self.pos - 1].span.end
        };
        Span::new(start.start, end.max(start.end))
    }
}
