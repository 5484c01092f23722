"""Demonyms and metonymy in news (issue 10, points 2 and 3), on invented sentences over small
KBs of real Wikidata items (labels, descriptions and claims as Wikidata has them)."""
from __future__ import annotations

import pytest

from linkers import link

from wikidata_dump import built_kb, item

COUNTRY, SOVEREIGN = "Q6256", "Q3624078"
LANGUAGE, ETHNIC_GROUP = "Q34770", "Q41710"
NETHERLANDS = item("Q55", "Netherlands", "country in Northwestern Europe", ["Holland"],
                   {"P31": [COUNTRY], "P37": ["Q7411"], "P1082": [17407585]}, enwiki="Netherlands")
BELGIUM = item("Q31", "Belgium", "country in Western Europe", [],
               {"P31": [COUNTRY, SOVEREIGN], "P37": ["Q7411", "Q150", "Q188"], "P1082": [11584008]},
               enwiki="Belgium")
DUTCH = item("Q7411", "Dutch", "West Germanic language originating in the Netherlands and Belgium",
             ["Dutch language"], {"P31": [LANGUAGE]}, enwiki="Dutch language")
KENYA = item("Q114", "Kenya", "sovereign state in East Africa", ["Republic of Kenya"],
             {"P31": [COUNTRY, SOVEREIGN], "P1082": [48468138]}, enwiki="Kenya")
NIGERIA = item("Q1033", "Nigeria", "sovereign state in West Africa", ["Federal Republic of Nigeria"],
               {"P31": [COUNTRY, SOVEREIGN], "P1549": ["Nigerian"], "P1082": [206139589]}, enwiki="Nigeria")
NIGER = item("Q1032", "Niger", "sovereign state in West Africa", ["Republic of the Niger"],
             {"P31": [COUNTRY, SOVEREIGN], "P1549": ["Nigerien"], "P1082": [24206644]}, enwiki="Niger")
AMERICA = item("Q30", "United States of America", "sovereign state in North America",
               ["United States", "USA", "U.S."], {"P31": [COUNTRY, SOVEREIGN], "P1082": [328239523]},
               enwiki="United States")
AMERICANS = item("Q846570", "Americans", "citizens or residents of the United States of America",
                 ["American"], {"P31": [ETHNIC_GROUP]}, enwiki="Americans")


@pytest.fixture(scope="module")
def places_kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("demonyms"),
                    [NETHERLANDS, BELGIUM, DUTCH, KENYA, NIGERIA, NIGER, AMERICA, AMERICANS])


def linked(text: str, kb) -> dict[str, str | None]:
    return {m.text: m.qid for m in link(text, kb).mentions}


def test_a_language_used_as_an_adjective_names_the_country_it_is_official_in(places_kb):
    # the language's description names two countries and it is official in both (P37):
    # the one the description names first
    assert linked("Dutch officials said the talks would resume on Monday.", places_kb)["Dutch"] == "Q55"


def test_a_demonym_the_kb_has_no_item_for_links_the_country_its_name_extends(places_kb):
    assert linked("A Kenyan runner won the marathon in record time.", places_kb)["Kenyan"] == "Q114"


def test_the_countrys_demonym_claim_settles_between_two_names_it_extends(places_kb):
    # "Nigerian" extends both "Niger" and "Nigeria"; Nigeria's demonym (P1549) is "Nigerian"
    assert linked("Nigerian troops crossed the border at dawn.", places_kb)["Nigerian"] == "Q1033"


def test_a_people_named_as_an_adjective_links_the_country_its_description_names(places_kb):
    assert linked("Police arrested two American tourists near the port.", places_kb)["American"] == "Q30"


def test_coordinated_demonyms_before_one_noun_each_name_their_country(places_kb):
    got = linked("Kenyan and Nigerian officials met in Geneva.", places_kb)
    assert (got["Kenyan"], got["Nigerian"]) == ("Q114", "Q1033")


def test_a_demonym_not_before_a_noun_keeps_its_own_reading(places_kb):
    # "the Americans" are the people, "speaks Dutch" the language: not the country
    assert linked("The Americans arrived late.", places_kb).get("Americans") != "Q30"
    assert linked("She speaks Dutch at home.", places_kb).get("Dutch") != "Q55"
