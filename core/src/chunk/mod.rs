//! Chunks: one stream's entries over a time span, as a sequence of independently
//! zstd-compressed blocks.
//!
//! Within a block, timestamps (bit-packed deltas, `bits`) and line lengths are kept
//! apart from the line bytes, in a columns section with its own CRC, so time skipping
//! and count/bytes aggregations read them ([`decode_block_sizes`]) without touching any
//! line. Lines are stored without the RFC 3339 text of their own timestamp where they
//! hold one (`tstext`); decoding writes it back. Structured metadata has its own
//! section with a per-block symbol table. The layout is specified byte by byte in
//! `docs/FORMAT.md` and in [`block`](self) sources.
//!
//! Build a chunk with [`ChunkBuilder`], decode its blocks with [`decode_block`] into a
//! reusable [`DecodedBlock`].

mod bits;
mod block;
mod builder;
mod tstext;

pub use crate::codec::DecodeError;
pub use block::{
    block_layout, decode_block, decode_block_sizes, BlockLayout, DecodedBlock, BLOCK_VERSION,
    MAX_BLOCK_ENTRIES, MAX_BLOCK_LINES_BYTES, MAX_LINE_LEN,
};
pub use builder::{ChunkBuilder, DEFAULT_BLOCK_TARGET, DEFAULT_ZSTD_LEVEL, MAX_BLOCK_TARGET};

pub(crate) use block::stored_crc;
#[cfg(test)]
use block::{head_len, reencode};

/// Where a block is and what it holds, so readers can skip it without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockMeta {
    /// Smallest timestamp in the block.
    pub min_ts: i64,
    /// Largest timestamp in the block.
    pub max_ts: i64,
    /// Entries in the block (at least 1).
    pub entries: u32,
    /// Sum of the block's line lengths.
    pub raw_bytes: u64,
    /// Offset of the block: from the start of [`EncodedChunk::bytes`] in a chunk, from
    /// the start of the file once in a segment.
    pub offset: u64,
    /// Encoded length of the block, its trailing CRC included.
    pub len: u32,
    /// The block's CRC32 (a copy of its last 4 bytes).
    pub crc: u32,
}

/// A finished chunk: its blocks' bytes back to back and their metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedChunk {
    /// The encoded blocks, concatenated.
    pub bytes: Vec<u8>,
    /// One entry per block, in order; offsets are relative to `bytes`.
    pub blocks: Vec<BlockMeta>,
    /// Smallest timestamp (0 when the chunk is empty).
    pub min_ts: i64,
    /// Largest timestamp (0 when the chunk is empty).
    pub max_ts: i64,
    /// Entries in all blocks.
    pub entries: u64,
    /// Line bytes in all blocks.
    pub raw_bytes: u64,
}

impl EncodedChunk {
    fn empty() -> Self {
        EncodedChunk {
            bytes: Vec::new(),
            blocks: Vec::new(),
            min_ts: 0,
            max_ts: 0,
            entries: 0,
            raw_bytes: 0,
        }
    }

    /// The bytes of `block` (one of [`blocks`](Self::blocks)); `None` if it does not
    /// lie within the chunk.
    pub fn block_bytes(&self, block: &BlockMeta) -> Option<&[u8]> {
        let start = usize::try_from(block.offset).ok()?;
        self.bytes
            .get(start..start.checked_add(block.len as usize)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Row = (i64, Vec<u8>, Vec<(String, String)>);

    fn build(rows: &[Row], target: usize, level: i32) -> EncodedChunk {
        let mut b = ChunkBuilder::new(target, level);
        for (ts, line, md) in rows {
            b.push(*ts, line, md);
        }
        assert_eq!(b.entries(), rows.len() as u64);
        b.finish()
    }

    fn decode_all(c: &EncodedChunk) -> Vec<Row> {
        let mut out = DecodedBlock::new();
        let mut rows = Vec::new();
        let (mut ts, mut lens) = (Vec::new(), Vec::new());
        for m in &c.blocks {
            let bytes = c.block_bytes(m).unwrap();
            assert_eq!(stored_crc(bytes), Some(m.crc));
            decode_block(bytes, &mut out).unwrap();
            decode_block_sizes(bytes, &mut ts, &mut lens).unwrap();
            assert_eq!(out.len(), m.entries as usize);
            assert_eq!(out.timestamps(), &ts[..]);
            assert_eq!(out.line_lens(), &lens[..]);
            assert_eq!(out.raw_bytes() as u64, m.raw_bytes);
            assert_eq!((out.ts(0), out.ts(out.len() - 1)), (m.min_ts, m.max_ts));
            for (i, &len) in lens.iter().enumerate() {
                assert_eq!(out.line(i).len(), len as usize);
                let md = out
                    .metadata(i)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                rows.push((out.ts(i), out.line(i).to_vec(), md));
            }
        }
        rows
    }

    fn check(rows: &[Row], target: usize) -> EncodedChunk {
        let c = build(rows, target, 3);
        assert_eq!(decode_all(&c), rows);
        assert_eq!(c.entries, rows.len() as u64);
        let raw: usize = rows.iter().map(|r| r.1.len()).sum();
        assert_eq!(c.raw_bytes, raw as u64);
        if let (Some(f), Some(l)) = (rows.first(), rows.last()) {
            assert_eq!((c.min_ts, c.max_ts), (f.0, l.0));
        }
        let mut end = 0;
        for m in &c.blocks {
            assert_eq!(m.offset, end);
            end += u64::from(m.len);
        }
        assert_eq!(end, c.bytes.len() as u64);
        c
    }

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builders_and_decoded_blocks_move_between_threads() {
        fn send<T: Send>() {}
        send::<ChunkBuilder>();
        send::<DecodedBlock>();
        send::<EncodedChunk>();
    }

    #[test]
    fn pooled_compressors_take_the_level_asked_for() {
        let rows: Vec<Row> = (0..2000)
            .map(|i| {
                (
                    i,
                    format!("GET /api/{} status={} in {}ms", i % 17, 200 + i % 3, i % 97)
                        .into_bytes(),
                    vec![],
                )
            })
            .collect();
        let l1 = build(&rows, 1 << 20, 1);
        let l19 = build(&rows, 1 << 20, 19);
        let l1_again = build(&rows, 1 << 20, 1);
        assert_eq!(l1.bytes, l1_again.bytes);
        assert_ne!(l1.bytes, l19.bytes);
        assert_eq!(decode_all(&l19), rows);
    }

    #[test]
    fn empty_chunk() {
        let c = ChunkBuilder::default().finish();
        assert!(c.blocks.is_empty() && c.bytes.is_empty());
        assert_eq!((c.entries, c.raw_bytes, c.min_ts, c.max_ts), (0, 0, 0, 0));
        assert!(ChunkBuilder::default().is_empty());
    }

    #[test]
    fn single_entry_and_empty_line() {
        check(&[(42, b"only".to_vec(), vec![])], 1024);
        check(&[(-42, Vec::new(), vec![])], 1024);
        check(&[(i64::MIN, Vec::new(), md(&[("k", "")]))], 1024);
    }

    #[test]
    fn negative_equal_and_extreme_timestamps() {
        let rows: Vec<Row> = vec![
            (i64::MIN, b"a".to_vec(), vec![]),
            (-1, b"b".to_vec(), vec![]),
            (-1, b"c".to_vec(), vec![]),
            (0, b"d".to_vec(), vec![]),
            (0, b"d".to_vec(), vec![]),
            (i64::MAX, b"e".to_vec(), vec![]),
        ];
        check(&rows, 1 << 20);
        check(&rows, 1);
    }

    #[test]
    fn metadata_round_trips_with_shared_symbols() {
        let rows: Vec<Row> = (0..500)
            .map(|i| {
                let m = match i % 4 {
                    0 => md(&[("trace_id", &format!("t{i}")), ("user", "u1")]),
                    1 => md(&[("user", "u1")]),
                    2 => md(&[("ключ", "значение ✓"), ("user", "user")]),
                    _ => vec![],
                };
                (i, format!("line number {i}").into_bytes(), m)
            })
            .collect();
        check(&rows, 1000);
        check(&rows, 1 << 20);
    }

    #[test]
    fn large_lines_and_many_blocks() {
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let rows: Vec<Row> = vec![
            (1, b"small".to_vec(), vec![]),
            (2, big.clone(), vec![]),
            (3, b"after".to_vec(), vec![]),
        ];
        let c = check(&rows, DEFAULT_BLOCK_TARGET);
        assert_eq!(c.blocks.len(), 2);

        let rows: Vec<Row> = (0..20_000)
            .map(|i| {
                (
                    i * 7,
                    format!("GET /api/{} 200 {}", i % 13, i).into_bytes(),
                    vec![],
                )
            })
            .collect();
        let c = check(&rows, 4096);
        assert!(c.blocks.len() > 50, "{}", c.blocks.len());
        // Compression actually happens.
        assert!(c.bytes.len() < c.raw_bytes as usize / 2);
    }

    #[test]
    fn incompressible_and_random_sections_fall_back_to_raw() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let rows: Vec<Row> = (0..300)
            .map(|i| {
                let line: Vec<u8> = (0..100)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                (i * (x as i64 & 0xffff_ffff), line, vec![])
            })
            .collect();
        let mut rows = rows;
        rows.sort();
        check(&rows, 1 << 20);
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let base = 1_767_225_600_000_000_000i64;
        let rows: Vec<Row> = (0..50)
            .map(|i| {
                let ts = base + i * 1_234_567_891;
                let mut line = format!("entry {i} with some text").into_bytes();
                if i % 2 == 0 {
                    line.extend_from_slice(b" at ");
                    line.extend_from_slice(&own_text(ts, (i % 10) as u32));
                }
                (ts, line, md(&[("k", "v")]))
            })
            .collect();
        let c = build(&rows, 1 << 20, 3);
        let m = c.blocks[0];
        let v3 = c.block_bytes(&m).unwrap().to_vec();
        assert_eq!((v3[0], v3[1]), (3, 3), "version 3 with texts and metadata");
        let mut out = DecodedBlock::new();
        decode_block(&v3, &mut out).unwrap();
        let (v2, v1) = (reencode(&out, 2), reencode(&out, 1));
        assert!(
            v3.len() < v2.len(),
            "texts left out: {} vs {}",
            v3.len(),
            v2.len()
        );
        let (want_ts, want_lens) = (out.timestamps().to_vec(), out.line_lens().to_vec());
        let (mut ts, mut lens) = (Vec::new(), Vec::new());
        for good in [&v3, &v2, &v1] {
            let l = block_layout(good).unwrap();
            assert_eq!((l.version, l.entries), (good[0], 50));
            assert!(l.columns > 0 && l.lines > 0 && l.metadata > 0);
            assert_eq!(l.ts_texts > 0, good[0] == 3);
            let sum = l.columns + l.lines + l.ts_texts + l.metadata + l.fixed;
            assert_eq!(sum, good.len() as u64);
        }
        for good in [v3, v2, v1] {
            // A sizes-only read checks the head CRC (versions 2, 3) or the whole block
            // (version 1); damage after the head does not change the sizes it returns.
            let head = head_len(&good).unwrap();
            assert!(head < good.len() || good[0] == 1);
            for bit in 0..good.len() * 8 {
                let mut b = good.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                assert!(decode_block(&b, &mut out).is_err(), "bit {bit}");
                assert!(out.is_empty());
                let sizes = decode_block_sizes(&b, &mut ts, &mut lens);
                if bit / 8 < head {
                    assert!(sizes.is_err(), "bit {bit} of version {}", good[0]);
                } else {
                    sizes.unwrap();
                    assert_eq!((&ts, &lens), (&want_ts, &want_lens));
                }
            }
            for cut in 0..good.len() {
                assert!(decode_block(&good[..cut], &mut out).is_err(), "cut {cut}");
            }
            decode_block(&good, &mut out).unwrap();
            assert_eq!(out.len(), 50);
        }
    }

    /// Blocks of layout versions 1 (timestamps and lengths in two sections, one CRC)
    /// and 2 (byte-planed columns, no timestamp texts) still decode, fully and
    /// sizes-only, to what the current layout holds.
    fn check_old_reads(c: &EncodedChunk) {
        let (mut cur, mut old) = (DecodedBlock::new(), DecodedBlock::new());
        let (mut ts, mut lens) = (Vec::new(), Vec::new());
        for (m, version) in c.blocks.iter().flat_map(|m| [(m, 1), (m, 2)]) {
            decode_block(c.block_bytes(m).unwrap(), &mut cur).unwrap();
            let older = reencode(&cur, version);
            assert_eq!(older[0], version);
            decode_block(&older, &mut old).unwrap();
            decode_block_sizes(&older, &mut ts, &mut lens).unwrap();
            assert_eq!(old.timestamps(), cur.timestamps());
            assert_eq!(&ts[..], cur.timestamps());
            assert_eq!(&lens[..], cur.line_lens());
            for i in 0..cur.len() {
                assert_eq!(old.line(i), cur.line(i));
                assert!(old.metadata(i).eq(cur.metadata(i)));
            }
            // And back: the current layout of the same entries is the builder's.
            assert_eq!(reencode(&old, BLOCK_VERSION), reencode(&cur, BLOCK_VERSION));
        }
    }

    /// Re-seals a block's CRC so the structural checks behind it are exercised.
    fn reseal(b: &mut [u8]) {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn structural_errors_behind_a_valid_crc() {
        let rows: Vec<Row> = (0..40)
            .map(|i| (i, format!("l{i}").into_bytes(), md(&[("k", "v")])))
            .collect();
        let c = build(&rows, 1 << 20, 3);
        let good = c.bytes.clone();
        let mut out = DecodedBlock::new();
        // Version, flags, entry count.
        for (at, v) in [(0usize, 0u8), (0, 1), (0, 4), (1, 4), (2, 0), (2, 41)] {
            let mut b = good.clone();
            b[at] = v;
            reseal(&mut b);
            assert!(decode_block(&b, &mut out).is_err(), "byte {at} = {v}");
        }
        // Trailing garbage inside the CRC.
        let mut b = good[..good.len() - 4].to_vec();
        b.push(0);
        b.extend_from_slice(&[0; 4]);
        reseal(&mut b);
        assert!(decode_block(&b, &mut out).is_err());
        // Any byte changed and resealed: an error or a different decode, never a panic.
        for i in 0..good.len() - 4 {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                reseal(&mut b);
                let _ = decode_block(&b, &mut out);
            }
        }
    }

    #[test]
    fn decoded_block_is_reusable_across_sizes() {
        let small = build(&[(1, b"x".to_vec(), md(&[("a", "b")]))], 1024, 1);
        let rows: Vec<Row> = (0..1000).map(|i| (i, vec![b'y'; 100], vec![])).collect();
        let large = build(&rows, 1 << 20, 1);
        let mut out = DecodedBlock::new();
        decode_block(&large.bytes, &mut out).unwrap();
        assert_eq!(out.len(), 1000);
        assert_eq!(out.metadata(5).count(), 0);
        decode_block(&small.bytes, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out.line(0), b"x");
        assert_eq!(out.metadata(0).collect::<Vec<_>>(), vec![("a", "b")]);
    }

    #[test]
    fn appended_blocks_and_pushed_entries_make_one_chunk() {
        let rows = |lo: i64, hi: i64| -> Vec<Row> {
            (lo..hi)
                .map(|i| {
                    (
                        i,
                        format!("line {i}").into_bytes(),
                        md(&[("k", &i.to_string())]),
                    )
                })
                .collect()
        };
        let a = build(&rows(0, 100), 256, 1);
        let c = build(&rows(200, 300), 256, 1);
        let mut b = ChunkBuilder::new(256, 1);
        for m in &a.blocks {
            b.append_block(a.block_bytes(m).unwrap(), *m);
        }
        for (ts, line, meta) in rows(100, 200) {
            b.push_pairs(
                ts,
                &line,
                meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
        }
        for m in &c.blocks {
            b.append_block(c.block_bytes(m).unwrap(), *m);
        }
        let out = b.finish();
        assert_eq!(decode_all(&out), rows(0, 300));
        assert_eq!((out.entries, out.min_ts, out.max_ts), (300, 0, 299));
        assert_eq!(
            out.raw_bytes,
            a.raw_bytes
                + c.raw_bytes
                + rows(100, 200).iter().map(|r| r.1.len() as u64).sum::<u64>()
        );
    }

    /// The RFC 3339 text of `ts` with `digits` fraction digits (truncated), as an
    /// application writes its own timestamp into a line.
    fn own_text(ts: i64, digits: u32) -> Vec<u8> {
        let t = chrono::DateTime::from_timestamp(ts.div_euclid(1_000_000_000), 0).unwrap();
        let frac = format!("{:09}", ts.rem_euclid(1_000_000_000));
        let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        if digits > 0 {
            s.push('.');
            s.push_str(&frac[..digits as usize]);
        }
        s.push('Z');
        s.into_bytes()
    }

    /// A line: random bytes, or random bytes around the text of its own timestamp (left
    /// out of the stored lines) or of a timestamp 1 ns later (kept).
    fn arb_line() -> impl Strategy<Value = (Vec<u8>, Option<(u32, bool)>, Vec<u8>)> {
        (
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::option::weighted(0.5, (0u32..10, any::<bool>())),
            proptest::collection::vec(any::<u8>(), 0..20),
        )
    }

    fn arb_rows() -> impl Strategy<Value = Vec<Row>> {
        proptest::collection::vec(
            (
                prop_oneof![
                    any::<i64>(),
                    -1000i64..1000,
                    1_767_225_600_000_000_000i64..1_767_225_660_000_000_000
                ],
                arb_line(),
                proptest::collection::vec(("[a-z]{1,3}", ".{0,4}"), 0..3),
            ),
            0..200,
        )
        .prop_map(|v| {
            let mut v: Vec<Row> = v
                .into_iter()
                .map(|(ts, (mut line, text, after), md)| {
                    if let Some((digits, own)) = text {
                        let t = if own { ts } else { ts.wrapping_add(1) };
                        line.extend_from_slice(&own_text(t, digits));
                        line.extend_from_slice(&after);
                    }
                    (ts, line, md)
                })
                .collect();
            v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn chunk_round_trip(rows in arb_rows(), target in 1usize..5000, level in 1i32..4) {
            let c = build(&rows, target, level);
            prop_assert_eq!(decode_all(&c), rows);
            check_old_reads(&c);
        }

        #[test]
        fn columns_encode_like_the_builder(rows in arb_rows(), target in 1usize..5000, level in 1i32..4) {
            let rows: Vec<Row> = rows.into_iter().map(|(t, l, _)| (t, l, vec![])).collect();
            let want = build(&rows, target, level);
            let ts: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let lens: Vec<u32> = rows.iter().map(|r| r.1.len() as u32).collect();
            let lines: Vec<u8> = rows.iter().flat_map(|r| r.1.iter().copied()).collect();
            let got = ChunkBuilder::encode_columns(target, level, &ts, &lens, &lines);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), seal in any::<bool>()) {
            let mut b = bytes;
            if seal && b.len() >= 4 {
                reseal(&mut b);
            }
            let mut out = DecodedBlock::new();
            let _ = decode_block(&b, &mut out);
            let (mut ts, mut lens) = (Vec::new(), Vec::new());
            let _ = decode_block_sizes(&b, &mut ts, &mut lens);
        }
    }
}
