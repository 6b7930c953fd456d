//! Writes a segment file: header, chunk data, footer, trailer; then fsync and rename.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{ChunkMeta, SegmentStream, MAGIC, TRAILER_MAGIC, VERSION};
use crate::chunk::{stored_crc, EncodedChunk};
use crate::codec::{self, put_ivarint, put_prefix, put_u32, put_u64, put_uvarint};
use crate::error::{Error, Result};
use crate::labels::{validate_tenant, Labels};
use crate::wal::record::encode_labels;

/// What a finished segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Where the segment now is.
    pub path: PathBuf,
    /// Size of the file.
    pub file_bytes: u64,
    /// Smallest timestamp over all entries (0 if there are none).
    pub min_ts: i64,
    /// Largest timestamp over all entries (0 if there are none).
    pub max_ts: i64,
    /// Entries in all chunks.
    pub entries: u64,
    /// Line bytes in all chunks.
    pub raw_bytes: u64,
    /// Number of chunks.
    pub chunks: u32,
}

/// Writes one segment. The file is built under `<path>.tmp` and appears at `path`
/// only when [`finish`](Self::finish) succeeds; dropping an unfinished writer removes
/// the temp file.
#[derive(Debug)]
pub struct SegmentWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    pos: u64,
    streams: Vec<SegmentStream>,
    stream_index: HashMap<u32, u32>,
    chunks: Vec<ChunkMeta>,
}

impl SegmentWriter {
    /// Starts `path` (written as `<path>.tmp` until finished) for `tenant`.
    pub fn create(path: &Path, tenant: &str) -> Result<SegmentWriter> {
        validate_tenant(tenant)?;
        let tmp = codec::tmp_path(path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = SegmentWriter {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            pos: 0,
            streams: Vec::new(),
            stream_index: HashMap::new(),
            chunks: Vec::new(),
        };
        let mut h = Vec::with_capacity(32);
        put_prefix(&mut h, MAGIC, VERSION);
        h.extend_from_slice(&(tenant.len() as u16).to_le_bytes());
        h.extend_from_slice(tenant.as_bytes());
        let crc = crc32fast::hash(&h);
        put_u32(&mut h, crc);
        w.write(&h)?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Err(Error::Closed(Some(
                "segment writer already finished".into(),
            )));
        };
        f.write_all(b).map_err(|e| Error::io(&self.tmp, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Appends a chunk of stream `stream_id`. A stream may have several chunks; all
    /// must be given the same labels. Empty chunks are stored (they hold no block).
    pub fn add_chunk(
        &mut self,
        stream_id: u32,
        labels: &Labels,
        chunk: &EncodedChunk,
    ) -> Result<()> {
        for b in &chunk.blocks {
            match chunk.block_bytes(b) {
                Some(bytes) if b.entries > 0 && stored_crc(bytes) == Some(b.crc) => {}
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "chunk block at {} (len {}) does not match the chunk's bytes",
                        b.offset, b.len
                    )))
                }
            }
        }
        let stream = match self.stream_index.get(&stream_id) {
            Some(&i) => {
                if self.streams[i as usize].labels() != labels {
                    return Err(Error::InvalidArgument(format!(
                        "stream {stream_id} added with labels {labels} and {}",
                        self.streams[i as usize].labels()
                    )));
                }
                i
            }
            None => {
                let i = self.streams.len() as u32;
                self.streams
                    .push(SegmentStream::new(stream_id, labels.clone()));
                self.stream_index.insert(stream_id, i);
                i
            }
        };
        let base = self.pos;
        self.write(&chunk.bytes)?;
        let blocks = chunk
            .blocks
            .iter()
            .map(|b| {
                let mut b = *b;
                b.offset += base;
                b
            })
            .collect();
        self.chunks.push(ChunkMeta {
            stream,
            min_ts: chunk.min_ts,
            max_ts: chunk.max_ts,
            entries: chunk.entries,
            raw_bytes: chunk.raw_bytes,
            blocks,
        });
        Ok(())
    }

    /// Writes the footer, fsyncs the file, renames it to its final path and fsyncs the
    /// directory.
    pub fn finish(mut self) -> Result<SegmentSummary> {
        let footer_off = self.pos;
        let footer = self.encode_footer();
        self.write(&footer)?;
        let mut t = Vec::with_capacity(super::TRAILER_LEN);
        put_u64(&mut t, footer_off);
        put_u64(&mut t, footer.len() as u64);
        put_u32(&mut t, self.streams.len() as u32);
        put_u32(&mut t, self.chunks.len() as u32);
        put_u32(&mut t, crc32fast::hash(&footer));
        let tcrc = crc32fast::hash(&t);
        put_u32(&mut t, tcrc);
        t.extend_from_slice(TRAILER_MAGIC);
        self.write(&t)?;

        let Some(buf) = self.file.take() else {
            return Err(Error::Closed(Some(
                "segment writer already finished".into(),
            )));
        };
        let file = buf
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        codec::sync_dir(&codec::parent_dir(&self.path))?;

        let live = self.chunks.iter().filter(|c| c.entries > 0);
        Ok(SegmentSummary {
            path: self.path.clone(),
            file_bytes: self.pos,
            min_ts: live.clone().map(|c| c.min_ts).min().unwrap_or(0),
            max_ts: live.map(|c| c.max_ts).max().unwrap_or(0),
            entries: self.chunks.iter().map(|c| c.entries).sum(),
            raw_bytes: self.chunks.iter().map(|c| c.raw_bytes).sum(),
            chunks: self.chunks.len() as u32,
        })
    }

    fn encode_footer(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(64 * (self.streams.len() + self.chunks.len()));
        put_uvarint(&mut f, self.streams.len() as u64);
        for s in &self.streams {
            put_uvarint(&mut f, u64::from(s.stream_id));
            put_u64(&mut f, s.fingerprint);
            encode_labels(&mut f, s.labels());
        }
        put_uvarint(&mut f, self.chunks.len() as u64);
        for c in &self.chunks {
            put_uvarint(&mut f, u64::from(c.stream));
            put_ivarint(&mut f, c.min_ts);
            put_ivarint(&mut f, c.max_ts);
            put_uvarint(&mut f, c.entries);
            put_uvarint(&mut f, c.raw_bytes);
            put_uvarint(&mut f, c.blocks.len() as u64);
            for b in &c.blocks {
                put_ivarint(&mut f, b.min_ts);
                put_ivarint(&mut f, b.max_ts);
                put_uvarint(&mut f, u64::from(b.entries));
                put_uvarint(&mut f, b.raw_bytes);
                put_uvarint(&mut f, b.offset);
                put_uvarint(&mut f, u64::from(b.len));
                put_u32(&mut f, b.crc);
            }
        }
        f
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
