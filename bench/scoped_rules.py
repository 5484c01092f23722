"""Newsroom rules of one API key: building the key's view of the KB, and linking through it.

    python -m bench.scoped_rules [--rules 10,100,1000] [--docs 300] [--json]

Base: the KB of the shared Wikidata subset (``bench.linking.real_kb``) under an empty service
overlay. A key's rules, drawn from real entities in KB order: half pins (an entity's label ->
that entity), a quarter house aliases (``"<label> desk"``), a quarter bans of an entity. The
view (``OverlayKB.scoped``) is built once per KB generation in each worker, so its build time
is what the first request of that key after any change pays. Linking is timed on the public
benchmark texts, the shared KB and the key's view alternating text by text on one core; the
ratio of medians and of CPU time are the numbers to read on a shared machine.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from linkers.kb.overlay import OverlayKB, key_scope, rule_change

from .data import latency_summary
from .linking import benchmark_texts, real_kb
from .overlay import link_alternating
from .report import print_rows

SCOPE = key_scope("bench-desk-key")


def key_rules(base, count: int) -> list[dict]:
    """``count`` rule changes of one key over real entities with a label."""
    changes = []
    for qid in base.iter_qids():
        if len(changes) >= count:
            break
        label = base.entity(qid)["l"]
        if not label or len(label) > 100:
            continue
        kind = ("pin", "pin", "house_alias", "ban_qid")[len(changes) % 4]
        alias = f"{label} desk" if kind == "house_alias" else label
        changes.append(rule_change(kind, None if kind == "ban_qid" else alias, qid, scope=SCOPE))
    return changes


def run(rule_counts: tuple[int, ...] = (10, 100, 1000), docs: int = 300) -> list[dict]:
    base = real_kb()
    if base is None:
        raise SystemExit("bench.scoped_rules needs ../shared/data/wikidata (the base KB is built from it)")
    rows = []
    views = {}
    for count in rule_counts:
        kb = OverlayKB(base, key_rules(base, count), 1)
        builds = []
        for _ in range(5):
            kb._views.clear()             # what a new generation does
            t0 = time.perf_counter()
            views[count] = kb.scoped(SCOPE)
            builds.append((time.perf_counter() - t0) * 1000)
        rows.append({"bench": "scoped_rules", "what": "build a key's view", "rules": count,
                     **latency_summary(builds)})

    texts = benchmark_texts()[:docs]
    count = 100 if 100 in views else rule_counts[0]
    view, shared = views[count], views[count].base
    cpu, ms_shared, ms_view, cpu_shared, cpu_view = link_alternating(texts, shared, view)
    rows.append({"bench": "scoped_rules", "what": "linking, shared KB", "cpu": cpu, "docs": len(texts),
                 **latency_summary(ms_shared)})
    rows.append({"bench": "scoped_rules", "what": f"linking, a key's view with {count} rules", "cpu": cpu,
                 "docs": len(texts), **latency_summary(ms_view),
                 "ratio_of_medians": round(statistics.median(ms_view) / statistics.median(ms_shared), 3),
                 "ratio_of_cpu_time": round(cpu_view / cpu_shared, 3)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scoped_rules",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", default="10,100,1000", help="comma list of rule counts")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    print_rows(run(tuple(int(n) for n in args.rules.split(",")), args.docs), as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
