//! Opens a segment: maps the file, verifies header and footer, parses the tables.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use super::{ChunkMeta, SegmentStream, MAGIC, TRAILER_LEN, TRAILER_MAGIC, VERSION};
use crate::chunk::{self, stored_crc, BlockMeta, DecodedBlock, EncodedChunk};
use crate::codec::{self, le_u32_at, le_u64_at, DecodeError, Reader, PREFIX_LEN};
use crate::error::{Error, Result};
use crate::labels::validate_tenant;
use crate::wal::record::check_labels;

/// An open, memory-mapped segment. `Send + Sync`: share it as `Arc<Segment>`.
#[derive(Debug)]
pub struct Segment {
    path: PathBuf,
    tenant: String,
    map: Mmap,
    data_start: u64,
    data_end: u64,
    streams: Vec<SegmentStream>,
    chunks: Vec<ChunkMeta>,
}

impl Segment {
    /// Opens `path`, verifying the header, the trailer and the footer's CRC and
    /// structure (every block lies within the data region, counts add up, labels are
    /// valid and match their fingerprints). Block contents are not read.
    pub fn open(path: &Path) -> Result<Segment> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < (PREFIX_LEN + 2 + 4 + TRAILER_LEN) as u64 {
            return Err(Error::corrupt(
                path,
                0,
                format!("file of {len} bytes is too short for a segment"),
            ));
        }
        // SAFETY: segment files are immutable once renamed into place: the writer
        // builds them under a temp name, and the engine only ever deletes a live
        // segment (unlinking keeps the mapping valid), never truncates or rewrites
        // one, so the mapped bytes cannot change or vanish while `map` lives. All
        // reads through the map are bounds-checked slices.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let mut seg = Segment {
            path: path.to_path_buf(),
            tenant: String::new(),
            map,
            data_start: 0,
            data_end: 0,
            streams: Vec::new(),
            chunks: Vec::new(),
        };
        seg.parse(&file, len)?;
        Ok(seg)
    }

    /// Verifies and parses header, trailer and footer. They are read from the file, not
    /// through the map: a page touched through the map stays in the process's resident
    /// set (with fault-around, tens to hundreds of KiB per segment), so a long ingest's
    /// RSS would grow with every segment it flushed. Only queries touch the map.
    fn parse(&mut self, file: &File, len: u64) -> Result<()> {
        let path = self.path.clone();
        let read_at = |off: u64, n: usize| -> Result<Vec<u8>> {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = file;
            let mut buf = vec![0u8; n];
            f.seek(SeekFrom::Start(off))
                .and_then(|_| f.read_exact(&mut buf))
                .map_err(|e| Error::io(&path, e))?;
            Ok(buf)
        };
        let prefix = read_at(0, PREFIX_LEN + 2)?;
        codec::check_prefix(&path, &prefix, MAGIC, VERSION)?;
        let tlen = u16::from_le_bytes([prefix[PREFIX_LEN], prefix[PREFIX_LEN + 1]]) as usize;
        let tenant_end = PREFIX_LEN + 2 + tlen;
        let b = if (tenant_end + 4) as u64 <= len {
            read_at(0, tenant_end + 4)?
        } else {
            prefix
        };
        let Some(hcrc) = le_u32_at(&b, tenant_end) else {
            return Err(Error::corrupt(
                &path,
                PREFIX_LEN as u64,
                "tenant length runs past the end",
            ));
        };
        if crc32fast::hash(&b[..tenant_end]) != hcrc {
            return Err(Error::corrupt(&path, 0, "segment header CRC mismatch"));
        }
        let tenant = std::str::from_utf8(&b[PREFIX_LEN + 2..tenant_end])
            .map_err(|_| Error::corrupt(&path, PREFIX_LEN as u64 + 2, "tenant is not UTF-8"))?;
        validate_tenant(tenant)
            .map_err(|e| Error::corrupt(&path, PREFIX_LEN as u64 + 2, e.to_string()))?;
        let data_start = (tenant_end + 4) as u64;

        let t_at = len as usize - TRAILER_LEN;
        let t = read_at(t_at as u64, TRAILER_LEN)?;
        if &t[32..] != TRAILER_MAGIC {
            return Err(Error::corrupt(
                &path,
                t_at as u64 + 32,
                "bad trailer magic (unfinished or truncated segment)",
            ));
        }
        let tcrc = le_u32_at(&t, 28).unwrap_or(0);
        if crc32fast::hash(&t[..28]) != tcrc {
            return Err(Error::corrupt(
                &path,
                t_at as u64,
                "segment trailer CRC mismatch",
            ));
        }
        let footer_off = le_u64_at(&t, 0).unwrap_or(0);
        let footer_len = le_u64_at(&t, 8).unwrap_or(0);
        let n_streams = le_u32_at(&t, 16).unwrap_or(0);
        let n_chunks = le_u32_at(&t, 20).unwrap_or(0);
        let fcrc = le_u32_at(&t, 24).unwrap_or(0);
        if footer_off < data_start || footer_off.checked_add(footer_len) != Some(t_at as u64) {
            return Err(Error::corrupt(
                &path,
                t_at as u64,
                format!(
                    "footer at {footer_off} (+{footer_len}) does not end at the trailer ({t_at})"
                ),
            ));
        }
        let footer: Arc<[u8]> = read_at(footer_off, t_at - footer_off as usize)?.into();
        if crc32fast::hash(&footer) != fcrc {
            return Err(Error::corrupt(
                &path,
                footer_off,
                "segment footer CRC mismatch",
            ));
        }
        let (streams, chunks) = parse_footer(
            &footer,
            footer_off as usize,
            data_start,
            footer_off,
            n_streams,
            n_chunks,
        )
        .map_err(|e| Error::corrupt(&path, e.offset as u64, e.what))?;
        self.tenant = tenant.to_string();
        self.data_start = data_start;
        self.data_end = footer_off;
        self.streams = streams;
        self.chunks = chunks;
        Ok(())
    }

    /// The tenant whose data this is.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The streams with chunks in this segment.
    pub fn streams(&self) -> &[SegmentStream] {
        &self.streams
    }

    /// The chunks, in the order they were added.
    pub fn chunks(&self) -> &[ChunkMeta] {
        &self.chunks
    }

    /// Size of the file.
    pub fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// The encoded bytes of a block (CRC not verified): lets compaction copy blocks
    /// without recompressing them. `b` must lie within the data region.
    pub fn raw_block(&self, b: &BlockMeta) -> Result<&[u8]> {
        let end = b.offset.checked_add(u64::from(b.len));
        match end {
            Some(end) if b.offset >= self.data_start && end <= self.data_end => {
                Ok(&self.map[b.offset as usize..end as usize])
            }
            _ => Err(Error::corrupt(
                &self.path,
                b.offset,
                format!("block of {} bytes lies outside the data region", b.len),
            )),
        }
    }

    /// Copies a chunk's blocks out of the segment as an [`EncodedChunk`] (offsets
    /// relative to its bytes again), verifying each block's CRC but not decompressing
    /// it: compaction can move chunks to a new segment without re-encoding them.
    pub fn read_chunk(&self, chunk: &ChunkMeta) -> Result<EncodedChunk> {
        let total: u64 = chunk.blocks.iter().map(|b| u64::from(b.len)).sum();
        let mut out = EncodedChunk {
            bytes: Vec::with_capacity(total.min(self.data_end) as usize),
            blocks: Vec::with_capacity(chunk.blocks.len()),
            min_ts: chunk.min_ts,
            max_ts: chunk.max_ts,
            entries: chunk.entries,
            raw_bytes: chunk.raw_bytes,
        };
        for b in &chunk.blocks {
            let bytes = self.checked_block(b)?;
            let body = bytes.len() - 4;
            if crc32fast::hash(&bytes[..body]) != b.crc {
                return Err(Error::corrupt(&self.path, b.offset, "block CRC mismatch"));
            }
            let mut m = *b;
            m.offset = out.bytes.len() as u64;
            out.bytes.extend_from_slice(bytes);
            out.blocks.push(m);
        }
        Ok(out)
    }

    fn checked_block(&self, b: &BlockMeta) -> Result<&[u8]> {
        let bytes = self.raw_block(b)?;
        if stored_crc(bytes) != Some(b.crc) {
            return Err(Error::corrupt(
                &self.path,
                b.offset,
                "block CRC differs from the chunk table",
            ));
        }
        Ok(bytes)
    }

    /// Decodes block `b` (one of a chunk's [`ChunkMeta::blocks`]) into `out`, verifying
    /// its CRC. Errors are [`Error::Corrupt`] with the file offset.
    pub fn decode_block(&self, b: &BlockMeta, out: &mut DecodedBlock) -> Result<()> {
        let bytes = self.checked_block(b)?;
        chunk::decode_block(bytes, out).map_err(|e| e.into_corrupt(&self.path, b.offset))?;
        if out.len() != b.entries as usize || out.raw_bytes() as u64 != b.raw_bytes {
            return Err(Error::corrupt(
                &self.path,
                b.offset,
                "block contents differ from the chunk table",
            ));
        }
        Ok(())
    }

    /// Decodes only the timestamps and line lengths of block `b`, verifying its CRC.
    pub fn decode_block_sizes(
        &self,
        b: &BlockMeta,
        ts: &mut Vec<i64>,
        lens: &mut Vec<u32>,
    ) -> Result<()> {
        let bytes = self.checked_block(b)?;
        chunk::decode_block_sizes(bytes, ts, lens)
            .map_err(|e| e.into_corrupt(&self.path, b.offset))?;
        if ts.len() != b.entries as usize {
            return Err(Error::corrupt(
                &self.path,
                b.offset,
                "block contents differ from the chunk table",
            ));
        }
        Ok(())
    }
}

fn parse_footer(
    footer: &Arc<[u8]>,
    base: usize,
    data_start: u64,
    data_end: u64,
    n_streams: u32,
    n_chunks: u32,
) -> Result<(Vec<SegmentStream>, Vec<ChunkMeta>), DecodeError> {
    let mut r = Reader::with_base(footer, base);
    // A stream takes at least 1 + 8 + 3 bytes.
    let n = r.count(12, "stream count")?;
    if n != n_streams as usize {
        return Err(r.err(format!("{n} streams, trailer says {n_streams}")));
    }
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let stream_id = r.uvarint_u32("stream id")?;
        let at = r.pos();
        let fingerprint = r.u64("fingerprint")?;
        let labels_at = r.pos();
        if check_labels(&mut r)? != fingerprint {
            return Err(DecodeError::new(
                base + at,
                "fingerprint does not match the labels",
            ));
        }
        let range = labels_at..r.pos();
        streams.push(SegmentStream::encoded(
            stream_id,
            fingerprint,
            footer.clone(),
            range,
        ));
    }
    let mut ids: Vec<u32> = streams.iter().map(|s| s.stream_id).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(r.err("a stream id appears twice in the stream table"));
    }

    // A chunk takes at least 6 bytes; a block at least 10.
    let n = r.count(6, "chunk count")?;
    if n != n_chunks as usize {
        return Err(r.err(format!("{n} chunks, trailer says {n_chunks}")));
    }
    let mut chunks = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.pos();
        let stream = r.uvarint_u32("chunk stream")?;
        if stream as usize >= streams.len() {
            return Err(r.err(format!("chunk names stream {stream} of {}", streams.len())));
        }
        let min_ts = r.ivarint("chunk min ts")?;
        let max_ts = r.ivarint("chunk max ts")?;
        let entries = r.uvarint("chunk entries")?;
        let raw_bytes = r.uvarint("chunk raw bytes")?;
        let nb = r.count(10, "block count")?;
        let mut blocks = Vec::with_capacity(nb);
        let (mut sum_e, mut sum_r) = (0u64, 0u64);
        for _ in 0..nb {
            let b_at = r.pos();
            let b = BlockMeta {
                min_ts: r.ivarint("block min ts")?,
                max_ts: r.ivarint("block max ts")?,
                entries: r.uvarint_u32("block entries")?,
                raw_bytes: r.uvarint("block raw bytes")?,
                offset: r.uvarint("block offset")?,
                len: r.uvarint_u32("block length")?,
                crc: r.u32("block crc")?,
            };
            let end = b.offset.checked_add(u64::from(b.len));
            if b.offset < data_start || end.is_none_or(|e| e > data_end) || b.len < 4 {
                return Err(DecodeError::new(
                    base + b_at,
                    "block lies outside the data region",
                ));
            }
            if b.entries == 0 || b.min_ts > b.max_ts {
                return Err(DecodeError::new(
                    base + b_at,
                    "block has no entries or inverted time range",
                ));
            }
            sum_e += u64::from(b.entries);
            sum_r = sum_r.saturating_add(b.raw_bytes);
            blocks.push(b);
        }
        if sum_e != entries || sum_r != raw_bytes {
            return Err(DecodeError::new(
                base + at,
                "chunk totals differ from its blocks",
            ));
        }
        if let (Some(f), Some(l)) = (blocks.first(), blocks.last()) {
            if f.min_ts != min_ts || l.max_ts != max_ts {
                return Err(DecodeError::new(
                    base + at,
                    "chunk time range differs from its blocks",
                ));
            }
        }
        chunks.push(ChunkMeta {
            stream,
            min_ts,
            max_ts,
            entries,
            raw_bytes,
            blocks,
        });
    }
    r.expect_end("segment footer")?;
    Ok((streams, chunks))
}
