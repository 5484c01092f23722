"""Faults under load: does ``factlink serve`` lose a job when its parts are killed?

    python -m bench.faults [--jobs 1000] [--scenarios redis-kill,worker-kill,...] [--json]

Each scenario starts a fresh ``factlink serve`` (bundled Redis, its own data directory, a free
port on 127.0.0.1, 2 worker processes), submits ``--jobs`` distinct short articles through
``POST /v1/jobs`` in batches, injects one fault once a third of them are submitted, submits the
rest, and polls every accepted job until it is done or failed or ``FINAL_DEADLINE`` passes.

- ``redis-kill``: SIGKILL the bundled ``redis-server`` (serve restarts it on the same port/dir);
- ``worker-kill``: SIGKILL the ``factlink worker`` process (what the OOM killer does; serve
  starts a new one). With ``--pool solo`` (the default) that is the supervisor: its workers get
  SIGTERM from the kernel and finish their running tasks; with prefork, the worker's main
  process: its pool processes lose their jobs' leases;
- ``child-kill``: SIGKILL one of its children (a solo worker, or a prefork pool process) in the
  middle of a task;
- ``disk-full``: the data directory is a small tmpfs that fills up (Redis refuses writes:
  MISCONF), then grows (``mount -o remount,size=``) as an operator freeing space would. Needs
  root to mount; without it the scenario makes saves fail instead (Redis ``CONFIG SET dir``
  to a deleted directory with ``save`` on: the same MISCONF refusal), and says so;
- ``sigterm``: SIGTERM ``serve`` under load (a clean stop), then start it again on the same
  data directory.

A submission that gets 429/503 or no answer is retried (bounded, with backoff): job ids are
deterministic, so a retry never duplicates. The table counts jobs *accepted* (a 202 with its
id), how many ended done, failed (with the reasons) or were lost (still queued or running, or
unknown, at the deadline), and the seconds from the end of the fault (Redis back, disk grown,
serve restarted, or the kill itself) until the last job ended. Everything runs on 127.0.0.1,
every loop has a deadline.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from .http import free_port

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ("redis-kill", "worker-kill", "child-kill", "disk-full", "sigterm")
BATCH = 20
START_TIMEOUT = 120.0
SUBMIT_RETRIES = 60
FINAL_DEADLINE = 180.0
DISK_FULL_SECONDS = 5.0
TMPFS_SMALL, TMPFS_LARGE = "64m", "256m"


@dataclass
class Outcome:
    scenario: str
    submitted: int = 0
    finished: int = 0
    failed: dict = field(default_factory=dict)
    lost: int = 0
    seconds_to_final: float | None = None
    refused_submissions: dict = field(default_factory=dict)     # "503 redis_disk_full" -> n
    note: str = ""


# --- the process tree ------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                .decode(errors="replace"))
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def find(serve_pid: int, what: str) -> int:
    """The pid of the bundled Redis, the ``factlink worker`` process or one of its children."""
    for pid in descendants(serve_pid):
        line = _cmdline(pid)
        if what == "redis" and "redis-server" in line:
            return pid
        if what == "worker" and "service.cli worker" in line:
            return pid
    if what == "child":
        worker = find(serve_pid, "worker")
        kids = _children().get(worker, []) if worker else []
        return kids[0] if kids else 0
    return 0


# --- one serve ---------------------------------------------------------------------------------

class Serve:
    def __init__(self, data_dir: Path, port: int, log_path: Path):
        self.data_dir, self.port, self.log_path = data_dir, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Serve":
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACTLINK_")
               and k != "REDIS_URL"}
        env.update(FACTLINK_DATA_DIR=str(self.data_dir), FACTLINK_PORT=str(self.port),
                   FACTLINK_WORKER_CONCURRENCY="2", FACTLINK_MAX_QUEUE="100000",
                   PYTHONPATH=str(REPO))
        if os.environ.get("FACTLINK_KB"):
            env["FACTLINK_KB"] = os.environ["FACTLINK_KB"]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"],
                                        env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}; see "
                                   f"{self.log_path}")
            try:
                ready = requests.get(f"{self.url}/readyz", timeout=2)
                if ready.status_code == 200 and ready.json().get("worker_answered"):
                    return self
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"serve did not get ready in {START_TIMEOUT} s")

    def stop(self, timeout: float = 90.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def redis_client(self):
        import redis
        line = _cmdline(find(self.process.pid, "redis")).split()
        port = line[line.index("--port") + 1]
        return redis.Redis(host="127.0.0.1", port=int(port), socket_timeout=5)


# --- load ---------------------------------------------------------------------------------------

def articles(scenario: str, count: int) -> list[dict]:
    """Distinct short news-like articles (invented), unique per run so nothing is cached."""
    run = f"{scenario}-{os.getpid()}-{time.time_ns()}"
    people = ["Macron", "Scholz", "Putin", "Biden", "Zelensky", "Merkel"]
    places = ["Berlin", "Paris", "Moscow", "Kyiv", "Brussels", "Washington"]
    return [{"text": f"{people[n % 6]} met {people[(n + 1) % 6]} in {places[n % 6]} to talk "
                     f"about NATO and Ukraine (report {run}-{n})."} for n in range(count)]


def submit(session: requests.Session, url: str, batch: list[dict],
           outcome: Outcome) -> list[str]:
    """Job ids of ``batch`` once accepted (202); retried with backoff on refusals."""
    delay = 0.2
    for _ in range(SUBMIT_RETRIES):
        try:
            response = session.post(f"{url}/v1/jobs", json={"articles": batch}, timeout=15)
            if response.status_code == 202:
                return [job["id"] for job in response.json()["jobs"]]
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
            refused = f"{response.status_code} {code}"
        except requests.RequestException:
            refused = "no answer"
        outcome.refused_submissions[refused] = outcome.refused_submissions.get(refused, 0) + 1
        time.sleep(delay)
        delay = min(2.0, delay * 1.5)
    return []


def poll(session: requests.Session, url: str, job_ids: list[str], outcome: Outcome,
         fault_over_at: list[float]) -> None:
    pending = set(job_ids)
    states: dict[str, dict] = {}
    deadline = time.monotonic() + FINAL_DEADLINE
    last_end = None
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            try:
                response = session.get(f"{url}/v1/jobs/{job_id}", timeout=10)
            except requests.RequestException:
                break
            if response.status_code == 200 and response.json()["status"] in ("done", "failed"):
                states[job_id] = response.json()
                pending.discard(job_id)
                last_end = time.monotonic()
        if pending:
            time.sleep(0.5)
    outcome.finished = sum(1 for s in states.values() if s["status"] == "done")
    outcome.failed = dict(Counter(s["error"]["code"] for s in states.values()
                                  if s["status"] == "failed"))
    outcome.lost = len(pending)
    if fault_over_at and last_end is not None and not pending:
        outcome.seconds_to_final = round(max(0.0, last_end - fault_over_at[0]), 1)


# --- faults -----------------------------------------------------------------------------------

def kill(serve: Serve, what: str) -> float:
    pid = find(serve.process.pid, what)
    if not pid:
        raise RuntimeError(f"no {what} process under serve")
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def wait_healthy(serve: Serve, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{serve.url}/readyz", timeout=2).status_code == 200:
                return time.monotonic()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return time.monotonic()


def run_scenario(scenario: str, jobs: int, workdir: Path) -> Outcome:
    outcome = Outcome(scenario)
    data_dir = workdir / scenario
    data_dir.mkdir(parents=True)
    mounted = False
    if scenario == "disk-full":
        mounted = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SMALL},mode=0700", "tmpfs",
             str(data_dir)], capture_output=True).returncode == 0
        outcome.note = (f"tmpfs of {TMPFS_SMALL}, grown to {TMPFS_LARGE}" if mounted else
                        "simulated: failing saves (CONFIG SET dir to a deleted directory), "
                        "not a full disk")
    serve = Serve(data_dir, free_port(), workdir / f"{scenario}.log").start()
    work = articles(scenario, jobs)
    accepted: list[str] = []
    fault_over_at: list[float] = []
    try:
        with requests.Session() as session:
            third = (jobs // 3) // BATCH * BATCH
            fault = None
            for start in range(0, jobs, BATCH):
                if start == third:
                    # the fault runs beside the load: submissions go on (and are refused,
                    # then retried) while it lasts
                    fault = threading.Thread(target=lambda: fault_over_at.append(
                        inject(scenario, serve, mounted)), name=f"fault-{scenario}")
                    fault.start()
                    time.sleep(0.2)
                accepted += submit(session, serve.url, work[start:start + BATCH], outcome)
            fault.join(180)
            accepted = list(dict.fromkeys(accepted))
            outcome.submitted = len(accepted)
            poll(session, serve.url, accepted, outcome, fault_over_at)
    finally:
        serve.stop()
        if mounted:
            subprocess.run(["umount", "-l", str(data_dir)], capture_output=True)
    return outcome


def inject(scenario: str, serve: Serve, mounted: bool) -> float:
    """Inject the fault; return when it is over (monotonic time)."""
    if scenario == "redis-kill":
        kill(serve, "redis")
        time.sleep(0.5)
        return wait_healthy(serve)
    if scenario == "worker-kill":
        return kill(serve, "worker")
    if scenario == "child-kill":
        return kill(serve, "child")
    if scenario == "sigterm":
        serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(120)
        serve.start()
        return time.monotonic()
    if scenario == "disk-full":
        if mounted:
            filler = serve.data_dir / "redis" / "filler"
            with open(filler, "wb") as fh:            # what the rest of the machine wrote
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                        fh.flush()
                except OSError:
                    pass
            time.sleep(DISK_FULL_SECONDS)
            filler.unlink()
            subprocess.run(["mount", "-o", f"remount,size={TMPFS_LARGE}", str(serve.data_dir)],
                           check=True)
        else:
            client = serve.redis_client()
            gone = serve.data_dir / "gone"
            gone.mkdir()
            old_dir = client.config_get("dir")["dir"]
            client.config_set("save", "3600 1")
            client.config_set("dir", str(gone))
            gone.rmdir()
            client.bgsave()
            time.sleep(DISK_FULL_SECONDS)
            client.config_set("dir", old_dir)
            client.config_set("save", "")
        return wait_healthy(serve)
    raise ValueError(scenario)


# --- report -----------------------------------------------------------------------------------

def table(outcomes: list[Outcome]) -> str:
    rows = ["| scenario | submitted | finished | failed (reason) | lost | last job final after "
            "the fault ended (s) | refused submissions (retried) |",
            "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        failed = ", ".join(f"{n} {code}" for code, n in o.failed.items()) or "0"
        final = "-" if o.seconds_to_final is None else f"{o.seconds_to_final:.1f}"
        refused = ", ".join(f"{n}x {why}" for why, n in o.refused_submissions.items()) or "0"
        rows.append(f"| {o.scenario} | {o.submitted} | {o.finished} | {failed} | {o.lost} | "
                    f"{final} | {refused} |")
    notes = [f"- {o.scenario}: {o.note}" for o in outcomes if o.note]
    return "\n".join(rows + notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown or args.jobs < BATCH:
        parser.error(f"unknown scenario(s) {unknown}" if unknown else f"--jobs >= {BATCH}")
    workdir = Path(tempfile.mkdtemp(prefix="factlink-faults-"))
    outcomes = []
    try:
        for scenario in scenarios:
            started = time.monotonic()
            outcome = run_scenario(scenario, args.jobs, workdir)
            outcomes.append(outcome)
            sys.stderr.write(f"{scenario}: {asdict(outcome)} ({time.monotonic() - started:.0f} s)\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps([asdict(o) for o in outcomes], indent=2) if args.json else table(outcomes))
    return 0 if all(o.lost == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
