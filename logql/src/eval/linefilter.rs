//! Line filters: `|= "a"`, `!= "a"`, `|~ "re"`, `!~ "re"`, `or` chains, the pattern
//! filters `|>` / `!>`, and `|= ip("…")` / `!= ip("…")`.
//!
//! # Semantics notes (verified against Loki v3 `filter.go`, `ip.go`, `pattern.go`)
//!
//! - `|= "a" or "b"` keeps lines containing any of the strings; `!= "a" or "b"` keeps
//!   lines containing **none** of them (`not(a or b) = not a and not b`). The same holds
//!   for `|~`/`!~`, `|>`/`!>` and `ip()` chains.
//! - `|= ""` keeps every line; `!= ""` drops every line (Loki: not(TrueFilter)).
//! - Regexes are RE2 syntax and **not anchored**. Lines are bytes and may be invalid
//!   UTF-8; a contains filter compares bytes.
//! - Speed: contains uses a prebuilt `memchr::memmem::Finder`; a regex that is a plain
//!   literal (checked with `regex-syntax`) becomes a contains filter; other regexes use
//!   `regex::bytes`, whose literal prefilters (including case-insensitive alternations
//!   such as `(?i)timeout|refused`, searched with Teddy/Aho–Corasick) skip most of the
//!   line before the regex engine runs. No filter allocates per line.
//! - Storage can search a whole block of lines at once for what every kept line must
//!   hold: [`LineFilter::required_literal`], else [`LineFilter::required_regex`] (a
//!   regex [`block_searchable`] over lines joined end to end); the filters then test
//!   only the lines that search picked.

use memchr::memmem::Finder;
use regex::bytes::Regex;
use regex_syntax::hir::{Hir, HirKind};

use super::ip::IpMatcher;
use super::pattern::PatternFilter;
use super::StageError;

/// One compiled line filter (possibly an `or` chain of alternatives).
#[derive(Debug, Clone)]
pub struct LineFilter {
    negated: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Matches every line (an empty needle or empty regex among the alternatives).
    Always,
    Contains(Vec<Finder<'static>>),
    /// `searchable`: one regex, [`block_searchable`].
    Regex {
        res: Vec<Regex>,
        searchable: bool,
    },
    Pattern(Vec<PatternFilter>),
    Ip(Vec<IpMatcher>),
    /// An `or` chain mixing kinds (`|= "a" or ip("…")`).
    Any(Vec<LineFilter>),
}

/// The syntax tree of a regex, as the byte-oriented regexes of line filters read it.
fn regex_hir(expr: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(expr)
        .ok()
}

fn literal_of(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(l) => Some(l.0.to_vec()),
        HirKind::Capture(c) => literal_of(&c.sub),
        HirKind::Concat(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(literal_of(p)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// Longest match a block-searchable regex may have (see [`block_searchable`]).
const MAX_BLOCK_MATCH: usize = 256;

/// Whether `re` may be searched over lines concatenated without separators.
///
/// Correctness: for every line the regex matches on its own, such a search must find a
/// match ending in that line or in an earlier one (so a search that restarts after the
/// line where each match ends misses no matching line). That holds when the regex has
/// no assertions (`^`, `$`, `\b`, `\B`, …), which would see a neighbour line's bytes,
/// and cannot match the empty string, which an empty line matches without holding a
/// byte of the concatenation.
///
/// Speed: matches are also at most 256 bytes long, so a search never runs on across
/// many lines: `err.*timeout` over joined lines would scan from each `err` to the next
/// `timeout`, wherever it is, and pick lines that do not match.
pub fn block_searchable(re: &Regex) -> bool {
    regex_hir(re.as_str()).is_some_and(|hir| hir_block_searchable(&hir))
}

fn hir_block_searchable(hir: &Hir) -> bool {
    let props = hir.properties();
    props.look_set().is_empty()
        && props.minimum_len().is_some_and(|n| n > 0)
        && props.maximum_len().is_some_and(|n| n <= MAX_BLOCK_MATCH)
}

impl LineFilter {
    /// `|= "a" or "b"`: the line contains any of the strings.
    pub fn contains<S: AsRef<[u8]>>(needles: &[S]) -> Self {
        Self::contains_kind(needles, false)
    }

    /// `!= "a" or "b"`: the line contains none of the strings.
    pub fn not_contains<S: AsRef<[u8]>>(needles: &[S]) -> Self {
        Self::contains_kind(needles, true)
    }

    fn contains_kind<S: AsRef<[u8]>>(needles: &[S], negated: bool) -> Self {
        let kind = if needles.is_empty() || needles.iter().any(|n| n.as_ref().is_empty()) {
            Kind::Always
        } else {
            Kind::Contains(
                needles
                    .iter()
                    .map(|n| Finder::new(n.as_ref()).into_owned())
                    .collect(),
            )
        };
        LineFilter { negated, kind }
    }

    /// `|~ "re" or "re2"`: any regex matches somewhere in the line.
    ///
    /// ```
    /// use logjar_logql::eval::linefilter::LineFilter;
    /// let f = LineFilter::regex(&["(?i)timeout|refused"]).unwrap();
    /// assert!(f.matches(b"connection REFUSED by peer"));
    /// assert!(!f.matches(b"all good"));
    /// ```
    pub fn regex<S: AsRef<str>>(exprs: &[S]) -> Result<Self, StageError> {
        Self::regex_kind(exprs, false)
    }

    /// `!~ "re" or "re2"`: no regex matches.
    pub fn not_regex<S: AsRef<str>>(exprs: &[S]) -> Result<Self, StageError> {
        Self::regex_kind(exprs, true)
    }

    fn regex_kind<S: AsRef<str>>(exprs: &[S], negated: bool) -> Result<Self, StageError> {
        let mut literals = Vec::new();
        let mut regexes = Vec::new();
        let mut searchable = false;
        for e in exprs {
            let e = e.as_ref();
            let re = Regex::new(e).map_err(|err| StageError::new(err.to_string()))?;
            let hir = regex_hir(e);
            match hir.as_ref().and_then(literal_of) {
                Some(lit) => literals.push(lit),
                None => {
                    searchable = hir.as_ref().is_some_and(hir_block_searchable);
                    regexes.push(re);
                }
            }
        }
        if exprs.is_empty() || literals.iter().any(Vec::is_empty) {
            return Ok(LineFilter {
                negated,
                kind: Kind::Always,
            });
        }
        let kind = if regexes.is_empty() {
            Kind::Contains(
                literals
                    .iter()
                    .map(|l| Finder::new(l).into_owned())
                    .collect(),
            )
        } else {
            // Mixed chains: fold literals back into regexes so one kind is checked.
            for l in literals {
                let s = String::from_utf8_lossy(&l).into_owned();
                regexes.push(
                    Regex::new(&regex::escape(&s))
                        .map_err(|err| StageError::new(err.to_string()))?,
                );
            }
            Kind::Regex {
                searchable: searchable && regexes.len() == 1,
                res: regexes,
            }
        };
        Ok(LineFilter { negated, kind })
    }

    /// `|> "<_> error <_>" or "…"`: any pattern matches.
    pub fn pattern<S: AsRef<str>>(patterns: &[S]) -> Result<Self, StageError> {
        Self::pattern_kind(patterns, false)
    }

    /// `!> "…"`: no pattern matches.
    pub fn not_pattern<S: AsRef<str>>(patterns: &[S]) -> Result<Self, StageError> {
        Self::pattern_kind(patterns, true)
    }

    fn pattern_kind<S: AsRef<str>>(patterns: &[S], negated: bool) -> Result<Self, StageError> {
        let ps = patterns
            .iter()
            .map(|p| PatternFilter::new(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LineFilter {
            negated,
            kind: Kind::Pattern(ps),
        })
    }

    /// `|= ip("…") or ip("…")`: an address in range appears in the line.
    pub fn ip<S: AsRef<str>>(patterns: &[S]) -> Result<Self, StageError> {
        Self::ip_kind(patterns, false)
    }

    /// `!= ip("…")`: no address in range appears in the line.
    pub fn not_ip<S: AsRef<str>>(patterns: &[S]) -> Result<Self, StageError> {
        Self::ip_kind(patterns, true)
    }

    fn ip_kind<S: AsRef<str>>(patterns: &[S], negated: bool) -> Result<Self, StageError> {
        let ms = patterns
            .iter()
            .map(|p| IpMatcher::new(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LineFilter {
            negated,
            kind: Kind::Ip(ms),
        })
    }

    /// An `or` chain of positive filters of any kinds: passes if one of them passes
    /// (`|= "a" or ip("10.0.0.0/8")`). Build it from non-negated filters.
    pub fn any_of(filters: Vec<LineFilter>) -> Self {
        LineFilter {
            negated: false,
            kind: Kind::Any(filters),
        }
    }

    /// The negation of an `or` chain: passes if none of the filters passes
    /// (`!= "a" or ip("…")` = contains neither). Build it from non-negated filters.
    pub fn none_of(filters: Vec<LineFilter>) -> Self {
        LineFilter {
            negated: true,
            kind: Kind::Any(filters),
        }
    }

    /// True if the line passes the filter.
    #[inline]
    pub fn matches(&self, line: &[u8]) -> bool {
        let any = match &self.kind {
            Kind::Always => true,
            Kind::Contains(fs) => fs.iter().any(|f| f.find(line).is_some()),
            Kind::Regex { res, .. } => res.iter().any(|r| r.is_match(line)),
            Kind::Pattern(ps) => ps.iter().any(|p| p.matches(line)),
            Kind::Ip(ms) => ms.iter().any(|m| m.matches_in(line)),
            Kind::Any(fs) => fs.iter().any(|f| f.matches(line)),
        };
        any != self.negated
    }

    /// True for `!=`, `!~`, `!>` filters.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// A regex every matching line must match, if this filter is a positive `|~` with
    /// one alternative that can be searched for over many lines joined end to end (see
    /// [`block_searchable`]). Filters with a literal give [`Self::required_literal`]
    /// instead.
    ///
    /// ```
    /// use logjar_logql::eval::linefilter::LineFilter;
    /// assert!(LineFilter::regex(&["(?i)timeout|refused"]).unwrap().required_regex().is_some());
    /// assert!(LineFilter::regex(&["^GET"]).unwrap().required_regex().is_none()); // anchored
    /// assert!(LineFilter::not_regex(&["err.r"]).unwrap().required_regex().is_none());
    /// ```
    pub fn required_regex(&self) -> Option<&Regex> {
        match &self.kind {
            Kind::Regex {
                res,
                searchable: true,
            } if !self.negated => res.first(),
            _ => None,
        }
    }

    /// A byte string every matching line must contain, if this filter has one: the
    /// storage layer may skip blocks that do not contain it. Only positive filters
    /// with a single alternative give one (a literal, a literal regex, or the longest
    /// literal of a pattern).
    pub fn required_literal(&self) -> Option<&[u8]> {
        if self.negated {
            return None;
        }
        match &self.kind {
            Kind::Contains(fs) if fs.len() == 1 => Some(fs[0].needle()),
            Kind::Pattern(ps) if ps.len() == 1 => ps[0].literals().max_by_key(|l| l.len()),
            _ => None,
        }
    }
}

/// Runs a chain of filters (all must pass), cheapest first is the caller's choice.
pub fn matches_all(filters: &[LineFilter], line: &[u8]) -> bool {
    filters.iter().all(|f| f.matches(line))
}

/// The longest literal required by any filter of a chain (see
/// [`LineFilter::required_literal`]).
pub fn required_literal(filters: &[LineFilter]) -> Option<&[u8]> {
    filters
        .iter()
        .filter_map(LineFilter::required_literal)
        .max_by_key(|l| l.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_chains() {
        let f = LineFilter::contains(&["error", "warn"]);
        assert!(f.matches(b"an error"));
        assert!(f.matches(b"warn: x"));
        assert!(!f.matches(b"info"));
        let n = LineFilter::not_contains(&["error", "warn"]);
        assert!(!n.matches(b"an error"));
        assert!(!n.matches(b"warn"));
        assert!(n.matches(b"info"));
        assert!(LineFilter::contains(&[""]).matches(b"x"));
        assert!(!LineFilter::not_contains(&[""]).matches(b"x"));
        assert!(LineFilter::contains(&["成功"]).matches("处理成功".as_bytes()));
        assert!(LineFilter::contains(&[&b"\xff"[..]]).matches(b"a\xffb"));
    }

    #[test]
    fn regex_filters() {
        let f = LineFilter::regex(&["(?i)timeout|refused"]).unwrap();
        assert!(f.matches(b"Connection Timeout"));
        assert!(f.matches(b"REFUSED \xff"));
        assert!(!f.matches(b"ok"));
        let lit = LineFilter::regex(&["abc"]).unwrap();
        assert!(matches!(lit.kind, Kind::Contains(_)));
        assert!(lit.matches(b"xxabcxx"));
        let not = LineFilter::not_regex(&["err(or)?", "fail"]).unwrap();
        assert!(!not.matches(b"an err"));
        assert!(!not.matches(b"fail"));
        assert!(not.matches(b"fine"));
        assert!(LineFilter::regex(&[""]).unwrap().matches(b"x"));
        assert!(LineFilter::regex(&["("]).is_err());
        // not anchored
        assert!(LineFilter::regex(&["^a.c$"]).unwrap().matches(b"abc"));
        assert!(!LineFilter::regex(&["^a.c$"]).unwrap().matches(b"xabc"));
        let mixed = LineFilter::regex(&["a.b", "lit"]).unwrap();
        assert!(mixed.matches(b"a lit"));
        assert!(mixed.matches(b"axb"));
    }

    #[test]
    fn required_regexes_are_searchable_over_joined_lines() {
        let req = |e: &str| {
            LineFilter::regex(&[e])
                .unwrap()
                .required_regex()
                .map(|r| r.as_str().to_string())
        };
        assert_eq!(
            req("(?i)timeout|refused").as_deref(),
            Some("(?i)timeout|refused")
        );
        assert_eq!(req("status=5[0-9]{2}").as_deref(), Some("status=5[0-9]{2}"));
        // unbounded matches could run on across many joined lines
        assert_eq!(req("err.*x"), None);
        assert_eq!(req("[a-z]+ing"), None);
        // literal regexes become contains filters, which give a required literal
        assert_eq!(req("abc"), None);
        // assertions and empty matches are not searchable over joined lines
        for e in ["^a.c", "a.c$", r"\bword", r"x\B", "a*", "(?:x|)", ""] {
            assert_eq!(req(e), None, "{e}");
        }
        assert!(LineFilter::regex(&["a.c", "d.f"])
            .unwrap()
            .required_regex()
            .is_none());
        assert!(LineFilter::not_regex(&["a.c"])
            .unwrap()
            .required_regex()
            .is_none());
    }

    #[test]
    fn pattern_and_ip_filters() {
        let p = LineFilter::pattern(&["<_> error <_>"]).unwrap();
        assert!(p.matches(b"x error y"));
        assert!(!LineFilter::not_pattern(&["<_> error <_>"])
            .unwrap()
            .matches(b"x error y"));
        assert!(LineFilter::pattern(&["<a>"]).is_err());
        let ip = LineFilter::ip(&["10.0.0.0/8"]).unwrap();
        assert!(ip.matches(b"from 10.1.2.3"));
        assert!(!ip.matches(b"from 11.1.2.3"));
        assert!(LineFilter::not_ip(&["10.0.0.0/8"])
            .unwrap()
            .matches(b"from 11.1.2.3"));
        assert!(LineFilter::ip(&["nope"]).is_err());
        let mixed = || {
            vec![
                LineFilter::contains(&["boom"]),
                LineFilter::ip(&["10.0.0.0/8"]).unwrap(),
            ]
        };
        assert!(LineFilter::any_of(mixed()).matches(b"from 10.0.0.1"));
        assert!(LineFilter::any_of(mixed()).matches(b"boom"));
        assert!(!LineFilter::any_of(mixed()).matches(b"calm"));
        assert!(LineFilter::none_of(mixed()).matches(b"calm"));
        assert!(!LineFilter::none_of(mixed()).matches(b"boom"));
    }

    #[test]
    fn literals_for_storage() {
        let chain = vec![
            LineFilter::contains(&["error"]),
            LineFilter::pattern(&["<_> connection refused <_>"]).unwrap(),
            LineFilter::not_contains(&["debug-something-long"]),
        ];
        assert_eq!(required_literal(&chain), Some(&b" connection refused "[..]));
        assert!(matches_all(&chain, b"x error connection refused y"));
        assert_eq!(LineFilter::contains(&["a", "b"]).required_literal(), None);
    }
}
