//! The per-entry work of a log query, on top of the LogQL crate's pipeline compiler
//! ([`logjar_logql::eval::pipeline`]): line filters, parsers, label filters and
//! formatting, and the labels an entry is reported under (stream labels, structured
//! metadata and extracted labels, merged as Loki v3 does by default).
//!
//! Label sets are turned into their Prometheus string form once per distinct set per
//! stream (cached by the pipeline's label hash): Loki sorts result streams and breaks
//! timestamp ties by that string.

use std::collections::HashMap;
use std::sync::Arc;

use logjar_logql::eval::pipeline::{Pipeline, StreamPipeline};
use logjar_logql::LogExpr;

use super::error::QueryError;
use super::ResultLabels;

/// Labels an entry is reported under, with their Prometheus string form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OutLabels {
    pub labels: ResultLabels,
    pub key: Arc<str>,
}

impl OutLabels {
    pub fn new(labels: ResultLabels) -> Self {
        let key = labels.to_string().into();
        OutLabels { labels, key }
    }
}

/// Converts storage labels into result labels.
pub(crate) fn result_labels(labels: &crate::Labels) -> ResultLabels {
    ResultLabels::new(labels.iter())
}

/// Maps a pipeline compile error to a query error.
pub(crate) fn compile_error(e: impl std::fmt::Display) -> QueryError {
    QueryError::BadRequest(format!("invalid pipeline: {e}"))
}

/// A compiled log pipeline, shared by all streams of a query.
#[derive(Debug)]
pub(crate) struct QueryPipeline {
    inner: Pipeline,
}

impl QueryPipeline {
    pub fn new(log: &LogExpr) -> Result<Self, QueryError> {
        Ok(QueryPipeline {
            inner: Pipeline::compile(&log.pipeline).map_err(compile_error)?,
        })
    }

    /// The leading line filters (every line the pipeline keeps passes them).
    pub fn line_filter_prefix(&self) -> &logjar_logql::eval::pipeline::LineFilters {
        self.inner.line_filter_prefix()
    }

    /// The per-stream state for a stream with these labels.
    pub fn for_stream(&self, labels: &crate::Labels) -> StreamProc {
        StreamProc {
            sp: self.inner.for_stream(&result_labels(labels)),
            seen: HashMap::new(),
        }
    }
}

/// One stream's pipeline, with its label-string cache.
#[derive(Debug)]
pub(crate) struct StreamProc {
    sp: StreamPipeline,
    seen: HashMap<u64, Vec<OutLabels>>,
}

impl StreamProc {
    /// Runs one entry: `None` when a stage drops it, else its labels and (lossily
    /// decoded) line.
    pub fn process(
        &mut self,
        ts: i64,
        line: &[u8],
        metadata: &[(String, String)],
    ) -> Option<(OutLabels, String)> {
        let e = self.sp.process(ts, line, metadata)?;
        let line = String::from_utf8_lossy(e.line).into_owned();
        let bucket = self.seen.entry(e.labels_hash).or_default();
        let labels = match bucket.iter().find(|o| o.labels == *e.labels) {
            Some(o) => o.clone(),
            None => {
                let o = OutLabels::new(e.labels.clone());
                bucket.push(o.clone());
                o
            }
        };
        Some((labels, line))
    }
}
