//! Evaluation building blocks of a LogQL log pipeline, independent of the AST.
//!
//! Each module is one kind of pipeline stage, built once per query and then applied to
//! every entry without per-entry heap allocation where that is possible:
//!
//! | module | stage |
//! | --- | --- |
//! | [`labels`] | the per-entry label set every stage reads and writes ([`LabelsBuilder`]) |
//! | [`json`] | `\| json` and `\| json a="x.y[0]"` |
//! | [`logfmt`] | `\| logfmt`, `--strict`, `--keep-empty`, `\| logfmt a, b="c"` |
//! | [`pattern`] | `\| pattern "<ip> - <_> ..."` and the `\|>` / `!>` line filters |
//! | [`regexp`] | `\| regexp "(?P<name>...)"` |
//! | [`linefilter`] | `\|=`, `!=`, `\|~`, `!~`, `or` chains, pattern and `ip()` filters |
//! | [`ip`] | `ip("…")` matchers for line and label filters |
//! | [`decolorize`] | `\| decolorize` |
//! | [`template`] | Go `text/template` for `line_format` and `label_format` |
//! | [`pipeline`] | the whole pipeline compiled from the AST, and metric sample extraction |
//!
//! The reference for every behaviour is Grafana Loki v3 (`pkg/logql/log`); each module
//! starts with notes on the semantics it follows and which of them were assumed.

pub mod decolorize;
pub mod ip;
pub mod json;
pub mod labels;
pub mod linefilter;
pub mod logfmt;
pub mod pattern;
pub mod pipeline;
pub mod regexp;
pub mod template;

pub use labels::{LabelCategory, LabelsBuilder};

/// Why a stage could not be built from its query text (an invalid regex, a pattern
/// without captures, a bad json path…). The message follows Loki's wording where known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StageError(pub String);

impl StageError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        StageError(msg.into())
    }
}
