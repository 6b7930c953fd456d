//! `logjar demo`: a database of sample logs, built and explored in a few seconds.

use std::time::Instant;

use logjar::{Direction, LabelMatcher, MatchOp};

use crate::args::Cli;
use crate::cmd::demo_data::{self, SPAN_NS, START_NS};
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
    let entries: usize = streams.iter().map(|s| s.entries.len()).sum();
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
    debug_assert_eq!(report.accepted as usize, entries);

    let (start, end) = (START_NS, START_NS + SPAN_NS + 1_000_000_000);
    println!("Label names (the index every query starts from):");
    println!("  {}\n", db.label_names("fake", start, end)?.join(", "));
    println!("Values of `app`:");
    println!(
        "  {}\n",
        db.label_values("fake", "app", start, end)?.join(", ")
    );

    let prod =
        LabelMatcher::new("env", MatchOp::Eq, "prod").map_err(|e| CliError::Data(e.to_string()))?;
    let json = LabelMatcher::new("app", MatchOp::Re, "api|gateway")
        .map_err(|e| CliError::Data(e.to_string()))?;
    let series = db.series("fake", &[prod, json], start, end)?;
    println!("Streams matching {{env=\"prod\", app=~\"api|gateway\"}}:");
    for s in &series {
        println!("  {s}");
    }

    println!(
        "\nThe 3 newest entries of {{app=\"apache\"}} (read backwards from the newest block):"
    );
    let snap = db.snapshot("fake")?;
    let apache = LabelMatcher::new("app", MatchOp::Eq, "apache")
        .map_err(|e| CliError::Data(e.to_string()))?;
    let ids: Vec<u32> = snap
        .select(&[apache], start, end)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for item in snap.entries(&ids, start, end, Direction::Backward).take(3) {
        let (_, e) = item?;
        println!("  {}  {}", fmt_ts(e.ts), String::from_utf8_lossy(&e.line));
    }

    let stats = db.stats();
    if let Some(t) = stats.tenants.first() {
        println!(
            "\nOn disk: {} bytes for {} raw line bytes ({:.1}%), {} segment(s), {} chunk(s).",
            t.disk_bytes,
            t.raw_bytes,
            100.0 * t.disk_bytes as f64 / t.raw_bytes.max(1) as f64,
            t.segments,
            t.chunks
        );
    }
    println!(
        "\nNext: `logjar --data DIR ingest FILE.ndjson`, then `labels`, `series` and `stats`."
    );
    db.close()?;
    Ok(())
}

fn fmt_ts(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
