"""Linking time as workers report it: a histogram kept in one Redis hash, shared by all workers.

Workers live in other processes (often other machines), so their timings cannot go into the API
process's Prometheus registry; they add to ``keys.LINK_STATS`` and ``/metrics`` reads it back.
"""
from __future__ import annotations

#: upper bounds in seconds (Prometheus ``le``); the last bucket is +Inf
LINK_TIME_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def bucket_of(seconds: float) -> str:
    """The histogram field one observation adds to."""
    return next((str(le) for le in LINK_TIME_BUCKETS if seconds <= le), "+Inf")


def cumulative_buckets(raw: dict[bytes, bytes]) -> tuple[list[tuple[str, int]], float, int]:
    """The hash as Prometheus wants it: ([(le, cumulative count)...], sum, count)."""
    counts = {k.decode(): v.decode() for k, v in raw.items()}
    running, buckets = 0, []
    for le in [str(le) for le in LINK_TIME_BUCKETS] + ["+Inf"]:
        running += int(counts.get(le, 0))
        buckets.append((le, running))
    return buckets, float(counts.get("sum", 0.0)), int(counts.get("count", 0))
