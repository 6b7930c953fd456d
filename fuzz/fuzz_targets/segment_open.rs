//! Arbitrary bytes as a segment file: open, then decode every block (full and
//! sizes-only). Errors must be typed; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logjar::chunk::DecodedBlock;
use logjar::segment::{segment_path, Segment};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = segment_path(dir.path(), 1);
    std::fs::write(&path, data).expect("write input");
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
