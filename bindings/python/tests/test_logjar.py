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
    assert db.labels() == ["app", "trace_id"] or db.labels() == ["app"]
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


def test_gil_released_during_long_query_and_concurrent_threads(db):
    batch = [(T0 + i * 1000, f"line {i} with some words to filter") for i in range(200_000)]
    db.push({"app": "big"}, batch)
    q = 'sum(count_over_time({app="big"} |~ ".*w.*o.*r.*d.*s.*x" [1s]))'
    # How long does the query take, how far does a counter get meanwhile?
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        t0 = time.perf_counter()
        before = counter[0]
        for _ in range(3):
            db.query(q, start=T0, end=T0 + S, step="1s")
        elapsed = time.perf_counter() - t0
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
    assert elapsed > 0.05, "query too short to prove anything"
    # With the GIL held for the whole query the counter would barely move.
    assert during > 10_000, (during, elapsed)

    errors = []

    def pusher(k):
        try:
            for j in range(20):
                db.push({"app": f"p{k}"}, [(T0 + j * S + i, f"x{i}") for i in range(500)])
        except Exception as e:  # pragma: no cover
            errors.append(e)

    def querier():
        try:
            for _ in range(20):
                db.query('count_over_time({app=~"p.*"}[1m])', time=T0 + 60 * S)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=pusher, args=(k,)) for k in range(2)] + [threading.Thread(target=querier) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    v = db.query('sum(count_over_time({app=~"p.*"}[2m]))', time=T0 + 60 * S)
    assert [x for _, x in v] == [20_000.0]


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


def test_to_arrow_shapes(db):
    pa = pytest.importorskip("pyarrow")
    fill(db, 10)
    t = db.query('{app="api"}', start=T0, end=T0 + 200 * S).to_arrow()
    assert t.num_rows == 10 and t.column_names == ["timestamp", "line", "app"]
    assert t.schema.field("timestamp").type == pa.timestamp("ns", tz="UTC")


def test_tail(db):
    fill(db, 3)
    it = db.tail('{app="api"}', start=T0, interval=0.01)
    assert [next(it)[2] for _ in range(3)] == ["GET /0 500", "GET /1 200", "GET /2 200"]
    db.push({"app": "api"}, [(T0 + 10 * S, "later")])
    assert next(it)[1:] == (T0 + 10 * S, "later")


def test_ctrl_c_interrupts_a_query(db):
    import _thread

    db.push({"app": "big"}, [(T0 + i * 1000, f"line {i} with some words") for i in range(200_000)])
    q = 'sum(count_over_time({app="big"} |~ ".*w.*o.*r.*d.*s.*x" [1s]))'
    timer = threading.Timer(0.1, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        while time.perf_counter() - t0 < 10:
            db.query(q, start=T0, end=T0 + S, step="1s")
    timer.join()
    # The database is still usable afterwards.
    assert db.label_values("app") == ["big"]
