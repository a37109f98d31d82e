"""Where the answer is chosen. Stages, in order:

* `question.QuestionAnalyzer`: what kind of thing is asked for (`AnswerKind`) and the focus terms;
* `candidates.CandidateExtractor`: sentences of the retrieved passages, with entity/noun-phrase spans;
* `scorer.AnswerScorer`: learned weights (`model.json`) pick the sentence and the short answer, and
  an explicit no-answer probability decides whether to answer at all;
* `citations.CitationBuilder`: numbered citations, reposts folded, other outlets that agree added;
* `answerer.Answerer`: connects them into the `Answer` every front end shows.
"""

from qa.answering.answerer import DECLINE_MESSAGE, Answerer
from qa.answering.question import AnswerKind, QuestionAnalysis, QuestionAnalyzer

__all__ = ["DECLINE_MESSAGE", "AnswerKind", "Answerer", "QuestionAnalysis", "QuestionAnalyzer"]
