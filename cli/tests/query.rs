//! `logjar query` end to end: output formats, defaults, exit codes and error messages.

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::run as logjar;

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const NDJSON: &str = concat!(
    r#"{"labels":{"app":"api","host":"n1"},"ts":1767225600000000000,"line":"GET /a 200"}"#,
    "\n",
    r#"{"labels":{"app":"api","host":"n2"},"ts":1767225601000000000,"line":"GET /b 500"}"#,
    "\n",
    r#"{"labels":{"app":"api","host":"n1"},"ts":1767225630000000000,"line":"GET /c 500"}"#,
    "\n",
    r#"{"labels":{"app":"db","host":"n1"},"ts":1767225602000000000,"line":"slow query"}"#,
    "\n",
);

const START: &str = "2026-01-01T00:00:00Z";
const END: &str = "2026-01-01T00:02:00Z";

fn db() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = logjar(dir.path(), &["ingest", "-"], Some(NDJSON.as_bytes()));
    assert!(o.status.success(), "{}", err(&o));
    dir
}

fn query(dir: &Path, extra: &[&str], q: &str) -> Output {
    let mut args = vec!["query", "--start", START, "--end", END];
    args.extend_from_slice(extra);
    args.push(q);
    logjar(dir, &args, None)
}

#[test]
fn raw_prints_lines_in_query_order() {
    let dir = db();
    let o = query(dir.path(), &["--output", "raw"], r#"{app="api"}"#);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "GET /c 500\nGET /b 500\nGET /a 200\n");
    let o = query(
        dir.path(),
        &["-o", "raw", "--direction", "forward", "--limit", "2"],
        r#"{app="api"} |= "500""#,
    );
    assert_eq!(out(&o), "GET /b 500\nGET /c 500\n");
}

#[test]
fn table_shows_time_labels_and_line() {
    let dir = db();
    let o = query(dir.path(), &["--limit", "1"], r#"{app="db"}"#);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        out(&o),
        "2026-01-01T00:00:02.000000000Z  {app=\"db\", host=\"n1\"}  slow query\n"
    );
    let o = query(
        dir.path(),
        &["--step", "1m"],
        r#"sum by (app) (count_over_time({app=~".+"}[1m]))"#,
    );
    let text = out(&o);
    // 00:00:00 counts (-60 s, 0] = the entry at 0 s; 00:01:00 counts (0 s, 60 s] = 1 s and 30 s.
    assert!(text.contains("    1767225600=1 1767225660=2\n"), "{text}");
    assert!(text.contains(r#"{app="db"}"#), "{text}");
}

#[test]
fn jsonl_has_one_object_per_entry_or_sample() {
    let dir = db();
    let o = query(dir.path(), &["-o", "jsonl"], r#"{host="n1"}"#);
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["ts"], "1767225630000000000");
    assert_eq!(lines[0]["labels"]["app"], "api");
    assert_eq!(lines[0]["line"], "GET /c 500");
    let o = logjar(
        dir.path(),
        &[
            "query",
            "--instant",
            "--time",
            "2026-01-01T00:01:00Z",
            "-o",
            "jsonl",
            r#"count_over_time({app="db"}[1m])"#,
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["metric"]["app"], "db");
    assert_eq!(v["time"], 1767225660.0);
    assert_eq!(v["value"], "1");
}

#[test]
fn loki_json_is_the_api_body() {
    let dir = db();
    let o = query(
        dir.path(),
        &["-o", "loki-json", "--limit", "1"],
        r#"{app="api"}"#,
    );
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "streams");
    assert_eq!(
        v["data"]["result"][0]["values"],
        serde_json::json!([["1767225630000000000", "GET /c 500"]])
    );
    assert!(v["data"]["stats"]["summary"]["execTime"].is_number());
    let o = logjar(
        dir.path(),
        &[
            "query",
            "--instant",
            "--time",
            "1767225660000000000",
            "-o",
            "loki-json",
            "sum(count_over_time({app=\"api\"}[1m]))",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(
        v["data"]["result"][0]["value"],
        serde_json::json!([1767225660, "2"])
    );
}

#[test]
fn default_range_is_the_last_hour() {
    // The data is from 2026-01-01; "now" is later, so the default hour is empty.
    let dir = db();
    let o = logjar(dir.path(), &["query", "-o", "raw", r#"{app="api"}"#], None);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "");
}

#[test]
fn a_bad_query_exits_1_with_a_caret_and_no_stdout() {
    let dir = db();
    let o = query(dir.path(), &[], r#"{app="api"} |= "x" [5m]"#);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "");
    let e = err(&o);
    assert!(e.contains("parse error at line 1, col 20"), "{e}");
    assert!(
        e.contains("  {app=\"api\"} |= \"x\" [5m]\n                     ^"),
        "{e}"
    );
    // Log queries are not instant queries (Loki's rule).
    let o = logjar(dir.path(), &["query", "--instant", r#"{app="api"}"#], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "");
    // Bad flags.
    let o = logjar(
        dir.path(),
        &["query", "--start", "yesterday", r#"{app="api"}"#],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "");
    let o = logjar(
        dir.path(),
        &["query", "--step", "0s", r#"rate({app="api"}[1m])"#],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_data_problem_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let o = logjar(&file, &["query", r#"{app="api"}"#], None);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(out(&o), "");
}

#[test]
fn help_has_examples() {
    let dir = tempfile::tempdir().unwrap();
    let o = logjar(dir.path(), &["query", "--help"], None);
    assert!(o.status.success());
    let h = out(&o);
    assert!(
        h.contains("Examples:") && h.contains("one hour before --end"),
        "{h}"
    );
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn ndjson_at(ts: i64, line: &str) -> String {
    format!("{{\"labels\":{{\"app\":\"t\"}},\"ts\":{ts},\"line\":\"{line}\"}}\n")
}

#[test]
fn tail_prints_the_newest_entries_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ns();
    let input: String = (1..=3)
        .map(|i| ndjson_at(now - (10 - i) * 1_000_000_000, &format!("e{i}")))
        .collect();
    let o = logjar(dir.path(), &["ingest", "-"], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", err(&o));
    let o = logjar(
        dir.path(),
        &[
            "tail",
            "--limit",
            "2",
            "--max-entries",
            "2",
            "-o",
            "raw",
            r#"{app="t"}"#,
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "e2\ne3\n");
    let o = logjar(dir.path(), &["tail", r#"rate({app="t"}[1m])"#], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "");
}

#[test]
fn tail_follows_entries_written_by_another_process() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let now = now_ns();
    let o = logjar(
        dir.path(),
        &["ingest", "-"],
        Some(ndjson_at(now - 5_000_000_000, "old").as_bytes()),
    );
    assert!(o.status.success(), "{}", err(&o));
    let mut child = Command::new(env!("CARGO_BIN_EXE_logjar"))
        .arg("--data")
        .arg(dir.path())
        .args([
            "tail",
            "--interval",
            "50ms",
            "--max-entries",
            "2",
            "-o",
            "raw",
            r#"{app="t"}"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // A watchdog turns a tail that never sees the new entry into a failure, not a hang.
    let child = std::sync::Arc::new(std::sync::Mutex::new(child));
    let watched = std::sync::Arc::clone(&child);
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(120));
        let _ = watched.lock().unwrap().kill();
    });
    assert_eq!(lines.next().unwrap().unwrap(), "old");
    // The tail process opens the database only while polling: retry when it holds it.
    let new = ndjson_at(now_ns(), "new");
    let mut written = false;
    for _ in 0..1000 {
        let o = logjar(dir.path(), &["ingest", "-"], Some(new.as_bytes()));
        if o.status.success() {
            written = true;
            break;
        }
        assert!(err(&o).contains("locked"), "{}", err(&o));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(written, "ingest never got the lock");
    assert_eq!(lines.next().unwrap().unwrap(), "new");
    loop {
        if let Some(status) = child.lock().unwrap().try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
