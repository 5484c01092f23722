"""The API's request stages, one per file, made into one aiohttp middleware by ``chain``:

    metrics      times every request (including refused ones): ``chain`` itself
    cors         answers preflights, adds CORS headers to every response (errors included)
    errors       turns every exception into a JSON error response (never a traceback)
    api_keys     optional X-API-Key check
    rate_limit   optional per-client token bucket
"""

from aiohttp import web

from ..handlers.page import PAGE_PATHS

#: probes and scrapers, and the newsroom page's files (it holds no data and asks the user for
#: a key): never behind an API key or a rate limit
OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/v1/openapi.json"}) | PAGE_PATHS

#: the request item holding the API key that passed the check (the rate limiter buckets on it)
AUTHENTICATED_KEY = web.RequestKey("authenticated_key", str)
