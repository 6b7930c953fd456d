//! The in-memory inverted label index of one tenant.
//!
//! Every stream of a tenant has a dense `u32` id (0, 1, 2, … in creation order); ids
//! are persisted in the tenant's index file, so they are stable across restarts. The
//! index maps `name → value → RoaringBitmap of stream ids` and resolves label matchers
//! with Prometheus/Loki semantics:
//!
//! - a matcher that does **not** match the empty string keeps only the streams having
//!   the label with a matching value (union of the matching values' postings);
//! - a matcher that **does** match the empty string also keeps streams lacking the
//!   label: it removes the streams whose value does *not* match;
//! - all matchers are intersected.
//!
//! The index only grows (streams are never renumbered), so a reader that remembers how
//! many streams existed when it took its snapshot (`bound`) sees a stable view while
//! writers add streams.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use roaring::{MultiOps, RoaringBitmap};

use crate::labels::Labels;
use crate::{LabelMatcher, MatchOp};

/// A stream known to the index.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    /// The stream's labels.
    pub labels: Labels,
    /// `labels.fingerprint()`, cached.
    pub fingerprint: u64,
}

/// Inverted index of one tenant's streams.
///
/// ```
/// use logjar::index::LabelIndex;
/// use logjar::{LabelMatcher, Labels, MatchOp};
///
/// let mut ix = LabelIndex::new();
/// let a = ix.get_or_insert(&Labels::new([("app", "api"), ("env", "prod")]).unwrap());
/// let b = ix.get_or_insert(&Labels::new([("app", "web")]).unwrap());
/// assert_eq!((a, b), (0, 1));
/// let env_empty = LabelMatcher::new("env", MatchOp::Eq, "").unwrap();
/// let ids: Vec<u32> = ix.select(&[env_empty], ix.len()).iter().collect();
/// assert_eq!(ids, vec![b]); // {env=""} matches streams without `env`
/// ```
#[derive(Debug, Default, Clone)]
pub struct LabelIndex {
    streams: Vec<StreamInfo>,
    by_fingerprint: HashMap<u64, Vec<u32>>,
    postings: BTreeMap<String, BTreeMap<String, RoaringBitmap>>,
}

impl LabelIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of streams; also the id the next new stream gets.
    pub fn len(&self) -> u32 {
        u32::try_from(self.streams.len()).unwrap_or(u32::MAX)
    }

    /// True when the index holds no stream.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The stream with id `id`.
    pub fn get(&self, id: u32) -> Option<&StreamInfo> {
        self.streams.get(id as usize)
    }

    /// The labels of stream `id`.
    pub fn labels(&self, id: u32) -> Option<&Labels> {
        self.get(id).map(|s| &s.labels)
    }

    /// The id of the stream with exactly these labels, if it exists.
    pub fn lookup(&self, labels: &Labels) -> Option<u32> {
        self.lookup_fp(labels, labels.fingerprint())
    }

    fn lookup_fp(&self, labels: &Labels, fp: u64) -> Option<u32> {
        self.by_fingerprint
            .get(&fp)?
            .iter()
            .copied()
            .find(|&id| self.streams[id as usize].labels == *labels)
    }

    /// The id of the stream with these labels, creating it (with the next id) if new.
    pub fn get_or_insert(&mut self, labels: &Labels) -> u32 {
        let fp = labels.fingerprint();
        if let Some(id) = self.lookup_fp(labels, fp) {
            return id;
        }
        let id = self.len();
        for (n, v) in labels.iter() {
            self.postings
                .entry(n.to_owned())
                .or_default()
                .entry(v.to_owned())
                .or_default()
                .insert(id);
        }
        self.by_fingerprint.entry(fp).or_default().push(id);
        self.streams.push(StreamInfo {
            labels: labels.clone(),
            fingerprint: fp,
        });
        id
    }

    /// The ids `< bound` of the streams matching every matcher (no matcher: all).
    pub fn select(&self, matchers: &[LabelMatcher], bound: u32) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        out.insert_range(0..bound.min(self.len()));
        for m in matchers {
            if out.is_empty() {
                break;
            }
            let values = self.postings.get(m.name());
            if m.matches_empty() {
                // Keep streams lacking the label; remove those whose value fails.
                if let Some(values) = values {
                    match m.op() {
                        MatchOp::Neq => {
                            if let Some(b) = values.get(m.value()) {
                                out -= b;
                            }
                        }
                        _ => {
                            for (v, b) in values {
                                if !m.matches(v) {
                                    out -= b;
                                }
                            }
                        }
                    }
                }
            } else {
                let keep: RoaringBitmap = match values {
                    None => RoaringBitmap::new(),
                    Some(values) => match m.op() {
                        MatchOp::Eq => values.get(m.value()).cloned().unwrap_or_default(),
                        MatchOp::Re => match regex_shape(m.value()) {
                            RegexShape::Literals(lits) => {
                                lits.iter().filter_map(|l| values.get(*l)).union()
                            }
                            RegexShape::Prefix(prefix) => {
                                // `prefix.*` accepts every value with the prefix
                                // (`.` does not match a newline: those are tested).
                                let all = m.value().len() == prefix.len() + 2
                                    && m.value().ends_with(".*");
                                values
                                    .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                                    .take_while(|(v, _)| v.starts_with(prefix))
                                    .filter(|(v, _)| (all && !v.contains('\n')) || m.matches(v))
                                    .map(|(_, b)| b)
                                    .union()
                            }
                            RegexShape::Other => values
                                .iter()
                                .filter(|(v, _)| m.matches(v))
                                .map(|(_, b)| b)
                                .union(),
                        },
                        _ => values
                            .iter()
                            .filter(|(v, _)| m.matches(v))
                            .map(|(_, b)| b)
                            .union(),
                    },
                };
                out &= keep;
            }
        }
        out
    }

    /// Appends a stream without labels, to keep ids dense when an index is rebuilt
    /// and some id is unknown. It has no postings, so no matcher that needs a label
    /// selects it, and it holds no data.
    pub fn push_placeholder(&mut self) -> u32 {
        let labels = Labels::default();
        let fingerprint = labels.fingerprint();
        self.streams.push(StreamInfo {
            labels,
            fingerprint,
        });
        self.len() - 1
    }

    /// Sorted label names used by any stream in `ids`.
    pub fn label_names(&self, ids: &RoaringBitmap) -> Vec<String> {
        self.postings
            .iter()
            .filter(|(_, values)| values.values().any(|b| !b.is_disjoint(ids)))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Sorted values of label `name` among the streams in `ids`.
    pub fn label_values(&self, name: &str, ids: &RoaringBitmap) -> Vec<String> {
        self.postings
            .get(name)
            .map(|values| {
                values
                    .iter()
                    .filter(|(_, b)| !b.is_disjoint(ids))
                    .map(|(v, _)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All streams in id order.
    pub fn streams(&self) -> &[StreamInfo] {
        &self.streams
    }

    /// The postings lists, sorted by name then value (the index file's content).
    pub fn postings(&self) -> &BTreeMap<String, BTreeMap<String, RoaringBitmap>> {
        &self.postings
    }
}

/// What a regex matcher's pattern allows the index to skip.
#[derive(Debug, PartialEq)]
enum RegexShape<'a> {
    /// `a|b|c` of plain literals: look the values up.
    Literals(Vec<&'a str>),
    /// Every match starts with this literal: scan only that key range.
    Prefix(&'a str),
    /// Test every value.
    Other,
}

/// Classifies an (anchored) regex pattern conservatively.
fn regex_shape(pattern: &str) -> RegexShape<'_> {
    const META: &[char] = &[
        '.', '[', ']', '(', ')', '{', '}', '*', '+', '?', '|', '^', '$', '\\',
    ];
    if pattern
        .split('|')
        .all(|p| !p.is_empty() && !p.contains(META))
    {
        return RegexShape::Literals(pattern.split('|').collect());
    }
    if pattern.contains('|') {
        return RegexShape::Other;
    }
    let end = pattern.find(META).unwrap_or(pattern.len());
    let mut prefix = &pattern[..end];
    // A quantifier after the literal applies to its last character.
    if pattern[end..].starts_with(['*', '?', '{', '+']) {
        let cut = prefix.char_indices().last().map_or(0, |(i, _)| i);
        prefix = &prefix[..cut];
    }
    if prefix.is_empty() {
        RegexShape::Other
    } else {
        RegexShape::Prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied()).unwrap()
    }

    fn m(name: &str, op: MatchOp, v: &str) -> LabelMatcher {
        LabelMatcher::new(name, op, v).unwrap()
    }

    fn ids(b: RoaringBitmap) -> Vec<u32> {
        b.iter().collect()
    }

    #[test]
    fn ids_are_dense_and_stable() {
        let mut ix = LabelIndex::new();
        assert_eq!(ix.get_or_insert(&l(&[("a", "1")])), 0);
        assert_eq!(ix.get_or_insert(&l(&[("a", "2")])), 1);
        assert_eq!(ix.get_or_insert(&l(&[("a", "1")])), 0);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.lookup(&l(&[("a", "2")])), Some(1));
        assert_eq!(ix.lookup(&l(&[("a", "3")])), None);
    }

    #[test]
    fn matcher_semantics() {
        let mut ix = LabelIndex::new();
        ix.get_or_insert(&l(&[("app", "api"), ("env", "prod")])); // 0
        ix.get_or_insert(&l(&[("app", "api-v2"), ("env", "dev")])); // 1
        ix.get_or_insert(&l(&[("app", "web")])); // 2
        let n = ix.len();
        assert_eq!(ids(ix.select(&[m("app", MatchOp::Eq, "api")], n)), [0]);
        assert_eq!(ids(ix.select(&[m("app", MatchOp::Re, "api")], n)), [0]);
        assert_eq!(ids(ix.select(&[m("app", MatchOp::Re, "api.*")], n)), [0, 1]);
        assert_eq!(ids(ix.select(&[m("env", MatchOp::Neq, "prod")], n)), [1, 2]);
        assert_eq!(ids(ix.select(&[m("env", MatchOp::Neq, "")], n)), [0, 1]);
        assert_eq!(ids(ix.select(&[m("env", MatchOp::Nre, "p.*")], n)), [1, 2]);
        assert_eq!(ids(ix.select(&[m("env", MatchOp::Re, "|dev")], n)), [1, 2]);
        assert_eq!(
            ids(ix.select(&[m("nope", MatchOp::Eq, "x")], n)),
            [] as [u32; 0]
        );
        assert_eq!(ids(ix.select(&[], n)), [0, 1, 2]);
        // The bound hides streams created after a snapshot.
        assert_eq!(ids(ix.select(&[], 2)), [0, 1]);
        let all = ix.select(&[], n);
        assert_eq!(ix.label_names(&all), ["app", "env"]);
        assert_eq!(ix.label_values("env", &all), ["dev", "prod"]);
        let only_web = ix.select(&[m("app", MatchOp::Eq, "web")], n);
        assert_eq!(ix.label_names(&only_web), ["app"]);
    }

    #[test]
    fn prefix_regex_keeps_regex_semantics() {
        let mut ix = LabelIndex::new();
        ix.get_or_insert(&l(&[("app", "api-1")]));
        ix.get_or_insert(&l(&[("app", "api\nx")])); // `.` does not match a newline
        ix.get_or_insert(&l(&[("app", "apx")]));
        let n = ix.len();
        assert_eq!(ids(ix.select(&[m("app", MatchOp::Re, "api.*")], n)), [0]);
        assert_eq!(ids(ix.select(&[m("app", MatchOp::Re, "api\n.*")], n)), [1]);
        assert_eq!(ids(ix.select(&[m("app", MatchOp::Re, "ap.")], n)), [2]);
    }

    #[test]
    fn regex_shapes() {
        assert_eq!(regex_shape("a|bc"), RegexShape::Literals(vec!["a", "bc"]));
        assert_eq!(regex_shape("api"), RegexShape::Literals(vec!["api"]));
        assert_eq!(regex_shape("pod-1.*"), RegexShape::Prefix("pod-1"));
        assert_eq!(regex_shape("pod-1*"), RegexShape::Prefix("pod-"));
        assert_eq!(regex_shape("a*"), RegexShape::Other);
        assert_eq!(regex_shape("a.*|b"), RegexShape::Other);
        assert_eq!(regex_shape("(?i)api"), RegexShape::Other);
        assert_eq!(regex_shape("a|"), RegexShape::Other);
    }

    proptest! {
        #[test]
        fn select_equals_brute_force(
            sets in proptest::collection::vec(
                proptest::collection::btree_map("[abc]", "[xyz]{0,2}", 1..3), 1..20),
            ms in proptest::collection::vec(("[abcd]", 0..4u8, "[xyz]{0,2}|[xyz]\\*|\\.\\*|[xyz]{1,2}\\|[xyz]|[xyz][xyz]?\\.\\*|[xyz]{1,2}[*+?]"), 0..3),
        ) {
            let mut ix = LabelIndex::new();
            let mut all = Vec::new();
            for s in &sets {
                if let Ok(ls) = Labels::new(s.iter().map(|(a, b)| (a.as_str(), b.as_str()))) {
                    ix.get_or_insert(&ls);
                    if !all.contains(&ls) { all.push(ls); }
                }
            }
            let ops = [MatchOp::Eq, MatchOp::Neq, MatchOp::Re, MatchOp::Nre];
            let matchers: Vec<LabelMatcher> = ms
                .iter()
                .filter_map(|(n, op, v)| LabelMatcher::new(n.as_str(), ops[*op as usize], v.as_str()).ok())
                .collect();
            let got = ids(ix.select(&matchers, ix.len()));
            let want: Vec<u32> = all
                .iter()
                .filter(|ls| matchers.iter().all(|m| m.matches_opt(ls.get(m.name()))))
                .map(|ls| ix.lookup(ls).unwrap())
                .collect();
            let mut want = want;
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }
    }
}
