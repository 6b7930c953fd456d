//! Tail subscriptions: follow a log query, polling for entries newer than the last ones
//! returned, as `logjar tail` does.

use std::collections::{BTreeMap, HashSet};
use std::ffi::c_char;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logjar::query::{QueryRequest, QueryResponse, QueryResult, ResultLabels, StreamResult};
use logjar::{Db, Direction};

use crate::args::{out_arg, str_arg, tenant_arg};
use crate::db::{db_ref, logjar_db};
use crate::error::{from_query_error, guard, invalid, Failure, LOGJAR_ERR_BAD_QUERY};
use crate::registry::Registry;
use crate::result::logjar_result;

/// Most entries one query of a poll asks for (Loki's `max_entries_limit_per_query`).
const BATCH: u32 = 5000;
/// How often a waiting poll looks for new writes (a cheap counter read).
const CHECK_EVERY: Duration = Duration::from_millis(5);
/// A waiting poll queries at least this often even without new writes in this
/// process, so entries whose timestamps were in the future appear when their time comes.
const QUERY_AT_LEAST_EVERY: Duration = Duration::from_millis(500);

/// A tail subscription (opaque): follows a log query on one database handle. Created
/// by `logjar_tail_open`, freed by `logjar_tail_close` (before the database handle is
/// closed). Polls of one subscription are serialized; different subscriptions may be
/// polled from different threads at once.
#[derive(Debug)]
pub struct logjar_tail {
    db: *const logjar_db,
    tenant: String,
    query: String,
    state: Mutex<Cursor>,
}

// SAFETY: `db` is only dereferenced after a registry check in `poll`, and the Rust
// `Db` behind it is `Send + Sync`; the mutable state is behind a `Mutex`.
unsafe impl Send for logjar_tail {}
// SAFETY: as above.
unsafe impl Sync for logjar_tail {}

/// The newest timestamp returned so far and the entries returned at it.
#[derive(Debug)]
struct Cursor {
    ts: i64,
    at_ts: HashSet<(ResultLabels, String)>,
    /// The write counter at the last query: unchanged means nothing new in this process.
    seen_writes: Option<u64>,
    last_query: Option<Instant>,
    limit: u32,
}

/// The live `logjar_tail` handles.
static TAILS: Registry = Registry::new("tail");

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn writes(db: &Db) -> u64 {
    let m = db.metrics();
    m.accepted.wrapping_add(m.flushes)
}

impl logjar_tail {
    /// One query: the entries at or after the cursor not returned yet, oldest first,
    /// grouped by stream. Advances the cursor.
    fn query_once(&self, db: &Db, c: &mut Cursor) -> Result<Vec<StreamResult>, Failure> {
        let end = now_ns().saturating_add(1).max(c.ts.saturating_add(1));
        let req = QueryRequest::range(self.query.clone(), c.ts, end)
            .with_limit(c.limit)
            .with_direction(Direction::Forward);
        c.seen_writes = Some(writes(db));
        c.last_query = Some(Instant::now());
        let resp = db
            .query(&self.tenant, &req)
            .map_err(|e| from_query_error(&e))?;
        let QueryResult::Streams(streams) = resp.result else {
            return Err((LOGJAR_ERR_BAD_QUERY, "tail needs a log query".into()));
        };
        // Merge the streams by time (ties by stream order, as Loki does), keep what is new.
        let mut all: Vec<(i64, usize, &ResultLabels, &String)> = Vec::new();
        for (i, s) in streams.iter().enumerate() {
            all.extend(s.entries.iter().map(|(ts, l)| (*ts, i, &s.labels, l)));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let full = all.len() >= c.limit as usize;
        let mut fresh: BTreeMap<usize, StreamResult> = BTreeMap::new();
        for (ts, i, labels, line) in all {
            if ts < c.ts {
                continue;
            }
            let key = (labels.clone(), line.clone());
            if ts == c.ts && c.at_ts.contains(&key) {
                continue;
            }
            if ts > c.ts {
                c.ts = ts;
                c.at_ts.clear();
            }
            c.at_ts.insert(key);
            fresh
                .entry(i)
                .or_insert_with(|| StreamResult {
                    labels: labels.clone(),
                    entries: Vec::new(),
                })
                .entries
                .push((ts, line.clone()));
        }
        // A full batch with nothing new means more entries share one timestamp than
        // the limit: ask for more next time instead of seeing the same batch forever.
        if full && fresh.is_empty() {
            c.limit = c.limit.saturating_mul(2);
        } else if !full {
            c.limit = BATCH;
        }
        Ok(fresh.into_values().collect())
    }

    fn poll(&self, db: &Db, timeout: Duration) -> Result<Vec<StreamResult>, Failure> {
        let deadline = Instant::now() + timeout;
        let mut c = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            let due = c.seen_writes != Some(writes(db))
                || c.last_query
                    .is_none_or(|t| t.elapsed() >= QUERY_AT_LEAST_EVERY);
            if due {
                let fresh = self.query_once(db, &mut c)?;
                if !fresh.is_empty() {
                    return Ok(fresh);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            std::thread::sleep(CHECK_EVERY.min(deadline - now));
        }
    }
}

/// Opens a subscription to the log query `logql` (`{app="api"} |= "error"`; a metric
/// query is `LOGJAR_ERR_BAD_QUERY`) on `tenant` (NULL: `fake`), starting at entries
/// with timestamps at or after `start_ns` (Unix ns; e.g. now minus 5 minutes, or now
/// to see only what comes next). Writes the handle to `*out`.
///
/// Each `logjar_tail_poll` returns the entries not returned before, oldest first. Entries
/// are followed by timestamp, as `logjar tail` and Loki's tail do: an entry written
/// later with a timestamp older than the newest one already returned is not returned.
/// Entries with equal timestamps are told apart by (labels, line), so none is lost or
/// repeated at a poll boundary.
///
/// Ownership: `*out` belongs to the caller, who frees it with `logjar_tail_close`
/// before closing `db`.
///
/// # Safety
/// `db` is NULL or a handle from `logjar_open`; the strings are NULL or NUL-terminated;
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_tail_open(
    db: *mut logjar_db,
    tenant: *const c_char,
    logql: *const c_char,
    start_ns: i64,
    out: *mut *mut logjar_tail,
) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        // SAFETY: the caller promises NULL, a live handle or a closed one.
        unsafe { db_ref(db) }?;
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let tenant = unsafe { tenant_arg(tenant) }?;
        logjar::labels::validate_tenant(tenant).map_err(|e| invalid(e.to_string()))?;
        // SAFETY: as above.
        let query = unsafe { str_arg(logql, "logql") }?;
        logjar_logql::syntax::parse_log_expr(query)
            .map_err(|e| (LOGJAR_ERR_BAD_QUERY, e.render(query)))?;
        let tail = Box::into_raw(Box::new(logjar_tail {
            db,
            tenant: tenant.to_owned(),
            query: query.to_owned(),
            state: Mutex::new(Cursor {
                ts: start_ns,
                at_ts: HashSet::new(),
                seen_writes: None,
                last_query: None,
                limit: BATCH,
            }),
        }));
        TAILS.insert(tail);
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(tail) };
        Ok(())
    })
}

/// Waits up to `timeout_ms` milliseconds (0: just look) for entries not returned yet
/// and writes them to `*out` as a streams result (`logjar_result_len` streams, entries
/// oldest first), returning as soon as there are some. When the time runs out with
/// nothing new, `*out` is an empty streams result. Use the accessors or
/// `logjar_result_loki_json` on it.
///
/// A database handle closed meanwhile gives `LOGJAR_ERR_CLOSED`.
///
/// Ownership: `*out` belongs to the caller, who frees it with `logjar_result_free`.
///
/// # Safety
/// `sub` is NULL or a handle from `logjar_tail_open`, whose database handle is not
/// closed during the call; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logjar_tail_poll(
    sub: *mut logjar_tail,
    timeout_ms: u32,
    out: *mut *mut logjar_result,
) -> i32 {
    guard(|| {
        out_arg(out, "out")?;
        TAILS.check(sub)?;
        // SAFETY: the registry says `sub` is a live subscription from `Box::into_raw`
        // in `logjar_tail_open`; the caller promises no concurrent `logjar_tail_close`.
        let sub = unsafe { &*sub };
        // SAFETY: `db_ref` checks the database handle against the registry; the caller
        // promises it is not closed during the call.
        let db = unsafe { db_ref(sub.db) }?;
        let streams = sub.poll(db, Duration::from_millis(u64::from(timeout_ms)))?;
        let n: usize = streams.iter().map(|s| s.entries.len()).sum();
        let resp = QueryResponse {
            result: QueryResult::Streams(streams),
            time_ms: 0,
            stats: logjar::query::Stats {
                entries_returned: n as u64,
                ..Default::default()
            },
        };
        let handle = logjar_result::new(resp).into_handle();
        // SAFETY: `out` was checked non-NULL; the caller promises it is writable.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Frees a subscription. NULL is a no-op; one closed before gives `LOGJAR_ERR_CLOSED`.
///
/// # Safety
/// `sub` is NULL, a handle from `logjar_tail_open` or one closed before; no other thread
/// polls it now.
#[no_mangle]
pub unsafe extern "C" fn logjar_tail_close(sub: *mut logjar_tail) -> i32 {
    guard(|| {
        if sub.is_null() {
            return Ok(());
        }
        if !TAILS.remove(sub) {
            return Err((
                crate::error::LOGJAR_ERR_CLOSED,
                "tail handle is closed already".into(),
            ));
        }
        // SAFETY: the registry held `sub`, so it came from `Box::into_raw` in
        // `logjar_tail_open`; removed now, so it is freed once.
        drop(unsafe { Box::from_raw(sub) });
        Ok(())
    })
}
