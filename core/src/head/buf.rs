//! A stream's head buffer: the newest entries, uncompressed and sorted.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::entry::Entry;

/// Bytes of a full arena page. Pages grow by doubling from [`FIRST_PAGE`] to this
/// size, so a small stream holds little, and a stream filling a block takes full pages
/// from a shared pool: no reallocation ever copies buffered lines, and the allocator
/// sees one size over and over (freed pages are reused, not fragmented).
const PAGE: usize = 32 << 10;
/// Bytes of a buffer's first page.
const FIRST_PAGE: usize = 1 << 10;
/// Lines longer than this get a page of their own (so in-page offsets and lengths
/// fit 16 bits).
const BIG_LINE: usize = PAGE / 2;
/// `HeadEntry::len` of a line that has a page of its own (its length is the page's).
const BIG_LEN: u16 = u16::MAX;

/// Key of an entry's metadata: `(ts, page, off, len)`.
type MetaKey = (i64, u32, u16, u16);

/// One buffered entry (16 bytes); the line lives in one of the buffer's pages,
/// metadata (rare) in the buffer's side table.
#[derive(Debug, Clone, Copy)]
struct HeadEntry {
    ts: i64,
    page: u32,
    off: u16,
    len: u16,
}

impl HeadEntry {
    /// The entry's key in the metadata table: unique within a buffer, since entries
    /// with non-empty lines have different `(page, off)` places, an empty line has
    /// length 0 (and a place of 0, 0), and entries with the same (empty) line have
    /// different timestamps.
    fn meta_key(&self) -> MetaKey {
        (self.ts, self.page, self.off, self.len)
    }
}

/// Uncompressed entries of one stream, kept sorted by `(ts, line)` with exact
/// duplicates refused. Lines are packed into pages (1 KiB doubling to 32 KiB), so an
/// entry costs its line plus 16 bytes (plus its metadata, if any). In-order appends are
/// O(1); an out-of-order insert shifts the entries after it (the buffer is small: it is
/// compressed into a block once it reaches the block target).
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
    /// The lines, in insertion order, page after page.
    pages: Vec<Vec<u8>>,
    /// Line bytes held.
    raw: usize,
    /// Capacity of the pages.
    page_bytes: usize,
    /// Metadata of the entries that have some, by [`HeadEntry::meta_key`].
    meta: BTreeMap<MetaKey, Vec<(String, String)>>,
    meta_bytes: usize,
    /// Set by an insert before the last entry: the pages no longer hold the lines in
    /// entry order.
    shuffled: bool,
    /// True when the last page takes more lines (false after a big line's own page).
    last_open: bool,
}

/// Full pages of dropped buffers, kept for buffers that need a new one.
static PAGE_POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// Most pages kept idle in the pool (2 MiB).
const PAGE_POOL_MAX: usize = 64;

impl Drop for HeadBuf {
    fn drop(&mut self) {
        if !self.pages.iter().any(|p| p.capacity() == PAGE) {
            return;
        }
        let mut pool = PAGE_POOL.lock().unwrap_or_else(|e| e.into_inner());
        for mut p in self.pages.drain(..) {
            if pool.len() >= PAGE_POOL_MAX {
                break;
            }
            if p.capacity() == PAGE {
                p.clear();
                pool.push(p);
            }
        }
    }
}

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
        self.raw
    }

    /// Approximate heap bytes used.
    pub fn mem_bytes(&self) -> usize {
        self.page_bytes
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
        if e.len == 0 {
            return &[];
        }
        let page = &self.pages[e.page as usize];
        if e.len == BIG_LEN {
            return page;
        }
        &page[e.off as usize..e.off as usize + e.len as usize]
    }

    fn line_len(&self, e: &HeadEntry) -> u32 {
        if e.len == BIG_LEN {
            self.pages[e.page as usize].len() as u32
        } else {
            u32::from(e.len)
        }
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

    /// Stores a line in the pages and returns its `(page, off, len)` place. Pages of a
    /// buffer never exceed `cap` bytes unless a line needs more.
    fn store_line(&mut self, line: &[u8], cap: usize) -> (u32, u16, u16) {
        if line.is_empty() {
            return (0, 0, 0);
        }
        if line.len() > BIG_LINE {
            self.pages.push(line.to_vec());
            self.page_bytes += line.len();
            self.last_open = false;
            return ((self.pages.len() - 1) as u32, 0, BIG_LEN);
        }
        let fits = self.last_open
            && self
                .pages
                .last()
                .is_some_and(|p| p.capacity() - p.len() >= line.len());
        if !fits {
            let last = self
                .pages
                .iter()
                .rev()
                .map(Vec::capacity)
                .find(|&c| c <= PAGE)
                .unwrap_or(0);
            let size = (last * 2)
                .clamp(FIRST_PAGE, PAGE)
                .min(cap.max(line.len()))
                .max(line.len());
            let pooled = if size == PAGE {
                PAGE_POOL.lock().unwrap_or_else(|e| e.into_inner()).pop()
            } else {
                None
            };
            let page = pooled.unwrap_or_else(|| Vec::with_capacity(size));
            self.page_bytes += page.capacity();
            self.pages.push(page);
            self.last_open = true;
        }
        let page = self.pages.len() - 1;
        let p = &mut self.pages[page];
        let off = p.len();
        p.extend_from_slice(line);
        // `off < PAGE` and `line.len() <= BIG_LINE` both fit 16 bits.
        (page as u32, off as u16, line.len() as u16)
    }

    /// True when an entry with exactly this timestamp and line is buffered.
    /// True when an entry with exactly this timestamp and line is buffered.
    pub fn contains(&self, ts: i64, line: &[u8]) -> bool {
        self.position(ts, line).is_ok()
    }

    /// Inserts an entry in order; returns false (and keeps the first copy) when an
    /// entry with the same `(ts, line)` is already buffered.
    pub fn insert(&mut self, ts: i64, line: &[u8], meta: &[(String, String)]) -> bool {
        self.insert_capped(ts, line, meta, usize::MAX)
    }

    /// [`insert`](Self::insert), with pages of at most `cap` bytes (or what the line
    /// needs): a buffer cut at a small block target keeps small pages.
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
        let (page, off, len) = self.store_line(line, cap);
        self.raw += line.len();
        let e = HeadEntry { ts, page, off, len };
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

    /// The entries as columns, when the pages hold the lines in entry order and no
    /// entry has metadata (the common case: the lines are one copy of the pages into
    /// `scratch`, or the only page itself). `None` otherwise.
    pub(crate) fn columns<'a>(&'a self, scratch: &'a mut Vec<u8>) -> Option<Columns<'a>> {
        if self.shuffled || self.meta_bytes != 0 {
            return None;
        }
        let lines: &'a [u8] = match self.pages.as_slice() {
            [] => &[],
            [p] => p,
            pages => {
                scratch.clear();
                scratch.reserve(self.raw);
                for p in pages {
                    scratch.extend_from_slice(p);
                }
                scratch
            }
        };
        Some(Columns {
            ts: self.entries.iter().map(|e| e.ts).collect(),
            lens: self.entries.iter().map(|e| self.line_len(e)).collect(),
            lines,
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
        (e.ts, self.line_len(e))
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
            type Row = (i64, Vec<u8>, Vec<(String, String)>);
            let got: Vec<Row> = h.iter().map(|(t, l, m)| (t, l.to_vec(), m.to_vec())).collect();
            let want: Vec<Row> = model.into_iter().map(|((t, l), m)| (t, l, m)).collect();
            for (i, w) in want.iter().enumerate() {
                prop_assert_eq!(&h.entry(i).metadata, &w.2);
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn columns_only_while_the_pages_are_in_order_and_without_metadata() {
        let mut h = HeadBuf::default();
        for (ts, l) in [(1, "a"), (2, "bb"), (2, "c")] {
            assert!(h.insert_capped(ts, l.as_bytes(), &[], 4));
        }
        let mut scratch = Vec::new();
        let c = h.columns(&mut scratch).unwrap();
        assert_eq!(
            (c.ts, c.lens, c.lines),
            (vec![1, 2, 2], vec![1, 2, 1], &b"abbc"[..])
        );
        assert!(h.insert(0, b"z", &[]));
        assert!(h.columns(&mut scratch).is_none());
        let mut m = HeadBuf::default();
        assert!(m.insert(1, b"x", &[("k".into(), "v".into())]));
        assert!(m.columns(&mut scratch).is_none());
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
