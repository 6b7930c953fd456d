//! The per-entry work of a log query: line filters, then the labels an entry is
//! reported under (stream labels plus structured metadata, as Loki v3 does by default).
//!
//! Only pipelines made of line filters are evaluated here; parser, label-filter and
//! formatting stages are refused with [`QueryError::Unsupported`] until the LogQL
//! crate's pipeline compiler is wired in.

use std::borrow::Cow;
use std::sync::Arc;

use logjar_logql::eval::linefilter::{self, LineFilter};
use logjar_logql::syntax::{LineFilter as AstLineFilter, LineFilterOp, LineFilterValue, Stage};
use logjar_logql::LogExpr;

use super::error::QueryError;
use super::ResultLabels;

/// Labels an entry is reported under, with their Prometheus string form (Loki sorts and
/// breaks timestamp ties by it).
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

/// A compiled log pipeline, shared by all streams of a query.
#[derive(Debug)]
pub(crate) struct QueryPipeline {
    filters: Vec<LineFilter>,
}

impl QueryPipeline {
    pub fn new(log: &LogExpr) -> Result<Self, QueryError> {
        let mut filters = Vec::new();
        for stage in &log.pipeline {
            match stage {
                Stage::LineFilter(f) => filters.push(compile_filter(f)?),
                other => {
                    return Err(QueryError::Unsupported(format!(
                        "pipeline stage `{}` (only line filters are evaluated in this build)",
                        stage_name(other)
                    )))
                }
            }
        }
        Ok(QueryPipeline { filters })
    }

    /// True when the pipeline keeps every line as it is.
    pub fn is_noop(&self) -> bool {
        self.filters.is_empty()
    }

    /// Whether a line passes the line filters.
    pub fn keeps(&self, line: &[u8]) -> bool {
        linefilter::matches_all(&self.filters, line)
    }

    /// The per-stream state for a stream with these labels.
    pub fn for_stream(&self, labels: &crate::Labels) -> StreamPipeline<'_> {
        let base = ResultLabels::new(labels.iter());
        StreamPipeline {
            pipeline: self,
            stream: labels.as_slice().to_vec(),
            base: OutLabels::new(base),
            last_meta: None,
        }
    }
}

/// One stream's view of a [`QueryPipeline`].
#[derive(Debug)]
pub(crate) struct StreamPipeline<'a> {
    pipeline: &'a QueryPipeline,
    stream: Vec<(String, String)>,
    base: OutLabels,
    /// The labels computed for the last metadata seen (metadata often repeats).
    last_meta: Option<(Vec<(String, String)>, OutLabels)>,
}

impl StreamPipeline<'_> {
    /// The stream's own labels.
    pub fn base(&self) -> &OutLabels {
        &self.base
    }

    /// Runs one entry: `None` when a filter drops it, else its labels and line.
    pub fn process<'l>(
        &mut self,
        line: &'l [u8],
        metadata: &[(String, String)],
    ) -> Option<(OutLabels, Cow<'l, [u8]>)> {
        if !self.pipeline.keeps(line) {
            return None;
        }
        Some((self.labels_for(metadata), Cow::Borrowed(line)))
    }

    /// Labels of an entry with this structured metadata: a metadata key equal to a
    /// stream label name becomes `<key>_extracted`, as in Loki's labels builder.
    pub fn labels_for(&mut self, metadata: &[(String, String)]) -> OutLabels {
        if metadata.is_empty() {
            return self.base.clone();
        }
        if let Some((m, l)) = &self.last_meta {
            if m.as_slice() == metadata {
                return l.clone();
            }
        }
        let mut pairs: Vec<(String, String)> = self.stream.clone();
        for (k, v) in metadata {
            let name = if self.stream.iter().any(|(n, _)| n == k) {
                format!("{k}_extracted")
            } else {
                k.clone()
            };
            pairs.push((name, v.clone()));
        }
        let out = OutLabels::new(ResultLabels::new(pairs));
        self.last_meta = Some((metadata.to_vec(), out.clone()));
        out
    }
}

fn compile_filter(f: &AstLineFilter) -> Result<LineFilter, QueryError> {
    let texts: Vec<&str> = f
        .values
        .iter()
        .map(|v| match v {
            LineFilterValue::Text(s) | LineFilterValue::Ip(s) => s.as_str(),
        })
        .collect();
    let is_ip = f.values.iter().any(|v| matches!(v, LineFilterValue::Ip(_)));
    let built = match (f.op, is_ip) {
        (LineFilterOp::Contains, true) => LineFilter::ip(&texts),
        (LineFilterOp::NotContains, true) => LineFilter::not_ip(&texts),
        (LineFilterOp::Contains, false) => Ok(LineFilter::contains(&texts)),
        (LineFilterOp::NotContains, false) => Ok(LineFilter::not_contains(&texts)),
        (LineFilterOp::Regex, _) => LineFilter::regex(&texts),
        (LineFilterOp::NotRegex, _) => LineFilter::not_regex(&texts),
        (LineFilterOp::Pattern, _) => LineFilter::pattern(&texts),
        (LineFilterOp::NotPattern, _) => LineFilter::not_pattern(&texts),
    };
    built.map_err(|e| QueryError::BadRequest(e.to_string()))
}

fn stage_name(s: &Stage) -> &'static str {
    match s {
        Stage::LineFilter(_) => "line filter",
        Stage::Json(_) => "json",
        Stage::Logfmt(_) => "logfmt",
        Stage::Regexp(_) => "regexp",
        Stage::Pattern(_) => "pattern",
        Stage::Unpack => "unpack",
        Stage::LabelFilter(_) => "label filter",
        Stage::LineFormat(_) => "line_format",
        Stage::LabelFormat(_) => "label_format",
        Stage::Drop(_) => "drop",
        Stage::Keep(_) => "keep",
        Stage::Decolorize => "decolorize",
    }
}
