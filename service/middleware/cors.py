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


class Cors:
    """What ``service.middleware.chain`` asks per request: the allowed origin (None: no CORS
    headers, the browser keeps the answer from the page), a preflight's answer, the headers."""

    def __init__(self, settings: Settings):
        self._allowed = frozenset(settings.cors_origins)
        self._any_origin = settings.cors_any_origin

    def origin(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin is None or not (self._any_origin or origin in self._allowed):
            return None
        return origin

    @staticmethod
    def is_preflight(request: web.Request) -> bool:
        return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers

    def preflight(self, request: web.Request, origin: str) -> web.Response:
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", ALLOW_HEADERS)
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        self._allow(response, origin)
        return response

    def expose(self, response: web.StreamResponse, origin: str) -> None:
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        self._allow(response, origin)

    def _allow(self, response: web.StreamResponse, origin: str) -> None:
        response.headers["Access-Control-Allow-Origin"] = "*" if self._any_origin else origin
        if not self._any_origin:
            response.headers["Vary"] = "Origin"
