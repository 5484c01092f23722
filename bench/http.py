"""HTTP latency and throughput of ``factlink serve``, next to a minimal aiohttp "hello" app.

    python -m bench.http [--url http://127.0.0.1:8080] [--requests 2000] [--rate 500]
                         [--uncached 60] [--uncached-rate 10] [--saturate 5] [--repeat 3]
                         [--sequential 40] [--json]

Without ``--url`` it starts ``factlink serve`` (bundled Redis, temp data dir, free port, one worker
process; ``--kb`` or the Wikidata-subset KB of ``bench.linking``, else the starter KB). On a
machine with two or more cores the API process (every thread of it) is pinned to one core and
everything else (Redis, the worker pool, the load generator) to another, so the numbers are about
one API process rather than about who got the CPU.

Three kinds of scenario, then the issue's figures (``http figures`` rows):

- **latency** (open loop): a separate load-generator process (aiohttp client, keep-alive pool on
  loopback) sends request *i* at ``start + i / rate`` whether or not earlier ones have answered,
  and counts its latency from that scheduled time, so a slow server cannot hide its queueing (no
  coordinated omission). Cached POST /v1/annotate of a 4 KB article (as JSON; as Web Annotation
  and NIF converted from the cached JSON, and NIF remembered by the API process), uncached annotate (distinct
  articles at a rate the one worker process sustains: each one is linked), cached
  GET /v1/entities/{qid}, and GET / on the hello app.
- **saturation** (closed loop, ``--saturate`` seconds; 0 skips): ``wrk`` (Debian package ``wrk``,
  a benchmarking tool only, never a dependency) with 16 keep-alive connections on one thread; if
  it is not installed, the aiohttp client in closed loop instead (slower: it may cap the rate).
  Reports requests/s; its latencies are closed-loop and only say how deep the queue was. Run in
  ``--repeat`` rounds of hello (asyncio), hello on uvloop, cached annotate, cached card, back to
  back with both servers up: each ratio to hello compares runs seconds apart, and the figures
  are the medians of the per-round ratios (the machine may be shared). Each round also reads
  the server process's CPU time (``/proc/PID/stat``, every thread): ``cpu_us_per_request``,
  and in the figures' detail hello's CPU per request over the scenario's, the ratio the core
  would give if nothing else ran on it (requests/s move with who else holds the core; CPU per
  request much less). Without ``wrk`` the Python client is the bottleneck of the fast scenarios
  (it answers to ~13-15k req/s on one core): then the requests/s ratios are the client's.
- **queue overhead** (``--sequential`` distinct 4 KB articles, one at a time): each one's end to
  end time and the worker's linking time for it (``factlink_link_seconds_sum`` from ``/metrics``
  read before and after), so the figure is p50 minus linking p50, nothing queued behind anything.
  The same client then sends as many GETs to the hello app one at a time: their p50 (in the
  figure's detail) is the part of the figure that is the load generator and an HTTP round trip.
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
#: base URL -> pid of the process serving it (the API runs in ``factlink serve``'s own process),
#: for the CPU time each saturation round costs it
SERVER_PIDS: dict[str, int] = {}


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
def _worker_answered(body: bytes) -> bool:
    """False only for a /readyz that says no worker answered (the hello app answers text)."""
    try:
        return json.loads(body).get("worker_answered", True) is not False
    except (ValueError, AttributeError):
        return True


def _wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = START_TIMEOUT) -> None:
    """Until ``url`` (a /readyz) answers 200 *and* says a worker answered: readiness itself does
    not need a worker, but a benchmark's first annotate does (else 503 no_workers)."""
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200 and _worker_answered(resp.read()):
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
            SERVER_PIDS[url] = proc.pid
            yield url
        except RuntimeError as exc:
            log.flush()
            tail = (Path(data_dir) / "serve.log").read_bytes()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{exc}\n--- serve log tail ---\n{tail}") from None
        finally:
            _stop(proc)
            log.close()


@contextmanager
def hello_server(loop: str = "asyncio"):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.http", "--hello", str(port), loop], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url + "/", proc, 20)
        pin_server(proc.pid)
        SERVER_PIDS[url] = proc.pid
        yield url
    finally:
        _stop(proc)


def _run_hello(port: int, loop: str) -> int:
    """The reference: aiohttp's smallest app, on asyncio's loop (the issue's yardstick) or on
    uvloop (the loop ``factlink`` serves on when it is installed)."""
    import asyncio

    from aiohttp import web

    async def hello(_request):
        return web.Response(text="hello")
    app = web.Application()
    app.router.add_get("/", hello)
    if loop == "uvloop":
        from service.app import new_event_loop
        event_loop = new_event_loop()
    else:
        event_loop = asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=event_loop)
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


async def _sequential_linked(spec: dict) -> dict:
    """One request at a time, each a text never sent before, with the workers' linking time of
    each read from ``/metrics`` between requests: end to end, linking, and the difference (what
    the API, Redis and the queue add), per request, with nothing queued behind anything.
    Without ``metrics_url`` (the hello app) just one request at a time: what the client and an
    HTTP round trip alone take, the floor under the difference."""
    import aiohttp
    request = _Request(spec)
    end_to_end, linking, overhead = [], [], []
    statuses: dict[str, int] = {}
    metrics_url = spec.get("metrics_url")
    async with aiohttp.ClientSession() as session:
        async def link_seconds() -> float:
            if metrics_url is None:
                return 0.0
            async with session.get(metrics_url) as resp:
                return _link_seconds_sum(await resp.text())
        before = await link_seconds()
        for i in range(spec["count"]):
            sent = time.perf_counter()
            key = await request.send(session, i)
            took = (time.perf_counter() - sent) * 1000
            statuses[key] = statuses.get(key, 0) + 1
            after = await link_seconds()
            if key == "200" and (after > before or metrics_url is None):
                end_to_end.append(took)
                linking.append((after - before) * 1000)
                overhead.append(took - linking[-1])
            before = after
    summary = latency_summary(end_to_end)
    if metrics_url is None:
        return {**summary, "sent": spec["count"], "ok": len(end_to_end), "statuses": statuses}
    return {**summary, "sent": spec["count"], "ok": len(end_to_end), "statuses": statuses,
            "link_p50_ms": latency_summary(linking)["p50_ms"],
            "p50_minus_link_ms": round(summary["p50_ms"] - latency_summary(linking)["p50_ms"], 3),
            "overhead_p50_ms": latency_summary(overhead)["p50_ms"],
            "overhead_p90_ms": latency_summary(overhead)["p90_ms"]}


def _run_loadgen(spec: dict) -> dict:
    if spec.get("sequential"):
        return asyncio.run(_sequential_linked(spec))
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


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a whole process (every thread), or None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def saturate_server(base: str, urls: list[str], method: str = "GET", body: str | None = None,
                    seconds: float = 5.0) -> dict:
    """``saturate``, plus the server process's CPU microseconds per answered request: on a
    shared machine requests/s say who held the cores, CPU per request what a request costs."""
    pid = SERVER_PIDS.get(base)
    before = _cpu_seconds(pid) if pid else None
    result = saturate(urls, method, body, seconds)
    after = _cpu_seconds(pid) if pid else None
    if before is not None and after is not None and result["ok"]:
        result["cpu_us_per_request"] = round((after - before) / result["ok"] * 1e6, 1)
    return result


def _post(url: str, body: str, parse: bool = True) -> dict | None:
    import urllib.request
    import urllib.error
    req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = resp.read()
    except urllib.error.HTTPError as exc:        # say what the service said, not just the status
        raise RuntimeError(f"POST {url}: {exc.code} {exc.read()[:500]!r}") from None
    return json.loads(answer) if parse else None


def _link_seconds_sum(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith("factlink_link_seconds_sum "):
            return float(line.split()[1])
    return 0.0


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


#: the issue's figures: (scenario, what it is compared with, target)
TARGETS = {"annotate 4KB cached": 0.6, "GET entity card cached": 0.7}
QUEUE_OVERHEAD_TARGET_MS = 3.0


def run(url: str | None = None, kb_path: str | None = None, requests: int = 2000, rate: float = 500.0,
        uncached: int = 60, uncached_rate: float = 10.0, time_limit: float = 30.0,
        saturate_seconds: float = 5.0, repeat: int = 3, sequential: int = 40,
        formats_requests: int = 50, formats_rate: float = 4.0) -> list[dict]:
    """Rows per scenario, then the issue's figures. Saturation runs ``repeat`` rounds, each
    hello -> annotate -> card back to back (both servers up all along, the hello app idle on the
    API's core while the other is measured), so each ratio compares runs seconds apart; the
    figures are the medians of the per-round ratios."""
    import statistics

    from linkers import open_kb

    from .linking import real_kb
    from .news_corpus import NewsCorpus
    kb = open_kb(kb_path) if kb_path else real_kb()
    if kb is not None and not kb_path:
        kb_path = str(kb.path)
    kb = kb or open_kb()
    corpus = NewsCorpus(kb, seed=11)
    article = json.dumps({"text": corpus.article(4096)})
    distinct = [json.dumps({"text": corpus.article(4096)}) for _ in range(uncached + sequential)]
    rows, figures = [], []

    def row(scenario: str, result: dict, mode: str = "open loop") -> dict:
        rows.append({"bench": "http", "scenario": scenario, "mode": mode, **result})
        return rows[-1]

    with (factlink_server(kb_path) if url is None else _given(url)) as base, hello_server() as hello, \
            hello_server("uvloop") as hello_uvloop:
        primed = _post(base + "/v1/annotate", article)          # cache it, and learn some QIDs
        qids = list(primed.get("entities", {}))[:20] or ["Q1"]
        entity_urls = [f"{base}/v1/entities/{q}" for q in qids]
        for entity_url in entity_urls:
            load([entity_url], count=1, rate=1)
        row("annotate 4KB cached", load([base + "/v1/annotate"], "POST", [article], requests, rate, time_limit))
        # the other formats are converted from the cached JSON result: a distinct ?source= per
        # request makes every answer a fresh conversion; one URL repeated is the remembered one
        fresh = [f"{base}/v1/annotate?format={{}}&source=https://bench.example/{i}" for i in range(requests)]
        row("annotate 4KB cached, Web Annotation", load([u.format("webannotation") for u in fresh],
                                                       "POST", [article], requests, rate, time_limit))
        row("annotate 4KB cached, NIF converted", load([u.format("nif") for u in fresh[:formats_requests]],
                                                      "POST", [article], formats_requests,
                                                      formats_rate, time_limit))
        _post(base + "/v1/annotate?format=nif", article, parse=False)    # converted once
        row("annotate 4KB cached, NIF remembered", load([base + "/v1/annotate?format=nif"], "POST",
                                                       [article], requests, rate, time_limit))
        if uncached:
            linked_before = _worker_link_seconds(base)
            row("annotate 4KB uncached", load([base + "/v1/annotate"], "POST", distinct[:uncached],
                                              uncached, uncached_rate, time_limit))
            # what the queue adds: end-to-end minus the workers' own linking time (from /metrics)
            total, count = (a - b for a, b in zip(_worker_link_seconds(base), linked_before))
            if count:
                rows[-1]["link_ms_mean"] = round(total / count * 1000, 2)
        if sequential:
            spec = {"urls": [base + "/v1/annotate"], "method": "POST", "bodies": distinct[uncached:],
                    "count": sequential, "metrics_url": base + "/metrics", "sequential": True}
            one = row("annotate 4KB uncached", _loadgen_process(spec, time_limit + 120), "sequential")
            # the same client, one request at a time to the hello app: the part of the figure
            # that is the load generator and an HTTP round trip, whatever the service does
            floor = row("aiohttp hello (reference)", _loadgen_process(
                {"urls": [hello + "/"], "method": "GET", "count": sequential, "sequential": True},
                time_limit), "sequential")
            figures.append({"bench": "http figures",
                            "figure": "uncached 4 KB annotate p50 minus worker linking (ms)",
                            "value": one["p50_minus_link_ms"], "target": f"<= {QUEUE_OVERHEAD_TARGET_MS:g}",
                            "detail": f"p50 {one['p50_ms']} - linking p50 {one['link_p50_ms']}; "
                                      f"per-request overhead p50 {one['overhead_p50_ms']}; the same "
                                      f"client to hello, one at a time: p50 {floor['p50_ms']}"})
        row("GET entity card cached", load(entity_urls, "GET", None, requests, rate, time_limit))
        row("aiohttp hello (reference)", load([hello + "/"], "GET", None, requests, rate, time_limit))
        if saturate_seconds:
            rounds: dict[str, list[dict]] = {}
            for _ in range(max(1, repeat)):
                hello_round = saturate_server(hello, [hello + "/"], "GET", None, saturate_seconds)
                rounds.setdefault("aiohttp hello (reference)", []).append(hello_round)
                uvloop_round = saturate_server(hello_uvloop, [hello_uvloop + "/"], "GET", None,
                                               saturate_seconds)
                rounds.setdefault("aiohttp hello on uvloop", []).append(uvloop_round)
                for scenario, args in (("annotate 4KB cached", ([base + "/v1/annotate"], "POST", article)),
                                       ("GET entity card cached", (entity_urls, "GET", None))):
                    result = saturate_server(base, *args, seconds=saturate_seconds)
                    result["vs_hello_throughput"] = round(
                        result["throughput_rps"] / (hello_round["throughput_rps"] or 1.0), 3)
                    result["vs_uvloop_hello"] = round(
                        result["throughput_rps"] / (uvloop_round["throughput_rps"] or 1.0), 3)
                    if "cpu_us_per_request" in result and "cpu_us_per_request" in hello_round:
                        # requests/s the one core would give if each cost its CPU time alone
                        result["vs_hello_cpu"] = round(
                            hello_round["cpu_us_per_request"] / result["cpu_us_per_request"], 3)
                    rounds.setdefault(scenario, []).append(result)
            for scenario, results in rounds.items():
                median = {key: statistics.median(r[key] for r in results)
                          for key in ("throughput_rps", "p50_ms", "p90_ms", "p99_ms",
                                      "cpu_us_per_request") if all(key in r for r in results)}
                summary = row(scenario, {**median, "client": results[0].get("client"),
                                         "rounds_rps": [r["throughput_rps"] for r in results]},
                              f"saturation, median of {len(results)}")
                if scenario in TARGETS:
                    ratios = [r["vs_hello_throughput"] for r in results]
                    summary["vs_hello_throughput"] = round(statistics.median(ratios), 2)
                    uvloop_ratios = [r["vs_uvloop_hello"] for r in results]
                    summary["vs_uvloop_hello"] = round(statistics.median(uvloop_ratios), 2)
                    cpu_ratios = [r["vs_hello_cpu"] for r in results if "vs_hello_cpu" in r]
                    cpu_detail = (f"; CPU per request vs hello's {statistics.median(cpu_ratios):.2f} "
                                  f"({cpu_ratios})" if cpu_ratios else "")
                    figures.append({"bench": "http figures",
                                    "figure": f"{scenario} at saturation vs aiohttp hello",
                                    "value": summary["vs_hello_throughput"],
                                    "target": f">= {TARGETS[scenario]:g}",
                                    "detail": f"per-round ratios {ratios}; vs hello on uvloop "
                                              f"{summary['vs_uvloop_hello']} ({uvloop_ratios})"
                                              + cpu_detail})
    open_hello = next(r for r in rows if r["mode"] == "open loop" and r["scenario"].startswith("aiohttp"))
    for r in rows:
        if r["mode"] == "open loop":
            r["vs_hello_p50"] = round(r["p50_ms"] / (open_hello["p50_ms"] or 1.0), 2)
    return rows + figures


@contextmanager
def _given(url: str):
    yield url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--loadgen"]:
        print(json.dumps(_run_loadgen(json.loads(sys.stdin.read()))))
        return 0
    if argv[:1] == ["--hello"]:
        return _run_hello(int(argv[1]), argv[2] if len(argv) > 2 else "asyncio")
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
    parser.add_argument("--repeat", type=int, default=3,
                        help="saturation rounds (hello, annotate, card each); figures are medians")
    parser.add_argument("--sequential", type=int, default=40,
                        help="distinct articles sent one at a time for the queue overhead; 0: skip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.url, args.kb, args.requests, args.rate, args.uncached, args.uncached_rate,
               args.time_limit, args.saturate, args.repeat, args.sequential)
    from .report import print_rows, python_context
    # the started server runs on this interpreter; a --url server on whatever runs it
    print_rows(rows, as_json=args.json, context=python_context() if args.url is None else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
