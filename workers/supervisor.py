"""``factlink worker``'s supervisor: N single-process Celery workers (``--pool solo``), kept alive.

A solo worker runs each task in the process that took its message from Redis: no hand-off to a
pool process over a pipe (0.6-1.3 ms of an uncached annotate, ``bench/README.md``). What the
prefork parent did besides, this process does, off the data path (it takes no messages):

- it starts the N workers (``node_names``: one Celery node name each) and forwards SIGTERM and
  SIGINT to them as a warm shutdown (a running task finishes), then waits for them;
- when one dies unasked (SIGKILL, the OOM killer, a crash), before reaping it (so its pid
  cannot be reused meanwhile), it sends its running jobs again at once: ``jobs.LOST_SCRIPT``
  picks the active jobs whose running mark names that pid (``leases.holder_prefix``), deletes
  their leases and counts the dispatch as the reaper does (``MAX_DISPATCHES`` holds), and their
  messages go to the front of the queue (the prefork parent's requeue did the same). Without
  this the jobs would wait for their leases to run out and the reaper (~20 s);
- it restarts the dead worker, at once the first time, then with a doubling backoff while it
  keeps dying (reset once a worker stayed up ``STABLE_AFTER`` seconds).

What it does not keep: a message the dead worker had taken but not started yet (a ~1 ms window)
is still lost with it, and the reaper re-sends that job (queued, ``STALE_QUEUED_SECONDS``), as
for a whole worker killed. Redis away while a worker dies: the leases and the reaper, as before.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from typing import Callable

import redis
from celery.utils.nodenames import nodesplit

from . import keys
from .jobs import HELD_BY_SCRIPT, LOST_SCRIPT
from .leases import holder_prefix
from .process import die_with_parent
from .queue import link_tasks
from .reaper import REAP_BATCH, sort_verdicts, verdict_call
from .settings import Settings

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
RESTART_BACKOFF = 0.5
RESTART_BACKOFF_MAX = 30.0
#: active jobs read per ``HELD_BY_SCRIPT`` call (~15-30 ms of Redis each)
HELD_BY_CHUNK = 10_000
#: a worker that stayed up this long was healthy: its next death is restarted at once again
STABLE_AFTER = 60.0


def node_names(name: str | None, count: int) -> list[str]:
    """The Celery node names of ``count`` solo workers started as ``name`` (Celery's default
    ``celery@<hostname>``; ``%h`` is the hostname): ``name`` itself for one, else ``<name>-1``
    .. ``<name>-N`` before the ``@``."""
    local, host = nodesplit(name or "celery@%h")
    local, host = local or "celery", (host or "%h").replace("%h", socket.gethostname())
    if count == 1:
        return [f"{local}@{host}"]
    return [f"{local}-{number}@{host}" for number in range(1, count + 1)]


class LostJobs:
    """Sends again, at once, the jobs a dead worker process was running (``jobs.LOST_SCRIPT``)."""

    def __init__(self, settings: Settings, celery):
        self._settings = settings
        self._celery = celery
        self._redis = redis.Redis.from_url(settings.redis, socket_connect_timeout=2,
                                           socket_timeout=5)
        self._script = self._redis.register_script(LOST_SCRIPT)
        self._held_by_script = self._redis.register_script(HELD_BY_SCRIPT)

    def resend(self, pid: int) -> tuple[int, int]:
        """Send again the jobs running in the dead process ``pid``: (sent, failed for good)."""
        prefix, sent, failed = holder_prefix(pid), 0, 0
        # loaded first: a pipeline retried after NOSCRIPT could not tell what it re-queued
        self._redis.script_load(LOST_SCRIPT)
        held = self._held_by(prefix)
        for start in range(0, len(held), REAP_BATCH):
            job_ids, now = held[start:start + REAP_BATCH], time.time()
            with self._redis.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    pipe.evalsha(self._script.sha,
                                 *verdict_call(job_id, now, self._settings, prefix))
                resend, lost = sort_verdicts(job_ids, pipe.execute())
            if resend:
                # the front of the queue (the end workers take from): next to be linked
                self._redis.rpush(keys.QUEUE, *reversed(link_tasks(self._celery, resend)))
            sent, failed = sent + len(resend), failed + lost
        return sent, failed

    def _held_by(self, prefix: str) -> list[str]:
        """The active jobs running in the process whose holder names start with ``prefix``
        (``HELD_BY_SCRIPT``, ``HELD_BY_CHUNK`` jobs a call: Redis is never held long). A job
        the scan misses (jobs of its very score left meanwhile) waits for its lease and the
        reaper, as before the supervisor."""
        held, score, same = [], "-inf", 0
        while True:
            found, score, same, read = self._held_by_script(
                keys=[keys.ACTIVE_JOBS], args=[score, same, HELD_BY_CHUNK, keys.job(""), prefix])
            held += [job_id.decode() for job_id in found]
            if read < HELD_BY_CHUNK:
                return held

    def close(self) -> None:
        self._redis.close()


class _Slot:
    """One of the N workers: its node name, its process, its restarts."""

    def __init__(self, name: str):
        self.name = name
        self.process: subprocess.Popen | None = None
        self.restarts = 0


class SoloWorkers:
    """Starts one process per node name (``command(name)`` is its argv), and keeps them alive."""

    def __init__(self, settings: Settings, celery, names: list[str],
                 command: Callable[[str], list[str]]):
        self._lost = LostJobs(settings, celery)
        self._command = command
        self._slots = [_Slot(name) for name in names]
        self._stopping = threading.Event()
        self._lock = threading.Lock()       # a spawn and stop() never interleave
        self._watchers = [threading.Thread(target=self._watch, args=(slot,), daemon=True,
                                           name=f"supervise-{slot.name}")
                          for slot in self._slots]

    def start(self) -> None:
        """Start a watcher per worker: it starts the worker, and again each time it dies."""
        for watcher in self._watchers:
            watcher.start()

    def run(self) -> int:
        """Start the workers, wait for SIGTERM or SIGINT, stop them warm; the exit code."""
        # the stop signals are taken with sigwait, here; every thread started below inherits
        # the mask, and each worker unblocks them again (``_preexec``)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self.start()
        received = signal.sigwait(STOP_SIGNALS)
        log.info("%s: stopping %d worker processes (running tasks finish first)",
                 signal.Signals(received).name, len(self._slots))
        self.stop()
        return 0

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            for slot in self._slots:
                if slot.process is not None and slot.process.returncode is None:
                    try:
                        # the pid is not reaped before its watcher saw it exit: still ours
                        os.kill(slot.process.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        for watcher in self._watchers:
            watcher.join()
        self._lost.close()

    def _spawn(self, slot: _Slot) -> subprocess.Popen:
        # spawned by the slot's watcher thread, which outlives the process (the parent-death
        # signal fires when the spawning thread ends)
        return subprocess.Popen(self._command(slot.name), stdin=subprocess.DEVNULL,
                                preexec_fn=_preexec)

    def _watch(self, slot: _Slot) -> None:
        backoff = 0.0
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    slot.process = process = self._spawn(slot)
                except OSError as exc:        # no memory, no pids left: try again later
                    process = None
                    log.error("cannot start worker %s (%s)", slot.name, exc)
            if process is None:
                backoff = min(RESTART_BACKOFF_MAX, max(RESTART_BACKOFF, backoff * 2))
                if self._stopping.wait(backoff):
                    return
                continue
            started = time.monotonic()
            # wait without reaping: until the jobs are sent again the pid names only this one
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            resent = self._resend_lost(process.pid)
            code = process.wait()
            if self._stopping.is_set():
                if code != 0:
                    log.warning("worker %s (pid %d) %s while stopping; %s", slot.name,
                                process.pid, _exit_reason(code), resent)
                return
            if time.monotonic() - started > STABLE_AFTER:
                backoff = 0.0
            slot.restarts += 1
            log.error("worker %s (pid %d) %s; %s; restarting it%s (restart %d)", slot.name,
                      process.pid, _exit_reason(code), resent,
                      f" in {backoff:.1f} s" if backoff else "", slot.restarts)
            if self._stopping.wait(backoff):
                return
            backoff = min(RESTART_BACKOFF_MAX, max(RESTART_BACKOFF, backoff * 2))

    def _resend_lost(self, pid: int) -> str:
        try:
            sent, failed = self._lost.resend(pid)
        except Exception as exc:    # Redis away: its leases run out and the reaper sends them
            log.debug("re-sending the jobs of pid %d failed", pid, exc_info=True)
            return f"its jobs wait for their leases and the reaper ({type(exc).__name__}: {exc})"
        return f"{sent} running job(s) sent again" + (f", {failed} failed for good" if failed
                                                      else "")


def _preexec() -> None:
    die_with_parent(own_group=False)      # a kill of the supervisor's group reaches the workers
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
