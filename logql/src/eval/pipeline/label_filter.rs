//! Label filter stages: `| status >= 500`, `| level="error" or dur > 1s`, `| addr = ip("10.0.0.0/8")`.
//!
//! # Semantics notes (Loki v3 `pkg/logql/log/label_filter.go`, `filter.go`, `ip.go`, read)
//!
//! - `and` evaluates **both** sides (left then right) even when the left side fails, so
//!   both may set `__error__`; `or` stops at the first side that passes.
//! - String matchers (`= != =~ !~`) compare the label's value, an absent label being `""`;
//!   `__error__` is read from the error slot, so `| __error__=""` drops entries with errors.
//!   Regexes are anchored (`^(?:re)$`) except where Loki's regex simplifier replaces them
//!   by literal filters: `.*` and the empty regex always match, `.+` matches any non-empty
//!   value, and a literal with `.*` on either or both sides (`foo.*`, `.*foo`, `.*foo.*`)
//!   becomes a **substring** test (so `=~"foo.*"` also matches `"xfoo"`, as in Loki).
//! - Numeric, duration and bytes comparisons: an absent label fails the filter (the entry
//!   is dropped). A value that does not convert (`strconv.ParseFloat`, `time.ParseDuration`,
//!   `humanize.ParseBytes`) makes the comparison **pass** and sets
//!   `__error__="LabelFilterErr"` with `__error_details__`, unless an error is already set
//!   ("don't overwrite what might be a more useful error"); a converted value is compared
//!   even when an earlier stage set an error.
//! - `ip()` filters pass every entry that already has an error, fail when the label is
//!   absent, and otherwise scan the value like the `|= ip()` line filter.
//!
//!   Alternations of plain literals follow Loki's simplifier too (see `label_regex.rs`):
//!   `=~"web-1|web-10"` is two substring tests, `=~"info|error"` two exact matches.
//!
//! *Assumed / differences*: error details follow Go's wording for the common cases
//! (`strconv.ParseFloat: parsing "x": invalid syntax`, `time: missing unit in duration
//! "5"`, go-humanize's `unhandled size name: x`); Go's hex floats (`0x1p3`) are not
//! accepted as numbers. Case-insensitive literals (`(?i)foo.*`), which Loki also turns
//! into (case-folding) substring tests, stay anchored regexes here.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::label_regex::{simplify_literal_alternation, Leaf};
use super::PipelineError;
use crate::eval::ip::IpMatcher;
use crate::eval::labels::{errors, LabelsBuilder};
use crate::matcher::{write_go_quoted, LabelMatcher, MatchOp};
use crate::syntax::ast::{self, CmpOp};
use crate::units::{parse_bytes, parse_go_duration};

/// A compiled label filter expression.
#[derive(Debug, Clone)]
pub(crate) enum LabelFilterExpr {
    And(Vec<LabelFilterExpr>),
    Or(Vec<LabelFilterExpr>),
    Str(StringFilter),
    Number {
        name: String,
        op: CmpOp,
        value: f64,
    },
    Duration {
        name: String,
        op: CmpOp,
        nanos: i64,
    },
    Bytes {
        name: String,
        op: CmpOp,
        bytes: u64,
    },
    Ip {
        name: String,
        negated: bool,
        matcher: IpMatcher,
    },
}

/// A string comparison, possibly simplified as Loki does.
#[derive(Debug, Clone)]
pub(crate) struct StringFilter {
    name: String,
    test: StrTest,
    /// `!=` / `!~`: the result of `test` is inverted.
    negated: bool,
}

#[derive(Debug, Clone)]
enum StrTest {
    /// Always true (`=~".*"`, `=~""`).
    True,
    /// True for a non-empty value (`=~".+"`).
    NonEmpty,
    /// Substring test (`=~"foo.*"`).
    Contains(String),
    /// Exact comparison (`=`, `!=`).
    Equal(String),
    /// Any of these literal filters (Loki's simplified literal alternations).
    Any(Vec<Leaf>),
    /// Anchored regex, via the AST's compiled matcher (its result is not inverted here).
    Matcher(LabelMatcher),
}

impl LabelFilterExpr {
    /// Compiles an AST label filter.
    pub(crate) fn compile(f: &ast::LabelFilter) -> Result<Self, PipelineError> {
        Ok(match f {
            ast::LabelFilter::And(fs) => LabelFilterExpr::And(compile_all(fs)?),
            ast::LabelFilter::Or(fs) => LabelFilterExpr::Or(compile_all(fs)?),
            ast::LabelFilter::Matcher(m) => LabelFilterExpr::Str(StringFilter::new(m)),
            ast::LabelFilter::Number { name, op, value } => LabelFilterExpr::Number {
                name: name.clone(),
                op: *op,
                value: *value,
            },
            ast::LabelFilter::Duration { name, op, nanos } => LabelFilterExpr::Duration {
                name: name.clone(),
                op: *op,
                nanos: *nanos,
            },
            ast::LabelFilter::Bytes { name, op, bytes } => LabelFilterExpr::Bytes {
                name: name.clone(),
                op: *op,
                bytes: *bytes,
            },
            ast::LabelFilter::Ip {
                name,
                negated,
                pattern,
            } => LabelFilterExpr::Ip {
                name: name.clone(),
                negated: *negated,
                matcher: IpMatcher::new(pattern).map_err(|e| {
                    PipelineError::new(format!("label filter {name}"), e.to_string())
                })?,
            },
        })
    }

    /// Whether the filter can set `__error__` (and so change the label set).
    pub(crate) fn can_set_error(&self) -> bool {
        match self {
            LabelFilterExpr::And(fs) | LabelFilterExpr::Or(fs) => {
                fs.iter().any(LabelFilterExpr::can_set_error)
            }
            LabelFilterExpr::Str(_) | LabelFilterExpr::Ip { .. } => false,
            LabelFilterExpr::Number { .. }
            | LabelFilterExpr::Duration { .. }
            | LabelFilterExpr::Bytes { .. } => true,
        }
    }

    /// The label names the filter reads (Loki's `RequiredLabelNames`).
    pub(crate) fn required_labels(&self, out: &mut Vec<String>) {
        match self {
            LabelFilterExpr::And(fs) | LabelFilterExpr::Or(fs) => {
                for f in fs {
                    f.required_labels(out);
                }
            }
            LabelFilterExpr::Str(s) => out.push(s.name.clone()),
            LabelFilterExpr::Number { name, .. }
            | LabelFilterExpr::Duration { name, .. }
            | LabelFilterExpr::Bytes { name, .. }
            | LabelFilterExpr::Ip { name, .. } => out.push(name.clone()),
        }
    }

    /// Evaluates the filter; may set `__error__` (see the module notes).
    pub(crate) fn eval(&self, lbs: &mut LabelsBuilder) -> bool {
        match self {
            LabelFilterExpr::And(fs) => {
                // Loki's binary `and` evaluates both sides.
                let mut all = true;
                for f in fs {
                    all &= f.eval(lbs);
                }
                all
            }
            LabelFilterExpr::Or(fs) => fs.iter().any(|f| f.eval(lbs)),
            LabelFilterExpr::Str(s) => s.eval(lbs),
            LabelFilterExpr::Number { name, op, value } => {
                convert_and_compare(lbs, name, parse_go_float, |v| op.compare(v, *value))
            }
            LabelFilterExpr::Duration { name, op, nanos } => {
                convert_and_compare(lbs, name, parse_duration_err, |v| op.compare(v, *nanos))
            }
            LabelFilterExpr::Bytes { name, op, bytes } => {
                convert_and_compare(lbs, name, parse_bytes_err, |v| op.compare(v, *bytes))
            }
            LabelFilterExpr::Ip {
                name,
                negated,
                matcher,
            } => {
                if lbs.has_error() {
                    return true;
                }
                match lbs.get(name) {
                    Some(v) => matcher.matches_in(v.as_bytes()) != *negated,
                    None => false,
                }
            }
        }
    }
}

fn compile_all(fs: &[ast::LabelFilter]) -> Result<Vec<LabelFilterExpr>, PipelineError> {
    fs.iter().map(LabelFilterExpr::compile).collect()
}

/// Loki's typed comparison: absent → false; conversion error → true and `LabelFilterErr`
/// unless an error is already set.
fn convert_and_compare<T>(
    lbs: &mut LabelsBuilder,
    name: &str,
    convert: impl Fn(&str) -> Result<T, String>,
    cmp: impl Fn(T) -> bool,
) -> bool {
    let converted = match lbs.get(name) {
        None => return false,
        Some(v) => convert(v),
    };
    match converted {
        Ok(v) => cmp(v),
        Err(details) => {
            if !lbs.has_error() {
                lbs.set_error(errors::LABEL_FILTER);
                lbs.set_error_details(&details);
            }
            true
        }
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input; the error is Go's message.
pub(crate) fn parse_go_float(s: &str) -> Result<f64, String> {
    let go_err = |what: &str| format!("strconv.ParseFloat: parsing {}: {what}", go_quote(s));
    // Both accept signs, exponents, `.5`, `5.`, `inf`/`infinity`/`nan` in any case;
    // reject white space and underscores (Go allows `_` only after a base prefix).
    if s.is_empty() || s.bytes().any(|b| b.is_ascii_whitespace() || b == b'_') {
        return Err(go_err("invalid syntax"));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() && !is_inf_literal(s) => Err(go_err("value out of range")),
        Ok(v) => Ok(v),
        Err(_) => Err(go_err("invalid syntax")),
    }
}

fn is_inf_literal(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    t == "inf" || t == "infinity"
}

fn go_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_go_quoted(&mut q, s);
    q
}

/// Go's `time.ParseDuration`, in nanoseconds; errors carry Go's messages
/// (`time: invalid duration "x"`, `time: missing unit in duration "5"`,
/// `time: unknown unit "d" in duration "1d"`).
pub(crate) fn parse_duration_err(s: &str) -> Result<i64, String> {
    if let Some(ns) = parse_go_duration(s) {
        return Ok(ns);
    }
    let q = go_quote(s);
    let mut rest = s.strip_prefix(['-', '+']).unwrap_or(s);
    if rest.is_empty() {
        return Err(format!("time: invalid duration {q}"));
    }
    while !rest.is_empty() {
        let num = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num == 0 || &rest[..num] == "." {
            return Err(format!("time: invalid duration {q}"));
        }
        rest = &rest[num..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let u = &rest[..unit];
        if u.is_empty() {
            return Err(format!("time: missing unit in duration {q}"));
        }
        if !matches!(u, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return Err(format!(
                "time: unknown unit {} in duration {q}",
                go_quote(u)
            ));
        }
        rest = &rest[unit..];
    }
    // Well-formed but out of range.
    Err(format!("time: invalid duration {q}"))
}

/// go-humanize's `ParseBytes`, with its error messages (`strconv.ParseFloat: parsing
/// "": invalid syntax` for a missing number, `unhandled size name: x`, `too large: s`).
pub(crate) fn parse_bytes_err(s: &str) -> Result<u64, String> {
    // go-humanize reads the leading run of digits, '.' and ',' as the number.
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let num: String = s[..num_len].chars().filter(|&c| c != ',').collect();
    parse_go_float(&num)?;
    match parse_bytes(s) {
        Some(b) if num_len > 0 => Ok(b),
        _ => {
            let extra = s[num_len..].trim().to_lowercase();
            let known = [
                "", "b", "k", "kb", "ki", "kib", "m", "mb", "mi", "mib", "g", "gb", "gi", "gib",
                "t", "tb", "ti", "tib", "p", "pb", "pi", "pib", "e", "eb", "ei", "eib",
            ];
            if known.contains(&extra.as_str()) {
                Err(format!("too large: {s}"))
            } else {
                Err(format!("unhandled size name: {extra}"))
            }
        }
    }
}

impl StringFilter {
    fn new(m: &LabelMatcher) -> Self {
        let name = m.name().to_string();
        let (test, negated) = match m.op() {
            MatchOp::Eq => (StrTest::Equal(m.value().to_string()), false),
            MatchOp::Neq => (StrTest::Equal(m.value().to_string()), true),
            MatchOp::Re | MatchOp::Nre => {
                let negated = m.op() == MatchOp::Nre;
                let simplified = simplify_regex(m.value())
                    .or_else(|| simplify_literal_alternation(m.value()).map(StrTest::Any));
                match simplified {
                    Some(t) => (t, negated),
                    // The matcher applies its own negation.
                    None => (StrTest::Matcher(m.clone()), false),
                }
            }
        };
        StringFilter {
            name,
            test,
            negated,
        }
    }

    fn eval(&self, lbs: &LabelsBuilder) -> bool {
        let v = lbs.get(&self.name).unwrap_or("");
        let r = match &self.test {
            StrTest::True => true,
            StrTest::NonEmpty => !v.is_empty(),
            StrTest::Contains(s) => v.contains(s.as_str()),
            StrTest::Equal(s) => v == s,
            StrTest::Any(leaves) => leaves.iter().any(|l| match l {
                Leaf::Equal(s) => v == s,
                Leaf::Contains(s) => v.contains(s.as_str()),
                Leaf::True => true,
            }),
            StrTest::Matcher(m) => m.matches(v),
        };
        r != self.negated
    }
}

/// Loki's label-regex simplifications that change the result of an anchored match
/// (see the module notes). `None`: use the anchored regex.
fn simplify_regex(re: &str) -> Option<StrTest> {
    let hir = regex_syntax::parse(re).ok()?;
    let hir = strip_capture(&hir);
    match hir.kind() {
        HirKind::Empty => Some(StrTest::True),
        HirKind::Repetition(r) if r.max.is_none() && is_any_not_nl(&r.sub) => match r.min {
            0 => Some(StrTest::True),
            1 => Some(StrTest::NonEmpty),
            _ => None,
        },
        HirKind::Concat(parts) => {
            let parts: Vec<&Hir> = parts
                .iter()
                .map(strip_capture)
                .filter(|p| !matches!(p.kind(), HirKind::Empty))
                .collect();
            if parts.len() > 3 {
                return None;
            }
            let mut literal = None;
            for p in &parts {
                match p.kind() {
                    HirKind::Literal(l) if literal.is_none() => {
                        literal = Some(std::str::from_utf8(&l.0).ok()?.to_string());
                    }
                    HirKind::Repetition(r)
                        if r.min == 0 && r.max.is_none() && is_any_not_nl(&r.sub) => {}
                    _ => return None,
                }
            }
            // A lone literal stays an exact match (same as the anchored regex).
            let stars = parts.len() > 1;
            literal.filter(|_| stars).map(StrTest::Contains)
        }
        _ => None,
    }
}

fn strip_capture(h: &Hir) -> &Hir {
    match h.kind() {
        HirKind::Capture(c) => strip_capture(&c.sub),
        _ => h,
    }
}

/// `.` without the `s` flag: any character but `\n`.
fn is_any_not_nl(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            let r = c.ranges();
            r.len() == 2
                && r[0].start() == '\0'
                && r[0].end() == '\x09'
                && r[1].start() == '\x0b'
                && r[1].end() == char::MAX
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplifications() {
        assert!(matches!(simplify_regex(".*"), Some(StrTest::True)));
        assert!(matches!(simplify_regex(""), Some(StrTest::True)));
        assert!(matches!(simplify_regex("(.+)"), Some(StrTest::NonEmpty)));
        assert!(matches!(simplify_regex("foo.*"), Some(StrTest::Contains(s)) if s == "foo"));
        assert!(matches!(simplify_regex(".*foo.*"), Some(StrTest::Contains(s)) if s == "foo"));
        assert!(simplify_regex("foo").is_none());
        assert!(simplify_regex("foo|bar").is_none());
        assert!(simplify_regex("(?s).*").is_none());
        assert!(simplify_regex("a.*b").is_none());
        assert!(simplify_regex("(").is_none());
    }

    #[test]
    fn go_float() {
        assert_eq!(parse_go_float("1.5"), Ok(1.5));
        assert_eq!(parse_go_float("-1e3"), Ok(-1000.0));
        assert_eq!(parse_go_float("Inf"), Ok(f64::INFINITY));
        assert_eq!(
            parse_go_float("abc"),
            Err(r#"strconv.ParseFloat: parsing "abc": invalid syntax"#.to_string())
        );
        assert_eq!(
            parse_go_float("1e999"),
            Err(r#"strconv.ParseFloat: parsing "1e999": value out of range"#.to_string())
        );
        assert!(parse_go_float(" 1").is_err());
        assert!(parse_go_float("1_000").is_err());
    }

    #[test]
    fn go_duration_errors() {
        assert_eq!(parse_duration_err("1.5s"), Ok(1_500_000_000));
        assert_eq!(
            parse_duration_err("abc").unwrap_err(),
            r#"time: invalid duration "abc""#
        );
        assert_eq!(
            parse_duration_err("5").unwrap_err(),
            r#"time: missing unit in duration "5""#
        );
        assert_eq!(
            parse_duration_err("1d").unwrap_err(),
            r#"time: unknown unit "d" in duration "1d""#
        );
        assert_eq!(
            parse_duration_err("").unwrap_err(),
            r#"time: invalid duration """#
        );
    }

    #[test]
    fn humanize_errors() {
        assert_eq!(parse_bytes_err("1,024 KB"), Ok(1_024_000));
        assert_eq!(
            parse_bytes_err("big").unwrap_err(),
            r#"strconv.ParseFloat: parsing "": invalid syntax"#
        );
        assert_eq!(
            parse_bytes_err("12 parsecs").unwrap_err(),
            "unhandled size name: parsecs"
        );
        assert_eq!(
            parse_bytes_err("1e30EB").unwrap_err(),
            "unhandled size name: e30eb"
        );
        assert!(parse_bytes_err("99999999999EB")
            .unwrap_err()
            .starts_with("too large"));
    }
}
