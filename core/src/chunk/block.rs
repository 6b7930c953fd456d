//! One block: the unit of compression, checksumming and decoding.
//!
//! Version 3 (written by this build; versions 1 and 2 are still read):
//!
//! ```text
//! u8      version (3)
//! u8      flags: bit 0 = a metadata section follows; bit 1 = a timestamp-texts section follows
//! uvarint n, entries (1..=MAX_BLOCK_ENTRIES)
//! i64 LE  first timestamp
//! section columns: u8 wt (0..=64), uvarint min delta, u8 wl (0..=32), uvarint min length,
//!         then the n-1 deltas ts[i+1]-ts[i] minus the min delta packed at wt bits each,
//!         then the n line lengths minus the min length packed at wl bits each
//!         (least significant bit first, each run padded to a whole byte)
//! u32 LE  head crc: crc32 of every byte before it
//! section lines:      the n lines, concatenated, minus the timestamp texts
//! section ts texts:   (if flag) u8 width w (1..=3), then w byte planes of n bytes: per
//!                     entry 0, or 1 + 10 * position + fraction digits of the RFC 3339
//!                     text of its own timestamp that was left out of its line
//! section metadata:   (if flag) uvarint symbol count, symbols (uvarint len + UTF-8),
//!                     then per entry: uvarint pair count, pairs of uvarint symbol ids
//! u32 LE  crc32 of every byte before it
//! ```
//! Each section is framed as `u8 codec (0 raw, 1 zstd) | uvarint raw_len |
//! [uvarint stored_len, if zstd] | bytes`. Line lengths are always the lengths of the
//! whole lines (texts included). `docs/FORMAT.md` has every version byte by byte.

use std::cell::RefCell;
use std::fmt;

use super::{bits, tstext};
use crate::codec::{put_i64, put_u32, put_uvarint, DecodeError, Reader};

/// Block layout version written by this build (versions 1 and 2 are still read).
pub const BLOCK_VERSION: u8 = 3;
/// Most entries one block may hold.
pub const MAX_BLOCK_ENTRIES: usize = 1 << 22;
/// Most line bytes one block may hold (1 GiB).
pub const MAX_BLOCK_LINES_BYTES: usize = 1 << 30;
/// Longest line a chunk accepts (512 MiB).
pub const MAX_LINE_LEN: usize = 512 << 20;
/// Most bytes of metadata section one block may hold (1 GiB).
const MAX_META_BYTES: usize = 1 << 30;

const FLAG_METADATA: u8 = 1;
/// Version 3: some lines' timestamp texts were left out (`tstext`).
const FLAG_TS_TEXT: u8 = 2;
const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// The version 2 and 3 columns section is compressed only when zstd shrinks it this
/// many times (see `encode_block_as`).
const COLUMNS_MIN_RATIO: usize = 2;
/// Sections smaller than this are stored raw: compressing them saves nothing.
const MIN_COMPRESS: usize = 64;

/// Idle deflaters, shared by every chunk builder of the process.
static POOL: std::sync::Mutex<Vec<Deflater>> = std::sync::Mutex::new(Vec::new());
/// Most idle deflaters kept (each holds a zstd context of a few MiB at most).
const POOL_MAX: usize = 4;

/// Compression state reused from block to block by the encoder.
pub(crate) struct Deflater {
    level: i32,
    cctx: zstd::bulk::Compressor<'static>,
    out: Vec<u8>,
    plane: Vec<u8>,
    /// Version 3: each entry's timestamp-text mark, and the lines without the texts.
    marks: Vec<u32>,
    stripped: Vec<u8>,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater").finish_non_exhaustive()
    }
}

impl Deflater {
    pub(crate) fn new(level: i32) -> Self {
        // Creating a zstd context only fails when memory cannot be allocated, which
        // aborts the process anyway.
        let cctx = zstd::bulk::Compressor::new(level).expect("allocate a zstd compression context");
        Deflater {
            level,
            cctx,
            out: Vec::new(),
            plane: Vec::new(),
            marks: Vec::new(),
            stripped: Vec::new(),
        }
    }

    /// A deflater set to `level`, from the pool when one is there: a chunk builder is
    /// made per cut, and a fresh zstd context per cut would cost more than small
    /// chunks' compression.
    pub(crate) fn take(level: i32) -> Self {
        let pooled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(mut d) = pooled {
            if d.level == level || d.cctx.set_compression_level(level).is_ok() {
                d.level = level;
                d.out.clear();
                return d;
            }
        }
        Deflater::new(level)
    }

    /// Returns the deflater to the pool (dropped when the pool is full).
    pub(crate) fn give_back(self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(self);
        }
    }

    /// Appends a framed section holding `raw` to `dst`, compressed when that helps.
    fn section(&mut self, dst: &mut Vec<u8>, raw: &[u8]) {
        self.section_saving(dst, raw, 1);
    }

    /// Appends a framed section holding `raw` to `dst`, compressed only when that makes
    /// it smaller than `raw.len() * (min_ratio - 1) / min_ratio`, e.g. at least halves
    /// it for 2 (1: any saving at all).
    fn section_saving(&mut self, dst: &mut Vec<u8>, raw: &[u8], min_ratio: usize) {
        if raw.len() >= MIN_COMPRESS {
            self.out.clear();
            self.out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
            if let Ok(n) = self.cctx.compress_to_buffer(raw, &mut self.out) {
                let small_enough = if min_ratio <= 1 {
                    n < raw.len()
                } else {
                    n.saturating_mul(min_ratio) <= raw.len()
                };
                if small_enough {
                    dst.push(CODEC_ZSTD);
                    put_uvarint(dst, raw.len() as u64);
                    put_uvarint(dst, n as u64);
                    dst.extend_from_slice(&self.out[..n]);
                    return;
                }
            }
        }
        dst.push(CODEC_RAW);
        put_uvarint(dst, raw.len() as u64);
        dst.extend_from_slice(raw);
    }
}

/// The entries of one block being encoded, borrowed from the chunk builder.
pub(crate) struct BlockInput<'a> {
    pub ts: &'a [i64],
    pub lens: &'a [u32],
    pub lines: &'a [u8],
    /// Raw metadata section content, `None` when no entry has metadata.
    pub metadata: Option<&'a [u8]>,
}

/// Appends one encoded block to `dst` in the current layout ([`BLOCK_VERSION`]);
/// returns the block's CRC.
pub(crate) fn encode_block(d: &mut Deflater, input: &BlockInput<'_>, dst: &mut Vec<u8>) -> u32 {
    encode_block_as(d, input, dst, BLOCK_VERSION)
}

/// Appends one block in layout `version` (1, 2 or 3; tests write the older ones to
/// check that they still read).
pub(crate) fn encode_block_as(
    d: &mut Deflater,
    input: &BlockInput<'_>,
    dst: &mut Vec<u8>,
    version: u8,
) -> u32 {
    let n = input.ts.len();
    debug_assert!((1..=MAX_BLOCK_ENTRIES).contains(&n) && input.lens.len() == n);
    let start = dst.len();
    let ts_texts = version >= 3 && find_ts_texts(d, input);
    dst.push(version);
    let mut flags = 0;
    if input.metadata.is_some() {
        flags |= FLAG_METADATA;
    }
    if ts_texts {
        flags |= FLAG_TS_TEXT;
    }
    dst.push(flags);
    put_uvarint(dst, n as u64);
    put_i64(dst, input.ts[0]);

    let mut plane = std::mem::take(&mut d.plane);
    plane.clear();
    let deltas = || input.ts.windows(2).map(|w| w[1].wrapping_sub(w[0]) as u64);
    // One pass each for the ranges of the deltas and of the lengths (n >= 1).
    let (min_delta, max_delta) = deltas().fold((u64::MAX, 0), |(lo, hi), d| (lo.min(d), hi.max(d)));
    let min_delta = min_delta.min(max_delta);
    let (min_len, max_len) = input
        .lens
        .iter()
        .fold((u32::MAX, 0), |(lo, hi), &l| (lo.min(l), hi.max(l)));
    let (min_len, max_len) = (u64::from(min_len), u64::from(max_len));
    if version >= 3 {
        // Frame-of-reference bit packing (`bits`): a stream's deltas and lengths spread
        // over a narrow range. Stored raw unless zstd halves it, as in version 2.
        let wt = bits::width(max_delta - min_delta);
        let wl = bits::width(max_len - min_len);
        plane.push(wt as u8);
        put_uvarint(&mut plane, min_delta);
        plane.push(wl as u8);
        put_uvarint(&mut plane, min_len);
        bits::pack(&mut plane, deltas().map(|x| x - min_delta), wt);
        bits::pack(
            &mut plane,
            input.lens.iter().map(|&l| u64::from(l) - min_len),
            wl,
        );
        d.section_saving(dst, &plane, COLUMNS_MIN_RATIO);
        let head_crc = crc32fast::hash(&dst[start..]);
        put_u32(dst, head_crc);
    } else {
        let wt = byte_width(max_delta);
        let wl = byte_width(max_len);
        let ts_planes = |plane: &mut Vec<u8>| {
            for k in 0..wt {
                plane.extend(deltas().map(|x| (x >> (8 * k)) as u8));
            }
        };
        let len_planes = |plane: &mut Vec<u8>| {
            for k in 0..wl {
                plane.extend(input.lens.iter().map(|&l| (l >> (8 * k)) as u8));
            }
        };
        if version == 1 {
            plane.push(wt as u8);
            ts_planes(&mut plane);
            d.section(dst, &plane);
            plane.clear();
            plane.push(wl as u8);
            len_planes(&mut plane);
            d.section(dst, &plane);
        } else {
            // One columns section, then a CRC of everything so far: a sizes-only read
            // checks and decompresses nothing after it. The columns are compressed only
            // when that halves them: irregular timestamps barely compress (about 15 % on
            // the gen_logs data), and then the zstd frame costs a sizes-only read more
            // than the few bytes it saves (docs/PERFORMANCE.md, "Queries").
            plane.push(wt as u8);
            plane.push(wl as u8);
            ts_planes(&mut plane);
            len_planes(&mut plane);
            d.section_saving(dst, &plane, COLUMNS_MIN_RATIO);
            let head_crc = crc32fast::hash(&dst[start..]);
            put_u32(dst, head_crc);
        }
    }

    if ts_texts {
        let stripped = std::mem::take(&mut d.stripped);
        d.section(dst, &stripped);
        d.stripped = stripped;
        let max_mark = d.marks.iter().copied().max().unwrap_or(0);
        let w = byte_width(u64::from(max_mark));
        plane.clear();
        plane.push(w as u8);
        for k in 0..w {
            plane.extend(d.marks.iter().map(|&m| (m >> (8 * k)) as u8));
        }
        d.section(dst, &plane);
    } else {
        d.section(dst, input.lines);
    }
    d.plane = plane;
    if let Some(md) = input.metadata {
        d.section(dst, md);
    }
    let crc = crc32fast::hash(&dst[start..]);
    put_u32(dst, crc);
    crc
}

/// Looks for each entry's own timestamp text in its line (`tstext`); when some line
/// has it, fills `d.marks` and `d.stripped` (the lines without those texts) and
/// returns true.
fn find_ts_texts(d: &mut Deflater, input: &BlockInput<'_>) -> bool {
    let mut finder = tstext::Finder::new();
    d.marks.clear();
    let mut off = 0usize;
    let mut any = false;
    for (&ts, &len) in input.ts.iter().zip(input.lens) {
        let line = &input.lines[off..off + len as usize];
        off += len as usize;
        let m = match finder.find(ts, line) {
            Some((pos, digits)) => {
                any = true;
                tstext::mark(pos, digits)
            }
            None => 0,
        };
        d.marks.push(m);
    }
    if !any {
        return false;
    }
    d.stripped.clear();
    d.stripped.reserve(input.lines.len());
    let mut off = 0usize;
    for (&m, &len) in d.marks.iter().zip(input.lens) {
        let line = &input.lines[off..off + len as usize];
        off += len as usize;
        if m == 0 {
            d.stripped.extend_from_slice(line);
        } else {
            let (pos, digits) = tstext::unmark(m);
            d.stripped.extend_from_slice(&line[..pos]);
            d.stripped
                .extend_from_slice(&line[pos + tstext::text_len(digits)..]);
        }
    }
    true
}

fn byte_width(max: u64) -> usize {
    (64 - max.leading_zeros() as usize).div_ceil(8)
}

/// Decompression state, reusable across blocks.
struct Inflater {
    dctx: zstd::bulk::Decompressor<'static>,
}

impl Inflater {
    fn new() -> Result<Self, DecodeError> {
        zstd::bulk::Decompressor::new()
            .map(|dctx| Inflater { dctx })
            .map_err(|e| DecodeError::new(0, format!("cannot create a zstd context: {e}")))
    }

    /// Reads one framed section whose raw size must be at most `max_raw`; returns the
    /// raw bytes, either borrowed from `block` or decompressed into `buf`.
    fn section<'a: 'c, 'b: 'c, 'c>(
        &mut self,
        r: &mut Reader<'a>,
        max_raw: usize,
        buf: &'b mut Vec<u8>,
        what: &str,
    ) -> Result<&'c [u8], DecodeError> {
        let frame = Frame::read(r, max_raw, what)?;
        self.inflate(&frame, buf, what)
    }

    /// The raw bytes of a section read by [`Frame::read`].
    fn inflate<'a: 'c, 'b: 'c, 'c>(
        &mut self,
        frame: &Frame<'a>,
        buf: &'b mut Vec<u8>,
        what: &str,
    ) -> Result<&'c [u8], DecodeError> {
        let (at, raw_len) = (frame.at, frame.raw_len);
        match frame.codec {
            CODEC_RAW => Ok(frame.src),
            _ => {
                let src = frame.src;
                if let Ok(Some(declared)) = zstd::zstd_safe::get_frame_content_size(src) {
                    if declared != raw_len as u64 {
                        return Err(DecodeError::new(
                            at,
                            format!(
                                "{what}: zstd frame declares {declared} bytes, section {raw_len}"
                            ),
                        ));
                    }
                }
                buf.clear();
                buf.reserve(raw_len);
                match self.dctx.decompress_to_buffer(src, buf) {
                    Ok(n) if n == raw_len => Ok(&buf[..]),
                    Ok(n) => Err(DecodeError::new(
                        at,
                        format!("{what}: decompressed to {n} bytes, expected {raw_len}"),
                    )),
                    Err(e) => Err(DecodeError::new(
                        at,
                        format!("{what}: zstd decompression failed: {e}"),
                    )),
                }
            }
        }
    }
}

/// A section's framing, read without decompressing it.
struct Frame<'a> {
    at: usize,
    codec: u8,
    raw_len: usize,
    /// The stored bytes (raw content or one zstd frame).
    src: &'a [u8],
}

impl<'a> Frame<'a> {
    fn read(r: &mut Reader<'a>, max_raw: usize, what: &str) -> Result<Frame<'a>, DecodeError> {
        let at = r.pos();
        let codec = r.u8(what)?;
        let raw_len = r.uvarint(what)?;
        if raw_len > max_raw as u64 {
            return Err(DecodeError::new(
                at,
                format!("{what}: raw size {raw_len} exceeds the limit {max_raw}"),
            ));
        }
        let raw_len = raw_len as usize;
        let src = match codec {
            CODEC_RAW => r.bytes(raw_len, what)?,
            CODEC_ZSTD => r.len_bytes(what)?,
            c => return Err(DecodeError::new(at, format!("{what}: unknown codec {c}"))),
        };
        Ok(Frame {
            at,
            codec,
            raw_len,
            src,
        })
    }
}

/// Parsed fixed header of a block plus the reader positioned after it.
struct Header<'a> {
    r: Reader<'a>,
    /// The block without its trailing CRC.
    body: &'a [u8],
    version: u8,
    n: usize,
    first_ts: i64,
    has_metadata: bool,
    has_ts_text: bool,
}

/// Parses the header. With `whole`, first checks the block CRC; without, the caller
/// checks the version 2 head CRC before decompressing anything (a version 1 block has
/// only the whole-block CRC, which is then checked anyway).
fn open_block(bytes: &[u8], whole: bool) -> Result<Header<'_>, DecodeError> {
    if bytes.len() < 4 {
        return Err(DecodeError::new(0, "block shorter than its CRC"));
    }
    let body_len = bytes.len() - 4;
    let (body, tail) = bytes.split_at(body_len);
    if whole || bytes[0] == 1 {
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if crc32fast::hash(body) != stored {
            return Err(DecodeError::new(body_len, "block CRC mismatch"));
        }
    }
    let mut r = Reader::new(body);
    let version = r.u8("block version")?;
    if !(1..=BLOCK_VERSION).contains(&version) {
        return Err(DecodeError::new(
            0,
            format!("unsupported block version {version} (this build reads 1 to {BLOCK_VERSION})"),
        ));
    }
    let flags = r.u8("block flags")?;
    let known = if version >= 3 {
        FLAG_METADATA | FLAG_TS_TEXT
    } else {
        FLAG_METADATA
    };
    if flags & !known != 0 {
        return Err(DecodeError::new(
            1,
            format!("unknown block flags {flags:#x}"),
        ));
    }
    let at = r.pos();
    let n = r.uvarint("entry count")?;
    if n == 0 || n > MAX_BLOCK_ENTRIES as u64 {
        return Err(DecodeError::new(
            at,
            format!("entry count {n} out of range"),
        ));
    }
    let first_ts = r.i64("first timestamp")?;
    Ok(Header {
        r,
        body,
        version,
        n: n as usize,
        first_ts,
        has_metadata: flags & FLAG_METADATA != 0,
        has_ts_text: flags & FLAG_TS_TEXT != 0,
    })
}

/// Splits a planes section of `n` values of at most `max_w` bytes into its width and
/// planes (`w` planes of `n` bytes each).
fn split_planes(raw: &[u8], n: usize, max_w: usize) -> Result<(usize, &[u8]), String> {
    let Some((&w, planes)) = raw.split_first() else {
        return Err("empty section".into());
    };
    let w = w as usize;
    if w > max_w {
        return Err(format!("value width {w} exceeds {max_w}"));
    }
    if planes.len() != w * n {
        return Err(format!(
            "{} bytes of planes, expected {}",
            planes.len(),
            w * n
        ));
    }
    Ok((w, planes))
}

/// ORs byte plane `k` (of `out.len()` bytes) into `out` as byte `k` of each value. One
/// pass per plane over contiguous memory: the compiler vectorises it.
#[inline]
fn or_plane_u32(out: &mut [u32], plane: &[u8], k: usize) {
    let shift = 8 * k as u32;
    for (v, &b) in out.iter_mut().zip(plane) {
        *v |= u32::from(b) << shift;
    }
}

/// Decodes `w` planes of `n - 1` timestamp deltas into `ts` (cleared first):
/// `ts[0] = first`, then the running sum of the deltas.
fn ts_from_planes(
    w: usize,
    planes: &[u8],
    n: usize,
    first: i64,
    ts: &mut Vec<i64>,
) -> Result<(), String> {
    ts.clear();
    ts.resize(n, 0);
    ts[0] = first;
    let m = n - 1;
    if planes.len() != w * m {
        return Err(format!(
            "{} bytes of planes, expected {}",
            planes.len(),
            w * m
        ));
    }
    let out = &mut ts[1..];
    // One fused pass per width: gather each delta from its planes and add it up.
    let overflow = match w {
        0 => prefix_sum::<0>(out, planes, first),
        1 => prefix_sum::<1>(out, planes, first),
        2 => prefix_sum::<2>(out, planes, first),
        3 => prefix_sum::<3>(out, planes, first),
        4 => prefix_sum::<4>(out, planes, first),
        5 => prefix_sum::<5>(out, planes, first),
        6 => prefix_sum::<6>(out, planes, first),
        7 => prefix_sum::<7>(out, planes, first),
        8 => prefix_sum::<8>(out, planes, first),
        _ => return Err(format!("value width {w} exceeds 8")),
    };
    if overflow {
        return Err("timestamps overflow i64".into());
    }
    Ok(())
}

/// `out[i] = first + d[0] + … + d[i]` where `d[i]` is gathered from `W` byte planes of
/// `out.len()` bytes; returns whether the sum overflowed i64.
#[inline]
fn prefix_sum<const W: usize>(out: &mut [i64], planes: &[u8], first: i64) -> bool {
    let m = out.len();
    let p: [&[u8]; W] = std::array::from_fn(|k| &planes[k * m..(k + 1) * m]);
    let mut cur = first;
    let mut overflow = false;
    for (i, t) in out.iter_mut().enumerate() {
        let mut d = 0u64;
        for (k, plane) in p.iter().enumerate() {
            d |= u64::from(plane[i]) << (8 * k);
        }
        let (next, o) = cur.overflowing_add_unsigned(d);
        overflow |= o;
        cur = next;
        *t = cur;
    }
    overflow
}

/// Decodes `w` planes of `n` line lengths into `lens` (cleared first).
fn lens_from_planes(w: usize, planes: &[u8], n: usize, lens: &mut Vec<u32>) {
    lens.clear();
    lens.resize(n, 0);
    if n > 0 {
        for (k, plane) in planes.chunks_exact(n).enumerate().take(w) {
            or_plane_u32(lens, plane, k);
        }
    }
}

/// Decodes a version 2 columns section: `u8` timestamp width, `u8` length width, the
/// timestamp delta planes (`n - 1` bytes each), then the length planes (`n` bytes each).
fn decode_columns(
    raw: &[u8],
    n: usize,
    first: i64,
    ts: &mut Vec<i64>,
    lens: &mut Vec<u32>,
) -> Result<(), String> {
    let [wt, wl, planes @ ..] = raw else {
        return Err("section shorter than its widths".into());
    };
    let (wt, wl) = (*wt as usize, *wl as usize);
    if wt > 8 || wl > 4 {
        return Err(format!("value widths {wt}/{wl} exceed 8/4"));
    }
    let ts_bytes = wt * (n - 1);
    if planes.len() != ts_bytes + wl * n {
        return Err(format!(
            "{} bytes of planes, expected {}",
            planes.len(),
            ts_bytes + wl * n
        ));
    }
    let (tp, lp) = planes.split_at(ts_bytes);
    ts_from_planes(wt, tp, n, first, ts)?;
    lens_from_planes(wl, lp, n, lens);
    Ok(())
}

/// Decodes a version 3 columns section (see the module docs): frame-of-reference
/// bit-packed timestamp deltas and line lengths.
fn decode_columns_v3(
    raw: &[u8],
    n: usize,
    first: i64,
    vals: &mut Vec<u64>,
    ts: &mut Vec<i64>,
    lens: &mut Vec<u32>,
) -> Result<(), String> {
    let mut r = Reader::new(raw);
    let mut head = || -> Result<(u32, u64, u32, u64), DecodeError> {
        Ok((
            u32::from(r.u8("delta width")?),
            r.uvarint("min delta")?,
            u32::from(r.u8("length width")?),
            r.uvarint("min length")?,
        ))
    };
    let (wt, min_delta, wl, min_len) = head().map_err(|e| e.what)?;
    if wt > 64 || wl > 32 || min_len > u64::from(u32::MAX) {
        return Err(format!(
            "widths {wt}/{wl} or min length {min_len} out of range"
        ));
    }
    let (tb, lb) = (bits::packed_len(n - 1, wt), bits::packed_len(n, wl));
    let rest = &raw[r.pos()..];
    if rest.len() != tb + lb {
        return Err(format!(
            "{} bytes of packed values, expected {}",
            rest.len(),
            tb + lb
        ));
    }
    let (tp, lp) = rest.split_at(tb);
    vals.clear();
    vals.resize(n, 0);
    bits::unpack(tp, wt, &mut vals[..n - 1]);
    ts.clear();
    ts.resize(n, 0);
    ts[0] = first;
    let mut cur = first;
    let mut overflow = false;
    for (t, &v) in ts[1..].iter_mut().zip(vals.iter()) {
        let (d, o1) = min_delta.overflowing_add(v);
        let (next, o2) = cur.overflowing_add_unsigned(d);
        overflow |= o1 | o2;
        cur = next;
        *t = cur;
    }
    if overflow {
        return Err("timestamps overflow i64".into());
    }
    bits::unpack(lp, wl, &mut vals[..]);
    lens.clear();
    let mut too_long = false;
    lens.extend(vals.iter().map(|&v| {
        let l = min_len + v;
        too_long |= l > u64::from(u32::MAX);
        l as u32
    }));
    if too_long {
        return Err("line length overflows u32".into());
    }
    Ok(())
}

/// Shared scratch for the sections before the lines.
#[derive(Default)]
struct SizesScratch {
    buf: Vec<u8>,
    /// Unpacked version 3 column values.
    vals: Vec<u64>,
}

thread_local! {
    /// The zstd context block decoding uses on this thread: a log query holds one
    /// decoded block per selected stream, and a context costs an allocation and its
    /// window buffers.
    static INFLATER: RefCell<Option<Inflater>> = const { RefCell::new(None) };
    /// Scratch of [`decode_block_sizes`], which has no output to keep it in.
    static SIZES_SCRATCH: RefCell<SizesScratch> = const {
        RefCell::new(SizesScratch { buf: Vec::new(), vals: Vec::new() })
    };
}

/// Runs `f` with this thread's scratch in `key` (a fresh one if it is in use already,
/// e.g. by a decode nested in a callback).
fn with_scratch<T: Default + 'static, R>(
    key: &'static std::thread::LocalKey<RefCell<T>>,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut T::default()),
    })
}

/// Runs `f` with this thread's zstd context (a fresh one if it is in use already).
fn with_inflater<R>(
    f: impl FnOnce(&mut Inflater) -> Result<R, DecodeError>,
) -> Result<R, DecodeError> {
    INFLATER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            if slot.is_none() {
                *slot = Some(Inflater::new()?);
            }
            match slot.as_mut() {
                Some(inf) => f(inf),
                None => f(&mut Inflater::new()?),
            }
        }
        Err(_) => f(&mut Inflater::new()?),
    })
}

/// Decodes the timestamps and line lengths (never the lines). For a version 2 block,
/// checks the head CRC first (the whole-block CRC is the caller's business).
fn decode_sizes(
    h: &mut Header<'_>,
    inf: &mut Inflater,
    s: &mut SizesScratch,
    ts: &mut Vec<i64>,
    lens: &mut Vec<u32>,
) -> Result<(), DecodeError> {
    let n = h.n;
    if h.version >= 2 {
        let widths = if h.version >= 3 { 17 } else { 2 };
        let frame = Frame::read(&mut h.r, widths + 8 * (n - 1) + 4 * n, "columns section")?;
        let head_len = h.r.pos();
        let stored = h.r.u32("head CRC")?;
        if crc32fast::hash(&h.body[..head_len]) != stored {
            return Err(DecodeError::new(head_len, "block head CRC mismatch"));
        }
        let raw = inf.inflate(&frame, &mut s.buf, "columns section")?;
        let decoded = if h.version >= 3 {
            decode_columns_v3(raw, n, h.first_ts, &mut s.vals, ts, lens)
        } else {
            decode_columns(raw, n, h.first_ts, ts, lens)
        };
        return decoded.map_err(|e| DecodeError::new(frame.at, format!("columns: {e}")));
    }
    let at = h.r.pos();
    let raw = inf.section(&mut h.r, 1 + 8 * (n - 1), &mut s.buf, "timestamps section")?;
    let (w, planes) = split_planes(raw, n - 1, 8)
        .map_err(|e| DecodeError::new(at, format!("timestamps: {e}")))?;
    ts_from_planes(w, planes, n, h.first_ts, ts)
        .map_err(|e| DecodeError::new(at, format!("timestamps: {e}")))?;
    let at = h.r.pos();
    let raw = inf.section(&mut h.r, 1 + 4 * n, &mut s.buf, "lengths section")?;
    let (w, planes) =
        split_planes(raw, n, 4).map_err(|e| DecodeError::new(at, format!("line lengths: {e}")))?;
    lens_from_planes(w, planes, n, lens);
    Ok(())
}

/// Decodes only the timestamps and line lengths of a block: no line is decompressed.
/// Verifies the CRC covering what it reads: the head CRC of a version 2 block (header
/// and columns; the lines are neither read nor checked), the whole-block CRC of a
/// version 1 block. `ts` and `line_lens` are cleared and refilled.
pub fn decode_block_sizes(
    bytes: &[u8],
    ts: &mut Vec<i64>,
    line_lens: &mut Vec<u32>,
) -> Result<(), DecodeError> {
    let mut h = open_block(bytes, false)?;
    with_inflater(|inf| {
        with_scratch(&SIZES_SCRATCH, |scratch| {
            decode_sizes(&mut h, inf, scratch, ts, line_lens)
        })
    })
}

/// A decoded block, built to be reused: decoding into it again keeps its buffers.
///
/// Lines are slices of one buffer; metadata strings are slices of one string.
pub struct DecodedBlock {
    ts: Vec<i64>,
    lens: Vec<u32>,
    /// `offsets[i]..offsets[i+1]` is line `i` in `lines`.
    offsets: Vec<u32>,
    lines: Vec<u8>,
    meta_text: String,
    /// Symbol id → byte range in `meta_text`.
    meta_syms: Vec<(u32, u32)>,
    /// `meta_index[i]..meta_index[i+1]` are entry `i`'s pairs in `meta_pairs`; empty
    /// when the block has no metadata.
    meta_index: Vec<u32>,
    meta_pairs: Vec<(u32, u32)>,
    scratch: SizesScratch,
}

impl fmt::Debug for DecodedBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedBlock")
            .field("entries", &self.ts.len())
            .field("line_bytes", &self.lines.len())
            .finish_non_exhaustive()
    }
}

impl Default for DecodedBlock {
    fn default() -> Self {
        Self::new()
    }
}

impl DecodedBlock {
    /// An empty block, to decode into.
    pub fn new() -> Self {
        DecodedBlock {
            ts: Vec::new(),
            lens: Vec::new(),
            offsets: Vec::new(),
            lines: Vec::new(),
            meta_text: String::new(),
            meta_syms: Vec::new(),
            meta_index: Vec::new(),
            meta_pairs: Vec::new(),
            scratch: SizesScratch {
                buf: Vec::new(),
                vals: Vec::new(),
            },
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when nothing was decoded (or the last decode failed).
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Timestamp of entry `i`. Panics if `i >= len()`.
    pub fn ts(&self, i: usize) -> i64 {
        self.ts[i]
    }

    /// All timestamps, ascending.
    pub fn timestamps(&self) -> &[i64] {
        &self.ts
    }

    /// Line of entry `i`. Panics if `i >= len()`.
    pub fn line(&self, i: usize) -> &[u8] {
        &self.lines[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Length of every line, in entry order.
    pub fn line_lens(&self) -> &[u32] {
        &self.lens
    }

    /// Sum of all line lengths.
    pub fn raw_bytes(&self) -> usize {
        self.lines.len()
    }

    /// All lines, concatenated: line `i` is `lines_buf()[offsets()[i]..offsets()[i + 1]]`.
    /// Lets a reader search a whole block at once (e.g. with `memchr::memmem`).
    pub fn lines_buf(&self) -> &[u8] {
        &self.lines
    }

    /// Start offset of every line in [`lines_buf`](Self::lines_buf), plus the end of the
    /// last one (`len() + 1` values; empty when nothing was decoded).
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// True when some entry of the block has structured metadata.
    pub fn has_metadata(&self) -> bool {
        !self.meta_pairs.is_empty()
    }

    /// Structured metadata of entry `i`, in the order it was pushed. Panics if
    /// `i >= len()`.
    pub fn metadata(&self, i: usize) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        assert!(i < self.ts.len(), "entry {i} out of range");
        let range = match (self.meta_index.get(i), self.meta_index.get(i + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        };
        self.meta_pairs[range]
            .iter()
            .map(move |&(k, v)| (self.sym(k), self.sym(v)))
    }

    fn sym(&self, id: u32) -> &str {
        let (a, b) = self.meta_syms[id as usize];
        &self.meta_text[a as usize..b as usize]
    }

    fn clear(&mut self) {
        self.ts.clear();
        self.lens.clear();
        self.offsets.clear();
        self.lines.clear();
        self.meta_text.clear();
        self.meta_syms.clear();
        self.meta_index.clear();
        self.meta_pairs.clear();
    }

    fn decode(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        with_inflater(|inf| self.decode_with(bytes, inf))
    }

    fn decode_with(&mut self, bytes: &[u8], inf: &mut Inflater) -> Result<(), DecodeError> {
        let mut h = open_block(bytes, true)?;
        decode_sizes(&mut h, inf, &mut self.scratch, &mut self.ts, &mut self.lens)?;
        let n = h.n;

        self.offsets.reserve(n + 1);
        self.offsets.push(0);
        let mut total: u64 = 0;
        for &l in &self.lens {
            total += u64::from(l);
            if total > MAX_BLOCK_LINES_BYTES as u64 {
                return Err(h.r.err("line lengths exceed the block limit"));
            }
            self.offsets.push(total as u32);
        }

        let at = h.r.pos();
        let codec = bytes.get(at).copied();
        if h.has_ts_text {
            self.decode_ts_text_lines(&mut h, inf, total as usize)?;
        } else if codec == Some(CODEC_RAW) {
            let raw = inf.section(
                &mut h.r,
                MAX_BLOCK_LINES_BYTES,
                &mut self.scratch.buf,
                "lines section",
            )?;
            self.lines.extend_from_slice(raw);
        } else {
            // Decompress straight into the lines buffer.
            let mut lines = std::mem::take(&mut self.lines);
            let res = inf
                .section(&mut h.r, MAX_BLOCK_LINES_BYTES, &mut lines, "lines section")
                .map(|s| s.len());
            self.lines = lines;
            res?;
        }
        if self.lines.len() as u64 != total {
            return Err(DecodeError::new(
                at,
                format!(
                    "lines section holds {} bytes, line lengths sum to {total}",
                    self.lines.len()
                ),
            ));
        }

        if h.has_metadata {
            let at = h.r.pos();
            let raw = inf.section(
                &mut h.r,
                MAX_META_BYTES,
                &mut self.scratch.buf,
                "metadata section",
            )?;
            let mut text = std::mem::take(&mut self.meta_text);
            let res = decode_metadata(
                raw,
                n,
                &mut text,
                &mut self.meta_syms,
                &mut self.meta_index,
                &mut self.meta_pairs,
            );
            self.meta_text = text;
            res.map_err(|e| DecodeError::new(at + e.offset, format!("metadata: {}", e.what)))?;
        }
        h.r.expect_end("block sections")
    }
}

/// Scratch of a version 3 block's lines with timestamp texts: the stored lines (without
/// the texts) and one mark per entry.
#[derive(Default)]
struct TextScratch {
    stripped: Vec<u8>,
    marks: Vec<u32>,
}

thread_local! {
    /// Per thread rather than per [`DecodedBlock`]: a log query keeps one decoded block
    /// per stream, which should not each keep a second copy of their lines.
    static TEXT_SCRATCH: RefCell<TextScratch> = RefCell::new(TextScratch::default());
}

impl DecodedBlock {
    /// Reads a version 3 lines section whose lines lack their timestamp texts and the
    /// timestamp-texts section after it, and writes the whole lines into `self.lines`.
    fn decode_ts_text_lines(
        &mut self,
        h: &mut Header<'_>,
        inf: &mut Inflater,
        total: usize,
    ) -> Result<(), DecodeError> {
        with_scratch(&TEXT_SCRATCH, |scratch| {
            self.decode_ts_text_lines_with(h, inf, total, scratch)
        })
    }

    fn decode_ts_text_lines_with(
        &mut self,
        h: &mut Header<'_>,
        inf: &mut Inflater,
        total: usize,
        scratch: &mut TextScratch,
    ) -> Result<(), DecodeError> {
        let n = h.n;
        let lines = Frame::read(&mut h.r, MAX_BLOCK_LINES_BYTES, "lines section")?;
        let at = h.r.pos();
        let raw = inf.section(
            &mut h.r,
            1 + 3 * n,
            &mut self.scratch.buf,
            "timestamp texts",
        )?;
        let (w, planes) = split_planes(raw, n, 3)
            .map_err(|e| DecodeError::new(at, format!("timestamp texts: {e}")))?;
        let marks = &mut scratch.marks;
        marks.clear();
        marks.resize(n, 0);
        for (k, plane) in planes.chunks_exact(n).enumerate().take(w) {
            or_plane_u32(marks, plane, k);
        }
        scratch.stripped.clear();
        let src = inf.inflate(&lines, &mut scratch.stripped, "lines section")?;
        self.lines.reserve(total);
        put_ts_texts(src, marks, &self.lens, &self.ts, &mut self.lines)
            .map_err(|e| DecodeError::new(lines.at, format!("lines section: {e}")))
    }
}

/// Appends to `out` the lines of `src` (lines without the timestamp texts that
/// `marks` locate) with those texts written back from `ts`.
fn put_ts_texts(
    src: &[u8],
    marks: &[u32],
    lens: &[u32],
    ts: &[i64],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut writer = tstext::Writer::new();
    let mut off = 0usize;
    for (i, ((&m, &len), &t)) in marks.iter().zip(lens).zip(ts).enumerate() {
        let len = len as usize;
        if m == 0 {
            let line = src
                .get(off..off + len)
                .ok_or("shorter than the line lengths")?;
            out.extend_from_slice(line);
            off += len;
            continue;
        }
        let (pos, digits) = tstext::unmark(m);
        let keep = len
            .checked_sub(tstext::text_len(digits))
            .filter(|&k| pos <= k)
            .ok_or_else(|| format!("timestamp text of entry {i} does not fit its line"))?;
        let line = src
            .get(off..off + keep)
            .ok_or("shorter than the line lengths")?;
        out.extend_from_slice(&line[..pos]);
        if !writer.write(out, t, digits) {
            return Err(format!("entry {i}: no timestamp text for {t}"));
        }
        out.extend_from_slice(&line[pos..]);
        off += keep;
    }
    if off != src.len() {
        return Err(format!("{} bytes, the lines take {off}", src.len()));
    }
    Ok(())
}

/// Parses a raw metadata section.
fn decode_metadata(
    raw: &[u8],
    n: usize,
    text: &mut String,
    syms: &mut Vec<(u32, u32)>,
    index: &mut Vec<u32>,
    pairs: &mut Vec<(u32, u32)>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(raw);
    let n_syms = r.count(1, "symbol count")?;
    syms.reserve(n_syms);
    for _ in 0..n_syms {
        let s = r.str("symbol")?;
        let a = text.len() as u32;
        text.push_str(s);
        syms.push((a, text.len() as u32));
    }
    index.reserve(n + 1);
    index.push(0);
    for _ in 0..n {
        let k = r.count(2, "pair count")?;
        for _ in 0..k {
            let key = r.uvarint("key symbol")?;
            let val = r.uvarint("value symbol")?;
            if key >= n_syms as u64 || val >= n_syms as u64 {
                return Err(r.err("symbol id out of range"));
            }
            pairs.push((key as u32, val as u32));
        }
        index.push(pairs.len() as u32);
    }
    r.expect_end("metadata")
}

/// Decodes a whole block into `out` (which is cleared first), verifying its CRC and
/// every length. On error `out` is left empty.
pub fn decode_block(bytes: &[u8], out: &mut DecodedBlock) -> Result<(), DecodeError> {
    out.clear();
    let r = out.decode(bytes);
    if r.is_err() {
        out.clear();
    }
    r
}

/// Stored bytes of each part of an encoded block (what [`block_layout`] reports), for
/// measuring where a database's bytes go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockLayout {
    /// Block layout version (1 to [`BLOCK_VERSION`]).
    pub version: u8,
    /// Entries in the block.
    pub entries: u64,
    /// Timestamps and line lengths: the columns section (versions 2 and 3), or the
    /// timestamps and lengths sections (version 1), framing included.
    pub columns: u64,
    /// The lines section, framing included.
    pub lines: u64,
    /// The timestamp-texts section (version 3), framing included; 0 when absent.
    pub ts_texts: u64,
    /// The metadata section, framing included; 0 when absent.
    pub metadata: u64,
    /// Everything else: version, flags, entry count, first timestamp and CRCs.
    pub fixed: u64,
}

/// Where the bytes of an encoded block go, section by section (nothing is
/// decompressed; the CRCs are not checked).
///
/// ```
/// use logjar::chunk::{block_layout, ChunkBuilder};
/// let mut b = ChunkBuilder::new(1 << 20, 1);
/// for i in 0..100 {
///     b.push(i, format!("request {i} took {}ms", i % 7).as_bytes(), &[]);
/// }
/// let chunk = b.finish();
/// let l = block_layout(chunk.block_bytes(&chunk.blocks[0]).unwrap()).unwrap();
/// assert_eq!((l.entries, l.ts_texts, l.metadata), (100, 0, 0));
/// assert_eq!(l.columns + l.lines + l.fixed, chunk.bytes.len() as u64);
/// ```
pub fn block_layout(bytes: &[u8]) -> Result<BlockLayout, DecodeError> {
    let mut h = open_block(bytes, false)?;
    let section = |r: &mut Reader<'_>, what: &str| -> Result<u64, DecodeError> {
        let at = r.pos();
        Frame::read(r, usize::MAX, what)?;
        Ok((r.pos() - at) as u64)
    };
    let mut l = BlockLayout {
        version: h.version,
        entries: h.n as u64,
        ..BlockLayout::default()
    };
    l.columns = section(&mut h.r, "columns")?;
    if h.version == 1 {
        l.columns += section(&mut h.r, "lengths")?;
    } else {
        h.r.u32("head CRC")?;
    }
    l.lines = section(&mut h.r, "lines")?;
    if h.has_ts_text {
        l.ts_texts = section(&mut h.r, "timestamp texts")?;
    }
    if h.has_metadata {
        l.metadata = section(&mut h.r, "metadata")?;
    }
    h.r.expect_end("block sections")?;
    l.fixed = bytes.len() as u64 - l.columns - l.lines - l.ts_texts - l.metadata;
    Ok(l)
}

/// Length of the part of a block a sizes-only decode reads and checks: up to and
/// including the head CRC for version 2, the whole block for version 1. `None` when the
/// header or columns framing does not parse.
#[cfg(test)]
pub(crate) fn head_len(bytes: &[u8]) -> Option<usize> {
    let mut h = open_block(bytes, false).ok()?;
    if h.version == 1 {
        return Some(bytes.len());
    }
    Frame::read(&mut h.r, usize::MAX, "columns").ok()?;
    Some(h.r.pos() + 4)
}

/// Rewrites a decoded block in layout `version`, with the same entries (tests: the
/// builder writes only the current layout).
#[cfg(test)]
pub(crate) fn reencode(b: &DecodedBlock, version: u8) -> Vec<u8> {
    let metadata = b.has_metadata().then(|| {
        let mut md = Vec::new();
        put_uvarint(&mut md, b.meta_syms.len() as u64);
        for i in 0..b.meta_syms.len() {
            let s = b.sym(i as u32);
            put_uvarint(&mut md, s.len() as u64);
            md.extend_from_slice(s.as_bytes());
        }
        for w in b.meta_index.windows(2) {
            let pairs = &b.meta_pairs[w[0] as usize..w[1] as usize];
            put_uvarint(&mut md, pairs.len() as u64);
            for &(k, v) in pairs {
                put_uvarint(&mut md, u64::from(k));
                put_uvarint(&mut md, u64::from(v));
            }
        }
        md
    });
    let input = BlockInput {
        ts: &b.ts,
        lens: &b.lens,
        lines: &b.lines,
        metadata: metadata.as_deref(),
    };
    let mut out = Vec::new();
    encode_block_as(&mut Deflater::new(3), &input, &mut out, version);
    out
}

/// Reads the CRC stored at the end of an encoded block.
pub(crate) fn stored_crc(bytes: &[u8]) -> Option<u32> {
    let at = bytes.len().checked_sub(4)?;
    crate::codec::le_u32_at(bytes, at)
}
