//! Range aggregation: one value per series per evaluation time, over the samples in the
//! window `(t - offset - range, t - offset]`.
//!
//! Confirmed in Loki (`pkg/logql/range_vector.go`, batch and streaming iterators, in
//! the `promql.FPoint` versions of v2.9–v3):
//! - the window's lower bound is exclusive, the upper inclusive; `offset` shifts the
//!   window back and the result is stamped at `t` ([`Steps::timestamps_ms`]);
//! - a series with no sample in a window produces no point there;
//! - `rate` = entries / range seconds; `bytes_rate` = bytes / range seconds;
//!   `rate` over `unwrap` = sum of values / range seconds (not a counter rate);
//! - `rate_counter` is Loki's copy of Prometheus' old `extrapolatedRate` with counter
//!   resets — including its quirks: timestamps stay in nanoseconds while the range is
//!   converted to milliseconds, the extrapolation anchors on the first sample, and fewer
//!   than two samples give `0` (a point, not a gap). Reproduced as is;
//! - `min`/`max_over_time` skip NaN unless every value is NaN; `avg_over_time` is NaN
//!   with a NaN or both infinities, else ±Inf with one infinity; `stdvar`/`stddev` are
//!   population variance (Welford), NaN if any value is non-finite;
//! - `quantile_over_time` is Prometheus' `quantile` (see [`RangeOp::QuantileOverTime`]);
//!   `first`/`last_over_time` take the first/last sample in time order;
//! - `by`/`without` on an unwrapped aggregation reduces each sample's labels *before*
//!   windowing (Loki's sample extractor), so series with equal reduced labels are merged
//!   into one sample stream: [`group_series`].
//!
//! Sums and variances are computed with exact-partial merging (see `window.rs`), not by
//! replaying Loki's left-to-right loop, so results agree with Loki's to rounding (about
//! 1e-15 relative), not always to the last bit.

use std::borrow::Cow;

use crate::metric::series::{Grouping, Labels, Matrix, Point, Series};
use crate::metric::steps::Steps;
use crate::metric::window::{
    quantile_select, quantile_sorted, MaxM, MinM, RankWindow, SortedWindow, SumM, TwoStack, VarM,
};

/// A range aggregation function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeOp {
    /// `count_over_time`: number of entries (sum of bucket counts).
    CountOverTime,
    /// `rate` over log entries: entries / range seconds.
    Rate,
    /// `bytes_over_time`: sum of line lengths.
    BytesOverTime,
    /// `bytes_rate`: bytes / range seconds.
    BytesRate,
    /// `sum_over_time` over unwrapped values.
    SumOverTime,
    /// `avg_over_time`.
    AvgOverTime,
    /// `min_over_time`.
    MinOverTime,
    /// `max_over_time`.
    MaxOverTime,
    /// `stdvar_over_time` (population variance).
    StdvarOverTime,
    /// `stddev_over_time` (population standard deviation).
    StddevOverTime,
    /// `quantile_over_time(φ)`: linear interpolation between closest ranks; φ < 0 gives
    /// -Inf, φ > 1 gives +Inf, NaN φ gives NaN (Loki would index out of range there).
    QuantileOverTime(f64),
    /// `first_over_time`.
    FirstOverTime,
    /// `last_over_time`.
    LastOverTime,
    /// `rate` over unwrapped values: sum / range seconds.
    UnwrappedRate,
    /// `rate_counter`: counter rate with resets and Loki's extrapolation.
    RateCounter,
}

impl RangeOp {
    /// True for the operations over log entries ([`LogSeries`] input); false for the
    /// unwrapped ones ([`SampleSeries`] input).
    pub fn is_log_op(self) -> bool {
        matches!(
            self,
            RangeOp::CountOverTime | RangeOp::Rate | RangeOp::BytesOverTime | RangeOp::BytesRate
        )
    }
}

/// The selection's range and offset, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeWindow {
    /// The `[range]` of the selector.
    pub range_ns: i64,
    /// The `offset` (0 when absent).
    pub offset_ns: i64,
}

impl RangeWindow {
    /// A window of `range_ns` with no offset.
    pub fn new(range_ns: i64) -> RangeWindow {
        RangeWindow {
            range_ns,
            offset_ns: 0,
        }
    }

    /// The same window shifted back by `offset_ns`.
    pub fn with_offset(self, offset_ns: i64) -> RangeWindow {
        RangeWindow { offset_ns, ..self }
    }

    /// `(exclusive start, inclusive end)` of the window evaluated at `t_ns`.
    pub fn bounds(&self, t_ns: i64) -> (i64, i64) {
        let end = t_ns.saturating_sub(self.offset_ns);
        (end.saturating_sub(self.range_ns), end)
    }

    /// Go's `time.Duration.Seconds()` of the range.
    pub fn range_seconds(&self) -> f64 {
        let s = self.range_ns / 1_000_000_000;
        let ns = self.range_ns % 1_000_000_000;
        s as f64 + ns as f64 / 1e9
    }

    /// Whether entries spanning `[min_ts_ns, max_ts_ns]` fall into exactly the same
    /// windows of `steps`, so a caller holding pre-aggregated counts (for example per
    /// storage block) may pass them as one [`EntryBucket`] stamped `max_ts_ns` instead
    /// of entry by entry. True when no window boundary `b` (a start or an end) satisfies
    /// `min_ts_ns <= b < max_ts_ns`.
    ///
    /// ```
    /// use logjar_logql::metric::{RangeWindow, Steps};
    /// const S: i64 = 1_000_000_000;
    /// let steps = Steps::range(0, 600 * S, 60 * S).unwrap();
    /// let w = RangeWindow::new(120 * S);
    /// assert!(w.bucket_is_atomic(&steps, 61 * S, 120 * S)); // inside (60s, 120s]
    /// assert!(!w.bucket_is_atomic(&steps, 59 * S, 61 * S)); // straddles 60s
    /// ```
    pub fn bucket_is_atomic(&self, steps: &Steps, min_ts_ns: i64, max_ts_ns: i64) -> bool {
        if max_ts_ns <= min_ts_ns {
            return true;
        }
        let (s0, e0) = self.bounds(steps.start_ns());
        !boundary_in(s0, steps, min_ts_ns, max_ts_ns)
            && !boundary_in(e0, steps, min_ts_ns, max_ts_ns)
    }
}

/// Whether `first + i·step` for some step index `i` lies in `[lo, hi)`.
fn boundary_in(first: i64, steps: &Steps, lo: i64, hi: i64) -> bool {
    let step = i128::from(steps.step_ns());
    let first = i128::from(first);
    let (lo, hi) = (i128::from(lo), i128::from(hi));
    let i = if lo <= first {
        0
    } else {
        (lo - first + step - 1) / step
    };
    i < steps.len() as i128 && first + i * step < hi
}

/// Pre-aggregated log entries: `count` entries totalling `bytes` line bytes, all counted
/// at `ts_ns`. A single entry is `{ ts_ns, count: 1, bytes: line.len() }`; a block of
/// entries may be passed as one bucket when [`RangeWindow::bucket_is_atomic`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryBucket {
    /// Timestamp the entries are counted at (ns).
    pub ts_ns: i64,
    /// Number of entries.
    pub count: u64,
    /// Total line bytes.
    pub bytes: u64,
}

/// The entries of one series, for the log range aggregations.
#[derive(Clone, Debug, PartialEq)]
pub struct LogSeries {
    /// The series' labels (after the pipeline).
    pub labels: Labels,
    /// Buckets, ideally in time order (unordered input is sorted first).
    pub buckets: Vec<EntryBucket>,
}

/// The unwrapped samples of one series: `(ts_ns, value)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSeries {
    /// The series' labels (after the pipeline and any grouping).
    pub labels: Labels,
    /// Samples, ideally in time order (unordered input is stably sorted first).
    pub samples: Vec<(i64, f64)>,
}

/// Range-aggregates log entries with [`RangeOp::CountOverTime`], [`RangeOp::Rate`],
/// [`RangeOp::BytesOverTime`] or [`RangeOp::BytesRate`] (other operations yield an
/// empty matrix). Counts and bytes are summed exactly in integers. Series with equal
/// labels are merged.
///
/// ```
/// use logjar_logql::metric::{log_range_aggregate, EntryBucket, Labels, LogSeries, RangeOp, RangeWindow, Steps};
/// const S: i64 = 1_000_000_000;
/// let series = vec![LogSeries {
///     labels: Labels::new([("app", "api")]),
///     buckets: [10, 50, 60, 70].iter().map(|&t| EntryBucket { ts_ns: t * S, count: 1, bytes: 10 }).collect(),
/// }];
/// let steps = Steps::range(60 * S, 120 * S, 60 * S).unwrap();
/// let m = log_range_aggregate(RangeOp::CountOverTime, RangeWindow::new(60 * S), &steps, &series);
/// // window (0s, 60s] holds 10, 50, 60; window (60s, 120s] holds 70.
/// let values: Vec<f64> = m[0].points.iter().map(|p| p.value).collect();
/// assert_eq!(values, vec![3.0, 1.0]);
/// ```
pub fn log_range_aggregate(
    op: RangeOp,
    window: RangeWindow,
    steps: &Steps,
    series: &[LogSeries],
) -> Matrix {
    if !op.is_log_op() {
        return Vec::new();
    }
    let ts_ms = steps.timestamps_ms(window.offset_ns);
    let secs = window.range_seconds();
    let mut out = Vec::new();
    for (labels, buckets) in
        merge_by_labels(series.iter().map(|s| (&s.labels, &s.buckets[..])), |b| {
            b.ts_ns
        })
    {
        let mut points = Vec::new();
        let (mut lo, mut hi) = (0usize, 0usize);
        let (mut count, mut bytes) = (0u64, 0u64);
        for (i, t) in steps.timestamps_ns().enumerate() {
            let (start, end) = window.bounds(t);
            while hi < buckets.len() && buckets[hi].ts_ns <= end {
                count = count.wrapping_add(buckets[hi].count);
                bytes = bytes.wrapping_add(buckets[hi].bytes);
                hi += 1;
            }
            while lo < hi && buckets[lo].ts_ns <= start {
                count = count.wrapping_sub(buckets[lo].count);
                bytes = bytes.wrapping_sub(buckets[lo].bytes);
                lo += 1;
            }
            if count == 0 {
                continue;
            }
            let value = match op {
                RangeOp::CountOverTime => count as f64,
                RangeOp::Rate => count as f64 / secs,
                RangeOp::BytesOverTime => bytes as f64,
                _ => bytes as f64 / secs,
            };
            points.push(Point {
                ts_ms: ts_ms[i],
                value,
            });
        }
        if !points.is_empty() {
            out.push(Series { labels, points });
        }
    }
    out
}

/// Range-aggregates unwrapped samples with any non-log [`RangeOp`] (log operations
/// yield an empty matrix). One pass per series: both window edges only move forward.
/// Series with equal labels are merged (stably, by time).
///
/// ```
/// use logjar_logql::metric::{unwrapped_range_aggregate, Labels, RangeOp, RangeWindow, SampleSeries, Steps};
/// const S: i64 = 1_000_000_000;
/// let series = vec![SampleSeries {
///     labels: Labels::new([("host", "a")]),
///     samples: vec![(1 * S, 10.0), (2 * S, 20.0), (3 * S, 40.0), (4 * S, 30.0)],
/// }];
/// let steps = Steps::instant(4 * S);
/// let m = unwrapped_range_aggregate(RangeOp::QuantileOverTime(0.5), RangeWindow::new(10 * S), &steps, &series);
/// assert_eq!(m[0].points[0].value, 25.0);
/// let m = unwrapped_range_aggregate(RangeOp::MaxOverTime, RangeWindow::new(2 * S), &steps, &series);
/// assert_eq!(m[0].points[0].value, 40.0); // window (2s, 4s]
/// ```
pub fn unwrapped_range_aggregate(
    op: RangeOp,
    window: RangeWindow,
    steps: &Steps,
    series: &[SampleSeries],
) -> Matrix {
    if op.is_log_op() {
        return Vec::new();
    }
    let ts_ms = steps.timestamps_ms(window.offset_ns);
    let mut out = Vec::new();
    for (labels, samples) in
        merge_by_labels(series.iter().map(|s| (&s.labels, &s.samples[..])), |s| s.0)
    {
        let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
        let bounds = window_bounds(window, steps, &samples);
        let total: usize = bounds.iter().map(|&(lo, hi)| hi - lo).sum();
        let few_overlaps = total <= 8 * samples.len() + bounds.len();
        let mut agg = WindowAgg::new(op, window, few_overlaps);
        if let (WindowAgg::Quantile(_, q), true) = (&agg, RankWindow::applies(&values)) {
            agg = WindowAgg::RankQuantile(RankWindow::new(&values), *q);
        }
        let mut points = Vec::new();
        for (i, &(lo, hi)) in bounds.iter().enumerate() {
            if let Some(value) = agg.eval(&samples, &values, lo, hi) {
                points.push(Point {
                    ts_ms: ts_ms[i],
                    value,
                });
            }
        }
        if !points.is_empty() {
            out.push(Series { labels, points });
        }
    }
    out
}

/// The `[lo, hi)` sample index range of each step's window.
fn window_bounds(
    window: RangeWindow,
    steps: &Steps,
    samples: &[(i64, f64)],
) -> Vec<(usize, usize)> {
    let (mut lo, mut hi) = (0usize, 0usize);
    steps
        .timestamps_ns()
        .map(|t| {
            let (start, end) = window.bounds(t);
            while hi < samples.len() && samples[hi].0 <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].0 <= start {
                lo += 1;
            }
            (lo, hi)
        })
        .collect()
}

/// `absent_over_time`: a point of value 1 with `labels` at every evaluation time whose
/// window holds no timestamp of any series; an empty matrix when every window has data.
/// `timestamps` are the sample (or entry) times of all selected series, in any order.
///
/// `labels` are, as in Loki (`absentLabels`), the selector's equality matchers
/// (`{app="api", env=~"p.*"}` gives `{app="api"}`); a name used by two equality matchers
/// is left out. [`absent_labels`] computes them.
///
/// ```
/// use logjar_logql::metric::{absent_over_time, Labels, RangeWindow, Steps};
/// const S: i64 = 1_000_000_000;
/// let steps = Steps::range(60 * S, 180 * S, 60 * S).unwrap();
/// let m = absent_over_time(RangeWindow::new(60 * S), &steps, [90 * S], Labels::new([("app", "api")]));
/// let ts: Vec<i64> = m[0].points.iter().map(|p| p.ts_ms).collect();
/// assert_eq!(ts, vec![60_000, 180_000]);
/// ```
pub fn absent_over_time(
    window: RangeWindow,
    steps: &Steps,
    timestamps: impl IntoIterator<Item = i64>,
    labels: Labels,
) -> Matrix {
    let mut ts: Vec<i64> = timestamps.into_iter().collect();
    ts.sort_unstable();
    let ts_ms = steps.timestamps_ms(window.offset_ns);
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut points = Vec::new();
    for (i, t) in steps.timestamps_ns().enumerate() {
        let (start, end) = window.bounds(t);
        while hi < ts.len() && ts[hi] <= end {
            hi += 1;
        }
        while lo < hi && ts[lo] <= start {
            lo += 1;
        }
        if lo == hi {
            points.push(Point {
                ts_ms: ts_ms[i],
                value: 1.0,
            });
        }
    }
    if points.is_empty() {
        Vec::new()
    } else {
        vec![Series { labels, points }]
    }
}

/// Labels for `absent_over_time` from a selector's matchers, as Loki's `absentLabels`:
/// each equality matcher's `name=value`, except names that appear in more than one
/// equality matcher, which are dropped.
pub fn absent_labels(matchers: &[crate::matcher::LabelMatcher]) -> Labels {
    use crate::matcher::MatchOp;
    let eq: Vec<(&str, &str)> = matchers
        .iter()
        .filter(|m| m.op() == MatchOp::Eq)
        .map(|m| (m.name(), m.value()))
        .collect();
    Labels::new(
        eq.iter()
            .filter(|(n, _)| eq.iter().filter(|(m, _)| m == n).count() == 1)
            .copied(),
    )
}

/// Applies an unwrapped aggregation's `by`/`without` before windowing: each series'
/// labels are reduced, and series with equal reduced labels are merged into one sample
/// stream (stable by time; equal timestamps keep input order). `by ()` merges
/// everything into one series with no labels.
pub fn group_series(series: &[SampleSeries], grouping: &Grouping) -> Vec<SampleSeries> {
    let reduced: Vec<(Labels, &[(i64, f64)])> = series
        .iter()
        .map(|s| (grouping.group_labels(&s.labels), &s.samples[..]))
        .collect();
    merge_by_labels(reduced.iter().map(|(l, s)| (l, *s)), |s| s.0)
        .into_iter()
        .map(|(labels, samples)| SampleSeries {
            labels,
            samples: samples.into_owned(),
        })
        .collect()
}

/// Groups items by labels (result sorted by labels) and concatenates the elements of
/// equal labels, stably sorted by `ts`. A lone, already time-ordered input is borrowed,
/// not copied.
fn merge_by_labels<'a, T: Copy + 'a>(
    input: impl Iterator<Item = (&'a Labels, &'a [T])>,
    ts: impl Fn(&T) -> i64,
) -> Vec<(Labels, Cow<'a, [T]>)> {
    let mut items: Vec<(&Labels, &[T])> = input.collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    let sorted = |v: &[T]| v.windows(2).all(|w| ts(&w[0]) <= ts(&w[1]));
    let mut out: Vec<(Labels, Cow<'a, [T]>)> = Vec::new();
    for (labels, elems) in items {
        match out.last_mut() {
            Some((l, merged)) if l == labels => merged.to_mut().extend_from_slice(elems),
            _ => out.push((labels.clone(), Cow::Borrowed(elems))),
        }
    }
    for (_, v) in &mut out {
        if !sorted(v) {
            v.to_mut().sort_by_key(&ts);
        }
    }
    out
}

/// Per-series sliding state for one unwrapped operation.
enum WindowAgg {
    Sum(TwoStack<SumM>, Option<f64>),
    Avg(TwoStack<SumM>),
    Min(TwoStack<MinM>),
    Max(TwoStack<MaxM>),
    Var(TwoStack<VarM>, bool),
    Quantile(SortedWindow, f64),
    RankQuantile(RankWindow, f64),
    QuantileSelect(Vec<f64>, f64),
    First,
    Last,
    RateCounter(RangeWindow),
}

impl WindowAgg {
    /// `few_overlaps`: the windows' total size is small next to the sample count, so
    /// selecting per window beats maintaining a sorted window (quantiles only).
    fn new(op: RangeOp, window: RangeWindow, few_overlaps: bool) -> WindowAgg {
        match op {
            RangeOp::AvgOverTime => WindowAgg::Avg(TwoStack::new()),
            RangeOp::MinOverTime => WindowAgg::Min(TwoStack::new()),
            RangeOp::MaxOverTime => WindowAgg::Max(TwoStack::new()),
            RangeOp::StdvarOverTime => WindowAgg::Var(TwoStack::new(), false),
            RangeOp::StddevOverTime => WindowAgg::Var(TwoStack::new(), true),
            RangeOp::QuantileOverTime(q) if few_overlaps => {
                WindowAgg::QuantileSelect(Vec::new(), q)
            }
            RangeOp::QuantileOverTime(q) => WindowAgg::Quantile(SortedWindow::default(), q),
            RangeOp::FirstOverTime => WindowAgg::First,
            RangeOp::LastOverTime => WindowAgg::Last,
            RangeOp::RateCounter => WindowAgg::RateCounter(window),
            RangeOp::UnwrappedRate => WindowAgg::Sum(TwoStack::new(), Some(window.range_seconds())),
            _ => WindowAgg::Sum(TwoStack::new(), None),
        }
    }

    /// Slides to `[lo, hi)` and returns the window's value, `None` when it is empty.
    fn eval(
        &mut self,
        samples: &[(i64, f64)],
        values: &[f64],
        lo: usize,
        hi: usize,
    ) -> Option<f64> {
        match self {
            WindowAgg::Sum(w, per_sec) => {
                w.slide(values, lo, hi);
                let sum = w.get().value();
                (lo < hi).then(|| per_sec.map_or(sum, |s| sum / s))
            }
            WindowAgg::Avg(w) => {
                w.slide(values, lo, hi);
                let sum = w.get();
                (lo < hi).then(|| {
                    if sum.overflowed() {
                        incremental_mean(&values[lo..hi])
                    } else {
                        let v = sum.value();
                        if v.is_finite() {
                            v / (hi - lo) as f64
                        } else {
                            v
                        }
                    }
                })
            }
            WindowAgg::Min(w) => {
                w.slide(values, lo, hi);
                (lo < hi).then(|| w.get().0)
            }
            WindowAgg::Max(w) => {
                w.slide(values, lo, hi);
                (lo < hi).then(|| w.get().0)
            }
            WindowAgg::Var(w, sqrt) => {
                w.slide(values, lo, hi);
                let var = w.get().variance();
                (lo < hi).then(|| if *sqrt { var.sqrt() } else { var })
            }
            WindowAgg::Quantile(w, q) => {
                w.slide(values, lo, hi);
                (lo < hi).then(|| quantile_sorted(*q, w.values()))
            }
            WindowAgg::RankQuantile(w, q) => {
                w.slide(lo, hi);
                (lo < hi).then(|| w.quantile(*q))
            }
            WindowAgg::QuantileSelect(buf, q) => {
                buf.clear();
                buf.extend_from_slice(&values[lo..hi]);
                (lo < hi).then(|| quantile_select(*q, buf))
            }
            WindowAgg::First => (lo < hi).then(|| values[lo]),
            WindowAgg::Last => (lo < hi).then(|| values[hi - 1]),
            WindowAgg::RateCounter(window) => {
                (lo < hi).then(|| rate_counter(&samples[lo..hi], *window))
            }
        }
    }
}

/// Loki's `avgOverTime` loop, used when a window's finite sum overflows.
fn incremental_mean(values: &[f64]) -> f64 {
    let (mut mean, mut count) = (0.0f64, 0.0f64);
    for &v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if v.is_finite() {
                continue;
            }
        }
        mean += v / count - mean / count;
    }
    mean
}

/// Loki's `rateCounter` (`extrapolatedRate(samples, selRange, isCounter=true,
/// isRate=true)`), units quirks included (see the module docs).
fn rate_counter(samples: &[(i64, f64)], window: RangeWindow) -> f64 {
    let n = samples.len();
    if n < 2 {
        return 0.0;
    }
    let ((t0, v0), (tn, vn)) = (samples[0], samples[n - 1]);
    let range_start = t0.wrapping_sub(window.range_ns / 1_000_000);
    let range_end = tn;
    let mut result = vn - v0;
    let mut last = 0.0;
    for &(_, v) in samples {
        if v < last {
            result += last;
        }
        last = v;
    }
    let mut to_start = t0.wrapping_sub(range_start) as f64 / 1000.0;
    let to_end = range_end.wrapping_sub(tn) as f64 / 1000.0;
    let sampled = tn.wrapping_sub(t0) as f64 / 1000.0;
    let avg_between = sampled / (n - 1) as f64;
    if result > 0.0 && v0 >= 0.0 {
        let to_zero = sampled * (v0 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_between * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_between / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_between / 2.0
    };
    result * (interval / sampled) / window.range_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both quantile strategies agree on every window of a sliding sequence.
    #[test]
    fn quantile_modes_agree() {
        let samples: Vec<(i64, f64)> = (0..200)
            .map(|i| {
                (
                    i,
                    ((i * 37) % 23) as f64 - if i % 17 == 0 { f64::NAN } else { 0.0 },
                )
            })
            .collect();
        let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
        for q in [0.0, 0.3, 0.5, 0.99, 1.0] {
            let op = RangeOp::QuantileOverTime(q);
            let w = RangeWindow::new(30);
            let mut sorted = WindowAgg::new(op, w, false);
            let mut select = WindowAgg::new(op, w, true);
            assert!(matches!(sorted, WindowAgg::Quantile(..)));
            assert!(matches!(select, WindowAgg::QuantileSelect(..)));
            for (lo, hi) in [
                (0, 5),
                (2, 40),
                (10, 40),
                (50, 60),
                (55, 200),
                (199, 200),
                (200, 200),
            ] {
                let a = sorted.eval(&samples, &values, lo, hi);
                let b = select.eval(&samples, &values, lo, hi);
                let same = match (a, b) {
                    (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
                    (x, y) => x == y,
                };
                assert!(same, "q={q} [{lo},{hi}): {a:?} vs {b:?}");
            }
        }
    }
}
