//! The manifest: the list of live files, switched atomically.
//!
//! `DIR/MANIFEST` is replaced as a whole: the new version is written to
//! `MANIFEST.tmp`, fsynced, renamed over `MANIFEST`, and the directory fsynced. A
//! crash at any point leaves either the old or the new manifest in place.
//!
//! ```text
//! "LJMAN" v1 0 0 | u32 body length | body | u32 crc32(everything before)
//! body = sections: u8 tag | uvarint payload length | payload
//! ```
//! Tags below `0x80` must be understood by a reader (an unknown one is an error);
//! tags from `0x80` up are optional and skipped by readers that do not know them.
//! Fields appended to the end of a known section's payload are ignored by older
//! readers, so sections can grow without a version change.
//!
//! ```
//! use logjar::manifest::{Manifest, SegmentRecord};
//!
//! let dir = tempfile::tempdir().unwrap();
//! assert!(Manifest::read(dir.path()).unwrap().is_none());
//! let mut m = Manifest::new();
//! m.generation = 1;
//! m.segments.push(SegmentRecord {
//!     file_id: 3, tenant: "fake".into(), min_ts: 0, max_ts: 10,
//!     entries: 2, raw_bytes: 20, file_bytes: 400, order: 3,
//! });
//! m.write(dir.path()).unwrap();
//! assert_eq!(Manifest::read(dir.path()).unwrap(), Some(m));
//! ```

use std::path::Path;

use crate::codec::{
    self, put_bytes, put_ivarint, put_prefix, put_u32, put_uvarint, DecodeError, Reader, PREFIX_LEN,
};
use crate::delete::{DeleteRequest, DeleteStatus};
use crate::error::{Error, Result};
use crate::labels::validate_tenant;

/// File name of the manifest inside a database directory.
pub const FILE_NAME: &str = "MANIFEST";
/// Manifest format version written by this build.
pub const VERSION: u8 = 1;

const MAGIC: &[u8; 5] = b"LJMAN";
const TAG_STATE: u8 = 0x01;
const TAG_SEGMENT: u8 = 0x02;
const TAG_INDEX_FILE: u8 = 0x03;
const TAG_DELETE: u8 = 0x04;
const TAG_OPTIONAL: u8 = 0x80;

/// The database's list of live files and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Incremented by the engine at every switch.
    pub generation: u64,
    /// The next id to give a segment or index file.
    pub next_file_id: u64,
    /// WAL files with a sequence number below this are fully covered by segments and
    /// may be deleted.
    pub wal_checkpoint: u64,
    /// Live segments.
    pub segments: Vec<SegmentRecord>,
    /// Live label index files.
    pub index_files: Vec<IndexFileRecord>,
    /// Every delete request ever made, in id order.
    pub deletes: Vec<DeleteRecord>,
    /// The id the next delete request gets (from 1).
    pub next_delete_id: u64,
}

/// A delete request as the manifest keeps it (tag `0x04`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRecord {
    /// The request.
    pub request: DeleteRequest,
    /// Set once a compaction removed some of its entries from disk while the request
    /// stayed pending (new matching data arrived meanwhile): it can no longer be
    /// cancelled.
    pub partially_applied: bool,
}

/// A live segment, `DIR/segments/<file_id:016x>.seg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    /// The file id.
    pub file_id: u64,
    /// The tenant whose chunks it holds.
    pub tenant: String,
    /// Smallest timestamp in it.
    pub min_ts: i64,
    /// Largest timestamp in it.
    pub max_ts: i64,
    /// Entries in it.
    pub entries: u64,
    /// Line bytes in it.
    pub raw_bytes: u64,
    /// Size of the file.
    pub file_bytes: u64,
    /// Position in the tenant's write order (segments are read oldest first, which
    /// decides which copy of a duplicate entry wins): the file id for a flushed
    /// segment, the first input's order for a compacted one.
    pub order: u64,
}

/// A live label index file, `DIR/index/<file_id:016x>.idx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFileRecord {
    /// The file id.
    pub file_id: u64,
    /// The tenant it indexes.
    pub tenant: String,
}

impl Manifest {
    /// An empty manifest: generation 0, file ids from 1, no checkpoint.
    pub fn new() -> Self {
        Manifest {
            next_file_id: 1,
            next_delete_id: 1,
            ..Manifest::default()
        }
    }

    /// Encodes the manifest file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(64 + 48 * self.segments.len());
        let mut p = Vec::new();
        put_uvarint(&mut p, self.generation);
        put_uvarint(&mut p, self.next_file_id);
        put_uvarint(&mut p, self.wal_checkpoint);
        put_uvarint(&mut p, self.next_delete_id);
        section(&mut body, TAG_STATE, &p);
        for s in &self.segments {
            p.clear();
            put_uvarint(&mut p, s.file_id);
            put_bytes(&mut p, s.tenant.as_bytes());
            put_ivarint(&mut p, s.min_ts);
            put_ivarint(&mut p, s.max_ts);
            put_uvarint(&mut p, s.entries);
            put_uvarint(&mut p, s.raw_bytes);
            put_uvarint(&mut p, s.file_bytes);
            put_uvarint(&mut p, s.order);
            section(&mut body, TAG_SEGMENT, &p);
        }
        for f in &self.index_files {
            p.clear();
            put_uvarint(&mut p, f.file_id);
            put_bytes(&mut p, f.tenant.as_bytes());
            section(&mut body, TAG_INDEX_FILE, &p);
        }
        for d in &self.deletes {
            p.clear();
            let r = &d.request;
            put_uvarint(&mut p, r.id);
            put_bytes(&mut p, r.tenant.as_bytes());
            put_bytes(&mut p, r.query.as_bytes());
            put_ivarint(&mut p, r.start);
            put_ivarint(&mut p, r.end);
            put_ivarint(&mut p, r.created);
            p.push(match r.status {
                DeleteStatus::Pending => 0,
                DeleteStatus::Applied => 1,
                DeleteStatus::Cancelled => 2,
            });
            p.push(u8::from(d.partially_applied));
            section(&mut body, TAG_DELETE, &p);
        }
        let mut out = Vec::with_capacity(body.len() + 16);
        put_prefix(&mut out, MAGIC, VERSION);
        put_u32(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out);
        put_u32(&mut out, crc);
        out
    }

    /// Decodes a manifest file's bytes; `path` is used in errors only.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<Manifest> {
        codec::check_prefix(path, bytes, MAGIC, VERSION)?;
        let Some(body_len) = codec::le_u32_at(bytes, PREFIX_LEN) else {
            return Err(Error::corrupt(
                path,
                PREFIX_LEN as u64,
                "truncated manifest header",
            ));
        };
        let body_start = PREFIX_LEN + 4;
        let body_end = body_start + body_len as usize;
        if bytes.len() != body_end + 4 {
            return Err(Error::corrupt(
                path,
                PREFIX_LEN as u64,
                format!(
                    "manifest body of {body_len} bytes does not match the file size {}",
                    bytes.len()
                ),
            ));
        }
        let stored = codec::le_u32_at(bytes, body_end).unwrap_or(0);
        if crc32fast::hash(&bytes[..body_end]) != stored {
            return Err(Error::corrupt(
                path,
                body_end as u64,
                "manifest CRC mismatch",
            ));
        }
        decode_body(&bytes[body_start..body_end], body_start)
            .map_err(|e| Error::corrupt(path, e.offset as u64, e.what))
    }

    /// Writes `dir/MANIFEST` atomically (temp file, fsync, rename, directory fsync).
    pub fn write(&self, dir: &Path) -> Result<()> {
        codec::write_atomic(&dir.join(FILE_NAME), &self.encode())
    }

    /// Reads `dir/MANIFEST`; `Ok(None)` when there is none (a new database).
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => Manifest::decode(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

fn section(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.push(tag);
    put_bytes(out, payload);
}

fn decode_body(body: &[u8], base: usize) -> Result<Manifest, DecodeError> {
    let mut r = Reader::with_base(body, base);
    let mut m = Manifest::default();
    let mut seen_state = false;
    while !r.is_empty() {
        let at = r.pos();
        let tag = r.u8("section tag")?;
        let payload = r.len_bytes("section")?;
        // Offsets inside a payload are reported as file offsets.
        let mut p = Reader::with_base(payload, base + r.pos() - payload.len());
        match tag {
            TAG_STATE => {
                if seen_state {
                    return Err(r.err_at(at, "two state sections"));
                }
                seen_state = true;
                m.generation = p.uvarint("generation")?;
                m.next_file_id = p.uvarint("next file id")?;
                m.wal_checkpoint = p.uvarint("WAL checkpoint")?;
                // Appended in v1 by the compaction release; absent before.
                m.next_delete_id = if p.is_empty() {
                    1
                } else {
                    p.uvarint("next delete id")?
                };
            }
            TAG_SEGMENT => {
                let file_id = p.uvarint("file id")?;
                let tenant = tenant(&mut p)?;
                let mut rec = SegmentRecord {
                    file_id,
                    tenant,
                    min_ts: p.ivarint("min ts")?,
                    max_ts: p.ivarint("max ts")?,
                    entries: p.uvarint("entries")?,
                    raw_bytes: p.uvarint("raw bytes")?,
                    file_bytes: p.uvarint("file bytes")?,
                    order: file_id,
                };
                // Appended by the compaction release; older manifests order by file id.
                if !p.is_empty() {
                    rec.order = p.uvarint("order")?;
                }
                m.segments.push(rec);
            }
            TAG_INDEX_FILE => {
                let file_id = p.uvarint("file id")?;
                let tenant = tenant(&mut p)?;
                m.index_files.push(IndexFileRecord { file_id, tenant });
            }
            TAG_DELETE => {
                let id = p.uvarint("delete id")?;
                let tenant = tenant(&mut p)?;
                let query = p.str("delete query")?.to_string();
                let start = p.ivarint("delete start")?;
                let end = p.ivarint("delete end")?;
                let created = p.ivarint("delete created")?;
                let at = p.pos();
                let status = match p.u8("delete status")? {
                    0 => DeleteStatus::Pending,
                    1 => DeleteStatus::Applied,
                    2 => DeleteStatus::Cancelled,
                    s => return Err(p.err_at(at, format!("unknown delete status {s}"))),
                };
                let at = p.pos();
                let partially_applied = match p.u8("delete flags")? {
                    0 => false,
                    1 => true,
                    f => return Err(p.err_at(at, format!("unknown delete flags {f:#x}"))),
                };
                m.deletes.push(DeleteRecord {
                    request: DeleteRequest {
                        id,
                        tenant,
                        query,
                        start,
                        end,
                        created,
                        status,
                    },
                    partially_applied,
                });
            }
            t if t >= TAG_OPTIONAL => {}
            t => {
                return Err(r.err_at(
                    at,
                    format!("unknown required section tag {t:#x} (written by a newer logjar?)"),
                ))
            }
        }
    }
    if !seen_state {
        return Err(r.err("manifest has no state section"));
    }
    Ok(m)
}

fn tenant(p: &mut Reader<'_>) -> Result<String, DecodeError> {
    let at = p.pos();
    let t = p.str("tenant")?;
    validate_tenant(t).map_err(|e| p.err_at(at, e.to_string()))?;
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            generation: 42,
            next_file_id: 17,
            wal_checkpoint: 9,
            segments: vec![
                SegmentRecord {
                    file_id: 3,
                    tenant: "a".into(),
                    min_ts: i64::MIN,
                    max_ts: -1,
                    entries: 5,
                    raw_bytes: 500,
                    file_bytes: 800,
                    order: 3,
                },
                SegmentRecord {
                    file_id: 16,
                    tenant: "b".into(),
                    min_ts: 0,
                    max_ts: i64::MAX,
                    entries: u64::MAX,
                    raw_bytes: 0,
                    file_bytes: 1,
                    order: 2,
                },
            ],
            index_files: vec![IndexFileRecord {
                file_id: 4,
                tenant: "a".into(),
            }],
            deletes: vec![
                DeleteRecord {
                    request: DeleteRequest {
                        id: 1,
                        tenant: "a".into(),
                        query: r#"{app="x"} |= "secret""#.into(),
                        start: -5,
                        end: i64::MAX,
                        created: 1_700_000_000_000_000_000,
                        status: DeleteStatus::Applied,
                    },
                    partially_applied: false,
                },
                DeleteRecord {
                    request: DeleteRequest {
                        id: 4,
                        tenant: "b".into(),
                        query: r#"{app="y"}"#.into(),
                        start: 0,
                        end: 10,
                        created: 7,
                        status: DeleteStatus::Pending,
                    },
                    partially_applied: true,
                },
            ],
            next_delete_id: 5,
        }
    }

    #[test]
    fn round_trip_and_replace() {
        let d = tempfile::tempdir().unwrap();
        sample().write(d.path()).unwrap();
        assert_eq!(Manifest::read(d.path()).unwrap(), Some(sample()));
        let mut m = sample();
        m.generation += 1;
        m.segments.pop();
        m.write(d.path()).unwrap();
        assert_eq!(Manifest::read(d.path()).unwrap(), Some(m));
        assert!(!d.path().join("MANIFEST.tmp").exists());
        let empty = Manifest::new();
        assert_eq!(
            Manifest::decode(Path::new("m"), &empty.encode()).unwrap(),
            empty
        );
    }

    /// Re-seals body length and CRC after `body` was edited.
    fn seal(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_prefix(&mut out, MAGIC, VERSION);
        put_u32(&mut out, body.len() as u32);
        out.extend_from_slice(body);
        let crc = crc32fast::hash(&out);
        put_u32(&mut out, crc);
        out
    }

    fn body_of(bytes: &[u8]) -> Vec<u8> {
        bytes[12..bytes.len() - 4].to_vec()
    }

    #[test]
    fn optional_sections_and_appended_fields_are_skipped() {
        let mut body = body_of(&sample().encode());
        section(&mut body, 0x90, b"future optional data");
        // A state section with an extra trailing field, as a newer writer might add.
        let mut b2 = Vec::new();
        let mut p = Vec::new();
        put_uvarint(&mut p, 42);
        put_uvarint(&mut p, 17);
        put_uvarint(&mut p, 9);
        put_uvarint(&mut p, 5);
        put_uvarint(&mut p, 12345);
        section(&mut b2, TAG_STATE, &p);
        b2.extend_from_slice(&body[body[1] as usize + 2..]);
        let m = Manifest::decode(Path::new("m"), &seal(&b2)).unwrap();
        assert_eq!(m, sample());
    }

    #[test]
    fn unknown_required_sections_and_missing_state_are_errors() {
        let mut body = body_of(&sample().encode());
        section(&mut body, 0x10, b"x");
        let e = Manifest::decode(Path::new("m"), &seal(&body)).unwrap_err();
        assert!(e.to_string().contains("unknown required section"), "{e}");
        let mut body = Vec::new();
        section(&mut body, TAG_INDEX_FILE, &[1, 1, b'a']);
        assert!(Manifest::decode(Path::new("m"), &seal(&body)).is_err());
    }

    #[test]
    fn every_flip_and_cut_is_detected() {
        let good = sample().encode();
        for bit in 0..good.len() * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            match Manifest::decode(Path::new("m"), &b) {
                Err(Error::Corrupt { .. } | Error::UnsupportedVersion { .. }) => {}
                other => panic!("bit {bit}: {other:?}"),
            }
        }
        for cut in 0..good.len() {
            assert!(Manifest::decode(Path::new("m"), &good[..cut]).is_err());
        }
    }
}
