//! Range aggregation: hand-worked cases from Loki's documented/source semantics, and a
//! property test against an obviously-correct reference that rescans every sample at
//! every step.

use logjar_logql::matcher::{LabelMatcher, MatchOp};
use logjar_logql::metric::*;
use proptest::prelude::*;

const S: i64 = 1_000_000_000;

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

fn entries(labels: Labels, secs: &[i64]) -> LogSeries {
    LogSeries {
        labels,
        buckets: secs
            .iter()
            .map(|&t| EntryBucket {
                ts_ns: t * S,
                count: 1,
                bytes: 10,
            })
            .collect(),
    }
}

fn values(m: &Matrix) -> Vec<Vec<(i64, f64)>> {
    m.iter()
        .map(|s| s.points.iter().map(|p| (p.ts_ms, p.value)).collect())
        .collect()
}

fn unwrap_series(labels: Labels, pts: &[(i64, f64)]) -> SampleSeries {
    SampleSeries {
        labels,
        samples: pts.iter().map(|&(t, v)| (t * S, v)).collect(),
    }
}

fn one_value(op: RangeOp, range_s: i64, at_s: i64, pts: &[(i64, f64)]) -> Option<f64> {
    let m = unwrapped_range_aggregate(
        op,
        RangeWindow::new(range_s * S),
        &Steps::instant(at_s * S),
        &[unwrap_series(lbl(&[("a", "1")]), pts)],
    );
    m.first().map(|s| s.points[0].value)
}

#[test]
fn window_excludes_start_includes_end() {
    // Samples exactly at t - range (excluded) and at t (included).
    let s = entries(lbl(&[("app", "x")]), &[0, 60, 120]);
    let steps = Steps::range(60 * S, 120 * S, 60 * S).unwrap();
    let m = log_range_aggregate(
        RangeOp::CountOverTime,
        RangeWindow::new(60 * S),
        &steps,
        &[s],
    );
    assert_eq!(values(&m), vec![vec![(60_000, 1.0), (120_000, 1.0)]]);
}

#[test]
fn offset_shifts_window_but_not_timestamp() {
    let s = entries(lbl(&[("app", "x")]), &[10, 20, 70]);
    let steps = Steps::range(60 * S, 120 * S, 60 * S).unwrap();
    let w = RangeWindow::new(60 * S).with_offset(50 * S);
    // t=60: (−50, 10] → {10}; t=120: (10, 70] → {20, 70}
    let m = log_range_aggregate(RangeOp::CountOverTime, w, &steps, &[s]);
    assert_eq!(values(&m), vec![vec![(60_000, 1.0), (120_000, 2.0)]]);
}

#[test]
fn overlapping_and_gapped_windows() {
    let s = entries(lbl(&[("app", "x")]), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let steps = Steps::range(3 * S, 9 * S, 3 * S).unwrap(); // 3, 6, 9
                                                            // range 5 > step 3: (−2,3]={1,2,3}, (1,6]={2..6}, (4,9]={5..9}
    let m = log_range_aggregate(
        RangeOp::CountOverTime,
        RangeWindow::new(5 * S),
        &steps,
        std::slice::from_ref(&s),
    );
    assert_eq!(
        values(&m),
        vec![vec![(3000, 3.0), (6000, 5.0), (9000, 5.0)]]
    );
    // range 1 < step 3: (2,3]={3}, (5,6]={6}, (8,9]={9}
    let m = log_range_aggregate(RangeOp::CountOverTime, RangeWindow::new(S), &steps, &[s]);
    assert_eq!(
        values(&m),
        vec![vec![(3000, 1.0), (6000, 1.0), (9000, 1.0)]]
    );
}

#[test]
fn empty_windows_produce_no_point() {
    let s = entries(lbl(&[("app", "x")]), &[100]);
    let steps = Steps::range(60 * S, 180 * S, 60 * S).unwrap();
    let m = log_range_aggregate(
        RangeOp::CountOverTime,
        RangeWindow::new(60 * S),
        &steps,
        &[s],
    );
    assert_eq!(values(&m), vec![vec![(120_000, 1.0)]]);
    let none = entries(lbl(&[("app", "y")]), &[]);
    let m = log_range_aggregate(RangeOp::Rate, RangeWindow::new(60 * S), &steps, &[none]);
    assert!(m.is_empty());
}

#[test]
fn rate_and_bytes() {
    let s = LogSeries {
        labels: lbl(&[("app", "x")]),
        buckets: vec![
            EntryBucket {
                ts_ns: 10 * S,
                count: 1,
                bytes: 100,
            },
            EntryBucket {
                ts_ns: 20 * S,
                count: 1,
                bytes: 50,
            },
            EntryBucket {
                ts_ns: 30 * S,
                count: 1,
                bytes: 0,
            },
        ],
    };
    let steps = Steps::instant(60 * S);
    let w = RangeWindow::new(60 * S);
    let v = |op| {
        values(&log_range_aggregate(
            op,
            w,
            &steps,
            std::slice::from_ref(&s),
        ))[0][0]
            .1
    };
    assert_eq!(v(RangeOp::CountOverTime), 3.0);
    assert_eq!(v(RangeOp::Rate), 0.05);
    assert_eq!(v(RangeOp::BytesOverTime), 150.0);
    assert_eq!(v(RangeOp::BytesRate), 2.5);
}

#[test]
fn zero_byte_entries_still_give_a_point() {
    let s = LogSeries {
        labels: lbl(&[("app", "x")]),
        buckets: vec![EntryBucket {
            ts_ns: 10 * S,
            count: 1,
            bytes: 0,
        }],
    };
    let m = log_range_aggregate(
        RangeOp::BytesOverTime,
        RangeWindow::new(60 * S),
        &Steps::instant(60 * S),
        &[s],
    );
    assert_eq!(values(&m), vec![vec![(60_000, 0.0)]]);
}

#[test]
fn pre_aggregated_buckets_equal_entry_by_entry() {
    let steps = Steps::range(0, 600 * S, 60 * S).unwrap();
    let w = RangeWindow::new(120 * S);
    let single = entries(lbl(&[("app", "x")]), &[61, 70, 80, 119, 120, 121]);
    // 61..=120 lies in one cell (60, 120]: one bucket of 5 entries stamped 120.
    assert!(w.bucket_is_atomic(&steps, 61 * S, 120 * S));
    assert!(!w.bucket_is_atomic(&steps, 61 * S, 121 * S));
    let bulk = LogSeries {
        labels: lbl(&[("app", "x")]),
        buckets: vec![
            EntryBucket {
                ts_ns: 120 * S,
                count: 5,
                bytes: 50,
            },
            EntryBucket {
                ts_ns: 121 * S,
                count: 1,
                bytes: 10,
            },
        ],
    };
    for op in [
        RangeOp::CountOverTime,
        RangeOp::Rate,
        RangeOp::BytesOverTime,
        RangeOp::BytesRate,
    ] {
        assert_eq!(
            log_range_aggregate(op, w, &steps, std::slice::from_ref(&single)),
            log_range_aggregate(op, w, &steps, std::slice::from_ref(&bulk)),
        );
    }
}

#[test]
fn bucket_atomicity_with_offset_and_gaps() {
    let steps = Steps::range(100 * S, 400 * S, 100 * S).unwrap();
    let w = RangeWindow::new(30 * S).with_offset(10 * S);
    // Windows: (60,90], (160,190], (260,290], (360,390].
    assert!(w.bucket_is_atomic(&steps, 91 * S, 160 * S)); // in a gap
    assert!(w.bucket_is_atomic(&steps, 61 * S, 90 * S));
    assert!(!w.bucket_is_atomic(&steps, 89 * S, 91 * S));
    assert!(!w.bucket_is_atomic(&steps, 150 * S, 170 * S));
    assert!(w.bucket_is_atomic(&steps, 391 * S, 10_000 * S)); // after the last window
    assert!(w.bucket_is_atomic(&steps, -5_000 * S, 60 * S)); // before the first
}

#[test]
fn unsorted_input_and_duplicate_labels_are_merged() {
    let a = entries(lbl(&[("app", "x")]), &[50, 10]);
    let b = entries(lbl(&[("app", "x")]), &[30]);
    let m = log_range_aggregate(
        RangeOp::CountOverTime,
        RangeWindow::new(60 * S),
        &Steps::instant(60 * S),
        &[a, b],
    );
    assert_eq!(values(&m), vec![vec![(60_000, 3.0)]]);
}

#[test]
fn matrix_sorted_by_labels() {
    let b = entries(lbl(&[("app", "b")]), &[10]);
    let a = entries(lbl(&[("app", "a")]), &[10]);
    let m = log_range_aggregate(
        RangeOp::CountOverTime,
        RangeWindow::new(60 * S),
        &Steps::instant(60 * S),
        &[b, a],
    );
    assert_eq!(m[0].labels, lbl(&[("app", "a")]));
    assert_eq!(m[1].labels, lbl(&[("app", "b")]));
}

#[test]
fn unwrapped_basic_values() {
    let pts = [(1, 4.0), (2, 2.0), (3, 8.0), (4, 6.0)];
    assert_eq!(one_value(RangeOp::SumOverTime, 10, 4, &pts), Some(20.0));
    assert_eq!(one_value(RangeOp::AvgOverTime, 10, 4, &pts), Some(5.0));
    assert_eq!(one_value(RangeOp::MinOverTime, 10, 4, &pts), Some(2.0));
    assert_eq!(one_value(RangeOp::MaxOverTime, 10, 4, &pts), Some(8.0));
    // population variance of 4,2,8,6: mean 5, squares 1+9+9+1 = 20 → 5
    let var = one_value(RangeOp::StdvarOverTime, 10, 4, &pts).unwrap();
    assert!((var - 5.0).abs() < 1e-12, "{var}");
    let sd = one_value(RangeOp::StddevOverTime, 10, 4, &pts).unwrap();
    assert!((sd - 5f64.sqrt()).abs() < 1e-12, "{sd}");
    assert_eq!(one_value(RangeOp::FirstOverTime, 10, 4, &pts), Some(4.0));
    assert_eq!(one_value(RangeOp::LastOverTime, 10, 4, &pts), Some(6.0));
    assert_eq!(one_value(RangeOp::UnwrappedRate, 10, 4, &pts), Some(2.0));
    // sorted 2,4,6,8: φ=0.9 → rank 2.7 → 6·0.3 + 8·0.7 = 7.4
    let q = one_value(RangeOp::QuantileOverTime(0.9), 10, 4, &pts).unwrap();
    assert!((q - 7.4).abs() < 1e-12);
    assert_eq!(
        one_value(RangeOp::QuantileOverTime(-1.0), 10, 4, &pts),
        Some(f64::NEG_INFINITY)
    );
    assert_eq!(
        one_value(RangeOp::QuantileOverTime(2.0), 10, 4, &pts),
        Some(f64::INFINITY)
    );
}

#[test]
fn single_sample_edge_cases() {
    let pts = [(5, 3.0)];
    assert_eq!(one_value(RangeOp::StddevOverTime, 10, 5, &pts), Some(0.0));
    assert_eq!(one_value(RangeOp::StdvarOverTime, 10, 5, &pts), Some(0.0));
    assert_eq!(
        one_value(RangeOp::QuantileOverTime(0.99), 10, 5, &pts),
        Some(3.0)
    );
    // rate_counter needs two samples; Loki returns 0 (a point) with fewer.
    assert_eq!(one_value(RangeOp::RateCounter, 10, 5, &pts), Some(0.0));
    assert_eq!(one_value(RangeOp::SumOverTime, 10, 100, &pts), None);
}

#[test]
fn nan_and_infinity() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    assert_eq!(
        one_value(RangeOp::MaxOverTime, 10, 4, &[(1, nan), (2, 1.0), (3, nan)]),
        Some(1.0)
    );
    assert_eq!(
        one_value(RangeOp::MinOverTime, 10, 4, &[(1, 5.0), (2, nan)]),
        Some(5.0)
    );
    assert!(one_value(RangeOp::MinOverTime, 10, 4, &[(1, nan)])
        .unwrap()
        .is_nan());
    assert_eq!(
        one_value(RangeOp::AvgOverTime, 10, 4, &[(1, inf), (2, 1.0)]),
        Some(inf)
    );
    assert!(
        one_value(RangeOp::AvgOverTime, 10, 4, &[(1, inf), (2, -inf)])
            .unwrap()
            .is_nan()
    );
    assert!(
        one_value(RangeOp::SumOverTime, 10, 4, &[(1, 1.0), (2, nan)])
            .unwrap()
            .is_nan()
    );
    assert!(
        one_value(RangeOp::StddevOverTime, 10, 4, &[(1, 1.0), (2, inf)])
            .unwrap()
            .is_nan()
    );
    // Finite values whose sum overflows: Loki's running mean stays finite.
    assert_eq!(
        one_value(RangeOp::AvgOverTime, 10, 4, &[(1, 1e308), (2, 1e308)]),
        Some(1e308)
    );
}

#[test]
fn rate_counter_reproduces_loki() {
    // Counter 10, 20, 5 (reset), 15 at 10s spacing, range 60s.
    let pts = [(10, 10.0), (20, 20.0), (30, 5.0), (40, 15.0)];
    let got = one_value(RangeOp::RateCounter, 60, 40, &pts).unwrap();
    // Worked by hand from Loki's extrapolatedRate with ns timestamps:
    // increase = 15 - 10 + 20 (reset) = 25; sampled = 30e9/1000 = 3e7;
    // durationToStart = 60 000 ms / 1000 = 60; durationToZero = 3e7 · 10/25 = 1.2e7 → 60 stays;
    // avg = 1e7, threshold 1.1e7: 60 < threshold → +60; durationToEnd = 0 → +0.
    // result = 25 · (3e7 + 60) / 3e7 / 60.
    let want = 25.0 * ((3e7 + 60.0) / 3e7) / 60.0;
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn grouping_merges_before_aggregation() {
    let a = unwrap_series(
        lbl(&[("host", "h1"), ("path", "/a")]),
        &[(1, 10.0), (3, 30.0)],
    );
    let b = unwrap_series(lbl(&[("host", "h1"), ("path", "/b")]), &[(2, 20.0)]);
    let c = unwrap_series(lbl(&[("host", "h2"), ("path", "/a")]), &[(2, 5.0)]);
    let grouped = group_series(&[a.clone(), b.clone(), c.clone()], &Grouping::by(&["host"]));
    let m = unwrapped_range_aggregate(
        RangeOp::AvgOverTime,
        RangeWindow::new(10 * S),
        &Steps::instant(5 * S),
        &grouped,
    );
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].labels, lbl(&[("host", "h1")]));
    assert_eq!(m[0].points[0].value, 20.0); // avg of 10, 20, 30 — not avg of per-series avgs (25)
    assert_eq!(m[1].points[0].value, 5.0);
    // first_over_time after merging is the earliest sample of the group.
    let m = unwrapped_range_aggregate(
        RangeOp::FirstOverTime,
        RangeWindow::new(10 * S),
        &Steps::instant(5 * S),
        &grouped,
    );
    assert_eq!(m[0].points[0].value, 10.0);
    let without = group_series(&[a, b, c], &Grouping::without(&["host"]));
    assert_eq!(without.len(), 2);
    assert_eq!(without[0].labels, lbl(&[("path", "/a")]));
    assert_eq!(without[0].samples.len(), 3);
}

#[test]
fn absent_over_time_and_labels() {
    let ms = [
        LabelMatcher::new("app", MatchOp::Eq, "api").unwrap(),
        LabelMatcher::new("env", MatchOp::Re, "prod.*").unwrap(),
        LabelMatcher::new("x", MatchOp::Eq, "1").unwrap(),
        LabelMatcher::new("x", MatchOp::Eq, "2").unwrap(),
    ];
    let labels = absent_labels(&ms);
    assert_eq!(labels, lbl(&[("app", "api")]));
    let steps = Steps::range(60 * S, 240 * S, 60 * S).unwrap();
    let m = absent_over_time(
        RangeWindow::new(60 * S),
        &steps,
        [100 * S, 120 * S],
        labels.clone(),
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].labels, labels);
    assert_eq!(
        values(&m),
        vec![vec![(60_000, 1.0), (180_000, 1.0), (240_000, 1.0)]]
    );
    // Data in every window: nothing.
    let m = absent_over_time(
        RangeWindow::new(60 * S),
        &Steps::instant(60 * S),
        [30 * S],
        labels,
    );
    assert!(m.is_empty());
}

#[test]
fn log_ops_and_unwrapped_ops_do_not_mix() {
    let s = entries(lbl(&[("a", "1")]), &[1]);
    assert!(log_range_aggregate(
        RangeOp::SumOverTime,
        RangeWindow::new(S),
        &Steps::instant(S),
        &[s]
    )
    .is_empty());
    let u = unwrap_series(lbl(&[("a", "1")]), &[(1, 1.0)]);
    assert!(unwrapped_range_aggregate(
        RangeOp::CountOverTime,
        RangeWindow::new(S),
        &Steps::instant(S),
        &[u]
    )
    .is_empty());
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let u = unwrap_series(
        lbl(&[("a", "1")]),
        &[(1, 1.0), (1, 2.0), (i64::MAX / S, 3.0)],
    );
    for w in [
        RangeWindow::new(0),
        RangeWindow::new(-S),
        RangeWindow::new(i64::MAX).with_offset(i64::MIN),
    ] {
        for op in ALL_UNWRAPPED {
            let _ = unwrapped_range_aggregate(
                op,
                w,
                &Steps::instant(i64::MAX),
                std::slice::from_ref(&u),
            );
            let _ = unwrapped_range_aggregate(
                op,
                w,
                &Steps::instant(i64::MIN),
                std::slice::from_ref(&u),
            );
        }
    }
    let m = unwrapped_range_aggregate(
        RangeOp::SumOverTime,
        RangeWindow::new(0),
        &Steps::instant(S),
        &[u],
    );
    assert!(m.is_empty(), "a zero range selects nothing");
}

const ALL_UNWRAPPED: [RangeOp; 11] = [
    RangeOp::SumOverTime,
    RangeOp::AvgOverTime,
    RangeOp::MinOverTime,
    RangeOp::MaxOverTime,
    RangeOp::StdvarOverTime,
    RangeOp::StddevOverTime,
    RangeOp::QuantileOverTime(0.9),
    RangeOp::FirstOverTime,
    RangeOp::LastOverTime,
    RangeOp::UnwrappedRate,
    RangeOp::RateCounter,
];

// ---------------------------------------------------------------------------------
// Reference evaluator: for every step, rescan every sample and apply Loki's loops.

mod reference {
    use super::*;

    fn seconds(range_ns: i64) -> f64 {
        (range_ns / 1_000_000_000) as f64 + (range_ns % 1_000_000_000) as f64 / 1e9
    }

    pub fn apply(op: RangeOp, range_ns: i64, ts: &[i64], v: &[f64]) -> f64 {
        match op {
            RangeOp::CountOverTime => v.len() as f64,
            RangeOp::Rate => v.len() as f64 / seconds(range_ns),
            RangeOp::BytesOverTime | RangeOp::SumOverTime => v.iter().fold(0.0, |a, x| a + x),
            RangeOp::BytesRate | RangeOp::UnwrappedRate => {
                v.iter().fold(0.0, |a, x| a + x) / seconds(range_ns)
            }
            RangeOp::AvgOverTime => {
                let (mut mean, mut n) = (0.0f64, 0.0);
                for &x in v {
                    n += 1.0;
                    if mean.is_infinite()
                        && ((x.is_infinite() && (mean > 0.0) == (x > 0.0)) || x.is_finite())
                    {
                        continue;
                    }
                    mean += x / n - mean / n;
                }
                mean
            }
            RangeOp::MinOverTime => v
                .iter()
                .fold(v[0], |m, &x| if x < m || m.is_nan() { x } else { m }),
            RangeOp::MaxOverTime => v
                .iter()
                .fold(v[0], |m, &x| if x > m || m.is_nan() { x } else { m }),
            RangeOp::StdvarOverTime | RangeOp::StddevOverTime => {
                let (mut aux, mut n, mut mean) = (0.0f64, 0.0, 0.0);
                for &x in v {
                    n += 1.0;
                    let d = x - mean;
                    mean += d / n;
                    aux += d * (x - mean);
                }
                let var = aux / n;
                if op == RangeOp::StddevOverTime {
                    var.sqrt()
                } else {
                    var
                }
            }
            RangeOp::QuantileOverTime(q) => {
                if q < 0.0 {
                    return f64::NEG_INFINITY;
                }
                if q > 1.0 {
                    return f64::INFINITY;
                }
                let mut s = v.to_vec();
                s.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    _ => a.partial_cmp(b).unwrap(),
                });
                let n = s.len() as f64;
                let rank = q * (n - 1.0);
                let lo = rank.floor().max(0.0);
                let hi = (n - 1.0).min(lo + 1.0);
                let w = rank - rank.floor();
                s[lo as usize] * (1.0 - w) + s[hi as usize] * w
            }
            RangeOp::FirstOverTime => v[0],
            RangeOp::LastOverTime => v[v.len() - 1],
            RangeOp::RateCounter => {
                if v.len() < 2 {
                    return 0.0;
                }
                let n = v.len();
                let start = ts[0] - range_ns / 1_000_000;
                let end = ts[n - 1];
                let mut result = v[n - 1] - v[0];
                let mut last = 0.0;
                for &x in v {
                    if x < last {
                        result += last;
                    }
                    last = x;
                }
                let mut to_start = (ts[0] - start) as f64 / 1000.0;
                let to_end = (end - ts[n - 1]) as f64 / 1000.0;
                let sampled = (ts[n - 1] - ts[0]) as f64 / 1000.0;
                let avg = sampled / (n - 1) as f64;
                if result > 0.0 && v[0] >= 0.0 {
                    let z = sampled * (v[0] / result);
                    if z < to_start {
                        to_start = z;
                    }
                }
                let th = avg * 1.1;
                let mut iv = sampled;
                iv += if to_start < th { to_start } else { avg / 2.0 };
                iv += if to_end < th { to_end } else { avg / 2.0 };
                result * (iv / sampled) / seconds(range_ns)
            }
        }
    }

    /// series: (labels, [(ts_ns, value)]) — for log ops value is the byte count.
    pub fn evaluate(
        op: RangeOp,
        w: RangeWindow,
        steps: &Steps,
        series: &[(Labels, Vec<(i64, f64)>)],
    ) -> Matrix {
        let mut merged: std::collections::BTreeMap<Labels, Vec<(i64, f64)>> = Default::default();
        for (l, s) in series {
            merged
                .entry(l.clone())
                .or_default()
                .extend(s.iter().copied());
        }
        let mut out = Vec::new();
        for (labels, mut samples) in merged {
            samples.sort_by_key(|s| s.0);
            let mut points = Vec::new();
            for t in steps.timestamps_ns() {
                let end = t - w.offset_ns;
                let start = end - w.range_ns;
                let win: Vec<(i64, f64)> = samples
                    .iter()
                    .copied()
                    .filter(|s| s.0 > start && s.0 <= end)
                    .collect();
                if win.is_empty() {
                    continue;
                }
                let ts: Vec<i64> = win.iter().map(|s| s.0).collect();
                let v: Vec<f64> = win.iter().map(|s| s.1).collect();
                points.push(Point {
                    ts_ms: (t - w.offset_ns) / 1_000_000 + w.offset_ns / 1_000_000,
                    value: apply(op, w.range_ns, &ts, &v),
                });
            }
            if !points.is_empty() {
                out.push(Series { labels, points });
            }
        }
        out
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_same(got: &Matrix, want: &Matrix) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        got.len(),
        want.len(),
        "series count: got {:?} want {:?}",
        got,
        want
    );
    for (g, w) in got.iter().zip(want) {
        prop_assert_eq!(&g.labels, &w.labels);
        prop_assert_eq!(
            g.points.len(),
            w.points.len(),
            "points of {}: got {:?} want {:?}",
            g.labels,
            g.points,
            w.points
        );
        for (gp, wp) in g.points.iter().zip(&w.points) {
            prop_assert_eq!(gp.ts_ms, wp.ts_ms);
            prop_assert!(
                close(gp.value, wp.value),
                "at {} {}: got {} want {}",
                gp.ts_ms,
                g.labels,
                gp.value,
                wp.value
            );
        }
    }
    Ok(())
}

fn op_strategy() -> impl Strategy<Value = RangeOp> {
    prop_oneof![
        Just(RangeOp::SumOverTime),
        Just(RangeOp::AvgOverTime),
        Just(RangeOp::MinOverTime),
        Just(RangeOp::MaxOverTime),
        Just(RangeOp::StdvarOverTime),
        Just(RangeOp::StddevOverTime),
        (-0.2f64..1.2).prop_map(RangeOp::QuantileOverTime),
        Just(RangeOp::FirstOverTime),
        Just(RangeOp::LastOverTime),
        Just(RangeOp::UnwrappedRate),
        Just(RangeOp::RateCounter),
    ]
}

fn value_strategy(specials: bool) -> BoxedStrategy<f64> {
    let quarter = (-400i32..400).prop_map(|q| f64::from(q) / 4.0);
    if specials {
        prop_oneof![
            20 => quarter,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
        ]
        .boxed()
    } else {
        prop_oneof![3 => quarter, 1 => -1e3f64..1e3].boxed()
    }
}

fn series_strategy(specials: bool) -> impl Strategy<Value = Vec<(Labels, Vec<(i64, f64)>)>> {
    let one = (
        0u8..3,
        prop::collection::vec(((0i64..300), value_strategy(specials)), 0..60),
    )
        .prop_map(|(l, samples)| {
            let labels = Labels::new([("s", ["a", "b", "c"][l as usize])]);
            // Timestamps in seconds with a sub-second jitter every few samples.
            let samples = samples
                .into_iter()
                .map(|(t, v)| (t * S + (t % 3) * 250_000_000, v))
                .collect();
            (labels, samples)
        });
    prop::collection::vec(one, 0..4)
}

fn window_strategy() -> impl Strategy<Value = (RangeWindow, Steps)> {
    (1i64..120, 0i64..40, 1i64..60, 0i64..320, 0i64..320).prop_map(
        |(range, offset, step, start, len)| {
            let w = RangeWindow::new(range * S).with_offset(offset * S);
            let steps = Steps::range(start * S, (start + len) * S, step * S).unwrap();
            (w, steps)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn unwrapped_sliding_matches_reference(
        op in op_strategy(),
        series in series_strategy(false),
        (w, steps) in window_strategy(),
    ) {
        let input: Vec<SampleSeries> = series
            .iter()
            .map(|(l, s)| SampleSeries { labels: l.clone(), samples: s.clone() })
            .collect();
        let got = unwrapped_range_aggregate(op, w, &steps, &input);
        let want = reference::evaluate(op, w, &steps, &series);
        assert_same(&got, &want)?;
    }

    #[test]
    fn unwrapped_with_nan_and_inf_matches_reference(
        op in op_strategy(),
        series in series_strategy(true),
        (w, steps) in window_strategy(),
    ) {
        let input: Vec<SampleSeries> = series
            .iter()
            .map(|(l, s)| SampleSeries { labels: l.clone(), samples: s.clone() })
            .collect();
        let got = unwrapped_range_aggregate(op, w, &steps, &input);
        let want = reference::evaluate(op, w, &steps, &series);
        assert_same(&got, &want)?;
    }

    #[test]
    fn log_sliding_matches_reference(
        op in prop_oneof![
            Just(RangeOp::CountOverTime),
            Just(RangeOp::Rate),
            Just(RangeOp::BytesOverTime),
            Just(RangeOp::BytesRate),
        ],
        series in series_strategy(false),
        (w, steps) in window_strategy(),
    ) {
        // Bytes: |value| as an integer line length.
        let series: Vec<(Labels, Vec<(i64, f64)>)> = series
            .into_iter()
            .map(|(l, s)| (l, s.into_iter().map(|(t, v)| (t, v.abs().trunc())).collect()))
            .collect();
        let input: Vec<LogSeries> = series
            .iter()
            .map(|(l, s)| LogSeries {
                labels: l.clone(),
                buckets: s.iter().map(|&(t, b)| EntryBucket { ts_ns: t, count: 1, bytes: b as u64 }).collect(),
            })
            .collect();
        let got = log_range_aggregate(op, w, &steps, &input);
        let want = reference::evaluate(op, w, &steps, &series);
        assert_same(&got, &want)?;
    }

    #[test]
    fn absent_matches_reference(
        series in series_strategy(false),
        (w, steps) in window_strategy(),
    ) {
        let all: Vec<i64> = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.0)).collect();
        let got = absent_over_time(w, &steps, all.iter().copied(), Labels::new([("app", "x")]));
        let present = reference::evaluate(RangeOp::CountOverTime, w, &steps, &[(Labels::empty(), all.iter().map(|&t| (t, 1.0)).collect())]);
        let present_ts: Vec<i64> = present.first().map(|s| s.points.iter().map(|p| p.ts_ms).collect()).unwrap_or_default();
        let want: Vec<i64> = steps.timestamps_ms(w.offset_ns).into_iter().filter(|t| !present_ts.contains(t)).collect();
        let got_ts: Vec<i64> = got.first().map(|s| s.points.iter().map(|p| p.ts_ms).collect()).unwrap_or_default();
        prop_assert_eq!(got_ts, want);
    }

    #[test]
    fn atomic_buckets_give_the_same_counts(
        secs in prop::collection::vec(0i64..300, 0..80),
        (w, steps) in window_strategy(),
    ) {
        let mut secs = secs;
        secs.sort_unstable();
        let single = entries(Labels::new([("a", "1")]), &secs);
        // Greedily fold consecutive entries into one bucket while atomic.
        let mut buckets: Vec<EntryBucket> = Vec::new();
        let mut first_ts = i64::MIN;
        for b in &single.buckets {
            match buckets.last_mut() {
                Some(last) if w.bucket_is_atomic(&steps, first_ts, b.ts_ns) => {
                    last.ts_ns = b.ts_ns;
                    last.count += 1;
                    last.bytes += b.bytes;
                }
                _ => {
                    first_ts = b.ts_ns;
                    buckets.push(*b);
                }
            }
        }
        let bulk = LogSeries { labels: single.labels.clone(), buckets };
        for op in [RangeOp::CountOverTime, RangeOp::BytesRate] {
            prop_assert_eq!(
                log_range_aggregate(op, w, &steps, std::slice::from_ref(&single)),
                log_range_aggregate(op, w, &steps, std::slice::from_ref(&bulk))
            );
        }
    }
}
