//! Segments: immutable files holding the chunks of one tenant, written once per flush
//! or compaction and memory-mapped for reading.
//!
//! ```text
//! header   "LJSEG" v1 0 0 | u16 tenant length | tenant | u32 crc32(header)
//! data     blocks of every chunk, back to back
//! footer   stream table | chunk table                 (crc32 in the trailer)
//! trailer  u64 footer offset | u64 footer length | u32 streams | u32 chunks |
//!          u32 footer crc32 | u32 trailer crc32 | "LJSEGEND"        (40 bytes)
//! ```
//! Opening reads and verifies the header and footer only; a block's CRC is verified
//! when it is decoded. See `docs/FORMAT.md` for every field.
//!
//! ```
//! use logjar::chunk::{ChunkBuilder, DecodedBlock};
//! use logjar::segment::{segment_path, Segment, SegmentWriter};
//! use logjar::Labels;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let labels = Labels::new([("app", "api")]).unwrap();
//! let mut b = ChunkBuilder::default();
//! b.push(10, b"hello", &[]);
//! b.push(20, b"world", &[]);
//! let chunk = b.finish();
//!
//! let path = segment_path(dir.path(), 1);
//! let mut w = SegmentWriter::create(&path, "fake").unwrap();
//! w.add_chunk(7, &labels, &chunk).unwrap();
//! let summary = w.finish().unwrap();
//! assert_eq!((summary.entries, summary.min_ts, summary.max_ts), (2, 10, 20));
//!
//! let seg = Segment::open(&path).unwrap();
//! assert_eq!(seg.tenant(), "fake");
//! assert_eq!(seg.streams()[0].stream_id, 7);
//! let c = &seg.chunks()[0];
//! assert_eq!(seg.streams()[c.stream as usize].labels(), &labels);
//! let mut out = DecodedBlock::new();
//! seg.decode_block(&c.blocks[0], &mut out).unwrap();
//! assert_eq!(out.line(1), b"world");
//! ```

mod reader;
mod writer;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::chunk::BlockMeta;
use crate::codec::Reader;
use crate::error::Result;
use crate::labels::Labels;
use crate::wal::record::decode_labels;

pub use reader::Segment;
pub use writer::{SegmentSummary, SegmentWriter};

/// Name of the segments directory inside a database directory.
pub const DIR_NAME: &str = "segments";
/// Segment format version written by this build.
pub const VERSION: u8 = 1;
/// Bytes in the trailer at the end of every segment file.
pub const TRAILER_LEN: usize = 40;

pub(crate) const MAGIC: &[u8; 5] = b"LJSEG";
pub(crate) const TRAILER_MAGIC: &[u8; 8] = b"LJSEGEND";

/// The path of segment `id` in the segments directory `dir`: `dir/<id:016x>.seg`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.seg"))
}

/// The segment files in `dir` as `(id, path)`, sorted by id; other names (temp files
/// included) are ignored, a missing directory is empty.
pub fn segment_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    crate::codec::numbered_files(dir, ".seg", parse_hex16)
}

pub(crate) fn parse_hex16(stem: &str) -> Option<u64> {
    if stem.len() == 16 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        u64::from_str_radix(stem, 16).ok()
    } else {
        None
    }
}

/// A stream stored in a segment.
///
/// An opened segment checks every stream's labels (valid, sorted, matching the
/// fingerprint) but builds a stream's [`Labels`] only when [`labels`](Self::labels) is
/// first called: opening a database reads the label sets from its index file, and
/// most segment streams are never asked for theirs.
#[derive(Clone)]
pub struct SegmentStream {
    /// The engine's stream id, as given to [`SegmentWriter::add_chunk`].
    pub stream_id: u32,
    /// `labels().fingerprint()`, checked when the segment is opened.
    pub fingerprint: u64,
    labels: StreamLabels,
}

#[derive(Clone)]
enum StreamLabels {
    /// A stream being written.
    Built(Labels),
    /// `footer[range]` holds the checked encoding (`count | (name, value)*`).
    Encoded {
        footer: Arc<[u8]>,
        range: Range<usize>,
        built: OnceLock<Labels>,
    },
}

impl SegmentStream {
    pub(crate) fn new(stream_id: u32, labels: Labels) -> Self {
        SegmentStream {
            stream_id,
            fingerprint: labels.fingerprint(),
            labels: StreamLabels::Built(labels),
        }
    }

    /// A stream whose labels `footer[range]` were checked and hash to `fingerprint`.
    pub(crate) fn encoded(
        stream_id: u32,
        fingerprint: u64,
        footer: Arc<[u8]>,
        range: Range<usize>,
    ) -> Self {
        SegmentStream {
            stream_id,
            fingerprint,
            labels: StreamLabels::Encoded {
                footer,
                range,
                built: OnceLock::new(),
            },
        }
    }

    /// The stream's labels.
    pub fn labels(&self) -> &Labels {
        match &self.labels {
            StreamLabels::Built(l) => l,
            StreamLabels::Encoded {
                footer,
                range,
                built,
            } => built.get_or_init(|| {
                let mut r = Reader::new(&footer[range.clone()]);
                // Checked when the segment was opened: this cannot fail.
                decode_labels(&mut r).unwrap_or_else(|e| {
                    log::error!("segment stream labels failed to decode after their check: {e}");
                    Labels::default()
                })
            }),
        }
    }

    /// Whether the stream's labels are `labels`, told without building them.
    pub fn has_labels(&self, labels: &Labels) -> bool {
        match &self.labels {
            StreamLabels::Built(l) => l == labels,
            StreamLabels::Encoded { footer, range, .. } => {
                let mut r = Reader::new(&footer[range.clone()]);
                let same =
                    |r: &mut Reader<'_>, want: &str| r.str("label").is_ok_and(|got| got == want);
                r.count(2, "label count").is_ok_and(|n| n == labels.len())
                    && labels
                        .iter()
                        .all(|(n, v)| same(&mut r, n) && same(&mut r, v))
            }
        }
    }
}

impl PartialEq for SegmentStream {
    fn eq(&self, other: &Self) -> bool {
        self.stream_id == other.stream_id
            && self.fingerprint == other.fingerprint
            && self.labels() == other.labels()
    }
}

impl Eq for SegmentStream {}

impl fmt::Debug for SegmentStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentStream")
            .field("stream_id", &self.stream_id)
            .field("fingerprint", &self.fingerprint)
            .field("labels", self.labels())
            .finish()
    }
}

/// A chunk stored in a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkMeta {
    /// Index into [`Segment::streams`].
    pub stream: u32,
    /// Smallest timestamp.
    pub min_ts: i64,
    /// Largest timestamp.
    pub max_ts: i64,
    /// Entries in the chunk.
    pub entries: u64,
    /// Line bytes in the chunk.
    pub raw_bytes: u64,
    /// The chunk's blocks, offsets from the start of the file.
    pub blocks: Vec<BlockMeta>,
}

#[cfg(test)]
mod tests;
