//! Property tests: no input makes a compiled pipeline or sample extractor panic, and
//! filter-only pipelines agree with a naive oracle (substring / unanchored regex).

mod pipeline_util;
use pipeline_util::*;

use proptest::prelude::*;

/// Pipelines covering every stage kind, run over arbitrary bytes.
const PIPELINES: &[&str] = &[
    r#"{app="x"} |= "a" | json | status >= 500 or level=~"err.*" | line_format "{{.msg}} {{ __line__ | len }}""#,
    r#"{app="x"} | logfmt --strict --keep-empty | dur > 1s, size < 10KiB | label_format a=level, b="{{ .c | upper }}""#,
    r#"{app="x"} | json a="x.y[0]", b="c" | keep a, b="1" | drop c"#,
    r#"{app="x"} | regexp "(?P<w>\\w+) (?P<n>\\d+)" | n > 3 | __error__="""#,
    r#"{app="x"} | pattern "<a> <_> <b>" | addr = ip("10.0.0.0/8") or b != ip("::1")"#,
    r#"{app="x"} | unpack | decolorize | line_format "{{ regexReplaceAll \"[0-9]\" __line__ \"_\" }}" | logfmt"#,
    r#"{app="x"} !~ "(?i)debug" |> "<_> error <_>" | logfmt a, b="c" | label_format t="{{ duration .a }}""#,
];

const METRICS: &[&str] = &[
    r#"sum_over_time({app="x"} | logfmt | unwrap duration(took) | __error__="" [1m])"#,
    r#"quantile_over_time(0.5, {app="x"} | json | unwrap bytes(size) [1m]) by (host)"#,
    r#"bytes_over_time({app="x"} | decolorize | line_format "{{.a}}" [1m])"#,
    r#"rate({app="x"} |= "a" [1m])"#,
];

fn arb_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        // structured-ish lines hit the parsers' deeper paths
        "[a-z_ =\"{}:,.0-9\\[\\]\\\\\u{1b}\u{e9}-]{0,80}".prop_map(String::into_bytes),
        (
            "[a-z]{1,6}",
            "[a-z0-9.]{0,8}",
            "(ms|s|KiB|MB|)",
            "[a-z]{1,6}",
            "[ -~]{0,10}"
        )
            .prop_map(|(k, v, u, k2, v2)| format!(
                r#"{{"{k}":"{v}{u}","{k2}":{v2:?},"host":"h","size":"{v}{u}"}}"#
            )
            .into_bytes()),
        ("[a-z]{1,6}", "[a-z0-9.]{0,8}", "(ms|s|KiB|)")
            .prop_map(
                |(k, v, u)| format!("{k}={v}{u} took={v}{u} a={v} level=error \"q").into_bytes()
            ),
    ]
}

fn arb_meta() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("(app|trace|__error__|a)", "[a-z0-9]{0,4}"), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pipelines_never_panic(lines in proptest::collection::vec((arb_line(), arb_meta()), 1..6)) {
        for q in PIPELINES {
            let p = pipeline(q);
            let mut s = p.for_stream(&stream(&[("app", "x"), ("level", "info")]));
            for (i, (line, md)) in lines.iter().enumerate() {
                if let Some(e) = s.process(i as i64, line, md) {
                    prop_assert_eq!(e.labels_hash, logjar_logql::eval::pipeline::labels_hash(e.labels));
                }
            }
        }
        for q in METRICS {
            let ex = extractor(q, None);
            let mut s = ex.for_stream(&stream(&[("app", "x")]));
            for (i, (line, md)) in lines.iter().enumerate() {
                if let Some((v, _)) = s.process(i as i64, line, md) {
                    prop_assert!(!v.is_nan() || q.contains("unwrap"));
                }
            }
        }
    }

    #[test]
    fn filter_only_pipelines_match_the_oracle(
        filters in proptest::collection::vec((0usize..4, "(a|b|ab|ba|xy|\\.)"), 1..4),
        lines in proptest::collection::vec("[abxy. ]{0,12}", 1..20),
    ) {
        let ops = ["|=", "!=", "|~", "!~"];
        let mut query = String::from(r#"{app="x"}"#);
        for (op, needle) in &filters {
            query.push_str(&format!(" {} {:?}", ops[*op], needle));
        }
        let p = pipeline(&query);
        prop_assert!(p.is_filter_only());
        let labels = stream(&[("app", "x")]);
        let mut s = p.for_stream(&labels);
        for line in &lines {
            let expected = filters.iter().all(|(op, needle)| match *op {
                0 => line.contains(needle.as_str()),
                1 => !line.contains(needle.as_str()),
                2 => regex::Regex::new(needle).unwrap().is_match(line),
                _ => !regex::Regex::new(needle).unwrap().is_match(line),
            });
            let got = s.process(0, line.as_bytes(), &[]);
            prop_assert_eq!(got.is_some(), expected, "{} on {:?}", query, line);
            if let Some(e) = got {
                prop_assert_eq!(e.line, line.as_bytes());
                prop_assert_eq!(e.labels, &labels);
            }
            prop_assert_eq!(p.line_filter_prefix().matches(line.as_bytes()), expected);
        }
    }
}
