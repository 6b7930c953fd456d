//! Python bindings of logjar: the private native module `logjar._native`.
//!
//! The public API is the pure-Python package in `python/logjar`, which wraps these
//! functions (time conversions, result objects, pandas/Arrow). This module does the work
//! that must be fast or must run without the GIL:
//!
//! - every call that touches storage runs inside `release_gil` (`py.allow_threads`);
//!   queries also run on a worker thread with a [`CancelToken`], so Ctrl-C in the
//!   calling thread cancels them and raises `KeyboardInterrupt`;
//! - errors become the exception classes of `logjar._errors` (see `to_py_err`).

use std::io::BufRead;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use logjar::entry::StreamEntries;
use logjar::ingest::{BatchBuilder, LabelCache};
use logjar::query::{CancelToken, QueryRequest, QueryResponse, QueryResult, ResultLabels};
use logjar::{Db as CoreDb, Direction, Entry, Labels, Options, QueryError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

/// Entries per push when ingesting NDJSON.
const NDJSON_BATCH: usize = 10_000;

/// Builds an exception of class `name` from `logjar._errors` with `message`, setting
/// the extra attributes given.
fn py_error(py: Python<'_>, name: &str, message: String, attrs: &[(&str, PyObject)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("logjar._errors")?.getattr(name)?;
        let exc = cls.call1((message.clone(),))?;
        for (k, v) in attrs {
            exc.setattr(*k, v)?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// The exception for a storage-layer error.
fn to_py_err(py: Python<'_>, e: &logjar::Error) -> PyErr {
    let name = match e {
        logjar::Error::Locked { .. } => "LockedError",
        logjar::Error::InvalidArgument(_) | logjar::Error::ReadOnly(_) => "InvalidArgumentError",
        logjar::Error::Limit(_) => "LimitError",
        logjar::Error::Closed(_) => "ClosedError",
        logjar::Error::Corrupt { .. } | logjar::Error::UnsupportedVersion { .. } => "CorruptError",
        _ => "StorageError",
    };
    py_error(py, name, e.to_string(), &[])
}

/// The exception for a query error (`Cancelled` is turned into `KeyboardInterrupt` by
/// the caller that cancelled).
fn query_err(py: Python<'_>, e: &QueryError) -> PyErr {
    match e {
        QueryError::Storage(s) => to_py_err(py, s),
        QueryError::Limit(m) => py_error(py, "LimitError", m.clone(), &[]),
        QueryError::BadQuery {
            message,
            rendered,
            position,
        } => py_error(
            py,
            "QueryError",
            message.clone(),
            &[
                (
                    "position",
                    position
                        .into_pyobject(py)
                        .map_or_else(|_| py.None(), |p| p.into_any().unbind()),
                ),
                ("rendered", PyString::new(py, rendered).into_any().unbind()),
            ],
        ),
        other => py_error(py, "QueryError", other.to_string(), &[]),
    }
}

/// Serialises an engine report for Python (`json.loads` on the other side), so new
/// fields reach Python without binding changes.
fn to_json<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<String> {
    serde_json::to_string(value)
        .map_err(|e| py_error(py, "Error", format!("encoding a report: {e}"), &[]))
}

/// Runs `f` with the GIL released. Every call into storage goes through here.
fn release_gil<T: Send>(py: Python<'_>, f: impl Send + FnOnce() -> T) -> T {
    py.allow_threads(f)
}

/// An open database, shared between Python threads. `close()` drops the handle; calls
/// after it raise `ClosedError`.
#[pyclass(module = "logjar._native", frozen)]
struct Db {
    inner: Mutex<Option<Arc<CoreDb>>>,
}

fn closed(py: Python<'_>) -> PyErr {
    py_error(py, "ClosedError", "database is closed".into(), &[])
}

fn labels_dict<'py>(py: Python<'py>, l: &ResultLabels) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in l.iter() {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn parse_direction(s: &str) -> PyResult<Direction> {
    match s.to_ascii_lowercase().as_str() {
        "backward" => Ok(Direction::Backward),
        "forward" => Ok(Direction::Forward),
        _ => Err(PyValueError::new_err(format!(
            "direction must be \"backward\" or \"forward\", got {s:?}"
        ))),
    }
}

/// Converts a timestamp that is not a plain int (datetime, pandas Timestamp, string)
/// with the Python helper `logjar._convert.time_ns`.
fn ts_of(helper: &Bound<'_, PyAny>, ts: &Bound<'_, PyAny>) -> PyResult<i64> {
    match ts.extract::<i64>() {
        Ok(v) => Ok(v),
        Err(_) => helper.call1((ts,))?.extract(),
    }
}

/// The UTF-8 form of a `str`, borrowed from the object: no intermediate `bytes`
/// object, and no copy at all for ASCII text (CPython keeps it as UTF-8 already).
#[cfg(not(windows))]
fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a [u8]> {
    extern "C" {
        // Part of the stable ABI only from 3.10, but exported by every CPython 3 (the
        // Windows `python3.dll` of 3.9 lacks it, hence the cfg).
        fn PyUnicode_AsUTF8AndSize(
            unicode: *mut pyo3::ffi::PyObject,
            size: *mut pyo3::ffi::Py_ssize_t,
        ) -> *const std::os::raw::c_char;
    }
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live `str` and the GIL is held (a `Bound` proves both).
    let ptr = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if ptr.is_null() {
        // Lone surrogates cannot be encoded: Python has set a UnicodeEncodeError.
        return Err(PyErr::fetch(s.py()));
    }
    let len = usize::try_from(size).map_err(|_| PyValueError::new_err("negative str size"))?;
    // SAFETY: CPython returns a buffer of `size` bytes owned by the object (its cached
    // UTF-8 form), valid while the object lives and is not mutated (str is immutable);
    // the returned slice borrows `s`, which keeps the object alive.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

#[cfg(windows)]
fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<std::borrow::Cow<'a, [u8]>> {
    Ok(std::borrow::Cow::Owned(s.extract::<String>()?.into_bytes()))
}

/// A line's bytes: UTF-8 of a `str`, or a `bytes` object as given.
fn with_line<R>(line: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(s) = line.downcast::<PyString>() {
        #[cfg(not(windows))]
        return Ok(f(str_utf8(s)?));
        #[cfg(windows)]
        return Ok(f(&str_utf8(s)?));
    }
    if let Ok(b) = line.downcast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "a line must be str or bytes, got {}",
        line.get_type().name()?
    )))
}

fn labels_of(py: Python<'_>, labels: &Bound<'_, PyAny>) -> PyResult<Labels> {
    let pairs: Vec<(String, String)> = match labels.downcast::<PyDict>() {
        Ok(d) => d
            .iter()
            .map(|(k, v)| Ok((k.extract()?, v.extract()?)))
            .collect::<PyResult<_>>()?,
        Err(_) => labels.extract()?,
    };
    Labels::new(pairs).map_err(|e| to_py_err(py, &e))
}

/// Converts `[(labels, [(ts, line[, metadata]), …]), …]` (labels a dict or a sequence
/// of pairs). Every line of the call is copied once, into one buffer that the entries
/// share (`Bytes` slices): no allocation per entry.
fn streams_of(py: Python<'_>, streams: &Bound<'_, PyAny>) -> PyResult<Vec<StreamEntries>> {
    const SHAPE: &str = "an entry must be a tuple (ts, line) or (ts, line, metadata)";
    let helper = py.import("logjar._convert")?.getattr("time_ns")?;
    let mut arena: Vec<u8> = Vec::new();
    // Per stream: labels and (ts, line range, metadata) per entry.
    type Pending = (i64, std::ops::Range<usize>, Vec<(String, String)>);
    let mut pending: Vec<(Labels, Vec<Pending>)> = Vec::new();
    for item in streams.try_iter()? {
        let item = item?;
        let pair = item
            .downcast::<PyTuple>()
            .map_err(|_| PyTypeError::new_err("a stream must be a tuple (labels, entries)"))?;
        if pair.len() != 2 {
            return Err(PyTypeError::new_err(
                "a stream must be a tuple (labels, entries)",
            ));
        }
        let labels = labels_of(py, &*pair.get_borrowed_item(0)?)?;
        let entries = pair.get_borrowed_item(1)?;
        let mut es = Vec::with_capacity(entries.len().unwrap_or(0));
        for e in entries.try_iter()? {
            let e = e?;
            let t = e
                .downcast::<PyTuple>()
                .map_err(|_| PyTypeError::new_err(SHAPE))?;
            let n = t.len();
            if !(2..=3).contains(&n) {
                return Err(PyTypeError::new_err(SHAPE));
            }
            let ts = ts_of(&helper, &*t.get_borrowed_item(0)?)?;
            let start = arena.len();
            with_line(&*t.get_borrowed_item(1)?, |b| arena.extend_from_slice(b))?;
            let mut metadata = Vec::new();
            if n == 3 {
                let md = t.get_borrowed_item(2)?;
                if !md.is_none() {
                    metadata = md
                        .call_method0("items")?
                        .try_iter()?
                        .map(|kv| kv.and_then(|kv| kv.extract()))
                        .collect::<PyResult<_>>()?;
                }
            }
            es.push((ts, start..arena.len(), metadata));
        }
        pending.push((labels, es));
    }
    let arena = bytes::Bytes::from(arena);
    Ok(pending
        .into_iter()
        .map(|(labels, es)| StreamEntries {
            labels,
            entries: es
                .into_iter()
                .map(|(ts, range, metadata)| {
                    let mut entry = Entry::new(ts, arena.slice(range));
                    entry.metadata = metadata;
                    entry
                })
                .collect(),
        })
        .collect())
}

fn report_dict<'py>(py: Python<'py>, r: &logjar::PushReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("accepted", r.accepted)?;
    d.set_item("duplicates", r.duplicates)?;
    d.set_item("rejected", r.rejected.total())?;
    Ok(d)
}

impl Db {
    fn db(&self, py: Python<'_>) -> PyResult<Arc<CoreDb>> {
        self.inner
            .lock()
            .map_err(|_| closed(py))?
            .clone()
            .ok_or_else(|| closed(py))
    }

    fn push_streams(
        &self,
        py: Python<'_>,
        tenant: &str,
        streams: Vec<StreamEntries>,
    ) -> PyResult<logjar::PushReport> {
        let db = self.db(py)?;
        release_gil(py, || db.push(tenant, &streams)).map_err(|e| to_py_err(py, &e))
    }

    /// Runs a query on a worker thread, polling for Ctrl-C from this thread.
    fn run_query(
        &self,
        py: Python<'_>,
        tenant: &str,
        mut req: QueryRequest,
    ) -> PyResult<QueryResponse> {
        let db = self.db(py)?;
        let token = CancelToken::new();
        req.cancel = Some(token.clone());
        let (tx, rx) = mpsc::channel();
        // `allow_threads` needs `Sync` captures; a `Receiver` is only `Send`.
        let rx = Mutex::new(rx);
        let tenant = tenant.to_string();
        let worker = std::thread::Builder::new()
            .name("logjar-query".into())
            .spawn(move || {
                let _ = tx.send(db.query(&tenant, &req));
            })
            .map_err(|e| {
                py_error(
                    py,
                    "StorageError",
                    format!("spawning a query thread: {e}"),
                    &[],
                )
            })?;
        let outcome = loop {
            let got = release_gil(py, || match rx.lock() {
                Ok(rx) => rx.recv_timeout(Duration::from_millis(50)),
                Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
            });
            match got {
                Ok(r) => break Ok(r),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(py_error(py, "Error", "query thread panicked".into(), &[]))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        token.cancel();
                        break Err(e);
                    }
                }
            }
        };
        // The worker holds a clone of the database until it ends (soon after a cancel):
        // join it, so that no query outlives this call and a `close()` right after it
        // finds no other user.
        release_gil(py, || {
            let _ = worker.join();
        });
        outcome?.map_err(|e| query_err(py, &e))
    }
}

#[pymethods]
impl Db {
    /// Opens (creating if needed) the database in `path`.
    #[new]
    #[pyo3(signature = (path, options_json=None))]
    fn new(py: Python<'_>, path: std::path::PathBuf, options_json: Option<&str>) -> PyResult<Self> {
        let opts = match options_json {
            Some(j) => Options::from_json(j).map_err(|e| to_py_err(py, &e))?,
            None => Options::default(),
        };
        let db = release_gil(py, || CoreDb::open(&path, opts)).map_err(|e| to_py_err(py, &e))?;
        Ok(Db {
            inner: Mutex::new(Some(Arc::new(db))),
        })
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.lock().map_or(true, |g| g.is_none())
    }

    /// Closes the database; a second close is a no-op. Calls that other threads have
    /// in flight finish first (no new call can start), so when `close` returns the
    /// files are synced and the directory lock is released.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.inner.lock().map_err(|_| closed(py))?.take();
        let Some(mut db) = taken else {
            return Ok(());
        };
        release_gil(py, || loop {
            match Arc::try_unwrap(db) {
                Ok(db) => return db.close(),
                Err(shared) => {
                    // Only calls already running hold a clone; each drops it on return.
                    db = shared;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
        .map_err(|e| to_py_err(py, &e))
    }

    /// Pushes a Loki push body (JSON bytes); returns the push report.
    fn push_loki<'py>(
        &self,
        py: Python<'py>,
        body: &[u8],
        tenant: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let streams = release_gil(py, || logjar::ingest::parse_loki_push(body))
            .map_err(|e| py_error(py, "InvalidArgumentError", e.to_string(), &[]))?;
        let r = self.push_streams(py, tenant, streams)?;
        report_dict(py, &r)
    }

    /// Pushes `[(labels, [(ts, line[, metadata]), …]), …]`.
    fn push<'py>(
        &self,
        py: Python<'py>,
        streams: &Bound<'py, PyAny>,
        tenant: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let streams = streams_of(py, streams)?;
        let r = self.push_streams(py, tenant, streams)?;
        report_dict(py, &r)
    }

    /// Pushes NDJSON entries (CONTRACT.md section 2) from a file (`path`) or bytes.
    #[pyo3(signature = (tenant, path=None, data=None))]
    fn push_ndjson<'py>(
        &self,
        py: Python<'py>,
        tenant: &str,
        path: Option<std::path::PathBuf>,
        data: Option<&[u8]>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let db = self.db(py)?;
        let run = || -> Result<logjar::PushReport, (String, String)> {
            let mut total = logjar::PushReport::default();
            let mut builder = BatchBuilder::default();
            let mut cache = LabelCache::default();
            let push = |b: &mut BatchBuilder, total: &mut logjar::PushReport| {
                let r = db.push(tenant, &b.take()).map_err(|e| {
                    let name = match e {
                        logjar::Error::Limit(_) => "LimitError",
                        logjar::Error::InvalidArgument(_) | logjar::Error::ReadOnly(_) => {
                            "InvalidArgumentError"
                        }
                        logjar::Error::Locked { .. } => "LockedError",
                        logjar::Error::Closed(_) => "ClosedError",
                        _ => "StorageError",
                    };
                    (name.to_string(), e.to_string())
                })?;
                total.accepted += r.accepted;
                total.duplicates += r.duplicates;
                Ok::<(), (String, String)>(())
            };
            let mut handle =
                |no: usize, line: &[u8], b: &mut BatchBuilder, total: &mut logjar::PushReport| {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        return Ok(());
                    }
                    let (labels, entry) = cache.parse_ndjson_line(line).map_err(|e| {
                        (
                            "InvalidArgumentError".to_string(),
                            format!("line {no}: {e}"),
                        )
                    })?;
                    b.add(labels, entry);
                    if b.len() >= NDJSON_BATCH {
                        push(b, total)?;
                    }
                    Ok::<(), (String, String)>(())
                };
            match (&path, data) {
                (Some(p), _) => {
                    let f = std::fs::File::open(p).map_err(|e| {
                        ("StorageError".to_string(), format!("{}: {e}", p.display()))
                    })?;
                    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
                    let mut buf = Vec::new();
                    let mut no = 0;
                    loop {
                        buf.clear();
                        let n = r.read_until(b'\n', &mut buf).map_err(|e| {
                            ("StorageError".to_string(), format!("{}: {e}", p.display()))
                        })?;
                        if n == 0 {
                            break;
                        }
                        no += 1;
                        handle(no, &buf, &mut builder, &mut total)?;
                    }
                }
                (None, Some(d)) => {
                    for (i, line) in d.split(|b| *b == b'\n').enumerate() {
                        handle(i + 1, line, &mut builder, &mut total)?;
                    }
                }
                (None, None) => {
                    return Err(("InvalidArgumentError".into(), "give a path or bytes".into()))
                }
            }
            if !builder.is_empty() {
                push(&mut builder, &mut total)?;
            }
            Ok(total)
        };
        let r = release_gil(py, run).map_err(|(name, msg)| py_error(py, &name, msg, &[]))?;
        report_dict(py, &r)
    }

    /// The contract's query: request JSON in, Loki body (JSON text) out.
    fn query_loki(&self, py: Python<'_>, request_json: &str, tenant: &str) -> PyResult<String> {
        let req = QueryRequest::from_json(request_json).map_err(|e| query_err(py, &e))?;
        Ok(self.run_query(py, tenant, req)?.to_loki_json())
    }

    /// A query from its parts (times and step in ns); `limit` is not capped by Loki's
    /// `max_entries_limit_per_query` here: an embedded caller asks for what it needs.
    #[pyo3(signature = (tenant, query, start, end, step=None, time=None, limit=100, direction="backward", timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn query(
        &self,
        py: Python<'_>,
        tenant: &str,
        query: String,
        start: i64,
        end: i64,
        step: Option<i64>,
        time: Option<i64>,
        limit: u32,
        direction: &str,
        timeout: Option<f64>,
    ) -> PyResult<Response> {
        let mut req = match time {
            Some(t) => QueryRequest::instant(query, t),
            None => QueryRequest::range(query, start, end),
        };
        req.step = step;
        req.limit = limit;
        req.limits.max_entries_limit = req.limits.max_entries_limit.max(limit);
        req.direction = parse_direction(direction)?;
        if let Some(secs) = timeout {
            let d = Duration::try_from_secs_f64(secs).map_err(|_| {
                PyValueError::new_err(format!(
                    "timeout must be a non-negative duration, got {secs} s"
                ))
            })?;
            // A deadline past what `Instant` can hold is no deadline.
            req.deadline = std::time::Instant::now().checked_add(d);
        }
        Ok(Response {
            resp: self.run_query(py, tenant, req)?,
        })
    }

    fn label_names(
        &self,
        py: Python<'_>,
        tenant: &str,
        start: i64,
        end: i64,
    ) -> PyResult<Vec<String>> {
        let db = self.db(py)?;
        release_gil(py, || db.label_names(tenant, start, end)).map_err(|e| to_py_err(py, &e))
    }

    fn label_values(
        &self,
        py: Python<'_>,
        tenant: &str,
        name: &str,
        start: i64,
        end: i64,
    ) -> PyResult<Vec<String>> {
        let db = self.db(py)?;
        release_gil(py, || db.label_values(tenant, name, start, end)).map_err(|e| to_py_err(py, &e))
    }

    fn series<'py>(
        &self,
        py: Python<'py>,
        tenant: &str,
        selector: &str,
        start: i64,
        end: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let matchers = logjar_logql::parse_selector(selector).map_err(|e| {
            query_err(
                py,
                &QueryError::BadQuery {
                    message: e.to_string(),
                    rendered: e.render(selector),
                    position: e.position(),
                },
            )
        })?;
        let db = self.db(py)?;
        let series = release_gil(py, || db.series(tenant, &matchers, start, end))
            .map_err(|e| to_py_err(py, &e))?;
        let out = PyList::empty(py);
        for l in &series {
            let d = PyDict::new(py);
            for (k, v) in l.iter() {
                d.set_item(k, v)?;
            }
            out.append(d)?;
        }
        Ok(out)
    }

    /// Runs one compaction now; returns its report as JSON text.
    fn compact(&self, py: Python<'_>) -> PyResult<String> {
        let db = self.db(py)?;
        let report = release_gil(py, || db.compact()).map_err(|e| to_py_err(py, &e))?;
        to_json(py, &report)
    }

    /// Logs a delete request (`start`, `end` inclusive, ns); returns it as JSON text.
    /// A query that does not parse is a `QueryError` with its position.
    fn delete(
        &self,
        py: Python<'_>,
        tenant: &str,
        query: &str,
        start: i64,
        end: i64,
    ) -> PyResult<String> {
        logjar_logql::parse_log_expr(query).map_err(|e| {
            query_err(
                py,
                &QueryError::BadQuery {
                    message: e.to_string(),
                    rendered: e.render(query),
                    position: e.position(),
                },
            )
        })?;
        let db = self.db(py)?;
        let req = release_gil(py, || db.delete(tenant, query, start, end))
            .map_err(|e| to_py_err(py, &e))?;
        to_json(py, &req)
    }

    /// Every delete request of `tenant`, as JSON text (a list).
    fn delete_requests(&self, py: Python<'_>, tenant: &str) -> PyResult<String> {
        let db = self.db(py)?;
        let reqs = release_gil(py, || db.delete_requests(tenant)).map_err(|e| to_py_err(py, &e))?;
        to_json(py, &reqs)
    }

    /// Cancels a pending delete request.
    fn cancel_delete(&self, py: Python<'_>, tenant: &str, id: u64) -> PyResult<()> {
        let db = self.db(py)?;
        release_gil(py, || db.cancel_delete(tenant, id)).map_err(|e| to_py_err(py, &e))
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let db = self.db(py)?;
        release_gil(py, || db.flush()).map_err(|e| to_py_err(py, &e))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let db = self.db(py)?;
        let s = release_gil(py, || db.stats());
        let out = PyDict::new(py);
        out.set_item("head_bytes", s.head_bytes)?;
        let tenants = PyList::empty(py);
        for t in &s.tenants {
            let d = PyDict::new(py);
            d.set_item("tenant", &t.tenant)?;
            d.set_item("streams", t.streams)?;
            d.set_item("chunks", t.chunks)?;
            d.set_item("segments", t.segments)?;
            d.set_item("entries", t.entries)?;
            d.set_item("raw_bytes", t.raw_bytes)?;
            d.set_item("disk_bytes", t.disk_bytes)?;
            d.set_item("oldest", t.oldest)?;
            d.set_item("newest", t.newest)?;
            tenants.append(d)?;
        }
        out.set_item("tenants", tenants)?;
        Ok(out)
    }
}

/// A query's answer, kept in Rust until Python asks for a shape of it.
#[pyclass(module = "logjar._native", frozen)]
struct Response {
    resp: QueryResponse,
}

/// A label column of a tidy table, dictionary-encoded: row `i` has `values[codes[i]]`,
/// or no value where `codes[i]` is −1 (then bit `i` of `validity` is 0 too).
struct LabelColumn {
    name: String,
    values: Vec<String>,
    /// `i32` per row, native endian.
    codes: Vec<u8>,
    /// Arrow validity bitmap (LSB first), `None` when every row has the label.
    validity: Option<Vec<u8>>,
}

/// The columns of a tidy table of a result, built without the GIL: one row per entry
/// (streams) or per (series, timestamp) (matrix, vector, scalar).
struct Columns {
    rows: usize,
    /// `i64` ns per row, native endian.
    ts: Vec<u8>,
    /// Lines in Arrow's string layout: offsets (`i32`, or `i64` when `wide`) and data.
    line: Option<(Vec<u8>, Vec<u8>, bool)>,
    /// `f64` per row, native endian.
    value: Option<Vec<u8>>,
    labels: Vec<LabelColumn>,
}

/// Label columns for `series` (labels, number of rows), in row order.
fn label_columns(series: &[(&ResultLabels, usize)], rows: usize) -> Vec<LabelColumn> {
    let names: std::collections::BTreeSet<&str> = series
        .iter()
        .flat_map(|(l, _)| l.iter().map(|(k, _)| k))
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut values: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<&str, i32> = std::collections::HashMap::new();
        let mut codes = Vec::with_capacity(rows * 4);
        let mut validity = vec![0u8; rows.div_ceil(8)];
        let mut missing = false;
        let mut row = 0;
        for (labels, count) in series {
            let code = match labels.get(name) {
                Some(v) => *index.entry(v).or_insert_with(|| {
                    values.push(v.to_string());
                    // Fewer distinct values than rows, and rows fit in memory as i32 codes.
                    i32::try_from(values.len() - 1).unwrap_or(i32::MAX)
                }),
                None => -1,
            };
            let bytes = code.to_ne_bytes();
            for _ in 0..*count {
                codes.extend_from_slice(&bytes);
            }
            if code >= 0 {
                for r in row..row + count {
                    validity[r / 8] |= 1 << (r % 8);
                }
            } else {
                missing = missing || *count > 0;
            }
            row += count;
        }
        out.push(LabelColumn {
            name: name.to_string(),
            values,
            codes,
            validity: missing.then_some(validity),
        });
    }
    out
}

impl Response {
    fn build_columns(&self) -> Columns {
        let ns = |ms: i64| ms.saturating_mul(1_000_000);
        match &self.resp.result {
            QueryResult::Streams(ss) => {
                let rows: usize = ss.iter().map(|s| s.entries.len()).sum();
                let bytes: usize = ss
                    .iter()
                    .flat_map(|s| s.entries.iter().map(|e| e.1.len()))
                    .sum();
                let wide = bytes > i32::MAX as usize;
                let mut ts = Vec::with_capacity(rows * 8);
                let mut offsets = Vec::with_capacity((rows + 1) * if wide { 8 } else { 4 });
                let mut data = Vec::with_capacity(bytes);
                let push_offset = |offsets: &mut Vec<u8>, at: usize| {
                    if wide {
                        offsets.extend_from_slice(&(at as i64).to_ne_bytes());
                    } else {
                        offsets.extend_from_slice(&(at as i32).to_ne_bytes());
                    }
                };
                push_offset(&mut offsets, 0);
                for s in ss {
                    for (t, line) in &s.entries {
                        ts.extend_from_slice(&t.to_ne_bytes());
                        data.extend_from_slice(line.as_bytes());
                        push_offset(&mut offsets, data.len());
                    }
                }
                let series: Vec<_> = ss.iter().map(|s| (&s.labels, s.entries.len())).collect();
                Columns {
                    rows,
                    ts,
                    line: Some((offsets, data, wide)),
                    value: None,
                    labels: label_columns(&series, rows),
                }
            }
            QueryResult::Matrix(m) => {
                let rows: usize = m.iter().map(|s| s.points.len()).sum();
                let mut ts = Vec::with_capacity(rows * 8);
                let mut value = Vec::with_capacity(rows * 8);
                for s in m {
                    for p in &s.points {
                        ts.extend_from_slice(&ns(p.ts_ms).to_ne_bytes());
                        value.extend_from_slice(&p.value.to_ne_bytes());
                    }
                }
                let series: Vec<_> = m.iter().map(|s| (&s.labels, s.points.len())).collect();
                Columns {
                    rows,
                    ts,
                    line: None,
                    value: Some(value),
                    labels: label_columns(&series, rows),
                }
            }
            QueryResult::Vector(v) => {
                let t = ns(self.resp.time_ms).to_ne_bytes();
                let ts = v.iter().flat_map(|_| t).collect();
                let value = v.iter().flat_map(|s| s.value.to_ne_bytes()).collect();
                let series: Vec<_> = v.iter().map(|s| (&s.labels, 1)).collect();
                Columns {
                    rows: v.len(),
                    ts,
                    line: None,
                    value: Some(value),
                    labels: label_columns(&series, v.len()),
                }
            }
            QueryResult::Scalar(x) => Columns {
                rows: 1,
                ts: ns(self.resp.time_ms).to_ne_bytes().to_vec(),
                line: None,
                value: Some(x.to_ne_bytes().to_vec()),
                labels: Vec::new(),
            },
        }
    }
}

#[pymethods]
impl Response {
    /// `streams`, `matrix`, `vector` or `scalar`.
    #[getter]
    fn result_type(&self) -> &'static str {
        self.resp.result.result_type()
    }

    /// Evaluation time of a vector or scalar, Unix ns.
    #[getter]
    fn time_ns(&self) -> i64 {
        self.resp.time_ms.saturating_mul(1_000_000)
    }

    /// Number of streams, series or samples (1 for a scalar).
    fn __len__(&self) -> usize {
        match &self.resp.result {
            QueryResult::Streams(ss) => ss.len(),
            QueryResult::Matrix(m) => m.len(),
            QueryResult::Vector(v) => v.len(),
            QueryResult::Scalar(_) => 1,
        }
    }

    /// Rows of the tidy table: entries of a log query, points of a metric query.
    fn rows(&self) -> usize {
        match &self.resp.result {
            QueryResult::Streams(ss) => ss.iter().map(|s| s.entries.len()).sum(),
            QueryResult::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
            QueryResult::Vector(v) => v.len(),
            QueryResult::Scalar(_) => 1,
        }
    }

    fn to_loki_json(&self, py: Python<'_>) -> String {
        release_gil(py, || self.resp.to_loki_json())
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.resp.stats;
        let d = PyDict::new(py);
        d.set_item("exec_time", s.exec_time.as_secs_f64())?;
        d.set_item("total_lines_processed", s.total_lines_processed)?;
        d.set_item("total_bytes_processed", s.total_bytes_processed)?;
        d.set_item("structured_metadata_bytes", s.structured_metadata_bytes)?;
        d.set_item("post_filter_lines", s.post_filter_lines)?;
        d.set_item("streams_selected", s.streams_selected)?;
        d.set_item("entries_returned", s.entries_returned)?;
        Ok(d)
    }

    /// Streams as `[(labels, [(ts_ns, line), …]), …]`.
    fn streams<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let QueryResult::Streams(ss) = &self.resp.result {
            for s in ss {
                let entries = PyList::new(py, s.entries.iter().map(|(t, l)| (*t, l.as_str())))?;
                out.append((labels_dict(py, &s.labels)?, entries))?;
            }
        }
        Ok(out)
    }

    /// Every line of a log query, in row order of the tidy table (`columns`).
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut lines = Vec::new();
        if let QueryResult::Streams(ss) = &self.resp.result {
            lines.reserve(ss.iter().map(|s| s.entries.len()).sum());
            for s in ss {
                lines.extend(s.entries.iter().map(|e| PyString::new(py, &e.1)));
            }
        }
        PyList::new(py, lines)
    }

    /// Matrix as `[(labels, [(ts_ns, value), …]), …]`.
    fn matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let QueryResult::Matrix(m) = &self.resp.result {
            for s in m {
                let points = PyList::new(
                    py,
                    s.points
                        .iter()
                        .map(|p| (p.ts_ms.saturating_mul(1_000_000), p.value)),
                )?;
                out.append((labels_dict(py, &s.labels)?, points))?;
            }
        }
        Ok(out)
    }

    /// Vector as `[(labels, value), …]`.
    fn vector<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let QueryResult::Vector(v) = &self.resp.result {
            for s in v {
                out.append((labels_dict(py, &s.labels)?, s.value))?;
            }
        }
        Ok(out)
    }

    /// The scalar's value (NaN for other result types).
    fn scalar(&self) -> f64 {
        match &self.resp.result {
            QueryResult::Scalar(v) => *v,
            _ => f64::NAN,
        }
    }

    /// The tidy table's columns as buffers, built without the GIL:
    /// `{"rows": n, "timestamp": bytes (i64 ns), "line": (offsets, data, wide) | None,
    /// "value": bytes (f64) | None, "labels": [(name, values, codes (i32), validity | None)]}`.
    /// `logjar._results` turns them into pyarrow arrays (zero-copy) or numpy arrays.
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = release_gil(py, || self.build_columns());
        let d = PyDict::new(py);
        d.set_item("rows", c.rows)?;
        d.set_item("timestamp", PyBytes::new(py, &c.ts))?;
        match &c.line {
            Some((offsets, data, wide)) => d.set_item(
                "line",
                (PyBytes::new(py, offsets), PyBytes::new(py, data), *wide),
            )?,
            None => d.set_item("line", py.None())?,
        }
        match &c.value {
            Some(v) => d.set_item("value", PyBytes::new(py, v))?,
            None => d.set_item("value", py.None())?,
        }
        let labels = PyList::empty(py);
        for l in &c.labels {
            labels.append((
                &l.name,
                &l.values,
                PyBytes::new(py, &l.codes),
                l.validity.as_deref().map(|v| PyBytes::new(py, v)),
            ))?;
        }
        d.set_item("labels", labels)?;
        Ok(d)
    }
}

/// Parses integer ns or RFC 3339 text to Unix ns.
#[pyfunction]
fn parse_time(s: &str) -> PyResult<i64> {
    logjar::ingest::parse_time(s).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Parses a LogQL duration (`"5m"`, `"1h30m"`, `"250ms"`) to ns.
#[pyfunction]
fn parse_duration(s: &str) -> PyResult<i64> {
    logjar_logql::units::parse_range_duration(s).ok_or_else(|| {
        PyValueError::new_err(format!(
            "not a duration: {s:?} (e.g. \"5m\", \"1h30m\", \"250ms\")"
        ))
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Db>()?;
    m.add_class::<Response>()?;
    m.add_function(wrap_pyfunction!(parse_time, m)?)?;
    m.add_function(wrap_pyfunction!(parse_duration, m)?)?;
    Ok(())
}
