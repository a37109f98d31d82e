"""The learned scorer: three logistic regressions, fitted by `training/answerer.py`.

1. sentence model: does this sentence hold the answer?
2. span model: which entity / noun phrase is the short answer? (a ranking model, fitted on
   right-minus-wrong pairs within each question; the sentence's own score is one of its features)
3. answerable model: given the best sentence and span, is the answer right at all? Its
   probability against `threshold` is the explicit no-answer decision (as Haystack's
   `ExtractiveReader` scores "no answer" next to the answers).

The weights ship as `model.json` (coefficients, feature names and standardisation), never as a
pickle, so they can be read, diffed and loaded without scikit-learn.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.answering.candidates import SentenceCandidate, SpanCandidate
from qa.answering.features import (
    ANSWERABLE_FEATURES,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Idf,
    answerable_features,
    question_weights,
    sentence_features,
    span_candidates,
)
from qa.answering.question import AnswerKind, QuestionAnalysis
from qa.errors import Unavailable

MODEL_PATH = Path(__file__).with_name("model.json")


class ModelError(Unavailable):
    """The scorer's weights file is missing or does not fit the features this code computes."""


@dataclass(frozen=True)
class LinearModel:
    names: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def from_dict(cls, data: dict, expected: tuple[str, ...]) -> LinearModel:
        if tuple(data["names"]) != expected:
            raise ModelError(
                f"model features {data['names']} differ from the code's {list(expected)}: retrain with training/answerer.py"
            )
        return cls(tuple(data["names"]), tuple(data["coef"]), float(data["intercept"]), tuple(data["mean"]), tuple(data["scale"]))

    def logit(self, x: list[float]) -> float:
        return self.intercept + sum(c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class ScorerModel:
    sentence: LinearModel
    span: LinearModel
    answerable: LinearModel
    threshold: float  # answer when P(answerable) >= threshold
    span_threshold: float  # give a short answer when the span model's score is at least this

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ScorerModel:
        try:
            data = json.loads(path.read_text())
            return cls(
                LinearModel.from_dict(data["sentence"], SENTENCE_FEATURES),
                LinearModel.from_dict(data["span"], SPAN_FEATURES),
                LinearModel.from_dict(data["answerable"], ANSWERABLE_FEATURES),
                float(data["threshold"]),
                float(data["span_threshold"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"cannot read the answer model {path} ({exc}): reinstall, or retrain with training/answerer.py"
            ) from exc


@lru_cache(maxsize=1)
def default_model() -> ScorerModel:
    return ScorerModel.load()


@dataclass
class ScoredAnswer:
    """The scorer's verdict: sentences best first, the short answer if any, and P(answerable)."""

    question: QuestionAnalysis
    ranked: list[SentenceCandidate]
    short: SpanCandidate | None
    short_sentence: SentenceCandidate | None
    answerable: float
    threshold: float
    signals: list[float] | None = None  # what the reader's decision weighed (training and debugging)

    @property
    def answered(self) -> bool:
        return bool(self.ranked) and self.answerable >= self.threshold

    @property
    def best(self) -> SentenceCandidate:
        return self.short_sentence or self.ranked[0]


class AnswerScorer:
    """Weighs candidates with the fitted model and decides whether to answer at all."""

    def __init__(self, model: ScorerModel | None = None, sentences_for_spans: int = 3) -> None:
        self._model = model
        self.sentences_for_spans = sentences_for_spans

    @property
    def model(self) -> ScorerModel:
        if self._model is None:
            self._model = default_model()
        return self._model

    def sentence_vectors(
        self, question: QuestionAnalysis, candidates: list[SentenceCandidate], idf: Idf
    ) -> dict[int, list[float]]:
        weights = question_weights(question, idf)
        return {id(c): sentence_features(question, weights, c, idf) for c in candidates}

    def run(self, question: QuestionAnalysis, candidates: list[SentenceCandidate], idf: Idf) -> ScoredAnswer:
        raw = self.sentence_vectors(question, candidates, idf)
        for c in candidates:
            c.logit = self.model.sentence.logit(raw[id(c)])
            c.score = sigmoid(c.logit)
        ranked = sorted(candidates, key=lambda c: -c.logit)
        if not ranked:
            return ScoredAnswer(question, [], None, None, 0.0, self.model.threshold)
        short, short_sentence, span_logit = self.best_span(question, ranked)
        p = sigmoid(self.model.answerable.logit(answerable_features(question, ranked, raw, span_logit)))
        return ScoredAnswer(question, ranked, short, short_sentence, p, self.model.threshold)

    def best_span(
        self, question: QuestionAnalysis, ranked: list[SentenceCandidate]
    ) -> tuple[SpanCandidate | None, SentenceCandidate | None, float | None]:
        """The most likely short answer within the best few sentences (None for descriptive questions)."""
        if not question.kind.wants_short_answer:
            return None, None, None
        best: tuple[float, SpanCandidate, SentenceCandidate] | None = None
        for x, c, span in span_candidates(question, ranked, self.sentences_for_spans):
            logit = self.model.span.logit(x)
            span.score = sigmoid(logit)
            if best is None or logit > best[0]:
                best = (logit, span, c)
        if best is None:
            return None, None, None
        logit, span, sentence = best
        if logit < self.model.span_threshold:
            return None, None, logit
        return span, sentence, logit


__all__ = ["AnswerKind", "AnswerScorer", "LinearModel", "ModelError", "ScoredAnswer", "ScorerModel", "default_model", "sigmoid"]
