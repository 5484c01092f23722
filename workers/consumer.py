"""A solo worker's own consumer of the link tasks: the queue read without Celery's consumer.

Celery's consumer took ~0.7 ms of an uncached annotate's overhead between Redis handing a
message over and the task starting (the hub's wake-up, the message decoded into a request, the
strategy, the tracer; ``bench/README.md``, "The link consumer of solo workers"). In each of
``factlink worker``'s solo processes (``workers.supervisor``) a thread of this module takes the
messages from the queue instead (``BRPOP``), one at a time, and runs the link tasks itself:

- ``link_article`` and ``link_batch`` messages go to ``WorkerRuntime.link_jobs``, as the Celery
  tasks do. Nothing else changes: the same messages (the API, the reaper, the supervisor and
  ``relink`` send them), the same job records, leases and done script.
- any other task (``refresh_entities``: retries with a countdown, which Celery's ETA handling
  serves) is handed to the Celery worker of the same process, which consumes
  ``keys.CELERY_QUEUE`` only: the message as it came, pushed to the back of that list.

Celery still runs in the process: it answers pings (the API's worker check, ``workers.ping``),
runs the handed-over tasks, and owns the signals. A warm shutdown (SIGTERM) stops this thread
from taking messages and waits for the task it runs (``worker_shutdown``); the supervisor's
handling of a killed process is unchanged, since the leases name the process, not the thread.
Only one task runs at a time in a process: the runtime's lock (``WorkerRuntime.lock``) is
held by either thread while it runs one.

What a message taken and not yet started is worth is what it was under Celery's solo consumer
without ``ack_emulation``: a process killed in that window (microseconds) loses the message, and
the reaper sends the job again (it is ``queued`` and goes stale). A message that cannot be read
(not JSON, not a Celery task) is logged and dropped, as Celery's consumer drops it.

With ``--pool prefork`` this module is not used: the pool processes take tasks from the parent.
"""
from __future__ import annotations

import base64
import logging
import os
import signal
import threading
import time

import orjson
import redis

from . import keys
from .tasks import LINK_TASKS, WorkerRuntime

log = logging.getLogger(__name__)

#: how long one BRPOP blocks before the thread looks at its stop flag again
POLL_SECONDS = 1.0
#: waits between attempts while Redis is away
RETRY_SECONDS, RETRY_SECONDS_MAX = 0.25, 5.0


class BadMessage(ValueError):
    """A queue item that is not a Celery task message this worker can read."""


def read_task(item: bytes) -> tuple[str, list]:
    """(task name, positional args) of a Celery protocol 2 message as kombu's Redis transport
    stores it (``workers.publish`` builds them the same way)."""
    try:
        envelope = orjson.loads(item)
        name = envelope["headers"]["task"]
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _kwargs, _embed = orjson.loads(body)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"not a task message ({type(exc).__name__}: {exc})") from exc
    if not isinstance(name, str) or not isinstance(args, list):
        raise BadMessage("not a task message (no task name or arguments)")
    return name, args


class LinkConsumer:
    """The thread taking link tasks from ``keys.QUEUE`` for a solo worker process."""

    def __init__(self, settings, runtime: WorkerRuntime, client: redis.Redis | None = None):
        self._runtime = runtime
        # its own connection: BRPOP holds one for up to POLL_SECONDS
        self._redis = client or redis.Redis.from_url(
            settings.redis, socket_connect_timeout=2, socket_timeout=POLL_SECONDS + 10,
            health_check_interval=30)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="factlink-link-consumer",
                                        daemon=True)

    def start(self) -> LinkConsumer:
        self._thread.start()
        return self

    def stop(self, wait: bool = True) -> None:
        """Take no more messages; with ``wait``, return once the task running has ended."""
        self._stopping.set()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        try:
            self._consume()
        except BaseException:             # a bug here must not leave a worker that takes nothing
            log.critical("the link consumer failed; stopping this worker process",
                         exc_info=True)
            os.kill(os.getpid(), signal.SIGTERM)
            raise

    def _consume(self) -> None:
        delay = RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                taken = self._redis.brpop([keys.QUEUE], timeout=POLL_SECONDS)
            except redis.exceptions.RedisError as exc:
                log.warning("cannot read the queue (%s); trying again in %.2f s", exc, delay)
                self._stopping.wait(delay)
                delay = min(RETRY_SECONDS_MAX, delay * 2)
                continue
            delay = RETRY_SECONDS
            if taken is not None:
                self.handle(taken[1])     # taken: run it, even when a stop came meanwhile

    def handle(self, item: bytes) -> None:
        """Run one queue item: a link task here, any other task handed to Celery."""
        try:
            name, args = read_task(item)
        except BadMessage as exc:
            log.error("dropped a queue item: %s: %r", exc, item[:200])
            return
        run = LINK_TASKS.get(name)
        if run is None:
            self._hand_over(item)
            return
        started = time.perf_counter()
        try:
            run(self._runtime, *args)
        except Exception:
            # as Celery logs a task that raised: the job is left to its lease and the reaper
            log.exception("task %s failed", name)
        else:
            log.debug("task %s done in %.1f ms", name, (time.perf_counter() - started) * 1e3)

    def _hand_over(self, item: bytes) -> None:
        delay = RETRY_SECONDS
        while True:
            try:
                self._redis.lpush(keys.CELERY_QUEUE, item)
                return
            except redis.exceptions.RedisError as exc:
                if self._stopping.is_set():
                    # its job, if it has one, is left to the reaper; a refresh is asked again
                    log.error("dropped a task message while stopping (%s)", exc)
                    return
                log.warning("cannot hand a task to Celery (%s); trying again in %.2f s",
                            exc, delay)
                time.sleep(delay)
                delay = min(RETRY_SECONDS_MAX, delay * 2)


def attach(app, settings) -> None:
    """Run a ``LinkConsumer`` beside the Celery worker ``app`` is about to run in this process
    (``factlink worker``'s solo processes): started once the worker is ready, stopped at its
    shutdown (warm: the running task ends first). The worker must consume ``keys.CELERY_QUEUE``,
    not ``keys.QUEUE``."""
    from celery.signals import worker_ready, worker_shutdown, worker_shutting_down
    consumer = LinkConsumer(settings, app.factlink_runtime)
    started = threading.Event()

    def start(**_kwargs) -> None:
        if not started.is_set():
            started.set()
            consumer.start()

    def stopping(**_kwargs) -> None:      # in the signal handler: no waiting here
        consumer.stop(wait=False)

    def stopped(**_kwargs) -> None:
        if started.is_set():
            consumer.stop(wait=True)

    worker_ready.connect(start, weak=False)
    worker_shutting_down.connect(stopping, weak=False)
    worker_shutdown.connect(stopped, weak=False)
