"""Each answering stage alone, on invented articles that are not in the bundled corpus."""

from __future__ import annotations

import json

import pytest
from helpers import invented_pipeline

from qa.answering import AnswerKind, QuestionAnalyzer
from qa.answering.answerer import Answerer
from qa.answering.candidates import CandidateExtractor, is_caseless
from qa.answering.features import SpanFeatures, question_weights, sentence_features
from qa.answering.scorer import MODEL_PATH, ModelError, ScorerModel
from qa.conversation import Conversation
from qa.ingest.sources import make_document
from qa.ingest.tagging import SpanTagger
from qa.pipeline import QAPipeline
from qa.retrieval import HybridRetriever
from qa.stores.local.index import build_index, load_index
from qa.stores.local.snapshots import Snapshots

ARTICLES = {
    "harbour": (
        "Port authority approves new harbour bridge",
        "LISBON — The port authority approved a new harbour bridge on Tuesday after a two-year review. "
        "The bridge will cost about 480 million euros and span 1,200 metres, officials said. "
        "Construction is led by Maria Duarte, the authority's chief engineer, who said work would begin in May. "
        "Critics of the bridge argued that the money should have gone to public transport instead.",
    ),
    "harbour-repost": (
        "Harbour bridge gets the go-ahead",
        "The port authority approved a new harbour bridge on Tuesday after a two-year review, the city said. "
        "The bridge will cost about 480 million euros and span 1,200 metres, officials said. "
        "Construction is led by Maria Duarte, the authority's chief engineer, who said work would begin in May.",
    ),
    "harbour-other-outlet": (
        "Engineers welcome bridge decision",
        "Engineering groups welcomed the decision on the harbour bridge. "
        "Maria Duarte, the chief engineer, will lead construction, which the authority expects to begin in May. "
        "Local cyclists have asked for a separate lane on the bridge.",
    ),
    "orchestra": (
        "Orchestra names new conductor",
        "The Northern Symphony Orchestra named Tomas Lindqvist as its principal conductor on Friday. "
        "Lindqvist, 41, previously led a chamber ensemble for eight years. "
        "The orchestra said ticket sales rose 12 percent last season.",
    ),
    "storm": (
        "Storm closes schools along the coast",
        "A storm closed more than 300 schools along the coast on Monday, regional officials said. "
        "Wind gusts reached 140 kilometres per hour in the worst-hit areas. "
        "The weather service expects the storm to weaken by Wednesday.",
    ),
}


@pytest.fixture(scope="module")
def stages_pipeline(tmp_path_factory, encoder) -> QAPipeline:
    """The real pipeline (retriever → answerer, conversations) over the invented articles."""
    return invented_pipeline(ARTICLES, tmp_path_factory.mktemp("stages"), encoder)


@pytest.fixture(scope="module")
def answerer(stages_pipeline):
    return stages_pipeline.loaded.answerer, stages_pipeline.loaded.retriever


@pytest.mark.parametrize(
    "question,kind",
    [
        ("Who leads construction of the bridge?", AnswerKind.PERSON),
        ("Whom did the orchestra name?", AnswerKind.PERSON),
        ("Which engineer leads the work?", AnswerKind.PERSON),
        ("When did the storm close schools?", AnswerKind.TIME),
        ("In what year was the bridge approved?", AnswerKind.TIME),
        ("Where was the bridge approved?", AnswerKind.PLACE),
        ("Which city approved the bridge?", AnswerKind.PLACE),
        ("How many schools closed?", AnswerKind.QUANTITY),
        ("How much will the bridge cost?", AnswerKind.QUANTITY),
        ("What is the population of the region?", AnswerKind.QUANTITY),
        ("Which orchestra named a conductor?", AnswerKind.ORGANIZATION),
        ("Why did critics object to the bridge?", AnswerKind.DESCRIPTION),
        ("How did engineers react?", AnswerKind.DESCRIPTION),
        ("What happened to the schools?", AnswerKind.DESCRIPTION),
        ("What did the weather service say about the storm?", AnswerKind.DESCRIPTION),
        ("What instrument does the conductor play?", AnswerKind.THING),
        # questions of the bundled corpus
        ("Who is the spokesman for Iran's foreign ministry?", AnswerKind.PERSON),
        ("Which CIA director warned about Russia?", AnswerKind.PERSON),
        ("When did Iran host Shoigu?", AnswerKind.TIME),
        ("Which country did Zelensky visit when he pressed Sunak?", AnswerKind.PLACE),
        ("How many Shahed drones had Iran provided?", AnswerKind.QUANTITY),
        ("What is the range of the drones?", AnswerKind.QUANTITY),
        ("Which newspaper first reported the transfer?", AnswerKind.ORGANIZATION),
    ],
)
def test_question_analysis_reads_the_kind_from_grammar(question, kind):
    assert QuestionAnalyzer().run(question).kind is kind


def test_question_analysis_keeps_focus_and_category():
    analysis = QuestionAnalyzer().run("Which city approved the harbour bridge?")
    assert analysis.category == "city" and "approv" in analysis.focus and "citi" not in analysis.focus
    assert "harbour" in analysis.terms and "bridg" in analysis.terms


def test_tagger_finds_entities_and_noun_phrases_with_document_offsets():
    text = "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss a new trade agreement."
    spans = SpanTagger().run([text[10:]], [10])[0]
    found = {(text[s:e], label) for s, e, label in spans}
    assert ("Emmanuel Macron", "PERSON") in found and ("Paris", "GPE") in found and ("Tuesday", "DATE") in found
    assert any(label == "NP" and "trade agreement" in text[s:e] for s, e, label in spans)


def test_candidates_are_sentences_with_their_spans(answerer):
    a, retriever = answerer
    candidates = CandidateExtractor(a.index).run(retriever.run("orchestra conductor", 2))
    orchestra = [c for c in candidates if c.doc_id == "orchestra"]
    assert orchestra and all(c.text == a.index.documents["orchestra"].text[c.start : c.end] for c in orchestra)
    first = next(c for c in orchestra if "Tomas Lindqvist" in c.text)
    assert any(s.text == "Tomas Lindqvist" and s.label == "PERSON" for s in first.spans)
    assert all(c.start <= s.start and s.end <= c.end for c in candidates for s in c.spans)


def test_caseless_is_a_document_property():
    assert is_caseless("the minister said on monday that talks would resume.")
    assert not is_caseless("The minister said on Monday that talks would resume.")


def test_sentence_features_reward_coverage_and_the_asked_kind(answerer):
    a, retriever = answerer
    analysis = QuestionAnalyzer().run("When did the storm close schools?")
    candidates = CandidateExtractor(a.index).run(retriever.run(analysis.text, 3))
    weights = question_weights(analysis, a.idf)
    by_text = {c.text: sentence_features(analysis, weights, c, a.idf) for c in candidates}
    closed = next(v for t, v in by_text.items() if t.startswith("A storm closed"))
    gusts = next(v for t, v in by_text.items() if t.startswith("Wind gusts"))
    assert closed.coverage > gusts.coverage
    assert closed.kind_span == 1.0


def test_the_scorer_reads_its_weights_by_feature_name(tmp_path):
    data = json.loads(MODEL_PATH.read_text())
    assert list(data["span"]["features"]) == list(SpanFeatures.names())
    data["span"]["features"] = dict(reversed(data["span"]["features"].items()))  # order is not meaning
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    assert ScorerModel.load(path).span.weights == ScorerModel.load().span.weights
    data["span"]["features"]["log_width"] = data["span"]["features"].pop("log_words")
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"no weight for \['log_words'\].*never computed: \['log_width'\]"):
        ScorerModel.load(path)


def test_scorer_picks_the_short_answer_of_the_asked_kind(stages_pipeline):
    ask = stages_pipeline.ask
    answer = ask("Who is leading construction of the harbour bridge?")
    assert answer.answered and answer.short_answer == "Maria Duarte"
    doc = stages_pipeline.index.documents[answer.citations[0].doc_id]
    assert doc.text[answer.short_start : answer.short_end] == "Maria Duarte"
    assert answer.answer.startswith("Maria Duarte — ")
    when = ask("When did the storm close the schools?")
    assert when.short_answer == "Monday" and "[1]" in when.answer
    many = ask("How many schools did the storm close?")
    assert many.short_answer is not None and "300" in many.short_answer


def test_descriptive_questions_answer_with_the_evidence_sentence(stages_pipeline):
    answer = stages_pipeline.ask("What did critics of the harbour bridge say?")
    assert answer.answered and "public transport" in answer.answer
    evidence = answer.citations[0].passage
    assert answer.short_answer is None or answer.short_answer in evidence  # the reader may lead with the clause that says it


def test_unanswerable_questions_are_declined(stages_pipeline):
    for question in (
        "Who won the chess championship in Madrid?",
        "What is the capital of Mars?",
        "How many goals did the striker score against the champions?",
    ):
        answer = stages_pipeline.ask(question)
        assert not answer.answered and answer.citations == [] and answer.message


def test_reposts_fold_into_one_citation_and_other_outlets_corroborate(stages_pipeline):
    answer = stages_pipeline.ask("Who leads construction of the new harbour bridge?")
    first = answer.citations[0]
    assert {s.doc_id for s in first.sources} >= {"harbour", "harbour-repost"} - {first.doc_id} | {first.doc_id}
    assert [c.n for c in answer.citations][:2] == [1, 2]
    assert "harbour-other-outlet" in {c.doc_id for c in answer.citations[1:]}
    assert answer.answer.endswith("[1][2]")


def test_the_same_sentence_is_judged_the_same_whatever_the_nationality(tmp_path, encoder):
    """No word list of countries: "French diplomats said" and "Russian diplomats said" answer alike."""
    verdicts = []
    for n, nationality in enumerate(("French", "Russian", "Iranian", "Brazilian")):
        text = (
            f"{nationality} diplomats said the talks in Geneva would resume on Thursday. "
            "The delegations had paused the negotiations last week after a dispute over sanctions."
        )
        doc = make_document("talks", text, {"title": "Talks to resume"}, None)
        assert doc is not None
        store = Snapshots(tmp_path / str(n))
        build_index([doc], encoder, store, 600)
        index = load_index(store, encoder.model_name, encoder.backend)
        answer = Answerer(index).run(
            "When will the talks in Geneva resume?",
            HybridRetriever(index, encoder).run("When will the talks in Geneva resume?", 5),
        )
        verdicts.append((answer.answered, answer.short_answer))
    assert verdicts[0] == (True, "Thursday")
    assert len(set(verdicts)) == 1


def test_followup_that_changes_focus_gets_a_new_answer(stages_pipeline):
    conversation_id = stages_pipeline.conversations.start()
    first = stages_pipeline.ask("When did the port authority approve the harbour bridge?", conversation_id=conversation_id)
    assert first.short_answer == "Tuesday"
    again = stages_pipeline.ask("What did critics of the bridge say about it?", conversation_id=conversation_id)
    assert again.answer != first.answer  # never the same answer to a new question
    assert not again.answered or "public transport" in again.answer


def test_followup_pronouns_resolve_to_the_last_named_person():
    conversation = Conversation()
    conversation.add(
        "Who leads construction?",
        "Who leads construction?",
        "Maria Duarte — ... [1]",
        short_answer="Maria Duarte",
        kind="person",
        evidence=(("harbour", 10, 90),),
    )
    assert conversation.resolve("When will she begin work?").startswith("When will Maria Duarte begin work?")
    assert conversation.resolve("What is his title?").startswith("What is Maria Duarte's title?")
    assert conversation.resolve("Who runs the orchestra now?") == "Who runs the orchestra now?"
    assert conversation.given_answers() == {("harbour", 10, 90, "maria duarte")}
