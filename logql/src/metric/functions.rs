//! `label_replace(v, "dst", "replacement", "src", "regex")` and `vector(x)`.
//!
//! Confirmed in Loki (`syntax/ast.go` `mustNewLabelReplaceExpr`, `evaluator.go`
//! `LabelReplaceEvaluator`, `VectorIterator`):
//! - the regex is compiled as `^(?:regex)$` (fully anchored) against the value of `src`
//!   (empty when absent); no match leaves the series unchanged;
//! - on a match, `dst` is set to the expanded replacement (`$1`, `${1}`, `$name`,
//!   `${name}`, `$$`), or removed when the expansion is empty;
//! - `vector(x)` is one series without labels, `x` at every evaluation time.
//!
//! Assumed: Rust's `regex` expansion rules match Go's `Regexp.Expand` (both take the
//! longest `[A-Za-z0-9_]` run as the name after `$`; an unknown group expands to "").
//! RE2 and Rust regex syntax agree on what LogQL users write; differences in exotic
//! syntax surface as a construction error.

use regex::Regex;

use crate::metric::series::{Labels, Matrix, Point, Sample, Series, Vector};

/// A compiled `label_replace`.
///
/// ```
/// use logjar_logql::metric::{LabelReplace, Labels};
///
/// let lr = LabelReplace::new("svc", "$name-${ver}", "app", "(?P<name>[a-z]+)-v(?P<ver>\\d+)").unwrap();
/// let l = Labels::new([("app", "api-v2")]);
/// assert_eq!(lr.apply(&l), Labels::new([("app", "api-v2"), ("svc", "api-2")]));
/// // Anchored: a partial match is no match, the labels stay as they are.
/// let l = Labels::new([("app", "xapi-v2x")]);
/// assert_eq!(lr.apply(&l), l);
/// ```
#[derive(Clone, Debug)]
pub struct LabelReplace {
    dst: String,
    replacement: String,
    src: String,
    re: Regex,
}

impl LabelReplace {
    /// Compiles the regex (anchored). Fails on an invalid regex; Loki reports that at
    /// parse time as `invalid regex in label_replace: …`.
    pub fn new(
        dst: &str,
        replacement: &str,
        src: &str,
        regex: &str,
    ) -> Result<LabelReplace, regex::Error> {
        Ok(LabelReplace {
            dst: dst.to_owned(),
            replacement: replacement.to_owned(),
            src: src.to_owned(),
            re: Regex::new(&format!("^(?:{regex})$"))?,
        })
    }

    /// The labels after replacement.
    pub fn apply(&self, labels: &Labels) -> Labels {
        let src = labels.get(&self.src).unwrap_or("");
        let Some(caps) = self.re.captures(src) else {
            return labels.clone();
        };
        let mut out = String::new();
        caps.expand(&self.replacement, &mut out);
        labels.with(&self.dst, &out)
    }

    /// Applies to every sample of a vector.
    pub fn apply_vector(&self, v: &[Sample]) -> Vector {
        v.iter()
            .map(|s| Sample::new(self.apply(&s.labels), s.value))
            .collect()
    }

    /// Applies to every series of a matrix; series that end up with equal labels are
    /// joined (points merged by time), and the result is re-sorted by labels.
    pub fn apply_matrix(&self, m: &[Series]) -> Matrix {
        let mut by: std::collections::BTreeMap<Labels, Vec<Point>> = Default::default();
        for s in m {
            by.entry(self.apply(&s.labels))
                .or_default()
                .extend_from_slice(&s.points);
        }
        by.into_iter()
            .map(|(labels, mut points)| {
                points.sort_by_key(|p| p.ts_ms);
                Series { labels, points }
            })
            .collect()
    }
}

/// `vector(x)`: one label-less series with value `x` at each of `step_ts_ms`.
///
/// ```
/// use logjar_logql::metric::{vector_matrix, Labels};
/// let m = vector_matrix(1.5, &[0, 60_000]);
/// assert_eq!(m.len(), 1);
/// assert_eq!(m[0].labels, Labels::empty());
/// assert_eq!(m[0].points.len(), 2);
/// ```
pub fn vector_matrix(x: f64, step_ts_ms: &[i64]) -> Matrix {
    vec![Series {
        labels: Labels::empty(),
        points: step_ts_ms
            .iter()
            .map(|&ts_ms| Point { ts_ms, value: x })
            .collect(),
    }]
}
