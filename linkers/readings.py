"""Close readings of one name that are one family of entities: a brand and its company.

"Facebook" is the service (Q355) and the company (Facebook, Inc.); "Windows" the product and,
in other KBs, its maker's line. The ranker spreads a name's belief over such readings, so
neither holds the share a link needs, though the text is clearly about that family. Two
readings are one family when a Wikidata claim connects them (owned by, developer,
manufacturer, parent organisation, subsidiary, founded by, product, owner of), or when one's
label is the other's plus a company suffix and they share another name ("Facebook" /
"Facebook, Inc.", both also "FB"; "CBS" / "CBS Corporation", both "Columbia Broadcasting
System"). The label alone is not enough: in the shared Wikidata subset it pairs more common
nouns and namesakes (Apple Records / Apple Inc., Gap the commune / Gap, Inc., "insurance" /
"insurance company") than brands with their companies. Unrelated readings of a name (Amazon
the company and the river, Nike the goddess and the brand) are not pooled: a name torn
between them stays as unsure as the ranker says.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .spotter import COMPANY_SUFFIXES

# A reading with less belief than this is not close: it is never read from the KB.
CLOSE = 0.02
# Claims that tie a brand, a product or a unit to the organisation behind it.
FAMILY_PROPERTIES = ("P127", "P176", "P178", "P749", "P355", "P112", "P1056", "P1830")
_SUFFIX_RE = re.compile(r"[\s,]+(?:" + "|".join(sorted(COMPANY_SUFFIXES, key=len, reverse=True)) + r")\.?$",
                        re.IGNORECASE)


def _bare_name(label: str) -> str:
    """A label without its company suffix ("Facebook, Inc." -> "facebook")."""
    return _SUFFIX_RE.sub("", label or "").strip().lower()


def _claims_reach(record: dict, qid: str) -> bool:
    claims = record.get("c") or {}
    return any(v.get("k") == "i" and v.get("v") == qid
               for p in FAMILY_PROPERTIES for v in claims.get(p, ()))


def one_family(a: dict, b: dict) -> bool:
    """Whether two KB records are the same family of entities (see the module docstring)."""
    if a["id"] == b["id"]:
        return True
    if _claims_reach(a, b["id"]) or _claims_reach(b, a["id"]):
        return True
    la, lb = (a.get("l") or "").strip(), (b.get("l") or "").strip()
    bare = _bare_name(la)
    if la.lower() == lb.lower() or not bare or bare != _bare_name(lb) or not (la[:1].isupper() and lb[:1].isupper()):
        return False
    # one name is not enough (Apple Records and Apple Inc.): a second name both go by is
    names = {la.lower(), lb.lower(), bare}
    shared = {n.lower() for n in a.get("a") or ()} & {n.lower() for n in b.get("a") or ()}
    return bool(shared - names)


@lru_cache(maxsize=65536)
def _one_family(kb, a: int, b: int) -> bool:
    """``one_family`` of two KB entities (memoised per process: a name's readings recur)."""
    return one_family(kb.record(a), kb.record(b))


def family_share(kb, pick_eid: int, row) -> float:
    """The belief on the pick and the readings of its family (``row``: ranked ``Scored``)."""
    total = 0.0
    for c in row:
        if c.eid == pick_eid:
            total += c.prob
        elif c.prob >= CLOSE and _one_family(kb, pick_eid, c.eid):
            total += c.prob
    return total
