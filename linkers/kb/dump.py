"""Reading Wikidata entity dumps, and reducing one entity to the compact record the KB keeps.

Accepted inputs: the official JSON dump layout (``[`` line, one entity per line ending in
``,``, ``]`` line) and JSON Lines of the same objects (what ``wbgetentities`` returns, one per
line), plain, ``.gz`` or ``.bz2``. Lines are streamed; nothing holds the dump in memory.

The compact record (stored as one orjson object per entity)::

    {"id": "Q7184", "l": "NATO", "d": "intergovernmental military alliance",
     "a": ["North Atlantic Treaty Organization", ...], "w": "NATO" (enwiki title),
     "sl": 250 (sitelink count), "t": ["Q1127126", ...] (P31),
     "c": {"P17": [{"k": "i", "v": "Q142", "s": "2017-05-14", "e": null, "p": null}, ...]}}

Claim kinds ``k``: i(tem) with v a QID, t(ime) with v an ISO date truncated to its precision,
q(uantity) with v a number and optional u(nit) QID, c(oordinate) with v [lat, lon],
s(tring) (also monolingual text). Qualifiers kept: P580 start (s), P582 end (e), P585 point
in time (p). Deprecated statements are dropped; preferred ones are flagged ``r: 1``.
"""
from __future__ import annotations

import bz2
import gzip
import io
import re
from typing import Iterator

import orjson

# Item-valued properties never kept: huge fan-out, useless to a news reader's card or coherence.
SKIPPED_PROPERTIES = frozenset({
    "P2860",  # cites work
    "P1433",  # published in
    "P50",    # author (of scholarly articles)
    "P921",   # main subject (of scholarly articles)
    "P1343",  # described by source
    "P5008",  # on focus list of Wikimedia project
    "P6104",  # maintained by WikiProject
    "P1424",  # topic's main template
    "P910",   # topic's main category
    "P373",   # Commons category
    "P935",   # Commons gallery
    "P1151",  # topic's main Wikimedia portal
    "P8989",  # category for the view of the item
})
MAX_VALUES_PER_PROPERTY = 64
_QID_RE = re.compile(r"^Q[1-9][0-9]*$")


def open_dump(path: str) -> io.BufferedReader:
    """Open a dump file for binary line reading, decompressing .gz/.bz2 by extension."""
    if path.endswith(".gz"):
        return io.BufferedReader(gzip.open(path, "rb"), buffer_size=1 << 20)
    if path.endswith(".bz2"):
        return io.BufferedReader(bz2.open(path, "rb"), buffer_size=1 << 20)
    return open(path, "rb", buffering=1 << 20)


def iter_entity_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, entity JSON bytes) for every entity line; skips the array brackets."""
    with open_dump(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line in (b"[", b"]"):
                continue
            if line.endswith(b","):
                line = line[:-1]
            yield lineno, line


def is_qid(value: str) -> bool:
    return bool(_QID_RE.match(value))


def _time_value(value: dict) -> str | None:
    t = value.get("time")
    if not t:
        return None
    precision = value.get("precision", 11)
    sign = "-" if t.startswith("-") else ""
    date = t.lstrip("+-").split("T", 1)[0]
    year, month, day = (date.split("-") + ["00", "00"])[:3]
    year = year.lstrip("0") or "0"
    if precision >= 11 and day != "00":
        return f"{sign}{year.zfill(4)}-{month}-{day}"
    if precision >= 10 and month != "00":
        return f"{sign}{year.zfill(4)}-{month}"
    return f"{sign}{year.zfill(4)}"


def _snak_value(snak: dict) -> dict | None:
    if snak.get("snaktype") != "value":
        return None
    dv = snak.get("datavalue") or {}
    kind, value = dv.get("type"), dv.get("value")
    if kind == "wikibase-entityid":
        qid = value.get("id") or (f"Q{value['numeric-id']}" if value.get("entity-type") == "item" else None)
        return {"k": "i", "v": qid} if qid and qid.startswith("Q") else None
    if kind == "time":
        iso = _time_value(value)
        return {"k": "t", "v": iso} if iso else None
    if kind == "quantity":
        try:
            amount = float(value["amount"])
        except (KeyError, TypeError, ValueError):
            return None
        out = {"k": "q", "v": int(amount) if amount.is_integer() else amount}
        unit = value.get("unit", "1")
        if unit and unit != "1":
            out["u"] = unit.rsplit("/", 1)[-1]
        return out
    if kind == "globecoordinate":
        return {"k": "c", "v": [value.get("latitude"), value.get("longitude")]}
    if kind == "string":
        return {"k": "s", "v": value}
    if kind == "monolingualtext":
        return {"k": "s", "v": value.get("text", "")}
    return None


def _qualifier_time(qualifiers: dict, pid: str) -> str | None:
    for snak in qualifiers.get(pid, ()):
        val = _snak_value(snak)
        if val and val["k"] == "t":
            return val["v"]
    return None


def compact_claims(claims: dict) -> tuple[dict, list[str]]:
    """(kept claims by property, every item QID any claim points at — for in-degree)."""
    kept: dict[str, list[dict]] = {}
    targets: list[str] = []
    for pid, statements in claims.items():
        values = []
        for st in statements:
            if st.get("rank") == "deprecated":
                continue
            val = _snak_value(st.get("mainsnak") or {})
            if val is None:
                continue
            if val["k"] == "i":
                targets.append(val["v"])
                if pid in SKIPPED_PROPERTIES:
                    continue
            if val["k"] == "s" and (st.get("mainsnak", {}).get("datatype") == "external-id"):
                continue  # identifiers in other databases: not facts a reader wants
            quals = st.get("qualifiers") or {}
            if quals:
                for key, qpid in (("s", "P580"), ("e", "P582"), ("p", "P585")):
                    t = _qualifier_time(quals, qpid)
                    if t:
                        val[key] = t
            if st.get("rank") == "preferred":
                val["r"] = 1
            values.append(val)
        if len(values) > MAX_VALUES_PER_PROPERTY:
            # keep preferred and most recent values (a population series can have hundreds)
            values.sort(key=lambda v: (v.get("r", 0), v.get("p") or v.get("s") or ""), reverse=True)
            del values[MAX_VALUES_PER_PROPERTY:]
        if values:
            kept[pid] = values
    return kept, targets


def _lang_value(block: dict, languages: tuple[str, ...]) -> str:
    for lang in languages:
        v = block.get(lang)
        if v:
            return v.get("value", "")
    return ""


def compact_entity(raw: dict, languages: tuple[str, ...] = ("en",)) -> tuple[dict, list[str]] | None:
    """The compact KB record of one entity and its item targets; None for non-items/redirects."""
    qid = raw.get("id", "")
    if raw.get("type", "item") != "item" or not is_qid(qid):
        return None
    labels = raw.get("labels") or {}
    label = _lang_value(labels, languages)
    aliases: list[str] = []
    seen = {label}
    for lang in languages:
        if lang != languages[0]:
            other = (labels.get(lang) or {}).get("value")
            if other and other not in seen:
                seen.add(other)
                aliases.append(other)
        for a in (raw.get("aliases") or {}).get(lang, ()):
            v = a.get("value")
            if v and v not in seen:
                seen.add(v)
                aliases.append(v)
    sitelinks = raw.get("sitelinks") or {}
    enwiki = (sitelinks.get("enwiki") or {}).get("title", "")
    claims, targets = compact_claims(raw.get("claims") or {})
    types = [v["v"] for v in claims.get("P31", ()) if v["k"] == "i"]
    record = {"id": qid, "l": label, "d": _lang_value(raw.get("descriptions") or {}, languages),
              "a": aliases, "w": enwiki, "sl": len(sitelinks), "t": types, "c": claims}
    return record, targets


def parse_entity_line(line: bytes) -> dict:
    """Parse one entity line (raises ValueError on malformed JSON or a non-object)."""
    obj = orjson.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("entity line is not a JSON object")
    return obj
