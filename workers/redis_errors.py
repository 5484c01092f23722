"""Which Redis failures mean "the dependency is unavailable", and the stable error of each.

Besides a lost connection, a Redis that answers can still refuse every write: ``MISCONF`` (it
cannot persist, typically a full disk), ``READONLY`` (a replica) and ``OOM`` (``maxmemory``
reached with nothing evictable). All of them pass when Redis recovers, so the API answers 503
with ``Retry-After`` and workers retry; none of them is the request's fault.
"""
from __future__ import annotations

import redis
from kombu.exceptions import OperationalError

from linkers import errors

#: lost or refused connections (kombu wraps them in OperationalError when publishing)
CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                     OperationalError)

#: redis-py names this one (and strips "OOM" from its text)
_OUT_OF_MEMORY = getattr(redis.exceptions, "OutOfMemoryError", ())
#: marker in the error text (pipelines prefix it with the failed command) -> error
_REFUSALS = (("MISCONF", errors.RedisDiskFull,
              "Redis cannot write its data to disk (disk full?); try again later"),
             ("command not allowed when used memory", errors.RedisOutOfMemory,
              "Redis is out of memory; try again later"),
             ("READONLY", errors.RedisReadOnly, "Redis is read-only; try again later"),
             ("read only replica", errors.RedisReadOnly, "Redis is read-only; try again later"))


def unavailable(exc: BaseException) -> errors.BrokerUnavailable | None:
    """The 503 error ``exc`` stands for, or None when it is not a dependency failure."""
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return errors.RedisReadOnly("Redis is read-only; try again later")
    if isinstance(exc, _OUT_OF_MEMORY):
        return errors.RedisOutOfMemory("Redis is out of memory; try again later")
    if isinstance(exc, (redis.exceptions.ResponseError, OperationalError)):
        # kombu wraps a refused publish in OperationalError: the text says which refusal
        text = str(exc)
        for marker, cls, message in _REFUSALS:
            if marker in text:
                return cls(message)
    if isinstance(exc, CONNECTION_ERRORS):
        return errors.BrokerUnavailable("Redis cannot be reached; try again shortly")
    return None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying on the worker side: the write may pass once Redis recovers."""
    return unavailable(exc) is not None
