"""HTTP throughput against the in-process answer rate, on distinct questions, in one run.

    .venv/bin/python bench/http_load.py [--index-dir bench/out/news-index] [--workers N]
        [--clients 1,8,32] [--seconds 15] [--inprocess-seconds 12]

1. In process: `QAPipeline.ask` on one thread, question after question, for `--inprocess-seconds`,
   with one inference thread (QA_THREADS=1): the one-thread rate the ratio is taken against; and
   with the inference threads as `qa ask` has them (QA_THREADS, default all cores), for reference.
2. Over HTTP: a throwaway Redis (tests/redis_server.py) and a real `qa serve --workers N` (default:
   the usable cores) on a loopback port; once every worker has said it is ready, httpx async
   clients POST /ask closed-loop at each `--clients` level for `--seconds`.

Every question is asked once: the pool is the benchmark question sets (bench/data/*.jsonl, the
shared evaluation set) and questions made from the index's article titles, shuffled, so no request
hits a cached query vector. The 1-client level asks the in-process questions first, in order, and
their answers are compared with the in-process ones (they come from another process with other
thread settings: they must be identical).

Prints, per level: requests/s, p50/p95 latency, errors and the server's CPU seconds per answer
(all its processes; in process, the CPU per answer too: other load on the machine inflates it far
less than wall time); then rate(most clients)/in-process rate (target >= 1.5 with 0 errors).
The figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway Redis server the tests use

from processes import free_port, stop_process, wait_until  # noqa: E402
from redis_server import RedisServer  # noqa: E402

from qa.config import get_settings  # noqa: E402
from qa.cores import usable_cores  # noqa: E402
from qa.evaluation.questions import percentile  # noqa: E402
from qa.pipeline import QAPipeline  # noqa: E402
from qa.schema import Answer  # noqa: E402

QUESTION_SETS = [*sorted((ROOT / "bench" / "data").glob("*.jsonl")), ROOT.parent / "shared" / "eval" / "questions.jsonl"]
TITLE_QUESTIONS = (  # one per answer kind the answerer knows, so the mix is not all one kind
    "What do we know about this: {}?",
    "Who was involved in this: {}?",
    "When was it reported that {}?",
    "Where did this happen: {}?",
    "How many people were affected: {}?",
)
REQUEST_TIMEOUT_S = 120


def question_pool(index_dir: Path, seed: int = 0) -> list[str]:
    """Distinct questions: the benchmark sets, then questions about every indexed article's title."""
    questions: list[str] = []
    for path in QUESTION_SETS:
        if path.exists():
            questions += [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    current = (index_dir / "CURRENT").read_text().strip()
    with open(index_dir / current / "documents.jsonl", encoding="utf-8") as fh:
        titles = [" ".join(str(json.loads(line).get("title") or "").split())[:150] for line in fh]
    questions += [template.format(title.rstrip(".?!")) for title in titles if title for template in TITLE_QUESTIONS]
    unique = list(dict.fromkeys(" ".join(q.split()) for q in questions))
    random.Random(seed).shuffle(unique)
    return unique


def comparable(answer: dict) -> dict:
    """What must not change between in-process and served answers (links and timing may)."""
    return {
        "answered": answer["answered"],
        "answer": answer["answer"],
        "short_answer": answer["short_answer"],
        "confidence": answer["confidence"],
        "citations": [(c["doc_id"], c["start"], c["end"]) for c in answer["citations"]],
    }


def in_process(index_dir: Path, questions: Iterator[str], seconds: float, threads: int) -> tuple[float, float, dict[str, dict]]:
    """(answers per second, CPU seconds per answer, {question: comparable answer}) for sequential `ask` calls."""
    pipeline = QAPipeline(get_settings(index_dir=index_dir, threads=threads))
    pipeline.warm_up()
    for _ in range(3):  # first-call costs (lazy tables, allocator) are not the steady rate
        pipeline.ask(next(questions))
    answers: dict[str, dict] = {}
    started, cpu = time.perf_counter(), time.process_time()  # CPU of every thread of this process
    while time.perf_counter() - started < seconds or len(answers) < 5:
        question = next(questions)
        answer: Answer = pipeline.ask(question)
        answers[question] = comparable(answer.model_dump())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    del pipeline
    gc.collect()
    return len(answers) / elapsed, cpu / len(answers), answers


@dataclass
class Level:
    clients: int
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: dict[str, dict] = field(default_factory=dict)
    exhausted: bool = False  # the questions ran out before the time did
    cpu: float = 0.0  # CPU seconds the server's processes used meanwhile

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        return (
            f"clients {self.clients:>3}: {len(self.latencies):>5} answers in {self.elapsed:5.1f} s, "
            f"{self.rate:7.2f} requests/s, p50 {percentile(self.latencies, 0.5):7.0f} ms, "
            f"p95 {percentile(self.latencies, 0.95):7.0f} ms, errors {len(self.errors)}"
            + (f" ({', '.join(sorted(set(self.errors))[:3])})" if self.errors else "")
            + (f", server CPU {1000 * self.cpu / len(self.latencies):.0f} ms an answer" if self.latencies else "")
        )


async def drive(url: str, clients: int, seconds: float, questions: Iterator[str]) -> Level:
    """`clients` closed-loop clients (one keep-alive connection each), each question asked once."""
    level = Level(clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                question = next(questions, None)
                if question is None:
                    level.exhausted = True
                    return
                started = time.perf_counter()
                try:
                    response = await client.post("/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    level.errors.append(type(exc).__name__)
                    continue
                if response.status_code != 200:
                    level.errors.append(f"HTTP {response.status_code}")
                    continue
                level.latencies.append((time.perf_counter() - started) * 1000)
                level.answers[question] = comparable(response.json())

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        level.elapsed = time.perf_counter() - started
    return level


class ServedIndex:
    """`qa serve --workers N` on a loopback port with a throwaway Redis; waits for every worker."""

    def __init__(self, index_dir: Path, workers: int) -> None:
        self.redis = RedisServer()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="qa-http-load-", suffix=".log")  # noqa: SIM115
        command = [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--index-dir", str(index_dir), "--workers", str(workers), "--state-url", self.redis.url]
        self.process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: self._ready() >= workers, 300, f"{workers} workers ready", interval=0.2)
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def _ready(self) -> int:
        if self.process.poll() is not None:
            raise RuntimeError(f"qa serve exited with code {self.process.returncode}:\n{self.output()}")
        return len(self.workers())

    def workers(self) -> list[int]:
        return [
            int(line.split()[1]) for line in self.output().splitlines() if line.startswith("worker ") and line.endswith(" ready")
        ]

    def memory(self) -> str:
        """Each worker's resident memory: its own (anonymous) and file-backed pages, which the
        workers share through the page cache (the memory-mapped vectors, the models' files)."""
        parts = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
                anon, file = (int(status[key].split()[0]) // 1024 for key in ("RssAnon", "RssFile"))
                parts.append(f"{anon} + {file}")
        return "worker memory (own + file-backed MiB): " + ", ".join(parts)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes so far (Linux /proc): a measure of the work
        per answer that other load on the machine does not inflate the way it does wall time."""
        total = 0
        for pid in [self.process.pid, *self.workers()]:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop_process(self.process, timeout=20)
        self.redis.stop()
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "bench" / "out" / "news-index")
    parser.add_argument("--workers", type=int, default=usable_cores(), help="qa serve --workers (default: usable cores)")
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=15, help="length of each level")
    parser.add_argument("--inprocess-seconds", type=float, default=12, help="length of each in-process run")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    os.environ.setdefault("QA_CACHE_DIR", str(ROOT / ".qa" / "cache"))
    os.environ["QA_PUBLIC_URL"] = ""

    pool = question_pool(args.index_dir)
    questions = iter(pool)
    print(f"{len(pool)} distinct questions; {usable_cores()} usable cores; index {args.index_dir}", flush=True)
    # The in-process rate is one thread's: QA_THREADS=1, one caller. With the inference threads as
    # `qa ask` has them (QA_THREADS, default all cores) too, for reference.
    rates: dict[int, tuple[float, float]] = {}
    expected: dict[str, dict] = {}
    for threads in dict.fromkeys([1, get_settings().threads]):
        rate, cpu, answers = in_process(args.index_dir, questions, args.inprocess_seconds, threads)
        rates[threads] = rate, cpu
        expected |= answers
        print(
            f"in process, one caller, QA_THREADS={threads}: {len(answers)} answers, {rate:.2f} answers/s "
            f"({1000 / rate:.0f} ms each), CPU {1000 * cpu:.0f} ms an answer",
            flush=True,
        )
    rate, cpu = rates[1]

    server = ServedIndex(args.index_dir, args.workers)
    results: list[Level] = []
    try:
        warm = iter([next(questions) for _ in range(2 * args.workers)])  # each worker's first answers
        asyncio.run(drive(server.url, 2 * args.workers, REQUEST_TIMEOUT_S, warm))
        # The in-process questions first (new to the server), to compare the answers.
        source = itertools.chain(expected, questions)
        for clients in levels:
            cpu_before = server.cpu_seconds()
            level = asyncio.run(drive(server.url, clients, args.seconds, source))
            level.cpu = server.cpu_seconds() - cpu_before
            results.append(level)
            print(f"qa serve --workers {args.workers}, " + level.line(), flush=True)
            if level.exhausted:
                print(f"  the {len(pool)} questions ran out: shorten --seconds or add questions")
        print(server.memory())
    finally:
        server.stop()

    served = {q: a for level in results for q, a in level.answers.items()}
    compared = [q for q in expected if q in served]
    same = sum(expected[q] == served[q] for q in compared)
    print(f"answers identical to in process: {same}/{len(compared)}")
    for q in compared:
        if expected[q] != served[q]:
            print(f"  differs: {q!r}\n    in process: {expected[q]}\n    served:     {served[q]}")
    top = results[-1]
    errors = sum(len(level.errors) for level in results)
    ratio = top.rate / rate
    verdict = "met" if ratio >= 1.5 and errors == 0 else "NOT met"
    print(
        f"ratio rate({top.clients} clients) / in-process one-thread rate = {top.rate:.2f} / {rate:.2f} = {ratio:.2f} "
        f"(target >= 1.5 with 0 errors: {verdict}; errors {errors})"
    )
    for threads, (other, _) in rates.items():
        if threads != 1:
            print(f"  against QA_THREADS={threads} in process: {top.rate:.2f} / {other:.2f} = {top.rate / other:.2f}")
    if top.latencies:
        served_cpu = top.cpu / len(top.latencies)
        cores = usable_cores()
        print(
            f"CPU an answer: {1000 * cpu:.0f} ms in process (one thread), {1000 * served_cpu:.0f} ms served "
            f"({top.clients} clients, every server process): on {cores} otherwise idle cores the server could answer "
            f"{cores / served_cpu:.1f}/s, {cores * cpu / served_cpu:.2f} x the one-thread rate"
        )


if __name__ == "__main__":
    main()
