//! The log pipeline compiler: turns a query's [`Stage`]s into a runnable per-entry
//! processor, and ([`sample`]) the sample extractor of metric queries.
//!
//! ```text
//! Pipeline::compile(&log_expr.pipeline)     once per query; Send + Sync, cheap to clone
//!   └─ .for_stream(&stream_labels)          once per stream (or .set_stream to reuse)
//!        └─ .process(ts, line, metadata)    once per entry → line + result labels
//! ```
//!
//! The result labels are what Loki v3's default (non-categorised) response puts in each
//! entry's stream: stream labels, structured metadata and extracted labels together,
//! including `__error__`/`__error_details__`. The executor groups entries into result
//! streams by them; [`ProcessedEntry::labels_hash`] is a cheap key for that (confirm
//! with `Labels` equality on a hash hit).
//!
//! Result labels are a [`Labels`], which drops labels with an empty value (as Loki does
//! when its HTTP layer parses a result stream's labels back, and as Prometheus does).
//!
//! # Semantics notes (Loki v3, read in `pkg/logql/log`)
//!
//! The detailed notes, with what was confirmed in Loki's source and what is assumed, are
//! at the top of `label_filter.rs`, `stages.rs` and [`sample`]. In short:
//!
//! - Order: reset the builder, add the structured metadata (a name clashing with a
//!   stream label becomes `<name>_extracted`), run the stages in order, stop at the first
//!   that drops the entry (`streamPipeline.Process`).
//! - Parsers: as in [`crate::eval`]'s modules. A log query extracts every label a parser
//!   finds, since all of them are returned; only sample extraction narrows parsers to the
//!   labels it needs (Loki's parser hints exist for metric queries only). Without hints,
//!   a pipeline that starts with parsers and label filters first runs a probe with the
//!   parsers narrowed exactly (same walk, same errors) to the labels those filters read,
//!   and builds every label only for the entries the probe keeps: results are the same.
//! - Label filters: `and` evaluates both sides, `or` stops at the first that passes.
//!   String matchers treat an absent label as `""` and read `__error__` too, so
//!   `| __error__=""` drops failed entries. Regexes are anchored, except Loki's literal
//!   simplifications (`.*`/empty always match, `.+` means non-empty, `foo.*`, `.*foo`,
//!   `.*foo.*` are substring tests, and in an alternation of literals the branches Go's
//!   parser factors by a common prefix are substring tests: `=~"web-1|web-10"` matches
//!   `web-11`). Numeric / duration / bytes comparisons fail on an
//!   absent label; a value that does not convert **passes** and sets
//!   `__error__="LabelFilterErr"` (unless an error is already set). `ip()` filters pass
//!   entries that already have an error and fail on an absent label.
//! - `line_format`: renders with every label, `__line__` and `__timestamp__`; a run-time
//!   error sets `TemplateFormatErr` and keeps the line.
//! - `label_format`: in order; a rename moves the value (keeping its category) and
//!   deletes the source; templates see the labels as they were at the stage's first
//!   template; an error sets `TemplateFormatErr` and skips that assignment.
//! - `drop` / `keep` with names or matchers; `keep` never removes `__error__` and
//!   `__error_details__`; `drop __error__` clears the error.

mod intern;
mod label_filter;
mod label_regex;
pub mod sample;
mod stages;

use std::sync::Arc;

pub use intern::labels_hash;
pub use sample::{SampleExtractor, StreamSampleExtractor};

use crate::eval::labels::LabelsBuilder;
use crate::metric::Labels;
use crate::syntax::ast::Stage;
use intern::{Interner, Select};
use stages::{Hints, LineStage, Op, Parser, Scratch};

/// Why a pipeline could not be compiled: which stage, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct PipelineError {
    /// The stage, e.g. `stage 2 (line_format)`.
    pub stage: String,
    /// What is wrong (Loki's wording where known).
    pub message: String,
}

impl PipelineError {
    pub(crate) fn new(stage: impl Into<String>, message: impl Into<String>) -> Self {
        PipelineError {
            stage: stage.into(),
            message: message.into(),
        }
    }
}

/// The leading run of line filters of a pipeline: an executor may apply them before any
/// label work (and skip blocks lacking [`LineFilters::required_literal`]).
#[derive(Debug, Clone, Default)]
pub struct LineFilters {
    stages: Vec<LineStage>,
}

impl LineFilters {
    /// True when there is no leading line filter.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Number of line filter stages.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// True if the line passes every filter.
    #[inline]
    pub fn matches(&self, line: &[u8]) -> bool {
        self.stages.iter().all(|s| s.matches(line))
    }

    /// The longest byte string every passing line must contain, if any.
    pub fn required_literal(&self) -> Option<&[u8]> {
        self.stages
            .iter()
            .filter_map(LineStage::required_literal)
            .max_by_key(|l| l.len())
    }

    /// A regex every passing line must match, searchable over lines joined end to end
    /// ([`block_searchable`](crate::eval::linefilter::block_searchable)): the first
    /// such `|~` filter, if any.
    pub fn required_regex(&self) -> Option<&regex::bytes::Regex> {
        self.stages.iter().find_map(LineStage::required_regex)
    }
}

#[derive(Debug)]
struct Compiled {
    prefix: LineFilters,
    /// The stages after the prefix.
    ops: Vec<Op>,
    /// Parser prototypes, cloned into each stream pipeline.
    parsers: Vec<Parser>,
    changes_labels: bool,
    changes_line: bool,
    /// A cheaper first pass that drops most entries the label filters drop.
    probe: Option<Probe>,
}

/// The probe of a pipeline whose leading stages are parsers and filters
/// (`| json | status >= 500 | …`): the same stages up to the last label filter of that
/// run, with each `json`/`logfmt` parser narrowed to the labels the filters read
/// ([`JsonParser::with_needed_keys_exact`](crate::eval::json::JsonParser::with_needed_keys_exact)),
/// which walk the line as the full parsers do. Every label a filter of the run reads,
/// and the error state, are then exactly what the full pipeline has at that stage, so
/// an entry the probe drops is one the full pipeline drops: only entries it keeps pay
/// for every label. (It may keep an entry the full pipeline drops; the full pipeline
/// decides.)
#[derive(Debug)]
struct Probe {
    ops: Vec<Op>,
    /// Parser prototypes of `ops` (indices are into this list).
    parsers: Vec<Parser>,
}

impl Probe {
    /// The probe of `ops` (the stages after the line-filter prefix), if one would save
    /// work: a prunable parser followed by a label filter.
    fn build(ops: &[Op], parsers: &[Parser]) -> Option<Probe> {
        let run = ops
            .iter()
            .take_while(|o| match o {
                Op::Line(_) | Op::LabelFilter(_) => true,
                Op::Parse(i) => matches!(
                    parsers.get(*i),
                    Some(
                        Parser::Json(_)
                            | Parser::Logfmt(_)
                            | Parser::Regexp(_)
                            | Parser::Pattern(_)
                    )
                ),
                _ => false,
            })
            .count();
        let last_filter = ops[..run]
            .iter()
            .rposition(|o| matches!(o, Op::LabelFilter(_)))?;
        let run = &ops[..=last_filter];
        let mut needed = Vec::new();
        for op in run {
            op.required_labels(&mut needed);
        }
        needed.sort();
        needed.dedup();
        let mut probe_parsers = Vec::new();
        let mut pruned_any = false;
        let mut probe_ops = Vec::with_capacity(run.len());
        for op in run {
            probe_ops.push(match op {
                Op::Parse(i) => {
                    let p = parsers.get(*i)?;
                    let pruned = match p {
                        Parser::Json(j) => j.exact_pruned(needed.iter().cloned()).map(Parser::Json),
                        Parser::Logfmt(l) => {
                            l.exact_pruned(needed.iter().cloned()).map(Parser::Logfmt)
                        }
                        _ => None,
                    };
                    pruned_any |= pruned.is_some();
                    probe_parsers.push(pruned.unwrap_or_else(|| p.clone()));
                    Op::Parse(probe_parsers.len() - 1)
                }
                op => op.clone(),
            });
        }
        pruned_any.then_some(Probe {
            ops: probe_ops,
            parsers: probe_parsers,
        })
    }
}

/// Entries between two checks of a stream's probe pass rate.
const PROBE_WINDOW: u32 = 1024;

/// A compiled log pipeline. `Send + Sync`; cloning shares it.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Compiled>,
}

impl Pipeline {
    /// Compiles a query's stages, validating what the parser could not (templates,
    /// json paths, logfmt expressions, patterns, `ip()` arguments) and building every
    /// matcher and parser once.
    ///
    /// ```
    /// use logjar_logql::eval::pipeline::Pipeline;
    /// use logjar_logql::metric::Labels;
    ///
    /// let q = logjar_logql::parse(r#"{app="api"} |= "GET" | logfmt | status >= 500"#).unwrap();
    /// let pipeline = Pipeline::compile(&q.as_log().unwrap().pipeline).unwrap();
    /// assert_eq!(pipeline.line_filter_prefix().len(), 1);
    ///
    /// let mut stream = pipeline.for_stream(&Labels::new([("app", "api")]));
    /// assert!(stream.process(0, b"method=GET status=200", &[]).is_none());
    /// let e = stream.process(0, b"method=GET status=503", &[]).unwrap();
    /// assert_eq!(e.labels.to_string(), r#"{app="api", method="GET", status="503"}"#);
    ///
    /// let bad = logjar_logql::parse(r#"{app="api"} | line_format "{{ .a | nope }}""#).unwrap();
    /// let err = Pipeline::compile(&bad.as_log().unwrap().pipeline).unwrap_err();
    /// assert!(err.to_string().starts_with("stage 1 (line_format)"), "{err}");
    /// ```
    pub fn compile(stages: &[Stage]) -> Result<Pipeline, PipelineError> {
        Self::compile_with_hints(stages, &Hints::All)
    }

    pub(crate) fn compile_with_hints(
        stages: &[Stage],
        hints: &Hints,
    ) -> Result<Pipeline, PipelineError> {
        let (ops, parsers) = stages::compile_stages(stages, hints)?;
        let n_prefix = ops.iter().take_while(|o| matches!(o, Op::Line(_))).count();
        let mut ops = ops;
        let rest = ops.split_off(n_prefix);
        let prefix = LineFilters {
            stages: ops
                .into_iter()
                .filter_map(|o| match o {
                    Op::Line(l) => Some(l),
                    _ => None,
                })
                .collect(),
        };
        let changes_labels = rest.iter().any(|o| o.changes_labels(&parsers));
        let changes_line = rest.iter().any(|o| o.changes_line(&parsers));
        // With hints the parsers are narrowed already.
        let probe = match hints {
            Hints::All => Probe::build(&rest, &parsers),
            Hints::Only(_) => None,
        };
        Ok(Pipeline {
            inner: Arc::new(Compiled {
                prefix,
                ops: rest,
                parsers,
                changes_labels,
                changes_line,
                probe,
            }),
        })
    }

    /// The leading line filters (also applied by [`StreamPipeline::process`]).
    pub fn line_filter_prefix(&self) -> &LineFilters {
        &self.inner.prefix
    }

    /// True when the pipeline has only line filters (or nothing): entries keep their line
    /// and, without structured metadata, their stream labels.
    pub fn is_filter_only(&self) -> bool {
        self.inner.ops.is_empty()
    }

    /// True when some stage may change an entry's labels (parsers, formatters, drop/keep,
    /// typed label filters that can set `__error__`). Entries with structured metadata
    /// get extra labels regardless.
    pub fn changes_labels(&self) -> bool {
        self.inner.changes_labels
    }

    /// True when some stage may rewrite the line (`line_format`, `decolorize`, `unpack`).
    pub fn changes_line(&self) -> bool {
        self.inner.changes_line
    }

    /// Label names read by the stages after the prefix (Loki's `RequiredLabelNames`).
    pub(crate) fn required_labels(&self) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.inner.ops {
            op.required_labels(&mut out);
        }
        out
    }

    /// A processor for the entries of one stream; `stream` are its labels.
    pub fn for_stream(&self, stream: &Labels) -> StreamPipeline {
        let mut builder = LabelsBuilder::new();
        builder.set_stream(&to_pairs(stream));
        StreamPipeline {
            compiled: Arc::clone(&self.inner),
            parsers: self.inner.parsers.clone(),
            probe_parsers: self
                .inner
                .probe
                .as_ref()
                .map(|p| p.parsers.clone())
                .unwrap_or_default(),
            probing: self.inner.probe.is_some(),
            probed: 0,
            probe_kept: 0,
            builder,
            stream: stream.clone(),
            stream_hash: labels_hash(stream),
            current: Labels::empty(),
            scratch: Scratch::default(),
            interner: Interner::default(),
        }
    }
}

fn to_pairs(labels: &Labels) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// One entry after the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct ProcessedEntry<'a> {
    /// The line: the input line itself unless a stage rewrote it.
    pub line: &'a [u8],
    /// The entry's result labels (see the module docs).
    pub labels: &'a Labels,
    /// [`labels_hash`] of `labels`, computed without hashing them again.
    pub labels_hash: u64,
}

/// The pipeline of one stream: owns the parser state and buffers, so entries are
/// processed without allocating once warmed up. Not `Sync`; one per thread.
#[derive(Debug)]
pub struct StreamPipeline {
    compiled: Arc<Compiled>,
    parsers: Vec<Parser>,
    /// The probe's parsers (empty without a probe).
    probe_parsers: Vec<Parser>,
    /// Whether the probe runs: it is turned off for the stream when it keeps most
    /// entries (then it only adds work).
    probing: bool,
    /// Entries probed and kept by the probe in the current window.
    probed: u32,
    probe_kept: u32,
    builder: LabelsBuilder,
    stream: Labels,
    stream_hash: u64,
    /// The last result label set when it differs from the stream's.
    current: Labels,
    scratch: Scratch,
    interner: Interner,
}

impl StreamPipeline {
    /// Moves to another stream, keeping the buffers.
    pub fn set_stream(&mut self, stream: &Labels) {
        if *stream == self.stream {
            return;
        }
        self.builder.set_stream(&to_pairs(stream));
        self.stream = stream.clone();
        self.stream_hash = labels_hash(stream);
        self.interner.clear();
        self.probing = self.compiled.probe.is_some();
        self.probed = 0;
        self.probe_kept = 0;
    }

    /// The stream's labels.
    pub fn stream_labels(&self) -> &Labels {
        &self.stream
    }

    /// Runs the whole pipeline over one entry; `None` when a stage drops it.
    ///
    /// `metadata` is the entry's structured metadata. The returned line borrows `line`
    /// when no stage rewrote it.
    ///
    /// ```
    /// use logjar_logql::eval::pipeline::Pipeline;
    /// use logjar_logql::metric::Labels;
    ///
    /// let q = logjar_logql::parse(
    ///     r#"{app="api"} | json | level="error" | line_format "{{.status}} {{.msg}}""#,
    /// ).unwrap();
    /// let p = Pipeline::compile(&q.as_log().unwrap().pipeline).unwrap();
    /// let mut s = p.for_stream(&Labels::new([("app", "api")]));
    /// let meta = vec![("trace_id".to_string(), "t1".to_string())];
    /// let e = s.process(7, br#"{"level":"error","status":502,"msg":"bad gateway"}"#, &meta).unwrap();
    /// assert_eq!(e.line, b"502 bad gateway");
    /// assert_eq!(
    ///     e.labels.to_string(),
    ///     r#"{app="api", level="error", msg="bad gateway", status="502", trace_id="t1"}"#
    /// );
    /// assert!(s.process(8, br#"{"level":"info"}"#, &[]).is_none());
    /// ```
    pub fn process<'a>(
        &'a mut self,
        ts_ns: i64,
        line: &'a [u8],
        metadata: &[(String, String)],
    ) -> Option<ProcessedEntry<'a>> {
        if !self.compiled.prefix.matches(line) {
            return None;
        }
        self.process_after_prefix(ts_ns, line, metadata)
    }

    /// Like [`process`](Self::process), for a line that already passed
    /// [`Pipeline::line_filter_prefix`].
    pub fn process_after_prefix<'a>(
        &'a mut self,
        ts_ns: i64,
        line: &'a [u8],
        metadata: &[(String, String)],
    ) -> Option<ProcessedEntry<'a>> {
        if self.compiled.ops.is_empty() && metadata.is_empty() {
            return Some(ProcessedEntry {
                line,
                labels: &self.stream,
                labels_hash: self.stream_hash,
            });
        }
        let rewritten = self.run(ts_ns, line, metadata)?;
        let out_line: &[u8] = if rewritten { &self.scratch.line } else { line };
        if self.builder.is_unchanged() {
            return Some(ProcessedEntry {
                line: out_line,
                labels: &self.stream,
                labels_hash: self.stream_hash,
            });
        }
        let (labels, hash) = self.interner.intern(&self.builder, Select::All);
        self.current = labels;
        Some(ProcessedEntry {
            line: out_line,
            labels: &self.current,
            labels_hash: hash,
        })
    }

    /// Resets the builder, adds the metadata and runs the stages after the prefix.
    /// `Some(rewritten)` when the entry is kept.
    fn run(&mut self, ts_ns: i64, line: &[u8], metadata: &[(String, String)]) -> Option<bool> {
        if self.probing {
            if let Some(probe) = &self.compiled.probe {
                self.builder.reset();
                if !metadata.is_empty() {
                    self.builder.add_structured_metadata(metadata);
                }
                let mut rewritten = false;
                let kept = stages::run(
                    &probe.ops,
                    &mut self.probe_parsers,
                    &mut self.builder,
                    &mut self.scratch,
                    &mut rewritten,
                    ts_ns,
                    line,
                );
                self.probed += 1;
                self.probe_kept += u32::from(kept);
                if self.probed >= PROBE_WINDOW {
                    // Keeping more than half the entries, the probe costs more than it
                    // saves.
                    self.probing = self.probe_kept <= self.probed / 2;
                    self.probed = 0;
                    self.probe_kept = 0;
                }
                if !kept {
                    return None;
                }
            }
        }
        self.builder.reset();
        if !metadata.is_empty() {
            self.builder.add_structured_metadata(metadata);
        }
        let mut rewritten = false;
        stages::run(
            &self.compiled.ops,
            &mut self.parsers,
            &mut self.builder,
            &mut self.scratch,
            &mut rewritten,
            ts_ns,
            line,
        )
        .then_some(rewritten)
    }

    /// The line after [`run`](Self::run).
    fn current_line<'a>(&'a self, input: &'a [u8], rewritten: bool) -> &'a [u8] {
        if rewritten {
            &self.scratch.line
        } else {
            input
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Pipeline {
        /// The same pipeline without its probe.
        fn without_probe(&self) -> Pipeline {
            let c = &*self.inner;
            Pipeline {
                inner: Arc::new(Compiled {
                    prefix: c.prefix.clone(),
                    ops: c.ops.clone(),
                    parsers: c.parsers.clone(),
                    changes_labels: c.changes_labels,
                    changes_line: c.changes_line,
                    probe: None,
                }),
            }
        }
    }

    /// The probe never changes a result: every entry gets the same line and labels (or
    /// is dropped) with and without it, on lines made to trip a pruned parse
    /// (duplicates, malformed nested objects and tails, keys that set the error).
    #[test]
    fn probe_gives_the_full_pipelines_results() {
        let queries = [
            r#"{a="b"} | json | status >= 500"#,
            r#"{a="b"} | json | status >= 500 or level="error""#,
            r#"{a="b"} | json | __error__="" | status > 1"#,
            r#"{a="b"} | json | __error__!="" or status > 1"#,
            r#"{a="b"} | json | addr = ip("10.0.0.0/8")"#,
            r#"{a="b"} | json | host="h1""#,
            r#"{a="b"} | json | status_extracted > 1"#,
            r#"{a="b"} | logfmt | duration > 100ms"#,
            r#"{a="b"} | logfmt --strict | __error__!="" or status=~"5..""#,
            r#"{a="b"} | logfmt --keep-empty | status="""#,
            r#"{a="b"} | json | logfmt | status >= 500 | line_format "{{.msg}}""#,
            r#"{a="b"} | json | status >= 500 |= "x" | level != "info" | drop msg"#,
            r#"{a="b"} | regexp "(?P<status>\\d+)" | json | status > 2"#,
            r#"{a="b"} | json status | status > 2 | logfmt | level="x""#,
            r#"{a="b"} | pattern "<_> <status>" | status > 1 | json"#,
            r#"{a="b"} | json | bytes > 1KB | json"#,
        ];
        let lines: &[&[u8]] = &[
            br#"{"status":500,"level":"error","msg":"x","addr":"10.1.2.3"}"#,
            br#"{"status":200,"level":"info","msg":"m"}"#,
            br#"{"status":500,"a":{"b" 1},"status":200}"#,
            br#"{"status":200,"a":{"b":{"c" 1}},"status":500}"#,
            br#"{"status":503,"msg":"m","status":200,"tail":"#,
            br#"{"status":"abc","addr":"bad"}"#,
            br#"{"status":600,"__error__":"from line","addr":"10.0.0.1"}"#,
            br#"{"status":5,"a\qb":"bad key escape","level":"x"}"#,
            br#"{"host":"h1","status":501,"bytes":"2KB"}"#,
            b"status=503 duration=250ms msg=x level=x status=200",
            b"status=200 duration=5s bad\"pair level=x",
            b"status=504 duration=fast __error__=e",
            b"status= duration=101ms",
            b"10 7 status=503",
            b"",
            b"not json",
        ];
        let meta = [("status".to_string(), "550".to_string())];
        let stream = crate::metric::Labels::new([("a", "b"), ("host", "h0")]);
        let mut probed = 0;
        for q in queries {
            let expr = crate::parse(q).unwrap();
            let p = Pipeline::compile(&expr.as_log().unwrap().pipeline).unwrap();
            probed += usize::from(p.inner.probe.is_some());
            let plain = p.without_probe();
            let (mut with, mut without) = (p.for_stream(&stream), plain.for_stream(&stream));
            for line in lines {
                for md in [&[][..], &meta[..]] {
                    let a = with
                        .process(0, line, md)
                        .map(|e| (e.line.to_vec(), e.labels.clone(), e.labels_hash));
                    let b = without
                        .process(0, line, md)
                        .map(|e| (e.line.to_vec(), e.labels.clone(), e.labels_hash));
                    assert_eq!(a, b, "{q} on {:?}", String::from_utf8_lossy(line));
                }
            }
        }
        // every query but the one whose only parser has parameters has a probe
        assert_eq!(probed, queries.len() - 1);
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn pipeline_is_send_sync() {
        assert_send_sync::<Pipeline>();
        assert_send_sync::<SampleExtractor>();
        fn assert_send<T: Send>() {}
        assert_send::<StreamPipeline>();
        assert_send::<StreamSampleExtractor>();
    }
}
