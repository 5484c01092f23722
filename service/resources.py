"""The long-lived resources of one API process, as typed ``web.AppKey``s with their lifetimes.

Each ``cleanup_ctx`` below opens one resource when the app starts and closes it when it stops,
in order: the KB, the Redis pool, the generation watch (the current ``kb_version``) with the
in-process answer cache it guards, the KB overlay (kept in step with that watch), the Celery
producer (and the worker monitor using it), then the job queue that needs them, and the
reaper that re-sends stuck jobs through it. Handlers read them from ``request.app[KEY]``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

import redis
import redis.asyncio as aioredis
from aiohttp import web
from celery import Celery
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from linkers import KnowledgeBase, open_kb
from workers.celery_app import create_celery
from workers.generations import GenerationWatch
from workers.kb_delta import RedisOverlay
from workers.monitor import WorkerMonitor
from workers.queue import JobQueue
from workers.reaper import Reaper
from workers.settings import Settings

from .answer_cache import AnswerCache
from .metrics import ServiceMetrics

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", ServiceMetrics)
KB = web.AppKey("kb", KnowledgeBase)
REDIS = web.AppKey("redis", aioredis.Redis)
CELERY = web.AppKey("celery", Celery)
WORKERS = web.AppKey("workers", WorkerMonitor)
JOBS = web.AppKey("jobs", JobQueue)
OVERLAY = web.AppKey("overlay", RedisOverlay)
OPENAPI = web.AppKey("openapi", bytes)
GENERATIONS = web.AppKey("generations", GenerationWatch)
ANSWERS = web.AppKey("answers", AnswerCache)
#: set by ``factlink serve`` only: the state of the Redis and workers it supervises
SUPERVISION = web.AppKey("supervision", object)


async def knowledge_base(app: web.Application) -> AsyncIterator[None]:
    # the first start may build the starter KB: keep the loop free meanwhile
    loop = asyncio.get_running_loop()
    app[KB] = await loop.run_in_executor(None, open_kb, app[SETTINGS].kb_path)
    yield
    app[KB].close()


async def redis_pool(app: web.Application) -> AsyncIterator[None]:
    # fail fast when Redis is down (one immediate retry covers a connection that went stale
    # across a Redis restart): the client gets a 503 in milliseconds, not after a backoff
    app[REDIS] = aioredis.Redis.from_url(
        app[SETTINGS].redis, socket_connect_timeout=1.0,
        socket_timeout=5.0, retry=Retry(NoBackoff(), 1))
    yield
    await app[REDIS].aclose()


async def generations(app: web.Application) -> AsyncIterator[None]:
    app[GENERATIONS] = watch = GenerationWatch(app[REDIS], app[KB].version)
    app[ANSWERS] = answers = AnswerCache(app[SETTINGS].answer_cache_bytes)
    watch.on_change(answers.clear)     # nothing cached under another version is reachable
    await watch.start()
    yield
    await watch.stop()


log = logging.getLogger(__name__)


async def kb_overlay(app: web.Application) -> AsyncIterator[None]:
    """The service's KB overlay (``workers.kb_delta``), loaded at start and caught up whenever
    the generation watch sees the KB generation move: in the watch's callback, before the job
    queue's, so no request sees the new ``kb_version`` with the old KB (a card computed then
    would be cached under the new version). The catch-up reads Redis with a blocking client on
    the loop: one LLEN and one LRANGE of the new changes, a millisecond or so per change notice."""
    client = redis.Redis.from_url(app[SETTINGS].redis, socket_connect_timeout=1.0, socket_timeout=5.0)
    overlay = RedisOverlay(client, app[KB])
    try:
        await asyncio.get_running_loop().run_in_executor(None, overlay.load)
    except redis.exceptions.RedisError as exc:
        log.warning("KB overlay not loaded yet (%s); caught up on the next change", exc)
    app[OVERLAY] = overlay
    app[KB] = overlay.kb

    def catch_up() -> None:
        try:
            overlay.catch_up(*overlay.pending())
        except redis.exceptions.RedisError as exc:
            log.warning("KB overlay not caught up (%s)", exc)

    app[GENERATIONS].on_change(catch_up)
    yield
    client.close()


async def celery_producer(app: web.Application) -> AsyncIterator[None]:
    app[CELERY] = create_celery(app[SETTINGS])
    app[WORKERS] = WorkerMonitor(app[CELERY])
    yield
    await app[WORKERS].close()
    app[CELERY].close()


async def job_queue(app: web.Application) -> AsyncIterator[None]:
    watch = app[GENERATIONS]
    app[JOBS] = jobs = JobQueue(app[REDIS], app[CELERY], app[SETTINGS], watch.kb_version)
    watch.on_change(lambda: jobs.use_kb_version(watch.kb_version))
    await app[JOBS].start()
    yield
    await app[JOBS].stop()


async def job_reaper(app: web.Application) -> AsyncIterator[None]:
    reaper = Reaper(app[REDIS], app[JOBS], app[SETTINGS])
    await reaper.start()
    yield
    await reaper.stop()


CLEANUP_CONTEXTS = (knowledge_base, redis_pool, generations, kb_overlay, celery_producer,
                    job_queue, job_reaper)
