"""An experiment, not shipped: a span reader that reads the best few sentences and marks the
exact words that answer. `bench/train_reader.py` trains and measures it; the README's "Answer
quality" section says why it is not in `qa/` (on the SQuAD validation articles it scored about as
well as the shipped span model and cost 10-30 ms a question on this machine's CPU).

A small transformer (the encoder's all-MiniLM-L6-v2, fine-tuned with a start/end span head on the
SQuAD training half by `bench/train_reader.py`, shipped as int8 ONNX) reads the question with the
scorer's best sentences, best first, and scores every span of up to `MAX_ANSWER_TOKENS` tokens
inside one sentence against an explicit "no answer" score (the [CLS] token, as SQuAD 2.0 readers
and Haystack's `ExtractiveReader` do). Reading a short window instead of whole passages keeps a
question to one forward pass of about 100 tokens.

`decision.json` holds a logistic regression, fitted on questions the reader never saw, that weighs
the scorer's P(answerable) with the reader's span and no-answer scores into the final answer or
decline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.answering.scorer import LinearModel, ModelError, sigmoid
from qa.errors import Unavailable

READER_DIR = Path(__file__).resolve().parent / "out" / "reader" / "shipped"
READER_SENTENCES = 3  # sentences the reader sees, best first
MAX_LENGTH = 192  # tokens: question + window
MAX_ANSWER_TOKENS = 30
SEPARATOR = " "
DECISION_FEATURES = ("answerable_logit", "span_score", "null_score", "span_margin")


class ReaderError(Unavailable):
    """The reader's files are missing or unreadable."""


@dataclass(frozen=True)
class Read:
    """The reader's best span: `sentence` is its index in the window, `start`/`end` offsets in it."""

    sentence: int
    start: int
    end: int
    text: str
    span_score: float  # start + end logit of the span
    null_score: float  # start + end logit of "no answer"

    @property
    def margin(self) -> float:
        return self.span_score - self.null_score


def join_window(sentences: list[str]) -> tuple[str, list[int]]:
    """The window as one text, with each sentence's start offset in it."""
    starts, at = [], 0
    for s in sentences:
        starts.append(at)
        at += len(s) + len(SEPARATOR)
    return SEPARATOR.join(sentences), starts


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def decision_features(answerable: float, read: Read | None) -> list[float]:
    if read is None:
        return [logit(answerable), -20.0, 20.0, -40.0]
    return [logit(answerable), read.span_score, read.null_score, read.margin]


class SpanReader:
    """Question + best sentences → the best span and its scores (one ONNX forward pass)."""

    def __init__(self, directory: Path = READER_DIR, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(directory / "reader-int8.onnx"), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ReaderError(
                f"cannot load the span reader from {directory} ({exc}): reinstall, or retrain with bench/train_reader.py"
            ) from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_LENGTH, strategy="only_second")

    @classmethod
    def load(cls) -> SpanReader:
        return default_reader()

    def read(self, question: str, sentences: list[str]) -> Read | None:
        if not sentences:
            return None
        text, starts = join_window(sentences)
        enc = self.tokenizer.encode(question, text)
        ids = np.array([enc.ids], dtype=np.int64)
        start_logits, end_logits = self.session.run(
            None,
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.array([enc.type_ids], dtype=np.int64)},
        )
        s, e = start_logits[0], end_logits[0]
        context = np.array([t for t, seq in enumerate(enc.sequence_ids) if seq == 1])
        if not len(context):
            return None
        owner = np.array([sentence_of(starts, enc.offsets[t][0]) for t in context])
        # every (start, end) pair inside one sentence, at most MAX_ANSWER_TOKENS long
        scores = s[context][:, None] + e[context][None, :]
        gap = np.arange(len(context))[None, :] - np.arange(len(context))[:, None]
        allowed = (gap >= 0) & (gap < MAX_ANSWER_TOKENS) & (owner[:, None] == owner[None, :])
        a, b = np.unravel_index(int(np.argmax(np.where(allowed, scores, -np.inf))), scores.shape)
        score, null = float(scores[a, b]), float(s[0] + e[0])
        i = int(owner[a])
        c0, c1 = enc.offsets[context[a]][0] - starts[i], enc.offsets[context[b]][1] - starts[i]
        return Read(i, c0, c1, sentences[i][c0:c1], score, null)


def sentence_of(starts: list[int], offset: int) -> int:
    i = 0
    while i + 1 < len(starts) and starts[i + 1] <= offset:
        i += 1
    return i


@lru_cache(maxsize=1)
def default_reader() -> SpanReader:
    return SpanReader()


@dataclass(frozen=True)
class Decision:
    """Answer or decline, from the scorer's P(answerable) and the reader's scores."""

    model: LinearModel
    threshold: float

    @classmethod
    def load(cls, path: Path = READER_DIR / "decision.json") -> Decision:
        try:
            data = json.loads(path.read_text())
            return cls(LinearModel.from_dict(data["decision"], DECISION_FEATURES), float(data["threshold"]))
        except (OSError, ValueError, KeyError, TypeError, ModelError) as exc:
            raise ReaderError(
                f"cannot read the answer decision {path} ({exc}): retrain with bench/train_reader.py decide"
            ) from exc

    def probability(self, x: list[float]) -> float:
        return sigmoid(self.model.logit(x))
