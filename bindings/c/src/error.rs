//! Status codes, the thread-local last error, and the guard every entry point runs in.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use logjar::{Error, QueryError};

/// Success.
pub const LOGJAR_OK: i32 = 0;
/// An argument was NULL where a value is required, not valid UTF-8, or otherwise
/// invalid (bad options, a malformed push body, a bad tenant id or label); also a
/// write on a database opened with `"read_only": true`.
pub const LOGJAR_ERR_INVALID_ARGUMENT: i32 = 1;
/// The query does not parse, the request JSON is wrong, or evaluation failed as it
/// fails in Loki (HTTP 400 there).
pub const LOGJAR_ERR_BAD_QUERY: i32 = 2;
/// A configured limit rejected the push or the query.
pub const LOGJAR_ERR_LIMIT: i32 = 3;
/// An operating-system I/O error on a file of the database.
pub const LOGJAR_ERR_IO: i32 = 4;
/// A file of the database is corrupt, or has a format version this build cannot read.
pub const LOGJAR_ERR_CORRUPT: i32 = 5;
/// The database directory is held open by another process or handle.
pub const LOGJAR_ERR_LOCKED: i32 = 6;
/// A bug in logjar: a Rust panic was caught at the boundary. The handle may still be
/// used, but the failed operation's effect is unknown.
pub const LOGJAR_ERR_PANIC: i32 = 7;
/// The database was closed, or poisoned for writes by an earlier failed fsync.
pub const LOGJAR_ERR_CLOSED: i32 = 8;
/// The query was cancelled through its `logjar_cancel` token.
pub const LOGJAR_ERR_CANCELLED: i32 = 9;
/// The query ran past its deadline.
pub const LOGJAR_ERR_TIMEOUT: i32 = 10;
/// An error of a kind this version of the ABI does not name yet.
pub const LOGJAR_ERR_OTHER: i32 = 99;

/// A failure: its status code and a message for people.
pub(crate) type Failure = (i32, String);

thread_local! {
    static LAST: RefCell<Option<(i32, CString)>> = const { RefCell::new(None) };
}

fn set_last(code: i32, message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST.with(|l| *l.borrow_mut() = Some((code, text)));
}

fn clear_last() {
    LAST.with(|l| *l.borrow_mut() = None);
}

/// Runs `f` with panics caught: sets (or clears) this thread's last error and returns
/// the status code. Nothing unwinds into the C caller.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Failure>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            clear_last();
            LOGJAR_OK
        }
        Ok(Err((code, message))) => {
            set_last(code, &message);
            code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last(LOGJAR_ERR_PANIC, &format!("internal error (panic): {what}"));
            LOGJAR_ERR_PANIC
        }
    }
}

/// Runs an entry point that returns no status with panics caught: `default` on a panic.
pub(crate) fn or_default<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// The status code and message of a storage error.
pub(crate) fn from_error(e: &Error) -> Failure {
    let code = match e {
        Error::Io { .. } => LOGJAR_ERR_IO,
        Error::Locked { .. } => LOGJAR_ERR_LOCKED,
        Error::Corrupt { .. } | Error::UnsupportedVersion { .. } => LOGJAR_ERR_CORRUPT,
        // A write on a handle opened with `"read_only": true`: a misuse of the handle.
        Error::InvalidArgument(_) | Error::ReadOnly(_) => LOGJAR_ERR_INVALID_ARGUMENT,
        Error::Limit(_) => LOGJAR_ERR_LIMIT,
        Error::Closed(_) => LOGJAR_ERR_CLOSED,
        _ => LOGJAR_ERR_OTHER,
    };
    (code, e.to_string())
}

/// The status code and message of a query error (a bad query carries the caret form).
pub(crate) fn from_query_error(e: &QueryError) -> Failure {
    let code = match e {
        QueryError::BadQuery { .. }
        | QueryError::BadRequest(_)
        | QueryError::Execution(_)
        | QueryError::Unsupported(_) => LOGJAR_ERR_BAD_QUERY,
        QueryError::Limit(_) => LOGJAR_ERR_LIMIT,
        QueryError::Timeout => LOGJAR_ERR_TIMEOUT,
        QueryError::Cancelled => LOGJAR_ERR_CANCELLED,
        QueryError::Storage(e) => return from_error(e),
        _ => LOGJAR_ERR_OTHER,
    };
    (code, e.render())
}

/// Shorthand for an invalid-argument failure.
pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    (LOGJAR_ERR_INVALID_ARGUMENT, message.into())
}

/// The message of the last failed logjar call on this thread, or NULL when the last
/// call succeeded (every status-returning call sets or clears it).
///
/// Ownership: the string belongs to logjar; it stays valid until the next logjar call
/// on this thread. Do not free it; copy it to keep it.
#[no_mangle]
pub extern "C" fn logjar_last_error() -> *const c_char {
    or_default(std::ptr::null(), || {
        LAST.with(|l| {
            l.borrow()
                .as_ref()
                .map_or(std::ptr::null(), |(_, m)| m.as_ptr())
        })
    })
}

/// The status code of the last failed logjar call on this thread, or `LOGJAR_OK`
/// when the last call succeeded.
#[no_mangle]
pub extern "C" fn logjar_last_error_code() -> i32 {
    or_default(LOGJAR_ERR_PANIC, || {
        LAST.with(|l| l.borrow().as_ref().map_or(LOGJAR_OK, |(c, _)| *c))
    })
}
