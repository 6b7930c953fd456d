//! Queries with parsers, label filters, formatting and unwrap, end to end; expected
//! answers worked out by hand from Loki's rules (extracted labels join the stream
//! labels, a clashing key becomes `<key>_extracted`, samples left with `__error__` fail
//! a metric query).

mod query_support;

use logjar::query::{QueryError, QueryRequest};
use logjar::Direction;
use query_support::*;

fn data() -> (tempfile::TempDir, logjar::Db) {
    db_with(
        &[
            (
                &[("app", "api"), ("host", "h1")],
                at(&[
                    (
                        1,
                        r#"{"level":"info","status":200,"msg":"ok","latency_ms":10}"#,
                    ),
                    (
                        2,
                        r#"{"level":"error","status":500,"msg":"boom","latency_ms":100}"#,
                    ),
                    (
                        3,
                        r#"{"level":"error","status":503,"msg":"down","app":"inner","latency_ms":30}"#,
                    ),
                    (4, "not json"),
                ]),
            ),
            (
                &[("app", "gw")],
                at(&[
                    (1, "level=info duration=50ms path=/a"),
                    (2, "level=warn duration=150ms path=/b"),
                    (3, "level=error duration=1.5s path=/c"),
                ]),
            ),
        ],
        true,
    )
}

fn logs(q: &str) -> Vec<(String, Vec<(i64, String)>)> {
    let (_d, db) = data();
    let req = QueryRequest::range(q, 0, 60 * S).with_direction(Direction::Forward);
    streams(&query(&db, &req))
}

fn instant(q: &str) -> Vec<(String, f64)> {
    let (_d, db) = data();
    vector(&query(&db, &QueryRequest::instant(q, 60 * S)))
}

#[test]
fn json_then_numeric_filter() {
    let got = logs(r#"{app="api"} | json | status >= 500"#);
    // "{app="api", app_extracted=…" sorts before "{app="api", host=…".
    let want = vec![
        (
            r#"{app="api", app_extracted="inner", host="h1", latency_ms="30", level="error", msg="down", status="503"}"#.to_string(),
            vec![(3, r#"{"level":"error","status":503,"msg":"down","app":"inner","latency_ms":30}"#.to_string())],
        ),
        (
            r#"{app="api", host="h1", latency_ms="100", level="error", msg="boom", status="500"}"#.to_string(),
            vec![(2, r#"{"level":"error","status":500,"msg":"boom","latency_ms":100}"#.to_string())],
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn line_format_rewrites_the_line() {
    let got = logs(r#"{app="api"} |= "msg" | json | line_format "{{.msg}}""#);
    let mut lines: Vec<(i64, String)> = got.into_iter().flat_map(|(_, e)| e).collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            (1, "ok".to_string()),
            (2, "boom".to_string()),
            (3, "down".to_string())
        ]
    );
}

#[test]
fn parser_errors_are_labels_in_log_queries() {
    let got = logs(r#"{app="api"} |= "not" | json"#);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].0.contains(r#"__error__="JSONParserErr""#),
        "{}",
        got[0].0
    );
}

#[test]
fn logfmt_and_duration_filter() {
    let got = logs(r#"{app="gw"} | logfmt | duration > 100ms"#);
    let want = expect_streams(&[
        (
            r#"{app="gw", duration="1.5s", level="error", path="/c"}"#,
            &[(3, "level=error duration=1.5s path=/c")],
        ),
        (
            r#"{app="gw", duration="150ms", level="warn", path="/b"}"#,
            &[(2, "level=warn duration=150ms path=/b")],
        ),
    ]);
    assert_eq!(got, want);
}

#[test]
fn metric_over_a_parser_fails_on_errors_unless_filtered() {
    let (_d, db) = data();
    let q = r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#;
    let err = db
        .query("fake", &QueryRequest::instant(q, 60 * S))
        .unwrap_err();
    assert!(matches!(err, QueryError::Execution(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("pipeline error: 'JSONParserErr'"),
        "{err}"
    );
    let got =
        instant(r#"sum by (level) (count_over_time({app="api"} | json | __error__="" [1m]))"#);
    assert_eq!(
        got,
        vec![
            (r#"{level="error"}"#.to_string(), 2.0),
            (r#"{level="info"}"#.to_string(), 1.0)
        ]
    );
}

#[test]
fn unwrapped_aggregations() {
    let got = instant(
        r#"sum by (host) (sum_over_time({app="api"} | json | unwrap latency_ms | __error__="" [1m]))"#,
    );
    assert_eq!(got, vec![(r#"{host="h1"}"#.to_string(), 140.0)]);
    let got = instant(
        r#"quantile_over_time(0.5, {app="api"} | json | unwrap latency_ms | __error__="" [1m]) by (host)"#,
    );
    assert_eq!(got, vec![(r#"{host="h1"}"#.to_string(), 30.0)]);
    let got =
        instant(r#"max_over_time({app="gw"} | logfmt | unwrap duration(duration) [1m]) by (app)"#);
    assert_eq!(got, vec![(r#"{app="gw"}"#.to_string(), 1.5)]);
}

#[test]
fn bytes_count_the_line_after_formatting() {
    let got = instant(
        r#"sum(bytes_over_time({app="api"} |= "msg" | json | line_format "{{.msg}}" [1m]))"#,
    );
    assert_eq!(got, vec![("{}".to_string(), 10.0)]); // "ok" + "boom" + "down"
}
