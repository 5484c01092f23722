"""Close readings of one name (issue 10, point 1): a brand and its company pool their belief
for the link decision; namesakes do not. And "U.S." after "U.S. dollar" is the country.
Invented sentences; records are real Wikidata items as the shared subset has them."""
from __future__ import annotations

from linkers import link
from linkers.kb import open_kb
from linkers.linker import Decision, links
from linkers.ranker import Scored
from linkers.readings import one_family
from linkers.shortforms import is_short_form
from linkers.spotter import Span


def record(qid: str, label: str, aliases: list[str], claims: dict | None = None) -> dict:
    return {"id": qid, "l": label, "a": aliases,
            "c": {p: [{"k": "i", "v": v} for v in vs] for p, vs in (claims or {}).items()}}


FACEBOOK = record("Q355", "Facebook", ["FB", "facebook.com"])
FACEBOOK_INC = record("Q380", "Facebook, Inc.", ["Facebook Inc", "FB", "Facebook", "Facebook Inc."])
APPLE_RECORDS = record("Q213710", "Apple", [])
APPLE_INC = record("Q312", "Apple Inc.", ["Apple"])
DOLLAR = record("Q4917", "United States dollar", ["US dollar", "U.S. Dollar", "USD"])


def test_a_brand_and_its_company_are_one_family_namesakes_are_not():
    assert one_family(FACEBOOK, FACEBOOK_INC)       # label + company suffix, and both "FB"
    assert not one_family(APPLE_RECORDS, APPLE_INC)  # the name alone is not enough
    owned = record("Q355", "Facebook", [], {"P127": ["Q380"]})
    assert one_family(owned, record("Q380", "Meta Platforms", []))    # a claim ties them


def test_a_family_share_reaching_the_threshold_links_the_better_reading():
    row = [Scored(0, 0.0, 0.27), Scored(1, 0.0, 0.24)]
    split = Decision(Span(0, 8, "Facebook", "facebook", []), row, row[0], (), 0.16)
    assert not links(split, threshold=0.35)
    split.family = 0.51
    assert links(split, threshold=0.35)
    assert not links(split, threshold=0.6)


def test_the_capitals_of_a_name_with_a_common_noun_head_are_not_its_short_form():
    assert not is_short_form("U.S.", DOLLAR, person=False)
    assert is_short_form("AP", record("Q40469", "Associated Press", []), person=False)


def test_a_service_named_like_its_company_links_though_they_split_the_belief(full_kb):
    kb = open_kb(full_kb)
    fb = next(m for m in link("He posted it on Facebook last week.", kb).mentions if m.text == "Facebook")
    assert fb.qid in ("Q355", "Q380") and fb.confidence < 0.5     # linked, with its honest confidence


def test_us_before_a_noun_after_the_us_dollar_is_the_country(full_kb):
    kb = open_kb(full_kb)
    text = "The U.S. dollar fell against the yen on Monday. U.S. petrochemical plants are running at full capacity."
    got = [(m.text, m.qid) for m in link(text, kb).mentions if m.qid]
    assert ("U.S. dollar", "Q4917") in got and ("U.S.", "Q30") in got


def test_the_items_of_these_tests_are_real_wikidata_items(full_kb):
    shared = open_kb(full_kb)
    for rec in (FACEBOOK, FACEBOOK_INC, APPLE_RECORDS, APPLE_INC, DOLLAR):
        assert shared.entity(rec["id"])["l"] == rec["l"], rec["id"]
    assert shared.entity("Q40469") is not None
