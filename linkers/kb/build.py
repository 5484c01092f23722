"""Build a KB directory from Wikidata dumps: ``build_kb(sources, out_dir, popularity=...)``.

One streaming pass: the main process decompresses the dump (ISA-L) straight into the slots of a
shared ring (``_Ring``: blocks of whole lines, ``BLOCK_BYTES``); a process pool parses and
compacts the entities of each block (``linkers.kb.fastdump``: typed msgspec decoding that skips
what the KB does not keep) and sends back one packed ``_Block`` (records concatenated, numbers in
numpy arrays, the block's distinct alias keys once, each with a 64-bit ``key_hash``), so the
main process does no per-entity Python work: it drops duplicate QIDs, appends records to
``entities.bin`` and item edges to temporary files (not the heap), and numbers alias keys by
their hash in a numpy hash table (``_KeyIds``). Then array passes with numpy: QID index,
in-degree, popularity, out-links and alias priors, while a forked child builds the alias trie
(``_finish``).

Memory at Wikidata scale (~110M entities, ~30M English alias keys, ~1B item edges): the
distinct alias keys (their strings, ~2 GB at 30M keys, and the key table, ~800 MB), the alias
rows (13 bytes each), the QID seen-bitmap (1 bit per QID number, ~16 MB), the ring (workers + 2
slots of 8 MB), and edge arrays streamed in blocks; the trie child adds the trie and one walk
of it (a few GB at 30M keys) while the parent sorts the alias rows. Malformed lines are counted
and reported with line numbers (``strict`` makes the first one fatal). The result is written to a temporary directory next to
``out_dir`` and renamed into place, so a failed build never replaces a good KB.
"""
from __future__ import annotations

import gc
import hashlib
import mmap
import multiprocessing as mp
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

import marisa_trie
import numpy as np
import orjson

from ..errors import DumpError, KBError
from ..text import alias_key, case_class
from . import layout
from .dump import entity_json, is_person, open_dump, read_errors
from .fastdump import compact_line

# kb_version hashes the records in chunks of this many entity lines per source: changing it
# changes every kb_version (it is not a tuning knob; blocks of work are BLOCK_BYTES).
CHUNK_LINES = 512
# Decompressed bytes of dump lines per task sent to a worker: a few thousand entities, so
# inter-process traffic is a handful of messages per block, and every worker stays busy.
BLOCK_BYTES = 8 << 20
# Surfaces whose alias key and case are remembered per worker (names repeat across entities).
NAME_CACHE_SIZE = 500_000
# Bump when the build logic changes what a KB contains: it is part of every kb_version, so
# results cached under an older build are never served for a new one.
BUILD_LOGIC = 13
# Weight of a name kind in the alias prior: an exact label beats an alias beats a surname.
NAME_KIND_WEIGHT = {layout.FLAG_LABEL: 1.0, layout.FLAG_ALIAS: 0.6, layout.FLAG_PARTIAL: 0.25}
MAX_ALIAS_CHARS = 120
# The QID -> internal id table is direct (an array over the QID range) when the range is at
# most this many times the entity count.
DENSE_QID_TABLE_RATIO = 4
ADMIN_SUFFIXES = (" Province", " Region", " Oblast", " Krai", " County", " District", " Governorate",
                  " Prefecture", " Department", " Voivodeship", " Canton", " Municipality", " State")


@dataclass
class BuildReport:
    kb_version: str
    entities: int
    alias_keys: int
    candidates: int
    edges: int
    malformed: int
    duplicates: int
    seconds: float
    malformed_examples: list[str] = field(default_factory=list)

    @property
    def entities_per_second(self) -> float:
        return self.entities / self.seconds if self.seconds else 0.0


def _names(record: dict) -> Iterator[tuple[str, int]]:
    """(surface, name-kind flag) for every name the spotter should find this entity by."""
    label = record["l"]
    names = ([(label, layout.FLAG_LABEL)] if label else []) + [(a, layout.FLAG_ALIAS) for a in record["a"]]
    for name, kind in names:
        yield name, kind
        if name[:4].lower() == "the " and len(name) > 6:
            yield name[4:], kind          # "the Fed" is also written "Fed"
    if label and label.endswith(ADMIN_SUFFIXES):
        # "Córdoba Province" is mostly written "Cordoba": a region by its bare name.
        for suffix in ADMIN_SUFFIXES:
            if label.endswith(suffix) and len(label) > len(suffix) + 2:
                yield label[: -len(suffix)], layout.FLAG_PARTIAL | layout.FLAG_REGION
                break
    if label and is_person(record):
        # People are written by surname ("Macron"), and sometimes by given name alone
        # ("Angelina, her father Jon, and her partner Brad"): given names are indexed apart
        # (FLAG_GIVEN), as candidates the ranker admits only with support from the text.
        parts = label.split()
        if len(parts) >= 2 and parts[-1][:1].isupper() and len(parts[-1]) >= 3 and parts[-1].isalpha():
            yield parts[-1], layout.FLAG_PARTIAL
        if len(parts) >= 2 and parts[0][:1].isupper() and len(parts[0]) >= 3 and parts[0].isalpha():
            yield parts[0], layout.FLAG_GIVEN


_name_cache: dict[str, tuple[str, int, int] | None] = {}


def key_hash(key: str) -> int:
    """64-bit id of an alias key: Python's own string hash (SipHash), as an unsigned number.

    Workers send keys with their hash, so the main process merges blocks with integer dict
    operations instead of hashing millions of unpickled strings. Forked workers share the main
    process's hash seed, so a key has one id everywhere; were a worker seeded differently
    (spawned), its keys would get other ids, and the trie, which is built from the strings,
    would merge them back. Two distinct keys with the same hash would share one candidate
    list: at Wikidata's ~30M keys the odds are about 1 in 40,000 per build.
    """
    return hash(key) & 0xFFFF_FFFF_FFFF_FFFF


def _alias_entry(surface: str) -> tuple[str, int, int] | None:
    """(alias key, case flag, key hash) of a surface form, None if it is not indexed; memoised."""
    entry = _name_cache.get(surface, False)
    if entry is False:
        entry = None
        if len(surface) <= MAX_ALIAS_CHARS:
            key = alias_key(surface)
            if key:
                case = case_class(surface)
                entry = (key, (layout.FLAG_ACRONYM if case == 2 else layout.FLAG_LOWER if case == 0 else 0),
                         key_hash(key))
        if len(_name_cache) >= NAME_CACHE_SIZE:
            _name_cache.clear()
        _name_cache[surface] = entry
    return entry


class _Block(NamedTuple):
    """What a worker sends back for one block of dump lines: packed, a few objects in all."""
    source: int                # index of the dump file in ``sources``
    lines: int                 # entity lines in the block (the digest is chunked by line)
    raw_lines: int             # all lines of the block, for line numbers
    line_of: np.ndarray        # uint32 per parsed entity: its entity-line index in the block
    blob: bytes                # the entities' orjson records, concatenated
    sizes: np.ndarray          # int64 byte length of each record
    qids: np.ndarray           # uint32 QID number of each entity
    sitelinks: np.ndarray      # int64 sitelink count of each entity
    keys: list[str]            # distinct alias keys of the block
    key_hash: np.ndarray       # uint64 ``key_hash`` of each of ``keys``
    name_key: np.ndarray       # uint32 per name: its alias key's index in ``keys``
    name_ent: np.ndarray       # uint32 per name: entity index in the block
    name_flags: np.ndarray     # uint8 per name: layout.FLAG_*
    targets: np.ndarray        # uint32 every item target (in-degree), entity after entity
    target_count: np.ndarray   # int64 per entity: how many of ``targets`` are its own
    related: np.ndarray        # uint32 out-link targets (claims other than NOT_RELATED)
    related_count: np.ndarray  # int64 per entity: how many of ``related`` are its own
    errors: list[tuple[int, str]]  # malformed lines: (index in the block, "Error: message")
    slot: int = -1             # the ``_Ring`` slot the block was read from (-1: sent as bytes)


class _Ring:
    """Slots of decompressed dump bytes in an anonymous shared mapping, inherited by the forked
    workers: the main process decompresses straight into a free slot and sends a worker only
    ``(slot, length)``; the slot is free again once that block's result is merged.

    Pickling each 8 MB block through a pipe instead cost as much CPU as the decompression and
    merging together (a copy into the pickle, two through the pipe, one out of it), on both
    sides; here it is one copy, in the worker. A line longer than half a slot travels as bytes.
    """

    def __init__(self, slots: int, size: int):
        self.size = size
        self.mm = mmap.mmap(-1, slots * size)
        self.free: queue.Queue[int | None] = queue.Queue()
        for slot in range(slots):
            self.free.put(slot)
        self.closed = False

    def read(self, slot: int, length: int) -> bytes:
        base = slot * self.size
        return self.mm[base:base + length]

    def blocks(self, sources: list[str]) -> Iterator[tuple[int, bytes | tuple[int, int]]]:
        """(source index, block of whole lines or its (slot, length)).

        Runs in the pool's task thread, which waits here for a free slot.
        """
        size = self.size
        for source, path in enumerate(sources):
            with open_dump(path) as fh, read_errors(path):
                carry, eof = b"", False
                while not eof:
                    if len(carry) > size // 2:            # one huge line: send it whole, as bytes
                        line = carry + fh.readline()
                        carry = b""
                        yield source, line
                        continue
                    slot = self.free.get()
                    if slot is None or self.closed:
                        return
                    base = slot * size
                    with memoryview(self.mm) as whole, whole[base:base + size] as view:
                        view[:len(carry)] = carry
                        filled = len(carry)
                        while filled < size:
                            got = fh.readinto(view[filled:])
                            if not got:
                                eof = True
                                break
                            filled += got
                    end = self.mm.rfind(b"\n", base, base + filled)
                    cut = filled if eof else (end + 1 - base if end >= 0 else 0)
                    carry = self.mm[base + cut:base + filled]
                    if cut == 0:
                        self.free.put(slot)
                        continue
                    yield source, (slot, cut)

    def close(self) -> None:
        """Stop handing out slots (wakes a task thread waiting for one)."""
        self.closed = True
        self.free.put(None)


# The ring of the build in progress: set before the pool forks, so every worker has it.
_ring: _Ring | None = None


def _parse_block(task: tuple[int, bytes | tuple[int, int], tuple[str, ...]]) -> _Block:
    """Worker: parse and compact the entity lines of one block."""
    source, block, languages = task
    slot = -1
    if isinstance(block, tuple):
        slot, length = block
        block = _ring.read(slot, length)
    # Parsed entities hold no reference cycles: the collector would only rescan them, over
    # and over (it cost more than the JSON parsing).
    gc.disable()
    try:
        return _parse_lines(source, block, languages)._replace(slot=slot)
    finally:
        gc.enable()


def _parse_lines(source: int, block: bytes, languages: tuple[str, ...]) -> _Block:
    """The ``_Block`` of one block of dump lines (whole lines)."""
    line_of, blobs, qids, sitelinks = [], [], [], []
    block_keys: dict[int, int] = {}           # key hash -> index in keys
    keys = []
    name_key, name_ent, name_flags = [], [], []
    targets, target_count, related, related_count = [], [], [], []
    errors = []
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    n_lines = 0
    for i, line in enumerate(lines):
        line = entity_json(line)
        if line is None:
            continue
        index = n_lines
        n_lines += 1
        try:
            compacted = compact_line(line, languages)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            errors.append((i, f"{type(exc).__name__}: {str(exc)[:120]}"))
            continue
        if compacted is None:
            continue
        record, item_targets, out = compacted
        entity = len(qids)
        line_of.append(index)
        blobs.append(orjson.dumps(record))
        qids.append(int(record["id"][1:]))
        sitelinks.append(record["sl"])
        for surface, kind in _names(record):
            entry = _alias_entry(surface)
            if entry is not None:
                key, case, hashed = entry
                local = block_keys.get(hashed)
                if local is None:
                    local = block_keys[hashed] = len(keys)
                    keys.append(key)
                name_key.append(local)
                name_ent.append(entity)
                name_flags.append(kind | case)
        targets.extend(item_targets)
        target_count.append(len(item_targets))
        related.extend(out)
        related_count.append(len(out))
    return _Block(source, n_lines, len(lines), np.array(line_of, dtype=np.uint32), b"".join(blobs),
                  np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)), np.array(qids, dtype=np.uint32),
                  np.array(sitelinks, dtype=np.int64), keys,
                  np.fromiter(block_keys, dtype=np.uint64, count=len(block_keys)),
                  np.array(name_key, dtype=np.uint32),
                  np.array(name_ent, dtype=np.uint32), np.array(name_flags, dtype=np.uint8),
                  np.array(targets, dtype=np.uint32), np.array(target_count, dtype=np.int64),
                  np.array(related, dtype=np.uint32), np.array(related_count, dtype=np.int64), errors)


def _blocks(sources: list[str], size: int) -> Iterator[tuple[int, bytes]]:
    """(source index, block of whole lines) over the dumps."""
    for source, path in enumerate(sources):
        with open_dump(path) as fh, read_errors(path):
            rest = b""
            while True:
                data = fh.read(size)
                if not data:
                    break
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest += data
                    continue
                block = b"".join((rest, memoryview(data)[:cut])) if rest or cut < len(data) else data
                rest = data[cut:]
                yield source, block
            if rest:
                yield source, rest


class _Digest:
    """The content hash in kb_version: blake2b of each CHUNK_LINES-line chunk of each source's
    records (duplicates included), folded in order. Blocks do not align with chunks, so the
    chunks are cut here from each block's per-entity line indices."""

    def __init__(self, languages: tuple[str, ...]):
        self.total = hashlib.blake2b(digest_size=8)
        self.total.update(f"{layout.FORMAT}|{BUILD_LOGIC}|{','.join(languages)}".encode())
        self.source = None
        self.lines = 0
        self.chunk = hashlib.blake2b(digest_size=16)

    def add(self, block: _Block) -> None:
        if block.source != self.source:
            self.end_source()
            self.source, self.lines, self.chunk = block.source, 0, hashlib.blake2b(digest_size=16)
        starts = np.zeros(len(block.sizes) + 1, dtype=np.int64)
        np.cumsum(block.sizes, out=starts[1:])
        records = memoryview(block.blob)
        first = 0
        end = self.lines + block.lines
        boundary = (self.lines // CHUNK_LINES + 1) * CHUNK_LINES
        while boundary <= end:
            last = int(np.searchsorted(block.line_of, boundary - self.lines))
            self.chunk.update(records[starts[first]:starts[last]])
            self.total.update(self.chunk.digest())
            self.chunk = hashlib.blake2b(digest_size=16)
            first, boundary = last, boundary + CHUNK_LINES
        self.chunk.update(records[starts[first]:])
        self.lines = end

    def end_source(self) -> None:
        if self.lines % CHUNK_LINES:
            self.total.update(self.chunk.digest())
        self.lines = 0

    def update(self, data: bytes) -> None:
        """Fold in something else the KB depends on (after the last source has ended)."""
        self.total.update(data)

    def hexdigest(self) -> str:
        return self.total.hexdigest()


class _KeyIds:
    """Alias key hash -> key id, ids numbered as keys first arrive: an open-addressing hash
    table (linear probing, at most half full) in two numpy arrays, filled and read a block of
    hashes at a time. A Python dict of millions of int keys missed the cache three times per
    lookup (slot, entry, int object): ~45 s of the main process per 10M-entity build, against
    ~2 s here. Hash 0 marks an empty slot, so a key hashing to 0 is stored as ``_ZERO``, one more
    of the 64-bit collisions ``key_hash`` accepts. 12 bytes a slot: ~800 MB at 30M keys."""

    _ZERO = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, bits: int = 16):
        self.hashes = np.zeros(1 << bits, dtype=np.uint64)
        self.ids = np.zeros(1 << bits, dtype=np.uint32)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def add(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(id of each of the distinct ``hashes``, positions of those that were new)."""
        while 2 * (self.count + len(hashes)) > len(self.hashes):
            self._grow()
        ids, new, _ = self._probe(hashes, insert=True)
        return ids, new

    def get(self, hashes: np.ndarray) -> np.ndarray:
        """The id of each of ``hashes``, -1 where it is not in the table."""
        return self._probe(hashes, insert=False)[0]

    def _grow(self) -> None:
        used = np.flatnonzero(self.hashes)
        hashes, ids = self.hashes[used], self.ids[used]
        self.hashes = np.zeros(2 * len(self.hashes), dtype=np.uint64)
        self.ids = np.zeros(len(self.hashes), dtype=np.uint32)
        self.count = 0
        _, _, slots = self._probe(hashes, insert=True)      # placed anew, then given their own ids
        self.ids[slots] = ids

    def _probe(self, hashes: np.ndarray, insert: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, -1 where absent; positions of the keys inserted; slot of each key, -1 if absent)."""
        hashes = np.where(hashes == 0, self._ZERO, hashes).astype(np.uint64, copy=False)
        mask = len(self.hashes) - 1
        ids = np.full(len(hashes), -1, dtype=np.int64)
        slots = np.full(len(hashes), -1, dtype=np.int64)
        new: list[np.ndarray] = []
        pending = np.arange(len(hashes))
        slot = (hashes & np.uint64(mask)).astype(np.int64)
        while len(pending):
            h = hashes[pending]
            here = self.hashes[slot]
            done = here == h
            empty = here == 0
            if insert and empty.any():
                # claim the empty slots; of new keys that met at one slot the last written stays,
                # the others probe on from there
                claim = np.flatnonzero(empty)
                self.hashes[slot[claim]] = h[claim]
                won = claim[self.hashes[slot[claim]] == h[claim]]
                self.ids[slot[won]] = self.count + np.arange(len(won))
                self.count += len(won)
                new.append(pending[won])
                done[won] = True
                empty[:] = False
            slots[pending[done]] = slot[done]
            ids[pending[done]] = self.ids[slot[done]]
            go_on = ~(done | empty)               # reading: an empty slot ends the search
            pending = pending[go_on]
            slot = (slot[go_on] + 1) & mask
        return ids, (np.concatenate(new) if new else np.zeros(0, dtype=np.int64)), slots


class _Entities:
    """The main process's side of the stream: first occurrence of each QID wins; its record goes
    to ``entities.bin``, its item targets to temporary files, its names to the alias rows."""

    def __init__(self, records, kept_edges, all_targets):
        self.records, self.kept_edges, self.all_targets = records, kept_edges, all_targets
        # duplicates across sources: one bit per QID number (~16 MB at Wikidata's QID range)
        self.seen = np.zeros(1 << 17, dtype=np.uint8)
        self.count = self.duplicates = 0
        self.qids: list[np.ndarray] = []
        self.sitelinks: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []
        # Alias keys get ids as they first arrive, so the name rows need no merge afterwards.
        self.key_ids = _KeyIds()                 # key hash -> key id
        self.keys: list[str] = []                # alias key of each key id
        self.name_key: list[np.ndarray] = []     # uint32 key id per name
        self.name_ent: list[np.ndarray] = []
        self.name_flags: list[np.ndarray] = []

    def add(self, block: _Block) -> None:
        n = len(block.qids)
        if n == 0:
            return
        byte, bit = block.qids >> 3, (np.uint8(1) << (block.qids & 7).astype(np.uint8))
        top = int(byte.max())
        if top >= len(self.seen):
            # with room to spare: QIDs grow through a dump, and each growth copies the bitmap
            grown = np.zeros(max(top + 1 + (top >> 2), 2 * len(self.seen)), dtype=np.uint8)
            grown[:len(self.seen)] = self.seen
            self.seen = grown
        keep = (self.seen[byte] & bit) == 0
        _, first = np.unique(block.qids, return_index=True)
        if len(first) < n:                       # the same QID twice in the block
            once = np.zeros(n, dtype=bool)
            once[first] = True
            keep &= once
        np.bitwise_or.at(self.seen, byte[keep], bit[keep])
        eids = self.count + np.cumsum(keep) - 1  # valid where keep
        kept = int(np.count_nonzero(keep))
        self.duplicates += n - kept
        self.count += kept
        if kept == n:
            self.records.write(block.blob)
            rows = slice(None)
            ids = self._key_ids(block.key_hash, block.keys)
            self.all_targets.write(block.targets.tobytes())
            related, related_src = block.related, np.repeat(eids, block.related_count)
        else:
            starts = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(block.sizes, out=starts[1:])
            records = memoryview(block.blob)
            for i in np.flatnonzero(keep):
                self.records.write(records[starts[i]:starts[i + 1]])
            rows = keep[block.name_ent]
            used = np.unique(block.name_key[rows])     # keys only dropped duplicates had go
            ids = np.zeros(len(block.keys), dtype=np.uint32)
            ids[used] = self._key_ids(block.key_hash[used], [block.keys[i] for i in used.tolist()])
            self.all_targets.write(block.targets[np.repeat(keep, block.target_count)].tobytes())
            mask = np.repeat(keep, block.related_count)
            related, related_src = block.related[mask], np.repeat(eids, block.related_count)[mask]
        self.qids.append(block.qids[keep])
        self.sitelinks.append(block.sitelinks[keep])
        self.sizes.append(block.sizes[keep])
        self.name_key.append(ids[block.name_key[rows]])
        self.name_ent.append(eids[block.name_ent[rows]].astype(np.uint32))
        self.name_flags.append(block.name_flags[rows])
        if len(related):
            pairs = np.empty((len(related), 2), dtype=np.uint32)
            pairs[:, 0] = related_src
            pairs[:, 1] = related
            self.kept_edges.write(pairs.tobytes())

    def _key_ids(self, hashes: np.ndarray, strings: list[str]) -> np.ndarray:
        """The key id of each of a block's distinct keys (``hashes``), new ones numbered on."""
        ids, fresh = self.key_ids.add(hashes)
        self.keys.extend(map(strings.__getitem__, fresh[np.argsort(ids[fresh])].tolist()))
        return ids.astype(np.uint32)


def _read_popularity(path: str) -> dict[int, float]:
    scores: dict[int, float] = {}
    with open_dump(path) as fh, read_errors(path):
        for line in fh:
            parts = line.split(b"\t")
            if len(parts) >= 2 and parts[0].startswith(b"Q"):
                try:
                    scores[int(parts[0][1:])] = float(parts[1])
                except ValueError:
                    continue
    return scores


class _Progress:
    def __init__(self, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(unit=" entities", unit_scale=True, file=sys.stderr, desc="kb build",
                            smoothing=0.1, mininterval=0.5)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def build_kb(sources: list[str], out_dir: str, popularity: str | None = None,
             languages: tuple[str, ...] = ("en",), strict: bool = False,
             workers: int | None = None, progress: bool = True) -> BuildReport:
    """Build a KB from Wikidata dump files into ``out_dir`` (atomically replaced)."""
    for src in sources:
        if not os.path.isfile(src):
            raise KBError(f"dump not found: {src}", path=src)
    if popularity and not os.path.isfile(popularity):
        raise KBError(f"popularity file not found: {popularity}", path=popularity)
    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        report = _build_into(tmp, sources, popularity, tuple(languages), strict, workers, progress)
        _install(tmp, out)
        return report
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _install(tmp: Path, out: Path) -> None:
    """Swap the finished build into place; the old KB is removed only after the rename."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _build_into(tmp: Path, sources, popularity, languages, strict, workers, progress) -> BuildReport:
    return _finish(tmp, _stream(tmp, sources, languages, strict, workers, progress), sources, popularity, languages)


@dataclass
class _Streamed:
    """What the streaming pass leaves for the array passes (besides its files in ``tmp``)."""
    table: _Entities
    digest: _Digest
    malformed: list[str]
    n_malformed: int
    workers: int
    seconds: float


def _stream(tmp: Path, sources, languages, strict, workers, progress) -> _Streamed:
    """The streaming pass: ``entities.bin``, ``edges.tmp``, ``targets.tmp`` and the alias rows."""
    t0 = time.perf_counter()
    workers = (os.cpu_count() or 1) if workers is None else workers
    kept_edges = open(tmp / "edges.tmp", "wb")     # (src internal id, target QID number) pairs
    all_targets = open(tmp / "targets.tmp", "wb")  # every item target, for in-degree
    malformed: list[str] = []
    n_malformed = 0
    digest = _Digest(languages)
    bar = _Progress(progress)

    global _ring
    fork = sys.platform != "win32"
    if not may_fork():                # a spawned pool would re-import the caller's __main__
        workers = 1
    ring = _Ring(workers + 2, BLOCK_BYTES) if fork or workers == 1 else None
    blocks = ring.blocks(sources) if ring else _blocks(sources, BLOCK_BYTES)
    tasks = ((source, block, languages) for source, block in blocks)
    _ring = ring
    pool = mp.get_context("fork" if fork else "spawn").Pool(workers) if workers > 1 else None
    results = pool.imap(_parse_block, tasks) if pool else map(_parse_block, tasks)
    try:
        with open(tmp / layout.ENTITIES, "wb", buffering=1 << 22) as ent_out:
            table = _Entities(ent_out, kept_edges, all_targets)
            source, first_line = None, 1     # blocks come in order: lines are numbered here
            for block in results:
                if block.source != source:
                    source, first_line = block.source, 1
                if block.errors:
                    errors = [f"line {first_line + i}: {message}" for i, message in block.errors]
                    if strict:
                        raise DumpError(f"malformed dump line ({errors[0]})", line=errors[0])
                    n_malformed += len(errors)
                    malformed.extend(errors[: max(0, 20 - len(malformed))])
                first_line += block.raw_lines
                digest.add(block)
                table.add(block)
                if block.slot >= 0:
                    ring.free.put(block.slot)
                bar.update(len(block.qids))
    finally:
        bar.close()
        _name_cache.clear()      # with workers=1 it lives in the caller's process
        if ring is not None:
            ring.close()
        if pool is not None:
            pool.terminate()
        _ring = None
        kept_edges.close()
        all_targets.close()

    digest.end_source()
    return _Streamed(table, digest, malformed, n_malformed, workers, time.perf_counter() - t0)


def _finish(tmp: Path, streamed: _Streamed, sources, popularity, languages) -> BuildReport:
    """The array passes after the stream: QID index, in-degree and popularity, the alias trie and
    candidate lists, the out-link graph; then ``meta.json``."""
    t0 = time.perf_counter() - streamed.seconds
    table = streamed.table
    phases = {"stream": streamed.seconds}
    if table.count == 0:
        raise KBError("no entities found in the dump(s)", sources=list(sources))
    # The alias trie is built in a forked child (C++ and one walk of it in Python, ~a third of
    # the work after the stream), while this process does the numpy passes: in-degree,
    # popularity, out-links and the candidate lists, numbered by key id until the child
    # reports each key's trie id.
    names, n_keys = np.concatenate(table.name_key), len(table.keys)
    del table.name_key
    trie_job = _Background(_build_trie, tmp, table.keys, names, table.key_ids)
    try:
        return _arrays(tmp, t0, phases, streamed, trie_job, names, n_keys, sources, popularity, languages)
    finally:
        trie_job.stop()


def _arrays(tmp, t0, phases, streamed, trie_job, names, n_keys, sources, popularity, languages) -> BuildReport:
    """``_finish`` while ``trie_job`` runs: every array file, then ``meta.json``."""
    table, digest, workers = streamed.table, streamed.digest, streamed.workers
    malformed, n_malformed = streamed.malformed, streamed.n_malformed
    duplicates = table.duplicates
    n = table.count
    nums = np.concatenate(table.qids)
    sizes = np.concatenate(table.sizes)
    sitelinks = np.concatenate(table.sitelinks)
    del table.qids, table.sizes, table.sitelinks
    offsets = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(sizes, out=offsets[1:])
    order = np.argsort(nums, kind="stable").astype(np.uint32)
    sorted_nums = nums[order]

    # QID number -> internal id. Wikidata's QIDs are dense (~110M items under Q130M), so a
    # direct table (4 bytes per QID number in the range) replaces a binary search per claim
    # target; sparse subsets (a few entities across the whole range) keep the search.
    base = int(sorted_nums[0])
    span = int(sorted_nums[-1]) - base + 1
    if span <= DENSE_QID_TABLE_RATIO * n:
        dense = np.full(span, n, dtype=np.uint32)
        dense[nums - base] = np.arange(n, dtype=np.uint32)

        def to_internal(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            idx = targets.astype(np.int64) - base
            inside = (idx >= 0) & (idx < span)
            found = np.zeros(len(targets), dtype=bool)
            hit = dense[idx[inside]]
            found[inside] = hit < n
            return hit[hit < n], found
    else:
        def to_internal(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pos = np.searchsorted(sorted_nums, targets)
            pos[pos >= n] = 0
            found = sorted_nums[pos] == targets
            return order[pos[found]], found

    phases["index"] = time.perf_counter() - t0 - phases["stream"]
    indeg = np.zeros(n, dtype=np.uint64)
    targets_mm = np.fromfile(tmp / "targets.tmp", dtype=np.uint32)
    for start in range(0, len(targets_mm), 1 << 24):
        internal, _ = to_internal(targets_mm[start:start + (1 << 24)])
        indeg += np.bincount(internal, minlength=n).astype(np.uint64)
    del targets_mm
    os.unlink(tmp / "targets.tmp")

    raw_pop = np.log1p(np.asarray(sitelinks, dtype=np.float64)) + 0.7 * np.log1p(indeg.astype(np.float64))
    if popularity:
        scores = _read_popularity(popularity)
        pr = np.zeros(n, dtype=np.float64)
        if scores:
            scored = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
            values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
            by_qid = np.argsort(scored)
            scored, values = scored[by_qid], values[by_qid]
            pos = np.minimum(np.searchsorted(scored, nums), len(scored) - 1)
            hit = scored[pos] == nums
            pr[hit] = values[pos[hit]]
        raw_pop += 0.5 * np.log1p(pr * 1e7)
        digest.update(Path(popularity).name.encode() + str(len(scores)).encode())
    pop = (raw_pop / raw_pop.max()) if raw_pop.max() > 0 else raw_pop

    phases["popularity"] = time.perf_counter() - t0 - sum(phases.values())
    edges = np.fromfile(tmp / "edges.tmp", dtype=np.uint32).reshape(-1, 2)
    os.unlink(tmp / "edges.tmp")
    internal, found = to_internal(edges[:, 1].copy())
    src = edges[found, 0]
    del edges
    pairs = np.sort((src.astype(np.uint64) << np.uint64(32)) | internal.astype(np.uint64))
    if len(pairs):                          # np.unique, without its hash table (3x slower here)
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    nbr_src = (pairs >> np.uint64(32)).astype(np.uint32)
    nbr_ent = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    nbr_off = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(np.bincount(nbr_src, minlength=n), out=nbr_off[1:])
    del pairs, nbr_src

    phases["links"] = time.perf_counter() - t0 - sum(phases.values())
    ents, flags = np.concatenate(table.name_ent), np.concatenate(table.name_flags)
    del table
    cand = _candidates(names, n_keys, ents, flags, raw_pop)
    phases["candidates"] = time.perf_counter() - t0 - sum(phases.values())
    trie_ids = trie_job.result()
    phases["trie_wait"] = time.perf_counter() - t0 - sum(phases.values())
    if len(trie_ids) and (np.bincount(trie_ids, minlength=n_keys) == 1).all():
        cand = _in_trie_order(cand, trie_ids)
    else:                     # keys that are one string in the trie: merge their candidates
        cand = _candidates(trie_ids[names], int(trie_ids.max(initial=-1)) + 1, ents, flags, raw_pop)
    del ents, flags, names
    phases["trie_order"] = time.perf_counter() - t0 - sum(phases.values())

    arrays = {
        "entities_off": offsets, "qids": sorted_nums, "qids_order": order,
        "pop": pop.astype(np.float32), "indeg": np.minimum(indeg, 2**32 - 1).astype(np.uint32),
        "nbr_off": nbr_off, "nbr_ent": nbr_ent, **cand,
    }
    for name, (filename, dtype) in layout.ARRAYS.items():
        arrays[name].astype(dtype, copy=False).tofile(tmp / filename)

    seconds = time.perf_counter() - t0
    phases["write"] = seconds - sum(phases.values())
    kb_version = f"{n}-{digest.hexdigest()[:12]}"
    report = BuildReport(kb_version=kb_version, entities=n, alias_keys=len(cand["cand_off"]) - 1,
                         candidates=len(cand["cand_ent"]), edges=len(nbr_ent), malformed=n_malformed,
                         duplicates=duplicates, seconds=seconds, malformed_examples=malformed)
    meta = {"format": layout.FORMAT, "kb_version": kb_version, "languages": list(languages),
            # pop = raw popularity / raw_pop_max: the KB overlay puts new entities on this scale
            "raw_pop_max": float(raw_pop.max()) if len(raw_pop) else 0.0,
            "sources": [os.path.basename(s) for s in sources],
            "popularity": os.path.basename(popularity) if popularity else None,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build": {"entities": n, "alias_keys": report.alias_keys, "candidates": report.candidates,
                      "edges": report.edges, "malformed_lines": n_malformed,
                      "malformed_examples": malformed, "duplicates": duplicates,
                      "seconds": round(seconds, 2), "workers": workers,
                      "phase_seconds": {k: round(v, 2) for k, v in phases.items()},
                      "entities_per_second": round(report.entities_per_second, 1)}}
    (tmp / layout.META).write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return report


def may_fork() -> bool:
    """Whether the build may fork: only where fork exists and only from the main thread.

    A child forked from another thread (``loop.run_in_executor``, a thread pool) takes that
    thread as its main thread, and CPython's interpreter shutdown fails there after the work
    is done: the child exits 1 without a word (issue 9, the first start of the API). Off the
    main thread the build therefore does not fork at all: it parses and builds the trie in
    this process, which is only slower (the starter KB takes ~0.3 s either way).
    """
    return ("fork" in mp.get_all_start_methods()
            and threading.current_thread() is threading.main_thread())


class _Background:
    """``fn(*args)`` in a forked child process, which sees the parent's arrays copy-on-write and
    returns an int64 array through a file in ``tmp``; run inline where the build may not fork
    (``may_fork``), or when the system refuses to fork a process this large (the build is then
    only slower)."""

    def __init__(self, fn, tmp: Path, *args):
        self.out, self.err = tmp / f"{fn.__name__}.out", tmp / f"{fn.__name__}.err"
        self.process = None
        if may_fork():
            process = mp.get_context("fork").Process(target=self._child, args=(fn, tmp, *args), daemon=True)
            try:
                process.start()
                self.process = process
                return
            except OSError:
                pass
        try:
            fn(self.out, tmp, *args)
        except Exception as exc:
            raise KBError(f"building the alias trie failed: {type(exc).__name__}: {exc}") from exc

    def _child(self, fn, tmp: Path, *args) -> None:
        try:
            fn(self.out, tmp, *args)
        except BaseException as exc:         # the parent reports it, without a traceback
            self.err.write_text(f"{type(exc).__name__}: {exc}")
            os._exit(1)
        # the work is in ``out``: skip the interpreter shutdown and the exit handlers this
        # child inherited from the parent (they are the parent's to run)
        os._exit(0)

    def result(self) -> np.ndarray:
        if self.process is not None:
            self.process.join()
            if self.process.exitcode != 0:
                why = self.err.read_text() if self.err.exists() else f"exit code {self.process.exitcode}"
                raise KBError(f"building the alias trie failed: {why}")
        out = np.fromfile(self.out, dtype=np.int64)
        os.unlink(self.out)
        return out

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join()


def _build_trie(out: Path, tmp: Path, keys: list[str], names: np.ndarray, key_ids: _KeyIds) -> None:
    """Write the alias trie, and to ``out`` the trie id of each key id.

    marisa orders nodes by summed key weight, so each key weighs its number of name rows, as if
    the trie were built from every row's key.
    """
    counts = np.bincount(names, minlength=len(keys)).astype(np.float64)
    trie = marisa_trie.Trie(keys, weights=counts.tolist())
    del counts
    trie.save(str(tmp / layout.TRIE))
    _trie_ids(trie, keys, key_ids).tofile(out)


def _trie_ids(trie: marisa_trie.Trie, keys: list[str], key_ids: _KeyIds) -> np.ndarray:
    """The trie id of each key id: one C++ walk of the trie (``items``), each walked key found
    by its hash in the stream's ``key_ids`` (4 s at 6.6M keys; 27 s as lookups in the trie).
    Where the walk does not give every key id exactly once (workers seeded differently, the
    same key under two hashes), each key is looked up instead, and keys can share an id."""
    n = len(keys)
    items = trie.items()
    if len(items) == n:
        ours = key_ids.get(np.fromiter(map(key_hash, (k for k, _ in items)), dtype=np.uint64, count=n))
        if (ours >= 0).all():
            out = np.full(n, -1, dtype=np.int64)
            out[ours] = np.fromiter((i for _, i in items), dtype=np.int64, count=n)
            if (out >= 0).all():
                return out
    del items
    return np.fromiter(map(trie.__getitem__, keys), dtype=np.int64, count=n)


def _in_trie_order(cand: dict[str, np.ndarray], trie_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Candidate lists numbered by key id, renumbered by the trie's id of each key (a bijection):
    the lists move whole, each keeps its order."""
    starts = cand["cand_off"][:-1].astype(np.int64)
    sizes = np.diff(cand["cand_off"]).astype(np.int64)
    key_of = np.empty(len(trie_ids), dtype=np.int64)
    key_of[trie_ids] = np.arange(len(trie_ids))
    sizes, starts = sizes[key_of], starts[key_of]
    cand_off = np.zeros(len(trie_ids) + 1, dtype=np.uint64)
    np.cumsum(sizes, out=cand_off[1:])
    rows = np.repeat(starts - cand_off[:-1].astype(np.int64), sizes) + np.arange(int(cand_off[-1]))
    return {"cand_off": cand_off, **{k: v[rows] for k, v in cand.items() if k != "cand_off"}}


# Rank of each flags byte's name kind (label 0 > alias 1 > partial 2 > given name 3): one gather.
_KIND_RANK = np.array([0 if f & layout.FLAG_LABEL else 1 if f & layout.FLAG_ALIAS else
                       2 if f & layout.FLAG_PARTIAL else 3 for f in range(256)], dtype=np.uint8)
_LOG_KIND_WEIGHT = np.log([NAME_KIND_WEIGHT[layout.FLAG_LABEL], NAME_KIND_WEIGHT[layout.FLAG_ALIAS],
                           NAME_KIND_WEIGHT[layout.FLAG_PARTIAL], 1.0])


def _best_name_rows(key_ids: np.ndarray, ents: np.ndarray, flags: np.ndarray):
    """(key ids, entities, flags) with one row per (key, entity), sorted by key then entity: the
    best name kind, and of two names of that kind ("US" and "Us") the one with fewer case
    restrictions (the smaller flags), so the entity is found by either. The rows are packed into one uint64 each and sorted as numbers: three times
    faster than a three-key lexsort and its gathers, at Wikidata's ~300M rows."""
    ent_bits = max(1, int(ents.max()).bit_length()) if len(ents) else 1
    key_bits = max(1, int(key_ids.max()).bit_length()) if len(key_ids) else 1
    if key_bits + ent_bits + 10 > 64:          # beyond any real KB; the slow, general way
        order = np.lexsort((flags, _KIND_RANK[flags], ents, key_ids))
        key_ids, ents, flags = key_ids[order], ents[order], flags[order]
        first = np.ones(len(key_ids), dtype=bool)
        first[1:] = (key_ids[1:] != key_ids[:-1]) | (ents[1:] != ents[:-1])
        return key_ids[first], ents[first], flags[first]
    shift = np.uint64(ent_bits + 10)
    packed = key_ids.astype(np.uint64) << shift
    packed |= ents.astype(np.uint64) << np.uint64(10)
    packed |= _KIND_RANK[flags].astype(np.uint64) << np.uint64(8)
    packed |= flags.astype(np.uint64)
    packed.sort()
    pair = packed >> np.uint64(10)
    first = np.ones(len(packed), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    packed, pair = packed[first], pair[first]
    return ((packed >> shift).astype(np.int64), (pair & np.uint64((1 << ent_bits) - 1)).astype(np.int64),
            (packed & np.uint64(0xFF)).astype(np.uint8))


def _candidates(key_ids: np.ndarray, n_keys: int, ents: np.ndarray, flags: np.ndarray,
                raw_pop: np.ndarray) -> dict[str, np.ndarray]:
    """Per-key candidate lists ordered by prior P(entity | key), one row per (name, entity) in
    ``key_ids``, ``ents`` and ``flags``: offsets by key id, entities, priors and name flags."""
    key_ids, ents, flags = _best_name_rows(key_ids, ents, flags)
    kind_rank = _KIND_RANK[flags]
    # Prior: softmax of popularity within the key, scaled by how the name was given. Given
    # names are a group of their own (their own softmax, listed after the other candidates):
    # they never dilute the prior of the names a key is normally read as.
    # A region's bare name ("Hiroshima" for Hiroshima Prefecture) keeps its prior among all the
    # key's names, but does not count against the others: a region is mostly named in full, and
    # a populous region would otherwise drain the prior of the city or thing whose label the
    # bare name is. (Surnames do count: many people of one surname are evidence that the word
    # names a person, maybe one the KB lacks.)
    logw = raw_pop[ents] + _LOG_KIND_WEIGHT[kind_rank]
    region = (kind_rank == 2) & ((flags & layout.FLAG_REGION) != 0)
    # Rows grouped by (key, given name or not), entities in order inside a group (stable sort):
    # group maxima and sums are then segment reductions, summed in the same order as before.
    group = key_ids * 2 + (kind_rank == 3)
    order = np.argsort(group, kind="stable")
    group, ents, flags, logw, region = group[order], ents[order], flags[order], logw[order], region[order]
    if len(group):
        starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
        sizes = np.diff(np.append(starts, len(group)))
        w = np.exp(logw - np.repeat(np.maximum.reduceat(logw, starts), sizes))
        group_sum = np.repeat(np.add.reduceat(w, starts), sizes)
        rest = group_sum - np.repeat(np.add.reduceat(np.where(region, w, 0.0), starts), sizes)
        prior = np.where(region | (rest <= 0), w / group_sum, w / np.where(rest > 0, rest, 1.0))
    else:
        prior = logw
    # Each key's candidates: other names by descending prior, then given names; the prior as
    # stored (float32), ties by entity. One sort of packed uint64 rows (group, ~prior bits):
    # positive floats order as their bit patterns. 2.5 s instead of a 22 s lexsort at 45M rows.
    stored = prior.astype(np.float32).view(np.uint32).astype(np.uint64)
    order = np.argsort((group.astype(np.uint64) << np.uint64(32)) | (np.uint64(0xFFFFFFFF) - stored),
                       kind="stable")
    group, ents, flags, prior = group[order], ents[order], flags[order], prior[order]
    cand_off = np.zeros(n_keys + 1, dtype=np.uint64)
    np.cumsum(np.bincount(group >> 1, minlength=n_keys), out=cand_off[1:])
    return {"cand_off": cand_off, "cand_ent": ents.astype(np.uint32),
            "cand_prior": prior.astype(np.float32), "cand_flags": flags.astype(np.uint8)}
