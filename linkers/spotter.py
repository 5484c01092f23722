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
from functools import lru_cache
from itertools import compress

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .agreements import AGREEMENT_HEADS, agreement_variant
from .fastpath import compiled_or, keep_reference
from .kb.layout import FLAG_ACRONYM, FLAG_ALIAS, FLAG_GIVEN, FLAG_LABEL, FLAG_LOWER, FLAG_PARTIAL
from .facts import entity_kind
from .kb.dump import is_person
from .text import alias_key, case_class, normalize, token_texts, tokenize

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
assert all(word.islower() for word in STOPWORDS)     # _Words.lower_stop reads them so
# Titles and roles before a name: "President Reagan" is spotted as "Reagan".
TITLES = frozenset("""
president vice prime minister chancellor secretary senator sen governor gov king queen prince
princess pope mayor general gen chairman chairwoman chair ceo chief spokesman spokeswoman
spokesperson ambassador judge justice rep representative mr mrs ms dr sir lord lady st saint
colonel col captain capt sergeant lieutenant lt admiral commissioner director professor prof
""".split())
# Verbs whose subject, right before them, decides, says or does: a bare singular common noun
# cannot start a news sentence as their subject ("Shell agreed", "Delta cancelled" name the
# company; the noun would take an article: "The shell ..."), so there the capital says "a name".
AGENT_VERBS = frozenset("""
will would said says agreed agrees announced announces plans planned cancelled canceled
reported reports told warned denied confirmed launched signed
""".split())
AGENT_VERB_AFTER = re.compile(r" (?:%s)\b" % "|".join(sorted(AGENT_VERBS)))


def _agent_verb_at(text: str, at: int) -> bool:
    """``AGENT_VERB_AFTER.match(text, at) is not None``: a space at ``at``, then a word of
    ``AGENT_VERBS`` and a word boundary, so the word characters after the space (``\\w``:
    ``str.isalnum()`` or "_") are that word and no more. Compiled (``spotter.pxd``), a scan of
    C characters and one slice: half the time of the regex's call, made for every mention
    of a text (``agent_verb_after``)."""
    n = len(text)
    if at < 0:
        at = 0          # as the regex takes a negative position
    if at >= n or text[at] != " ":
        return False
    end = at + 1
    while end < n:
        ch = text[end]
        if not (ch.isalnum() or ch == "_"):
            break
        end += 1
    return text[at + 1:end] in AGENT_VERBS


def _agent_verb_at_reference(text: str, at: int) -> bool:
    return AGENT_VERB_AFTER.match(text, at) is not None


agent_verb_after = compiled_or(_agent_verb_at, _agent_verb_at_reference)

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
    """A name found in the text. Compiled, an extension type (``spotter.pxd``: Cython makes the
    dataclass, fields in C slots), so a function that types its spans with ``cython.locals``
    reads a field without an attribute look-up: ~6,400 reads a 4 KB article, ~150 instructions
    each through ``getattr``. Its fields stay Python objects: the same values either way."""
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
    return _capitalised_word(norm[start:end])


@lru_cache(maxsize=65536)
def _capitalised_word(tok: str) -> bool:
    """A capitalised name word. Memoised: the capitalised words of news recur (the same names,
    the same sentence starts), and each token that is not all lower case asks (~240 of a 4 KB
    article's ~675)."""
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
    for at in _hyphen_joins(norm):
        k = bisect_right(toks, (at, len(norm))) - 1
        if k < 0 or k in splits:
            continue
        s, e = toks[k]
        if not s <= at < e or kb.has_prefix(key_of(s, e)):
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


def _hyphen_joins(norm: str) -> list[int]:
    """Where a hyphen joins two word characters ("UK-based"): the offset of the character
    before it. Found from the text's few hyphens, not by trying ``_HYPHEN`` at every offset
    (~2 us a 4 KB article, not ~95); unlike ``finditer`` it also lists a join that overlaps
    the one before ("a-b-c"), inside the same word, which ``_split_compounds`` looks at once."""
    joins = []
    at = norm.find("-", 1)
    while at != -1:
        if _HYPHEN.match(norm, at - 1):
            joins.append(at - 1)
        at = norm.find("-", at + 1)
    return joins


def _hyphen_joins_reference(norm: str) -> list[int]:
    """``_hyphen_joins`` as first written: ``_HYPHEN.finditer`` (``linkers.fastpath.reference_paths``)."""
    return [m.start() for m in _HYPHEN.finditer(norm)]


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


def _key_of(norm: str) -> "_KeyOf":
    """``key_of(s, e)``: alias_key of a span (``_KeyOf``)."""
    return _KeyOf(norm)


class _KeyOf:
    """``key_of(s, e)``: alias_key of a span, by slicing one lower-cased copy when that is
    provably the same: an ASCII span (lower() of ASCII letters needs no context) of a text
    whose lower-cased copy keeps its offsets, with no dots or double spaces to fold. News
    with curly quotes or an accented name is not ASCII as a whole, but its spans mostly are:
    they no longer all take ``alias_key``'s way (~3% of linking a 4 KB article). A class, not
    a closure: compiled (``spotter.pxd``), ``_longest`` calls ``key`` as a C function with C
    offsets, which slice the text without slice objects."""

    __slots__ = ("norm", "lowered", "whole")

    def __init__(self, norm: str):
        self.norm = norm
        lowered = norm.lower()
        self.lowered = lowered if len(lowered) == len(norm) else None
        self.whole = norm.isascii()

    def __call__(self, s: int, e: int) -> str:
        return self.key(s, e)

    def key(self, s: int, e: int) -> str:
        lowered = self.lowered
        if lowered is not None:
            k = lowered[s:e]
            if "." not in k and "  " not in k and (self.whole or self.norm[s:e].isascii()):
                return k
        return _span_key(self.norm[s:e])


# The spans that take ``alias_key``'s whole way (accents to fold, dots to drop: "U.S.",
# "Zürich") are the same few names text after text: ~60 a 4 KB article, at ~5 us each.
_span_key = lru_cache(maxsize=16384)(alias_key)


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


def _own_label(kb, key: str) -> bool:
    """The key is an entity's label written as a proper name (not "prime minister"), or an
    office's alias ("Secretary of State"); not a person's ("President Putin" is "Putin")."""
    return any((f & FLAG_LABEL or (f & FLAG_ALIAS and not is_person(kb.record(e)))) and not f & FLAG_LOWER
               for e, _p, f in kb.candidates(key, CANDIDATE_WINDOW))


def _the_name(kb, key: str) -> bool:
    """The key is an entity's label that Wikidata writes with a capital "The" ("The Home
    Depot"); an alias is not enough ("The Fed", "The House", "The commander")."""
    return any(kb.record(e)["l"][:4] == "The " for e, _p, f in kb.candidates(key, CANDIDATE_WINDOW)
               if f & FLAG_LABEL and not f & FLAG_LOWER)


def spot(text: str, kb) -> list[Span]:
    """The spans of ``text`` that may name an entity of ``kb``, in text order."""
    return _spot(text, kb)


class _Words:
    """The tokens of one normalised text and what spotting asks of them, read once per token:
    its word, the text up to the next token, whether it is a capitalised name word
    (``_capitalised_word``), whether it is a lower-case stop word. Asked per probe instead,
    with a slice of the text each time, these were ~1,000 helper calls for the ~700 tokens of
    a 4 KB article. Compiled, an extension type with typed lists whose questions are C calls
    from the typed probe and span maker (``spotter.pxd``)."""

    __slots__ = ("norm", "toks", "starts", "ends", "words", "gaps", "cap", "lower_stop")

    def __init__(self, norm: str, toks: list[tuple[int, int]]):
        self.norm, self.toks = norm, toks
        self.starts, self.ends = _offsets(toks)
        self.words, self.gaps = token_texts(norm, toks)
        self.cap, self.lower_stop = _token_flags(self.words)

    def joins(self, a: int) -> bool:
        """Tokens a and a + 1 belong to one capitalised name run."""
        return self.gaps[a] in (" ", " & ") and self.cap[a] and self.cap[a + 1]

    def title_word(self, k: int) -> bool:
        word = self.words[k]
        return word[:1].isupper() and word.lower().rstrip(".") in TITLES

    def ends_title(self, k: int) -> bool:
        """Token k ends a title written before a name: a title word ("Ukrainian President",
        "Foreign Minister") or the office after one ("Secretary of State")."""
        if self.title_word(k):
            return True
        return (k >= 2 and self.words[k - 1] == "of" and self.title_word(k - 2)
                and self.norm[self.ends[k - 2]:self.starts[k]] == " of " and self.cap[k])

    def embedded(self, i: int, j: int) -> bool:
        """Tokens i..j are part of a longer run of capitalised words: the run probably names
        something else ("Key Tronic Inc" is not "Inc"). Not an office and the name after it:
        in "Secretary of State Antony Blinken" each is its own mention (a one-word title such
        as "Prince" or "Queen" is no mention of its own: it stays embedded)."""
        words = self.words
        before = i > 0 and self.joins(i - 1) and not self.ends_title(i - 1)
        # a ticker after a name does not make the name part of something longer
        # ("Rockwell International ROK"), but the ticker itself stays embedded
        after = (j + 1 < len(words) and self.joins(j) and not (j > i and self.ends_title(j))
                 and not (_is_acronym(words[j + 1]) and not _is_acronym(words[j])))
        return before or after

    def in_name_run(self, i: int, j: int) -> bool:
        """Tokens i..j are joined to capitalised words around them, directly or through a
        joining word ("Department of Commerce", "Kenny the Clown", "Children's Hospital"): a
        longer name explains their capitals."""
        if self.embedded(i, j):
            return True
        cap = self.cap
        return ((i >= 2 and self.joined(i - 2) and cap[i - 2])
                or (j + 2 < len(self.words) and self.joined(j) and cap[j + 2]))

    def joined(self, a: int) -> bool:
        """Tokens a and a + 2 with one joining word between ("of", "the", "'s")."""
        mid = self.words[a + 1]
        if mid == "s" and self.gaps[a].strip() == "'":
            pass                        # "Children 's Hospital"
        elif mid not in RUN_JOINERS or self.gaps[a] != " ":
            return False
        return self.gaps[a + 1] == " "

    def after_person_cue(self, i: int) -> bool:
        """The token before ``i`` is a title ("President") or a kinship word ("husband")."""
        if i == 0 or self.gaps[i - 1] != " ":
            return False
        prev = self.words[i - 1]
        return self.ends_title(i - 1) or (prev.islower() and prev in KINSHIP)

    def before_agent_verb(self, j: int) -> bool:
        """Token j is the subject of a verb of ``AGENT_VERBS`` right after it."""
        return j + 1 < len(self.words) and self.gaps[j] == " " and self.words[j + 1] in AGENT_VERBS

    def before_common_noun(self, j: int) -> bool:
        if j + 1 >= len(self.words) or self.gaps[j] != " ":
            return False
        nxt = self.words[j + 1]
        # a noun follows, not a verb or function word ("Japanese officials", not "Apple said")
        return (nxt.islower() and nxt.isalpha() and nxt not in FUNCTION_WORDS
                and not nxt.endswith("ed") and nxt not in COMMON_VERBS)


def _offsets(toks: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """The tokens' starts and their ends."""
    starts, ends = [], []
    for s, e in toks:
        starts.append(s)
        ends.append(e)
    return starts, ends


def _token_flags(words: list[str]) -> tuple[list[bool], list[bool]]:
    """For each word: whether it is a capitalised name word (``_capitalised_word``), and
    whether it is a lower-case stop word (every stop word is written in lower case: a test
    checks). A capitalised name word starts with a capital or a digit: a word starting with
    another ASCII character (most words) is none without asking, read as one character
    (compiled, a C comparison; ``str.islower()`` here was ~400 instructions a word)."""
    cap, lower_stop = [], []
    for w in words:
        lower_stop.append(w in STOPWORDS)
        if not w:
            cap.append(False)
            continue
        first = w[0]
        if first < "\x80" and not ("A" <= first <= "Z" or "0" <= first <= "9"):
            cap.append(False)
        else:
            cap.append(_capitalised_word(w))
    return cap, lower_stop


# Spotting and the NIL runs after ranking read the same text's tokens: the last text's table
# is kept, for the same normalised text (equal: a short text's normalised copy is a new object
# each time) with the same tokens (the spotter splits some compounds, the NIL runs do not).
_last_words: tuple[str, _Words | None] = ("", None)


def _words_of(norm: str, toks: list[tuple[int, int]]) -> _Words:
    global _last_words
    last_norm, last = _last_words
    if last is not None and last_norm == norm and last.toks == toks:
        return last
    table = _Words(norm, toks)
    _last_words = (norm, table)
    return table


def _spot(text: str, kb) -> list[Span]:
    """``_spot_reference`` asking a per-text table (``_Words``) instead of a helper per probe,
    and each probe (``_longest``) asking eligibility (``_eligible_span``) only when what is
    known of the tokens so far does not settle it. Compiled, the table, the probe, the key
    maker (``_KeyOf``) and the span maker (``_span_at``) are typed (``spotter.pxd``)."""
    norm = normalize(text)
    key_of = _key_of(norm)
    toks = _split_compounds(norm, tokenize(norm), kb, key_of)
    table = _words_of(norm, toks)
    return _names(text, table, kb, None, key_of)


def _spot_reference(text: str, kb) -> list[Span]:
    """``spot`` as first written, a helper call per question (``linkers.fastpath.reference_paths``)."""
    norm = normalize(text)
    key_of = _key_of(norm)
    toks = _split_compounds(norm, tokenize(norm), kb, key_of)
    n = len(toks)

    def own_label(key: str):
        return lambda: _own_label(kb, key)

    def the_name(key: str):
        return lambda: _the_name(kb, key)

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

    return _names(text, _Words(norm, toks), kb, longest)


def _eligible_span(table: _Words, kb, i: int, j: int, key: str | None, any_cap: bool) -> bool:
    """``_eligible(norm, toks, i, j, own_label(key), the_name(key))`` (no names when ``key`` is
    None), ``any_cap`` saying whether a word of i..j is capitalised."""
    lower_stop = table.lower_stop
    if lower_stop[i] or lower_stop[j]:
        return False
    if j > i:
        words, cap = table.words, table.cap
        lead = words[i].lower()
        if lead == "the":
            if key is None or table.norm[table.starts[i]] != "T" or not _the_name(kb, key):
                return False
            for k in range(i + 1, j + 1):       # loops, not generators: compiled, no closures
                if not (cap[k] or words[k] in CONNECTORS):
                    return False
            return True
        if lead.rstrip(".") in TITLES and not (key is not None and _own_label(kb, key)):
            return False
    return any_cap


def _longest(table: _Words, kb, key_of: _KeyOf, i: int, has_key, has_prefix):
    """(last token, end, key) of the longest name starting at token i, or None (``_spot``'s
    probe: ``_spot_reference``'s ``longest``, asking ``_eligible_span`` only when the answer
    can depend on the key; ``has_key`` and ``has_prefix`` are the KB's, fetched once a text).
    Compiled, every offset and flag is a C local (``spotter.pxd``)."""
    lower_stop = table.lower_stop
    if lower_stop[i]:
        return None     # "in Paris", "of Russia": no span is eligible (a third of the probes)
    starts, ends, words, gaps, cap = table.starts, table.ends, table.words, table.gaps, table.cap
    best = None
    unmatched = []
    s = starts[i]
    lead = words[i].lower()
    the_lead = lead == "the"
    # no title or "The" first: a span that may end at j (below) is eligible whatever its key
    plain_lead = not the_lead and lead.rstrip(".") not in TITLES
    any_cap = comma_seen = False
    for j in range(i, min(i + MAX_SPAN_TOKENS, len(words))):
        e = ends[j]
        any_cap = any_cap or cap[j]
        if not comma_seen and j > i and ", " in gaps[j - 1]:
            # "Columbus, Ohio": past the first comma, if it closes a name of its own, no
            # span matches and none is remembered as a club's beginning
            comma_seen = True
            if has_key(key_of.key(s, ends[j - 1] + gaps[j - 1].index(", "))):
                break
        key = key_of.key(s, e)
        word = words[j]
        possessive = len(word) > 2 and word[-2:] in ("'s", "'S")
        pe = e - 2
        core = key_of.key(s, pe) if possessive else None
        matched = False
        # what ``_eligible_span`` would say of any key, asked before the KB is: a span ends on
        # no lower-case stop word and has a capitalised word (or leads with "The")
        if not lower_stop[j] and (any_cap or (the_lead and j > i)):
            if (possessive and has_key(core)
                    and (j == i or plain_lead or _eligible_span(table, kb, i, j, core, any_cap))):
                best = (j, pe, core)
            matched = has_key(key) and (j == i or plain_lead or _eligible_span(table, kb, i, j, key, any_cap))
            if matched:
                best = (j, e, key)
            elif key.endswith(TRANSLITERATED_ENDINGS):
                variant = _spelling_variant(kb, key)
                if variant is not None and _eligible_span(table, kb, i, j, None, any_cap):
                    best = (j, e, variant)
            elif j > i and key.endswith(AGREEMENT_HEADS):
                variant = agreement_variant(kb, key)     # "Minsk accords": "Minsk agreements"
                if variant is not None and _eligible_span(table, kb, i, j, None, any_cap):
                    best = (j, e, variant)
        prefix = has_prefix(key)
        if prefix and not matched and j > i:
            unmatched.append((j, e, key))
        if not prefix and not (possessive and has_prefix(core)):
            break
    for j, e, key in reversed(unmatched):
        if best is not None and j <= best[0]:
            break
        if has_prefix(key + " "):
            for suffix in CLUB_SUFFIXES:        # the first club name the KB has
                club = f"{key} {suffix}"
                if has_key(club):
                    if _eligible_span(table, kb, i, j, None, any(cap[i:j + 1])):
                        return (j, e, club)
                    break
    return best


def _names(text: str, table: _Words, kb, longest, key_of: _KeyOf | None = None) -> list[Span]:
    """The spans of the text, left to right: at each token where a name may start, the longest
    name there (``longest(i)``: its last token, end and key, or None), made a span if a
    candidate is left for it, and the scan goes on after it. With ``key_of`` (and ``longest``
    None) the probe is ``_longest`` over this table and key maker: compiled, a C call, where a
    ``partial`` of it cost ~1% of linking a 4 KB article in building and parsing arguments."""
    norm, words, starts = table.norm, table.words, table.starts
    n = len(words)
    spans: list[Span] = []
    # the probes' trie questions, as bound methods made once a text, not twice a probe
    has_key, has_prefix = kb.has_key, kb.has_prefix
    i = 0
    while i < n:
        first = words[i]
        if first.islower() and first not in CONNECTORS and not (i + 1 < n and norm[starts[i + 1]].isupper()):
            i += 1          # a name starts capitalised, or just before a capital ("ancient Greece")
            continue
        best = _longest(table, kb, key_of, i, has_key, has_prefix) if key_of is not None else longest(i)
        if best is not None and best[0] > i and first == "The":
            # "The International Chamber of Commerce" is not "The International" (a film)
            after = (_longest(table, kb, key_of, i + 1, has_key, has_prefix) if key_of is not None
                     else longest(i + 1))
            if after is not None and after[1] > best[1]:
                best = None
        if best is not None:
            found = _span_at(text, table, kb, i, best)
            if found is not None:
                spans.append(found[0])
                i = found[1] + 1
                continue
        i += 1
    _mark_lists(norm, spans)
    return spans


def _span_at(text: str, table: _Words, kb, i: int, best: tuple[int, int, str]) -> tuple[Span, int] | None:
    """The span of the name found at token i (``best``: its last token, end and key, from the
    longest match) and the token it ends at, or None when no candidate is left for it.
    Loops, not generator expressions: compiled (``spotter.pxd``), with C offsets and flags."""
    norm, words, ends = table.norm, table.words, table.ends
    n = len(words)
    j, e, key = best
    s = table.starts[i]
    # "Atari Corp", "CBS Inc": a company suffix belongs to the name it follows.
    company = False
    while (j + 1 < n and e == ends[j] and table.gaps[j] in (" ", ", ")
           and words[j + 1].lower() in COMPANY_SUFFIXES and words[j + 1][0].isupper()):
        j += 1
        e = ends[j]
        company = True
    surface = text[s:e]
    shape = case_class(surface)         # the same with a period after it (below)
    acronym_ok = shape == 2
    # lists are sorted by prior: a bounded slice keeps the cost flat however ambiguous
    # a name is (a full-size KB has thousands of "John Smith"s)
    window = kb.candidates(key, CANDIDATE_WINDOW)
    cands = [c for c in window if not c[2] & (FLAG_LOWER | FLAG_GIVEN)
             and (acronym_ok or not c[2] & FLAG_ACRONYM)][:MAX_CANDIDATES]
    # "Calif.", "Mich.": an abbreviation keeps its period when Wikidata writes the
    # name so (California's alias "Calif."); the sentence may end there too.
    if norm[e:e + 1] == "." and e == ends[j] and len(surface) <= 6:
        dotted = surface + "."
        for c in cands[:3]:
            rec = kb.record(c[0])
            if dotted == rec["l"] or dotted in rec["a"]:
                e += 1
                surface = text[s:e]
                break
    initial = _sentence_initial(norm, s)
    # Keys are case-folded, so a key's prior is shared with common nouns ("moon" the
    # natural satellite), which never match a capitalised mention. A capitalised word
    # mid-sentence says "a name": its candidates share the prior without the common
    # nouns' part. Not at a sentence start, after an opening quote or inside a longer
    # name ("Chamber of Commerce"), where the capital says nothing about the word.
    if (i == j and (not initial or table.before_agent_verb(j)) and shape == 1 and len(surface) > 1
            and norm[max(0, s - 3):s].rstrip()[-1:] not in OPENING_QUOTES and not table.in_name_run(i, j)):
        # ``sum`` of a list, as of the generator first written: the same float, however
        # Python sums (3.12 compensates)
        common = sum([c[1] for c in window if c[2] & FLAG_LOWER and not c[2] & FLAG_GIVEN])
        if 0 < common < 1:
            cands = [(eid, prior / (1 - common), flags) for eid, prior, flags in cands]
    single_common = (i == j and initial and norm[s:e].lower() in STOPWORDS)
    embedded = table.embedded(i, j) and not (j > i and _in_headline(norm, s))
    given = False
    if i == j and not embedded and not company and not acronym_ok:
        for c in window:
            if c[2] & FLAG_GIVEN:
                given = True
                break
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
        total = sum([c[1] for c in agencies])
        if agencies and total > 0:
            cands = [(eid, prior / total, flags) for eid, prior, flags in agencies]
    if surface in REPOST_MARKERS and _REPOST_AFTER.match(norm, e):
        cands, given = [], False     # "RT @user:" re-posts; it names nothing
    if (cands or given) and not single_common:
        return (Span(s, e, surface, key, cands, embedded=embedded,
                     modifier=i == j and table.before_common_noun(j), given=given,
                     person_cue=table.after_person_cue(i)), j)
    return None


# What may stand between two items of a list of names.
LIST_GLUE = frozenset({", ", " and ", ", and ", " or ", ", or ", " & ", " / "})


@cython.locals(a=Span, b=Span, sp=Span, last=Span)
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


def _is_acronym(tok: str) -> bool:
    return len(tok) >= 2 and tok.isupper()


def nil_spans(text: str, taken: list[Span]) -> list[Span]:
    """Maximal runs of capitalised name words (joined by connectors like 'of') that no
    alias covered; a lone common word at a sentence start is not a name."""
    return _nil_spans(text, taken)


class _NilRuns:
    """The state of a scan for NIL runs over one text (its tokens, what spans cover, the open
    run, the spans found) and how a run ends (``flush``), shared by ``_nil_spans`` and its
    reference. What a token does to the run stays inline in each scan: it runs per token, and
    a method call there cost the pure-Python scan ~15%."""

    __slots__ = ("text", "norm", "toks", "table", "covered", "out", "run")

    @cython.locals(sp=Span)
    def __init__(self, text: str, taken: list[Span]):
        self.text = text
        self.norm = norm = normalize(text)
        self.toks = tokenize(norm)
        self.table = _words_of(norm, self.toks)      # spotting's, when no compound was split
        self.covered = covered = bytearray(len(norm))
        for sp in taken:
            covered[sp.start:sp.end] = b"\x01" * (sp.end - sp.start)
        self.out: list[Span] = []
        self.run: list[int] = []

    def flush(self) -> None:
        run, cap, toks, norm, text = self.run, self.table.cap, self.toks, self.norm, self.text
        while run and not cap[run[-1]]:
            run.pop()
        if run:
            s, e = toks[run[0]][0], toks[run[-1]][1]
            pe = _possessive_end(norm, toks[run[-1]][0], e)
            e = pe or e
            single = len(run) == 1
            if not (single and (_sentence_initial(norm, s) or len(text[s:e]) < 2)):
                self.out.append(Span(s, e, text[s:e], "", []))
        run.clear()


def _nil_spans(text: str, taken: list[Span]) -> list[Span]:
    """``_nil_spans_reference`` visiting only the tokens that can change a run: while no run
    is open, a token that is no capitalised name word does nothing, so the scan jumps to the
    next capitalised word (most tokens of a text: ~0.2 ms of a 4 KB article went to them)."""
    scan = _NilRuns(text, taken)
    norm, toks, table, covered, run, flush = (scan.norm, scan.toks, scan.table, scan.covered,
                                              scan.run, scan.flush)
    words, cap = table.words, table.cap
    n = len(toks)
    caps = list(compress(range(n), cap))      # the capitalised name words, in order
    k = caps[0] if caps else n
    while k < n:
        s, e = toks[k]
        if covered[s] or covered[e - 1]:
            if run:
                flush()
        elif cap[k] and not (words[k] in REPOST_MARKERS and _REPOST_AFTER.match(norm, e)):
            if run and (norm[toks[run[-1]][1]:s].strip() not in ("", "-", "&")
                        or (len(run) > 1 and table.ends_title(run[-1]) and not table.title_word(k))):
                flush()         # "Foreign Minister" | "Sergei Lavrov": an office is its own mention
            run.append(k)
        elif run and words[k].lower() in CONNECTORS and norm[toks[run[-1]][1]:s] == " ":
            run.append(k)
        elif run:
            flush()
        if run:
            k += 1
        else:
            at = bisect_right(caps, k)
            k = caps[at] if at < len(caps) else n
    flush()
    return scan.out


def _nil_spans_reference(text: str, taken: list[Span]) -> list[Span]:
    """``_nil_spans`` reading every token (``linkers.fastpath.reference_paths``)."""
    scan = _NilRuns(text, taken)
    norm, toks, table, covered, run, flush = (scan.norm, scan.toks, scan.table, scan.covered,
                                              scan.run, scan.flush)
    words, cap = table.words, table.cap
    for k, (s, e) in enumerate(toks):
        if covered[s] or covered[e - 1]:
            if run:
                flush()
            continue
        if cap[k] and not (words[k] in REPOST_MARKERS and _REPOST_AFTER.match(norm, e)):
            if run and (norm[toks[run[-1]][1]:s].strip() not in ("", "-", "&")
                        or (len(run) > 1 and table.ends_title(run[-1]) and not table.title_word(k))):
                flush()         # "Foreign Minister" | "Sergei Lavrov": an office is its own mention
            run.append(k)
        elif run and words[k].lower() in CONNECTORS and norm[toks[run[-1]][1]:s] == " ":
            run.append(k)
        elif run:
            flush()
    flush()
    return scan.out


keep_reference(sys.modules[__name__], "_spot", _spot_reference)
keep_reference(sys.modules[__name__], "_hyphen_joins", _hyphen_joins_reference)
keep_reference(sys.modules[__name__], "_nil_spans", _nil_spans_reference)
