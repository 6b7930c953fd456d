//! Arbitrary bytes as a segment file: open, then decode every block (full and
//! sizes-only). Errors must be typed; nothing may panic. The first input byte chooses
//! whether the header, footer and trailer CRCs are re-sealed first, so the structural
//! checks behind them are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logjar::chunk::DecodedBlock;
use logjar::segment::{segment_path, Segment};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal(&mut bytes);
    }
    let path = segment_path(scratch(), 1);
    std::fs::write(&path, &bytes).expect("write input");
    let seg = match Segment::open(&path) {
        Ok(s) => s,
        Err(logjar::Error::Corrupt { .. } | logjar::Error::UnsupportedVersion { .. }) => return,
        Err(e) => panic!("unexpected error kind: {e:?}"),
    };
    let mut out = DecodedBlock::new();
    let (mut ts, mut lens) = (Vec::new(), Vec::new());
    for c in seg.chunks() {
        assert!((c.stream as usize) < seg.streams().len());
        for b in &c.blocks {
            if seg.decode_block(b, &mut out).is_ok() {
                assert_eq!(out.len(), b.entries as usize);
            }
            let _ = seg.decode_block_sizes(b, &mut ts, &mut lens);
        }
    }
});

/// One scratch directory for the whole run, on tmpfs when there is one: replay
/// fsyncs, and a fresh directory per input would dominate the run time.
fn scratch() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("temp dir")
    })
    .path()
}

/// Recomputes the header CRC, the footer CRC (in the trailer) and the trailer CRC
/// where the bytes say they are.
fn reseal(b: &mut [u8]) {
    if b.len() < 54 {
        return;
    }
    let t = u16::from_le_bytes([b[8], b[9]]) as usize;
    if 14 + t <= b.len() {
        let c = crc32(&b[..10 + t]);
        b[10 + t..14 + t].copy_from_slice(&c.to_le_bytes());
    }
    let tr = b.len() - 40;
    let off = u64::from_le_bytes(b[tr..tr + 8].try_into().expect("8 bytes"));
    if off <= tr as u64 {
        let c = crc32(&b[off as usize..tr]);
        b[tr + 24..tr + 28].copy_from_slice(&c.to_le_bytes());
    }
    let c = crc32(&b[tr..tr + 28]);
    b[tr + 28..tr + 32].copy_from_slice(&c.to_le_bytes());
}

/// CRC-32 (IEEE), bitwise: the fuzz crate keeps its dependencies to the minimum.
fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
