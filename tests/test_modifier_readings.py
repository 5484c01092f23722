"""Readings a one-word modifier before a common noun does not have (the genre, the film),
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
ITEMS = [GENRE, WESTERN, INSIDER, RUSSIA]


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
