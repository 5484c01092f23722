"""Instructions per linked document, counted by valgrind's callgrind: linking's CPU work in a
number that does not move with the machine's load.

    python -m bench.instructions [--kb DIR] [--articles 4096:5,32768:1] [--public-per-set 20] [--json]

On this shared machine the CPU time of the same run moves 10-15% from one run to the next, so
a change worth 1-5% needs many alternating rounds to show (``bench.linking``); the count of
instructions moves ~0.2% (addresses, and so some hashes, change from run to run). For each
``--articles`` size, that many synthetic articles (``bench.news_corpus``) are linked after a
warm-up on five others, then linked again: "first pass" (most of their entities are met for
the first time: records decoded, word sets and fact cards computed and memoised) and "linked
again" (the work each text needs). ``--public-per-set`` links the first N texts of each public
benchmark set the same two ways, on the KB of the shared Wikidata subset. Fact cards are
included, as in ``bench.linking``. Each pass also counts its share of the two
``callgrind_control`` calls around it (~0.45-0.5 million instructions a pass, the same in
every checkout: it cancels in a comparison).

An instruction is not a unit of time (a cache miss costs more than an add): use the count to
compare two versions of the code on the same texts, and ``bench.linking`` for the time. To
compare a change: run it in each checkout (``PYTHONPATH=CHECKOUT python -m bench.instructions``).
Needs valgrind (Debian: ``apt-get install valgrind``); without it the command says so and
exits 2. Under callgrind Python runs ~50x slower: the defaults take ~1-2 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .linking import WARMUP_DOCS, benchmark_texts, parse_articles, real_kb

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ARTICLES = ((4096, 5), (32768, 1))
DEFAULT_PUBLIC = 20         # texts of each public set
META = "passes.json"        # what each labelled pass linked, written by the child


class NoValgrind(RuntimeError):
    pass


def _control(*args: str) -> None:
    """Ask the callgrind instrumenting this process to do something (zero or dump its counts)."""
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def _child(kb_path: str | None, articles: tuple[tuple[int, int], ...], public: int, meta: Path) -> None:
    """Runs under callgrind: each pass between a zero and a dump labelled ``p<n>`` (callgrind
    keeps a label's first word only); what each pass linked is written to ``meta``."""
    from linkers import link, open_kb

    from .news_corpus import NewsCorpus

    kb = open_kb(kb_path) if kb_path else (real_kb() or open_kb())
    corpus = NewsCorpus(kb)
    rows = [(f"synthetic articles, {size // 1024} KB", kb, [corpus.article(size) for _ in range(count)])
            for size, count in articles]
    real = real_kb() if public else None
    if real is not None:
        rows.insert(0, ("public benchmark texts", real, benchmark_texts(limit_per_file=public)))
    for warm in [corpus.article(4096) for _ in range(WARMUP_DOCS)]:
        link(warm, kb)
    passes = {}
    _control("--instr=on")
    for name, row_kb, texts in rows:
        for suffix in ("", ", linked again"):
            label = f"p{len(passes)}"
            passes[label] = {"corpus": name + suffix, "docs": len(texts), "chars": sum(map(len, texts))}
            _control("--zero")
            for text in texts:
                link(text, row_kb)
            _control(f"--dump={label}")
    meta.write_text(json.dumps(passes))


def _read_dumps(folder: Path) -> list[dict]:
    passes = json.loads((folder / META).read_text())
    rows = []
    for path in folder.glob("callgrind.*"):
        trigger = summary = None
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("desc: Trigger: dump "):
                    trigger = line[len("desc: Trigger: dump "):].strip()
                elif line.startswith("summary:"):
                    summary = int(line.split()[1])
        if trigger not in passes or summary is None:
            continue            # the dump at exit
        done = passes[trigger]
        docs, chars = done["docs"], done["chars"]
        rows.append({"bench": "instructions", "corpus": done["corpus"], "docs": docs,
                     "avg_chars": round(chars / max(1, docs)),
                     "minstr_per_doc": round(summary / max(1, docs) / 1e6, 3),
                     "minstr_per_kb": round(summary / max(1, chars) * 1024 / 1e6, 3),
                     "_order": int(trigger[1:])})
    if len(rows) != len(passes):
        raise RuntimeError(f"callgrind wrote {len(rows)} of the {len(passes)} passes' counts")
    rows.sort(key=lambda row: row.pop("_order"))
    return rows


def run(kb_path: str | None = None, articles: tuple[tuple[int, int], ...] = DEFAULT_ARTICLES,
        public: int = DEFAULT_PUBLIC) -> list[dict]:
    """Rows of instructions per document (millions), first pass and linked again."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise NoValgrind(f"{tool} is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="factlink-callgrind-") as folder:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={folder}/callgrind.%p", sys.executable, "-m", "bench.instructions",
                   "--child", "--articles", ",".join(f"{size}:{count}" for size, count in articles),
                   "--public-per-set", str(public), "--meta", f"{folder}/{META}"] + (["--kb", kb_path] if kb_path else [])
        # the same str hashes in every run: set and dict orders, and so the work, do not move
        env = dict(os.environ, PYTHONHASHSEED="0")
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the run under callgrind failed (exit {done.returncode}): {done.stderr[-2000:]}")
        return _read_dumps(Path(folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", help="KB for the synthetic articles (default: the Wikidata-subset KB)")
    parser.add_argument("--articles", type=parse_articles, default=DEFAULT_ARTICLES,
                        help="synthetic articles, BYTES:COUNT,... (default 4096:5,32768:1)")
    parser.add_argument("--public-per-set", dest="public", type=int, default=DEFAULT_PUBLIC,
                        help="the first N texts of each public benchmark set (0: none; default 20)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--meta", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.kb, args.articles, args.public, args.meta)
        return 0
    try:
        rows = run(args.kb, args.articles, args.public)
    except NoValgrind as exc:
        print(f"bench.instructions: {exc}", file=sys.stderr)
        return 2
    from .report import print_linking_rows
    print_linking_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
