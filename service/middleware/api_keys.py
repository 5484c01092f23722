"""Optional API keys: with ``FACTLINK_API_KEYS`` (or ``FACTLINK_ADMIN_KEYS``) set, requests need a
known ``X-API-Key``."""
from __future__ import annotations

import hmac

from aiohttp import web

from linkers import errors
from workers.settings import Settings

from . import OPERATIONAL_PATHS

HEADER = "X-API-Key"


def api_key_middleware(settings: Settings):
    accepted = [key.encode() for key in settings.accepted_keys]

    @web.middleware
    async def require_api_key(request: web.Request, handler) -> web.StreamResponse:
        if request.path not in OPERATIONAL_PATHS:
            supplied = request.headers.get(HEADER)
            if supplied is None:
                raise errors.Unauthorized(f"send an API key in the {HEADER} header")
            # compare with every key, in constant time, so timing reveals nothing
            if not any([hmac.compare_digest(supplied.encode(), key) for key in accepted]):
                raise errors.Unauthorized("unknown API key")
        return await handler(request)

    return require_api_key
