//! Value types of metric evaluation: label sets, samples, series, vectors and matrices.
//!
//! Timestamps: raw samples fed to range aggregation carry **nanoseconds** (`ts_ns`), as
//! Loki's sample iterators do; evaluated [`Point`]s carry **milliseconds** (`ts_ms`), the
//! unit of Loki's matrix/vector results (`[<unix seconds>, "<value>"]` is printed from it).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::matcher::write_go_quoted;

/// An immutable, sorted label set: `(name, value)` pairs ordered by name, names unique,
/// no empty values (as in Prometheus, a label with an empty value does not exist).
///
/// Cloning is a reference-count increment. Ordering is Prometheus' `labels.Compare`
/// (pairwise by name then value, then by length), which is how Loki sorts matrix series.
///
/// ```
/// use logjar_logql::metric::Labels;
///
/// let l = Labels::new([("b", "y"), ("a", "x"), ("c", "")]);
/// assert_eq!(l.to_string(), r#"{a="x", b="y"}"#);
/// assert_eq!(l.get("a"), Some("x"));
/// assert_eq!(l.get("c"), None); // empty values are dropped
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Arc<[(Box<str>, Box<str>)]>);

impl Labels {
    /// Builds a label set from pairs in any order. For a repeated name the last value wins;
    /// pairs with an empty value are dropped.
    pub fn new<I, K, V>(pairs: I) -> Labels
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // Pairs that come sorted by name (the pipeline's interned sets do) are taken as
        // they are; the first pair out of order moves everything to a map.
        let mut pairs = pairs.into_iter();
        let mut sorted: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(pairs.size_hint().0);
        while let Some((k, v)) = pairs.next() {
            let (k, v) = (k.as_ref(), v.as_ref());
            if sorted.last().is_some_and(|(last, _)| **last >= *k) {
                let mut map: BTreeMap<Box<str>, Box<str>> = sorted.into_iter().collect();
                map.insert(k.into(), v.into());
                for (k, v) in pairs {
                    map.insert(k.as_ref().into(), v.as_ref().into());
                }
                map.retain(|_, v| !v.is_empty());
                return Labels(map.into_iter().collect());
            }
            if !v.is_empty() {
                sorted.push((k.into(), v.into()));
            }
        }
        Labels(sorted.into())
    }

    /// The empty label set `{}`.
    pub fn empty() -> Labels {
        Labels::default()
    }

    /// Wraps pairs already sorted by name, unique, with non-empty values.
    fn from_sorted(pairs: Vec<(Box<str>, Box<str>)>) -> Labels {
        Labels(pairs.into())
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    /// Iterates `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(n, v)| (&**n, &**v))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for `{}`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Only the labels whose name is in `names` (Prometheus `by`/`on`).
    pub fn keep<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filter(|n| names.iter().any(|k| k.as_ref() == n))
    }

    /// All labels except those whose name is in `names` (Prometheus `without`/`ignoring`).
    pub fn drop_names<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filter(|n| !names.iter().any(|k| k.as_ref() == n))
    }

    fn filter(&self, mut keep: impl FnMut(&str) -> bool) -> Labels {
        if self.0.iter().all(|(n, _)| keep(n)) {
            return self.clone();
        }
        Labels::from_sorted(self.0.iter().filter(|(n, _)| keep(n)).cloned().collect())
    }

    /// A copy with `name` set to `value`, or removed when `value` is empty.
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut v: Vec<(Box<str>, Box<str>)> = self.0.to_vec();
        match v.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) if value.is_empty() => {
                v.remove(i);
            }
            Ok(i) => v[i].1 = value.into(),
            Err(_) if value.is_empty() => return self.clone(),
            Err(i) => v.insert(i, (name.into(), value.into())),
        }
        Labels::from_sorted(v)
    }
}

impl fmt::Display for Labels {
    /// Prometheus' `labels.String()`: `{a="x", b="y"}` with Go-quoted values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(n)?;
            f.write_str("=")?;
            write_go_quoted(f, v)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `by (…)` / `without (…)` grouping of an aggregation.
///
/// `Grouping::by(&[])` is `by ()`: everything in one group with no labels. A vector
/// aggregation written without any clause behaves like `by ()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    /// `true` for `without`, `false` for `by`.
    pub without: bool,
    /// The label names listed in the clause.
    pub labels: Vec<String>,
}

impl Grouping {
    /// `by (names…)`.
    pub fn by<S: AsRef<str>>(names: &[S]) -> Grouping {
        Grouping {
            without: false,
            labels: names.iter().map(|s| s.as_ref().to_owned()).collect(),
        }
    }

    /// `without (names…)`.
    pub fn without<S: AsRef<str>>(names: &[S]) -> Grouping {
        Grouping {
            without: true,
            labels: names.iter().map(|s| s.as_ref().to_owned()).collect(),
        }
    }

    /// The group's label set for a series: only the listed labels (`by`) or all but them
    /// (`without`).
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        if self.without {
            labels.drop_names(&self.labels)
        } else {
            labels.keep(&self.labels)
        }
    }
}

/// One element of an instant vector: a label set and a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample.
    pub fn new(labels: Labels, value: f64) -> Sample {
        Sample { labels, value }
    }
}

/// The samples of all series at one evaluation time.
pub type Vector = Vec<Sample>;

/// A scalar value (number literals; `scalar ⊕ scalar` results).
pub type Scalar = f64;

/// One point of a matrix series: evaluation time in milliseconds and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Evaluation time, Unix milliseconds.
    pub ts_ms: i64,
    /// The value.
    pub value: f64,
}

/// A series of a range-query result: labels and points in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Points ordered by `ts_ms`.
    pub points: Vec<Point>,
}

/// A range-query result: series sorted by labels, as Loki returns them.
pub type Matrix = Vec<Series>;

/// Splits a matrix into one vector per evaluation time. `step_ts_ms` are the evaluation
/// times in milliseconds ([`Steps::timestamps_ms`](super::Steps::timestamps_ms)); points
/// at other times are ignored. Within a vector, samples follow the matrix' series order.
pub fn matrix_to_vectors(matrix: &[Series], step_ts_ms: &[i64]) -> Vec<Vector> {
    let mut out: Vec<Vector> = vec![Vec::new(); step_ts_ms.len()];
    for s in matrix {
        for p in &s.points {
            if let Ok(i) = step_ts_ms.binary_search(&p.ts_ms) {
                out[i].push(Sample::new(s.labels.clone(), p.value));
            }
        }
    }
    out
}

/// Joins per-step vectors back into a matrix sorted by labels, as Loki's engine does
/// for range queries. Samples with equal labels at one step are all kept (Loki appends
/// them to the same series).
pub fn vectors_to_matrix(step_ts_ms: &[i64], vectors: Vec<Vector>) -> Matrix {
    let mut by_labels: BTreeMap<Labels, Vec<Point>> = BTreeMap::new();
    for (ts_ms, vec) in step_ts_ms.iter().zip(vectors) {
        for s in vec {
            by_labels.entry(s.labels).or_default().push(Point {
                ts_ms: *ts_ms,
                value: s.value,
            });
        }
    }
    by_labels
        .into_iter()
        .map(|(labels, points)| Series { labels, points })
        .collect()
}

/// Sorts an instant vector by labels, the order Loki returns instant results in unless
/// the query contains `sort` or `sort_desc` (Loki `engine.go`, `Sortable`).
pub fn sort_vector_by_labels(v: &mut [Sample]) {
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sorted_dedup_last_wins() {
        let l = Labels::new([("z", "1"), ("a", "2"), ("z", "3")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "2"), ("z", "3")]);
    }

    /// `new` (sorted input taken as is, else a map) answers as a map of every pair would,
    /// on all sequences of up to four pairs over few names and values.
    #[test]
    fn labels_new_matches_a_map_of_the_pairs() {
        let atoms: Vec<(&str, &str)> = ["a", "b", "c"]
            .iter()
            .flat_map(|n| ["", "x", "y"].map(move |v| (*n, v)))
            .collect();
        let mut seqs: Vec<Vec<(&str, &str)>> = vec![vec![]];
        for _ in 0..4 {
            let next: Vec<Vec<(&str, &str)>> = seqs
                .iter()
                .filter(|s| s.len() == seqs.last().map_or(0, Vec::len))
                .flat_map(|s| {
                    atoms.iter().map(move |a| {
                        let mut s = s.clone();
                        s.push(*a);
                        s
                    })
                })
                .collect();
            seqs.extend(next);
        }
        for seq in seqs {
            let mut map = BTreeMap::new();
            for (k, v) in &seq {
                map.insert(*k, *v);
            }
            let want: Vec<(&str, &str)> = map.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            let got = Labels::new(seq.iter().copied());
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{seq:?}");
        }
    }

    #[test]
    fn labels_display_quotes_values() {
        let l = Labels::new([("a", "x\"y")]);
        assert_eq!(l.to_string(), r#"{a="x\"y"}"#);
        assert_eq!(Labels::empty().to_string(), "{}");
    }

    #[test]
    fn labels_order_is_prometheus_compare() {
        let a = Labels::new([("a", "1")]);
        let ab = Labels::new([("a", "1"), ("b", "1")]);
        let a2 = Labels::new([("a", "2")]);
        let b = Labels::new([("b", "0")]);
        let mut v = vec![b.clone(), a2.clone(), ab.clone(), a.clone()];
        v.sort();
        assert_eq!(v, vec![a, ab, a2, b]);
    }

    #[test]
    fn with_sets_and_removes() {
        let l = Labels::new([("a", "1")]);
        assert_eq!(l.with("b", "2"), Labels::new([("a", "1"), ("b", "2")]));
        assert_eq!(l.with("a", "3"), Labels::new([("a", "3")]));
        assert_eq!(l.with("a", ""), Labels::empty());
        assert_eq!(l.with("x", ""), l);
    }

    #[test]
    fn grouping_by_and_without() {
        let l = Labels::new([("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(
            Grouping::by(&["a", "zz"]).group_labels(&l),
            Labels::new([("a", "1")])
        );
        assert_eq!(
            Grouping::without(&["a"]).group_labels(&l),
            Labels::new([("b", "2"), ("c", "3")])
        );
        assert_eq!(Grouping::by::<&str>(&[]).group_labels(&l), Labels::empty());
    }

    #[test]
    fn matrix_vector_round_trip() {
        let a = Labels::new([("a", "1")]);
        let b = Labels::new([("b", "1")]);
        let m = vec![
            Series {
                labels: a.clone(),
                points: vec![
                    Point {
                        ts_ms: 0,
                        value: 1.0,
                    },
                    Point {
                        ts_ms: 20,
                        value: 2.0,
                    },
                ],
            },
            Series {
                labels: b.clone(),
                points: vec![Point {
                    ts_ms: 10,
                    value: 3.0,
                }],
            },
        ];
        let ts = [0, 10, 20];
        let v = matrix_to_vectors(&m, &ts);
        assert_eq!(v[0], vec![Sample::new(a.clone(), 1.0)]);
        assert_eq!(v[1], vec![Sample::new(b.clone(), 3.0)]);
        assert_eq!(vectors_to_matrix(&ts, v), m);
    }
}
