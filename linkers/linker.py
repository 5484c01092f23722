"""``link(text, kb)``: spot -> candidates -> rank -> fact cards and relations.

``link(text, kb, mention_spans=[(start, end), ...])`` disambiguates the given spans instead of
spotting (``linkers.disambiguate``): one mention per given span, NIL when nothing fits, and no
other names are added. ``options.types`` keeps only the entities of those classes
(``linkers.classes``), after ranking, so the filter never changes which entity a name gets.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .business import favoured_companies
from .classes import TypeFilter
from .disambiguate import given_spans
from .errors import InvalidInput
from .facts import relations_between
from .demonyms import add_demonym_countries
from .metonymy import favoured_readings
from .offices import join_demonym_titles
from .pronouns import favoured_speakers
from .readings import family_share
from .calibration import COEFFICIENTS, MentionShape, confidence, link_probability, mention_features
from .kb.dump import is_person
from .kb.layout import FLAG_LABEL
from .ranker import DEFAULT_WEIGHTS, DocumentRanker, Scored, Weights
from .shortforms import initials, is_short_form, same_word
from .spotter import agent_verb_after, COMPANY_SUFFIXES, Span, _sentence_initial, nil_spans, spot
from .text import Utf16Offsets
from .types import Candidate, LinkOptions, LinkResult, Mention, Relation
from .unknown_names import drop_readings_lent_by_unknown_names

# Part of every job id and cached result key: bump it whenever linking output can change.
LINKER_VERSION = "factlink-linker/0.13"
# A mention whose readings share at least this much belief (the rest is on NIL) is clearly a
# name of the KB; its better reading is linked if its confidence is at least SPLIT_CONFIDENCE.
# On the five public sets this rule costs at most 0.004 in-KB F1 (reuters-128) and gains none:
# they have few such names; it is for the news cases of issue 10 ("posted it on Facebook").
# A lower SPLIT_CONFIDENCE (0.15) also links "Facebook" in the full subset KB (calibrated at
# 0.16) but cost reuters-128 0.007 and derczynski 0.011 in-KB F1 (2026-12-06): not taken.
# Its false links were acronyms and fragments ("AA", "NS", "PG", "W", "Ltd", "Fall") and
# namesake places ("Salem", "Gainesville", "Fayette County"): readings of unrelated entities.
# "Facebook" splits between readings of one family, which ``readings`` pools instead.
CLEAR_ENTITY = 0.5
SPLIT_CONFIDENCE = 0.5
# P(link) (``calibration.link_probability``) at which a name that the text shows acting
# ("Amazon will open", "Ontario will raise": the subject of a verb of ``AGENT_VERBS``) is sure
# to be a name of the KB: its better reading is linked whenever the belief off NIL reaches the
# threshold, however close its readings. P(link) alone (0.8-0.9, with the belief off NIL at
# 0.4-0.45) cost every public set 0.002-0.019 in-KB F1 (2026-12-06): their gold leaves most
# such names unannotated; with the verb it moved none of them.
SURE_NAME = 0.8
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_published_at(value) -> str | None:
    """An article date as ISO ``YYYY-MM-DD`` (accepts a date or an ISO 8601 timestamp)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise InvalidInput("'published_at' must be an ISO 8601 date like 2022-02-10", field="published_at")
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError as exc:
        raise InvalidInput(f"'published_at' is not a valid date: {exc}", field="published_at") from exc


class _LinkedNames:
    """Linked mentions by each proper run of their words that starts or ends them ("Advanced
    Micro" of "Advanced Micro Devices Inc", "Walters" of "Barbara Walters") and by their
    initials ("AP" of "Associated Press"), in the order added: a short form is found without
    reading them all, then kept only if it is a real short form of the entity's own names
    (``linkers.shortforms``)."""

    __slots__ = ("kb", "by_words")

    def __init__(self, kb):
        self.kb = kb
        self.by_words: dict[tuple[str, ...], list[Mention]] = {}

    def add(self, m: Mention) -> None:
        if m.qid is not None:
            for key in _short_form_keys(m.text):
                self.by_words.setdefault(key, []).append(m)

    def short_form_of(self, text: str, start: int) -> tuple[str | None, str | None, float]:
        """(qid, label, confidence) of the first linked mention before ``start`` of which
        ``text`` is a short form, (None, None, 0.0) if there is none."""
        words = text.split()
        if not all(w.lower().rstrip(".") in COMPANY_SUFFIXES for w in words):
            for m in self.by_words.get(tuple(words), ()):
                if m.start < start:
                    rec = self.kb.entity(m.qid)
                    if is_short_form(text, rec, is_person(rec)):
                        return m.qid, m.label, m.confidence
        return None, None, 0.0


@lru_cache(maxsize=16384)
def _short_form_keys(text: str) -> tuple[tuple[str, ...], ...]:
    """The keys ``_LinkedNames`` files a linked mention under: each proper run of its words that
    starts or ends it, then its initials. Memoised: a linked name recurs in an article (a 4 KB
    article's ~90 mentions are ~30 names), and splitting it and taking its initials again for
    each was ~2% of linking one."""
    words = text.split()
    keys = []
    for k in range(1, len(words)):
        keys.append(tuple(words[:k]))
        keys.append(tuple(words[k:]))
    abbreviation = initials(text) if len(words) > 1 else ""
    if abbreviation:
        keys.append((abbreviation,))
    return tuple(keys)


def _unknown_full_names(kb, spans, decisions, nil_mentions, nil_runs) -> dict[str, list[tuple[int, int | None]]]:
    """Surname -> (start, pick) of the earlier full names left NIL ("Jerzy Urban", a person the
    KB lacks), with the entity the ranker leaned to for each (None for a name no KB key fits)."""
    out: dict[str, list[tuple[int, int | None]]] = {}
    picks = {sp.start: d.pick.eid for sp, d in zip(spans, decisions) if d is not None}
    for start, text in [(m.start, m.text) for m in nil_mentions] + [(sp.start, sp.text) for sp in nil_runs]:
        words = text.split()
        if len(words) >= 2 and all(w[:1].isupper() for w in words):
            out.setdefault(same_word(words[-1]), []).append((start, picks.get(start)))
    return out


def _unlink_surname_of_unknown(kb, m: Mention, unknown) -> Mention:
    """A surname after a full name the KB lacks is that unknown person ("Jerzy Urban ... Urban
    said"), not someone else of the surname (Karl Urban): the mention is left NIL."""
    if m.qid is None or " " in m.text:
        return m
    earlier = [pick for start, pick in unknown.get(same_word(m.text), ()) if start < m.start]
    if not earlier:
        return m
    rec = kb.entity(m.qid)
    if not is_person(rec) or any(pick is not None and kb.record(pick)["id"] == m.qid for pick in earlier):
        return m
    return replace(m, qid=None, label=None)


# A compass point alone ("the West", "the South") is a direction, a bloc or a country's region
# as the story sees it: a reading that merely has it as an alias (Western United States, "The
# West") is not what "the West" means in a story from Moscow or Brasilia ("Centre-West").
COMPASS_POINTS = frozenset("north south east west northeast northwest southeast southwest".split())


@cython.locals(sp=Span)
def _compass_point_by_label(sp: Span) -> Span:
    """A compass point keeps only the readings it is the label of."""
    if sp.text.lower() not in COMPASS_POINTS:
        return sp
    return replace(sp, candidates=[c for c in sp.candidates if c[2] & FLAG_LABEL])


@dataclass
class Decision:
    """One spotted mention with candidates: the entity the ranker picks and the confidence
    (``calibration``) that linking it is right; ``row`` keeps the ranking scores. Compiled, an
    extension type (``linker.pxd``), as ``Span`` and ``Scored`` are: typed locals read its
    fields without attribute look-ups."""
    span: Span
    row: list[Scored]
    pick: Scored
    features: tuple[float, ...]
    confidence: float
    family: float = 0.0     # belief on the pick and the readings of its family (``readings``)
    p_link: float = 0.0     # P(link): that the mention names a KB entity at all (``calibration``)
    acting: bool = False    # the subject of a verb of ``AGENT_VERBS`` ("Amazon will open")


@cython.locals(pick=Scored, c=Scored)
def _most_voted(row: list[Scored], votes: dict[int, float]) -> Scored:
    """``max(row, key=lambda c: (votes.get(c.eid, 0.0), c.prob))``: the candidate with the most
    votes, then the most belief, the first of equals (votes and beliefs are never NaN); without
    a key function call and tuple per candidate."""
    pick = row[0]
    best_votes, best_prob = votes.get(pick.eid, 0.0), pick.prob
    for k in range(1, len(row)):
        c = row[k]
        v = votes.get(c.eid, 0.0)
        if v > best_votes or (v == best_votes and c.prob > best_prob):
            pick, best_votes, best_prob = c, v, c.prob
    return pick


@cython.locals(sp=Span, c=Scored, pick=Scored)
def decide(text: str, kb, weights: Weights = DEFAULT_WEIGHTS,
           coefficients: tuple[float, ...] = COEFFICIENTS,
           mention_spans: list[tuple[int, int]] | None = None,
           max_mentions: int | None = None) -> tuple[list[Span], list[Decision | None]]:
    """Spot (or take ``mention_spans`` as given) and rank, then pick each mention's entity and
    its confidence (None: a mention left without candidates, such as a given name no one in the
    text is connected to). Given spans get the demonym country as a reading too, but no new
    spans: they are disambiguated, not re-spotted. Only the first ``max_mentions`` spans are
    ranked (a work budget)."""
    if mention_spans is None:
        spans = add_demonym_countries(kb, text, drop_readings_lent_by_unknown_names(kb, text, spot(text, kb)))
        spans = join_demonym_titles(kb, text, spans)
    else:
        given = given_spans(text, kb, mention_spans)
        kept = {(sp.start, sp.end) for sp in given}
        spans = [sp for sp in add_demonym_countries(kb, text, given) if (sp.start, sp.end) in kept]
    if max_mentions is not None:
        spans = spans[:max_mentions]         # the work budget: the ranking costs per span
    spans = [_compass_point_by_label(sp) for sp in spans]
    spans, favoured = favoured_readings(kb, text, spans)
    favoured_companies(kb, text, spans, favoured)
    favoured_speakers(kb, text, spans, favoured)
    ranked = DocumentRanker(kb, text, spans, weights, favoured).rank()

    # One sense per name per document: repeated surfaces take the sense with most belief.
    by_key: dict[str, dict[int, float]] = {}
    repeats: dict[str, int] = {}
    for sp, row in zip(spans, ranked):
        votes = by_key.setdefault(sp.key, {})
        repeats[sp.key] = repeats.get(sp.key, 0) + 1
        for c in row:
            votes[c.eid] = votes.get(c.eid, 0.0) + c.prob

    out: list[Decision | None] = []
    # a name that recurs with the same beliefs is judged the same (most repeats of a 4 KB
    # article): the key is everything the features, confidence and family share read
    judged: dict[tuple, tuple[tuple[float, ...], float, float, float]] = {}
    for sp, row in zip(spans, ranked):
        if not row:
            out.append(None)
            continue
        pick = _most_voted(row, by_key[sp.key])
        prior, flags = 0.0, 0
        for e, p, f in sp.candidates:
            if e == pick.eid:
                prior, flags = p, f
                break
        one_word = " " not in sp.text
        # (the raw text is enough to see a sentence start: normalising changes no offsets)
        shape = (len(sp.text) >= 2 and sp.text.replace(".", "").isupper(), one_word, sp.modifier,
                 sp.embedded, one_word and _sentence_initial(text, sp.start), repeats[sp.key])
        probs = [(c.eid, c.prob) for c in row]
        mass = sum(p for _e, p, _f in sp.candidates)
        key = (shape, pick.eid, tuple(probs), prior, flags, mass)
        found = judged.get(key)
        if found is None:
            features = mention_features(kb, MentionShape(*shape), pick.eid, probs, prior, flags, mass)
            p_link = link_probability(features, coefficients)
            found = judged[key] = (features, confidence(features, coefficients, p_link=p_link),
                                   family_share(kb, pick.eid, row), p_link)
        out.append(Decision(sp, row, pick, *found, agent_verb_after(text, sp.end)))
    return spans, out


@cython.locals(d=Decision)
def links(d: Decision, threshold: float) -> bool:
    """Whether a mention is linked: two questions, is it a name of the KB at all (P(link),
    ``Decision.p_link``, and the belief off NIL), and which entity (the ranker's share).
    The ranker's share on its pick reaching ``threshold`` answers both: "this entity, not
    another, not none". When close readings split that share ("Facebook" the service and
    "Facebook, Inc."; "Amazon" the company and the river), the better reading is still linked
    with its own, honest confidence if the mention is clearly a name of the KB: more belief on
    its readings than on NIL (``CLEAR_ENTITY``) and a calibrated confidence of at least
    ``SPLIT_CONFIDENCE``; or a sure name (P(link) at least ``SURE_NAME``) that the text shows
    acting, with the belief off NIL at least ``threshold``. Either way at least ``threshold``
    of belief is off NIL, so that a threshold of 1 still makes every mention NIL. A weak
    common-word hit has its belief on NIL and a low P(link), and stays unlinked. Readings of
    one family (the brand and its company: ``readings``) pool their share for the decision:
    the text is about that family, and the better reading is linked with its own confidence."""
    if max(d.pick.prob, d.family) >= threshold:
        return True
    on_kb = sum(c.prob for c in d.row)
    if on_kb >= max(CLEAR_ENTITY, threshold) and d.confidence >= SPLIT_CONFIDENCE:
        return True
    return d.acting and on_kb >= threshold and d.p_link >= SURE_NAME


@cython.locals(sp=Span, d=Decision, c=Scored)
def link(text: str, kb, published_at: str | None = None, options: LinkOptions | None = None,
         weights: Weights = DEFAULT_WEIGHTS,
         mention_spans: list[tuple[int, int]] | None = None,
         max_mentions: int | None = None) -> LinkResult:
    """``max_mentions`` is a work budget: past that many spotted names the text is linked only
    up to the last of them, and the result says ``truncated`` (the service sets it, so one
    pathological text cannot hold a worker for many seconds)."""
    if not isinstance(text, str):
        raise InvalidInput("'text' must be a string", field="text")
    options = options or LinkOptions()
    as_of = parse_published_at(published_at)
    # one span over the budget is ranked too: it tells a text at the budget from one over it
    spans, decisions = decide(text, kb, weights, mention_spans=mention_spans,
                              max_mentions=None if max_mentions is None else max_mentions + 1)
    truncated = max_mentions is not None and len(spans) > max_mentions
    if truncated:
        spans, decisions = spans[:max_mentions], decisions[:max_mentions]
        text = text[:spans[-1].end] if spans else ""

    utf16 = Utf16Offsets(text)
    mentions: list[Mention] = []
    linked: dict[str, dict] = {}
    for sp, d in zip(spans, decisions):
        if d is None and mention_spans is not None and options.include_nil:
            # a given span no KB name fits: reported NIL, never dropped
            mentions.append(Mention(sp.start, sp.end, utf16(sp.start), utf16(sp.end), sp.text,
                                    None, None, 0.0, []))
        if d is None:
            continue        # a given name no one in the text is connected to: not a name here
        qid = label = None
        if links(d, options.threshold):
            rec = kb.record(d.pick.eid)
            qid, label = rec["id"], rec["l"]
            linked[qid] = rec
        cands = []
        if options.top_k:
            for c in d.row[:options.top_k]:
                rec = kb.record(c.eid)
                cands.append(Candidate(rec["id"], rec["l"], c.prob, rec["d"]))
        if qid is None and not options.include_nil:
            continue
        mentions.append(Mention(sp.start, sp.end, utf16(sp.start), utf16(sp.end), sp.text,
                                qid, label, d.confidence, cands))
    # A name the KB lacks may be a short form of one linked earlier ("Advanced Micro" after
    # "Advanced Micro Devices Inc", "SFE" after "Sydney Futures Exchange"): the same entity.
    prefixes = _LinkedNames(kb)
    for m in mentions:
        prefixes.add(m)
    taken = [sp for sp, d in zip(spans, decisions) if d is not None]
    taken_nil: list[Span] = []
    for sp in nil_spans(text, taken) if mention_spans is None else []:
        qid, label, confidence = prefixes.short_form_of(sp.text, sp.start)
        if qid is None:
            taken_nil.append(sp)
        if qid is None and not options.include_nil:
            continue
        if qid is not None:
            linked.setdefault(qid, kb.entity(qid))
        mentions.append(Mention(sp.start, sp.end, utf16(sp.start), utf16(sp.end), sp.text,
                                qid, label, confidence, []))
        prefixes.add(mentions[-1])
    mentions.sort(key=lambda m: m.start)
    unknown = _unknown_full_names(kb, spans, decisions, [m for m in mentions if m.qid is None], taken_nil)
    if unknown:
        mentions = [m for m in (_unlink_surname_of_unknown(kb, m, unknown) for m in mentions)
                    if m.qid is not None or options.include_nil]
        linked = {m.qid: linked[m.qid] for m in mentions if m.qid is not None}
    if max_mentions is not None and len(mentions) > max_mentions:
        truncated = True        # names the KB lacks count too: the budget bounds the output
        mentions = mentions[:max_mentions]
        kept = {m.qid for m in mentions}
        linked = {qid: rec for qid, rec in linked.items() if qid in kept}
    if options.types:
        kept = TypeFilter(kb, options.types)
        mentions = [m for m in mentions if kept.admits(m.qid)]
        linked = {m.qid: linked[m.qid] for m in mentions}

    cards = {qid: kb.fact_card(qid, as_of) for qid in linked} if options.fact_cards else {}
    relations = [Relation(*r) for r in relations_between(linked, as_of)] if options.relations else []
    return LinkResult(mentions=mentions, entities=cards, relations=relations, kb_version=kb.version,
                      linker_version=LINKER_VERSION, published_at=as_of, options=options,
                      truncated=truncated)


# Between two segments: a line with a full stop. No name runs across it (the spotter stops at
# a key no alias has, the NIL runs at punctuation), and the next segment starts a sentence, as
# a new paragraph, heading or list item does.
SEGMENT_SEPARATOR = "\n.\n"


def link_segments(segments: list[str], kb, published_at: str | None = None,
                  options: LinkOptions | None = None,
                  weights: Weights = DEFAULT_WEIGHTS, max_mentions: int | None = None) -> LinkResult:
    """Link the blocks of one document (a web page's paragraphs, headings, list items) as one
    text, so that coherence and short forms work across them; each mention carries its
    ``segment`` and offsets into that segment. A name is never found across two segments."""
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        raise InvalidInput("'segments' must be a list of strings", field="segments")
    starts, offset = [], 0
    for segment in segments:
        starts.append(offset)
        offset += len(segment) + len(SEGMENT_SEPARATOR)
    result = link(SEGMENT_SEPARATOR.join(segments), kb, published_at, options, weights,
                  max_mentions=max_mentions)
    utf16 = [Utf16Offsets(s) for s in segments]
    mentions = []
    for m in result.mentions:
        k = bisect_right(starts, m.start) - 1
        start, end = m.start - starts[k], m.end - starts[k]
        if end > len(segments[k]):
            continue    # the separator makes this impossible; never report a cross-segment span
        mentions.append(replace(m, start=start, end=end, start_utf16=utf16[k](start),
                                end_utf16=utf16[k](end), segment=k))
    result.mentions = mentions
    return result
