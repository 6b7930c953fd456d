//! The compiled form of each pipeline stage and how one entry goes through it.
//!
//! # Semantics notes (Loki v3 `pipeline.go`, `fmt.go`, `drop_labels.go`, `keep_labels.go`,
//! `parser.go`, read)
//!
//! - Stages run in order; a stage that rejects the entry ends processing.
//! - `line_format`: the template sees every current label (including `__error__`),
//!   `__line__` and `__timestamp__`; on a run-time error the entry gets
//!   `__error__="TemplateFormatErr"` + details and keeps its line unchanged.
//! - `label_format`: assignments run in order. A rename `dst=src` copies `src` (keeping its
//!   category) to `dst` and deletes `src`; a missing `src` does nothing. Templates see a
//!   snapshot of the labels taken when the stage's **first template** runs (renames before
//!   it are visible, later assignments are not); the result is a parsed label; a run-time
//!   error sets `TemplateFormatErr` and skips that assignment.
//! - `drop name` removes a label (`drop __error__` clears the error); `drop name="v"`
//!   removes it only when the matcher matches its value (absent = `""`).
//! - `keep` removes every label not listed (or whose value fails the listed matcher);
//!   `__error__` and `__error_details__` always stay.
//! - `unpack`: a line that does not start with `{` gets `JSONParserErr`; string fields
//!   become labels only when the object has an `_entry` field, whose value replaces the
//!   line; other value types are ignored.
//!
//! *Difference*: a rename whose source is a stream label and whose destination is not
//! one stores the destination as a parsed label, so it shows in the result as in Loki
//! v3.0 (later Loki versions drop it).

use super::label_filter::LabelFilterExpr;
use super::PipelineError;
use crate::eval::decolorize::decolorize;
use crate::eval::json::JsonParser;
use crate::eval::labels::{
    errors, sanitize_label_key, LabelCategory, LabelsBuilder, DUPLICATE_SUFFIX,
    ERROR_DETAILS_LABEL, ERROR_LABEL,
};
use crate::eval::linefilter::LineFilter as EvalLineFilter;
use crate::eval::logfmt::LogfmtParser;
use crate::eval::pattern::Pattern;
use crate::eval::regexp::RegexpParser;
use crate::eval::template::{Template, TemplateContext};
use crate::matcher::LabelMatcher;
use crate::syntax::ast::{self, LabelFormatValue, LineFilterOp, LineFilterValue, Stage};

/// A line filter stage: one `|= "a" or "b"` chain.
#[derive(Debug, Clone)]
pub(crate) enum LineStage {
    /// Every value of the same kind: one filter built by the eval module.
    Single(EvalLineFilter),
    /// Text and `ip()` values mixed: positive parts, then the stage's negation.
    Mixed {
        parts: Vec<EvalLineFilter>,
        negated: bool,
    },
}

impl LineStage {
    pub(crate) fn compile(f: &ast::LineFilter) -> Result<Self, PipelineError> {
        let err = |e: crate::eval::StageError| {
            PipelineError::new(format!("line filter {}", f.op.as_str()), e.0)
        };
        let texts: Vec<&str> = f
            .values
            .iter()
            .filter_map(|v| match v {
                LineFilterValue::Text(t) => Some(t.as_str()),
                LineFilterValue::Ip(_) => None,
            })
            .collect();
        let ips: Vec<&str> = f
            .values
            .iter()
            .filter_map(|v| match v {
                LineFilterValue::Ip(p) => Some(p.as_str()),
                LineFilterValue::Text(_) => None,
            })
            .collect();
        let text_filter = |op: LineFilterOp| -> Result<EvalLineFilter, PipelineError> {
            match op {
                LineFilterOp::Contains => Ok(EvalLineFilter::contains(&texts)),
                LineFilterOp::NotContains => Ok(EvalLineFilter::not_contains(&texts)),
                LineFilterOp::Regex => EvalLineFilter::regex(&texts).map_err(err),
                LineFilterOp::NotRegex => EvalLineFilter::not_regex(&texts).map_err(err),
                LineFilterOp::Pattern => EvalLineFilter::pattern(&texts).map_err(err),
                LineFilterOp::NotPattern => EvalLineFilter::not_pattern(&texts).map_err(err),
            }
        };
        let negated = f.op.is_negative();
        if ips.is_empty() {
            return Ok(LineStage::Single(text_filter(f.op)?));
        }
        if texts.is_empty() {
            let ip = if negated {
                EvalLineFilter::not_ip(&ips)
            } else {
                EvalLineFilter::ip(&ips)
            };
            return Ok(LineStage::Single(ip.map_err(err)?));
        }
        let positive = match f.op {
            LineFilterOp::NotContains => LineFilterOp::Contains,
            LineFilterOp::NotRegex => LineFilterOp::Regex,
            LineFilterOp::NotPattern => LineFilterOp::Pattern,
            op => op,
        };
        let parts = vec![
            text_filter(positive)?,
            EvalLineFilter::ip(&ips).map_err(err)?,
        ];
        Ok(LineStage::Mixed { parts, negated })
    }

    #[inline]
    pub(crate) fn matches(&self, line: &[u8]) -> bool {
        match self {
            LineStage::Single(f) => f.matches(line),
            LineStage::Mixed { parts, negated } => {
                parts.iter().any(|p| p.matches(line)) != *negated
            }
        }
    }

    pub(crate) fn required_literal(&self) -> Option<&[u8]> {
        match self {
            LineStage::Single(f) => f.required_literal(),
            LineStage::Mixed { .. } => None,
        }
    }

    pub(crate) fn required_regex(&self) -> Option<&regex::bytes::Regex> {
        match self {
            LineStage::Single(f) => f.required_regex(),
            LineStage::Mixed { .. } => None,
        }
    }
}

/// A `drop`/`keep` selection.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    Name(String),
    Matcher(LabelMatcher),
}

/// One `label_format` assignment.
#[derive(Debug, Clone)]
pub(crate) enum Format {
    Rename { dst: String, src: String },
    Template { dst: String, tmpl: Template },
}

/// A parser stage; parsers hold per-entry buffers, so each stream pipeline owns copies.
#[derive(Debug, Clone)]
pub(crate) enum Parser {
    Json(JsonParser),
    Logfmt(LogfmtParser),
    Regexp(RegexpParser),
    Pattern(Pattern),
    Unpack,
    /// A parser whose output no later consumer needs (sample extraction without labels):
    /// Loki's "no labels" hint skips it.
    Skip,
}

/// A compiled stage.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Line(LineStage),
    /// Index into the stream pipeline's parser list.
    Parse(usize),
    LabelFilter(LabelFilterExpr),
    LineFormat(Template),
    LabelFormat(Vec<Format>),
    Drop(Vec<Selection>),
    Keep(Vec<Selection>),
    Decolorize,
}

impl Op {
    /// Whether the stage can change the label set (a skipped parser cannot).
    pub(crate) fn changes_labels(&self, parsers: &[Parser]) -> bool {
        match self {
            Op::Line(_) | Op::Decolorize => false,
            Op::Parse(i) => !matches!(parsers.get(*i), Some(Parser::Skip)),
            Op::LabelFilter(f) => f.can_set_error(),
            Op::LineFormat(_) | Op::LabelFormat(_) | Op::Drop(_) | Op::Keep(_) => true,
        }
    }

    /// Whether the stage can rewrite the line.
    pub(crate) fn changes_line(&self, parsers: &[Parser]) -> bool {
        match self {
            Op::LineFormat(_) | Op::Decolorize => true,
            Op::Parse(i) => matches!(parsers.get(*i), Some(Parser::Unpack)),
            _ => false,
        }
    }

    /// Label names the stage reads (Loki's `RequiredLabelNames`, for parser hints).
    pub(crate) fn required_labels(&self, out: &mut Vec<String>) {
        match self {
            Op::LabelFilter(f) => f.required_labels(out),
            Op::LineFormat(t) => out.extend(t.referenced_labels()),
            Op::LabelFormat(fs) => {
                for f in fs {
                    match f {
                        Format::Rename { src, .. } => out.push(src.clone()),
                        Format::Template { tmpl, .. } => out.extend(tmpl.referenced_labels()),
                    }
                }
            }
            Op::Drop(sel) | Op::Keep(sel) => {
                for s in sel {
                    if let Selection::Matcher(m) = s {
                        out.push(m.name().to_string());
                    }
                }
            }
            Op::Line(_) | Op::Parse(_) | Op::Decolorize => {}
        }
    }
}

/// How parsers may be narrowed (Loki's parser hints, used for sample extraction only:
/// a log query returns every extracted label).
#[derive(Debug, Clone)]
pub(crate) enum Hints {
    /// Extract everything.
    All,
    /// Only these labels are read later; an empty list means no label at all is needed.
    Only(Vec<String>),
}

/// Compiles the stages; returns the ops and the parser prototypes.
pub(crate) fn compile_stages(
    stages: &[Stage],
    hints: &Hints,
) -> Result<(Vec<Op>, Vec<Parser>), PipelineError> {
    let mut ops = Vec::with_capacity(stages.len());
    let mut parsers = Vec::new();
    let single_parser = stages.iter().filter(|s| s.is_parser()).count() == 1;
    // Loki's "no labels" hint: nothing reads a label, so a lone parser is not run (unpack
    // still runs: it may rewrite the line).
    let skip_parser = single_parser && matches!(hints, Hints::Only(n) if n.is_empty());
    for (i, stage) in stages.iter().enumerate() {
        let at = |what: &str| format!("stage {} ({what})", i + 1);
        let op = match stage {
            Stage::LineFilter(f) => Op::Line(LineStage::compile(f)?),
            Stage::Json(_) | Stage::Logfmt(_) | Stage::Regexp(_) | Stage::Pattern(_)
                if skip_parser =>
            {
                // Still validate the stage, as the query would be rejected otherwise.
                compile_stages(std::slice::from_ref(stage), &Hints::All)
                    .map_err(|e| PipelineError::new(at(stage_name(stage)), e.message))?;
                parsers.push(Parser::Skip);
                Op::Parse(parsers.len() - 1)
            }
            Stage::Json(params) => {
                let p = if params.is_empty() {
                    match hints {
                        Hints::Only(names) if single_parser => {
                            Parser::Json(JsonParser::with_needed_keys(names.iter().cloned()))
                        }
                        _ => Parser::Json(JsonParser::new()),
                    }
                } else {
                    let pairs: Vec<(&str, &str)> = params
                        .iter()
                        .map(|p| (p.label.as_str(), p.expression.as_str()))
                        .collect();
                    Parser::Json(
                        JsonParser::with_params(&pairs)
                            .map_err(|e| PipelineError::new(at("json"), e.0))?,
                    )
                };
                parsers.push(p);
                Op::Parse(parsers.len() - 1)
            }
            Stage::Logfmt(l) => {
                let p = if l.fields.is_empty() {
                    Parser::Logfmt(LogfmtParser::new(l.strict, l.keep_empty))
                } else {
                    let pairs: Vec<(&str, &str)> = l
                        .fields
                        .iter()
                        .map(|p| (p.label.as_str(), p.expression.as_str()))
                        .collect();
                    Parser::Logfmt(
                        LogfmtParser::with_params(l.strict, l.keep_empty, &pairs)
                            .map_err(|e| PipelineError::new(at("logfmt"), e.0))?,
                    )
                };
                parsers.push(p);
                Op::Parse(parsers.len() - 1)
            }
            Stage::Regexp(re) => {
                let p = RegexpParser::new(re).map_err(|e| PipelineError::new(at("regexp"), e.0))?;
                parsers.push(Parser::Regexp(p));
                Op::Parse(parsers.len() - 1)
            }
            Stage::Pattern(pat) => {
                let p = Pattern::new(pat).map_err(|e| PipelineError::new(at("pattern"), e.0))?;
                parsers.push(Parser::Pattern(p));
                Op::Parse(parsers.len() - 1)
            }
            Stage::Unpack => {
                parsers.push(Parser::Unpack);
                Op::Parse(parsers.len() - 1)
            }
            Stage::LabelFilter(f) => Op::LabelFilter(LabelFilterExpr::compile(f)?),
            Stage::LineFormat(src) => Op::LineFormat(
                Template::parse(src)
                    .map_err(|e| PipelineError::new(at("line_format"), e.to_string()))?,
            ),
            Stage::LabelFormat(fmts) => {
                let mut out = Vec::with_capacity(fmts.len());
                for (k, f) in fmts.iter().enumerate() {
                    if f.dst == ERROR_LABEL {
                        return Err(PipelineError::new(
                            at("label_format"),
                            format!("{ERROR_LABEL} cannot be formatted"),
                        ));
                    }
                    if fmts[..k].iter().any(|g| g.dst == f.dst) {
                        return Err(PipelineError::new(
                            at("label_format"),
                            format!(
                                "multiple label name '{}' not allowed in a single format operation",
                                f.dst
                            ),
                        ));
                    }
                    out.push(match &f.value {
                        LabelFormatValue::Rename(src) => Format::Rename {
                            dst: f.dst.clone(),
                            src: src.clone(),
                        },
                        LabelFormatValue::Template(t) => Format::Template {
                            dst: f.dst.clone(),
                            tmpl: Template::parse_named("label", t).map_err(|e| {
                                PipelineError::new(at("label_format"), e.to_string())
                            })?,
                        },
                    });
                }
                Op::LabelFormat(out)
            }
            Stage::Drop(sel) => Op::Drop(selections(sel)),
            Stage::Keep(sel) => Op::Keep(selections(sel)),
            Stage::Decolorize => Op::Decolorize,
        };
        ops.push(op);
    }
    Ok((ops, parsers))
}

fn stage_name(stage: &Stage) -> &'static str {
    match stage {
        Stage::Json(_) => "json",
        Stage::Logfmt(_) => "logfmt",
        Stage::Regexp(_) => "regexp",
        Stage::Pattern(_) => "pattern",
        _ => "stage",
    }
}

fn selections(sel: &[ast::LabelSelection]) -> Vec<Selection> {
    sel.iter()
        .map(|s| match s {
            ast::LabelSelection::Name(n) => Selection::Name(n.clone()),
            ast::LabelSelection::Matcher(m) => Selection::Matcher(m.clone()),
        })
        .collect()
}

/// Reusable buffers of one stream pipeline.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The current line when a stage rewrote it.
    pub(crate) line: Vec<u8>,
    /// Where the next rewrite is built (swapped with `line`).
    pub(crate) next: Vec<u8>,
    /// Template output.
    pub(crate) text: String,
    /// `label_format` snapshot of the labels.
    pub(crate) snapshot: Vec<(String, String)>,
    /// Values copied out of the builder before it is modified.
    pub(crate) value: String,
    /// Names scheduled for deletion by `keep`.
    pub(crate) names: Vec<String>,
}

/// Runs `ops` over one entry. The line starts as `input`; when a stage rewrites it, the
/// new line is in `scratch.line` and `*rewritten` is set. Returns false when the entry
/// is dropped.
pub(crate) fn run(
    ops: &[Op],
    parsers: &mut [Parser],
    lbs: &mut LabelsBuilder,
    scratch: &mut Scratch,
    rewritten: &mut bool,
    ts_ns: i64,
    input: &[u8],
) -> bool {
    for op in ops {
        let line: &[u8] = if *rewritten { &scratch.line } else { input };
        match op {
            Op::Line(f) => {
                if !f.matches(line) {
                    return false;
                }
            }
            Op::Parse(i) => {
                if let Some(p) = parsers.get_mut(*i) {
                    if parse(p, line, lbs, &mut scratch.next) {
                        std::mem::swap(&mut scratch.line, &mut scratch.next);
                        *rewritten = true;
                    }
                }
            }
            Op::LabelFilter(f) => {
                if !f.eval(lbs) {
                    return false;
                }
            }
            Op::LineFormat(t) => {
                scratch.text.clear();
                let ctx = TemplateContext {
                    labels: &*lbs,
                    line,
                    ts_ns,
                };
                match t.render(&ctx, &mut scratch.text) {
                    Ok(()) => {
                        scratch.next.clear();
                        scratch.next.extend_from_slice(scratch.text.as_bytes());
                        std::mem::swap(&mut scratch.line, &mut scratch.next);
                        *rewritten = true;
                    }
                    Err(e) => {
                        lbs.set_error(errors::TEMPLATE_FORMAT);
                        lbs.set_error_details(&e.to_string());
                    }
                }
            }
            Op::LabelFormat(fmts) => {
                let bufs = FormatBufs {
                    snapshot: &mut scratch.snapshot,
                    text: &mut scratch.text,
                    value: &mut scratch.value,
                };
                label_format(fmts, lbs, bufs, line, ts_ns);
            }
            Op::Drop(sel) => drop_labels(sel, lbs),
            Op::Keep(sel) => keep_labels(sel, lbs, &mut scratch.names),
            Op::Decolorize => {
                if let std::borrow::Cow::Owned(v) = decolorize(line) {
                    scratch.next.clear();
                    scratch.next.extend_from_slice(&v);
                    std::mem::swap(&mut scratch.line, &mut scratch.next);
                    *rewritten = true;
                }
            }
        }
    }
    true
}

/// Runs a parser. Returns true when it wrote a new line into `next` (unpack).
fn parse(p: &mut Parser, line: &[u8], lbs: &mut LabelsBuilder, next: &mut Vec<u8>) -> bool {
    match p {
        Parser::Json(j) => j.parse(line, lbs),
        Parser::Logfmt(l) => l.parse(line, lbs),
        Parser::Regexp(r) => r.parse(line, lbs),
        Parser::Pattern(pat) => pat.parse(line, lbs),
        Parser::Skip => {}
        Parser::Unpack => return unpack(line, lbs, next),
    }
    false
}

/// `| unpack`; returns true when the line was replaced by `_entry` (written to `next`).
fn unpack(line: &[u8], lbs: &mut LabelsBuilder, next: &mut Vec<u8>) -> bool {
    if line.is_empty() {
        return false;
    }
    if line[0] != b'{' {
        lbs.set_error(errors::JSON_PARSER);
        lbs.set_error_details("expecting json object(6), but it is not");
        return false;
    }
    let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(line) {
        Ok(o) => o,
        Err(e) => {
            lbs.set_error(errors::JSON_PARSER);
            lbs.set_error_details(&e.to_string());
            return false;
        }
    };
    let Some(serde_json::Value::String(entry)) = obj.get("_entry") else {
        return false;
    };
    for (k, v) in &obj {
        if k == "_entry" {
            continue;
        }
        if let serde_json::Value::String(s) = v {
            let mut name = sanitize_label_key(k.as_bytes(), true).into_owned();
            if name.is_empty() {
                continue;
            }
            if lbs.base_has(&name) {
                name.push_str(DUPLICATE_SUFFIX);
            }
            lbs.set_parsed(&name, s);
        }
    }
    next.clear();
    next.extend_from_slice(entry.as_bytes());
    true
}

/// The buffers `label_format` uses (disjoint from the current line).
struct FormatBufs<'a> {
    snapshot: &'a mut Vec<(String, String)>,
    text: &'a mut String,
    value: &'a mut String,
}

fn label_format(
    fmts: &[Format],
    lbs: &mut LabelsBuilder,
    scratch: FormatBufs<'_>,
    line: &[u8],
    ts_ns: i64,
) {
    let mut snapshot_taken = false;
    for f in fmts {
        match f {
            Format::Rename { dst, src } => {
                let Some((v, cat)) = lbs.get_with_category(src) else {
                    continue;
                };
                scratch.value.clear();
                scratch.value.push_str(v);
                let cat = if cat == LabelCategory::Stream && !lbs.base_has(dst) {
                    LabelCategory::Parsed
                } else {
                    cat
                };
                lbs.set(cat, dst, scratch.value);
                lbs.delete(src);
            }
            Format::Template { dst, tmpl } => {
                if !snapshot_taken {
                    lbs.write_sorted(scratch.snapshot);
                    snapshot_taken = true;
                }
                scratch.text.clear();
                let ctx = TemplateContext {
                    labels: &*scratch.snapshot,
                    line,
                    ts_ns,
                };
                match tmpl.render(&ctx, scratch.text) {
                    Ok(()) => lbs.set_parsed(dst, scratch.text),
                    Err(e) => {
                        lbs.set_error(errors::TEMPLATE_FORMAT);
                        lbs.set_error_details(&e.to_string());
                    }
                }
            }
        }
    }
}

fn drop_labels(sel: &[Selection], lbs: &mut LabelsBuilder) {
    for s in sel {
        match s {
            Selection::Name(n) => lbs.delete(n),
            Selection::Matcher(m) => {
                if m.matches(lbs.get(m.name()).unwrap_or("")) {
                    lbs.delete(m.name());
                }
            }
        }
    }
}

fn keep_labels(sel: &[Selection], lbs: &mut LabelsBuilder, doomed: &mut Vec<String>) {
    let mut n_doomed = 0;
    lbs.for_each(|name, value| {
        if name == ERROR_LABEL || name == ERROR_DETAILS_LABEL {
            return;
        }
        let keep = sel.iter().any(|s| match s {
            Selection::Name(k) => k == name,
            Selection::Matcher(m) => m.name() == name && m.matches(value),
        });
        if !keep {
            if n_doomed < doomed.len() {
                doomed[n_doomed].clear();
                doomed[n_doomed].push_str(name);
            } else {
                doomed.push(name.to_string());
            }
            n_doomed += 1;
        }
    });
    for name in &doomed[..n_doomed] {
        lbs.delete(name);
    }
}
