//! Cancellation tokens for running queries.

use logjar::query::CancelToken;

use crate::args::out_arg;
use crate::error::{guard, or_default};

/// A cancellation token (opaque). Created by `logjar_cancel_new`, freed by
/// `logjar_cancel_free`; `logjar_cancel_trigger` may be called from any thread, any
/// number of times, while queries holding the token run.
#[derive(Debug)]
pub struct logjar_cancel {
    pub(crate) token: CancelToken,
}

/// Creates a cancellation token and writes it to `*out`.
///
/// Ownership: `*out` belongs to the caller, who frees it with `logjar_cancel_free`
/// after the queries using it have returned.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_cancel_new(out: *mut *mut logjar_cancel) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        let token = Box::into_raw(Box::new(logjar_cancel {
            token: CancelToken::new(),
        }));
        // SAFETY: `out` was checked non-NULL and the caller promises it is writable.
        unsafe { out.write(token) };
        Ok(())
    })
}

/// Cancels every query running (or later started) with this token. NULL is a no-op.
///
/// # Safety
/// `cancel` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn logjar_cancel_trigger(cancel: *const logjar_cancel) {
    or_default((), || {
        // SAFETY: the caller promises NULL or a live token.
        if let Some(c) = unsafe { cancel.as_ref() } {
            c.token.cancel();
        }
    })
}

/// Frees a token. NULL is a no-op. No query may still be using it.
///
/// # Safety
/// `cancel` is NULL or a live token from `logjar_cancel_new`, freed once.
#[no_mangle]
pub unsafe extern "C" fn logjar_cancel_free(cancel: *mut logjar_cancel) {
    or_default((), || {
        if !cancel.is_null() {
            // SAFETY: the caller promises a token from `Box::into_raw` in
            // `logjar_cancel_new`, freed once.
            drop(unsafe { Box::from_raw(cancel) });
        }
    })
}
