//! The executor-facing API: prefix filters, stream reuse, identity of result label sets,
//! sharing a compiled pipeline across threads.

mod pipeline_util;
use pipeline_util::*;

#[test]
fn prefix_is_the_leading_run_of_line_filters() {
    let p = pipeline(r#"{app="a"} |= "GET" != "health" | logfmt |= "x""#);
    let prefix = p.line_filter_prefix();
    assert_eq!(prefix.len(), 2);
    // only positive filters require a literal
    assert_eq!(prefix.required_literal(), Some(&b"GET"[..]));
    assert!(prefix.matches(b"GET /x"));
    assert!(!prefix.matches(b"GET /health"));
    assert!(!p.is_filter_only() && p.changes_labels() && !p.changes_line());

    // process_after_prefix skips the prefix, process applies it.
    let mut s = p.for_stream(&stream(&[("app", "a")]));
    assert!(s.process(0, b"POST x=1", &[]).is_none());
    let e = s.process_after_prefix(0, b"POST x=1", &[]).unwrap();
    assert_eq!(e.labels.to_string(), r#"{app="a", x="1"}"#);
    // the later `|= "x"` still applies
    assert!(s.process_after_prefix(0, b"POST y=1", &[]).is_none());
}

#[test]
fn equal_label_sets_have_equal_hashes_across_streams() {
    let p = pipeline(r#"{app="a"} | logfmt | drop host"#);
    let mut s1 = p.for_stream(&stream(&[("app", "a"), ("host", "h1")]));
    let mut s2 = p.for_stream(&stream(&[("app", "a"), ("host", "h2")]));
    let (l1, h1) = {
        let e = s1.process(0, b"level=info", &[]).unwrap();
        (e.labels.clone(), e.labels_hash)
    };
    let e2 = s2.process(0, b"level=info", &[]).unwrap();
    assert_eq!(&l1, e2.labels);
    assert_eq!(h1, e2.labels_hash);
    let e3 = s2.process(0, b"level=warn", &[]).unwrap();
    assert_ne!(h1, e3.labels_hash);
}

#[test]
fn set_stream_reuses_the_processor() {
    let p = pipeline(r#"{app="a"} | logfmt"#);
    let mut s = p.for_stream(&stream(&[("app", "a")]));
    assert_eq!(
        s.process(0, b"app=x", &[]).unwrap().labels.to_string(),
        r#"{app="a", app_extracted="x"}"#
    );
    s.set_stream(&stream(&[("env", "prod")]));
    assert_eq!(s.stream_labels().to_string(), r#"{env="prod"}"#);
    assert_eq!(
        s.process(0, b"app=x", &[]).unwrap().labels.to_string(),
        r#"{app="x", env="prod"}"#
    );
}

#[test]
fn numeric_equality_written_with_a_single_equals() {
    let out = labels_of(
        r#"{app="a"} | logfmt | status = 500"#,
        &[("app", "a")],
        &["status=500", "status=500.0", "status=501"],
    );
    assert_eq!(
        out.iter().map(Option::is_some).collect::<Vec<_>>(),
        vec![true, true, false]
    );
}

#[test]
fn a_compiled_pipeline_is_shared_across_threads() {
    let p = pipeline(r#"{app="a"} | json | status >= 500"#);
    let ex = extractor(
        r#"sum by (level) (count_over_time({app="a"} | json [1m]))"#,
        None,
    );
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let p = p.clone();
            let ex = ex.clone();
            std::thread::spawn(move || {
                let labels = stream(&[("app", "a"), ("t", if t == 0 { "0" } else { "1" })]);
                let mut s = p.for_stream(&labels);
                let mut x = ex.for_stream(&labels);
                let mut kept = 0;
                for i in 0..200 {
                    let line = format!(r#"{{"status":{},"level":"l{}"}}"#, 400 + i, i % 3);
                    kept += usize::from(s.process(i, line.as_bytes(), &[]).is_some());
                    assert!(x.process(i, line.as_bytes(), &[]).is_some());
                }
                kept
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 100);
    }
}
