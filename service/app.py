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
from .middleware.chain import api_stages
from .middleware.errors import json_protocol_errors
from .openapi import build_openapi
from .resources import CLEANUP_CONTEXTS, METRICS, OPENAPI, SETTINGS, SUPERVISION


#: how ``add_routes`` wraps a handler in the request stages (``service.middleware.chain``)
STAGES = web.AppKey("stages", object)
#: the metrics label of requests no route takes (404, 405)
UNMATCHED = "unmatched"


def create_app(settings: Settings) -> web.Application:
    json_protocol_errors()
    metrics = ServiceMetrics()
    # no aiohttp middlewares: every handler is wrapped in the stages instead (add_routes)
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[STAGES] = api_stages(settings, metrics)
    app[OPENAPI] = orjson.dumps(build_openapi(settings))
    app.cleanup_ctx.extend(CLEANUP_CONTEXTS)
    app.on_startup.append(_freeze_startup_objects)     # runs after every cleanup context opened
    add_routes(app, ROUTES)
    add_routes(app, PAGE_ROUTES)          # the newsroom page at /: a client of the API
    # looked at last (the router walks a path's parents down to "/", where this one sits):
    # what no route takes gets its JSON 404 or 405, its CORS headers and its count here
    catch_all = app.router.add_resource("/{path:.*}")
    catch_all.add_route("*", app[STAGES](_unmatched(catch_all), UNMATCHED))
    return app


def add_routes(app: web.Application, routes) -> None:
    """``app.add_routes`` with each handler behind the request stages, counted under its path
    (a route's path is its ``canonical`` form: no route here has a regular expression)."""
    wrap = app[STAGES]
    app.add_routes([web.RouteDef(route.method, route.path, wrap(route.handler, route.path),
                                 route.kwargs) for route in routes])


def _unmatched(catch_all):
    async def unmatched(request: web.Request) -> web.Response:
        # the methods other resources take on this path: aiohttp's own 405 rule
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource is not catch_all:
                allowed |= (await resource.resolve(request))[1]
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()

    return unmatched


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
