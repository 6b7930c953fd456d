//! Vector aggregation, hand-worked from Loki's `VectorAggEvaluator` semantics.

use logjar_logql::metric::*;
use proptest::prelude::*;

fn s(pairs: &[(&str, &str)], v: f64) -> Sample {
    Sample::new(Labels::new(pairs.iter().copied()), v)
}

fn vals(v: &[Sample]) -> Vec<f64> {
    v.iter().map(|s| s.value).collect()
}

fn input() -> Vector {
    vec![
        s(&[("host", "a"), ("app", "x")], 1.0),
        s(&[("host", "b"), ("app", "x")], 4.0),
        s(&[("host", "a"), ("app", "y")], 3.0),
        s(&[("host", "b"), ("app", "y")], 8.0),
    ]
}

fn all() -> Grouping {
    Grouping::by::<&str>(&[])
}

#[test]
fn simple_aggregations_without_grouping() {
    let v = input();
    assert_eq!(aggregate(VectorOp::Sum, &all(), &v), vec![s(&[], 16.0)]);
    assert_eq!(aggregate(VectorOp::Avg, &all(), &v), vec![s(&[], 4.0)]);
    assert_eq!(aggregate(VectorOp::Min, &all(), &v), vec![s(&[], 1.0)]);
    assert_eq!(aggregate(VectorOp::Max, &all(), &v), vec![s(&[], 8.0)]);
    assert_eq!(aggregate(VectorOp::Count, &all(), &v), vec![s(&[], 4.0)]);
    // values 1,4,3,8: mean 4, squared deviations 9+0+1+16 = 26 → 6.5
    let var = aggregate(VectorOp::Stdvar, &all(), &v)[0].value;
    assert!((var - 6.5).abs() < 1e-12);
    let sd = aggregate(VectorOp::Stddev, &all(), &v)[0].value;
    assert!((sd - 6.5f64.sqrt()).abs() < 1e-12);
}

#[test]
fn by_and_without() {
    let v = input();
    assert_eq!(
        aggregate(VectorOp::Sum, &Grouping::by(&["host"]), &v),
        vec![s(&[("host", "a")], 4.0), s(&[("host", "b")], 12.0)]
    );
    assert_eq!(
        aggregate(VectorOp::Max, &Grouping::without(&["host"]), &v),
        vec![s(&[("app", "x")], 4.0), s(&[("app", "y")], 8.0)]
    );
    // by a label nobody has: one group with no labels.
    assert_eq!(
        aggregate(VectorOp::Count, &Grouping::by(&["nope"]), &v),
        vec![s(&[], 4.0)]
    );
}

#[test]
fn empty_input_is_empty_output() {
    for op in [
        VectorOp::Sum,
        VectorOp::Count,
        VectorOp::TopK(3),
        VectorOp::Sort,
    ] {
        assert!(aggregate(op, &all(), &[]).is_empty());
    }
}

#[test]
fn single_sample_stddev_is_zero() {
    let v = vec![s(&[("a", "1")], 42.0)];
    assert_eq!(aggregate(VectorOp::Stddev, &all(), &v), vec![s(&[], 0.0)]);
    assert_eq!(aggregate(VectorOp::Stdvar, &all(), &v), vec![s(&[], 0.0)]);
}

#[test]
fn nan_and_infinity_follow_loki() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let v = vec![
        s(&[("a", "1")], nan),
        s(&[("a", "2")], 2.0),
        s(&[("a", "3")], 1.0),
    ];
    assert_eq!(vals(&aggregate(VectorOp::Min, &all(), &v)), vec![1.0]);
    assert_eq!(vals(&aggregate(VectorOp::Max, &all(), &v)), vec![2.0]);
    assert!(aggregate(VectorOp::Sum, &all(), &v)[0].value.is_nan());
    // Loki's running mean: (Inf - Inf) / 2 → NaN.
    let v = vec![s(&[("a", "1")], inf), s(&[("a", "2")], inf)];
    assert!(aggregate(VectorOp::Avg, &all(), &v)[0].value.is_nan());
    assert_eq!(vals(&aggregate(VectorOp::Sum, &all(), &v)), vec![inf]);
}

#[test]
fn topk_keeps_labels_and_sorts_descending() {
    let v = input();
    let r = aggregate(VectorOp::TopK(2), &all(), &v);
    assert_eq!(r, vec![v[3].clone(), v[1].clone()]);
    let r = aggregate(VectorOp::BottomK(2), &all(), &v);
    assert_eq!(r, vec![v[0].clone(), v[2].clone()]);
    assert_eq!(
        aggregate(VectorOp::ApproxTopK(2), &all(), &v),
        aggregate(VectorOp::TopK(2), &all(), &v)
    );
}

#[test]
fn topk_per_group() {
    let v = input();
    let r = aggregate(VectorOp::TopK(1), &Grouping::by(&["app"]), &v);
    assert_eq!(r, vec![v[1].clone(), v[3].clone()]);
    let r = aggregate(VectorOp::BottomK(1), &Grouping::without(&["app"]), &v);
    assert_eq!(r, vec![v[0].clone(), v[1].clone()]);
}

#[test]
fn topk_k_larger_than_group_and_k_below_one() {
    let v = input();
    assert_eq!(
        vals(&aggregate(VectorOp::TopK(10), &all(), &v)),
        vec![8.0, 4.0, 3.0, 1.0]
    );
    assert!(aggregate(VectorOp::TopK(0), &all(), &v).is_empty());
    assert!(aggregate(VectorOp::BottomK(-3), &all(), &v).is_empty());
}

#[test]
fn topk_ties_keep_earlier_input() {
    let v = vec![
        s(&[("n", "a")], 5.0),
        s(&[("n", "b")], 5.0),
        s(&[("n", "c")], 3.0),
    ];
    assert_eq!(aggregate(VectorOp::TopK(1), &all(), &v), vec![v[0].clone()]);
    assert_eq!(
        aggregate(VectorOp::TopK(2), &all(), &v),
        vec![v[0].clone(), v[1].clone()]
    );
    assert_eq!(
        aggregate(VectorOp::BottomK(2), &all(), &v),
        vec![v[2].clone(), v[0].clone()]
    );
}

#[test]
fn nan_ranks_last_for_topk_and_bottomk() {
    let v = vec![
        s(&[("n", "a")], f64::NAN),
        s(&[("n", "b")], 1.0),
        s(&[("n", "c")], 2.0),
    ];
    assert_eq!(
        vals(&aggregate(VectorOp::TopK(2), &all(), &v)),
        vec![2.0, 1.0]
    );
    assert_eq!(
        vals(&aggregate(VectorOp::BottomK(2), &all(), &v)),
        vec![1.0, 2.0]
    );
    let r = aggregate(VectorOp::TopK(3), &all(), &v);
    assert_eq!(&vals(&r)[..2], &[2.0, 1.0]);
    assert!(r[2].value.is_nan());
}

#[test]
fn sort_and_sort_desc() {
    let v = vec![
        s(&[("n", "a")], 2.0),
        s(&[("n", "b")], f64::NAN),
        s(&[("n", "c")], -1.0),
        s(&[("n", "d")], 10.0),
    ];
    let r = aggregate(VectorOp::Sort, &all(), &v);
    assert_eq!(&vals(&r)[..3], &[-1.0, 2.0, 10.0]);
    assert!(r[3].value.is_nan());
    let r = aggregate(VectorOp::SortDesc, &all(), &v);
    assert_eq!(&vals(&r)[..3], &[10.0, 2.0, -1.0]);
    assert!(r[3].value.is_nan());
    assert_eq!(r[0].labels, Labels::new([("n", "d")]));
}

#[test]
fn instant_results_sorted_by_labels_when_asked() {
    let mut r = aggregate(VectorOp::TopK(4), &all(), &input());
    sort_vector_by_labels(&mut r);
    let labels: Vec<String> = r.iter().map(|s| s.labels.to_string()).collect();
    assert_eq!(
        labels,
        vec![
            r#"{app="x", host="a"}"#,
            r#"{app="x", host="b"}"#,
            r#"{app="y", host="a"}"#,
            r#"{app="y", host="b"}"#
        ]
    );
}

#[test]
fn matrix_aggregation_step_by_step() {
    let series = |host: &str, pts: &[(i64, f64)]| Series {
        labels: Labels::new([("host", host)]),
        points: pts
            .iter()
            .map(|&(ts_ms, value)| Point { ts_ms, value })
            .collect(),
    };
    let m = vec![
        series("a", &[(0, 1.0), (60_000, 2.0)]),
        series("b", &[(60_000, 5.0), (120_000, 7.0)]),
    ];
    let ts = [0, 60_000, 120_000];
    let r = aggregate_matrix(VectorOp::Sum, &all(), &m, &ts);
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].points,
        vec![
            Point {
                ts_ms: 0,
                value: 1.0
            },
            Point {
                ts_ms: 60_000,
                value: 7.0
            },
            Point {
                ts_ms: 120_000,
                value: 7.0
            }
        ]
    );
    // topk(1) over a range: a series appears where it was selected, sorted by labels.
    let r = aggregate_matrix(VectorOp::TopK(1), &all(), &m, &ts);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].labels, Labels::new([("host", "a")]));
    assert_eq!(
        r[0].points,
        vec![Point {
            ts_ms: 0,
            value: 1.0
        }]
    );
    assert_eq!(r[1].points.len(), 2);
}

proptest! {
    /// sum by (g) agrees with a direct per-group sum for integer-valued inputs, and
    /// count/avg are consistent with it.
    #[test]
    fn sum_count_avg_consistent(values in prop::collection::vec((0u8..4, -1000i32..1000), 0..40)) {
        let v: Vector = values
            .iter()
            .enumerate()
            .map(|(i, &(g, x))| s(&[("g", &g.to_string()), ("i", &i.to_string())], f64::from(x)))
            .collect();
        let by = Grouping::by(&["g"]);
        let sums = aggregate(VectorOp::Sum, &by, &v);
        let counts = aggregate(VectorOp::Count, &by, &v);
        let avgs = aggregate(VectorOp::Avg, &by, &v);
        prop_assert_eq!(sums.len(), counts.len());
        for ((sm, c), a) in sums.iter().zip(&counts).zip(&avgs) {
            let g = sm.labels.get("g").unwrap_or("");
            let want: f64 = values.iter().filter(|(x, _)| x.to_string() == g).map(|&(_, x)| f64::from(x)).sum();
            prop_assert_eq!(sm.value, want);
            prop_assert!((a.value - want / c.value).abs() <= 1e-9 * want.abs().max(1.0));
        }
        let top = aggregate(VectorOp::TopK(3), &by, &v);
        for g in &sums {
            let in_group = top.iter().filter(|s| s.labels.get("g") == g.labels.get("g")).count();
            let size = v.iter().filter(|s| s.labels.get("g") == g.labels.get("g")).count();
            prop_assert_eq!(in_group, size.min(3));
        }
    }
}

fn op_strategy() -> impl Strategy<Value = VectorOp> {
    prop_oneof![
        Just(VectorOp::Sum),
        Just(VectorOp::Avg),
        Just(VectorOp::Min),
        Just(VectorOp::Max),
        Just(VectorOp::Count),
        Just(VectorOp::Stddev),
        Just(VectorOp::Stdvar),
        (-1i64..5).prop_map(VectorOp::TopK),
        (-1i64..5).prop_map(VectorOp::BottomK),
        Just(VectorOp::Sort),
        Just(VectorOp::SortDesc),
    ]
}

proptest! {
    /// aggregate_matrix (group ids resolved once per series) equals aggregating each
    /// step's vector on its own.
    #[test]
    fn matrix_aggregation_equals_per_step(
        op in op_strategy(),
        without in any::<bool>(),
        series in prop::collection::vec(
            (0u8..3, 0u8..3, prop::collection::btree_map(0i64..6, -50i32..50, 0..6)),
            0..8,
        ),
    ) {
        let mut seen = std::collections::HashSet::new();
        let matrix: Matrix = series
            .into_iter()
            .filter(|(a, b, _)| seen.insert((*a, *b)))
            .map(|(a, b, pts)| Series {
                labels: Labels::new([("a", a.to_string()), ("b", b.to_string())]),
                points: pts.into_iter().map(|(t, v)| Point { ts_ms: t * 1000, value: f64::from(v) }).collect(),
            })
            .collect();
        let ts: Vec<i64> = (0..6).map(|t| t * 1000).collect();
        let grouping = if without { Grouping::without(&["b"]) } else { Grouping::by(&["a"]) };
        let want = vectors_to_matrix(
            &ts,
            matrix_to_vectors(&matrix, &ts).iter().map(|v| aggregate(op, &grouping, v)).collect(),
        );
        let got = aggregate_matrix(op, &grouping, &matrix, &ts);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.labels, &w.labels);
            prop_assert_eq!(g.points.len(), w.points.len());
            for (gp, wp) in g.points.iter().zip(&w.points) {
                prop_assert_eq!(gp.ts_ms, wp.ts_ms);
                prop_assert!(gp.value == wp.value || (gp.value.is_nan() && wp.value.is_nan()));
            }
        }
    }
}
