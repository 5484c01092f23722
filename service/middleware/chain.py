"""The API's request stages, outermost first, around every route's handler:

    metrics      times every request (including refused ones)
    cors         answers preflights, adds CORS headers to every response (errors included)
    errors       turns every exception into a JSON error response (never a traceback)
    api_keys     optional X-API-Key check
    rate_limit   optional per-client token bucket

One function wrapped around each handler when the routes are added (``service.app``), not
aiohttp middlewares: any middleware at all costs every request aiohttp's chain of
``functools.partial`` calls and its own ``_fix_request_current_app`` layer, each a coroutine
frame; with the stages as middlewares a cached card cost ~8% more CPU (measured in
bench/README.md). Requests no route takes (404, 405) reach a catch-all route wrapped the same
way (``service.app``). The optional stages are left out when off: the key and rate checks are
plain functions called in a loop over the ones configured, and CORS is one ``None`` test.
"""
from __future__ import annotations

import time

from aiohttp import web

from workers.settings import Settings

from ..metrics import ServiceMetrics
from .api_keys import api_key_check
from .cors import Cors
from .errors import error_answer
from .rate_limit import rate_limit_check

#: any other method is counted as "other": label values must stay few
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def api_stages(settings: Settings, metrics: ServiceMetrics):
    """``wrap(handler, route)``: the handler behind every stage, counted under ``route``."""
    observe_request = metrics.requests.observe
    perf_counter = time.perf_counter
    cors = Cors(settings) if settings.cors_origins else None
    checks = []
    if settings.accepted_keys:
        checks.append(api_key_check(settings))
    if settings.rate_limit > 0:
        checks.append(rate_limit_check(settings))       # after the key check: it buckets on keys
    checks = tuple(checks)

    def wrap(handler, route: str):
        async def staged(request: web.Request) -> web.StreamResponse:
            started = perf_counter()
            status = 500
            try:
                origin = cors.origin(request) if cors is not None else None
                if origin is not None and cors.is_preflight(request):
                    # before the key check: browsers never send custom headers on a preflight
                    response = cors.preflight(request, origin)
                else:
                    try:
                        for check in checks:
                            check(request)
                        response = await handler(request)
                    except Exception as exc:     # noqa: BLE001 -- every failure is a JSON answer
                        response = error_answer(exc, request)      # a redirect is raised again
                    if origin is not None:
                        cors.expose(response, origin)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                method = request.method
                observe_request(route, method if method in KNOWN_METHODS else "other", status,
                                perf_counter() - started)

        staged.__name__ = staged.__qualname__ = getattr(handler, "__name__", "handler")
        return staged

    return wrap
