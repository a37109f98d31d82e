"""What the reader sees: the question paired with a short window of one passage's sentences.

Training (`training/reader/`) and answering (`qa.answering.reader`) both build the reader's
input here, so the text the model was fitted on and the text it reads at answer time cannot
drift apart. A window is the title of the document, then one to three consecutive sentences:

    [CLS] question [SEP] title | sentence sentence [SEP]

The title names the subject that the sentences often refer to only as "he" or "the company".
A span may start anywhere in the sentences but never in the title.
"""

from __future__ import annotations

from dataclasses import dataclass

TITLE_SEPARATOR = " | "
SENTENCE_SEPARATOR = " "
MAX_LENGTH = 160  # tokens: question + title + window; longer windows are cut at the end
MAX_ANSWER_TOKENS = 30
MAX_TITLE_CHARS = 120


@dataclass(frozen=True)
class Window:
    """The reader's context text, and where each sentence starts in it (offsets into `text`)."""

    text: str
    body_start: int  # first character after the title
    starts: tuple[int, ...]
    lengths: tuple[int, ...]

    def sentence_at(self, offset: int) -> int:
        """Index of the sentence holding `offset` (the last one starting at or before it)."""
        found = 0
        for i, start in enumerate(self.starts):
            if start <= offset:
                found = i
        return found


def make_window(title: str | None, sentences: list[str]) -> Window:
    head = (title or "").strip()[:MAX_TITLE_CHARS]
    prefix = head + TITLE_SEPARATOR if head else ""
    starts, lengths, at = [], [], len(prefix)
    for s in sentences:
        starts.append(at)
        lengths.append(len(s))
        at += len(s) + len(SENTENCE_SEPARATOR)
    return Window(prefix + SENTENCE_SEPARATOR.join(sentences), len(prefix), tuple(starts), tuple(lengths))
