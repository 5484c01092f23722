"""POST /v1/kb/entities: add or update entities in the service's KB overlay (``workers.kb_delta``).

The body names QIDs to fetch from the Wikidata API and/or newsroom entities in dump layout.
All or nothing: an unknown QID (404 ``unknown_entity``) or a bad entity (400) adds nothing.
The answer comes once this API process serves the new generation, so an annotate sent after it
sees the entities (workers catch up before linking a job of that generation).
"""
from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from workers.kb_delta import gather_changes, push_changes

from .. import shapes
from ..body import read_json
from ..resources import OVERLAY, SETTINGS

ADD_BODY_LIMIT = 4 * 1024 * 1024


async def add_entities(request: web.Request) -> web.Response:
    app = request.app
    settings, overlay = app[SETTINGS], app[OVERLAY]
    qids, entities, wikidata_ids = shapes.parse_kb_add(await read_json(request, ADD_BODY_LIMIT))
    loop = asyncio.get_running_loop()
    # the Wikidata API and Redis are blocking clients: in a thread; the KB is changed on the loop
    changes = await loop.run_in_executor(None, gather_changes, settings.wikidata_api,
                                         settings.local_id_prefix, qids, entities, wikidata_ids)
    generation = await loop.run_in_executor(None, push_changes, overlay.redis,
                                            overlay.base_version, changes)
    overlay.catch_up(*await loop.run_in_executor(None, overlay.pending))   # the watch may be later
    overlay.maybe_snapshot()
    added = sorted({c["id"] for c in changes if c.get("record") is not None})
    return web.Response(body=orjson.dumps({"added": added, "kb_version": overlay.version,
                                           "generation": generation}),
                        content_type="application/json")
