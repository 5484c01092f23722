"""Operations: /healthz (alive), /readyz (Redis and a worker answer), /metrics, the OpenAPI doc."""
from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from linkers import errors

from ..metrics import CONTENT_TYPE
from ..middleware.errors import DEPENDENCY_DOWN
from ..resources import GENERATIONS, METRICS, OPENAPI, OVERLAY, REDIS, WORKERS

REDIS_PING_TIMEOUT = 1.0


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    try:
        await asyncio.wait_for(app[REDIS].ping(), REDIS_PING_TIMEOUT)
    except (asyncio.TimeoutError, *DEPENDENCY_DOWN):
        raise errors.BrokerUnavailable("Redis cannot be reached", retry_after=5) from None
    if not await app[WORKERS].workers():
        raise errors.NoWorkers("no linking worker answers", retry_after=5)
    return web.Response(body=orjson.dumps({"status": "ready", "worker_answered": True,
                                           "kb_version": app[GENERATIONS].kb_version}),
                        content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    service_metrics = request.app[METRICS]
    overlay = request.app[OVERLAY]
    service_metrics.kb_generation.set(overlay.generation)
    await service_metrics.read_shared(request.app[REDIS], overlay.base_version)
    return web.Response(body=service_metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")
