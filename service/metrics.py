"""Prometheus metrics of one API process, plus what it reads from Redis when scraped.

Request latency and cache hits/misses are observed here; queue depth and the workers' linking
time live in Redis (workers are other processes) and are read at scrape time. Each app has its
own registry, so several apps in one process (tests) never share counters.

What every request records (its latency, its status, a cache hit) is counted in plain lists and
dicts by ``RequestCounts`` and turned into Prometheus families only when scraped: a
``prometheus_client`` child takes a lock per call, ~2.3 us of the ~75 us a cached 4 KB annotate
costs the API process (all of it on the event loop's one thread, where no lock is needed).
"""
from __future__ import annotations

import bisect
import logging

from prometheus_client import (CollectorRegistry, Gauge,
                               disable_created_metrics, generate_latest)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from workers import keys, stats

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)


class _WorkerLinkTime(Collector):
    """The linking-time histogram the workers keep in Redis, as of the last scrape."""

    def __init__(self):
        self.snapshot: tuple[list[tuple[str, int]], float, int] | None = None

    def collect(self):
        if self.snapshot is None:
            return
        buckets, total, _count = self.snapshot
        yield HistogramMetricFamily("factlink_link_seconds",
                                    "Time workers spent linking one article",
                                    buckets=buckets, sum_value=total)


class RequestCounts(Collector):
    """Request latency by (route, method), responses by (route, status) and cache lookups by
    (kind, outcome): the same series a ``Histogram`` and two ``Counter`` objects would render, counted
    with no lock. Written from the event loop only; read by the scrape, on the same loop."""

    def __init__(self):
        self._latency: dict[tuple[str, str], list] = {}    # (route, method) -> [counts..., sum]
        self._responses: dict[tuple[str, int], int] = {}
        self._cache: dict[tuple[str, str], int] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[route, method] = [0] * (len(LATENCY_BUCKETS) + 2)
        # bucket i counts observations <= LATENCY_BUCKETS[i] (the last one: +Inf); then the sum
        latency[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency[-1] += seconds
        key = (route, status)               # the status label is written at scrape time
        self._responses[key] = self._responses.get(key, 0) + 1

    def cache(self, kind: str, outcome: str) -> None:
        key = (kind, outcome)
        self._cache[key] = self._cache.get(key, 0) + 1

    def hit(self, kind: str) -> None:
        key = _HIT_KEYS.get(kind) or (kind, "hit")
        self._cache[key] = self._cache.get(key, 0) + 1

    def collect(self):
        latency = HistogramMetricFamily("factlink_http_request_seconds",
                                        "HTTP request latency by route",
                                        labels=["route", "method"])
        for labels, counts in list(self._latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts):
                cumulative += count
                buckets.append((_bound(bound), cumulative))
            latency.add_metric(list(labels), buckets, counts[-1])
        yield latency
        yield _counter("factlink_http_responses", "HTTP responses by route and status",
                       ["route", "status"], {(route, str(status)): count
                                             for (route, status), count in list(self._responses.items())})
        yield _counter("factlink_cache_lookups", "Cache lookups by kind (result, card) and outcome",
                       ["kind", "outcome"], self._cache)


#: the keys of the lookups every cache hit counts, made once
_HIT_KEYS = {kind: (kind, "hit") for kind in ("result", "card")}


def _counter(name: str, documentation: str, labels: list[str],
             counts: dict[tuple[str, str], int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in list(counts.items()):
        family.add_metric(list(values), count)
    return family


def _bound(bound: float) -> str:
    # as prometheus_client writes a bucket's "le"
    return "+Inf" if bound == float("inf") else repr(float(bound))


class ServiceMetrics:
    def __init__(self):
        # no "_created" series: a timestamp per label set, that nobody graphs
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self.requests = RequestCounts()
        self.cache_hit = self.requests.hit      # one call fewer on every cache hit
        self.registry.register(self.requests)
        self.queue_depth = Gauge(
            "factlink_queue_depth", "Tasks waiting in the queue", registry=self.registry)
        self.kb_generation = Gauge(
            "factlink_kb_generation", "KB overlay generation this API process serves",
            registry=self.registry)
        self.follow_lag = Gauge(
            "factlink_kb_follow_lag_seconds",
            "`kb follow`: seconds between the last Wikidata event handled and its handling",
            registry=self.registry)
        self.follow_events = Gauge(
            "factlink_kb_follow_events", "`kb follow`: stream events handled, by outcome",
            ["outcome"], registry=self.registry)
        self._link_time = _WorkerLinkTime()
        self.registry.register(self._link_time)

    def cache_hit(self, kind: str) -> None:
        self.requests.hit(kind)

    def cache_miss(self, kind: str) -> None:
        self.requests.cache(kind, "miss")

    async def read_shared(self, redis, kb_base_version: str | None = None) -> None:
        """Refresh what lives in Redis; if Redis is down, the process metrics still render."""
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.llen(keys.QUEUE)
                pipe.hgetall(keys.LINK_STATS)
                if kb_base_version is not None:
                    pipe.hgetall(keys.kb_follow(kb_base_version))
                depth, link_stats, *follow = await pipe.execute()
        except Exception as exc:
            log.warning("metrics: cannot read Redis (%s)", exc)
            return
        if follow and follow[0]:
            state = {k.decode(): v for k, v in follow[0].items()}
            if b"lag_seconds" in follow[0]:
                self.follow_lag.set(float(state["lag_seconds"]))
            for outcome, field in (("handled", "events"), ("malformed", "malformed"),
                                   ("changes", "changes")):
                self.follow_events.labels(outcome).set(int(state.get(field, 0)))
        self.queue_depth.set(depth)
        self._link_time.snapshot = stats.cumulative_buckets(link_stats)

    def render(self) -> bytes:
        return generate_latest(self.registry)
