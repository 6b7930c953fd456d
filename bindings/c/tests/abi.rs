//! The typed push, result handles, tail subscriptions and closed-handle checks, driven
//! through the `extern "C"` functions as a C host would (the C program
//! `tests/smoke.c` does the same under valgrind in `scripts/test-all`).

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

use logjar_c::*;

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn open(dir: &std::path::Path) -> *mut logjar_db {
    let path = c(dir.join("db").to_str().expect("utf-8"));
    let mut db = null_mut();
    // SAFETY: valid strings, writable out pointer.
    let rc = unsafe { logjar_open(path.as_ptr(), null(), &mut db) };
    assert_eq!(rc, LOGJAR_OK);
    db
}

fn last_error() -> String {
    let p = logjar_last_error();
    if p.is_null() {
        return String::new();
    }
    // SAFETY: logjar's thread-local NUL-terminated message, read before the next call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Owned data behind one `logjar_stream`.
struct StreamData {
    _strings: Vec<CString>,
    labels: Vec<logjar_label>,
    ts: Vec<i64>,
    lines: Vec<Vec<u8>>,
    ptrs: Vec<*const u8>,
    lens: Vec<usize>,
}

impl StreamData {
    fn new(labels: &[(&str, &str)], entries: &[(i64, &[u8])]) -> Self {
        let strings: Vec<CString> = labels.iter().flat_map(|(k, v)| [c(k), c(v)]).collect();
        let pairs = strings
            .chunks(2)
            .map(|p| logjar_label {
                name: p[0].as_ptr(),
                value: p[1].as_ptr(),
            })
            .collect();
        let lines: Vec<Vec<u8>> = entries.iter().map(|(_, l)| l.to_vec()).collect();
        StreamData {
            _strings: strings,
            labels: pairs,
            ts: entries.iter().map(|(t, _)| *t).collect(),
            ptrs: lines.iter().map(|l| l.as_ptr()).collect(),
            lens: lines.iter().map(Vec::len).collect(),
            lines,
        }
    }

    fn stream(&self) -> logjar_stream {
        logjar_stream {
            labels: self.labels.as_ptr(),
            n_labels: self.labels.len(),
            timestamps: self.ts.as_ptr(),
            lines: self.ptrs.as_ptr(),
            line_lens: self.lens.as_ptr(),
            n_entries: self.lines.len(),
            metadata_counts: null(),
            metadata: null(),
        }
    }
}

fn push(
    db: *mut logjar_db,
    tenant: *const c_char,
    streams: &[logjar_stream],
) -> (i32, logjar_push_report) {
    let mut rep = logjar_push_report::default();
    // SAFETY: the streams' arrays are alive and hold what their counts say.
    let rc = unsafe { logjar_push(db, tenant, streams.as_ptr(), streams.len(), &mut rep) };
    (rc, rep)
}

fn query(db: *mut logjar_db, req: &str) -> Result<*mut logjar_result, (i32, String)> {
    let req = c(req);
    let mut r = null_mut();
    // SAFETY: valid strings, writable out pointer.
    match unsafe { logjar_query(db, null(), req.as_ptr(), null(), &mut r) } {
        LOGJAR_OK => Ok(r),
        rc => Err((rc, last_error())),
    }
}

/// (labels as "k=v,…", [(ts, line)]) of every stream of a streams result.
/// A stream read back: its labels as `k=v,…` and its entries.
type ReadStream = (String, Vec<(i64, Vec<u8>)>);

fn streams(r: *const logjar_result) -> Vec<ReadStream> {
    let mut n = 0;
    // SAFETY: a live result and writable outputs throughout.
    unsafe {
        assert_eq!(logjar_result_len(r, &mut n), LOGJAR_OK);
        (0..n)
            .map(|i| {
                let (mut l, mut nl) = (null(), 0);
                assert_eq!(logjar_result_labels(r, i, &mut l, &mut nl), LOGJAR_OK);
                let labels = std::slice::from_raw_parts(l, nl)
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={}",
                            CStr::from_ptr(p.name).to_str().expect("utf-8"),
                            CStr::from_ptr(p.value).to_str().expect("utf-8")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                let (mut e, mut ne) = (null(), 0);
                assert_eq!(logjar_result_entries(r, i, &mut e, &mut ne), LOGJAR_OK);
                let entries = std::slice::from_raw_parts(e, ne)
                    .iter()
                    .map(|e| {
                        (
                            e.ts,
                            std::slice::from_raw_parts(e.line, e.line_len).to_vec(),
                        )
                    })
                    .collect();
                (labels, entries)
            })
            .collect()
    }
}

#[test]
fn typed_push_and_every_result_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let api = StreamData::new(
        &[("app", "t"), ("svc", "api")],
        &[(1_000, b"a 200"), (2_000, b"b\x00x")],
    );
    let web = StreamData::new(&[("svc", "web"), ("app", "t")], &[(1_500, b"c 200")]);
    let (rc, rep) = push(db, null(), &[api.stream(), web.stream()]);
    assert_eq!(rc, LOGJAR_OK, "{}", last_error());
    assert_eq!((rep.accepted, rep.duplicates, rep.bytes), (3, 0, 13));
    let (_, rep) = push(db, null(), &[api.stream()]);
    assert_eq!((rep.accepted, rep.duplicates), (0, 2));

    let r = query(
        db,
        r#"{"query":"{app=\"t\"}","start":0,"end":10000,"direction":"forward"}"#,
    )
    .expect("query");
    let mut t = 0;
    // SAFETY: live result, writable outputs.
    assert_eq!(unsafe { logjar_result_type(r, &mut t) }, LOGJAR_OK);
    assert_eq!(t, LOGJAR_RESULT_STREAMS);
    assert_eq!(
        streams(r),
        vec![
            (
                "app=t,svc=api".to_string(),
                vec![(1_000, b"a 200".to_vec()), (2_000, b"b\x00x".to_vec())]
            ),
            (
                "app=t,svc=web".to_string(),
                vec![(1_500, b"c 200".to_vec())]
            ),
        ]
    );
    let mut stats = logjar_query_stats::default();
    let mut json = null_mut();
    let (mut p, mut np) = (null(), 0);
    // SAFETY: live result, writable outputs; the JSON string is freed once.
    unsafe {
        assert_eq!(logjar_result_stats(r, &mut stats), LOGJAR_OK);
        assert_eq!(
            logjar_result_points(r, 0, &mut p, &mut np),
            LOGJAR_ERR_INVALID_ARGUMENT
        );
        assert_eq!(logjar_result_loki_json(r, &mut json), LOGJAR_OK);
        let body = CStr::from_ptr(json).to_str().expect("utf-8").to_owned();
        logjar_string_free(json);
        assert!(body.contains(r#""resultType":"streams""#), "{body}");
        assert_eq!(logjar_result_free(r), LOGJAR_OK);
    }
    assert_eq!((stats.entries_returned, stats.streams_selected), (3, 2));

    // Matrix and vector: points; scalar: a value.
    let r = query(db, r#"{"query":"sum by (svc) (count_over_time({app=\"t\"}[10s]))","start":5000000000,"end":5000000000,"step":"1s"}"#).expect("matrix");
    let mut n = 0;
    // SAFETY: live result, writable outputs; the points array lives as long as `r`.
    unsafe {
        assert_eq!(logjar_result_type(r, &mut t), LOGJAR_OK);
        assert_eq!(t, LOGJAR_RESULT_MATRIX);
        assert_eq!(logjar_result_len(r, &mut n), LOGJAR_OK);
        assert_eq!(n, 2);
        assert_eq!(logjar_result_points(r, 0, &mut p, &mut np), LOGJAR_OK);
        assert_eq!(
            std::slice::from_raw_parts(p, np),
            &[logjar_point {
                ts: 5_000_000_000,
                value: 2.0
            }]
        );
        logjar_result_free(r);
    }
    let r = query(
        db,
        r#"{"query":"sum(count_over_time({app=\"t\"}[10s]))","time":5000000000}"#,
    )
    .expect("vector");
    // SAFETY: as above.
    unsafe {
        assert_eq!(logjar_result_type(r, &mut t), LOGJAR_OK);
        assert_eq!(t, LOGJAR_RESULT_VECTOR);
        assert_eq!(logjar_result_points(r, 0, &mut p, &mut np), LOGJAR_OK);
        assert_eq!(
            std::slice::from_raw_parts(p, np),
            &[logjar_point {
                ts: 5_000_000_000,
                value: 3.0
            }]
        );
        assert_eq!(
            logjar_result_points(r, 1, &mut p, &mut np),
            LOGJAR_ERR_INVALID_ARGUMENT
        );
        logjar_result_free(r);
    }
    let r = query(db, r#"{"query":"1 + 2","time":7000000}"#).expect("scalar");
    let mut sc = logjar_point { ts: 0, value: 0.0 };
    // SAFETY: as above.
    unsafe {
        assert_eq!(logjar_result_scalar(r, &mut sc), LOGJAR_OK);
        assert_eq!(
            sc,
            logjar_point {
                ts: 7_000_000,
                value: 3.0
            }
        );
        logjar_result_free(r);
    }
    assert_eq!(
        query(db, r#"{"query":"{app="}"#).unwrap_err().0,
        LOGJAR_ERR_BAD_QUERY
    );
    // SAFETY: the live handle, closed once.
    assert_eq!(unsafe { logjar_close(db) }, LOGJAR_OK);
}

#[test]
fn typed_push_rejects_bad_input_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let good = StreamData::new(&[("app", "x")], &[(1, b"ok")]);
    let bad_label = StreamData::new(&[("0bad", "x")], &[(1, b"ok")]);
    let (rc, _) = push(db, null(), &[good.stream(), bad_label.stream()]);
    assert_eq!(rc, LOGJAR_ERR_INVALID_ARGUMENT);
    // Invalid UTF-8 in a label value.
    let raw = [0xffu8, 0];
    let name = c("app");
    let l = [logjar_label {
        name: name.as_ptr(),
        value: raw.as_ptr().cast(),
    }];
    let mut s = good.stream();
    s.labels = l.as_ptr();
    let (rc, _) = push(db, null(), &[s]);
    assert_eq!(rc, LOGJAR_ERR_INVALID_ARGUMENT);
    assert!(last_error().contains("UTF-8"), "{}", last_error());
    // Metadata counts given, pairs NULL.
    let counts = [1usize];
    let mut s = good.stream();
    s.metadata_counts = counts.as_ptr();
    assert_eq!(push(db, null(), &[s]).0, LOGJAR_ERR_INVALID_ARGUMENT);
    let r = query(db, r#"{"query":"{app=~\".+\"}","start":0,"end":10}"#).expect("query");
    assert!(streams(r).is_empty(), "a failed batch wrote nothing");
    // SAFETY: live handles, freed/closed once.
    unsafe {
        logjar_result_free(r);
        assert_eq!(logjar_close(db), LOGJAR_OK);
    }
}

#[test]
fn tail_returns_each_entry_once_across_equal_timestamps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let q = c(r#"{app="tail"}"#);
    let mut sub = null_mut();
    // SAFETY: valid strings, writable out pointer.
    let rc = unsafe { logjar_tail_open(db, null(), q.as_ptr(), 0, &mut sub) };
    assert_eq!(rc, LOGJAR_OK);
    let poll = |timeout: u32| -> Vec<Vec<u8>> {
        let mut r = null_mut();
        // SAFETY: a live subscription, writable out pointer.
        let rc = unsafe { logjar_tail_poll(sub, timeout, &mut r) };
        assert_eq!(rc, LOGJAR_OK, "{}", last_error());
        let lines = streams(r)
            .into_iter()
            .flat_map(|(_, e)| e.into_iter().map(|(_, l)| l))
            .collect();
        // SAFETY: the result from the poll, freed once.
        unsafe { logjar_result_free(r) };
        lines
    };
    assert!(poll(0).is_empty());
    // Two entries at ts 10, then a third at 10 (must come, once) and one at 11, then an
    // entry at 10 again (older than the newest returned: not returned) and one at 12.
    type Round<'a> = (&'a [(i64, &'a [u8])], &'a [&'a [u8]]);
    let rounds: [Round; 3] = [
        (&[(10, b"x1"), (10, b"x2")], &[b"x1", b"x2"]),
        (&[(10, b"x3"), (11, b"y")], &[b"x3", b"y"]),
        (&[(10, b"late"), (12, b"z")], &[b"z"]),
    ];
    for (batch, want) in rounds {
        let s = StreamData::new(&[("app", "tail")], batch);
        assert_eq!(push(db, null(), &[s.stream()]).0, LOGJAR_OK);
        let want: Vec<Vec<u8>> = want.iter().map(|l| l.to_vec()).collect();
        assert_eq!(poll(1000), want);
    }
    assert!(poll(10).is_empty());
    // SAFETY: live handles, closed once; then stale handles must be refused.
    unsafe {
        assert_eq!(logjar_close(db), LOGJAR_OK);
        let mut r = null_mut();
        assert_eq!(logjar_tail_poll(sub, 0, &mut r), LOGJAR_ERR_CLOSED);
        assert_eq!(logjar_flush(db), LOGJAR_ERR_CLOSED);
        assert_eq!(logjar_close(db), LOGJAR_ERR_CLOSED);
        assert_eq!(logjar_tail_close(sub), LOGJAR_OK);
        assert_eq!(logjar_tail_close(sub), LOGJAR_ERR_CLOSED);
    }
}

#[test]
fn delete_hides_entries_and_compaction_applies_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let s = StreamData::new(&[("app", "d")], &[(1, b"secret=1"), (2, b"ok")]);
    assert_eq!(push(db, null(), &[s.stream()]).0, LOGJAR_OK);
    let q = c(r#"{app="d"} |= "secret""#);
    let mut id = 0u64;
    // SAFETY: a live handle, valid strings, writable out pointer.
    let rc = unsafe { logjar_delete(db, null(), q.as_ptr(), 0, 10, &mut id) };
    assert_eq!((rc, id), (LOGJAR_OK, 1));
    let r = query(db, r#"{"query":"{app=\"d\"}","start":0,"end":10}"#).expect("query");
    assert_eq!(streams(r)[0].1, vec![(2, b"ok".to_vec())]);
    let mut json = null_mut();
    // SAFETY: live handles, writable outputs; strings freed once.
    unsafe {
        logjar_result_free(r);
        assert_eq!(logjar_compact(db, &mut json), LOGJAR_OK);
        let report = CStr::from_ptr(json).to_str().expect("utf-8").to_owned();
        logjar_string_free(json);
        assert!(report.contains(r#""entries_deleted":1"#), "{report}");
        assert_eq!(
            logjar_delete_requests_json(db, null(), &mut json),
            LOGJAR_OK
        );
        let reqs = CStr::from_ptr(json).to_str().expect("utf-8").to_owned();
        logjar_string_free(json);
        assert!(reqs.contains(r#""status":"applied""#), "{reqs}");
        assert_eq!(
            logjar_cancel_delete(db, null(), 1),
            LOGJAR_ERR_INVALID_ARGUMENT
        );
        let bad = c("{app=");
        assert_eq!(
            logjar_delete(db, null(), bad.as_ptr(), 0, 1, null_mut()),
            LOGJAR_ERR_INVALID_ARGUMENT
        );
        assert_eq!(logjar_close(db), LOGJAR_OK);
    }
}
