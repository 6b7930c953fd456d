//! Log queries against hand-made data; expected answers worked out from Loki's rules:
//! merge by timestamp in the query direction, ties by label string (ascending, both
//! directions), stop at `limit`, streams sorted by label string, `[start, end)`.

mod query_support;

use logjar::query::{QueryError, QueryRequest};
use logjar::Direction;
use query_support::*;

const A: &str = r#"{app="a", env="prod"}"#;
const B: &str = r#"{app="b", env="prod"}"#;
const C: &str = r#"{app="c", env="dev"}"#;

fn data(flush: bool) -> (tempfile::TempDir, logjar::Db) {
    db_with(
        &[
            (
                &[("app", "a"), ("env", "prod")],
                at(&[(1, "a1 error"), (3, "a3 ok"), (5, "a5 error"), (7, "a7 ok")]),
            ),
            (
                &[("app", "b"), ("env", "prod")],
                at(&[(2, "b2 error"), (3, "b3 error"), (6, "b6 ok")]),
            ),
            (&[("app", "c"), ("env", "dev")], at(&[(4, "c4 error")])),
        ],
        flush,
    )
}

fn run(flush: bool, q: &str, limit: u32, dir: Direction) -> Vec<(String, Vec<(i64, String)>)> {
    let (_d, db) = data(flush);
    let req = QueryRequest::range(q, 0, 10 * S)
        .with_limit(limit)
        .with_direction(dir);
    streams(&query(&db, &req))
}

#[test]
fn backward_limit_takes_newest_across_streams() {
    for flush in [false, true] {
        let got = run(flush, r#"{env="prod"}"#, 3, Direction::Backward);
        let want = expect_streams(&[(A, &[(7, "a7 ok"), (5, "a5 error")]), (B, &[(6, "b6 ok")])]);
        assert_eq!(got, want, "flush={flush}");
    }
}

#[test]
fn forward_limit_breaks_timestamp_ties_by_label_string() {
    for flush in [false, true] {
        // ts 3 is in both streams: {app="a"…} sorts first, so it is the one kept at limit 3.
        let got = run(flush, r#"{env="prod"}"#, 3, Direction::Forward);
        let want = expect_streams(&[
            (A, &[(1, "a1 error"), (3, "a3 ok")]),
            (B, &[(2, "b2 error")]),
        ]);
        assert_eq!(got, want, "flush={flush}");
    }
}

#[test]
fn backward_ties_also_prefer_the_smaller_label_string() {
    let got = run(false, r#"{env="prod"}"#, 4, Direction::Backward);
    let want = expect_streams(&[
        (A, &[(7, "a7 ok"), (5, "a5 error"), (3, "a3 ok")]),
        (B, &[(6, "b6 ok")]),
    ]);
    assert_eq!(got, want);
}

#[test]
fn line_filters_apply_before_the_limit() {
    let got = run(true, r#"{app=~"a|b|c"} |= "error""#, 3, Direction::Backward);
    let want = expect_streams(&[
        (A, &[(5, "a5 error")]),
        (B, &[(3, "b3 error")]),
        (C, &[(4, "c4 error")]),
    ]);
    assert_eq!(got, want);
    let got = run(
        true,
        r#"{env="prod"} != "error" |~ "(?i)OK""#,
        100,
        Direction::Forward,
    );
    let want = expect_streams(&[(A, &[(3, "a3 ok"), (7, "a7 ok")]), (B, &[(6, "b6 ok")])]);
    assert_eq!(got, want);
    let got = run(
        false,
        r#"{env="prod"} |= "a1" or "b6""#,
        100,
        Direction::Forward,
    );
    let want = expect_streams(&[(A, &[(1, "a1 error")]), (B, &[(6, "b6 ok")])]);
    assert_eq!(got, want);
}

#[test]
fn range_is_start_inclusive_end_exclusive() {
    let (_d, db) = data(true);
    let req = QueryRequest::range(r#"{app="a"}"#, 3 * S, 7 * S).with_direction(Direction::Forward);
    let got = streams(&query(&db, &req));
    assert_eq!(
        got,
        expect_streams(&[(A, &[(3, "a3 ok"), (5, "a5 error")])])
    );
}

#[test]
fn limit_zero_and_no_match_give_empty_results() {
    assert!(run(false, r#"{env="prod"}"#, 0, Direction::Backward).is_empty());
    assert!(run(false, r#"{env="nowhere"}"#, 10, Direction::Backward).is_empty());
    assert!(run(false, r#"{env="prod"} |= "zzz""#, 10, Direction::Backward).is_empty());
}

#[test]
fn many_streams_split_over_threads_keep_the_global_order() {
    // 9 streams, so the work is split; the answer must not depend on the split.
    let specs: Vec<(String, Vec<(i64, String)>)> = (0..9)
        .map(|i| {
            let entries = (0..20)
                .map(|k| ((k * 9 + i) * S / 10, format!("s{i} k{k}")))
                .collect();
            (format!("s{i}"), entries)
        })
        .collect();
    let labels: Vec<[(&str, &str); 2]> = specs
        .iter()
        .map(|(n, _)| [("app", "x"), ("s", n.as_str())])
        .collect();
    let streams_spec: Vec<StreamSpec<'_>> = labels
        .iter()
        .zip(&specs)
        .map(|(l, (_, e))| (&l[..], e.clone()))
        .collect();
    let (_d, db) = db_with(&streams_spec, false);
    let req = QueryRequest::range(r#"{app="x"}"#, 0, 100 * S).with_limit(25);
    let resp = query(&db, &req);
    let logjar::query::QueryResult::Streams(s) = &resp.result else {
        panic!()
    };
    let mut ts: Vec<i64> = s
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.0))
        .collect();
    ts.sort_unstable_by(|a, b| b.cmp(a));
    // The 25 newest of 180 entries spaced 0.1 s apart: 17.9 s down to 15.5 s.
    let want: Vec<i64> = (0..25).map(|k| (179 - k) * S / 10).collect();
    assert_eq!(ts, want);
    // Each stream's entries are newest first.
    for st in s {
        assert!(st.entries.windows(2).all(|w| w[0].0 > w[1].0));
    }
}

#[test]
fn structured_metadata_joins_the_stream_labels() {
    let dir = tempfile::tempdir().unwrap();
    let db = logjar::Db::open(dir.path(), logjar::Options::default()).unwrap();
    let labels = logjar::Labels::new([("app", "m")]).unwrap();
    db.push(
        "fake",
        &[logjar::entry::StreamEntries {
            labels,
            entries: vec![
                logjar::Entry::new(S, "plain"),
                logjar::Entry::new(2 * S, "traced")
                    .with_metadata([("trace_id", "t1"), ("app", "x")]),
            ],
        }],
    )
    .unwrap();
    let got = streams(&query(&db, &QueryRequest::range(r#"{app="m"}"#, 0, 10 * S)));
    // A metadata key equal to a stream label becomes <key>_extracted. Streams sort by
    // label string: "," (0x2c) sorts before "}" (0x7d).
    let want = expect_streams(&[
        (
            r#"{app="m", app_extracted="x", trace_id="t1"}"#,
            &[(2, "traced")],
        ),
        (r#"{app="m"}"#, &[(1, "plain")]),
    ]);
    assert_eq!(got, want);
}

#[test]
fn an_entry_repeated_under_equal_final_labels_is_returned_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = logjar::Db::open(dir.path(), logjar::Options::default()).unwrap();
    let push = |labels: &[(&str, &str)], e: logjar::Entry| logjar::entry::StreamEntries {
        labels: logjar::Labels::new(labels.iter().copied()).unwrap(),
        entries: vec![e],
    };
    db.push(
        "fake",
        &[
            // {app="d"} + metadata n=1 and {app="d", n="1"} both end up as {app="d", n="1"}.
            push(
                &[("app", "d")],
                logjar::Entry::new(S, "same").with_metadata([("n", "1")]),
            ),
            push(&[("app", "d"), ("n", "1")], logjar::Entry::new(S, "same")),
            push(&[("app", "d"), ("n", "2")], logjar::Entry::new(S, "same")),
        ],
    )
    .unwrap();
    let got = streams(&query(&db, &QueryRequest::range(r#"{app="d"}"#, 0, 10 * S)));
    let want = expect_streams(&[
        (r#"{app="d", n="1"}"#, &[(1, "same")]),
        (r#"{app="d", n="2"}"#, &[(1, "same")]),
    ]);
    assert_eq!(got, want);
}

#[test]
fn errors_are_typed() {
    let (_d, db) = data(false);
    let err = db
        .query(
            "fake",
            &QueryRequest::range(r#"{app="a"} |= "x" [5m]"#, 0, S),
        )
        .unwrap_err();
    let QueryError::BadQuery {
        rendered, position, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*position, 17);
    assert!(rendered.ends_with("^"), "{rendered}");
    let err = db
        .query("fake", &QueryRequest::range(r#"{app="a"}"#, 10, 0))
        .unwrap_err();
    assert!(matches!(err, QueryError::BadRequest(_)), "{err:?}");
    let err = db
        .query(
            "fake",
            &QueryRequest::range(r#"{app="a"}"#, 0, S).with_limit(5001),
        )
        .unwrap_err();
    assert!(err.to_string().contains("max entries limit"), "{err}");
    let err = db
        .query("fake", &QueryRequest::instant(r#"{app="a"}"#, S))
        .unwrap_err();
    assert!(err.to_string().contains("instant query"), "{err}");
}

#[test]
fn cancellation_and_deadline_stop_the_query() {
    let entries: Vec<(i64, String)> = (0..20_000).map(|i| (i, format!("line {i}"))).collect();
    let (_d, db) = db_with(&[(&[("app", "big")], entries)], false);
    let token = logjar::query::CancelToken::new();
    token.cancel();
    let req =
        QueryRequest::range(r#"{app="big"} |= "nothing matches this""#, 0, S).with_cancel(token);
    assert!(matches!(db.query("fake", &req), Err(QueryError::Cancelled)));
    let past = std::time::Instant::now();
    let req =
        QueryRequest::range(r#"{app="big"} |= "nothing matches this""#, 0, S).with_deadline(past);
    assert!(matches!(db.query("fake", &req), Err(QueryError::Timeout)));
    let mut req = QueryRequest::range(r#"{app="big"} |= "nothing matches this""#, 0, S);
    req.limits.max_bytes_read = Some(1000);
    assert!(matches!(db.query("fake", &req), Err(QueryError::Limit(_))));
}
