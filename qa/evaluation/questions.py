"""`qa eval`: answer accuracy, abstention accuracy, recall@5, MRR and latency on a question file.

A question is answered correctly when the bot answered, its answer contains one of the accepted
strings (case-insensitive) and one of its citations is from a listed document. An unanswerable
question (`"answerable": false`) is correct when the bot declines. Retrieval metrics use `search`
on answerable questions: recall@5 — a gold document among the top 5 passages; MRR — reciprocal rank
of the first passage from a gold document.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from qa.errors import BadInput
from qa.pipeline import QAPipeline


class EvalFileError(BadInput):
    pass


@dataclass
class Miss:
    id: str
    question: str
    expected: list[str]
    got: str | None
    reason: str


@dataclass
class EvalReport:
    answerable: int = 0
    answered_correctly: int = 0
    unanswerable: int = 0
    declined_correctly: int = 0
    recall_at_5: float = 0.0
    mrr: float = 0.0
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    misses: list[Miss] = field(default_factory=list)

    @property
    def answer_accuracy(self) -> float:
        return self.answered_correctly / self.answerable if self.answerable else 0.0

    @property
    def abstention_accuracy(self) -> float:
        return self.declined_correctly / self.unanswerable if self.unanswerable else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["answer_accuracy"] = round(self.answer_accuracy, 4)
        data["abstention_accuracy"] = round(self.abstention_accuracy, 4)
        return data

    def print(self, console: Console) -> None:
        console.print(f"answer accuracy      {self.answer_accuracy:.3f}  ({self.answered_correctly}/{self.answerable})")
        console.print(f"abstention accuracy  {self.abstention_accuracy:.3f}  ({self.declined_correctly}/{self.unanswerable})")
        console.print(f"recall@5             {self.recall_at_5:.3f}")
        console.print(f"MRR                  {self.mrr:.3f}")
        console.print(f"latency p50 / p95    {self.latency_ms_p50:.1f} / {self.latency_ms_p95:.1f} ms")
        if not self.misses:
            console.print("misses               none")
        for miss in self.misses:
            console.print(f"[red]miss[/] {miss.id}: {escape(miss.question)} — {miss.reason}")
            console.print(f"     expected {escape(str(miss.expected))}, got {escape(str(miss.got))}")


def read_questions(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    questions = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise EvalFileError(f'{path}:{lineno}: needs a "question" string')
        row.setdefault("id", str(lineno))
        questions.append(row)
    if not questions:
        raise EvalFileError(f"{path} holds no questions")
    return questions


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-quantile (0.0 for no values); benchmarks report with it too."""
    return float(np.percentile(values, q * 100, method="nearest")) if values else 0.0


def evaluate_file(pipeline: QAPipeline, path: Path) -> EvalReport:
    questions = read_questions(path)
    report = EvalReport()
    latencies: list[float] = []
    reciprocal_ranks: list[float] = []
    hits_at_5 = 0
    pipeline.ask("warm-up question")  # keep one-off loading out of the latency figures
    for row in questions:
        answer = pipeline.ask(row["question"])
        latencies.append(answer.took_ms)
        answerable = row.get("answerable", True) is not False
        expected = [str(a) for a in row.get("answers", [])]
        gold = set(row.get("docs", []))
        if not answerable:
            report.unanswerable += 1
            if not answer.answered:
                report.declined_correctly += 1
            else:
                report.misses.append(Miss(row["id"], row["question"], [], answer.answer, "answered an unanswerable question"))
            continue
        report.answerable += 1
        text = (answer.answer or "").lower()
        cited = {c.doc_id for c in answer.citations}
        if not answer.answered:
            report.misses.append(Miss(row["id"], row["question"], expected, None, "declined"))
        elif not any(a.lower() in text for a in expected):
            report.misses.append(Miss(row["id"], row["question"], expected, answer.answer, "answer lacks the expected text"))
        elif gold and not cited & gold:
            report.misses.append(
                Miss(row["id"], row["question"], expected, answer.answer, f"cited {sorted(cited)}, not {sorted(gold)}")
            )
        else:
            report.answered_correctly += 1
        ranked = [r.doc_id for r in pipeline.search(row["question"], 10).results]
        first = next((i for i, doc_id in enumerate(ranked, start=1) if doc_id in gold), None)
        hits_at_5 += bool(first and first <= 5)
        reciprocal_ranks.append(1 / first if first else 0.0)
    report.recall_at_5 = round(hits_at_5 / report.answerable, 4) if report.answerable else 0.0
    report.mrr = round(statistics.fmean(reciprocal_ranks), 4) if reciprocal_ranks else 0.0
    report.latency_ms_p50 = round(percentile(latencies, 0.5), 2)
    report.latency_ms_p95 = round(percentile(latencies, 0.95), 2)
    return report
