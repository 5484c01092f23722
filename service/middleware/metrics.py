"""Times every request, by route template (``/v1/jobs/{job_id}``, never the raw path)."""
from __future__ import annotations

import time

from aiohttp import web

from ..metrics import ServiceMetrics

#: any other method is counted as "other": label values must stay few
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_middleware(metrics: ServiceMetrics):
    # ``labels()`` takes a lock and builds a tuple key on every call; the label sets are few
    # (routes x methods, routes x statuses), so each child is looked up once and kept here
    timers: dict[tuple, object] = {}
    counters: dict[tuple, object] = {}

    def timer(route: str, method: str):
        child = timers.get((route, method))
        if child is None:
            child = timers[route, method] = metrics.request_seconds.labels(route, method)
        return child

    def counter(route: str, status: int):
        child = counters.get((route, status))
        if child is None:
            child = counters[route, status] = metrics.responses.labels(route, str(status))
        return child

    @web.middleware
    async def observe(request: web.Request, handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            method = request.method if request.method in KNOWN_METHODS else "other"
            timer(route, method).observe(time.perf_counter() - started)
            counter(route, status).inc()

    return observe
