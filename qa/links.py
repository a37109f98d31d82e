"""Links to cited passages, built by each front end rather than the core.

The core knows document ids and character offsets; only a front end knows whether a source
viewer is reachable and at which address (`qa serve` on its own host, a public URL for Slack,
nothing at all for the CLI run on a laptop). A `LinkBuilder` holds that knowledge and fills the
`url` fields of an answer: the article's own URL when the document has one, else a viewer link
when a viewer base is known, else None.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from qa.schema import Answer, SearchResponse


def viewer_path(doc_id: str, start: int, end: int) -> str:
    """Path of the source viewer page highlighting `start:end` of a document."""
    return f"/sources/{quote(doc_id, safe='')}#c{start}-{end}"


@dataclass(frozen=True)
class LinkBuilder:
    viewer_base: str | None = None  # e.g. "https://qa.example.com"; None: there is no viewer to link to

    def url(self, doc_id: str, start: int, end: int, own_url: str | None = None) -> str | None:
        if own_url:
            return own_url
        if self.viewer_base:
            return self.viewer_base.rstrip("/") + viewer_path(doc_id, start, end)
        return None

    def answer(self, answer: Answer) -> Answer:
        """A copy of `answer` whose citations and sources carry links."""
        linked = answer.model_copy(deep=True)
        for citation in linked.citations:
            citation.url = self.url(citation.doc_id, citation.start, citation.end, citation.url)
            for source in citation.sources:
                source.url = self.url(source.doc_id, source.start, source.end, source.url)
        return linked

    def search(self, response: SearchResponse) -> SearchResponse:
        """A copy of `response` whose results carry links."""
        linked = response.model_copy(deep=True)
        for result in linked.results:
            result.url = self.url(result.doc_id, result.start, result.end, result.url)
        return linked
