"""logjar: an embeddable log storage engine speaking LogQL ("SQLite for logs").

>>> import logjar
>>> with logjar.open("/tmp/logs", sync="never") as db:          # doctest: +SKIP
...     db.push({"app": "api"}, [("2026-01-01T00:00:00Z", "GET / 200")])
...     db.query('{app="api"}', start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z")

The common surface of every binding (CONTRACT.md section 5) is ``open``, ``push_loki``,
``query_loki`` and ``close``; the richer API (``push``, ``query`` with result objects,
``labels``, ``series``...) sits beside it. Calls into storage release the GIL; a long
query can be interrupted with Ctrl-C (``KeyboardInterrupt``).
"""

import datetime as _dt
import json as _json
import os as _os
import time as _time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _native
from ._convert import duration_ns, now_ns, time_ns
from ._errors import (
    ClosedError,
    CorruptError,
    Error,
    InvalidArgumentError,
    LimitError,
    LockedError,
    QueryError,
    StorageError,
)
from ._results import Matrix, Scalar, Streams, Vector, _wrap

__version__ = _native.__version__

# What the time and duration parameters take (see ``time_ns`` and ``duration_ns``).
Time = Union[int, str, _dt.datetime, _dt.date, Any]
Duration = Union[int, str, _dt.timedelta]

__all__ = [
    "open",
    "Db",
    "Streams",
    "Matrix",
    "Vector",
    "Scalar",
    "Error",
    "QueryError",
    "LimitError",
    "StorageError",
    "CorruptError",
    "LockedError",
    "InvalidArgumentError",
    "ClosedError",
    "time_ns",
    "duration_ns",
    "Time",
    "Duration",
]

DEFAULT_TENANT = "fake"
_HOUR_NS = 3600 * 1_000_000_000
_DURATION_OPTIONS = {
    "sync_interval",
    "out_of_order_window",
    "max_chunk_age",
    "flush_interval",
    "retention",
    "delete_cancel_period",
    "compaction_interval",
    "compaction_partition",
}


def _options_json(options: Dict[str, Any]) -> Optional[str]:
    if not options:
        return None
    out = {}
    for k, v in options.items():
        if k in _DURATION_OPTIONS and not isinstance(v, str):
            # The engine reads durations as text ("90s"); give it whole nanoseconds.
            v = f"{duration_ns(v) // 1_000_000}ms"
        out[k] = v
    return _json.dumps(out)


def open(path: Union[str, "_os.PathLike[str]"], **options: Any) -> "Db":  # noqa: A001
    """Opens (creating if needed) the database in directory ``path``.

    ``options`` are the fields of the engine's options, as in a TOML config file:
    ``sync="always"|"interval"|"never"``, ``retention="30d"``, ``max_head_bytes=...``,
    ``limits={"max_line_size": 262144, ...}``. Durations may be ``timedelta`` too.
    Raises ``LockedError`` if another handle holds the directory.
    """
    return Db(_native.Db(_os.fspath(path), _options_json(options)))


def _request_json(request: Any) -> str:
    if isinstance(request, (bytes, bytearray)):
        return bytes(request).decode()
    if isinstance(request, str):
        return request
    if not isinstance(request, dict):
        raise TypeError("a query request is a dict (or its JSON text)")
    req = dict(request)
    for k in ("start", "end", "time"):
        if k in req and req[k] is not None and not isinstance(req[k], (int, str)):
            req[k] = time_ns(req[k])
    if "step" in req and req["step"] is not None and not isinstance(req["step"], (int, float, str)):
        req["step"] = duration_ns(req["step"]) / 1e9  # seconds, as Loki takes a number
    return _json.dumps({k: v for k, v in req.items() if v is not None})


def _labels(labels: Any) -> Dict[str, str]:
    # The native side reads dicts directly; other mappings are copied into one.
    return labels if isinstance(labels, dict) else dict(labels)


def _range(start: Any, end: Any, since: Any = None) -> Tuple[int, int]:
    e = now_ns() if end is None else time_ns(end)
    if start is not None:
        s = time_ns(start)
    else:
        s = e - (duration_ns(since) if since is not None else _HOUR_NS)
    return s, e


class Db:
    """An open database. Thread-safe: share one between threads. Use as a context
    manager, or call ``close()``."""

    def __init__(self, native: "_native.Db") -> None:
        self._db = native

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Closes the database (fsyncs the WAL, releases the lock). Idempotent; any
        other call afterwards raises ``ClosedError``."""
        self._db.close()

    @property
    def closed(self) -> bool:
        return self._db.closed

    def __enter__(self) -> "Db":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<logjar.Db {'closed' if self.closed else 'open'}>"

    # -- the common surface (CONTRACT.md section 5) ----------------------------------
    def push_loki(self, body: Union[bytes, str, Dict[str, Any]], tenant: str = DEFAULT_TENANT) -> Dict[str, int]:
        """Pushes a Loki push body: ``{"streams":[{"stream":{...},"values":[["<ns>","line"],...]}]}``
        as bytes, str or dict. All or nothing; returns ``{"accepted","duplicates","rejected"}``."""
        if isinstance(body, dict):
            body = _json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError("a Loki push body is bytes, str or dict")
        return self._db.push_loki(bytes(body), tenant)

    def query_loki(self, request: Union[Dict[str, Any], str], tenant: str = DEFAULT_TENANT) -> Dict[str, Any]:
        """Runs ``{"query","start","end","step","limit","direction","time"}`` and returns
        the Loki response body as a dict (``{"status":"success","data":{...}}``)."""
        return _json.loads(self._db.query_loki(_request_json(request), tenant))

    # -- the richer API --------------------------------------------------------------
    def push(
        self,
        labels: Dict[str, str],
        entries: Iterable[Tuple[Any, ...]],
        tenant: str = DEFAULT_TENANT,
    ) -> Dict[str, int]:
        """Pushes entries ``(ts, line)`` or ``(ts, line, metadata)`` to the stream
        ``labels``. ``ts``: int ns, ``datetime``, ``pandas.Timestamp`` or RFC 3339 text;
        ``line``: str or bytes; ``metadata``: dict of structured metadata. All or nothing."""
        return self._db.push([(_labels(labels), entries)], tenant)

    def push_streams(
        self, streams: Iterable[Tuple[Dict[str, str], Iterable[Tuple[Any, ...]]]], tenant: str = DEFAULT_TENANT
    ) -> Dict[str, int]:
        """Pushes several streams at once: ``[(labels, entries), ...]``, one batch."""
        return self._db.push([(_labels(labels), entries) for labels, entries in streams], tenant)

    def push_ndjson(self, source: Union[str, bytes, "_os.PathLike[str]"], tenant: str = DEFAULT_TENANT) -> Dict[str, int]:
        """Pushes NDJSON entries (``{"labels":{...},"ts":...,"line":"...","metadata":{...}}``
        one per line) from a file path or from bytes, in batches of 10,000."""
        if isinstance(source, (bytes, bytearray, memoryview)):
            return self._db.push_ndjson(tenant, data=bytes(source))
        return self._db.push_ndjson(tenant, path=_os.fspath(source))

    def query(
        self,
        q: str,
        start: Any = None,
        end: Any = None,
        step: Any = None,
        limit: int = 100,
        direction: str = "backward",
        time: Any = None,
        tenant: str = DEFAULT_TENANT,
        since: Any = None,
        timeout: Any = None,
    ) -> Union[Streams, Matrix, Vector, Scalar]:
        """Runs a LogQL query. A range query reads ``[start, end)`` (default: the last hour,
        or the last ``since``); with ``time`` it is an instant query. Returns ``Streams``,
        ``Matrix``, ``Vector`` or ``Scalar``. ``limit`` is not capped at Loki's 5000.
        ``timeout`` (a duration) makes a slower query raise ``QueryError``; Ctrl-C
        interrupts any query (``KeyboardInterrupt``)."""
        if time is not None:
            t = time_ns(time)
            s, e = t, t
        else:
            s, e = _range(start, end, since)
            t = None
        st = duration_ns(step) if step is not None else None
        to = duration_ns(timeout) / 1e9 if timeout is not None else None
        resp = self._db.query(tenant, q, s, e, step=st, time=t, limit=limit, direction=direction, timeout=to)
        return _wrap(resp)  # type: ignore[return-value]

    def labels(self, start: Any = None, end: Any = None, tenant: str = DEFAULT_TENANT, since: Any = None) -> List[str]:
        """Sorted label names of streams with data in ``[start, end)`` (default: all time)."""
        s, e = self._all_time(start, end, since)
        return self._db.label_names(tenant, s, e)

    def label_values(
        self, name: str, start: Any = None, end: Any = None, tenant: str = DEFAULT_TENANT, since: Any = None
    ) -> List[str]:
        """Sorted values of label ``name`` among streams with data in ``[start, end)``."""
        s, e = self._all_time(start, end, since)
        return self._db.label_values(tenant, name, s, e)

    def series(
        self, selector: str, start: Any = None, end: Any = None, tenant: str = DEFAULT_TENANT, since: Any = None
    ) -> List[Dict[str, str]]:
        """Label sets of the streams matching ``selector`` (``{app="api"}``)."""
        s, e = self._all_time(start, end, since)
        return self._db.series(tenant, selector, s, e)

    def delete(self, query: str, start: Any, end: Any = None, tenant: str = DEFAULT_TENANT) -> Dict[str, Any]:
        """Logs a delete request for the entries ``query`` matches in ``[start, end]``
        (both inclusive; ``end`` defaults to now). ``query`` is a log selector with
        optional line filters, as Loki's delete API takes (``{app="api"} |= "secret"``).
        Queries stop returning those entries at once; ``compact()`` removes them from
        disk. Durable when it returns. Returns the request: ``{"id","tenant","query",
        "start","end","created","status"}`` (status ``"pending"``)."""
        s = time_ns(start)
        e = now_ns() if end is None else time_ns(end)
        return _json.loads(self._db.delete(tenant, query, s, e))

    def delete_requests(self, tenant: str = DEFAULT_TENANT) -> List[Dict[str, Any]]:
        """Every delete request of ``tenant`` by id, with its ``status``: ``"pending"``,
        ``"applied"`` (compaction removed the entries) or ``"cancelled"``."""
        return _json.loads(self._db.delete_requests(tenant))

    def cancel_delete(self, id: int, tenant: str = DEFAULT_TENANT) -> None:  # noqa: A002
        """Cancels a pending delete request; its entries are returned again. An unknown
        id or an applied request raises ``InvalidArgumentError``."""
        self._db.cancel_delete(tenant, id)

    def compact(self) -> Dict[str, Any]:
        """Runs one compaction now (after a running one): flushes, drops expired
        segments, rewrites segments holding expired or deleted entries, merges small
        segments. Reads and writes go on meanwhile; the GIL is released. Returns the
        report (``segments_before``, ``segments_after``, ``bytes_before``, ``bytes_after``,
        ``entries_expired``, ``entries_deleted``, ``deletes_applied``, ``duration_ms``, ...)."""
        return _json.loads(self._db.compact())

    def flush(self) -> None:
        """Writes in-memory data to segment files; returns once durable."""
        self._db.flush()

    def stats(self) -> Dict[str, Any]:
        """``{"head_bytes": int, "tenants": [{"tenant","streams","chunks","segments",
        "entries","raw_bytes","disk_bytes","oldest","newest"}, ...]}``."""
        return self._db.stats()

    def tail(
        self,
        q: str,
        start: Any = None,
        interval: float = 1.0,
        limit: int = 1000,
        tenant: str = DEFAULT_TENANT,
    ) -> Iterator[Tuple[Dict[str, str], int, str]]:
        """Follows a log query: yields ``(labels, ts, line)`` in time order as entries
        arrive, polling with forward queries every ``interval`` seconds once caught up.
        ``start`` defaults to now. An entry pushed later with a timestamp before the
        newest one already yielded is not shown (as with ``logcli --tail``)."""
        cursor = now_ns() if start is None else time_ns(start)
        seen: set = set()  # entries yielded with ts == cursor
        page = limit
        while True:
            end = max(now_ns(), cursor) + 1
            res = self.query(q, start=cursor, end=end, limit=page, direction="forward", tenant=tenant)
            rows = sorted(
                ((ts, line, labels) for labels, entries in res for ts, line in entries),
                key=lambda r: r[0],
            )
            fresh = 0
            for ts, line, labels in rows:
                key = (ts, line, tuple(sorted(labels.items())))
                if ts == cursor:
                    if key in seen:
                        continue
                elif ts > cursor:
                    cursor, seen = ts, set()
                seen.add(key)
                fresh += 1
                yield labels, ts, line
            if len(rows) < page:
                page = limit
                _time.sleep(interval)
            elif fresh == 0:
                # A full page of entries all at `cursor`, all seen: widen the page.
                page *= 2

    @staticmethod
    def _all_time(start: Any, end: Any, since: Any) -> Tuple[int, int]:
        if start is None and end is None and since is None:
            return -(2**63), 2**63 - 1
        return _range(start, end, since)
