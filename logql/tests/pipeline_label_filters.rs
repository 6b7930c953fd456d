//! Golden tests of label filters: typed comparisons, `LabelFilterErr`, precedence,
//! regex anchoring, `ip()`, structured metadata. Expected results worked out by hand from
//! Loki v3's `label_filter.go` semantics (see `eval::pipeline::label_filter`).

mod pipeline_util;
use pipeline_util::*;

const GW: &[(&str, &str)] = &[("app", "gw")];

fn keeps(query: &str, lines: &[&str]) -> Vec<bool> {
    run(query, GW, lines).iter().map(Option::is_some).collect()
}

#[test]
fn numeric_comparisons() {
    let lines = [
        "status=200",
        "status=503",
        "status=500.0",
        "status=1e3",
        "other=1",
    ];
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | status >= 500"#, &lines),
        // an absent label fails the filter
        vec![false, true, true, true, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | status == 500"#, &lines),
        vec![false, false, true, false, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | status != 200"#, &lines),
        vec![false, true, true, true, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | status < 500"#, &lines),
        vec![true, false, false, false, false]
    );
}

#[test]
fn failed_conversion_keeps_the_line_with_label_filter_err() {
    let out = labels_of(
        r#"{app="gw"} | logfmt | status >= 500"#,
        GW,
        &["status=abc"],
    );
    assert_eq!(
        out,
        vec![Some(
            r#"{__error__="LabelFilterErr", __error_details__="strconv.ParseFloat: parsing \"abc\": invalid syntax", app="gw", status="abc"}"#
                .to_string()
        )]
    );
    // ... and `| __error__=""` after it removes the line.
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | status >= 500 | __error__="""#,
            &["status=abc", "status=503"]
        ),
        vec![false, true]
    );
}

#[test]
fn earlier_error_is_not_overwritten_and_values_still_compare() {
    // The json stage fails after extracting `status` (missing closing brace): the numeric
    // filter still converts and compares it, and keeps the JSONParserErr.
    let q = r#"{app="gw"} | json | status > 100"#;
    let out = labels_of(
        q,
        GW,
        &[
            r#"{"status":"500""#,
            r#"{"status":"50""#,
            r#"{"status":"x""#,
        ],
    );
    let first = out[0].as_deref().unwrap();
    assert!(
        first.starts_with(r#"{__error__="JSONParserErr""#),
        "{first}"
    );
    assert_eq!(out[1], None);
    let third = out[2].as_deref().unwrap();
    assert!(
        third.starts_with(r#"{__error__="JSONParserErr""#),
        "{third}"
    );
}

#[test]
fn durations() {
    let q = r#"{app="gw"} | logfmt | duration > 100ms"#;
    assert_eq!(
        keeps(
            q,
            &[
                "duration=150ms",
                "duration=1s",
                "duration=50ms",
                "duration=0.2s",
                "duration=1h2m",
                "duration=100ms"
            ]
        ),
        vec![true, true, false, true, true, false]
    );
    // A number without a unit is not a Go duration.
    assert_eq!(
        labels_of(q, GW, &["duration=100"]),
        vec![Some(
            r#"{__error__="LabelFilterErr", __error_details__="time: missing unit in duration \"100\"", app="gw", duration="100"}"#
                .to_string()
        )]
    );
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | d <= 1m30s"#,
            &["d=90s", "d=91s", "d=1m"]
        ),
        vec![true, false, true]
    );
}

#[test]
fn bytes() {
    let q = r#"{app="gw"} | logfmt | size >= 1KiB"#;
    assert_eq!(
        keeps(
            q,
            &[
                "size=1024",
                "size=1KB",
                "size=2kb",
                "size=1.5KiB",
                "size=\"1 MB\""
            ]
        ),
        vec![true, false, true, true, true]
    );
    let out = labels_of(q, GW, &["size=big"]);
    assert!(
        out[0]
            .as_deref()
            .unwrap()
            .starts_with(r#"{__error__="LabelFilterErr""#),
        "{out:?}"
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let lines = ["a=1", "b=1", "b=1 c=1", "a=0 c=1"];
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | a="1" or b="1" and c="1""#, &lines),
        vec![true, false, true, false]
    );
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | (a="1" or b="1") and c="1""#,
            &lines
        ),
        vec![false, false, true, false]
    );
    // `,` and a plain space also mean `and`.
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | b="1", c="1""#, &lines),
        vec![false, false, true, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | b="1" c="1""#, &lines),
        vec![false, false, true, false]
    );
}

#[test]
fn or_short_circuits_but_and_evaluates_both_sides() {
    // a=5 passes, so `b > 1` is not evaluated and sets no error.
    assert_eq!(
        labels_of(r#"{app="gw"} | logfmt | a > 1 or b > 1"#, GW, &["a=5 b=x"]),
        vec![Some(r#"{a="5", app="gw", b="x"}"#.to_string())]
    );
    // a=0 fails, `b > 1` cannot convert: passes with the error.
    let out = labels_of(r#"{app="gw"} | logfmt | a > 1 or b > 1"#, GW, &["a=0 b=x"]);
    assert!(
        out[0]
            .as_deref()
            .unwrap()
            .contains(r#"__error_details__="strconv.ParseFloat: parsing \"x\": invalid syntax""#),
        "{out:?}"
    );
    // `and`: the left side errors (passes), the right side is still evaluated.
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | a > 1 and b > 1"#,
            &["a=x b=0", "a=x b=2"]
        ),
        vec![false, true]
    );
}

#[test]
fn string_matchers_are_anchored_regexes() {
    let lines = [
        "path=/api/v1",
        "path=/api/v1/x",
        "path=/x/api/v1",
        "other=1",
    ];
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path=~"/api/v[0-9]""#, &lines),
        vec![true, false, false, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path!~"/api/v[0-9]""#, &lines),
        vec![false, true, true, true]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path="/api/v1""#, &lines),
        vec![true, false, false, false]
    );
    // absent labels compare as ""
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path="""#, &lines),
        vec![false, false, false, true]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path=~".+""#, &lines),
        vec![true, true, true, false]
    );
}

#[test]
fn literal_with_wildcards_is_a_substring_test_as_in_loki() {
    // Loki's regex simplifier turns `lit.*` / `.*lit` / `.*lit.*` label regexes into
    // substring tests, so `/x/api/v1` matches `/api.*` although an anchored regex would not.
    let lines = ["path=/api/v1", "path=/x/api/v1", "path=/health"];
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path=~"/api.*""#, &lines),
        vec![true, true, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | path!~".*api.*""#, &lines),
        vec![false, false, true]
    );
}

#[test]
fn ip_label_filters() {
    let lines = ["addr=10.1.2.3", "addr=192.168.0.1", "other=1", "addr=::1"];
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | addr = ip("10.0.0.0/8")"#, &lines),
        vec![true, false, false, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | addr != ip("10.0.0.0/8")"#, &lines),
        // an absent label fails either way
        vec![false, true, false, true]
    );
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | addr = ip("192.168.0.0-192.168.0.10")"#,
            &lines
        ),
        vec![false, true, false, false]
    );
}

#[test]
fn structured_metadata_is_visible_to_filters_and_in_results() {
    let q = r#"{app="api"} | trace_id="abc""#;
    let out = run_meta(
        q,
        &[("app", "api")],
        &[
            ("l1", meta(&[("trace_id", "abc")])),
            ("l2", meta(&[("trace_id", "def")])),
            ("l3", vec![]),
            ("l4", meta(&[("trace_id", "abc"), ("app", "meta")])),
        ],
    );
    assert_eq!(
        out,
        vec![
            kept("l1", r#"{app="api", trace_id="abc"}"#),
            None,
            None,
            // metadata clashing with a stream label becomes `<name>_extracted`
            kept("l4", r#"{app="api", app_extracted="meta", trace_id="abc"}"#),
        ]
    );
    // A parsed label of the same name overrides the metadata value.
    let out = run_meta(
        r#"{app="api"} | logfmt"#,
        &[("app", "api")],
        &[("trace_id=parsed", meta(&[("trace_id", "meta")]))],
    );
    assert_eq!(
        out,
        vec![kept("trace_id=parsed", r#"{app="api", trace_id="parsed"}"#)]
    );
}

#[test]
fn error_label_filters_work_as_plain_string_filters() {
    let lines = ["a=1", r#"a="x"#];
    let q = r#"{app="gw"} | logfmt --strict | __error__="LogfmtParserErr""#;
    assert_eq!(keeps(q, &lines), vec![false, true]);
    let q = r#"{app="gw"} | logfmt --strict | __error__=~"Logfmt.*""#;
    assert_eq!(keeps(q, &lines), vec![false, true]);
    let q = r#"{app="gw"} | logfmt --strict | __error__!="LogfmtParserErr""#;
    assert_eq!(keeps(q, &lines), vec![true, false]);
}

#[test]
fn stream_labels_are_returned_as_is_for_filter_only_pipelines() {
    let p = pipeline(r#"{app="gw"} |= "a" != "b""#);
    assert!(p.is_filter_only() && !p.changes_labels() && !p.changes_line());
    let labels = stream(GW);
    let mut s = p.for_stream(&labels);
    let input = b"xa".to_vec();
    let e = s.process(0, &input, &[]).unwrap();
    assert_eq!(e.labels, &labels);
    assert!(std::ptr::eq(e.line, &input[..]), "the line is borrowed");
    assert!(s.process(0, b"ab", &[]).is_none());
}

#[test]
fn literal_alternations_follow_lokis_simplifier() {
    let lines = [
        "host=web-1",
        "host=web-10",
        "host=web-11",
        "host=xweb-1",
        "host=web-2",
    ];
    // Go factors `web-1|web-10` into `web-1(?:|0)`; Loki then tests substrings.
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | host=~"web-1|web-10""#, &lines),
        vec![true, true, true, true, false]
    );
    // No shared prefix: exact matches, as an anchored regex would give.
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | level=~"info|error""#,
            &["level=info", "level=errors", "level=error"]
        ),
        vec![true, false, true]
    );
    // A prefix followed by single characters becomes a character class: anchored.
    assert_eq!(
        keeps(
            r#"{app="gw"} | logfmt | status=~"500|502""#,
            &["status=500", "status=5020"]
        ),
        vec![true, false]
    );
    assert_eq!(
        keeps(r#"{app="gw"} | logfmt | host!~"web-1|web-10""#, &lines),
        vec![false, false, false, false, true]
    );
}
