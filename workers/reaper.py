"""The reaper: sends again every job that will not end by itself, so none stays queued or running.

Each API process runs one (a ``cleanup_ctx`` of the app); a Redis lock lets one of them work per
tick. Every ``REAP_INTERVAL`` seconds it walks the active set (``keys.ACTIVE_JOBS``: jobs queued
or running) and applies ``workers.jobs.REAP_SCRIPT`` to each, atomically:

- a **running** job whose lease has expired lost its worker (a pool process or a whole worker
  SIGKILLed, a worker that could not reach Redis): it is sent again. Leases are heartbeats,
  renewed by the worker process every ``LEASE_TTL / 3`` seconds (``workers.leases``), so a dead
  worker is noticed within ``LEASE_TTL + REAP_INTERVAL`` (20 s), not after the broker's
  visibility timeout;
- a **queued** job older than ``STALE_QUEUED_SECONDS`` while the queue list is empty has no
  message any live worker will take (a publish lost with Redis, a worker killed while holding
  it): it is sent again;
- any queued or running job not updated for ``FACTLINK_VISIBILITY_TIMEOUT`` is sent again, so
  no job outlives that bound even while the queue is never empty;
- after ``MAX_DISPATCHES`` the job fails with ``worker_lost`` (a text that kills its worker every
  time must not circulate for ever).

A job sent twice is linked once: the second task finds the stored result and only marks it done.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import orjson

from . import keys
from .jobs import MAX_DISPATCHES, REAP_SCRIPT, STALE_QUEUED_SECONDS, stuck_keys
from .settings import Settings

log = logging.getLogger(__name__)

REAP_INTERVAL = 5.0
REAP_BATCH = 1000
_VERDICTS = (b"ok", b"gone", b"failed")


class Reaper:
    def __init__(self, redis, queue, settings: Settings, interval: float = REAP_INTERVAL):
        self._redis = redis
        self._queue = queue          # a workers.queue.JobQueue: publishes the messages
        self._settings = settings
        self._interval = interval
        self._script = redis.register_script(REAP_SCRIPT)
        self._offset = 0
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="factlink-reaper")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=5)
            self._task.cancel()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if self._stopping.is_set():
                return
            try:
                await self.reap_once()
            except Exception as exc:      # Redis down: the next tick tries again
                log.debug("reaper: %s", exc)

    async def reap_once(self) -> dict[str, int]:
        """One pass (under the lock): how many jobs were sent again and failed for good."""
        token = uuid.uuid4().hex
        if not await self._redis.set(keys.REAPER_LOCK, token, nx=True,
                                     ex=int(self._interval * 4) + 1):
            return {"resent": 0, "failed": 0}
        try:
            return await self._reap()
        finally:
            with contextlib.suppress(Exception):
                if await self._redis.get(keys.REAPER_LOCK) == token.encode():
                    await self._redis.delete(keys.REAPER_LOCK)

    async def _reap(self) -> dict[str, int]:
        now = time.time()
        # a job dispatched in the last 2 s cannot be stuck yet; walk the set in slices
        job_ids = await self._redis.zrangebyscore(keys.ACTIVE_JOBS, "-inf", now - 2,
                                                  start=self._offset, num=REAP_BATCH)
        self._offset = self._offset + REAP_BATCH if len(job_ids) == REAP_BATCH else 0
        if not job_ids:
            return {"resent": 0, "failed": 0}
        job_ids = [job_id.decode() for job_id in job_ids]
        resend, failed = sort_verdicts(job_ids, await self._verdicts(job_ids, now))
        if resend:
            log.warning("reaper: sending %d stuck job(s) again", len(resend))
            await self._queue.send_messages(resend)
        return {"resent": len(resend), "failed": failed}

    async def _verdicts(self, job_ids: list[str], now: float) -> list:
        # loaded first, every pass: a pipeline retried after NOSCRIPT could not tell the jobs
        # its first attempt already re-queued (one round trip per REAP_INTERVAL is nothing)
        await self._redis.script_load(REAP_SCRIPT)
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.evalsha(self._script.sha, *verdict_call(job_id, now, self._settings))
            return await pipe.execute()


def verdict_call(job_id: str, now: float, settings: Settings, *more) -> list:
    """``numkeys, KEYS..., ARGV...`` of ``REAP_SCRIPT`` (and ``jobs.LOST_SCRIPT``, which takes
    ``more``) for one job."""
    script_keys = stuck_keys(job_id)
    return [len(script_keys), *script_keys, now, STALE_QUEUED_SECONDS,
            settings.visibility_timeout, MAX_DISPATCHES, job_id, settings.result_ttl, *more]


def sort_verdicts(job_ids: list[str], verdicts: list) -> tuple[list[list], int]:
    """The reaper's (or ``jobs.LOST_SCRIPT``'s) answers per job: the jobs to send again, as
    ``[job_id, message, kb_version]``, and how many failed for good."""
    resend, failed = [], 0
    for job_id, verdict in zip(job_ids, verdicts):
        if verdict == b"failed":
            failed += 1
            log.error("job %s lost its worker %d times; failed", job_id, MAX_DISPATCHES)
        elif verdict not in _VERDICTS:
            message, kb_version = orjson.loads(verdict)
            resend.append([job_id, message, kb_version])
    return resend, failed
