"""A name in a sentence about money is the company: "Shares of Ford fell", "Apple said iPhone
sales rose", "Nike shares rose".

Business news writes a company by its short name, which is also a president's surname (Ford),
a record label (Apple), a goddess (Nike), a river (Amazon). What settles it is the sentence:
one that speaks of shares, sales, profit, a stake, billions is about a company. In such a
sentence, of a name whose readings are not all companies, the companies are favoured
(``Weights.story``, as ``metonymy`` favours the readings a story settles); context and
coherence still weigh in. A company is known by what Wikidata calls it: a type or a
description whose noun is one of ``COMPANY_NOUNS`` ("business", "airline", "athletic
equipment company", "automotive brand manufacturer"). The words are the vocabulary of the
financial page, never names. This decides which entity, not whether to link: a name whose
readings are all companies ("Shell": Royal Dutch Shell, the common noun aside) is left as it
was (favouring those too cost reuters-128 0.004 in-KB F1), unless the sentence shows it acting
("Shell agreed to sell its stake ... for $2 billion": the subject of a verb of
``spotter.AGENT_VERBS``): then its company readings are favoured too (cost reuters-128 0.001,
one wrong span, "Digital Corp" of "Western Digital Corp said", linked).
"""
from __future__ import annotations

import re
from functools import lru_cache

try:
    import cython
except ImportError:     # pure Python without Cython installed: declarations only
    from . import _nocython as cython

from .fastpath import compiled_or
from .spotter import agent_verb_after, Span

# What a company is called in Wikidata's types and descriptions.
COMPANY_NOUNS = frozenset("""
company companies business enterprise corporation conglomerate manufacturer automaker carmaker
airline bank retailer firm
""".split())
# Words of the financial page: a sentence that has one (or "$") speaks of a company's money.
MONEY_WORDS = frozenset("""
shares share stock stocks shareholders investors sales profit profits revenue revenues earnings
dividend dividends forecast quarterly stake billion million merger takeover acquisition $
""".split())
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s)|\n")
SENTENCE_ENDS = (". ", "! ", "? ", "\n")
_LETTERS_RE = re.compile(r"[A-Za-z]+")
# Characters read around a money word for its sentence's ends (time stays linear).
LONGEST_SENTENCE = 1000


@lru_cache(maxsize=65536)
def is_company(kb, eid: int) -> bool:
    rec = kb.record(eid)
    nouns = [w.lower() for w in _LETTERS_RE.findall(rec["d"].split(";")[0])]
    for t in rec["t"][:3]:
        label = kb.label(t)
        if label:
            nouns.append(label.split()[-1].lower())
    return any(w in COMPANY_NOUNS for w in nouns)


def _money_words_at_reference(text: str) -> list[int]:
    """Offsets of the words of the financial page (and "$") in ``text``, in order. Found with
    ``str.find`` on the lower-cased text, each hit checked for word boundaries: a regex of the
    words tried at every offset was ~4% of linking news paragraphs. (Pure Python's form of
    ``_money_words_at``.)"""
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = text          # a letter whose lower case is longer: offsets would shift
    n = len(lowered)
    hits = []
    for word in MONEY_WORDS:
        at = lowered.find(word)
        while at != -1:
            end = at + len(word)
            if word == "$" or ((at == 0 or not lowered[at - 1].isalnum()) and (end == n or not lowered[end].isalnum())):
                hits.append(at)
            at = lowered.find(word, end)
    return sorted(hits)


# A word of the financial page is all letters; a hit is a whole run of ``str.isalnum()``
# characters (nothing alphanumeric on either side) that is one of them.
_MONEY_WORD_CHARS = (min(map(len, MONEY_WORDS - {"$"})), max(map(len, MONEY_WORDS - {"$"})))


def _money_word_scan(text: str) -> list[int]:
    """``_money_words_at_reference`` in one pass over the text's characters: "$" wherever it
    is, and each whole run of alphanumeric characters (``str.isalnum()``) that is a money word,
    in order. Compiled (``business.pxd``), C characters and a slice for each run of a money
    word's length, instead of 26 ``str.find`` passes over the text: 0.9 against 3.8 us for a
    median public text.

    The text is not lower-cased as a whole (~230k instructions for a 4 KB article with curly
    quotes): a run of a money word's length is, when it has a character lower-casing can change
    (an ASCII capital, or any non-ASCII one). That gives the reference's answers because, over
    every code point (checked by brute force): only U+0130 lower-cases to more than one
    character (then the reference reads the text as it is, and so does this); lower-casing
    never moves a character in or out of a run or makes a "$"; and the one context rule of
    ``str.lower`` (a final sigma) yields a non-ASCII letter either way, never a money word."""
    as_is = "\u0130" in text       # the reference's case: lower() would shift offsets
    shortest, longest = _MONEY_WORD_CHARS
    hits = []
    start = -1          # the run of alphanumeric characters being read, or -1
    cased = False       # the run has a character lower() may change
    at = 0
    for ch in text:
        if ("a" <= ch <= "z") or ("0" <= ch <= "9"):
            if start < 0:
                start = at
                cased = False
        elif ("A" <= ch <= "Z") or (ch >= "\x80" and ch.isalnum()):
            if start < 0:
                start = at
            cased = True
        else:
            if start >= 0:
                if shortest <= at - start <= longest and _is_money_word(text[start:at], cased and not as_is):
                    hits.append(start)
                start = -1
            if ch == "$":
                hits.append(at)
        at += 1
    if start >= 0 and shortest <= at - start <= longest and _is_money_word(text[start:at], cased and not as_is):
        hits.append(start)
    return hits


def _is_money_word(run: str, lower: bool) -> bool:
    return (run.lower() if lower else run) in MONEY_WORDS


_money_words_at = compiled_or(_money_word_scan, _money_words_at_reference)


def _money_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences of ``text`` that use a word of the financial page, in
    order; a sentence ends at ".", "!" or "?" before a space, or at a line break."""
    out: list[tuple[int, int]] = []
    for at in _money_words_at(text):
        if out and at < out[-1][1]:
            continue                    # another money word of the same sentence
        lo = max(0, at - LONGEST_SENTENCE)
        before = [text.rfind(end, lo, at) for end in SENTENCE_ENDS]
        start = max((p + len(end) for p, end in zip(before, SENTENCE_ENDS) if p != -1), default=lo)
        after = _SENTENCE_END_RE.search(text, at, at + LONGEST_SENTENCE)
        out.append((start, after.end() if after else min(len(text), at + LONGEST_SENTENCE)))
    return out


def _short_capitals(surface: str) -> bool:
    """On the financial page, up to three capitals are a rating ("rated AA"), a ticker or a
    currency code more often than a company's name."""
    letters = surface.replace(".", "")
    return len(letters) <= 3 and letters.isupper()


@cython.locals(sp=Span)
def favoured_companies(kb, text: str, spans: list[Span], favoured: dict[int, set[int]]) -> None:
    """Adds to ``favoured`` (span index -> readings) the company readings of each name in a
    sentence about money whose readings are not all companies, or which the sentence shows
    acting."""
    sentences = _money_sentences(text)
    if not sentences:
        return
    k = 0
    for i, sp in enumerate(spans):
        while k < len(sentences) and sentences[k][1] <= sp.start:
            k += 1
        if k == len(sentences):
            break
        if sentences[k][0] > sp.start or _short_capitals(sp.text):
            continue
        acting = agent_verb_after(text, sp.end)
        if len(sp.candidates) < 2 and not acting:
            continue
        companies = {eid for eid, _p, _f in sp.candidates if is_company(kb, eid)}
        if companies and (len(companies) < len(sp.candidates) or acting):
            favoured.setdefault(i, set()).update(companies)
