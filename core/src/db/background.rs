//! The background threads: one for interval fsyncs and flushes (on memory pressure, on
//! the flush interval, and when unflushed data reaches `max_chunk_age`), one for
//! scheduled compaction (so a long compaction never delays an fsync).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Inner;
use crate::error::{Error, Result};
use crate::options::SyncMode;

/// Starts the background thread of `inner`; it runs until `BgState::shutdown`.
pub(super) fn spawn(inner: &Arc<Inner>) -> Result<JoinHandle<()>> {
    let inner = inner.clone();
    std::thread::Builder::new()
        .name("logjar-background".into())
        .spawn(move || run(&inner))
        .map_err(|e| Error::io(std::path::PathBuf::from("<thread>"), e))
}

/// Starts the compaction thread: a compaction every `compaction_interval` until
/// shutdown (which also stops a running compaction between blocks).
pub(super) fn spawn_compactor(inner: &Arc<Inner>) -> Result<JoinHandle<()>> {
    let inner = inner.clone();
    std::thread::Builder::new()
        .name("logjar-compactor".into())
        .spawn(move || {
            let every = inner.opts.compaction_interval;
            let mut last = Instant::now();
            loop {
                {
                    let mut bg = inner.bg.lock();
                    let left = every.saturating_sub(last.elapsed());
                    if !bg.shutdown && !left.is_zero() {
                        inner.bg_cv.wait_for(&mut bg, left);
                    }
                    if bg.shutdown {
                        return;
                    }
                }
                if last.elapsed() < every {
                    continue;
                }
                match inner.compact(super::compact::Mode::Background) {
                    Ok(r) => log::debug!("background compaction of {}: {r:?}", inner.dir.display()),
                    Err(Error::Closed(_)) => return,
                    Err(e) => log::warn!(
                        "background compaction of {} failed: {e}",
                        inner.dir.display()
                    ),
                }
                last = Instant::now();
            }
        })
        .map_err(|e| Error::io(std::path::PathBuf::from("<thread>"), e))
}

fn run(inner: &Inner) {
    let opts = &inner.opts;
    let mut tick = Duration::from_secs(1);
    if opts.sync == SyncMode::Interval {
        tick = tick.min(opts.sync_interval);
    }
    let mut last_sync = Instant::now();
    let mut last_flush = Instant::now();
    loop {
        let requested = {
            let mut bg = inner.bg.lock();
            if !bg.shutdown && !bg.flush_requested {
                inner.bg_cv.wait_for(&mut bg, tick);
            }
            if bg.shutdown {
                return;
            }
            std::mem::take(&mut bg.flush_requested)
        };
        if opts.sync == SyncMode::Interval && last_sync.elapsed() >= opts.sync_interval {
            last_sync = Instant::now();
            if let Err(e) = inner.sync_wal() {
                inner.poison(format!("WAL fsync failed: {e}"));
            }
        }
        let (mem, first_write) = {
            let v = inner.view.read();
            (v.live.mem_bytes(), v.live.first_write())
        };
        let Some(first_write) = first_write else {
            continue;
        };
        let aged = first_write.elapsed() >= opts.max_chunk_age
            || (!opts.flush_interval.is_zero() && last_flush.elapsed() >= opts.flush_interval);
        if aged || requested || mem > opts.max_head_bytes {
            // Only a flush for memory may carry unfinished head buffers over.
            match inner.flush_with(!aged) {
                Ok(()) => last_flush = Instant::now(),
                Err(e) => {
                    inner.counters.add_flush_error();
                    log::warn!("background flush of {} failed: {e}", inner.dir.display());
                }
            }
        }
    }
}
