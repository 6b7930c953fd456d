//! Helpers shared by logjar's cross-crate integration tests (in `tests/tests/`).

/// The README's Rust example, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
