"""Task messages the API pushes itself (``workers.publish``) are the ones Celery would push."""
from __future__ import annotations

import base64
import json

import redis as redis_client

from workers import keys
from workers.celery_app import create_celery
from workers.publish import task_message
from workers.settings import Settings
from workers.tasks import LINK_ARTICLE

ARGS = ["0123456789abcdef0123456789abcdef", {"text": "Macron met Scholz.", "published_at": None,
                                             "options": {}}, "kb-v"]
#: differ per message by design: ids, the publisher's node name, the arguments' display form
PER_MESSAGE = {"id", "root_id", "origin", "argsrepr", "kwargsrepr", "correlation_id",
               "reply_to", "delivery_tag"}


def _shape(envelope: dict) -> dict:
    body = json.loads(base64.b64decode(envelope["body"]))
    headers = {k: v for k, v in envelope["headers"].items() if k not in PER_MESSAGE}
    properties = {k: v for k, v in envelope["properties"].items() if k not in PER_MESSAGE}
    rest = {k: v for k, v in envelope.items() if k not in ("body", "headers", "properties")}
    return {"body": body, "headers": headers, "properties": properties, **rest}


def test_a_pushed_task_message_matches_what_celery_sends(start_redis):
    redis_server = start_redis()
    celery = create_celery(Settings(redis_url=redis_server.url))
    store = redis_client.Redis.from_url(redis_server.url)
    try:
        celery.send_task(LINK_ARTICLE, args=ARGS, queue=keys.QUEUE)
        [sent_by_celery] = store.lrange(keys.QUEUE, 0, -1)
    finally:
        celery.close()
    ours = json.loads(task_message(celery, LINK_ARTICLE, ARGS, keys.QUEUE, "[...]"))
    theirs = json.loads(sent_by_celery)
    assert _shape(ours) == _shape(theirs)
    assert ours["headers"]["id"] == ours["properties"]["correlation_id"]
    assert ours["properties"]["delivery_tag"] != theirs["properties"]["delivery_tag"]
