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

/// Per-stream cache from label-set hash to the shared [`Labels`].
#[derive(Debug, Default)]
pub(crate) struct Interner {
    map: HashMap<u64, Vec<Labels>, BuildHasherDefault<IdHasher>>,
    len: usize,
    sorted: Vec<(String, String)>,
}

impl Interner {
    /// The labels of `lbs` for which `keep(name)` holds, as a shared set, and its hash.
    pub(crate) fn intern(
        &mut self,
        lbs: &LabelsBuilder,
        keep: &dyn Fn(&str) -> bool,
    ) -> (Labels, u64) {
        lbs.write_sorted(&mut self.sorted);
        let hash = hash_pairs(
            self.sorted
                .iter()
                .filter(|(n, v)| !v.is_empty() && keep(n))
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        if let Some(cands) = self.map.get(&hash) {
            for c in cands {
                let mut mine = self
                    .sorted
                    .iter()
                    .filter(|(n, v)| !v.is_empty() && keep(n))
                    .map(|(n, v)| (n.as_str(), v.as_str()));
                let mut theirs = c.iter();
                let equal = loop {
                    match (mine.next(), theirs.next()) {
                        (None, None) => break true,
                        (Some(a), Some(b)) if a == b => {}
                        _ => break false,
                    }
                };
                if equal {
                    return (c.clone(), hash);
                }
            }
        }
        if self.len >= MAX_INTERNED {
            self.map.clear();
            self.len = 0;
        }
        let labels = Labels::new(
            self.sorted
                .iter()
                .filter(|(n, v)| !v.is_empty() && keep(n))
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        self.map.entry(hash).or_default().push(labels.clone());
        self.len += 1;
        (labels, hash)
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.len = 0;
    }
}
