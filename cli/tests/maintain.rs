//! End-to-end tests of `logjar compact`, `logjar delete`, `--retention` and the
//! pending deletes in `logjar stats`.

use std::path::Path;
mod common;
use common::run;

fn ok(data: &Path, args: &[&str]) -> (String, String) {
    let o = run(data, args, None);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{args:?} failed: {err}");
    (out, err)
}

fn ingest(data: &Path, ndjson: &str) {
    let o = run(data, &["ingest", "-"], Some(ndjson.as_bytes()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn entry(app: &str, ts: i64, line: &str) -> String {
    format!("{{\"labels\":{{\"app\":\"{app}\"}},\"ts\":{ts},\"line\":\"{line}\"}}\n")
}

fn lines(data: &Path, query: &str) -> Vec<String> {
    let end = (now_ns() + 3_600_000_000_000).to_string();
    let (out, _) = ok(
        data,
        &[
            "query",
            "--start",
            "0",
            "--end",
            &end,
            "--limit",
            "1000",
            "--direction",
            "forward",
            "--output",
            "raw",
            query,
        ],
    );
    out.lines().map(str::to_string).collect()
}

#[test]
fn compact_merges_segments_and_summarises_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = now_ns();
    for i in 0..3 {
        ingest(d, &entry("api", now - 1000 + i, &format!("line {i}")));
        ok(d, &["flush"]);
    }
    let (out, err) = ok(d, &["compact"]);
    assert!(out.is_empty());
    assert!(err.contains("compacted: 3 -> 1 segments"), "{err}");
    assert_eq!(lines(d, r#"{app="api"}"#), ["line 0", "line 1", "line 2"]);
    let (stats, _) = ok(d, &["stats"]);
    assert!(stats.contains("segments        1"), "{stats}");
}

#[test]
fn retention_flag_then_compact_removes_old_entries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = now_ns();
    let day = 86_400_000_000_000i64;
    let mut text = String::new();
    text += &entry("old", now - 3 * day, "three days ago");
    text += &entry("old", now - 2 * day, "two days ago");
    text += &entry("new", now - 60_000_000_000, "a minute ago");
    ingest(d, &text);
    ok(d, &["flush"]);
    // Hidden at once, before any compaction.
    let (out, _) = ok(
        d,
        &[
            "--retention",
            "24h",
            "query",
            "--start",
            "0",
            "--output",
            "raw",
            "--limit",
            "10",
            r#"{app=~".+"}"#,
        ],
    );
    assert_eq!(out.trim(), "a minute ago");
    let (_, err) = ok(d, &["--retention", "24h", "compact"]);
    assert!(err.contains("2 expired"), "{err}");
    // Gone from disk: without the flag they do not come back.
    assert_eq!(lines(d, r#"{app=~".+"}"#), ["a minute ago"]);
}

#[test]
fn delete_hides_at_once_and_compact_applies_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = now_ns();
    let mut text = String::new();
    text += &entry("api", now - 3000, "GET /a 200");
    text += &entry("api", now - 2000, "GET /b 500 password=hunter2");
    text += &entry("db", now - 1000, "password=ok in another stream");
    ingest(d, &text);
    let (out, _) = ok(
        d,
        &[
            "delete",
            "--start",
            "0",
            "--end",
            &now.to_string(),
            r#"{app="api"} |= "password=""#,
        ],
    );
    assert_eq!(out.trim(), "1");
    assert_eq!(lines(d, r#"{app="api"}"#), ["GET /a 200"]);
    assert_eq!(lines(d, r#"{app="db"}"#).len(), 1);
    let (stats, _) = ok(d, &["stats"]);
    assert!(stats.contains("pending deletes 1"), "{stats}");
    let (_, err) = ok(d, &["compact"]);
    assert!(
        err.contains("1 deleted") && err.contains("1 delete requests applied"),
        "{err}"
    );
    let (stats, _) = ok(d, &["stats"]);
    assert!(stats.contains("pending deletes 0"), "{stats}");
    assert_eq!(lines(d, r#"{app="api"}"#), ["GET /a 200"]);
}

#[test]
fn bad_delete_selector_exits_1_with_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &["delete", "--start", "0", "--end", "10", r#"{app="api""#],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains('^'), "{err}");
    let o = run(
        dir.path(),
        &["delete", "--start", "10", "--end", "0", r#"{a="b"}"#],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let o = run(dir.path(), &["delete", "--end", "0", r#"{a="b"}"#], None);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn config_file_sets_per_stream_and_per_tenant_retention() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("db");
    let cfg = dir.path().join("logjar.toml");
    std::fs::write(
        &cfg,
        r#"
compaction_interval = "0"
[[retention_stream]]
selector = '{app="old"}'
priority = 1
period = "24h"
[retention_tenants.other]
retention = "1h"
"#,
    )
    .unwrap();
    let now = now_ns();
    let mut text = String::new();
    text += &entry(
        "old",
        now - 48 * 3_600_000_000_000,
        "expired by the stream rule",
    );
    text += &entry(
        "keep",
        now - 48 * 3_600_000_000_000,
        "kept: no global retention",
    );
    ingest(&d, &text);
    let cfg_arg = cfg.to_str().unwrap();
    let (_, err) = ok(&d, &["--config", cfg_arg, "compact"]);
    assert!(err.contains("1 expired"), "{err}");
    assert_eq!(lines(&d, r#"{app=~".+"}"#), ["kept: no global retention"]);
    // A bad selector in the config is a usage error.
    std::fs::write(
        &cfg,
        "[[retention_stream]]\nselector = '{app='\nperiod = \"1h\"\n",
    )
    .unwrap();
    let o = run(&d, &["--config", cfg_arg, "stats"], None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
