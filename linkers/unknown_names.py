"""A word inside a capitalised name the KB lacks names only what it is the title of.

"Read it on Business Insider": the KB has no "Business Insider", so the spotter finds the
words inside it, each marked ``embedded``. "Insider" there is not "The Insider" (a 1999 film
with the alias "Insider"), nor "Business" business studies (alias "Business"): a longer name
uses its words as words, and a thing is written inside it only by its own label ("Titanic" in
"Titanic Exhibition Opens"). Readings the word reaches only through an alias, or through a
label with its article ("The Insider"), are dropped, and a word left without readings is no
span: the run is reported as one name the KB lacks (NIL). Kept: people (a surname is how a
name is written: "Obama Administration"), and a word before a title ("Bundesbank President
Karl Otto Poehl"), where the run is the office holder's, not a longer name.
"""
from __future__ import annotations

from .kb.dump import is_person
from .ranker import title_follows
from .spotter import Span


def _titled_otherwise(kb, eid: int, word: str) -> bool:
    rec = kb.record(eid)
    return rec["l"].lower() != word.lower() and not is_person(rec)


def drop_readings_lent_by_unknown_names(kb, text: str, spans: list[Span]) -> list[Span]:
    """The spans, without the readings an embedded word reaches other than by their label; a
    span left without readings is dropped (its run of capitals is then one NIL name)."""
    out: list[Span] = []
    for sp in spans:
        if sp.embedded and " " not in sp.text and sp.candidates and not title_follows(text, sp.end):
            kept = [c for c in sp.candidates if not _titled_otherwise(kb, c[0], sp.text)]
            if not kept and not sp.given:
                continue
            sp.candidates = kept
        out.append(sp)
    return out
