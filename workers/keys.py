"""Every Redis key and channel factlink uses, in one place (the way arq's ``constants.py`` does).

    factlink:result:{job_id}                   linking result JSON (bytes served as-is)
    factlink:job:{job_id}                      hash: status, error_code, error_message, timestamps
    factlink:jobs:done                         pub/sub channel: a job id, published when it ends
    factlink:card:{kb_version}:{qid}:{as_of}   "etag\\n" + fact card JSON, computed from the KB
    factlink:overlay:{qid}:{as_of}             "etag\\n" + fact card JSON, refreshed from Wikidata
    factlink:stats:link                        hash: linking-time histogram reported by workers
    factlink:generations                       hash: kb (overlay) and cards generations
    factlink:generations                       pub/sub channel: a field name, published on a bump
    factlink                                   the Celery queue (a Redis list owned by kombu)

Job ids already contain ``kb_version`` (see ``workers.jobs.job_id``), so a new KB never reads a
stale result; card keys carry it explicitly.
"""
from __future__ import annotations

PREFIX = "factlink"

#: Celery queue name; with the Redis transport it is also the list holding waiting tasks.
QUEUE = PREFIX

JOBS_DONE_CHANNEL = f"{PREFIX}:jobs:done"
LINK_STATS = f"{PREFIX}:stats:link"
#: see ``workers.generations``
GENERATIONS = f"{PREFIX}:generations"
GENERATIONS_CHANNEL = f"{PREFIX}:generations"

#: written in place of a missing ``as_of`` so "current facts" has a key of its own
CURRENT = "current"


def result(job_id: str) -> str:
    return f"{PREFIX}:result:{job_id}"


def job(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def card(kb_version: str, qid: str, as_of: str | None) -> str:
    return f"{PREFIX}:card:{kb_version}:{qid}:{as_of or CURRENT}"


def overlay(qid: str, as_of: str | None) -> str:
    return f"{PREFIX}:overlay:{qid}:{as_of or CURRENT}"
