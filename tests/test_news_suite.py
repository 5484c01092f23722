"""The news test suite: invented news sentences with the entities a news reader means, in the
layout of ``shared/data/bench/*.jsonl`` (so ``factlink eval tests/news_suite/*.jsonl`` scores
them beside the public sets), on the KB built from the shared Wikidata subset.

Each sentence has a ``kind`` from issue 10: 1 close readings of a clear name, 2 demonyms,
3 metonymy (``readings_demonyms_metonymy.jsonl``); 4 short forms, 5 spans, 6 propagation
(``spans_and_short_forms.jsonl``).
"""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from linkers import open_kb
from service.corecli import evaluate_file

SUITE = Path(__file__).parent / "news_suite"
FILES = sorted(SUITE.glob("*.jsonl"))
# In-KB F1 each file must keep (measured 2026-12-06 on the shared-subset KB with linker 0.12:
# readings, demonyms and metonymy 0.989); a floor a little under what it scores, so that a
# change that loses a case or two of a kind shows.
FLOORS = {"readings_demonyms_metonymy.jsonl": 0.95}


def documents(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_every_file_has_the_benchmark_layout_with_exact_offsets():
    assert FILES, f"no suite files in {SUITE}"
    for path in FILES:
        ids = set()
        for doc in documents(path):
            assert doc["id"] not in ids and isinstance(doc["text"], str) and doc["mentions"]
            ids.add(doc["id"])
            assert doc["kind"] in range(1, 7)
            for m in doc["mentions"]:
                assert doc["text"][m["start"]:m["end"]] == m["surface"], (path.name, doc["id"], m)
                assert m["qid"] is None or m["qid"].startswith("Q")


def test_readings_demonyms_and_metonymy_have_thirty_sentences_and_every_kind():
    docs = documents(SUITE / "readings_demonyms_metonymy.jsonl")
    kinds = [d["kind"] for d in docs]
    assert len(docs) >= 30 and all(kinds.count(k) >= 10 for k in (1, 2, 3))


def test_the_whole_suite_has_sixty_sentences_of_the_six_kinds():
    docs = [d for path in FILES for d in documents(path)]
    if not {4, 5, 6} & {d["kind"] for d in docs}:
        pytest.skip("the sentences of kinds 4-6 (spans_and_short_forms.jsonl) are not on this branch yet")
    assert len(docs) >= 60 and {d["kind"] for d in docs} == {1, 2, 3, 4, 5, 6}


def test_every_qid_of_the_suite_is_a_real_entity_of_the_shared_subset(full_kb):
    kb = open_kb(full_kb)
    missing = [(path.name, d["id"], q) for path in FILES for d in documents(path)
               for m in d["mentions"] for q in [m["qid"]] + [a.get("qid") for a in m.get("alternatives", ())]
               if q and q not in kb]
    assert missing == []


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_the_suite_scores_through_factlink_eval(path, full_kb):
    report = evaluate_file(str(path), open_kb(full_kb))
    assert report["kb_coverage"] == 1.0         # every expected entity is in the KB
    assert report["in_kb"]["f1"] >= FLOORS.get(path.name, 0.0), report["in_kb"]
