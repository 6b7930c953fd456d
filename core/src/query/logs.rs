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
use crate::entry::Entry;
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

/// A stream being read: its iterator, pipeline and next raw (not yet filtered) entry.
struct Cursor {
    iter: StreamIter,
    pipe: StreamProc,
    next: Option<Entry>,
}

impl Cursor {
    /// Reads the next raw entry into `next`; returns its timestamp.
    fn advance(&mut self, work: &mut Work, ctx: &Ctx) -> Result<Option<i64>, QueryError> {
        self.next = self.iter.next().transpose()?;
        Ok(match &self.next {
            Some(e) => {
                let md_len: usize = e.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
                work.entry(ctx, e.line.len(), md_len)?;
                Some(e.ts)
            }
            None => None,
        })
    }
}

/// Heap element: cursor `slot`'s next raw entry is at `ts`.
#[derive(PartialEq, Eq)]
struct Frontier {
    ts: i64,
    slot: usize,
    dir: Direction,
}

impl PartialOrd for Frontier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Frontier {
    /// Max-heap: the timestamp that comes first in the query direction is the greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        let by_ts = match self.dir {
            Direction::Forward => other.ts.cmp(&self.ts),
            Direction::Backward => self.ts.cmp(&other.ts),
        };
        by_ts.then_with(|| other.slot.cmp(&self.slot))
    }
}

/// Merges the streams of one part, returning at most `limit` entries in merge order.
///
/// Raw entries of all streams are visited in global time order (a heap over each
/// stream's next raw entry), so a stream whose lines rarely pass the filters is read only
/// as far back (or forward) as the `limit`-th result, never to its end. Entries with one
/// timestamp are filtered together and ordered by label string.
fn merge_part(
    snap: &Snapshot,
    pipeline: &QueryPipeline,
    ids: &[(u32, Labels)],
    req: &QueryRequest,
    ctx: &Ctx,
    limit: usize,
) -> Result<Vec<Out>, QueryError> {
    let mut work = Work::default();
    let dir = req.direction;
    let mut cursors: Vec<Cursor> = ids
        .iter()
        .map(|(id, labels)| Cursor {
            iter: snap.stream(*id, req.start, req.end, dir),
            pipe: pipeline.for_stream(labels),
            next: None,
        })
        .collect();
    let mut heap = BinaryHeap::with_capacity(cursors.len());
    for (slot, c) in cursors.iter_mut().enumerate() {
        if let Some(ts) = c.advance(&mut work, ctx)? {
            heap.push(Frontier { ts, slot, dir });
        }
    }
    let mut taken: Vec<Out> = Vec::with_capacity(limit.min(4096));
    let mut group: Vec<Out> = Vec::new();
    while taken.len() < limit {
        let Some(ts) = heap.peek().map(|f| f.ts) else {
            break;
        };
        group.clear();
        while let Some(f) = heap.peek() {
            if f.ts != ts {
                break;
            }
            let slot = f.slot;
            heap.pop();
            let c = &mut cursors[slot];
            if let Some(e) = c.next.take() {
                if let Some((labels, line)) = c.pipe.process(e.ts, &e.line, &e.metadata) {
                    work.post_filter_lines += 1;
                    group.push(Out { ts, labels, line });
                }
            }
            if let Some(next_ts) = c.advance(&mut work, ctx)? {
                heap.push(Frontier {
                    ts: next_ts,
                    slot,
                    dir,
                });
            }
        }
        // Stable: entries of one stream with equal labels keep their storage order.
        group.sort_by(|a, b| a.labels.key.cmp(&b.labels.key));
        for out in group.drain(..) {
            if taken.len() >= limit {
                break;
            }
            if !is_duplicate(&taken, &out) {
                taken.push(out);
            }
        }
    }
    work.flush(ctx)?;
    Ok(taken)
}

/// Whether `out` repeats an entry already taken. Entries are taken in merge order, so
/// those with `out`'s timestamp are the last ones of `taken`: no copy is kept.
fn is_duplicate(taken: &[Out], out: &Out) -> bool {
    taken
        .iter()
        .rev()
        .take_while(|t| t.ts == out.ts)
        .any(|t| t.labels.key == out.labels.key && t.line == out.line)
}

/// Takes the first `limit` distinct entries of an ordered sequence.
fn dedup_take(entries: impl Iterator<Item = Out>, limit: usize) -> Vec<Out> {
    let mut taken: Vec<Out> = Vec::new();
    for e in entries {
        if taken.len() >= limit {
            break;
        }
        if !is_duplicate(&taken, &e) {
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
