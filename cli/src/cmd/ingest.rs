//! `logjar ingest`: NDJSON, Loki push bodies or plain lines into the database.
//!
//! Decoding runs on a second thread and hands batches to the pushing thread over a
//! small bounded channel, so parsing and storage overlap and memory stays bounded.
//! Nothing is dropped silently: every rejected line or entry is counted by reason and
//! the counts are printed in the summary line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use logjar::entry::StreamEntries;
use logjar::ingest::{parse_loki_push, BatchBuilder, LabelCache};
use logjar::{Entry, Labels};

use crate::args::{Cli, Format, IngestArgs};
use crate::error::CliError;
use crate::open::{open, parse_labels_arg};
use crate::time::now_ns;

/// Entries per push batch.
const BATCH_ENTRIES: usize = 4096;
/// Line bytes per push batch.
const BATCH_BYTES: usize = 2 << 20;

/// A decoded batch and what decoding it cost.
struct Decoded {
    streams: Vec<StreamEntries>,
    input_bytes: u64,
    rejected: BTreeMap<&'static str, u64>,
}

enum Source {
    Stdin,
    File(PathBuf),
}

/// Runs `ingest`.
pub fn run(cli: &Cli, a: &IngestArgs) -> Result<(), CliError> {
    let extra = a
        .labels
        .as_deref()
        .map(|t| parse_labels_arg("--labels", t))
        .transpose()?;
    if a.format == Format::Lines && extra.is_none() {
        return Err(CliError::usage(
            "--format lines needs --labels '{name=\"value\"}' for the stream",
        ));
    }
    logjar::labels::validate_tenant(&a.tenant).map_err(CliError::from)?;
    let sources = sources(&a.files)?;
    let total_bytes: u64 = sources
        .iter()
        .map(|s| match s {
            Source::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Source::Stdin => 0,
        })
        .sum();
    let db = open(cli)?;

    let bar = progress_bar(total_bytes);
    let started = Instant::now();
    let (tx, rx) = sync_channel::<Result<Decoded, CliError>>(1);
    let format = a.format;
    let decoder = std::thread::spawn(move || decode_all(sources, format, extra, tx));

    let summary = push_all(&db, &a.tenant, rx, &bar);
    bar.finish_and_clear();
    let decode_result = decoder
        .join()
        .map_err(|_| CliError::Data("the decoding thread panicked".into()))?;
    let mut summary = summary?;
    decode_result?;
    db.close().map_err(CliError::from)?;
    summary.seconds = started.elapsed().as_secs_f64();
    eprintln!("{}", summary.line());
    Ok(())
}

fn sources(files: &[PathBuf]) -> Result<Vec<Source>, CliError> {
    if files.is_empty() {
        return Ok(vec![Source::Stdin]);
    }
    files
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Ok(Source::Stdin)
            } else if p.is_file() {
                Ok(Source::File(p.clone()))
            } else {
                Err(CliError::Data(format!(
                    "cannot read {}: not a readable file",
                    p.display()
                )))
            }
        })
        .collect()
}

fn progress_bar(total: u64) -> ProgressBar {
    // indicatif draws only when stderr is a terminal.
    let bar = if total > 0 {
        ProgressBar::new(total)
    } else {
        ProgressBar::new_spinner()
    };
    let style = if total > 0 {
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
    } else {
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec})")
    };
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

/// Totals printed in the summary line.
#[derive(Default)]
struct Summary {
    entries: u64,
    bytes: u64,
    duplicates: u64,
    streams: std::collections::HashSet<u64>,
    rejected: BTreeMap<String, u64>,
    seconds: f64,
}

impl Summary {
    fn line(&self) -> String {
        let rate = if self.seconds > 0.0 {
            self.entries as f64 / self.seconds
        } else {
            0.0
        };
        let mut s = format!(
            "ingested {} entries, {} bytes, {} streams in {:.2}s ({:.0} entries/s)",
            self.entries,
            self.bytes,
            self.streams.len(),
            self.seconds,
            rate
        );
        if self.duplicates > 0 {
            s.push_str(&format!("; {} duplicates dropped", self.duplicates));
        }
        let rejected: u64 = self.rejected.values().sum();
        if rejected > 0 {
            let reasons: Vec<String> = self
                .rejected
                .iter()
                .map(|(r, n)| format!("{r}={n}"))
                .collect();
            s.push_str(&format!("; {rejected} rejected ({})", reasons.join(", ")));
        }
        s
    }
}

fn push_all(
    db: &logjar::Db,
    tenant: &str,
    rx: Receiver<Result<Decoded, CliError>>,
    bar: &ProgressBar,
) -> Result<Summary, CliError> {
    let mut sum = Summary::default();
    for decoded in rx {
        let d = decoded?;
        for (reason, n) in d.rejected {
            *sum.rejected.entry(reason.to_string()).or_default() += n;
        }
        if !d.streams.is_empty() {
            let report = db.push_lenient(tenant, &d.streams)?;
            sum.entries += report.accepted;
            sum.bytes += report.bytes;
            sum.duplicates += report.duplicates;
            for (reason, n) in reject_reasons(&report.rejected) {
                if n > 0 {
                    *sum.rejected.entry(reason.to_string()).or_default() += n;
                }
            }
            for s in &d.streams {
                sum.streams.insert(s.labels.fingerprint());
            }
        }
        bar.inc(d.input_bytes);
    }
    Ok(sum)
}

/// The engine's per-reason rejection counts as `(name, count)` pairs.
fn reject_reasons(r: &logjar::db::RejectCounts) -> [(&'static str, u64); 7] {
    [
        ("line_too_long", r.line_too_long),
        ("too_many_labels", r.too_many_labels),
        ("label_name_too_long", r.label_name_too_long),
        ("label_value_too_long", r.label_value_too_long),
        ("too_many_streams", r.too_many_streams),
        ("rate_limited", r.rate_limited),
        ("too_far_behind", r.too_far_behind),
    ]
}

/// Decodes every source in order, sending batches to the pusher.
fn decode_all(
    sources: Vec<Source>,
    format: Format,
    extra: Option<Labels>,
    tx: SyncSender<Result<Decoded, CliError>>,
) -> Result<(), CliError> {
    let mut dec = Decoder {
        format,
        extra,
        cache: LabelCache::default(),
        batch: BatchBuilder::default(),
        rejected: BTreeMap::new(),
        input_bytes: 0,
        last_ts: i64::MIN,
        tx,
    };
    for source in sources {
        let (reader, name): (Box<dyn Read>, String) = match source {
            Source::Stdin => (Box::new(std::io::stdin().lock()), "standard input".into()),
            Source::File(p) => {
                let f = File::open(&p)
                    .map_err(|e| CliError::Data(format!("cannot read {}: {e}", p.display())))?;
                (Box::new(f), p.display().to_string())
            }
        };
        let reader = BufReader::with_capacity(1 << 20, reader);
        let res = match format {
            Format::LokiPush => dec.loki_push(reader),
            Format::Ndjson | Format::Lines => dec.lines(reader),
        };
        res.map_err(|e| CliError::Data(format!("cannot read {name}: {e}")))?;
    }
    dec.send()
}

struct Decoder {
    format: Format,
    extra: Option<Labels>,
    cache: LabelCache,
    batch: BatchBuilder,
    rejected: BTreeMap<&'static str, u64>,
    input_bytes: u64,
    last_ts: i64,
    tx: SyncSender<Result<Decoded, CliError>>,
}

impl Decoder {
    fn lines(&mut self, mut reader: impl BufRead) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(4096);
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            self.input_bytes += n as u64;
            let line = trim_newline(&buf);
            match self.format {
                Format::Lines => {
                    // Stamped with the time read, strictly increasing so equal lines
                    // read in the same nanosecond are not taken for duplicates.
                    let ts = now_ns().max(self.last_ts.saturating_add(1));
                    self.last_ts = ts;
                    if let Some(labels) = self.extra.clone() {
                        self.batch.add(labels, Entry::new(ts, line.to_vec()));
                    }
                }
                _ => {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match self.cache.parse_ndjson_line_ref(line) {
                        Ok((labels, entry)) => self.batch.add_ref(labels, entry),
                        Err(e) => *self.rejected.entry(e.reason()).or_default() += 1,
                    }
                }
            }
            if self.batch.len() >= BATCH_ENTRIES || self.batch.line_bytes() >= BATCH_BYTES {
                self.send()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
        }
    }

    /// One body per input, or (when the whole input is not one body) one per line.
    fn loki_push(&mut self, mut reader: impl Read) -> std::io::Result<()> {
        let mut all = Vec::new();
        reader.read_to_end(&mut all)?;
        self.input_bytes += all.len() as u64;
        let bodies: Vec<&[u8]> = match parse_loki_push(&all) {
            Ok(streams) => {
                self.add_streams(streams);
                Vec::new()
            }
            Err(_) => all
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .collect(),
        };
        for body in bodies {
            match parse_loki_push(body) {
                Ok(streams) => self.add_streams(streams),
                Err(e) => *self.rejected.entry(e.reason()).or_default() += 1,
            }
            if self.batch.len() >= BATCH_ENTRIES {
                self.send()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
        }
        Ok(())
    }

    fn add_streams(&mut self, streams: Vec<StreamEntries>) {
        for s in streams {
            for e in s.entries {
                self.batch.add(s.labels.clone(), e);
            }
        }
    }

    /// Sends the pending batch, merging `--labels` into each stream's labels.
    fn send(&mut self) -> Result<(), CliError> {
        let mut streams = self.batch.take();
        if let (Some(extra), true) = (&self.extra, self.format != Format::Lines) {
            let mut merged = Vec::with_capacity(streams.len());
            for s in streams {
                match merge_labels(&s.labels, extra) {
                    Ok(labels) => merged.push(StreamEntries {
                        labels,
                        entries: s.entries,
                    }),
                    Err(_) => {
                        *self.rejected.entry("invalid_labels").or_default() +=
                            s.entries.len() as u64
                    }
                }
            }
            streams = merged;
        }
        let d = Decoded {
            streams,
            input_bytes: std::mem::take(&mut self.input_bytes),
            rejected: std::mem::take(&mut self.rejected),
        };
        self.tx
            .send(Ok(d))
            .map_err(|_| CliError::Data("the writer stopped".into()))
    }
}

/// `base` with `extra`'s labels added (extra wins on a clash).
fn merge_labels(base: &Labels, extra: &Labels) -> logjar::Result<Labels> {
    let mut pairs: BTreeMap<&str, &str> = base.iter().collect();
    for (n, v) in extra.iter() {
        pairs.insert(n, v);
    }
    Labels::new(pairs)
}

fn trim_newline(buf: &[u8]) -> &[u8] {
    let mut end = buf.len();
    if end > 0 && buf[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && buf[end - 1] == b'\r' {
            end -= 1;
        }
    }
    &buf[..end]
}
