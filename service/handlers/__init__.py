"""The HTTP routes, one module per resource; ``ROUTES`` is what ``service.app`` mounts and what
``service.openapi`` must describe (a test holds them to each other)."""
from __future__ import annotations

from aiohttp import web

from . import annotate, entities, health, jobs, kb, lookup, overrides

ROUTES = [
    web.post("/v1/annotate", annotate.annotate),
    web.post("/v1/jobs", jobs.submit),
    web.get("/v1/jobs/{job_id}", jobs.status, allow_head=False),
    web.get("/v1/entities/{qid}", entities.card, allow_head=False),
    web.post("/v1/entities/refresh", entities.refresh),
    web.get("/v1/lookup", lookup.lookup, allow_head=False),
    web.post("/v1/kb/entities", kb.add_entities),
    web.post("/v1/overrides", overrides.add_rules),
    web.get("/v1/overrides", overrides.list_rules, allow_head=False),
    web.delete("/v1/overrides/{rule_id}", overrides.remove_rule),
    web.get("/v1/openapi.json", health.openapi, allow_head=False),
    web.get("/healthz", health.healthz, allow_head=False),
    web.get("/readyz", health.readyz, allow_head=False),
    web.get("/metrics", health.metrics, allow_head=False),
]
