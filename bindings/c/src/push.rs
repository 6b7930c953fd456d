//! The typed push: streams given as C arrays (labels, timestamps, lines, metadata),
//! no JSON.

use std::ffi::c_char;

use bytes::{Bytes, BytesMut};
use logjar::entry::StreamEntries;
use logjar::{Entry, Labels, PushReport};

use crate::args::{str_arg, tenant_arg};
use crate::db::{db_ref, logjar_db};
use crate::error::{from_error, guard, invalid, Failure};

/// A name/value pair: a stream label, a metadata pair, or (in results) a result label.
/// Both strings are NUL-terminated UTF-8.
///
/// Ownership: in arguments, the strings stay the caller's; in results, they belong to
/// the result handle and stay valid until `logjar_result_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct logjar_label {
    /// The name (`app`).
    pub name: *const c_char,
    /// The value (`api`).
    pub value: *const c_char,
}

/// The entries of one stream, for `logjar_push`: parallel arrays of `n_entries`
/// timestamps, line pointers and line lengths, plus optional structured metadata.
///
/// Ownership: every pointer stays the caller's and only needs to be valid during the
/// `logjar_push` call; logjar copies what it keeps.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct logjar_stream {
    /// The stream's labels (`n_labels` pairs, in any order; at least one non-empty value).
    pub labels: *const logjar_label,
    /// Number of labels.
    pub n_labels: usize,
    /// `n_entries` timestamps, Unix nanoseconds, in any order.
    pub timestamps: *const i64,
    /// `n_entries` line pointers; line `i` is `line_lens[i]` bytes at `lines[i]` (any
    /// bytes, no NUL needed; NULL is allowed when its length is 0).
    pub lines: *const *const u8,
    /// `n_entries` line lengths in bytes.
    pub line_lens: *const usize,
    /// Number of entries (0 pushes nothing for this stream).
    pub n_entries: usize,
    /// NULL when no entry has structured metadata; otherwise `n_entries` counts, entry
    /// `i` having `metadata_counts[i]` pairs.
    pub metadata_counts: *const usize,
    /// The metadata pairs of all entries back to back, in entry order (as many as the
    /// counts add up to). Ignored when `metadata_counts` is NULL.
    pub metadata: *const logjar_label,
}

/// What a push wrote (`logjar_push`, `logjar_push_lenient`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct logjar_push_report {
    /// Entries written.
    pub accepted: u64,
    /// Exact duplicates (same stream, timestamp and line as a stored entry), stored once.
    pub duplicates: u64,
    /// Entries skipped by a limit (`logjar_push_lenient` only; 0 after `logjar_push`).
    pub rejected: u64,
    /// Line bytes written.
    pub bytes: u64,
}

impl From<&PushReport> for logjar_push_report {
    fn from(r: &PushReport) -> Self {
        logjar_push_report {
            accepted: r.accepted,
            duplicates: r.duplicates,
            rejected: r.rejected.total(),
            bytes: r.bytes,
        }
    }
}

/// Views a C array as a slice; NULL is allowed only when `n` is 0.
///
/// # Safety
/// `p` is NULL or points to `n` initialised values that stay unchanged for `'a`.
unsafe fn array<'a, T>(p: *const T, n: usize, what: &str) -> Result<&'a [T], Failure> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL but {n} are given")));
    }
    if n.checked_mul(std::mem::size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(invalid(format!("{what}: {n} elements is too many")));
    }
    // SAFETY: non-NULL, size checked, and the caller promises `n` readable elements.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// Reads name/value pairs.
///
/// # Safety
/// Every pair's strings are NULL or NUL-terminated and live for the call.
unsafe fn pairs(ls: &[logjar_label], what: &str) -> Result<Vec<(String, String)>, Failure> {
    ls.iter()
        .map(|l| {
            // SAFETY: the caller's promise about the strings is passed on.
            let name = unsafe { str_arg(l.name, &format!("{what} name")) }?;
            // SAFETY: as above.
            let value = unsafe { str_arg(l.value, &format!("{what} value")) }?;
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Converts C streams to a push batch. All line bytes are copied into one buffer that
/// the entries share (one allocation per batch rather than one per line).
///
/// # Safety
/// `streams` holds valid `logjar_stream` descriptions (see its docs).
unsafe fn batch(streams: &[logjar_stream]) -> Result<Vec<StreamEntries>, Failure> {
    struct View<'a> {
        labels: Labels,
        ts: &'a [i64],
        lines: &'a [*const u8],
        lens: &'a [usize],
        meta_counts: Option<&'a [usize]>,
        meta: &'a [logjar_label],
    }
    let mut views = Vec::with_capacity(streams.len());
    let mut total = 0usize;
    for (i, s) in streams.iter().enumerate() {
        let n = s.n_entries;
        // SAFETY: the caller promises each array holds what its count says.
        let raw_labels = unsafe { array(s.labels, s.n_labels, "labels") }?;
        // SAFETY: the label strings are NUL-terminated, as promised.
        let label_pairs = unsafe { pairs(raw_labels, "label") }?;
        let labels = Labels::new(label_pairs)
            .map_err(|e| invalid(format!("stream {i}: {}", from_error(&e).1)))?;
        // SAFETY: as above, for the parallel entry arrays.
        let ts = unsafe { array(s.timestamps, n, "timestamps") }?;
        // SAFETY: as above.
        let lines = unsafe { array(s.lines, n, "lines") }?;
        // SAFETY: as above.
        let lens = unsafe { array(s.line_lens, n, "line_lens") }?;
        let (meta_counts, meta) = if s.metadata_counts.is_null() {
            (None, &[][..])
        } else {
            // SAFETY: as above.
            let counts = unsafe { array(s.metadata_counts, n, "metadata_counts") }?;
            let m = counts
                .iter()
                .try_fold(0usize, |a, &c| a.checked_add(c))
                .ok_or_else(|| invalid("metadata_counts overflow"))?;
            // SAFETY: as above; the pairs number the sum of the counts.
            (Some(counts), unsafe { array(s.metadata, m, "metadata") }?)
        };
        for (&p, &len) in lines.iter().zip(lens) {
            if p.is_null() && len > 0 {
                return Err(invalid(format!(
                    "stream {i}: a line is NULL with length {len}"
                )));
            }
            total = total
                .checked_add(len)
                .filter(|&t| t <= isize::MAX as usize)
                .ok_or_else(|| invalid("line bytes overflow"))?;
        }
        views.push(View {
            labels,
            ts,
            lines,
            lens,
            meta_counts,
            meta,
        });
    }
    let mut buf = BytesMut::with_capacity(total);
    for v in &views {
        for (&p, &len) in v.lines.iter().zip(v.lens) {
            if len > 0 {
                // SAFETY: checked non-NULL above; the caller promises `len` readable bytes.
                buf.extend_from_slice(unsafe { std::slice::from_raw_parts(p, len) });
            }
        }
    }
    let all: Bytes = buf.freeze();
    let mut at = 0usize;
    let mut out = Vec::with_capacity(views.len());
    for v in views {
        let mut entries = Vec::with_capacity(v.ts.len());
        let mut meta_at = 0usize;
        for (i, (&ts, &len)) in v.ts.iter().zip(v.lens).enumerate() {
            let mut e = Entry::new(ts, all.slice(at..at + len));
            at += len;
            if let Some(counts) = v.meta_counts {
                let m = &v.meta[meta_at..meta_at + counts[i]];
                meta_at += counts[i];
                // SAFETY: the metadata strings are NUL-terminated, as promised.
                e.metadata = unsafe { pairs(m, "metadata") }?;
            }
            entries.push(e);
        }
        out.push(StreamEntries {
            labels: v.labels,
            entries,
        });
    }
    Ok(out)
}

/// Shared body of the two typed pushes.
///
/// # Safety
/// As `logjar_push`.
unsafe fn push_impl(
    db: *mut logjar_db,
    tenant: *const c_char,
    streams: *const logjar_stream,
    n_streams: usize,
    report: *mut logjar_push_report,
    strict: bool,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises NULL, a live handle or a closed one.
        let db = unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let tenant = unsafe { tenant_arg(tenant) }?;
        // SAFETY: the caller promises `n_streams` stream descriptions.
        let streams = unsafe { array(streams, n_streams, "streams") }?;
        // SAFETY: the caller promises valid descriptions.
        let batch = unsafe { batch(streams) }?;
        let r = if strict {
            db.push(tenant, &batch)
        } else {
            db.push_lenient(tenant, &batch)
        }
        .map_err(|e| from_error(&e))?;
        if !report.is_null() {
            // SAFETY: non-NULL, and the caller promises it is writable.
            unsafe { report.write((&r).into()) };
        }
        Ok(())
    })
}

/// Writes `n_streams` streams to `tenant` (NULL: the default tenant `fake`) as one
/// batch, all or nothing: bad labels, a NULL array with a non-zero count, or metadata
/// that is not UTF-8 give `LOGJAR_ERR_INVALID_ARGUMENT`, an entry over a limit
/// `LOGJAR_ERR_LIMIT`, and then nothing is written. Lines may be any bytes. Returns once
/// the batch is as durable as the `sync` option says. `report` may be NULL; otherwise
/// it receives what was written.
///
/// ```c
/// logjar_label labels[] = {{"app", "api"}, {"env", "prod"}};
/// int64_t ts[] = {1000000000, 2000000000};
/// const uint8_t *lines[] = {(const uint8_t *)"GET /a 200", (const uint8_t *)"GET /b 500"};
/// size_t lens[] = {10, 10};
/// logjar_stream s = {labels, 2, ts, lines, lens, 2, NULL, NULL};
/// int32_t rc = logjar_push(db, NULL, &s, 1, NULL);
/// ```
///
/// Ownership: every argument stays the caller's and may be freed when the call
/// returns; logjar copies what it keeps.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; `tenant` is NULL or NUL-terminated;
/// `streams` points to `n_streams` descriptions whose arrays hold what their counts
/// say and whose strings are NUL-terminated; `report` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_push(
    db: *mut logjar_db,
    tenant: *const c_char,
    streams: *const logjar_stream,
    n_streams: usize,
    report: *mut logjar_push_report,
) -> i32 {
    // SAFETY: the caller's promises are passed on.
    unsafe { push_impl(db, tenant, streams, n_streams, report, true) }
}

/// As `logjar_push`, but the way Loki ingests: entries that break a limit are skipped
/// and counted in `report->rejected`, the rest is written. Only bad arguments, the
/// tenant's rate limit or a storage failure fail the whole call.
///
/// Ownership: as `logjar_push`.
///
/// # Safety
/// As `logjar_push`.
#[no_mangle]
pub unsafe extern "C" fn logjar_push_lenient(
    db: *mut logjar_db,
    tenant: *const c_char,
    streams: *const logjar_stream,
    n_streams: usize,
    report: *mut logjar_push_report,
) -> i32 {
    // SAFETY: the caller's promises are passed on.
    unsafe { push_impl(db, tenant, streams, n_streams, report, false) }
}
