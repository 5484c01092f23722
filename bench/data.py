"""Where the benchmarks find the shared (never committed) data, and the timing statistics they share."""
from __future__ import annotations

import os
import statistics
from contextlib import contextmanager
from pathlib import Path


def shared_data_dir() -> Path:
    """``$FACTLINK_SHARED_DATA`` or ``../shared/data`` next to the repository."""
    env = os.environ.get("FACTLINK_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def bench_texts_dir() -> Path:
    return shared_data_dir() / "bench"


def wikidata_dir() -> Path:
    return shared_data_dir() / "wikidata"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def latency_summary(ms: list[float]) -> dict:
    """The numbers every latency row reports."""
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 3) if ms else 0.0,
            "p90_ms": round(percentile(ms, 90), 3), "p99_ms": round(percentile(ms, 99), 3)}


@contextmanager
def one_core():
    """Pin this process to one CPU so "ms/doc on one core" means what it says; yields the CPU.

    The old affinity comes back afterwards: later benchmarks start subprocesses that inherit it.
    """
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = sorted(before)[-1]
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)
