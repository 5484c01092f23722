"""Refit the confidence model (``linkers.calibration.COEFFICIENTS``) and print how well calibrated it is.

    python -m bench.calibration --kb /tmp/kb-eval [--bench ../shared/data/bench]

Links the five public sets (reuters-128, kore50, rss-500, derczynski, spotlight), labels each
spotted mention's pick by the in-KB scoring rules (true positive: correct; false positive on a
span the gold annotates, with an entity or as NIL: wrong; on a span it leaves unannotated, or
ignored by the scoring: left out, since the sparse sets leave most names unannotated) and
whether its span names an in-KB entity, fits P(link) on all of them and P(which | link) on
those naming one, then the isotonic map of their product, and prints: the coefficients (paste
them into ``LINK_COEFFICIENTS`` and ``WHICH_COEFFICIENTS`` of ``linkers/calibration.py``, the
first ``len(LINK_FEATURES)`` into the first), the map, the expected calibration error (10
bins) of the fit, and, against overfitting, each set's error when the model is fit
on the other four. Deterministic: the same KB and code print the same numbers.
"""
from __future__ import annotations

import argparse
import os

import orjson

from linkers import open_kb
from linkers.calibration import FEATURES, LINK_FEATURES, confidence, fit, fit_isotonic, raw_confidence
from linkers.evaluate import entity_spans, expected_calibration_error, judge_document
from linkers.linker import decide

SETS = ("reuters-128", "kore50", "rss-500", "derczynski", "spotlight")


def labelled_picks(path: str, kb) -> list[tuple[tuple[float, ...], bool, bool]]:
    """(features, names a KB entity, correct) of every spotted mention of a gold file that the
    scoring counts: a pick on a span the gold annotates with an in-KB entity names one (right
    or wrong), a pick on a gold NIL span does not."""
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            gold = orjson.loads(line)
            _spans, decisions = decide(gold["text"], kb)
            kept = [d for d in decisions if d is not None]
            preds = [{"start": d.span.start, "end": d.span.end, "qid": kb.record(d.pick.eid)["id"]} for d in kept]
            verdicts, _missed = judge_document(gold, preds, kb.__contains__)
            named = entity_spans(gold, kb.__contains__)
            out += [(d.features, v == "tp" or (d.span.start, d.span.end) in named, v == "tp")
                    for d, v in zip(kept, verdicts) if v in ("tp", "fp")]
    return out


def fit_model(rows, weights=None):
    """(coefficients, isotonic knots) fit on ``rows`` of (features, names an entity, correct):
    P(link) on every row, P(which | link) on the rows that name an entity, the map on their
    product against correct."""
    n = len(LINK_FEATURES)
    weights = weights or [1.0] * len(rows)
    link = fit([f[:n] for f, _n, _ok in rows], [named for _f, named, _ok in rows], weights)
    which_rows = [(f[n:], ok, w) for (f, named, ok), w in zip(rows, weights) if named]
    which = fit([f for f, _ok, _w in which_rows], [ok for _f, ok, _w in which_rows], [w for _f, _ok, w in which_rows])
    coefficients = link + which
    return coefficients, fit_isotonic([raw_confidence(f, coefficients) for f, _n, _ok in rows],
                                      [ok for _f, _n, ok in rows])


def ece(model, rows) -> float:
    return expected_calibration_error([confidence(f, *model) for f, _n, ok in rows], [ok for _f, _n, ok in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", required=True, help="KB directory built from shared/data/wikidata")
    ap.add_argument("--bench", default=os.path.join("..", "shared", "data", "bench"))
    ap.add_argument("--balanced", action="store_true", help="weigh each set the same in the logistic fit")
    args = ap.parse_args(argv)
    kb = open_kb(args.kb)
    by_set = {name: labelled_picks(os.path.join(args.bench, f"{name}.jsonl"), kb) for name in SETS}
    everything = [r for rows in by_set.values() for r in rows]
    # each set weighs the same in the logistic fit: the sparse rss-500 has as many picks as
    # the other four together, and its unannotated names would otherwise set every weight
    weights = [len(everything) / (len(SETS) * len(rows)) for rows in by_set.values() for _r in rows]
    model = fit_model(everything, weights if args.balanced else None)
    print(f"picks {len(everything)} (naming an entity {sum(n for _f, n, _ok in everything)},"
          f" correct {sum(ok for _f, _n, ok in everything)})")
    print("COEFFICIENTS = (")
    for name, c in zip(FEATURES, model[0]):
        print(f"    {c:.4f},  # {name}")
    print(")")
    print(f"ISOTONIC = {model[1]}")
    print(f"fit on all five, scored on all five: ECE {ece(model, everything):.4f}")
    print(f"{'set':<14} {'ECE fit on the other four':>26} {'ECE fit on all five':>20} {'picks':>6}")
    for name in SETS:
        train = [r for other, rows in by_set.items() if other != name for r in rows]
        print(f"{name:<14} {ece(fit_model(train), by_set[name]):>26.4f} {ece(model, by_set[name]):>20.4f}"
              f" {len(by_set[name]):>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
