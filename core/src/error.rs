//! The error type of every fallible logjar operation.
//!
//! Errors are typed so that hosts (and the C, Go and Python bindings) can react to the
//! kind of failure: a limit that was hit, a database locked by another process, a file
//! that is corrupt (with its path and byte offset), an I/O failure.

use std::path::PathBuf;

/// Shorthand for `Result<T, logjar::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in logjar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error on a file of the database.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Db` in this process) holds the database open.
    #[error("database is locked: {path} is held by another process")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A file of the database failed a checksum or structural check.
    #[error("corrupt data in {path} at byte offset {offset}: {what}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damaged record, block or section.
        offset: u64,
        /// What check failed.
        what: String,
    },
    /// The on-disk format version is newer (or older) than this build can read.
    #[error("unsupported format version {found} in {path} (this build reads {supported})")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file header.
        found: u32,
        /// The versions this build supports, as text.
        supported: String,
    },
    /// An argument was not valid (bad tenant id, bad label name, bad option...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A configured limit rejected the write or read.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The database was closed, or poisoned by an earlier failed fsync.
    #[error("database is closed{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed(Option<String>),
    /// A write (push, flush, compaction, delete request) on a database opened with
    /// [`Options::read_only`](crate::Options::read_only).
    #[error("database is opened read-only: {0} is not allowed")]
    ReadOnly(&'static str),
}

/// Why a limit rejected an entry, a stream or a request. Each variant is also a
/// reason counted in [`Error`]-free push reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A line longer than `Limits::max_line_size`.
    #[error("line of {size} bytes exceeds the limit of {max} bytes")]
    LineTooLong {
        /// Bytes in the line.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A stream with more labels than `Limits::max_labels_per_stream`.
    #[error("stream has {count} labels, more than the limit of {max}")]
    TooManyLabels {
        /// Labels in the stream.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A label name longer than `Limits::max_label_name_length`.
    #[error("label name {name:?} is {len} bytes, longer than the limit of {max}")]
    LabelNameTooLong {
        /// The name (possibly truncated for display).
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A label value longer than `Limits::max_label_value_length`.
    #[error("value of label {name:?} is {len} bytes, longer than the limit of {max}")]
    LabelValueTooLong {
        /// The label name.
        name: String,
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Creating the stream would exceed `Limits::max_streams_per_tenant`.
    #[error("tenant {tenant:?} already has the maximum of {max} active streams")]
    TooManyStreams {
        /// The tenant.
        tenant: String,
        /// The limit.
        max: usize,
    },
    /// The tenant's ingestion rate limit was exceeded.
    #[error("tenant {tenant:?} exceeded its ingestion rate of {limit_bytes_per_sec} bytes/s")]
    RateLimited {
        /// The tenant.
        tenant: String,
        /// The configured rate.
        limit_bytes_per_sec: u64,
    },
    /// An entry older than the stream's out-of-order window allows.
    #[error("entry at {ts} ns is too far behind the stream's newest entry at {newest} ns (window {window_ns} ns)")]
    TooFarBehind {
        /// The entry's timestamp.
        ts: i64,
        /// The stream's newest timestamp.
        newest: i64,
        /// The window.
        window_ns: i64,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Corrupt`].
    pub fn corrupt(path: impl Into<PathBuf>, offset: u64, what: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            offset,
            what: what.into(),
        }
    }
}
