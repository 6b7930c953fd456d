//! Binary operators, vector matching, label_replace and vector(), hand-worked from
//! Loki's `vectorBinop`/`MergeBinOp`/`resultMetric` semantics.

use logjar_logql::metric::*;

fn s(pairs: &[(&str, &str)], v: f64) -> Sample {
    Sample::new(Labels::new(pairs.iter().copied()), v)
}

fn one_to_one() -> VectorMatching {
    VectorMatching::default()
}

#[test]
fn arithmetic_one_to_one_on_all_labels() {
    let l = vec![
        s(&[("a", "1")], 6.0),
        s(&[("a", "2")], 1.0),
        s(&[("a", "3")], 9.0),
    ];
    let r = vec![s(&[("a", "1")], 3.0), s(&[("a", "2")], 4.0)];
    let cases = [
        (BinOp::Add, vec![9.0, 5.0]),
        (BinOp::Sub, vec![3.0, -3.0]),
        (BinOp::Mul, vec![18.0, 4.0]),
        (BinOp::Div, vec![2.0, 0.25]),
        (BinOp::Mod, vec![0.0, 1.0]),
        (BinOp::Pow, vec![216.0, 1.0]),
    ];
    for (op, want) in cases {
        let got = vector_binop(op, &one_to_one(), false, &l, &r).unwrap();
        assert_eq!(
            got.iter().map(|s| s.value).collect::<Vec<_>>(),
            want,
            "{op:?}"
        );
        assert_eq!(got[0].labels, Labels::new([("a", "1")]));
        assert_eq!(got.len(), 2, "unmatched lhs sample dropped");
    }
}

#[test]
fn division_and_modulo_by_zero_are_nan() {
    let l = vec![
        s(&[("a", "1")], 1.0),
        s(&[("a", "2")], -1.0),
        s(&[("a", "3")], 0.0),
    ];
    let r = vec![
        s(&[("a", "1")], 0.0),
        s(&[("a", "2")], -0.0),
        s(&[("a", "3")], 0.0),
    ];
    for op in [BinOp::Div, BinOp::Mod] {
        let got = vector_binop(op, &one_to_one(), false, &l, &r).unwrap();
        assert!(got.iter().all(|s| s.value.is_nan()), "{op:?}: {got:?}");
    }
    let got = vector_scalar_binop(BinOp::Div, &l, 0.0, false, false).unwrap();
    assert!(got.iter().all(|s| s.value.is_nan()));
    // Modulo follows Go's math.Mod: sign of the dividend.
    assert_eq!(scalar_binop(BinOp::Mod, -7.0, 3.0), Ok(-1.0));
    assert_eq!(scalar_binop(BinOp::Mod, 7.0, -3.0), Ok(1.0));
    assert_eq!(
        scalar_binop(BinOp::Pow, -8.0, 1.0 / 3.0).map(f64::is_nan),
        Ok(true)
    );
    assert_eq!(scalar_binop(BinOp::Pow, 0.0, -1.0), Ok(f64::INFINITY));
}

#[test]
fn comparison_filters_and_keeps_lhs_value() {
    let l = vec![s(&[("a", "1")], 5.0), s(&[("a", "2")], 1.0)];
    let r = vec![s(&[("a", "1")], 3.0), s(&[("a", "2")], 4.0)];
    let got = vector_binop(BinOp::Gt, &one_to_one(), false, &l, &r).unwrap();
    assert_eq!(got, vec![s(&[("a", "1")], 5.0)]);
    let got = vector_binop(BinOp::Gt, &one_to_one(), true, &l, &r).unwrap();
    assert_eq!(got, vec![s(&[("a", "1")], 1.0), s(&[("a", "2")], 0.0)]);
    let got = vector_binop(BinOp::Le, &one_to_one(), false, &l, &r).unwrap();
    assert_eq!(got, vec![s(&[("a", "2")], 1.0)]);
    // NaN compares false except with !=.
    let n = vec![s(&[("a", "1")], f64::NAN)];
    let m = vec![s(&[("a", "1")], f64::NAN)];
    assert!(vector_binop(BinOp::Eq, &one_to_one(), false, &n, &m)
        .unwrap()
        .is_empty());
    assert_eq!(
        vector_binop(BinOp::Ne, &one_to_one(), true, &n, &m).unwrap()[0].value,
        1.0
    );
}

#[test]
fn vector_scalar_both_sides() {
    let v = vec![s(&[("a", "1")], 2.0), s(&[("a", "2")], 8.0)];
    let r = vector_scalar_binop(BinOp::Sub, &v, 10.0, false, false).unwrap();
    assert_eq!(r, vec![s(&[("a", "1")], -8.0), s(&[("a", "2")], -2.0)]);
    let r = vector_scalar_binop(BinOp::Sub, &v, 10.0, true, false).unwrap();
    assert_eq!(r, vec![s(&[("a", "1")], 8.0), s(&[("a", "2")], 2.0)]);
    // 5 > v keeps the vector's value, not the scalar's.
    let r = vector_scalar_binop(BinOp::Gt, &v, 5.0, true, false).unwrap();
    assert_eq!(r, vec![s(&[("a", "1")], 2.0)]);
    let r = vector_scalar_binop(BinOp::Gt, &v, 5.0, false, true).unwrap();
    assert_eq!(r, vec![s(&[("a", "1")], 0.0), s(&[("a", "2")], 1.0)]);
    assert_eq!(
        vector_scalar_binop(BinOp::And, &v, 1.0, false, false),
        Err(BinOpError::SetOperatorOnScalar("and"))
    );
}

#[test]
fn scalar_scalar() {
    assert_eq!(scalar_binop(BinOp::Add, 1.0, 2.0), Ok(3.0));
    assert_eq!(scalar_binop(BinOp::Eq, 1.0, 2.0), Ok(0.0));
    assert_eq!(scalar_binop(BinOp::Ge, 2.0, 2.0), Ok(1.0));
    assert!(scalar_binop(BinOp::Div, 0.0, 0.0).unwrap().is_nan());
    assert_eq!(
        scalar_binop(BinOp::Or, 1.0, 2.0),
        Err(BinOpError::SetOperatorOnScalar("or"))
    );
}

#[test]
fn on_and_ignoring_reduce_result_labels() {
    let l = vec![s(&[("host", "h"), ("app", "x"), ("lvl", "err")], 6.0)];
    let r = vec![s(&[("host", "h"), ("app", "y")], 2.0)];
    let got = vector_binop(BinOp::Div, &VectorMatching::on(&["host"]), false, &l, &r).unwrap();
    assert_eq!(got, vec![s(&[("host", "h")], 3.0)]);
    let got = vector_binop(
        BinOp::Div,
        &VectorMatching::ignoring(&["app", "lvl"]),
        false,
        &l,
        &r,
    )
    .unwrap();
    assert_eq!(got, vec![s(&[("host", "h")], 3.0)]);
    // Filtering comparison with on(): labels reduced too, value from lhs.
    let got = vector_binop(BinOp::Gt, &VectorMatching::on(&["host"]), false, &l, &r).unwrap();
    assert_eq!(got, vec![s(&[("host", "h")], 6.0)]);
    // Without a matching label on either side, on(x) matches the empty signature.
    let got = vector_binop(BinOp::Add, &VectorMatching::on(&["nope"]), false, &l, &r).unwrap();
    assert_eq!(got, vec![s(&[], 8.0)]);
}

#[test]
fn group_left_copies_extra_labels_from_one_side() {
    let many = vec![
        s(&[("host", "h1"), ("code", "500")], 2.0),
        s(&[("host", "h1"), ("code", "502")], 6.0),
        s(&[("host", "h2"), ("code", "500")], 1.0),
    ];
    let one = vec![
        s(&[("host", "h1"), ("dc", "eu"), ("tier", "1")], 8.0),
        s(&[("host", "h2"), ("tier", "2")], 4.0),
    ];
    let m = VectorMatching::on(&["host"]).group_left(&["dc", "tier"]);
    let got = vector_binop(BinOp::Div, &m, false, &many, &one).unwrap();
    assert_eq!(
        got,
        vec![
            s(
                &[("host", "h1"), ("code", "500"), ("dc", "eu"), ("tier", "1")],
                0.25
            ),
            s(
                &[("host", "h1"), ("code", "502"), ("dc", "eu"), ("tier", "1")],
                0.75
            ),
            // h2 has no dc on the one side: absent in the result.
            s(&[("host", "h2"), ("code", "500"), ("tier", "2")], 0.25),
        ]
    );
}

#[test]
fn group_left_removes_include_label_absent_on_one_side() {
    let many = vec![s(&[("host", "h"), ("dc", "stale")], 1.0)];
    let one = vec![s(&[("host", "h")], 1.0)];
    let m = VectorMatching::on(&["host"]).group_left(&["dc"]);
    let got = vector_binop(BinOp::Add, &m, false, &many, &one).unwrap();
    assert_eq!(got, vec![s(&[("host", "h")], 2.0)]);
}

#[test]
fn group_right_keeps_operand_order() {
    let one = vec![s(&[("host", "h"), ("dc", "eu")], 10.0)];
    let many = vec![
        s(&[("host", "h"), ("code", "1")], 2.0),
        s(&[("host", "h"), ("code", "2")], 12.0),
    ];
    let m = VectorMatching::on(&["host"]).group_right(&["dc"]);
    let got = vector_binop(BinOp::Sub, &m, false, &one, &many).unwrap();
    assert_eq!(
        got,
        vec![
            s(&[("host", "h"), ("code", "1"), ("dc", "eu")], 8.0),
            s(&[("host", "h"), ("code", "2"), ("dc", "eu")], -2.0),
        ]
    );
    // one > many keeps the lhs (one side) value with the many side's labels.
    let got = vector_binop(BinOp::Gt, &m, false, &one, &many).unwrap();
    assert_eq!(
        got,
        vec![s(&[("host", "h"), ("code", "1"), ("dc", "eu")], 10.0)]
    );
}

#[test]
fn many_to_many_errors() {
    let l = vec![s(&[("host", "h"), ("c", "1")], 1.0)];
    let dup = vec![
        s(&[("host", "h"), ("c", "1")], 1.0),
        s(&[("host", "h"), ("c", "2")], 2.0),
    ];
    let on = VectorMatching::on(&["host"]);
    let err = vector_binop(BinOp::Add, &on, false, &l, &dup).unwrap_err();
    assert_eq!(err, BinOpError::DuplicateSeries { side: "right" });
    assert_eq!(
        err.to_string(),
        "found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side"
    );
    let err = vector_binop(
        BinOp::Add,
        &on.clone().group_right::<&str>(&[]),
        false,
        &dup,
        &l,
    )
    .unwrap_err();
    assert_eq!(err, BinOpError::DuplicateSeries { side: "left" });
    // Duplicates on the many side without group_left.
    let err = vector_binop(BinOp::Add, &on, false, &dup, &l).unwrap_err();
    assert_eq!(err, BinOpError::ManyToOneNotExplicit);
    assert_eq!(
        err.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    // Loki checks before filtering: even a false comparison errors.
    let err = vector_binop(BinOp::Gt, &on, false, &dup, &[s(&[("host", "h")], 100.0)]).unwrap_err();
    assert_eq!(err, BinOpError::ManyToOneNotExplicit);
    // group_left whose results collide.
    let many = vec![
        s(&[("host", "h"), ("c", "1")], 1.0),
        s(&[("host", "h"), ("c", "2")], 2.0),
    ];
    let m = VectorMatching::ignoring(&["c"]).group_left::<&str>(&[]);
    assert!(vector_binop(BinOp::Add, &m, false, &many, &l).is_ok());
    let m = VectorMatching::on(&["host"]).group_left::<&str>(&[]);
    let colliding = vec![
        s(&[("host", "h"), ("c", "1")], 1.0),
        s(&[("host", "h"), ("c", "1"), ("x", "")], 2.0),
    ];
    // ("x", "") is dropped, so both samples have equal labels and equal results.
    let err = vector_binop(BinOp::Add, &m, false, &colliding, &l).unwrap_err();
    assert_eq!(err, BinOpError::GroupingNotUnique);
}

#[test]
fn set_operators() {
    let l = vec![
        s(&[("a", "1"), ("b", "x")], 1.0),
        s(&[("a", "2"), ("b", "x")], 2.0),
    ];
    let r = vec![
        s(&[("a", "1"), ("b", "y")], 10.0),
        s(&[("a", "3"), ("b", "y")], 30.0),
    ];
    let all = one_to_one();
    assert!(vector_binop(BinOp::And, &all, false, &l, &r)
        .unwrap()
        .is_empty());
    let on_a = VectorMatching::on(&["a"]);
    assert_eq!(
        vector_binop(BinOp::And, &on_a, false, &l, &r).unwrap(),
        vec![l[0].clone()]
    );
    assert_eq!(
        vector_binop(BinOp::Unless, &on_a, false, &l, &r).unwrap(),
        vec![l[1].clone()]
    );
    assert_eq!(
        vector_binop(BinOp::Or, &on_a, false, &l, &r).unwrap(),
        vec![l[0].clone(), l[1].clone(), r[1].clone()]
    );
    let ign_b = VectorMatching::ignoring(&["b"]);
    assert_eq!(
        vector_binop(BinOp::And, &ign_b, false, &l, &r).unwrap(),
        vec![l[0].clone()]
    );
    assert_eq!(
        vector_binop(BinOp::Or, &all, false, &l, &r).unwrap().len(),
        4
    );
    // Empty sides.
    assert!(vector_binop(BinOp::And, &on_a, false, &l, &[])
        .unwrap()
        .is_empty());
    assert_eq!(vector_binop(BinOp::Or, &on_a, false, &[], &r).unwrap(), r);
    assert_eq!(
        vector_binop(BinOp::Unless, &on_a, false, &l, &[]).unwrap(),
        l
    );
    // Set operators are many-to-many: duplicates are fine.
    let dup = vec![
        s(&[("a", "1"), ("b", "p")], 1.0),
        s(&[("a", "1"), ("b", "q")], 2.0),
    ];
    assert_eq!(
        vector_binop(BinOp::And, &on_a, false, &dup, &r)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn matrix_binop_step_by_step() {
    let series = |l: &str, pts: &[(i64, f64)]| Series {
        labels: Labels::new([("a", l)]),
        points: pts
            .iter()
            .map(|&(ts_ms, value)| Point { ts_ms, value })
            .collect(),
    };
    let ts = [0, 1000, 2000];
    let l = vec![series("1", &[(0, 1.0), (1000, 2.0), (2000, 3.0)])];
    let r = vec![series("1", &[(1000, 10.0), (2000, 0.0)])];
    let got = matrix_binop(BinOp::Div, &one_to_one(), false, &l, &r, &ts).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].points.len(), 2);
    assert_eq!(
        got[0].points[0],
        Point {
            ts_ms: 1000,
            value: 0.2
        }
    );
    assert!(got[0].points[1].value.is_nan());
    let got = matrix_scalar_binop(BinOp::Mul, &l, 2.0, true, false, &ts).unwrap();
    assert_eq!(
        got[0].points.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![2.0, 4.0, 6.0]
    );
    let dup = vec![
        series("1", &[(2000, 1.0)]),
        Series {
            labels: Labels::new([("a", "1"), ("b", "2")]),
            points: vec![Point {
                ts_ms: 2000,
                value: 1.0,
            }],
        },
    ];
    let err = matrix_binop(
        BinOp::Add,
        &VectorMatching::on(&["a"]),
        false,
        &l,
        &dup,
        &ts,
    )
    .unwrap_err();
    assert_eq!(err, BinOpError::DuplicateSeries { side: "right" });
}

#[test]
fn label_replace_semantics() {
    let l = Labels::new([("src", "host-12.eu"), ("keep", "k")]);
    let lr = LabelReplace::new("n", "$1", "src", "host-(\\d+)\\..*").unwrap();
    assert_eq!(lr.apply(&l).get("n"), Some("12"));
    let lr = LabelReplace::new("n", "${num}x", "src", "host-(?P<num>\\d+).*").unwrap();
    assert_eq!(lr.apply(&l).get("n"), Some("12x"));
    // $1x is the (missing) group named "1x": empty → dst removed.
    let lr = LabelReplace::new("keep", "$1x", "src", "host-(\\d+).*").unwrap();
    assert_eq!(lr.apply(&l).get("keep"), None);
    // $$ is a literal dollar.
    let lr = LabelReplace::new("n", "$$1", "src", ".*").unwrap();
    assert_eq!(lr.apply(&l).get("n"), Some("$1"));
    // No (anchored) match: unchanged, even the destination.
    let lr = LabelReplace::new("keep", "z", "src", "host").unwrap();
    assert_eq!(lr.apply(&l), l);
    // Missing source is the empty string.
    let lr = LabelReplace::new("n", "empty", "missing", "").unwrap();
    assert_eq!(lr.apply(&l).get("n"), Some("empty"));
    // Overwrite the source itself.
    let lr = LabelReplace::new("src", "h$1", "src", "host-(\\d+).*").unwrap();
    assert_eq!(lr.apply(&l).get("src"), Some("h12"));
    assert!(LabelReplace::new("n", "x", "src", "(").is_err());
}

#[test]
fn label_replace_over_matrix_joins_series() {
    let series = |v: &str, ts_ms: i64| Series {
        labels: Labels::new([("a", v)]),
        points: vec![Point { ts_ms, value: 1.0 }],
    };
    let m = vec![series("x1", 1000), series("x2", 0)];
    let lr = LabelReplace::new("a", "x", "a", "x.*").unwrap();
    let got = lr.apply_matrix(&m);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].points.iter().map(|p| p.ts_ms).collect::<Vec<_>>(),
        vec![0, 1000]
    );
    let v = lr.apply_vector(&[s(&[("a", "x9")], 3.0)]);
    assert_eq!(v, vec![s(&[("a", "x")], 3.0)]);
}

#[test]
fn vector_function() {
    let steps = Steps::range(0, 120_000_000_000, 60_000_000_000).unwrap();
    let m = vector_matrix(2.0, &steps.timestamps_ms(0));
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(
        m[0].points,
        vec![
            Point {
                ts_ms: 0,
                value: 2.0
            },
            Point {
                ts_ms: 60_000,
                value: 2.0
            },
            Point {
                ts_ms: 120_000,
                value: 2.0
            }
        ]
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn vector() -> impl Strategy<Value = Vector> {
        prop::collection::vec((0u8..3, 0u8..3, -5i32..5), 0..8).prop_map(|v| {
            v.into_iter()
                .map(|(a, b, x)| {
                    s(
                        &[("a", &a.to_string()), ("b", &b.to_string())],
                        f64::from(x),
                    )
                })
                .collect()
        })
    }

    fn matching() -> impl Strategy<Value = VectorMatching> {
        prop_oneof![
            Just(VectorMatching::default()),
            Just(VectorMatching::on(&["a"])),
            Just(VectorMatching::ignoring(&["b"])),
            Just(VectorMatching::on::<&str>(&[])),
        ]
    }

    proptest! {
        /// `a and b` and `a unless b` split `a` in two, order kept; `a or b` starts with
        /// `a` and adds only rhs samples whose signature `a` lacks.
        #[test]
        fn set_operators_partition(l in vector(), r in vector(), m in matching()) {
            let and = vector_binop(BinOp::And, &m, false, &l, &r).unwrap();
            let unless = vector_binop(BinOp::Unless, &m, false, &l, &r).unwrap();
            prop_assert_eq!(and.len() + unless.len(), l.len());
            let mut ai = and.iter().peekable();
            let mut ui = unless.iter().peekable();
            for x in &l {
                if ai.peek() == Some(&x) {
                    ai.next();
                } else {
                    prop_assert_eq!(ui.next(), Some(x));
                }
            }
            let or = vector_binop(BinOp::Or, &m, false, &l, &r).unwrap();
            prop_assert_eq!(&or[..l.len()], &l[..]);
            prop_assert!(or[l.len()..].iter().all(|x| r.contains(x)));
        }

        /// One-to-one `+` on all labels with unique labels is an inner join on labels,
        /// and `==` without bool keeps exactly the lhs samples equal to their match.
        #[test]
        fn one_to_one_is_inner_join(l in vector(), r in vector()) {
            let mut seen = std::collections::HashSet::new();
            let l: Vector = l.into_iter().filter(|x| seen.insert(x.labels.clone())).collect();
            let mut seen = std::collections::HashSet::new();
            let r: Vector = r.into_iter().filter(|x| seen.insert(x.labels.clone())).collect();
            let m = VectorMatching::default();
            let sum = vector_binop(BinOp::Add, &m, false, &l, &r).unwrap();
            let want: Vector = l
                .iter()
                .filter_map(|x| r.iter().find(|y| y.labels == x.labels).map(|y| Sample::new(x.labels.clone(), x.value + y.value)))
                .collect();
            prop_assert_eq!(sum, want);
            let eq = vector_binop(BinOp::Eq, &m, false, &l, &r).unwrap();
            let want: Vector = l
                .iter()
                .filter(|x| r.iter().any(|y| y.labels == x.labels && y.value == x.value))
                .cloned()
                .collect();
            prop_assert_eq!(eq, want);
        }
    }
}
