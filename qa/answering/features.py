"""The named values the learned scorer weighs: one set per sentence, one per span, one per question.

Every feature is computed from the question, the candidate text and retrieval's scores, the same
way at training time (`training/answerer.py`) and at answer time, so the fitted weights mean
the same thing in both. No feature looks at particular words of the corpus.

Each set is a dataclass whose field names are the names under which `model.json` stores each
weight: the scorer reads every value by name, and refuses a model whose names differ. Values are
left in their natural units (logits as logits, word counts as log1p): every fit standardises
each feature by the mean and scale it stores beside the weight, so a constant factor here would
change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache

from qa.answering.candidates import SentenceCandidate, SpanCandidate
from qa.answering.question import ENTITY_LABELS, NEAR_LABELS, AnswerKind, QuestionAnalysis
from qa.ingest.tagging import NOUN_PHRASE
from qa.text import WORD_RE, term_set, terms

Idf = Callable[[str], float]

NO_SECOND_GAP = 5.0  # `second_gap` when the question has one candidate sentence
NO_SPAN_LOGIT = -5.0  # `span_logit` when no short answer was scored (a descriptive question, or no span)


@dataclass(frozen=True, slots=True)
class Features:
    """A set of named feature values; a subclass's fields are its names."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def row(self) -> tuple[float, ...]:
        """The values in `names()` order: one row of a training matrix."""
        return tuple(getattr(self, name) for name in self.names())


@dataclass(frozen=True, slots=True)
class SentenceFeatures(Features):
    """Does this sentence hold the answer?"""

    coverage: float  # IDF-weighted share of the question's terms in the sentence
    context_coverage: float  # ... in the sentence, its passage or its title
    focus_coverage: float  # ... of the question's focus terms, in the sentence
    bigram: float  # share of the question's consecutive term pairs found in order, at most 3 words apart
    dense: float  # cosine of the passage to the question
    fused: float  # retrieval's fused score of the passage
    inverse_rank: float  # 1 / (1 + the passage's retrieval rank)
    kind_span: float  # holds a span of the asked kind that the question does not already say
    near_kind_span: float  # ... of a kind often confused with it
    log_words: float  # log1p(words)
    novel_share: float  # share of the sentence's terms not in the question
    caseless: float  # the document is written without capitals (the tagger misses names)
    description: float  # the question asks for a description ("why", "what happened")
    description_x_coverage: float
    rare_matched: float  # weight of the rarest question term present, over the question's highest weight
    rare_missing: float  # ... of the rarest absent from the sentence, its passage and its title
    lead_sentence: float  # the document's first sentence
    kind_span_x_coverage: float
    kind_span_near_match: float  # a span of the asked kind within 5 words of a matched question term


@dataclass(frozen=True, slots=True)
class SpanFeatures(Features):
    """Is this entity or noun phrase the short answer? (ranked against its question's other spans)"""

    label_kind: float  # the tagger's label is the asked kind
    label_near: float  # ... a kind often confused with it
    noun_phrase: float
    noun_phrase_x_thing: float  # a noun phrase, for a "what/which X" question
    entity: float
    question_overlap: float  # share of the span's terms that are question terms
    log_distance: float  # log1p(words to the nearest matched question term outside the span; 30 if none)
    log_words: float  # log1p(words in the span)
    category_match: float  # the span names the question's category noun ("which *city*")
    sentence_logit: float  # the sentence model's logit for the span's sentence
    repeated: float  # log1p(other good candidate sentences naming the same text)
    caseless_x_entity: float
    inside_quote_marks: float
    starts_with_digit: float
    near_3: float  # share of the question's terms matched within 3 words of the span
    near_8: float  # ... within 8 words
    same_clause: float  # no clause punctuation between the span and its nearest matched term
    contains_question_term: float
    quantity_x_contains_term: float
    in_parentheses: float
    first_of_kind: float  # of the asked kind, and the sentence's first span with its label
    left_of_match: float  # the span comes before its nearest matched term
    # label_kind and label_near again, for one asked kind each: how much a label match is worth differs by kind
    label_kind_organization: float
    label_kind_person: float
    label_kind_place: float
    label_kind_quantity: float
    label_kind_time: float
    label_near_organization: float
    label_near_person: float
    label_near_place: float
    label_near_quantity: float
    label_near_time: float


@dataclass(frozen=True, slots=True)
class AnswerableFeatures(Features):
    """Given the best sentence and span, is the answer right at all?"""

    top_logit: float  # the sentence model's logit for the best sentence
    second_gap: float  # its lead over the second best (`NO_SECOND_GAP` when alone)
    top_coverage: float  # the best sentence's `coverage`
    top_dense: float  # its passage's cosine to the question
    max_dense: float  # the best cosine of any candidate's passage
    top_rare_missing: float  # the best sentence's `rare_missing`
    span_logit: float  # the span model's score for the short answer (`NO_SPAN_LOGIT` when none)
    has_span: float  # a short answer was scored
    wants_short: float  # the question asks for a short answer (not a description)
    top_bigram: float  # the best sentence's `bigram`


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[tuple[int, int, str | None], ...]:
    """(start, end, stem or None for a stop word) for each word of `text`."""
    return tuple((m.start(), m.end(), word_stem(m.group(0))) for m in WORD_RE.finditer(text))


@lru_cache(maxsize=65536)
def word_stem(word: str) -> str | None:
    """`terms` of one word (one word in, at most one stem out), cached: words recur across the
    sentences and spans a question scores far more than the texts do (a third of the scorer's
    time went to stemming the same words again)."""
    found = terms(word)
    return found[0] if found else None


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
) -> SentenceFeatures:
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
    return SentenceFeatures(
        coverage=coverage,
        context_coverage=_coverage(weights, context | present),
        focus_coverage=_coverage(focus_weights, present),
        bigram=_bigram(question.terms, stems),
        dense=candidate.hit.dense,
        fused=candidate.hit.score,
        inverse_rank=1.0 / (1 + candidate.rank),
        kind_span=float(kind_span),
        near_kind_span=float(near_span),
        log_words=math.log1p(len(toks)),
        novel_share=len(present - q_terms) / max(len(present), 1),
        caseless=float(candidate.caseless),
        description=float(description),
        description_x_coverage=coverage * description,
        rare_matched=max(matched, default=0.0) / max_idf,
        rare_missing=max(missing, default=0.0) / max_idf,
        lead_sentence=float(candidate.position == 0 and candidate.hit.passage.start == 0),
        kind_span_x_coverage=coverage * kind_span,
        kind_span_near_match=kind_near,
    )


def sentence_features_by_id(
    question: QuestionAnalysis, candidates: list[SentenceCandidate], idf: Idf
) -> dict[int, SentenceFeatures]:
    """Each candidate's features, keyed by `id()` of the candidate (candidates are not hashable)."""
    weights = question_weights(question, idf)
    return {id(c): sentence_features(question, weights, c, idf) for c in candidates}


def span_features(
    question: QuestionAnalysis, candidate: SentenceCandidate, span: SpanCandidate, repeats: dict[str, int]
) -> SpanFeatures:
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
    label_kind = float(span.label in kind_labels)
    label_near = float(span.label in NEAR_LABELS[question.kind])

    def asked(kind: AnswerKind, value: float) -> float:
        return value if question.kind is kind else 0.0

    return SpanFeatures(
        label_kind=label_kind,
        label_near=label_near,
        noun_phrase=float(is_np),
        noun_phrase_x_thing=float(is_np and question.kind is AnswerKind.THING),
        entity=float(not is_np),
        question_overlap=overlap,
        log_distance=math.log1p(distance),
        log_words=math.log1p(len(inside)),
        category_match=float(bool(category & set(span_stems))),
        sentence_logit=candidate.logit,
        repeated=math.log1p(repeats.get(key, 1) - 1),
        caseless_x_entity=float(candidate.caseless and not is_np),
        inside_quote_marks=float(before.count('"') % 2 == 1 or before.count("“") > before.count("”")),
        starts_with_digit=float(span.text[:1].isdigit()),
        near_3=len(near_3) / n_terms,
        near_8=len(near_8) / n_terms,
        same_clause=same_clause,
        contains_question_term=contains_term,
        quantity_x_contains_term=contains_term * (question.kind is AnswerKind.QUANTITY),
        in_parentheses=float(before.count("(") > before.count(")")),
        first_of_kind=float(span.label in kind_labels and not same_kind_before),
        left_of_match=float(nearest is not None and inside[0] < nearest),
        label_kind_organization=asked(AnswerKind.ORGANIZATION, label_kind),
        label_kind_person=asked(AnswerKind.PERSON, label_kind),
        label_kind_place=asked(AnswerKind.PLACE, label_kind),
        label_kind_quantity=asked(AnswerKind.QUANTITY, label_kind),
        label_kind_time=asked(AnswerKind.TIME, label_kind),
        label_near_organization=asked(AnswerKind.ORGANIZATION, label_near),
        label_near_person=asked(AnswerKind.PERSON, label_near),
        label_near_place=asked(AnswerKind.PLACE, label_near),
        label_near_quantity=asked(AnswerKind.QUANTITY, label_near),
        label_near_time=asked(AnswerKind.TIME, label_near),
    )


def span_candidates(
    question: QuestionAnalysis, ranked: list[SentenceCandidate], sentences: int
) -> list[tuple[SpanFeatures, SentenceCandidate, SpanCandidate]]:
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
    question: QuestionAnalysis, ranked: list[SentenceCandidate], top: SentenceFeatures, span_logit: float | None
) -> AnswerableFeatures:
    """Question-level evidence that the best candidate really answers: `ranked` best first, `top` the first's features."""
    first = ranked[0]
    second_gap = first.logit - ranked[1].logit if len(ranked) > 1 else NO_SECOND_GAP
    return AnswerableFeatures(
        top_logit=first.logit,
        second_gap=second_gap,
        top_coverage=top.coverage,
        top_dense=first.hit.dense,
        max_dense=max(c.hit.dense for c in ranked),
        top_rare_missing=top.rare_missing,
        span_logit=span_logit if span_logit is not None else NO_SPAN_LOGIT,
        has_span=float(span_logit is not None),
        wants_short=float(question.kind.wants_short_answer),
        top_bigram=top.bigram,
    )
