"""``factlink worker`` runs solo workers under a supervisor: a worker killed mid-job loses its
job to no lease timeout, the job ends once, and the worker comes back. Real Redis, real
workers, the real HTTP app."""
from __future__ import annotations

import logging
import os
import signal
import sys
import time

import pytest
import orjson
import redis as redis_client

from service_fixtures import child_pids, finished_job, settings_for, wait_for
from workers import keys
from workers.celery_app import create_celery
from workers.jobs import LEASE_TTL
from workers import supervisor
from workers.consumer import read_task
from workers.leases import holder_prefix
from workers.supervisor import RESTART_BACKOFF, LostJobs, SoloWorkers

pytestmark = pytest.mark.integration

#: each task sleeps this long before linking: the kill lands mid-job
SLOW = "1.5"


def test_a_solo_worker_killed_mid_job_is_restarted_and_its_job_ends_once_at_once(
        http, start_redis, start_worker, start_api):
    redis = start_redis()
    store = redis_client.Redis.from_url(redis.url)
    api = start_api(REDIS_URL=redis.url)
    workers = start_worker(redis.url, concurrency=2, FACTLINK_DEBUG_LINK_DELAY=SLOW)
    started = child_pids(workers.process.pid)
    assert len(started) == 2

    response = http.post(f"{api.url}/v1/jobs", json={"text": "Macron, Putin, NATO and Ukraine."})
    job_id = response.json()["jobs"][0]["id"]
    wait_for(lambda: store.hget(keys.job(job_id), "status") == b"running", 10,
             what="a worker to take the job")
    # the running mark names the process: host:pid:random
    doomed = int(store.hget(keys.job(job_id), "worker").decode().split(":")[1])
    assert doomed in started

    os.kill(doomed, signal.SIGKILL)
    killed_at = time.monotonic()
    status = finished_job(http, api.url, job_id, timeout=LEASE_TTL)
    took = time.monotonic() - killed_at

    assert status["status"] == "done"
    assert {m["qid"] for m in status["result"]["mentions"]} >= {"Q3052772", "Q7184", "Q212"}
    # sent again by the supervisor, not after the lease ran out and the reaper found it
    assert took < 5, f"the job ended {took:.1f} s after its worker was killed"
    # exactly once: dispatched twice (the submission, the supervisor), linked to the end once,
    # and no copy of its task left in the queue
    assert store.hget(keys.job(job_id), "dispatches") == b"2"
    assert store.hget(keys.LINK_STATS, "count") == b"1"
    assert store.llen(keys.QUEUE) == 0
    assert not store.exists(keys.lease(job_id))

    # the supervisor started a new worker in its place, which answers under the same name
    wait_for(lambda: len(child_pids(workers.process.pid)) == 2, 30,
             what="the supervisor to restart the worker")
    assert doomed not in child_pids(workers.process.pid)
    workers.wait_ready()


def test_stopping_the_supervisor_lets_a_running_job_finish_and_leaves_no_process(
        http, start_redis, start_worker, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    workers = start_worker(redis.url, concurrency=2, FACTLINK_DEBUG_LINK_DELAY=SLOW)
    children = child_pids(workers.process.pid)
    response = http.post(f"{api.url}/v1/jobs", json={"text": "Scholz met Biden in Berlin."})
    job_id = response.json()["jobs"][0]["id"]
    wait_for(lambda: http.get(f"{api.url}/v1/jobs/{job_id}").json()["status"] == "running", 10,
             what="a worker to take the job")

    workers.process.send_signal(signal.SIGTERM)       # warm shutdown
    assert workers.process.wait(30) == 0
    assert finished_job(http, api.url, job_id, timeout=1)["status"] == "done"
    # the supervisor reaped its workers before it exited
    assert not [pid for pid in children if os.path.exists(f"/proc/{pid}")]


def test_the_prefork_pool_is_still_there(http, start_redis, start_worker, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    workers = start_worker(redis.url, concurrency=2, pool="prefork")
    assert workers.nodes == [workers.name.replace("%h", os.uname().nodename)]
    response = http.post(f"{api.url}/v1/annotate", json={"text": "Macron met Putin."}, timeout=30)
    assert response.status_code == 200, response.text
    assert "Q3052772" in response.json()["entities"]


def test_a_worker_that_keeps_dying_is_restarted_at_once_then_with_a_doubling_backoff(
        start_redis, caplog):
    settings = settings_for(REDIS_URL=start_redis().url)
    spawned = []

    def command(_name: str) -> list[str]:
        spawned.append(time.monotonic())
        return [sys.executable, "-c", "raise SystemExit(3)"]     # dies as soon as it starts

    celery = create_celery(settings)
    workers = SoloWorkers(settings, celery, ["crashing@test"], command)
    caplog.set_level(logging.ERROR, logger="workers.supervisor")
    try:
        workers.start()
        wait_for(lambda: len(spawned) >= 4, 15, what="the fourth start")
    finally:
        workers.stop()
        celery.close()
    gaps = [later - earlier for earlier, later in zip(spawned, spawned[1:])]
    # at once, then after 0.5 s, then after 1 s (each gap also holds the process's own short
    # life): a crash loop costs a few starts, not a busy loop of them
    assert gaps[0] < RESTART_BACKOFF, gaps
    assert RESTART_BACKOFF <= gaps[1] < 2 * RESTART_BACKOFF, gaps
    assert 2 * RESTART_BACKOFF <= gaps[2] < 4 * RESTART_BACKOFF, gaps
    assert "crashing@test (pid" in caplog.text and "exited with code 3" in caplog.text
    assert f"restarting it in {RESTART_BACKOFF:.1f} s" in caplog.text
    assert f"restarting it in {2 * RESTART_BACKOFF:.1f} s" in caplog.text


def test_the_jobs_of_a_dead_process_are_found_among_a_backlog_and_only_they_are_sent(
        start_redis, monkeypatch):
    # the active set is read in chunks by score; small chunks, and scores shared across them
    monkeypatch.setattr(supervisor, "HELD_BY_CHUNK", 7)
    settings = settings_for(REDIS_URL=start_redis().url)
    store = redis_client.Redis.from_url(settings.redis)
    running = {"dead-1": 4242, "dead-2": 4242, "dead-3": 4242, "alive": 4243, "longer-pid": 42420}
    with store.pipeline(transaction=False) as pipe:
        for i in range(100):
            job_id = f"queued-{i}"
            pipe.hset(keys.job(job_id), mapping={"status": "queued", "dispatches": 1,
                                                  "message": orjson.dumps([{"text": "x"}, "kb"])})
            pipe.zadd(keys.ACTIVE_JOBS, {job_id: 1000 + i // 10})   # ten jobs per score
        for rank, (job_id, pid) in zip((0, 33, 99, 50, 51), running.items()):
            pipe.hset(keys.job(job_id), mapping={
                "status": "running", "worker": holder_prefix(pid) + "0a1b2c3d", "dispatches": 1,
                "message": orjson.dumps([{"text": f"Text of {job_id}."}, "kb"])})
            pipe.zadd(keys.ACTIVE_JOBS, {job_id: 1000 + rank // 10})
        pipe.execute()

    celery = create_celery(settings)
    lost = LostJobs(settings, celery)
    try:
        assert lost.resend(4242) == (3, 0)
    finally:
        lost.close()
        celery.close()
    status = {job_id: store.hget(keys.job(job_id), "status") for job_id in running}
    assert status == {"dead-1": b"queued", "dead-2": b"queued", "dead-3": b"queued",
                      "alive": b"running", "longer-pid": b"running"}
    sent = [item for message in store.lrange(keys.QUEUE, 0, -1)
            for item in read_task(message)[1][0]]
    assert sorted(job_id for job_id, _article, _kb in sent) == ["dead-1", "dead-2", "dead-3"]
