"""A worker killed mid-task loses nothing: the task is redelivered to the next worker."""
from __future__ import annotations

import signal

from service_fixtures import finished_job, wait_for

#: the first worker sleeps this long before linking: long enough to be killed mid-task
SLOW = "60"
#: the broker hands an unacknowledged task to another worker after this many seconds
VISIBILITY_TIMEOUT = "2"


def test_a_task_survives_its_worker_being_killed(http, start_redis, start_worker, start_api):
    redis = start_redis()
    api = start_api(REDIS_URL=redis.url)
    doomed = start_worker(redis.url, FACTLINK_DEBUG_LINK_DELAY=SLOW,
                          FACTLINK_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)
    response = http.post(f"{api.url}/v1/jobs", json={"text": "Macron, Putin, NATO and Ukraine."})
    job_id = response.json()["jobs"][0]["id"]
    wait_for(lambda: http.get(f"{api.url}/v1/jobs/{job_id}").json()["status"] == "running",
             10, what="the slow worker to take the job")

    doomed.kill()                                       # SIGKILL, worker and pool together
    assert doomed.process.returncode == -signal.SIGKILL
    assert http.get(f"{api.url}/v1/jobs/{job_id}").json()["status"] == "running"

    start_worker(redis.url, FACTLINK_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)
    status = finished_job(http, api.url, job_id, timeout=30)
    assert status["status"] == "done"
    assert {m["qid"] for m in status["result"]["mentions"]} >= {"Q3052772", "Q7184", "Q212"}
