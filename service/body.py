"""Reading a JSON request body safely: content type first, size before reading, then UTF-8 and JSON.

An oversized body is refused from its Content-Length without reading it; a chunked one is read
only up to the limit.
"""
from __future__ import annotations

import functools
from typing import Awaitable

from aiohttp import web

from linkers import errors

from . import shapes

JSON_ESCAPE_GROWTH = 6          # one byte of text is at most 6 bytes of JSON ("\u0000")
BODY_SLACK = 64 * 1024          # room for the other fields of a request


@functools.cache
def article_body_limit(max_text_bytes: int, max_body_bytes: int) -> int:
    """The largest body that can still carry a text within the limit, however it is escaped."""
    return min(max_body_bytes, JSON_ESCAPE_GROWTH * max_text_bytes + BODY_SLACK)


async def read_json(request: web.Request, limit: int) -> object:
    return shapes.parse_json(await read_body(request, limit))


def read_body(request: web.Request, limit: int) -> Awaitable[bytes]:
    """The raw bytes of a JSON body, after the content type and size checks (``await`` it).

    The checks run here and the read is returned to be awaited, not awaited here: a cached
    annotate reads its body on every request, and each coroutine frame between the handler and
    aiohttp's ``read()`` was one more to create, run and clear."""
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f"send Content-Type: application/json (got {request.headers.get('Content-Type') or 'none'})")
    charset = request.charset
    if charset and charset.lower() not in ("utf-8", "utf8"):
        raise errors.UnsupportedMediaType(f"JSON bodies are UTF-8, not {charset}")
    return read_bytes(request, limit)


def read_bytes(request: web.Request, limit: int) -> Awaitable[bytes]:
    """Any body's bytes (JSON or not), refused past ``limit`` (from Content-Length, or while
    reading); ``await`` it."""
    length = request.content_length
    if length is None:
        return _read_unsized(request, limit)
    if length > limit:
        raise errors.TextTooLarge(f"the body is {length} bytes; the limit is {limit}",
                                  limit=limit, size=length)
    return request.read()


async def _read_unsized(request: web.Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise errors.TextTooLarge(f"the body is over the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)
