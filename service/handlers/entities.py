"""GET /v1/entities/{qid} (a fact card, browser-cacheable) and POST /v1/entities/refresh.

A card the process served before comes from its answer cache (``service.answer_cache``, keyed
with ``kb_version`` and the card generation that every refresh bumps); else it is one MGET away:
the card refresh if a Wikidata refresh stored one, else the KB card cached earlier; on a miss it is
computed from the (mmap-backed) KB and cached. If Redis is down the KB card is still served,
just not cached.
"""
from __future__ import annotations

import logging

import orjson
from aiohttp import web
from multidict import CIMultiDict

from linkers import errors
from workers import cache

from .. import shapes
from ..body import read_json
from ..middleware.errors import DEPENDENCY_DOWN
from ..resources import ANSWERS, GENERATIONS, JOBS, KB, METRICS, REDIS, SETTINGS

log = logging.getLogger(__name__)

REFRESH_BODY_LIMIT = 64 * 1024


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class _ServedCard:
    """A card as the answer cache keeps it: its bytes and its response headers, made once.
    The headers say ``X-Factlink-Cache: hit``: whoever reads it from memory was not first."""
    __slots__ = ("etag", "body", "headers", "not_modified")

    def __init__(self, entry: cache.CachedCard, max_age: int):
        self.etag, self.body = entry.etag, entry.body
        self.headers = _card_headers(entry.etag, max_age, "hit")
        self.headers["Content-Length"] = str(len(entry.body))
        self.not_modified = _card_headers(entry.etag, max_age, "hit")
        del self.not_modified["Content-Type"]


def _card_headers(etag: str, max_age: int, cache_state: str) -> CIMultiDict:
    return CIMultiDict({"ETag": etag, "Cache-Control": f"public, max-age={max_age}",
                        "Content-Type": "application/json", "X-Factlink-Cache": cache_state})


async def card(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    qid = request.match_info["qid"]
    if request.query_string:
        qid = shapes.parse_entity_id(qid, settings.local_id_prefix)
        as_of = shapes.parse_as_of(request.query.get("as_of"))
    else:
        # most requests: no query to parse, and an id found in memory was checked when it was
        # put there (an id that is not valid is never a key; it is checked below)
        as_of = None
    generations, answers = app[GENERATIONS], app[ANSWERS]
    kb_version = generations.kb_version
    memory_key = (("card", kb_version, generations.card_generation, qid, as_of)
                  if generations.live else None)
    served = answers.get(memory_key) if memory_key is not None else None
    if served is not None:
        app[METRICS].cache_hit("card")
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and _etag_matches(if_none_match, served.etag):
            return web.Response(status=304, headers=served.not_modified)
        return web.Response(body=served.body, headers=served.headers)
    kb, metrics = app[KB], app[METRICS]
    qid = shapes.parse_entity_id(qid, settings.local_id_prefix)
    redis_up = True
    try:
        entry = await cache.read_card(app[REDIS], kb_version, qid, as_of)
    except DEPENDENCY_DOWN as exc:
        log.warning("card cache unavailable (%s); serving from the KB", exc)
        entry, redis_up = None, False
    if entry is not None:
        metrics.cache_hit("card")
        cache_state = "hit"
    else:
        metrics.cache_miss("card")
        cache_state = "miss"
        fact_card = kb.fact_card(qid, as_of)
        if fact_card is None:
            raise errors.UnknownEntity(f"{qid} is not in the knowledge base", qid=qid)
        entry = cache.kb_card_entry(kb_version, qid, as_of, fact_card)
        if redis_up:
            try:
                await cache.write_card(app[REDIS], kb_version, qid, as_of, entry,
                                       app[SETTINGS].card_ttl)
            except DEPENDENCY_DOWN as exc:
                log.warning("card cache unavailable (%s); card not cached", exc)
    if memory_key is not None:
        answers.put(memory_key, _ServedCard(entry, settings.card_max_age),
                    len(entry.body) + len(entry.etag) + len(qid))
    return _card_response(request, entry, cache_state)


def _card_response(request: web.Request, entry: cache.CachedCard, cache_state: str) -> web.Response:
    headers = _card_headers(entry.etag, request.app[SETTINGS].card_max_age, cache_state)
    if _etag_matches(request.headers.get("If-None-Match"), entry.etag):
        del headers["Content-Type"]
        return web.Response(status=304, headers=headers)
    return web.Response(body=entry.body, headers=headers)


async def refresh(request: web.Request) -> web.Response:
    qids, as_of = shapes.parse_refresh(await read_json(request, REFRESH_BODY_LIMIT))
    await request.app[JOBS].refresh_entities(qids, as_of)
    return web.Response(status=202, body=orjson.dumps({"qids": qids, "status": "queued"}),
                        content_type="application/json")
