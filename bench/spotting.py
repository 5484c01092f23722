"""Spotting speed: CPU ms per text of ``spot`` and the NIL runs after it (``nil_spans``), the
part of linking that cuts names out of a text, without ranking or fact cards.

    python -m bench.spotting [--kb DIR] [--passes 15]

Each corpus is spotted ``--passes`` times over (the public texts a third as often); the
least disturbed pass is the figure to read on a shared machine, the median beside it. The
KB's memos are warm after the first pass, as in a worker that has seen the same names.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from linkers import open_kb
from linkers.spotter import nil_spans, spot

from .data import one_core
from .linking import benchmark_texts, real_kb
from .news_corpus import NewsCorpus

ARTICLES = 20


def time_spotting(kb, texts: list[str], passes: int) -> dict:
    for text in texts:
        nil_spans(text, spot(text, kb))
    per_text = []
    for _ in range(passes):
        c0 = time.process_time()
        for text in texts:
            nil_spans(text, spot(text, kb))
        per_text.append((time.process_time() - c0) * 1000 / len(texts))
    return {"texts": len(texts), "passes": passes, "cpu_min_ms": round(min(per_text), 3),
            "cpu_median_ms": round(statistics.median(per_text), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spotting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", help="KB directory (default: the shared-subset KB)")
    parser.add_argument("--passes", type=int, default=15)
    args = parser.parse_args(argv)
    kb = open_kb(args.kb) if args.kb else real_kb()
    if kb is None:
        sys.stderr.write("no KB: pass --kb, or put the shared data next to the repository\n")
        return 2
    corpus = NewsCorpus(kb, seed=7)
    for name, texts, passes in (("synthetic articles, 4 KB", [corpus.article(4096) for _ in range(ARTICLES)], args.passes),
                                ("public benchmark texts", benchmark_texts(), max(1, args.passes // 3))):
        if texts:
            with one_core():
                row = time_spotting(kb, texts, passes)
            print(f"{name:26s} {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
