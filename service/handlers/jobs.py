"""POST /v1/jobs (one article or a batch -> 202 with job ids) and GET /v1/jobs/{job_id}."""
from __future__ import annotations

import dataclasses

from aiohttp import web

from linkers import errors

from .. import shapes
from ..body import read_json
from ..resources import JOBS, SETTINGS
from .overrides import rules_scope


async def submit(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    value = await read_json(request, settings.max_body_bytes)
    articles = shapes.parse_jobs(value, settings.max_text_bytes, settings.max_batch)
    scope = rules_scope(request)
    if scope is not None:      # the caller's own newsroom rules apply (and name the jobs)
        articles = [dataclasses.replace(article, rules_scope=scope) for article in articles]
    submissions = await request.app[JOBS].submit(articles)
    response = web.Response(status=202, body=shapes.jobs_accepted_body(submissions),
                            content_type="application/json")
    if len(submissions) == 1:
        response.headers["Location"] = shapes.poll_path(submissions[0].job_id)
    return response


async def status(request: web.Request) -> web.Response:
    job_id = shapes.parse_job_id(request.match_info["job_id"])
    record, result = await request.app[JOBS].status(job_id)
    if record is None:
        raise errors.UnknownJob(f"no job {job_id} (never submitted, or expired)", job_id=job_id)
    return web.Response(body=shapes.job_status_body(record, result),
                        content_type="application/json")
