"""The reader: a small transformer that reads the question with the best few sentences and marks
the words that answer it, or says that they do not.

It is the shipped encoder (all-MiniLM-L6-v2) fine-tuned by `training/reader/` on SQuAD v1.1 train
(87,599 questions), SQuAD v1.1 dev articles 0-17 and the SQuAD 2.0 near misses on them, with a
start/end span head. "No answer" is the [CLS] token (SQuAD 2.0 style, as in Haystack's
`ExtractiveReader`), so every window gets a span score and an explicit no-answer score.

It runs last in a cascade, because a forward pass costs far more than the feature scorer: the
scorer ranks every sentence of the retrieved passages, the reader reads the `READ_SENTENCES`
best, a forward pass each (each with the sentence before it and its document's title, the form it was
trained on: `qa.answering.reader_format`), side by side on the cores, and a fitted logistic regression (`reader.json`) turns
its scores and the scorer's into P(answer) against a threshold chosen on questions neither model
was fitted on.

Shipped as int8 ONNX with its tokenizer in `qa/answering/reader/`, run by ONNX Runtime; the
file's SHA-256 is recorded in `reader.json` and checked when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.answering.candidates import SentenceCandidate, SpanCandidate
from qa.answering.features import Features
from qa.answering.reader_format import MAX_ANSWER_TOKENS, MAX_LENGTH, Window, make_window
from qa.answering.scorer import LinearModel, ModelError, ScoredAnswer, sigmoid
from qa.cores import usable_cores
from qa.errors import Unavailable

if TYPE_CHECKING:
    from tokenizers import Encoding

READER_DIR = Path(__file__).with_name("reader")
MODEL_FILE = "reader-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reader.json"
TRIM = " \t\n,;:"
WORD_RE = re.compile(r"\w+")


class ReaderError(Unavailable):
    """The reader's files are missing, altered or unreadable."""


@dataclass(frozen=True)
class Span:
    """The reader's best span in one window: offsets into `Window.text`, and its scores."""

    window: int
    start: int
    end: int
    text: str
    span_score: float  # start + end logit
    null_score: float  # start + end logit of [CLS]: "no answer in this window"

    @property
    def margin(self) -> float:
        return self.span_score - self.null_score


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Reader:
    """(question, windows) → the best span of each window, each window in a forward pass of its own.

    The windows are read side by side, one thread each (a pool of `threads`; 0: one per usable
    core), rather than one after another with ONNX Runtime splitting each pass across the cores: a
    window's matrices are too small to split well. Over the 141 reader calls of 80 news dev
    questions (423 windows), interleaved in one process on this 2-core machine with the host
    stealing 30% of the CPU: p50 60.6 ms a call side by side, against 83.5 ms one after another on
    two threads and 88.3 ms on one; the logits are identical. (Not measured on more cores, where a
    question's three windows use three.)
    """

    def __init__(self, directory: Path = READER_DIR, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            self.config = json.loads((directory / CONFIG_FILE).read_text())
            model = directory / MODEL_FILE
            if file_sha256(model) != self.config["sha256"]:
                raise ReaderError(f"{model} does not match the SHA-256 in {directory / CONFIG_FILE}: reinstall the package")
            self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # the parallelism is across windows (`run`)
            self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except ReaderError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ReaderError(
                f"cannot load the reader from {directory} ({exc}): reinstall the package, or set QA_READER=off"
            ) from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_LENGTH, strategy="only_second")
        self.workers = threads or usable_cores()
        self._pool = self._new_pool()

    def _new_pool(self) -> tuple[int, ThreadPoolExecutor] | None:
        if self.workers < 2:
            return None
        return os.getpid(), ThreadPoolExecutor(self.workers, thread_name_prefix="qa-reader")

    @property
    def pool(self) -> ThreadPoolExecutor | None:
        """The threads that read windows side by side (none for one), those of this process: a child
        forked after a read would inherit a pool whose threads it does not have, and wait forever."""
        if self._pool is not None and self._pool[0] != os.getpid():
            self._pool = self._new_pool()
        return None if self._pool is None else self._pool[1]

    def run(self, question: str, windows: list[Window]) -> list[Span | None]:
        """The best span of each window, each window read in a forward pass of its own.

        One batch would pad every window to the longest, and the int8 model quantises its
        activations with one scale per tensor, padding included: a short window's logits then
        depend on its longest neighbour. Read alone, a window gets the same logits whatever else
        is read, and three windows took 56-69 ms against 83-113 ms as one batch (the 301 reader
        calls of the news dev and time questions, replayed in one process).
        """
        encs = self.tokenizer.encode_batch([(question, w.text) for w in windows])
        pool = self.pool
        passes = map(self.logits, encs) if pool is None else pool.map(self.logits, encs)
        return [
            best_span(i, window, enc.sequence_ids, enc.offsets, start, end)
            for i, (window, enc, (start, end)) in enumerate(zip(windows, encs, passes, strict=True))
        ]

    def logits(self, enc: Encoding) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) logits of one tokenised window: one forward pass, on the calling thread."""
        shape = (1, len(enc.ids))
        ids = np.asarray(enc.ids, dtype=np.int64).reshape(shape)
        types = np.asarray(enc.type_ids, dtype=np.int64).reshape(shape)
        start, end = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": types})
        return start[0], end[0]


def best_span(
    index: int, window: Window, sequence_ids: list, offsets: list[tuple[int, int]], start: np.ndarray, end: np.ndarray
) -> Span | None:
    """The highest-scoring span of at most MAX_ANSWER_TOKENS tokens inside one sentence of the window."""
    tokens = [
        t for t, (seq, (o0, _)) in enumerate(zip(sequence_ids, offsets, strict=True)) if seq == 1 and o0 >= window.body_start
    ]
    if not tokens:
        return None
    idx = np.array(tokens)
    owner = np.array([window.sentence_at(offsets[t][0]) for t in tokens])
    scores = start[idx][:, None] + end[idx][None, :]
    gap = np.arange(len(idx))[None, :] - np.arange(len(idx))[:, None]
    allowed = (gap >= 0) & (gap < MAX_ANSWER_TOKENS) & (owner[:, None] == owner[None, :])
    a, b = np.unravel_index(int(np.argmax(np.where(allowed, scores, -np.inf))), scores.shape)
    s, e = offsets[idx[a]][0], offsets[idx[b]][1]
    while e > s and window.text[e - 1] in TRIM:
        e -= 1
    while s < e and window.text[s] in TRIM:
        s += 1
    return Span(index, s, e, window.text[s:e], float(scores[a, b]), float(start[0] + end[0]))


@dataclass(frozen=True)
class ReaderInput:
    """The windows for one question, and which candidate sentence each window's sentences are."""

    windows: list[Window]
    sentences: list[list[SentenceCandidate]]


def reader_input(ranked: list[SentenceCandidate], candidates: list[SentenceCandidate], count: int) -> ReaderInput:
    """Windows for the best sentences, best first, until there are `count`: each sentence with the
    sentence before it in its passage; overlapping windows of one passage are merged (at most
    three sentences a window), so neighbouring sentences are read once, together."""
    plain = [c for c in candidates if c.position < len(c.hit.passage.sentences)]  # not a joined fragment
    by_passage: dict[str, list[SentenceCandidate]] = {}
    for c in plain:
        by_passage.setdefault(c.hit.passage.id, []).append(c)
    groups: list[list[SentenceCandidate]] = []
    for c in ranked:
        if len(groups) >= count:
            break
        siblings = sorted(by_passage.get(c.hit.passage.id, []), key=lambda s: s.position)
        here = next((s for s in siblings if s.start <= c.start < s.end), None)
        if here is None:
            continue
        wanted = [s for s in siblings if here.position - 1 <= s.position <= here.position]
        merged = False
        for g in groups:
            if g[0].hit.passage.id == here.hit.passage.id and {s.position for s in g} & {s.position for s in wanted}:
                union = {s.position: s for s in g + wanted}
                if len(union) <= 3:
                    g[:] = [union[p] for p in sorted(union)]
                    merged = True
                    break
        if not merged:
            if any(here in g for g in groups):
                continue
            groups.append(wanted)
    windows = [make_window(g[0].title, [s.text for s in g]) for g in groups]
    return ReaderInput(windows, groups)


@lru_cache(maxsize=2)
def default_reader(threads: int = 0) -> Reader:
    """The shipped reader, loaded once per thread count (`QA_THREADS`; 0: one per usable core)."""
    return Reader(threads=threads)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True, slots=True)
class DecisionFeatures(Features):
    """What the decision weighs for one window's best span (names as in `reader.json`)."""

    margin: float  # span score minus no-answer score
    span_score: float
    null_score: float  # the no-answer ([CLS]) score
    min_null: float  # the lowest no-answer score of the question's windows
    below_best_margin: float  # how far the margin falls short of the question's best window's
    best_other_margin: float  # the best margin of the other windows (`NO_OTHER_MARGIN` when alone)
    scorer_logit: float  # the feature scorer's logit of P(answerable)
    sentence_logit: float  # the sentence model's logit for the span's sentence
    window_rank: float  # 0 for the window of the scorer's best sentence
    agreement: float  # word-overlap F1 of the span with the other windows' spans, summed


READ_SENTENCES = 3  # best sentences of the scorer the reader reads, each with the sentence before it
MIN_SHORT_SHARE = 0.75  # a span this share of its sentence or longer is the sentence: no separate short answer
NO_OTHER_MARGIN = -20.0  # best_other_margin when the question got one window


@dataclass(frozen=True)
class Reading:
    """One window's best span, the candidate sentence holding it, and what the decision weighs."""

    span: Span
    sentence: SentenceCandidate
    features: DecisionFeatures


def word_overlap(a: str, b: str) -> float:
    """Word-overlap F1 of two spans: other windows naming the same answer corroborate it."""
    wa, wb = WORD_RE.findall(a.lower()), WORD_RE.findall(b.lower())
    common = sum((Counter(wa) & Counter(wb)).values())
    return 0.0 if not common else 2 * common / (len(wa) + len(wb))


def readings(spans: list[Span | None], reading: ReaderInput, scorer_p: float, ranked: list[SentenceCandidate]) -> list[Reading]:
    """Every window's best span with its features: its own scores, how it stands against the
    question's other windows (and whether they name the same answer), and the scorer's view of
    its sentence (exact word matches, which the reader's word pieces blur: "Town5" against "Town50")."""
    found = [s for s in spans if s is not None]
    if not found:
        return []
    best_margin = max(s.margin for s in found)
    min_null = min(s.null_score for s in found)
    logits = {(c.doc_id, c.start): c.logit for c in ranked}
    out = []
    for span in found:
        sentence = reading.sentences[span.window][reading.windows[span.window].sentence_at(span.start)]
        others = [s.margin for s in found if s is not span]
        agreement = sum(word_overlap(span.text, s.text) for s in found if s is not span)
        features = DecisionFeatures(
            margin=span.margin,
            span_score=span.span_score,
            null_score=span.null_score,
            min_null=min_null,
            below_best_margin=best_margin - span.margin,
            best_other_margin=max(others, default=NO_OTHER_MARGIN),
            scorer_logit=logit(scorer_p),
            sentence_logit=logits.get((sentence.doc_id, sentence.start), -10.0),
            window_rank=float(span.window),
            agreement=agreement,
        )
        out.append(Reading(span, sentence, features))
    return out


@dataclass(frozen=True)
class Decision:
    """Answer or decline: a logistic regression over `DecisionFeatures`, and its threshold."""

    model: LinearModel
    threshold: float
    read_sentences: int = READ_SENTENCES

    @classmethod
    def from_config(cls, config: dict) -> Decision:
        try:
            data = config["decision"]
            return cls(
                LinearModel.from_dict(data["model"], DecisionFeatures), float(data["threshold"]), int(data["read_sentences"])
            )
        except (KeyError, TypeError, ValueError, AttributeError, ModelError) as exc:
            raise ReaderError(
                f"the reader's decision in {READER_DIR / CONFIG_FILE} is missing or unreadable ({exc}): reinstall the package, "
                "or fit it with `python -m training.reader.decide`"
            ) from exc


class ReaderStage:
    """The cascade's last stage: the scorer's verdict in, the reader's verdict out.

    The scorer's ranking chooses what the reader reads; the fitted decision (`reader.json`)
    weighs the reader's scores with the scorer's into P(answer); the reader's span is the short
    answer, the sentence holding it the evidence.
    """

    def __init__(self, reader: Reader | None = None, decision: Decision | None = None) -> None:
        self.reader = reader or default_reader()
        self.decision = decision or Decision.from_config(self.reader.config)

    def read(self, question: str, scored: ScoredAnswer, candidates: list[SentenceCandidate]) -> tuple[ReaderInput, list[Reading]]:
        reading = reader_input(scored.ranked, candidates, self.decision.read_sentences)
        return reading, readings(self.reader.run(question, reading.windows), reading, scored.answerable, scored.ranked)

    def probability(self, r: Reading) -> float:
        return sigmoid(self.decision.model.logit(r.features))

    def run(self, question: str, scored: ScoredAnswer, candidates: list[SentenceCandidate]) -> ScoredAnswer:
        """The window the decision finds likeliest to answer; P(answer) is its probability."""
        if not scored.ranked:
            return scored
        reading, found = self.read(question, scored, candidates)
        if not found:
            return ScoredAnswer(scored.question, scored.ranked, None, None, 0.0, self.decision.threshold)
        judged = sorted(((self.probability(r), r) for r in found), key=lambda pr: pr[0], reverse=True)
        p, best = judged[0]
        chosen = self.answer(scored, reading, best, p)
        chosen.others = [self.answer(scored, reading, r, q) for q, r in judged[1:] if q >= self.decision.threshold]
        return chosen

    def answer(self, scored: ScoredAnswer, reading: ReaderInput, chosen: Reading, p: float) -> ScoredAnswer:
        """The scorer's verdict rewritten with the reader's span as the short answer (exact offsets)."""
        span, sentence = chosen.span, chosen.sentence
        window = reading.windows[span.window]
        offset = sentence.start - window.starts[window.sentence_at(span.start)]
        short: SpanCandidate | None = SpanCandidate(offset + span.start, offset + span.end, "READER", span.text, p)
        if len(span.text) >= MIN_SHORT_SHARE * len(sentence.text):
            short = None  # the span is the sentence: the evidence alone says it
        return ScoredAnswer(scored.question, scored.ranked, short, sentence, p, self.decision.threshold, chosen.features)
