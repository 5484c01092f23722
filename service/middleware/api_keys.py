"""Optional API keys: with ``FACTLINK_API_KEYS`` (or ``FACTLINK_ADMIN_KEYS``) set, requests need a
known ``X-API-Key``.

Guessing is rate-limited per client address (``clients.client_address``): every refused key
spends a token of that address's bucket (``AUTH_FAILURE_BURST`` failures, refilled at
``AUTH_FAILURE_RATE`` per second); an address with an empty bucket gets 429 for every request
until it refills, before its key is even compared. The accepted key is kept on the request
(``AUTHENTICATED_KEY``): the rate limiter buckets on it.
"""
from __future__ import annotations

import hmac

from aiohttp import web

from linkers import errors
from workers.settings import Settings

from . import AUTHENTICATED_KEY, OPERATIONAL_PATHS
from .clients import client_address
from .rate_limit import TokenBuckets

HEADER = "X-API-Key"
#: failed key checks an address may make in a burst, and how fast it may go on guessing
AUTH_FAILURE_BURST = 10
AUTH_FAILURE_RATE = 0.2


def api_key_check(settings: Settings):
    """``check(request)``: raises ``Unauthorized`` or ``RateLimited``, else keeps the key."""
    accepted = [key.encode() for key in settings.accepted_keys]
    failures = TokenBuckets(AUTH_FAILURE_RATE, AUTH_FAILURE_BURST)

    def require_api_key(request: web.Request) -> None:
        if request.path in OPERATIONAL_PATHS:
            return
        address = client_address(request, settings.trusted_proxies)
        wait = failures.wait(address)
        if wait:
            raise errors.RateLimited("too many wrong API keys from this address; "
                                     "slow down", retry_after=wait)
        supplied = request.headers.get(HEADER)
        if supplied is None:
            failures.take(address)
            raise errors.Unauthorized(f"send an API key in the {HEADER} header")
        # header bytes that are not UTF-8 come in as surrogates: compare the raw bytes
        raw = supplied.encode("utf-8", "surrogateescape")
        # compare with every key, in constant time, so timing reveals nothing
        if not any([hmac.compare_digest(raw, key) for key in accepted]):
            failures.take(address)
            raise errors.Unauthorized("unknown API key")
        request[AUTHENTICATED_KEY] = supplied

    return require_api_key
