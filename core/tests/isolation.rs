//! Isolation: tenants never see each other's data, and a snapshot never shows a
//! half-applied batch, even while writers push and flushes run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::{Db, Direction, Entry, LabelMatcher, Labels, MatchOp, Options};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

#[test]
fn tenants_do_not_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().sync(SyncMode::Never)).unwrap();
    let shared = labels(&[("app", "api"), ("env", "prod")]);
    let only_b = labels(&[("app", "secret"), ("team", "b")]);
    db.push(
        "a",
        &[StreamEntries {
            labels: shared.clone(),
            entries: vec![Entry::new(1, "line of a")],
        }],
    )
    .unwrap();
    db.push(
        "b",
        &[
            StreamEntries {
                labels: shared.clone(),
                entries: vec![Entry::new(1, "line of b")],
            },
            StreamEntries {
                labels: only_b.clone(),
                entries: vec![Entry::new(2, "b only")],
            },
        ],
    )
    .unwrap();
    for flushed in [false, true] {
        if flushed {
            db.flush().unwrap();
        }
        assert_eq!(db.label_names("a", 0, 10).unwrap(), ["app", "env"]);
        assert_eq!(db.label_values("a", "app", 0, 10).unwrap(), ["api"]);
        assert!(db.label_values("a", "team", 0, 10).unwrap().is_empty());
        assert_eq!(
            db.series("a", &[], 0, 10).unwrap(),
            std::slice::from_ref(&shared)
        );
        let m = LabelMatcher::new("app", MatchOp::Re, ".+").unwrap();
        assert_eq!(db.series("b", &[m], 0, 10).unwrap().len(), 2);

        let snap = db.snapshot("a").unwrap();
        let ids: Vec<u32> = snap
            .select(&[], 0, 10)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let lines: Vec<_> = snap
            .entries(&ids, 0, 10, Direction::Forward)
            .map(|r| r.unwrap().1.line)
            .collect();
        assert_eq!(lines, ["line of a"]);
        // Stream ids are per tenant: b's id for its second stream is unknown to a.
        assert!(snap.labels(1).is_none());
        assert_eq!(snap.stream(1, 0, 10, Direction::Forward).count(), 0);
        assert!(db.snapshot("nobody").unwrap().select(&[], 0, 10).is_empty());
    }
    let stats = db.stats();
    assert_eq!(
        stats
            .tenants
            .iter()
            .map(|t| (t.tenant.as_str(), t.entries))
            .collect::<Vec<_>>(),
        [("a", 1), ("b", 2)]
    );
}

#[test]
fn invalid_tenant_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let s = [StreamEntries {
        labels: labels(&[("app", "x")]),
        entries: vec![Entry::new(1, "l")],
    }];
    assert!(matches!(
        db.push("../etc", &s),
        Err(logjar::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.push_lenient("", &s),
        Err(logjar::Error::InvalidArgument(_))
    ));
}

/// Writers push batches that put one entry into each of three streams; readers check
/// in every snapshot that each batch is visible in all three streams or in none.
#[test]
fn snapshots_never_show_half_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .sync(SyncMode::Always)
        .block_target_bytes(300);
    let db = Arc::new(Db::open(dir.path(), opts).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<Labels> = (0..3)
        .map(|i| labels(&[("app", "iso"), ("s", &i.to_string())]))
        .collect();

    let mut threads = Vec::new();
    for w in 0..2i64 {
        let (db, streams) = (db.clone(), streams.clone());
        threads.push(std::thread::spawn(move || {
            for i in 0..300i64 {
                let id = w * 1_000_000 + i;
                let batch: Vec<StreamEntries> = streams
                    .iter()
                    .map(|l| StreamEntries {
                        labels: l.clone(),
                        entries: vec![Entry::new(id, format!("batch {id}"))],
                    })
                    .collect();
                db.push("fake", &batch).unwrap();
            }
        }));
    }
    {
        let (db, stop) = (db.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                db.flush().unwrap();
                std::thread::sleep(Duration::from_millis(3));
            }
        }));
    }
    let mut checks = 0;
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let snap = db.snapshot("fake").unwrap();
                    let ids: Vec<u32> = snap
                        .select(&[], i64::MIN, i64::MAX)
                        .into_iter()
                        .map(|(id, _)| id)
                        .collect();
                    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
                    for r in snap.entries(&ids, i64::MIN, i64::MAX, Direction::Forward) {
                        *seen.entry(r.unwrap().1.ts).or_default() += 1;
                    }
                    for (ts, count) in seen {
                        assert_eq!(count, 3, "batch {ts} seen in {count} of 3 streams");
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    for t in threads.drain(..2) {
        t.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    for r in readers {
        checks += r.join().unwrap();
    }
    assert!(checks > 0);
    let snap = db.snapshot("fake").unwrap();
    let ids: Vec<u32> = snap
        .select(&[], i64::MIN, i64::MAX)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        snap.entries(&ids, i64::MIN, i64::MAX, Direction::Backward)
            .count(),
        3 * 600
    );
    let m = db.metrics();
    assert_eq!(m.accepted, 1800);
    assert!(m.flushes > 0);
}
