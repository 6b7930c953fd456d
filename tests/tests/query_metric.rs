//! Metric queries against hand-made data; every expected value is worked out by hand
//! from Loki's rules: windows `(t - range, t]` at `start, start + step, …, ≤ end`, no
//! point where a window is empty, `rate` = count / range seconds.

mod query_support;

use logjar::query::{QueryError, QueryRequest, QueryResult};
use query_support::*;

const A: &str = r#"{app="a", env="prod"}"#;
const B: &str = r#"{app="b", env="prod"}"#;

/// a: 10-byte lines at 10, 30, …, 110 s ("error …" at 10, 50, 90); b: 3-byte lines at
/// 20 ("err"), 65 ("ok!"), 120 ("err"); c (dev): one line at 5 s.
fn data(flush: bool) -> (tempfile::TempDir, logjar::Db) {
    db_with(
        &[
            (
                &[("app", "a"), ("env", "prod")],
                at(&[
                    (10, "error abcd"),
                    (30, "info abcde"),
                    (50, "error abcd"),
                    (70, "info abcde"),
                    (90, "error abcd"),
                    (110, "info abcde"),
                ]),
            ),
            (
                &[("app", "b"), ("env", "prod")],
                at(&[(20, "err"), (65, "ok!"), (120, "err")]),
            ),
            (&[("app", "c"), ("env", "dev")], at(&[(5, "dev line")])),
        ],
        flush,
    )
}

/// Range query from 60 s to 120 s with a 30 s step (evaluated at 60, 90, 120).
fn range(q: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let mut out = None;
    for flush in [false, true] {
        let (_d, db) = data(flush);
        let req = QueryRequest::range(q, 60 * S, 120 * S).with_step(30 * S);
        let m = matrix(&query(&db, &req));
        if let Some(prev) = &out {
            assert_eq!(prev, &m, "{q}: memory and segments disagree");
        }
        out = Some(m);
    }
    out.unwrap_or_default()
}

#[test]
fn count_over_time_per_stream() {
    let want = expect_matrix(&[
        (A, &[(60, 3.0), (90, 3.0), (120, 3.0)]),
        (B, &[(60, 1.0), (90, 1.0), (120, 2.0)]),
    ]);
    assert_eq!(range(r#"count_over_time({env="prod"}[1m])"#), want);
    // The same through the line-reading path (an always-true filter).
    assert_eq!(range(r#"count_over_time({env="prod"} |= "" [1m])"#), want);
}

#[test]
fn rate_and_bytes() {
    let want = expect_matrix(&[
        (A, &[(60, 0.05), (90, 0.05), (120, 0.05)]),
        (B, &[(60, 1.0 / 60.0), (90, 1.0 / 60.0), (120, 2.0 / 60.0)]),
    ]);
    assert_eq!(range(r#"rate({env="prod"}[1m])"#), want);
    let want = expect_matrix(&[
        (A, &[(60, 30.0), (90, 30.0), (120, 30.0)]),
        (B, &[(60, 3.0), (90, 3.0), (120, 6.0)]),
    ]);
    assert_eq!(range(r#"bytes_over_time({env="prod"}[1m])"#), want);
    let want = expect_matrix(&[
        (A, &[(60, 0.5), (90, 0.5), (120, 0.5)]),
        (B, &[(60, 0.05), (90, 0.05), (120, 0.1)]),
    ]);
    assert_eq!(range(r#"bytes_rate({env="prod"}[1m])"#), want);
}

#[test]
fn line_filter_and_empty_windows() {
    // "err" matches a's "error" lines (10, 50, 90) and b's at 20 and 120; b has nothing
    // matching in (30 s, 90 s], so no point at 90.
    let want = expect_matrix(&[
        (A, &[(60, 2.0), (90, 2.0), (120, 1.0)]),
        (B, &[(60, 1.0), (120, 1.0)]),
    ]);
    assert_eq!(
        range(r#"count_over_time({env="prod"} |= "err" [1m])"#),
        want
    );
}

#[test]
fn sum_by_and_without() {
    let want = expect_matrix(&[
        (r#"{env="dev"}"#, &[(60, 1.0)]),
        (r#"{env="prod"}"#, &[(60, 4.0), (90, 4.0), (120, 5.0)]),
    ]);
    assert_eq!(
        range(r#"sum by (env) (count_over_time({env=~".+"}[1m]))"#),
        want
    );
    assert_eq!(
        range(r#"sum without (app) (count_over_time({env=~".+"}[1m]))"#),
        want
    );
    let want = expect_matrix(&[("{}", &[(60, 5.0), (90, 4.0), (120, 5.0)])]);
    assert_eq!(range(r#"sum(count_over_time({app=~"a|b|c"}[1m]))"#), want);
}

#[test]
fn topk_per_step() {
    let want = expect_matrix(&[(A, &[(60, 3.0), (90, 3.0), (120, 3.0)])]);
    assert_eq!(range(r#"topk(1, count_over_time({env="prod"}[1m]))"#), want);
    let want = expect_matrix(&[(B, &[(60, 1.0), (90, 1.0), (120, 2.0)])]);
    assert_eq!(
        range(r#"bottomk(1, count_over_time({env="prod"}[1m]))"#),
        want
    );
}

#[test]
fn binary_operations() {
    let want = expect_matrix(&[("{}", &[(60, 0.75), (90, 0.75), (120, 0.6)])]);
    assert_eq!(
        range(r#"sum(count_over_time({app="a"}[1m])) / sum(count_over_time({env="prod"}[1m]))"#),
        want
    );
    let want = expect_matrix(&[(B, &[(60, 2.0), (90, 2.0), (120, 4.0)])]);
    assert_eq!(range(r#"count_over_time({app="b"}[1m]) * 2"#), want);
    // Filtering comparison keeps the left value; `bool` gives 0/1.
    let want = expect_matrix(&[(B, &[(120, 2.0)])]);
    assert_eq!(range(r#"count_over_time({app="b"}[1m]) > 1"#), want);
    let want = expect_matrix(&[(B, &[(60, 0.0), (90, 0.0), (120, 1.0)])]);
    assert_eq!(range(r#"count_over_time({app="b"}[1m]) > bool 1"#), want);
    // Many-to-one matching.
    let want = expect_matrix(&[
        (A, &[(60, 0.75), (90, 0.75), (120, 0.6)]),
        (B, &[(60, 0.25), (90, 0.25), (120, 0.4)]),
    ]);
    assert_eq!(
        range(
            r#"count_over_time({env="prod"}[1m]) / on (env) group_left sum by (env) (count_over_time({env="prod"}[1m]))"#
        ),
        want
    );
    // A scalar expression in a range query is one label-less series.
    assert_eq!(
        range("1 + 2"),
        expect_matrix(&[("{}", &[(60, 3.0), (90, 3.0), (120, 3.0)])])
    );
}

#[test]
fn offset_shifts_the_window_back() {
    // Windows (t - 90 s, t - 30 s]: 60 → (-30, 30] = {10, 30}; 90 → (0, 60] = {10, 30, 50};
    // 120 → (30, 90] = {50, 70, 90}.
    let want = expect_matrix(&[(A, &[(60, 2.0), (90, 3.0), (120, 3.0)])]);
    assert_eq!(range(r#"count_over_time({app="a"}[1m] offset 30s)"#), want);
}

#[test]
fn absent_over_time_and_label_replace_and_vector() {
    let want = expect_matrix(&[(r#"{app="zzz"}"#, &[(60, 1.0), (90, 1.0), (120, 1.0)])]);
    assert_eq!(range(r#"absent_over_time({app="zzz"}[1m])"#), want);
    // b: (30, 60] empty; (60, 90] has 65; (90, 120] has 120.
    let want = expect_matrix(&[(r#"{app="b"}"#, &[(60, 1.0)])]);
    assert_eq!(range(r#"absent_over_time({app="b"}[30s])"#), want);
    let want = expect_matrix(&[
        (
            r#"{app="a", svc="a-svc"}"#,
            &[(60, 3.0), (90, 3.0), (120, 3.0)],
        ),
        (
            r#"{app="b", svc="b-svc"}"#,
            &[(60, 1.0), (90, 1.0), (120, 2.0)],
        ),
    ]);
    assert_eq!(
        range(
            r#"label_replace(sum by (app) (count_over_time({env="prod"}[1m])), "svc", "$1-svc", "app", "(.*)")"#
        ),
        want
    );
    assert_eq!(
        range("vector(2)"),
        expect_matrix(&[("{}", &[(60, 2.0), (90, 2.0), (120, 2.0)])])
    );
}

#[test]
fn instant_vector_scalar_and_sort() {
    let (_d, db) = data(true);
    let resp = query(
        &db,
        &QueryRequest::instant(
            r#"sum by (app) (count_over_time({env="prod"}[1m]))"#,
            120 * S,
        ),
    );
    assert_eq!(resp.time_ms, 120_000);
    assert_eq!(
        vector(&resp),
        vec![
            (r#"{app="a"}"#.to_string(), 3.0),
            (r#"{app="b"}"#.to_string(), 2.0)
        ]
    );
    let resp = query(
        &db,
        &QueryRequest::instant(
            r#"sort(sum by (app) (count_over_time({env="prod"}[1m])))"#,
            120 * S,
        ),
    );
    assert_eq!(
        vector(&resp),
        vec![
            (r#"{app="b"}"#.to_string(), 2.0),
            (r#"{app="a"}"#.to_string(), 3.0)
        ]
    );
    let resp = query(&db, &QueryRequest::instant("2 * 3 + 1", 120 * S));
    assert_eq!(resp.result, QueryResult::Scalar(7.0));
    // An instant window (t - 1m, t] at 125 s = (65 s, 125 s]: a has 70, 90, 110; b only
    // 120 (65 is on the open edge).
    let resp = query(
        &db,
        &QueryRequest::instant(r#"count_over_time({env="prod"}[1m])"#, 125 * S),
    );
    assert_eq!(
        vector(&resp),
        vec![(A.to_string(), 3.0), (B.to_string(), 1.0)]
    );
}

#[test]
fn default_step_is_lokis() {
    let (_d, db) = data(false);
    // 0..1000 s without a step: max(floor(1000 / 250), 1) = 4 s, so 251 evaluation times;
    // a's entries are 20 s apart, so with [1m] every step from 10 s to 170 s has a point.
    let resp = query(
        &db,
        &QueryRequest::range(r#"count_over_time({app="a"}[1m])"#, 0, 1000 * S),
    );
    let m = matrix(&resp);
    let ts: Vec<i64> = m[0].1.iter().map(|p| p.0).collect();
    assert_eq!(ts.first(), Some(&12));
    assert_eq!(ts.last(), Some(&168));
    assert!(ts.windows(2).all(|w| w[1] - w[0] == 4));
}

#[test]
fn series_limit_and_step_errors() {
    let (_d, db) = data(false);
    let mut req = QueryRequest::range(r#"count_over_time({env="prod"}[1m])"#, 60 * S, 120 * S)
        .with_step(30 * S);
    req.limits.max_series = 1;
    let err = db.query("fake", &req).unwrap_err();
    assert!(matches!(err, QueryError::Limit(_)));
    assert_eq!(
        err.to_string(),
        "maximum of series (1) reached for a single query"
    );
    let req =
        QueryRequest::range(r#"count_over_time({env="prod"}[1m])"#, 0, 20_000 * S).with_step(S);
    let err = db.query("fake", &req).unwrap_err();
    assert!(err.to_string().contains("11,000 points"), "{err}");
}

#[test]
fn a_fast_path_query_reads_no_line() {
    let (_d, db) = data(true);
    let req = QueryRequest::range(
        r#"sum by (app) (count_over_time({env="prod"}[1m]))"#,
        60 * S,
        120 * S,
    )
    .with_step(30 * S);
    let resp = query(&db, &req);
    // Read range (0 s, 120 s]: a's 6 entries and b's 3.
    assert_eq!(resp.stats.total_lines_processed, 9);
    assert_eq!(resp.stats.lines_counted_without_decompression, 9);
    // Without a grouping, structured metadata could split series: lines are read.
    let req = QueryRequest::range(r#"count_over_time({env="prod"}[1m])"#, 60 * S, 120 * S)
        .with_step(30 * S);
    let resp = query(&db, &req);
    assert_eq!(resp.stats.total_lines_processed, 9);
    assert_eq!(resp.stats.lines_counted_without_decompression, 0);
    let req = QueryRequest::range(
        r#"count_over_time({env="prod"} |= "err" [1m])"#,
        60 * S,
        120 * S,
    )
    .with_step(30 * S);
    let resp = query(&db, &req);
    assert_eq!(resp.stats.lines_counted_without_decompression, 0);
    assert_eq!(resp.stats.post_filter_lines, 5);
}

#[test]
fn structured_metadata_splits_series_like_loki() {
    let dir = tempfile::tempdir().unwrap();
    let db = logjar::Db::open(dir.path(), logjar::Options::default()).unwrap();
    let labels = logjar::Labels::new([("app", "m")]).unwrap();
    db.push(
        "fake",
        &[logjar::entry::StreamEntries {
            labels,
            entries: vec![
                logjar::Entry::new(10 * S, "plain"),
                logjar::Entry::new(20 * S, "traced").with_metadata([("trace_id", "t1")]),
                logjar::Entry::new(30 * S, "traced again").with_metadata([("trace_id", "t1")]),
            ],
        }],
    )
    .unwrap();
    db.flush().unwrap();
    let at = |q: &str| vector(&query(&db, &QueryRequest::instant(q, 60 * S)));
    assert_eq!(
        at(r#"count_over_time({app="m"}[1m])"#),
        vec![
            (r#"{app="m"}"#.to_string(), 1.0),
            (r#"{app="m", trace_id="t1"}"#.to_string(), 2.0)
        ]
    );
    assert_eq!(
        at(r#"sum by (app) (count_over_time({app="m"}[1m]))"#),
        vec![(r#"{app="m"}"#.to_string(), 3.0)]
    );
    assert_eq!(
        at(r#"sum by (trace_id) (bytes_over_time({app="m"}[1m]))"#),
        vec![
            ("{}".to_string(), 5.0),
            (r#"{trace_id="t1"}"#.to_string(), 18.0)
        ]
    );
}

#[test]
fn extreme_requests_fail_cleanly_or_answer() {
    let (_d, db) = data(false);
    let queries = [
        r#"count_over_time({app="a"}[1m] offset 100000h)"#,
        r#"count_over_time({app="a"}[1m] offset -100000h)"#,
        r#"rate({app="a"}[30d])"#,
        r#"sum(rate({app="a"}[1m])) / 0"#,
        r#"{app="a"} |= "x""#,
        "vector(1) + vector(2)",
    ];
    let times = [
        (i64::MIN, i64::MAX),
        (i64::MAX - 1, i64::MAX),
        (0, 0),
        (-S, S),
    ];
    for q in queries {
        for (start, end) in times {
            for step in [None, Some(1), Some(i64::MAX)] {
                let mut req = QueryRequest::range(q, start, end);
                req.step = step;
                // Either an answer or a typed error; never a panic.
                let _ = db.query("fake", &req);
            }
            for t in [i64::MIN, i64::MAX, 0] {
                let _ = db.query("fake", &QueryRequest::instant(q, t));
            }
        }
    }
    // Something was really evaluated, not only refused.
    let req = QueryRequest::range(r#"rate({app="a"}[30d])"#, 0, 120 * S).with_step(60 * S);
    assert_eq!(matrix(&query(&db, &req)).len(), 1);
}
