//! Golden tests of sample extraction: count/bytes values, unwrap conversions,
//! `SampleExtractionErr`, post-unwrap filters, unwrapped-label removal, grouping and
//! parser hints. Expected values worked out by hand from Loki v3's
//! `metrics_extraction.go` / `labels.go` (`GroupedLabels`) semantics.

mod pipeline_util;
use logjar_logql::syntax::ast::Grouping;
use pipeline_util::*;

const API: &[(&str, &str)] = &[("app", "api")];

#[test]
fn count_without_stages_needs_no_lines() {
    let ex = extractor(r#"count_over_time({app="api"}[1m])"#, None);
    assert!(!ex.needs_lines());
    assert!(!ex.labels_vary());
    assert_eq!(
        samples(&ex, API, &["a", "bb"]),
        vec![sample(1.0, r#"{app="api"}"#), sample(1.0, r#"{app="api"}"#)]
    );
    let ex = extractor(r#"rate({app="api"} |= "b" [1m])"#, None);
    assert!(ex.needs_lines());
    assert!(!ex.labels_vary());
    assert_eq!(
        samples(&ex, API, &["a", "bb"]),
        vec![None, sample(1.0, r#"{app="api"}"#)]
    );
}

#[test]
fn bytes_count_the_processed_line() {
    let ex = extractor(r#"bytes_over_time({app="api"}[1m])"#, None);
    assert!(ex.needs_lines());
    assert_eq!(
        samples(&ex, API, &["hello"]),
        vec![sample(5.0, r#"{app="api"}"#)]
    );
    let ex = extractor(
        r#"bytes_rate({app="api"} | logfmt | line_format "{{.msg}}" [1m])"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["msg=abc other=long-value"]),
        vec![sample(3.0, r#"{app="api", msg="abc", other="long-value"}"#)]
    );
}

#[test]
fn structured_metadata_becomes_sample_labels() {
    let ex = extractor(r#"count_over_time({app="api"}[1m])"#, None);
    let mut s = ex.for_stream(&stream(API));
    let (v, l) = s.process(0, b"x", &meta(&[("trace_id", "t1")])).unwrap();
    assert_eq!(
        (v, l.to_string()),
        (1.0, r#"{app="api", trace_id="t1"}"#.to_string())
    );
    let (_, l) = s.process(0, b"x", &[]).unwrap();
    assert_eq!(l.to_string(), r#"{app="api"}"#);
}

#[test]
fn unwrap_float_removes_the_label_and_skips_missing_values() {
    let ex = extractor(
        r#"sum_over_time({app="api"} | logfmt | unwrap latency [1m])"#,
        None,
    );
    assert!(ex.labels_vary());
    let out = samples(
        &ex,
        API,
        &[
            "latency=1.5 path=/a",
            "path=/b",
            "latency= path=/c",
            "latency=-2e3",
        ],
    );
    assert_eq!(
        out,
        vec![
            sample(1.5, r#"{app="api", path="/a"}"#),
            None,
            None,
            sample(-2000.0, r#"{app="api"}"#),
        ]
    );
}

#[test]
fn unwrap_conversion_error_keeps_all_labels_with_sample_extraction_err() {
    let ex = extractor(
        r#"sum_over_time({app="api"} | logfmt | unwrap latency [1m])"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["latency=abc path=/a"]),
        vec![sample(
            0.0,
            r#"{__error__="SampleExtractionErr", __error_details__="strconv.ParseFloat: parsing \"abc\": invalid syntax", app="api", latency="abc", path="/a"}"#
        )]
    );
    // filtered by a post-unwrap `__error__=""`
    let ex = extractor(
        r#"sum_over_time({app="api"} | logfmt | unwrap latency | __error__="" [1m])"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["latency=abc", "latency=2"]),
        vec![None, sample(2.0, r#"{app="api"}"#)]
    );
}

#[test]
fn unwrap_duration_and_bytes() {
    let ex = extractor(
        r#"avg_over_time({app="api"} | logfmt | unwrap duration(took) [1m])"#,
        None,
    );
    assert_eq!(
        samples(
            &ex,
            API,
            &["took=1m30s", "took=250ms", "took=-1.5h", "took=5"]
        ),
        vec![
            sample(90.0, r#"{app="api"}"#),
            sample(0.25, r#"{app="api"}"#),
            sample(-5400.0, r#"{app="api"}"#),
            sample(
                0.0,
                r#"{__error__="SampleExtractionErr", __error_details__="time: missing unit in duration \"5\"", app="api", took="5"}"#
            ),
        ]
    );
    let ex = extractor(
        r#"max_over_time({app="api"} | logfmt | unwrap duration_seconds(took) [1m])"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["took=1us"]),
        vec![sample(1e-6, r#"{app="api"}"#)]
    );
    let ex = extractor(
        r#"sum_over_time({app="api"} | logfmt | unwrap bytes(size) [1m])"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["size=1.5KiB", "size=2MB", "size=12"]),
        vec![
            sample(1536.0, r#"{app="api"}"#),
            sample(2e6, r#"{app="api"}"#),
            sample(12.0, r#"{app="api"}"#),
        ]
    );
}

#[test]
fn post_unwrap_label_filters() {
    let ex = extractor(
        r#"sum_over_time({app="api"} | logfmt | unwrap n | level="error" [1m])"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["n=1 level=error", "n=2 level=info"]),
        vec![sample(1.0, r#"{app="api", level="error"}"#), None]
    );
}

#[test]
fn grouping_by_and_without() {
    let ex = extractor(
        r#"quantile_over_time(0.99, {app="api"} | logfmt | unwrap latency_ms [5m]) by (host)"#,
        None,
    );
    assert_eq!(
        samples(
            &ex,
            API,
            &["host=h1 latency_ms=12 path=/a", "latency_ms=x host=h2"]
        ),
        vec![
            sample(12.0, r#"{host="h1"}"#),
            // with an error the grouping is not applied
            sample(
                0.0,
                r#"{__error__="SampleExtractionErr", __error_details__="strconv.ParseFloat: parsing \"x\": invalid syntax", app="api", host="h2", latency_ms="x"}"#
            ),
        ]
    );
    let ex = extractor(
        r#"max_over_time({app="api"} | logfmt | unwrap latency_ms [5m]) without (path)"#,
        None,
    );
    assert_eq!(
        samples(&ex, API, &["host=h1 latency_ms=12 path=/a"]),
        vec![sample(12.0, r#"{app="api", host="h1"}"#)]
    );
}

#[test]
fn pushed_down_sum_by_uses_parser_hints() {
    let q = r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#;
    // Malformed after `level`: with the hint, json stops once `level` is found, so no
    // error is set (Loki's parser hints); extracting everything reports the error.
    let line = r#"{"level":"error","msg": oops"#;
    let hinted = extractor(q, Some(Grouping::By(vec!["level".into()])));
    assert_eq!(
        samples(&hinted, API, &[line, r#"{"level":"info"}"#]),
        vec![
            sample(1.0, r#"{level="error"}"#),
            sample(1.0, r#"{level="info"}"#)
        ]
    );
    let plain = extractor(q, None);
    let out = samples(&plain, API, &[line]);
    assert!(
        out[0]
            .as_ref()
            .unwrap()
            .1
            .starts_with(r#"{__error__="JSONParserErr""#),
        "{out:?}"
    );
}

#[test]
fn pushed_down_sum_without_grouping_skips_the_parser() {
    let q = r#"sum(count_over_time({app="api"} | json [1m]))"#;
    let ex = extractor(q, Some(Grouping::By(vec![])));
    // the skipped parser cannot change labels: the executor may aggregate per stream
    assert!(!ex.labels_vary());
    assert_eq!(
        samples(&ex, API, &["not json", r#"{"a":"b"}"#]),
        vec![sample(1.0, "{}"), sample(1.0, "{}")]
    );
    // the same for a json parser with parameters (Loki's no-labels hint skips it too)
    let q = r#"sum(count_over_time({app="api"} | json a="x.y" [1m]))"#;
    let ex = extractor(q, Some(Grouping::By(vec![])));
    assert_eq!(samples(&ex, API, &["not json"]), vec![sample(1.0, "{}")]);
    // but a label the pipeline reads is still extracted
    let q = r#"sum(count_over_time({app="api"} | json | status >= 500 [1m]))"#;
    let ex = extractor(q, Some(Grouping::By(vec![])));
    assert!(ex.labels_vary());
    assert_eq!(
        samples(&ex, API, &[r#"{"status":503}"#, r#"{"status":200}"#]),
        vec![sample(1.0, "{}"), None]
    );
}

#[test]
fn a_skipped_parser_is_still_validated() {
    use logjar_logql::eval::pipeline::SampleExtractor;
    let agg = range_agg(r#"sum(count_over_time({app="api"} | json a="x[" [1m]))"#);
    let err = SampleExtractor::compile(&agg.range, agg.op, Some(&Grouping::By(vec![])));
    // (if the parser already rejects the path, `range_agg` would have panicked)
    assert_eq!(err.unwrap_err().stage, "stage 1 (json)");
}

#[test]
fn json_unwrap_by_host_benchmark_shape() {
    let ex = extractor(
        r#"quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (host)"#,
        None,
    );
    assert_eq!(
        samples(
            &ex,
            API,
            &[r#"{"host":"h1","latency_ms":12.5,"msg":"x","extra":{"a":1}}"#]
        ),
        vec![sample(12.5, r#"{host="h1"}"#)]
    );
}

#[test]
fn invalid_unwrap_use_is_rejected() {
    use logjar_logql::eval::pipeline::SampleExtractor;
    use logjar_logql::syntax::ast::RangeOp;
    let agg = range_agg(r#"sum_over_time({app="api"} | logfmt | unwrap x [1m])"#);
    assert!(SampleExtractor::compile(&agg.range, RangeOp::CountOverTime, None).is_err());
    let agg = range_agg(r#"count_over_time({app="api"}[1m])"#);
    assert!(SampleExtractor::compile(&agg.range, RangeOp::SumOverTime, None).is_err());
}
