//! Expressions: log queries at the top, range and vector aggregations, binary operators
//! (precedence climbing), literals, `vector()` and `label_replace()`.

use super::pipeline::Pipeline;
use super::{PResult, Parser, MAX_DEPTH};
use crate::syntax::ast::{
    BinaryExpr, BinaryModifier, BinaryOp, Expr, GroupModifier, GroupSide, Grouping, LabelReplace,
    LogExpr, LogRange, MetricExpr, RangeAggregation, RangeOp, Unwrap, VectorAggregation,
    VectorMatching, VectorOp,
};
use crate::syntax::check::{check_regex, is_label_name};
use crate::syntax::span::Span;
use crate::syntax::token::Tok;
use crate::units::parse_range_duration;

/// A log query read inside a range aggregation, before or after its range.
enum LogOrRange {
    /// No range yet (it may follow a closing parenthesis).
    Log(LogExpr, Option<(Unwrap, Span)>, Span),
    Range(LogRange),
}

impl Parser<'_> {
    /// A whole expression: operands joined by binary operators.
    pub(super) fn parse_expr(&mut self) -> PResult<Expr> {
        Ok(self.parse_binary(0)?.0)
    }

    /// Precedence climbing. Returns the expression and its span.
    fn parse_binary(&mut self, min_prec: u8) -> PResult<(Expr, Span)> {
        let (mut lhs, mut lhs_span) = self.parse_unary()?;
        while let Some(op) = self.peek_binary_op() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_span = self.bump().span;
            if let Expr::Log(_) = lhs {
                return Err(self.error(
                    op_span,
                    format!(
                        "unexpected {:?} after a log query: binary operators need metric \
                         queries such as rate({{…}}[5m]) on both sides",
                        op.as_str()
                    ),
                ));
            }
            let modifier = self.parse_modifier(op)?;
            let next_min = if op.is_right_assoc() { prec } else { prec + 1 };
            self.enter()?;
            let (rhs, rhs_span) = self.parse_binary(next_min)?;
            self.leave();
            let span = lhs_span.to(rhs_span);
            lhs = Expr::Metric(self.make_binary(
                op,
                op_span,
                modifier,
                (lhs, lhs_span),
                (rhs, rhs_span),
            )?);
            lhs_span = span;
        }
        Ok((lhs, lhs_span))
    }

    fn peek_binary_op(&self) -> Option<BinaryOp> {
        Some(match self.peek().kind {
            Tok::Add => BinaryOp::Add,
            Tok::Sub => BinaryOp::Sub,
            Tok::Mul => BinaryOp::Mul,
            Tok::Div => BinaryOp::Div,
            Tok::Mod => BinaryOp::Mod,
            Tok::Pow => BinaryOp::Pow,
            Tok::EqEq => BinaryOp::Eq,
            Tok::Neq => BinaryOp::Neq,
            Tok::Gt => BinaryOp::Gt,
            Tok::Gte => BinaryOp::Gte,
            Tok::Lt => BinaryOp::Lt,
            Tok::Lte => BinaryOp::Lte,
            Tok::Ident if self.at_kw("and") => BinaryOp::And,
            Tok::Ident if self.at_kw("or") => BinaryOp::Or,
            Tok::Ident if self.at_kw("unless") => BinaryOp::Unless,
            _ => return None,
        })
    }

    /// `bool`, `on (…)` / `ignoring (…)`, `group_left (…)` / `group_right (…)`.
    fn parse_modifier(&mut self, op: BinaryOp) -> PResult<BinaryModifier> {
        let mut m = BinaryModifier::default();
        if self.at_kw("bool") {
            let t = self.bump();
            if !op.is_comparison() {
                return Err(self.error(
                    t.span,
                    format!(
                        "bool modifier can only be used on comparison operators, not {}",
                        op.as_str()
                    ),
                ));
            }
            m.return_bool = true;
        }
        let on = if self.at_kw("on") {
            true
        } else if self.at_kw("ignoring") {
            false
        } else {
            if self.at_kw("group_left") || self.at_kw("group_right") {
                return Err(self.error(
                    self.peek().span,
                    "group_left/group_right must follow on (…) or ignoring (…)",
                ));
            }
            return Ok(m);
        };
        self.bump();
        let labels = self.parse_label_list()?;
        let side = if self.at_kw("group_left") {
            Some(GroupSide::Left)
        } else if self.at_kw("group_right") {
            Some(GroupSide::Right)
        } else {
            None
        };
        let group = match side {
            Some(side) => {
                let t = self.bump();
                if op.is_set() {
                    return Err(self.error(
                        t.span,
                        format!("no grouping allowed for \"{}\" operation", op.as_str()),
                    ));
                }
                let include = if self.at(&Tok::LParen) {
                    self.parse_label_list()?
                } else {
                    Vec::new()
                };
                Some(GroupModifier { side, include })
            }
            None => None,
        };
        m.matching = Some(VectorMatching { on, labels, group });
        Ok(m)
    }

    /// Checks both operands are metric queries of acceptable kinds and builds the node.
    fn make_binary(
        &self,
        op: BinaryOp,
        op_span: Span,
        modifier: BinaryModifier,
        (lhs, lhs_span): (Expr, Span),
        (rhs, rhs_span): (Expr, Span),
    ) -> PResult<MetricExpr> {
        let side = |e: Expr, span: Span, which: &str| match e {
            Expr::Metric(m) => Ok(m),
            Expr::Log(_) => Err(self.error(
                span,
                format!(
                    "the {which} side of {} is a log query; binary operators need metric queries \
                     such as rate({{…}}[5m])",
                    op.as_str()
                ),
            )),
        };
        let lhs = side(lhs, lhs_span, "left")?;
        let rhs = side(rhs, rhs_span, "right")?;
        if op.is_set() {
            for (e, span, which) in [(&lhs, lhs_span, "left"), (&rhs, rhs_span, "right")] {
                if e.is_scalar() {
                    return Err(self.error(
                        span,
                        format!(
                            "unexpected literal for {which} leg of logical/set binary operation ({})",
                            op.as_str()
                        ),
                    ));
                }
            }
        }
        if modifier.matching.is_some() && (lhs.is_scalar() || rhs.is_scalar()) {
            return Err(self.error(
                op_span,
                "vector matching (on/ignoring) is only allowed between two vectors",
            ));
        }
        let node = MetricExpr::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            modifier,
        });
        if node.depth() > MAX_DEPTH {
            return Err(self.error(
                op_span,
                format!("query is nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(node)
    }

    /// A signed number literal, or a primary expression.
    fn parse_unary(&mut self) -> PResult<(Expr, Span)> {
        if matches!(self.peek().kind, Tok::Sub | Tok::Add) {
            let start = self.peek().span;
            if let Tok::Number(v) = self.peek_n(1).kind {
                let negative = self.bump().kind == Tok::Sub;
                let end = self.bump().span;
                let v = if negative { -v } else { v };
                return Ok((Expr::Metric(MetricExpr::Literal(v)), start.to(end)));
            }
            return Err(self.error(
                start,
                "a sign (+ or -) is only allowed in front of a number",
            ));
        }
        let start = self.peek().span;
        let e = self.parse_primary()?;
        Ok((e, self.span_from(start)))
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        match t.kind {
            Tok::LParen => {
                self.enter()?;
                self.bump();
                let e = self.parse_expr()?;
                self.expect(Tok::RParen, "\")\" or a binary operator")?;
                self.leave();
                Ok(e)
            }
            Tok::LBrace => Ok(Expr::Log(self.parse_log_query()?)),
            Tok::Number(v) => {
                self.bump();
                Ok(Expr::Metric(MetricExpr::Literal(v)))
            }
            Tok::Ident => self.parse_function().map(Expr::Metric),
            _ => Err(self.err_expected(
                "a stream selector such as {app=\"x\"}, a metric expression such as \
                 rate({app=\"x\"}[5m]), or a number",
            )),
        }
    }

    /// A log query at the top level: a selector and a pipeline, no range, no unwrap.
    fn parse_log_query(&mut self) -> PResult<LogExpr> {
        let selector = self.parse_selector()?;
        let Pipeline { stages, unwrap } = self.parse_pipeline()?;
        if let Some((_, span)) = unwrap {
            return Err(self.error(
                span,
                "unwrap is only allowed inside a range aggregation, e.g. \
                 sum_over_time({app=\"x\"} | unwrap bytes [5m])",
            ));
        }
        Ok(LogExpr {
            selector,
            pipeline: stages,
        })
    }

    /// A name followed by `(` (or by `by`/`without` for vector aggregations).
    fn parse_function(&mut self) -> PResult<MetricExpr> {
        let name_tok = self.peek().clone();
        let name = self.text(&name_tok);
        let next = &self.peek_n(1).kind;
        let opens = *next == Tok::LParen;
        let grouped = self.kw_at(1, "by") || self.kw_at(1, "without");
        if let Some(op) = VectorOp::from_name(name).filter(|_| opens || grouped) {
            return self.parse_vector_aggregation(op);
        }
        if let Some(op) = RangeOp::from_name(name) {
            if opens {
                return self.parse_range_aggregation(op);
            }
            if grouped {
                return Err(self.error(
                    name_tok.span,
                    format!(
                        "{} takes by/without only after its arguments, e.g. avg_over_time(…) by (host)",
                        op.as_str()
                    ),
                ));
            }
        }
        if opens && name.eq_ignore_ascii_case("vector") {
            self.bump();
            self.bump();
            let (v, _) = self.parse_signed_number("a number")?;
            self.expect(Tok::RParen, "\")\"")?;
            return Ok(MetricExpr::Vector(v));
        }
        if opens && name.eq_ignore_ascii_case("label_replace") {
            return self.parse_label_replace();
        }
        if opens {
            return Err(self.error(name_tok.span, format!("unknown function {name:?}")));
        }
        Err(self.err_expected(
            "a stream selector such as {app=\"x\"}, a metric expression such as \
             rate({app=\"x\"}[5m]), or a number",
        ))
    }

    fn parse_signed_number(&mut self, what: &str) -> PResult<(f64, Span)> {
        let start = self.peek().span;
        let negative = match self.peek().kind {
            Tok::Sub | Tok::Add if matches!(self.peek_n(1).kind, Tok::Number(_)) => {
                self.bump().kind == Tok::Sub
            }
            _ => false,
        };
        match self.peek().kind {
            Tok::Number(v) => {
                let end = self.bump().span;
                Ok((if negative { -v } else { v }, start.to(end)))
            }
            _ => Err(self.err_expected(what)),
        }
    }

    /// True when the next tokens are `number ,` (an aggregation's parameter).
    fn at_param(&self) -> bool {
        match self.peek().kind {
            Tok::Number(_) => self.peek_n(1).kind == Tok::Comma,
            Tok::Sub | Tok::Add => {
                matches!(self.peek_n(1).kind, Tok::Number(_)) && self.peek_n(2).kind == Tok::Comma
            }
            _ => false,
        }
    }

    fn parse_grouping(&mut self) -> PResult<Option<Grouping>> {
        if self.at_kw("by") {
            self.bump();
            Ok(Some(Grouping::By(self.parse_label_list()?)))
        } else if self.at_kw("without") {
            self.bump();
            Ok(Some(Grouping::Without(self.parse_label_list()?)))
        } else {
            Ok(None)
        }
    }

    /// `op [grouping] ( [k,] expr ) [grouping]`.
    fn parse_vector_aggregation(&mut self, op: VectorOp) -> PResult<MetricExpr> {
        let name_span = self.bump().span;
        let before = self.parse_grouping()?;
        self.expect(Tok::LParen, "\"(\"")?;
        self.enter()?;
        let param = if self.at_param() {
            let p = self.parse_signed_number("a number")?;
            self.bump();
            Some(p)
        } else {
            None
        };
        let arg_start = self.peek().span;
        let arg = self.parse_expr()?;
        let arg_span = self.span_from(arg_start);
        self.leave();
        self.expect(Tok::RParen, "\")\" or a binary operator")?;
        let after_span = self.peek().span;
        let after = self.parse_grouping()?;
        let grouping = match (before, after) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    after_span,
                    format!(
                        "{} has by/without both before and after its argument",
                        op.as_str()
                    ),
                ))
            }
            (g, None) | (None, g) => g,
        };
        let param = self.check_vector_param(op, param, name_span)?;
        if let Some(g) = &grouping {
            if op == VectorOp::ApproxTopk {
                return Err(self.error(
                    name_span,
                    "grouping not allowed for approx_topk aggregation",
                ));
            }
            if matches!(op, VectorOp::Sort | VectorOp::SortDesc) && !g.labels().is_empty() {
                return Err(self.error(
                    name_span,
                    format!("{} does not allow grouping by labels", op.as_str()),
                ));
            }
        }
        let expr = self.instant_vector(arg, arg_span, op.as_str())?;
        Ok(MetricExpr::VectorAggregation(VectorAggregation {
            op,
            param,
            expr: Box::new(expr),
            grouping,
        }))
    }

    fn check_vector_param(
        &self,
        op: VectorOp,
        param: Option<(f64, Span)>,
        name_span: Span,
    ) -> PResult<Option<u64>> {
        match (op.takes_param(), param) {
            (true, None) => Err(self.error(
                name_span,
                format!(
                    "parameter required for operation {}, e.g. {}(5, …)",
                    op.as_str(),
                    op.as_str()
                ),
            )),
            (false, Some((_, span))) => Err(self.error(
                span,
                format!("unsupported parameter for operation {}", op.as_str()),
            )),
            (true, Some((v, span))) => {
                if v.fract() != 0.0 || v <= 0.0 || v > u32::MAX as f64 {
                    return Err(self.error(
                        span,
                        format!(
                            "invalid parameter for {}: must be a whole number greater than 0",
                            op.as_str()
                        ),
                    ));
                }
                Ok(Some(v as u64))
            }
            (false, None) => Ok(None),
        }
    }

    /// `arg` as an instant-vector operand of `func`.
    fn instant_vector(&self, arg: Expr, span: Span, func: &str) -> PResult<MetricExpr> {
        match arg {
            Expr::Log(_) => Err(self.error(
                span,
                format!(
                    "{func} needs a metric query, found a log query; wrap it in a range \
                     aggregation such as count_over_time({{…}}[5m])"
                ),
            )),
            Expr::Metric(m) if m.is_scalar() => Err(self.error(
                span,
                format!(
                    "{func} needs an instant vector, found a scalar; use vector(…) for a constant"
                ),
            )),
            Expr::Metric(m) => Ok(m),
        }
    }

    /// `op ( [param,] log-range ) [grouping]`.
    fn parse_range_aggregation(&mut self, op: RangeOp) -> PResult<MetricExpr> {
        let name_span = self.bump().span;
        self.expect(Tok::LParen, "\"(\"")?;
        let param = if self.at_param() {
            let p = self.parse_signed_number("a number")?;
            self.bump();
            Some(p)
        } else {
            None
        };
        let range = self.parse_log_range()?;
        self.expect(Tok::RParen, "\")\"")?;
        let group_span = self.peek().span;
        let grouping = self.parse_grouping()?;
        let name = op.as_str();
        let param = match (op.takes_param(), param) {
            (true, None) => {
                return Err(self.error(
                    name_span,
                    format!("parameter required for operation {name}, e.g. {name}(0.99, …)"),
                ))
            }
            (false, Some((_, span))) => {
                return Err(self.error(
                    span,
                    format!("parameter not supported for operation {name}"),
                ))
            }
            (_, p) => p.map(|(v, _)| v),
        };
        if grouping.is_some() && !op.allows_grouping() {
            return Err(self.error(
                group_span,
                format!("grouping not allowed for {name} aggregation"),
            ));
        }
        if range.unwrap.is_some() && !op.allows_unwrap() {
            return Err(self.error(
                name_span,
                format!(
                    "invalid aggregation {name} with unwrap; {name} counts lines, remove | unwrap"
                ),
            ));
        }
        if range.unwrap.is_none() && !op.allows_no_unwrap() {
            return Err(self.error(
                name_span,
                format!("invalid aggregation {name} without unwrap; add e.g. | unwrap latency before the range"),
            ));
        }
        Ok(MetricExpr::RangeAggregation(Box::new(RangeAggregation {
            op,
            param,
            range,
            grouping,
        })))
    }

    /// The argument of a range aggregation: a log query with a range.
    fn parse_log_range(&mut self) -> PResult<LogRange> {
        match self.parse_log_or_range()? {
            LogOrRange::Range(r) => Ok(r),
            LogOrRange::Log(..) => {
                Err(self.err_expected("a range such as [5m] after the log query"))
            }
        }
    }

    fn parse_log_or_range(&mut self) -> PResult<LogOrRange> {
        if self.at(&Tok::LParen) {
            self.enter()?;
            self.bump();
            let inner = self.parse_log_or_range()?;
            self.expect(Tok::RParen, "\")\"")?;
            self.leave();
            return match inner {
                LogOrRange::Range(r) => {
                    if self.at(&Tok::LBracket) {
                        return Err(self.error(self.peek().span, "the range is given twice"));
                    }
                    Ok(LogOrRange::Range(r))
                }
                LogOrRange::Log(log, unwrap, span) => {
                    if !self.at(&Tok::LBracket) {
                        return Ok(LogOrRange::Log(log, unwrap, span));
                    }
                    let (range_nanos, offset_nanos) = self.parse_range_and_offset()?;
                    Ok(LogOrRange::Range(LogRange {
                        log,
                        range_nanos,
                        offset_nanos,
                        unwrap: unwrap.map(|(u, _)| u),
                    }))
                }
            };
        }
        if !self.at(&Tok::LBrace) {
            return Err(
                self.err_expected("a log query such as {app=\"x\"} with a range such as [5m]")
            );
        }
        let start = self.peek().span;
        let selector = self.parse_selector()?;
        let mut range = if self.at(&Tok::LBracket) {
            Some(self.parse_range_and_offset()?)
        } else {
            None
        };
        let Pipeline { stages, unwrap } = self.parse_pipeline()?;
        if self.at(&Tok::LBracket) {
            if range.is_some() {
                return Err(self.error(self.peek().span, "the range is given twice"));
            }
            range = Some(self.parse_range_and_offset()?);
        }
        let log = LogExpr {
            selector,
            pipeline: stages,
        };
        Ok(match range {
            Some((range_nanos, offset_nanos)) => LogOrRange::Range(LogRange {
                log,
                range_nanos,
                offset_nanos,
                unwrap: unwrap.map(|(u, _)| u),
            }),
            None => LogOrRange::Log(log, unwrap, self.span_from(start)),
        })
    }

    /// `[duration]` and an optional `offset [-]duration`.
    fn parse_range_and_offset(&mut self) -> PResult<(i64, i64)> {
        self.expect(Tok::LBracket, "\"[\"")?;
        let t = self.peek().clone();
        let range = match t.kind {
            Tok::Duration(_) => {
                let text = self.text(&t);
                match parse_range_duration(text) {
                    Some(v) if v > 0 => v,
                    Some(_) => return Err(self.error(t.span, "the range must be longer than zero")),
                    None => {
                        return Err(self.error(
                            t.span,
                            format!(
                                "invalid range {text:?}: use whole numbers with units ms, s, m, h, d, w, y \
                                 (largest first), e.g. 1h30m"
                            ),
                        ))
                    }
                }
            }
            _ => return Err(self.err_expected("a duration such as 5m")),
        };
        self.bump();
        self.expect(Tok::RBracket, "\"]\"")?;
        let mut offset = 0;
        if self.at_kw("offset") {
            self.bump();
            let negative = if self.at(&Tok::Sub) {
                self.bump();
                true
            } else {
                false
            };
            match self.peek().kind {
                Tok::Duration(d) => {
                    self.bump();
                    offset = if negative { -d } else { d };
                }
                _ => return Err(self.err_expected("a duration such as 1h after offset")),
            }
        }
        Ok((range, offset))
    }

    /// `label_replace(v, "dst", "replacement", "src", "regex")`.
    fn parse_label_replace(&mut self) -> PResult<MetricExpr> {
        self.bump();
        self.bump();
        self.enter()?;
        let arg_start = self.peek().span;
        let arg = self.parse_expr()?;
        let arg_span = self.span_from(arg_start);
        self.leave();
        let expr = self.instant_vector(arg, arg_span, "label_replace")?;
        let mut strings = Vec::with_capacity(4);
        for what in [
            "the destination label",
            "the replacement",
            "the source label",
            "the regex",
        ] {
            self.expect(Tok::Comma, "\",\"")?;
            strings.push(self.expect_string(&format!("{what}, in quotes"))?);
        }
        self.expect(Tok::RParen, "\")\"")?;
        let [(dst, dst_span), (replacement, _), (src, _), (regex, re_span)]: [(String, Span); 4] =
            strings
                .try_into()
                .map_err(|_| self.error(arg_span, "label_replace takes five arguments"))?;
        if !is_label_name(&dst) {
            return Err(self.error(
                dst_span,
                format!("invalid destination label name {dst:?} in label_replace"),
            ));
        }
        check_regex(&regex).map_err(|m| self.error(re_span, format!("label_replace: {m}")))?;
        Ok(MetricExpr::LabelReplace(Box::new(LabelReplace {
            expr: Box::new(expr),
            dst,
            replacement,
            src,
            regex,
        })))
    }
}
