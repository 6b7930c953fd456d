"""Query result objects: Streams, Matrix, Vector and Scalar."""

import json as _json
from typing import Any, Dict, Iterator, List, Tuple

from . import _native


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"{module} is needed for this; pip install {module}") from e


class _Result:
    """Common to every result: ``stats``, ``to_json()`` and ``result_type``."""

    result_type: str = ""

    def __init__(self, resp: "_native.Response") -> None:
        self._resp = resp

    @property
    def stats(self) -> Dict[str, Any]:
        """What the query did: lines and bytes processed, streams selected, time (s)."""
        return self._resp.stats()

    def to_json(self) -> Dict[str, Any]:
        """The Loki response body (``{"status":"success","data":{...}}``) as a dict."""
        return _json.loads(self._resp.to_loki_json())

    def _frame(self, cols: Dict[str, Any], labels: List[str]) -> Any:
        pd = _require("pandas")
        df = pd.DataFrame(cols)
        if "timestamp" in df:
            df["timestamp"] = pd.to_datetime(df["timestamp"], unit="ns", utc=True)
        return df

    def _table(self, cols: Dict[str, Any]) -> Any:
        pa = _require("pyarrow")
        arrays = {}
        for k, v in cols.items():
            if k == "timestamp":
                arrays[k] = pa.array(v, type=pa.timestamp("ns", tz="UTC"))
            elif k in ("value",):
                arrays[k] = pa.array(v, type=pa.float64())
            elif k == "line":
                arrays[k] = pa.array(v, type=pa.string())
            else:
                arrays[k] = pa.array(v, type=pa.string())
        return pa.table(arrays)


def _label_columns(series: List[Tuple[Dict[str, str], int]], total: int) -> Dict[str, List[Any]]:
    """Label columns of a tidy frame: one value per row, None where a series lacks it."""
    names: List[str] = sorted({k for labels, _ in series for k in labels})
    cols: Dict[str, List[Any]] = {}
    for name in names:
        col: List[Any] = []
        for labels, n in series:
            col.extend([labels.get(name)] * n)
        cols[name] = col
    return cols


class Streams(_Result):
    """A log query's answer: iterate for ``(labels, [(ts_ns, line), ...])`` per stream."""

    result_type = "streams"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self._streams = resp.streams()

    def __iter__(self) -> Iterator[Tuple[Dict[str, str], List[Tuple[int, str]]]]:
        for labels, ts, lines in self._streams:
            yield labels, list(zip(ts, lines))

    def __len__(self) -> int:
        return len(self._streams)

    def entries(self) -> int:
        """Number of entries over all streams."""
        return sum(len(ts) for _, ts, _ in self._streams)

    def _columns(self) -> Dict[str, List[Any]]:
        ts: List[int] = []
        lines: List[str] = []
        for _, t, l in self._streams:
            ts.extend(t)
            lines.extend(l)
        cols: Dict[str, List[Any]] = {"timestamp": ts, "line": lines}
        labels = _label_columns([(l, len(t)) for l, t, _ in self._streams], len(ts))
        cols.update({k: v for k, v in labels.items() if k not in cols})
        return cols

    def to_pandas(self) -> Any:
        """A tidy DataFrame, one row per entry: ``timestamp`` (UTC), ``line``, then one
        column per label (None where a stream lacks the label)."""
        return self._frame(self._columns(), [])

    def to_arrow(self) -> Any:
        """The same table as ``to_pandas()``, as a ``pyarrow.Table``."""
        return self._table(self._columns())

    def __repr__(self) -> str:
        return f"<logjar.Streams {len(self)} streams, {self.entries()} entries>"


class Matrix(_Result):
    """A range metric query's answer: iterate for ``(labels, [(ts_ns, value), ...])``."""

    result_type = "matrix"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self._series = resp.matrix()

    def __iter__(self) -> Iterator[Tuple[Dict[str, str], List[Tuple[int, float]]]]:
        for labels, ts, values in self._series:
            yield labels, list(zip(ts, values))

    def __len__(self) -> int:
        return len(self._series)

    def _columns(self) -> Dict[str, List[Any]]:
        ts: List[int] = []
        values: List[float] = []
        for _, t, v in self._series:
            ts.extend(t)
            values.extend(v)
        cols: Dict[str, List[Any]] = {"timestamp": ts, "value": values}
        labels = _label_columns([(l, len(t)) for l, t, _ in self._series], len(ts))
        cols.update({k: v for k, v in labels.items() if k not in cols})
        return cols

    def to_pandas(self) -> Any:
        """A tidy DataFrame, one row per (series, timestamp): ``timestamp``, ``value``,
        label columns."""
        return self._frame(self._columns(), [])

    def to_arrow(self) -> Any:
        return self._table(self._columns())

    def __repr__(self) -> str:
        return f"<logjar.Matrix {len(self)} series>"


class Vector(_Result):
    """An instant metric query's answer: iterate for ``(labels, value)``; ``time`` is
    the evaluation time (ns)."""

    result_type = "vector"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self._samples = resp.vector()
        self.time: int = resp.time_ns

    def __iter__(self) -> Iterator[Tuple[Dict[str, str], float]]:
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def _columns(self) -> Dict[str, List[Any]]:
        cols: Dict[str, List[Any]] = {
            "timestamp": [self.time] * len(self._samples),
            "value": [v for _, v in self._samples],
        }
        labels = _label_columns([(l, 1) for l, _ in self._samples], len(self._samples))
        cols.update({k: v for k, v in labels.items() if k not in cols})
        return cols

    def to_pandas(self) -> Any:
        """One row per sample: ``timestamp``, ``value``, label columns."""
        return self._frame(self._columns(), [])

    def to_arrow(self) -> Any:
        return self._table(self._columns())

    def __repr__(self) -> str:
        return f"<logjar.Vector {len(self)} samples>"


class Scalar(_Result):
    """A scalar answer: ``value`` (also ``float(s)``) at ``time`` (ns)."""

    result_type = "scalar"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self.value: float = resp.scalar()
        self.time: int = resp.time_ns

    def __float__(self) -> float:
        return self.value

    def _columns(self) -> Dict[str, List[Any]]:
        return {"timestamp": [self.time], "value": [self.value]}

    def to_pandas(self) -> Any:
        """One row: ``timestamp``, ``value``."""
        return self._frame(self._columns(), [])

    def to_arrow(self) -> Any:
        return self._table(self._columns())

    def __repr__(self) -> str:
        return f"<logjar.Scalar {self.value}>"


def _wrap(resp: "_native.Response") -> Any:
    return {"streams": Streams, "matrix": Matrix, "vector": Vector, "scalar": Scalar}[resp.result_type](resp)
