//! Shared helpers for logjar's criterion benchmarks (the benches live in `benches/benches/`).
