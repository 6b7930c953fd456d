//! Splitting per-stream work over the machine's cores.

use std::thread;

/// Below this many streams one thread does everything (thread start-up costs more).
const MIN_STREAMS_PER_THREAD: usize = 2;

/// Threads to use: the available parallelism, at most 2 (the work is memory- and
/// decompression-bound; more threads fight over the same cache).
fn threads() -> usize {
    thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2)
}

/// Runs `f` on contiguous parts of `items` in parallel and returns the results in part
/// order. With one part, `f` runs on the calling thread.
pub(crate) fn map_parts<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let n = threads().min(items.len() / MIN_STREAMS_PER_THREAD).max(1);
    if n == 1 {
        return vec![f(items)];
    }
    // Interleave by weight would be better; contiguous halves keep it simple.
    let size = items.len().div_ceil(n);
    thread::scope(|s| {
        let handles: Vec<_> = items.chunks(size).map(|part| s.spawn(|| f(part))).collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}
