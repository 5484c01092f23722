"""What ``factlink serve`` keeps alive: the bundled Redis, restarted when it exits on its own.

A Redis that died (OOM killer, a crash, SIGKILL) is started again on the same port and data
directory, so every client reconnects to the same URL and finds the jobs of its append-only
file. Restarts back off (``RESTART_BACKOFF``, doubling up to ``RESTART_BACKOFF_MAX``) and are
logged; ``state()`` says what is up right now, for ``/healthz``. The worker pool has its own
watcher (``service.serve.WorkerPool``); both report through ``Supervision``.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from pathlib import Path

from linkers import errors
from workers.embedded_redis import EmbeddedRedis
from workers.settings import Settings

log = logging.getLogger(__name__)

RESTART_BACKOFF = 0.5
RESTART_BACKOFF_MAX = 30.0
#: a Redis that stayed up this long is healthy again: the next failure starts the backoff anew
STABLE_AFTER = 60.0


class SupervisedRedis:
    """An ``EmbeddedRedis`` with a watcher thread that restarts it when it exits unasked."""

    def __init__(self, server: EmbeddedRedis):
        self.server = server
        self.restarts = 0
        self._up = False
        self._stopping = threading.Event()
        self._lock = threading.Lock()     # a restart and stop() never interleave
        self._watcher = threading.Thread(target=self._watch, name="redis-watcher", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "SupervisedRedis":
        self.server.start()
        # restarts must come back on the port every client already uses
        self.server.pin_port()
        self._up = True
        self._watcher.start()
        return self

    def up(self) -> bool:
        return self._up and self.server.process is not None and self.server.process.poll() is None

    def _watch(self) -> None:
        backoff = RESTART_BACKOFF
        while not self._stopping.is_set():
            started = time.monotonic()
            code = self.server.process.wait()
            if self._stopping.is_set():
                return
            self._up = False
            if time.monotonic() - started > STABLE_AFTER:
                backoff = RESTART_BACKOFF
            log.error("the bundled Redis exited (code %s); restarting it on port %d in %.1f s",
                      code, self.server.port, backoff)
            while not self._stopping.wait(backoff):
                try:
                    with self._lock:
                        if self._stopping.is_set():
                            return
                        self.server.start()
                except Exception as exc:     # e.g. the port is held, the disk is gone
                    backoff = min(RESTART_BACKOFF_MAX, backoff * 2)
                    log.error("restarting the bundled Redis failed (%s); next try in %.1f s",
                              exc, backoff)
                    continue
                self.restarts += 1
                self._up = True
                log.warning("the bundled Redis is back on port %d (restart %d)",
                            self.server.port, self.restarts)
                backoff = min(RESTART_BACKOFF_MAX, backoff * 2)
                break

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self.server.stop()


class Supervision:
    """The state of what ``serve`` started, for ``/healthz``: name -> callable saying "up"."""

    def __init__(self):
        self._checks: dict[str, Callable[[], bool]] = {}

    def watch(self, name: str, up: Callable[[], bool]) -> None:
        self._checks[name] = up

    def state(self) -> dict[str, str]:
        return {name: ("up" if up() else "restarting") for name, up in self._checks.items()}


def start_bundled_redis(settings: Settings) -> SupervisedRedis:
    """The bundled Redis in ``FACTLINK_DATA_DIR``, supervised. A data directory that cannot be
    written (read-only, not a directory, no permission) or a Redis that will not start is one
    clear ``redis_unavailable`` error: the CLI exits 5 with the reason, no traceback."""
    data_dir = Path(settings.data_dir) / "redis"
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = data_dir / ".factlink-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise errors.BrokerUnavailable(
            f"cannot start the bundled Redis: its data directory {data_dir} is not writable "
            f"({exc.strerror or exc}); set FACTLINK_DATA_DIR to a writable directory") from None
    server = EmbeddedRedis(data_dir, port=settings.redis_port,
                           maxmemory=settings.redis_maxmemory)
    try:
        return SupervisedRedis(server).start()
    except (OSError, RuntimeError) as exc:
        raise errors.BrokerUnavailable(f"cannot start the bundled Redis: {exc}") from None
