//! A stream's head buffer: the newest entries, uncompressed and sorted.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::entry::Entry;

/// One buffered entry (16 bytes); the line lives in the buffer's arena, metadata (rare)
/// in the buffer's side table.
#[derive(Debug, Clone, Copy)]
struct HeadEntry {
    ts: i64,
    off: u32,
    len: u32,
}

impl HeadEntry {
    /// The entry's key in the metadata table: unique within a buffer, since entries
    /// with different lines have different `(off, len)` unless the line is empty, and
    /// entries with the same (empty) line have different timestamps.
    fn meta_key(&self) -> (i64, u32, u32) {
        (self.ts, self.off, self.len)
    }
}

/// Uncompressed entries of one stream, kept sorted by `(ts, line)` with exact
/// duplicates refused. Lines are packed into one arena, so an entry costs its line plus
/// 16 bytes (plus its metadata, if any). In-order appends are O(1); an out-of-order insert shifts the entries
/// after it (the buffer is small: it is compressed into a block once it reaches the
/// block target).
///
/// ```
/// use logjar::head::HeadBuf;
/// let mut h = HeadBuf::default();
/// assert!(h.insert(20, b"b", &[]));
/// assert!(h.insert(10, b"a", &[]));
/// assert!(!h.insert(20, b"b", &[])); // exact duplicate
/// let ts: Vec<i64> = h.iter().map(|(ts, _, _)| ts).collect();
/// assert_eq!(ts, [10, 20]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct HeadBuf {
    entries: Vec<HeadEntry>,
    arena: Vec<u8>,
    /// Metadata of the entries that have some, by [`HeadEntry::meta_key`].
    meta: BTreeMap<(i64, u32, u32), Vec<(String, String)>>,
    meta_bytes: usize,
    /// Set by an insert before the last entry: the arena no longer holds the lines in
    /// entry order.
    shuffled: bool,
}

/// Arenas of head buffers that were cut, kept for buffers growing towards the block
/// target: taking one costs a single copy of what the growing buffer holds, instead of
/// reallocations that copy it again and again and fault in fresh pages each time.
static ARENA_POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// Most arenas kept idle in the pool (with 256 KiB blocks: about 2 MiB).
const ARENA_POOL_MAX: usize = 8;

/// A head buffer as columns ready for [`ChunkBuilder::encode_columns`](crate::chunk::ChunkBuilder).
pub(crate) struct Columns<'a> {
    pub ts: Vec<i64>,
    pub lens: Vec<u32>,
    pub lines: &'a [u8],
}

impl HeadBuf {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Line bytes held.
    pub fn raw_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Approximate heap bytes used.
    pub fn mem_bytes(&self) -> usize {
        self.arena.capacity()
            + self.entries.capacity() * std::mem::size_of::<HeadEntry>()
            + self.meta_bytes
    }

    /// Oldest timestamp.
    pub fn min_ts(&self) -> Option<i64> {
        self.entries.first().map(|e| e.ts)
    }

    /// Newest timestamp.
    pub fn max_ts(&self) -> Option<i64> {
        self.entries.last().map(|e| e.ts)
    }

    fn line(&self, e: &HeadEntry) -> &[u8] {
        &self.arena[e.off as usize..e.off as usize + e.len as usize]
    }

    fn cmp_at(&self, i: usize, ts: i64, line: &[u8]) -> Ordering {
        let e = &self.entries[i];
        e.ts.cmp(&ts).then_with(|| self.line(e).cmp(line))
    }

    /// Where `(ts, line)` is (`Ok`) or would go (`Err`).
    fn position(&self, ts: i64, line: &[u8]) -> Result<usize, usize> {
        let n = self.entries.len();
        // Fast path: appending in order.
        match n.checked_sub(1).map(|last| self.cmp_at(last, ts, line)) {
            None => return Err(0),
            Some(Ordering::Less) => return Err(n),
            Some(Ordering::Equal) => return Ok(n - 1),
            Some(Ordering::Greater) => {}
        }
        let mut lo = 0;
        let mut hi = n;
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.cmp_at(mid, ts, line) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// True when an entry with exactly this timestamp and line is buffered.
    pub fn contains(&self, ts: i64, line: &[u8]) -> bool {
        self.position(ts, line).is_ok()
    }

    /// Inserts an entry in order; returns false (and keeps the first copy) when an
    /// entry with the same `(ts, line)` is already buffered.
    pub fn insert(&mut self, ts: i64, line: &[u8], meta: &[(String, String)]) -> bool {
        self.insert_capped(ts, line, meta, usize::MAX)
    }

    /// [`insert`](Self::insert), growing the arena by doubling but to no more than
    /// `cap` bytes (or what the line needs): a buffer that is cut at a known size
    /// then never reallocates to twice that size for its last line.
    pub(crate) fn insert_capped(
        &mut self,
        ts: i64,
        line: &[u8],
        meta: &[(String, String)],
        cap: usize,
    ) -> bool {
        let Err(pos) = self.position(ts, line) else {
            return false;
        };
        let off = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(line.len()).unwrap_or(u32::MAX);
        let need = self.arena.len() + line.len();
        if need > self.arena.capacity() {
            let grown = (self.arena.capacity() * 2).max(1024).min(cap).max(need);
            if cap != usize::MAX && grown > cap / 2 {
                self.take_pooled_arena(grown);
            }
            if need > self.arena.capacity() {
                self.arena.reserve_exact(grown - self.arena.len());
            }
        }
        self.arena.extend_from_slice(line);
        let e = HeadEntry { ts, off, len };
        if !meta.is_empty() {
            self.meta_bytes += 64
                + meta
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 48)
                    .sum::<usize>();
            self.meta.insert(e.meta_key(), meta.to_vec());
        }
        if pos == self.entries.len() {
            self.entries.push(e);
        } else {
            self.entries.insert(pos, e);
            self.shuffled = true;
        }
        true
    }

    /// Moves the lines into a pooled arena of at least `want` bytes, if one is idle.
    fn take_pooled_arena(&mut self, want: usize) {
        let pooled = {
            let mut pool = ARENA_POOL.lock().unwrap_or_else(|e| e.into_inner());
            let at = pool.iter().position(|a| a.capacity() >= want);
            at.map(|i| pool.swap_remove(i))
        };
        if let Some(mut a) = pooled {
            a.clear();
            a.extend_from_slice(&self.arena);
            self.arena = a;
        }
    }

    /// Gives this buffer's arena to the pool (for [`insert_capped`](Self::insert_capped)
    /// of other buffers) when it is between `cap / 2` and `cap` bytes large.
    pub(crate) fn recycle(self, cap: usize) {
        let c = self.arena.capacity();
        if c > cap / 2 && c <= cap {
            let mut pool = ARENA_POOL.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < ARENA_POOL_MAX {
                pool.push(self.arena);
            }
        }
    }

    /// The entries as columns whose lines are borrowed from the arena, when the
    /// arena holds them in order and no entry has metadata (the common case: no copy
    /// of the lines is needed to encode the buffer). `None` otherwise.
    pub(crate) fn columns(&self) -> Option<Columns<'_>> {
        if self.shuffled || self.meta_bytes != 0 {
            return None;
        }
        Some(Columns {
            ts: self.entries.iter().map(|e| e.ts).collect(),
            lens: self.entries.iter().map(|e| e.len).collect(),
            lines: &self.arena,
        })
    }

    /// Metadata of `e` (empty for most entries).
    fn meta_of(&self, e: &HeadEntry) -> &[(String, String)] {
        if self.meta.is_empty() {
            return &[];
        }
        self.meta.get(&e.meta_key()).map_or(&[], Vec::as_slice)
    }

    /// Entries in `(ts, line)` order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, &[u8], &[(String, String)])> {
        self.entries
            .iter()
            .map(|e| (e.ts, self.line(e), self.meta_of(e)))
    }

    /// Index range of the entries with `start <= ts < end`.
    pub fn range(&self, start: i64, end: i64) -> std::ops::Range<usize> {
        let lo = self.entries.partition_point(|e| e.ts < start);
        let hi = self.entries.partition_point(|e| e.ts < end);
        lo..hi.max(lo)
    }

    /// Copies out entry `i` (an index from [`HeadBuf::range`]).
    pub fn entry(&self, i: usize) -> Entry {
        let e = &self.entries[i];
        Entry {
            ts: e.ts,
            line: Bytes::copy_from_slice(self.line(e)),
            metadata: self.meta_of(e).to_vec(),
        }
    }

    /// Timestamp and line length of entry `i`.
    pub fn size_at(&self, i: usize) -> (i64, u32) {
        let e = &self.entries[i];
        (e.ts, e.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorted_and_deduped_like_a_set(items in proptest::collection::vec((0..20i64, "[ab]{0,2}"), 0..60)) {
            let mut h = HeadBuf::default();
            let mut model = std::collections::BTreeSet::new();
            for (ts, line) in &items {
                let fresh = model.insert((*ts, line.as_bytes().to_vec()));
                prop_assert_eq!(h.insert(*ts, line.as_bytes(), &[]), fresh);
            }
            let got: Vec<(i64, Vec<u8>)> = h.iter().map(|(t, l, _)| (t, l.to_vec())).collect();
            let want: Vec<(i64, Vec<u8>)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
            let r = h.range(5, 10);
            prop_assert!(h.iter().enumerate().all(|(i, (t, _, _))| r.contains(&i) == (5..10).contains(&t)));
        }
    }

    proptest! {
        /// Metadata stays with its entry through out-of-order inserts, also for empty
        /// lines (which share an arena offset with the next entry).
        #[test]
        fn metadata_follows_its_entry(items in proptest::collection::vec((0..8i64, "[ab]{0,1}", proptest::option::of("[xyz]{1,2}")), 0..40)) {
            let mut h = HeadBuf::default();
            let mut model = std::collections::BTreeMap::new();
            for (ts, line, m) in &items {
                let meta: Vec<(String, String)> = m.iter().map(|v| ("k".to_string(), v.clone())).collect();
                let key = (*ts, line.as_bytes().to_vec());
                let fresh = !model.contains_key(&key);
                if fresh {
                    model.insert(key, meta.clone());
                }
                prop_assert_eq!(h.insert(*ts, line.as_bytes(), &meta), fresh);
            }
            let got: Vec<(i64, Vec<u8>, Vec<(String, String)>)> =
                h.iter().map(|(t, l, m)| (t, l.to_vec(), m.to_vec())).collect();
            let want: Vec<(i64, Vec<u8>, Vec<(String, String)>)> =
                model.into_iter().map(|((t, l), m)| (t, l, m)).collect();
            for (i, w) in want.iter().enumerate() {
                prop_assert_eq!(&h.entry(i).metadata, &w.2);
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn columns_only_while_the_arena_is_in_order_and_without_metadata() {
        let mut h = HeadBuf::default();
        for (ts, l) in [(1, "a"), (2, "bb"), (2, "c")] {
            assert!(h.insert_capped(ts, l.as_bytes(), &[], 4));
        }
        let c = h.columns().unwrap();
        assert_eq!(
            (c.ts, c.lens, c.lines),
            (vec![1, 2, 2], vec![1, 2, 1], &b"abbc"[..])
        );
        assert!(h.insert(0, b"z", &[]));
        assert!(h.columns().is_none());
        let mut m = HeadBuf::default();
        assert!(m.insert(1, b"x", &[("k".into(), "v".into())]));
        assert!(m.columns().is_none());
    }

    #[test]
    fn first_metadata_wins() {
        let mut h = HeadBuf::default();
        let m1 = vec![("k".to_string(), "1".to_string())];
        let m2 = vec![("k".to_string(), "2".to_string())];
        assert!(h.insert(1, b"x", &m1));
        assert!(!h.insert(1, b"x", &m2));
        assert_eq!(h.entry(0).metadata, m1);
        assert_eq!(h.raw_bytes(), 1);
    }
}
