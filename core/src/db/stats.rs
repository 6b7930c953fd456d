//! Statistics, counters and the recovery report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Inner;
use crate::error::LimitError;
use crate::wal::TornTail;

/// Rejected entries per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectCounts {
    /// Line longer than `max_line_size`.
    pub line_too_long: u64,
    /// Stream with more than `max_labels_per_stream` labels.
    pub too_many_labels: u64,
    /// Label name longer than `max_label_name_length`.
    pub label_name_too_long: u64,
    /// Label value longer than `max_label_value_length`.
    pub label_value_too_long: u64,
    /// New stream over `max_streams_per_tenant`.
    pub too_many_streams: u64,
    /// Tenant over its ingestion rate.
    pub rate_limited: u64,
    /// Entry older than the out-of-order window allows.
    pub too_far_behind: u64,
}

impl RejectCounts {
    /// All rejected entries.
    pub fn total(&self) -> u64 {
        self.line_too_long
            + self.too_many_labels
            + self.label_name_too_long
            + self.label_value_too_long
            + self.too_many_streams
            + self.rate_limited
            + self.too_far_behind
    }

    /// Counts `n` entries rejected for `reason`.
    pub fn add(&mut self, reason: &LimitError, n: u64) {
        let slot = match reason {
            LimitError::LineTooLong { .. } => &mut self.line_too_long,
            LimitError::TooManyLabels { .. } => &mut self.too_many_labels,
            LimitError::LabelNameTooLong { .. } => &mut self.label_name_too_long,
            LimitError::LabelValueTooLong { .. } => &mut self.label_value_too_long,
            LimitError::TooManyStreams { .. } => &mut self.too_many_streams,
            LimitError::RateLimited { .. } => &mut self.rate_limited,
            LimitError::TooFarBehind { .. } => &mut self.too_far_behind,
        };
        *slot += n;
    }

    fn fields(&self) -> [u64; 7] {
        [
            self.line_too_long,
            self.too_many_labels,
            self.label_name_too_long,
            self.label_value_too_long,
            self.too_many_streams,
            self.rate_limited,
            self.too_far_behind,
        ]
    }

    fn from_fields(f: [u64; 7]) -> Self {
        RejectCounts {
            line_too_long: f[0],
            too_many_labels: f[1],
            label_name_too_long: f[2],
            label_value_too_long: f[3],
            too_many_streams: f[4],
            rate_limited: f[5],
            too_far_behind: f[6],
        }
    }
}

/// Counters since the database was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Entries written.
    pub accepted: u64,
    /// Exact duplicates dropped at write.
    pub duplicates: u64,
    /// Entries rejected, per reason.
    pub rejected: RejectCounts,
    /// Line bytes written.
    pub bytes: u64,
    /// Bytes appended to the WAL (records with framing).
    pub wal_bytes: u64,
    /// WAL fsyncs (group commits and interval syncs).
    pub wal_syncs: u64,
    /// Completed flushes.
    pub flushes: u64,
    /// Segment files written.
    pub segments_written: u64,
    /// Bytes of segment files written.
    pub segment_bytes: u64,
    /// Failed background flushes (each logged).
    pub flush_errors: u64,
}

/// The atomics behind [`Metrics`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: [AtomicU64; 7],
    bytes: AtomicU64,
    wal_bytes: AtomicU64,
    wal_syncs: AtomicU64,
    flushes: AtomicU64,
    segments_written: AtomicU64,
    segment_bytes: AtomicU64,
    flush_errors: AtomicU64,
}

impl Counters {
    pub(super) fn add_push(&self, accepted: u64, duplicates: u64, bytes: u64) {
        self.accepted.fetch_add(accepted, Relaxed);
        self.duplicates.fetch_add(duplicates, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    pub(super) fn add_rejected(&self, r: &RejectCounts) {
        for (slot, n) in self.rejected.iter().zip(r.fields()) {
            if n > 0 {
                slot.fetch_add(n, Relaxed);
            }
        }
    }

    pub(super) fn add_wal_bytes(&self, n: u64) {
        self.wal_bytes.fetch_add(n, Relaxed);
    }

    pub(super) fn add_sync(&self) {
        self.wal_syncs.fetch_add(1, Relaxed);
    }

    pub(super) fn add_flush(&self, segments: u64, bytes: u64) {
        self.flushes.fetch_add(1, Relaxed);
        self.segments_written.fetch_add(segments, Relaxed);
        self.segment_bytes.fetch_add(bytes, Relaxed);
    }

    pub(super) fn add_flush_error(&self) {
        self.flush_errors.fetch_add(1, Relaxed);
    }

    pub(super) fn snapshot(&self) -> Metrics {
        let mut rejected = [0; 7];
        for (out, a) in rejected.iter_mut().zip(&self.rejected) {
            *out = a.load(Relaxed);
        }
        Metrics {
            accepted: self.accepted.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            rejected: RejectCounts::from_fields(rejected),
            bytes: self.bytes.load(Relaxed),
            wal_bytes: self.wal_bytes.load(Relaxed),
            wal_syncs: self.wal_syncs.load(Relaxed),
            flushes: self.flushes.load(Relaxed),
            segments_written: self.segments_written.load(Relaxed),
            segment_bytes: self.segment_bytes.load(Relaxed),
            flush_errors: self.flush_errors.load(Relaxed),
        }
    }
}

/// Statistics of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantStats {
    /// The tenant id.
    pub tenant: String,
    /// Streams ever created.
    pub streams: u64,
    /// Chunks in segments plus compressed chunks in memory.
    pub chunks: u64,
    /// Segment files.
    pub segments: u64,
    /// Entries (on disk and in memory; duplicates across chunks counted each time).
    pub entries: u64,
    /// Line bytes before compression.
    pub raw_bytes: u64,
    /// Bytes of the tenant's segment files.
    pub disk_bytes: u64,
    /// Timestamp of the oldest entry.
    pub oldest: Option<i64>,
    /// Timestamp of the newest entry.
    pub newest: Option<i64>,
    /// Delete requests not yet applied by compaction.
    pub pending_deletes: u64,
}

/// Statistics of the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Per tenant, sorted by tenant id.
    pub tenants: Vec<TenantStats>,
    /// Approximate bytes of unflushed data in memory.
    pub head_bytes: u64,
}

/// What `Db::open` found and repaired.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// WAL files replayed.
    pub wal_files: u64,
    /// WAL records replayed.
    pub wal_records: u64,
    /// Torn last records cut off (a crash mid-append; the push was never acknowledged).
    pub torn_tails: Vec<TornTail>,
    /// Tenants whose index file was missing or corrupt and was rebuilt from segments.
    pub rebuilt_indexes: Vec<String>,
    /// Leftover files deleted (temporary files, files not in the manifest).
    pub removed_files: Vec<PathBuf>,
}

impl Inner {
    pub(super) fn stats(&self) -> Stats {
        let now = crate::retention::now_ns();
        let view = self.view.read();
        let mut tenants: Vec<TenantStats> = Vec::new();
        for (name, tv) in &view.tenants {
            let cutoffs = self.policy.cutoffs(name, now);
            let mut t = TenantStats {
                tenant: name.clone(),
                streams: u64::from(tv.index.read().len()),
                segments: tv.segs.segments.len() as u64,
                pending_deletes: tv.deletes.len() as u64,
                ..TenantStats::default()
            };
            // Oldest and newest count visible data only: a chunk past its stream's
            // retention cutoff is left out, and the oldest is at least the cutoff.
            let widen_cut = |lo: i64, hi: i64, cut: i64, t: &mut TenantStats| {
                if hi < cut {
                    return;
                }
                let lo = lo.max(cut);
                t.oldest = Some(t.oldest.map_or(lo, |o| o.min(lo)));
                t.newest = Some(t.newest.map_or(hi, |n| n.max(hi)));
            };
            for s in &tv.segs.segments {
                t.disk_bytes += s.seg.file_bytes();
                let cuts: Vec<i64> = s
                    .seg
                    .streams()
                    .iter()
                    .map(|st| cutoffs.cutoff(st.labels()))
                    .collect();
                for c in s.seg.chunks() {
                    t.chunks += 1;
                    t.entries += c.entries;
                    t.raw_bytes += c.raw_bytes;
                    if c.entries > 0 {
                        widen_cut(c.min_ts, c.max_ts, cuts[c.stream as usize], &mut t);
                    }
                }
            }
            let heads = view
                .frozen
                .iter()
                .map(|(h, _)| &**h)
                .chain(std::iter::once(&view.live));
            let ix = tv.index.read();
            for h in heads {
                if let Some(th) = h.tenants.get(name) {
                    for (id, s) in &th.streams {
                        t.chunks += s.chunks.len() as u64;
                        t.entries += s.entries();
                        t.raw_bytes += s.raw_bytes();
                        if let Some((lo, hi)) = s.time_range() {
                            let cut = match cutoffs.uniform() {
                                Some(c) => c,
                                None => ix.labels(*id).map_or(i64::MIN, |l| cutoffs.cutoff(l)),
                            };
                            widen_cut(lo, hi, cut, &mut t);
                        }
                    }
                }
            }
            drop(ix);
            tenants.push(t);
        }
        tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        let head_bytes = view.live.mem_bytes()
            + view
                .frozen
                .iter()
                .map(|(h, _)| h.mem_bytes())
                .sum::<usize>();
        Stats {
            tenants,
            head_bytes: head_bytes as u64,
        }
    }
}
