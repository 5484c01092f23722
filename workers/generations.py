"""Generations: what can change at run time under one ``kb_version``, counted in Redis.

Two counters live in the hash ``keys.GENERATIONS``, each bumped with a notice on
``keys.GENERATIONS_CHANNEL``:

- ``kb``: the KB overlay's generation. ``kb_version`` is the base KB's version, plus this
  generation once it is above 0 (``versioned``). ``workers.kb_delta.push_changes`` sets it to
  the length of the overlay's change list, with the changes, in one script; every answer cached
  under the old version (job ids, card keys, the API's in-process cache) is then out of reach.
- ``cards``: bumped by every Wikidata card refresh (``workers.cache.write_card_refresh``), so an API
  process drops the cards it holds in memory.

Each API process keeps a ``GenerationWatch``: it subscribes first, then reads the hash, so a bump
after the read arrives as a notice and none is missed; answers are served from memory only
while it is ``live`` (subscribed and read since). When the subscription breaks, ``live`` turns
off at once and the process falls back to Redis, whose keys carry the version, until it has
read the hash again. Between a bump and its notice (one pub/sub delivery, ~0.1 ms on one
machine) an API process still serves the previous version: the same moment any other reader of
Redis would.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Callable

from . import keys

log = logging.getLogger(__name__)

KB = "kb"
CARDS = "cards"
#: longest the listener blocks before checking whether the app is stopping
LISTEN_POLL_SECONDS = 0.25
RESUBSCRIBE_SECONDS = 0.5


def versioned(base_version: str, kb_generation: int) -> str:
    """``kb_version`` of a base KB at an overlay generation (generation 0: the base as it is)."""
    # the form ``linkers.kb.overlay.OverlayKB.version`` has: a worker's result names the
    # version its job id was made with
    return base_version if kb_generation <= 0 else f"{base_version}+o{kb_generation}"


def _bump(redis, field: str) -> int:
    with redis.pipeline() as pipe:      # MULTI: the counter and its notice go together
        pipe.hincrby(keys.GENERATIONS, field, 1)
        pipe.publish(keys.GENERATIONS_CHANNEL, field)
        generation, _receivers = pipe.execute()
    return int(generation)


def kb_version_now(redis, base_version: str) -> str:
    """Sync Redis client: the current ``kb_version`` of a base KB (a worker checking the version
    a job was submitted for)."""
    return versioned(base_version, int(redis.hget(keys.GENERATIONS, KB) or 0))


def bump_kb_generation(redis) -> int:
    """Sync Redis client: the KB overlay changed; returns the new generation. Call it after the
    change is stored, so that whoever sees the new version also sees the change."""
    return _bump(redis, KB)


def bump_card_generation(redis) -> int:
    """Sync Redis client: a refreshed card was stored (call it after storing it)."""
    return _bump(redis, CARDS)


class GenerationWatch:
    """The current ``kb_version`` and card generation of one API process (async Redis)."""

    def __init__(self, redis, base_version: str):
        self._redis = redis
        self.base_version = base_version
        self.kb_generation = 0
        self.card_generation = 0
        self.kb_version = base_version
        #: True while subscribed and read since: in-process answers may be served
        self.live = False
        self._on_change: list[Callable[[], None]] = []
        self._listener: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    def on_change(self, callback: Callable[[], None]) -> None:
        """``callback()`` after any generation changed, or when the watch lost sight of them."""
        self._on_change.append(callback)

    async def start(self) -> None:
        # read once before the app serves: a process started after overlay changes would
        # otherwise submit its first jobs under the base version (the listener reads again
        # after subscribing, so nothing bumped in between is missed)
        with contextlib.suppress(Exception):
            await self._read()
        self._listener = asyncio.create_task(self._listen(), name="factlink-generations")

    async def stop(self) -> None:
        self._stopping.set()
        self.live = False
        if self._listener is not None:
            await asyncio.wait({self._listener}, timeout=LISTEN_POLL_SECONDS + 1)
            self._listener.cancel()

    async def _read(self) -> None:
        raw = await self._redis.hgetall(keys.GENERATIONS)
        kb_generation = int(raw.get(KB.encode(), 0))
        card_generation = int(raw.get(CARDS.encode(), 0))
        if (kb_generation, card_generation) != (self.kb_generation, self.card_generation):
            self.kb_generation, self.card_generation = kb_generation, card_generation
            self.kb_version = versioned(self.base_version, kb_generation)
            self._changed()

    def _changed(self) -> None:
        for callback in self._on_change:
            callback()

    async def _listen(self) -> None:
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.GENERATIONS_CHANNEL)
                await self._read()          # after subscribing: no bump falls in between
                self.live = True
                while not self._stopping.is_set():
                    message = await pubsub.get_message(timeout=LISTEN_POLL_SECONDS)
                    if message is not None:
                        self.live = False       # until the new generations are read
                        await self._read()
                        self.live = True
            except Exception as exc:  # Redis went away: serve nothing from memory until re-read
                self.live = False
                self._changed()
                log.debug("generation notices interrupted (%s); resubscribing", exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RESUBSCRIBE_SECONDS)
            finally:
                self.live = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
