//! Options of a database: durability, chunking, memory, flushing and limits.
//!
//! Every field has a Loki-like default, so `Options::default()` is a sensible start.
//! The struct deserializes from TOML or JSON with the field names as keys (unknown keys
//! are an error); durations are strings such as `"1h"`, `"30s"` or `"1h30m"`:
//!
//! ```
//! use logjar::options::{Options, SyncMode};
//! use std::time::Duration;
//!
//! let o: Options = serde_json::from_str(
//!     r#"{"sync": "interval", "sync_interval": "500ms",
//!         "out_of_order_window": "30m", "limits": {"max_line_size": 1024}}"#,
//! ).unwrap();
//! assert_eq!(o.sync, SyncMode::Interval);
//! assert_eq!(o.sync_interval, Duration::from_millis(500));
//! assert_eq!(o.out_of_order_window, Duration::from_secs(1800));
//! assert_eq!(o.limits.max_line_size, 1024);
//! assert_eq!(o.limits.max_labels_per_stream, 15); // untouched fields keep their default
//!
//! // Builder style:
//! let o = Options::default().sync(SyncMode::Never).max_head_bytes(8 << 20);
//! assert_eq!(o.max_head_bytes, 8 << 20);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// When the write-ahead log is fsynced, and so what a crash can lose.
///
/// In every mode a push has handed its WAL record to the operating system before it
/// returns, so a crash of the *process* alone loses nothing that was acknowledged. The
/// modes differ in what a crash of the *machine* (power loss, kernel panic) can lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Every push is fsynced before it returns (concurrent pushes share one fsync:
    /// group commit). A machine crash loses no acknowledged push.
    Always,
    /// A background thread fsyncs every `sync_interval`. A machine crash loses at most
    /// the pushes of the last interval (plus the time an fsync takes).
    Interval,
    /// logjar never fsyncs the WAL (segments and the manifest are still fsynced at
    /// flush). A machine crash loses whatever the OS had not written back yet.
    Never,
}

/// Per-tenant limits, with Loki's defaults. A value of 0 disables a limit where noted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest accepted line in bytes (Loki `max_line_size`: 256 KiB). 0 = unlimited.
    pub max_line_size: usize,
    /// Most labels a stream may have (Loki `max_label_names_per_series`: 15).
    pub max_labels_per_stream: usize,
    /// Longest label name in bytes (Loki `max_label_name_length`: 1024).
    pub max_label_name_length: usize,
    /// Longest label value in bytes (Loki `max_label_value_length`: 2048).
    pub max_label_value_length: usize,
    /// Most streams with data in memory (not yet flushed) per tenant
    /// (Loki `max_streams_per_user`: 5000). 0 = unlimited.
    pub max_streams_per_tenant: usize,
    /// Sustained ingestion rate per tenant in line bytes per second (token bucket).
    /// 0 = unlimited (the default).
    pub ingestion_rate_bytes: u64,
    /// Burst size of the ingestion rate limit in bytes (Loki `ingestion_burst_size_mb`:
    /// 6 MB). Only used when `ingestion_rate_bytes` is set.
    pub ingestion_burst_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_size: 256 * 1024,
            max_labels_per_stream: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_streams_per_tenant: 5000,
            ingestion_rate_bytes: 0,
            ingestion_burst_bytes: 6 * 1024 * 1024,
        }
    }
}

/// Options of [`Db::open`](crate::Db::open).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// When the WAL is fsynced (default [`SyncMode::Always`]); TOML `"always"`,
    /// `"interval"` or `"never"`.
    pub sync: SyncMode,
    /// Period of the background fsync in [`SyncMode::Interval`] (default `1s`).
    #[serde(deserialize_with = "de::duration")]
    pub sync_interval: Duration,
    /// How far behind a stream's newest entry an entry may be and still be accepted
    /// (default `1h`, half of Loki's `max_chunk_age`). Older entries are rejected with
    /// [`LimitError::TooFarBehind`](crate::error::LimitError::TooFarBehind).
    #[serde(deserialize_with = "de::duration")]
    pub out_of_order_window: Duration,
    /// Raw (uncompressed) bytes of a stream's head block before it is compressed into an
    /// in-memory block (default 256 KiB, Loki's `chunk_block_size`).
    pub block_target_bytes: usize,
    /// zstd level of blocks (default 1, the chunk codec's default: see
    /// `docs/PERFORMANCE.md` for the speed/size trade-off).
    pub zstd_level: i32,
    /// Oldest age of unflushed data before a flush is started (default `2h`, Loki's
    /// `max_chunk_age`).
    #[serde(deserialize_with = "de::duration")]
    pub max_chunk_age: Duration,
    /// In-memory data (head blocks and compressed blocks awaiting flush) above which a
    /// background flush writes it to a segment (default 40 MiB). While that flush runs,
    /// pushes may add another quarter of this to the new head and then wait for the
    /// flush, so the heads hold at most about 1.25 × this (plus one batch); a sustained
    /// `logjar ingest` peaks at about 76–83 MiB RSS with the default (see
    /// `docs/PERFORMANCE.md`).
    pub max_head_bytes: usize,
    /// Period of the background flush check (default `30m`, Loki's
    /// `chunk_idle_period`); `0` disables periodic flushes (size-triggered flushes
    /// still run).
    #[serde(deserialize_with = "de::duration")]
    pub flush_interval: Duration,
    /// How long data is kept (default `0` = forever). Queries stop returning entries
    /// older than `now - retention` at once; compaction removes them from disk. See
    /// [`Options::retention_stream`] and [`Options::retention_tenants`] for finer rules.
    #[serde(deserialize_with = "de::duration")]
    pub retention: Duration,
    /// Per-stream retention rules for every tenant, like Loki's `retention_stream`:
    /// among the rules whose selector matches a stream the highest `priority` wins, and
    /// among equal priorities the shortest period. A tenant's own rules
    /// ([`TenantRetention::retention_stream`]) are looked at first.
    pub retention_stream: Vec<RetentionRule>,
    /// Per-tenant retention overrides, by tenant id.
    pub retention_tenants: BTreeMap<String, TenantRetention>,
    /// How long a delete request can still be cancelled before compaction may apply it
    /// (default `0`: the next compaction applies it). Queries hide matching entries from
    /// the moment the request is made either way.
    #[serde(deserialize_with = "de::duration")]
    pub delete_cancel_period: Duration,
    /// Period of background compaction (default `10m`; `0` disables it, leaving only
    /// [`Db::compact`](crate::Db::compact)).
    #[serde(deserialize_with = "de::duration")]
    pub compaction_interval: Duration,
    /// Read budget of background compaction in bytes of segment data per second
    /// (default `0` = unlimited). [`Db::compact`](crate::Db::compact) is never throttled.
    pub compaction_max_bytes_per_sec: u64,
    /// Target size of a compacted segment file (default 256 MiB). Segments smaller than
    /// a quarter of it are merged with their neighbours.
    pub compaction_segment_bytes: u64,
    /// Time partition of compaction (default `24h`): segments are merged only with
    /// neighbours whose oldest entry falls in the same UTC-aligned period of this length,
    /// so a compacted segment holds about one period of data and retention can later
    /// drop it whole, without rewriting it.
    #[serde(deserialize_with = "de::duration")]
    pub compaction_partition: Duration,
    /// Target raw (uncompressed) line bytes of a compacted chunk (default 4 MiB): a
    /// stream's small chunks are merged into chunks of about this size.
    pub compaction_chunk_bytes: u64,
    /// Open without writing anything (default `false`): recovery replays the WAL into
    /// memory but creates, repairs and deletes no file (a torn last record is skipped,
    /// not cut off; leftovers of an interrupted flush stay), no WAL file is opened for
    /// writing and no background thread starts. `push`, `flush`, `compact`, `delete`
    /// and `cancel_delete` fail with [`Error::ReadOnly`]; reads
    /// see everything, unflushed data included. The directory is still created when it
    /// does not exist, and the lock is the same exclusive one, so a read-only handle
    /// and a writer never run at once. Meant for short-lived readers (the `logjar
    /// query` command) and for inspecting a database without touching it.
    pub read_only: bool,
    /// Per-tenant limits.
    pub limits: Limits,
}

/// One per-stream retention rule (Loki's `retention_stream` entry).
///
/// ```
/// let o = logjar::Options::from_json(r#"{
///     "retention": "30d",
///     "retention_stream": [{"selector": "{level=\"debug\"}", "priority": 1, "period": "24h"}],
///     "retention_tenants": {"team-a": {"retention": "7d"}}
/// }"#).unwrap();
/// assert_eq!(o.retention_stream[0].period, std::time::Duration::from_secs(86400));
/// assert!(logjar::Options::from_json(r#"{"retention_stream": [{"selector": "{", "period": "1h"}]}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// A stream selector, e.g. `{namespace="prod"}`.
    pub selector: String,
    /// Higher wins when several rules match (default 0).
    #[serde(default)]
    pub priority: u32,
    /// How long matching streams keep data (`0` = forever).
    #[serde(deserialize_with = "de::duration")]
    pub period: Duration,
}

/// Retention overrides of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantRetention {
    /// The tenant's retention period instead of [`Options::retention`] (`0` = forever).
    #[serde(deserialize_with = "de::opt_duration")]
    pub retention: Option<Duration>,
    /// The tenant's stream rules, consulted before the global ones.
    pub retention_stream: Vec<RetentionRule>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: SyncMode::Always,
            sync_interval: Duration::from_secs(1),
            out_of_order_window: Duration::from_secs(3600),
            block_target_bytes: crate::chunk::DEFAULT_BLOCK_TARGET,
            zstd_level: crate::chunk::DEFAULT_ZSTD_LEVEL,
            max_chunk_age: Duration::from_secs(2 * 3600),
            max_head_bytes: 40 * 1024 * 1024,
            flush_interval: Duration::from_secs(30 * 60),
            retention: Duration::ZERO,
            retention_stream: Vec::new(),
            retention_tenants: BTreeMap::new(),
            delete_cancel_period: Duration::ZERO,
            compaction_interval: Duration::from_secs(600),
            compaction_max_bytes_per_sec: 0,
            compaction_segment_bytes: 256 << 20,
            compaction_partition: Duration::from_secs(24 * 3600),
            compaction_chunk_bytes: 4 << 20,
            read_only: false,
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// Parses and validates options from JSON text (the C binding's `options_json`);
    /// the keys are the field names, as in a TOML config file. Unknown keys are an error.
    ///
    /// ```
    /// let o = logjar::Options::from_json(r#"{"sync":"never"}"#).unwrap();
    /// assert_eq!(o.sync, logjar::options::SyncMode::Never);
    /// assert!(logjar::Options::from_json(r#"{"no_such_option":1}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        let o: Options = serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("bad options: {e}")))?;
        o.validate()?;
        Ok(o)
    }

    /// Checks that the values make sense together (called by `Db::open`).
    ///
    /// ```
    /// let o = logjar::Options::default().block_target_bytes(0);
    /// assert!(o.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgument(format!("bad options: {m}")));
        if self.block_target_bytes == 0 {
            return bad("block_target_bytes must be > 0");
        }
        if !(-7..=22).contains(&self.zstd_level) {
            return bad("zstd_level must be within -7..=22");
        }
        if self.sync == SyncMode::Interval && self.sync_interval.is_zero() {
            return bad("sync_interval must be > 0 with sync = \"interval\"");
        }
        if self.max_head_bytes == 0 {
            return bad("max_head_bytes must be > 0");
        }
        if i64::try_from(self.out_of_order_window.as_nanos()).is_err() {
            return bad("out_of_order_window is too large");
        }
        if self.compaction_segment_bytes == 0 || self.compaction_chunk_bytes == 0 {
            return bad("compaction_segment_bytes and compaction_chunk_bytes must be > 0");
        }
        if self.compaction_partition.is_zero()
            || i64::try_from(self.compaction_partition.as_nanos()).is_err()
        {
            return bad("compaction_partition must be > 0 and at most about 292 years");
        }
        crate::retention::RetentionPolicy::new(self)?;
        Ok(())
    }

    /// Sets [`Options::read_only`].
    ///
    /// ```
    /// use logjar::{Db, Error, Options};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default().read_only(true)).unwrap();
    /// assert!(db.label_names("fake", 0, i64::MAX).unwrap().is_empty());
    /// assert!(matches!(db.flush(), Err(Error::ReadOnly(_))));
    /// ```
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets [`Options::sync`].
    pub fn sync(mut self, mode: SyncMode) -> Self {
        self.sync = mode;
        self
    }

    /// Sets [`Options::sync_interval`].
    pub fn sync_interval(mut self, d: Duration) -> Self {
        self.sync_interval = d;
        self
    }

    /// Sets [`Options::out_of_order_window`].
    pub fn out_of_order_window(mut self, d: Duration) -> Self {
        self.out_of_order_window = d;
        self
    }

    /// Sets [`Options::block_target_bytes`].
    pub fn block_target_bytes(mut self, n: usize) -> Self {
        self.block_target_bytes = n;
        self
    }

    /// Sets [`Options::max_chunk_age`].
    pub fn max_chunk_age(mut self, d: Duration) -> Self {
        self.max_chunk_age = d;
        self
    }

    /// Sets [`Options::max_head_bytes`].
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.max_head_bytes = n;
        self
    }

    /// Sets [`Options::flush_interval`].
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = d;
        self
    }

    /// Sets [`Options::retention`].
    pub fn retention(mut self, d: Duration) -> Self {
        self.retention = d;
        self
    }

    /// Sets [`Options::retention_stream`].
    pub fn retention_stream(mut self, rules: Vec<RetentionRule>) -> Self {
        self.retention_stream = rules;
        self
    }

    /// Sets [`Options::compaction_interval`].
    pub fn compaction_interval(mut self, d: Duration) -> Self {
        self.compaction_interval = d;
        self
    }

    /// Sets [`Options::delete_cancel_period`].
    pub fn delete_cancel_period(mut self, d: Duration) -> Self {
        self.delete_cancel_period = d;
        self
    }

    /// Sets [`Options::limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The out-of-order window in nanoseconds.
    pub(crate) fn window_ns(&self) -> i64 {
        i64::try_from(self.out_of_order_window.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// Parses a duration as the CLI and config files write it: Prometheus form (`1h30m`,
/// `5m`, `0s`), Go form (`1.5s`, `250ms`, `2h45m`), or `0`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(logjar::options::parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(logjar::options::parse_duration("1.5s"), Some(Duration::from_millis(1500)));
/// assert_eq!(logjar::options::parse_duration("0"), Some(Duration::ZERO));
/// assert_eq!(logjar::options::parse_duration("-1s"), None);
/// assert_eq!(logjar::options::parse_duration("soon"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let ns = logjar_logql::units::parse_range_duration(s)
        .or_else(|| logjar_logql::units::parse_go_duration(s))?;
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

/// serde helpers for the option types.
mod de {
    use std::time::Duration;

    use serde::{de::Error as _, Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Seconds(u64),
    }

    /// An optional duration, written as [`duration`] does.
    pub(super) fn opt_duration<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        duration(d).map(Some)
    }

    /// A duration written as text (`"1h"`) or as whole seconds (`3600`).
    pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => super::parse_duration(&t)
                .ok_or_else(|| D::Error::custom(format!("invalid duration {t:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loki_like() {
        let o = Options::default();
        assert_eq!(o.sync, SyncMode::Always);
        assert_eq!(o.out_of_order_window, Duration::from_secs(3600));
        assert_eq!(o.limits.max_line_size, 256 * 1024);
        assert_eq!(o.limits.max_streams_per_tenant, 5000);
        assert!(o.validate().is_ok());
        assert_eq!(serde_json::from_str::<Options>("{}").unwrap(), o);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Options::from_json(r#"{"sync":"sometimes"}"#).is_err());
        assert!(Options::from_json(r#"{"sync_interval":"fast"}"#).is_err());
        assert!(Options::from_json(r#"{"limits":{"nope":1}}"#).is_err());
        assert!(Options::from_json(r#"{"sync":"interval","sync_interval":"0"}"#).is_err());
        let o = Options::from_json(r#"{"retention":"7d","flush_interval":60}"#).unwrap();
        assert_eq!(o.retention, Duration::from_secs(7 * 86400));
        assert_eq!(o.flush_interval, Duration::from_secs(60));
    }
}
