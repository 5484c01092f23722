"""Celery task messages built in the API process and pushed with one LPUSH from the event loop.

``celery.send_task`` is a blocking kombu call: the API ran it in a thread, and under the
profile that publish was ~1.4 ms of the ~5 ms an uncached annotate spent outside linking
(thread hand-off, kombu's producer, a synchronous socket). Here Celery's own
``app.amqp.as_task_v2`` makes the headers and body, and the envelope is the one kombu's Redis
transport writes (``tests/test_workers_publish.py`` holds the two to each other), so a worker
cannot tell the difference: the same list, the same acknowledgement and redelivery path.
"""
from __future__ import annotations

import base64
import uuid

import orjson
from celery import Celery
from celery.utils.nodenames import anon_nodename

#: the publisher's name in every message (``send_task`` computes it per message)
ORIGIN = anon_nodename()


def task_message(celery: Celery, task_name: str, args: list, queue: str, argsrepr: str) -> bytes:
    """One task message for the Redis list ``queue``, as ``send_task`` would have pushed it.

    ``argsrepr`` is what logs and monitors show for the arguments: given by the caller, since
    Celery's own (a safe repr of a whole article) was 90% of the time this function took.
    """
    task_id = str(uuid.uuid4())
    headers, properties, body, _sent_event = celery.amqp.as_task_v2(
        task_id, task_name, args=args, kwargs={}, argsrepr=argsrepr, kwargsrepr="{}",
        origin=ORIGIN, ignore_result=None)
    return orjson.dumps({
        "body": base64.b64encode(orjson.dumps(body)).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {**properties, "delivery_mode": 2,
                       "delivery_info": {"exchange": "", "routing_key": queue},
                       "priority": 0, "body_encoding": "base64",
                       "delivery_tag": str(uuid.uuid4())},
    })
