"""Where an uncached POST /v1/annotate spends its time between the API and the worker.

    python -m bench.queue_path [--requests 40] [--chars 0] [--kb DIR] [--json]
    python -m bench.queue_path --cpu [--requests 300] [--chars 0] [--kb DIR] [--json]

Starts a private Redis (bundled), one ``factlink worker --concurrency 1`` and ``factlink api``
(pinned as in ``bench.http``: the API on one core, the rest on the other), sends ``--requests``
distinct articles one at a time, and records every Redis command with ``MONITOR`` (its
timestamps are the server's clock, the same clock as the client's on one host). Each request's
timeline is cut at the commands that mark a step, and the median of each step is printed:

    client sends -> API asks Redis (GET of the result, or one EVALSHA doing it all)
                                                         (HTTP parse, body, job id, message)
    -> job claimed (HSET status queued, in the claim script)
    -> task pushed (LPUSH)                               (with GET + claim + LPUSH: two round
                                                          trips from the first step; one script:
                                                          microseconds)
    -> task started in the pool process (EXISTS)         (BRPOP wake-up, the message read:
                                                          a solo worker's own consumer,
                                                          ``workers.consumer``; with --pool
                                                          prefork Celery's consumer, the
                                                          hand-off, task tracing; the EXISTS
                                                          and the running mark are one script,
                                                          sent without waiting for its answer)
    -> done announced (PUBLISH)                          (linking, the result stored; one script)
    -> client has the answer                             (pub/sub delivery with the result, the
                                                          waiter wakes, the response)

The consumer's own step (``ZADD unacked_index``: kombu's copy of the message in Redis) is gone
since ``ack_emulation`` is off (``workers.celery_app``), and the API no longer reads the record
and result after the notice (``HGETALL``) when the notice carries the result.

``--cpu`` runs the same stack without MONITOR and counts instead what each request costs: the
CPU of the API process, of the worker's processes and of Redis per request (``/proc``, minus
what each burns idle), the end-to-end median and mean and the mean minus the worker's linking
time per request, and Redis's own time per script and command (SLOWLOG with every command
logged; a script's own calls listed apart). CPU moves much less from run to run than
wall-clock steps do on a shared machine.

``--chars 0`` sends short sentences (linking well under 1 ms: the row "done announced" is then
almost all overhead); ``--chars 4096`` sends 4 KB articles.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .http import (REPO, _cpu_seconds, _descendants, _on_load_cpus, _wait_ready,
                   _worker_link_seconds, free_port, pin_server)

def _starts(prefix: str, client_type: str | None = None):
    """A step ends at the first command starting so (sent by that kind of client: "tcp", a
    connection; "lua", a script's own call), after the previous step's end."""
    return lambda command, client: command.startswith(prefix) and client_type in (None, client)


#: (label, the command that ends the step). Both shapes of the API's submission are cut alike:
#: a GET, the claim script and an LPUSH (``JobQueue.submit``), or one script doing all three
#: (``JobQueue.submit_one``): the claim's HSET and the LPUSH are seen inside it either way
STEPS = (
    ("API asks Redis (GET of the result, or the one-call EVALSHA)",
     lambda command, client: client == "tcp" and (command.startswith("GET factlink:result")
                                                  or command.startswith("EVALSHA"))),
    ("job claimed (HSET status queued)",
     lambda command, _client: command.startswith("HSET factlink:job:") and "status queued" in command),
    ("task pushed (LPUSH)", _starts("LPUSH factlink ")),
    ("task started in the pool process (EXISTS)", _starts("EXISTS factlink:result")),
    ("done announced (PUBLISH)", _starts("PUBLISH factlink:jobs:done")),
)


@contextmanager
def _stack(kb_path: str | None):
    from workers.embedded_redis import EmbeddedRedis
    with tempfile.TemporaryDirectory(prefix="factlink-bench-queue-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis").start()
        port = free_port()
        env = {**os.environ, "REDIS_URL": redis.url, "FACTLINK_PORT": str(port),
               "FACTLINK_WORKER_CONCURRENCY": "1"}
        if kb_path:
            env["FACTLINK_KB"] = kb_path
        log = open(Path(tmp) / "stack.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "service.cli", "worker", "--loglevel",
                                   "WARNING"], env=env, cwd=REPO, stdout=log, stderr=log,
                                  start_new_session=True, preexec_fn=_on_load_cpus)
        api = subprocess.Popen([sys.executable, "-m", "service.cli", "api"], env=env, cwd=REPO,
                               stdout=log, stderr=log, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url + "/readyz", api)
            pin_server(api.pid)
            yield url, redis.url, lambda: {"API": [api.pid],
                                           "worker": [worker.pid, *_descendants(worker.pid)],
                                           "Redis": [redis.process.pid]}
        finally:
            for proc in (api, worker):
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            redis.stop()
            log.close()


def _monitor(redis_url: str, out_path: str) -> None:
    """``python -m bench.queue_path --monitor URL FILE``: every command Redis runs, one JSON line
    each, until killed. A process of its own: as a thread of the client's process, parsing
    the flood of lines that follows a job's end held the GIL while the client read its answer
    (the last step looked ~1 ms longer than without MONITOR)."""
    import redis
    client = redis.Redis.from_url(redis_url)
    with open(out_path, "w", buffering=1) as out, client.monitor() as monitor:
        out.write("[]\n")                          # ready: the monitor is on
        for command in monitor.listen():
            out.write(json.dumps([command["time"], command["command"],
                                  command.get("client_type")]) + "\n")


def _read_monitor(path: Path) -> list:
    lines = []
    for line in path.read_text().splitlines()[1:]:
        try:
            lines.append(tuple(json.loads(line)))
        except ValueError:                          # the last line, cut by the kill
            pass
    return lines


def _timeline(lines: list, started: float, ended: float) -> list[float] | None:
    """Times (ms after ``started``) at which each step ended, or None if one is missing."""
    marks = []
    position = 0
    for _label, ends_step in STEPS:
        found = None
        for i in range(position, len(lines)):
            at, command, client = lines[i]
            if started <= at <= ended and ends_step(command, client):
                found, position = at, i + 1
                break
        if found is None:
            return None
        marks.append((found - started) * 1000)
    marks.append((ended - started) * 1000)
    return marks


def _send(connection: http.client.HTTPConnection, request: bytes) -> None:
    """One keep-alive request, its answer read to the end; an error status fails the bench."""
    if connection.sock is None:
        connection.connect()
    connection.sock.sendall(request)
    response = http.client.HTTPResponse(connection.sock, method="POST")
    response.begin()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"POST /v1/annotate: {response.status} {body[:300]!r}")


def _texts(requests: int, chars: int, kb_path: str | None) -> tuple[list[str], str | None]:
    """``requests`` distinct articles of ``chars`` (0: one short sentence each), and the KB
    directory the stack is to serve (the Wikidata-subset KB unless ``kb_path``)."""
    from linkers import open_kb

    from .linking import real_kb
    from .news_corpus import NewsCorpus
    kb = open_kb(kb_path) if kb_path else real_kb()
    kb_path = kb_path or (str(kb.path) if kb is not None else None)
    corpus = NewsCorpus(kb or open_kb(), seed=17)
    stamp = time.time()
    return [corpus.article(chars) if chars
            else f"Macron met Putin in Moscow (take {stamp} {i})." for i in range(requests)], kb_path


def _wire(url: str, texts: list[str]) -> tuple[http.client.HTTPConnection, list[bytes]]:
    """A keep-alive connection to the API and each text's whole POST /v1/annotate request,
    ready before its clock starts: the times measured are the service's."""
    host, port = url.removeprefix("http://").split(":")
    return (http.client.HTTPConnection(host, int(port), timeout=60),
            [(f"POST /v1/annotate HTTP/1.1\r\nHost: {host}:{port}\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
              ).encode() + body
             for body in (json.dumps({"text": text}).encode() for text in texts)])


def run(requests: int = 40, chars: int = 0, kb_path: str | None = None) -> list[dict]:
    texts, kb_path = _texts(requests + 3, chars, kb_path)
    timelines, totals = [], []
    with _stack(kb_path) as (url, redis_url, _processes):
        connection, wire = _wire(url, texts)
        for request in wire[:3]:                             # warm: KB pages, connections
            _send(connection, request)
        with tempfile.TemporaryDirectory(prefix="factlink-bench-monitor-") as monitor_dir:
            monitor_path = Path(monitor_dir) / "monitor.jsonl"
            monitor = subprocess.Popen([sys.executable, "-m", "bench.queue_path", "--monitor",
                                        redis_url, str(monitor_path)], cwd=REPO)
            try:
                while not monitor_path.exists() or not monitor_path.read_text():
                    time.sleep(0.05)
                time.sleep(0.3)
                spans = []
                for request in wire[3:]:
                    started = time.time()
                    _send(connection, request)
                    ended = time.time()
                    totals.append((ended - started) * 1000)
                    spans.append((started, ended))
                    time.sleep(0.2)              # let MONITOR catch up; requests never overlap
                time.sleep(0.3)
            finally:
                monitor.kill()
                monitor.wait()
            lines = _read_monitor(monitor_path)
        for started, ended in spans:
            found = _timeline(lines, started, ended)
            if found is not None:
                timelines.append(found)
    rows = []
    previous = 0.0
    labels = [label for label, _ in STEPS] + ["client has the answer"]
    for k, label in enumerate(labels):
        step = [t[k] - (t[k - 1] if k else 0.0) for t in timelines]
        rows.append({"bench": "queue path", "step": f"{k + 1}. {label}",
                     "median_ms": round(statistics.median(step), 3) if step else None,
                     "p90_ms": round(sorted(step)[int(0.9 * (len(step) - 1))], 3) if step else None,
                     "ends_at_ms": round(previous + (statistics.median(step) if step else 0), 3)})
        previous = rows[-1]["ends_at_ms"]
    rows.append({"bench": "queue path", "step": "end to end (client)",
                 "median_ms": round(statistics.median(totals), 3),
                 "p90_ms": round(sorted(totals)[int(0.9 * (len(totals) - 1))], 3),
                 "ends_at_ms": None, "requests": len(totals), "timelines": len(timelines),
                 "chars": chars or "one sentence"})
    return rows


#: SLOWLOG entries kept per request (a 4 KB article's takes ~80: the done script's calls per
#: entity count too); read once, after the CPU is counted
SLOWLOG_PER_REQUEST = 200
#: commands and scripts shown, the costliest first (the rest are single microseconds a request)
REDIS_ROWS = 12


def _script_names() -> dict[str, str]:
    """The scripts the API and the workers run, by the SHA1 ``EVALSHA`` names them with."""
    import hashlib

    from workers import jobs
    return {hashlib.sha1(getattr(jobs, name).encode()).hexdigest(): name
            for name in dir(jobs) if name.endswith("_SCRIPT") and isinstance(getattr(jobs, name), str)}


def _cpu_by_process(processes) -> dict[str, float]:
    """CPU seconds of each group of processes (``bench.http._cpu_seconds``; one gone: 0)."""
    return {name: sum(_cpu_seconds(pid) or 0.0 for pid in pids)
            for name, pids in processes().items()}


def _redis_time(entries: list[dict], names: dict[str, str], requests: int) -> list[dict]:
    """SLOWLOG entries (every command, its time inside Redis) by command, or by script for an
    ``EVALSHA``: calls and microseconds per request; a script's own commands (client ``?:0``)
    apart, since the script's time already holds them."""
    by: dict[str, list[int]] = {}
    for entry in entries:
        words = entry["command"].split(b" ", 2)
        command = words[0].decode(errors="replace").upper()
        if command == "EVALSHA" and len(words) > 1:
            command = names.get(words[1].decode(errors="replace"), "EVALSHA (other script)")
        inside = entry["client_address"] in (b"?:0", "?:0")
        if command in ("SLOWLOG", "CONFIG", "INFO") and not inside:
            continue
        by.setdefault(f"{command} (inside a script)" if inside else command, []).append(entry["duration"])
    return [{"bench": "queue cpu", "part": f"Redis: {command}",
             "per_request": round(len(times) / requests, 2),
             "median_us": statistics.median(times),
             "us_per_request": round(sum(times) / requests, 1)}
            for command, times in sorted(by.items(), key=lambda item: -sum(item[1]))]


def run_cpu(requests: int = 300, chars: int = 0, kb_path: str | None = None,
            gap: float = 0.02) -> list[dict]:
    """CPU per uncached request, by process, and Redis's own time per command and script.

    Wall-clock steps on a shared 2-core VM move by tenths of a millisecond from run to run;
    CPU time moves much less. Counted from ``/proc`` (10 ms ticks: a few hundred requests for a
    resolution of hundredths of a millisecond), minus what each process burns idle over as
    long (heartbeats, polls), measured right after. Redis's time per command comes from its
    SLOWLOG with every command logged (no MONITOR, which echoes every argument to a client)."""
    import redis as redis_client
    texts, kb_path = _texts(requests + 5, chars, kb_path)
    names = _script_names()
    with _stack(kb_path) as (url, redis_url, processes):
        connection, wire = _wire(url, texts)
        for request in wire[:5]:                             # warm: KB pages, connections
            _send(connection, request)
        store = redis_client.Redis.from_url(redis_url)
        store.config_set("slowlog-max-len", SLOWLOG_PER_REQUEST * requests)
        store.config_set("slowlog-log-slower-than", 0)
        time.sleep(0.3)
        linked_before, _count = _worker_link_seconds(url)
        store.slowlog_reset()
        before = _cpu_by_process(processes)
        totals = []
        for request in wire[5:]:
            started = time.perf_counter()
            _send(connection, request)
            totals.append((time.perf_counter() - started) * 1000)
            time.sleep(gap)
        after = _cpu_by_process(processes)
        entries = store.slowlog_get(SLOWLOG_PER_REQUEST * requests)
        store.config_set("slowlog-log-slower-than", 10000)
        linked = _worker_link_seconds(url)[0] - linked_before
        # the idle baseline starts after the reads above (a SLOWLOG of thousands of entries
        # is milliseconds of Redis's CPU, not idle time)
        resting = _cpu_by_process(processes)
        time.sleep(sum(totals) / 1000 + gap * requests)
        idle = _cpu_by_process(processes)
    rows = []
    for name in before:
        busy = after[name] - before[name]
        at_rest = idle[name] - resting[name]
        rows.append({"bench": "queue cpu", "part": f"CPU of the {name} process(es)",
                     "cpu_ms_per_request": round((busy - at_rest) * 1000 / requests, 3),
                     "idle_cpu_ms_per_request": round(at_rest * 1000 / requests, 3)})
    # the linking time is a sum over the run: set against the mean (a median would mix a
    # typical request with the average linking, which a few slow articles pull up)
    link_ms = linked * 1000 / requests
    rows.append({"bench": "queue cpu", "part": "end to end (client)",
                 "median_ms": round(statistics.median(totals), 3),
                 "mean_ms": round(statistics.fmean(totals), 3),
                 "link_ms_per_request": round(link_ms, 3),
                 "mean_minus_link_ms": round(statistics.fmean(totals) - link_ms, 3),
                 "requests": requests, "chars": chars or "one sentence"})
    return rows + _redis_time(entries, names, requests)[:REDIS_ROWS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue_path",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int)
    parser.add_argument("--chars", type=int, default=0,
                        help="article size (0: one short sentence)")
    parser.add_argument("--kb", help="KB directory (default: the Wikidata-subset KB)")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU per request by process and Redis's time per command, no "
                             "MONITOR (default --requests 300)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--monitor", nargs=2, metavar=("REDIS_URL", "FILE"),
                        help=argparse.SUPPRESS)   # the MONITOR reader's own process
    args = parser.parse_args(argv)
    if args.monitor:
        _monitor(*args.monitor)
        return 0
    from .report import print_rows, python_context
    if args.cpu:
        rows = run_cpu(args.requests or 300, args.chars, args.kb)
    else:
        rows = run(args.requests or 40, args.chars, args.kb)
    print_rows(rows, as_json=args.json, context=python_context())     # the stack runs on it
    return 0


if __name__ == "__main__":
    sys.exit(main())
