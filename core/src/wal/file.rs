//! WAL files: the writer, the file listing and replay with torn-tail repair.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::codec::{self, put_prefix, put_u32, put_u64, PREFIX_LEN};
use crate::error::{Error, Result};

/// Name of the WAL directory inside a database directory.
pub const DIR_NAME: &str = "wal";
/// Current WAL file format version (the header's version byte).
pub const VERSION: u8 = 1;
/// Bytes in a WAL file header: prefix (8) + seq (8) + crc32 (4).
pub const HEADER_LEN: usize = PREFIX_LEN + 8 + 4;
/// Bytes in a record header: `len u32 | crc32 u32`.
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest payload a record may carry (128 MiB). Larger pushes must be split.
pub const MAX_RECORD_LEN: usize = 128 << 20;

const MAGIC: &[u8; 5] = b"LJWAL";
/// Bytes buffered before `append` pushes them to the OS by itself.
const BUFFER_BYTES: usize = 1 << 20;

/// The path of WAL file `seq` in the WAL directory `dir`: `dir/<seq:020>.wal`.
pub fn wal_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// The WAL files in `dir` as `(seq, path)`, sorted by seq. Names that are not exactly
/// 20 decimal digits followed by `.wal` are ignored; a missing directory is empty.
pub fn wal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    codec::numbered_files(dir, ".wal", |stem| {
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            stem.parse().ok()
        } else {
            None
        }
    })
}

fn encode_header(seq: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    put_prefix(&mut h, MAGIC, VERSION);
    put_u64(&mut h, seq);
    let crc = crc32fast::hash(&h);
    put_u32(&mut h, crc);
    h
}

/// Appends framed records to one WAL file.
///
/// Records are buffered in memory (1 MiB) and handed to the OS by
/// [`write_out`](Self::write_out) (or when the buffer fills); [`sync`](Self::sync) makes
/// them durable. After any I/O error the writer is poisoned: the file's tail is
/// unknown, so every later call fails and the engine must start a new file.
#[derive(Debug)]
pub struct WalWriter {
    file: File,
    path: PathBuf,
    seq: u64,
    buf: Vec<u8>,
    /// Bytes handed to the OS so far (header included).
    flushed: u64,
    /// Of those, the bytes known durable (fsynced by this writer).
    synced: u64,
    poisoned: Option<String>,
}

impl WalWriter {
    /// Creates `dir/<seq:020>.wal` (which must not exist), writes and fsyncs its header
    /// and fsyncs `dir`, so that the file survives a crash from then on.
    pub fn create(dir: &Path, seq: u64) -> Result<WalWriter> {
        let path = wal_path(dir, seq);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let header = encode_header(seq);
        file.write_all(&header).map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        codec::sync_dir(dir)?;
        Ok(WalWriter {
            file,
            path,
            seq,
            buf: Vec::with_capacity(BUFFER_BYTES),
            flushed: HEADER_LEN as u64,
            synced: HEADER_LEN as u64,
            poisoned: None,
        })
    }

    /// Reopens `dir/<seq:020>.wal` for appending when it is exactly an intact header
    /// for `seq` and nothing else — what an open that wrote nothing leaves behind — so
    /// that such an open (a query, `labels`, `stats`) neither creates, fsyncs nor
    /// deletes a file. Gives `Ok(None)` when the file is anything else (missing,
    /// longer, torn or corrupt: replay deals with it). The file and `dir` are fsynced
    /// before it is used (cheap when they are durable already), in case the process that
    /// created the file crashed before its own fsyncs.
    pub fn reopen_empty(dir: &Path, seq: u64) -> Result<Option<WalWriter>> {
        let path = wal_path(dir, seq);
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(&path) else {
            return Ok(None);
        };
        let mut header = [0u8; HEADER_LEN];
        let intact = file.metadata().is_ok_and(|m| m.len() == HEADER_LEN as u64)
            && file.read_exact(&mut header).is_ok()
            && parse_header(&path, &header).is_ok_and(|s| s == seq);
        if !intact {
            return Ok(None);
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        codec::sync_dir(dir)?;
        Ok(Some(WalWriter {
            file,
            path,
            seq,
            buf: Vec::with_capacity(BUFFER_BYTES),
            flushed: HEADER_LEN as u64,
            synced: HEADER_LEN as u64,
            poisoned: None,
        }))
    }

    /// Frames `payload` (`len | crc32 | payload`) into the buffer, writing the buffer
    /// out first when it is full. The payload must be 1 to [`MAX_RECORD_LEN`] bytes.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        self.check_poisoned()?;
        if payload.is_empty() || payload.len() > MAX_RECORD_LEN {
            return Err(Error::InvalidArgument(format!(
                "WAL record of {} bytes: records hold 1 to {MAX_RECORD_LEN} bytes",
                payload.len()
            )));
        }
        let framed = RECORD_HEADER_LEN + payload.len();
        if !self.buf.is_empty() && self.buf.len() + framed > BUFFER_BYTES {
            self.write_out()?;
        }
        let mut header = [0u8; RECORD_HEADER_LEN];
        header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        if framed > BUFFER_BYTES {
            // Too big to buffer: straight to the OS, without copying the payload.
            self.write_raw(&header)?;
            return self.write_raw(payload);
        }
        self.buf.extend_from_slice(&header);
        self.buf.extend_from_slice(payload);
        if self.buf.len() >= BUFFER_BYTES {
            self.write_out()?;
        }
        Ok(())
    }

    /// Frames a payload that `encode` appends straight into the writer's buffer (no
    /// intermediate copy), and returns the payload's length. `encode` must append the
    /// payload and nothing else; a payload that is empty or longer than
    /// [`MAX_RECORD_LEN`] is removed again and refused with
    /// [`Error::InvalidArgument`], leaving the log as it was. The buffer is handed to
    /// the OS when it reaches its size (1 MiB), as with [`append`](Self::append).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = logjar::wal::WalWriter::create(dir.path(), 1).unwrap();
    /// let n = w.append_with(|buf| buf.extend_from_slice(b"payload")).unwrap();
    /// assert_eq!(n, 7);
    /// assert!(w.append_with(|_| {}).is_err()); // empty: refused, nothing written
    /// assert_eq!(w.bytes_written(), (logjar::wal::HEADER_LEN + 8 + 7) as u64);
    /// ```
    pub fn append_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<usize> {
        self.check_poisoned()?;
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
        let body = start + RECORD_HEADER_LEN;
        encode(&mut self.buf);
        let len = self.buf.len() - body;
        if len == 0 || len > MAX_RECORD_LEN {
            self.buf.truncate(start);
            self.shrink_buf();
            return Err(Error::InvalidArgument(format!(
                "WAL record of {len} bytes: records hold 1 to {MAX_RECORD_LEN} bytes"
            )));
        }
        let crc = crc32fast::hash(&self.buf[body..]);
        self.buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
        self.buf[start + 4..body].copy_from_slice(&crc.to_le_bytes());
        if self.buf.len() >= BUFFER_BYTES {
            self.write_out()?;
        }
        Ok(len)
    }

    /// Gives back memory a very large record made the buffer take.
    fn shrink_buf(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 4 * BUFFER_BYTES {
            self.buf = Vec::with_capacity(BUFFER_BYTES);
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.file.write_all(bytes) {
            self.poisoned = Some(format!("WAL write to {} failed: {e}", self.path.display()));
            return Err(Error::io(&self.path, e));
        }
        self.flushed += bytes.len() as u64;
        Ok(())
    }

    /// Hands every buffered byte to the OS (no fsync): survives a process crash, not a
    /// power loss.
    pub fn write_out(&mut self) -> Result<()> {
        self.check_poisoned()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let res = self.write_raw(&buf);
        self.buf = buf;
        res?;
        self.buf.clear();
        self.shrink_buf();
        Ok(())
    }

    /// [`write_out`](Self::write_out), then `fdatasync`: every appended record is
    /// durable when this returns.
    /// Without anything appended since this writer's last sync, no fsync is needed
    /// and none is made (closing a database that was only read costs no disk flush).
    pub fn sync(&mut self) -> Result<()> {
        self.write_out()?;
        if self.flushed == self.synced {
            return Ok(());
        }
        if let Err(e) = self.file.sync_data() {
            self.poisoned = Some(format!("WAL fsync of {} failed: {e}", self.path.display()));
            return Err(Error::io(&self.path, e));
        }
        self.synced = self.flushed;
        Ok(())
    }

    /// The file's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's logical size: header plus every appended record, buffered or not.
    pub fn bytes_written(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn check_poisoned(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::Closed(Some(why.clone()))),
            None => Ok(()),
        }
    }
}

impl Drop for WalWriter {
    /// Hands buffered records to the OS, as `BufWriter` does; errors are ignored
    /// (call [`WalWriter::sync`] to know).
    fn drop(&mut self) {
        if self.poisoned.is_none() && !self.buf.is_empty() {
            let _ = self.file.write_all(&self.buf);
        }
    }
}

/// A torn last record that [`replay_file`] cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The WAL file.
    pub path: PathBuf,
    /// Where the torn record started; the file now ends here.
    pub offset: u64,
    /// Bytes removed from the end of the file.
    pub discarded_bytes: u64,
}

/// What [`replay_file`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// The sequence number in the file header.
    pub seq: u64,
    /// Records passed to the callback.
    pub records: u64,
    /// Payload bytes passed to the callback.
    pub bytes: u64,
    /// Set when a torn last record was truncated away.
    pub torn_tail: Option<TornTail>,
}

/// Reads every record of one WAL file in order, passing each payload to `on_record`
/// (an error from the callback stops the replay and is returned as is).
///
/// A bad record — the file ends inside its header, its length runs past the end of
/// the file or is out of range, or its CRC does not match — is a torn last record,
/// the normal result of a crash mid-write, when no valid record (a frame of a known
/// record type with a matching CRC) starts anywhere after its header: the file is
/// truncated at the start of that record (`set_len` + fsync) and the cut is reported
/// in [`ReplayOutcome::torn_tail`]. A file shorter than its header whose bytes are a
/// prefix of a valid header (a crash inside [`WalWriter::create`]) is truncated to
/// zero bytes the same way.
///
/// A bad record followed by a valid one is [`Error::Corrupt`] with the bad record's
/// offset, and the file is left untouched; a bad header is [`Error::Corrupt`] or
/// [`Error::UnsupportedVersion`]. No input bytes make this panic, and memory use is
/// bounded by the file size.
pub fn replay_file(
    path: &Path,
    on_record: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<ReplayOutcome> {
    replay_file_with(path, true, on_record)
}

/// [`replay_file`], but with `repair == false` a torn tail is only reported (and
/// skipped), never cut off: the file is not written (read-only opens).
pub fn replay_file_with(
    path: &Path,
    repair: bool,
    on_record: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<ReplayOutcome> {
    let truncate = |path: &Path, offset: u64, file_len: u64| {
        if repair {
            truncate(path, offset, file_len)
        } else {
            Ok(torn_tail(path, offset, file_len))
        }
    };
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, &mut file);

    if file_len < HEADER_LEN as u64 {
        let mut head = Vec::new();
        reader
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        return short_file(path, &head, truncate);
    }
    let mut header = [0u8; HEADER_LEN];
    reader
        .read_exact(&mut header)
        .map_err(|e| Error::io(path, e))?;
    let seq = parse_header(path, &header)?;

    let mut out = ReplayOutcome {
        seq,
        records: 0,
        bytes: 0,
        torn_tail: None,
    };
    let mut pos = HEADER_LEN as u64;
    let mut payload = Vec::new();
    loop {
        let left = file_len - pos;
        if left == 0 {
            return Ok(out);
        }
        if left < RECORD_HEADER_LEN as u64 {
            drop(reader);
            out.torn_tail = Some(truncate(path, pos, file_len)?);
            return Ok(out);
        }
        let mut rh = [0u8; RECORD_HEADER_LEN];
        reader.read_exact(&mut rh).map_err(|e| Error::io(path, e))?;
        let len = u32::from_le_bytes([rh[0], rh[1], rh[2], rh[3]]) as u64;
        let crc = u32::from_le_bytes([rh[4], rh[5], rh[6], rh[7]]);
        let body_left = left - RECORD_HEADER_LEN as u64;
        let problem = if len == 0 || len > MAX_RECORD_LEN as u64 {
            Some(format!(
                "record length {len} out of range 1..={MAX_RECORD_LEN}"
            ))
        } else if len > body_left {
            // Normally the record was being written when the process or machine
            // stopped. But if a whole valid record starts somewhere after this header,
            // the length itself was damaged mid-file: refuse rather than drop data.
            drop(reader);
            let tail_start = pos + RECORD_HEADER_LEN as u64;
            if valid_record_within(&mut file, path, tail_start, file_len)? {
                return Err(Error::corrupt(
                    path,
                    pos,
                    format!(
                        "record length {len} runs past the end of the file, \
                         but valid records follow"
                    ),
                ));
            }
            out.torn_tail = Some(truncate(path, pos, file_len)?);
            return Ok(out);
        } else {
            payload.resize(len as usize, 0);
            reader
                .read_exact(&mut payload)
                .map_err(|e| Error::io(path, e))?;
            if crc32fast::hash(&payload) != crc {
                Some("record CRC mismatch".to_string())
            } else {
                None
            }
        };
        match problem {
            None => {
                on_record(&payload)?;
                out.records += 1;
                out.bytes += len;
                pos += RECORD_HEADER_LEN as u64 + len;
            }
            Some(what) => {
                // Torn unless a valid record follows: damage to the last record, or
                // zeros / stale bytes after it, are what a crash mid-write leaves. The
                // search starts right after this header, since a damaged length may
                // have swallowed the records that follow.
                let rest_start = pos + RECORD_HEADER_LEN as u64;
                drop(reader);
                if !valid_record_within(&mut file, path, rest_start, file_len)? {
                    out.torn_tail = Some(truncate(path, pos, file_len)?);
                    return Ok(out);
                }
                return Err(Error::corrupt(
                    path,
                    pos,
                    format!("{what}, and valid records follow"),
                ));
            }
        }
    }
}

fn parse_header(path: &Path, header: &[u8]) -> Result<u64> {
    codec::check_prefix(path, header, MAGIC, VERSION)?;
    let stored = codec::le_u32_at(header, PREFIX_LEN + 8).unwrap_or(0);
    if crc32fast::hash(&header[..PREFIX_LEN + 8]) != stored {
        return Err(Error::corrupt(path, 0, "WAL header CRC mismatch"));
    }
    Ok(codec::le_u64_at(header, PREFIX_LEN).unwrap_or(0))
}

/// A file shorter than a header: torn inside `create` if its bytes are a prefix of a
/// header (magic and version so far), corrupt otherwise.
fn short_file(
    path: &Path,
    head: &[u8],
    truncate: impl Fn(&Path, u64, u64) -> Result<TornTail>,
) -> Result<ReplayOutcome> {
    let mut expect = Vec::with_capacity(PREFIX_LEN);
    put_prefix(&mut expect, MAGIC, VERSION);
    let n = head.len().min(PREFIX_LEN);
    let zeros = head.iter().all(|&b| b == 0);
    if head[..n] != expect[..n] && !zeros {
        codec::check_prefix(path, head, MAGIC, VERSION)?;
        return Err(Error::corrupt(path, 0, "truncated WAL header"));
    }
    let torn_tail = if head.is_empty() {
        None
    } else {
        Some(truncate(path, 0, head.len() as u64)?)
    };
    Ok(ReplayOutcome {
        seq: 0,
        records: 0,
        bytes: 0,
        torn_tail,
    })
}

/// Most candidate frames [`valid_record_within`] checks before assuming one is there.
const MAX_CANDIDATES: usize = 1 << 16;

/// True when a complete, CRC-valid record of a known type starts at some byte offset in
/// `[from, to)` of the file. Gives up (returning true, the safe answer) after
/// [`MAX_CANDIDATES`] plausible headers.
fn valid_record_within(file: &mut File, path: &Path, from: u64, to: u64) -> Result<bool> {
    use std::io::{Seek, SeekFrom};
    if to <= from {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io(path, e))?;
    let mut tail = Vec::new();
    file.take(to - from)
        .read_to_end(&mut tail)
        .map_err(|e| Error::io(path, e))?;
    let mut candidates = 0;
    for o in 0..tail.len().saturating_sub(RECORD_HEADER_LEN) {
        let len = codec::le_u32_at(&tail, o).unwrap_or(0) as usize;
        let body = o + RECORD_HEADER_LEN;
        if len == 0 || len > MAX_RECORD_LEN || len > tail.len() - body {
            continue;
        }
        if !super::record::KNOWN_TYPES.contains(&tail[body]) {
            continue;
        }
        candidates += 1;
        if candidates > MAX_CANDIDATES {
            return Ok(true);
        }
        if crc32fast::hash(&tail[body..body + len]) == codec::le_u32_at(&tail, o + 4).unwrap_or(0) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn truncate(path: &Path, offset: u64, file_len: u64) -> Result<TornTail> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.set_len(offset).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(torn_tail(path, offset, file_len))
}

/// Reports a torn last record at `offset` (logged as a warning).
fn torn_tail(path: &Path, offset: u64, file_len: u64) -> TornTail {
    log::warn!(
        "WAL {}: torn last record at byte {offset}, {} bytes discarded",
        path.display(),
        file_len - offset
    );
    TornTail {
        path: path.to_path_buf(),
        offset,
        discarded_bytes: file_len - offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay_all(path: &Path) -> Result<(Vec<Vec<u8>>, ReplayOutcome)> {
        let mut v = Vec::new();
        let o = replay_file(path, &mut |p| {
            v.push(p.to_vec());
            Ok(())
        })?;
        Ok((v, o))
    }

    fn write_records(dir: &Path, seq: u64, recs: &[&[u8]]) -> PathBuf {
        let mut w = WalWriter::create(dir, seq).unwrap();
        for r in recs {
            w.append(r).unwrap();
        }
        w.sync().unwrap();
        w.path().to_path_buf()
    }

    #[test]
    fn round_trip_and_listing() {
        let d = tempfile::tempdir().unwrap();
        let p = write_records(d.path(), 3, &[b"a", b"bb", &[7u8; 5000]]);
        write_records(d.path(), 1, &[b"x"]);
        std::fs::write(d.path().join("junk.wal"), b"x").unwrap();
        std::fs::write(d.path().join("00000000000000000002.wal.tmp"), b"x").unwrap();
        let files = wal_files(d.path()).unwrap();
        assert_eq!(
            files.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![1, 3],
            "{files:?}"
        );
        let (recs, o) = replay_all(&p).unwrap();
        assert_eq!(recs, vec![b"a".to_vec(), b"bb".to_vec(), vec![7u8; 5000]]);
        assert_eq!(o.records, 3);
        assert_eq!(o.bytes, 5003);
        assert_eq!(o.seq, 3);
        assert!(o.torn_tail.is_none());
        assert!(wal_files(&d.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn bytes_written_counts_buffered_records_and_large_records_pass() {
        let d = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(d.path(), 0).unwrap();
        assert_eq!(w.bytes_written(), HEADER_LEN as u64);
        w.append(b"hello").unwrap();
        assert_eq!(w.bytes_written(), (HEADER_LEN + 8 + 5) as u64);
        let big = vec![1u8; 3 << 20];
        w.append(&big).unwrap();
        w.append(b"tail").unwrap();
        w.write_out().unwrap();
        let len = std::fs::metadata(w.path()).unwrap().len();
        assert_eq!(len, w.bytes_written());
        let p = w.path().to_path_buf();
        drop(w);
        let (recs, _) = replay_all(&p).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1], big);
    }

    #[test]
    fn empty_records_and_existing_files_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(d.path(), 0).unwrap();
        assert!(matches!(w.append(b""), Err(Error::InvalidArgument(_))));
        assert!(WalWriter::create(d.path(), 0).is_err());
    }

    #[test]
    fn only_a_bare_intact_header_is_reopened_for_appending() {
        let d = tempfile::tempdir().unwrap();
        // A bare header (an open that wrote nothing): reopened, and what is appended
        // after it replays.
        drop(WalWriter::create(d.path(), 4).unwrap());
        let mut w = WalWriter::reopen_empty(d.path(), 4)
            .unwrap()
            .expect("bare header");
        assert_eq!((w.seq(), w.bytes_written()), (4, HEADER_LEN as u64));
        w.append(b"after").unwrap();
        w.sync().unwrap();
        let p = w.path().to_path_buf();
        drop(w);
        assert_eq!(replay_all(&p).unwrap().0, vec![b"after".to_vec()]);
        // Records in it, a missing file, another seq's header, a torn or corrupt header:
        // never reopened (replay reports or truncates those).
        assert!(WalWriter::reopen_empty(d.path(), 4).unwrap().is_none());
        assert!(WalWriter::reopen_empty(d.path(), 5).unwrap().is_none());
        drop(WalWriter::create(d.path(), 6).unwrap());
        std::fs::rename(wal_path(d.path(), 6), wal_path(d.path(), 7)).unwrap();
        assert!(WalWriter::reopen_empty(d.path(), 7).unwrap().is_none());
        let header = encode_header(8);
        std::fs::write(wal_path(d.path(), 8), &header[..HEADER_LEN - 1]).unwrap();
        assert!(WalWriter::reopen_empty(d.path(), 8).unwrap().is_none());
        let mut bad = header.clone();
        bad[PREFIX_LEN] ^= 1;
        std::fs::write(wal_path(d.path(), 8), &bad).unwrap();
        assert!(WalWriter::reopen_empty(d.path(), 8).unwrap().is_none());
    }

    #[test]
    fn sync_without_new_bytes_still_keeps_later_records_durable() {
        let d = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(d.path(), 0).unwrap();
        w.sync().unwrap(); // nothing appended: no fsync needed
        w.append(b"one").unwrap();
        w.sync().unwrap();
        w.sync().unwrap();
        w.append(b"two").unwrap();
        w.sync().unwrap();
        let len = std::fs::metadata(w.path()).unwrap().len();
        assert_eq!(len, w.bytes_written());
        assert_eq!(
            replay_all(w.path()).unwrap().0,
            vec![b"one".to_vec(), b"two".to_vec()]
        );
    }

    #[test]
    fn drop_writes_out_buffered_records() {
        let d = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(d.path(), 0).unwrap();
        w.append(b"kept").unwrap();
        let p = w.path().to_path_buf();
        drop(w);
        assert_eq!(replay_all(&p).unwrap().0, vec![b"kept".to_vec()]);
    }

    #[test]
    fn torn_tails_are_truncated() {
        let d = tempfile::tempdir().unwrap();
        let p = write_records(d.path(), 0, &[b"one", b"two", b"three"]);
        let full = std::fs::read(&p).unwrap();
        let last_start = full.len() - 13;
        // Cut anywhere inside the last record.
        for cut in last_start + 1..full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            let (recs, o) = replay_all(&p).unwrap();
            assert_eq!(recs.len(), 2, "cut at {cut}");
            let t = o.torn_tail.unwrap();
            assert_eq!(t.offset, last_start as u64);
            assert_eq!(t.discarded_bytes, (cut - last_start) as u64);
            assert_eq!(std::fs::metadata(&p).unwrap().len(), last_start as u64);
        }
        // Bad CRC on the last record, then zero padding.
        let mut b = full.clone();
        *b.last_mut().unwrap() ^= 1;
        b.extend_from_slice(&[0u8; 4096]);
        std::fs::write(&p, &b).unwrap();
        let (recs, o) = replay_all(&p).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(o.torn_tail.unwrap().offset, last_start as u64);
        // Zero-filled tail after valid records.
        let mut b = full.clone();
        b.extend_from_slice(&[0u8; 100]);
        std::fs::write(&p, &b).unwrap();
        let (recs, o) = replay_all(&p).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(o.torn_tail.unwrap().offset, full.len() as u64);
    }

    #[test]
    fn bad_record_before_valid_data_is_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let p = write_records(d.path(), 0, &[b"\x01one", b"\x01two", b"\x01three"]);
        let mut b = std::fs::read(&p).unwrap();
        let second = HEADER_LEN + 8 + 4;
        b[second + 9] ^= 0x20; // payload of "two"
        std::fs::write(&p, &b).unwrap();
        match replay_all(&p) {
            Err(Error::Corrupt { offset, .. }) => assert_eq!(offset, second as u64),
            other => panic!("{other:?}"),
        }
        // The file was not modified.
        assert_eq!(std::fs::read(&p).unwrap(), b);
        // Stale non-zero bytes after a damaged last record hold no valid record: torn.
        let mut b = std::fs::read(&p).unwrap();
        b[second + 9] ^= 0x20;
        let last = b.len() - 14;
        b[last + 10] ^= 1;
        b.extend_from_slice(b"stale bytes from an old page");
        std::fs::write(&p, &b).unwrap();
        let (got, o) = replay_all(&p).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(o.torn_tail.unwrap().offset, last as u64);
    }

    #[test]
    fn damaged_length_mid_file_is_corrupt_not_torn() {
        let d = tempfile::tempdir().unwrap();
        let recs: [&[u8]; 3] = [b"\x01one", b"\x01two", b"\x01three"];
        let p = write_records(d.path(), 0, &recs);
        let good = std::fs::read(&p).unwrap();
        // Every bit of the first record's length that makes it run past the end.
        for bit in 0..27 {
            let mut b = good.clone();
            b[HEADER_LEN + bit / 8] ^= 1 << (bit % 8);
            std::fs::write(&p, &b).unwrap();
            match replay_all(&p) {
                Err(Error::Corrupt { offset, .. }) => assert_eq!(offset, HEADER_LEN as u64),
                other => panic!("bit {bit}: {other:?}"),
            }
        }
        // The same damage on the last record is a torn tail.
        let last = good.len() - 14;
        let mut b = good.clone();
        b[last + 2] ^= 1;
        std::fs::write(&p, &b).unwrap();
        let (got, o) = replay_all(&p).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(o.torn_tail.unwrap().offset, last as u64);
    }

    #[test]
    fn headers_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let p = write_records(d.path(), 9, &[b"one"]);
        let full = std::fs::read(&p).unwrap();
        let mut b = full.clone();
        b[5] = 2;
        std::fs::write(&p, &b).unwrap();
        assert!(matches!(
            replay_all(&p),
            Err(Error::UnsupportedVersion { found: 2, .. })
        ));
        let mut b = full.clone();
        b[10] ^= 1; // seq
        std::fs::write(&p, &b).unwrap();
        assert!(matches!(
            replay_all(&p),
            Err(Error::Corrupt { offset: 0, .. })
        ));
        // A crash inside create: a prefix of the header.
        std::fs::write(&p, &full[..6]).unwrap();
        let (recs, o) = replay_all(&p).unwrap();
        assert!(recs.is_empty());
        assert_eq!(o.torn_tail.unwrap().discarded_bytes, 6);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
        let (_, o) = replay_all(&p).unwrap();
        assert!(o.torn_tail.is_none());
        std::fs::write(&p, b"garbage").unwrap();
        assert!(matches!(replay_all(&p), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn callback_errors_stop_replay() {
        let d = tempfile::tempdir().unwrap();
        let p = write_records(d.path(), 0, &[b"one", b"two"]);
        let mut n = 0;
        let r = replay_file(&p, &mut |_| {
            n += 1;
            Err(Error::InvalidArgument("stop".into()))
        });
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        assert_eq!(n, 1);
    }
}
