"""The long-lived resources of one API process, as typed ``web.AppKey``s with their lifetimes.

Each ``cleanup_ctx`` below opens one resource when the app starts and closes it when it stops,
in order: the KB, the Redis pool, the KB overlay (followed in the background), the Celery
producer (and the worker monitor using it), then the job queue that needs all of them. Handlers read them from ``request.app[KEY]``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

import redis
import redis.asyncio as aioredis
from aiohttp import web
from celery import Celery
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from linkers import KnowledgeBase, open_kb
from workers import keys
from workers.celery_app import create_celery
from workers.kb_delta import RedisOverlay
from workers.monitor import WorkerMonitor
from workers.queue import JobQueue
from workers.settings import Settings

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


#: seconds between two checks of the overlay generation when no notification arrives
OVERLAY_POLL_SECONDS = 1.0
log = logging.getLogger(__name__)


async def kb_overlay(app: web.Application) -> AsyncIterator[None]:
    """The service's KB overlay (``workers.kb_delta``), followed while the app runs: on each
    change notification and every ``OVERLAY_POLL_SECONDS``. Redis I/O runs in a thread, the
    changes are applied on the loop, where handlers read the KB."""
    settings = app[SETTINGS]
    client = redis.Redis.from_url(settings.redis, socket_connect_timeout=1.0, socket_timeout=5.0)
    overlay = RedisOverlay(client, app[KB])
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, overlay.load)
    except redis.exceptions.RedisError as exc:
        log.warning("KB overlay not loaded yet (%s); retrying in the background", exc)
    app[OVERLAY] = overlay
    app[KB] = overlay.kb
    stopping = asyncio.Event()
    follower = asyncio.create_task(_follow_overlay(app, overlay, stopping), name="factlink-kb-overlay")
    yield
    stopping.set()
    await asyncio.wait({follower}, timeout=OVERLAY_POLL_SECONDS + 1)
    follower.cancel()
    client.close()


async def _follow_overlay(app: web.Application, overlay: RedisOverlay, stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        pubsub = app[REDIS].pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(keys.KB_CHANGED_CHANNEL)
            while not stopping.is_set():
                generation, changes = await loop.run_in_executor(None, overlay.pending)
                overlay.catch_up(generation, changes)
                # wake on a notification, or re-check after the poll interval
                await pubsub.get_message(timeout=OVERLAY_POLL_SECONDS)
        except Exception as exc:     # Redis went away: keep serving the overlay we have
            log.debug("KB overlay follow interrupted (%s)", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), OVERLAY_POLL_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()


async def celery_producer(app: web.Application) -> AsyncIterator[None]:
    app[CELERY] = create_celery(app[SETTINGS])
    app[WORKERS] = WorkerMonitor(app[CELERY])
    yield
    await app[WORKERS].close()
    app[CELERY].close()


async def job_queue(app: web.Application) -> AsyncIterator[None]:
    overlay = app[OVERLAY]
    app[JOBS] = JobQueue(app[REDIS], app[CELERY], app[SETTINGS], lambda: overlay.version)
    await app[JOBS].start()
    yield
    await app[JOBS].stop()


CLEANUP_CONTEXTS = (knowledge_base, redis_pool, kb_overlay, celery_producer, job_queue)
