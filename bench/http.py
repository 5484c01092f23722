"""HTTP latency and throughput of ``factlink serve``, next to a minimal aiohttp "hello" app.

    python -m bench.http [--url http://127.0.0.1:8080] [--requests 2000] [--rate 500]
                         [--uncached 60] [--uncached-rate 10] [--saturate 5] [--json]

Without ``--url`` it starts ``factlink serve`` (bundled Redis, temp data dir, free port, one worker
process; ``--kb`` or the Wikidata-subset KB of ``bench.linking``, else the starter KB). On a
machine with two or more cores the API process (every thread of it) is pinned to one core and
everything else (Redis, the worker pool, the load generator) to another, so the numbers are about
one API process rather than about who got the CPU.

Two kinds of scenario:

- **latency** (open loop): a separate load-generator process (aiohttp client, keep-alive pool on
  loopback) sends request *i* at ``start + i / rate`` whether or not earlier ones have answered,
  and counts its latency from that scheduled time, so a slow server cannot hide its queueing (no
  coordinated omission). Cached POST /v1/annotate of a 4 KB article, uncached annotate (distinct
  articles at a rate the one worker process sustains: each one is linked), cached
  GET /v1/entities/{qid}, and GET / on the hello app.
- **saturation** (closed loop, ``--saturate`` seconds; 0 skips): ``wrk`` (Debian package ``wrk``,
  a benchmarking tool only, never a dependency) with 16 keep-alive connections on one thread; if
  it is not installed, the aiohttp client in closed loop instead (slower: it may cap the rate).
  Reports requests/s; its latencies are closed-loop and only say how deep the queue was.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
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
SATURATION_CONNECTIONS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- who runs where ------------------------------------------------------------------------
def cpu_layout() -> tuple[set[int] | None, set[int] | None]:
    """(the API's core, everyone else's cores), or (None, None) on one core (no pinning)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


SERVER_CPUS, LOAD_CPUS = cpu_layout()


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def _pin_process(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` (sched_setaffinity on a pid only moves its main thread)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, PermissionError):
            pass


def pin_server(pid: int) -> None:
    """The API process on its own core; its children (Redis, the worker pool) with the load."""
    if SERVER_CPUS is None:
        return
    _pin_process(pid, SERVER_CPUS)
    for child in _descendants(pid):
        _pin_process(child, LOAD_CPUS)


def _on_load_cpus() -> None:
    """``preexec_fn`` of load generators: the cores the API does not use."""
    if LOAD_CPUS is not None:
        os.sched_setaffinity(0, LOAD_CPUS)


# --- the servers -----------------------------------------------------------------------------
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
def factlink_server(kb_path: str | None, extra_env: dict[str, str] | None = None):
    """``factlink serve`` on a free port with a temp data dir, pinned; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="factlink-bench-http-") as data_dir:
        env = {**os.environ, "FACTLINK_DATA_DIR": data_dir, "FACTLINK_PORT": str(port),
               "FACTLINK_WORKER_CONCURRENCY": "1", "FACTLINK_RATE_LIMIT": "0", **(extra_env or {})}
        if kb_path:
            env["FACTLINK_KB"] = kb_path
        log = open(Path(data_dir) / "serve.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env, cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url + "/readyz", proc)
            pin_server(proc.pid)
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
        pin_server(proc.pid)
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


# --- the Python load generator (its own process) ---------------------------------------------
class _Request:
    """One prepared request: the session call for request number ``i``."""

    def __init__(self, spec: dict):
        self.urls = spec["urls"]
        self.bodies = [b.encode() for b in spec.get("bodies") or [""]]
        self.post = spec["method"] == "POST"
        self.headers = {"Content-Type": "application/json"} if self.post else None

    async def send(self, session, i: int) -> str:
        import aiohttp
        url = self.urls[i % len(self.urls)]
        try:
            if self.post:
                call = session.post(url, data=self.bodies[i % len(self.bodies)],
                                    headers=self.headers)
            else:
                call = session.get(url)
            async with call as resp:
                await resp.read()
                return str(resp.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return type(exc).__name__


async def _open_loop(spec: dict) -> dict:
    import aiohttp
    request = _Request(spec)
    count, rate, deadline_s = spec["count"], spec["rate"], spec["time_limit"]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=spec.get("connections", 64))
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(i: int, scheduled: float) -> None:
            key = await request.send(session, i)
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


async def _closed_loop(spec: dict) -> dict:
    """``connections`` clients, each sending its next request when the last one answered."""
    import aiohttp
    request = _Request(spec)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connections = spec.get("connections", SATURATION_CONNECTIONS)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        stop_at = start + spec["seconds"]

        async def client(offset: int) -> None:
            i = offset
            while (sent := time.perf_counter()) < stop_at:
                key = await request.send(session, i)
                statuses[key] = statuses.get(key, 0) + 1
                if key == "200":
                    latencies.append((time.perf_counter() - sent) * 1000)
                i += connections
        await asyncio.gather(*(client(c) for c in range(connections)))
        elapsed = time.perf_counter() - start
    return {**latency_summary(latencies), "sent": sum(statuses.values()), "ok": len(latencies),
            "throughput_rps": round(len(latencies) / elapsed, 1), "target_rps": None,
            "statuses": statuses}


def _run_loadgen(spec: dict) -> dict:
    return asyncio.run(_closed_loop(spec) if spec.get("seconds") else _open_loop(spec))


def load(urls: list[str], method: str = "GET", bodies: list[str] | None = None, count: int = 1000,
         rate: float = 500.0, time_limit: float = 30.0) -> dict:
    """Open loop in a separate process on the load cores (spec on stdin, summary JSON on stdout)."""
    spec = {"urls": urls, "method": method, "bodies": bodies, "count": count, "rate": rate,
            "time_limit": time_limit}
    return _loadgen_process(spec, time_limit + 60)


def _loadgen_process(spec: dict, timeout: float) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.http", "--loadgen"], input=json.dumps(spec),
                         capture_output=True, text=True, cwd=REPO, timeout=timeout, check=True,
                         preexec_fn=_on_load_cpus)
    return json.loads(out.stdout)


# --- saturation: wrk when installed ------------------------------------------------------------
#: rotates through the paths, optionally POSTs a body file, and prints a JSON summary at the end
WRK_SCRIPT = """
local paths = {%(paths)s}
local body_file = %(body_file)s
if body_file then
  local f = io.open(body_file, "rb"); wrk.body = f:read("*a"); f:close()
  wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
end
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%%d,"duration_us":%%d,"errors":%%d,"non2xx":%%d,'
    .. '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50),
    latency:percentile(90), latency:percentile(99)))
end
"""


def saturate(urls: list[str], method: str = "GET", body: str | None = None,
             seconds: float = 5.0) -> dict:
    """Closed-loop requests/s with ``SATURATION_CONNECTIONS`` keep-alive connections."""
    wrk = shutil.which("wrk")
    if wrk is None:
        spec = {"urls": urls, "method": method, "bodies": [body] if body else None,
                "seconds": seconds, "connections": SATURATION_CONNECTIONS}
        return {**_loadgen_process(spec, seconds + 60), "client": "aiohttp"}
    base = urls[0].split("/", 3)
    origin, paths = "/".join(base[:3]), ["/" + u.split("/", 3)[3] if u.count("/") >= 3 else "/"
                                         for u in urls]
    with tempfile.TemporaryDirectory(prefix="factlink-bench-wrk-") as tmp:
        body_file = "nil"
        if method == "POST":
            Path(tmp, "body.json").write_text(body or "")
            body_file = json.dumps(str(Path(tmp, "body.json")))
        script = Path(tmp, "bench.lua")
        script.write_text(WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths),
                                        "body_file": body_file})
        out = subprocess.run([wrk, "-t1", f"-c{SATURATION_CONNECTIONS}", f"-d{seconds:g}s",
                              "-s", str(script), origin], capture_output=True, text=True,
                             timeout=seconds + 60, check=True, preexec_fn=_on_load_cpus)
    summary = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    ok = summary["requests"] - summary["non2xx"]
    return {"n": ok, "p50_ms": summary["p50_us"] / 1000, "p90_ms": summary["p90_us"] / 1000,
            "p99_ms": summary["p99_us"] / 1000, "sent": summary["requests"], "ok": ok,
            "throughput_rps": round(ok / (summary["duration_us"] / 1e6), 1), "target_rps": None,
            "statuses": {"errors": summary["errors"], "non2xx": summary["non2xx"]},
            "client": "wrk"}


def _post(url: str, body: str) -> dict:
    import urllib.request
    req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _worker_link_seconds(base: str) -> tuple[float, int]:
    """(sum, count) of ``factlink_link_seconds``: linking time as the workers report it."""
    import urllib.request
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("factlink_link_seconds_sum", "factlink_link_seconds_count"):
            values[name] = float(value)
    return values.get("factlink_link_seconds_sum", 0.0), int(values.get("factlink_link_seconds_count", 0))


def run(url: str | None = None, kb_path: str | None = None, requests: int = 2000, rate: float = 500.0,
        uncached: int = 60, uncached_rate: float = 10.0, time_limit: float = 30.0,
        saturate_seconds: float = 5.0) -> list[dict]:
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

    def row(scenario: str, result: dict, mode: str = "open loop") -> None:
        rows.append({"bench": "http", "scenario": scenario, "mode": mode, **result})

    with (factlink_server(kb_path) if url is None else _given(url)) as base:
        primed = _post(base + "/v1/annotate", article)          # cache it, and learn some QIDs
        qids = list(primed.get("entities", {}))[:20] or ["Q1"]
        entity_urls = [f"{base}/v1/entities/{q}" for q in qids]
        for entity_url in entity_urls:
            load([entity_url], count=1, rate=1)
        row("annotate 4KB cached", load([base + "/v1/annotate"], "POST", [article], requests, rate, time_limit))
        if uncached:
            linked_before = _worker_link_seconds(base)
            row("annotate 4KB uncached", load([base + "/v1/annotate"], "POST", distinct, uncached,
                                              uncached_rate, time_limit))
            # what the queue adds: end-to-end minus the workers' own linking time (from /metrics)
            total, count = (a - b for a, b in zip(_worker_link_seconds(base), linked_before))
            if count:
                rows[-1]["link_ms_mean"] = round(total / count * 1000, 2)
        row("GET entity card cached", load(entity_urls, "GET", None, requests, rate, time_limit))
        if saturate_seconds:
            row("annotate 4KB cached", saturate([base + "/v1/annotate"], "POST", article,
                                                saturate_seconds), "saturation")
            row("GET entity card cached", saturate(entity_urls, "GET", None, saturate_seconds),
                "saturation")
    with hello_server() as hello:
        row("aiohttp hello (reference)", load([hello + "/"], "GET", None, requests, rate, time_limit))
        if saturate_seconds:
            row("aiohttp hello (reference)", saturate([hello + "/"], "GET", None, saturate_seconds),
                "saturation")
    # below saturation every server keeps the target rate: then the p50 ratio is the telling one;
    # at saturation the throughput ratio is
    for mode in ("open loop", "saturation"):
        reference = [r for r in rows if r["mode"] == mode and r["scenario"].startswith("aiohttp")]
        if not reference:
            continue
        hello_rps, hello_p50 = reference[0]["throughput_rps"] or 1.0, reference[0]["p50_ms"] or 1.0
        for r in rows:
            if r["mode"] == mode:
                r["vs_hello_throughput"] = round(r["throughput_rps"] / hello_rps, 2)
                r["vs_hello_p50"] = round(r["p50_ms"] / hello_p50, 2)
    return rows


@contextmanager
def _given(url: str):
    yield url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--loadgen"]:
        print(json.dumps(_run_loadgen(json.loads(sys.stdin.read()))))
        return 0
    if argv[:1] == ["--hello"]:
        return _run_hello(int(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running factlink API (default: start `factlink serve`)")
    parser.add_argument("--kb", help="KB for the started server and the articles")
    parser.add_argument("--requests", type=int, default=2000, help="requests per cached scenario")
    parser.add_argument("--rate", type=float, default=500.0, help="target requests/s (open loop)")
    parser.add_argument("--uncached", type=int, default=60, help="distinct articles for the uncached run")
    parser.add_argument("--uncached-rate", type=float, default=10.0,
                        help="uncached requests/s: below what the one worker process links")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per scenario at most")
    parser.add_argument("--saturate", type=float, default=5.0,
                        help="seconds per saturation scenario (closed loop); 0: skip them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.url, args.kb, args.requests, args.rate, args.uncached, args.uncached_rate,
               args.time_limit, args.saturate)
    from .report import print_rows
    print_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
