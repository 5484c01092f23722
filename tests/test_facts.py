"""Fact cards are true as of the article's date: an office holder is current only inside the
term's start/end, of a series of populations only the latest one not after the date is
current, and item values are shown by their labels."""
from __future__ import annotations

import bz2
import gzip
from collections import Counter

import orjson
import pytest
from wikidata_dump import COUNTRY, HUMAN, built_kb, item, shared_data_dir, statement

from linkers.facts import PROPERTY_LABELS, card_from_raw_entity, fact_card, relations_between

DUMP_SAMPLE = shared_data_dir() / "wikidata" / "samples" / "official-dump-sample.json.bz2"

# Belgium as the official dump has it (Q31 is the first entity of the shared dump sample):
# kings with their reigns, populations stamped with a point in time.
BELGIUM = item("Q31", "Belgium", "country in western Europe", ["Kingdom of Belgium", "BEL"], {
    "P31": ["Q6256"],
    "P36": ["Q239"],
    "P35": [statement("P35", "Q155004", start="+2013-07-21", rank="preferred"),
            statement("P35", "Q3911", start="+1993-08-09", end="+2013-07-21")],
    "P1082": [statement("P1082", 11150516, point="+2014-01-01", rank="preferred"),
              statement("P1082", 11099554, point="+2013-01-01"),
              statement("P1082", 11035948, point="+2012-01-01"),
              statement("P1082", 10000000, point="+1990-01-01", rank="deprecated")],
    "P463": ["Q7184"],
}, enwiki="Belgium")
PHILIPPE = item("Q155004", "Philippe of Belgium", "seventh king of the Belgians",
                ["King Philippe of Belgium"], {"P31": ["Q5"]})
ALBERT_II = item("Q3911", "Albert II of Belgium", "sixth king of the Belgians", claims={"P31": ["Q5"]})
BRUSSELS = item("Q239", "Brussels", "municipality and capital city of Belgium", ["City of Brussels"])


@pytest.fixture(scope="module")
def belgium_kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("belgium"), [BELGIUM, PHILIPPE, ALBERT_II, BRUSSELS, HUMAN, COUNTRY])


def values(card: dict, pid: str) -> list[dict]:
    return next(f["values"] for f in card["facts"] if f["property"] == pid)


def current(card: dict, pid: str) -> list[str]:
    return [v["value"] for v in values(card, pid) if v["current"]]


@pytest.mark.parametrize("as_of, king", [
    ("2010-01-01", "Albert II of Belgium"),
    ("1993-08-09", "Albert II of Belgium"),          # first day of the reign
    ("2013-07-20", "Albert II of Belgium"),
    ("2013-07-21", "Philippe of Belgium"),           # handover day: the end date is exclusive
    ("2022-02-10", "Philippe of Belgium"),
    (None, "Philippe of Belgium"),                   # no date: what has not ended
])
def test_the_head_of_state_is_the_one_in_office_on_the_date(belgium_kb, as_of, king):
    card = belgium_kb.fact_card("Q31", as_of)
    assert current(card, "P35") == [king]
    assert card["as_of"] == as_of


def test_before_any_term_nobody_is_current(belgium_kb):
    assert current(belgium_kb.fact_card("Q31", "1980-01-01"), "P35") == []


def test_office_values_carry_their_dates(belgium_kb):
    albert = next(v for v in values(belgium_kb.fact_card("Q31", "2022-02-10"), "P35") if v["qid"] == "Q3911")
    assert (albert["start"], albert["end"], albert["current"]) == ("1993-08-09", "2013-07-21", False)


def test_a_person_holds_an_office_only_during_the_term(news_kb):
    def president(as_of):
        return [(v["qid"], v["start"]) for v in values(news_kb.fact_card("Q7747", as_of), "P39") if v["current"]]
    assert president("2005-01-01") == [("Q218295", "2000-05-07")]
    assert president("2010-01-01") == []                       # Medvedev's term
    assert president("2022-02-10") == [("Q218295", "2012-05-07")]
    assert current(news_kb.fact_card("Q3052772", "2016-12-31"), "P39") == []
    assert current(news_kb.fact_card("Q3052772", "2022-02-10"), "P39") == ["President of the French Republic"]


@pytest.mark.parametrize("as_of, population", [
    ("2013-06-01", "11,099,554"),
    ("2013-01-01", "11,099,554"),                    # stamped that very day
    ("2012-12-31", "11,035,948"),
    ("2022-02-10", "11,150,516"),
    (None, "11,150,516"),
])
def test_only_the_latest_population_not_after_the_date_is_current(belgium_kb, as_of, population):
    assert current(belgium_kb.fact_card("Q31", as_of), "P1082") == [population]


def test_no_population_is_current_before_the_first_count(belgium_kb):
    assert current(belgium_kb.fact_card("Q31", "2011-06-01"), "P1082") == []


def test_deprecated_statements_are_not_shown(belgium_kb):
    shown = [v["point_in_time"] for v in values(belgium_kb.fact_card("Q31"), "P1082")]
    assert sorted(shown) == ["2012-01-01", "2013-01-01", "2014-01-01"]


def test_item_values_are_labelled_from_the_kb(belgium_kb):
    card = belgium_kb.fact_card("Q31", "2022-02-10")
    assert values(card, "P36")[0] == {"value": "Brussels", "qid": "Q239", "start": None, "end": None,
                                      "point_in_time": None, "current": True}
    assert [t["label"] for t in card["types"]] == ["country"]
    assert values(card, "P463")[0]["value"] == "Q7184"          # not in this KB: shown by its QID


def test_a_card_says_what_and_where(belgium_kb):
    card = belgium_kb.fact_card("Q31", "2022-02-10")
    assert card["qid"] == "Q31" and card["label"] == "Belgium"
    assert card["description"] == "country in western Europe"
    assert card["kind"] == "place"
    assert card["wikipedia_url"] == "https://en.wikipedia.org/wiki/Belgium"
    assert card["wikidata_url"] == "https://www.wikidata.org/wiki/Q31"
    assert card["kb_version"] == belgium_kb.version
    assert orjson.loads(orjson.dumps(card)) == card


def test_a_person_card(news_kb):
    card = news_kb.fact_card("Q3052772", "2022-02-10")
    assert card["kind"] == "person"
    assert card["wikipedia_url"] == "https://en.wikipedia.org/wiki/Emmanuel_Macron"
    assert current(card, "P27") == ["France"]
    assert current(card, "P569") == ["1977-12-21"]


# --- straight from a Wikidata entity (the dump sample, or what wbgetentities returns) ---------
def raw_entity(qid: str) -> dict:
    """One complete, unmodified entity of the shared dump sample."""
    if not DUMP_SAMPLE.is_file():
        pytest.skip(f"shared dump sample not found at {DUMP_SAMPLE}")
    needle = f'"id": "{qid}"'.encode()
    with bz2.open(DUMP_SAMPLE, "rb") as lines:
        for line in lines:
            if needle in line[:100]:
                return orjson.loads(line.strip().rstrip(b","))
    pytest.fail(f"{qid} is not in the dump sample")


@pytest.fixture(scope="module")
def raw_belgium() -> dict:
    return raw_entity("Q31")


def test_card_from_a_complete_real_entity(raw_belgium, belgium_kb):
    card = card_from_raw_entity(raw_belgium, belgium_kb, as_of="2010-01-01")
    assert (card["qid"], card["label"]) == ("Q31", "Belgium")
    assert card["wikipedia_url"] == "https://en.wikipedia.org/wiki/Belgium"
    assert current(card, "P35") == ["Albert II of Belgium"]
    assert current(card, "P36") == ["Brussels"]
    assert current(card, "P1082") == ["10,839,905"]                 # 1 January 2010
    later = card_from_raw_entity(raw_belgium, belgium_kb, as_of="2022-02-10")
    assert current(later, "P35") == ["Philippe of Belgium"]
    assert current(later, "P1082") == ["11,150,516"]
    assert all(len(f["values"]) <= 6 for f in later["facts"])        # a card, not the whole history


def test_card_from_a_raw_entity_without_a_kb_shows_qids(raw_belgium):
    card = card_from_raw_entity(raw_belgium, None, as_of="2022-02-10")
    assert current(card, "P35") == ["Q155004"]
    assert card["kb_version"] is None


def test_a_raw_property_or_lexeme_has_no_card(belgium_kb):
    assert card_from_raw_entity({"type": "property", "id": "P31", "labels": {}}, belgium_kb) is None
    assert card_from_raw_entity({"type": "lexeme", "id": "L1", "lemmas": {}}, belgium_kb) is None


def test_the_latest_population_is_current_even_in_a_long_series():
    thailand = raw_entity("Q869")
    assert len(thailand["claims"]["P1082"]) == 66
    card = card_from_raw_entity(thailand, None, as_of="2022-02-10")
    assert [(v["value"], v["point_in_time"]) for v in values(card, "P1082") if v["current"]] == \
        [("66,188,503", "2017-12-31")]


def test_current_values_show_the_most_recent_first(raw_belgium):
    card = card_from_raw_entity(raw_belgium, None, as_of="2022-02-10")
    starts = [v["start"] for v in values(card, "P463") if v["current"]]
    assert starts[0] == "1992-09-18"                       # the newest of Belgium's 35 memberships
    assert starts == sorted(starts, reverse=True)


def test_a_card_made_from_the_kbs_date_free_parts_is_the_card_made_afresh(news_kb, belgium_kb):
    """A KB keeps each entity's date-free card parts (type labels, value labels) and makes the
    card again for every article date from them: for every entity of two KBs, on dates that
    move which terms and counts are current and shown, the card is byte for byte the card made
    from nothing, whichever dates came before."""
    dates = [None, "1990-06-01", "2013-07-21", "2014-01-01", "2022-02-10", "1950-01-01", "2013-07-20"]
    for kb in (news_kb, belgium_kb):
        for qid in kb.iter_qids():
            for as_of in dates + dates[::-1]:
                made = kb.fact_card(qid, as_of)
                afresh = fact_card(kb.entity(qid), kb, as_of)
                assert orjson.dumps(made) == orjson.dumps(afresh), (qid, as_of)


# --- relations name their property ----------------------------------------------------------
def test_a_relation_is_named_by_its_propertys_label():
    """Putin's residence is Moscow: the relation reads "residence", not "P551"."""
    putin = {"id": "Q7747", "c": {"P551": [{"k": "i", "v": "Q649"}]}}
    moscow = {"id": "Q649", "c": {}}
    assert relations_between({"Q7747": putin, "Q649": moscow}) == [
        ("Q7747", "P551", "residence", "Q649", True)]


def test_every_common_item_property_of_real_wikidata_has_a_label():
    """A relation between two entities of an article goes through any item-valued property
    (but "instance of"): each one ten or more items of the shared Wikidata subset use is named,
    so a relation never shows a bare PID for them."""
    dump = shared_data_dir() / "wikidata" / "entities.json.gz"
    if not dump.is_file():
        pytest.skip(f"shared Wikidata subset not found at {dump}")
    used: Counter[str] = Counter()
    with gzip.open(dump, "rb") as lines:
        for line in lines:
            if not line.startswith(b"{"):
                continue
            for pid, statements in orjson.loads(line.rstrip().rstrip(b",")).get("claims", {}).items():
                if any(s.get("mainsnak", {}).get("datavalue", {}).get("type") == "wikibase-entityid"
                       for s in statements):
                    used[pid] += 1
    assert len(used) > 100         # the subset was read
    unnamed = sorted(pid for pid, n in used.items() if n >= 10 and pid not in PROPERTY_LABELS)
    assert unnamed == []
