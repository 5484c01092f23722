"""Ranking the candidates of each spotted mention, and the confidence it reports.

Each candidate gets a linear score over features (``Weights``):

- ``prior``      log P(entity | alias key): popularity softmax within the key, built offline;
- ``popularity`` the entity's global popularity in [0, 1] (sitelinks, in-degree, PageRank);
- ``label``      the mention is the entity's label (not an alias, not a surname);
- ``context``    share of the candidate's description/type words found in the document, a
                 word that is (part of) another mention's name counting ``1 + name_context``;
- ``coherence``  log1p of the support from other mentions' likely entities that the
                 candidate's claims connect to (either direction: Donbas -> Ukraine);
- ``coref``      the mention is a short form of a longer name already linked in the same
                 text ("Emmanuel Macron" ... "Macron"), which adds that entity as a candidate;
- ``partial``    the candidate matched only by a person's surname (or a region's bare name);
- ``embedded``   the span is inside a longer capitalised name ("Corp" in "Paxar Corp"); not
                 for a person named by their full label, which headline case puts inside a
                 run of capitals ("Marvin Gaye Day Tribute") and which stays that person; nor
                 when the run goes on with a title ("Bundesbank President Karl Otto Poehl");
- ``modifier``   a one-word span used before a common noun ("Japanese officials"): such
                 words more often describe than name (and the benchmarks don't annotate them);
- ``demonym``    a modifier whose candidate is a language or a people: "Japanese officials"
                 are not the Japanese language; nor is a modifier a genre or a creative work
                 (``is_genre_or_work``): "Western leaders" are not the film genre;
- ``demonym_country`` the country such a modifier names (``demonyms``): "Japanese officials"
                 are Japan's, as news gold links them;
- ``person_cue`` after a title or a kinship word ("President Reagan", "her husband Seal"): a
                 person candidate gets this instead of any surname penalty;
- ``given``      the candidate is a person named by their given name alone ("Angelina"): one is
                 a candidate only if a claim connects it to a likely entity of another
                 mention (her father Jon Voight, her partner Brad Pitt); it has no prior;
- ``similar``    description similarity: the candidate's description/type words shared with
                 the closest candidate of each other mention (IDF over the document's candidates,
                 cosine), summed, minus the best such sum among the mention's candidates: it
                 moves belief between readings (Córdoba Province next to Santa Fe Province),
                 never towards linking at all. In a list of names ("Clapton, Beck, and Page")
                 whose other items are mostly people, a person candidate alike (this measure)
                 to a person candidate of another item gets ``person_cue`` as after a title;
- ``story``      a reading the story settles for a metonymy (``metonymy``): the story's
                 country's institution for "the Senate", the government for "Moscow said",
                 the team for a city in a sports story;
- ``lone``       a one-word name's only reading that nothing in the text supports: a thing
                 (``facts.entity_kind`` "other": a ship, a film), obscure, no description or
                 type word in the text, no coherence support, no description similarity
                 with another mention's candidates ("Donbas", a 1970 command ship, in a story
                 about Ukraine): pushed towards NIL (``_penalise_lone``);
- ``shared``     second-order coherence: the candidate and another mention's candidate point
                 at the same entity (Córdoba Province and Santa Fe Province -> Argentina),
                 weighted down for entities many point at.

Items that are names as words (a given name, a family name, a disambiguation page) are never
candidates: a name in a text refers to someone, not to itself.

Confidence is a softmax over the candidates plus a NIL pseudo-candidate with fixed score
``nil``: the share of belief on the chosen entity against every alternative, "none of them"
included. A mention whose best confidence is under the threshold is reported NIL. Weights were
set by hand and checked on the public dev benchmarks (see the README's evaluation section);
they are parameters, not per-document rules.
"""
from __future__ import annotations

import heapq
import math
import sys
import types
from array import array
from operator import attrgetter
from functools import lru_cache
from itertools import accumulate, chain
from dataclasses import dataclass

import numpy as np

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .facts import entity_kind
from .fastpath import keep_reference
from .kb.dump import is_person
from .kb.layout import FLAG_ALIAS, FLAG_GIVEN, FLAG_LABEL, FLAG_PARTIAL
from .shortforms import initials, is_acronym, is_short_form, same_word
from .spotter import CANDIDATE_WINDOW, COMPANY_SUFFIXES, FUNCTION_WORDS, TITLES, Span
from .text import token_words

TOP_K_COHERENCE = 5
# Types of what a demonym names (language, modern/natural language, nationality, ethnic group,
# human population, nation).
LANGUAGE_OR_PEOPLE = frozenset({"Q34770", "Q1288568", "Q33742", "Q231002", "Q41710", "Q33829", "Q6266"})
# Types of items that are names as words, not things named: given name (male, female, unisex),
# family name, Wikimedia disambiguation page.
NAME_ITEM_TYPES = frozenset({"Q202444", "Q12308941", "Q11879590", "Q3409032", "Q101352", "Q4167410"})
# Candidate flag (beyond the KB's own ``layout.FLAG_*`` bits) of a country added as a demonym's
# reading (``demonyms``): it gets ``Weights.demonym_country``.
FLAG_DEMONYM = 1 << 8
COHERENCE_ROUNDS = 2
# People read per given name (most popular first) when looking for one the text supports.
GIVEN_WINDOW = 1000
# Entities more claims point at than this (countries, languages, occupations) admit no one.
GIVEN_HUB_DEGREE = 200
# A list's items are people when the other items' belief is mostly on people...
LIST_PERSON_SHARE = 0.5
# ... and a surname's person is read so only if its description is this similar to a person
# candidate of another item (IDF-weighted cosine; sharing only "human" scores ~0).
LIST_SIMILARITY = 0.05
# Mentions compared for description similarity at once (see _Similarity), and that support
# each other in coherence (``DocumentRanker._coherence``).
SIMILARITY_BLOCK = 200
# A text pooling at most this many entities for given names asks with sets, not numpy.
SMALL_GIVEN_POOL = 64
# Compiled, coherence among more than this many likeliest candidates takes typed loops
# (``_coherence_totals``); fewer, its dicts are faster.
SMALL_COHERENCE_BLOCK = 16
# Run as pure Python, a block of at most this many candidates is compared with dicts
# (``_SmallSimilarityBlock``), a bigger one with numpy; compiled, every block with typed loops.
SMALL_SIMILARITY_BLOCK = 20
COHERENCE_BLOCK = SIMILARITY_BLOCK
# A reading less popular than this that nothing in the text supports gets ``Weights.lone``.
LONE_POPULARITY = 0.01
LONE_SIMILARITY = 0.05


@dataclass(frozen=True)
class Weights:
    """The ranker's weights. Compiled, an extension type (``ranker.pxd``: read-only fields in C
    slots, Python objects), which the ranker's methods read without attribute look-ups."""
    prior: float = 1.0
    popularity: float = 0.5
    label: float = 0.0
    context: float = 4.0
    coherence: float = 3.0
    coref: float = 6.0
    partial: float = -4.0
    embedded: float = -6.0
    modifier: float = -0.5
    shared: float = 3.0
    demonym: float = -5.0
    given: float = -1.5
    person_cue: float = 0.5
    name_context: float = 1.0
    similar: float = 1.0
    story: float = 6.0
    demonym_country: float = 1.0
    lone: float = -1.5
    nil: float = 0.0
    temperature: float = 1.0


DEFAULT_WEIGHTS = Weights()


def _singular(w: str) -> str:
    """A plural's singular, roughly ("guitarists" -> "guitarist", "companies" -> "company")."""
    if len(w) < 5 or not w.endswith("s") or w.endswith(("ss", "us", "is")):
        return w
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    return w[:-1]


def content_words(text: str) -> set[str]:
    """Content words of a text, lower-cased and singular (words compare across number)."""
    # each distinct token once, as written (a 4 KB article has ~700 tokens, a third to a half
    # of them repeats), then a memo hit as written: lower-casing every token first was ~40% of
    # this, and lower-casing each distinct one before its memo ~15%. Typed when compiled
    # (``ranker.pxd``).
    # The set's iteration order depends on the process's str hash seed (PYTHONHASHSEED): read
    # it only through membership and sizes; what sums over words uses ``_entity_word_order``
    out: set[str] = set()
    seen: set[str] = set()
    for w in token_words(text):
        if w not in seen:
            seen.add(w)
            c = _content_word(w)
            if c:
                out.add(c)
    return out


@lru_cache(maxsize=65536)
def _content_word(token: str) -> str:
    """A token's word lower-cased and singular, or "" for a function word or a word of two
    letters (memoised by the token as written: news writes a word in the same case text after
    text)."""
    w = token.lower()
    return _singular(w) if len(w) > 2 and w not in FUNCTION_WORDS else ""


@lru_cache(maxsize=65536)
def _name_words(name: str) -> frozenset[str]:
    """``content_words`` of a short text that recurs (a mention, a type's label), memoised."""
    return frozenset(content_words(name))


@lru_cache(maxsize=65536)
def _entity_words(kb, eid: int) -> frozenset[str]:
    """Content words of an entity's description and type labels (memoised per process)."""
    rec = kb.record(eid)
    words = set(content_words(rec["d"]))
    for t in rec["t"][:3]:
        label = kb.label(t)
        if label:
            words |= _name_words(label)
    return frozenset(words)


@lru_cache(maxsize=65536)
def _entity_word_order(kb, eid: int) -> tuple[str, ...]:
    """``_entity_words`` in a fixed order (sorted): the similarity blocks number words and add
    their weights in this order, so the float sums, and a tie between two readings with near
    identical descriptions, are the same in every process whatever its str hash seed."""
    return tuple(sorted(_entity_words(kb, eid)))


@lru_cache(maxsize=65536)
def _short_form_words(text: str) -> tuple[tuple[str, ...], bool, bool, tuple[str, ...], str, tuple[str, ...]]:
    """What ``DocumentRanker._coref_sources`` reads of a span's text (memoised: names recur):
    its words (one spelling of a Slavic ending), whether it may be a short form (two words at
    most, not only company suffixes), whether it is an acronym, the words it offers as a longer
    form, its initials, and those words each once."""
    words = tuple(same_word(w) for w in text.split())
    may_be_short = len(words) <= 2 and any(w.lower().rstrip(".") not in COMPANY_SUFFIXES for w in words)
    own_words = tuple(same_word(w) for w in text.replace("'s", "").split())
    return (words, may_be_short, may_be_short and is_acronym(text), own_words,
            initials(text) if " " in text else "", tuple(dict.fromkeys(own_words)))


@lru_cache(maxsize=65536)
def _neighbour_list(kb, eid: int) -> tuple[int, ...]:
    """``kb.neighbours`` as Python ints (memoised per process: coherence reads each
    candidate's in every round)."""
    return tuple(kb.neighbours(eid).tolist())


def _by_score(c: "Scored") -> float:
    return -c.score


# The score itself as a sort key, read in C: sorting by it with ``reverse=True`` gives the
# order ``key=_by_score`` gives (Python's sort stays stable when reversed: ties keep row order).
_score = attrgetter("score")


def _likeliest(row: list["Scored"]) -> list["Scored"]:
    """The ``TOP_K_COHERENCE`` best-scored candidates, best first, ties in row order: what
    ``sorted(row, key=_by_score)[:TOP_K_COHERENCE]`` gives (``heapq.nlargest`` is that, and
    cheaper for a long row: a name has up to ``CANDIDATE_WINDOW`` candidates)."""
    if len(row) <= 1:
        return row
    if len(row) > 4 * TOP_K_COHERENCE:
        return heapq.nlargest(TOP_K_COHERENCE, row, key=_score)
    # a short row (most): each candidate goes in after every kept one scored at least as high,
    # so ties keep row order as the stable sort keeps them (typed when compiled, ``ranker.pxd``:
    # coherence asks this of every row in every round; a sort with a key was ~1,300
    # instructions a row)
    best: list[Scored] = []
    kept: list[float] = []          # their scores
    for c in row:
        score = c.score
        k = len(kept)
        while k and kept[k - 1] < score:
            k -= 1
        if k < TOP_K_COHERENCE:
            best.insert(k, c)
            kept.insert(k, score)
            if len(best) > TOP_K_COHERENCE:
                best.pop()
                kept.pop()
    return best


@lru_cache(maxsize=65536)
def _is_person(kb, eid: int) -> bool:
    """``is_person`` of an entity (memoised per process: an untyped record's test reads its
    description)."""
    return is_person(kb.record(eid))


def _given_rows(kb, key: str) -> tuple[tuple[int, float, int], ...]:
    """The people an alias key names by their given name, among its first candidates (a key
    has up to ``CANDIDATE_WINDOW + GIVEN_WINDOW`` rows to read; kept by ``_given_people``)."""
    return tuple(c for c in kb.candidates(key, CANDIDATE_WINDOW + GIVEN_WINDOW) if c[2] & FLAG_GIVEN)


class _GivenPeople:
    """The people of a given name (``_given_rows``) in the shapes ``_given_name_candidates``
    reads them: a common name has hundreds (690 for one public text's), and making their ids
    a list, an array or a set again for every text that has the name was most of that
    method's time on a short text. The array (numpy's way) and the set (a small pool's) are
    made when first asked: a name seen once needs one of them."""

    __slots__ = ("rows", "eids", "_array", "_members")

    def __init__(self, rows: tuple[tuple[int, float, int], ...]):
        self.rows = rows
        self.eids = tuple(eid for eid, _p, _f in rows)
        self._array = self._members = None

    def array(self) -> np.ndarray:
        """The ids as int64, read-only (shared by every text that has the name)."""
        if self._array is None:
            array = np.asarray(self.eids, dtype=np.int64)
            array.flags.writeable = False
            self._array = array
        return self._array

    def members(self) -> frozenset[int]:
        if self._members is None:
            self._members = frozenset(self.eids)
        return self._members


@lru_cache(maxsize=16384)
def _given_people(kb, key: str) -> _GivenPeople:
    """``_GivenPeople`` of a key, memoised per process (the only memo of its rows)."""
    return _GivenPeople(_given_rows(kb, key))


def _connected(given: _GivenPeople, hits: set[int], sp: Span) -> list[tuple[int, float, int]]:
    """The people of ``given`` among ``hits`` (connected to another mention) that are not
    already candidates of the span, in their rows' order (none read when no one connects)."""
    if not hits:
        return []
    have = {eid for eid, _p, _f in sp.candidates}
    return [c for c in given.rows if c[0] in hits and c[0] not in have]


@lru_cache(maxsize=65536)
def is_genre_or_work(kb, eid: int) -> bool:
    """The entity is a genre (an instance of something whose label is a genre: "film genre",
    "music genre") or a creative work (it has a genre, P136, and is neither a person nor
    something founded, P571, as a band or a label is): what an adjective before a common
    noun ("Western leaders", "Gothic windows") is not."""
    rec = kb.record(eid)
    for t in rec["t"]:
        at = kb.internal_id(t)
        if at is not None and (kb.record(at).get("l") or "").split()[-1:] == ["genre"]:
            return True
    return "P136" in rec["c"] and "P571" not in rec["c"] and not is_person(rec)


def title_follows(text: str, end: int) -> bool:
    """A title starts the capitalised run after offset ``end`` ("Bundesbank President Karl
    Otto Poehl"): the run is the name's office holder, not a longer name the span is part of."""
    after = text[end:end + 24].split()
    return bool(after) and after[0][:1].isupper() and after[0].lower().rstrip(".,") in TITLES


@lru_cache(maxsize=65536)
def _is_name_item(kb, eid: int) -> bool:
    """The entity is a name as a word (a given name, a family name) or a disambiguation page:
    a name in a text is used to refer to someone, never to the name itself ("the vision of
    Bill" is not "Bill, male given name")."""
    return any(t in NAME_ITEM_TYPES for t in kb.record(eid)["t"])


def _is_partial(flags: int) -> bool:
    return bool(flags & FLAG_PARTIAL and not flags & (FLAG_LABEL | FLAG_ALIAS))


@dataclass
class Scored:
    """A candidate's score and its share of the row's belief. Compiled, an extension type
    (``ranker.pxd``: Cython makes the dataclass; its fields stay Python objects, so every
    number is the one the pure source computes), read without attribute look-ups where a
    loop is typed."""
    eid: int
    score: float
    prob: float = 0.0


def _softmax(rows: list[list[Scored]], nil: float, temperature: float) -> None:
    """Each row's shares: a softmax over its scores and NIL's (``DocumentRanker._normalise``).
    Compiled, typed (``ranker.pxd``): a candidate's fields are read without look-ups, the
    arithmetic is on C doubles (the source's operations, in its order) and ``_exp`` is libm's;
    a row's total is still ``sum`` of a list of floats, as this Python sums."""
    for row in rows:
        n = len(row)
        if n == 1:       # the same arithmetic, without the lists (a third of rows)
            c = row[0]
            score = c.score
            m = nil if nil > score else score       # max(score, nil)
            e = _exp((score - m) / temperature)
            c.prob = e / (e + _exp((nil - m) / temperature))
        elif n:
            m = row[0].score        # max(score of the row..., nil), as ``max`` compares
            for k in range(1, n):
                c = row[k]
                if c.score > m:
                    m = c.score
            if nil > m:
                m = nil
            exps = []
            for k in range(n):
                c = row[k]
                exps.append(_exp((c.score - m) / temperature))
            z = sum(exps) + _exp((nil - m) / temperature)
            for k in range(n):
                c = row[k]
                e = exps[k]
                c.prob = e / z


# ``_libm_exp`` and ``_libm_log1p`` are libm's ``exp`` and ``log1p`` when this module is
# compiled (``ranker.pxd`` cimports them from libc.math: no Python call, no float object made);
# in pure Python, ``math``'s, which call the same libm functions (the same floats). Bound by
# ``setattr`` because Cython rejects an assignment to a cimported C function's name.
setattr(sys.modules[__name__], "_libm_exp", math.exp)
setattr(sys.modules[__name__], "_libm_log1p", math.log1p)
_LARGEST_FLOAT = sys.float_info.max


def _exp(x: float) -> float:
    """``math.exp(x)``: the same float, and the same OverflowError past the largest float."""
    e = _libm_exp(x)
    if e > _LARGEST_FLOAT and x <= _LARGEST_FLOAT:
        raise OverflowError("math range error")
    return e


def _log1p(x: float) -> float:
    """``math.log1p(x)``: the same float (of 0.0 and -0.0 too), and the same ValueError at or
    below -1."""
    if x <= -1.0:
        raise ValueError("math domain error")
    return _libm_log1p(x)


def _rescored(rows: list[list[Scored]], local: list[list[float]], supported: dict, alike_of: dict,
              coherence: float, similar: float) -> list[int]:
    """A coherence round's scores: each candidate's local score plus its coherence support
    (``supported``: (mention, eid) -> support) and its similarity support (``alike_of``), set
    on the rows; the rows whose scores moved, in order. Typed, as ``_softmax``."""
    moved = []
    for i in range(len(rows)):
        row, scores = rows[i], local[i]
        still = True
        for k in range(min(len(row), len(scores))):
            c = row[k]
            key = (i, c.eid)
            score = scores[k] + coherence * _log1p(supported.get(key, 0.0)) + similar * alike_of.get(key, 0.0)
            if score != c.score:
                still = False
            c.score = score
        if not still:
            moved.append(i)
    return moved


def _placings(rows: list[list[Scored]], lo: int, hi: int) -> dict[int, list[tuple[int, float]]]:
    """The likeliest candidates of mentions lo..hi-1: eid -> [(mention, sqrt of its belief)],
    eids in order of first appearance (``DocumentRanker._placings``; typed, as ``_softmax``)."""
    where: dict[int, list[tuple[int, float]]] = {}
    sqrt = math.sqrt
    for i in range(lo, hi):
        for c in _likeliest(rows[i]):
            found = where.get(c.eid)
            if found is None:
                found = where[c.eid] = []
            found.append((i, sqrt(c.prob)))
    return where


def _listed_people(rows: list[list[Scored]], lists: list[list[int]], kb) -> set[int]:
    """Mentions listed with others ("Clapton, Beck, and Page") whose fellow items are most
    likely people (coordinated names are of one kind, so a surname there names a person): the
    items of ``lists`` (each a list's mentions, in text order) whose fellow items' readings
    are, on average, at least ``LIST_PERSON_SHARE`` people by belief. Typed when compiled
    (``ranker.pxd``); the items are added in the order the lists and their items come, and
    each sum is ``sum()`` of a list, as first written."""
    share: dict[int, float] = {}
    out: set[int] = set()
    for members in lists:
        if len(members) < 2:
            continue
        for i in members:
            if i not in share:
                row = rows[i]
                tot = sum([c.prob for c in row])
                share[i] = sum([c.prob for c in row if _is_person(kb, c.eid)]) / tot if tot > 0 else 0.0
        for i in members:
            others = [share[j] for j in members if j != i]
            if sum(others) / len(others) >= LIST_PERSON_SHARE:
                out.add(i)
    return out


class DocumentRanker:
    """Ranks the candidates of all spans of one document together (coherence needs them all)."""

    # attributes in slots, not a dict: reading attributes is ~8% of a short text's instructions
    __slots__ = ("kb", "spans", "w", "text", "favoured", "doc_words", "doc_names", "owns", "_contexts", "_linked",
                 "_link_numbers")

    def __init__(self, kb, text: str, spans: list[Span], weights: Weights = DEFAULT_WEIGHTS,
                 favoured: dict[int, set[int]] | None = None):
        self.kb, self.spans, self.w, self.text = kb, spans, weights, text
        # readings the story favours (``metonymy``), by the span's start offset
        self.favoured = {spans[i].start: eids for i, eids in (favoured or {}).items()}
        self.doc_words = content_words(text)
        # each mention's own words (memoised per name: names recur), and all of them: the
        # content words of the names joined by spaces (a token never spans a space, and each
        # token's word is its own, so the union is that text's ``content_words``)
        self.owns = [_name_words(sp.text) for sp in spans]
        self.doc_names = set().union(*self.owns)
        self._contexts: dict[tuple[int, frozenset[str]], float] = {}
        self._linked: dict[tuple[int, ...], tuple] = {}     # ``_links`` of a block's candidates
        self._link_numbers: dict[tuple[int, ...], tuple] = {}   # and as ``_links_as_numbers``

    def _context(self, eid: int, own: frozenset[str] = frozenset()) -> float:
        """``_context_of``, once per entity and mention words in a document (a name recurs)."""
        key = (eid, own)
        found = self._contexts.get(key)
        if found is None:
            found = self._contexts[key] = self._context_of(eid, own)
        return found

    @cython.locals(w=Weights)
    def _context_of(self, eid: int, own: frozenset[str]) -> float:
        words = _entity_words(self.kb, eid)
        if not words:
            return 0.0
        w = self.w
        # names of the text count more than common words: "co-founder of Apple Inc." is
        # strong evidence for "Steve" next to "Apple"
        # the mention's own words are no evidence ("Warren: city in Ohio" for "Ohio")
        names = len((words & self.doc_names) - own) if w.name_context else 0
        return (len((words & self.doc_words) - own) + w.name_context * names) / math.sqrt(len(words))

    def _title_follows(self, sp: Span) -> bool:
        return title_follows(self.text, sp.end)

    def _is_language_or_people(self, eid: int) -> bool:
        return any(t in LANGUAGE_OR_PEOPLE for t in self.kb.record(eid)["t"])

    def _is_genre_or_work(self, eid: int) -> bool:
        return is_genre_or_work(self.kb, eid)

    @cython.locals(sp=Span)
    def _coref_sources(self) -> list[tuple[list[int], bool]]:
        """For each span, the earlier longer spans it may be a short form of (by word, or by
        initials for an acronym: "AP" after "Associated Press"), and whether the span is some
        entity's own label (False for a span without such sources: never read). Earlier spans are found through an index of their words, not by
        reading them all; ``rank`` keeps only real short forms of the entity they name."""
        out: list[tuple[list[int], bool]] = []
        having: dict[str, list[int]] = {}     # word -> earlier spans (with candidates) that have it
        by_initials: dict[str, list[int]] = {}
        long_words: list[tuple[str, ...]] = []
        for i, sp in enumerate(self.spans):
            words, may_be_short, acronym, own_words, abbreviation, distinct = _short_form_words(sp.text)
            srcs = []
            if may_be_short:
                # the rarest word's spans (the first of the rarest), each kept if it has every
                # word: loops, not ``min``/``all`` over generators, which cost an object each
                # (~2% of a 4 KB article, where a name recurs and each has many earlier spans)
                pool = having.get(words[0], ())
                for w in words[1:]:
                    other = having.get(w, ())
                    if len(other) < len(pool):
                        pool = other
                n = len(words)
                for j in pool:
                    ow = long_words[j]
                    if len(ow) > n:
                        for w in words:
                            if w not in ow:
                                break
                        else:
                            srcs.append(j)
                if acronym:
                    srcs += by_initials.get(sp.text.replace(".", ""), ())
            # (read only for a span with sources: a span has up to CANDIDATE_WINDOW candidates)
            labelled = False
            if srcs:
                for _e, _p, flags in sp.candidates:
                    if flags & FLAG_LABEL:
                        labelled = True
                        break
            out.append((srcs, labelled))
            long_words.append(own_words)
            if sp.candidates:
                if len(own_words) > 1:      # a source has more words than a span of one or more
                    for w in distinct:
                        having.setdefault(w, []).append(i)
                if abbreviation:
                    by_initials.setdefault(abbreviation, []).append(i)
        return out

    @cython.locals(sp=Span)
    def _given_name_candidates(self) -> list[list[tuple[int, float, int]]]:
        """For each span that may be a given name, the people of that given name whose claims
        connect them (either direction) to a candidate of another mention of the text."""
        found: list[list[tuple[int, float, int]]] = [[] for _ in self.spans]
        asked = [i for i, sp in enumerate(self.spans) if sp.given]
        if not asked:
            return found
        # the entities each mention may name (its likeliest candidates, its given names), all
        # mentions' in one array, with the key of the mention each came from
        keys = {sp.key: k for k, sp in enumerate(self.spans)}
        if len(keys) < 2:
            # one name, however often: "another mention" is one under another key, so no one
            # can connect (17 of the 1,019 public texts; pooling the given name's people and
            # their degrees was ~8% of linking "Paris is big.")
            return found
        pooled: list[int] = []
        pooled_key: list[int] = []
        given_of: dict[int, _GivenPeople] = {}
        for i, sp in enumerate(self.spans):
            size = len(pooled)
            pooled += [eid for eid, _p, _f in sp.candidates[:TOP_K_COHERENCE]]
            if sp.given:
                given = given_of[i] = _given_people(self.kb, sp.key)
                pooled += given.eids
            pooled_key += [keys[sp.key]] * (len(pooled) - size)
        if len(pooled) <= SMALL_GIVEN_POOL:
            return self._given_name_candidates_small(asked, keys, pooled, pooled_key, given_of)
        pool = np.asarray(pooled, dtype=np.int64)
        pool_key = np.asarray(pooled_key, dtype=np.int64)
        everything, first = np.unique(pool, return_index=True)
        src, dst = self.kb.neighbour_pairs(everything)
        # "another mention" is one under another key: per entity, the first key whose pool has
        # it and whether a second does, so each key's "others" is one mask (not a union of all
        # the other pools per mention, which made long texts quadratic)
        first_key = pool_key[first]
        several = np.zeros(len(everything), dtype=bool)
        at = np.searchsorted(everything, pool)
        several[at[pool_key != first_key[at]]] = True
        # a country, a language, an occupation connects too many people to mean anything
        not_hub = self.kb.in_degrees(everything) <= GIVEN_HUB_DEGREE
        # each edge's ends as places in ``everything`` (sources all are; a target may not be),
        # so that each key's tests are look-ups in masks, not np.isin over the edges
        src_at = np.searchsorted(everything, src)
        dst_at = np.minimum(np.searchsorted(everything, dst), max(len(everything) - 1, 0))
        dst_in = everything[dst_at] == dst if len(everything) else np.zeros(len(dst), dtype=bool)
        hits: dict[str, set[int]] = {}
        for i in asked:
            given = given_of[i]
            if not given.eids:
                continue
            key = self.spans[i].key
            if key not in hits:
                other = (several | (first_key != keys[key])) & not_hub
                person = np.zeros(len(everything), dtype=bool)
                person[np.searchsorted(everything, given.array())] = True
                out = person[src_at] & dst_in & other[dst_at]          # Angelina -> father Jon
                inn = other[src_at] & dst_in & person[dst_at]          # Microsoft -> founder Bill
                hits[key] = set(src[out].tolist()) | set(dst[inn].tolist())
            found[i] = _connected(given, hits[key], self.spans[i])
        return found

    def _given_name_candidates_small(self, asked: list[int], keys: dict[str, int], pooled: list[int],
                                     pooled_key: list[int], given_of: dict[int, _GivenPeople]) -> list[list[tuple[int, float, int]]]:
        """``_given_name_candidates`` for a small pool, with sets: the same people (its ~35
        numpy calls cost a short text more than the look-ups themselves)."""
        found: list[list[tuple[int, float, int]]] = [[] for _ in self.spans]
        first_key: dict[int, int] = {}
        several: set[int] = set()
        for eid, k in zip(pooled, pooled_key):
            if first_key.setdefault(eid, k) != k:
                several.add(eid)
        kb = self.kb
        everything = list(first_key)
        not_hub = {eid for eid, degree in zip(everything, kb.in_degrees(everything).tolist())
                   if degree <= GIVEN_HUB_DEGREE}
        hits: dict[str, set[int]] = {}
        for i in asked:
            given = given_of[i]
            if not given.eids:
                continue
            key = self.spans[i].key
            if key not in hits:
                mine = keys[key]
                other = {eid for eid in not_hub if eid in several or first_key[eid] != mine}
                person = given.members()
                # Angelina -> her father Jon; Microsoft -> its founder Bill
                hit = {eid for eid in person if not other.isdisjoint(_neighbour_list(kb, eid))}
                for eid in other:
                    hit.update(person.intersection(_neighbour_list(kb, eid)))
                hits[key] = hit
            found[i] = _connected(given, hits[key], self.spans[i])
        return found

    def _given_name_candidates_reference(self) -> list[list[tuple[int, float, int]]]:
        """The original of ``_given_name_candidates`` (``fastpath.reference_paths``): np.isin
        over the edges for each key."""
        found: list[list[tuple[int, float, int]]] = [[] for _ in self.spans]
        asked = [i for i, sp in enumerate(self.spans) if sp.given]
        if not asked:
            return found
        # pools[i]: the entities mention i may name (its likeliest candidates, its given names)
        pools: list[np.ndarray] = []
        given_of: dict[int, list[tuple[int, float, int]]] = {}
        for i, sp in enumerate(self.spans):
            pool = [eid for eid, _p, _f in sp.candidates[:TOP_K_COHERENCE]]
            if sp.given:
                rows = [c for c in self.kb.candidates(sp.key, CANDIDATE_WINDOW + GIVEN_WINDOW) if c[2] & FLAG_GIVEN]
                given_of[i] = rows
                pool += [eid for eid, _p, _f in rows]
            pools.append(np.asarray(pool, dtype=np.int64))
        everything = np.unique(np.concatenate(pools)) if pools else np.zeros(0, dtype=np.int64)
        src, dst = self.kb.neighbour_pairs(everything)
        # "another mention" is one under another key: per entity, the first key whose pool has
        # it and whether a second does, so each key's "others" is one mask (not a union of all
        # the other pools per mention, which made long texts quadratic)
        keys = {sp.key: k for k, sp in enumerate(self.spans)}
        first_key = np.full(len(everything), -1, dtype=np.int64)
        several = np.zeros(len(everything), dtype=bool)
        for sp, pool in zip(self.spans, pools):
            at = np.searchsorted(everything, pool)
            k = keys[sp.key]
            several[at] |= (first_key[at] >= 0) & (first_key[at] != k)
            first_key[at] = np.where(first_key[at] < 0, k, first_key[at])
        # a country, a language, an occupation connects too many people to mean anything
        not_hub = self.kb.in_degrees(everything) <= GIVEN_HUB_DEGREE
        hits: dict[str, set[int]] = {}
        for i in asked:
            people = np.asarray([eid for eid, _p, _f in given_of[i]], dtype=np.int64)
            if not len(people):
                continue
            key = self.spans[i].key
            if key not in hits:
                other = everything[(several | (first_key != keys[key])) & not_hub]
                out = np.isin(src, people) & np.isin(dst, other)       # Angelina -> father Jon
                inn = np.isin(src, other) & np.isin(dst, people)       # Microsoft -> founder Bill
                hits[key] = set(src[out].tolist()) | set(dst[inn].tolist())
            have = {eid for eid, _p, _f in self.spans[i].candidates}
            found[i] = [c for c in given_of[i] if c[0] in hits[key] and c[0] not in have]
        return found

    @cython.locals(sp=Span, w=Weights)
    def _local(self, sp: Span, eid: int, prior: float, flags: int, own: set[str], cue: bool) -> float:
        """The candidate's score from the mention alone (no other mention's entities)."""
        w = self.w
        if flags & FLAG_GIVEN:
            # no prior: the given name alone says nothing about which person
            return w.given + w.popularity * self.kb.popularity(eid) + w.context * self._context(eid, own)
        s = (w.prior * math.log(prior + 1e-4) + w.popularity * self.kb.popularity(eid)
             + w.context * self._context(eid, own))
        if flags & FLAG_LABEL:
            s += w.label
        if cue:
            # "President Reagan": a person, named by surname as people are
            if _is_person(self.kb, eid):
                s += w.person_cue
            elif _is_partial(flags):
                s += w.partial
        elif _is_partial(flags):
            s += w.partial
        if (sp.embedded and not (flags & FLAG_LABEL and " " in sp.text and _is_person(self.kb, eid))
                and not self._title_follows(sp)):
            s += w.embedded
        if self.favoured and eid in self.favoured.get(sp.start, ()):
            s += w.story
        if sp.modifier:
            s += w.modifier
            if self._is_language_or_people(eid) or self._is_genre_or_work(eid):
                s += w.demonym      # a describing word, not the language, the genre, the film
            elif flags & FLAG_DEMONYM:
                s += w.demonym_country
        return s

    @cython.locals(sp=Span)
    def _lists(self) -> dict[int, list[int]]:
        """The mentions of each list of names (``Span.listed``), in text order."""
        groups: dict[int, list[int]] = {}
        for i, sp in enumerate(self.spans):
            if sp.listed is not None:
                groups.setdefault(sp.listed, []).append(i)
        return groups

    def _cue_listed_people(self, base: list[list[Scored]], extra, owns) -> None:
        """In a list of people ("Clapton, Beck, and Page") a person named by surname loses the
        surname penalty, as after a title, if its description shares words with a person
        candidate of another item (Eric Clapton "English ... guitarist", Jeff Beck "English
        rock guitarist"): "Kilpatrick and Ferguson", two people the KB lacks, pick no one."""
        cued: set[int] = set()
        lists = self._lists()
        groups = list(lists.values())
        for _ in range(3):      # a list's items take their kind from each other: settle it
            more = _listed_people(base, groups, self.kb) - cued
            if not more:
                return
            cued |= more
            # the cue changes only a person's score (``_local``): the similarities are built
            # when a person is first asked about, from the beliefs this round started with
            before, sims = list(base), None
            rescored: list[int] = []
            for i in more:
                sp = self.spans[i]
                if sp.person_cue:
                    continue
                fellows = [j for j in lists[sp.listed] if j != i]

                def alike(eid: int) -> bool:
                    nonlocal sims
                    if not _is_person(self.kb, eid):
                        return False
                    if sims is None:
                        sims = self._list_similarity(before, more)
                    return any(_is_person(self.kb, b) for b in sims.alike(i, eid, fellows, LIST_SIMILARITY))

                base[i] = [Scored(eid, self._local(sp, eid, prior, flags, owns[i], alike(eid)))
                           for eid, prior, flags in sp.candidates + extra[i] if not _is_name_item(self.kb, eid)]
                rescored.append(i)
            self._normalise(base, rescored)

    def _list_similarity(self, base: list[list[Scored]], mentions: set[int]) -> "_Similarity":
        # only the rows ``_cue_listed_people`` asks ``alike`` about: the same numbers, but
        # building every row was a tenth of linking a 4 KB article
        return _Similarity(self, base, only={i for i in mentions if not self.spans[i].person_cue})

    def _list_similarity_reference(self, base: list[list[Scored]], mentions: set[int]) -> "_Similarity":
        """The original of ``_list_similarity`` (``fastpath.reference_paths``): every row."""
        return _Similarity(self, base)

    @cython.locals(sp=Span, w=Weights, c=Scored)
    def rank(self) -> list[list[Scored]]:
        w = self.w
        base: list[list[Scored]] = []
        extra = self._given_name_candidates()
        owns = self.owns
        # a name that recurs in the same shape scores the same (two thirds of a 4 KB
        # article's mentions): the key is everything ``_local`` reads
        scored: dict[tuple, list[tuple[int, float]]] = {}
        for sp, more, own in zip(self.spans, extra, owns):
            favoured = self.favoured.get(sp.start)
            key = (sp.text, sp.embedded, sp.embedded and self._title_follows(sp), sp.modifier, sp.person_cue,
                   frozenset(favoured) if favoured else None, tuple(sp.candidates), tuple(more))
            row = scored.get(key)
            if row is None:
                row = scored[key] = [(eid, self._local(sp, eid, prior, flags, own, sp.person_cue))
                                     for eid, prior, flags in sp.candidates + more if not _is_name_item(self.kb, eid)]
            base.append([Scored(eid, score) for eid, score in row])
        self._normalise(base)
        if any(sp.listed is not None for sp in self.spans):
            self._cue_listed_people(base, extra, owns)

        # Short forms inherit the entity their longer form most likely names, as sure of it
        # as the longer form is: "Walters" after "Barbara Walters" is not less her for being
        # some other people's surname too.
        inherited: list[int] = []
        for i, (srcs, own_label) in enumerate(self._coref_sources()):
            for j in srcs:
                if not base[j]:
                    continue
                top = max(base[j], key=lambda c: c.score)
                rec = self.kb.record(top.eid)
                person = is_person(rec)
                # "Minsk" after "Minsk accords" is the city: a name that is some entity's own
                # label is not a short form, but of a person (a surname that is also a town's).
                if (own_label and not person) or not is_short_form(self.spans[i].text, rec, person):
                    continue
                hit = next((c for c in base[i] if c.eid == top.eid), None)
                if hit is None:
                    base[i].append(Scored(top.eid, top.score))
                    hit = base[i][-1]
                hit.score = max(hit.score, top.score) + w.coref * top.prob
                inherited.append(i)
        self._normalise(base, set(inherited))

        support: dict[tuple[int, int], float] = {}
        akin: dict[tuple[int, int], float] = {}
        if w.coherence and len(self.spans) > 1:
            # A few rounds: each round's beliefs weight the next round's support.
            local = [[c.score for c in row] for row in base]
            similarity = _Similarity(self, base)
            alike = similarity.support(base) if w.similar else {}
            if self.favoured and alike:
                # a reading the story settles (``metonymy``) is not argued away by how alike
                # its rivals' descriptions are to the text's other names ("official in the
                # state governments of the United States" against the federal office)
                for i, sp in enumerate(self.spans):
                    for eid in self.favoured.get(sp.start, ()):
                        if alike.get((i, eid), 0.0) < 0.0:
                            alike[(i, eid)] = 0.0
            akin = similarity.raw if w.similar else {}
            coherence, similar = w.coherence, w.similar
            before = [s for scores in local for s in scores]
            for _ in range(COHERENCE_ROUNDS):
                support = self._coherence(base)
                # only the rows whose scores moved take a new softmax: a row's shares are those
                # of its scores (every score change above is followed by its row's softmax), and
                # a mention nothing supports keeps its local scores
                moved = _rescored(base, local, support, alike, coherence, similar)
                self._normalise(base, moved)
                # a round that changed no score changes none after it (a round reads only the
                # scores and their shares): a third of short texts, where nothing supports anything
                after = [c.score for row in base for c in row]
                if after == before:
                    break
                before = after
        if w.lone:
            self._penalise_lone(base, owns, support, akin)
        for row in base:
            if len(row) > 1:
                row.sort(key=_score, reverse=True)
        return base

    @cython.locals(c=Scored)
    def _penalise_lone(self, rows: list[list[Scored]], owns: list[frozenset[str]],
                       support: dict[tuple[int, int], float], akin: dict[tuple[int, int], float]) -> None:
        """A name's only reading that nothing else in the text supports: a thing of a known
        type (not a person, a place, an organisation or an event: a ship, a film; an entry
        with no type, as a newsroom adds its own, says nothing to doubt), obscure (popularity under
        ``LONE_POPULARITY``), no word of its description or type in the text, and no
        coherence ``support`` from another mention (a "1970 command ship" for a region's
        name in a story about Moscow and Kyiv)."""
        changed: list[int] = []
        for i, row in enumerate(rows):
            text = self.spans[i].text
            if len(row) != 1 or " " in text or text.isupper():
                continue            # one word, the only reading: a full name says more
            c = row[0]
            if (self.kb.popularity(c.eid) < LONE_POPULARITY and not support.get((i, c.eid))
                    and self._context(c.eid, owns[i]) == 0 and akin.get((i, c.eid), 0.0) <= LONE_SIMILARITY
                    and self.kb.record(c.eid)["t"] and entity_kind(self.kb.record(c.eid)) == "other"):
                c.score += self.w.lone
                changed.append(i)
        self._normalise(rows, changed)

    def _normalise(self, rows: list[list[Scored]], which=None) -> None:
        """Each row's shares: a softmax over its scores and NIL's (``Weights.nil``).
        ``which``: the indices of the only rows whose scores changed."""
        _softmax(rows if which is None else [rows[i] for i in which], self.w.nil, self.w.temperature)

    def _coherence(self, rows: list[list[Scored]]) -> dict[tuple[int, int], float]:
        """Support (i, eid) -> sum over other mentions of the best-weighted connected candidate.

        Mentions support each other within blocks of ``COHERENCE_BLOCK`` consecutive mentions
        (~8 KB of news), as in ``_Similarity``: a mention of a long text is supported by the
        ones around it, and time stays linear in the text's length."""
        support: dict[tuple[int, int], float] = {}
        for lo in range(0, len(rows), COHERENCE_BLOCK):
            support.update(self._block_coherence(rows, lo, min(lo + COHERENCE_BLOCK, len(rows))))
        return support

    def _links(self, eids: tuple[int, ...]) -> tuple[list[tuple[int, int]], dict[int, dict[int, float]]]:
        """How the candidates ``eids`` (a block's, in order) are connected: the pairs where
        one's claims point at the other, in the order ``_block_coherence_reference`` meets
        them, and for each candidate the others it shares a neighbour (a hub) with, in the
        order it meets them, with the largest damping of such a hub. The same each coherence
        round when the likeliest candidates stay the same: kept per document."""
        found = self._linked.get(eids)
        if found is not None:
            return found
        kb, among = self.kb, set(eids)
        direct: list[tuple[int, int]] = []
        via: dict[int, list[int]] = {}      # shared neighbour -> candidates pointing at it
        for a in eids:
            for b in _neighbour_list(kb, a):
                if b in among and b != a:
                    direct.append((a, b))
                via.setdefault(b, []).append(a)
        met: dict[int, dict[int, float]] = {}       # a -> {b: largest damping}, b as met
        for hub, cands in via.items():
            if len(cands) < 2:
                continue
            damp = 1.0 / math.log(math.e + kb.in_degree(hub) / 50.0)
            for a in cands:
                others = met.setdefault(a, {})
                for b in cands:
                    if b != a:
                        d = others.get(b)
                        if d is None or damp > d:
                            others[b] = damp
        found = self._linked[eids] = (direct, met)
        return found

    def _block_coherence(self, rows: list[list[Scored]], lo: int, hi: int) -> dict[tuple[int, int], float]:
        # ``_block_coherence_reference``'s numbers, bit for bit: the same maxima, and the same
        # sums in the same order. Compiled, typed loops over arrays (``_typed_coherence``)
        # for a block of more than ``SMALL_COHERENCE_BLOCK`` placings: 3x faster at ~30, 10x
        # at ~600; below, the set-up of arrays costs more than the dicts (``_dict_coherence``),
        # which pure Python takes always. (A numpy version was measured slower: the blocks of
        # news texts are small.)
        where = self._placings(rows, lo, hi)
        if COMPILED and sum(map(len, where.values())) > SMALL_COHERENCE_BLOCK:
            return self._typed_coherence(where, lo, hi)
        return self._dict_coherence(where)

    _placings = staticmethod(_placings)

    def _links_as_numbers(self, eids: tuple[int, ...]) -> tuple[array, array, array, array, array]:
        """``_links(eids)`` with each candidate as its place in ``eids``, in arrays for
        ``_coherence_totals``: the linked pairs (two numbers each), the candidates that share a
        hub with others (in ``met``'s order), where each one's others start in the next two
        arrays, those others and their dampings. Kept per document, as ``_links`` is."""
        found = self._link_numbers.get(eids)
        if found is not None:
            return found
        direct, met = self._links(eids)
        at = {eid: e for e, eid in enumerate(eids)}
        starts, others, damps = [0], [], []
        for dampings in met.values():
            for b, damp in dampings.items():
                others.append(at[b])
                damps.append(damp)
            starts.append(len(others))
        found = self._link_numbers[eids] = (
            array("q", [at[eid] for pair in direct for eid in pair]), array("q", [at[a] for a in met]),
            array("q", starts), array("q", others), array("d", damps))
        return found

    def _typed_coherence(self, where: dict[int, list[tuple[int, float]]], lo: int,
                         hi: int) -> dict[tuple[int, int], float]:
        """``_dict_coherence`` by ``_coherence_totals``: the same support, bit for bit."""
        eids = tuple(where)
        starts, mentions, beliefs = [0], [], []
        for placed in where.values():
            for i, pb in placed:
                mentions.append(i - lo)
                beliefs.append(pb)
            starts.append(len(mentions))
        pairs, sharers, shared_starts, others, damps = self._links_as_numbers(eids)
        totals, present = _coherence_totals(array("q", starts), array("q", mentions), array("d", beliefs),
                                            hi - lo, pairs, sharers, shared_starts, others, damps,
                                            self.w.shared)
        support: dict[tuple[int, int], float] = {}
        r = 0
        for eid, placed in where.items():
            for i, _pb in placed:
                if present[r]:
                    support[(i, eid)] = totals[r]
                r += 1
        return support

    def _dict_coherence(self, where: dict[int, list[tuple[int, float]]]) -> dict[tuple[int, int], float]:
        """Support (i, eid) -> sum over other mentions of the best-weighted connected candidate,
        of the candidates ``where`` places (eid -> [(mention, sqrt of its belief)]). The
        shared-neighbour part, nine tenths of the reference's loop steps, goes over pairs of
        candidates instead of hubs (see below)."""
        best: dict[tuple[int, int, int], float] = {}   # (mention, eid, other mention) -> weight
        direct, met = self._links(tuple(where))
        for a, b in direct:
            _connect(where, best, a, b)
            _connect(where, best, b, a)
        support: dict[tuple[int, int], float] = {}
        _add_by_candidate(support, best)
        if self.w.shared:
            # ``_block_coherence_reference`` keeps, for each (mention i, candidate a, mention j),
            # the largest damped belief pb * damp over the hubs a shares with a candidate b of
            # j. A pair of candidates shares many hubs (a country, its continent, ...), and
            # rounding is monotone, so that is pb times the pair's largest damping: the loop
            # goes over pairs of candidates, not over hubs and then pairs. Each (i, a, ·) is
            # inserted in the order the reference meets it (hubs in order, then the candidates
            # b in the hub's order, then b's mentions), so every sum adds in the same order.
            shared: dict[tuple[int, int, int], float] = {}
            for a, others in met.items():
                on: dict[int, float] = {}           # mention j -> best damped belief of another candidate
                for b, damp in others.items():
                    for j, pb in where[b]:
                        v = pb * damp
                        old = on.get(j)
                        if old is None or v > old:
                            on[j] = v
                for i, _pa in where[a]:
                    for j, v in on.items():
                        if i != j:
                            shared[(i, a, j)] = v if v > 0.0 else 0.0
            _add_by_candidate(support, shared, self.w.shared)
        return support

    def _block_coherence_reference(self, rows: list[list[Scored]], lo: int, hi: int) -> dict[tuple[int, int], float]:
        """The original of ``_block_coherence`` (``fastpath.reference_paths``)."""
        where: dict[int, list[tuple[int, float]]] = {}
        for i in range(lo, hi):
            for c in sorted(rows[i], key=lambda c: -c.score)[:TOP_K_COHERENCE]:
                where.setdefault(c.eid, []).append((i, math.sqrt(c.prob)))
        best: dict[tuple[int, int, int], float] = {}   # (mention, eid, other mention) -> weight
        via: dict[int, list[int]] = {}      # shared neighbour -> candidates pointing at it
        for a in where:
            for b in self.kb.neighbours(a).tolist():
                if b in where and b != a:
                    _connect(where, best, a, b)
                    _connect(where, best, b, a)
                via.setdefault(b, []).append(a)
        support: dict[tuple[int, int], float] = {}
        _add_by_candidate(support, best)
        if self.w.shared:
            shared: dict[tuple[int, int, int], float] = {}
            for hub, cands in via.items():
                if len(cands) < 2:
                    continue
                damp = 1.0 / math.log(math.e + self.kb.in_degree(hub) / 50.0)
                for a in cands:
                    for b in cands:
                        if a == b:
                            continue
                        for i, _pa in where[a]:
                            for j, pb in where[b]:
                                if i != j:
                                    k = (i, a, j)
                                    shared[k] = max(shared.get(k, 0.0), pb * damp)
            _add_by_candidate(support, shared, self.w.shared)
        return support


keep_reference(DocumentRanker, "_list_similarity", DocumentRanker._list_similarity_reference)
keep_reference(DocumentRanker, "_given_name_candidates", DocumentRanker._given_name_candidates_reference)
keep_reference(DocumentRanker, "_block_coherence", DocumentRanker._block_coherence_reference)


class _Similarity:
    """Description similarity between the likeliest candidates of different mentions: for each
    pair, the words their descriptions and type labels share, each weighted by how rare it is
    among the document's candidates (IDF over them), cosine-normalised.

    All pairs at once with numpy: a 4 KB article has ~500 such candidates, and the pairwise
    Python loop this replaces was half of its linking time. A long text is cut into blocks of
    ``SIMILARITY_BLOCK`` consecutive mentions (~8 KB of news) compared among themselves, so
    time and memory stay linear in its length (a 200 KB article has ~5,000 mentions).
    """

    def __init__(self, ranker: "DocumentRanker", rows: list[list[Scored]], only: set[int] | None = None):
        """``only``: compute the similarities of these mentions' candidates only (for ``alike``
        about them; ``support`` needs them all). A block none of them is in is not built
        (None): ``alike`` reads only the block of the mention it is asked about. A long
        article's lists sit in a few of its blocks; building all of them was ~6% of linking a
        128 KB article. Each block's numbers are the same either way: a block reads its own
        mentions only."""
        wanted = None if only is None else {i // SIMILARITY_BLOCK for i in only}
        self.blocks = [self._block(ranker, rows, lo, min(lo + SIMILARITY_BLOCK, len(rows)), only)
                       if wanted is None or lo // SIMILARITY_BLOCK in wanted else None
                       for lo in range(0, len(rows), SIMILARITY_BLOCK)]

    @staticmethod
    def _block(ranker: "DocumentRanker", rows: list[list[Scored]], lo: int, hi: int,
               only: set[int] | None) -> "_SimilarityBlock | _SmallSimilarityBlock":
        # Compiled, typed loops over arrays, whatever the size: from a quarter of numpy's time
        # (~10 candidates) to two thirds (~600; ``bench/README.md``, "Typed similarity blocks of
        # every size"). As plain Python, a short text's block (~6 mentions, ~15 candidates)
        # costs numpy's ~40 calls more than its arithmetic: dicts, the same numbers, are a third
        # of the time; beyond ~20 candidates numpy wins.
        if COMPILED:
            return _TypedSimilarityBlock(ranker, rows, lo, hi, only)
        if sum(min(len(rows[i]), TOP_K_COHERENCE) for i in range(lo, hi)) <= SMALL_SIMILARITY_BLOCK:
            return _SmallSimilarityBlock(ranker, rows, lo, hi, only)
        return _SimilarityBlock(ranker, rows, lo, hi, only)

    @staticmethod
    def _block_reference(ranker: "DocumentRanker", rows: list[list[Scored]], lo: int, hi: int,
                         only: set[int] | None) -> "_SimilarityBlock":
        """The original of ``_block`` (``fastpath.reference_paths``): numpy for every block."""
        return _SimilarityBlock(ranker, rows, lo, hi, only)

    def support(self, rows: list[list[Scored]]) -> dict[tuple[int, int], float]:
        """(i, eid) -> sum over other mentions of the most similar candidate's similarity, minus
        the best such sum among mention i's candidates: it only moves belief between a mention's
        candidates (Córdoba Province next to Santa Fe Province), never towards linking at all."""
        out: dict[tuple[int, int], float] = {}
        self.raw: dict[tuple[int, int], float] = {}     # (i, eid) -> the sum before the minus
        for block in self.blocks:
            out.update(block.support(rows))
            self.raw.update(getattr(block, "raw", {}))
        return out

    def alike(self, i: int, eid: int, mentions: list[int], threshold: float) -> list[int]:
        """Candidates of ``mentions`` at least ``threshold`` similar to candidate ``eid`` of mention i."""
        return self.blocks[i // SIMILARITY_BLOCK].alike(i, eid, mentions, threshold)


def _connect(where: dict[int, list[tuple[int, float]]], best: dict[tuple[int, int, int], float],
             a: int, b: int) -> None:
    """Candidate a of each mention i gains, towards each other mention j, the largest belief
    (sqrt prob) of a linked candidate b there (``best``: (i, a, j) -> weight)."""
    at_b = where[b]
    for i, _pa in where[a]:
        for j, pb in at_b:
            if i != j:
                k = (i, a, j)
                if pb > best.get(k, 0.0):
                    best[k] = pb


def _add_by_candidate(support: dict[tuple[int, int], float], weights: dict[tuple[int, int, int], float],
                      scale: float = 1.0) -> None:
    """support[(i, eid)] += scale * weight over the other mentions j, in ``weights``' order (the
    fast path and its reference add the same numbers in the same order: the same bits; a scale
    of 1.0 multiplies exactly)."""
    for (i, eid, _j), wgt in weights.items():
        support[(i, eid)] = support.get((i, eid), 0.0) + scale * wgt


def _coherence_totals(starts, mentions, beliefs, block: int, pairs, sharers, shared_starts,
                      others, damps, scale: float) -> tuple[array, array]:
    """``DocumentRanker._dict_coherence``'s sums, bit for bit, with arrays for its dicts:
    (totals, present), one of each for each placed candidate r (candidate e's are
    ``starts[e]`` to ``starts[e + 1]`` - 1, at mention ``mentions[r]`` of the block's ``block``,
    with belief ``beliefs[r]``); present[r] is 0 where the dicts have no support at all.

    The linked pairs first (``_connect``): each (r, other mention j) keeps the largest belief
    of a linked candidate at j, and its sum adds those in the order the pairs first reached
    them, as ``best``'s insertion order does. The pairs' offers are first laid out by r in
    their order (a counting sort), then each r's are read with a scratch row of the block's
    mentions: no r x mentions table to clear. Then, when ``scale`` (``Weights.shared``), the
    hubs: for each candidate a that shares one, its others' best damped beliefs by mention in
    the order met, each added scaled to the sums of a's placings, as ``shared``'s insertion
    order adds them. Compiled, ranker.pxd types every local and the loops run without the
    interpreter."""
    n = len(mentions)
    # the offers (r, j, belief): at most |placings of a| x |placings of b| per side of a pair
    room = _zeros("q", n + 1)
    for p in range(0, len(pairs), 2):
        for side in range(2):
            a = pairs[p + side]
            b = pairs[p + 1 - side]
            for r in range(starts[a], starts[a + 1]):
                room[r + 1] += starts[b + 1] - starts[b]
    for r in range(n):
        room[r + 1] += room[r]
    offers = room[n]
    ints = _zeros("q", n + offers + 2 * block)
    filled = ints[:n]
    offer_at = ints[n:n + offers]
    order = ints[n + offers:n + offers + block]
    seen = ints[n + offers + block:]
    reals = _zeros("d", offers + block)
    offer_of = reals[:offers]
    best = reals[offers:]
    # the arrays returned, and typed views of them (compiled, a view returned would be a
    # memoryview object: slower to read from Python)
    totals_of, present_of = _zeros("d", n), _zeros("q", n)
    totals, present = totals_of, present_of
    for p in range(0, len(pairs), 2):
        for side in range(2):
            a = pairs[p + side]
            b = pairs[p + 1 - side]
            for r in range(starts[a], starts[a + 1]):
                i = mentions[r]
                for s in range(starts[b], starts[b + 1]):
                    j = mentions[s]
                    if i != j:
                        at = room[r] + filled[r]
                        offer_at[at] = j
                        offer_of[at] = beliefs[s]
                        filled[r] += 1
    for r in range(n):
        kept = 0
        for at in range(room[r], room[r] + filled[r]):
            j = offer_at[at]
            pb = offer_of[at]
            if pb > best[j]:
                if best[j] == 0.0:      # the first offer above none: its place in the sum
                    order[kept] = j
                    kept += 1
                best[j] = pb
        total = 0.0
        for k in range(kept):
            j = order[k]
            total += best[j]
            best[j] = 0.0
        totals[r] = total
        present[r] = 1 if kept else 0
    if scale != 0.0:
        for q in range(len(sharers)):
            a = sharers[q]
            kept = 0
            for p in range(shared_starts[q], shared_starts[q + 1]):
                b = others[p]
                damp = damps[p]
                for s in range(starts[b], starts[b + 1]):
                    j = mentions[s]
                    v = beliefs[s] * damp
                    if not seen[j]:
                        seen[j] = 1
                        order[kept] = j
                        kept += 1
                        best[j] = v
                    elif v > best[j]:
                        best[j] = v
            for r in range(starts[a], starts[a + 1]):
                i = mentions[r]
                total = totals[r]
                for k in range(kept):
                    j = order[k]
                    if i != j:
                        v = best[j]
                        total += scale * (v if v > 0.0 else 0.0)
                        present[r] = 1
                totals[r] = total
            for k in range(kept):
                j = order[k]
                seen[j] = 0
                best[j] = 0.0
    return totals_of, present_of


def _supported(totals, mention: list[int], eids: list[int], out: dict[tuple[int, int], float],
               raw: dict[tuple[int, int], float], top: dict[int, float]) -> None:
    """A similarity block's positive totals into ``out`` and ``raw`` by (mention, entity), and
    each mention's best into ``top``, candidate by candidate in pool order (typed when compiled,
    ``ranker.pxd``)."""
    for x in range(len(eids)):
        v = totals[x]
        if v > 0:
            i = mention[x]
            key = (i, eids[x])
            out[key] = raw[key] = v
            top[i] = max(top.get(i, 0.0), v)


def _relative_to_best(out: dict[tuple[int, int], float], top: dict[int, float],
                      rows: list[list[Scored]]) -> dict[tuple[int, int], float]:
    """Each candidate's similarity support minus the best among its mention's candidates (both
    similarity blocks end this way: support moves belief between readings, never towards
    linking at all)."""
    for i, v in top.items():
        for c in rows[i]:
            out[(i, c.eid)] = out.get((i, c.eid), 0.0) - v
    return out


class _SimilarityBlock:
    """``_Similarity`` among the mentions lo..hi-1."""

    @cython.locals(c=Scored)
    def __init__(self, ranker: "DocumentRanker", rows: list[list[Scored]], lo: int, hi: int,
                 only: set[int] | None = None):
        kb, spans = ranker.kb, ranker.spans
        pool = [(i, c.eid) for i in range(lo, hi)
                for c in _likeliest(rows[i])]
        self.index = {entry: x for x, entry in enumerate(pool)}
        self.eids = [eid for _i, eid in pool]
        n = len(pool)
        self.mention = np.fromiter((i for i, _eid in pool), dtype=np.int64, count=n)
        # Similarity is a matter of two entities, and a name that recurs puts the same entities
        # in the pool again (a 4 KB article: ~190 candidates, ~50 distinct entities): compute
        # it once per pair of distinct entities, then read it out for every pair of candidates.
        # Every number is the one computed per candidate before: the document frequency counts
        # each candidate, and each sum adds the same numbers in the same order (words numbered
        # in order of first appearance, shared words in that order).
        distinct = list(dict.fromkeys(self.eids))
        at = {eid: u for u, eid in enumerate(distinct)}
        of = np.fromiter(map(at.__getitem__, self.eids), dtype=np.int64, count=n)    # candidate -> entity
        u = len(distinct)
        copies = np.bincount(of, minlength=u)
        # every (entity, word) membership, without a Python step per membership
        words_of = [_entity_word_order(kb, eid) for eid in distinct]
        memberships = list(chain.from_iterable(words_of))
        vocab = {w: k for k, w in enumerate(dict.fromkeys(memberships))}
        member_a = np.repeat(np.arange(u, dtype=np.int64), np.fromiter(map(len, words_of), dtype=np.int64, count=u))
        word_a = np.fromiter(map(vocab.__getitem__, memberships), dtype=np.int64, count=len(memberships))
        df = np.bincount(word_a, weights=copies[member_a], minlength=len(vocab)).astype(np.int64)
        # a word every candidate has ("human" among people) weighs almost nothing
        w2 = np.log((n + 1) / np.maximum(df, 1)) ** 2
        norm = np.sqrt(np.bincount(member_a, weights=w2[word_a], minlength=u))
        norm[norm == 0] = 1.0
        # every (entity, entity, shared word): memberships grouped by word, each paired with
        # all of its word's memberships
        by_word = np.argsort(word_a, kind="stable")
        member_a, word_a = member_a[by_word], word_a[by_word]
        having = np.bincount(word_a, minlength=len(vocab))    # entities with each word
        start = np.cumsum(having) - having                  # first membership of each word
        size = having[word_a]                               # group size of each membership
        left = np.repeat(member_a, size)
        step = np.arange(len(left)) - np.repeat(np.cumsum(size) - size, size)
        right = member_a[np.repeat(start[word_a], size) + step]
        shared = np.bincount(left * u + right, weights=np.repeat(w2[word_a], size), minlength=u * u)
        between = shared.reshape(u, u) / np.outer(norm, norm)
        key_id: dict[str, int] = {}
        keys = np.fromiter([key_id.setdefault(spans[i].key, len(key_id)) for i in range(lo, hi)],
                           dtype=np.int64, count=hi - lo)[self.mention - lo]
        # A candidate's row of similarities (one column per candidate) depends only on its
        # entity and its mention's name: the same entity under the same name (a recurring name:
        # ~190 candidates of a 4 KB article, ~60 such rows) has the same row, number for
        # number. One row is made per (entity, name), and ``self.row[x]`` is candidate x's
        # (-1: not made, for a mention ``only`` leaves out).
        self.partial = only is not None
        wanted = np.isin(self.mention, list(only)) if self.partial else np.ones(n, dtype=bool)
        kinds, row = np.unique((of * len(key_id) + keys)[wanted], return_inverse=True)
        self.row = np.full(n, -1, dtype=np.int64)
        self.row[wanted] = row.reshape(-1)
        sim = between[(kinds // len(key_id))[:, None], of[None, :]]
        # no similarity within a mention, nor between mentions of the same name (a mention has
        # one name, so the second test covers the first)
        sim[(kinds % len(key_id))[:, None] == keys[None, :]] = 0.0
        self.sim = sim
        self._among: dict[tuple[int, ...], np.ndarray] = {}     # ``alike``'s mentions -> their candidates

    def support(self, rows: list[list[Scored]]) -> dict[tuple[int, int], float]:
        out: dict[tuple[int, int], float] = {}
        if not self.eids:
            return out
        if self.partial:
            raise ValueError("support needs every row: this block was built for some mentions only")
        # the pool lists each mention's candidates together: one column block per mention
        starts = np.flatnonzero(np.concatenate(([True], self.mention[1:] != self.mention[:-1])))
        total = np.maximum.reduceat(self.sim, starts, axis=1).sum(axis=1)[self.row]
        top: dict[int, float] = {}
        self.raw: dict[tuple[int, int], float] = {}
        _supported(total.tolist(), self.mention.tolist(), self.eids, out, self.raw, top)
        return _relative_to_best(out, top, rows)

    def alike(self, i: int, eid: int, mentions: list[int], threshold: float) -> list[int]:
        x = self.index.get((i, eid))
        if x is None:
            return []
        if self.row[x] < 0:
            raise ValueError(f"mention {i}'s similarities were not computed")
        x = int(self.row[x])
        among = self._among.get(tuple(mentions))
        if among is None:
            among = self._among[tuple(mentions)] = np.isin(self.mention, mentions)
        hits = (self.sim[x] >= threshold) & among
        return [self.eids[y] for y in np.flatnonzero(hits).tolist()]


# (the staticmethod objects themselves: ``reference_paths`` sets what it is given on the class)
keep_reference(_Similarity, "_block", _Similarity.__dict__["_block_reference"])


@lru_cache(maxsize=None)
def _idf_squared(n_plus_1: int, df: int) -> float:
    """``_SimilarityBlock``'s squared word weight, computed by numpy's own ``log`` (which need
    not round as ``math.log`` does): bit for bit the number the numpy block uses."""
    return np.square(np.log(np.array([n_plus_1 / df]))).tolist()[0]


def _numpy_sum(values: list[float]) -> float:
    """The sum numpy's ``add.reduce`` of a contiguous row gives (its pairwise summation,
    ``_pairwise_sum``), so that a plain-Python block's totals are bit for bit the numpy
    block's."""
    return _pairwise_sum(array("d", values), 0, len(values))


def _pairwise_sum(values, lo: int, n: int) -> float:
    """numpy's pairwise sum of ``values[lo:lo + n]`` (an ``array('d')``; typed by ranker.pxd
    when compiled): up to 128 values, eight running sums from eight values on; more, the two
    halves' sums (the first half cut at a multiple of eight)."""
    if n > 128:
        half = n // 2
        half -= half % 8
        return _pairwise_sum(values, lo, half) + _pairwise_sum(values, lo + half, n - half)
    total = 0.0
    if n < 8:
        for k in range(lo, lo + n):
            total += values[k]
        return total
    r0, r1, r2, r3 = values[lo], values[lo + 1], values[lo + 2], values[lo + 3]
    r4, r5, r6, r7 = values[lo + 4], values[lo + 5], values[lo + 6], values[lo + 7]
    k, end = lo + 8, lo + n
    while k + 8 <= end:
        r0 += values[k]
        r1 += values[k + 1]
        r2 += values[k + 2]
        r3 += values[k + 3]
        r4 += values[k + 4]
        r5 += values[k + 5]
        r6 += values[k + 6]
        r7 += values[k + 7]
        k += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < end:
        total += values[k]
        k += 1
    return total


# one zero of each type the kernels use ("q" and "d"): a zeroed array of n is one repeated,
# a third of the time of decoding n * 8 zero bytes (~1% of a 4 KB article)
_ZERO = {"q": array("q", [0]), "d": array("d", [0.0])}


def _zeros(typecode: str, n: int) -> array:
    return _ZERO[typecode] * n


def _typed_similarities(of, keys, made, estart, eword, nw: int, names: int) -> tuple[array, array]:
    """The similarity of a block's candidates to every candidate, as ``_SimilarityBlock``
    computes it: (sim, row), where sim holds one row of n similarities for each (entity, name)
    of the ``made`` candidates (a recurring name's candidates share one: the same numbers), in
    order of first appearance, and row[x] is candidate x's row number (-1: not made).

    Lists of ints in: ``of``, candidate -> its entity; ``keys``, candidate -> its mention's
    name (a number below ``names``); ``made``, the rows to compute; ``estart``/``eword``,
    entity a's word numbers are ``eword[estart[a]:estart[a + 1]]``, in its word order, words
    numbered by first appearance. Every number comes from the same operations in the same order as numpy's (word
    weights by its ``log``; sums in the order ``bincount`` adds), so the two agree bit for bit.
    Compiled, ranker.pxd types every local (most arrays as views of two buffers) and the loops
    run without the interpreter but for a few word weights (memoised) and ``sqrt``."""
    n = len(of)
    u = len(estart) - 1
    m = estart[u]
    # two buffers cut into the arrays below (compiled: views into them; as plain Python each
    # slice is a zeroed copy): two allocations and conversions to a typed view, not nine
    ints = _zeros("q", u + 3 * nw + 1 + m + 3 * n + u * names)
    copies = ints[:u]                       # candidates of each entity
    df = ints[u:u + nw]                     # each word's candidates
    start = ints[u + nw:u + 2 * nw + 1]     # word k's entities: members[start[k]:start[k + 1]]
    fill = ints[u + 2 * nw + 1:u + 3 * nw + 1]
    at = u + 3 * nw + 1
    members = ints[at:at + m]
    # the n x n loop reads these copies of ``of`` and ``keys`` (compiled, a list read boxes)
    entity = ints[at + m:at + m + n]
    name = ints[at + m + n:at + m + 2 * n]
    first = ints[at + m + 2 * n:at + m + 3 * n]     # each row's first candidate
    slot = ints[at + m + 3 * n:]            # (entity, name) -> its row + 1 (0: none yet)
    for x in range(n):
        entity[x] = of[x]
        name[x] = keys[x]
    reals = _zeros("d", nw + u + u * u + n + 1 + u * u)
    w2 = reals[:nw]
    norm = reals[nw:nw + u]
    shared = reals[nw + u:nw + u + u * u]
    # a word's weight by its df (0.0: not yet computed)
    weight_of = reals[nw + u + u * u:nw + u + u * u + n + 1]
    for x in range(n):
        copies[of[x]] += 1
    for a in range(u):
        for p in range(estart[a], estart[a + 1]):
            k = eword[p]
            df[k] += copies[a]
            start[k + 1] += 1
    # a word every candidate has ("human" among people) weighs almost nothing; every weight is
    # above 0 (df <= n), and a block has few distinct df
    for k in range(nw):
        if weight_of[df[k]] == 0.0:
            weight_of[df[k]] = _idf_squared(n + 1, df[k])
        w2[k] = weight_of[df[k]]
        start[k + 1] += start[k]
    # entities grouped by word, in entity order within a word (numpy's stable sort by word)
    for k in range(nw):
        fill[k] = start[k]
    for a in range(u):
        for p in range(estart[a], estart[a + 1]):
            k = eword[p]
            members[fill[k]] = a
            fill[k] += 1
    for a in range(u):
        total = 0.0
        for p in range(estart[a], estart[a + 1]):
            total += w2[eword[p]]
        root = math.sqrt(total)
        norm[a] = root if root != 0.0 else 1.0
    # shared weight of two entities, each word's added in word order (as ``bincount`` does)
    for k in range(nw):
        wk = w2[k]
        for p in range(start[k], start[k + 1]):
            a = members[p] * u
            for q in range(start[k], start[k + 1]):
                shared[a + members[q]] += wk
    # between two entities, as numpy's ``shared / outer(norm, norm)``
    between = reals[nw + u + u * u + n + 1:]
    for a in range(u):
        na = norm[a]
        for b in range(u):
            between[a * u + b] = shared[a * u + b] / (na * norm[b])
    # one row for each (entity, name), numbered as met (``row_of`` typed, ``row_number``
    # returned: compiled, a typed view returned would be a memoryview object, slower to read)
    row_number = _zeros("q", n)
    row_of = row_number
    rows = 0
    for x in range(n):
        if made[x]:
            k = entity[x] * names + name[x]
            if slot[k] == 0:
                first[rows] = x
                rows += 1
                slot[k] = rows
            row_of[x] = slot[k] - 1
        else:
            row_of[x] = -1
    # no similarity between mentions of the same name (nor within a mention)
    out = _zeros("d", rows * n)
    sim = out
    for r in range(rows):
        x = first[r]
        a = entity[x] * u
        key = name[x]
        row = r * n
        for y in range(n):
            if name[y] != key:
                sim[row + y] = between[a + entity[y]]
    return out, row_number


# Compiled by setup.py's Cython build, the kernels are no Python functions (as
# ``linkers.text._SCAN_COMPILED`` tells for the token scan): every similarity block takes them
# then.
COMPILED = not isinstance(_typed_similarities, types.FunctionType)


def _typed_support(sim, row_of, group: list[int], groups: int, totals) -> None:
    """totals[x] = the sum over mentions (``group``: candidate -> its mention's number, 0..groups-1)
    of candidate x's largest similarity to one of that mention's candidates (``row_of``: x's row
    of ``sim``, as ``_typed_similarities`` made them): numpy's ``maximum.reduceat`` then ``sum``
    of ``_SimilarityBlock.support``, bit for bit."""
    n = len(group)
    rows = len(sim) // n if n else 0
    best = _zeros("d", groups)
    total = _zeros("d", rows)
    of_group = array("q", group)
    for r in range(rows):
        for g in range(groups):
            best[g] = 0.0
        row = r * n
        for y in range(n):
            v = sim[row + y]
            g = of_group[y]
            if v > best[g]:
                best[g] = v
        total[r] = _pairwise_sum(best, 0, groups)
    for x in range(n):
        totals[x] = total[row_of[x]]


class _SmallSimilarityBlock:
    """``_SimilarityBlock`` in plain Python, for a block of at most ``SMALL_SIMILARITY_BLOCK``
    candidates: every number is computed by the same operations in the same order (each word's
    weight by numpy's ``log``, ``_numpy_sum`` for the totals), so the two agree bit for bit
    (``tests/test_fastpath.py`` compares them, and ``_TypedSimilarityBlock``, on every block of
    the public texts). Sparse rows in dicts: the fastest form for the interpreter, and so the
    pure-Python fallback's; the compiled module takes ``_TypedSimilarityBlock``."""

    @cython.locals(c=Scored)
    def __init__(self, ranker: "DocumentRanker", rows: list[list[Scored]], lo: int, hi: int,
                 only: set[int] | None = None):
        pool = [(i, c.eid) for i in range(lo, hi) for c in _likeliest(rows[i])]
        self.index = {entry: x for x, entry in enumerate(pool)}
        self.eids = [eid for _i, eid in pool]
        self.mention = [i for i, _eid in pool]
        self.only = only
        distinct = list(dict.fromkeys(self.eids))
        at = {eid: u for u, eid in enumerate(distinct)}
        # words numbered in order of first appearance, as the numpy block numbers them
        words_of = [_entity_word_order(ranker.kb, eid) for eid in distinct]
        self._build(ranker.spans, [at[eid] for eid in self.eids], words_of)

    def _build(self, spans: list[Span], of: list[int], words_of: list[tuple[str, ...]]) -> None:
        n, only = len(of), self.only
        copies = [0] * len(words_of)
        for u in of:
            copies[u] += 1
        vocab: dict[str, int] = {}
        members: list[list[int]] = []       # word -> entities having it, in membership order
        ids_of: list[list[int]] = []        # entity -> its words' numbers, in membership order
        for u, words in enumerate(words_of):
            ids = []
            for w in words:
                k = vocab.get(w)
                if k is None:
                    k = vocab[w] = len(members)
                    members.append([])
                members[k].append(u)
                ids.append(k)
            ids_of.append(ids)
        w2 = [_idf_squared(n + 1, copies[having[0]] if len(having) == 1 else sum(copies[u] for u in having))
              for having in members]
        sqrt = math.sqrt
        norm = []
        for ids in ids_of:
            total = 0.0
            for k in ids:
                total += w2[k]
            norm.append(sqrt(total) or 1.0)
        # shared weight of two entities, each word's added in word order (as ``bincount`` does);
        # only the pairs that share a word: every other similarity is 0.0 (0.0 / norms)
        shared: list[dict[int, float]] = [{} for _ in words_of]
        for k, having in enumerate(members):
            wk = w2[k]
            if len(having) == 1:
                a = having[0]
                shared[a][a] = shared[a].get(a, 0.0) + wk
                continue
            for a in having:
                row = shared[a]
                for b in having:
                    row[b] = row.get(b, 0.0) + wk
        between = [{b: v / (norm[a] * norm[b]) for b, v in row.items()} for a, row in enumerate(shared)]
        # candidates of each entity; no similarity between mentions of the same name (nor
        # within a mention)
        placed: dict[int, list[int]] = {}
        for y, b in enumerate(of):
            placed.setdefault(b, []).append(y)
        keys = [spans[i].key for i in self.mention]
        self.sim: dict[int, dict[int, float]] = {}  # candidate -> its non-zero similarities
        for x in range(n):
            if only is not None and self.mention[x] not in only:
                continue
            key, row = keys[x], {}
            for b, v in between[of[x]].items():
                for y in placed[b]:
                    if keys[y] != key:
                        row[y] = v
            self.sim[x] = row

    def support(self, rows: list[list[Scored]]) -> dict[tuple[int, int], float]:
        out: dict[tuple[int, int], float] = {}
        if not self.eids:
            return out
        if self.only is not None:
            raise ValueError("support needs every row: this block was built for some mentions only")
        mention, n = self.mention, len(self.eids)
        group, groups = [0] * n, 0      # candidate -> its mention's number in the block
        for y in range(1, n):
            if mention[y] != mention[y - 1]:
                groups += 1
            group[y] = groups
        top: dict[int, float] = {}
        self.raw: dict[tuple[int, int], float] = {}
        _supported(self._totals(group, groups + 1), mention, self.eids, out, self.raw, top)
        return _relative_to_best(out, top, rows)

    def _totals(self, group: list[int], groups: int) -> list[float]:
        """Each candidate's sum over mentions of its largest similarity to one of their
        candidates (numpy's ``maximum.reduceat``, then its row sum)."""
        totals = []
        for x in range(len(group)):
            row = self.sim[x]
            if not row:
                totals.append(0.0)
                continue
            best = [0.0] * groups       # each mention's most similar candidate
            for y, v in row.items():
                g = group[y]
                if v > best[g]:
                    best[g] = v
            totals.append(_numpy_sum(best))
        return totals

    def alike(self, i: int, eid: int, mentions: list[int], threshold: float) -> list[int]:
        x = self.index.get((i, eid))
        if x is None:
            return []
        among = set(mentions)
        return [self.eids[y] for y, v in enumerate(self._row(x))
                if v >= threshold and self.mention[y] in among]

    def _row(self, x: int) -> list[float]:
        """Candidate x's similarity to every candidate of the block."""
        row = self.sim.get(x)
        if row is None:
            raise ValueError(f"mention {self.mention[x]}'s similarities were not computed")
        return [row.get(y, 0.0) for y in range(len(self.eids))]


class _TypedSimilarityBlock(_SmallSimilarityBlock):
    """``_SmallSimilarityBlock`` whose arithmetic is ``_typed_similarities`` and
    ``_typed_support``: typed loops over arrays of C numbers when ranker.py is compiled (``_block``
    takes it then, for blocks of every size), the same numbers bit for bit. As plain Python those loops are slower than
    the dicts above (a median public text +15% instructions), so the pure-Python fallback keeps
    the dicts."""

    def _build(self, spans: list[Span], of: list[int], words_of: list[tuple[str, ...]]) -> None:
        n, only = len(of), self.only
        vocab: dict[str, int] = {}          # words numbered in order of first appearance
        eword = [vocab.setdefault(w, len(vocab)) for w in chain.from_iterable(words_of)]
        estart = list(accumulate(map(len, words_of), initial=0))
        key_id: dict[str, int] = {}
        keys = [key_id.setdefault(spans[i].key, len(key_id)) for i in self.mention]
        made = [True] * n if only is None else [i in only for i in self.mention]
        self.sim, self.row_of = _typed_similarities(of, keys, made, estart, eword, len(vocab), len(key_id))

    def _totals(self, group: list[int], groups: int) -> array:
        totals = _zeros("d", len(group))
        _typed_support(self.sim, self.row_of, group, groups, totals)
        return totals

    def _row(self, x: int) -> array:
        r = self.row_of[x]
        if r < 0:
            raise ValueError(f"mention {self.mention[x]}'s similarities were not computed")
        n = len(self.eids)
        return self.sim[r * n:(r + 1) * n]
