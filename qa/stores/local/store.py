"""The local backend as a `Store`: one snapshot directory (`Snapshots`), whose snapshots
`qa.stores.local.index` builds and loads.

The pipeline and the CLI drive it and the PostgreSQL backend through the same `Store` interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.stores.base import BuildReport, BuildRequest, Store
from qa.stores.local.index import Index, build_index, load_index, remove_documents
from qa.stores.local.snapshots import Snapshots


class LocalStore(Store):
    """The index in a directory of immutable snapshots (`QA_INDEX_DIR`, or a directory as `QA_STORE_URL`).

    `Snapshots` publishes and locks the directory; this class adds what a `Store` does with it:
    build (`build_index`), open (`load_index`) and remove documents.
    """

    def __init__(self, root: Path) -> None:
        self.snapshots = Snapshots(root)

    @property
    def root(self) -> Path:
        return self.snapshots.root

    @property
    def location(self) -> str:
        return str(self.snapshots.root)

    def exists(self) -> bool:
        return self.snapshots.exists()

    def current_version(self) -> str | None:
        return self.snapshots.current_name()

    def open(self, model: str, backend: str) -> Index:
        return load_index(self.snapshots, model, backend)

    @contextmanager
    def lock(self, wait_s: float = 0.0) -> Iterator[None]:
        with self.snapshots.lock(wait_s):
            yield

    def _build(self, request: BuildRequest) -> BuildReport:
        if request.rebuild:
            self.snapshots.clear()
        return build_index(
            request.documents,
            request.encoder,
            self.snapshots,
            request.max_chars,
            request.progress,
            request.scanned_roots,
            request.ann_threshold,
            request.tagger,
        )

    def remove(self, doc_ids: list[str], model: str, backend: str) -> tuple[list[str], list[str]]:
        return remove_documents(self.snapshots, doc_ids, model, backend)

    def clear(self) -> None:
        self.snapshots.clear()

    def close(self) -> None:
        pass
