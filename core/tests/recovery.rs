//! Recovery at the engine level: torn WAL tails, corrupted WAL records, segment
//! blocks and manifests, leftover files, lost index files, the directory lock
//! (within a process and across processes), and read-only opens.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::{Db, Direction, Entry, Error, Labels, Options};

fn options() -> Options {
    Options::default().sync(SyncMode::Always)
}

fn batch(app: &str, ts: i64, n: usize) -> Vec<StreamEntries> {
    vec![StreamEntries {
        labels: Labels::new([("app", app)]).unwrap(),
        entries: (0..n)
            .map(|i| {
                Entry::new(
                    ts + i as i64,
                    format!("{app} line {ts} {i} {}", "x".repeat(i % 50)),
                )
            })
            .collect(),
    }]
}

/// All `(ts, line)` of a tenant, forward.
fn read_all(db: &Db, tenant: &str) -> logjar::Result<Vec<(i64, String)>> {
    let snap = db.snapshot(tenant)?;
    let ids: Vec<u32> = snap
        .select(&[], i64::MIN, i64::MAX)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    snap.entries(&ids, i64::MIN, i64::MAX, Direction::Forward)
        .map(|r| r.map(|(_, e)| (e.ts, String::from_utf8_lossy(&e.line).into_owned())))
        .collect()
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn flip_byte(path: &Path, offset: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(offset)).unwrap();
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[b[0] ^ 0x5a]).unwrap();
}

#[test]
fn torn_wal_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.push("fake", &batch("a", 100, 3)).unwrap();
    db.push("fake", &batch("a", 200, 3)).unwrap();
    db.close().unwrap();
    // The last record loses its last bytes, as after a crash mid-write.
    let wal = files_in(&dir.path().join("wal"), "wal").pop().unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    let db = Db::open(dir.path(), options()).unwrap();
    let rep = db.recovery_report();
    assert_eq!(rep.torn_tails.len(), 1, "{rep:?}");
    assert_eq!(rep.torn_tails[0].path, wal);
    let got = read_all(&db, "fake").unwrap();
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [100, 101, 102]);
    // The database keeps working and the repair is durable.
    db.push("fake", &batch("a", 300, 1)).unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert!(db.recovery_report().torn_tails.is_empty());
    assert_eq!(read_all(&db, "fake").unwrap().len(), 4);
}

#[test]
fn corrupt_wal_record_in_the_middle_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for i in 0..3 {
        db.push("fake", &batch("a", i * 100, 4)).unwrap();
    }
    db.close().unwrap();
    let wal = files_in(&dir.path().join("wal"), "wal").pop().unwrap();
    // Inside the first record's payload (after the 20-byte file header and 8-byte
    // record header).
    flip_byte(&wal, 20 + 8 + 10);
    match Db::open(dir.path(), options()) {
        Err(Error::Corrupt { path, .. }) => assert_eq!(path, wal),
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

#[test]
fn corrupt_segment_block_is_a_typed_error_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.push("fake", &batch("a", 0, 2000)).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let seg = files_in(&dir.path().join("segments"), "seg").pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    flip_byte(&seg, len / 3); // well inside the block data
    match Db::open(dir.path(), options()) {
        Err(Error::Corrupt { .. }) => {}
        Err(e) => panic!("expected Error::Corrupt, got {e:?}"),
        Ok(db) => match read_all(&db, "fake") {
            Err(Error::Corrupt { path, .. }) => assert_eq!(path, seg),
            other => panic!("expected Error::Corrupt on read, got {other:?}"),
        },
    }
}

#[test]
fn corrupt_manifest_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.push("fake", &batch("a", 0, 10)).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let manifest = dir.path().join("MANIFEST");
    let len = std::fs::metadata(&manifest).unwrap().len();
    flip_byte(&manifest, len / 2);
    assert!(matches!(
        Db::open(dir.path(), options()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn leftover_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.push("fake", &batch("a", 0, 10)).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let leftovers = [
        dir.path().join("MANIFEST.tmp"),
        dir.path().join("segments").join("00000000000000ff.seg.tmp"),
        dir.path().join("segments").join("00000000000000fe.seg"),
        dir.path().join("index").join("00000000000000fd.idx"),
    ];
    for p in &leftovers {
        std::fs::write(p, b"left over by a crash").unwrap();
    }
    let db = Db::open(dir.path(), options()).unwrap();
    for p in &leftovers {
        assert!(!p.exists(), "{} still there", p.display());
        assert!(
            db.recovery_report().removed_files.contains(p),
            "{} not reported",
            p.display()
        );
    }
    assert_eq!(read_all(&db, "fake").unwrap().len(), 10);
}

#[test]
fn lost_index_file_is_rebuilt_from_segments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.push("fake", &batch("a", 0, 10)).unwrap();
    db.push("fake", &batch("b", 0, 10)).unwrap();
    db.flush().unwrap();
    db.push("fake", &batch("c", 100, 5)).unwrap(); // only in the WAL
    let before = read_all(&db, "fake").unwrap();
    db.close().unwrap();
    for p in files_in(&dir.path().join("index"), "idx") {
        std::fs::remove_file(p).unwrap();
    }
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.recovery_report().rebuilt_indexes, ["fake"]);
    assert_eq!(read_all(&db, "fake").unwrap(), before);
    assert_eq!(
        db.label_values("fake", "app", i64::MIN, i64::MAX).unwrap(),
        ["a", "b", "c"]
    );
    // A flush writes a fresh index file; the next open needs no rebuild.
    db.flush().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert!(db.recovery_report().rebuilt_indexes.is_empty());
    assert_eq!(read_all(&db, "fake").unwrap(), before);
}

#[test]
fn unflushed_and_flushed_data_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.push("fake", &batch("a", 0, 100)).unwrap();
    db.flush().unwrap();
    db.push("fake", &batch("a", 1000, 100)).unwrap();
    let before = read_all(&db, "fake").unwrap();
    drop(db); // no close: Drop is best-effort close
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(read_all(&db, "fake").unwrap(), before);
    let stats = db.stats();
    assert_eq!(stats.tenants[0].entries, 200);
    assert_eq!(stats.tenants[0].segments, 1);
    // WAL files covered by the flush were deleted.
    assert_eq!(files_in(&dir.path().join("wal"), "wal").len(), 2);
}

const LOCK_CHILD_ENV: &str = "LOGJAR_LOCK_CHILD";

/// Child role of the cross-process lock test: exits 3 when the open is refused as
/// locked, 0 when it succeeds.
#[test]
fn lock_child() {
    let Ok(dir) = std::env::var(LOCK_CHILD_ENV) else {
        return;
    };
    match Db::open(&dir, options()) {
        Err(Error::Locked { .. }) => std::process::exit(3),
        Ok(_) => std::process::exit(0),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn second_open_is_locked_in_this_and_other_processes() {
    if std::env::var(LOCK_CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["lock_child", "--exact", "--test-threads=1"])
            .env(LOCK_CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    let db = Db::open(dir.path(), options()).unwrap();
    let err = Db::open(dir.path(), options()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("locked"));
    assert_eq!(child(), Some(3));
    db.close().unwrap();
    assert_eq!(child(), Some(0));
    assert!(Db::open(dir.path(), options()).is_ok());
}

// ---------------------------------------------------------------- read-only opens
// `Options::read_only`: a handle that reads everything (unflushed data included) and
// writes nothing — no file created, changed or removed, torn WAL tails skipped in
// memory only — and refuses every write with `Error::ReadOnly`.

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
        db.delete("fake", r#"{app="flushed"} |= "line 1000 7 ""#, 0, 10_000)
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

    let db = Db::open(dir.path(), Options::default().read_only(true)).unwrap();
    let rows = read_all(&db, "fake").unwrap();
    assert_eq!(rows.len(), 50 - 1 + 30, "{rows:?}");
    assert!(rows
        .iter()
        .any(|r| r.1.starts_with("unflushed line 2000 29 ")));
    assert!(
        !rows.iter().any(|r| r.1.starts_with("flushed line 1000 7 ")),
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
    assert_eq!(read_all(&db, "fake").unwrap(), rows);
    db.close().unwrap();
}

#[test]
fn a_missing_directory_is_created_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-db");
    let db = Db::open(&path, Options::default().read_only(true)).unwrap();
    assert!(read_all(&db, "fake").unwrap().is_empty());
    assert!(db.label_names("fake", 0, i64::MAX).unwrap().is_empty());
    db.close().unwrap();
    assert!(path.is_dir());
    assert!(files(&path)
        .keys()
        .all(|p| p.file_name().is_some_and(|n| n == "LOCK")));
}
