"""The service's KB overlay in Redis: entities added or changed since the KB snapshot.

Every API and worker process applies the same changes, in the same order, to its own
``OverlayKB`` (``linkers.kb.overlay``). Redis holds:

- ``keys.kb_changes(base)``: a list of changes (JSON), appended with RPUSH; its length is the
  overlay *generation*, so "what changed since generation g" is one LRANGE;
- ``keys.kb_snapshot(base)``: a hash, the derived overlay ``state`` as of its ``generation``, written by the
  process that appends once ``SNAPSHOT_EVERY`` changes piled up after the last one, so a
  starting process decodes it instead of re-deriving every record (see ``bench/overlay.py``);
- ``keys.GENERATIONS`` field ``kb``: set to the new length with each append, in the same Lua
  script, and announced on ``keys.GENERATIONS_CHANNEL`` (``workers.generations``, which the
  API's in-process answer cache and job queue follow).

``base`` is the version of the KB a process opened (``factlink kb add`` changes in the KB
directory included), so two KBs never share an overlay.

**For other code that caches by KB**: the current effective version is
``effective_kb_version(redis, base)`` (one LLEN), and every change is announced on
``keys.GENERATIONS_CHANNEL`` (``workers.generations.GenerationWatch``); a cache keyed by
``kb_version`` needs nothing else. One caveat: the ``kb`` field is one per Redis, so two KB
versions served from one Redis (mid-deploy) share it; their change lists stay apart.

Processes pick changes up on their own: workers re-read the generation at most every
``CHECK_SECONDS`` before a task (and at once when a task names a newer generation), the API
when its generation watch sees the field move (``service.resources.kb_overlay``).

Cache invalidation: linking results and cards are keyed by ``kb_version``, so after a change
nothing cached before it is served as current (it is re-linked on the next request). Card
refreshes from Wikidata are not keyed by version; they, and results, are listed per entity in
``keys.kb_cached(qid)`` (a set of at most ``MAX_CACHED_PER_ENTITY`` keys: an entry pushed out
of a full set is deleted from the cache too, so everything cached is indexed), and a change of
the entity deletes them. A change also counts itself in ``keys.KB_CHANGED`` (per entity) before
reading the index: a card refresh whose Wikidata fetch began before the change, and that would
be stored after it, sees the count moved and is dropped (``workers.cache.write_card_refresh``).
"""
from __future__ import annotations

import logging
import time
from typing import Iterable

import orjson

from linkers import errors
from linkers.kb.dump import is_qid
from linkers.kb.overlay import RULE_PREFIX, OverlayKB, record_change, tombstone

from . import keys
from .generations import kb_version_now
from .wikidata import WikidataClient, validate_qids

log = logging.getLogger(__name__)

#: most seconds a worker serves a generation without asking Redis whether there is a newer one
CHECK_SECONDS = 0.5
#: changes after the last snapshot above which the appending process writes a new one
SNAPSHOT_EVERY = 1000
#: newsroom rule changes kept in the audit log
MAX_AUDIT = 100_000


#: The kb_version every process serves once it has caught up (sync client): ``push_changes``
#: keeps the generations hash's ``kb`` field equal to the length of the change list.
effective_kb_version = kb_version_now


def generation_of(kb_version: str, base_version: str) -> int | None:
    """The overlay generation a kb_version names on ``base_version``; None: another KB."""
    if kb_version == base_version:
        return 0
    prefix = base_version + "+o"
    if kb_version.startswith(prefix) and kb_version[len(prefix):].isdigit():
        return int(kb_version[len(prefix):])
    return None


def fetch_changes(client: WikidataClient, qids: Iterable[str],
                  languages: tuple[str, ...] = ("en",)) -> tuple[list[dict], list[str]]:
    """(changes, ids Wikidata does not have) for ``qids`` fetched from the Wikidata API.

    An id Wikidata answers under another id was merged into it (a redirect): the old id gets a
    tombstone naming the target, the target its record.
    """
    fetched = client.fetch(qids)
    changes: list[dict] = []
    for qid, raw in fetched.items():
        target = raw.get("id")
        if target and target != qid:
            changes.append(tombstone(qid, redirect=target))
        try:
            changes.append(record_change(raw, languages))
        except errors.InvalidInput as exc:       # a lexeme, property, or an item with no label
            log.info("wikidata: %s not added: %s", qid, exc.message)
            fetched.missing.append(qid)
    return changes, list(fetched.missing)


def custom_changes(entities: Iterable[dict], local_prefix: str, wikidata_ids: bool = False,
                   languages: tuple[str, ...] = ("en",)) -> list[dict]:
    """Changes for entities a newsroom wrote (dump layout). Their ids must carry the local
    prefix; a QID is refused unless ``wikidata_ids`` (loading Wikidata's own entities, e.g. an
    extract): a custom entity under a QID would silently replace Wikidata's."""
    changes = []
    for number, raw in enumerate(entities, 1):
        entity_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(entity_id, str) and is_qid(entity_id) and not wikidata_ids:
            raise errors.InvalidInput(
                f"entity {number}: {entity_id} is a Wikidata QID; a newsroom entity needs an id "
                f"starting with {local_prefix!r}, so it never collides with one (to load "
                "Wikidata's own entities, allow QIDs)", field="id", id=entity_id)
        try:
            changes.append(record_change(raw, languages, local_prefix))
        except errors.InvalidInput as exc:
            raise errors.InvalidInput(f"entity {number}: {exc.message}", **exc.details) from None
    return changes


def gather_changes(wikidata_api: str, local_prefix: str, qids: list[str], entities: list[dict],
                   wikidata_ids: bool = False) -> list[dict]:
    """The changes of one "add" (CLI or HTTP): custom entities, then QIDs fetched from the
    Wikidata API. All or nothing: an id Wikidata lacks raises ``UnknownEntity``, naming every
    such id, before anything is written."""
    qids = validate_qids(qids)
    changes = custom_changes(entities, local_prefix, wikidata_ids)
    if qids:
        with WikidataClient(wikidata_api) as client:
            fetched, missing = fetch_changes(client, qids)
        if missing:
            raise errors.UnknownEntity(f"Wikidata has no item {', '.join(missing)}; nothing was added",
                                       qids=missing)
        changes += fetched
    return changes


class RedisOverlay:
    """One process's copy of the service overlay, kept in step with Redis (sync client)."""

    def __init__(self, redis, kb, check_seconds: float = CHECK_SECONDS):
        self.redis = redis
        self.base_version = kb.version
        self.kb = kb if isinstance(kb, OverlayKB) else OverlayKB(kb)
        if isinstance(kb, OverlayKB):
            kb.rebase()
        self.check_seconds = check_seconds
        self._checked = 0.0
        self._key = keys.kb_changes(self.base_version)

    @property
    def generation(self) -> int:
        return int(self.kb.generation)

    @property
    def version(self) -> str:
        return self.kb.version

    # --- reading ------------------------------------------------------------------------------
    def load(self) -> None:
        """Catch up from nothing: the snapshot in Redis if there is one, then the rest."""
        if self.generation == 0:
            blob = self.redis.hget(keys.kb_snapshot(self.base_version), "state")
            if blob:
                try:
                    kb = OverlayKB.from_snapshot(self.kb.base, blob)
                except errors.KBFormatError as exc:
                    log.warning("KB overlay snapshot ignored (%s); replaying the changes", exc)
                else:
                    if kb.generation <= self.redis.llen(self._key):
                        self.kb.adopt(kb)
        self.sync(force=True)

    def pending(self) -> tuple[int, int, list[dict]]:
        """(generation the changes start after, generation in Redis, the changes after ours):
        Redis I/O only, no KB work."""
        start = self.generation
        generation = int(self.redis.llen(self._key))
        if generation <= start:
            return start, generation, []
        raw = self.redis.lrange(self._key, start, generation - 1)
        return start, start + len(raw), [orjson.loads(item) for item in raw]

    def catch_up(self, start: int, generation: int, changes: list[dict]) -> set[str]:
        """Apply what ``pending`` read (in the thread that reads the KB); changes another
        catch-up applied meanwhile are skipped."""
        if generation < start:
            # Redis lost the overlay (flushed, or a new Redis): start again from the base
            log.warning("KB overlay generation went back from %d to %d; reloading",
                        start, generation)
            self.kb.adopt(OverlayKB(self.kb.base))
            self.load()
            return set()
        changes = changes[self.generation - start:] if self.generation > start else changes
        if generation <= self.generation or not changes:
            return set()
        return self.kb.apply(changes, generation)

    def sync(self, force: bool = False, at_least: int = 0) -> bool:
        """Catch up with Redis if ``check_seconds`` passed (or ``force``, or we are behind
        ``at_least``); True when something changed."""
        now = time.monotonic()
        if not force and self.generation >= at_least and now - self._checked < self.check_seconds:
            return False
        self._checked = now
        return bool(self.catch_up(*self.pending()))

    # --- writing ------------------------------------------------------------------------------
    def append(self, changes: list[dict]) -> int:
        """Add changes for every process; returns the new generation (ours is caught up)."""
        generation = push_changes(self.redis, self.base_version, changes)
        self.sync(force=True)
        self.maybe_snapshot()
        return generation

    def maybe_snapshot(self) -> None:
        """Store the derived state once ``SNAPSHOT_EVERY`` changes piled up after the last one
        (in the thread that applies changes: it reads the whole overlay)."""
        snapshot_key = keys.kb_snapshot(self.base_version)
        if self.generation - int(self.redis.hget(snapshot_key, "generation") or 0) >= SNAPSHOT_EVERY:
            self.redis.hset(snapshot_key, mapping={"generation": self.generation,
                                                   "state": self.kb.snapshot()})


#: Append changes, make the new length the ``kb`` generation and announce it, atomically; with a
#: fourth key, also store the stream position the changes come from (``workers.kb_follow``).
PUSH_SCRIPT = """
local first = 1
if #KEYS == 4 then
  redis.call('HSET', KEYS[4], 'position', ARGV[1])
  first = 2
end
if #ARGV < first then return redis.call('LLEN', KEYS[1]) end
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, first))
redis.call('HSET', KEYS[2], 'kb', n)
redis.call('PUBLISH', KEYS[3], 'kb')
return n
"""
#: changes per script call (Lua's unpack has a stack limit of a few thousand values)
PUSH_CHUNK = 1000


def push_changes(redis, base_version: str, changes: list[dict], position: str | None = None) -> int:
    """Append changes to the overlay in Redis, drop the cache entries indexed under the changed
    entities, announce the new generation; returns it (Redis I/O only). ``position`` (an event
    stream id) is stored with the last of the changes, in the same script."""
    ids = sorted({change["id"] for change in changes})
    stale = []
    if ids:
        with redis.pipeline(transaction=False) as pipe:
            for qid in ids:
                # counted first: a card refresh stored from here on sees the change and is
                # dropped; one stored before is in the index read next, and deleted
                pipe.hincrby(keys.KB_CHANGED, qid, 1)
                pipe.smembers(keys.kb_cached(qid))
                pipe.delete(keys.kb_cached(qid))
            stale = [key for members in pipe.execute()[1::3] for key in members]
    push = redis.register_script(PUSH_SCRIPT)
    script_keys = [keys.kb_changes(base_version), keys.GENERATIONS, keys.GENERATIONS_CHANNEL]
    chunks = [changes[lo:lo + PUSH_CHUNK] for lo in range(0, len(changes), PUSH_CHUNK)] or [[]]
    for i, chunk in enumerate(chunks):
        args = [orjson.dumps(change) for change in chunk]
        if position is not None and i == len(chunks) - 1:
            generation = int(push(keys=script_keys + [keys.kb_follow(base_version)],
                                  args=[position] + args))
        else:
            generation = int(push(keys=script_keys, args=args))
    if stale:
        redis.delete(*stale)            # after the new generation: nothing re-caches them as current
    # a rule's scope is in the rule; a removal names the scope of the rule it removed
    audit = [orjson.dumps({"at": c.get("at"), "by": c.get("by"), "id": c["id"], "rule": c.get("rule"),
                           **({"scope": c["scope"]} if c.get("scope") else {})})
             for c in changes if c["id"].startswith(RULE_PREFIX)]
    if audit:
        with redis.pipeline(transaction=False) as pipe:
            pipe.lpush(keys.KB_AUDIT, *audit)
            pipe.ltrim(keys.KB_AUDIT, 0, MAX_AUDIT - 1)
            pipe.execute()
    return generation


def audit_log(redis, limit: int = 100) -> list[dict]:
    """The latest newsroom rule changes, newest first: who, when, what."""
    return [orjson.loads(item) for item in redis.lrange(keys.KB_AUDIT, 0, limit - 1)]
