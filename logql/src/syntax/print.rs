//! `Display` for every AST node: canonical LogQL.
//!
//! The canonical form (see the module docs of [`crate::syntax`]) is chosen so that
//! `parse(&expr.to_string()) == expr` for every tree the parser can produce, and printing
//! is idempotent.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{
    BinaryExpr, BinaryModifier, Expr, GroupModifier, GroupSide, Grouping, LabelExtraction,
    LabelFilter, LabelFormat, LabelFormatValue, LabelReplace, LabelSelection, LineFilter,
    LineFilterValue, LogExpr, LogRange, LogfmtParser, MetricExpr, RangeAggregation, Stage, Unwrap,
    VectorAggregation, VectorMatching,
};
use super::literal::{format_bytes, format_duration, format_number};
use super::parser::STAGE_KEYWORDS;
use crate::matcher::write_go_quoted;
use crate::units::format_range_duration;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(l) => l.fmt(f),
            Expr::Metric(m) => m.fmt(f),
        }
    }
}

/// Writes `items` separated by `sep`.
fn join<T: Display>(f: &mut Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// `(a, b)`.
fn label_list(f: &mut Formatter<'_>, labels: &[String]) -> fmt::Result {
    f.write_char('(')?;
    join(f, labels, ", ")?;
    f.write_char(')')
}

impl Display for LogExpr {
    /// `{a="x", b=~"y"} |= "text" | json | status>=500`
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        join(f, &self.selector, ", ")?;
        f.write_char('}')?;
        for stage in &self.pipeline {
            f.write_char(' ')?;
            stage.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Stage {
    /// One stage, starting with its operator: `|= "x"`, `| json a, b="c.d"`, `| level="error"`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(lf) => lf.fmt(f),
            Stage::Json(fields) => {
                f.write_str("| json")?;
                extractions(f, fields)
            }
            Stage::Logfmt(p) => p.fmt(f),
            Stage::Regexp(re) => {
                f.write_str("| regexp ")?;
                write_go_quoted(f, re)
            }
            Stage::Pattern(p) => {
                f.write_str("| pattern ")?;
                write_go_quoted(f, p)
            }
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(lf) => {
                f.write_str("| ")?;
                // A filter starting with a label named like a stage keyword (`json!="x"`)
                // would read back as that stage: parenthesise it.
                if STAGE_KEYWORDS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(first_label(lf)))
                {
                    write!(f, "({lf})")
                } else {
                    lf.fmt(f)
                }
            }
            Stage::LineFormat(t) => {
                f.write_str("| line_format ")?;
                write_go_quoted(f, t)
            }
            Stage::LabelFormat(fmts) => {
                f.write_str("| label_format ")?;
                join(f, fmts, ", ")
            }
            Stage::Drop(l) => {
                f.write_str("| drop ")?;
                join(f, l, ", ")
            }
            Stage::Keep(l) => {
                f.write_str("| keep ")?;
                join(f, l, ", ")
            }
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

/// The label name of the leftmost comparison in a label filter.
fn first_label(lf: &LabelFilter) -> &str {
    match lf {
        LabelFilter::And(items) | LabelFilter::Or(items) => items.first().map_or("", first_label),
        LabelFilter::Matcher(m) => m.name(),
        LabelFilter::Number { name, .. }
        | LabelFilter::Duration { name, .. }
        | LabelFilter::Bytes { name, .. }
        | LabelFilter::Ip { name, .. } => name,
    }
}

/// ` a, b="c.d"` (with the leading space), or nothing.
fn extractions(f: &mut Formatter<'_>, fields: &[LabelExtraction]) -> fmt::Result {
    if !fields.is_empty() {
        f.write_char(' ')?;
        join(f, fields, ", ")?;
    }
    Ok(())
}

impl Display for LabelExtraction {
    /// `a` when the expression is the label name itself, else `a="expr"`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)?;
        if self.expression != self.label {
            f.write_char('=')?;
            write_go_quoted(f, &self.expression)?;
        }
        Ok(())
    }
}

impl Display for LogfmtParser {
    /// `| logfmt --strict --keep-empty a, b="c"`
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("| logfmt")?;
        if self.strict {
            f.write_str(" --strict")?;
        }
        if self.keep_empty {
            f.write_str(" --keep-empty")?;
        }
        extractions(f, &self.fields)
    }
}

impl Display for LineFilter {
    /// `|= "a" or "b"`, `!= ip("10.0.0.0/8")`
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        f.write_char(' ')?;
        join(f, &self.values, " or ")
    }
}

impl Display for LineFilterValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LineFilterValue::Text(s) => write_go_quoted(f, s),
            LineFilterValue::Ip(s) => {
                f.write_str("ip(")?;
                write_go_quoted(f, s)?;
                f.write_char(')')
            }
        }
    }
}

impl Display for LabelFormat {
    /// `dst=src` or `dst="template"`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", self.dst)?;
        match &self.value {
            LabelFormatValue::Rename(src) => f.write_str(src),
            LabelFormatValue::Template(t) => write_go_quoted(f, t),
        }
    }
}

impl Display for LabelSelection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelSelection::Name(n) => f.write_str(n),
            LabelSelection::Matcher(m) => m.fmt(f),
        }
    }
}

impl Display for LabelFilter {
    /// `a="x" and (b>1 or c<2s)`: comparisons without spaces, `and` / `or` spelled out,
    /// parentheses only where the tree needs them.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilter::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    // `and` binds tighter than `or`; a nested `and` was parenthesised in the
                    // source (else it would have been flattened), so keep its parentheses.
                    match item {
                        LabelFilter::And(_) | LabelFilter::Or(_) => write!(f, "({item})")?,
                        _ => item.fmt(f)?,
                    }
                }
                Ok(())
            }
            LabelFilter::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    match item {
                        LabelFilter::Or(_) => write!(f, "({item})")?,
                        _ => item.fmt(f)?,
                    }
                }
                Ok(())
            }
            LabelFilter::Matcher(m) => m.fmt(f),
            LabelFilter::Number { name, op, value } => {
                write!(f, "{name}{}{}", op.as_str(), format_number(*value))
            }
            LabelFilter::Duration { name, op, nanos } => {
                write!(f, "{name}{}{}", op.as_str(), format_duration(*nanos))
            }
            LabelFilter::Bytes { name, op, bytes } => {
                write!(f, "{name}{}{}", op.as_str(), format_bytes(*bytes))
            }
            LabelFilter::Ip {
                name,
                negated,
                pattern,
            } => {
                write!(f, "{name}{}ip(", if *negated { "!=" } else { "=" })?;
                write_go_quoted(f, pattern)?;
                f.write_char(')')
            }
        }
    }
}

impl Display for Unwrap {
    /// `| unwrap duration(took) | __error__=""`
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("| unwrap ")?;
        match self.conversion.function_name() {
            Some(func) => write!(f, "{func}({})", self.label)?,
            None => f.write_str(&self.label)?,
        }
        for filter in &self.post_filters {
            f.write_str(" | ")?;
            if STAGE_KEYWORDS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(first_label(filter)))
            {
                write!(f, "({filter})")?;
            } else {
                filter.fmt(f)?;
            }
        }
        Ok(())
    }
}

impl Display for LogRange {
    /// `{…} | pipeline | unwrap x [5m] offset 1h`: the range always after the pipeline.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.log.fmt(f)?;
        if let Some(u) = &self.unwrap {
            write!(f, " {u}")?;
        }
        write!(f, " [{}]", format_range_duration(self.range_nanos))?;
        if self.offset_nanos != 0 {
            write!(f, " offset {}", format_duration(self.offset_nanos))?;
        }
        Ok(())
    }
}

impl Display for Grouping {
    /// `by (a, b)` / `without (a)`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Grouping::By(l) => {
                f.write_str("by ")?;
                label_list(f, l)
            }
            Grouping::Without(l) => {
                f.write_str("without ")?;
                label_list(f, l)
            }
        }
    }
}

impl Display for MetricExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::RangeAggregation(r) => r.fmt(f),
            MetricExpr::VectorAggregation(v) => v.fmt(f),
            MetricExpr::Binary(b) => b.fmt(f),
            MetricExpr::Literal(v) => f.write_str(&format_number(*v)),
            MetricExpr::Vector(v) => write!(f, "vector({})", format_number(*v)),
            MetricExpr::LabelReplace(l) => l.fmt(f),
        }
    }
}

impl Display for RangeAggregation {
    /// `quantile_over_time(0.99, {…} | unwrap x [5m]) by (host)`: grouping after the call,
    /// the only place Loki accepts it for range aggregations.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.op.as_str())?;
        if let Some(p) = self.param {
            write!(f, "{}, ", format_number(p))?;
        }
        write!(f, "{})", self.range)?;
        if let Some(g) = &self.grouping {
            write!(f, " {g}")?;
        }
        Ok(())
    }
}

impl Display for VectorAggregation {
    /// `sum by (a) (expr)`, `topk(5, expr)`: grouping right after the name.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        if let Some(g) = &self.grouping {
            write!(f, " {g} ")?;
        }
        f.write_char('(')?;
        if let Some(k) = self.param {
            write!(f, "{k}, ")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Display for BinaryModifier {
    /// ` bool`, ` on (a) group_left (b)` (each part with a leading space), or nothing.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.return_bool {
            f.write_str(" bool")?;
        }
        if let Some(m) = &self.matching {
            m.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for VectorMatching {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.on { " on " } else { " ignoring " })?;
        label_list(f, &self.labels)?;
        if let Some(g) = &self.group {
            g.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for GroupModifier {
    /// ` group_left ()`, ` group_right (a, b)`. The list is printed even when empty:
    /// in `group_left (x)` a parenthesised right operand would read as the label list.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self.side {
            GroupSide::Left => " group_left ",
            GroupSide::Right => " group_right ",
        })?;
        label_list(f, &self.include)
    }
}

impl Display for BinaryExpr {
    /// `lhs op modifiers rhs`, parenthesising an operand that binds more loosely than the
    /// operator (or equally, on the side associativity does not group).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let prec = self.op.precedence();
        let right_assoc = self.op.is_right_assoc();
        let needs_parens = |e: &MetricExpr, left: bool| match e {
            MetricExpr::Binary(b) => {
                let p = b.op.precedence();
                p < prec || (p == prec && (left == right_assoc))
            }
            _ => false,
        };
        operand(f, &self.lhs, needs_parens(&self.lhs, true))?;
        write!(f, " {}{} ", self.op.as_str(), self.modifier)?;
        operand(f, &self.rhs, needs_parens(&self.rhs, false))
    }
}

fn operand(f: &mut Formatter<'_>, e: &MetricExpr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        e.fmt(f)
    }
}

impl Display for LabelReplace {
    /// `label_replace(expr, "dst", "replacement", "src", "regex")`
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "label_replace({}, ", self.expr)?;
        for (i, s) in [&self.dst, &self.replacement, &self.src, &self.regex]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_go_quoted(f, s)?;
        }
        f.write_char(')')
    }
}
