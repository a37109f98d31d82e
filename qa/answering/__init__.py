"""Where the answer is chosen. Stages, in order:

* `question.QuestionAnalyzer`: what kind of thing is asked for (`AnswerKind`) and the focus terms;
* `candidates.CandidateExtractor`: sentences of the retrieved passages, with entity/noun-phrase spans;
* `scorer.AnswerScorer`: learned weights (`model.json`) rank the sentences (and, with the reader
  off, pick the short answer and decide whether to answer at all);
* `reader.ReaderStage`: the neural reader (`reader/`, int8 ONNX) reads the best few sentences (a
  forward pass each), marks the short answer, and a fitted decision weighs its no-answer score
  (`QA_READER`);
* `citations.CitationBuilder`: numbered citations, reposts folded, other outlets that agree added;
* `answerer.Answerer`: connects them into the `Answer` every front end shows.
"""

from qa.answering.answerer import DECLINE_MESSAGE, Answerer
from qa.answering.question import AnswerKind, QuestionAnalysis, QuestionAnalyzer

__all__ = ["DECLINE_MESSAGE", "AnswerKind", "Answerer", "QuestionAnalysis", "QuestionAnalyzer"]
