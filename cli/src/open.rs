//! Opening the database from the global flags.

use std::time::Duration;

use logjar::options::{Options, SyncMode};
use logjar::Db;

use crate::args::{Cli, SyncArg};
use crate::error::CliError;
use crate::time::parse_duration;

/// Builds the `Options` from `--config`, then `--retention` and `--sync` on top.
pub fn options(cli: &Cli) -> Result<Options, CliError> {
    let mut opts = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Data(format!("cannot read config {}: {e}", path.display()))
            })?;
            toml::from_str::<Options>(&text)
                .map_err(|e| CliError::usage(format!("invalid config {}: {e}", path.display())))?
        }
        None => Options::default(),
    };
    if let Some(r) = &cli.retention {
        let ns = parse_duration("--retention", r)?;
        opts.retention = Duration::from_nanos(ns.max(0) as u64);
    }
    if let Some(s) = cli.sync {
        opts.sync = match s {
            SyncArg::Always => SyncMode::Always,
            SyncArg::Interval => SyncMode::Interval,
            SyncArg::Never => SyncMode::Never,
        };
    }
    Ok(opts)
}

/// Opens the database named by `--data` with `opts`.
pub fn open_with(cli: &Cli, opts: Options) -> Result<Db, CliError> {
    let dir = cli
        .data
        .as_ref()
        .ok_or_else(|| CliError::usage("--data DIR is required for this command"))?;
    Db::open(dir, opts).map_err(|e| match e {
        logjar::Error::InvalidArgument(_) => CliError::usage(e.to_string()),
        _ => CliError::Data(format!("cannot open {}: {e}", dir.display())),
    })
}

/// Opens the database named by `--data` with the options from the flags.
pub fn open(cli: &Cli) -> Result<Db, CliError> {
    let opts = options(cli)?;
    open_with(cli, opts)
}

/// Opens the database named by `--data` read-only ([`Options::read_only`]): for the
/// commands that only read, so that they write nothing and start no background thread
/// (a short-lived process has nothing to flush, sync or compact).
pub fn open_read_only(cli: &Cli) -> Result<Db, CliError> {
    let mut opts = options(cli)?;
    opts.read_only = true;
    open_with(cli, opts)
}

/// Parses a `{name="value", …}` label set given on the command line.
pub fn parse_labels_arg(flag: &str, text: &str) -> Result<logjar::Labels, CliError> {
    let matchers = logjar_logql::syntax::parse_selector(text)
        .map_err(|e| CliError::usage(format!("{flag}: {}", e.render(text))))?;
    let mut pairs = Vec::with_capacity(matchers.len());
    for m in matchers {
        if m.op() != logjar::MatchOp::Eq {
            return Err(CliError::usage(format!(
                "{flag}: only name=\"value\" pairs are allowed, found {m}"
            )));
        }
        pairs.push((m.name().to_string(), m.value().to_string()));
    }
    logjar::Labels::new(pairs).map_err(|e| CliError::usage(format!("{flag}: {e}")))
}
