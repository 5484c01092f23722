"""KB scale: build time, size on disk, open time, memory and linking speed vs entity count.

    python -m bench.kb_scale [--sizes 100000] [--json]          # ~1 min on 2 cores
    python -m bench.kb_scale --sizes 1000000                     # slow: ~5-10 min, ~260 MB dump
    python -m bench.kb_scale --sizes 10000000 --work-dir /big --keep   # slow: ~20 min, ~1.9 GB dump

For each size: write a synthetic dump (``bench.synthetic_dump``), ``build_kb`` with one worker per
core, then, in fresh subprocesses, time ``open_kb`` and measure the memory of 1 and of 4
processes that opened the KB and linked the same synthetic news corpus. Memory comes from
``/proc/PID/smaps_rollup``: PSS splits shared (mmap'd KB) pages between the processes that map
them, so the sum of PSS is the real footprint of N workers; private pages are each process's own
(a lone process's KB pages count as private too: nobody shares them yet). ``added_per_worker_mb``
is what each worker beyond the first adds: (PSS of 4 - PSS of 1) / 3. A dump already in
``--work-dir`` (from ``--keep``) is reused, not generated again.
Every measure is also extrapolated linearly to Wikidata's ~110M items (a guide, not a promise:
alias keys and edges do not grow exactly linearly). For memory only the file-backed part (KB
pages touched) is scaled; the heap (``Private_Dirty``: interpreter, bounded record cache) is not.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from linkers import build_kb

from .data import latency_summary
from .synthetic_dump import write_dump

WIKIDATA_ITEMS = 110_000_000
OPEN_SAMPLES = 5
LINK_DOCS = 100
SMAPS_FIELDS = ("Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty")


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def smaps_rollup(pid: int) -> dict[str, int]:
    """kB values of the memory fields we report, from /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in SMAPS_FIELDS:
                out[name] = int(rest.split()[0])
    return out


def _probe_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.kb_scale", "--probe", *args]


def open_times(kb_dir: Path, samples: int = OPEN_SAMPLES) -> list[float]:
    """ms to ``open_kb`` in fresh processes (imports excluded: they are paid once per worker too)."""
    times = []
    for _ in range(samples):
        out = subprocess.run(_probe_cmd("open", str(kb_dir)), check=True, capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1], timeout=120)
        times.append(json.loads(out.stdout)["open_ms"])
    return times


def worker_memory(kb_dir: Path, processes: int, corpus: Path, kind: str = "link") -> dict:
    """Start ``processes`` probes that open the KB and link the corpus; read their smaps, then stop them.

    ``kind="idle"``: processes that imported ``linkers`` but opened no KB (the interpreter baseline).
    """
    procs = [subprocess.Popen(_probe_cmd(kind, str(kb_dir), str(corpus)), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
             for _ in range(processes)]
    try:
        reports = [json.loads(p.stdout.readline()) for p in procs]   # each is linked and idle now
        mems = [smaps_rollup(p.pid) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=30)
    total = {f: sum(m[f] for m in mems) for f in SMAPS_FIELDS}
    return {"processes": processes, "pss_mb": round(total["Pss"] / 1024, 1),
            "rss_mb": round(total["Rss"] / 1024, 1),
            "private_mb": round((total["Private_Clean"] + total["Private_Dirty"]) / 1024, 1),
            "dirty_mb": round(total["Private_Dirty"] / 1024, 1),
            "link": reports[0]}


def measure(n: int, work_dir: Path, docs: int = LINK_DOCS, keep: bool = False) -> dict:
    work_dir.mkdir(parents=True, exist_ok=True)
    dump = work_dir / f"synthetic-{n}.json.gz"
    kb_dir = work_dir / f"kb-{n}"
    gen_s = None
    if not dump.exists():
        partial = dump.with_name(f"synthetic-{n}.part.json.gz")   # only a complete dump is reused
        gen_s = round(write_dump(str(partial), n), 1)
        partial.rename(dump)
    workers = os.cpu_count() or 1
    report = build_kb([str(dump)], str(kb_dir), workers=workers, progress=False)
    os.sync()   # written pages still dirty would count as the probes' private heap
    size = dir_bytes(kb_dir)
    opens = open_times(kb_dir)
    # the corpus is written here, not in the probes, so their memory is the KB's and linking's
    from linkers import open_kb
    from .news_corpus import NewsCorpus
    corpus = work_dir / f"corpus-{n}.json"
    kb = open_kb(str(kb_dir))
    corpus.write_text(json.dumps(NewsCorpus(kb, seed=7).documents(docs)))
    kb.close()
    idle = worker_memory(kb_dir, 1, corpus, kind="idle")
    one = worker_memory(kb_dir, 1, corpus)
    four = worker_memory(kb_dir, 4, corpus)
    scale = WIKIDATA_ITEMS / n
    # Heap (Private_Dirty: record cache, interpreter) is bounded, it does not grow with the KB;
    # the file-backed rest (the mmap'd KB pages the processes touched, shared or not) does.
    # Libraries are file-backed too: the idle interpreter's share is subtracted before scaling.
    heap_4 = four["dirty_mb"]
    kb_pages_4 = max(0.0, four["pss_mb"] - heap_4 - 4 * (idle["pss_mb"] - idle["dirty_mb"]))
    row = {
        "bench": "kb", "entities": n, "dump_mb": round(dump.stat().st_size / 2**20, 1),
        "generate_s": gen_s, "build_s": round(report.seconds, 1), "build_workers": workers,
        "entities_per_s_per_core": round(report.entities_per_second / workers),
        "alias_keys": report.alias_keys, "edges": report.edges,
        "kb_mb": round(size / 2**20, 1), "open_ms": round(statistics.median(opens), 1),
        "idle_pss_mb": idle["pss_mb"], "pss_1_mb": one["pss_mb"], "pss_4_mb": four["pss_mb"],
"private_4_mb": four["private_mb"],
        "heap_1_mb": one["dirty_mb"], "heap_4_mb": four["dirty_mb"],
        "added_per_worker_mb": round((four["pss_mb"] - one["pss_mb"]) / 3, 1),
        "rss_4_mb": four["rss_mb"], "link_p50_ms": one["link"]["p50_ms"], "link_p90_ms": one["link"]["p90_ms"],
        "x110M_build_h": round(report.seconds * scale / 3600, 1),
        "x110M_kb_gb": round(size * scale / 2**30, 1),
        "x110M_pss_4_gb": round((four["pss_mb"] - kb_pages_4 + kb_pages_4 * scale) / 1024, 1),
    }
    if not keep:
        shutil.rmtree(kb_dir, ignore_errors=True)
        dump.unlink(missing_ok=True)
    return row


def _probe(args: list[str]) -> int:
    """Child side of ``open_times`` / ``worker_memory``: report JSON on stdout, then wait for EOF."""
    from linkers import link, open_kb
    kind, kb_dir = args[0], args[1]
    if kind == "idle":
        print(json.dumps({}), flush=True)
        sys.stdin.read()
        return 0
    if kind == "open":
        t0 = time.perf_counter()
        kb = open_kb(kb_dir)
        len(kb)
        print(json.dumps({"open_ms": (time.perf_counter() - t0) * 1000}), flush=True)
        return 0
    kb = open_kb(kb_dir)
    texts = json.loads(Path(args[2]).read_text())
    for text in texts[:5]:
        link(text, kb)
    ms = []
    for text in texts:
        t0 = time.perf_counter()
        link(text, kb)
        ms.append((time.perf_counter() - t0) * 1000)
    print(json.dumps(latency_summary(ms)), flush=True)
    sys.stdin.read()          # stay alive (KB open) until the parent has read our memory
    return 0


def run(sizes: list[int], work_dir: Path | None = None, docs: int = LINK_DOCS, keep: bool = False) -> list[dict]:
    own = work_dir is None
    work_dir = work_dir or Path(tempfile.mkdtemp(prefix="factlink-kb-scale-"))
    try:
        return [measure(n, work_dir, docs, keep) for n in sizes]
    finally:
        if own and not keep:
            shutil.rmtree(work_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:
        return _probe(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.kb_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000",
                        help="comma list of entity counts (1000000: slow; 10000000: very slow)")
    parser.add_argument("--docs", type=int, default=LINK_DOCS, help="synthetic news paragraphs linked")
    parser.add_argument("--work-dir", type=Path, help="where dumps and KBs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the dumps and KBs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.sizes.split(",")], args.work_dir, args.docs, args.keep)
    from .report import print_rows
    print_rows(rows, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
