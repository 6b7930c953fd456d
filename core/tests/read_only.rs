//! `Options::read_only`: a handle that reads everything (unflushed data included) and
//! writes nothing — no file created, changed or removed, torn WAL tails skipped in
//! memory only — and refuses every write with `Error::ReadOnly`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::{Db, Direction, Entry, Error, Labels, Options};

fn batch(app: &str, ts: i64, n: usize) -> Vec<StreamEntries> {
    vec![StreamEntries {
        labels: Labels::new([("app", app)]).unwrap(),
        entries: (0..n)
            .map(|i| Entry::new(ts + i as i64, format!("{app} line {i}")))
            .collect(),
    }]
}

fn read_only() -> Options {
    Options::default().read_only(true)
}

/// All `(ts, line)` of a tenant, forward.
fn read_all(db: &Db, tenant: &str) -> Vec<(i64, String)> {
    let snap = db.snapshot(tenant).unwrap();
    let ids: Vec<u32> = snap
        .select(&[], i64::MIN, i64::MAX)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    snap.entries(&ids, i64::MIN, i64::MAX, Direction::Forward)
        .map(|r| {
            let (_, e) = r.unwrap();
            (e.ts, String::from_utf8_lossy(&e.line).into_owned())
        })
        .collect()
}

/// Every file under `dir` with its length and modification time.
fn files(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), (m.len(), m.modified().unwrap()));
            }
        }
    }
    out
}

#[test]
fn reads_everything_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default().sync(SyncMode::Always)).unwrap();
        db.push("fake", &batch("flushed", 1_000, 50)).unwrap();
        db.flush().unwrap();
        db.push("fake", &batch("unflushed", 2_000, 30)).unwrap();
        db.delete("fake", r#"{app="flushed"} |= "line 7""#, 0, 10_000)
            .unwrap();
        db.close().unwrap();
    }
    // A crash in the middle of a record leaves a torn tail in the newest WAL file.
    let wal = dir.path().join("wal");
    let newest = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap()
        .write_all(&[9, 0, 0, 0, 1, 2])
        .unwrap();
    // And a flush that died before its manifest switch leaves a temporary file.
    std::fs::write(dir.path().join("MANIFEST.tmp"), b"partial").unwrap();
    let before = files(dir.path());

    let db = Db::open(dir.path(), read_only()).unwrap();
    let rows = read_all(&db, "fake");
    assert_eq!(rows.len(), 50 - 1 + 30, "{rows:?}");
    assert!(rows.iter().any(|r| r.1 == "unflushed line 29"));
    assert!(
        !rows.iter().any(|r| r.1 == "flushed line 7"),
        "pending delete applies"
    );
    let report = db.recovery_report();
    assert_eq!(report.torn_tails.len(), 1, "{report:?}");
    assert!(report.removed_files.is_empty(), "{report:?}");

    let refused = [
        db.push("fake", &batch("new", 3_000, 1)).map(|_| ()),
        db.push_lenient("fake", &batch("new", 3_000, 1)).map(|_| ()),
        db.flush(),
        db.compact().map(|_| ()),
        db.delete("fake", r#"{app="unflushed"}"#, 0, 10_000)
            .map(|_| ()),
        db.cancel_delete("fake", 1),
    ];
    for r in refused {
        assert!(matches!(r, Err(Error::ReadOnly(_))), "{r:?}");
    }
    // Still the one exclusive lock: no writer meanwhile.
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
    db.close().unwrap();
    assert_eq!(files(dir.path()), before, "a read-only open changed files");

    // A normal open repairs what the read-only one left and sees the same entries.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.recovery_report().torn_tails.len(), 1);
    assert!(!db.recovery_report().removed_files.is_empty());
    assert_eq!(read_all(&db, "fake"), rows);
    db.close().unwrap();
}

#[test]
fn a_missing_directory_is_created_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-db");
    let db = Db::open(&path, read_only()).unwrap();
    assert!(read_all(&db, "fake").is_empty());
    assert!(db.label_names("fake", 0, i64::MAX).unwrap().is_empty());
    db.close().unwrap();
    assert!(path.is_dir());
    assert!(files(&path)
        .keys()
        .all(|p| p.file_name().is_some_and(|n| n == "LOCK")));
}
