"""People named by given name alone, and people whose record has no type (P31)."""
from __future__ import annotations

import pytest

from linkers import link
from linkers.kb.dump import is_person

from wikidata_dump import built_kb, item

# Real Wikidata items (labels, descriptions, the claims that matter here).
JOLIE = item("Q13909", "Angelina Jolie", "American actress, filmmaker and humanitarian",
             claims={"P31": ["Q5"], "P22": ["Q167520"], "P26": ["Q35332"]}, enwiki="Angelina Jolie")
VOIGHT = item("Q167520", "Jon Voight", "American actor", claims={"P31": ["Q5"], "P40": ["Q13909"]},
              enwiki="Jon Voight")
PITT = item("Q35332", "Brad Pitt", "American actor and filmmaker", claims={"P31": ["Q5"]}, enwiki="Brad Pitt")
STEWART = item("Q211987", "Jon Stewart", "American comedian", claims={"P31": ["Q5"]}, enwiki="Jon Stewart")
COUNTY = item("Q108379", "Angelina County", "county in Texas, United States",
              claims={"P31": ["Q47168"]}, enwiki="Angelina County, Texas")
# No P31 at all (as in subsets of Wikidata): a person by description, by claims.
PAGE = item("Q165467", "Jimmy Page", "British guitarist", enwiki="Jimmy Page")
SAIGAL = item("Q1395448", "Kundan Lal Saigal", claims={"P569": ["+1904-04-11"]})
BAND = item("Q2831", "Led Zeppelin Tribute", "English rock band")


@pytest.fixture(scope="module")
def family_kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("family-kb"), [JOLIE, VOIGHT, PITT, STEWART, COUNTY, PAGE, SAIGAL, BAND])


def test_given_names_link_when_claims_connect_the_people(family_kb):
    text = "Angelina, her father Jon, and her partner Brad never played together in the same movie."
    got = {m.text: m.qid for m in link(text, family_kb).mentions}
    assert got == {"Angelina": "Q13909", "Jon": "Q167520", "Brad": "Q35332"}


def test_a_lone_given_name_links_to_no_one(family_kb):
    result = link("Jon arrived late.", family_kb)
    assert [m.qid for m in result.mentions if m.qid] == []


def test_a_given_name_inside_a_full_name_is_not_a_given_name_mention(family_kb):
    got = [(m.text, m.qid) for m in link("Jon Stewart met Angelina Jolie.", family_kb).mentions]
    assert got == [("Jon Stewart", "Q211987"), ("Angelina Jolie", "Q13909")]


def test_untyped_records_are_people_by_description_or_claims(family_kb):
    assert is_person(family_kb.entity("Q165467"))
    assert is_person(family_kb.entity("Q1395448"))
    assert not is_person(family_kb.entity("Q2831"))
    assert not is_person(family_kb.entity("Q108379"))
    assert [c.qid for c in family_kb.lookup("Page")] == ["Q165467"]     # surname key
