"""Every Redis key and channel factlink uses, in one place (the way arq's ``constants.py`` does).

    factlink:result:{job_id}                   linking result JSON (bytes served as-is)
    factlink:job:{job_id}                      hash: status, error_code, error_message, timestamps,
                                               and while queued/running: message, dispatches
    factlink:jobs:active                       sorted set: job ids queued or running -> last dispatch
    factlink:lease:{job_id}                    the worker running the job (expires unless renewed)
    factlink:reaper                            lock: one API process reaps at a time
    factlink:readyz                            written by /readyz: does Redis take writes?
    factlink:jobs:done                         pub/sub channel: a job id, published when it ends
    factlink:card:{kb_version}:{qid}:{as_of}   "etag\\n" + fact card JSON, computed from the KB
    factlink:card_refresh:{qid}:{as_of}        "etag\\n" + fact card JSON, refreshed from Wikidata
    factlink:stats:link                        hash: linking-time histogram reported by workers
    factlink:kb:{base}:changes                 list: KB overlay changes (JSON), oldest first; its
                                               length is the overlay generation
    factlink:kb:{base}:snapshot                hash: generation, state (the overlay's derived state)
    factlink:kb:cached:{qid}                   set: cache keys holding the entity (bounded)
    factlink:kb:{base}:follow                  hash: `kb follow`'s stream position, lag, counts
    factlink:kb:audit                          list: newsroom rule changes (who, when, what), newest first
    factlink:generations                       hash: kb (overlay: the changes list's length) and cards
                                               generations
    factlink:generations                       pub/sub channel: a field name, published on a bump
    factlink                                   the Celery queue (a Redis list owned by kombu)
    factlink:celery                            the tasks a solo worker's link consumer hands to
                                               Celery (``workers.consumer``): refreshes

Eviction (``maxmemory-policy volatile-lru``, ``EVICTION_POLICY``): Redis may evict only keys
with a TTL under memory pressure. The Celery queue list never has one, and a job record gets its TTL only when the job ends (done or failed):
while queued or running it has none, so nothing that still has to run can be evicted. What may
be evicted (results, fact cards, overlays, ended job records) can be recomputed: a resubmit of a
job whose result is gone links it again. One Redis database serves both roles, so the choice
is made per key, not per database: the policy is instance-wide, so separate databases alone
would not protect the queue. When only unevictable keys are left, writes fail with OOM and the
API answers 503 ``redis_out_of_memory``.

Job ids already contain ``kb_version`` (see ``workers.jobs.job_id``), so a new KB never reads a
stale result; card keys carry it explicitly.
"""
from __future__ import annotations

PREFIX = "factlink"

#: Celery queue name; with the Redis transport it is also the list holding waiting tasks.
QUEUE = PREFIX
#: what a solo worker's own consumer (``workers.consumer``) hands to the Celery worker of its
#: process: every task but the link tasks
CELERY_QUEUE = f"{PREFIX}:celery"

JOBS_DONE_CHANNEL = f"{PREFIX}:jobs:done"
ACTIVE_JOBS = f"{PREFIX}:jobs:active"
REAPER_LOCK = f"{PREFIX}:reaper"
READINESS_PROBE = f"{PREFIX}:readyz"
EVICTION_POLICY = "volatile-lru"
LINK_STATS = f"{PREFIX}:stats:link"
#: see ``workers.generations``
GENERATIONS = f"{PREFIX}:generations"
GENERATIONS_CHANNEL = f"{PREFIX}:generations"

KB_AUDIT = f"{PREFIX}:kb:audit"
#: QID -> how many changes of that entity were pushed to the KB overlay (``workers.kb_delta``):
#: a card refresh fetched from Wikidata before a change is not stored after it
#: (``workers.cache.write_card_refresh``). No TTL: never evicted.
KB_CHANGED = f"{PREFIX}:kb:changed"

#: written in place of a missing ``as_of`` so "current facts" has a key of its own
CURRENT = "current"


def result(job_id: str) -> str:
    return f"{PREFIX}:result:{job_id}"


def job(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def lease(job_id: str) -> str:
    return f"{PREFIX}:lease:{job_id}"


def card(kb_version: str, qid: str, as_of: str | None) -> str:
    return f"{PREFIX}:card:{kb_version}:{qid}:{as_of or CURRENT}"


def card_refresh(qid: str, as_of: str | None) -> str:
    return f"{PREFIX}:card_refresh:{qid}:{as_of or CURRENT}"


def kb_changes(base_version: str) -> str:
    return f"{PREFIX}:kb:{base_version}:changes"


def kb_snapshot(base_version: str) -> str:
    return f"{PREFIX}:kb:{base_version}:snapshot"


def kb_cached(qid: str) -> str:
    return f"{PREFIX}:kb:cached:{qid}"


def kb_follow(base_version: str) -> str:
    return f"{PREFIX}:kb:{base_version}:follow"
