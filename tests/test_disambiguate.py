"""``link(..., mention_spans=...)``: the caller's spans are disambiguated as given (GERBIL's D2KB,
a NIF request's phrases); nothing is re-spotted, nothing given is dropped."""
from __future__ import annotations

import pytest

from linkers import LinkOptions, errors, link
from workers.jobs import Article


def spans_of(text: str, *surfaces: str) -> list[tuple[int, int]]:
    return [(text.index(s), text.index(s) + len(s)) for s in surfaces]


def test_only_the_given_spans_are_linked(news_kb):
    text = "Macron met Putin in Paris to talk about NATO."
    result = link(text, news_kb, mention_spans=spans_of(text, "Putin", "NATO"))
    assert [(m.text, m.qid) for m in result.mentions] == [("Putin", "Q7747"), ("NATO", "Q7184")]
    assert set(result.entities) == {"Q7747", "Q7184"}


def test_a_given_span_keeps_its_exact_offsets_even_inside_a_longer_name(news_kb):
    text = "Vladimir Putin spoke."
    [mention] = link(text, news_kb, mention_spans=[(9, 14)]).mentions
    assert (mention.start, mention.end, mention.text, mention.qid) == (9, 14, "Putin", "Q7747")


def test_a_given_span_the_spotter_doubts_is_still_read_as_a_name(news_kb):
    # spotting alone leaves "Putin" unlinked inside the longer capitalised run
    text = "Putin Agency Staff said so."
    assert [m.qid for m in link(text, news_kb).mentions if m.text == "Putin"] == [None]
    [mention] = link(text, news_kb, mention_spans=spans_of(text, "Putin")).mentions
    assert mention.qid == "Q7747"


def test_a_given_span_no_name_matches_is_a_nil_mention_not_dropped(news_kb):
    text = "Zorblax Vantari met Macron at dawn."
    result = link(text, news_kb, mention_spans=spans_of(text, "Zorblax Vantari", "dawn", "Macron"))
    assert [(m.text, m.qid) for m in result.mentions] == \
        [("Zorblax Vantari", None), ("Macron", "Q3052772"), ("dawn", None)]


def test_a_given_possessive_or_leading_the_links_the_name(news_kb):
    text = "NATO's summit and the United States agreed."
    result = link(text, news_kb, mention_spans=spans_of(text, "NATO's", "the United States"))
    assert [m.qid for m in result.mentions] == ["Q7184", "Q30"]


def test_given_spans_follow_the_options(news_kb):
    text = "Macron met Zorblax in Paris."
    given = spans_of(text, "Macron", "Zorblax", "Paris")
    no_nil = link(text, news_kb, options=LinkOptions(include_nil=False), mention_spans=given)
    assert [m.text for m in no_nil.mentions] == ["Macron", "Paris"]
    people = link(text, news_kb, options=LinkOptions(types=("person",)), mention_spans=given)
    assert [m.text for m in people.mentions] == ["Macron"]


@pytest.mark.parametrize("bad", [[(5, 3)], [(0, 99)], [(-1, 2)], [(0,)], [("0", "2")], [(6, 7)]])
def test_a_given_span_outside_the_text_or_empty_is_invalid_input(news_kb, bad):
    with pytest.raises(errors.InvalidInput) as caught:
        link("Macron spoke.", news_kb, mention_spans=bad)       # (6, 7) is the space
    assert caught.value.details["field"] == "mentions"


def test_given_spans_are_part_of_the_job_and_travel_in_its_message():
    plain = Article(text="Macron spoke.")
    given = Article(text="Macron spoke.", mention_spans=((0, 6),))
    assert plain.job_id("kb") != given.job_id("kb")
    assert Article.from_message(given.to_message()) == given
    assert "mention_spans" not in plain.to_message()
