"""Printing benchmark rows: plain-text tables for people (one per benchmark), or JSON Lines."""
from __future__ import annotations

import sys

import orjson


def print_rows(rows: list[dict], as_json: bool = False, out=None,
               context: dict[str, str] | None = None) -> None:
    """``context``: what the numbers depend on besides the code (the interpreter, the linker's
    mode), a line each before the tables, or fields of every JSON row."""
    out = out or sys.stdout
    if as_json:
        for row in rows:
            out.write(orjson.dumps({**row, **(context or {})}).decode() + "\n")
        return
    for name, value in (context or {}).items():
        out.write(f"{name}: {value}\n")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row.get("bench", ""), []).append(row)
    for i, group in enumerate(groups.values()):
        if i:
            out.write("\n")
        _print_table(group, out)


def _print_table(rows: list[dict], out) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def python_context() -> dict[str, str]:
    """The CPython build the benchmark ran on: the same code is 1.3-1.6x faster on one build
    than on another (``linkers.compiled.interpreter``)."""
    from linkers import compiled
    return {"python": compiled.interpreter()}


def print_linking_rows(rows: list[dict], as_json: bool = False, out=None) -> None:
    """``print_rows`` for a benchmark of linking: its numbers depend on the interpreter and on
    whether the linking core runs compiled (setup.py's Cython build) or pure Python (~1.2-1.3x),
    so both are printed first, or are each JSON row's ``python`` and ``linker`` fields."""
    from linkers import compiled
    print_rows(rows, as_json=as_json, out=out,
               context={**python_context(), "linker": compiled.describe()})

