"""The local backend: versioned snapshot directories (`qa.snapshots`) built by `qa.index`.

Today's behaviour, wrapped in the `Store` interface so the pipeline and the CLI drive both
backends the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qa.ingest.sources import Document
from qa.stores.base import BuildReport
from qa.stores.local.index import Index, build_index, load_index, remove_documents
from qa.stores.local.snapshots import Snapshots


class LocalStore:
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

    def build(
        self,
        documents: Iterable[Document],
        encoder: Any,
        max_chars: int,
        progress: Callable[[int, int], None] | None = None,
        scanned_roots: list[str] | None = None,
        ann_threshold: int = 50_000,
        tagger: Any = None,
        rebuild: bool = False,
    ) -> BuildReport:
        if rebuild:
            self.snapshots.clear()
        return build_index(documents, encoder, self.snapshots, max_chars, progress, scanned_roots, ann_threshold, tagger)

    def remove(self, doc_ids: list[str], model: str, backend: str) -> tuple[list[str], list[str]]:
        return remove_documents(self.snapshots, doc_ids, model, backend)

    def clear(self) -> None:
        self.snapshots.clear()

    def close(self) -> None:
        pass
