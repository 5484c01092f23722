"""The KB build's fast path (typed msgspec decoding) reduces every dump line exactly as the
reference path (parse the whole object, then ``compact_entity``) does: same record, same
targets, same out-links, or the same error for a malformed line. Checked on hand-made odd
shapes, on the starter dump, and on the real Wikidata subsets when ../shared is present.
"""
from __future__ import annotations

import orjson
import pytest
from wikidata_dump import NEWS_WORLD, item, shared_data_dir

from linkers.kb import build_kb, open_kb
from linkers.kb.dump import entity_json, open_dump
from linkers.kb.fastdump import compact_line, reference_line
from linkers.kb import STARTER_DUMP


def outcome(fn, line: bytes, languages=("en",)):
    """What a path makes of a line: its normalised result, or the error it raises."""
    try:
        got = fn(line, languages)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return ("error", type(exc).__name__, str(exc))
    if got is None:
        return None
    record, targets, related = got
    return orjson.dumps(record), sorted(targets), sorted(related)


def same(line: bytes, languages=("en",)) -> None:
    assert outcome(compact_line, line, languages) == outcome(reference_line, line, languages), line[:200]


def snak(value: dict, datatype: str = "wikibase-item", snaktype: str = "value") -> dict:
    return {"snaktype": snaktype, "property": "P1", "datatype": datatype, "datavalue": value}


def statement(mainsnak: dict, rank: str = "normal", **extra) -> dict:
    return {"mainsnak": mainsnak, "type": "statement", "rank": rank, **extra}


def entity(**fields) -> bytes:
    base = {"type": "item", "id": "Q90", "labels": {"en": {"language": "en", "value": "Paris"}}}
    base.update(fields)
    return orjson.dumps(base)


ITEM = {"value": {"entity-type": "item", "numeric-id": 142, "id": "Q142"}, "type": "wikibase-entityid"}
TIME = {"value": {"time": "+2017-05-14T00:00:00Z", "precision": 11, "timezone": 0}, "type": "time"}

ODD_LINES = [
    b"{broken", b"[1, 2]", b"42", b'"Q90"', b"{}",
    entity(type="property", id="P17"),
    entity(id="Q0x"), entity(id=17),
    entity(labels=[], descriptions=[], aliases=[], claims=[], sitelinks=[]),
    entity(labels={"en": {}}), entity(labels={"en": {"language": "en"}}),
    entity(labels={"fr": {"language": "fr", "value": "Paris"}}),
    entity(aliases={"en": [{"language": "en", "value": "Paris"}, {"value": "City of Light"}, {}]}),
    entity(sitelinks={"enwiki": {"site": "enwiki", "title": "Paris"}, "frwiki": {"title": "Paris"}}),
    entity(sitelinks={"enwiki": {"site": "enwiki"}}), entity(sitelinks={"enwiki": None}),
    entity(sitelinks={"enwiki": {"title": 5}}),
    entity(claims={"P17": [statement(snak(ITEM))]}),
    entity(claims={"P17": [statement(snak(ITEM), rank="deprecated"), statement(snak(ITEM), rank="preferred")]}),
    entity(claims={"P17": [statement(snak({"value": {"entity-type": "item", "numeric-id": 142},
                                           "type": "wikibase-entityid"}))]}),
    entity(claims={"P17": [statement(snak({"value": {"entity-type": "item"}, "type": "wikibase-entityid"}))]}),
    entity(claims={"P17": [statement(snak({"value": {"entity-type": "property", "numeric-id": 17,
                                                     "id": "P17"}, "type": "wikibase-entityid"}))]}),
    entity(claims={"P17": [statement(snak({"value": {"id": "Qabc"}, "type": "wikibase-entityid"}))]}),
    entity(claims={"P31": [statement(snak(ITEM))], "P279": [statement(snak(ITEM))],
                   "P2860": [statement(snak(ITEM))]}),
    entity(claims={"P17": [statement(snak(ITEM, snaktype="somevalue")), statement({"snaktype": "novalue"}),
                           {"type": "statement"}, statement(snak(None))]}),
    entity(claims={"P571": [statement(snak(TIME, "time"))],
                   "P580": [statement(snak({"value": {"time": "-0044-03-15T00:00:00Z", "precision": 9},
                                            "type": "time"}, "time"))],
                   "P585": [statement(snak({"value": {"time": ""}, "type": "time"}, "time"))]}),
    entity(claims={"P571": [statement(snak({"value": {"time": "+2017-05-14T00:00:00Z", "precision": None},
                                            "type": "time"}, "time"))]}),
    entity(claims={"P1082": [statement(snak({"value": {"amount": "+2165423", "unit": "1"}, "type": "quantity"},
                                            "quantity"))],
                   "P2046": [statement(snak({"value": {"amount": "+105.4", "unit":
                                                       "http://www.wikidata.org/entity/Q712226"},
                                            "type": "quantity"}, "quantity"))],
                   "P2044": [statement(snak({"value": {"amount": 35}, "type": "quantity"}, "quantity")),
                             statement(snak({"value": {"amount": "lots"}, "type": "quantity"}, "quantity")),
                             statement(snak({"value": {"unit": "1"}, "type": "quantity"}, "quantity")),
                             statement(snak({"value": {"amount": True}, "type": "quantity"}, "quantity"))]}),
    entity(claims={"P625": [statement(snak({"value": {"latitude": 48.85, "longitude": 2.35, "precision": 0.01},
                                            "type": "globecoordinate"}, "globe-coordinate"))]}),
    entity(claims={"P1813": [statement(snak({"value": "PAR", "type": "string"}, "string"))],
                   "P214": [statement(snak({"value": "158822968", "type": "string"}, "external-id"))],
                   "P1448": [statement(snak({"value": {"text": "Paris", "language": "fr"},
                                             "type": "monolingualtext"}, "monolingualtext"))],
                   "P1449": [statement(snak({"value": {"language": "fr"}, "type": "monolingualtext"},
                                            "monolingualtext"))]}),
    entity(claims={"P9": [statement(snak({"value": "x", "type": "musical-notation-of-the-future"}, "string"))]}),
    entity(claims={"P39": [statement(snak(ITEM), qualifiers={
        "P580": [snak(TIME, "time")], "P582": [snak(ITEM), snak(TIME, "time")],
        "P585": [snak(TIME, "time", snaktype="somevalue")], "P642": [snak(ITEM)]})]}),
    entity(claims={"P39": [statement(snak(ITEM), qualifiers=[])]}),
    entity(claims={"P39": [statement(snak(ITEM), qualifiers={"P580": None})]}),
    entity(claims={"P1082": [statement(snak({"value": {"amount": f"+{i}", "unit": "1"}, "type": "quantity"},
                                            "quantity"), qualifiers={"P585": [snak(
                                                {"value": {"time": f"+{1900 + i}-01-01T00:00:00Z",
                                                           "precision": 9}, "type": "time"}, "time")]})
                             for i in range(80)]}),
    entity(claims={"P150": [statement(snak({"value": {"entity-type": "item", "numeric-id": i, "id": f"Q{i}"},
                                            "type": "wikibase-entityid"}),
                                      rank="preferred" if i % 7 == 0 else "normal") for i in range(1, 90)],
                   "P17": [statement(snak({"value": {"entity-type": "item", "numeric-id": 5, "id": "Q5"},
                                           "type": "wikibase-entityid"}))]}),
]


@pytest.mark.parametrize("line", ODD_LINES, ids=range(len(ODD_LINES)))
def test_odd_shapes_give_what_the_reference_path_gives(line):
    same(line)


MULTILINGUAL = [
    entity(labels={"fr": {"language": "fr", "value": "Paris"}, "zh-hans": {"language": "zh-hans", "value": "巴黎"}},
           descriptions={"zh-hans": {"language": "zh-hans", "value": "法国首都"}},
           aliases={"fr": [{"language": "fr", "value": "Ville Lumière"}], "en": [{"value": "City of Light"}]}),
    entity(labels={"en": {"language": "en", "value": "Paris"}, "fr": {"language": "fr", "value": "Paris"}}),
]


@pytest.mark.parametrize("languages", [("en", "fr"), ("fr", "en"), ("en", "zh-hans", "fr")])
def test_several_languages_give_what_the_reference_path_gives(languages):
    for line in ODD_LINES + MULTILINGUAL:
        same(line, languages)


def test_the_fast_path_keeps_what_a_fact_card_needs():
    record, targets, related = compact_line(ODD_LINES[ODD_LINES.index(entity(claims={"P39": [statement(
        snak(ITEM), qualifiers={"P580": [snak(TIME, "time")], "P582": [snak(ITEM), snak(TIME, "time")],
                                "P585": [snak(TIME, "time", snaktype="somevalue")], "P642": [snak(ITEM)]})]}))])
    assert record["c"]["P39"] == [{"k": "i", "v": "Q142", "s": "2017-05-14", "e": "2017-05-14"}]
    assert (targets, related) == ([142], [142])


def test_the_starter_dump_and_test_entities_reduce_identically():
    lines = [entity_json(raw) for raw in STARTER_DUMP.read_bytes().splitlines()]
    lines += [orjson.dumps(e) for e in NEWS_WORLD] + [orjson.dumps(item("Q1899", "Kyiv", "capital", ["Kiev"]))]
    lines = [line for line in lines if line]
    assert len(lines) > 600
    for line in lines:
        same(line)


def test_the_real_wikidata_subsets_reduce_identically():
    folder = shared_data_dir() / "wikidata"
    dumps = sorted(folder.glob("*.json.gz")) + sorted((folder / "samples").glob("*.json*"))
    if not dumps:
        pytest.skip(f"no Wikidata dumps in {folder}")
    checked = 0
    for path in dumps:
        with open_dump(str(path)) as fh:
            for raw in fh:
                line = entity_json(raw)
                if line:
                    same(line)
                    if "samples" in path.parts:     # full entities: every language is there
                        same(line, ("en", "de", "fr", "zh-hans"))
                    checked += 1
    assert checked > 1000


def test_a_line_longer_than_a_block_slot_is_built_like_the_others(tmp_path, monkeypatch):
    long_aliases = [f"Paris test alias number {i}" for i in range(200)]       # a ~7 KB line
    world = [e for e in NEWS_WORLD if e["id"] != "Q90"] + [item("Q90", "Paris", "capital of France", long_aliases)]
    dump = tmp_path / "dump.json"
    dump.write_bytes(b"[\n" + b",\n".join(orjson.dumps(e) for e in world) + b"\n]\n")
    big = build_kb([str(dump)], str(tmp_path / "big"), workers=2, progress=False)
    monkeypatch.setattr("linkers.kb.build.BLOCK_BYTES", 1024)     # slots smaller than the line
    small = build_kb([str(dump)], str(tmp_path / "small"), workers=2, progress=False)
    assert small.kb_version == big.kb_version
    kb = open_kb(tmp_path / "small")
    assert kb.entity("Q90")["a"] == long_aliases
