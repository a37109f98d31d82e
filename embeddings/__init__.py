"""Sentence embeddings (the encoder) and the on-disk index store (FAISS vectors and snapshots)."""
