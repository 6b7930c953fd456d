//! `compact` and `delete`.

use crate::args::{Cli, DeleteArgs};
use crate::error::CliError;
use crate::open::open;
use crate::time::parse_time;

/// `logjar compact`: one compaction, summarised on stderr.
pub fn compact(cli: &Cli) -> Result<(), CliError> {
    let db = open(cli)?;
    let r = db.compact()?;
    db.close()?;
    eprintln!(
        "compacted: {} -> {} segments, {} -> {} bytes, {} expired and {} deleted entries removed, \
         {} delete requests applied, in {:.3}s",
        r.segments_before,
        r.segments_after,
        r.bytes_before,
        r.bytes_after,
        r.entries_expired,
        r.entries_deleted,
        r.deletes_applied,
        r.duration_ms as f64 / 1e3
    );
    Ok(())
}

/// `logjar delete --start T --end T 'SELECTOR [| filters]'`: prints the request id.
pub fn delete(cli: &Cli, a: &DeleteArgs) -> Result<(), CliError> {
    let start = parse_time("--start", &a.start)?;
    let end = parse_time("--end", &a.end)?;
    if start > end {
        return Err(CliError::usage("--start is after --end"));
    }
    // Parse before opening, for the message with a caret under the fault.
    logjar_logql::parse_log_expr(&a.query).map_err(|e| CliError::usage(e.render(&a.query)))?;
    let db = open(cli)?;
    let req = db.delete(&a.tenant, &a.query, start, end)?;
    db.close()?;
    println!("{}", req.id);
    Ok(())
}
