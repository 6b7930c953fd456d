//! Sample extraction for metric queries: one `(value, labels)` per log entry.
//!
//! # Semantics notes (Loki v3 `metrics_extraction.go`, `labels.go`, `parser_hints.go`, read)
//!
//! - `count_over_time`, `rate`, `absent_over_time` without `unwrap`: value 1.
//!   `bytes_over_time`, `bytes_rate`: the length in bytes of the line **after** the
//!   pipeline (a `line_format` changes it).
//! - `unwrap x`: after the stages, the value of label `x` is converted (`float`: Go's
//!   `ParseFloat`; `duration`/`duration_seconds`: Go's `ParseDuration`, in seconds;
//!   `bytes`: go-humanize). An absent or **empty** `x` skips the entry (no sample, no
//!   error). A failed conversion gives value 0 with `__error__="SampleExtractionErr"` and
//!   details; then the post-unwrap label filters run (`| __error__=""` drops it).
//! - Sample labels: without a grouping, or with `without (…)`, the unwrapped label is
//!   removed (Loki adds it to the `without` list); `by (…)` keeps only those labels; a
//!   sample carrying `__error__` keeps **all** its labels (grouping is not applied, so
//!   the error reaches the engine, which fails the query); `by ()` (Loki's "no labels",
//!   e.g. the pushed-down grouping of `sum(count_over_time(…))`) gives `{}`.
//! - Parser hints: when the result only needs some labels (`by (…)` non-empty, or
//!   `by ()`), a lone `| json` parser extracts only the labels the later stages, the
//!   grouping and the unwrap read, and stops once it has them; with nothing needed, a
//!   lone parser (`json`, `logfmt`, `regexp`, `pattern`; `unpack` still runs as it may
//!   rewrite the line) is skipped, as Loki does, so it sets no error. Structured metadata
//!   labels are part of the sample labels unless the grouping removes them.
//!
//! *Assumed*: Go's `Duration.Seconds()` is `secs + nanos/1e9`, which we reproduce.

use std::sync::Arc;

use super::intern::Select;
use super::label_filter::{parse_bytes_err, parse_duration_err, parse_go_float, LabelFilterExpr};
use super::stages::Hints;
use super::{labels_hash, LineFilters, Pipeline, PipelineError, StreamPipeline};
use crate::eval::labels::errors;
use crate::metric::Labels;
use crate::syntax::ast::{self, Conversion, LogRange, RangeAggregation, RangeOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Count,
    Bytes,
}

#[derive(Debug)]
struct UnwrapSpec {
    label: String,
    conversion: Conversion,
    post: Vec<LabelFilterExpr>,
}

#[derive(Debug, Clone)]
enum Group {
    All,
    By(Vec<String>),
    Without(Vec<String>),
    NoLabels,
}

impl Group {
    fn select(&self) -> Select<'_> {
        match self {
            Group::All => Select::All,
            Group::By(g) => Select::Only(g),
            Group::Without(g) => Select::Except(g),
            Group::NoLabels => Select::Only(&[]),
        }
    }

    fn apply(&self, labels: &Labels) -> Labels {
        match self {
            Group::All => labels.clone(),
            Group::By(g) => labels.keep(g),
            Group::Without(g) => labels.drop_names(g),
            Group::NoLabels => Labels::empty(),
        }
    }
}

#[derive(Debug)]
struct Compiled {
    pipeline: Pipeline,
    kind: ValueKind,
    unwrap: Option<UnwrapSpec>,
    group: Group,
    needs_lines: bool,
    labels_vary: bool,
}

/// Turns the entries of a log range (`{…} | … [5m]`, with or without `unwrap`) into
/// samples. `Send + Sync`; cloning shares it.
///
/// ```
/// use logjar_logql::eval::pipeline::SampleExtractor;
/// use logjar_logql::metric::Labels;
/// use logjar_logql::syntax::ast::MetricExpr;
///
/// let q = logjar_logql::parse(
///     r#"sum_over_time({app="api"} | logfmt | unwrap duration(took) | __error__="" [5m])"#,
/// ).unwrap();
/// let Some(MetricExpr::RangeAggregation(agg)) = q.as_metric() else { unreachable!() };
/// let ex = SampleExtractor::from_range_aggregation(agg).unwrap();
/// assert!(ex.needs_lines());
/// let mut s = ex.for_stream(&Labels::new([("app", "api")]));
/// let (v, labels) = s.process(0, b"path=/a took=1.5s", &[]).unwrap();
/// assert_eq!(v, 1.5);
/// assert_eq!(labels.to_string(), r#"{app="api", path="/a"}"#); // `took` is removed
/// assert!(s.process(0, b"path=/a took=fast", &[]).is_none()); // error, filtered out
/// assert!(s.process(0, b"path=/a", &[]).is_none()); // no value: no sample
///
/// let q = logjar_logql::parse(r#"count_over_time({app="api"}[1m])"#).unwrap();
/// let Some(MetricExpr::RangeAggregation(agg)) = q.as_metric() else { unreachable!() };
/// let ex = SampleExtractor::from_range_aggregation(agg).unwrap();
/// assert!(!ex.needs_lines() && !ex.labels_vary());
/// ```
#[derive(Debug, Clone)]
pub struct SampleExtractor {
    inner: Arc<Compiled>,
}

impl SampleExtractor {
    /// The extractor of a range aggregation, with its own `by`/`without` if any.
    pub fn from_range_aggregation(agg: &RangeAggregation) -> Result<Self, PipelineError> {
        Self::compile(&agg.range, agg.op, agg.grouping.as_ref())
    }

    /// The extractor for `op` over `range`, grouping sample labels by `grouping`.
    ///
    /// `grouping` is the range aggregation's own `by`/`without`, or a grouping the
    /// executor pushes down from an enclosing `sum` (as Loki does for `sum by (…)` over
    /// `count_over_time`, `rate`, `bytes_*`, `sum_over_time`): pass `By(vec![])` for a
    /// `sum(…)` without grouping. Grouping here only narrows labels early; applying the
    /// aggregation's grouping again later gives the same result.
    pub fn compile(
        range: &LogRange,
        op: RangeOp,
        grouping: Option<&ast::Grouping>,
    ) -> Result<Self, PipelineError> {
        let kind = match op {
            RangeOp::BytesOverTime | RangeOp::BytesRate => ValueKind::Bytes,
            _ => ValueKind::Count,
        };
        if range.unwrap.is_none() && !op.allows_no_unwrap() {
            return Err(PipelineError::new(
                op.as_str(),
                "invalid aggregation without unwrap",
            ));
        }
        if range.unwrap.is_some() && !op.allows_unwrap() {
            return Err(PipelineError::new(
                op.as_str(),
                "invalid aggregation with unwrap",
            ));
        }
        let mut group = match grouping {
            None => Group::All,
            Some(ast::Grouping::By(g)) if g.is_empty() => Group::NoLabels,
            Some(ast::Grouping::By(g)) => {
                let mut g = g.clone();
                g.sort();
                g.dedup();
                Group::By(g)
            }
            Some(ast::Grouping::Without(g)) => Group::Without(g.clone()),
        };
        let unwrap = match &range.unwrap {
            None => None,
            Some(u) => {
                let post = u
                    .post_filters
                    .iter()
                    .map(LabelFilterExpr::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                group = match group {
                    Group::All => Group::Without(vec![u.label.clone()]),
                    Group::Without(mut g) => {
                        g.push(u.label.clone());
                        Group::Without(g)
                    }
                    g => g,
                };
                Some(UnwrapSpec {
                    label: u.label.clone(),
                    conversion: u.conversion,
                    post,
                })
            }
        };
        // Parser hints: the labels the stages, the post filters, the grouping and the
        // unwrap read; a first compile (extracting everything) tells what the stages read.
        let full = Pipeline::compile(&range.log.pipeline)?;
        let hints = match &group {
            Group::All | Group::Without(_) => Hints::All,
            Group::By(_) | Group::NoLabels => {
                let mut names = full.required_labels();
                if let Some(u) = &unwrap {
                    names.push(u.label.clone());
                    for f in &u.post {
                        f.required_labels(&mut names);
                    }
                }
                if let Group::By(g) = &group {
                    names.extend(g.iter().cloned());
                }
                names.sort();
                names.dedup();
                Hints::Only(names)
            }
        };
        let pipeline = match hints {
            Hints::All => full,
            hints => Pipeline::compile_with_hints(&range.log.pipeline, &hints)?,
        };
        let no_stages = pipeline.is_filter_only() && pipeline.line_filter_prefix().is_empty();
        let needs_lines = !(no_stages && kind == ValueKind::Count && unwrap.is_none());
        let labels_vary = unwrap.is_some() || pipeline.changes_labels();
        Ok(SampleExtractor {
            inner: Arc::new(Compiled {
                pipeline,
                kind,
                unwrap,
                group,
                needs_lines,
                labels_vary,
            }),
        })
    }

    /// False when a sample's value and existence do not depend on the line at all
    /// (`count_over_time({…}[5m])`, `rate({…}[1m])` with no stage): the executor may
    /// answer from entry counts. Structured metadata still adds labels.
    pub fn needs_lines(&self) -> bool {
        self.inner.needs_lines
    }

    /// False when every sample of an entry **without structured metadata** carries the
    /// stream's (grouped) labels, [`StreamSampleExtractor::stream_labels`]: the executor
    /// may then aggregate per stream directly.
    pub fn labels_vary(&self) -> bool {
        self.inner.labels_vary
    }

    /// The leading line filters (also applied by [`StreamSampleExtractor::process`]).
    pub fn line_filter_prefix(&self) -> &LineFilters {
        self.inner.pipeline.line_filter_prefix()
    }

    /// A per-stream extractor; `stream` are the stream's labels.
    pub fn for_stream(&self, stream: &Labels) -> StreamSampleExtractor {
        let base = self.inner.group.apply(stream);
        StreamSampleExtractor {
            compiled: Arc::clone(&self.inner),
            pipeline: self.inner.pipeline.for_stream(stream),
            base_hash: labels_hash(&base),
            base,
            current: Labels::empty(),
            current_hash: 0,
        }
    }
}

/// The sample extractor of one stream. Not `Sync`; one per thread.
#[derive(Debug)]
pub struct StreamSampleExtractor {
    compiled: Arc<Compiled>,
    pipeline: StreamPipeline,
    /// The stream labels after grouping.
    base: Labels,
    base_hash: u64,
    current: Labels,
    current_hash: u64,
}

impl StreamSampleExtractor {
    /// Moves to another stream, keeping the buffers.
    pub fn set_stream(&mut self, stream: &Labels) {
        if stream == self.pipeline.stream_labels() {
            return;
        }
        self.pipeline.set_stream(stream);
        self.base = self.compiled.group.apply(stream);
        self.base_hash = labels_hash(&self.base);
    }

    /// The labels of samples whose labels did not change (see
    /// [`SampleExtractor::labels_vary`]): the stream labels after grouping.
    pub fn stream_labels(&self) -> &Labels {
        &self.base
    }

    /// The sample of one entry, or `None` when the pipeline drops it or (with `unwrap`)
    /// the label is absent or empty.
    pub fn process(
        &mut self,
        ts_ns: i64,
        line: &[u8],
        metadata: &[(String, String)],
    ) -> Option<(f64, &Labels)> {
        self.process_with_hash(ts_ns, line, metadata)
            .map(|(v, l, _)| (v, l))
    }

    /// Like [`process`](Self::process), also returning [`labels_hash`] of the labels.
    pub fn process_with_hash(
        &mut self,
        ts_ns: i64,
        line: &[u8],
        metadata: &[(String, String)],
    ) -> Option<(f64, &Labels, u64)> {
        let c = &*self.compiled;
        let sp = &mut self.pipeline;
        if !sp.compiled.prefix.matches(line) {
            return None;
        }
        if sp.compiled.ops.is_empty() && metadata.is_empty() && c.unwrap.is_none() {
            let v = match c.kind {
                ValueKind::Count => 1.0,
                ValueKind::Bytes => line.len() as f64,
            };
            return Some((v, &self.base, self.base_hash));
        }
        let rewritten = sp.run(ts_ns, line, metadata)?;
        let value = match &c.unwrap {
            None => match c.kind {
                ValueKind::Count => 1.0,
                ValueKind::Bytes => sp.current_line(line, rewritten).len() as f64,
            },
            Some(u) => {
                let raw = match sp.builder.get(&u.label) {
                    None | Some("") => return None,
                    Some(v) => v,
                };
                let (v, err) = match convert(u.conversion, raw) {
                    Ok(v) => (v, None),
                    Err(e) => (0.0, Some(e)),
                };
                if let Some(details) = err {
                    sp.builder.set_error(errors::SAMPLE_EXTRACTION);
                    sp.builder.set_error_details(&details);
                }
                for f in &u.post {
                    if !f.eval(&mut sp.builder) {
                        return None;
                    }
                }
                v
            }
        };
        if sp.builder.has_error() {
            let (l, h) = sp.interner.intern(&sp.builder, Select::All);
            self.current = l;
            self.current_hash = h;
        } else if match &c.group {
            Group::NoLabels => true,
            // The kept labels are the stream's: the grouped stream labels.
            Group::By(g) => sp.builder.unchanged_for(g),
            Group::All | Group::Without(_) => sp.builder.is_unchanged(),
        } {
            return Some((value, &self.base, self.base_hash));
        } else {
            let (l, h) = sp.interner.intern(&sp.builder, c.group.select());
            self.current = l;
            self.current_hash = h;
        }
        Some((value, &self.current, self.current_hash))
    }
}

/// Converts an unwrapped value; the error is Go's message.
fn convert(conversion: Conversion, raw: &str) -> Result<f64, String> {
    match conversion {
        Conversion::Float => parse_go_float(raw),
        Conversion::Duration | Conversion::DurationSeconds => {
            let ns = parse_duration_err(raw)?;
            let secs = ns / 1_000_000_000;
            let nanos = ns % 1_000_000_000;
            Ok(secs as f64 + nanos as f64 / 1e9)
        }
        Conversion::Bytes => parse_bytes_err(raw).map(|b| b as f64),
    }
}
