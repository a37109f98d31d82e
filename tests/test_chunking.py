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
