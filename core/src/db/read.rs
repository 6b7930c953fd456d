//! The read path: snapshots, stream selection and entry iterators.
//!
//! A [`Snapshot`] holds `Arc`s to everything a tenant's reads need — the segments, the
//! frozen heads and a copy-on-write view of the live head — plus the number of streams
//! that existed when it was taken. It never changes: writes and flushes after it are
//! invisible to it.
//!
//! Per stream, entries come from several *sources* in write order: the chunks in
//! segments (oldest segment first), then the in-memory chunks and head buffer of each
//! head. Each source is sorted by `(ts, line)`; a stream iterator merges the sources
//! that overlap with a heap and drops an entry equal to the previous one (the same
//! `(ts, line)` written twice into different chunks), keeping the earliest-written
//! copy. Only blocks overlapping the time range are decoded, one block per open source.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use roaring::RoaringBitmap;

use super::{Inner, TenantSegs};
use crate::chunk::{self, BlockMeta, DecodedBlock, EncodedChunk};
use crate::delete::{CompiledDelete, StreamDeletes};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::head::{HeadBuf, TenantHead};
use crate::index::LabelIndex;
use crate::labels::Labels;
use crate::retention::RetentionPolicy;
use crate::segment::Segment;
use crate::LabelMatcher;

/// Iteration order of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first (Loki's default for log queries).
    #[default]
    Backward,
}

/// A consistent, immutable read view of one tenant. Cheap to take; `Send + Sync`.
///
/// ```
/// use logjar::{Db, Direction, Entry, LabelMatcher, Labels, MatchOp, Options};
/// use logjar::entry::StreamEntries;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let push = |app: &str, ts: i64, line: &str| {
///     let labels = Labels::new([("app", app), ("env", "prod")]).unwrap();
///     db.push("fake", &[StreamEntries { labels, entries: vec![Entry::new(ts, line.to_string())] }])
///         .unwrap();
/// };
/// push("api", 10, "GET /a");
/// push("web", 20, "GET /b");
/// db.flush().unwrap();
/// push("api", 30, "GET /c");
///
/// let snap = db.snapshot("fake").unwrap();
/// push("api", 40, "not in the snapshot");
/// let api = LabelMatcher::new("app", MatchOp::Eq, "api").unwrap();
/// let [(id, _)] = snap.select(&[api], 0, 100)[..] else { panic!() };
/// // One stream's entries in [0, 35), newest first: from a segment and the head.
/// let lines: Vec<_> = snap.stream(id, 0, 35, Direction::Backward).map(|e| e.unwrap().line).collect();
/// assert_eq!(lines, ["GET /c", "GET /a"]);
/// // Sizes only (timestamp, line length), for count and bytes aggregations.
/// let sizes: Vec<_> = snap.sizes(id, 0, 100, Direction::Forward).map(|s| s.unwrap()).collect();
/// assert_eq!(sizes, [(10, 6), (30, 6)]);
/// assert_eq!(snap.label_values("app", 15, 25), ["web"]);
/// assert_eq!(snap.label_names(0, 100), ["app", "env"]);
/// ```
#[derive(Debug, Clone)]
pub struct Snapshot {
    tenant: String,
    index: Arc<RwLock<LabelIndex>>,
    bound: u32,
    segs: Arc<TenantSegs>,
    /// Frozen heads (oldest first), then the live head.
    heads: Vec<TenantHead>,
    /// Retention and pending deletes; `None` when neither hides anything.
    filter: Option<Arc<ReadFilter>>,
}

/// What a snapshot hides: entries past their retention, entries of pending deletes.
#[derive(Debug)]
struct ReadFilter {
    policy: Arc<RetentionPolicy>,
    /// Wall-clock time of the snapshot (ns).
    now: i64,
    /// The cutoff of every stream when it does not depend on labels.
    uniform: Option<i64>,
    deletes: Arc<Vec<Arc<CompiledDelete>>>,
}

impl Inner {
    pub(super) fn snapshot(&self, tenant: &str) -> Snapshot {
        let view = self.view.read();
        let (index, segs, deletes) = match view.tenants.get(tenant) {
            Some(tv) => (tv.index.clone(), tv.segs.clone(), tv.deletes.clone()),
            None => Default::default(),
        };
        let bound = index.read().len();
        let heads = view
            .frozen
            .iter()
            .map(|(h, _)| &**h)
            .chain(std::iter::once(&view.live))
            .filter_map(|h| h.tenants.get(tenant).cloned())
            .collect();
        drop(view);
        let filter = if self.policy.keeps_everything() && deletes.is_empty() {
            None
        } else {
            let now = crate::retention::now_ns();
            let uniform = self.policy.cutoffs(tenant, now).uniform();
            (uniform != Some(i64::MIN) || !deletes.is_empty()).then(|| {
                Arc::new(ReadFilter {
                    policy: self.policy.clone(),
                    now,
                    uniform,
                    deletes,
                })
            })
        };
        Snapshot {
            tenant: tenant.to_owned(),
            index,
            bound,
            segs,
            heads,
            filter,
        }
    }
}

impl Snapshot {
    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The retention cutoff of stream `id` when the snapshot was taken: its entries
    /// with `ts` below it have expired and are not returned (`i64::MIN`: none).
    pub fn retention_cutoff(&self, id: u32) -> i64 {
        let Some(f) = &self.filter else {
            return i64::MIN;
        };
        if let Some(c) = f.uniform {
            return c;
        }
        match self.labels(id) {
            Some(l) => match f.policy.period(&self.tenant, &l) {
                Some(p) => f.now.saturating_sub(p),
                None => i64::MIN,
            },
            None => i64::MIN,
        }
    }

    /// The pending delete requests matching stream `id`, if any.
    fn stream_deletes(&self, id: u32) -> Option<StreamDeletes> {
        let f = self.filter.as_ref()?;
        if f.deletes.is_empty() {
            return None;
        }
        let labels = self.labels(id)?;
        StreamDeletes::for_stream(&f.deletes, &labels)
    }

    /// Streams matching every matcher and having data in `[start, end)`, by id.
    pub fn select(&self, matchers: &[LabelMatcher], start: i64, end: i64) -> Vec<(u32, Labels)> {
        let ids = self.select_ids(matchers, start, end);
        let ix = self.index.read();
        ids.iter()
            .filter_map(|id| ix.labels(id).map(|l| (id, l.clone())))
            .collect()
    }

    fn select_ids(&self, matchers: &[LabelMatcher], start: i64, end: i64) -> RoaringBitmap {
        if start >= end {
            return RoaringBitmap::new();
        }
        let ids = self.index.read().select(matchers, self.bound);
        ids.iter()
            .filter(|&id| self.has_data(id, start, end))
            .collect()
    }

    /// The labels of stream `id`.
    pub fn labels(&self, id: u32) -> Option<Labels> {
        if id >= self.bound {
            return None;
        }
        self.index.read().labels(id).cloned()
    }

    /// True when stream `id` may have entries in `[start, end)` (judged by chunk
    /// time ranges, without decoding).
    pub fn has_data(&self, id: u32, start: i64, end: i64) -> bool {
        let start = start.max(self.retention_cutoff(id));
        if start >= end {
            return false;
        }
        let in_segs = self.segs.chunks.get(&id).is_some_and(|refs| {
            refs.iter().any(|&(si, ci)| {
                let c = &self.segs.segments[si as usize].seg.chunks()[ci as usize];
                c.min_ts < end && c.max_ts >= start
            })
        });
        in_segs
            || self
                .heads
                .iter()
                .any(|h| h.streams.get(&id).is_some_and(|s| s.overlaps(start, end)))
    }

    /// Sorted label names of the streams with data in `[start, end)`.
    pub fn label_names(&self, start: i64, end: i64) -> Vec<String> {
        let ids = self.select_ids(&[], start, end);
        self.index.read().label_names(&ids)
    }

    /// Sorted values of label `name` among the streams with data in `[start, end)`.
    pub fn label_values(&self, name: &str, start: i64, end: i64) -> Vec<String> {
        let ids = self.select_ids(&[], start, end);
        self.index.read().label_values(name, &ids)
    }

    /// The sources of a stream, in write order (rank = position).
    fn sources(&self, id: u32, start: i64, end: i64) -> Vec<Source> {
        let mut out = Vec::new();
        if let Some(refs) = self.segs.chunks.get(&id) {
            for &(si, ci) in refs {
                let seg = &self.segs.segments[si as usize].seg;
                let c = &seg.chunks()[ci as usize];
                if c.min_ts < end && c.max_ts >= start {
                    out.push(Source::Seg(seg.clone(), ci as usize));
                }
            }
        }
        for h in &self.heads {
            if let Some(s) = h.streams.get(&id) {
                for c in &s.chunks {
                    if c.min_ts < end && c.max_ts >= start {
                        out.push(Source::Mem(c.clone()));
                    }
                }
                if s.buf.min_ts().is_some_and(|lo| lo < end)
                    && s.buf.max_ts().is_some_and(|hi| hi >= start)
                {
                    out.push(Source::Head(s.buf.clone()));
                }
            }
        }
        out
    }

    /// The entries of stream `id` with `start <= ts < end`, in `(ts, line)` order (or
    /// reversed), each exact duplicate once. Unknown ids give an empty iterator.
    pub fn stream(&self, id: u32, start: i64, end: i64, dir: Direction) -> StreamIter {
        let start = start.max(self.retention_cutoff(id));
        let sources = if id < self.bound && start < end {
            self.sources(id, start, end)
        } else {
            Vec::new()
        };
        let mut it = StreamIter::new(sources, start, end, dir);
        if !it.pending.is_empty() {
            it.deletes = self.stream_deletes(id);
        }
        it
    }

    /// The entries of several streams merged in time order (ties by stream id), as
    /// `(stream id, entry)`.
    pub fn entries(&self, ids: &[u32], start: i64, end: i64, dir: Direction) -> EntryIter {
        let streams = ids
            .iter()
            .map(|&id| (id, self.stream(id, start, end, dir)))
            .collect();
        EntryIter::new(streams, dir)
    }

    /// Timestamps and line lengths of stream `id` in `[start, end)`, in the order and
    /// with the deduplication of [`Snapshot::stream`], decompressing no line when the
    /// stream's chunks do not overlap in time (the usual case).
    pub fn sizes(&self, id: u32, start: i64, end: i64, dir: Direction) -> SizeIter {
        let start = start.max(self.retention_cutoff(id));
        let sources = if id < self.bound && start < end {
            self.sources(id, start, end)
        } else {
            Vec::new()
        };
        let deletes = if sources.is_empty() {
            None
        } else {
            self.stream_deletes(id)
        };
        if deletes.as_ref().is_some_and(StreamDeletes::needs_lines) {
            // A line-filter delete touches the stream: decide on the lines.
            let mut it = StreamIter::new(sources, start, end, dir);
            it.deletes = deletes;
            return SizeIter(SizeInner::Merged(it));
        }
        let mut spans: Vec<(i64, i64)> = sources.iter().map(Source::bounds).collect();
        spans.sort_unstable();
        let disjoint = spans.windows(2).all(|w| w[0].1 < w[1].0);
        if disjoint {
            let mut sources = sources;
            sources.sort_by_key(|s| s.bounds().0);
            if dir == Direction::Backward {
                sources.reverse();
            }
            SizeIter(SizeInner::Sequential {
                sources: sources.into_iter(),
                current: None,
                start,
                end,
                dir,
                deletes,
            })
        } else {
            let mut it = StreamIter::new(sources, start, end, dir);
            it.deletes = deletes;
            SizeIter(SizeInner::Merged(it))
        }
    }
}

/// Where a stream's entries come from.
#[derive(Debug, Clone)]
enum Source {
    Seg(Arc<Segment>, usize),
    Mem(Arc<EncodedChunk>),
    Head(Arc<HeadBuf>),
}

impl Source {
    /// Oldest and newest timestamps.
    fn bounds(&self) -> (i64, i64) {
        match self {
            Source::Seg(s, ci) => {
                let c = &s.chunks()[*ci];
                (c.min_ts, c.max_ts)
            }
            Source::Mem(c) => (c.min_ts, c.max_ts),
            Source::Head(b) => (b.min_ts().unwrap_or(0), b.max_ts().unwrap_or(0)),
        }
    }

    fn blocks(&self) -> &[BlockMeta] {
        match self {
            Source::Seg(s, ci) => &s.chunks()[*ci].blocks,
            Source::Mem(c) => &c.blocks,
            Source::Head(_) => &[],
        }
    }

    fn decode(&self, b: &BlockMeta, out: &mut DecodedBlock) -> Result<()> {
        match self {
            Source::Seg(s, _) => s.decode_block(b, out),
            Source::Mem(c) => chunk::decode_block(mem_block(c, b)?, out)
                .map_err(|e| Error::corrupt("<memory>", b.offset, e.to_string())),
            Source::Head(_) => Ok(()),
        }
    }

    fn decode_sizes(&self, b: &BlockMeta, ts: &mut Vec<i64>, lens: &mut Vec<u32>) -> Result<()> {
        match self {
            Source::Seg(s, _) => s.decode_block_sizes(b, ts, lens),
            Source::Mem(c) => chunk::decode_block_sizes(mem_block(c, b)?, ts, lens)
                .map_err(|e| Error::corrupt("<memory>", b.offset, e.to_string())),
            Source::Head(_) => Ok(()),
        }
    }
}

fn mem_block<'a>(c: &'a EncodedChunk, b: &BlockMeta) -> Result<&'a [u8]> {
    c.block_bytes(b)
        .ok_or_else(|| Error::corrupt("<memory>", b.offset, "block outside its chunk"))
}

/// Index range of sorted timestamps within `[start, end)`.
fn ts_range(ts: &[i64], start: i64, end: i64) -> std::ops::Range<usize> {
    let lo = ts.partition_point(|&t| t < start);
    let hi = ts.partition_point(|&t| t < end);
    lo..hi.max(lo)
}

/// Walks one source's entries in `[start, end)` in one direction.
#[derive(Debug)]
struct Cursor {
    src: Source,
    dir: Direction,
    start: i64,
    end: i64,
    /// Blocks still to decode, in iteration order.
    blocks: std::vec::IntoIter<BlockMeta>,
    block: DecodedBlock,
    /// Entries of the current block (or head buffer) still to yield.
    range: std::ops::Range<usize>,
    head_started: bool,
}

impl Cursor {
    fn new(src: Source, start: i64, end: i64, dir: Direction) -> Self {
        let mut blocks: Vec<BlockMeta> = src
            .blocks()
            .iter()
            .filter(|b| b.min_ts < end && b.max_ts >= start)
            .cloned()
            .collect();
        if dir == Direction::Backward {
            blocks.reverse();
        }
        Cursor {
            src,
            dir,
            start,
            end,
            blocks: blocks.into_iter(),
            block: DecodedBlock::new(),
            range: 0..0,
            head_started: false,
        }
    }

    /// Index of the next entry to yield in the current block or buffer, loading the
    /// next block when needed.
    fn next_index(&mut self) -> Result<Option<usize>> {
        loop {
            let i = match self.dir {
                Direction::Forward => self.range.next(),
                Direction::Backward => self.range.next_back(),
            };
            if i.is_some() {
                return Ok(i);
            }
            if let Source::Head(buf) = &self.src {
                if self.head_started {
                    return Ok(None);
                }
                self.head_started = true;
                self.range = buf.range(self.start, self.end);
                continue;
            }
            let Some(b) = self.blocks.next() else {
                return Ok(None);
            };
            self.src.decode(&b, &mut self.block)?;
            self.range = ts_range(self.block.timestamps(), self.start, self.end);
        }
    }

    fn next_entry(&mut self) -> Result<Option<Entry>> {
        let Some(i) = self.next_index()? else {
            return Ok(None);
        };
        Ok(Some(match &self.src {
            Source::Head(buf) => buf.entry(i),
            _ => Entry {
                ts: self.block.ts(i),
                line: Bytes::copy_from_slice(self.block.line(i)),
                metadata: self
                    .block
                    .metadata(i)
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            },
        }))
    }
}

/// An entry waiting in a merge heap.
#[derive(Debug)]
struct Pending {
    entry: Entry,
    /// Tie-breaker: source rank (stream iterators) or stream id (entry iterators).
    rank: u32,
    slot: usize,
    dir: Direction,
}

impl Pending {
    fn key(&self) -> (i64, &[u8]) {
        (self.entry.ts, &self.entry.line)
    }
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
    /// "Greater" pops first from the max-heap: the smallest key forward, the largest
    /// backward; among equal keys always the lowest rank.
    fn cmp(&self, other: &Self) -> Ordering {
        let by_key = match self.dir {
            Direction::Forward => other.key().cmp(&self.key()),
            Direction::Backward => self.key().cmp(&other.key()),
        };
        by_key.then_with(|| other.rank.cmp(&self.rank))
    }
}

/// Entries of one stream, merged from its sources and deduplicated. Yields
/// `Result<Entry>`; after an error it yields nothing more.
#[derive(Debug)]
pub struct StreamIter {
    dir: Direction,
    /// Sources not opened yet; `pop()` gives the next to open.
    pending: Vec<(u32, Cursor)>,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Pending>,
    last: Option<(i64, Bytes)>,
    failed: bool,
    /// Pending delete requests matching the stream.
    deletes: Option<StreamDeletes>,
}

impl StreamIter {
    fn new(sources: Vec<Source>, start: i64, end: i64, dir: Direction) -> Self {
        let mut pending: Vec<(u32, Cursor)> = sources
            .into_iter()
            .enumerate()
            .map(|(rank, s)| (rank as u32, Cursor::new(s, start, end, dir)))
            .collect();
        // Open order: by first timestamp in iteration order; pop() takes from the end.
        match dir {
            Direction::Forward => pending
                .sort_by_key(|(r, c)| (std::cmp::Reverse(c.src.bounds().0), std::cmp::Reverse(*r))),
            Direction::Backward => {
                pending.sort_by_key(|(r, c)| (c.src.bounds().1, std::cmp::Reverse(*r)))
            }
        }
        StreamIter {
            dir,
            pending,
            cursors: Vec::new(),
            heap: BinaryHeap::new(),
            last: None,
            failed: false,
            deletes: None,
        }
    }

    fn advance(&mut self, slot: usize, rank: u32) -> Result<()> {
        if let Some(entry) = self.cursors[slot].next_entry()? {
            self.heap.push(Pending {
                entry,
                rank,
                slot,
                dir: self.dir,
            });
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Entry>> {
        loop {
            // Open every source that may hold an entry at or before the heap's top.
            while let Some((_, c)) = self.pending.last() {
                let (lo, hi) = c.src.bounds();
                let open = match self.heap.peek() {
                    None => true,
                    Some(top) => match self.dir {
                        Direction::Forward => lo <= top.entry.ts,
                        Direction::Backward => hi >= top.entry.ts,
                    },
                };
                if !open {
                    break;
                }
                let Some((rank, c)) = self.pending.pop() else {
                    break;
                };
                self.cursors.push(c);
                self.advance(self.cursors.len() - 1, rank)?;
            }
            let Some(top) = self.heap.pop() else {
                return Ok(None);
            };
            self.advance(top.slot, top.rank)?;
            if self
                .last
                .as_ref()
                .is_some_and(|(ts, line)| *ts == top.entry.ts && *line == top.entry.line)
            {
                continue;
            }
            self.last = Some((top.entry.ts, top.entry.line.clone()));
            if let Some(d) = &mut self.deletes {
                if d.deleted(top.entry.ts, &top.entry.line, &top.entry.metadata) {
                    continue;
                }
            }
            return Ok(Some(top.entry));
        }
    }
}

impl Iterator for StreamIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(e) => e.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Entries of several streams in time order, as `(stream id, entry)`.
#[derive(Debug)]
pub struct EntryIter {
    dir: Direction,
    streams: Vec<(u32, StreamIter)>,
    heap: BinaryHeap<Pending>,
    started: bool,
    failed: bool,
}

impl EntryIter {
    fn new(streams: Vec<(u32, StreamIter)>, dir: Direction) -> Self {
        EntryIter {
            dir,
            streams,
            heap: BinaryHeap::new(),
            started: false,
            failed: false,
        }
    }

    fn advance(&mut self, slot: usize) -> Result<()> {
        let (id, it) = &mut self.streams[slot];
        if let Some(r) = it.next() {
            self.heap.push(Pending {
                entry: r?,
                rank: *id,
                slot,
                dir: self.dir,
            });
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<(u32, Entry)>> {
        if !self.started {
            self.started = true;
            for slot in 0..self.streams.len() {
                self.advance(slot)?;
            }
        }
        let Some(top) = self.heap.pop() else {
            return Ok(None);
        };
        self.advance(top.slot)?;
        Ok(Some((top.rank, top.entry)))
    }
}

impl Iterator for EntryIter {
    type Item = Result<(u32, Entry)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(e) => e.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Timestamps and line lengths of one stream: `Result<(ts, line_len)>`.
#[derive(Debug)]
pub struct SizeIter(SizeInner);

#[derive(Debug)]
enum SizeInner {
    /// Sources that do not overlap, read one after the other from sizes only.
    Sequential {
        sources: std::vec::IntoIter<Source>,
        current: Option<SizeCursor>,
        start: i64,
        end: i64,
        dir: Direction,
        /// Pending deletes without line filters (decided on timestamps alone).
        deletes: Option<StreamDeletes>,
    },
    /// Overlapping sources: the full merge, reduced to sizes.
    Merged(StreamIter),
}

/// Reads one source's sizes.
#[derive(Debug)]
struct SizeCursor {
    src: Source,
    blocks: std::vec::IntoIter<BlockMeta>,
    ts: Vec<i64>,
    lens: Vec<u32>,
    range: std::ops::Range<usize>,
    head_started: bool,
}

impl SizeCursor {
    fn next(&mut self, start: i64, end: i64, dir: Direction) -> Result<Option<(i64, u32)>> {
        loop {
            let i = match dir {
                Direction::Forward => self.range.next(),
                Direction::Backward => self.range.next_back(),
            };
            if let Some(i) = i {
                return Ok(Some(match &self.src {
                    Source::Head(b) => b.size_at(i),
                    _ => (self.ts[i], self.lens[i]),
                }));
            }
            if let Source::Head(b) = &self.src {
                if self.head_started {
                    return Ok(None);
                }
                self.head_started = true;
                self.range = b.range(start, end);
                continue;
            }
            let Some(b) = self.blocks.next() else {
                return Ok(None);
            };
            self.src.decode_sizes(&b, &mut self.ts, &mut self.lens)?;
            self.range = ts_range(&self.ts, start, end);
        }
    }
}

impl Iterator for SizeIter {
    type Item = Result<(i64, u32)>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            SizeInner::Merged(it) => it.next().map(|r| r.map(|e| (e.ts, e.line.len() as u32))),
            SizeInner::Sequential {
                sources,
                current,
                start,
                end,
                dir,
                deletes,
            } => loop {
                if current.is_none() {
                    let src = sources.next()?;
                    let mut blocks: Vec<BlockMeta> = src
                        .blocks()
                        .iter()
                        .filter(|b| b.min_ts < *end && b.max_ts >= *start)
                        .cloned()
                        .collect();
                    if *dir == Direction::Backward {
                        blocks.reverse();
                    }
                    *current = Some(SizeCursor {
                        src,
                        blocks: blocks.into_iter(),
                        ts: Vec::new(),
                        lens: Vec::new(),
                        range: 0..0,
                        head_started: false,
                    });
                }
                let cur = current.as_mut()?;
                match cur.next(*start, *end, *dir) {
                    Ok(Some(x)) if deletes.as_ref().is_some_and(|d| d.deleted_ts(x.0)) => {}
                    Ok(Some(x)) => return Some(Ok(x)),
                    Ok(None) => *current = None,
                    Err(e) => {
                        // Stop after an error.
                        *sources = Vec::new().into_iter();
                        *current = None;
                        return Some(Err(e));
                    }
                }
            },
        }
    }
}
