# cython: boundscheck=False, wraparound=False
# (compiled: an index is never checked nor taken from the end; no index in this module is
# negative or past the end, and the scan below then reads each character in place)
"""Text normalisation and tokenisation that never moves an offset.

Every normalisation here maps one code point to one code point (curly quotes -> straight,
Unicode dashes -> '-', exotic spaces -> ' '), so an offset in the normalised text is the same
offset in the original. Alias keys (``alias_key``) are built with the same rules on both sides:
the KB build and the spotter.
"""
from __future__ import annotations

import re
import sys
import types
import unicodedata
from bisect import bisect_right

from .fastpath import keep_reference

_ONE_TO_ONE = {
    **{ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4"},
    **{ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"},
    **{ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"},
    **{ord(c): " " for c in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                            "\u2008\u2009\u200a\u202f\u205f\u3000\t\n\r\f\v\u2028\u2029\u0085"},
}

# A token: an abbreviation with dots (U.S., D.C.), or a word that may contain inner
# apostrophes, hyphens, ampersands or dots (O'Neill, Thermo-Print, AT&T, Yahoo.com).
# Written as one word character and then either way on (the same tokens as
# ``(?:\w\.){2,}|\w+(?:['&.\-]\w+)*``): the scan tests a word character once per position
# instead of once per alternative, a third less time.
TOKEN_RE = re.compile(r"\w(?:\.(?:\w\.)+|\w*(?:['&.\-]\w+)*)", re.UNICODE)
_SPACES_RE = re.compile(r" {2,}")
# Dotted abbreviations key without their dots: "U.S." = "U.S" = "US", "Tenn." = "Tenn".
_ABBREV_DOTS_RE = re.compile(r"(?<![\w.])((?:\w\.){1,}\w?)\.?(?![\w])")


def normalize(text: str) -> str:
    """Same-length normalisation of quotes, dashes and whitespace (offsets are preserved)."""
    return _normalized(text)


# Linking a text normalises it three times (spotting, NIL spans, the ranker) and tokenises it
# twice, ~4% of a 4 KB article: the last text's result is kept (one assignment, so safe
# across threads), by identity (the same text object, so never a stale answer). Texts of any
# length: ``alias_key``'s short surfaces, which would push the text out, take ``_normal_form``.
_last_normalized: tuple[str, str] = ("", "")
_last_tokens: tuple[str, list[tuple[int, int]]] = ("", [])


_TO_NORMALISE = re.compile("[" + re.escape("".join(map(chr, _ONE_TO_ONE))) + "]")
# An ASCII text at least this long is normalised by ``str.translate``; a shorter one, or one
# with other characters, by a scan for the few characters to replace (the same string).
_TRANSLATE_CHARS = 640


def _normal_char(match: re.Match) -> str:
    return _ONE_TO_ONE[ord(match.group())]


def _normal_form(text: str) -> str:
    """``normalize`` without the memo. ``str.translate`` looks every character up in the table,
    unless the text is ASCII: a text with one curly quote or accent takes 40 ns a character
    (0.18 ms for 4 KB), where a scan for the few characters to replace takes a fifth of that.
    Its ASCII path costs ~2 us to set up, so a short ASCII text (a median public text is ~150
    characters: 2.0 against 1.0 us) is scanned too; past ~700 characters translate is faster
    (5 KB: 9.7 against 25.7 us)."""
    if len(text) >= _TRANSLATE_CHARS and text.isascii():
        return text.translate(_ONE_TO_ONE)
    return _TO_NORMALISE.sub(_normal_char, text)


def _normalized(text: str) -> str:
    global _last_normalized
    last = _last_normalized
    if last[0] is text:
        return last[1]
    out = _normal_form(text)
    _last_normalized = (text, out)
    return out


def _normalized_reference(text: str) -> str:
    """``normalize`` as first written: no memo, ``str.translate`` (``linkers.fastpath.reference_paths``)."""
    return text.translate(_ONE_TO_ONE)


def fold_accents(s: str) -> str:
    """Drop diacritics: news written without them ("Sao Paulo", "Edouard") still matches."""
    if s.isascii():
        return s
    decomposed = unicodedata.normalize("NFKD", s)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def alias_key(surface: str) -> str:
    """The dictionary key of a surface form: normalised, accents folded, lower-cased,
    single-spaced, dotted abbreviations without their dots."""
    if surface.isascii() and surface.isprintable() and "." not in surface and "`" not in surface:
        # the common case (the KB build keys millions of names): nothing to normalise but case
        # and spaces — the same key as the general path below, a third of its cost
        s = surface.strip().lower()
        return _SPACES_RE.sub(" ", s) if "  " in s else s
    s = fold_accents(_normal_form(surface)).strip()
    s = _ABBREV_DOTS_RE.sub(lambda m: m.group(1).replace(".", "") if len(m.group(1)) <= 8 else m.group(0), s)
    if s.endswith(".") and not s.endswith(".."):
        s = s[:len(s) - 1]
    return _SPACES_RE.sub(" ", s.lower())


def case_class(surface: str) -> int:
    """0: no upper-case letter; 1: mixed/Title case; 2: all upper-case (an acronym like 'US')."""
    if surface.isascii():               # the common case, with str methods (same answers)
        if surface == surface.lower():
            return 0
        return 2 if surface.isupper() and sum(map(str.isalpha, surface)) >= 2 else 1
    letters = [c for c in surface if c.isalpha()]
    if not any(c.isupper() for c in letters):
        return 0
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return 2
    return 1


def tokenize(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point offsets of the tokens of ``text`` (already normalised)."""
    return _tokens(text)


def token_words(text: str) -> list[str]:
    """The tokens of ``text`` as strings: ``TOKEN_RE.findall(text)``. Compiled, a text whose
    normal form was just tokenised (linking reads a text's words after spotting it) is read at
    those tokens when normalising it made no joiner (``_tokens_as_normalised``): the scan of
    the text again was ~2% of a 4 KB article."""
    if _SCAN_COMPILED:
        spans = _tokens_as_normalised(text)
        if spans is not None:
            return _words_at(text, spans)
        return _scan_tokens(text, False)
    return TOKEN_RE.findall(text)


# The characters normalising makes a joiner of ("'" or "-"; ``TOKEN_RE`` joins word characters
# across those two, "&" and "."). Every other character it replaces becomes a space or a double
# quote, which neither joins nor is a word character, as what it replaces is not either.
_TO_JOINER = re.compile("[" + re.escape("".join(chr(c) for c, to in _ONE_TO_ONE.items() if to in "'-")) + "]")


def _tokens_as_normalised(text: str) -> list[tuple[int, int]] | None:
    """The tokens of ``text``'s normal form, if it was the last text normalised and its normal
    form the last tokenised (the same objects: never another text's), and normalising made no
    joiner: then its tokens are ``text``'s own, and so are their strings. Else None."""
    normalised = _last_normalized
    if normalised[0] is not text:
        return None
    tokens = _last_tokens
    if tokens[0] is not normalised[1]:
        return None
    # of the ASCII characters, normalising makes a joiner of "`" only
    made_joiner = ("`" in text) if text.isascii() else (_TO_JOINER.search(text) is not None)
    return None if made_joiner else tokens[1]


def _words_at(text: str, spans: list) -> list:
    """The strings of ``spans`` ((start, end)) in ``text`` (typed, as ``token_texts``)."""
    words = []
    for k in range(len(spans)):
        start, stop = spans[k]
        words.append(text[start:stop])
    return words


def _scan_tokens(text: str, spans: bool) -> list:
    """What ``TOKEN_RE`` finds in ``text`` (its (start, end) spans, or with ``spans`` false its
    strings), by one pass over the characters. Compiled, with the types of ``text.pxd`` (a
    character is a C integer, an offset a C size), it is 2-4x faster than the regex on a 4 KB
    article (the regex engine's work per match, not per character, was the cost: ~250 us for
    the spans); in pure Python it is slower than the regex, so ``tokenize`` and
    ``token_words`` use it only compiled (``_SCAN_COMPILED``). ``tests/test_fastpath.py``
    checks it against ``TOKEN_RE`` in both forms. A word character is what the pattern's ``\\w``
    is: ``str.isalnum()`` or "_" (``_word_char``). Compiled, each character is read straight
    from the string's buffer (``text.pxd``: no bounds check, every index is below ``n``)."""
    out = []
    n = len(text)
    i = 0
    while i < n:
        if not _word_char(text[i]):
            i += 1
            continue
        start = i
        i += 1
        # the pattern's first way: a dot and then one or more (word character, dot) pairs, an
        # abbreviation ("U.S."); taken whenever it matches, as the regex takes its first branch
        if i < n and text[i] == ".":
            j = i + 1
            pairs = 0
            while j + 1 < n:
                if _word_char(text[j]) and text[j + 1] == ".":
                    j += 2
                    pairs += 1
                else:
                    break
            if pairs:
                out.append((start, j) if spans else text[start:j])
                i = j
                continue
        # else: the rest of the word, and again after each joiner that a word character
        # follows ("O'Neill", "AT&T", "Yahoo.com", "Thermo-Print")
        while True:
            while i < n and _word_char(text[i]):
                i += 1
            if i + 1 < n:
                ch = text[i]
                if (ch == "'" or ch == "&" or ch == "." or ch == "-") and _word_char(text[i + 1]):
                    i += 1          # the joiner; the loop above reads the word after it
                    continue
            break
        out.append((start, i) if spans else text[start:i])
    return out


def _word_char(ch: str) -> bool:
    """The pattern's ``\\w``: ``str.isalnum()`` or "_". An ASCII character is answered by
    its range; only others ask the Unicode tables (up to four lookups for a space or a
    punctuation mark, a third of the compiled scan's time)."""
    if ch < "\x80":
        return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9") or ch == "_"
    return ch.isalnum()


def token_texts(text: str, spans: list) -> tuple:
    """The strings of ``spans`` ((start, end) in order, as ``tokenize`` gives them) in ``text``,
    and the strings between each and the next. Compiled (``text.pxd``), each is one substring
    call with C offsets; a slice of Python objects costs a slice object and ~500 instructions
    more (~1,400 slices a 4 KB article)."""
    words = []
    gaps = []
    end = 0
    for k in range(len(spans)):
        start, stop = spans[k]
        if k:
            gaps.append(text[end:start])
        words.append(text[start:stop])
        end = stop
    return words, gaps


# Compiled by setup.py's Cython build, ``_scan_tokens`` is no Python function.
_SCAN_COMPILED = not isinstance(_scan_tokens, types.FunctionType)


def _tokens(text: str) -> list[tuple[int, int]]:
    # Only whole texts are tokenised (spotting and the NIL runs), so short ones are kept too;
    # and by equality, as a short text's normalised copy is a new object each time.
    global _last_tokens
    last = _last_tokens
    if last[0] == text:
        return list(last[1])        # a copy: the caller may change its list
    out = _scan_tokens(text, True) if _SCAN_COMPILED else [m.span() for m in TOKEN_RE.finditer(text)]
    _last_tokens = (text, list(out))
    return out


def _tokens_reference(text: str) -> list[tuple[int, int]]:
    """``tokenize`` without the memo (``linkers.fastpath.reference_paths``)."""
    return [m.span() for m in TOKEN_RE.finditer(text)]


keep_reference(sys.modules[__name__], "_normalized", _normalized_reference)
keep_reference(sys.modules[__name__], "_tokens", _tokens_reference)


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


class Utf16Offsets:
    """Maps code-point offsets to UTF-16 code-unit offsets (what JavaScript string indices are).

    Only characters outside the Basic Multilingual Plane (emoji, rare CJK) take two UTF-16
    units; the common case (none) costs one scan of the text.
    """

    __slots__ = ("_astral",)

    def __init__(self, text: str):
        # A text with no astral character (nearly every one) is two bytes a character in
        # UTF-16: encoding it is a copy in C (~1 us for 4 KB), where the pattern tests each
        # character against its class (~25 us; a Python loop took ~0.14 ms). A lone surrogate
        # (JSON may carry one) is one unit, encoded as is ("surrogatepass"), never astral.
        if text.isascii() or len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text):
            self._astral = []
        else:
            self._astral = [m.start() for m in _ASTRAL.finditer(text)]

    def __call__(self, offset: int) -> int:
        if not self._astral:
            return offset
        return offset + bisect_right(self._astral, offset - 1)
