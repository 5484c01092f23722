"""The type filter (``options.types``): coarse classes are real Wikidata classes, subclasses count
through P279 within the KB, and the filter only removes mentions, never changes a link."""
from __future__ import annotations

import gzip

import orjson
import pytest
from wikidata_dump import HUMAN, MACRON, NATO, PARIS, PUTIN, UKRAINE, built_kb, item, shared_data_dir

from linkers import LinkOptions, errors, link
from linkers.classes import COARSE_CLASSES, TypeFilter, parse_types, superclass_closure

# Real items and their real P279 chain: Berlin is a big city, a big city a city, a city a
# human settlement (Wikidata's own claims).
HUMAN_SETTLEMENT = item("Q486972", "human settlement", "community of people living in a particular location")
CITY = item("Q515", "city", "large human settlement", claims={"P279": ["Q486972"]})
BIG_CITY = item("Q1549591", "big city", "city with a population of more than 100,000 inhabitants",
                claims={"P279": ["Q515"]})
BERLIN = item("Q64", "Berlin", "federated state, capital and largest city of Germany",
              claims={"P31": ["Q1549591"]}, enwiki="Berlin")
WORLD = [HUMAN, MACRON, PUTIN, NATO, UKRAINE, PARIS, HUMAN_SETTLEMENT, CITY, BIG_CITY, BERLIN]


@pytest.fixture(scope="module")
def class_kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("class-kb"), WORLD)


def linked(text, kb, **options):
    return {m.text: m.qid for m in link(text, kb, options=LinkOptions.from_dict(options)).mentions}


def test_a_coarse_class_keeps_only_its_entities(class_kb):
    text = "Macron and Putin met in Berlin to talk about NATO and Ukraine."
    assert linked(text, class_kb, types=["person"]) == {"Macron": "Q3052772", "Putin": "Q7747"}
    assert linked(text, class_kb, types=["organisation"]) == {"NATO": "Q7184"}
    assert linked(text, class_kb, types=["place"]) == {"Berlin": "Q64", "Ukraine": "Q212"}
    assert linked(text, class_kb, types=["event"]) == {}
    assert linked(text, class_kb, types=["person", "organization"]).keys() == {"Macron", "Putin", "NATO"}


def test_a_class_counts_its_subclasses_through_p279_within_the_kb(class_kb):
    text = "Berlin gave Macron a warm welcome."
    assert linked(text, class_kb, types=["Q486972"]) == {"Berlin": "Q64"}   # two P279 steps up
    assert linked(text, class_kb, types=["Q515"]) == {"Berlin": "Q64"}
    assert linked(text, class_kb, types=["Q5"]) == {"Macron": "Q3052772"}
    assert class_kb.superclasses("Q1549591") == {"Q515", "Q486972"}


def test_the_filter_drops_nil_mentions_and_cards_of_other_types(class_kb):
    text = "Macron met Zorblax Industries in Paris."
    everything = link(text, class_kb)
    assert "Zorblax Industries" in {m.text for m in everything.mentions}
    people = link(text, class_kb, options=LinkOptions.from_dict({"types": ["person"]}))
    assert [m.text for m in people.mentions] == ["Macron"]
    assert set(people.entities) == {"Q3052772"}
    assert all(r.subject == r.object == "Q3052772" for r in people.relations)


def test_the_filter_never_changes_which_entity_a_name_gets(class_kb):
    text = "Putin and Macron spoke about Ukraine; Paris and Berlin agreed."
    plain = {(m.start, m.qid, m.confidence) for m in link(text, class_kb).mentions}
    for types in (["person"], ["place"], ["Q5", "Q515"]):
        kept = {(m.start, m.qid, m.confidence)
                for m in link(text, class_kb, options=LinkOptions.from_dict({"types": types})).mentions}
        assert kept and kept <= plain


def test_an_untyped_person_counts_as_a_person_by_their_claims(tmp_path):
    # the shared subset drops P31 on ~16k records: a record with a birth date is a person's
    untyped = item("Q3052772", "Emmanuel Macron", "French official and statesman", ["Macron"],
                   {"P569": ["+1977-12-21"]})
    kb = built_kb(tmp_path, [untyped, PARIS])
    assert linked("Macron visited Paris.", kb, types=["person"]) == {"Macron": "Q3052772"}


@pytest.mark.parametrize("bad", ["person", [1], ["animal"], ["Q0"], ["q5"], ["Q5x"],
                                 ["person"] * 51])
def test_a_malformed_types_option_is_invalid_input(bad):
    with pytest.raises(errors.InvalidInput) as caught:
        LinkOptions.from_dict({"types": bad})
    assert caught.value.details == {"field": "types"}


def test_types_are_canonical_so_equal_filters_share_a_cache_key():
    assert parse_types(["Organization", "Q5", "person", "Q5"]) == ("Q5", "organisation", "person")
    assert LinkOptions.from_dict({"types": ["place", "Q5"]}) == LinkOptions.from_dict({"types": ["Q5", "Place"]})


def test_superclasses_end_where_a_p279_cycle_closes():
    records = {"A": {"c": {"P279": [{"k": "i", "v": "B"}]}},
               "B": {"c": {"P279": [{"k": "i", "v": "C"}]}},
               "C": {"c": {"P279": [{"k": "i", "v": "A"}]}}}
    assert superclass_closure("A", records.get) == {"B", "C"}


def test_superclasses_are_memoised_on_each_kb_not_shared_between_kbs(class_kb, tmp_path):
    class_kb.superclasses.cache_clear()
    class_kb.superclasses("Q1549591")
    class_kb.superclasses("Q1549591")
    assert class_kb.superclasses.cache_info().hits == 1
    other = built_kb(tmp_path, [BIG_CITY])          # its own KB: "city" is not in it
    assert other.superclasses("Q1549591") == {"Q515"}
    assert class_kb.superclasses("Q1549591") == {"Q515", "Q486972"}


def test_a_filter_on_an_entity_the_kb_lacks_admits_nothing(class_kb):
    assert not TypeFilter(class_kb, ["person"]).admits(None)
    assert not TypeFilter(class_kb, ["person"]).admits("Q999999999")


def test_every_coarse_class_and_fixture_class_is_a_real_wikidata_class():
    dump = shared_data_dir() / "wikidata" / "entities.json.gz"
    if not dump.is_file():
        pytest.skip(f"shared Wikidata subset not present at {dump}")
    wanted = {qid: label for classes in COARSE_CLASSES.values() for qid, label in classes.items()}
    wanted.update({e["id"]: e["labels"]["en"]["value"] for e in (HUMAN_SETTLEMENT, CITY, BIG_CITY, BERLIN)})
    labels = {}
    with gzip.open(dump, "rb") as lines:
        for line in lines:
            line = line.strip().rstrip(b",")
            if line.startswith(b"{"):
                entity = orjson.loads(line)
                if entity["id"] in wanted:
                    labels[entity["id"]] = entity.get("labels", {}).get("en", {}).get("value")
    assert {qid: labels.get(qid) for qid in wanted} == wanted
