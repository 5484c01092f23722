"""Scoring predictions against gold, exactly as ``shared/data/bench/README.md`` defines.

End-to-end, strong match, InKB, micro-averaged: a non-optional, non-desc gold mention with a
QID is a true positive only if a prediction has its span (or an alternative's span) and its
QID; any other prediction with a QID is a false positive, except on optional/desc gold spans
(ignored) — and a QID on a gold-NIL span is a false positive. Predictions with qid null are
ignored. Only spans inside ``evaluation_span`` count.

In-KB view: gold restricted to QIDs present in the KB; predictions on the spans of gold
mentions whose QID is outside the KB are dropped (for every system alike).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def _inside(span, lo, hi) -> bool:
    return lo <= span[0] and span[1] <= hi


def _gold_spans(gold: dict, in_kb: Callable[[str], bool] | None):
    """(required, neutral, dropped, nil_spans) of a gold document, as the scoring rules read it:
    required maps a primary span to the accepted (span, qid) pairs, alternatives included."""
    lo, hi = gold.get("evaluation_span") or (0, len(gold["text"]))
    # primary span -> {(span, qid): None} incl. alternatives, the primary pair first: a dict, not
    # a set, so the gold QID ``classify_errors`` reports for a span that an alternative also
    # covers with another QID is the primary's in every process (a set of str tuples iterates
    # in an order that changes with the hash seed)
    required: dict[tuple[int, int], dict] = {}
    neutral: set[tuple[int, int]] = set()     # optional/desc spans: neither reward nor punish
    dropped: set[tuple[int, int]] = set()     # out-of-KB gold spans (in-KB view)
    nil_spans: set[tuple[int, int]] = set()
    for m in gold["mentions"]:
        alternatives = [((a["start"], a["end"]), a.get("qid", m.get("qid"))) for a in m.get("alternatives", ())]
        spans = ((m["start"], m["end"]),) + tuple(span for span, _q in alternatives)
        if not _inside(spans[0], lo, hi):
            continue
        qid = m.get("qid")
        if m.get("optional") or m.get("desc"):
            neutral.update(spans)
        elif qid is None:
            nil_spans.update(spans)
        elif in_kb is not None and not in_kb(qid):
            dropped.update(spans)
        else:
            required[spans[0]] = dict.fromkeys([(spans[0], qid), *alternatives])
    return (lo, hi), required, neutral, dropped, nil_spans


def judge_document(gold: dict, predicted: list[dict],
                   in_kb: Callable[[str], bool] | None = None) -> tuple[list[str | None], list[tuple[int, int]]]:
    """The verdict on each prediction ("tp"; "fp" on a span the gold annotates, with an entity
    or as NIL; "extra", also a false positive, on a span the gold does not annotate at all; or
    None when it does not count: no QID, outside the evaluation span, on a neutral or dropped
    span), and the primary spans of the required gold mentions no prediction matched."""
    (lo, hi), required, neutral, dropped, nil_spans = _gold_spans(gold, in_kb)
    annotated = nil_spans | {span for accepted in required.values() for span, _q in accepted}
    matched: set[tuple[int, int]] = set()
    verdicts: list[str | None] = []
    for p in predicted:
        qid = p.get("qid")
        span = (p["start"], p["end"])
        if qid is None or not _inside(span, lo, hi) or span in dropped:
            verdicts.append(None)
            continue
        hit = next((k for k, accepted in required.items() if (span, qid) in accepted and k not in matched), None)
        if hit is not None:
            matched.add(hit)
            verdicts.append("tp")
        elif span in neutral and span not in nil_spans:
            verdicts.append(None)
        else:
            verdicts.append("fp" if span in annotated else "extra")
    return verdicts, [k for k in required if k not in matched]


def entity_spans(gold: dict, in_kb: Callable[[str], bool] | None = None) -> set[tuple[int, int]]:
    """The spans (alternatives included) of the gold mentions that name an entity the scoring
    requires."""
    _bounds, required, _neutral, _dropped, _nil = _gold_spans(gold, in_kb)
    return {span for accepted in required.values() for span, _q in accepted}


def score_document(gold: dict, predicted: list[dict], score: Score,
                   in_kb: Callable[[str], bool] | None = None) -> None:
    verdicts, missed = judge_document(gold, predicted, in_kb)
    score.tp += verdicts.count("tp")
    score.fp += verdicts.count("fp") + verdicts.count("extra")
    score.fn += len(missed)


def score_corpus(gold_docs: Iterable[dict], predictions: dict[str, list[dict]],
                 in_kb: Callable[[str], bool] | None = None) -> Score:
    score = Score()
    for doc in gold_docs:
        score_document(doc, predictions.get(str(doc["id"]), []), score, in_kb)
    return score


def coverage(gold_docs: Iterable[dict], in_kb: Callable[[str], bool]) -> float:
    """Share of gold mentions with a QID whose QID is in the KB."""
    total = present = 0
    for doc in gold_docs:
        for m in doc["mentions"]:
            if m.get("qid"):
                total += 1
                present += bool(in_kb(m["qid"]))
    return present / total if total else 0.0


def expected_calibration_error(confidences: list[float], correct: list[bool], bins: int = 10) -> float:
    """ECE: over ``bins`` equal-width confidence bins, the share of links in the bin times the
    gap between their mean confidence and the share of them that is correct."""
    if not confidences:
        return 0.0
    total = len(confidences)
    sums = [[0.0, 0.0, 0] for _ in range(bins)]
    for c, ok in zip(confidences, correct):
        b = sums[min(int(c * bins), bins - 1)]
        b[0] += c
        b[1] += ok
        b[2] += 1
    return sum(abs(conf - hits) / total for conf, hits, n in sums if n)


# The kinds of error ``factlink eval --errors`` groups by.
ERROR_KINDS = ("not spotted", "wrong span", "NIL below threshold", "wrong entity", "no gold entity")


def classify_errors(gold: dict, predicted: list[dict], in_kb: Callable[[str], bool] | None = None) -> list[dict]:
    """Every miss and false link of one document, with its kind.

    ``predicted`` holds every spotted mention, NIL ones included, each with the QID the ranker
    would pick (``best``) when it is below the threshold. A required gold mention missed is
    "not spotted" when no prediction overlaps it, "wrong span" when one overlaps with other
    bounds, "NIL below threshold" when a NIL prediction on its span would have been right, and
    "wrong entity" otherwise. A false link is "wrong span" when it overlaps a gold mention with
    other bounds, "wrong entity" when it sits on a gold mention's span, and "no gold entity"
    when the gold has no in-KB entity there (a gold NIL, or a span it does not annotate: the
    sparse sets leave many real names unannotated)."""
    text = gold["text"]
    verdicts, missed = judge_document(gold, predicted, in_kb)
    (_lo, _hi), required, _neutral, _dropped, _nil = _gold_spans(gold, in_kb)
    gold_qid = {k: next(q for s, q in acc if s == k) for k, acc in required.items()}
    gold_spans = [(m["start"], m["end"]) for m in gold["mentions"]]
    out: list[dict] = []

    def overlaps(a, b) -> bool:
        return a[0] < b[1] and b[0] < a[1]

    for span in missed:
        accepted = required[span]
        same = [p for p in predicted if any((p["start"], p["end"]) == s for s, _q in accepted)]
        near = [p for p in predicted if overlaps((p["start"], p["end"]), span)]
        if any(p.get("qid") is None and ((p["start"], p["end"]), p.get("best")) in accepted for p in same):
            kind = "NIL below threshold"
        elif same:
            kind = "wrong entity"
        elif near:
            kind = "wrong span"
        else:
            kind = "not spotted"
        got = (same or near or [{}])[0]
        out.append({"kind": kind, "error": "miss", "span": list(span), "surface": text[span[0]:span[1]],
                    "gold": gold_qid[span], "predicted": got.get("qid") or got.get("best"),
                    "confidence": got.get("confidence")})
    for p, v in zip(predicted, verdicts):
        if v not in ("fp", "extra"):
            continue
        span = (p["start"], p["end"])
        if span in gold_qid:
            kind = "wrong entity"
        elif span not in gold_spans and any(overlaps(span, g) for g in gold_spans):
            kind = "wrong span"
        else:
            kind = "no gold entity"
        out.append({"kind": kind, "error": "false link", "span": list(span), "surface": text[span[0]:span[1]],
                    "gold": gold_qid.get(span), "predicted": p["qid"], "confidence": p.get("confidence")})
    return out
