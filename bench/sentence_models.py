"""Which model family ranks evidence sentences best? Measured on the SQuAD training half only.

    .venv/bin/python bench/sentence_models.py

For every training-half question asked of its own index (as `training/answerer.py` does), the
candidate sentences' `sentence_features` are fitted on articles 0-17 and the share of articles
18-23 questions whose top-ranked sentence holds the gold answer is printed, for: the shipped
logistic regression, the same with each feature's distance below the best candidate of its question
(and whether it is the best), and scikit-learn's gradient boosting on both. The oracle is the
share with any gold sentence among the candidates. Articles 24-47 are never read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from embeddings.encoder import load_encoder  # noqa: E402
from qa.answering.features import sentence_features_by_id  # noqa: E402
from qa.answering.question import QuestionAnalyzer  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.evaluation.squad import TRAIN_ARTICLES, contains_gold, load_squad  # noqa: E402
from training.answerer import FIT_ARTICLES, HALVES, SQUAD, fit, matrix, training_indexes  # noqa: E402

Group = tuple[int, np.ndarray, np.ndarray]  # (article, features of each candidate, holds gold)


def relative(x: np.ndarray) -> np.ndarray:
    """Each feature, its distance below the question's best candidate, and whether it is that best."""
    best = x.max(axis=0)
    return np.hstack([x, x - best, (x == best).astype(float)])


def groups() -> list[Group]:
    settings = get_settings()
    encoder = load_encoder(settings.model, settings.backend, ROOT / ".qa" / "cache")
    documents, questions = load_squad(SQUAD, TRAIN_ARTICLES)
    answerers, retrievers = training_indexes(encoder, documents)
    analyzer = QuestionAnalyzer()
    out = []
    for q, vector in zip(questions, encoder.encode([q.question for q in questions]), strict=True):
        own = "A" if q.article in HALVES["A"] else "B"
        analysis = analyzer.run(q.question)
        candidates = answerers[own].extractor.run(retrievers[own].run(q.question, settings.top_k, query_vector=vector))
        if candidates:
            x = matrix(list(sentence_features_by_id(analysis, candidates, answerers[own].idf).values()))
            out.append((q.article, x, np.array([contains_gold(c.text, q.answers) for c in candidates])))
    return out


def main() -> None:
    data = groups()
    fitting = [g for g in data if g[0] in FIT_ARTICLES]
    val = [g for g in data if g[0] not in FIT_ARTICLES]
    print(f"{len(fitting)} fitting questions (articles 0-17), {len(val)} validation questions (18-23)")
    for name, transform in (("features", lambda x: x), ("features + relative to the best candidate", relative)):
        x = np.vstack([transform(g[1]) for g in fitting])
        y = np.concatenate([g[2] for g in fitting])
        _, linear, scaler = fit(x, y, tuple(f"x{i}" for i in range(x.shape[1])))  # as the shipped sentence model is fitted
        boosted = HistGradientBoostingClassifier(max_depth=6, max_iter=300, learning_rate=0.05, random_state=0).fit(x, y)
        for model_name, score in (
            ("logistic regression", lambda g, m=linear, s=scaler, t=transform: m.decision_function(s.transform(t(g[1])))),
            ("gradient boosting", lambda g, m=boosted, t=transform: m.decision_function(t(g[1]))),
        ):
            top = np.mean([g[2][int(np.argmax(score(g)))] for g in val])
            print(f"  {model_name}, {name}: best sentence holds gold {top:.3f}")
    print(f"  oracle (a gold sentence among the candidates): {np.mean([g[2].any() for g in val]):.3f}")


if __name__ == "__main__":
    main()
