"""CORS for browser extensions and pages: allowed origins from ``FACTLINK_CORS_ORIGINS``.

Off when no origin is configured. A preflight from an allowed origin is answered here, before
API keys are checked (browsers never send custom headers on a preflight); every other response
to an allowed origin, errors included, carries the headers a page needs to read it.
"""
from __future__ import annotations

from aiohttp import web

from workers.settings import Settings

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Content-Type, X-API-Key, If-None-Match"
EXPOSE_HEADERS = "ETag, Retry-After, Location, X-Factlink-Cache, X-Factlink-Job"
PREFLIGHT_MAX_AGE = "600"


def cors_middleware(settings: Settings):
    allowed = frozenset(settings.cors_origins)
    any_origin = settings.cors_any_origin

    @web.middleware
    async def cors(request: web.Request, handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not (any_origin or origin in allowed):
            return await handler(request)      # no CORS headers: the browser keeps it out
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", ALLOW_HEADERS)
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        else:
            response = await handler(request)
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        response.headers["Access-Control-Allow-Origin"] = "*" if any_origin else origin
        if not any_origin:
            response.headers["Vary"] = "Origin"
        return response

    return cors
