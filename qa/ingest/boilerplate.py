"""Learn a site's recurring furniture from the corpus itself.

A scrape often holds a whole article on one line, with the site's chrome glued into it: share
prompts, "media playback is not supported" notices, newsletter pitches, sign-offs. Whatever one
outlet prints around every story recurs verbatim across many of its documents, while a story's own
sentences do not. So, within each group (one outlet: a URL host, or a folder), segments that recur
in enough documents are boilerplate:

- whole segments (sentences, or pieces between runs of spaces) seen in several documents, and
- runs of `shingle_words` consecutive words seen in several documents, when the run starts or ends
  a segment (chrome is glued before or after a sentence, not into the middle of one).

Repetition alone is not enough: an outlet covering one story for a week repeats background
sentences and quotes. Those documents share their vocabulary, so a segment counts only if it
recurs in at least `min_docs` documents that are pairwise on different topics (word-set Jaccard
below `max_topic_similarity`). Datelines and attributed quotes are never learnt. Identical texts
count once. Everything is exact string matching, so the result is deterministic.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Segment boundaries: after sentence punctuation (and closing quotes/dashes), or a run of spaces,
# which in flattened scrapes marks where one page block was glued to the next.
SEGMENT_BREAK_RE = re.compile(r"(?<=[.!?])[\"'”’)\]?-]*\s+(?=\W*[A-Z0-9])|\s{2,}")
# A full stop after these ends an abbreviation, not a sentence: "U.S. officials", "Mr. Smith".
ABBREVIATION_RE = re.compile(
    r"(?:\b[A-Za-z]\.)+$|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gov|Sen|Rep|Gen|Col|Lt|Sgt|Capt|Prof|Rev|No|vs|Inc|Corp|Co|Ltd|"
    r"Jan|Feb|Mar|Apr|Aug|Sept?|Oct|Nov|Dec)\.$"
)
# How far back from a full stop `ABBREVIATION_RE` looks: the longest abbreviation, "U.S.A." or "Sept.",
# with room to spare.
ABBREVIATION_LOOKBACK_CHARS = 12
TOKEN_RE = re.compile(r"\S+")
MIN_SEGMENT_CHARS = 4  # shorter segments ("Yes.", "2.") recur everywhere and say nothing about an outlet
TOPIC_WORD_RE = re.compile(r"[a-z]{4,}")  # on normalised (lower-case) tokens
# "MOSCOW, February 7.", "WASHINGTON (AP) —", "Washington (CNN)": article prose, never furniture.
DATELINE_RE = re.compile(
    r"\W*(?:[A-Z][A-Z.'-]+(?:[ -][A-Z][A-Z.'-]+){0,3}\s*(?:,|\(|/|—|–|--?\s)"
    r"|[A-Z][\w.'-]+(?: [A-Z][\w.'-]+){0,3} \((?:[A-Z][A-Za-z]*)\))"
)
QUOTE_RE = re.compile(r"[\"“”]")
ATTRIBUTION_RE = re.compile(r"\b(said|says|told|added|asked|wrote|according to)\b", re.IGNORECASE)


def segments(text: str) -> list[tuple[int, int]]:
    """(start, end) of each segment of `text`: sentences, or blocks between runs of spaces."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in SEGMENT_BREAK_RE.finditer(text):
        if text[m.start() - 1 : m.start()] == "." and ABBREVIATION_RE.search(
            text, max(0, m.start() - ABBREVIATION_LOOKBACK_CHARS), m.start()
        ):
            continue
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _norm(token: str) -> str:
    return token.lower().strip("\"'“”‘’()[],;:.!?-–—")


def _key(tokens: list[str]) -> str:
    return " ".join(t for t in tokens if t)


def _shingles(tokens: list[str], n: int) -> Iterator[tuple[str, ...]]:
    """Every run of `n` consecutive tokens, in order."""
    return zip(*(tokens[k:] for k in range(n)), strict=False)


def is_attributed_quote(segment: str) -> bool:
    """A quote mark and a verb that attributes it: someone's words, which are the article's."""
    return bool(QUOTE_RE.search(segment) and ATTRIBUTION_RE.search(segment))


def is_protected(segment: str) -> bool:
    """Datelines and quotes with attribution are prose, however often they recur."""
    return bool(DATELINE_RE.match(segment)) or is_attributed_quote(segment)


def _covered(tokens: list[str], n: int, shingles: set[tuple[str, ...]]) -> list[bool]:
    """For each token: does it fall inside a run of `n` tokens that is one of `shingles`?"""
    covered = [False] * len(tokens)
    for i, shingle in enumerate(_shingles(tokens, n)):
        if shingle in shingles:
            covered[i : i + n] = [True] * n
    return covered


MIN_TOPIC_WORDS = 10  # a document with fewer words of its own cannot show what topic it is on
# A block of chrome does not end on a word that needs a continuation.
OPEN_ENDED = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "by",
        "for",
        "with",
        "from",
        "and",
        "or",
        "as",
    ]
)
STARTS_SENTENCE_RE = re.compile(r"[\"“‘']?[A-Z0-9]")


def _glued(matches: list[re.Match[str]], i: int, j: int) -> bool:
    """Is tokens[i:j] of a segment a block glued before or after a sentence (not a phrase in one)?"""
    if i == 0 and j == len(matches):
        return True
    if _norm(matches[j - 1].group()) in OPEN_ENDED:  # "The Islamic State of Iraq and the": mid-phrase
        return False
    if i == 0:  # glued before: the sentence that follows starts afresh with a capital
        return bool(STARTS_SENTENCE_RE.match(matches[j].group())) and not DATELINE_RE.match(matches[0].group())
    if j == len(matches):  # glued after punctuation: the block starts with a capital
        return bool(STARTS_SENTENCE_RE.match(matches[i].group())) and not matches[i - 1].group()[-1].isalnum()
    return False


@dataclass
class _Group:
    sentences: set[str] = field(default_factory=set)
    shingles: set[tuple[str, ...]] = field(default_factory=set)


@dataclass
class Boilerplate:
    """Recurring segments per group, learnt with `learn`, looked up with `spans`."""

    min_docs: int = 3  # a segment must recur in this many documents on different topics
    min_fraction: float = 0.02  # ... and in at least this share of the group's documents
    max_topic_similarity: float = 0.15  # Jaccard of two documents' words: above it, same story
    shingle_words: int = 8
    groups: dict[str, _Group] = field(default_factory=dict)

    @classmethod
    def learn(cls, docs: Iterable[tuple[str, str]], **params: float) -> Boilerplate:
        """Learn from (group, raw_text) pairs; groups are outlets (URL host) or folders."""
        learner = cls(**params)  # type: ignore[arg-type]
        by_group: dict[str, list[str]] = defaultdict(list)
        seen: set[tuple[str, str]] = set()
        for group, text in docs:
            if (group, text) not in seen:
                seen.add((group, text))
                by_group[group].append(text)
        for group in sorted(by_group):
            learner.groups[group] = learner._learn_group(by_group[group])
        return learner

    def threshold(self, group_size: int) -> int:
        return max(self.min_docs, math.ceil(self.min_fraction * group_size))

    def _learn_group(self, texts: list[str]) -> _Group:
        needed = self.threshold(len(texts))
        topics = self.min_docs
        learnt = _Group()
        if len(texts) < needed:
            return learnt
        sentence_docs: dict[str, list[int]] = defaultdict(list)
        shingle_docs: dict[tuple[str, ...], list[int]] = defaultdict(list)
        sample: dict[str, str] = {}
        n = self.shingle_words
        doc_segments: list[list[tuple[str, list[str]]]] = []
        for doc, text in enumerate(texts):
            doc_sentences: set[str] = set()
            doc_shingles: set[tuple[str, ...]] = set()
            doc_segments.append([])
            for line in text.split("\n"):
                for a, b in segments(line):
                    tokens = [_norm(t) for t in TOKEN_RE.findall(line[a:b])]
                    key = _key(tokens)
                    doc_segments[-1].append((key, tokens))
                    if len(key) >= MIN_SEGMENT_CHARS and key not in doc_sentences:
                        doc_sentences.add(key)
                        sample.setdefault(key, line[a:b])
                    doc_shingles.update(_shingles(tokens, n))
            for key in doc_sentences:
                sentence_docs[key].append(doc)
            for shingle in doc_shingles:
                shingle_docs[shingle].append(doc)

        # A document's topic is told by its own text: the segments that do not recur.
        recurring = {k for k, docs in sentence_docs.items() if len(docs) >= needed}
        recurring_shingles = {sh for sh, docs in shingle_docs.items() if len(docs) >= needed}
        vocab: dict[int, frozenset[str]] = {}

        def words(doc: int) -> frozenset[str]:
            if doc not in vocab:
                own: set[str] = set()
                for key, tokens in doc_segments[doc]:
                    if key in recurring:
                        continue
                    covered = _covered(tokens, n, recurring_shingles)
                    own.update(t for t, c in zip(tokens, covered, strict=False) if not c and TOPIC_WORD_RE.fullmatch(t))
                vocab[doc] = frozenset(own)
            return vocab[doc]

        verdicts: dict[tuple[int, ...], bool] = {}

        def diverse(docs: list[int]) -> bool:
            """At least `min_docs` of these documents are pairwise on different topics."""
            key = tuple(docs)
            if key not in verdicts:
                chosen: list[frozenset[str]] = []
                for doc in docs:
                    w = words(doc)
                    if len(w) < MIN_TOPIC_WORDS:  # too little text of its own to tell its topic
                        continue
                    if all(len(w & c) <= self.max_topic_similarity * len(w | c) for c in chosen):
                        chosen.append(w)
                        if len(chosen) >= topics:
                            break
                verdicts[key] = len(chosen) >= topics
            return verdicts[key]

        for key, docs in sentence_docs.items():
            if len(docs) >= needed and not is_protected(sample[key]) and diverse(docs):
                learnt.sentences.add(key)
        for shingle, docs in shingle_docs.items():
            if len(docs) >= needed and diverse(docs):
                learnt.shingles.add(shingle)
        return learnt

    def spans(self, group: str | None, line: str) -> list[tuple[int, int]]:
        """Character spans of `line` (one line of a document of `group`) that are boilerplate."""
        learnt = self.groups.get(group or "")
        if learnt is None or not (learnt.sentences or learnt.shingles):
            return []
        found: list[tuple[int, int]] = []
        n = self.shingle_words
        for a, b in segments(line):
            matches = list(TOKEN_RE.finditer(line, a, b))
            tokens = [_norm(m.group()) for m in matches]
            if _key(tokens) in learnt.sentences:
                found.append((a, b))
                continue
            if not learnt.shingles or len(tokens) <= n:
                continue
            covered = _covered(tokens, n, learnt.shingles)
            i = 0
            while i < len(tokens):
                if not covered[i]:
                    i += 1
                    continue
                j = i
                while j < len(tokens) and covered[j]:
                    j += 1
                # The run may reach a word or two into the sentence it is glued to ("... alerts The").
                for end in range(j, max(i, j - n // 2), -1):
                    if _glued(matches, i, end):
                        found.append((matches[i].start(), matches[end - 1].end()))
                        break
                i = j
        return found

    def stats(self) -> dict[str, tuple[int, int]]:
        """Per group: (recurring segments, recurring shingles) learnt."""
        return {g: (len(v.sentences), len(v.shingles)) for g, v in sorted(self.groups.items())}
