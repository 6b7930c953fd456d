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
//! entries are among the union of each part's first `limit`). The parts tell each other
//! how far they got (`Progress`): a part stops as soon as the entries the parts have
//! taken, all ahead of its next one, number `limit`, so two parts together read about
//! what one merge of every stream would, not twice as much.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use logjar_logql::syntax::Stage;
use logjar_logql::LogExpr;
use parking_lot::Mutex;

use super::context::{Ctx, Work};
use super::error::QueryError;
use super::par::{map_parts, parts_for};
use super::pipeline::{OutLabels, QueryPipeline, StreamProc};
use super::request::QueryRequest;
use super::search::{LineSearch, SearchScan};
use super::StreamResult;
use crate::db::{BlockIter, Direction, Snapshot};
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
    let keeps = keeps_stream_labels(log);
    let parts_n = parts_for(streams.len());
    let mut streams = streams;
    if keeps && parts_n > 1 {
        // Deal the streams out in turn, so each part gets a share of every kind of
        // stream (neighbouring ids are often alike). The order of streams inside a part
        // cannot change the answer here: entries of different streams never tie on
        // labels.
        let mut dealt: Vec<(usize, (u32, Labels))> = streams.into_iter().enumerate().collect();
        dealt.sort_by_key(|&(i, _)| i % parts_n);
        streams = dealt.into_iter().map(|(_, s)| s).collect();
    }
    let progress = Progress::new(parts_n, keeps);
    let parts = map_parts(&streams, |i, part| {
        merge_part(snap, &pipeline, part, req, ctx, (limit, &progress, i))
    });
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    all.sort_by(|a, b| merge_order(req.direction, a, b));
    let merged = dedup_take(all.into_iter(), limit);
    Ok(group(merged))
}

/// Whether every entry's final labels hold its stream's labels unchanged, so entries of
/// different streams can never be equal (and deduplicated). `drop`, `keep`,
/// `label_format` and `unpack` may change or remove stream labels; parsers and metadata
/// that clash with a stream label are renamed `<name>_extracted` instead.
fn keeps_stream_labels(log: &LogExpr) -> bool {
    !log.pipeline.iter().any(|s| {
        matches!(
            s,
            Stage::Drop(_) | Stage::Keep(_) | Stage::LabelFormat(_) | Stage::Unpack
        )
    })
}

/// What each part of a log query has taken so far, as checkpoints `(n, ts)`: the part
/// had taken `n` entries, each with a timestamp at or ahead of `ts` in the query
/// direction. Checkpoints grow in `n` and move in the query direction.
///
/// A part about to take entries at timestamp `t` may stop when its own taken entries
/// plus, for every other part, the entries of its latest checkpoint strictly ahead of
/// `t` number `limit`: entries at `t` or behind it would come after them all in the
/// merged answer. Checkpoints (not just each part's latest count) let a part that is
/// behind in time use what a part further back took before reaching its position.
/// Only used when entries of different parts cannot be duplicates of each other
/// ([`keeps_stream_labels`]); otherwise the final deduplication could leave fewer than
/// `limit` of the counted entries.
struct Progress {
    parts: Vec<Mutex<Vec<(usize, i64)>>>,
    enabled: bool,
}

/// Entries a part takes between two checkpoints.
const CHECKPOINT_EVERY: usize = 16;

impl Progress {
    fn new(parts: usize, enabled: bool) -> Self {
        Progress {
            parts: (0..parts).map(|_| Mutex::new(Vec::new())).collect(),
            enabled: enabled && parts > 1,
        }
    }

    /// Records that part `me` has taken `n` entries, the last at `ts`, if enough were
    /// taken since its last checkpoint at `*published` entries (or `force`).
    fn publish(&self, me: usize, (n, ts): (usize, i64), published: &mut usize, force: bool) {
        if self.enabled && n > *published && (force || n >= *published + CHECKPOINT_EVERY) {
            self.parts[me].lock().push((n, ts));
            *published = n;
        }
    }

    /// Entries other parts have taken that come strictly before timestamp `ts`.
    fn ahead_of(&self, me: usize, ts: i64, dir: Direction) -> usize {
        if !self.enabled {
            return 0;
        }
        let ahead = |t: i64| match dir {
            Direction::Forward => t < ts,
            Direction::Backward => t > ts,
        };
        let mut n = 0;
        for (i, p) in self.parts.iter().enumerate() {
            if i == me {
                continue;
            }
            let cps = p.lock();
            let k = cps.partition_point(|&(_, t)| ahead(t));
            if k > 0 {
                n += cps[k - 1].0;
            }
        }
        n
    }
}

/// A stream being read a block at a time: its iterator, pipeline and the position of
/// its next raw (not yet filtered) entry in the current run.
struct Cursor {
    iter: BlockIter,
    pipe: StreamProc,
    /// Run index of the next entry; meaningful after `advance` returned a timestamp.
    pos: usize,
    /// With a [`LineSearch`]: the run indexes whose lines it picked, and the
    /// position in that list of `pos`.
    picked: Vec<u32>,
    pick: usize,
    /// Run entries before this index are counted in the stats.
    counted: usize,
    /// Whether a run is loaded (false before the first and after the last).
    loaded: bool,
    /// The cursor waits at the end of a run without candidates: nothing to take.
    at_run_end: bool,
    /// Whether the current run was searched ([`LineSearch`]) (`picked` holds
    /// the candidates) or is walked entry by entry.
    searching: bool,
    scan: SearchScan,
    /// Entries of the current run the pipeline kept, and the run's length.
    kept: usize,
    run_len: usize,
    loaded_once: bool,
    md: Vec<(String, String)>,
}

impl Cursor {
    fn new(iter: BlockIter, pipe: StreamProc) -> Self {
        Cursor {
            iter,
            pipe,
            pos: 0,
            picked: Vec::new(),
            pick: 0,
            counted: 0,
            loaded: false,
            at_run_end: false,
            searching: false,
            scan: SearchScan::default(),
            kept: 0,
            run_len: 0,
            loaded_once: false,
            md: Vec::new(),
        }
    }

    /// Counts the run's entries up to (not including) `to` as read.
    fn count_to(&mut self, to: usize, work: &mut Work, ctx: &Ctx) -> Result<(), QueryError> {
        if to > self.counted {
            let b = self.iter.batch();
            let md = b.metadata_bytes_of(self.counted, to);
            let bytes = b.line_bytes_of(self.counted, to);
            work.entries(ctx, (to - self.counted) as u64, bytes, md)?;
            self.counted = to;
        }
        Ok(())
    }

    /// Moves to the next raw entry (the next one `search` picks,
    /// when given); returns its timestamp. Entries passed over count as read.
    fn advance(
        &mut self,
        search: Option<&LineSearch<'_>>,
        work: &mut Work,
        ctx: &Ctx,
    ) -> Result<Option<i64>, QueryError> {
        loop {
            if self.loaded {
                let len = self.iter.batch().len();
                let next = match self.searching {
                    true => {
                        // `pick` is the index in `picked` of the entry to move to.
                        self.picked.get(self.pick).map(|&i| i as usize)
                    }
                    false => (self.pos < len).then_some(self.pos),
                };
                if let Some(i) = next {
                    self.count_to(i + 1, work, ctx)?;
                    self.pos = i;
                    self.at_run_end = false;
                    return Ok(Some(self.iter.batch().ts(i)));
                }
                if self.searching && !self.at_run_end && self.counted < len {
                    // No candidate left in this run: wait at its last entry before
                    // decoding the next block, which the merge may never need.
                    self.count_to(len, work, ctx)?;
                    self.at_run_end = true;
                    return Ok(Some(self.iter.batch().ts(len - 1)));
                }
                self.count_to(len, work, ctx)?;
            }
            self.at_run_end = false;
            if !self.iter.advance()? {
                self.loaded = false;
                return Ok(None);
            }
            self.loaded = true;
            self.pos = 0;
            self.pick = 0;
            self.counted = 0;
            if self.loaded_once {
                self.scan
                    .observe(self.searching, self.picked.len(), self.kept, self.run_len);
            }
            self.loaded_once = true;
            self.kept = 0;
            self.run_len = self.iter.batch().len();
            self.searching = false;
            if let Some(f) = search.filter(|_| self.scan.worth_it()) {
                f.pick(&self.iter.batch(), &mut self.picked);
                self.searching = true;
            }
        }
    }

    /// Runs the pipeline over the current entry and steps past it.
    fn take(&mut self) -> Option<(OutLabels, String)> {
        if self.at_run_end {
            return None;
        }
        let b = self.iter.batch();
        let i = self.pos;
        let md: &[(String, String)] = if b.has_metadata() {
            b.metadata(i, &mut self.md)
        } else {
            &[]
        };
        let r = self.pipe.process(b.ts(i), b.line(i), md);
        if self.searching {
            self.pick += 1;
        } else {
            self.pos += 1;
        }
        self.kept += usize::from(r.is_some());
        r
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
    (limit, progress, me): (usize, &Progress, usize),
) -> Result<Vec<Out>, QueryError> {
    let mut work = Work::default();
    let dir = req.direction;
    let search = LineSearch::new(pipeline.line_filter_prefix());
    let search = search.as_ref();
    let mut cursors: Vec<Cursor> = ids
        .iter()
        .map(|(id, labels)| {
            Cursor::new(
                snap.stream_blocks(*id, req.start, req.end, dir),
                pipeline.for_stream(labels),
            )
        })
        .collect();
    let mut heap = BinaryHeap::with_capacity(cursors.len());
    for (slot, c) in cursors.iter_mut().enumerate() {
        if let Some(ts) = c.advance(search, &mut work, ctx)? {
            heap.push(Frontier { ts, slot, dir });
        }
    }
    let mut taken: Vec<Out> = Vec::with_capacity(limit.min(4096));
    let mut group: Vec<Out> = Vec::new();
    let (mut published, mut groups) = (0usize, 0u32);
    while taken.len() < limit {
        let Some(ts) = heap.peek().map(|f| f.ts) else {
            break;
        };
        // Looking at the other parts every few timestamps is enough: stopping a little
        // later only reads a little more.
        groups = groups.wrapping_add(1);
        if groups % 4 == 0 && taken.len() + progress.ahead_of(me, ts, dir) >= limit {
            // Enough entries ahead of `ts` across the parts: nothing here can make it.
            break;
        }
        group.clear();
        while let Some(f) = heap.peek() {
            if f.ts != ts {
                break;
            }
            let slot = f.slot;
            heap.pop();
            let c = &mut cursors[slot];
            if let Some((labels, line)) = c.take() {
                work.post_filter_lines += 1;
                group.push(Out { ts, labels, line });
            }
            if let Some(next_ts) = c.advance(search, &mut work, ctx)? {
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
        if let Some(last) = taken.last() {
            progress.publish(me, (taken.len(), last.ts), &mut published, false);
        }
    }
    if let Some(last) = taken.last() {
        progress.publish(me, (taken.len(), last.ts), &mut published, true);
    }
    for c in &cursors {
        ctx.add_store(&c.iter.read_stats());
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
