"""Fuzzing the real service from its own OpenAPI document (issue 14).

schemathesis reads ``GET /v1/openapi.json`` at run time (so routes added later are fuzzed too)
and generates requests for every operation, both valid ones and ones that break the schema
(wrong types, missing fields, bad paths), against the real app with a real Redis and a real
Celery worker. A user must never see a 500, nor a status the document does not list for that
operation; every error is the JSON error shape. At least ``MIN_REQUESTS`` requests in total,
under two minutes on the shared 2-core machine.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

MIN_REQUESTS = 5000
#: examples per operation and generation mode: 11 x 440 + 250 > MIN_REQUESTS over the 6 operations
#: with inputs (the 4 operational routes take none: one request each)
EXAMPLES = 440
#: the costliest pair to generate (nested batches that break the schema) gets fewer
EXAMPLES_BY_WORK = {("POST /v1/jobs", "negative"): 250}
#: no single request may hang the fuzzing: the API answers 202 after its sync timeout
REQUEST_TIMEOUT = 15
#: generating requests here and answering them in the API overlap: 4 processes on 2 cores
FUZZ_PROCESSES = 4


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory):
    """A private stack: the fuzz queues thousands of jobs and must not slow other tests. The
    API runs as its own process (``factlink api``), so generating requests here and answering
    them there use both cores."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from service_fixtures import REPO, WorkerProcess, factlink_env, wait_for_readyz

    from workers.embedded_redis import EmbeddedRedis, free_port
    redis = EmbeddedRedis(tmp_path_factory.mktemp("fuzz-redis")).start()
    worker = WorkerProcess(redis.url).wait_ready()
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "api", "--port", str(port)], cwd=REPO,
        env=factlink_env(REDIS_URL=redis.url, FACTLINK_SYNC_TIMEOUT="0.5"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_readyz(api, url)
        yield SimpleNamespace(url=url)
    finally:
        api.terminate()
        api.communicate(timeout=30)
        worker.stop()
        redis.stop()


def fuzz_operations(url: str, labels: list[str],
                    modes=(GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                    ) -> tuple[Counter, list[str], list[str]]:
    """Fuzz the operations named in ``labels`` in ``modes``; return the statuses per
    (operation, status), the problems found and a timing line per operation and mode."""
    document = requests.get(f"{url}/v1/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter = Counter()
    problems: list[str] = []
    timings: list[str] = []
    with requests.Session() as session:
        for operation in [op for op in operations if op.label in labels]:
            documented = set(operation.definition.raw["responses"])
            for mode in modes:
                examples = EXAMPLES_BY_WORK.get((operation.label, mode.value), EXAMPLES)

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=examples, deadline=None, database=None,
                          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
                def fuzz(case):
                    response = case.call(base_url=url, session=session, timeout=REQUEST_TIMEOUT)
                    status = response.status_code
                    statuses[(operation.label, status)] += 1
                    where = f"{operation.label} ({mode.value}) -> {status}"
                    if status >= 500 and status != 503 or str(status) not in documented:
                        problems.append(f"{where}: {response.text[:300]} for "
                                        f"{case.path_parameters} {case.query} "
                                        f"{str(case.body)[:200]}")
                    elif status >= 400:
                        body = response.json()
                        if not body.get("error", {}).get("code"):
                            problems.append(f"{where}: not the error shape: {response.text[:200]}")
                began, before = time.monotonic(), sum(statuses.values())
                try:
                    fuzz()
                except Unsatisfiable:        # nothing to break (no parameters, no body)
                    pass
                timings.append(f"{operation.label} {mode.value}: "
                               f"{sum(statuses.values()) - before} requests, "
                               f"{time.monotonic() - began:.1f} s")
    return statuses, problems, timings


def fuzz_one(url: str, label: str, mode: str):
    return fuzz_operations(url, [label], (GenerationMode(mode),))


def test_no_request_the_schema_allows_or_breaks_gets_a_500(fuzz_api):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    document = requests.get(f"{fuzz_api.url}/v1/openapi.json", timeout=10).json()
    labels = [f"{method.upper()} {path}" for path, item in document["paths"].items()
              for method in item if method in ("get", "post", "put", "patch", "delete")]
    # a process waits for the answer about half of the time and generates the other half:
    # FUZZ_PROCESSES processes take (operation, mode) pairs from a shared list, the costliest
    # first, so none is left with a long tail
    work = sorted(((label, mode.value) for label in labels
                   for mode in (GenerationMode.NEGATIVE, GenerationMode.POSITIVE)),
                  key=lambda item: (item[0].startswith("POST"), item[1] == "negative"),
                  reverse=True)
    started = time.monotonic()
    with ProcessPoolExecutor(FUZZ_PROCESSES, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(fuzz_one, [fuzz_api.url] * len(work), *zip(*work)))
    seconds = time.monotonic() - started
    statuses: Counter = Counter()
    problems: list[str] = []
    for share_statuses, share_problems, timings in results:
        statuses.update(share_statuses)
        problems += share_problems
        print("\n".join(["", *timings]))
    total = sum(statuses.values())
    fuzzed = {label for label, _ in statuses}
    print(f"fuzz: {total} requests in {seconds:.1f} s over {len(fuzzed)} operations; statuses "
          f"{dict(sorted(Counter(s for _, s in statuses.elements()).items()))}")
    assert not problems, "\n".join(sorted(set(problems))[:30])
    assert fuzzed == set(labels)                     # every route the document lists
    assert not [key for key in statuses if key[1] == 500]
    assert total >= MIN_REQUESTS
