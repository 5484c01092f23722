"""``factlink serve``: Redis (the bundled one unless REDIS_URL), a worker pool and the HTTP API.

The API runs in this process; the workers are a ``factlink worker`` child process (the
supervisor of N solo workers, ``workers.supervisor``), restarted if it dies; the bundled Redis
is another child, restarted too (``service.supervise``). On Ctrl-C or SIGTERM they stop in
dependency order: the API (no new work), the workers (a warm shutdown finishes running tasks),
Redis last (it flushes its append-only file). Children also die with this process if it is
killed outright.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from workers.process import die_with_parent, running, stop_process_group
from workers.settings import Settings, redact_url

from .app import run_app
from .supervise import Supervision, start_bundled_redis

log = logging.getLogger(__name__)

WORKER_STOP_SECONDS = 30      # a warm shutdown waits for running tasks
RESTART_BACKOFF_SECONDS = 2


class WorkerPool:
    """The ``factlink worker`` child process, restarted when it exits on its own (its own
    workers are restarted by it; this is for the supervisor itself dying)."""

    def __init__(self, settings: Settings):
        self._env = {**os.environ, **settings.worker_env()}
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="worker-pool-watcher",
                                         daemon=True)

    def start(self) -> "WorkerPool":
        self._spawn()
        self._watcher.start()
        return self

    def _spawn(self) -> None:
        # a restart is spawned by the watcher thread, which outlives it (the parent-death signal
        # fires when the spawning thread ends): it returns only after stop() stopped the pool
        self._process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker"], env=self._env,
            stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            # wait without reaping, so stop() can still signal the process group safely
            with contextlib.suppress(ChildProcessError):    # stop() reaped it already
                os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            with self._lock:
                if self._stopping.is_set():
                    return
                code = stop_process_group(process, timeout=0)
                log.error("the worker pool exited (code %s); restarting it in %d s", code,
                          RESTART_BACKOFF_SECONDS)
            if self._stopping.wait(RESTART_BACKOFF_SECONDS):
                return
            with self._lock:
                if not self._stopping.is_set():
                    self._spawn()

    def up(self) -> bool:
        process = self._process
        return process is not None and running(process)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            if self._process is not None:
                stop_process_group(self._process, WORKER_STOP_SECONDS)


def serve(settings: Settings) -> int:
    supervision = Supervision()
    redis_server = None
    if not settings.redis_url:
        redis_server = start_bundled_redis(settings)
        supervision.watch("redis", redis_server.up)
        settings = dataclasses.replace(settings, redis_url=redis_server.url)
    try:
        pool = WorkerPool(settings).start()
        supervision.watch("workers", pool.up)
        try:
            log.info("factlink on http://%s:%d (Redis %s, %d worker processes)", settings.host,
                     settings.port, redact_url(settings.redis_url), settings.worker_concurrency)
            run_app(settings, supervision)
        finally:
            pool.stop()
    finally:
        if redis_server is not None:
            redis_server.stop()
    return 0
