"""The one Celery app, built from ``Settings``: Redis broker, acks-late delivery, no result backend.

Workers write results and job statuses to Redis themselves (``workers.jobs``), so Celery only
carries messages. A task is acknowledged after it ran (``task_acks_late``), and a warm shutdown
puts back the messages it holds. ``factlink worker`` runs solo workers: one that dies is noticed
by its supervisor, which sends its running jobs again at once (``workers.supervisor``); with
``--pool prefork`` a pool process that dies is noticed by its parent, which requeues the message
at once (``task_reject_on_worker_lost``). The worker keeps what it holds in memory, not in
Redis (kombu's ``ack_emulation`` is off): kombu's copy in Redis (``unacked``, restored after a
visibility timeout) cost a round trip between taking a message and running it, on every task,
~0.5 ms of an uncached annotate.
A whole worker killed loses nothing with it: its jobs are ``running`` under a lease nobody
renews, or ``queued`` with their message gone, and the reaper sends them again
(``workers.reaper``; within ~20 s, where kombu's restore took ``visibility_timeout``). Linking
is idempotent, so a redelivery costs time, never correctness.

``celery -A workers.celery_app worker`` works too: the module builds ``app`` from the
environment on first access (``factlink worker`` passes its settings explicitly instead).
"""
from __future__ import annotations

from functools import cache

from celery import Celery

from . import keys
from .settings import Settings
from .tasks import register_tasks


def create_celery(settings: Settings) -> Celery:
    app = Celery("factlink", broker=settings.redis, set_as_current=False)
    app.conf.update(
        broker_transport_options={
            # messages taken are held in the worker's memory (see the module's docstring)
            "ack_emulation": False,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        task_default_queue=keys.QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        # a worker takes one task per process at a time: with acks_late this keeps a slow
        # article from holding others hostage, and idle workers pick up new tasks immediately
        worker_prefetch_multiplier=1,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_disable_rate_limits=True,
        # the API turns a publish failure into 503 quickly instead of retrying for seconds
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0.1,
                                   "interval_step": 0.2, "interval_max": 0.5},
    )
    #: what the tasks share in a worker process (``workers.consumer`` runs link tasks on it)
    app.factlink_runtime = register_tasks(app, settings)
    return app


@cache
def _app_from_environment() -> Celery:
    return create_celery(Settings.from_env())


def __getattr__(name: str):
    # `celery -A workers.celery_app` looks up `app`; build it only then, not on every import
    if name in ("app", "celery"):
        return _app_from_environment()
    raise AttributeError(name)
