"""Fast paths of linking's hot loops, each kept beside the pure-Python reference it replaces.

A fast path gives the output of its reference: the same mentions, entities, labels and
relations, and the same numbers (every fast path so far adds the same numbers in the same
order, so they are bit-identical; ``tests/test_fastpath.py`` links every public benchmark text
and the news suite both ways and compares, allowing 1e-9 on numbers for a fast path that would
sum in another order). The module that owns a hot function keeps the original under a
``*_reference`` name and registers the pair with ``keep_reference``; ``reference_paths()``
puts every original back for a while, which is how the test and ``python -m bench.linking
--compare-reference`` run the reference in the same process as the fast path.

numpy only: no compiled kernel, so ``pip install -e .`` needs no compiler.
"""
from __future__ import annotations

import math
import types
from contextlib import contextmanager
from typing import Iterator

import numpy as np

# (owner, attribute, reference): what ``reference_paths`` swaps in
_REFERENCES: list[tuple[object, str, object]] = []


def keep_reference(owner, name: str, reference) -> None:
    """Record that ``owner.name`` is a fast path of ``reference`` (same output)."""
    _REFERENCES.append((owner, name, reference))


def compiled_or(scan, fallback):
    """``scan`` where its module is compiled (Cython makes it a builtin function), else
    ``fallback``: a loop over characters is fast only in C, and in pure Python the regex or the
    ``str`` methods it replaces are faster, with the same answers (``tests/test_fastpath.py``
    compares the two)."""
    return fallback if isinstance(scan, types.FunctionType) else scan


@contextmanager
def reference_paths() -> Iterator[None]:
    """Link with the pure-Python references instead of the fast paths (not thread-safe: for
    tests and benchmarks)."""
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ref in _REFERENCES]
    try:
        for owner, name, reference in _REFERENCES:
            setattr(owner, name, reference)
        yield
    finally:
        for owner, name, fast in saved:
            setattr(owner, name, fast)
