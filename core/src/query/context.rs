//! Per-query context: cancellation, deadline, byte limit and work counters, shared by
//! the threads of one query.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::error::QueryError;
use super::request::QueryRequest;
use super::stats::Stats;
use crate::db::ReadStats;

/// A flag another thread sets to stop a running query; the query then fails with
/// [`QueryError::Cancelled`] at its next check (every few thousand entries).
///
/// ```
/// let token = logjar::query::CancelToken::new();
/// let for_other_thread = token.clone();
/// for_other_thread.cancel();
/// assert!(token.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Wraps an existing flag (e.g. one a binding sets from a signal handler).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        CancelToken(flag)
    }

    /// Asks the query to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How often (in entries) the loops check cancellation and the deadline.
pub(crate) const CHECK_EVERY: u64 = 4096;

#[derive(Debug)]
pub(crate) struct Ctx {
    cancel: Option<CancelToken>,
    deadline: Option<Instant>,
    max_bytes_read: u64,
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    pub metadata_bytes: AtomicU64,
    pub post_filter_lines: AtomicU64,
    pub size_only_lines: AtomicU64,
    pub size_only_bytes: AtomicU64,
    pub streams: AtomicU64,
    /// Chunk and block figures of the storage iterators, added as each finishes.
    pub store: Mutex<ReadStats>,
}

impl Ctx {
    pub fn new(req: &QueryRequest) -> Ctx {
        Ctx {
            cancel: req.cancel.clone(),
            deadline: req.deadline,
            max_bytes_read: req.limits.max_bytes_read.unwrap_or(u64::MAX),
            lines: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            metadata_bytes: AtomicU64::new(0),
            post_filter_lines: AtomicU64::new(0),
            size_only_lines: AtomicU64::new(0),
            size_only_bytes: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            store: Mutex::new(ReadStats::default()),
        }
    }

    /// Adds a storage iterator's figures.
    pub fn add_store(&self, st: &ReadStats) {
        self.store.lock().add(st);
    }

    /// Fails when the query was cancelled, ran past its deadline or read too much.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(QueryError::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(QueryError::Timeout);
        }
        let read = self.bytes.load(Ordering::Relaxed);
        if read > self.max_bytes_read {
            return Err(QueryError::Limit(format!(
                "the query would read too many bytes (query: {read} B, limit: {} B)",
                self.max_bytes_read
            )));
        }
        Ok(())
    }

    /// Adds a batch of locally counted work.
    pub fn add(&self, w: &Work) {
        self.lines.fetch_add(w.lines, Ordering::Relaxed);
        self.bytes.fetch_add(w.bytes, Ordering::Relaxed);
        self.metadata_bytes
            .fetch_add(w.metadata_bytes, Ordering::Relaxed);
        self.post_filter_lines
            .fetch_add(w.post_filter_lines, Ordering::Relaxed);
        self.size_only_lines
            .fetch_add(w.size_only_lines, Ordering::Relaxed);
        self.size_only_bytes
            .fetch_add(w.size_only_bytes, Ordering::Relaxed);
    }

    pub fn stats(&self) -> Stats {
        Stats {
            total_lines_processed: self.lines.load(Ordering::Relaxed),
            total_bytes_processed: self.bytes.load(Ordering::Relaxed),
            structured_metadata_bytes: self.metadata_bytes.load(Ordering::Relaxed),
            post_filter_lines: self.post_filter_lines.load(Ordering::Relaxed),
            lines_counted_without_decompression: self.size_only_lines.load(Ordering::Relaxed),
            bytes_counted_without_decompression: self.size_only_bytes.load(Ordering::Relaxed),
            streams_selected: self.streams.load(Ordering::Relaxed),
            store: *self.store.lock(),
            ..Stats::default()
        }
    }
}

/// Work counted by one thread between checks.
#[derive(Debug, Default)]
pub(crate) struct Work {
    pub lines: u64,
    pub bytes: u64,
    pub metadata_bytes: u64,
    pub post_filter_lines: u64,
    pub size_only_lines: u64,
    pub size_only_bytes: u64,
}

impl Work {
    /// Counts `n` entries read at once (a run of a block) with their line and metadata
    /// bytes; flushes into `ctx` and checks it once [`CHECK_EVERY`] entries are pending.
    pub fn entries(
        &mut self,
        ctx: &Ctx,
        n: u64,
        line_bytes: u64,
        metadata_bytes: u64,
    ) -> Result<(), QueryError> {
        self.lines += n;
        self.bytes += line_bytes;
        self.metadata_bytes += metadata_bytes;
        if self.lines >= CHECK_EVERY {
            self.flush(ctx)?;
        }
        Ok(())
    }

    /// Moves the counts into `ctx` and checks limits.
    pub fn flush(&mut self, ctx: &Ctx) -> Result<(), QueryError> {
        ctx.add(self);
        *self = Work::default();
        ctx.check()
    }
}
