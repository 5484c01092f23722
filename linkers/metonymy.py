"""Metonymy that the story settles: a name that stands for something else it is related to.

- **A bare institution** ("Congress", "the Senate", "the Treasury", "the Navy") is the
  institution of the country the story is about. The story's country is the one its other
  mentions name most (a country, or a place in it, by their likeliest reading; counting
  organisations' countries too was measured: reuters-128 +0.001, rss-500 -0.006 in-KB F1). Readings of
  the bare name whose label or description name that country are favoured ("United States
  Senate", "bicameral legislature of the United States"); when the name is also a common
  noun, or the KB has no reading for it at all, the country's own institution is looked up
  by how such names are written: "<country> <name>", "<name> of <country>", "<country>
  Department of the <name>" ("United States Department of the Treasury").
- **A capital that acts** ("Washington said", "Moscow warned", "Moscow's position") is the
  government of the country whose capital it is (the country's P36), found as "Government
  of <country>" / "<country> government"; where the KB has no such item, the city stays.
- **A place named for its team in a sports story** ("Chelsea beat Newcastle 2-1"): in a text
  with a match score, a name's sports-team readings, and the clubs named after it as clubs
  are named ("FC Barcelona", "Chelsea F.C."), are favoured.

Each rule favours readings (``Weights.story`` in the ranker); context and coherence still
weigh in. Names of countries come from the KB (label and aliases), never from a list here.
"""
from __future__ import annotations

import bisect
import re
from functools import lru_cache

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .demonyms import is_country
from .facts import entity_kind
from .fastpath import compiled_or
from .kb.layout import FLAG_LOWER
from .ranker import LANGUAGE_OR_PEOPLE
from .spotter import CANDIDATE_WINDOW, Span
from .text import alias_key

# Types of sports teams and clubs (association football club, sports club, sports team,
# baseball, basketball, ice hockey and American football teams).
TEAM_TYPES = frozenset({"Q476028", "Q847017", "Q12973014", "Q13027888", "Q13393265", "Q4498974", "Q17156793"})
# How a country's institution is named from its bare name N and a name A of the country.
INSTITUTION_PATTERNS = ("{a} {n}", "{n} of {a}", "{n} of the {a}", "{a} Department of the {n}",
                        "{a} Department of {n}", "{a} {n} Department")
# How a club is named from its place N ("FC Barcelona", "Chelsea F.C.").
TEAM_PATTERNS = ("{n} F.C.", "{n} FC", "FC {n}", "{n} CF", "AC {n}", "A.C. {n}")
# Claims that say whose an institution or an office is: applies to jurisdiction, country.
JURISDICTION = ("P1001", "P17")
GOVERNMENT_PATTERNS = ("Government of {a}", "Government of the {a}", "{a} government", "Federal Government of the {a}")
# Words after which a place is where something happens, not who acts.
PLACE_PREPOSITIONS = frozenset("in at from to near into outside around of via toward towards across".split())
# A match score: "2-1", "3–0", "101-99". Written to start with the digit, the "no digit, dot,
# comma, slash or dash before it" test after it (a look-behind over both): a pattern that starts
# with what its first character must be lets the regex engine skip other characters fast (a
# leading look-ahead or ``\b`` does not: every position is tried, ~0.1 ms a 4 KB article). The
# same matches as first written (``tests/test_fastpath.py``).
SCORE_RE = re.compile(r"\d(?<![\d.,/-]\d)\d{0,2}\s?[-\u2013]\s?\d{1,3}(?![\d.,/-])")


def _score_scan(text: str) -> bool:
    """``SCORE_RE.search(text) is not None``, in one pass over the characters. A match's first
    digit has no digit, ".", ",", "/" or "-" before it, and no digit can stand between its
    digits and the dash, so its digits are a whole run of one to three decimal digits
    (``\\d``: ``str.isdecimal()``); what follows a run is read at its end
    (``_score_after``). Compiled (``metonymy.pxd``), C characters: the regex engine tested
    every character of the text against its first class (~30 us a 4 KB article)."""
    run = 0             # decimal digits in the run being read
    may_start = False   # the character before the run allows a score
    before = " "
    at = 0
    for ch in text:
        if ("0" <= ch <= "9") or (ch >= "\x80" and ch.isdecimal()):
            if not run:
                may_start = not (before == "." or before == "," or before == "/" or before == "-")
            run += 1
        else:
            if run and run <= 3 and may_start and _score_after(text, at):
                return True
            run = 0
        before = ch
        at += 1
    return False        # a run that ends the text has no dash after it


def _score_after(text: str, at: int) -> bool:
    """After a run of digits ending at ``at``: a whitespace character or none, a dash ("-" or
    "\u2013"), a whitespace character or none, then a whole run of one to three decimal
    digits with no ".", ",", "/" or "-" after it."""
    n = len(text)
    if text[at] == "-" or text[at] == "\u2013":
        at += 1
    elif at + 1 < n and text[at].isspace() and (text[at + 1] == "-" or text[at + 1] == "\u2013"):
        at += 2
    else:
        return False
    if at < n and text[at].isspace():
        at += 1
    end = at
    while end < n and text[end].isdecimal():
        end += 1
    if not 1 <= end - at <= 3:
        return False
    return end == n or not (text[end] == "." or text[end] == "," or text[end] == "/" or text[end] == "-")


def _score_search_reference(text: str) -> bool:
    return SCORE_RE.search(text) is not None


has_score = compiled_or(_score_scan, _score_search_reference)

# What a capital standing for its government does next ("Moscow said", "Washington has warned").
AGENT_VERBS = frozenset("""
said says say told warned warns accused accuses rejected rejects denied denies demanded demands
wants want urged urges announced announces insisted insists responded responds refused refuses
threatened threatens called calls agreed agrees signaled signalled signals has had will would
is was
""".split())


@lru_cache(maxsize=1024)
def country_names(kb, eid: int) -> tuple[str, ...]:
    """A country's label and aliases that read as its name (not codes or emoji)."""
    rec = kb.record(eid)
    names = [rec["l"]] + [a for a in rec["a"] if a[:1].isalpha() and (len(a) >= 4 or "." in a)]
    return tuple(dict.fromkeys(n.removeprefix("the ") for n in names if n))


@lru_cache(maxsize=16384)
def _name_pattern(name: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")


def _names_country(text: str, names: tuple[str, ...]) -> bool:
    # a name that is not in the text as a substring cannot match: most are not, and the
    # pattern of each name was compiled per call (re's own cache holds 512 patterns)
    return any(n in text and _name_pattern(n).search(text) is not None for n in names)


@cython.locals(sp=Span)
def story_countries(kb, spans: list[Span]) -> list[int]:
    """The countries the text names, directly or through a place in them (each mention by its
    likeliest reading), the most named first: the first is the country the story is about."""
    votes: dict[int, int] = {}
    country_of: dict[int, int | None] = {}      # by likeliest reading: a name recurs
    for sp in spans:
        if not sp.candidates:
            continue
        top = sp.candidates[0][0]
        if top in country_of:
            country = country_of[top]
        else:
            country = country_of[top] = _country_named(kb, top)
        if country is not None:
            votes[country] = votes.get(country, 0) + 1
    return sorted(votes, key=lambda eid: (votes[eid], kb.popularity(eid)), reverse=True)


def _country_named(kb, eid: int) -> int | None:
    """The country a mention read as ``eid`` names: itself if a country, a place's first
    country (P17), else None."""
    if is_country(kb, eid):
        return eid
    if _kind(kb, eid) == "place":
        for v in kb.record(eid)["c"].get("P17", ())[:1]:
            return kb.internal_id(v["v"]) if v.get("k") == "i" else None
    return None


def _patterned(kb, patterns, name: str, country: int) -> list[int]:
    found: list[int] = []
    for a in country_names(kb, country):
        for pattern in patterns:
            found += [eid for eid, _p, f in kb.candidates(alias_key(pattern.format(a=a, n=name)), 5)
                      if not f & FLAG_LOWER]
    return list(dict.fromkeys(found))


def _is_team(kb, eid: int) -> bool:
    return any(t in TEAM_TYPES for t in kb.record(eid)["t"])


def _capital_of(kb, eid: int) -> int | None:
    """The country whose capital the place is: one of its countries (P17) has it as capital
    (P36), or its description says it is the capital of one ("capital city of the United
    States"). Countries that still exist (no P576 dissolution) first, then the more popular."""
    rec = kb.record(eid)
    qid = rec["id"]
    countries = [c for c in (kb.internal_id(v["v"]) for v in rec["c"].get("P17", ()) if v.get("k") == "i")
                 if c is not None]
    says_capital = "capital" in rec["d"].split(" of ")[0]
    named = [c for c in countries
             if any(v.get("v") == qid for v in kb.record(c)["c"].get("P36", ()))
             or (says_capital and _names_country(rec["d"], country_names(kb, c)))]
    if not named:
        return None
    return max(named, key=lambda c: ("P576" not in kb.record(c)["c"], kb.popularity(c)))


def _acts(text: str, start: int, end: int) -> bool:
    """The name is the subject of a verb of saying or doing ("Moscow said", "Washington and
    Moscow traded"), or possessive ("Moscow's"); not after a preposition ("met in Washington")."""
    before = text[max(0, start - 12):start].split()
    if before and before[-1].lower() in PLACE_PREPOSITIONS:
        return False
    if text[end:end + 2] in ("'s", "\u2019s"):
        return True
    rest = text[end:end + 80].split()
    while len(rest) >= 3 and rest[0] == "and" and rest[1][:1].isupper():
        rest = rest[2:]                 # "... and Moscow traded": the verb after the list
    if not rest:
        return False
    verb = rest[0].strip(",.;:")
    return verb.lower() in AGENT_VERBS or (verb.islower() and verb.endswith("ed") and len(verb) > 4)


@lru_cache(maxsize=65536)
def _kind(kb, eid: int) -> str:
    return entity_kind(kb.record(eid))


@lru_cache(maxsize=65536)
def _is_common_noun(kb, key: str) -> bool:
    """The name is also a common noun ("senate", "treasury"): the KB has a lower-case reading."""
    return any(f & FLAG_LOWER for _e, _p, f in kb.candidates(key, CANDIDATE_WINDOW))


@lru_cache(maxsize=65536)
def _names_of_country(kb, eid: int, country: int) -> bool:
    """The entity is the country's: its jurisdiction (P1001) or country (P17) is, or its label
    or description names it ("United States Senate", "Head of the U.S. Department of State")."""
    rec = kb.record(eid)
    qid = kb.record(country)["id"]
    if any(v.get("v") == qid for p in JURISDICTION for v in rec["c"].get(p, ())):
        return True
    return _names_country(rec["l"] + " " + rec["d"], country_names(kb, country))


@lru_cache(maxsize=65536)
def _is_institution(kb, eid: int) -> bool:
    """An organisation, or an office (what applies to a jurisdiction, P1001)."""
    return _kind(kb, eid) == "organization" or "P1001" in kb.record(eid)["c"]


def _country_readings(kb, institutions: list[int], country: int) -> set[int]:
    """The institutions among a bare name's readings that are ``country``'s."""
    return {eid for eid in institutions if _names_of_country(kb, eid, country)}


@lru_cache(maxsize=16384)
def _institutions(kb, name: str, country: int) -> tuple[int, ...]:
    """The country's organisations named by ``name`` as institutions are written."""
    return tuple(eid for eid in _patterned(kb, INSTITUTION_PATTERNS, name, country) if _kind(kb, eid) == "organization")


@lru_cache(maxsize=4096)
def _government(kb, capital: int) -> tuple[int, ...]:
    country = _capital_of(kb, capital)
    return tuple(_patterned(kb, GOVERNMENT_PATTERNS, "", country)) if country is not None else ()


@lru_cache(maxsize=16384)
def _teams(kb, name: str) -> tuple[int, ...]:
    return tuple(eid for pattern in TEAM_PATTERNS
                 for eid, _p, _f in kb.candidates(alias_key(pattern.format(n=name)), 5) if _is_team(kb, eid))


@cython.locals(sp=Span)
def favoured_readings(kb, text: str, spans: list[Span]) -> tuple[list[Span], dict[int, set[int]]]:
    """The spans (with institution readings added, and spans for bare institutions the KB has
    only as common nouns) and, by span index, the readings the story favours."""
    sports = has_score(text)
    out = list(spans)
    # the story's country, only if some span may be a bare institution (most texts have one)
    country, named = None, []
    if any(sp.candidates and sp.text.count(" ") < 3 and _kind(kb, sp.candidates[0][0]) in ("organization", "other")
           for sp in spans) or _the_names(text):
        named = story_countries(kb, spans)
        country = named[0] if named else None
    if country is not None:
        more = _unspotted_institutions(kb, text, spans, country)
        if more:
            out = sorted(out + more, key=lambda sp: sp.start)
    favoured: dict[int, set[int]] = {}
    # what a bare institution's name favours, by its text, key and readings: two thirds of a
    # news article's mentions repeat an earlier one, and the answer reads nothing else
    bare: dict[tuple, tuple[tuple[int, ...], set[int]]] = {}
    for i, sp in enumerate(out):
        if not sp.candidates:
            continue
        top = sp.candidates[0][0]
        top_kind = _kind(kb, top)
        if country is not None and top_kind in ("organization", "other") and sp.text.count(" ") < 3:
            key = (sp.text, sp.key, tuple(sp.candidates))
            found = bare.get(key)
            if found is None:
                found = bare[key] = _bare_institution(kb, sp, country, named)
            own, mine = found
            if own:
                have = {eid for eid, _p, _f in sp.candidates}
                sp.candidates = sp.candidates + [(eid, 1.0, 0) for eid in own if eid not in have]
                favoured.setdefault(i, set()).update(own)
            elif mine:
                favoured.setdefault(i, set()).update(mine)
        if top_kind == "place" and _government(kb, top) and _acts(text, sp.start, sp.end):
            # the government is what the capital's name means here: it takes the name's best
            # prior (the KB may list it under the name, far down)
            government = set(_government(kb, top))
            sp.candidates = ([c for c in sp.candidates if c[0] not in government]
                             + [(eid, sp.candidates[0][1], 0) for eid in government])
            favoured.setdefault(i, set()).update(government)
        if sports:
            teams = {eid for eid, _p, _f in sp.candidates if _is_team(kb, eid)} | set(_teams(kb, sp.text))
            if teams:
                # the team is what the place's name means here: it takes the name's best prior
                sp.candidates = ([c for c in sp.candidates if c[0] not in teams]
                                 + [(eid, sp.candidates[0][1], 0) for eid in teams])
                favoured.setdefault(i, set()).update(teams)
    return out, favoured


@cython.locals(sp=Span)
def _bare_institution(kb, sp: Span, country: int, named: list[int]) -> tuple[tuple[int, ...], set[int]]:
    """For a span that may be a bare institution ("Congress"): the story country's own
    institutions of that name, to add as readings (``own``), else the readings to favour
    (``mine``): those that are institutions of the story's country, or of another country it
    names."""
    top = sp.candidates[0][0]
    institutions: list[int] = []
    if not is_country(kb, top) and not any(t in LANGUAGE_OR_PEOPLE for t in kb.record(top)["t"]):
        institutions = [eid for eid, _p, _f in sp.candidates if _is_institution(kb, eid)]
    mine = _country_readings(kb, institutions, country)
    # the country's institution of that name, as such names are written
    own = _institutions(kb, sp.text, country) if mine or _is_common_noun(kb, sp.key) else ()
    if institutions and not mine and not own:
        # the story's country has none by that name: an institution or office of
        # another country the story names is meant ("Secretary of State" in a story
        # about Ukraine that quotes Washington), the most named first; only among the
        # name's own readings, never looked up by pattern for a country named in passing
        mine = next((found for other in named[1:] if (found := _country_readings(kb, institutions, other))), set())
    if own:
        return own, set()
    if mine and not any(_kind(kb, eid) == "place" for eid, _p, _f in sp.candidates):
        return (), mine
    return (), set()


# "the Treasury", "the Supreme Court": up to three capitalised words after "the". The pattern
# starts with the literal "he ", which the regex engine finds by comparing characters; a
# pattern starting with a class ("[Tt]") has each character tested against the class, ~7x
# slower over a 4 KB article (33 against 5 us). The "T" or "t" before it, with no word
# character before that, is checked by ``_the_names``; the words are read in a look-ahead,
# so a rejected candidate ("she The Hague") consumes nothing a match after it starts in.
_HE_NAME_RE = re.compile(r"he (?=((?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2})\b)")


def _the_names(text: str) -> list[tuple[int, int]]:
    """The offsets of the capitalised words in each match of
    ``\\b[Tt]he ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2})\\b`` in ``text``, in order, as
    ``finditer`` gives them (``tests/test_fastpath.py`` compares the two): a match starts at
    or after the end of the one before it."""
    out: list[tuple[int, int]] = []
    end = 0
    for m in _HE_NAME_RE.finditer(text):
        t = m.start() - 1
        if t < end or text[t] not in "Tt":     # (t is -1 for a match at 0: below ``end``)
            continue
        if t and (text[t - 1].isalnum() or text[t - 1] == "_"):
            continue                    # ``\b`` before the "T": a word character is ``re``'s ``\w``
        out.append(m.span(1))
        end = m.end(1)
    return out


@cython.locals(sp=Span)
def _unspotted_institutions(kb, text: str, spans: list[Span], country: int) -> list[Span]:
    """Capitalised words after "the" that no span covers and whose lower-case form is a common
    noun the story's country has an institution of ("the Treasury" -> United States Department
    of the Treasury)."""
    out: list[Span] = []
    starts = sorted((sp.start, sp.end) for sp in spans)
    for s, e in _the_names(text):
        k = bisect.bisect_right(starts, (e, e))
        if k and starts[k - 1][1] > s:
            continue                        # a span covers part of it
        name = text[s:e]
        key = alias_key(name)
        if _is_common_noun(kb, key):
            found = _institutions(kb, name, country)
            if found:
                out.append(Span(s, e, name, key, [(eid, 1.0, 0) for eid in found]))
    return out
