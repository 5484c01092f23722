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


def score_document(gold: dict, predicted: list[dict], score: Score,
                   in_kb: Callable[[str], bool] | None = None) -> None:
    lo, hi = gold.get("evaluation_span") or (0, len(gold["text"]))
    required: dict[tuple[int, int], set] = {}   # primary span -> {(span, qid)} incl. alternatives
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
            required[spans[0]] = {(spans[0], qid), *alternatives}
    matched: set[tuple[int, int]] = set()
    for p in predicted:
        qid = p.get("qid")
        span = (p["start"], p["end"])
        if qid is None or not _inside(span, lo, hi) or span in dropped:
            continue
        hit = next((k for k, accepted in required.items() if (span, qid) in accepted and k not in matched), None)
        if hit is not None:
            matched.add(hit)
            score.tp += 1
        elif span in neutral and span not in nil_spans:
            continue
        else:
            score.fp += 1
    score.fn += len(required) - len(matched)


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
