"""Newsroom overrides: ``POST /v1/overrides``, ``GET /v1/overrides``, ``DELETE /v1/overrides/{id}``.

Rules (pin an alias to an entity, ban an entity or an alias, add a house alias) are changes of
the service's KB overlay (``linkers.kb.overlay.rule_change``): every process applies them, the
KB generation moves, so new annotations, ``relink`` and nothing cached from before see them.
Each change is in the audit log with who (the API key's fingerprint, never the key) and when.

A rule is global (``"scope": "global"``, the default: it holds for every caller) or scoped
(``"scope": "key"``: it holds only for requests with the API key that made it, stored under the
key's fingerprint). Who may do what:

- API keys off: every caller may add and remove global rules; scoped rules are refused (400),
  since without keys a header proves nothing;
- API keys on: a key listed in ``FACTLINK_ADMIN_KEYS`` may add and remove global rules, any
  other key gets 403 ``forbidden``; every key may add and remove its own scoped rules, and
  sees the global rules and its own (an admin key sees, and may remove, every scope's).
"""
from __future__ import annotations

import asyncio
import hmac
import time

import orjson
from aiohttp import web

from linkers import errors
from linkers.kb.overlay import key_scope, rule_change, rule_removal
from workers.kb_delta import audit_log, push_changes

from ..body import read_json
from ..middleware.api_keys import HEADER
from ..resources import OVERLAY, SETTINGS

MAX_RULES = 100
BODY_LIMIT = 256 * 1024


SCOPES = ("global", "key")


def who(request: web.Request) -> str:
    key = request.headers.get(HEADER)
    if key:
        return key_scope(key)
    return f"anonymous@{request.remote or 'unknown'}"


def keys_on(request: web.Request) -> bool:
    return bool(request.app[SETTINGS].accepted_keys)


def caller_scope(request: web.Request) -> str | None:
    """The scope of the caller's own rules: its key's fingerprint (None with keys off)."""
    key = request.headers.get(HEADER)
    return key_scope(key) if key and keys_on(request) else None


def rules_scope(request: web.Request) -> str | None:
    """The scope linking uses for this request: the caller's key fingerprint when that key has
    rules in force, else None (the global rules alone, shared by every caller). It joins job
    ids and the answer cache's keys, so one key's overridden result never reaches another."""
    kb = request.app[OVERLAY].kb
    if not kb.has_scoped_rules():
        return None
    scope = caller_scope(request)
    return scope if kb.has_scoped_rules(scope) else None


def is_admin(request: web.Request) -> bool:
    if not keys_on(request):
        return True
    supplied = (request.headers.get(HEADER) or "").encode()
    return any([hmac.compare_digest(supplied, key.encode())
                for key in request.app[SETTINGS].admin_keys])


def _may_change(request: web.Request, scope: str | None) -> None:
    if scope is None and not is_admin(request):
        raise errors.Forbidden("only a key in FACTLINK_ADMIN_KEYS may add or remove global rules; "
                               "send \"scope\": \"key\" for rules of your key alone")


async def _apply(request: web.Request, changes: list[dict]) -> int:
    overlay = request.app[OVERLAY]
    loop = asyncio.get_running_loop()
    generation = await loop.run_in_executor(None, push_changes, overlay.redis, overlay.base_version, changes)
    overlay.catch_up(*await loop.run_in_executor(None, overlay.pending))
    return generation


async def add_rules(request: web.Request) -> web.Response:
    body = await read_json(request, BODY_LIMIT)
    rules = body.get("rules") if isinstance(body, dict) else None
    scope = _requested_scope(request, body)
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
        change = rule_change(rule.get("kind"), rule.get("alias"), rule.get("qid"), by, at, prefix,
                             scope=scope)
        qid = change["rule"].get("qid")
        if qid is not None and qid not in overlay.kb:
            raise errors.UnknownEntity(f"{qid} is not in the knowledge base: add it first "
                                       "(POST /v1/kb/entities); no rule was added", qid=qid)
        changes.append(change)
    generation = await _apply(request, changes)
    return web.json_response({"rules": [{"id": c["id"], **c["rule"]} for c in changes],
                              "kb_version": overlay.version, "generation": generation},
                             dumps=lambda v: orjson.dumps(v).decode())


def _requested_scope(request: web.Request, body) -> str | None:
    """The scope a POST asks for (None: global), once the caller may use it."""
    asked = body.get("scope", "global") if isinstance(body, dict) else "global"
    if asked not in SCOPES:
        raise errors.InvalidInput(f"'scope' is one of {', '.join(SCOPES)}, not {asked!r}", field="scope")
    if asked == "global":
        _may_change(request, None)
        return None
    scope = caller_scope(request)
    if scope is None:
        raise errors.InvalidInput("scope 'key' needs API keys on (FACTLINK_API_KEYS): without them "
                                  "every rule is global", field="scope")
    return scope


def _visible(request: web.Request, scope: str | None) -> bool:
    return scope is None or scope == caller_scope(request) or (keys_on(request) and is_admin(request))


async def list_rules(request: web.Request) -> web.Response:
    overlay = request.app[OVERLAY]
    audit = await asyncio.get_running_loop().run_in_executor(None, audit_log, overlay.redis)
    # an addition's scope is in its rule, a removal's beside it (the rule is gone)
    audit = [entry for entry in audit
             if _visible(request, (entry.get("rule") or {}).get("scope") or entry.get("scope"))]
    in_force = {**overlay.kb.rules, **overlay.kb.scoped_rules(caller_scope(request))}
    if keys_on(request) and is_admin(request):
        in_force = overlay.kb.all_rules()
    rules = [{"id": rule_id, **rule} for rule_id, rule in sorted(in_force.items())]
    return web.json_response({"rules": rules, "audit": audit, "kb_version": overlay.version},
                             dumps=lambda v: orjson.dumps(v).decode())


async def remove_rule(request: web.Request) -> web.Response:
    overlay, rule_id = request.app[OVERLAY], request.match_info["rule_id"]
    rule = overlay.kb.rule(rule_id)
    if rule is None or not _visible(request, rule.get("scope")):
        raise errors.UnknownRule(f"no rule {rule_id!r} is in force", rule=rule_id)
    _may_change(request, rule.get("scope"))
    removal = rule_removal(rule_id, who(request), time.time(), scope=rule.get("scope"))
    generation = await _apply(request, [removal])
    return web.json_response({"removed": rule_id, "kb_version": overlay.version,
                              "generation": generation})
