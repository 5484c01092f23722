"""The type filter (``LinkOptions.types``): keep the mentions whose entity is an instance of
given Wikidata classes, or of the coarse classes person, organisation, place, event, work.

An entity is an instance of class C when one of its ``P31`` types is C or a subclass of C
(``P279``, transitively, as far as the KB's own records go: a class the KB does not hold ends the
walk). The walk goes up from the entity's types, never down from C, so it reads only the handful
of class records a document's entities need, however large the KB; the KB memoises each type's
superclasses (``KnowledgeBase.superclasses``).

A coarse class is a set of real Wikidata classes, not one root: the shared Wikidata subset (and
many trimmed KBs) keep almost no ``P279`` claims (18 of 134,617 records), so "city" would never
reach "geographic location". Each set lists the root and the classes news entities are most often
typed with; on a KB built from the full dump, ``P279`` extends them further. A record with no
``P31`` at all (the subset drops it on ~16k records) is classed by the claims rule the fact cards
use (``facts.entity_kind``: a person's claims, a place's coordinates, ...). Unlinked (NIL) mentions
have no type and are dropped by the filter.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .errors import InvalidInput
from .facts import entity_kind
from .kb.dump import QID_PATTERN

#: Coarse class -> Wikidata classes (each real; tests/test_classes.py checks the QIDs and labels
#: against the shared Wikidata subset). A class may sit in two sets: a newspaper is a work and,
#: in news, an organisation.
COARSE_CLASSES: dict[str, dict[str, str]] = {
    "person": {
        "Q5": "human", "Q215627": "person",
    },
    "organisation": {
        "Q43229": "organization", "Q4830453": "business", "Q783794": "company",
        "Q6881511": "enterprise", "Q891723": "public company", "Q1589009": "privately held company",
        "Q167037": "corporation", "Q46970": "airline", "Q1331793": "media company",
        "Q11032": "newspaper", "Q7278": "political party", "Q7210356": "political organisation",
        "Q7188": "government", "Q192350": "ministry", "Q327333": "government agency",
        "Q2659904": "government organization", "Q66344": "central bank", "Q11691": "stock exchange",
        "Q484652": "international organization", "Q245065": "intergovernmental organization",
        "Q163740": "nonprofit organization", "Q15911314": "association",
        "Q48204": "voluntary association", "Q1530022": "religious organization",
        "Q178706": "institution", "Q2385804": "educational institution", "Q3918": "university",
        "Q875538": "public university", "Q38723": "higher education institution",
        "Q31855": "research institute", "Q189445": "bicameral legislature",
        "Q37002670": "unicameral legislature", "Q17149090": "armed organization",
        "Q176799": "military unit", "Q847017": "sports club", "Q476028": "association football club",
        "Q13393265": "basketball team", "Q4498974": "ice hockey team",
        "Q11422536": "international sport governing body", "Q215380": "musical group",
        "Q2088357": "musical ensemble", "Q18127": "record label",
        "Q1762059": "film production company", "Q2085381": "publisher",
    },
    "place": {
        "Q2221906": "geographic location", "Q618123": "geographical object",
        "Q27096213": "geographic entity", "Q82794": "geographic region",
        "Q1620908": "historical region", "Q56061": "administrative territorial entity",
        "Q1496967": "territorial entity", "Q15642541": "human-geographic territorial entity",
        "Q1048835": "political territorial entity", "Q6256": "country", "Q3624078": "sovereign state",
        "Q3024240": "historical country", "Q7275": "state", "Q35657": "state of the United States",
        "Q10864048": "first-level administrative country subdivision",
        "Q13220204": "second-level administrative country subdivision", "Q34876": "province",
        "Q28575": "county", "Q3455524": "administrative region", "Q15284": "municipality",
        "Q486972": "human settlement", "Q515": "city", "Q1549591": "big city",
        "Q1637706": "city with millions of inhabitants", "Q5119": "capital", "Q3957": "town",
        "Q532": "village", "Q7930989": "city/town", "Q1093829": "city of the United States",
        "Q62049": "county seat", "Q123705": "neighborhood", "Q5107": "continent", "Q23442": "island",
        "Q8502": "mountain", "Q4022": "river", "Q23397": "lake", "Q1248784": "airport",
        "Q644371": "international airport", "Q55488": "railway station",
    },
    "event": {
        "Q1656682": "event", "Q1190554": "occurrence", "Q15275719": "recurring event",
        "Q180684": "conflict", "Q350604": "armed conflict", "Q198": "war", "Q178561": "battle",
        "Q645883": "military operation", "Q831663": "military campaign", "Q124734": "rebellion",
        "Q273120": "protest", "Q49773": "social movement", "Q40231": "election",
        "Q2761147": "meeting", "Q625994": "convention", "Q3839081": "disaster",
        "Q8065": "natural disaster", "Q7944": "earthquake", "Q3241045": "disease outbreak",
        "Q476300": "competition", "Q13406554": "sports competition", "Q16510064": "sporting event",
        "Q18608583": "recurring sporting event", "Q27020041": "sports season",
        "Q132241": "festival", "Q1445650": "holiday", "Q4504495": "award ceremony",
        "Q752783": "human spaceflight",
    },
    "work": {
        "Q386724": "work", "Q17537576": "creative work", "Q47461344": "written work",
        "Q7725634": "literary work", "Q571": "book", "Q8261": "novel", "Q25379": "play",
        "Q11032": "newspaper", "Q41298": "magazine", "Q1002697": "periodical",
        "Q5633421": "scientific journal", "Q13442814": "scholarly article", "Q131569": "treaty",
        "Q11424": "film", "Q24869": "feature film", "Q93204": "documentary film",
        "Q506240": "television film", "Q229390": "3D film", "Q29168811": "animated feature film",
        "Q20667187": "silent short film", "Q24856": "film series", "Q15416": "television program",
        "Q5398426": "television series", "Q1259759": "miniseries", "Q1983062": "episode",
        "Q21191270": "television series episode", "Q2188189": "musical work", "Q7366": "song",
        "Q134556": "single", "Q482994": "album", "Q7889": "video game", "Q3305213": "painting",
        "Q1004": "comics", "Q838795": "comic strip", "Q35127": "website",
        "Q196600": "media franchise",
    },
}
#: Spellings accepted for a coarse class besides its own name.
COARSE_SPELLINGS = {"organization": "organisation"}
#: What ``facts.entity_kind`` calls each coarse class, for records without ``P31``.
_KIND_OF = {"person": "person", "organisation": "organization", "place": "place", "event": "event"}
MAX_TYPES = 50


def parse_types(raw: object) -> tuple[str, ...]:
    """The ``types`` option -> canonical tuple (sorted, no repeats, coarse names in lower case),
    or InvalidInput naming the first bad entry."""
    if not isinstance(raw, (list, tuple)) or not all(isinstance(t, str) for t in raw):
        raise InvalidInput("option 'types' must be a list of strings (QIDs or "
                           f"{', '.join(COARSE_CLASSES)})", field="types")
    if len(raw) > MAX_TYPES:
        raise InvalidInput(f"option 'types' has {len(raw)} entries; at most {MAX_TYPES}",
                           field="types")
    out = set()
    for entry in raw:
        name = entry.strip().lower()
        name = COARSE_SPELLINGS.get(name, name)
        if name in COARSE_CLASSES:
            out.add(name)
        elif QID_PATTERN.match(entry):
            out.add(entry)
        else:
            raise InvalidInput(f"option 'types': {entry!r} is neither a Wikidata class QID (Q…) "
                               f"nor one of {', '.join(COARSE_CLASSES)}", field="types")
    return tuple(sorted(out))


def superclass_closure(qid: str, entity: Callable[[str], dict | None]) -> frozenset[str]:
    """Every class ``qid`` is a subclass of (``P279``, transitively), through the records
    ``entity`` returns; cycles (Wikidata has a few) end where they close."""
    seen: set[str] = set()
    todo = [qid]
    while todo:
        record = entity(todo.pop())
        if record is None:
            continue
        for value in record["c"].get("P279", ()):
            parent = value["v"] if value["k"] == "i" else None
            if parent and parent not in seen and parent != qid:
                seen.add(parent)
                todo.append(parent)
    return frozenset(seen)


class TypeFilter:
    """Whether a KB entity is an instance of the classes of a ``types`` option."""

    def __init__(self, kb, types: Iterable[str]):
        self.kb = kb
        self.classes: set[str] = set()
        self.kinds: set[str] = set()
        for name in types:
            if name in COARSE_CLASSES:
                self.classes.update(COARSE_CLASSES[name])
                if name in _KIND_OF:
                    self.kinds.add(_KIND_OF[name])
            else:
                self.classes.add(name)

    def admits(self, qid: str | None) -> bool:
        record = self.kb.entity(qid) if qid is not None else None
        if record is None:
            return False
        if not record["t"]:
            return entity_kind(record) in self.kinds
        return any(t in self.classes or not self.classes.isdisjoint(self.kb.superclasses(t))
                   for t in record["t"])
