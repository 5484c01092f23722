"""Short forms: how news refers again to a name it has written out in full.

After "Barbara Walters" a story says "Walters"; after "The Associated Press", "AP"; after
"Advanced Micro Devices Inc", "Advanced Micro". A later mention inherits the entity of the full
name only if it is a real short form of one of that entity's Wikidata names (label or alias):

- of a person: some of the name's words, in order ("Walters", "Barbara", "Van Garderen");
- of anything else: the leading words of its label ("Morgan" of "Morgan Stanley"), never a
  word that only qualifies it: "Ukrainian" after "Ukrainian President Volodymyr Zelensky" is
  not the President of Ukraine, though its alias "Ukrainian president" begins so;
- of either: the initials of a name's capitalised words, written in capitals ("AP" of
  "Associated Press", "ATT" of "American Telephone and Telegraph Co"), when they are all its
  words: the capitals of "United States dollar" name its modifier, so "U.S." after "U.S.
  dollar" is the country, not the currency.

Company suffixes ("Inc", "Corp") are not words of a name here: "Merck" is "Merck & Co. Inc.".
"""
from __future__ import annotations

from functools import lru_cache

from .spotter import COMPANY_SUFFIXES, CONNECTORS, TRANSLITERATED_ENDINGS
from .text import alias_key, case_class

# What a name may end in that a short form drops without saying so.
_SUFFIX_WORDS = COMPANY_SUFFIXES | {"&", "and", "the"}


def same_word(word: str) -> str:
    """One spelling for the romanisations of a word's Slavic ending ("Zelenskiy", "Zelenskyy"
    and "Zelensky" are one surname)."""
    if word[-1:] not in ("y", "i"):
        return word
    for end in TRANSLITERATED_ENDINGS:
        if word.endswith(end) and len(word) > len(end) + 2:
            return word[:-len(end)] + "sky"
    return word


@lru_cache(maxsize=65536)
def name_words(name: str) -> tuple[str, ...]:
    """The words of a name as alias keys (one spelling of a Slavic ending), without the
    company suffixes it ends in (memoised: an entity's names are read for every short form)."""
    words = [same_word(w) for w in alias_key(name.replace("'s ", " ")).replace(",", " ").split()]
    while len(words) > 1 and words[-1].rstrip(".") in _SUFFIX_WORDS:
        words.pop()
    return tuple(words)


@lru_cache(maxsize=65536)
def initials(name: str) -> str:
    """Upper-case initials of a name's capitalised words ("Associated Press" -> "AP"), without
    its connectors and company suffixes ("American Telephone and Telegraph Co" -> "ATT")."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isupper()
             and w.lower().rstrip(".,") not in COMPANY_SUFFIXES and w.lower() not in CONNECTORS]
    return "".join(w[0] for w in words).upper() if len(words) >= 2 else ""


def is_acronym(surface: str) -> bool:
    """One word in capitals, two letters or more ("AP", "IBM")."""
    return surface.isupper() and " " not in surface and case_class(surface) == 2


def _all_capitalised(name: str) -> bool:
    """Every word of a name but its connectors is capitalised (not "United States dollar")."""
    return all(w[:1].isupper() or not w[:1].isalpha() or w.lower() in CONNECTORS
               for w in name.replace("-", " ").split())


def _run_in(short: tuple[str, ...], words: tuple[str, ...]) -> bool:
    n = len(short)
    return any(words[k:k + n] == short for k in range(len(words) - n + 1))


def is_short_form(short: str, record: dict, person: bool) -> bool:
    """``short`` is a real short form of one of the entity's names (see the module docstring)."""
    names = [record["l"], *record["a"]] if record["l"] else list(record["a"])
    if is_acronym(short):
        letters = short.replace(".", "").upper()
        if any(initials(name) == letters and _all_capitalised(name) for name in names):
            return True
    words = name_words(short)
    if not words:
        return False
    if person:
        return any(len(words) < len(nw) and _run_in(words, nw) for nw in map(name_words, names))
    label = name_words(record["l"]) if record["l"] else ()
    return len(words) < len(label) and label[:len(words)] == words
