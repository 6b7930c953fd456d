//! Vector aggregation: `sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`,
//! `topk`, `bottomk`, `sort`, `sort_desc`, `approx_topk` over one instant vector, or
//! step by step over a matrix.
//!
//! Confirmed in Loki (`pkg/logql/evaluator.go`, `VectorAggEvaluator`), and reproduced
//! with the same arithmetic:
//! - groups: `by (l…)` keeps only the listed labels present on the sample; `without (l…)`
//!   drops them; no clause is `by ()` (one group, no labels);
//! - `sum` adds left to right; `avg` is the running mean `mean += (x - mean) / n` (so
//!   `avg(+Inf, +Inf)` is NaN, unlike Prometheus); `min`/`max` skip NaN unless all are
//!   NaN; `stdvar`/`stddev` are population variance by Welford's update;
//! - `topk`/`bottomk` keep each selected sample's own labels; `k < 1` gives an empty
//!   result; `k` larger than a group keeps the whole group; NaN ranks below every number
//!   for both; within a group the output is sorted by value (descending for `topk` and
//!   `sort_desc`, ascending for `bottomk` and `sort`), NaN last;
//! - `sort`/`sort_desc` are the same machinery without a limit.
//!
//! Not reproducible exactly, so made deterministic: Loki iterates Go maps (group order,
//! and the input order its range iterator produces), so the choice between tied values at
//! the `k` boundary and the order of groups are unspecified there. Here groups appear in
//! order of their first sample, and ties keep input order (earlier wins). Loki sorts an
//! instant result by labels unless the query contains `sort`/`sort_desc` — callers apply
//! [`sort_vector_by_labels`](super::sort_vector_by_labels) for that; matrix results are
//! sorted by labels by [`aggregate_matrix`].

use std::collections::HashMap;

use crate::metric::series::{vectors_to_matrix, Grouping, Labels, Matrix, Sample, Series, Vector};
use crate::metric::window::cmp_nan_first;

/// A vector aggregation operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    /// `sum`.
    Sum,
    /// `avg`.
    Avg,
    /// `min`.
    Min,
    /// `max`.
    Max,
    /// `count`.
    Count,
    /// `stddev` (population).
    Stddev,
    /// `stdvar` (population).
    Stdvar,
    /// `topk(k, …)`.
    TopK(i64),
    /// `bottomk(k, …)`.
    BottomK(i64),
    /// `approx_topk(k, …)`: instant queries only; the same result as `topk` here.
    ApproxTopK(i64),
    /// `sort`: ascending by value.
    Sort,
    /// `sort_desc`: descending by value.
    SortDesc,
}

struct Group {
    value: f64,
    mean: f64,
    count: u64,
    members: Vec<Sample>,
}

/// Aggregates one instant vector.
///
/// ```
/// use logjar_logql::metric::{aggregate, Grouping, Labels, Sample, VectorOp};
///
/// let s = |host: &str, app: &str, v: f64| Sample::new(Labels::new([("host", host), ("app", app)]), v);
/// let v = vec![s("a", "x", 1.0), s("b", "x", 5.0), s("a", "y", 3.0)];
///
/// let by_host = aggregate(VectorOp::Sum, &Grouping::by(&["host"]), &v);
/// assert_eq!(by_host, vec![
///     Sample::new(Labels::new([("host", "a")]), 4.0),
///     Sample::new(Labels::new([("host", "b")]), 5.0),
/// ]);
///
/// let top = aggregate(VectorOp::TopK(2), &Grouping::by::<&str>(&[]), &v);
/// assert_eq!(top.iter().map(|s| s.value).collect::<Vec<_>>(), vec![5.0, 3.0]);
/// assert_eq!(top[0].labels, v[1].labels); // topk keeps the original labels
/// ```
pub fn aggregate(op: VectorOp, grouping: &Grouping, input: &[Sample]) -> Vector {
    let mut groups = GroupIds::default();
    let gids: Vec<usize> = input
        .iter()
        .map(|s| groups.id(grouping.group_labels(&s.labels)))
        .collect();
    let mut scratch = Vec::new();
    aggregate_grouped(
        op,
        &groups.labels,
        input
            .iter()
            .zip(&gids)
            .map(|(s, &g)| (g, &s.labels, s.value)),
        &mut scratch,
    )
}

/// Group labels numbered in order of first appearance.
#[derive(Default)]
struct GroupIds {
    index: HashMap<Labels, usize>,
    labels: Vec<Labels>,
}

impl GroupIds {
    fn id(&mut self, key: Labels) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.index.insert(key.clone(), self.labels.len());
        self.labels.push(key);
        self.labels.len() - 1
    }
}

/// The aggregation proper over `(group id, labels, value)` items; `slots` is scratch
/// space mapping group ids to output groups (reused across steps).
fn aggregate_grouped<'a>(
    op: VectorOp,
    group_labels: &[Labels],
    input: impl Iterator<Item = (usize, &'a Labels, f64)>,
    slots: &mut Vec<usize>,
) -> Vector {
    let limit = match op {
        VectorOp::TopK(k) | VectorOp::BottomK(k) | VectorOp::ApproxTopK(k) => {
            if k < 1 {
                return Vec::new();
            }
            usize::try_from(k).unwrap_or(usize::MAX)
        }
        _ => usize::MAX,
    };
    let keeps_members = matches!(
        op,
        VectorOp::TopK(_)
            | VectorOp::BottomK(_)
            | VectorOp::ApproxTopK(_)
            | VectorOp::Sort
            | VectorOp::SortDesc
    );
    slots.clear();
    slots.resize(group_labels.len(), usize::MAX);
    let mut groups: Vec<(usize, Group)> = Vec::new();
    for (gid, labels, x) in input {
        let Some(slot) = slots.get_mut(gid) else {
            continue;
        };
        if *slot == usize::MAX {
            *slot = groups.len();
            groups.push((
                gid,
                Group {
                    value: if matches!(op, VectorOp::Stddev | VectorOp::Stdvar) {
                        0.0
                    } else {
                        x
                    },
                    mean: x,
                    count: 1,
                    members: if keeps_members {
                        vec![Sample::new(labels.clone(), x)]
                    } else {
                        Vec::new()
                    },
                },
            ));
            continue;
        }
        let g = &mut groups[*slot].1;
        match op {
            VectorOp::Sum => g.value += x,
            VectorOp::Avg => {
                g.count += 1;
                g.mean += (x - g.mean) / g.count as f64;
            }
            VectorOp::Max => {
                if g.value < x || g.value.is_nan() {
                    g.value = x;
                }
            }
            VectorOp::Min => {
                if g.value > x || g.value.is_nan() {
                    g.value = x;
                }
            }
            VectorOp::Count => g.count += 1,
            VectorOp::Stddev | VectorOp::Stdvar => {
                g.count += 1;
                let delta = x - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (x - g.mean);
            }
            _ => g.members.push(Sample::new(labels.clone(), x)),
        }
    }
    let mut out = Vec::new();
    for (gid, mut g) in groups {
        let value = match op {
            VectorOp::Sum | VectorOp::Min | VectorOp::Max => g.value,
            VectorOp::Avg => g.mean,
            VectorOp::Count => g.count as f64,
            VectorOp::Stddev => (g.value / g.count as f64).sqrt(),
            VectorOp::Stdvar => g.value / g.count as f64,
            VectorOp::TopK(_) | VectorOp::ApproxTopK(_) | VectorOp::SortDesc => {
                g.members.sort_by(|a, b| desc_nan_last(a.value, b.value));
                g.members.truncate(limit);
                out.append(&mut g.members);
                continue;
            }
            VectorOp::BottomK(_) | VectorOp::Sort => {
                g.members.sort_by(|a, b| asc_nan_last(a.value, b.value));
                g.members.truncate(limit);
                out.append(&mut g.members);
                continue;
            }
        };
        out.push(Sample::new(group_labels[gid].clone(), value));
    }
    out
}

fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => cmp_nan_first(b, a),
    }
}

fn asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => cmp_nan_first(a, b),
    }
}

/// Applies [`aggregate`] at every evaluation time of a matrix (`step_ts_ms` are the
/// result timestamps, e.g. [`Steps::timestamps_ms`](super::Steps::timestamps_ms)); the
/// result is sorted by labels, series without points omitted.
pub fn aggregate_matrix(
    op: VectorOp,
    grouping: &Grouping,
    matrix: &[Series],
    step_ts_ms: &[i64],
) -> Matrix {
    let mut groups = GroupIds::default();
    let gids: Vec<usize> = matrix
        .iter()
        .map(|s| groups.id(grouping.group_labels(&s.labels)))
        .collect();
    // Per step, the (series, value) pairs in matrix order.
    let mut per_step: Vec<Vec<(usize, f64)>> = vec![Vec::new(); step_ts_ms.len()];
    for (si, s) in matrix.iter().enumerate() {
        for p in &s.points {
            if let Ok(i) = step_ts_ms.binary_search(&p.ts_ms) {
                per_step[i].push((si, p.value));
            }
        }
    }
    let mut slots = Vec::new();
    let vectors = per_step
        .iter()
        .map(|items| {
            aggregate_grouped(
                op,
                &groups.labels,
                items
                    .iter()
                    .map(|&(si, v)| (gids[si], &matrix[si].labels, v)),
                &mut slots,
            )
        })
        .collect();
    vectors_to_matrix(step_ts_ms, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)], v: f64) -> Sample {
        Sample::new(Labels::new(pairs.iter().copied()), v)
    }

    #[test]
    fn orderings_put_nan_last() {
        let mut v = [3.0, f64::NAN, 1.0, 2.0];
        v.sort_by(|a, b| desc_nan_last(*a, *b));
        assert_eq!(&v[..3], &[3.0, 2.0, 1.0]);
        assert!(v[3].is_nan());
        v.sort_by(|a, b| asc_nan_last(*a, *b));
        assert_eq!(&v[..3], &[1.0, 2.0, 3.0]);
        assert!(v[3].is_nan());
    }

    #[test]
    fn without_drops_listed_labels() {
        let v = vec![
            s(&[("a", "1"), ("b", "1")], 1.0),
            s(&[("a", "2"), ("b", "1")], 2.0),
        ];
        let r = aggregate(VectorOp::Max, &Grouping::without(&["a"]), &v);
        assert_eq!(r, vec![s(&[("b", "1")], 2.0)]);
    }
}
