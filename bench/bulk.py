"""Bulk re-linking throughput: ``factlink relink`` on a local pool and through Celery workers.

    python -m bench.bulk [--docs 2000] [--celery-docs 10000] [--kb DIR] [--json]

Articles are synthetic news paragraphs (``bench.news_corpus``) on the Wikidata-subset KB of
``bench.linking`` (or ``--kb``). Each run starts from an empty output file (relink resumes from
its output, so a leftover file would make it skip work).

- ``relink --local --workers 1`` and ``2`` on ``--docs`` news paragraphs, and on ``--docs / 4``
  articles of 4 KB (the issue's figure), each beside ``link()`` called in a loop in one process
  on the same texts (the linking-only rate, so what relink adds shows).
- ``relink`` through the queue on ``--celery-docs`` articles (0 skips): the bundled Redis and one
  ``factlink worker --concurrency 2``, twice: undisturbed, then with crashes. In the crash run,
  once a third of the lines are written one worker process is SIGKILLed (a solo worker: its
  supervisor sends its running task again at once; with ``--pool prefork``, a pool process that
  its parent requeues), and at two thirds the whole worker (supervisor and workers) is SIGKILLed
  and a replacement started (the leases and the reaper send the lost jobs again, and the broker
  redelivers after the visibility timeout, set to ``VISIBILITY_TIMEOUT`` here). Every run checks
  the output: one line per input id, none missing, none duplicated, no error lines.

Skipped with a message when ``service/relink.py`` is not there.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
#: seconds before the broker hands a dead worker's unacknowledged messages to another (the
#: default, 600, suits production; a benchmark would wait ten minutes for them)
VISIBILITY_TIMEOUT = 20
WORKER_CONCURRENCY = 2


def relink_available() -> bool:
    return importlib.util.find_spec("service.relink") is not None


def write_articles(path: Path, kb, docs: int, article_bytes: int = 0) -> list[str]:
    """``docs`` news paragraphs, or articles of ``article_bytes``; returns the texts."""
    from .news_corpus import NewsCorpus
    corpus = NewsCorpus(kb, seed=13)
    texts = ([corpus.article(article_bytes) for _ in range(docs)] if article_bytes
             else corpus.documents(docs))
    with open(path, "wb") as fh:
        for i, text in enumerate(texts):
            fh.write(orjson.dumps({"id": f"a{i}", "text": text}) + b"\n")
    return texts


def linking_only(kb, texts: list[str]) -> tuple[float, float]:
    """(docs/s, docs per CPU-second) of ``link`` in a loop in this process: the ceiling of one
    relink process."""
    from linkers import link
    for text in texts[:5]:
        link(text, kb)
    started, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        link(text, kb)
    return (len(texts) / (time.perf_counter() - started),
            len(texts) / (time.process_time() - cpu))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_output(out: Path, docs: int) -> dict:
    """One line per id a0..a{docs-1}: counts of what is missing, duplicated or an error line."""
    seen: Counter = Counter()
    errors = 0
    if out.exists():
        for raw in out.read_bytes().splitlines():
            line = orjson.loads(raw)
            seen[line.get("id")] += 1
            errors += "error" in line
    expected = {f"a{i}" for i in range(docs)}
    return {"written": sum(seen.values()), "missing": len(expected - seen.keys()),
            "duplicated": sum(1 for n in seen.values() if n > 1),
            "unexpected": len(seen.keys() - expected), "error_lines": errors}


def run(docs: int = 2000, kb_path: str | None = None, worker_counts: tuple[int, ...] = (1, 2),
        timeout: float = 600.0, celery_docs: int = 10_000) -> list[dict]:
    if not relink_available():
        return [{"bench": "bulk", "skipped": "service/relink.py is not there yet"}]
    from linkers import open_kb

    from .linking import real_kb
    kb = open_kb(kb_path) if kb_path else (real_kb() or open_kb())
    rows = []
    with tempfile.TemporaryDirectory(prefix="factlink-bench-bulk-") as tmp:
        for text_kind, count, article_bytes in (("news paragraphs", docs, 0),
                                                ("4 KB articles", docs // 4, 4096)):
            if not count or not worker_counts:
                continue
            articles = Path(tmp) / f"articles-{article_bytes}.jsonl"
            texts = write_articles(articles, kb, count, article_bytes)
            rate, per_cpu_second = linking_only(kb, texts)
            rows.append({"bench": "bulk", "mode": "link() loop, no relink", "text": text_kind,
                         "workers": 1, "docs": count, "docs_per_s": round(rate, 1),
                         "docs_per_cpu_s": round(per_cpu_second, 1)})
            for workers in worker_counts:
                row = _local_run(articles, Path(tmp) / f"out-{article_bytes}-{workers}.jsonl",
                                 kb, count, workers, timeout)
                rows.append({**row, "text": text_kind})
        if celery_docs:
            articles = Path(tmp) / "articles-celery.jsonl"
            write_articles(articles, kb, celery_docs)
            with _queue(Path(tmp), str(kb.path)) as queue:
                for crashes in (False, True):
                    out = Path(tmp) / f"out-celery-{'crash' if crashes else 'clean'}.jsonl"
                    rows.append(queue.relink(articles, out, celery_docs, crashes, timeout))
    return rows


def _local_run(articles: Path, out: Path, kb, docs: int, workers: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "service.cli", "relink", str(articles), "--out", str(out),
           "--local", "--workers", str(workers), "--kb", str(kb.path), "--quiet"]
    t0, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    seconds, cpu_seconds = time.perf_counter() - t0, _children_cpu() - cpu
    check = check_output(out, docs)
    # CPU-seconds of relink and its pool, start-up included: what the run cost whatever else
    # the machine was doing (wall-clock docs/s on a shared machine is mostly about the others)
    row = {"bench": "bulk", "mode": "relink --local", "text": "", "workers": workers, "docs": docs,
           **check, "seconds": round(seconds, 2),
           "docs_per_s": round(check["written"] / seconds, 1) if seconds else 0.0,
           "docs_per_cpu_s": round(check["written"] / cpu_seconds, 1) if cpu_seconds else 0.0}
    if proc.returncode != 0:
        row["error"] = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
    return row


# --- through the queue -----------------------------------------------------------------------
class _Queue:
    """The bundled Redis plus ``factlink worker`` processes, each in its own process group."""

    def __init__(self, tmp: Path, kb_path: str):
        from workers.embedded_redis import EmbeddedRedis
        self.redis = EmbeddedRedis(tmp / "redis").start()
        self.env = {**os.environ, "REDIS_URL": self.redis.url, "FACTLINK_KB": kb_path,
                    "FACTLINK_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
                    "FACTLINK_WORKER_CONCURRENCY": str(WORKER_CONCURRENCY)}
        self.log = open(tmp / "workers.log", "ab")
        self.workers: list[subprocess.Popen] = []

    def start_worker(self) -> subprocess.Popen:
        name = f"bench-{uuid.uuid4().hex[:6]}@%h"
        worker = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--loglevel", "WARNING",
             "--name", name], env=self.env, cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(worker)
        # the node names of its WORKER_CONCURRENCY solo workers (<name>-1 .. -N)
        from workers.supervisor import node_names
        self._wait_ready(worker, node_names(name, WORKER_CONCURRENCY))
        return worker

    def _wait_ready(self, worker: subprocess.Popen, nodes: list[str], timeout: float = 60) -> None:
        from workers.celery_app import create_celery
        from workers.settings import Settings
        app = create_celery(Settings.from_env(self.env))
        try:
            deadline = time.monotonic() + timeout
            while len(app.control.ping(destination=nodes, timeout=0.5)) < len(nodes):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"workers {', '.join(nodes)} did not start (see workers.log)")
        finally:
            app.close()

    def relink(self, articles: Path, out: Path, docs: int, crashes: bool, timeout: float) -> dict:
        if not any(w.poll() is None for w in self.workers):
            self.start_worker()
        self._forget_jobs()
        cmd = [sys.executable, "-m", "service.cli", "relink", str(articles), "--out", str(out),
               "--quiet"]
        t0 = time.perf_counter()
        # stderr to a file: a pipe nobody reads while we wait for the kill points could fill up
        stderr_file = tempfile.TemporaryFile()
        proc = subprocess.Popen(cmd, env=self.env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=stderr_file)
        events = []
        if crashes:
            events.append(self._at(out, docs // 3, proc, t0, self._kill_pool_process))
            events.append(self._at(out, 2 * docs // 3, proc, t0, self._kill_worker))
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        seconds = time.perf_counter() - t0
        stderr_file.seek(0)
        stderr = stderr_file.read()
        stderr_file.close()
        check = check_output(out, docs)
        row = {"bench": "bulk", "mode": "relink workers" + (", 2 SIGKILLs" if crashes else ""),
               "text": "news paragraphs", "workers": WORKER_CONCURRENCY, "docs": docs, **check,
               "seconds": round(seconds, 2),
               "docs_per_s": round(check["written"] / seconds, 1) if seconds else 0.0}
        if crashes:
            row["kills"] = "; ".join(e for e in events if e)
        if proc.returncode != 0:
            row["error"] = (stderr.decode(errors="replace").strip().splitlines()
                            or [f"exit {proc.returncode}"])[-1][:200]
        return row

    def _forget_jobs(self) -> None:
        """Job ids are content hashes: without this a second run would find every result stored."""
        import redis
        from workers import keys
        client = redis.Redis.from_url(self.redis.url)
        try:
            for pattern in (keys.result("*"), keys.job("*")):
                batch = list(client.scan_iter(pattern, count=1000))
                for start in range(0, len(batch), 1000):
                    client.delete(*batch[start:start + 1000])
        finally:
            client.close()

    @staticmethod
    def _at(out: Path, lines: int, proc: subprocess.Popen, t0: float, action) -> str | None:
        """Wait until ``out`` holds ``lines`` lines (polling its size), then run ``action``."""
        while proc.poll() is None:
            with contextlib.suppress(OSError):
                if out.read_bytes().count(b"\n") >= lines:
                    return f"{action()} at {lines} lines ({time.perf_counter() - t0:.1f} s)"
            time.sleep(0.05)
        return None

    def _kill_pool_process(self) -> str:
        worker = self._live_worker()
        children = _children(worker.pid)
        if not children:
            return "no worker process to kill"
        os.kill(children[0], signal.SIGKILL)
        return "worker process SIGKILLed"

    def _kill_worker(self) -> str:
        worker = self._live_worker()
        os.killpg(worker.pid, signal.SIGKILL)      # all its processes at once: a crashed host
        worker.wait()
        self.start_worker()
        return "worker SIGKILLed, replacement started"

    def _live_worker(self) -> subprocess.Popen:
        return next(w for w in reversed(self.workers) if w.poll() is None)

    def close(self) -> None:
        from workers.process import stop_process_group
        for worker in self.workers:
            stop_process_group(worker, timeout=15)
        self.redis.stop()
        self.log.close()


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


@contextlib.contextmanager
def _queue(tmp: Path, kb_path: str):
    queue = _Queue(tmp, kb_path)
    try:
        queue.start_worker()
        yield queue
    finally:
        queue.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk", description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="articles for the --local runs")
    parser.add_argument("--celery-docs", type=int, default=10_000,
                        help="articles for the runs through the workers; 0: skip them")
    parser.add_argument("--kb", help="KB directory (default: the Wikidata-subset KB)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.docs, args.kb, celery_docs=args.celery_docs)
    from .report import print_linking_rows
    print_linking_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
