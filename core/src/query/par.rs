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

/// How many parts [`map_parts`] cuts `len` items into.
pub(crate) fn parts_for(len: usize) -> usize {
    threads().min(len / MIN_STREAMS_PER_THREAD).max(1)
}

/// Runs `f(part index, part)` on [`parts_for`]`(items.len())` contiguous parts of `items`
/// in parallel and returns the results in part order. With one part, `f` runs on the
/// calling thread.
pub(crate) fn map_parts<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    let n = parts_for(items.len());
    if n == 1 {
        return vec![f(0, items)];
    }
    // Contiguous parts; callers that want a mix deal their items out first.
    let size = items.len().div_ceil(n);
    let f = &f;
    thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(size)
            .enumerate()
            .map(|(i, part)| s.spawn(move || f(i, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// Runs `f` on consecutive groups of `per_task` items, the threads taking the next group
/// as they finish one (streams differ widely in size, so fixed halves leave one core
/// idle), and returns the results in item order: the same sequence one thread would
/// produce. With one thread (or few items), everything runs on the calling thread.
pub(crate) fn map_tasks<T: Sync, R: Send>(
    items: &[T],
    per_task: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let per_task = per_task.max(1);
    let tasks = items.len().div_ceil(per_task);
    let n = threads().min(items.len() / MIN_STREAMS_PER_THREAD).max(1);
    if n == 1 || tasks <= 1 {
        return items.chunks(per_task).map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, R)> = Vec::new();
        loop {
            let t = next.fetch_add(1, Ordering::Relaxed);
            if t >= tasks {
                break;
            }
            let lo = t * per_task;
            done.push((t, f(&items[lo..(lo + per_task).min(items.len())])));
        }
        done
    };
    let mut all: Vec<(usize, R)> = thread::scope(|s| {
        let helpers: Vec<_> = (1..n).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            match h.join() {
                Ok(r) => all.extend(r),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(t, _)| *t);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_come_back_in_item_order() {
        let items: Vec<u32> = (0..1000).collect();
        for per_task in [1, 3, 7, 64, 2000] {
            let parts = map_tasks(&items, per_task, |part| part.to_vec());
            assert_eq!(parts.concat(), items, "{per_task}");
            assert_eq!(parts.len(), items.len().div_ceil(per_task));
        }
        assert!(map_tasks(&items[..0], 4, |p| p.len()).is_empty());
    }
}
