//! End-to-end tests of the `logjar` binary: spawned as a process on temporary data dirs.

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::run as run_with_stdin;

fn logjar(data: &Path, args: &[&str]) -> Output {
    run_with_stdin(data, args, None)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const NDJSON: &str = concat!(
    r#"{"labels":{"app":"api","host":"n1"},"ts":1767225600000000000,"line":"GET /a 200"}"#,
    "\n",
    r#"{"labels":{"app":"api","host":"n2"},"ts":1767225601000000000,"line":"GET /b 500","metadata":{"trace_id":"t1"}}"#,
    "\n",
    r#"{"labels":{"app":"db","host":"n1"},"ts":"2026-01-01T00:00:02Z","line":"slow query"}"#,
    "\n",
    "this is not json\n",
    r#"{"labels":{"__bad":"x"},"ts":1,"line":"reserved label"}"#,
    "\n",
);

fn ingest_sample(data: &Path) -> Output {
    let o = run_with_stdin(data, &["ingest", "-"], Some(NDJSON.as_bytes()));
    assert!(o.status.success(), "ingest failed: {}", stderr(&o));
    o
}

#[test]
fn ingest_counts_accepted_and_rejected_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let o = ingest_sample(dir.path());
    let err = stderr(&o);
    assert!(o.stdout.is_empty());
    assert!(err.contains("ingested 3 entries"), "{err}");
    assert!(err.contains("3 streams"), "{err}");
    assert!(err.contains("2 rejected"), "{err}");
    assert!(err.contains("malformed=1"), "{err}");
    assert!(err.contains("invalid_labels=1"), "{err}");
    assert!(err.contains("entries/s"), "{err}");
}

#[test]
fn labels_and_values_after_ingest_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    ingest_sample(dir.path());
    let o = logjar(dir.path(), &["labels"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "app\nhost\n");
    let o = logjar(dir.path(), &["labels", "app"]);
    assert_eq!(stdout(&o), "api\ndb\n");
    // Another tenant sees nothing.
    let o = logjar(dir.path(), &["labels", "--tenant", "other"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "");
}

#[test]
fn series_matches_selectors() {
    let dir = tempfile::tempdir().unwrap();
    ingest_sample(dir.path());
    let o = logjar(dir.path(), &["series", r#"{app="api"}"#]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{app=\"api\", host=\"n1\"}\n{app=\"api\", host=\"n2\"}\n"
    );
    let o = logjar(dir.path(), &["series", r#"{host=~"n.", app!~"a.*"}"#]);
    assert_eq!(stdout(&o), "{app=\"db\", host=\"n1\"}\n");
}

#[test]
fn flush_then_stats_reports_space() {
    let dir = tempfile::tempdir().unwrap();
    ingest_sample(dir.path());
    let o = logjar(dir.path(), &["flush"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = logjar(dir.path(), &["stats"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("tenant fake"), "{out}");
    assert!(out.contains("streams         3"), "{out}");
    assert!(out.contains("entries         3"), "{out}");
    assert!(
        out.contains("oldest entry    2026-01-01T00:00:00Z"),
        "{out}"
    );
    // Data survives the flush: labels still answer.
    let o = logjar(dir.path(), &["labels", "host"]);
    assert_eq!(stdout(&o), "n1\nn2\n");
}

#[test]
fn loki_push_bodies_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let bodies = concat!(
        r#"{"streams":[{"stream":{"app":"x"},"values":[["1767225600000000000","a"],["1767225600000000001","b",{"k":"v"}]]}]}"#,
        "\n",
        r#"{"streams":[{"stream":{"app":"y"},"values":[["1767225600000000002","c"]]}]}"#,
        "\n",
        "{broken\n",
    );
    let o = run_with_stdin(
        dir.path(),
        &["ingest", "--format", "loki-push"],
        Some(bodies.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("ingested 3 entries"), "{}", stderr(&o));
    assert!(stderr(&o).contains("malformed=1"), "{}", stderr(&o));
}

#[test]
fn plain_lines_need_labels() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_with_stdin(dir.path(), &["ingest", "--format", "lines"], Some(b"a\n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("--labels"), "{}", stderr(&o));
    let o = run_with_stdin(
        dir.path(),
        &[
            "ingest",
            "--format",
            "lines",
            "--labels",
            r#"{app="plain"}"#,
        ],
        Some(b"one\nsame\nsame\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("ingested 3 entries"), "{}", stderr(&o));
    let o = logjar(dir.path(), &["labels", "app"]);
    assert_eq!(stdout(&o), "plain\n");
}

#[test]
fn extra_labels_are_merged_into_ndjson_streams() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_with_stdin(
        dir.path(),
        &["ingest", "--labels", r#"{source="import"}"#],
        Some(NDJSON.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = logjar(dir.path(), &["labels", "source"]);
    assert_eq!(stdout(&o), "import\n");
}

#[test]
fn usage_errors_exit_1_with_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["series", "{app=}"][..],
        &["series", "not a selector"],
        &["labels", "--start", "yesterday"],
        &["--retention", "forever", "stats"],
        &["no-such-command"],
        &["ingest", "--tenant", "a/b"],
    ] {
        let o = logjar(dir.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(!stderr(&o).is_empty(), "{args:?}");
    }
}

#[test]
fn selector_errors_show_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let o = logjar(dir.path(), &["series", r#"{app="x""#]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("col"), "{err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn data_problems_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the data directory should be.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let o = logjar(&file, &["stats"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // A missing input file.
    let o = logjar(dir.path(), &["ingest", "/no/such/file.ndjson"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Starts a `logjar ingest -` that holds the database open while its stdin stays open.
fn spawn_holder(data: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_logjar"))
        .arg("--data")
        .arg(data)
        .args(["ingest", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_process_gets_a_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    ingest_sample(dir.path());
    let mut holder = spawn_holder(dir.path());
    let mut locked = None;
    // Up to 30 s: on a loaded machine the holder may take a while to start. A probe can
    // itself hold the lock at the moment the holder opens, making the holder exit with
    // "locked"; then a new holder is started.
    for _ in 0..600 {
        if let Ok(Some(_)) = holder.try_wait() {
            holder = spawn_holder(dir.path());
        }
        let o = logjar(dir.path(), &["stats"]);
        if o.status.code() == Some(2) && stderr(&o).contains("locked") {
            locked = Some(o);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(holder.stdin.take());
    let _ = holder.wait();
    let o = locked.expect("second opener never saw a locked error");
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("database is locked"), "{}", stderr(&o));
    let o = logjar(dir.path(), &["stats"]);
    assert!(o.status.success(), "lock not released: {}", stderr(&o));
}

#[test]
fn help_teaches_with_examples() {
    for sub in ["ingest", "labels", "series", "flush", "stats"] {
        let o = Command::new(env!("CARGO_BIN_EXE_logjar"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(o.status.success());
        assert!(
            stdout(&o).contains("Example"),
            "{sub} --help has no example"
        );
    }
}

#[test]
fn demo_ingests_the_samples_and_explores_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = logjar(dir.path(), &["demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Ingested 12160 entries"), "{out}");
    // The filter query finds Apache's errors; the JSON pipeline rewrites lines.
    assert!(out.contains("[error] mod_jk"), "{out}");
    assert!(
        out.contains(" 503 GET ") || out.contains(" 500 GET "),
        "{out}"
    );
    // topk ranks the api stream (the most bytes) first.
    let topk = out.split("`topk`").nth(1).unwrap();
    assert!(
        topk.lines().nth(2).unwrap().contains("{app=\"api\"}"),
        "{topk}"
    );
    // The loss rate is 0.2 at every step.
    let loss = out.split("The loss rate").nth(1).unwrap();
    let values: Vec<f64> = loss
        .split_whitespace()
        .filter_map(|w| w.split_once('=').and_then(|(_, v)| v.parse().ok()))
        .collect();
    assert_eq!(values.len(), 6, "{loss}");
    assert!(values.iter().all(|v| (v - 0.2).abs() < 0.02), "{values:?}");
    // The demo database is left in --data and can be inspected afterwards.
    let o = logjar(dir.path(), &["labels", "source"]);
    assert_eq!(stdout(&o), "loghub\n");
}
