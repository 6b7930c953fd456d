//! Log queries: select streams, filter their entries, merge them by time up to `limit`.
//!
//! Loki semantics reproduced (`pkg/logql/engine.go` `readStreams`, `pkg/iter` heap
//! iterators, `logqlmodel.Streams` sort):
//! - entries of all streams are merged by timestamp in the query direction; entries with
//!   equal timestamps are ordered by their label string (`{a="x", b="y"}`), ascending in
//!   both directions; the merge stops after `limit` entries;
//! - an entry equal to one already returned (same labels, timestamp and line, e.g. from
//!   two streams whose labels become equal) is returned once;
//! - entries are grouped by their final labels; the streams of the answer are sorted by
//!   label string, and entries within a stream keep the merge (query) order.
//!
//! The selected streams are split over two threads; each merges its streams up to
//! `limit` entries, then the two partial answers are merged (the global first `limit`
//! entries are among the union of each part's first `limit`).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use logjar_logql::LogExpr;

use super::context::{Ctx, Work};
use super::error::QueryError;
use super::par::map_parts;
use super::pipeline::{OutLabels, QueryPipeline, StreamProc};
use super::request::QueryRequest;
use super::StreamResult;
use crate::db::{Direction, Snapshot, StreamIter};
use crate::labels::Labels;

/// One entry on its way out.
#[derive(Debug, Clone)]
struct Out {
    ts: i64,
    labels: OutLabels,
    line: String,
}

/// Ordering of the merge: `Less` means "comes first".
fn merge_order(dir: Direction, a: &Out, b: &Out) -> Ordering {
    let by_ts = match dir {
        Direction::Forward => a.ts.cmp(&b.ts),
        Direction::Backward => b.ts.cmp(&a.ts),
    };
    by_ts.then_with(|| a.labels.key.cmp(&b.labels.key))
}

/// Runs a log query.
pub(crate) fn run(
    snap: &Snapshot,
    log: &LogExpr,
    req: &QueryRequest,
    ctx: &Ctx,
) -> Result<Vec<StreamResult>, QueryError> {
    let pipeline = QueryPipeline::new(log)?;
    let streams = snap.select(&log.selector, req.start, req.end);
    ctx.streams
        .fetch_add(streams.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let limit = req.limit as usize;
    if limit == 0 || streams.is_empty() {
        return Ok(Vec::new());
    }
    let parts = map_parts(&streams, |part| {
        merge_part(snap, &pipeline, part, req, ctx, limit)
    });
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    all.sort_by(|a, b| merge_order(req.direction, a, b));
    let merged = dedup_take(all.into_iter(), limit);
    Ok(group(merged))
}

/// A stream being read: its iterator, pipeline and next kept entry.
struct Cursor {
    iter: StreamIter,
    pipe: StreamProc,
}

impl Cursor {
    fn next_kept(&mut self, work: &mut Work, ctx: &Ctx) -> Result<Option<Out>, QueryError> {
        for r in self.iter.by_ref() {
            let e = r?;
            let md_len: usize = e.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
            work.entry(ctx, e.line.len(), md_len)?;
            if let Some((labels, line)) = self.pipe.process(e.ts, &e.line, &e.metadata) {
                work.post_filter_lines += 1;
                return Ok(Some(Out {
                    ts: e.ts,
                    labels,
                    line,
                }));
            }
        }
        Ok(None)
    }
}

/// Heap element: the next entry of cursor `slot`.
struct Pending {
    out: Out,
    slot: usize,
    dir: Direction,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    /// Max-heap: the entry that comes first is the greatest; ties by slot.
    fn cmp(&self, other: &Self) -> Ordering {
        merge_order(self.dir, &other.out, &self.out).then_with(|| other.slot.cmp(&self.slot))
    }
}

/// Merges the streams of one part, returning at most `limit` entries in merge order.
fn merge_part(
    snap: &Snapshot,
    pipeline: &QueryPipeline,
    ids: &[(u32, Labels)],
    req: &QueryRequest,
    ctx: &Ctx,
    limit: usize,
) -> Result<Vec<Out>, QueryError> {
    let mut work = Work::default();
    let mut cursors: Vec<Cursor> = ids
        .iter()
        .map(|(id, labels)| Cursor {
            iter: snap.stream(*id, req.start, req.end, req.direction),
            pipe: pipeline.for_stream(labels),
        })
        .collect();
    let mut heap = BinaryHeap::with_capacity(cursors.len());
    for (slot, c) in cursors.iter_mut().enumerate() {
        if let Some(out) = c.next_kept(&mut work, ctx)? {
            heap.push(Pending {
                out,
                slot,
                dir: req.direction,
            });
        }
    }
    let mut taken = Vec::with_capacity(limit.min(4096));
    let mut same_ts: Vec<(Arc<str>, String)> = Vec::new();
    while taken.len() < limit {
        let Some(top) = heap.pop() else { break };
        if let Some(out) = cursors[top.slot].next_kept(&mut work, ctx)? {
            heap.push(Pending {
                out,
                slot: top.slot,
                dir: req.direction,
            });
        }
        if is_duplicate(&mut same_ts, taken.last(), &top.out) {
            continue;
        }
        taken.push(top.out);
    }
    work.flush(ctx)?;
    Ok(taken)
}

/// Whether `out` repeats an entry already taken at the same timestamp; keeps the list
/// of entries taken at the current timestamp in `same_ts`.
fn is_duplicate(same_ts: &mut Vec<(Arc<str>, String)>, last: Option<&Out>, out: &Out) -> bool {
    if last.is_some_and(|l| l.ts != out.ts) {
        same_ts.clear();
    }
    if same_ts
        .iter()
        .any(|(k, l)| *k == out.labels.key && *l == out.line)
    {
        return true;
    }
    same_ts.push((out.labels.key.clone(), out.line.clone()));
    false
}

/// Takes the first `limit` distinct entries of an ordered sequence.
fn dedup_take(entries: impl Iterator<Item = Out>, limit: usize) -> Vec<Out> {
    let mut taken: Vec<Out> = Vec::new();
    let mut same_ts = Vec::new();
    for e in entries {
        if taken.len() >= limit {
            break;
        }
        if !is_duplicate(&mut same_ts, taken.last(), &e) {
            taken.push(e);
        }
    }
    taken
}

/// Groups entries by labels; streams sorted by label string.
fn group(entries: Vec<Out>) -> Vec<StreamResult> {
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    let mut out: Vec<(Arc<str>, StreamResult)> = Vec::new();
    for e in entries {
        let i = *index.entry(e.labels.key.clone()).or_insert_with(|| {
            out.push((
                e.labels.key.clone(),
                StreamResult {
                    labels: e.labels.labels.clone(),
                    entries: Vec::new(),
                },
            ));
            out.len() - 1
        });
        out[i].1.entries.push((e.ts, e.line));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, s)| s).collect()
}
