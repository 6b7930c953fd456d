//! The trees the parser builds: precedence, associativity, normalisation, helpers, errors.

use logjar_logql::matcher::{LabelMatcher, MatchOp};
use logjar_logql::syntax::*;

fn metric(q: &str) -> MetricExpr {
    match parse(q) {
        Ok(Expr::Metric(m)) => m,
        other => panic!("{q}: expected a metric query, got {other:?}"),
    }
}

fn log(q: &str) -> LogExpr {
    match parse(q) {
        Ok(Expr::Log(l)) => l,
        other => panic!("{q}: expected a log query, got {other:?}"),
    }
}

fn lit(v: f64) -> Box<MetricExpr> {
    Box::new(MetricExpr::Literal(v))
}

fn bin(op: BinaryOp, lhs: Box<MetricExpr>, rhs: Box<MetricExpr>) -> Box<MetricExpr> {
    Box::new(MetricExpr::Binary(BinaryExpr {
        op,
        lhs,
        rhs,
        modifier: BinaryModifier::default(),
    }))
}

fn eq(name: &str, value: &str) -> LabelFilter {
    LabelFilter::Matcher(LabelMatcher::new(name, MatchOp::Eq, value).unwrap())
}

#[test]
fn arithmetic_precedence_and_associativity() {
    use BinaryOp::*;
    assert_eq!(
        metric("1 + 2 * 3"),
        *bin(Add, lit(1.0), bin(Mul, lit(2.0), lit(3.0)))
    );
    assert_eq!(
        metric("1 - 2 - 3"),
        *bin(Sub, bin(Sub, lit(1.0), lit(2.0)), lit(3.0))
    );
    assert_eq!(
        metric("2 ^ 3 ^ 2"),
        *bin(Pow, lit(2.0), bin(Pow, lit(3.0), lit(2.0)))
    );
    assert_eq!(
        metric("2 * 3 ^ 2"),
        *bin(Mul, lit(2.0), bin(Pow, lit(3.0), lit(2.0)))
    );
    assert_eq!(
        metric("1 + 2 > 3 - 4"),
        *bin(
            Gt,
            bin(Add, lit(1.0), lit(2.0)),
            bin(Sub, lit(3.0), lit(4.0))
        )
    );
    assert_eq!(
        metric("(1 + 2) * 3"),
        *bin(Mul, bin(Add, lit(1.0), lit(2.0)), lit(3.0))
    );
    // A sign belongs to the number literal, as in Loki's grammar.
    assert_eq!(metric("-2 ^ 2"), *bin(Pow, lit(-2.0), lit(2.0)));
    assert_eq!(metric("1 - -1"), *bin(Sub, lit(1.0), lit(-1.0)));
    assert_eq!(metric("0x10 + 1e2"), *bin(Add, lit(16.0), lit(100.0)));
}

#[test]
fn set_operator_precedence() {
    use BinaryOp::*;
    let v = |x: f64| Box::new(MetricExpr::Vector(x));
    assert_eq!(
        metric("vector(1) or vector(2) and vector(3)"),
        *bin(Or, v(1.0), bin(And, v(2.0), v(3.0)))
    );
    assert_eq!(
        metric("vector(1) and vector(2) unless vector(3)"),
        *bin(Unless, bin(And, v(1.0), v(2.0)), v(3.0))
    );
    assert_eq!(
        metric("vector(1) > 0 or vector(2)"),
        *bin(Or, bin(Gt, v(1.0), lit(0.0)), v(2.0))
    );
}

#[test]
fn binary_modifiers() {
    let MetricExpr::Binary(b) =
        metric(r#"sum(rate({a="b"}[1m])) > bool on (x, y) group_left (z) sum(rate({a="c"}[1m]))"#)
    else {
        panic!()
    };
    assert_eq!(b.op, BinaryOp::Gt);
    assert_eq!(
        b.modifier,
        BinaryModifier {
            return_bool: true,
            matching: Some(VectorMatching {
                on: true,
                labels: vec!["x".into(), "y".into()],
                group: Some(GroupModifier {
                    side: GroupSide::Left,
                    include: vec!["z".into()],
                }),
            }),
        }
    );
    let MetricExpr::Binary(b) = metric(r#"vector(1) / ignoring () group_right vector(2)"#) else {
        panic!()
    };
    let m = b.modifier.matching.unwrap();
    assert!(!m.on && m.labels.is_empty());
    assert_eq!(m.group.unwrap().side, GroupSide::Right);
}

#[test]
fn label_filter_structure() {
    let l = log(r#"{a="b"} | x="1" or y="2" and z="3""#);
    assert_eq!(
        l.pipeline,
        vec![Stage::LabelFilter(LabelFilter::Or(vec![
            eq("x", "1"),
            LabelFilter::And(vec![eq("y", "2"), eq("z", "3")]),
        ]))]
    );
    // `and`, `,` and juxtaposition are the same conjunction, flattened.
    let a = log(r#"{a="b"} | x="1" and y="2", z="3" w="4""#);
    assert_eq!(
        a.pipeline,
        vec![Stage::LabelFilter(LabelFilter::And(vec![
            eq("x", "1"),
            eq("y", "2"),
            eq("z", "3"),
            eq("w", "4"),
        ]))]
    );
    // Parentheses nest.
    let p = log(r#"{a="b"} | (x="1" and y="2") and z="3""#);
    assert_eq!(
        p.pipeline,
        vec![Stage::LabelFilter(LabelFilter::And(vec![
            LabelFilter::And(vec![eq("x", "1"), eq("y", "2")]),
            eq("z", "3"),
        ]))]
    );
}

#[test]
fn typed_label_filters() {
    let l = log(
        r#"{a="b"} | s >= 500 | d > 1.5s | n < 10KiB | ip != ip("10.0.0.0/8") | x == -2 | y = 1d"#,
    );
    assert_eq!(
        l.pipeline,
        vec![
            Stage::LabelFilter(LabelFilter::Number {
                name: "s".into(),
                op: CmpOp::Gte,
                value: 500.0
            }),
            Stage::LabelFilter(LabelFilter::Duration {
                name: "d".into(),
                op: CmpOp::Gt,
                nanos: 1_500_000_000
            }),
            Stage::LabelFilter(LabelFilter::Bytes {
                name: "n".into(),
                op: CmpOp::Lt,
                bytes: 10_240
            }),
            Stage::LabelFilter(LabelFilter::Ip {
                name: "ip".into(),
                negated: true,
                pattern: "10.0.0.0/8".into()
            }),
            Stage::LabelFilter(LabelFilter::Number {
                name: "x".into(),
                op: CmpOp::Eq,
                value: -2.0
            }),
            Stage::LabelFilter(LabelFilter::Duration {
                name: "y".into(),
                op: CmpOp::Eq,
                nanos: 86_400_000_000_000
            }),
        ]
    );
}

#[test]
fn stages() {
    let l = log(concat!(
        r#"{a="b"} |= "x" or ip("1.2.3.4") !~ "y" | json f, g="h[0]" | logfmt --strict k"#,
        r#" | regexp "(?P<n>.)" | pattern "<p> x" | unpack | line_format "{{.a}}""#,
        r#" | label_format d=s, t="{{.u}}" | drop a, b="c" | keep e | decolorize"#
    ));
    assert_eq!(
        l.pipeline[0],
        Stage::LineFilter(LineFilter {
            op: LineFilterOp::Contains,
            values: vec![
                LineFilterValue::Text("x".into()),
                LineFilterValue::Ip("1.2.3.4".into())
            ],
        })
    );
    assert_eq!(
        l.pipeline[1],
        Stage::LineFilter(LineFilter {
            op: LineFilterOp::NotRegex,
            values: vec![LineFilterValue::Text("y".into())],
        })
    );
    assert_eq!(
        l.pipeline[2],
        Stage::Json(vec![
            LabelExtraction {
                label: "f".into(),
                expression: "f".into()
            },
            LabelExtraction {
                label: "g".into(),
                expression: "h[0]".into()
            },
        ])
    );
    assert_eq!(
        l.pipeline[3],
        Stage::Logfmt(LogfmtParser {
            strict: true,
            keep_empty: false,
            fields: vec![LabelExtraction {
                label: "k".into(),
                expression: "k".into()
            }],
        })
    );
    assert_eq!(l.pipeline[4], Stage::Regexp("(?P<n>.)".into()));
    assert_eq!(l.pipeline[5], Stage::Pattern("<p> x".into()));
    assert_eq!(l.pipeline[6], Stage::Unpack);
    assert_eq!(l.pipeline[7], Stage::LineFormat("{{.a}}".into()));
    assert_eq!(
        l.pipeline[8],
        Stage::LabelFormat(vec![
            LabelFormat {
                dst: "d".into(),
                value: LabelFormatValue::Rename("s".into())
            },
            LabelFormat {
                dst: "t".into(),
                value: LabelFormatValue::Template("{{.u}}".into())
            },
        ])
    );
    assert_eq!(
        l.pipeline[9],
        Stage::Drop(vec![
            LabelSelection::Name("a".into()),
            LabelSelection::Matcher(LabelMatcher::new("b", MatchOp::Eq, "c").unwrap()),
        ])
    );
    assert_eq!(
        l.pipeline[10],
        Stage::Keep(vec![LabelSelection::Name("e".into())])
    );
    assert_eq!(l.pipeline[11], Stage::Decolorize);
    assert_eq!(l.pipeline.len(), 12);
    assert!(l.has_parser());
    assert_eq!(l.line_filters().count(), 2);
}

#[test]
fn range_aggregations() {
    let MetricExpr::RangeAggregation(r) = metric(
        r#"quantile_over_time(0.99, {app="api"} | json | unwrap duration(t) | __error__="" [5m] offset -1h) by (host)"#,
    ) else {
        panic!()
    };
    assert_eq!(r.op, RangeOp::QuantileOverTime);
    assert_eq!(r.param, Some(0.99));
    assert_eq!(r.range.range_nanos, 300_000_000_000);
    assert_eq!(r.range.offset_nanos, -3_600_000_000_000);
    assert_eq!(r.range.log.pipeline, vec![Stage::Json(vec![])]);
    assert_eq!(
        r.range.unwrap,
        Some(Unwrap {
            label: "t".into(),
            conversion: Conversion::Duration,
            post_filters: vec![eq("__error__", "")],
        })
    );
    assert_eq!(r.grouping, Some(Grouping::By(vec!["host".into()])));
    // The range may come right after the selector; the tree is the same.
    assert_eq!(
        metric(r#"sum_over_time({a="b"}[5m] offset 1m | json | unwrap x)"#),
        metric(r#"sum_over_time({a="b"} | json | unwrap x [5m] offset 1m)"#),
    );
    assert_eq!(
        metric(r#"rate(({a="b"} |= "x")[1m])"#),
        metric(r#"rate({a="b"} |= "x" [1m])"#),
    );
}

#[test]
fn vector_aggregations() {
    let MetricExpr::VectorAggregation(v) =
        metric(r#"topk by (a) (5, sum without (b) (rate({c="d"}[1m])))"#)
    else {
        panic!()
    };
    assert_eq!(v.op, VectorOp::Topk);
    assert_eq!(v.param, Some(5));
    assert_eq!(v.grouping, Some(Grouping::By(vec!["a".into()])));
    let MetricExpr::VectorAggregation(inner) = *v.expr else {
        panic!()
    };
    assert_eq!(inner.grouping, Some(Grouping::Without(vec!["b".into()])));
    // Grouping before or after the argument is the same.
    assert_eq!(
        metric(r#"sum(rate({a="b"}[1m])) by (x)"#),
        metric(r#"sum by (x) (rate({a="b"}[1m]))"#)
    );
}

#[test]
fn helpers_walk_every_selector() {
    let q = parse(
        r#"sum(rate({a="1"}[1m])) / on () label_replace(count_over_time({b="2"}[1m]), "x", "", "y", "")"#,
    )
    .unwrap();
    assert!(q.is_metric() && !q.is_log());
    let m = q.as_metric().unwrap();
    let names: Vec<&str> = m.selectors().iter().map(|s| s[0].name()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(q.log_exprs().len(), 2);
    assert_eq!(m.log_ranges()[1].range_nanos, 60_000_000_000);
    assert!(!m.is_scalar());
    assert!(metric("1 + 2 * 3").is_scalar());
    let l = parse(r#"{a="1"} |= "x""#).unwrap();
    assert_eq!(l.log_exprs()[0].matchers().len(), 1);
    assert!(l.as_metric().is_none());
}

#[test]
fn entry_points() {
    let sel = parse_selector(r#"{app="x", env!~"dev|test"}"#).unwrap();
    assert_eq!(sel[1].op(), MatchOp::Nre);
    assert!(parse_selector(r#"{app="x"} |= "y""#)
        .unwrap_err()
        .to_string()
        .contains("expected end of the selector"));
    assert!(parse_selector(r#"{app=~".*"}"#).is_err());
    assert!(parse_log_expr(r#"{app="x"} | json"#).is_ok());
    assert!(parse_log_expr("vector(1)")
        .unwrap_err()
        .to_string()
        .contains("expected a log query"));
    // The crate root re-exports the entry points.
    assert!(logjar_logql::parse(r#"{app="x"}"#).is_ok());
}

#[test]
fn multi_line_queries_with_comments() {
    let q = "# errors per host\nsum by (host) (\n  rate({app=\"api\"} # the API\n    |= \"error\" [5m])\n)";
    assert_eq!(
        parse(q).unwrap().to_string(),
        r#"sum by (host) (rate({app="api"} |= "error" [5m]))"#
    );
    assert_eq!(
        parse("{app=\"x\"}\t|=\t\"tab\"").unwrap().to_string(),
        r#"{app="x"} |= "tab""#
    );
}

#[test]
fn errors_know_where_they_are() {
    let q = r#"count_over_time({app="x"}[5 m])"#;
    let e = parse(q).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"parse error at line 1, col 27: expected a duration such as 5m, found "5""#
    );
    assert_eq!(e.position(), 26);
    assert_eq!((e.line(), e.column()), (1, 27));
    assert_eq!(
        e.render(q),
        "parse error at line 1, col 27: expected a duration such as 5m, found \"5\"\n  \
         count_over_time({app=\"x\"}[5 m])\n                            ^"
    );

    let q = "sum(\n  rate({app=\"成功\"}[5m]) +\n)";
    let e = parse(q).unwrap_err();
    assert_eq!((e.line(), e.column()), (3, 1));
    assert!(e.render(q).ends_with("\n  )\n  ^"), "{}", e.render(q));

    let q = "{app=\"成功\"} |~ \"(\"";
    let e = parse(q).unwrap_err();
    assert_eq!((e.line(), e.column()), (1, 15));
    assert!(e.render(q).ends_with("^^^"), "{}", e.render(q));
    assert_eq!(&q[e.span().start..e.span().end], "\"(\"");

    // Errors at the very end point just past the input.
    let q = r#"{app="x"} |="#;
    let e = parse(q).unwrap_err();
    assert_eq!(e.position(), q.len());
    assert!(e.to_string().contains("found end of input"));
    assert!(e.render(q).ends_with('^'));
}

#[test]
fn the_common_queries_parse() {
    let queries = [
        r#"{app="apache"}"#,
        r#"{env="prod"} |= "error""#,
        r#"{env="prod"} |~ "(?i)timeout|refused""#,
        r#"{app="api"} | json | status >= 500"#,
        r#"{app="api"} | json | line_format "{{.msg}}""#,
        r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#,
        r#"sum by (app) (rate({env="prod"}[1m]))"#,
        r#"sum(rate({env="prod"} |= "error" [5m]))"#,
        r#"topk(5, sum by (host) (bytes_over_time({env="prod"}[5m])))"#,
        r#"{app="gateway"} | logfmt | duration > 100ms"#,
        r#"quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (host)"#,
        r#"(sum(rate({app="forwarder"} |= "Rename" [1m])) - sum(rate({app="processor"} |= "成功" [1m]))) / sum(rate({app="forwarder"} |= "Rename" [1m]))"#,
    ];
    for q in queries {
        let ast = parse(q).unwrap_or_else(|e| panic!("{}", e.render(q)));
        assert_eq!(parse(&ast.to_string()).unwrap(), ast, "{q}");
    }
}

#[test]
fn nothing_panics_on_hostile_input() {
    let deep = "(".repeat(100_000);
    assert!(parse(&deep)
        .unwrap_err()
        .to_string()
        .contains("nested too deeply"));
    let chain = vec!["1"; 50_000].join(" + ");
    assert!(parse(&chain)
        .unwrap_err()
        .to_string()
        .contains("nested too deeply"));
    let filters = format!("{{a=\"b\"}} | {}", vec!["x=\"1\""; 20_000].join(" and "));
    assert!(parse(&filters).is_ok(), "long flat conjunctions are fine");
    for q in [
        "\u{0}",
        "{a=\"\\",
        "\"\\u",
        "{a=\"b\"} |= `",
        "{a=\"b\"}[",
        "1e",
        "0x",
        "--",
        "µ",
        "\u{2028}",
    ] {
        let _ = parse(q);
    }
}

#[test]
fn from_str_is_parse() {
    let q: Expr = r#"{app="x"} |= "y""#.parse().unwrap();
    assert_eq!(q, parse(r#"{app="x"} |= "y""#).unwrap());
    assert!("{}".parse::<Expr>().is_err());
}

#[test]
fn nesting_up_to_the_limit_works() {
    let n = 60;
    let sums = format!("{}vector(1){}", "sum(".repeat(n), ")".repeat(n));
    let filters = format!(r#"{{a="b"}} | {}x="1"{}"#, "(".repeat(n), ")".repeat(n));
    let chain = vec!["vector(1)"; n].join(" / ");
    let pow = vec!["2"; n].join(" ^ ");
    let ranges = format!(r#"rate({}{{a="b"}}{}[1m])"#, "(".repeat(n), ")".repeat(n));
    for q in [sums, filters, chain, pow, ranges] {
        let ast = parse(&q).unwrap_or_else(|e| panic!("{}", e.render(&q)));
        assert_eq!(parse(&ast.to_string()).unwrap(), ast);
    }
}
