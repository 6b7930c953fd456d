//! Compaction and deletes.

use std::ffi::c_char;

use logjar::Db;

use crate::args::{str_arg, tenant_arg, write_string};
use crate::db::{db_ref, logjar_db, tenant_json_call};
use crate::error::{from_error, guard, Failure, LOGJAR_ERR_OTHER};

fn json_failure(e: serde_json::Error) -> Failure {
    (LOGJAR_ERR_OTHER, format!("encoding JSON: {e}"))
}

/// Runs one compaction now (waiting for a running one to finish first): flushes what
/// is in memory, drops expired segments, rewrites segments holding expired or deleted
/// entries, and merges small segments. Reads and writes go on meanwhile. When
/// `out_json` is not NULL it receives the report, a JSON object:
/// `{"segments_before":3,"segments_after":1,"bytes_before":…,"bytes_after":…,
/// "entries_expired":0,"entries_deleted":0,"deletes_applied":0,"duration_ms":…,…}`.
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_compact(db: *mut logjar_db, out_json: *mut *mut c_char) -> i32 {
    guard(|| {
        // SAFETY: the caller promises NULL, a live handle or a closed one.
        let db = unsafe { db_ref(db) }?;
        let report = db.compact().map_err(|e| from_error(&e))?;
        if !out_json.is_null() {
            // SAFETY: non-NULL, and the caller promises it is writable.
            unsafe {
                write_string(
                    out_json,
                    serde_json::to_string(&report).map_err(json_failure)?,
                )
            }?;
        }
        Ok(())
    })
}

/// Logs a delete request for `tenant`'s entries matching `query` (a log selector with
/// optional line filters, as Loki's delete API: `{app="api"} |= "secret"`) with
/// timestamps in `[start_ns, end_ns]` (both inclusive). It is durable when this returns;
/// queries stop returning those entries at once, and compaction removes them from
/// disk. A query that does not parse is `LOGJAR_ERR_INVALID_ARGUMENT` with the parser's
/// message. When `out_id` is not NULL it receives the request's id (from 1), for
/// `logjar_cancel_delete`.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; the strings are NULL or NUL-terminated;
/// `out_id` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_delete(
    db: *mut logjar_db,
    tenant: *const c_char,
    query: *const c_char,
    start_ns: i64,
    end_ns: i64,
    out_id: *mut u64,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises NULL, a live handle or a closed one.
        let db = unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let tenant = unsafe { tenant_arg(tenant) }?;
        // SAFETY: as above.
        let query = unsafe { str_arg(query, "query") }?;
        let req = db
            .delete(tenant, query, start_ns, end_ns)
            .map_err(|e| from_error(&e))?;
        if !out_id.is_null() {
            // SAFETY: non-NULL, and the caller promises it is writable.
            unsafe { out_id.write(req.id) };
        }
        Ok(())
    })
}

/// Writes every delete request of `tenant` (pending, applied and cancelled), by id, as
/// a JSON array to `*out_json`:
/// `[{"id":1,"tenant":"fake","query":"{app=\"api\"}","start":0,"end":10,"created":…,"status":"pending"},…]`.
///
/// Ownership: `*out_json` belongs to the caller, who frees it with `logjar_string_free`.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; `tenant` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_delete_requests_json(
    db: *mut logjar_db,
    tenant: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    let answer = |db: &Db, tenant: &str| {
        let reqs = db.delete_requests(tenant).map_err(|e| from_error(&e))?;
        serde_json::to_string(&reqs).map_err(json_failure)
    };
    // SAFETY: the caller's promises about `db`, `tenant` and `out_json` are passed on.
    unsafe { tenant_json_call(db, tenant, out_json, answer) }
}

/// Cancels pending delete request `id` of `tenant`: its entries are returned by queries
/// again. An unknown id, or a request already applied (or being applied) by compaction,
/// is `LOGJAR_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; `tenant` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn logjar_cancel_delete(
    db: *mut logjar_db,
    tenant: *const c_char,
    id: u64,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises NULL, a live handle or a closed one.
        let db = unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let tenant = unsafe { tenant_arg(tenant) }?;
        db.cancel_delete(tenant, id).map_err(|e| from_error(&e))
    })
}
