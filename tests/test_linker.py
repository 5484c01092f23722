"""``link(text, kb)``: what a newsroom sees for a sentence — mentions with offsets that point at
the right characters (in Python and in JavaScript), their Wikidata QIDs, NIL spans for what the
KB lacks, fact cards and the relations between the entities of the text."""
from __future__ import annotations

import orjson
import pytest

from linkers import LINKER_VERSION, LinkOptions, errors, link

SAMPLE = ("Kremlin takes crack at Macron after he met with Putin about Ukraine, saying Paris is "
          "'not the leader' in NATO so they 'couldn't do any deals'.")


def linked(result) -> dict[str, str | None]:
    """Mention text -> QID (None for NIL)."""
    return {m.text: m.qid for m in result.mentions}


def js_index(text: str, i: int) -> int:
    return len(text[:i].encode("utf-16-le")) // 2


def test_the_sample_sentence_with_the_starter_kb(starter_kb):
    result = link(SAMPLE, starter_kb)
    mentions = linked(result)
    assert mentions["NATO"] == "Q7184"
    assert mentions["Ukraine"] == "Q212"
    assert mentions["Macron"] == "Q3052772"
    assert mentions["Putin"] == "Q7747"
    assert result.entities["Q3052772"]["label"] == "Emmanuel Macron"


def test_the_sample_sentence_links_every_name(news_kb):
    result = link(SAMPLE, news_kb)
    assert linked(result) == {"Macron": "Q3052772", "Putin": "Q7747", "Ukraine": "Q212",
                              "Paris": "Q90", "NATO": "Q7184"}
    for m in result.mentions:
        assert SAMPLE[m.start:m.end] == m.text
        assert 0.0 < m.confidence <= 1.0
    assert set(result.entities) == {"Q3052772", "Q7747", "Q212", "Q90", "Q7184"}
    assert result.kb_version == news_kb.version
    assert result.linker_version == LINKER_VERSION


def test_offsets_point_at_the_mention_after_emoji_and_curly_quotes(news_kb):
    text = "\U0001F1EB\U0001F1F7 \u201cMacron\u201d \U0001F600 met Putin \u2014 NATO\u2019s chief\u00a0was in Paris."
    result = link(text, news_kb)
    assert linked(result) == {"Macron": "Q3052772", "Putin": "Q7747", "NATO": "Q7184", "Paris": "Q90"}
    for m in result.mentions:
        assert text[m.start:m.end] == m.text
        assert m.start_utf16 == js_index(text, m.start)
        assert m.end_utf16 == js_index(text, m.end)
    nato = next(m for m in result.mentions if m.text == "NATO")
    assert (nato.start, nato.end, nato.start_utf16, nato.end_utf16) == (26, 30, 29, 33)


@pytest.mark.parametrize("apostrophe", ["'", "\u2019"])
def test_a_possessive_links_the_name_without_its_ending(news_kb, apostrophe):
    text = f"NATO{apostrophe}s allies met in Paris."
    nato = link(text, news_kb).mentions[0]
    assert (nato.text, nato.qid, nato.start, nato.end) == ("NATO", "Q7184", 0, 4)


def test_lowercase_us_is_not_the_united_states(news_kb):
    result = link("Let us talk about sanctions on Russia, one of us said.", news_kb)
    assert linked(result) == {"Russia": "Q159"}


def test_dotted_u_s_is_the_united_states(news_kb):
    result = link("The U.S. imposed sanctions on Russia.", news_kb)
    assert linked(result) == {"U.S.": "Q30", "Russia": "Q159"}


def test_uppercase_us_is_the_united_states(news_kb):
    result = link("The US imposed sanctions on Russia.", news_kb)
    assert linked(result) == {"US": "Q30", "Russia": "Q159"}


def test_an_unknown_company_comes_back_as_a_nil_mention(news_kb):
    text = "Thermo-Print GmbH signed a deal with NATO."
    result = link(text, news_kb)
    nil = result.mentions[0]
    assert (nil.text, nil.qid, nil.label, nil.start, nil.end) == ("Thermo-Print GmbH", None, None, 0, 17)
    assert linked(result)["NATO"] == "Q7184"
    assert "Thermo-Print GmbH" not in linked(link(text, news_kb, options=LinkOptions(include_nil=False)))


def test_a_name_the_kb_lacks_takes_the_entity_of_a_longer_name_it_begins_earlier(news_kb):
    text = ("President of the French aides met. The President of the French Republic spoke. "
            "Later President of the French aides agreed.")
    result = link(text, news_kb, options=LinkOptions(include_nil=True))
    assert [(m.text, m.qid) for m in result.mentions] == [
        ("President of the French", None),                   # nothing before it to be short for
        ("President of the French Republic", "Q191954"),
        ("President of the French", "Q191954")]
    assert result.mentions[2].confidence == result.mentions[1].confidence


def test_threshold_one_makes_every_mention_nil(news_kb):
    result = link(SAMPLE, news_kb, options=LinkOptions(threshold=1.0))
    assert [m.text for m in result.mentions] == ["Macron", "Putin", "Ukraine", "Paris", "NATO"]
    assert all(m.qid is None and m.label is None for m in result.mentions)
    assert result.entities == {} and result.relations == []


def test_top_k_returns_the_ranked_candidates(news_kb):
    result = link("Macron was in Paris.", news_kb, options=LinkOptions(top_k=3)).to_dict()
    for mention in result["mentions"]:
        candidates = mention["candidates"]
        assert 1 <= len(candidates) <= 3
        assert candidates[0]["qid"] == mention["qid"]
        assert set(candidates[0]) == {"qid", "label", "score", "description"}
        assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
    without = link("Macron was in Paris.", news_kb).to_dict()
    assert all("candidates" not in m for m in without["mentions"])


def test_published_at_accepts_a_date_or_a_timestamp(news_kb):
    assert link("Macron.", news_kb, published_at="2022-02-10").published_at == "2022-02-10"
    result = link("Macron met Putin.", news_kb, published_at="2022-02-10T09:30:00Z")
    assert result.published_at == "2022-02-10"
    assert result.entities["Q3052772"]["as_of"] == "2022-02-10"


@pytest.mark.parametrize("bad", ["2022-13-01", "2022-02-30", "10/02/2022", "yesterday", "", 20220210,
                                 "2022-02-10T25:00:00"])
def test_a_bad_published_at_is_invalid_input(news_kb, bad):
    with pytest.raises(errors.InvalidInput) as raised:
        link("Macron met Putin.", news_kb, published_at=bad)
    assert raised.value.details["field"] == "published_at"


def test_text_must_be_a_string(news_kb):
    with pytest.raises(errors.InvalidInput):
        link(b"Macron", news_kb)


def test_empty_text_has_no_mentions(news_kb):
    assert link("", news_kb).to_dict()["mentions"] == []


def test_options_round_trip_through_their_canonical_dict():
    options = LinkOptions.from_dict({"threshold": 1, "top_k": 5, "relations": False})
    assert options.threshold == 1.0 and isinstance(options.threshold, float)
    assert LinkOptions.from_dict(options.to_dict()) == options
    assert LinkOptions.from_dict(None) == LinkOptions.from_dict({}) == LinkOptions()


@pytest.mark.parametrize("raw", [
    {"treshold": 0.5}, {"threshold": "high"}, {"threshold": 1.5}, {"threshold": -0.1},
    {"threshold": True}, {"top_k": 2.5}, {"top_k": -1}, {"top_k": 51}, {"top_k": True},
    {"fact_cards": "yes"}, {"include_nil": 1}, ["threshold", 0.5], "threshold=0.5",
])
def test_unknown_or_ill_typed_options_are_invalid_input(raw):
    with pytest.raises(errors.InvalidInput) as raised:
        LinkOptions.from_dict(raw)
    assert raised.value.code == "invalid_input"


def test_relations_connect_entities_linked_in_the_same_text(news_kb):
    result = link("Macron flew back to Paris, France.", news_kb)
    relations = {(r.subject, r.property, r.object): r for r in result.relations}
    assert relations[("Q90", "P17", "Q142")].property_label == "country"
    assert relations[("Q142", "P36", "Q90")].property_label == "capital"
    assert relations[("Q3052772", "P27", "Q142")].property_label == "country of citizenship"
    assert ("Q142", "P35", "Q3052772") in relations
    assert all(r.current for r in result.relations)


def test_a_relation_outside_its_dates_is_not_current(news_kb):
    result = link("Putin spoke for Russia.", news_kb, published_at="2010-01-01")
    head_of_state = {(r.subject, r.property, r.object): r.current for r in result.relations}
    assert head_of_state[("Q159", "P35", "Q7747")] is False       # Medvedev's term


def test_a_relation_is_current_when_any_of_its_statements_is(news_kb):
    result = link("Putin spoke for Russia.", news_kb, published_at="2022-02-10")
    head_of_state = {(r.subject, r.property, r.object): r.current for r in result.relations}
    assert head_of_state[("Q159", "P35", "Q7747")] is True


def test_no_relations_and_no_cards_when_switched_off(news_kb):
    result = link("Macron flew back to Paris, France.", news_kb,
                  options=LinkOptions(fact_cards=False, relations=False))
    assert result.entities == {} and result.relations == []
    assert linked(result)["Paris"] == "Q90"


def test_the_result_is_json(news_kb):
    text = "\U0001F600 Thermo-Print GmbH told \u201cMacron\u201d in Paris, France."
    body = link(text, news_kb, published_at="2022-02-10", options=LinkOptions(top_k=2)).to_dict()
    assert orjson.loads(orjson.dumps(body)) == body
    assert set(body) == {"mentions", "entities", "relations", "kb_version", "linker_version", "published_at"}
    assert set(body["mentions"][0]) == {"start", "end", "start_utf16", "end_utf16", "text", "qid", "label",
                                        "confidence", "candidates"}
    card = body["entities"]["Q90"]
    assert card["wikidata_url"] == "https://www.wikidata.org/wiki/Q90"
    assert card["wikipedia_url"] == "https://en.wikipedia.org/wiki/Paris"
