import datetime as dt
import threading
import time

import pytest

import logjar

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


@pytest.fixture
def db(tmp_path):
    with logjar.open(tmp_path / "db", sync="never") as d:
        yield d


def fill(db, n=120):
    db.push({"app": "api"}, [(T0 + i * S, f"GET /{i} {500 if i % 10 == 0 else 200}") for i in range(n)])
    db.push({"app": "web"}, [(T0 + i * S, f"hit {i}", {"trace_id": f"t{i}"}) for i in range(n)])


def test_contract_surface_round_trip(db):
    body = {"streams": [{"stream": {"app": "api"}, "values": [[str(T0 + 1), "a"], [str(T0 + 2), "b"]]}]}
    assert db.push_loki(body)["accepted"] == 2
    assert db.push_loki(b'{"streams":[{"stream":{"app":"api"},"values":[["%d","c"]]}]}' % (T0 + 3))["accepted"] == 1
    db.push_loki('{"streams":[]}', tenant="other")
    out = db.query_loki({"query": '{app="api"}', "start": T0, "end": T0 + S, "limit": 10, "direction": "forward"})
    assert out["status"] == "success"
    assert out["data"]["resultType"] == "streams"
    assert [v[1] for v in out["data"]["result"][0]["values"]] == ["a", "b", "c"]
    inst = db.query_loki({"query": 'count_over_time({app="api"}[1m])', "time": T0 + 60 * S})
    assert inst["data"]["resultType"] == "vector"
    assert inst["data"]["result"][0]["value"][1] == "3"


def test_streams(db):
    fill(db)
    res = db.query('{app="api"} |= "500"', start=T0, end=T0 + 200 * S, limit=1000)
    assert isinstance(res, logjar.Streams)
    (labels, entries), = list(res)
    assert labels == {"app": "api"}
    assert len(entries) == 12
    assert entries[0] == (T0 + 110 * S, "GET /110 500")  # backward by default
    assert res.stats["total_lines_processed"] >= 120
    assert res.to_json()["data"]["resultType"] == "streams"
    web = db.query('{app="web"}', start=T0, end=T0 + 200 * S, limit=5, direction="forward")
    assert web.entries() == 5
    labels, entries = next(iter(web))
    assert labels["trace_id"] == "t0" and entries[0][1] == "hit 0"


def test_matrix_vector_scalar(db):
    fill(db)
    m = db.query('sum by (app) (count_over_time({app=~".+"}[1m]))', start=T0 + 60 * S, end=T0 + 120 * S, step="1m")
    assert isinstance(m, logjar.Matrix)
    assert [(l["app"], [v for _, v in pts]) for l, pts in m] == [("api", [60.0, 59.0]), ("web", [60.0, 59.0])]
    assert list(m)[0][1][0][0] == T0 + 60 * S
    v = db.query('sum(count_over_time({app="api"}[1m]))', time=T0 + 60 * S)
    assert isinstance(v, logjar.Vector)
    assert [x for _, x in v] == [60.0] and v.time == T0 + 60 * S
    s = db.query("1 + 2", time=T0)
    assert isinstance(s, logjar.Scalar) and float(s) == 3.0
    assert s.to_json()["data"]["resultType"] == "scalar"


def test_times_and_durations(db):
    assert logjar.time_ns(5) == 5
    assert logjar.time_ns("2026-01-01T00:00:00Z") == T0
    assert logjar.time_ns("1767225600000000000") == T0
    assert logjar.time_ns(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) == T0
    assert logjar.time_ns(dt.datetime(2026, 1, 1)) == T0  # naive = UTC
    assert logjar.time_ns(dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == T0
    assert logjar.time_ns(dt.datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=dt.timezone.utc)) == T0 + 5000
    assert logjar.duration_ns("5m") == 300 * S
    assert logjar.duration_ns(dt.timedelta(minutes=5)) == 300 * S
    assert logjar.duration_ns(7) == 7
    with pytest.raises(ValueError):
        logjar.time_ns("yesterday")
    with pytest.raises(ValueError):
        logjar.duration_ns("5 parsecs")
    with pytest.raises(TypeError):
        logjar.time_ns(1.5)
    db.push({"app": "t"}, [(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "dt"), ("2026-01-01T00:00:01Z", b"str")])
    res = db.query('{app="t"}', start=dt.datetime(2026, 1, 1), end="2026-01-01T00:01:00Z", direction="forward")
    assert list(res)[0][1] == [(T0, "dt"), (T0 + S, "str")]


def test_pandas_timestamp_push(db):
    pd = pytest.importorskip("pandas")
    db.push({"app": "pd"}, [(pd.Timestamp("2026-01-01T00:00:00.000000001Z"), "x")])
    assert list(db.query('{app="pd"}', start=T0, end=T0 + S))[0][1] == [(T0 + 1, "x")]


def test_labels_series_flush_stats(db):
    fill(db)
    assert db.labels() == ["app"]  # stream labels only: structured metadata is not indexed
    assert db.label_values("app") == ["api", "web"]
    assert db.series('{app="api"}') == [{"app": "api"}]
    db.flush()
    st = db.stats()
    assert st["tenants"][0]["tenant"] == "fake" and st["tenants"][0]["entries"] == 240


def test_push_ndjson(db, tmp_path):
    lines = b"\n".join(
        b'{"labels":{"app":"nd"},"ts":"%d","line":"l%d"}' % (T0 + i, i) for i in range(25_000)
    )
    assert db.push_ndjson(lines)["accepted"] == 25_000
    p = tmp_path / "x.ndjson"
    p.write_bytes(b'{"labels":{"app":"nd2"},"ts":"2026-01-01T00:00:00Z","line":"f"}\n')
    assert db.push_ndjson(p)["accepted"] == 1
    with pytest.raises(logjar.InvalidArgumentError, match="line 2"):
        db.push_ndjson(b'{"labels":{"app":"x"},"ts":1,"line":"a"}\n{bad')


def test_query_error_with_position(db):
    with pytest.raises(logjar.QueryError) as e:
        db.query('{app="api"} |= ', start=T0, end=T0 + S)
    assert isinstance(e.value, ValueError) and isinstance(e.value, logjar.Error)
    assert isinstance(e.value.position, int) and e.value.position > 0
    assert "^" in e.value.rendered
    with pytest.raises(logjar.QueryError):
        db.query_loki({"query": "{app=", "start": 0, "end": 1})
    with pytest.raises(logjar.QueryError):
        db.query_loki({"query": '{app="a"}', "bogus": 1})


def test_locked(tmp_path):
    with logjar.open(tmp_path / "db"):
        with pytest.raises(logjar.LockedError):
            logjar.open(tmp_path / "db")
    logjar.open(tmp_path / "db").close()  # released


def test_read_only(tmp_path):
    with logjar.open(tmp_path / "db") as db:
        db.push({"app": "x"}, [(T0, "kept in the WAL")])
    with logjar.open(tmp_path / "db", read_only=True) as db:
        got = db.query('{app="x"}', start=T0, end=T0 + S)
        assert [line for _, entries in got for _, line in entries] == ["kept in the WAL"]
        with pytest.raises(logjar.InvalidArgumentError, match="read-only"):
            db.push({"app": "x"}, [(T0 + 1, "refused")])
        with pytest.raises(logjar.InvalidArgumentError, match="read-only"):
            db.flush()


def test_limit_errors(tmp_path):
    with logjar.open(tmp_path / "db", limits={"max_line_size": 4}) as db:
        with pytest.raises(logjar.LimitError):
            db.push({"app": "x"}, [(1, "far too long")])
        with pytest.raises(logjar.LimitError):
            db.query_loki({"query": '{app="x"}', "start": 0, "end": 1, "limit": 100_000})


def test_storage_and_argument_errors(tmp_path):
    f = tmp_path / "file"
    f.write_text("not a directory")
    with pytest.raises(logjar.StorageError) as e:
        logjar.open(f / "db")
    assert isinstance(e.value, OSError)
    with pytest.raises(logjar.InvalidArgumentError):
        logjar.open(tmp_path / "x", no_such_option=1)
    with logjar.open(tmp_path / "y") as db:
        with pytest.raises(logjar.InvalidArgumentError):
            db.push_loki(b"{not json")
        with pytest.raises(logjar.Error):
            db.push({"0bad": "x"}, [(1, "a")])


def test_use_after_close(tmp_path):
    db = logjar.open(tmp_path / "db")
    db.close()
    db.close()  # idempotent
    assert db.closed
    for call in (lambda: db.push({"a": "b"}, [(1, "x")]), lambda: db.query('{a="b"}'), db.flush, db.stats):
        with pytest.raises(logjar.ClosedError):
            call()


def test_to_pandas_shapes(db):
    pd = pytest.importorskip("pandas")
    fill(db, 120)
    df = db.query('{app=~".+"}', start=T0, end=T0 + 200 * S, limit=1000).to_pandas()
    assert len(df) == 240
    assert set(df.columns) == {"timestamp", "line", "app", "trace_id"}
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert df["trace_id"].isna().sum() == 120
    m = db.query('count_over_time({app="api"}[1m])', start=T0 + 60 * S, end=T0 + 120 * S, step="30s").to_pandas()
    assert list(m.columns) == ["timestamp", "value", "app"] and len(m) == 3
    v = db.query('sum by (app) (count_over_time({app=~".+"}[1m]))', time=T0 + 60 * S).to_pandas()
    assert len(v) == 2 and set(v["app"]) == {"api", "web"}
    assert db.query("1", time=T0).to_pandas()["value"].tolist() == [1.0]


def test_tail(db):
    fill(db, 3)
    it = db.tail('{app="api"}', start=T0, interval=0.01)
    assert [next(it)[2] for _ in range(3)] == ["GET /0 500", "GET /1 200", "GET /2 200"]
    db.push({"app": "api"}, [(T0 + 10 * S, "later")])
    assert next(it)[1:] == (T0 + 10 * S, "later")


def test_ctrl_c_interrupts_a_query(db):
    import signal

    db.push({"app": "big"}, [(T0 + i * 1000, f"line {i} with some words") for i in range(200_000)])
    q = 'sum(count_over_time({app="big"} |~ ".*w.*o.*r.*d.*s.*x" [1s]))'
    # A real signal after 0.1 s whose handler raises KeyboardInterrupt, as Ctrl-C's does.
    # (A timer thread calling _thread.interrupt_main must first win the GIL from the
    # query loop, which it did not once in a full-suite run.)
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            while time.perf_counter() - t0 < 10:
                db.query(q, start=T0, end=T0 + S, step="1s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # The database is still usable afterwards.
    assert db.label_values("app") == ["big"]


# --- times and durations everywhere ---------------------------------------------------


def test_time_and_duration_types_in_every_call(db):
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    assert logjar.time_ns(pd.Timestamp("2026-01-01T00:00:00.000000007Z")) == T0 + 7  # ns kept
    assert logjar.time_ns(pd.Timestamp("2026-01-01T01:00:00+01:00")) == T0
    assert logjar.time_ns(np.datetime64("2026-01-01T00:00:00.000000003")) == T0 + 3
    assert logjar.time_ns(dt.date(2026, 1, 1)) == T0
    assert logjar.duration_ns(pd.Timedelta(nanoseconds=1500)) == 1500
    assert logjar.duration_ns("1h30m") == 5400 * S
    assert logjar.duration_ns("250ms") == S // 4
    with pytest.raises(TypeError):
        logjar.duration_ns(1.5)
    with pytest.raises(TypeError):
        logjar.time_ns(True)
    fill(db, 120)
    # step as str, int ns and timedelta; start/end as str, datetime and pandas.Timestamp.
    q = 'sum(count_over_time({app="api"}[1m]))'
    want = [(T0 + 60 * S, 60.0), (T0 + 120 * S, 59.0)]
    for step in ("1m", 60 * S, dt.timedelta(minutes=1), pd.Timedelta("60s")):
        for start in ("2026-01-01T00:01:00Z", dt.datetime(2026, 1, 1, 0, 1), pd.Timestamp("2026-01-01T00:01:00Z"), T0 + 60 * S):
            (_, pts), = list(db.query(q, start=start, end=T0 + 120 * S, step=step))
            assert pts == want, (step, start)
    # instant time as datetime; `since` as str and timedelta (end given).
    (_, v), = list(db.query(q, time=dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.timezone.utc)))
    assert v == 60.0
    end = T0 + 120 * S  # api has one entry a second in [T0, T0 + 120 s)
    assert db.query('{app="api"}', end=end, since="90s", limit=1000).entries() == 90
    assert db.query('{app="api"}', end=end, since=dt.timedelta(seconds=90), limit=1000).entries() == 90
    # query_loki takes datetimes and timedeltas too (converted before the JSON request).
    out = db.query_loki({"query": q, "start": dt.datetime(2026, 1, 1, 0, 1), "end": pd.Timestamp(T0 + 120 * S), "step": dt.timedelta(minutes=1)})
    assert [p[1] for p in out["data"]["result"][0]["values"]] == ["60", "59"]
    out = db.query_loki({"query": q, "start": "2026-01-01T00:01:00Z", "end": "2026-01-01T00:02:00Z", "step": "1m"})
    assert [p[1] for p in out["data"]["result"][0]["values"]] == ["60", "59"]
    # label calls take the same times.
    assert db.label_values("app", start=dt.datetime(2026, 1, 1), end="2026-01-01T00:10:00Z") == ["api", "web"]
    assert db.label_values("app", start="2027-01-01T00:00:00Z", end="2027-01-02T00:00:00Z") == []


# --- result objects -----------------------------------------------------------------


def test_every_result_iterates_and_matches_the_loki_body(db):
    fill(db, 120)
    cases = [
        ({"query": '{app=~".+"} |= "1"', "start": T0, "end": T0 + 200 * S, "limit": 50}, logjar.Streams),
        ({"query": 'sum by (app) (rate({app=~".+"}[1m]))', "start": T0 + 60 * S, "end": T0 + 120 * S, "step": "30s"}, logjar.Matrix),
        ({"query": 'count_over_time({app=~".+"}[1m])', "time": T0 + 90 * S}, logjar.Vector),
        ({"query": "2 * 21", "time": T0}, logjar.Scalar),
    ]
    for req, kind in cases:
        res = db.query(req["query"], start=req.get("start"), end=req.get("end"), step=req.get("step"), time=req.get("time"), limit=req.get("limit", 100))
        assert isinstance(res, kind) and res.result_type == kind.result_type
        body = res.to_json()
        loki = db.query_loki(req)
        assert body["status"] == "success"
        assert body["data"]["resultType"] == loki["data"]["resultType"] == kind.result_type
        assert body["data"]["result"] == loki["data"]["result"]
        assert set(res.stats) >= {"exec_time", "total_lines_processed", "total_bytes_processed", "streams_selected", "entries_returned"}
        assert (res.stats["total_lines_processed"] > 0) == (kind is not logjar.Scalar)
        if kind is logjar.Streams:
            items = list(res)
            assert len(items) == len(res) == len(body["data"]["result"])
            for (labels, entries), stream in zip(items, body["data"]["result"]):
                assert labels == stream["stream"]
                assert all(isinstance(t, int) and isinstance(l, str) for t, l in entries)
                assert [[str(t), l] for t, l in entries] == stream["values"]
            assert res.entries() == sum(len(e) for _, e in items) == 50 == res.stats["entries_returned"]
        elif kind is logjar.Matrix:
            for (labels, pts), series in zip(res, body["data"]["result"]):
                assert labels == series["metric"]
                assert [(t, v) for t, v in pts] == [(round(p[0] * 1e9), float(p[1])) for p in series["values"]]
        elif kind is logjar.Vector:
            assert [(l, v) for l, v in res] == [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]
            assert res.time == T0 + 90 * S
        else:
            assert res.value == 42.0 and float(res) == 42.0 and res.time == T0
            assert body["data"]["result"] == [T0 / 1e9, "42"]


def test_labels_series_exact(db):
    fill(db, 10)
    db.push({"app": "api", "env": "prod"}, [(T0, "p")])
    assert db.labels() == ["app", "env"]  # stream labels; structured metadata is not indexed
    assert db.label_values("env") == ["prod"]
    assert db.series('{app="api"}') == [{"app": "api"}, {"app": "api", "env": "prod"}]
    assert db.series('{app="none"}') == []
    assert db.labels(tenant="other") == []


# --- errors -------------------------------------------------------------------------


def test_error_hierarchy():
    for cls in (logjar.QueryError, logjar.LimitError, logjar.StorageError, logjar.LockedError, logjar.CorruptError, logjar.InvalidArgumentError, logjar.ClosedError):
        assert issubclass(cls, logjar.Error)
    assert issubclass(logjar.CorruptError, logjar.StorageError)
    assert not issubclass(logjar.LimitError, logjar.QueryError)


def test_query_error_positions_from_every_entry_point(db):
    q = '{app="api"} |= '
    for call in (
        lambda: db.query(q, start=T0, end=T0 + S),
        lambda: db.query_loki({"query": q, "start": T0, "end": T0 + S}),
    ):
        with pytest.raises(logjar.QueryError) as e:
            call()
        assert e.value.position == len(q)  # the missing string after |=
        assert "line 1, col 16" in str(e.value)
        assert e.value.rendered.splitlines()[-1] == " " * (2 + len(q)) + "^"
    with pytest.raises(logjar.QueryError) as e:
        db.series('{app="api"')
    assert e.value.position == len('{app="api"')
    with pytest.raises(logjar.QueryError) as e:
        db.query('{app="api"}', start=T0 + S, end=T0)  # a bad request has no position
    assert e.value.position is None
    with pytest.raises(logjar.QueryError):
        db.query_loki({"query": '{app="a"}', "direction": "sideways"})
    with pytest.raises(ValueError):
        db.query('{app="api"}', direction="sideways")


def test_limit_error_from_the_series_limit(db):
    # Loki's max_query_series (500) applies to metric queries.
    db.push_streams([({"app": f"a{i}"}, [(T0, "x")]) for i in range(501)])
    with pytest.raises(logjar.LimitError) as e:
        db.query('count_over_time({app=~".+"}[1m])', time=T0 + S)
    assert not isinstance(e.value, logjar.QueryError)
    assert len(db.query('sum(count_over_time({app=~".+"}[1m]))', time=T0 + S)) == 1


def test_corrupt_error_is_a_storage_error(tmp_path):
    path = tmp_path / "db"
    with logjar.open(path, sync="never") as db:
        db.push({"app": "a"}, [(T0 + i, f"line {i}") for i in range(1000)])
        db.flush()
    (seg,) = (path / "segments").iterdir()
    data = bytearray(seg.read_bytes())
    for i in range(100, 400):
        data[i] ^= 0xFF
    seg.write_bytes(bytes(data))
    with logjar.open(path) as db:
        with pytest.raises(logjar.CorruptError) as e:
            db.query('{app="a"}', start=T0, end=T0 + S)
        assert isinstance(e.value, logjar.StorageError) and "CRC" in str(e.value)


def test_locked_by_another_process(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "db"
    with logjar.open(path):
        code = f"import logjar\ntry:\n    logjar.open({str(path)!r})\nexcept logjar.LockedError as e:\n    print('locked', e)\n"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("locked"), out
    # Closed: the next open in this process succeeds at once, even right after a query.
    for _ in range(20):
        db = logjar.open(path)
        db.query('{app="a"}', start=T0, end=T0 + S)
        db.close()


def test_query_timeout(db):
    db.push({"app": "big"}, [(T0 + i * 1000, f"line {i} with some words") for i in range(50_000)])
    with pytest.raises(logjar.QueryError, match="timed out"):
        db.query('sum(count_over_time({app="big"} |~ ".*w.*o.*r.*d.*s.*x" [1s]))', start=T0, end=T0 + S, step="1ms", timeout="1ms")
    assert db.query('{app="big"}', start=T0, end=T0 + S, timeout=dt.timedelta(minutes=1), limit=3).entries() == 3


# --- the GIL ------------------------------------------------------------------------


class Ticker:
    """A pure-Python thread noting when it runs; `coverage(t0, t1)` is the share of 20 ms
    slots of [t0, t1) in which it ran at least once. A native call that holds the GIL
    leaves it near 0 for its duration (the thread cannot run any bytecode)."""

    SLOT = 0.02

    def __init__(self):
        self.stamps = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        last = 0.0
        while not self.stop.is_set():
            now = time.perf_counter()
            if now - last >= 0.002:
                self.stamps.append(now)
                last = now

    def __enter__(self):
        self.thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def coverage(self, t0, t1):
        slots = int((t1 - t0) / self.SLOT)
        assert slots >= 10, f"call too short to judge ({t1 - t0:.3f} s)"
        hit = {int((s - t0) / self.SLOT) for s in self.stamps if t0 <= s < t0 + slots * self.SLOT}
        return len(hit) / slots


def judge(ticker, calls):
    """Runs `calls` (each heavier than the last) until one lasts 0.3 s, long enough to
    judge in a debug or a release build, and returns the ticker's coverage of it."""
    for call in calls:
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        if t1 - t0 >= 0.3:
            return ticker.coverage(t0, t1)
    pytest.fail(f"the call never lasted 0.3 s (last {t1 - t0:.3f} s)")


def test_gil_is_released_during_a_long_query(db):
    q = 'sum(count_over_time({app="big"} |~ ".*w.*o.*r.*d.*s.*x" [1s]))'

    def calls():
        for k in range(5):  # 200k entries more each time
            db.push({"app": "big"}, [(T0 + i * 1000 + k, f"line {i} with some words to filter") for i in range(200_000)])
            yield lambda: db.query(q, start=T0, end=T0 + S, step="1ms")

    with Ticker() as ticker:
        cov = judge(ticker, calls())
    assert cov > 0.5, cov


def test_gil_is_released_during_a_long_push(db):
    import json

    def sizes():
        n = 200_000
        for _ in range(3):
            yield n
            n *= 3

    def ndjson(n):
        nd = b"\n".join(b'{"labels":{"app":"nd"},"ts":%d,"line":"line %d"}' % (T0 + n + i, i) for i in range(n))
        return lambda: db.push_ndjson(nd)

    def loki(n):
        body = json.dumps({"streams": [{"stream": {"app": "loki"}, "values": [[str(T0 + n + i), f"line {i}"] for i in range(n)]}]}).encode()
        return lambda: db.push_loki(body)

    def python(n):
        entries = [(T0 + n + i, f"line {i} of a python push") for i in range(n)]
        return lambda: db.push({"app": "py"}, entries)

    with Ticker() as ticker:
        cov_nd = judge(ticker, (ndjson(n) for n in sizes()))
        cov_loki = judge(ticker, (loki(n) for n in sizes()))
        cov_push = judge(ticker, (python(n) for n in sizes()))
    # push_ndjson and push_loki parse and store without the GIL.
    assert cov_nd > 0.5 and cov_loki > 0.5, (cov_nd, cov_loki)
    # push converts the Python tuples with the GIL, then stores without it.
    assert cov_push > 0.3, cov_push


def test_threads_push_and_query_at_once(db):
    errors = []
    seen_counts = []

    def pusher(k):
        try:
            for j in range(20):
                db.push({"app": f"p{k}"}, [(T0 + j * S + i, f"x{i}") for i in range(500)])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def querier():
        try:
            for _ in range(20):
                v = db.query('sum(count_over_time({app=~"p.*"}[2m]))', time=T0 + 60 * S)
                seen_counts.append(sum(x for _, x in v))
                db.query('{app=~"p.*"}', start=T0, end=T0 + 60 * S, limit=10).to_json()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=pusher, args=(k,)) for k in range(3)] + [threading.Thread(target=querier) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    # Every answer saw whole pushes only (each push is 500 entries, all or nothing).
    assert all(c % 500 == 0 for c in seen_counts), seen_counts
    v = db.query('sum(count_over_time({app=~"p.*"}[2m]))', time=T0 + 60 * S)
    assert [x for _, x in v] == [30_000.0]


# --- tables -------------------------------------------------------------------------


def test_to_arrow_shapes(db):
    pa = pytest.importorskip("pyarrow")
    fill(db, 120)
    t = db.query('{app=~".+"}', start=T0, end=T0 + 200 * S, limit=1000, direction="forward").to_arrow()
    assert t.num_rows == 240
    assert t.column_names == ["timestamp", "line", "app", "trace_id"]
    assert t.schema.field("timestamp").type == pa.timestamp("ns", tz="UTC")
    assert t.schema.field("line").type == pa.string() and t.schema.field("app").type == pa.string()
    # One row per entry: each web entry is its own stream (trace_id is per entry).
    rows = t.to_pylist()
    api = [r for r in rows if r["app"] == "api"]
    assert [r["line"] for r in api[:2]] == ["GET /0 500", "GET /1 200"] and all(r["trace_id"] is None for r in api)
    assert t.column("trace_id").null_count == 120
    assert rows[0]["timestamp"].value == T0 if hasattr(rows[0]["timestamp"], "value") else True
    assert t.column("timestamp").cast(pa.int64()).to_pylist()[:2] == [T0, T0 + S]
    # Matrix: one row per (series, timestamp).
    m = db.query('sum by (app) (count_over_time({app=~".+"}[1m]))', start=T0 + 60 * S, end=T0 + 120 * S, step="30s").to_arrow()
    assert m.column_names == ["timestamp", "value", "app"] and m.num_rows == 6
    assert m.column("app").to_pylist() == ["api"] * 3 + ["web"] * 3
    assert m.column("value").to_pylist() == [60.0, 60.0, 59.0] * 2
    assert m.column("timestamp").cast(pa.int64()).to_pylist() == [T0 + 60 * S, T0 + 90 * S, T0 + 120 * S] * 2
    # Vector: one row per sample at the evaluation time; Scalar: one row.
    v = db.query('sum by (app) (count_over_time({app=~".+"}[1m]))', time=T0 + 60 * S).to_arrow()
    assert v.to_pydict()["app"] == ["api", "web"] and v.column("value").to_pylist() == [60.0, 60.0]
    assert v.column("timestamp").cast(pa.int64()).to_pylist() == [T0 + 60 * S] * 2
    s = db.query("3", time=T0).to_arrow()
    assert s.column_names == ["timestamp", "value"] and s.num_rows == 1
    # An empty answer still has the columns.
    e = db.query('{app="none"}', start=T0, end=T0 + S).to_arrow()
    assert e.num_rows == 0 and e.column_names == ["timestamp", "line"]


def test_to_pandas_with_and_without_pyarrow_agree(db, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    import logjar._results as results

    fill(db, 50)
    db.push({"app": "x", "line": "a label named line", "value": "v"}, [(T0 + 5, "é ünïcode ✓")])
    queries = [
        dict(q='{app=~".+"}', start=T0, end=T0 + 100 * S, limit=1000),
        dict(q='sum by (app) (count_over_time({app=~".+"}[1m]))', start=T0, end=T0 + 60 * S, step="10s"),
        dict(q='count_over_time({app=~".+"}[1m])', time=T0 + 60 * S),
        dict(q="1", time=T0),
    ]
    for kw in queries:
        q = kw.pop("q")
        res = db.query(q, **kw)
        via_arrow = res.to_pandas()
        monkeypatch.setattr(results, "_USE_ARROW_FOR_PANDAS", False)
        via_numpy = res.to_pandas()
        monkeypatch.setattr(results, "_USE_ARROW_FOR_PANDAS", True)
        pd.testing.assert_frame_equal(via_arrow, via_numpy)
    df = db.query('{app="x"}', start=T0, end=T0 + S).to_pandas()
    assert list(df.columns) == ["timestamp", "line", "app", "label_line", "label_value"]
    assert df.iloc[0].to_dict() == {"timestamp": pd.Timestamp(T0 + 5, tz="UTC"), "line": "é ünïcode ✓", "app": "x", "label_line": "a label named line", "label_value": "v"}


def test_tail_does_not_repeat_entries_sharing_a_timestamp(db):
    db.push({"app": "t"}, [(T0, "a"), (T0, "b")])
    it = db.tail('{app="t"}', start=T0, interval=0.01, limit=2)
    assert sorted(next(it)[2] for _ in range(2)) == ["a", "b"]
    db.push({"app": "t"}, [(T0, "c"), (T0 + 1, "d")])
    assert [next(it)[1:] for _ in range(2)] == [(T0, "c"), (T0 + 1, "d")]
    db.push({"app": "t"}, [(T0 + 1, "e")])
    assert next(it)[1:] == (T0 + 1, "e")


def test_lines_unicode_bytes_and_bad_types(db):
    db.push({"app": "u"}, [(T0, "é ünïcode ✓ 日本"), (T0 + 1, b"raw \xff bytes"), (T0 + 2, "ascii")])
    (_, entries), = list(db.query('{app="u"}', start=T0, end=T0 + S, direction="forward"))
    assert entries == [(T0, "é ünïcode ✓ 日本"), (T0 + 1, "raw \ufffd bytes"), (T0 + 2, "ascii")]
    with pytest.raises(UnicodeEncodeError):
        db.push({"app": "u"}, [(T0 + 3, "lone \ud800 surrogate")])
    with pytest.raises(TypeError):
        db.push({"app": "u"}, [(T0 + 3, 42)])
    with pytest.raises(TypeError):
        db.push({"app": "u"}, [[T0 + 3, "a list, not a tuple"]])
    with pytest.raises(TypeError):
        db.push({"app": "u"}, [(T0 + 3.5, "float time")])
    assert db.query('{app="u"}', start=T0, end=T0 + S).entries() == 3  # nothing half-pushed


# --- deletes and compaction ---------------------------------------------------------


def test_delete_cancel_and_compact(db):
    fill(db, 120)
    db.flush()
    api_500 = '{app="api"} |= "500"'
    req = db.delete(api_500, start=T0, end=dt.datetime(2026, 1, 1, 0, 3, tzinfo=dt.timezone.utc))
    assert req["status"] == "pending" and req["query"] == api_500 and req["tenant"] == "fake"
    assert (req["start"], req["end"]) == (T0, T0 + 180 * S) and isinstance(req["id"], int)
    # Hidden from queries at once, before any compaction.
    assert db.query(api_500, start=T0, end=T0 + 200 * S, limit=1000).entries() == 0
    assert db.query('{app="api"}', start=T0, end=T0 + 200 * S, limit=1000).entries() == 108
    # Both ends inclusive; a cancelled request has no effect.
    web = db.delete('{app="web"}', start=T0, end=T0 + 9 * S)
    assert db.query('{app="web"}', start=T0, end=T0 + 200 * S, limit=1000).entries() == 110
    db.cancel_delete(web["id"])
    assert db.query('{app="web"}', start=T0, end=T0 + 200 * S, limit=1000).entries() == 120
    with pytest.raises(logjar.InvalidArgumentError):
        db.cancel_delete(10_000)
    # More small segments, then compaction applies the pending request and merges.
    for k in range(3):
        db.push({"app": "more"}, [(T0 + k * S + i, f"m{i}") for i in range(10)])
        db.flush()
    rep = db.compact()
    assert rep["entries_deleted"] == 12 and rep["deletes_applied"] == 1, rep
    assert rep["segments_after"] < rep["segments_before"], rep
    assert {r["id"]: r["status"] for r in db.delete_requests()} == {req["id"]: "applied", web["id"]: "cancelled"}
    assert db.delete_requests(tenant="other") == []
    with pytest.raises(logjar.InvalidArgumentError):
        db.cancel_delete(req["id"])  # already applied
    assert db.query('{app="api"}', start=T0, end=T0 + 200 * S, limit=1000).entries() == 108
    assert db.stats()["tenants"][0]["entries"] == 240 - 12 + 30


def test_delete_query_errors(db):
    with pytest.raises(logjar.QueryError) as e:
        db.delete('{app="api"', start=T0)
    assert e.value.position == len('{app="api"')
    with pytest.raises(logjar.Error):
        db.delete('count_over_time({app="api"}[1m])', start=T0)  # a metric query deletes nothing
    assert db.delete_requests() == []


def test_gil_is_released_during_compaction(tmp_path):
    # A delete matching a tenth of every segment's lines makes compaction decode, filter
    # and re-encode everything. Grow the data until one compaction lasts long enough to
    # judge (a release build is much faster than CI's debug one).
    n = 30_000
    for attempt in range(4):
        with logjar.open(tmp_path / f"db{attempt}", sync="never") as db:
            for k in range(10):
                db.push({"app": "c", "k": str(k % 3)}, [(T0 + k * 10**12 + i * 1000, f"line {i} of batch {k} with some text") for i in range(n)])
                db.flush()
            db.delete('{app="c"} |= "7 of"', start=T0)
            rep = {}
            with Ticker() as ticker:
                t0 = time.perf_counter()
                rep.update(db.compact())
                t1 = time.perf_counter()
            assert rep["segments_before"] == 10 and rep["segments_after"] < 10, rep
            assert rep["entries_deleted"] == n // 10 * 10 and rep["deletes_applied"] == 1, rep
            if t1 - t0 >= 0.3:
                cov = ticker.coverage(t0, t1)
                assert cov > 0.5, cov
                return
        n *= 3
    pytest.fail(f"compaction never lasted 0.3 s (last {t1 - t0:.3f} s)")
