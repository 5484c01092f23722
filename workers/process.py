"""Child processes that cannot outlive their parent (Redis and the worker pool under ``serve``,
the solo workers under ``workers.supervisor``), and the garbage collector of a process that links."""
from __future__ import annotations

import ctypes
import gc
import os
import signal
import subprocess
import sys
import time

_PR_SET_PDEATHSIG = 1
# loaded here, in the parent: a preexec_fn must not do anything as involved as finding a library
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

#: allocations between young-generation collections in a process that links (Python's default:
#: 700). Linking leaves ~12 cyclic garbage objects an article, but grows the KB's per-process
#: memos to ~200k tracked objects by 1,000 4 KB articles; at 700 the collector ran ~1,200 times
#: in 1,000 articles and walked them all in every full collection. 300 4 KB articles in one
#: process (``python -m bench.collector``, 5 rounds): the collector 8.8% of the CPU by default,
#: 2.3% with this, 13.1 -> 11.8 ms an article.
LINKING_GC_THRESHOLD = 50_000


def collect_less_for_linking() -> None:
    """For a long-lived process that links many texts (a Celery worker process, a relink pool
    process): what it holds so far (modules, the parent's state) lives as long as the process,
    so the collector need not walk it again (``gc.freeze``), and young collections run every
    ``LINKING_GC_THRESHOLD`` allocations. Cyclic garbage is still collected, just in bigger
    steps (a few MB at most)."""
    gc.freeze()
    gc.set_threshold(LINKING_GC_THRESHOLD, *gc.get_threshold()[1:])


def die_with_parent(own_group: bool = True) -> None:
    """``preexec_fn``: on Linux the kernel sends SIGTERM to the child when its parent dies,
    so even a SIGKILLed ``factlink serve`` leaves no Redis or worker behind.

    ``own_group``: a Ctrl-C in the terminal reaches the parent only, which then stops its
    children in order (API first, workers next, Redis last). Without it the child stays in its
    parent's group (the worker supervisor's children: a kill of the group reaches them)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if own_group:
        os.setpgrp()


def stop_process_group(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM the child (it stops its own children: a Celery warm shutdown finishes running
    tasks), then SIGKILL whatever is left of its process group; return the exit code.

    The child is reaped only after the group kill: until then its pid (the group id) cannot be
    reused, so the kill can only reach our own descendants.
    """
    if process.returncode is None:
        _signal(process.pid, signal.SIGTERM, group=False)
        deadline = time.monotonic() + timeout
        while not _exited(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal(process.pid, signal.SIGKILL, group=True)
    return process.wait()


def running(process: subprocess.Popen) -> bool:
    """True while the child runs; never reaps it (see ``stop_process_group``)."""
    return process.returncode is None and not _exited(process.pid)


def _exited(pid: int) -> bool:
    """True once ``pid`` has exited, without reaping it (it stays a zombie until ``wait``)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _signal(pid: int, signum: int, group: bool) -> None:
    try:
        (os.killpg if group else os.kill)(pid, signum)
    except ProcessLookupError:
        pass
