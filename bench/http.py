"""HTTP latency and throughput of ``factlink serve``, next to a minimal aiohttp "hello" app.

    python -m bench.http [--url http://127.0.0.1:8080] [--requests 2000] [--rate 500] [--json]

Without ``--url`` it starts ``factlink serve`` (bundled Redis, temp data dir, free port, one worker
process; ``--kb`` or the Wikidata-subset KB of ``bench.linking``, else the starter KB). The load
generator is a separate process (aiohttp client on loopback) with an open-loop schedule: request
*i* is sent at ``start + i / rate`` whether or not earlier ones have answered, and its latency is
counted from that scheduled time, so a slow server cannot hide its queueing (no coordinated
omission). Scenarios: cached POST /v1/annotate of a 4 KB article, uncached annotate (distinct
articles, fewer requests at a lower rate: each one is linked), cached GET /v1/entities/{qid}, and
GET / on a hello app started the same way, for the ratio of framework cost to ours.
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
from contextlib import contextmanager
from pathlib import Path

from .data import latency_summary

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = START_TIMEOUT) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready at {url} after {timeout:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()            # factlink serve stops API, workers, then Redis on SIGTERM
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def factlink_server(kb_path: str | None):
    """``factlink serve`` on a free port with a temp data dir; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="factlink-bench-http-") as data_dir:
        env = {**os.environ, "FACTLINK_DATA_DIR": data_dir, "FACTLINK_PORT": str(port),
               "FACTLINK_WORKER_CONCURRENCY": "1", "FACTLINK_RATE_LIMIT": "0"}
        if kb_path:
            env["FACTLINK_KB"] = kb_path
        log = open(Path(data_dir) / "serve.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env, cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url + "/readyz", proc)
            yield url
        except RuntimeError as exc:
            log.flush()
            tail = (Path(data_dir) / "serve.log").read_bytes()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{exc}\n--- serve log tail ---\n{tail}") from None
        finally:
            _stop(proc)
            log.close()


@contextmanager
def hello_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.http", "--hello", str(port)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url + "/", proc, 20)
        yield url
    finally:
        _stop(proc)


def _run_hello(port: int) -> int:
    from aiohttp import web

    async def hello(_request):
        return web.Response(text="hello")
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
    return 0


# --- the load generator (its own process) -------------------------------------------------
async def _load(spec: dict) -> dict:
    import aiohttp
    bodies = [b.encode() for b in spec.get("bodies") or [""]]
    urls = spec["urls"]
    count, rate, deadline_s = spec["count"], spec["rate"], spec["time_limit"]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=spec.get("connections", 64))
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(i: int, scheduled: float) -> None:
            url = urls[i % len(urls)]
            try:
                if spec["method"] == "POST":
                    resp_cm = session.post(url, data=bodies[i % len(bodies)],
                                           headers={"Content-Type": "application/json"})
                else:
                    resp_cm = session.get(url)
                async with resp_cm as resp:
                    await resp.read()
                    key = str(resp.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1
            if key == "200":
                latencies.append((time.perf_counter() - scheduled) * 1000)

        start = time.perf_counter()
        tasks = []
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() - start > deadline_s:
                break
            tasks.append(asyncio.ensure_future(one(i, scheduled)))
        done, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline_s - (time.perf_counter() - start)) + 5) \
            if tasks else (set(), set())
        for t in pending:
            t.cancel()
        elapsed = time.perf_counter() - start
    return {**latency_summary(latencies), "sent": len(tasks), "ok": len(latencies),
            "throughput_rps": round(len(latencies) / elapsed, 1), "target_rps": rate, "statuses": statuses}


def load(urls: list[str], method: str = "GET", bodies: list[str] | None = None, count: int = 1000,
         rate: float = 500.0, time_limit: float = 30.0) -> dict:
    """Run the load generator in a separate process (spec on stdin, summary JSON on stdout)."""
    spec = {"urls": urls, "method": method, "bodies": bodies, "count": count, "rate": rate,
            "time_limit": time_limit}
    out = subprocess.run([sys.executable, "-m", "bench.http", "--loadgen"], input=json.dumps(spec),
                         capture_output=True, text=True, cwd=REPO, timeout=time_limit + 60, check=True)
    return json.loads(out.stdout)


def _post(url: str, body: str) -> dict:
    import urllib.request
    req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def run(url: str | None = None, kb_path: str | None = None, requests: int = 2000, rate: float = 500.0,
        uncached: int = 60, uncached_rate: float = 20.0, time_limit: float = 30.0) -> list[dict]:
    from linkers import open_kb

    from .linking import real_kb
    from .news_corpus import NewsCorpus
    kb = open_kb(kb_path) if kb_path else real_kb()
    if kb is not None and not kb_path:
        kb_path = str(kb.path)
    kb = kb or open_kb()
    corpus = NewsCorpus(kb, seed=11)
    article = json.dumps({"text": corpus.article(4096)})
    distinct = [json.dumps({"text": corpus.article(4096)}) for _ in range(uncached)]
    rows = []

    def row(scenario: str, result: dict) -> None:
        rows.append({"bench": "http", "scenario": scenario, **result})

    with (factlink_server(kb_path) if url is None else _given(url)) as base:
        primed = _post(base + "/v1/annotate", article)          # cache it, and learn some QIDs
        qids = list(primed.get("entities", {}))[:20] or ["Q1"]
        for q in qids:
            load([f"{base}/v1/entities/{q}"], count=1, rate=1)
        row("annotate 4KB cached", load([base + "/v1/annotate"], "POST", [article], requests, rate, time_limit))
        row("annotate 4KB uncached", load([base + "/v1/annotate"], "POST", distinct, uncached,
                                          uncached_rate, time_limit))
        row("GET entity card cached", load([f"{base}/v1/entities/{q}" for q in qids], "GET", None,
                                           requests, rate, time_limit))
    with hello_server() as hello:
        row("aiohttp hello (reference)", load([hello + "/"], "GET", None, requests, rate, time_limit))
    # below saturation every server keeps the target rate: then the p50 ratio is the telling one
    hello_rps, hello_p50 = rows[-1]["throughput_rps"] or 1.0, rows[-1]["p50_ms"] or 1.0
    for r in rows:
        r["vs_hello_throughput"] = round(r["throughput_rps"] / hello_rps, 2)
        r["vs_hello_p50"] = round(r["p50_ms"] / hello_p50, 2)
    return rows


@contextmanager
def _given(url: str):
    yield url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--loadgen"]:
        print(json.dumps(asyncio.run(_load(json.loads(sys.stdin.read())))))
        return 0
    if argv[:1] == ["--hello"]:
        return _run_hello(int(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running factlink API (default: start `factlink serve`)")
    parser.add_argument("--kb", help="KB for the started server and the articles")
    parser.add_argument("--requests", type=int, default=2000, help="requests per cached scenario")
    parser.add_argument("--rate", type=float, default=500.0, help="target requests/s (open loop)")
    parser.add_argument("--uncached", type=int, default=60, help="distinct articles for the uncached run")
    parser.add_argument("--uncached-rate", type=float, default=20.0)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per scenario at most")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.url, args.kb, args.requests, args.rate, args.uncached, args.uncached_rate, args.time_limit)
    from .report import print_rows
    print_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
