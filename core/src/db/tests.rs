//! Unit tests of the engine's behaviours that the integration tests do not single out.

use std::time::Duration;

use super::*;
use crate::entry::{Entry, StreamEntries};
use crate::error::{Error, LimitError};
use crate::options::{Limits, SyncMode};
use crate::Labels;

fn stream(app: &str, entries: Vec<Entry>) -> StreamEntries {
    StreamEntries {
        labels: Labels::new([("app", app)]).unwrap(),
        entries,
    }
}

fn lines(snap: &Snapshot, id: u32, dir: Direction) -> Vec<String> {
    snap.stream(id, i64::MIN, i64::MAX, dir)
        .map(|r| String::from_utf8(r.unwrap().line.to_vec()).unwrap())
        .collect()
}

#[test]
fn db_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Db>();
    check::<Snapshot>();
}

#[test]
fn rate_limit_rejects_whole_pushes_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        ingestion_rate_bytes: 1,
        ingestion_burst_bytes: 100,
        ..Limits::default()
    };
    let db = Db::open(dir.path(), Options::default().limits(limits)).unwrap();
    let batch = [stream("a", vec![Entry::new(1, "x".repeat(80))])];
    db.push("t", &batch).unwrap();
    let err = db.push_lenient("t", &batch).unwrap_err();
    assert!(
        matches!(err, Error::Limit(LimitError::RateLimited { .. })),
        "{err}"
    );
    // Another tenant has its own bucket.
    db.push("u", &batch).unwrap();
    assert_eq!(db.metrics().rejected.rate_limited, 1);
    assert_eq!(db.metrics().accepted, 2);
}

#[test]
fn active_stream_limit_resets_at_flush() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_streams_per_tenant: 1,
        ..Limits::default()
    };
    let db = Db::open(dir.path(), Options::default().limits(limits)).unwrap();
    db.push("t", &[stream("a", vec![Entry::new(1, "l")])])
        .unwrap();
    let e = db
        .push("t", &[stream("b", vec![Entry::new(1, "l")])])
        .unwrap_err();
    assert!(matches!(e, Error::Limit(LimitError::TooManyStreams { .. })));
    let r = db
        .push_lenient(
            "t",
            &[
                stream("b", vec![Entry::new(1, "l")]),
                stream("a", vec![Entry::new(2, "l")]),
            ],
        )
        .unwrap();
    assert_eq!((r.accepted, r.rejected.too_many_streams), (1, 1));
    db.flush().unwrap();
    db.push("t", &[stream("b", vec![Entry::new(1, "l")])])
        .unwrap();
}

#[test]
fn label_limits_and_out_of_order_window() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_label_value_length: 3,
        ..Limits::default()
    };
    let opts = Options::default()
        .limits(limits)
        .out_of_order_window(Duration::from_nanos(10));
    let db = Db::open(dir.path(), opts).unwrap();
    let e = db
        .push("t", &[stream("toolong", vec![Entry::new(1, "l")])])
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Limit(LimitError::LabelValueTooLong { .. })
    ));
    db.push("t", &[stream("a", vec![Entry::new(100, "new")])])
        .unwrap();
    // 95 is inside the window, 80 is not.
    let r = db
        .push_lenient(
            "t",
            &[stream(
                "a",
                vec![Entry::new(95, "ok"), Entry::new(80, "old")],
            )],
        )
        .unwrap();
    assert_eq!((r.accepted, r.rejected.too_far_behind), (1, 1));
    // The window survives a flush and a reopen (newest comes from chunk metadata).
    db.flush().unwrap();
    db.close().unwrap();
    let db = Db::open(
        dir.path(),
        Options::default().out_of_order_window(Duration::from_nanos(10)),
    )
    .unwrap();
    let e = db
        .push("t", &[stream("a", vec![Entry::new(80, "old")])])
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Limit(LimitError::TooFarBehind { newest: 100, .. })
    ));
}

#[test]
fn memory_pressure_flushes_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .sync(SyncMode::Never)
        .max_head_bytes(64 * 1024)
        .block_target_bytes(1 << 20); // nothing compressed: memory grows with raw bytes
    let db = Db::open(dir.path(), opts).unwrap();
    for i in 0..100 {
        let entries = (0..20)
            .map(|j| Entry::new(i * 100 + j, format!("{i} {j} {}", "y".repeat(200))))
            .collect();
        db.push("t", &[stream("a", entries)]).unwrap();
    }
    // 400 KB pushed with a 64 KiB budget: pushes past twice the budget flush inline.
    assert!(db.metrics().flushes > 0);
    // Live head at most ~2x the budget (plus one push), a frozen head as much again
    // while a background flush runs; without flushes this would be ~1 MB.
    assert!(db.stats().head_bytes < 6 * 64 * 1024, "{:?}", db.stats());
    let snap = db.snapshot("t").unwrap();
    assert_eq!(
        snap.stream(0, i64::MIN, i64::MAX, Direction::Forward)
            .count(),
        2000
    );
}

#[test]
fn duplicates_across_chunks_are_read_once_first_metadata_wins() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().block_target_bytes(8);
    let db = Db::open(dir.path(), opts).unwrap();
    let e1 = Entry::new(5, "same line").with_metadata([("v", "first")]);
    let e2 = Entry::new(5, "same line").with_metadata([("v", "second")]);
    db.push(
        "t",
        &[stream("a", vec![e1.clone(), Entry::new(6, "other")])],
    )
    .unwrap();
    db.flush().unwrap();
    let r = db.push("t", &[stream("a", vec![e2])]).unwrap();
    assert_eq!(r.accepted, 1); // not in the head any more: stored, deduplicated at read
    let snap = db.snapshot("t").unwrap();
    let got: Vec<Entry> = snap
        .stream(0, i64::MIN, i64::MAX, Direction::Forward)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], e1);
    // The sizes view agrees (overlapping sources: merged path).
    let sizes: Vec<(i64, u32)> = snap
        .sizes(0, i64::MIN, i64::MAX, Direction::Backward)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(sizes, [(6, 5), (5, 9)]);
    assert_eq!(lines(&snap, 0, Direction::Backward), ["other", "same line"]);
}

#[test]
fn snapshot_is_unaffected_by_later_writes_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().block_target_bytes(16)).unwrap();
    db.push("t", &[stream("a", vec![Entry::new(1, "one")])])
        .unwrap();
    let snap = db.snapshot("t").unwrap();
    db.push(
        "t",
        &[
            stream("a", vec![Entry::new(2, "two"), Entry::new(0, "zero")]),
            stream("b", vec![Entry::new(1, "b")]),
        ],
    )
    .unwrap();
    db.flush().unwrap();
    assert_eq!(lines(&snap, 0, Direction::Forward), ["one"]);
    assert_eq!(snap.select(&[], i64::MIN, i64::MAX).len(), 1);
    let now = db.snapshot("t").unwrap();
    assert_eq!(lines(&now, 0, Direction::Forward), ["zero", "one", "two"]);
    assert_eq!(now.select(&[], i64::MIN, i64::MAX).len(), 2);
}

#[test]
fn interval_and_never_modes_persist_on_close() {
    for mode in [SyncMode::Interval, SyncMode::Never] {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default()
            .sync(mode)
            .sync_interval(Duration::from_millis(5));
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        db.push("t", &[stream("a", vec![Entry::new(1, "x")])])
            .unwrap();
        db.close().unwrap();
        let db = Db::open(dir.path(), opts).unwrap();
        assert_eq!(db.recovery_report().wal_records, 1);
        assert_eq!(
            lines(&db.snapshot("t").unwrap(), 0, Direction::Forward),
            ["x"]
        );
    }
}

#[test]
fn stats_and_metrics_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.push(
        "t",
        &[stream(
            "a",
            vec![
                Entry::new(10, "abc"),
                Entry::new(10, "abc"),
                Entry::new(20, "de"),
            ],
        )],
    )
    .unwrap();
    db.flush().unwrap();
    db.push("t", &[stream("b", vec![Entry::new(5, "f")])])
        .unwrap();
    let m = db.metrics();
    assert_eq!((m.accepted, m.duplicates, m.bytes, m.flushes), (3, 1, 6, 1));
    assert!(m.wal_syncs >= 1 && m.wal_bytes > 0 && m.segments_written == 1);
    let s = &db.stats().tenants[0];
    assert_eq!(
        (s.streams, s.segments, s.entries, s.raw_bytes),
        (2, 1, 3, 6)
    );
    assert_eq!((s.oldest, s.newest), (Some(5), Some(20)));
    assert!(s.disk_bytes > 0);
}

#[test]
fn streams_without_labels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let s = [StreamEntries {
        labels: Labels::default(),
        entries: vec![Entry::new(1, "x")],
    }];
    assert!(matches!(db.push("t", &s), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        db.push_lenient("t", &s),
        Err(Error::InvalidArgument(_))
    ));
    // Still writable afterwards.
    db.push("t", &[stream("a", vec![Entry::new(1, "x")])])
        .unwrap();
}

/// Five streams whose head buffers stay below the block target, for carry tests.
fn carry_batch(round: i64) -> Vec<StreamEntries> {
    ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(k, app)| {
            let entries = (0..10)
                .map(|j| {
                    let ts = round * 1000 + j * 10 + k as i64;
                    Entry::new(ts, format!("{app} {ts} {}", "z".repeat(40)))
                })
                .collect();
            stream(app, entries)
        })
        .collect()
}

/// Every line of tenant `t`, sorted, with a check that no entry is read twice.
fn all_lines(db: &Db) -> Vec<String> {
    let snap = db.snapshot("t").unwrap();
    let mut out = Vec::new();
    for (id, _) in snap.select(&[], i64::MIN, i64::MAX) {
        out.extend(lines(&snap, id, Direction::Forward));
    }
    out.sort();
    out
}

fn expected_lines(rounds: std::ops::Range<i64>) -> Vec<String> {
    let mut out: Vec<String> = rounds
        .flat_map(carry_batch)
        .flat_map(|s| s.entries)
        .map(|e| String::from_utf8(e.line.to_vec()).unwrap())
        .collect();
    out.sort();
    out
}

fn carry_options() -> Options {
    // Buffers are never cut by size, and the budget leaves room to carry them all.
    Options::default()
        .sync(SyncMode::Never)
        .block_target_bytes(1 << 20)
        .max_head_bytes(64 << 20)
}

fn wal_seqs(dir: &std::path::Path) -> Vec<u64> {
    crate::wal::wal_files(&dir.join(crate::wal::DIR_NAME))
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

#[test]
fn carrying_flush_keeps_buffers_in_the_head_and_reopens_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), carry_options()).unwrap();
    db.push("t", &carry_batch(0)).unwrap();
    db.inner.flush_with(true).unwrap();
    {
        let v = db.inner.view.read();
        assert_eq!(v.live.entries(), 50, "every buffer carried");
        assert!(v.frozen.is_empty());
    }
    // Nothing was cut into a block: no segment data, the WAL before the flush is gone.
    assert_eq!(db.stats().tenants[0].segments, 0);
    assert_eq!(wal_seqs(dir.path()), [2]);
    assert_eq!(all_lines(&db), expected_lines(0..1));
    db.push("t", &carry_batch(1)).unwrap();
    db.inner.flush_with(true).unwrap();
    db.push("t", &carry_batch(2)).unwrap();
    db.close().unwrap();

    // The checkpoint file's carry record is applied, then the later pushes.
    let db = Db::open(dir.path(), carry_options()).unwrap();
    assert_eq!(all_lines(&db), expected_lines(0..3));
    assert_eq!(db.stats().tenants[0].entries, 150);
    // A full flush writes everything, carried entries included.
    db.flush().unwrap();
    assert_eq!(db.inner.view.read().live.entries(), 0);
    db.close().unwrap();
    let db = Db::open(dir.path(), carry_options()).unwrap();
    assert_eq!(db.recovery_report().wal_records, 0);
    assert_eq!(all_lines(&db), expected_lines(0..3));
}

#[test]
fn carried_entries_are_not_replayed_twice_when_the_flush_did_not_commit() {
    // A crash after the WAL roll and the carry records but before the manifest switch
    // leaves the old manifest and WAL files plus the new file: rebuild exactly that.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), carry_options()).unwrap();
    db.push("t", &carry_batch(0)).unwrap();
    db.flush().unwrap(); // some data in a segment, to be kept
    db.push("t", &carry_batch(1)).unwrap();
    let before = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), before.path());
    db.inner.flush_with(true).unwrap();
    db.push("t", &carry_batch(2)).unwrap();
    db.close().unwrap();
    let new_wals = wal_seqs(dir.path());
    assert_eq!(new_wals.len(), 1);
    let name = format!("{:020}.wal", new_wals[0]);
    std::fs::copy(
        dir.path().join("wal").join(&name),
        before.path().join("wal").join(&name),
    )
    .unwrap();
    std::fs::remove_file(before.path().join("LOCK")).ok();

    let db = Db::open(before.path(), carry_options()).unwrap();
    assert_eq!(all_lines(&db), expected_lines(0..3));
    assert_eq!(db.stats().tenants[0].entries, 150);
    drop(db);

    // The rule itself: a carry record in a file after the checkpoint is skipped (here
    // with entries found nowhere else, which must therefore not appear).
    let lone = tempfile::tempdir().unwrap();
    let wal_dir = lone.path().join(crate::wal::DIR_NAME);
    std::fs::create_dir_all(&wal_dir).unwrap();
    let labels = Labels::new([("app", "a")]).unwrap();
    let (x, y) = (Entry::new(1, "pushed"), Entry::new(2, "carried"));
    let mut w = crate::wal::WalWriter::create(&wal_dir, 1).unwrap();
    w.append_with(|b| crate::wal::encode_push(b, "t", &[(&labels, &[&x])]))
        .unwrap();
    w.sync().unwrap();
    let mut w2 = crate::wal::WalWriter::create(&wal_dir, 2).unwrap();
    let mut buf = crate::head::HeadBuf::default();
    buf.insert(y.ts, &y.line, &[]);
    w2.append_with(|b| crate::wal::encode_carry(b, "t", &[(&labels, &buf)]))
        .unwrap();
    w2.sync().unwrap();
    drop((w, w2));
    let db = Db::open(lone.path(), carry_options()).unwrap();
    assert_eq!(all_lines(&db), ["pushed"]);
}

#[test]
fn carry_respects_an_eighth_of_the_head_budget_smallest_first() {
    let dir = tempfile::tempdir().unwrap();
    // Head budget 16 KiB: only buffers using at most 2 KiB together are carried.
    let opts = Options::default()
        .sync(SyncMode::Never)
        .block_target_bytes(1 << 20)
        .max_head_bytes(16 << 10);
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let big: Vec<Entry> = (0..40).map(|i| Entry::new(i, "b".repeat(100))).collect();
    let small = vec![Entry::new(1, "s")];
    db.push_lenient("t", &[stream("big", big), stream("small", small)])
        .unwrap();
    db.inner.flush_with(true).unwrap();
    {
        let v = db.inner.view.read();
        assert_eq!(v.live.entries(), 1, "only the small buffer is carried");
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.stats().tenants[0].entries, 41);
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn opens_without_writes_reuse_the_empty_wal_file_and_later_pushes_replay() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), carry_options()).unwrap());
    let first = wal_seqs(dir.path());
    assert_eq!(first.len(), 1, "{first:?}");
    for _ in 0..3 {
        let db = Db::open(dir.path(), carry_options()).unwrap();
        db.close().unwrap();
        assert_eq!(
            wal_seqs(dir.path()),
            first,
            "a read-only open leaves the same file"
        );
    }
    // The reused file takes pushes like a new one; they replay on the next open.
    let db = Db::open(dir.path(), carry_options()).unwrap();
    db.push("t", &carry_batch(0)).unwrap();
    db.close().unwrap();
    assert_eq!(wal_seqs(dir.path()), first);
    let db = Db::open(dir.path(), carry_options()).unwrap();
    assert_eq!(db.inner.view.read().live.entries(), 50);
    assert_eq!(db.inner.recovery.wal_records, 1);
    // A file holding records is replayed, not reused: writes go to a new file.
    assert_eq!(wal_seqs(dir.path()), vec![first[0], first[0] + 1]);
}
