"""Same output, before and after: a digest of ``linkers.link`` on every text a speed change must
leave alone.

    python -m bench.outputs --write before.jsonl [--kb DIR]   # on the commit before the change
    python -m bench.outputs --check before.jsonl [--kb DIR]   # after it: exit 1 on any difference

The texts: every public benchmark text (``../shared/data/bench/*.jsonl``) and every sentence of
the news suite (``tests/news_suite/*.jsonl``) on the KB built from ``../shared/data/wikidata``,
plus synthetic paragraphs and 4 KB articles (``bench.news_corpus``, fixed seed) on the same KB.
Each document is linked with fact cards, relations and the top 3 candidates, so a change in any
score that reaches the answer shows. Issue 13: "a speed commit changes no output".
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import orjson

from linkers import LinkOptions, link, open_kb

from .data import bench_texts_dir
from .linking import DEFAULT_REAL_KB, real_kb
from .news_corpus import NewsCorpus

NEWS_SUITE = Path(__file__).resolve().parent.parent / "tests" / "news_suite"


def documents(kb, paragraphs: int = 200, articles: int = 10) -> list[tuple[str, str, str | None]]:
    """(name, text, published_at) of every text to compare, in a fixed order."""
    docs = []
    for folder in (bench_texts_dir(), NEWS_SUITE):
        for path in sorted(Path(folder).glob("*.jsonl")):
            with open(path, "rb") as fh:
                for i, line in enumerate(fh):
                    if line.strip():
                        record = orjson.loads(line)
                        docs.append((f"{path.name}:{i}", record["text"], record.get("published_at")))
    corpus = NewsCorpus(kb, seed=11)
    docs += [(f"paragraph:{i}", text, None) for i, text in enumerate(corpus.documents(paragraphs))]
    docs += [(f"article:{i}", corpus.article(4096), None) for i in range(articles)]
    return docs


def digests(kb, docs) -> dict[str, str]:
    options = LinkOptions(top_k=3)
    out = {}
    for name, text, published_at in docs:
        result = link(text, kb, published_at=published_at, options=options).to_dict()
        out[name] = hashlib.sha256(orjson.dumps(result, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outputs", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE")
    mode.add_argument("--check", metavar="FILE")
    parser.add_argument("--kb", help=f"KB directory (default: the shared-subset KB, {DEFAULT_REAL_KB})")
    args = parser.parse_args(argv)
    kb = open_kb(args.kb) if args.kb else real_kb()
    if kb is None:
        sys.stderr.write("no KB: pass --kb, or put the shared data next to the repository\n")
        return 2
    found = digests(kb, documents(kb))
    if args.write:
        Path(args.write).write_bytes(b"".join(orjson.dumps({"doc": k, "digest": v}) + b"\n" for k, v in found.items()))
        print(f"wrote {len(found)} digests ({kb.version}) to {args.write}")
        return 0
    expected = {}
    for line in Path(args.check).read_bytes().splitlines():
        row = orjson.loads(line)
        expected[row["doc"]] = row["digest"]
    changed = [name for name in expected if found.get(name) != expected[name]]
    missing = sorted(set(found) ^ set(expected))
    for name in changed[:20]:
        print(f"differs: {name}")
    print(f"{len(expected) - len(changed)}/{len(expected)} documents give the same output; "
          f"{len(changed)} differ; {len(missing)} not in both")
    return 1 if changed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
