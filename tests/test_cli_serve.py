"""``factlink serve``: one command starts the bundled Redis, a worker pool and the API, and
SIGTERM stops all of them (no orphans); ``factlink --help`` lists every command."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from service_fixtures import REPO, SAMPLE_ARTICLE, factlink_env, wait_for, wait_for_readyz

from workers.embedded_redis import free_port


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_serve(tmp_path) -> tuple[subprocess.Popen, str]:
    """``factlink serve`` with one worker process and its data under ``tmp_path``; its URL."""
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--concurrency", "1"],
        env=factlink_env(FACTLINK_DATA_DIR=str(tmp_path / "var")), cwd=REPO,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return serve, f"http://127.0.0.1:{port}"


def test_serve_runs_everything_and_stops_cleanly(tmp_path):
    serve, url = start_serve(tmp_path)
    try:
        wait_for_readyz(serve, url)
        response = requests.post(f"{url}/v1/annotate", json={"text": SAMPLE_ARTICLE}, timeout=30)
        assert response.status_code == 200, response.text
        assert "Q7184" in response.json()["entities"]
        children = descendants(serve.pid)
        assert len(children) >= 3                          # redis, worker, its pool process
    finally:
        serve.send_signal(signal.SIGTERM)
        output = serve.communicate(timeout=60)[0].decode()
    assert serve.returncode == 0, output
    assert "Traceback" not in output, output
    assert not [pid for pid in children if alive(pid)], "orphans left behind"
    assert (tmp_path / "var" / "redis" / "appendonly.aof").is_file()


def test_the_command_line_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "service.cli", "--help"], cwd=REPO,
                            env=factlink_env(), capture_output=True, text=True, check=True)
    for command in ("serve", "api", "worker", "kb", "link", "eval"):
        assert f"    {command}" in result.stdout


def test_a_bad_setting_is_reported_at_start_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "service.cli", "api"], cwd=REPO,
                            env=factlink_env(FACTLINK_PORT="eighty"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "FACTLINK_PORT='eighty' is not a valid int" in result.stderr
    assert "Traceback" not in result.stderr


def redis_server_pid(serve_pid: int) -> int:
    for pid in descendants(serve_pid):
        try:
            if "redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return pid
        except OSError:
            continue
    return 0


def test_serve_restarts_its_redis_and_loses_no_job(tmp_path):
    serve, url = start_serve(tmp_path)
    try:
        wait_for_readyz(serve, url)
        health = requests.get(f"{url}/healthz", timeout=5).json()
        assert health["components"] == {"redis": "up", "workers": "up"}
        jobs = requests.post(f"{url}/v1/jobs", timeout=10, json={"articles": [
            {"text": f"Story {n}: Macron met Scholz in Berlin."} for n in range(30)]}).json()["jobs"]
        first = redis_server_pid(serve.pid)
        os.kill(first, signal.SIGKILL)
        # meanwhile the API says so: Redis is being restarted (or is back already)
        statuses = {requests.get(f"{url}/healthz", timeout=5).status_code for _ in range(3)}
        assert statuses <= {200, 503}
        wait_for(lambda: redis_server_pid(serve.pid) not in (0, first), 30,
                 what="a new redis-server")
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=5).status_code == 200, 30,
                 what="healthz to be 200 again")

        def all_final():
            states = [requests.get(f"{url}/v1/jobs/{job['id']}", timeout=5).json().get("status")
                      for job in jobs]
            return all(state in ("done", "failed") for state in states) and states
        states = wait_for(all_final, 60, interval=0.5, what="every job to end")
        assert set(states) == {"done"}
    finally:
        serve.send_signal(signal.SIGTERM)
        output = serve.communicate(timeout=60)[0].decode()
    assert "the bundled Redis exited" in output and "is back on port" in output


def test_an_unwritable_data_dir_is_one_clear_message_and_exit_5(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")       # a data dir that cannot be created (like a read-only mount)
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())], cwd=REPO,
        env=factlink_env(FACTLINK_DATA_DIR=str(not_a_dir)), capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 5, result.stderr
    assert "redis_unavailable" in result.stderr and "not writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_read_only_data_dir_is_one_clear_message_and_exit_5(tmp_path):
    data = tmp_path / "ro"
    data.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(data)],
                                 capture_output=True)
        if mounted.returncode != 0:
            pytest.skip("cannot mount a read-only tmpfs here")
    else:
        data.chmod(0o500)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())], cwd=REPO,
            env=factlink_env(FACTLINK_DATA_DIR=str(data)), capture_output=True, text=True,
            timeout=60)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(data)], check=False)
    assert result.returncode == 5, result.stderr
    assert "not writable" in result.stderr and "Traceback" not in result.stderr
