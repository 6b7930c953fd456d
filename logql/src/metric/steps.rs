//! Evaluation times of a metric query.
//!
//! Confirmed in Loki (`pkg/logql/range_vector.go`, `evaluator.go`): a range query is
//! evaluated at `start, start+step, …` while `≤ end` — no alignment of `start` to the step
//! inside the engine; an instant query (`start == end`, no step) is evaluated once, with
//! the step forced to 1 ns. Result timestamps are milliseconds:
//! `(t - offset) / 1e6 + offset / 1e6` (integer division, as Loki's range iterator).
//!
//! Confirmed in Loki (`pkg/loghttp/params.go`): when `/loki/api/v1/query_range` gets no
//! `step`, it uses `max(floor((end - start) in seconds / 250), 1)` whole seconds
//! ([`default_step_ns`]).
//!
//! Confirmed in Loki's `pkg/loghttp` and query-range config: the frontend's step
//! alignment (`-querier.align-querier-with-step`) defaults to off, so `start` is used as
//! given; a request with `step <= 0`, `end < start`, or `(end - start) / step > 11000`
//! is refused, with the messages of [`StepsError`].

use thiserror::Error;

const NS_PER_MS: i64 = 1_000_000;
const NS_PER_S: i64 = 1_000_000_000;
/// Loki/Prometheus refuse range queries with more points than this per series.
pub const MAX_POINTS: i64 = 11_000;

/// A query's evaluation times (nanoseconds).
///
/// ```
/// use logjar_logql::metric::Steps;
///
/// let s = Steps::range(0, 120_000_000_000, 60_000_000_000).unwrap();
/// assert_eq!(s.timestamps_ns().collect::<Vec<_>>(), vec![0, 60_000_000_000, 120_000_000_000]);
/// assert_eq!(s.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps {
    start_ns: i64,
    step_ns: i64,
    count: usize,
}

/// Why a range of evaluation times was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StepsError {
    /// `step <= 0`.
    #[error(
        "zero or negative query resolution step widths are not accepted. Try a positive integer"
    )]
    NonPositiveStep,
    /// `end < start`.
    #[error("end timestamp must not be before start time")]
    EndBeforeStart,
    /// More than [`MAX_POINTS`] evaluation times.
    #[error("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")]
    TooManyPoints,
}

impl Steps {
    /// Evaluation times of a range query: `start, start + step, …` up to and including
    /// `end`.
    pub fn range(start_ns: i64, end_ns: i64, step_ns: i64) -> Result<Steps, StepsError> {
        if step_ns <= 0 {
            return Err(StepsError::NonPositiveStep);
        }
        if end_ns < start_ns {
            return Err(StepsError::EndBeforeStart);
        }
        let n = (i128::from(end_ns) - i128::from(start_ns)) / i128::from(step_ns) + 1;
        if n > i128::from(MAX_POINTS) + 1 {
            return Err(StepsError::TooManyPoints);
        }
        Ok(Steps {
            start_ns,
            step_ns,
            count: n as usize,
        })
    }

    /// The single evaluation time of an instant query.
    pub fn instant(t_ns: i64) -> Steps {
        Steps {
            start_ns: t_ns,
            step_ns: 1,
            count: 1,
        }
    }

    /// Number of evaluation times (≥ 1).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: there is at least one evaluation time.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// First evaluation time (ns).
    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }

    /// Step between evaluation times (ns; 1 for instant queries).
    pub fn step_ns(&self) -> i64 {
        self.step_ns
    }

    /// The `i`-th evaluation time (ns); saturates for indexes past [`len`](Self::len).
    pub fn at_ns(&self, i: usize) -> i64 {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        self.start_ns.saturating_add(self.step_ns.saturating_mul(i))
    }

    /// Evaluation times in nanoseconds.
    pub fn timestamps_ns(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.count).map(|i| self.at_ns(i))
    }

    /// Result timestamps in milliseconds for a range selection with `offset_ns`, as Loki
    /// stamps them: `(t - offset) / 1e6 + offset / 1e6`.
    pub fn timestamps_ms(&self, offset_ns: i64) -> Vec<i64> {
        self.timestamps_ns()
            .map(|t| result_ts_ms(t, offset_ns))
            .collect()
    }
}

/// Loki's result timestamp for evaluation time `t_ns` and `offset_ns`.
pub(crate) fn result_ts_ms(t_ns: i64, offset_ns: i64) -> i64 {
    t_ns.saturating_sub(offset_ns) / NS_PER_MS + offset_ns / NS_PER_MS
}

/// Loki's default `query_range` step when the request has none:
/// `max(floor((end - start) / 250 s), 1)` whole seconds, returned in nanoseconds.
///
/// ```
/// use logjar_logql::metric::default_step_ns;
/// const S: i64 = 1_000_000_000;
/// assert_eq!(default_step_ns(0, 3600 * S), 14 * S); // 3600 / 250 = 14.4
/// assert_eq!(default_step_ns(0, 60 * S), S);
/// ```
pub fn default_step_ns(start_ns: i64, end_ns: i64) -> i64 {
    let secs = (i128::from(end_ns) - i128::from(start_ns)) as f64 / 1e9;
    let step = (secs / 250.0).floor().max(1.0);
    (step as i64).saturating_mul(NS_PER_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_includes_end_when_aligned() {
        let s = Steps::range(10, 30, 10).unwrap();
        assert_eq!(s.timestamps_ns().collect::<Vec<_>>(), vec![10, 20, 30]);
    }

    #[test]
    fn range_stops_before_end_when_unaligned() {
        let s = Steps::range(10, 35, 10).unwrap();
        assert_eq!(s.timestamps_ns().collect::<Vec<_>>(), vec![10, 20, 30]);
    }

    #[test]
    fn start_equals_end_is_one_step() {
        assert_eq!(Steps::range(5, 5, 10).unwrap().len(), 1);
        assert_eq!(
            Steps::instant(7).timestamps_ns().collect::<Vec<_>>(),
            vec![7]
        );
    }

    #[test]
    fn invalid_ranges_are_errors() {
        assert_eq!(Steps::range(0, 10, 0), Err(StepsError::NonPositiveStep));
        assert_eq!(Steps::range(10, 0, 1), Err(StepsError::EndBeforeStart));
        assert_eq!(Steps::range(0, 11_000, 1).map(|s| s.len()), Ok(11_001));
        assert_eq!(Steps::range(0, 11_001, 1), Err(StepsError::TooManyPoints));
        assert_eq!(
            Steps::range(i64::MIN, i64::MAX, 1),
            Err(StepsError::TooManyPoints)
        );
    }

    #[test]
    fn ms_timestamps_truncate_like_loki() {
        // offset not a whole millisecond: both parts truncate separately.
        assert_eq!(result_ts_ms(10_000_000, 1_500_000), 8 + 1);
        assert_eq!(result_ts_ms(10_000_000, 0), 10);
    }

    #[test]
    fn default_step() {
        assert_eq!(default_step_ns(0, 0), NS_PER_S);
        assert_eq!(default_step_ns(0, 500 * NS_PER_S), 2 * NS_PER_S);
        assert_eq!(default_step_ns(0, 499 * NS_PER_S), NS_PER_S);
    }
}
