//! `logjar demo`: a database of sample logs, built and queried with LogQL in seconds.

use std::time::Instant;

use logjar::query::QueryRequest;
use logjar::{Db, Direction};

use crate::args::Cli;
use crate::cmd::demo_data::{self, SPAN_NS, START_NS};
use crate::cmd::query::{query_error, table};
use crate::error::CliError;
use crate::open::{open_with, options};

/// Runs the demo in `--data DIR`, or in a temporary directory removed at the end.
pub fn run(cli: &Cli) -> Result<(), CliError> {
    let tmp;
    let dir = match &cli.data {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("logjar-demo-")
                .tempdir()
                .map_err(|e| CliError::Data(format!("cannot create a temporary directory: {e}")))?;
            tmp.path().to_path_buf()
        }
    };
    let cli = Cli {
        data: Some(dir.clone()),
        config: cli.config.clone(),
        retention: cli.retention.clone(),
        sync: cli.sync,
        command: crate::args::Command::Flush,
    };
    let db = open_with(&cli, options(&cli)?)?;
    println!("logjar demo — database in {}\n", dir.display());

    let streams = demo_data::all();
    let started = Instant::now();
    let report = db.push("fake", &streams)?;
    db.flush()?;
    println!(
        "Ingested {} entries ({} bytes) into {} streams and flushed them to segments in {:.0} ms:",
        report.accepted,
        report.bytes,
        streams.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    println!("  real logs of 16 systems (a Loghub slice), JSON API logs, logfmt gateway logs,");
    println!("  and a forwarder/processor pair whose processor confirms 4 of every 5 files.\n");

    let (start, end) = (START_NS, START_NS + SPAN_NS + 1_000_000_000);
    println!("Label names (the index every query starts from):");
    println!("  {}\n", db.label_names("fake", start, end)?.join(", "));
    println!("Values of `app`:");
    println!(
        "  {}\n",
        db.label_values("fake", "app", start, end)?.join(", ")
    );

    for q in DEMO_QUERIES {
        run_query(&db, q, start, end)?;
    }

    let stats = db.stats();
    if let Some(t) = stats.tenants.first() {
        println!(
            "On disk: {} bytes for {} raw line bytes ({:.1}%), {} segment(s), {} chunk(s).",
            t.disk_bytes,
            t.raw_bytes,
            100.0 * t.disk_bytes as f64 / t.raw_bytes.max(1) as f64,
            t.segments,
            t.chunks
        );
    }
    println!(
        "\nNext: `logjar --data DIR ingest FILE.ndjson`, then `logjar --data DIR query '{{app=\"x\"}}'`."
    );
    db.close()?;
    Ok(())
}

/// One example query of the demo and the sentence that introduces it.
struct DemoQuery {
    what: &'static str,
    query: &'static str,
    kind: Kind,
}

/// How a demo query is run over the demo hour.
enum Kind {
    /// A log query returning at most `limit` entries, newest first.
    Log { limit: u32 },
    /// A range metric query evaluated every `step_s` seconds.
    Range { step_s: i64 },
    /// An instant metric query at the end of the hour.
    Instant,
}

const DEMO_QUERIES: &[DemoQuery] = &[
    DemoQuery {
        what: "A line filter: the newest Apache errors (substring search, newest first).",
        query: r#"{app="apache"} |= "error""#,
        kind: Kind::Log { limit: 3 },
    },
    DemoQuery {
        what: "A JSON pipeline: parse API logs, keep server errors, reformat the line.",
        query: r#"{app="api"} | json | status >= 500 | line_format "{{.status}} {{.method}} {{.path}} {{.msg}} ({{.latency_ms}} ms)""#,
        kind: Kind::Log { limit: 3 },
    },
    DemoQuery {
        what: "logfmt and a duration filter: gateway requests slower than 900 ms.",
        query: r#"{app="gateway"} | logfmt | duration > 900ms | line_format "{{.duration}} {{.method}} {{.path}}""#,
        kind: Kind::Log { limit: 3 },
    },
    DemoQuery {
        what: "`sum by`: API log lines per level in 15-minute windows.",
        query: r#"sum by (level) (count_over_time({app="api"} | json [15m]))"#,
        kind: Kind::Range { step_s: 900 },
    },
    DemoQuery {
        what: "`topk`: the three apps that logged the most bytes over the hour.",
        query: r#"topk(3, sum by (app) (bytes_over_time({env="prod"}[1h])))"#,
        kind: Kind::Instant,
    },
    DemoQuery {
        what: "The loss rate: the share of files the forwarder handed over that the processor never confirmed.",
        query: r#"(sum(rate({app="forwarder"} |= "Rename" [5m])) - sum(rate({app="processor"} |= "成功" [5m]))) / sum(rate({app="forwarder"} |= "Rename" [5m]))"#,
        kind: Kind::Range { step_s: 600 },
    },
];

fn run_query(db: &Db, q: &DemoQuery, start: i64, end: i64) -> Result<(), CliError> {
    const S: i64 = 1_000_000_000;
    println!("{}", q.what);
    println!("  logjar query '{}'", q.query);
    let req = match q.kind {
        Kind::Log { limit } => QueryRequest::range(q.query, start, end).with_limit(limit),
        Kind::Range { step_s } => {
            QueryRequest::range(q.query, START_NS + step_s * S, START_NS + SPAN_NS)
                .with_step(step_s * S)
        }
        Kind::Instant => QueryRequest::instant(q.query, START_NS + SPAN_NS),
    };
    let resp = db.query("fake", &req).map_err(query_error)?;
    let mut out = Vec::new();
    table(&mut out, &resp, Direction::Backward);
    for line in String::from_utf8_lossy(&out).lines() {
        println!("    {line}");
    }
    println!(
        "    ({} lines, {} bytes processed in {:.1} ms)\n",
        resp.stats.total_lines_processed,
        resp.stats.total_bytes_processed,
        resp.stats.exec_time.as_secs_f64() * 1e3
    );
    Ok(())
}
