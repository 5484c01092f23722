"""News-like paragraphs composed from a KB's own labels, so linking can be timed on any KB.

Entities are drawn by popularity (news mentions the famous far more often), people are named
in full and then by surname, and sentences follow wire-copy templates. The text is nonsense,
but its density of names, capitalised non-names and repeated mentions is news-like; that is
what linking speed depends on.
"""
from __future__ import annotations

import random

import numpy as np

TEMPLATES = [
    "{a} said on Tuesday that talks with {b} would resume next week in {c}.",
    "Officials from {a} met representatives of {b} on Monday, according to a statement.",
    "Shares of {a} fell 3.2 percent after {b} announced a review of its contracts with {c}.",
    "{a} told reporters in {c} that {b} had not been consulted before the decision.",
    "The agreement between {a} and {b} was signed in {c} in March, two years after the dispute began.",
    "Analysts at {a} expect {b} to raise its forecast when it reports results on Thursday.",
    "{a}, which has criticised {b} for months, called the vote in {c} a turning point.",
    "Speaking in {c}, {a} said {b} remained committed to the plan despite the delays.",
    "A spokesperson for {a} declined to comment on reports that {b} is preparing a bid.",
    "The Reuters news agency reported that {a} and {b} had exchanged letters over the summer.",
]


class NewsCorpus:
    """Draws entities from a KB, weighted by popularity, and writes paragraphs about them."""

    def __init__(self, kb, seed: int = 7, pool: int = 5000):
        self.kb = kb
        self.rng = random.Random(seed)
        n = len(kb)
        sample = np.random.default_rng(seed).choice(n, size=min(n, pool * 4), replace=False)
        pops = np.array([kb.popularity(int(e)) for e in sample])
        keep = sample[np.argsort(-pops)[:pool]]
        self.names: list[tuple[str, str | None]] = []   # (full name, short name for later mentions)
        weights = []
        for eid in keep.tolist():
            rec = kb.record(eid)
            label = rec.get("l") or ""
            if not label or not label[:1].isupper():
                continue
            short = label.split()[-1] if "Q5" in rec.get("t", ()) and " " in label else None
            self.names.append((label, short))
            weights.append(kb.popularity(eid) + 1e-3)
        if not self.names:
            raise ValueError("the KB has no capitalised labels to write news with")
        self.weights = weights

    def paragraph(self, sentences: int = 6) -> str:
        cast = self.rng.choices(self.names, weights=self.weights, k=3)
        said: set[str] = set()
        out = []
        for _ in range(sentences):
            self.rng.shuffle(cast)
            slots = {}
            for slot, (full, short) in zip("abc", cast):
                slots[slot] = short if short and full in said else full
                said.add(full)
            out.append(self.rng.choice(TEMPLATES).format(**slots))
            if self.rng.random() < 0.3:
                cast[self.rng.randrange(3)] = self.rng.choices(self.names, weights=self.weights)[0]
        return " ".join(out)

    def article(self, min_bytes: int = 4096) -> str:
        """Paragraphs until the text is at least ``min_bytes`` of UTF-8."""
        parts: list[str] = []
        while len("\n\n".join(parts).encode()) < min_bytes:
            parts.append(self.paragraph())
        return "\n\n".join(parts)

    def documents(self, count: int, sentences: int = 6) -> list[str]:
        return [self.paragraph(sentences) for _ in range(count)]
