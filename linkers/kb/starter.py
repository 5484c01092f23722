"""The starter KB: ``linkers/starter/entities.json``, built on first use into a cache directory.

Where: ``$XDG_CACHE_HOME/factlink`` (default ``~/.cache/factlink``), one directory per content
of the starter dump and build logic, so a KB built by older code is never reused. Opening a
built starter KB writes nothing, so a read-only root works once it is built (the Docker image
builds it at image build time).

The first start of every kind of process may build it: ``factlink serve`` and ``api`` (before
their event loop starts), ``worker`` (before Celery forks its pool), ``relink``, ``link``, a
notebook. Processes that start together (the API and a worker) take a lock file next to the
KB: one builds, the others wait and then open what it installed. The build itself goes to a
temporary directory renamed into place, so a process killed mid-build leaves no half KB; the
next build (under the lock) removes the leftovers. The build never forks off the main thread
(``build.may_fork``), so it also works from an executor thread.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

from ..errors import KBError
from .build import BUILD_LOGIC, build_kb

log = logging.getLogger(__name__)

STARTER_DUMP = Path(__file__).resolve().parent.parent / "starter" / "entities.json"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/factlink``, else ``~/.cache/factlink`` (the XDG base directory rule)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if os.path.isabs(xdg) else Path(os.path.expanduser("~")) / ".cache"
    return base / "factlink"


def starter_kb_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the starter KB is built: a cache directory keyed by the starter dump's content and
    the build logic (a KB built by older code is not reused)."""
    if not STARTER_DUMP.is_file():
        raise KBError(f"the starter KB dump is missing from the package: {STARTER_DUMP}")
    digest = hashlib.sha256(STARTER_DUMP.read_bytes()).hexdigest()[:12]
    base = Path(cache_dir) if cache_dir else default_cache_dir()
    return base / f"starter-kb-{digest}-b{BUILD_LOGIC}"


def ensure_starter_kb(cache_dir: str | os.PathLike | None = None) -> Path:
    """The starter KB's directory, built first if no process has built it yet."""
    target = starter_kb_path(cache_dir)
    if (target / "meta.json").is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f"{target.name}.lock", "a")
    except OSError as exc:
        raise KBError(f"cannot build the starter KB in {target.parent}: {exc.strerror}; set "
                      "XDG_CACHE_HOME to a writable directory, or FACTLINK_KB to a built KB",
                      path=str(target.parent)) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process building the starter KB in %s", target)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "meta.json").is_file():    # nobody built it while this one waited
            _build(target)
    return target


def _build(target: Path) -> None:
    """Build under the lock: no other process is building this KB, so leftovers of a killed
    build (``build_kb``'s temporary directories) can go."""
    for leftover in target.parent.glob(f".{target.name}.*"):
        shutil.rmtree(leftover, ignore_errors=True)
    log.info("building the starter KB (first start, ~2 s)… into %s", target)
    started = time.perf_counter()
    report = build_kb([str(STARTER_DUMP)], str(target), workers=1, progress=False)
    log.info("starter KB built: %d entities, %d alias keys in %.1f s (kb %s)", report.entities,
             report.alias_keys, time.perf_counter() - started, report.kb_version)
