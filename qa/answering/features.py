"""The numbers the learned scorer weighs: one vector per sentence, one per span, one per question.

Every feature is computed from the question, the candidate text and retrieval's scores, the same
way at training time (`training/answerer.py`) and at answer time, so the fitted weights mean
the same thing in both. No feature looks at particular words of the corpus.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from qa.answering.candidates import SentenceCandidate, SpanCandidate
from qa.answering.question import ENTITY_LABELS, NEAR_LABELS, AnswerKind, QuestionAnalysis
from qa.ingest.tagging import NOUN_PHRASE
from qa.text import WORD_RE, term_set, terms

Idf = Callable[[str], float]

TYPED_KINDS = frozenset({AnswerKind.PERSON, AnswerKind.ORGANIZATION, AnswerKind.PLACE, AnswerKind.TIME, AnswerKind.QUANTITY})

SENTENCE_FEATURES = (
    "coverage",
    "context_coverage",
    "focus_coverage",
    "bigram",
    "dense",
    "fused",
    "inverse_rank",
    "kind_span",
    "near_kind_span",
    "log_words",
    "novel_share",
    "caseless",
    "description",
    "description_x_coverage",
    "rare_matched",
    "rare_missing",
    "lead_sentence",
    "kind_span_x_coverage",
    "kind_span_near_match",
)
SPAN_FEATURES = (
    "label_kind",
    "label_near",
    "noun_phrase",
    "noun_phrase_x_thing",
    "entity",
    "question_overlap",
    "log_distance",
    "log_words",
    "category_match",
    "sentence_logit",
    "repeated",
    "caseless_x_entity",
    "inside_quote_marks",
    "starts_with_digit",
    "near_3",
    "near_8",
    "same_clause",
    "contains_question_term",
    "quantity_x_contains_term",
    "in_parentheses",
    "first_of_kind",
    "left_of_match",
    *(f"label_kind_{k.value}" for k in sorted(TYPED_KINDS)),
    *(f"label_near_{k.value}" for k in sorted(TYPED_KINDS)),
)
ANSWERABLE_FEATURES = (
    "top_logit",
    "second_gap",
    "top_coverage",
    "top_dense",
    "max_dense",
    "top_rare_missing",
    "span_logit",
    "has_span",
    "wants_short",
    "top_bigram",
)


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[tuple[int, int, str | None], ...]:
    """(start, end, stem or None for a stop word) for each word of `text`."""
    found = [(m.start(), m.end(), m.group(0)) for m in WORD_RE.finditer(text)]
    stems = [terms(word) for _, _, word in found]  # one word in, at most one stem out
    return tuple((start, end, stem[0] if stem else None) for (start, end, _), stem in zip(found, stems, strict=True))


def _coverage(weights: dict[str, float], present: frozenset[str] | set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def _bigram(question_terms: tuple[str, ...], sentence_stems: list[str]) -> float:
    pairs = list(zip(question_terms, question_terms[1:], strict=False))
    if not pairs:
        return 0.0
    position: dict[str, list[int]] = {}
    for i, stem in enumerate(sentence_stems):
        position.setdefault(stem, []).append(i)
    found = sum(any(0 < j - i <= 3 for i in position.get(a, []) for j in position.get(b, [])) for a, b in pairs)
    return found / len(pairs)


def question_weights(question: QuestionAnalysis, idf: Idf) -> dict[str, float]:
    """IDF of each question term; the category noun ("which *country*") counts half: answers rarely say it."""
    category = set(terms(question.category)) if question.category else set()
    return {t: idf(t) * (0.5 if t in category else 1.0) for t in question.terms}


def span_is_novel(span: SpanCandidate, question_words: frozenset[str]) -> bool:
    """The span says something the question does not already say."""
    span_words = {w for _, _, w in tokens(span.text) if w}
    return bool(span_words - question_words)


def sentence_features(
    question: QuestionAnalysis, weights: dict[str, float], candidate: SentenceCandidate, idf: Idf
) -> list[float]:
    q_terms = question.term_set
    toks = tokens(candidate.text)
    stems = [s for _, _, s in toks if s]
    present = frozenset(stems)
    context = term_set(candidate.hit.passage.text) | term_set(candidate.title)
    focus_weights = {t: weights[t] for t in question.focus if t in weights} or weights
    kind_labels = ENTITY_LABELS[question.kind]
    near_labels = NEAR_LABELS[question.kind]
    novel = [s for s in candidate.spans if span_is_novel(s, q_terms)]
    kind_span = any(s.label in kind_labels or (question.kind is AnswerKind.THING and s.label == NOUN_PHRASE) for s in novel)
    near_span = any(s.label in near_labels for s in novel)
    coverage = _coverage(weights, present)
    max_idf = max(weights.values(), default=0.0) or 1.0
    matched = [weights[t] for t in q_terms if t in present]
    missing = [weights[t] for t in q_terms if t not in present and t not in context]
    description = question.kind is AnswerKind.DESCRIPTION
    kind_near = 0.0
    if kind_span:
        offset = candidate.start
        matched_at = [i for i, (_, _, stem) in enumerate(toks) if stem and stem in q_terms]
        for span in novel:
            if span.label in kind_labels or (question.kind is AnswerKind.THING and span.label == NOUN_PHRASE):
                inside = [i for i, (st, en, _) in enumerate(toks) if st + offset >= span.start and en + offset <= span.end]
                if any(abs(i - j) <= 5 for i in inside for j in matched_at if j not in inside):
                    kind_near = 1.0
                    break
    return [
        coverage,
        _coverage(weights, context | present),
        _coverage(focus_weights, present),
        _bigram(question.terms, stems),
        candidate.hit.dense,
        candidate.hit.score,
        1.0 / (1 + candidate.rank),
        float(kind_span),
        float(near_span),
        math.log1p(len(toks)) / 4,
        len(present - q_terms) / max(len(present), 1),
        float(candidate.caseless),
        float(description),
        coverage * description,
        max(matched, default=0.0) / max_idf,
        max(missing, default=0.0) / max_idf,
        float(candidate.position == 0 and candidate.hit.passage.start == 0),
        coverage * kind_span,
        kind_near,
    ]


def span_features(
    question: QuestionAnalysis, candidate: SentenceCandidate, span: SpanCandidate, repeats: dict[str, int]
) -> list[float]:
    q_terms = question.term_set
    toks = tokens(candidate.text)
    offset = candidate.start
    inside = [i for i, (s, e, _) in enumerate(toks) if s + offset >= span.start and e + offset <= span.end]
    matched = [i for i, (_, _, stem) in enumerate(toks) if stem and stem in q_terms and i not in inside]
    distance = min((abs(i - j) for i in inside for j in matched), default=30)
    span_stems = [toks[i][2] for i in inside if toks[i][2]]
    overlap = sum(s in q_terms for s in span_stems) / max(len(span_stems), 1)
    category = set(terms(question.category)) if question.category else set()
    is_np = span.label == NOUN_PHRASE
    before = candidate.text[: max(span.start - offset, 0)]
    key = span.text.lower()
    n_terms = max(len(q_terms), 1)
    near_3 = {toks[j][2] for i in inside for j in matched if abs(i - j) <= 3}
    near_8 = {toks[j][2] for i in inside for j in matched if abs(i - j) <= 8}
    nearest = min(matched, key=lambda j: min(abs(i - j) for i in inside), default=None) if inside else None
    same_clause = 0.0
    if nearest is not None:
        lo, hi = sorted((toks[nearest][0], toks[inside[0]][0]))
        same_clause = float(not any(ch in candidate.text[lo:hi] for ch in ",;:()—–"))
    contains_term = float(overlap > 0)
    kind_labels = ENTITY_LABELS[question.kind]
    same_kind_before = [s for s in candidate.spans if s.start < span.start and s.label == span.label]
    return [
        float(span.label in ENTITY_LABELS[question.kind]),
        float(span.label in NEAR_LABELS[question.kind]),
        float(is_np),
        float(is_np and question.kind is AnswerKind.THING),
        float(not is_np),
        overlap,
        math.log1p(distance) / 3,
        math.log1p(len(inside)) / 2,
        float(bool(category & set(span_stems))),
        candidate.logit / 5,
        math.log1p(repeats.get(key, 1) - 1),
        float(candidate.caseless and not is_np),
        float(before.count('"') % 2 == 1 or before.count("“") > before.count("”")),
        float(span.text[:1].isdigit()),
        len(near_3) / n_terms,
        len(near_8) / n_terms,
        same_clause,
        contains_term,
        contains_term * (question.kind is AnswerKind.QUANTITY),
        float(before.count("(") > before.count(")")),
        float(span.label in kind_labels and not same_kind_before),
        float(nearest is not None and inside[0] < nearest),
        *(float(question.kind is k and span.label in kind_labels) for k in sorted(TYPED_KINDS)),
        *(float(question.kind is k and span.label in NEAR_LABELS[k]) for k in sorted(TYPED_KINDS)),
    ]


def span_candidates(
    question: QuestionAnalysis, ranked: list[SentenceCandidate], sentences: int
) -> list[tuple[list[float], SentenceCandidate, SpanCandidate]]:
    """The spans the span model ranks (new to the question, in the best `sentences` sentences), with features.

    One place for both answer time (`AnswerScorer.best_span`) and training (`training/answerer.py`).
    """
    repeats: dict[str, int] = {}
    for c in ranked[: sentences * 3]:
        for text in {s.text.lower() for s in c.spans}:
            repeats[text] = repeats.get(text, 0) + 1
    return [
        (span_features(question, c, span, repeats), c, span)
        for c in ranked[:sentences]
        for span in c.spans
        if span_is_novel(span, question.term_set)
    ]


def answerable_features(
    question: QuestionAnalysis, ranked: list[SentenceCandidate], raw: dict[int, list[float]], span_logit: float | None
) -> list[float]:
    """Question-level evidence that the best candidate really answers: `ranked` best first."""
    top = ranked[0]
    top_raw = raw[id(top)]
    second = ranked[1].logit if len(ranked) > 1 else top.logit - 5
    names = SENTENCE_FEATURES
    return [
        top.logit / 5,
        (top.logit - second) / 5,
        top_raw[names.index("coverage")],
        top.hit.dense,
        max(c.hit.dense for c in ranked),
        top_raw[names.index("rare_missing")],
        (span_logit if span_logit is not None else -5.0) / 5,
        float(span_logit is not None),
        float(question.kind.wants_short_answer),
        top_raw[names.index("bigram")],
    ]
