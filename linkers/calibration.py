"""The confidence a mention reports: the probability that its link is correct.

The ranker answers "which entity" (a softmax over the candidates plus a NIL pseudo-candidate,
``ranker.Scored.prob``); that share is a ranking score, not a probability of being right: two
close readings of a sure name ("Facebook" the service, "Facebook, Inc.") split it, and a
weak common-word hit can hold all of it. So the decision to link is made on a second number,
from features that keep the two questions apart:

- is it a link to the KB at all: ``link`` (belief not on NIL), the chosen entity's prior
  and popularity, the mention's shape (an acronym, one word, used as a modifier, inside a
  longer name, one word at a sentence start), how often its name recurs in the text;
- which entity: ``share`` (the pick's part of the belief on candidates) and ``margin`` (over
  the runner-up).

A logistic model over them gives ``confidence``. ``COEFFICIENTS`` were fit on all five
public sets together (reuters-128, kore50, rss-500, derczynski, spotlight; in-KB view, KB
built from ``shared/data/wikidata``) by ``python -m bench.calibration``, which refits them,
prints them in this form, and reports the expected calibration error (10 bins) overall and
fitted on four sets while scored on the fifth. Labels: a spotted mention's pick is correct
when scoring it as a link is a true positive, wrong when it is a false positive on a span the
gold annotates (with another entity, or as NIL); picks on spans the gold leaves unannotated
(most names in the sparse sets: nothing is known of them) or that the scoring ignores
(optional gold, entities outside the KB) are left out.
"""
from __future__ import annotations

import bisect
import math
import operator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .facts import entity_kind
from .kb.layout import FLAG_LABEL, FLAG_PARTIAL

FEATURES = ("bias", "logit_pick", "logit_link", "logit_share", "margin", "log_prior", "popularity", "label",
            "partial", "acronym", "one_word", "modifier", "embedded", "initial", "repeats",
            "person", "place")

# Fit by ``python -m bench.calibration`` (see the module docstring); refit when the ranker changes.
COEFFICIENTS = (
    -0.2830,  # bias
    0.1807,  # logit_pick
    0.2089,  # logit_link
    0.1278,  # logit_share
    1.4292,  # margin
    -0.0672,  # log_prior
    0.1996,  # popularity
    0.0369,  # label
    0.1961,  # partial
    0.0812,  # acronym
    -1.1327,  # one_word
    -0.0275,  # modifier
    1.9186,  # embedded
    -0.5228,  # initial
    0.0806,  # repeats
    -0.6990,  # person
    -0.0571,  # place
)

# Then a monotone map (isotonic regression over the logistic output, pooled into equal-count
# bins, linear between their centres) corrects what a linear model bends: (logistic, correct share).
ISOTONIC = ((0.093, 0.0462), (0.2629, 0.2308), (0.473, 0.5231), (0.6239, 0.6154), (0.7511, 0.7615), (0.8405, 0.8154), (0.8919, 0.8906), (0.9416, 0.9583), (0.991, 0.9844))

# Bounds of a logit feature: a share of exactly 0 or 1 would be infinite.
_CLIP = 1e-4


def _logit(p: float) -> float:
    p = _CLIP if p < _CLIP else 1 - _CLIP if p > 1 - _CLIP else p
    return math.log(p / (1 - p))


@dataclass(slots=True)
class MentionShape:
    """What the text says about a mention, apart from its candidates."""
    acronym: bool
    one_word: bool
    modifier: bool
    embedded: bool
    initial: bool       # one word at a sentence start, where a capital says nothing
    repeats: int        # mentions of the same name in the text


def mention_features(kb, shape: MentionShape, pick_eid: int, probs: list[tuple[int, float]],
                     prior: float, flags: int) -> tuple[float, ...]:
    """The features of ``FEATURES`` for the pick ``pick_eid`` among the mention's candidates
    ``probs`` ((eid, share with NIL)); ``prior``/``flags`` are the pick's alias-table row
    (0, 0 when the pick came from elsewhere, e.g. a short form)."""
    on_kb = mine = rest = 0.0
    for e, p in probs:
        on_kb += p
        if e == pick_eid:
            mine = p
        elif p > rest:
            rest = p
    share = mine / on_kb if on_kb > 0 else 0.0
    margin = (mine - rest) / on_kb if on_kb > 0 else 0.0
    kind = _kind(kb, pick_eid)
    return (1.0, _logit(mine), _logit(on_kb), _logit(share), margin, math.log(prior + 1e-4), kb.popularity(pick_eid),
            float(bool(flags & FLAG_LABEL)), float(bool(flags & FLAG_PARTIAL)), float(shape.acronym),
            float(shape.one_word), float(shape.modifier), float(shape.embedded), float(shape.initial),
            math.log(shape.repeats), float(kind == "person"), float(kind == "place"))


def logistic(features: tuple[float, ...], coefficients: tuple[float, ...] = COEFFICIENTS) -> float:
    z = sum(map(operator.mul, features, coefficients))
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


@lru_cache(maxsize=65536)
def _kind(kb, eid: int) -> str:
    return entity_kind(kb.record(eid))


def confidence(features: tuple[float, ...], coefficients: tuple[float, ...] = COEFFICIENTS,
               isotonic: tuple[tuple[float, float], ...] = ISOTONIC) -> float:
    """The probability that linking the mention's pick is correct."""
    p = logistic(features, coefficients)
    k = bisect.bisect_right(isotonic, (p, math.inf))
    if k == 0:
        return isotonic[0][1]
    if k == len(isotonic):
        return isotonic[-1][1]        # held beyond the outer knots
    (x0, y0), (x1, y1) = isotonic[k - 1], isotonic[k]
    return y0 + (y1 - y0) * (p - x0) / (x1 - x0) if x1 > x0 else y1


def fit_isotonic(scores: list[float], correct: list[bool], bins: int = 12) -> tuple[tuple[float, float], ...]:
    """Knots of a monotone map from ``scores`` to the share correct: equal-count bins, pooled
    where a bin is less often correct than the one below it (pool adjacent violators)."""
    order = np.argsort(np.asarray(scores), kind="stable")
    x = np.asarray(scores, dtype=np.float64)[order]
    y = np.asarray(correct, dtype=np.float64)[order]
    blocks = [[float(xs.sum()), float(ys.sum()), len(xs)]
              for xs, ys in zip(np.array_split(x, bins), np.array_split(y, bins)) if len(xs)]
    pooled: list[list[float]] = []
    for b in blocks:
        pooled.append(b)
        while len(pooled) > 1 and pooled[-2][1] / pooled[-2][2] >= pooled[-1][1] / pooled[-1][2]:
            top = pooled.pop()
            for k in range(3):
                pooled[-1][k] += top[k]
    knots = [(round(sx / n, 4), round(sy / n, 4)) for sx, sy, n in pooled]
    return tuple(knots)      # np.interp holds the end values beyond the outer centres


def fit(features: list[tuple[float, ...]], correct: list[bool], weights: list[float] | None = None,
        l2: float = 1.0, rounds: int = 50) -> tuple[float, ...]:
    """Logistic regression by Newton's method with a small L2 penalty (not on the bias);
    ``weights`` weigh the examples (default 1 each)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    sw = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(rounds):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (sw * (p - y)) + penalty * w
        hess = (x * (sw * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return tuple(round(float(v), 4) for v in w)
