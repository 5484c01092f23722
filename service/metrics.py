"""Prometheus metrics of one API process, plus what it reads from Redis when scraped.

Request latency and cache hits/misses are observed here; queue depth and the workers' linking
time live in Redis (workers are other processes) and are read at scrape time. Each app has its
own registry, so several apps in one process (tests) never share counters.
"""
from __future__ import annotations

import logging

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)
from prometheus_client.core import HistogramMetricFamily
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


class ServiceMetrics:
    def __init__(self):
        # no "_created" series: a timestamp per label set, that nobody graphs
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "factlink_http_request_seconds", "HTTP request latency by route",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.responses = Counter(
            "factlink_http_responses", "HTTP responses by route and status",
            ["route", "status"], registry=self.registry)
        self.cache = Counter(
            "factlink_cache_lookups", "Cache lookups by kind (result, card) and outcome",
            ["kind", "outcome"], registry=self.registry)
        self._cache_children: dict[tuple[str, str], object] = {}
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
        self._cache_child(kind, "hit").inc()

    def cache_miss(self, kind: str) -> None:
        self._cache_child(kind, "miss").inc()

    def _cache_child(self, kind: str, outcome: str):
        # ``labels()`` takes a lock and builds a key on every call (~3 us, on every cached
        # answer); the kinds are few, so each child is looked up once
        child = self._cache_children.get((kind, outcome))
        if child is None:
            child = self._cache_children[kind, outcome] = self.cache.labels(kind, outcome)
        return child

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
