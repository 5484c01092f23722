"""Build a KB directory from Wikidata dumps: ``build_kb(sources, out_dir, popularity=...)``.

One streaming pass: the main process reads (and decompresses) lines in chunks and hands them
to a process pool that parses JSON and compacts entities (``linkers.kb.dump``); the main
process appends records to ``entities.bin`` and collects alias keys, sitelink counts and item
edges (edges go to a temporary file, not the heap). Then array passes with numpy: QID index,
in-degree, popularity, alias priors, the alias trie and the out-link graph.

Memory at Wikidata scale (~110M entities, ~30M English alias keys, ~1B item edges): the alias
lists (~3-4 GB of Python objects at 30M), the QID seen-array (1 byte per QID number, ~130 MB), and edge arrays streamed in
blocks. Malformed lines are counted and reported with line numbers (``strict`` makes the first
one fatal). The result is written to a temporary directory next to ``out_dir`` and renamed
into place, so a failed build never replaces a good KB.
"""
from __future__ import annotations

import hashlib
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import marisa_trie
import numpy as np
import orjson

from ..errors import DumpError, KBError
from ..text import alias_key, case_class
from . import layout
from .dump import compact_entity, iter_entity_lines, parse_entity_line

CHUNK_LINES = 512
# Bump when the build logic changes what a KB contains: it is part of every kb_version, so
# results cached under an older build are never served for a new one.
BUILD_LOGIC = 8
HUMAN = "Q5"
# Weight of a name kind in the alias prior: an exact label beats an alias beats a surname.
NAME_KIND_WEIGHT = {layout.FLAG_LABEL: 1.0, layout.FLAG_ALIAS: 0.6, layout.FLAG_PARTIAL: 0.25}
MAX_ALIAS_CHARS = 120
# Claims that say what kind of thing an entity is, not what it is related to: no coherence edge.
NOT_RELATED = frozenset({"P31", "P279"})
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
    if label:
        # "Córdoba Province" is mostly written "Cordoba": a region by its bare name.
        for suffix in ADMIN_SUFFIXES:
            if label.endswith(suffix) and len(label) > len(suffix) + 2:
                yield label[: -len(suffix)], layout.FLAG_PARTIAL
                break
    if HUMAN in record["t"] and label:
        # People are written by surname ("Macron"). Given names were tried too: on the public
        # benchmarks they cost more than they bring (README: evaluation).
        parts = label.split()
        if len(parts) >= 2 and parts[-1][:1].isupper() and len(parts[-1]) >= 3 and parts[-1].isalpha():
            yield parts[-1], layout.FLAG_PARTIAL


def _parse_chunk(args: tuple[list[tuple[int, bytes]], tuple[str, ...]]) -> tuple[list, list[str], bytes]:
    """Worker: parse and compact a chunk of entity lines."""
    lines, languages = args
    out, errors = [], []
    digest = hashlib.blake2b(digest_size=16)
    for lineno, line in lines:
        try:
            compacted = compact_entity(parse_entity_line(line), languages)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            errors.append(f"line {lineno}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        if compacted is None:
            continue
        record, targets = compacted
        blob = orjson.dumps(record)
        digest.update(blob)
        names = []
        for surface, kind in _names(record):
            if len(surface) > MAX_ALIAS_CHARS:
                continue
            key = alias_key(surface)
            if key:
                case = case_class(surface)
                flags = kind | (layout.FLAG_ACRONYM if case == 2 else layout.FLAG_LOWER if case == 0 else 0)
                names.append((key, flags))
        kept = sorted({int(v["v"][1:]) for pid, vals in record["c"].items() if pid not in NOT_RELATED
                       for v in vals if v["k"] == "i"})
        out.append((int(record["id"][1:]), blob, names, record["sl"],
                    [int(t[1:]) for t in targets], kept))
    return out, errors, digest.digest()


def _chunks(sources: Iterable[str], size: int) -> Iterator[list[tuple[int, bytes]]]:
    for source in sources:
        it = iter_entity_lines(source)
        while True:
            chunk = list(islice(it, size))
            if not chunk:
                break
            yield chunk


def _read_popularity(path: str) -> dict[int, float]:
    from .dump import open_dump
    scores: dict[int, float] = {}
    with open_dump(path) as fh:
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
    t0 = time.perf_counter()
    workers = (os.cpu_count() or 1) if workers is None else workers
    # duplicates across sources: one byte per QID number (~130 MB at Wikidata's QID range)
    seen = np.zeros(1 << 20, dtype=bool)
    qid_nums: list[int] = []
    sitelinks: list[int] = []
    offsets = [0]
    alias_keys: list[str] = []
    alias_ent: list[int] = []
    alias_flags: list[int] = []
    kept_edges = open(tmp / "edges.tmp", "wb")     # (src internal id, target QID number) pairs
    all_targets = open(tmp / "targets.tmp", "wb")  # every item target, for in-degree
    malformed: list[str] = []
    n_malformed = duplicates = 0
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{layout.FORMAT}|{BUILD_LOGIC}|{','.join(languages)}".encode())
    bar = _Progress(progress)

    tasks = ((chunk, languages) for chunk in _chunks(sources, CHUNK_LINES))
    pool = mp.get_context("fork" if sys.platform != "win32" else "spawn").Pool(workers) if workers > 1 else None
    results = pool.imap(_parse_chunk, tasks, chunksize=2) if pool else map(_parse_chunk, tasks)
    try:
        with open(tmp / layout.ENTITIES, "wb", buffering=1 << 22) as ent_out:
            for entities, errors, chunk_digest in results:
                if errors:
                    if strict:
                        raise DumpError(f"malformed dump line ({errors[0]})", line=errors[0])
                    n_malformed += len(errors)
                    malformed.extend(errors[: max(0, 20 - len(malformed))])
                digest.update(chunk_digest)
                for num, blob, names, sl, targets, kept in entities:
                    if num >= len(seen):
                        seen = np.concatenate([seen, np.zeros(max(num + 1, 2 * len(seen)) - len(seen), dtype=bool)])
                    if seen[num]:
                        duplicates += 1
                        continue
                    seen[num] = True
                    eid = len(qid_nums)
                    qid_nums.append(num)
                    sitelinks.append(sl)
                    ent_out.write(blob)
                    offsets.append(offsets[-1] + len(blob))
                    for key, flags in names:
                        alias_keys.append(key)
                        alias_ent.append(eid)
                        alias_flags.append(flags)
                    if kept:
                        pairs = np.empty((len(kept), 2), dtype=np.uint32)
                        pairs[:, 0] = eid
                        pairs[:, 1] = kept
                        kept_edges.write(pairs.tobytes())
                    if targets:
                        all_targets.write(np.asarray(targets, dtype=np.uint32).tobytes())
                bar.update(len(entities))
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
        kept_edges.close()
        all_targets.close()

    n = len(qid_nums)
    if n == 0:
        raise KBError("no entities found in the dump(s)", sources=list(sources))
    nums = np.asarray(qid_nums, dtype=np.uint32)
    order = np.argsort(nums, kind="stable").astype(np.uint32)
    sorted_nums = nums[order]

    def to_internal(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(sorted_nums, targets)
        pos[pos >= n] = 0
        found = sorted_nums[pos] == targets
        return order[pos[found]], found

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
        for i, num in enumerate(qid_nums):
            s = scores.get(num)
            if s:
                pr[i] = s
        raw_pop += 0.5 * np.log1p(pr * 1e7)
        digest.update(Path(popularity).name.encode() + str(len(scores)).encode())
    pop = (raw_pop / raw_pop.max()) if raw_pop.max() > 0 else raw_pop

    cand = _alias_index(tmp, alias_keys, np.asarray(alias_ent, dtype=np.uint32),
                        np.asarray(alias_flags, dtype=np.uint8), raw_pop)
    del alias_keys, alias_ent, alias_flags

    edges = np.fromfile(tmp / "edges.tmp", dtype=np.uint32).reshape(-1, 2)
    os.unlink(tmp / "edges.tmp")
    internal, found = to_internal(edges[:, 1].copy())
    src = edges[found, 0]
    pairs = np.unique((src.astype(np.uint64) << np.uint64(32)) | internal.astype(np.uint64))
    nbr_src = (pairs >> np.uint64(32)).astype(np.uint32)
    nbr_ent = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    nbr_off = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(np.bincount(nbr_src, minlength=n), out=nbr_off[1:])

    arrays = {
        "entities_off": np.asarray(offsets, dtype=np.uint64), "qids": sorted_nums, "qids_order": order,
        "pop": pop.astype(np.float32), "indeg": np.minimum(indeg, 2**32 - 1).astype(np.uint32),
        "nbr_off": nbr_off, "nbr_ent": nbr_ent, **cand,
    }
    for name, (filename, dtype) in layout.ARRAYS.items():
        arrays[name].astype(dtype, copy=False).tofile(tmp / filename)

    seconds = time.perf_counter() - t0
    kb_version = f"{n}-{digest.hexdigest()[:12]}"
    report = BuildReport(kb_version=kb_version, entities=n, alias_keys=len(cand["cand_off"]) - 1,
                         candidates=len(cand["cand_ent"]), edges=len(nbr_ent), malformed=n_malformed,
                         duplicates=duplicates, seconds=seconds, malformed_examples=malformed)
    meta = {"format": layout.FORMAT, "kb_version": kb_version, "languages": list(languages),
            "sources": [os.path.basename(s) for s in sources],
            "popularity": os.path.basename(popularity) if popularity else None,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build": {"entities": n, "alias_keys": report.alias_keys, "candidates": report.candidates,
                      "edges": report.edges, "malformed_lines": n_malformed,
                      "malformed_examples": malformed, "duplicates": duplicates,
                      "seconds": round(seconds, 2), "workers": workers,
                      "entities_per_second": round(report.entities_per_second, 1)}}
    (tmp / layout.META).write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return report


def _alias_index(tmp: Path, keys: list[str], ents: np.ndarray, flags: np.ndarray,
                 raw_pop: np.ndarray) -> dict[str, np.ndarray]:
    """Alias trie + per-key candidate lists ordered by prior P(entity | key)."""
    trie = marisa_trie.Trie(keys)
    trie.save(str(tmp / layout.TRIE))
    key_ids = np.fromiter((trie[k] for k in keys), dtype=np.int64, count=len(keys))
    # One row per (key, entity): keep the best name kind (label > alias > surname).
    kind_rank = np.where(flags & layout.FLAG_LABEL, 0, np.where(flags & layout.FLAG_ALIAS, 1, 2))
    order = np.lexsort((kind_rank, ents, key_ids))
    key_ids, ents, flags, kind_rank = key_ids[order], ents[order], flags[order], kind_rank[order]
    first = np.ones(len(key_ids), dtype=bool)
    first[1:] = (key_ids[1:] != key_ids[:-1]) | (ents[1:] != ents[:-1])
    key_ids, ents, flags, kind_rank = key_ids[first], ents[first], flags[first], kind_rank[first]

    weight_of_kind = np.array([NAME_KIND_WEIGHT[layout.FLAG_LABEL], NAME_KIND_WEIGHT[layout.FLAG_ALIAS],
                               NAME_KIND_WEIGHT[layout.FLAG_PARTIAL]])
    # Prior: softmax of popularity within the key, scaled by how the name was given.
    logw = raw_pop[ents] + np.log(weight_of_kind[kind_rank])
    n_keys = len(trie)
    key_max = np.full(n_keys, -np.inf)
    np.maximum.at(key_max, key_ids, logw)
    w = np.exp(logw - key_max[key_ids])
    key_sum = np.bincount(key_ids, weights=w, minlength=n_keys)
    prior = w / key_sum[key_ids]
    # Order each key's candidates by descending prior.
    order = np.lexsort((-prior, key_ids))
    key_ids, ents, flags, prior = key_ids[order], ents[order], flags[order], prior[order]
    cand_off = np.zeros(n_keys + 1, dtype=np.uint64)
    np.cumsum(np.bincount(key_ids, minlength=n_keys), out=cand_off[1:])
    return {"cand_off": cand_off, "cand_ent": ents.astype(np.uint32),
            "cand_prior": prior.astype(np.float32), "cand_flags": flags.astype(np.uint8)}
