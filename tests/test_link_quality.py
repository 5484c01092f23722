"""Spotting and ranking cases a reader of news would notice (real Wikidata items)."""
from __future__ import annotations

import pytest

from linkers import build_kb, link, open_kb

from wikidata_dump import item, write_dump

GM = item("Q81965", "General Motors", "automotive manufacturing corporation based in Detroit",
          enwiki="General Motors")
GE = item("Q54173", "General Electric", "American multinational conglomerate corporation",
          enwiki="General Electric")
REAGAN = item("Q9960", "Ronald Reagan", "40th president of the United States and actor",
              claims={"P31": ["Q5"]}, enwiki="Ronald Reagan")
PRIME_MINISTER = item("Q14212", "prime minister", "head of a cabinet or government", enwiki="Prime minister")
ITEMS = [GM, GE, REAGAN, PRIME_MINISTER]


@pytest.fixture(scope="module")
def quality_kb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quality-kb")
    dump = write_dump(folder / "dump.json", ITEMS)
    build_kb([str(dump)], str(folder / "kb"), workers=1, progress=False)
    return open_kb(folder / "kb")


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
