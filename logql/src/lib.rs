//! # logjar-logql
//!
//! LogQL — the query language of Grafana Loki — as a library: a lexer and
//! recursive-descent parser producing a typed AST whose `Display` prints
//! canonical LogQL, plus the evaluation pieces (log pipelines, range and
//! vector aggregation) that `logjar` runs over its storage.
//!
//! This crate knows nothing of storage: it turns text into a typed query and
//! offers pure functions over lines, labels and samples.
//!
//! ```
//! let q = logjar_logql::parse(r#"sum(rate({env="prod"} |= "error" [5m]))"#).unwrap();
//! assert!(q.is_metric());
//! assert_eq!(q.to_string(), r#"sum(rate({env="prod"} |= "error" [5m]))"#);
//! ```
//!
//! ```
//! use logjar_logql::matcher::{LabelMatcher, MatchOp};
//!
//! let m = LabelMatcher::new("app", MatchOp::Re, "api|gateway").unwrap();
//! assert!(m.matches("api"));
//! assert!(!m.matches("api-v2")); // selector regexes are fully anchored
//! ```
#![forbid(unsafe_code)]

pub mod eval;
pub mod matcher;
pub mod metric;
pub mod syntax;
pub mod units;

pub use syntax::{parse, parse_log_expr, parse_selector, Expr, LogExpr, MetricExpr, ParseError};
