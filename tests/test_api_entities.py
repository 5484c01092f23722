"""Fact cards for browsers (GET /v1/entities/{qid}: cached, ETag, 304), candidate lookup, and
cards refreshed from the Wikidata API (a local stand-in) served over the KB's."""
from __future__ import annotations

import redis as redis_client
from service_fixtures import wait_for

from service import shapes
from workers import keys


def test_a_card_has_validators_for_browser_caches(http, api):
    first = http.get(f"{api.url}/v1/entities/Q7184")
    assert first.status_code == 200
    card = first.json()
    assert set(shapes.FACT_CARD["required"]) <= card.keys()
    assert (card["qid"], card["label"]) == ("Q7184", "NATO")
    assert first.headers["ETag"].startswith('"')
    assert "max-age=" in first.headers["Cache-Control"]

    again = http.get(f"{api.url}/v1/entities/Q7184")
    assert again.headers["X-Factlink-Cache"] == "hit"
    assert again.headers["ETag"] == first.headers["ETag"] and again.content == first.content

    unchanged = http.get(f"{api.url}/v1/entities/Q7184",
                         headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == first.headers["ETag"]
    stale = http.get(f"{api.url}/v1/entities/Q7184", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_a_card_as_of_a_date_is_another_card(http, api):
    current = http.get(f"{api.url}/v1/entities/Q3052772")
    dated = http.get(f"{api.url}/v1/entities/Q3052772", params={"as_of": "2016-01-01"})
    assert current.status_code == dated.status_code == 200
    assert dated.json()["as_of"] == "2016-01-01"
    assert dated.headers["ETag"] != current.headers["ETag"]


def test_lookup_ranks_candidates_for_a_selection(http, api):
    response = http.get(f"{api.url}/v1/lookup", params={"mention": "NATO", "limit": "5"})
    assert response.status_code == 200
    body = response.json()
    assert set(shapes.LOOKUP["required"]) <= body.keys()
    assert body["candidates"][0]["qid"] == "Q7184"
    assert len(body["candidates"]) <= 5
    assert http.get(f"{api.url}/v1/lookup", params={"mention": "Xqzzyv"}).json()["candidates"] == []


def test_a_refreshed_card_is_served_over_the_kb_card(http, api, redis_server, wikidata_api):
    # what Wikidata says today (the stand-in answers like wbgetentities)
    wikidata_api.entities["Q90"] = {
        "type": "item", "id": "Q90",
        "labels": {"en": {"language": "en", "value": "Paris (refreshed)"}},
        "descriptions": {"en": {"language": "en", "value": "capital of France"}},
        "claims": {}, "sitelinks": {}}
    before = http.get(f"{api.url}/v1/entities/Q90")
    assert before.json()["label"] == "Paris"
    try:
        accepted = http.post(f"{api.url}/v1/entities/refresh", json={"qids": ["Q90", "Q90"]})
        assert accepted.status_code == 202
        assert accepted.json() == {"qids": ["Q90"], "status": "queued"}

        def refreshed():
            response = http.get(f"{api.url}/v1/entities/Q90")
            return response if response.json()["label"] == "Paris (refreshed)" else None
        after = wait_for(refreshed, 20, interval=0.1, what="the refreshed card")
        assert after.headers["ETag"] != before.headers["ETag"]
        assert after.headers["X-Factlink-Cache"] == "hit"
    finally:
        redis_client.Redis.from_url(redis_server.url).delete(keys.card_refresh("Q90", None))
