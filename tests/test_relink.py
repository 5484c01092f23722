"""``factlink relink``: real runs of the command against a real Redis and Celery worker, and
``--local`` on a process pool; what a user sees is the output file and the exit code."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import orjson
import pytest
from service_fixtures import REPO, factlink_env, wait_for

pytestmark = pytest.mark.integration

NATO_ARTICLE = ("Kremlin takes crack at Macron after he met with Putin about Ukraine, saying "
                "Paris is 'not the leader' in NATO so they 'couldn't do any deals'.")


def articles(count: int) -> list[dict]:
    """Short, distinct articles; the one at index 7 (when there is one) is about NATO."""
    docs = [{"id": f"doc-{i}", "text": f"Story {i}: Macron spoke with Putin in Paris about Ukraine.",
             "published_at": "2022-02-10"} for i in range(count)]
    if count > 7:
        docs[7] = {"id": "doc-7", "text": NATO_ARTICLE, "published_at": "2022-02-10"}
    return docs


def write_jsonl(path, docs: list[dict], extra_lines: tuple[bytes, ...] = ()) -> str:
    with open(path, "wb") as fh:
        fh.writelines(orjson.dumps(doc) + b"\n" for doc in docs)
        fh.writelines(line + b"\n" for line in extra_lines)
    return str(path)


def read_jsonl(path) -> list[dict]:
    with open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh]


def relink_command(source: str, out: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", "relink", source, "--out", out, *flags]


def relink(source: str, out: str, *flags: str, redis_url: str = "",
           timeout: float = 60) -> subprocess.CompletedProcess:
    env = factlink_env(REDIS_URL=redis_url) if redis_url else factlink_env()
    return subprocess.run(relink_command(source, out, *flags), env=env, cwd=REPO,
                          capture_output=True, timeout=timeout)


def mentions_by_id(lines: list[dict]) -> dict:
    return {line["id"]: [(m["start"], m["end"], m["qid"]) for m in line["mentions"]]
            for line in lines}


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory, redis_server, worker):
    """200 articles relinked by the session's Celery worker: (input path, output lines)."""
    folder = tmp_path_factory.mktemp("relink-celery")
    source = write_jsonl(folder / "in.jsonl", articles(200))
    out = str(folder / "out.jsonl")
    done = relink(source, out, redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr.decode()
    return source, read_jsonl(out)


def test_celery_relink_writes_one_line_per_article(celery_run):
    source, lines = celery_run
    assert [line["id"] for line in lines] != [] and len(lines) == 200
    assert sorted(line["id"] for line in lines) == sorted(d["id"] for d in read_jsonl(source))
    assert all("error" not in line and line["kb_version"] for line in lines)
    nato = next(line for line in lines if line["id"] == "doc-7")
    assert "Q7184" in {m["qid"] for m in nato["mentions"]}


def test_local_gives_the_same_mentions_as_the_workers(celery_run, tmp_path):
    source, celery_lines = celery_run
    out = str(tmp_path / "out.jsonl")
    done = relink(source, out, "--local", "--workers", "2")
    assert done.returncode == 0, done.stderr.decode()
    local_lines = read_jsonl(out)
    assert mentions_by_id(local_lines) == mentions_by_id(celery_lines)
    assert {line["kb_version"] for line in local_lines} == {celery_lines[0]["kb_version"]}


def test_rerun_over_a_finished_output_adds_nothing(celery_run, tmp_path, redis_server):
    source, _ = celery_run
    out = tmp_path / "out.jsonl"
    assert relink(source, str(out), "--local", "--workers", "1").returncode == 0
    before = out.read_bytes()
    assert relink(source, str(out), redis_url=redis_server.url).returncode == 0
    assert out.read_bytes() == before


def test_bad_lines_are_reported_each_and_the_rest_is_linked(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", articles(5), extra_lines=(
        b'{"id": "broken", "text": "no closing brace"',
        orjson.dumps({"id": "no-text", "published_at": "2022-02-10"}),
        orjson.dumps({"id": "doc-1", "text": "the same id again"}),
    ))
    out = str(tmp_path / "out.jsonl")
    done = relink(source, out, "--local", "--workers", "1")
    assert done.returncode == 1
    lines = read_jsonl(out)
    assert len(lines) == 7                   # five articles, two failed lines; no second doc-1
    errors = {line.get("id"): line["error"]["code"] for line in lines if "error" in line}
    assert errors == {None: "malformed_json", "no-text": "missing_field"}
    assert sum("mentions" in line for line in lines) == 5
    stderr = done.stderr.decode()
    assert "line 6: [malformed_json]" in stderr and "line 7: [missing_field]" in stderr
    assert 'duplicate id "doc-1"' in stderr and "Traceback" not in stderr


def test_killed_relink_resumes_without_losing_or_duplicating_lines(tmp_path, start_redis,
                                                                    start_worker):
    # its own Redis and a slow worker (20 ms per article): the run is still going when killed
    redis_server = start_redis()
    start_worker(redis_server.url, FACTLINK_DEBUG_LINK_DELAY="0.02")
    docs = [dict(doc, text=doc["text"] + " (slow)") for doc in articles(100)]
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    run = subprocess.Popen(relink_command(source, str(out), "--chunk-size", "8"),
                           env=factlink_env(REDIS_URL=redis_server.url), cwd=REPO,
                           stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: out.exists() and out.read_bytes().count(b"\n") >= 20, 30,
                 what="some lines written")
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.wait(10)
        run.stderr.close()
    written = out.read_bytes().count(b"\n")
    assert 20 <= written < 100
    with open(out, "ab") as fh:              # and a crash in the middle of writing a line
        fh.write(b'{"id": "doc-149", "mentions": [{"sta')
    done = relink(source, str(out), redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr.decode()
    ids = Counter(line["id"] for line in read_jsonl(out))
    assert ids == Counter(doc["id"] for doc in docs)
    assert f"{written} already done" in done.stderr.decode()


def test_a_worker_killed_mid_run_loses_no_line_with_no_api_up(tmp_path, start_redis, start_worker):
    """No API process (whose reaper re-sends a dead worker's jobs) runs here: relink reaps too.
    The worker holds its tasks in memory (kombu's ack emulation is off), so without a reaper
    the jobs it held would wait for ever."""
    redis_server = start_redis()
    first = start_worker(redis_server.url, FACTLINK_DEBUG_LINK_DELAY="0.05")
    docs = [dict(doc, text=doc["text"] + " (killed)") for doc in articles(60)]
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    run = subprocess.Popen(relink_command(source, str(out), "--chunk-size", "20", "--timeout", "90"),
                           env=factlink_env(REDIS_URL=redis_server.url), cwd=REPO,
                           stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: out.exists() and out.read_bytes().count(b"\n") >= 5, 30,
                 what="some lines written")
        first.kill()                         # the worker and its pool, mid-chunk
        start_worker(redis_server.url)
        _, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
    assert run.returncode == 0, stderr.decode()
    lines = read_jsonl(out)
    assert Counter(line["id"] for line in lines) == Counter(doc["id"] for doc in docs)
    assert all("mentions" in line for line in lines), [line for line in lines if "mentions" not in line][:2]


def test_a_job_claimed_but_never_sent_is_sent_again(tmp_path, redis_server, celery_run):
    """What a relink killed between claiming a job and sending its task leaves behind."""
    import redis

    from workers import keys
    from workers.jobs import Article
    kb_version = celery_run[1][0]["kb_version"]
    orphan = {"id": "orphan", "text": "Putin and Macron met in Moscow.", "published_at": "2022-02-07"}
    job_id = Article(orphan["text"], orphan["published_at"]).job_id(kb_version)
    with redis.Redis.from_url(redis_server.url) as client:
        client.hset(keys.job(job_id), mapping={"status": "queued", "submitted_at": time.time(),
                                               "updated_at": time.time()})
    source = write_jsonl(tmp_path / "orphan.jsonl", [orphan])
    done = relink(source, str(tmp_path / "orphan-out.jsonl"), "--timeout", "15",
                  redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr.decode()
    assert read_jsonl(tmp_path / "orphan-out.jsonl")[0]["mentions"]


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path):
    """What a cron job or CI log sees: lines, not a bar redrawn with carriage returns."""
    source = write_jsonl(tmp_path / "in.jsonl", articles(40))
    done = relink(source, str(tmp_path / "out.jsonl"), "--local", "--workers", "1",
                  "--chunk-size", "8", "--progress-every", "0")
    assert done.returncode == 0, done.stderr.decode()
    err = done.stderr.decode()
    progress = [line for line in err.splitlines() if line.startswith("factlink: relink: ")]
    assert len(progress) == 40 and "\r" not in err
    assert progress[-1].startswith("factlink: relink: 40/40 docs (100%), ")
    assert "docs/s" in progress[0] and "s left" in progress[0]


def test_interrupted_local_run_exits_130_and_resumes(tmp_path):
    docs = [dict(doc, text=" ".join([doc["text"]] * 40)) for doc in articles(60)]
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    run = subprocess.Popen(relink_command(source, str(out), "--local", "--workers", "1",
                                          "--chunk-size", "2", "--window", "1"),
                           env=factlink_env(), cwd=REPO, stderr=subprocess.PIPE,
                           # Ctrl-C as a terminal sends it: a suite started in the background
                           # of a shell inherits SIGINT ignored, and Python then keeps it so
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: out.exists() and out.read_bytes().count(b"\n") >= 10, 30,
                 interval=0.01, what="some lines written")
        run.send_signal(signal.SIGINT)
        assert run.wait(20) == 130
        assert b"run the same command again" in run.stderr.read()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stderr.close()
    done = relink(source, str(out), "--local", "--workers", "2")
    assert done.returncode == 0, done.stderr.decode()
    assert Counter(line["id"] for line in read_jsonl(out)) == Counter(d["id"] for d in docs)


def test_old_kb_lines_and_run_failures_are_linked_again(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", articles(4))
    out = tmp_path / "out.jsonl"
    assert relink(source, str(out), "--local", "--workers", "1").returncode == 0
    lines = read_jsonl(out)
    lines[1]["kb_version"] = "an-older-kb"
    lines[2] = {"id": "doc-2", "line": 3, "kb_version": lines[0]["kb_version"],
                "error": {"code": "timeout", "message": "the job is still queued after 600 s"}}
    out.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    done = relink(source, str(out), "--local", "--workers", "1")
    assert done.returncode == 0 and b"linking them again" in done.stderr
    again = read_jsonl(out)
    assert sorted(line["id"] for line in again) == [f"doc-{i}" for i in range(4)]
    assert {line["kb_version"] for line in again} == {lines[0]["kb_version"]}
    assert all("mentions" in line for line in again)


def test_no_workers_is_exit_5(tmp_path, start_redis):
    redis = start_redis()
    source = write_jsonl(tmp_path / "in.jsonl", articles(3))
    started = time.monotonic()
    done = relink(source, str(tmp_path / "out.jsonl"), redis_url=redis.url)
    assert done.returncode == 5 and b"no_workers" in done.stderr
    assert time.monotonic() - started < 20


def test_a_result_is_written_after_its_id_byte_for_byte_as_one_object(tmp_path):
    from service.relink import InputLine, OutputFile
    result = {"mentions": [{"text": "Zoë", "qid": "Q1"}], "entities": {}, "relations": [],
              "kb_version": "v", "linker_version": "l", "published_at": None}
    out = OutputFile(str(tmp_path / "out.jsonl"), "v")
    ids = ["a1", 7, "ünïcode \"quoted\""]
    for lineno, ident in enumerate(ids, 1):
        out.write(InputLine(id=ident, lineno=lineno, article=None), orjson.dumps(result))
    out.close()
    assert (tmp_path / "out.jsonl").read_bytes().splitlines() == \
        [orjson.dumps({"id": ident, **result}) for ident in ids]


def test_relink_local_starts_without_importing_celery_or_requests():
    """Imports are most of a run's start (0.78 -> 0.53 CPU-s when these went), and no pool
    process links before the parent has started. (redis still comes, with workers.jobs.)"""
    probe = ("import sys, service.cli, service.relink; "
             "print(sorted(m for m in ('celery', 'requests') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], env=factlink_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
