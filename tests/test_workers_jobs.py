"""POST /v1/jobs and GET /v1/jobs/{id}: deterministic ids, free re-submission, batches, and a
job's life as the workers record it in Redis."""
from __future__ import annotations

import redis as redis_client
from service_fixtures import finished_job

from linkers import LinkOptions
from service import shapes
from workers import keys
from workers.jobs import Article


def submit(http, api, body) -> list[dict]:
    response = http.post(f"{api.url}/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(shapes.JOBS_ACCEPTED["required"]) <= accepted.keys()
    return accepted["jobs"]


def test_one_article_becomes_a_job_that_ends_done(http, api):
    [job] = submit(http, api, {"text": "Putin met Macron in Moscow.", "published_at": "2022-02-07"})
    assert job["status"] in ("queued", "done")
    status = finished_job(http, api.url, job["id"])
    assert set(shapes.JOB_STATUS["required"]) <= status.keys()
    assert status["status"] == "done"
    assert status["submitted_at"] <= status["updated_at"]
    assert {m["qid"] for m in status["result"]["mentions"]} >= {"Q7747", "Q3052772"}
    assert status["result"]["published_at"] == "2022-02-07"


def test_job_ids_are_deterministic_and_resubmitting_is_free(http, api, redis_server):
    article = {"text": "Ukraine and NATO, once.", "options": {"top_k": 2}}
    [first] = submit(http, api, article)
    finished_job(http, api.url, first["id"])
    store = redis_client.Redis.from_url(redis_server.url)
    submitted_at = store.hget(keys.job(first["id"]), "submitted_at")

    [again] = submit(http, api, {**article, "options": {"top_k": 2, "threshold": 0.35}})
    assert again == {**first, "status": "done"}          # same id, nothing queued
    assert store.hget(keys.job(first["id"]), "submitted_at") == submitted_at
    [other] = submit(http, api, {**article, "options": {"top_k": 3}})
    assert other["id"] != first["id"]


def test_a_batch_gives_one_job_per_article(http, api):
    articles = [{"text": f"Article {i}: Macron spoke about NATO in Paris."} for i in range(10)]
    articles.append(articles[0])                         # a duplicate in the batch
    jobs = submit(http, api, {"articles": articles})
    assert len(jobs) == 11 and jobs[10]["id"] == jobs[0]["id"]
    assert len({job["id"] for job in jobs}) == 10
    for job in jobs:
        assert finished_job(http, api.url, job["id"])["status"] == "done"


def test_the_job_id_is_what_the_api_and_workers_agree_on(http, api):
    # an API of another process computes the same id for the same article and KB
    [job] = submit(http, api, {"text": "NATO.", "published_at": "2020-01-01"})
    kb_version = finished_job(http, api.url, job["id"])["result"]["kb_version"]
    article = Article("NATO.", "2020-01-01", LinkOptions())
    assert article.job_id(kb_version) == job["id"]
    assert Article("NATO.", "2020-01-02", LinkOptions()).job_id(kb_version) != job["id"]
    assert article.job_id(kb_version + "-next") != job["id"]   # a new KB never reuses a result
