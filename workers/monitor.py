"""Whether any Celery worker answers: a broadcast ping, remembered for a few seconds.

The ping is a blocking kombu round trip that waits up to its timeout when nobody answers, so it
runs in a thread, one at a time, and its answer is reused: a positive one for ``fresh_for``
seconds, a negative one for less, so a worker that just started is noticed quickly. When a
positive answer goes stale it is still given while a ping refreshes it in the background: the
request that happens to come next never waits for a ping round trip while workers were there a
moment ago. Only "no worker" (or no answer yet) is awaited. A ping that failed because Redis is
down or refusing writes raises that error (``workers.redis_errors``) rather than claiming there
are no workers: the client learns what is actually wrong.
"""
from __future__ import annotations

import asyncio
import contextlib
import time

from celery import Celery

from .redis_errors import unavailable


class WorkerMonitor:
    def __init__(self, celery: Celery, timeout: float = 1.0, fresh_for: float = 5.0,
                 negative_fresh_for: float = 1.0):
        self._celery = celery
        self._timeout = timeout
        self._fresh_for = fresh_for
        self._negative_fresh_for = negative_fresh_for
        self._answered: int | None = None       # workers that answered the last ping
        self._failure: Exception | None = None  # why the last ping could not be sent
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task | None = None

    async def workers(self) -> int:
        """How many workers answered (at least one, or none): cached, pings when stale."""
        if self._fresh():
            return self._checked()
        if self._answered:
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.create_task(self._ping_if_stale())
            return self._answered
        await self._ping_if_stale()
        return self._checked()

    def answered(self) -> bool:
        """A worker answered the last ping (however long ago): what ``workers`` would return
        at once, with no ping awaited."""
        return bool(self._answered)

    def _checked(self) -> int:
        if not self._answered and self._failure is not None:
            raise self._failure
        return self._answered

    async def close(self) -> None:
        """Let a background refresh finish (at most the ping timeout) before the loop closes."""
        if self._refresh is not None and not self._refresh.done():
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._refresh), self._timeout + 1)

    async def _ping_if_stale(self) -> int:
        async with self._lock:
            if not self._fresh():   # another request may have pinged while this one waited
                loop = asyncio.get_running_loop()
                try:
                    self._answered = await loop.run_in_executor(None, self._ping)
                    self._failure = None
                except Exception as exc:   # the broker is down: no worker can be reached either
                    self._answered = 0
                    self._failure = unavailable(exc)
                self._checked_at = time.monotonic()
        return self._answered

    def _fresh(self) -> bool:
        if self._answered is None:
            return False
        ttl = self._fresh_for if self._answered else self._negative_fresh_for
        return time.monotonic() - self._checked_at < ttl

    def _ping(self) -> int:
        # limit=1: return as soon as one worker answers instead of waiting out the timeout
        return len(self._celery.control.ping(timeout=self._timeout, limit=1) or [])
