//! Command-line arguments (CONTRACT.md section 4).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// logjar — an embeddable log store that speaks LogQL.
///
/// Every command works on one database directory (`--data DIR`), created on first use.
/// Times are RFC 3339 (`2026-01-01T00:00:00Z`) or integer Unix nanoseconds; durations
/// are LogQL durations (`30s`, `5m`, `1h30m`).
#[derive(Debug, Parser)]
#[command(name = "logjar", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Examples:\n  \
    logjar demo\n  \
    logjar --data ./logs ingest --format ndjson app.ndjson\n  \
    logjar --data ./logs labels app\n  \
    logjar --data ./logs series '{app=\"api\"}'\n  \
    logjar --data ./logs stats")]
pub struct Cli {
    /// The database directory (created if missing).
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Options file (TOML; keys are the fields of logjar's `Options`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Global retention period (`0` keeps data forever), e.g. `24h`, `30d`.
    #[arg(long, global = true, value_name = "DUR")]
    pub retention: Option<String>,

    /// When writes are fsynced: `always` (before each batch is acknowledged),
    /// `interval` (every sync interval) or `never` (left to the OS).
    #[arg(long, global = true, value_name = "MODE")]
    pub sync: Option<SyncArg>,

    #[command(subcommand)]
    pub command: Command,
}

/// `--sync` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SyncArg {
    /// Every batch is fsynced before it is acknowledged.
    Always,
    /// A background thread fsyncs on an interval.
    Interval,
    /// The operating system decides when data reaches the disk.
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest log entries from files or standard input.
    #[command(after_help = "Formats:\n  \
        ndjson     one JSON object per line: {\"labels\":{\"app\":\"api\"},\"ts\":1767225600000000000,\"line\":\"GET /x 200\",\"metadata\":{\"trace_id\":\"ab12\"}}\n  \
        loki-push  Loki push bodies {\"streams\":[{\"stream\":{...},\"values\":[[\"<ns>\",\"line\"]]}]}, one per file or per line\n  \
        lines      plain text, one entry per line, stamped with the time it is read; needs --labels\n\n\
        Examples:\n  \
        logjar --data ./logs ingest app.ndjson\n  \
        cat push.json | logjar --data ./logs ingest --format loki-push -\n  \
        tail -f /var/log/syslog | logjar --data ./logs ingest --format lines --labels '{app=\"syslog\"}'")]
    Ingest(IngestArgs),
    /// List label names, or the values of one label.
    #[command(
        after_help = "Examples:\n  logjar --data ./logs labels\n  logjar --data ./logs labels app"
    )]
    Labels(LabelsArgs),
    /// List the streams (label sets) a selector matches.
    #[command(
        after_help = "Examples:\n  logjar --data ./logs series '{app=\"api\"}'\n  logjar --data ./logs series '{env=~\"prod|staging\", app!=\"db\"}'"
    )]
    Series(SeriesArgs),
    /// Write everything held in memory to segment files and trim the write-ahead log.
    #[command(after_help = "Example:\n  logjar --data ./logs flush")]
    Flush,
    /// Build a database of bundled sample logs and explore it (in a temporary
    /// directory unless `--data` is given).
    #[command(after_help = "Example:\n  logjar demo\n  logjar --data ./demo-db demo")]
    Demo,
    /// Run a LogQL query: log lines, or a metric over time (or at one instant).
    #[command(after_help = QUERY_HELP)]
    Query(QueryArgs),
    /// Follow a log query: print recent entries, then new ones as they arrive.
    #[command(after_help = TAIL_HELP)]
    Tail(TailArgs),
    /// Print per-tenant space and stream figures.
    #[command(after_help = "Example:\n  logjar --data ./logs stats")]
    Stats,
    /// Compact now: drop expired data, apply delete requests, merge small files.
    #[command(
        after_help = "Prints a one-line summary on stderr.\n\nExamples:\n  logjar --data ./logs compact\n  logjar --data ./logs --retention 24h compact   # remove everything older than 24h"
    )]
    Compact,
    /// Delete the entries a selector (and optional line filters) matches in a time
    /// range; queries stop returning them at once, compaction removes them from disk.
    #[command(
        after_help = "Prints the id of the delete request on stdout.\n\nExamples:\n  \
        logjar --data ./logs delete --start 2026-01-01T00:00:00Z --end 2026-01-02T00:00:00Z '{app=\"api\"}'\n  \
        logjar --data ./logs delete --start 0 --end 2026-01-02T00:00:00Z '{app=\"api\"} |= \"password=\"'"
    )]
    Delete(DeleteArgs),
}

/// `delete` arguments.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Tenant to delete from.
    #[arg(long, default_value = "fake")]
    pub tenant: String,
    /// First time deleted (inclusive; RFC 3339 or Unix ns).
    #[arg(long, value_name = "T")]
    pub start: String,
    /// Last time deleted (inclusive; RFC 3339 or Unix ns).
    #[arg(long, value_name = "T")]
    pub end: String,
    /// A stream selector with optional line filters, e.g. '{app="api"} |= "secret"'.
    #[arg(value_name = "SELECTOR")]
    pub query: String,
}

const QUERY_HELP: &str = "Time range: --end defaults to now and --start to one hour before --end, as in\n\
Loki's query_range API. Log queries read [start, end) and return at most --limit entries\n\
(default 100), newest first unless --direction forward. Metric queries are evaluated at\n\
start, start+step, ... <= end; without --step, Loki's default max(floor((end-start)/250), 1s).\n\
--instant evaluates a metric query once, at --time (default now).\n\n\
Output formats:\n  \
table      timestamp, labels and line per entry; one row per series for metrics (default)\n  \
raw        only the lines (metrics: labels, time and value per sample)\n  \
jsonl      one JSON object per entry or sample\n  \
loki-json  exactly the body of Loki's /loki/api/v1/query_range (or /query with --instant)\n\n\
Exit codes: 0 success, 1 bad usage or a bad query (message with a caret under the fault on\n\
stderr), 2 a data or I/O problem; nothing is printed on stdout on error.\n\n\
Examples:\n  \
logjar --data ./logs query '{app=\"api\"} |= \"error\"'\n  \
logjar --data ./logs query --since 24h --limit 20 --direction forward '{env=\"prod\"} |~ \"(?i)timeout\"'\n  \
logjar --data ./logs query --start 2026-01-01T00:00:00Z --end 2026-01-01T01:00:00Z --step 1m \\\n    \
'sum by (app) (rate({env=\"prod\"}[1m]))'\n  \
logjar --data ./logs query --instant 'topk(5, sum by (host) (bytes_over_time({env=\"prod\"}[5m])))'\n  \
logjar --data ./logs query --output loki-json '{app=\"api\"}' | jq .data.stats.summary";

const TAIL_HELP: &str =
    "Prints the newest --limit entries of the last --since (default 1h), oldest\n\
first, then polls every --interval for entries at or after the newest one printed. The\n\
database is opened only while polling, so other processes can keep writing to it.\n\
Entries written later with older timestamps than the newest printed are not shown.\n\
Stops on Ctrl-C (or after --max-entries entries).\n\n\
Examples:\n  \
logjar --data ./logs tail '{app=\"api\"} |= \"error\"'\n  \
logjar --data ./logs tail --since 5m --limit 50 -o raw '{env=\"prod\"} | json | status >= 500'";

/// `tail` arguments.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Tenant to read.
    #[arg(long, default_value = "fake")]
    pub tenant: String,
    /// How far back the first batch looks.
    #[arg(long, value_name = "DUR", default_value = "1h")]
    pub since: String,
    /// Most entries of the first batch.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: u32,
    /// Time between polls.
    #[arg(long, value_name = "DUR", default_value = "1s")]
    pub interval: String,
    /// Stop after printing this many entries.
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Output format (`loki-json` is not available for a stream of entries).
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// The LogQL log query.
    #[arg(value_name = "LOGQL")]
    pub query: String,
}

/// `query` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable table.
    Table,
    /// Lines only.
    Raw,
    /// One JSON object per entry or sample.
    Jsonl,
    /// Loki's HTTP API response body.
    LokiJson,
}

/// `query` log direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// Newest first.
    Backward,
    /// Oldest first.
    Forward,
}

/// `query` arguments.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Tenant to read.
    #[arg(long, default_value = "fake")]
    pub tenant: String,
    /// Start of the range (RFC 3339 or Unix ns); default: one hour before --end.
    #[arg(long, value_name = "T", conflicts_with = "since")]
    pub start: Option<String>,
    /// End of the range (RFC 3339 or Unix ns); default: now.
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// Start this long before --end (e.g. 24h), instead of --start.
    #[arg(long, value_name = "DUR")]
    pub since: Option<String>,
    /// Step between evaluation times of a metric query (e.g. 1m).
    #[arg(long, value_name = "DUR")]
    pub step: Option<String>,
    /// Most log entries to return.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u32,
    /// Order of log entries.
    #[arg(long, value_enum, default_value = "backward")]
    pub direction: DirectionArg,
    /// Evaluate a metric query at one instant (Loki's /query) instead of over a range.
    #[arg(long, conflicts_with_all = ["start", "end", "since", "step"])]
    pub instant: bool,
    /// Time of an --instant query (RFC 3339 or Unix ns); default: now.
    #[arg(long, value_name = "T", requires = "instant")]
    pub time: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// The LogQL query.
    #[arg(value_name = "LOGQL")]
    pub query: String,
}

/// Ingest formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON entry object per line.
    Ndjson,
    /// Loki push bodies.
    LokiPush,
    /// Plain lines.
    Lines,
}

/// `ingest` arguments.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Tenant to write to.
    #[arg(long, default_value = "fake")]
    pub tenant: String,
    /// Input format.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: Format,
    /// Labels added to every entry (required for `--format lines`), e.g. '{app="x"}'.
    #[arg(long, value_name = "SELECTOR")]
    pub labels: Option<String>,
    /// Input files; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `labels` arguments.
#[derive(Debug, Args)]
pub struct LabelsArgs {
    /// Tenant to read.
    #[arg(long, default_value = "fake")]
    pub tenant: String,
    /// Only data at or after this time.
    #[arg(long, value_name = "T")]
    pub start: Option<String>,
    /// Only data before this time.
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// Print the values of this label instead of the label names.
    pub name: Option<String>,
}

/// `series` arguments.
#[derive(Debug, Args)]
pub struct SeriesArgs {
    /// Tenant to read.
    #[arg(long, default_value = "fake")]
    pub tenant: String,
    /// Only data at or after this time.
    #[arg(long, value_name = "T")]
    pub start: Option<String>,
    /// Only data before this time.
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// A stream selector, e.g. '{app="api", env=~"prod|dev"}'.
    pub selector: String,
}
