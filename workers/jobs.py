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
from dataclasses import dataclass, field
from enum import Enum

import orjson

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

    def link(self, kb) -> LinkResult:
        if self.segments is not None:
            return link_segments(list(self.segments), kb, self.published_at, self.options)
        return link(self.text, kb, self.published_at, self.options,
                    mention_spans=self.mention_spans)

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


#: Claim a job for submission, atomically. Returns "enqueue" when the caller must send the task
#: (new job, failed job, finished job whose result expired, or a queued/running job not updated
#: for ARGV[3] seconds: its task message was lost); otherwise the current status, sent nowhere.
CLAIM_SCRIPT = """
local status = redis.call('HGET', KEYS[1], 'status')
local now = tonumber(ARGV[1])
if status == 'done' and redis.call('EXISTS', KEYS[2]) == 1 then return status end
if status == 'queued' or status == 'running' then
  local updated = tonumber(redis.call('HGET', KEYS[1], 'updated_at') or '0')
  if updated > now - tonumber(ARGV[3]) then return status end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'submitted_at', ARGV[1], 'updated_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 'enqueue'
"""
ENQUEUE = "enqueue"


def mark_running(redis, job_id: str, ttl: int) -> None:
    """Worker side (sync Redis client): the task started."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.job(job_id), mapping={"status": JobStatus.running.value,
                                             "updated_at": time.time()})
        pipe.expire(keys.job(job_id), ttl)
        pipe.execute()


def mark_done(redis, job_id: str, result_json: bytes | None, ttl: int,
              link_seconds: float | None = None) -> None:
    """Worker side: store the result (None: it is already stored), set done, announce it."""
    with redis.pipeline() as pipe:
        if result_json is not None:
            pipe.set(keys.result(job_id), result_json, ex=ttl)
        pipe.hset(keys.job(job_id), mapping={"status": JobStatus.done.value,
                                             "updated_at": time.time()})
        pipe.hdel(keys.job(job_id), "error_code", "error_message")
        pipe.expire(keys.job(job_id), ttl)
        if link_seconds is not None:
            stats.record_link_time(pipe, link_seconds)
        pipe.publish(keys.JOBS_DONE_CHANNEL, job_id)
        pipe.execute()


def mark_failed(redis, job_id: str, code: str, message: str, ttl: int) -> None:
    """Worker side: the job cannot succeed (bad input, internal error); keep the reason."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.job(job_id), mapping={"status": JobStatus.failed.value,
                                             "updated_at": time.time(),
                                             "error_code": code, "error_message": message})
        pipe.expire(keys.job(job_id), ttl)
        pipe.publish(keys.JOBS_DONE_CHANNEL, job_id)
        pipe.execute()
