"""Shared fixtures: knowledge bases for the linking core's tests.

``news_kb`` is a tiny KB of real Wikidata items written in the test (tests/wikidata_dump.py),
``starter_kb`` the starter KB shipped in linkers/starter/, ``full_kb`` the directory of the KB
built from the shared Wikidata subset. Shared data is read from ``../shared/data`` (or
``$FACTLINK_SHARED_DATA``) and never copied. The service and worker fixtures (real Redis,
Celery workers, the HTTP app) live in ``service_fixtures.py``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from wikidata_dump import NEWS_WORLD, built_kb, shared_data_dir

from linkers import build_kb, open_kb
from linkers.kb import STARTER_DUMP

pytest_plugins = ("service_fixtures",)

# No test may depend on what an earlier run left in the real home (issue 9: a filled
# ~/.cache/factlink hid that a fresh machine could not build the starter KB). HOME and
# XDG_CACHE_HOME point at one empty directory per session, set before any fixture or test
# starts a process, so every subprocess inherits them too.
SESSION_HOME = Path(tempfile.mkdtemp(prefix="factlink-test-home-"))
os.environ["HOME"] = str(SESSION_HOME)
os.environ["XDG_CACHE_HOME"] = str(SESSION_HOME / ".cache")


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def news_kb(tmp_path_factory):
    """A KB of the sample sentence's world (tests/wikidata_dump.py: NEWS_WORLD), ~0.1 s."""
    return built_kb(tmp_path_factory.mktemp("news-kb"), NEWS_WORLD)


@pytest.fixture(scope="session")
def starter_kb(tmp_path_factory):
    """The starter KB, built the way ``open_kb()`` builds it (into a session cache dir)."""
    if not STARTER_DUMP.is_file():
        pytest.skip(f"the starter KB dump {STARTER_DUMP} is not written yet")
    return open_kb(cache_dir=tmp_path_factory.mktemp("starter-cache"))


@pytest.fixture(scope="session")
def full_kb(tmp_path_factory) -> Path:
    """Directory of the KB of the shared Wikidata subset (134,617 entities, with PageRank);
    built once per session with 2 workers (~6 s)."""
    wikidata = shared_data_dir() / "wikidata"
    dump, pagerank = wikidata / "entities.json.gz", wikidata / "pagerank.tsv.gz"
    if not dump.is_file():
        pytest.skip(f"shared Wikidata subset not present at {wikidata}")
    out = tmp_path_factory.mktemp("full-kb") / "kb"
    build_kb([str(dump)], str(out), popularity=str(pagerank) if pagerank.is_file() else None,
             workers=2, progress=False)
    return out
