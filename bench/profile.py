"""Where linking spends its time: cProfile of ``linkers.link`` over synthetic 4 KB articles or
the public benchmark texts, sorted by own time and by cumulative time.

    python -m bench.profile KB_DIR [articles|public] [--rows 35]

Profiles inflate call-heavy code; use them to find hot spots, and ``bench.linking`` (CPU time,
no profiler) to measure a change. cProfile sees no function of a module compiled by setup.py's
Cython build, so where linking runs compiled the profile is of the pure-Python source (rerun in
a subprocess with ``FACTLINK_PURE_PYTHON=1``).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
from pathlib import Path

from linkers import compiled, link, open_kb

from .linking import benchmark_texts
from .news_corpus import NewsCorpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("kb")
    parser.add_argument("corpus", nargs="?", choices=("articles", "public"), default="articles")
    parser.add_argument("--rows", type=int, default=35)
    args = parser.parse_args(argv)
    if compiled.loaded_compiled():
        print(f"linker: {compiled.describe()}; profiling its pure-Python source instead", flush=True)
        run = subprocess.run([sys.executable, "-m", "bench.profile",
                              *(sys.argv[1:] if argv is None else argv)],
                             cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                             env=dict(os.environ, **{compiled.PURE_ENV: "1"}))
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        return run.returncode
    kb = open_kb(args.kb)
    if args.corpus == "articles":
        corpus = NewsCorpus(kb, seed=7)
        texts = [corpus.article(4096) for _ in range(20)]
    else:
        texts = benchmark_texts()
    for text in texts[:5]:          # warm the caches the way traffic does
        link(text, kb)
    profile = cProfile.Profile()
    profile.enable()
    for text in texts:
        link(text, kb)
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.rows)
    stats.sort_stats("cumtime").print_stats(args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
