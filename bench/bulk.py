"""Bulk re-linking throughput: ``factlink relink IN --out OUT --local`` with 1 and 2 worker processes.

    python -m bench.bulk [--docs 2000] [--kb DIR] [--json]

Articles are synthetic news paragraphs (``bench.news_corpus``) on the Wikidata-subset KB of
``bench.linking`` (or ``--kb``). Each run starts from an empty output file (relink resumes from
its output, so a leftover file would make it skip work). Skipped with a message when
``service/relink.py`` is not there.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]


def relink_available() -> bool:
    return importlib.util.find_spec("service.relink") is not None


def run(docs: int = 2000, kb_path: str | None = None, worker_counts: tuple[int, ...] = (1, 2),
        timeout: float = 600.0) -> list[dict]:
    if not relink_available():
        return [{"bench": "bulk", "skipped": "service/relink.py is not there yet"}]
    from linkers import open_kb

    from .linking import real_kb
    from .news_corpus import NewsCorpus
    kb = open_kb(kb_path) if kb_path else (real_kb() or open_kb())
    rows = []
    with tempfile.TemporaryDirectory(prefix="factlink-bench-bulk-") as tmp:
        articles = Path(tmp) / "articles.jsonl"
        with open(articles, "wb") as fh:
            for i, text in enumerate(NewsCorpus(kb, seed=13).documents(docs)):
                fh.write(orjson.dumps({"id": f"a{i}", "text": text}) + b"\n")
        for workers in worker_counts:
            out = Path(tmp) / f"out-{workers}.jsonl"
            cmd = [sys.executable, "-m", "service.cli", "relink", str(articles), "--out", str(out),
                   "--local", "--workers", str(workers), "--kb", str(kb.path), "--quiet"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
            seconds = time.perf_counter() - t0
            lines = out.read_bytes().count(b"\n") if out.exists() else 0
            row = {"bench": "bulk", "mode": "relink --local", "workers": workers, "docs": docs,
                   "written": lines, "seconds": round(seconds, 2),
                   "docs_per_s": round(lines / seconds, 1) if seconds else 0.0}
            if proc.returncode != 0:
                row["error"] = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk", description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--kb", help="KB directory (default: the Wikidata-subset KB)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.docs, args.kb)
    from .report import print_rows
    print_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
