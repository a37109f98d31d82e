"""The learned scorer: three logistic regressions, fitted by `training/answerer.py`.

1. sentence model: does this sentence hold the answer?
2. span model: which entity / noun phrase is the short answer? (a ranking model, fitted on
   right-minus-wrong pairs within each question; the sentence's own score is one of its features)
3. answerable model: given the best sentence and span, is the answer right at all? Its
   probability against `threshold` is the explicit no-answer decision (as Haystack's
   `ExtractiveReader` scores "no answer" next to the answers).

The weights ship as `model.json`, never as a pickle, so they can be read, diffed and loaded without
scikit-learn: each model maps every feature name (`qa.answering.features`) to its coefficient and
the mean and scale that standardised it when it was fitted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from qa.answering.candidates import SentenceCandidate, SpanCandidate
from qa.answering.features import (
    AnswerableFeatures,
    Features,
    Idf,
    SentenceFeatures,
    SpanFeatures,
    answerable_features,
    sentence_features_by_id,
    span_candidates,
)
from qa.answering.question import AnswerKind, QuestionAnalysis
from qa.errors import Unavailable

MODEL_PATH = Path(__file__).with_name("model.json")


class ModelError(Unavailable):
    """The scorer's weights file is missing or does not fit the features this code computes."""


@dataclass(frozen=True)
class Weight:
    """One feature's coefficient, on the feature standardised as it was in the fit: (value - mean) / scale."""

    coef: float
    mean: float
    scale: float


@dataclass(frozen=True)
class LinearModel:
    """A fitted logistic regression's logit over one set of named features."""

    intercept: float
    weights: dict[str, Weight]  # by feature name, in the order the logit sums them

    @classmethod
    def fitted(
        cls, names: Iterable[str], coef: Iterable[float], intercept: float, mean: Iterable[float], scale: Iterable[float]
    ) -> LinearModel:
        """A model from a fit's arrays: one coefficient, mean and scale per feature of `names`, in its order."""
        columns = zip(names, coef, mean, scale, strict=True)
        return cls(float(intercept), {n: Weight(float(c), float(m), float(s)) for n, c, m, s in columns})

    @classmethod
    def from_dict(cls, data: dict[str, Any], features: type[Features]) -> LinearModel:
        """The model as `to_dict` wrote it; its feature names must be the ones `features` computes."""
        weights = {name: Weight(float(w["coef"]), float(w["mean"]), float(w["scale"])) for name, w in data["features"].items()}
        if set(weights) != set(features.names()):
            missing, unknown = sorted(set(features.names()) - set(weights)), sorted(set(weights) - set(features.names()))
            raise ModelError(f"{features.__name__}: no weight for {missing}; weights for features never computed: {unknown}")
        return cls(float(data["intercept"]), weights)

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        """JSON-ready: the intercept, and each feature's name with its coefficient, mean and scale."""
        return {
            "intercept": round(self.intercept, digits),
            "features": {
                name: {"coef": round(w.coef, digits), "mean": round(w.mean, digits), "scale": round(w.scale, digits)}
                for name, w in self.weights.items()
            },
        }

    def logit(self, x: Features) -> float:
        """Each feature of `x` read by its name."""
        return self.intercept + sum(w.coef * (getattr(x, name) - w.mean) / w.scale for name, w in self.weights.items())


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
                LinearModel.from_dict(data["sentence"], SentenceFeatures),
                LinearModel.from_dict(data["span"], SpanFeatures),
                LinearModel.from_dict(data["answerable"], AnswerableFeatures),
                float(data["threshold"]),
                float(data["span_threshold"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ModelError) as exc:
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
    signals: Features | None = None  # what the reader's decision weighed (training and debugging)
    others: list[ScoredAnswer] = field(default_factory=list)  # the reader's other accepted windows, likeliest first

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

    def run(self, question: QuestionAnalysis, candidates: list[SentenceCandidate], idf: Idf) -> ScoredAnswer:
        features = sentence_features_by_id(question, candidates, idf)
        for c in candidates:
            c.logit = self.model.sentence.logit(features[id(c)])
            c.score = sigmoid(c.logit)
        ranked = sorted(candidates, key=lambda c: -c.logit)
        if not ranked:
            return ScoredAnswer(question, [], None, None, 0.0, self.model.threshold)
        short, short_sentence, span_logit = self.best_span(question, ranked)
        evidence = answerable_features(question, ranked, features[id(ranked[0])], span_logit)
        p = sigmoid(self.model.answerable.logit(evidence))
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


__all__ = [
    "AnswerKind",
    "AnswerScorer",
    "LinearModel",
    "ModelError",
    "ScoredAnswer",
    "ScorerModel",
    "Weight",
    "default_model",
    "sigmoid",
]
