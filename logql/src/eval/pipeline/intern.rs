//! Interning of result label sets: turns the builder's labels into a shared
//! [`Labels`] value without allocating when the same set was seen before.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::eval::labels::LabelsBuilder;
use crate::metric::Labels;

/// Distinct label sets kept per stream before the cache is cleared (bounds memory when a
/// parser extracts a unique value per line, such as a request id).
const MAX_INTERNED: usize = 4096;

/// The hash [`ProcessedEntry::labels_hash`](super::ProcessedEntry::labels_hash) carries:
/// a function of the label set only (names and non-empty values, in name order), equal
/// for equal sets whichever stream or pipeline produced them.
///
/// ```
/// use logjar_logql::eval::pipeline::labels_hash;
/// use logjar_logql::metric::Labels;
/// let a = Labels::new([("app", "api"), ("level", "info")]);
/// let b = Labels::new([("level", "info"), ("app", "api"), ("x", "")]);
/// assert_eq!(labels_hash(&a), labels_hash(&b));
/// assert_ne!(labels_hash(&a), labels_hash(&Labels::new([("app", "api")])));
/// ```
pub fn labels_hash(labels: &Labels) -> u64 {
    hash_pairs(labels.iter())
}

pub(crate) fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = Mixer(0x9e37_79b9_7f4a_7c15);
    for (n, v) in pairs {
        h.bytes(n.as_bytes());
        h.bytes(v.as_bytes());
    }
    h.finish()
}

/// A small multiply-rotate hash over 8-byte words (FxHash-like), length-prefixed so
/// that `("ab","c")` and `("a","bc")` differ.
struct Mixer(u64);

impl Mixer {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(Self::K);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w));
        }
    }

    fn finish(&self) -> u64 {
        // Final avalanche (murmur3 fmix64) so the low bits are usable by hash maps.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// A hasher for keys that already are hashes.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Which labels of the builder make up the result set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Select<'a> {
    /// Every label with a non-empty value.
    All,
    /// Only these names (sorted, unique), when present with a non-empty value.
    Only(&'a [String]),
    /// Every label but these names.
    Except(&'a [String]),
}

/// Per-stream cache from label-set hash to the shared [`Labels`].
///
/// When most lookups miss (a label unique per line, such as a trace id), caching only
/// costs, so it turns itself off until the next [`clear`](Self::clear).
#[derive(Debug)]
pub(crate) struct Interner {
    map: HashMap<u64, Vec<Labels>, BuildHasherDefault<IdHasher>>,
    len: usize,
    /// The current result pairs, sorted by name; `String` buffers are reused.
    pairs: Vec<(String, String)>,
    used: usize,
    lookups: u32,
    hits: u32,
    caching: bool,
    /// The last [`Select::Only`] result: consecutive entries mostly repeat it.
    last: Option<LastOnly>,
}

/// A [`Select::Only`] result and the values of the selected names it was built from
/// (`""` for an absent or empty label, which the selection leaves out either way).
#[derive(Debug)]
struct LastOnly {
    /// The names it was selected with.
    names: Vec<String>,
    values: Vec<String>,
    labels: Labels,
    hash: u64,
}

impl LastOnly {
    fn matches(&self, lbs: &LabelsBuilder, names: &[String]) -> bool {
        self.names == names
            && names
                .iter()
                .zip(&self.values)
                .all(|(n, v)| lbs.get(n).unwrap_or("") == v.as_str())
    }
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            map: HashMap::default(),
            len: 0,
            pairs: Vec::new(),
            used: 0,
            lookups: 0,
            hits: 0,
            caching: true,
            last: None,
        }
    }
}

/// Lookups between two checks of the hit rate.
const RATE_WINDOW: u32 = 1024;

impl Interner {
    fn push(&mut self, n: &str, v: &str) {
        if self.used < self.pairs.len() {
            let (pn, pv) = &mut self.pairs[self.used];
            pn.clear();
            pn.push_str(n);
            pv.clear();
            pv.push_str(v);
        } else {
            self.pairs.push((n.to_string(), v.to_string()));
        }
        self.used += 1;
    }

    fn fill(&mut self, lbs: &LabelsBuilder, select: Select<'_>) {
        self.used = 0;
        match select {
            Select::Only(names) => {
                for n in names {
                    if let Some(v) = lbs.get(n) {
                        if !v.is_empty() {
                            self.push(n, v);
                        }
                    }
                }
            }
            Select::All | Select::Except(_) => {
                lbs.for_each(|n, v| {
                    let keep = match select {
                        Select::Except(names) => !names.iter().any(|x| x == n),
                        _ => true,
                    };
                    if keep && !v.is_empty() {
                        self.push(n, v);
                    }
                });
                self.pairs[..self.used].sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
        }
    }

    fn live(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs[..self.used]
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The selected labels of `lbs` as a shared set, and their [`labels_hash`].
    pub(crate) fn intern(&mut self, lbs: &LabelsBuilder, select: Select<'_>) -> (Labels, u64) {
        if let Select::Only(names) = select {
            if let Some(last) = self.last.as_ref().filter(|l| l.matches(lbs, names)) {
                return (last.labels.clone(), last.hash);
            }
            let (labels, hash) = self.intern_only(lbs, names);
            self.remember(lbs, names, &labels, hash);
            return (labels, hash);
        }
        self.intern_uncached_last(lbs, select)
    }

    /// Keeps `labels` as the last [`Select::Only`] result, reusing the value buffers.
    fn remember(&mut self, lbs: &LabelsBuilder, names: &[String], labels: &Labels, hash: u64) {
        let last = self.last.get_or_insert_with(|| LastOnly {
            names: Vec::new(),
            values: Vec::new(),
            labels: Labels::empty(),
            hash: 0,
        });
        if last.names != names {
            last.names = names.to_vec();
        }
        last.values.resize_with(names.len(), String::new);
        for (n, v) in names.iter().zip(&mut last.values) {
            v.clear();
            v.push_str(lbs.get(n).unwrap_or(""));
        }
        last.labels = labels.clone();
        last.hash = hash;
    }

    fn intern_only(&mut self, lbs: &LabelsBuilder, names: &[String]) -> (Labels, u64) {
        if self.caching {
            if let Some(hit) = self.lookup_only(lbs, names) {
                return hit;
            }
        }
        self.intern_uncached_last(lbs, Select::Only(names))
    }

    /// [`intern`](Self::intern) without the last-result shortcut.
    fn intern_uncached_last(&mut self, lbs: &LabelsBuilder, select: Select<'_>) -> (Labels, u64) {
        self.fill(lbs, select);
        let hash = hash_pairs(self.live());
        if !self.caching {
            return (Labels::new(self.live()), hash);
        }
        self.lookups += 1;
        if let Some(cands) = self.map.get(&hash) {
            if let Some(c) = cands.iter().find(|c| c.iter().eq(self.live())) {
                self.hits += 1;
                return (c.clone(), hash);
            }
        }
        if self.lookups >= RATE_WINDOW {
            if self.hits < self.lookups / 8 {
                self.caching = false;
                self.map.clear();
                self.len = 0;
            }
            self.lookups = 0;
            self.hits = 0;
        }
        let labels = Labels::new(self.live());
        if self.caching {
            if self.len >= MAX_INTERNED {
                self.map.clear();
                self.len = 0;
            }
            self.map.entry(hash).or_default().push(labels.clone());
            self.len += 1;
        }
        (labels, hash)
    }

    /// The hit path of [`Select::Only`] (a grouping `by (…)`, a few names): hashes and
    /// compares the selected values where they are, without copying them first.
    fn lookup_only(&mut self, lbs: &LabelsBuilder, names: &[String]) -> Option<(Labels, u64)> {
        let selected = || {
            names.iter().filter_map(|n| {
                lbs.get(n)
                    .filter(|v| !v.is_empty())
                    .map(|v| (n.as_str(), v))
            })
        };
        let hash = hash_pairs(selected());
        let found = self
            .map
            .get(&hash)?
            .iter()
            .find(|c| c.iter().eq(selected()))?
            .clone();
        self.lookups += 1;
        self.hits += 1;
        Some((found, hash))
    }

    /// Forgets every set (call when the stream changes) and turns caching back on.
    pub(crate) fn clear(&mut self) {
        self.last = None;
        self.map.clear();
        self.len = 0;
        self.lookups = 0;
        self.hits = 0;
        self.caching = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(parsed: &[(&str, &str)]) -> LabelsBuilder {
        let mut b = LabelsBuilder::with_stream(&[("app".into(), "api".into())]);
        for (n, v) in parsed {
            b.set_parsed(n, v);
        }
        b
    }

    #[test]
    fn selections_and_hashes() {
        let mut i = Interner::default();
        let b = builder(&[("z", "1"), ("a", "2"), ("e", "")]);
        let (all, h) = i.intern(&b, Select::All);
        assert_eq!(all.to_string(), r#"{a="2", app="api", z="1"}"#);
        assert_eq!(h, labels_hash(&all));
        let names = ["app".to_string(), "z".to_string()];
        let (only, h) = i.intern(&b, Select::Only(&names));
        assert_eq!(
            (only.to_string(), h),
            (r#"{app="api", z="1"}"#.into(), labels_hash(&only))
        );
        let (except, _) = i.intern(&b, Select::Except(&names));
        assert_eq!(except.to_string(), r#"{a="2"}"#);
        // the same set again is answered from the cache
        let (again, _) = i.intern(&b, Select::All);
        assert_eq!(again, all);
        assert_eq!(i.len, 3);
    }

    /// The in-place hit path of `Select::Only` answers exactly as the copying path.
    #[test]
    fn only_hits_match_the_copying_path() {
        let names = ["app".to_string(), "level".to_string()];
        let mut cached = Interner::default();
        for (level, extra) in [
            ("info", "1"),
            ("warn", "2"),
            ("info", "3"),
            ("", "4"),
            ("warn", "5"),
        ] {
            let b = builder(&[("level", level), ("extra", extra)]);
            let got = cached.intern(&b, Select::Only(&names));
            let want = Interner::default().intern(&b, Select::Only(&names));
            assert_eq!(got, want, "level {level:?}");
            assert_eq!(got.1, labels_hash(&got.0));
        }
        // three distinct sets ({app, level=info}, {app, level=warn}, {app}); two hits
        assert_eq!((cached.len, cached.hits), (3, 2));
    }

    /// The last-result shortcut answers as a fresh interner, for repeated and changed
    /// values, absent and empty values, and another name list.
    #[test]
    fn last_result_matches_a_fresh_interner() {
        let names = ["app".to_string(), "level".to_string()];
        let other = ["level".to_string()];
        let mut i = Interner::default();
        type Case<'a> = (&'a [String], &'a [(&'a str, &'a str)]);
        let cases: [Case<'_>; 8] = [
            (&names, &[("level", "info"), ("x", "1")]),
            (&names, &[("level", "info"), ("x", "2")]),
            (&names, &[("level", "warn")]),
            (&names, &[("level", "")]),
            (&names, &[]),
            (&other, &[]),
            (&other, &[("level", "info")]),
            (&names, &[("level", "info")]),
        ];
        for (sel, parsed) in cases {
            let b = builder(parsed);
            let got = i.intern(&b, Select::Only(sel));
            let want = Interner::default().intern(&b, Select::Only(sel));
            assert_eq!(got, want, "{sel:?} {parsed:?}");
        }
    }

    #[test]
    fn caching_turns_off_when_sets_are_unique() {
        let mut i = Interner::default();
        for n in 0..(2 * RATE_WINDOW) {
            let b = builder(&[("id", &n.to_string())]);
            let (l, h) = i.intern(&b, Select::All);
            assert_eq!(l.get("id"), Some(n.to_string().as_str()));
            assert_eq!(h, labels_hash(&l));
        }
        assert!(!i.caching);
        assert_eq!(i.len, 0);
        i.clear();
        assert!(i.caching);
    }
}
