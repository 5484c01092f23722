"""No job is ever stuck: a job whose worker is gone, whose message was lost, or whose Redis
writes failed for a while still ends (issue 14). Real Redis, real workers, the real API."""
from __future__ import annotations

import threading
import time

import redis as redis_client
from service_fixtures import finished_job, wait_for

from workers import jobs, keys
from workers.embedded_redis import EmbeddedRedis
from workers.tasks import write_with_retry

SLOW = "60"


def submit(http, api, text: str) -> str:
    response = http.post(f"{api.url}/v1/jobs", json={"text": text})
    assert response.status_code == 202, response.text
    return response.json()["jobs"][0]["id"]


def test_a_job_whose_worker_died_is_sent_again_within_a_minute(http, start_redis, start_worker,
                                                               start_api):
    # the broker's visibility timeout stays at 10 minutes: only the leases can save the job
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    doomed = start_worker(redis.url, FACTLINK_DEBUG_LINK_DELAY=SLOW)
    job_id = submit(http, api, "Macron and Scholz met in Berlin about NATO.")
    wait_for(lambda: http.get(f"{api.url}/v1/jobs/{job_id}").json()["status"] == "running",
             10, what="the slow worker to take the job")
    doomed.kill()
    killed_at = time.monotonic()
    start_worker(redis.url)
    status = finished_job(http, api.url, job_id, timeout=60)
    assert status["status"] == "done"
    assert time.monotonic() - killed_at < 60


def test_a_queued_job_whose_message_was_lost_is_sent_again(http, start_redis, start_worker,
                                                          start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    job_id = submit(http, api, "Putin spoke about Ukraine in Moscow.")      # no worker yet
    store = redis_client.Redis.from_url(redis.url)
    store.delete(keys.QUEUE)                                # the message is gone (Redis lost it)
    # two minutes old: past the point where a queued job with an empty queue is stuck
    store.hset(keys.job(job_id), "updated_at", time.time() - 2 * jobs.STALE_QUEUED_SECONDS)
    start_worker(redis.url)
    assert finished_job(http, api.url, job_id, timeout=30)["status"] == "done"


def test_resubmitting_a_stuck_job_sends_it_again(http, start_redis, start_worker, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    job_id = submit(http, api, "NATO met in Brussels.")
    store = redis_client.Redis.from_url(redis.url)
    store.delete(keys.QUEUE)
    store.hset(keys.job(job_id), mapping={"status": "running", "updated_at": time.time() - 10})
    store.zrem(keys.ACTIVE_JOBS, job_id)          # out of the reaper's sight: only a resubmit
    start_worker(redis.url)
    again = http.post(f"{api.url}/v1/jobs", json={"text": "NATO met in Brussels."})
    assert again.json()["jobs"][0] == {**again.json()["jobs"][0], "id": job_id,
                                       "status": "queued"}
    assert finished_job(http, api.url, job_id, timeout=30)["status"] == "done"


def test_a_job_that_keeps_losing_its_worker_fails_with_a_reason(http, start_redis, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    job_id = submit(http, api, "Scholz visited Paris.")
    store = redis_client.Redis.from_url(redis.url)
    store.hset(keys.job(job_id), mapping={"status": "running", "updated_at": time.time() - 10,
                                          "dispatches": jobs.MAX_DISPATCHES})
    status = finished_job(http, api.url, job_id, timeout=30)
    assert status["status"] == "failed"
    assert status["error"]["code"] == "worker_lost"
    assert store.ttl(keys.job(job_id)) > 0                 # ended: may expire now
    assert not store.zscore(keys.ACTIVE_JOBS, job_id)


def test_a_job_record_has_no_ttl_until_it_ends(http, start_redis, start_worker, start_api):
    # under maxmemory (volatile-lru) only keys with a TTL are evicted: never a pending job
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    job_id = submit(http, api, "Biden called Macron.")
    store = redis_client.Redis.from_url(redis.url)
    assert store.ttl(keys.job(job_id)) == -1
    start_worker(redis.url)
    finished_job(http, api.url, job_id)
    assert store.ttl(keys.job(job_id)) > 0
    assert store.config_get("maxmemory-policy")["maxmemory-policy"] == keys.EVICTION_POLICY


def test_a_write_is_retried_until_redis_is_back(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    server.pin_port()
    store = redis_client.Redis.from_url(server.url, socket_connect_timeout=0.5)
    store.hset(keys.job("j1"), mapping={"status": "running"})
    server.stop()
    finished = threading.Event()

    def restart():
        # the Redis child dies with the thread that started it (PR_SET_PDEATHSIG): keep it
        time.sleep(1.5)
        server.start()
        finished.wait(60)
    restarter = threading.Thread(target=restart)
    restarter.start()
    try:
        write_with_retry(jobs.mark_done, store, "j1", b'{"mentions": []}', 60,
                         deadline_seconds=20)
        assert store.hget(keys.job("j1"), "status") == b"done"
        assert store.get(keys.result("j1")) == b'{"mentions": []}'
    finally:
        server.stop()
        finished.set()
        restarter.join()
