"""``linkers.link`` gives the same output whatever the process's str hash seed.

Every Celery worker process and every relink process has its own ``PYTHONHASHSEED`` (str
hashes are randomised per process), so the iteration order of a set of strings differs between
them. Wherever such an order reached an output (which of two readings wins a tie, a float sum
whose last bit decides one), the same article linked in two processes could get two answers:
"San Fernando" in a synthetic 4 KB article went to Q316318 in one process, Q357371 in another.

The test links a corpus (synthetic 4 KB news articles of ``bench.news_corpus`` with a fixed
seed, kore50 and the news suite) on the shared-subset KB in subprocesses under several hash
seeds and compares the exact JSON (top 3 candidates, fact cards, relations; confidences bit for
bit).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from wikidata_dump import shared_data_dir

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ("0", "1", "2", "6", "42")
ARTICLES = 80

LINK_CORPUS = """
import sys
from pathlib import Path
import orjson
from linkers import LinkOptions, link, open_kb
from bench.news_corpus import NewsCorpus

kb_path, articles, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kb = open_kb(kb_path)
corpus = NewsCorpus(kb, seed=13)
docs = [(f"article:{i}", corpus.article(4096), None) for i in range(articles)]
for path in sys.argv[4:]:
    for i, line in enumerate(Path(path).read_bytes().splitlines()):
        if line.strip():
            record = orjson.loads(line)
            docs.append((f"{Path(path).name}:{i}", record["text"], record.get("published_at")))
options = LinkOptions(top_k=3)
with open(out, "wb") as fh:
    for name, text, published_at in docs:
        result = link(text, kb, published_at=published_at, options=options).to_dict()
        fh.write(orjson.dumps({"doc": name, "result": result}, option=orjson.OPT_SORT_KEYS) + b"\\n")
"""


def test_link_output_is_the_same_under_every_hash_seed(full_kb, tmp_path):
    texts = [str(p) for p in sorted((ROOT / "tests" / "news_suite").glob("*.jsonl"))]
    kore50 = shared_data_dir() / "bench" / "kore50.jsonl"
    if kore50.is_file():
        texts.append(str(kore50))
    runs = {}
    for seed in SEEDS:
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = tmp_path / f"seed-{seed}.jsonl"
        runs[seed] = (out, subprocess.Popen(
            [sys.executable, "-c", LINK_CORPUS, str(full_kb), str(ARTICLES), str(out), *texts],
            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True))
    outputs = {}
    for seed, (out, proc) in runs.items():
        _, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr
        outputs[seed] = {row["doc"]: row["result"] for row in map(orjson.loads, out.read_bytes().splitlines())}
    first = outputs[SEEDS[0]]
    assert len(first) >= ARTICLES + 100
    differ = {seed: [doc for doc in first if found.get(doc) != first[doc]]
              for seed, found in outputs.items() if seed != SEEDS[0]}
    assert not any(differ.values()), (
        f"link output depends on PYTHONHASHSEED (compared with seed {SEEDS[0]}): "
        + "; ".join(f"seed {seed}: {docs[:5]} ({len(docs)} documents)" for seed, docs in differ.items() if docs))
