//! Query results as an opaque handle, read as the Loki JSON body or through typed
//! accessors (streams → entries, series → points) without JSON.

use std::ffi::{c_char, CString};

use logjar::query::{QueryRequest, QueryResponse, QueryResult, ResultLabels};

use crate::args::{out_arg, str_arg, tenant_arg, write_string};
use crate::cancel::logjar_cancel;
use crate::db::{db_ref, logjar_db};
use crate::error::{from_query_error, guard, invalid, Failure, LOGJAR_ERR_INVALID_ARGUMENT};
use crate::push::logjar_label;
use crate::registry::Registry;

/// `logjar_result_type`: a log query's streams of entries.
pub const LOGJAR_RESULT_STREAMS: i32 = 1;
/// `logjar_result_type`: a range metric query's series of points.
pub const LOGJAR_RESULT_MATRIX: i32 = 2;
/// `logjar_result_type`: an instant metric query's samples (one point per series).
pub const LOGJAR_RESULT_VECTOR: i32 = 3;
/// `logjar_result_type`: a scalar (an instant query of a number expression).
pub const LOGJAR_RESULT_SCALAR: i32 = 4;

/// One entry of a stream: its timestamp and its line.
///
/// Ownership: `line` belongs to the result handle and stays valid until
/// `logjar_result_free`; it is `line_len` bytes of UTF-8, not NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct logjar_entry {
    /// Unix nanoseconds.
    pub ts: i64,
    /// The line's bytes.
    pub line: *const u8,
    /// The line's length in bytes.
    pub line_len: usize,
}

/// One point of a series: evaluation time and value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct logjar_point {
    /// Evaluation time, Unix nanoseconds (a whole number of milliseconds, as in Loki).
    pub ts: i64,
    /// The value (may be NaN or ±Inf).
    pub value: f64,
}

/// What a query cost (Loki's `stats` names in the comments).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct logjar_query_stats {
    /// Wall time of the query in nanoseconds (`execTime`).
    pub exec_time_ns: u64,
    /// Entries read from storage before any filter (`totalLinesProcessed`).
    pub lines_processed: u64,
    /// Their line bytes (`totalBytesProcessed`).
    pub bytes_processed: u64,
    /// Entries the line filters kept (`totalPostFilterLines`).
    pub post_filter_lines: u64,
    /// Streams the selectors matched.
    pub streams_selected: u64,
    /// Entries, series, samples or 1 (scalar) returned (`totalEntriesReturned`).
    pub entries_returned: u64,
}

/// One stream or series, laid out for C.
#[derive(Debug)]
struct Item {
    /// Owns the label strings `labels` points into.
    _strings: Vec<CString>,
    labels: Vec<logjar_label>,
    entries: Vec<logjar_entry>,
    points: Vec<logjar_point>,
}

/// A query result (opaque). Created by `logjar_query` or `logjar_tail_poll`, freed by
/// `logjar_result_free`. Read-only: one result may be read from many threads at once.
/// It does not depend on the database handle, which may be closed first.
#[derive(Debug)]
pub struct logjar_result {
    /// Owns every line `items` points into.
    resp: QueryResponse,
    items: Vec<Item>,
}

// SAFETY: the raw pointers in `items` point into heap data owned by `resp` and by
// `items` itself (`String` and `CString` buffers), which never moves or changes while
// the result lives; the handle is read-only, so sharing or sending it is sound.
unsafe impl Send for logjar_result {}
// SAFETY: as above.
unsafe impl Sync for logjar_result {}

/// The live `logjar_result` handles.
pub(crate) static RESULTS: Registry = Registry::new("result");

fn c_labels(labels: &ResultLabels) -> (Vec<CString>, Vec<logjar_label>) {
    let mut strings = Vec::with_capacity(labels.len() * 2);
    for (k, v) in labels.iter() {
        // Label names and values come from UTF-8 strings; a NUL in a value (possible in
        // an extracted label) is shown escaped rather than cutting the string.
        strings.push(CString::new(k.replace('\0', "\\0")).unwrap_or_default());
        strings.push(CString::new(v.replace('\0', "\\0")).unwrap_or_default());
    }
    let pairs = strings
        .chunks_exact(2)
        .map(|p| logjar_label {
            name: p[0].as_ptr(),
            value: p[1].as_ptr(),
        })
        .collect();
    (strings, pairs)
}

impl logjar_result {
    /// Lays a response out for the accessors.
    pub(crate) fn new(resp: QueryResponse) -> Self {
        let time_ns = resp.time_ms.saturating_mul(1_000_000);
        let items = match &resp.result {
            QueryResult::Streams(streams) => streams
                .iter()
                .map(|s| {
                    let (strings, labels) = c_labels(&s.labels);
                    Item {
                        _strings: strings,
                        labels,
                        entries: s
                            .entries
                            .iter()
                            .map(|(ts, line)| logjar_entry {
                                ts: *ts,
                                line: line.as_ptr(),
                                line_len: line.len(),
                            })
                            .collect(),
                        points: Vec::new(),
                    }
                })
                .collect(),
            QueryResult::Matrix(m) => m
                .iter()
                .map(|s| {
                    let (strings, labels) = c_labels(&s.labels);
                    Item {
                        _strings: strings,
                        labels,
                        entries: Vec::new(),
                        points: s
                            .points
                            .iter()
                            .map(|p| logjar_point {
                                ts: p.ts_ms.saturating_mul(1_000_000),
                                value: p.value,
                            })
                            .collect(),
                    }
                })
                .collect(),
            QueryResult::Vector(v) => v
                .iter()
                .map(|s| {
                    let (strings, labels) = c_labels(&s.labels);
                    Item {
                        _strings: strings,
                        labels,
                        entries: Vec::new(),
                        points: vec![logjar_point {
                            ts: time_ns,
                            value: s.value,
                        }],
                    }
                })
                .collect(),
            QueryResult::Scalar(_) => Vec::new(),
        };
        logjar_result { resp, items }
    }

    /// Hands the result to C as a new handle.
    pub(crate) fn into_handle(self) -> *mut logjar_result {
        let p = Box::into_raw(Box::new(self));
        RESULTS.insert(p);
        p
    }

    fn item(&self, i: usize) -> Result<&Item, Failure> {
        self.items.get(i).ok_or_else(|| {
            invalid(format!(
                "index {i} is out of range (the result has {})",
                self.items.len()
            ))
        })
    }
}

/// Borrows a result handle.
///
/// # Safety
/// `r` is NULL, a live result or a freed one (not freed concurrently).
unsafe fn result_ref<'a>(r: *const logjar_result) -> Result<&'a logjar_result, Failure> {
    RESULTS.check(r)?;
    // SAFETY: the registry says `r` is live (from `into_handle`), and the caller
    // promises no concurrent `logjar_result_free`.
    Ok(unsafe { &*r })
}

/// Runs a query given as the request JSON of the bindings' common surface (as
/// `logjar_query_loki_json`) and writes a result handle to `*out`, read with the
/// `logjar_result_*` accessors or as JSON with `logjar_result_loki_json`. `cancel` may
/// be NULL; otherwise `logjar_cancel_trigger(cancel)` from another thread stops the
/// query with `LOGJAR_ERR_CANCELLED`.
///
/// ```c
/// logjar_result *r = NULL;
/// if (logjar_query(db, NULL, "{\"query\":\"{app=\\\"api\\\"}\",\"start\":0,\"end\":2000000000}",
///                  NULL, &r) == LOGJAR_OK) {
///     size_t n = 0;
///     logjar_result_len(r, &n);
///     for (size_t i = 0; i < n; i++) {
///         const logjar_entry *e; size_t ne;
///         logjar_result_entries(r, i, &e, &ne);
///         for (size_t j = 0; j < ne; j++) printf("%.*s\n", (int)e[j].line_len, e[j].line);
///     }
///     logjar_result_free(r);
/// }
/// ```
///
/// Ownership: `*out` belongs to the caller, who frees it with `logjar_result_free`;
/// `cancel` stays the caller's and must outlive the call.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; the strings are NULL or NUL-terminated;
/// `cancel` is NULL or a live token; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_query(
    db: *mut logjar_db,
    tenant: *const c_char,
    request_json: *const c_char,
    cancel: *const logjar_cancel,
    out: *mut *mut logjar_result,
) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NULL, a live handle or a closed one.
        let db = unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let tenant = unsafe { tenant_arg(tenant) }?;
        // SAFETY: as above.
        let json = unsafe { str_arg(request_json, "request_json") }?;
        let mut req = QueryRequest::from_json(json).map_err(|e| from_query_error(&e))?;
        // SAFETY: the caller promises NULL or a live token.
        if let Some(c) = unsafe { cancel.as_ref() } {
            req = req.with_cancel(c.token.clone());
        }
        let resp = db.query(tenant, &req).map_err(|e| from_query_error(&e))?;
        let handle = logjar_result::new(resp).into_handle();
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Frees a result and everything its accessors returned. NULL is a no-op; a result
/// freed before gives `LOGJAR_ERR_CLOSED`.
///
/// # Safety
/// `r` is NULL, a result handle, or one freed before; no other thread reads it now.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_free(r: *mut logjar_result) -> i32 {
    guard(|| {
        if r.is_null() {
            return Ok(());
        }
        if !RESULTS.remove(r) {
            return Err((
                crate::error::LOGJAR_ERR_CLOSED,
                "result handle is freed already".into(),
            ));
        }
        // SAFETY: the registry held `r`, so it came from `Box::into_raw` in
        // `into_handle`; removed now, so it is freed once.
        drop(unsafe { Box::from_raw(r) });
        Ok(())
    })
}

/// Writes the body Loki's HTTP API returns for this result
/// (`{"status":"success","data":{"resultType":…}}`) to `*out_json`.
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// `r` is NULL or a result handle; `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_loki_json(
    r: *const logjar_result,
    out_json: *mut *mut c_char,
) -> i32 {
    guard(|| {
        out_arg(out_json, "out_json")?;
        // SAFETY: the caller promises NULL or a result handle.
        let r = unsafe { result_ref(r) }?;
        // SAFETY: `out_json` was checked non-NULL; the caller promises it is writable.
        unsafe { write_string(out_json, r.resp.to_loki_json()) }
    })
}

/// Writes the result type to `*out`: `LOGJAR_RESULT_STREAMS`, `_MATRIX`, `_VECTOR` or
/// `_SCALAR`.
///
/// # Safety
/// `r` is NULL or a result handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_type(r: *const logjar_result, out: *mut i32) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let r = unsafe { result_ref(r) }?;
        let t = match r.resp.result {
            QueryResult::Streams(_) => LOGJAR_RESULT_STREAMS,
            QueryResult::Matrix(_) => LOGJAR_RESULT_MATRIX,
            QueryResult::Vector(_) => LOGJAR_RESULT_VECTOR,
            QueryResult::Scalar(_) => LOGJAR_RESULT_SCALAR,
        };
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(t) };
        Ok(())
    })
}

/// Writes the number of streams (streams), series (matrix) or samples (vector) to
/// `*out`; 0 for a scalar. Items are indexed `0 .. *out` in the accessors below, in
/// Loki's order (sorted by labels).
///
/// # Safety
/// `r` is NULL or a result handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_len(r: *const logjar_result, out: *mut usize) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let r = unsafe { result_ref(r) }?;
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(r.items.len()) };
        Ok(())
    })
}

/// Writes the labels of stream/series/sample `i` (sorted by name) as an array of
/// `*n_out` pairs to `*labels_out`. An index out of range is
/// `LOGJAR_ERR_INVALID_ARGUMENT`.
///
/// Ownership: the array and its strings belong to the result; valid until
/// `logjar_result_free`.
///
/// # Safety
/// `r` is NULL or a result handle; the outputs are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_labels(
    r: *const logjar_result,
    i: usize,
    labels_out: *mut *const logjar_label,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        out_arg(labels_out, "labels_out")?;
        out_arg(n_out, "n_out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let item = unsafe { result_ref(r) }?.item(i)?;
        // SAFETY: both outputs were checked non-NULL; the caller promises them writable.
        unsafe { write_array(labels_out, n_out, &item.labels) };
        Ok(())
    })
}

/// Writes the entries of stream `i` of a streams result (in the query direction) as an
/// array of `*n_out` entries to `*entries_out`. Another result type, or an index out
/// of range, is `LOGJAR_ERR_INVALID_ARGUMENT`.
///
/// Ownership: the array and its lines belong to the result; valid until
/// `logjar_result_free`.
///
/// # Safety
/// `r` is NULL or a result handle; the outputs are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_entries(
    r: *const logjar_result,
    i: usize,
    entries_out: *mut *const logjar_entry,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        out_arg(entries_out, "entries_out")?;
        out_arg(n_out, "n_out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let r = unsafe { result_ref(r) }?;
        if !matches!(r.resp.result, QueryResult::Streams(_)) {
            return Err(wrong_type(r, "entries", "streams"));
        }
        let item = r.item(i)?;
        // SAFETY: both outputs were checked non-NULL; the caller promises them writable.
        unsafe { write_array(entries_out, n_out, &item.entries) };
        Ok(())
    })
}

/// Writes the points of series `i` of a matrix (in time order), or the one point of
/// sample `i` of a vector (at the query time), as an array of `*n_out` points to
/// `*points_out`. Another result type, or an index out of range, is
/// `LOGJAR_ERR_INVALID_ARGUMENT`.
///
/// Ownership: the array belongs to the result; valid until `logjar_result_free`.
///
/// # Safety
/// `r` is NULL or a result handle; the outputs are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_points(
    r: *const logjar_result,
    i: usize,
    points_out: *mut *const logjar_point,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        out_arg(points_out, "points_out")?;
        out_arg(n_out, "n_out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let r = unsafe { result_ref(r) }?;
        if !matches!(
            r.resp.result,
            QueryResult::Matrix(_) | QueryResult::Vector(_)
        ) {
            return Err(wrong_type(r, "points", "matrix or vector"));
        }
        let item = r.item(i)?;
        // SAFETY: both outputs were checked non-NULL; the caller promises them writable.
        unsafe { write_array(points_out, n_out, &item.points) };
        Ok(())
    })
}

/// Writes the value of a scalar result and its evaluation time (Unix ns) to `*out`.
/// Another result type is `LOGJAR_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `r` is NULL or a result handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_scalar(
    r: *const logjar_result,
    out: *mut logjar_point,
) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let r = unsafe { result_ref(r) }?;
        let QueryResult::Scalar(v) = r.resp.result else {
            return Err(wrong_type(r, "a scalar", "scalar"));
        };
        let p = logjar_point {
            ts: r.resp.time_ms.saturating_mul(1_000_000),
            value: v,
        };
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(p) };
        Ok(())
    })
}

/// Writes what the query cost to `*out`.
///
/// # Safety
/// `r` is NULL or a result handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_result_stats(
    r: *const logjar_result,
    out: *mut logjar_query_stats,
) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NULL or a result handle.
        let s = &unsafe { result_ref(r) }?.resp.stats;
        let stats = logjar_query_stats {
            exec_time_ns: u64::try_from(s.exec_time.as_nanos()).unwrap_or(u64::MAX),
            lines_processed: s.total_lines_processed,
            bytes_processed: s.total_bytes_processed,
            post_filter_lines: s.post_filter_lines,
            streams_selected: s.streams_selected,
            entries_returned: s.entries_returned,
        };
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(stats) };
        Ok(())
    })
}

fn wrong_type(r: &logjar_result, what: &str, want: &str) -> Failure {
    (
        LOGJAR_ERR_INVALID_ARGUMENT,
        format!(
            "{what}: only a {want} result has them, this one is {}",
            r.resp.result.result_type()
        ),
    )
}

/// Hands a borrowed array to C as a pointer and a length.
///
/// # Safety
/// `ptr_out` and `n_out` are non-NULL and valid for one write each.
unsafe fn write_array<T>(ptr_out: *mut *const T, n_out: *mut usize, items: &[T]) {
    // SAFETY: guaranteed by the caller (this function's contract).
    unsafe {
        ptr_out.write(items.as_ptr());
        n_out.write(items.len());
    }
}
