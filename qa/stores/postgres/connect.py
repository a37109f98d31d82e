"""Connections to PostgreSQL and the one place its failures become user-facing errors.

A database that cannot be reached, or drops a connection mid-query, is `StoreError`
(unavailable: CLI exit 1, HTTP 503) with one line naming the URL (never its password) and the
setting to fix; the driver's traceback never reaches a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeAlias

import psycopg
from psycopg.rows import DictRow, dict_row

from qa.config import without_password
from qa.errors import StoreError

CONNECT_TIMEOUT_S = 5
# Every connection of this backend returns rows as dicts (`dict_row`): columns are read by name.
Connection: TypeAlias = psycopg.Connection[DictRow]


def connect(url: str, setting: str) -> Connection:
    """An autocommit connection with rows by name; a failure is one StoreError line naming `setting`."""
    with db_errors(url, setting):
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=dict_row)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def db_errors(url: str, setting: str) -> Iterator[None]:
    """Turn driver errors into one-line StoreErrors naming `setting` (QA_STORE_URL, ...)."""
    from psycopg_pool import PoolTimeout

    where = without_password(url)
    try:
        yield
    except StoreError:
        raise
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot use PostgreSQL at {where} ({first_line(exc)}): start it, or fix {setting}") from None
    except psycopg.errors.ReadOnlySqlTransaction:
        raise StoreError(f"PostgreSQL at {where} is read-only (a standby?): point {setting} at the primary") from None
    except PoolTimeout:
        raise StoreError(f"no connection to PostgreSQL at {where} in time: start it, or fix {setting}") from None
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL at {where} failed: {first_line(exc)}") from None
