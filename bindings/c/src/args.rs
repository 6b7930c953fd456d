//! Reading arguments from C and writing results back.

use std::ffi::{c_char, CStr, CString};

use crate::error::{invalid, Failure, LOGJAR_ERR_OTHER};

/// The default tenant, as in Loki's single-tenant mode.
pub(crate) const DEFAULT_TENANT: &str = "fake";

/// Reads a required NUL-terminated UTF-8 string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and unchanged
/// for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string living for 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| invalid(format!("{what} is not valid UTF-8: {e}")))
}

/// Reads an optional string: `None` for NULL.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise is passed on unchanged.
    unsafe { str_arg(p, what) }.map(Some)
}

/// Reads the tenant argument: NULL means the default tenant.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn tenant_arg<'a>(p: *const c_char) -> Result<&'a str, Failure> {
    // SAFETY: the caller's promise is passed on unchanged.
    Ok(unsafe { opt_str_arg(p, "tenant") }?.unwrap_or(DEFAULT_TENANT))
}

/// Checks an output pointer before any work is done.
pub(crate) fn out_arg<T>(out: *mut T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    Ok(())
}

/// Hands `s` to C as a string the caller frees with `logjar_string_free`.
///
/// # Safety
/// `out` is non-NULL and valid for a write of one pointer.
pub(crate) unsafe fn write_string(out: *mut *mut c_char, s: String) -> Result<(), Failure> {
    let c = CString::new(s).map_err(|_| (LOGJAR_ERR_OTHER, "result holds a NUL byte".into()))?;
    // SAFETY: the caller checked `out` with `out_arg` and promises it is writable.
    unsafe { out.write(c.into_raw()) };
    Ok(())
}

/// Frees a string logjar returned (`logjar_query_loki_json`, `logjar_label_names_json`,
/// …). NULL is a no-op. Never pass a string that logjar did not allocate, nor one twice.
///
/// # Safety
/// `s` is NULL or a pointer logjar returned through an `out_json` argument that has
/// not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn logjar_string_free(s: *mut c_char) {
    crate::error::or_default((), || {
        if !s.is_null() {
            // SAFETY: the caller promises `s` came from `CString::into_raw` in
            // `write_string` and is freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
