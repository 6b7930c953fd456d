"""Conversions of Python times and durations to integer nanoseconds."""

import datetime as _dt
from typing import Any

from . import _native

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _td_ns(td: _dt.timedelta) -> int:
    return (td.days * 86_400 + td.seconds) * 1_000_000_000 + td.microseconds * 1_000


def time_ns(t: Any) -> int:
    """Unix nanoseconds from an int (ns), a ``datetime`` (naive means UTC), a
    ``date``, a ``pandas.Timestamp`` / ``numpy.datetime64`` (anything with an integer
    ``.value`` in ns), or a string (integer ns or RFC 3339, ``"2026-01-01T00:00:00Z"``)."""
    if isinstance(t, bool):
        raise TypeError("a time must be int ns, datetime or str, not bool")
    if isinstance(t, int):
        return t
    value = getattr(t, "value", None)  # pandas.Timestamp (a datetime subclass), keeps ns
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return _td_ns(t - _EPOCH)
    if isinstance(t, _dt.date):
        return _td_ns(_dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc) - _EPOCH)
    if isinstance(t, str):
        return _native.parse_time(t)
    if type(t).__name__ == "datetime64":  # numpy, without importing it
        return int(t.astype("datetime64[ns]").astype("int64"))
    raise TypeError(f"a time must be int ns, datetime or str, got {type(t).__name__}")


def duration_ns(d: Any) -> int:
    """Nanoseconds from an int (ns), a ``timedelta`` / ``pandas.Timedelta`` or a LogQL
    duration string (``"5m"``, ``"1h30m"``, ``"250ms"``)."""
    if isinstance(d, bool):
        raise TypeError("a duration must be int ns, timedelta or str, not bool")
    if isinstance(d, int):
        return d
    if isinstance(d, _dt.timedelta):
        value = getattr(d, "value", None)  # pandas.Timedelta keeps ns
        return value if isinstance(value, int) else _td_ns(d)
    if isinstance(d, str):
        return _native.parse_duration(d)
    raise TypeError(f"a duration must be int ns, timedelta or str, got {type(d).__name__}")


def now_ns() -> int:
    import time

    return time.time_ns()
