//! Helpers shared by logjar's cross-crate integration tests (in `tests/tests/`).
