//! Label matchers: `name = "v"`, `name != "v"`, `name =~ "re"`, `name !~ "re"`.
//!
//! Semantics follow Prometheus and Loki:
//! - regexes are RE2 syntax and **fully anchored** (`=~ "api"` does not match `"api-v2"`);
//! - a label that is absent is treated as the empty string, so `{env=""}` matches streams
//!   without `env`, and `{env!=""}` matches only streams that have it.
//!
//! The same type is used by the LogQL AST (stream selectors and string label filters)
//! and by the storage engine's label index, so a matcher means the same thing everywhere.

use std::fmt;

use regex::Regex;

/// The comparison a [`LabelMatcher`] performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    /// `=`: equal to the value.
    Eq,
    /// `!=`: not equal to the value.
    Neq,
    /// `=~`: the whole value matches the regex.
    Re,
    /// `!~`: the whole value does not match the regex.
    Nre,
}

impl MatchOp {
    /// The operator as written in LogQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }

    /// True for `!=` and `!~`.
    pub fn is_negative(self) -> bool {
        matches!(self, MatchOp::Neq | MatchOp::Nre)
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regex {pattern:?} for label {name:?}: {message}")]
pub struct MatcherError {
    /// The label name of the matcher.
    pub name: String,
    /// The regex as written.
    pub pattern: String,
    /// What the regex compiler said.
    pub message: String,
}

/// One label matcher, with its regex compiled once.
///
/// Equality and hashing consider only the name, operator and value text, so two
/// matchers built from the same text are equal.
#[derive(Clone)]
pub struct LabelMatcher {
    name: String,
    op: MatchOp,
    value: String,
    /// Compiled, anchored regex for `=~` / `!~`.
    re: Option<Regex>,
}

impl LabelMatcher {
    /// Builds a matcher; regex operators compile `value` anchored as `^(?:value)$`.
    ///
    /// ```
    /// use logjar_logql::matcher::{LabelMatcher, MatchOp};
    /// let m = LabelMatcher::new("env", MatchOp::Eq, "").unwrap();
    /// assert!(m.matches_opt(None)); // a missing label is the empty string
    /// assert!(LabelMatcher::new("x", MatchOp::Re, "(").is_err());
    /// ```
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::Re | MatchOp::Nre => {
                Some(compile_anchored(&value).map_err(|message| MatcherError {
                    name: name.clone(),
                    pattern: value.clone(),
                    message,
                })?)
            }
            MatchOp::Eq | MatchOp::Neq => None,
        };
        Ok(LabelMatcher {
            name,
            op,
            value,
            re,
        })
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or regex text as written (unescaped).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value matches. Use [`LabelMatcher::matches_opt`] when the label may be absent.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Eq => value == self.value,
            MatchOp::Neq => value != self.value,
            MatchOp::Re => self.re_matches(value),
            MatchOp::Nre => !self.re_matches(value),
        }
    }

    /// Whether a possibly-absent label matches; absent is treated as `""`.
    pub fn matches_opt(&self, value: Option<&str>) -> bool {
        self.matches(value.unwrap_or(""))
    }

    /// Whether this matcher accepts the empty string (and therefore streams lacking the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    fn re_matches(&self, value: &str) -> bool {
        match &self.re {
            Some(re) => re.is_match(value),
            None => false,
        }
    }
}

/// Compiles `pattern` fully anchored, as Prometheus does for label matchers.
fn compile_anchored(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())
}

impl PartialEq for LabelMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for LabelMatcher {}

impl std::hash::Hash for LabelMatcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.op.hash(state);
        self.value.hash(state);
    }
}

impl fmt::Debug for LabelMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

impl fmt::Display for LabelMatcher {
    /// Prints `name op "value"` with the value as a Go-escaped double-quoted string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, self.op)?;
        write_go_quoted(f, &self.value)
    }
}

/// Writes `s` as a double-quoted Go string literal (`"a\"b\n"`), the form LogQL's
/// printer uses for every string.
pub fn write_go_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{07}' => f.write_str("\\a")?,
            '\u{08}' => f.write_str("\\b")?,
            '\u{0C}' => f.write_str("\\f")?,
            '\u{0B}' => f.write_str("\\v")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_fully_anchored() {
        let m = LabelMatcher::new("app", MatchOp::Re, "api").unwrap();
        assert!(m.matches("api"));
        assert!(!m.matches("xapi"));
        assert!(!m.matches("api2"));
        let n = LabelMatcher::new("app", MatchOp::Nre, "a|b").unwrap();
        assert!(n.matches("ab"));
        assert!(!n.matches("a"));
    }

    #[test]
    fn empty_value_matches_missing_label() {
        let eq = LabelMatcher::new("env", MatchOp::Eq, "").unwrap();
        assert!(eq.matches_opt(None));
        assert!(!eq.matches_opt(Some("prod")));
        let ne = LabelMatcher::new("env", MatchOp::Neq, "").unwrap();
        assert!(!ne.matches_opt(None));
        assert!(ne.matches_opt(Some("prod")));
        let re = LabelMatcher::new("env", MatchOp::Re, ".*").unwrap();
        assert!(re.matches_empty());
        let re_plus = LabelMatcher::new("env", MatchOp::Re, ".+").unwrap();
        assert!(!re_plus.matches_empty());
    }

    #[test]
    fn bad_regex_is_an_error_naming_the_label() {
        let e = LabelMatcher::new("app", MatchOp::Re, "(").unwrap_err();
        assert_eq!(e.name, "app");
        assert!(e.to_string().contains("app"));
    }

    #[test]
    fn display_quotes_like_go() {
        let m = LabelMatcher::new("a", MatchOp::Neq, "x\"y\\z\n").unwrap();
        assert_eq!(m.to_string(), r#"a!="x\"y\\z\n""#);
    }
}
