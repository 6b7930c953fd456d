//! Frame-of-reference bit packing for the columns of a version 3 block.
//!
//! A column of integers is stored as its minimum and, for every value, `value - min`
//! in exactly `w` bits (the width of the largest difference), least significant bit
//! first, packed back to back into `ceil(count * w / 8)` bytes. Timestamp deltas of one
//! stream and the lengths of its lines spread over a narrow range, so this stores them
//! in fewer bytes than whole-byte planes (timestamps 5 → ~4.1 bytes per entry on the
//! gen_logs data) while a reader still decodes them with a shift and a mask per value,
//! without a decompressor.

/// Bits needed to write `max` (0 for 0).
pub(crate) fn width(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// Bytes that `count` values of `w` bits take.
pub(crate) fn packed_len(count: usize, w: u32) -> usize {
    // `count` is at most MAX_BLOCK_ENTRIES (2^22) and `w` at most 64: no overflow.
    (count * w as usize).div_ceil(8)
}

/// Appends `values` packed at `w` bits each (every value must fit in `w` bits).
pub(crate) fn pack(dst: &mut Vec<u8>, values: impl Iterator<Item = u64>, w: u32) {
    if w == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    for v in values {
        debug_assert!(w == 64 || v >> w == 0, "{v} does not fit in {w} bits");
        acc |= u128::from(v) << bits;
        bits += w;
        if bits >= 64 {
            dst.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            bits -= 64;
        }
    }
    let tail = bits.div_ceil(8) as usize;
    dst.extend_from_slice(&(acc as u64).to_le_bytes()[..tail]);
}

/// The 8 bytes at `at` as a little-endian u64, zero beyond the end of `src`.
#[inline]
fn le_u64(src: &[u8], at: usize) -> u64 {
    match src.get(at..at + 8) {
        Some(b) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        None => {
            let mut b = [0u8; 8];
            let rest = src.get(at..).unwrap_or(&[]);
            b[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(b)
        }
    }
}

/// Writes the `out.len()` values of `w` bits packed in `src` (which must be
/// [`packed_len`]`(out.len(), w)` bytes; checked by the caller) into `out`.
pub(crate) fn unpack(src: &[u8], w: u32, out: &mut [u64]) {
    if w == 0 {
        out.fill(0);
        return;
    }
    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
    let w = w as usize;
    // Values whose 8-byte read (16 for wide values) stays inside `src` take the fast
    // loop; the last few go through `le_u64`, which pads with zeros.
    // Value `i` is read at byte `i * w / 8`, which must be at most `len - 8`.
    let fast = if w <= 56 && src.len() >= 8 {
        (8 * (src.len() - 7)).div_ceil(w).min(out.len())
    } else {
        0
    };
    let (head, tail) = out.split_at_mut(fast);
    let mut bit = 0usize;
    for o in head {
        let at = bit / 8;
        // In bounds by the choice of `fast`: one check and one load.
        let word = u64::from_le_bytes(src[at..at + 8].try_into().unwrap_or([0; 8]));
        *o = (word >> (bit % 8)) & mask;
        bit += w;
    }
    for o in tail {
        let (at, shift) = (bit / 8, (bit % 8) as u32);
        let lo = le_u64(src, at) >> shift;
        let hi = if shift == 0 || w <= 56 {
            0
        } else {
            le_u64(src, at + 8) << (64 - shift)
        };
        *o = (lo | hi) & mask;
        bit += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(values: &[u64]) -> (u32, Vec<u64>) {
        let w = width(values.iter().copied().max().unwrap_or(0));
        let mut buf = Vec::new();
        pack(&mut buf, values.iter().copied(), w);
        assert_eq!(buf.len(), packed_len(values.len(), w));
        let mut out = vec![u64::MAX; values.len()];
        unpack(&buf, w, &mut out);
        (w, out)
    }

    #[test]
    fn widths_and_edges() {
        assert_eq!(width(0), 0);
        assert_eq!(width(1), 1);
        assert_eq!(width(255), 8);
        assert_eq!(width(256), 9);
        assert_eq!(width(u64::MAX), 64);
        for values in [
            vec![],
            vec![0, 0, 0],
            vec![1],
            vec![u64::MAX, 0, u64::MAX, 1],
            vec![(1 << 57) - 1, 3, 1 << 56],
            (0..1000).map(|i| i * 7919 % 5003).collect(),
        ] {
            let (_, out) = round_trip(&values);
            assert_eq!(out, values);
        }
    }

    proptest! {
        #[test]
        fn pack_unpack_round_trips(values in proptest::collection::vec(any::<u64>(), 0..200), shift in 0u32..64) {
            let values: Vec<u64> = values.into_iter().map(|v| v >> shift).collect();
            let (w, out) = round_trip(&values);
            prop_assert_eq!(out, values);
            prop_assert!(w <= 64 - shift);
        }
    }
}
