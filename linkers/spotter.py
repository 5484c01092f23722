"""Spotting: find the spans of a text that may name an entity.

Longest match of KB alias keys on token boundaries (leftmost-longest, non-overlapping), with
the alias trie's prefix test to stop early. Case-aware: a span must carry an upper-case letter
(news names are capitalised: this keeps "us" from becoming the United States and "dead" from
becoming death), and a name stored as an acronym ("US") only matches an all-caps mention.
A capitalised word mid-sentence ("the Moon") takes the prior of its key's capitalised names
only (not shared with "moon" the common noun).
Possessives ("NATO's", "Russians'") match without their ending. Runs of capitalised words
that match nothing come back as NIL spans, so users see what the KB lacks.
"""
from __future__ import annotations

import re
import sys
from bisect import bisect_right
from dataclasses import dataclass

from .agreements import AGREEMENT_HEADS, agreement_variant
from .fastpath import keep_reference
from .kb.layout import FLAG_ACRONYM, FLAG_ALIAS, FLAG_GIVEN, FLAG_LABEL, FLAG_LOWER, FLAG_PARTIAL
from .facts import entity_kind
from .kb.dump import is_person
from .text import alias_key, case_class, normalize, tokenize

MAX_SPAN_TOKENS = 8
# Candidates kept per mention, by prior: each is scored in Python (context, coherence, its
# record read), so this bound is what keeps linking flat as the KB grows (a full-size KB has
# thousands of "John Smith"s). 15, because the five public benchmarks score the same with 10,
# 15 and 30 (5 costs kore50 0.02 F1), and on synthetic KBs whose names grow more ambiguous
# with size, 30 made linking 1.45x slower at 10M entities than at 100k, 15 1.25x (2026-11-30).
# 15 rather than 10 leaves room for the longer lists of the full dump.
MAX_CANDIDATES = 15
# Names read before dropping lower-case and acronym-only ones (and to weigh common nouns).
CANDIDATE_WINDOW = 120

# Function words: never a name on their own, never evidence of a topic.
FUNCTION_WORDS = frozenset("""
a about above after again against all also although am an and any are as at be because been
before being below between both but by can could did do does doing down during each either
few for from further had has have having he her here hers herself him himself his how however
i if in into is it its itself just last later let many may me meanwhile might more most much
must my myself neither new next no nor not now of off on once one only or other our ours out
over own per same several she should since so some still such than that the their theirs them
then there these they this those though through thus to today too under until up upon us very
was we were what when where whether which while who whom whose why will with within without
would yet you your yours monday tuesday wednesday thursday friday saturday sunday january
february march april may june july august september october november december mr mrs ms dr
said says according year years first second third two three four five six seven eight nine ten
""".split())
# Words that start many news sentences capitalised without naming anything.
STOPWORDS = FUNCTION_WORDS | frozenset("""
percent pct company group government officials official people
""".split())
# Titles and roles before a name: "President Reagan" is spotted as "Reagan".
TITLES = frozenset("""
president vice prime minister chancellor secretary senator sen governor gov king queen prince
princess pope mayor general gen chairman chairwoman chair ceo chief spokesman spokeswoman
spokesperson ambassador judge justice rep representative mr mrs ms dr sir lord lady st saint
colonel col captain capt sergeant lieutenant lt admiral commissioner director professor prof
""".split())
_SENTENCE_END = frozenset('.!?:;"\'')
# A quotation or a quoted title starts capitalised whatever its first word is.
OPENING_QUOTES = frozenset('"\'`\u2018\u201c\u00ab')
COMPANY_SUFFIXES = frozenset("""
inc corp co cos ltd llc plc ag nv sa se gmbh bv corporation incorporated company spa kk ab oyj asa
""".split())
COMMON_VERBS = frozenset("""
is was are were has had have will would said says say told announced plans plan agreed
rose fell gained lost reported expects expected sees saw made makes won wins became becomes
""".split())
# Words right before a name that say it is a person's ("her father Jon", "his wife Laura").
KINSHIP = frozenset("""
father mother husband wife partner son daughter brother sister uncle aunt cousin grandson
granddaughter grandfather grandmother boyfriend girlfriend fiance fiancee widow widower
""".split())
NEWS_AGENCY = "Q192283"
# Romanisations of one Slavic surname ending (-ский/-ський): news and Wikidata often differ.
TRANSLITERATED_ENDINGS = ("skyy", "skyi", "skiy", "skii", "sky", "ski")
# What a club's name ends in that news leaves out ("Crystal Palace" is "Crystal Palace F.C.").
CLUB_SUFFIXES = ("fc", "afc", "cf")
CONNECTORS = frozenset({"of", "de", "du", "la", "le", "von", "van", "der", "den", "for", "and", "&", "the", "al", "bin"})
# What joins the words of one longer name ("Chamber of Commerce", "Children 's Hospital").
RUN_JOINERS = CONNECTORS | {"on", "in"}


@dataclass
class Span:
    start: int                  # code points into the original text
    end: int
    text: str
    key: str                    # alias key ("" for a NIL span)
    candidates: list            # [(internal id, prior, flags)], best prior first
    embedded: bool = False      # inside a longer run of capitalised name words ("Paxar Corp")
    modifier: bool = False      # one word used before a common noun ("Japanese officials")
    given: bool = False         # a lone word that is some people's given name ("Angelina"):
                                # the ranker may add those people as candidates
    person_cue: bool = False    # right after a title or a kinship word ("President Reagan",
                                # "her husband Seal"): the name is a person's
    listed: int | None = None   # the list of names it is an item of ("Clapton, Beck, and Page"):
                                # the index of the list's first span


def _sentence_initial(norm: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and norm[i] in " (\"'[":
        i -= 1
    return i < 0 or norm[i] in _SENTENCE_END or norm[i] == "\n"


def _is_capitalised_name_token(norm: str, start: int, end: int) -> bool:
    tok = norm[start:end]
    if not tok[:1].isupper() and not (tok[:1].isdigit() and any(c.isupper() for c in tok)):
        return False
    # an acronym ("US", "IT") is a name even when its lower-case form is a function word
    return tok.lower() not in STOPWORDS or (len(tok) >= 2 and tok.isupper())


def _possessive_end(norm: str, start: int, end: int) -> int | None:
    if end - start > 2 and norm[end - 2:end] in ("'s", "'S"):
        return end - 2
    return None


def _eligible(norm: str, toks: list[tuple[int, int]], i: int, j: int, named=None, the_name=None) -> bool:
    """A span may name an entity if one of its words is a capitalised name word; a lone
    sentence-initial word must not be a common word. A span starting with a title
    ("President Reagan") is spotted without it, unless ``named()`` says the whole span is
    some entity's own capitalised label ("General Motors", "Chief Keef")."""
    for edge in (i, j):     # "the U.S." is spotted as "U.S."
        if norm[toks[edge][0]:toks[edge][1]].islower() and norm[toks[edge][0]:toks[edge][1]] in STOPWORDS:
            return False
    if j > i and norm[toks[i][0]:toks[i][1]].lower() == "the":
        # "The Fed" at a sentence start is "Fed" (the KB keys names without "the" too), but
        # "The Home Depot" is that company's name with its article
        return bool(the_name and norm[toks[i][0]] == "T" and the_name()
                    and all(_is_capitalised_name_token(norm, *toks[k]) or norm[toks[k][0]:toks[k][1]] in CONNECTORS
                            for k in range(i + 1, j + 1)))
    if j > i and norm[toks[i][0]:toks[i][1]].lower().rstrip(".") in TITLES and not (named and named()):
        return False
    return any(_is_capitalised_name_token(norm, *toks[k]) for k in range(i, j + 1))


def _split_compounds(norm: str, toks: list[tuple[int, int]], kb, key_of) -> list[tuple[int, int]]:
    """A hyphenated word that begins no name of the KB may be two words: a name and a common
    word ("UK-based", "Soviet-era") or two names ("Delhi-Noida", each a name of its own in
    the KB). Not a prefix and a name ("ex-Miami Dolphins" stays as it was spotted).
    "Coca-Cola" (a name), "Bristol-Myers" ("Myers" is only a surname), "T-Mobile" and "IL-2"
    (a letter, a number) stay whole."""
    splits: dict[int, list[tuple[int, int]]] = {}
    for m in _HYPHEN.finditer(norm):
        k = bisect_right(toks, (m.start(), len(norm))) - 1
        if k < 0 or k in splits:
            continue
        s, e = toks[k]
        if not s <= m.start() < e or kb.has_prefix(key_of(s, e)):
            continue
        parts = norm[s:e].split("-")
        names = [p for p in parts if p[:1].isupper()]
        # a name before a common word ("UK-based"), or names only, each its own
        if (all(len(p) >= 2 and p.isalpha() for p in parts) and parts[0] in names
                and (len(names) < len(parts) or all(_own_name(kb, p.lower()) for p in names))):
            at, pieces = s, []
            for part in parts:
                pieces.append((at, at + len(part)))
                at += len(part) + 1
            splits[k] = pieces
    if not splits:
        return toks
    out: list[tuple[int, int]] = []
    for k, tok in enumerate(toks):
        out.extend(splits.get(k, (tok,)))
    return out


def _spelling_variant(kb, key: str) -> str | None:
    """The KB's key for a name that ends in another romanisation of the same Slavic ending
    ("Zelensky" for Wikidata's "Zelenskyi"/"Zelenskyy", "Zelenskiy"), or None."""
    for end in TRANSLITERATED_ENDINGS:
        if key.endswith(end):
            stem = key[:-len(end)]
            return next((stem + other for other in TRANSLITERATED_ENDINGS
                         if other != end and kb.has_key(stem + other)), None)
    return None


def _own_name(kb, key: str) -> bool:
    """Some entity has ``key`` as its capitalised label or alias (not as a surname)."""
    return any(f & (FLAG_LABEL | FLAG_ALIAS) and not f & (FLAG_LOWER | FLAG_ACRONYM)
               for _e, _p, f in kb.candidates(key, CANDIDATE_WINDOW))


def _key_of(norm: str):
    """``key_of(s, e)``: alias_key of a span, by slicing one lower-cased copy when that is
    provably the same: an ASCII span (lower() of ASCII letters needs no context) of a text
    whose lower-cased copy keeps its offsets, with no dots or double spaces to fold. News
    with curly quotes or an accented name is not ASCII as a whole, but its spans mostly are:
    they no longer all take ``alias_key``'s way (~3% of linking a 4 KB article)."""
    lowered = norm.lower()
    if len(lowered) != len(norm):
        lowered = None
    whole = norm.isascii()

    def key_of(s: int, e: int) -> str:
        if lowered is not None:
            k = lowered[s:e]
            if "." not in k and "  " not in k and (whole or norm[s:e].isascii()):
                return k
        return alias_key(norm[s:e])
    return key_of


def _key_of_reference(norm: str):
    """The original ``_key_of`` (``linkers.fastpath.reference_paths``): ASCII texts only."""
    lowered = norm.lower() if norm.isascii() else None

    def key_of(s: int, e: int) -> str:
        if lowered is not None:
            k = lowered[s:e]
            if "." not in k and "  " not in k:
                return k
        return alias_key(norm[s:e])
    return key_of


keep_reference(sys.modules[__name__], "_key_of", _key_of_reference)


def spot(text: str, kb) -> list[Span]:
    norm = normalize(text)
    key_of = _key_of(norm)
    toks = _split_compounds(norm, tokenize(norm), kb, key_of)
    n = len(toks)

    def own_label(key: str):
        # the key is an entity's label written as a proper name (not "prime minister"), or an
        # office's alias ("Secretary of State"); not a person's ("President Putin" is "Putin")
        return lambda: any((f & FLAG_LABEL or (f & FLAG_ALIAS and not is_person(kb.record(e)))) and not f & FLAG_LOWER
                           for e, _p, f in kb.candidates(key, CANDIDATE_WINDOW))

    def the_name(key: str):
        # the key is an entity's label that Wikidata writes with a capital "The" ("The Home
        # Depot"); an alias is not enough ("The Fed", "The House", "The commander")
        return lambda: any(kb.record(e)["l"][:4] == "The " for e, _p, f in kb.candidates(key, CANDIDATE_WINDOW)
                           if f & FLAG_LABEL and not f & FLAG_LOWER)

    def longest(i: int):
        """(last token, end, key) of the longest name starting at token i, or None."""
        best = None
        unmatched = []
        for j in range(i, min(i + MAX_SPAN_TOKENS, n)):
            s, e = toks[i][0], toks[j][1]
            key = key_of(s, e)
            pe = _possessive_end(norm, toks[j][0], e)
            core = key_of(s, pe) if pe is not None else None
            # "Columbus, Ohio" is two mentions: a span never runs across a comma that closes
            # a name of its own.
            comma = norm.find(", ", s, e)
            split = comma != -1 and kb.has_key(key_of(s, comma))
            if not split and core is not None and kb.has_key(core) and _eligible(norm, toks, i, j, own_label(core), the_name(core)):
                best = (j, pe, core)
            matched = not split and kb.has_key(key) and _eligible(norm, toks, i, j, own_label(key), the_name(key))
            if matched:
                best = (j, e, key)
            if not matched and not split and key.endswith(TRANSLITERATED_ENDINGS):
                variant = _spelling_variant(kb, key)
                if variant is not None and _eligible(norm, toks, i, j):
                    best = (j, e, variant)
            if not matched and not split and j > i and key.endswith(AGREEMENT_HEADS):
                variant = agreement_variant(kb, key)     # "Minsk accords": "Minsk agreements"
                if variant is not None and _eligible(norm, toks, i, j):
                    best = (j, e, variant)
            prefix = kb.has_prefix(key)
            if prefix and not matched and not split and j > i:
                unmatched.append((j, e, key))       # a longer name begins so: perhaps a club's
            if not prefix and (core is None or not kb.has_prefix(core)):
                break
        # "Crystal Palace" for "Crystal Palace F.C.": news drops a club's form
        for j, e, key in reversed(unmatched):
            if best is not None and j <= best[0]:
                break
            if kb.has_prefix(key + " "):
                club = next((k for k in (f"{key} {suffix}" for suffix in CLUB_SUFFIXES) if kb.has_key(k)), None)
                if club is not None and _eligible(norm, toks, i, j):
                    return (j, e, club)
        return best

    spans: list[Span] = []
    i = 0
    while i < n:
        first = norm[toks[i][0]:toks[i][1]]
        if first.islower() and first not in CONNECTORS and not (i + 1 < n and norm[toks[i + 1][0]].isupper()):
            i += 1          # a name starts capitalised, or just before a capital ("ancient Greece")
            continue
        best = longest(i)
        if best is not None and best[0] > i and first == "The":
            # "The International Chamber of Commerce" is not "The International" (a film)
            after = longest(i + 1)
            if after is not None and after[1] > best[1]:
                best = None
        if best is not None:
            j, e, key = best
            s = toks[i][0]
            # "Atari Corp", "CBS Inc": a company suffix belongs to the name it follows.
            company = False
            while (j + 1 < n and e == toks[j][1] and norm[e:toks[j + 1][0]] in (" ", ", ")
                   and norm[toks[j + 1][0]:toks[j + 1][1]].lower() in COMPANY_SUFFIXES
                   and norm[toks[j + 1][0]].isupper()):
                j += 1
                e = toks[j][1]
                company = True
            surface = text[s:e]
            acronym_ok = case_class(surface) == 2
            # lists are sorted by prior: a bounded slice keeps the cost flat however ambiguous
            # a name is (a full-size KB has thousands of "John Smith"s)
            window = kb.candidates(key, CANDIDATE_WINDOW)
            cands = [c for c in window if not c[2] & (FLAG_LOWER | FLAG_GIVEN)
                     and (acronym_ok or not c[2] & FLAG_ACRONYM)][:MAX_CANDIDATES]
            # "Calif.", "Mich.": an abbreviation keeps its period when Wikidata writes the
            # name so (California's alias "Calif."); the sentence may end there too.
            if (norm[e:e + 1] == "." and e == toks[j][1] and len(surface) <= 6
                    and any(surface + "." in (rec["l"], *rec["a"]) for rec in map(kb.record, (c[0] for c in cands[:3])))):
                e += 1
                surface = text[s:e]
            initial = _sentence_initial(norm, s)
            # Keys are case-folded, so a key's prior is shared with common nouns ("moon" the
            # natural satellite), which never match a capitalised mention. A capitalised word
            # mid-sentence says "a name": its candidates share the prior without the common
            # nouns' part. Not at a sentence start, after an opening quote or inside a longer
            # name ("Chamber of Commerce"), where the capital says nothing about the word.
            if (i == j and not initial and case_class(surface) == 1 and len(surface) > 1
                    and norm[max(0, s - 3):s].rstrip()[-1:] not in OPENING_QUOTES and not _in_name_run(norm, toks, i, j)):
                common = sum(c[1] for c in window if c[2] & FLAG_LOWER and not c[2] & FLAG_GIVEN)
                if 0 < common < 1:
                    cands = [(eid, prior / (1 - common), flags) for eid, prior, flags in cands]
            single_common = (i == j and initial and norm[s:e].lower() in STOPWORDS)
            embedded = _embedded(norm, toks, i, j) and not (j > i and _in_headline(norm, s))
            given = (i == j and not embedded and not company and not acronym_ok
                     and any(c[2] & FLAG_GIVEN for c in window))
            if embedded:
                # "Dmitry" in "Dmitry Peskov" is not Dmitry Medvedev: a bare given name or
                # surname inside a longer name belongs to that longer name.
                cands = [c for c in cands if not (c[2] & FLAG_PARTIAL and not c[2] & (FLAG_LABEL | FLAG_ALIAS))]
            if company:     # "Boston Corp" is not Boston
                cands = [c for c in cands if entity_kind(kb.record(c[0])) not in ("place", "person")]
            if _agency_credit(norm, s, e):
                # "MOSCOW (Reuters) -", "WASHINGTON (AP) -": the credit after a dateline
                # names a news agency (not Andhra Pradesh), if the KB has one by that name
                agencies = [c for c in cands if NEWS_AGENCY in kb.record(c[0])["t"]]
                total = sum(c[1] for c in agencies)
                if agencies and total > 0:
                    cands = [(eid, prior / total, flags) for eid, prior, flags in agencies]
            if surface in REPOST_MARKERS and _REPOST_AFTER.match(norm, e):
                cands, given = [], False     # "RT @user:" re-posts; it names nothing
            if (cands or given) and not single_common:
                spans.append(Span(s, e, surface, key, cands, embedded=embedded,
                                  modifier=i == j and _before_common_noun(norm, toks, j), given=given,
                                  person_cue=_after_person_cue(norm, toks, i)))
                i = j + 1
                continue
        i += 1
    _mark_lists(norm, spans)
    return spans


# What may stand between two items of a list of names.
LIST_GLUE = frozenset({", ", " and ", ", and ", " or ", ", or ", " & ", " / "})


def _mark_lists(norm: str, spans: list[Span]) -> None:
    """Names separated only by commas and a conjunction ("Clapton, Beck, and Page") are one
    list. Not a partnership's name: "Kidder, Peabody and Co" ends in a company suffix."""
    for a, b in zip(spans, spans[1:]):
        if norm[a.end:b.start] in LIST_GLUE:
            if a.listed is None:
                a.listed = a.start
            b.listed = a.listed
    groups: dict[int, list[Span]] = {}
    for sp in spans:
        if sp.listed is not None:
            groups.setdefault(sp.listed, []).append(sp)
    for members in groups.values():
        last = members[-1]
        after = norm[last.end:last.end + 16].split()
        if (len(after) >= 2 and after[0] in ("and", "&")
                and after[1].lower().rstrip(".,;") in COMPANY_SUFFIXES):
            for sp in members:
                sp.listed = None


# Social posts quoted in the news re-post with a marker before the author's handle
# ("RT @user: ..."): the marker is no name (it is not Rotten Tomatoes).
REPOST_MARKERS = frozenset({"RT", "MT", "HT"})
_REPOST_AFTER = re.compile(r" ?:? ?@\w")
# A clause this long, with this share of its words capitalised, is written in title case.
HEADLINE_WORDS = 4
HEADLINE_SHARE = 0.75
HEADLINE_CHARS = 200


_HYPHEN = re.compile(r"\w-\w")
_NAME_WORD = re.compile(r"[^\W\d_][\w'&.-]*")
_CLAUSE_END = re.compile(r"[!?:;\"()\[\]|]|\.(?=\s|$)")


def _in_headline(norm: str, at: int) -> bool:
    """The clause around offset ``at`` is written in title case ("Kid Cudi Opens Up About
    Cocaine Use"): capitals there do not mark where a name ends, so a name is not "embedded"
    in the capitalised words around it. Asked only of embedded multi-word spans, so it costs
    nothing on the common path."""
    lo = max(0, at - HEADLINE_CHARS)      # a longer clause is no headline: time stays linear
    for m in _CLAUSE_END.finditer(norm, lo, at):
        lo = m.end()
    if lo == at - HEADLINE_CHARS:
        return False
    end = _CLAUSE_END.search(norm, at, at + HEADLINE_CHARS)
    words = _NAME_WORD.findall(norm, lo, end.start() if end else min(len(norm), at + HEADLINE_CHARS))
    return len(words) >= HEADLINE_WORDS and sum(w[0].isupper() for w in words) >= HEADLINE_SHARE * len(words)


_CREDIT_END = re.compile(r"\) ?-")


def _agency_credit(norm: str, s: int, e: int) -> bool:
    """The span is a dateline's credit: in parentheses right before the dash ("(AP) -")."""
    return s > 0 and norm[s - 1] == "(" and _CREDIT_END.match(norm, e) is not None


def _joins_name(norm: str, toks, a: int, b: int) -> bool:
    """Tokens a and b (adjacent) belong to one capitalised name run."""
    gap = norm[toks[a][1]:toks[b][0]]
    return gap in (" ", " & ") and all(_is_capitalised_name_token(norm, *toks[k]) for k in (a, b))


def _is_acronym(tok: str) -> bool:
    return len(tok) >= 2 and tok.isupper()


def _is_title_word(norm: str, toks, k: int) -> bool:
    tok = norm[toks[k][0]:toks[k][1]]
    return tok[:1].isupper() and tok.lower().rstrip(".") in TITLES


def _ends_title(norm: str, toks, k: int) -> bool:
    """Token k ends a title written before a name: a title word ("Ukrainian President",
    "Foreign Minister") or the office after one ("Secretary of State")."""
    if _is_title_word(norm, toks, k):
        return True
    return (k >= 2 and norm[toks[k - 1][0]:toks[k - 1][1]] == "of" and _is_title_word(norm, toks, k - 2)
            and norm[toks[k - 2][1]:toks[k][0]] == " of " and _is_capitalised_name_token(norm, *toks[k]))


def _embedded(norm: str, toks, i: int, j: int) -> bool:
    """The span is part of a longer run of capitalised words: the run probably names
    something else ("Key Tronic Inc" is not "Inc"). Not an office and the name after it: in
    "Secretary of State Antony Blinken" each is its own mention (a one-word title such as
    "Prince" or "Queen" is no mention of its own: it stays embedded)."""
    before = i > 0 and _joins_name(norm, toks, i - 1, i) and not _ends_title(norm, toks, i - 1)
    # a ticker after a name does not make the name part of something longer
    # ("Rockwell International ROK"), but the ticker itself stays embedded
    after = (j + 1 < len(toks) and _joins_name(norm, toks, j, j + 1) and not (j > i and _ends_title(norm, toks, j))
             and not (_is_acronym(norm[toks[j + 1][0]:toks[j + 1][1]])
                      and not _is_acronym(norm[toks[j][0]:toks[j][1]])))
    return before or after


def _in_name_run(norm: str, toks, i: int, j: int) -> bool:
    """Tokens i..j are joined to capitalised words around them, directly or through a joining
    word ("Department of Commerce", "Kenny the Clown", "Children's Hospital"): a longer name
    explains their capitals."""
    if _embedded(norm, toks, i, j):
        return True

    def joined(a: int, b: int) -> bool:         # tokens a < b = a + 2, one joiner between
        mid = norm[toks[a + 1][0]:toks[a + 1][1]]
        if mid == "s" and norm[toks[a][1]:toks[a + 1][0]].strip() == "'":
            pass                                # "Children 's Hospital"
        elif mid not in RUN_JOINERS or norm[toks[a][1]:toks[a + 1][0]] != " ":
            return False
        return norm[toks[a + 1][1]:toks[b][0]] == " "

    return ((i >= 2 and joined(i - 2, i) and _is_capitalised_name_token(norm, *toks[i - 2]))
            or (j + 2 < len(toks) and joined(j, j + 2) and _is_capitalised_name_token(norm, *toks[j + 2])))


def _after_person_cue(norm: str, toks, i: int) -> bool:
    """The token before ``i`` is a title ("President") or a kinship word ("husband")."""
    if i == 0 or norm[toks[i - 1][1]:toks[i][0]] != " ":
        return False
    prev = norm[toks[i - 1][0]:toks[i - 1][1]]
    return _ends_title(norm, toks, i - 1) or (prev.islower() and prev in KINSHIP)


def _before_common_noun(norm: str, toks, j: int) -> bool:
    if j + 1 >= len(toks) or norm[toks[j][1]:toks[j + 1][0]] != " ":
        return False
    nxt = norm[toks[j + 1][0]:toks[j + 1][1]]
    # a noun follows, not a verb or function word ("Japanese officials", not "Apple said")
    return (nxt.islower() and nxt.isalpha() and nxt not in FUNCTION_WORDS
            and not nxt.endswith("ed") and nxt not in COMMON_VERBS)


def nil_spans(text: str, taken: list[Span]) -> list[Span]:
    """Maximal runs of capitalised name words (joined by connectors like 'of') that no
    alias covered; a lone common word at a sentence start is not a name."""
    norm = normalize(text)
    toks = tokenize(norm)
    covered = [False] * len(norm)
    for sp in taken:
        for k in range(sp.start, sp.end):
            covered[k] = True
    out: list[Span] = []
    run: list[int] = []

    def flush():
        while run and not _is_capitalised_name_token(norm, *toks[run[-1]]):
            run.pop()
        if run:
            s, e = toks[run[0]][0], toks[run[-1]][1]
            pe = _possessive_end(norm, toks[run[-1]][0], e)
            e = pe or e
            single = len(run) == 1
            if not (single and (_sentence_initial(norm, s) or len(text[s:e]) < 2)):
                out.append(Span(s, e, text[s:e], "", []))
        run.clear()

    for k, (s, e) in enumerate(toks):
        if covered[s] or covered[e - 1]:
            flush()
            continue
        if _is_capitalised_name_token(norm, s, e) and not (norm[s:e] in REPOST_MARKERS and _REPOST_AFTER.match(norm, e)):
            if run and (norm[toks[run[-1]][1]:s].strip() not in ("", "-", "&")
                        or (len(run) > 1 and _ends_title(norm, toks, run[-1]) and not _is_title_word(norm, toks, k))):
                flush()         # "Foreign Minister" | "Sergei Lavrov": an office is its own mention
            run.append(k)
        elif run and norm[s:e].lower() in CONNECTORS and norm[toks[run[-1]][1]:s] == " ":
            run.append(k)
        else:
            flush()
    flush()
    return out
