"""Knowledge base: the protocol the linker needs, the on-disk store, the build, the starter KB."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

from ..errors import KBError
from .build import BuildReport, build_kb
from .overlay import OverlayKB, open_overlay
from .starter import STARTER_DUMP, ensure_starter_kb, starter_kb_path
from .store import DiskKB


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
    def superclasses(self, qid: str) -> frozenset[str]: ...
    def fact_card(self, qid: str, as_of: str | None = None) -> dict | None: ...
    def iter_qids(self) -> Iterator[str]: ...
    def lookup(self, surface: str, limit: int = 10) -> list: ...
    def close(self) -> None: ...


def kb_dir(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """The KB directory ``open_kb`` opens; with no path, the starter KB shipped in the repo, built
    on first use (``linkers.kb.starter``: safe from any thread and from processes starting together)."""
    if path:
        p = Path(path)
        if not p.exists():
            raise KBError(f"KB directory not found: {p}", path=str(p))
        return p
    return ensure_starter_kb(cache_dir)


def open_kb(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
            overlay: bool = True) -> "DiskKB | OverlayKB":
    """Open a KB directory; with no path, the starter KB (see ``kb_dir``).

    With changes in the directory's overlay (``factlink kb add``), they are applied on top
    (``OverlayKB``); ``overlay=False`` opens the base alone.
    """
    directory = kb_dir(path, cache_dir)
    base = DiskKB(directory)
    return open_overlay(base, directory) if overlay else base


__all__ = ["KnowledgeBase", "DiskKB", "OverlayKB", "kb_dir", "BuildReport", "build_kb", "open_kb",
           "starter_kb_path", "ensure_starter_kb", "STARTER_DUMP"]
