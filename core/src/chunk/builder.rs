//! Cuts a stream's sorted entries into compressed blocks.

use std::collections::HashMap;

use super::block::{self, BlockInput, Deflater, MAX_BLOCK_ENTRIES, MAX_LINE_LEN};
use super::{BlockMeta, EncodedChunk};
use crate::codec::{put_bytes, put_uvarint};

/// Default raw line bytes per block (256 KiB).
pub const DEFAULT_BLOCK_TARGET: usize = 256 << 10;
/// Default zstd level at block cut (see `docs/PERFORMANCE.md` for the measurements).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;
/// Largest block target accepted; larger values are clamped (256 MiB).
pub const MAX_BLOCK_TARGET: usize = 256 << 20;

/// Builds one chunk from a stream's entries, pushed in ascending `(ts, line)` order.
///
/// A block is cut as soon as its line bytes reach the target, so blocks hold a little
/// more than the target; [`finish`](Self::finish) cuts the last, partial block.
///
/// ```
/// use logjar::chunk::{decode_block, ChunkBuilder, DecodedBlock};
///
/// let mut b = ChunkBuilder::new(64, 3); // tiny blocks to show several
/// for i in 0..100i64 {
///     let md = if i % 10 == 0 { vec![("trace_id".to_string(), format!("t{i}"))] } else { vec![] };
///     b.push(i * 1_000, format!("line {i}").as_bytes(), &md);
/// }
/// let chunk = b.finish();
/// assert_eq!(chunk.entries, 100);
/// assert!(chunk.blocks.len() > 1);
///
/// let mut out = DecodedBlock::new();
/// let mut n = 0;
/// for meta in &chunk.blocks {
///     let bytes = &chunk.bytes[meta.offset as usize..][..meta.len as usize];
///     decode_block(bytes, &mut out).unwrap();
///     for i in 0..out.len() {
///         assert_eq!(out.ts(i), n * 1_000);
///         assert_eq!(out.line(i), format!("line {n}").as_bytes());
///         n += 1;
///     }
/// }
/// assert_eq!(n, 100);
/// decode_block(&chunk.bytes[..chunk.blocks[0].len as usize], &mut out).unwrap();
/// assert_eq!(out.metadata(0).collect::<Vec<_>>(), vec![("trace_id", "t0")]);
/// ```
#[derive(Debug)]
pub struct ChunkBuilder {
    target: usize,
    level: i32,
    /// Taken from the shared pool when the first block is cut, given back at the end.
    deflater: Option<Deflater>,
    // The open block.
    ts: Vec<i64>,
    lens: Vec<u32>,
    lines: Vec<u8>,
    meta_syms: HashMap<String, u32>,
    meta_sym_bytes: Vec<u8>,
    meta_refs: Vec<u8>,
    meta_any: bool,
    meta_section: Vec<u8>,
    // The chunk so far.
    out: EncodedChunk,
}

impl Default for ChunkBuilder {
    fn default() -> Self {
        Self::new(DEFAULT_BLOCK_TARGET, DEFAULT_ZSTD_LEVEL)
    }
}

impl ChunkBuilder {
    /// A builder cutting blocks of about `block_target_raw_bytes` line bytes (clamped
    /// to 1 ..= [`MAX_BLOCK_TARGET`]), compressed with zstd at `zstd_level`.
    pub fn new(block_target_raw_bytes: usize, zstd_level: i32) -> Self {
        ChunkBuilder {
            target: block_target_raw_bytes.clamp(1, MAX_BLOCK_TARGET),
            level: zstd_level,
            deflater: None,
            ts: Vec::new(),
            lens: Vec::new(),
            lines: Vec::new(),
            meta_syms: HashMap::new(),
            meta_sym_bytes: Vec::new(),
            meta_refs: Vec::new(),
            meta_any: false,
            meta_section: Vec::new(),
            out: EncodedChunk::empty(),
        }
    }

    /// Adds an entry. Entries must come in ascending `(ts, line)` order (checked in
    /// debug builds).
    ///
    /// # Panics
    /// If `line` is longer than [`MAX_LINE_LEN`] (512 MiB): the engine's line size
    /// limit must refuse such lines long before.
    pub fn push(&mut self, ts: i64, line: &[u8], metadata: &[(String, String)]) {
        self.push_pairs(
            ts,
            line,
            metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
    }

    /// Like [`push`](Self::push), with the metadata as borrowed pairs (what
    /// [`DecodedBlock::metadata`](super::DecodedBlock::metadata) yields), so that
    /// re-encoding decoded entries allocates nothing per entry.
    ///
    /// # Panics
    /// As [`push`](Self::push).
    pub fn push_pairs<'a>(
        &mut self,
        ts: i64,
        line: &[u8],
        metadata: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) {
        assert!(
            line.len() <= MAX_LINE_LEN,
            "line of {} bytes exceeds MAX_LINE_LEN",
            line.len()
        );
        debug_assert!(
            self.last_entry()
                .is_none_or(|(lts, lline)| (lts, lline) <= (ts, line)),
            "entries must be pushed in (ts, line) order"
        );
        self.ts.push(ts);
        self.lens.push(line.len() as u32);
        self.lines.extend_from_slice(line);
        put_uvarint(&mut self.meta_refs, metadata.len() as u64);
        for (k, v) in metadata {
            self.meta_any = true;
            let k = self.symbol(k);
            let v = self.symbol(v);
            put_uvarint(&mut self.meta_refs, u64::from(k));
            put_uvarint(&mut self.meta_refs, u64::from(v));
        }
        if self.lines.len() >= self.target || self.ts.len() >= MAX_BLOCK_ENTRIES {
            self.cut();
        }
    }

    /// Appends an already encoded block (its bytes, trailing CRC included, and its
    /// meta) after cutting the open block: compaction copies unchanged blocks this way
    /// instead of decoding and compressing them again. The block must hold entries
    /// after every entry pushed so far.
    pub fn append_block(&mut self, bytes: &[u8], meta: BlockMeta) {
        self.cut();
        let mut m = meta;
        m.offset = self.out.bytes.len() as u64;
        m.len = bytes.len() as u32;
        self.out.bytes.extend_from_slice(bytes);
        let o = &mut self.out;
        if o.blocks.is_empty() {
            o.min_ts = m.min_ts;
        }
        o.max_ts = m.max_ts;
        o.entries += u64::from(m.entries);
        o.raw_bytes += m.raw_bytes;
        o.blocks.push(m);
    }

    fn last_entry(&self) -> Option<(i64, &[u8])> {
        let ts = *self.ts.last()?;
        let len = *self.lens.last()? as usize;
        Some((ts, &self.lines[self.lines.len() - len..]))
    }

    fn symbol(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.meta_syms.get(s) {
            return id;
        }
        let id = self.meta_syms.len() as u32;
        self.meta_syms.insert(s.to_string(), id);
        put_bytes(&mut self.meta_sym_bytes, s.as_bytes());
        id
    }

    /// Line bytes pushed so far.
    pub fn raw_bytes(&self) -> u64 {
        self.out.raw_bytes + self.lines.len() as u64
    }

    /// Entries pushed so far.
    pub fn entries(&self) -> u64 {
        self.out.entries + self.ts.len() as u64
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries() == 0
    }

    /// Compressed bytes of the blocks cut so far (the open block not included).
    pub fn encoded_bytes(&self) -> u64 {
        self.out.bytes.len() as u64
    }

    /// Cuts the last partial block and returns the chunk. An empty builder gives an
    /// empty chunk (no blocks, `min_ts == max_ts == 0`).
    pub fn finish(mut self) -> EncodedChunk {
        self.cut();
        if let Some(d) = self.deflater.take() {
            d.give_back();
        }
        std::mem::replace(&mut self.out, EncodedChunk::empty())
    }

    fn cut(&mut self) {
        if self.ts.is_empty() {
            return;
        }
        let metadata = if self.meta_any {
            self.meta_section.clear();
            put_uvarint(&mut self.meta_section, self.meta_syms.len() as u64);
            self.meta_section.extend_from_slice(&self.meta_sym_bytes);
            self.meta_section.extend_from_slice(&self.meta_refs);
            Some(self.meta_section.as_slice())
        } else {
            None
        };
        let level = self.level;
        let deflater = self.deflater.get_or_insert_with(|| Deflater::take(level));
        append_block(
            deflater,
            &mut self.out,
            &BlockInput {
                ts: &self.ts,
                lens: &self.lens,
                lines: &self.lines,
                metadata,
            },
        );
        self.ts.clear();
        self.lens.clear();
        self.lines.clear();
        self.meta_syms.clear();
        self.meta_sym_bytes.clear();
        self.meta_refs.clear();
        self.meta_any = false;
    }

    /// Encodes entries given as columns — timestamps, line lengths and the lines
    /// concatenated, in ascending `(ts, line)` order, without metadata — into a chunk
    /// identical to pushing them one by one into a fresh builder and finishing it, but
    /// without copying the lines into the builder first.
    ///
    /// # Panics
    /// If the columns disagree (lengths count, or the lengths do not sum to the lines'
    /// length) or a line is longer than [`MAX_LINE_LEN`]: callers build them together.
    pub(crate) fn encode_columns(
        block_target_raw_bytes: usize,
        zstd_level: i32,
        ts: &[i64],
        lens: &[u32],
        lines: &[u8],
    ) -> EncodedChunk {
        assert_eq!(ts.len(), lens.len(), "one length per timestamp");
        let target = block_target_raw_bytes.clamp(1, MAX_BLOCK_TARGET);
        let mut out = EncodedChunk::empty();
        let mut deflater: Option<Deflater> = None;
        let (mut first, mut off, mut acc) = (0usize, 0usize, 0usize);
        for (i, &len) in lens.iter().enumerate() {
            assert!(len as usize <= MAX_LINE_LEN, "line exceeds MAX_LINE_LEN");
            acc += len as usize;
            let last = i + 1 == lens.len();
            if acc >= target || i + 1 - first >= MAX_BLOCK_ENTRIES || last {
                let d = deflater.get_or_insert_with(|| Deflater::take(zstd_level));
                append_block(
                    d,
                    &mut out,
                    &BlockInput {
                        ts: &ts[first..=i],
                        lens: &lens[first..=i],
                        lines: &lines[off..off + acc],
                        metadata: None,
                    },
                );
                first = i + 1;
                off += acc;
                acc = 0;
            }
        }
        assert_eq!(
            off,
            lines.len(),
            "line lengths must sum to the lines' length"
        );
        if let Some(d) = deflater {
            d.give_back();
        }
        out
    }
}

/// Encodes one block (1 ..= [`MAX_BLOCK_ENTRIES`] entries) at the end of `out` and
/// records its metadata.
fn append_block(deflater: &mut Deflater, out: &mut EncodedChunk, input: &BlockInput<'_>) {
    let n = input.ts.len();
    let offset = out.bytes.len();
    let crc = block::encode_block(deflater, input, &mut out.bytes);
    let meta = BlockMeta {
        min_ts: input.ts[0],
        max_ts: input.ts[n - 1],
        entries: n as u32,
        raw_bytes: input.lines.len() as u64,
        offset: offset as u64,
        len: (out.bytes.len() - offset) as u32,
        crc,
    };
    if out.blocks.is_empty() {
        out.min_ts = meta.min_ts;
    }
    out.max_ts = meta.max_ts;
    out.entries += u64::from(meta.entries);
    out.raw_bytes += meta.raw_bytes;
    out.blocks.push(meta);
}

impl Drop for ChunkBuilder {
    fn drop(&mut self) {
        if let Some(d) = self.deflater.take() {
            d.give_back();
        }
    }
}
