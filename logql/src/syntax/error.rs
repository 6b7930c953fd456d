//! Parse errors: what is wrong, and where.

use super::span::{line_col, Span};

/// Why a query could not be parsed.
///
/// `Display` gives one line: `parse error at line 1, col 17: expected "]", found "m"`.
/// [`ParseError::render`] adds the offending query line and a caret under the fault.
///
/// ```
/// let err = logjar_logql::parse(r#"{app="api"} |= "x" [5m]"#).unwrap_err();
/// assert_eq!(err.position(), 19);
/// assert_eq!((err.line(), err.column()), (1, 20));
/// assert!(err.to_string().starts_with("parse error at line 1, col 20: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, col {col}: {message}")]
pub struct ParseError {
    message: String,
    span: Span,
    line: usize,
    col: usize,
}

impl ParseError {
    /// An error about `span` of `src`.
    pub(crate) fn new(src: &str, span: Span, message: impl Into<String>) -> ParseError {
        let (line, col) = line_col(src, span.start);
        ParseError {
            message: message.into(),
            span,
            line,
            col,
        }
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset in the query where the fault starts.
    pub fn position(&self) -> usize {
        self.span.start
    }

    /// The bytes of the query at fault.
    pub fn span(&self) -> Span {
        self.span
    }

    /// 1-based line of the fault.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column (in characters) of the fault.
    pub fn column(&self) -> usize {
        self.col
    }

    /// The message, then the query line at fault and a caret line under the fault:
    ///
    /// ```text
    /// parse error at line 1, col 20: a range such as [5m] is only allowed inside …
    ///   {app="api"} |= "x" [5m]
    ///                      ^^^^
    /// ```
    ///
    /// `query` must be the text that was parsed; any other text still renders without
    /// panicking.
    pub fn render(&self, query: &str) -> String {
        let mut out = self.to_string();
        let line_text = query.split('\n').nth(self.line - 1).unwrap_or("");
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        // Tabs keep their width in the caret line by being copied over.
        let prefix: String = line_text
            .chars()
            .take(self.col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let line_len = line_text.chars().count();
        let span_chars = match query.get(self.span.start..self.span.end) {
            Some(s) => s.split('\n').next().unwrap_or("").chars().count(),
            None => 0,
        };
        let room = line_len.saturating_sub(self.col - 1);
        let width = span_chars.min(room).max(1);
        out.push_str("\n  ");
        out.push_str(line_text);
        out.push_str("\n  ");
        out.push_str(&prefix);
        out.push_str(&"^".repeat(width));
        out
    }
}
