"""Operations: liveness, readiness, Prometheus metrics, the OpenAPI document, and what clients
see when Redis or the workers are down (503 with Retry-After, never a hang or a traceback)."""
from __future__ import annotations

import re

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
    assert http.get(f"{api.url}/readyz").status_code == 503
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
