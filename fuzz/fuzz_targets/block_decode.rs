//! Arbitrary bytes as a chunk block. The first input byte chooses whether the block's
//! CRC is re-sealed first, so the structural checks behind the CRC are reached too, and
//! may force the layout version byte (1, 2 or 3) so every layout's parser is reached.
//! A version 2 or 3 block's sizes-only decode checks only its head CRC, so it may
//! succeed where the full decode fails; never the other way round.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logjar::chunk::{decode_block, decode_block_sizes, DecodedBlock};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 6 != 0 && !bytes.is_empty() {
        // Bits 1-2: 01 = version 1, 10 = version 2, 11 = version 3 (00: as is).
        bytes[0] = (mode >> 1) & 3;
    }
    if mode & 1 == 1 && bytes.len() >= 4 {
        let n = bytes.len() - 4;
        let crc = crc32(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
    let mut out = DecodedBlock::new();
    let full = decode_block(&bytes, &mut out);
    let (mut ts, mut lens) = (Vec::new(), Vec::new());
    let sizes = decode_block_sizes(&bytes, &mut ts, &mut lens);
    if full.is_ok() {
        // A block that decodes fully also decodes sizes-only, to the same values.
        assert!(sizes.is_ok());
        assert_eq!(out.timestamps(), &ts[..]);
        assert_eq!(out.line_lens(), &lens[..]);
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
        for i in 0..out.len() {
            assert_eq!(out.line(i).len(), lens[i] as usize);
            for (k, v) in out.metadata(i) {
                let _ = (k.len(), v.len());
            }
        }
    } else {
        assert!(out.is_empty());
    }
});

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
