"""Is it a name of the KB at all, and which entity (issue 10, point 1): the two questions of
the link decision, on invented sentences over small KBs of real Wikidata items."""
from __future__ import annotations

from linkers import link
from linkers.calibration import link_probability, raw_confidence, which_probability, COEFFICIENTS, FEATURES
from linkers.linker import Decision, links
from linkers.ranker import Scored
from linkers.spotter import Span, spot

from wikidata_dump import built_kb, item

# (no sitelink: obscure in the test KB, as Royal Dutch Shell is in the shared subset's PageRank)
SHELL_COMPANY = item("Q154950", "Royal Dutch Shell", "British multinational oil and gas company",
                     ["Shell", "Shell plc"], {"P31": ["Q4830453"]})
SHELL_NOUN = item("Q1758063", "shell", "hard outer layer of an animal", ["shells"])


def _decision(shares: list[float], p_link: float, acting: bool) -> Decision:
    row = [Scored(eid, 0.0, p) for eid, p in enumerate(shares)]
    return Decision(Span(0, 6, "Amazon", "amazon", []), row, row[0], (), 0.2, p_link=p_link, acting=acting)


def test_a_sure_name_the_text_shows_acting_links_its_better_reading_however_close():
    # "Amazon will open ...": 0.30 on the company, 0.17 on the river, the rest on NIL
    assert links(_decision([0.30, 0.17], p_link=0.85, acting=True), threshold=0.35)
    # the same shares without the verb, or with a weak P(link), stay NIL
    assert not links(_decision([0.30, 0.17], p_link=0.85, acting=False), threshold=0.35)
    assert not links(_decision([0.30, 0.17], p_link=0.4, acting=True), threshold=0.35)
    # most belief on NIL: a weak hit, however sure the name looks
    assert not links(_decision([0.20, 0.05], p_link=0.95, acting=True), threshold=0.35)


def test_the_confidence_is_p_link_times_p_which():
    features = tuple(0.5 for _ in FEATURES)
    assert raw_confidence(features) == link_probability(features) * which_probability(features)
    assert len(COEFFICIENTS) == len(FEATURES)


def test_a_capitalised_word_starting_a_sentence_as_an_agent_is_a_name_not_the_common_noun(tmp_path):
    kb = built_kb(tmp_path, [SHELL_COMPANY, SHELL_NOUN])
    acting = next(sp for sp in spot("Shell agreed to sell its stake in the field.", kb) if sp.text == "Shell")
    bare = next(sp for sp in spot("Shell prices rose on the beach.", kb) if sp.text == "Shell")
    # the verb says the subject acts: the key's common-noun prior is left out, as mid-sentence
    assert acting.candidates[0][1] > bare.candidates[0][1]
    assert abs(sum(p for _e, p, _f in acting.candidates) - 1.0) < 1e-6


def test_a_company_acting_in_a_sentence_about_money_is_linked_though_nothing_else_names_it(tmp_path):
    kb = built_kb(tmp_path, [SHELL_COMPANY, SHELL_NOUN])
    sold = link("Shell agreed to sell its stake in the field for $2 billion.", kb)
    assert [(m.text, m.qid) for m in sold.mentions] == [("Shell", "Q154950")]
    # no money, no verb: the lone word at a sentence start stays what it was, unlinked
    assert not [m for m in link("Shell fragments lay on the beach.", kb).mentions if m.qid]


def test_the_west_in_a_story_from_moscow_is_not_a_region_that_merely_has_it_as_an_alias(tmp_path):
    west_us = item("Q12612", "Western United States",
                   "region comprising the westernmost states of the United States",
                   ["West (United States)", "The West", "West (U.S.)", "American West"], {"P31": ["Q82794"]},
                   enwiki="Western United States")
    russia = item("Q159", "Russia", "country in Eastern Europe and Northern Asia", [],
                  {"P31": ["Q6256"]}, enwiki="Russia")
    kb = built_kb(tmp_path, [west_us, russia])
    result = link("Russia has demanded binding security guarantees from the West.", kb)
    assert [(m.text, m.qid) for m in result.mentions if m.qid] == [("Russia", "Q159")]
