//! Metric queries: the `MetricExpr` tree evaluated over all steps at once.
//!
//! Every node evaluates to a [`Matrix`] over the query's steps, or to a scalar. Range
//! aggregations read storage (once per aggregation); everything above them is
//! [`logjar_logql::metric`] arithmetic. An instant query is a range of one step whose
//! matrix becomes a vector at the end.
//!
//! Loki semantics reproduced (`pkg/logql/engine.go`, `evaluator.go`):
//! - a range query of a scalar expression returns a matrix with one label-less series;
//!   an instant one returns a scalar;
//! - instant vectors are sorted by labels unless the outermost aggregation is `sort` or
//!   `sort_desc`;
//! - more than `max_series` (500) series at one step fails with
//!   `maximum of series (500) reached for a single query`.
//! - samples are grouped into series by stream labels, structured metadata and
//!   extracted labels (the LogQL crate's sample extractor); `sum` pushes its grouping
//!   into the extractor of a counting range aggregation, as Loki does;
//! - counting over a bare selector reads only timestamps and line lengths where
//!   structured metadata cannot change the result (`SizesOnly`).

use logjar_logql::metric::{
    self as m, absent_labels, absent_over_time, log_range_aggregate, matrix_binop,
    matrix_scalar_binop, matrix_to_vectors, scalar_binop, unwrapped_range_aggregate, vector_matrix,
    BinOp, Cardinality, EntryBucket, LabelReplace, LogSeries, RangeWindow, SampleSeries, Steps,
};
use std::cell::RefCell;
use std::collections::HashMap;

use logjar_logql::eval::pipeline::SampleExtractor;
use logjar_logql::syntax::{self as ast, MetricExpr};

use super::context::{Ctx, Work};
use super::error::QueryError;
use super::par::map_tasks;
use super::pipeline::{compile_error, result_labels};
use super::request::QueryRequest;
use super::search::{LineSearch, SearchScan};
use super::{Matrix, QueryResult, Sample};
use crate::db::{Direction, SizeBatch, Snapshot};
use crate::labels::Labels;

const NS_PER_MS: i64 = 1_000_000;

/// Entries run through a pipeline between two looks at the deadline and cancel token.
const CHECK_WITHIN_BATCH: usize = 4096;

/// A node's value over all steps.
enum Value {
    Matrix(Matrix),
    Scalar(f64),
}

struct Evaluator<'a> {
    snap: &'a Snapshot,
    steps: Steps,
    ts_ms: Vec<i64>,
    ctx: &'a Ctx,
    /// Range aggregations already evaluated, by canonical text and pushed-down
    /// grouping: a query such as the loss rate repeats one aggregation.
    memo: RefCell<HashMap<String, Matrix>>,
}

/// Runs a metric query; returns the result and, for instant queries, its time (ms).
pub(crate) fn run(
    snap: &Snapshot,
    expr: &MetricExpr,
    req: &QueryRequest,
    ctx: &Ctx,
) -> Result<(QueryResult, i64), QueryError> {
    let steps = match req.time {
        Some(t) => Steps::instant(t),
        None => Steps::range(req.start, req.end, req.effective_step())
            .map_err(|e| QueryError::BadRequest(e.to_string()))?,
    };
    let ev = Evaluator {
        snap,
        ts_ms: steps.timestamps_ms(0),
        steps,
        ctx,
        memo: RefCell::new(HashMap::new()),
    };
    let value = ev.eval(expr)?;
    let max = req.limits.max_series;
    match (req.time, value) {
        (Some(t), Value::Scalar(x)) => Ok((QueryResult::Scalar(x), t / NS_PER_MS)),
        (Some(t), Value::Matrix(mx)) => {
            let mut v: Vec<Sample> = matrix_to_vectors(&mx, &ev.ts_ms).pop().unwrap_or_default();
            check_series(v.len(), max)?;
            sort_instant(expr, &mut v);
            Ok((QueryResult::Vector(v), t / NS_PER_MS))
        }
        (None, Value::Scalar(x)) => Ok((QueryResult::Matrix(vector_matrix(x, &ev.ts_ms)), 0)),
        (None, Value::Matrix(mx)) => {
            let widest = matrix_to_vectors(&mx, &ev.ts_ms)
                .iter()
                .map(Vec::len)
                .max()
                .unwrap_or(0);
            check_series(widest, max)?;
            Ok((QueryResult::Matrix(mx), 0))
        }
    }
}

fn check_series(n: usize, max: usize) -> Result<(), QueryError> {
    if n > max {
        return Err(QueryError::Limit(format!(
            "maximum of series ({max}) reached for a single query"
        )));
    }
    Ok(())
}

/// Loki sorts instant vectors by labels unless the query asks for `sort`/`sort_desc`
/// at the top, whose order the aggregation already produced.
fn sort_instant(expr: &MetricExpr, v: &mut [Sample]) {
    let sorted_by_value = matches!(
        expr,
        MetricExpr::VectorAggregation(a)
            if matches!(a.op, ast::VectorOp::Sort | ast::VectorOp::SortDesc)
    );
    if !sorted_by_value {
        m::sort_vector_by_labels(v);
    }
}

impl Evaluator<'_> {
    fn eval(&self, e: &MetricExpr) -> Result<Value, QueryError> {
        self.ctx.check()?;
        match e {
            MetricExpr::Literal(x) => Ok(Value::Scalar(*x)),
            MetricExpr::Vector(x) => Ok(Value::Matrix(vector_matrix(*x, &self.ts_ms))),
            MetricExpr::RangeAggregation(r) => self.range_aggregation(r, None).map(Value::Matrix),
            MetricExpr::VectorAggregation(a) => {
                let inner = match (&*a.expr, pushdown(a)) {
                    // `sum` narrows sample labels while reading, as Loki pushes it down.
                    (MetricExpr::RangeAggregation(r), Some(g)) => {
                        Value::Matrix(self.range_aggregation(r, Some(&g))?)
                    }
                    (e, _) => self.eval(e)?,
                };
                let Value::Matrix(inner) = inner else {
                    return Err(QueryError::Execution(
                        "vector aggregation over a scalar".into(),
                    ));
                };
                let op = vector_op(a.op, a.param);
                let grouping = match &a.grouping {
                    Some(ast::Grouping::By(l)) => m::Grouping::by(l),
                    Some(ast::Grouping::Without(l)) => m::Grouping::without(l),
                    None => m::Grouping::by::<&str>(&[]),
                };
                if self.steps.len() == 1
                    && matches!(
                        a.op,
                        ast::VectorOp::Sort
                            | ast::VectorOp::SortDesc
                            | ast::VectorOp::Topk
                            | ast::VectorOp::Bottomk
                            | ast::VectorOp::ApproxTopk
                    )
                {
                    // Keep the aggregation's own order for instant results.
                    let v = matrix_to_vectors(&inner, &self.ts_ms)
                        .pop()
                        .unwrap_or_default();
                    let out = m::aggregate(op, &grouping, &v);
                    let ts_ms = self.ts_ms.first().copied().unwrap_or_default();
                    return Ok(Value::Matrix(ordered_single_step(out, ts_ms)));
                }
                Ok(Value::Matrix(m::aggregate_matrix(
                    op,
                    &grouping,
                    &inner,
                    &self.ts_ms,
                )))
            }
            MetricExpr::Binary(b) => self.binary(b),
            MetricExpr::LabelReplace(l) => {
                let Value::Matrix(inner) = self.eval(&l.expr)? else {
                    return Err(QueryError::Execution("label_replace over a scalar".into()));
                };
                let lr =
                    LabelReplace::new(&l.dst, &l.replacement, &l.src, &l.regex).map_err(|e| {
                        QueryError::BadRequest(format!("invalid regex in label_replace: {e}"))
                    })?;
                Ok(Value::Matrix(lr.apply_matrix(&inner)))
            }
        }
    }

    fn binary(&self, b: &ast::BinaryExpr) -> Result<Value, QueryError> {
        let op = bin_op(b.op);
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let rb = b.modifier.return_bool;
        let exec = |e: m::BinOpError| QueryError::Execution(e.to_string());
        Ok(match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                Value::Scalar(scalar_binop(op, l, r).map_err(exec)?)
            }
            (Value::Matrix(l), Value::Scalar(r)) => {
                Value::Matrix(matrix_scalar_binop(op, &l, r, false, rb, &self.ts_ms).map_err(exec)?)
            }
            (Value::Scalar(l), Value::Matrix(r)) => {
                Value::Matrix(matrix_scalar_binop(op, &r, l, true, rb, &self.ts_ms).map_err(exec)?)
            }
            (Value::Matrix(l), Value::Matrix(r)) => {
                let matching = vector_matching(b.modifier.matching.as_ref());
                Value::Matrix(matrix_binop(op, &matching, rb, &l, &r, &self.ts_ms).map_err(exec)?)
            }
        })
    }

    fn range_aggregation(
        &self,
        r: &ast::RangeAggregation,
        pushdown: Option<&ast::Grouping>,
    ) -> Result<Matrix, QueryError> {
        let key = format!("{r}\u{0}{pushdown:?}");
        if let Some(m) = self.memo.borrow().get(&key) {
            return Ok(m.clone());
        }
        let m = self.evaluate_range_aggregation(r, pushdown)?;
        self.memo.borrow_mut().insert(key, m.clone());
        Ok(m)
    }

    fn evaluate_range_aggregation(
        &self,
        r: &ast::RangeAggregation,
        pushdown: Option<&ast::Grouping>,
    ) -> Result<Matrix, QueryError> {
        let window = RangeWindow::new(r.range.range_nanos).with_offset(r.range.offset_nanos);
        let first = self.steps.at_ns(0);
        let last = self.steps.at_ns(self.steps.len() - 1);
        // Windows are (t - offset - range, t - offset]; storage ranges are [start, end).
        let read_start = window.bounds(first).0.saturating_add(1);
        let read_end = window.bounds(last).1.saturating_add(1);
        let grouping = r.grouping.as_ref().or(pushdown);
        let ex = SampleExtractor::compile(&r.range, r.op, grouping).map_err(compile_error)?;
        let sizes_only = SizesOnly::new(r, grouping);
        let ids = self
            .snap
            .select(&r.range.log.selector, read_start, read_end);
        self.ctx
            .streams
            .fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let op = match (r.op, r.range.unwrap.is_some()) {
            // Counted like `count_over_time`; only the bucket timestamps are used.
            (ast::RangeOp::AbsentOverTime, _) => None,
            (ast::RangeOp::CountOverTime, _) => Some(m::RangeOp::CountOverTime),
            (ast::RangeOp::Rate, false) => Some(m::RangeOp::Rate),
            (ast::RangeOp::BytesOverTime, _) => Some(m::RangeOp::BytesOverTime),
            (ast::RangeOp::BytesRate, _) => Some(m::RangeOp::BytesRate),
            (ast::RangeOp::Rate, true) => Some(m::RangeOp::UnwrappedRate),
            (ast::RangeOp::RateCounter, _) => Some(m::RangeOp::RateCounter),
            (ast::RangeOp::AvgOverTime, _) => Some(m::RangeOp::AvgOverTime),
            (ast::RangeOp::SumOverTime, _) => Some(m::RangeOp::SumOverTime),
            (ast::RangeOp::MinOverTime, _) => Some(m::RangeOp::MinOverTime),
            (ast::RangeOp::MaxOverTime, _) => Some(m::RangeOp::MaxOverTime),
            (ast::RangeOp::StdvarOverTime, _) => Some(m::RangeOp::StdvarOverTime),
            (ast::RangeOp::StddevOverTime, _) => Some(m::RangeOp::StddevOverTime),
            (ast::RangeOp::QuantileOverTime, _) => {
                Some(m::RangeOp::QuantileOverTime(r.param.unwrap_or(f64::NAN)))
            }
            (ast::RangeOp::FirstOverTime, _) => Some(m::RangeOp::FirstOverTime),
            (ast::RangeOp::LastOverTime, _) => Some(m::RangeOp::LastOverTime),
        };
        // Entry-counting functions fold entries into window-atomic buckets as they are
        // read; unwrapped ones keep every sample.
        let counting = op.is_none_or(m::RangeOp::is_log_op);
        let (snap, ctx) = (self.snap, self.ctx);
        let fold = Fold::new(window, &self.steps);
        // Small tasks taken by whichever core is free: streams differ widely in size.
        // A handful of streams (the loss-rate query selects 4 per side) go one per task
        // so both cores get some.
        let per_task = (ids.len() / 32).clamp(1, 4);
        let parts = map_tasks(&ids, per_task, |part| {
            read_samples(
                snap,
                &ex,
                (&sizes_only, &fold, counting),
                part,
                (read_start, read_end),
                ctx,
            )
        });
        let mut series: Vec<SampleSeries> = Vec::new();
        let mut counted: Vec<LogSeries> = Vec::new();
        for p in parts {
            let (s, c) = p?;
            series.extend(s);
            counted.extend(c);
        }
        let labels = series
            .iter()
            .map(|s| &s.labels)
            .chain(counted.iter().map(|s| &s.labels));
        if let Some(l) = labels.into_iter().find(|l| l.get("__error__").is_some()) {
            return Err(pipeline_error(l));
        }
        let Some(op) = op else {
            let ts = counted
                .iter()
                .flat_map(|s| s.buckets.iter().map(|b| b.ts_ns));
            return Ok(absent_over_time(
                window,
                &self.steps,
                ts,
                absent_labels(&r.range.log.selector),
            ));
        };
        if op.is_log_op() {
            debug_assert!(series.is_empty());
            Ok(log_range_aggregate(op, window, &self.steps, &counted))
        } else {
            Ok(unwrapped_range_aggregate(op, window, &self.steps, &series))
        }
    }
}

/// When a range aggregation can be answered from timestamps and line lengths alone
/// ([`Snapshot::sizes`], no line decompressed): no pipeline stage, no `unwrap`, a
/// counting function, and sample labels that structured metadata cannot change.
///
/// Loki adds an entry's structured metadata to its sample labels, and sizes do not
/// carry metadata, so the shortcut is taken only where metadata cannot matter:
/// `absent_over_time` (labels come from the selector), or a grouping `by (…)` (own or
/// pushed down from `sum`) whose names the stream's own labels all have (metadata keys
/// clashing with them become `<key>_extracted` and are dropped by the grouping). Other
/// streams take the full path.
#[derive(Debug)]
enum SizesOnly {
    Never,
    Always,
    IfStreamHas(Vec<String>),
}

impl SizesOnly {
    fn new(r: &ast::RangeAggregation, grouping: Option<&ast::Grouping>) -> SizesOnly {
        let counting = r.range.log.pipeline.is_empty() && r.range.unwrap.is_none();
        match (counting, r.op, grouping) {
            (false, _, _) => SizesOnly::Never,
            (true, ast::RangeOp::AbsentOverTime, _) => SizesOnly::Always,
            (
                true,
                ast::RangeOp::CountOverTime
                | ast::RangeOp::Rate
                | ast::RangeOp::BytesOverTime
                | ast::RangeOp::BytesRate,
                Some(ast::Grouping::By(names)),
            ) => SizesOnly::IfStreamHas(names.clone()),
            _ => SizesOnly::Never,
        }
    }

    fn applies_to(&self, stream: &Labels) -> bool {
        match self {
            SizesOnly::Never => false,
            SizesOnly::Always => true,
            SizesOnly::IfStreamHas(names) => names.iter().all(|n| stream.get(n).is_some()),
        }
    }
}

/// Loki's error for samples that still carry `__error__`.
fn pipeline_error(labels: &m::Labels) -> QueryError {
    let err = labels.get("__error__").unwrap_or_default();
    QueryError::Execution(format!(
        "pipeline error: '{err}' for series: '{labels}'.\n\
         Use a label filter to intentionally skip this error. (e.g | __error__!=\"{err}\").\n\
         To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n\
         The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )"
    ))
}

/// Reads the samples of some streams in `[start, end)`, one series per label set:
/// [`SampleSeries`] for unwrapped functions, or (`counting`) [`LogSeries`] of
/// window-atomic buckets ([`Fold`]) for the entry-counting ones.
fn read_samples(
    snap: &Snapshot,
    ex: &SampleExtractor,
    (sizes_only, fold, counting): (&SizesOnly, &Fold, bool),
    ids: &[(u32, Labels)],
    (start, end): (i64, i64),
    ctx: &Ctx,
) -> Result<(Vec<SampleSeries>, Vec<LogSeries>), QueryError> {
    let mut work = Work::default();
    let mut out: Vec<SampleSeries> = Vec::new();
    let mut counted: Vec<LogSeries> = Vec::new();
    // The open bucket's next window boundary, per `counted` series.
    let mut limits: Vec<i64> = Vec::new();
    let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
    let search_for = LineSearch::new(ex.line_filter_prefix());
    let mut candidates: Vec<u32> = Vec::new();
    let mut md_scratch: Vec<(String, String)> = Vec::new();
    for (id, labels) in ids {
        let mut sx = ex.for_stream(&result_labels(labels));
        if sizes_only.applies_to(labels) {
            let mut buckets: Vec<EntryBucket> = Vec::new();
            let mut limit = i64::MIN;
            let mut it = snap.sizes(*id, start, end, Direction::Forward);
            // A block whose span no window boundary cuts is one bucket.
            let mut whole = |lo: i64, hi: i64| hi <= fold.next_boundary(lo);
            while let Some(r) = it.next_batch(&mut whole) {
                let (n, bytes) = match r? {
                    SizeBatch::Entries { ts, lens } => {
                        let bytes = fold.push_run(&mut buckets, &mut limit, ts, lens);
                        (ts.len() as u64, bytes)
                    }
                    SizeBatch::Block {
                        min_ts,
                        max_ts,
                        entries,
                        raw_bytes,
                    } => {
                        let n = u64::from(entries);
                        fold.push_block(&mut buckets, &mut limit, (min_ts, max_ts), n, raw_bytes);
                        (n, raw_bytes)
                    }
                };
                work.size_only_lines += n;
                work.size_only_bytes += bytes;
                work.entries(ctx, n, bytes, 0)?;
            }
            ctx.add_store(&it.read_stats());
            work.post_filter_lines += buckets.iter().map(|b| b.count).sum::<u64>();
            if !buckets.is_empty() {
                counted.push(LogSeries {
                    labels: sx.stream_labels().clone(),
                    buckets,
                });
                limits.push(i64::MAX);
            }
            continue;
        }
        // Entries may end up under different label sets: index this stream's series by
        // label hash (series are per stream; equal labels merge in the aggregation).
        index.clear();
        let mut last_slot: Option<(u64, usize)> = None;
        let mut scan = SearchScan::default();
        let mut it = snap.stream_blocks(*id, start, end, Direction::Forward);
        while it.advance()? {
            let b = it.batch();
            let has_md = b.has_metadata();
            let md_bytes = if has_md {
                b.metadata_bytes_of(0, b.len())
            } else {
                0
            };
            work.entries(ctx, b.len() as u64, b.line_bytes(), md_bytes)?;
            // With a literal every kept line contains, only the lines holding it are
            // run through the pipeline (the others fail its line filters).
            let search = search_for.as_ref().filter(|_| scan.worth_it());
            let picked: &[u32] = match search {
                Some(f) => {
                    f.pick(&b, &mut candidates);
                    &candidates
                }
                None => &[],
            };
            let n = if search.is_some() {
                picked.len()
            } else {
                b.len()
            };
            let mut kept = 0;
            let searched = search.is_some();
            let order = (0..n).map(|k| if searched { picked[k] as usize } else { k });
            for (k, i) in order.enumerate() {
                // A batch from the head can hold a whole stream's unflushed entries:
                // look at the deadline and the cancel token inside it too.
                if k % CHECK_WITHIN_BATCH == CHECK_WITHIN_BATCH - 1 {
                    ctx.check()?;
                }
                let (ts, line) = (b.ts(i), b.line(i));
                let md: &[(String, String)] = if has_md {
                    b.metadata(i, &mut md_scratch)
                } else {
                    &[]
                };
                let Some((value, labels, hash)) = sx.process_with_hash(ts, line, md) else {
                    continue;
                };
                work.post_filter_lines += 1;
                kept += 1;
                if counting {
                    // Consecutive entries mostly share their labels: try the last slot
                    // before the hash index.
                    if let Some((h, slot)) = last_slot {
                        if h == hash && counted[slot].labels == *labels {
                            fold.push(
                                &mut counted[slot].buckets,
                                &mut limits[slot],
                                ts,
                                value as u64,
                            );
                            continue;
                        }
                    }
                    let slots = index.entry(hash).or_default();
                    let found = slots
                        .iter()
                        .copied()
                        .find(|&i| counted[i].labels == *labels);
                    let slot = found.unwrap_or_else(|| {
                        counted.push(LogSeries {
                            labels: labels.clone(),
                            buckets: Vec::new(),
                        });
                        limits.push(i64::MIN);
                        slots.push(counted.len() - 1);
                        counted.len() - 1
                    });
                    last_slot = Some((hash, slot));
                    fold.push(
                        &mut counted[slot].buckets,
                        &mut limits[slot],
                        ts,
                        value as u64,
                    );
                } else {
                    if let Some((h, slot)) = last_slot {
                        if h == hash && out[slot].labels == *labels {
                            out[slot].samples.push((ts, value));
                            continue;
                        }
                    }
                    let slots = index.entry(hash).or_default();
                    let found = slots.iter().copied().find(|&i| out[i].labels == *labels);
                    let slot = found.unwrap_or_else(|| {
                        out.push(SampleSeries {
                            labels: labels.clone(),
                            samples: Vec::new(),
                        });
                        slots.push(out.len() - 1);
                        out.len() - 1
                    });
                    last_slot = Some((hash, slot));
                    out[slot].samples.push((ts, value));
                }
            }
            scan.observe(search.is_some(), n, kept, b.len());
        }
        ctx.add_store(&it.read_stats());
    }
    work.flush(ctx)?;
    Ok((out, counted))
}

/// Folds time-ordered entries into as few [`EntryBucket`]s as the windows allow: an
/// entry joins the open bucket when no window boundary `b` lies in `[first entry of the
/// bucket, entry)` (the condition of [`RangeWindow::bucket_is_atomic`]); the bucket is
/// stamped with its newest entry. Every window then holds whole buckets, so counts and
/// bytes per window are unchanged while the aggregation walks a few buckets per step
/// instead of every entry. The next boundary is computed once per bucket.
struct Fold {
    /// Window start and end at the first step; boundaries repeat every step.
    firsts: [i64; 2],
    step: i64,
    steps: usize,
}

impl Fold {
    fn new(window: RangeWindow, steps: &Steps) -> Fold {
        let (s0, e0) = window.bounds(steps.start_ns());
        Fold {
            firsts: [s0, e0],
            step: steps.step_ns().max(1),
            steps: steps.len(),
        }
    }

    /// The smallest window boundary `>= x`, or `i64::MAX` when there is none.
    fn next_boundary(&self, x: i64) -> i64 {
        let step = i128::from(self.step);
        let mut best = i64::MAX;
        for first in self.firsts {
            let (first_w, x_w) = (i128::from(first), i128::from(x));
            let i = if x_w <= first_w {
                0
            } else {
                (x_w - first_w + step - 1) / step
            };
            if i < self.steps as i128 {
                let b = first_w + i * step;
                best = best.min(i64::try_from(b).unwrap_or(i64::MAX));
            }
        }
        best
    }

    /// Adds a run of time-ordered entries (`ts[i]`, `lens[i]`) a bucket at a time: the
    /// entries joining the open bucket are found by binary search and their lengths
    /// summed in one pass. Returns the run's line bytes.
    fn push_run(
        &self,
        buckets: &mut Vec<EntryBucket>,
        limit: &mut i64,
        ts: &[i64],
        lens: &[u32],
    ) -> u64 {
        let mut total = 0;
        let mut i = 0;
        while i < ts.len() {
            let joins = buckets.last().is_some() && ts[i] <= *limit;
            if !joins {
                *limit = self.next_boundary(ts[i]);
                buckets.push(EntryBucket {
                    ts_ns: ts[i],
                    count: 0,
                    bytes: 0,
                });
            }
            // `ts[i] <= limit` now, so at least one entry joins.
            let j = i + ts[i..].partition_point(|&t| t <= *limit);
            let bytes: u64 = lens[i..j].iter().map(|&l| u64::from(l)).sum();
            if let Some(b) = buckets.last_mut() {
                b.ts_ns = ts[j - 1];
                b.count += (j - i) as u64;
                b.bytes += bytes;
            }
            total += bytes;
            i = j;
        }
        total
    }

    /// Adds a whole block of `entries` entries spanning `[lo, hi]` that no window
    /// boundary cuts (`hi <= next_boundary(lo)`), as if its entries were pushed.
    fn push_block(
        &self,
        buckets: &mut Vec<EntryBucket>,
        limit: &mut i64,
        (lo, hi): (i64, i64),
        entries: u64,
        bytes: u64,
    ) {
        let joins = buckets.last().is_some() && lo <= *limit;
        if !joins {
            *limit = self.next_boundary(lo);
            buckets.push(EntryBucket {
                ts_ns: lo,
                count: 0,
                bytes: 0,
            });
        }
        if let Some(b) = buckets.last_mut() {
            b.ts_ns = hi;
            b.count += entries;
            b.bytes += bytes;
        }
    }

    /// Adds an entry; `limit` is the open bucket's next boundary.
    fn push(&self, buckets: &mut Vec<EntryBucket>, limit: &mut i64, ts: i64, bytes: u64) {
        if let Some(b) = buckets.last_mut() {
            if ts <= *limit {
                b.ts_ns = ts;
                b.count += 1;
                b.bytes += bytes;
                return;
            }
        }
        *limit = self.next_boundary(ts);
        buckets.push(EntryBucket {
            ts_ns: ts,
            count: 1,
            bytes,
        });
    }
}

/// A one-step matrix that keeps the vector's order (series are not re-sorted).
fn ordered_single_step(v: Vec<Sample>, ts_ms: i64) -> Matrix {
    v.into_iter()
        .map(|s| m::Series {
            labels: s.labels,
            points: vec![m::Point {
                ts_ms,
                value: s.value,
            }],
        })
        .collect()
}

/// The grouping a `sum` may push into its range aggregation's sample extractor: only
/// over the counting functions, which sum per series anyway.
fn pushdown(a: &ast::VectorAggregation) -> Option<ast::Grouping> {
    let MetricExpr::RangeAggregation(r) = &*a.expr else {
        return None;
    };
    let counting = matches!(
        r.op,
        ast::RangeOp::CountOverTime
            | ast::RangeOp::Rate
            | ast::RangeOp::BytesOverTime
            | ast::RangeOp::BytesRate
    ) && r.range.unwrap.is_none();
    if a.op != ast::VectorOp::Sum || !counting || r.grouping.is_some() {
        return None;
    }
    Some(a.grouping.clone().unwrap_or(ast::Grouping::By(Vec::new())))
}

fn vector_op(op: ast::VectorOp, param: Option<u64>) -> m::VectorOp {
    let k = param.map_or(0, |k| i64::try_from(k).unwrap_or(i64::MAX));
    match op {
        ast::VectorOp::Sum => m::VectorOp::Sum,
        ast::VectorOp::Avg => m::VectorOp::Avg,
        ast::VectorOp::Min => m::VectorOp::Min,
        ast::VectorOp::Max => m::VectorOp::Max,
        ast::VectorOp::Count => m::VectorOp::Count,
        ast::VectorOp::Stddev => m::VectorOp::Stddev,
        ast::VectorOp::Stdvar => m::VectorOp::Stdvar,
        ast::VectorOp::Topk => m::VectorOp::TopK(k),
        ast::VectorOp::Bottomk => m::VectorOp::BottomK(k),
        ast::VectorOp::ApproxTopk => m::VectorOp::ApproxTopK(k),
        ast::VectorOp::Sort => m::VectorOp::Sort,
        ast::VectorOp::SortDesc => m::VectorOp::SortDesc,
    }
}

fn bin_op(op: ast::BinaryOp) -> BinOp {
    match op {
        ast::BinaryOp::Add => BinOp::Add,
        ast::BinaryOp::Sub => BinOp::Sub,
        ast::BinaryOp::Mul => BinOp::Mul,
        ast::BinaryOp::Div => BinOp::Div,
        ast::BinaryOp::Mod => BinOp::Mod,
        ast::BinaryOp::Pow => BinOp::Pow,
        ast::BinaryOp::Eq => BinOp::Eq,
        ast::BinaryOp::Neq => BinOp::Ne,
        ast::BinaryOp::Gt => BinOp::Gt,
        ast::BinaryOp::Gte => BinOp::Ge,
        ast::BinaryOp::Lt => BinOp::Lt,
        ast::BinaryOp::Lte => BinOp::Le,
        ast::BinaryOp::And => BinOp::And,
        ast::BinaryOp::Or => BinOp::Or,
        ast::BinaryOp::Unless => BinOp::Unless,
    }
}

fn vector_matching(vm: Option<&ast::VectorMatching>) -> m::VectorMatching {
    let Some(vm) = vm else {
        return m::VectorMatching::default();
    };
    let (card, include) = match &vm.group {
        None => (Cardinality::OneToOne, Vec::new()),
        Some(g) => (
            match g.side {
                ast::GroupSide::Left => Cardinality::ManyToOne,
                ast::GroupSide::Right => Cardinality::OneToMany,
            },
            g.include.clone(),
        ),
    };
    m::VectorMatching {
        card,
        on: vm.on,
        labels: vm.labels.clone(),
        include,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs and whole blocks fold into the same buckets as entries pushed one by one.
    #[test]
    fn runs_and_whole_blocks_fold_like_single_entries() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for (range, step, n) in [(60, 60, 20), (300, 60, 20), (45, 17, 40), (10, 100, 5)] {
            let window = RangeWindow::new(range);
            let steps = Steps::range(100, 100 + step * (n - 1), step).unwrap();
            let fold = Fold::new(window, &steps);
            let mut ts: Vec<i64> = (0..500)
                .map(|_| rnd(step as u64 * n as u64 + 200) as i64)
                .collect();
            ts.sort_unstable();
            let lens: Vec<u32> = (0..500).map(|_| rnd(300) as u32).collect();
            let (mut want, mut limit) = (Vec::new(), i64::MIN);
            for (&t, &l) in ts.iter().zip(&lens) {
                fold.push(&mut want, &mut limit, t, u64::from(l));
            }
            // The same entries in random runs, some of them whole blocks when atomic.
            let (mut got, mut limit) = (Vec::new(), i64::MIN);
            let mut i = 0;
            while i < ts.len() {
                let j = (i + 1 + rnd(40) as usize).min(ts.len());
                let (lo, hi) = (ts[i], ts[j - 1]);
                let bytes: u64 = lens[i..j].iter().map(|&l| u64::from(l)).sum();
                if rnd(2) == 0 && hi <= fold.next_boundary(lo) {
                    fold.push_block(&mut got, &mut limit, (lo, hi), (j - i) as u64, bytes);
                } else {
                    assert_eq!(
                        fold.push_run(&mut got, &mut limit, &ts[i..j], &lens[i..j]),
                        bytes
                    );
                }
                i = j;
            }
            let key = |b: &EntryBucket| (b.ts_ns, b.count, b.bytes);
            assert_eq!(
                got.iter().map(key).collect::<Vec<_>>(),
                want.iter().map(key).collect::<Vec<_>>(),
                "range {range} step {step}"
            );
        }
    }

    /// Joining a bucket must be exactly `RangeWindow::bucket_is_atomic`.
    #[test]
    fn fold_joins_exactly_when_the_bucket_stays_atomic() {
        for (range, offset, start, step, n) in [
            (60, 0, 0, 15, 10),
            (10, 3, 7, 4, 20),
            (45, -5, 100, 60, 3),
            (5, 0, 50, 1, 1),
        ] {
            let window = RangeWindow::new(range).with_offset(offset);
            let steps = Steps::range(start, start + step * (n - 1), step).unwrap();
            let fold = Fold::new(window, &steps);
            for open in -100..300 {
                let limit = fold.next_boundary(open);
                for ts in open..open + 80 {
                    assert_eq!(
                        ts <= limit,
                        window.bucket_is_atomic(&steps, open, ts),
                        "range {range} offset {offset} steps {start}+{step}x{n}: {open}..{ts}"
                    );
                }
            }
        }
    }
}
