"""Where the answer is chosen: the shortest span of corpus text that answers the question.

Candidates are the sentences of the retrieved passages, plus a quote joined to the sentence that
attributes it. A candidate must:
  * carry what the question asks for: a person for "who", a time for "when", a figure for
    "how many/much", a place for "where" — something the question itself does not already say;
  * cover the question's content terms (IDF-weighted, so rare names count most) well enough.
Among those, the best mix of term coverage and retrieval similarity wins. If none qualifies, the
answerer declines rather than quote the nearest text. Copies of the answer sentence in other
documents (the same story reposted) are listed as extra sources of the one citation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from qa.corpus import Document
from qa.index import Index
from qa.retrieval import Hit
from qa.schema import Answer, Citation, Source
from qa.text import term_set, terms, words

DECLINE_MESSAGE = "I couldn't find an answer to that in the indexed articles. Try rephrasing, or ask about something they cover."

# ---- what the question asks for --------------------------------------------------------------
ROLE_WORDS = (
    r"director|spokes(?:man|woman|person)|official|minister|president|leader|secretary|adviser|advisor|"
    r"general|commander|chief|ceo|envoy|ambassador|senator|governor|mayor|chancellor|king|queen|"
    r"person|man|woman|author|founder|head|chairman|chair|judge|lawmaker|analyst|officer|reporter|"
    r"journalist|prime minister|premier|diplomat"
)
QUESTION_TYPES = [
    ("quantity", re.compile(
        r"\bhow (many|much|large|big|long|far|old|high|tall|heavy|fast|often)\b|"
        r"\bwhat (number|amount|percentage|percent|share|proportion|sum|price|cost|total|size|range|distance)\b|"
        r"\bwhat (is|was|were|are) the (number|amount|percentage|share|sum|price|cost|total|size|range|distance|population)\b")),
    ("time", re.compile(
        r"\bwhen\b|\bwhat (year|date|day|month|time|decade|century)\b|\bwhich (year|date|day|month|decade)\b|"
        r"\bhow long ago\b|\bsince when\b|\bin what year\b")),
    ("person", re.compile(rf"^\s*(who|whom|whose)\b|[,;]\s*(who|whom)\b|\b(which|what) (\w+ ){{0,3}}({ROLE_WORDS})\b")),
    ("place", re.compile(
        r"^\s*where\b|\bwhere (is|was|were|are|did|do|does|will|had|has)\b|"
        r"\b(which|what|in what) (country|countries|city|cities|town|region|state|place|capital|nation|province|location)\b")),
]

MONTH_NAMES = "january|february|march|april|may|june|july|august|september|october|november|december"
MONTH_ABBR = r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
TIME_RE = re.compile(
    rf"\b({MONTH_NAMES})\b|\b({MONTH_ABBR})\.(?=\s*\d)|"
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b(1[89]\d\d|20\d\d)s?\b|"
    r"\b(yesterday|today|tonight|tomorrow|overnight)\b|"
    r"\b(last|next|this|earlier this|later this|past|coming|previous)\s+(week|month|year|spring|summer|fall|autumn|winter|weekend|decade|century)\b|"
    r"\b(early|mid|late)[- ](\w+)\b|"
    r"\b\d+\s+(second|minute|hour|day|week|month|year|decade)s?\s+(ago|earlier|later|after|before)\b|"
    r"\b(in|during|since|by|until) (the )?(spring|summer|fall|autumn|winter)\b|"
    r"\b\d{1,2}(:\d\d)?\s?(a\.m\.|p\.m\.|am|pm)\b|\b(dawn|dusk|midnight|noon)\b|"
    r"\b(before|after|since|until|during|prior to|ahead of) (the )?(war|invasion|conflict|election|summit|"
    r"meeting|attack|pandemic|talks|vote|ceasefire|deal|start|end|beginning)\b|\b\w+ (began|started|ended)\b",
    re.IGNORECASE,
)
NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half|several hundred|a few hundred|"
    r"single|double|triple|once|twice"
)
NUMBER_WORD_RE = re.compile(rf"({NUMBER_WORDS})", re.IGNORECASE)
QUANTITY_RE = re.compile(
    r"[$€£¥]\s?\d[\d,.]*\s*(bn|m|k|billion|million|trillion)?|\b\d[\d,.]*\s*(%|percent|per cent)|"
    r"\b\d[\d,.]*\b(?!-)|" + rf"\b({NUMBER_WORDS})\b",
    re.IGNORECASE,
)
YEAR_RE = re.compile(r"^(1[89]\d\d|20\d\d)$")
CAPITALISED_RUN_RE = re.compile(r"\b([A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|van|von|bin|al|el|da))*)")
INSTITUTION_WORDS = set(
    """White House Council Security National Department Ministry Minister Defense Defence Congress Party
    Republican Democratic Democrat Senate Pentagon Kremlin Union Nations United States Government Office
    Agency Intelligence Army Forces Force Navy Committee Court Prime President Secretary Adviser Advisor
    Spokesman Spokesperson Director General The A An In On At For From By Of And But It He She They We I
    This That These Those Mr Mrs Ms Dr US U.S. UN EU NATO Russian Iranian American Ukrainian British
    Chinese Israeli Western European Middle East North South Korea Foreign Affairs Premium Independent
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July
    August September October November December""".split()
)
SPEECH_RE = re.compile(
    r"\b(said|says|told|tells|added|noted|warned|stated|wrote|asked|explained|according to|announced|argued|insisted|declared|claimed)\b",
    re.IGNORECASE,
)
QUOTE_CHARS = "\"“”«»"
DIRECTION_RE = re.compile(r"\b(north|south|east|west|northeast|northwest|southeast|southwest)(ern)? of\b|\b(near|outside|inside|in|at|to) [A-Z]", re.IGNORECASE)

# ---- scoring ---------------------------------------------------------------------------------
MIN_COVERAGE = 0.5  # share of the question's (IDF-weighted) terms the answer and its context must hold
MIN_SENTENCE_COVERAGE = 0.3  # ... and the answer span itself
MIN_DENSE = 0.15  # cosine of question and passage: only a guard against unrelated text
SAME_STORY_OVERLAP = 0.65  # shared-term share of two whole documents: one story, two outlets
DUPLICATE_OVERLAP = 0.5  # ... and of the answer sentence and its counterpart in the other copy
MAX_CANDIDATE_PASSAGES = 10
UNVERIFIED_PENALTY = 0.1


def question_type(question: str) -> str:
    """The type asked by the question's first wh-phrase ("Which country ... when ..." is a place)."""
    lowered = question.lower()
    first_wh = WH_RE.search(lowered)
    matches = [(m.start(), name) for name, pattern in QUESTION_TYPES if (m := pattern.search(lowered))]
    if not matches:
        return "other"
    start, name = min(matches)
    if first_wh and start > first_wh.start() + 3:  # an untyped "which/what ..." comes first
        return "other"
    return name


WH_RE = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
AUXILIARIES = {"did", "does", "do", "is", "was", "were", "are", "has", "have", "had", "will", "would",
               "can", "could", "the", "a", "an", "much", "many", "kind", "of", "type", "sort"}
FOCUS_WORDS = 3
FOCUS_BOOST = 2.0  # terms right after the wh-word name what the answer sentence must be about


MEASURE_RE = re.compile(r"\bwhat (?:is|was|were|are) the (number|amount|percentage|share|sum|price|cost|total|size|range|distance|population)\b")
CATEGORY_WEIGHT = 0.5  # "Which *country* ...": the answer names one, it rarely says "country"


def question_focus(question: str) -> tuple[set[str], set[str], list[str]]:
    """(focus terms, category terms, counted phrase) read from the words after the wh-word.

    "Which newspaper first reported X" → category {newspap}, focus {first, report}.
    "How many Shahed drones had Iran provided" → counted phrase [shahed, drone], focus the same.
    """
    m = WH_RE.search(question)
    if not m:
        return set(), set(), []
    wh = m.group(1).lower()
    following = words(question[m.end():])
    category: list[str] = []
    counted: list[str] = []
    if wh in {"which", "what"} and following and following[0] not in AUXILIARIES:
        category = [following.pop(0)]
    if wh == "how" and following and following[0] in {"many", "much"}:
        following.pop(0)
        for word in following:
            if word in AUXILIARIES:
                break
            counted.append(word)
    if wh == "what" and (measure := MEASURE_RE.search(question.lower())):
        counted = [measure.group(1)]
    focus = [w for w in following if w not in AUXILIARIES][:FOCUS_WORDS]
    return set(terms(" ".join(focus))), set(terms(" ".join(category))), terms(" ".join(counted))


def figure_near(text: str, counted: list[str], window: int = 5) -> bool:
    """A number within `window` words of the thing the question counts ("400 Shahed drones")."""
    if not counted:
        return True
    wanted = set(counted)
    tokens = words(text)
    number_at = [i for i, w in enumerate(tokens) if w[0].isdigit() or NUMBER_WORD_RE.fullmatch(w)]
    counted_at = [i for i, w in enumerate(tokens) if set(terms(w)) & wanted]
    return any(abs(i - j) <= window for i in number_at for j in counted_at)


def _novel(matches: list[str], question_words: set[str]) -> bool:
    """Some match carries words the question does not already contain."""
    return any(set(words(m)) - question_words for m in matches if m.strip())


def _names(text: str) -> list[str]:
    runs = []
    for m in CAPITALISED_RUN_RE.finditer(text):
        tokens = m.group(1).split()
        if not m.start():  # sentence-initial capital says nothing
            tokens = tokens[1:]
        if any(t.strip(".’'") not in INSTITUTION_WORDS for t in tokens) and tokens:
            runs.append(" ".join(tokens))
    return runs


UNVERIFIED = "unverified"


def has_answer_type(qtype: str, text: str, question_words: set[str]) -> bool | str:
    """Does `text` hold the kind of thing the question asks for, beyond what it already says?

    Returns UNVERIFIED for names in lower-cased text, where people and places can't be told apart.
    """
    if qtype == "other":
        return True
    caseless = not any(c.isupper() for c in text)
    if qtype == "time":
        return _novel([m.group(0) for m in TIME_RE.finditer(text)], question_words)
    if qtype == "quantity":
        found = [m.group(0) for m in QUANTITY_RE.finditer(text) if not YEAR_RE.match(m.group(0).strip())]
        return _novel(found, question_words)
    if caseless:
        return UNVERIFIED
    if qtype == "person":
        names = [n for n in _names(text) if len(n.split()) >= 2 or SPEECH_RE.search(text) or re.search(rf"\b(Mr|Mrs|Ms|Dr)\.? {re.escape(n)}", text)]
        return _novel(names, question_words)
    if qtype == "place":
        return _novel(_names(text), question_words) or bool(DIRECTION_RE.search(text))
    return True


FRAGMENT_RE = re.compile(r"^(with|including|from|at|for|to|of|in|by|about|than|after|before|and|or|but)\b", re.IGNORECASE)


def _is_fragment(sentence: str) -> bool:
    """A short piece cut off the sentence before it by stray punctuation ("... drones. With a range of ...")."""
    n_words = len(sentence.split())
    return n_words < 5 or (n_words < 15 and bool(FRAGMENT_RE.match(sentence)))


def _is_bare_quote(sentence: str) -> bool:
    """A quotation that does not say who said it."""
    return any(q in sentence for q in QUOTE_CHARS) and not SPEECH_RE.search(sentence)


@dataclass
class Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    coverage: float  # of question terms, by the span
    context_coverage: float  # by the span's passage
    score: float


class Answerer:
    """Picks the answer span from retrieved passages, or declines."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._n = max(len(index.passages), 1)
        self._doc_terms: dict[str, set[str]] = {}

    def doc_terms(self, doc_id: str) -> set[str]:
        if doc_id not in self._doc_terms:
            if len(self._doc_terms) > 1000:
                self._doc_terms.clear()
            self._doc_terms[doc_id] = set(terms(self.index.documents[doc_id].text))
        return self._doc_terms[doc_id]

    def same_story(self, doc_a: str, doc_b: str) -> bool:
        a, b = self.doc_terms(doc_a), self.doc_terms(doc_b)
        return bool(a and b) and len(a & b) / min(len(a), len(b)) >= SAME_STORY_OVERLAP

    def idf(self, term: str) -> float:
        df = self.index.passage_freq.get(term, 0)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def _coverage(self, weights: dict[str, float], text_terms: AbstractSet[str]) -> float:
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in text_terms) / total if total else 0.0

    def _spans(self, hit: Hit) -> list[tuple[int, int]]:
        """Each sentence, and each quote joined with its neighbour on the same line."""
        doc_text = self.index.documents[hit.passage.doc_id].text
        sentences = hit.passage.sentences
        spans = list(sentences)
        for (s1, e1), (s2, e2) in zip(sentences, sentences[1:], strict=False):
            first, second = doc_text[s1:e1], doc_text[s2:e2]
            if "\n" in doc_text[e1:s2]:
                continue
            if any(_is_bare_quote(a) and SPEECH_RE.search(b) for a, b in ((first, second), (second, first))) or _is_fragment(second):
                spans.append((s1, e2))
        return spans

    def run(self, question: str, hits: list[Hit], focus: str | None = None) -> Answer:
        """`question` is what retrieval used (a follow-up carries its context); `focus` the user's words."""
        focus = focus or question
        qtype = question_type(focus)
        q_terms = set(terms(question))
        focus_set, category, counted = question_focus(focus)
        weights = {
            t: self.idf(t) * (CATEGORY_WEIGHT if t in category else FOCUS_BOOST if t in focus_set else 1.0)
            for t in q_terms
        }
        question_words = set(words(question))
        best: Candidate | None = None
        for hit in hits[:MAX_CANDIDATE_PASSAGES]:
            if hit.dense < MIN_DENSE:
                continue
            doc_text = self.index.documents[hit.passage.doc_id].text
            context_cov = self._coverage(weights, term_set(hit.passage.text))
            if context_cov < MIN_COVERAGE:
                continue
            for start, end in self._spans(hit):
                text = doc_text[start:end]
                span_terms = term_set(text)
                typed = has_answer_type(qtype, text, question_words) if len(span_terms - q_terms) >= 2 else False
                if not typed or (qtype == "quantity" and not figure_near(text, counted)):
                    continue
                cov = self._coverage(weights, span_terms)
                if cov < MIN_SENTENCE_COVERAGE:
                    continue
                length_penalty = 0.04 * max(0, len(text) - 250) / 250
                score = 0.5 * cov + 0.15 * context_cov + 0.25 * hit.dense + 0.1 * hit.score - length_penalty
                if typed == UNVERIFIED:
                    score -= UNVERIFIED_PENALTY
                if best is None or score > best.score:
                    best = Candidate(hit, start, end, text, cov, context_cov, score)
        if best is None:
            return Answer(question=focus, answer=None, answered=False, message=DECLINE_MESSAGE, citations=[])
        citation = self._citation(best, hits)
        return Answer(question=focus, answer=f"{best.text} [1]", answered=True, message=None, citations=[citation])

    def _source(self, doc: Document, start: int, end: int) -> Source:
        return Source(
            doc_id=doc.doc_id, title=doc.title, url=doc.url, published=doc.published,
            publisher=doc.publisher, passage=doc.text[start:end], start=start, end=end,
        )

    def _citation(self, best: Candidate, hits: list[Hit]) -> Citation:
        doc = self.index.documents[best.hit.passage.doc_id]
        sources = [self._source(doc, best.start, best.end)]
        answer_terms = term_set(best.text)
        for hit in hits:
            other = self.index.documents[hit.passage.doc_id]
            if any(s.doc_id == other.doc_id for s in sources) or not self.same_story(doc.doc_id, other.doc_id):
                continue
            match = self.duplicate_sentence(answer_terms, hit)
            if match:
                sources.append(self._source(other, *match))
        return Citation(
            n=1, doc_id=doc.doc_id, title=doc.title, url=sources[0].url, published=doc.published,
            passage=best.text, start=best.start, end=best.end, score=round(best.score, 4), sources=sources,
        )

    def duplicate_sentence(self, answer_terms: AbstractSet[str], hit: Hit) -> tuple[int, int] | None:
        """The sentence of `hit` telling the same thing as the answer, if the story was reposted."""
        doc_text = self.index.documents[hit.passage.doc_id].text
        best, best_overlap = None, DUPLICATE_OVERLAP
        for start, end in hit.passage.sentences:
            sentence_terms = term_set(doc_text[start:end])
            smaller = min(len(sentence_terms), len(answer_terms))
            if smaller < 5:
                continue
            overlap = len(sentence_terms & answer_terms) / smaller
            if overlap >= best_overlap:
                best, best_overlap = (start, end), overlap
        return best
