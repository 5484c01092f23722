"""``DiskKB``: the on-disk knowledge base, opened by memory-mapping its files.

Opening maps a few arrays and reads ``meta.json`` (milliseconds, whatever the KB size); pages
come from the OS page cache, so N worker processes with the same KB open share one copy.
Decoded entity records are kept in a small per-process LRU because the same entities recur
across a document and across documents.
"""
from __future__ import annotations

import mmap
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import marisa_trie
import numpy as np
import orjson

from ..errors import KBFormatError
from ..fastpath import keep_reference
from ..text import alias_key
from . import layout


def _map_array(path: Path, dtype) -> np.ndarray:
    """A read-only array over the file's pages (a plain ndarray: numpy.memmap's per-access
    subclass bookkeeping costs more than the lookups themselves)."""
    size = path.stat().st_size
    if size == 0:
        return np.zeros(0, dtype=dtype)
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mm, dtype=dtype)


class LookupsAndCards:
    """What every KB (``DiskKB``, ``linkers.kb.overlay.OverlayKB``) derives the same way from its
    ``internal_id``, ``record`` and ``candidates``: records by QID, lookups of a surface form,
    fact cards and superclasses (``self._card``, ``self._parts`` and ``self.superclasses``:
    ``lru_cache``s of ``_fact_card``, ``_card_parts`` and ``_superclasses`` owned by the
    instance)."""

    def entity(self, qid: str) -> dict | None:
        """The compact record of ``qid`` (see linkers.kb.dump), or None."""
        eid = self.internal_id(qid)
        return None if eid is None else self.record(eid)

    def label(self, qid: str) -> str | None:
        rec = self.entity(qid)
        return rec["l"] if rec else None

    def lookup(self, surface: str, limit: int = 10):
        """Ranked candidates for a surface form, e.g. a selection in a browser ("NATO")."""
        from ..types import Candidate
        out = []
        for eid, prior, _flags in self.candidates(alias_key(surface), max(0, limit)):
            rec = self.record(eid)
            out.append(Candidate(qid=rec["id"], label=rec["l"], score=prior, description=rec["d"]))
        return out

    def fact_card(self, qid: str, as_of: str | None = None) -> dict | None:
        """The entity's fact card as of a date (memoised: treat it as read-only)."""
        return self._card(qid, as_of)

    def _superclasses(self, qid: str) -> frozenset[str]:
        """Every class ``qid`` is a subclass of (P279, transitively) within this KB (memoised:
        the type filter asks it once per type, not once per mention)."""
        from ..classes import superclass_closure
        return superclass_closure(qid, self.entity)

    def _fact_card(self, qid: str, as_of: str | None) -> dict | None:
        from ..facts import fact_card
        rec = self.entity(qid)
        return None if rec is None else fact_card(rec, self, as_of, self._parts(qid))

    def _card_parts(self, qid: str):
        """``facts.card_parts`` of ``qid`` (memoised as ``self._parts``: a card is made again
        for each article date, its labels once). Call it only for a QID ``entity`` knows."""
        from ..facts import card_parts
        return card_parts(self.entity(qid), self)


class DiskKB(LookupsAndCards):
    """A KB directory built by ``linkers.kb.build.build_kb``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / layout.META
        if not meta_path.is_file():
            raise KBFormatError(f"not a factlink KB directory (no {layout.META}): {self.path}", path=str(self.path))
        try:
            self.meta = orjson.loads(meta_path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise KBFormatError(f"corrupt {layout.META} in {self.path}: {exc}") from exc
        if self.meta.get("format") != layout.FORMAT:
            raise KBFormatError(f"KB format {self.meta.get('format')!r} is not {layout.FORMAT!r}: rebuild it",
                                path=str(self.path))
        self.version: str = self.meta["kb_version"]
        try:
            for name, (filename, dtype) in layout.ARRAYS.items():
                setattr(self, "_" + name, _map_array(self.path / filename, dtype))
            self._blob = _map_array(self.path / layout.ENTITIES, np.uint8)
            self._trie = marisa_trie.Trie()
            self._trie.mmap(str(self.path / layout.TRIE))
        except (OSError, ValueError, RuntimeError) as exc:   # RuntimeError: marisa-trie's I/O errors
            raise KBFormatError(f"incomplete KB directory {self.path}: {exc}", path=str(self.path)) from exc
        self._n = len(self._qids)
        self._qid_view = memoryview(self._qids) if self._n else ()
        self._order_view = memoryview(self._qids_order) if self._n else ()
        self._off_view = memoryview(self._entities_off)
        self._blob_view = memoryview(self._blob)
        # Per-process memo of decoded records, QID lookups and cards: the same entities recur
        # within a document and across documents.
        self.record = lru_cache(maxsize=65536)(self._record)
        self.internal_id = lru_cache(maxsize=262144)(self._internal_id)
        self._card = lru_cache(maxsize=16384)(self._fact_card)
        self._parts = lru_cache(maxsize=16384)(self._card_parts)
        self.superclasses = lru_cache(maxsize=65536)(self._superclasses)
        # Spotting asks the trie the same keys and prefixes text after text (~700 probes of
        # each a 4 KB article, 40% of them new): a hit costs a seventh of a prefix walk, half a
        # key look-up, a fifth of a candidate list (~60 bytes a key, ~300 a candidate list).
        self._prefix_memo = lru_cache(maxsize=65536)(self.has_prefix_reference)
        self._key_memo = lru_cache(maxsize=65536)(self.has_key_reference)
        self._candidates_memo = lru_cache(maxsize=16384)(self.candidates_reference)

    # --- entities -----------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __contains__(self, qid: object) -> bool:
        return isinstance(qid, str) and self.internal_id(qid) is not None

    def _internal_id(self, qid: str) -> int | None:
        if not isinstance(qid, str) or not (qid.startswith("Q") and qid[1:].isdigit()):
            return None
        num = int(qid[1:])
        if num >= 2**32:
            return None
        # bisect over a memoryview of the sorted uint32 array: its items are Python ints, and
        # the search costs a third of ``np.searchsorted``'s call with a uint32 needle (~1.5
        # against ~4 us, a few hundred QIDs a 4 KB article: fact-card values, types)
        qids = self._qid_view
        pos = bisect_left(qids, num)
        if pos < self._n and qids[pos] == num:
            return self._order_view[pos]
        return None

    def _record(self, eid: int) -> dict:
        # memoryviews: offsets read as Python ints and the record's bytes handed to orjson
        # without a copy (~0.6 us of ~4.5 a decode went to numpy scalars and ``tobytes``)
        offsets = self._off_view
        return orjson.loads(self._blob_view[offsets[eid]:offsets[eid + 1]])

    def popularity(self, eid: int) -> float:
        return float(self._pop[eid])

    def in_degree(self, eid: int) -> int:
        return int(self._indeg[eid])

    def neighbours(self, eid: int) -> np.ndarray:
        """Internal ids this entity's item claims point at (KB entities only)."""
        return self._nbr_ent[int(self._nbr_off[eid]):int(self._nbr_off[eid + 1])]

    def in_degrees(self, eids) -> np.ndarray:
        return self._indeg[np.asarray(eids, dtype=np.int64)]

    def neighbour_pairs(self, eids) -> tuple[np.ndarray, np.ndarray]:
        """(source, target) internal ids of every out-link of the given entities, as arrays."""
        eids = np.asarray(eids, dtype=np.int64)
        lo = self._nbr_off[eids].astype(np.int64)
        counts = self._nbr_off[eids + 1].astype(np.int64) - lo
        total = int(counts.sum())
        if not total:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        sources = np.repeat(eids, counts)
        starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        return sources, self._nbr_ent[starts + np.arange(total)].astype(np.int64)

    def iter_qids(self) -> Iterator[str]:
        for num in self._qids:
            yield f"Q{int(num)}"

    # --- aliases ------------------------------------------------------------------------
    def has_prefix(self, key: str) -> bool:
        """Some alias key starts with ``key`` (memoised per process)."""
        return self._prefix_memo(key)

    def has_prefix_reference(self, key: str) -> bool:
        """``has_prefix`` asking the trie every time (``linkers.fastpath.reference_paths``)."""
        return next(self._trie.iterkeys(key), None) is not None

    def has_key(self, key: str) -> bool:
        """``key`` is an alias key (memoised per process)."""
        return self._key_memo(key)

    def has_key_reference(self, key: str) -> bool:
        """``has_key`` asking the trie every time (``linkers.fastpath.reference_paths``)."""
        return key in self._trie

    def candidates(self, key: str, limit: int | None = None) -> list[tuple[int, float, int]]:
        """(internal id, prior, flags) for an alias key (linkers.text.alias_key), best first
        (memoised per process; a new list each call, so a caller may change its own)."""
        return list(self._candidates_memo(key, limit))

    def candidates_reference(self, key: str, limit: int | None = None) -> list[tuple[int, float, int]]:
        """``candidates`` read from the arrays every time (``linkers.fastpath.reference_paths``)."""
        kid = self._trie.get(key)
        if kid is None:
            return []
        lo, hi = int(self._cand_off[kid]), int(self._cand_off[kid + 1])
        if limit is not None:
            hi = min(hi, lo + limit)
        return list(zip(self._cand_ent[lo:hi].tolist(), self._cand_prior[lo:hi].tolist(),
                        self._cand_flags[lo:hi].tolist()))

    def close(self) -> None:
        for name in layout.ARRAYS:
            setattr(self, "_" + name, None)
        self._blob = None
        self._qid_view = self._order_view = self._off_view = self._blob_view = ()
        for memo in (self.record, self.internal_id, self._card, self._parts, self.superclasses,
                     self._prefix_memo, self._key_memo, self._candidates_memo):
            memo.cache_clear()


keep_reference(DiskKB, "has_prefix", DiskKB.has_prefix_reference)
keep_reference(DiskKB, "has_key", DiskKB.has_key_reference)
keep_reference(DiskKB, "candidates", DiskKB.candidates_reference)
