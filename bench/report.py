"""Printing benchmark rows: plain-text tables for people (one per benchmark), or JSON Lines."""
from __future__ import annotations

import sys

import orjson


def print_rows(rows: list[dict], as_json: bool = False, out=None) -> None:
    out = out or sys.stdout
    if as_json:
        for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
        return
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


def print_linking_rows(rows: list[dict], as_json: bool = False, out=None) -> None:
    """``print_rows`` for a benchmark of linking: its numbers depend on whether the linking core
    runs compiled (setup.py's Cython build) or pure Python (~1.2-1.3x), so the mode is printed
    first, or is each JSON row's ``linker`` field."""
    from linkers import compiled
    if as_json:
        rows = [{**row, "linker": compiled.describe()} for row in rows]
    else:
        (out or sys.stdout).write(f"linker: {compiled.describe()}\n")
    print_rows(rows, as_json=as_json, out=out)

