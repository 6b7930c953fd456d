//! The database: [`Db`] ties the WAL, the head, the label index and the segments
//! together. See `docs/ARCHITECTURE.md` for the write path, flush, recovery and reads.
//!
//! ```
//! use logjar::{Db, Direction, Entry, LabelMatcher, Labels, MatchOp, Options};
//! use logjar::entry::StreamEntries;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let app = Labels::new([("app", "api")]).unwrap();
//! let report = db
//!     .push("fake", &[StreamEntries { labels: app.clone(), entries: vec![
//!         Entry::new(2, "second"), Entry::new(1, "first"), Entry::new(1, "first"),
//!     ]}])
//!     .unwrap();
//! assert_eq!((report.accepted, report.duplicates), (2, 1));
//! db.flush().unwrap();
//!
//! let snap = db.snapshot("fake").unwrap();
//! let sel = LabelMatcher::new("app", MatchOp::Eq, "api").unwrap();
//! let streams = snap.select(&[sel], 0, 10);
//! assert_eq!(streams, vec![(0, app)]);
//! let lines: Vec<_> = snap
//!     .entries(&[0], 0, 10, Direction::Backward)
//!     .map(|r| r.unwrap().1.line)
//!     .collect();
//! assert_eq!(lines, ["second", "first"]);
//! db.close().unwrap();
//! ```

mod background;
mod compact;
mod deletes;
mod flush;
mod read;
mod recover;
mod stats;
mod write;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};

pub use read::{
    BlockIter, Direction, EntryBatch, EntryIter, ReadStats, SizeBatch, SizeIter, Snapshot,
    StreamIter,
};
pub use stats::{Metrics, RecoveryReport, RejectCounts, Stats, TenantStats};
pub use write::PushReport;

use crate::compaction::CompactionReport;
use crate::delete::{CompiledDelete, DeleteRequest};
use crate::entry::StreamEntries;
use crate::error::Result;
use crate::head::{CutConfig, Head};
use crate::index::LabelIndex;
use crate::lock::DirLock;
use crate::manifest::Manifest;
use crate::options::Options;
use crate::retention::RetentionPolicy;
use crate::segment::Segment;
use crate::wal::WalWriter;

/// An open logjar database. `Send + Sync`: share it (e.g. in an `Arc`) between any
/// number of reading and writing threads.
#[derive(Debug)]
pub struct Db {
    inner: Arc<Inner>,
    background: Mutex<Option<JoinHandle<()>>>,
    compactor: Mutex<Option<JoinHandle<()>>>,
}

/// Everything the threads of a `Db` share.
#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    opts: Options,
    _lock: DirLock,
    /// Serializes writers: WAL appends and head changes happen under it.
    writer: Mutex<Writer>,
    /// What readers see; changed by writers (under `writer`) and by flush.
    view: RwLock<View>,
    /// Group commit state.
    sync: Mutex<SyncState>,
    sync_cv: Condvar,
    /// Held for the whole of a flush: one flush at a time.
    flush: Mutex<FlushState>,
    /// The manifest as last written, and what a running compaction is applying. Held
    /// only while a manifest is written and its change published to the view.
    manifest: Mutex<ManifestState>,
    /// Held for the whole of a compaction: one at a time.
    compaction: Mutex<()>,
    /// Asks a running compaction to stop (set by close).
    compact_stop: AtomicBool,
    /// Retention compiled from the options.
    policy: Arc<RetentionPolicy>,
    /// Background thread control.
    bg: Mutex<BgState>,
    bg_cv: Condvar,
    counters: stats::Counters,
    recovery: RecoveryReport,
}

#[derive(Debug)]
struct Writer {
    /// The WAL file appended to; `None` when opened read-only.
    wal: Option<WalWriter>,
    /// A second handle on the current WAL file, for fsync outside the writer lock.
    sync_file: Option<Arc<File>>,
    /// Number of the last batch appended to the WAL.
    batch_seq: u64,
    tenants: HashMap<String, WriterTenant>,
    /// Set when a WAL write or fsync failed, or when closed.
    closed: Option<Option<String>>,
}

/// Per-tenant state the write path needs.
#[derive(Debug, Default)]
struct WriterTenant {
    /// Newest timestamp per stream id (for the out-of-order window).
    newest: Vec<i64>,
    bucket: Option<write::TokenBucket>,
}

impl WriterTenant {
    fn newest(&self, id: u32) -> Option<i64> {
        self.newest
            .get(id as usize)
            .copied()
            .filter(|&t| t != i64::MIN)
    }

    fn observe(&mut self, id: u32, ts: i64) {
        let i = id as usize;
        if self.newest.len() <= i {
            self.newest.resize(i + 1, i64::MIN);
        }
        self.newest[i] = self.newest[i].max(ts);
    }
}

/// The read state: heads, segments and label indexes.
#[derive(Debug, Default)]
struct View {
    live: Head,
    /// Heads frozen by a flush that has not completed, oldest first, each with the
    /// WAL checkpoint that covers it once written.
    frozen: Vec<(Arc<Head>, u64)>,
    tenants: HashMap<String, TenantView>,
}

#[derive(Debug, Clone, Default)]
struct TenantView {
    index: Arc<RwLock<LabelIndex>>,
    segs: Arc<TenantSegs>,
    /// Pending delete requests, which every read filters.
    deletes: Arc<Vec<Arc<CompiledDelete>>>,
}

/// One tenant's segments and, per stream, its chunks in them (in write order).
#[derive(Debug, Clone, Default)]
struct TenantSegs {
    segments: Vec<SegRef>,
    /// stream id → (index into `segments`, chunk index in that segment).
    chunks: HashMap<u32, Vec<(u32, u32)>>,
}

#[derive(Debug, Clone)]
struct SegRef {
    seg: Arc<Segment>,
    file_id: u64,
    /// Position in the tenant's write order (see `SegmentRecord::order`).
    order: u64,
}

#[derive(Debug, Default)]
struct SyncState {
    synced: u64,
    leader: bool,
    poisoned: Option<String>,
}

#[derive(Debug)]
struct FlushState {
    /// Per tenant: streams covered by its index file, and that file's id.
    index_files: HashMap<String, (u32, u64)>,
}

#[derive(Debug)]
struct ManifestState {
    manifest: Manifest,
    /// Delete requests a running compaction is applying: they cannot be cancelled.
    applying: HashSet<u64>,
}

#[derive(Debug, Default)]
struct BgState {
    shutdown: bool,
    flush_requested: bool,
}

impl Db {
    /// Opens (creating if needed) the database in `path`, taking its lock, and recovers
    /// it: reads the manifest, label indexes and segment footers, then replays the WAL.
    /// A second open of the same directory, here or in another process, fails with
    /// [`Error::Locked`](crate::Error::Locked) until this `Db` is closed or dropped.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = logjar::Db::open(dir.path(), logjar::Options::default()).unwrap();
    /// assert!(matches!(
    ///     logjar::Db::open(dir.path(), logjar::Options::default()),
    ///     Err(logjar::Error::Locked { .. })
    /// ));
    /// drop(db);
    /// assert!(logjar::Db::open(dir.path(), logjar::Options::default()).is_ok());
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        // Query threads start now, while recovery runs (see `query::par`).
        crate::query::par::start_threads();
        let inner = Arc::new(recover::open(path.as_ref(), opts)?);
        // A read-only handle has nothing to fsync, flush or compact.
        let writes = !inner.opts.read_only;
        let bg = if writes {
            Some(background::spawn(&inner)?)
        } else {
            None
        };
        let compactor = if writes && !inner.opts.compaction_interval.is_zero() {
            Some(background::spawn_compactor(&inner)?)
        } else {
            None
        };
        Ok(Db {
            inner,
            background: Mutex::new(bg),
            compactor: Mutex::new(compactor),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Writes a batch all-or-nothing: if any stream or entry breaks a limit, nothing is
    /// written and the first violation is returned ([`Error::Limit`](crate::Error::Limit)); bad tenant ids are
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument). Exact duplicates of buffered entries are not an error:
    /// they are counted in [`PushReport::duplicates`] and stored once. Returns when the
    /// batch is as durable as [`Options::sync`] promises.
    pub fn push(&self, tenant: &str, streams: &[StreamEntries]) -> Result<PushReport> {
        self.writable("push")?;
        self.inner.push(tenant, streams, true)
    }

    /// Writes a batch the way Loki does: entries that break a limit are skipped and
    /// counted per reason in [`PushReport::rejected`]; the rest is written. Only a bad
    /// tenant id, the tenant's rate limit, or a storage failure fail the whole call.
    ///
    /// ```
    /// use logjar::{Db, Entry, Labels, Options, entry::StreamEntries};
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut opts = Options::default();
    /// opts.limits.max_line_size = 4;
    /// let db = Db::open(dir.path(), opts).unwrap();
    /// let batch = [StreamEntries {
    ///     labels: Labels::new([("app", "x")]).unwrap(),
    ///     entries: vec![Entry::new(1, "ok"), Entry::new(2, "far too long")],
    /// }];
    /// assert!(db.push("fake", &batch).is_err()); // strict: nothing written
    /// let r = db.push_lenient("fake", &batch).unwrap();
    /// assert_eq!((r.accepted, r.rejected.line_too_long), (1, 1));
    /// ```
    pub fn push_lenient(&self, tenant: &str, streams: &[StreamEntries]) -> Result<PushReport> {
        self.writable("push")?;
        self.inner.push(tenant, streams, false)
    }

    /// Writes everything in memory to segments (one per tenant), records them in the
    /// manifest, and then deletes the WAL files they cover. Returns once durable.
    pub fn flush(&self) -> Result<()> {
        self.writable("flush")?;
        self.inner.flush()
    }

    /// A consistent read view of `tenant`: no half-applied batch, no gap or double
    /// across a concurrent flush. An unknown tenant gives an empty snapshot. Reads keep
    /// working after a failed fsync has poisoned the database for writes.
    pub fn snapshot(&self, tenant: &str) -> Result<Snapshot> {
        crate::labels::validate_tenant(tenant)?;
        Ok(self.inner.snapshot(tenant))
    }

    /// Sorted label names of `tenant`'s streams with data in `[start, end)`.
    pub fn label_names(&self, tenant: &str, start: i64, end: i64) -> Result<Vec<String>> {
        Ok(self.snapshot(tenant)?.label_names(start, end))
    }

    /// Sorted values of label `name` among `tenant`'s streams with data in `[start, end)`.
    pub fn label_values(
        &self,
        tenant: &str,
        name: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        Ok(self.snapshot(tenant)?.label_values(name, start, end))
    }

    /// Label sets of `tenant`'s streams matching every matcher with data in `[start, end)`.
    pub fn series(
        &self,
        tenant: &str,
        matchers: &[crate::LabelMatcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<crate::Labels>> {
        let snap = self.snapshot(tenant)?;
        Ok(snap
            .select(matchers, start, end)
            .into_iter()
            .map(|(_, l)| l)
            .collect())
    }

    /// Runs one compaction now (waiting for a running one to finish first) and returns
    /// what it did: flushes the head, drops segments whose data has all expired,
    /// rewrites segments holding expired entries or entries of due delete requests,
    /// and merges runs of small segments (and each stream's small chunks) into larger
    /// ones. Reads and writes go on meanwhile; they see the old files or the new ones.
    ///
    /// ```
    /// use logjar::{Db, Entry, Labels, Options, entry::StreamEntries};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let labels = Labels::new([("app", "api")]).unwrap();
    /// for i in 0..3 {
    ///     db.push("fake", &[StreamEntries { labels: labels.clone(), entries: vec![Entry::new(i, "x")] }]).unwrap();
    ///     db.flush().unwrap();
    /// }
    /// let r = db.compact().unwrap();
    /// assert_eq!((r.segments_before, r.segments_after), (3, 1));
    /// ```
    pub fn compact(&self) -> Result<CompactionReport> {
        self.writable("compaction")?;
        self.inner.compact(compact::Mode::Explicit)
    }

    /// Logs a delete request (durable before returning); queries stop returning the
    /// entries it matches at once, and compaction removes them from disk.
    ///
    /// `query` is a log selector with optional line filters (Loki's delete API:
    /// `{app="api"} |= "secret"`); `start` and `end` are ns, both inclusive. A bad
    /// query is [`Error::InvalidArgument`](crate::Error::InvalidArgument) with the
    /// parser's message.
    ///
    /// ```
    /// use logjar::{Db, Direction, Entry, Labels, Options, entry::StreamEntries};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let labels = Labels::new([("app", "api")]).unwrap();
    /// db.push("fake", &[StreamEntries { labels, entries: vec![
    ///     Entry::new(1, "token=secret"), Entry::new(2, "hello"),
    /// ]}]).unwrap();
    /// let req = db.delete("fake", r#"{app="api"} |= "secret""#, 0, 10).unwrap();
    /// let snap = db.snapshot("fake").unwrap();
    /// let lines: Vec<_> = snap.stream(0, 0, 10, Direction::Forward).map(|e| e.unwrap().line).collect();
    /// assert_eq!(lines, ["hello"]);
    /// assert_eq!(db.delete_requests("fake").unwrap()[0].id, req.id);
    /// assert!(db.delete("fake", "{app=", 0, 10).is_err());
    /// ```
    pub fn delete(&self, tenant: &str, query: &str, start: i64, end: i64) -> Result<DeleteRequest> {
        self.writable("a delete request")?;
        self.inner.delete(tenant, query, start, end)
    }

    /// Every delete request of `tenant` (pending, applied and cancelled), by id.
    pub fn delete_requests(&self, tenant: &str) -> Result<Vec<DeleteRequest>> {
        self.inner.delete_requests(tenant)
    }

    /// Cancels a pending delete request: its entries are returned by queries again.
    /// An unknown id, or a request already applied (or being applied) by compaction, is
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    pub fn cancel_delete(&self, tenant: &str, id: u64) -> Result<()> {
        self.writable("cancelling a delete request")?;
        self.inner.cancel_delete(tenant, id)
    }

    /// Per-tenant statistics.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Counters since open.
    pub fn metrics(&self) -> Metrics {
        self.inner.counters.snapshot()
    }

    /// What recovery found and repaired when the database was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Stops the background thread, fsyncs the WAL and releases the lock. Unflushed
    /// data stays in the WAL and is replayed by the next open.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    /// [`Error::ReadOnly`](crate::Error::ReadOnly) for `what` on a read-only handle.
    fn writable(&self, what: &'static str) -> Result<()> {
        if self.inner.opts.read_only {
            return Err(crate::Error::ReadOnly(what));
        }
        Ok(())
    }

    fn shutdown(&self) -> Result<()> {
        {
            let mut bg = self.inner.bg.lock();
            bg.shutdown = true;
            self.inner
                .compact_stop
                .store(true, std::sync::atomic::Ordering::Relaxed);
            self.inner.bg_cv.notify_all();
        }
        if let Some(h) = self.background.lock().take() {
            let _ = h.join();
        }
        if let Some(h) = self.compactor.lock().take() {
            let _ = h.join();
        }
        let mut w = self.inner.writer.lock();
        if w.closed.is_some() {
            return Ok(());
        }
        let r = w.wal.as_mut().map_or(Ok(()), WalWriter::sync);
        w.closed = Some(None);
        r
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            log::warn!("closing {}: {e}", self.inner.dir.display());
        }
    }
}

/// Path of segment file `id` in the database directory `dir`.
fn seg_path(dir: &Path, id: u64) -> PathBuf {
    crate::segment::segment_path(&dir.join(crate::segment::DIR_NAME), id)
}

/// Path of index file `id` in the database directory `dir`.
fn idx_path(dir: &Path, id: u64) -> PathBuf {
    crate::index_file::index_path(&dir.join(crate::index_file::DIR_NAME), id)
}

impl Inner {
    fn cut_config(&self) -> CutConfig {
        CutConfig {
            block_target_bytes: self.opts.block_target_bytes,
            zstd_level: self.opts.zstd_level,
        }
    }

    /// Marks the database unusable for writes after a failed WAL write or fsync.
    fn poison(&self, reason: String) {
        log::error!("{}: {reason}", self.dir.display());
        {
            let mut w = self.writer.lock();
            if w.closed.is_none() {
                w.closed = Some(Some(reason.clone()));
            }
        }
        let mut s = self.sync.lock();
        s.poisoned.get_or_insert(reason);
        self.sync_cv.notify_all();
    }
}

#[cfg(test)]
mod tests;
