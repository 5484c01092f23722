"""Newsroom overrides: ``POST /v1/overrides``, ``GET /v1/overrides``, ``DELETE /v1/overrides/{id}``.

Rules (pin an alias to an entity, ban an entity or an alias, add a house alias) are changes of
the service's KB overlay (``linkers.kb.overlay.rule_change``): every process applies them, the
KB generation moves, so new annotations, ``relink`` and nothing cached from before see them.
They hold for every caller (global); each change is in the audit log with who (the API key's
fingerprint, never the key) and when.
"""
from __future__ import annotations

import asyncio
import hashlib
import time

import orjson
from aiohttp import web

from linkers import errors
from linkers.kb.overlay import rule_change, rule_removal
from workers.kb_delta import audit_log, push_changes

from ..body import read_json
from ..middleware.api_keys import HEADER
from ..resources import OVERLAY, SETTINGS

MAX_RULES = 100
BODY_LIMIT = 256 * 1024


def who(request: web.Request) -> str:
    key = request.headers.get(HEADER)
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"anonymous@{request.remote or 'unknown'}"


async def _apply(request: web.Request, changes: list[dict]) -> int:
    overlay = request.app[OVERLAY]
    loop = asyncio.get_running_loop()
    generation = await loop.run_in_executor(None, push_changes, overlay.redis, overlay.base_version, changes)
    overlay.catch_up(*await loop.run_in_executor(None, overlay.pending))
    return generation


async def add_rules(request: web.Request) -> web.Response:
    body = await read_json(request, BODY_LIMIT)
    rules = body.get("rules") if isinstance(body, dict) else None
    if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_RULES \
            or not all(isinstance(r, dict) for r in rules):
        raise errors.InvalidInput(f"'rules' must be a list of 1 to {MAX_RULES} objects "
                                  "{kind, alias?, qid?}", field="rules")
    overlay, prefix = request.app[OVERLAY], request.app[SETTINGS].local_id_prefix
    by, at = who(request), time.time()
    changes = []
    for rule in rules:
        unknown = sorted(set(rule) - {"kind", "alias", "qid"})
        if unknown:
            raise errors.InvalidInput(f"unknown rule field(s) {', '.join(unknown)}", field=unknown[0])
        change = rule_change(rule.get("kind"), rule.get("alias"), rule.get("qid"), by, at, prefix)
        qid = change["rule"].get("qid")
        if qid is not None and qid not in overlay.kb:
            raise errors.UnknownEntity(f"{qid} is not in the knowledge base: add it first "
                                       "(POST /v1/kb/entities); no rule was added", qid=qid)
        changes.append(change)
    generation = await _apply(request, changes)
    return web.json_response({"rules": [{"id": c["id"], **c["rule"]} for c in changes],
                              "kb_version": overlay.version, "generation": generation},
                             dumps=lambda v: orjson.dumps(v).decode())


async def list_rules(request: web.Request) -> web.Response:
    overlay = request.app[OVERLAY]
    audit = await asyncio.get_running_loop().run_in_executor(None, audit_log, overlay.redis)
    rules = [{"id": rule_id, **rule} for rule_id, rule in sorted(overlay.kb.rules.items())]
    return web.json_response({"rules": rules, "audit": audit, "kb_version": overlay.version},
                             dumps=lambda v: orjson.dumps(v).decode())


async def remove_rule(request: web.Request) -> web.Response:
    overlay, rule_id = request.app[OVERLAY], request.match_info["rule_id"]
    if rule_id not in overlay.kb.rules:
        raise errors.UnknownRule(f"no rule {rule_id!r} is in force", rule=rule_id)
    generation = await _apply(request, [rule_removal(rule_id, who(request), time.time())])
    return web.json_response({"removed": rule_id, "kb_version": overlay.version,
                              "generation": generation})
