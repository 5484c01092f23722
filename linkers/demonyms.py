"""Demonyms and adjectives of places used before a noun ("Italian officials", "a Kenyan
runner", "Russian troops") name the country, as news gold annotates them.

The country is found from Wikidata, not from a list of words:

- the country's demonym (P1549) is the word;
- the word names a language or a people whose country relations point at the country:
  the country's official language (P37) or language used (P2936) is that language, its
  ethnic group (P172) that people, or the language/people's own country (P17), country of
  origin (P495) or "indigenous to" (P2341) is the country;
- the language/people's description names the country ("citizens or residents of the
  United States of America", "ethnic group native to Japan");
- the word is the country's name with an adjective ending (Kenya-n, Ukrain(e)-ian,
  Japan-ese), which also finds a country for a word the KB has no item for ("Kenyan").

Each way is evidence; the country with most wins (ties: the one a description names first,
then the more popular). A word whose only
evidence is its ending needs a country whose name it extends by an adjective ending.
Only a word used as a modifier before a common noun, or before a title and a name ("French
President Emmanuel Macron": the office is the country's), is read so: "the Italians" and
"speaks Italian" stay the people and the language, and "West German Finance Minister" (the
word ends a longer name) is left alone.
"""
from __future__ import annotations

import bisect
import re
import sys
from functools import lru_cache

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .fastpath import compiled_or, keep_reference
from .ranker import FLAG_DEMONYM, LANGUAGE_OR_PEOPLE
from .spotter import CANDIDATE_WINDOW, COMMON_VERBS, FUNCTION_WORDS, TITLES, Span
from .text import TOKEN_RE, alias_key

# Types of a country: country, sovereign state, state with limited recognition, constituent
# country (England, Scotland).
COUNTRY_TYPES = frozenset({"Q6256", "Q3624078", "Q15634554", "Q3336843"})
# Claims of a country that point at its languages and peoples, and of a language or people
# that point at its countries.
COUNTRY_TO_LANGUAGE = ("P37", "P2936", "P172")
LANGUAGE_TO_COUNTRY = ("P17", "P495", "P2341")
# Adjective endings (English morphology): Kenya-n, Ital(y)-ian, Japan-ese, Pol(and)-ish, Iraq-i.
ADJECTIVE_ENDINGS = ("ian", "an", "ese", "ish", "i", "n", "ic")
# What the bare stem may need back to be the country's name: Ital-y, Ukrain-e, Mexic-o, Pol-and.
STEM_RESTORE = ("", "a", "e", "o", "y", "ia", "land", "and")
# Weights of the evidence (see the module docstring).
EVIDENCE = {"demonym": 3, "claims": 2, "description": 2, "ending": 2}


@lru_cache(maxsize=65536)
def is_country(kb, eid: int) -> bool:
    return any(t in COUNTRY_TYPES for t in kb.record(eid)["t"])


def _item_values(record: dict, props) -> set[str]:
    return {v["v"] for p in props for v in record["c"].get(p, ()) if v.get("k") == "i"}


def _countries_under(kb, key: str) -> list[int]:
    return [eid for eid, _p, _f in kb.candidates(key, CANDIDATE_WINDOW) if is_country(kb, eid)]


@lru_cache(maxsize=4096)
def _countries_in_description(kb, eid: int) -> tuple[int, ...]:
    """Countries a language/people's description names ("native to Japan")."""
    desc = kb.record(eid)["d"]
    words = TOKEN_RE.findall(desc)
    found: list[int] = []
    for i in range(len(words)):
        if not words[i][:1].isupper():
            continue
        for j in range(min(len(words), i + 8), i, -1):    # longest name first
            hits = _countries_under(kb, alias_key(" ".join(words[i:j])))
            if hits:
                found += hits
                break
    return tuple(dict.fromkeys(found))


def _countries_by_ending(kb, word: str) -> list[int]:
    low = word.lower()
    found: list[int] = []
    for ending in ADJECTIVE_ENDINGS:
        stem = low[:-len(ending)] if low.endswith(ending) else None
        if not stem or len(stem) < 3 or not kb.has_prefix(stem):
            continue                # no name starts so: no country to restore
        for restore in STEM_RESTORE:
            if kb.has_key(stem + restore):
                found += _countries_under(kb, stem + restore)
    return list(dict.fromkeys(found))


@lru_cache(maxsize=4096)
def demonym_country(kb, word: str, readings: tuple[int, ...]) -> int | None:
    """The country (internal id) a modifier ``word`` names, given its candidate ``readings``
    (internal ids; the languages and peoples among them are used), or None."""
    languages = [eid for eid in readings if any(t in LANGUAGE_OR_PEOPLE for t in kb.record(eid)["t"])]
    lang_qids = {kb.record(eid)["id"] for eid in languages}
    score: dict[int, int] = {}
    named_at: dict[int, int] = {}      # country -> its place among those descriptions name

    def add(eid: int, kind: str) -> None:
        score[eid] = score.get(eid, 0) + EVIDENCE[kind]

    by_ending = _countries_by_ending(kb, word)
    pool = set(by_ending)
    for eid in languages:
        rec = kb.record(eid)
        for qid in _item_values(rec, LANGUAGE_TO_COUNTRY):
            country = kb.internal_id(qid)
            if country is not None and is_country(kb, country):
                pool.add(country)
                add(country, "claims")
        for country in _countries_in_description(kb, eid):
            pool.add(country)
            add(country, "description")
            named_at.setdefault(country, len(named_at))
    for country in pool:
        rec = kb.record(country)
        if any(v.get("v") == word for v in rec["c"].get("P1549", ())):
            add(country, "demonym")
        if lang_qids & _item_values(rec, COUNTRY_TO_LANGUAGE):
            add(country, "claims")
    for country in by_ending:
        add(country, "ending")
    if not score:
        return None
    # ties: the country a description names first ("originating in the Netherlands and
    # Belgium"), then the more popular
    return max(score, key=lambda eid: (score[eid], -named_at.get(eid, len(named_at)), kb.popularity(eid)))


# What may follow a modifier before its noun: other coordinated modifiers ("British and
# American diplomats", "Dutch, Polish and Czech firms"), then the noun's first word.
_NOUN_AFTER_RE = re.compile(r"(?:,? (?:and|or) [A-Z][\w'-]*|, [A-Z][\w'-]*)* ([a-z]+)(?![\w'-])")


# A title written before a name: up to two capitalised words, the last a title word, then a
# capitalised word ("French President Emmanuel Macron", "Russian Foreign Minister Sergei Lavrov").
_TITLE_AFTER_RE = re.compile(r" ([A-Z][a-z]+)\.?(?: ([A-Z][a-z]+)\.?)? [A-Z]")


# A capitalised word just before a span: the span ends a longer name ("West German").
_CAPITALISED_BEFORE_RE = re.compile(r"\b[A-Z][\w'-]* $")
_WORD_RUN_CHAR = re.compile(r"[\w'-]")
# where ``_capitalised_before`` starts reading, before the end (further back inside a word)
_CAPITALISED_BEFORE_WINDOW = 64


def _capitalised_before(text: str, end: int) -> bool:
    """``_CAPITALISED_BEFORE_RE.search(text, 0, end)``, reading only the last word before
    ``end``. A match ends at ``end`` (``$``; or before a last newline), so it lies within the
    run of word characters before the final space: a search from a window's start, moved back
    to the start of a word it cuts, finds a match whenever one from the text's start does (the
    ``\\b`` before it sees the character before the window). Searched from the text's start,
    each modifier in an article cost a scan of all the text before it: quadratic in the length
    of the text, ~4% of the instructions of linking a 32 KB article and ~15% of a 128 KB one."""
    lo = max(0, end - _CAPITALISED_BEFORE_WINDOW)
    while lo > 0 and _WORD_RUN_CHAR.match(text, lo - 1) is not None:
        lo -= 1
    return _CAPITALISED_BEFORE_RE.search(text, lo, end) is not None


def _capitalised_before_reference(text: str, end: int) -> bool:
    """The original of ``_capitalised_before`` (``linkers.fastpath.reference_paths``)."""
    return _CAPITALISED_BEFORE_RE.search(text, 0, end) is not None


keep_reference(sys.modules[__name__], "_capitalised_before", _capitalised_before_reference)


def _titles_a_name(text: str, end: int) -> bool:
    """The word ending at ``end`` opens a title before a name ("French President Emmanuel
    Macron"): the office is that country's, so the word names the country as before a noun."""
    m = _TITLE_AFTER_RE.match(text, end)
    return m is not None and any(w and w.lower() in TITLES for w in m.groups())


def _modifies_noun(text: str, end: int) -> bool:
    """The word ending at ``end`` is used before a common noun, directly ("Italian officials")
    or coordinated with others that are ("British and American diplomats"), or before a title
    and a name ("Russian President Vladimir Putin"); a verb or a function word after it says
    it is not ("Apple said", as ``spotter._before_common_noun``)."""
    if _titles_a_name(text, end):
        return True
    m = _NOUN_AFTER_RE.match(text, end)
    if m is None:
        return False
    noun = m.group(1)
    return noun not in FUNCTION_WORDS and not noun.endswith("ed") and noun not in COMMON_VERBS


# A capitalised word with an adjective ending: "Kenyan", "Japanese", "Iraqi".
# (The word boundary before it written as a look-behind after the capital: the regex engine then
# skips to the capitals, as for ``metonymy.SCORE_RE``.)
_ADJECTIVE_WORD_RE = re.compile(r"[A-Z](?<!\w[A-Z])[a-z]{2,}(?:" + "|".join(ADJECTIVE_ENDINGS) + r")\b")


def _adjective_word_scan(text: str) -> list[tuple[int, int]]:
    """The spans of ``_ADJECTIVE_WORD_RE.finditer(text)``, in one pass over the characters: a
    capital A-Z with no word character before it (``\\w``: ``str.isalnum()`` or "_"), then
    letters a-z up to a word boundary (no word character after them: inside the run no
    position is one, so a match ends at the run's end or not at all), the run ending in an
    adjective ending with at least two letters before it (``_adjective_ends``). Compiled
    (``demonyms.pxd``), a loop over C characters: the regex engine tested every character
    of the text against its first class (~45 us a 4 KB article)."""
    out = []
    start = -1          # the capital of the run being read, or -1
    before = " "
    at = 0
    for ch in text:
        if start >= 0 and not ("a" <= ch <= "z"):
            if not (ch.isalnum() or ch == "_") and _adjective_ends(text, start, at):
                out.append((start, at))
            start = -1
        if start < 0 and "A" <= ch <= "Z" and not (before.isalnum() or before == "_"):
            start = at
        before = ch
        at += 1
    if start >= 0 and _adjective_ends(text, start, at):
        out.append((start, at))
    return out


def _adjective_ends(text: str, start: int, end: int) -> bool:
    """The letters after the capital at ``start``, up to ``end``, end in an adjective ending
    with at least two letters before it."""
    for ending in ADJECTIVE_ENDINGS:
        k = len(ending)
        if end - start - 1 < k + 2:
            continue
        m = 0
        while m < k and text[end - k + m] == ending[m]:
            m += 1
        if m == k:
            return True
    return False


def _adjective_word_spans_reference(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _ADJECTIVE_WORD_RE.finditer(text)]


adjective_words = compiled_or(_adjective_word_scan, _adjective_word_spans_reference)


@lru_cache(maxsize=65536)
def _is_language_or_people(kb, eid: int) -> bool:
    return any(t in LANGUAGE_OR_PEOPLE for t in kb.record(eid)["t"])


@cython.locals(sp=Span)
def _may_name_a_country(kb, sp: Span) -> bool:
    """A one-word span that could be a demonym: an adjective ending, or a language or people
    among its likeliest readings (what ``demonym_country`` needs to find anything)."""
    return (" " not in sp.text and bool(sp.candidates)
            and (sp.text.endswith(ADJECTIVE_ENDINGS)
                 or any(_is_language_or_people(kb, eid) for eid, _p, _f in sp.candidates[:3])))


@cython.locals(sp=Span)
def add_demonym_countries(kb, text: str, spans: list[Span]) -> list[Span]:
    """The spans with the country added as a candidate of each one-word modifier that names
    one ("Italian officials"), plus new spans, whose one candidate is the country, for the
    modifiers the KB has no item for ("a Kenyan runner", also at a sentence start)."""
    out = list(spans)
    for sp in spans:
        if " " in sp.text or not _modifies_noun(text, sp.end) or not _may_name_a_country(kb, sp):
            continue
        if _capitalised_before(text, sp.start) and _titles_a_name(text, sp.end):
            continue        # "West German Finance Minister": the word ends a longer name
        readings = tuple(eid for eid, _p, _f in sp.candidates)
        country = demonym_country(kb, sp.text, readings)
        if country is not None and country not in readings:
            sp.modifier = True      # also when coordinated: "British and American diplomats"
            # the country takes the word's best prior: it is that word's reading here
            sp.candidates = sp.candidates + [(country, max(p for _e, p, _f in sp.candidates), FLAG_DEMONYM)]
    starts = None
    for s, e in adjective_words(text):
        if starts is None:
            starts = sorted((sp.start, sp.end) for sp in spans)
        at = bisect.bisect_right(starts, (e, e))
        if (at and starts[at - 1][1] > s) or not _modifies_noun(text, e):
            continue                        # a span covers it, or no noun follows
        word = text[s:e]
        country = demonym_country(kb, word, ())
        if country is not None:
            out.append(Span(s, e, word, alias_key(word), [(country, 1.0, FLAG_DEMONYM)], modifier=True))
    if len(out) > len(spans):
        out.sort(key=lambda sp: sp.start)
    return out
