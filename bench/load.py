"""Load benchmark: N concurrent clients against a real `qa serve` on loopback, for a bounded time.

    .venv/bin/python bench/load.py [--clients 32] [--seconds 20] [--index-dir DIR]

Starts the server on a free 127.0.0.1 port (bundled corpus unless --index-dir is given), runs
closed-loop clients that POST /ask with questions from the evaluation file in rotation, and prints
requests per second, p50/p95/p99 latency and the error count. Target: zero errors, p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.evaluation.questions import percentile  # noqa: E402

QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"
FALLBACK = ["When did Iran host Shoigu?", "Who is the spokesman for Iran's foreign ministry?", "Who won the 2022 FIFA World Cup?"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def client(
    port: int, questions: list[str], offset: int, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    """One keep-alive HTTP/1.1 connection posting questions back to back.

    A bare asyncio client rather than httpx: the load generator shares the machine's two cores
    with the server, and a heavy client would measure itself.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.monotonic() < deadline:
            body = json.dumps({"question": questions[i % len(questions)]}).encode()
            i += 1
            started = time.perf_counter()
            writer.write(
                b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status = int(head.split(b" ", 2)[1])
                length = next(
                    int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
                )
                await asyncio.wait_for(reader.readexactly(length), 10)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, StopIteration) as exc:
                errors.append(type(exc).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status != 200:
                errors.append(f"HTTP {status}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        writer.close()


async def run_load(port: int, clients: int, seconds: float, questions: list[str]) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(client(port, questions, n, deadline, latencies, errors) for n in range(clients)))
    return latencies, errors, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument(
        "--unique",
        action="store_true",
        help="make every question distinct (numbered), so no request reuses a cached query vector",
    )
    args = parser.parse_args()
    questions = (
        [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
        if QUESTIONS.exists()
        else FALLBACK
    )

    if args.unique:
        questions = [f"{q} ({n})" for n in range(2000) for q in questions]

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir or Path(tmp) / "index"
        port = free_port()
        env = {**os.environ, "QA_CACHE_DIR": str(ROOT / ".qa" / "cache")}
        if args.index_dir is None:  # `qa serve` never builds an index: index the bundled corpus first
            subprocess.run(
                [sys.executable, "-m", "qa.cli", "index", str(ROOT / "qa" / "data" / "corpus"), "--index-dir", str(index_dir)],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        server = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--index-dir", str(index_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):  # bounded wait for start-up (index build included)
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise SystemExit("server did not start")
            asyncio.run(run_load(port, 4, 2, questions))  # warm-up
            latencies, errors, elapsed = asyncio.run(run_load(port, args.clients, args.seconds, questions))
        finally:
            server.terminate()
            server.wait(timeout=10)

    print(f"clients {args.clients}, {elapsed:.1f} s, {len(latencies)} ok requests, {len(errors)} errors")
    print(f"throughput {len(latencies) / elapsed:.1f} requests/s")
    if latencies:
        print(
            f"latency p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms"
        )
    else:
        print("latency p50 nan ms, p95 nan ms, p99 nan ms")
    if errors:
        print("errors:", ", ".join(sorted(set(errors))))


if __name__ == "__main__":
    main()
