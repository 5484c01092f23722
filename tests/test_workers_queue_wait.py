"""``JobQueue.wait_results`` (relink's wait for a chunk): every job answers once, whether it
ended before the wait, during it, or not within the timeout. Real Redis; a job's end is
written with the worker's own done script, so its notice is the real one."""
from __future__ import annotations

import asyncio
import time

import pytest
import redis as redis_client

from service_fixtures import settings_for
from workers import jobs, keys
from workers.celery_app import create_celery
from workers.jobs import JobStatus
from workers.queue import JobQueue

pytestmark = pytest.mark.integration


def test_each_job_of_a_chunk_answers_once_however_and_whenever_it_ends(start_redis):
    redis = start_redis()
    store = redis_client.Redis.from_url(redis.url)
    for job_id in ("early", "late", "failing", "never"):
        store.hset(keys.job(job_id), mapping={"status": "queued", "updated_at": time.time()})
    jobs.mark_done(store, "early", b'{"early": true}', 60)

    async def scenario():
        import redis.asyncio as aioredis
        client = aioredis.Redis.from_url(redis.url)
        celery = create_celery(settings_for(REDIS_URL=redis.url))
        queue = JobQueue(client, celery, settings_for(REDIS_URL=redis.url), "kb-1")
        await queue.start()
        await asyncio.sleep(0.3)                      # the listener has subscribed

        async def worker():                           # ends two jobs while the chunk waits
            await asyncio.sleep(0.2)
            jobs.mark_done(store, "late", b'{"late": true}', 60)
            await asyncio.sleep(0.1)
            jobs.mark_failed(store, "failing", "bad_input", "not an article", 60)
        try:
            ending = asyncio.create_task(worker())
            started = time.monotonic()
            answers = await queue.wait_results(["early", "late", "failing", "never", "early"],
                                               timeout=1.5, settle=0.02)
            took = time.monotonic() - started
            await ending
            return answers, took, queue._waiters
        finally:
            await queue.stop()
            await client.aclose()
            celery.close()

    answers, took, waiters = asyncio.run(scenario())
    (early, early_result), (late, late_result), (failing, _), (never, never_result), again = answers
    assert (early.status, early_result) == (JobStatus.done, b'{"early": true}')
    assert (late.status, late_result) == (JobStatus.done, b'{"late": true}')
    assert failing.status == JobStatus.failed and failing.error().code == "bad_input"
    assert never.status == JobStatus.queued and never_result is None     # the timeout's answer
    assert again == answers[0]
    assert 1.5 <= took < 3
    assert waiters == {}                              # nothing left registered
