"""A name that the sentence takes up as "it" or "its" is not a person: "Ford said it would
recall 300,000 trucks", "Jordan said it would close its border".

News names a company or a country by the same word as a person (a president's surname, a
basketball player): the KB knows "Ford" mostly as Gerald Ford. The sentence settles it when
the name acts and the sentence then refers back to it: a person is "he" or "she", never "it".
So, of a name with readings that are people, the readings that speak as "it" are favoured:
organisations and countries ("Bosch said it" is Robert Bosch GmbH, "Goldman" Goldman Sachs),
not a town ("Lincoln said it would cut jobs": its council, if anyone), a film or a cycling
team that once had the name as a sponsor's ("Reynolds said it filed"). This is
``Weights.story``, as ``metonymy`` favours the readings a story settles; context and
coherence still weigh in. A name another rule has settled (``metonymy``'s government for
"Moscow said it", ``business``) is left to it.

Only the pronoun right after the verb is read (at most three lower-case words or a day
between: "said today its", "will open its", "said on Monday it"): "Elop said Nokia will launch
its" is about Nokia. An "it" followed by a form of "be" or "seem" is a dummy subject ("Smith
said it was a mistake", "said it would be hard") and says nothing.
"""
from __future__ import annotations

import re

from .business import is_company
from .demonyms import is_country
from .facts import entity_kind
from .kb.dump import is_person
from .spotter import AGENT_VERBS, Span

# "<verb of acting> [up to three lower-case words or a day] its" or "... it <not a form of be>".
_TAKEN_UP_AS_IT = re.compile(
    r" (?:%s)(?: (?:[a-z]+|[A-Z][a-z]+day)){0,3}? (?:its\b|it (?!(?:is|was|seems|seemed|appears|(?:would|will|could|might|may|should|can|has|had) (?:be|been))\b)(?=[a-z]))"
    % "|".join(sorted(AGENT_VERBS)))


def speaks(kb, eid: int) -> bool:
    """The entity is one that news has say and do things as "it": an organisation (a company
    by what Wikidata calls it, ``business.is_company``) or a country; not a town (its council
    is meant), a film or a ship."""
    return is_company(kb, eid) or is_country(kb, eid) or entity_kind(kb.record(eid)) == "organization"


def taken_up_as_it(text: str, end: int) -> bool:
    """The name ending at ``end`` acts and the sentence refers back to it as "it"/"its"."""
    return _TAKEN_UP_AS_IT.match(text, end) is not None


def favoured_non_persons(kb, text: str, spans: list[Span], favoured: dict[int, set[int]]) -> None:
    """Adds to ``favoured`` (span index -> readings) the readings that speak as "it" of each
    name the sentence takes up as "it", when some of its readings are people."""
    for i, sp in enumerate(spans):
        if i in favoured or len(sp.candidates) < 2 or not taken_up_as_it(text, sp.end):
            continue
        things = {eid for eid, _p, _f in sp.candidates if speaks(kb, eid)}
        if things and any(is_person(kb.record(eid)) for eid, _p, _f in sp.candidates):
            favoured[i] = things
