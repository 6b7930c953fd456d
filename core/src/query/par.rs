//! Splitting per-stream work over the machine's cores.
//!
//! The work runs on one process-wide pool of query threads (rayon), started by the
//! first [`Db::open`](crate::Db::open) rather than per query: spawning threads for
//! each query cost it their start-up and, on virtual machines, the wake-up of an idle
//! CPU (about 1 ms per query here); a short-lived process (`logjar query`) gets its
//! workers started while it opens the database.

use std::sync::OnceLock;
use std::thread;

use rayon::prelude::*;

/// Below this many streams one thread does everything (splitting costs more).
const MIN_STREAMS_PER_THREAD: usize = 2;

/// The query pool; `None` on a single core (or if its threads cannot be started: the
/// work then runs on the calling thread). Its size is the available parallelism, at
/// most 2 (the work is memory- and decompression-bound; more threads fight over the
/// same cache), looked up once: `available_parallelism` reads cgroup files.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = thread::available_parallelism().map_or(1, |n| n.get().min(2));
        if n < 2 {
            return None;
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("logjar-query-{i}"))
            .build()
            .map_err(|e| log::warn!("query threads not started ({e}); queries use one core"))
            .ok()
    })
    .as_ref()
}

/// Threads a query's work is split over: the pool's, or the calling thread alone.
fn threads() -> usize {
    pool().map_or(1, rayon::ThreadPool::current_num_threads)
}

/// Starts the query threads if they are not running yet.
pub(crate) fn start_threads() {
    let _ = pool();
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
    match pool() {
        Some(pool) => pool.install(|| {
            items
                .par_chunks(size)
                .with_max_len(1)
                .enumerate()
                .map(|(i, part)| f(i, part))
                .collect()
        }),
        None => items
            .chunks(size)
            .enumerate()
            .map(|(i, part)| f(i, part))
            .collect(),
    }
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
    let per_task = per_task.max(1);
    let tasks = items.len().div_ceil(per_task);
    match pool() {
        Some(pool) if parts_for(items.len()) > 1 && tasks > 1 => {
            pool.install(|| items.par_chunks(per_task).with_max_len(1).map(&f).collect())
        }
        _ => items.chunks(per_task).map(&f).collect(),
    }
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

    #[test]
    fn parts_come_back_in_order_and_cover_everything() {
        for len in [0usize, 1, 2, 3, 10, 101] {
            let items: Vec<usize> = (0..len).collect();
            let parts = map_parts(&items, |i, part| (i, part.to_vec()));
            assert_eq!(parts.len(), parts_for(len), "{len}");
            let idx: Vec<usize> = parts.iter().map(|p| p.0).collect();
            assert_eq!(idx, (0..parts.len()).collect::<Vec<_>>());
            let all: Vec<usize> = parts.into_iter().flat_map(|p| p.1).collect();
            assert_eq!(all, items);
        }
    }
}
