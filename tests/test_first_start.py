"""The first start on a fresh machine (issue 9): an empty home, no starter KB built yet.

``factlink serve`` from an empty ``HOME`` answers ``POST /v1/annotate``; the starter KB builds
from a thread as well as from the main thread; processes starting together build it once and
none of them sees a half-built KB; a built starter KB opens without writing anything (a
read-only root filesystem).
"""
from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from service_fixtures import REPO, SAMPLE_ARTICLE, factlink_env, wait_for_readyz

from linkers import build_kb, errors, open_kb
from linkers.kb import STARTER_DUMP, starter_kb_path
from workers.embedded_redis import free_port
from workers.process import stop_process_group

FIRST_BUILD_LOG = "building the starter KB (first start, ~2 s)…"


def fresh_machine_env(home: Path, **settings: str) -> dict[str, str]:
    """A factlink process on a machine where nothing ran before: an empty home, no KB set."""
    home.mkdir(parents=True, exist_ok=True)
    env = factlink_env(**settings)
    env.pop("FACTLINK_KB", None)
    env.pop("XDG_CACHE_HOME", None)
    env["HOME"] = str(home)
    return env


def test_serve_on_a_fresh_machine_builds_the_starter_kb_and_annotates(tmp_path):
    port, home = free_port(), tmp_path / "home"
    started = time.monotonic()
    serve = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--concurrency", "2"],
        env=fresh_machine_env(home, FACTLINK_DATA_DIR=str(tmp_path / "var")), cwd=REPO,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_readyz(serve, url)
        response = requests.post(f"{url}/v1/annotate", json={"text": SAMPLE_ARTICLE}, timeout=30)
        answered_after = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert "Q7184" in response.json()["entities"]                      # NATO
    finally:
        serve.send_signal(signal.SIGTERM)
        output = serve.communicate(timeout=60)[0].decode()
    assert answered_after < 60
    assert output.count(FIRST_BUILD_LOG) == 1, output          # built once, by serve, logged
    assert "Traceback" not in output and "kb_error" not in output, output
    built = list((home / ".cache" / "factlink").glob("starter-kb-*/meta.json"))
    assert len(built) == 1


def test_api_and_worker_started_together_on_a_fresh_machine_serve_annotate(tmp_path, start_redis):
    """The deployment shape (compose, Kubernetes): ``factlink api`` and ``factlink worker`` start
    at the same moment from the same empty home; one builds the starter KB, both use it."""
    redis_server, port, home = start_redis(), free_port(), tmp_path / "home"
    env = fresh_machine_env(home, REDIS_URL=redis_server.url)
    commands = {"api": ["api", "--port", str(port)],
                "worker": ["worker", "--concurrency", "2", "--name", f"fresh-{port}@%h"]}
    processes = {name: subprocess.Popen([sys.executable, "-m", "service.cli", *argv], env=env,
                                        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                 for name, argv in commands.items()}
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_readyz(processes["api"], url)
        response = requests.post(f"{url}/v1/annotate", json={"text": SAMPLE_ARTICLE}, timeout=30)
        assert response.status_code == 200, response.text
        assert "Q7184" in response.json()["entities"]
    finally:
        for process in processes.values():
            stop_process_group(process, timeout=30)
    output = {name: process.stdout.read().decode() for name, process in processes.items()}
    assert sum(text.count(FIRST_BUILD_LOG) for text in output.values()) == 1, output
    assert not any("Traceback" in text or "kb_error" in text for text in output.values()), output


def test_the_starter_kb_builds_from_a_worker_thread(tmp_path):
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        kb = pool.submit(open_kb, None, tmp_path).result(timeout=120)
    assert "Q7184" in kb and kb.label("Q7184")
    assert kb.version == open_kb(None, tmp_path).version      # the main thread reuses it


def test_a_parallel_build_from_a_thread_gives_the_same_kb_as_from_the_main_thread(tmp_path):
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        in_thread = pool.submit(build_kb, [str(STARTER_DUMP)], str(tmp_path / "thread"),
                                workers=2, progress=False).result(timeout=120)
    in_main = build_kb([str(STARTER_DUMP)], str(tmp_path / "main"), workers=2, progress=False)
    assert in_thread.kb_version == in_main.kb_version and in_thread.entities == in_main.entities


CONCURRENT_START = """
import os, sys, time
from pathlib import Path
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s")
from linkers import open_kb
kb = open_kb(None, sys.argv[1])
print("VERSION", kb.version, len(kb), flush=True)
"""


def test_processes_starting_together_build_the_starter_kb_once(tmp_path):
    cache, go = tmp_path / "cache", tmp_path / "go"
    env = factlink_env()
    starts = [subprocess.Popen([sys.executable, "-c", CONCURRENT_START, str(cache), str(go)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True) for _ in range(3)]
    time.sleep(1.0)                            # all three imported and waiting
    go.touch()
    outputs = [start.communicate(timeout=120)[0] for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], outputs
    versions = {line for output in outputs for line in output.splitlines()
                if line.startswith("VERSION")}
    assert len(versions) == 1, outputs                         # the same KB for everyone
    assert sum(output.count(FIRST_BUILD_LOG) for output in outputs) == 1, outputs
    target = starter_kb_path(cache)
    assert sorted(p.name for p in cache.iterdir()) == [target.name, f"{target.name}.lock"]


def test_a_build_killed_halfway_leaves_nothing_the_next_start_trips_over(tmp_path):
    target = starter_kb_path(tmp_path)
    leftover = tmp_path / f".{target.name}.building-killed"    # what build_kb leaves on SIGKILL
    leftover.mkdir(parents=True)
    (leftover / "entities.bin").write_bytes(b"half")
    kb = open_kb(None, tmp_path)
    assert len(kb) > 500
    assert not leftover.exists()


def test_a_built_starter_kb_opens_without_writing_anything(tmp_path):
    """What a read-only root filesystem needs (the Docker image builds the KB at build time)."""
    open_kb(None, tmp_path).close()
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tmp_path.rglob("*")}
    os.utime(tmp_path, (0, 0))
    open_kb(None, tmp_path).close()
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tmp_path.rglob("*")}
    assert after == before
    assert tmp_path.stat().st_mtime_ns == 0                    # no file created or removed


def test_an_unwritable_cache_without_a_built_kb_is_a_kb_error_that_says_what_to_set(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(errors.KBError) as raised:
        open_kb(None, tmp_path / "a-file" / "cache")              # no directory can go there
    assert "XDG_CACHE_HOME" in raised.value.message and "FACTLINK_KB" in raised.value.message
