"""Connections to PostgreSQL and the one place its failures become user-facing errors.

A database that cannot be reached, or drops a connection mid-query, is `StoreError`
(unavailable: CLI exit 1, HTTP 503) with one line naming the URL (never its password) and the
setting to fix; the driver's traceback never reaches a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from qa.errors import StoreError

CONNECT_TIMEOUT_S = 5


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def db_errors(url: str, setting: str) -> Iterator[None]:
    """Turn driver errors into one-line IndexStoreErrors naming `setting` (QA_STORE_URL, ...)."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        yield
    except StoreError:
        raise
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot use PostgreSQL at {redact(url)} ({first_line(exc)}): start it, or fix {setting}") from None
    except psycopg.errors.ReadOnlySqlTransaction:
        raise StoreError(f"PostgreSQL at {redact(url)} is read-only (a standby?): point {setting} at the primary") from None
    except PoolTimeout:
        raise StoreError(f"no connection to PostgreSQL at {redact(url)} in time: start it, or fix {setting}") from None
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL at {redact(url)} failed: {first_line(exc)}") from None
