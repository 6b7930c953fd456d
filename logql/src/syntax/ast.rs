//! The typed LogQL syntax tree.
//!
//! Read this file to learn LogQL. A query is either a **log query**, which returns log
//! lines, or a **metric query**, which returns numbers computed from log lines:
//!
//! ```text
//! {app="api", env!="dev"} |= "error" | json | status >= 500        # log query
//! sum by (host) (rate({app="api"} |= "error" [5m]))               # metric query
//! ```
//!
//! A log query is a **stream selector** (`{…}`, which picks streams by their labels)
//! followed by a **pipeline** of stages that filter, parse and reformat each line.
//! A metric query wraps log queries in **range aggregations** (`rate(… [5m])`), which turn
//! the lines of each stream in a sliding window into one number per step, and combines
//! those with **vector aggregations** (`sum by (…)`), **binary operators** (`+`, `>`,
//! `and`, …) and a few functions (`label_replace`, `vector`).
//!
//! Every node implements `Display`, printing canonical LogQL (see [`crate::syntax`] for
//! the canonical form), and `parse(&node.to_string())` gives back an equal node.
//!
//! Nodes hold no source positions, so two queries that differ only in spacing,
//! comments, quoting style or redundant parentheses have equal trees.

use crate::matcher::LabelMatcher;

/// A whole LogQL query: the result of [`crate::syntax::parse`].
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A query returning log lines: `{app="api"} |= "error"`.
    Log(LogExpr),
    /// A query returning samples: `rate({app="api"}[5m])`, `1 + 1`.
    Metric(MetricExpr),
}

impl Expr {
    /// True for a log query (`{…} | …`).
    pub fn is_log(&self) -> bool {
        matches!(self, Expr::Log(_))
    }

    /// True for a metric query (range/vector aggregations, binary operations, literals).
    pub fn is_metric(&self) -> bool {
        matches!(self, Expr::Metric(_))
    }

    /// The log query, if this is one.
    pub fn as_log(&self) -> Option<&LogExpr> {
        match self {
            Expr::Log(l) => Some(l),
            Expr::Metric(_) => None,
        }
    }

    /// The metric query, if this is one.
    pub fn as_metric(&self) -> Option<&MetricExpr> {
        match self {
            Expr::Metric(m) => Some(m),
            Expr::Log(_) => None,
        }
    }

    /// Every log query in this query, in source order: the query itself for a log
    /// query, or the log query inside each range aggregation of a metric query.
    /// The storage engine plans one stream lookup per entry.
    pub fn log_exprs(&self) -> Vec<&LogExpr> {
        match self {
            Expr::Log(l) => vec![l],
            Expr::Metric(m) => m.log_ranges().into_iter().map(|r| &r.log).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Log queries
// ---------------------------------------------------------------------------------------

/// A log query: a stream selector and a pipeline.
///
/// ```text
/// {app="api", env=~"prod|staging"} |= "error" | logfmt | level="error" | line_format "{{.msg}}"
/// └──────────── selector ────────┘ └──────────────────────── pipeline ───────────────────────┘
/// ```
///
/// The parser guarantees that at least one selector matcher does not match the empty
/// string (Loki refuses `{}` and `{app=~".*"}`, which would select every stream).
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    /// The stream selector's matchers, in source order. Streams match when every
    /// matcher matches; a label a stream lacks counts as the empty string.
    pub selector: Vec<LabelMatcher>,
    /// The stages each line goes through, in order. A line dropped by one stage
    /// is not seen by the next.
    pub pipeline: Vec<Stage>,
}

impl LogExpr {
    /// The stream selector's matchers.
    pub fn matchers(&self) -> &[LabelMatcher] {
        &self.selector
    }

    /// The line filters of the pipeline (`|= "x"`, `!~ "re"`, …), in order.
    pub fn line_filters(&self) -> impl Iterator<Item = &LineFilter> {
        self.pipeline.iter().filter_map(|s| match s {
            Stage::LineFilter(f) => Some(f),
            _ => None,
        })
    }

    /// True when the pipeline has a parser stage (`json`, `logfmt`, `regexp`, `pattern`,
    /// `unpack`), i.e. when labels can come from the line itself.
    pub fn has_parser(&self) -> bool {
        self.pipeline.iter().any(Stage::is_parser)
    }
}

/// One stage of a log pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `|= "text"`, `!= "text"`, `|~ "regex"`, `!~ "regex"`, `|> "pattern"`, `!> "pattern"`,
    /// optionally chained with `or`: keeps or drops each line by its content.
    LineFilter(LineFilter),
    /// `| json` (every field, nested objects flattened with `_`) or
    /// `| json status, path="request.path", first="items[0]"` (only the given fields;
    /// the parser checks each path with [`crate::syntax::json_path::parse_json_path`]).
    Json(Vec<LabelExtraction>),
    /// `| logfmt`, `| logfmt --strict --keep-empty`, `| logfmt level, msg="message"`.
    Logfmt(LogfmtParser),
    /// `| regexp "(?P<method>\\w+) (?P<path>\\S+)"`: each named group becomes a label.
    /// The parser checks the regex compiles and has at least one named group.
    Regexp(String),
    /// `| pattern "<ip> - - <_> \"<method> <path> <_>\""`: `<name>` captures become labels,
    /// `<_>` skips text. The parser checks it with [`crate::syntax::pattern`] rules.
    Pattern(String),
    /// `| unpack`: unpacks a JSON line written by Promtail's `pack` stage.
    Unpack,
    /// `| status >= 500 and level="error"`: keeps lines whose labels pass the filter.
    LabelFilter(LabelFilter),
    /// `| line_format "{{.status}} {{.msg}}"`: replaces the line by a Go template's output.
    LineFormat(String),
    /// `| label_format dst=src, msg="{{.a}}-{{.b}}"`: renames labels or sets them from templates.
    /// Never empty; each destination appears once.
    LabelFormat(Vec<LabelFormat>),
    /// `| drop a, b="v"`: removes labels (a matcher removes the label only when it matches).
    /// Never empty. As in Loki, `| drop a != "x"` is the matcher `a!="x"`, not a name
    /// followed by a line filter; no query parses to a trailing name followed by a `!=`
    /// or `!~` line filter (the same holds for `keep`).
    Drop(Vec<LabelSelection>),
    /// `| keep a, b="v"`: keeps only these labels (and never removes `__error__`, `__error_details__`).
    /// Never empty.
    Keep(Vec<LabelSelection>),
    /// `| decolorize`: strips ANSI colour escape codes from the line.
    Decolorize,
}

impl Stage {
    /// True for the parser stages `json`, `logfmt`, `regexp`, `pattern` and `unpack`.
    pub fn is_parser(&self) -> bool {
        matches!(
            self,
            Stage::Json(_)
                | Stage::Logfmt(_)
                | Stage::Regexp(_)
                | Stage::Pattern(_)
                | Stage::Unpack
        )
    }
}

/// A line filter: `|= "error"`, `!~ "debug|trace"`, `|= "a" or "b"`, `|= ip("10.0.0.0/8")`.
///
/// With several values (`or`), a positive filter keeps a line matching **any** value; a
/// negative filter (`!=`, `!~`, `!>`) keeps a line matching **none** of them.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    /// How each value is compared with the line.
    pub op: LineFilterOp,
    /// The values, never empty; more than one when chained with `or`.
    pub values: Vec<LineFilterValue>,
}

/// The comparison of a [`LineFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineFilterOp {
    /// `|=`: the line contains the text.
    Contains,
    /// `!=`: the line does not contain the text.
    NotContains,
    /// `|~`: the regex (RE2 syntax, **not** anchored) matches somewhere in the line.
    Regex,
    /// `!~`: the regex matches nowhere in the line.
    NotRegex,
    /// `|>`: the line matches the pattern (`<_>` matches any text; literals must appear in order).
    Pattern,
    /// `!>`: the line does not match the pattern.
    NotPattern,
}

impl LineFilterOp {
    /// The operator as written: `|=`, `!=`, `|~`, `!~`, `|>`, `!>`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Regex => "|~",
            LineFilterOp::NotRegex => "!~",
            LineFilterOp::Pattern => "|>",
            LineFilterOp::NotPattern => "!>",
        }
    }

    /// True for `!=`, `!~` and `!>`.
    pub fn is_negative(self) -> bool {
        matches!(
            self,
            LineFilterOp::NotContains | LineFilterOp::NotRegex | LineFilterOp::NotPattern
        )
    }
}

/// One value of a [`LineFilter`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineFilterValue {
    /// A string: text, regex or pattern depending on the operator. Regexes starting with
    /// `(?i)` match case-insensitively.
    Text(String),
    /// `ip("…")` (only with `|=` and `!=`): the line contains an IP address within a single
    /// address (`192.168.0.1`), a range (`192.168.0.1-192.168.0.9`) or a CIDR block
    /// (`10.0.0.0/8`); IPv4 or IPv6. The parser checks the argument's syntax.
    Ip(String),
}

/// A field a `json` or `logfmt` parser extracts: `label="expression"` or just `label`.
///
/// For `json` the expression is a path: `request.method`, `items[0]`, `["key with spaces"]`;
/// for `logfmt` it is a key. `| json status` is `status="status"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelExtraction {
    /// The label to set.
    pub label: String,
    /// Where its value comes from (a JSON path or a logfmt key).
    pub expression: String,
}

/// The `logfmt` parser stage and its options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LogfmtParser {
    /// `--strict`: stop at (and report) the first malformed pair instead of skipping it.
    pub strict: bool,
    /// `--keep-empty`: keep standalone keys (`key` without `=`) as labels with an empty value.
    pub keep_empty: bool,
    /// The fields to extract; empty means all of them.
    pub fields: Vec<LabelExtraction>,
}

/// One assignment of `label_format`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelFormat {
    /// The label to set.
    pub dst: String,
    /// Where its value comes from.
    pub value: LabelFormatValue,
}

/// The right-hand side of a `label_format` assignment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LabelFormatValue {
    /// `dst=src`: rename `src` to `dst` (`src` is removed).
    Rename(String),
    /// `dst="{{.a}}-{{.b}}"`: a Go template over the current labels.
    Template(String),
}

/// A label named by `drop` or `keep`.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSelection {
    /// `name`: the label, whatever its value.
    Name(String),
    /// `name="v"`, `name=~"re"`, …: the label when its value matches.
    Matcher(LabelMatcher),
}

impl LabelSelection {
    /// The label name either form refers to.
    pub fn name(&self) -> &str {
        match self {
            LabelSelection::Name(n) => n,
            LabelSelection::Matcher(m) => m.name(),
        }
    }
}

/// A label filter: a boolean expression over the labels (stream labels, structured
/// metadata and labels extracted by earlier parser stages) of each line.
///
/// ```text
/// | level="error" or (status >= 500 and duration > 1.5s), size < 10KiB
/// ```
///
/// `and` (also written `,` or just a space) binds tighter than `or`. A value that cannot
/// be converted to a number, duration or byte size makes the comparison add an
/// `__error__` label rather than drop the line.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// All of the filters hold. Always at least two; never directly contains another
    /// `And` unless the source had parentheses there.
    And(Vec<LabelFilter>),
    /// At least one of the filters holds. Always at least two.
    Or(Vec<LabelFilter>),
    /// A string comparison: `level="error"`, `path!~"/health.*"` (regexes are fully anchored).
    Matcher(LabelMatcher),
    /// A numeric comparison: `status >= 500`, `ratio < 0.5`.
    Number {
        /// The label compared.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The number the label's value is compared with.
        value: f64,
    },
    /// A duration comparison: `latency > 250ms` (the label is parsed as a Go duration).
    Duration {
        /// The label compared.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The duration in nanoseconds (may be negative).
        nanos: i64,
    },
    /// A byte-size comparison: `size >= 10KiB` (the label is parsed like `10 KB`, `1.5MiB`).
    Bytes {
        /// The label compared.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The size in bytes.
        bytes: u64,
    },
    /// `addr = ip("10.0.0.0/8")` or `addr != ip("…")`: whether the label holds an IP address
    /// in the given address, range or CIDR block.
    Ip {
        /// The label compared.
        name: String,
        /// True for `!=`.
        negated: bool,
        /// The address, `start-end` range or CIDR block as written.
        pattern: String,
    },
}

/// The comparison of a numeric, duration or bytes label filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==` (also written `=`).
    Eq,
    /// `!=`.
    Neq,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
}

impl CmpOp {
    /// The canonical spelling: `==`, `!=`, `>`, `>=`, `<`, `<=`.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }

    /// Applies the comparison to two ordered values.
    pub fn compare<T: PartialOrd>(self, lhs: T, rhs: T) -> bool {
        match self {
            CmpOp::Eq => lhs == rhs,
            CmpOp::Neq => lhs != rhs,
            CmpOp::Gt => lhs > rhs,
            CmpOp::Gte => lhs >= rhs,
            CmpOp::Lt => lhs < rhs,
            CmpOp::Lte => lhs <= rhs,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Metric queries
// ---------------------------------------------------------------------------------------

/// A metric query: an expression whose value at each step is an instant vector (a set
/// of labelled samples) or a scalar (a bare number).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    /// `rate({app="api"}[5m])`, `quantile_over_time(0.99, {…} | unwrap latency [5m]) by (host)`.
    /// (Boxed, as is `LabelReplace`, to keep `MetricExpr` small.)
    RangeAggregation(Box<RangeAggregation>),
    /// `sum by (host) (…)`, `topk(5, …)`.
    VectorAggregation(VectorAggregation),
    /// `a + b`, `a > bool 10`, `a / on (host) group_left b`.
    Binary(BinaryExpr),
    /// A number: `1`, `-0.5`, `1e3`, `0x1f`. A scalar. Always finite.
    Literal(f64),
    /// `vector(1)`: an instant vector holding one sample with no labels.
    Vector(f64),
    /// `label_replace(v, "dst", "$1", "src", "(.*)-.*")`.
    LabelReplace(Box<LabelReplace>),
}

impl MetricExpr {
    /// True when the expression is a scalar: a literal, or arithmetic on scalars only.
    pub fn is_scalar(&self) -> bool {
        match self {
            MetricExpr::Literal(_) => true,
            MetricExpr::Binary(b) => b.lhs.is_scalar() && b.rhs.is_scalar(),
            _ => false,
        }
    }

    /// Calls `f` on this node and then on every metric expression below it, depth first,
    /// left to right.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a MetricExpr)) {
        f(self);
        match self {
            MetricExpr::VectorAggregation(v) => v.expr.walk(f),
            MetricExpr::Binary(b) => {
                b.lhs.walk(f);
                b.rhs.walk(f);
            }
            MetricExpr::LabelReplace(l) => l.expr.walk(f),
            MetricExpr::RangeAggregation(_) | MetricExpr::Literal(_) | MetricExpr::Vector(_) => {}
        }
    }

    /// Every log range (the `{…} | … [5m]` inside each range aggregation), in source order.
    pub fn log_ranges(&self) -> Vec<&LogRange> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let MetricExpr::RangeAggregation(r) = e {
                out.push(&r.range);
            }
        });
        out
    }

    /// Every stream selector in the query, in source order.
    pub fn selectors(&self) -> Vec<&[LabelMatcher]> {
        self.log_ranges()
            .into_iter()
            .map(|r| r.log.selector.as_slice())
            .collect()
    }

    /// The height of the tree (a leaf is 1); the parser keeps it under a fixed limit.
    pub fn depth(&self) -> usize {
        match self {
            MetricExpr::VectorAggregation(v) => 1 + v.expr.depth(),
            MetricExpr::Binary(b) => 1 + b.lhs.depth().max(b.rhs.depth()),
            MetricExpr::LabelReplace(l) => 1 + l.expr.depth(),
            MetricExpr::RangeAggregation(_) | MetricExpr::Literal(_) | MetricExpr::Vector(_) => 1,
        }
    }
}

/// A range aggregation: a function applied, per stream and per step, to the lines (or
/// unwrapped values) of a sliding window `(t - range, t]`.
///
/// ```text
/// count_over_time({app="api"} |= "error" [5m])
/// sum_over_time({app="api"} | logfmt | unwrap bytes(size) | __error__="" [1h] offset 1d)
/// quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (host)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RangeAggregation {
    /// The function.
    pub op: RangeOp,
    /// The parameter, present exactly for `quantile_over_time` (φ, e.g. `0.99`).
    pub param: Option<f64>,
    /// The log query and its window.
    pub range: LogRange,
    /// `by (…)` / `without (…)` after the call; only for the functions where
    /// [`RangeOp::allows_grouping`] is true.
    pub grouping: Option<Grouping>,
}

/// The functions of a [`RangeAggregation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeOp {
    /// `count_over_time`: number of lines in the window.
    CountOverTime,
    /// `rate`: lines per second; with `unwrap`, the sum of the unwrapped values per second.
    Rate,
    /// `rate_counter`: per-second rate of an unwrapped counter, resets handled (requires `unwrap`).
    RateCounter,
    /// `bytes_over_time`: bytes of the lines in the window.
    BytesOverTime,
    /// `bytes_rate`: bytes per second.
    BytesRate,
    /// `avg_over_time` (requires `unwrap`).
    AvgOverTime,
    /// `sum_over_time` (requires `unwrap`).
    SumOverTime,
    /// `min_over_time` (requires `unwrap`).
    MinOverTime,
    /// `max_over_time` (requires `unwrap`).
    MaxOverTime,
    /// `stdvar_over_time` (requires `unwrap`).
    StdvarOverTime,
    /// `stddev_over_time` (requires `unwrap`).
    StddevOverTime,
    /// `quantile_over_time(φ, …)` (requires `unwrap`).
    QuantileOverTime,
    /// `first_over_time` (requires `unwrap`).
    FirstOverTime,
    /// `last_over_time` (requires `unwrap`).
    LastOverTime,
    /// `absent_over_time`: 1 for a step whose window has no line (with or without `unwrap`).
    AbsentOverTime,
}

impl RangeOp {
    /// Every range function.
    pub const ALL: [RangeOp; 15] = [
        RangeOp::CountOverTime,
        RangeOp::Rate,
        RangeOp::RateCounter,
        RangeOp::BytesOverTime,
        RangeOp::BytesRate,
        RangeOp::AvgOverTime,
        RangeOp::SumOverTime,
        RangeOp::MinOverTime,
        RangeOp::MaxOverTime,
        RangeOp::StdvarOverTime,
        RangeOp::StddevOverTime,
        RangeOp::QuantileOverTime,
        RangeOp::FirstOverTime,
        RangeOp::LastOverTime,
        RangeOp::AbsentOverTime,
    ];

    /// The function's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeOp::CountOverTime => "count_over_time",
            RangeOp::Rate => "rate",
            RangeOp::RateCounter => "rate_counter",
            RangeOp::BytesOverTime => "bytes_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::AvgOverTime => "avg_over_time",
            RangeOp::SumOverTime => "sum_over_time",
            RangeOp::MinOverTime => "min_over_time",
            RangeOp::MaxOverTime => "max_over_time",
            RangeOp::StdvarOverTime => "stdvar_over_time",
            RangeOp::StddevOverTime => "stddev_over_time",
            RangeOp::QuantileOverTime => "quantile_over_time",
            RangeOp::FirstOverTime => "first_over_time",
            RangeOp::LastOverTime => "last_over_time",
            RangeOp::AbsentOverTime => "absent_over_time",
        }
    }

    /// Looks a function up by name (ASCII case-insensitive, as Loki does).
    pub fn from_name(name: &str) -> Option<RangeOp> {
        RangeOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the function may be used with `| unwrap`.
    pub fn allows_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::CountOverTime | RangeOp::BytesOverTime | RangeOp::BytesRate
        )
    }

    /// Whether the function may be used without `| unwrap` (it counts lines or bytes).
    pub fn allows_no_unwrap(self) -> bool {
        matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }

    /// Whether `by (…)` / `without (…)` may follow the call (Loki allows it only on the
    /// unwrapped functions that do not sum: avg, min, max, stddev, stdvar, quantile, first, last).
    pub fn allows_grouping(self) -> bool {
        matches!(
            self,
            RangeOp::AvgOverTime
                | RangeOp::MinOverTime
                | RangeOp::MaxOverTime
                | RangeOp::StdvarOverTime
                | RangeOp::StddevOverTime
                | RangeOp::QuantileOverTime
                | RangeOp::FirstOverTime
                | RangeOp::LastOverTime
        )
    }

    /// Whether the function takes a leading parameter (only `quantile_over_time`).
    pub fn takes_param(self) -> bool {
        self == RangeOp::QuantileOverTime
    }
}

/// A log query with a time window: the argument of a range aggregation.
///
/// The range may be written right after the selector (`{app="x"}[5m] | json`) or after
/// the whole pipeline (`{app="x"} | json [5m]`); both give the same tree, printed in
/// the second form.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRange {
    /// The log query (selector and the stages before any `unwrap`).
    pub log: LogExpr,
    /// The window length in nanoseconds (> 0; written in Prometheus form: `5m`, `1h30m`).
    pub range_nanos: i64,
    /// `offset 1h`: the window ends this long before the evaluation time (may be negative;
    /// 0 when absent).
    pub offset_nanos: i64,
    /// `| unwrap …`: which label supplies each sample's value. Required by the unwrapped
    /// functions (`sum_over_time`, …).
    pub unwrap: Option<Unwrap>,
}

/// `| unwrap latency`, `| unwrap duration(took) | __error__=""`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    /// The label whose value becomes the sample value.
    pub label: String,
    /// How the value is converted to a number.
    pub conversion: Conversion,
    /// Label filters after the unwrap (`| __error__=""`), applied to each sample.
    pub post_filters: Vec<LabelFilter>,
}

/// The conversion of an unwrapped label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Conversion {
    /// `unwrap x`: the value is a float (`1.5`, `1e3`).
    #[default]
    Float,
    /// `unwrap bytes(x)`: a byte size (`10KiB`, `1.5 MB`), as a number of bytes.
    Bytes,
    /// `unwrap duration(x)`: a Go duration (`1m30s`), as seconds.
    Duration,
    /// `unwrap duration_seconds(x)`: the same as `duration(x)`.
    DurationSeconds,
}

impl Conversion {
    /// The function name, or `None` for [`Conversion::Float`].
    pub fn function_name(self) -> Option<&'static str> {
        match self {
            Conversion::Float => None,
            Conversion::Bytes => Some("bytes"),
            Conversion::Duration => Some("duration"),
            Conversion::DurationSeconds => Some("duration_seconds"),
        }
    }
}

/// `by (a, b)` or `without (a, b)`: which labels the result series keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grouping {
    /// `by (…)`: keep only these labels (`by ()`: none; everything is aggregated together).
    By(Vec<String>),
    /// `without (…)`: keep every label except these.
    Without(Vec<String>),
}

impl Grouping {
    /// The labels listed.
    pub fn labels(&self) -> &[String] {
        match self {
            Grouping::By(l) | Grouping::Without(l) => l,
        }
    }

    /// True for `without`.
    pub fn is_without(&self) -> bool {
        matches!(self, Grouping::Without(_))
    }
}

/// A vector aggregation: combines, at each step, the samples of its argument into fewer
/// samples, one per group.
///
/// ```text
/// sum by (host) (rate({app="api"}[1m]))
/// topk(5, sum by (path) (count_over_time({app="api"} | json [5m])))
/// avg(…) without (instance)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VectorAggregation {
    /// The aggregation.
    pub op: VectorOp,
    /// `k` of `topk`, `bottomk` and `approx_topk` (> 0); `None` for the others.
    pub param: Option<u64>,
    /// The argument: an instant vector (never a scalar).
    pub expr: Box<MetricExpr>,
    /// `by (…)` / `without (…)`, written before or after the argument.
    /// Not allowed on `approx_topk`; `sort`/`sort_desc` allow only an empty `by ()`.
    pub grouping: Option<Grouping>,
}

/// The operations of a [`VectorAggregation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorOp {
    /// `sum`.
    Sum,
    /// `avg`.
    Avg,
    /// `min`.
    Min,
    /// `max`.
    Max,
    /// `count`: number of samples.
    Count,
    /// `stddev`: population standard deviation.
    Stddev,
    /// `stdvar`: population variance.
    Stdvar,
    /// `topk(k, …)`: the k largest samples (per group).
    Topk,
    /// `bottomk(k, …)`: the k smallest samples (per group).
    Bottomk,
    /// `sort`: samples in ascending value order (matters for instant queries).
    Sort,
    /// `sort_desc`: samples in descending value order.
    SortDesc,
    /// `approx_topk(k, …)`: an approximate `topk` for instant queries; no grouping.
    ApproxTopk,
}

impl VectorOp {
    /// Every vector aggregation.
    pub const ALL: [VectorOp; 12] = [
        VectorOp::Sum,
        VectorOp::Avg,
        VectorOp::Min,
        VectorOp::Max,
        VectorOp::Count,
        VectorOp::Stddev,
        VectorOp::Stdvar,
        VectorOp::Topk,
        VectorOp::Bottomk,
        VectorOp::Sort,
        VectorOp::SortDesc,
        VectorOp::ApproxTopk,
    ];

    /// The operation's name.
    pub fn as_str(self) -> &'static str {
        match self {
            VectorOp::Sum => "sum",
            VectorOp::Avg => "avg",
            VectorOp::Min => "min",
            VectorOp::Max => "max",
            VectorOp::Count => "count",
            VectorOp::Stddev => "stddev",
            VectorOp::Stdvar => "stdvar",
            VectorOp::Topk => "topk",
            VectorOp::Bottomk => "bottomk",
            VectorOp::Sort => "sort",
            VectorOp::SortDesc => "sort_desc",
            VectorOp::ApproxTopk => "approx_topk",
        }
    }

    /// Looks an operation up by name (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<VectorOp> {
        VectorOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the operation takes the parameter `k`.
    pub fn takes_param(self) -> bool {
        matches!(
            self,
            VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk
        )
    }
}

/// A binary operation between two metric expressions.
///
/// Between two vectors, samples are paired by equal label sets, or as the `modifier`
/// says; between a vector and a scalar, the scalar applies to every sample.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// The left operand.
    pub lhs: Box<MetricExpr>,
    /// The right operand.
    pub rhs: Box<MetricExpr>,
    /// `bool`, `on (…)` / `ignoring (…)`, `group_left (…)` / `group_right (…)`.
    pub modifier: BinaryModifier,
}

/// Binary operators, with Prometheus' precedence (see [`BinaryOp::precedence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/` (division by zero gives NaN, as in Loki).
    Div,
    /// `%` (modulo by zero gives NaN).
    Mod,
    /// `^` (right-associative: `2 ^ 3 ^ 2` is `2 ^ (3 ^ 2)`).
    Pow,
    /// `==`.
    Eq,
    /// `!=`.
    Neq,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
    /// `and`: left samples that have a match on the right.
    And,
    /// `or`: left samples, plus right samples without a match on the left.
    Or,
    /// `unless`: left samples without a match on the right.
    Unless,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    /// Binding strength, higher binds tighter: `or` 1; `and`, `unless` 2; comparisons 3;
    /// `+ -` 4; `* / %` 5; `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::Gt
            | BinaryOp::Gte
            | BinaryOp::Lt
            | BinaryOp::Lte => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// True for `^`, the only right-associative operator.
    pub fn is_right_assoc(self) -> bool {
        self == BinaryOp::Pow
    }

    /// True for the comparisons `== != > >= < <=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// True for the set operators `and or unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

/// The modifiers written after a binary operator: `> bool`, `/ on (host) group_left (team)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BinaryModifier {
    /// `bool` (comparisons only): return 0 or 1 instead of filtering.
    pub return_bool: bool,
    /// `on (…)` / `ignoring (…)`, with an optional `group_left`/`group_right`.
    /// `None`: samples pair up when all their labels are equal.
    pub matching: Option<VectorMatching>,
}

/// How samples of the two sides of a binary operation are paired.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorMatching {
    /// `on (…)` (true: only these labels must be equal) or `ignoring (…)` (false: all
    /// labels except these).
    pub on: bool,
    /// The labels listed.
    pub labels: Vec<String>,
    /// `group_left (…)` / `group_right (…)`: many-to-one or one-to-many matching.
    /// Not allowed with the set operators.
    pub group: Option<GroupModifier>,
}

/// `group_left (extra)` or `group_right (extra)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupModifier {
    /// Which side has many samples per match: `Left` for `group_left`.
    pub side: GroupSide,
    /// Labels copied from the "one" side into the result (may be empty).
    pub include: Vec<String>,
}

/// The "many" side of a [`GroupModifier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupSide {
    /// `group_left`: many-to-one.
    Left,
    /// `group_right`: one-to-many.
    Right,
}

/// `label_replace(v, "dst", "replacement", "src", "regex")`: for each sample whose `src`
/// label matches the fully anchored `regex`, set `dst` to `replacement` with `$1`, `${name}`
/// expanded; other samples pass unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelReplace {
    /// The instant vector to relabel.
    pub expr: Box<MetricExpr>,
    /// The label to write (a valid label name).
    pub dst: String,
    /// The replacement template.
    pub replacement: String,
    /// The label to read.
    pub src: String,
    /// The regex (checked by the parser; anchored when evaluated).
    pub regex: String,
}
