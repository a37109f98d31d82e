"""Every supported format loads; bad files are skipped with a warning naming them."""

from __future__ import annotations

import json

import pytest

from qa.ingest.sources import CorpusError, load_documents

PROSE = (
    "Officials in the capital said on Tuesday that the bridge would reopen to traffic next month after "
    "repairs costing $4 million were completed ahead of schedule."
)


def load(paths):
    warnings: list[str] = []
    docs = list(load_documents(paths, warnings.append))
    return docs, warnings


def test_formats_and_doc_ids(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "plain.txt").write_text(f"Bridge to reopen\n{PROSE}\n")
    (tmp_path / "sub" / "notes.md").write_text(
        f"# Bridge to reopen\n\nOfficials **said** so in [a statement](http://x).\n\n{PROSE}\n"
    )
    (tmp_path / "page.html").write_text(
        "<html><head><title>Bridge to reopen | City News</title></head><body><nav><a href='/'>Home</a> &gt; "
        f"<a href='/n'>News</a></nav><article><h1>Bridge to reopen</h1><p>{PROSE}</p><p>{PROSE.replace('bridge', 'tunnel')}</p>"
        "</article><footer>Subscribe to our newsletter</footer></body></html>"
    )
    rows = [
        {"id": "wire-1", "text": PROSE, "title": "Wire story", "url": "https://example.com/wire-1", "published": "2024-05-01"},
        {"text": PROSE.replace("bridge", "road")},
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    docs, warnings = load([tmp_path])
    assert not warnings
    by_id = {d.doc_id: d for d in docs}
    assert set(by_id) == {"plain", "sub/notes", "page", "wire-1", "feed/2"}
    assert by_id["plain"].title == "Bridge to reopen"
    assert "**" not in by_id["sub/notes"].text and "http://x" not in by_id["sub/notes"].text
    assert "Subscribe" not in by_id["page"].text and "Home" not in by_id["page"].text
    assert "bridge would reopen" in by_id["page"].text
    wire = by_id["wire-1"]
    assert (wire.title, wire.url, wire.published) == ("Wire story", "https://example.com/wire-1", "2024-05-01")


def test_folder_metadata_overrides_text(tmp_path):
    (tmp_path / "a.txt").write_text(f"Bridge to reopen\n{PROSE}\n")
    (tmp_path / "metadata.json").write_text(json.dumps({"a": {"publisher": "City News", "url": "https://city.example/a"}}))
    docs, _ = load([tmp_path])
    assert [(d.doc_id, d.publisher, d.url) for d in docs] == [("a", "City News", "https://city.example/a")]


def test_bad_files_are_skipped_with_a_warning_and_the_rest_indexed(tmp_path):
    (tmp_path / "good.txt").write_text(PROSE)
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing-target.txt")
    (tmp_path / "latin1.txt").write_bytes(PROSE.replace("capital", "capitál").encode("latin-1"))
    (tmp_path / "bad.jsonl").write_text('{"text": "' + PROSE + '"}\nnot json\n{"title": "no text"}\n')
    docs, warnings = load([tmp_path])
    ids = sorted(d.doc_id for d in docs)
    assert ids == ["bad/1", "good", "latin1"]
    joined = "\n".join(warnings)
    for name in ("empty.txt", "binary.txt", "dangling.txt", "latin1.txt", "bad.jsonl:2", "bad.jsonl:3"):
        assert name in joined
    latin = next(d for d in docs if d.doc_id == "latin1")
    assert "\ufffd" in latin.text


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        load([tmp_path / "nope"])


def test_markdown_is_read_as_the_text_it_shows(tmp_path):
    # The document's text (and every passage offset) is the cleaned text Markdown renders to: markup,
    # link targets, images and fenced code go; escapes and entities read as the characters they stand for.
    (tmp_path / "story.md").write_text(
        "Bridge to reopen\n================\n\n"
        "Officials __said__ so in [a statement](http://x) ![the bridge](bridge.png) on *Tuesday*, adding that tolls "
        "would stay at \\*two\\* dollars &amp; fifty cents.\n\n"
        "```\nprint('not the article')\n```\n\n"
        f"{PROSE}\n\n- A list item\n1. Another item\n"
    )
    docs, warnings = load([tmp_path])
    assert not warnings and len(docs) == 1
    doc = docs[0]
    assert doc.title == "Bridge to reopen"
    assert (
        doc.text.split()
        == (
            "Officials said so in a statement on Tuesday, adding that tolls would stay at *two* dollars & fifty cents. " + PROSE
        ).split()
    )
    # List items keep their marker, so cleaning still knows them for list items, not paragraphs.
    assert "A list item" not in doc.text and "Another item" not in doc.text
