"""How news names an agreement: a proper name and a head noun that writers vary freely.

"the Minsk accords", "the Minsk agreements", "the Minsk agreement" name one thing; Wikidata
keeps one of them ("Minsk agreements") and often no alias. After a proper name the head nouns
accord(s) and agreement(s) are variants of one another, in either number, so a name the KB
lacks as written is looked up under its variants. Pact, treaty and protocol are left out:
"the Paris treaty" (1783) is not the Paris Agreement (2015).
"""
from __future__ import annotations

# The head nouns that vary, and every form they vary to (tried in this order).
AGREEMENT_HEADS = ("accords", "accord", "agreements", "agreement")


def agreement_variant(kb, key: str) -> str | None:
    """The KB's key for an alias key that ends in an agreement head noun written another way
    ("minsk accords" -> "minsk agreements"), or None. Only after a name: the head alone, or
    "the accords", has no variant."""
    name, _, head = key.rpartition(" ")
    if head not in AGREEMENT_HEADS or not name or name == "the":
        return None
    return next((f"{name} {other}" for other in AGREEMENT_HEADS if other != head and kb.has_key(f"{name} {other}")),
                None)
