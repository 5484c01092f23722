"""POST /v1/annotate: the linking result now, from the cache or from a worker, else a job id.

A body answered before is served from the process's answer cache (``service.answer_cache``)
without parsing it; else a parsed article's result is one Redis GET away; the stored bytes are
the body either way. A miss queues the job and waits for the workers' completion notice without
blocking the loop; past ``FACTLINK_SYNC_TIMEOUT`` it answers 202 with the job to poll instead of
failing.
"""
from __future__ import annotations

import orjson
from aiohttp import web

from linkers import errors
from workers.jobs import JobStatus

from .. import shapes
from ..body import article_body_limit, read_body
from ..resources import ANSWERS, GENERATIONS, JOBS, METRICS, SETTINGS, WORKERS

CACHE_HEADER = "X-Factlink-Cache"
JOB_HEADER = "X-Factlink-Job"


def _result(body: bytes, job_id: str, cache: str) -> web.Response:
    # the stored bytes as they are, with a plain headers dict (no content_type= parsing)
    return web.Response(body=body, headers={"Content-Type": "application/json",
                                            CACHE_HEADER: cache, JOB_HEADER: job_id})


def _remember(answers, memory_key: tuple | None, job_id: str, result: bytes) -> None:
    if memory_key is not None:
        answers.put(memory_key, (job_id, result), len(memory_key[2]) + len(result) + len(job_id))


async def annotate(request: web.Request) -> web.Response:
    app = request.app
    settings, jobs, metrics = app[SETTINGS], app[JOBS], app[METRICS]
    body = await read_body(request, article_body_limit(settings.max_text_bytes,
                                                       settings.max_body_bytes))
    generations, answers = app[GENERATIONS], app[ANSWERS]
    # the key is made before anything is awaited: an answer is kept under the version it is for
    memory_key = ("annotate", generations.kb_version, body) if generations.live else None
    if memory_key is not None:
        remembered = answers.get(memory_key)
        if remembered is not None:
            metrics.cache_hit("result")
            return _result(remembered[1], remembered[0], "hit")
    article = shapes.parse_article(shapes.parse_json(body), settings.max_text_bytes)
    job_id = jobs.job_id(article)
    cached = await jobs.result(job_id)
    if cached is not None:
        metrics.cache_hit("result")
        _remember(answers, memory_key, job_id, cached)
        return _result(cached, job_id, "hit")
    metrics.cache_miss("result")

    if not await app[WORKERS].workers():
        raise errors.NoWorkers("no linking worker is running; try again shortly", retry_after=5)
    await jobs.submit([article])
    record, result = await jobs.wait_result(job_id, settings.sync_timeout)
    if record is not None and record.status is JobStatus.failed:
        raise record.error()
    if result is not None:
        _remember(answers, memory_key, job_id, result)
        return _result(result, job_id, "miss")
    status = record.status if record is not None else JobStatus.queued
    return web.Response(status=202, body=orjson.dumps(shapes.job_accepted(job_id, status)),
                        content_type="application/json",
                        headers={"Location": shapes.poll_path(job_id), JOB_HEADER: job_id,
                                 CACHE_HEADER: "miss"})
