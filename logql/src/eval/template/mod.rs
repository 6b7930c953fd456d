//! Go `text/template` for `| line_format` and `| label_format`.
//!
//! # Semantics notes
//!
//! Verified against Loki v3 `pkg/logql/log/fmt.go` and Go's `text/template`:
//! - the data (`.`) is the entry's label map; a missing label renders as `""` (Loki uses
//!   `missingkey=zero` on a `map[string]string`);
//! - functions: Go's builtins (`and or not len index slice print printf println eq ne lt
//!   le gt ge html js urlquery`; `call` always fails, no function values exist), Loki's
//!   (`__line__`, `__timestamp__`, `regexReplaceAll`, `regexReplaceAllLiteral`, `count`,
//!   `urldecode`, `urlencode`, `bytes`, `duration`, `duration_seconds`, `unixEpochMillis`,
//!   `unixEpochNanos`, `toDateInZone`, `unixToTime`, `alignLeft`, `alignRight`, the
//!   deprecated `ToLower ToUpper Replace Trim TrimLeft TrimRight TrimPrefix TrimSuffix
//!   TrimSpace`) and the sprig subset Loki exposes; an unknown function is a parse error
//!   (`template: line:1: function "x" not defined`);
//! - actions: pipelines, parenthesised pipelines, `if`/`else if`/`else`, `range` (over
//!   maps in key order, lists, integers) with `else`, `break`, `continue`, `with`/`else
//!   with`/`else`, variables (`$x :=`, `$x =`, `$i, $v :=`, `$`), trim markers, comments,
//!   string/raw/char/number/bool/nil literals;
//! - values print as Go's `fmt.Print` does (floats `%v` → shortest `%g`, e.g. `1e+06`;
//!   maps `map[a:1]`; times `2006-01-02 15:04:05.999999999 +0000 UTC`);
//! - a run-time error (bad argument type, a failing function) is returned as
//!   [`TemplateError::Exec`]; the evaluator sets `__error__="TemplateFormatErr"` and
//!   `__error_details__` to its message.
//!
//! Assumed / not supported:
//! - the local time zone is UTC (`__timestamp__`, `date`, `toDate`, `now` use it);
//!   `toDateInZone` knows `UTC`, `Local`, `""`, `GMT`, `Etc/UTC`, `Etc/GMT±N` and fixed
//!   offsets written `±hh:mm`; any other zone name falls back to UTC, as Loki does for
//!   unknown zones (no time zone database is bundled);
//! - `trunc`/`substr` count characters (Loki's own definitions), not bytes;
//! - `{{define}}`, `{{template}}`, `{{block}}` are rejected at parse time;
//! - `addf`/`subf`/`mulf`/`divf` use `f64` arithmetic, then round to 15 significant
//!   digits to approximate sprig's decimal arithmetic (`addf 0.1 0.2` = `0.3`);
//! - error messages follow Go's shape (`template: line:1:3: executing "line" at <…>: …`)
//!   but their exact wording may differ.
//!
//! Fast path: a template made only of text and `{{.name}}` actions renders by copying,
//! without the interpreter.

mod exec;
mod funcs;
pub mod gotime;
mod lexer;
mod parse;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::labels::LabelsBuilder;
pub use gotime::GoTime;

/// Why a template failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// At parse time (the query is invalid).
    #[error("{0}")]
    Parse(String),
    /// At run time (the entry gets `__error__="TemplateFormatErr"`).
    #[error("{0}")]
    Exec(String),
}

/// Where a template reads labels from.
pub trait LabelLookup {
    /// The value of a label, if present.
    fn get(&self, name: &str) -> Option<&str>;
    /// Visits every label (any order).
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str));
}

impl LabelLookup for LabelsBuilder {
    fn get(&self, name: &str) -> Option<&str> {
        LabelsBuilder::get(self, name)
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        self.for_each(f);
    }
}

impl LabelLookup for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        for (n, v) in self {
            f(n, v);
        }
    }
}

impl LabelLookup for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        for (n, v) in self {
            f(n, v);
        }
    }
}

impl<T: LabelLookup + ?Sized> LabelLookup for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        (**self).for_each_label(f);
    }
}

impl<const N: usize> LabelLookup for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        LabelLookup::get(&self[..], name)
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        self[..].for_each_label(f);
    }
}

impl LabelLookup for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        LabelLookup::get(&self[..], name)
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        self[..].for_each_label(f);
    }
}

impl LabelLookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        for (n, v) in self {
            f(n, v);
        }
    }
}

/// What a template renders against: the labels, the current line and timestamp.
pub struct TemplateContext<'a> {
    /// The entry's labels (`.`).
    pub labels: &'a dyn LabelLookup,
    /// The current line (`__line__`).
    pub line: &'a [u8],
    /// The entry's timestamp in Unix nanoseconds (`__timestamp__`).
    pub ts_ns: i64,
}

impl std::fmt::Debug for TemplateContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateContext")
            .field("line", &String::from_utf8_lossy(self.line))
            .field("ts_ns", &self.ts_ns)
            .finish_non_exhaustive()
    }
}

/// A dynamically typed template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (`nil`, a missing key of a map from `fromJson`).
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (Go `int`/`int64`).
    Int(i64),
    /// A float (Go `float64`).
    Float(f64),
    /// A string.
    Str(String),
    /// A point in time (Go `time.Time`).
    Time(GoTime),
    /// A map with string keys (from `fromJson`).
    Map(BTreeMap<String, Value>),
    /// A list (from `fromJson`).
    List(Vec<Value>),
    /// The label map of the entry (`.` at the top level).
    Labels,
}

impl Value {
    /// Go's truth: false, 0, nil, and empty strings/maps/lists are false.
    pub(crate) fn truthy(&self, ctx: &TemplateContext<'_>) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Time(_) => true,
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Labels => {
                let mut any = false;
                ctx.labels.for_each_label(&mut |_, _| any = true);
                any
            }
        }
    }

    /// Go's type name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Time(_) => "time.Time",
            Value::Map(_) => "map[string]interface {}",
            Value::List(_) => "[]interface {}",
            Value::Labels => "map[string]string",
        }
    }
}

/// Appends `v` as Go's `fmt.Print` shows it.
pub(crate) fn write_value(out: &mut String, v: &Value, ctx: &TemplateContext<'_>) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_float_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::Time(t) => out.push_str(&t.to_go_string()),
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if *v == Value::Nil {
                    out.push_str("<nil>");
                } else {
                    write_value(out, v, ctx);
                }
            }
            out.push(']');
        }
        Value::List(l) => {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                if *v == Value::Nil {
                    out.push_str("<nil>");
                } else {
                    write_value(out, v, ctx);
                }
            }
            out.push(']');
        }
        Value::Labels => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            ctx.labels
                .for_each_label(&mut |n, v| pairs.push((n.to_string(), v.to_string())));
            pairs.sort();
            out.push_str("map[");
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                out.push_str(v);
            }
            out.push(']');
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `fmt`'s `%v` uses.
///
/// ```
/// use logjar_logql::eval::template::format_float_g;
/// assert_eq!(format_float_g(1.5), "1.5");
/// assert_eq!(format_float_g(100000.0), "100000");
/// assert_eq!(format_float_g(1e6), "1e+06");
/// assert_eq!(format_float_g(1.2345678e-5), "1.2345678e-05");
/// ```
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{f:e}"); // shortest digits: "-1.2345e6"
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // Shortest formatting decides with a precision of 6.
    if !(-4..6).contains(&exp) {
        return go_exp(mant, exp);
    }
    format!("{f}")
}

fn go_exp(mant: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<parse::Node>,
    /// Set when the template is only text and `{{.name}}` actions.
    simple: Option<Vec<Simple>>,
}

#[derive(Debug, Clone)]
enum Simple {
    Text(String),
    Label(String),
}

impl Template {
    /// Parses a `line_format` template (errors name it `line`, as Loki does).
    ///
    /// ```
    /// use logjar_logql::eval::template::{Template, TemplateContext};
    /// let t = Template::parse(r#"{{ .level | upper }}: {{ printf "%-5s|%03d" .app 7 }}"#).unwrap();
    /// let labels = [("level", "warn"), ("app", "api")];
    /// let ctx = TemplateContext { labels: &labels, line: b"", ts_ns: 0 };
    /// let mut out = String::new();
    /// t.render(&ctx, &mut out).unwrap();
    /// assert_eq!(out, "WARN: api  |007");
    /// assert!(Template::parse("{{ nope .x }}").is_err());
    /// ```
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        Self::parse_named("line", src)
    }

    /// Parses a template whose error messages carry `name` (`label` for label_format).
    pub fn parse_named(name: &str, src: &str) -> Result<Self, TemplateError> {
        let items = lexer::lex(name, src)?;
        let nodes = parse::parse(name, src, items)?;
        let simple = simple_form(&nodes);
        Ok(Template {
            name: name.to_string(),
            nodes,
            simple,
        })
    }

    /// If the template is exactly `{{.name}}`, the label name (Loki copies the value).
    pub fn simple_key(&self) -> Option<&str> {
        match self.simple.as_deref() {
            Some([Simple::Label(n)]) => Some(n),
            _ => None,
        }
    }

    /// The label names the template references as `.name` (for parser hints).
    pub fn referenced_labels(&self) -> Vec<String> {
        let mut out = Vec::new();
        exec::collect_fields(&self.nodes, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Renders into `out` (appending).
    pub fn render(&self, ctx: &TemplateContext<'_>, out: &mut String) -> Result<(), TemplateError> {
        if let Some(parts) = &self.simple {
            for p in parts {
                match p {
                    Simple::Text(t) => out.push_str(t),
                    Simple::Label(n) => out.push_str(ctx.labels.get(n).unwrap_or("")),
                }
            }
            return Ok(());
        }
        let start = out.len();
        let r = exec::Exec::new(&self.name, ctx, out).run(&self.nodes);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// Renders to a new string.
    pub fn render_to_string(&self, ctx: &TemplateContext<'_>) -> Result<String, TemplateError> {
        let mut s = String::new();
        self.render(ctx, &mut s)?;
        Ok(s)
    }
}

fn simple_form(nodes: &[parse::Node]) -> Option<Vec<Simple>> {
    let mut out = Vec::new();
    for n in nodes {
        match n {
            parse::Node::Text(t) => out.push(Simple::Text(t.clone())),
            parse::Node::Action(p)
                if p.vars.is_empty() && p.cmds.len() == 1 && p.cmds[0].args.len() == 1 =>
            {
                match &p.cmds[0].args[0] {
                    parse::Arg::Field(f) if f.len() == 1 => out.push(Simple::Label(f[0].clone())),
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
