"""The API's handle on the job queue: claim and send jobs, read their status, await their end.

Used from the event loop (``redis.asyncio``). Link tasks are pushed as Celery messages with one
LPUSH from the loop (``workers.publish``), no thread and no kombu producer. Completion is pushed,
not polled: workers publish each finished
job id on ``keys.JOBS_DONE_CHANNEL``, one subscriber per API process wakes the waiting requests;
for a job a request awaits (``submit_one``) the notice carries the result itself, so the request
answers without another round trip. A waiter still re-reads the status every second, so a
notification lost to a reconnect costs at most that second, never the answer.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass

import orjson
from celery import Celery
from redis.exceptions import NoScriptError

from linkers import errors

from . import keys
from .jobs import (CLAIM_SCRIPT, ENQUEUE, STALE_QUEUED_SECONDS, SUBMIT_ONE_SCRIPT, Article,
                   JobRecord, JobStatus, done_notice, stuck_keys)
from .publish import task_message
from .redis_errors import unavailable
from .settings import Settings
from .tasks import LINK_ARTICLE, LINK_BATCH, REFRESH_ENTITIES

log = logging.getLogger(__name__)

#: articles per link_batch message: fewer messages for big batches, yet several workers share one
BATCH_CHUNK = 8
#: longest a waiter sleeps between status reads when no notification arrives
RECHECK_SECONDS = 1.0
#: longest the notification listener blocks before checking whether the app is stopping
LISTEN_POLL_SECONDS = 0.25
FINISHED = (JobStatus.done, JobStatus.failed)


@dataclass(frozen=True)
class Submission:
    job_id: str
    status: JobStatus       # after submission: queued for new work, else what the job already was
    result: bytes | None = None     # ``submit_one``: the stored result, when there was one
    # ``submit_one`` of a job not done yet: woken by its end, registered before the submission
    # ran (pass it to ``wait_result``: no end can slip in between unseen)
    wakeup: asyncio.Future | None = None


def _message_count(jobs: int) -> int:
    return -(-jobs // BATCH_CHUNK)


def link_tasks(celery: Celery, messages: list[list]) -> list[bytes]:
    """The Celery task messages that link ``[job_id, article message, kb_version]`` items: one
    ``link_article`` for a single job, else ``link_batch`` messages of ``BATCH_CHUNK`` jobs."""
    if len(messages) == 1:
        job_id, _article, kb_version = messages[0]
        return [task_message(celery, LINK_ARTICLE, messages[0], keys.QUEUE,
                             f"[{job_id!r}, <article>, {kb_version!r}]")]
    return [task_message(celery, LINK_BATCH, [chunk], keys.QUEUE,
                         f"[<{len(chunk)} jobs from {chunk[0][0]!r}>]")
            for chunk in (messages[start:start + BATCH_CHUNK]
                          for start in range(0, len(messages), BATCH_CHUNK))]


class JobQueue:
    def __init__(self, redis, celery: Celery, settings: Settings, kb_version: str):
        self._redis = redis
        self._celery = celery
        self._settings = settings
        self._kb_version = kb_version
        self._claim = redis.register_script(CLAIM_SCRIPT)
        self._submit_one = redis.register_script(SUBMIT_ONE_SCRIPT)
        self._waiters: dict[str, set[asyncio.Future]] = {}
        self._listener: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    # --- lifecycle (the app's cleanup_ctx) -------------------------------------------------
    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="factlink-jobs-listener")

    async def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            # the listener notices within LISTEN_POLL_SECONDS; never wait on a cancellation
            await asyncio.wait({self._listener}, timeout=LISTEN_POLL_SECONDS + 1)
            self._listener.cancel()

    def use_kb_version(self, kb_version: str) -> None:
        """Jobs submitted from now on are for ``kb_version`` (the KB overlay moved on)."""
        self._kb_version = kb_version

    # --- reading --------------------------------------------------------------------------
    def job_id(self, article: Article) -> str:
        return article.job_id(self._kb_version)

    async def result(self, job_id: str) -> bytes | None:
        """The stored result JSON, exactly as the worker wrote it (served without re-encoding)."""
        return await self._redis.get(keys.result(job_id))

    async def record(self, job_id: str) -> JobRecord | None:
        return JobRecord.from_hash(job_id, await self._redis.hgetall(keys.job(job_id)))

    async def status(self, job_id: str) -> tuple[JobRecord | None, bytes | None]:
        """The record and, once done, the result: one round trip (GET /v1/jobs/{id})."""
        [status] = await self.statuses([job_id])
        return status

    async def statuses(self, job_ids: list[str]) -> list[tuple[JobRecord | None, bytes | None]]:
        """``status`` of each job, all in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(keys.job(job_id))
                pipe.get(keys.result(job_id))
            replies = await pipe.execute()
        statuses = []
        for job_id, raw_record, result in zip(job_ids, replies[::2], replies[1::2]):
            record = JobRecord.from_hash(job_id, raw_record)
            done = record is not None and record.status is JobStatus.done
            statuses.append((record, result if done else None))
        return statuses

    async def check_writable(self) -> None:
        """Raise the Redis error if Redis cannot take a write now (down, full disk, read-only,
        out of memory): what /readyz checks, and what explains an empty worker ping."""
        await self._redis.set(keys.READINESS_PROBE, b"1", ex=60)

    # --- writing --------------------------------------------------------------------------
    async def submit(self, articles: list[Article]) -> list[Submission]:
        """Claim each article's job; send tasks only for jobs not already queued, running or done.

        Raises ``RateLimited`` when the new tasks would take the queue over ``max_queue``
        (re-submissions of known jobs add nothing, so they always pass).
        """
        job_ids = [self.job_id(article) for article in articles]
        messages = [orjson.dumps([article.to_message(), self._kb_version]) for article in articles]
        depth, *outcomes = await self._claim_jobs(job_ids, messages, time.time())
        outcomes = [o.decode() if isinstance(o, bytes) else o for o in outcomes]
        to_send = [(job_id, article) for job_id, article, outcome
                   in zip(job_ids, articles, outcomes) if outcome == ENQUEUE]
        if to_send:
            if depth + _message_count(len(to_send)) > self._settings.max_queue:
                await self._unclaim(to_send)
                raise errors.RateLimited(f"the queue is full ({depth} tasks waiting); "
                                         "try again shortly", retry_after=5, queue_depth=depth)
            try:
                await self._send(to_send)
            except Exception as exc:
                await self._unclaim(to_send)
                raise (unavailable(exc) or errors.BrokerUnavailable(
                    f"cannot queue the job: {exc}", retry_after=5)) from exc
        return [Submission(job_id, JobStatus.queued if outcome == ENQUEUE else JobStatus(outcome))
                for job_id, outcome in zip(job_ids, outcomes)]

    async def submit_one(self, article: Article) -> Submission:
        """One article: its stored result, else the job claimed and its task sent, in one round
        trip (``SUBMIT_ONE_SCRIPT``; ``submit`` takes a GET, the claim and an LPUSH). Raises
        ``RateLimited`` when the queue is full, as ``submit`` does."""
        job_id = self.job_id(article)
        message = [job_id, article.to_message(), self._kb_version]
        task = task_message(self._celery, LINK_ARTICLE, message, keys.QUEUE,
                            f"[{job_id!r}, <article>, {self._kb_version!r}]")
        script_keys = stuck_keys(job_id)
        args = (time.time(), STALE_QUEUED_SECONDS, self._settings.visibility_timeout,
                orjson.dumps(message[1:]), job_id, uuid.uuid4().hex, task,
                self._settings.max_queue)
        wakeup = self._expect(job_id)
        try:
            try:
                outcome, *rest = await self._redis.evalsha(self._submit_one.sha, len(script_keys),
                                                           *script_keys, *args)
            except NoScriptError:         # first use, or Redis restarted: nothing ran
                await self._redis.script_load(SUBMIT_ONE_SCRIPT)
                outcome, *rest = await self._redis.evalsha(self._submit_one.sha, len(script_keys),
                                                           *script_keys, *args)
            outcome = outcome.decode()
            if outcome == "result":
                return Submission(job_id, JobStatus.done, rest[0])
            if outcome == "full":
                raise errors.RateLimited(f"the queue is full ({rest[0]} tasks waiting); "
                                         "try again shortly", retry_after=5, queue_depth=rest[0])
        except BaseException:
            self.forget(job_id, wakeup)
            raise
        status = JobStatus.queued if outcome == ENQUEUE else JobStatus(outcome)
        if status in FINISHED:
            self.forget(job_id, wakeup)
            return Submission(job_id, status)
        return Submission(job_id, status, wakeup=wakeup)

    async def _claim_jobs(self, job_ids: list[str], messages: list[bytes], now: float) -> list:
        """[queue depth, claim outcome per job] in one round trip.

        EVALSHA straight away: a registered script in a pipeline costs a SCRIPT EXISTS round
        trip on every call. Only when Redis does not know the script yet (first use, or a
        restart) is it loaded and the claims sent again; claims of the first attempt that did
        run (another client loaded the script meanwhile) are recognised by the token.
        """
        args = (now, STALE_QUEUED_SECONDS, self._settings.visibility_timeout)
        token = uuid.uuid4().hex
        for attempt in (1, 2):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.llen(keys.QUEUE)
                    for job_id, message in zip(job_ids, messages):
                        script_keys = stuck_keys(job_id)
                        pipe.evalsha(self._claim.sha, len(script_keys), *script_keys, *args,
                                     message, job_id, token)
                    return await pipe.execute()
            except NoScriptError:
                if attempt == 2:
                    raise
                await self._redis.script_load(CLAIM_SCRIPT)
        raise AssertionError("unreachable")

    async def _unclaim(self, jobs: list[tuple[str, Article]]) -> None:
        # so that a later submission sends them, instead of finding them "queued" forever
        # (if Redis is down this fails too: the claims stay, and the reaper sends them later)
        with contextlib.suppress(Exception):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*[keys.job(job_id) for job_id, _ in jobs])
                pipe.zrem(keys.ACTIVE_JOBS, *[job_id for job_id, _ in jobs])
                await pipe.execute()

    async def resend(self, jobs: list[tuple[str, Article]]) -> None:
        """Send jobs already claimed as queued again (a crashed submitter may have claimed
        them and died before sending; a job sent twice is linked once, the second task
        finds the result stored)."""
        await self._send(jobs)

    async def _send(self, jobs: list[tuple[str, Article]]) -> None:
        await self.send_messages([[job_id, article.to_message(), self._kb_version]
                                  for job_id, article in jobs])

    async def send_messages(self, messages: list[list]) -> None:
        """Publish ``[job_id, article message, kb_version]`` tasks; the reaper re-sends stored
        messages through here."""
        # one round trip; the worker takes from the other end, so the first is linked first
        await self._redis.lpush(keys.QUEUE, *link_tasks(self._celery, messages))

    async def refresh_entities(self, qids: list[str], as_of: str | None) -> None:
        def send():
            self._celery.send_task(REFRESH_ENTITIES, args=[qids, as_of], queue=keys.QUEUE)
        try:
            await asyncio.get_running_loop().run_in_executor(None, send)
        except Exception as exc:
            raise (unavailable(exc) or errors.BrokerUnavailable(
                f"cannot queue the refresh: {exc}", retry_after=5)) from exc

    # --- waiting --------------------------------------------------------------------------
    async def wait(self, job_id: str, timeout: float) -> JobRecord | None:
        """The job's record once it is done or failed, or its latest record after ``timeout``."""
        record, _result = await self._wait(job_id, timeout, with_result=False)
        return record

    async def wait_result(self, job_id: str, timeout: float,
                          wakeup: asyncio.Future | None = None
                          ) -> tuple[JobRecord | None, bytes | None]:
        """``wait``, plus the result once done: from the done notice when it carries it, else
        read in the same round trip as the record. ``wakeup``: a submission's
        (``Submission.wakeup``), registered before it ran, so the first read is skipped (the
        submission saw the job not done, and any end since wakes it)."""
        return await self._wait(job_id, timeout, with_result=True, wakeup=wakeup)

    async def wait_results(self, job_ids: list[str], timeout: float, settle: float = 0.0
                           ) -> list[tuple[JobRecord | None, bytes | None]]:
        """``wait_result`` for many jobs at once (``relink``): every job's waiter is registered
        first, the jobs are read together, and once some end (their notices fired; after
        ``settle`` seconds more, so that ends arriving one by one are read a few at a time)
        those are read together again: a chunk costs a round trip per few jobs, not one or two
        per job. A job whose notice never comes (lost to a reconnect) is read again every
        ``RECHECK_SECONDS``; past ``timeout`` the latest records are returned."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wakeups = {job_id: self._expect(job_id) for job_id in dict.fromkeys(job_ids)}
        outcomes: dict[str, tuple[JobRecord | None, bytes | None]] = {}
        try:
            to_read = list(wakeups)
            while True:
                for job_id, (record, result) in zip(to_read, await self.statuses(to_read)):
                    outcomes[job_id] = (record, result)
                    if record is None or record.status in FINISHED:
                        self.forget(job_id, wakeups.pop(job_id))
                if not wakeups or deadline <= loop.time():
                    break
                done, _ = await asyncio.wait(
                    wakeups.values(), return_when=asyncio.FIRST_COMPLETED,
                    timeout=min(max(0.0, deadline - loop.time()), RECHECK_SECONDS))
                if done and settle:
                    await asyncio.sleep(min(settle, max(0.0, deadline - loop.time())))
                # an end wakes its job's future; none woken in RECHECK_SECONDS: read them all
                to_read = [job_id for job_id, wakeup in wakeups.items() if wakeup.done()] \
                    or list(wakeups)
        finally:
            for job_id, wakeup in wakeups.items():
                self.forget(job_id, wakeup)
        return [outcomes[job_id] for job_id in job_ids]

    async def _wait(self, job_id: str, timeout: float, with_result: bool,
                    wakeup: asyncio.Future | None = None
                    ) -> tuple[JobRecord | None, bytes | None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            fresh = wakeup is not None
            if not fresh:
                wakeup = self._expect(job_id)
            try:
                if not fresh:
                    # read after registering: an end announced before this read is seen in the
                    # record, one announced after it wakes the future
                    record, result = await self._read(job_id, with_result)
                    if record is None or record.status in FINISHED or deadline <= loop.time():
                        return record, result
                with contextlib.suppress(asyncio.TimeoutError):
                    notice = await asyncio.wait_for(
                        wakeup, min(max(0.0, deadline - loop.time()), RECHECK_SECONDS))
                    if notice is not None and with_result:     # the result came with it
                        return JobRecord(job_id, JobStatus.done, updated_at=time.time()), notice
            finally:
                self.forget(job_id, wakeup)
                wakeup = None

    async def _read(self, job_id: str, with_result: bool) -> tuple[JobRecord | None, bytes | None]:
        if with_result:
            return await self.status(job_id)
        return await self.record(job_id), None

    def _expect(self, job_id: str) -> asyncio.Future:
        """A future woken by the job's end (with the result, when the notice carries it)."""
        wakeup = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, set()).add(wakeup)
        return wakeup

    def forget(self, job_id: str, wakeup: asyncio.Future | None) -> None:
        """Stop waking ``wakeup`` (a submission's, when its request gives up before waiting)."""
        waiters = self._waiters.get(job_id)
        if waiters is not None:
            waiters.discard(wakeup)
            if not waiters:
                self._waiters.pop(job_id, None)

    async def _listen(self) -> None:
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.JOBS_DONE_CHANNEL)
                while not self._stopping.is_set():
                    # a bounded wait rather than listen(): redis-py's listen() can swallow a
                    # cancellation, which would hang the app's shutdown
                    message = await pubsub.get_message(timeout=LISTEN_POLL_SECONDS)
                    if message is not None:
                        self._wake(*done_notice(message["data"]))
            except Exception as exc:  # Redis went away: waiters fall back to re-reading
                log.debug("job notifications interrupted (%s); resubscribing", exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _wake(self, job_id: str, result: bytes | None = None) -> None:
        for wakeup in self._waiters.get(job_id, ()):
            if not wakeup.done():
                wakeup.set_result(result)
