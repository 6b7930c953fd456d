//! # logjar
//!
//! An embeddable log storage engine — SQLite for logs, speaking LogQL.
//!
//! A host links logjar in and gets, in-process, what a Grafana Loki cluster gives:
//! labelled append-only streams per tenant, an inverted label index, retention and
//! compaction, and LogQL queries with Loki-compatible JSON results.
//!
//! Data model: **tenant → stream → entries**. A stream is a sorted set of labels
//! ([`Labels`]); an entry is a nanosecond timestamp, a line of bytes and optional
//! structured metadata ([`Entry`]).
//!
//! See `docs/ARCHITECTURE.md` for the write and read paths and `docs/FORMAT.md`
//! for every byte on disk.

pub mod chunk;
pub mod codec;
pub mod compaction;
pub mod db;
pub mod delete;
pub mod entry;
pub mod error;
pub mod head;
pub mod index;
pub mod index_file;
pub mod ingest;
pub mod labels;
pub mod lock;
pub mod manifest;
pub mod options;
pub mod query;
pub mod retention;
pub mod segment;
pub mod wal;

pub use compaction::CompactionReport;
pub use db::{Db, Direction, Metrics, PushReport, RecoveryReport, RejectCounts, Snapshot, Stats};
pub use delete::{DeleteRequest, DeleteStatus};
pub use entry::Entry;
pub use error::{Error, Result};
pub use labels::Labels;
pub use logjar_logql::matcher::{LabelMatcher, MatchOp};
pub use options::{Limits, Options, SyncMode};
pub use query::{QueryError, QueryRequest, QueryResponse, QueryResult};
