"""Tiny Wikidata dumps for tests: real items written in the official JSON dump layout, and where
the shared data lives.

Every entity here is a real Wikidata item (real QID, English label, description, aliases and
claims as Wikidata has them, offices with their real start/end dates); only a handful, so each
one stays checkable by eye.
"""
from __future__ import annotations

import bz2
import gzip
import os
from pathlib import Path

import orjson


def shared_data_dir() -> Path:
    """$FACTLINK_SHARED_DATA, else ../shared/data next to the repository (read-only, never copied)."""
    return Path(os.environ.get("FACTLINK_SHARED_DATA")
                or Path(__file__).resolve().parents[2] / "shared" / "data")


# --- writing Wikidata entities, as the dump has them ---------------------------------------
def _datavalue(value) -> tuple[dict, str]:
    """(datavalue, datatype) of a claim value: 'Q…' item, '+YYYY-MM-DD' date, int quantity, str."""
    if isinstance(value, str) and value[:1] == "Q" and value[1:].isdigit():
        return ({"value": {"entity-type": "item", "numeric-id": int(value[1:]), "id": value},
                 "type": "wikibase-entityid"}, "wikibase-item")
    if isinstance(value, str) and value[:1] in "+-" and value[1:5].isdigit():
        precision = {4: 9, 7: 10}.get(len(value) - 1, 11)       # +YYYY, +YYYY-MM, +YYYY-MM-DD
        padded = (value + "-00-00")[:11] if precision < 11 else value
        return ({"value": {"time": f"{padded}T00:00:00Z", "timezone": 0, "before": 0, "after": 0,
                           "precision": precision, "calendarmodel": "http://www.wikidata.org/entity/Q1985727"},
                 "type": "time"}, "time")
    if isinstance(value, int):
        return {"value": {"amount": f"+{value}", "unit": "1"}, "type": "quantity"}, "quantity"
    return {"value": value, "type": "string"}, "string"


def statement(pid: str, value, start: str | None = None, end: str | None = None,
              point: str | None = None, rank: str = "normal") -> dict:
    """One claim; ``start``/``end``/``point`` become P580/P582/P585 qualifiers ('+2017-05-14')."""
    datavalue, datatype = _datavalue(value)
    st = {"mainsnak": {"snaktype": "value", "property": pid, "datavalue": datavalue, "datatype": datatype},
          "type": "statement", "rank": rank}
    qualifiers = {}
    for qpid, when in (("P580", start), ("P582", end), ("P585", point)):
        if when:
            dv, dt = _datavalue(when)
            qualifiers[qpid] = [{"snaktype": "value", "property": qpid, "datavalue": dv, "datatype": dt}]
    if qualifiers:
        st["qualifiers"] = qualifiers
        st["qualifiers-order"] = list(qualifiers)
    return st


def item(qid: str, label: str, description: str = "", aliases=(), claims: dict | None = None,
         enwiki: str | None = None) -> dict:
    """A Wikidata item in the dump's JSON shape. ``claims``: {pid: [value | statement dict]}."""
    entity = {"type": "item", "id": qid,
              "labels": {"en": {"language": "en", "value": label}},
              "descriptions": {"en": {"language": "en", "value": description}} if description else {},
              "aliases": {"en": [{"language": "en", "value": a} for a in aliases]} if aliases else {},
              "claims": {pid: [v if isinstance(v, dict) else statement(pid, v) for v in values]
                         for pid, values in (claims or {}).items()},
              "sitelinks": {"enwiki": {"site": "enwiki", "title": enwiki, "badges": []}} if enwiki else {}}
    return entity


def write_dump(path: Path, entities: list, layout: str = "dump") -> Path:
    """Write entities as the official dump ('[', one entity per line ending in ',', ']') or as
    JSON Lines; compressed by the file extension (.gz/.bz2). A str entry is written verbatim
    (a malformed line)."""
    lines = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in entities]
    if layout == "dump":
        body = "[\n" + ",\n".join(lines) + "\n]\n"
    else:
        body = "\n".join(lines) + "\n"
    data = body.encode()
    opener = gzip.open if path.name.endswith(".gz") else bz2.open if path.name.endswith(".bz2") else open
    with opener(path, "wb") as fh:
        fh.write(data)
    return path


# The news-desk world of the sample sentence, as Wikidata has it (labels, descriptions,
# aliases and claims copied from Wikidata; offices with their real start/end dates).
HUMAN = item("Q5", "human", "common name of Homo sapiens, unique extant species of the genus Homo")
COUNTRY = item("Q6256", "country", "the distinct region in geography")
NATO = item("Q7184", "NATO", "intergovernmental military alliance of Western states",
            ["North Atlantic Treaty Organization", "North Atlantic Alliance"],
            {"P31": ["Q1127126", "Q245065"], "P571": ["+1949-04-04"], "P159": ["Q239"]}, enwiki="NATO")
UKRAINE = item("Q212", "Ukraine", "sovereign state in eastern Europe", ["Ukrainia", "UKR"],
               {"P31": ["Q6256"], "P36": ["Q1899"]}, enwiki="Ukraine")
RUSSIA = item("Q159", "Russia", "sovereign state in Eastern Europe and Northern Asia",
              ["Russian Federation", "RUS"],
              {"P31": ["Q6256"], "P36": ["Q649"],
               "P35": [statement("P35", "Q7747", start="+2000-05-07", end="+2008-05-07"),
                       statement("P35", "Q23530", start="+2008-05-07", end="+2012-05-07"),
                       statement("P35", "Q7747", start="+2012-05-07")]},
              enwiki="Russia")
FRANCE = item("Q142", "France", "country in Western Europe", ["French Republic", "FRA"],
              {"P31": ["Q6256"], "P36": ["Q90"], "P463": ["Q7184"],
               "P35": [statement("P35", "Q3052772", start="+2017-05-14")]}, enwiki="France")
PARIS = item("Q90", "Paris", "capital and largest city of France", ["City of Light"],
             {"P31": ["Q5119"], "P17": ["Q142"], "P1376": ["Q142"]}, enwiki="Paris")
MACRON = item("Q3052772", "Emmanuel Macron", "French official and statesman", ["Macron"],
              {"P31": ["Q5"], "P27": ["Q142"], "P569": ["+1977-12-21"],
               "P39": [statement("P39", "Q191954", start="+2017-05-14")]}, enwiki="Emmanuel Macron")
PUTIN = item("Q7747", "Vladimir Putin", "2nd and 4th President of Russia", ["Putin", "President Putin"],
             {"P31": ["Q5"], "P27": ["Q159"],
              "P39": [statement("P39", "Q218295", start="+2000-05-07", end="+2008-05-07"),
                      statement("P39", "Q218295", start="+2012-05-07")]},
             enwiki="Vladimir Putin")
MEDVEDEV = item("Q23530", "Dmitry Medvedev", "former President and Prime Minister of Russia",
                ["Dmitri Medvedev", "President Medvedev"], {"P31": ["Q5"], "P27": ["Q159"]})
USA = item("Q30", "United States of America", "sovereign state in North America",
           ["US", "U.S.", "USA", "the United States"], {"P31": ["Q6256"]},
           enwiki="United States")
PRESIDENT_OF_FRANCE = item("Q191954", "President of the French Republic", "head of state of France",
                           ["President of France"])
PRESIDENT_OF_RUSSIA = item("Q218295", "President of Russia",
                           "head of state of the RSFSR (office established in 1991) and Russia")
NEWS_WORLD = [HUMAN, COUNTRY, NATO, UKRAINE, RUSSIA, FRANCE, PARIS, MACRON, PUTIN, MEDVEDEV, USA,
              PRESIDENT_OF_FRANCE, PRESIDENT_OF_RUSSIA]


def built_kb(folder: Path, entities: list, **options):
    """Write ``entities`` as a dump in ``folder``, build it into ``folder/kb`` and open it."""
    from linkers import build_kb, open_kb
    dump = write_dump(folder / "dump.json", entities)
    build_kb([str(dump)], str(folder / "kb"), workers=1, progress=False, **options)
    return open_kb(folder / "kb")


def assert_real_items(kb_dir: Path, entities: list) -> None:
    """Each test item is in the KB of the shared subset (``full_kb``) under its own label."""
    from linkers import open_kb
    shared = open_kb(kb_dir)
    for it in entities:
        rec = shared.entity(it["id"])
        assert rec is not None, it["id"]
        assert rec["l"] == it["labels"]["en"]["value"]
