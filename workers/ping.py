"""``python -m workers.ping``: exit 0 when this host's Celery workers answer a ping, else 1.

The worker's container health check (compose, Kubernetes): the worker serves no HTTP, so it is
asked over the broker, with the same settings (``REDIS_URL``, ``REDIS_PASSWORD``,
``FACTLINK_WORKER_CONCURRENCY``) it runs with; the password never appears on a command line.
``factlink worker`` runs ``FACTLINK_WORKER_CONCURRENCY`` solo workers, named ``celery@<hostname>``
for one, else ``celery-1@<hostname>`` .. ``celery-N@<hostname>`` (``workers.supervisor.
node_names``): every one must answer, so a worker that keeps dying fails the check while its
supervisor restarts it. A node name given as the first argument is asked alone (a prefork
worker, or a ``--name``).
"""
from __future__ import annotations

import sys

from .celery_app import create_celery
from .settings import Settings
from .supervisor import node_names

PING_TIMEOUT = 10.0


def main(argv: list[str]) -> int:
    settings = Settings.from_env()
    nodes = argv[:1] or node_names(None, settings.worker_concurrency)
    app = create_celery(settings)
    try:
        answers = app.control.ping(destination=nodes, timeout=PING_TIMEOUT, limit=len(nodes))
    except Exception as exc:          # the broker is away: the check fails, with the reason
        sys.stderr.write(f"cannot ping {', '.join(nodes)}: {type(exc).__name__}\n")
        return 1
    finally:
        app.close()
    answered = {node for answer in answers or () for node in answer}
    missing = [node for node in nodes if node not in answered]
    if missing:
        sys.stderr.write(f"no answer from {', '.join(missing)}\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
