//! Times and durations on the command line.

use crate::error::CliError;

/// Parses `--start`/`--end`/`--time` values: RFC 3339 or integer Unix nanoseconds.
pub fn parse_time(flag: &str, s: &str) -> Result<i64, CliError> {
    logjar::ingest::parse_time(s).map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

/// Parses an optional time flag.
pub fn opt_time(flag: &str, s: Option<&str>) -> Result<Option<i64>, CliError> {
    s.map(|s| parse_time(flag, s)).transpose()
}

/// Parses a LogQL duration (`30s`, `5m`, `1h30m`, `0`) into nanoseconds.
pub fn parse_duration(flag: &str, s: &str) -> Result<i64, CliError> {
    if s == "0" {
        return Ok(0);
    }
    logjar_logql::units::parse_range_duration(s).ok_or_else(|| {
        CliError::usage(format!(
            "{flag}: {s:?} is not a duration (examples: 30s, 5m, 1h30m, 7d)"
        ))
    })
}

/// Current time in Unix nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
