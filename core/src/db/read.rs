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
            return SizeIter::new(SizeInner::Merged(it));
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
            let stats = ReadStats {
                chunks_referenced: sources
                    .iter()
                    .filter(|s| !matches!(s, Source::Head(_)))
                    .count() as u64,
                ..ReadStats::default()
            };
            SizeIter::new(SizeInner::Sequential {
                sources: sources.into_iter(),
                current: None,
                start,
                end,
                dir,
                deletes,
                stats,
            })
        } else {
            let mut it = StreamIter::new(sources, start, end, dir);
            it.deletes = deletes;
            SizeIter::new(SizeInner::Merged(it))
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
    stats: ReadStats,
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
        let stats = ReadStats {
            chunks_referenced: u64::from(!matches!(src, Source::Head(_))),
            ..ReadStats::default()
        };
        Cursor {
            src,
            dir,
            start,
            end,
            blocks: blocks.into_iter(),
            block: DecodedBlock::new(),
            range: 0..0,
            head_started: false,
            stats,
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
                self.stats.head_entries += self.range.len() as u64;
                continue;
            }
            if !self.load_block()? {
                return Ok(None);
            }
        }
    }

    /// Decodes the next block overlapping the range and sets `range` to its entries in
    /// the range; false when no block is left.
    fn load_block(&mut self) -> Result<bool> {
        let Some(b) = self.blocks.next() else {
            return Ok(false);
        };
        if self.stats.blocks_decoded == 0 {
            self.stats.chunks_opened += 1;
        }
        self.src.decode(&b, &mut self.block)?;
        self.stats.blocks_decoded += 1;
        self.stats.compressed_bytes += u64::from(b.len);
        self.stats.decompressed_bytes += b.raw_bytes;
        self.range = ts_range(self.block.timestamps(), self.start, self.end);
        Ok(true)
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

/// What a read iterator has decoded so far: the chunk and block figures of a query's
/// `stats.querier.store` (Loki's `totalChunksRef`, `totalChunksDownloaded`,
/// `compressedBytes`, …). Counted by the iterators as they open sources and decode
/// blocks, so an iterator stopped early reports only what it touched.
///
/// ```
/// use logjar::{Db, Direction, Entry, Labels, Options};
/// use logjar::entry::StreamEntries;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let labels = Labels::new([("app", "api")]).unwrap();
/// let entries = (0..10).map(|i| Entry::new(i, format!("line {i}"))).collect();
/// db.push("fake", &[StreamEntries { labels, entries }]).unwrap();
/// db.flush().unwrap();
/// let snap = db.snapshot("fake").unwrap();
/// let mut it = snap.stream(0, 0, 100, Direction::Forward);
/// assert_eq!(it.by_ref().count(), 10);
/// let st = it.read_stats();
/// assert_eq!((st.chunks_referenced, st.chunks_opened, st.blocks_decoded), (1, 1, 1));
/// assert_eq!(st.decompressed_bytes, 60);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Chunks (in segments or frozen in memory) whose time range overlaps the read.
    pub chunks_referenced: u64,
    /// Of those, the chunks at least one block of which was read.
    pub chunks_opened: u64,
    /// Blocks decompressed with their lines.
    pub blocks_decoded: u64,
    /// Blocks of which only the timestamps and line lengths were decoded.
    pub blocks_sizes_only: u64,
    /// Blocks counted whole from their `BlockMeta`, without decoding anything.
    pub blocks_from_metadata: u64,
    /// Encoded bytes of the blocks read (decoded, sizes only or whole), CRCs included.
    pub compressed_bytes: u64,
    /// Line bytes decompressed.
    pub decompressed_bytes: u64,
    /// Entries read from head buffers (not yet in a chunk, never compressed).
    pub head_entries: u64,
}

impl ReadStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ReadStats) {
        self.chunks_referenced += other.chunks_referenced;
        self.chunks_opened += other.chunks_opened;
        self.blocks_decoded += other.blocks_decoded;
        self.blocks_sizes_only += other.blocks_sizes_only;
        self.blocks_from_metadata += other.blocks_from_metadata;
        self.compressed_bytes += other.compressed_bytes;
        self.decompressed_bytes += other.decompressed_bytes;
        self.head_entries += other.head_entries;
    }
}

impl StreamIter {
    /// What this iterator has read so far.
    pub fn read_stats(&self) -> ReadStats {
        let mut st = ReadStats::default();
        for c in self
            .cursors
            .iter()
            .chain(self.pending.iter().map(|(_, c)| c))
        {
            st.add(&c.stats);
        }
        st
    }
}

/// A run of one stream's timestamps and line lengths, from
/// [`SizeIter::next_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeBatch<'a> {
    /// Entries, in the iterator's direction: `ts[i]` and `lens[i]` are one entry.
    Entries {
        /// Timestamps.
        ts: &'a [i64],
        /// Line lengths.
        lens: &'a [u32],
    },
    /// A whole block, not decoded: the caller's `whole` predicate accepted its time
    /// span. All its entries lie in `[min_ts, max_ts]` inside the read range.
    Block {
        /// Oldest timestamp of the block.
        min_ts: i64,
        /// Newest timestamp of the block.
        max_ts: i64,
        /// Entries of the block.
        entries: u32,
        /// Sum of the block's line lengths.
        raw_bytes: u64,
    },
}

/// Timestamps and line lengths of one stream: `Result<(ts, line_len)>` one at a time,
/// or a block at a time with [`SizeIter::next_batch`].
#[derive(Debug)]
pub struct SizeIter {
    inner: SizeInner,
    /// Column buffers of the last finished source, for the next one.
    spare: (Vec<i64>, Vec<u32>),
    /// Reused for runs that are not slices of a decoded block.
    scratch_ts: Vec<i64>,
    scratch_lens: Vec<u32>,
}

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
        /// Stats of the sources done and the chunks referenced.
        stats: ReadStats,
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
    stats: ReadStats,
}

impl SizeCursor {
    fn new(src: Source, start: i64, end: i64, dir: Direction) -> SizeCursor {
        let mut blocks: Vec<BlockMeta> = src
            .blocks()
            .iter()
            .filter(|b| b.min_ts < end && b.max_ts >= start)
            .cloned()
            .collect();
        if dir == Direction::Backward {
            blocks.reverse();
        }
        SizeCursor {
            src,
            blocks: blocks.into_iter(),
            ts: Vec::new(),
            lens: Vec::new(),
            range: 0..0,
            head_started: false,
            stats: ReadStats::default(),
        }
    }

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
            if !self.load(start, end, &mut |_, _| false)? {
                return Ok(None);
            }
        }
    }

    /// Moves to the next block (or the head buffer), leaving its entries in the range
    /// in `range`; `Some(block)` instead when `whole` accepts a block lying inside the
    /// range (nothing decoded). False when the source is exhausted.
    fn load(
        &mut self,
        start: i64,
        end: i64,
        whole: &mut dyn FnMut(i64, i64) -> bool,
    ) -> Result<bool> {
        self.load_or_whole(start, end, whole).map(|r| r.is_some())
    }

    fn load_or_whole(
        &mut self,
        start: i64,
        end: i64,
        whole: &mut dyn FnMut(i64, i64) -> bool,
    ) -> Result<Option<Option<BlockMeta>>> {
        if let Source::Head(b) = &self.src {
            if self.head_started {
                return Ok(None);
            }
            self.head_started = true;
            self.range = b.range(start, end);
            self.stats.head_entries += self.range.len() as u64;
            return Ok(Some(None));
        }
        let Some(b) = self.blocks.next() else {
            return Ok(None);
        };
        if self.stats.blocks_sizes_only + self.stats.blocks_from_metadata == 0 {
            self.stats.chunks_opened += 1;
        }
        self.stats.compressed_bytes += u64::from(b.len);
        if b.min_ts >= start && b.max_ts < end && whole(b.min_ts, b.max_ts) {
            self.stats.blocks_from_metadata += 1;
            self.range = 0..0;
            return Ok(Some(Some(b)));
        }
        self.src.decode_sizes(&b, &mut self.ts, &mut self.lens)?;
        self.stats.blocks_sizes_only += 1;
        self.range = ts_range(&self.ts, start, end);
        Ok(Some(None))
    }
}

impl SizeIter {
    fn new(inner: SizeInner) -> SizeIter {
        SizeIter {
            inner,
            spare: Default::default(),
            scratch_ts: Vec::new(),
            scratch_lens: Vec::new(),
        }
    }

    /// What this iterator has read so far.
    pub fn read_stats(&self) -> ReadStats {
        match &self.inner {
            SizeInner::Merged(it) => it.read_stats(),
            SizeInner::Sequential { current, stats, .. } => {
                let mut st = *stats;
                if let Some(c) = current {
                    st.add(&c.stats);
                }
                st
            }
        }
    }

    /// The next run of entries, a block at a time where the stream's sources do not
    /// overlap (a decoded block's columns are lent, not copied), in the iterator's
    /// direction. A block lying inside the read range for which `whole(min_ts, max_ts)`
    /// returns true is yielded as [`SizeBatch::Block`] without decoding it (only when no
    /// pending delete touches the stream). Never yields an empty run; `None` at the end.
    /// Do not mix with [`Iterator::next`] on the same iterator.
    ///
    /// ```
    /// use logjar::{Db, Direction, Entry, Labels, Options};
    /// use logjar::db::SizeBatch;
    /// use logjar::entry::StreamEntries;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let labels = Labels::new([("app", "api")]).unwrap();
    /// let entries = (0..10).map(|i| Entry::new(i, "x".repeat(i as usize))).collect();
    /// db.push("fake", &[StreamEntries { labels, entries }]).unwrap();
    /// db.flush().unwrap();
    /// let snap = db.snapshot("fake").unwrap();
    ///
    /// let mut it = snap.sizes(0, 2, 100, Direction::Forward);
    /// let Some(Ok(SizeBatch::Entries { ts, lens })) = it.next_batch(&mut |_, _| false) else {
    ///     panic!()
    /// };
    /// assert_eq!((ts.len(), lens.iter().sum::<u32>()), (8, 44));
    /// // The block lies inside [0, 100): it may be counted from its metadata.
    /// let mut it = snap.sizes(0, 0, 100, Direction::Forward);
    /// let b = it.next_batch(&mut |lo, hi| hi - lo < 60).unwrap().unwrap();
    /// assert_eq!(b, SizeBatch::Block { min_ts: 0, max_ts: 9, entries: 10, raw_bytes: 45 });
    /// assert!(it.next_batch(&mut |_, _| true).is_none());
    /// ```
    pub fn next_batch(
        &mut self,
        whole: &mut dyn FnMut(i64, i64) -> bool,
    ) -> Option<Result<SizeBatch<'_>>> {
        const MERGED_BATCH: usize = 1024;
        match &mut self.inner {
            SizeInner::Merged(it) => {
                self.scratch_ts.clear();
                self.scratch_lens.clear();
                for r in it.by_ref() {
                    match r {
                        Ok(e) => {
                            self.scratch_ts.push(e.ts);
                            self.scratch_lens.push(e.line.len() as u32);
                        }
                        Err(e) => return Some(Err(e)),
                    }
                    if self.scratch_ts.len() >= MERGED_BATCH {
                        break;
                    }
                }
                if self.scratch_ts.is_empty() {
                    return None;
                }
                Some(Ok(SizeBatch::Entries {
                    ts: &self.scratch_ts,
                    lens: &self.scratch_lens,
                }))
            }
            SizeInner::Sequential {
                sources,
                current,
                start,
                end,
                dir,
                deletes,
                stats,
            } => loop {
                if current.is_none() {
                    let src = sources.next()?;
                    let mut c = SizeCursor::new(src, *start, *end, *dir);
                    (c.ts, c.lens) = std::mem::take(&mut self.spare);
                    *current = Some(c);
                }
                let cur = current.as_mut()?;
                let mut no_whole = |_: i64, _: i64| false;
                let pred: &mut dyn FnMut(i64, i64) -> bool = if deletes.is_some() {
                    &mut no_whole
                } else {
                    &mut *whole
                };
                match cur.load_or_whole(*start, *end, pred) {
                    Err(e) => {
                        stats.add(&cur.stats);
                        *sources = Vec::new().into_iter();
                        *current = None;
                        return Some(Err(e));
                    }
                    Ok(None) => {
                        stats.add(&cur.stats);
                        self.spare = (std::mem::take(&mut cur.ts), std::mem::take(&mut cur.lens));
                        *current = None;
                    }
                    Ok(Some(Some(b))) => {
                        return Some(Ok(SizeBatch::Block {
                            min_ts: b.min_ts,
                            max_ts: b.max_ts,
                            entries: b.entries,
                            raw_bytes: b.raw_bytes,
                        }))
                    }
                    Ok(Some(None)) => {
                        let range = cur.range.clone();
                        if range.is_empty() {
                            continue;
                        }
                        let head = matches!(cur.src, Source::Head(_));
                        if !head && *dir == Direction::Forward && deletes.is_none() {
                            let cur = current.as_ref()?;
                            return Some(Ok(SizeBatch::Entries {
                                ts: &cur.ts[range.clone()],
                                lens: &cur.lens[range],
                            }));
                        }
                        // Reversed, filtered or head entries: copy the run.
                        self.scratch_ts.clear();
                        self.scratch_lens.clear();
                        let fwd = *dir == Direction::Forward;
                        let idx: Box<dyn Iterator<Item = usize>> = if fwd {
                            Box::new(range)
                        } else {
                            Box::new(range.rev())
                        };
                        for i in idx {
                            let (ts, len) = match &cur.src {
                                Source::Head(b) => b.size_at(i),
                                _ => (cur.ts[i], cur.lens[i]),
                            };
                            if deletes.as_ref().is_some_and(|d| d.deleted_ts(ts)) {
                                continue;
                            }
                            self.scratch_ts.push(ts);
                            self.scratch_lens.push(len);
                        }
                        cur.range = 0..0;
                        if self.scratch_ts.is_empty() {
                            continue;
                        }
                        return Some(Ok(SizeBatch::Entries {
                            ts: &self.scratch_ts,
                            lens: &self.scratch_lens,
                        }));
                    }
                }
            },
        }
    }
}

impl Iterator for SizeIter {
    type Item = Result<(i64, u32)>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            SizeInner::Merged(it) => it.next().map(|r| r.map(|e| (e.ts, e.line.len() as u32))),
            SizeInner::Sequential {
                sources,
                current,
                start,
                end,
                dir,
                deletes,
                stats,
            } => loop {
                if current.is_none() {
                    let src = sources.next()?;
                    *current = Some(SizeCursor::new(src, *start, *end, *dir));
                }
                let cur = current.as_mut()?;
                match cur.next(*start, *end, *dir) {
                    Ok(Some(x)) if deletes.as_ref().is_some_and(|d| d.deleted_ts(x.0)) => {}
                    Ok(Some(x)) => return Some(Ok(x)),
                    Ok(None) => {
                        stats.add(&cur.stats);
                        *current = None;
                    }
                    Err(e) => {
                        // Stop after an error.
                        stats.add(&cur.stats);
                        *sources = Vec::new().into_iter();
                        *current = None;
                        return Some(Err(e));
                    }
                }
            },
        }
    }
}

/// One stream's entries a block at a time, from [`Snapshot::stream_blocks`]: each
/// [`EntryBatch`] borrows a decoded block (no line copied, no [`Entry`] built) where
/// the stream's sources do not overlap in time, the usual case; otherwise (or when a
/// pending delete touches the stream) runs of merged, deduplicated entries.
///
/// Use: `while it.advance()? { let batch = it.batch(); … }`.
#[derive(Debug)]
pub struct BlockIter {
    inner: BlockInner,
    /// The entries of the current run when they are not a decoded block's.
    owned: Vec<Entry>,
    /// Where the current run is.
    at: BatchAt,
    failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchAt {
    None,
    Cursor,
    Owned,
}

#[derive(Debug)]
enum BlockInner {
    Sequential {
        sources: std::vec::IntoIter<Source>,
        current: Option<Box<Cursor>>,
        start: i64,
        end: i64,
        dir: Direction,
        stats: ReadStats,
        /// The decode buffers of the last finished source, for the next one.
        spare: DecodedBlock,
    },
    Merged(StreamIter),
}

/// Most entries of one run of a [`BlockIter`] that does not lend blocks.
const OWNED_RUN: usize = 1024;

impl BlockIter {
    /// Moves to the next non-empty run; false at the end. After an error, returns false.
    pub fn advance(&mut self) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        let r = self.step();
        if r.is_err() {
            self.failed = true;
            self.at = BatchAt::None;
        }
        r
    }

    fn step(&mut self) -> Result<bool> {
        self.at = BatchAt::None;
        match &mut self.inner {
            BlockInner::Merged(it) => {
                self.owned.clear();
                for e in it.by_ref() {
                    self.owned.push(e?);
                    if self.owned.len() >= OWNED_RUN {
                        break;
                    }
                }
                if self.owned.is_empty() {
                    return Ok(false);
                }
                self.at = BatchAt::Owned;
                Ok(true)
            }
            BlockInner::Sequential {
                sources,
                current,
                start,
                end,
                dir,
                stats,
                spare,
            } => loop {
                if current.is_none() {
                    let Some(src) = sources.next() else {
                        return Ok(false);
                    };
                    let mut c = Cursor::new(src, *start, *end, *dir);
                    c.stats.chunks_referenced = 0;
                    c.block = std::mem::take(spare);
                    *current = Some(Box::new(c));
                }
                let Some(cur) = current.as_mut() else {
                    return Ok(false);
                };
                if let Source::Head(buf) = &cur.src {
                    if cur.head_started {
                        stats.add(&cur.stats);
                        *current = None;
                        continue;
                    }
                    cur.head_started = true;
                    let range = buf.range(*start, *end);
                    cur.stats.head_entries += range.len() as u64;
                    self.owned.clear();
                    match dir {
                        Direction::Forward => self.owned.extend(range.map(|i| buf.entry(i))),
                        Direction::Backward => self.owned.extend(range.rev().map(|i| buf.entry(i))),
                    }
                    if self.owned.is_empty() {
                        continue;
                    }
                    self.at = BatchAt::Owned;
                    return Ok(true);
                }
                let loaded = cur.load_block();
                match loaded {
                    Err(e) => {
                        stats.add(&cur.stats);
                        *current = None;
                        *sources = Vec::new().into_iter();
                        return Err(e);
                    }
                    Ok(false) => {
                        stats.add(&cur.stats);
                        // Keep the decode buffers for the next source.
                        *spare = std::mem::take(&mut cur.block);
                        *current = None;
                    }
                    Ok(true) if cur.range.is_empty() => {}
                    Ok(true) => {
                        self.at = BatchAt::Cursor;
                        return Ok(true);
                    }
                }
            },
        }
    }

    /// The current run (empty before the first [`advance`](Self::advance) and after
    /// the end).
    pub fn batch(&self) -> EntryBatch<'_> {
        match (self.at, &self.inner) {
            (
                BatchAt::Cursor,
                BlockInner::Sequential {
                    current: Some(c), ..
                },
            ) => EntryBatch {
                src: BatchSrc::Block(&c.block),
                range: c.range.clone(),
                dir: c.dir,
            },
            (BatchAt::Owned, _) => EntryBatch {
                src: BatchSrc::Owned(&self.owned),
                range: 0..self.owned.len(),
                dir: Direction::Forward,
            },
            _ => EntryBatch {
                src: BatchSrc::Owned(&[]),
                range: 0..0,
                dir: Direction::Forward,
            },
        }
    }

    /// What this iterator has read so far.
    pub fn read_stats(&self) -> ReadStats {
        match &self.inner {
            BlockInner::Merged(it) => it.read_stats(),
            BlockInner::Sequential { current, stats, .. } => {
                let mut st = *stats;
                if let Some(c) = current {
                    st.add(&c.stats);
                }
                st
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum BatchSrc<'a> {
    Block(&'a DecodedBlock),
    Owned(&'a [Entry]),
}

/// A run of one stream's entries, in the read direction: index 0 is the first entry to
/// return. Borrowed from a [`BlockIter`].
#[derive(Debug, Clone)]
pub struct EntryBatch<'a> {
    src: BatchSrc<'a>,
    /// The entries' indexes in `src`, ascending.
    range: std::ops::Range<usize>,
    dir: Direction,
}

impl<'a> EntryBatch<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.range.len()
    }

    /// True when the run holds no entry.
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    #[inline]
    fn at(&self, i: usize) -> usize {
        match self.dir {
            Direction::Forward => self.range.start + i,
            Direction::Backward => self.range.end - 1 - i,
        }
    }

    /// Timestamp of entry `i`. Panics if `i >= len()`.
    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        assert!(i < self.len(), "entry {i} out of range");
        match self.src {
            BatchSrc::Block(b) => b.ts(self.at(i)),
            BatchSrc::Owned(e) => e[self.at(i)].ts,
        }
    }

    /// Line of entry `i`. Panics if `i >= len()`.
    #[inline]
    pub fn line(&self, i: usize) -> &'a [u8] {
        assert!(i < self.len(), "entry {i} out of range");
        match self.src {
            BatchSrc::Block(b) => b.line(self.at(i)),
            BatchSrc::Owned(e) => &e[self.at(i)].line,
        }
    }

    /// Sum of the run's line lengths.
    pub fn line_bytes(&self) -> u64 {
        self.line_bytes_of(0, self.len())
    }

    /// Indexes in the source of run entries `from..to` (ascending).
    fn source_range(&self, from: usize, to: usize) -> std::ops::Range<usize> {
        assert!(
            from <= to && to <= self.len(),
            "entries {from}..{to} out of range"
        );
        match self.dir {
            Direction::Forward => self.range.start + from..self.range.start + to,
            Direction::Backward => self.range.end - to..self.range.end - from,
        }
    }

    /// Sum of the line lengths of run entries `from..to`. Panics if `to > len()`.
    pub fn line_bytes_of(&self, from: usize, to: usize) -> u64 {
        let r = self.source_range(from, to);
        match self.src {
            BatchSrc::Block(b) => {
                let o = b.offsets();
                if r.is_empty() {
                    0
                } else {
                    u64::from(o[r.end] - o[r.start])
                }
            }
            BatchSrc::Owned(e) => e[r].iter().map(|e| e.line.len() as u64).sum(),
        }
    }

    /// Sum of the structured-metadata name and value lengths of run entries
    /// `from..to`. Panics if `to > len()`.
    pub fn metadata_bytes_of(&self, from: usize, to: usize) -> u64 {
        let r = self.source_range(from, to);
        let pair = |(k, v): (&str, &str)| (k.len() + v.len()) as u64;
        match self.src {
            BatchSrc::Block(b) if !b.has_metadata() => 0,
            BatchSrc::Block(b) => r.map(|i| b.metadata(i).map(pair).sum::<u64>()).sum(),
            BatchSrc::Owned(e) => e[r]
                .iter()
                .flat_map(|e| e.metadata.iter())
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum(),
        }
    }

    /// True when some entry of the run may have structured metadata.
    pub fn has_metadata(&self) -> bool {
        match self.src {
            BatchSrc::Block(b) => b.has_metadata(),
            BatchSrc::Owned(e) => e[self.range.clone()].iter().any(|e| !e.metadata.is_empty()),
        }
    }

    /// Structured metadata of entry `i` as owned pairs, borrowed from the run or built
    /// in `scratch`. Panics if `i >= len()`.
    pub fn metadata<'s>(
        &'s self,
        i: usize,
        scratch: &'s mut Vec<(String, String)>,
    ) -> &'s [(String, String)] {
        assert!(i < self.len(), "entry {i} out of range");
        match self.src {
            BatchSrc::Owned(e) => &e[self.at(i)].metadata,
            BatchSrc::Block(b) => {
                let md = b.metadata(self.at(i));
                if md.len() == 0 {
                    return &[];
                }
                scratch.clear();
                scratch.extend(md.map(|(k, v)| (k.to_owned(), v.to_owned())));
                scratch
            }
        }
    }

    /// Indexes (in run order, ascending) of the entries whose line may contain the
    /// `finder`'s needle: every entry whose line contains it is listed; a few that do not
    /// may be too (a match straddling two lines). Searches a decoded block's lines in one
    /// pass; appends to `out` (cleared first).
    pub fn lines_containing(&self, finder: &memchr::memmem::Finder<'_>, out: &mut Vec<u32>) {
        self.pick_lines(out, |h| finder.find(h));
    }

    /// Indexes (in run order, ascending) of the entries whose line may match `re`: every
    /// entry whose line matches is listed; a few that do not may be too (a match
    /// straddling two lines). `re` must be
    /// [`block_searchable`](logjar_logql::eval::linefilter::block_searchable), or lines
    /// it matches may be missed. Searches a decoded block's lines in one pass, stopping
    /// each search at the first position where a match ends; appends to `out` (cleared
    /// first).
    pub fn lines_matching(&self, re: &regex::bytes::Regex, out: &mut Vec<u32>) {
        self.pick_lines(out, |h| re.shortest_match(h).map(|end| end - 1));
    }

    /// The lines where `search` finds something (a superset: see below). `search(haystack)` returns the offset
    /// of a byte of the earliest match found (a match is never empty), or `None`.
    /// The line holding that byte is picked and the search goes on at the next line, so
    /// a line with a match of its own is picked even when an earlier match straddling
    /// lines was found first. Once most of the lines searched hold a match, the rest of
    /// the run is picked without searching.
    fn pick_lines(&self, out: &mut Vec<u32>, search: impl Fn(&[u8]) -> Option<usize>) {
        out.clear();
        match self.src {
            BatchSrc::Owned(e) => {
                for i in 0..self.len() {
                    if search(&e[self.at(i)].line).is_some() {
                        out.push(i as u32);
                    }
                }
            }
            BatchSrc::Block(b) => {
                let offs = b.offsets();
                let buf = b.lines_buf();
                let (lo, hi) = (self.range.start, self.range.end);
                let mut pos = offs[lo] as usize;
                let stop = offs[hi] as usize;
                let mut line = lo;
                while pos < stop {
                    let Some(hit) = search(&buf[pos..stop]) else {
                        break;
                    };
                    let at = pos + hit;
                    // The line holding byte `at`: the last with offset <= at.
                    line += offs[line..=hi].partition_point(|&o| o as usize <= at) - 1;
                    out.push(line as u32);
                    line += 1;
                    pos = offs[line] as usize;
                    if out.len() >= DENSE_AFTER && out.len() * 4 > (line - lo) * 3 {
                        // Most lines hit: searching on costs more than it skips. Pick
                        // the rest; the caller's filters test every picked line anyway.
                        out.extend(line as u32..hi as u32);
                        break;
                    }
                }
                if self.dir == Direction::Backward {
                    let n = self.len() as u32;
                    for i in out.iter_mut() {
                        *i = n - 1 - (*i - lo as u32);
                    }
                    out.reverse();
                } else {
                    for i in out.iter_mut() {
                        *i -= lo as u32;
                    }
                }
            }
        }
    }
}

/// Lines picked by a search before [`EntryBatch::pick_lines`] may decide that most lines
/// hit and stop searching.
const DENSE_AFTER: usize = 32;

impl Snapshot {
    /// The entries of stream `id` in `[start, end)` as [`Snapshot::stream`] returns
    /// them, a block at a time (see [`BlockIter`]).
    ///
    /// ```
    /// use logjar::{Db, Direction, Entry, Labels, Options};
    /// use logjar::entry::StreamEntries;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let labels = Labels::new([("app", "api")]).unwrap();
    /// let entries = (0..5).map(|i| Entry::new(i, format!("line {i}"))).collect();
    /// db.push("fake", &[StreamEntries { labels: labels.clone(), entries }]).unwrap();
    /// db.flush().unwrap();
    /// db.push("fake", &[StreamEntries { labels, entries: vec![Entry::new(9, "head")] }])
    ///     .unwrap();
    /// let snap = db.snapshot("fake").unwrap();
    ///
    /// let mut it = snap.stream_blocks(0, 1, 100, Direction::Backward);
    /// let mut lines = Vec::new();
    /// while it.advance().unwrap() {
    ///     let b = it.batch();
    ///     lines.extend((0..b.len()).map(|i| String::from_utf8_lossy(b.line(i)).into_owned()));
    /// }
    /// assert_eq!(lines, ["head", "line 4", "line 3", "line 2", "line 1"]);
    /// ```
    pub fn stream_blocks(&self, id: u32, start: i64, end: i64, dir: Direction) -> BlockIter {
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
        let mut spans: Vec<(i64, i64)> = sources.iter().map(Source::bounds).collect();
        spans.sort_unstable();
        let disjoint = spans.windows(2).all(|w| w[0].1 < w[1].0);
        let inner = if disjoint && deletes.is_none() {
            let stats = ReadStats {
                chunks_referenced: sources
                    .iter()
                    .filter(|s| !matches!(s, Source::Head(_)))
                    .count() as u64,
                ..ReadStats::default()
            };
            let mut sources = sources;
            sources.sort_by_key(|s| s.bounds().0);
            if dir == Direction::Backward {
                sources.reverse();
            }
            BlockInner::Sequential {
                sources: sources.into_iter(),
                current: None,
                start,
                end,
                dir,
                stats,
                spare: DecodedBlock::new(),
            }
        } else {
            let mut it = StreamIter::new(sources, start, end, dir);
            it.deletes = deletes;
            BlockInner::Merged(it)
        };
        BlockIter {
            inner,
            owned: Vec::new(),
            at: BatchAt::None,
            failed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::StreamEntries;
    use crate::{Db, Options};
    use proptest::prelude::*;

    type Row = (i64, Vec<u8>, Vec<(String, String)>);

    fn by_blocks(snap: &Snapshot, id: u32, start: i64, end: i64, dir: Direction) -> Vec<Row> {
        let mut it = snap.stream_blocks(id, start, end, dir);
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        while it.advance().unwrap() {
            let b = it.batch();
            assert!(!b.is_empty());
            let mut bytes = 0;
            for i in 0..b.len() {
                bytes += b.line(i).len() as u64;
                out.push((
                    b.ts(i),
                    b.line(i).to_vec(),
                    b.metadata(i, &mut scratch).to_vec(),
                ));
            }
            assert_eq!(b.line_bytes(), bytes);
            let md: u64 = (0..b.len())
                .flat_map(|i| b.metadata(i, &mut scratch).to_vec())
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum();
            assert_eq!(b.metadata_bytes_of(0, b.len()), md);
            // The literal search finds every line holding the needle.
            let finder = memchr::memmem::Finder::new(b"1");
            let mut hits = Vec::new();
            b.lines_containing(&finder, &mut hits);
            let want: Vec<u32> = (0..b.len() as u32)
                .filter(|&i| b.line(i as usize).contains(&b'1'))
                .collect();
            assert!(hits.windows(2).all(|w| w[0] < w[1]), "{hits:?}");
            assert!(want.iter().all(|i| hits.contains(i)), "{want:?} ⊄ {hits:?}");
            // So does the regex search, for a regex whose matches can straddle lines.
            for re in [r"1.{0,9}2", r"(?i)3|x4", r"[0-9]{2}"] {
                let re = regex::bytes::Regex::new(re).unwrap();
                assert!(logjar_logql::eval::linefilter::block_searchable(&re));
                b.lines_matching(&re, &mut hits);
                let want: Vec<u32> = (0..b.len() as u32)
                    .filter(|&i| re.is_match(b.line(i as usize)))
                    .collect();
                assert!(hits.windows(2).all(|w| w[0] < w[1]), "{hits:?}");
                assert!(
                    want.iter().all(|i| hits.contains(i)),
                    "{re}: {want:?} ⊄ {hits:?}"
                );
            }
        }
        assert!(!it.advance().unwrap());
        out
    }

    fn by_entries(snap: &Snapshot, id: u32, start: i64, end: i64, dir: Direction) -> Vec<Row> {
        snap.stream(id, start, end, dir)
            .map(|r| {
                let e = r.unwrap();
                (e.ts, e.line.to_vec(), e.metadata)
            })
            .collect()
    }

    fn size_batches(
        snap: &Snapshot,
        id: u32,
        (start, end): (i64, i64),
        dir: Direction,
        whole_below: i64,
    ) -> (Vec<(i64, u32)>, u64, u64) {
        let mut it = snap.sizes(id, start, end, dir);
        let (mut out, mut whole_n, mut whole_bytes) = (Vec::new(), 0, 0);
        let mut pred = |lo: i64, hi: i64| hi - lo < whole_below;
        while let Some(b) = it.next_batch(&mut pred) {
            match b.unwrap() {
                SizeBatch::Entries { ts, lens } => {
                    assert!(!ts.is_empty() && ts.len() == lens.len());
                    out.extend(ts.iter().copied().zip(lens.iter().copied()));
                }
                SizeBatch::Block {
                    min_ts,
                    max_ts,
                    entries,
                    raw_bytes,
                } => {
                    assert!(min_ts >= start && max_ts < end && max_ts - min_ts < whole_below);
                    whole_n += u64::from(entries);
                    whole_bytes += raw_bytes;
                }
            }
        }
        (out, whole_n, whole_bytes)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Block runs and size batches hold exactly what the entry iterator returns,
        /// whatever the sources: several chunks (overlapping or not), frozen chunks, the
        /// head buffer, duplicates, metadata and pending deletes.
        #[test]
        fn block_runs_and_size_batches_match_the_entry_iterator(
            pushes in proptest::collection::vec(
                proptest::collection::vec((0i64..300, 0u8..30, 0u8..4), 1..40), 1..5),
            flushes in proptest::collection::vec(any::<bool>(), 5),
            (start, len) in (-10i64..300, 0i64..320),
            delete in proptest::option::of((0i64..300, 1i64..60, any::<bool>())),
            whole_below in 0i64..200,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let opts = Options::default().block_target_bytes(64);
            let db = Db::open(dir.path(), opts).unwrap();
            let labels = crate::Labels::new([("app", "a")]).unwrap();
            for (k, p) in pushes.iter().enumerate() {
                let entries = p
                    .iter()
                    .map(|&(ts, v, m)| {
                        let mut e = Entry::new(ts, format!("line {v}"));
                        if m == 0 {
                            e.metadata = vec![("trace".into(), format!("t{v}"))];
                        }
                        e
                    })
                    .collect();
                db.push("t", &[StreamEntries { labels: labels.clone(), entries }]).unwrap();
                if flushes[k] {
                    db.flush().unwrap();
                }
            }
            if let Some((lo, n, lined)) = delete {
                let q = if lined { r#"{app="a"} |= "line 1""# } else { r#"{app="a"}"# };
                db.delete("t", q, lo, lo + n).unwrap();
            }
            let snap = db.snapshot("t").unwrap();
            let end = start + len;
            for d in [Direction::Forward, Direction::Backward] {
                let want = by_entries(&snap, 0, start, end, d);
                prop_assert_eq!(by_blocks(&snap, 0, start, end, d), want.clone());
                let sizes: Vec<(i64, u32)> =
                    want.iter().map(|r| (r.0, r.1.len() as u32)).collect();
                let (runs, whole_n, whole_bytes) =
                    size_batches(&snap, 0, (start, end), d, whole_below);
                // Whole blocks stand for entries missing from the runs.
                prop_assert_eq!(runs.len() as u64 + whole_n, sizes.len() as u64);
                let run_bytes: u64 = runs.iter().map(|r| u64::from(r.1)).sum();
                let all_bytes: u64 = sizes.iter().map(|r| u64::from(r.1)).sum();
                prop_assert_eq!(run_bytes + whole_bytes, all_bytes);
                if whole_n == 0 {
                    prop_assert_eq!(runs, sizes.clone());
                }
                let one_by_one: Vec<(i64, u32)> =
                    snap.sizes(0, start, end, d).map(|r| r.unwrap()).collect();
                prop_assert_eq!(one_by_one, sizes);
            }
        }
    }

    #[test]
    fn read_stats_count_what_was_touched() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default().block_target_bytes(64)).unwrap();
        let labels = crate::Labels::new([("app", "a")]).unwrap();
        for round in 0..3i64 {
            let entries = (0..20)
                .map(|i| Entry::new(round * 100 + i, format!("entry number {i}")))
                .collect();
            db.push(
                "t",
                &[StreamEntries {
                    labels: labels.clone(),
                    entries,
                }],
            )
            .unwrap();
            if round < 2 {
                db.flush().unwrap();
            }
        }
        let snap = db.snapshot("t").unwrap();
        // Chunks at [0, 19] and [100, 119]; the head holds [200, 219].
        let mut it = snap.stream_blocks(0, 0, 150, Direction::Forward);
        while it.advance().unwrap() {}
        let st = it.read_stats();
        // Every chunk overlapping [0, 150) was opened (how many the flushes cut depends
        // on the chunk options: at least one per flush).
        let chunks = st.chunks_referenced;
        assert!(chunks >= 2 && st.chunks_opened == chunks, "{st:?}");
        assert!(st.blocks_decoded >= 4, "{st:?}");
        assert_eq!(st.head_entries, 0);
        let lines: u64 = (0..20)
            .map(|i| format!("entry number {i}").len() as u64)
            .sum();
        assert_eq!(st.decompressed_bytes, 2 * lines);
        // Stopped early: only the newest block was read.
        let mut it = snap.stream_blocks(0, 0, 150, Direction::Backward);
        assert!(it.advance().unwrap());
        let st = it.read_stats();
        assert_eq!(
            (st.chunks_referenced, st.chunks_opened, st.blocks_decoded),
            (chunks, 1, 1)
        );
        // The unflushed round is in the head (in-memory chunks and buffer).
        let mut it = snap.stream_blocks(0, 200, 1000, Direction::Forward);
        let mut n = 0;
        while it.advance().unwrap() {
            n += it.batch().len();
        }
        assert_eq!(n, 20);
        let st = it.read_stats();
        assert!(st.head_entries > 0 || st.blocks_decoded > 0, "{st:?}");
        // Sizes: whole blocks are counted from metadata, the others sizes-only.
        let mut it = snap.sizes(0, 0, 150, Direction::Forward);
        let mut whole = |lo: i64, _hi: i64| lo < 50;
        while it.next_batch(&mut whole).is_some() {}
        let st = it.read_stats();
        assert_eq!(st.blocks_decoded, 0);
        assert!(
            st.blocks_from_metadata > 0 && st.blocks_sizes_only > 0,
            "{st:?}"
        );
        assert_eq!(st.chunks_opened, chunks);
    }
}
