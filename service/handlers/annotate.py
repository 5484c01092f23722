"""POST /v1/annotate: the linking result now, from the cache or from a worker, else a job id.

A body answered before is served from the process's answer cache (``service.answer_cache``)
without parsing it; else a parsed article's result is one Redis GET away; the stored bytes are
the body either way. A miss queues the job and waits for the workers' completion notice without
blocking the loop; past ``FACTLINK_SYNC_TIMEOUT`` it answers 202 with the job to poll instead of
failing.

Other formats (``service.formats``: Web Annotation, NIF) are rendered from the same result bytes,
cached or not; a NIF body (GERBIL) is linked context by context and answered in NIF.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import NamedTuple

import orjson
import redis
from aiohttp import web
from multidict import CIMultiDict

from linkers import errors
from workers.jobs import Article, JobStatus
from workers.queue import Submission

from .. import formats, shapes
from ..body import article_body_limit, read_body, read_bytes
from ..formats import Format, nif, webannotation
from ..resources import ANSWERS, GENERATIONS, JOBS, METRICS, SETTINGS, WORKERS
from .overrides import rules_scope

CACHE_HEADER = "X-Factlink-Cache"
JOB_HEADER = "X-Factlink-Job"


def _result(body: bytes, job_id: str, cache: str) -> web.Response:
    # the stored bytes as they are, with a plain headers dict (no content_type= parsing)
    return web.Response(body=body, headers={"Content-Type": "application/json",
                                            CACHE_HEADER: cache, JOB_HEADER: job_id})


def _remember(answers, memory_key: tuple | None, job_id: str, result: bytes) -> None:
    if memory_key is not None:
        answers.put(memory_key, (job_id, result), len(memory_key[2]) + len(result) + len(job_id))


def _remember_json(answers, memory_key: tuple | None, job_id: str, result: bytes) -> None:
    """A JSON result, with the headers every later hit answers with, made once here."""
    if memory_key is not None:
        headers = CIMultiDict({"Content-Type": "application/json", CACHE_HEADER: "hit",
                               JOB_HEADER: job_id, "Content-Length": str(len(result))})
        answers.put(memory_key, (job_id, result, headers),
                    len(memory_key[2]) + len(result) + len(job_id))


async def annotate(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    if formats.is_turtle(request.content_type):
        return await _annotate_nif(request)
    if request.query_string:
        query = request.query
        chosen, media_type = formats.negotiate(query.get("format"), request.headers.get("Accept"))
        source = formats.parse_source(query.get("source"))
    else:                   # most requests: no query to parse
        chosen, media_type = formats.negotiate(None, request.headers.get("Accept"))
        source = None
    body = await read_body(request, article_body_limit(settings.max_text_bytes,
                                                       settings.max_body_bytes))
    generations, answers, metrics = app[GENERATIONS], app[ANSWERS], app[METRICS]
    # the key is made before anything is awaited: an answer is kept under the version it is for,
    # and under the scope of the caller's own newsroom rules (None for every other caller)
    scope = rules_scope(request)
    memory_key = ("annotate", generations.kb_version, body, scope) if generations.live else None
    # other formats are remembered apart: their bytes also name the document (source or job).
    # Web Annotation too: its conversion took ~4 ms for a 4 KB article under load (Dec 6), so
    # converting on every hit held a core at 500 req/s (bench.http: p50 724 ms)
    rendered_key = (memory_key + (chosen.value, source, request.url.origin())
                    if memory_key is not None and chosen is not Format.json else None)
    if rendered_key is not None:
        rendered = answers.get(rendered_key)
        if rendered is not None:
            metrics.cache_hit("result")
            return _formatted(rendered[1], media_type, rendered[0], "hit")
    if memory_key is not None:
        remembered = answers.get(memory_key)
        if remembered is not None:
            metrics.cache_hit("result")
            if chosen is Format.json:
                return web.Response(body=remembered[1], headers=remembered[2])
            article = _scoped(shapes.parse_article(shapes.parse_json(body), settings.max_text_bytes), scope)
            return await _rendered(request, chosen, media_type, source, article, rendered_key,
                                   _Linked(remembered[0], remembered[1], "hit", JobStatus.done))
    article = _scoped(shapes.parse_article(shapes.parse_json(body), settings.max_text_bytes), scope)
    linked = await _linked(app, article)
    if linked.result is None:
        return _accepted([linked])
    _remember_json(answers, memory_key, linked.job_id, linked.result)
    if chosen is Format.json:
        return _result(linked.result, linked.job_id, linked.cache)
    return await _rendered(request, chosen, media_type, source, article, rendered_key, linked)


def _scoped(article: Article, scope: str | None) -> Article:
    return article if scope is None else dataclasses.replace(article, rules_scope=scope)


class _Linked(NamedTuple):
    job_id: str
    result: bytes | None        # the result JSON; None: not done within the sync timeout
    cache: str                  # "hit" or "miss"
    status: JobStatus


async def _linked(app: web.Application, article: Article) -> _Linked:
    settings, jobs, metrics, workers = app[SETTINGS], app[JOBS], app[METRICS], app[WORKERS]
    wakeup = None
    if workers.answered():
        # workers are there: the stored result, else the claim and the task, in one round trip
        submission = await _submit_one(jobs, article)
        job_id, wakeup = submission.job_id, submission.wakeup
        if submission.result is not None:
            metrics.cache_hit("result")
            return _Linked(job_id, submission.result, "hit", JobStatus.done)
        metrics.cache_miss("result")
        try:
            await workers.workers()   # a stale answer is refreshed in the background
        except BaseException:
            jobs.forget(job_id, wakeup)
            raise
    else:
        job_id = jobs.job_id(article)
        cached = await jobs.result(job_id)
        if cached is not None:
            metrics.cache_hit("result")
            return _Linked(job_id, cached, "hit", JobStatus.done)
        metrics.cache_miss("result")
        if not await workers.workers():
            # workers cannot answer a Redis that refuses writes: then that is the error to report
            await jobs.check_writable()
            raise errors.NoWorkers("no linking worker is running; try again shortly", retry_after=5)
        await jobs.submit([article])
    record, result = await jobs.wait_result(job_id, settings.sync_timeout, wakeup)
    if record is not None and record.status is JobStatus.failed:
        raise record.error()
    status = JobStatus.done if result is not None else \
        record.status if record is not None else JobStatus.queued
    return _Linked(job_id, result, "miss", status)


async def _submit_one(jobs, article: Article) -> Submission:
    try:
        return await jobs.submit_one(article)
    except redis.exceptions.ResponseError:
        # Redis refuses writes (full disk, read-only, out of memory): a stored result is still
        # served, as a plain read; without one the refusal is the answer
        job_id = jobs.job_id(article)
        cached = await jobs.result(job_id)
        if cached is None:
            raise
        return Submission(job_id, JobStatus.done, cached)


def _formatted(body: bytes, media_type: str, job_id: str, cache: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": media_type, CACHE_HEADER: cache,
                                            JOB_HEADER: job_id})


async def _rendered(request: web.Request, chosen: Format, media_type: str, source: str | None,
                    article: Article, rendered_key: tuple | None, linked: _Linked) -> web.Response:
    """The result as Web Annotation or NIF; without ``source`` the document is the job. NIF is
    written by rdflib, tens of milliseconds for a long article: off the event loop."""
    job_iri = str(request.url.origin()) + shapes.poll_path(linked.job_id)
    texts = list(article.segments) if article.segments is not None else [article.text]
    if chosen is Format.webannotation:
        body = orjson.dumps(webannotation.annotation_collection(
            orjson.loads(linked.result), texts, source or job_iri, job_iri))
    else:
        body = await asyncio.to_thread(
            lambda: nif.turtle(nif.document(orjson.loads(linked.result), texts, source or job_iri)))
    _remember(request.app[ANSWERS], rendered_key, linked.job_id, body)
    return _formatted(body, media_type, linked.job_id, linked.cache)


def _accepted(linked: list[_Linked]) -> web.Response:
    """202: not done within the sync timeout; poll the job (or jobs, for a NIF document)."""
    accepted = [shapes.job_accepted(one.job_id, one.status) for one in linked]
    body = accepted[0] if len(accepted) == 1 else {"jobs": accepted}
    return web.Response(status=202, body=orjson.dumps(body), content_type="application/json",
                        headers={"Location": shapes.poll_path(linked[0].job_id),
                                 JOB_HEADER: ",".join(one.job_id for one in linked),
                                 CACHE_HEADER: "miss"})


async def _annotate_nif(request: web.Request) -> web.Response:
    """A NIF document in (GERBIL's web-service protocol), the same document annotated out."""
    app = request.app
    settings = app[SETTINGS]
    chosen, media_type = formats.negotiate(request.query.get("format"),
                                           request.headers.get("Accept"), natural=Format.nif)
    if chosen is not Format.nif:
        raise errors.NotAcceptable("a NIF request is answered in NIF (text/turtle or "
                                   "application/x-turtle)")
    # the same bound as a JSON article's: a NIF document is its text plus a few lines a phrase
    data = await read_bytes(request, article_body_limit(settings.max_text_bytes,
                                                        settings.max_body_bytes))
    graph, contexts = await asyncio.to_thread(nif.parse_nif, data)
    if len(contexts) > settings.max_batch:
        raise errors.InvalidInput(f"{len(contexts)} nif:Context nodes; at most "
                                  f"{settings.max_batch} per request", limit=settings.max_batch)
    articles = []
    for context in contexts:
        size = len(context.text.encode("utf-8"))
        if size > settings.max_text_bytes:
            raise errors.TextTooLarge(f"nif:Context <{context.node}> is {size} bytes; the "
                                      f"limit is {settings.max_text_bytes}",
                                      limit=settings.max_text_bytes, size=size)
        spans = tuple(context.phrases) if context.given else None
        articles.append(_scoped(Article(text=context.text, mention_spans=spans), rules_scope(request)))
    linked = await asyncio.gather(*(_linked(app, article) for article in articles))
    if any(one.result is None for one in linked):
        return _accepted(linked)

    def annotated() -> bytes:
        for context, one in zip(contexts, linked):
            nif.annotate(graph, context, orjson.loads(one.result))
        return nif.turtle(graph)

    body = await asyncio.to_thread(annotated)
    cache = "hit" if all(one.cache == "hit" for one in linked) else "miss"
    return _formatted(body, media_type, ",".join(one.job_id for one in linked), cache)
