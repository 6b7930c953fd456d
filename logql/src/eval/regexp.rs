//! `| regexp "(?P<name>re)"`: named capture groups become labels.
//!
//! # Semantics notes (verified against Loki v3 `parser.go`, `NewRegexpParser`)
//!
//! - The regex is not anchored; the first match is used.
//! - At least one **named** group is required (`at least one named capture must be
//!   supplied`); unnamed groups are ignored; names must be valid label names
//!   (`invalid extracted label name 'x'`); duplicates are rejected.
//! - No match: nothing is extracted and no error is set (the line is kept).
//! - A named group that did not take part in the match is set to `""`.
//! - A name that clashes with a stream label becomes `<name>_extracted`.
//! - *Differences*: regexes are compiled by Rust's `regex` crate (RE2 syntax like Go's,
//!   with `(?P<n>…)` and `(?<n>…)`); error messages for invalid syntax are the crate's.
//!   Invalid UTF-8 in a line never matches `.` (Go would match it as U+FFFD); captured
//!   invalid bytes become U+FFFD in the label value.

use regex::bytes::Regex;

use super::labels::{is_valid_label_name, LabelsBuilder};
use super::StageError;

/// The `| regexp` stage.
#[derive(Debug, Clone)]
pub struct RegexpParser {
    re: Regex,
    /// `(group index, name)` of the named groups.
    names: Vec<(usize, String)>,
    locs: regex::bytes::CaptureLocations,
}

impl RegexpParser {
    /// Compiles the expression and validates its named groups.
    ///
    /// ```
    /// use logjar_logql::eval::regexp::RegexpParser;
    /// use logjar_logql::eval::LabelsBuilder;
    /// let mut p = RegexpParser::new(r"(?P<method>\w+) (?P<path>\S+)").unwrap();
    /// let mut labels = LabelsBuilder::new();
    /// p.parse(b"GET /api/v1 200", &mut labels);
    /// assert_eq!(labels.get("path"), Some("/api/v1"));
    /// assert!(RegexpParser::new(r"(\w+)").is_err());
    /// ```
    pub fn new(expr: &str) -> Result<Self, StageError> {
        let re = Regex::new(expr).map_err(|e| StageError::new(e.to_string()))?;
        let mut names = Vec::new();
        for (i, name) in re.capture_names().enumerate() {
            let Some(name) = name else { continue };
            if !is_valid_label_name(name) {
                return Err(StageError::new(format!(
                    "invalid extracted label name '{name}'"
                )));
            }
            if names.iter().any(|(_, n)| n == name) {
                return Err(StageError::new(format!(
                    "duplicate extracted label name '{name}'"
                )));
            }
            names.push((i, name.to_string()));
        }
        if names.is_empty() {
            return Err(StageError::new(
                "at least one named capture must be supplied",
            ));
        }
        let locs = re.capture_locations();
        Ok(RegexpParser { re, names, locs })
    }

    /// Extracts the named groups of the first match into `labels`.
    pub fn parse(&mut self, line: &[u8], labels: &mut LabelsBuilder) {
        if self.re.captures_read(&mut self.locs, line).is_none() {
            return;
        }
        for (i, name) in &self.names {
            let value = match self.locs.get(*i) {
                Some((s, e)) => String::from_utf8_lossy(&line[s..e]),
                None => "".into(),
            };
            let key = labels.parsed_name(name).into_owned();
            labels.set_parsed(&key, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_named_groups() {
        let mut p = RegexpParser::new(r"(?P<a>\d+)-(\w+)(?:-(?P<opt>x))?(?<app>z)?").unwrap();
        let mut b = LabelsBuilder::with_stream(&[("app".into(), "s".into())]);
        p.parse(b"id 42-foo", &mut b);
        assert_eq!(
            b.to_vec(),
            vec![
                ("a".to_string(), "42".to_string()),
                ("app".into(), "s".into()),
                ("app_extracted".into(), "".into()),
                ("opt".into(), "".into())
            ]
        );
    }

    #[test]
    fn no_match_no_error() {
        let mut p = RegexpParser::new(r"(?P<a>\d+)").unwrap();
        let mut b = LabelsBuilder::new();
        p.parse(b"no digits \xff", &mut b);
        assert!(b.is_unchanged());
    }

    #[test]
    fn validation() {
        assert_eq!(
            RegexpParser::new("(a)").unwrap_err().0,
            "at least one named capture must be supplied"
        );
        assert_eq!(
            RegexpParser::new("abc").unwrap_err().0,
            "at least one named capture must be supplied"
        );
        assert!(RegexpParser::new("(?P<a>x").is_err());
        assert!(RegexpParser::new("(?P<1a>x)").is_err());
        assert!(RegexpParser::new("(?P<a>x)(?P<a>y)").is_err());
        assert_eq!(
            RegexpParser::new("(?P<a.b>x)").unwrap_err().0,
            "invalid extracted label name 'a.b'"
        );
    }
}
