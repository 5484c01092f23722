"""Spotting and ranking cases a reader of news would notice (real Wikidata items)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from linkers import link
from linkers.ranker import DEFAULT_WEIGHTS
from linkers.spotter import spot

from wikidata_dump import built_kb, item

GM = item("Q81965", "General Motors", "automotive manufacturing corporation based in Detroit",
          enwiki="General Motors")
GE = item("Q54173", "General Electric", "American multinational conglomerate corporation",
          enwiki="General Electric")
REAGAN = item("Q9960", "Ronald Reagan", "40th president of the United States and actor",
              claims={"P31": ["Q5"]}, enwiki="Ronald Reagan")
PRIME_MINISTER = item("Q14212", "prime minister", "head of a cabinet or government", enwiki="Prime minister")
# Places whose descriptions say what they have in common.
CORDOBA_SPAIN = item("Q5818", "Córdoba", "municipality in Andalusia, southern Spain", ["Cordova", "Cordoba"],
                     claims={"P1082": [325701]}, enwiki="Córdoba, Spain")
CORDOBA_PROVINCE = item("Q44759", "Córdoba Province", "province of Argentina", ["Cordoba Province"],
                        claims={"P1082": [3308876], "P17": ["Q414"]}, enwiki="Córdoba Province, Argentina")
SANTA_FE_PROVINCE = item("Q44823", "Santa Fe Province", "province of Argentina",
                         claims={"P1082": [3194537], "P17": ["Q414"]}, enwiki="Santa Fe Province")
FORMOSA_PROVINCE = item("Q44761", "Formosa Province", "province of Argentina",
                        claims={"P1082": [530162], "P17": ["Q414"]}, enwiki="Formosa Province")
ARGENTINA = item("Q414", "Argentina", "country in South America", claims={"P1082": [45808747]}, enwiki="Argentina")
# Musicians named by surname, and the others of those surnames.
CLAPTON = item("Q48187", "Eric Clapton", "English musician, singer, songwriter, and guitarist", enwiki="Eric Clapton")
JEFF_BECK = item("Q192474", "Jeff Beck", "English rock guitarist", claims={"P31": ["Q5"]}, enwiki="Jeff Beck")
JIMMY_PAGE = item("Q165467", "Jimmy Page", "British guitarist", enwiki="Jimmy Page")
LARRY_PAGE = item("Q4934", "Larry Page", "American computer scientist and Internet entrepreneur", ["Page"],
                  claims={"P31": ["Q5"]}, enwiki="Larry Page")
PAGE_ARIZONA = item("Q79940", "Page", "city in Coconino County, Arizona, United States",
                    claims={"P1082": [7247]}, enwiki="Page, Arizona")
KIDDER = item("Q234471", "Margot Kidder", "Canadian-American actress and activist", claims={"P31": ["Q5"]},
              enwiki="Margot Kidder")
PEABODY = item("Q328898", "George Foster Peabody", "banker and philanthropist", claims={"P31": ["Q5"]},
               enwiki="George Foster Peabody")
ITEMS = [GM, GE, REAGAN, PRIME_MINISTER, CORDOBA_SPAIN, CORDOBA_PROVINCE, ARGENTINA, SANTA_FE_PROVINCE, FORMOSA_PROVINCE,
         CLAPTON, JEFF_BECK, JIMMY_PAGE, LARRY_PAGE, PAGE_ARIZONA, KIDDER, PEABODY]


@pytest.fixture(scope="module")
def quality_kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("quality-kb"), ITEMS)


def linked(text: str, kb) -> list[tuple[str, str]]:
    return [(m.text, m.qid) for m in link(text, kb).mentions if m.qid]


def test_a_name_that_starts_with_a_title_word_is_spotted_whole(quality_kb):
    # "General" is a title ("General Petraeus"), but "General Motors" is a company's own name
    got = linked("General Motors Corp and General Electric said President Reagan was right.", quality_kb)
    assert ("General Motors Corp", "Q81965") in got
    assert ("General Electric", "Q54173") in got
    assert ("Reagan", "Q9960") in got


def test_a_title_before_a_name_is_still_left_out(quality_kb):
    # "prime minister" is a label too, but a common noun's: the title stays out of the span
    assert linked("Prime Minister Reagan spoke.", quality_kb) == [("Reagan", "Q9960")]


def test_candidates_of_different_mentions_with_alike_descriptions_support_each_other(quality_kb):
    # "Cordoba" alone reads as the Spanish city (a label's alias beats a province's bare name);
    # next to Santa Fe and Formosa, all three "province of Argentina", the city is no longer
    # the confident reading (the province's surname-like bare name keeps it below a link)
    text = "Heavy rains flooded farms in Cordoba, Santa Fe and Formosa last week."
    assert ("Cordoba", "Q5818") not in linked(text, quality_kb)
    plain = [(m.text, m.qid) for m in link(text, quality_kb, weights=replace(DEFAULT_WEIGHTS, similar=0.0)).mentions
             if m.qid]
    assert ("Cordoba", "Q5818") in plain
    assert linked("Heavy rains flooded farms in Cordoba last week.", quality_kb) == [("Cordoba", "Q5818")]


def test_surnames_in_a_list_of_alike_people_name_those_people(quality_kb):
    text = "Three of the greatest guitarists started their career in a single band: Clapton, Beck, and Page."
    got = linked(text, quality_kb)
    assert ("Clapton", "Q48187") in got and ("Beck", "Q192474") in got and ("Page", "Q165467") in got
    # one surname alone stays a surname: too weak to name anyone
    assert linked("Clapton started his career in a single band.", quality_kb) == []


def test_a_partnership_name_is_not_a_list_of_people(quality_kb):
    # "Kidder, Peabody and Co" is a firm; its partners' namesakes are not meant
    spans = spot("The offering is led by Kidder, Peabody and Co, the underwriter said.", quality_kb)
    assert [(sp.text, sp.listed) for sp in spans] == [("Kidder", None), ("Peabody", None)]
    listed = spot("A band: Clapton, Beck, and Page.", quality_kb)
    assert [sp.text for sp in listed] == ["Clapton", "Beck", "Page"]
    assert len({sp.listed for sp in listed}) == 1 and listed[0].listed is not None
    assert linked("The offering is led by Kidder, Peabody and Co, the underwriter said.", quality_kb) == []


# Names whose capitalised reading competes with a common noun's or a region's.
MOON = item("Q405", "Moon", "only natural satellite of Earth", ["Earth's satellite", "Selene"],
            claims={"P31": ["Q2537"]}, enwiki="Moon")
NATURAL_SATELLITE = item("Q2537", "natural satellite",
                         "celestial body that orbits a planet or other smaller body in turn directly orbiting a star",
                         ["secondary planet", "moon"], enwiki="Natural satellite")
HIROSHIMA = item("Q34664", "Hiroshima", "city in Japan", claims={"P31": ["Q515"]}, enwiki="Hiroshima")
HIROSHIMA_PREFECTURE = item("Q617375", "Hiroshima Prefecture", "prefecture of Japan", claims={"P31": ["Q50337"]},
                            enwiki="Hiroshima Prefecture")
# A name as a word (Wikidata item "Bill", male given name).
BILL_NAME = item("Q18245781", "Bill", "male given name", ["Bill (given name)"], claims={"P31": ["Q12308941"]})
# Wikidata PageRank of these items (the real values): the common noun and the region are the
# more popular readings of the bare word.
PAGERANK = {"Q405": 2.287595e-06, "Q2537": 7.829295e-06, "Q34664": 1.0e-06, "Q617375": 9.677480e-06}


@pytest.fixture(scope="module")
def names_kb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("names-kb")
    pagerank = folder / "pagerank.tsv"
    pagerank.write_text("".join(f"{q}\t{v:e}\n" for q, v in PAGERANK.items()))
    return built_kb(folder, [MOON, NATURAL_SATELLITE, HIROSHIMA, HIROSHIMA_PREFECTURE, BILL_NAME],
                    popularity=str(pagerank))


def test_a_capitalised_word_mid_sentence_is_not_read_as_its_common_noun(names_kb):
    # "moon" the common noun never matches a capitalised mention, so its share of the prior is
    # not held against "Moon" when the capital says it is a name
    assert linked("Armstrong was the first man on the Moon.", names_kb) == [("Moon", "Q405")]
    # at a sentence start, after an opening quote, or inside a longer name the capital says
    # nothing, and the common noun's share stands
    for text in ("Moon rocks were shown.", 'He said "Moon rocks are grey."', "She studied at Moon of Arizona."):
        sp = spot(text, names_kb)[0]
        assert sp.text == "Moon" and sp.candidates[0][1] < 0.9
    assert spot("Armstrong was the first man on the Moon.", names_kb)[0].candidates[0][1] == pytest.approx(1.0)


def test_a_region_bare_name_does_not_drain_the_city_of_that_name(names_kb):
    # "Hiroshima" is the city's label and the prefecture's bare name: the prefecture is the more
    # popular entity, but it is mostly named in full, so the city keeps the whole label prior
    rows = {names_kb.record(e)["id"]: p for e, p, _f in names_kb.candidates("hiroshima")}
    # (the prefecture keeps its share among all the key's names: it does not gain either)
    assert rows["Q34664"] == pytest.approx(1.0) and 0.2 < rows["Q617375"] < 0.8
    assert linked("The Enola Gay bombed Hiroshima at the end of the war.", names_kb) == [("Hiroshima", "Q34664")]


def test_a_name_in_a_text_never_names_the_name_item(names_kb):
    # "the vision of Bill" means a person called Bill (here one the KB lacks), not the given name
    assert [sp.text for sp in spot("It would fulfill the vision of Bill.", names_kb)] == ["Bill"]
    assert linked("It would fulfill the vision of Bill.", names_kb) == []


def test_similar_descriptions_count_only_within_a_block_of_nearby_mentions(quality_kb, monkeypatch):
    # a long text is compared in blocks of consecutive mentions (memory stays linear): with
    # the provinces in one block they support each other, with one mention per block they
    # do not, and the text links as if the similarity were off
    text = "Heavy rains flooded farms in Cordoba, Santa Fe and Formosa last week."
    assert ("Cordoba", "Q5818") not in linked(text, quality_kb)
    monkeypatch.setattr("linkers.ranker.SIMILARITY_BLOCK", 1)
    assert ("Cordoba", "Q5818") in linked(text, quality_kb)
