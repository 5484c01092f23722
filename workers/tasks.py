"""The Celery tasks: link one article, link a batch, refresh entity cards from Wikidata.

Each worker process opens the KB and a Redis client once (``worker_process_init``); the KB is
mmap-backed, so all processes on a machine share its pages. Retries, with backoff, are only for
transient failures (Redis unreachable or refusing writes, the Wikidata API unavailable); bad
input fails the job at once, with the reason kept in its status record.

A job's Redis writes are retried in the process for up to ``WRITE_RETRY_SECONDS`` (a bundled
Redis restarted by ``factlink serve`` is back well within that), keeping the linking result
in memory, so an outage costs no re-linking. A write that still fails leaves the job
``running`` with a lease nobody renews: the reaper sends it again once Redis is back. No
outcome depends on Celery requeueing a message, which itself needs Redis.

The work per text is bounded: at most ``FACTLINK_MAX_MENTIONS`` mentions are linked (the
result then says ``"truncated": true``), and a result over ``FACTLINK_MAX_CACHED_RESULT_BYTES``
is kept for ``LARGE_RESULT_TTL`` instead of ``FACTLINK_RESULT_TTL``.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time

import orjson
import redis
from celery import Celery
from celery.signals import worker_process_init

from linkers import errors, open_kb

from . import cache, jobs, redis_errors
from .kb_delta import RedisOverlay, generation_of
from .leases import Leases, holder_name
from .process import collect_less_for_linking
from .settings import Settings
from .wikidata import WikidataClient, refresh_cards

log = logging.getLogger(__name__)

LINK_ARTICLE = "factlink.link_article"
LINK_BATCH = "factlink.link_batch"
REFRESH_ENTITIES = "factlink.refresh_entities"

#: worth retrying: the dependency may come back; anything else fails the job
TRANSIENT_REDIS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RETRY = {"retry_backoff": 1, "retry_backoff_max": 60, "retry_jitter": True, "max_retries": 8}
#: how long one job's Redis write is retried in the process before the task gives up on it
WRITE_RETRY_SECONDS = 60.0
#: how long a result over FACTLINK_MAX_CACHED_RESULT_BYTES is kept (its job record too)
LARGE_RESULT_TTL = 3600


def write_with_retry(write, *args, deadline_seconds: float = WRITE_RETRY_SECONDS):
    """Run a Redis call (a write, or the read before it), retrying while Redis is away or
    refusing writes (with backoff); return what it returns."""
    deadline = time.monotonic() + deadline_seconds
    delay = 0.25
    while True:
        try:
            return write(*args)
        except redis.exceptions.RedisError as exc:
            if not redis_errors.is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("Redis write failed (%s); retrying in %.2f s", exc, delay)
            time.sleep(delay)
            delay = min(5.0, delay * 2)


class WorkerRuntime:
    """What one worker process opens once and every task in it shares."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._overlay: RedisOverlay | None = None
        self._redis = None
        self._wikidata = None
        self._leases = None
        #: held while a task runs: a solo worker runs link tasks in its consumer thread
        #: (``workers.consumer``) and others in Celery's, one at a time
        self.lock = threading.Lock()

    def open(self, **_signal_kwargs) -> None:
        """Open the KB, Redis and the KB overlay in this process (after the pool forked it, or
        on the first task of a solo worker), and set its garbage collector for linking."""
        collect_less_for_linking()
        self._redis = redis.Redis.from_url(self.settings.redis, socket_connect_timeout=2,
                                           socket_timeout=10, health_check_interval=30)
        self._leases = Leases(self._redis, holder_name())
        self._overlay = RedisOverlay(self._redis, open_kb(self.settings.kb_path))
        try:
            self._overlay.load()
        except TRANSIENT_REDIS as exc:      # caught up on a later task, when Redis is back
            log.warning("KB overlay not loaded yet (%s)", exc)
        with contextlib.suppress(redis.exceptions.RedisError):    # else loaded on first use
            jobs.load_scripts(self._redis)

    @property
    def leases(self) -> Leases:
        if self._leases is None:
            self.open()
        return self._leases

    @property
    def overlay(self) -> RedisOverlay:
        if self._overlay is None:
            self.open()
        return self._overlay

    @property
    def kb(self):
        """The KB with the overlay as of at most ``kb_delta.CHECK_SECONDS`` ago."""
        overlay = self.overlay
        try:
            overlay.sync()
        except TRANSIENT_REDIS as exc:
            log.warning("KB overlay not refreshed (%s)", exc)
        return overlay.kb

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self.open()
        return self._redis

    @property
    def wikidata(self) -> WikidataClient:
        if self._wikidata is None:
            self._wikidata = WikidataClient(self.settings.wikidata_api)
        return self._wikidata

    def link_jobs(self, batch: list[list]) -> None:
        """Link ``[job_id, message, kb_version]`` items and record each outcome. All the jobs
        are marked running (with leases) at once, in the same round trip that finds those whose
        result is stored already: none waits as "queued" inside a batch."""
        with self.lock:
            self._link_jobs(batch)

    def _link_jobs(self, batch: list[list]) -> None:
        if len(batch) == 1:
            self._link_single(*batch[0])
            return
        store = self.redis
        job_ids = [job_id for job_id, _message, _kb_version in batch]
        stored = write_with_retry(jobs.start_jobs, store, job_ids, self.leases.worker)
        to_link = [item for item, done in zip(batch, stored) if not done]
        for job_id, done in zip(job_ids, stored):
            if done:                              # a redelivered or duplicate task
                write_with_retry(jobs.mark_done, store, job_id, None, self.settings.result_ttl)
        if not to_link:
            return
        job_ids = [job_id for job_id, _message, _kb_version in to_link]
        self.leases.hold(job_ids)
        try:
            for job_id, message, kb_version in to_link:
                self._link_one(job_id, message, kb_version)
                self.leases.release([job_id])
        finally:
            self.leases.release(job_ids)

    def link_job(self, job_id: str, message: dict, kb_version: str) -> None:
        self.link_jobs([[job_id, message, kb_version]])

    def _link_single(self, job_id: str, message: dict, kb_version: str) -> None:
        """One job (POST /v1/annotate's task): linking starts while its running mark is on the
        way (``jobs.PendingStart``). When the answer says the result was stored already (a
        redelivered or duplicate task) the linking was for nothing and only the end is
        written, as ``link_jobs`` writes it without linking."""
        start = jobs.PendingStart(self.redis, [job_id], self.leases.worker)
        self.leases.hold([job_id])
        try:
            self._link_one(job_id, message, kb_version, start)
        finally:
            self.leases.release([job_id])

    def _link_one(self, job_id: str, message: dict, kb_version: str,
                  start: jobs.PendingStart | None = None) -> None:
        ttl, store = self.settings.result_ttl, self.redis

        def fresh() -> bool:
            # before an outcome is written: False when the start found the result stored
            # already, and then only the end is written
            if start is None or not write_with_retry(start.stored)[0]:
                return True
            write_with_retry(jobs.mark_done, store, job_id, None, ttl)
            return False

        generation = generation_of(kb_version, self.overlay.base_version)
        if generation is None:
            if fresh():
                write_with_retry(jobs.mark_failed, store, job_id, errors.KBError.code,
                                 f"this worker serves KB {self.overlay.base_version}, the job "
                                 f"was submitted for KB {kb_version}", ttl)
            return
        if generation > self.overlay.generation:   # the API saw a change this worker has not yet
            self.overlay.sync(at_least=generation)
        try:
            article = jobs.Article.from_message(message)
            if self.settings.debug_link_delay:
                time.sleep(self.settings.debug_link_delay)
            started = time.perf_counter()
            result = article.link(self.kb.scoped(article.rules_scope),
                                  max_mentions=self.settings.max_mentions)
            seconds = time.perf_counter() - started
        except errors.FactlinkError as exc:
            if fresh():
                write_with_retry(jobs.mark_failed, store, job_id, exc.code, exc.message, ttl)
            return
        except Exception as exc:   # a bug in the linker: keep the reason, never retry it
            log.exception("linking job %s failed", job_id)
            if fresh():
                write_with_retry(jobs.mark_failed, store, job_id, "internal",
                                 f"linking failed ({type(exc).__name__})", ttl)
            return
        result_json = orjson.dumps(result.to_dict())
        if not fresh():
            return
        if len(result_json) > self.settings.max_cached_result_bytes:
            ttl = min(ttl, LARGE_RESULT_TTL)
        write_with_retry(jobs.mark_done, store, job_id, result_json, ttl, seconds,
                         [m.qid for m in result.mentions if m.qid])

    def refresh(self, qids: list[str], as_of: str | None) -> list[str]:
        """Fetch fresh facts from Wikidata and store them as card refreshes; returns the QIDs
        refreshed (ids Wikidata does not know keep whatever card they had, and so does an
        entity changed in the KB overlay while its facts were fetched: that refresh is older
        than the change)."""
        with self.lock:
            return self._refresh(qids, as_of)

    def _refresh(self, qids: list[str], as_of: str | None) -> list[str]:
        seen = cache.entity_changes(self.redis, list(qids))     # before the fetch
        cards = refresh_cards(qids, self.wikidata, self.kb, as_of)
        refreshed = []
        for qid in sorted(qid for qid, card in cards.items() if card is not None):
            if cache.write_card_refresh(self.redis, qid, as_of, cards[qid], self.settings.card_ttl,
                                        seen=seen.get(qid)) is not None:
                refreshed.append(qid)
            else:
                log.info("card refresh of %s dropped: the entity changed while it was fetched", qid)
        return refreshed


#: the link tasks and the runtime's method that runs each (its args are the task's), for the
#: Celery tasks below and a solo worker's own consumer (``workers.consumer``) alike
LINK_TASKS = {LINK_ARTICLE: WorkerRuntime.link_job, LINK_BATCH: WorkerRuntime.link_jobs}


def register_tasks(app: Celery, settings: Settings) -> WorkerRuntime:
    """Register the tasks on ``app``; they share one ``WorkerRuntime`` per process."""
    runtime = WorkerRuntime(settings)
    worker_process_init.connect(runtime.open, weak=False)

    # no Celery autoretry for linking: a retry is a publish, which fails while Redis is away
    # and ends in "reject requeue=False"; Redis calls retry in the process instead
    # (write_with_retry), and past that the reaper re-sends the job
    @app.task(name=LINK_ARTICLE)
    def link_article(job_id: str, article: dict, kb_version: str) -> None:
        runtime.link_job(job_id, article, kb_version)

    @app.task(name=LINK_BATCH)
    def link_batch(batch: list[list]) -> None:
        # a re-sent batch skips the jobs already done by their stored result
        runtime.link_jobs(batch)

    @app.task(name=REFRESH_ENTITIES, bind=True, autoretry_for=TRANSIENT_REDIS, **RETRY)
    def refresh_entities(task, qids: list[str], as_of: str | None = None) -> list[str]:
        try:
            return runtime.refresh(qids, as_of)
        except errors.Unavailable as exc:
            # the client already retried a few times: come back later, as Wikidata asked
            delay = exc.details.get("retry_after") or 2 ** task.request.retries
            raise task.retry(exc=exc, countdown=min(delay, RETRY["retry_backoff_max"]))

    return runtime
