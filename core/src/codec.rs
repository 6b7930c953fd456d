//! Little-endian and varint helpers shared by every on-disk format.
//!
//! Writers append to a `Vec<u8>`; readers go through [`Reader`], whose every read is
//! bounds-checked and returns a [`DecodeError`] naming the byte offset instead of
//! panicking. Integers on disk are always little-endian; variable-length integers are
//! LEB128 (`uvarint`), signed ones zigzag-encoded first (`ivarint`), as in protobuf.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A structural problem found while decoding bytes: where (offset within the bytes
/// given to the decoder) and what. Callers that know the file turn it into
/// [`Error::Corrupt`] with [`DecodeError::into_corrupt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset, relative to the start of the decoded buffer.
    pub offset: usize,
    /// What check failed.
    pub what: String,
}

impl DecodeError {
    /// Builds a decode error.
    pub fn new(offset: usize, what: impl Into<String>) -> Self {
        DecodeError {
            offset,
            what: what.into(),
        }
    }

    /// Converts into [`Error::Corrupt`] for `path`, adding `base` (the offset of the
    /// decoded buffer within the file) to the offset.
    pub fn into_corrupt(self, path: &Path, base: u64) -> Error {
        Error::corrupt(path, base.saturating_add(self.offset as u64), self.what)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for DecodeError {}

/// Appends `v` as LEB128.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded, then as LEB128.
#[inline]
pub fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends a uvarint length followed by the bytes.
#[inline]
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends `v` as 4 little-endian bytes.
#[inline]
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as 8 little-endian bytes.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as 8 little-endian bytes (two's complement).
#[inline]
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Reads `u32` LE at `at` without a cursor; `None` when out of bounds.
#[inline]
pub fn le_u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads `u64` LE at `at` without a cursor; `None` when out of bounds.
#[inline]
pub fn le_u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// A bounds-checked cursor over bytes being decoded.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Added to `pos` in error offsets (the buffer's offset in a larger one).
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, reporting offsets relative to its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over `buf` reporting offsets as `base + position`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Current position within the buffer.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error at the current position.
    pub fn err(&self, what: impl Into<String>) -> DecodeError {
        DecodeError::new(self.base + self.pos, what)
    }

    /// An error at position `pos` of this buffer (as returned by [`Reader::pos`]).
    pub fn err_at(&self, pos: usize, what: impl Into<String>) -> DecodeError {
        DecodeError::new(self.base + pos, what)
    }

    /// Fails unless every byte was consumed.
    pub fn expect_end(&self, what: &str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} trailing bytes after {what}", self.remaining())))
        }
    }

    /// The next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "{what}: needs {n} bytes, only {} left",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next byte.
    #[inline]
    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// The next 2 bytes as `u16` LE.
    pub fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// The next 4 bytes as `u32` LE.
    #[inline]
    pub fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The next 8 bytes as `u64` LE.
    #[inline]
    pub fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// The next 8 bytes as `i64` LE.
    #[inline]
    pub fn i64(&mut self, what: &str) -> Result<i64, DecodeError> {
        Ok(self.u64(what)? as i64)
    }

    /// A LEB128 `u64` (at most 10 bytes, no overflow).
    #[inline]
    pub fn uvarint(&mut self, what: &str) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err(format!("{what}: varint runs past the end")));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(self.err(format!("{what}: varint overflows 64 bits")));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(self.err(format!("{what}: varint longer than 10 bytes")));
            }
        }
    }

    /// A zigzag LEB128 `i64`.
    #[inline]
    pub fn ivarint(&mut self, what: &str) -> Result<i64, DecodeError> {
        let u = self.uvarint(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A uvarint that must fit in `u32`.
    pub fn uvarint_u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let v = self.uvarint(what)?;
        u32::try_from(v).map_err(|_| self.err(format!("{what}: {v} does not fit in 32 bits")))
    }

    /// A uvarint count of items that each take at least `min_item_bytes` in the rest
    /// of the buffer: refuses counts the remaining bytes cannot hold, so a corrupt count
    /// never drives a large allocation.
    pub fn count(&mut self, min_item_bytes: usize, what: &str) -> Result<usize, DecodeError> {
        let v = self.uvarint(what)?;
        let max = self.remaining() / min_item_bytes.max(1);
        if v > max as u64 {
            return Err(self.err(format!(
                "{what}: count {v} cannot fit in the {} remaining bytes",
                self.remaining()
            )));
        }
        Ok(v as usize)
    }

    /// A uvarint length followed by that many bytes.
    pub fn len_bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let n = self.uvarint(what)?;
        if n > self.remaining() as u64 {
            return Err(self.err(format!(
                "{what}: length {n} runs past the end ({} bytes left)",
                self.remaining()
            )));
        }
        self.bytes(n as usize, what)
    }

    /// A uvarint length followed by that many bytes of UTF-8.
    pub fn str(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let b = self.len_bytes(what)?;
        std::str::from_utf8(b)
            .map_err(|_| DecodeError::new(self.base + start, format!("{what}: not valid UTF-8")))
    }
}

/// The 8-byte prefix that starts every logjar file: a 5-byte magic, a version byte
/// and two reserved zero bytes.
pub(crate) const PREFIX_LEN: usize = 8;

/// Appends the common file prefix.
pub(crate) fn put_prefix(out: &mut Vec<u8>, magic: &[u8; 5], version: u8) {
    out.extend_from_slice(magic);
    out.push(version);
    out.extend_from_slice(&[0, 0]);
}

/// Checks the common file prefix: magic, then the version against `supported`.
pub(crate) fn check_prefix(
    path: &Path,
    bytes: &[u8],
    magic: &[u8; 5],
    supported: u8,
) -> Result<()> {
    let Some(head) = bytes.get(..PREFIX_LEN) else {
        return Err(Error::corrupt(
            path,
            0,
            format!(
                "file too short for a header ({} bytes)",
                bytes.len().min(PREFIX_LEN)
            ),
        ));
    };
    if &head[..5] != magic {
        return Err(Error::corrupt(
            path,
            0,
            format!(
                "bad magic {:?}, expected {:?}",
                String::from_utf8_lossy(&head[..5]),
                String::from_utf8_lossy(magic)
            ),
        ));
    }
    if head[5] != supported {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: u32::from(head[5]),
            supported: supported.to_string(),
        });
    }
    if head[6..8] != [0, 0] {
        return Err(Error::corrupt(
            path,
            6,
            "reserved header bytes are not zero",
        ));
    }
    Ok(())
}

/// Fsyncs a directory so that file creations, renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let f = File::open(dir).map_err(|e| Error::io(dir, e))?;
    f.sync_all().map_err(|e| Error::io(dir, e))
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically: a sibling temp file is written and fsynced,
/// renamed over `path`, and the directory fsynced.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = tmp_path(path);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(&parent_dir(path))
}

/// `path` with `.tmp` appended to its file name.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Files in `dir` named `<number><suffix>` where the number is parsed by `parse`,
/// sorted by number. A missing directory gives an empty list; other names are ignored.
pub(crate) fn numbered_files(
    dir: &Path,
    suffix: &str,
    parse: fn(&str) -> Option<u64>,
) -> Result<Vec<(u64, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(suffix) else {
            continue;
        };
        if let Some(n) = parse(stem) {
            out.push((n, ent.path()));
        }
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        let vals = [0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX];
        let mut out = Vec::new();
        for v in vals {
            put_uvarint(&mut out, v);
        }
        let ivals = [0i64, -1, 1, i64::MIN, i64::MAX, -64, 64];
        for v in ivals {
            put_ivarint(&mut out, v);
        }
        let mut r = Reader::new(&out);
        for v in vals {
            assert_eq!(r.uvarint("v").unwrap(), v);
        }
        for v in ivals {
            assert_eq!(r.ivarint("v").unwrap(), v);
        }
        assert!(r.is_empty());
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        assert!(Reader::new(&[0x80; 11]).uvarint("v").is_err());
        assert!(Reader::new(&[0xff; 9]).uvarint("v").is_err());
        // 10th byte may only carry one bit
        let mut b = vec![0xff; 9];
        b.push(0x02);
        assert!(Reader::new(&b).uvarint("v").is_err());
        b[9] = 0x01;
        assert_eq!(Reader::new(&b).uvarint("v").unwrap(), u64::MAX);
    }

    #[test]
    fn counts_are_bounded_by_remaining_bytes() {
        let mut b = Vec::new();
        put_uvarint(&mut b, 1_000_000_000);
        b.extend_from_slice(&[0; 10]);
        let err = Reader::new(&b).count(1, "n").unwrap_err();
        assert_eq!(err.offset, b.len() - 10);
        let mut b = Vec::new();
        put_uvarint(&mut b, 5);
        b.extend_from_slice(&[0; 10]);
        assert_eq!(Reader::new(&b).count(2, "n").unwrap(), 5);
        assert!(Reader::new(&b).count(3, "n").is_err());
    }

    #[test]
    fn reads_past_end_report_offsets() {
        let mut r = Reader::with_base(&[1, 2, 3], 100);
        assert_eq!(r.u8("a").unwrap(), 1);
        let e = r.u32("b").unwrap_err();
        assert_eq!(e.offset, 101);
        assert!(Reader::new(&[5, b'a']).str("s").is_err());
        assert!(Reader::new(&[2, 0xff, 0xfe]).str("s").is_err());
        assert_eq!(Reader::new(&[2, b'o', b'k']).str("s").unwrap(), "ok");
    }

    #[test]
    fn prefix_checks() {
        let p = Path::new("f");
        let mut b = Vec::new();
        put_prefix(&mut b, b"LJTST", 1);
        assert!(check_prefix(p, &b, b"LJTST", 1).is_ok());
        assert!(matches!(
            check_prefix(p, &b, b"LJTST", 2),
            Err(Error::UnsupportedVersion { found: 1, .. })
        ));
        assert!(matches!(
            check_prefix(p, &b, b"LJXXX", 1),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            check_prefix(p, &b[..4], b"LJTST", 1),
            Err(Error::Corrupt { .. })
        ));
        b[7] = 1;
        assert!(check_prefix(p, &b, b"LJTST", 1).is_err());
    }
}
