"""The benchmarks still run: the synthetic dump is a valid Wikidata dump that builds, and
``factlink bench linking`` times linking on a tiny corpus. Not a timed test: numbers are not checked."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from linkers import build_kb, link, open_kb

REPO = Path(__file__).resolve().parents[1]
N = 400
# A low QID range keeps the build's QID bitmap small here (it is sized by the largest QID number).
QID_BASE = 1000


def test_synthetic_dump_builds_and_bench_links(tmp_path):
    dump = tmp_path / "synthetic.json.gz"
    # bench/ is a checkout package (not installed): run it the way its README does
    subprocess.run([sys.executable, "-m", "bench.synthetic_dump", "--entities", str(N), "--out", str(dump),
                    "--seed", "3", "--qid-base", str(QID_BASE)], cwd=REPO, check=True, timeout=60,
                   capture_output=True)

    lines = gzip.open(dump, "rb").read().splitlines()
    assert lines[0] == b"[" and lines[-1] == b"]"
    body = lines[1:-1]
    assert len(body) == N
    assert all(line.endswith(b",") for line in body[:-1]) and not body[-1].endswith(b",")
    entities = [orjson.loads(line.rstrip(b",")) for line in body]
    assert {e["id"] for e in entities} == {f"Q{QID_BASE + i}" for i in range(N)}
    assert all(1 <= len(e["aliases"]["en"]) <= 10 for e in entities[50:])
    qualified = [st for e in entities for st in e["claims"].get("P39", []) + e["claims"].get("P108", [])]
    assert any("P580" in st.get("qualifiers", {}) for st in qualified)
    # popular entities have more sitelinks than the tail
    assert len(entities[0]["sitelinks"]) > len(entities[-1]["sitelinks"])

    report = build_kb([str(dump)], str(tmp_path / "kb"), workers=1, progress=False)
    assert report.entities == N and report.malformed == 0
    kb = open_kb(tmp_path / "kb")
    ambiguous = [key for e in entities[50:60] for key in (a["value"] for a in e["aliases"]["en"])
                 if len(kb.lookup(key)) > 1]
    assert ambiguous, "aliases come from a shared pool, so some name several entities"
    assert link(entities[100]["labels"]["en"]["value"] + " said on Monday.", kb).mentions

    # `factlink bench linking` through its own add_parser, as cli.py registers it
    script = ("import argparse, sys; from service import bench_cli; p = argparse.ArgumentParser(); "
              "bench_cli.add_parser(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    out = subprocess.run([sys.executable, "-c", script, "bench", "linking", "--kb", str(tmp_path / "kb"),
                          "--docs", "5", "--no-public", "--articles", "8192:2", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["corpus"] for r in rows] == ["synthetic news paragraphs", "synthetic articles, 8 KB"]
    assert rows[0]["docs"] == 5 and rows[0]["p50_ms"] > 0
    assert rows[1]["docs"] == 2 and rows[1]["avg_chars"] >= 8192 and rows[1]["ms_per_kb"] > 0


def test_bench_linking_again_links_the_same_articles_a_second_time():
    """``--again``: each article row is followed by a row of the same articles linked again,
    the same texts (same size, same mentions), timed apart."""
    from bench import linking
    rows = linking.run(str(open_kb().path), docs=2, public=False, articles=((4096, 2),), again=True)
    assert [r["corpus"] for r in rows] == ["synthetic news paragraphs", "synthetic articles, 4 KB",
                                           "synthetic articles, 4 KB, linked again"]
    first, again = rows[1], rows[2]
    assert again["docs"] == first["docs"] == 2 and again["avg_chars"] == first["avg_chars"] >= 4096
    assert again["mentions_per_doc"] == first["mentions_per_doc"] > 0
    assert again["cpu_p50_ms"] > 0 and again["cpu_ms_per_kb"] > 0


def test_bench_queue_path_cuts_every_request_into_its_steps():
    import pytest
    pytest.importorskip("requests")
    from bench import queue_path
    rows = queue_path.run(requests=3, kb_path=str(open_kb().path))
    steps, total = rows[:-1], rows[-1]
    assert len(steps) == len(queue_path.STEPS) + 1
    assert total["requests"] == 3 and total["timelines"] == 3, "MONITOR saw every step"
    assert all(step["median_ms"] >= 0 for step in steps)


def test_bench_queue_path_counts_each_process_cpu_and_each_script_once_a_request():
    from bench import queue_path
    rows = queue_path.run_cpu(requests=4, kb_path=str(open_kb().path), gap=0.0)
    parts = {row["part"]: row for row in rows}
    assert {"CPU of the API process(es)", "CPU of the worker process(es)",
            "CPU of the Redis process(es)"} <= set(parts)
    assert parts["end to end (client)"]["requests"] == 4
    assert 0 < parts["end to end (client)"]["link_ms_per_request"] < parts["end to end (client)"]["mean_ms"]
    # an uncached annotate: one submission, one start and one end, each a script of workers.jobs
    for script in ("SUBMIT_ONE_SCRIPT", "START_SCRIPT", "DONE_SCRIPT"):
        assert parts[f"Redis: {script}"]["per_request"] == 1.0, script


def test_bench_linking_dated_gives_every_synthetic_text_a_date_of_its_own(monkeypatch):
    """``--dated``: each synthetic paragraph and article is linked as of a date of its own (its
    fact cards are made for that date), the rows say so, and the articles linked again get
    new dates too."""
    from bench import linking
    seen = []
    real_link = linking.link

    def link(text, kb, **kwargs):
        seen.append(kwargs.get("published_at"))
        return real_link(text, kb, **kwargs)

    monkeypatch.setattr(linking, "link", link)
    rows = linking.run(str(open_kb().path), docs=3, public=False, articles=((4096, 2),), again=True,
                       dated=True)
    assert [r["corpus"] for r in rows] == ["synthetic news paragraphs, dated",
                                           "synthetic articles, 4 KB, dated",
                                           "synthetic articles, 4 KB, linked again, dated"]
    assert None not in seen and len(set(seen)) == len(seen)
    with pytest.raises(ValueError):
        linking.run(str(open_kb().path), docs=1, public=False, articles=(), compare_reference=True,
                    dated=True)


def test_bench_linking_times_the_fast_paths_against_their_references(starter_kb):
    from bench.linking import time_against_reference
    texts = ["Emmanuel Macron met Vladimir Putin in Paris on Monday.",
             "NATO said Ukraine would join. Macron agreed."]
    row = time_against_reference(starter_kb, texts, warmup=1)
    assert row["docs"] == 2
    assert row["reference_cpu_p50_ms"] > 0 and row["fast_cpu_p50_ms"] > 0 and row["cpu_speedup"] > 0
    assert row["reference_wall_p50_ms"] > 0 and row["fast_wall_p50_ms"] > 0


def test_bench_faults_runs_and_loses_nothing():
    """``python -m bench.faults`` on a small load (40 jobs, one pool process SIGKILLed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTLINK_")}
    result = subprocess.run([sys.executable, "-m", "bench.faults", "--jobs", "40",
                             "--scenarios", "child-kill", "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    (outcome,) = json.loads(result.stdout)
    assert outcome["submitted"] == 40 and outcome["lost"] == 0
    assert outcome["finished"] + sum(outcome["failed"].values()) == 40


def test_output_digests_find_a_changed_answer(tmp_path, monkeypatch):
    """``bench.outputs`` (the check every speed commit passes) says "same" for the same code and
    names the documents whose answer changed."""
    sys.path.insert(0, str(REPO))
    from bench import outputs

    kb = open_kb()
    docs = [("a", "Macron met Putin in Moscow.", None), ("b", "NATO and the EU met in Paris.", None)]
    monkeypatch.setattr(outputs, "documents", lambda kb: docs)
    monkeypatch.setattr(outputs, "real_kb", lambda: kb)
    saved = tmp_path / "digests.jsonl"
    assert outputs.main(["--write", str(saved)]) == 0
    assert outputs.main(["--check", str(saved)]) == 0
    docs[1] = ("b", "NATO and the EU met in Berlin.", None)
    assert outputs.main(["--check", str(saved)]) == 1


def test_bench_spotting_times_spot_and_the_nil_runs(starter_kb):
    from bench.spotting import time_spotting
    texts = ["Emmanuel Macron met Vladimir Putin in Paris on Monday.",
             "NATO said Ukraine would join. Macron agreed with Acme Widgets Ltd."]
    row = time_spotting(starter_kb, texts, passes=2)
    assert row["texts"] == 2 and row["passes"] == 2
    assert 0 <= row["cpu_min_ms"] <= row["cpu_median_ms"]


def test_profile_prints_where_linking_spends_its_time(capsys):
    sys.path.insert(0, str(REPO))
    from bench import profile

    assert profile.main([str(open_kb().path), "articles", "--rows", "3"]) == 0
    assert "linkers/linker.py" in capsys.readouterr().out


def test_linking_benchmarks_name_the_interpreter_and_the_linker_mode():
    """A figure depends on the CPython build as much as on the code: each row says which."""
    import io

    from bench.report import print_linking_rows
    from linkers import compiled
    out = io.StringIO()
    print_linking_rows([{"bench": "linking", "p50_ms": 1.0}], as_json=True, out=out)
    row = json.loads(out.getvalue())
    assert row["python"] == compiled.interpreter() and row["linker"] == compiled.describe()
    assert row["python"].startswith("CPython ") and os.path.realpath(sys.executable) in row["python"]
    out = io.StringIO()
    print_linking_rows([{"bench": "linking", "p50_ms": 1.0}], out=out)
    assert out.getvalue().splitlines()[:2] == [f"python: {compiled.interpreter()}",
                                              f"linker: {compiled.describe()}"]


def test_bench_instructions_says_what_is_missing_without_valgrind(tmp_path):
    """No valgrind on the PATH: exit 2 and the package to install, not a traceback."""
    env = dict(os.environ, PATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "bench.instructions", "--public-per-set", "0"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "valgrind is not installed" in out.stderr and "Traceback" not in out.stderr


def test_bench_instructions_counts_each_pass_apart():
    import shutil

    import pytest
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        pytest.skip("valgrind is not installed")
    from bench import instructions
    rows = instructions.run(str(open_kb().path), articles=((4096, 1),), public=0)
    assert [r["corpus"] for r in rows] == ["synthetic articles, 4 KB", "synthetic articles, 4 KB, linked again"]
    assert all(r["docs"] == 1 and r["avg_chars"] >= 4096 and r["minstr_per_doc"] > 1 for r in rows)


def test_bench_compare_pairs_two_checkouts_in_blocks(tmp_path):
    """``bench.compare``: each block runs A, B, B, A on the same articles, each child importing
    ``linkers`` from its own checkout; a checkout without ``linkers/`` is a usage error."""
    kb = str(open_kb().path)
    out = subprocess.run([sys.executable, "-m", "bench.compare", str(REPO), str(REPO), "--kb", kb,
                          "--articles", "600:2", "--rounds", "2", "--repeats", "2", "--json"],
                         cwd=REPO, check=True, capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["blocks"]) == 2 and result["articles"] == 2
    assert all(block["a_ms"] > 0 and block["b_ms"] > 0 for block in result["blocks"])
    bad = subprocess.run([sys.executable, "-m", "bench.compare", str(REPO), str(tmp_path), "--kb", kb],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no factlink checkout" in bad.stderr
