"""The Celery tasks: link one article, link a batch, refresh entity cards from Wikidata.

Each worker process opens the KB and a Redis client once (``worker_process_init``); the KB is
mmap-backed, so all processes on a machine share its pages. Retries, with backoff, are only for
transient failures (Redis unreachable, the Wikidata API unavailable); bad input fails the job at
once, with the reason kept in its status record.
"""
from __future__ import annotations

import logging
import time

import orjson
import redis
from celery import Celery
from celery.signals import worker_process_init

from linkers import errors, open_kb

from . import cache, jobs, keys
from .kb_delta import RedisOverlay, generation_of, remember_cached
from .settings import Settings
from .wikidata import WikidataClient, refresh_cards

log = logging.getLogger(__name__)

LINK_ARTICLE = "factlink.link_article"
LINK_BATCH = "factlink.link_batch"
REFRESH_ENTITIES = "factlink.refresh_entities"

#: worth retrying: the dependency may come back; anything else fails the job
TRANSIENT_REDIS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RETRY = {"retry_backoff": 1, "retry_backoff_max": 60, "retry_jitter": True, "max_retries": 8}


class WorkerRuntime:
    """What one worker process opens once and every task in it shares."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._overlay: RedisOverlay | None = None
        self._redis = None
        self._wikidata = None

    def open(self, **_signal_kwargs) -> None:
        """Open the KB, Redis and the KB overlay in this process (after the pool forked it)."""
        self._redis = redis.Redis.from_url(self.settings.redis, socket_connect_timeout=2,
                                           socket_timeout=10, health_check_interval=30)
        self._overlay = RedisOverlay(self._redis, open_kb(self.settings.kb_path))
        try:
            self._overlay.load()
        except TRANSIENT_REDIS as exc:      # caught up on a later task, when Redis is back
            log.warning("KB overlay not loaded yet (%s)", exc)

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

    def link_job(self, job_id: str, message: dict, kb_version: str) -> None:
        """Link one article and record the outcome; transient Redis errors propagate (retry)."""
        ttl, store = self.settings.result_ttl, self.redis
        generation = generation_of(kb_version, self.overlay.base_version)
        if generation is None:
            jobs.mark_failed(store, job_id, errors.KBError.code,
                             f"this worker serves KB {self.overlay.base_version}, the job was "
                             f"submitted for KB {kb_version}", ttl)
            return
        if generation > self.overlay.generation:   # the API saw a change this worker has not yet
            self.overlay.sync(at_least=generation)
        if store.exists(keys.result(job_id)):      # a redelivered or duplicate task
            jobs.mark_done(store, job_id, None, ttl)
            return
        jobs.mark_running(store, job_id, ttl)
        try:
            article = jobs.Article.from_message(message)
            if self.settings.debug_link_delay:
                time.sleep(self.settings.debug_link_delay)
            started = time.perf_counter()
            result = article.link(self.kb.scoped(article.rules_scope))
            seconds = time.perf_counter() - started
        except errors.FactlinkError as exc:
            jobs.mark_failed(store, job_id, exc.code, exc.message, ttl)
            return
        except Exception as exc:   # a bug in the linker: keep the reason, never retry it
            log.exception("linking job %s failed", job_id)
            jobs.mark_failed(store, job_id, "internal", f"linking failed ({type(exc).__name__})", ttl)
            return
        jobs.mark_done(store, job_id, orjson.dumps(result.to_dict()), ttl, seconds)
        remember_cached(store, [m.qid for m in result.mentions if m.qid], keys.result(job_id))

    def refresh(self, qids: list[str], as_of: str | None) -> list[str]:
        """Fetch fresh facts from Wikidata and store them as card refreshes; returns the QIDs
        refreshed (ids Wikidata does not know keep whatever card they had)."""
        cards = refresh_cards(qids, self.wikidata, self.kb, as_of)
        refreshed = sorted(qid for qid, card in cards.items() if card is not None)
        for qid in refreshed:
            cache.write_card_refresh(self.redis, qid, as_of, cards[qid], self.settings.card_ttl)
            remember_cached(self.redis, [qid], keys.card_refresh(qid, as_of))
        return refreshed


def register_tasks(app: Celery, settings: Settings) -> WorkerRuntime:
    """Register the tasks on ``app``; they share one ``WorkerRuntime`` per process."""
    runtime = WorkerRuntime(settings)
    worker_process_init.connect(runtime.open, weak=False)

    @app.task(name=LINK_ARTICLE, autoretry_for=TRANSIENT_REDIS, **RETRY)
    def link_article(job_id: str, article: dict, kb_version: str) -> None:
        runtime.link_job(job_id, article, kb_version)

    @app.task(name=LINK_BATCH, autoretry_for=TRANSIENT_REDIS, **RETRY)
    def link_batch(batch: list[list]) -> None:
        # a retry re-runs the batch; jobs already done are skipped by their stored result
        for job_id, article, kb_version in batch:
            runtime.link_job(job_id, article, kb_version)

    @app.task(name=REFRESH_ENTITIES, bind=True, autoretry_for=TRANSIENT_REDIS, **RETRY)
    def refresh_entities(task, qids: list[str], as_of: str | None = None) -> list[str]:
        try:
            return runtime.refresh(qids, as_of)
        except errors.Unavailable as exc:
            # the client already retried a few times: come back later, as Wikidata asked
            delay = exc.details.get("retry_after") or 2 ** task.request.retries
            raise task.retry(exc=exc, countdown=min(delay, RETRY["retry_backoff_max"]))

    return runtime
