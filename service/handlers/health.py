"""Operations: /healthz (alive), /readyz (Redis takes writes), /metrics, the OpenAPI doc.

Readiness is about this API process only: Redis must answer *and accept a write* (a Redis that
cannot persist, is read-only or full answers PING but refuses every job). Workers are reported
(``"workers": n``) but do not decide readiness: with no worker the API stays in the Service
and answers ``503 no_workers`` where a worker is needed, instead of vanishing. Under
``factlink serve``, ``/healthz`` also reports the bundled Redis and the worker pool it
supervises, with 503 while either is being restarted.
"""
from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from linkers import errors

from ..metrics import CONTENT_TYPE
from ..resources import GENERATIONS, JOBS, METRICS, OPENAPI, OVERLAY, REDIS, SUPERVISION, WORKERS

REDIS_PING_TIMEOUT = 1.0


async def healthz(request: web.Request) -> web.Response:
    supervision = request.app.get(SUPERVISION)
    if supervision is None:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")
    state = supervision.state()
    down = sorted(name for name, value in state.items() if value != "up")
    if down:
        error = (errors.BrokerUnavailable if "redis" in down else errors.NoWorkers)(
            f"restarting: {', '.join(down)}", retry_after=2, components=state)
        raise error
    return web.Response(body=orjson.dumps({"status": "ok", "components": state}),
                        content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    try:
        await asyncio.wait_for(app[JOBS].check_writable(), REDIS_PING_TIMEOUT)
    except asyncio.TimeoutError:
        raise errors.BrokerUnavailable("Redis does not answer", retry_after=5) from None
    worker_answered = bool(await app[WORKERS].workers())
    return web.Response(body=orjson.dumps({"status": "ready", "worker_answered": worker_answered,
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
