"""A linking job: its deterministic id, its status record in Redis, and how workers update it.

A job id is a hash of what determines the result (text, canonical options, ``published_at``,
``kb_version``, ``linker_version``), so submitting the same article twice is free de-duplication
and a new KB or linker never reuses an old result. The status record outlives the worker that ran
the job: it is a Redis hash with a TTL, written by the API when it claims the job and by the
worker at each step; every end (done or failed) is announced on ``keys.JOBS_DONE_CHANNEL``.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

import orjson
from redis.exceptions import NoScriptError

from linkers import LINKER_VERSION, LinkOptions, LinkResult, errors, link, link_segments

from . import keys, stats


class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


@dataclass(frozen=True)
class Article:
    """One article to link, validated (the HTTP layer builds it from a request body).

    Given as ``segments`` (a web page's blocks), ``text`` is the segments as the linker joins
    them, and the mentions' offsets are into their segment."""

    text: str
    published_at: str | None = None
    options: LinkOptions = field(default_factory=LinkOptions)
    segments: tuple[str, ...] | None = None
    # the spans to disambiguate (a NIF request's phrases); None: spot the names in the text
    mention_spans: tuple[tuple[int, int], ...] | None = None
    # whose newsroom rules apply on top of the global ones (an API key's fingerprint, set only
    # when that key has rules): part of the job id, so one key's result never serves another
    rules_scope: str | None = None

    def job_id(self, kb_version: str) -> str:
        identity = {"text": self.text, "published_at": self.published_at,
                    "options": self.options.to_dict(), "kb_version": kb_version,
                    "linker_version": LINKER_VERSION}
        if self.segments is not None:   # text alone would not tell the offsets apart
            identity["segments"] = self.segments
        if self.mention_spans is not None:
            identity["mention_spans"] = self.mention_spans
        if self.rules_scope is not None:
            identity["rules_scope"] = self.rules_scope
        return hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]

    def link(self, kb, max_mentions: int | None = None) -> LinkResult:
        """``max_mentions``: the work budget (``FACTLINK_MAX_MENTIONS``), see ``linkers.link``."""
        if self.segments is not None:
            return link_segments(list(self.segments), kb, self.published_at, self.options,
                                 max_mentions=max_mentions)
        return link(self.text, kb, self.published_at, self.options,
                    mention_spans=self.mention_spans, max_mentions=max_mentions)

    def to_message(self) -> dict:
        """The JSON-safe form carried in a Celery task message."""
        message = {"text": self.text, "published_at": self.published_at,
                   "options": self.options.to_dict()}
        if self.segments is not None:
            message["segments"] = list(self.segments)
        if self.mention_spans is not None:
            message["mention_spans"] = self.mention_spans
        if self.rules_scope is not None:
            message["rules_scope"] = self.rules_scope
        return message

    @classmethod
    def from_message(cls, message: dict) -> "Article":
        segments, spans = message.get("segments"), message.get("mention_spans")
        return cls(text=message["text"], published_at=message.get("published_at"),
                   options=LinkOptions.from_dict(message.get("options")),
                   segments=None if segments is None else tuple(segments),
                   mention_spans=None if spans is None else tuple(map(tuple, spans)),
                   rules_scope=message.get("rules_scope"))


@dataclass(frozen=True)
class JobRecord:
    """What ``GET /v1/jobs/{id}`` reports about a job (the result itself lives in its own key)."""

    job_id: str
    status: JobStatus
    submitted_at: float | None = None
    updated_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_hash(cls, job_id: str, raw: dict[bytes, bytes]) -> "JobRecord | None":
        if not raw or b"status" not in raw:
            return None
        text = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(job_id=job_id, status=JobStatus(text["status"]),
                   submitted_at=_float(text.get("submitted_at")),
                   updated_at=_float(text.get("updated_at")),
                   error_code=text.get("error_code"), error_message=text.get("error_message"))

    def error(self) -> errors.FactlinkError:
        """A failed job's reason as the error it was, so the API maps it to the same status."""
        cls = _ERROR_BY_CODE.get(self.error_code or "", errors.FactlinkError)
        error = cls(self.error_message or "the job failed")
        error.code = self.error_code or "internal"
        return error


def _all_subclasses(cls: type) -> list[type]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _all_subclasses(child)]


_ERROR_BY_CODE = {cls.code: cls for cls in _all_subclasses(errors.FactlinkError)}


def _float(value: str | None) -> float | None:
    return float(value) if value else None


#: seconds a worker's lease on a job lives unless renewed (``workers.leases`` renews it every
#: third of that): a job whose worker is gone is noticed by the reaper within this, plus its tick
LEASE_TTL = 15
#: a queued job this old, with the queue list empty, has no message left anywhere that a live
#: worker will take: it was lost (a publish that failed, a worker killed holding it)
STALE_QUEUED_SECONDS = 20
#: dispatches of one job before it fails with ``worker_lost`` (a text that kills its worker
#: every time must not circulate for ever)
MAX_DISPATCHES = 5

#: The one rule for "this queued or running job will not end by itself", shared by the claim
#: (a resubmission re-dispatches it) and the reaper. KEYS[1] job hash, KEYS[3] lease,
#: KEYS[4] the Celery queue list; ARGV[1] now, ARGV[2] STALE_QUEUED_SECONDS, ARGV[3] the hard
#: bound (FACTLINK_VISIBILITY_TIMEOUT): past it any queued or running job is re-dispatched.
_STUCK = """
local function stuck(status, now)
  local updated = tonumber(redis.call('HGET', KEYS[1], 'updated_at') or '0')
  if now - updated > tonumber(ARGV[3]) then return true end
  if status == 'running' then
    return now - updated > 2 and redis.call('EXISTS', KEYS[3]) == 0
  end
  return now - updated > tonumber(ARGV[2]) and redis.call('LLEN', KEYS[4]) == 0
end
"""

#: Claim a job for submission, atomically (``_CLAIM``, shared by the two scripts below). Sends
#: are due ("enqueue") for a new job, a failed job, a finished job whose result expired or was
#: evicted, or a queued/running job that is stuck (see ``_STUCK``); otherwise the job's current
#: status is the answer, sent nowhere. The claimed record keeps the task message (ARGV[4]) so the
#: reaper can send it again, joins the active set (KEYS[5]) and has no TTL until the job ends: it
#: cannot be evicted (``keys``).
_CLAIM = _STUCK + """
-- the job's status when no send is due, else nil
local function in_hand(status, now)
  if status == 'done' and redis.call('EXISTS', KEYS[2]) == 1 then return status end
  if (status == 'queued' or status == 'running') and not stuck(status, now) then return status end
  return nil
end
local function claim(now)
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'status', 'queued', 'submitted_at', ARGV[1], 'updated_at', ARGV[1],
             'message', ARGV[4], 'dispatches', 1, 'claim', ARGV[6])
  redis.call('ZADD', KEYS[5], now, ARGV[5])
end
"""

#: The claim of a batch, one call per job in a pipeline; the caller then sends the tasks of the
#: jobs that came back "enqueue". ARGV[6] is a token of the submission: several API processes
#: (and relink's concurrent chunks) race on first loading the script, and a pipeline retried
#: after NOSCRIPT may have claimed some jobs already; with the token those still come back
#: "enqueue" instead of being left unsent.
CLAIM_SCRIPT = _CLAIM + """
local status = redis.call('HGET', KEYS[1], 'status')
local now = tonumber(ARGV[1])
-- the same submission again (its pipeline was retried after a NOSCRIPT): still ours to send
if status == 'queued' and redis.call('HGET', KEYS[1], 'claim') == ARGV[6] then return 'enqueue' end
local current = in_hand(status, now)
if current then return current end
claim(now)
return 'enqueue'
"""

#: One article's whole submission in one round trip (POST /v1/annotate): the stored result if
#: there is one ({"result", bytes}); else the claim and, when a send is due, the task itself
#: (ARGV[7], pushed to the queue list KEYS[4] in the same step: no claimed job is left unsent,
#: nothing to undo) unless the queue holds ARGV[8] tasks already ({"full", depth}: nothing
#: claimed); else {status} of the job already in hand. Same KEYS and ARGV[1-6] as the claim.
#: A job submitted here is marked ``waited``: a request awaits it, so its done notice carries
#: the result (``DONE_SCRIPT``).
SUBMIT_ONE_SCRIPT = _CLAIM + """
local result = redis.call('GET', KEYS[2])
if result then return {'result', result} end
local now = tonumber(ARGV[1])
local current = in_hand(redis.call('HGET', KEYS[1], 'status'), now)
if current then
  redis.call('HSET', KEYS[1], 'waited', 1)
  return {current}
end
local depth = redis.call('LLEN', KEYS[4])
if depth + 1 > tonumber(ARGV[8]) then return {'full', depth} end
claim(now)
redis.call('HSET', KEYS[1], 'waited', 1)
redis.call('LPUSH', KEYS[4], ARGV[7])
return {'enqueue'}
"""
ENQUEUE = "enqueue"

#: Send a job that lost its worker again, counting the dispatch: the stored task message to
#: publish, or "failed" once it used up MAX_DISPATCHES (ARGV[4]). Shared by the reaper and the
#: worker supervisor, so both count dispatches alike (same KEYS/ARGV as the reaper's step).
_REDISPATCH = """
local function redispatch(now)
  local message = redis.call('HGET', KEYS[1], 'message')
  local dispatches = redis.call('HINCRBY', KEYS[1], 'dispatches', 1)
  if not message or dispatches > tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_at', ARGV[1],
               'error_code', 'worker_lost',
               'error_message', 'the job was dispatched ' .. (dispatches - 1) ..
               ' times and its worker was lost each time; submit it again to retry')
    redis.call('HDEL', KEYS[1], 'message')
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
    redis.call('ZREM', KEYS[5], ARGV[5])
    redis.call('PUBLISH', KEYS[6], ARGV[5])
    return 'failed'
  end
  redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', ARGV[1])
  redis.call('ZADD', KEYS[5], now, ARGV[5])
  return message
end
"""

#: The reaper's step for one active job (same KEYS/ARGV as the claim; ARGV[4] MAX_DISPATCHES,
#: ARGV[6] result TTL). Returns the stored task message when the job must be sent again, "ok"
#: when it is fine, "gone" when it left the active set, "failed" when it used up its dispatches.
REAP_SCRIPT = _STUCK + _REDISPATCH + """
local status = redis.call('HGET', KEYS[1], 'status')
local now = tonumber(ARGV[1])
if status ~= 'queued' and status ~= 'running' then
  redis.call('ZREM', KEYS[5], ARGV[5])
  return 'gone'
end
if not stuck(status, now) then return 'ok' end
return redispatch(now)
"""

#: The worker supervisor's step for one active job once a worker process it started has died
#: (``workers.supervisor``): a job running in that process (its record's ``worker`` starts with
#: ARGV[7], ``leases.holder_prefix`` of the dead pid) loses its lease and is sent again at once,
#: without waiting for the lease to run out. Same KEYS and ARGV[1-6] as ``REAP_SCRIPT``; the same
#: answers ("ok": not that process's job).
LOST_SCRIPT = _REDISPATCH + """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 'ok' end
local worker = redis.call('HGET', KEYS[1], 'worker')
if not worker or string.sub(worker, 1, #ARGV[7]) ~= ARGV[7] then return 'ok' end
redis.call('DEL', KEYS[3])
return redispatch(tonumber(ARGV[1]))
"""


#: The supervisor's first pass once a worker process died (``workers.supervisor``): the active
#: jobs running in that process (their record's ``worker`` starts with ARGV[5],
#: ``leases.holder_prefix`` of the dead pid), for ``LOST_SCRIPT`` to act on, read in chunks of
#: the active set (KEYS[1]) by score: ARGV[3] jobs from score ARGV[1] on, past the first ARGV[2]
#: of that score (read by the call before). Returns those ids, the last score read, how many of
#: that score were read in all, and how many jobs this call read. The records are read as
#: ARGV[4] .. id (``keys.job``), keys the script does not declare: factlink runs on one Redis,
#: not a cluster. One call reads a chunk inside Redis, where a ``LOST_SCRIPT`` call per active
#: job took ~40 us each (a backlog of 50,000 queued jobs held a dead worker's restart ~1.9 s).
HELD_BY_SCRIPT = """
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES',
                        'LIMIT', ARGV[2], ARGV[3])
local held, last, same = {}, ARGV[1], tonumber(ARGV[2])
for i = 1, #rows, 2 do
  local id, score = rows[i], rows[i + 1]
  if score == last then same = same + 1 else last, same = score, 1 end
  local worker = redis.call('HGET', ARGV[4] .. id, 'worker')
  if worker and string.sub(worker, 1, #ARGV[5]) == ARGV[5] then held[#held + 1] = id end
end
return {held, last, same, #rows / 2}
"""


def stuck_keys(job_id: str) -> list[str]:
    """KEYS of ``CLAIM_SCRIPT`` and ``REAP_SCRIPT`` for one job."""
    return [keys.job(job_id), keys.result(job_id), keys.lease(job_id), keys.QUEUE,
            keys.ACTIVE_JOBS, keys.JOBS_DONE_CHANNEL]


#: A task's first step, for each of its jobs at once: a job whose result is stored already (a
#: redelivered or duplicate task) is left as it is, and reported with 1; any other is marked
#: running with the worker's lease, its record loses any TTL while it runs, and it is reported
#: with 0. KEYS: per job its record, result and lease keys, then the active set;
#: ARGV: now, the worker, the lease TTL, then the job ids.
START_SCRIPT = """
local active = KEYS[#KEYS]
local stored = {}
for i = 1, #ARGV - 3 do
  local record, result, lease = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if redis.call('EXISTS', result) == 1 then
    stored[i] = 1
  else
    stored[i] = 0
    redis.call('HSET', record, 'status', 'running', 'updated_at', ARGV[1], 'worker', ARGV[2])
    redis.call('PERSIST', record)
    redis.call('SET', lease, ARGV[2], 'EX', ARGV[3])
    redis.call('ZADD', active, ARGV[1], ARGV[i + 3])
  end
end
return stored
"""


def start_jobs(redis, job_ids: list[str], worker: str) -> list[bool]:
    """Worker side (sync Redis client): the task started. Per job, True when its result is
    stored already (nothing marked), else it is now running and ``worker`` holds a lease on it
    (renewed by ``workers.leases``). One round trip: ``START_SCRIPT``."""
    stored = run_script(redis, START_SCRIPT, *_start_call(job_ids, worker))
    return [bool(flag) for flag in stored]


def _start_call(job_ids: list[str], worker: str) -> tuple[list, list]:
    script_keys = [key for job_id in job_ids
                   for key in (keys.job(job_id), keys.result(job_id), keys.lease(job_id))]
    return script_keys + [keys.ACTIVE_JOBS], [repr(time.time()), worker, LEASE_TTL, *job_ids]


class PendingStart:
    """``start_jobs`` sent without waiting for its answer, so the task links meanwhile: the
    round trip was ~0.5 ms of an uncached annotate's critical path (Redis and the pool process
    share a core; an idle one wakes slowly). ``stored()`` reads the answer, before the task
    writes its outcome; when the command could not be sent, or its answer was lost, it runs
    ``start_jobs`` then (the script is idempotent: a second run gives the same answer)."""

    def __init__(self, redis, job_ids: list[str], worker: str):
        self._redis, self._job_ids, self._worker = redis, job_ids, worker
        self._connection = None
        script_keys, args = _start_call(job_ids, worker)
        pool = redis.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command("EVALSHA", _script_sha(START_SCRIPT), len(script_keys),
                                    *script_keys, *args)
        except Exception:               # Redis away: stored() marks the start the plain way
            connection.disconnect()
            pool.release(connection)
            return
        self._connection = connection

    def stored(self) -> list[bool]:
        """``start_jobs``'s answer (raises what it raises)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                return [bool(flag) for flag in connection.read_response()]
            except NoScriptError:       # Redis restarted since the worker loaded it: nothing ran
                pass
            except Exception:           # the answer is lost; the script may have run
                connection.disconnect()
            finally:
                self._redis.connection_pool.release(connection)
        return start_jobs(self._redis, self._job_ids, self._worker)


def load_scripts(redis) -> None:
    """Load the worker's scripts (a process start), so its first task's EVALSHA finds them."""
    for script in (START_SCRIPT, DONE_SCRIPT):
        redis.script_load(script)


def run_script(redis, script: str, script_keys: list, args: list):
    """EVALSHA, loading the script once when Redis does not know it (first use, a restart)."""
    sha = _script_sha(script)
    try:
        return redis.evalsha(sha, len(script_keys), *script_keys, *args)
    except NoScriptError:
        redis.script_load(script)
        return redis.evalsha(sha, len(script_keys), *script_keys, *args)


def _script_sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def _end(pipe, job_id: str, ttl: int) -> None:
    """What every end of a job does: no more re-dispatch, and a TTL (now it may be evicted)."""
    pipe.hdel(keys.job(job_id), "message", "worker", "claim", "waited")
    pipe.expire(keys.job(job_id), ttl)
    pipe.zrem(keys.ACTIVE_JOBS, job_id)
    pipe.delete(keys.lease(job_id))
    pipe.publish(keys.JOBS_DONE_CHANNEL, job_id)


#: a result up to this size rides on the done notice to an API process that waits for it (a
#: 4 KB article's is ~40 KB); a bigger one is read from Redis as before. Bounded so a burst of
#: long texts stays far from Redis's pub/sub output-buffer limit (32 MB), which would cut the
#: API's subscription off.
NOTIFY_RESULT_BYTES = 256 * 1024

#: cache keys remembered per entity (``keys.kb_cached``); beyond it a random entry is evicted
#: from the cache too (``workers.kb_delta``: a change of the entity deletes what is listed)
MAX_CACHED_PER_ENTITY = 256

#: Index a cache entry (``cache_key``) under every entity it holds: KEYS[first..] are their
#: ``keys.kb_cached`` sets. A set past ``limit`` entries gives up random ones, and their cache
#: entries are deleted, so everything cached stays indexed. The evicted entries are keys the
#: script does not declare: factlink runs on one Redis, not a cluster.
_REMEMBER = """
local function remember(cache_key, first, limit)
  for i = first, #KEYS do
    redis.call('SADD', KEYS[i], cache_key)
    local extra = redis.call('SCARD', KEYS[i]) - limit
    if extra > 0 then
      local evicted = redis.call('SPOP', KEYS[i], extra)
      if #evicted > 0 then redis.call('DEL', unpack(evicted)) end
    end
  end
end
"""

#: A card refreshed from Wikidata, stored and indexed under its entity in one call, as
#: ``DONE_SCRIPT`` stores a result: no reader ever finds it stored and not yet indexed, so a
#: change of the entity (``workers.kb_delta``) always finds it to delete. Unless the entity
#: changed since the refresh was fetched: its change count (``keys.KB_CHANGED``) is no longer
#: the one read before the fetch, and the refresh, older than the change, is not stored
#: (returns 0; 1 when stored). KEYS: the entry, ``keys.KB_CHANGED``, then the entity's index
#: set; ARGV: the value, its TTL in seconds, the limit (``MAX_CACHED_PER_ENTITY``), the QID,
#: its change count read before the fetch ('' for none).
STORE_SCRIPT = _REMEMBER + """
if (redis.call('HGET', KEYS[2], ARGV[4]) or '') ~= ARGV[5] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
remember(KEYS[1], 3, tonumber(ARGV[3]))
return 1
"""


#: A job's end as done, in one call (``_end`` spelled in Lua, after the result and the status):
#: store the result (ARGV[4], when given), mark done, count the linking time (ARGV[5], seconds,
#: when given), drop what only a queued or running job needs, set the TTL (ARGV[2]) and announce
#: the end. The notice is the job id, or, when an API request waits for this job (the submission
#: set ``waited``) and the result is small (ARGV[3] bytes at most), the job id, a newline and the
#: result: the waiter answers without reading Redis again. A result stored here is indexed under
#: its entities (``_REMEMBER``, KEYS[7..]; a round trip of its own before, ~0.6 ms of the
#: worker's time per 4 KB article). KEYS: record, result, active set, lease, done channel,
#: linking-time stats, then the result's entities' index sets; ARGV: job id, ttl, limit,
#: result, seconds, now, the stats bucket, ``MAX_CACHED_PER_ENTITY``.
DONE_SCRIPT = _REMEMBER + """
local result = ARGV[4]
if result ~= '' then
  redis.call('SET', KEYS[2], result, 'EX', ARGV[2])
  remember(KEYS[2], 7, tonumber(ARGV[8]))
end
local waited = redis.call('HGET', KEYS[1], 'waited')
redis.call('HSET', KEYS[1], 'status', 'done', 'updated_at', ARGV[6])
redis.call('HDEL', KEYS[1], 'error_code', 'error_message', 'message', 'worker', 'claim', 'waited')
if ARGV[5] ~= '' then
  redis.call('HINCRBY', KEYS[6], ARGV[7], 1)
  redis.call('HINCRBY', KEYS[6], 'count', 1)
  redis.call('HINCRBYFLOAT', KEYS[6], 'sum', ARGV[5])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
if waited and result ~= '' and #result <= tonumber(ARGV[3]) then
  redis.call('PUBLISH', KEYS[5], ARGV[1] .. '\\n' .. result)
else
  redis.call('PUBLISH', KEYS[5], ARGV[1])
end
"""


def mark_done(redis, job_id: str, result_json: bytes | None, ttl: int,
              link_seconds: float | None = None, qids: Iterable[str] = ()) -> None:
    """Worker side: store the result (None: it is already stored), index it under the entities
    ``qids`` it holds, set done, announce it; one round trip (``DONE_SCRIPT``)."""
    script_keys = [keys.job(job_id), keys.result(job_id), keys.ACTIVE_JOBS, keys.lease(job_id),
                   keys.JOBS_DONE_CHANNEL, keys.LINK_STATS]
    if result_json:
        script_keys += [keys.kb_cached(qid) for qid in dict.fromkeys(qids)]
    seconds, bucket = ("", "") if link_seconds is None else \
        (repr(link_seconds), stats.bucket_of(link_seconds))
    run_script(redis, DONE_SCRIPT, script_keys,
                [job_id, ttl, NOTIFY_RESULT_BYTES, result_json or b"", seconds, repr(time.time()),
                 bucket, MAX_CACHED_PER_ENTITY])


def done_notice(data: bytes) -> tuple[str, bytes | None]:
    """A message of ``keys.JOBS_DONE_CHANNEL`` read: the job id, and the result if it came with
    it (``DONE_SCRIPT``)."""
    job_id, _newline, result = data.partition(b"\n")
    return job_id.decode(), result or None


def mark_failed(redis, job_id: str, code: str, message: str, ttl: int) -> None:
    """Worker side: the job cannot succeed (bad input, internal error); keep the reason."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.job(job_id), mapping={"status": JobStatus.failed.value,
                                             "updated_at": time.time(),
                                             "error_code": code, "error_message": message})
        _end(pipe, job_id, ttl)
        pipe.execute()
