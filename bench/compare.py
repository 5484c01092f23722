"""Two checkouts' linking time in one run, paired so that a shared machine's noise cancels.

    python -m bench.compare CHECKOUT_A CHECKOUT_B [--rounds 5] [--kb DIR] [--articles 4096:20]
                            [--repeats 7] [--json]

Each checkout links the same synthetic articles (``bench.news_corpus``, a fixed seed, made once
here and handed to both) in a child process of its own, which imports ``linkers`` from that
checkout (its compiled modules, if built there). The child links a warm-up set, then the
articles ``--repeats`` times over, and reports the least CPU time (``time.process_time``) of a
repeat, per article. Children run in blocks A B B A: neither checkout always runs first (the
first of a pair tended to run slower), and both in a block meet the machine in the same state.
Printed: each block's two figures and their ratio B/A, then the median ratio.

Why the least of the repeats: on the shared 2-core machine the p50 of ``bench.linking`` moved
from 6.4 to 12.4 ms for the same checkout within minutes, and 18 alternating rounds of it could
not tell apart two checkouts whose instruction counts differ by 9% (``bench.instructions``). A
repeat taken when the machine is busy is slower, never faster, so the least of several is the
steadiest figure; in paired blocks the ratio of those told the same two apart in every block.
Fact cards are included, as in ``bench.linking``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .linking import parse_articles

WARMUP = 30

#: run in each checkout: ``linkers`` from there, the texts from the parent
CHILD = """
import json, sys, time
from linkers import link, open_kb
kb_path, texts_path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(texts_path))
kb = open_kb(kb_path)
for text in data["warmup"] + data["texts"]:
    link(text, kb)
times = []
for _ in range(repeats):
    started = time.process_time()
    for text in data["texts"]:
        link(text, kb)
    times.append((time.process_time() - started) / len(data["texts"]) * 1000)
print(json.dumps(times))
"""


def _child(checkout: Path, kb: str, texts_path: str, repeats: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", CHILD, kb, texts_path, str(repeats)], cwd=checkout,
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(a: Path, b: Path, kb: str, size: int, count: int, rounds: int, repeats: int) -> dict:
    from linkers import open_kb

    from .news_corpus import NewsCorpus
    corpus = NewsCorpus(open_kb(kb), seed=5)
    data = {"warmup": [corpus.article(size) for _ in range(WARMUP)],
            "texts": [corpus.article(size) for _ in range(count)]}
    blocks = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(data, f)
    try:
        for _ in range(rounds):
            first_a = _child(a, kb, f.name, repeats)
            first_b = _child(b, kb, f.name, repeats)
            second_b = _child(b, kb, f.name, repeats)
            second_a = _child(a, kb, f.name, repeats)
            ms_a = (min(first_a) + min(second_a)) / 2
            ms_b = (min(first_b) + min(second_b)) / 2
            blocks.append({"a_ms": round(ms_a, 3), "b_ms": round(ms_b, 3), "ratio": round(ms_b / ms_a, 3)})
    finally:
        os.unlink(f.name)
    return {"a": str(a), "b": str(b), "chars": size, "articles": count, "repeats": repeats,
            "blocks": blocks, "median_ratio": round(statistics.median(x["ratio"] for x in blocks), 3),
            "median_a_ms": round(statistics.median(x["a_ms"] for x in blocks), 3),
            "median_b_ms": round(statistics.median(x["b_ms"] for x in blocks), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="the checkout to compare against")
    parser.add_argument("b", type=Path, help="the checkout compared")
    parser.add_argument("--kb", required=True, help="KB directory both checkouts open")
    parser.add_argument("--articles", default="4096:20", help="SIZE:COUNT of synthetic articles")
    parser.add_argument("--rounds", type=int, default=5, help="blocks of A B B A")
    parser.add_argument("--repeats", type=int, default=7, help="passes over the articles per child")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        articles = parse_articles(args.articles)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if len(articles) != 1 or articles[0][0] < 1 or articles[0][1] < 1:
        parser.error(f"--articles wants one SIZE:COUNT, both at least 1, not {args.articles!r}")
    ((size, count),) = articles
    for checkout in (args.a, args.b):
        if not (checkout / "linkers").is_dir():
            parser.error(f"{checkout} is no factlink checkout (no linkers/)")
    if args.rounds < 1 or args.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1")
    result = run(args.a.resolve(), args.b.resolve(), args.kb, size, count, args.rounds, args.repeats)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['chars']}-char articles x {result['articles']}, least of {result['repeats']} "
          f"passes, ms of CPU an article; B = {result['b']}, A = {result['a']}")
    for n, block in enumerate(result["blocks"], 1):
        print(f"block {n}  A {block['a_ms']:.3f}  B {block['b_ms']:.3f}  B/A {block['ratio']:.3f}")
    print(f"median  A {result['median_a_ms']:.3f}  B {result['median_b_ms']:.3f}  "
          f"B/A {result['median_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
