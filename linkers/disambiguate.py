"""Spans the caller already found (a NIF document's phrases, GERBIL's D2KB task), made into
``spotter.Span``s with the KB's candidates for their words, for the ranker to disambiguate.

Nothing is re-spotted: a given span keeps its exact offsets, no other name is added, and a span
no alias matches comes back as a NIL mention. A given span the spotter would have found too is
taken with the spotter's reading of it (a person cue before it, a list of names it is in, a
capitalised word's prior without the common noun's: "her husband Seal", "Clapton, Beck, and
Page", "the Moon"), but not its doubts about the span being a name at all (a modifier, a part of
a longer capitalised run): the caller says it is one. In-KB F1 with the gold spans given
(``factlink eval --given-spans``, 2026-12-06, linker 0.6), without -> with the spotter's reading:
reuters-128 0.830 -> 0.834, kore50 0.679 -> 0.737, rss-500 0.683 -> 0.679, derczynski 0.697 ->
0.697, spotlight 0.715 -> 0.715. Any other given span gets the spotter's candidate rules that
are about the name itself (a name given as a lower-case word may be a common noun's entity; an
acronym-only name needs an all-caps mention; given-name index entries are for the ranker's
given-name rule only).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .errors import InvalidInput
from .kb.layout import FLAG_ACRONYM, FLAG_GIVEN, FLAG_LOWER
from .spotter import CANDIDATE_WINDOW, MAX_CANDIDATES, Span, spot
from .text import alias_key, case_class

MAX_GIVEN_MENTIONS = 10_000


def check_mentions(text: str, mentions: Iterable) -> list[tuple[int, int]]:
    """Given ``(start, end)`` code point offsets -> sorted, without repeats; InvalidInput for
    an offset outside the text, an empty span or a span of only spaces."""
    out = set()
    for k, pair in enumerate(mentions):
        if k >= MAX_GIVEN_MENTIONS:
            raise InvalidInput(f"more than {MAX_GIVEN_MENTIONS} given mentions", field="mentions")
        try:
            start, end = pair
        except (TypeError, ValueError):
            raise InvalidInput(f"mention {k} is not a (start, end) pair",
                               field="mentions") from None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise InvalidInput(f"mention {k}: offsets must be integers", field="mentions")
        if not 0 <= start < end <= len(text):
            raise InvalidInput(f"mention {k}: [{start}, {end}) is not a span of the "
                               f"{len(text)}-character text", field="mentions")
        if not text[start:end].strip():
            raise InvalidInput(f"mention {k}: [{start}, {end}) is only white space",
                               field="mentions")
        out.add((start, end))
    return sorted(out)


def _name(surface: str, kb) -> tuple[str, str]:
    """(alias key, the words that key is of) of a given surface; a possessive ("NATO's") or a
    leading "the" ("the Kremlin") is dropped when only the shorter form is a KB name."""
    key = alias_key(surface)
    if kb.has_key(key):
        return key, surface
    words = surface.strip()
    for shorter in (words[:-2] if key.endswith("'s") else None,
                    words[4:] if key.startswith("the ") else None):
        if shorter and kb.has_key(alias_key(shorter)):
            return alias_key(shorter), shorter
    return key, surface


def given_spans(text: str, kb, mentions: Iterable) -> list[Span]:
    given = check_mentions(text, mentions)
    spotted = {(sp.start, sp.end): sp for sp in spot(text, kb)} if given else {}
    spans = []
    for start, end in given:
        if (start, end) in spotted:
            # the caller says it is a name: the spotter's doubts about that ("Ohio company" as
            # a modifier, "U.S. Subsidiary" as part of a longer run) do not apply
            spans.append(replace(spotted[start, end], embedded=False, modifier=False))
            continue
        surface = text[start:end]
        key, name = _name(surface, kb)
        window = kb.candidates(key, CANDIDATE_WINDOW)
        case = case_class(name)
        cands = [c for c in window if not c[2] & FLAG_GIVEN
                 and (case == 0 or not c[2] & FLAG_LOWER)
                 and (case == 2 or not c[2] & FLAG_ACRONYM)][:MAX_CANDIDATES]
        given = (" " not in name.strip() and case != 2
                 and any(c[2] & FLAG_GIVEN for c in window))
        spans.append(Span(start, end, surface, key, cands, given=given))
    return spans
