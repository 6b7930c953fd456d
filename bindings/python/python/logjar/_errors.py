"""Exception classes; the native module raises these (mirroring ``logjar::Error`` and
``logjar::QueryError``)."""

from typing import Optional


class Error(Exception):
    """Base class of every logjar error."""


class QueryError(Error, ValueError):
    """The query does not parse, or the request is invalid or cannot be evaluated.

    ``position`` is the byte offset of a parse error in the query (``None`` for other
    query errors) and ``rendered`` the message with the query and a caret under the fault.
    """

    position: Optional[int] = None
    rendered: Optional[str] = None


class LimitError(Error):
    """A configured limit rejected the write or the query (line size, streams, rate,
    entries per query, series per query...)."""


class StorageError(Error, OSError):
    """Reading or writing the database's files failed."""


class CorruptError(StorageError):
    """A file of the database failed a checksum or structural check, or has an
    unsupported format version."""


class LockedError(Error):
    """Another process, or another open handle in this one, holds the database."""


class InvalidArgumentError(Error, ValueError):
    """An argument is invalid: options, tenant id, labels, a malformed push body."""


class ClosedError(Error, ValueError):
    """The database was closed (or poisoned for writes by a failed fsync)."""
