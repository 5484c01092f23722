"""Every error factlink reports, in one tree, each with a stable machine-readable ``code``.

    FactlinkError                      code                 meaning
    ├── InvalidInput                   invalid_input        a request/field/option is malformed
    │   ├── MalformedJSON              malformed_json       the body is not JSON (or not an object)
    │   ├── MissingField               missing_field        a required field is absent
    │   ├── InvalidEncoding            invalid_encoding     bytes are not valid UTF-8
    │   ├── MalformedRequest           malformed_request    HTTP request line/headers malformed or too long
    │   ├── UnsupportedMediaType       unsupported_media_type  wrong Content-Type
    │   ├── NotAcceptable              not_acceptable       no output format the Accept header allows
    │   ├── MalformedTurtle            malformed_turtle     a NIF body is not valid Turtle
    │   ├── InvalidNIF                 invalid_nif          Turtle, but not a NIF document we can link
    │   └── TextTooLarge               text_too_large       text over the configured limit
    ├── NotFound                       not_found
    │   ├── UnknownEntity              unknown_entity       a QID the KB (and cache) do not know
    │   ├── UnknownJob                 unknown_job          a job id never submitted (or expired)
    │   └── UnknownRule                unknown_rule         a newsroom rule id not in force
    ├── RateLimited                    rate_limited         over a rate or queue-depth limit
    ├── Unauthorized                   unauthorized         API key missing or wrong
    ├── Unavailable                    unavailable          a dependency is down (retry later)
    │   ├── BrokerUnavailable          redis_unavailable    Redis cannot be reached
    │   │   ├── RedisDiskFull          redis_disk_full      Redis refuses writes: it cannot persist (MISCONF)
    │   │   ├── RedisReadOnly          redis_read_only      Redis is a read-only replica
    │   │   └── RedisOutOfMemory       redis_out_of_memory  Redis is at maxmemory with nothing evictable
    │   ├── NoWorkers                  no_workers           no Celery worker answers
    │   └── WorkerLost                 worker_lost          a job's worker died on every dispatch
    ├── KBError                        kb_error             a knowledge base cannot be opened/built
    │   └── KBFormatError              kb_format            a KB directory is missing files or has another format
    └── DumpError                      dump_error           a dump line is malformed (fatal only with --strict)

This module is pure (no aiohttp/Celery/Redis): the HTTP layer maps ``code`` to a status code,
the CLI maps it to an exit code.
"""
from __future__ import annotations


class FactlinkError(Exception):
    code = "error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(FactlinkError):
    code = "invalid_input"


class MalformedJSON(InvalidInput):
    code = "malformed_json"


class MissingField(InvalidInput):
    code = "missing_field"


class InvalidEncoding(InvalidInput):
    code = "invalid_encoding"


class MalformedRequest(InvalidInput):
    code = "malformed_request"


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"


class NotAcceptable(InvalidInput):
    code = "not_acceptable"


class MalformedTurtle(InvalidInput):
    code = "malformed_turtle"


class InvalidNIF(InvalidInput):
    code = "invalid_nif"


class TextTooLarge(InvalidInput):
    code = "text_too_large"


class NotFound(FactlinkError):
    code = "not_found"


class UnknownEntity(NotFound):
    code = "unknown_entity"


class UnknownJob(NotFound):
    code = "unknown_job"


class UnknownRule(NotFound):
    code = "unknown_rule"


class RateLimited(FactlinkError):
    code = "rate_limited"


class Unauthorized(FactlinkError):
    code = "unauthorized"


class Unavailable(FactlinkError):
    code = "unavailable"


class BrokerUnavailable(Unavailable):
    code = "redis_unavailable"


class RedisDiskFull(BrokerUnavailable):
    code = "redis_disk_full"


class RedisReadOnly(BrokerUnavailable):
    code = "redis_read_only"


class RedisOutOfMemory(BrokerUnavailable):
    code = "redis_out_of_memory"


class NoWorkers(Unavailable):
    code = "no_workers"


class WorkerLost(Unavailable):
    code = "worker_lost"


class KBError(FactlinkError):
    code = "kb_error"


class KBFormatError(KBError):
    code = "kb_format"


class DumpError(FactlinkError):
    code = "dump_error"
