"""The answer object: the one contract every front end (CLI, HTTP, Slack) serialises."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Source(BaseModel):
    """One outlet's copy of a cited passage (reposted stories list several)."""

    doc_id: str
    title: str
    url: str | None = Field(None, description="The article's own URL; front ends may fill in a source-viewer link.")
    published: str | None = None
    publisher: str | None = None
    passage: str
    start: int
    end: int


class Citation(BaseModel):
    n: int = Field(description="The number used by the inline marker [n] in the answer.")
    doc_id: str
    title: str
    url: str | None = Field(None, description="The article's own URL, or a source-viewer link to the exact span, or null.")
    published: str | None = None
    passage: str = Field(description="The cited text: document text[start:end].")
    start: int
    end: int
    score: float
    sources: list[Source] = Field(description="Every document carrying this passage, this one first.")


class ResolvedTime(BaseModel):
    """A time answer read against its article's publication date ("last year" in an article of
    3 Mar 2017 is 2016)."""

    value: str = Field(description="ISO year (2016), month (2016-09), week (its Monday, 2017-02-06) or day (2017-02-07).")
    granularity: str = Field(description="year, month, week or day.")
    expression: str = Field(description="The span as the article writes it (short_answer).")
    published: str = Field(description="The publication date it was resolved against.")
    relative: bool = Field(description="Whether the value depended on the publication date.")
    uncertain: bool = Field(
        description="A best reading that the sentence does not settle (a weekday that is the publication day's own)."
    )


class EarlierReport(BaseModel):
    """An older article on a developing story that gave a different answer ("at least 6" before "at least 20")."""

    short_answer: str = Field(description="What that report said, as written.")
    published: str = Field(description="Its article's publication date (ISO).")
    n: int = Field(description="The number of its citation.")


class Answer(BaseModel):
    question: str
    answer: str | None = Field(description="Extracted answer with [n] markers, or null when declined.")
    answered: bool
    short_answer: str | None = Field(
        None, description="The exact span that answers (a name, date, figure), or null for descriptive questions."
    )
    short_start: int | None = Field(None, description="Offset of short_answer in the first citation's document text.")
    short_end: int | None = None
    headline: str | None = Field(
        None,
        description="What the answer text leads with before ' — ' and the evidence: short_answer, or for a "
        'time answer its resolved value with the span and article date (2016 ("last year", article of 3 Mar 2017)).',
    )
    resolved: ResolvedTime | None = Field(
        None, description="For a time answer: its value resolved against the article's date; null otherwise."
    )
    earlier: list[EarlierReport] = Field(
        [],
        description="On a developing story: older reports that said something else, newest first (the answer is the newest).",
    )
    kind: str | None = Field(
        None, description="What the question asks for: person, organization, place, time, quantity, thing, description."
    )
    confidence: float | None = Field(
        None, description="The model's probability that the answer is right (declined below its threshold)."
    )
    message: str | None = Field(None, description="Why no answer was given; null when answered.")
    citations: list[Citation] = []
    took_ms: float = 0.0

    def evidence(self) -> tuple[tuple[str, int, int], ...]:
        """(doc_id, start, end) of every cited sentence, reposts included."""
        return tuple((s.doc_id, s.start, s.end) for c in self.citations for s in c.sources)


class SearchResult(BaseModel):
    doc_id: str
    title: str
    url: str | None = None
    passage: str
    start: int
    end: int
    score: float


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]
