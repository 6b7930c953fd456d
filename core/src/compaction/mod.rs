//! Compaction: rewriting a stream's chunks from several segments into few target-size
//! chunks, dropping expired and deleted entries and exact duplicates.
//!
//! The planning (which segments to drop, rewrite or merge) and the manifest switch live
//! in the engine (`db/compact.rs`); this module holds the per-stream rewrite and the
//! [`CompactionReport`]. See `docs/ARCHITECTURE.md` ("Compaction").
//!
//! Per stream, the input chunks (in write order) are grouped into clusters of chunks
//! that overlap in time. A chunk alone in its cluster is read block by block: a block
//! that nothing removes from and that is at least half the block target is **copied
//! verbatim** (no decompression, no compression — this is what makes compaction of
//! already large blocks run at disk speed); other blocks are decoded and their entries
//! re-encoded into new blocks. A cluster of overlapping chunks is merged entry by entry
//! with a heap, keeping the first-written copy of an exact duplicate. Output chunks are
//! cut at [`Options::compaction_chunk_bytes`](crate::Options::compaction_chunk_bytes)
//! raw bytes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::chunk::{BlockMeta, ChunkBuilder, DecodedBlock};
use crate::delete::StreamDeletes;
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::segment::{ChunkMeta, Segment, SegmentWriter};

/// What one compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompactionReport {
    /// Segment files before (all tenants).
    pub segments_before: u64,
    /// Segment files after.
    pub segments_after: u64,
    /// Bytes of segment files before.
    pub bytes_before: u64,
    /// Bytes of segment files after.
    pub bytes_after: u64,
    /// Entries removed because their retention period had passed.
    pub entries_expired: u64,
    /// Entries removed by delete requests.
    pub entries_deleted: u64,
    /// Delete requests marked applied.
    pub deletes_applied: u64,
    /// Wall-clock time of the compaction.
    pub duration_ms: u64,
    /// Segments dropped whole (everything in them had expired).
    pub segments_dropped: u64,
    /// Segments read and rewritten.
    pub segments_rewritten: u64,
    /// New segment files written.
    pub segments_written: u64,
    /// Exact duplicates removed while merging.
    pub entries_deduplicated: u64,
    /// Raw line bytes of the entries written to new segments.
    pub raw_bytes_written: u64,
    /// Blocks copied without re-encoding.
    pub blocks_copied: u64,
    /// Blocks decoded and re-encoded.
    pub blocks_reencoded: u64,
}

impl CompactionReport {
    /// Adds another report's counts (not its durations).
    pub(crate) fn add(&mut self, o: &CompactionReport) {
        self.entries_expired += o.entries_expired;
        self.entries_deleted += o.entries_deleted;
        self.segments_dropped += o.segments_dropped;
        self.segments_rewritten += o.segments_rewritten;
        self.segments_written += o.segments_written;
        self.entries_deduplicated += o.entries_deduplicated;
        self.raw_bytes_written += o.raw_bytes_written;
        self.blocks_copied += o.blocks_copied;
        self.blocks_reencoded += o.blocks_reencoded;
    }
}

/// Keeps compaction under a byte rate (0 = unlimited) and stops it on request.
#[derive(Debug)]
pub(crate) struct Pace<'a> {
    rate: u64,
    start: Instant,
    bytes: u64,
    stop: &'a AtomicBool,
}

impl<'a> Pace<'a> {
    pub fn new(rate: u64, stop: &'a AtomicBool) -> Self {
        Pace {
            rate,
            start: Instant::now(),
            bytes: 0,
            stop,
        }
    }

    /// Accounts `n` bytes read; sleeps while ahead of the rate; fails once stopped.
    pub fn read(&mut self, n: u64) -> Result<()> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Error::Closed(Some(
                    "compaction stopped: the database is closing".into(),
                )));
            }
            if self.rate == 0 {
                return Ok(());
            }
            let due = Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
            let elapsed = self.start.elapsed();
            if elapsed >= due {
                break;
            }
            std::thread::sleep((due - elapsed).min(Duration::from_millis(50)));
        }
        self.bytes += n;
        Ok(())
    }
}

/// Settings and filters of one stream's rewrite.
#[derive(Debug)]
pub(crate) struct StreamRewrite<'p, 'a> {
    /// Entries with `ts < cutoff` have expired.
    pub cutoff: i64,
    /// Pending delete requests (due ones) matching the stream.
    pub deletes: Option<StreamDeletes>,
    pub block_target: usize,
    pub zstd_level: i32,
    pub chunk_target: u64,
    pub pace: &'p mut Pace<'a>,
    pub report: &'p mut CompactionReport,
}

/// One input chunk: its segment, its meta and its write rank.
pub(crate) type InputChunk<'s> = (&'s Segment, &'s ChunkMeta);

struct Out<'w> {
    w: &'w mut SegmentWriter,
    id: u32,
    labels: &'w Labels,
    b: ChunkBuilder,
    block_target: usize,
    zstd_level: i32,
    chunk_target: u64,
}

impl Out<'_> {
    fn maybe_cut(&mut self) -> Result<()> {
        if self.b.raw_bytes() >= self.chunk_target {
            self.finish_chunk()?;
        }
        Ok(())
    }

    fn finish_chunk(&mut self) -> Result<()> {
        let b = std::mem::replace(
            &mut self.b,
            ChunkBuilder::new(self.block_target, self.zstd_level),
        );
        if !b.is_empty() {
            let c = b.finish();
            self.w.add_chunk(self.id, self.labels, &c)?;
        }
        Ok(())
    }
}

/// Rewrites one stream's `chunks` (in write order) into `w`.
pub(crate) fn rewrite_stream(
    w: &mut SegmentWriter,
    id: u32,
    labels: &Labels,
    chunks: &[InputChunk<'_>],
    rw: &mut StreamRewrite<'_, '_>,
) -> Result<()> {
    let mut out = Out {
        w,
        id,
        labels,
        b: ChunkBuilder::new(rw.block_target, rw.zstd_level),
        block_target: rw.block_target,
        zstd_level: rw.zstd_level,
        chunk_target: rw.chunk_target,
    };
    // Drop whole chunks that are expired or deleted, then cluster by time overlap.
    let mut live: Vec<(u32, InputChunk<'_>)> = Vec::with_capacity(chunks.len());
    for (rank, &(seg, c)) in chunks.iter().enumerate() {
        if c.entries == 0 {
            continue;
        }
        if c.max_ts < rw.cutoff {
            rw.report.entries_expired += c.entries;
        } else if rw
            .deletes
            .as_ref()
            .is_some_and(|d| d.covers(c.min_ts, c.max_ts))
            && c.min_ts >= rw.cutoff
        {
            rw.report.entries_deleted += c.entries;
        } else {
            live.push((rank as u32, (seg, c)));
        }
    }
    live.sort_by_key(|(rank, (_, c))| (c.min_ts, *rank));
    let mut i = 0;
    while i < live.len() {
        let mut j = i + 1;
        let mut hi = live[i].1 .1.max_ts;
        while j < live.len() && live[j].1 .1.min_ts <= hi {
            hi = hi.max(live[j].1 .1.max_ts);
            j += 1;
        }
        if j == i + 1 {
            copy_chunk(&mut out, live[i].1, rw)?;
        } else {
            let mut cluster = live[i..j].to_vec();
            cluster.sort_by_key(|(rank, _)| *rank);
            merge_chunks(&mut out, &cluster, rw)?;
        }
        i = j;
    }
    out.finish_chunk()
}

/// Keeps entry `(ts, line, metadata)`? Counts what it drops.
fn keep<'a>(
    rw: &mut StreamRewrite<'_, '_>,
    ts: i64,
    line: &[u8],
    meta: impl Iterator<Item = (&'a str, &'a str)>,
) -> bool {
    if ts < rw.cutoff {
        rw.report.entries_expired += 1;
        return false;
    }
    if let Some(d) = &mut rw.deletes {
        if d.deleted_pairs(ts, line, meta) {
            rw.report.entries_deleted += 1;
            return false;
        }
    }
    true
}

/// A chunk that overlaps no other: copy its clean full blocks, re-encode the rest.
fn copy_chunk(
    out: &mut Out<'_>,
    (seg, c): InputChunk<'_>,
    rw: &mut StreamRewrite<'_, '_>,
) -> Result<()> {
    let mut block = DecodedBlock::new();
    for b in &c.blocks {
        rw.pace.read(u64::from(b.len))?;
        if b.max_ts < rw.cutoff {
            rw.report.entries_expired += u64::from(b.entries);
            continue;
        }
        if b.min_ts >= rw.cutoff
            && rw
                .deletes
                .as_ref()
                .is_some_and(|d| d.covers(b.min_ts, b.max_ts))
        {
            rw.report.entries_deleted += u64::from(b.entries);
            continue;
        }
        let clean = b.min_ts >= rw.cutoff
            && !rw
                .deletes
                .as_ref()
                .is_some_and(|d| d.overlaps(b.min_ts, b.max_ts));
        if clean && b.raw_bytes >= (rw.block_target / 2) as u64 {
            let bytes = verified_block(seg, b)?;
            out.b.append_block(bytes, *b);
            rw.report.blocks_copied += 1;
            rw.report.raw_bytes_written += b.raw_bytes;
            out.maybe_cut()?;
            continue;
        }
        seg.decode_block(b, &mut block)?;
        rw.report.blocks_reencoded += 1;
        for i in 0..block.len() {
            let (ts, line) = (block.ts(i), block.line(i));
            if keep(rw, ts, line, block.metadata(i)) {
                out.b.push_pairs(ts, line, block.metadata(i));
                rw.report.raw_bytes_written += line.len() as u64;
                out.maybe_cut()?;
            }
        }
    }
    Ok(())
}

/// The bytes of block `b`, its CRC verified.
fn verified_block<'s>(seg: &'s Segment, b: &BlockMeta) -> Result<&'s [u8]> {
    let bytes = seg.raw_block(b)?;
    let n = bytes.len().saturating_sub(4);
    if bytes.len() < 4 || crc32fast::hash(&bytes[..n]) != b.crc || bytes[n..] != b.crc.to_le_bytes()
    {
        return Err(Error::corrupt(seg.path(), b.offset, "block CRC mismatch"));
    }
    Ok(bytes)
}

/// Reads one chunk's entries block by block.
struct MCursor<'s> {
    rank: u32,
    seg: &'s Segment,
    blocks: &'s [BlockMeta],
    next_block: usize,
    block: DecodedBlock,
    i: usize,
}

impl MCursor<'_> {
    /// Makes `i` point at an entry, loading blocks; false when exhausted.
    fn fill(&mut self, rw: &mut StreamRewrite<'_, '_>) -> Result<bool> {
        while self.i >= self.block.len() {
            let Some(b) = self.blocks.get(self.next_block) else {
                return Ok(false);
            };
            self.next_block += 1;
            rw.pace.read(u64::from(b.len))?;
            if b.max_ts < rw.cutoff {
                rw.report.entries_expired += u64::from(b.entries);
                continue;
            }
            self.seg.decode_block(b, &mut self.block)?;
            rw.report.blocks_reencoded += 1;
            self.i = 0;
        }
        Ok(true)
    }

    fn key(&self) -> (i64, &[u8]) {
        (self.block.ts(self.i), self.block.line(self.i))
    }
}

fn before(c: &[MCursor<'_>], a: usize, b: usize) -> bool {
    match c[a].key().cmp(&c[b].key()) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => c[a].rank < c[b].rank,
    }
}

fn sift_down(heap: &mut [usize], c: &[MCursor<'_>], mut at: usize) {
    loop {
        let (l, r) = (2 * at + 1, 2 * at + 2);
        let mut m = at;
        if l < heap.len() && before(c, heap[l], heap[m]) {
            m = l;
        }
        if r < heap.len() && before(c, heap[r], heap[m]) {
            m = r;
        }
        if m == at {
            return;
        }
        heap.swap(at, m);
        at = m;
    }
}

/// Merges overlapping chunks (given in write order) entry by entry.
fn merge_chunks(
    out: &mut Out<'_>,
    cluster: &[(u32, InputChunk<'_>)],
    rw: &mut StreamRewrite<'_, '_>,
) -> Result<()> {
    let mut cursors: Vec<MCursor<'_>> = Vec::with_capacity(cluster.len());
    for &(rank, (seg, c)) in cluster {
        let mut cur = MCursor {
            rank,
            seg,
            blocks: &c.blocks,
            next_block: 0,
            block: DecodedBlock::new(),
            i: 0,
        };
        if cur.fill(rw)? {
            cursors.push(cur);
        }
    }
    let mut heap: Vec<usize> = (0..cursors.len()).collect();
    for at in (0..heap.len() / 2).rev() {
        sift_down(&mut heap, &cursors, at);
    }
    let mut last: Option<(i64, Vec<u8>)> = None;
    while let Some(&top) = heap.first() {
        {
            let cur = &cursors[top];
            let (ts, line) = cur.key();
            let dup = last
                .as_ref()
                .is_some_and(|(lt, ll)| *lt == ts && ll == line);
            if dup {
                rw.report.entries_deduplicated += 1;
            } else {
                match &mut last {
                    Some((lt, ll)) => {
                        *lt = ts;
                        ll.clear();
                        ll.extend_from_slice(line);
                    }
                    None => last = Some((ts, line.to_vec())),
                }
                if keep(rw, ts, line, cur.block.metadata(cur.i)) {
                    out.b.push_pairs(ts, line, cur.block.metadata(cur.i));
                    rw.report.raw_bytes_written += line.len() as u64;
                    out.maybe_cut()?;
                }
            }
        }
        cursors[top].i += 1;
        if !cursors[top].fill(rw)? {
            let n = heap.len() - 1;
            heap.swap(0, n);
            heap.pop();
        }
        sift_down(&mut heap, &cursors, 0);
    }
    Ok(())
}
