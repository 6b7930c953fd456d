//! The database handle: open, push, query, flush, labels, series, close.

use std::ffi::c_char;

use logjar::query::QueryRequest;
use logjar::{Db, Options};

use crate::args::{opt_str_arg, out_arg, str_arg, tenant_arg, write_string};
use crate::cancel::logjar_cancel;
use crate::error::{from_error, from_query_error, guard, invalid, Failure, LOGJAR_ERR_CLOSED};
use crate::registry::Registry;

/// The live `logjar_db` handles.
pub(crate) static DBS: Registry = Registry::new("db");

/// An open database (opaque). Created by `logjar_open`, destroyed by `logjar_close`.
///
/// Thread safety: one handle may be used from any number of threads at once (pushes,
/// queries, flushes run concurrently). `logjar_close` must not race with other calls
/// on the same handle. A handle used after `logjar_close` gives `LOGJAR_ERR_CLOSED`.
#[derive(Debug)]
pub struct logjar_db {
    pub(crate) db: Db,
}

/// Borrows the database behind a handle: NULL is `LOGJAR_ERR_INVALID_ARGUMENT`, a
/// closed handle `LOGJAR_ERR_CLOSED`.
///
/// # Safety
/// `db` is NULL, a live handle from `logjar_open`, or one closed earlier (not
/// concurrently with this call).
pub(crate) unsafe fn db_ref<'a>(db: *const logjar_db) -> Result<&'a Db, Failure> {
    DBS.check(db)?;
    // SAFETY: the registry says `db` is a live handle from `Box::into_raw` in
    // `logjar_open`; it stays valid until `logjar_close`, which the caller promises
    // does not run concurrently.
    Ok(unsafe { &(*db).db })
}

/// Opens (creating if needed) the database in directory `path` and writes its handle
/// to `*out`. `options_json` is NULL for the defaults, or a JSON object whose keys are
/// the fields of the Rust `Options` (e.g. `{"sync":"never","retention":"24h"}`);
/// unknown keys are an error. A directory already open (here or in another process)
/// gives `LOGJAR_ERR_LOCKED`.
///
/// Ownership: `*out` belongs to the caller, who releases it with `logjar_close`.
///
/// # Safety
/// `path` and `options_json` are NULL or NUL-terminated strings; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_open(
    path: *const c_char,
    options_json: *const c_char,
    out: *mut *mut logjar_db,
) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NUL-terminated strings or NULL.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: as above.
        let opts = match unsafe { opt_str_arg(options_json, "options_json") }? {
            Some(j) => Options::from_json(j).map_err(|e| from_error(&e))?,
            None => Options::default(),
        };
        let db = Db::open(path, opts).map_err(|e| from_error(&e))?;
        let handle = Box::into_raw(Box::new(logjar_db { db }));
        DBS.insert(handle);
        // SAFETY: `out` was checked non-NULL and the caller promises it is writable.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Closes the database: stops its background work, syncs the WAL and releases the
/// directory lock, then frees the handle (even when closing reports an error). NULL is
/// a no-op; a handle closed before gives `LOGJAR_ERR_CLOSED`. Close the tail
/// subscriptions of the handle first (their polls give `LOGJAR_ERR_CLOSED` after this);
/// result handles do not depend on the database and stay readable. The handle must not
/// be used concurrently with this call.
///
/// # Safety
/// `db` is NULL, a handle from `logjar_open`, or one closed before; no other thread
/// uses it during the call.
#[no_mangle]
pub unsafe extern "C" fn logjar_close(db: *mut logjar_db) -> i32 {
    guard(|| {
        if db.is_null() {
            return Ok(());
        }
        if !DBS.remove(db) {
            return Err((LOGJAR_ERR_CLOSED, "db handle is closed already".into()));
        }
        // SAFETY: the registry held `db`, so it is a live handle from `Box::into_raw`
        // in `logjar_open`, now removed so it is freed once; no other thread uses it.
        let handle = unsafe { Box::from_raw(db) };
        handle.db.close().map_err(|e| from_error(&e))
    })
}

/// Writes a Loki push body (`{"streams":[{"stream":{…},"values":[["<ns>","line"],…]}]}`,
/// `len` bytes at `body`) to `tenant` (NULL: the default tenant `fake`). The batch is
/// written all-or-nothing: a malformed body or bad labels give
/// `LOGJAR_ERR_INVALID_ARGUMENT`, an entry over a limit `LOGJAR_ERR_LIMIT`, and then
/// nothing is written. Returns once the batch is as durable as the `sync` option says.
///
/// Ownership: `body` stays the caller's; logjar copies what it keeps.
///
/// # Safety
/// `db` is NULL or a live handle; `tenant` is NULL or a NUL-terminated string; `body`
/// points to `len` readable bytes (it may be NULL only when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn logjar_push_loki_json(
    db: *mut logjar_db,
    tenant: *const c_char,
    body: *const u8,
    len: usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises NULL or a live handle.
        let db = unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let tenant = unsafe { tenant_arg(tenant) }?;
        let body: &[u8] = match (body.is_null(), len) {
            (true, 0) => &[],
            (true, _) => return Err(invalid("body is NULL")),
            // SAFETY: non-NULL, and the caller promises `len` readable bytes that stay
            // unchanged during the call.
            (false, _) => unsafe { std::slice::from_raw_parts(body, len) },
        };
        let streams = logjar::ingest::parse_loki_push(body).map_err(|e| invalid(e.to_string()))?;
        db.push(tenant, &streams).map_err(|e| from_error(&e))?;
        Ok(())
    })
}

/// Runs a query given as the request JSON of the bindings' common surface
/// (`{"query":"…","start":<ns>,"end":<ns>,"step":"60s","limit":100,"direction":"backward"}`,
/// or `"time":<ns>` for an instant query) against `tenant` (NULL: `fake`) and writes the
/// body Loki's HTTP API returns to `*out_json` (`{"status":"success","data":{…}}`).
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// `db` is NULL or a live handle; the strings are NULL or NUL-terminated; `out_json`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_query_loki_json(
    db: *mut logjar_db,
    tenant: *const c_char,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's promises are passed on; a NULL token means "no token".
    unsafe {
        logjar_query_loki_json_cancellable(db, tenant, request_json, std::ptr::null(), out_json)
    }
}

/// As `logjar_query_loki_json`, and the query stops with `LOGJAR_ERR_CANCELLED` soon
/// after `logjar_cancel_trigger(cancel)` is called from another thread. `cancel` may be
/// NULL (no cancellation).
///
/// Ownership: as `logjar_query_loki_json`; `cancel` stays the caller's and must outlive
/// the call.
///
/// # Safety
/// As `logjar_query_loki_json`; `cancel` is NULL or a live token from `logjar_cancel_new`.
#[no_mangle]
pub unsafe extern "C" fn logjar_query_loki_json_cancellable(
    db: *mut logjar_db,
    tenant: *const c_char,
    request_json: *const c_char,
    cancel: *const logjar_cancel,
    out_json: *mut *mut c_char,
) -> i32 {
    let answer = |db: &Db, tenant: &str| {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let json = unsafe { str_arg(request_json, "request_json") }?;
        let mut req = QueryRequest::from_json(json).map_err(|e| from_query_error(&e))?;
        // SAFETY: the caller promises NULL or a live token.
        if let Some(c) = unsafe { cancel.as_ref() } {
            req = req.with_cancel(c.token.clone());
        }
        let resp = db.query(tenant, &req).map_err(|e| from_query_error(&e))?;
        Ok(resp.to_loki_json())
    };
    // SAFETY: the caller's promises about `db`, `tenant` and `out_json` are passed on.
    unsafe { tenant_json_call(db, tenant, out_json, answer) }
}

/// Writes everything buffered in memory to segment files and returns once durable.
///
/// # Safety
/// `db` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn logjar_flush(db: *mut logjar_db) -> i32 {
    guard(|| {
        // SAFETY: the caller promises NULL or a live handle.
        let db = unsafe { db_ref(db) }?;
        db.flush().map_err(|e| from_error(&e))
    })
}

/// The frame shared by the calls that answer a request of `tenant` with a JSON string:
/// checks `out_json`, then the handle, then the tenant, runs `f`, and writes its string
/// to `*out_json` (the caller's, to free with `logjar_string_free`). Returns the status.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open` not closed during the call; `tenant` is
/// NULL or NUL-terminated; `out_json` is NULL or writable.
pub(crate) unsafe fn tenant_json_call(
    db: *const logjar_db,
    tenant: *const c_char,
    out_json: *mut *mut c_char,
    f: impl FnOnce(&Db, &str) -> Result<String, Failure>,
) -> i32 {
    guard(|| {
        out_arg(out_json, "out_json")?;
        // SAFETY: the caller promises NULL or a live handle.
        let db = unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let tenant = unsafe { tenant_arg(tenant) }?;
        let json = f(db, tenant)?;
        // SAFETY: `out_json` was checked non-NULL; the caller promises it is writable.
        unsafe { write_string(out_json, json) }
    })
}

/// Loki's `{"status":"success","data":[…]}` body.
fn success_json(data: serde_json::Value) -> String {
    format!(r#"{{"status":"success","data":{data}}}"#)
}

/// Writes the sorted label names of `tenant`'s streams with data in `[start, end)`
/// (Unix ns) as Loki's `/loki/api/v1/labels` body: `{"status":"success","data":["app",…]}`.
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// As `logjar_query_loki_json`.
#[no_mangle]
pub unsafe extern "C" fn logjar_label_names_json(
    db: *mut logjar_db,
    tenant: *const c_char,
    start: i64,
    end: i64,
    out_json: *mut *mut c_char,
) -> i32 {
    let answer = |db: &Db, tenant: &str| {
        let names = db
            .label_names(tenant, start, end)
            .map_err(|e| from_error(&e))?;
        Ok(success_json(names.into()))
    };
    // SAFETY: the caller's promises about `db`, `tenant` and `out_json` are passed on.
    unsafe { tenant_json_call(db, tenant, out_json, answer) }
}

/// Writes the sorted values of label `name` among `tenant`'s streams with data in
/// `[start, end)` as Loki's `/loki/api/v1/label/<name>/values` body.
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// As `logjar_query_loki_json`.
#[no_mangle]
pub unsafe extern "C" fn logjar_label_values_json(
    db: *mut logjar_db,
    tenant: *const c_char,
    name: *const c_char,
    start: i64,
    end: i64,
    out_json: *mut *mut c_char,
) -> i32 {
    let answer = |db: &Db, tenant: &str| {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        let values = db
            .label_values(tenant, name, start, end)
            .map_err(|e| from_error(&e))?;
        Ok(success_json(values.into()))
    };
    // SAFETY: the caller's promises about `db`, `tenant` and `out_json` are passed on.
    unsafe { tenant_json_call(db, tenant, out_json, answer) }
}

/// Writes the label sets of `tenant`'s streams that match `selector` (`{app="api"}`)
/// with data in `[start, end)` as Loki's `/loki/api/v1/series` body:
/// `{"status":"success","data":[{"app":"api",…},…]}`. A selector that does not parse
/// gives `LOGJAR_ERR_BAD_QUERY`.
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// As `logjar_query_loki_json`.
#[no_mangle]
pub unsafe extern "C" fn logjar_series_json(
    db: *mut logjar_db,
    tenant: *const c_char,
    selector: *const c_char,
    start: i64,
    end: i64,
    out_json: *mut *mut c_char,
) -> i32 {
    let answer = |db: &Db, tenant: &str| {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let selector = unsafe { str_arg(selector, "selector") }?;
        let matchers = logjar_logql::parse_selector(selector).map_err(|e| {
            (
                crate::error::LOGJAR_ERR_BAD_QUERY,
                e.render(selector).to_string(),
            )
        })?;
        let series = db
            .series(tenant, &matchers, start, end)
            .map_err(|e| from_error(&e))?;
        let data: Vec<serde_json::Value> = series
            .iter()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            })
            .collect();
        Ok(success_json(data.into()))
    };
    // SAFETY: the caller's promises about `db`, `tenant` and `out_json` are passed on.
    unsafe { tenant_json_call(db, tenant, out_json, answer) }
}
