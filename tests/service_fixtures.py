"""Fixtures for the service and worker tests (a pytest plugin, loaded by conftest.py).

Real parts: the bundled redis-server, Celery worker subprocesses (``factlink worker``), the real
aiohttp app on a loopback port, and a local stand-in for the Wikidata API (an HTTP server
speaking ``wbgetentities``).

One Redis, one worker and one API are shared by the whole session; tests that need their own
(a killed worker, a stopped Redis, other settings) start them with the factory fixtures, which
clean up after the test.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from aiohttp import web

from workers.celery_app import create_celery
from workers.embedded_redis import EmbeddedRedis
from workers.process import stop_process_group
from workers.settings import ENVIRONMENT, Settings
from workers.supervisor import node_names

REPO = Path(__file__).resolve().parents[1]

SAMPLE_ARTICLE = ("Kremlin takes crack at Macron after he met with Putin about Ukraine, saying "
                  "Paris is 'not the leader' in NATO so they 'couldn't do any deals'.")

#: the test environment starts from the caller's, minus every factlink setting, except the KB
_OUTER_KB = os.environ.get("FACTLINK_KB", "")


def factlink_env(**settings: str) -> dict[str, str]:
    """Environment for a factlink process: no inherited settings but the KB, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if _OUTER_KB:
        env["FACTLINK_KB"] = _OUTER_KB
    env.update(settings)
    return env


def wait_for_readyz(process: subprocess.Popen, url: str, timeout: float = 60,
                    worker: bool = True) -> None:
    """Wait until the server ``process`` (stdout piped) answers ``url/readyz`` with 200 (and,
    with ``worker``, says a worker answered: readiness itself does not need one); its output
    is the failure message if it exits first."""
    def ready():
        assert process.poll() is None, process.stdout.read().decode()
        try:
            response = requests.get(f"{url}/readyz", timeout=2)
        except requests.ConnectionError:
            return False
        return response.status_code == 200 and (not worker or response.json()["worker_answered"])
    wait_for(ready, timeout, interval=0.2, what=f"{url}/readyz to answer 200")


def settings_for(**settings: str) -> Settings:
    """A Settings object exactly as a process started with ``factlink_env(**settings)`` reads it."""
    return Settings.from_env(factlink_env(**settings))


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def finished_job(http, base_url: str, job_id: str, timeout: float = 20.0) -> dict:
    """Poll GET /v1/jobs/{job_id} until the job is done or failed; return its status body."""
    def finished():
        body = http.get(f"{base_url}/v1/jobs/{job_id}").json()
        return body if body.get("status") in ("done", "failed") else None
    return wait_for(finished, timeout, interval=0.1, what=f"job {job_id} to finish")


# --- Redis -----------------------------------------------------------------------------------

@pytest.fixture
def start_redis(tmp_path_factory):
    """Start a private Redis for this test: ``start_redis() -> EmbeddedRedis`` (stopped after)."""
    servers = []

    def start() -> EmbeddedRedis:
        server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    with EmbeddedRedis(tmp_path_factory.mktemp("session-redis")) as server:
        yield server


# --- Celery workers --------------------------------------------------------------------------

class WorkerProcess:
    """``factlink worker`` as a subprocess in its own process group: ``concurrency`` solo
    workers under their supervisor (``self.process``), or one prefork worker."""

    def __init__(self, redis_url: str, concurrency: int = 1, pool: str = "solo",
                 **settings: str):
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.nodes = node_names(self.name, concurrency if pool == "solo" else 1)
        self.settings = settings_for(REDIS_URL=redis_url, **settings)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--concurrency", str(concurrency),
             "--pool", pool, "--loglevel", "WARNING", "--name", self.name],
            env=factlink_env(REDIS_URL=redis_url, **settings), cwd=REPO,
            stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 30.0) -> "WorkerProcess":
        """Every worker node answers a ping."""
        app = create_celery(self.settings)
        try:
            def answers():
                assert self.process.poll() is None, f"worker exited with {self.process.returncode}"
                replies = app.control.ping(destination=self.nodes, timeout=0.5,
                                           limit=len(self.nodes))
                return {node for reply in replies for node in reply} >= set(self.nodes)
            wait_for(answers, timeout, what=f"workers {self.nodes} to answer")
        finally:
            app.close()
        return self

    def kill(self) -> None:
        """SIGKILL the supervisor and its workers at once: a crash, no cleanup at all."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        stop_process_group(self.process, timeout=15)


def child_pids(pid: int) -> set[int]:
    """Live child processes of ``pid`` (spawned by any of its threads)."""
    children = set()
    for entry in Path("/proc").iterdir():
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(parent) == pid and state != "Z":
            children.add(int(entry.name))
    return children


@pytest.fixture
def start_worker():
    """Start a private worker: ``start_worker(redis_url, concurrency=1, pool="solo", **env)
    -> WorkerProcess`` (ready)."""
    workers = []

    def start(redis_url: str, concurrency: int = 1, pool: str = "solo",
              **settings: str) -> WorkerProcess:
        worker = WorkerProcess(redis_url, concurrency, pool, **settings)
        workers.append(worker)
        return worker.wait_ready()

    yield start
    for worker in workers:
        worker.stop()


# --- the HTTP API ----------------------------------------------------------------------------

class ApiServer:
    """The real app (``service.app.create_app``) served on a free loopback port from a thread."""

    def __init__(self, settings: Settings, extra_routes=()):
        from service.app import add_routes, create_app
        self.app = create_app(settings)
        add_routes(self.app, extra_routes)    # test-only routes, behind the real request stages
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-api", daemon=True)

    def start(self) -> "ApiServer":
        self._thread.start()
        self._started.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        # a short grace period: a connection lingering after an early 413 must not hold up stop()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        try:
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
        except BaseException as exc:   # reported to start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)


@pytest.fixture
def start_api():
    """Start a private API: ``start_api(extra_routes=(), **env) -> ApiServer`` (stopped after)."""
    servers = []

    def start(extra_routes=(), **settings: str) -> ApiServer:
        server = ApiServer(settings_for(**settings), extra_routes).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- a local Wikidata API --------------------------------------------------------------------

class WikidataStandIn:
    """Answers ``wbgetentities`` from ``self.entities`` (QID -> entity JSON); tests fill it."""

    def __init__(self):
        self.entities: dict[str, dict] = {}
        entities = self.entities

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                ids = parse_qs(urlsplit(self.path).query).get("ids", [""])[0].split("|")
                found = {qid: entities.get(qid, {"id": qid, "missing": ""}) for qid in ids}
                body = json.dumps({"entities": found}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/w/api.php"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def wikidata_api():
    server = WikidataStandIn()
    yield server
    server.close()


# --- the shared stack --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def worker(redis_server, wikidata_api):
    worker = WorkerProcess(redis_server.url, FACTLINK_WIKIDATA_API=wikidata_api.url).wait_ready()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def api(redis_server, worker):
    server = ApiServer(settings_for(REDIS_URL=redis_server.url)).start()
    yield server
    server.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session
