"""Metonymy that the story settles: a name that stands for something else it is related to.

- **A bare institution** ("Congress", "the Senate", "the Treasury", "the Navy") is the
  institution of the country the story is about. The story's country is the one its other
  mentions name most (a country, or a place in it, by their likeliest reading). Readings of
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

import re
from functools import lru_cache

from .demonyms import is_country
from .facts import entity_kind
from .kb.layout import FLAG_LOWER
from .ranker import LANGUAGE_OR_PEOPLE
from .spotter import CANDIDATE_WINDOW, Span, _is_capitalised_name_token
from .text import alias_key, normalize, tokenize

# Types of sports teams and clubs (association football club, sports club, sports team,
# baseball, basketball, ice hockey and American football teams).
TEAM_TYPES = frozenset({"Q476028", "Q847017", "Q12973014", "Q13027888", "Q13393265", "Q4498974", "Q17156793"})
# How a country's institution is named from its bare name N and a name A of the country.
INSTITUTION_PATTERNS = ("{a} {n}", "{n} of {a}", "{n} of the {a}", "{a} Department of the {n}",
                        "{a} Department of {n}", "{a} {n} Department")
# How a club is named from its place N ("FC Barcelona", "Chelsea F.C.").
TEAM_PATTERNS = ("{n} F.C.", "{n} FC", "FC {n}", "{n} CF", "AC {n}", "A.C. {n}")
GOVERNMENT_PATTERNS = ("Government of {a}", "Government of the {a}", "{a} government", "Federal Government of the {a}")
# Words after which a place is where something happens, not who acts.
PLACE_PREPOSITIONS = frozenset("in at from to near into outside around of via toward towards across".split())
# A match score: "2-1", "3–0", "101-99".
SCORE_RE = re.compile(r"(?<![\d.,/-])\d{1,3}\s?[-\u2013]\s?\d{1,3}(?![\d.,/-])")
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


def _names_country(text: str, names: tuple[str, ...]) -> bool:
    return any(re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", text) for n in names)


def story_country(kb, spans: list[Span]) -> int | None:
    """The country the text is about: the one its mentions name most, directly or through a
    place in it (each mention by its likeliest reading); None when no country is named."""
    votes: dict[int, int] = {}
    for sp in spans:
        if not sp.candidates:
            continue
        top = sp.candidates[0][0]
        if is_country(kb, top):
            votes[top] = votes.get(top, 0) + 1
            continue
        rec = kb.record(top)
        if entity_kind(rec) == "place":
            for v in rec["c"].get("P17", ())[:1]:
                country = kb.internal_id(v["v"]) if v.get("k") == "i" else None
                if country is not None:
                    votes[country] = votes.get(country, 0) + 1
    if not votes:
        return None
    return max(votes, key=lambda eid: (votes[eid], kb.popularity(eid)))


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


def _acts(norm: str, start: int, end: int) -> bool:
    """The name is the subject of a verb of saying or doing ("Moscow said", "Washington and
    Moscow traded"), or possessive ("Moscow's"); not after a preposition ("met in Washington")."""
    before = norm[max(0, start - 12):start].split()
    if before and before[-1].lower() in PLACE_PREPOSITIONS:
        return False
    if norm[end:end + 2] in ("'s", "\u2019s"):
        return True
    rest = norm[end:end + 80].split()
    while len(rest) >= 3 and rest[0] == "and" and rest[1][:1].isupper():
        rest = rest[2:]                 # "... and Moscow traded": the verb after the list
    if not rest:
        return False
    verb = rest[0].strip(",.;:")
    return verb.lower() in AGENT_VERBS or (verb.islower() and verb.endswith("ed") and len(verb) > 4)


def favoured_readings(kb, text: str, spans: list[Span]) -> tuple[list[Span], dict[int, set[int]]]:
    """The spans (with institution readings added, and spans for bare institutions the KB has
    only as common nouns) and, by span index, the readings the story favours."""
    norm = normalize(text)
    country = story_country(kb, spans)
    sports = SCORE_RE.search(norm) is not None
    out = list(spans)
    if country is not None:
        out += _unspotted_institutions(kb, text, norm, spans, country)
        out.sort(key=lambda sp: sp.start)
    favoured: dict[int, set[int]] = {}
    for i, sp in enumerate(out):
        if not sp.candidates:
            continue
        kinds = {eid: entity_kind(kb.record(eid)) for eid, _p, _f in sp.candidates}
        if country is not None and len(sp.text.split()) <= 3:
            names = country_names(kb, country)
            # a bare institution: readings that are organisations of the story's country
            mine = {eid for eid, kind in kinds.items() if kind == "organization"
                    and _names_country(kb.record(eid)["l"] + " " + kb.record(eid)["d"], names)}
            if kinds[sp.candidates[0][0]] not in ("organization", "other") or is_country(kb, sp.candidates[0][0]) \
                    or any(t in LANGUAGE_OR_PEOPLE for t in kb.record(sp.candidates[0][0])["t"]):
                mine = set()        # a name whose likeliest reading is a place, a person, a people
            own = []        # the country's institution of that name, as such names are written
            if mine or any(f & FLAG_LOWER for _e, _p, f in kb.candidates(sp.key, CANDIDATE_WINDOW)):
                own = [eid for eid in _patterned(kb, INSTITUTION_PATTERNS, sp.text, country)
                       if entity_kind(kb.record(eid)) == "organization"]
            if own:
                sp.candidates = sp.candidates + [(eid, 1.0, 0) for eid in own if eid not in kinds]
                favoured.setdefault(i, set()).update(own)
            elif mine and not any(kind == "place" for kind in kinds.values()):
                favoured.setdefault(i, set()).update(mine)
        top = sp.candidates[0][0]
        if kinds.get(top) == "place" and _acts(norm, sp.start, sp.end):
            capital_of = _capital_of(kb, top)
            if capital_of is not None:
                government = set(_patterned(kb, GOVERNMENT_PATTERNS, "", capital_of))
                if government:
                    # the government is what the capital's name means here: it takes the
                    # name's best prior (the KB may list it under the name, far down)
                    sp.candidates = ([c for c in sp.candidates if c[0] not in government]
                                     + [(eid, sp.candidates[0][1], 0) for eid in government])
                    favoured.setdefault(i, set()).update(government)
        if sports:
            teams = {eid for eid, _p, _f in sp.candidates if _is_team(kb, eid)}
            teams |= {eid for pattern in TEAM_PATTERNS
                      for eid, _p, _f in kb.candidates(alias_key(pattern.format(n=sp.text)), 5) if _is_team(kb, eid)}
            if teams:
                # the team is what the place's name means here: it takes the name's best prior
                sp.candidates = ([c for c in sp.candidates if c[0] not in teams]
                                 + [(eid, sp.candidates[0][1], 0) for eid in teams])
                favoured.setdefault(i, set()).update(teams)
    return out, favoured


def _unspotted_institutions(kb, text: str, norm: str, spans: list[Span], country: int) -> list[Span]:
    """Capitalised words no span covers whose lower-case form is a common noun the story's
    country has an institution of ("the Treasury" -> United States Department of the Treasury)."""
    covered = [False] * len(norm)
    for sp in spans:
        for k in range(sp.start, sp.end):
            covered[k] = True
    toks = tokenize(norm)
    out: list[Span] = []
    k = 0
    while k < len(toks):
        s, e = toks[k]
        if covered[s] or not _is_capitalised_name_token(norm, s, e) or not norm[s:e].isalpha():
            k += 1
            continue
        j = k
        while j + 1 < len(toks) and norm[toks[j][1]:toks[j + 1][0]] == " " and not covered[toks[j + 1][0]] \
                and _is_capitalised_name_token(norm, *toks[j + 1]) and j - k < 2:
            j += 1
        name = text[s:toks[j][1]]
        key = alias_key(name)
        if any(f & FLAG_LOWER for _e, _p, f in kb.candidates(key, CANDIDATE_WINDOW)) and k > 0 \
                and norm[toks[k - 1][0]:toks[k - 1][1]].lower() == "the":
            found = [eid for eid in _patterned(kb, INSTITUTION_PATTERNS, name, country)
                     if entity_kind(kb.record(eid)) == "organization"]
            if found:
                out.append(Span(s, toks[j][1], name, key, [(eid, 1.0, 0) for eid in found]))
        k = j + 1
    return out
