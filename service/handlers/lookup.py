"""GET /v1/lookup?mention=NATO&limit=5: ranked candidates for a surface form (a selection)."""
from __future__ import annotations

import orjson
from aiohttp import web

from .. import shapes
from ..resources import KB


async def lookup(request: web.Request) -> web.Response:
    mention, limit = shapes.parse_lookup(request.query.get("mention"), request.query.get("limit"))
    candidates = request.app[KB].lookup(mention, limit)
    return web.Response(body=orjson.dumps({"mention": mention,
                                           "candidates": [c.to_dict() for c in candidates]}),
                        content_type="application/json")
