"""``OverlayKB``: the memory-mapped base KB plus the entities added or changed since its snapshot.

Linking, lookups and fact cards see base + overlay as one KB (both implement ``KnowledgeBase``):

- an overlay record replaces the base record of the same id (labels, aliases, claims): its old
  names stop finding it, its new ones do;
- a new id gets an internal id after the base's (``len(base) + i``) and is a candidate for its
  names;
- a deleted or redirected item (a *tombstone*) is never a candidate and is no longer ``in`` the
  KB; its base record stays readable by internal id, so coherence edges of other entities that
  point at it stay harmless.

The base is never written. The overlay keeps, per alias key it touches, the merged candidate
list (base rows minus replaced/deleted entities, plus overlay rows), with priors recomputed by
the build's own rule (``linkers.kb.build._candidates``) over every row of the key; keys it does
not touch are answered by the base, so the linking hot path pays one dict lookup per key.
Changes are applied in place (``apply``), costing time in proportion to the changed entities
and their keys, not to the overlay's size.

``version`` is ``{base version}+o{generation}``: a new generation never shares cache keys with
an older one. The KB instance is also a key of per-process memos (``lru_cache`` on
``(kb, eid)`` in the ranker), so its hash includes the generation: after ``apply`` those memos
miss instead of serving words of an entity's previous record.

Persistence (the CLI's copy): ``<kb dir>/overlay/changes.jsonl``, one change per line, appended
under a file lock; the generation is the number of changes. Re-deriving the names of 100k
records takes ~15 s, so ``snapshot.msgpack`` next to it keeps the derived state (``snapshot()``)
as of some generation: opening decodes it and applies only the changes after it. The service
keeps the same two things in Redis (``workers.kb_delta``).

A change is ``{"id": ..., "record": <compact record>}`` or ``{"id": ..., "record": null,
"redirect": "Q..." | null}`` (a tombstone). Newsroom entities have local ids: a configured
prefix ending in ``:`` (default ``local:``) then letters, digits, ``.``, ``_`` or ``-``; no
Wikidata id has a ``:``, so a local id can never collide with a QID.
"""
from __future__ import annotations

import bisect
import fcntl
import gc
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import marisa_trie
import msgspec
import numpy as np
import orjson

from ..errors import InvalidInput, KBFormatError
from . import layout
from .build import _KIND_RANK, _alias_entry, _candidates, _names
from .dump import NOT_RELATED, compact_entity, is_qid
from .store import LookupsAndCards

OVERLAY_DIR = "overlay"
CHANGES_FILE = "changes.jsonl"
SNAPSHOT_FILE = "snapshot.msgpack"
SNAPSHOT_MARK = "snapshot.json"
DEFAULT_LOCAL_PREFIX = "local:"
_LOCAL_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*:$")
LOCAL_SUFFIX_PATTERN = "[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_LOCAL_SUFFIX_RE = re.compile(f"^{LOCAL_SUFFIX_PATTERN}$")
# Entities sampled to recover the build's popularity scale on KBs whose meta.json predates
# ``raw_pop_max`` (see ``_raw_pop_max``).
POP_SCALE_SAMPLE = 4096


# --- ids and changes ------------------------------------------------------------------------
def check_local_prefix(prefix: str) -> str:
    if not _LOCAL_PREFIX_RE.match(prefix or ""):
        raise InvalidInput(f"local id prefix {prefix!r} must be a letter, then letters, digits, '_' "
                           "or '-', ending in ':' (e.g. 'local:'); no Wikidata id contains ':'",
                           field="prefix")
    return prefix


def is_local_id(entity_id: str, prefix: str = DEFAULT_LOCAL_PREFIX) -> bool:
    return (isinstance(entity_id, str) and entity_id.startswith(prefix)
            and bool(_LOCAL_SUFFIX_RE.match(entity_id[len(prefix):])))


def is_entity_id(entity_id: object, prefix: str = DEFAULT_LOCAL_PREFIX) -> bool:
    """A QID or a local id with ``prefix``."""
    return isinstance(entity_id, str) and (is_qid(entity_id) or is_local_id(entity_id, prefix))


def record_change(raw: dict, languages: tuple[str, ...] = ("en",),
                  local_prefix: str = DEFAULT_LOCAL_PREFIX) -> dict:
    """The change that puts one entity in dump/``wbgetentities`` layout into the overlay.

    Ids are QIDs (Wikidata items) or local ids (``local_prefix`` + a name); anything else, and
    a QID-looking id under the local prefix, is refused with ``InvalidInput``.
    """
    if not isinstance(raw, dict):
        raise InvalidInput("an entity must be a JSON object in Wikidata dump layout")
    entity_id = raw.get("id")
    if not isinstance(entity_id, str) or not entity_id:
        raise InvalidInput("an entity needs an 'id'", field="id")
    if entity_id.startswith(local_prefix):
        if not is_local_id(entity_id, local_prefix):
            raise InvalidInput(f"local id {entity_id!r}: after {local_prefix!r} use letters, digits, "
                               "'.', '_' or '-' (at most 100)", field="id", id=entity_id)
        # compact_entity accepts items only: compact under a stand-in QID, then restore the id
        compacted = compact_entity({**raw, "id": "Q1", "type": "item"}, languages)
        record = compacted[0]
        record["id"] = entity_id
    elif is_qid(entity_id):
        compacted = compact_entity(raw, languages)
        if compacted is None:
            raise InvalidInput(f"{entity_id} is not a Wikidata item", field="id", id=entity_id)
        record = compacted[0]
    else:
        raise InvalidInput(f"{entity_id!r} is neither a Wikidata QID (Q<number>) nor a local id "
                           f"starting with {local_prefix!r}: a custom entity needs the local "
                           "prefix, so it can never collide with a QID", field="id", id=entity_id)
    if not record["l"]:
        raise InvalidInput(f"{entity_id} has no label in {', '.join(languages)}", field="labels",
                           id=entity_id)
    return {"id": entity_id, "record": record}


def tombstone(entity_id: str, redirect: str | None = None) -> dict:
    return {"id": entity_id, "record": None, "redirect": redirect}


# --- newsroom overrides ---------------------------------------------------------------------
RULE_PREFIX = "rule:"
RULE_KINDS = {"pin": ("alias", "qid"), "ban_qid": ("qid",), "ban_alias": ("alias",),
              "house_alias": ("alias", "qid")}
#: a rule's scope: global rules (no ``scope`` field) hold for every caller; a rule with a scope
#: (the fingerprint of the API key that made it) only for linking asked with that scope
#: (``OverlayKB.scoped``)
_SCOPE_RE = re.compile(r"^key:[0-9a-f]{12}$")


def key_scope(api_key: str) -> str:
    """The scope of an API key's rules, also how the audit log names the key: a fingerprint,
    never the key itself."""
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def rule_change(kind: str, alias: str | None = None, qid: str | None = None,
                by: str | None = None, at: float | None = None,
                local_prefix: str = DEFAULT_LOCAL_PREFIX, scope: str | None = None) -> dict:
    """The change that adds one newsroom rule: *pin* (this alias means this entity), *ban_qid*
    (never link it), *ban_alias* (never link this name), *house_alias* (one more name for an
    entity). Its id is a hash of the rule (scope included), so adding it twice is one rule;
    ``by``/``at`` are the audit trail (who, when). ``scope`` None: a global rule."""
    if not isinstance(kind, str) or kind not in RULE_KINDS:     # {} is unhashable: a 500 once
        raise InvalidInput(f"unknown rule kind {kind!r}: one of {', '.join(RULE_KINDS)}", field="kind")
    needs = RULE_KINDS[kind]
    rule: dict = {"kind": kind}
    if "alias" in needs:
        entry = _alias_entry(alias) if isinstance(alias, str) else None
        if entry is None:
            raise InvalidInput(f"a {kind} rule needs an 'alias' (a name of 1 to 120 characters)",
                               field="alias")
        rule["alias"] = alias
    if "qid" in needs:
        if not is_entity_id(qid, local_prefix):
            raise InvalidInput(f"a {kind} rule needs a 'qid' (Q<number> or {local_prefix}<name>), "
                               f"not {qid!r}", field="qid")
        rule["qid"] = qid
    if scope is not None:
        if not isinstance(scope, str) or not _SCOPE_RE.match(scope):
            raise InvalidInput(f"a rule scope is 'key:' and 12 hex digits, not {scope!r}", field="scope")
        rule["scope"] = scope
    digest = hashlib.blake2b(orjson.dumps(rule, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()
    return {"id": RULE_PREFIX + digest, "rule": rule, "by": by, "at": at}


def rule_removal(rule_id: str, by: str | None = None, at: float | None = None,
                 scope: str | None = None) -> dict:
    """The change that removes a rule; ``scope`` (the removed rule's) is for the audit log."""
    removal = {"id": rule_id, "rule": None, "by": by, "at": at}
    if scope is not None:
        removal["scope"] = scope
    return removal


@dataclass
class _Rules:
    """The rules in force, by what linking asks: key -> pinned (entity, flags), banned
    entities, banned keys, key -> house-alias entities."""

    pins: dict[str, tuple[int, int]] = field(default_factory=dict)
    banned: set[int] = field(default_factory=set)
    banned_keys: set[str] = field(default_factory=set)
    house: dict[str, dict[int, int]] = field(default_factory=dict)


# --- the CLI's persisted overlay --------------------------------------------------------------
def changes_path(kb_dir: str | os.PathLike) -> Path:
    return Path(kb_dir) / OVERLAY_DIR / CHANGES_FILE


def read_changes(path: str | os.PathLike, skip: int = 0, offset: int = 0) -> list[dict]:
    """The changes in a changes file after the first ``skip`` (not parsed), oldest first; a torn
    last line (a crash mid-append) is ignored, any other unreadable line is an error. With the
    byte ``offset`` where line ``skip`` starts, the lines before it are not even read."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, "rb") as fh:
        fh.seek(offset)
        lines = fh.read().split(b"\n")
    first = skip if not offset else 0
    out = []
    for number, line in enumerate(lines[first:], first + 1):
        if not line.strip():
            continue
        try:
            change = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number >= len(lines) - 1:        # the last line, torn
                break
            where = f"line {number}" if not offset else f"a line after byte {offset}"
            raise KBFormatError(f"{path}:{number if not offset else where}: not a KB overlay change") from None
        out.append(change)
    return out


def open_overlay(base, kb_dir: str | os.PathLike):
    """``base`` with the overlay persisted in ``kb_dir`` (the snapshot, then the changes
    appended since); ``base`` itself when there is none."""
    path = changes_path(kb_dir)
    if not path.is_file():
        return base
    kb = None
    snapshot = path.parent / SNAPSHOT_FILE
    if snapshot.is_file():
        try:
            kb = OverlayKB.from_snapshot(base, snapshot.read_bytes())
        except KBFormatError:
            kb = None                    # written for another base or torn: rebuilt from changes
    start = kb.generation if kb is not None else 0
    offset = 0
    if kb is not None:
        try:
            mark = orjson.loads((path.parent / SNAPSHOT_MARK).read_bytes())
            if mark.get("generation") == start:
                offset = int(mark["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            offset = 0
    tail = read_changes(path, skip=start, offset=offset)
    if kb is None:
        return OverlayKB(base, tail, len(tail))
    if tail:
        kb.apply(tail, start + len(tail))
    return kb


def save_snapshot(kb: "OverlayKB", kb_dir: str | os.PathLike) -> None:
    """Write the overlay's snapshot next to its changes (atomically: a reader sees the old or the
    new one); an older snapshot is harmless, opening applies the changes after it."""
    path = changes_path(kb_dir)
    target = path.parent / SNAPSHOT_FILE
    tmp = target.with_name(f".{SNAPSHOT_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(kb.snapshot())
    os.replace(tmp, target)
    # where the changes after the snapshot start in the changes file, so opening skips the rest
    # without reading it; a mark that does not match the snapshot's generation is ignored
    offset, generation = 0, int(kb.generation)
    with open(path, "rb") as fh:
        for _ in range(generation):
            line = fh.readline()
            if not line.endswith(b"\n"):
                return
            offset += len(line)
    tmp = target.with_name(f".{SNAPSHOT_MARK}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps({"generation": generation, "offset": offset}))
    os.replace(tmp, path.parent / SNAPSHOT_MARK)


def append_changes(path: str | os.PathLike, changes: list[dict]) -> int:
    """Append changes (under an exclusive lock: two ``kb add`` never interleave lines) and
    return the new generation (the number of changes in the file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            existing = fh.read()
            if existing and not existing.endswith(b"\n"):
                fh.truncate(existing.rfind(b"\n") + 1)      # drop a torn last line
                existing = existing[:existing.rfind(b"\n") + 1]
            fh.seek(0, os.SEEK_END)
            fh.write(b"".join(orjson.dumps(c) + b"\n" for c in changes))
            fh.flush()
            os.fsync(fh.fileno())
            return existing.count(b"\n") + len(changes)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- the KB ---------------------------------------------------------------------------------
def _name_rows(record: dict) -> dict[str, int]:
    """Alias key -> name flags of a record, as the build indexes it (best kind per key)."""
    rows: dict[str, int] = {}
    for surface, kind in _names(record):
        entry = _alias_entry(surface)
        if entry is not None:
            key, case, _hash = entry
            flags = kind | case
            old = rows.get(key)
            # as the build's _best_name_rows: the best name kind, then the fewest case limits
            if old is None or (_KIND_RANK[flags], flags) < (_KIND_RANK[old], old):
                rows[key] = flags
    return rows


class _Snapshot(msgspec.Struct, array_like=True):
    """An ``OverlayKB``'s state as one msgpack blob: opening decodes it instead of re-deriving
    every name of every record (14 s at 100k records, against ~0.5 s to decode)."""

    base_version: str
    generation: int
    next_eid: int
    ids: dict[str, int]
    dead: list[int]
    redirects: dict[str, str]
    records: dict[int, bytes]           # orjson of each live overlay record (decoded on use)
    gone: dict[int, bytes]
    own_links: list[int]                # overlay entities whose item claims differ from the base
    raw_new: dict[int, float]
    trie: bytes                         # marisa-trie of the alias keys the overlay decides
    list_off: bytes                     # uint64[keys + 1] by trie key id: slices of list_rows
    list_rows: bytes                    # candidate rows packed as _ROW (decoded on use)
    rules: dict[str, bytes]             # newsroom rules by id (orjson)
    raw_max: float


# A candidate row packed: the same widths as the base's arrays (uint32 entity, float32 prior,
# uint8 flags). Packed rows are bytes, which the cyclic GC never scans: 300k keys of tuples made
# the decoder's GC passes cost seconds.
_ROW = np.dtype([("e", "<u4"), ("p", "<f4"), ("f", "u1")])


def _pack(rows) -> bytes:
    return np.array([tuple(r) for r in rows], dtype=_ROW).tobytes() if rows else b""


_SNAPSHOT_ENCODER = msgspec.msgpack.Encoder()
_SNAPSHOT_DECODER = msgspec.msgpack.Decoder(_Snapshot)


class OverlayKB(LookupsAndCards):
    """A base ``DiskKB`` with changes on top; see the module docstring."""

    def __init__(self, base, changes: Iterable[dict] = (), generation: int = 0,
                 raw_pop_max: float | None = None):
        self.base = base
        self.path = getattr(base, "path", None)
        self.meta = getattr(base, "meta", {})
        self._n = getattr(base, "id_bound", None) or len(base)
        self._raw_max = raw_pop_max if raw_pop_max is not None else _raw_pop_max(base)
        self._ids: dict[str, int] = {}            # overlay id -> internal id
        self._records: dict[int, dict | bytes] = {}   # internal id -> live overlay record
        self._dead: set[int] = set()              # tombstoned internal ids (base or new)
        self._gone: dict[int, dict | bytes] = {}  # records of tombstoned new ids
        self._redirects: dict[str, str] = {}
        self._own_links: set[int] = set()         # neighbours from the overlay record, not the base
        # merged candidate lists of the keys the overlay touches (see _rows for a snapshot's)
        self._lists: dict[str, list[tuple[int, float, int]]] = {}
        self._raw_new: dict[int, float] = {}
        self._nbr: dict[int, np.ndarray] = {}
        self._rule_set: dict[str, dict] = {}      # newsroom rules by id (global ones)
        self._scoped: dict[str, dict[str, dict]] = {}   # scope -> its rules by id
        self._rules = _Rules()
        self._next = self._n
        self.generation = 0
        self.version_base: str | None = None
        self._keys_sorted: list[str] = []          # overlay keys not in ``_key_trie``, sorted
        self._key_trie = marisa_trie.Trie()         # overlay keys as of the snapshot opened
        self._snap_off: np.ndarray | None = None     # their lists (by trie key id), decoded on use
        self._snap_rows = np.zeros(0, dtype=_ROW)
        self._changed = np.zeros(0, dtype=np.int64)
        self._after_change()
        self.apply(changes, generation)

    @property
    def id_bound(self) -> int:
        """One past the largest internal id (an overlay stacked on this one numbers from here)."""
        return self._next

    def _after_change(self, new_keys: Iterable[str] | None = None) -> None:
        """Refresh what derives from the state: all of it, or (``new_keys``) incrementally."""
        if new_keys is None:
            self._keys_sorted = sorted(k for k in self._lists if k not in self._key_trie)
        else:
            for key in new_keys:
                if key not in self._key_trie:
                    bisect.insort(self._keys_sorted, key)
        mine = self._own_links | {e for e in range(self._n, self._next) if e not in self._dead}
        if new_keys is None or len(mine) != len(self._changed):
            self._changed = np.fromiter(sorted(mine), dtype=np.int64, count=len(mine))
        self._hash = hash((id(self), self.generation))
        self._views: dict[str, _ScopedView] = {}   # scope -> this state with its rules on top
        self._card = lru_cache(maxsize=16384)(self._fact_card)
        self._parts = lru_cache(maxsize=16384)(self._card_parts)
        self.superclasses = lru_cache(maxsize=65536)(self._superclasses)
        # What linking asks most (~1,300 times a 4 KB article), memoised per state like the
        # cards above: each call went through this overlay and then the base, which made a
        # worker's linking (always over an overlay, empty or not) ~8% more instructions than
        # over the bare DiskKB. Every change of the state ends here, so no answer outlives it.
        self.has_prefix = lru_cache(maxsize=65536)(self._has_prefix)
        self.has_key = lru_cache(maxsize=65536)(self._has_key)
        self.popularity = lru_cache(maxsize=65536)(self._popularity)

    # --- identity: memos keyed by the KB see a new generation as a new KB ---------------------
    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def version(self) -> str:
        base = self.version_base or self.base.version
        return f"{base}+o{self.generation}" if self.generation else base

    def adopt(self, other: "OverlayKB") -> None:
        """Take ``other``'s state (same base), keeping this object: whoever holds this KB sees
        the other's entities from now on."""
        version_base = self.version_base
        self.__dict__.update(other.__dict__)
        self.version_base = version_base
        self._after_change(new_keys=())

    def rebase(self) -> None:
        """Start a new layer of generations on top of what is applied so far: the service's
        Redis overlay counts its own changes on top of the KB directory's (``version`` becomes
        ``{base}+o{file generation}+o{redis generation}``)."""
        self.version_base = self.version
        self.generation = 0
        self._after_change(new_keys=())

    @property
    def overlay_size(self) -> int:
        """Ids the overlay holds (records and tombstones)."""
        return len(self._ids)

    def has_overlay_record(self, entity_id: str) -> bool:
        """The overlay holds a record or tombstone of this id (``kb follow`` tracks it)."""
        return entity_id in self._ids

    # --- snapshots ----------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        def raw(rec):
            return rec if isinstance(rec, bytes) else orjson.dumps(rec)
        keys = set(self._lists) | set(self._key_trie.keys())
        trie = marisa_trie.Trie(keys)
        by_id: list[list] = [[] for _ in range(len(trie))]
        for key in keys:
            by_id[trie[key]] = self._rows(key)
        off = np.zeros(len(by_id) + 1, dtype=np.uint64)
        np.cumsum([len(rows) for rows in by_id], out=off[1:])
        rows = _pack([row for rows in by_id for row in rows])
        return _SNAPSHOT_ENCODER.encode(_Snapshot(
            self.base.version, int(self.generation), self._next, self._ids, sorted(self._dead),
            self._redirects, {e: raw(r) for e, r in self._records.items()},
            {e: raw(r) for e, r in self._gone.items()}, sorted(self._own_links), self._raw_new,
            trie.tobytes(), off.tobytes(), rows,
            {rule_id: orjson.dumps(rule) for rule_id, rule in self.all_rules().items()}, self._raw_max))

    @classmethod
    def from_snapshot(cls, base, blob: bytes) -> "OverlayKB":
        """The overlay a ``snapshot()`` saved, over the same base (else ``KBFormatError``)."""
        collecting = gc.isenabled()
        gc.disable()       # millions of new objects: no collector passes over them meanwhile
        try:
            state = _SNAPSHOT_DECODER.decode(blob)
        except msgspec.DecodeError as exc:
            raise KBFormatError(f"unreadable KB overlay snapshot: {exc}") from None
        finally:
            if collecting:
                gc.enable()
        if state.base_version != base.version:
            raise KBFormatError(f"the overlay snapshot is for KB {state.base_version}, not {base.version}")
        kb = cls(base, raw_pop_max=state.raw_max)
        kb._ids, kb._records, kb._dead = state.ids, dict(state.records), set(state.dead)
        kb._gone, kb._redirects, kb._own_links = dict(state.gone), state.redirects, set(state.own_links)
        kb._raw_new, kb._next = state.raw_new, state.next_eid
        kb._snap_off = np.frombuffer(state.list_off, dtype=np.uint64)
        kb._snap_rows = np.frombuffer(state.list_rows, dtype=_ROW)
        kb.generation = state.generation
        for rule_id, raw_rule in state.rules.items():
            rule = orjson.loads(raw_rule)
            if "scope" in rule:
                kb._scoped.setdefault(rule["scope"], {})[rule_id] = rule
            else:
                kb._rule_set[rule_id] = rule
        kb._rules = kb._derive_rules()
        # a prefix test in the trie is ~1 us; a bisect over 300k Python strings several
        kb._key_trie = marisa_trie.Trie().frombytes(state.trie)
        kb._keys_sorted = []
        kb._after_change(new_keys=())
        return kb

    # --- changes ------------------------------------------------------------------------------
    def apply(self, changes: Iterable[dict], generation: int | None = None) -> set[str]:
        """Apply changes in order (the last change of an id wins); return the ids changed.

        Per changed entity: the keys of its old names and of its new ones are re-derived; an
        entity changed here contributes exactly its new names to them."""
        affected: set[str] = set()
        changed: set[int] = set()
        changed_ids: set[str] = set()
        rules_changed = False
        for change in changes:
            entity_id = change["id"]
            if entity_id.startswith(RULE_PREFIX):
                old = self._rule_set.pop(entity_id, None)
                scoped = change.get("rule") and change["rule"].get("scope")
                if old is None or scoped:
                    # a scoped rule changes no candidate list of this KB: only its scope's view
                    changed_ids |= self._drop_scoped(entity_id)
                if scoped:
                    self._scoped.setdefault(scoped, {})[entity_id] = {
                        **change["rule"], "by": change.get("by"), "at": change.get("at")}
                    changed_ids.add(entity_id)
                    continue
                if change.get("rule"):
                    self._rule_set[entity_id] = {**change["rule"], "by": change.get("by"),
                                                 "at": change.get("at")}
                affected |= self._rule_keys(old) | self._rule_keys(self._rule_set.get(entity_id))
                changed_ids.add(entity_id)
                rules_changed = True
                continue
            record = change.get("record")
            eid = self._ids.get(entity_id)
            if eid is None:
                eid = self.base.internal_id(entity_id) if is_qid(entity_id) else None
            if eid is not None and eid not in self._dead:
                affected.update(_name_rows(self.record(eid)))      # its old names
                affected.update(self._rule_keys_of(eid))           # its house aliases and pins
            if record is None:
                if eid is None:
                    continue                       # deleting what neither layer has: nothing to do
                changed_ids.add(entity_id)
                changed.add(eid)
                self._ids[entity_id] = eid
                self._dead.add(eid)
                gone = self._records.pop(eid, None)
                if gone is not None and eid >= self._n:
                    self._gone[eid] = gone
                if change.get("redirect"):
                    self._redirects[entity_id] = change["redirect"]
                self._own_links.discard(eid)
                self._nbr.pop(eid, None)
                continue
            changed_ids.add(entity_id)
            if eid is None:
                eid = self._next
                self._next += 1
            changed.add(eid)
            self._ids[entity_id] = eid
            self._dead.discard(eid)
            self._gone.pop(eid, None)
            self._redirects.pop(entity_id, None)
            self._records[eid] = record
            self._nbr.pop(eid, None)
            if eid >= self._n:
                self._raw_new[eid] = float(np.log1p(record.get("sl", 0)))
                self._own_links.add(eid)
            elif record.get("c") != self.base.record(eid).get("c"):
                self._own_links.add(eid)
            else:
                self._own_links.discard(eid)
            affected.update(_name_rows(record))
        if generation is not None:
            self.generation = generation
        if rules_changed or changed_ids:
            self._rules = self._derive_rules()
        if changed_ids or generation is not None:
            self._views = {}
            new_keys = [key for key in affected if key not in self._lists]
            self._reindex(affected, changed)
            self._after_change(new_keys)
        return changed_ids

    # --- newsroom rules -----------------------------------------------------------------------
    @property
    def rules(self) -> dict[str, dict]:
        """The newsroom rules in force, by id (with who added them and when)."""
        return dict(self._rule_set)

    def has_scoped_rules(self, scope: str | None = None) -> bool:
        """Rules of ``scope`` are in force (no scope: of any scope)."""
        return scope in self._scoped if scope else bool(self._scoped)

    def scoped_rules(self, scope: str | None) -> dict[str, dict]:
        """The rules of one scope (an API key's fingerprint), by id; global ones are ``rules``."""
        return dict(self._scoped.get(scope, {})) if scope else {}

    def rule(self, rule_id: str) -> dict | None:
        """A rule in force, global or of any scope (its ``scope`` field says which)."""
        return self.all_rules().get(rule_id)

    def all_rules(self) -> dict[str, dict]:
        """Every rule in force, global and of every scope, by id."""
        rules = dict(self._rule_set)
        for of_scope in self._scoped.values():
            rules.update(of_scope)
        return rules

    def _drop_scoped(self, rule_id: str) -> set[str]:
        for scope, of_scope in list(self._scoped.items()):
            if of_scope.pop(rule_id, None) is not None:
                if not of_scope:
                    del self._scoped[scope]
                return {rule_id}
        return set()

    def scoped(self, scope: str | None) -> "OverlayKB":
        """This KB as linking asked with ``scope`` sees it: the global rules, then the scope's
        own on top (a scoped pin wins over a global one for its alias; bans of both hold).
        Without rules of that scope it is this KB itself, so unscoped callers share one KB
        and one cache. The view is a second overlay over this one holding only the scope's
        rules, so it costs the keys those rules decide; it is kept until the next change."""
        rules = self._scoped.get(scope) if scope else None
        if not rules:
            return self
        view = self._views.get(scope)
        if view is None:
            unscoped = [{"id": rule_id, "by": rule.get("by"), "at": rule.get("at"),
                         "rule": {k: v for k, v in rule.items() if k not in ("scope", "by", "at")}}
                        for rule_id, rule in rules.items()]
            view = self._views[scope] = _ScopedView(self, unscoped, raw_pop_max=self._raw_max)
        return view

    def _rule_keys(self, rule: dict | None) -> set[str]:
        """The alias keys whose candidate lists a rule decides."""
        if not rule:
            return set()
        if rule["kind"] == "ban_qid":
            eid = self.internal_id(rule["qid"])
            keys = set() if eid is None else set(_name_rows(self.record(eid))) | self._rule_keys_of(eid)
            if eid is not None and isinstance(self.base, OverlayKB):   # a scope's view: the
                keys |= self.base._rule_keys_of(eid)   # global house aliases and pins too
            return keys
        entry = _alias_entry(rule["alias"])
        return {entry[0]} if entry else set()

    def _rule_keys_of(self, eid: int) -> set[str]:
        keys = {key for key, eids in self._rules.house.items() if eid in eids}
        return keys | {key for key, (pinned, _f) in self._rules.pins.items() if pinned == eid}

    def _derive_rules(self) -> _Rules:
        rules = _Rules()
        for rule in self._rule_set.values():
            kind = rule["kind"]
            eid = self.internal_id(rule["qid"]) if "qid" in rule else None
            entry = _alias_entry(rule["alias"]) if "alias" in rule else None
            if kind == "ban_alias" and entry:
                rules.banned_keys.add(entry[0])
            elif kind == "ban_qid" and eid is not None:
                rules.banned.add(eid)
            elif kind in ("pin", "house_alias") and entry and eid is not None:
                key, case, _hash = entry
                if kind == "pin":
                    own = _name_rows(self.record(eid)).get(key)
                    rules.pins[key] = (eid, own if own is not None else layout.FLAG_ALIAS | case)
                else:
                    rules.house.setdefault(key, {})[eid] = layout.FLAG_ALIAS | case
        return rules

    def _reindex(self, keys: set[str], changed: set[int]) -> None:
        """Recompute the candidate list of every key in ``keys`` from scratch: the base rows
        (minus entities the overlay replaced or deleted), the names of the overlay's entities
        found under the key (those already listed there, and those changed now), and house
        aliases; one vectorised pass of the build's prior rule; then bans and pins."""
        if not keys:
            return
        key_list = sorted(keys)
        names: dict[int, dict[str, int]] = {}

        def names_of(eid: int) -> dict[str, int]:
            rows = names.get(eid)
            if rows is None:
                rows = names[eid] = _name_rows(self.record(eid))
            return rows

        new_names: dict[str, set[int]] = {}
        for eid in changed:
            if eid in self._records:
                for key in names_of(eid):
                    new_names.setdefault(key, set()).add(eid)
        row_key, row_ent, row_flags = [], [], []

        def row(k: int, eid: int, flags: int) -> None:
            row_key.append(k)
            row_ent.append(eid)
            row_flags.append(flags)

        for k, key in enumerate(key_list):
            for eid, _prior, flags in (self.base.candidates(key) if self.base.has_key(key) else ()):
                if eid not in self._dead and eid not in self._records:
                    row(k, eid, flags)
            old = self._rows(key)
            mine = new_names.get(key, set())
            if old:
                mine = mine | {eid for eid, _p, _f in old if eid in self._records}
            for eid in mine:
                flags = names_of(eid).get(key)
                if flags is not None and eid not in self._dead:
                    row(k, eid, flags)
            for eid, flags in self._rules.house.get(key, {}).items():
                if eid not in self._dead:
                    row(k, eid, flags)
        for key in key_list:
            self._lists[key] = []
        if row_key:
            ents = np.asarray(row_ent, dtype=np.int64)
            unique, local = np.unique(ents, return_inverse=True)
            raw = np.array([self._raw_pop(int(e)) for e in unique], dtype=np.float64)
            cand = _candidates(np.asarray(row_key, dtype=np.int64), len(key_list), local.astype(np.int64),
                               np.asarray(row_flags, dtype=np.uint8), raw)
            off = cand["cand_off"].tolist()
            c_ent = unique[cand["cand_ent"].astype(np.int64)].tolist()
            c_prior, c_flags = cand["cand_prior"].tolist(), cand["cand_flags"].tolist()
            for k, key in enumerate(key_list):
                lo, hi = off[k], off[k + 1]
                self._lists[key] = list(zip(c_ent[lo:hi], c_prior[lo:hi], c_flags[lo:hi]))
        rules = self._rules
        for key in key_list:
            if key in rules.banned_keys:
                self._lists[key] = []
                continue
            pinned = rules.pins.get(key)
            if pinned is not None:
                eid, flags = pinned
                self._lists[key] = [] if eid in self._dead or eid in rules.banned else [(eid, 1.0, flags)]
            elif rules.banned:
                self._lists[key] = [r for r in self._lists[key] if r[0] not in rules.banned]

    def _raw_pop(self, eid: int) -> float:
        """The build's unnormalised popularity: sitelinks and in-degree (and PageRank when the
        build had it); a replaced base entity keeps its base popularity."""
        if eid < self._n:
            return self.base.popularity(eid) * self._raw_max
        return self._raw_new.get(eid, 0.0)

    # --- entities -----------------------------------------------------------------------------
    def __len__(self) -> int:
        base_dead = sum(1 for eid in self._dead if eid < self._n)
        return len(self.base) - base_dead + (self._next - self._n) - len(self._gone)

    def __contains__(self, qid: object) -> bool:
        return isinstance(qid, str) and self.internal_id(qid) is not None

    def internal_id(self, qid: str) -> int | None:
        eid = self._ids.get(qid)
        if eid is not None:
            return None if eid in self._dead else eid
        return self.base.internal_id(qid)

    def record(self, eid: int) -> dict:
        rec = self._records.get(eid)
        if rec is None:
            if eid < self._n:
                return self.base.record(eid)
            rec = self._gone[eid]
            if isinstance(rec, bytes):
                rec = self._gone[eid] = orjson.loads(rec)
            return rec
        if isinstance(rec, bytes):             # from a snapshot: decoded once, on first use
            rec = self._records[eid] = orjson.loads(rec)
        return rec

    def redirect_of(self, qid: str) -> str | None:
        return self._redirects.get(qid)

    def _popularity(self, eid: int) -> float:
        """``popularity`` (memoised per state as ``self.popularity``: ``_after_change``)."""
        if eid < self._n:
            return self.base.popularity(eid)
        return min(1.0, self._raw_new.get(eid, 0.0) / self._raw_max) if self._raw_max > 0 else 0.0

    def in_degree(self, eid: int) -> int:
        return self.base.in_degree(eid) if eid < self._n else 0

    def in_degrees(self, eids) -> np.ndarray:
        eids = np.asarray(eids, dtype=np.int64)
        if not len(eids) or int(eids.max()) < self._n:
            return self.base.in_degrees(eids)
        out = self.base.in_degrees(np.minimum(eids, self._n - 1)).copy()
        out[eids >= self._n] = 0
        return out

    def neighbours(self, eid: int) -> np.ndarray:
        if eid in self._own_links:
            nbr = self._nbr.get(eid)
            if nbr is None:
                nbr = self._nbr[eid] = self._out_links(self.record(eid))
            return nbr
        if eid >= self._n:
            return np.zeros(0, dtype=np.int64)
        return self.base.neighbours(eid)

    def _out_links(self, record: dict) -> np.ndarray:
        targets = set()
        for pid, values in record["c"].items():
            if pid in NOT_RELATED:
                continue
            for v in values:
                if v["k"] == "i":
                    target = self.internal_id(v["v"])
                    if target is not None:
                        targets.add(target)
        return np.fromiter(sorted(targets), dtype=np.int64, count=len(targets))

    def neighbour_pairs(self, eids) -> tuple[np.ndarray, np.ndarray]:
        eids = np.asarray(eids, dtype=np.int64)
        if not len(self._changed) or not len(eids):
            return self.base.neighbour_pairs(eids)
        pos = np.minimum(np.searchsorted(self._changed, eids), len(self._changed) - 1)
        mine = (self._changed[pos] == eids) | (eids >= self._n)
        if not mine.any():
            return self.base.neighbour_pairs(eids)
        src, dst = self.base.neighbour_pairs(eids[~mine])
        srcs, dsts = [src.astype(np.int64)], [dst.astype(np.int64)]
        for eid in eids[mine].tolist():
            nbr = self.neighbours(eid)
            srcs.append(np.full(len(nbr), eid, dtype=np.int64))
            dsts.append(nbr.astype(np.int64))
        return np.concatenate(srcs), np.concatenate(dsts)

    def iter_qids(self) -> Iterator[str]:
        for qid in self.base.iter_qids():
            if qid not in self._ids or self.internal_id(qid) is not None:
                yield qid
        for entity_id, eid in self._ids.items():
            if eid >= self._n and eid not in self._dead:
                yield entity_id

    # --- aliases ------------------------------------------------------------------------------
    def _has_prefix(self, key: str) -> bool:
        """``has_prefix`` (memoised per state as ``self.has_prefix``: ``_after_change``)."""
        if self.base.has_prefix(key) or next(self._key_trie.iterkeys(key), None) is not None:
            return True
        keys = self._keys_sorted
        if not keys:
            return False
        i = bisect.bisect_left(keys, key)
        return i < len(keys) and keys[i].startswith(key)

    def _rows(self, key: str) -> list[tuple[int, float, int]] | None:
        """The overlay's candidate list of a key (None: the base decides it)."""
        rows = self._lists.get(key)
        if rows is None and self._snap_off is not None:
            kid = self._key_trie.get(key)
            if kid is not None:
                lo, hi = int(self._snap_off[kid]), int(self._snap_off[kid + 1])
                rows = self._lists[key] = self._snap_rows[lo:hi].tolist()
        return rows

    def _has_key(self, key: str) -> bool:
        """``has_key`` (memoised per state as ``self.has_key``: ``_after_change``)."""
        rows = self._rows(key)
        if rows is None:
            return self.base.has_key(key)
        return bool(rows)

    def candidates(self, key: str, limit: int | None = None) -> list[tuple[int, float, int]]:
        rows = self._rows(key)
        if rows is None:
            return self.base.candidates(key, limit)
        return rows[:limit] if limit is not None else list(rows)

    def _clear_memos(self) -> None:
        for memo in (self._card, self._parts, self.superclasses, self.has_prefix, self.has_key,
                     self.popularity):
            memo.cache_clear()

    def close(self) -> None:
        self._clear_memos()
        self.base.close()


class _ScopedView(OverlayKB):
    """``OverlayKB.scoped``: an overlay holding one scope's rules, over the service's overlay.
    It borrows the overlay's entities; closing it leaves them open."""

    @property
    def version(self) -> str:
        return self.base.version       # the scope joins cache keys beside the version

    def redirect_of(self, qid: str) -> str | None:
        return self.base.redirect_of(qid)

    def close(self) -> None:
        self._clear_memos()


def _raw_pop_max(base) -> float:
    """The build's popularity scale (``pop = raw / raw_pop_max``), so that overlay entities and
    base entities compare on one scale in a key's prior. KBs built before ``meta.json`` recorded
    it: the largest ``(log1p(sitelinks) + 0.7 log1p(in-degree)) / pop`` over a sample, which is
    exact for every entity without a PageRank score and a lower bound otherwise."""
    meta = getattr(base, "meta", None) or {}
    if meta.get("raw_pop_max"):
        return float(meta["raw_pop_max"])
    n = len(base)
    best = 0.0
    for eid in np.linspace(0, n - 1, num=min(n, POP_SCALE_SAMPLE), dtype=np.int64).tolist() if n else ():
        pop = base.popularity(eid)
        if pop > 0:
            raw = float(np.log1p(base.record(eid).get("sl", 0)) + 0.7 * np.log1p(base.in_degree(eid)))
            best = max(best, raw / pop)
    return best or 1.0
