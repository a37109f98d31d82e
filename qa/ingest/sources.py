"""Read articles from files and folders into cleaned `Document`s.

Supported: `.txt`, `.md`, `.html`/`.htm` (main text through trafilatura) and `.jsonl` (one document
a line). A folder may hold a `metadata.json` mapping doc ids to `title`, `publisher`, `published`
and `url`; those override what cleaning reads from the text. Bad files are reported through `warn`
and skipped, so one broken file never stops an indexing run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from qa.errors import BadInput
from qa.ingest.boilerplate import Boilerplate
from qa.ingest.cleaning import clean_text

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"}
METADATA_FILE = "metadata.json"
META_FIELDS = ("title", "publisher", "published", "url")

Warn = Callable[[str], None]


class CorpusError(BadInput):
    """Raised when there is nothing to index at all."""


@dataclass
class Document:
    doc_id: str
    text: str  # cleaned article text; passage offsets point into it
    title: str
    url: str | None = None
    published: str | None = None
    publisher: str | None = None
    source: str | None = None  # file the document came from
    content_hash: str = ""
    root: str | None = None  # the folder or file given to `qa index` that found it

    def to_dict(self) -> dict:
        return asdict(self)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_text(path: Path, warn: Warn) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        warn(f"skipped {path}: cannot read it ({exc.strerror or exc})")
        return None
    if b"\x00" in data[:8192]:
        warn(f"skipped {path}: looks binary")
        return None
    text = data.decode("utf-8", errors="replace")
    if "\ufffd" in text and "\ufffd".encode() not in data:
        warn(f"{path}: not valid UTF-8; undecodable bytes replaced")
    if not text.strip():
        warn(f"skipped {path}: empty")
        return None
    return text


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt  # imported lazily: only Markdown needs it

    return MarkdownIt("commonmark")


def _inline_text(children: list[Token]) -> str:
    """The words of one paragraph or heading: emphasis and link syntax go, images go entirely."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _markdown_to_text(text: str) -> str:
    """The text a Markdown file shows, for cleaning like any other text.

    Lines stay lines (cleaning judges each one: title, date, prose), so a paragraph keeps its line
    breaks; list items keep their marker ("- ", "3. "), which tells cleaning they are list items;
    fenced code is dropped, an indented block (in a scrape, more often indented prose than code)
    and raw HTML are kept as written. The document's text, and every passage offset, is what
    cleaning makes of this.
    """
    lines: list[str] = []
    marker = ""
    for token in _markdown().parse(text):
        if token.type == "list_item_open":
            marker = f"{token.info}{token.markup} "
        elif token.type == "inline":
            lines.append(marker + _inline_text(token.children or []))
            marker = ""
        elif token.type in ("code_block", "html_block"):
            lines.append(token.content.rstrip("\n"))
    return "\n".join(lines)


def _html_document(html: str) -> dict | None:
    import trafilatura  # imported lazily: only HTML needs it

    extracted = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=False, with_metadata=True, favor_precision=True
    )
    if extracted is None:
        return None
    data = extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
    if not (data.get("text") or "").strip():
        return None
    return {
        "text": data["text"],
        "title": data.get("title"),
        "published": data.get("date"),
        "publisher": data.get("sitename"),
        "url": data.get("url"),
    }


def make_document(
    doc_id: str,
    raw_text: str,
    meta: dict,
    source: str | None,
    boilerplate: Boilerplate | None = None,
    group: str | None = None,
) -> Document | None:
    """Clean one article's text; metadata given explicitly wins over what the text states."""
    cleaned = clean_text(raw_text, boilerplate, group)
    if not cleaned.text.strip():
        return None
    fields = {
        "title": cleaned.title,
        "published": cleaned.published,
        "publisher": cleaned.publisher,
        "url": None,
    }
    fields.update({k: str(v) for k, v in meta.items() if k in META_FIELDS and v})
    return Document(
        doc_id=doc_id,
        text=cleaned.text,
        title=fields["title"] or doc_id,
        url=fields["url"],
        published=fields["published"],
        publisher=fields["publisher"],
        source=source,
        content_hash=_hash(json.dumps([doc_id, cleaned.text, fields], sort_keys=True)),
    )


@dataclass
class _Raw:
    """One document's text as read, before cleaning (the first of `load_documents`' two passes)."""

    doc_id: str
    text: str
    meta: dict
    source: str
    group: str


def group_of(url: str | None, root: str) -> str:
    """Documents of one outlet share furniture: group by URL host when known, else by `root`, the
    folder or file given to `qa index` (`index_root`)."""
    host = urlparse(url).netloc.lower() if url else ""
    return host.removeprefix("www.") if host else root


def _jsonl_raw(path: Path, base_id: str, root: str, warn: Warn) -> Iterator[_Raw]:
    text = _read_text(path, warn)
    if text is None:
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            warn(f"skipped {path}:{lineno}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            warn(f'skipped {path}:{lineno}: needs a non-empty "text" field')
            continue
        doc_id = str(record.get("id") or f"{base_id}/{lineno}")
        url = record.get("url") if isinstance(record.get("url"), str) else None
        yield _Raw(doc_id, record["text"], record, f"{path}:{lineno}", group_of(url, root))


def _file_raw(path: Path, doc_id: str, meta: dict, root: str, warn: Warn) -> Iterator[_Raw]:
    """The documents one file holds (a `.jsonl` file holds many), read but not yet cleaned."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _jsonl_raw(path, doc_id, root, warn)
        return
    text = _read_text(path, warn)
    if text is None:
        return
    if suffix in {".html", ".htm"}:
        extracted = _html_document(text)
        if extracted is None:
            warn(f"skipped {path}: no article text found in the HTML")
            return
        text = extracted.pop("text")
        meta = {**{k: v for k, v in extracted.items() if v}, **meta}
    elif suffix in {".md", ".markdown"}:
        text = _markdown_to_text(text)
    url = meta.get("url") if isinstance(meta.get("url"), str) else None
    yield _Raw(doc_id, text, meta, str(path), group_of(url, root))


def _folder_metadata(folder: Path, warn: Warn) -> dict[str, dict]:
    meta_path = folder / METADATA_FILE
    if not meta_path.is_file():
        return {}
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("expected an object keyed by doc id")
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}
    except (OSError, ValueError) as exc:
        warn(f"ignored {meta_path}: {exc}")
        return {}


def index_root(path: Path) -> str:
    """How a path given to `qa index` is remembered, to find documents whose files disappeared."""
    return str(path.resolve())


def iter_sources(paths: list[Path]) -> Iterator[tuple[Path, str, Path | None, Path]]:
    """(file, doc_id, folder it was found in, path given) for every supported file under `paths`."""
    for root in paths:
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
                if path.suffix.lower() in TEXT_SUFFIXES and not any(
                    part.startswith(".") for part in path.relative_to(root).parts
                ):
                    yield path, path.relative_to(root).with_suffix("").as_posix(), root, root
        else:
            yield root, root.stem, None, root


def load_documents(paths: list[Path], warn: Warn) -> Iterator[Document]:
    """Every document under `paths`. Raises CorpusError for paths that do not exist.

    Two passes: every text is read first, so that `Boilerplate` can learn what recurs across the
    documents of each outlet (URL host) or folder; then each document is cleaned with it.
    """
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CorpusError(f"no such file or folder: {', '.join(missing)}")
    folder_meta: dict[Path, dict[str, dict]] = {}
    raws: list[tuple[_Raw, str]] = []  # each with its index root
    for path, doc_id, folder, given in iter_sources(paths):
        meta: dict = {}
        if folder is not None:
            if folder not in folder_meta:
                folder_meta[folder] = _folder_metadata(folder, warn)
            meta = folder_meta[folder].get(doc_id, {})
        elif path.suffix.lower() not in TEXT_SUFFIXES:
            warn(f"skipped {path}: unsupported file type (use .txt, .md, .html or .jsonl)")
            continue
        root = index_root(given)
        raws.extend((raw, root) for raw in _file_raw(path, doc_id, meta, root, warn))
    boilerplate = Boilerplate.learn((raw.group, raw.text) for raw, _ in raws)
    for raw, root in raws:
        doc = make_document(raw.doc_id, raw.text, raw.meta, raw.source, boilerplate, raw.group)
        if doc is None:
            warn(f"skipped {raw.source}: nothing left after removing page furniture")
            continue
        doc.root = root
        yield doc
