"""Every error status the API promises, each produced by a real bad request, each as JSON
``{"error": {"code", "message"}}`` (never a traceback)."""
from __future__ import annotations

import pytest
import requests

from service import shapes
from service_fixtures import finished_job, wait_for
from workers import keys

JSON = {"Content-Type": "application/json"}


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(shapes.ERROR["required"]) <= body.keys()
    assert body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in response.text
    return body["error"]


@pytest.mark.parametrize("body, code", [
    (b"{not json", "malformed_json"),
    (b'["a list"]', "malformed_json"),
    (b"{}", "missing_field"),
    (b'{"text": 42}', "invalid_input"),
    (b'{"text": ""}', "invalid_input"),
    (b'{"text": "NATO", "txet": "typo"}', "invalid_input"),
    (b'{"text": "NATO", "options": {"threshold": 2}}', "invalid_input"),
    (b'{"text": "NATO", "options": {"colour": "red"}}', "invalid_input"),
    (b'{"text": "NATO", "options": []}', "invalid_input"),
    (b'{"text": "NATO", "published_at": "last Tuesday"}', "invalid_input"),
    (b'{"text": "NATO \xff\xfe"}', "invalid_encoding"),
    (b'{"text": "\\ud800"}', "malformed_json"),       # a lone surrogate is not Unicode
])
def test_bad_annotate_bodies_are_400(http, api, body, code):
    assert_error(http.post(f"{api.url}/v1/annotate", data=body, headers=JSON), 400, code)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_a_body_that_is_not_json_is_415(http, api, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(f"{api.url}/v1/annotate", data=b'{"text": "NATO"}', headers=headers)
    assert_error(response, 415, "unsupported_media_type")


def test_a_text_over_the_limit_is_413(http, redis_server, worker, start_api):
    small = start_api(REDIS_URL=redis_server.url, FACTLINK_MAX_TEXT_BYTES="1000")
    at_limit = http.post(f"{small.url}/v1/annotate", json={"text": "é" * 500})  # 1000 bytes
    assert at_limit.status_code == 200
    error = assert_error(http.post(f"{small.url}/v1/annotate", json={"text": "é" * 501}),
                         413, "text_too_large")
    assert error["details"] == {"limit": 1000, "size": 1002}


def test_an_oversized_body_is_refused_before_it_is_read(http, redis_server, start_api):
    small = start_api(REDIS_URL=redis_server.url, FACTLINK_MAX_TEXT_BYTES="1000")
    huge = b'{"text": "' + b"a" * 2_000_000 + b'"}'
    assert_error(http.post(f"{small.url}/v1/annotate", data=huge, headers=JSON),
                 413, "text_too_large")

    def chunked():        # no Content-Length: the server counts while reading
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 20_000
        yield b'"}'
    assert_error(http.post(f"{small.url}/v1/annotate", data=chunked(), headers=JSON),
                 413, "text_too_large")


def test_bad_job_requests(http, api):
    assert_error(http.post(f"{api.url}/v1/jobs", json={"articles": []}), 400, "invalid_input")
    assert_error(http.post(f"{api.url}/v1/jobs", json={"articles": [{"text": "ok"}, {}]}),
                 400, "missing_field")
    assert_error(http.post(f"{api.url}/v1/jobs", json={"articles": [{"text": "x"}], "more": 1}),
                 400, "invalid_input")
    assert_error(http.get(f"{api.url}/v1/jobs/{'0' * 32}"), 404, "unknown_job")
    assert_error(http.get(f"{api.url}/v1/jobs/not-a-job"), 404, "unknown_job")


def test_a_batch_over_the_limit_is_400(http, redis_server, start_api):
    small = start_api(REDIS_URL=redis_server.url, FACTLINK_MAX_BATCH="2")
    articles = [{"text": f"article {i}"} for i in range(3)]
    error = assert_error(http.post(f"{small.url}/v1/jobs", json={"articles": articles}),
                         400, "invalid_input")
    assert error["details"]["limit"] == 2


def test_bad_entity_and_lookup_requests(http, api):
    assert_error(http.get(f"{api.url}/v1/entities/Q999999999999"), 404, "unknown_entity")
    for bad in ("NATO", "q7184", "Q0", "Q7184x"):
        assert_error(http.get(f"{api.url}/v1/entities/{bad}"), 400, "invalid_input")
    assert_error(http.get(f"{api.url}/v1/entities/Q7184", params={"as_of": "2022-13-01"}),
                 400, "invalid_input")
    assert_error(http.get(f"{api.url}/v1/lookup"), 400, "missing_field")
    assert_error(http.get(f"{api.url}/v1/lookup", params={"mention": "NATO", "limit": "0"}),
                 400, "invalid_input")
    assert_error(http.post(f"{api.url}/v1/entities/refresh", json={"qids": ["Q1", "nope"]}),
                 400, "invalid_input")
    assert_error(http.post(f"{api.url}/v1/entities/refresh", json={}), 400, "missing_field")


def test_unknown_routes_and_methods_are_json_too(http, api):
    assert_error(http.get(f"{api.url}/v2/annotate"), 404, "not_found")
    error = http.delete(f"{api.url}/v1/annotate")
    assert_error(error, 405, "method_not_allowed")
    assert "POST" in error.headers["Allow"]


def test_a_full_queue_is_429_with_retry_after(http, start_redis, start_api):
    # no worker on this Redis: the first job stays queued and fills the queue
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url, FACTLINK_MAX_QUEUE="1")
    first = http.post(f"{api.url}/v1/jobs", json={"text": "first article"})
    assert first.status_code == 202
    again = http.post(f"{api.url}/v1/jobs", json={"text": "first article"})
    assert again.status_code == 202            # a known job adds nothing to the queue
    full = http.post(f"{api.url}/v1/jobs", json={"text": "second article"})
    assert_error(full, 429, "rate_limited")
    assert int(full.headers["Retry-After"]) >= 1


def test_an_annotate_refused_by_a_full_queue_leaves_no_claim_behind(http, start_redis,
                                                                    start_worker, start_api):
    # a worker is up (annotate then submits in one call) but busy with a slow article, and one
    # more waits in the queue: the next article is refused, and it is not left "queued" with
    # no task anywhere (sent later, it is linked at once)
    import redis as redis_client
    redis = start_redis()
    start_worker(redis.url, FACTLINK_DEBUG_LINK_DELAY="1.5")
    api = start_api(REDIS_URL=redis.url, FACTLINK_MAX_QUEUE="1", FACTLINK_SYNC_TIMEOUT="0.2")
    assert http.post(f"{api.url}/v1/annotate", json={"text": "the slow article"}).status_code == 202
    queue = redis_client.Redis.from_url(redis.url)
    wait_for(lambda: queue.llen(keys.QUEUE) == 0, 10, what="the worker to take the slow article")
    assert http.post(f"{api.url}/v1/jobs", json={"text": "the waiting article"}).status_code == 202
    assert_error(http.post(f"{api.url}/v1/annotate", json={"text": "the refused article"}),
                 429, "rate_limited")
    wait_for(lambda: queue.llen(keys.QUEUE) == 0, 10, what="the queue to drain")
    again = http.post(f"{api.url}/v1/jobs", json={"text": "the refused article"})
    assert again.status_code == 202
    job = again.json()["jobs"][0]
    assert job["status"] == "queued"
    assert finished_job(http, api.url, job["id"], timeout=10)["status"] == "done"


def test_a_client_over_its_rate_is_429_with_retry_after(http, redis_server, start_api):
    limited = start_api(REDIS_URL=redis_server.url, FACTLINK_RATE_LIMIT="0.5",
                        FACTLINK_RATE_BURST="2")
    url = f"{limited.url}/v1/lookup?mention=NATO"
    assert [http.get(url).status_code for _ in range(2)] == [200, 200]
    refused = http.get(url)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    other_key = http.get(url, headers={"X-API-Key": "someone-else"})
    assert other_key.status_code == 429          # keys are off: the address is the client
    assert http.get(f"{limited.url}/healthz").status_code == 200   # probes are never limited


def test_an_unexpected_failure_is_a_500_without_traceback(http, redis_server, start_api, caplog):
    from aiohttp import web

    async def broken(request):
        raise ZeroDivisionError("a bug in a handler")
    server = start_api(REDIS_URL=redis_server.url, extra_routes=[web.get("/broken", broken)])
    response = http.get(f"{server.url}/broken")
    error = assert_error(response, 500, "internal")
    assert "ZeroDivisionError" not in response.text and "a bug" not in error["message"]
    assert "ZeroDivisionError" in caplog.text      # the traceback is logged, server-side


# --- inputs that once gave a 500 with a traceback (issue 14) ---------------------------------

def test_a_refresh_with_a_non_string_date_is_400(http, api):
    response = http.post(f"{api.url}/v1/entities/refresh", json={"qids": ["Q1"], "as_of": 5})
    assert_error(response, 400, "invalid_input")


def test_a_lookup_limit_in_superscript_digits_is_400(http, api):
    response = http.get(f"{api.url}/v1/lookup?mention=NATO&limit=%C2%B2")
    assert_error(response, 400, "invalid_input")


def test_an_api_key_that_is_not_utf8_is_401(http, redis_server, start_api):
    keyed = start_api(REDIS_URL=redis_server.url, FACTLINK_API_KEYS="good-key")
    response = http.get(f"{keyed.url}/v1/lookup?mention=NATO", headers={"X-API-Key": b"\xe9t\xe9"})
    assert_error(response, 401, "unauthorized")
    assert http.get(f"{keyed.url}/v1/lookup?mention=NATO",
                    headers={"X-API-Key": "good-key"}).status_code == 200


def test_a_url_over_8_kb_is_a_json_400(http, api):
    response = http.get(f"{api.url}/v1/lookup?mention=" + "N" * 9000)
    assert_error(response, 400, "malformed_request")
    huge_header = http.get(f"{api.url}/healthz", headers={"X-Padding": "x" * 9000})
    assert_error(huge_header, 400, "malformed_request")


# --- rate limits cannot be dodged (issue 14) ---------------------------------------------------

def test_with_keys_off_invented_keys_share_the_address_bucket(http, redis_server, start_api):
    limited = start_api(REDIS_URL=redis_server.url, FACTLINK_RATE_LIMIT="0.5",
                        FACTLINK_RATE_BURST="5")
    url = f"{limited.url}/v1/lookup?mention=NATO"
    statuses = [http.get(url, headers={"X-API-Key": f"invented-{n}"}).status_code
                for n in range(30)]
    assert statuses.count(200) == 5 and statuses.count(429) == 25


def test_with_keys_on_the_limit_follows_the_key(http, redis_server, start_api):
    limited = start_api(REDIS_URL=redis_server.url, FACTLINK_API_KEYS="alice,bob",
                        FACTLINK_RATE_LIMIT="0.5", FACTLINK_RATE_BURST="2")
    url = f"{limited.url}/v1/lookup?mention=NATO"
    alice = [http.get(url, headers={"X-API-Key": "alice"}).status_code for _ in range(3)]
    assert alice == [200, 200, 429]
    assert http.get(url, headers={"X-API-Key": "bob"}).status_code == 200   # same address


def test_key_guessing_is_rate_limited_per_address(http, redis_server, start_api):
    keyed = start_api(REDIS_URL=redis_server.url, FACTLINK_API_KEYS="the-real-key")
    url = f"{keyed.url}/v1/lookup?mention=NATO"
    statuses = [http.get(url, headers={"X-API-Key": f"guess-{n}"}).status_code
                for n in range(200)]
    assert statuses.count(401) <= 11 and statuses.count(429) >= 189
    blocked = http.get(url, headers={"X-API-Key": "the-real-key"})
    assert_error(blocked, 429, "rate_limited")          # no more guesses, not even right ones
    assert int(blocked.headers["Retry-After"]) >= 1


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(http, redis_server, start_api):
    untrusted = start_api(REDIS_URL=redis_server.url, FACTLINK_RATE_LIMIT="0.5",
                          FACTLINK_RATE_BURST="1")
    url = f"{untrusted.url}/v1/lookup?mention=NATO"
    forged = [http.get(url, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
              for n in range(3)]
    assert forged == [200, 429, 429]
    trusted = start_api(REDIS_URL=redis_server.url, FACTLINK_RATE_LIMIT="0.5",
                        FACTLINK_RATE_BURST="1", FACTLINK_TRUSTED_PROXIES="127.0.0.1")
    url = f"{trusted.url}/v1/lookup?mention=NATO"
    clients = [http.get(url, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
               for n in range(3)]
    assert clients == [200, 200, 200]
    assert http.get(url, headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 429


def test_a_rule_whose_kind_is_not_a_string_is_400(http, api):
    # found by tests/test_fuzz.py: an object as "kind" was a 500 (unhashable)
    response = http.post(f"{api.url}/v1/overrides", json={"rules": [{"kind": {}}]})
    assert_error(response, 400, "invalid_input")
