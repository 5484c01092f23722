"""Linking speed: median and p90 ms/doc of ``linkers.link`` (fact cards included) on one core.

    python -m bench.linking [--kb DIR] [--docs 200] [--articles 4096:20,32768:5,131072:3] [--json]
    python -m bench.linking --compare-reference     # fast paths vs their references, one run
    python -m bench.linking --again                 # each article row, then its articles again
    python -m bench.linking --dated                 # synthetic texts each with a date of its own

Three corpora: (a) the public benchmark texts in ``../shared/data/bench/*.jsonl`` with a KB built
from ``../shared/data/wikidata`` (built once into ``--real-kb``, reused after), when that data
is present; (b) synthetic news paragraphs (``bench.news_corpus``) written from the KB under test;
(c) synthetic articles of 4, 32 and 128 KB from the same KB, whose ``ms_per_kb`` shows whether
linking time stays linear in the length of a text.

``--again`` follows each article row with the same articles linked a second time ("linked
again"). The first pass meets most of each article's entities for the first time: their records
are decoded, their word sets, kinds and fact cards computed and memoised per process. The second
pass does only the work each text needs. The two rows split a 4 KB article's time between what
a KB could hold precomputed and what a faster linking core must remove (``bench/README.md``,
"First-time work per entity").

``--dated`` gives each synthetic paragraph and article a publication date of its own (a day
apart), as news comes: a fact card is true as of the article's date, so every article's cards
are made for its date (undated, a card is made once per entity and kept). The public texts
carry no dates in either mode.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path

import orjson

from linkers import LinkOptions, build_kb, link, open_kb
from linkers.fastpath import reference_paths
from linkers.kb.build import BUILD_LOGIC

from .data import bench_texts_dir, latency_summary, one_core, wikidata_dir
from .news_corpus import NewsCorpus

# keyed by the build logic: a KB cached by an older build is rebuilt, not benchmarked
DEFAULT_REAL_KB = Path(os.environ.get("TMPDIR", "/tmp")) / "factlink-bench" / f"wikidata-kb-{BUILD_LOGIC}"
WARMUP_DOCS = 5
# (bytes, articles) of the long-article rows: newsroom drafts and archive pages, up to a long read
ARTICLES = ((4096, 20), (32768, 5), (131072, 3))


def parse_articles(spec: str) -> tuple[tuple[int, int], ...]:
    """``"4096:20,32768:5"`` -> ((4096, 20), (32768, 5)); ``""`` -> no long articles."""
    try:
        return tuple((int(size), int(count)) for size, count in
                     (part.split(":") for part in spec.split(",") if part.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--articles wants BYTES:COUNT[,BYTES:COUNT...], not {spec!r}")


def time_linking(kb, texts: list[str], options: LinkOptions | None = None, warmup: int = WARMUP_DOCS,
                 dates: list[str] | None = None) -> dict:
    """ms/doc of ``link`` over ``texts`` after a short warm-up (fills caches the way traffic does);
    ``dates``: each text's ``published_at`` (the warm-up's texts get dates of their own, long
    before)."""
    options = options or LinkOptions()
    for n, text in enumerate(texts[:warmup]):
        link(text, kb, options=options, published_at=_date(n, before=dates[0]) if dates else None)
    ms, cpu_ms, mentions = [], [], 0
    for n, text in enumerate(texts):
        published_at = dates[n] if dates else None
        t0, c0 = time.perf_counter(), time.process_time()
        result = link(text, kb, options=options, published_at=published_at)
        ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - c0) * 1000)
        mentions += len(result.mentions)
    row = latency_summary(ms)
    # CPU time of this process only: on a shared machine the wall-clock columns also count the
    # time other processes held the core; this one does not
    row["cpu_p50_ms"] = latency_summary(cpu_ms)["p50_ms"]
    row.update(docs=len(texts), mentions_per_doc=round(mentions / max(1, len(texts)), 1),
               avg_chars=round(sum(map(len, texts)) / max(1, len(texts))))
    return row


def _date(n: int, before: str | None = None) -> str:
    """The ``n``-th of a run of publication dates, a day apart; ``before``: of a run that ends
    ~27 years before that date (the warm-up's, apart from every timed text's)."""
    start = date(2020, 1, 1) if before is None else date.fromisoformat(before) - timedelta(days=10_000)
    return (start + timedelta(days=n)).isoformat()


def dates_for(texts: list[str], days) -> list[str]:
    """A date for each text, the next ones of ``days`` (an ``itertools.count``: each text of a
    run has its own)."""
    return [_date(next(days)) for _ in texts]


def time_against_reference(kb, texts: list[str], options: LinkOptions | None = None,
                           warmup: int = WARMUP_DOCS) -> dict:
    """ms/doc of the fast paths and of their pure-Python references (``linkers.fastpath``),
    each text linked both ways back to back, the order alternating from text to text, so
    that a busy machine and the caches a first link fills weigh on both alike. Wall time and
    this process's CPU time (steadier on a shared machine: waiting for a core is not in it)."""
    options = options or LinkOptions()
    for text in texts[:warmup]:
        link(text, kb, options=options)
        with reference_paths():
            link(text, kb, options=options)
    wall: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for n, text in enumerate(texts):
        for reference in ((False, True) if n % 2 else (True, False)):
            with reference_paths() if reference else nullcontext():
                t0, c0 = time.perf_counter(), time.process_time()
                link(text, kb, options=options)
                cpu[reference].append((time.process_time() - c0) * 1000)
                wall[reference].append((time.perf_counter() - t0) * 1000)
    row = {"docs": len(texts), "avg_chars": round(sum(map(len, texts)) / max(1, len(texts)))}
    for name, ms in (("wall", wall), ("cpu", cpu)):
        ref, fast = statistics.median(ms[True]), statistics.median(ms[False])
        row.update({f"reference_{name}_p50_ms": round(ref, 3), f"fast_{name}_p50_ms": round(fast, 3),
                    f"{name}_speedup": round(ref / fast, 2) if fast else None})
    return row


def benchmark_texts(limit_per_file: int | None = None) -> list[str]:
    texts = []
    for path in sorted(bench_texts_dir().glob("*.jsonl")):
        with open(path, "rb") as fh:
            for i, line in enumerate(fh):
                if limit_per_file is not None and i >= limit_per_file:
                    break
                if line.strip():
                    texts.append(orjson.loads(line)["text"])
    return texts


def real_kb(path: Path = DEFAULT_REAL_KB):
    """The KB of the shared Wikidata subset (+PageRank), built on first use; None without the data."""
    source = wikidata_dir() / "entities.json.gz"
    if not source.is_file():
        return None
    if not (path / "meta.json").is_file():
        popularity = wikidata_dir() / "pagerank.tsv.gz"
        sys.stderr.write(f"building the Wikidata-subset KB into {path} (once)...\n")
        build_kb([str(source)], str(path), popularity=str(popularity) if popularity.is_file() else None,
                 workers=os.cpu_count(), progress=False)
    return open_kb(str(path))


def run(kb_path: str | None = None, docs: int = 200, real_kb_path: Path = DEFAULT_REAL_KB,
        limit_per_file: int | None = None, public: bool = True,
        articles: tuple[tuple[int, int], ...] = ARTICLES, compare_reference: bool = False,
        again: bool = False, dated: bool = False) -> list[dict]:
    """Rows: public texts on the real KB (when present), synthetic news and articles on
    ``kb_path`` (or the real KB). ``compare_reference``: each row times the fast paths against
    their pure-Python references in the same run instead (``time_against_reference``).
    ``again``: each article row is followed by the same articles linked a second time.
    ``dated``: every synthetic text has a date of its own (``--dated``)."""
    if dated and compare_reference:
        raise ValueError("--dated times linking as news comes; --compare-reference takes no dates")
    timed = time_against_reference if compare_reference else time_linking
    rows = []
    real = real_kb(real_kb_path) if public or not kb_path else None
    texts = benchmark_texts(limit_per_file) if real is not None else []
    kb = open_kb(kb_path) if kb_path else (real or open_kb())
    corpus = NewsCorpus(kb)
    news = corpus.documents(docs)
    long_reads = [(size, [corpus.article(size) for _ in range(count)]) for size, count in articles]
    with one_core() as cpu:
        if texts:
            rows.append({"bench": "linking", "corpus": "public benchmark texts", "kb": real.version,
                         "cpu": cpu, **timed(real, texts)})
        dated_suffix = ", dated" if dated else ""
        days = itertools.count()        # every synthetic text of the run has its own date
        rows.append({"bench": "linking", "corpus": f"synthetic news paragraphs{dated_suffix}",
                     "kb": kb.version, "cpu": cpu,
                     **(time_linking(kb, news, dates=dates_for(news, days)) if dated else timed(kb, news))})
        for size, pieces in long_reads:
            if dated:
                passes = [(dated_suffix, time_linking(kb, pieces, warmup=1, dates=dates_for(pieces, days)))]
            else:
                passes = [("", timed(kb, pieces, warmup=1))]
            if again and not compare_reference:
                # linked again on new dates when dated: the cards are made again, as for new news
                passes.append((f", linked again{dated_suffix}",
                               time_linking(kb, pieces, warmup=0,
                                            dates=dates_for(pieces, days) if dated else None)))
            for suffix, row in passes:
                if not compare_reference:
                    row["ms_per_kb"] = round(row["p50_ms"] / (row["avg_chars"] / 1024), 2)
                    row["cpu_ms_per_kb"] = round(row["cpu_p50_ms"] / (row["avg_chars"] / 1024), 2)
                rows.append({"bench": "linking", "corpus": f"synthetic articles, {size // 1024} KB{suffix}",
                             "kb": kb.version, "cpu": cpu, **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linking", description=__doc__.split("\n")[0])
    parser.add_argument("--kb", help="KB for the synthetic news corpus (default: the Wikidata-subset KB)")
    parser.add_argument("--docs", type=int, default=200, help="synthetic news paragraphs")
    parser.add_argument("--real-kb", type=Path, default=DEFAULT_REAL_KB)
    parser.add_argument("--no-public", action="store_true", help="skip the public benchmark texts")
    parser.add_argument("--articles", type=parse_articles, default=ARTICLES,
                        help="long synthetic articles, BYTES:COUNT,... ('' for none; default 4096:20,32768:5,131072:3)")
    parser.add_argument("--compare-reference", action="store_true",
                        help="time the fast paths against their pure-Python references, text by text")
    parser.add_argument("--again", action="store_true",
                        help="follow each article row with the same articles linked a second time "
                             "(without the first-time work per entity)")
    parser.add_argument("--dated", action="store_true",
                        help="give each synthetic paragraph and article a publication date of its own "
                             "(its fact cards are made for that date)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.dated and args.compare_reference:
        parser.error("--dated and --compare-reference do not go together")
    rows = run(args.kb, args.docs, args.real_kb, public=not args.no_public, articles=args.articles,
               compare_reference=args.compare_reference, again=args.again, dated=args.dated)
    from .report import print_linking_rows
    print_linking_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
