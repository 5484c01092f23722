"""Who a request comes from, for rate limits: its address, or the address a trusted proxy saw.

``X-Forwarded-For`` is anyone's to write, so it is read only when the connection comes from an
address listed in ``FACTLINK_TRUSTED_PROXIES`` (off by default). Then the client is the
right-most address of the header that is not itself a trusted proxy: each proxy appends the
address it received the request from, so entries left of that one may be invented by the client.
"""
from __future__ import annotations

from aiohttp import web

FORWARDED_FOR = "X-Forwarded-For"


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    address = request.remote or "unknown"
    if address not in trusted_proxies:
        return address
    for hop in reversed(request.headers.get(FORWARDED_FOR, "").split(",")):
        hop = hop.strip()
        if hop and hop not in trusted_proxies:
            return hop
    return address
