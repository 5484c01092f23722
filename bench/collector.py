"""The garbage collector of a process that links many texts: Python's default against the
service's setting (``workers.process.collect_less_for_linking``).

    python -m bench.collector [--articles 300] [--rounds 3] [--kb DIR] [--json]

A Celery worker process and a relink pool process link text after text for hours, and the KB's
per-process memos grow with every new entity they meet (~200k tracked objects by 1,000 4 KB
articles). With Python's default threshold (700 allocations) the collector runs ~1,200 times in
1,000 articles and walks all of them in every full collection. Each round links the same
``--articles`` synthetic 4 KB articles (``bench.news_corpus``), one after another, in a fresh
process per setting, alternating the two; it reports the CPU per article (the mean: collection
pauses fall on a few texts, so a median would hide them) and the collector's share of it
(``gc.callbacks``). Output is the same either way: the collector frees only unreachable objects.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time

from .report import print_rows

SETTINGS = ("default", "service")


def one_process(setting: str, articles: int, kb_path: str | None) -> dict:
    """Link ``articles`` 4 KB articles in this process with the collector as ``setting`` says."""
    from linkers import link, open_kb

    from .linking import real_kb
    from .news_corpus import NewsCorpus
    kb = open_kb(kb_path) if kb_path else real_kb()
    corpus = NewsCorpus(kb, seed=17)
    texts = [corpus.article(4096) for _ in range(articles)]
    if setting == "service":
        from workers.process import collect_less_for_linking
        collect_less_for_linking()
    collecting, started = [0.0], [0.0]

    def timed(phase: str, _info: dict) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            collecting[0] += time.process_time() - started[0]

    gc.callbacks.append(timed)
    begin = time.process_time()
    for text in texts:
        link(text, kb)
    cpu = time.process_time() - begin
    gc.callbacks.remove(timed)
    return {"cpu_ms_per_article": round(1000 * cpu / articles, 3),
            "gc_share": round(collecting[0] / cpu, 4), "collections": sum(
                generation["collections"] for generation in gc.get_stats())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collector", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kb", help="KB directory (default: the Wikidata-subset KB)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", choices=SETTINGS, help=argparse.SUPPRESS)   # a round's process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_process(args.one, args.articles, args.kb)))
        return 0
    runs: dict[str, list[dict]] = {setting: [] for setting in SETTINGS}
    for _ in range(args.rounds):
        for setting in SETTINGS:
            command = [sys.executable, "-m", "bench.collector", "--one", setting,
                       "--articles", str(args.articles)] + (["--kb", args.kb] if args.kb else [])
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs[setting].append(json.loads(done.stdout.splitlines()[-1]))
    rows = []
    for setting in SETTINGS:
        cpu = [run["cpu_ms_per_article"] for run in runs[setting]]
        share = [run["gc_share"] for run in runs[setting]]
        rows.append({"bench": "gc", "collector": setting, "articles": args.articles,
                     "rounds": args.rounds, "cpu_ms_per_article": statistics.median(cpu),
                     "gc_share": statistics.median(share), "rounds_cpu_ms": cpu,
                     "rounds_gc_share": share})
    rows[1]["default_over_service"] = round(rows[0]["cpu_ms_per_article"]
                                            / rows[1]["cpu_ms_per_article"], 3)
    print_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
