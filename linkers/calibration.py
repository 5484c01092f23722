"""The confidence a mention reports: the probability that its link is correct.

The ranker answers "which entity" (a softmax over the candidates plus a NIL pseudo-candidate,
``ranker.Scored.prob``); that share is a ranking score, not a probability of being right: two
close readings of a sure name ("Facebook" the service, "Facebook, Inc.") split it, and a
weak common-word hit can hold all of it. So the confidence answers the two questions apart
and multiplies them:

- P(link), is it a name of a KB entity at all (``link_probability``): the belief off NIL,
  the prior its key gives proper names rather than common nouns (``mass``), the mention's
  shape (an acronym, one word, used as a modifier, inside a longer name, one word at a
  sentence start, how often its name recurs), the kind and popularity of the pick;
- P(which | link), is the pick the entity meant (``which_probability``): the pick's part of
  the belief on candidates (``share``), its ``margin`` over the runner-up, its prior.

``confidence`` is their product through a monotone map (``ISOTONIC``); ``linker.links`` reads
P(link) on its own too. Both logistic models and the map were fit on all five public sets
together (reuters-128, kore50, rss-500, derczynski, spotlight; in-KB view, KB built from
``shared/data/wikidata``) by ``python -m bench.calibration``, which refits them, prints them
in this form, and reports the expected calibration error (10 bins) overall and fitted on four
sets while scored on the fifth. Labels: a spotted mention names an entity when the gold
annotates its span with an in-KB entity (P(link): every counted pick; P(which | link): those
that name one); its pick is correct when scoring it as a link is a true positive, wrong when
it is a false positive on a span the gold annotates (with another entity, or as NIL); picks on
spans the gold leaves unannotated (most names in the sparse sets: nothing is known of them) or
that the scoring ignores (optional gold, entities outside the KB) are left out.
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

LINK_FEATURES = ("bias", "logit_link", "log_mass", "label", "acronym", "one_word", "modifier", "embedded",
                 "initial", "repeats", "person", "place", "popularity")
WHICH_FEATURES = ("bias", "logit_share", "margin", "log_prior", "popularity", "partial", "person")
FEATURES = LINK_FEATURES + WHICH_FEATURES

# Fit by ``python -m bench.calibration`` (see the module docstring); refit when the ranker changes.
LINK_COEFFICIENTS = (
    2.1830,  # bias
    0.4519,  # logit_link
    -0.0222,  # log_mass
    0.0211,  # label
    -0.1604,  # acronym
    -0.6115,  # one_word
    0.3131,  # modifier
    1.6851,  # embedded
    -0.2181,  # initial
    -0.4419,  # repeats
    -1.0204,  # person
    -0.2348,  # place
    1.4553,  # popularity
)
WHICH_COEFFICIENTS = (
    -1.0616,  # bias
    0.3287,  # logit_share
    1.0421,  # margin
    -0.0280,  # log_prior
    -0.0100,  # popularity
    -0.0826,  # partial
    0.3210,  # person
)
COEFFICIENTS = LINK_COEFFICIENTS + WHICH_COEFFICIENTS

# Then a monotone map (isotonic regression over P(link) * P(which | link), pooled into
# equal-count bins, linear between their centres) corrects what the linear models bend:
# (product, correct share).
ISOTONIC = ((0.1406, 0.0781), (0.2931, 0.1719), (0.4813, 0.5781), (0.6263, 0.6875), (0.7443, 0.7344), (0.8082, 0.7969), (0.852, 0.8594), (0.8932, 0.9531), (0.9431, 0.9688))

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
                     prior: float, flags: int, mass: float) -> tuple[float, ...]:
    """The features of ``FEATURES`` for the pick ``pick_eid`` among the mention's candidates
    ``probs`` ((eid, share with NIL)); ``prior``/``flags`` are the pick's alias-table row
    (0, 0 when the pick came from elsewhere, e.g. a short form); ``mass`` is the prior of the
    mention's key on the KB's proper names (what the common nouns of the key leave)."""
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
    person, place, popularity = float(kind == "person"), float(kind == "place"), kb.popularity(pick_eid)
    return (1.0, _logit(on_kb), math.log(min(mass, 1.0) + 1e-4), float(bool(flags & FLAG_LABEL)),
            float(shape.acronym), float(shape.one_word), float(shape.modifier), float(shape.embedded),
            float(shape.initial), math.log(shape.repeats), person, place, popularity,
            1.0, _logit(share), margin, math.log(prior + 1e-4), popularity, float(bool(flags & FLAG_PARTIAL)),
            person)


def logistic(features, coefficients) -> float:
    z = sum(map(operator.mul, features, coefficients))
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


@lru_cache(maxsize=65536)
def _kind(kb, eid: int) -> str:
    return entity_kind(kb.record(eid))


_N_LINK = len(LINK_FEATURES)


def link_probability(features: tuple[float, ...], coefficients: tuple[float, ...] = COEFFICIENTS) -> float:
    """P(link): that the mention is a name of a KB entity at all, from what the text and the
    KB's naming say of the mention (its shape, its key's proper-name prior, the ranker's belief
    off NIL), whichever entity it is."""
    return logistic(features[:_N_LINK], coefficients[:_N_LINK])


def which_probability(features: tuple[float, ...], coefficients: tuple[float, ...] = COEFFICIENTS) -> float:
    """P(which | link): that the pick is the entity meant, given the mention names one."""
    return logistic(features[_N_LINK:], coefficients[_N_LINK:])


def raw_confidence(features: tuple[float, ...], coefficients: tuple[float, ...] = COEFFICIENTS) -> float:
    return link_probability(features, coefficients) * which_probability(features, coefficients)


def confidence(features: tuple[float, ...], coefficients: tuple[float, ...] = COEFFICIENTS,
               isotonic: tuple[tuple[float, float], ...] = ISOTONIC, p_link: float | None = None) -> float:
    """The probability that linking the mention's pick is correct: P(link) * P(which | link),
    through the monotone map ``isotonic`` (``p_link``: P(link) when the caller has it)."""
    if p_link is None:
        p_link = link_probability(features, coefficients)
    p = p_link * which_probability(features, coefficients)
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
