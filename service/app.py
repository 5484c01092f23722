"""The aiohttp application factory: settings in, a ready-to-run ``web.Application`` out."""
from __future__ import annotations

import asyncio
import gc

import orjson
from aiohttp import web

from workers.settings import Settings

from .handlers import ROUTES
from .handlers.page import ROUTES as PAGE_ROUTES
from .metrics import ServiceMetrics
from .middleware.chain import api_middleware
from .middleware.errors import json_protocol_errors
from .openapi import build_openapi
from .resources import CLEANUP_CONTEXTS, METRICS, OPENAPI, SETTINGS, SUPERVISION


def middlewares(settings: Settings, metrics: ServiceMetrics) -> list:
    """One middleware (``service.middleware.chain``): metrics, CORS, JSON errors, API keys and
    rate limits as one function; the optional ones are left out of it when off."""
    return [api_middleware(settings, metrics)]


def create_app(settings: Settings) -> web.Application:
    json_protocol_errors()
    metrics = ServiceMetrics()
    app = web.Application(middlewares=middlewares(settings, metrics),
                          client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[OPENAPI] = orjson.dumps(build_openapi(settings))
    app.cleanup_ctx.extend(CLEANUP_CONTEXTS)
    app.on_startup.append(_freeze_startup_objects)     # runs after every cleanup context opened
    app.add_routes(ROUTES)
    app.add_routes(PAGE_ROUTES)          # the newsroom page at /: a client of the API
    return app


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it installs (Linux, macOS), else asyncio's own: the same aiohttp app, with
    less time per request in the loop and the socket calls (measured in bench/README.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_app(settings: Settings, supervision=None) -> None:
    """Serve the API until SIGINT or SIGTERM (stops accepting, runs the cleanups, returns).
    ``supervision`` (``factlink serve``): what /healthz reports about the children it runs."""
    app = create_app(settings)
    if supervision is not None:
        app[SUPERVISION] = supervision
    web.run_app(app, host=settings.host, port=settings.port, access_log=None,
                print=None, loop=new_event_loop())


async def _freeze_startup_objects(_app: web.Application) -> None:
    # everything imported and opened so far lives as long as the process: out of the cyclic
    # GC's sight, a full collection no longer walks ~70k objects (10-30 ms, a p99 spike);
    # collected first so that no garbage of the start-up is kept forever
    gc.collect()
    gc.freeze()
