//! `logjar query`: run LogQL and print the answer as a table, raw lines, JSON lines or
//! Loki's response body.

use std::io::Write;

use logjar::query::{
    loki_json, QueryError, QueryRequest, QueryResponse, QueryResult, ResultLabels, StreamResult,
};
use logjar::Direction;

use crate::args::{Cli, DirectionArg, OutputFormat, QueryArgs};
use crate::error::CliError;
use crate::open::open_read_only;
use crate::time::{now_ns, opt_time, parse_duration};

const HOUR_NS: i64 = 3_600_000_000_000;

/// Runs `logjar query`.
pub fn run(cli: &Cli, a: &QueryArgs) -> Result<(), CliError> {
    let req = request(a)?;
    // Parse before opening the database: a bad query is exit 1 even without data.
    if let Err(e) = logjar_logql::parse(&a.query) {
        return Err(CliError::usage(e.render(&a.query)));
    }
    let db = open_read_only(cli)?;
    let resp = db.query(&a.tenant, &req).map_err(query_error)?;
    db.close()?;
    let mut out = Vec::with_capacity(4096);
    match a.output {
        OutputFormat::LokiJson => {
            out.extend_from_slice(resp.to_loki_json().as_bytes());
            out.push(b'\n');
        }
        OutputFormat::Jsonl => jsonl(&mut out, &resp, req.direction),
        OutputFormat::Raw => raw(&mut out, &resp, req.direction),
        OutputFormat::Table => table(&mut out, &resp, req.direction),
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // A closed stdout (piped into `head`) is not an error.
    let _ = lock.write_all(&out).and_then(|_| lock.flush());
    Ok(())
}

fn request(a: &QueryArgs) -> Result<QueryRequest, CliError> {
    let mut req = if a.instant {
        let t = opt_time("--time", a.time.as_deref())?.unwrap_or_else(now_ns);
        QueryRequest::instant(a.query.clone(), t)
    } else {
        let end = opt_time("--end", a.end.as_deref())?.unwrap_or_else(now_ns);
        let start = match (&a.start, &a.since) {
            (Some(_), _) => opt_time("--start", a.start.as_deref())?.unwrap_or(end),
            (None, Some(d)) => end.saturating_sub(parse_duration("--since", d)?),
            (None, None) => end.saturating_sub(HOUR_NS),
        };
        if start > end {
            return Err(CliError::usage("--start is after --end"));
        }
        let mut r = QueryRequest::range(a.query.clone(), start, end);
        if let Some(s) = &a.step {
            let step = parse_duration("--step", s)?;
            if step <= 0 {
                return Err(CliError::usage("--step must be positive"));
            }
            r.step = Some(step);
        }
        r
    };
    req.limit = a.limit;
    req.direction = match a.direction {
        DirectionArg::Backward => Direction::Backward,
        DirectionArg::Forward => Direction::Forward,
    };
    Ok(req)
}

pub(crate) fn query_error(e: QueryError) -> CliError {
    match e {
        QueryError::Storage(_) | QueryError::Timeout | QueryError::Cancelled => {
            CliError::Data(e.render())
        }
        e => CliError::usage(e.render()),
    }
}

/// Entries of all streams in the query's order (the order Loki's merge produced them:
/// by time, ties by label string).
pub(crate) fn merged(streams: &[StreamResult], dir: Direction) -> Vec<(i64, &ResultLabels, &str)> {
    let mut all: Vec<(i64, usize, &ResultLabels, &str)> = Vec::new();
    for (i, s) in streams.iter().enumerate() {
        all.extend(
            s.entries
                .iter()
                .map(|(ts, l)| (*ts, i, &s.labels, l.as_str())),
        );
    }
    // Streams are sorted by label string, so the stream index breaks ties as Loki does.
    all.sort_by(|a, b| {
        let t = match dir {
            Direction::Forward => a.0.cmp(&b.0),
            Direction::Backward => b.0.cmp(&a.0),
        };
        t.then(a.1.cmp(&b.1))
    });
    all.into_iter()
        .map(|(ts, _, l, line)| (ts, l, line))
        .collect()
}

pub(crate) fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ms.to_string())
}

pub(crate) fn labels_json(l: &ResultLabels) -> serde_json::Value {
    serde_json::Value::Object(
        l.iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect(),
    )
}

fn raw(out: &mut Vec<u8>, resp: &QueryResponse, dir: Direction) {
    match &resp.result {
        QueryResult::Streams(s) => {
            for (_, _, line) in merged(s, dir) {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
        _ => samples(resp, &mut |labels, ts_ms, v| {
            let _ = writeln!(
                out,
                "{} {} {}",
                labels.map(|l| l.to_string()).unwrap_or_default(),
                loki_json::format_time_seconds(ts_ms),
                loki_json::format_value(v)
            );
        }),
    }
}

fn jsonl(out: &mut Vec<u8>, resp: &QueryResponse, dir: Direction) {
    match &resp.result {
        QueryResult::Streams(s) => {
            for (ts, labels, line) in merged(s, dir) {
                let obj = serde_json::json!({
                    "ts": ts.to_string(),
                    "labels": labels_json(labels),
                    "line": line,
                });
                let _ = writeln!(out, "{obj}");
            }
        }
        _ => samples(resp, &mut |labels, ts_ms, v| {
            let obj = serde_json::json!({
                "metric": labels.map(labels_json).unwrap_or(serde_json::Value::Null),
                "time": ts_ms as f64 / 1000.0,
                "value": loki_json::format_value(v),
            });
            let _ = writeln!(out, "{obj}");
        }),
    }
}

/// Calls `f(labels, ts_ms, value)` for every sample of a metric result (labels `None`
/// for a scalar).
fn samples(resp: &QueryResponse, f: &mut dyn FnMut(Option<&ResultLabels>, i64, f64)) {
    match &resp.result {
        QueryResult::Matrix(m) => {
            for s in m {
                for p in &s.points {
                    f(Some(&s.labels), p.ts_ms, p.value);
                }
            }
        }
        QueryResult::Vector(v) => {
            for s in v {
                f(Some(&s.labels), resp.time_ms, s.value);
            }
        }
        QueryResult::Scalar(x) => f(None, resp.time_ms, *x),
        QueryResult::Streams(_) => {}
    }
}

pub(crate) fn table(out: &mut Vec<u8>, resp: &QueryResponse, dir: Direction) {
    match &resp.result {
        QueryResult::Streams(s) => {
            for (ts, labels, line) in merged(s, dir) {
                let _ = writeln!(out, "{}  {}  {}", rfc3339(ts), labels, line);
            }
        }
        QueryResult::Matrix(m) => {
            for s in m {
                let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
                let (first, last) = match (s.points.first(), s.points.last()) {
                    (Some(f), Some(l)) => (f.ts_ms, l.ts_ms),
                    _ => continue,
                };
                let _ = writeln!(
                    out,
                    "{}  {}  {} points {} .. {}",
                    s.labels,
                    sparkline(&values),
                    values.len(),
                    rfc3339_ms(first),
                    rfc3339_ms(last)
                );
                let shown: Vec<String> = s
                    .points
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={}",
                            loki_json::format_time_seconds(p.ts_ms),
                            loki_json::format_value(p.value)
                        )
                    })
                    .collect();
                let _ = writeln!(out, "    {}", shown.join(" "));
            }
        }
        QueryResult::Vector(v) => {
            for s in v {
                let _ = writeln!(
                    out,
                    "{}  {}  {}",
                    rfc3339_ms(resp.time_ms),
                    s.labels,
                    loki_json::format_value(s.value)
                );
            }
        }
        QueryResult::Scalar(x) => {
            let _ = writeln!(
                out,
                "{}  {}",
                rfc3339_ms(resp.time_ms),
                loki_json::format_value(*x)
            );
        }
    }
}

/// A one-line chart of the values (`▁▂▃▄▅▆▇█`), scaled from min to max; non-finite
/// values show as a space.
fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if hi > lo {
                let i = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                BARS[i.min(7)]
            } else {
                BARS[3]
            }
        })
        .collect()
}
