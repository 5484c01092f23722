"""The starter knowledge base (linkers/starter/entities.json) is a well-formed Wikidata dump and real.

Two kinds of checks:

* shape: the file is in the official Wikidata JSON dump layout, ids are unique, statements have
  the official snak shapes, and every item value (main value or qualifier) is itself an entity of
  the file, so every fact-card label resolves offline;
* truth: every entity exists in the shared real-Wikidata subset (../shared/data/wikidata, or
  $FACTLINK_SHARED_DATA), except the few listed in linkers/starter/README.md under
  "verified by hand, not in the shared subset"; its English label is the shared label or one of
  the shared aliases (the subset's labels are partly from 2021, e.g. "Volodymyr Zelenskyi" with
  the alias "Volodymyr Zelenskyy"); and each claim value matches a value of the same property in
  the shared entity whenever the shared entity has that property (the subset's claims are
  partial, so a property it lacks cannot be checked).

Value matching rules: items by QID; quantities within 1% of a shared amount; times at the
starter value's precision (day, month or year); because the shared subset stores every date
with day precision, a shared 1 January is also accepted as a year-precision date of that year;
strings exactly; coordinates within the starter value's precision.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
STARTER_DIR = REPO / "linkers" / "starter"
STARTER_KB = STARTER_DIR / "entities.json"
STARTER_README = STARTER_DIR / "README.md"

# Entities absent from the shared subset whose QIDs were checked by hand. Keep in sync with the
# README section "verified by hand, not in the shared subset" (test_hand_verified_list_matches_readme).
HAND_VERIFIED = frozenset({"Q130879", "Q11148"})

MIN_ENTITIES = 320

QID_RE = re.compile(r"^Q[1-9]\d*$")
PID_RE = re.compile(r"^P[1-9]\d*$")
TIME_RE = re.compile(r"^[+-]\d{4,}-\d{2}-\d{2}T00:00:00Z$")
AMOUNT_RE = re.compile(r"^[+-]\d+(\.\d+)?$")
CALENDAR = "http://www.wikidata.org/entity/Q1985727"
EARTH = "http://www.wikidata.org/entity/Q2"
QUALIFIERS = {"P580", "P582", "P585"}
DATAVALUE_TYPE = {
    "wikibase-item": "wikibase-entityid",
    "time": "time",
    "quantity": "quantity",
    "globe-coordinate": "globecoordinate",
    "string": "string",
    "external-id": "string",
    "url": "string",
    "monolingualtext": "monolingualtext",
}
ENTITY_ID_IN_LINE = re.compile(rb'"id":\s*"(Q\d+)"')


# ------------------------------------------------------------------ loading


def load_dump_lines(path: Path) -> list[dict]:
    """Parse a file in the official dump layout, asserting the layout line by line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert len(lines) >= 3, "dump must hold '[', at least one entity line, ']'"
    assert lines[0] == "[", "first line must be exactly '['"
    assert lines[-1] == "]", "last line must be exactly ']'"
    body = lines[1:-1]
    entities = []
    for number, line in enumerate(body, start=2):
        is_last = number == len(body) + 1
        if is_last:
            assert not line.endswith(","), f"line {number}: last entity line must not end with ','"
            raw = line
        else:
            assert line.endswith(","), f"line {number}: entity line must end with ','"
            raw = line[:-1]
        entity = orjson.loads(raw)
        assert isinstance(entity, dict), f"line {number}: not a JSON object"
        entities.append(entity)
    return entities


@pytest.fixture(scope="module")
def starter() -> dict[str, dict]:
    entities = load_dump_lines(STARTER_KB)
    by_id: dict[str, dict] = {}
    for entity in entities:
        qid = entity.get("id")
        assert qid not in by_id, f"duplicate id {qid}"
        by_id[qid] = entity
    return by_id


def shared_wikidata_dir() -> Path:
    """$FACTLINK_SHARED_DATA (the shared `data` dir or its `wikidata` dir), else ../shared/data/wikidata."""
    env = os.environ.get("FACTLINK_SHARED_DATA")
    if env:
        base = Path(env)
        return base if (base / "entities.json.gz").exists() else base / "wikidata"
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "wikidata"


@pytest.fixture(scope="module")
def shared(starter) -> dict[str, dict]:
    """The shared entities for the starter's QIDs, from one streaming pass over entities.json.gz."""
    folder = shared_wikidata_dir()
    if not folder.is_dir():
        pytest.skip(f"shared Wikidata subset not present at {folder}")
    dump = folder / "entities.json.gz"
    assert dump.is_file(), f"{dump} is missing although {folder} exists"
    wanted = {qid.encode() for qid in starter}
    found: dict[str, dict] = {}
    with gzip.open(dump, "rb") as stream:
        for line in stream:
            match = ENTITY_ID_IN_LINE.search(line, 0, 200)
            if match is None or match.group(1) not in wanted:
                continue
            found[match.group(1).decode()] = orjson.loads(line.rstrip().rstrip(b","))
    return found


# ------------------------------------------------------------------ shape


def item_values(entity: dict):
    """Yield (property, item id) for every item value in main snaks and qualifiers."""
    for pid, statements in entity.get("claims", {}).items():
        for statement in statements:
            snaks = [statement["mainsnak"]]
            for qualifier_snaks in statement.get("qualifiers", {}).values():
                snaks.extend(qualifier_snaks)
            for snak in snaks:
                if snak.get("datatype") == "wikibase-item" and snak.get("snaktype") == "value":
                    yield pid, snak["datavalue"]["value"]["id"]


def snak_problems(where: str, snak: dict, expected_property: str) -> list[str]:
    problems = []
    if snak.get("property") != expected_property:
        problems.append(f"{where}: property {snak.get('property')!r} != {expected_property}")
    if snak.get("snaktype") != "value":
        return problems if snak.get("snaktype") in ("somevalue", "novalue") else problems + [f"{where}: bad snaktype"]
    datatype = snak.get("datatype")
    datavalue = snak.get("datavalue", {})
    value = datavalue.get("value")
    if datatype not in DATAVALUE_TYPE or datavalue.get("type") != DATAVALUE_TYPE[datatype]:
        return problems + [f"{where}: datatype {datatype!r} with datavalue type {datavalue.get('type')!r}"]
    if datatype == "wikibase-item":
        ok = (isinstance(value, dict) and value.get("entity-type") == "item" and QID_RE.match(str(value.get("id")))
              and value.get("numeric-id") == int(value["id"][1:]))
        if not ok:
            problems.append(f"{where}: bad item value {value!r}")
    elif datatype == "time":
        ok = (isinstance(value, dict) and TIME_RE.match(str(value.get("time"))) and value.get("timezone") == 0
              and value.get("before") == 0 and value.get("after") == 0 and value.get("precision") in range(0, 15)
              and value.get("calendarmodel") == CALENDAR)
        if not ok:
            problems.append(f"{where}: bad time value {value!r}")
    elif datatype == "quantity":
        if not (isinstance(value, dict) and AMOUNT_RE.match(str(value.get("amount"))) and value.get("unit")):
            problems.append(f"{where}: bad quantity value {value!r}")
    elif datatype == "globe-coordinate":
        ok = (isinstance(value, dict) and -90 <= value.get("latitude", 999) <= 90
              and -180 <= value.get("longitude", 999) <= 180 and value.get("globe") == EARTH
              and isinstance(value.get("precision"), (int, float)))
        if not ok:
            problems.append(f"{where}: bad coordinate value {value!r}")
    elif datatype in ("string", "external-id", "url"):
        if not (isinstance(value, str) and value):
            problems.append(f"{where}: bad string value {value!r}")
    return problems


def entity_problems(entity: dict) -> list[str]:
    qid = entity.get("id")
    problems = []
    if entity.get("type") != "item" or not QID_RE.match(str(qid)):
        return [f"{qid}: not an item with a Q-id"]
    label = entity.get("labels", {}).get("en", {})
    if label.get("language") != "en" or not isinstance(label.get("value"), str) or not label["value"].strip():
        problems.append(f"{qid}: missing English label")
    description = entity.get("descriptions", {}).get("en")
    if description is not None and (description.get("language") != "en" or not description.get("value")):
        problems.append(f"{qid}: malformed English description")
    for alias in entity.get("aliases", {}).get("en", []):
        if alias.get("language") != "en" or not isinstance(alias.get("value"), str) or not alias["value"]:
            problems.append(f"{qid}: malformed alias {alias!r}")
    enwiki = entity.get("sitelinks", {}).get("enwiki")
    if enwiki is not None and (enwiki.get("site") != "enwiki" or not enwiki.get("title")
                               or not isinstance(enwiki.get("badges"), list)):
        problems.append(f"{qid}: malformed enwiki sitelink {enwiki!r}")
    for pid, statements in entity.get("claims", {}).items():
        if not PID_RE.match(pid) or not isinstance(statements, list) or not statements:
            problems.append(f"{qid}: bad claims entry {pid!r}")
            continue
        for index, statement in enumerate(statements):
            where = f"{qid}.{pid}[{index}]"
            if statement.get("type") != "statement" or statement.get("rank") not in ("preferred", "normal", "deprecated"):
                problems.append(f"{where}: not a ranked statement")
            problems += snak_problems(where, statement.get("mainsnak", {}), pid)
            qualifiers = statement.get("qualifiers", {})
            for qpid, snaks in qualifiers.items():
                if qpid not in QUALIFIERS:
                    problems.append(f"{where}: unexpected qualifier {qpid}")
                for snak in snaks:
                    problems += snak_problems(f"{where}.{qpid}", snak, qpid)
            if "qualifiers-order" in statement and sorted(statement["qualifiers-order"]) != sorted(qualifiers):
                problems.append(f"{where}: qualifiers-order does not list the qualifiers")
            start, end = (qualifiers.get(p, [{}])[0].get("datavalue", {}).get("value", {}).get("time")
                          for p in ("P580", "P582"))
            if start and end and time_key(start) > time_key(end):
                problems.append(f"{where}: starts {start} after it ends {end}")
    return problems


def time_key(text: str) -> tuple[int, int, int]:
    sign = -1 if text.startswith("-") else 1
    year, month, day = text[1:11].split("-") if text[0] in "+-" else text[:10].split("-")
    return sign * int(year), int(month), int(day)


def test_file_is_in_dump_layout_and_ids_are_unique(starter):
    assert len(starter) >= MIN_ENTITIES


def test_every_entity_has_official_shapes(starter):
    problems = [p for entity in starter.values() for p in entity_problems(entity)]
    assert not problems, f"{len(problems)} shape problems:\n" + "\n".join(problems)


def test_every_item_value_is_an_entity_of_the_kb(starter):
    dangling = sorted({f"{qid}.{pid} -> {value}" for qid, entity in starter.items()
                       for pid, value in item_values(entity) if value not in starter})
    assert not dangling, f"{len(dangling)} item values not in the starter KB:\n" + "\n".join(dangling)


def test_hand_verified_list_matches_readme():
    text = STARTER_README.read_text(encoding="utf-8")
    match = re.search(r"^#+\s*verified by hand, not in the shared subset\s*$(.*?)(?=^#|\Z)", text,
                      flags=re.IGNORECASE | re.MULTILINE | re.DOTALL)
    assert match, "README lacks the section 'verified by hand, not in the shared subset'"
    listed = set(re.findall(r"`(Q\d+)`", match.group(1)))
    assert listed == HAND_VERIFIED, f"README lists {sorted(listed)}, test lists {sorted(HAND_VERIFIED)}"


# ------------------------------------------------------------------ truth against the shared subset


def test_every_entity_exists_in_the_shared_subset_or_is_hand_verified(starter, shared):
    missing = sorted(set(starter) - set(shared) - HAND_VERIFIED, key=lambda q: int(q[1:]))
    needlessly_hand_verified = sorted(HAND_VERIFIED & set(shared))
    assert not missing, f"{len(missing)} starter entities are not in the shared subset: {missing}"
    assert not needlessly_hand_verified, f"in the shared subset, so verify them there: {needlessly_hand_verified}"
    stray = sorted(HAND_VERIFIED - set(starter))
    assert not stray, f"hand-verified QIDs not in the starter KB: {stray}"


def test_labels_match_the_shared_label_or_an_alias(starter, shared):
    mismatches = []
    for qid, entity in starter.items():
        if qid not in shared:
            continue
        label = entity["labels"]["en"]["value"]
        real = shared[qid].get("labels", {}).get("en", {}).get("value")
        aliases = [a["value"] for a in shared[qid].get("aliases", {}).get("en", [])]
        if label != real and label not in aliases:
            mismatches.append(f"{qid}: starter {label!r}, shared {real!r} / aliases {aliases}")
    assert not mismatches, f"{len(mismatches)} label mismatches:\n" + "\n".join(mismatches)


def main_value(statement: dict):
    snak = statement["mainsnak"]
    if snak.get("snaktype") != "value":
        return None
    return snak["datatype"], snak["datavalue"]["value"]


def brief(value):
    """The readable core of a datavalue, for mismatch reports."""
    if isinstance(value, dict):
        for key in ("id", "amount", "time", "text"):
            if key in value:
                return value[key]
    return value


def values_match(datatype: str, mine, theirs) -> bool:
    if datatype == "wikibase-item":
        return mine["id"] == theirs.get("id")
    if datatype == "quantity":
        a, b = float(mine["amount"]), float(theirs["amount"])
        return mine.get("unit") == theirs.get("unit") and abs(a - b) <= 0.01 * abs(b)
    if datatype == "time":
        precision = min(mine["precision"], 11)
        parts = 3 if precision >= 11 else 2 if precision == 10 else 1
        mine_key, their_key = time_key(mine["time"]), time_key(theirs["time"])
        if mine_key[:parts] == their_key[:parts]:
            return True
        # the subset stores year-precision dates as 1 January with day precision
        return their_key[1:] == (1, 1) and mine_key[0] == their_key[0]
    if datatype == "globe-coordinate":
        tolerance = max(mine.get("precision") or 0, 1e-4)
        return (abs(mine["latitude"] - theirs["latitude"]) <= tolerance
                and abs(mine["longitude"] - theirs["longitude"]) <= tolerance)
    if datatype == "monolingualtext":
        return mine.get("text") == theirs.get("text")
    return mine == theirs


def test_claims_match_shared_claims_of_the_same_property(starter, shared):
    mismatches, checked = [], 0
    for qid, entity in starter.items():
        if qid not in shared:
            continue
        their_claims = shared[qid].get("claims", {})
        for pid, statements in entity.get("claims", {}).items():
            if pid not in their_claims:
                continue
            theirs = [v for v in map(main_value, their_claims[pid]) if v is not None]
            for statement in statements:
                mine = main_value(statement)
                if mine is None:
                    continue
                checked += 1
                datatype, value = mine
                if not any(t == datatype and values_match(datatype, value, v) for t, v in theirs):
                    shown = [brief(v) for _, v in theirs]
                    mismatches.append(f"{qid} {pid}: starter {brief(value)} not among shared {shown}")
    print(f"starter KB: {len(starter)} entities, {len(shared)} in the shared subset, "
          f"{checked} claim values checked against it")
    assert not mismatches, f"{len(mismatches)} claim mismatches:\n" + "\n".join(mismatches)
