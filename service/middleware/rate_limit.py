"""Optional per-client rate limit (``FACTLINK_RATE_LIMIT`` requests/s): a token bucket each.

A client is its authenticated API key when keys are on (``api_keys.AUTHENTICATED_KEY``, set by
the key check that runs first), else its address (``clients.client_address``; behind a proxy
see ``FACTLINK_TRUSTED_PROXIES``). With keys off an ``X-API-Key`` header means nothing: it
used to pick the bucket, so inventing keys bypassed the limit. Buckets live in this process:
with several API processes the limit applies per process, which is enough to stop one noisy
client.
"""
from __future__ import annotations

import time

from aiohttp import web

from linkers import errors
from workers.settings import Settings

from . import AUTHENTICATED_KEY, OPERATIONAL_PATHS
from .clients import client_address

MAX_TRACKED_CLIENTS = 100_000


class TokenBuckets:
    def __init__(self, rate: float, size: float):
        self.rate = rate
        self.size = max(1.0, size)
        self._buckets: dict[str, tuple[float, float]] = {}   # client -> (tokens, updated)

    def _tokens(self, client: str, now: float) -> float:
        tokens, updated = self._buckets.get(client, (self.size, now))
        return min(self.size, tokens + (now - updated) * self.rate)

    def wait(self, client: str) -> float:
        """Seconds until ``client`` has a token again (0: it has one), spending nothing."""
        tokens = self._tokens(client, time.monotonic())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, client: str) -> float:
        """Spend a token: 0 if there was one, else the seconds until there will be."""
        now = time.monotonic()
        tokens = self._tokens(client, now)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_TRACKED_CLIENTS:
                self._forget_full(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # a bucket that has refilled is the same as no bucket
        self._buckets = {client: (tokens, updated)
                         for client, (tokens, updated) in self._buckets.items()
                         if tokens + (now - updated) * self.rate < self.size}


def rate_limit_check(settings: Settings):
    """``check(request)``: raises ``RateLimited`` when the client's bucket is empty."""
    buckets = TokenBuckets(settings.rate_limit, settings.rate_bucket_size)

    def rate_limit(request: web.Request) -> None:
        if request.path in OPERATIONAL_PATHS:
            return
        key = request.get(AUTHENTICATED_KEY)
        client = ("key:" + key) if key is not None else \
            "address:" + client_address(request, settings.trusted_proxies)
        wait = buckets.take(client)
        if wait:
            raise errors.RateLimited(f"over {settings.rate_limit:g} requests/s; slow down",
                                     retry_after=wait)

    return rate_limit
