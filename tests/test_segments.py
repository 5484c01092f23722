"""Segment input: a web page's blocks linked as one document. Each mention says which segment
it is in, with offsets into that segment (Python and JavaScript), and no name crosses two."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkers import LinkOptions, errors, link, link_segments
from service import shapes
from service_fixtures import finished_job


def js_index(text: str, i: int) -> int:
    return len(text[:i].encode("utf-16-le")) // 2


PAGE = ["Kremlin takes crack at Macron", "\U0001F600 He met with Putin about Ukraine.",
        "Paris is not the leader in NATO, they said."]


def test_each_mention_points_into_its_segment(news_kb):
    result = link_segments(PAGE, news_kb)
    found = {(m.segment, m.text): m.qid for m in result.mentions}
    assert found == {(0, "Macron"): "Q3052772", (1, "Putin"): "Q7747", (1, "Ukraine"): "Q212",
                     (2, "Paris"): "Q90", (2, "NATO"): "Q7184"}
    for m in result.mentions:
        segment = PAGE[m.segment]
        assert segment[m.start:m.end] == m.text
        assert (m.start_utf16, m.end_utf16) == (js_index(segment, m.start), js_index(segment, m.end))
    putin = next(m for m in result.mentions if m.text == "Putin")
    assert (putin.start, putin.start_utf16) == (14, 15)     # after the emoji: two UTF-16 units
    assert result.to_dict()["mentions"][0]["segment"] == 0
    assert "segment" not in link("Macron.", news_kb).to_dict()["mentions"][0]


def test_segments_are_one_document_for_cards_and_relations(news_kb):
    whole = link_segments(PAGE, news_kb, "2022-02-10")
    assert set(whole.entities) == {"Q3052772", "Q7747", "Q212", "Q90", "Q7184"}
    across = link_segments(["Macron flew back to Paris,", "France."], news_kb)
    relations = {(r.subject, r.property, r.object) for r in across.relations}
    assert {("Q90", "P17", "Q142"), ("Q3052772", "P27", "Q142")} <= relations


def test_a_short_form_in_a_later_segment_takes_the_longer_name(news_kb):
    result = link_segments(["The President of the French Republic spoke.",
                            "Later President of the French aides agreed."], news_kb,
                           options=LinkOptions(include_nil=True))
    assert [(m.segment, m.text, m.qid) for m in result.mentions] == [
        (0, "President of the French Republic", "Q191954"),
        (1, "President of the French", "Q191954")]


def test_a_name_split_over_two_segments_is_never_one_mention(news_kb):
    # inline markup: "<b>Emmanuel</b> Macron" sent as two segments; no span runs across them
    result = link_segments(["He met Emmanuel", " Macron in Paris."], news_kb)
    assert all(m.segment is not None for m in result.mentions)
    macron = next(m for m in result.mentions if m.qid == "Q3052772")
    assert (macron.segment, macron.text) == (1, "Macron")


NAMES = ["Macron", "Putin", "Paris", "NATO", "Ukraine", "Emmanuel", "New", "York", "and", "the"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(NAMES), max_size=4).map(" ".join), min_size=1,
                max_size=5))
def test_every_mention_lies_inside_one_segment(news_kb, segments):
    for m in link_segments(segments, news_kb).mentions:
        assert 0 <= m.start < m.end <= len(segments[m.segment])
        assert segments[m.segment][m.start:m.end] == m.text


def test_segments_must_be_a_list_of_strings(news_kb):
    with pytest.raises(errors.InvalidInput):
        link_segments(["fine", 3], news_kb)


# --- over HTTP -------------------------------------------------------------------------------

def test_annotate_takes_segments(http, api):
    response = http.post(f"{api.url}/v1/annotate",
                         json={"segments": PAGE, "published_at": "2022-02-10"})
    assert response.status_code == 200, response.text
    mentions = response.json()["mentions"]
    assert {(m["segment"], m["text"], m["qid"]) for m in mentions} >= {
        (0, "Macron", "Q3052772"), (1, "Putin", "Q7747"), (2, "NATO", "Q7184")}
    for m in mentions:
        segment = PAGE[m["segment"]]
        assert segment[m["start"]:m["end"]] == m["text"]
        assert js_index(segment, m["start"]) == m["start_utf16"]


def test_the_same_words_in_other_segments_are_another_result(http, api):
    joined = http.post(f"{api.url}/v1/annotate", json={"segments": ["Macron met Putin."]})
    split = http.post(f"{api.url}/v1/annotate", json={"segments": ["Macron met", "Putin."]})
    assert joined.headers["X-Factlink-Job"] != split.headers["X-Factlink-Job"]
    assert [m["segment"] for m in split.json()["mentions"]] == [0, 1]


def test_jobs_take_segments(http, api):
    response = http.post(f"{api.url}/v1/jobs", json={"articles": [
        {"segments": ["NATO allies met.", "Putin answered."]}, {"text": "Putin answered."}]})
    assert response.status_code == 202, response.text
    first, second = (finished_job(http, api.url, job["id"]) for job in response.json()["jobs"])
    assert [(m["segment"], m["start"], m["text"]) for m in first["result"]["mentions"]] == [
        (0, 0, "NATO"), (1, 0, "Putin")]
    assert "segment" not in second["result"]["mentions"][0]


@pytest.mark.parametrize("body, code", [
    ({"segments": "Macron"}, "invalid_input"),
    ({"segments": ["Macron", None]}, "invalid_input"),
    ({"segments": []}, "invalid_input"),
    ({"segments": ["  ", ""]}, "invalid_input"),
    ({"segments": ["Macron"], "text": "Macron"}, "invalid_input"),
    ({"published_at": "2022-02-10"}, "missing_field"),
])
def test_bad_segments_are_clear_errors(http, api, body, code):
    response = http.post(f"{api.url}/v1/annotate", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_too_many_segment_bytes_is_413(http, redis_server, start_api):
    small = start_api(REDIS_URL=redis_server.url, FACTLINK_MAX_TEXT_BYTES="100")
    response = http.post(f"{small.url}/v1/annotate", json={"segments": ["x" * 60, "y" * 60]})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "text_too_large"


def test_the_openapi_document_describes_segments(http, api):
    document = http.get(f"{api.url}/v1/openapi.json").json()
    assert "segments" in document["paths"]["/v1/annotate"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    assert "segment" in shapes.MENTION["properties"]


def test_segments_in_web_annotation_and_nif(http, api):
    import rdflib
    body = {"segments": ["Kremlin takes crack at Macron", "Paris is not the leader in NATO."]}
    collection = http.post(f"{api.url}/v1/annotate?format=webannotation", json=body).json()
    quotes = {item["body"]: item["target"]["selector"][0] for item in collection["first"]["items"]}
    nato = quotes["http://www.wikidata.org/entity/Q7184"]
    assert (nato["prefix"], nato["exact"], nato["suffix"]) == ("Paris is not the leader in ",
                                                                "NATO", ".")
    turtle = http.post(f"{api.url}/v1/annotate?format=nif", json=body)
    assert turtle.status_code == 200, turtle.text
    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    nif = rdflib.Namespace("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#")
    assert {str(o) for o in graph.objects(None, nif.isString)} == set(body["segments"])
