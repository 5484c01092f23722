"""``factlink bench [linking|http|queue|bulk|kb|all] [--json]``: run the benchmarks in ``bench/``, print their tables.

The benchmarks live in the repository's ``bench/`` package (not installed with the service), so
this command works from a checkout; each part is also runnable alone (``python -m bench.linking``).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import corecli

PARTS = ("linking", "http", "queue", "bulk", "kb")


def _bench(module: str):
    """Import ``bench.<module>``, from the checkout this file sits in when not on the path."""
    try:
        return importlib.import_module(f"bench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", f"bench.{module}"):
            raise
        repo = Path(__file__).resolve().parents[1]
        if not (repo / "bench" / "__init__.py").is_file():
            raise SystemExit("factlink bench: the bench/ package is not here (run it from a checkout)")
        sys.path.insert(0, str(repo))
        return importlib.import_module(f"bench.{module}")


def cmd_bench(args: argparse.Namespace) -> int:
    parts = PARTS if args.part == "all" else (args.part,)
    rows: list[dict] = []
    for part in parts:
        if part == "linking":
            linking = _bench("linking")
            try:
                articles = linking.ARTICLES if args.articles is None else linking.parse_articles(args.articles)
            except argparse.ArgumentTypeError as exc:
                sys.stderr.write(f"factlink bench: {exc}\n")
                return corecli.EXIT_USAGE
            rows += linking.run(args.kb, args.docs or 200, public=not args.no_public, articles=articles)
        elif part == "http":
            rows += _bench("http").run(args.url, args.kb, args.requests, args.rate,
                                       time_limit=args.time_limit, saturate_seconds=args.saturate)
        elif part == "queue":
            rows += _bench("queue_path").run(args.requests_queue, kb_path=args.kb)
        elif part == "bulk":
            rows += _bench("bulk").run(args.docs or 2000, args.kb, celery_docs=args.celery_docs)
        elif part == "kb":
            rows += _bench("kb_scale").run([int(s) for s in args.sizes.split(",")], docs=args.docs or 100)
    _bench("report").print_rows(rows, as_json=args.json)
    return corecli.EXIT_OK


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="benchmarks: linking speed, HTTP, queue path, bulk relink, KB scale",
                              description=__doc__.split("\n")[0])
    p.add_argument("part", nargs="?", default="linking", choices=PARTS + ("all",))
    p.add_argument("--json", action="store_true", help="JSON Lines, one object per row")
    p.add_argument("--kb", help="KB directory (default: a KB of ../shared/data/wikidata, built once)")
    p.add_argument("--docs", type=int,
                   help="synthetic news documents (default: linking 200, bulk 2000, kb 100)")
    p.add_argument("--no-public", action="store_true",
                   help="linking: skip the public benchmark texts (and the KB they need)")
    p.add_argument("--articles", help="linking: long synthetic articles as BYTES:COUNT,... "
                                      "('' for none; default 4096:20,32768:5,131072:3)")
    p.add_argument("--sizes", default="100000",
                   help="kb: comma list of entity counts (1000000: ~1.5 min, 10000000: ~12 min with the "
                        "dump's generation, on 2 cores)")
    p.add_argument("--url", help="http: a running factlink API instead of starting one")
    p.add_argument("--requests", type=int, default=2000, help="http: requests per cached scenario")
    p.add_argument("--rate", type=float, default=500.0, help="http: target requests/s (open loop)")
    p.add_argument("--time-limit", type=float, default=30.0, help="http: seconds per scenario at most")
    p.add_argument("--saturate", type=float, default=5.0,
                   help="http: seconds per closed-loop saturation scenario (wrk if installed); 0: skip")
    p.add_argument("--requests-queue", type=int, default=40,
                   help="queue: sequential uncached annotates cut into steps")
    p.add_argument("--celery-docs", type=int, default=10_000,
                   help="bulk: articles relinked through 2 Celery workers, with kills; 0: skip")
    p.set_defaults(func=cmd_bench)
