//! `logjar tail`: follow a log query by polling the database.
//!
//! Each poll opens the database, asks for entries at or after the newest timestamp
//! printed so far (forward, oldest first), prints those not printed yet and closes the
//! database again, so writers in other processes are blocked only for the poll. A poll
//! that finds the database locked is skipped.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use logjar::query::{QueryRequest, QueryResult, ResultLabels};
use logjar::Direction;

use crate::args::{Cli, OutputFormat, TailArgs};
use crate::cmd::query::{labels_json, merged, query_error, rfc3339};
use crate::error::CliError;
use crate::open::{open_with, options};
use crate::time::{now_ns, parse_duration};

/// Most entries one poll asks for (Loki's `max_entries_limit_per_query`).
const BATCH: u32 = 5000;

/// Entries printed at the newest timestamp, to skip them when a poll sees them again.
#[derive(Debug, Default)]
struct Cursor {
    ts: Option<i64>,
    at_ts: HashSet<(String, String)>,
    printed: u64,
}

/// Runs `logjar tail`.
pub fn run(cli: &Cli, a: &TailArgs) -> Result<(), CliError> {
    logjar_logql::syntax::parse_log_expr(&a.query)
        .map_err(|e| CliError::usage(e.render(&a.query)))?;
    if a.output == OutputFormat::LokiJson {
        return Err(CliError::usage(
            "tail prints entries one by one: use --output table, raw or jsonl",
        ));
    }
    let since = parse_duration("--since", &a.since)?;
    let interval = parse_duration("--interval", &a.interval)?;
    // Each poll opens, queries and closes: read-only, so polls write nothing.
    let mut opts = options(cli)?;
    opts.read_only = true;
    let mut cursor = Cursor::default();
    loop {
        let (req, first) = match cursor.ts {
            None => {
                let now = now_ns();
                let r = QueryRequest::range(a.query.clone(), now.saturating_sub(since), now)
                    .with_limit(a.limit.min(BATCH));
                (r, true)
            }
            Some(ts) => {
                let r = QueryRequest::range(a.query.clone(), ts, now_ns().saturating_add(1))
                    .with_limit(BATCH)
                    .with_direction(Direction::Forward);
                (r, false)
            }
        };
        let got = match open_with(cli, opts.clone()) {
            Ok(db) => {
                let resp = db.query(&a.tenant, &req).map_err(query_error)?;
                db.close()?;
                Some(resp)
            }
            // Another process holds the database: try again at the next poll.
            Err(CliError::Data(m)) if m.contains("locked") => None,
            Err(e) => return Err(e),
        };
        let mut full = false;
        if let Some(resp) = got {
            if let QueryResult::Streams(s) = &resp.result {
                let mut entries = merged(s, req.direction);
                full = entries.len() >= req.limit as usize && !first;
                if first {
                    entries.reverse(); // backward batch, printed oldest first
                }
                if cursor.ts.is_none() {
                    cursor.ts = Some(now_ns().saturating_sub(since));
                }
                let before = cursor.ts;
                if print(&mut cursor, &entries, a)? {
                    return Ok(());
                }
                // A full batch that moved on: more may be waiting, poll again at once.
                full &= cursor.ts != before;
            }
        }
        if !full {
            std::thread::sleep(Duration::from_nanos(interval.max(1_000_000) as u64));
        }
    }
}

/// Prints entries not printed yet; true when `--max-entries` is reached.
fn print(
    cursor: &mut Cursor,
    entries: &[(i64, &ResultLabels, &str)],
    a: &TailArgs,
) -> Result<bool, CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (ts, labels, line) in entries {
        let key = (labels.to_string(), line.to_string());
        match cursor.ts {
            Some(c) if *ts < c => continue,
            Some(c) if *ts == c && cursor.at_ts.contains(&key) => continue,
            Some(c) if *ts == c => {}
            _ => cursor.at_ts.clear(),
        }
        cursor.ts = Some(*ts);
        cursor.at_ts.insert(key);
        let written = match a.output {
            OutputFormat::Raw => writeln!(out, "{line}"),
            OutputFormat::Jsonl => writeln!(
                out,
                "{}",
                serde_json::json!({"ts": ts.to_string(), "labels": labels_json(labels), "line": line})
            ),
            _ => writeln!(out, "{}  {}  {}", rfc3339(*ts), labels, line),
        };
        if written.and_then(|_| out.flush()).is_err() {
            return Ok(true); // stdout closed
        }
        cursor.printed += 1;
        if a.max_entries.is_some_and(|m| cursor.printed >= m) {
            return Ok(true);
        }
    }
    Ok(false)
}
