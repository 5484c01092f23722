"""``factlink serve``: one command starts the bundled Redis, a worker pool and the API, and
SIGTERM stops all of them (no orphans); ``factlink --help`` lists every command."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests
from service_fixtures import REPO, SAMPLE_ARTICLE, factlink_env, wait_for_readyz

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


def test_serve_runs_everything_and_stops_cleanly(tmp_path):
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--concurrency", "1"],
        env=factlink_env(FACTLINK_DATA_DIR=str(tmp_path / "var")), cwd=REPO,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_readyz(serve, url)
        response = requests.post(f"{url}/v1/annotate", json={"text": SAMPLE_ARTICLE}, timeout=30)
        assert response.status_code == 200
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
