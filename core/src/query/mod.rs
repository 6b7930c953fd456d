//! Query execution: LogQL over a [`Db`], with results shaped as Grafana
//! Loki v3 returns them.
//!
//! [`Db::query`] parses the query text, takes one [`Snapshot`](crate::Snapshot) of the
//! tenant and evaluates:
//!
//! - **log queries** (`{app="api"} |= "error"`): the streams the selector matches in
//!   `[start, end)` are read in the query direction, filtered line by line, and merged
//!   across streams by timestamp (ties by label string, as Loki's heap iterator), stopping
//!   at `limit` entries. Entries are grouped by their final label set (stream labels plus
//!   structured metadata); streams are sorted by their label string, entries within a
//!   stream follow the query direction ([`logs`]);
//! - **metric queries**: each range aggregation reads its streams once and feeds
//!   [`logjar_logql::metric`]; vector aggregations, binary operators, `label_replace`,
//!   `vector()` and literals are evaluated over the whole step range at once ([`metric`]).
//!   `count_over_time`, `rate`, `bytes_over_time` and `bytes_rate` over a bare selector
//!   read only timestamps and line lengths where structured metadata cannot change the
//!   answer (aggregated by labels every stream has, as in `sum by (app) (rate(…))`).
//!
//! Results are [`QueryResult`]s plus [`Stats`]; [`loki_json`] encodes them as the body of
//! Loki's `/loki/api/v1/query_range` and `/loki/api/v1/query`.
//!
//! ```
//! use logjar::{Db, Entry, Labels, Options, entry::StreamEntries};
//! use logjar::query::{QueryRequest, QueryResult};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let app = Labels::new([("app", "api")]).unwrap();
//! db.push("fake", &[StreamEntries { labels: app, entries: vec![
//!     Entry::new(1_000, "GET /a 200"), Entry::new(2_000, "GET /b 500"),
//! ]}]).unwrap();
//!
//! let resp = db.query("fake", &QueryRequest::range(r#"{app="api"} |= "500""#, 0, 10_000)).unwrap();
//! let QueryResult::Streams(streams) = &resp.result else { panic!() };
//! assert_eq!(streams[0].entries, vec![(2_000, "GET /b 500".to_string())]);
//! assert!(resp.to_loki_json().starts_with(r#"{"status":"success","data":{"resultType":"streams""#));
//! ```

mod context;
mod error;
pub mod logs;
pub mod loki_json;
pub mod metric;
pub(crate) mod par;
mod pipeline;
mod request;
mod search;
mod stats;

use std::time::Instant;

pub use context::CancelToken;
pub use error::QueryError;
pub use logjar_logql::metric::{Labels as ResultLabels, Matrix, Point, Sample, Series, Vector};
pub use request::{QueryLimits, QueryRequest};
pub use stats::Stats;

use crate::db::Db;
use context::Ctx;
use logjar_logql::Expr;

/// One stream of a log-query result: its final labels and its entries
/// `(timestamp ns, line)` in the query direction.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    /// Stream labels, structured metadata and extracted labels, merged.
    pub labels: ResultLabels,
    /// Entries, newest first for backward queries, oldest first for forward ones.
    /// Invalid UTF-8 in a line is replaced by U+FFFD.
    pub entries: Vec<(i64, String)>,
}

/// The data of a query answer, by Loki's `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// Log lines (`"streams"`), streams sorted by label string.
    Streams(Vec<StreamResult>),
    /// A range metric query (`"matrix"`): series sorted by labels, points in time order.
    Matrix(Matrix),
    /// An instant metric query (`"vector"`), at [`QueryResponse::time_ms`].
    Vector(Vector),
    /// A scalar expression in an instant query (`"scalar"`), at [`QueryResponse::time_ms`].
    Scalar(f64),
}

impl QueryResult {
    /// Loki's `resultType`: `streams`, `matrix`, `vector` or `scalar`.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryResult::Streams(_) => "streams",
            QueryResult::Matrix(_) => "matrix",
            QueryResult::Vector(_) => "vector",
            QueryResult::Scalar(_) => "scalar",
        }
    }
}

/// A query's answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResponse {
    /// The result.
    pub result: QueryResult,
    /// Evaluation time of a vector or scalar result, Unix milliseconds.
    pub time_ms: i64,
    /// Work done.
    pub stats: Stats,
}

impl QueryResponse {
    /// The body Loki's HTTP API returns for this answer; see [`loki_json::encode`].
    pub fn to_loki_json(&self) -> String {
        loki_json::encode(self)
    }
}

impl Db {
    /// Runs a LogQL query against `tenant`'s data, answering as Loki's `query_range`
    /// (or `query`, for [`QueryRequest::instant`]) would.
    ///
    /// Errors: [`QueryError::BadQuery`] for a query that does not parse (with the
    /// position and a rendered caret), [`QueryError::BadRequest`] for inconsistent
    /// request fields, [`QueryError::Limit`] when a [`QueryLimits`] bound is hit,
    /// [`QueryError::Timeout`] / [`QueryError::Cancelled`], [`QueryError::Execution`]
    /// for evaluation errors Loki reports (many-to-many matching, pipeline errors), and
    /// [`QueryError::Storage`] for storage failures.
    ///
    /// ```
    /// use logjar::{Db, Entry, Labels, Options, entry::StreamEntries};
    /// use logjar::query::{QueryRequest, QueryResult};
    /// const S: i64 = 1_000_000_000;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let labels = Labels::new([("app", "api")]).unwrap();
    /// let entries = (1..=120).map(|i| Entry::new(i * S, format!("line {i}"))).collect();
    /// db.push("fake", &[StreamEntries { labels, entries }]).unwrap();
    ///
    /// let req = QueryRequest::range(r#"sum(count_over_time({app="api"}[1m]))"#, 60 * S, 120 * S)
    ///     .with_step(60 * S);
    /// let resp = db.query("fake", &req).unwrap();
    /// let QueryResult::Matrix(m) = &resp.result else { panic!() };
    /// // Windows (0s, 60s] and (60s, 120s] hold 60 entries each.
    /// assert_eq!(m[0].points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![60.0, 60.0]);
    ///
    /// let err = db.query("fake", &QueryRequest::range("{app=", 0, 1)).unwrap_err();
    /// assert!(err.to_string().contains("parse error"));
    /// ```
    pub fn query(&self, tenant: &str, req: &QueryRequest) -> Result<QueryResponse, QueryError> {
        let started = Instant::now();
        let expr =
            logjar_logql::parse(&req.query).map_err(|e| QueryError::parse(&req.query, &e))?;
        req.validate()?;
        let snap = self.snapshot(tenant).map_err(QueryError::Storage)?;
        let ctx = Ctx::new(req);
        let (result, time_ms) = match &expr {
            Expr::Log(log) => {
                if req.is_instant() {
                    return Err(QueryError::BadRequest(
                        "log queries are not supported as an instant query type, please change your query to a range query type".into(),
                    ));
                }
                let streams = logs::run(&snap, log, req, &ctx)?;
                (QueryResult::Streams(streams), 0)
            }
            Expr::Metric(m) => metric::run(&snap, m, req, &ctx)?,
        };
        let mut stats = ctx.stats();
        stats.exec_time = started.elapsed();
        stats.entries_returned = match &result {
            QueryResult::Streams(s) => s.iter().map(|s| s.entries.len() as u64).sum(),
            QueryResult::Matrix(m) => m.len() as u64,
            QueryResult::Vector(v) => v.len() as u64,
            QueryResult::Scalar(_) => 1,
        };
        Ok(QueryResponse {
            result,
            time_ms,
            stats,
        })
    }
}
