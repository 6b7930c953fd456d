//! Persisted per-tenant label index: the streams of a tenant and, per label name and
//! value, the set of stream ids carrying it (a roaring bitmap). The engine writes one
//! at flush time and loads it at open instead of rebuilding the index from segments.
//!
//! ```text
//! "LJIDX" v1 0 0
//! tenant                               uvarint length + UTF-8
//! uvarint stream count, per stream:    uvarint id | u64 LE fingerprint | labels
//! uvarint name count, per name:        name | uvarint value count, per value:
//!                                      value | uvarint bitmap length | roaring bitmap
//! u32 LE crc32 of every byte before it
//! ```
//! Bitmaps use roaring's portable serialization. See `docs/FORMAT.md`.
//!
//! ```
//! use logjar::index_file::{index_path, TenantIndex};
//! use logjar::Labels;
//! use roaring::RoaringBitmap;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let labels = Labels::new([("app", "api")]).unwrap();
//! let idx = TenantIndex {
//!     tenant: "fake".into(),
//!     streams: vec![(0, labels.fingerprint(), labels)],
//!     postings: vec![("app".into(), vec![("api".into(), RoaringBitmap::from_iter([0u32]))])],
//! };
//! let path = index_path(dir.path(), 2);
//! idx.write(&path).unwrap();
//! assert_eq!(TenantIndex::read(&path).unwrap(), idx);
//! ```

use std::path::{Path, PathBuf};

pub use roaring::RoaringBitmap;

use crate::codec::{
    self, put_bytes, put_prefix, put_u32, put_u64, put_uvarint, DecodeError, Reader, PREFIX_LEN,
};
use crate::error::{Error, Result};
use crate::labels::{validate_tenant, Labels};
use crate::wal::record::{decode_labels, encode_labels};

/// Name of the index directory inside a database directory.
pub const DIR_NAME: &str = "index";
/// Index file format version written by this build.
pub const VERSION: u8 = 1;
const MAGIC: &[u8; 5] = b"LJIDX";

/// The path of index file `id` in the index directory `dir`: `dir/<id:016x>.idx`.
pub fn index_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.idx"))
}

/// The index files in `dir` as `(id, path)`, sorted by id; other names are ignored, a
/// missing directory is empty.
pub fn index_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    codec::numbered_files(dir, ".idx", crate::segment::parse_hex16)
}

/// A tenant's label index as stored on disk.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TenantIndex {
    /// The tenant.
    pub tenant: String,
    /// `(dense stream id, fingerprint, labels)` of every stream.
    pub streams: Vec<(u32, u64, Labels)>,
    /// `(label name, [(value, stream ids)])`.
    pub postings: Vec<(String, Vec<(String, RoaringBitmap)>)>,
}

impl TenantIndex {
    /// Encodes the file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 64 * self.streams.len());
        put_prefix(&mut out, MAGIC, VERSION);
        put_bytes(&mut out, self.tenant.as_bytes());
        put_uvarint(&mut out, self.streams.len() as u64);
        for (id, fp, labels) in &self.streams {
            put_uvarint(&mut out, u64::from(*id));
            put_u64(&mut out, *fp);
            encode_labels(&mut out, labels);
        }
        put_uvarint(&mut out, self.postings.len() as u64);
        let mut bm = Vec::new();
        for (name, values) in &self.postings {
            put_bytes(&mut out, name.as_bytes());
            put_uvarint(&mut out, values.len() as u64);
            for (value, bitmap) in values {
                put_bytes(&mut out, value.as_bytes());
                bm.clear();
                // Writing to a Vec cannot fail.
                let _ = bitmap.serialize_into(&mut bm);
                put_bytes(&mut out, &bm);
            }
        }
        let crc = crc32fast::hash(&out);
        put_u32(&mut out, crc);
        out
    }

    /// Decodes a file's bytes, checking the CRC before anything else; `path` is used
    /// in errors only.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<TenantIndex> {
        codec::check_prefix(path, bytes, MAGIC, VERSION)?;
        if bytes.len() < PREFIX_LEN + 4 {
            return Err(Error::corrupt(
                path,
                PREFIX_LEN as u64,
                "index file truncated",
            ));
        }
        let end = bytes.len() - 4;
        let stored = codec::le_u32_at(bytes, end).unwrap_or(0);
        if crc32fast::hash(&bytes[..end]) != stored {
            return Err(Error::corrupt(path, end as u64, "index file CRC mismatch"));
        }
        decode_body(&bytes[PREFIX_LEN..end])
            .map_err(|e| Error::corrupt(path, e.offset as u64, e.what))
    }

    /// Writes the index to `path` atomically (temp file, fsync, rename, directory
    /// fsync).
    pub fn write(&self, path: &Path) -> Result<()> {
        codec::write_atomic(path, &self.encode())
    }

    /// Reads and verifies the index at `path`.
    pub fn read(path: &Path) -> Result<TenantIndex> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        TenantIndex::decode(path, &bytes)
    }
}

fn decode_body(body: &[u8]) -> Result<TenantIndex, DecodeError> {
    let mut r = Reader::with_base(body, PREFIX_LEN);
    let at = r.pos();
    let tenant = r.str("tenant")?;
    validate_tenant(tenant).map_err(|e| r.err_at(at, e.to_string()))?;
    let n = r.count(12, "stream count")?;
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.uvarint_u32("stream id")?;
        let at = r.pos();
        let fp = r.u64("fingerprint")?;
        let labels = decode_labels(&mut r)?;
        if labels.fingerprint() != fp {
            return Err(r.err_at(at, "fingerprint does not match the labels"));
        }
        streams.push((id, fp, labels));
    }
    let n = r.count(2, "label name count")?;
    let mut postings = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str("label name")?.to_string();
        let k = r.count(2, "label value count")?;
        let mut values = Vec::with_capacity(k);
        for _ in 0..k {
            let value = r.str("label value")?.to_string();
            let at = r.pos();
            let raw = r.len_bytes("bitmap")?;
            let mut cur = std::io::Cursor::new(raw);
            let bitmap = RoaringBitmap::deserialize_from(&mut cur)
                .map_err(|e| r.err_at(at, format!("bad bitmap: {e}")))?;
            if cur.position() != raw.len() as u64 {
                return Err(r.err_at(at, "bitmap has trailing bytes"));
            }
            values.push((value, bitmap));
        }
        postings.push((name, values));
    }
    r.expect_end("index file")?;
    Ok(TenantIndex {
        tenant: tenant.to_string(),
        streams,
        postings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> TenantIndex {
        let a = Labels::new([("app", "api"), ("env", "prod")]).unwrap();
        let b = Labels::new([("app", "db")]).unwrap();
        TenantIndex {
            tenant: "team-a".into(),
            streams: vec![(0, a.fingerprint(), a), (7, b.fingerprint(), b)],
            postings: vec![
                (
                    "app".into(),
                    vec![
                        ("api".into(), RoaringBitmap::from_iter([0u32])),
                        ("db".into(), RoaringBitmap::from_iter([7u32])),
                    ],
                ),
                (
                    "env".into(),
                    vec![("prod".into(), (0..100_000u32).step_by(3).collect())],
                ),
            ],
        }
    }

    #[test]
    fn round_trip_and_listing() {
        let d = tempfile::tempdir().unwrap();
        let p = index_path(d.path(), 0x1f);
        sample().write(&p).unwrap();
        assert_eq!(TenantIndex::read(&p).unwrap(), sample());
        assert_eq!(index_files(d.path()).unwrap(), vec![(0x1f, p)]);
        let empty = TenantIndex {
            tenant: "t".into(),
            ..TenantIndex::default()
        };
        assert_eq!(
            TenantIndex::decode(Path::new("i"), &empty.encode()).unwrap(),
            empty
        );
    }

    #[test]
    fn bad_fingerprints_are_refused_even_with_a_valid_crc() {
        let mut idx = sample();
        idx.streams[0].1 ^= 1;
        let e = TenantIndex::decode(Path::new("i"), &idx.encode()).unwrap_err();
        assert!(e.to_string().contains("fingerprint"), "{e}");
    }

    #[test]
    fn every_flip_is_detected() {
        let good = sample().encode();
        for bit in (0..good.len() * 8).step_by(7) {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                TenantIndex::decode(Path::new("i"), &b).is_err(),
                "bit {bit}"
            );
        }
    }
}
