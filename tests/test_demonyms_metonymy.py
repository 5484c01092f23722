"""Demonyms and metonymy in news (issue 10, points 2 and 3), on invented sentences over small
KBs of real Wikidata items (labels, descriptions and claims as Wikidata has them)."""
from __future__ import annotations

import pytest

from linkers import link
from linkers.linker import Decision, links
from linkers.ranker import Scored
from linkers.spotter import Span

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


def test_a_demonym_before_a_title_and_a_name_names_the_country_of_the_office(places_kb):
    # "Dutch Prime Minister <name>": the office is the Netherlands', not the language's
    got = linked("Dutch Prime Minister Anna de Vries flew to Nairobi on Monday.", places_kb)
    assert got["Dutch"] == "Q55"


def test_a_demonym_not_before_a_noun_keeps_its_own_reading(places_kb):
    # "the Americans" are the people, "speaks Dutch" the language: not the country
    assert linked("The Americans arrived late.", places_kb).get("Americans") != "Q30"
    assert linked("She speaks Dutch at home.", places_kb).get("Dutch") != "Q55"


# --- metonymy ------------------------------------------------------------------------------
CITY, CAPITAL, FOOTBALL_CLUB, LEGISLATURE = "Q515", "Q5119", "Q476028", "Q11204"
US = item("Q30", "United States of America", "sovereign state in North America",
          ["United States", "USA", "U.S.", "US"], {"P31": [COUNTRY, SOVEREIGN], "P1082": [328239523]},
          enwiki="United States")
INDIA = item("Q668", "India", "country in South Asia", ["Republic of India"],
             {"P31": [COUNTRY, SOVEREIGN], "P1082": [1326093247]}, enwiki="India")
US_CONGRESS = item("Q11268", "United States Congress", "bicameral legislature of the United States",
                   ["Congress", "U.S. Congress"], {"P31": ["Q189445"], "P571": ["+1789-03-04"]},
                   enwiki="United States Congress")
INDIAN_CONGRESS = item("Q10225", "Indian National Congress", "major political party in India",
                       ["Congress", "INC"], {"P31": ["Q7278"], "P571": ["+1885-12-28"]},
                       enwiki="Indian National Congress")
US_TREASURY = item("Q648666", "United States Department of the Treasury",
                   "United States federal executive department", ["Treasury Department"],
                   {"P571": ["+1789-09-02"]}, enwiki="United States Department of the Treasury")
TREASURY = item("Q10756188", "treasury", "place or location where treasure is kept")
WASHINGTON = item("Q61", "Washington, D.C.", "capital city of the United States",
                  ["Washington", "D.C."], {"P31": [CITY, CAPITAL], "P17": ["Q30"], "P1082": [689545]},
                  enwiki="Washington, D.C.")
US_GOVERNMENT = item("Q48525", "Federal Government of the United States of America",
                     "national government of the United States", ["United States government", "U.S. government"],
                     {"P571": ["+1789-01-01"]}, enwiki="Federal government of the United States")
CHELSEA_CLUB = item("Q9616", "Chelsea F.C.", "professional association football club based in London",
                    ["Chelsea", "Chelsea FC"], {"P31": [FOOTBALL_CLUB], "P571": ["+1905-03-10"]},
                    enwiki="Chelsea F.C.")
CHELSEA = item("Q743535", "Chelsea", "area of central London, England", ["Chelsea, London"],
               {"P31": ["Q2755753"], "P1082": [38000]}, enwiki="Chelsea, London")
NEWCASTLE_CLUB = item("Q18716", "Newcastle United F.C.", "English professional association football club",
                      ["Newcastle", "Newcastle United"], {"P31": [FOOTBALL_CLUB], "P571": ["+1892-12-09"]},
                      enwiki="Newcastle United F.C.")
NEWCASTLE = item("Q1425428", "Newcastle upon Tyne", "city in Tyne and Wear, England", ["Newcastle"],
                 {"P31": [CITY], "P1082": [300196]}, enwiki="Newcastle upon Tyne")


@pytest.fixture(scope="module")
def story_kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("metonymy"),
                    [US, INDIA, US_CONGRESS, INDIAN_CONGRESS, US_TREASURY, TREASURY, WASHINGTON,
                     US_GOVERNMENT, CHELSEA_CLUB, CHELSEA, NEWCASTLE_CLUB, NEWCASTLE])


def test_a_bare_institution_is_the_one_of_the_country_the_story_is_about(story_kb):
    text = "U.S. lawmakers were divided on Tuesday. Congress passed the budget after midnight."
    assert linked(text, story_kb)["Congress"] == "Q11268"
    text = "India's opposition regrouped on Tuesday. In Mumbai, Congress named a new leader for India."
    assert linked(text, story_kb)["Congress"] == "Q10225"


def test_a_common_noun_institution_is_looked_up_as_the_countrys_own(story_kb):
    # the KB has "Treasury" only as a common noun; the story's country names its own
    text = "U.S. stocks fell after the Treasury said it would sell more bonds."
    assert linked(text, story_kb)["Treasury"] == "Q648666"


def test_a_capital_that_speaks_is_the_government_where_the_kb_has_it(story_kb):
    got = linked("Washington warned on Friday that new tariffs were coming.", story_kb)
    assert got["Washington"] == "Q48525"
    # where it only places something, it stays the city, and is never NIL
    assert linked("The summit was held in Washington on Friday.", story_kb)["Washington"] == "Q61"


def test_a_place_in_a_sports_story_with_a_score_is_its_team(story_kb):
    got = linked("Chelsea beat Newcastle 2-1 on Saturday to go top of the table.", story_kb)
    assert (got["Chelsea"], got["Newcastle"]) == ("Q9616", "Q18716")
    # without a match the teams are not favoured (in this small KB, with no popularity to
    # tell the readings apart, the split names stay NIL)
    got = linked("House prices in Chelsea rose faster than in Newcastle last year.", story_kb)
    assert got["Chelsea"] != "Q9616" and got["Newcastle"] != "Q18716"


# --- headline case -------------------------------------------------------------------------
def test_a_persons_full_name_inside_a_headline_run_is_still_that_person(tmp_path):
    gaye = item("Q189758", "Marvin Gaye", "American singer-songwriter", claims={"P31": ["Q5"]},
                enwiki="Marvin Gaye")
    kb = built_kb(tmp_path, [gaye])
    # every word is capitalised: "Marvin Gaye" is embedded in "Marvin Gaye Day Tribute"
    assert linked("Radio Stations Plan Marvin Gaye Day Tribute", kb)["Marvin Gaye"] == "Q189758"


# --- close readings ------------------------------------------------------------------------
SERVICE, COMPANY = "Q3220391", "Q4830453"
FACEBOOK = item("Q355", "Facebook", "global online social networking service", ["FB"],
                {"P31": [SERVICE], "P571": ["+2004-02-04"], "P112": ["Q36215"]}, enwiki="Facebook")
FACEBOOK_INC = item("Q380", "Facebook, Inc.", "American social media and technology company",
                    ["Facebook", "Facebook Inc"], {"P31": [COMPANY], "P571": ["+2004-02-04"], "P112": ["Q36215"]},
                    enwiki="Meta Platforms")
ZUCKERBERG = item("Q36215", "Mark Zuckerberg", "American internet entrepreneur", ["Zuckerberg"],
                  {"P31": ["Q5"]}, enwiki="Mark Zuckerberg")
APPLE_FRUIT = item("Q89", "apple", "fruit of the apple tree", ["apples"])


def test_a_clear_name_with_two_close_readings_links_the_better_one_with_its_confidence(tmp_path):
    kb = built_kb(tmp_path, [FACEBOOK, FACEBOOK_INC, ZUCKERBERG, APPLE_FRUIT])
    result = link("Mark Zuckerberg said Facebook would hire 500 engineers in Dublin.", kb)
    fb = next(m for m in result.mentions if m.text == "Facebook")
    assert fb.qid in ("Q355", "Q380") and 0.0 < fb.confidence <= 1.0
    # a common word that only the KB's lower-case noun matches is no name at all
    assert all(m.text.lower() != "apples" for m in link("Prices of Apples rose.", kb).mentions if m.qid)


def _decision(shares: list[float], confidence: float) -> Decision:
    row = [Scored(eid, 0.0, p) for eid, p in enumerate(shares)]
    return Decision(Span(0, 8, "Facebook", "facebook", []), row, row[0], (), confidence)


def test_split_readings_of_a_clear_name_link_when_the_confidence_says_so():
    # 0.30 + 0.28 of the belief on two readings, the rest on NIL: under the threshold alone
    assert links(_decision([0.30, 0.28], confidence=0.6), threshold=0.35)
    assert not links(_decision([0.30, 0.28], confidence=0.3), threshold=0.35)
    # a weak hit: most belief on NIL, however confident the calibration of its pick
    assert not links(_decision([0.10], confidence=0.9), threshold=0.35)
    # a threshold of 1 makes every mention NIL
    assert not links(_decision([0.60, 0.39], confidence=0.99), threshold=1.0)


def test_a_name_followed_by_a_title_and_a_person_is_not_part_of_a_longer_name(tmp_path):
    bundesbank = item("Q162222", "Deutsche Bundesbank", "central bank of Germany", ["Bundesbank"],
                      {"P31": ["Q66344"], "P571": ["+1957-07-26"]}, enwiki="Deutsche Bundesbank")
    kb = built_kb(tmp_path, [bundesbank])
    text = "The minister met Bundesbank President Karl Otto Poehl in Frankfurt on Friday."
    assert linked(text, kb)["Bundesbank"] == "Q162222"

