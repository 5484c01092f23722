"""The formats ``POST /v1/annotate`` answers in: factlink's JSON, the W3C Web Annotation model
(JSON-LD) and NIF 2.0 (Turtle), and how a request picks one.

``?format=json|webannotation|nif`` wins; without it the ``Accept`` header decides
(``application/json``; ``application/ld+json`` for Web Annotation; ``text/turtle`` or
``application/x-turtle`` for NIF), by quality value, then by specificity, ties going to the
request's natural format (JSON for a JSON body, NIF for a NIF body). No ``Accept``, or ``*/*``:
the natural format. An ``Accept`` that allows none of them is 406 ``not_acceptable``; an
unknown ``format`` value is 400 ``invalid_input``.

Every format is rendered from the linking result's JSON (the bytes the cache holds), so a cached
result is converted, never linked again. Nothing here knows aiohttp.
"""
from __future__ import annotations

import functools

import re
from enum import Enum

from linkers import errors

WEB_ANNOTATION_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
WEB_ANNOTATION_MEDIA_TYPE = f'application/ld+json; profile="{WEB_ANNOTATION_CONTEXT}"'
TURTLE_MEDIA_TYPES = ("text/turtle", "application/x-turtle")
# a document IRI: a scheme, then no spaces, quotes or angle brackets (RFC 3987, loosely)
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
MAX_IRI_CHARS = 2048


class Format(str, Enum):
    json = "json"
    webannotation = "webannotation"
    nif = "nif"


#: media type -> format, in the server's order of preference within a format
_MEDIA_TYPES = {
    "application/json": Format.json,
    "application/ld+json": Format.webannotation,
    "text/turtle": Format.nif,
    "application/x-turtle": Format.nif,
}


def _ranges(accept: str) -> list[tuple[str, float, int]]:
    """(media range, q, position) of an Accept header; malformed q values count as 1."""
    out = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if "/" not in media:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 1.0
        out.append((media, q, position))
    return out


def _quality(media_type: str, ranges: list[tuple[str, float, int]]) -> float:
    """q of the most specific range matching ``media_type`` (0 when none does)."""
    kind = media_type.split("/")[0]
    best, specificity = 0.0, -1
    for media, q, _position in ranges:
        level = 2 if media == media_type else 1 if media == f"{kind}/*" else 0 if media == "*/*" else -1
        if level > specificity:
            best, specificity = q, level
    return best


def negotiate(format_param: str | None, accept: str | None,
              natural: Format = Format.json) -> tuple[Format, str]:
    """(format, response media type) for a request's ``?format=`` and ``Accept`` header."""
    if format_param is not None:
        try:
            chosen = Format(format_param.strip().lower())
        except ValueError:
            raise errors.InvalidInput(
                f"unknown format {format_param!r}: use one of {', '.join(f.value for f in Format)}",
                field="format") from None
        return chosen, _media_type(chosen, accept)
    if not accept or accept == "*/*" or not accept.strip():      # most clients: no parsing
        return _negotiate_accept(None, natural)
    return _negotiate_accept(accept, natural)


@functools.lru_cache(maxsize=256)
def _negotiate_accept(accept: str | None, natural: Format) -> tuple[Format, str]:
    # a client sends the same Accept on every request: parsed once (a refusal is not cached)
    if accept is None:
        return natural, _media_type(natural, None)
    ranges = _ranges(accept)
    offers = [(_quality(media, ranges), fmt is natural, -k, fmt, media)
              for k, (media, fmt) in enumerate(_MEDIA_TYPES.items())]
    q, _natural, _order, chosen, media = max(offers, key=lambda o: o[:3])
    if q <= 0:
        raise errors.NotAcceptable(
            f"no format for Accept: {accept}; this route answers application/json, "
            "application/ld+json (Web Annotation), text/turtle or application/x-turtle (NIF)")
    return chosen, _media_type(chosen, accept, media)


def _media_type(chosen: Format, accept: str | None, media: str | None = None) -> str:
    if chosen is Format.webannotation:
        return WEB_ANNOTATION_MEDIA_TYPE
    if chosen is Format.nif:
        # a client that asks for application/x-turtle (GERBIL) gets that name back
        if media is None and accept and "application/x-turtle" in accept.lower():
            media = "application/x-turtle"
        return f"{media if media in TURTLE_MEDIA_TYPES else 'text/turtle'}; charset=utf-8"
    return "application/json"


def parse_source(raw: str | None) -> str | None:
    """The ``?source=`` document IRI (where the text was published), or None."""
    if raw is None:
        return None
    if len(raw) > MAX_IRI_CHARS or not _IRI.match(raw):
        raise errors.InvalidInput(f"'source' must be an absolute IRI such as "
                                  f"https://example.org/article, not {raw[:80]!r}", field="source")
    return raw


def is_turtle(content_type: str) -> bool:
    return content_type in TURTLE_MEDIA_TYPES
