//! What a query cost, reported in Loki's `stats` shape by [`super::loki_json`].

use std::time::Duration;

use crate::db::ReadStats;

/// Work done by one query.
///
/// Loki's names: `totalLinesProcessed` / `totalBytesProcessed` are the entries (and
/// their line bytes) read from storage before any filter; `totalPostFilterLines` the
/// entries the line filters kept; `totalEntriesReturned` the entries of a log result or
/// the series (samples) of a metric result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Wall time of the query.
    pub exec_time: Duration,
    /// Entries read.
    pub total_lines_processed: u64,
    /// Line bytes read.
    pub total_bytes_processed: u64,
    /// Structured-metadata bytes (names and values) read.
    pub structured_metadata_bytes: u64,
    /// Entries kept by the pipeline.
    pub post_filter_lines: u64,
    /// Entries counted from timestamps and line lengths only, without decompressing
    /// their lines (the `count_over_time`/`rate`/`bytes_*` fast path); included in
    /// `total_lines_processed`.
    pub lines_counted_without_decompression: u64,
    /// Line bytes of those entries (included in `total_bytes_processed`).
    pub bytes_counted_without_decompression: u64,
    /// Streams the selectors matched.
    pub streams_selected: u64,
    /// Entries (log result), series (matrix), samples (vector) or 1 (scalar) returned.
    pub entries_returned: u64,
    /// Chunks and blocks the storage read path touched (Loki's `stats.querier.store`
    /// chunk figures).
    pub store: ReadStats,
}

impl Stats {
    /// Line bytes read per second of execution time.
    pub fn bytes_per_second(&self) -> u64 {
        per_second(self.total_bytes_processed, self.exec_time)
    }

    /// Entries read per second of execution time.
    pub fn lines_per_second(&self) -> u64 {
        per_second(self.total_lines_processed, self.exec_time)
    }
}

fn per_second(n: u64, d: Duration) -> u64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        (n as f64 / s) as u64
    } else {
        0
    }
}
