"""Cached fact cards: one Redis round trip per request, ETag stored next to the bytes it names.

An entry is ``etag + b"\\n" + card JSON``, so the hot path is an MGET of the card refresh and
the KB card followed by a split: no hashing, no JSON work. The card refresh (written by the
``refresh_entities`` task) wins over the card computed from the KB. Linking results need no
helper here: they are one GET of ``keys.result(job_id)``, written by ``workers.jobs.mark_done``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from . import keys
from .generations import bump_card_generation
from .jobs import MAX_CACHED_PER_ENTITY, STORE_SCRIPT, run_script


@dataclass(frozen=True)
class CachedCard:
    etag: str          # quoted, ready for the ETag header
    body: bytes        # the fact card JSON
    refreshed: bool    # True: refreshed from Wikidata, not the KB


def card_etag(kb_version: str, qid: str, as_of: str | None, refresh_version: str = "") -> str:
    """Names one card: a KB card changes only with the KB, a card refresh with its content."""
    identity = f"{kb_version}|{qid}|{as_of or keys.CURRENT}|{refresh_version}".encode()
    return '"' + hashlib.blake2b(identity, digest_size=12).hexdigest() + '"'


def encode_entry(etag: str, body: bytes) -> bytes:
    return etag.encode() + b"\n" + body


def _decode_entry(raw: bytes, refreshed: bool) -> CachedCard:
    etag, _, body = raw.partition(b"\n")
    return CachedCard(etag=etag.decode(), body=body, refreshed=refreshed)


async def read_card(redis, kb_version: str, qid: str, as_of: str | None) -> CachedCard | None:
    """The card refresh if there is one, else the cached KB card, else None (async client)."""
    refreshed, card = await redis.mget(keys.card_refresh(qid, as_of), keys.card(kb_version, qid, as_of))
    if refreshed is not None:
        return _decode_entry(refreshed, refreshed=True)
    if card is not None:
        return _decode_entry(card, refreshed=False)
    return None


def kb_card_entry(kb_version: str, qid: str, as_of: str | None, card: dict) -> CachedCard:
    """A card just computed from the KB, ready to serve and to store."""
    return CachedCard(etag=card_etag(kb_version, qid, as_of), body=orjson.dumps(card),
                      refreshed=False)


async def write_card(redis, kb_version: str, qid: str, as_of: str | None,
                     entry: CachedCard, ttl: int) -> None:
    await redis.set(keys.card(kb_version, qid, as_of), encode_entry(entry.etag, entry.body), ex=ttl)


def entity_changes(redis, qids: list[str]) -> dict[str, bytes | None]:
    """Worker side: each entity's change count in the KB overlay (None: never changed), read
    before fetching its facts, for ``write_card_refresh``."""
    return dict(zip(qids, redis.hmget(keys.KB_CHANGED, qids))) if qids else {}


def write_card_refresh(redis, qid: str, as_of: str | None, card: dict, ttl: int, *,
                       seen: bytes | None) -> CachedCard | None:
    """Worker side (sync client): store a card refreshed from Wikidata over the KB's, indexed
    under its entity in the same call (``jobs.STORE_SCRIPT``: a change of the entity deletes
    it; stored and then indexed, a change between the two left it behind). ``seen`` is the
    entity's change count read before the fetch (``entity_changes``): if the entity changed
    since, the refresh is older than the change, and it is not stored (None)."""
    body = orjson.dumps(card)
    version = hashlib.blake2b(body, digest_size=8).hexdigest()
    entry = CachedCard(etag=card_etag(card.get("kb_version") or "", qid, as_of, version),
                       body=body, refreshed=True)
    stored = run_script(redis, STORE_SCRIPT,
                        [keys.card_refresh(qid, as_of), keys.KB_CHANGED, keys.kb_cached(qid)],
                        [encode_entry(entry.etag, entry.body), ttl, MAX_CACHED_PER_ENTITY, qid,
                         seen or b""])
    if not stored:
        return None
    bump_card_generation(redis)         # API processes drop the cards they hold in memory
    return entry
