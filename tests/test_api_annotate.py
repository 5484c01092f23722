"""POST /v1/annotate, as a client sees it: the sample article linked by a real worker, then
answered from the cache; a different option or date is a different result."""
from __future__ import annotations

from service import shapes
from service_fixtures import SAMPLE_ARTICLE, finished_job, wait_for


def annotate(http, api, **body):
    return http.post(f"{api.url}/v1/annotate", json=body)


def metric(http, api, name: str, **labels) -> float:
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
                     if labels else "")
    for line in http.get(f"{api.url}/metrics").text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def test_the_sample_article_links_nato_ukraine_and_macron(http, api):
    response = annotate(http, api, text=SAMPLE_ARTICLE, published_at="2022-02-10")
    assert response.status_code == 200, response.text
    result = response.json()
    assert set(shapes.LINK_RESULT["required"]) <= result.keys()
    linked = {m["text"]: m["qid"] for m in result["mentions"]}
    assert linked["NATO"] == "Q7184"
    assert linked["Ukraine"] == "Q212"
    assert linked["Macron"] == "Q3052772"
    assert {"Q7184", "Q212", "Q3052772"} <= result["entities"].keys()
    nato = result["entities"]["Q7184"]
    assert set(shapes.FACT_CARD["required"]) <= nato.keys()
    macron = next(m for m in result["mentions"] if m["text"] == "Macron")
    assert SAMPLE_ARTICLE[macron["start"]:macron["end"]] == "Macron"
    assert result["published_at"] == "2022-02-10"


def test_a_repeat_is_answered_from_the_cache(http, api):
    text = "NATO allies met in Paris to discuss Ukraine."
    hits_before = metric(http, api, "factlink_cache_lookups_total", kind="result", outcome="hit")
    first = annotate(http, api, text=text)
    second = annotate(http, api, text=text)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Factlink-Cache"] == "miss"
    assert second.headers["X-Factlink-Cache"] == "hit"
    assert second.content == first.content            # the stored bytes, as the worker wrote them
    assert second.headers["X-Factlink-Job"] == first.headers["X-Factlink-Job"]
    assert metric(http, api, "factlink_cache_lookups_total", kind="result", outcome="hit") \
        == hits_before + 1


def test_options_and_dates_are_part_of_the_cache_key(http, api):
    text = "Macron spoke to Putin about NATO."
    plain = annotate(http, api, text=text)
    same_as_defaults = annotate(http, api, text=text, options={"threshold": 0.35})
    with_candidates = annotate(http, api, text=text, options={"top_k": 3})
    dated = annotate(http, api, text=text, published_at="2019-06-01T08:30:00Z")
    assert same_as_defaults.headers["X-Factlink-Cache"] == "hit"   # options are canonical
    assert with_candidates.headers["X-Factlink-Cache"] == "miss"
    assert dated.headers["X-Factlink-Cache"] == "miss"
    assert "candidates" in with_candidates.json()["mentions"][0]
    assert "candidates" not in plain.json()["mentions"][0]
    assert dated.json()["published_at"] == "2019-06-01"


def test_a_slow_answer_becomes_a_job_to_poll(http, start_redis, start_worker, start_api):
    # a private Redis and a worker that takes 0.5 s to link: a short text on the shared worker
    # can be done (solo workers: ~2 ms) before the API's one read after its wait, and then the
    # answer is rightly a 200 even with no time to wait
    redis = start_redis()
    start_worker(redis.url, FACTLINK_DEBUG_LINK_DELAY="0.5")
    impatient = start_api(REDIS_URL=redis.url, FACTLINK_SYNC_TIMEOUT="0")
    # the 202 is for a slow answer, not for a worker the fresh API has not heard yet (its first
    # ping may take longer than its timeout on a loaded machine, which is a 503 no_workers)
    wait_for(lambda: http.get(f"{impatient.url}/readyz").json().get("worker_answered"), 30,
             interval=0.2, what="the API to hear the worker")
    response = http.post(f"{impatient.url}/v1/annotate",
                         json={"text": "Putin and Macron; a text nobody linked before."})
    assert response.status_code == 202
    accepted = response.json()
    assert set(shapes.JOB_ACCEPTED["required"]) <= accepted.keys()
    assert response.headers["Location"] == accepted["poll"] == f"/v1/jobs/{accepted['id']}"
    status = finished_job(http, impatient.url, accepted["id"])
    assert status["status"] == "done"
    assert any(m["qid"] == "Q7747" for m in status["result"]["mentions"])

