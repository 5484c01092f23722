"""Bounded cost per text (issue 14): a mention budget cuts pathological texts short and says
so; a huge result is not cached for a week."""
from __future__ import annotations

import redis as redis_client
from service_fixtures import finished_job

from linkers import link
from workers import keys
from workers.tasks import LARGE_RESULT_TTL


def test_a_text_over_the_mention_budget_is_cut_and_flagged(news_kb):
    text = "Macron met Putin in Moscow. " * 200           # 600 names, invented and repetitive
    result = link(text, news_kb, max_mentions=50)
    assert result.truncated and result.to_dict()["truncated"] is True
    assert 0 < len(result.mentions) <= 50
    assert max(m.end for m in result.mentions) < len(text) // 2
    whole = link(text, news_kb)
    assert not whole.truncated and "truncated" not in whole.to_dict()
    spans = [(m.start, m.end) for m in result.mentions]
    assert spans == [(m.start, m.end) for m in whole.mentions][:len(spans)]   # just fewer


def test_within_the_budget_nothing_changes(news_kb):
    text = "Macron met Putin in Moscow."
    assert link(text, news_kb, max_mentions=50).to_dict() == link(text, news_kb).to_dict()


def test_the_service_applies_the_budget_and_keeps_big_results_briefly(http, start_redis,
                                                                     start_worker, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    start_worker(redis.url, FACTLINK_MAX_MENTIONS="20", FACTLINK_MAX_CACHED_RESULT_BYTES="2000")
    response = http.post(f"{api.url}/v1/jobs", json={"text": "Macron met Putin in Moscow. " * 40})
    job_id = response.json()["jobs"][0]["id"]
    status = finished_job(http, api.url, job_id)
    assert status["status"] == "done" and status["result"]["truncated"] is True
    assert len(status["result"]["mentions"]) <= 20
    store = redis_client.Redis.from_url(redis.url)
    assert 0 < store.ttl(keys.result(job_id)) <= LARGE_RESULT_TTL
