"""The API process's own cache of finished answers: annotate results and fact cards, in memory.

A hit costs a dict lookup, not a Redis round trip: the stored bytes are served as they are, never
parsed or re-encoded. An LRU bounded in bytes (``FACTLINK_ANSWER_CACHE_BYTES``; 0 turns it off),
in front of the Redis caches, which stay the shared truth across API processes. Every key holds
the ``kb_version`` (and, for cards, the card generation) that was current when the answer was
made, read from ``workers.generations.GenerationWatch``, so a newer version can never reach an
older answer; on a change the whole cache is dropped, since nothing in it can be reached again.
Annotate entries are keyed by the raw request body: a body accepted once parses to the same
article again, so a hit skips JSON parsing, validation and the job-id hash too. Whatever else a
result comes to depend on must join the key the same way the version does: the caller's own
newsroom rules do (``service.handlers.overrides.rules_scope``: the key's fingerprint while it
has rules, else None).
"""
from __future__ import annotations

from collections import OrderedDict

#: what an entry costs beyond its bytes: the key tuple, the value tuple, the dict slot
ENTRY_OVERHEAD = 200
#: no single answer may take more than this share of the cache (a 1 MB body would flush it)
LARGEST_SHARE = 16


class AnswerCache:
    """Least recently used first out, once the entries' bytes pass ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple):
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: tuple, value: object, size: int) -> None:
        """Keep ``value`` under ``key``; ``size`` is its bytes (key and value together)."""
        size += ENTRY_OVERHEAD
        if size * LARGEST_SHARE > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _key, (_value, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
