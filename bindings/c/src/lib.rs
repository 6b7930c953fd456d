//! The C ABI of logjar. The header `include/logjar.h` is generated from this crate by
//! cbindgen (`tests/header.rs` fails when the committed header is stale); `docs/FFI.md`
//! gives the conventions, the ownership table, the error codes and how to link.
//!
//! Conventions (rustls-ffi's): opaque handles; every fallible function returns an
//! `int32_t` status (`LOGJAR_OK` or a `LOGJAR_ERR_*` code) and writes its outputs only on
//! success; `logjar_last_error()` gives this thread's last error message; every entry
//! point catches panics (`LOGJAR_ERR_PANIC`) so nothing unwinds into C; NULL and
//! non-UTF-8 arguments are errors, not undefined behaviour.

#![allow(non_camel_case_types, reason = "C type names follow C conventions")]

mod args;
mod cancel;
mod db;
mod error;
mod maintain;
mod push;
mod registry;
mod result;
mod tail;

pub use args::logjar_string_free;
pub use cancel::{logjar_cancel, logjar_cancel_free, logjar_cancel_new, logjar_cancel_trigger};
pub use db::{
    logjar_close, logjar_db, logjar_flush, logjar_label_names_json, logjar_label_values_json,
    logjar_open, logjar_push_loki_json, logjar_query_loki_json, logjar_query_loki_json_cancellable,
    logjar_series_json,
};
pub use error::*;
pub use maintain::{
    logjar_cancel_delete, logjar_compact, logjar_delete, logjar_delete_requests_json,
};
pub use push::{logjar_label, logjar_push, logjar_push_lenient, logjar_push_report, logjar_stream};
pub use result::{
    logjar_entry, logjar_point, logjar_query, logjar_query_stats, logjar_result,
    logjar_result_entries, logjar_result_free, logjar_result_labels, logjar_result_len,
    logjar_result_loki_json, logjar_result_points, logjar_result_scalar, logjar_result_stats,
    logjar_result_type, LOGJAR_RESULT_MATRIX, LOGJAR_RESULT_SCALAR, LOGJAR_RESULT_STREAMS,
    LOGJAR_RESULT_VECTOR,
};
pub use tail::{logjar_tail, logjar_tail_close, logjar_tail_open, logjar_tail_poll};

/// The version of logjar, e.g. `"0.1.0"`.
///
/// Ownership: a static string; never free it.
#[no_mangle]
pub extern "C" fn logjar_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
