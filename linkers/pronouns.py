"""A name that the sentence takes up as "it" or "its", or a surname that acts with no
introduction, is neither a person nor a place named in part: "Ford said it would recall
300,000 trucks", "Delta said it would add flights", "Ford said the recall covers ...".

News names a company by the same word as a person (a president's surname, a painter) or as
the bare name of a county: the KB knows "Ford" mostly as Gerald Ford, "Delta" as Delta State
and three Delta Counties. The sentence settles it when the name acts and the sentence then
refers back to it: a person is "he" or "she", never "it", and a county's council is not
called by half its name. So when every reading of such a name is a person, a part-name (a
surname, a region's name without its "County") or a reading that speaks as "it" (an
organisation or a country), the speakers are favoured: "Bosch said it" is Robert Bosch GmbH,
"Goldman" Goldman Sachs. A name that is also something else by its full name is left alone:
"Colorado said it" keeps the state (not the University of Colorado, also called "Colorado"),
"Toyota" the city, "Lincoln" the town (which speaks only through its council), and a
cycling team once sponsored by Reynolds does not speak for "Reynolds". This is
``Weights.story``, as ``metonymy`` favours the readings a story settles; context and
coherence still weigh in. A name another rule has settled (``metonymy``'s government for
"Moscow said it", ``business``) is left to it.

A one-word name that acts with no introduction is read the same way ("Ford said the recall
covers 300,000 vehicles"): news introduces a person by full name before it writes the surname
alone, so a surname no capitalised word went before earlier in the text, that the sentence
does not take up as "he" or "she", and that the KB does not know mostly as one person (a
share of its prior under ``MOSTLY_ONE_PERSON``), is the organisation. "Gerald Ford pardoned
Nixon ... Ford said" stays the president (``ranker``'s short forms).

Only the pronoun right after the verb is read (at most three lower-case words or a day
between: "said today its", "will open its", "said on Monday it"): "Elop said Nokia will launch
its" is about Nokia. An "it" followed by a form of "be" or "seem" is a dummy subject ("Smith
said it was a mistake", "said it would be hard") and says nothing.
"""
from __future__ import annotations

import re

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .business import is_company
from .demonyms import is_country
from .facts import entity_kind
from .kb.dump import is_person
from .kb.layout import FLAG_ALIAS, FLAG_LABEL, FLAG_PARTIAL
from .spotter import agent_verb_after, AGENT_VERBS, Span

# "<verb of acting> [up to three lower-case words or a day] its" or "... it <not a form of be>".
_TAKEN_UP_AS_IT = re.compile(
    r" (?:%s)(?: (?:[a-z]+|[A-Z][a-z]+day)){0,3}? (?:its\b|it (?!(?:is|was|seems|seemed|appears|(?:would|will|could|might|may|should|can|has|had) (?:be|been))\b)(?=[a-z]))"
    % "|".join(sorted(AGENT_VERBS)))

# "<verb of acting> [the same few words] he/she/his/her": the sentence takes the name up as a person.
_TAKEN_UP_AS_PERSON = re.compile(
    r" (?:%s)(?: (?:[a-z]+|[A-Z][a-z]+day)){0,3}? (?:he|she|his|her)\b" % "|".join(sorted(AGENT_VERBS)))
# A surname is read as mostly one person's when that person has at least this share of the
# word's prior (what the KB's names say of the word) and so needs no introduction.
MOSTLY_ONE_PERSON = 0.5


def speaks(kb, eid: int) -> bool:
    """The entity is one that news has say and do things as "it": an organisation (a company
    by what Wikidata calls it, ``business.is_company``) or a country; not a town (its council
    is meant), a film or a ship."""
    return is_company(kb, eid) or is_country(kb, eid) or entity_kind(kb.record(eid)) == "organization"


def _part_name(flags: int) -> bool:
    """The reading is reached by part of its name only (a surname, a region without "County")."""
    return bool(flags & FLAG_PARTIAL) and not flags & (FLAG_LABEL | FLAG_ALIAS)


def taken_up_as_it(text: str, end: int) -> bool:
    """The name ending at ``end`` acts and the sentence refers back to it as "it"/"its"."""
    return _TAKEN_UP_AS_IT.match(text, end) is not None


# A capitalised word and the capitalised word after it ("Gerald Ford"): the second is
# introduced by a fuller name (read overlapping: "Gerald Rudolph Ford" introduces "Ford").
_FULLER_NAME_RE = re.compile(r"[A-Z][\w.]*(?= ([A-Z][\w'-]*))")


def _introduced(text: str) -> dict[str, int]:
    """Each word written after another capitalised word -> its first such offset."""
    out: dict[str, int] = {}
    for m in _FULLER_NAME_RE.finditer(text):
        out.setdefault(m.group(1), m.end() + 1)
    return out


@cython.locals(sp=Span)
def _acts_as_a_lone_word(text: str, sp: Span) -> bool:
    """One word that acts ("Ford said the recall ...") and that the sentence does not take up
    as "he" or "she"."""
    return (" " not in sp.text and agent_verb_after(text, sp.end)
            and _TAKEN_UP_AS_PERSON.match(text, sp.end) is None)


@cython.locals(sp=Span)
def favoured_speakers(kb, text: str, spans: list[Span], favoured: dict[int, set[int]]) -> None:
    """Adds to ``favoured`` (span index -> readings) the readings that speak as "it" of each
    name the sentence takes up as "it", or that acts with no introduction (see the module
    docstring), whose other readings are all people or part-names."""
    introduced: dict[str, int] | None = None       # read once, for the first lone word that needs it
    for i, sp in enumerate(spans):
        if i in favoured or len(sp.candidates) < 2:
            continue
        it = taken_up_as_it(text, sp.end)
        if not it and not _acts_as_a_lone_word(text, sp):
            continue
        speakers = {eid for eid, _p, _f in sp.candidates if speaks(kb, eid)}
        others = [(eid, flags) for eid, _p, flags in sp.candidates if eid not in speakers]
        if not (speakers and others and all(_part_name(flags) or is_person(kb.record(eid)) for eid, flags in others)):
            continue
        if not it:
            if any(p >= MOSTLY_ONE_PERSON for eid, p, _f in sp.candidates if is_person(kb.record(eid))):
                continue
            if introduced is None:
                introduced = _introduced(text)
            if introduced.get(sp.text, sp.start) < sp.start:
                continue
        favoured[i] = speakers
