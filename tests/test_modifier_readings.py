"""Readings a one-word modifier before a common noun does not have (the genre, the film), and
a name's only reading that nothing in the text supports (an obscure ship for a region's name),
on invented sentences over a small KB of real Wikidata items (QIDs, labels and claims as the
shared subset has them; checked below)."""
from __future__ import annotations

import pytest

from linkers import link

from wikidata_dump import assert_real_items, built_kb, item

GENRE = item("Q483394", "genre", "category of creative works based on stylistic, thematic or technical criteria",
             [], {})
WESTERN = item("Q21590660", "Western", "multimedia genre of stories set primarily in the American Old West",
               [], {"P31": ["Q483394"]}, enwiki="Western (genre)")
INSIDER = item("Q463832", "The Insider", "1999 film directed by Michael Mann", ["Insider"],
               {"P31": ["Q11424"], "P136": ["Q130232"]}, enwiki="The Insider (film)")
RUSSIA = item("Q159", "Russia", "country in Eastern Europe and Northern Asia", [],
              {"P31": ["Q6256"]}, enwiki="Russia")
SHIP = item("Q12101971", "Donbas", "1970 command ship", [], {"P31": ["Q4232629"]})
UKRAINE = item("Q212", "Ukraine", "country in Eastern Europe", [], {"P31": ["Q6256"]}, enwiki="Ukraine")
ITEMS = [GENRE, WESTERN, INSIDER, RUSSIA, SHIP, UKRAINE]


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    return built_kb(tmp_path_factory.mktemp("modifier-kb"), ITEMS)


def linked(text: str, kb) -> dict[str, str | None]:
    return {m.text: m.qid for m in link(text, kb).mentions}


def test_the_items_of_these_tests_are_real_wikidata_items(full_kb):
    assert_real_items(full_kb, ITEMS)


def test_an_adjective_whose_only_readings_are_a_genre_or_a_work_is_not_linked(kb):
    # "Western diplomats" are not the film genre, "Insider sources" not the film
    got = linked("Western diplomats and Insider sources said Russia had moved more troops.", kb)
    assert got.get("Western") is None and got.get("Insider") is None
    assert got["Russia"] == "Q159"


def test_a_names_only_reading_that_nothing_in_the_text_supports_is_not_linked(kb):
    # the KB knows "Donbas" only as a ship: in a story about a region it stays NIL...
    got = linked("Shelling resumed in Donbas overnight, Ukraine said, and Russia denied it.", kb)
    assert got.get("Donbas") is None and got["Ukraine"] == "Q212"
    # ... and a text about ships links it
    assert linked("The command ship Donbas left port with a new crew.", kb)["Donbas"] == "Q12101971"
