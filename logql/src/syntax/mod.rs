//! LogQL syntax: lexer, parser, typed AST ([`ast`]) and canonical printer.
//!
//! ```
//! use logjar_logql::syntax::{parse, Expr, MetricExpr};
//!
//! let q = parse(r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#).unwrap();
//! let Expr::Metric(MetricExpr::VectorAggregation(agg)) = &q else { panic!() };
//! assert_eq!(agg.op.as_str(), "sum");
//! assert_eq!(q.log_exprs()[0].matchers()[0].value(), "api");
//! // Display prints canonical LogQL, which parses back to the same tree.
//! assert_eq!(parse(&q.to_string()).unwrap(), q);
//! ```
//!
//! # Canonical form
//!
//! `Display` on any node prints LogQL that parses back to an equal node, and printing is
//! idempotent. Choices:
//!
//! - strings are double-quoted with Go escapes (backtick strings are re-quoted);
//! - selectors print as `{a="x", b=~"y"}`; stages are separated by one space and start
//!   with their operator (`|= "x"`, `| json`);
//! - label filters print comparisons without spaces (`status>=500`, `level="error"`,
//!   `took>1s500ms`, `size<10KiB`), `and` / `or` spelled out (never `,` or a space), and
//!   parentheses only where the tree needs them; numeric equality prints as `==`;
//! - `| json a` for a field whose path is its own name, else `| json a="x.y"`;
//! - the range of a range aggregation always follows the whole pipeline, then
//!   `offset`: `rate({a="x"} |= "y" [5m] offset 1h)`;
//! - durations print in Prometheus form, largest unit first (`1h30m`, `250ms`), with
//!   `ns`-level remainders kept exactly (`1s500ns`); byte sizes with the largest binary
//!   unit that divides them, else decimal, else `B` (`10KiB`, `1500B`);
//! - numbers print in the shortest form that reads back exactly (`5`, `0.99`, `1e300`);
//!   hexadecimal literals print in decimal;
//! - vector aggregations print their grouping after the name (`sum by (a) (…)`), range
//!   aggregations after the call (`avg_over_time(…) by (a)`);
//! - binary operators are surrounded by single spaces, modifiers follow the operator
//!   (`/ on (a) group_left (b)`, `> bool`; the `group_left`/`group_right` list is printed
//!   even when empty, `group_left ()`, since a parenthesised operand could follow), and operands are parenthesised only when
//!   precedence or associativity requires it;
//! - keywords and function names print in lower case; comments are dropped.
//!
//! # Errors
//!
//! [`ParseError`] carries the byte span of the fault; `Display` gives
//! `parse error at line 1, col 17: expected "]", found "m"`, and
//! [`ParseError::render`] adds the query line and a caret line. Parsing never panics,
//! and nesting deeper than 64 levels is an error rather than a stack overflow.

pub mod ast;
mod check;
mod error;
pub mod json_path;
mod lexer;
mod literal;
mod parser;
pub mod pattern;
mod print;
mod span;
mod token;

pub use ast::*;
pub use error::ParseError;
pub use span::Span;

use crate::matcher::LabelMatcher;

/// Parses a LogQL query (log or metric).
///
/// Besides syntax, this applies Loki's parse-time rules: selectors need a matcher that
/// does not match the empty string; regexes, patterns and IP filters must be valid;
/// range aggregations must match their use of `unwrap`, grouping and parameter;
/// `topk`/`bottomk` need a positive whole `k`; binary operators need metric operands.
///
/// ```
/// use logjar_logql::syntax::parse;
///
/// let q = parse(r#"{app="api"} |= "error" | json | status >= 500"#).unwrap();
/// assert!(q.is_log());
/// assert_eq!(q.to_string(), r#"{app="api"} |= "error" | json | status>=500"#);
///
/// let err = parse(r#"sum_over_time({app="api"}[5m])"#).unwrap_err();
/// assert!(err.to_string().contains("without unwrap"));
/// ```
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    parser::parse_query(query)
}

impl std::str::FromStr for Expr {
    type Err = ParseError;

    /// The same as [`parse`]: `let q: Expr = "{app=\"x\"}".parse()?`.
    fn from_str(query: &str) -> Result<Expr, ParseError> {
        parse(query)
    }
}

/// Parses a query that must be a log query (`{…} | …`), such as the argument of
/// `logjar tail` or `logjar delete`.
///
/// ```
/// use logjar_logql::syntax::parse_log_expr;
///
/// let q = parse_log_expr(r#"{app="api"} != "healthcheck""#).unwrap();
/// assert_eq!(q.line_filters().count(), 1);
/// assert!(parse_log_expr(r#"rate({app="api"}[1m])"#).is_err());
/// ```
pub fn parse_log_expr(query: &str) -> Result<LogExpr, ParseError> {
    parser::parse_log_query(query)
}

/// Parses a lone stream selector, `{app="x", env=~"prod|dev"}`, as used by
/// `logjar series` and `--labels`. Like every selector, it needs at least one matcher
/// that does not match the empty string.
///
/// ```
/// use logjar_logql::syntax::parse_selector;
/// use logjar_logql::matcher::MatchOp;
///
/// let m = parse_selector(r#"{app="api", env=~"prod|dev"}"#).unwrap();
/// assert_eq!(m.len(), 2);
/// assert_eq!(m[1].op(), MatchOp::Re);
/// assert!(parse_selector("{}").is_err());
/// assert!(parse_selector(r#"{app="api"} |= "x""#).is_err());
/// ```
pub fn parse_selector(selector: &str) -> Result<Vec<LabelMatcher>, ParseError> {
    parser::parse_stream_selector(selector)
}
