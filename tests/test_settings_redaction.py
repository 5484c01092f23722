"""Secrets never reach a log line: Redis URLs are shown with their password masked."""
from __future__ import annotations

import subprocess
import sys

from service_fixtures import REPO, factlink_env

from workers.settings import redact_url


def test_a_redis_password_is_masked():
    assert redact_url("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("rediss://user:s3cret@[::1]:6380/1") == "rediss://user:***@[::1]:6380/1"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url(None) == "None"


def test_the_start_up_lines_do_not_show_the_password():
    # nothing listens on port 9: the worker logs its start-up line, then cannot connect
    for command in (["api", "--port", "1"], ["worker"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *command], cwd=REPO,
            env=factlink_env(REDIS_URL="redis://:hunter2-secret@127.0.0.1:9/0"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = process.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        assert "Redis redis://:***@127.0.0.1:9/0" in output, output[-2000:]
        assert "hunter2-secret" not in output
