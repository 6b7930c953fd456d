//! Model test of retention, deletes and compaction: random pushes, flushes, delete
//! requests (with and without line filters), cancellations, retention changes (a
//! reopen with other options), compactions and reopens, checked after every step
//! against a plain in-memory model.
//!
//! The model keeps per tenant and stream the stored entries (`(ts, line) → metadata`,
//! first write wins), the pending delete requests, and the current retention rules.
//! What a read must return: stored entries that are not past their retention cutoff
//! and not matched by a pending request. A compaction removes expired and matching
//! entries from the store and marks the requests applied.
//!
//! Timestamps are whole hours before the test's start plus a few ns, and retention
//! periods are whole hours plus 30 minutes, so no entry crosses a cutoff while the
//! test runs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use logjar::entry::StreamEntries;
use logjar::options::{RetentionRule, SyncMode, TenantRetention};
use logjar::{Db, DeleteStatus, Direction, Entry, Labels, Options};
use proptest::prelude::*;

const TENANTS: [&str; 2] = ["t1", "t2"];
const H: i64 = 3_600_000_000_000;

fn base() -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        now - now.rem_euclid(H)
    })
}

fn stream_labels(i: usize) -> Labels {
    let pairs: &[(&str, &str)] = match i {
        0 => &[("app", "a"), ("env", "prod")],
        1 => &[("app", "b")],
        _ => &[("app", "a"), ("env", "dev")],
    };
    Labels::new(pairs.iter().copied()).unwrap()
}

const LINES: [&str; 4] = ["a", "b", "hello", "hello world"];

/// Line `l` of an entry at `ts`: one of [`LINES`], or (`l == LINES.len()`) a line
/// holding the entry's own timestamp in RFC 3339 (ms), which blocks store without it.
fn line(l: usize, ts: i64) -> String {
    match LINES.get(l) {
        Some(s) => s.to_string(),
        None => {
            let t = chrono::DateTime::from_timestamp_nanos(ts);
            format!("hello at {} b", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
        }
    }
}

/// Delete queries and the model of their line filters (the selector is checked by
/// `query_selector_matches`).
type Pred = fn(&str) -> bool;
const QUERIES: [(&str, Pred); 4] = [
    (r#"{app="a"}"#, |_| true),
    (r#"{app=~"a|b"} |= "hello""#, |line| line.contains("hello")),
    (r#"{env="prod"} != "b""#, |line| !line.contains('b')),
    (r#"{app="b"} |~ "^h""#, |line| line.starts_with('h')),
];

/// Retention configurations: (global period in hours + 0.5, rule on app="b").
const CONFIGS: [(Option<i64>, Option<i64>, u64); 4] = [
    (None, None, 256 << 20),
    (Some(26), None, 2048),
    (Some(50), Some(10), 256 << 20),
    (None, Some(30), 1024),
];

fn options(config: usize) -> Options {
    let (global, rule, seg) = CONFIGS[config];
    let half = |h: i64| Duration::from_secs((h * 3600 + 1800) as u64);
    let mut o = Options::default()
        .sync(SyncMode::Never)
        .block_target_bytes(24)
        .out_of_order_window(Duration::from_secs(400 * 86400))
        .compaction_interval(Duration::ZERO)
        .retention(global.map_or(Duration::ZERO, half));
    o.compaction_segment_bytes = seg;
    o.compaction_chunk_bytes = 40;
    if let Some(r) = rule {
        // Only for tenant t1: t2 keeps the global period.
        o.retention_tenants.insert(
            "t1".into(),
            TenantRetention {
                retention: None,
                retention_stream: vec![RetentionRule {
                    selector: r#"{app="b"}"#.into(),
                    priority: 1,
                    period: half(r),
                }],
            },
        );
    }
    o
}

/// Period (ns) of a stream under a config; `None` = forever.
fn period(config: usize, tenant: &str, labels: &Labels) -> Option<i64> {
    let (global, rule, _) = CONFIGS[config];
    let p = |h: i64| h * H + H / 2;
    if tenant == "t1" && labels.get("app") == Some("b") {
        if let Some(r) = rule {
            return Some(p(r));
        }
    }
    global.map(p)
}

/// `(ts offset, line index, metadata variant)`.
type EntrySpec = (i64, usize, u8);
/// What a read returns: `(stream, ts, line, metadata)`.
type Row = (Labels, i64, Vec<u8>, Vec<(String, String)>);

#[derive(Debug, Clone)]
enum Op {
    Push {
        tenant: usize,
        streams: Vec<(usize, Vec<EntrySpec>)>,
    },
    Flush,
    Delete {
        tenant: usize,
        query: usize,
        start: i64,
        len: i64,
    },
    Cancel {
        tenant: usize,
        pick: usize,
    },
    Retention(usize),
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    // Hours before the base and a few ns: few distinct keys, so that duplicates with
    // other metadata (first write wins) are frequent.
    const HOURS: [i64; 10] = [0, 1, 5, 9, 12, 27, 31, 45, 52, 79];
    let entry = (0..HOURS.len(), 0..2i64, 0..=LINES.len(), 0..3u8)
        .prop_map(|(h, ns, l, m)| (-HOURS[h] * H + ns, l, m));
    let stream = (0..3usize, prop::collection::vec(entry, 1..6));
    prop_oneof![
        6 => (0..2usize, prop::collection::vec(stream, 1..3))
            .prop_map(|(tenant, streams)| Op::Push { tenant, streams }),
        2 => Just(Op::Flush),
        2 => (0..2usize, 0..QUERIES.len(), 0..80i64, 0..90i64).prop_map(|(tenant, query, s, l)| {
            Op::Delete { tenant, query, start: -s * H, len: l * H }
        }),
        1 => (0..2usize, 0..4usize).prop_map(|(tenant, pick)| Op::Cancel { tenant, pick }),
        1 => (0..CONFIGS.len()).prop_map(Op::Retention),
        2 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn metadata(m: u8) -> Vec<(String, String)> {
    match m {
        0 => vec![],
        n => vec![("k".to_string(), n.to_string())],
    }
}

type Store = BTreeMap<Labels, BTreeMap<(i64, Vec<u8>), Vec<(String, String)>>>;

#[derive(Debug, Clone)]
struct Req {
    id: u64,
    tenant: usize,
    query: usize,
    start: i64,
    end: i64,
    status: DeleteStatus,
}

#[derive(Debug, Default)]
struct Model {
    store: [Store; 2],
    reqs: Vec<Req>,
    config: usize,
}

impl Model {
    fn matches(r: &Req, labels: &Labels, ts: i64, line: &[u8]) -> bool {
        let line = std::str::from_utf8(line).unwrap();
        ts >= r.start
            && ts <= r.end
            && query_selector_matches(r.query, labels)
            && (QUERIES[r.query].1)(line)
    }

    fn visible(&self, tenant: usize, now_cut: i64) -> BTreeSet<Row> {
        let mut out = BTreeSet::new();
        for (labels, entries) in &self.store[tenant] {
            let cut =
                period(self.config, TENANTS[tenant], labels).map_or(i64::MIN, |p| now_cut - p);
            for ((ts, line), meta) in entries {
                if *ts < cut {
                    continue;
                }
                if self.reqs.iter().any(|r| {
                    r.tenant == tenant
                        && r.status == DeleteStatus::Pending
                        && Self::matches(r, labels, *ts, line)
                }) {
                    continue;
                }
                out.insert((labels.clone(), *ts, line.clone(), meta.clone()));
            }
        }
        out
    }

    fn compact(&mut self, now: i64) {
        let config = self.config;
        for (tenant, name) in TENANTS.iter().enumerate() {
            let reqs: Vec<Req> = self
                .reqs
                .iter()
                .filter(|r| r.tenant == tenant && r.status == DeleteStatus::Pending)
                .cloned()
                .collect();
            for (labels, entries) in self.store[tenant].iter_mut() {
                let cut = period(config, name, labels).map_or(i64::MIN, |p| now - p);
                entries.retain(|(ts, line), _| {
                    *ts >= cut && !reqs.iter().any(|r| Self::matches(r, labels, *ts, line))
                });
            }
        }
        for r in &mut self.reqs {
            if r.status == DeleteStatus::Pending {
                r.status = DeleteStatus::Applied;
            }
        }
    }
}

/// The selector part of a delete query matches the stream.
fn query_selector_matches(q: usize, labels: &Labels) -> bool {
    let sel = QUERIES[q].0;
    let sel = &sel[..=sel.find('}').unwrap()];
    logjar_logql::parse_selector(sel)
        .unwrap()
        .iter()
        .all(|m| m.matches_opt(labels.get(m.name())))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn check(db: &Db, model: &Model) -> Result<(), TestCaseError> {
    let t = now();
    for (ti, tenant) in TENANTS.iter().enumerate() {
        let snap = db.snapshot(tenant).unwrap();
        let ids: Vec<(u32, Labels)> = snap.select(&[], i64::MIN, i64::MAX);
        let mut got = BTreeSet::new();
        for (id, labels) in &ids {
            let mut n = 0usize;
            let mut bytes = 0u64;
            for e in snap.stream(*id, i64::MIN, i64::MAX, Direction::Forward) {
                let e = e.unwrap();
                n += 1;
                bytes += e.line.len() as u64;
                prop_assert!(
                    got.insert((labels.clone(), e.ts, e.line.to_vec(), e.metadata.clone())),
                    "entry twice: {labels} {} {:?}",
                    e.ts,
                    e.line
                );
            }
            // The sizes path agrees with the entries path.
            let sizes: Vec<(i64, u32)> = snap
                .sizes(*id, i64::MIN, i64::MAX, Direction::Backward)
                .map(|r| r.unwrap())
                .collect();
            prop_assert_eq!(sizes.len(), n, "sizes of {}", labels);
            prop_assert_eq!(sizes.iter().map(|s| u64::from(s.1)).sum::<u64>(), bytes);
        }
        let want = model.visible(ti, t);
        prop_assert_eq!(&got, &want, "tenant {}", tenant);
        // Streams with visible data are selected (select may keep a stream whose
        // data is all hidden by a delete; never one whose data all expired).
        let with_data: BTreeSet<Labels> = want.iter().map(|(l, ..)| l.clone()).collect();
        let selected: BTreeSet<Labels> = ids.into_iter().map(|(_, l)| l).collect();
        prop_assert!(with_data.is_subset(&selected));
        let pending = model
            .reqs
            .iter()
            .filter(|r| r.tenant == ti && r.status == DeleteStatus::Pending)
            .count() as u64;
        let stats = db.stats();
        let st = stats.tenants.iter().find(|s| s.tenant == *tenant);
        prop_assert_eq!(st.map_or(0, |s| s.pending_deletes), pending);
        let listed: Vec<(u64, DeleteStatus)> = db
            .delete_requests(tenant)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.status))
            .collect();
        let modelled: Vec<(u64, DeleteStatus)> = model
            .reqs
            .iter()
            .filter(|r| r.tenant == ti)
            .map(|r| (r.id, r.status))
            .collect();
        prop_assert_eq!(listed, modelled);
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::default();
    let mut db = Db::open(dir.path(), options(0)).unwrap();
    for op in ops {
        match op {
            Op::Push { tenant, streams } => {
                let batch: Vec<StreamEntries> = streams
                    .iter()
                    .map(|(s, es)| StreamEntries {
                        labels: stream_labels(*s),
                        entries: es
                            .iter()
                            .map(|&(ts, l, m)| {
                                let mut e = Entry::new(base() + ts, line(l, base() + ts));
                                e.metadata = metadata(m);
                                e
                            })
                            .collect(),
                    })
                    .collect();
                db.push(TENANTS[tenant], &batch).unwrap();
                for s in &batch {
                    let st = model.store[tenant].entry(s.labels.clone()).or_default();
                    for e in &s.entries {
                        st.entry((e.ts, e.line.to_vec()))
                            .or_insert_with(|| e.metadata.clone());
                    }
                }
            }
            Op::Flush => db.flush().unwrap(),
            Op::Delete {
                tenant,
                query,
                start,
                len,
            } => {
                let (s, e) = (base() + start, base() + start + len);
                let r = db.delete(TENANTS[tenant], QUERIES[query].0, s, e).unwrap();
                model.reqs.push(Req {
                    id: r.id,
                    tenant,
                    query,
                    start: s,
                    end: e,
                    status: DeleteStatus::Pending,
                });
            }
            Op::Cancel { tenant, pick } => {
                let mine: Vec<usize> = (0..model.reqs.len())
                    .filter(|&i| model.reqs[i].tenant == tenant)
                    .collect();
                if let Some(&i) = mine.get(pick) {
                    let r = db.cancel_delete(TENANTS[tenant], model.reqs[i].id);
                    if model.reqs[i].status == DeleteStatus::Pending {
                        prop_assert!(r.is_ok(), "{r:?}");
                        model.reqs[i].status = DeleteStatus::Cancelled;
                    } else {
                        prop_assert!(r.is_err());
                    }
                } else {
                    prop_assert!(db.cancel_delete(TENANTS[tenant], 999).is_err());
                }
            }
            Op::Retention(c) => {
                db.close().unwrap();
                model.config = c;
                db = Db::open(dir.path(), options(c)).unwrap();
            }
            Op::Compact => {
                let t = now();
                db.compact().unwrap();
                model.compact(t);
            }
            Op::Reopen => {
                db.close().unwrap();
                db = Db::open(dir.path(), options(model.config)).unwrap();
            }
        }
        check(&db, &model)?;
    }
    // Finally: a compaction leaves only files the manifest lists.
    db.compact().unwrap();
    model.compact(now());
    check(&db, &model)?;
    db.close().unwrap();
    let m = logjar::manifest::Manifest::read(dir.path())
        .unwrap()
        .unwrap();
    let listed: BTreeSet<u64> = m.segments.iter().map(|r| r.file_id).collect();
    let on_disk: BTreeSet<u64> =
        logjar::segment::segment_files(&dir.path().join(logjar::segment::DIR_NAME))
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
    prop_assert_eq!(listed, on_disk);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn retention_deletes_and_compaction_match_the_model(ops in prop::collection::vec(op(), 1..30)) {
        run(ops)?;
    }
}
