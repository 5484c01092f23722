"""Operations: liveness, readiness, Prometheus metrics, the OpenAPI document, and what clients
see when Redis or the workers are down (503 with Retry-After, never a hang or a traceback)."""
from __future__ import annotations

import re

from service_fixtures import wait_for

from service import shapes
from service.handlers import ROUTES


def test_health_and_readiness(http, api):
    assert http.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{api.url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert set(shapes.READY["required"]) <= body.keys() and body["worker_answered"] is True
    assert "workers" not in body          # it counted ping answers (at most 1), not processes


def test_metrics_cover_latency_cache_queue_and_linking_time(http, api):
    http.post(f"{api.url}/v1/annotate", json={"text": "Ukraine asked NATO for help."})
    http.get(f"{api.url}/v1/jobs/{'f' * 32}")
    text = http.get(f"{api.url}/metrics").text
    assert 'factlink_http_request_seconds_bucket{le="0.001",method="POST",route="/v1/annotate"}' in text
    assert re.search(r'factlink_http_responses_total\{route="/v1/jobs/\{job_id\}",status="404"\} [1-9]', text)
    assert 'factlink_cache_lookups_total{kind="result",outcome="miss"}' in text
    assert re.search(r"^factlink_queue_depth \d", text, re.M)
    count = re.search(r"^factlink_link_seconds_count (\S+)", text, re.M)
    assert count and float(count.group(1)) >= 1          # reported by the worker via Redis


def test_the_openapi_document_describes_every_route(http, api):
    document = http.get(f"{api.url}/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for route in ROUTES:
        path = route.path
        assert route.method.lower() in document["paths"][path], f"{route.method} {path}"
    annotate = document["paths"]["/v1/annotate"]["post"]
    assert annotate["requestBody"]["content"]["application/json"]["schema"] == shapes.ARTICLE
    assert {"200", "202", "400", "413", "415", "429", "503"} <= annotate["responses"].keys()


def test_without_workers_annotate_is_503_and_jobs_still_queue(http, start_redis, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    refused = http.post(f"{api.url}/v1/annotate", json={"text": "Nobody will link this."})
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "no_workers"
    assert int(refused.headers["Retry-After"]) >= 1
    ready = http.get(f"{api.url}/readyz")          # readiness is the API's own: it stays in
    assert ready.status_code == 200 and ready.json()["worker_answered"] is False  # says 503
    queued = http.post(f"{api.url}/v1/jobs", json={"text": "Nobody will link this."})
    assert queued.status_code == 202                     # the queue is durable: workers come later
    assert http.get(f"{api.url}{queued.json()['jobs'][0]['poll']}").json()["status"] == "queued"


def test_with_redis_down_the_api_answers_503_with_retry_after(http, start_redis, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    assert http.get(f"{api.url}/v1/entities/Q7184").status_code == 200
    redis.stop()
    for method, path, body in [("POST", "/v1/annotate", {"text": "NATO"}),
                               ("POST", "/v1/jobs", {"text": "NATO"}),
                               ("GET", f"/v1/jobs/{'a' * 32}", None),
                               ("GET", "/readyz", None)]:
        response = http.request(method, api.url + path, json=body, timeout=10)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"]["code"] == "redis_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    # what needs only the KB keeps working
    assert http.get(f"{api.url}/v1/entities/Q7184").status_code == 200
    assert http.get(f"{api.url}/v1/lookup?mention=NATO").status_code == 200
    assert http.get(f"{api.url}/healthz").status_code == 200
    assert http.get(f"{api.url}/metrics").status_code == 200


# --- a Redis that answers but refuses writes: 503 with a stable code, never a 500 (issue 14) ---

def _refusing(http, api, code):
    for method, path, body in [("POST", "/v1/annotate", {"text": "NATO and Ukraine, once more."}),
                               ("POST", "/v1/jobs", {"text": "NATO and Ukraine, again."}),
                               ("GET", "/readyz", None)]:
        response = http.request(method, api.url + path, json=body, timeout=10)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"]["code"] == code, (path, response.text)
        assert int(response.headers["Retry-After"]) >= 1
    assert http.get(f"{api.url}/v1/entities/Q7184").status_code == 200   # served from the KB


def test_a_redis_out_of_memory_is_503_redis_out_of_memory(http, start_redis, start_worker,
                                                          start_api):
    import redis as redis_client
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    start_worker(redis.url)
    store = redis_client.Redis.from_url(redis.url)
    store.config_set("maxmemory-policy", "noeviction")
    store.config_set("maxmemory", 1)           # every write is over the limit
    try:
        _refusing(http, api, "redis_out_of_memory")
    finally:
        store.config_set("maxmemory", 0)


def test_a_read_only_redis_is_503_redis_read_only(http, start_redis, start_api):
    import redis as redis_client
    primary, replica = start_redis(), start_redis()
    api = start_api(REDIS_URL=replica.url)
    store = redis_client.Redis.from_url(replica.url)
    store.replicaof("127.0.0.1", primary.port)
    try:
        _refusing(http, api, "redis_read_only")
    finally:
        store.replicaof("no", "one")


def test_a_redis_that_cannot_persist_is_503_redis_disk_full(http, start_redis, start_api,
                                                            tmp_path):
    # what a full disk does: the background save fails, and Redis refuses writes (MISCONF)
    import redis as redis_client
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    store = redis_client.Redis.from_url(redis.url)
    store.config_set("stop-writes-on-bgsave-error", "yes")
    store.config_set("save", "3600 1")         # writes are refused only when saves are due
    gone = tmp_path / "gone"
    gone.mkdir()
    store.config_set("dir", str(gone))
    gone.rmdir()                               # every save now fails, as on a full disk
    store.bgsave()
    wait_for(lambda: store.info("persistence")["rdb_last_bgsave_status"] == "err", 10,
             what="the background save to fail")
    try:
        _refusing(http, api, "redis_disk_full")
    finally:
        store.config_set("save", "")
        store.config_set("stop-writes-on-bgsave-error", "no")
