"""Passages are whole sentences with exact offsets into the cleaned document text."""

from __future__ import annotations

from qa.ingest.chunking import chunk_document, split_sentences

TEXT = (
    "The U.S. said on Monday that Mr. Smith met officials in Washington. “We are concerned,” he said.\n"
    "Prices rose 3.5% in May, according to the report. Analysts expected less.\n"
    "Ünïcödé text — with dashes — stays intact. A final line without a full stop"
)


def test_passage_text_equals_document_slice():
    for max_chars in (50, 120, 600):
        passages = chunk_document("doc", TEXT, max_chars)
        assert passages
        for p in passages:
            assert TEXT[p.start : p.end] == p.text
            for start, end in p.sentences:
                assert p.start <= start < end <= p.end


def test_sentences_cover_all_words_in_order():
    spans = split_sentences(TEXT)
    assert [s for s in spans] == sorted(spans)
    rebuilt = " ".join(TEXT[s:e] for s, e in spans)
    assert rebuilt.split() == TEXT.split()
    assert any(TEXT[s:e] == "The U.S. said on Monday that Mr. Smith met officials in Washington." for s, e in spans)


def test_passages_respect_the_length_bound_and_have_stable_ids():
    first = chunk_document("doc", TEXT, 120)
    second = chunk_document("doc", TEXT, 120)
    assert [p.id for p in first] == [p.id for p in second]
    assert len({p.id for p in first}) == len(first)
    for p in first:
        assert len(p.text) <= 120 or len(p.sentences) == 1


def test_bundled_index_offsets(pipeline):
    index = pipeline.index
    for passage in index.passages:
        assert index.documents[passage.doc_id].text[passage.start : passage.end] == passage.text


def test_sentence_positions_match_pysbd_own_segment():
    """`_pysbd_sentences` repeats pysbd's `Segmenter.segment` without its regex per sentence; an
    upgraded pysbd that changes `segment` must fail here rather than move passage offsets."""
    from qa.ingest.chunking import _pysbd_sentences, _segmenter

    lines = [
        "Dr. Ines Caflisch said on Tuesday the glacier lost 31 m. last year. It was the 2nd record in a row.",
        "The U.S. envoy arrived at 5 p.m. local time.  Talks began at once... Nobody said why!",
        'He said: "We will rebuild." Then he left. Then he left.',
        "No full stop at the end of this line",
        "Prices rose 2.5% in Jan. and fell in Feb. (see p. 4). A second sentence follows.",
    ]
    for line in lines:
        assert _pysbd_sentences(line) == _segmenter().segment(line), line


def _invented_documents(count: int = 36) -> list[tuple[str, str]]:
    """Multi-sentence documents made up here (abbreviations, quotes, numbers, blank lines), none from a corpus."""
    sentences = [
        "The harbour authority in Port Alder said on Friday that 14 ferries were delayed.",
        "Dr. Mara Velt, who leads the inquiry, called it “a failure of planning.”",
        "Tickets rose 4.5% in Oct. and fell again in Nov.",
        "Nobody expected the vote to pass!",
        "Was the bridge ever safe?",
        "The committee met at 9 a.m. local time and adjourned before noon.",
        "Officials of the U.N. mission declined to comment...",
        "Ünïcödé names — Zoë Ødegård among them — were listed in the annex.",
        "A line without a full stop",
    ]
    documents = []
    for n in range(count):
        lines = [" ".join(sentences[(n + k * 3 + j) % len(sentences)] for j in range(1 + (n + k) % 5)) for k in range(1 + n % 4)]
        documents.append((f"doc-{n}", ("\n\n" if n % 3 == 0 else "\n").join(lines)))
    return documents


def _as_tuples(passages):
    return [(p.id, p.doc_id, p.start, p.end, p.text, p.sentences, p.spans) for p in passages]


def test_chunk_documents_in_workers_equals_chunk_document(monkeypatch, caplog):
    from qa.ingest import chunking

    monkeypatch.setattr(chunking, "PROCESS_MIN_CHARS", 0)  # force the worker processes
    pools = []
    chunking_pool = chunking.ProcessPoolExecutor

    def spy(*args, **kwargs):
        pools.append(chunking_pool(*args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(chunking, "ProcessPoolExecutor", spy)
    documents = _invented_documents()
    for runs, max_chars in enumerate((80, 600), 1):
        chunked = chunking.chunk_documents(documents, max_chars, processes=2)
        assert len(pools) == runs and "failed" not in caplog.text  # chunked by the workers, no fallback
        assert len(chunked) == len(documents)
        for (doc_id, text), passages in zip(documents, chunked, strict=True):
            assert passages and _as_tuples(passages) == _as_tuples(chunk_document(doc_id, text, max_chars))


def test_chunk_documents_of_nothing(monkeypatch):
    from qa.ingest import chunking

    assert chunking.chunk_documents([], 600) == []
    monkeypatch.setattr(chunking, "PROCESS_MIN_CHARS", 0)  # not even a pool for no documents
    assert chunking.chunk_documents([], 600, processes=2) == []


def test_chunk_documents_in_process_for_a_small_batch(monkeypatch):
    from qa.ingest import chunking

    def no_pool(*args, **kwargs):
        raise AssertionError("a small batch must not start worker processes")

    monkeypatch.setattr(chunking, "ProcessPoolExecutor", no_pool)
    documents = _invented_documents(5)
    chunked = chunking.chunk_documents(documents, 120, processes=2)
    assert [_as_tuples(p) for p in chunked] == [_as_tuples(chunk_document(d, t, 120)) for d, t in documents]


def test_chunk_documents_when_workers_cannot_start_or_die(monkeypatch, caplog):
    from concurrent.futures.process import BrokenProcessPool

    from qa.ingest import chunking

    class DyingPool:
        """Chunks the first task's documents, then fails as a pool whose worker died."""

        def __init__(self, *args, **kwargs):
            pass

        def map(self, fn, *iterables, chunksize=1):
            for n, args in enumerate(zip(*iterables, strict=True)):
                if n == chunksize:
                    raise BrokenProcessPool("a worker died")
                yield fn(*args)

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    def cannot_start(*args, **kwargs):
        raise OSError("no processes for you")

    monkeypatch.setattr(chunking, "PROCESS_MIN_CHARS", 0)
    documents = _invented_documents()
    expected = [_as_tuples(chunk_document(d, t, 200)) for d, t in documents]
    for pool in (cannot_start, DyingPool):
        monkeypatch.setattr(chunking, "ProcessPoolExecutor", pool)
        caplog.clear()
        assert [_as_tuples(p) for p in chunking.chunk_documents(documents, 200, processes=2)] == expected
        assert "chunking in this process instead" in caplog.text
