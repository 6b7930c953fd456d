//! The in-memory head: what was written since the last flush.
//!
//! Per tenant and stream the head holds a [`HeadBuf`] (uncompressed, sorted, newest
//! entries) and a list of compressed in-memory chunks cut from earlier head buffers.
//! When a head buffer reaches `Options::block_target_bytes` raw bytes it is encoded
//! with the chunk codec into an [`EncodedChunk`] (sorted, deduplicated, compressed) —
//! so memory holds at most one uncompressed block per stream.
//!
//! Readers take copy-on-write views: a [`TenantHead`] clone shares every chunk and
//! buffer through `Arc`s, and a writer that later changes a shared buffer copies it
//! first (`Arc::make_mut`). A view is therefore a consistent point-in-time copy that
//! costs a few reference counts per stream.

mod buf;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

pub use buf::HeadBuf;

use crate::chunk::{ChunkBuilder, EncodedChunk};
use crate::entry::Entry;

/// Encoding settings for cutting head buffers into chunks.
#[derive(Debug, Clone, Copy)]
pub struct CutConfig {
    /// Raw bytes of a head buffer that trigger a cut (and the codec's block target).
    pub block_target_bytes: usize,
    /// zstd level.
    pub zstd_level: i32,
}

/// One stream's unflushed data.
#[derive(Debug, Clone, Default)]
pub struct StreamHead {
    /// Compressed chunks cut from earlier buffers, in cut (= write) order.
    pub chunks: Vec<Arc<EncodedChunk>>,
    /// The newest entries, uncompressed.
    pub buf: Arc<HeadBuf>,
}

impl StreamHead {
    /// Oldest and newest timestamps held, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut r: Option<(i64, i64)> = None;
        let mut widen = |lo: i64, hi: i64| {
            r = Some(r.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        };
        for c in &self.chunks {
            widen(c.min_ts, c.max_ts);
        }
        if let (Some(lo), Some(hi)) = (self.buf.min_ts(), self.buf.max_ts()) {
            widen(lo, hi);
        }
        r
    }

    /// True when some entry may lie in `[start, end)`.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.time_range()
            .is_some_and(|(lo, hi)| lo < end && hi >= start)
    }

    /// Entries held (compressed and not).
    pub fn entries(&self) -> u64 {
        self.chunks.iter().map(|c| c.entries).sum::<u64>() + self.buf.len() as u64
    }

    /// Line bytes held (compressed and not), before compression.
    pub fn raw_bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.raw_bytes).sum::<u64>() + self.buf.raw_bytes() as u64
    }
}

/// One tenant's unflushed streams, by stream id.
#[derive(Debug, Clone, Default)]
pub struct TenantHead {
    /// Streams with unflushed data.
    pub streams: BTreeMap<u32, StreamHead>,
}

/// The head of the whole database (all tenants).
#[derive(Debug, Default)]
pub struct Head {
    /// Tenants with unflushed data.
    pub tenants: HashMap<String, TenantHead>,
    mem_bytes: usize,
    entries: u64,
    first_write: Option<Instant>,
}

impl Head {
    /// Approximate heap bytes held.
    pub fn mem_bytes(&self) -> usize {
        self.mem_bytes
    }

    /// Entries held.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// When the first entry was written into this head.
    pub fn first_write(&self) -> Option<Instant> {
        self.first_write
    }

    /// Number of streams of `tenant` with data in this head.
    pub fn active_streams(&self, tenant: &str) -> usize {
        self.tenants.get(tenant).map_or(0, |t| t.streams.len())
    }

    /// True when stream `id` of `tenant` has data in this head.
    pub fn has_stream(&self, tenant: &str, id: u32) -> bool {
        self.tenants
            .get(tenant)
            .is_some_and(|t| t.streams.contains_key(&id))
    }

    /// The head buffer of a stream, if it has one.
    pub fn buf(&self, tenant: &str, id: u32) -> Option<&HeadBuf> {
        self.tenants
            .get(tenant)
            .and_then(|t| t.streams.get(&id))
            .map(|s| &*s.buf)
    }

    /// Inserts entries of one stream, in the given order; an exact duplicate of a
    /// buffered entry is skipped (the first copy stays). Cuts the stream's buffer into
    /// a chunk whenever it reaches the block target. Returns the entries inserted and
    /// their line bytes; entries inserted are reported to `on_insert`.
    pub fn insert<'e>(
        &mut self,
        tenant: &str,
        id: u32,
        entries: impl IntoIterator<Item = &'e Entry>,
        cfg: CutConfig,
        mut on_insert: impl FnMut(&Entry),
    ) -> (u64, u64) {
        if !self.tenants.contains_key(tenant) {
            self.tenants
                .insert(tenant.to_owned(), TenantHead::default());
        }
        let Some(t) = self.tenants.get_mut(tenant) else {
            return (0, 0);
        };
        let s = t.streams.entry(id).or_default();
        let (mut n, mut bytes) = (0u64, 0u64);
        let mut mem = self.mem_bytes.saturating_sub(s.buf.mem_bytes());
        let mut buf = Arc::make_mut(&mut s.buf);
        // Pages stay within the block target (a tiny target keeps tiny pages).
        let cap = cfg.block_target_bytes;
        for e in entries {
            if !buf.insert_capped(e.ts, &e.line, &e.metadata, cap) {
                continue;
            }
            n += 1;
            bytes += e.line.len() as u64;
            on_insert(e);
            if buf.raw_bytes() >= cfg.block_target_bytes {
                let chunk = encode(buf, cfg);
                mem += chunk.bytes.len();
                s.chunks.push(Arc::new(chunk));
                // Dropping the cut buffer gives its full pages to the pool.
                s.buf = Arc::new(HeadBuf::default());
                buf = Arc::make_mut(&mut s.buf);
            }
        }
        mem += buf.mem_bytes();
        self.mem_bytes = mem;
        self.entries += n;
        if n > 0 {
            self.first_write.get_or_insert_with(Instant::now);
        }
        (n, bytes)
    }
}

impl Head {
    /// Moves the head buffers that `keep` picks out of this head into a new head,
    /// leaving their streams' chunks here (a stream left with nothing is removed).
    /// The new head counts its first write as this head's, since it holds data that
    /// old. Used by a flush that carries unfinished buffers over instead of cutting
    /// them into small blocks.
    pub fn take_buffers(&mut self, mut keep: impl FnMut(&str, u32, &HeadBuf) -> bool) -> Head {
        let mut out = Head::default();
        for (tenant, th) in &mut self.tenants {
            let mut taken = TenantHead::default();
            th.streams.retain(|&id, sh| {
                if sh.buf.is_empty() || !keep(tenant, id, &sh.buf) {
                    return true;
                }
                let buf = std::mem::take(&mut sh.buf);
                let (mem, n) = (buf.mem_bytes(), buf.len() as u64);
                self.mem_bytes = self.mem_bytes.saturating_sub(mem);
                self.entries = self.entries.saturating_sub(n);
                out.mem_bytes += mem;
                out.entries += n;
                taken.streams.insert(
                    id,
                    StreamHead {
                        chunks: Vec::new(),
                        buf,
                    },
                );
                !sh.chunks.is_empty()
            });
            if !taken.streams.is_empty() {
                out.tenants.insert(tenant.clone(), taken);
            }
        }
        self.tenants.retain(|_, th| !th.streams.is_empty());
        if !out.is_empty() {
            out.first_write = self.first_write;
        }
        out
    }
}

/// Encodes a head buffer (already sorted and deduplicated) into a chunk.
pub fn encode(buf: &HeadBuf, cfg: CutConfig) -> EncodedChunk {
    thread_local! {
        /// The lines of a buffer made contiguous for the encoder (one per thread that
        /// cuts or flushes: about one block target each).
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let encoded = SCRATCH.with(|scratch| {
        let mut scratch = scratch.try_borrow_mut().ok()?;
        let c = buf.columns(&mut scratch)?;
        Some(ChunkBuilder::encode_columns(
            cfg.block_target_bytes,
            cfg.zstd_level,
            &c.ts,
            &c.lens,
            c.lines,
        ))
    });
    if let Some(chunk) = encoded {
        return chunk;
    }
    let mut b = ChunkBuilder::new(cfg.block_target_bytes, cfg.zstd_level);
    for (ts, line, meta) in buf.iter() {
        b.push(ts, line, meta);
    }
    b.finish()
}
