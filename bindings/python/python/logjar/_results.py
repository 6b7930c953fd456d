"""Query result objects: Streams, Matrix, Vector and Scalar.

Each keeps the answer in Rust (``_native.Response``) and builds a Python shape of it
only when asked: iteration makes tuples, ``to_json()`` the Loki body, ``to_arrow()`` /
``to_pandas()`` a tidy table from column buffers that Rust fills without the GIL (zero
copies into pyarrow; numpy views when pyarrow is missing).
"""

import importlib
import json as _json
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import _native

# Columns of the tidy table that are not labels; a label of the same name gets a
# "label_" prefix so neither is lost.
_RESERVED = ("timestamp", "line", "value")


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module} is needed for this; pip install {module}") from e


def _optional(module: str) -> Optional[Any]:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


# Set to False to build DataFrames through numpy even when pyarrow is installed (tests).
_USE_ARROW_FOR_PANDAS = True


def _label_name(name: str) -> str:
    while name in _RESERVED:
        name = "label_" + name
    return name


def _arrow_table(cols: Dict[str, Any]) -> Any:
    """A ``pyarrow.Table`` over the buffers of ``Response.columns()`` (no copy)."""
    pa = _require("pyarrow")
    n = cols["rows"]
    names: List[str] = ["timestamp"]
    arrays: List[Any] = [pa.Array.from_buffers(pa.timestamp("ns", tz="UTC"), n, [None, pa.py_buffer(cols["timestamp"])])]
    if cols["line"] is not None:
        offsets, data, wide = cols["line"]
        kind = pa.large_string() if wide else pa.string()
        names.append("line")
        arrays.append(pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]))
    if cols["value"] is not None:
        names.append("value")
        arrays.append(pa.Array.from_buffers(pa.float64(), n, [None, pa.py_buffer(cols["value"])]))
    for name, values, codes, validity in cols["labels"]:
        valid = None if validity is None else pa.py_buffer(validity)
        null_count = -1 if validity is not None else 0
        indices = pa.Array.from_buffers(pa.int32(), n, [valid, pa.py_buffer(codes)], null_count=null_count)
        dictionary = pa.array(values, type=pa.string())
        names.append(_label_name(name))
        arrays.append(pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode())
    return pa.Table.from_arrays(arrays, names=names)


def _pandas_frame(resp: "_native.Response") -> Any:
    """A DataFrame of the tidy table: through pyarrow when installed, else numpy."""
    pd = _require("pandas")
    cols = resp.columns()
    if _USE_ARROW_FOR_PANDAS and _optional("pyarrow") is not None:
        return _arrow_table(cols).to_pandas(split_blocks=True)
    np = _require("numpy")
    data: Dict[str, Any] = {}
    ts = np.frombuffer(cols["timestamp"], dtype=np.int64)
    data["timestamp"] = pd.DatetimeIndex(ts.view("datetime64[ns]")).tz_localize("UTC")
    if cols["line"] is not None:
        data["line"] = resp.lines()
    if cols["value"] is not None:
        data["value"] = np.frombuffer(cols["value"], dtype=np.float64)
    for name, values, codes, _validity in cols["labels"]:
        lookup = np.array(list(values) + [None], dtype=object)  # code -1 -> None
        data[_label_name(name)] = lookup[np.frombuffer(codes, dtype=np.int32)]
    return pd.DataFrame(data, index=pd.RangeIndex(cols["rows"]))


class _Result:
    """Common to every result: ``stats``, ``to_json()``, ``to_pandas()``, ``to_arrow()``."""

    result_type: str = ""

    def __init__(self, resp: "_native.Response") -> None:
        self._resp = resp

    @property
    def stats(self) -> Dict[str, Any]:
        """What the query did: ``exec_time`` (s), ``total_lines_processed``,
        ``total_bytes_processed``, ``structured_metadata_bytes``, ``post_filter_lines``,
        ``streams_selected``, ``entries_returned``."""
        return self._resp.stats()

    def to_json(self) -> Dict[str, Any]:
        """The Loki response body (``{"status":"success","data":{...}}``) as a dict."""
        return _json.loads(self._resp.to_loki_json())

    def to_pandas(self) -> Any:
        """A tidy ``pandas.DataFrame``: ``timestamp`` (``datetime64[ns, UTC]``), then
        ``line`` (log queries) or ``value`` (metric queries), then one column per label
        (missing where a stream or series lacks it). Built through pyarrow when it is
        installed, else through numpy."""
        return _pandas_frame(self._resp)

    def to_arrow(self) -> Any:
        """The same table as ``to_pandas()``, as a ``pyarrow.Table`` (``timestamp[ns, UTC]``,
        ``string``, ``float64`` and ``string`` label columns) built without copying the lines."""
        return _arrow_table(self._resp.columns())


class Streams(_Result):
    """A log query's answer. Iterate for ``(labels, [(ts_ns, line), ...])``, one per
    stream (streams sorted by their labels, entries in the query's direction).
    ``to_pandas()``/``to_arrow()``: one row per entry, in that order."""

    result_type = "streams"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self._streams: Optional[List[Tuple[Dict[str, str], List[Tuple[int, str]]]]] = None

    def _list(self) -> List[Tuple[Dict[str, str], List[Tuple[int, str]]]]:
        if self._streams is None:
            self._streams = self._resp.streams()
        return self._streams

    def __iter__(self) -> Iterator[Tuple[Dict[str, str], List[Tuple[int, str]]]]:
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._resp)

    def entries(self) -> int:
        """Number of entries over all streams."""
        return self._resp.rows()

    def __repr__(self) -> str:
        return f"<logjar.Streams {len(self)} streams, {self.entries()} entries>"


class Matrix(_Result):
    """A range metric query's answer. Iterate for ``(labels, [(ts_ns, value), ...])``,
    one per series. ``to_pandas()``/``to_arrow()``: one row per (series, timestamp)."""

    result_type = "matrix"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self._series: Optional[List[Tuple[Dict[str, str], List[Tuple[int, float]]]]] = None

    def __iter__(self) -> Iterator[Tuple[Dict[str, str], List[Tuple[int, float]]]]:
        if self._series is None:
            self._series = self._resp.matrix()
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._resp)

    def __repr__(self) -> str:
        return f"<logjar.Matrix {len(self)} series, {self._resp.rows()} points>"


class Vector(_Result):
    """An instant metric query's answer. Iterate for ``(labels, value)``; ``time`` is
    the evaluation time (ns). ``to_pandas()``/``to_arrow()``: one row per sample."""

    result_type = "vector"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self._samples: List[Tuple[Dict[str, str], float]] = resp.vector()
        self.time: int = resp.time_ns

    def __iter__(self) -> Iterator[Tuple[Dict[str, str], float]]:
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def __repr__(self) -> str:
        return f"<logjar.Vector {len(self)} samples>"


class Scalar(_Result):
    """A scalar answer: ``value`` (also ``float(s)``) at ``time`` (ns).
    ``to_pandas()``/``to_arrow()``: one row, ``timestamp`` and ``value``."""

    result_type = "scalar"

    def __init__(self, resp: "_native.Response") -> None:
        super().__init__(resp)
        self.value: float = resp.scalar()
        self.time: int = resp.time_ns

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"<logjar.Scalar {self.value}>"


def _wrap(resp: "_native.Response") -> _Result:
    kinds: Dict[str, Any] = {"streams": Streams, "matrix": Matrix, "vector": Vector, "scalar": Scalar}
    result: _Result = kinds[resp.result_type](resp)
    return result
