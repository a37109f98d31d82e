"""The local backend: an index folder of immutable snapshots (`snapshots`), each holding documents,
passages, BM25 and FAISS vectors (`vectors`), built and loaded by `index`, served by `store`."""

from qa.stores.local.store import LocalStore

__all__ = ["LocalStore"]
