//! Template functions: Go builtins, Loki's own and the sprig subset Loki exposes.

use std::collections::BTreeMap;

use super::gotime::{zone_by_name, GoTime};
use super::{format_float_g, write_value, TemplateContext, Value};
use crate::units::{parse_bytes, parse_go_duration};

/// A failing call: `Call` is wrapped as `error calling f: …`, `Type` is shown as is.
pub(crate) enum FuncError {
    Call(String),
    Type(String),
}

const FUNCS: &[&str] = &[
    // Go builtins
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "js",
    "urlquery",
    "call",
    // Loki
    "__line__",
    "__timestamp__",
    "ToLower",
    "ToUpper",
    "Replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "count",
    "urldecode",
    "urlencode",
    "bytes",
    "duration",
    "duration_seconds",
    "unixEpochMillis",
    "unixEpochNanos",
    "toDateInZone",
    "unixToTime",
    "alignLeft",
    "alignRight",
    // sprig subset
    "b64enc",
    "b64dec",
    "lower",
    "upper",
    "title",
    "trunc",
    "substr",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "nindent",
    "replace",
    "repeat",
    "trim",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "int",
    "float64",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "fromJson",
    "date",
    "toDate",
    "now",
    "unixEpoch",
    "default",
];

pub(crate) fn is_known_function(name: &str) -> bool {
    FUNCS.contains(&name)
}

type R = Result<Value, FuncError>;

fn type_err(expected: &str, got: &Value) -> FuncError {
    FuncError::Type(format!(
        "wrong type for value; expected {expected}; got {}",
        got.type_name()
    ))
}

fn arity(name: &str, args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() != want {
        return Err(FuncError::Type(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn at_least(name: &str, args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() < want {
        return Err(FuncError::Type(format!(
            "wrong number of args for {name}: want at least {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn s(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(type_err("string", other)),
    }
}

fn int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
        other => Err(type_err("int", other)),
    }
}

fn time(v: &Value) -> Result<&GoTime, FuncError> {
    match v {
        Value::Time(t) => Ok(t),
        other => Err(type_err("time.Time", other)),
    }
}

/// spf13/cast `ToInt64`: failures give 0.
fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = s.strip_suffix(".0").map_or(s.as_str(), |x| {
                if x.bytes()
                    .all(|c| c.is_ascii_digit() || c == b'-' || c == b'+')
                {
                    x
                } else {
                    s
                }
            });
            match super::lexer::parse_number(t) {
                Some(super::lexer::Tok::Int(i)) if !t.contains('_') => i,
                _ => 0,
            }
        }
        _ => 0,
    }
}

/// spf13/cast `ToFloat64`: failures give 0.
fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_go_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms (plus `inf`/`nan`).
fn parse_go_float(s: &str) -> Option<f64> {
    let l = s.to_ascii_lowercase();
    let body = l.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return l.parse().ok();
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn show(v: &Value, ctx: &TemplateContext<'_>) -> String {
    let mut out = String::new();
    write_value(&mut out, v, ctx);
    out
}

/// `fmt.Sprint`: spaces between operands when neither is a string.
fn sprint(args: &[Value], ctx: &TemplateContext<'_>) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        if *a == Value::Nil {
            out.push_str("<nil>");
        } else {
            write_value(&mut out, a, ctx);
        }
    }
    out
}

pub(crate) fn call(name: &str, args: Vec<Value>, ctx: &TemplateContext<'_>) -> R {
    let a = &args[..];
    let str_fn = |f: &dyn Fn(&str) -> String| -> R {
        arity(name, a, 1)?;
        Ok(Value::Str(f(s(&a[0])?)))
    };
    match name {
        // ---- Go builtins
        "not" => {
            arity(name, a, 1)?;
            Ok(Value::Bool(!a[0].truthy(ctx)))
        }
        "len" => {
            arity(name, a, 1)?;
            match &a[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                Value::List(l) => Ok(Value::Int(l.len() as i64)),
                Value::Labels => {
                    let mut n = 0;
                    ctx.labels.for_each_label(&mut |_, _| n += 1);
                    Ok(Value::Int(n))
                }
                other => Err(FuncError::Call(format!(
                    "len of type {}",
                    other.type_name()
                ))),
            }
        }
        "index" => {
            at_least(name, a, 1)?;
            let mut v = a[0].clone();
            for k in &a[1..] {
                v = match (v, k) {
                    (Value::Labels, Value::Str(k)) => {
                        Value::Str(ctx.labels.get(k).unwrap_or("").to_string())
                    }
                    (Value::Map(mut m), Value::Str(k)) => m.remove(k).unwrap_or(Value::Nil),
                    (Value::List(l), Value::Int(i)) => {
                        if *i < 0 || *i as usize >= l.len() {
                            return Err(FuncError::Call(format!("index out of range: {i}")));
                        }
                        l[*i as usize].clone()
                    }
                    (Value::Str(s), Value::Int(i)) => {
                        if *i < 0 || *i as usize >= s.len() {
                            return Err(FuncError::Call(format!("index out of range: {i}")));
                        }
                        Value::Int(i64::from(s.as_bytes()[*i as usize]))
                    }
                    (Value::Nil, _) => return Err(FuncError::Call("index of untyped nil".into())),
                    (v, k) => {
                        return Err(FuncError::Call(format!(
                            "cannot index {} with {}",
                            v.type_name(),
                            k.type_name()
                        )))
                    }
                };
            }
            Ok(v)
        }
        "slice" => {
            at_least(name, a, 1)?;
            let idx: Vec<i64> = a[1..].iter().map(int).collect::<Result<_, _>>()?;
            if idx.len() > 2 {
                return Err(FuncError::Call("too many slice indexes".into()));
            }
            let len = match &a[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                other => {
                    return Err(FuncError::Call(format!(
                        "can't slice item of type {}",
                        other.type_name()
                    )))
                }
            } as i64;
            let lo = idx.first().copied().unwrap_or(0);
            let hi = idx.get(1).copied().unwrap_or(len);
            if lo < 0 || hi < lo || hi > len {
                return Err(FuncError::Call(format!("index out of range: {lo}:{hi}")));
            }
            Ok(match &a[0] {
                Value::Str(s) => Value::Str(
                    String::from_utf8_lossy(&s.as_bytes()[lo as usize..hi as usize]).into_owned(),
                ),
                Value::List(l) => Value::List(l[lo as usize..hi as usize].to_vec()),
                _ => Value::Nil,
            })
        }
        "print" => Ok(Value::Str(sprint(a, ctx))),
        "println" => {
            let mut out = String::new();
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                if *v == Value::Nil {
                    out.push_str("<nil>");
                } else {
                    write_value(&mut out, v, ctx);
                }
            }
            out.push('\n');
            Ok(Value::Str(out))
        }
        "printf" => {
            at_least(name, a, 1)?;
            Ok(Value::Str(sprintf(s(&a[0])?, &a[1..], ctx)))
        }
        "html" => Ok(Value::Str(html_escape(&escaper_arg(a, ctx)))),
        "js" => Ok(Value::Str(js_escape(&escaper_arg(a, ctx)))),
        "urlquery" => Ok(Value::Str(query_escape(&escaper_arg(a, ctx)))),
        "call" => Err(FuncError::Call("call of nil".into())),
        "eq" => {
            at_least(name, a, 2)?;
            for b in &a[1..] {
                if compare(&a[0], b)? == std::cmp::Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, a, 2)?;
            if name != "ne" && matches!(a[0], Value::Bool(_)) {
                return Err(FuncError::Call("invalid type for comparison".into()));
            }
            let o = compare(&a[0], &a[1])?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        // ---- Loki
        "__line__" => {
            arity(name, a, 0)?;
            Ok(Value::Str(String::from_utf8_lossy(ctx.line).into_owned()))
        }
        "__timestamp__" => {
            arity(name, a, 0)?;
            Ok(Value::Time(GoTime::from_unix_nanos(ctx.ts_ns)))
        }
        "ToLower" | "lower" => str_fn(&|x| x.to_lowercase()),
        "ToUpper" | "upper" => str_fn(&|x| x.to_uppercase()),
        "TrimSpace" | "trim" => str_fn(&|x| x.trim().to_string()),
        "title" => str_fn(&title),
        "b64enc" => str_fn(&|x| b64_encode(x.as_bytes())),
        "b64dec" => str_fn(&|x| match b64_decode(x) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(pos) => format!("illegal base64 data at input byte {pos}"),
        }),
        "urlencode" => str_fn(&query_escape),
        "Replace" => {
            arity(name, a, 4)?;
            let (src, old, new, n) = (s(&a[0])?, s(&a[1])?, s(&a[2])?, int(&a[3])?);
            Ok(Value::Str(if n < 0 {
                src.replace(old, new)
            } else {
                src.replacen(old, new, n as usize)
            }))
        }
        "Trim" | "TrimLeft" | "TrimRight" | "trimAll" => {
            arity(name, a, 2)?;
            let (src, cut) = if name == "trimAll" {
                (s(&a[1])?, s(&a[0])?)
            } else {
                (s(&a[0])?, s(&a[1])?)
            };
            let set = |c: char| cut.contains(c);
            Ok(Value::Str(match name {
                "TrimLeft" => src.trim_start_matches(set).to_string(),
                "TrimRight" => src.trim_end_matches(set).to_string(),
                _ => src.trim_matches(set).to_string(),
            }))
        }
        "TrimPrefix" | "TrimSuffix" | "trimPrefix" | "trimSuffix" => {
            arity(name, a, 2)?;
            let (src, affix) = if name.starts_with('T') {
                (s(&a[0])?, s(&a[1])?)
            } else {
                (s(&a[1])?, s(&a[0])?)
            };
            Ok(Value::Str(if name.ends_with("Prefix") {
                src.strip_prefix(affix).unwrap_or(src).to_string()
            } else {
                src.strip_suffix(affix).unwrap_or(src).to_string()
            }))
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            arity(name, a, 3)?;
            let re = regex::Regex::new(s(&a[0])?).map_err(|e| FuncError::Call(e.to_string()))?;
            let (src, repl) = (s(&a[1])?, s(&a[2])?);
            Ok(Value::Str(if name == "regexReplaceAll" {
                re.replace_all(src, repl).into_owned()
            } else {
                re.replace_all(src, regex::NoExpand(repl)).into_owned()
            }))
        }
        "count" => {
            arity(name, a, 2)?;
            let re = regex::Regex::new(s(&a[0])?).map_err(|e| FuncError::Call(e.to_string()))?;
            Ok(Value::Int(re.find_iter(s(&a[1])?).count() as i64))
        }
        "urldecode" => {
            arity(name, a, 1)?;
            query_unescape(s(&a[0])?)
                .map(Value::Str)
                .map_err(FuncError::Call)
        }
        "bytes" => {
            arity(name, a, 1)?;
            let v = s(&a[0])?;
            parse_bytes(v)
                .map(|b| Value::Float(b as f64))
                .ok_or_else(|| {
                    FuncError::Call(format!(
                        "strconv.ParseFloat: parsing {}: invalid syntax",
                        go_quote(v)
                    ))
                })
        }
        "duration" | "duration_seconds" => {
            arity(name, a, 1)?;
            let v = s(&a[0])?;
            parse_go_duration(v)
                .map(|ns| Value::Float(ns as f64 / 1e9))
                .ok_or_else(|| FuncError::Call(format!("time: invalid duration {}", go_quote(v))))
        }
        "unixEpochMillis" => {
            arity(name, a, 1)?;
            Ok(Value::Str(time(&a[0])?.unix_millis().to_string()))
        }
        "unixEpochNanos" => {
            arity(name, a, 1)?;
            Ok(Value::Str(time(&a[0])?.unix_nanos().to_string()))
        }
        "unixEpoch" => {
            arity(name, a, 1)?;
            Ok(Value::Str(time(&a[0])?.secs.to_string()))
        }
        "unixToTime" => {
            arity(name, a, 1)?;
            let v = s(&a[0])?;
            let n: i64 = v.parse().map_err(|_| {
                FuncError::Call(format!(
                    "unable to parse time '{v}': strconv.ParseInt: parsing {}: invalid syntax",
                    go_quote(v)
                ))
            })?;
            let t = match v.len() {
                5 => GoTime::from_unix(n.saturating_mul(86_400), 0),
                10 => GoTime::from_unix(n, 0),
                13 => GoTime::from_unix(0, n.saturating_mul(1_000_000)),
                16 => GoTime::from_unix(0, n.saturating_mul(1000)),
                19 => GoTime::from_unix(0, n),
                _ => {
                    return Err(FuncError::Call(format!(
                        "unable to parse time '{v}': %!w(<nil>)"
                    )))
                }
            };
            Ok(Value::Time(t))
        }
        "toDateInZone" => {
            arity(name, a, 3)?;
            let (layout, zone, v) = (s(&a[0])?, s(&a[1])?, s(&a[2])?);
            let (off, abbr) = zone_by_name(zone);
            Ok(Value::Time(
                GoTime::parse_in(layout, v, off, &abbr).unwrap_or_else(GoTime::zero),
            ))
        }
        "toDate" => {
            arity(name, a, 2)?;
            Ok(Value::Time(
                GoTime::parse_in(s(&a[0])?, s(&a[1])?, 0, "UTC").unwrap_or_else(GoTime::zero),
            ))
        }
        "date" => {
            arity(name, a, 2)?;
            let layout = s(&a[0])?;
            let t = match &a[1] {
                Value::Time(t) => t.clone(),
                Value::Int(i) => GoTime::from_unix(*i, 0),
                _ => now(),
            };
            Ok(Value::Str(t.in_zone(0, "UTC").format(layout)))
        }
        "now" => {
            arity(name, a, 0)?;
            Ok(Value::Time(now()))
        }
        "alignLeft" | "alignRight" => {
            arity(name, a, 2)?;
            let (count, src) = (int(&a[0])?, s(&a[1])?);
            let l = src.chars().count() as i64;
            if count < 0 || count == l {
                return Ok(Value::Str(src.to_string()));
            }
            let pad = count - l;
            Ok(Value::Str(if pad > 0 {
                let p = " ".repeat(pad as usize);
                if name == "alignLeft" {
                    format!("{src}{p}")
                } else {
                    format!("{p}{src}")
                }
            } else if name == "alignLeft" {
                src.chars().take(count as usize).collect()
            } else {
                src.chars().skip((l - count) as usize).collect()
            }))
        }
        // ---- sprig
        "trunc" => {
            arity(name, a, 2)?;
            let (c, src) = (int(&a[0])?, s(&a[1])?);
            let chars: Vec<char> = src.chars().collect();
            let l = chars.len() as i64;
            Ok(Value::Str(if c < 0 && l + c > 0 {
                chars[(l + c) as usize..].iter().collect()
            } else if c >= 0 && l > c {
                chars[..c as usize].iter().collect()
            } else {
                src.to_string()
            }))
        }
        "substr" => {
            arity(name, a, 3)?;
            let (mut start, mut end, src) = (int(&a[0])?, int(&a[1])?, s(&a[2])?);
            let chars: Vec<char> = src.chars().collect();
            let l = chars.len() as i64;
            end = end.min(l);
            start = start.min(l);
            Ok(Value::Str(if start < 0 {
                if end < 0 {
                    String::new()
                } else {
                    chars[..end as usize].iter().collect()
                }
            } else if end < 0 {
                chars[start as usize..].iter().collect()
            } else if start > end {
                String::new()
            } else {
                chars[start as usize..end as usize].iter().collect()
            }))
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            arity(name, a, 2)?;
            let (needle, hay) = (s(&a[0])?, s(&a[1])?);
            Ok(Value::Bool(match name {
                "contains" => hay.contains(needle),
                "hasPrefix" => hay.starts_with(needle),
                _ => hay.ends_with(needle),
            }))
        }
        "indent" | "nindent" => {
            arity(name, a, 2)?;
            let (n, src) = (int(&a[0])?, s(&a[1])?);
            let pad = " ".repeat(n.clamp(0, 1 << 16) as usize);
            let body = format!("{pad}{}", src.replace('\n', &format!("\n{pad}")));
            Ok(Value::Str(if name == "nindent" {
                format!("\n{body}")
            } else {
                body
            }))
        }
        "replace" => {
            arity(name, a, 3)?;
            Ok(Value::Str(s(&a[2])?.replace(s(&a[0])?, s(&a[1])?)))
        }
        "repeat" => {
            arity(name, a, 2)?;
            let (n, src) = (int(&a[0])?, s(&a[1])?);
            if n < 0 {
                return Err(FuncError::Call("strings: negative Repeat count".into()));
            }
            if (n as u128) * (src.len() as u128) > 64 << 20 {
                return Err(FuncError::Call(
                    "strings: Repeat output length overflow".into(),
                ));
            }
            Ok(Value::Str(src.repeat(n as usize)))
        }
        "int" => {
            arity(name, a, 1)?;
            Ok(Value::Int(to_i64(&a[0])))
        }
        "float64" => {
            arity(name, a, 1)?;
            Ok(Value::Float(to_f64(&a[0])))
        }
        "add" => Ok(Value::Int(
            a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_i64(v))),
        )),
        "sub" | "div" | "mod" => {
            arity(name, a, 2)?;
            let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
            if name != "sub" && y == 0 {
                return Err(FuncError::Call(
                    "runtime error: integer divide by zero".into(),
                ));
            }
            Ok(Value::Int(match name {
                "sub" => x.wrapping_sub(y),
                "div" => x.wrapping_div(y),
                _ => x.wrapping_rem(y),
            }))
        }
        "mul" => {
            at_least(name, a, 1)?;
            Ok(Value::Int(
                a[1..]
                    .iter()
                    .fold(to_i64(&a[0]), |acc, v| acc.wrapping_mul(to_i64(v))),
            ))
        }
        "max" | "min" => {
            at_least(name, a, 1)?;
            let it = a.iter().map(to_i64);
            Ok(Value::Int(
                if name == "max" { it.max() } else { it.min() }.unwrap_or(0),
            ))
        }
        "maxf" | "minf" => {
            at_least(name, a, 1)?;
            let mut acc = to_f64(&a[0]);
            for v in &a[1..] {
                let x = to_f64(v);
                acc = if name == "maxf" {
                    go_max(acc, x)
                } else {
                    go_min(acc, x)
                };
            }
            Ok(Value::Float(acc))
        }
        "addf" | "subf" | "mulf" | "divf" => {
            let (first, rest) = if name == "addf" {
                (0.0, a)
            } else {
                at_least(name, a, 1)?;
                (to_f64(&a[0]), &a[1..])
            };
            let mut acc = Dec::from_f64(first);
            for v in rest {
                let y = Dec::from_f64(to_f64(v));
                acc = match name {
                    "addf" => acc.add(&y),
                    "subf" => acc.add(&y.neg()),
                    "mulf" => acc.mul(&y),
                    _ => {
                        if y.is_zero() {
                            return Err(FuncError::Call("decimal division by zero".into()));
                        }
                        acc.div(&y)
                    }
                };
            }
            Ok(Value::Float(acc.to_f64()))
        }
        "ceil" | "floor" => {
            arity(name, a, 1)?;
            let x = to_f64(&a[0]);
            Ok(Value::Float(if name == "ceil" {
                x.ceil()
            } else {
                x.floor()
            }))
        }
        "round" => {
            at_least(name, a, 2)?;
            let val = to_f64(&a[0]);
            let places = int(&a[1])?;
            let round_on = a.get(2).map_or(0.5, to_f64);
            let pow = 10f64.powi(places.clamp(-400, 400) as i32);
            let digit = pow * val;
            let div = digit.fract();
            let r = if div >= round_on {
                digit.ceil()
            } else {
                digit.floor()
            };
            Ok(Value::Float(r / pow))
        }
        "fromJson" => {
            arity(name, a, 1)?;
            Ok(serde_json::from_str::<serde_json::Value>(s(&a[0])?)
                .map(|j| from_json(&j, 0))
                .unwrap_or(Value::Nil))
        }
        "default" => {
            at_least(name, a, 1)?;
            match a.get(1) {
                Some(g) if !is_empty(g, ctx) => Ok(g.clone()),
                _ => Ok(a[0].clone()),
            }
        }
        _ => Err(FuncError::Call(format!("function {name:?} not defined"))),
    }
}

fn now() -> GoTime {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    GoTime::from_unix(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn is_empty(v: &Value, ctx: &TemplateContext<'_>) -> bool {
    match v {
        Value::Time(_) => false,
        other => !other.truthy(ctx),
    }
}

fn from_json(j: &serde_json::Value, depth: usize) -> Value {
    if depth > 128 {
        return Value::Nil;
    }
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => {
            Value::List(a.iter().map(|x| from_json(x, depth + 1)).collect())
        }
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), from_json(v, depth + 1)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, FuncError> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Ok(x.cmp(y)),
        (Float(x), Float(y)) => Ok(x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Less)),
        (Str(x), Str(y)) => Ok(x.cmp(y)),
        (Bool(x), Bool(y)) => Ok(x.cmp(y)),
        (Nil, Nil) => Ok(std::cmp::Ordering::Equal),
        (Int(_) | Float(_) | Str(_) | Bool(_), Int(_) | Float(_) | Str(_) | Bool(_)) => {
            Err(FuncError::Call("incompatible types for comparison".into()))
        }
        _ => Err(FuncError::Call("invalid type for comparison".into())),
    }
}

fn escaper_arg(a: &[Value], ctx: &TemplateContext<'_>) -> String {
    match a {
        [Value::Str(s)] => s.clone(),
        _ => sprint(a, ctx),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|c| hex(*c)),
                    b.get(i + 2).and_then(|c| hex(*c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        return Err(format!(
                            "invalid URL escape {}",
                            go_quote(&String::from_utf8_lossy(&b[i..end]))
                        ));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's deprecated `strings.Title`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !(c.is_alphanumeric()) && c.is_whitespace()
        };
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding, ignoring `\r`/`\n` like Go; `Err(pos)` of the bad byte.
fn b64_decode(s: &str) -> Result<Vec<u8>, usize> {
    let clean: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, c)| *c != b'\r' && *c != b'\n')
        .collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    for (ci, quad) in clean.chunks(4).enumerate() {
        let last = (ci + 1) * 4 >= clean.len();
        let mut n = 0u32;
        let mut got = 0;
        for (k, (pos, c)) in quad.iter().enumerate() {
            if *c == b'=' {
                if !last || k < 2 || quad[k..].iter().any(|(_, x)| *x != b'=') || quad.len() != 4 {
                    return Err(*pos);
                }
                break;
            }
            n |= val(*c).ok_or(*pos)? << (18 - 6 * k);
            got += 1;
        }
        if got < 2 || (quad.len() < 4 && quad.iter().all(|(_, c)| *c != b'=')) {
            return Err(quad.last().map_or(s.len(), |(p, _)| *p + 1).min(s.len()));
        }
        out.push((n >> 16) as u8);
        if got > 2 {
            out.push((n >> 8) as u8);
        }
        if got > 3 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

/// A small decimal for sprig's `addf`/`subf`/`mulf`/`divf`: `m × 10^e`.
#[derive(Debug, Clone, Copy)]
struct Dec {
    m: i128,
    e: i32,
    /// Fallback when the value does not fit.
    f: Option<f64>,
}

impl Dec {
    fn from_f64(x: f64) -> Dec {
        if !x.is_finite() {
            return Dec {
                m: 0,
                e: 0,
                f: Some(x),
            };
        }
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let neg = mant.starts_with('-');
        let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
        let frac_len = mant.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
        match digits.parse::<i128>() {
            Ok(m) => Dec {
                m: if neg { -m } else { m },
                e: exp - frac_len,
                f: None,
            },
            Err(_) => Dec {
                m: 0,
                e: 0,
                f: Some(x),
            },
        }
    }

    fn value(&self) -> f64 {
        self.f
            .unwrap_or_else(|| format!("{}e{}", self.m, self.e).parse().unwrap_or(0.0))
    }

    fn is_zero(&self) -> bool {
        self.value() == 0.0
    }

    fn fallback(v: f64) -> Dec {
        Dec {
            m: 0,
            e: 0,
            f: Some(v),
        }
    }

    fn neg(&self) -> Dec {
        Dec {
            m: -self.m,
            e: self.e,
            f: self.f.map(|v| -v),
        }
    }

    fn scale(m: i128, by: i32) -> Option<i128> {
        if !(0..=38).contains(&by) {
            return None;
        }
        m.checked_mul(10i128.checked_pow(by as u32)?)
    }

    fn add(&self, o: &Dec) -> Dec {
        if self.f.is_some() || o.f.is_some() {
            return Dec::fallback(self.value() + o.value());
        }
        let e = self.e.min(o.e);
        match (Dec::scale(self.m, self.e - e), Dec::scale(o.m, o.e - e)) {
            (Some(a), Some(b)) => match a.checked_add(b) {
                Some(m) => Dec { m, e, f: None },
                None => Dec::fallback(self.value() + o.value()),
            },
            _ => Dec::fallback(self.value() + o.value()),
        }
    }

    fn mul(&self, o: &Dec) -> Dec {
        if self.f.is_some() || o.f.is_some() {
            return Dec::fallback(self.value() * o.value());
        }
        match self.m.checked_mul(o.m) {
            Some(m) => Dec {
                m,
                e: self.e + o.e,
                f: None,
            },
            None => Dec::fallback(self.value() * o.value()),
        }
    }

    /// Division rounded half away from zero to 16 decimal places (shopspring's default).
    fn div(&self, o: &Dec) -> Dec {
        if self.f.is_some() || o.f.is_some() {
            return Dec::fallback(self.value() / o.value());
        }
        // result = (m1/m2) × 10^(e1-e2); we want it as q × 10^-16
        let shift = self.e - o.e + 16;
        let num = if shift >= 0 {
            Dec::scale(self.m, shift)
        } else {
            None
        };
        let (Some(n), d) = (num, o.m) else {
            return Dec::fallback(self.value() / o.value());
        };
        let mut q = n / d;
        let r = n % d;
        if r.unsigned_abs() * 2 >= d.unsigned_abs() {
            q += if (n < 0) != (d < 0) { -1 } else { 1 };
        }
        Dec {
            m: q,
            e: -16,
            f: None,
        }
    }

    fn to_f64(self) -> f64 {
        self.value()
    }
}

/// Go's `fmt.Sprintf` for the common verbs.
fn sprintf(format: &str, args: &[Value], ctx: &TemplateContext<'_>) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut minus = false;
        let mut plus = false;
        let mut zero = false;
        let mut space = false;
        let mut sharp = false;
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            chars.next();
        }
        let read_num = |chars: &mut std::iter::Peekable<std::str::CharIndices>,
                        argi: &mut usize|
         -> Option<usize> {
            if let Some(&(_, '*')) = chars.peek() {
                chars.next();
                let v = args.get(*argi).and_then(|v| {
                    if let Value::Int(i) = v {
                        Some(*i)
                    } else {
                        None
                    }
                });
                *argi += 1;
                return v.map(|i| i.clamp(0, 1 << 20) as usize);
            }
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(dv) = d.to_digit(10) else { break };
                n = Some(
                    n.unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(dv as usize)
                        .min(1 << 20),
                );
                chars.next();
            }
            n
        };
        let width = read_num(&mut chars, &mut argi);
        let mut prec = None;
        if let Some(&(_, '.')) = chars.peek() {
            chars.next();
            prec = Some(read_num(&mut chars, &mut argi).unwrap_or(0));
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let bad = |v: &Value| format!("%!{verb}({}={})", v.type_name(), show(v, ctx));
        let mut body = match (verb, arg) {
            (_, Value::Nil) if verb != 'v' => format!("%!{verb}(<nil>)"),
            ('v', Value::Nil) => "<nil>".to_string(),
            ('v', Value::Float(f)) if prec.is_some() => fmt_g(*f, prec, sharp),
            ('v', v) => show(v, ctx),
            ('s', Value::Str(s)) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('s', Value::Time(_) | Value::Map(_) | Value::List(_) | Value::Labels) => {
                show(arg, ctx)
            }
            ('q', Value::Str(s)) => go_quote(s),
            ('q', Value::Int(i)) => match char::from_u32(*i as u32) {
                Some(c) => format!("'{c}'"),
                None => bad(arg),
            },
            ('t', Value::Bool(b)) => b.to_string(),
            ('d', Value::Int(i)) => i.to_string(),
            ('c', Value::Int(i)) => {
                char::from_u32(*i as u32).map_or_else(|| "\u{FFFD}".to_string(), |c| c.to_string())
            }
            ('x', Value::Int(i)) => with_sign(
                *i < 0,
                format!("{:x}", i.unsigned_abs()),
                sharp.then_some("0x"),
            ),
            ('X', Value::Int(i)) => with_sign(
                *i < 0,
                format!("{:X}", i.unsigned_abs()),
                sharp.then_some("0X"),
            ),
            ('o', Value::Int(i)) => with_sign(
                *i < 0,
                format!("{:o}", i.unsigned_abs()),
                sharp.then_some("0"),
            ),
            ('b', Value::Int(i)) => with_sign(*i < 0, format!("{:b}", i.unsigned_abs()), None),
            ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
            ('f' | 'F', Value::Float(f)) => format!("{:.*}", prec.unwrap_or(6), f),
            ('e' | 'E', Value::Float(f)) => {
                let s = fmt_e(*f, prec.unwrap_or(6));
                if verb == 'E' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            ('g' | 'G', Value::Float(f)) => {
                let s = fmt_g(*f, prec, sharp);
                if verb == 'G' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            _ => bad(arg),
        };
        let numeric = matches!(arg, Value::Int(_) | Value::Float(_)) && !body.starts_with("%!");
        if numeric && !body.starts_with('-') {
            if plus {
                body.insert(0, '+');
            } else if space {
                body.insert(0, ' ');
            }
        }
        if let Some(w) = width {
            let len = body.chars().count();
            if len < w {
                let pad = w - len;
                if minus {
                    body.push_str(&" ".repeat(pad));
                } else if zero && numeric {
                    let sign_len = usize::from(body.starts_with(['-', '+', ' ']));
                    body.insert_str(sign_len, &"0".repeat(pad));
                } else {
                    body.insert_str(0, &" ".repeat(pad));
                }
            }
        }
        out.push_str(&body);
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|v| format!("{}={}", v.type_name(), show(v, ctx)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn with_sign(neg: bool, digits: String, prefix: Option<&str>) -> String {
    format!(
        "{}{}{}",
        if neg { "-" } else { "" },
        prefix.unwrap_or(""),
        digits
    )
}

/// `%e` with `prec` digits after the point: `1.234560e+06`.
fn fmt_e(f: f64, prec: usize) -> String {
    if !f.is_finite() {
        return format_float_g(f);
    }
    let s = format!("{:.*e}", prec, f);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// `%g` with an optional precision (significant digits).
fn fmt_g(f: f64, prec: Option<usize>, sharp: bool) -> String {
    let Some(p) = prec else {
        return format_float_g(f);
    };
    if !f.is_finite() {
        return format_float_g(f);
    }
    let p = p.max(1);
    let s = format!("{:.*e}", p - 1, f);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    let neg = m.starts_with('-');
    let mut digits: String = m.chars().filter(char::is_ascii_digit).collect();
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let nd = digits.len() as i32;
    let mut eprec = p as i32;
    if eprec > nd && nd > exp {
        eprec = nd;
    }
    let sign = if neg { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        return format!(
            "{sign}{mant}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    // fixed notation with the digits placed around the decimal point
    let dp = exp + 1;
    let out = if dp <= 0 {
        format!("0.{}{}", "0".repeat((-dp) as usize), digits)
    } else if dp as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(dp as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    };
    format!("{sign}{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "日本"] {
            let e = b64_encode(s.as_bytes());
            assert_eq!(b64_decode(&e).unwrap(), s.as_bytes(), "{s}");
        }
        assert_eq!(b64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64_encode(b"fo"), "Zm8=");
        assert!(b64_decode("Zm9v!").is_err());
        assert_eq!(b64_decode("Zm9").unwrap_err(), 3);
    }

    #[test]
    fn decimal_ops() {
        let d = |x: f64| Dec::from_f64(x);
        assert_eq!(d(0.1).add(&d(0.2)).to_f64(), 0.3);
        assert_eq!(d(1.1).mul(&d(3.0)).to_f64(), 3.3);
        assert_eq!(d(10.0).div(&d(3.0)).to_f64(), 3.3333333333333335);
        assert_eq!(d(1.0).div(&d(8.0)).to_f64(), 0.125);
        assert_eq!(d(-2.5).add(&d(1e-20)).to_f64(), -2.5);
    }

    #[test]
    fn float_formats() {
        assert_eq!(fmt_g(1234.5678, Some(3), false), "1.23e+03");
        assert_eq!(fmt_g(0.000012345, Some(2), false), "1.2e-05");
        assert_eq!(fmt_g(12.5, Some(4), false), "12.5");
        assert_eq!(fmt_e(1234567.0, 6), "1.234567e+06");
        assert_eq!(fmt_e(0.5, 2), "5.00e-01");
    }

    #[test]
    fn url_and_title() {
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(query_unescape("a+b%26c").unwrap(), "a b&c");
        assert_eq!(
            query_unescape("%zz").unwrap_err(),
            "invalid URL escape \"%zz\""
        );
        assert_eq!(title("hello wORLD foo-bar x_y"), "Hello WORLD Foo-Bar X_y");
        assert_eq!(to_i64(&Value::Str("42".into())), 42);
        assert_eq!(to_i64(&Value::Str("0x10".into())), 16);
        assert_eq!(to_i64(&Value::Str("3.0".into())), 3);
        assert_eq!(to_i64(&Value::Str("3.7".into())), 0);
        assert_eq!(to_f64(&Value::Str("1e3".into())), 1000.0);
        assert_eq!(to_f64(&Value::Str("x".into())), 0.0);
    }
}
