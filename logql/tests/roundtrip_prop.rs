//! Random valid ASTs: printing then parsing gives the same tree, and printing is
//! idempotent.
//!
//! The generators produce only trees the parser can produce: selectors with a matcher
//! that rejects the empty string, regexes and patterns that compile, unwrap/grouping/
//! parameter rules of each aggregation, `bool` only on comparisons, no scalar operands
//! for set operators or vector matching, `and`/`or` filter lists of two or more.
//! Label names deliberately include keywords (`json`, `and`, `by`, …) to exercise the
//! printer's disambiguation.

use logjar_logql::matcher::{LabelMatcher, MatchOp};
use logjar_logql::syntax::*;
use proptest::prelude::*;

const KEYWORDS: &[&str] = &[
    "json",
    "logfmt",
    "unwrap",
    "drop",
    "keep",
    "line_format",
    "and",
    "or",
    "by",
    "without",
    "offset",
    "bool",
    "on",
    "ip",
    "bytes",
    "duration",
    "unless",
    "sum",
    "rate",
    "JSON",
];
const REGEXES: &[&str] = &[
    "",
    ".*",
    "a|b",
    "(?i)error",
    "[0-9]+",
    "\\d{3}",
    "^x$",
    "(?P<n>a)",
    "\\p{Han}",
    "a\"b",
];
const NON_EMPTY_REGEXES: &[&str] = &[".+", "a|b", "[0-9]+", "\\d{3}", "x"];
const PARSER_REGEXES: &[&str] = &[
    "(?P<a>\\w+)",
    "(?P<method>\\S+) (?P<path>\\S+)",
    "(?<x>.)(y)",
    "^(?P<level>[A-Z]+):",
];
const PARSER_PATTERNS: &[&str] = &[
    "<a>",
    "<ip> - <_> [<ts>]",
    "x <a> y <_> z",
    "<_> <b>\"<c>\"",
];
const FILTER_PATTERNS: &[&str] = &["", "<_> error <_>", "GET <_>", "plain", "<x"];
const IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.0/8",
    "192.168.0.1-192.168.0.9",
    "::1",
    "2001:db8::/32",
];

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        1 => prop::sample::select(KEYWORDS).prop_map(str::to_string),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9 ]{0,8}",
        1 => any::<String>(),
        1 => prop::sample::select(&["\"", "\\", "\n\t", "#", "`", "成功", "\u{7f}\u{1}"][..]).prop_map(str::to_string),
    ]
}

fn regex() -> impl Strategy<Value = String> {
    prop::sample::select(REGEXES).prop_map(str::to_string)
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i32..1000).prop_map(f64::from),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        prop::sample::select(&[0.5, 0.99, 1e-7, 1e15, 1e16, 1e300][..]),
    ]
}

fn matcher() -> impl Strategy<Value = LabelMatcher> {
    prop_oneof![
        (ident(), text(), any::<bool>()).prop_map(|(n, v, neg)| {
            LabelMatcher::new(n, if neg { MatchOp::Neq } else { MatchOp::Eq }, v).unwrap()
        }),
        (ident(), regex(), any::<bool>()).prop_map(|(n, v, neg)| {
            LabelMatcher::new(n, if neg { MatchOp::Nre } else { MatchOp::Re }, v).unwrap()
        }),
    ]
}

/// A selector with at least one matcher that rejects the empty string.
fn selector() -> impl Strategy<Value = Vec<LabelMatcher>> {
    let required =
        prop_oneof![
            (ident(), "[a-z0-9]{1,6}")
                .prop_map(|(n, v)| LabelMatcher::new(n, MatchOp::Eq, v).unwrap()),
            (ident(), prop::sample::select(NON_EMPTY_REGEXES))
                .prop_map(|(n, v)| LabelMatcher::new(n, MatchOp::Re, v).unwrap()),
            ident().prop_map(|n| LabelMatcher::new(n, MatchOp::Neq, "").unwrap()),
        ];
    (
        required,
        prop::collection::vec(matcher(), 0..3),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(req, mut rest, at)| {
            let i = at.index(rest.len() + 1);
            rest.insert(i, req);
            rest
        })
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(
        &[
            CmpOp::Eq,
            CmpOp::Neq,
            CmpOp::Gt,
            CmpOp::Gte,
            CmpOp::Lt,
            CmpOp::Lte,
        ][..],
    )
}

fn filter_leaf() -> impl Strategy<Value = LabelFilter> {
    prop_oneof![
        matcher().prop_map(LabelFilter::Matcher),
        (ident(), cmp_op(), finite()).prop_map(|(name, op, value)| LabelFilter::Number {
            name,
            op,
            value
        }),
        (ident(), cmp_op(), -i64::MAX..=i64::MAX)
            .prop_map(|(name, op, nanos)| LabelFilter::Duration { name, op, nanos }),
        (
            ident(),
            cmp_op(),
            prop_oneof![0u64..(1 << 53), (0u64..16).prop_map(|x| x << 60)]
        )
            .prop_map(|(name, op, bytes)| LabelFilter::Bytes { name, op, bytes }),
        (ident(), any::<bool>(), prop::sample::select(IPS)).prop_map(|(name, negated, p)| {
            LabelFilter::Ip {
                name,
                negated,
                pattern: p.to_string(),
            }
        }),
    ]
}

fn label_filter() -> impl Strategy<Value = LabelFilter> {
    filter_leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(LabelFilter::And),
            prop::collection::vec(inner, 2..4).prop_map(LabelFilter::Or),
        ]
    })
}

const JSON_PATHS: &[&str] = &[
    "a",
    "a.b",
    "items[0]",
    "servers[10].name",
    "[\"a b\"]",
    "x[\"y\"][2]",
];

/// A `logfmt` field (any key) or, with `json`, a field with a valid JSON path.
fn extraction(json: bool) -> impl Strategy<Value = LabelExtraction> {
    let expr = if json {
        prop::sample::select(JSON_PATHS)
            .prop_map(str::to_string)
            .boxed()
    } else {
        text().boxed()
    };
    prop_oneof![
        ident().prop_map(|l| LabelExtraction {
            label: l.clone(),
            expression: l
        }),
        (ident(), expr).prop_map(|(label, expression)| LabelExtraction { label, expression }),
    ]
}

fn selection() -> impl Strategy<Value = LabelSelection> {
    prop_oneof![
        ident().prop_map(LabelSelection::Name),
        matcher().prop_map(LabelSelection::Matcher)
    ]
}

fn line_filter() -> impl Strategy<Value = LineFilter> {
    let contains = prop_oneof![
        3 => text().prop_map(LineFilterValue::Text),
        1 => prop::sample::select(IPS).prop_map(|s| LineFilterValue::Ip(s.to_string())),
    ];
    prop_oneof![
        (any::<bool>(), prop::collection::vec(contains, 1..4)).prop_map(|(neg, values)| {
            LineFilter {
                op: if neg {
                    LineFilterOp::NotContains
                } else {
                    LineFilterOp::Contains
                },
                values,
            }
        }),
        (
            any::<bool>(),
            prop::collection::vec(regex().prop_map(LineFilterValue::Text), 1..3)
        )
            .prop_map(|(neg, values)| LineFilter {
                op: if neg {
                    LineFilterOp::NotRegex
                } else {
                    LineFilterOp::Regex
                },
                values,
            }),
        (
            any::<bool>(),
            prop::collection::vec(
                prop::sample::select(FILTER_PATTERNS).prop_map(|s| LineFilterValue::Text(s.into())),
                1..3
            )
        )
            .prop_map(|(neg, values)| LineFilter {
                op: if neg {
                    LineFilterOp::NotPattern
                } else {
                    LineFilterOp::Pattern
                },
                values,
            }),
    ]
}

fn label_formats() -> impl Strategy<Value = Vec<LabelFormat>> {
    prop::collection::vec(
        (
            ident(),
            prop_oneof![
                ident().prop_map(LabelFormatValue::Rename),
                text().prop_map(LabelFormatValue::Template)
            ],
        ),
        1..4,
    )
    .prop_map(|mut v| {
        // Each destination once.
        let mut seen = Vec::new();
        v.retain(|(d, _)| {
            let fresh = !seen.contains(d);
            seen.push(d.clone());
            fresh
        });
        v.into_iter()
            .map(|(dst, value)| LabelFormat { dst, value })
            .collect()
    })
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        3 => line_filter().prop_map(Stage::LineFilter),
        1 => prop::collection::vec(extraction(true), 0..3).prop_map(Stage::Json),
        1 => (any::<bool>(), any::<bool>(), prop::collection::vec(extraction(false), 0..3))
            .prop_map(|(strict, keep_empty, fields)| Stage::Logfmt(LogfmtParser { strict, keep_empty, fields })),
        1 => prop::sample::select(PARSER_REGEXES).prop_map(|s| Stage::Regexp(s.into())),
        1 => prop::sample::select(PARSER_PATTERNS).prop_map(|s| Stage::Pattern(s.into())),
        1 => Just(Stage::Unpack),
        3 => label_filter().prop_map(Stage::LabelFilter),
        1 => text().prop_map(Stage::LineFormat),
        1 => label_formats().prop_map(Stage::LabelFormat),
        1 => prop::collection::vec(selection(), 1..3).prop_map(Stage::Drop),
        1 => prop::collection::vec(selection(), 1..3).prop_map(Stage::Keep),
        1 => Just(Stage::Decolorize),
    ]
}

/// `| drop a` followed by `!= "x"` or `!~ "x"` reads back as `| drop a!="x"` (in Loki
/// too): no query produces that tree, so the generator does not either.
fn parser_can_produce(pipeline: &[Stage]) -> bool {
    pipeline.windows(2).all(|w| match w {
        [Stage::Drop(l) | Stage::Keep(l), Stage::LineFilter(f)] => {
            !(matches!(f.op, LineFilterOp::NotContains | LineFilterOp::NotRegex)
                && matches!(l.last(), Some(LabelSelection::Name(_))))
        }
        _ => true,
    })
}

fn log_expr() -> impl Strategy<Value = LogExpr> {
    (selector(), prop::collection::vec(stage(), 0..5))
        .prop_filter("producible by the parser", |(_, p)| parser_can_produce(p))
        .prop_map(|(selector, pipeline)| LogExpr { selector, pipeline })
}

fn range_op() -> impl Strategy<Value = RangeOp> {
    prop::sample::select(&RangeOp::ALL[..])
}

fn grouping() -> impl Strategy<Value = Grouping> {
    (any::<bool>(), prop::collection::vec(ident(), 0..3)).prop_map(|(without, l)| {
        if without {
            Grouping::Without(l)
        } else {
            Grouping::By(l)
        }
    })
}

fn range_aggregation() -> impl Strategy<Value = RangeAggregation> {
    (
        range_op(),
        log_expr(),
        1i64..=(10 * 365 * 86_400_000),
        prop_oneof![Just(0i64), -i64::MAX..=i64::MAX],
        any::<bool>(),
        (
            ident(),
            prop::sample::select(
                &[
                    Conversion::Float,
                    Conversion::Bytes,
                    Conversion::Duration,
                    Conversion::DurationSeconds,
                ][..],
            ),
            prop::collection::vec(label_filter(), 0..3),
        ),
        prop::option::of(grouping()),
        finite(),
    )
        .prop_map(
            |(
                op,
                log,
                range_ms,
                offset_nanos,
                want_unwrap,
                (label, conversion, post_filters),
                grouping,
                param,
            )| {
                let unwrap = match (op.allows_unwrap(), op.allows_no_unwrap()) {
                    (true, true) => want_unwrap,
                    (allowed, _) => allowed,
                };
                RangeAggregation {
                    op,
                    param: op.takes_param().then_some(param),
                    range: LogRange {
                        log,
                        range_nanos: range_ms * 1_000_000,
                        offset_nanos,
                        unwrap: unwrap.then_some(Unwrap {
                            label,
                            conversion,
                            post_filters,
                        }),
                    },
                    grouping: grouping.filter(|_| op.allows_grouping()),
                }
            },
        )
}

fn vector_op() -> impl Strategy<Value = VectorOp> {
    prop::sample::select(&VectorOp::ALL[..])
}

fn metric_leaf() -> impl Strategy<Value = MetricExpr> {
    prop_oneof![
        4 => range_aggregation().prop_map(|r| MetricExpr::RangeAggregation(Box::new(r))),
        1 => finite().prop_map(MetricExpr::Literal),
        1 => finite().prop_map(MetricExpr::Vector),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(
        &[
            Add, Sub, Mul, Div, Mod, Pow, Eq, Neq, Gt, Gte, Lt, Lte, And, Or, Unless,
        ][..],
    )
}

fn metric_expr() -> impl Strategy<Value = MetricExpr> {
    metric_leaf().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (
                vector_op(),
                inner.clone(),
                prop::option::of(grouping()),
                1u64..=u64::from(u32::MAX)
            )
                .prop_map(|(op, e, g, k)| {
                    // The argument must be a vector.
                    let expr = if e.is_scalar() {
                        MetricExpr::Vector(1.0)
                    } else {
                        e
                    };
                    let grouping = match op {
                        VectorOp::ApproxTopk => None,
                        VectorOp::Sort | VectorOp::SortDesc => g.map(|g| match g {
                            Grouping::By(_) => Grouping::By(vec![]),
                            Grouping::Without(_) => Grouping::Without(vec![]),
                        }),
                        _ => g,
                    };
                    MetricExpr::VectorAggregation(VectorAggregation {
                        op,
                        param: op.takes_param().then_some(k),
                        expr: Box::new(expr),
                        grouping,
                    })
                }),
            (
                binary_op(),
                inner.clone(),
                inner.clone(),
                any::<bool>(),
                prop::option::of((
                    any::<bool>(),
                    prop::collection::vec(ident(), 0..3),
                    prop::option::of((any::<bool>(), prop::collection::vec(ident(), 0..2)))
                ))
            )
                .prop_map(|(op, lhs, rhs, want_bool, matching)| {
                    let vectors = !lhs.is_scalar() && !rhs.is_scalar();
                    let (lhs, rhs) = if op.is_set() && !vectors {
                        (MetricExpr::Vector(1.0), MetricExpr::Vector(2.0))
                    } else {
                        (lhs, rhs)
                    };
                    let vectors = !lhs.is_scalar() && !rhs.is_scalar();
                    let matching =
                        matching
                            .filter(|_| vectors)
                            .map(|(on, labels, group)| VectorMatching {
                                on,
                                labels,
                                group: group.filter(|_| !op.is_set()).map(|(left, include)| {
                                    GroupModifier {
                                        side: if left {
                                            GroupSide::Left
                                        } else {
                                            GroupSide::Right
                                        },
                                        include,
                                    }
                                }),
                            });
                    MetricExpr::Binary(BinaryExpr {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                        modifier: BinaryModifier {
                            return_bool: want_bool && op.is_comparison(),
                            matching,
                        },
                    })
                }),
            (inner, "[a-zA-Z_][a-zA-Z0-9_]{0,5}", text(), text(), regex()).prop_map(
                |(e, dst, replacement, src, regex)| {
                    let expr = if e.is_scalar() {
                        MetricExpr::Vector(0.0)
                    } else {
                        e
                    };
                    MetricExpr::LabelReplace(Box::new(LabelReplace {
                        expr: Box::new(expr),
                        dst,
                        replacement,
                        src,
                        regex,
                    }))
                }
            ),
        ]
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    prop_oneof![
        log_expr().prop_map(Expr::Log),
        metric_expr().prop_map(Expr::Metric)
    ]
}

proptest! {
    // 2000 cases by default; `PROPTEST_CASES=100000` for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn print_then_parse_gives_the_same_tree(e in expr()) {
        let printed = e.to_string();
        let parsed = parse(&printed).map_err(|err| {
            TestCaseError::fail(format!("{}\n{e:?}", err.render(&printed)))
        })?;
        prop_assert_eq!(&parsed, &e, "printed: {}", printed);
        prop_assert_eq!(parsed.to_string(), printed);
    }
}
