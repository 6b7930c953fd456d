//! Delete requests (Loki's delete API semantics).
//!
//! A request names a tenant, a LogQL log selector with an optional pipeline
//! (`{app="api"} |= "secret"`) and an inclusive time range `[start, end]` in ns. An
//! entry is deleted when its stream matches the selector, its timestamp lies in the
//! range and — when the query has a pipeline — the pipeline keeps the entry (as Loki's
//! compactor does: `FilterFunction` runs the query's pipeline and deletes what it
//! returns). Line filters are the usual case; parsers and label filters work too, as in
//! Loki.
//!
//! Requests are recorded in the manifest (tag `0x04`, see `docs/FORMAT.md`) before
//! [`Db::delete`](crate::Db::delete) returns. While a request is pending every read
//! hides the entries it matches; compaction removes them from disk and marks the
//! request [`DeleteStatus::Applied`]. A pending request can be cancelled until then.

use std::sync::Arc;

use logjar_logql::eval::pipeline::{Pipeline, StreamPipeline};
use logjar_logql::matcher::LabelMatcher;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::labels::Labels;

/// Where a delete request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteStatus {
    /// Logged; queries hide what it matches; not yet applied by compaction.
    Pending,
    /// Compaction removed the matching entries from disk.
    Applied,
    /// Cancelled before it was applied; it has no effect.
    Cancelled,
}

/// A delete request, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteRequest {
    /// Unique id in the database (from 1).
    pub id: u64,
    /// The tenant whose entries it deletes.
    pub tenant: String,
    /// The LogQL log selector, with optional line filters.
    pub query: String,
    /// First timestamp deleted (ns, inclusive).
    pub start: i64,
    /// Last timestamp deleted (ns, inclusive).
    pub end: i64,
    /// When the request was made (ns since the Unix epoch).
    pub created: i64,
    /// Pending, applied or cancelled.
    pub status: DeleteStatus,
}

/// A pending request, compiled for filtering.
#[derive(Debug, Clone)]
pub(crate) struct CompiledDelete {
    pub id: u64,
    pub created: i64,
    pub start: i64,
    pub end: i64,
    pub matchers: Vec<LabelMatcher>,
    /// `None` when the query is a bare selector (time range deletion).
    pub pipeline: Option<Pipeline>,
}

/// Parses and checks a delete query: a log selector with an optional pipeline.
pub(crate) fn parse_query(query: &str) -> Result<(Vec<LabelMatcher>, Option<Pipeline>)> {
    let expr = logjar_logql::parse_log_expr(query)
        .map_err(|e| Error::InvalidArgument(format!("bad delete query: {}", e.render(query))))?;
    let pipeline = if expr.pipeline.is_empty() {
        None
    } else {
        Some(
            Pipeline::compile(&expr.pipeline)
                .map_err(|e| Error::InvalidArgument(format!("bad delete query: {e}")))?,
        )
    };
    Ok((expr.selector, pipeline))
}

impl CompiledDelete {
    pub fn new(r: &DeleteRequest) -> Result<Self> {
        let (matchers, pipeline) = parse_query(&r.query)?;
        Ok(CompiledDelete {
            id: r.id,
            created: r.created,
            start: r.start,
            end: r.end,
            matchers,
            pipeline,
        })
    }

    pub fn matches_stream(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches_opt(labels.get(m.name())))
    }

    /// True when the request may delete entries in `[lo, hi]`.
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        self.start <= hi && lo <= self.end
    }
}

/// A line-level filter of one request for one stream.
#[derive(Debug)]
struct Lined {
    start: i64,
    end: i64,
    /// `Some` when the pipeline has only line filters (no metadata needed).
    filters_only: Option<Pipeline>,
    sp: StreamPipeline,
}

/// The pending requests that match one stream: decides per entry whether it is deleted.
#[derive(Debug, Default)]
pub(crate) struct StreamDeletes {
    /// Inclusive ranges deleted whole (requests without a pipeline).
    ranges: Vec<(i64, i64)>,
    lined: Vec<Lined>,
    meta: Vec<(String, String)>,
}

impl StreamDeletes {
    /// The requests of `all` matching a stream with `labels`; `None` when none does.
    pub fn for_stream(all: &[Arc<CompiledDelete>], labels: &Labels) -> Option<StreamDeletes> {
        let mut out = StreamDeletes::default();
        let mut result_labels = None;
        for d in all.iter().filter(|d| d.matches_stream(labels)) {
            match &d.pipeline {
                None => out.ranges.push((d.start, d.end)),
                Some(p) => {
                    let rl = result_labels
                        .get_or_insert_with(|| logjar_logql::metric::Labels::new(labels.iter()));
                    out.lined.push(Lined {
                        start: d.start,
                        end: d.end,
                        filters_only: p.is_filter_only().then(|| p.clone()),
                        sp: p.for_stream(rl),
                    });
                }
            }
        }
        (!out.ranges.is_empty() || !out.lined.is_empty()).then_some(out)
    }

    /// True when deciding needs the line (some request has a pipeline).
    pub fn needs_lines(&self) -> bool {
        !self.lined.is_empty()
    }

    /// True when some request may delete an entry in `[lo, hi]`.
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= hi && lo <= e)
            || self.lined.iter().any(|l| l.start <= hi && lo <= l.end)
    }

    /// True when every entry in `[lo, hi]` is deleted by a range request.
    pub fn covers(&self, lo: i64, hi: i64) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= lo && hi <= e)
    }

    /// True when the timestamp alone deletes the entry.
    pub fn deleted_ts(&self, ts: i64) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= ts && ts <= e)
    }

    /// True when the entry is deleted.
    pub fn deleted(&mut self, ts: i64, line: &[u8], metadata: &[(String, String)]) -> bool {
        if self.deleted_ts(ts) {
            return true;
        }
        self.lined.iter_mut().any(|l| {
            ts >= l.start
                && ts <= l.end
                && match &l.filters_only {
                    Some(p) => p.line_filter_prefix().matches(line),
                    None => l.sp.process(ts, line, metadata).is_some(),
                }
        })
    }

    /// Like [`deleted`](Self::deleted), with metadata as `(&str, &str)` pairs (copied
    /// only when a pipeline needs them).
    pub fn deleted_pairs<'a>(
        &mut self,
        ts: i64,
        line: &[u8],
        metadata: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        if self.deleted_ts(ts) {
            return true;
        }
        if !self.lined.iter().any(|l| ts >= l.start && ts <= l.end) {
            return false;
        }
        let mut meta = std::mem::take(&mut self.meta);
        meta.clear();
        meta.extend(metadata.map(|(k, v)| (k.to_owned(), v.to_owned())));
        let r = self.deleted(ts, line, &meta);
        self.meta = meta;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str, start: i64, end: i64) -> Arc<CompiledDelete> {
        Arc::new(
            CompiledDelete::new(&DeleteRequest {
                id: 1,
                tenant: "fake".into(),
                query: query.into(),
                start,
                end,
                created: 0,
                status: DeleteStatus::Pending,
            })
            .unwrap(),
        )
    }

    #[test]
    fn selector_range_and_line_filters() {
        let api = Labels::new([("app", "api")]).unwrap();
        let web = Labels::new([("app", "web")]).unwrap();
        let all = vec![
            req(r#"{app="api"}"#, 10, 20),
            req(r#"{app=~".+"} |= "secret""#, 0, 100),
        ];
        let mut d = StreamDeletes::for_stream(&all, &api).unwrap();
        assert!(d.needs_lines());
        assert!(d.deleted(10, b"x", &[]) && d.deleted(20, b"x", &[]));
        assert!(!d.deleted(21, b"x", &[]));
        assert!(d.deleted(50, b"a secret", &[]));
        assert!(!d.deleted(101, b"a secret", &[]));
        let mut d = StreamDeletes::for_stream(&all[..1], &web);
        assert!(d.is_none());
        d = StreamDeletes::for_stream(&all, &web);
        assert!(d.unwrap().deleted(5, b"secret", &[]));
        // Parsers and label filters, as Loki allows.
        let j = vec![req(r#"{app="api"} | json | level="debug""#, 0, 100)];
        let mut d = StreamDeletes::for_stream(&j, &api).unwrap();
        assert!(d.deleted(1, br#"{"level":"debug"}"#, &[]));
        assert!(!d.deleted(1, br#"{"level":"info"}"#, &[]));
        let m = vec![req(r#"{app="api"} | trace_id="t1""#, 0, 100)];
        let mut d = StreamDeletes::for_stream(&m, &api).unwrap();
        assert!(d.deleted_pairs(1, b"x", [("trace_id", "t1")].into_iter()));
        assert!(!d.deleted_pairs(1, b"x", [("trace_id", "t2")].into_iter()));
    }

    #[test]
    fn bad_queries_are_invalid_arguments() {
        for q in [
            "{app=\"api\"",
            "app",
            "{}",
            r#"sum(rate({a="b"}[1m]))"#,
            r#"{a="b"} |~ "(""#,
        ] {
            match parse_query(q) {
                Err(Error::InvalidArgument(m)) => assert!(m.starts_with("bad delete query"), "{m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
    }
}
