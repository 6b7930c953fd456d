//! Query requests, and their JSON form used by the bindings (CONTRACT.md section 5).

use std::time::Instant;

use serde_json::Value;

use super::context::CancelToken;
use super::error::QueryError;
use crate::db::Direction;

const NS_PER_S: i64 = 1_000_000_000;
const HOUR_NS: i64 = 3600 * NS_PER_S;

/// Bounds on what one query may do, with Loki's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most series a metric query may return at one step (Loki `max_query_series`, 500).
    pub max_series: usize,
    /// Largest `limit` a log query may ask for (Loki `max_entries_limit_per_query`, 5000).
    pub max_entries_limit: u32,
    /// Most line bytes a query may read, `None` for no bound.
    pub max_bytes_read: Option<u64>,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_series: 500,
            max_entries_limit: 5000,
            max_bytes_read: None,
        }
    }
}

/// A query: LogQL text, a time range (or one instant) and options.
///
/// Times are Unix nanoseconds. A range query reads `[start, end)` for log queries and is
/// evaluated at `start, start + step, …, ≤ end` for metric queries (step: Loki's default,
/// `max(⌊(end − start) / 250 s⌋, 1 s)`, when `None`). An instant query evaluates a metric
/// query once at `time`.
///
/// ```
/// use logjar::query::QueryRequest;
/// use logjar::Direction;
/// const S: i64 = 1_000_000_000;
///
/// let r = QueryRequest::range(r#"{app="api"}"#, 0, 3600 * S).with_limit(10).with_direction(Direction::Forward);
/// assert_eq!((r.limit, r.direction), (10, Direction::Forward));
/// assert_eq!(r.effective_step(), 14 * S); // 3600 s / 250, rounded down
///
/// let r = QueryRequest::from_json(r#"{"query":"count_over_time({app=\"api\"}[1m])","time":60000000000}"#).unwrap();
/// assert!(r.is_instant());
/// assert!(QueryRequest::from_json(r#"{"query":"x","direction":"sideways"}"#).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The LogQL query.
    pub query: String,
    /// Start of the range (inclusive), ns.
    pub start: i64,
    /// End of the range, ns (exclusive for log lines, the last evaluation time at most
    /// for metrics).
    pub end: i64,
    /// Step between evaluation times of a range metric query, ns.
    pub step: Option<i64>,
    /// `Some(t)`: an instant query at `t`.
    pub time: Option<i64>,
    /// Most entries a log query returns (default 100).
    pub limit: u32,
    /// Entry order of a log query (default backward, newest first).
    pub direction: Direction,
    /// The query fails with [`QueryError::Timeout`] after this instant.
    pub deadline: Option<Instant>,
    /// Set from another thread to stop the query.
    pub cancel: Option<CancelToken>,
    /// Limits.
    pub limits: QueryLimits,
}

impl QueryRequest {
    /// A range query over `[start, end)`.
    pub fn range(query: impl Into<String>, start: i64, end: i64) -> Self {
        QueryRequest {
            query: query.into(),
            start,
            end,
            step: None,
            time: None,
            limit: 100,
            direction: Direction::Backward,
            deadline: None,
            cancel: None,
            limits: QueryLimits::default(),
        }
    }

    /// An instant query at `time` (metric queries only, as in Loki).
    pub fn instant(query: impl Into<String>, time: i64) -> Self {
        QueryRequest {
            time: Some(time),
            ..QueryRequest::range(query, time, time)
        }
    }

    /// Sets the step (ns).
    pub fn with_step(mut self, step_ns: i64) -> Self {
        self.step = Some(step_ns);
        self
    }

    /// Sets the entry limit.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Sets the direction.
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Sets a deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets a cancel token.
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// True for an instant query.
    pub fn is_instant(&self) -> bool {
        self.time.is_some()
    }

    /// The step used: the request's, or Loki's default for the range.
    pub fn effective_step(&self) -> i64 {
        self.step
            .unwrap_or_else(|| logjar_logql::metric::default_step_ns(self.start, self.end))
    }

    /// Checks the fields that do not depend on the query kind.
    pub(crate) fn validate(&self) -> Result<(), QueryError> {
        if self.time.is_none() && self.end < self.start {
            return Err(QueryError::BadRequest(
                "end timestamp must not be before start time".into(),
            ));
        }
        if self.limit > self.limits.max_entries_limit {
            return Err(QueryError::Limit(format!(
                "max entries limit per query exceeded, limit > max_entries_limit ({} > {})",
                self.limit, self.limits.max_entries_limit
            )));
        }
        Ok(())
    }

    /// Parses the bindings' request object:
    /// `{"query":"…","start":<ns>,"end":<ns>,"step":"60s","limit":100,"direction":"backward","time":<ns>}`.
    ///
    /// `query` is required. Times are integers (ns) or strings (integer ns or RFC 3339).
    /// With `time` the request is an instant query. Without `start`/`end`, `end` is now
    /// and `start` one hour earlier (Loki's defaults). `step` is a duration string
    /// (`"60s"`, `"1m"`) or a number of seconds. Unknown fields are refused.
    pub fn from_json(json: &str) -> Result<Self, QueryError> {
        let bad = |m: String| QueryError::BadRequest(m);
        let v: Value = serde_json::from_str(json)
            .map_err(|e| bad(format!("request is not valid JSON: {e}")))?;
        let Value::Object(obj) = v else {
            return Err(bad("request must be a JSON object".into()));
        };
        for key in obj.keys() {
            if ![
                "query",
                "start",
                "end",
                "step",
                "limit",
                "direction",
                "time",
            ]
            .contains(&key.as_str())
            {
                return Err(bad(format!(
                    "unknown field {key:?} (expected query, start, end, step, limit, direction, time)"
                )));
            }
        }
        let query = match obj.get("query") {
            Some(Value::String(q)) => q.clone(),
            Some(_) => return Err(bad("\"query\" must be a string".into())),
            None => return Err(bad("missing field \"query\"".into())),
        };
        let time = obj.get("time").map(|v| json_time("time", v)).transpose()?;
        let mut req = match time {
            Some(t) => QueryRequest::instant(query, t),
            None => {
                let end = match obj.get("end") {
                    Some(v) => json_time("end", v)?,
                    None => now_ns(),
                };
                let start = match obj.get("start") {
                    Some(v) => json_time("start", v)?,
                    None => end.saturating_sub(HOUR_NS),
                };
                QueryRequest::range(query, start, end)
            }
        };
        if let Some(v) = obj.get("step") {
            req.step = Some(json_step(v)?);
        }
        if let Some(v) = obj.get("limit") {
            req.limit = v
                .as_u64()
                .and_then(|l| u32::try_from(l).ok())
                .ok_or_else(|| bad(format!("\"limit\" must be a non-negative integer, got {v}")))?;
        }
        if let Some(v) = obj.get("direction") {
            req.direction = match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("backward") => Direction::Backward,
                Some("forward") => Direction::Forward,
                _ => {
                    return Err(bad(format!(
                        "\"direction\" must be \"backward\" or \"forward\", got {v}"
                    )))
                }
            };
        }
        Ok(req)
    }
}

fn json_time(field: &str, v: &Value) -> Result<i64, QueryError> {
    let parsed = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => crate::ingest::parse_time(s).ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        QueryError::BadRequest(format!(
            "{field:?} must be Unix nanoseconds or an RFC 3339 time, got {v}"
        ))
    })
}

fn json_step(v: &Value) -> Result<i64, QueryError> {
    let step = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
            .map(|s| (s * 1e9).round() as i64),
        Value::String(s) => logjar_logql::units::parse_range_duration(s).or_else(|| {
            s.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                .map(|s| (s * 1e9).round() as i64)
        }),
        _ => None,
    };
    step.filter(|&s| s > 0).ok_or_else(|| {
        QueryError::BadRequest(format!(
            "\"step\" must be a positive duration (\"60s\") or number of seconds, got {v}"
        ))
    })
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
