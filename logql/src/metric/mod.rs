//! Metric evaluation core: range aggregation over sample windows, vector aggregation,
//! binary operators with Prometheus vector matching, `label_replace` and `vector()`.
//!
//! These pieces know nothing of the AST or of storage: they take small enums and the
//! value types of [`series`] and return [`Matrix`]/[`Vector`] results shaped as Loki v3
//! returns them. The later wiring maps AST nodes onto them:
//!
//! | LogQL | here |
//! |---|---|
//! | `count_over_time`, `rate`, `bytes_over_time`, `bytes_rate` | [`log_range_aggregate`] |
//! | unwrapped `*_over_time`, `rate`, `rate_counter` (+ `by`/`without`) | [`group_series`], [`unwrapped_range_aggregate`] |
//! | `absent_over_time` | [`absent_over_time`], [`absent_labels`] |
//! | `sum`/`avg`/…/`topk`/`sort` | [`aggregate`], [`aggregate_matrix`] |
//! | `a + b`, `a > bool b`, `and`/`or`/`unless`, `on`/`ignoring`/`group_*` | [`vector_binop`], [`vector_scalar_binop`], [`scalar_binop`], [`matrix_binop`], [`matrix_scalar_binop`] |
//! | `label_replace`, `vector(x)` | [`LabelReplace`], [`vector_matrix`] |
//! | step times, default step | [`Steps`], [`default_step_ns`] |
//! | per-step to matrix and back, instant-result order | [`matrix_to_vectors`], [`vectors_to_matrix`], [`sort_vector_by_labels`] |
//!
//! Each module's docs list the Loki/Prometheus behaviour it reproduces, saying which
//! points were confirmed against Loki's source (`pkg/logql/range_vector.go`,
//! `evaluator.go`, `syntax/ast.go`, `loghttp/params.go`) and which are assumptions.
//!
//! A range query end to end:
//!
//! ```
//! use logjar_logql::metric::*;
//! const S: i64 = 1_000_000_000;
//!
//! // sum by (level) (count_over_time({app="api"}[1m])) over two minutes.
//! let entries = |level: &str, times: &[i64]| LogSeries {
//!     labels: Labels::new([("app", "api"), ("level", level)]),
//!     buckets: times.iter().map(|&t| EntryBucket { ts_ns: t * S, count: 1, bytes: 100 }).collect(),
//! };
//! let series = vec![entries("info", &[5, 30, 70]), entries("error", &[65])];
//! let steps = Steps::range(60 * S, 120 * S, 60 * S).unwrap();
//! let counts = log_range_aggregate(RangeOp::CountOverTime, RangeWindow::new(60 * S), &steps, &series);
//! let summed = aggregate_matrix(VectorOp::Sum, &Grouping::by(&["level"]), &counts, &steps.timestamps_ms(0));
//! assert_eq!(summed.len(), 2);
//! assert_eq!(summed[0].labels, Labels::new([("level", "error")]));
//! assert_eq!(summed[0].points, vec![Point { ts_ms: 120_000, value: 1.0 }]);
//! assert_eq!(summed[1].points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![2.0, 1.0]);
//! ```

pub mod binop;
pub mod functions;
pub mod range;
pub mod series;
pub mod steps;
pub mod vector;
mod window;

pub use binop::{
    matrix_binop, matrix_scalar_binop, scalar_binop, vector_binop, vector_scalar_binop, BinOp,
    BinOpError, Cardinality, VectorMatching,
};
pub use functions::{vector_matrix, LabelReplace};
pub use range::{
    absent_labels, absent_over_time, group_series, log_range_aggregate, unwrapped_range_aggregate,
    EntryBucket, LogSeries, RangeOp, RangeWindow, SampleSeries,
};
pub use series::{
    matrix_to_vectors, sort_vector_by_labels, vectors_to_matrix, Grouping, Labels, Matrix, Point,
    Sample, Scalar, Series, Vector,
};
pub use steps::{default_step_ns, Steps, StepsError, MAX_POINTS};
pub use vector::{aggregate, aggregate_matrix, VectorOp};
