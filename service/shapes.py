"""The HTTP API's request and response shapes: JSON Schemas, validation, response bodies.

Handlers validate with the ``parse_*`` functions (which raise ``linkers.errors``), build bodies
with the ``*_body`` functions, ``service.openapi`` publishes the schemas, and the tests check
responses against the same schemas. Nothing here knows aiohttp.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

import orjson

from linkers import LinkOptions, errors, parse_published_at
from linkers.classes import COARSE_CLASSES, COARSE_SPELLINGS, MAX_TYPES
from linkers.kb.dump import QID_PATTERN
from linkers.kb.overlay import is_local_id
from linkers.linker import SEGMENT_SEPARATOR
from workers.jobs import Article, JobRecord, JobStatus

if TYPE_CHECKING:     # the queue brings Celery and the asyncio Redis client
    from workers.queue import Submission

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_MENTION_CHARS = 256
MAX_LOOKUP_LIMIT = 50
MAX_REFRESH_QIDS = 50
MAX_SEGMENTS = 10_000

# --- JSON Schemas (OpenAPI 3.1 dialect) ------------------------------------------------------

_OPTION_SCHEMAS = {
    "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.35,
                  "description": "confidence below which a mention is reported unlinked (qid null)"},
    "top_k": {"type": "integer", "minimum": 0, "maximum": 50, "default": 0,
              "description": ">0: include up to k ranked candidates per mention"},
    "fact_cards": {"type": "boolean", "default": True,
                   "description": "include a fact card per linked entity"},
    "relations": {"type": "boolean", "default": True,
                  "description": "include claims connecting two linked entities"},
    "include_nil": {"type": "boolean", "default": True,
                    "description": "report capitalised spans the KB does not know"},
    "types": {"type": "array", "maxItems": MAX_TYPES, "default": [],
              "items": {"anyOf": [{"enum": [*COARSE_CLASSES, *COARSE_SPELLINGS]},
                                  {"type": "string", "pattern": QID_PATTERN.pattern}]},
              "examples": [["person", "organisation"], ["Q5", "Q515"]],
              "description": "keep only mentions whose entity is an instance (P31, through P279 "
                             "within the KB) of one of these Wikidata classes or coarse classes; "
                             "NIL mentions are dropped. Coarse classes and their Wikidata classes: "
                             + "; ".join(f"{name}: {', '.join(classes)}"
                                         for name, classes in COARSE_CLASSES.items())},
}
assert set(_OPTION_SCHEMAS) == set(LinkOptions().to_dict()), "options schema out of date"

ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "examples": ["malformed_json"]},
                       "message": {"type": "string"},
                       "details": {"type": "object"}}}},
}

ARTICLE = {
    "type": "object", "additionalProperties": False,
    "oneOf": [{"required": ["text"]}, {"required": ["segments"]}],
    "properties": {
        "text": {"type": "string", "minLength": 1,
                 "description": "the article; at most FACTLINK_MAX_TEXT_BYTES UTF-8 bytes"},
        "segments": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                     "maxItems": MAX_SEGMENTS,
                     "description": "instead of text: the blocks of one document (a web page's "
                                    "paragraphs, headings, list items), linked as one text; "
                                    "each mention then has 'segment' and offsets into it, and "
                                    "no name is found across two segments. At most "
                                    "FACTLINK_MAX_TEXT_BYTES UTF-8 bytes in all"},
        "published_at": {"type": ["string", "null"], "examples": ["2022-02-10"],
                         "description": "ISO 8601 date or timestamp; facts are chosen as of it"},
        "options": {"type": "object", "additionalProperties": False,
                    "properties": _OPTION_SCHEMAS},
    },
}

JOBS_REQUEST = {
    "oneOf": [ARTICLE, {
        "type": "object", "required": ["articles"], "additionalProperties": False,
        "properties": {"articles": {"type": "array", "items": ARTICLE, "minItems": 1,
                                    "description": "at most FACTLINK_MAX_BATCH articles"}}}],
}

JOB_ACCEPTED = {
    "type": "object", "required": ["id", "status", "poll"],
    "properties": {"id": {"type": "string", "pattern": JOB_ID_PATTERN.pattern},
                   "status": {"enum": [s.value for s in JobStatus]},
                   "poll": {"type": "string", "examples": ["/v1/jobs/0123456789abcdef0123456789abcdef"]}},
}

JOBS_ACCEPTED = {
    "type": "object", "required": ["jobs"],
    "properties": {"jobs": {"type": "array", "items": JOB_ACCEPTED}},
}

CANDIDATE = {
    "type": "object", "required": ["qid", "label", "score", "description"],
    "properties": {"qid": {"type": "string"}, "label": {"type": "string"},
                   "score": {"type": "number"}, "description": {"type": "string"}},
}

FACT_CARD = {
    "type": "object", "required": ["qid", "label", "facts"],
    "properties": {
        "qid": {"type": "string"}, "label": {"type": "string"},
        "description": {"type": "string"},
        "types": {"type": "array", "items": {"type": "object"}},
        "wikipedia_url": {"type": ["string", "null"]}, "wikidata_url": {"type": "string"},
        "facts": {"type": "array", "items": {
            "type": "object", "required": ["property", "values"],
            "properties": {"property": {"type": "string"}, "property_label": {"type": "string"},
                           "values": {"type": "array", "items": {"type": "object"}}}}},
        "as_of": {"type": ["string", "null"]}, "kb_version": {"type": "string"},
    },
}

MENTION = {
    "type": "object",
    "required": ["start", "end", "start_utf16", "end_utf16", "text", "qid", "label", "confidence"],
    "properties": {
        "start": {"type": "integer", "description": "code point offset (Python str index)"},
        "end": {"type": "integer"},
        "start_utf16": {"type": "integer", "description": "UTF-16 offset (JavaScript index)"},
        "end_utf16": {"type": "integer"},
        "segment": {"type": "integer", "minimum": 0,
                    "description": "segment input only: the segment's index (offsets are into it)"},
        "text": {"type": "string"}, "qid": {"type": ["string", "null"]},
        "label": {"type": ["string", "null"]}, "confidence": {"type": "number"},
        "candidates": {"type": "array", "items": CANDIDATE},
    },
}

LINK_RESULT = {
    "type": "object",
    "required": ["mentions", "entities", "relations", "kb_version", "linker_version"],
    "properties": {
        "mentions": {"type": "array", "items": MENTION},
        "entities": {"type": "object", "additionalProperties": FACT_CARD},
        "relations": {"type": "array", "items": {"type": "object"}},
        "kb_version": {"type": "string"}, "linker_version": {"type": "string"},
        "published_at": {"type": ["string", "null"]},
        "truncated": {"type": "boolean", "description": "present (true) when the text had "
                      "more mentions than the work budget (FACTLINK_MAX_MENTIONS): only the "
                      "text up to the last linked mention was linked"},
    },
}

ANNOTATE_FORMATS = ["json", "webannotation", "nif"]

WEB_ANNOTATION = {
    "type": "object", "required": ["id", "type", "motivation", "body", "target"],
    "properties": {
        "id": {"type": "string"}, "type": {"const": "Annotation"},
        "motivation": {"const": "identifying"},
        "body": {"type": "string", "examples": ["http://www.wikidata.org/entity/Q7184"]},
        "target": {"type": "object", "required": ["source", "selector"], "properties": {
            "source": {"type": "string"},
            "selector": {"type": "array", "items": {"type": "object", "required": ["type"]}}}},
        "taConfidence": {"type": "number", "minimum": 0, "maximum": 1,
                         "description": "itsrdf:taConfidence, the mention's confidence"},
    },
}

WEB_ANNOTATION_COLLECTION = {
    "type": "object", "required": ["@context", "id", "type", "total", "first"],
    "description": "W3C Web Annotation (JSON-LD): one Annotation per linked mention; target "
                   "selectors TextQuoteSelector (exact, prefix, suffix) and "
                   "TextPositionSelector (code points)",
    "properties": {
        "@context": {"type": "array"}, "id": {"type": "string"},
        "type": {"const": "AnnotationCollection"}, "total": {"type": "integer"},
        "first": {"type": "object", "required": ["type", "items"], "properties": {
            "type": {"const": "AnnotationPage"},
            "items": {"type": "array", "items": WEB_ANNOTATION}}},
    },
}

NIF_DOCUMENT = {
    "type": "string",
    "description": "NIF 2.0 in Turtle: nif:Context nodes with nif:isString, and nif:Phrase "
                   "nodes (nif:referenceContext, nif:beginIndex, nif:endIndex, nif:anchorOf) "
                   "annotated with itsrdf:taIdentRef (Wikidata IRI, or "
                   "http://aksw.org/notInWiki/… for NIL) and itsrdf:taConfidence",
}

JOB_STATUS = {
    "type": "object", "required": ["id", "status"],
    "properties": {
        "id": {"type": "string"}, "status": {"enum": [s.value for s in JobStatus]},
        "submitted_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "result": LINK_RESULT,
        "error": ERROR["properties"]["error"],
    },
}

LOOKUP = {
    "type": "object", "required": ["mention", "candidates"],
    "properties": {"mention": {"type": "string"},
                   "candidates": {"type": "array", "items": CANDIDATE}},
}

REFRESH_REQUEST = {
    "type": "object", "required": ["qids"], "additionalProperties": False,
    "properties": {"qids": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                            "maxItems": MAX_REFRESH_QIDS},
                   "as_of": {"type": ["string", "null"], "format": "date"}},
}

REFRESH_ACCEPTED = {
    "type": "object", "required": ["qids", "status"],
    "properties": {"qids": {"type": "array", "items": {"type": "string"}},
                   "status": {"const": "queued"}},
}

MAX_ADD_QIDS = 500
MAX_ADD_ENTITIES = 1000

KB_ADD_REQUEST = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "qids": {"type": "array", "items": {"type": "string", "pattern": QID_PATTERN.pattern},
                 "maxItems": MAX_ADD_QIDS, "description": "fetched from the Wikidata API"},
        "entities": {"type": "array", "items": {"type": "object"}, "maxItems": MAX_ADD_ENTITIES,
                     "description": "entities in Wikidata dump layout; ids carry the local prefix "
                                    "(FACTLINK_LOCAL_ID_PREFIX, default local:)"},
        "wikidata_ids": {"type": "boolean", "default": False,
                         "description": "accept QIDs in entities (Wikidata's own entities)"}},
}

KB_ADDED = {
    "type": "object", "required": ["added", "kb_version", "generation"],
    "properties": {"added": {"type": "array", "items": {"type": "string"}},
                   "kb_version": {"type": "string"}, "generation": {"type": "integer"}},
}

RULE = {
    "type": "object", "required": ["kind"],
    "properties": {"kind": {"enum": ["pin", "ban_qid", "ban_alias", "house_alias"]},
                   "alias": {"type": "string", "maxLength": 120},
                   "qid": {"type": "string"}},
}
OVERRIDES_REQUEST = {
    "type": "object", "required": ["rules"],
    "properties": {"rules": {"type": "array", "items": RULE, "minItems": 1, "maxItems": 100},
                   "scope": {"enum": ["global", "key"], "default": "global",
                             "description": "global: for every caller (an admin key when keys are "
                                            "on); key: only for requests with the sending key"}},
}
OVERRIDES_ADDED = {
    "type": "object", "required": ["rules", "kb_version", "generation"],
    "properties": {"rules": {"type": "array", "items": RULE}, "kb_version": {"type": "string"},
                   "generation": {"type": "integer"}},
}
OVERRIDES = {
    "type": "object", "required": ["rules", "audit"],
    "properties": {"rules": {"type": "array", "items": RULE},
                   "audit": {"type": "array", "items": {"type": "object"}}},
}

#: ``worker_answered``: a Celery worker answered the ping. The ping stops at the first answer,
#: so nothing here counts workers or their processes (a count named "workers" said 1 while 2
#: processes ran); ``celery inspect stats`` counts them. Readiness does not depend on it: an API
#: with no worker stays ready and answers 503 ``no_workers`` where a worker is needed.
READY = {
    "type": "object", "required": ["status", "worker_answered", "kb_version"],
    "properties": {"status": {"const": "ready"}, "worker_answered": {"type": "boolean"},
                   "kb_version": {"type": "string"}},
}

# --- request validation ----------------------------------------------------------------------


def parse_json(body: bytes) -> object:
    """Bytes -> JSON value; invalid UTF-8 and invalid JSON are different mistakes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidEncoding(f"the body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise errors.MalformedJSON(f"the body is not valid JSON: {exc}") from None


def parse_article(value: object, max_text_bytes: int, where: str = "") -> Article:
    """A JSON value -> a validated ``Article``; ``where`` prefixes field names (batch items)."""
    if not isinstance(value, dict):
        raise errors.MalformedJSON(f"{where or 'the body'} must be a JSON object")
    unknown = sorted(set(value) - set(ARTICLE["properties"]))
    if unknown:
        raise errors.InvalidInput(f"unknown field(s) {where}{', '.join(unknown)}", field=unknown[0])
    segments = _parse_segments(value, where)
    if segments is not None:
        text = SEGMENT_SEPARATOR.join(segments)
        size = sum(len(s.encode("utf-8")) for s in segments)
        field = "segments"
    else:
        if "text" not in value:
            raise errors.MissingField(f"'{where}text' (or '{where}segments') is required",
                                      field=f"{where}text")
        text = value["text"]
        if not isinstance(text, str):
            raise errors.InvalidInput(f"'{where}text' must be a string", field=f"{where}text")
        if not text:
            raise errors.InvalidInput(f"'{where}text' is empty", field=f"{where}text")
        size = len(text.encode("utf-8"))
        field = "text"
    if size > max_text_bytes:
        raise errors.TextTooLarge(f"'{where}{field}' is {size} bytes; the limit is "
                                  f"{max_text_bytes}", limit=max_text_bytes, size=size)
    try:
        published_at = parse_published_at(value.get("published_at"))
        options = LinkOptions.from_dict(value.get("options"))
    except errors.InvalidInput as exc:
        raise type(exc)(f"{where}{exc.message}" if where else exc.message, **exc.details) from None
    return Article(text=text, published_at=published_at, options=options, segments=segments)


def _parse_segments(value: dict, where: str) -> tuple[str, ...] | None:
    """``segments``, validated: a non-empty list of strings, not all blank (None: not given).
    Blank segments are kept, so a client's indices stay its own."""
    if "segments" not in value:
        return None
    field = f"{where}segments"
    if "text" in value:
        raise errors.InvalidInput(f"give '{where}text' or '{field}', not both", field=field)
    segments = value["segments"]
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        raise errors.InvalidInput(f"'{field}' must be a list of strings", field=field)
    if len(segments) > MAX_SEGMENTS:
        raise errors.InvalidInput(f"{len(segments)} segments; at most {MAX_SEGMENTS}",
                                  field=field, limit=MAX_SEGMENTS)
    if not any(s.strip() for s in segments):
        raise errors.InvalidInput(f"'{field}' has no text", field=field)
    return tuple(segments)


def parse_jobs(value: object, max_text_bytes: int, max_batch: int) -> list[Article]:
    """POST /v1/jobs: one article, or ``{"articles": [...]}``."""
    if isinstance(value, dict) and "articles" in value:
        if set(value) != {"articles"}:
            raise errors.InvalidInput("a batch has only the field 'articles'", field="articles")
        articles = value["articles"]
        if not isinstance(articles, list) or not articles:
            raise errors.InvalidInput("'articles' must be a non-empty list", field="articles")
        if len(articles) > max_batch:
            raise errors.InvalidInput(f"{len(articles)} articles; at most {max_batch} per batch",
                                      field="articles", limit=max_batch)
        return [parse_article(item, max_text_bytes, where=f"articles[{i}].")
                for i, item in enumerate(articles)]
    return [parse_article(value, max_text_bytes)]


def parse_qid(raw: str) -> str:
    if not QID_PATTERN.match(raw):
        raise errors.InvalidInput(f"not a Wikidata item id: {raw!r} (expected Q<number>)",
                                  field="qid")
    return raw


def parse_as_of(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        if not isinstance(raw, str) or not DATE_PATTERN.match(raw):
            raise ValueError
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise errors.InvalidInput(f"'as_of' must be a date like 2022-02-10, not {raw!r}",
                                  field="as_of") from None


def parse_job_id(raw: str) -> str:
    if not JOB_ID_PATTERN.match(raw):
        raise errors.UnknownJob(f"no job {raw!r}: job ids are 32 hex digits", job_id=raw)
    return raw


def parse_lookup(mention: str | None, limit: str | None) -> tuple[str, int]:
    if mention is None or not mention.strip():
        raise errors.MissingField("query parameter 'mention' is required", field="mention")
    if len(mention) > MAX_MENTION_CHARS:
        raise errors.InvalidInput(f"'mention' is longer than {MAX_MENTION_CHARS} characters",
                                  field="mention")
    if limit is None:
        return mention, 10
    # ASCII digits only: "²" is a digit to str.isdigit() but not to int()
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_LOOKUP_LIMIT:
        raise errors.InvalidInput(f"'limit' must be an integer in [1, {MAX_LOOKUP_LIMIT}]",
                                  field="limit")
    return mention, int(limit)


def parse_kb_add(value: object) -> tuple[list[str], list[dict], bool]:
    if not isinstance(value, dict):
        raise errors.MalformedJSON("the body must be a JSON object")
    unknown = sorted(set(value) - set(KB_ADD_REQUEST["properties"]))
    if unknown:
        raise errors.InvalidInput(f"unknown field(s) {', '.join(unknown)}", field=unknown[0])
    qids, entities = value.get("qids", []), value.get("entities", [])
    if not isinstance(qids, list) or len(qids) > MAX_ADD_QIDS:
        raise errors.InvalidInput(f"'qids' must be a list of at most {MAX_ADD_QIDS} QIDs", field="qids")
    for qid in qids:
        if not isinstance(qid, str):
            raise errors.InvalidInput(f"not a Wikidata item id: {qid!r}", field="qids")
        parse_qid(qid)
    if not isinstance(entities, list) or len(entities) > MAX_ADD_ENTITIES:
        raise errors.InvalidInput(f"'entities' must be a list of at most {MAX_ADD_ENTITIES} entities",
                                  field="entities")
    if not qids and not entities:
        raise errors.MissingField("name 'qids' to fetch or 'entities' to add", field="qids")
    wikidata_ids = value.get("wikidata_ids", False)
    if not isinstance(wikidata_ids, bool):
        raise errors.InvalidInput("'wikidata_ids' must be a boolean", field="wikidata_ids")
    return list(dict.fromkeys(qids)), entities, wikidata_ids


def entity_id_pattern(local_prefix: str) -> str:
    """The pattern of a QID or a local id (``linkers.kb.overlay``), for the OpenAPI document."""
    from linkers.kb.overlay import LOCAL_SUFFIX_PATTERN
    return f"^({QID_PATTERN.pattern[1:-1]}|{re.escape(local_prefix)}{LOCAL_SUFFIX_PATTERN})$"


def parse_entity_id(raw: str, local_prefix: str) -> str:
    """A QID or a newsroom entity's local id (``local:acme-corp``)."""
    if QID_PATTERN.match(raw) or is_local_id(raw, local_prefix):
        return raw
    raise errors.InvalidInput(f"not an entity id: {raw!r} (expected Q<number> or {local_prefix}<name>)",
                              field="qid")


def parse_refresh(value: object) -> tuple[list[str], str | None]:
    if not isinstance(value, dict):
        raise errors.MalformedJSON("the body must be a JSON object")
    unknown = sorted(set(value) - set(REFRESH_REQUEST["properties"]))
    if unknown:
        raise errors.InvalidInput(f"unknown field(s) {', '.join(unknown)}", field=unknown[0])
    if "qids" not in value:
        raise errors.MissingField("'qids' is required", field="qids")
    qids = value["qids"]
    if not isinstance(qids, list) or not qids or len(qids) > MAX_REFRESH_QIDS:
        raise errors.InvalidInput(f"'qids' must be a list of 1 to {MAX_REFRESH_QIDS} QIDs",
                                  field="qids")
    for qid in qids:
        if not isinstance(qid, str):
            raise errors.InvalidInput(f"not a Wikidata item id: {qid!r}", field="qids")
        parse_qid(qid)
    return list(dict.fromkeys(qids)), parse_as_of(value.get("as_of"))


# --- response bodies -------------------------------------------------------------------------


def error_body(error: errors.FactlinkError) -> bytes:
    return orjson.dumps({"error": error.to_dict()})


def poll_path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def job_accepted(job_id: str, status: JobStatus) -> dict:
    return {"id": job_id, "status": status.value, "poll": poll_path(job_id)}


def jobs_accepted_body(submissions: list[Submission]) -> bytes:
    return orjson.dumps({"jobs": [job_accepted(s.job_id, s.status) for s in submissions]})


def job_status_body(record: JobRecord, result_json: bytes | None) -> bytes:
    """The job's status; a stored result is spliced in as the raw bytes the worker wrote."""
    body = {"id": record.job_id, "status": record.status.value,
            "submitted_at": _iso(record.submitted_at), "updated_at": _iso(record.updated_at)}
    if record.status is JobStatus.failed:
        body["error"] = {"code": record.error_code or "internal",
                         "message": record.error_message or "the job failed"}
    encoded = orjson.dumps(body)
    if result_json is None:
        return encoded
    return encoded[:-1] + b',"result":' + result_json + b"}"


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")
