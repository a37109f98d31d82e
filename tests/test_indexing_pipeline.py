"""Tagging and encoding at index time: same spans and vectors as before, concurrently, errors on either side stop both."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers import CACHE_DIR, ROOT

from embeddings.encoder import EncoderError, drop_redundant_ops, load_encoder
from qa.config import BUNDLED_CORPUS
from qa.errors import Unavailable
from qa.ingest.chunking import chunk_document
from qa.ingest.sources import load_documents
from qa.ingest.tagging import DEFAULT_NER_MODEL, SpanTagger, _needs_torch, doc_spans
from qa.stores.build import tag_and_encode


@pytest.fixture(scope="module")
def passages():
    docs = list(load_documents([BUNDLED_CORPUS], lambda message: None))
    return [p for doc in docs for p in chunk_document(doc.doc_id, doc.text, 600)]


def test_spans_are_those_of_the_full_pipeline(passages):
    """Excluding the parser, lemmatizer and attribute ruler changes no span, in process or in a worker."""
    import spacy

    texts = [p.text for p in passages] + ["Prices rose 3%  in\nMarch , the  Bank of England said.\n\nShares fell."]
    offsets = [p.start for p in passages] + [0]
    full = spacy.load(DEFAULT_NER_MODEL, disable=["parser", "lemmatizer"])  # the pipeline tagging used before
    expected = [doc_spans(doc, base) for doc, base in zip(full.pipe(texts), offsets, strict=True)]
    assert SpanTagger(processes=0).run(texts, offsets) == expected
    assert SpanTagger(processes=1).run(texts[:5], offsets[:5]) == expected[:5]


def test_lean_graph_gives_the_same_vectors(tmp_path, passages):
    encoder = load_encoder("sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", CACHE_DIR)
    texts = [p.text for p in passages]
    lean = encoder.encode(texts)
    full = sorted(CACHE_DIR.glob("onnx/*-int8.onnx"))[0]  # what the encoder ran before the lean copy
    import onnxruntime as ort

    encoder.session = ort.InferenceSession(str(full), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    assert np.array_equal(encoder.encode(texts), lean)
    assert drop_redundant_ops(full, tmp_path / "again.onnx") > 0


class FailingEncoder:
    model_name, backend, dim = "sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", 384

    def encode(self, texts, batch_size=32, progress=None):
        raise EncoderError("the ONNX model is damaged")


class FailingTagger(SpanTagger):
    def stream(self, items, total=0):
        raise Unavailable("no spaCy model")
        yield


def test_progress_counts_passages_and_errors_stop_both(passages):
    encoder = load_encoder("sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", CACHE_DIR)
    todo = list(range(1, len(passages)))
    vectors = np.zeros((len(passages), encoder.dim), np.float32)
    seen: list[tuple[int, int]] = []
    times = tag_and_encode(
        passages, todo, [passages[i].text for i in todo], vectors, SpanTagger(), encoder, lambda d, t: seen.append((d, t))
    )
    assert seen[0] == (1, len(passages)) and seen[-1] == (len(passages), len(passages))
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    assert all(passages[i].spans for i in todo) and np.abs(vectors[todo]).sum(axis=1).min() > 0
    assert times.wall_s <= times.tag_s + times.encode_s + 1
    with pytest.raises(Unavailable, match="damaged"):
        tag_and_encode(passages, todo, [passages[i].text for i in todo], vectors, SpanTagger(), FailingEncoder(), None)
    with pytest.raises(Unavailable, match="no spaCy model"):
        tag_and_encode(passages, todo, [passages[i].text for i in todo], vectors, FailingTagger(), encoder, None)


def test_tagging_does_not_load_pytorch():
    """thinc imports torch when it is installed, ~2 s of every process that tags; a CNN pipeline never uses it."""
    script = (
        "import sys\n"
        "from qa.ingest.tagging import SpanTagger\n"
        "spans = SpanTagger().run(['Iran hosted Sergei Shoigu in Tehran in September.'], [0])[0]\n"
        "assert any(label == 'GPE' for _, _, label in spans), spans\n"
        "print('torch' in sys.modules)\n"
        "import torch\n"  # still importable afterwards, for whatever else needs it
        "print(torch.tensor([1]).item())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "1"]


def test_a_pipeline_that_may_need_pytorch_gets_it():
    assert not _needs_torch(DEFAULT_NER_MODEL)
    assert _needs_torch("/some/pipeline/directory")  # a path or an unknown package: not second-guessed
