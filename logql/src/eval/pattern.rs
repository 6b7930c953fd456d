//! `| pattern "<ip> - <_> [<ts>] ..."` and the pattern line filters `|>` / `!>`.
//!
//! # Semantics notes (verified against Loki v3 `pkg/logql/log/pattern`)
//!
//! - A pattern is literal text and captures `<name>` where `name` matches
//!   `[a-zA-Z_][a-zA-Z0-9_]*`; `<_>` is an unnamed capture; any other `<…>` is literal.
//! - Parser validation: at least one **named** capture (`at least one capture is
//!   required`), no two captures side by side (`found consecutive capture: invalid
//!   expression`), no duplicate names (`duplicate capture name (x): invalid expression`).
//!   Loki only checks captures at even positions for adjacency; we reject every
//!   adjacent pair (Loki itself would fail at match time on those patterns).
//! - Parser matching: a leading literal must match **at the start** of the line
//!   (otherwise nothing is extracted); each capture then runs up to the first occurrence
//!   of the next literal; a pattern ending in a capture gives it the rest of the line;
//!   trailing text after a final literal is ignored. When a literal is not found the
//!   current capture takes the rest of the line and later captures are **not set**.
//!   An empty line extracts nothing. Clashes with stream labels get `_extracted`.
//!   *Difference*: label values are UTF-8 strings here, so invalid UTF-8 in a capture
//!   becomes U+FFFD (Loki keeps the raw bytes).
//! - Filter (`|>`): named captures are rejected (`named captures are not allowed`).
//!   Literals are searched in order; a literal after a capture must not directly follow
//!   the previous match (empty captures do not match); the first literal may be found
//!   anywhere; a pattern ending in a literal requires the line to end there, one ending
//!   in `<_>` requires some text left. An empty line matches only an empty pattern.

use memchr::memmem;

use super::labels::LabelsBuilder;
use super::StageError;

#[derive(Debug, Clone)]
enum Node {
    Literal(Box<memmem::Finder<'static>>),
    Capture(Option<String>),
}

impl Node {
    fn is_capture(&self) -> bool {
        matches!(self, Node::Capture(_))
    }
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    nodes: Vec<Node>,
    names: Vec<String>,
}

fn lex(pattern: &str) -> Vec<Node> {
    let b = pattern.as_bytes();
    let mut nodes = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' {
            let start = i + 1;
            let mut j = start;
            if j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'_') {
                j += 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j < b.len() && b[j] == b'>' {
                    if !lit.is_empty() {
                        nodes.push(Node::Literal(Box::new(
                            memmem::Finder::new(&lit).into_owned(),
                        )));
                        lit.clear();
                    }
                    let name = &pattern[start..j];
                    nodes.push(Node::Capture((name != "_").then(|| name.to_string())));
                    i = j + 1;
                    continue;
                }
            }
        }
        lit.push(b[i]);
        i += 1;
    }
    if !lit.is_empty() {
        nodes.push(Node::Literal(Box::new(
            memmem::Finder::new(&lit).into_owned(),
        )));
    }
    nodes
}

fn check_adjacent(nodes: &[Node]) -> Result<(), StageError> {
    if nodes
        .windows(2)
        .any(|w| w[0].is_capture() && w[1].is_capture())
    {
        return Err(StageError::new(
            "found consecutive capture: invalid expression",
        ));
    }
    Ok(())
}

impl Pattern {
    /// Compiles a pattern for the `| pattern` parser.
    ///
    /// ```
    /// use logjar_logql::eval::pattern::Pattern;
    /// let p = Pattern::new(r#"<ip> - <_> [<ts>] "<method> <path> <_>" <status>"#).unwrap();
    /// let line = br#"10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 512"#;
    /// let caps: Vec<&[u8]> = p.matches(line).into_iter().map(|(_, v)| v).collect();
    /// assert_eq!(caps, vec![&b"10.0.0.1"[..], b"21/Nov/2026:10:00:00 +0000", b"GET", b"/a", b"200 512"]);
    /// assert!(Pattern::new("<_> foo <_>").is_err());
    /// ```
    pub fn new(pattern: &str) -> Result<Self, StageError> {
        let nodes = lex(pattern);
        let names: Vec<String> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Capture(Some(name)) => Some(name.clone()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err(StageError::new("at least one capture is required"));
        }
        check_adjacent(&nodes)?;
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(StageError::new(format!(
                    "duplicate capture name ({n}): invalid expression"
                )));
            }
        }
        Ok(Pattern { nodes, names })
    }

    /// The named captures, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Calls `f(name, value)` for each named capture extracted from `line`.
    pub fn for_each_match<'l>(&self, line: &'l [u8], mut f: impl FnMut(&str, &'l [u8])) {
        if line.is_empty() || self.nodes.is_empty() {
            return;
        }
        let mut input = line;
        let mut nodes = &self.nodes[..];
        if let Node::Literal(lit) = &nodes[0] {
            if !input.starts_with(lit.needle()) {
                return;
            }
            input = &input[lit.needle().len()..];
            nodes = &nodes[1..];
        }
        while let Some(first) = nodes.first() {
            let Node::Capture(name) = first else {
                return; // unreachable for validated patterns
            };
            let Some(Node::Literal(lit)) = nodes.get(1) else {
                if let Some(n) = name {
                    f(n, input);
                }
                return;
            };
            nodes = &nodes[2..];
            match lit.find(input) {
                None => {
                    if let Some(n) = name {
                        f(n, input);
                    }
                    return;
                }
                Some(i) => {
                    if let Some(n) = name {
                        f(n, &input[..i]);
                    }
                    input = &input[i + lit.needle().len()..];
                }
            }
        }
    }

    /// The named captures extracted from `line` as `(name, value)` pairs.
    pub fn matches<'l>(&self, line: &'l [u8]) -> Vec<(&str, &'l [u8])> {
        let mut out = Vec::new();
        let names = &self.names;
        let mut k = 0;
        self.for_each_match(line, |_, v| {
            out.push((names[k].as_str(), v));
            k += 1;
        });
        out
    }

    /// The `| pattern` stage: sets the captures as parsed labels.
    pub fn parse(&self, line: &[u8], labels: &mut LabelsBuilder) {
        let mut value = String::new();
        self.for_each_match(line, |name, v| {
            value.clear();
            value.push_str(&String::from_utf8_lossy(v));
            let key = labels.parsed_name(name).into_owned();
            labels.set_parsed(&key, &value);
        });
    }
}

/// A compiled pattern line filter (`|> "<_> error <_>"`).
#[derive(Debug, Clone)]
pub struct PatternFilter {
    nodes: Vec<Node>,
}

impl PatternFilter {
    /// Compiles a filter pattern: only `<_>` captures are allowed.
    ///
    /// ```
    /// use logjar_logql::eval::pattern::PatternFilter;
    /// let f = PatternFilter::new("<_> error <_>").unwrap();
    /// assert!(f.matches(b"level=x error timeout"));
    /// assert!(!f.matches(b"error timeout"));
    /// assert!(PatternFilter::new("<a> error").is_err());
    /// ```
    pub fn new(pattern: &str) -> Result<Self, StageError> {
        let nodes = lex(pattern);
        check_adjacent(&nodes)?;
        if nodes.iter().any(|n| matches!(n, Node::Capture(Some(_)))) {
            return Err(StageError::new("named captures are not allowed"));
        }
        Ok(PatternFilter { nodes })
    }

    /// True if the line matches the pattern (Loki's `Matcher.Test`).
    pub fn matches(&self, line: &[u8]) -> bool {
        if line.is_empty() || self.nodes.is_empty() {
            return line.is_empty() && self.nodes.is_empty();
        }
        let mut off = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            let Node::Literal(lit) = n else { continue };
            let Some(j) = lit.find(&line[off..]) else {
                return false;
            };
            if i != 0 && j == 0 {
                return false;
            }
            off += j + lit.needle().len();
        }
        let requires_rest = self.nodes.last().is_some_and(Node::is_capture);
        requires_rest == (off != line.len())
    }

    /// The literals of the pattern, for prefiltering.
    pub fn literals(&self) -> impl Iterator<Item = &[u8]> {
        self.nodes.iter().filter_map(|n| match n {
            Node::Literal(l) => Some(l.needle()),
            Node::Capture(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(p: &str, line: &str) -> Vec<(String, String)> {
        Pattern::new(p)
            .unwrap()
            .matches(line.as_bytes())
            .into_iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parser_matches() {
        assert_eq!(caps("<a> <b>", "x y z"), pairs(&[("a", "x"), ("b", "y z")]));
        assert_eq!(caps("foo <a>", "bar foo x"), pairs(&[]));
        assert_eq!(caps("foo <a>", "foo x"), pairs(&[("a", "x")]));
        assert_eq!(caps("<a> end", "x end trailing"), pairs(&[("a", "x")]));
        // a literal not found: the capture takes the rest, later ones are unset
        assert_eq!(caps("<a>:<b>;<c>", "1:2"), pairs(&[("a", "1"), ("b", "2")]));
        assert_eq!(caps("<a>:<b>", ""), pairs(&[]));
        assert_eq!(
            caps("<a> <_> <c>", "1 2 3"),
            pairs(&[("a", "1"), ("c", "3")])
        );
        // `<1x>` and `< a>` are literals
        assert_eq!(caps("<1x><a>", "<1x>v"), pairs(&[("a", "v")]));
        assert_eq!(caps("< a> <b>", "< a> v"), pairs(&[("b", "v")]));
        assert_eq!(
            caps("<a>日本<b>", "x日本y"),
            pairs(&[("a", "x"), ("b", "y")])
        );
    }

    #[test]
    fn parser_validation() {
        assert_eq!(
            Pattern::new("<_> x").unwrap_err().0,
            "at least one capture is required"
        );
        assert_eq!(
            Pattern::new("plain").unwrap_err().0,
            "at least one capture is required"
        );
        assert_eq!(
            Pattern::new("<a><b>").unwrap_err().0,
            "found consecutive capture: invalid expression"
        );
        assert!(Pattern::new("x <a><b>").is_err());
        assert_eq!(
            Pattern::new("<a> <a>").unwrap_err().0,
            "duplicate capture name (a): invalid expression"
        );
    }

    #[test]
    fn parser_sets_labels_with_clash() {
        let p = Pattern::new("<app> <status>").unwrap();
        let mut b = LabelsBuilder::with_stream(&[("app".into(), "s".into())]);
        p.parse(b"api 500", &mut b);
        assert_eq!(b.get("app_extracted"), Some("api"));
        assert_eq!(b.get("status"), Some("500"));
        let mut b = LabelsBuilder::new();
        p.parse(b"a \xff", &mut b);
        assert_eq!(b.get("status"), Some("\u{FFFD}"));
    }

    #[test]
    fn filter() {
        let f = |p: &str, l: &str| PatternFilter::new(p).unwrap().matches(l.as_bytes());
        assert!(f("<_> baz", "foo bar baz"));
        assert!(f("foo <_>", "foo bar baz"));
        assert!(!f("<_> bar", "foo bar baz"));
        assert!(!f("<_> bar <_>", " bar "));
        assert!(f("<_>bar<_>", " bar "));
        assert!(f("", ""));
        assert!(!f("", "x"));
        assert!(!f("<_>", ""));
        assert!(f("<_>", "x"));
        assert!(f("a<_>c", "abc"));
        assert!(!f("a<_>c", "ac"));
        assert!(f("foo <_>", "xx foo bar")); // the first literal may be anywhere
        assert!(PatternFilter::new("<a>").is_err());
        assert!(PatternFilter::new("<_><_>").is_err());
    }
}
