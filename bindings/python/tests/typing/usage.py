"""A typed use of the public API, checked with `mypy --strict` against the stubs (CI).
It is never run: mypy fails if the stubs lose or mistype a name used here."""

import datetime as dt
from typing import Dict, Iterator, List, Optional, Tuple

import logjar


def walk(path: str) -> None:
    with logjar.open(path, sync="never", retention="30d") as db:
        r: Dict[str, int] = db.push({"app": "api"}, [(1, "a"), ("2026-01-01T00:00:00Z", b"b", {"trace_id": "t"})])
        accepted: int = r["accepted"] + db.push_loki({"streams": []})["accepted"]
        db.push_streams([({"app": "web"}, [(dt.datetime(2026, 1, 1), "c")])], tenant="t2")
        db.push_ndjson(b'{"labels":{"app":"x"},"ts":1,"line":"l"}')
        body: Dict[str, object] = db.query_loki({"query": '{app="api"}', "start": 0, "end": 10}, tenant="fake")
        res = db.query('{app="api"}', start=dt.datetime(2026, 1, 1), end="2026-01-02T00:00:00Z", step=dt.timedelta(minutes=1), limit=10, direction="forward", timeout="30s")
        if isinstance(res, logjar.Streams):
            for labels, entries in res:
                first: Optional[Tuple[int, str]] = entries[0] if entries else None
                app: Optional[str] = labels.get("app")
            n: int = res.entries() + len(res)
        elif isinstance(res, logjar.Matrix):
            for labels, points in res:
                values: List[float] = [v for _, v in points]
        elif isinstance(res, logjar.Vector):
            t: int = res.time
            samples: List[Tuple[Dict[str, str], float]] = list(res)
        else:
            x: float = float(res) + res.value
        stats: Dict[str, object] = res.stats
        loki: Dict[str, object] = res.to_json()
        names: List[str] = db.labels(since="1h") + db.label_values("app") + [s["app"] for s in db.series('{app="api"}')]
        tail: Iterator[Tuple[Dict[str, str], int, str]] = db.tail('{app="api"}', interval=0.5)
        db.flush()
        total: int = sum(t["entries"] for t in db.stats()["tenants"])
        ns: int = logjar.time_ns(dt.datetime(2026, 1, 1)) + logjar.duration_ns("5m")
        closed: bool = db.closed
    try:
        logjar.open(path)
    except logjar.QueryError as e:
        pos: Optional[int] = e.position
    except (logjar.LimitError, logjar.StorageError, logjar.LockedError, logjar.CorruptError) as e:
        msg: str = str(e)
    except logjar.Error:
        pass
