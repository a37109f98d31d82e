"""Index backends behind one interface (`qa.stores.base`): the local snapshot directory and
PostgreSQL with pgvector. `open_store` picks one from the settings (`QA_STORE_URL`).

Backends are imported lazily: the local one needs no database driver, and `qa.index` imports
`qa.stores.base` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.stores.base import Store


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def open_store(settings: Settings) -> Store:
    """The store the settings name: PostgreSQL for a postgresql:// URL, else the snapshot directory."""
    if is_postgres_url(settings.store_url):
        from qa.stores.postgres.store import PgStore

        return PgStore(
            str(settings.store_url),
            settings.store_read_url,
            pool_size=settings.api_threads + 2,
            exact_below=settings.ann_threshold,
        )
    from qa.stores.local.store import LocalStore

    return LocalStore(settings.index_path)
