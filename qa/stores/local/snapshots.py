"""Versioned snapshot directories: atomic publication and one writer at a time.

Nothing here knows what a snapshot holds (vectors, BM25, documents are written by
`qa.stores.local.index`); this module only makes publishing a folder of files crash-safe.

    index_dir/
      CURRENT            name of the live snapshot, replaced atomically
      .lock              held by the one process writing
      v-20261121T120000-1a2b/   a complete snapshot: manifest.json + data files

A writer fills a fresh `*.tmp` folder, fsyncs it, renames it to its final name and only then
points CURRENT at it. A crash at any moment leaves CURRENT naming the previous complete snapshot;
readers never see a half-written one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import NoIndex, StoreError

FORMAT_VERSION = 2  # 2: passages carry entity and noun-phrase spans
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
KEEP_OLD_SNAPSHOTS = 1  # the previous snapshot stays for readers still using it


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for item in path.rglob("*"):
        if item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())
    for folder in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
        _fsync_dir(folder)


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot folder and its manifest (checked complete when it was opened)."""

    path: Path
    manifest: dict

    @property
    def version(self) -> str:
        return self.path.name


class Snapshots:
    """The snapshot directory `root` (see the module docstring): which snapshot is live, the writer
    lock, and crash-safe publication of a new one. `LocalStore` is the `Store` built on it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ---- reading -------------------------------------------------------------------------
    def current_name(self) -> str | None:
        """The live snapshot's name; None before the first publication."""
        try:
            name = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.root / CURRENT}: {exc}") from exc
        return name or None

    def exists(self) -> bool:
        return self.current_name() is not None

    def current(self) -> Snapshot:
        """The live snapshot, its files checked against the manifest; `NoIndex` if there is none yet."""
        name = self.current_name()
        if name is None:
            raise NoIndex(f"no index in {self.root}: build one with `qa index PATH`")
        path = self.root / name
        manifest_path = path / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text())
        except FileNotFoundError as exc:
            raise StoreError(f"{manifest_path} is missing: rebuild with `qa index --rebuild PATH`") from exc
        except (OSError, ValueError) as exc:
            raise StoreError(f"{manifest_path} is unreadable ({exc}): rebuild with `qa index --rebuild PATH`") from exc
        if manifest.get("format") != FORMAT_VERSION:
            raise StoreError(
                f"{manifest_path} has index format {manifest.get('format')!r}, this version reads {FORMAT_VERSION}: "
                "rebuild with `qa index --rebuild PATH`"
            )
        for name, size in manifest.get("files", {}).items():
            file = path / name
            if not file.is_file():
                raise StoreError(f"{file} is missing: rebuild with `qa index --rebuild PATH`")
            if file.stat().st_size != size:
                raise StoreError(f"{file} is truncated or changed: rebuild with `qa index --rebuild PATH`")
        return Snapshot(path, manifest)

    # ---- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait_s: float = 0.0) -> Iterator[None]:
        """Exclusive writer lock; raises StoreError if another writer holds it past `wait_s`."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.root / ".lock", timeout=wait_s)  # flock: released by the kernel if we are killed
        try:
            lock.acquire()
        except Timeout:
            raise StoreError(f"another `qa index` is writing {self.root}; wait for it to finish and run again") from None
        try:
            yield
        finally:
            lock.release()

    def new_snapshot_dir(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.root / f"v-{stamp}-{uuid.uuid4().hex[:6]}.tmp"
        path.mkdir(parents=True)
        return path

    def publish(self, tmp_dir: Path, manifest: dict) -> Snapshot:
        """Seal a filled snapshot folder and make it the live one. Call with the lock held."""
        manifest = dict(manifest)
        manifest["format"] = FORMAT_VERSION
        manifest["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        manifest["files"] = {
            p.relative_to(tmp_dir).as_posix(): p.stat().st_size for p in sorted(tmp_dir.rglob("*")) if p.is_file()
        }
        final = tmp_dir.with_suffix("")
        manifest["version"] = final.name
        (tmp_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(tmp_dir)
        os.rename(tmp_dir, final)
        pointer = self.root / f"{CURRENT}.tmp"
        with open(pointer, "w") as fh:
            fh.write(final.name)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer, self.root / CURRENT)
        _fsync_dir(self.root)
        self._remove_stale(keep=final.name)
        return Snapshot(final, manifest)

    def _remove_stale(self, keep: str) -> None:
        snapshots = sorted((p for p in self.root.glob("v-*") if p.is_dir()), key=lambda p: p.name)
        finished = [p for p in snapshots if p.suffix != ".tmp" and p.name != keep]
        for path in [p for p in snapshots if p.suffix == ".tmp"] + finished[: max(0, len(finished) - KEEP_OLD_SNAPSHOTS)]:
            shutil.rmtree(path, ignore_errors=True)

    def clear(self) -> None:
        """Remove every snapshot (for tests and `--rebuild` of a broken index)."""
        if self.root.exists():
            for path in self.root.glob("v-*"):
                shutil.rmtree(path, ignore_errors=True)
            (self.root / CURRENT).unlink(missing_ok=True)
