//! Model test: random pushes (strict and lenient, several tenants and streams,
//! out-of-order entries, duplicates, limit violations), flushes, reopens and reads
//! against a plain in-memory model.
//!
//! The model of one tenant is a `BTreeMap` per stream of `(ts, line) → metadata`
//! (first write wins), the newest timestamp per stream (out-of-order window), and the
//! set of streams written since the last flush (the active-streams limit).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use logjar::entry::StreamEntries;
use logjar::options::{Limits, SyncMode};
use logjar::{Db, Direction, Entry, Error, LabelMatcher, Labels, MatchOp, Options};
use proptest::prelude::*;

const TENANTS: [&str; 2] = ["t1", "t2"];
const WINDOW: i64 = 40;
const MAX_LINE: usize = 24;
const MAX_STREAMS: usize = 3;

fn stream_labels(i: usize) -> Labels {
    let pairs: &[(&str, &str)] = match i {
        0 => &[("app", "a"), ("env", "prod")],
        1 => &[("app", "b")],
        2 => &[("app", "a"), ("env", "dev")],
        3 => &[("app", "c"), ("env", "prod")],
        // Over the label limit (2): always rejected.
        _ => &[("app", "d"), ("env", "prod"), ("host", "h1")],
    };
    Labels::new(pairs.iter().copied()).unwrap()
}

const LINES: [&str; 5] = [
    "a",
    "b",
    "hello",
    "hello world",
    "this line is far too long for the limit",
];

/// Line `l` of an entry at `ts`: one of [`LINES`], or (`l == LINES.len()`) a line
/// holding the entry's own timestamp in RFC 3339, which blocks store without that text.
fn line(l: usize, ts: i64) -> String {
    match LINES.get(l) {
        Some(s) => s.to_string(),
        None => {
            let t = chrono::DateTime::from_timestamp_nanos(ts);
            format!("t={}", t.format("%Y-%m-%dT%H:%M:%SZ"))
        }
    }
}

fn matchers(i: usize) -> Vec<LabelMatcher> {
    let m = |n: &str, op, v: &str| LabelMatcher::new(n, op, v).unwrap();
    match i {
        0 => vec![],
        1 => vec![m("app", MatchOp::Eq, "a")],
        2 => vec![m("app", MatchOp::Re, "a|b")],
        3 => vec![m("env", MatchOp::Neq, "prod")],
        4 => vec![m("env", MatchOp::Eq, "")],
        5 => vec![m("app", MatchOp::Nre, "a"), m("env", MatchOp::Re, ".+")],
        _ => vec![m("app", MatchOp::Eq, "zzz")],
    }
}

/// `(ts, line index, metadata variant)`.
type EntrySpec = (i64, usize, u8);

#[derive(Debug, Clone)]
enum Op {
    Push {
        tenant: usize,
        strict: bool,
        streams: Vec<(usize, Vec<EntrySpec>)>,
    },
    Flush,
    Reopen,
    Read {
        tenant: usize,
        matchers: usize,
        start: i64,
        end: i64,
        backward: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let entry = (0..120i64, 0..=LINES.len(), 0..3u8);
    let stream = (0..5usize, prop::collection::vec(entry, 0..8));
    prop_oneof![
        6 => (0..2usize, any::<bool>(), prop::collection::vec(stream, 1..4))
            .prop_map(|(tenant, strict, streams)| Op::Push { tenant, strict, streams }),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
        3 => (0..2usize, 0..7usize, -10..130i64, 0..140i64, any::<bool>()).prop_map(
            |(tenant, matchers, start, len, backward)| Op::Read {
                tenant,
                matchers,
                start,
                end: start + len,
                backward
            }
        ),
    ]
}

fn metadata(m: u8) -> Vec<(String, String)> {
    match m {
        0 => vec![],
        n => vec![("k".to_string(), n.to_string())],
    }
}

type Key = (i64, Vec<u8>);

#[derive(Default, Debug)]
struct TenantModel {
    streams: BTreeMap<Labels, BTreeMap<Key, Vec<(String, String)>>>,
    newest: BTreeMap<Labels, i64>,
    active: BTreeSet<Labels>,
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Accept,
    Reject,
}

impl TenantModel {
    /// Applies a push as the engine must; returns true when the strict form would fail.
    fn push(&mut self, batch: &[StreamEntries], commit: bool) -> bool {
        let mut newest = self.newest.clone();
        let mut active = self.active.clone();
        let mut streams = self.streams.clone();
        let mut failed = false;
        for s in batch {
            if s.labels.len() > 2 {
                failed |= !s.entries.is_empty();
                continue;
            }
            for e in &s.entries {
                let too_long = e.line.len() > MAX_LINE;
                let too_old = newest.get(&s.labels).is_some_and(|&n| e.ts < n - WINDOW);
                let too_many = !active.contains(&s.labels) && active.len() >= MAX_STREAMS;
                let v = if too_long || too_old || too_many {
                    Verdict::Reject
                } else {
                    Verdict::Accept
                };
                if v == Verdict::Reject {
                    failed = true;
                    continue;
                }
                active.insert(s.labels.clone());
                let n = newest.entry(s.labels.clone()).or_insert(e.ts);
                *n = (*n).max(e.ts);
                streams
                    .entry(s.labels.clone())
                    .or_default()
                    .entry((e.ts, e.line.to_vec()))
                    .or_insert_with(|| e.metadata.clone());
            }
        }
        if commit {
            self.newest = newest;
            self.active = active;
            self.streams = streams;
        }
        failed
    }

    fn entries_in(&self, labels: &Labels, start: i64, end: i64) -> Vec<Entry> {
        self.streams
            .get(labels)
            .map(|m| {
                m.range((start, Vec::new())..(end, Vec::new()))
                    .map(|((ts, line), md)| Entry {
                        ts: *ts,
                        line: line.clone().into(),
                        metadata: md.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn options() -> Options {
    Options::default()
        .sync(SyncMode::Never)
        .out_of_order_window(Duration::from_nanos(WINDOW as u64))
        .block_target_bytes(40)
        .flush_interval(Duration::ZERO)
        .max_chunk_age(Duration::from_secs(1 << 30))
        .limits(Limits {
            max_line_size: MAX_LINE,
            max_labels_per_stream: 2,
            max_streams_per_tenant: MAX_STREAMS,
            ..Limits::default()
        })
}

fn check_read(
    db: &Db,
    model: &TenantModel,
    tenant: &str,
    ms: &[LabelMatcher],
    start: i64,
    end: i64,
    dir: Direction,
) -> Result<(), TestCaseError> {
    let snap = db.snapshot(tenant).unwrap();
    let selected = snap.select(ms, start, end);
    let matching = |l: &Labels| ms.iter().all(|m| m.matches_opt(l.get(m.name())));
    // Every stream with entries in range is selected; every selected stream matches
    // (a stream whose chunks overlap the range without entries in it may be selected).
    for (labels, _) in model.streams.iter() {
        if matching(labels) && !model.entries_in(labels, start, end).is_empty() {
            prop_assert!(
                selected.iter().any(|(_, l)| l == labels),
                "{labels} not selected"
            );
        }
    }
    let mut merged_want: Vec<(i64, Vec<u8>, u32, Entry)> = Vec::new();
    for (id, labels) in &selected {
        prop_assert!(matching(labels));
        let mut want = model.entries_in(labels, start, end);
        if dir == Direction::Backward {
            want.reverse();
        }
        let got: Vec<Entry> = snap
            .stream(*id, start, end, dir)
            .map(|r| r.unwrap())
            .collect();
        prop_assert_eq!(&got, &want, "stream {}", labels);
        let sizes: Vec<(i64, u32)> = snap
            .sizes(*id, start, end, dir)
            .map(|r| r.unwrap())
            .collect();
        let want_sizes: Vec<(i64, u32)> =
            want.iter().map(|e| (e.ts, e.line.len() as u32)).collect();
        prop_assert_eq!(sizes, want_sizes);
        merged_want.extend(want.into_iter().map(|e| (e.ts, e.line.to_vec(), *id, e)));
    }
    match dir {
        Direction::Forward => merged_want.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2))),
        Direction::Backward => {
            merged_want.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)).then(a.2.cmp(&b.2)))
        }
    }
    let ids: Vec<u32> = selected.iter().map(|(id, _)| *id).collect();
    let got: Vec<(u32, Entry)> = snap
        .entries(&ids, start, end, dir)
        .map(|r| r.unwrap())
        .collect();
    let want: Vec<(u32, Entry)> = merged_want
        .into_iter()
        .map(|(_, _, id, e)| (id, e))
        .collect();
    prop_assert_eq!(got, want);

    // Over all time, names, values and series are exact.
    let all_streams: Vec<&Labels> = model
        .streams
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(l, _)| l)
        .collect();
    let mut series = db.series(tenant, ms, i64::MIN, i64::MAX).unwrap();
    series.sort();
    let want_series: Vec<Labels> = all_streams
        .iter()
        .filter(|l| matching(l))
        .map(|l| (*l).clone())
        .collect();
    prop_assert_eq!(series, want_series);
    let names: BTreeSet<String> = all_streams
        .iter()
        .flat_map(|l| l.iter().map(|(n, _)| n.to_string()))
        .collect();
    prop_assert_eq!(
        db.label_names(tenant, i64::MIN, i64::MAX).unwrap(),
        names.into_iter().collect::<Vec<_>>()
    );
    let apps: BTreeSet<String> = all_streams
        .iter()
        .filter_map(|l| l.get("app").map(String::from))
        .collect();
    prop_assert_eq!(
        db.label_values(tenant, "app", i64::MIN, i64::MAX).unwrap(),
        apps.into_iter().collect::<Vec<_>>()
    );
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(Db::open(dir.path(), options()).unwrap());
    let mut models: [TenantModel; 2] = Default::default();
    for op in ops {
        let d = db.as_ref().unwrap();
        match op {
            Op::Push {
                tenant,
                strict,
                streams,
            } => {
                let batch: Vec<StreamEntries> = streams
                    .iter()
                    .map(|(s, es)| StreamEntries {
                        labels: stream_labels(*s),
                        entries: es
                            .iter()
                            .map(|&(ts, l, m)| {
                                Entry::new(ts, line(l, ts)).with_metadata(metadata(m))
                            })
                            .collect(),
                    })
                    .collect();
                let model = &mut models[tenant];
                let would_fail = model.push(&batch, false);
                if strict {
                    let r = d.push(TENANTS[tenant], &batch);
                    if would_fail {
                        prop_assert!(
                            matches!(r, Err(Error::Limit(_))),
                            "expected a limit error, got {r:?}"
                        );
                    } else {
                        prop_assert!(r.is_ok(), "{r:?}");
                        model.push(&batch, true);
                    }
                } else {
                    let r = d.push_lenient(TENANTS[tenant], &batch).unwrap();
                    prop_assert_eq!(r.rejected.total() > 0, would_fail);
                    model.push(&batch, true);
                }
            }
            Op::Flush => {
                d.flush().unwrap();
                for m in &mut models {
                    m.active.clear();
                }
            }
            Op::Reopen => {
                db.take().unwrap().close().unwrap();
                db = Some(Db::open(dir.path(), options()).unwrap());
            }
            Op::Read {
                tenant,
                matchers: mi,
                start,
                end,
                backward,
            } => {
                let dir = if backward {
                    Direction::Backward
                } else {
                    Direction::Forward
                };
                check_read(
                    d,
                    &models[tenant],
                    TENANTS[tenant],
                    &matchers(mi),
                    start,
                    end,
                    dir,
                )?;
            }
        }
    }
    // Finally everything, both ways, in both tenants.
    let d = db.as_ref().unwrap();
    for (t, m) in models.iter().enumerate() {
        for dir in [Direction::Forward, Direction::Backward] {
            check_read(d, m, TENANTS[t], &[], i64::MIN, i64::MAX, dir)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
