"""Word-level text handling shared by BM25, answer scoring and near-duplicate detection.

One tokenizer everywhere keeps the index's vocabulary and the answerer's term matching in step.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

WORD_RE = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)

# Function words only: content words such as "said" or "new" stay searchable.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    whose why will with would you your yours yourself yourselves also did does""".split()
)


# Irregular verb forms the stemmer cannot join to their base ("said" vs "say").
IRREGULAR = {
    "said": "say",
    "says": "say",
    "told": "tell",
    "tells": "tell",
    "went": "go",
    "gone": "go",
    "began": "begin",
    "begun": "begin",
    "bought": "buy",
    "sold": "sell",
    "held": "hold",
    "met": "meet",
    "won": "win",
    "took": "take",
    "taken": "take",
    "made": "make",
    "gave": "give",
    "given": "give",
    "sent": "send",
    "spent": "spend",
    "built": "build",
    "brought": "bring",
    "thought": "think",
    "found": "find",
    "left": "leave",
    "led": "lead",
    "paid": "pay",
    "fought": "fight",
    "struck": "strike",
    "shot": "shoot",
    "wrote": "write",
    "written": "write",
    "saw": "see",
    "seen": "see",
    "knew": "know",
    "known": "know",
    "chose": "choose",
    "chosen": "choose",
    "flew": "fly",
    "flown": "fly",
    "fell": "fall",
    "rose": "rise",
    "risen": "rise",
    "stood": "stand",
    "caught": "catch",
    "sought": "seek",
    "kept": "keep",
    "lost": "lose",
    "meant": "mean",
    "ran": "run",
    "came": "come",
    "became": "become",
    "got": "get",
    "hid": "hide",
    "drew": "draw",
    "drawn": "draw",
    "spoke": "speak",
    "spoken": "speak",
    "froze": "freeze",
}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes normalised, nothing removed."""
    return [w.replace("’", "'") for w in WORD_RE.findall(text.lower())]


def terms(text: str) -> list[str]:
    """Stemmed content terms: what BM25 indexes and what answers are matched on."""
    kept = [w for w in words(text) if w not in STOPWORDS]
    kept = [IRREGULAR.get(w, w) for w in (w[:-2] if w.endswith("'s") else w for w in kept)]
    return _stemmer().stemWords(kept)


def terms_batch(texts: list[str]) -> list[list[str]]:
    return [terms(t) for t in texts]


@lru_cache(maxsize=65536)
def term_set(text: str) -> frozenset[str]:
    """`terms` as a set, cached: the answerer scores the same sentences for many questions."""
    return frozenset(terms(text))
