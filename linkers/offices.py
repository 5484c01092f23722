"""A demonym before a title names the country's office: "French President Emmanuel Macron".

News writes "<demonym> <title>" where Wikidata names the office "<title> of <country>"
("President of France", alias of "President of the French Republic"). When a demonym has been
read as its country (``demonyms``) and a title and a name follow it, the office is looked up
as such offices are named, from the country's own names in the KB; if the KB has it, the
demonym and the title are one mention of the office (as "Ukrainian President" already is where
the KB has that alias). The name after the title stays a mention of its own, and the demonym
alone, elsewhere in the text, stays the country: it is no short form of the office's label.
"""
from __future__ import annotations

import re

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .facts import entity_kind
from .metonymy import country_names
from .ranker import FLAG_DEMONYM
from .spotter import CANDIDATE_WINDOW, TITLES, Span
from .text import alias_key

# How an office is named from its title T and a name A of its country.
OFFICE_PATTERNS = ("{t} of {a}", "{t} of the {a}")
# One or two capitalised words (the title) and then a capitalised word (the holder's name).
_TITLE_WORDS_RE = re.compile(r" ([A-Z][a-z]+)(?: ([A-Z][a-z]+))?(?= [A-Z])")


def _title_after(text: str, end: int) -> tuple[int, str] | None:
    """(end offset, title) of the title written right after offset ``end`` and before a name
    ("President", "Foreign Minister"): the words up to the last title word."""
    m = _TITLE_WORDS_RE.match(text, end)
    if m is None:
        return None
    words = [w for w in m.groups() if w]
    while words and words[-1].lower() not in TITLES:
        words.pop()
    if not words or not any(w.lower() in TITLES for w in words):
        return None
    title = " ".join(words)
    return end + 1 + len(title), title


def _offices(kb, title: str, country: int) -> list[int]:
    found: list[int] = []
    for a in country_names(kb, country):
        for pattern in OFFICE_PATTERNS:
            found += [eid for eid, _p, _f in kb.candidates(alias_key(pattern.format(t=title, a=a)), CANDIDATE_WINDOW)
                      if entity_kind(kb.record(eid)) not in ("person", "place")]
    return list(dict.fromkeys(found))


@cython.locals(sp=Span)
def join_demonym_titles(kb, text: str, spans: list[Span]) -> list[Span]:
    """The spans, with each demonym read as its country and followed by a title and a name
    replaced by one span of the demonym and the title, whose readings are the country's
    offices of that title, when the KB has one."""
    out: list[Span] = []
    for sp in spans:
        if out and sp.start < out[-1].end:
            continue            # inside the title just joined to its demonym
        country = next((eid for eid, _p, f in sp.candidates if f & FLAG_DEMONYM), None) if sp.modifier else None
        after = _title_after(text, sp.end) if country is not None else None
        offices = _offices(kb, after[1], country) if after is not None else []
        if offices:
            end = after[0]
            surface = text[sp.start:end]
            out.append(Span(sp.start, end, surface, alias_key(surface), [(eid, 1.0, 0) for eid in offices]))
        else:
            out.append(sp)
    return out
