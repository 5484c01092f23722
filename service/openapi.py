"""The OpenAPI 3.1 document served at /v1/openapi.json, built from ``service.shapes``."""
from __future__ import annotations

from importlib import metadata

from workers.settings import Settings

from . import shapes

JSON = "application/json"
TURTLE = ("text/turtle", "application/x-turtle")


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _retry_later(description: str) -> dict:
    response = _error(description)
    response["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                           "description": "seconds to wait before retrying"}}
    return response


def _body(schema: dict) -> dict:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _path(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


BAD_REQUEST = _error("malformed JSON, a missing or ill-typed field, bad options, invalid UTF-8")
SUBMIT_ERRORS = {
    "400": BAD_REQUEST,
    "413": _error("a text (or the body) over the size limit"),
    "415": _error("Content-Type is not application/json"),
    "429": _retry_later("over the per-client rate limit or the queue-depth limit"),
    "503": _retry_later("Redis or the workers are down"),
}
COMMON_ERRORS = {
    "401": _error("API keys are on and X-API-Key is missing or unknown"),
}


def build_openapi(settings: Settings) -> dict:
    try:
        version = metadata.version("factlink")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    paths = {
        "/v1/annotate": {"post": {
            "summary": "Link an article now (from the cache, or from a worker)",
            "description": "The answer's format comes from ?format= or Accept: JSON, W3C Web "
                           "Annotation (application/ld+json) or NIF 2.0 (text/turtle). A NIF "
                           "document sent as text/turtle or application/x-turtle (GERBIL's "
                           "NIF web service) is answered in NIF; its nif:Phrase mentions are "
                           "disambiguated, not re-spotted.",
            "parameters": [
                _query("format", {"enum": shapes.ANNOTATE_FORMATS},
                       "answer format; overrides Accept"),
                _query("source", {"type": "string", "format": "iri"},
                       "the document's IRI, for Web Annotation targets and NIF contexts "
                       "(default: the job's URL)")],
            "requestBody": {"required": True, "content": {
                JSON: {"schema": shapes.ARTICLE},
                **{media: {"schema": shapes.NIF_DOCUMENT} for media in TURTLE}}},
            "responses": {
                "200": {"description": "the linking result; X-Factlink-Cache says hit or miss",
                        "content": {
                            JSON: {"schema": shapes.LINK_RESULT},
                            "application/ld+json": {"schema": shapes.WEB_ANNOTATION_COLLECTION},
                            **{media: {"schema": shapes.NIF_DOCUMENT} for media in TURTLE}}},
                "202": _json(shapes.JOB_ACCEPTED, f"not done within {settings.sync_timeout:g} s: "
                                                   "poll the job"),
                **SUBMIT_ERRORS,
                "400": _error("as for every submission; also an unknown format, a bad source "
                              "IRI, malformed Turtle (malformed_turtle) or a NIF document "
                              "without a nif:Context (invalid_nif)"),
                "406": _error("the Accept header allows none of the formats"),
                "415": _error("Content-Type is not application/json, text/turtle or "
                              "application/x-turtle")}}},
        "/v1/jobs": {"post": {
            "summary": "Queue one article or a batch; job ids are deterministic",
            "requestBody": _body(shapes.JOBS_REQUEST),
            "responses": {"202": _json(shapes.JOBS_ACCEPTED, "the jobs, queued or already known"),
                          **SUBMIT_ERRORS}}},
        "/v1/jobs/{job_id}": {"get": {
            "summary": "A job's status, with its result once done",
            "parameters": [_path("job_id", {"type": "string",
                                            "pattern": shapes.JOB_ID_PATTERN.pattern})],
            "responses": {"200": _json(shapes.JOB_STATUS, "queued, running, done or failed"),
                          "404": _error("unknown (or expired) job")}}},
        "/v1/entities/{qid}": {"get": {
            "summary": "An entity's fact card (ETag, Cache-Control; 304 on If-None-Match)",
            "parameters": [_path("qid", {"type": "string", "pattern": shapes.entity_id_pattern(
                               settings.local_id_prefix), "description": "a QID, or a newsroom "
                               "entity's local id (FACTLINK_LOCAL_ID_PREFIX + name)"}),
                           _query("as_of", {"type": "string", "format": "date"},
                                  "facts as of this date (default: current)")],
            "responses": {"200": _json(shapes.FACT_CARD, "the fact card"),
                          "304": {"description": "unchanged since the ETag sent"},
                          "400": _error("malformed QID or date"),
                          "404": _error("unknown entity")}}},
        "/v1/entities/refresh": {"post": {
            "summary": "Refresh cards from the Wikidata API (served over the KB's afterwards)",
            "requestBody": _body(shapes.REFRESH_REQUEST),
            "responses": {"202": _json(shapes.REFRESH_ACCEPTED, "the refresh is queued"),
                          **SUBMIT_ERRORS}}},
        "/v1/kb/entities": {"post": {
            "summary": "Add or update entities in the KB overlay (from Wikidata, or the newsroom's own)",
            "requestBody": _body(shapes.KB_ADD_REQUEST),
            "responses": {"200": _json(shapes.KB_ADDED, "added; linking, lookups and cards see "
                                                         "them from now on"),
                          "400": BAD_REQUEST,
                          "404": _error("a QID Wikidata does not have (nothing was added)"),
                          "503": _retry_later("Redis or the Wikidata API is unavailable")}}},
        "/v1/overrides": {
            "post": {"summary": "Add newsroom rules: pin an alias, ban an entity or alias, add a house alias",
                     "requestBody": _body(shapes.OVERRIDES_REQUEST),
                     "responses": {"200": _json(shapes.OVERRIDES_ADDED, "in force from now on, for "
                                                              "every caller or (scope key) the sending key"),
                                   "400": BAD_REQUEST,
                                   "403": _error("a global rule from a key not in FACTLINK_ADMIN_KEYS"),
                                   "404": _error("an entity the KB does not have (no rule was added)")}},
            "get": {"summary": "The rules in force and the audit log (who, when, what)",
                    "responses": {"200": _json(shapes.OVERRIDES, "rules and audit log")}}},
        "/v1/overrides/{rule_id}": {"delete": {
            "summary": "Remove a newsroom rule",
            "parameters": [_path("rule_id", {"type": "string"})],
            "responses": {"200": _json({"type": "object"}, "removed"),
                          "403": _error("a global rule and a key not in FACTLINK_ADMIN_KEYS"),
                          "404": _error("no such rule in force (or another key's)")}}},
        "/v1/lookup": {"get": {
            "summary": "Ranked candidate entities for a surface form",
            "parameters": [_query("mention", {"type": "string"}, "the surface form, e.g. NATO",
                                  required=True),
                           _query("limit", {"type": "integer", "minimum": 1,
                                            "maximum": shapes.MAX_LOOKUP_LIMIT, "default": 10},
                                  "most candidates to return")],
            "responses": {"200": _json(shapes.LOOKUP, "candidates, best first"),
                          "400": BAD_REQUEST}}},
        "/v1/openapi.json": {"get": {"summary": "This document",
                                     "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/healthz": {"get": {"summary": "The process is alive",
                             "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "Redis and at least one worker answer",
                            "responses": {"200": _json(shapes.READY, "ready"),
                                          "503": _retry_later("Redis or the workers are down")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "text exposition format"}}}},
    }
    for path, operations in paths.items():
        if path.startswith("/v1/") and path != "/v1/openapi.json":
            for operation in operations.values():
                operation["responses"].update(COMMON_ERRORS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "factlink", "version": version,
                 "description": "Entity linking to Wikidata with time-aware fact cards, for news."},
        "paths": paths,
        "components": {
            "schemas": {"Error": shapes.ERROR},
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
        **({"security": [{"apiKey": []}]} if settings.accepted_keys else {}),
    }
