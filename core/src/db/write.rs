//! The write path: validate → (writer lock) out-of-order window, duplicates, WAL append,
//! apply to the head → (no lock) wait for durability as the sync mode says.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use xxhash_rust::xxh3::Xxh3Builder;

use super::{Inner, RejectCounts, Writer};
use crate::entry::{Entry, StreamEntries};
use crate::error::{Error, LimitError, Result};
use crate::labels::{validate_tenant, Labels};
use crate::options::{Limits, SyncMode};
use crate::wal;

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Entries written.
    pub accepted: u64,
    /// Entries dropped because an identical entry (same stream, timestamp and line)
    /// was already buffered or earlier in the batch; not an error.
    pub duplicates: u64,
    /// Entries rejected, per reason (always zero after a successful strict push).
    pub rejected: RejectCounts,
    /// Line bytes written.
    pub bytes: u64,
}

/// A per-tenant token bucket over line bytes.
#[derive(Debug, Clone)]
pub(super) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u64, burst: u64) -> Self {
        let burst = burst.max(rate) as f64;
        TokenBucket {
            rate: rate as f64,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens if available.
    fn take(&mut self, n: u64) -> bool {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if n as f64 <= self.tokens {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

/// Checks a stream's labels against the limits.
fn check_labels(labels: &Labels, l: &Limits) -> Result<(), LimitError> {
    if labels.len() > l.max_labels_per_stream {
        return Err(LimitError::TooManyLabels {
            count: labels.len(),
            max: l.max_labels_per_stream,
        });
    }
    for (n, v) in labels.iter() {
        if n.len() > l.max_label_name_length {
            return Err(LimitError::LabelNameTooLong {
                name: n.chars().take(64).collect(),
                len: n.len(),
                max: l.max_label_name_length,
            });
        }
        if v.len() > l.max_label_value_length {
            return Err(LimitError::LabelValueTooLong {
                name: n.to_owned(),
                len: v.len(),
                max: l.max_label_value_length,
            });
        }
    }
    Ok(())
}

/// Counts `n` entries rejected for `e` and remembers the first violation.
fn reject(report: &mut PushReport, first: &mut Option<LimitError>, e: LimitError, n: usize) {
    report.rejected.add(&e, n as u64);
    first.get_or_insert(e);
}

/// Per distinct stream of a batch: what the checks so far have accepted.
struct KeyState<'a> {
    id: Option<u32>,
    newest: Option<i64>,
    /// True when the stream has no data in the live head yet (counts as a new active stream).
    new_active: bool,
    counted: bool,
    /// Largest accepted `(ts, line)` so far.
    last: Option<(i64, &'a [u8])>,
    accepted: Vec<(i64, &'a [u8])>,
    /// Built on the first entry that is not beyond `last`.
    set: Option<HashSet<(i64, &'a [u8]), Xxh3Builder>>,
}

impl<'a> KeyState<'a> {
    fn seen(&mut self, key: (i64, &'a [u8])) -> bool {
        match self.last {
            None => false,
            Some(last) if key > last => false,
            Some(_) => {
                let accepted = &self.accepted;
                self.set
                    .get_or_insert_with(|| accepted.iter().copied().collect())
                    .contains(&key)
            }
        }
    }

    fn remember(&mut self, key: (i64, &'a [u8])) {
        self.accepted.push(key);
        if let Some(set) = &mut self.set {
            set.insert(key);
        }
        if self.last.is_none_or(|l| key > l) {
            self.last = Some(key);
        }
        self.newest = Some(self.newest.map_or(key.0, |n| n.max(key.0)));
    }
}

/// Counts of an apply.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub accepted: u64,
    pub duplicates: u64,
    pub bytes: u64,
}

impl Inner {
    /// `push` (strict) and `push_lenient`.
    pub(super) fn push(
        &self,
        tenant: &str,
        streams: &[StreamEntries],
        strict: bool,
    ) -> Result<PushReport> {
        validate_tenant(tenant)?;
        if streams.iter().any(|s| s.labels.is_empty()) {
            return Err(Error::InvalidArgument(
                "a stream needs at least one label with a non-empty value".into(),
            ));
        }
        let limits = &self.opts.limits;
        let mut report = PushReport::default();
        let mut first_err: Option<LimitError> = None;

        // Checks that need no state, outside every lock.
        let mut candidates: Vec<(&Labels, Vec<&Entry>)> = Vec::with_capacity(streams.len());
        for s in streams {
            if s.entries.is_empty() {
                continue;
            }
            if let Err(e) = check_labels(&s.labels, limits) {
                reject(&mut report, &mut first_err, e, s.entries.len());
                continue;
            }
            let mut ok = Vec::with_capacity(s.entries.len());
            for e in &s.entries {
                if limits.max_line_size > 0 && e.line.len() > limits.max_line_size {
                    let err = LimitError::LineTooLong {
                        size: e.line.len(),
                        max: limits.max_line_size,
                    };
                    reject(&mut report, &mut first_err, err, 1);
                } else {
                    ok.push(e);
                }
            }
            if !ok.is_empty() {
                candidates.push((&s.labels, ok));
            }
        }
        if strict {
            if let Some(e) = first_err.take() {
                self.counters.add_rejected(&report.rejected);
                return Err(e.into());
            }
        }

        let mut w = self.writer.lock();
        if let Some(reason) = &w.closed {
            return Err(Error::Closed(reason.clone()));
        }
        if limits.ingestion_rate_bytes > 0 {
            let bytes: u64 = candidates
                .iter()
                .flat_map(|(_, es)| es.iter().map(|e| e.line.len() as u64))
                .sum();
            let wt = w.tenants.entry(tenant.to_owned()).or_default();
            let bucket = wt.bucket.get_or_insert_with(|| {
                TokenBucket::new(limits.ingestion_rate_bytes, limits.ingestion_burst_bytes)
            });
            if !bucket.take(bytes) {
                let n = candidates.iter().map(|(_, es)| es.len() as u64).sum();
                let err = LimitError::RateLimited {
                    tenant: tenant.to_owned(),
                    limit_bytes_per_sec: limits.ingestion_rate_bytes,
                };
                report.rejected.add(&err, n);
                self.counters.add_rejected(&report.rejected);
                return Err(err.into());
            }
        }

        // Checks against the stored state, under the writer lock (nothing else changes
        // the live head or the out-of-order state meanwhile).
        let groups = {
            let view = self.view.read();
            let index = view.tenants.get(tenant).map(|t| t.index.clone());
            let index = index.as_ref().map(|i| i.read());
            let wt = w.tenants.get(tenant);
            let window = self.opts.window_ns();
            let mut active = view.live.active_streams(tenant);
            let mut keys: Vec<KeyState<'_>> = Vec::new();
            let mut key_of: HashMap<&Labels, usize, Xxh3Builder> =
                HashMap::with_capacity_and_hasher(candidates.len(), Xxh3Builder::new());
            // Per group: labels, the stream id when the index knows it, the entries.
            let mut groups: Vec<(&Labels, Option<u32>, Vec<&Entry>)> =
                Vec::with_capacity(candidates.len());
            for (labels, ents) in candidates {
                let k = *key_of.entry(labels).or_insert_with(|| {
                    let id = index.as_ref().and_then(|ix| ix.lookup(labels));
                    keys.push(KeyState {
                        id,
                        newest: id.and_then(|id| wt.and_then(|wt| wt.newest(id))),
                        new_active: id.is_none_or(|id| !view.live.has_stream(tenant, id)),
                        counted: false,
                        last: None,
                        accepted: Vec::new(),
                        set: None,
                    });
                    keys.len() - 1
                });
                let ks = &mut keys[k];
                let head = ks.id.and_then(|id| view.live.buf(tenant, id));
                let mut out = Vec::with_capacity(ents.len());
                for e in ents {
                    if let Some(newest) = ks.newest {
                        if e.ts < newest.saturating_sub(window) {
                            let err = LimitError::TooFarBehind {
                                ts: e.ts,
                                newest,
                                window_ns: window,
                            };
                            reject(&mut report, &mut first_err, err, 1);
                            continue;
                        }
                    }
                    if ks.new_active && !ks.counted {
                        let max = limits.max_streams_per_tenant;
                        if max > 0 && active >= max {
                            let err = LimitError::TooManyStreams {
                                tenant: tenant.to_owned(),
                                max,
                            };
                            reject(&mut report, &mut first_err, err, 1);
                            continue;
                        }
                        ks.counted = true;
                        active += 1;
                    }
                    let key = (e.ts, e.line.as_ref());
                    if head.is_some_and(|h| h.contains(e.ts, &e.line)) || ks.seen(key) {
                        report.duplicates += 1;
                        continue;
                    }
                    ks.remember(key);
                    out.push(e);
                }
                if !out.is_empty() {
                    groups.push((labels, ks.id, out));
                }
            }
            groups
        };
        if strict {
            if let Some(e) = first_err.take() {
                drop(w);
                self.counters.add_rejected(&report.rejected);
                return Err(e.into());
            }
        }
        self.counters.add_rejected(&report.rejected);
        if groups.is_empty() {
            self.counters.add_push(0, report.duplicates, 0);
            return Ok(report);
        }

        // WAL first, then the head.
        let refs: Vec<(&Labels, &[&Entry])> = groups.iter().map(|(l, _, e)| (*l, &e[..])).collect();
        let ids: Vec<Option<u32>> = groups.iter().map(|(_, id, _)| *id).collect();
        let seq = self.append_wal(&mut w, tenant, &refs)?;
        let applied = self.apply_ids(&mut w, tenant, &refs, &ids);
        report.accepted = applied.accepted;
        report.bytes = applied.bytes;
        report.duplicates += applied.duplicates;
        let (live, frozen) = self.head_mem();
        drop(w);
        self.counters
            .add_push(report.accepted, report.duplicates, report.bytes);

        if self.opts.sync == SyncMode::Always {
            self.wait_durable(seq)?;
        }
        if live > self.opts.max_head_bytes {
            self.request_flush();
        }
        self.backpressure(live, frozen)?;
        Ok(report)
    }

    /// Heap bytes of the live head and of the frozen heads still being flushed.
    fn head_mem(&self) -> (usize, usize) {
        let view = self.view.read();
        let frozen = view.frozen.iter().map(|(h, _)| h.mem_bytes()).sum();
        (view.live.mem_bytes(), frozen)
    }

    /// Keeps the memory of the heads (live plus frozen) near `1.25 × max_head_bytes`
    /// when pushes outrun the background flush. The live head is flushed (in the
    /// background) once it passes `max_head_bytes`; while that flush writes the frozen
    /// head, pushes may fill the new live head up to a quarter of the budget, and then
    /// wait here for the flush to finish instead of growing the live head further (a
    /// frozen head's memory is only given back when its flush is published). When no
    /// flush is running and the live head alone passes the bound, the pusher flushes it
    /// itself. Flushes keep their usual size, so blocks and the disk ratio do not change.
    fn backpressure(&self, live: usize, frozen: usize) -> Result<()> {
        let max = self.opts.max_head_bytes;
        let bound = max + max / 4;
        if live + frozen <= bound {
            return Ok(());
        }
        if frozen > 0 {
            // A flush is running (or failed and left its heads): wait for it.
            drop(self.flush.lock());
            let (live, frozen) = self.head_mem();
            if live + frozen <= bound || live <= max {
                return Ok(());
            }
        }
        // Nothing is being flushed, or a failed flush left its heads: flush here (this
        // retries the failed heads and reports the error if it fails again).
        self.flush_with(true)
    }

    /// Encodes one WAL record straight into the WAL writer's buffer and hands it to
    /// the OS. Returns the batch number. A failed write poisons the database (the
    /// file's tail is unknown); a record too large for the WAL is refused before
    /// anything reaches the file, and the database stays usable.
    fn append_wal(
        &self,
        w: &mut Writer,
        tenant: &str,
        groups: &[(&Labels, &[&Entry])],
    ) -> Result<u64> {
        let Some(log) = w.wal.as_mut() else {
            return Err(Error::ReadOnly("push"));
        };
        let len = match log.append_with(|buf| wal::encode_push(buf, tenant, groups)) {
            Ok(len) => len,
            Err(Error::InvalidArgument(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "batch encodes to more than the {} bytes a WAL record holds: push it in parts",
                    wal::MAX_RECORD_LEN
                )));
            }
            Err(e) => return Err(self.poison_writer(w, e)),
        };
        self.counters.add_wal_bytes(len as u64 + 8);
        if let Err(e) = w.wal.as_mut().map_or(Ok(()), |log| log.write_out()) {
            return Err(self.poison_writer(w, e));
        }
        w.batch_seq += 1;
        Ok(w.batch_seq)
    }

    /// Marks the writer closed after a failed WAL write and wakes sync waiters.
    fn poison_writer(&self, w: &mut Writer, e: Error) -> Error {
        let reason = format!("WAL write failed: {e}");
        w.closed = Some(Some(reason.clone()));
        let mut s = self.sync.lock();
        s.poisoned.get_or_insert(reason);
        self.sync_cv.notify_all();
        e
    }

    /// Applies accepted entries to the live head and the label index. Used by pushes
    /// (after the WAL append) and by WAL replay.
    pub(super) fn apply(
        &self,
        w: &mut Writer,
        tenant: &str,
        groups: &[(&Labels, &[&Entry])],
    ) -> Applied {
        self.apply_ids(w, tenant, groups, &[])
    }

    /// [`Inner::apply`] with the stream ids a push already looked up under the same
    /// writer lock (`ids[i]` for `groups[i]`; `None` or missing: look up or create).
    fn apply_ids(
        &self,
        w: &mut Writer,
        tenant: &str,
        groups: &[(&Labels, &[&Entry])],
        ids: &[Option<u32>],
    ) -> Applied {
        let cfg = self.cut_config();
        let mut out = Applied::default();
        let mut view = self.view.write();
        let index = view
            .tenants
            .entry(tenant.to_owned())
            .or_default()
            .index
            .clone();
        let mut index = index.write();
        let wt = w.tenants.entry(tenant.to_owned()).or_default();
        for (i, (labels, ents)) in groups.iter().enumerate() {
            let id = match ids.get(i).copied().flatten() {
                Some(id) => id,
                None => index.get_or_insert(labels),
            };
            let (n, bytes) = view
                .live
                .insert(tenant, id, ents.iter().copied(), cfg, |e| {
                    wt.observe(id, e.ts);
                });
            out.accepted += n;
            out.bytes += bytes;
            out.duplicates += ents.len() as u64 - n;
        }
        out
    }

    /// Group commit: returns once batch `seq` is fsynced. The first waiter becomes the
    /// leader and fsyncs everything appended so far; the others wait for its result.
    pub(super) fn wait_durable(&self, seq: u64) -> Result<()> {
        let mut st = self.sync.lock();
        loop {
            if let Some(p) = &st.poisoned {
                return Err(Error::Closed(Some(p.clone())));
            }
            if st.synced >= seq {
                return Ok(());
            }
            if st.leader {
                self.sync_cv.wait(&mut st);
                continue;
            }
            st.leader = true;
            drop(st);
            let r = self.sync_wal();
            st = self.sync.lock();
            st.leader = false;
            self.sync_cv.notify_all();
            if let Err(e) = r {
                drop(st);
                self.poison(format!("WAL fsync failed: {e}"));
                return Err(e);
            }
        }
    }

    /// Fsyncs the current WAL file and records how far that made batches durable.
    pub(super) fn sync_wal(&self) -> Result<()> {
        let (file, target, path) = {
            let w = self.writer.lock();
            match (&w.sync_file, &w.wal) {
                (Some(f), Some(log)) => (f.clone(), w.batch_seq, log.path().to_owned()),
                _ => return Ok(()), // read-only: nothing was written
            }
        };
        file.sync_data().map_err(|e| Error::io(&path, e))?;
        self.counters.add_sync();
        let mut st = self.sync.lock();
        st.synced = st.synced.max(target);
        Ok(())
    }

    /// Asks the background thread for a flush.
    pub(super) fn request_flush(&self) {
        let mut bg = self.bg.lock();
        if !bg.flush_requested {
            bg.flush_requested = true;
            self.bg_cv.notify_all();
        }
    }
}
