//! Log pipelines: line filters, parsers, label filters, formatting stages and `unwrap`.

use super::{PResult, Parser};
use crate::matcher::MatchOp;
use crate::syntax::ast::{
    CmpOp, Conversion, LabelExtraction, LabelFilter, LabelFormat, LabelFormatValue, LabelSelection,
    LineFilter, LineFilterOp, LineFilterValue, LogfmtParser, Stage, Unwrap,
};
use crate::syntax::check::{check_ip, check_regex, check_regexp_parser};
use crate::syntax::json_path::parse_json_path;
use crate::syntax::pattern::{validate_filter_pattern, validate_parser_pattern};
use crate::syntax::span::Span;
use crate::syntax::token::Tok;

/// The words that start a pipeline stage after `|` (unless a comparison operator follows,
/// which makes the word a label name: `| json="x"` filters on a label called `json`).
pub(crate) const STAGE_KEYWORDS: [&str; 11] = [
    "json",
    "logfmt",
    "regexp",
    "pattern",
    "unpack",
    "line_format",
    "label_format",
    "drop",
    "keep",
    "decolorize",
    "unwrap",
];

/// Stages that take no argument: after them `!=` / `!~` start a line filter, as in Loki
/// (`| json != "x"`), rather than making the word a label name.
const BARE_STAGES: [&str; 4] = ["json", "logfmt", "unpack", "decolorize"];

/// A parsed pipeline and, when present, the `unwrap` that ended it (with its position).
pub(super) struct Pipeline {
    pub stages: Vec<Stage>,
    pub unwrap: Option<(Unwrap, Span)>,
}

impl Parser<'_> {
    /// Zero or more stages; stops at the first token that cannot continue a pipeline.
    pub(super) fn parse_pipeline(&mut self) -> PResult<Pipeline> {
        let mut stages = Vec::new();
        let mut unwrap: Option<(Unwrap, Span)> = None;
        loop {
            let t = self.peek().clone();
            if let Some(op) = line_filter_op(&t.kind) {
                if unwrap.is_some() {
                    return Err(self.error(
                        t.span,
                        "only label filters may follow | unwrap, found a line filter",
                    ));
                }
                self.bump();
                stages.push(Stage::LineFilter(self.parse_line_filter(op)?));
                continue;
            }
            if t.kind != Tok::Pipe {
                break;
            }
            self.bump();
            let keyword = self.stage_keyword();
            if let Some((u, _)) = &mut unwrap {
                if let Some(kw) = keyword {
                    let span = self.peek().span;
                    return Err(self.error(
                        span,
                        format!("only label filters may follow | unwrap, found | {kw}"),
                    ));
                }
                u.post_filters.push(self.parse_label_filter()?);
                continue;
            }
            match keyword {
                Some("unwrap") => {
                    let start = self.bump().span;
                    let u = self.parse_unwrap_body()?;
                    unwrap = Some((u, self.span_from(start)));
                }
                Some(kw) => {
                    self.bump();
                    stages.push(self.parse_stage(kw)?);
                }
                None => stages.push(Stage::LabelFilter(self.parse_label_filter()?)),
            }
        }
        Ok(Pipeline { stages, unwrap })
    }

    /// The stage keyword at the next token, if it is one in this position.
    fn stage_keyword(&self) -> Option<&'static str> {
        let t = self.peek();
        if t.kind != Tok::Ident {
            return None;
        }
        let text = self.text(t);
        let kw = STAGE_KEYWORDS
            .into_iter()
            .find(|k| k.eq_ignore_ascii_case(text))?;
        let next = &self.peek_n(1).kind;
        let line_filter_next = matches!(next, Tok::Neq | Tok::Nre);
        let is_label = next.is_comparison() && !(line_filter_next && BARE_STAGES.contains(&kw));
        (!is_label).then_some(kw)
    }

    /// The rest of a stage after its keyword.
    fn parse_stage(&mut self, kw: &str) -> PResult<Stage> {
        Ok(match kw {
            "json" => Stage::Json(self.parse_extractions(true)?),
            "logfmt" => Stage::Logfmt(self.parse_logfmt()?),
            "regexp" => {
                let (re, span) = self.expect_string("the regex of the regexp parser, in quotes")?;
                check_regexp_parser(&re).map_err(|m| self.error(span, m))?;
                Stage::Regexp(re)
            }
            "pattern" => {
                let (pat, span) = self.expect_string("the pattern, in quotes")?;
                validate_parser_pattern(&pat).map_err(|m| self.error(span, m))?;
                Stage::Pattern(pat)
            }
            "unpack" => Stage::Unpack,
            "decolorize" => Stage::Decolorize,
            "line_format" => {
                Stage::LineFormat(self.expect_string("the line_format template, in quotes")?.0)
            }
            "label_format" => Stage::LabelFormat(self.parse_label_formats()?),
            "drop" => Stage::Drop(self.parse_label_selections()?),
            _ => Stage::Keep(self.parse_label_selections()?),
        })
    }

    /// `| json`'s / `| logfmt`'s optional field list: `a, b="path"`. For `json`
    /// (`json_paths`), each path must be a valid JSON path.
    fn parse_extractions(&mut self, json_paths: bool) -> PResult<Vec<LabelExtraction>> {
        let mut out = Vec::new();
        if !self.at(&Tok::Ident) {
            return Ok(out);
        }
        loop {
            let (label, label_span) = self.expect_ident("a label name")?;
            let (expression, span) = if self.at(&Tok::Eq) {
                self.bump();
                self.expect_string("the field's path or key, in quotes")?
            } else {
                (label.clone(), label_span)
            };
            if json_paths {
                parse_json_path(&expression).map_err(|m| {
                    self.error(span, format!("invalid JSON path {expression:?}: {m}"))
                })?;
            }
            out.push(LabelExtraction { label, expression });
            if !self.at(&Tok::Comma) {
                return Ok(out);
            }
            self.bump();
        }
    }

    fn parse_logfmt(&mut self) -> PResult<LogfmtParser> {
        let mut p = LogfmtParser::default();
        while self.at(&Tok::Flag) {
            let t = self.bump();
            match self.text(&t) {
                "--strict" => p.strict = true,
                "--keep-empty" => p.keep_empty = true,
                other => {
                    return Err(self.error(
                        t.span,
                        format!("unknown logfmt flag {other:?}; expected --strict or --keep-empty"),
                    ))
                }
            }
        }
        p.fields = self.parse_extractions(false)?;
        Ok(p)
    }

    /// `dst=src` or `dst="template"`, comma-separated; each destination once.
    fn parse_label_formats(&mut self) -> PResult<Vec<LabelFormat>> {
        let mut out: Vec<LabelFormat> = Vec::new();
        loop {
            let (dst, dst_span) = self.expect_ident("a label name to format")?;
            self.expect(Tok::Eq, "\"=\"")?;
            let value = match &self.peek().kind {
                Tok::Str(_) => LabelFormatValue::Template(self.expect_string("a template")?.0),
                Tok::Ident => LabelFormatValue::Rename(self.expect_ident("a label name")?.0),
                _ => {
                    return Err(self.err_expected("a label name to rename or a template in quotes"))
                }
            };
            if out.iter().any(|f| f.dst == dst) {
                return Err(self.error(
                    dst_span,
                    format!("label_format sets label {dst:?} more than once"),
                ));
            }
            out.push(LabelFormat { dst, value });
            if !self.at(&Tok::Comma) {
                return Ok(out);
            }
            self.bump();
        }
    }

    /// `drop` / `keep` arguments: `a, b="v", c=~"re"`.
    fn parse_label_selections(&mut self) -> PResult<Vec<LabelSelection>> {
        let mut out = Vec::new();
        loop {
            if self.at(&Tok::Ident)
                && matches!(self.peek_n(1).kind, Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre)
            {
                out.push(LabelSelection::Matcher(self.parse_matcher()?));
            } else {
                out.push(LabelSelection::Name(self.expect_ident("a label name")?.0));
            }
            if !self.at(&Tok::Comma) {
                return Ok(out);
            }
            self.bump();
        }
    }

    /// After `unwrap`: `label` or `bytes(label)`, `duration(label)`, `duration_seconds(label)`.
    fn parse_unwrap_body(&mut self) -> PResult<Unwrap> {
        let conversion = if self.peek_n(1).kind == Tok::LParen {
            let conv = [
                ("bytes", Conversion::Bytes),
                ("duration", Conversion::Duration),
                ("duration_seconds", Conversion::DurationSeconds),
            ]
            .into_iter()
            .find(|(name, _)| self.at_kw(name));
            match conv {
                Some((_, c)) => {
                    self.bump();
                    self.bump();
                    c
                }
                None => {
                    return Err(self.err_expected(
                        "a label name, or bytes(…), duration(…) or duration_seconds(…)",
                    ))
                }
            }
        } else {
            Conversion::Float
        };
        let (label, _) = self.expect_ident("the label to unwrap")?;
        if conversion != Conversion::Float {
            self.expect(Tok::RParen, "\")\"")?;
        }
        Ok(Unwrap {
            label,
            conversion,
            post_filters: Vec::new(),
        })
    }

    // ---- line filters ----------------------------------------------------------------

    /// After the operator: a value, then `or value` repeated.
    fn parse_line_filter(&mut self, op: LineFilterOp) -> PResult<LineFilter> {
        let mut values = vec![self.parse_line_filter_value(op)?];
        while self.at_kw("or")
            && (matches!(self.peek_n(1).kind, Tok::Str(_))
                || (self.kw_at(1, "ip") && self.peek_n(2).kind == Tok::LParen))
        {
            self.bump();
            values.push(self.parse_line_filter_value(op)?);
        }
        Ok(LineFilter { op, values })
    }

    fn parse_line_filter_value(&mut self, op: LineFilterOp) -> PResult<LineFilterValue> {
        if self.at_kw("ip") && self.peek_n(1).kind == Tok::LParen {
            let start = self.bump().span;
            self.bump();
            let (addr, span) =
                self.expect_string("an IP address, range or CIDR block in quotes")?;
            self.expect(Tok::RParen, "\")\"")?;
            if !matches!(op, LineFilterOp::Contains | LineFilterOp::NotContains) {
                return Err(self.error(
                    start,
                    format!(
                        "ip() line filters work only with |= and !=, not {}",
                        op.as_str()
                    ),
                ));
            }
            check_ip(&addr).map_err(|m| self.error(span, m))?;
            return Ok(LineFilterValue::Ip(addr));
        }
        let (text, span) =
            self.expect_string("a string in double quotes or backticks, or ip(\"…\")")?;
        match op {
            LineFilterOp::Regex | LineFilterOp::NotRegex => {
                check_regex(&text).map_err(|m| self.error(span, m))?;
            }
            LineFilterOp::Pattern | LineFilterOp::NotPattern => {
                validate_filter_pattern(&text).map_err(|m| self.error(span, m))?;
            }
            LineFilterOp::Contains | LineFilterOp::NotContains => {}
        }
        Ok(LineFilterValue::Text(text))
    }

    // ---- label filters ---------------------------------------------------------------

    /// `a or b`, where each side is an `and` chain; `and` binds tighter.
    pub(super) fn parse_label_filter(&mut self) -> PResult<LabelFilter> {
        let mut items = vec![self.parse_label_filter_and()?];
        while self.at_kw("or") && !self.peek_n(1).kind.is_comparison() {
            self.bump();
            items.push(self.parse_label_filter_and()?);
        }
        Ok(collapse(items, LabelFilter::Or))
    }

    /// Filters joined by `and`, `,` or just a space.
    fn parse_label_filter_and(&mut self) -> PResult<LabelFilter> {
        let mut items = vec![self.parse_label_filter_primary()?];
        loop {
            let next = &self.peek_n(1).kind;
            if self.at(&Tok::Comma) || (self.at_kw("and") && !next.is_comparison()) {
                self.bump();
            } else if !((self.at(&Tok::Ident) && next.is_comparison()) || self.at(&Tok::LParen)) {
                break;
            }
            items.push(self.parse_label_filter_primary()?);
        }
        Ok(collapse(items, LabelFilter::And))
    }

    fn parse_label_filter_primary(&mut self) -> PResult<LabelFilter> {
        if self.at(&Tok::LParen) {
            self.enter()?;
            self.bump();
            let inner = self.parse_label_filter()?;
            self.expect(Tok::RParen, "\")\" closing the label filter")?;
            self.leave();
            return Ok(inner);
        }
        let (name, _) =
            self.expect_ident("a label filter such as level=\"error\" or status >= 500")?;
        let op_tok = self.peek().clone();
        let cmp = match op_tok.kind {
            Tok::Eq | Tok::Neq => {
                let neg = op_tok.kind == Tok::Neq;
                self.bump();
                if matches!(self.peek().kind, Tok::Str(_)) {
                    let (value, span) = self.expect_string("a string")?;
                    let op = if neg { MatchOp::Neq } else { MatchOp::Eq };
                    return Ok(LabelFilter::Matcher(
                        self.make_matcher(name, op, value, span)?,
                    ));
                }
                if self.at_kw("ip") && self.peek_n(1).kind == Tok::LParen {
                    self.bump();
                    self.bump();
                    let (pattern, span) =
                        self.expect_string("an IP address, range or CIDR block in quotes")?;
                    self.expect(Tok::RParen, "\")\"")?;
                    check_ip(&pattern).map_err(|m| self.error(span, m))?;
                    return Ok(LabelFilter::Ip {
                        name,
                        negated: neg,
                        pattern,
                    });
                }
                if neg {
                    CmpOp::Neq
                } else {
                    CmpOp::Eq
                }
            }
            Tok::Re | Tok::Nre => {
                self.bump();
                let (value, span) = self.expect_string("a regex in quotes")?;
                let op = if op_tok.kind == Tok::Re {
                    MatchOp::Re
                } else {
                    MatchOp::Nre
                };
                return Ok(LabelFilter::Matcher(
                    self.make_matcher(name, op, value, span)?,
                ));
            }
            Tok::EqEq => CmpOp::Eq,
            Tok::Gt => CmpOp::Gt,
            Tok::Gte => CmpOp::Gte,
            Tok::Lt => CmpOp::Lt,
            Tok::Lte => CmpOp::Lte,
            _ => {
                return Err(
                    self.err_expected("a comparison operator (=, !=, =~, !~, ==, >, >=, <, <=)")
                )
            }
        };
        if !matches!(op_tok.kind, Tok::Eq | Tok::Neq) {
            self.bump();
        }
        self.parse_filter_value(name, cmp)
    }

    /// The number, duration or byte size a label is compared with (sign allowed).
    fn parse_filter_value(&mut self, name: String, op: CmpOp) -> PResult<LabelFilter> {
        let sign_span = self.peek().span;
        let negative = match self.peek().kind {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        let filter = match self.peek().kind {
            Tok::Number(v) => LabelFilter::Number {
                name,
                op,
                value: if negative { -v } else { v },
            },
            Tok::Duration(d) => LabelFilter::Duration {
                name,
                op,
                nanos: if negative { -d } else { d },
            },
            Tok::Bytes(b) if !negative => LabelFilter::Bytes { name, op, bytes: b },
            Tok::Bytes(_) => {
                return Err(self.error(sign_span, "a byte size cannot be negative"));
            }
            Tok::Str(_) if op == CmpOp::Eq => {
                return Err(self.err_expected(
                    "a number, duration or byte size after == (compare strings with =)",
                ))
            }
            _ => {
                return Err(self.err_expected(
                    "a number, a duration such as 250ms, or a byte size such as 10KB",
                ))
            }
        };
        self.bump();
        Ok(filter)
    }
}

/// One item stays itself; several are combined with `make`.
fn collapse(mut items: Vec<LabelFilter>, make: fn(Vec<LabelFilter>) -> LabelFilter) -> LabelFilter {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    make(items)
}

fn line_filter_op(kind: &Tok) -> Option<LineFilterOp> {
    Some(match kind {
        Tok::PipeExact => LineFilterOp::Contains,
        Tok::Neq => LineFilterOp::NotContains,
        Tok::PipeMatch => LineFilterOp::Regex,
        Tok::Nre => LineFilterOp::NotRegex,
        Tok::PipePattern => LineFilterOp::Pattern,
        Tok::NotPattern => LineFilterOp::NotPattern,
        _ => return None,
    })
}
