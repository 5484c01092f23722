"""A worker process's heartbeat: the leases on the jobs it is running, renewed from a thread.

``jobs.mark_running`` takes a lease (``keys.lease``, ``LEASE_TTL`` seconds) on each job a task
starts; this thread renews the leases every ``LEASE_TTL / 3`` seconds for as long as the process
holds the jobs. A process that dies (SIGKILL, OOM killer, its worker's main process gone) stops
renewing: its leases expire and the reaper (``workers.reaper``) sends the jobs again. The thread
starts on first use, so it runs in the forked pool process, not in the parent.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from . import keys
from .jobs import LEASE_TTL

log = logging.getLogger(__name__)


def holder_prefix(pid: int) -> str:
    """What the lease holder name of every process ``pid`` of this host starts with."""
    return f"{socket.gethostname()}:{pid}:"


def holder_name() -> str:
    """This process's lease holder name: host, pid, and a random part (pids are reused)."""
    return f"{holder_prefix(os.getpid())}{uuid.uuid4().hex[:8]}"


class Leases:
    def __init__(self, redis, worker: str):
        self._redis = redis
        self.worker = worker
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, job_ids: list[str]) -> None:
        """Renew these jobs' leases from now on (``mark_running`` took them)."""
        with self._lock:
            self._held.update(job_ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew, name="factlink-leases",
                                                daemon=True)
                self._thread.start()

    def release(self, job_ids: list[str]) -> None:
        """Stop renewing (the job ended, or its task gave up: the lease then runs out)."""
        with self._lock:
            self._held.difference_update(job_ids)

    def _renew(self) -> None:
        stop = threading.Event()      # never set: the thread lives as long as the process
        while not stop.wait(LEASE_TTL / 3):
            with self._lock:
                held = list(self._held)
            if not held:
                continue
            try:
                with self._redis.pipeline(transaction=False) as pipe:
                    for job_id in held:
                        pipe.set(keys.lease(job_id), self.worker, ex=LEASE_TTL)
                    pipe.execute()
            except Exception as exc:     # Redis away: renew again next beat
                log.debug("cannot renew job leases: %s", exc)
