"""Fact cards: the few facts a reader wants about an entity, true as of the article's date.

The kind of entity picks the facts (a person: offices, party, citizenship, birth; a place:
country, capital, leaders, population, coordinates; an organisation: founded, headquarters,
membership, leaders; an event: date, place, participants). Each value carries ``current``:
with an ``as_of`` date, a value whose start/end qualifiers exclude that date is not current,
and of values stamped with a point in time (populations) only the latest one not after
``as_of`` is current. Without ``as_of``, a value is current unless it has an end date.
"""
from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

from .kb.dump import compact_entity, is_person, is_qid

# Labels of the properties cards and relations show (the KB holds items, not properties).
PROPERTY_LABELS = {
    "P6": "head of government", "P17": "country", "P19": "place of birth", "P20": "place of death",
    "P22": "father", "P25": "mother", "P26": "spouse", "P27": "country of citizenship",
    "P30": "continent", "P31": "instance of", "P35": "head of state", "P36": "capital",
    "P37": "official language", "P38": "currency", "P39": "position held", "P40": "child",
    "P47": "shares border with", "P54": "member of sports team", "P69": "educated at",
    "P102": "member of political party", "P106": "occupation", "P108": "employer",
    "P112": "founded by", "P122": "basic form of government", "P127": "owned by",
    "P131": "located in the administrative territorial entity", "P150": "contains the administrative territorial entity",
    "P159": "headquarters location", "P166": "award received", "P169": "chief executive officer",
    "P176": "manufacturer", "P194": "legislative body", "P206": "located in or next to body of water",
    "P276": "location", "P279": "subclass of", "P286": "head coach", "P355": "has subsidiary",
    "P361": "part of", "P452": "industry", "P463": "member of", "P488": "chairperson",
    "P527": "has part(s)", "P530": "diplomatic relation", "P569": "date of birth",
    "P570": "date of death", "P571": "inception", "P576": "dissolved, abolished or demolished date",
    "P580": "start time", "P582": "end time", "P585": "point in time", "P625": "coordinate location",
    "P641": "sport", "P710": "participant", "P749": "parent organization", "P793": "significant event",
    "P856": "official website", "P1001": "applies to jurisdiction", "P1082": "population",
    "P1376": "capital of", "P1830": "owner of", "P2046": "area", "P2131": "nominal GDP",
    "P3075": "official religion", "P1344": "participant in", "P1313": "office held by head of government",
    "P1906": "office held by head of state", "P2388": "office held by head of the organization",
    "P2389": "organization directed by the office or position", "P1037": "director / manager",
    "P807": "separated from", "P1365": "replaces", "P1366": "replaced by", "P155": "follows",
    "P156": "followed by", "P1589": "lowest point", "P610": "highest point", "P1412": "languages spoken",
    "P136": "genre", "P495": "country of origin", "P407": "language of work or name",
    "P123": "publisher", "P1448": "official name",
}
# The other item-valued properties a relation between two entities of an article can go
# through (Wikidata's English labels): without a label a relation showed its bare PID
# ("P551"). ``tests/test_facts.py`` checks that every such property used by ten or more items
# of the shared Wikidata subset has one.
PROPERTY_LABELS.update({
    "P21": "sex or gender", "P50": "author", "P57": "director", "P78": "top-level Internet domain",
    "P84": "architect", "P85": "anthem", "P101": "field of work", "P103": "native language",
    "P113": "airline hub", "P114": "airline alliance", "P115": "home venue", "P118": "league",
    "P119": "place of burial", "P135": "movement", "P137": "operator", "P138": "named after",
    "P140": "religion or worldview", "P144": "based on", "P161": "cast member", "P163": "flag",
    "P170": "creator", "P172": "ethnic group", "P175": "performer", "P177": "crosses",
    "P178": "developer", "P179": "part of the series", "P184": "doctoral advisor",
    "P185": "doctoral student", "P190": "twinned administrative body", "P208": "executive body",
    "P209": "highest judicial authority", "P237": "coat of arms", "P264": "record label",
    "P275": "copyright license", "P364": "original language of film or TV show",
    "P400": "platform", "P410": "military or police rank", "P412": "voice type",
    "P413": "position played on team / speciality", "P417": "patron saint",
    "P421": "located in time zone", "P451": "unmarried partner", "P457": "foundational text",
    "P460": "said to be the same as", "P466": "occupant", "P485": "archives at",
    "P509": "cause of death", "P551": "residence", "P607": "conflict", "P688": "encodes",
    "P702": "encoded by", "P703": "found in taxon", "P706": "located in/on physical feature",
    "P734": "family name", "P735": "given name", "P737": "influenced by",
    "P740": "location of formation", "P800": "notable work", "P832": "public holiday",
    "P840": "narrative location", "P910": "topic's main category", "P921": "main subject",
    "P1038": "relative", "P1050": "medical condition", "P1056": "product or material produced",
    "P1057": "chromosome", "P1151": "topic's main Wikimedia portal", "P1196": "manner of death",
    "P1303": "instrument", "P1304": "central bank", "P1343": "described by source",
    "P1411": "nominated for", "P1433": "published in", "P1435": "heritage designation",
    "P1454": "legal form", "P1456": "list of monuments",
    "P1464": "category for people born here", "P1465": "category for people who died here",
    "P1552": "has characteristic", "P1622": "driving side",
    "P1740": "category for films shot at this location", "P1791": "category of people buried here",
    "P1792": "category of associated people", "P1889": "different from", "P1995": "health specialty",
    "P2184": "history of topic", "P2283": "uses", "P2348": "time period", "P2354": "has list",
    "P2548": "strand orientation", "P2633": "geography of topic", "P2852": "emergency phone number",
    "P2853": "electrical plug type", "P2860": "cites work", "P2936": "language used",
    "P2959": "permanent duplicated item", "P3373": "sibling", "P4552": "mountain range",
    "P5008": "on focus list of Wikimedia project", "P5125": "Wikimedia outline",
    "P5658": "railway traffic side",
})

HUMAN = "Q5"
CARD_PROPERTIES = {
    "person": ["P39", "P102", "P27", "P569", "P570", "P19", "P106", "P108", "P26"],
    "place": ["P17", "P36", "P1376", "P35", "P6", "P1082", "P625", "P30", "P131", "P463", "P37", "P38"],
    "organization": ["P571", "P159", "P17", "P463", "P527", "P488", "P169", "P112", "P749", "P452", "P576"],
    "event": ["P585", "P580", "P582", "P276", "P17", "P710", "P361", "P1001"],
    "other": ["P17", "P571", "P361", "P279", "P527", "P159", "P276", "P585"],
}
MAX_VALUES = 6
# Point-in-time properties whose values are a series (only the latest as of a date is current).
SERIES_PROPERTIES = frozenset({"P1082", "P2131", "P2046"})


def entity_kind(record: dict) -> str:
    claims = record["c"]
    if is_person(record):
        return "person"
    if any(p in claims for p in ("P1082", "P625", "P36", "P30")):
        return "place"
    if any(p in claims for p in ("P585", "P710")) or ("P580" in claims and "P159" not in claims):
        return "event"
    if any(p in claims for p in ("P159", "P571", "P112", "P488", "P169", "P463")):
        return "organization"
    return "other"


def is_current(value: dict, as_of: str | None) -> bool:
    """Whether a claim value's start/end qualifiers hold on ``as_of`` (an ISO date)."""
    start, end = value.get("s"), value.get("e")
    if as_of is None:
        return end is None
    if start and not start.startswith("-") and start > as_of:
        return False
    if end and (end.startswith("-") or end <= as_of[: len(end)]):
        return False
    return True


def _display(value: dict, kb) -> tuple[str, str | None]:
    kind, v = value["k"], value["v"]
    if kind == "i":
        label = kb.label(v) if kb is not None else None
        return (label or v), v
    if kind == "c":
        lat, lon = v
        return (f"{lat:.4f}, {lon:.4f}" if lat is not None and lon is not None else ""), None
    if kind == "q":
        text = f"{v:,}" if isinstance(v, int) else f"{v:,.6g}"
        unit = value.get("u")
        if unit:
            text += " " + ((kb.label(unit) if kb is not None else None) or unit)
        return text, None
    return str(v), None


def _values(pid: str, values: list[dict], kb, as_of: str | None, displays: list) -> list[dict]:
    """The values shown of one property, as of ``as_of``. ``displays`` (``CardParts``) keeps
    each value's ``_display`` once made: it reads no date, and a card is made again for every
    article date."""
    series = pid in SERIES_PROPERTIES or all(v.get("p") for v in values)
    latest = None
    if series:
        stamped = [v["p"] for v in values if v.get("p") and (as_of is None or v["p"] <= as_of)]
        latest = max(stamped) if stamped else None
    out = []
    for i, v in enumerate(values):
        current = is_current(v, as_of)
        if series and v.get("p"):
            current = current and v["p"] == latest
        out.append((v, current, i))
    # Current values first: preferred rank, then the most recent start; then the rest, the
    # most recently ended first. Only the values kept are labelled: the order reads no label,
    # and a person's offices or a country's memberships can be dozens (a label is a record
    # read: a third of a 4 KB article's cold card time went to values never shown).
    cur = sorted((x for x in out if x[1]),
                 key=lambda x: (x[0].get("r", 0), x[0].get("s") or x[0].get("p") or ""), reverse=True)
    rest = sorted((x for x in out if not x[1]),
                  key=lambda x: x[0].get("e") or x[0].get("p") or x[0].get("s") or "", reverse=True)
    shown = []
    for v, current, i in (cur + rest)[:MAX_VALUES]:
        made = displays[i]
        if made is None:
            made = displays[i] = _display(v, kb)
        text, qid = made
        shown.append({"value": text, "qid": qid, "start": v.get("s"), "end": v.get("e"),
                      "point_in_time": v.get("p"), "current": current})
    return shown


class CardParts(NamedTuple):
    """What an entity's card says whatever the date (``card_parts``): its fields before
    ``facts``, and per property shown its id, label, values and their displays (None until a
    date first shows the value). Linking a dated article makes its entities' cards for that
    date: from these parts, a card costs its values' dates and order, not their labels."""
    head: dict
    properties: tuple[tuple[str, str, list[dict], list], ...]


def card_parts(record: dict, kb) -> CardParts:
    """The date-free parts of ``record``'s card; a KB keeps them per entity
    (``LookupsAndCards``), beside the cards it keeps per (entity, date). Read-only, as cards are,
    but for the displays they fill in."""
    kind = entity_kind(record)
    claims = record["c"]
    properties = tuple((pid, PROPERTY_LABELS.get(pid, pid), claims[pid], [None] * len(claims[pid]))
                       for pid in CARD_PROPERTIES[kind] if claims.get(pid))
    qid = record["id"]
    title = record.get("w")
    head = {
        "qid": qid, "label": record["l"], "description": record["d"], "kind": kind,
        "types": [{"qid": t, "label": (kb.label(t) if kb is not None else None) or t} for t in record["t"]],
        "aliases": record["a"][:8],
        "wikipedia_url": f"https://en.wikipedia.org/wiki/{quote(title.replace(' ', '_'))}" if title else None,
        # a newsroom's own entity (a local id, linkers.kb.overlay) has no Wikidata page
        "wikidata_url": f"https://www.wikidata.org/wiki/{qid}" if is_qid(qid) else None,
    }
    return CardParts(head, properties)


def fact_card(record: dict, kb, as_of: str | None = None, parts: CardParts | None = None) -> dict:
    """The fact card of a compact record (``kb`` labels item values; may be None), from its
    ``card_parts`` (made here when not given)."""
    if parts is None:
        parts = card_parts(record, kb)
    facts = [{"property": pid, "property_label": label,
              "values": _values(pid, values, kb, as_of, displays)}
             for pid, label, values, displays in parts.properties]
    return {**parts.head, "facts": facts, "as_of": as_of, "kb_version": getattr(kb, "version", None)}


def card_from_raw_entity(raw: dict, kb, as_of: str | None = None) -> dict | None:
    """Fact card straight from a Wikidata entity JSON object (dump or wbgetentities shape)."""
    compacted = compact_entity(raw)
    return None if compacted is None else fact_card(compacted[0], kb, as_of)


def relations_between(records: dict[str, dict], as_of: str | None = None) -> list[tuple[str, str, str, str, bool]]:
    """(subject, pid, property label, object, current) for item claims linking two given QIDs.

    One relation per (subject, property, object); it is current if any of its statements holds
    on ``as_of`` (Putin's ended 2000-2008 term does not hide the current one)."""
    found: dict[tuple[str, str, str], bool] = {}
    for qid, rec in records.items():
        for pid, values in rec["c"].items():
            if pid == "P31":
                continue
            for v in values:
                if v["k"] == "i" and v["v"] in records and v["v"] != qid:
                    key = (qid, pid, v["v"])
                    found[key] = found.get(key, False) or is_current(v, as_of)
    return [(s, p, PROPERTY_LABELS.get(p, p), o, cur) for (s, p, o), cur in found.items()]
