"""POST /v1/annotate: the linking result now, from the cache or from a worker, else a job id.

The cached path is one Redis GET and the stored bytes as the body. A miss queues the job and
waits for the workers' completion notice without blocking the loop; past
``FACTLINK_SYNC_TIMEOUT`` it answers 202 with the job to poll instead of failing.
"""
from __future__ import annotations

import orjson
from aiohttp import web

from linkers import errors
from workers.jobs import JobStatus

from .. import shapes
from ..body import article_body_limit, read_json
from ..resources import JOBS, METRICS, SETTINGS, WORKERS

CACHE_HEADER = "X-Factlink-Cache"
JOB_HEADER = "X-Factlink-Job"


def _result(body: bytes, job_id: str, cache: str) -> web.Response:
    # the stored bytes as they are, with a plain headers dict (no content_type= parsing)
    return web.Response(body=body, headers={"Content-Type": "application/json",
                                            CACHE_HEADER: cache, JOB_HEADER: job_id})


async def annotate(request: web.Request) -> web.Response:
    app = request.app
    settings, jobs, metrics = app[SETTINGS], app[JOBS], app[METRICS]
    value = await read_json(request, article_body_limit(settings.max_text_bytes,
                                                        settings.max_body_bytes))
    article = shapes.parse_article(value, settings.max_text_bytes)
    job_id = jobs.job_id(article)
    cached = await jobs.result(job_id)
    if cached is not None:
        metrics.cache_hit("result")
        return _result(cached, job_id, "hit")
    metrics.cache_miss("result")

    if not await app[WORKERS].workers():
        # workers cannot answer a Redis that refuses writes: then that is the error to report
        await jobs.check_writable()
        raise errors.NoWorkers("no linking worker is running; try again shortly", retry_after=5)
    await jobs.submit([article])
    record, result = await jobs.wait_result(job_id, settings.sync_timeout)
    if record is not None and record.status is JobStatus.failed:
        raise record.error()
    if result is not None:
        return _result(result, job_id, "miss")
    status = record.status if record is not None else JobStatus.queued
    return web.Response(status=202, body=orjson.dumps(shapes.job_accepted(job_id, status)),
                        content_type="application/json",
                        headers={"Location": shapes.poll_path(job_id), JOB_HEADER: job_id,
                                 CACHE_HEADER: "miss"})
