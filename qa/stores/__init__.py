"""Index backends behind one interface (`qa.stores.base.Store`): the local snapshot directory
(`qa.stores.local`) and PostgreSQL with pgvector (`qa.stores.postgres`). `open_store` picks one
from the settings (`QA_STORE_URL`).

Backends are imported lazily: the local one needs no database driver, and loading the
PostgreSQL driver is wasted time for a process that reads a snapshot directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.stores.base import Store


def open_store(settings: Settings) -> Store:
    """The store the settings name: PostgreSQL for a postgresql:// URL, else the snapshot directory."""
    if settings.postgres:
        from qa.stores.postgres.store import PgStore

        return PgStore(
            str(settings.store_url),
            settings.store_read_url,
            pool_size=settings.api_threads + 2,
            exact_below=settings.ann_threshold,
        )
    from qa.stores.local.store import LocalStore

    return LocalStore(settings.index_path)
