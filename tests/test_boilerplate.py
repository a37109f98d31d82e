"""Segments one outlet repeats across many documents are learnt and removed; shared prose is not."""

from __future__ import annotations

import json

from qa.ingest.boilerplate import Boilerplate
from qa.ingest.cleaning import clean_text
from qa.ingest.sources import load_documents

TOPICS = [
    "The city council voted on Tuesday to raise parking fees in the old town by a fifth from April.",
    "Heavy snow closed three mountain passes overnight and stranded hundreds of lorries near the border.",
    "The central bank left interest rates unchanged, citing slowing inflation and weak exports.",
    "A new species of frog was described by biologists who surveyed the rainforest canopy last spring.",
    "The football club sacked its manager after a run of nine league games without a victory.",
    "Farmers protested outside parliament against cuts to subsidies for dairy and grain producers.",
]
DETAILS = [
    "Shopkeepers warned that higher charges would drive customers towards retail parks outside the ring road.",
    "Drivers queued for hours while ploughs cleared drifts taller than a bus near the summit tunnel.",
    "Markets had priced in a cut, and government bond yields rose sharply within minutes of the decision.",
    "The tiny amphibian glows faintly under ultraviolet light, a trait researchers are still trying to explain.",
    "Supporters had chanted against the owners during Saturday's defeat, their fourth at home this season.",
    "Tractors blocked two bridges for most of the afternoon before police negotiated a route for ambulances.",
]
CHROME = "Tap the bell for Riverside Gazette alerts Never stop reading our journalism"
FOOTER = "Riverside Gazette readers can send tips to the desk at any hour."
SHARED_QUOTE = '"We will not rest until every family is back home," the prime minister said on Sunday.'


def outlet_docs(n: int = 5) -> list[str]:
    return [f"{CHROME} {TOPICS[i]} {DETAILS[i]} {FOOTER}" for i in range(n)]


def test_segment_recurring_across_documents_of_one_outlet_is_removed():
    docs = outlet_docs()
    bp = Boilerplate.learn(("gazette", d) for d in docs)
    for i, doc in enumerate(docs):
        text = clean_text(doc, bp, "gazette").text
        assert "bell" not in text and "tips to the desk" not in text, text
        assert TOPICS[i] in text
    # Alone, without the corpus, the same document keeps them: only shapes are judged.
    assert "tips to the desk" in clean_text(docs[0]).text
    # Another outlet's documents are untouched by what this one repeats.
    assert "tips to the desk" in clean_text(docs[0], bp, "other-outlet").text


def test_sentence_repeated_across_outlets_or_in_one_story_is_kept():
    # Five outlets repeat the same quote: counted per outlet, it never recurs.
    rows = [(f"outlet{i}", f"{TOPICS[i]} {SHARED_QUOTE} Officials gave no further details.") for i in range(5)]
    bp = Boilerplate.learn(rows)
    assert all(SHARED_QUOTE in clean_text(t, bp, g).text for g, t in rows)
    # One outlet covering one story all week repeats background: same topic, so not boilerplate.
    background = "Rescue teams have searched the flooded valley for survivors since the dam burst on Friday."
    story = [
        f"Rescue teams found {n} more survivors in the flooded valley on day {n} after the dam burst, officials said. "
        f"{background} The flooded valley dam burst rescue survivors search teams continued overnight."
        for n in range(2, 8)
    ]
    bp = Boilerplate.learn(("gazette", t) for t in story)
    assert all(background in clean_text(t, bp, "gazette").text for t in story)


def test_datelines_are_never_learnt():
    docs = [f"MOSCOW, February 7. {topic}" for topic in TOPICS]
    bp = Boilerplate.learn(("wire", d) for d in docs)
    assert all(clean_text(d, bp, "wire").text.startswith("MOSCOW, February 7.") for d in docs)


def test_load_documents_learns_per_url_host(tmp_path):
    rows = [{"id": f"g{i}", "url": f"https://www.gazette.example/story/{i}", "text": d} for i, d in enumerate(outlet_docs(6))]
    rows.append({"id": "other", "url": "https://other.example/1", "text": outlet_docs(1)[0]})
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    warnings: list[str] = []
    docs = {d.doc_id: d for d in load_documents([tmp_path], warnings.append)}
    assert not warnings and len(docs) == 7
    assert all("tips to the desk" not in docs[f"g{i}"].text for i in range(6))
    assert "tips to the desk" in docs["other"].text  # a different host: nothing learnt from one document


def test_learning_is_deterministic():
    docs = [("gazette", d) for d in outlet_docs()]
    assert Boilerplate.learn(docs).stats() == Boilerplate.learn(list(reversed(docs))).stats()
