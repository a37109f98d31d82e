"""Split a cleaned document into passages of whole sentences, with character offsets.

Passages are what retrieval ranks; the sentences inside them are what the answerer quotes, so
each passage keeps its sentence boundaries. Offsets are into `Document.text`, so
`doc.text[p.start:p.end] == p.text` always holds and a citation link can highlight the exact span.

Speed (bench/chunking_check.py, which also checks the output unchanged: 8.7 ms of CPU a passage
before, 6.4 ms now, on the news corpus; the rest is pysbd's own matching): pysbd's rules are regular expressions given as strings, so every call goes
through `re`'s cache of compiled patterns, which holds 512 and drops the oldest when full.
`Segmenter.segment` compiled one more pattern per sentence, only to find where the sentence lies
in its input, and English alone brings some 700 patterns (most built per abbreviation), so the
cache kept evicting pysbd's own patterns and they were compiled again and again. Here the
sentences are located with `str.find` (`_locate`, pysbd's search done the same way without a
regular expression), and pysbd's modules compile through a cache of their own that is big
enough to hold all of their patterns (`_install_pattern_cache`).

Indexing chunks every document before tagging and encoding start, so a big batch is chunked in
worker processes (`chunk_documents`), one per usable core; the output is that of `chunk_document`.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import re
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pysbd
import pysbd.abbreviation_replacer
import pysbd.between_punctuation
import pysbd.exclamation_words
import pysbd.lists_item_replacer
import pysbd.processor
import pysbd.punctuation_replacer
import pysbd.utils

from qa.cores import usable_cores

# Batches of fewer characters in all are chunked in the calling process. A spawned worker first
# starts an interpreter, imports this module and pysbd and re-imports the caller's main module:
# 0.2 s from a bare script, 1.1 s under the `qa` command (which imports qa.cli), one worker
# measured. Chunking costs ~13 us a character (6.4 ms a passage of ~500), so 1M characters are
# ~13 s in one process, where a second of start-up is well repaid; small updates stay in process.
PROCESS_MIN_CHARS = 1_000_000
TASKS_PER_PROCESS = 16  # documents go to workers in this many tasks per worker, so none idles long at the end

log = logging.getLogger("qa.ingest")


@dataclass(slots=True)
class Passage:
    id: str
    doc_id: str
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = field(default_factory=list)  # absolute offsets
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # entities and noun phrases (qa.ingest.tagging), absolute


# The pysbd modules that run regular expressions while segmenting English (`Segmenter.segment`
# itself is not used, see `_pysbd_sentences`).
_PYSBD_MODULES = (
    pysbd.abbreviation_replacer,
    pysbd.between_punctuation,
    pysbd.exclamation_words,
    pysbd.lists_item_replacer,
    pysbd.processor,
    pysbd.punctuation_replacer,
    pysbd.utils,
)


@lru_cache(maxsize=4096)  # English needs about 700 distinct patterns; more only from unusual letter case
def _compiled(pattern: str | bytes, flags: int) -> re.Pattern[Any]:
    return re.compile(pattern, flags)


def _compile(pattern: Any, flags: int) -> re.Pattern[Any]:
    if isinstance(pattern, re.Pattern):
        return re.compile(pattern, flags)  # as `re` does: returned as is, or ValueError if flags are given
    return _compiled(pattern, flags)


def _pattern_cache_re() -> types.ModuleType:
    """A stand-in for the `re` module whose module-level functions keep compiled patterns in `_compiled`.

    Each does exactly what `re`'s function of that name does (compile, then call the pattern's
    method), so matches and substitutions are unchanged; only the cache is larger.
    """
    module = types.ModuleType("re", "`re`, with a larger cache of compiled patterns (qa.ingest.chunking)")
    module.__dict__.update({k: v for k, v in vars(re).items() if not k.startswith("__")})

    def match(pattern: Any, string: Any, flags: int = 0) -> re.Match[Any] | None:
        return _compile(pattern, flags).match(string)

    def fullmatch(pattern: Any, string: Any, flags: int = 0) -> re.Match[Any] | None:
        return _compile(pattern, flags).fullmatch(string)

    def search(pattern: Any, string: Any, flags: int = 0) -> re.Match[Any] | None:
        return _compile(pattern, flags).search(string)

    def sub(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
        return _compile(pattern, flags).sub(repl, string, count)

    def subn(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> tuple[Any, int]:
        return _compile(pattern, flags).subn(repl, string, count)

    def split(pattern: Any, string: Any, maxsplit: int = 0, flags: int = 0) -> list[Any]:
        return _compile(pattern, flags).split(string, maxsplit)

    def findall(pattern: Any, string: Any, flags: int = 0) -> list[Any]:
        return _compile(pattern, flags).findall(string)

    def finditer(pattern: Any, string: Any, flags: int = 0) -> Any:
        return _compile(pattern, flags).finditer(string)

    for function in (match, fullmatch, search, sub, subn, split, findall, finditer):
        setattr(module, function.__name__, function)
    return module


def _install_pattern_cache() -> None:
    """Point the `re` of pysbd's modules at `_pattern_cache_re()` (pysbd's rules are strings it passes to `re`)."""
    stand_in = _pattern_cache_re()
    for module in _PYSBD_MODULES:
        if getattr(module, "re", None) is re:
            module.re = stand_in


_install_pattern_cache()


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


_TRAILING_SPACE = re.compile(r"\s*")


def _locate(sentences: list[str], text: str) -> list[str]:
    """`Segmenter.sentences_with_char_spans(sentences)` for `text`, without a regular expression per sentence.

    pysbd looks for each sentence with `re.finditer(re.escape(sentence) + r"\\s*", text)` and keeps
    the first match that ends after the previous sentence's match (trailing white space included);
    a sentence with no such match is dropped. `str.find` from the end of each rejected match finds
    the same non-overlapping matches in the same order.
    """
    found: list[str] = []
    prior_end = 0
    for sentence in sentences:
        # An empty sentence makes the pattern r"\s*", which matches the empty string: leave that to `re`.
        matches = _matches(sentence, text) if sentence else (m.span() for m in re.finditer(r"\s*", text))
        for start, end in matches:
            if end > prior_end:
                found.append(text[start:end])
                prior_end = end
                break
    return found


def _matches(sentence: str, text: str) -> Iterator[tuple[int, int]]:
    """The spans of `re.finditer(re.escape(sentence) + r"\\s*", text)`, for a non-empty `sentence`."""
    at = text.find(sentence)
    while at >= 0:
        space = _TRAILING_SPACE.match(text, at + len(sentence))
        assert space is not None  # \s* matches anywhere
        end = space.end()
        yield at, end
        at = text.find(sentence, end)


def _pysbd_sentences(line: str) -> list[str]:
    """`_segmenter().segment(line)` for a non-empty `line` (pysbd 0.3.4, `clean=False`, no `doc_type`)."""
    segmenter = _segmenter()
    return _locate(segmenter.processor(line).process(), line)


def split_sentences(text: str, segment: Callable[[str], list[str]] | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) over `text`, never crossing a line break.

    `segment` splits one line into its sentences (default: pysbd, `_pysbd_sentences`;
    `bench/chunking_check.py` passes pysbd's own `Segmenter.segment` to compare with it)."""
    segment = segment or _pysbd_sentences
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        cursor = 0
        for piece in segment(line) if line.strip() else []:
            piece = piece.strip()
            if not piece:
                continue
            found = line.find(piece, cursor)
            if found < 0:  # the segmenter altered the text; fall back to the rest of the line
                found, piece = cursor, line[cursor:].strip()
            spans.append((offset + found, offset + found + len(piece)))
            cursor = found + len(piece)
        offset += len(line) + 1
    return [s for s in spans if s[1] > s[0]]


def chunk_document(
    doc_id: str, text: str, max_chars: int, split: Callable[[str], list[tuple[int, int]]] | None = None
) -> list[Passage]:
    """Greedy packing of consecutive sentences (`split`, default `split_sentences`, looked up when
    called) into passages of at most `max_chars`."""
    passages: list[Passage] = []
    group: list[tuple[int, int]] = []

    def flush() -> None:
        if group:
            start, end = group[0][0], group[-1][1]
            passages.append(Passage(f"{doc_id}:{start}", doc_id, start, end, text[start:end], list(group)))
            group.clear()

    for span in (split or split_sentences)(text):
        if group and span[1] - group[0][0] > max_chars:
            flush()
        group.append(span)
    flush()
    return passages


def chunk_documents(docs: Sequence[tuple[str, str]], max_chars: int, processes: int | None = None) -> list[list[Passage]]:
    """`chunk_document` of each (doc_id, text), in order, in worker processes when the batch is big.

    `processes` defaults to the usable cores; fewer than 2, or fewer than `PROCESS_MIN_CHARS`
    characters in all, and the batch is chunked here. Workers are spawned, not forked, as the
    caller may be running threads (the encoder's). Should they not start (a script without an
    `if __name__ == "__main__"` guard cannot spawn) or die, the rest is chunked in this process:
    slower, never lost.
    """
    processes = usable_cores() if processes is None else processes
    if multiprocessing.current_process().daemon:  # a daemonic process may not start children
        processes = 1
    results: list[list[Passage]] = []
    if docs and processes > 1 and sum(len(text) for _, text in docs) >= PROCESS_MIN_CHARS:
        chunksize = max(1, math.ceil(len(docs) / (TASKS_PER_PROCESS * processes)))
        processes = min(processes, math.ceil(len(docs) / chunksize))
        pool: ProcessPoolExecutor | None = None
        try:
            pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
            ids, texts = [d for d, _ in docs], [t for _, t in docs]
            for passages in pool.map(chunk_document, ids, texts, [max_chars] * len(docs), chunksize=chunksize):
                results.append(passages)  # kept, in order, should a later task fail
        except (BrokenProcessPool, OSError) as exc:
            log.warning("the chunking processes failed (%s); chunking in this process instead", exc)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    results.extend(chunk_document(doc_id, text, max_chars) for doc_id, text in docs[len(results) :])
    return results
