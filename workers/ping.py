"""``python -m workers.ping``: exit 0 when this host's Celery worker answers a ping, else 1.

The worker's container health check (compose, Kubernetes): the worker serves no HTTP, so it is
asked over the broker, with the same settings (``REDIS_URL`` and ``REDIS_PASSWORD``) it runs
with; the password never appears on a command line. The node name is ``celery@<hostname>``,
Celery's default, unless given as the first argument.
"""
from __future__ import annotations

import socket
import sys

from .celery_app import create_celery
from .settings import Settings

PING_TIMEOUT = 10.0


def main(argv: list[str]) -> int:
    node = argv[0] if argv else f"celery@{socket.gethostname()}"
    app = create_celery(Settings.from_env())
    try:
        answers = app.control.ping(destination=[node], timeout=PING_TIMEOUT)
    except Exception as exc:          # the broker is away: the check fails, with the reason
        sys.stderr.write(f"cannot ping {node}: {type(exc).__name__}\n")
        return 1
    finally:
        app.close()
    return 0 if answers else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
