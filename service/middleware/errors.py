"""Every failure becomes ``{"error": {"code", "message"}}`` with the status its code implies.

Statuses come from the ``linkers.errors`` tree (the most specific class wins); aiohttp's own
HTTP errors (unknown route, wrong method) get the same JSON shape; Redis or broker failures
become 503 with ``Retry-After`` and the code of ``workers.redis_errors`` (connection lost, disk
full, read-only, out of memory); anything else is logged with its traceback, server-side only,
and answered ``500 internal``.
"""
from __future__ import annotations

import logging
import math

import redis
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from linkers import errors
from workers.redis_errors import CONNECTION_ERRORS, unavailable

from .. import shapes

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type, int] = {
    errors.InvalidInput: 400,
    errors.UnsupportedMediaType: 415,
    errors.NotAcceptable: 406,
    errors.TextTooLarge: 413,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
    # at request time only a worker whose KB differs from the API's (mid-deploy): retry later
    errors.KBError: 503,
}
#: when the error does not say how long to wait
DEFAULT_RETRY_AFTER = {429: 1, 503: 5}

#: what a handler may catch to degrade gracefully (serve a card uncached): a Redis that is gone
#: or refuses (``workers.redis_errors``); which 503 each is, ``unavailable`` says
DEPENDENCY_DOWN = CONNECTION_ERRORS + (redis.exceptions.ResponseError,)


def status_for(error: errors.FactlinkError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_response(error: errors.FactlinkError) -> web.Response:
    status = status_for(error)
    response = web.Response(status=status, body=shapes.error_body(error),
                            content_type="application/json")
    if status in DEFAULT_RETRY_AFTER:
        seconds = error.details.get("retry_after", DEFAULT_RETRY_AFTER[status])
        response.headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    if exc.status == 404:
        error = errors.NotFound(f"no such resource: {request.method} {request.path}")
    elif exc.status == 413:
        error = errors.TextTooLarge("the body is over the size limit")
    else:
        error = errors.FactlinkError(exc.reason)
        error.code = exc.reason.lower().replace(" ", "_")
    response = web.Response(status=exc.status, body=shapes.error_body(error),
                            content_type="application/json")
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def error_answer(exc: Exception, request: web.Request) -> web.Response:
    """The JSON error response for an exception a handler raised (``service.middleware.chain``
    calls it from its ``except``); an ``HTTPException`` below 400 (a redirect) is raised again."""
    if isinstance(exc, errors.FactlinkError):
        return error_response(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return _from_http_exception(exc, request)
    dependency = unavailable(exc)
    if dependency is not None:
        log.warning("%s %s: %s: %s", request.method, request.path, dependency.code, exc)
        return error_response(dependency)
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(_Internal("internal error; it has been logged"))


class _Internal(errors.FactlinkError):
    code = "internal"


def json_protocol_errors() -> None:
    """Make aiohttp's own error responses JSON too.

    A request aiohttp cannot parse (a URL or header over 8 KB, a malformed request line) is
    answered by ``RequestHandler.handle_error`` before any middleware runs, as plain text.
    That method is the only hook aiohttp offers, so it is wrapped once per process: same status,
    our error shape, and the client's mistake logged at debug level rather than as a traceback.
    """
    if getattr(RequestHandler.handle_error, "_factlink_json", False):
        return
    original = RequestHandler.handle_error

    def handle_error(self, request, status=500, exc=None, message=None):
        if status >= 500 or request.writer.output_size > 0:
            original(self, request, status, exc, message)     # logs the traceback
            error = _Internal("internal error; it has been logged")
        else:
            log.debug("unparseable request from %s: %s", request.remote, message or exc)
            error = errors.MalformedRequest(
                "the HTTP request is malformed or too large (request line and each header "
                "at most 8 KB)")
        response = web.Response(status=status, body=shapes.error_body(error),
                                content_type="application/json")
        response.force_close()
        return response

    handle_error._factlink_json = True
    RequestHandler.handle_error = handle_error
