//! `labels`, `series`, `flush` and `stats`.

use std::io::Write;

use crate::args::{Cli, LabelsArgs, SeriesArgs};
use crate::error::CliError;
use crate::open::{open, open_read_only};
use crate::time::opt_time;

fn range(start: Option<&str>, end: Option<&str>) -> Result<(i64, i64), CliError> {
    let s = opt_time("--start", start)?.unwrap_or(i64::MIN);
    let e = opt_time("--end", end)?.unwrap_or(i64::MAX);
    if s > e {
        return Err(CliError::usage("--start is after --end"));
    }
    Ok((s, e))
}

fn print_lines<I: IntoIterator<Item = String>>(lines: I) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            return Ok(()); // stdout closed (e.g. piped into `head`)
        }
    }
    let _ = out.flush();
    Ok(())
}

/// `logjar labels [NAME]`: label names, or the values of NAME, one per line, sorted.
pub fn labels(cli: &Cli, a: &LabelsArgs) -> Result<(), CliError> {
    let (start, end) = range(a.start.as_deref(), a.end.as_deref())?;
    let db = open_read_only(cli)?;
    let items = match &a.name {
        Some(name) => db.label_values(&a.tenant, name, start, end)?,
        None => db.label_names(&a.tenant, start, end)?,
    };
    db.close()?;
    print_lines(items)
}

/// `logjar series SELECTOR`: matching label sets, one per line.
pub fn series(cli: &Cli, a: &SeriesArgs) -> Result<(), CliError> {
    let (start, end) = range(a.start.as_deref(), a.end.as_deref())?;
    let matchers = logjar_logql::syntax::parse_selector(&a.selector)
        .map_err(|e| CliError::usage(e.render(&a.selector)))?;
    let db = open_read_only(cli)?;
    let series = db.series(&a.tenant, &matchers, start, end)?;
    db.close()?;
    print_lines(series.into_iter().map(|l| l.to_string()))
}

/// `logjar flush`.
pub fn flush(cli: &Cli) -> Result<(), CliError> {
    let db = open(cli)?;
    db.flush()?;
    db.close()?;
    Ok(())
}

/// `logjar stats`: one block of figures per tenant.
pub fn stats(cli: &Cli) -> Result<(), CliError> {
    let db = open_read_only(cli)?;
    let stats = db.stats();
    db.close()?;
    let mut lines = Vec::new();
    for t in &stats.tenants {
        lines.push(format!("tenant {}", t.tenant));
        let mut row = |name: &str, value: String| lines.push(format!("  {name:<16}{value}"));
        row("streams", t.streams.to_string());
        row("entries", t.entries.to_string());
        row("chunks", t.chunks.to_string());
        row("segments", t.segments.to_string());
        row("raw bytes", t.raw_bytes.to_string());
        row("bytes on disk", t.disk_bytes.to_string());
        if t.raw_bytes > 0 {
            let ratio = 100.0 * t.disk_bytes as f64 / t.raw_bytes as f64;
            row("disk / raw", format!("{ratio:.1}%"));
        }
        row("oldest entry", fmt_ts(t.oldest));
        row("newest entry", fmt_ts(t.newest));
        row("pending deletes", t.pending_deletes.to_string());
    }
    if stats.tenants.is_empty() {
        lines.push("no data".to_string());
    }
    print_lines(lines)
}

fn fmt_ts(ts: Option<i64>) -> String {
    match ts {
        Some(ns) => chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => "-".to_string(),
    }
}
