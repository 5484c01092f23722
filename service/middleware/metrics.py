"""Times every request, by route template (``/v1/jobs/{job_id}``, never the raw path)."""
from __future__ import annotations

import time

from aiohttp import web

from ..metrics import ServiceMetrics

#: any other method is counted as "other": label values must stay few
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_middleware(metrics: ServiceMetrics):
    observe_request = metrics.requests.observe

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
            observe_request(route, method, status, time.perf_counter() - started)

    return observe
