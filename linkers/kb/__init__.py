"""Knowledge base: the protocol the linker needs, the on-disk store, the build, the starter KB."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

from ..errors import KBError
from .build import BUILD_LOGIC, BuildReport, build_kb
from .overlay import OverlayKB, open_overlay
from .store import DiskKB

STARTER_DUMP = Path(__file__).resolve().parent.parent / "starter" / "entities.json"


@runtime_checkable
class KnowledgeBase(Protocol):
    """What linking stages need from a KB: ``DiskKB`` (the memory-mapped build) and
    ``OverlayKB`` (a base plus the entities added or changed since) implement it."""

    version: str

    def __len__(self) -> int: ...
    def __contains__(self, qid: object) -> bool: ...
    def internal_id(self, qid: str) -> int | None: ...
    def record(self, eid: int) -> dict: ...
    def entity(self, qid: str) -> dict | None: ...
    def popularity(self, eid: int) -> float: ...
    def neighbours(self, eid: int): ...
    def neighbour_pairs(self, eids): ...
    def has_prefix(self, key: str) -> bool: ...
    def has_key(self, key: str) -> bool: ...
    def label(self, qid: str) -> str | None: ...
    def in_degree(self, eid: int) -> int: ...
    def in_degrees(self, eids): ...
    def candidates(self, key: str, limit: int | None = None) -> list[tuple[int, float, int]]: ...
    def fact_card(self, qid: str, as_of: str | None = None) -> dict | None: ...
    def iter_qids(self) -> Iterator[str]: ...
    def lookup(self, surface: str, limit: int = 10) -> list: ...
    def close(self) -> None: ...


def starter_kb_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the starter KB is built: a cache directory keyed by the starter dump's content and
    the build logic (a KB built by older code is not reused)."""
    if not STARTER_DUMP.is_file():
        raise KBError(f"the starter KB dump is missing from the package: {STARTER_DUMP}")
    digest = hashlib.sha256(STARTER_DUMP.read_bytes()).hexdigest()[:12]
    base = Path(cache_dir) if cache_dir else Path(os.path.expanduser("~")) / ".cache" / "factlink"
    return base / f"starter-kb-{digest}-b{BUILD_LOGIC}"


def kb_dir(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """The KB directory ``open_kb`` opens; with no path, the starter KB (built on first use)."""
    if path:
        p = Path(path)
        if not p.exists():
            raise KBError(f"KB directory not found: {p}", path=str(p))
        return p
    target = starter_kb_path(cache_dir)
    if not (target / "meta.json").is_file():
        # Concurrent first starts each build into their own temp dir; the rename is atomic.
        build_kb([str(STARTER_DUMP)], str(target), workers=1, progress=False)
    return target


def open_kb(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
            overlay: bool = True) -> "DiskKB | OverlayKB":
    """Open a KB directory; with no path, the starter KB shipped in the repo (built on first use).

    With changes in the directory's overlay (``factlink kb add``), they are applied on top
    (``OverlayKB``); ``overlay=False`` opens the base alone.
    """
    directory = kb_dir(path, cache_dir)
    base = DiskKB(directory)
    return open_overlay(base, directory) if overlay else base


__all__ = ["KnowledgeBase", "DiskKB", "OverlayKB", "kb_dir", "BuildReport", "build_kb", "open_kb", "starter_kb_path", "STARTER_DUMP"]
