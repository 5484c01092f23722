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
import contextlib
import io
import re
import zlib
from typing import Iterator

import orjson
from isal import igzip
from isal.isal_zlib import IsalError

from ..errors import DumpError

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
# Claims that say what kind of thing an entity is, not what it is related to: no coherence edge.
NOT_RELATED = frozenset({"P31", "P279"})
# Qualifiers kept on a value: its key in the compact record and the property it comes from.
QUALIFIER_TIMES = (("s", "P580"), ("e", "P582"), ("p", "P585"))
# Dates repeat across millions of claims: (time, precision) -> ISO date, cleared when full.
TIME_CACHE_SIZE = 200_000
_NO_SNAKS = ()
_time_cache: dict[tuple, str] = {}
#: a Wikidata item id, the one pattern of the project (the service and the workers import it)
QID_PATTERN = re.compile(r"^Q[1-9][0-9]{0,11}$")


HUMAN = "Q5"
# Claims only a person has (birth, death, occupation, citizenship, family, given/family name).
PERSON_CLAIMS = frozenset({"P569", "P570", "P19", "P20", "P106", "P27", "P26", "P22", "P25", "P40",
                           "P735", "P734", "P1412"})
# What a person's description says last ("English guitarist", "American actress").
OCCUPATIONS = frozenset("""
player actor actress footballer politician cyclist producer director racer screenwriter artist
historian engineer writer cinematographer musician coach composer manager astronaut singer
designer physicist comedian mathematician diplomat journalist archaeologist chemist author model
philologist architect philosopher painter scientist photographer professor businessman
businesswoman economist cosmonaut researcher activist astronomer filmmaker songwriter
singer-songwriter executive teacher poet academic skater soldier lawyer jurist theologian skier
novelist athlete playwright critic dancer biologist commander educator sculptor physician priest
linguist pianist entrepreneur philanthropist wrestler sociologist scholar conductor biochemist
personality presenter rapper guitarist drummer bassist vocalist keyboardist saxophonist trumpeter
violinist boxer golfer swimmer sprinter jockey cricketer psychologist banker inventor investor
socialite broadcaster explorer sailor admiral monarch emperor empress king queen prince princess
pope cardinal bishop saint
""".split())
_WORD_RE = re.compile(r"[\w-]+")


def is_person(record: dict) -> bool:
    """A human: typed Q5, or, when the record has no type at all (subsets often drop P31), a
    person's claims or a description ending in an occupation ("British guitarist")."""
    if HUMAN in record["t"]:
        return True
    if record["t"]:
        return False
    if not PERSON_CLAIMS.isdisjoint(record["c"]):
        return True
    words = _WORD_RE.findall(record["d"].lower())
    return bool(words) and words[-1] in OCCUPATIONS


def open_dump(path: str) -> io.BufferedIOBase:
    """Open a dump file for binary reading (lines or blocks), decompressing .gz/.bz2 by extension.

    The compressed files are not wrapped in another buffer: they buffer lines themselves, and a
    second copy of every block costs a third of the decompression speed. Gzip is read with
    ISA-L (``isal.igzip``, same API and errors as ``gzip``): 3.5x faster than zlib, and the
    build decompresses in one process, so this is the part no worker can share.
    """
    if path.endswith(".gz"):
        return igzip.open(path, "rb")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb", buffering=1 << 20)


@contextlib.contextmanager
def read_errors(path: str) -> Iterator[None]:
    """Reading ``path``: a truncated or corrupt compressed file is a ``DumpError`` naming the
    file (exit 4), not an ``EOFError`` traceback (a download cut short is the usual cause)."""
    try:
        yield
    except EOFError:
        raise DumpError(f"{path}: the compressed file ends early (truncated, e.g. an "
                        "interrupted download)", path=path) from None
    except (IsalError, zlib.error, OSError) as exc:   # BadGzipFile, bz2 "Invalid data stream"
        raise DumpError(f"{path}: cannot be read as a {path.rsplit('.', 1)[-1]} dump ({exc})",
                        path=path) from None


def entity_json(line: bytes) -> bytes | None:
    """The entity JSON on one dump line (either layout); None for blank lines and the brackets."""
    line = line.strip()
    if not line or line == b"[" or line == b"]":
        return None
    return line[:-1] if line.endswith(b",") else line


def is_qid(value: str) -> bool:
    return bool(QID_PATTERN.match(value))


def recency(v: dict) -> tuple:
    """Sort key of a claim value: preferred first, then the most recent."""
    return v.get("r", 0), v.get("p") or v.get("s") or ""


def _time_value(value: dict) -> str | None:
    t = value.get("time")
    if not t:
        return None
    return iso_date(t, value.get("precision", 11))


def iso_date(t: str, precision: int) -> str:
    """``_iso_date``, memoised: dates repeat across millions of claims."""
    try:
        return _time_cache[t, precision]
    except KeyError:
        pass
    except TypeError:               # unhashable (malformed) values: computed, not memoised
        return _iso_date(t, precision)
    iso = _iso_date(t, precision)
    if len(_time_cache) >= TIME_CACHE_SIZE:
        _time_cache.clear()
    _time_cache[t, precision] = iso
    return iso


def _iso_date(t: str, precision: int) -> str:
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


def _first_time(snaks: list) -> str | None:
    """The first time value among qualifier snaks."""
    for snak in snaks:
        if snak.get("snaktype") == "value":
            dv = snak.get("datavalue") or {}
            if dv.get("type") == "time":        # the common case, without building a value dict
                iso = _time_value(dv.get("value"))
                if iso:
                    return iso
                continue
        _snak_value(snak)                       # other kinds: same checks (and errors) as a value
    return None


def compact_claims(claims: dict) -> tuple[dict, list[str]]:
    """(kept claims by property, every item QID any claim points at — for in-degree)."""
    kept: dict[str, list[dict]] = {}
    targets: list[str] = []
    for pid, statements in claims.items():
        values = []
        skipped = pid in SKIPPED_PROPERTIES
        for st in statements:
            rank = st.get("rank")
            if rank == "deprecated":
                continue
            mainsnak = st.get("mainsnak") or {}
            val = _snak_value(mainsnak)
            if val is None:
                continue
            kind = val["k"]
            if kind == "i":
                targets.append(val["v"])
                if skipped:
                    continue
            elif kind == "s" and mainsnak.get("datatype") == "external-id":
                continue  # identifiers in other databases: not facts a reader wants
            quals = st.get("qualifiers")
            if quals:
                for key, qpid in QUALIFIER_TIMES:
                    snaks = quals.get(qpid, _NO_SNAKS)
                    if snaks is not _NO_SNAKS:
                        t = _first_time(snaks)
                        if t:
                            val[key] = t
            if rank == "preferred":
                val["r"] = 1
            values.append(val)
        if len(values) > MAX_VALUES_PER_PROPERTY:
            # keep preferred and most recent values (a population series can have hundreds)
            values.sort(key=recency, reverse=True)
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
