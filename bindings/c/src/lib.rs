//! The C ABI of logjar. See `docs/FFI.md` once the ABI lands (issue: C ABI and the Go package).
